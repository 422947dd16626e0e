//! What a backup script run from cron reads afterwards: `--log-file=FILE`
//! (rsync's: stamped lines appended, the changes, every error, a summary),
//! run for real over temporary trees on every engine, and its shape
//! compared with rsync's where rsync is installed.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A time zone that is neither UTC nor the machine's (a POSIX TZ string, so
/// no zoneinfo file is needed): the log's stamps must be in local time.
const TZ: &str = "XYZ-05:30";

/// `uring-cp --engine ENGINE args...` in `cwd` with [`TZ`]; its output and
/// its process id.
fn ucp(engine: &str, args: &[&str], cwd: &Path) -> (Output, u32) {
    let child = Command::new(BIN)
        .args(engine_args(engine))
        .args(args)
        .current_dir(cwd)
        .env("TZ", TZ)
        .env("LC_ALL", LOCALE)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn uring-cp");
    let pid = child.id();
    (child.wait_with_output().expect("wait for uring-cp"), pid)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `date` in [`TZ`], in the log's format.
fn now() -> String {
    let out = Command::new("date")
        .arg("+%Y/%m/%d %H:%M:%S")
        .env("TZ", TZ)
        .output()
        .expect("run date");
    text(&out.stdout).trim().to_string()
}

/// One line of a log: `YYYY/MM/DD HH:MM:SS [PID] TEXT`.
#[derive(Debug)]
struct Line {
    stamp: String,
    pid: u32,
    text: String,
}

/// Fail on a line that is not what it should be.
fn bad<T>(what: &str, line: &str, all: &str) -> T {
    panic!("not {what}: {line:?}\nin:\n{all}")
}

/// Parse every line of `log`, failing on one that is not in rsync's shape.
fn parse(log: &str) -> Vec<Line> {
    log.lines()
        .map(|l| {
            macro_rules! no {
                () => {
                    bad("a log line", l, log)
                };
            }
            let (stamp, rest) = l.split_at_checked(19).unwrap_or_else(|| no!());
            let shape = stamp.bytes().enumerate().all(|(i, c)| match i {
                4 | 7 => c == b'/',
                10 => c == b' ',
                13 | 16 => c == b':',
                _ => c.is_ascii_digit(),
            });
            let (pid, text) = rest
                .strip_prefix(" [")
                .and_then(|r| r.split_once("] "))
                .unwrap_or_else(|| no!());
            if !shape || !pid.bytes().all(|c| c.is_ascii_digit()) {
                no!()
            }
            Line {
                stamp: stamp.to_string(),
                pid: pid.parse().unwrap_or_else(|_| no!()),
                text: text.to_string(),
            }
        })
        .collect()
}

/// The lines of one run: its start line and summary checked, the lines
/// between returned.
fn one_run<'a>(lines: &'a [Line], pid: u32, ctx: &str) -> Vec<&'a str> {
    let ours: Vec<&Line> = lines.iter().filter(|l| l.pid == pid).collect();
    assert!(ours.len() >= 2, "{ctx}: no lines of pid {pid}: {lines:?}");
    let first = &ours[0].text;
    assert!(
        first.starts_with("uring-cp ")
            && first.contains(" started: ")
            && first.contains("--log-file"),
        "{ctx}: first line {first:?}"
    );
    let last = &ours[ours.len() - 1].text;
    assert!(last.starts_with("total: "), "{ctx}: last line {last:?}");
    ours[1..ours.len() - 1]
        .iter()
        .map(|l| l.text.as_str())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A small tree: files in two directories, a symlink, and (with `-L`) a
/// dangling symlink that cannot be copied.
fn cp_tree(fx: &Fx) {
    fx.dir("src", 0o755)
        .dir("src/a", 0o755)
        .dir("src/a/b", 0o700)
        .file("src/top", 0o644, "top")
        .file("src/a/one", 0o644, "1".repeat(1000))
        .file("src/a/b/two", 0o600, "2".repeat(3000))
        .file("src/it's here", 0o644, "quoted")
        .symlink("src/link", "top")
        .symlink("src/dangling", "nowhere");
}

