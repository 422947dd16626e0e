//! Whole-tree copies: a deterministic generated tree (~3000 files, boundary
//! sizes, big files, symlinks of every flavour, odd names, and a directory
//! chain whose path exceeds PATH_MAX) is copied with every engine, with the
//! default buffer memory and with `--buffer-mem 64K`, and the copy must equal
//! the source byte for byte. The result is also compared with `cp -r`.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SEED: u64 = 0x5eed_c0de_2024_0001;
const N_FILES: usize = 3000;
const N_DIRS: usize = 160;
/// Components of the deep chain: DEEP_LEVELS * (DEEP_NAME_LEN + 1) > 4096.
const DEEP_LEVELS: usize = 24;
const DEEP_NAME_LEN: usize = 200;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Sizes that every copy loop tends to get wrong, each used for a few files.
const BOUNDARY_SIZES: &[usize] = &[
    0,
    1,
    4095,
    4096,
    4097,
    65535,
    65536,
    65537,
    128 * KIB - 1,
    128 * KIB,
    128 * KIB + 1,
    MIB - 1,
    MIB,
    MIB + 1,
];
const BIG_SIZES: &[usize] = &[3 * MIB + 17, 5 * MIB - 3, 8 * MIB];

struct Tree {
    _tmp: tempfile::TempDir,
    /// Directory containing `tree/` (the source) and the outputs.
    base: PathBuf,
    src: PathBuf,
    files: usize,
    bytes: u64,
}

/// An awkward name, unique per (tag, i).
fn odd_name(rng: &mut Rng, tag: &str, i: usize) -> Vec<u8> {
    match rng.below(9) {
        0 => {
            let mut v = format!("{tag}bin").into_bytes();
            v.extend_from_slice(b"\xff\xfe\x80");
            v.extend_from_slice(i.to_string().as_bytes());
            v
        }
        1 => format!("{tag}new\nline{i}").into_bytes(),
        2 => format!("{tag}with space {i}").into_bytes(),
        3 => format!("-{tag}dash{i}").into_bytes(),
        4 => format!("--help{tag}{i}").into_bytes(),
        5 => format!("\u{e9}t\u{e9}-{tag}{i}").into_bytes(),
        6 => {
            let mut v = format!("{tag}{i}-").into_bytes();
            v.resize(255, b'L');
            v
        }
        7 => format!("it's \"quoted\" {tag}{i}").into_bytes(),
        _ => format!("tab\there {tag}{i} ").into_bytes(),
    }
}

