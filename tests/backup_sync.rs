//! Sync mode's backups (issue 16): `-b`, `--backup-dir=DIR`, `--suffix`.
//! What sync mode would replace or `--delete` would remove is moved aside;
//! the destination and the backup directory are compared with rsync's on
//! every engine, and the two places where we differ on purpose are pinned:
//! a directory that must go is moved aside whole (rsync renames the files in
//! it and fails to remove it, exit 23), and a `--backup-dir` inside DEST is
//! never deleted by `--delete` (rsync deletes it, backing it up into itself).

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn rsync(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new("rsync")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("rsync")
}

/// A source and an older destination: a changed file at the top and in a
/// subdirectory, a changed symlink, an extra file, an extra tree, a file
/// that became a directory and a directory that became a file, an old
/// backup, and an unchanged file.
fn fixture(t: &Path) {
    let _ = std::fs::remove_dir_all(t.join("src"));
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("f", 0o644, "new f")
        .file("sub/f", 0o644, "new sub/f")
        .symlink("l", "new-target")
        .file("same", 0o600, "unchanged")
        .dir("was-file", 0o755)
        .file("was-dir", 0o644, "now a file");
}

fn old_destination(d: &Path) {
    let _ = std::fs::remove_dir_all(d);
    Fx::new(d)
        .dir("", 0o755)
        .file("f", 0o644, "old f")
        .file("sub/f", 0o640, "old sub/f")
        .symlink("l", "old-target")
        .file("extra", 0o644, "only at the destination")
        .file("gone/deep/z", 0o644, "a tree the source lost")
        .file("old~", 0o644, "an earlier backup")
        .file("was-file", 0o644, "a file")
        .file("was-dir/inside", 0o644, "in a directory");
    // Older than the source: the quick check sees each changed file.
    for f in ["f", "sub/f"] {
        let p = d.join(f);
        let when = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .and_then(|file| file.set_modified(when))
            .expect("set mtime");
    }
    std::fs::copy(d.join("../src/same"), d.join("same")).expect("copy same");
    let src_same = std::fs::metadata(d.join("../src/same")).expect("stat");
    std::fs::File::options()
        .write(true)
        .open(d.join("same"))
        .and_then(|file| file.set_modified(src_same.modified()?))
        .expect("set mtime");
    std::fs::set_permissions(
        d.join("same"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
}

fn ours(engine: &str, t: &Path, options: &[&str], dst: &str) -> Outcome {
    let mut flags = vec!["-a", "--sync", "--delete", "--itemize-changes"];
    flags.extend_from_slice(options);
    run_uring_cp(engine, &flags, &["-T", "src", dst], t, &RunOpts::default())
}

#[test]
fn backup_dir_keeps_what_is_replaced_or_deleted_like_rsync() {
    if !have_rsync("--backup-dir") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    for engine in engines() {
        for d in ["want", "dst", "want.bak", "dst.bak"] {
            let _ = std::fs::remove_dir_all(t.join(d));
        }
        old_destination(&t.join("want"));
        old_destination(&t.join("dst"));
        // An older backup of sub/f there already: replaced, as rsync does.
        Fx::new(t.join("want.bak"))
            .dir("", 0o755)
            .file("sub/f", 0o644, "older");
        Fx::new(t.join("dst.bak"))
            .dir("", 0o755)
            .file("sub/f", 0o644, "older");
        let r = rsync(
            &[
                "-a",
                "--delete",
                "--backup-dir=../want.bak",
                "src/",
                "want/",
            ],
            t,
        );
        assert!(r.status.success(), "rsync: {}", show(&r.stderr));
        let out = ours(engine, t, &["--backup-dir=../dst.bak"], "dst");
        let ctx = format!("[{engine}] --backup-dir");
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        for (a, b) in [("dst", "want"), ("dst.bak", "want.bak")] {
            assert_snapshots_eq(
                &format!("{ctx} {a}"),
                &snapshot(&t.join(a)),
                &snapshot(&t.join(b)),
                "uring-cp",
                "rsync",
            );
        }
        let said = out.stdout_str();
        for line in [
            "backup file - 'dst/f' -> 'dst/../dst.bak/f'",
            "backup dir - 'dst/gone' -> 'dst/../dst.bak/gone'",
            "backup symlink - 'dst/l' -> 'dst/../dst.bak/l'",
            "delete dir - 'dst/gone'",
        ] {
            assert!(
                said.lines().any(|l| l == line),
                "{ctx}: no {line:?} in\n{said}"
            );
        }
        // Nothing changed since: nothing more is backed up, nothing printed.
        let again = ours(engine, t, &["--backup-dir=../dst.bak"], "dst");
        assert_eq!(again.code, Some(0), "{ctx} again: {again}");
        assert_eq!(again.stdout_str(), "", "{ctx} again");
    }
}

#[test]
fn backups_beside_like_rsync_but_directories_move_whole() {
    if !have_rsync("--backup") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    for engine in engines() {
        old_destination(&t.join("want"));
        old_destination(&t.join("dst"));
        // rsync renames the files of a directory it must remove, then cannot
        // remove it (exit 23); we move the directory whole.
        let r = rsync(&["-a", "--delete", "-b", "src/", "want/"], t);
        assert_eq!(r.status.code(), Some(23), "rsync: {}", show(&r.stderr));
        let out = ours(engine, t, &["-b"], "dst");
        let ctx = format!("[{engine}] -b");
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        // (rsync also fails to put the file was-dir in place of the directory.)
        let moved = |p: &[u8]| !(p.starts_with(b"gone") || p.starts_with(b"was-dir"));
        assert_snapshots_eq(
            &ctx,
            &filter_snapshot(&snapshot(&t.join("dst")), moved),
            &filter_snapshot(&snapshot(&t.join("want")), moved),
            "uring-cp",
            "rsync",
        );
        let d = Fx::new(t.join("dst"));
        assert_eq!(d.read("gone~/deep/z"), b"a tree the source lost", "{ctx}");
        assert_eq!(d.read("was-dir~/inside"), b"in a directory", "{ctx}");
        assert_eq!(d.read("was-dir"), b"now a file", "{ctx}");
        assert_eq!(d.read("f~"), b"old f", "{ctx}");
        assert_eq!(
            d.read("old~"),
            b"an earlier backup",
            "{ctx}: backups are kept"
        );
        assert!(!d.exists("gone"), "{ctx}");
        // The tree comes back and goes again: merged into the older backup.
        Fx::new(t.join("dst"))
            .file("gone/deep/z", 0o644, "second")
            .file("gone/q", 0o644, "q");
        let out = ours(engine, t, &["-b"], "dst");
        assert_eq!(out.code, Some(0), "{ctx} again: {out}");
        assert_eq!(d.read("gone~/deep/z"), b"second", "{ctx} again");
        assert_eq!(d.read("gone~/q"), b"q", "{ctx} again");
        assert!(!d.exists("gone"), "{ctx} again");
    }
}

#[test]
fn a_backup_dir_inside_dest_is_never_deleted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    for engine in engines() {
        old_destination(&t.join("dst"));
        let ctx = format!("[{engine}] --backup-dir=bk");
        let out = ours(engine, t, &["--backup-dir=bk"], "dst");
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        std::fs::write(t.join("src/f"), "newer f").expect("write");
        let out = ours(engine, t, &["--backup-dir=bk"], "dst");
        assert_eq!(out.code, Some(0), "{ctx} again: {out}");
        let d = Fx::new(t.join("dst"));
        // (rsync 3.2.7 deletes bk on the second run, into bk/bk.)
        assert_eq!(d.read("bk/f"), b"new f", "{ctx}: the second run's backup");
        assert_eq!(d.read("bk/extra"), b"only at the destination", "{ctx}");
        assert!(!d.exists("bk/bk"), "{ctx}");
        assert_eq!(d.read("f"), b"newer f", "{ctx}");
        std::fs::write(t.join("src/f"), "new f").expect("write");
        let _ = std::fs::remove_dir_all(t.join("dst"));
    }
}

#[test]
fn a_backup_that_cannot_be_made_keeps_the_original() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    let other = match common::mount::Mount::tmpfs(&t.join("other"), "4m") {
        Ok(m) => m,
        Err(why) => {
            skip(&format!("a backup directory on another filesystem: {why}"));
            return;
        }
    };
    let bak = other.path.join("bak");
    let bak_arg = format!("--backup-dir={}", bak.display());
    for engine in engines() {
        old_destination(&t.join("dst"));
        let ctx = format!("[{engine}] backup dir on another filesystem");
        let out = ours(engine, t, &[&bak_arg], "dst");
        assert_eq!(out.code, Some(1), "{ctx}: {out}");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            err.contains("'dst/f'") && err.contains("is on another filesystem"),
            "{ctx}: {err}"
        );
        let d = Fx::new(t.join("dst"));
        assert_eq!(d.read("f"), b"old f", "{ctx}: not replaced");
        assert_eq!(
            d.read("extra"),
            b"only at the destination",
            "{ctx}: not deleted"
        );
        assert_eq!(d.read("gone/deep/z"), b"a tree the source lost", "{ctx}");
        // What needs no backup is still synced.
        assert!(d.exists("was-file"), "{ctx}");
    }
}

