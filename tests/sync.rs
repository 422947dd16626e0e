//! Sync mode against rsync: the same changes are applied to a source tree,
//! then synced with `uring-cp -a --sync --delete -T src dst` and with
//! `rsync -a --delete src/ dst/`; the two destinations must be equal (and
//! equal to the source), on every engine. Also: an unchanged tree is not
//! written again, `--itemize-changes` lines, `--max-delete`, filters.

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// The starting tree; every file gets an explicit old mtime so that changes
/// made a moment later are seen by the quick check whatever the clock.
fn initial(fx: &Fx) {
    fx.dir("", 0o755)
        .dir("docs", 0o755)
        .dir("docs/old", 0o755)
        .dir("becomes-file", 0o755)
        .dir("cache", 0o755)
        .file("docs/a.txt", 0o644, "alpha")
        .file("docs/b.txt", 0o644, "bravo")
        .file("docs/old/gone.txt", 0o644, "to be deleted")
        .file("becomes-file/x", 0o644, "x")
        .file("becomes-dir", 0o644, "a file for now")
        .file("perms.sh", 0o644, "#!/bin/sh\n")
        .file("rename-me", 0o644, "moving")
        .file("unchanged", 0o600, "same")
        .file("cache/tmp.o", 0o644, "obj")
        .symlink("link", "docs/a.txt");
    for rel in [
        "docs/a.txt",
        "docs/b.txt",
        "docs/old/gone.txt",
        "becomes-file/x",
        "becomes-dir",
        "perms.sh",
        "rename-me",
        "unchanged",
        "cache/tmp.o",
    ] {
        fx.set_times(rel, (1_600_000_000, 0), (1_600_000_000, 0));
    }
}

/// Every kind of change rsync has to handle.
fn change(root: &Path) {
    let fx = Fx::new(root);
    fx.file("docs/a.txt", 0o644, "alpha, longer now") // size differs
        .file("docs/b.txt", 0o644, "BRAVO") // same size, newer time
        .file("docs/new.txt", 0o644, "brand new")
        .chmod("perms.sh", 0o755); // permissions only
    fx.set_times("docs/b.txt", (1_700_000_000, 0), (1_700_000_000, 0));
    std::fs::remove_dir_all(root.join("docs/old")).unwrap();
    std::fs::rename(root.join("rename-me"), root.join("renamed")).unwrap();
    std::fs::remove_dir_all(root.join("becomes-file")).unwrap();
    fx.file("becomes-file", 0o644, "now a file");
    std::fs::remove_file(root.join("becomes-dir")).unwrap();
    fx.dir("becomes-dir", 0o755)
        .file("becomes-dir/inner", 0o644, "inner");
    std::fs::remove_file(root.join("link")).unwrap();
    fx.symlink("link", "docs/b.txt"); // retargeted
}

fn ours(engine: &str, extra: &[&str], cwd: &Path, dst: &str) -> std::process::Output {
    Command::new(BIN)
        .args(["--engine", engine, "-a", "--sync", "--delete"])
        .args(extra)
        .args(["-T", "src", dst])
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// `ours`, which must succeed (exit 0).
fn ours_ok(engine: &str, extra: &[&str], cwd: &Path, dst: &str) -> std::process::Output {
    let out = ours(engine, extra, cwd, dst);
    assert_eq!(
        out.status.code(),
        Some(0),
        "[{engine}] {extra:?}: {}",
        show(&out.stderr)
    );
    out
}

fn rsync(extra: &[&str], cwd: &Path, dst: &str) {
    let out = Command::new("rsync")
        .args(["-a", "--delete"])
        .args(extra)
        .arg("src/")
        .arg(format!("{dst}/"))
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(out.status.success(), "rsync: {}", show(&out.stderr));
}

#[test]
fn changes_are_synced_like_rsync() {
    if !have_rsync("sync") {
        return;
    }
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        initial(&Fx::new(tmp.path().join("src")));
        let dst = format!("dst-{engine}");
        for round in 0..2 {
            if round == 1 {
                change(&tmp.path().join("src"));
            }
            rsync(&[], tmp.path(), "want");
            let out = ours(engine, &[], tmp.path(), &dst);
            let ctx = format!("[{engine} round {round}]");
            assert_eq!(out.status.code(), Some(0), "{ctx}: {}", show(&out.stderr));
            assert!(out.stderr.is_empty(), "{ctx}: {}", show(&out.stderr));
            assert_snapshots_eq(
                &ctx,
                &snapshot(&tmp.path().join(&dst)),
                &snapshot(&tmp.path().join("want")),
                "uring-cp",
                "rsync",
            );
            assert_snapshots_eq(
                &ctx,
                &snapshot(&tmp.path().join(&dst)),
                &snapshot(&tmp.path().join("src")),
                "uring-cp",
                "source",
            );
        }
        // No temporary file is left anywhere.
        let leftovers = Command::new("find")
            .args([&dst, "-name", ".~ucp.*"])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(
            leftovers.stdout.is_empty(),
            "[{engine}] {}",
            show(&leftovers.stdout)
        );
    }
}

