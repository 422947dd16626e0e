//! A fixed pool of data-buffer memory, registered with the ring once.
//!
//! The whole pool is one registered buffer (index 0); READ_FIXED/WRITE_FIXED
//! address any range inside it, so a 4 KiB file takes 4 KiB and a large file
//! streams through 1 MiB chunks, all from the same region. Ranges are handed
//! out by `offset-allocator` (an O(1) range allocator). The pool's size is
//! `--buffer-mem`: data memory cannot grow past it, however many files are in
//! flight.
//!
//! If registration is refused (RLIMIT_MEMLOCK without CAP_IPC_LOCK), the same
//! memory is used with plain READ/WRITE.

use io_uring::Submitter;
use offset_allocator::{Allocation, Allocator};

pub struct BufPool {
    /// Start of the pool: an anonymous mapping owned by the pool and unmapped
    /// in `Drop`. No Rust reference to it exists while the kernel may write
    /// into it. Its pages appear only when first used, so a pool sized for
    /// the worst case costs nothing until it is needed.
    base: *mut u8,
    len: usize,
    alloc: Allocator,
    registered: bool,
    /// Set when I/O may still be in flight at drop time: then the memory is leaked.
    leak: bool,
}

/// A range of the pool, owned by one in-flight operation.
pub struct Buf {
    pub len: u32,
    offset: u32,
    allocation: Allocation,
}

impl BufPool {
    /// A pool of `len` bytes handing out at most `max_ranges` ranges at once
    /// (a request past that gets `None`, as when memory is short).
    ///
    /// The bound matters at start-up: the allocator writes a table entry for
    /// every range it could track, and its default (128 Ki entries, ~4 MiB
    /// of page faults) cost each ring ~3 ms, a quarter of a small copy's
    /// wall time.
    pub fn new(len: usize, max_ranges: u32) -> std::io::Result<Self> {
        let len = len.clamp(4096, u32::MAX as usize);
        // SAFETY: a fresh private anonymous mapping aliases nothing.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE,
            )
        }?;
        // SAFETY: advice about the mapping just made; it changes no contents.
        let _ = unsafe { rustix::mm::madvise(base, len, rustix::mm::Advice::LinuxHugepage) };
        let base = base.cast::<u8>();
        Ok(BufPool {
            base,
            len,
            // Each range in use can split a free region in two: twice the
            // ranges, and one more, is the most the allocator's table holds.
            alloc: Allocator::with_max_allocs(len as u32, max_ranges.saturating_mul(2) + 1),
            registered: false,
            leak: false,
        })
    }

    /// Register the pool as fixed buffer 0. Returns whether that worked.
    pub fn register(&mut self, submitter: &Submitter<'_>) -> bool {
        let iov = libc::iovec {
            iov_base: self.base.cast(),
            iov_len: self.len,
        };
        // SAFETY: the region is valid for `len` bytes and lives until `Drop`,
        // which runs after the ring (declared before the pool in the engine) is
        // closed and its registration gone, or never (see `leak`).
        self.registered = unsafe { submitter.register_buffers(&[iov]) }.is_ok();
        self.registered
    }

    pub fn registered(&self) -> bool {
        self.registered
    }

    pub fn get(&mut self, len: u32) -> Option<Buf> {
        let allocation = self.alloc.allocate(len.max(1))?;
        Some(Buf {
            len,
            offset: allocation.offset,
            allocation,
        })
    }

    pub fn put(&mut self, buf: Buf) {
        self.alloc.free(buf.allocation);
    }

    /// The address of a buffer, for an SQE.
    pub fn ptr(&self, buf: &Buf) -> *mut u8 {
        // SAFETY: `offset + len` lies inside the pool: the allocator only hands
        // out ranges of the `len` bytes it was created with.
        unsafe { self.base.add(buf.offset as usize) }
    }

    /// Keep the memory forever: operations may still be writing into it.
    pub fn leak(&mut self) {
        self.leak = true;
    }
}

impl Drop for BufPool {
    fn drop(&mut self) {
        if !self.leak {
            // SAFETY: `base`/`len` are the mapping made in `new`, and no
            // operation uses it any more.
            let _ = unsafe { rustix::mm::munmap(self.base.cast(), self.len) };
        }
    }
}
