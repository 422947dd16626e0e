//! Sync mode and hard links in bulk: names of multiply-linked source files
//! that must be copied wait for the end of the walk, so that a name of the
//! same file that is unchanged at the destination is met first and the new
//! names are linked to it, as rsync -H does (see `walk/list.rs`). How many
//! wait is bounded by the directories they keep open, not by a small count
//! of names.

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// `uring-cp -a --sync --delete -T src DST` in `t`, which must succeed
/// silently.
fn sync(engine: &str, t: &Path, dst: &Path) {
    let out = run_uring_cp(
        engine,
        &["-a", "--sync", "--delete"],
        &["-T", "src", &dst.to_string_lossy()],
        t,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(0), "[{engine}]: {out}");
    assert!(out.stderr.is_empty(), "[{engine}]: {out}");
}

/// `rsync -aH --delete src/ DST/` in `t`.
fn rsync(t: &Path, dst: &str) {
    let status = std::process::Command::new("rsync")
        .args(["-aH", "--delete", "src/", &format!("{dst}/")])
        .current_dir(t)
        .status()
        .expect("rsync");
    assert!(status.success(), "rsync into {dst}");
}

/// Defect: past 1,024 names held back, the rest were copied in walk order,
/// so a file whose unchanged name came later in the walk ended as two
/// inodes (the new names linked together, the unchanged one on its own,
/// exit 0) until the next run. Now 1,100 other linked files, then 300
/// files of three names of which two are new, in one directory: every
/// three-name file is one inode, as rsync -aH leaves it.
#[test]
fn many_new_names_are_linked_to_their_unchanged_name_like_rsync() {
    if !have_rsync("sync -H") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let src = Fx::new(t.join("src"));
    src.dir("", 0o755);
    for i in 0..1100 {
        src.file(format!("f{i}"), 0o644, format!("filler {i}"))
            .hardlink(format!("f{i}"), format!("f{i}.l"));
    }
    for i in 0..300 {
        src.file(format!("i{i}.a"), 0o644, format!("three names {i}"))
            .hardlink(format!("i{i}.a"), format!("i{i}.b"))
            .hardlink(format!("i{i}.a"), format!("i{i}.c"));
    }
    // Leave only the `.c` names, unchanged: all else is to be copied.
    let thin = |dst: &Path| {
        for e in std::fs::read_dir(dst).expect("read_dir") {
            let name = e.expect("entry").file_name();
            let name = name.to_string_lossy();
            if name.starts_with('f') || name.ends_with(".a") || name.ends_with(".b") {
                std::fs::remove_file(dst.join(&*name)).expect("remove");
            }
        }
    };
    let want = t.join("want");
    rsync(t, "want");
    thin(&want);
    rsync(t, "want");
    for engine in engines() {
        let dst = t.join(format!("dst-{engine}"));
        sync(engine, t, &dst);
        thin(&dst);
        sync(engine, t, &dst);
        assert_links_eq(&format!("[{engine}] (rsync's as \"GNU cp\")"), &dst, &want);
        assert_links_eq(
            &format!("[{engine}] (the source as \"GNU cp\")"),
            &dst,
            &src.root,
        );
    }
}

/// Past what the walk holds back (names in more than 256 directories), a
/// name copied before its file's unchanged name is met: the unchanged name
/// is then linked to the copy if it is complete (most are); one still being
/// copied stays a file of its own, and the next run links it. After two runs
/// the mirror's links are rsync -aH's. (400 files, each with a new name in
/// a directory of its own and an unchanged one in `u/`.)
#[test]
fn names_past_the_directories_held_back_are_linked_by_the_next_run() {
    if !have_rsync("sync -H") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let src = Fx::new(t.join("src"));
    src.dir("", 0o755).dir("u", 0o755);
    for i in 0..400 {
        src.dir(format!("d{i}"), 0o755)
            .file(format!("u/b{i}"), 0o644, format!("file {i}"))
            .hardlink(format!("u/b{i}"), format!("d{i}/a"));
    }
    let thin = |dst: &Path| {
        for i in 0..400 {
            std::fs::remove_file(dst.join(format!("d{i}/a"))).expect("remove");
        }
    };
    rsync(t, "want");
    thin(&t.join("want"));
    rsync(t, "want");
    for engine in engines() {
        let dst = t.join(format!("dst-{engine}"));
        sync(engine, t, &dst);
        thin(&dst);
        sync(engine, t, &dst);
        let split = (0..400)
            .filter(|i| {
                let ino = |p: String| std::fs::metadata(dst.join(p)).expect("stat").ino();
                ino(format!("d{i}/a")) != ino(format!("u/b{i}"))
            })
            .count();
        eprintln!("[{engine}] {split} of 400 files left as two inodes by the first run");
        sync(engine, t, &dst);
        assert_links_eq(
            &format!("[{engine}] (rsync's as \"GNU cp\")"),
            &dst,
            &t.join("want"),
        );
    }
}
