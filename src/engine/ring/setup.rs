//! Creating the ring, and finding out at start-up whether io_uring works here.
//!
//! io_uring is often blocked: Docker's and containerd's default seccomp profiles
//! (EPERM from io_uring_setup), `kernel.io_uring_disabled` (EPERM), old kernels
//! (ENOSYS), unknown setup flags (EINVAL), RLIMIT_MEMLOCK (ENOMEM), or a filter
//! that allows setup but not io_uring_enter. Each is detected here and turned
//! into a reason string, so `--engine auto` can fall back to the portable
//! engine instead of failing.

use io_uring::{IoUring, Probe, opcode};

/// The opcodes the engine submits.
const NEEDED: &[(u8, &str)] = &[
    (opcode::Nop::CODE, "NOP"),
    (opcode::OpenAt::CODE, "OPENAT"),
    (opcode::Read::CODE, "READ"),
    (opcode::Write::CODE, "WRITE"),
    (opcode::ReadFixed::CODE, "READ_FIXED"),
    (opcode::WriteFixed::CODE, "WRITE_FIXED"),
    (opcode::Close::CODE, "CLOSE"),
    (opcode::Statx::CODE, "STATX"),
    (opcode::MkDirAt::CODE, "MKDIRAT"),
    (opcode::SymlinkAt::CODE, "SYMLINKAT"),
];

/// Build a ring with `entries` submission slots and a larger completion queue,
/// probe it, and prove it with a NOP round trip.
pub fn build(entries: u32, cq_entries: u32) -> Result<IoUring, String> {
    let ring = try_build(entries, cq_entries)?;
    let mut probe = Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| format!("io_uring probe failed: {}", reason(&e)))?;
    if let Some((_, name)) = NEEDED.iter().find(|(code, _)| !probe.is_supported(*code)) {
        return Err(format!("the kernel's io_uring lacks {name}"));
    }
    nop_round_trip(ring)
}

fn try_build(entries: u32, cq_entries: u32) -> Result<IoUring, String> {
    let mut last = None;
    let mut n = entries;
    // The kernel releases a closed ring's locked-memory charge asynchronously,
    // so right after another ring of this user closed, even the smallest ring
    // can be refused for a moment: wait briefly before giving up.
    let mut retries = 5;
    while n >= 8 {
        // Keep the completion queue in proportion as the ring shrinks.
        let cq = (u64::from(cq_entries) * u64::from(n) / u64::from(entries)) as u32;
        let cq = cq.max(n * 2);
        // COOP_TASKRUN: completions are not pushed at us with interrupts; we
        // reap them in batches. SUBMIT_ALL: one failing SQE does not stop the
        // rest of a batch. Older kernels reject the flags (EINVAL): try fewer.
        for flags in [true, false] {
            let mut b = IoUring::builder();
            if flags {
                b.setup_coop_taskrun().setup_submit_all();
            }
            match b.setup_cqsize(cq).build(n) {
                Ok(ring) => return Ok(ring),
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && flags => last = Some(e),
                // Locked-memory limit (ring memory is accounted): a smaller ring.
                Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => {
                    last = Some(e);
                    break;
                }
                Err(e) => return Err(setup_reason(&e)),
            }
        }
        if n / 2 < 8
            && retries > 0
            && last.as_ref().and_then(|e| e.raw_os_error()) == Some(libc::ENOMEM)
        {
            retries -= 1;
            std::thread::sleep(std::time::Duration::from_millis(20));
            continue;
        }
        n /= 2;
    }
    Err(last.map_or_else(|| "io_uring_setup failed".into(), |e| setup_reason(&e)))
}

fn nop_round_trip(mut ring: IoUring) -> Result<IoUring, String> {
    let nop = opcode::Nop::new().build().user_data(u64::MAX);
    // SAFETY: a NOP references no memory.
    unsafe { ring.submission().push(&nop) }.map_err(|_| "empty ring is full".to_string())?;
    ring.submit_and_wait(1)
        .map_err(|e| format!("io_uring_enter failed: {}", reason(&e)))?;
    let res = ring.completion().next().map(|cqe| cqe.result());
    match res {
        Some(r) if r >= 0 => Ok(ring),
        Some(r) => Err(format!(
            "NOP failed: {}",
            reason(&std::io::Error::from_raw_os_error(-r))
        )),
        None => Err("NOP did not complete".into()),
    }
}

fn reason(e: &std::io::Error) -> String {
    crate::error::strip_os_suffix(e)
}

fn setup_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EPERM) => {
            let sysctl = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .unwrap_or(0);
            if sysctl > 0 {
                format!("disabled by kernel.io_uring_disabled={sysctl}")
            } else {
                "io_uring_setup not permitted (a seccomp filter, as in containers)".into()
            }
        }
        Some(libc::ENOSYS) => "this kernel has no io_uring".into(),
        Some(libc::ENOMEM) => "not enough locked memory (RLIMIT_MEMLOCK) for a ring".into(),
        _ => format!("io_uring_setup failed: {}", reason(e)),
    }
}

/// Failed `io_uring_enter` calls in a row before a ring counts as broken.
const ENTER_ATTEMPTS: u32 = 3;

/// Submit what is queued and wait for `want` completions. EINTR and EBUSY
/// (completions must be reaped first) are no failure. Any other error is
/// tried again a few times, briefly spaced: an error that comes and goes (a
/// signal, memory pressure, an injected fault) leaves the ring usable, and
/// giving the ring up costs the work in flight. Only an error that persists
/// is returned: the caller then treats the ring as broken.
pub fn enter(ring: &IoUring, want: usize) -> std::io::Result<()> {
    let mut attempt = 1;
    loop {
        match ring.submit_and_wait(want) {
            Ok(_) => return Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => return Ok(()),
            Err(e) if attempt == ENTER_ATTEMPTS => return Err(e),
            Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(attempt as u64));
                attempt += 1;
            }
        }
    }
}

/// Whether the engine can run here (for `--version`).
pub fn availability() -> Result<(), String> {
    build(8, 16).map(drop)
}
