//! The byte mover: copies a range of one file into another, and nothing else.
//!
//! Every byte is placed at an explicit offset on both sides (`copy_file_range`
//! and `splice` with offsets, `pread`/`pwrite`). A file position left by an
//! earlier attempt is never trusted: a copy that starts again (its source
//! changed, see `FileCopier`) or a range copied by another thread must not
//! continue where an earlier attempt left a descriptor's position.
//! (`sendfile` writes at the destination's position: once, used as it was,
//! after `ftruncate(out, 0)` it went on at the old offset and left zeros
//! before the data; now `sendfile()` here sets the position to the range's
//! offset first, so it is the explicit offset.) The only exceptions are
//! ends that have no offsets: a source of unknown size read to EOF (a
//! pseudo-file, a device named without -r) and a destination that is not a
//! regular file (a device or FIFO named as DEST), both read or written in
//! sequence as cp does.
//!
//! The ways to move bytes, tried in order:
//! 0. A clone (`FICLONE`) of the whole file, under `--reflink=auto`, the
//!    default: on btrfs and xfs a copy within one filesystem then shares the
//!    source's blocks and costs metadata only, as cp's does. Whether a pair
//!    of devices can clone is learnt from the first attempt and remembered
//!    ([`Mover::may_clone`]), so a filesystem that cannot (ext4) costs one
//!    failed `ioctl` per pair, not one per file; the engines ask before they
//!    read a file themselves, and give it to the synchronous copier where
//!    it may be cloned.
//! 1. `copy_file_range`: in-kernel, and a clone on filesystems that share
//!    blocks (btrfs, xfs). Whether it works depends on the pair of
//!    filesystems, so a refusal (`EXDEV`, `EOPNOTSUPP`, `ENOSYS`) is
//!    remembered per (source device, destination device): one `/proc` file or
//!    one operand on another filesystem does not turn it off for the rest of
//!    the run. `EINVAL` is about the file, not the pair, and is not remembered.
//! 2. `splice` through a pipe, for what `copy_file_range` cannot move
//!    (between filesystems); from `SENDFILE_MIN` (1 MiB) up, `sendfile`, the
//!    same splice loop inside the kernel: the source's cached pages go
//!    into the pipe by reference and are copied once, into the destination,
//!    against twice for read/write (into the buffer and out of it). Each
//!    thread keeps its pipe for the next file (a new pipe per file cost four
//!    more system calls). Small files are most of a real tree: /usr/share
//!    (43k files) into ext4 on another filesystem, walkers engine, 7 runs,
//!    medians: 1,426 -> 1,389 ms, CPU 2,757 -> 2,695; a CPython tree 1,647 ->
//!    1,499 ms (CPU 3,172 -> 2,856); /usr/include 293 -> 257; into xfs
//!    1,907 -> 1,807, 1,828 -> 1,723, 366 -> 307. Like `copy_file_range`, a
//!    refusal (nothing moved, `EINVAL`: a filesystem without splice) is
//!    remembered per pair of devices.
//! 3. `pread`/`pwrite` through the caller's buffer.
//!
//! Any other error from 1 or 2 continues the range with 3 from the last byte
//! written, so a failure is reported by the step that knows which side failed
//! ("error reading SRC" for EIO on the source, "error writing DST" for ENOSPC).

pub mod clonefs;
pub mod holes;
mod verdicts;

use crate::error::{CopyError, Op};
use crate::tree::Item;
use rustix::io::Errno;
use rustix::pipe::SpliceFlags;
use std::os::fd::{BorrowedFd, OwnedFd};
use verdicts::Verdicts;

/// Most bytes moved by one copy_file_range call, and between two looks for an
/// interrupt (64 MiB take ~30 ms here).
const STEP: u64 = 64 << 20;
/// The pipe splice moves data through: the kernel's default, as `sendfile`
/// uses. Measured on two hosts, one 2 GiB file into ext4 on one thread: on
/// an AMD EPYC VM 256 KiB took 945-1,052 ms and 64 KiB 1,110-1,221 (larger
/// pipes were slower still: 1 MiB 1,892-2,088); on an Intel Xeon VM 256 KiB
/// was bimodal, 430-1,190 ms (median 600, 9 runs; cold 748 against fcp's
/// 556), and 64 KiB steady at 460-490 (median 470; cold 567), level with
/// fcp's and cpz's `sendfile`. Trees (mostly files under 64 KiB) do not
/// tell the two apart (/usr/share warm, 10 runs: 360 ms both).
const PIPE_SIZE: usize = 64 << 10;

