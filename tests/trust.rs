//! Regression tests for the ways a copy could lose data or exit 0 over a wrong
//! copy, each found by the adversarial harness or by reading the code, each
//! pinned with the fault that showed it: a delayed or failing system call
//! (strace's `-e inject=`), a source that changes mid-copy, a hostile
//! destination. Every engine runs each of them.

mod common;

use common::{BIN, engines, has_command, is_root, skip};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a traced run printed and how it ended.
struct Ran {
    code: Option<i32>,
    stderr: String,
    cmd: String,
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` -> {:?}: {}", self.cmd, self.code, self.stderr)
    }
}

fn strace_or_skip() -> bool {
    if !has_command("strace") {
        skip("strace is not installed (Debian package `strace`; .ci/run installs it)");
        return false;
    }
    true
}

fn uring_or_skip() -> bool {
    if let Err(why) = common::uring_status() {
        skip(&format!("io_uring engines: {why}"));
        return false;
    }
    true
}

/// Run uring-cp `args` under `strace -f` with `injections` (each an
/// `-e inject=` value), calling `during` once it started; at most 60 s.
fn traced<A: AsRef<std::ffi::OsStr>>(
    injections: &[&str],
    args: &[A],
    during: impl FnOnce(),
) -> Ran {
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-o", "/dev/null"]);
    let mut line = String::from("strace -f");
    for i in injections {
        cmd.arg("-e").arg(format!("inject={i}"));
        line += &format!(" -e inject={i}");
    }
    cmd.arg(BIN).args(args);
    line += " uring-cp";
    for a in args {
        line += &format!(" {}", a.as_ref().to_string_lossy());
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strace");
    let (_out, err) = common::read_outputs(&mut child);
    during();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{line}: still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ran {
        code: status.code(),
        stderr: String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned(),
        cmd: line,
    }
}

fn engine_args(engine: &str) -> Vec<OsString> {
    common::engine_args(engine)
        .into_iter()
        .map(OsString::from)
        .collect()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[1] ^ seed)
        .collect()
}

/// The filesystem type of `path` (`stat -f`).
fn fs_type(path: &Path) -> String {
    let out = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(path)
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Defect: sendfile wrote at the destination's file position, so when a
/// change of the source restarted the copy after `ftruncate(out, 0)`, the
/// data landed after a run of zeros, exit 0. Every range now has explicit
/// offsets; the copy is whole whether the change is seen or not.
#[test]
fn a_source_touched_mid_copy_is_never_copied_after_zeros() {
    if !strace_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let data = pattern(2 << 20, 7);
    std::fs::write(&src, &data).unwrap();
    // Same filesystem without copy_file_range, and, as root, another filesystem.
    let tmpfs = common::mount::Mount::tmpfs(&tmp.path().join("tmpfs"), "64m");
    let mut dsts = vec![(tmp.path().join("dst"), vec!["--reflink=never"])];
    match &tmpfs {
        Ok(fs) => dsts.push((fs.path.join("dst"), vec![])),
        Err(why) => skip(&format!("no tmpfs destination: {why}")),
    }
    for engine in engines() {
        for (dst, extra) in &dsts {
            for sync in [false, true] {
                let _ = std::fs::remove_file(dst);
                let old = b"an older copy".to_vec();
                if sync {
                    std::fs::write(dst, &old).unwrap();
                }
                let mut args = engine_args(engine);
                args.extend(extra.iter().map(OsString::from));
                if sync {
                    args.extend(["-a".into(), "--sync".into()]);
                }
                args.extend([src.clone().into(), dst.clone().into()]);
                let ran = traced(&["sendfile:delay_enter=400000:when=1"], &args, || {
                    std::thread::sleep(Duration::from_millis(150));
                    let f = std::fs::File::options().write(true).open(&src).unwrap();
                    f.set_modified(std::time::SystemTime::now()).unwrap();
                });
                assert_eq!(ran.code, Some(0), "{ran}");
                let copy = std::fs::read(dst).unwrap();
                assert!(
                    copy == data,
                    "{ran}: the copy differs from the source ({} bytes)",
                    copy.len()
                );
            }
        }
    }
}

/// Defect: a failed write removed the destination it could not write, even
/// one the user had: a device node, a symlink to one, a symlink to a pipe.
/// GNU cp keeps them, and so must we; the data reaches the pipe.
#[test]
fn a_failed_write_keeps_destinations_the_run_did_not_create() {
    if !is_root() {
        skip("mknod of /dev/full's twin needs root");
        return;
    }
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(d.join("f"), "hello\n").unwrap();
        let st = Command::new("mknod")
            .arg(d.join("full"))
            .args(["c", "1", "7"])
            .status();
        assert!(st.is_ok_and(|s| s.success()));
        std::os::unix::fs::symlink("/dev/full", d.join("link")).unwrap();
        std::os::unix::fs::symlink("/proc/self/fd/1", d.join("out")).unwrap();
        for (dst, gnu_code) in [("full", 1), ("link", 1), ("out", 0)] {
            let run = |prog: &str, extra: &[&str]| {
                Command::new(prog)
                    .args(extra)
                    .args(["f", dst])
                    .current_dir(d)
                    .stdout(Stdio::piped())
                    .output()
                    .unwrap()
            };
            let gnu = run(common::gnu_cp(), &[]);
            let ours = run(BIN, &["--engine", engine]);
            let msg = String::from_utf8_lossy(&ours.stderr);
            assert_eq!(gnu.status.code(), Some(gnu_code), "cp f {dst}");
            assert_eq!(
                ours.status.code(),
                gnu.status.code(),
                "[{engine}] f -> {dst}: {msg}"
            );
            assert_eq!(ours.stdout, gnu.stdout, "[{engine}] f -> {dst}");
            if gnu_code != 0 {
                assert!(
                    msg.contains(&format!("error writing '{dst}'")),
                    "[{engine}] {msg}"
                );
            }
        }
        assert!(
            std::fs::symlink_metadata(d.join("full"))
                .unwrap()
                .file_type()
                .is_char_device()
        );
        for link in ["link", "out"] {
            assert!(
                std::fs::symlink_metadata(d.join(link))
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
        }
    }
}

/// An existing regular file that a failed write truncated stays (cp's rule:
/// it is rewritten in place, keeping its inode); the error names it.
#[test]
fn a_failed_write_into_an_existing_file_does_not_remove_it() {
    if !strace_or_skip() {
        return;
    }
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        std::fs::write(&src, pattern(100_000, 1)).unwrap();
        std::fs::write(&dst, "the user's").unwrap();
        let ino = std::fs::metadata(&dst).unwrap().ino();
        let mut args = engine_args(engine);
        args.extend([src.into(), dst.clone().into()]);
        let ran = traced(
            &["copy_file_range,pwrite64,sendfile:error=EIO"],
            &args,
            || {},
        );
        // uring-chains writes through its ring, which strace cannot fail.
        if ran.code != Some(0) {
            assert_eq!(ran.code, Some(1), "{ran}");
            assert!(
                ran.stderr.contains("error writing") && ran.stderr.contains("/dst"),
                "{ran}"
            );
        }
        assert_eq!(
            std::fs::metadata(&dst).unwrap().ino(),
            ino,
            "[{engine}] {ran}"
        );
    }
}

/// -b: a copy that fails leaves the destination as it was and makes no
/// backup (cp renames the destination aside first, so the name is missing
/// after such a failure). The write fails, or the final rename over it.
#[test]
fn a_failed_copy_with_backup_keeps_the_destination_in_place() {
    if !strace_or_skip() {
        return;
    }
    for engine in engines() {
        for fault in [
            "copy_file_range,pwrite64,sendfile:error=EIO",
            // The second rename: the first gives the old file its backup name.
            "rename,renameat,renameat2:error=EIO:when=2",
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
            std::fs::write(&src, pattern(100_000, 1)).unwrap();
            std::fs::write(&dst, "the user's").unwrap();
            let ino = std::fs::metadata(&dst).unwrap().ino();
            let mut args = engine_args(engine);
            args.extend(["-b".into(), src.into(), dst.clone().into()]);
            let ran = traced(&[fault], &args, || {});
            let ctx = format!("[{engine}, {fault}] {ran}");
            // uring-chains writes through its ring, which strace cannot fail.
            if ran.code == Some(0) {
                assert!(
                    engine == "uring-chains" && fault.starts_with("copy_file_range"),
                    "{ctx}"
                );
                continue;
            }
            assert_eq!(ran.code, Some(1), "{ctx}");
            assert_eq!(std::fs::metadata(&dst).unwrap().ino(), ino, "{ctx}");
            assert_eq!(std::fs::read(&dst).unwrap(), b"the user's", "{ctx}");
            if fault.starts_with("copy_file_range") {
                assert!(
                    !tmp.path().join("dst~").exists(),
                    "{ctx}: a backup was made"
                );
            }
            let names: Vec<_> = std::fs::read_dir(tmp.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| !["src", "dst", "dst~"].contains(&n.as_str()))
                .collect();
            assert!(names.is_empty(), "{ctx}: left behind: {names:?}");
        }
    }
}

/// Defect: copy_file_range's failures were all reported as write errors,
/// even when the source could not be read.
#[test]
fn a_source_that_cannot_be_read_is_reported_as_a_read_error() {
    if !strace_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::write(&src, pattern(3 << 20, 2)).unwrap();
    for extra in [&[][..], &["--reflink=never"][..]] {
        let dst = tmp.path().join("dst");
        let _ = std::fs::remove_file(&dst);
        let mut args = engine_args("portable");
        args.extend(extra.iter().map(OsString::from));
        args.extend([src.clone().into(), dst.clone().into()]);
        let ran = traced(
            // (The dynamic loader makes the first two pread64 calls.)
            &[
                "copy_file_range,sendfile:error=EIO",
                "pread64:error=EIO:when=3+",
            ],
            &args,
            || {},
        );
        assert_eq!(ran.code, Some(1), "{ran}");
        assert!(
            ran.stderr.contains("error reading") && ran.stderr.contains("/src"),
            "{ran}"
        );
        assert!(!dst.exists(), "{ran}: the partial copy stayed");
    }
}

/// A partial file that cannot be removed after a failure is reported, not
/// left silently.
#[test]
fn a_partial_file_that_cannot_be_removed_is_reported() {
    if !strace_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::write(&src, pattern(100_000, 3)).unwrap();
    let dst = tmp.path().join("dst");
    let mut args = engine_args("portable");
    args.extend([src.into(), dst.into()]);
    let ran = traced(
        &[
            "copy_file_range,sendfile,pwrite64:error=ENOSPC",
            "unlinkat:error=EPERM",
        ],
        &args,
        || {},
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stderr.contains("cannot remove") && ran.stderr.contains("/dst"),
        "{ran}"
    );
}

/// Defect: uring-chains sized a copy from its STATX and never looked again,
/// so a source rewritten while its chunks streamed became a mix of old and
/// new bytes, exit 0. It now re-stats the source after the reads.
#[test]
fn a_source_rewritten_mid_copy_is_never_a_mix() {
    if !strace_or_skip() {
        return;
    }
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        let (old, new) = (vec![b'A'; 1 << 20], vec![b'B'; 1 << 20]);
        std::fs::write(&src, &old).unwrap();
        // Small buffers: the file streams in 32 KiB chunks, four in flight.
        let mut args = engine_args(engine);
        args.extend([
            "--buffer-mem".into(),
            "256K".into(),
            "--reflink=never".into(),
        ]);
        args.extend([src.clone().into(), dst.clone().into()]);
        // Every submission to the ring and every data call waits 100 ms.
        let delay = "io_uring_enter,copy_file_range,sendfile,pread64:delay_enter=100000:when=3+";
        let ran = traced(&[delay], &args, || {
            // Rewrite it once part of it is copied.
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10)
                && std::fs::metadata(&dst).map_or(true, |m| m.len() < 64 << 10)
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            let mut f = std::fs::File::options().write(true).open(&src).unwrap();
            f.write_all(&new).unwrap();
        });
        if ran.code == Some(0) {
            let copy = std::fs::read(&dst).unwrap();
            assert!(
                copy == old || copy == new,
                "[{engine}] {ran}: a mix of old and new bytes"
            );
        } else {
            assert!(ran.stderr.contains("/src"), "{ran}");
        }
    }
}

/// Defect: one refusal of copy_file_range (between two filesystems) turned
/// it off for the rest of the run; it is now remembered per device pair.
#[test]
fn copy_file_range_refused_between_two_filesystems_is_still_used_within_one() {
    if !strace_or_skip() {
        return;
    }
    let shm = Path::new("/dev/shm");
    let tmp = tempfile::tempdir().unwrap();
    let other = match tempfile::tempdir_in(shm) {
        Ok(t) if fs_type(shm) != fs_type(tmp.path()) => t,
        _ => {
            skip("no second filesystem at /dev/shm");
            return;
        }
    };
    std::fs::write(other.path().join("first"), pattern(50_000, 4)).unwrap();
    std::fs::create_dir(tmp.path().join("tree")).unwrap();
    for i in 0..20 {
        std::fs::write(tmp.path().join(format!("tree/f{i}")), pattern(50_000, i)).unwrap();
    }
    std::fs::create_dir(tmp.path().join("dst")).unwrap();
    let log = tmp.path().join("strace.log");
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=copy_file_range", "-o"])
        .arg(&log)
        .args([BIN, "--engine", "portable", "-r"])
        .arg(other.path().join("first"))
        .arg(tmp.path().join("tree"))
        .arg(tmp.path().join("dst"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(&log).unwrap();
    let worked = log
        .lines()
        .filter(|l| l.contains("copy_file_range(") && l.trim_end().ends_with("= 50000"))
        .count();
    assert!(
        worked >= 19,
        "copy_file_range copied {worked} of the 20 files on one filesystem:\n{log}"
    );
}

/// Defect: when io_uring_setup gave a ring smaller than asked (locked
/// memory), the default engine still filled it as if it were whole:
/// "submission queue overflow", files reported failed.
#[test]
fn a_ring_smaller_than_asked_still_copies_everything() {
    if !strace_or_skip() || !uring_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("src")).unwrap();
    for i in 0..300 {
        std::fs::write(
            tmp.path().join(format!("src/f{i}")),
            pattern(2000 + i, i as u8),
        )
        .unwrap();
    }
    let dst = tmp.path().join("dst");
    let args: Vec<OsString> = ["--engine", "uring", "--ring-reads", "always", "-r"]
        .iter()
        .map(OsString::from)
        .chain([tmp.path().join("src").into(), dst.clone().into()])
        .collect();
    // Each thread's first ring is refused at full size, as a locked-memory
    // limit would (strace counts calls per thread): the workers get rings of
    // half the size they asked for.
    let ran = traced(&["io_uring_setup:error=ENOMEM:when=1"], &args, || {});
    assert_eq!(ran.code, Some(0), "{ran}");
    for i in 0..300 {
        let name = format!("f{i}");
        assert_eq!(
            std::fs::read(dst.join(&name)).unwrap(),
            std::fs::read(tmp.path().join("src").join(&name)).unwrap(),
            "{name}"
        );
    }
}

/// Defect: on a ring failure uring-chains freed the state of operations
/// still in flight (a STATX could write into freed memory) and reported
/// every one as "cannot create", without the errno. Now a failing
/// io_uring_enter is retried, and one that keeps failing leaves what is in
/// flight leaked, redoes what only read, and reports the rest with the error.
#[test]
fn a_failing_ring_never_loses_or_corrupts_a_file() {
    if !strace_or_skip() || !uring_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    for d in 0..4 {
        std::fs::create_dir_all(src.join(format!("d{d}"))).unwrap();
        for i in 0..40 {
            let len = [0, 3000, 70_000, 1_500_000][i % 4];
            std::fs::write(
                src.join(format!("d{d}/f{i}")),
                pattern(len, (d * 40 + i) as u8),
            )
            .unwrap();
        }
    }
    for engine in ["uring-chains", common::RING_ALWAYS] {
        for (errno, when) in [("EBADF", "3"), ("EFAULT", "5+"), ("EBADF", "4+")] {
            let dst = tmp
                .path()
                .join(format!("dst-{engine}-{errno}-{}", when.replace('+', "p")));
            let mut args = engine_args(engine);
            args.extend(["-r".into(), src.clone().into(), dst.clone().into()]);
            let inject = format!("io_uring_enter:error={errno}:when={when}");
            let ran = traced(&[&inject], &args, || {});
            assert!(matches!(ran.code, Some(0 | 1)), "{ran}");
            let mut missing = 0;
            for d in 0..4 {
                for i in 0..40 {
                    let rel = format!("d{d}/f{i}");
                    let want = std::fs::read(src.join(&rel)).unwrap();
                    match std::fs::read(dst.join(&rel)) {
                        Ok(got) if got == want => {}
                        Ok(_) if ran.stderr.contains(&rel) => missing += 1,
                        Ok(got) => panic!(
                            "{ran}: {rel} has wrong bytes ({} of {})",
                            got.len(),
                            want.len()
                        ),
                        Err(_) => {
                            assert!(
                                ran.stderr.contains(&rel),
                                "{ran}: {rel} missing, not reported"
                            );
                            missing += 1;
                        }
                    }
                }
            }
            if missing > 0 {
                assert_eq!(ran.code, Some(1), "{ran}");
                assert!(ran.stderr.contains("io_uring failed"), "{ran}");
            }
            if !when.ends_with('+') {
                // One failed call is retried: nothing is lost.
                assert_eq!((ran.code, missing), (Some(0), 0), "{ran}");
            }
        }
    }
}

/// GNU's tests/cp/abuse.sh as the script runs it: both iterations in one
/// directory, so the second finds `c/1` from the first. There uring-cp
/// took `a/1` and `c/1` (two symlinks to `../t`) for the same file, skipped
/// it, and wrote `b/1` through the old `c/1` into `t`, outside `c`.
#[test]
fn abuse_sh_never_writes_through_a_just_created_symlink() {
    let mut programs = vec![(common::gnu_cp().to_string(), Vec::<String>::new())];
    for engine in engines() {
        programs.push((BIN.to_string(), vec!["--engine".into(), engine.into()]));
    }
    for (prog, extra) in programs {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for sub in ["a", "b", "c"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        std::os::unix::fs::symlink("../t", d.join("a/1")).unwrap();
        std::fs::write(d.join("b/1"), "payload\n").unwrap();
        for existing in [false, true] {
            if existing {
                std::fs::write(d.join("t"), "i\n").unwrap();
            }
            let out = Command::new(&prog)
                .args(&extra)
                .args(["-dR", "a/1", "b/1", "c"])
                .current_dir(d)
                .output()
                .unwrap();
            let msg = String::from_utf8_lossy(&out.stderr);
            let ctx = format!("{prog} {extra:?} (t existing: {existing})");
            assert_eq!(out.status.code(), Some(1), "{ctx}: {msg}");
            assert!(
                msg.lines().count() == 1
                    && msg.contains("will not copy 'b/1' through just-created symlink 'c/1'"),
                "{ctx}: {msg}"
            );
            match existing {
                false => assert!(!d.join("t").exists(), "{ctx}: t was created"),
                true => assert_eq!(std::fs::read(d.join("t")).unwrap(), b"i\n", "{ctx}"),
            }
        }
    }
}

/// A symlink inside the destination tree is replaced by the file, never
/// followed; the replacement used to remove it first, so a write that then
/// failed lost it. The file is now written under a temporary name and
/// renamed over the symlink once complete, in cp and in sync mode.
#[test]
fn a_failed_write_keeps_a_destination_symlink_it_was_to_replace() {
    if !strace_or_skip() {
        return;
    }
    for engine in engines() {
        for sync in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let d = tmp.path();
            std::fs::create_dir_all(d.join("src")).unwrap();
            std::fs::create_dir_all(d.join("dst")).unwrap();
            std::fs::write(d.join("src/f"), pattern(100_000, 9)).unwrap();
            std::fs::write(d.join("outside"), "the user's").unwrap();
            std::os::unix::fs::symlink("../outside", d.join("dst/f")).unwrap();
            let mut args = engine_args(engine);
            args.extend(match sync {
                true => ["-a", "--sync"].map(OsString::from).to_vec(),
                false => vec![OsString::from("-r")],
            });
            args.extend(["-T".into(), d.join("src").into(), d.join("dst").into()]);
            let ran = traced(
                &["copy_file_range,sendfile,pwrite64:error=EIO"],
                &args,
                || {},
            );
            let ctx = format!("[{engine} sync={sync}] {ran}");
            assert_eq!(ran.code, Some(1), "{ctx}");
            assert_eq!(
                std::fs::read_link(d.join("dst/f")).ok(),
                Some("../outside".into()),
                "{ctx}: the symlink is gone"
            );
            assert_eq!(
                std::fs::read(d.join("outside")).unwrap(),
                b"the user's",
                "{ctx}"
            );
            let names: Vec<_> = std::fs::read_dir(d.join("dst")).unwrap().collect();
            assert_eq!(names.len(), 1, "{ctx}: a temporary was left");
            // Without the fault: the file replaces the symlink.
            let out = Command::new(BIN).args(&args).output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{ctx}");
            assert_eq!(
                std::fs::read(d.join("dst/f")).unwrap(),
                std::fs::read(d.join("src/f")).unwrap()
            );
            assert_eq!(
                std::fs::read(d.join("outside")).unwrap(),
                b"the user's",
                "{ctx}"
            );
        }
    }
}

/// The default engine reads small files through its ring and stats them
/// after the read. A source rewritten in place between the read and that
/// stat kept its size, so the old bytes were written with the new status:
/// under -a the copy got the new mtime over the old content, and a later
/// sync's quick check (size and mtime) would never fix it. A status change
/// from the time of the read on now sends the file to the synchronous copy.
#[test]
fn a_source_rewritten_after_its_ring_read_is_not_kept_with_the_new_times() {
    if !strace_or_skip() || !uring_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
    let (old, new) = (pattern(48 << 10, 1), pattern(48 << 10, 2));
    std::fs::write(&src, &old).unwrap();
    let _ = std::fs::read(&src); // cached: the ring reads it inline
    let args: Vec<OsString> = ["--engine", "uring", "--ring-reads", "always", "-a"]
        .map(OsString::from)
        .into_iter()
        .chain([src.clone().into(), dst.clone().into()])
        .collect();
    // Each worker's second io_uring_enter returns 300 ms late: it submits
    // (and completes, inline) the read of the cached file.
    // (strace counts per thread; a worker's first is its ring's NOP check.)
    let ran = traced(&["io_uring_enter:delay_exit=300000:when=2"], &args, || {
        std::thread::sleep(Duration::from_millis(150));
        let mut f = std::fs::File::options().write(true).open(&src).unwrap();
        f.write_all(&new).unwrap();
    });
    assert_eq!(ran.code, Some(0), "{ran}");
    let (s, d) = (
        std::fs::metadata(&src).unwrap(),
        std::fs::metadata(&dst).unwrap(),
    );
    let copy = std::fs::read(&dst).unwrap();
    assert!(copy == old || copy == new, "{ran}: a mix");
    if (d.mtime(), d.mtime_nsec()) == (s.mtime(), s.mtime_nsec()) {
        assert!(
            copy == new,
            "{ran}: the old bytes with the new modification time"
        );
    }
}
