//! Copy-on-write filesystems (issue 17). Under the default `--reflink=auto`
//! a copy within one btrfs or xfs filesystem shares every block that GNU
//! cp's copy shares, on every engine (none reads a file it can clone); a
//! filesystem that cannot clone costs one failed attempt per pair of
//! devices, not one per file.

mod common;

use common::mount::LoopFs;
use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

/// A tree of the sizes that take different paths: empty, inline-sized (btrfs
/// keeps files under 2 KiB in its metadata), one block, what the default
/// engine's ring reads in one go (64 KiB) and just past it, a large file (16
/// MiB and up goes to the shared large-file queue), a sparse file.
fn build(fx: &Fx) {
    let mut rng = Rng(17);
    fx.dir(".", 0o755).dir("d/e", 0o755);
    for (i, size) in [
        0usize,
        1,
        100,
        2047,
        2048,
        4096,
        5000,
        65535,
        65536,
        70_000,
        1 << 20,
    ]
    .into_iter()
    .enumerate()
    {
        fx.file(format!("f{i}"), 0o644, rng.bytes(size));
        fx.file(format!("d/e/g{i}"), 0o600, rng.bytes(size));
    }
    fx.file("large", 0o644, rng.bytes(17 << 20));
    fx.sparse_file("sparse", 0o644, 8 << 20, &[(4 << 20, &rng.bytes(65536))]);
    fx.symlink("link", "f3");
}

/// Does FIEMAP (through `filefrag -v`) report a shared extent in `path`?
fn shares(path: &Path) -> bool {
    common::mount::shared_extents(path) > 0
}

/// Paths of the regular files under `root` (from [`snapshot`]).
fn files(root: &Path) -> Vec<std::path::PathBuf> {
    snapshot(root)
        .into_iter()
        .filter(|e| e.kind == Kind::File)
        .map(|e| std::path::PathBuf::from(String::from_utf8_lossy(&e.path).into_owned()))
        .collect()
}

/// `btrfs filesystem du`'s exclusive bytes of `path`: data no other file shares.
fn btrfs_exclusive(path: &Path) -> u64 {
    let out = Command::new("btrfs")
        .args(["filesystem", "du", "-s", "--raw"])
        .arg(path)
        .output()
        .expect("run btrfs filesystem du");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().nth(1).unwrap_or_default();
    line.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("btrfs filesystem du said: {text}"))
}

#[test]
fn same_filesystem_copies_share_blocks_like_cp() {
    if !has_command("filefrag") {
        skip("reflink: filefrag is not installed (e2fsprogs)");
        return;
    }
    for fs_type in ["xfs", "btrfs"] {
        let mnt = match LoopFs::new(fs_type) {
            Ok(m) => m,
            Err(why) => {
                skip(&format!("reflink on {fs_type}: {why}"));
                continue;
            }
        };
        let root = mnt.path();
        build(&Fx::new(root.join("src")));
        let gnu = run_gnu_cp(&["-r", "src", "gnu"], root, &RunOpts::default());
        assert_eq!(gnu.code, Some(0), "[{fs_type}] GNU cp: {gnu}");
        let mut failures = Failures::default();
        for engine in engines_and_ring_reads() {
            failures.check(|| {
                let ctx = format!("[{fs_type}, engine={engine}]");
                let dst = format!("dst-{engine}");
                let out = run_uring_cp(
                    engine,
                    &["-r"],
                    &["src", dst.as_str()],
                    root,
                    &RunOpts::default(),
                );
                assert_eq!(out.code, Some(0), "{ctx}: {out}");
                let ours = root.join(&dst);
                assert_snapshots_eq(
                    &ctx,
                    &snapshot(&ours),
                    &snapshot(&root.join("src")),
                    "copy",
                    "source",
                );
                for f in &files(&root.join("src")) {
                    let theirs = shares(&root.join("gnu").join(f));
                    assert!(
                        shares(&ours.join(f)) || !theirs,
                        "{ctx}: {} shares no block with its source; GNU cp's copy does",
                        f.display()
                    );
                }
                if fs_type == "btrfs" {
                    let _ = Command::new("sync").status();
                    let (ours, theirs) =
                        (btrfs_exclusive(&ours), btrfs_exclusive(&root.join("gnu")));
                    assert!(
                        ours <= theirs,
                        "{ctx}: {ours} bytes of the copy are its own; GNU cp's copy has {theirs}"
                    );
                }
            });
        }
        failures.finish();
    }
}

