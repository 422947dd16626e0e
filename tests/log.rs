//! What a backup script run from cron reads afterwards: `--log-file=FILE`
//! (rsync's: stamped lines appended, the changes, every error, a summary) and
//! `--info=progress2` (the whole run's progress as plain lines on stderr),
//! run for real over temporary trees on every engine, and their shape
//! compared with rsync's where rsync is installed.

mod common;

use common::*;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

// ---------------------------------------------------------------------------
// --info=progress2
// ---------------------------------------------------------------------------

/// A tree whose copy waits for us: `src/zz-fifo` is read as data
/// (`--copy-contents`), so the copy blocks until something writes it.
/// Returns the bytes of the regular files.
fn slow_tree(root: &Path) -> u64 {
    let fx = Fx::new(root);
    fx.dir("src", 0o755);
    let mut bytes = 0;
    for i in 0..200u64 {
        let data = vec![b'x'; (i * 97 % 4000) as usize];
        bytes += data.len() as u64;
        fx.file(format!("src/d{}/f{i}", i % 4), 0o644, data);
    }
    fx.fifo("src/zz-fifo", 0o644);
    bytes
}

/// Write `data` into the FIFO once the copy has opened it for reading
/// (retrying the non-blocking open), then close it.
fn feed(fifo: &Path, data: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt;
    let start = Instant::now();
    let mut f = loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
        {
            Ok(f) => break f,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                assert!(start.elapsed() < DEFAULT_TIMEOUT, "nobody opened {fifo:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("open {fifo:?}: {e}"),
        }
    };
    f.write_all(data).unwrap();
}

/// `BYTES PERCENT% RATE H:MM:SS (files D/F...)`: the bytes and percent.
fn progress_fields(line: &str) -> (u64, u32) {
    let rest = line
        .splitn(5, char::is_whitespace)
        .last()
        .unwrap_or_default();
    assert!(
        line.contains(" (files ") && rest.ends_with(')'),
        "not a progress line: {line:?}"
    );
    columns(line)
}

/// rsync's four columns, `BYTES PERCENT% RATE H:MM:SS`: the bytes and percent.
fn columns(line: &str) -> (u64, u32) {
    macro_rules! no {
        () => {
            bad("a progress line", line, line)
        };
    }
    let w: Vec<&str> = line.split_whitespace().collect();
    let [bytes, percent, rate, clock, ..] = w[..] else {
        return no!();
    };
    let clock_ok = clock.split(':').count() == 3
        && clock
            .split(':')
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
    let rate_ok = ["kB/s", "MB/s", "GB/s"].iter().any(|u| {
        rate.strip_suffix(u)
            .is_some_and(|n| n.parse::<f64>().is_ok())
    });
    if !clock_ok || !rate_ok {
        no!()
    }
    let bytes = bytes.replace(',', "").parse().unwrap_or_else(|_| no!());
    let percent = percent.strip_suffix('%').unwrap_or_else(|| no!());
    (bytes, percent.parse().unwrap_or_else(|_| no!()))
}

#[test]
fn progress_lines_on_a_pipe_are_plain_lines_ending_at_100_percent() {
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let bytes = slow_tree(tmp.path()) + 5;
        let ctx = format!("[{engine}]");
        let mut child = Command::new(BIN)
            .args(engine_args(engine))
            .args(["-r", "--copy-contents", "--info=progress2"])
            .args(["--log-file=run.log", "src", "dst"])
            .current_dir(tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (stdout, stderr) = read_outputs(&mut child);
        // The copy waits on the FIFO: lines go on meanwhile (three, or two
        // on a slow start), and the log is flushed without waiting for the
        // end (its first line at least).
        std::thread::sleep(Duration::from_millis(3500));
        let log = text(&std::fs::read(tmp.path().join("run.log")).unwrap());
        assert!(
            log.lines().next().is_some_and(|l| l.contains(" started: ")),
            "{ctx} the log was not flushed while the run went on: {log:?}"
        );
        feed(&tmp.path().join("src/zz-fifo"), b"fifo\n");
        let status = child.wait().unwrap();
        let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
        assert_eq!(status.code(), Some(0), "{ctx} {}", text(&stderr));
        assert!(stdout.is_empty(), "{ctx} {}", text(&stdout));
        assert!(
            !stderr.contains(&b'\x1b') && !stderr.contains(&b'\r'),
            "{ctx} escape codes or carriage returns: {}",
            show(&stderr)
        );
        let stderr = text(&stderr);
        assert!(stderr.ends_with(")\n"), "{ctx} {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(
            lines.len() >= 3,
            "{ctx} a line a second while the copy waited, then the last: {stderr}"
        );
        let fields: Vec<(u64, u32)> = lines.iter().map(|l| progress_fields(l)).collect();
        for pair in fields.windows(2) {
            assert!(
                pair[0].0 <= pair[1].0 && pair[0].1 <= pair[1].1,
                "{ctx} {stderr}"
            );
        }
        // Below 100% while the FIFO held the copy.
        assert!(fields[lines.len() - 2].1 < 100, "{ctx} {stderr}");
        assert_eq!(fields[lines.len() - 1], (bytes, 100), "{ctx} {stderr}");
        let last = lines[lines.len() - 1];
        assert!(last.ends_with("(files 201/201)"), "{ctx} {last}");
        assert_eq!(
            std::fs::read(tmp.path().join("dst/zz-fifo")).unwrap(),
            b"fifo\n"
        );
    }
}