#[test]
fn a_failed_copy_makes_no_backup_and_keeps_the_original() {
    if !have_strace() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    for engine in engines() {
        old_destination(&t.join("dst"));
        let _ = std::fs::remove_dir_all(t.join("bak"));
        let ctx = format!("[{engine}] every data write fails");
        let out = run_with_failing_writes(
            engine,
            &["-a", "--sync", "--backup-dir=../bak", "-T", "src", "dst"],
            t,
        );
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{ctx}: {err}");
        assert!(err.contains("'dst/f'"), "{ctx}: {err}");
        let d = Fx::new(t.join("dst"));
        assert_eq!(d.read("f"), b"old f", "{ctx}: the old file stays");
        assert_eq!(d.read("sub/f"), b"old sub/f", "{ctx}");
        assert!(
            !t.join("bak/f").exists(),
            "{ctx}: no backup of a file not replaced"
        );
    }
}

#[test]
fn backup_options_that_cannot_work_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    for (args, says) in [
        (&["--backup-dir=x", "--inplace"][..], "--inplace"),
        (
            &["-b", "--suffix="],
            "the backup suffix may be empty only with --backup-dir",
        ),
        (&["--suffix=a/b"], "invalid backup suffix 'a/b'"),
    ] {
        let mut flags = vec!["-a", "--sync"];
        flags.extend_from_slice(args);
        let out = run_uring_cp(
            "auto",
            &flags,
            &["-T", "src", "dst"],
            t,
            &RunOpts::default(),
        );
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_ne!(out.code, Some(0), "{args:?}: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!t.join("dst").exists(), "{args:?}: nothing copied");
    }
    // --backup-dir needs --sync.
    let out = run_uring_cp(
        "auto",
        &["-r", "--backup-dir=x"],
        &["src", "dst"],
        t,
        &RunOpts::default(),
    );
    assert_ne!(out.code, Some(0), "{out}");
}