/// The two ends of one file's copy.
#[derive(Clone, Copy)]
pub struct Ends<'a> {
    pub src: BorrowedFd<'a>,
    pub dst: BorrowedFd<'a>,
    /// (source device, destination device): the key of the copy_file_range verdict.
    pub devs: (u64, u64),
    /// The destination is a regular file, written at explicit offsets; else
    /// (a device, a FIFO) it is written in sequence and only read/write is used.
    pub dst_regular: bool,
}

/// Moves byte ranges; shared by all the workers of a run.
pub struct Mover {
    /// Buffer size for read/write.
    chunk: usize,
    /// copy_file_range may be tried at all (not with --reflink=never: it may clone).
    cfr: bool,
    /// Device pairs between which copy_file_range was refused.
    refused: Verdicts,
    /// Device pairs between which splice was refused.
    splice_refused: Verdicts,
    /// --reflink=auto: whole files may be cloned.
    clone: bool,
    /// Device pairs whose clone verdict is known: `true` where FICLONE
    /// worked, `false` where it was refused.
    clones: Verdicts,
}

impl Mover {
    /// `cfr`: copy_file_range may be used (it may clone); `clone`: whole
    /// files may be cloned with FICLONE first (--reflink=auto).
    pub fn new(chunk: usize, cfr: bool, clone: bool) -> Self {
        Mover {
            chunk,
            cfr,
            refused: Verdicts::default(),
            splice_refused: Verdicts::default(),
            clone,
            clones: Verdicts::default(),
        }
    }

    /// Could a file from device `devs.0` to device `devs.1` be cloned, as far
    /// as is known? (Unknown counts as yes: the first file finds out.)
    pub fn may_clone(&self, devs: (u64, u64)) -> bool {
        self.clone && self.clone_known(devs) != Some(false)
    }

    /// What the pair of devices answered to a clone, if it was asked yet.
    fn clone_known(&self, devs: (u64, u64)) -> Option<bool> {
        self.clones.get(devs)
    }

    /// Clone the whole source into the (empty) destination, where the pair of
    /// devices may clone. Returns whether it did; when not, nothing was
    /// written and the bytes are moved another way. A refusal that is about
    /// the filesystems (`EOPNOTSUPP`, `EXDEV`, `ENOTTY`, `ENOSYS`) is
    /// remembered for the pair; any other error (a file the filesystem will
    /// not clone, a read error) is left to the other ways, which report it.
    pub fn clone_whole(&self, ends: Ends<'_>) -> bool {
        let known = self.clone_known(ends.devs);
        if !ends.dst_regular || !self.clone || known == Some(false) {
            return false;
        }
        let verdict = match rustix::fs::ioctl_ficlone(ends.dst, ends.src) {
            Ok(()) => Some(true),
            Err(Errno::OPNOTSUPP | Errno::XDEV | Errno::NOTTY | Errno::NOSYS) => Some(false),
            Err(_) => None,
        };
        // Written only when new: the walkers share this map, file after file.
        if let Some(v) = verdict
            && verdict != known
        {
            self.clones.set(ends.devs, v);
        }
        verdict == Some(true)
    }

    fn cfr_works(&self, devs: (u64, u64)) -> bool {
        self.cfr && !known(&self.refused, devs)
    }

