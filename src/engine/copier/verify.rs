//! `--verify`: each copied file is read back from the storage and compared
//! with its source before it is reported (and, in sync mode, before it is
//! renamed into place).
//!
//! Reading the copy back right after writing it would only read the page
//! cache, i.e. the bytes this run handed the kernel. So the copy's data is
//! written out first (`fdatasync`) and its cached pages dropped
//! (`posix_fadvise(DONTNEED)`, which drops clean pages): what is read next
//! comes from the device, through the filesystem's mapping of the file. Both
//! sides are then read in step and compared byte for byte, stopping at the
//! first difference (`sync::same_content`). A copy that differs is removed as
//! any failed copy is (`FileCopier::discard`) and reported with both paths;
//! the run exits 1.
//!
//! The cost is one `fdatasync` and one extra read of both sides per file;
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
        rustix::fs::fdatasync(dst).map_err(failed)?;
        // The same inode, opened for reading (a name someone else replaced
        // meanwhile is not the copy: that fails the check too).
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let back = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(failed)?;
        let (a, b) = (
            rustix::fs::fstat(&back).map_err(failed)?,
            rustix::fs::fstat(dst).map_err(failed)?,
        );
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
            return Err(failed(rustix::io::Errno::STALE));
        }
        // Advice only: where it cannot drop the pages, the comparison still runs.
        let _ = rustix::fs::fadvise(&back, 0, None, Advice::DontNeed);
        match crate::sync::same_content(src, back.as_fd(), size) {
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
