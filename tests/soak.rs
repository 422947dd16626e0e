//! Soak tests, run only with `UCP_SOAK=N` (otherwise each prints `SKIP`):
//! memory and file descriptors of many copies, on every engine of
//! [`engines`].
//!
//! uring-cp has no mode that copies repeatedly within one process, so growth
//! is looked for where it can be seen:
//!
//! 1. **Within one process**: one copy of a tree of 5,000 small files and
//!    one of 50,000 (100 per directory, the same large files in both). A
//!    per-file leak (walk items, hard-link map entries, buffers not given
//!    back) makes the peak RSS grow with the tree: it must not. Descriptors
//!    are counted in `/proc/PID/fd` every few milliseconds while the copy
//!    runs: the most open at once must stay below [`MAX_FDS`], and the last
//!    count seen, as the copy ends, must be back to a handful (a descriptor
//!    leaked per directory or file would still be open then).
//! 2. **Across runs**: `N` copies of the 5,000-file tree (or of
//!    `UCP_SOAK_SRC`), each a fresh process. Every run must succeed, copy the
//!    same counts (`--stats=json`), and none may need more memory than the
//!    first three did (state that outlives a run, dependence on the cache;
//!    this cannot see leaks within a process, which part 1 looks for).
//! 3. **Many directories**: 5,000 directories of one file each, the shape
//!    that needs the most descriptors (each queued item keeps its source and
//!    destination directories open): the copy must succeed (as GNU cp's
//!    does) under the usual limit below.
//!
//! Every copy (of the binary `cargo test` built) runs with the soft
//! `RLIMIT_NOFILE` at 1024 (the usual default; GNU cp needs a handful),
//! whatever the test's own limit. The peak RSS is the child's `VmHWM`
//! (`/proc/PID/status`), sampled with the descriptors (the last value seen:
//! it only grows). Not `wait4`'s `ru_maxrss`: exec folds the high-water mark
//! of the memory the child had between fork and exec (a copy of the test
//! process's) into it, so a child of a test process that has built a large
//! tree reports the test's size. Copies of generated trees are compared with
//! their source with `diff -r --no-dereference` (entries, contents, symlink
//! targets; the property test covers the attributes).

mod common;

use common::*;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SMALL_TREE: usize = 5_000;
const LARGE_TREE: usize = 50_000;
/// Files per directory in those trees.
const PER_DIR: usize = 100;
/// One-file directories in the many-directories tree.
const DIRS_TREE: usize = 5_000;
const MIB: u64 = 1024 * 1024;
/// A copy that takes longer than this is killed (and fails the test).
const RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// The soft descriptor limit every copy runs with.
const NOFILE: u64 = 1024;
/// Most descriptors a copy may have open at once: half of [`NOFILE`], so
/// that the usual limit leaves room to spare.
const MAX_FDS: usize = 512;
/// Most descriptors still open at the last sample, as a copy ends (stdio,
/// rings, the roots, a few in flight).
const MAX_FDS_AT_END: usize = 48;
/// How often /proc is sampled while a copy runs.
const SAMPLE_EVERY: Duration = Duration::from_millis(4);

fn env_usize(name: &str) -> Option<usize> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?}: not a number")),
    )
}

/// `UCP_SOAK` as a number of runs, or `None` after printing why the test
/// is skipped.
fn soak_runs(what: &str) -> Option<usize> {
    let n = env_usize("UCP_SOAK");
    match n {
        None => skip(&format!(
            "soak ({what}): UCP_SOAK is not set (UCP_SOAK=N runs the soak tests, N copies \
             of the 5,000-file tree per engine; UCP_SOAK_SRC=DIR copies DIR instead)"
        )),
        Some(0) => panic!("UCP_SOAK must be at least 1"),
        Some(_) => {}
    }
    n
}