    /// Copy bytes `start..end` of the source to the same offsets of the
    /// destination, or, when `end` is `None` (size unknown), read the source
    /// in sequence to EOF and write from `start`. Returns the bytes copied
    /// (fewer than asked at an early end of file).
    pub fn copy(
        &self,
        item: &Item,
        ends: Ends<'_>,
        start: u64,
        end: Option<u64>,
        buf: &mut Vec<u8>,
    ) -> Result<u64, CopyError> {
        let mut off = start;
        if let Some(end) = end
            && ends.dst_regular
        {
            if self.cfr_works(ends.devs) {
                match self.copy_file_range(item, ends, &mut off, end)? {
                    Moved::All => return Ok(off - start),
                    Moved::Refused if off == start => remember(&self.refused, ends.devs),
                    Moved::Refused | Moved::Failed => {}
                }
            }
            if off < end && !known(&self.splice_refused, ends.devs) {
                let from = off;
                let moved = match end - off >= SENDFILE_MIN {
                    true => sendfile(item, ends, &mut off, end)?,
                    false => splice(item, ends, &mut off, end)?,
                };
                match moved {
                    Moved::All => return Ok(off - start),
                    Moved::Refused if off == from => remember(&self.splice_refused, ends.devs),
                    Moved::Refused | Moved::Failed => {}
                }
            }
        }
        if buf.is_empty() {
            buf.resize(self.chunk, 0);
        }
        loop {
            let want = end
                .map_or(buf.len() as u64, |e| e - off)
                .min(buf.len() as u64) as usize;
            if want == 0 {
                return Ok(off - start);
            }
            stop_if_interrupted(item)?;
            let r = match end {
                Some(_) => rustix::io::pread(ends.src, &mut buf[..want], off),
                None => rustix::io::read(ends.src, &mut buf[..want]),
            };
            let n = match r {
                Ok(0) => return Ok(off - start),
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(item.error(Op::Read, false, e.into())),
            };
            write_all_at(ends.dst, &buf[..n], off, ends.dst_regular)
                .map_err(|e| item.error(Op::Write, true, e.into()))?;
            off += n as u64;
        }
    }

    /// Move `*off..end` with copy_file_range, advancing `*off`.
    fn copy_file_range(
        &self,
        item: &Item,
        ends: Ends<'_>,
        off: &mut u64,
        end: u64,
    ) -> Result<Moved, CopyError> {
        while *off < end {
            stop_if_interrupted(item)?;
            let (mut i, mut o) = (*off, *off);
            let want = (end - *off).min(STEP) as usize;
            match rustix::fs::copy_file_range(ends.src, Some(&mut i), ends.dst, Some(&mut o), want)
            {
                // An early end of the source (it shrank), or a filesystem
                // that answers 0 instead of an error: read/write finds out.
                Ok(0) => return Ok(Moved::Failed),
                Ok(n) => *off += n as u64,
                Err(Errno::INTR) => {}
                Err(Errno::XDEV | Errno::NOSYS | Errno::OPNOTSUPP) => return Ok(Moved::Refused),
                Err(_) => return Ok(Moved::Failed),
            }
        }
        Ok(Moved::All)
    }
}

/// Is `devs` in the set (a verdict remembered for a pair of devices)?
fn known(set: &Verdicts, devs: (u64, u64)) -> bool {
    set.get(devs).is_some()
}

fn remember(set: &Verdicts, devs: (u64, u64)) {
    set.set(devs, true);
}

/// How far a fast way of moving bytes got.
#[derive(Debug, PartialEq, Eq)]
enum Moved {
    /// The whole range (or to an early end of file).
    All,
    /// It does not work between these filesystems (nothing was moved by it).
    Refused,
    /// It stopped at `*off`; the rest goes the plain way.
    Failed,
}

/// Ranges this long and longer are moved with [`sendfile`] rather than
/// [`splice`]: two system calls per 64 KiB add up over a large file. One 2
/// GiB file into ext4 (RAM-backed), warm, hyperfine 21 runs, medians: splice
/// 473 ms (CPU 565), sendfile 449 (CPU 491); fcp 455, cpz 465. Cold (caches
/// dropped, 9 interleaved runs): splice 553, sendfile 566, fcp 576, cpz 581
/// (within this host's noise). Small files gained nothing measurable from
/// it (CPU -0.6% over /usr/share) and keep the splice.
const SENDFILE_MIN: u64 = 1 << 20;