fn build_tree() -> Tree {
    let t0 = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("uring-cp-tree.")
        .tempdir()
        .unwrap();
    let base = tmp.path().to_path_buf();
    let fx = Fx::new(base.clone());
    fx.chmod("", 0o755);
    fx.dir("tree", 0o755);
    let src = base.join("tree");
    let mut rng = Rng(SEED);

    // Random pool: file contents are slices of it at random offsets, which is
    // much faster than generating fresh random bytes for 50+ MB in a debug build.
    let pool = rng.bytes(9 * MIB);

    // Directories.
    let mut dirs: Vec<Vec<u8>> = vec![b"tree".to_vec()];
    let mut depth: Vec<usize> = vec![0];
    for i in 0..N_DIRS {
        let mut pi = rng.below(dirs.len() as u64) as usize;
        if depth[pi] >= 7 {
            pi = 0;
        }
        let name = if rng.chance(10) {
            odd_name(&mut rng, "D", i)
        } else {
            format!("dir{i:03}").into_bytes()
        };
        let mut p = dirs[pi].clone();
        p.push(b'/');
        p.extend_from_slice(&name);
        let mode = [0o755, 0o755, 0o755, 0o700, 0o750, 0o711][rng.below(6) as usize];
        fx.dir(&p, mode);
        dirs.push(p);
        depth.push(depth[pi] + 1);
    }

    // Files.
    let mut sizes: Vec<usize> = Vec::new();
    for &s in BOUNDARY_SIZES {
        sizes.extend([s, s]);
    }
    sizes.extend_from_slice(BIG_SIZES);
    while sizes.len() < N_FILES {
        let r = rng.below(100);
        sizes.push(if r < 80 {
            rng.below(4096) as usize
        } else if r < 98 {
            4096 + rng.below(60 * 1024) as usize
        } else {
            64 * KIB + rng.below(192 * 1024) as usize
        });
    }
    let mut bytes = 0u64;
    for (i, &size) in sizes.iter().enumerate() {
        let dir = &dirs[rng.below(dirs.len() as u64) as usize];
        let name = if rng.chance(3) {
            odd_name(&mut rng, "F", i)
        } else {
            format!("f{i:04}.dat").into_bytes()
        };
        let mut p = dir.clone();
        p.push(b'/');
        p.extend_from_slice(&name);
        let off = rng.below((pool.len() - size + 1) as u64) as usize;
        let mode = [0o644, 0o644, 0o644, 0o600, 0o755, 0o444, 0o640][rng.below(7) as usize];
        fx.file(&p, mode, &pool[off..off + size]);
        bytes += size as u64;
    }

    // All-zero and sparse files (content must survive hole-aware copying).
    fx.file("tree/zeros-1M", 0o644, vec![0u8; MIB]);
    {
        let f = fs::File::create(fx.p("tree/sparse")).unwrap();
        f.set_len(2 * MIB as u64).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(&pool[..4096], MIB as u64).unwrap();
        f.write_all_at(b"tail", 2 * MIB as u64 - 4).unwrap();
        fx.chmod("tree/sparse", 0o644);
        bytes += 3 * MIB as u64;
    }

    // Symlinks: relative, absolute, dangling, to dirs, non-UTF-8 targets.
    let abs_target = fx.p("tree/zeros-1M");
    fx.symlink("tree/link-rel", "zeros-1M");
    fx.symlink(
        "tree/link-abs",
        std::os::unix::ffi::OsStrExt::as_bytes(abs_target.as_os_str()),
    );
    fx.symlink("tree/link-abs-outside", "/nonexistent/absolute/path");
    fx.symlink("tree/link-dangling", "no/such/file");
    fx.symlink("tree/link-dir", "dir000");
    fx.symlink("tree/link-dot", ".");
    fx.symlink("tree/link-dotdot", "..");
    fx.symlink(b"tree/link-nonutf8", b"target\xff\xfe\nnl");
    fx.symlink(b"tree/link\xffname", "zeros-1M");
    fx.symlink("tree/link-long", vec![b'a'; 4000]);
    for i in 0..40 {
        let dir = dirs[rng.below(dirs.len() as u64) as usize].clone();
        let mut p = dir.clone();
        p.extend_from_slice(format!("/sym{i:02}").as_bytes());
        let target: Vec<u8> = match i % 4 {
            0 => b"../f0001.dat".to_vec(),
            1 => format!("dangling-{i}").into_bytes(),
            2 => std::os::unix::ffi::OsStrExt::as_bytes(fx.p(&dirs[1]).as_os_str()).to_vec(),
            _ => b"./.".to_vec(),
        };
        fx.symlink(&p, &target);
    }

    // Deep chain, longer than PATH_MAX, built by a shell with relative cd's.
    build_deep(&src.join("deep"));

    let files = sizes.len();
    notice(&format!(
        "NOTE generated tree: {files} files + deep chain, {:.1} MiB, built in {:?}",
        bytes as f64 / MIB as f64,
        t0.elapsed()
    ));
    Tree {
        _tmp: tmp,
        base,
        src,
        files,
        bytes,
    }
}

fn deep_name(level: usize) -> String {
    let mut s = format!("L{level:03}-");
    while s.len() < DEEP_NAME_LEN {
        s.push('x');
    }
    s
}

/// `deep/` + DEEP_LEVELS nested dirs of DEEP_NAME_LEN bytes, a file at every
/// level, a bigger file, an empty file and a symlink at the bottom.
///
/// Built bottom-up so no path used here is ever long: each level is created
/// (with its files) right below `deep/`, then the level below it is renamed
/// into it. (The process's cwd is never changed: tests run in parallel
/// threads; and shells cannot `cd` below PATH_MAX either: dash's `cd` uses
/// the full logical path.)
fn build_deep(deep: &Path) {
    let fx = Fx::new(deep);
    fx.dir("", 0o755);
    let mut below: Option<String> = None;
    for level in (0..DEEP_LEVELS).rev() {
        let name = deep_name(level);
        fx.dir(&name, 0o755);
        fx.file(
            format!("{name}/file{level}"),
            0o644,
            format!("file at level {level}\n"),
        );
        if level == DEEP_LEVELS - 1 {
            let big: String = (1..=30000).map(|i| format!("{i}\n")).collect();
            fx.file(format!("{name}/big"), 0o640, big);
            fx.file(format!("{name}/empty"), 0o600, b"");
            fx.file(format!("{name}/odd name\u{1}"), 0o644, b"the bottom\n");
            fx.symlink(format!("{name}/link"), format!("file{level}"));
        }
        if let Some(b) = below.take() {
            fs::rename(fx.p(&b), fx.p(format!("{name}/{b}"))).unwrap();
        }
        below = Some(name);
    }
    let total: usize = deep.as_os_str().len()
        + (0..DEEP_LEVELS)
            .map(|l| deep_name(l).len() + 1)
            .sum::<usize>();
    assert!(total > 4096, "deep path only {total} bytes");
}