/// (inode, mtime ns, ctime ns) of every entry under `root`.
fn identities(root: &Path) -> Vec<(String, u64, i64, i64)> {
    let out = Command::new("find")
        .arg(root)
        .arg("-print0")
        .output()
        .unwrap();
    let mut v: Vec<_> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let path = std::path::PathBuf::from(String::from_utf8_lossy(p).into_owned());
            let md = std::fs::symlink_metadata(&path).unwrap();
            (
                path.display().to_string(),
                md.ino(),
                md.mtime() * 1_000_000_000 + md.mtime_nsec(),
                md.ctime() * 1_000_000_000 + md.ctime_nsec(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn an_unchanged_tree_is_not_written_again() {
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let fx = Fx::new(tmp.path().join("src"));
        initial(&fx);
        // Directories whose mode is set after their contents (read-only) or
        // differs from the umask's.
        fx.dir("ro", 0o755)
            .file("ro/f", 0o644, "in a read-only dir");
        fx.dir("private", 0o700).dir("sticky", 0o1777);
        fx.chmod("ro", 0o555);
        let dst = format!("dst-{engine}");
        let out = ours_ok(engine, &["--itemize-changes"], tmp.path(), &dst);
        let first = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            first
                .lines()
                .any(|l| l == format!("new file - '{dst}/docs/a.txt'")),
            "[{engine}] first sync lists new files: {first}"
        );
        let before = identities(&tmp.path().join(&dst));
        let files: Vec<_> = before.iter().filter(|e| !e.0.ends_with(&dst)).collect();
        assert!(!files.is_empty());
        // Past the coarse clock's tick, so a status change would show.
        std::thread::sleep(std::time::Duration::from_millis(30));
        let out = ours_ok(engine, &["--itemize-changes"], tmp.path(), &dst);
        assert!(
            out.stdout.is_empty(),
            "[{engine}] second sync itemized: {}",
            show(&out.stdout)
        );
        // Nothing is touched, directories included: same inode, mtime and
        // ctime everywhere (rsync leaves a ctime alone too; incremental
        // backup tools that read ctimes would rescan everything otherwise).
        let after = identities(&tmp.path().join(&dst));
        assert_eq!(after, before, "[{engine}] the no-op sync changed a status");
    }
}

#[test]
fn itemized_changes_name_each_change() {
    let tmp = tempfile::tempdir().unwrap();
    initial(&Fx::new(tmp.path().join("src")));
    ours_ok("portable", &[], tmp.path(), "dst");
    change(&tmp.path().join("src"));
    let out = ours_ok("portable", &["--itemize-changes"], tmp.path(), "dst");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    let mut want = vec![
        "attrs file perms 'dst/perms.sh'",
        "delete dir - 'dst/docs/old'",
        "delete file - 'dst/rename-me'",
        "new file - 'dst/becomes-dir/inner'",
        "new file - 'dst/docs/new.txt'",
        "new file - 'dst/renamed'",
        "replace dir was-file 'dst/becomes-dir'",
        "replace file was-dir 'dst/becomes-file'",
        "replace symlink - 'dst/link'",
        "update file size,time 'dst/docs/a.txt'",
        "update file time 'dst/docs/b.txt'",
    ];
    want.sort();
    assert_eq!(lines, want, "{text}");
}

#[test]
fn max_delete_stops_deleting_with_status_25() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = Fx::new(tmp.path().join("src"));
    fx.dir("", 0o755);
    for i in 0..10 {
        fx.file(format!("f{i}"), 0o644, "x");
    }
    ours_ok("portable", &[], tmp.path(), "dst");
    for i in 0..10 {
        std::fs::remove_file(tmp.path().join(format!("src/f{i}"))).unwrap();
    }
    let out = ours("portable", &["--max-delete=3"], tmp.path(), "dst");
    assert_eq!(out.status.code(), Some(25), "{}", show(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--max-delete"),
        "{}",
        show(&out.stderr)
    );
    let left = std::fs::read_dir(tmp.path().join("dst")).unwrap().count();
    assert_eq!(left, 7, "3 of 10 deleted");
    // rsync does the same: 3 deleted, status 25 (which 3 may differ).
    if have_rsync("sync") {
        std::fs::create_dir_all(tmp.path().join("want")).unwrap();
        for i in 0..10 {
            std::fs::write(tmp.path().join(format!("want/f{i}")), "x").unwrap();
        }
        let out = Command::new("rsync")
            .args(["-a", "--delete", "--max-delete=3", "src/", "want/"])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(25), "rsync: {}", show(&out.stderr));
        let left = std::fs::read_dir(tmp.path().join("want")).unwrap().count();
        assert_eq!(left, 7, "rsync deleted 3 of 10 too");
    }
}

