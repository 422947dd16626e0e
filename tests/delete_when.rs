//! When `--delete` deletes (issue 16): rsync's `--delete-before`,
//! `--delete-during` (the default) and `--delete-after`, on every engine.
//! The trees and directory times equal rsync's; the order is checked in
//! `--itemize-changes` and in the system calls themselves (strace): before,
//! every removal precedes the first file written; after, every removal
//! follows the last file renamed into place.

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

const WHEN: [&str; 3] = ["--delete-before", "--delete-during", "--delete-after"];

fn fixture(t: &Path) {
    let _ = std::fs::remove_dir_all(t.join("src"));
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("a/new", 0o644, "new")
        .file("a/changed", 0o644, "changed now")
        .file("b/deep/x", 0o644, "x")
        .file("top", 0o644, "top");
    // Directory times the copy must keep, whatever is deleted in them.
    for d in ["a", "b/deep", "b", ""] {
        let when = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30);
        std::fs::File::open(t.join("src").join(d))
            .and_then(|f| f.set_modified(when))
            .expect("set mtime");
    }
}

fn old_destination(d: &Path) {
    let _ = std::fs::remove_dir_all(d);
    Fx::new(d)
        .dir("", 0o755)
        .file("a/changed", 0o644, "old")
        .file("a/extra", 0o644, "extra in a")
        .file("b/deep/extra", 0o644, "extra deep")
        .file("b/gone/z", 0o644, "a whole tree")
        .file("extra", 0o644, "extra at the top");
}

/// Every directory's path and modification time under `root`.
fn dir_times(root: &Path) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = snapshot(root)
        .iter()
        .filter(|e| matches!(e.kind, Kind::Dir))
        .map(|e| {
            let p = root.join(os(&e.path));
            (show(&e.path), std::fs::metadata(&p).expect("stat").mtime())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn each_moment_gives_rsyncs_tree_and_order() {
    if !have_rsync("--delete-before/--delete-after") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    for engine in engines() {
        for when in WHEN {
            let ctx = format!("[{engine}] {when}");
            old_destination(&t.join("want"));
            old_destination(&t.join("dst"));
            let r = Command::new("rsync")
                .args(["-a", when, "src/", "want/"])
                .current_dir(t)
                .output()
                .expect("rsync");
            assert!(r.status.success(), "{ctx}: rsync: {}", show(&r.stderr));
            let out = run_uring_cp(
                engine,
                &["-a", "--sync", when, "--itemize-changes"],
                &["-T", "src", "dst"],
                t,
                &RunOpts::default(),
            );
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            assert_snapshots_eq(
                &ctx,
                &snapshot(&t.join("dst")),
                &snapshot(&t.join("want")),
                "uring-cp",
                "rsync",
            );
            assert_eq!(
                dir_times(&t.join("dst")),
                dir_times(&t.join("want")),
                "{ctx}"
            );
            let lines: Vec<String> = out.stdout_str().lines().map(String::from).collect();
            let deletes: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].starts_with("delete "))
                .collect();
            assert_eq!(deletes.len(), 4, "{ctx}: {lines:#?}");
            let others = lines.len() - deletes.len();
            match when {
                "--delete-before" => assert_eq!(deletes, vec![0, 1, 2, 3], "{ctx}: {lines:#?}"),
                "--delete-after" => assert_eq!(
                    deletes,
                    (others..lines.len()).collect::<Vec<_>>(),
                    "{ctx}: {lines:#?}"
                ),
                _ => {}
            }
        }
    }
}