/// ext4 cannot clone: the first file finds out, and the rest are copied
/// without asking again (a run of 300 files makes a handful of FICLONE
/// calls, at most one per worker that started before the answer).
#[test]
fn a_filesystem_that_cannot_clone_is_asked_once() {
    if !has_command("strace") {
        skip("clone attempts on ext4: strace is not installed (.ci/run installs it)");
        return;
    }
    let mnt = match LoopFs::new("ext4") {
        Ok(m) => m,
        Err(why) => {
            skip(&format!("clone attempts on ext4: {why}"));
            return;
        }
    };
    let root = mnt.path();
    let fx = Fx::new(root.join("src"));
    fx.dir(".", 0o755);
    for i in 0..300 {
        fx.file(format!("f{i}"), 0o644, format!("file {i}\n"));
    }
    for engine in engines_and_ring_reads() {
        let dst = format!("dst-{engine}");
        let log = root.join(format!("strace-{engine}"));
        let mut args: Vec<String> = ["-f", "-qq", "-e", "trace=ioctl", "-o"]
            .map(String::from)
            .to_vec();
        args.push(log.display().to_string());
        args.push(BIN.into());
        args.extend(engine_args(engine).into_iter().map(String::from));
        args.extend(["-r", "src", dst.as_str()].map(String::from));
        let out = Command::new("strace")
            .args(&args)
            .current_dir(root)
            .output()
            .unwrap();
        assert!(out.status.success(), "[engine={engine}] {out:?}");
        let calls = fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("FICLONE") || l.contains("BTRFS_IOC_CLONE"))
            .count();
        assert!(
            (1..=16).contains(&calls),
            "[engine={engine}] {calls} clone attempts for 300 files on ext4"
        );
        assert_eq!(files(&root.join(&dst)).len(), 300, "[engine={engine}]");
    }
}

/// Without -j, a copy within one btrfs or xfs filesystem (all clones, CPU
/// work only) starts one worker per CPU; a copy between filesystems, one
/// under `--reflink=never` and one within ext4 keep two per CPU.
/// `--debug` says how many.
#[test]
fn default_workers_follow_the_filesystem() {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let said = |cpus: usize| match cpus {
        1 => "1 worker\n".to_string(),
        n => format!("{n} workers\n"),
    };
    let elsewhere = tempfile::tempdir().expect("tempdir");
    for fs_type in ["btrfs", "xfs", "ext4"] {
        let mnt = match LoopFs::new(fs_type) {
            Ok(m) => m,
            Err(why) => {
                skip(&format!("default workers on {fs_type}: {why}"));
                continue;
            }
        };
        let src = mnt.path().join("src");
        fs::create_dir_all(src.join("d")).expect("mkdir");
        fs::write(src.join("d/f"), b"data").expect("write");
        let clones = fs_type != "ext4";
        let cases = [
            (
                "same filesystem",
                vec!["-r", "--debug"],
                mnt.path().join("same"),
                clones,
            ),
            (
                "--reflink=never",
                vec!["-r", "--debug", "--reflink=never"],
                mnt.path().join("never"),
                false,
            ),
            (
                "another filesystem",
                vec!["-r", "--debug"],
                elsewhere.path().join(fs_type),
                false,
            ),
        ];
        for (what, flags, dst, one_per_cpu) in cases {
            for engine in ["uring", "portable"] {
                let dst = dst.with_extension(engine);
                let out = run_uring_cp(
                    engine,
                    &flags,
                    &[src.to_str().expect("utf-8"), dst.to_str().expect("utf-8")],
                    mnt.path(),
                    &RunOpts::default(),
                );
                let ctx = format!("[{fs_type}, {what}, engine={engine}]");
                assert_eq!(out.code, Some(0), "{ctx}: {out}");
                let want = match one_per_cpu {
                    true => said(cpus.min(16)),
                    false => said((cpus * 2).clamp(2, 16)),
                };
                assert!(
                    out.stderr_str().contains(&want),
                    "{ctx}: want {want:?}: {out}"
                );
                assert_eq!(
                    fs::read(dst.join("d/f")).expect("read copy"),
                    b"data",
                    "{ctx}"
                );
            }
        }
    }
}

