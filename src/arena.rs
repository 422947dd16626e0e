//! Memory under an address-space limit (`ulimit -v`, `RLIMIT_AS`).
//!
//! glibc gives each thread that allocates a malloc arena of its own, and
//! reserves 64 MiB of address space for each (`mmap` of 128 MiB, trimmed):
//! memory that is never touched, but that `RLIMIT_AS` counts. Under a limit
//! a copy then failed for want of address space it never used: copying a
//! directory of 10,000 files and 10,000 directories with `-al` took a limit
//! of 58 MB with the default two walkers and 362 MB with `-j 8`, where GNU
//! cp needs 6 MB; an allocation that fails aborts the process. With one
//! arena for every thread the same copy fits in 18 MB and 31 MB. Threads
//! then take turns on that arena's lock, so this is done only where a limit
//! is set.

/// Under a finite address-space limit, have every thread allocate from the
/// one main arena. Call it before any thread allocates.
pub(crate) fn one_arena_under_a_limit() {
    let limit = rustix::process::getrlimit(rustix::process::Resource::As);
    if limit.current.is_none() {
        return;
    }
    #[cfg(target_env = "gnu")]
    // SAFETY: `mallopt` only sets a parameter of glibc's allocator (its own
    // lock held); it touches no memory of ours, and a value it rejects is
    // reported by its return value (ignored: the copy then goes on with
    // glibc's defaults, as without this call).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
