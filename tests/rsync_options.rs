//! rsync options of sync mode that need no harness of their own (issue 16),
//! each against rsync on every engine: `--delete-excluded`, `-x` with a
//! filesystem mounted inside the source, `--numeric-ids`, `-u`, `--inplace`
//! and `--ignore-existing` (with one difference on purpose in each of the
//! last two).

mod common;

use common::mount::Mount;
use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

fn rsync(args: &[&str], cwd: &Path) {
    let out = Command::new("rsync")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("rsync");
    assert!(
        out.status.success(),
        "rsync {args:?}: {}",
        show(&out.stderr)
    );
}

/// `rsync -a OPTIONS src/ want/` and `uring-cp -a --sync OPTIONS -T src dst`
/// (each destination prepared by `prepare` first) give equal trees.
fn compare(ctx: &str, engine: &str, t: &Path, options: &[&str], prepare: &dyn Fn(&Path)) {
    let _ = std::fs::remove_dir_all(t.join("want"));
    let _ = std::fs::remove_dir_all(t.join("dst"));
    prepare(&t.join("want"));
    prepare(&t.join("dst"));
    let mut r = vec!["-a"];
    r.extend_from_slice(options);
    r.extend(["src/", "want/"]);
    rsync(&r, t);
    let mut flags = vec!["-a", "--sync"];
    flags.extend_from_slice(options);
    let out = run_uring_cp(
        engine,
        &flags,
        &["-T", "src", "dst"],
        t,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(0), "{ctx}: {out}");
    assert_snapshots_eq(
        ctx,
        &snapshot(&t.join("dst")),
        &snapshot(&t.join("want")),
        "uring-cp",
        "rsync",
    );
}

#[test]
fn delete_excluded_deletes_what_the_filter_excludes() {
    if !have_rsync("--delete-excluded") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("keep.c", 0o644, "int x;")
        .file("build/tmp.o", 0o644, "obj")
        .file("build/main.c", 0o644, "int main;");
    let prepare = |d: &Path| {
        Fx::new(d)
            .dir("", 0o755)
            .file("build/tmp.o", 0o644, "old obj")
            .file("build/local.o", 0o644, "mine")
            .file("extra", 0o644, "not in the source");
    };
    for engine in engines() {
        for options in [
            &["--delete", "--exclude", "*.o"][..],
            &["--delete-excluded", "--exclude", "*.o"],
        ] {
            let ctx = format!("[{engine}] {options:?}");
            compare(&ctx, engine, t, options, &prepare);
            let kept = t.join("dst/build/local.o").exists();
            assert_eq!(
                kept,
                options[0] == "--delete",
                "{ctx}: excluded entries protected only without --delete-excluded"
            );
            assert!(!t.join("dst/extra").exists(), "{ctx}");
        }
    }
}

#[test]
fn one_file_system_stops_at_a_mount_like_rsync() {
    if !have_rsync("-x") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("top", 0o644, "top")
        .dir("mnt", 0o755);
    let mount = match Mount::tmpfs(&t.join("src/mnt"), "1m") {
        Ok(m) => m,
        Err(why) => {
            skip(&format!("-x: {why}"));
            return;
        }
    };
    Fx::new(&mount.path)
        .file("inside", 0o644, "on another filesystem")
        .dir("deep", 0o755);
    for engine in engines() {
        compare(&format!("[{engine}] -x"), engine, t, &["-x"], &|_| {});
        assert!(
            t.join("dst/mnt").is_dir(),
            "[{engine}] the mount point is made"
        );
        assert!(
            !t.join("dst/mnt/inside").exists(),
            "[{engine}] -x crossed into the mount"
        );
    }
}