#[test]
fn dry_run_says_the_backups_it_would_make() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    for engine in engines() {
        for options in [&["-b"][..], &["--backup-dir=../dst.bak"]] {
            let ctx = format!("[{engine}] {options:?} --dry-run");
            let _ = std::fs::remove_dir_all(t.join("dst.bak"));
            old_destination(&t.join("dst"));
            let before = snapshot(&t.join("dst"));
            let mut dry = options.to_vec();
            dry.push("--dry-run");
            let said = ours(engine, t, &dry, "dst");
            assert_eq!(said.code, Some(0), "{ctx}: {said}");
            assert_snapshots_eq(&ctx, &snapshot(&t.join("dst")), &before, "after", "before");
            assert!(
                !t.join("dst.bak").exists(),
                "{ctx}: no backup directory made"
            );
            let done = ours(engine, t, options, "dst");
            assert_eq!(done.code, Some(0), "{ctx}: {done}");
            let sorted = |o: &Outcome| {
                let mut v: Vec<String> = o.stdout_str().lines().map(String::from).collect();
                v.sort();
                v
            };
            assert_eq!(
                sorted(&said),
                sorted(&done),
                "{ctx}: the lines of the real run"
            );
            assert!(
                said.stdout_str().contains("backup file - 'dst/f' -> "),
                "{ctx}: {said}"
            );
        }
    }
}