/// The order in the system calls: removals (`unlinkat`) against the first
/// file created and the last temporary renamed into place.
#[test]
fn removals_happen_before_or_after_every_write() {
    if !have_strace() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    for engine in engines() {
        for when in ["--delete-before", "--delete-after"] {
            let ctx = format!("[{engine}] {when}");
            old_destination(&t.join("dst"));
            let log = t.join("strace.log");
            let mut args: Vec<String> = [
                "-f",
                "-qq",
                "-o",
                log.to_str().expect("utf-8"),
                "-e",
                "trace=unlinkat,renameat,renameat2,openat",
                BIN,
            ]
            .map(String::from)
            .to_vec();
            args.extend(engine_args(engine).into_iter().map(String::from));
            args.extend(["-a", "--sync", when, "-T", "src", "dst"].map(String::from));
            let out = Command::new("strace")
                .args(&args)
                .current_dir(t)
                .output()
                .expect("strace");
            assert!(out.status.success(), "{ctx}: {}", show(&out.stderr));
            let text = std::fs::read_to_string(&log).expect("log");
            let lines: Vec<&str> = text.lines().collect();
            let at = |pred: &dyn Fn(&str) -> bool| -> Vec<usize> {
                (0..lines.len()).filter(|&i| pred(lines[i])).collect()
            };
            let removals = at(&|l| {
                l.contains("unlinkat(")
                    && l.ends_with("= 0")
                    && ["\"extra\"", "\"z\"", "\"gone\""]
                        .iter()
                        .any(|n| l.contains(n))
            });
            assert_eq!(removals.len(), 5, "{ctx}: {text}");
            let created = at(&|l| l.contains("openat(") && l.contains("O_CREAT"));
            let renamed = at(&|l| l.contains("rename") && !l.contains("= -1"));
            assert!(!created.is_empty() && !renamed.is_empty(), "{ctx}: {text}");
            if when == "--delete-before" {
                assert!(removals.iter().all(|r| r < &created[0]), "{ctx}: {text}");
            } else {
                let last = renamed[renamed.len() - 1];
                assert!(removals.iter().all(|r| r > &last), "{ctx}: {text}");
            }
        }
    }
}

#[test]
fn dry_run_and_max_delete_and_one_moment_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    for engine in engines() {
        for when in ["--delete-before", "--delete-after"] {
            let ctx = format!("[{engine}] {when}");
            old_destination(&t.join("dst"));
            let before = snapshot(&t.join("dst"));
            let out = run_uring_cp(
                engine,
                &["-a", "--sync", when, "--dry-run", "--itemize-changes"],
                &["-T", "src", "dst"],
                t,
                &RunOpts::default(),
            );
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            assert_eq!(
                out.stdout_str()
                    .lines()
                    .filter(|l| l.starts_with("delete "))
                    .count(),
                4,
                "{ctx}: {out}"
            );
            assert_snapshots_eq(&ctx, &snapshot(&t.join("dst")), &before, "after", "before");
            let out = run_uring_cp(
                engine,
                &["-a", "--sync", when, "--max-delete=2"],
                &["-T", "src", "dst"],
                t,
                &RunOpts::default(),
            );
            assert_eq!(out.code, Some(25), "{ctx}: {out}");
            let left = ["a/extra", "b/deep/extra", "b/gone", "extra"]
                .iter()
                .filter(|p| t.join("dst").join(p).exists())
                .count();
            assert_eq!(left, 2, "{ctx}: two of four deleted");
        }
    }
    let out = run_uring_cp(
        "portable",
        &["-a", "--sync", "--delete-before", "--delete-after"],
        &["-T", "src", "dst"],
        t,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used with"),
        "{out}"
    );
}

/// A file renamed in the source: its old name is extra at the destination,
/// its new name must be copied. Under `--delete-after`, if that copy fails,
/// the old name is the only copy left: nothing is deleted (said on stderr),
/// exit 1. (strace fails every data write.)
#[test]
fn delete_after_deletes_nothing_after_a_failure() {
    if !have_strace() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("renamed", 0o644, "the only data");
    for engine in engines() {
        let ctx = format!("[{engine}] --delete-after, the copy fails");
        let _ = std::fs::remove_dir_all(t.join("dst"));
        Fx::new(t.join("dst"))
            .dir("", 0o755)
            .file("old-name", 0o644, "the only data");
        let out = run_with_failing_writes(
            engine,
            &["-a", "--sync", "--delete-after", "-T", "src", "dst"],
            t,
        );
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{ctx}: {err}");
        assert!(err.contains("'dst/renamed'"), "{ctx}: {err}");
        assert!(
            err.contains("--delete-after: 1 deletions skipped"),
            "{ctx}: {err}"
        );
        assert_eq!(
            std::fs::read(t.join("dst/old-name")).expect("kept"),
            b"the only data",
            "{ctx}"
        );
    }
}