#[test]
fn excluded_destination_entries_are_kept_like_rsync() {
    if !have_rsync("sync") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    initial(&Fx::new(tmp.path().join("src")));
    for dst in ["dst", "want"] {
        let fx = Fx::new(tmp.path().join(dst));
        fx.dir("", 0o755)
            .dir("cache", 0o755)
            .file("cache/local.o", 0o644, "mine")
            .file("extra", 0o644, "gone");
    }
    rsync(&["--exclude", "*.o"], tmp.path(), "want");
    ours_ok("portable", &["--exclude", "*.o"], tmp.path(), "dst");
    assert_snapshots_eq(
        "exclude",
        &snapshot(&tmp.path().join("dst")),
        &snapshot(&tmp.path().join("want")),
        "uring-cp",
        "rsync",
    );
    assert!(tmp.path().join("dst/cache/local.o").exists());
    assert!(!tmp.path().join("dst/extra").exists());
}

#[test]
fn stale_temporaries_are_removed_and_options_need_sync() {
    let tmp = tempfile::tempdir().unwrap();
    initial(&Fx::new(tmp.path().join("src")));
    ours_ok("portable", &[], tmp.path(), "dst");
    // As a killed run leaves one (no process has PID 4194305, above Linux's
    // highest pid_max): removed.
    std::fs::write(tmp.path().join("dst/docs/.~ucp.a.txt.4194305-1"), "half").unwrap();
    // One of a run that is still going (this test's own PID): kept.
    let live = format!("dst/docs/.~ucp.b.txt.{}-1", std::process::id());
    std::fs::write(tmp.path().join(&live), "writing").unwrap();
    // Names our scheme cannot produce: the user's, kept.
    std::fs::write(tmp.path().join("dst/docs/.~ucp.mine"), "mine").unwrap();
    // A source's own entry with a temporary's name: copied, and kept.
    std::fs::write(tmp.path().join("src/docs/.~ucp.c.txt.4194305-2"), "source").unwrap();
    // (Without --delete: nothing but the stale temporary may go.)
    let out = Command::new(BIN)
        .args(["-a", "--sync", "-T", "src", "dst"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out.stderr));
    assert!(!tmp.path().join("dst/docs/.~ucp.a.txt.4194305-1").exists());
    assert_eq!(std::fs::read(tmp.path().join(&live)).unwrap(), b"writing");
    assert_eq!(
        std::fs::read(tmp.path().join("dst/docs/.~ucp.mine")).unwrap(),
        b"mine"
    );
    assert_eq!(
        std::fs::read(tmp.path().join("dst/docs/.~ucp.c.txt.4194305-2")).unwrap(),
        b"source"
    );
    ours_ok("portable", &[], tmp.path(), "dst");
    assert_eq!(
        std::fs::read(tmp.path().join("dst/docs/.~ucp.c.txt.4194305-2")).unwrap(),
        b"source"
    );
    let out = Command::new(BIN)
        .args(["-r", "--delete", "src", "x"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out.stderr));
}