/// The directories made in `--backup-dir` take the permissions of their
/// counterparts in DEST, exactly, and (as root, -a) their owners, as
/// rsync's do: a backup of a file in a private directory is not open to
/// other users, and a user's backups are theirs.
#[test]
fn backup_directories_are_as_private_as_the_originals() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .dir("private", 0o700)
        .dir("private/deeper", 0o750)
        .file("private/deeper/secret", 0o644, "new")
        .dir("shared", 0o3770)
        .file("shared/f", 0o644, "new shared");
    for engine in engines() {
        let ctx = format!("[{engine}] private backups");
        let _ = std::fs::remove_dir_all(t.join("bak"));
        let _ = std::fs::remove_dir_all(t.join("dst"));
        Fx::new(t.join("dst"))
            .dir("", 0o755)
            .dir("private", 0o700)
            .dir("private/deeper", 0o750)
            .file("private/deeper/secret", 0o644, "old secret")
            .dir("shared", 0o3770)
            .file("shared/f", 0o644, "old shared, longer");
        if is_root() {
            std::os::unix::fs::chown(t.join("dst/shared"), Some(4242), Some(4343)).expect("chown");
        }
        let out = ours(engine, t, &["--backup-dir=../bak"], "dst");
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        let mode = |p: &str| {
            std::fs::metadata(t.join(p))
                .expect("stat")
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("bak/private"), 0o700, "{ctx}");
        assert_eq!(mode("bak/private/deeper"), 0o750, "{ctx}");
        assert_eq!(mode("bak/shared"), 0o3770, "{ctx}: exactly, umask or not");
        if is_root() {
            // As rsync's: owner and group too (-a keeps owners).
            let owner = |p: &str| {
                let m = std::fs::metadata(t.join(p)).expect("stat");
                (m.uid(), m.gid())
            };
            assert_eq!(owner("bak/shared"), (4242, 4343), "{ctx}");
            assert_eq!(owner("bak/private"), owner("dst/private"), "{ctx}");
        }
        assert_eq!(
            std::fs::read(t.join("bak/private/deeper/secret")).expect("backup"),
            b"old secret",
            "{ctx}"
        );
    }
}

/// With `--link-dest`/`--compare-dest`, what a twin's link replaces, or what
/// `--compare-dest` removes, is kept too. rsync 3.2.7 keeps only the
/// symlink here: the two files it links over and the one it removes are gone
/// without a backup (a difference on purpose).
#[test]
fn backups_keep_what_twins_replace() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("f", 0o644, "same")
        .file("c", 0o644, "c")
        .symlink("l", "t1");
    let _ = std::fs::remove_dir_all(t.join("prev"));
    let out = run_uring_cp(
        "portable",
        &["-a"],
        &["-T", "src", "prev"],
        t,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(0), "{out}");
    for engine in engines() {
        for basis in ["--link-dest=../prev", "--compare-dest=../prev"] {
            let ctx = format!("[{engine}] {basis} --backup-dir");
            let _ = std::fs::remove_dir_all(t.join("bak"));
            let _ = std::fs::remove_dir_all(t.join("dst"));
            Fx::new(t.join("dst"))
                .dir("", 0o755)
                .file("f", 0o644, "stale content")
                .file("c", 0o644, "cc")
                .symlink("l", "t0");
            let out = ours(engine, t, &[basis, "--backup-dir=../bak"], "dst");
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            let b = Fx::new(t.join("bak"));
            assert_eq!(b.read("f"), b"stale content", "{ctx}");
            assert_eq!(b.read("c"), b"cc", "{ctx}");
            assert_eq!(
                std::fs::read_link(t.join("bak/l")).expect("link"),
                Path::new("t0"),
                "{ctx}"
            );
            let said = out.stdout_str();
            assert!(said.contains("backup file - 'dst/f' -> "), "{ctx}: {said}");
            if basis.starts_with("--link-dest") {
                assert_eq!(Fx::new(t.join("dst")).read("f"), b"same", "{ctx}");
            } else {
                assert!(!t.join("dst/f").exists(), "{ctx}: left out of DEST");
            }
        }
    }
}