/// Allowed growth of a peak RSS: `base * (1 + pct/100) + slack`.
fn within(value_kib: u64, base_kib: u64, pct: u64, slack_mib: u64) -> bool {
    value_kib <= base_kib + base_kib * pct / 100 + slack_mib * 1024
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// What one copy used.
#[derive(Clone, Debug)]
struct Usage {
    /// Peak resident set (KiB): the last `VmHWM` seen in /proc/PID/status.
    rss_kib: u64,
    /// Most open descriptors seen in `/proc/PID/fd`.
    max_fds: usize,
    /// Descriptors open at the last sample (as the copy ends).
    end_fds: usize,
    /// Most threads seen in `/proc/PID/status`.
    max_threads: usize,
    /// How many times /proc was sampled.
    samples: usize,
    elapsed: Duration,
    /// `--stats=json`: (files, directories, symlinks, bytes).
    counts: (u64, u64, u64, u64),
}

impl Usage {
    fn row(&self, label: &str) -> String {
        format!(
            "{label:<24} peak RSS {:>9}  fds max {:>3} at end {:>2}  threads {:>2}  {:>5} \
             samples  {:>7.2?}  files {} dirs {} symlinks {} bytes {}",
            mib(self.rss_kib),
            self.max_fds,
            self.end_fds,
            self.max_threads,
            self.samples,
            self.elapsed,
            self.counts.0,
            self.counts.1,
            self.counts.2,
            self.counts.3
        )
    }

    /// The descriptor bounds, as problems.
    fn check_fds(&self, what: &str, problems: &mut Vec<String>) {
        if self.max_fds >= MAX_FDS {
            problems.push(format!(
                "{what}: {} descriptors open at once (limit {MAX_FDS})",
                self.max_fds
            ));
        }
        if self.end_fds > MAX_FDS_AT_END {
            problems.push(format!(
                "{what}: {} descriptors still open as the copy ended (limit {MAX_FDS_AT_END}): \
                 leaked?",
                self.end_fds
            ));
        }
    }
}

fn count_fds(pid: i32) -> Option<usize> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// (VmHWM in KiB, threads) of `pid`, once it runs uring-cp (between fork
/// and exec, the child's figures are the test process's).
fn proc_status(pid: i32) -> Option<(u64, usize)> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().trim_end_matches(" kB").trim())
    };
    if field("Name:")? != "uring-cp" {
        return None;
    }
    Some((
        field("VmHWM:")?.parse().ok()?,
        field("Threads:")?.parse().ok()?,
    ))
}