#[test]
fn numeric_ids_keep_the_ids_like_rsync() {
    if !have_rsync("--numeric-ids") {
        return;
    }
    if !is_root() {
        skip("--numeric-ids: needs root to own files as another user");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let fx = Fx::new(t.join("src"));
    fx.dir("", 0o755).file("f", 0o644, "data").symlink("l", "f");
    fx.chown_nobody();
    for engine in engines() {
        compare(
            &format!("[{engine}] --numeric-ids"),
            engine,
            t,
            &["--numeric-ids"],
            &|_| {},
        );
        for name in ["f", "l", ""] {
            let ids = |root: &str| {
                let md = std::fs::symlink_metadata(t.join(root).join(name)).expect("lstat");
                (md.uid(), md.gid())
            };
            assert_eq!(
                ids("dst"),
                ids("want"),
                "[{engine}] {name}: owner (uring-cp, rsync)"
            );
            assert_eq!(
                ids("dst"),
                ids("src"),
                "[{engine}] {name}: owner (uring-cp, source)"
            );
        }
    }
}

/// `-u` leaves a destination file that is newer than its source entirely
/// alone, as rsync does: not its data, nor its mode, nor its xattrs
/// (uring-cp set the source's xattrs on it).
#[test]
fn update_leaves_a_newer_file_entirely_like_rsync() {
    if !have_rsync("-u") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let src = Fx::new(t.join("src"));
    src.dir("", 0o755).file("f", 0o600, "the source's, older");
    src.set_xattr("f", "user.x", b"1");
    let f = t.join("src/f");
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(820_454_400);
    std::fs::File::options()
        .write(true)
        .open(&f)
        .and_then(|h| h.set_modified(old))
        .expect("set the source's time");
    std::fs::File::open(t.join("src"))
        .and_then(|h| h.set_modified(old))
        .expect("set the source directory's time");
    // (A set time: two files made one after the other can get times a
    // clock tick apart, and the comparison below is to the nanosecond.)
    let newer = |d: &Path| {
        let when = (1_893_456_000, 123); // 2030
        Fx::new(d.to_path_buf())
            .dir("", 0o755)
            .file("f", 0o644, "the destination's, newer")
            .set_times("f", when, when);
    };
    for engine in engines() {
        let _ = std::fs::remove_dir_all(t.join("want"));
        let _ = std::fs::remove_dir_all(t.join("dst"));
        newer(&t.join("want"));
        newer(&t.join("dst"));
        rsync(&["-aX", "-u", "src/", "want/"], t);
        let opts = RunOpts::default();
        let out = run_uring_cp(
            engine,
            &["-a", "--sync", "-u"],
            &["-T", "src", "dst"],
            t,
            &opts,
        );
        let ctx = format!("[{engine}] -u");
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        let view = |d: &str| {
            let mut v = meta_snapshot(&t.join(d), &MetaOpts { times: true });
            for m in &mut v {
                if let Some(times) = &mut m.times {
                    times[0] = (0, 0); // (rsync does not keep atimes)
                }
            }
            v
        };
        assert_eq!(view("dst"), view("want"), "{ctx}: uring-cp, then rsync");
    }
}

/// `--inplace`: a file rewritten in place gets exactly its source's xattrs,
/// as with rsync -X (uring-cp added the source's and kept the old ones).
#[test]
fn inplace_rewrites_keep_exactly_the_source_xattrs_like_rsync() {
    if !have_rsync("--inplace") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("f", 0o644, "the source's new content")
        .set_xattr("f", "user.new", b"n");
    let old = |d: &Path| {
        Fx::new(d.to_path_buf())
            .dir("", 0o755)
            .file("f", 0o644, "old")
            .set_xattr("f", "user.old", b"o");
    };
    for engine in engines() {
        let ctx = format!("[{engine}] --inplace");
        let _ = std::fs::remove_dir_all(t.join("want"));
        let _ = std::fs::remove_dir_all(t.join("dst"));
        old(&t.join("want"));
        old(&t.join("dst"));
        rsync(&["-aX", "--inplace", "src/", "want/"], t);
        let opts = RunOpts::default();
        let out = run_uring_cp(
            engine,
            &["-a", "--sync", "--inplace"],
            &["-T", "src", "dst"],
            t,
            &opts,
        );
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        let view = |d: &str| meta_snapshot(&t.join(d), &MetaOpts { times: false });
        assert_eq!(view("dst"), view("want"), "{ctx}: uring-cp, then rsync");
        let got = view("dst");
        let f = got.iter().find(|m| m.path == b"f").expect("dst/f");
        assert_eq!(
            f.xattrs,
            vec![(b"user.new".to_vec(), b"n".to_vec())],
            "{ctx}"
        );
    }
}

/// A difference on purpose (README, Sync mode): `--inplace` onto a file with
/// other names the source has split from it. rsync writes through the
/// shared inode, so the other names take the new data though the source's
/// did not change (its manual: "hard links are not broken"); uring-cp
/// replaces the file, and the other names keep what the source says.
#[test]
fn inplace_does_not_write_through_other_names_unlike_rsync() {
    if !have_rsync("--inplace") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    for engine in engines() {
        let ctx = format!("[{engine}] --inplace");
        for d in ["src", "want", "dst"] {
            let _ = std::fs::remove_dir_all(t.join(d));
        }
        let src = Fx::new(t.join("src"));
        src.dir("", 0o755).file("a", 0o644, "old");
        std::fs::hard_link(t.join("src/a"), t.join("src/b")).expect("link");
        rsync(&["-aH", "src/", "want/"], t);
        let opts = RunOpts::default();
        let sync = |extra: &[&str]| {
            let mut flags = vec!["-a", "--sync"];
            flags.extend_from_slice(extra);
            run_uring_cp(engine, &flags, &["-T", "src", "dst"], t, &opts)
        };
        assert_eq!(sync(&[]).code, Some(0), "{ctx}: first sync");
        // a is rewritten as a file of its own (another time); b is unchanged.
        std::fs::remove_file(t.join("src/a")).expect("unlink");
        src.file("a", 0o644, "new, and longer");
        rsync(&["-aH", "--inplace", "src/", "want/"], t);
        let out = sync(&["--inplace"]);
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        let read = |p: &str| std::fs::read(t.join(p)).expect("read");
        assert_eq!(
            read("want/b"),
            b"new, and longer",
            "{ctx}: rsync wrote through b"
        );
        assert_eq!(read("dst/a"), b"new, and longer", "{ctx}");
        assert_eq!(read("dst/b"), b"old", "{ctx}: b is the source's");
    }
}

/// `--ignore-existing` leaves existing files alone but still gives existing
/// directories their source's attributes, as rsync (uring-cp left them).
#[test]
fn ignore_existing_still_syncs_directories_like_rsync() {
    if !have_rsync("--ignore-existing") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .dir("sub", 0o750)
        .file("sub/f", 0o644, "the source's")
        .file("sub/new", 0o644, "new");
    let before = |d: &Path| {
        Fx::new(d.to_path_buf())
            .dir("", 0o755)
            .dir("sub", 0o700)
            .file("sub/f", 0o600, "the destination's");
    };
    for engine in engines() {
        compare(
            &format!("[{engine}] --ignore-existing"),
            engine,
            t,
            &["--ignore-existing"],
            &before,
        );
        let mode = std::fs::metadata(t.join("dst/sub"))
            .expect("dst/sub")
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o750, "[{engine}] --ignore-existing: dst/sub");
        assert_eq!(
            std::fs::read(t.join("dst/sub/f")).expect("f"),
            b"the destination's"
        );
    }
}