/// Move `*off..end` with `sendfile`, advancing `*off`: the kernel's own
/// splice loop, one system call per [`STEP`] instead of two per pipe-full.
/// `sendfile` writes at the destination's file position, so that is set to
/// `*off` first and is then the explicit offset (each call moves the source
/// offset and the position by the same count). The destination descriptor is
/// one copy's own: a file is one range on one thread (`FileCopier::copy`),
/// and the ranges of a sparse copy are moved one after another.
fn sendfile(item: &Item, ends: Ends<'_>, off: &mut u64, end: u64) -> Result<Moved, CopyError> {
    if rustix::fs::seek(ends.dst, rustix::fs::SeekFrom::Start(*off)).is_err() {
        return Ok(Moved::Failed);
    }
    let from = *off;
    while *off < end {
        stop_if_interrupted(item)?;
        let mut i = *off;
        let want = (end - *off).min(STEP) as usize;
        match rustix::fs::sendfile(ends.dst, ends.src, Some(&mut i), want) {
            Ok(0) => return Ok(Moved::All),
            Ok(n) => *off += n as u64,
            Err(Errno::INTR) => {}
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) if *off == from => {
                return Ok(Moved::Refused);
            }
            Err(_) => return Ok(Moved::Failed),
        }
    }
    Ok(Moved::All)
}

/// A thread's pipe for [`splice`], kept between files: (read end, write
/// end, capacity). Taken out while in use; put back only empty (after a
/// range moved in full), so no byte of one file can reach another.
type Pipe = (OwnedFd, OwnedFd, usize);

thread_local! {
    static PIPE: std::cell::Cell<Option<Pipe>> = const { std::cell::Cell::new(None) };
}

/// Move `*off..end` from file to file through a pipe, with explicit offsets
/// on both files, advancing `*off` by what reached the destination.
fn splice(item: &Item, ends: Ends<'_>, off: &mut u64, end: u64) -> Result<Moved, CopyError> {
    let pipe = match PIPE.take() {
        Some(p) => p,
        None => {
            let Ok((r, w)) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) else {
                return Ok(Moved::Failed);
            };
            let cap = rustix::pipe::fcntl_setpipe_size(&w, PIPE_SIZE)
                .or_else(|_| rustix::pipe::fcntl_getpipe_size(&w))
                .unwrap_or(64 << 10);
            (r, w, cap)
        }
    };
    let moved = splice_through(item, ends, off, end, &pipe)?;
    if moved == Moved::All {
        PIPE.set(Some(pipe));
    }
    Ok(moved)
}

fn splice_through(
    item: &Item,
    ends: Ends<'_>,
    off: &mut u64,
    end: u64,
    (r, w, cap): &Pipe,
) -> Result<Moved, CopyError> {
    let mut read_off = *off;
    while *off < end {
        stop_if_interrupted(item)?;
        let want = ((end - read_off) as usize).min(*cap);
        let n = match rustix::pipe::splice(
            ends.src,
            Some(&mut read_off),
            w,
            None,
            want,
            SpliceFlags::MOVE,
        ) {
            Ok(0) => return Ok(Moved::All),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => return Ok(Moved::Refused),
            Err(_) => return Ok(Moved::Failed),
        };
        match drain_pipe(r, ends.dst, off, n) {
            Ok(()) => {}
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => return Ok(Moved::Refused),
            Err(_) => return Ok(Moved::Failed),
        }
    }
    Ok(Moved::All)
}

/// Move `n` bytes from the pipe `r` to `dst` at `*off` (what was written
/// is counted in `*off`, also on an error).
fn drain_pipe(r: &OwnedFd, dst: BorrowedFd<'_>, off: &mut u64, mut n: usize) -> Result<(), Errno> {
    while n > 0 {
        match rustix::pipe::splice(r, None, dst, Some(off), n, SpliceFlags::MOVE) {
            Ok(0) => return Err(Errno::NOSPC),
            Ok(m) => n -= m,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Write all of `data` at `off` (a regular file) or in sequence (anything else).
pub fn write_all_at(
    dst: BorrowedFd<'_>,
    data: &[u8],
    off: u64,
    regular: bool,
) -> Result<(), Errno> {
    let mut done = 0;
    while done < data.len() {
        let w = if regular {
            rustix::io::pwrite(dst, &data[done..], off + done as u64)
        } else {
            rustix::io::write(dst, &data[done..])
        };
        match w {
            Ok(0) => return Err(Errno::NOSPC),
            Ok(w) => done += w,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Stop a copy when the run is interrupted (the caller removes the file).
pub fn stop_if_interrupted(item: &Item) -> Result<(), CopyError> {
    if crate::interrupt::requested() {
        return Err(item.error(Op::Write, true, std::io::ErrorKind::Interrupted.into()));
    }
    Ok(())
}