#[test]
fn cp_mode_logs_v_lines_errors_and_a_summary() {
    for engine in engines() {
        let env = TestEnv::new();
        env.build(cp_tree);
        // The reference: -v on stdout, no log (in the other root, same names).
        let (verbose, _) = ucp(engine, &["-rL", "-v", "src", "dst"], &env.gnu.root);
        assert_eq!(verbose.status.code(), Some(1), "[{engine}] {verbose:?}");
        let before = now();
        let (out, pid) = ucp(
            engine,
            &["-rL", "--log-file=copy.log", "src", "dst"],
            &env.ours.root,
        );
        let after = now();
        let ctx = format!("[{engine}]");
        // The dangling symlink fails (-L follows it); the rest is copied.
        assert_eq!(out.status.code(), Some(1), "{ctx} {out:?}");
        assert!(out.stdout.is_empty(), "{ctx} no -v, yet: {out:?}");
        assert_eq!(env.ours.read("dst/a/b/two"), "2".repeat(3000).as_bytes());
        let log = text(&env.ours.read("copy.log"));
        let lines = parse(&log);
        for l in &lines {
            assert_eq!(l.pid, pid, "{ctx} {log}");
            assert!(
                before <= l.stamp && l.stamp <= after,
                "{ctx} stamp {} not between {before} and {after} (local time, TZ={TZ})",
                l.stamp
            );
        }
        let body = one_run(&lines, pid, &ctx);
        // Every message printed on stderr is in the log, word for word.
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("uring-cp: cannot stat 'src/dangling': No such file or directory"),
            "{ctx} {stderr}"
        );
        for msg in stderr.lines() {
            assert!(body.contains(&msg), "{ctx} {msg:?} not in the log:\n{log}");
        }
        // The rest: exactly -v's lines (in the order the workers made them).
        let items: Vec<String> = body
            .iter()
            .filter(|l| !l.starts_with("uring-cp: "))
            .map(|l| l.to_string())
            .collect();
        let v: Vec<String> = text(&verbose.stdout).lines().map(String::from).collect();
        assert_eq!(sorted(items), sorted(v.clone()), "{ctx} log vs -v:\n{log}");
        assert!(v.contains(&"\"src/it's here\" -> \"dst/it's here\"".to_string()));
        let total = &lines[lines.len() - 1].text;
        assert_eq!(
            total.split(" in ").next().unwrap(),
            // (-L: the symlink to `top` is copied as a file.)
            "total: 5 files, 3 directories, 0 symlinks, 0 special files, 4012 bytes, \
             0 skipped, 0 deleted, 1 failed, 0 vanished",
            "{ctx}"
        );
        assert!(total.ends_with(" s; exit status 1"), "{ctx} {total}");
    }
}

/// The tree of a sync, then changed: a file grows, one goes, one comes,
/// permissions change, a symlink is retargeted.
fn sync_tree(fx: &Fx) {
    fx.dir("src", 0o755)
        .dir("src/docs", 0o755)
        .file("src/docs/a", 0o644, "alpha")
        .file("src/docs/gone", 0o644, "to be deleted")
        .file("src/perms", 0o644, "#!/bin/sh\n")
        .file("src/same", 0o644, "same")
        .symlink("src/link", "docs/a");
    for f in ["src/docs/a", "src/docs/gone", "src/perms", "src/same"] {
        fx.set_times(f, (1_600_000_000, 0), (1_600_000_000, 0));
    }
}

fn change(fx: &Fx) {
    fx.file("src/docs/a", 0o644, "alpha, longer")
        .file("src/docs/new", 0o644, "new")
        .chmod("src/perms", 0o755);
    std::fs::remove_file(fx.p("src/docs/gone")).unwrap();
    std::fs::remove_file(fx.p("src/link")).unwrap();
    fx.symlink("src/link", "perms");
}

#[test]
fn sync_mode_logs_the_itemized_lines() {
    for engine in engines() {
        let env = TestEnv::new();
        env.build(sync_tree);
        let sync = ["-a", "--sync", "--delete", "-T", "src", "dst"];
        for fx in [&env.ours, &env.gnu] {
            let (out, _) = ucp(engine, &sync, &fx.root);
            assert_eq!(out.status.code(), Some(0), "[{engine}] {out:?}");
        }
        env.build(change);
        let ctx = format!("[{engine}]");
        // With --itemize-changes: the log has exactly what stdout got.
        let mut args = vec!["--itemize-changes", "--log-file=sync.log"];
        args.extend(sync);
        let (said, pid) = ucp(engine, &args, &env.gnu.root);
        assert_eq!(said.status.code(), Some(0), "{ctx} {said:?}");
        let stdout = text(&said.stdout);
        let log = text(&env.gnu.read("sync.log"));
        let lines = parse(&log);
        assert_eq!(
            one_run(&lines, pid, &ctx),
            stdout.lines().collect::<Vec<_>>()
        );
        for want in [
            "update file size,time 'dst/docs/a'",
            "new file - 'dst/docs/new'",
            "delete file - 'dst/docs/gone'",
            "attrs file perms 'dst/perms'",
            "replace symlink - 'dst/link'",
        ] {
            assert!(
                stdout.lines().any(|l| l == want),
                "{ctx} {want:?} in {stdout}"
            );
        }
        // Without it: nothing on stdout, the same lines in the log.
        let mut args = vec!["--log-file=sync.log"];
        args.extend(sync);
        let (quiet, pid) = ucp(engine, &args, &env.ours.root);
        assert_eq!(quiet.status.code(), Some(0), "{ctx} {quiet:?}");
        assert!(quiet.stdout.is_empty(), "{ctx} {quiet:?}");
        let log = text(&env.ours.read("sync.log"));
        let lines = parse(&log);
        let body: Vec<String> = one_run(&lines, pid, &ctx)
            .into_iter()
            .map(String::from)
            .collect();
        let said: Vec<String> = stdout.lines().map(String::from).collect();
        assert_eq!(sorted(body), sorted(said), "{ctx}\n{log}");
        let total = &lines[lines.len() - 1].text;
        assert!(
            total.starts_with("total: 2 files, 0 directories, 1 symlinks, 0 special files, 16 bytes, 0 skipped, 1 deleted, 0 failed, 0 vanished in "),
            "{ctx} {total}"
        );
        assert_snapshots_eq(
            &ctx,
            &snapshot(&env.ours.p("src")),
            &snapshot(&env.ours.p("dst")),
            "source",
            "copy",
        );
        // An unchanged tree: a start line and a summary, nothing between.
        let (again, pid) = ucp(engine, &args, &env.ours.root);
        assert_eq!(again.status.code(), Some(0), "{ctx} {again:?}");
        let lines = parse(&text(&env.ours.read("sync.log")));
        assert!(one_run(&lines, pid, &ctx).is_empty(), "{ctx} {lines:?}");
        // Both runs appended, each with its own pid.
        let starts = lines
            .iter()
            .filter(|l| l.text.contains(" started: "))
            .count();
        assert_eq!(starts, 2, "{ctx} {lines:?}");
    }
}