/// `--size-only` keeps a same-size file's data and still gives it its
/// source's time, as rsync (uring-cp left the old time).
#[test]
fn size_only_sets_the_time_of_a_kept_file_like_rsync() {
    if !have_rsync("--size-only") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("f", 0o644, "xyz");
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(978_307_200);
    std::fs::File::options()
        .write(true)
        .open(t.join("src/f"))
        .and_then(|h| h.set_modified(old))
        .expect("set the source's time");
    let before = |d: &Path| {
        Fx::new(d.to_path_buf())
            .dir("", 0o755)
            .file("f", 0o644, "abc");
    };
    for engine in engines() {
        compare(
            &format!("[{engine}] --size-only"),
            engine,
            t,
            &["--size-only"],
            &before,
        );
        for d in ["want", "dst"] {
            let f = t.join(d).join("f");
            assert_eq!(std::fs::read(&f).expect("read"), b"abc", "[{engine}] {d}");
            let mtime = std::fs::metadata(&f)
                .and_then(|m| m.modified())
                .expect("mtime");
            assert_eq!(mtime, old, "[{engine}] {d}: the source's time");
        }
    }
}

/// `-u` leaves only a newer *regular file* of the same type; an entry of
/// another type where the source has a file, symlink, fifo or directory is
/// replaced however new it is, as rsync (`-u` "does not affect the copying of
/// dirs, symlinks, or other special files"; "a difference of file format ...
/// is always considered to be important enough for an update").
#[test]
fn update_replaces_newer_entries_of_another_type_like_rsync() {
    if !have_rsync("-u") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let src = Fx::new(t.join("src"));
    src.dir("", 0o755)
        .file("file_over_file", 0o644, "source")
        .file("file_over_link", 0o644, "source")
        .file("file_over_fifo", 0o644, "source")
        .file("file_over_dir", 0o644, "source")
        .symlink("link_over_file", "target")
        .symlink("link_over_link", "target")
        .fifo("fifo_over_file", 0o644)
        .dir("dir_over_file", 0o755);
    let old = (946_684_800, 0);
    for name in [
        "file_over_file",
        "file_over_link",
        "file_over_fifo",
        "file_over_dir",
        "link_over_file",
        "link_over_link",
        "fifo_over_file",
        "dir_over_file",
        "",
    ] {
        src.set_times(name, old, old);
    }
    let newer = |d: &Path| {
        let fx = Fx::new(d.to_path_buf());
        fx.dir("", 0o755)
            .file("file_over_file", 0o644, "the destination's")
            .symlink("file_over_link", "other")
            .fifo("file_over_fifo", 0o644)
            .dir("file_over_dir", 0o755)
            .file("link_over_file", 0o644, "the destination's")
            .symlink("link_over_link", "other")
            .file("fifo_over_file", 0o644, "the destination's")
            .file("dir_over_file", 0o644, "the destination's");
        let new = (1_893_456_000, 0); // 2030: newer than the source
        for name in [
            "file_over_file",
            "file_over_link",
            "file_over_fifo",
            "file_over_dir",
            "link_over_file",
            "link_over_link",
            "fifo_over_file",
            "dir_over_file",
        ] {
            fx.set_times(name, new, new);
        }
    };
    for engine in engines() {
        let ctx = format!("[{engine}] -u");
        compare(&ctx, engine, t, &["-u"], &newer);
        let read = |p: &str| std::fs::read(t.join(p)).expect("read");
        assert_eq!(read("dst/file_over_file"), b"the destination's", "{ctx}");
        for name in ["file_over_link", "file_over_fifo", "file_over_dir"] {
            assert_eq!(read(&format!("dst/{name}")), b"source", "{ctx}: {name}");
        }
    }
}

