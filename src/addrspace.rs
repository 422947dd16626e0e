//! Address space under a limit (`ulimit -v`, `RLIMIT_AS`), and the one
//! place threads are built.
//!
//! A limit counts address space reserved and never touched, and an
//! allocation it refuses aborts the process, so under a limit the process
//! reserves less:
//! - glibc gives each thread that allocates a malloc arena of its own, and
//!   reserves 64 MiB of address space for each (`mmap` of 128 MiB,
//!   trimmed). Copying a directory of 10,000 files and 10,000 directories
//!   with `-al` took a limit of 58 MB with the default two walkers and
//!   362 MB with `-j 8`, where GNU cp needs 6 MB. Under a limit every thread
//!   allocates from the one main arena (threads then take turns on its lock,
//!   so not without a limit).
//! - Rust reserves 2 MiB of stack per thread. Under a limit the threads this
//!   program starts get [`THREAD_STACK`]: none of them recurses (the walk
//!   keeps its own stack of directories; a chain of parent directories is
//!   dropped in a loop), and every integration test passes with the
//!   binary's threads at 64 KiB.
//! - A ring's buffer pool (16 MiB by default) is one mapping, and the
//!   all-in-ring engine may run several rings. Under a limit each pool is
//!   [`LIMITED_POOL`] (reads then wait for buffers, or the uring engine
//!   copies the file with system calls): pools that just fitted left too
//!   little for the copy's own allocations, and a copy aborted (exit 134)
//!   under a limit between what the pools needed and what the whole run
//!   needed, where a lower limit gave a clean "cannot map the buffer pool".
//!
//! - A ring is set up only with [`RING_HEADROOM`] of address space to
//!   spare beyond its pool ([`room_for_ring`]); a worker without one copies
//!   with system calls. The all-in-ring engine (a ring per worker) aborted
//!   across ~8 MB of limits where its rings fitted and the copy did not.
//!
//! A copy that still runs out stops with GNU cp's "memory exhausted" and
//! exit status 1 (`exhausted.rs`).
//!
//! With these (and the walker's smaller records of directories to visit),
//! GNU's link-heap.sh passes: `cp -al` of a directory holding two such
//! directories fits within 4 MB of what copying one file takes.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread::Builder;

/// The stack of a thread started under an address-space limit.
pub(crate) const THREAD_STACK: usize = 256 << 10;

/// Whether [`economize_under_a_limit`] found a limit.
static LIMITED: AtomicBool = AtomicBool::new(false);

/// Under a finite address-space limit, have every thread allocate from the
/// one main arena, and start threads with small stacks. Call it before any
/// thread is started.
pub(crate) fn economize_under_a_limit() {
    let limit = rustix::process::getrlimit(rustix::process::Resource::As);
    if limit.current.is_none() {
        return;
    }
    LIMITED.store(true, Relaxed);
    #[cfg(target_env = "gnu")]
    // SAFETY: `mallopt` only sets a parameter of glibc's allocator (its own
    // lock held); it touches no memory of ours, and a value it rejects is
    // reported by its return value (ignored: the copy then goes on with
    // glibc's defaults, as without this call).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// A ring's buffer pool under a limit: the largest buffer the ring engines
/// ask for at once, so one request always fits an empty pool.
pub(crate) const LIMITED_POOL: usize = 1 << 20;

/// The size of a ring's buffer pool for `wanted` bytes: at most
/// [`LIMITED_POOL`] under a limit.
pub(crate) fn pool_bytes(wanted: usize) -> usize {
    match LIMITED.load(Relaxed) {
        true => wanted.min(LIMITED_POOL),
        false => wanted,
    }
}

/// Address space a ring must leave free under a limit, past its pool: what
/// the rest of a copy takes (the walk's records, items in queues, the
/// hard-link map). The all-in-ring engine runs a ring per `-j` worker (each
/// ~1.5 MB with its pool, tables and thread); rings that just fitted left
/// too little for the copy itself.
const RING_HEADROOM: u64 = 16 << 20;

/// Is there room for one more ring under the limit (always, without one)?
/// A worker without a ring copies with system calls.
pub(crate) fn room_for_ring() -> bool {
    room_for(LIMITED_POOL as u64 + RING_HEADROOM)
}

/// Are `bytes` of address space free under the limit (always, without
/// one)? Unknown (no /proc): yes, as before these checks.
fn room_for(bytes: u64) -> bool {
    if !LIMITED.load(Relaxed) {
        return true;
    }
    let Some(limit) = rustix::process::getrlimit(rustix::process::Resource::As).current else {
        return true;
    };
    vm_size().is_none_or(|used| limit.saturating_sub(used) >= bytes)
}

/// Address space a new thread must leave free under a limit, past its
/// stack: Rust's runtime maps the thread's signal stack from inside the new
/// thread and aborts the process when that mapping is refused (seen as a
/// SIGABRT at a limit where the thread's stack had just fitted).
const THREAD_HEADROOM: u64 = 1 << 20;

/// Is there room for one more thread under the limit (always, without
/// one)? A thread that cannot start is its caller's to handle
/// (`threads.rs`), as under a pids limit.
pub(crate) fn room_for_thread() -> bool {
    room_for(THREAD_STACK as u64 + THREAD_HEADROOM)
}

/// The process's address space now (`VmSize`), in bytes.
fn vm_size() -> Option<u64> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        c"/proc/self/statm",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut buf = [0u8; 128];
    let n = rustix::io::read(&fd, &mut buf).ok()?;
    let pages: u64 = std::str::from_utf8(&buf[..n])
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(pages * rustix::param::page_size() as u64)
}

/// A builder for a thread named `name`: every thread this program starts is
/// built here, with a small stack under an address-space limit.
pub(crate) fn thread(name: impl Into<String>) -> Builder {
    let builder = Builder::new().name(name.into());
    match LIMITED.load(Relaxed) {
        true => builder.stack_size(THREAD_STACK),
        false => builder,
    }
}
