//! rsync options of sync mode that need no harness of their own (issue 16),
//! each against rsync on every engine: `--delete-excluded`, `-x` with a
//! filesystem mounted inside the source, `--numeric-ids`, `--inplace`,
//! `--size-only` and `--ignore-existing` (with one difference on purpose in
//! each of the last two), `--existing` and `-I`. `-u` has `rsync_update.rs`.

mod common;

use common::mount::Mount;
use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

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
        let out = sync_src_to_dst(engine, t, &["--inplace"]);
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
        let sync = |extra: &[&str]| sync_src_to_dst(engine, t, extra);
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
        let out = sync_src_to_dst(engine, t, &["--ignore-existing"]);
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
        let sync = || sync_src_to_dst(engine, t, &["--delete", "--ignore-existing"]);
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

/// `--existing`: what DEST has is updated, nothing new is made there (a new
/// file, symlink, or directory with everything in it), and `--delete` still
/// deletes, as rsync.
#[test]
fn existing_updates_only_what_dest_has_like_rsync() {
    if !have_rsync("--existing") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("kept", 0o644, "the source's, longer")
        .file("sub/kept", 0o600, "in sub, the source's")
        .file("sub/new", 0o644, "new in sub")
        .file("newdir/f", 0o644, "in a new directory")
        .symlink("newlink", "kept")
        .file("new", 0o644, "new");
    let before = |d: &Path| {
        Fx::new(d.to_path_buf())
            .dir("", 0o755)
            .file("kept", 0o644, "old")
            .file("sub/kept", 0o644, "old in sub")
            .file("extra", 0o644, "only here");
    };
    for engine in engines() {
        for options in [
            &["--existing"][..],
            &["--existing", "--delete"],
            &["--ignore-non-existing"],
        ] {
            let ctx = format!("[{engine}] {options:?}");
            compare(&ctx, engine, t, options, &before);
            let d = Fx::new(t.join("dst"));
            assert_eq!(d.read("kept"), b"the source's, longer", "{ctx}");
            assert!(
                !d.exists("new") && !d.exists("newdir") && !d.exists("sub/new"),
                "{ctx}"
            );
        }
    }
}

/// `-I`/`--ignore-times`: a file whose size and time match is copied again
/// (its bytes differ here: the quick check alone would keep them), as
/// rsync; under `--size-only` it is kept, as rsync's `unchanged_file` asks
/// that first.
#[test]
fn ignore_times_copies_files_whose_size_and_time_match_like_rsync() {
    if !have_rsync("--ignore-times") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("f", 0o644, "new")
        .set_times("f", (1_000_000, 0), (1_000_000, 0));
    let before = |d: &Path| {
        Fx::new(d.to_path_buf())
            .dir("", 0o755)
            .file("f", 0o644, "old")
            .set_times("f", (1_000_000, 0), (1_000_000, 0));
    };
    for engine in engines() {
        for (options, want) in [
            (&["-I"][..], &b"new"[..]),
            (&["--ignore-times"], b"new"),
            (&["--ignore-times", "--size-only"], b"old"),
            (&[], b"old"),
        ] {
            let ctx = format!("[{engine}] {options:?}");
            compare(&ctx, engine, t, options, &before);
            assert_eq!(Fx::new(t.join("dst")).read("f"), want, "{ctx}");
        }
    }
}