/// Within one cloning filesystem `auto` runs walkers that take whole
/// directories (no queues, no rings) because every file is cloned: the copy
/// equals the source and shares its blocks like every engine's (see above).
/// Elsewhere (ext4, another filesystem) these sources are cached, so `auto`
/// runs walkers too, saying why. Sync mode, whose decisions are one
/// walker's, does not.
#[test]
fn auto_takes_whole_directories_within_one_cloning_filesystem() {
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let cached = "(the sources are in the page cache)";
    for fs_type in ["btrfs", "xfs", "ext4"] {
        let mnt = match LoopFs::new(fs_type) {
            Ok(m) => m,
            Err(why) => {
                skip(&format!("auto within {fs_type}: {why}"));
                continue;
            }
        };
        let root = mnt.path();
        build(&Fx::new(root.join("src")));
        let same = match fs_type {
            "ext4" => Some(cached),
            _ => Some("(one cloning filesystem: every file is cloned)"),
        };
        let cases = [
            (
                "same filesystem",
                vec!["-r", "--debug"],
                root.join("same"),
                same,
            ),
            (
                "sync mode",
                vec!["-r", "--debug", "--sync"],
                root.join("sync"),
                None,
            ),
            (
                "another filesystem",
                vec!["-r", "--debug"],
                elsewhere.path().join(fs_type),
                Some(cached),
            ),
        ];
        for (what, flags, dst, walkers) in cases {
            let ctx = format!("[{fs_type}, {what}]");
            let mut args: Vec<&str> = flags;
            args.extend(["src", dst.to_str().expect("utf-8")]);
            let out = run(BIN, &args, root, &RunOpts::default());
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            let said = out.stderr_str().contains("using the walkers engine");
            assert_eq!(said, walkers.is_some(), "{ctx}: {out}");
            if let Some(why) = walkers {
                assert!(
                    out.stderr_str().contains("taking whole directories")
                        && out.stderr_str().contains(why),
                    "{ctx}: {out}"
                );
            }
            assert_snapshots_eq(
                &ctx,
                &snapshot(&dst),
                &snapshot(&root.join("src")),
                "copy",
                "source",
            );
        }
    }
}

/// A clone is not checked after it (no `fstat` of source or copy: the
/// copier trusts the kernel's whole-file clone to be one instant of the
/// source). Pinned here: while another thread rewrites the source over and
/// over, each time in one `write` of the whole file (which btrfs and xfs
/// make under the inode lock a clone also takes), every copy is the old
/// bytes or the new ones, never a mix, and still shares its blocks. (The
/// same writer against `cp --reflink=never`, which reads and writes, left 5
/// mixed copies in 20 on btrfs: the setup does catch a copy that is not one
/// instant.)
#[test]
fn a_source_rewritten_during_its_clone_is_never_a_mix() {
    use std::os::unix::fs::FileExt;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    if !has_command("filefrag") {
        skip("reflink, concurrent writer: filefrag is not installed (e2fsprogs)");
        return;
    }
    const SIZE: usize = 8 << 20;
    for fs_type in ["xfs", "btrfs"] {
        let mnt = match LoopFs::new(fs_type) {
            Ok(m) => m,
            Err(why) => {
                skip(&format!("reflink, concurrent writer on {fs_type}: {why}"));
                continue;
            }
        };
        let root = mnt.path();
        let src = root.join("src");
        fs::write(&src, vec![b'A'; SIZE]).expect("write the source");
        let stop = AtomicBool::new(false);
        let rewrites = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                let f = fs::File::options().write(true).open(&src).expect("open");
                let (a, b) = (vec![b'A'; SIZE], vec![b'B'; SIZE]);
                while !stop.load(Relaxed) {
                    let bytes = match rewrites.load(Relaxed) % 2 {
                        0 => &b,
                        _ => &a,
                    };
                    // One call: write_all_at would split a short write.
                    let n = f.write_at(bytes, 0).expect("rewrite the source");
                    assert_eq!(n, SIZE, "a short write of the source");
                    rewrites.fetch_add(1, Relaxed);
                }
            });
            let mut failures = Failures::default();
            for engine in engines() {
                for round in 0..3 {
                    failures.check(|| {
                        let ctx = format!("[{fs_type}, engine={engine}, copy {round}]");
                        let dst = format!("dst-{engine}-{round}");
                        let out = run_uring_cp(
                            engine,
                            &[],
                            &["src", dst.as_str()],
                            root,
                            &RunOpts::default(),
                        );
                        assert_eq!(out.code, Some(0), "{ctx}: {out}");
                        let copy = fs::read(root.join(&dst)).expect("read the copy");
                        let uniform = copy.len() == SIZE
                            && (copy.iter().all(|&c| c == b'A') || copy.iter().all(|&c| c == b'B'));
                        assert!(uniform, "{ctx}: the copy is not one version of the source");
                        assert!(shares(&root.join(&dst)), "{ctx}: the copy is not a clone");
                    });
                }
            }
            stop.store(true, Relaxed);
            failures.finish();
        });
        eprintln!(
            "NOTE [{fs_type}] the source was rewritten {} times during the copies",
            rewrites.load(Relaxed)
        );
        assert!(
            rewrites.load(Relaxed) > 3,
            "[{fs_type}] the source was rewritten only {} times: the test proved nothing",
            rewrites.load(Relaxed)
        );
    }
}

