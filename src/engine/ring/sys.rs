//! The few raw calls the io_uring engines make outside the ring's own
//! crate, each behind a safe function, so that the engines' `unsafe` is
//! limited to handing the kernel their submissions (see `ops.rs` and the
//! engines' `push`).

/// Blocks this thread has read from storage so far (0 where the kernel does
/// not account it, or the call fails: then only `SYNC_FILES`
/// (`engine/uring/adapt.rs`) brings the ring back).
pub fn thread_blocks_read() -> u64 {
    // rustix has no getrusage.
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes at most one `rusage` into the zeroed buffer,
    // which outlives the call; on failure it is left zeroed.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, ru.as_mut_ptr()) };
    // SAFETY: all-zero bytes are a valid `rusage` (plain integers).
    let ru = unsafe { ru.assume_init() };
    ru.ru_inblock.max(0) as u64
}

/// A `statx` buffer for the ring's `STATX` to fill, at a stable address.
pub fn statx_buffer() -> Box<libc::statx> {
    // SAFETY: all-zero bytes are a valid `statx` (plain integers).
    Box::new(unsafe { std::mem::zeroed() })
}
