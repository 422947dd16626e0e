//! The all-in-ring io_uring engine (`--engine uring-chains`): every step of
//! every copy goes through the ring, as linked chains on direct descriptors,
//! with a bounded pool of registered buffers.
//!
//! It makes the fewest system calls (~0.45 per entry on a 10,000-file tree,
//! against ~15 for `cp -r`), but on ext4 the kernel runs creates, buffered
//! writes and STATX in io-wq worker threads, and the hand-offs, wake-ups and
//! ring-lock contention cost more CPU than the system calls they save: it is
//! slower than the default `uring` engine warm and cold (see
//! `benches/RESULTS.md`). It is kept for filesystems and machines where more of
//! this completes inline, and as the measured reference for that design.
//!
//! One thread, one ring, one submit/complete loop (io-uring's `tcp_echo`
//! shape): a slab of per-operation state keyed by `user_data`, queues for work
//! that waits for a resource, and one `submit_and_wait` per batch.
//!
//! A regular file goes through two steps:
//! 1. `STATX` (directory-relative), for its size and mode: a linked write must
//!    be sized exactly when the SQE is built, and the mode is an argument of the
//!    destination's `OPENAT`.
//! 2. A file that fits one buffer is one chain, every step `IO_LINK`ed:
//!    `OPENAT src -> READ_FIXED -> OPENAT dst -> WRITE_FIXED -> CLOSE dst -> CLOSE src`,
//!    the descriptors living in ring slots, never in the process's table.
//!    A larger file opens both ends in a chain, then streams through several
//!    `READ_FIXED -> WRITE_FIXED` pairs in flight at once, then closes both.
//!
//! Any failure cancels the rest of its chain; the engine then closes both slots,
//! removes a destination it had opened (no file with wrong bytes stays under its
//! final name) and either reports the error or, when the source merely changed
//! size or a destination appeared, copies that file again the synchronous way.
//!
//! Directories are `MKDIRAT -> OPENAT` chains, symlinks `SYMLINKAT`. Items whose
//! destination directory is still being made wait in `parked` until it is.
//! The kernel's io-wq worker pool is capped at the number of CPUs.
//!
//! Archive mode: when anything beyond what `cp -r` keeps is preserved, or
//! with `--reflink=always`, or for a source that may have holes, regular files
//! are STATXed through the ring and then copied by the synchronous
//! [`FileCopier`] (same behaviour as the other engines; there are no opcodes
//! for fchown, futimens or fchmod), and symlinks are made synchronously too.

use super::dest::{self, DstOpen};
use super::ops::FileCopier;
use super::outcome::{Done, report};
use super::uring::bufpool::{Buf, BufPool};
use super::uring::setup;
use super::{Engine, EngineOptions};
use crate::error::{Failure, Op, errno};
use crate::progress::{Progress, RingUsage};
use crate::tree::{DstDir, DstState, Item, Kind};
use crossbeam_channel::{Receiver, TryRecvError};
use io_uring::types::{DestinationSlot, Fd, Fixed};
use io_uring::{IoUring, opcode, squeue};
use slab::Slab;
use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

/// Submission queue size; the completion queue is four times larger.
const RING_ENTRIES: u32 = 1024;
/// Most files in flight at once (each holds two ring descriptor slots).
const MAX_FILES: u32 = 256;
/// Largest single read: files up to this size are one chain.
const MAX_CHUNK: u32 = 1 << 20;
/// Read/write pairs in flight per large file.
const MAX_PAIRS: usize = 4;
/// Most directory and symlink operations in flight.
const MAX_OTHER: usize = 128;

// Steps of a file's chain, the low byte of `user_data`.
const OPEN_SRC: u8 = 0;
const READ: u8 = 1;
const OPEN_DST: u8 = 2;
const WRITE: u8 = 3;
const CLOSE_DST: u8 = 4;
const CLOSE_SRC: u8 = 5;
/// The source's status again, once all of it was read.
const RESTAT: u8 = 6;
/// Pair `i` of a large file: read is `PAIR + 2i`, write is `PAIR + 2i + 1`.
const PAIR: u8 = 16;