fn is_deep(p: &[u8]) -> bool {
    p == b"deep" || p.starts_with(b"deep/")
}

/// Independent structural cross-check with find(1), which copes with deep
/// trees: type, mode, (size for files), path; NUL-separated and sorted.
fn find_listing(dir: &Path) -> Vec<Vec<u8>> {
    let out = Command::new("find")
        .arg(".")
        .args([
            "(",
            "-type",
            "f",
            "-printf",
            "%y %m %s %P\\0",
            ")",
            "-o",
            "-printf",
            "%y %m - %P\\0",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "find in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Vec<Vec<u8>> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| s.to_vec())
        .collect();
    v.sort();
    v
}

/// Content of every file in the deep chain, hashed by sha256sum in the file's
/// own directory (`-execdir`, so no path exceeds PATH_MAX); sorted by path.
fn deep_hashes(dir: &Path) -> Vec<u8> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"cd "$1" && find deep -type f -printf '%P\t' -execdir sha256sum {} \; | sort"#)
        .arg("sh")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "deep_hashes: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty());
    out.stdout
}

fn copy_and_verify(engine: &str, buffer: Option<&str>) {
    copy_and_verify_with(engine, buffer, &[]);
}

fn copy_and_verify_with(engine: &str, buffer: Option<&str>, more: &[&str]) {
    let tree = build_tree();
    let name = format!(
        "out-{engine}-{}{}",
        buffer.unwrap_or("default"),
        more.join("")
    );
    let mut extra: Vec<&str> = match buffer {
        Some(b) => vec!["--buffer-mem", b],
        None => vec![],
    };
    extra.extend(more);
    let opts = RunOpts {
        timeout: Duration::from_secs(120),
        ..RunOpts::default()
    };
    let out = run_uring_cp(
        engine,
        &extra,
        &["-r", "tree", name.as_str()],
        &tree.base,
        &opts,
    );
    let ctx = format!("[tree copy engine={engine} buffer={buffer:?} {more:?}]");
    notice(&format!(
        "NOTE {ctx}: copied {} files / {:.1} MiB in {:?}",
        tree.files,
        tree.bytes as f64 / MIB as f64,
        out.elapsed
    ));
    assert_eq!(out.code, Some(0), "{ctx}: copy failed\n{out}");
    assert!(out.stderr.is_empty(), "{ctx}: unexpected stderr\n{out}");
    let dst = tree.base.join(&name);
    assert_snapshots_eq(
        &ctx,
        &snapshot(&dst),
        &snapshot(&tree.src),
        "copy",
        "source",
    );
    assert_eq!(
        find_listing(&dst),
        find_listing(&tree.src),
        "{ctx}: find(1) listings differ"
    );
    assert_eq!(
        String::from_utf8_lossy(&deep_hashes(&dst)),
        String::from_utf8_lossy(&deep_hashes(&tree.src)),
        "{ctx}: deep chain contents differ"
    );
}

#[test]
fn generated_tree_portable_default_buffer() {
    copy_and_verify("portable", None);
}

#[test]
fn generated_tree_portable_buffer_64k() {
    copy_and_verify("portable", Some("64K"));
}

#[test]
fn generated_tree_walkers_default_buffer() {
    copy_and_verify("walkers", None);
}

#[test]
fn generated_tree_walkers_buffer_64k() {
    copy_and_verify("walkers", Some("64K"));
}

#[test]
fn generated_tree_uring_default_buffer() {
    if let Err(why) = uring_status() {
        skip(&format!("uring engine: {why}"));
        return;
    }
    copy_and_verify("uring", None);
}

#[test]
fn generated_tree_uring_buffer_64k() {
    if let Err(why) = uring_status() {
        skip(&format!("uring engine: {why}"));
        return;
    }
    copy_and_verify("uring", Some("64K"));
}

/// Every read on the ring (by default a worker switches to system calls once
/// it sees its sources come from the page cache, as in this test).
#[test]
fn generated_tree_uring_ring_reads_always() {
    if let Err(why) = uring_status() {
        skip(&format!("uring engine: {why}"));
        return;
    }
    copy_and_verify_with("uring", None, &["--ring-reads", "always"]);
    copy_and_verify_with("uring", Some("64K"), &["--ring-reads", "always"]);
}

#[test]
fn generated_tree_uring_chains_default_buffer() {
    if let Err(why) = uring_status() {
        skip(&format!("uring-chains engine: {why}"));
        return;
    }
    copy_and_verify("uring-chains", None);
}

#[test]
fn generated_tree_uring_chains_buffer_64k() {
    if let Err(why) = uring_status() {
        skip(&format!("uring-chains engine: {why}"));
        return;
    }
    copy_and_verify("uring-chains", Some("64K"));
}

/// `cp -r` of the same tree gives the same result, except for the deep chain,
/// where GNU cp 9.1 itself fails with "File name too long" (it uses full
/// paths); that part is checked against the source by the tests above.
#[test]
fn generated_tree_matches_gnu_cp() {
    let tree = build_tree();
    let opts = RunOpts {
        timeout: Duration::from_secs(120),
        ..RunOpts::default()
    };
    let gnu = run_gnu_cp(&["-r", "tree", "out-gnu"], &tree.base, &opts);
    assert!(!gnu.timed_out, "{gnu}");
    let gnu_msgs: Vec<String> = gnu.stderr_str().lines().map(|s| s.to_string()).collect();
    for m in &gnu_msgs {
        assert!(
            m.contains("'tree/deep/") && m.ends_with("File name too long"),
            "unexpected GNU cp message: {m}"
        );
    }
    if !gnu_msgs.is_empty() {
        notice(&format!(
            "NOTE GNU cp -r fails on the >PATH_MAX chain ({} message(s), exit {:?})",
            gnu_msgs.len(),
            gnu.code
        ));
    }
    let sg = filter_snapshot(&snapshot(&tree.base.join("out-gnu")), |p| !is_deep(p));
    for engine in engines() {
        let name = format!("out-{engine}");
        let ours = run_uring_cp(
            engine,
            &[],
            &["-r", "tree", name.as_str()],
            &tree.base,
            &opts,
        );
        let ctx = format!("[tree vs cp -r, engine={engine}]");
        assert_eq!(ours.code, Some(0), "{ctx}: {ours}");
        let so = filter_snapshot(&snapshot(&tree.base.join(&name)), |p| !is_deep(p));
        assert_snapshots_eq(&ctx, &so, &sg, "uring-cp", "GNU cp");
    }
}

/// Copy the tree into an existing directory (DEST/basename) and with `src/.`,
/// via the `auto` engine, against GNU cp (deep chain excluded as above).
#[test]
fn generated_tree_into_existing_dir_auto_engine() {
    let tree = build_tree();
    let opts = RunOpts {
        timeout: Duration::from_secs(120),
        ..RunOpts::default()
    };
    for (i, src) in ["tree", "tree/."].iter().enumerate() {
        let ours_dst = format!("ours{i}");
        let gnu_dst = format!("gnu{i}");
        for d in [&ours_dst, &gnu_dst] {
            let fx = Fx::new(tree.base.join(d));
            fx.dir("", 0o755);
            fx.dir("tree/dir000", 0o700);
            fx.file("tree/zeros-1M", 0o600, b"short");
            fx.file("zeros-1M", 0o600, b"short");
            fx.file("keep", 0o644, b"keep");
        }
        let ours = run_uring_cp(
            "auto",
            &[],
            &["-r", src, ours_dst.as_str()],
            &tree.base,
            &opts,
        );
        let gnu = run_gnu_cp(&["-r", src, gnu_dst.as_str()], &tree.base, &opts);
        assert!(!gnu.timed_out, "{gnu}");
        let ctx = format!("[tree into existing dir: -r {src} DEST]");
        assert_eq!(ours.code, Some(0), "{ctx}: {ours}");
        let not_deep = |p: &[u8]| !p.split(|&c| c == b'/').any(|c| c == b"deep");
        let so = filter_snapshot(&snapshot(&tree.base.join(&ours_dst)), not_deep);
        let sg = filter_snapshot(&snapshot(&tree.base.join(&gnu_dst)), not_deep);
        assert_snapshots_eq(&ctx, &so, &sg, "uring-cp", "GNU cp");
    }
}