/// `--delete-after` deletes by the directory's path once the copy is done:
/// a directory put in the place of the one the walk listed (here while
/// strace holds the run at that `open`) is left alone, and that is said.
#[test]
fn delete_after_leaves_a_directory_put_in_place_meanwhile() {
    if !have_strace() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("a/new", 0o644, "new");
    for engine in engines() {
        let ctx = format!("[{engine}] --delete-after, a directory swapped");
        let _ = std::fs::remove_dir_all(t.join("dst"));
        let _ = std::fs::remove_dir_all(t.join("listed"));
        Fx::new(t.join("dst"))
            .dir("", 0o755)
            .file("a/extra", 0o644, "extra");
        let a = t.join("dst/a");
        let mut args: Vec<String> = ["-f", "-qq", "-o", "/dev/null", "-P"]
            .map(String::from)
            .to_vec();
        args.push(a.to_str().expect("utf-8").into());
        args.extend(
            [
                "-e",
                "trace=open,openat",
                "-e",
                "inject=open:delay_enter=2000000",
            ]
            .map(String::from),
        );
        args.push(BIN.into());
        args.extend(engine_args(engine).into_iter().map(String::from));
        args.extend(["-a", "--sync", "--delete-after", "-T"].map(String::from));
        args.push(t.join("src").to_str().expect("utf-8").into());
        args.push(t.join("dst").to_str().expect("utf-8").into());
        let child = Command::new("strace")
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("strace");
        // Once the copy is there, the run is held at its `open` of dst/a.
        let start = std::time::Instant::now();
        while !a.join("new").exists() {
            assert!(start.elapsed().as_secs() < 30, "{ctx}: no copy");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::fs::rename(&a, t.join("listed")).expect("rename");
        Fx::new(&a)
            .dir("", 0o755)
            .file("extra", 0o644, "someone else's");
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{ctx}: {err}");
        assert!(err.contains("replaced after it was listed"), "{ctx}: {err}");
        assert_eq!(
            std::fs::read(a.join("extra")).expect("kept"),
            b"someone else's",
            "{ctx}"
        );
    }
}

/// The line both tools end with when `--max-delete` kept entries (rsync's
/// words; uring-cp puts its name before them), if any.
fn max_delete_line(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .find(|l| l.contains("Deletions stopped due to --max-delete limit"))?;
    Some(line.trim_start_matches("uring-cp: ").to_string())
}

/// `rsync -a OPTS src/ want/` and `uring-cp -a --sync OPTS -T src dst` in
/// `t` end alike: the same exit status, the same `--max-delete` line (or
/// none), equal trees. Our run's outcome, for more checks.
fn deletes_like_rsync(ctx: &str, engine: &str, t: &Path, opts: &[&str]) -> Outcome {
    let theirs = Command::new("rsync")
        .arg("-a")
        .args(opts)
        .args(["src/", "want/"])
        .current_dir(t)
        .output()
        .expect("rsync");
    let ours = sync_src_to_dst(engine, t, opts);
    assert_eq!(ours.code, theirs.status.code(), "{ctx}: {ours}");
    assert_eq!(
        max_delete_line(&ours.stderr),
        max_delete_line(&theirs.stderr),
        "{ctx}: {ours}"
    );
    assert_snapshots_eq(
        ctx,
        &snapshot(&t.join("dst")),
        &snapshot(&t.join("want")),
        "uring-cp",
        "rsync",
    );
    ours
}

/// A destination with entries the source lacks in several directories,
/// whole trees among them (`gone` holds 5 entries, `a-b` 2), named so
/// that rsync's order (other entries before directories, each by name; a
/// directory's name compared with a `/` after it) differs from plain sorting.
fn extra_everywhere(d: &Path) {
    let _ = std::fs::remove_dir_all(d);
    Fx::new(d)
        .dir("", 0o755)
        .file("a/changed", 0o644, "old")
        .file("a/extra", 0o644, "extra in a")
        .file("a-b/x", 0o644, "a directory the source lacks")
        .file("b/deep/extra", 0o644, "extra deep")
        .file("b/z", 0o644, "extra in b")
        .file("gone/z", 0o644, "a whole tree")
        .file("gone/sub/1", 0o644, "1")
        .file("gone/sub/2", 0o644, "2")
        .file("extra", 0o644, "extra at the top")
        .file("zz", 0o644, "extra at the top");
}

/// `--max-delete=N` counts every entry, each file and directory of a
/// removed tree too (uring-cp counted a tree as one and deleted all of it
/// under `--max-delete=1`), stops where rsync stops (the same entries
/// stay), exits 25 and says rsync's line with rsync's count of what it kept,
/// at each moment, also under `--dry-run`.
#[test]
fn max_delete_counts_every_entry_and_keeps_what_rsync_keeps() {
    if !have_rsync("--max-delete") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    for engine in engines() {
        for when in WHEN {
            for (n, dry) in [
                (0, false),
                (1, false),
                (2, true),
                (4, false),
                (7, false),
                (99, false),
            ] {
                let ctx = format!("[{engine}] {when} --max-delete={n} (dry run: {dry})");
                extra_everywhere(&t.join("want"));
                extra_everywhere(&t.join("dst"));
                let limit = format!("--max-delete={n}");
                let mut opts = vec![when, limit.as_str()];
                if dry {
                    opts.push("--dry-run");
                }
                let ours = deletes_like_rsync(&ctx, engine, t, &opts);
                // `gone` (5 entries) goes first, one entry at a time.
                if n < 5 {
                    assert!(Fx::new(t.join("dst")).exists("gone"), "{ctx}: {ours}");
                }
            }
        }
    }
}

/// A directory that the source now has as a file, holding more entries than
/// `--max-delete` lets go: uring-cp leaves it whole and does not copy the
/// file (an error naming it, exit 1); rsync deletes what the limit allows
/// of it and then fails to make the file, leaving a half-deleted directory
/// that is neither the old nor the new. Safer on purpose (README). Within
/// the limit both replace it.
#[test]
fn a_directory_too_big_for_max_delete_is_not_replaced_unlike_rsync() {
    if !have_rsync("--max-delete") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("d", 0o644, "now a file");
    let old = |d: &Path| {
        let _ = std::fs::remove_dir_all(d);
        Fx::new(d)
            .dir("", 0o755)
            .file("d/1", 0o644, "1")
            .file("d/2", 0o644, "2")
            .file("d/3", 0o644, "3");
    };
    let entries = |d: &Path| std::fs::read_dir(d).map_or(0, |r| r.count());
    let sync = |engine: &str, n: u32| {
        old(&t.join("dst"));
        let limit = format!("--max-delete={n}");
        let flags = ["-a", "--sync", "--delete", limit.as_str()];
        run_uring_cp(
            engine,
            &flags,
            &["-T", "src", "dst"],
            t,
            &RunOpts::default(),
        )
    };
    for engine in engines() {
        let ctx = format!("[{engine}] --max-delete=2");
        let ours = sync(engine, 2);
        assert_eq!(ours.code, Some(1), "{ctx}: {ours}");
        let err = String::from_utf8_lossy(&ours.stderr);
        assert!(
            err.contains("'dst/d'") && err.contains("--max-delete"),
            "{ctx}: {ours}"
        );
        assert_eq!(
            entries(&t.join("dst/d")),
            3,
            "{ctx}: the directory stays whole"
        );
        assert_eq!(Fx::new(t.join("dst")).read("d/3"), b"3", "{ctx}");

        let ctx = format!("[{engine}] --max-delete=3");
        let ours = sync(engine, 3);
        assert_eq!(ours.code, Some(0), "{ctx}: {ours}");
        assert_eq!(Fx::new(t.join("dst")).read("d"), b"now a file", "{ctx}");
    }
    for (n, replaced) in [(2, false), (3, true)] {
        old(&t.join("want"));
        let theirs = Command::new("rsync")
            .args([
                "-a",
                "--delete",
                &format!("--max-delete={n}"),
                "src/",
                "want/",
            ])
            .current_dir(t)
            .output()
            .expect("rsync");
        let ctx = format!("rsync --max-delete={n}: {}", show(&theirs.stderr));
        match replaced {
            true => assert_eq!(Fx::new(t.join("want")).read("d"), b"now a file", "{ctx}"),
            // (If this fails, rsync changed: see whether the difference still holds.)
            false => assert_eq!(entries(&t.join("want/d")), 1, "{ctx}: half deleted"),
        }
    }
}

/// `-v` says what `--delete` took away, with cp's word (`removed 'X'`, and
/// where it went under `-b`); rsync's `-v` says `deleting X`. Nothing is
/// said under `--dry-run` (whose lines are `--itemize-changes`').
#[test]
fn verbose_says_what_delete_removed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("new", 0o644, "new");
    for engine in engines() {
        for (extra, want) in [
            (&[][..], &["removed 'dst/old'", "removed 'dst/x'"][..]),
            (
                &["-b"],
                &[
                    "removed 'dst/old' (backup: 'dst/old~')",
                    "removed 'dst/x' (backup: 'dst/x~')",
                ],
            ),
            (&["--dry-run"], &[]),
        ] {
            let ctx = format!("[{engine}] {extra:?}");
            let _ = std::fs::remove_dir_all(t.join("dst"));
            Fx::new(t.join("dst"))
                .dir("", 0o755)
                .file("old", 0o644, "old")
                .file("x/1", 0o644, "1");
            let mut flags = vec!["-av", "--sync", "--delete"];
            flags.extend_from_slice(extra);
            let out = run_uring_cp(
                engine,
                &flags,
                &["-T", "src", "dst"],
                t,
                &RunOpts::default(),
            );
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let mut said: Vec<&str> = stdout
                .lines()
                .filter(|l| l.starts_with("removed "))
                .collect();
            said.sort();
            assert_eq!(said, want, "{ctx}: {out}");
        }
    }
}