/// A difference on purpose (README, Sync mode): `--ignore-existing` with a
/// file where the source now has a directory leaves the file entirely as it
/// was; rsync keeps it too but gives it the directory's modification time
/// (and, for each entry in the directory, reports that it cannot be made:
/// exit 23; uring-cp skips the directory whole, as any existing entry).
#[test]
fn ignore_existing_leaves_a_file_where_the_source_has_a_directory_unlike_rsync() {
    if !have_rsync("--ignore-existing") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let src = Fx::new(t.join("src"));
    src.dir("", 0o755).dir("d", 0o755);
    let old = (946_684_800, 0);
    src.set_times("d", old, old);
    let new = (1_893_456_000, 0);
    let before = |d: &Path| {
        Fx::new(d.to_path_buf())
            .dir("", 0o755)
            .file("d", 0o644, "the destination's")
            .set_times("d", new, new);
    };
    let mtime = |p: &Path| {
        let m = std::fs::symlink_metadata(p).expect("lstat");
        (m.mtime(), m.mtime_nsec())
    };
    for engine in engines() {
        let ctx = format!("[{engine}] --ignore-existing");
        compare(&ctx, engine, t, &["--ignore-existing"], &before);
        assert_eq!(
            std::fs::read(t.join("dst/d")).expect("read"),
            b"the destination's",
            "{ctx}"
        );
        assert_eq!(mtime(&t.join("dst/d")), new, "{ctx}: dst/d keeps its time");
        assert_eq!(
            mtime(&t.join("want/d")),
            old,
            "{ctx}: rsync gives the file the directory's time (if this fails, rsync \
             changed: follow it and update the README)"
        );
    }
    // With something in the directory: skipped whole, silently.
    src.file("d/f", 0o644, "in d").set_times("d", old, old);
    for engine in engines() {
        let ctx = format!("[{engine}] --ignore-existing, d/f");
        before(&t.join("dst"));
        let out = run_uring_cp(
            engine,
            &["-a", "--sync", "--ignore-existing"],
            &["-T", "src", "dst"],
            t,
            &RunOpts::default(),
        );
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        assert!(out.stderr.is_empty(), "{ctx}: {out}");
        assert_eq!(mtime(&t.join("dst/d")), new, "{ctx}: dst/d keeps its time");
    }
}

