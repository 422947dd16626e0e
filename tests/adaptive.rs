//! Choices made from what the page cache holds:
//! - `--engine auto` runs the all-in-ring engine for a plain copy of a tree
//!   whose files are not cached, and the default engine otherwise (checked
//!   through `--debug`, which names the engine);
//! - the io_uring engine's adaptive reads (`--ring-reads auto`): a worker
//!   whose sources come from the page cache copies with system calls, and
//!   must go back to the ring when they start coming from storage. Checked
//!   through `--stats=json`: the ring's submissions must cover the files that
//!   were not cached.

mod common;

use common::*;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

const WARM: usize = 2000;
const COLD: usize = 2000;

/// Drop a file's pages from the page cache (they are clean after a sync).
fn evict(path: &Path) {
    let f = std::fs::File::open(path).unwrap();
    // SAFETY: plain advice on an open descriptor.
    let r = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(r, 0);
}

/// Is any page of the file in the page cache?
fn cached(path: &Path) -> bool {
    let f = std::fs::File::open(path).unwrap();
    let len = f.metadata().unwrap().len() as usize;
    // SAFETY: a private read-only mapping of an open file, unmapped below;
    // mincore writes one byte per page into `vec`, sized for the mapping.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        let mut vec = vec![0u8; len.div_ceil(4096)];
        let r = libc::mincore(p, len, vec.as_mut_ptr());
        libc::munmap(p, len);
        assert_eq!(r, 0);
        vec.iter().any(|b| b & 1 == 1)
    }
}

