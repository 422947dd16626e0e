//! How file data is laid out in the copy: holes (`--sparse`).
//!
//! A source whose allocated blocks are fewer than its size may have holes
//! (cp's test; one stat the engines made anyway), and so is every source
//! under `--sparse=always`: it is copied extent by extent, found with
//! `SEEK_DATA`/`SEEK_HOLE`, the holes left unwritten, and each extent read
//! and written but for its 4 KiB blocks that are all zeros; the size is set
//! at the end, so a trailing hole stays a hole. Where the filesystem cannot
//! seek to data, the whole file counts as one extent.
//!
//! Why the zero blocks of a sparse source's data too, under the default
//! `--sparse=auto`: GNU cp does (its `lseek_copy`: "SEEK_HOLE is conservative
//! and may miss some holes"), and the filesystems do miss some. xfs reports
//! the speculative preallocation past a file's last write, once that range
//! has been read, as data: 10 KiB written and the file grown to 1.1 MiB
//! copied as 72 KiB of blocks where cp's copy has 12 (found by
//! `tests/proptest/` within xfs). A source with no holes is copied whole,
//! its zeros as data, as cp does.

use super::Ends;
use crate::error::{CopyError, Op};
use crate::tree::Item;
use rustix::fs::SeekFrom;
use rustix::io::Errno;
use std::os::fd::BorrowedFd;

/// Granularity of the holes made of zero blocks.
const BLOCK: usize = 4096;

/// Copy `size` bytes of `src` into `dst` leaving holes where the source has
/// them and where its data has blocks of zeros.
pub fn copy_sparse(
    item: &Item,
    ends: Ends<'_>,
    size: u64,
    buf: &mut Vec<u8>,
) -> Result<u64, CopyError> {
    let (src, dst) = (ends.src, ends.dst);
    let mut off = 0;
    while off < size {
        let data = match rustix::fs::seek(src, SeekFrom::Data(off)) {
            Ok(d) => d,
            // Only a hole from here to the end.
            Err(Errno::NXIO) => break,
            // No SEEK_DATA here: all of it is data.
            Err(Errno::INVAL | Errno::NOTSUP) => off,
            Err(e) => return Err(item.error(Op::Seek, false, e.into())),
        };
        if data >= size {
            break;
        }
        let end = match rustix::fs::seek(src, SeekFrom::Hole(data)) {
            Ok(h) => h.min(size),
            Err(Errno::INVAL | Errno::NOTSUP | Errno::NXIO) => size,
            Err(e) => return Err(item.error(Op::Seek, false, e.into())),
        };
        let reached = copy_nonzero(item, src, dst, data, end, buf)?;
        if reached < end {
            // The data ended before the size said (a /sys file reports 4096
            // bytes and holds a few, or the file shrank): that is its end.
            rustix::fs::ftruncate(dst, reached)
                .map_err(|e| item.error(Op::Write, true, e.into()))?;
            return Ok(reached);
        }
        off = end;
    }
    rustix::fs::ftruncate(dst, size).map_err(|e| item.error(Op::Write, true, e.into()))?;
    Ok(size)
}

/// Copy `start..end`, skipping the blocks that are all zeros. Returns the
/// offset reached (before `end` at an early end of file).
fn copy_nonzero(
    item: &Item,
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    start: u64,
    end: u64,
    buf: &mut Vec<u8>,
) -> Result<u64, CopyError> {
    if buf.len() < BLOCK * 32 {
        buf.resize(BLOCK * 32, 0);
    }
    let mut off = start;
    while off < end {
        let want = ((end - off) as usize).min(buf.len());
        let n = match rustix::io::pread(src, &mut buf[..want], off) {
            Ok(0) => return Ok(off),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(item.error(Op::Read, false, e.into())),
        };
        // Write each run of blocks that are not all zeros.
        let data = &buf[..n];
        let mut i = 0;
        while i < n {
            let block = |i: usize| &data[i..(i + BLOCK).min(n)];
            if block(i).iter().all(|&b| b == 0) {
                i += BLOCK;
                continue;
            }
            let run = i;
            while i < n && !block(i).iter().all(|&b| b == 0) {
                i += BLOCK;
            }
            let run_end = i.min(n);
            let mut done = run;
            while done < run_end {
                match rustix::io::pwrite(dst, &data[done..run_end], off + done as u64) {
                    Ok(w) => done += w,
                    Err(Errno::INTR) => {}
                    Err(e) => return Err(item.error(Op::Write, true, e.into())),
                }
            }
        }
        off += n as u64;
    }
    Ok(off)
}