/// Entries `--exclude` matches stay at the destination under `--delete`
/// also inside a directory the source no longer has (with the directories
/// that hold them), as rsync: uring-cp removed such a directory whole,
/// `*.log` files the filter was there to protect included. At each moment,
/// with `--max-delete` (what the filter keeps is not counted), and under
/// `--delete-excluded`, which does delete them. A directory the source now
/// has as a file is left whole when it holds protected entries (an error,
/// exit 1; rsync deletes the rest of it and then fails to make the file).
#[test]
fn excluded_entries_inside_a_removed_directory_stay_like_rsync() {
    if !have_rsync("--exclude with --delete") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    let old = |d: &Path| {
        let _ = std::fs::remove_dir_all(d);
        Fx::new(d)
            .dir("", 0o755)
            .file("gone/keep.log", 0o644, "protected")
            .file("gone/other", 0o644, "not protected")
            .file("gone/sub/keep.log", 0o644, "protected, deeper")
            .file("gone/sub/x", 0o644, "not protected, deeper")
            .file("gone/all/y", 0o644, "a tree with nothing protected")
            .file("b/deep/extra.log", 0o644, "protected, beside the source's");
    };
    for engine in engines() {
        for when in WHEN {
            for extra in [&[][..], &["--max-delete=2"], &["--delete-excluded"]] {
                let ctx = format!("[{engine}] {when} {extra:?}");
                old(&t.join("want"));
                old(&t.join("dst"));
                let mut opts = vec![when, "--exclude=*.log"];
                opts.extend_from_slice(extra);
                deletes_like_rsync(&ctx, engine, t, &opts);
                let kept = Fx::new(t.join("dst")).exists("gone/sub/keep.log");
                assert_eq!(kept, extra != ["--delete-excluded"], "{ctx}");
            }
        }
    }
    // The source's file where the destination has a directory holding a
    // protected entry: left whole.
    let _ = std::fs::remove_dir_all(t.join("src2"));
    Fx::new(t.join("src2"))
        .dir("", 0o755)
        .file("gone", 0o644, "a file now");
    for engine in engines() {
        old(&t.join("dst"));
        let flags = ["-a", "--sync", "--delete", "--exclude=*.log"];
        let ours = run_uring_cp(
            engine,
            &flags,
            &["-T", "src2", "dst"],
            t,
            &RunOpts::default(),
        );
        assert_eq!(ours.code, Some(1), "[{engine}] {ours}");
        let err = String::from_utf8_lossy(&ours.stderr);
        assert!(
            err.contains("'dst/gone'") && err.contains("filter"),
            "[{engine}] {ours}"
        );
        assert_eq!(
            Fx::new(t.join("dst")).read("gone/other"),
            b"not protected",
            "[{engine}]"
        );
    }
}
