//! The byte mover: copies a range of one file into another, and nothing else.
//!
//! Every byte is placed at an explicit offset on both sides (`copy_file_range`
//! with offsets, `pread`/`pwrite`, and `sendfile`, which writes at the
//! destination's file position: the mover knows that position
//! ([`Ends::dst_pos`]) and sets it with `lseek` wherever it is not the
//! range's offset). A file position left by an earlier attempt is never
//! trusted: a copy that starts again (its source changed, see `FileCopier`)
//! must not continue where the earlier attempt left the descriptor's
//! position. (`sendfile`, used once at the position as it was, went on at
//! the old offset after `ftruncate(out, 0)` and left zeros before the data.)
//! The only exceptions are ends that have no offsets: a source of unknown
//! size read to EOF (a pseudo-file, a device named without -r) and a
//! destination that is not a regular file (a device or FIFO named as DEST),
//! both read or written in sequence as cp does.
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
//! 2. `sendfile`, for what `copy_file_range` cannot move (between
//!    filesystems): the kernel's splice loop through its own pipe, so the
//!    source's cached pages are copied once, into the destination, against
//!    twice for read/write (into the buffer and out of it), and one system
//!    call moves a small file (two `splice`s through a pipe of the mover's
//!    own did before; see `sendfile()` here). Like `copy_file_range`, a refusal
//!    (nothing moved, `EINVAL`: a filesystem without splice) is remembered
//!    per pair of devices.
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
use std::cell::Cell;
use std::os::fd::BorrowedFd;
use verdicts::Verdicts;

/// Most bytes moved by one copy_file_range call, and between two looks for an
/// interrupt (64 MiB take ~30 ms here).
const STEP: u64 = 64 << 20;
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
    /// The destination descriptor's file position, where it is known: 0 once
    /// opened (never with `O_APPEND`), then wherever `sendfile` left it;
    /// `None` after a failure. Only `sendfile` and `lseek` move it here (the
    /// other ways write at explicit offsets), so a range that starts where
    /// the last one ended needs no `lseek`.
    pub dst_pos: &'a Cell<Option<u64>>,
}

/// Moves byte ranges; shared by all the workers of a run.
pub struct Mover {
    /// Buffer size for read/write.
    chunk: usize,
    /// copy_file_range may be tried at all (not with --reflink=never: it may clone).
    cfr: bool,
    /// Device pairs between which copy_file_range was refused.
    refused: Verdicts,
    /// Device pairs between which sendfile (splice) was refused.
    sendfile_refused: Verdicts,
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
            sendfile_refused: Verdicts::default(),
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

    /// Copy the first `end` bytes of the source to the same offsets of the
    /// destination, or, when `end` is `None` (size unknown), read the source
    /// in sequence to EOF. Returns the bytes copied (fewer than asked at an
    /// early end of file).
    pub fn copy(
        &self,
        item: &Item,
        ends: Ends<'_>,
        end: Option<u64>,
        buf: &mut Vec<u8>,
    ) -> Result<u64, CopyError> {
        let mut off = 0;
        if let Some(end) = end
            && ends.dst_regular
        {
            if self.cfr_works(ends.devs) {
                match self.copy_file_range(item, ends, &mut off, end)? {
                    Moved::All => return Ok(off),
                    Moved::Refused if off == 0 => remember(&self.refused, ends.devs),
                    Moved::Refused | Moved::Failed => {}
                }
            }
            if off < end && !known(&self.sendfile_refused, ends.devs) {
                let from = off;
                match sendfile(item, ends, &mut off, end)? {
                    Moved::All => return Ok(off),
                    Moved::Refused if off == from => remember(&self.sendfile_refused, ends.devs),
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
                return Ok(off);
            }
            stop_if_interrupted(item)?;
            let r = match end {
                Some(_) => rustix::io::pread(ends.src, &mut buf[..want], off),
                None => rustix::io::read(ends.src, &mut buf[..want]),
            };
            let n = match r {
                Ok(0) => return Ok(off),
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

/// Move `*off..end` with `sendfile`, advancing `*off`: the kernel's own
/// splice loop, one system call per [`STEP`] (a small file's whole range).
/// `sendfile` writes at the destination's file position, so that is set to
/// `*off` first unless [`Ends::dst_pos`] says it is there already (a fresh
/// descriptor and the range from 0: every small file), and is then the
/// explicit offset (each call moves the source offset and the position by
/// the same count). The destination descriptor is one copy's own: a file is
/// one range on one thread (`FileCopier::copy`), and the ranges of a sparse
/// copy are moved one after another.
///
/// Against two `splice`s through a pipe of the mover's own (what moved files
/// under 1 MiB before): /usr/share (43k files) into ext4 on another
/// filesystem, warm, 15 interleaved runs, medians: 380 -> 370 ms, CPU 730
/// -> 710 (`benches/ab.sh`, 15 runs: default engine 428 -> 426 ms, portable
/// 439 -> 431; a CPython tree 459 -> 451, 476 -> 463). One 2 GiB file into
/// ext4, warm, hyperfine 21 runs, medians: splice 473 ms (CPU 565),
/// sendfile 449 (CPU 491); fcp 455, cpz 465. Moving in the kernel at all,
/// against read/write (walkers engine, 7 runs): /usr/share 1,426 -> 1,389
/// ms, a CPython tree 1,647 -> 1,499.
fn sendfile(item: &Item, ends: Ends<'_>, off: &mut u64, end: u64) -> Result<Moved, CopyError> {
    if ends.dst_pos.get() != Some(*off) {
        ends.dst_pos.set(None);
        if rustix::fs::seek(ends.dst, rustix::fs::SeekFrom::Start(*off)).is_err() {
            return Ok(Moved::Failed);
        }
        ends.dst_pos.set(Some(*off));
    }
    let from = *off;
    while *off < end {
        stop_if_interrupted(item)?;
        let mut i = *off;
        let want = (end - *off).min(STEP) as usize;
        match rustix::fs::sendfile(ends.dst, ends.src, Some(&mut i), want) {
            Ok(0) => return Ok(Moved::All),
            Ok(n) => {
                *off += n as u64;
                ends.dst_pos.set(Some(*off));
            }
            Err(Errno::INTR) => {}
            Err(e) => {
                // (Nothing was written, so the position did not move; it
                // is forgotten all the same: a cheap `lseek` next time.)
                ends.dst_pos.set(None);
                return Ok(match e {
                    Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP if *off == from => {
                        Moved::Refused
                    }
                    _ => Moved::Failed,
                });
            }
        }
    }
    Ok(Moved::All)
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