#[test]
fn a_worker_returns_to_the_ring_when_the_cache_goes_cold() {
    if let Err(why) = uring_status() {
        skip(&format!("uring engine: {why}"));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    // Top-level files are listed (and copied) before those of the subdirectory.
    std::fs::create_dir_all(src.join("sub")).unwrap();
    for i in 0..WARM {
        std::fs::write(src.join(format!("w{i}")), vec![b'w'; 3000]).unwrap();
    }
    for i in 0..COLD {
        std::fs::write(src.join(format!("sub/c{i}")), vec![b'c'; 3000]).unwrap();
    }
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    for i in 0..COLD {
        evict(&src.join(format!("sub/c{i}")));
    }
    if cached(&src.join("sub/c0")) {
        skip("the page cache keeps these files (tmpfs?): cannot make the sources cold");
        return;
    }
    let out = Command::new(BIN)
        .args([
            "--engine",
            "uring",
            "--ring-reads",
            "auto",
            "-r",
            "--stats=json",
            "src",
            "dst",
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let submitted = v["io_uring"]["submissions"].as_u64().unwrap();
    // Two requests (open, read) per file read through the ring. Most cold
    // files must have been read there; the warm ones mostly were not.
    notice(&format!(
        "NOTE ring requests: {submitted} for {WARM} warm + {COLD} cold files"
    ));
    assert!(
        submitted >= COLD as u64,
        "only {submitted} ring requests: the workers did not go back to the ring for {COLD} uncached files"
    );
    assert!(
        submitted < 2 * (WARM + COLD) as u64,
        "{submitted} ring requests: warm files were read through the ring too"
    );
    assert_snapshots_eq(
        "adaptive",
        &snapshot(&src),
        &snapshot(&tmp.path().join("dst")),
        "source",
        "copy",
    );
}

/// Evict `files` from the page cache. DONTNEED can leave pages that sit in
/// another CPU's LRU batch, so evict until none is cached (1 run in 5 kept
/// some at the first try).
fn make_cold(files: &[std::path::PathBuf]) {
    for _ in 0..20 {
        // SAFETY: sync(2) has no preconditions.
        unsafe { libc::sync() };
        files.iter().for_each(|f| evict(f));
        if !files.iter().any(|f| cached(f)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The engine `uring-cp --debug ARGS...` (run in `dir`) says it uses, after
/// checking that the copy succeeded.
fn engine_used(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--debug")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let err = show(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    err.lines()
        .find(|l| l.starts_with("uring-cp: using the "))
        .unwrap_or_else(|| panic!("--debug did not name the engine: {err}"))
        .to_string()
}

/// `--engine auto` by the page cache: a tree that is not cached goes to the
/// ring engines (the all-in-ring one for `-r`, the io_uring one for `-a`),
/// a cached one to walkers taking whole directories; sync mode keeps the
/// io_uring engine; a named engine is used.
#[test]
fn auto_runs_the_ring_engines_for_a_cold_tree_and_walkers_for_a_cached_one() {
    if let Err(why) = uring_status() {
        skip(&format!("uring engine: {why}"));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mut files = Vec::new();
    for d in ["a", "b/c"] {
        std::fs::create_dir_all(src.join(d)).unwrap();
        for i in 0..20 {
            let f = src.join(format!("{d}/f{i}"));
            std::fs::write(&f, vec![b'x'; 5000 + i]).unwrap();
            files.push(f);
        }
    }
    let make_cold = || make_cold(&files);
    make_cold();
    if files.iter().any(|f| cached(f)) {
        skip("the page cache keeps these files (tmpfs?): cannot make the sources cold");
        return;
    }
    let cold = engine_used(tmp.path(), &["-r", "src", "cold"]);
    assert!(
        cold.contains("io_uring-chains engine") && cold.contains("not in the page cache"),
        "uncached tree: {cold}"
    );
    // That copy read every file into the cache.
    let warm = engine_used(tmp.path(), &["-r", "src", "warm"]);
    assert!(
        warm.contains("the walkers engine") && warm.contains("are in the page cache"),
        "cached tree: {warm}"
    );
    let warm_archive = engine_used(tmp.path(), &["-a", "src", "warm-archive"]);
    assert!(
        warm_archive.contains("the walkers engine"),
        "cached tree, -a: {warm_archive}"
    );
    // Sync mode: one walker decides, with queues.
    let sync = engine_used(tmp.path(), &["-r", "--sync", "src", "sync"]);
    assert!(sync.contains("the io_uring engine"), "--sync: {sync}");
    // Attributes the all-in-ring engine cannot set: the io_uring engine
    // reads the cold files through its rings; an engine named is used.
    make_cold();
    let archive = engine_used(tmp.path(), &["-a", "src", "archive"]);
    assert!(
        archive.contains("the io_uring engine") && archive.contains("not in the page cache"),
        "-a: {archive}"
    );
    make_cold();
    let named = engine_used(tmp.path(), &["--engine", "uring", "-r", "src", "named"]);
    assert!(
        named.contains("the io_uring engine"),
        "--engine uring: {named}"
    );
    for copy in ["cold", "warm", "warm-archive", "sync", "archive", "named"] {
        assert_snapshots_eq(
            copy,
            &snapshot(&src),
            &snapshot(&tmp.path().join(copy)),
            "source",
            "copy",
        );
    }
}

/// Where `auto` finds the sources cold, threads list the directories ahead
/// of the walker (`walk/listahead.rs`). They must not change what is copied:
/// `-a` keeps each directory's access time as it was before the copy read
/// the directory, so a list-ahead that moved it (reading without
/// `O_NOATIME`, before the walker's `fstat`) would show in the copy. Every
/// source directory's atime is older than its ctime, so under `relatime` any
/// other read moves it.
#[test]
fn listing_ahead_of_a_cold_walk_changes_nothing_that_is_copied() {
    use std::os::unix::fs::MetadataExt;
    if let Err(why) = uring_status() {
        skip(&format!("uring engine: {why}"));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let (mut files, mut dirs) = (Vec::new(), vec![src.clone()]);
    for a in 0..6 {
        // (Files near the top: `auto` looks for files breadth-first, in a
        // few directories.)
        std::fs::create_dir_all(src.join(format!("a{a}"))).unwrap();
        for i in 0..2 {
            let f = src.join(format!("a{a}/top{i}"));
            std::fs::write(&f, vec![b'0' + i; 5000]).unwrap();
            files.push(f);
        }
        for b in 0..4 {
            let d = src.join(format!("a{a}/b{b}/c"));
            std::fs::create_dir_all(&d).unwrap();
            dirs.extend([
                src.join(format!("a{a}")),
                src.join(format!("a{a}/b{b}")),
                d.clone(),
            ]);
            for i in 0..4 {
                let f = d.join(format!("f{i}"));
                std::fs::write(&f, vec![b'a' + a as u8; 3000 + i]).unwrap();
                files.push(f);
            }
        }
    }
    dirs.sort();
    dirs.dedup();
    let (atime, mtime) = (1_000_000_000, 1_000_000_100);
    let set_times = || {
        for d in &dirs {
            let t = filetime_pair(atime, mtime);
            let c = std::ffi::CString::new(d.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a NUL-terminated path and two timespecs.
            let r = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), t.as_ptr(), 0) };
            assert_eq!(r, 0, "utimensat {}", d.display());
        }
    };
    // Sync mode keeps its engine, and lists ahead too.
    let runs: [(&[&str], &str); 3] = [
        (&["-a"], "archive"),
        (&["-r"], "plain"),
        (&["-a", "--sync"], "synced"),
    ];
    for (args, copy) in runs {
        set_times();
        make_cold(&files);
        if files.iter().any(|f| cached(f)) {
            skip("the page cache keeps these files (tmpfs?): cannot make the sources cold");
            return;
        }
        let out = Command::new(BIN)
            .arg("--debug")
            .args(args)
            .args(["src", copy])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let err = show(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(
            err.contains("directories are listed ahead of the walk"),
            "{copy}: no list-ahead for a cold tree: {err}"
        );
        // (Before anything lists the copy: that moves its access times.)
        for d in dirs.iter().filter(|_| copy == "archive") {
            let rel = d.strip_prefix(&src).unwrap();
            let md = std::fs::metadata(tmp.path().join(copy).join(rel)).unwrap();
            assert_eq!(
                (md.atime(), md.mtime()),
                (atime, mtime),
                "-a copy of {}: its access time moved before the walker read it",
                d.display()
            );
        }
        assert_snapshots_eq(
            copy,
            &snapshot(&src),
            &snapshot(&tmp.path().join(copy)),
            "source",
            "copy",
        );
    }
    // Cached now: no list-ahead.
    let out = Command::new(BIN)
        .args(["--debug", "-r", "src", "warm"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let err = show(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("listed ahead"), "cached tree: {err}");
}

/// (atime, mtime) as utimensat's two timespecs.
fn filetime_pair(atime: i64, mtime: i64) -> [libc::timespec; 2] {
    [
        libc::timespec {
            tv_sec: atime,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: mtime,
            tv_nsec: 0,
        },
    ]
}