#[test]
fn dry_run_changes_nothing_and_reports_what_the_sync_does() {
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        initial(&Fx::new(tmp.path().join("src")));
        let dst = format!("dst-{engine}");
        // Into a destination that does not exist yet: nothing is created.
        let out = ours_ok(
            engine,
            &["--dry-run", "--itemize-changes"],
            tmp.path(),
            &dst,
        );
        assert!(
            !tmp.path().join(&dst).exists(),
            "[{engine}] dry run created the destination"
        );
        let planned_first = out.stdout;
        let out = ours_ok(engine, &["--itemize-changes"], tmp.path(), &dst);
        assert_eq!(
            show(&planned_first),
            show(&out.stdout),
            "[{engine}] first sync"
        );
        // Then every kind of change, plus a stale temporary.
        change(&tmp.path().join("src"));
        std::fs::write(
            tmp.path().join(&dst).join("docs/.~ucp.a.txt.4194305-1"),
            "half",
        )
        .unwrap();
        let before = identities(&tmp.path().join(&dst));
        let snap = snapshot(&tmp.path().join(&dst));
        let out = ours_ok(
            engine,
            &["--dry-run", "--itemize-changes"],
            tmp.path(),
            &dst,
        );
        assert_eq!(
            identities(&tmp.path().join(&dst)),
            before,
            "[{engine}] dry run wrote"
        );
        assert_snapshots_eq(
            engine,
            &snapshot(&tmp.path().join(&dst)),
            &snap,
            "after",
            "before",
        );
        let planned = out.stdout;
        assert!(!planned.is_empty());
        let out = ours_ok(engine, &["--itemize-changes"], tmp.path(), &dst);
        let mut a: Vec<&[u8]> = planned.split(|b| *b == b'\n').collect();
        let mut b: Vec<&[u8]> = out.stdout.split(|b| *b == b'\n').collect();
        a.sort();
        b.sort();
        assert_eq!(
            a, b,
            "[{engine}] the dry run's report differs from the sync's"
        );
    }
}

#[test]
fn checksum_and_update_decide_like_rsync() {
    if !have_rsync("sync") {
        return;
    }
    const OLD: (i64, i64) = (1_600_000_000, 0);
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let src = Fx::new(tmp.path().join("src"));
        initial(&src);
        src.file("sneaky", 0o644, "abcd")
            .set_times("sneaky", OLD, OLD);
        src.file("touched", 0o644, "same")
            .set_times("touched", OLD, OLD);
        src.file("newer-there", 0o644, "src version")
            .set_times("newer-there", OLD, OLD);
        rsync(&[], tmp.path(), "want");
        let dst = format!("dst-{engine}");
        ours_ok(engine, &[], tmp.path(), &dst);
        // Content changed behind the quick check's back (same size, same
        // time); a new time on the same content; a destination edited later
        // than its source.
        src.file("sneaky", 0o644, "ABCD")
            .set_times("sneaky", OLD, OLD);
        src.set_times("touched", OLD, (1_650_000_000, 0));
        for d in [dst.as_str(), "want"] {
            let fx = Fx::new(tmp.path().join(d));
            fx.file("newer-there", 0o644, "edited at the destination");
            fx.set_times("newer-there", OLD, (1_700_000_000, 0));
        }
        let ctx = format!("[{engine}] --checksum --update");
        rsync(&["--checksum", "--update"], tmp.path(), "want");
        let out = ours_ok(
            engine,
            &["--checksum", "--update", "--itemize-changes"],
            tmp.path(),
            &dst,
        );
        let d = tmp.path().join(&dst);
        assert_snapshots_eq(
            &ctx,
            &snapshot(&d),
            &snapshot(&tmp.path().join("want")),
            "uring-cp",
            "rsync",
        );
        assert_eq!(std::fs::read(d.join("sneaky")).unwrap(), b"ABCD", "{ctx}");
        assert_eq!(
            std::fs::read(d.join("newer-there")).unwrap(),
            b"edited at the destination",
            "{ctx}"
        );
        // The same content is kept (same inode), with the source's new time.
        let md = std::fs::metadata(d.join("touched")).unwrap();
        assert_eq!(md.mtime(), 1_650_000_000, "{ctx}: time fixed");
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        assert_eq!(
            lines,
            [
                format!("attrs file time '{dst}/touched'"),
                format!("update file content '{dst}/sneaky'"),
            ],
            "{ctx}"
        );
        // Without --update, the newer destination is replaced.
        ours_ok(engine, &["--checksum"], tmp.path(), &dst);
        assert_eq!(
            std::fs::read(d.join("newer-there")).unwrap(),
            b"src version",
            "{ctx}"
        );
    }
}