/// `-b` without `--backup-dir` leaves directories' times alone, as rsync
/// does (its manual: `--omit-dir-times` is forced on then); with a
/// `--backup-dir` they are the source's. A second run changes nothing.
#[test]
fn backups_beside_leave_directory_times_alone_like_rsync() {
    if !have_rsync("--backup") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(978_307_200);
    let src = Fx::new(t.join("src"));
    src.dir("", 0o755)
        .file("d/f", 0o644, "f")
        .set_xattr("", "user.kept", b"")
        .set_xattr("d", "user.kept", b"")
        .dir("e", 0o700)
        .set_xattr("e", "user.kept", b"");
    for dir in ["src/d", "src"] {
        let f = std::fs::File::open(t.join(dir)).expect("open");
        f.set_modified(old).expect("set the directory's time");
    }
    let mtime = |p: &str| {
        std::fs::metadata(t.join(p))
            .and_then(|m| m.modified())
            .expect("mtime")
    };
    for engine in engines() {
        for (options, kept) in [(&["-b"][..], false), (&["--backup-dir=../bak"][..], true)] {
            let ctx = format!("[{engine}] {options:?}");
            for d in ["want", "dst", "bak"] {
                let _ = std::fs::remove_dir_all(t.join(d));
            }
            let mut args = vec!["-a", "--delete"];
            args.extend_from_slice(options);
            args.extend(["src/", "want/"]);
            let r = rsync(&args, t);
            assert!(r.status.success(), "{ctx} rsync: {}", show(&r.stderr));
            let out = ours(engine, t, options, "dst");
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            for d in ["", "/d"] {
                let (want, dst) = (mtime(&format!("want{d}")), mtime(&format!("dst{d}")));
                assert_eq!(want == old, kept, "{ctx}: rsync, want{d}");
                assert_eq!(dst == old, kept, "{ctx}: uring-cp, dst{d}");
            }
            // (With their times left alone, new directories still get their
            // xattrs.)
            let xattrs = |d: &str| {
                let v = meta_snapshot(&t.join(d), &MetaOpts { times: false });
                v.into_iter()
                    .map(|m| (m.path, m.xattrs))
                    .collect::<Vec<_>>()
            };
            assert_eq!(xattrs("dst"), xattrs("src"), "{ctx}: xattrs");
            let again = ours(engine, t, options, "dst");
            assert_eq!(again.code, Some(0), "{ctx} again: {again}");
            assert_eq!(again.stdout_str(), "", "{ctx} again");
        }
    }
}

/// `-b --delete-excluded` (no `--backup-dir`; backups are not protected
/// then): a backup that `--delete` removes is removed, not backed up again,
/// as rsync (`f~` went to `f~~`, then `f~~~`: one more backup on every run,
/// so no run ever found the mirror in sync). Three runs, each compared with
/// rsync's; the third changes nothing.
#[test]
fn deleted_backups_are_not_backed_up_again_like_rsync() {
    if !have_rsync("-b --delete-excluded") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let when = (1_600_000_000, 0);
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("f", 0o644, "kept")
        .set_times("f", when, when);
    let options = ["-b", "--delete-excluded", "--itemize-changes"];
    for engine in engines() {
        for d in ["want", "dst"] {
            let _ = std::fs::remove_dir_all(t.join(d));
            Fx::new(t.join(d))
                .dir("", 0o755)
                .file("f", 0o644, "kept")
                .file("extra", 0o644, "only here")
                .file("old~", 0o644, "an earlier backup")
                .set_times("f", when, when);
        }
        for run in 1..=3 {
            let ctx = format!("[{engine}] -b --delete-excluded, run {run}");
            let r = rsync(&["-a", "-b", "--delete-excluded", "src/", "want/"], t);
            assert!(r.status.success(), "{ctx}: rsync: {}", show(&r.stderr));
            let out = sync_src_to_dst(engine, t, &options);
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            if run == 3 {
                assert!(out.stdout.is_empty(), "{ctx}: {out}");
            }
            assert_snapshots_eq(
                &ctx,
                &snapshot(&t.join("dst")),
                &snapshot(&t.join("want")),
                "uring-cp",
                "rsync",
            );
        }
        assert!(!t.join("dst/extra~").exists() && !t.join("dst/old~~").exists());
    }
}