/// A difference on purpose (README, Sync mode): `--ignore-existing` with a
/// symlink where the source now has a directory keeps the symlink and never
/// goes through it. rsync keeps it too but then syncs the directory through
/// it: with `--delete` and `l -> .` it deletes the mirror's own entries.
#[test]
fn ignore_existing_never_goes_through_a_symlink_unlike_rsync() {
    if !have_rsync("--ignore-existing") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    for engine in engines() {
        let ctx = format!("[{engine}] --ignore-existing --delete");
        for d in ["src", "dst"] {
            let _ = std::fs::remove_dir_all(t.join(d));
        }
        let src = Fx::new(t.join("src"));
        src.dir("", 0o755)
            .file("keep", 0o644, "kept")
            .symlink("l", ".");
        let sync = || {
            run_uring_cp(
                engine,
                &["-a", "--sync", "--delete", "--ignore-existing"],
                &["-T", "src", "dst"],
                t,
                &RunOpts::default(),
            )
        };
        assert_eq!(sync().code, Some(0), "{ctx}: first sync");
        std::fs::remove_file(t.join("src/l")).expect("unlink");
        src.dir("l", 0o755);
        let out = sync();
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        assert!(out.stderr.is_empty(), "{ctx}: {out}");
        assert_eq!(
            std::fs::read(t.join("dst/keep")).expect("dst/keep is still there"),
            b"kept",
            "{ctx}"
        );
        let l = std::fs::read_link(t.join("dst/l")).expect("dst/l is still a symlink");
        assert_eq!(l, Path::new("."), "{ctx}");
    }
}