/// `strace -f -e trace=syncfs` output of a run, or why it cannot be had.
fn syncfs_calls(args: &[&str], cwd: &Path) -> Result<(i32, Vec<String>), String> {
    if Command::new("strace").arg("-V").output().is_err() {
        return Err("strace is not installed (.ci/run installs it)".into());
    }
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=syncfs", "-o", "strace.out", BIN])
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    let log = std::fs::read_to_string(cwd.join("strace.out")).unwrap_or_default();
    let calls = log
        .lines()
        .filter(|l| l.contains("syncfs("))
        .map(String::from)
        .collect();
    Ok((out.status.code().unwrap_or(-1), calls))
}

#[test]
fn fsync_flushes_every_destination_filesystem_once() {
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let src = Fx::new(tmp.path().join("src"));
        initial(&src);
        src.dir("mnt", 0o755)
            .file("mnt/inside", 0o644, "on another fs");
        // The destination holds a mount point (a tmpfs) when root can make one.
        std::fs::create_dir_all(tmp.path().join("dst/mnt")).unwrap();
        let mounted = is_root()
            && Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
                .arg(tmp.path().join("dst/mnt"))
                .status()
                .is_ok_and(|s| s.success());
        if !mounted {
            notice("not root or no tmpfs: --fsync is checked on one filesystem only");
        }
        let args = [
            "--engine", engine, "-a", "--sync", "--fsync", "-T", "src", "dst",
        ];
        let result = syncfs_calls(&args, tmp.path());
        if mounted {
            let _ = Command::new("umount")
                .arg(tmp.path().join("dst/mnt"))
                .status();
        }
        let (code, calls) = match result {
            Ok(v) => v,
            Err(why) => return skip(&why),
        };
        assert_eq!(code, 0, "[{engine}]");
        let want = if mounted { 2 } else { 1 };
        assert_eq!(calls.len(), want, "[{engine}] {calls:?}");
        assert!(calls.iter().all(|c| c.ends_with("= 0")), "{calls:?}");
        // Without --fsync: none.
        let plain = ["--engine", engine, "-a", "src", "other"];
        let (code, calls) = syncfs_calls(&plain, tmp.path()).unwrap();
        assert_eq!((code, calls.len()), (0, 0), "[{engine}] {calls:?}");
    }
}

/// On purpose stricter than rsync's default quick check (whole seconds): a
/// file rewritten at the same size within the second it was last synced has
/// other nanoseconds, and is copied again (rsync keeps the old bytes unless
/// `--modify-window=-1`). Where a side keeps no nanoseconds (0), or the
/// destination's time is the source's cut to its filesystem's granularity,
/// or with `--modify-window=N`, whole seconds decide (no copy on every run).
#[test]
fn a_file_rewritten_within_the_same_second_is_synced() {
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        let fx = Fx::new(t);
        fx.dir("src", 0o755)
            .file("src/f", 0o644, "version 1")
            .set_times(
                "src/f",
                (1_700_000_000, 100_000_000),
                (1_700_000_000, 100_000_000),
            );
        ours_ok(engine, &[], t, "dst");
        let ns = 600_000_001; // a rewrite half a second later
        fx.file("src/f", 0o644, "version 2").set_times(
            "src/f",
            (1_700_000_000, ns),
            (1_700_000_000, ns),
        );
        let out = ours_ok(engine, &["--itemize-changes"], t, "dst");
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(said, "update file time 'dst/f'\n", "[{engine}]");
        assert_eq!(
            fx.read("dst/f"),
            b"version 2",
            "[{engine}] the old bytes kept"
        );
        assert_eq!(fx.lstat("dst/f").mtime_nsec(), ns, "[{engine}]");
        // rsync's rule where nanoseconds say nothing or a window is given,
        // and a destination time that is the source's cut to 10 ms (exFAT).
        let keep: [(&[&str], i64); 3] =
            [(&[], 0), (&["--modify-window=1"], 300), (&[], 600_000_000)];
        for (extra, dst_ns) in keep {
            fx.file("dst/f", 0o644, "version 3").set_times(
                "dst/f",
                (1_700_000_000, dst_ns),
                (1_700_000_000, dst_ns),
            );
            let mut flags = vec!["--itemize-changes"];
            flags.extend(extra);
            let out = ours_ok(engine, &flags, t, "dst");
            let said = String::from_utf8_lossy(&out.stdout);
            assert_eq!(said, "", "[{engine}] {extra:?}");
            assert_eq!(fx.read("dst/f"), b"version 3", "[{engine}] {extra:?}");
        }
    }
}