pub struct Chains {
    // Declared before `pool`: the ring (and its buffer registration) goes first.
    ring: IoUring,
    pool: BufPool,
    opts: EngineOptions,
    files: FileCopier,
    /// Free direct-descriptor slots, of `nslots` registered.
    slots: Vec<u32>,
    nslots: u32,
    chunk: u32,
    tasks: Slab<Task>,
    /// Files stat'ed and waiting for slots or buffer memory.
    waiting: VecDeque<usize>,
    /// Large files that could not get a buffer for their next chunk.
    starved: Vec<usize>,
    /// For `--stats`.
    usage: RingUsage,
    /// Items whose destination directory is not made yet, by directory.
    parked: HashMap<usize, Vec<Item>>,
    parked_count: usize,
    /// Items ready to start again (their directory was made).
    requeue: VecDeque<Item>,
    /// Reaped completions, reused between batches.
    cqes: Vec<(u64, i32)>,
    /// Number of files (stat'ed or copying) and of other operations in flight.
    active_files: usize,
    active_other: usize,
}

enum Task {
    Stat {
        item: Item,
        stx: Box<libc::statx>,
    },
    Copy(Box<Copy>),
    Mkdir {
        item: Item,
        mkdir: i32,
    },
    Symlink {
        item: Item,
    },
    /// Closing the slots of a failed chain.
    Cleanup {
        slots: [u32; 2],
        pending: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// A whole small file in one chain.
    Chain,
    /// A large file: both ends being opened.
    Opening,
    /// A large file: chunks moving.
    Streaming,
    /// A large file: both ends being closed.
    Closing,
}

struct Copy {
    item: Item,
    size: u64,
    mode: u32,
    how: DstOpen,
    stage: Stage,
    src: u32,
    dst: u32,
    /// The whole file, for a small file.
    buf: Option<Buf>,
    /// Chunks in flight for a large file: buffer and completions still due.
    pairs: [Option<(Buf, u8)>; MAX_PAIRS],
    next_off: u64,
    /// Completions still due.
    pending: u32,
    /// The first real failure: step and errno.
    failed: Option<(u8, i32)>,
    /// The source changed since it was stat'ed: a read came back short (it
    /// shrank), or its status after the reads differs (it grew, or was
    /// rewritten). Then it is copied again, the synchronous way.
    changed: bool,
    /// The status the copy was sized from, and the buffer of its re-stat.
    before: crate::meta::SrcStat,
    stx: Box<libc::statx>,
    dst_opened: bool,
}

impl Chains {
    pub fn new(opts: EngineOptions) -> Result<Self, String> {
        let ring = setup::build(RING_ENTRIES, RING_ENTRIES * 4)?;
        let submitter = ring.submitter();

        // Cap io-wq: creates and buffered writes on ext4 always run there, and
        // more workers than CPUs only add context switches and lock contention.
        let cpus = super::cpus() as u32;
        let _ = submitter.register_iowq_max_workers(&mut [cpus, cpus]);

        // The slot table counts against RLIMIT_NOFILE.
        let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(1024);
        let mut nslots = (MAX_FILES as u64 * 2).min(nofile / 2) as u32;
        loop {
            match submitter.register_files_sparse(nslots) {
                Ok(()) => break,
                Err(_) if nslots > 8 => nslots /= 2,
                Err(e) => {
                    return Err(format!(
                        "cannot register direct descriptors: {}",
                        crate::error::strip_os_suffix(&e)
                    ));
                }
            }
        }
        if nslots < 4 {
            return Err("RLIMIT_NOFILE is too low for direct descriptors".into());
        }

        let mut pool = BufPool::new(opts.buffer_mem as usize)
            .map_err(|e| format!("cannot map the buffer pool: {e}"))?;
        // Falls back to plain READ/WRITE on the same memory if refused.
        pool.register(&submitter);
        let chunk = ((opts.buffer_mem / 8) as u32).clamp(4096, MAX_CHUNK);
        Ok(Chains {
            usage: RingUsage::default(),
            ring,
            pool,
            files: FileCopier::new(&opts, chunk as usize),
            opts,
            slots: (0..nslots).rev().collect(),
            nslots,
            chunk,
            tasks: Slab::with_capacity(MAX_FILES as usize + MAX_OTHER),
            waiting: VecDeque::new(),
            starved: Vec::new(),
            parked: HashMap::new(),
            parked_count: 0,
            requeue: VecDeque::new(),
            cqes: Vec::with_capacity(RING_ENTRIES as usize * 4),
            active_files: 0,
            active_other: 0,
        })
    }

    fn max_files(&self) -> usize {
        // Each file has up to 2 + 2 * MAX_PAIRS completions due: keep them within
        // the completion queue, which a locked-memory limit may have shrunk.
        let cq = self.ring.params().cq_entries() as usize;
        (MAX_FILES as usize)
            .min(self.nslots as usize / 2)
            .min(cq / 10)
            .max(1)
    }

    /// Room to take another item from the walker?
    fn has_room(&self) -> bool {
        self.waiting.is_empty()
            && self.requeue.is_empty()
            && self.active_files < self.max_files()
            && self.active_other < MAX_OTHER
            && self.parked_count < MAX_FILES as usize * 4
    }

