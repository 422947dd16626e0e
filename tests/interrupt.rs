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

/// Contents that tell old from new and show any mix: every 4 KiB block
/// starts with its own header (version, file, block number).
fn versioned(version: &str, file: usize, size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size);
    let mut block = 0;
    while v.len() < size {
        let head = format!("{version} file {file} block {block}\n");
        let mut b = head.into_bytes();
        b.resize(4096, version.as_bytes()[0]);
        v.extend_from_slice(&b);
        block += 1;
    }
    v.truncate(size);
    v
}

#[test]
fn sigkill_during_a_sync_leaves_every_file_old_or_new() {
    const FILES: usize = 6;
    const NEW: usize = 8 << 20;
    const OLD: usize = 3 << 20;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let new: Vec<Vec<u8>> = (0..FILES).map(|i| versioned("NEW", i, NEW)).collect();
    let old: Vec<Vec<u8>> = (0..FILES).map(|i| versioned("old", i, OLD)).collect();
    for (i, data) in new.iter().enumerate() {
        std::fs::write(src.join(format!("f{i}")), data).unwrap();
    }
    let (mut killed_mid_copy, mut temps_left) = (0, 0);
    for engine in engines() {
        let dst = tmp.path().join(format!("dst-{engine}"));
        // Kill points: as soon as the first temporary file appears, then
        // after fixed delays from the start.
        for point in ["first temporary", "0 ms", "3 ms", "10 ms", "25 ms", "60 ms"] {
            let ctx = format!("[{engine}] SIGKILL at {point}");
            let _ = std::fs::remove_dir_all(&dst);
            std::fs::create_dir_all(&dst).unwrap();
            for (i, data) in old.iter().enumerate() {
                std::fs::write(dst.join(format!("f{i}")), data).unwrap();
            }
            let mut child = Command::new(BIN)
                .args(["--engine", engine, "-a", "--sync", "-T", "src"])
                .arg(&dst)
                .current_dir(tmp.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let start = Instant::now();
            match point.strip_suffix(" ms") {
                Some(ms) => std::thread::sleep(Duration::from_millis(ms.parse().unwrap())),
                None => {
                    while start.elapsed() < Duration::from_secs(5)
                        && !std::fs::read_dir(&dst).unwrap().any(|e| {
                            e.unwrap()
                                .file_name()
                                .as_encoded_bytes()
                                .starts_with(b".~ucp.")
                        })
                    {
                        std::thread::yield_now();
                    }
                }
            }
            let _ = child.kill(); // SIGKILL
            let status = child.wait().unwrap();
            if status.code().is_none() {
                killed_mid_copy += 1;
            }
            // Every file is complete: old or new, never a mix.
            for (i, (old, new)) in old.iter().zip(&new).enumerate() {
                let got = std::fs::read(dst.join(format!("f{i}"))).unwrap();
                assert!(
                    got == *old || got == *new,
                    "{ctx}: f{i} is neither the old nor the new content ({} bytes)",
                    got.len()
                );
            }
            temps_left += std::fs::read_dir(&dst)
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .as_encoded_bytes()
                        .starts_with(b".~ucp.")
                })
                .count();
            // The next run finishes the job and leaves no temporary behind.
            let out = Command::new(BIN)
                .args(["--engine", engine, "-a", "--sync", "-T", "src"])
                .arg(&dst)
                .current_dir(tmp.path())
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{ctx}: {}", show(&out.stderr));
            let names: Vec<_> = std::fs::read_dir(&dst)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            assert_eq!(names.len(), FILES, "{ctx}: left behind: {names:?}");
            for (i, new) in new.iter().enumerate() {
                let got = std::fs::read(dst.join(format!("f{i}"))).unwrap();
                assert!(got == *new, "{ctx}: f{i}");
            }
        }
    }
    // The kills must have landed while copying, or the test proves nothing.
    notice(&format!(
        "{killed_mid_copy} runs were killed before they finished, leaving {temps_left} \
         temporaries for the next run to remove"
    ));
    assert!(killed_mid_copy > 0, "every run finished before its SIGKILL");
}