#[test]
fn a_file_operand_gets_the_quick_check_too() {
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let fx = Fx::new(tmp.path());
        fx.file("big.iso", 0o644, "version 1").dir("backup", 0o755);
        let sync = |extra: &[&str]| {
            let args = ["-a", "--sync", "--itemize-changes", "big.iso", "backup"];
            let out = run_uring_cp(engine, extra, &args, tmp.path(), &RunOpts::default());
            assert_eq!(out.code, Some(0), "[{engine}] {}", out.stderr_str());
            out.stdout_str()
        };
        assert_eq!(sync(&[]), "new file - 'backup/big.iso'\n", "[{engine}]");
        let ino = fx.lstat("backup/big.iso").ino();
        assert_eq!(sync(&[]), "", "[{engine}] unchanged: nothing to do");
        assert_eq!(
            fx.lstat("backup/big.iso").ino(),
            ino,
            "[{engine}] rewritten"
        );
        fx.file("big.iso", 0o644, "version 2, longer").set_times(
            "big.iso",
            (1_700_000_000, 0),
            (1_700_000_000, 0),
        );
        assert_eq!(
            sync(&[]),
            "update file size,time 'backup/big.iso'\n",
            "[{engine}]"
        );
        assert_eq!(fx.read("backup/big.iso"), b"version 2, longer");
    }
}

#[test]
fn a_new_hard_link_to_an_unchanged_file_is_linked_like_rsync() {
    if !have_rsync("sync") {
        return;
    }
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let src = Fx::new(tmp.path().join("src"));
        src.dir("", 0o755)
            .dir("sub", 0o755)
            .file("a", 0o644, "linked")
            .hardlink("a", "b")
            .file("other", 0o644, "x");
        let dst = format!("dst-{engine}");
        ours_ok(engine, &[], tmp.path(), &dst);
        rsync(&["-H"], tmp.path(), "want");
        // A third name, in a directory listed after the unchanged first one.
        src.hardlink("a", "sub/c");
        ours_ok(engine, &[], tmp.path(), &dst);
        rsync(&["-H"], tmp.path(), "want");
        let o = MetaOpts { times: false };
        let d = tmp.path().join(&dst);
        assert_eq!(
            std::fs::metadata(d.join("sub/c")).unwrap().ino(),
            std::fs::metadata(d.join("a")).unwrap().ino(),
            "[{engine}] sub/c is not a link to a"
        );
        assert_meta_eq(
            &format!("[{engine}] vs rsync -aH"),
            &d,
            &tmp.path().join("want"),
            &o,
        );
    }
}

/// Defect: a file whose xattrs changed at the source while its other name
/// was removed was left with its old xattrs, exit 0, when --delete had
/// removed that other name (setting the destination's ctime) before the
/// file was compared: the "source changed after the destination" test saw a
/// newer destination. Found by the sync property test (seed
/// 241695338518870877). The other name is in the top directory, listed
/// before the subdirectory holding the file.
#[test]
fn xattrs_changed_while_another_name_is_deleted_are_synced() {
    if !have_rsync("sync") {
        return;
    }
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let src = Fx::new(tmp.path().join("src"));
        src.dir("", 0o755)
            .dir("sub", 0o755)
            .file("sub/f", 0o644, "contents")
            .hardlink("sub/f", "g")
            .set_xattr("sub/f", "user.old", b"1");
        let dst = format!("dst-{engine}");
        ours_ok(engine, &[], tmp.path(), &dst);
        // Contents, size and times stay; the xattrs change; g goes.
        std::fs::remove_file(src.p("g")).unwrap();
        let f = src.p("sub/f");
        let c = std::ffi::CString::new(f.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid C string and attribute name.
        assert_eq!(
            unsafe { libc::lremovexattr(c.as_ptr(), c"user.old".as_ptr()) },
            0
        );
        src.set_xattr("sub/f", "user.new", b"2");
        ours_ok(engine, &[], tmp.path(), &dst);
        rsync(&["-HX"], tmp.path(), "want");
        let d = tmp.path().join(&dst);
        assert!(!d.join("g").exists(), "[{engine}] g was not deleted");
        assert_meta_eq(
            &format!("[{engine}] vs rsync -aHX"),
            &d,
            &tmp.path().join("want"),
            &MetaOpts { times: false },
        );
    }
}