/// Three runs of `sync` in `t`, the source made by `round(0..3)` before
/// each; each run's outcome.
fn three_runs<T>(t: &Path, sync: &dyn Fn(&Path) -> T, round: &dyn Fn(usize, &Path)) -> Vec<T> {
    (0..3)
        .map(|r| {
            round(r, &t.join("src"));
            sync(t)
        })
        .collect()
}

/// The source's rounds of [`backups_never_go_through_a_symlink_in_the_backup_directory`]:
/// `sub` a symlink to `victim`, then a directory with `f`, then `f` changed.
fn symlink_then_directory(r: usize, src: &Path) {
    let sub = src.join("sub");
    match r {
        0 => {
            let _ = std::fs::remove_dir_all(src);
            std::fs::create_dir_all(src).expect("mkdir src");
            std::os::unix::fs::symlink(src.join("../victim"), &sub).expect("symlink");
        }
        1 => {
            std::fs::remove_file(&sub).expect("rm symlink");
            Fx::new(&sub).dir("", 0o755).file("f", 0o644, "v1");
            Fx::new(&sub).set_times("f", (1_000_000, 0), (1_000_000, 0));
        }
        _ => std::fs::write(sub.join("f"), "v2, longer").expect("write"),
    }
}

/// A symlink the source made a directory is backed up into `--backup-dir`;
/// when a file below that directory is replaced by a later run, its backup
/// must go to the same path in the backup directory, where the symlink now
/// is. It is never followed (it points outside the tree: the backup would
/// land there, replacing whatever has its name): the backup is refused
/// naming the symlink, and the file stays as it was. (rsync removes the
/// older backup in the way; keeping it is a difference on purpose.)
#[test]
fn backups_never_go_through_a_symlink_in_the_backup_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    for engine in engines() {
        let ctx = format!("[{engine}] a symlink in --backup-dir");
        for d in ["dst", "aside", "victim"] {
            let _ = std::fs::remove_dir_all(t.join(d));
        }
        Fx::new(t.join("victim"))
            .dir("", 0o755)
            .file("f", 0o644, "precious");
        let sync = |t: &Path| ours(engine, t, &["--backup-dir=../aside"], "dst");
        let outs = three_runs(t, &sync, &symlink_then_directory);
        assert_eq!(outs[1].code, Some(0), "{ctx}, round 2: {}", outs[1]);
        assert!(
            std::fs::symlink_metadata(t.join("aside/sub")).is_ok_and(|m| m.is_symlink()),
            "{ctx}: round 2 backs the symlink up"
        );
        let third = &outs[2];
        assert_eq!(third.code, Some(1), "{ctx}, round 3: {third}");
        assert_eq!(
            third.stderr_str(),
            "uring-cp: cannot backup 'dst/sub/f': backup directory 'dst/../aside/sub' is a \
             symlink (not followed)\n",
            "{ctx}"
        );
        let v = Fx::new(t.join("victim"));
        assert_eq!(v.read("f"), b"precious", "{ctx}: written through");
        assert_eq!(Fx::new(t.join("dst")).read("sub/f"), b"v1", "{ctx}: kept");
        assert!(
            std::fs::symlink_metadata(t.join("aside/sub")).is_ok_and(|m| m.is_symlink()),
            "{ctx}: the older backup is kept"
        );
    }
}

