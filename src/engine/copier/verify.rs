//! `--verify`: each copied file is read back from the storage and compared
//! with its source before it is reported (and, in sync mode, before it is
//! renamed into place).
//!
//! Reading the copy back right after writing it would only read the page
//! cache, i.e. the bytes this run handed the kernel. So the copy is read
//! with `O_DIRECT`: the kernel writes its dirty range out first and the read
//! comes from the device, through the filesystem's mapping of the file,
//! without the journal commit an `fdatasync` costs. Where direct I/O is not
//! supported, the copy is written out (`fdatasync`) and its cached pages
//! dropped (`posix_fadvise(DONTNEED)`) instead. Both sides are read in step
//! and compared byte for byte, stopping at the first difference. A copy that differs is removed as
//! any failed copy is (`FileCopier::discard`) and reported with both paths;
//! the run exits 1.
//!
//! The cost is the write-out and one extra read of both sides per file;
//! workers verify in parallel, so one file's verification overlaps the other
//! workers' copies (benches/RESULTS-verify.md).

use super::FileCopier;
use crate::error::{CopyError, Op, quote};
use crate::tree::Item;
use rustix::fs::{Advice, Mode, OFlags};
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd};

impl FileCopier {
    /// Compare the copy of `item`, `size` bytes written through `dst` (open
    /// for writing only) under `name` in the directory `dir`, read back past
    /// the page cache, with its source `src`.
    pub(super) fn verify(
        &self,
        item: &Item,
        src: BorrowedFd<'_>,
        (dir, name, dst): (BorrowedFd<'_>, &CStr, BorrowedFd<'_>),
        size: u64,
    ) -> Result<(), CopyError> {
        let failed = |e: rustix::io::Errno| item.error(Op::Verify, true, e.into());
        // O_DIRECT first: a direct read makes the kernel write the range out
        // and then reads the device, with no journal commit (an fdatasync
        // per file made copying a tree of small files 5.6x slower).
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let (back, direct) =
            match rustix::fs::openat(dir, name, flags | OFlags::DIRECT, Mode::empty()) {
                Ok(fd) => (fd, true),
                // No direct I/O here (tmpfs, some FUSE filesystems): write the
                // copy out and drop its cached pages instead.
                Err(_) => {
                    rustix::fs::fdatasync(dst).map_err(failed)?;
                    let fd = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(failed)?;
                    // Advice only: where it cannot drop the pages, the comparison still runs.
                    let _ = rustix::fs::fadvise(&fd, 0, None, Advice::DontNeed);
                    (fd, false)
                }
            };
        // The same inode (a name someone else replaced meanwhile is not the
        // copy: that fails the check too).
        let (a, b) = (
            rustix::fs::fstat(&back).map_err(failed)?,
            rustix::fs::fstat(dst).map_err(failed)?,
        );
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
            return Err(failed(rustix::io::Errno::STALE));
        }
        let compared = match direct {
            true => same_direct(src, back.as_fd(), size),
            false => crate::sync::same_content(src, back.as_fd(), size),
        };
        match compared {
            Ok(true) => Ok(()),
            Ok(false) => Err(item.error(
                Op::Verify,
                true,
                std::io::Error::other(format!(
                    "the copy read back differs from {}",
                    quote(&item.src_path())
                )),
            )),
            Err((true, e)) => Err(item.error(Op::Read, false, e)),
            Err((false, e)) => Err(item.error(Op::Verify, true, e)),
        }
    }
}

/// Compare the source `src` with `back`, the copy opened with `O_DIRECT`:
/// read in aligned chunks (4 KiB-aligned buffer, offsets and lengths), so
/// every read of the copy comes from the device. Errors as
/// [`crate::sync::same_content`]'s.
fn same_direct(
    src: BorrowedFd<'_>,
    back: BorrowedFd<'_>,
    size: u64,
) -> Result<bool, (bool, std::io::Error)> {
    const ALIGN: usize = 4096;
    const CHUNK: usize = 1 << 20;
    let len = usize::try_from(size)
        .unwrap_or(CHUNK)
        .clamp(1, CHUNK)
        .next_multiple_of(ALIGN);
    let mut raw = vec![0u8; len + ALIGN];
    let start = raw.as_ptr().align_offset(ALIGN);
    let b = &mut raw[start..start + len];
    let mut a = vec![0u8; len];
    let mut off = 0u64;
    loop {
        let n = crate::sync::read_full(src, &mut a, off).map_err(|e| (true, e))?;
        let m = loop {
            match rustix::io::pread(back, &mut *b, off) {
                Err(rustix::io::Errno::INTR) => {}
                other => break other.map_err(|e| (false, e.into()))?,
            }
        };
        if n != m || a[..n] != b[..m] {
            return Ok(false);
        }
        if n < len {
            return Ok(true); // both ended here
        }
        off += len as u64;
    }
}
