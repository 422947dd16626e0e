//! Failures in the middle of a copy: the run goes on, reports each failure, and
//! never leaves a destination file with wrong bytes under its final name.

mod common;

use common::mount::Mount;
use common::{engines, skip};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_uring-cp");

#[test]
fn disk_full_leaves_no_partial_files() {
    if !common::is_root() {
        skip("mounting a small tmpfs needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    // 3 MiB of data for a 1 MiB filesystem: small files, one-buffer files, and
    // files streamed in several chunks.
    for i in 0..24u32 {
        let size = match i % 4 {
            0 => 3000,
            1 => 70_000,
            2 => 150_000,
            _ => 300_000,
        };
        let data: Vec<u8> = (0..size).map(|j| (j as u32 ^ i) as u8).collect();
        std::fs::write(src.join("d").join(format!("f{i:02}")), data).unwrap();
    }
    for engine in engines() {
        let fs = match Mount::tmpfs(&tmp.path().join(format!("full-{engine}")), "1m") {
            Ok(fs) => fs,
            Err(why) => {
                skip(&format!("no small filesystem: {why}"));
                return;
            }
        };
        let out = Command::new(BIN)
            .args(["--engine", engine, "--buffer-mem", "256K", "-r"])
            .arg(&src)
            .arg(fs.path.join("dst"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "[{engine}] {stderr}");
        assert!(
            stderr.contains("No space left on device") && stderr.contains("/dst/d/f"),
            "[{engine}] the error must name the file and the reason: {stderr}"
        );
        // The run stops at the first file that does not fit, instead of
        // failing each remaining file the same way.
        assert_eq!(
            stderr.matches("No space left on device").count(),
            1,
            "[{engine}] {stderr}"
        );
        assert!(
            stderr.contains("stopped: no space left on the destination"),
            "[{engine}] {stderr}"
        );
        let mut kept = 0;
        for entry in std::fs::read_dir(fs.path.join("dst/d")).unwrap() {
            let entry = entry.unwrap();
            let copy = std::fs::read(entry.path()).unwrap();
            let orig = std::fs::read(src.join("d").join(entry.file_name())).unwrap();
            assert!(
                copy == orig,
                "[{engine}] {} has wrong bytes ({} of {})",
                entry.path().display(),
                copy.len(),
                orig.len()
            );
            kept += 1;
        }
        assert!(kept > 0 && kept < 24, "[{engine}] {kept} files kept");

        // Sync mode over older copies: a file is its old or its new content.
        let old = |i: u32| format!("old f{i:02}").into_bytes();
        std::fs::remove_dir_all(fs.path.join("dst")).unwrap();
        std::fs::create_dir_all(fs.path.join("dst/d")).unwrap();
        for i in 0..24u32 {
            std::fs::write(fs.path.join("dst/d").join(format!("f{i:02}")), old(i)).unwrap();
        }
        let out = Command::new(BIN)
            .args(["--engine", engine, "-a", "--sync", "-T"])
            .arg(&src)
            .arg(fs.path.join("dst"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "[{engine} sync] {stderr}");
        let mut new = 0;
        for i in 0..24u32 {
            let name = format!("f{i:02}");
            let copy = std::fs::read(fs.path.join("dst/d").join(&name)).unwrap();
            let orig = std::fs::read(src.join("d").join(&name)).unwrap();
            assert!(
                copy == orig || copy == old(i),
                "[{engine} sync] {name} is a mix"
            );
            new += usize::from(copy == orig);
        }
        assert!(
            new < 24,
            "[{engine} sync] everything fit: the test proves nothing"
        );
        let names = std::fs::read_dir(fs.path.join("dst/d")).unwrap().count();
        assert_eq!(names, 24, "[{engine} sync] temporaries left behind");
    }
}

/// Between filesystems copy_file_range is refused: large files then go
/// through sendfile, in one range per CPU at once. The bytes must be exact.
#[test]
fn large_files_across_filesystems() {
    if !common::is_root() {
        skip("mounting a tmpfs needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for (name, size) in [("a", (1 << 20) + 1), ("b", (17 << 20) + 3), ("c", 40 << 20)] {
        let data: Vec<u8> = (0..size as u64)
            .map(|j| ((j * 2654435761) >> 13) as u8)
            .collect();
        std::fs::write(src.join(name), data).unwrap();
    }
    for engine in engines() {
        let fs = match Mount::tmpfs(&tmp.path().join(format!("other-{engine}")), "128m") {
            Ok(fs) => fs,
            Err(why) => {
                skip(&format!("no small filesystem: {why}"));
                return;
            }
        };
        let out = Command::new(BIN)
            .args(["--engine", engine, "-r"])
            .arg(&src)
            .arg(fs.path.join("dst"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "[{engine}] {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for name in ["a", "b", "c"] {
            assert!(
                std::fs::read(src.join(name)).unwrap()
                    == std::fs::read(fs.path.join("dst").join(name)).unwrap(),
                "[{engine}] {name} differs"
            );
        }
    }
}

/// Pseudo-files report a size of 0 (/proc) or 4096 (/sys) whatever their
/// content: the copy must hold the real content, never a silent empty file.
#[test]
fn pseudo_files_copy_their_content() {
    let files = [
        "/proc/filesystems",
        "/proc/version",
        "/proc/sys/kernel/ostype",
        "/sys/devices/system/cpu/online",
    ];
    let present: Vec<&str> = files
        .iter()
        .copied()
        .filter(|f| std::fs::read(f).is_ok_and(|d| !d.is_empty()))
        .collect();
    if present.is_empty() {
        skip("no readable /proc or /sys files here");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // -a and --sparse=always too: /sys files have no blocks, so they look sparse.
    for extra in [&[][..], &["-a"][..], &["--sparse=always"][..]] {
        for engine in engines() {
            let dst = tmp.path().join(format!("{engine}{}", extra.join("")));
            std::fs::create_dir(&dst).unwrap();
            let out = Command::new(BIN)
                .args(["--engine", engine])
                .args(extra)
                .args(&present)
                .arg(&dst)
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "[{engine} {extra:?}] {}",
                String::from_utf8_lossy(&out.stderr)
            );
            for f in &present {
                let name = std::path::Path::new(f).file_name().unwrap();
                let copy = std::fs::read(dst.join(name)).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&copy),
                    String::from_utf8_lossy(&std::fs::read(f).unwrap()),
                    "[{engine} {extra:?}] {f}"
                );
            }
        }
    }
}

/// Files deleted while the copy runs (a live tree): each one the walk had
/// listed is reported with cp's message, the rest is copied whole, and when
/// nothing else failed the exit status is 24 (rsync's "vanished"), not 1.
#[test]
fn vanishing_sources_have_their_own_exit_status() {
    let content = |d: usize, f: usize| format!("dir {d} file {f}\n").repeat(1 + f % 7);
    for engine in engines() {
        let mut saw_vanished = false;
        for attempt in 0..5 {
            let tmp = tempfile::tempdir().unwrap();
            let src = tmp.path().join("src");
            for d in 0..20 {
                std::fs::create_dir_all(src.join(format!("d{d:02}"))).unwrap();
                for f in 0..300 {
                    std::fs::write(src.join(format!("d{d:02}/f{f}")), content(d, f)).unwrap();
                }
            }
            let child = Command::new(BIN)
                .args(["--engine", engine, "-r", "src", "dst"])
                .current_dir(tmp.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // Delete every file, last directories first, while it copies.
            for d in (0..20).rev() {
                for f in 0..300 {
                    let _ = std::fs::remove_file(src.join(format!("d{d:02}/f{f}")));
                }
            }
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = err.lines().collect();
            let ctx = format!("[{engine} attempt {attempt}] exit {:?}: {err}", out.status);
            for l in &lines {
                assert!(
                    l.starts_with("uring-cp: cannot ")
                        && l.ends_with(": No such file or directory"),
                    "{ctx}"
                );
            }
            let want = if lines.is_empty() { 0 } else { 24 };
            assert_eq!(out.status.code(), Some(want), "{ctx}");
            // Whatever was copied is whole.
            for d in 0..20 {
                let Ok(rd) = std::fs::read_dir(tmp.path().join(format!("dst/d{d:02}"))) else {
                    continue;
                };
                for e in rd {
                    let e = e.unwrap();
                    let f: usize = e.file_name().to_string_lossy()[1..].parse().unwrap();
                    assert_eq!(
                        std::fs::read_to_string(e.path()).unwrap(),
                        content(d, f),
                        "{ctx}"
                    );
                }
            }
            if want == 24 {
                common::notice(&format!(
                    "NOTE [{engine}] {} files vanished, exit 24",
                    lines.len()
                ));
                saw_vanished = true;
                break;
            }
        }
        assert!(
            saw_vanished,
            "[{engine}] no file vanished mid-copy in 5 attempts"
        );
    }
}

/// The two tests of changing sources run one at a time: each needs the
/// machine's two CPUs for its writer and the copy to overlap.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A source rewritten while it is copied (a writer thread keeps changing
/// it): the run fails for that file, says so, and leaves no mix of old and
/// new bytes: no file in cp mode, the old file in sync mode. The other
/// files are copied.
#[test]
fn a_source_that_keeps_changing_is_reported_not_mixed() {
    use std::os::unix::fs::FileExt;
    let _alone = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("calm"), "calm").unwrap();
    let size = 48u64 << 20;
    // Real data (a sparse file would be copied hole by hole in no time).
    let data: Vec<u8> = (0..size).map(|j| (j >> 9) as u8 | 1).collect();
    std::fs::write(src.join("busy"), data).unwrap();
    let busy = std::fs::OpenOptions::new()
        .write(true)
        .open(src.join("busy"))
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let busy = busy.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let off = (i * 7_340_033) % (size - 8);
                busy.write_at(&i.to_le_bytes(), off).unwrap();
                i += 1;
                std::thread::yield_now();
            }
        })
    };
    for engine in engines() {
        for sync in [false, true] {
            let dst = tmp.path().join(format!("dst-{engine}-{sync}"));
            let ctx = format!("[{engine}, sync={sync}]");
            // At the lowest priority, so that the writer, which shares the
            // two CPUs with it, is seldom held off for a whole copy. When it
            // is (other tests load the machine), one attempt sees no change
            // and the copy, a consistent snapshot, rightly succeeds: try again.
            let mut attempt = 0;
            let out = loop {
                attempt += 1;
                let _ = std::fs::remove_dir_all(&dst);
                let mut cmd = Command::new("nice");
                cmd.args(["-n", "19", BIN, "--engine", engine, "-a"]);
                if sync {
                    std::fs::create_dir_all(&dst).unwrap();
                    std::fs::write(dst.join("busy"), "the old copy").unwrap();
                    cmd.args(["--sync", "-T"]);
                }
                let out = cmd.arg(&src).arg(&dst).output().unwrap();
                if out.status.code() != Some(0) {
                    break out;
                }
                assert!(
                    attempt < 5,
                    "{ctx}: the writer never overlapped a copy in 5 attempts"
                );
                common::notice(&format!("{ctx}: attempt {attempt} saw no change; again"));
            };
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{ctx}: {stderr}");
            assert!(
                stderr.contains("/busy' changed while it was being copied"),
                "{ctx}: {stderr}"
            );
            assert_eq!(std::fs::read(dst.join("calm")).unwrap(), b"calm", "{ctx}");
            if sync {
                assert_eq!(
                    std::fs::read(dst.join("busy")).unwrap(),
                    b"the old copy",
                    "{ctx}"
                );
            } else {
                assert!(!dst.join("busy").exists(), "{ctx}: a mixed copy was kept");
            }
            let names: Vec<_> = std::fs::read_dir(&dst)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names.len(), if sync { 2 } else { 1 }, "{ctx}: {names:?}");
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
}

/// A source truncated once while it is copied: the copy is made again from
/// its new state, so the result is the old or the new content, never a mix.
#[test]
fn a_source_that_shrinks_once_is_copied_whole() {
    let _alone = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let full: Vec<u8> = (0..(64u32 << 20)).map(|j| (j >> 12) as u8).collect();
    let half = &full[..full.len() / 2];
    for engine in engines() {
        for delay_ms in [1, 5, 20] {
            std::fs::write(src.join("f"), &full).unwrap();
            let dst = tmp.path().join(format!("dst-{engine}-{delay_ms}"));
            let child = Command::new(BIN)
                .args(["--engine", engine, "-r"])
                .arg(&src)
                .arg(&dst)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            std::fs::OpenOptions::new()
                .write(true)
                .open(src.join("f"))
                .unwrap()
                .set_len(half.len() as u64)
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let ctx = format!("[{engine}, truncated after {delay_ms} ms]");
            assert_eq!(
                out.status.code(),
                Some(0),
                "{ctx}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let got = std::fs::read(dst.join("f")).unwrap();
            assert!(
                got == full || got == half,
                "{ctx}: neither the old nor the new content ({} bytes)",
                got.len()
            );
        }
    }
}

/// Clears the immutable flag it set when dropped (even when a test panics),
/// so that the temporary directory can be removed.
struct Immutable(Vec<std::path::PathBuf>);

impl Immutable {
    /// `chattr +i` on each path; the reason when the filesystem or the
    /// process cannot (not root, no chattr, a filesystem without the flag).
    fn set(paths: Vec<std::path::PathBuf>) -> Result<Immutable, String> {
        let mut guard = Immutable(Vec::new());
        for p in paths {
            let out = Command::new("chattr").arg("+i").arg(&p).output();
            match out {
                Ok(o) if o.status.success() => guard.0.push(p),
                Ok(o) => return Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
                Err(e) => return Err(format!("chattr: {e}")),
            }
        }
        Ok(guard)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(p).status();
        }
    }
}

/// A directory whose copy cannot be made (its parent in the destination is
/// immutable: even root's mkdir fails, inside the ring too) is reported
/// once, and nothing inside it is tried, as with cp: on every engine,
/// including the all-in-ring engine with one ring, which makes directories
/// in its ring while the walker lists them.
#[test]
fn a_directory_that_cannot_be_made_is_reported_once_like_cp() {
    if !common::is_root() {
        skip("the immutable flag needs root");
        return;
    }
    let build = |fx: &common::Fx| {
        fx.file("src/a/d/f", 0o644, b"f\n");
        fx.file("src/a/d/e/g", 0o644, b"g\n");
        fx.file("src/a/h", 0o644, b"h\n");
        fx.symlink("src/a/ld", "d");
        fx.file("src/b/x", 0o644, b"x\n");
        fx.dir("dst/a", 0o755);
    };
    let mut failures = common::Failures::default();
    for engine in common::engines_and_ring_reads() {
        for args in [["-r"], ["-rL"], ["-rl"], ["-a"]] {
            failures.check(|| {
                let env = common::TestEnv::new();
                env.build(build);
                let frozen = match Immutable::set(vec![env.ours.p("dst/a"), env.gnu.p("dst/a")]) {
                    Ok(f) => f,
                    Err(why) => {
                        skip(&format!("cannot make a directory immutable here: {why}"));
                        return;
                    }
                };
                let argv = [args[0], "src/.", "dst"];
                let (ours, gnu) = env.run_both(engine, &argv, &common::RunOpts::default());
                drop(frozen);
                let ctx = format!("[{argv:?}, engine={engine}]");
                assert_eq!(ours.code, Some(1), "{ctx}: {ours}");
                // d, and ld where the symlink is followed (-L, and -l as cp).
                let dirs = if matches!(args[0], "-rL" | "-rl") {
                    2
                } else {
                    1
                };
                let made = ours.stderr_str().matches("cannot create directory").count();
                assert_eq!(made, dirs, "{ctx}: once each: {ours}");
                common::compare_all(&ctx, &env, &ours, &gnu);
            });
        }
    }
    failures.finish();
}