#[test]
fn the_log_is_appended_and_made_0644_under_the_umask() {
    let env = TestEnv::new();
    env.build(cp_tree);
    env.ours.file("old.log", 0o600, "a line from before\n");
    for (umask, log, mode) in [(0o022, "new.log", 0o644), (0o027, "other.log", 0o640)] {
        let opts = RunOpts {
            umask,
            ..RunOpts::default()
        };
        let dst = format!("dst-{log}");
        let out = env.run_ours("portable", &["-r", "--log-file", log, "src/a", &dst], &opts);
        assert_eq!(out.code, Some(0), "{out}");
        let md = env.ours.lstat(log);
        assert_eq!(md.permissions().mode() & 0o7777, mode, "{log}");
    }
    let out = env.run_ours(
        "portable",
        &["-r", "--log-file=old.log", "src/a", "more"],
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(0), "{out}");
    let log = text(&env.ours.read("old.log"));
    assert!(log.starts_with("a line from before\n"), "{log}");
    assert_eq!(
        env.ours.lstat("old.log").permissions().mode() & 0o777,
        0o600
    );
    parse(log.split_once('\n').unwrap().1);
}

#[test]
fn a_log_that_cannot_be_opened_refuses_the_run() {
    for engine in engines() {
        let env = TestEnv::new();
        env.build(cp_tree);
        env.ours.dir("logs", 0o755);
        let cases: [(&str, &[&str], &str); 3] = [
            (
                "logs",
                &["-r"],
                "cannot open log file 'logs': Is a directory",
            ),
            (
                "missing/dir/x.log",
                &["-r"],
                "cannot open log file 'missing/dir/x.log': No such file or directory",
            ),
            (
                "logs",
                &["-a", "--sync", "--delete", "-T"],
                "cannot open log file 'logs': Is a directory",
            ),
        ];
        for (log, opts, want) in cases {
            let mut args: Vec<&str> = opts.to_vec();
            let flag = format!("--log-file={log}");
            args.extend([flag.as_str(), "src", "dst"]);
            let (out, _) = ucp(engine, &args, &env.ours.root);
            let ctx = format!("[{engine}] {args:?}");
            assert_eq!(out.status.code(), Some(1), "{ctx} {out:?}");
            assert_eq!(text(&out.stderr), format!("uring-cp: {want}\n"), "{ctx}");
            assert!(!env.ours.exists("dst"), "{ctx}: something was copied");
        }
        assert!(!env.ours.exists("missing"));
    }
}

#[test]
fn a_log_that_fails_later_is_said_once_and_the_copy_goes_on() {
    for engine in engines() {
        let env = TestEnv::new();
        env.build(cp_tree);
        // Opens, and every write fails (ENOSPC).
        let (out, _) = ucp(
            engine,
            &["-r", "--log-file=/dev/full", "src/a", "dst"],
            &env.ours.root,
        );
        let ctx = format!("[{engine}]");
        assert_eq!(out.status.code(), Some(0), "{ctx} {out:?}");
        assert_eq!(
            text(&out.stderr),
            "uring-cp: cannot write to log file '/dev/full': No space left on device; \
             the run goes on without a log\n",
            "{ctx}"
        );
        assert_snapshots_eq(
            &ctx,
            &snapshot(&env.ours.p("src/a")),
            &snapshot(&env.ours.p("dst")),
            "source",
            "copy",
        );
    }
}

/// rsync's `--log-file` lines have the same stamp and pid shape.
#[test]
fn rsync_log_lines_have_the_same_shape() {
    if !have_rsync("--log-file lines") {
        return;
    }
    let env = TestEnv::new();
    env.build(cp_tree);
    std::fs::remove_file(env.gnu.p("src/dangling")).unwrap();
    let out = Command::new("rsync")
        .args(["-a", "--log-file=rsync.log", "src/", "dst/"])
        .current_dir(&env.gnu.root)
        .env("TZ", TZ)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let lines = parse(&text(&env.gnu.read("rsync.log")));
    assert!(
        lines.iter().any(|l| l.text.contains("a/b/two")),
        "{lines:?}"
    );
}