#[test]
fn progress_lines_replace_the_bar_and_quiet_silences_them() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = Fx::new(tmp.path());
    fx.file("src/a", 0o644, "abc").file("src/b", 0o644, "defg");
    let run = |args: &[&str], dst: &str| {
        let out = Command::new(BIN)
            .args(args)
            .args(["-r", "src", dst])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?} {out:?}");
        text(&out.stderr)
    };
    // A short run: only the last line, whatever --progress says.
    for (i, args) in [
        &["--info=progress2"][..],
        &["--progress", "--info=progress2"],
    ]
    .iter()
    .enumerate()
    {
        let err = run(args, &format!("dst{i}"));
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with(&format!("{:>15} 100% ", 7)) && err.ends_with(" (files 2/2)\n"),
            "{args:?}: {err:?}"
        );
    }
    for args in [&["-q", "--info=progress2"][..], &["--info=progress2", "-q"]] {
        assert_eq!(run(args, "dst-q"), "", "{args:?}");
    }
    // Not a value rsync's --info has that this one does not.
    let out = Command::new(BIN)
        .args(["--info=stats2", "-r", "src", "dst-bad"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out.stderr).contains("'stats2'"), "{out:?}");
    assert!(!tmp.path().join("dst-bad").exists());
}

/// In a terminal too: lines, never the bar's escape codes.
#[test]
fn progress_lines_in_a_terminal_are_plain_too() {
    let tmp = tempfile::tempdir().unwrap();
    slow_tree(tmp.path());
    std::fs::remove_file(tmp.path().join("src/zz-fifo")).unwrap();
    let cmd = format!("{BIN} -r --progress --info=progress2 src dst");
    let out = match Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .current_dir(tmp.path())
        .env("TERM", "xterm")
        .output()
    {
        Ok(o) => o,
        Err(e) => return skip(&format!("no pseudo-terminal: `script` cannot run ({e})")),
    };
    assert_eq!(out.status.code(), Some(0), "{}", show(&out.stdout));
    // (The terminal turns each \n into \r\n.)
    let screen = text(&out.stdout).replace("\r\n", "\n");
    assert!(!screen.contains(['\x1b', '\r']), "{}", show(&out.stdout));
    assert!(screen.trim_end().ends_with("(files 200/200)"), "{screen}");
}

/// rsync's last progress2 line and ours: the same four columns, in the
/// same places.
#[test]
fn progress_columns_line_up_with_rsyncs() {
    if !have_rsync("--info=progress2 lines") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let bytes = slow_tree(tmp.path());
    std::fs::remove_file(tmp.path().join("src/zz-fifo")).unwrap();
    let rsync = Command::new("rsync")
        .args(["-a", "--info=progress2", "src/", "dst-rsync/"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(rsync.status.success(), "{rsync:?}");
    let theirs = text(&rsync.stdout);
    let theirs = theirs
        .split(['\r', '\n'])
        .rfind(|l| !l.trim().is_empty())
        .unwrap()
        .to_string();
    let ours = Command::new(BIN)
        .args(["-a", "--info=progress2", "-T", "src", "dst-ours"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(ours.status.success(), "{ours:?}");
    let ours = text(&ours.stderr).trim_end().to_string();
    assert_eq!(progress_fields(&ours), (bytes, 100), "{ours}");
    assert_eq!(columns(&theirs).0, bytes, "{theirs}");
    // Column ends: bytes, percent sign, rate unit, clock.
    let ends = |l: &str| {
        let b = l.as_bytes();
        let pct = l.find('%').unwrap();
        let unit = l.find("B/s").unwrap() + 3;
        let clock = unit + l[unit..].find(':').unwrap() + 6;
        (
            b[..pct].iter().rposition(|c| *c == b' ').unwrap(),
            pct,
            unit,
            clock,
        )
    };
    assert_eq!(
        ends(&ours),
        ends(&theirs),
        "\nours:   {ours}\nrsync:  {theirs}"
    );
}
