//! SIGINT and SIGTERM in the middle of a copy: the run stops within a second,
//! exits with 128 + the signal, says so, and leaves no partly written file:
//! every file at the destination is complete, on every engine.

mod common;

use common::*;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A 4 GiB file (seconds of copying) and 500 small files. The big file is
/// allocated, not sparse (a sparse one is copied hole by hole in no time):
/// its blocks are reserved with fallocate, which reads back as zeros without
/// any disk I/O. Returns false if the filesystem cannot do that.
fn source(root: &Path) -> bool {
    let src = root.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let big = std::fs::File::create(src.join("big")).unwrap();
    // SAFETY: fallocate on a descriptor we own.
    if unsafe { libc::fallocate(big.as_raw_fd(), 0, 0, 4 << 30) } != 0 {
        return false;
    }
    std::os::unix::fs::FileExt::write_at(&big, b"head", 0).unwrap();
    for i in 0..500 {
        std::fs::write(src.join(format!("sub/f{i}")), format!("file {i}\n")).unwrap();
    }
    true
}

#[test]
fn a_signal_stops_the_copy_promptly_and_leaves_only_whole_files() {
    let tmp = tempfile::tempdir().unwrap();
    if !source(tmp.path()) {
        skip("cannot fallocate a 4 GiB source file here");
        return;
    }
    for engine in engines() {
        for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
            let dst = tmp.path().join(format!("dst-{engine}-{name}"));
            let mut child = Command::new(BIN)
                .args(["--engine", engine, "-r", "src"])
                .arg(&dst)
                .current_dir(tmp.path())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // Wait until it is copying, then a little more.
            let t = Instant::now();
            while !dst.exists() && t.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(200));
            let sent = Instant::now();
            // SAFETY: kill(2) on our own child's pid.
            assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
            let out = loop {
                if let Some(_status) = child.try_wait().unwrap() {
                    break child.wait_with_output().unwrap();
                }
                if sent.elapsed() > Duration::from_secs(20) {
                    let _ = child.kill();
                    panic!("[{engine} {name}] still running 20 s after the signal");
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            let took = sent.elapsed();
            let err = String::from_utf8_lossy(&out.stderr);
            let ctx = format!(
                "[{engine} {name}] exit {:?} after {took:?}: {err}",
                out.status
            );
            assert_eq!(out.status.code(), Some(128 + sig), "{ctx}");
            assert!(
                took < Duration::from_secs(1),
                "{ctx}: not stopped within a second"
            );
            assert!(
                err.starts_with(&format!("uring-cp: interrupted by {name}: "))
                    && err.lines().count() == 1,
                "{ctx}"
            );
            // Nothing half-written: the big file was being copied, so it is gone;
            // every small file there is whole.
            assert!(!dst.join("big").exists(), "{ctx}: partial big file left");
            if let Ok(entries) = std::fs::read_dir(dst.join("sub")) {
                for e in entries {
                    let e = e.unwrap();
                    let want =
                        std::fs::read(tmp.path().join("src/sub").join(e.file_name())).unwrap();
                    assert_eq!(
                        std::fs::read(e.path()).unwrap(),
                        want,
                        "{ctx}: {:?}",
                        e.path()
                    );
                }
            }
            notice(&format!(
                "NOTE {engine} {name}: stopped {took:?} after the signal"
            ));
            let _ = std::fs::remove_dir_all(&dst);
        }
    }
}