/// What a pair of devices answered is kept per pair: in one run, files from
/// a filesystem that cannot clone into btrfs (ext4: refused) and files from
/// the destination's own btrfs (cloned) go to one destination, in both
/// orders. A verdict learnt for one pair must not decide for the other:
/// every copy equals its source, and every copy from the same btrfs shares
/// its blocks (as GNU cp's does), whichever operand came first.
#[test]
fn clone_verdicts_are_kept_per_pair_of_devices() {
    if !has_command("filefrag") {
        skip("clone verdicts per device pair: filefrag is not installed (e2fsprogs)");
        return;
    }
    let (btrfs, ext4) = match (LoopFs::new("btrfs"), LoopFs::new("ext4")) {
        (Ok(b), Ok(e)) => (b, e),
        (Err(why), _) | (_, Err(why)) => {
            skip(&format!("clone verdicts per device pair: {why}"));
            return;
        }
    };
    let root = btrfs.path();
    let mut rng = Rng(23);
    let (same, other) = (
        Fx::new(root.join("same")),
        Fx::new(ext4.path().join("other")),
    );
    same.dir(".", 0o755);
    other.dir(".", 0o755);
    for i in 0..40 {
        same.file(format!("s{i}"), 0o644, rng.bytes(5000 + i * 1000));
        other.file(format!("o{i}"), 0o644, rng.bytes(5000 + i * 1000));
    }
    let other = ext4.path().join("other").display().to_string();
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        for (order, operands) in [
            ("other first", [other.as_str(), "same"]),
            ("same first", ["same", other.as_str()]),
        ] {
            failures.check(|| {
                let ctx = format!("[engine={engine}, {order}]");
                let dst = format!("dst-{engine}-{}", order.replace(' ', "-"));
                fs::create_dir(root.join(&dst)).unwrap();
                let args: Vec<&str> = operands.iter().copied().chain([dst.as_str()]).collect();
                let out = run_uring_cp(engine, &["-r"], &args, root, &RunOpts::default());
                assert_eq!(out.code, Some(0), "{ctx}: {out}");
                for (name, src) in [
                    ("same", root.join("same")),
                    ("other", ext4.path().join("other")),
                ] {
                    assert_snapshots_eq(
                        &ctx,
                        &snapshot(&root.join(&dst).join(name)),
                        &snapshot(&src),
                        "copy",
                        "source",
                    );
                }
                for f in &files(&root.join("same")) {
                    assert!(
                        shares(&root.join(&dst).join("same").join(f)),
                        "{ctx}: same/{} was not cloned from its source on the same btrfs",
                        f.display()
                    );
                }
            });
        }
    }
    failures.finish();
}