    /// Queue SQEs, submitting first if the queue has no room for all of them
    /// (a chain must not be split across submissions).
    fn push(&mut self, entries: &[squeue::Entry]) -> std::io::Result<()> {
        loop {
            // SAFETY: every pointer in these entries (names, statx buffers,
            // targets, pool ranges) is owned by a task in `self.tasks` or by the
            // pool, and stays put until the task's last completion is reaped.
            if unsafe { self.ring.submission().push_multiple(entries) }.is_ok() {
                self.usage.submitted += entries.len() as u64;
                return Ok(());
            }
            self.usage.enters += 1;
            setup::enter(&self.ring, 0)?;
        }
    }

    /// Begin work on an item from the walker.
    fn start(&mut self, item: Item, progress: &dyn Progress) -> std::io::Result<()> {
        if crate::interrupt::requested() {
            // Chains in flight finish; nothing new starts.
            super::ops::drop_interrupted(item);
            return Ok(());
        }
        let (dst_fd, fresh) = match item.dst_dir.state() {
            None => {
                let key = Arc::as_ptr(&item.dst_dir) as usize;
                self.parked.entry(key).or_default().push(item);
                self.parked_count += 1;
                return Ok(());
            }
            Some(DstState::Failed) => {
                // Reported already; nothing inside can be created.
                if let Kind::Dir { node, .. } = &item.kind {
                    self.publish(node, DstState::Failed);
                }
                return Ok(());
            }
            Some(DstState::Ready { fd, fresh }) => (fd.as_raw_fd(), *fresh),
        };
        match &item.kind {
            Kind::File { follow, .. } => {
                let flags = if *follow {
                    0
                } else {
                    libc::AT_SYMLINK_NOFOLLOW
                };
                let src_dir = item.src_dir.fd.as_raw_fd();
                let name = item.name.as_ptr();
                // SAFETY: all-zero is a valid `statx` (plain integers).
                let mut stx: Box<libc::statx> = Box::new(unsafe { std::mem::zeroed() });
                let stx_ptr: *mut libc::statx = &mut *stx;
                let key = self.tasks.insert(Task::Stat { item, stx });
                self.active_files += 1;
                let sqe = opcode::Statx::new(Fd(src_dir), name, stx_ptr.cast())
                    .flags(flags)
                    .mask(libc::STATX_BASIC_STATS)
                    .build()
                    .user_data(ud(key, 0));
                self.push(&[sqe])?;
            }
            Kind::Dir { mode, .. } => {
                let name = item.dst_name().as_ptr();
                let mode = *mode;
                let key = self.tasks.insert(Task::Mkdir { item, mkdir: 0 });
                self.active_other += 1;
                let mkdir = opcode::MkDirAt::new(Fd(dst_fd), name)
                    .mode(mode)
                    .build()
                    .flags(squeue::Flags::IO_LINK)
                    .user_data(ud(key, 0));
                let open = opcode::OpenAt::new(Fd(dst_fd), name)
                    .flags(libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .build()
                    .user_data(ud(key, 1));
                self.push(&[mkdir, open])?;
            }
            Kind::Symlink { target }
                if fresh && item.stat.is_none() && !self.files.files_need_sync() =>
            {
                let target = target.as_ptr();
                let name = item.dst_name().as_ptr();
                let key = self.tasks.insert(Task::Symlink { item });
                self.active_other += 1;
                let sqe = opcode::SymlinkAt::new(Fd(dst_fd), target, name)
                    .build()
                    .user_data(ud(key, 0));
                self.push(&[sqe])?;
            }
            // Replacing an existing entry, and mknod (no opcode): the rare, synchronous path.
            Kind::Symlink { .. } | Kind::Special { .. } => {
                if let Some(DstState::Ready { fd, .. }) = item.dst_dir.state() {
                    report(
                        progress,
                        &item,
                        self.files.create_other(&item, fd.as_fd(), fresh),
                    );
                }
            }
        }
        Ok(())
    }

    /// A destination directory is made (or failed): let its contents go.
    fn publish(&mut self, node: &Arc<DstDir>, state: DstState) {
        node.set(state);
        if let Some(items) = self.parked.remove(&(Arc::as_ptr(node) as usize)) {
            self.parked_count -= items.len();
            self.requeue.extend(items);
        }
    }

    /// Start stat'ed files while slots and buffer memory last.
    fn start_waiting(&mut self) -> std::io::Result<()> {
        for key in std::mem::take(&mut self.starved) {
            self.stream(key)?;
        }
        while let Some(&key) = self.waiting.front() {
            if self.slots.len() < 2 {
                return Ok(());
            }
            let Some(Task::Copy(c)) = self.tasks.get(key) else {
                self.waiting.pop_front();
                continue;
            };
            let small = c.size <= self.chunk as u64;
            let buf = if small && c.size > 0 {
                match self.pool.get(c.size as u32) {
                    Some(b) => Some(b),
                    None => return Ok(()),
                }
            } else {
                None
            };
            self.waiting.pop_front();
            let (src, dst) = match (self.slots.pop(), self.slots.pop()) {
                (Some(s), Some(d)) => (s, d),
                _ => unreachable!("two slots were checked to be free"),
            };
            let Some(Task::Copy(c)) = self.tasks.get_mut(key) else {
                continue;
            };
            c.src = src;
            c.dst = dst;
            c.buf = buf;
            c.stage = if small { Stage::Chain } else { Stage::Opening };
            let sqes = self.chain(key);
            self.push(&sqes)?;
        }
        Ok(())
    }

    /// The SQEs that start a file: the whole chain for a small one, the opens
    /// for a large one.
    fn chain(&mut self, key: usize) -> Vec<squeue::Entry> {
        let fixed = self.pool.registered();
        let Some(Task::Copy(c)) = self.tasks.get_mut(key) else {
            return Vec::new();
        };
        let link = squeue::Flags::IO_LINK;
        let nofollow = match c.item.kind {
            Kind::File { follow: true, .. } => 0,
            _ => libc::O_NOFOLLOW,
        };
        let dst_fd = match c.item.dst_dir.state() {
            Some(DstState::Ready { fd, .. }) => fd.as_raw_fd(),
            _ => -1,
        };
        let slot = |s: u32| DestinationSlot::try_from_slot_target(s).ok();
        let open_src = opcode::OpenAt::new(Fd(c.item.src_dir.fd.as_raw_fd()), c.item.name.as_ptr())
            .flags(libc::O_RDONLY | nofollow)
            .file_index(slot(c.src))
            .build()
            .flags(link)
            .user_data(ud(key, OPEN_SRC));
        let open_dst = opcode::OpenAt::new(Fd(dst_fd), c.item.dst_name().as_ptr())
            .flags(c.how.flags().bits() as i32 & !libc::O_CLOEXEC)
            .mode(c.mode)
            .file_index(slot(c.dst))
            .build()
            .user_data(ud(key, OPEN_DST));
        let (src, dst) = (Fixed(c.src), Fixed(c.dst));
        let close_dst = opcode::Close::new(dst)
            .build()
            .user_data(ud(key, CLOSE_DST));
        let close_src = opcode::Close::new(src)
            .build()
            .user_data(ud(key, CLOSE_SRC));
        let mut sqes = vec![open_src];
        match (c.stage, &c.buf) {
            (Stage::Chain, Some(buf)) => {
                let (ptr, len) = (self.pool.ptr(buf), buf.len);
                let (read, write) = rw(fixed, src, dst, ptr, len, 0);
                sqes.push(read.flags(link).user_data(ud(key, READ)));
                sqes.push(open_dst.flags(link));
                sqes.push(write.flags(link).user_data(ud(key, WRITE)));
                sqes.push(close_dst.flags(link));
                sqes.push(close_src.flags(link));
                sqes.push(restat(c, key));
            }
            (Stage::Chain, None) => {
                sqes.push(open_dst.flags(link));
                sqes.push(close_dst.flags(link));
                sqes.push(close_src);
            }
            _ => sqes.push(open_dst),
        }
        c.pending = sqes.len() as u32;
        sqes
    }

    /// Keep a large file's read/write pairs in flight; close it when all are done.
    fn stream(&mut self, key: usize) -> std::io::Result<()> {
        let fixed = self.pool.registered();
        let mut sqes = Vec::new();
        let Some(Task::Copy(c)) = self.tasks.get_mut(key) else {
            return Ok(());
        };
        if c.failed.is_some() || c.changed {
            return Ok(());
        }
        let (src, dst) = (Fixed(c.src), Fixed(c.dst));
        while c.next_off < c.size {
            let Some(i) = c.pairs.iter().position(Option::is_none) else {
                break;
            };
            let len = (c.size - c.next_off).min(self.chunk as u64) as u32;
            let Some(buf) = self.pool.get(len) else {
                if c.pairs.iter().all(Option::is_none) {
                    self.starved.push(key);
                }
                break;
            };
            let (read, write) = rw(fixed, src, dst, self.pool.ptr(&buf), len, c.next_off);
            let step = PAIR + 2 * i as u8;
            sqes.push(read.flags(squeue::Flags::IO_LINK).user_data(ud(key, step)));
            sqes.push(write.user_data(ud(key, step + 1)));
            c.pairs[i] = Some((buf, 2));
            c.pending += 2;
            c.next_off += len as u64;
        }
        if c.next_off >= c.size && c.pending == 0 {
            c.stage = Stage::Closing;
            // Every read is done: has the source changed meanwhile?
            sqes.push(restat(c, key));
            sqes.push(
                opcode::Close::new(dst)
                    .build()
                    .user_data(ud(key, CLOSE_DST)),
            );
            sqes.push(
                opcode::Close::new(src)
                    .build()
                    .user_data(ud(key, CLOSE_SRC)),
            );
            c.pending = 3;
        }
        self.push(&sqes)
    }

    /// Handle one completion.
    fn complete(
        &mut self,
        user_data: u64,
        res: i32,
        progress: &dyn Progress,
    ) -> std::io::Result<()> {
        let key = (user_data >> 8) as usize;
        let step = user_data as u8;
        let Some(task) = self.tasks.get_mut(key) else {
            return Ok(());
        };
        match task {
            Task::Stat { .. } => {
                let Task::Stat { item, stx } = self.tasks.remove(key) else {
                    return Ok(());
                };
                self.stat_done(item, stx, res, progress);
            }
            Task::Mkdir { mkdir, .. } => {
                if step == 0 {
                    *mkdir = res;
                    return Ok(());
                }
                let mkdir = *mkdir;
                let Task::Mkdir { item, .. } = self.tasks.remove(key) else {
                    return Ok(());
                };
                self.active_other -= 1;
                self.mkdir_done(item, mkdir, res, progress);
            }
            Task::Symlink { .. } => {
                let Task::Symlink { item } = self.tasks.remove(key) else {
                    return Ok(());
                };
                self.active_other -= 1;
                let dir = match item.dst_dir.state() {
                    Some(DstState::Ready { fd, .. }) => Some(fd.as_fd()),
                    _ => None,
                };
                let result = match (res, dir) {
                    (0, Some(dir)) => {
                        self.files.made_symlinks.made(dir, item.dst_name());
                        Ok(Done::Copied(0))
                    }
                    (0, None) => Ok(Done::Copied(0)),
                    (_, Some(dir)) if res == -libc::EEXIST => self
                        .files
                        .make_entry(&item, dir, false, 0)
                        .map(|made| if made { Done::Copied(0) } else { Done::Skipped }),
                    (_, None) if res == -libc::EEXIST => Ok(Done::Skipped),
                    _ => Err(item.error(Op::Symlink, true, errno(-res)).into()),
                };
                report(progress, &item, result);
            }
            Task::Cleanup { slots, pending } => {
                *pending -= 1;
                if *pending == 0 {
                    let slots = *slots;
                    self.tasks.remove(key);
                    self.slots.extend(slots);
                }
            }
            Task::Copy(c) => {
                c.pending -= 1;
                let expect_len = |c: &Copy, step: u8| -> i64 {
                    if step == READ || step == WRITE {
                        c.buf.as_ref().map_or(0, |b| b.len as i64)
                    } else {
                        c.pairs[((step - PAIR) / 2) as usize]
                            .as_ref()
                            .map_or(0, |(b, _)| b.len as i64)
                    }
                };
                match step {
                    READ | WRITE | PAIR.. if res >= 0 && (res as i64) < expect_len(c, step) => {
                        if is_read(step) {
                            c.changed = true;
                        } else {
                            // A short write: the disk is full.
                            c.failed.get_or_insert((step, libc::ENOSPC));
                        }
                    }
                    _ if res == -libc::ECANCELED => {}
                    _ if res < 0 => {
                        c.failed.get_or_insert((step, -res));
                    }
                    OPEN_DST => c.dst_opened = true,
                    RESTAT => {
                        let now = crate::meta::SrcStat::from_libc_statx(&c.stx);
                        if !now.same_content_as(&c.before) {
                            c.changed = true;
                        }
                    }
                    _ => {}
                }
                if step >= PAIR {
                    let i = ((step - PAIR) / 2) as usize;
                    if let Some((_, due)) = &mut c.pairs[i] {
                        *due -= 1;
                        if *due == 0
                            && let Some((buf, _)) = c.pairs[i].take()
                        {
                            self.pool.put(buf);
                        }
                    }
                }
                self.advance(key, progress)?;
            }
        }
        Ok(())
    }

    /// Move a file on after a completion.
    fn advance(&mut self, key: usize, progress: &dyn Progress) -> std::io::Result<()> {
        let Some(Task::Copy(c)) = self.tasks.get_mut(key) else {
            return Ok(());
        };
        if c.stage == Stage::Streaming && c.failed.is_none() && crate::interrupt::requested() {
            // Stop streaming: the file is removed once its requests are in.
            c.failed = Some((WRITE, libc::EINTR));
        }
        let broken = c.failed.is_some() || c.changed;
        match (c.stage, c.pending, broken) {
            (Stage::Opening, 0, false) => {
                if let Some(Task::Copy(c)) = self.tasks.get_mut(key) {
                    c.stage = Stage::Streaming;
                }
                self.stream(key)
            }
            (Stage::Streaming, _, false) => self.stream(key),
            (_, 0, _) => {
                let Task::Copy(c) = self.tasks.remove(key) else {
                    return Ok(());
                };
                self.active_files -= 1;
                self.finish(*c, progress)
            }
            _ => Ok(()),
        }
    }

    /// A file's last completion is in.
    fn finish(&mut self, mut c: Copy, progress: &dyn Progress) -> std::io::Result<()> {
        if let Some(buf) = c.buf.take() {
            self.pool.put(buf);
        }
        if c.failed.is_none() && !c.changed {
            self.slots.extend([c.src, c.dst]);
            progress.done(&c.item, c.size);
            return Ok(());
        }
        // Close whatever the broken chain left open, then free the slots.
        let key = self.tasks.insert(Task::Cleanup {
            slots: [c.src, c.dst],
            pending: 2,
        });
        self.push(&[
            opcode::Close::new(Fixed(c.src))
                .build()
                .user_data(ud(key, 0)),
            opcode::Close::new(Fixed(c.dst))
                .build()
                .user_data(ud(key, 1)),
        ])?;
        let Some(DstState::Ready { fd, .. }) = c.item.dst_dir.state() else {
            return Ok(());
        };
        let dst = fd.as_fd();
        // Only a file this chain created goes: an existing one was truncated
        // in place (cp's rule) and is rewritten by the retry or stays.
        if c.dst_opened && c.how == DstOpen::Create {
            self.files.remove_made(&c.item, dst, c.item.dst_name());
        }
        let item = &c.item;
        let retry = match c.failed {
            None => true, // the source changed size: copy what is there now
            Some((OPEN_DST, e)) => {
                e == libc::EEXIST
                    || (matches!(c.how, DstOpen::Overwrite | DstOpen::Through)
                        && self.opts.overwrite == crate::config::Overwrite::Force)
            }
            Some(_) => false,
        };
        let result = if c.failed == Some((WRITE, libc::EINTR)) {
            return Ok(()); // interrupted: removed, and not a failure of its own
        } else if retry {
            let mut buf = Vec::new();
            self.files.copy(item, dst, false, &mut buf)
        } else {
            let (step, e) = c.failed.unwrap_or((READ, libc::EIO));
            Err(match step {
                OPEN_SRC => item.error(Op::OpenRead, false, errno(e)).into(),
                OPEN_DST if e == libc::EISDIR => Failure::Msg(format!(
                    "cannot overwrite directory {} with non-directory",
                    crate::error::quote(&item.dst_path())
                )),
                OPEN_DST => item.error(Op::Create, true, errno(e)).into(),
                CLOSE_DST | CLOSE_SRC => item.error(Op::Close, step == CLOSE_DST, errno(e)).into(),
                RESTAT => item.error(Op::Stat, false, errno(e)).into(),
                s if is_read(s) => item.error(Op::Read, false, errno(e)).into(),
                _ => item.error(Op::Write, true, errno(e)).into(),
            })
        };
        report(progress, item, result);
        Ok(())
    }

    fn stat_done(&mut self, item: Item, stx: Box<libc::statx>, res: i32, progress: &dyn Progress) {
        if res < 0 {
            self.active_files -= 1;
            progress.error(&item.error(Op::Stat, false, errno(-res)));
            return;
        }
        let Some(DstState::Ready { fd, fresh }) = item.dst_dir.state() else {
            self.active_files -= 1;
            return;
        };
        let is_reg = u32::from(stx.stx_mode) & libc::S_IFMT == libc::S_IFREG;
        let archive = &self.files.archive;
        let sync = archive.preserve.any()
            || self.files.files_need_sync()
            || match archive.sparse {
                crate::config::Sparse::Never => false,
                crate::config::Sparse::Always => stx.stx_size > 0,
                crate::config::Sparse::Auto => stx.stx_blocks.saturating_mul(512) < stx.stx_size,
            };
        let how = if !is_reg || sync || stx.stx_size == 0 {
            // Changed type since the walk, a device read as data, attributes
            // to keep, or a size of 0, which may be a pseudo-file (/proc) with
            // content: synchronous path, which reads to EOF.
            None
        } else if *fresh {
            Some(Ok(DstOpen::Create))
        } else {
            Some(self.files.check_existing(
                &item,
                fd.as_fd(),
                &crate::meta::SrcStat::from_libc_statx(&stx),
            ))
        };
        match how {
            // A symlink to replace: there is no unlink in a chain.
            None | Some(Ok(DstOpen::Replace)) => {
                self.active_files -= 1;
                let mut buf = Vec::new();
                let r = self.files.copy(&item, fd.as_fd(), *fresh, &mut buf);
                report(progress, &item, r);
            }
            Some(Err(f)) => {
                self.active_files -= 1;
                progress.failure(&f);
            }
            Some(Ok(DstOpen::Skip)) => {
                self.active_files -= 1;
                progress.skipped(&item);
            }
            Some(Ok(how)) => {
                let copy = Copy {
                    item,
                    size: stx.stx_size,
                    mode: self.files.archive.create_mode(stx.stx_mode.into()),
                    how,
                    stage: Stage::Chain,
                    src: 0,
                    dst: 0,
                    buf: None,
                    pairs: Default::default(),
                    next_off: 0,
                    pending: 0,
                    failed: None,
                    changed: false,
                    before: crate::meta::SrcStat::from_libc_statx(&stx),
                    stx,
                    dst_opened: false,
                };
                let key = self.tasks.insert(Task::Copy(Box::new(copy)));
                self.waiting.push_back(key);
            }
        }
    }

    fn mkdir_done(&mut self, item: Item, mkdir: i32, open: i32, progress: &dyn Progress) {
        let Kind::Dir { node, .. } = &item.kind else {
            return;
        };
        let parent = match item.dst_dir.state() {
            Some(DstState::Ready { fd, .. }) => fd.as_fd(),
            _ => return,
        };
        let state = if mkdir == 0 && open >= 0 {
            // SAFETY: a successful OPENAT without a slot returns a new descriptor
            // that nothing else owns.
            Ok(DstState::Ready {
                fd: unsafe { OwnedFd::from_raw_fd(open) },
                fresh: true,
            })
        } else if mkdir == 0 || mkdir == -libc::EEXIST {
            dest::open_made_dir(&item, parent, mkdir == 0)
        } else {
            Err(item.error(Op::Mkdir, true, errno(-mkdir)).into())
        };
        let state = match state {
            Ok(s) => {
                // Like cp -v: a directory that already existed is not listed.
                if let DstState::Ready { fresh: true, .. } = s {
                    progress.done(&item, 0);
                }
                s
            }
            Err(f) => {
                progress.failure(&f);
                DstState::Failed
            }
        };
        let node = node.clone();
        self.publish(&node, state);
    }

    /// Submit what is queued, wait for at least one completion, handle them all.
    fn turn(&mut self, progress: &dyn Progress) -> std::io::Result<()> {
        self.usage.enters += 1;
        setup::enter(&self.ring, 1)?;
        let mut cqes = std::mem::take(&mut self.cqes);
        cqes.extend(self.ring.completion().map(|c| (c.user_data(), c.result())));
        self.usage.completed += cqes.len() as u64;
        // Every completion is handled, even after one fails to submit what
        // follows it: the others are done work to report.
        let mut result = Ok(());
        for &(ud, res) in &cqes {
            let r = self.complete(ud, res, progress);
            if result.is_ok() {
                result = r;
            }
        }
        cqes.clear();
        self.cqes = cqes;
        result
    }

    fn busy(&self) -> bool {
        !self.tasks.is_empty()
    }

    fn run_loop(&mut self, items: &Receiver<Item>, progress: &dyn Progress) -> std::io::Result<()> {
        let mut open = true;
        loop {
            while let Some(item) = self.requeue.pop_front() {
                self.start(item, progress)?;
            }
            while open && self.has_room() {
                let next = if self.busy() {
                    match items.try_recv() {
                        Ok(item) => Some(item),
                        Err(TryRecvError::Empty) => None,
                        Err(TryRecvError::Disconnected) => {
                            open = false;
                            None
                        }
                    }
                } else {
                    items.recv().map_err(|_| open = false).ok()
                };
                match next {
                    Some(item) => self.start(item, progress)?,
                    None => break,
                }
            }
            self.start_waiting()?;
            if !self.busy() {
                if !open && self.requeue.is_empty() {
                    return Ok(());
                }
                continue;
            }
            self.turn(progress)?;
        }
    }
}

impl Engine for Chains {
    fn name(&self) -> &'static str {
        "io_uring-chains"
    }