/// `--backup-dir=zbak` is inside DEST, and the source has a symlink `zbak
/// -> victim`. rsync 3.5.0 copies it, then moves the next backup through it,
/// replacing `victim/t` with the backup of `t` (pinned below where rsync is
/// installed). uring-cp does not copy a source entry where the backup
/// directory goes (an error naming both, every run), so the backups go
/// into a directory there; and were a symlink there (made by hand, or by
/// an older uring-cp), the backup is refused naming it and `t` stays
/// (`backups_never_go_through_a_symlink_in_the_backup_directory`).
#[test]
fn a_source_symlink_where_the_backup_dir_goes_is_never_followed_unlike_rsync() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let round = |r: usize, src: &Path| match r {
        0 => {
            let _ = std::fs::remove_dir_all(src);
            Fx::new(src).dir("", 0o755).file("t", 0o644, "top 1");
        }
        1 => std::os::unix::fs::symlink(src.join("../victim"), src.join("zbak")).expect("symlink"),
        _ => std::fs::write(src.join("t"), "top 2, longer").expect("write"),
    };
    let fresh_victim = |t: &Path| {
        let _ = std::fs::remove_dir_all(t.join("victim"));
        Fx::new(t.join("victim"))
            .dir("", 0o755)
            .file("t", 0o644, "precious");
    };
    // (Relative, or DEST's path and a name below it.)
    let absolute = format!("--backup-dir={}", t.join("dst/zbak").display());
    for (engine, option) in engines()
        .into_iter()
        .flat_map(|e| [(e, "--backup-dir=zbak"), (e, absolute.as_str())])
    {
        let ctx = format!("[{engine}] a symlink at {option}");
        let _ = std::fs::remove_dir_all(t.join("dst"));
        fresh_victim(t);
        let sync = |t: &Path| ours(engine, t, &[option], "dst");
        let outs = three_runs(t, &sync, &round);
        for (r, out) in outs.iter().enumerate().skip(1) {
            assert_eq!(out.code, Some(1), "{ctx}, round {}: {out}", r + 1);
            assert_eq!(
                out.stderr_str(),
                "uring-cp: not copying 'src/zbak': --backup-dir keeps backups at 'dst/zbak'\n",
                "{ctx}, round {}",
                r + 1
            );
        }
        let d = Fx::new(t.join("dst"));
        assert_eq!(Fx::new(t.join("victim")).read("t"), b"precious", "{ctx}");
        assert_eq!(d.read("t"), b"top 2, longer", "{ctx}");
        assert_eq!(d.read("zbak/t"), b"top 1", "{ctx}: the backup");
        // A symlink put there by hand is not followed either.
        std::fs::remove_dir_all(t.join("dst/zbak")).expect("rm zbak");
        std::os::unix::fs::symlink(t.join("victim"), t.join("dst/zbak")).expect("symlink");
        std::fs::write(t.join("src/t"), "top 3, longer still").expect("write");
        let out = sync(t);
        assert_eq!(out.code, Some(1), "{ctx}, by hand: {out}");
        assert!(
            out.stderr_str().contains(
                "uring-cp: cannot backup 'dst/t': backup directory 'dst/zbak' is a symlink \
                 (not followed)\n"
            ),
            "{ctx}: {out}"
        );
        assert_eq!(Fx::new(t.join("victim")).read("t"), b"precious", "{ctx}");
        assert_eq!(d.read("t"), b"top 2, longer", "{ctx}: kept");
    }
    if !have_rsync("a symlink at --backup-dir's path") {
        return;
    }
    fresh_victim(t);
    let _ = std::fs::remove_dir_all(t.join("want"));
    let sync = |t: &Path| {
        let r = rsync(&["-a", "--delete", "--backup-dir=zbak", "src/", "want/"], t);
        assert!(r.status.success(), "rsync: {}", show(&r.stderr));
    };
    three_runs(t, &sync, &round);
    assert_eq!(
        Fx::new(t.join("victim")).read("t"),
        b"top 1",
        "rsync has stopped writing through the symlink: the README and this test say it does"
    );
}

