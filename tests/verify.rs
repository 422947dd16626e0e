//! `--verify` (issue 16): every copied file is read back past the page cache
//! and compared with its source, in cp mode and sync mode, on every engine;
//! a copy corrupted behind the tool's back between the write and the
//! read-back (strace holds the run at the verification's first `pread64`
//! while the test flips a byte of the copy) is reported, removed, and the run
//! exits 1: in cp mode the name is left empty, in sync mode the old file
//! stays as it was.

mod common;

use common::*;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tree(fx: &Fx) {
    let mut rng = Rng(1616);
    fx.dir("", 0o755)
        .file("empty", 0o644, "")
        .file("small", 0o600, "a few bytes")
        .file("d/medium", 0o644, rng.bytes(200_000))
        .file("d/e/large", 0o644, rng.bytes(20 << 20))
        .symlink("link", "small");
}

/// Copies with --verify are whole and equal, on every engine, in cp mode
/// and sync mode; each regular file with data was read back from the device
/// (strace counts one `O_DIRECT` open per such file).
#[test]
fn verified_copies_are_complete() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    tree(&Fx::new(t.join("src")));
    let strace = has_command("strace");
    if !strace {
        skip("--verify: strace is not installed: the fdatasync count is not checked");
    }
    for engine in engines() {
        for mode in [&["-a", "--verify"][..], &["-a", "--sync", "--verify"]] {
            let dst = format!("dst-{engine}-{}", mode.len());
            let ctx = format!("[{engine}] {mode:?}");
            let mut args: Vec<String> = vec![];
            if strace {
                args.extend(["-f", "-qq", "-e", "trace=openat", "-o"].map(String::from));
                args.push(t.join(format!("{dst}.strace")).display().to_string());
                args.push(BIN.to_string());
            }
            args.extend(engine_args(engine).into_iter().map(String::from));
            args.extend(mode.iter().map(|s| s.to_string()));
            args.extend(["-T".into(), "src".into(), dst.clone()]);
            let program = if strace { "strace" } else { BIN };
            let out = Command::new(program)
                .args(&args)
                .current_dir(t)
                .output()
                .expect("run");
            assert_eq!(out.status.code(), Some(0), "{ctx}: {}", show(&out.stderr));
            assert_snapshots_eq(
                &ctx,
                &snapshot(&t.join(&dst)),
                &snapshot(&t.join("src")),
                "copy",
                "source",
            );
            if strace {
                let log = fs::read_to_string(t.join(format!("{dst}.strace"))).expect("strace log");
                let read_back = log.lines().filter(|l| l.contains("O_DIRECT")).count();
                // small, medium, large (the empty file has nothing to read back).
                assert!(read_back >= 3, "{ctx}: {read_back} direct opens:\n{log}");
            }
        }
    }
}

/// Run `uring-cp ENGINE ARGS` in `cwd` held for 1 s at the first `pread64` of
/// `source` (only the verification reads it so: after the copy is written,
/// before it is read back); meanwhile wait for a file
/// named by `target` (given the directory's entries) to reach `size` bytes
/// and flip a byte in it. Returns the run's outcome and whether a byte was
/// flipped.
fn corrupt_during(
    engine: &str,
    args: &[&str],
    cwd: &Path,
    source: &Path,
    dir: &Path,
    target: impl Fn(&str) -> bool,
    size: u64,
) -> (std::process::Output, bool) {
    let mut cmd = Command::new("strace");
    cmd.args([
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "-P",
        source.to_str().expect("utf-8 path"),
        "-e",
        "trace=pread64",
        "-e",
        "inject=pread64:delay_enter=1000000:when=1",
        BIN,
    ]);
    cmd.args(engine_args(engine)).args(args).current_dir(cwd);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strace");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut flipped = false;
    while !flipped && Instant::now() < deadline {
        let full: Option<PathBuf> = fs::read_dir(dir).ok().and_then(|rd| {
            rd.filter_map(Result::ok)
                .find(|e| {
                    target(&e.file_name().to_string_lossy())
                        && e.metadata().is_ok_and(|m| m.len() == size)
                })
                .map(|e| e.path())
        });
        match full {
            Some(p) => {
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .expect("open the copy");
                f.seek(SeekFrom::Start(100)).expect("seek");
                f.write_all(b"\xff\x00\xff").expect("write");
                flipped = true;
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    (child.wait_with_output().expect("wait"), flipped)
}

#[test]
fn a_copy_corrupted_before_the_read_back_fails() {
    if !has_command("strace") {
        skip("--verify corruption: strace is not installed (.ci/run installs it)");
        return;
    }
    let data = Rng(7).bytes(1 << 20);
    for engine in engines() {
        // cp mode: a new file; the corrupt copy is removed.
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = tmp.path();
        fs::write(t.join("f"), &data).expect("write");
        let (out, flipped) = corrupt_during(
            engine,
            &["--verify", "f", "g"],
            t,
            &t.join("f"),
            t,
            |n| n == "g",
            data.len() as u64,
        );
        let ctx = format!("[{engine}] cp mode");
        assert!(
            flipped,
            "{ctx}: the copy never appeared: {}",
            show(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{ctx}: {}", show(&out.stderr));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("verification of 'g' failed: the copy read back differs from 'f'"),
            "{ctx}: {err}"
        );
        assert!(
            !t.join("g").exists(),
            "{ctx}: the corrupt copy was left under its name"
        );
        assert_eq!(
            fs::read(t.join("f")).expect("read source"),
            data,
            "{ctx}: the source changed"
        );

        // sync mode: a changed file goes through a temporary name; the old
        // destination stays as it was.
        fs::create_dir(t.join("src")).expect("mkdir");
        fs::create_dir(t.join("dst")).expect("mkdir");
        fs::write(t.join("src/f"), &data).expect("write");
        fs::write(t.join("dst/f"), b"the old version").expect("write");
        let (out, flipped) = corrupt_during(
            engine,
            &["-a", "--sync", "--verify", "-T", "src", "dst"],
            t,
            &t.join("src/f"),
            &t.join("dst"),
            |n| n.starts_with(".~ucp.f."),
            data.len() as u64,
        );
        let ctx = format!("[{engine}] sync mode");
        assert!(
            flipped,
            "{ctx}: the temporary copy never appeared: {}",
            show(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{ctx}: {}", show(&out.stderr));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("verification of 'dst/f' failed: the copy read back differs from 'src/f'"),
            "{ctx}: {err}"
        );
        assert_eq!(
            fs::read(t.join("dst/f")).expect("read"),
            b"the old version",
            "{ctx}"
        );
        let left: Vec<_> = fs::read_dir(t.join("dst"))
            .expect("ls")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "{ctx}: temporaries left: {left:?}");
    }
}