/// `-u` with a hard-linked source: each name whose destination is newer is
/// left as it is, and the other names are synced (linked among
/// themselves). When the name left is the group's first in rsync's order
/// (`a`), that is rsync -H's result too; when it is a later one (`b/f`),
/// rsync links it to the first name, replacing the newer file -u is meant to
/// keep: uring-cp keeps it (a difference on purpose, README, Sync mode).
/// uring-cp linked every name to the kept one, leaving the older ones stale.
#[test]
fn update_keeps_each_newer_name_of_a_linked_file() {
    if !have_rsync("-u") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let src = Fx::new(t.join("src"));
    src.dir("", 0o755)
        .dir("b", 0o755)
        .file("a", 0o644, "the source's")
        .hardlink("a", "b/f")
        .set_times("a", (1_262_304_000, 0), (1_262_304_000, 0)); // 2010
    let (old, new) = ((946_684_800, 0), (1_577_836_800, 0)); // 2000, 2020
    for (newer, older) in [("a", "b/f"), ("b/f", "a")] {
        let prepare = |d: &Path| {
            let fx = Fx::new(d.to_path_buf());
            fx.dir("", 0o755)
                .dir("b", 0o755)
                .file(newer, 0o644, "newer")
                .file(older, 0o644, "older")
                .set_times(newer, new, new)
                .set_times(older, old, old);
        };
        for engine in engines() {
            let ctx = format!("[{engine}] -u, {newer} newer");
            for d in ["want", "dst"] {
                let _ = std::fs::remove_dir_all(t.join(d));
                prepare(&t.join(d));
            }
            rsync(&["-aH", "-u", "src/", "want/"], t);
            let out = run_uring_cp(
                engine,
                &["-a", "--sync", "-u"],
                &["-T", "src", "dst"],
                t,
                &RunOpts::default(),
            );
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            let read = |p: &str| std::fs::read(t.join(p)).expect("read");
            assert_eq!(read(&format!("dst/{newer}")), b"newer", "{ctx}: kept");
            assert_eq!(
                read(&format!("dst/{older}")),
                b"the source's",
                "{ctx}: synced"
            );
            if newer == "a" {
                assert_eq!(read("want/a"), b"newer", "{ctx}: rsync keeps a too");
                assert_eq!(read("want/b/f"), b"the source's", "{ctx}: and syncs b/f");
            }
        }
    }
}

/// `-u` with `--modify-window=N`: a destination file with the same time as
/// its source, or up to N-1 seconds older, is kept whatever its size, as
/// rsync 3.4 and later (`file->modtime - st_mtime < modify_window`); one
/// older by N seconds or more is replaced. (rsync 3.2 replaced a file of the
/// same time and another size, as its manual says; then only this test's own
/// expectations are checked.)
#[test]
fn update_with_a_window_keeps_files_of_nearly_the_same_time_like_rsync() {
    if !have_rsync("-u --modify-window") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let src = Fx::new(t.join("src"));
    src.dir("", 0o755);
    let at = 1_577_836_800; // 2020
    // (name, the destination's time relative to the source's, kept?)
    let cases = [
        ("same", 0, true),
        ("older1", -1, true),
        ("older2", -2, false),
        ("older9", -9, false),
        ("newer", 5, true),
    ];
    for (name, _, _) in cases {
        src.file(name, 0o644, "the source's, longer")
            .set_times(name, (at, 0), (at, 0));
    }
    src.set_times("", (at, 0), (at, 0));
    let prepare = |d: &Path| {
        let fx = Fx::new(d.to_path_buf());
        fx.dir("", 0o755);
        for (name, delta, _) in cases {
            fx.file(name, 0o644, "dst's")
                .set_times(name, (at + delta, 0), (at + delta, 0));
        }
    };
    let like_rsync = rsync_version().is_some_and(|v| v >= (3, 4));
    if !like_rsync {
        eprintln!("NOTE: rsync older than 3.4: only uring-cp's results are checked");
    }
    let options = ["-u", "--modify-window=2"];
    for engine in engines() {
        let ctx = format!("[{engine}] -u --modify-window=2");
        if like_rsync {
            compare(&ctx, engine, t, &options, &prepare);
        } else {
            let _ = std::fs::remove_dir_all(t.join("dst"));
            prepare(&t.join("dst"));
            let mut flags = vec!["-a", "--sync"];
            flags.extend_from_slice(&options);
            let out = run_uring_cp(
                engine,
                &flags,
                &["-T", "src", "dst"],
                t,
                &RunOpts::default(),
            );
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
        }
        for (name, _, kept) in cases {
            let got = std::fs::read(t.join("dst").join(name)).expect("read");
            let want: &[u8] = if kept {
                b"dst's"
            } else {
                b"the source's, longer"
            };
            assert_eq!(got, want, "{ctx}: {name}");
        }
    }
}