/// Two unchanged files that became one in the source (`b` now a hard link
/// of `a`): one name is replaced by a link to the other, and with backups
/// its inode is kept first, beside it (`-b`) or in `--backup-dir`, as
/// rsync -H does. Before, the link replaced it with no backup (exit 0).
/// (Which name is linked to which follows the listing's order, rsync's
/// sorted, ours the directory's: either is the same file.)
#[test]
fn a_file_linked_over_is_backed_up_like_rsync() {
    if !have_rsync("a file linked over with backups") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let round = |r: usize, src: &Path| {
        if r == 0 {
            let _ = std::fs::remove_dir_all(src);
            Fx::new(src)
                .dir("", 0o755)
                .file("a", 0o644, "same")
                .file("b", 0o644, "same");
        } else {
            std::fs::remove_file(src.join("b")).expect("rm b");
            std::fs::hard_link(src.join("a"), src.join("b")).expect("ln a b");
        }
        for f in ["a", "b"] {
            Fx::new(src).set_times(f, (1_000_000, 0), (1_000_000, 0));
        }
    };
    // A tree without its backups, and its backups' names and contents.
    let split = |root: &Path, aside: Option<&Path>| {
        let mut mirror = snapshot(root);
        let mut kept: Vec<(String, Vec<u8>)> = Vec::new();
        if aside.is_none() {
            for e in mirror.iter().filter(|e| e.path.ends_with(b"~")) {
                let name = String::from_utf8_lossy(&e.path).into_owned();
                let bytes = std::fs::read(root.join(&name)).expect("read the backup");
                kept.push((name, bytes));
            }
            mirror.retain(|e| !e.path.ends_with(b"~"));
        }
        if let Some(aside) = aside {
            for n in ["a", "b"] {
                if let Ok(bytes) = std::fs::read(aside.join(n)) {
                    kept.push((n.to_string(), bytes));
                }
            }
        }
        (mirror, kept)
    };
    for (option, aside) in [("-b", false), ("--backup-dir=../aside", true)] {
        let rsync_option = option.replace("aside", "want.aside");
        for d in ["want", "want.aside"] {
            let _ = std::fs::remove_dir_all(t.join(d));
        }
        for r in 0..2 {
            round(r, &t.join("src"));
            let r = rsync(&["-aH", "--delete", &rsync_option, "src/", "want/"], t);
            assert!(r.status.success(), "rsync: {}", show(&r.stderr));
        }
        let want_aside = t.join("want.aside");
        let (want, want_kept) = split(&t.join("want"), aside.then_some(want_aside.as_path()));
        assert_eq!(
            want_kept.len(),
            1,
            "rsync {option}: one backup: {want_kept:?}"
        );
        for engine in engines() {
            let ctx = format!("[{engine}] {option}");
            for d in ["dst", "aside"] {
                let _ = std::fs::remove_dir_all(t.join(d));
            }
            let mut outs = Vec::new();
            for r in 0..2 {
                round(r, &t.join("src"));
                outs.push(ours(engine, t, &[option], "dst"));
            }
            assert_eq!(outs[1].code, Some(0), "{ctx}: {}", outs[1]);
            let our_aside = t.join("aside");
            let (mirror, kept) = split(&t.join("dst"), aside.then_some(our_aside.as_path()));
            assert_snapshots_eq(&ctx, &mirror, &want, "uring-cp", "rsync");
            let [(name, bytes)] = kept.as_slice() else {
                panic!("{ctx}: one backup, not {kept:?}");
            };
            assert_eq!(bytes, b"same", "{ctx}");
            let linked = name.trim_end_matches('~');
            let to = match aside {
                true => format!("dst/../aside/{linked}"),
                false => format!("dst/{linked}~"),
            };
            assert_eq!(
                outs[1].stdout_str(),
                format!("link file - 'dst/{linked}'\nbackup file - 'dst/{linked}' -> '{to}'\n"),
                "{ctx}"
            );
        }
    }
}
