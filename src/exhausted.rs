//! When memory runs out: a message and exit status 1, as GNU cp's
//! `xalloc_die` ("memory exhausted"), not an abort.
//!
//! Rust aborts the process when an allocation fails (SIGABRT, exit status
//! 134 in a shell, a core dump where enabled) after printing "memory
//! allocation of N bytes failed". Under an address-space limit (`ulimit -v`)
//! that happened for every engine in a band of limits between what start-up
//! needs and what a whole copy needs. The process's allocator is the
//! system's (glibc `malloc`, as Rust's default), wrapped so that a refusal
//! prints what failed and exits with status 1 at once.
//!
//! What that leaves is GNU cp's: files being written at that instant stay as
//! they are (the status says the copy failed), a file being replaced keeps its
//! old contents under its name (the new one is written under a temporary
//! name, which is left), and nothing is cleaned up: cleaning up needs memory.
//! Nothing here allocates.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;

/// The system allocator, exiting with a message when it refuses.
pub struct ExitWhenExhausted;

// SAFETY: every method passes its arguments unchanged to the same method of
// `System`, which upholds `GlobalAlloc`'s contract, and returns its result
// unchanged; the one addition runs only when that result is null, and then
// never returns (`_exit`), so no caller ever sees a null pointer or a block
// that `System` did not hand out.
unsafe impl GlobalAlloc for ExitWhenExhausted {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            exhausted(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed` is `System`'s.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            exhausted(layout.size());
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator, that is from `System`
        // (every allocation above is `System`'s), with `layout`: the
        // caller's contract for `realloc` is `System.realloc`'s.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            exhausted(new_size);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `realloc`: `ptr` is `System`'s, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Say that `size` bytes could not be allocated, and under what limit, then
/// exit with status 1 without running anything else (other threads keep
/// what they hold; destructors and exit handlers could allocate).
fn exhausted(size: usize) -> ! {
    let mut msg = [0u8; 160];
    let unwritten = {
        let mut out = &mut msg[..];
        let _ = write!(
            out,
            "uring-cp: memory exhausted (an allocation of {size} bytes failed"
        );
        if let Some(limit) = rustix::process::getrlimit(rustix::process::Resource::As).current {
            let _ = write!(out, " under ulimit -v {}", limit / 1024);
        }
        let _ = writeln!(out, ")");
        out.len()
    };
    let len = msg.len() - unwritten;
    // SAFETY: `write` reads `len` bytes of `msg`, which holds them (a closed
    // standard error only makes it fail); `_exit` ends the process at once
    // and touches no memory of ours.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), len);
        libc::_exit(crate::exit::MEMORY_EXHAUSTED)
    }
}
