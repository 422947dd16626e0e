//! Probe: does deleting files through io_uring (`IORING_OP_UNLINKAT`) beat
//! plain `unlinkat(2)` calls?
//!
//! Usage: `unlink-probe <dir> <flat|dirs> <seq|ring64|ring256|ring64i|thr2> [N]`
//!
//! It creates N empty files (default 20,000) under `<dir>` — `flat`: all in one
//! directory; `dirs`: directories of 200 files each — then `sync`s so the
//! creates' writeback is not charged to the deletion, and times only the
//! deletion of the files (directories are left) with one method:
//!
//! * `seq`     – `unlinkat(dirfd, name, 0)` in a loop on one thread;
//! * `ringD`   – `IORING_OP_UNLINKAT` (dirfd + name) on one ring, keeping D
//!               requests in flight, reaping completions in batches;
//! * `ringDi`  – as `ringD`, but submitted round-robin across directories
//!               (best case for the ring: in-flight requests rarely share a
//!               parent, so io-wq workers don't queue on one dir's i_rwsem);
//! * `thr2`    – two threads doing `seq` on disjoint halves (different
//!               directories for `dirs`, halves of the one directory for `flat`).
//!
//! It prints wall time and process CPU (`getrusage(RUSAGE_SELF)`, user+sys).
//! UNLINKAT is always punted to io-wq (REQ_F_FORCE_ASYNC); io-wq workers are
//! `iou-wrk-*` threads of this process, so their CPU is in RUSAGE_SELF. To
//! show it, the output also gives the calling thread's own CPU
//! (`RUSAGE_THREAD`) and the CPU of the `iou-wrk` threads read from
//! `/proc/self/task/*/stat` while the ring is still alive.

use io_uring::{opcode, types, IoUring};
use std::ffi::CString;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

const PER_DIR: usize = 200;

fn cpu(who: i32) -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(who, &mut ru) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// (count, user+sys) of this process's io-wq worker threads, from /proc.
fn iowq_threads() -> (usize, Duration) {
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    let (mut n, mut ticks) = (0, 0u64);
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else { continue };
        let (head, rest) = stat.split_at(stat.rfind(')').unwrap());
        if !head.contains("iou-wrk") {
            continue;
        }
        let f: Vec<&str> = rest[2..].split(' ').collect(); // f[0] is field 3 (state)
        ticks += f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap(); // utime, stime
        n += 1;
    }
    (n, Duration::from_millis(ticks * 1000 / tick))
}

fn open_dir(p: &str) -> RawFd {
    let c = CString::new(p).unwrap();
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
    assert!(fd >= 0, "open {p}");
    fd
}

/// Files to delete: (dir fd, name), grouped by directory in creation order.
type Work = Vec<(RawFd, CString)>;

fn unlink_seq(work: &[(RawFd, CString)]) {
    for (dfd, name) in work {
        let r = unsafe { libc::unlinkat(*dfd, name.as_ptr(), 0) };
        assert_eq!(r, 0, "unlinkat: {}", std::io::Error::last_os_error());
    }
}

fn unlink_ring(work: &Work, depth: usize) -> (usize, Duration) {
    let mut ring = IoUring::new(depth as u32).unwrap();
    let (mut next, mut done, mut inflight) = (0, 0, 0);
    while done < work.len() {
        {
            let mut sq = ring.submission();
            while inflight < depth && next < work.len() {
                let (dfd, name) = &work[next];
                let e = opcode::UnlinkAt::new(types::Fd(*dfd), name.as_ptr()).build().user_data(next as u64);
                unsafe { sq.push(&e).unwrap() };
                next += 1;
                inflight += 1;
            }
        }
        ring.submit_and_wait(1).unwrap();
        for cqe in ring.completion() {
            assert_eq!(cqe.result(), 0, "UNLINKAT #{}: errno {}", cqe.user_data(), -cqe.result());
            done += 1;
            inflight -= 1;
        }
    }
    iowq_threads() // sampled before the ring (and its workers) go away
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 {
        eprintln!("usage: {} <dir> <flat|dirs> <seq|ring64|ring256|ring64i|thr2> [N]", a[0]);
        std::process::exit(2);
    }
    let (root, layout, method) = (&a[1], a[2].as_str(), a[3].as_str());
    let n: usize = a.get(4).map_or(20_000, |s| s.parse().unwrap());
    let ndirs = if layout == "flat" { 1 } else { n.div_ceil(PER_DIR) };
    let per_dir = n.div_ceil(ndirs);

    // Create the tree (not timed).
    let mut work: Work = Vec::with_capacity(n);
    for d in 0..ndirs {
        let dir = format!("{root}/d{d:03}");
        std::fs::create_dir_all(&dir).unwrap();
        let dfd = open_dir(&dir);
        for i in 0..per_dir.min(n - d * per_dir) {
            let name = CString::new(format!("f{i:06}")).unwrap();
            let fd = unsafe { libc::openat(dfd, name.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o644) };
            assert!(fd >= 0);
            unsafe { libc::close(fd) };
            work.push((dfd, name));
        }
    }
    unsafe { libc::sync() };

    let (c0, t0, w0) = (cpu(libc::RUSAGE_SELF), cpu(libc::RUSAGE_THREAD), Instant::now());
    let mut wq = (0, Duration::ZERO);
    match method {
        "seq" => unlink_seq(&work),
        "thr2" => {
            let (x, y) = work.split_at(work.len() / 2); // dir-major: halves are disjoint dirs
            std::thread::scope(|s| {
                s.spawn(|| unlink_seq(x));
                s.spawn(|| unlink_seq(y));
            });
        }
        m if m.starts_with("ring") && m.ends_with('i') => {
            let mut w = work.clone(); // round-robin across directories
            w.sort_by_key(|(dfd, name)| (name.clone(), *dfd));
            wq = unlink_ring(&w, m[4..m.len() - 1].parse().unwrap())
        }
        m if m.starts_with("ring") => wq = unlink_ring(&work, m[4..].parse().unwrap()),
        m => panic!("unknown method {m}"),
    }
    let wall = w0.elapsed();
    let (cself, cthr) = (cpu(libc::RUSAGE_SELF) - c0, cpu(libc::RUSAGE_THREAD) - t0);
    println!(
        "layout={layout} method={method} n={n} wall_ms={:.1} cpu_self_ms={:.1} cpu_mainthread_ms={:.1} iowq_threads={} iowq_cpu_ms={}",
        wall.as_secs_f64() * 1e3,
        cself.as_secs_f64() * 1e3,
        cthr.as_secs_f64() * 1e3,
        wq.0,
        wq.1.as_millis()
    );
}
