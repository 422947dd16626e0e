//! How file data is laid out in the copy: holes (`--sparse`).
//!
//! A source whose allocated blocks are fewer than its size may have holes
//! (cp's test; one stat the engines made anyway): it is copied extent by
//! extent, found with `SEEK_DATA`/`SEEK_HOLE`, each extent with the engine's
//! own range copy (`copy_file_range`, which clones on filesystems that can, or
//! read/write), and the holes are left unwritten; the size is set at the end,
//! so a trailing hole stays a hole. `--sparse=always` also reads every extent
//! and writes only the 4 KiB blocks that are not all zeros. Where the
//! filesystem cannot seek to data, the whole file counts as one extent.

use super::Ends;
use crate::error::{CopyError, Op};
use crate::tree::Item;
use rustix::fs::SeekFrom;
use rustix::io::Errno;
use std::os::fd::BorrowedFd;

/// Granularity of the holes `--sparse=always` makes.
const BLOCK: usize = 4096;

/// Copies one data extent `start..end` (with a scratch buffer); returns the bytes copied.
pub type RangeCopy<'a> = dyn FnMut(u64, u64, &mut Vec<u8>) -> Result<u64, CopyError> + 'a;

/// Copy `size` bytes of `src` into `dst` leaving holes where the source has
/// them (and, with `zeros`, where it has zero blocks). `range` copies one data
/// extent `start..end` and returns the bytes copied.
pub fn copy_sparse(
    item: &Item,
    ends: Ends<'_>,
    size: u64,
    zeros: bool,
    buf: &mut Vec<u8>,
    range: &mut RangeCopy<'_>,
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
        let reached = if zeros {
            copy_nonzero(item, src, dst, data, end, buf)?
        } else {
            data + range(data, end, buf)?
        };
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