/// Big directories (hundreds of entries, each listed and compared in one
/// go; a parallel quick check was tried on such directories) with every
/// kind of change spread over them: the result equals rsync's, and a second
/// run is a no-op.
#[test]
fn big_directories_are_checked_like_rsync() {
    if !have_rsync("sync") {
        return;
    }
    const N: usize = 300;
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        let fx = Fx::new(&src);
        fx.dir("", 0o755).dir("big", 0o755).dir("big/sub", 0o755);
        for i in 0..N {
            let rel = format!("big/f{i:03}");
            match i % 10 {
                7 => {
                    fx.symlink(&rel, format!("f{:03}", i - 1));
                }
                8 => {
                    fx.dir(&rel, 0o755).file(format!("{rel}/in"), 0o644, "in");
                }
                _ => {
                    fx.file(&rel, 0o644, format!("file {i}"));
                }
            }
            if i % 10 != 8 {
                fx.set_times(&rel, (1_600_000_000, 0), (1_600_000_000, 0));
            }
            fx.file(format!("big/sub/g{i:03}"), 0o644, "g");
            fx.set_times(
                format!("big/sub/g{i:03}"),
                (1_600_000_000, 0),
                (1_600_000_000, 0),
            );
        }
        fx.hardlink("big/f000", "big/h000");
        let dst = format!("dst-{engine}");
        for round in 0..3 {
            if round == 1 {
                for i in (0..N).step_by(3) {
                    let rel = format!("big/f{i:03}");
                    match i % 10 {
                        // Size, then time only, then mode only, then type.
                        0 => {
                            fx.file(&rel, 0o644, "longer contents now");
                        }
                        1 => {
                            fx.set_times(&rel, (1_700_000_000, 0), (1_700_000_000, 0));
                        }
                        2 => {
                            fx.chmod(&rel, 0o600);
                        }
                        3 => {
                            std::fs::remove_file(src.join(&rel)).unwrap();
                            fx.symlink(&rel, "elsewhere");
                        }
                        4 => {
                            std::fs::remove_file(src.join(&rel)).unwrap();
                            fx.dir(&rel, 0o700);
                        }
                        5 => std::fs::remove_file(src.join(&rel)).unwrap(),
                        7 => {
                            std::fs::remove_file(src.join(&rel)).unwrap();
                            fx.symlink(&rel, "retargeted");
                        }
                        8 => {
                            std::fs::remove_dir_all(src.join(&rel)).unwrap();
                            fx.file(&rel, 0o644, "was a directory");
                        }
                        _ => {
                            fx.file(&rel, 0o755, "x");
                        }
                    }
                }
                fx.hardlink("big/f001", "big/h001");
            }
            rsync(&[], tmp.path(), "want");
            let out = ours(engine, &["--itemize-changes"], tmp.path(), &dst);
            let ctx = format!("[{engine} round {round}]");
            assert_eq!(out.status.code(), Some(0), "{ctx}: {}", show(&out.stderr));
            assert!(out.stderr.is_empty(), "{ctx}: {}", show(&out.stderr));
            if round == 2 {
                assert!(out.stdout.is_empty(), "{ctx}: {}", show(&out.stdout));
            }
            let ours_snap = snapshot(&tmp.path().join(&dst));
            assert_snapshots_eq(
                &ctx,
                &ours_snap,
                &snapshot(&tmp.path().join("want")),
                "uring-cp",
                "rsync",
            );
            assert_snapshots_eq(&ctx, &ours_snap, &snapshot(&src), "uring-cp", "source");
        }
    }
}
