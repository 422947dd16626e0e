//! The portable engine: ordinary system calls from a small thread pool.
//!
//! This is what runs where io_uring is blocked (containers' seccomp profiles,
//! `kernel.io_uring_disabled`, old kernels), so it is built to be fast too:
//! several workers pull items from the walker's channel at once, so creates in
//! different directories and reads of different files overlap, and file data
//! moves with `copy_file_range` (no user-space copy; reflinks on filesystems
//! that can) with a plain read/write loop where the kernel refuses it, such as
//! between filesystems of different kinds. A refusal is remembered, not retried
//! for every file.
//!
//! An item waits until its destination directory exists: the directory's own
//! item always comes earlier from the channel, and the worker that took it is
//! creating it, so the wait always ends.

use super::ops::{self, DstOpen};
use super::{Engine, EngineOptions};
use crate::error::{CopyError, Failure, IoContext, Op};
use crate::progress::Progress;
use crate::tree::{DstState, Item, Kind};
use crossbeam_channel::Receiver;
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// Largest read/write buffer per worker.
const MAX_CHUNK: usize = 1 << 20;

pub struct Portable {
    opts: EngineOptions,
    workers: usize,
    /// Cleared once copy_file_range is refused between these filesystems.
    cfr: AtomicBool,
}

impl Portable {
    pub fn new(opts: EngineOptions) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Portable {
            opts,
            workers: (cpus * 2).clamp(2, 16),
            cfr: AtomicBool::new(true),
        }
    }

    fn chunk(&self) -> usize {
        ((self.opts.buffer_mem as usize) / self.workers).clamp(4096, MAX_CHUNK)
    }

    fn handle(&self, item: &Item, progress: &dyn Progress, buf: &mut Vec<u8>) {
        let (dst, fresh) = match item.dst_dir.wait() {
            DstState::Ready { fd, fresh } => (fd.as_fd(), *fresh),
            // The directory failed and was reported: its contents cannot go anywhere.
            DstState::Failed => return,
        };
        let result = match &item.kind {
            Kind::Dir { node, mode } => {
                // Report before publishing, so `-v` lists a directory before its contents.
                let state = match ops::make_dir(item, dst, *mode) {
                    Ok(state) => {
                        progress.done(item, 0);
                        state
                    }
                    Err(f) => {
                        progress.failure(&f);
                        DstState::Failed
                    }
                };
                node.set(state);
                return;
            }
            Kind::File { follow } => self.copy_file(item, dst, fresh, *follow, buf),
            Kind::Symlink { .. } | Kind::Special { .. } => {
                ops::create_other(item, dst, fresh, self.opts.overwrite).map(|made| made.then_some(0))
            }
        };
        match result {
            Ok(Some(bytes)) => progress.done(item, bytes),
            Ok(None) => progress.skipped(item),
            Err(f) => progress.failure(&f),
        }
    }

    /// Copy one regular file. `Ok(None)` when skipped (-n).
    fn copy_file(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
        follow: bool,
        buf: &mut Vec<u8>,
    ) -> Result<Option<u64>, Failure> {
        let nofollow = if follow { OFlags::empty() } else { OFlags::NOFOLLOW };
        let src = rustix::fs::openat(
            &item.src_dir.fd,
            item.name.as_c_str(),
            OFlags::RDONLY | OFlags::CLOEXEC | nofollow,
            Mode::empty(),
        )
        .map_err(|e| item.error(Op::OpenRead, false, e.into()))?;
        let st = rustix::fs::fstat(&src).ctx(Op::Stat, &item.src_path())?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(item.error(Op::Changed, false, crate::error::errno(libc::EINVAL)).into());
        }
        let src_id = (st.st_dev, st.st_ino);
        let mode = st.st_mode & 0o777;
        let mut how = if fresh {
            DstOpen::Create
        } else {
            ops::check_existing(item, dst, src_id, self.opts.overwrite)?
        };
        if how == DstOpen::Skip {
            return Ok(None);
        }
        let out = match ops::open_dst(item, dst, how, mode, self.opts.overwrite) {
            Err(e) if fresh && e.source.raw_os_error() == Some(libc::EEXIST) => {
                // Something appeared in a directory we just made: take the slow path.
                how = ops::check_existing(item, dst, src_id, self.opts.overwrite)?;
                if how == DstOpen::Skip {
                    return Ok(None);
                }
                ops::open_dst(item, dst, how, mode, self.opts.overwrite)?
            }
            other => other?,
        };
        match self.copy_data(item, &src, &out, buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) => {
                drop(out);
                ops::remove_partial(item, dst);
                Err(e.into())
            }
        }
    }

    /// Move the bytes: copy_file_range until EOF, else read/write.
    fn copy_data(
        &self,
        item: &Item,
        src: &OwnedFd,
        dst: &OwnedFd,
        buf: &mut Vec<u8>,
    ) -> Result<u64, CopyError> {
        let mut total = 0u64;
        if self.cfr.load(Relaxed) {
            loop {
                match rustix::fs::copy_file_range(src, None, dst, None, 1 << 30) {
                    Ok(0) => return Ok(total),
                    Ok(n) => total += n as u64,
                    Err(Errno::XDEV | Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP)
                        if total == 0 =>
                    {
                        self.cfr.store(false, Relaxed);
                        break;
                    }
                    Err(Errno::INTR) => {}
                    Err(e) => return Err(item.error(Op::Write, true, e.into())),
                }
            }
        }
        if buf.is_empty() {
            buf.resize(self.chunk(), 0);
        }
        loop {
            let n = match rustix::io::read(src, &mut buf[..]) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(item.error(Op::Read, false, e.into())),
            };
            let mut done = 0;
            while done < n {
                match rustix::io::write(dst, &buf[done..n]) {
                    Ok(w) => done += w,
                    Err(Errno::INTR) => {}
                    Err(e) => return Err(item.error(Op::Write, true, e.into())),
                }
            }
            total += n as u64;
        }
    }
}

impl Engine for Portable {
    fn name(&self) -> &'static str {
        "portable"
    }

    fn run(&mut self, items: Receiver<Item>, progress: &Arc<dyn Progress>) {
        let this = &*self;
        std::thread::scope(|s| {
            for _ in 0..this.workers {
                let items = items.clone();
                let progress = progress.clone();
                s.spawn(move || {
                    let mut buf = Vec::new();
                    for item in items {
                        this.handle(&item, &*progress, &mut buf);
                    }
                });
            }
        });
    }
}