    fn shards(&self) -> usize {
        1
    }

    fn walker_makes_dirs(&self) -> bool {
        // MKDIRAT goes through the ring too.
        false
    }

    fn run(&mut self, shards: Vec<Receiver<Item>>, progress: &Arc<dyn Progress>) {
        let Some(items) = shards.into_iter().next() else {
            return;
        };
        let result = self.run_loop(&items, &**progress);
        progress.ring_usage(self.usage);
        if let Err(e) = result {
            self.ring_failed(e, items, progress);
        }
    }
}

impl Chains {
    /// The ring itself failed (it kept failing, see [`setup::enter`]).
    /// Operations may still be in flight, so everything they use (names and
    /// directories, `statx` buffers, the buffer pool) is leaked, never
    /// freed; closing the ring later only cancels them.
    /// What only read the source or made a directory is done again with
    /// plain system calls, as is everything not started; a copy or symlink
    /// that may still be writing its destination is reported, with the error.
    fn ring_failed(
        &mut self,
        e: std::io::Error,
        items: Receiver<Item>,
        progress: &Arc<dyn Progress>,
    ) {
        progress.warning(&format!(
            "io_uring failed ({}); finishing with plain system calls",
            crate::error::strip_os_suffix(&e)
        ));
        self.pool.leak();
        let mut again = Vec::new();
        for (_, task) in std::mem::take(&mut self.tasks) {
            match &task {
                Task::Stat { item, .. } | Task::Mkdir { item, .. } => again.push(item.clone()),
                Task::Copy(c) => progress.error(&c.item.error(Op::Write, true, ring_error(&e))),
                Task::Symlink { item } => {
                    progress.error(&item.error(Op::Symlink, true, ring_error(&e)))
                }
                Task::Cleanup { .. } => {}
            }
            crate::tree::leak(task);
        }
        let rest = super::portable::Portable::new(self.opts.clone());
        let leftover: Vec<Item> = again
            .into_iter()
            .chain(self.requeue.drain(..))
            .chain(self.parked.drain().flat_map(|(_, v)| v))
            .collect();
        let (tx, rx) = crossbeam_channel::unbounded();
        for item in leftover {
            let _ = tx.send(item);
        }
        std::thread::scope(|s| {
            s.spawn(move || {
                for item in items {
                    let _ = tx.send(item);
                }
            });
            let mut rest = rest;
            rest.run(vec![rx], progress);
        });
    }
}

/// The error reported for work lost with a failed ring.
fn ring_error(e: &std::io::Error) -> std::io::Error {
    std::io::Error::other(format!(
        "io_uring failed ({}) while this was written; it may be incomplete",
        crate::error::strip_os_suffix(e)
    ))
}

/// A `STATX` of a copy's source after all of it was read, into the copy's
/// own buffer: a status that differs from the one the copy was sized from
/// means it changed meanwhile (see `Copy::changed`).
fn restat(c: &mut Copy, key: usize) -> squeue::Entry {
    let flags = match c.item.kind {
        Kind::File { follow: true, .. } => 0,
        _ => libc::AT_SYMLINK_NOFOLLOW,
    };
    let stx: *mut libc::statx = &mut *c.stx;
    opcode::Statx::new(
        Fd(c.item.src_dir.fd.as_raw_fd()),
        c.item.name.as_ptr(),
        stx.cast(),
    )
    .flags(flags)
    .mask(libc::STATX_BASIC_STATS)
    .build()
    .user_data(ud(key, RESTAT))
}

/// Is this step a read (of a small file or of a large file's pair)?
fn is_read(step: u8) -> bool {
    step == READ || (step >= PAIR && (step - PAIR).is_multiple_of(2))
}

fn ud(key: usize, step: u8) -> u64 {
    ((key as u64) << 8) | step as u64
}

/// A read and a write of the same buffer range, fixed or plain.
fn rw(
    fixed: bool,
    src: Fixed,
    dst: Fixed,
    ptr: *mut u8,
    len: u32,
    off: u64,
) -> (squeue::Entry, squeue::Entry) {
    if fixed {
        (
            opcode::ReadFixed::new(src, ptr, len, 0).offset(off).build(),
            opcode::WriteFixed::new(dst, ptr, len, 0)
                .offset(off)
                .build(),
        )
    } else {
        (
            opcode::Read::new(src, ptr, len).offset(off).build(),
            opcode::Write::new(dst, ptr, len).offset(off).build(),
        )
    }
}