/// Run `uring-cp --engine ENGINE -a --stats=json SRC DST` as a direct child
/// (no shell in between, so the figures are its own) with the soft
/// descriptor limit at [`NOFILE`], sampling it while it runs. `Err` with the
/// whole outcome unless it exits 0 with no message and no failed item.
fn measured_copy(engine: &str, src: &Path, dst: &Path) -> Result<Usage, String> {
    let mut cmd = Command::new(BIN);
    cmd.args(["--engine", engine, "-a", "--stats=json", "--no-progress"])
        .arg(src)
        .arg(dst)
        .env("LC_ALL", LOCALE)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: getrlimit/setrlimit are async-signal-safe and touch no memory
    // but the local struct.
    unsafe {
        cmd.pre_exec(|| {
            let mut rl: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            rl.rlim_cur = rl.rlim_max.min(NOFILE as libc::rlim_t);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {BIN}: {e}"));
    let pid = child.id() as i32;
    let (t1, t2) = read_outputs(&mut child);
    let start = Instant::now();
    let (mut max_fds, mut end_fds, mut max_threads, mut samples) = (0, 0, 0, 0);
    let mut rss_kib = 0;
    let mut killed = false;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if let Some((hwm, threads)) = proc_status(pid)
            && let Some(n) = count_fds(pid)
        {
            rss_kib = rss_kib.max(hwm);
            max_threads = max_threads.max(threads);
            max_fds = max_fds.max(n);
            end_fds = n;
            samples += 1;
        }
        if start.elapsed() > RUN_TIMEOUT && !killed {
            let _ = child.kill();
            killed = true;
        }
        std::thread::sleep(SAMPLE_EVERY);
    };
    let elapsed = start.elapsed();
    let stdout = t1.join().unwrap_or_default();
    let stderr = t2.join().unwrap_or_default();
    let exited = status.code();
    let ctx = format!(
        "`(ulimit -n {NOFILE}; uring-cp --engine {engine} -a --stats=json {} {})` -> exit \
         {exited:?}{} in {elapsed:.1?}, most descriptors open at once {max_fds}\n  stdout: \
         {}\n  stderr: {}",
        src.display(),
        dst.display(),
        if killed { " (TIMED OUT, killed)" } else { "" },
        show(&stdout),
        show(&stderr).chars().take(2000).collect::<String>()
    );
    if exited != Some(0) || !stderr.is_empty() {
        return Err(format!("must exit 0 and print no message: {ctx}"));
    }
    let json: serde_json::Value = serde_json::from_slice(&stdout)
        .map_err(|e| format!("--stats=json printed no JSON ({e}): {ctx}"))?;
    let n = |k: &str| {
        json[k]
            .as_u64()
            .ok_or_else(|| format!("--stats=json has no number {k:?}: {ctx}"))
    };
    if n("failed")? != 0 {
        return Err(format!("failed items: {ctx}"));
    }
    if samples == 0 {
        return Err(format!(
            "the copy ended before /proc could be sampled once: {ctx}"
        ));
    }
    Ok(Usage {
        rss_kib,
        max_fds,
        end_fds,
        max_threads,
        samples,
        elapsed,
        counts: (n("files")?, n("directories")?, n("symlinks")?, n("bytes")?),
    })
}

/// The copy has the source's entries, contents and symlink targets
/// (`diff -r --no-dereference`, which holds nothing in memory).
fn same_tree(src: &Path, dst: &Path) -> Result<(), String> {
    let out = Command::new("diff")
        .args(["-r", "-q", "--no-dereference"])
        .arg(src)
        .arg(dst)
        .output()
        .expect("run diff");
    if out.status.success() {
        return Ok(());
    }
    let text = show(&out.stdout) + &show(&out.stderr);
    Err(format!(
        "the copy differs from the source (diff -r): {}",
        text.chars().take(2000).collect::<String>()
    ))
}

fn remove(d: &Path) {
    if fs::symlink_metadata(d).is_ok() {
        fs::remove_dir_all(d).unwrap_or_else(|e| panic!("remove {}: {e}", d.display()));
    }
}

/// A tree of `files` small files (0 to 8 KiB) in directories of
/// [`PER_DIR`], nested two levels, one in 20 with a second name elsewhere
/// and one in 50 a symlink, plus the same large files in every tree: one
/// past the 16 MiB "large file" threshold (queued for any worker, split into
/// ranges) and three of 6 MiB.
fn build_tree(root: &Path, files: usize, seed: u64) {
    let fx = Fx::new(root);
    fx.dir(".", 0o755);
    let mut rng = Rng(seed);
    let buf = rng.bytes(8 * 1024);
    for i in 0..files {
        let dir = format!("d{:03}/e{:02}", i / (PER_DIR * 10), (i / PER_DIR) % 10);
        let name = format!("{dir}/f{i:06}");
        if i % 50 == 7 {
            fx.symlink(&name, format!("f{:06}", i - 1));
            continue;
        }
        let size = rng.below(buf.len() as u64 + 1) as usize;
        fx.file(&name, 0o644, &buf[..size]);
        if i % 20 == 3 {
            fx.hardlink(&name, format!("d{:03}/links/l{i:06}", (i / 997) % 5));
        }
    }
    let big = rng.bytes((17 * MIB) as usize);
    fx.file("large/seventeen", 0o644, &big);
    for k in 0..3 {
        fx.file(
            format!("large/six{k}"),
            0o600,
            &big[k * 1000..][..(6 * MIB) as usize],
        );
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("uring-cp-soak.")
        .tempdir()
        .expect("tempdir")
}

#[test]
fn soak_memory_and_descriptors_stay_flat() {
    let Some(iterations) = soak_runs("memory and descriptors") else {
        return;
    };
    let tmp = tempdir();
    let small = tmp.path().join("small");
    let large = tmp.path().join("large");
    let t = Instant::now();
    build_tree(&small, SMALL_TREE, 1);
    build_tree(&large, LARGE_TREE, 2);
    notice(&format!(
        "soak: built trees of {SMALL_TREE} and {LARGE_TREE} files in {:.1?}",
        t.elapsed()
    ));
    let user_src: Option<PathBuf> = std::env::var_os("UCP_SOAK_SRC").map(PathBuf::from);
    let repeat_src = user_src.clone().unwrap_or_else(|| small.clone());
    let dst = tmp.path().join("dst");

    let mut problems = Vec::new();
    let mut report = Vec::new();
    for engine in engines() {
        // 1. One process, two tree sizes, caches warm for both (a run of
        //    each first, not measured).
        let mut by_size = Vec::new();
        for (label, src) in [("5k", &small), ("50k", &large)] {
            let attempt = || -> Result<Usage, String> {
                remove(&dst);
                measured_copy(engine, src, &dst)?;
                remove(&dst);
                let u = measured_copy(engine, src, &dst)?;
                same_tree(src, &dst)?;
                Ok(u)
            };
            match attempt() {
                Ok(u) => {
                    report.push(u.row(&format!("{engine} {label} tree")));
                    u.check_fds(&format!("engine {engine}, {label} tree"), &mut problems);
                    by_size.push(u);
                }
                Err(e) => problems.push(format!("engine {engine}, {label} tree: {e}")),
            }
        }
        if let [s, l] = &by_size[..]
            && !within(l.rss_kib, s.rss_kib, 25, 8)
        {
            problems.push(format!(
                "engine {engine}: peak RSS grows with the tree: {} for {SMALL_TREE} files, \
                 {} for {LARGE_TREE} (allowed: +25% + 8 MiB)",
                mib(s.rss_kib),
                mib(l.rss_kib)
            ));
        }

        // 2. Many processes.
        let mut runs: Vec<Usage> = Vec::new();
        for i in 0..iterations {
            remove(&dst);
            let what = format!("engine {engine}, run {} of {iterations}", i + 1);
            let u = match measured_copy(engine, &repeat_src, &dst) {
                Ok(u) => u,
                Err(e) => {
                    problems.push(format!("{what}: {e}"));
                    break;
                }
            };
            if user_src.is_none()
                && (i == 0 || i + 1 == iterations)
                && let Err(e) = same_tree(&repeat_src, &dst)
            {
                problems.push(format!("{what}: {e}"));
            }
            if let Some(first) = runs.first()
                && u.counts != first.counts
            {
                problems.push(format!(
                    "{what}: copied {:?} (files, dirs, symlinks, bytes), run 1 {:?}",
                    u.counts, first.counts
                ));
            }
            u.check_fds(&what, &mut problems);
            runs.push(u);
        }
        remove(&dst);
        if runs.is_empty() {
            continue;
        }
        let base_kib = runs.iter().take(3).map(|u| u.rss_kib).max().unwrap();
        for (i, u) in runs.iter().enumerate() {
            if !within(u.rss_kib, base_kib, 20, 4) {
                problems.push(format!(
                    "engine {engine}: run {} peaked at {}, the first three at most {} \
                     (allowed: +20% + 4 MiB)",
                    i + 1,
                    mib(u.rss_kib),
                    mib(base_kib)
                ));
            }
        }
        let list = |f: &dyn Fn(&Usage) -> String| runs.iter().map(f).collect::<Vec<_>>().join(" ");
        let secs: f64 = runs.iter().map(|u| u.elapsed.as_secs_f64()).sum();
        report.push(format!(
            "{engine}: {} runs of {} ({:.2} s each on average)",
            runs.len(),
            repeat_src.display(),
            secs / runs.len() as f64
        ));
        report.push(format!(
            "  peak RSS per run (MiB): {}",
            list(&|u| format!("{:.1}", u.rss_kib as f64 / 1024.0))
        ));
        report.push(format!(
            "  most fds per run:       {}",
            list(&|u| u.max_fds.to_string())
        ));
        report.push(format!(
            "  fds at the end per run: {}",
            list(&|u| u.end_fds.to_string())
        ));
    }
    notice(&format!("soak results:\n  {}", report.join("\n  ")));
    assert!(
        problems.is_empty(),
        "soak:\n  {}\n\nmeasurements:\n  {}",
        problems.join("\n  "),
        report.join("\n  ")
    );
}

#[test]
fn soak_many_directories_under_the_usual_descriptor_limit() {
    if soak_runs("many directories").is_none() {
        return;
    }
    let tmp = tempdir();
    let src = tmp.path().join("dirs");
    let fx = Fx::new(&src);
    fx.dir(".", 0o755);
    for i in 0..DIRS_TREE {
        fx.file(
            format!("p{:02}/d{i:05}/f", i / 100),
            0o644,
            vec![b'x'; i % 300],
        );
    }
    let dst = tmp.path().join("dst");
    let mut problems = Vec::new();
    let mut report = Vec::new();
    // The control: GNU cp under the same limit.
    let gnu = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {NOFILE} && exec {} -a \"$0\" \"$1\"",
            gnu_cp()
        ))
        .arg(&src)
        .arg(&dst)
        .output()
        .expect("run cp");
    assert!(
        gnu.status.success(),
        "fixture: GNU cp -a under ulimit -n {NOFILE}: {}",
        show(&gnu.stderr)
    );
    for engine in engines() {
        remove(&dst);
        let what = format!("engine {engine}, {DIRS_TREE} one-file directories");
        match measured_copy(engine, &src, &dst).and_then(|u| same_tree(&src, &dst).map(|()| u)) {
            // No bound on the most descriptors here beyond the limit
            // itself: how far the walk gets ahead of the copies decides it.
            Ok(u) => report.push(u.row(&format!("{engine} dirs tree"))),
            Err(e) => problems.push(format!("{what}: {e}")),
        }
    }
    notice(&format!("soak results:\n  {}", report.join("\n  ")));
    assert!(
        problems.is_empty(),
        "soak:\n  {}\n\nmeasurements:\n  {}",
        problems.join("\n  "),
        report.join("\n  ")
    );
}
