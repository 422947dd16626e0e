//! The all-in-ring io_uring engine (`--engine uring-chains`): every step of
//! every copy goes through the ring, as linked chains on direct descriptors,
//! with a bounded pool of registered buffers.
//!
//! It makes the fewest system calls (~0.45 per entry on a 10,000-file tree,
//! against ~15 for `cp -r`), but on ext4 the kernel runs creates, buffered
//! writes and STATX in io-wq worker threads, and the hand-offs, wake-ups and
//! ring-lock contention cost more CPU than the system calls they save: it is
//! slower than the default `uring` engine while sources are cached. From a
//! cold disk it is the fastest engine: every read, open and STATX of many
//! files is in flight at once (`benches/RESULTS.md`).
//!
//! Each worker is one thread, one ring, one submit/complete loop (io-uring's
//! `tcp_echo` shape): a slab of per-operation state keyed by `user_data`,
//! queues for work that waits for a resource, and one `submit_and_wait` per
//! batch. `-j N` starts N of them ([`Chains`]).
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
//!    A large one (16 MiB and up, `copier::large::LARGE_MIN`) goes to the
//!    synchronous copier instead: its byte mover `sendfile`s, one memory copy
//!    against the ring's two (one 2 GiB file from a cold cache, 7 runs:
//!    1,561 -> 1,424 ms, CPU 796 -> 701).
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
//!
//! This file owns the ring, the submit/complete loop and what happens when
//! the ring fails; `submit.rs` builds each item's submissions, `complete.rs`
//! handles their completions.

mod complete;
mod submit;

use super::copier::FileCopier;
use super::copier::dest::DstOpen;
use super::copier::dirs;
use super::outcome::{Done, report};
use super::ring::Ring;
use super::ring::bufpool::Buf;
use super::ring::ops::Key;
use super::{Engine, EngineOptions, Intake};
use crate::error::{Failure, Op, errno};
use crate::progress::Progress;
use crate::tree::{DstDir, DstState, Item, Kind};
use crossbeam_channel::{Receiver, TryRecvError};
use io_uring::types::{DestinationSlot, Fd, Fixed};
use io_uring::{opcode, squeue};
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

/// One ring and its submit/complete loop.
pub struct Worker {
    /// The ring, its buffer pool, and the tasks in flight.
    ring: Ring<Task>,
    opts: EngineOptions,
    /// Shared by every ring: what one ring's copies made (symlinks, links)
    /// must be known to the others (cp's "just-created symlink" rule).
    files: Arc<FileCopier>,
    /// Free direct-descriptor slots, of `nslots` registered.
    slots: Vec<u32>,
    nslots: u32,
    chunk: u32,
    /// Files stat'ed and waiting for slots or buffer memory.
    waiting: VecDeque<Key>,
    /// Large files that could not get a buffer for their next chunk.
    starved: Vec<Key>,
    /// Items whose destination directory is not made yet, by directory.
    parked: HashMap<usize, Vec<Item>>,
    parked_count: usize,
    /// Items ready to start again (their directory was made).
    requeue: VecDeque<Item>,
    /// Reaped completions, reused between batches.
    done: Vec<(Key, u8, i32)>,
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
    before: crate::tree::SrcStat,
    stx: Box<libc::statx>,
    dst_opened: bool,
}

impl Worker {
    fn new(opts: EngineOptions, files: Arc<FileCopier>) -> Result<Self, String> {
        let ring = Ring::new(RING_ENTRIES, RING_ENTRIES * 4, |_| opts.buffer_mem as usize)?;
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

        let chunk = chunk(&opts);
        Ok(Worker {
            ring,
            files,
            opts,
            slots: (0..nslots).rev().collect(),
            nslots,
            chunk,
            waiting: VecDeque::new(),
            starved: Vec::new(),
            parked: HashMap::new(),
            parked_count: 0,
            requeue: VecDeque::new(),
            done: Vec::with_capacity(RING_ENTRIES as usize * 4),
            active_files: 0,
            active_other: 0,
        })
    }

    /// Queue a chain whole (see [`Ring::push`]). An error means the ring is broken.
    fn push(&mut self, entries: &[squeue::Entry]) -> std::io::Result<()> {
        // SAFETY: every pointer in these entries (names and symlink targets
        // of the task's item, its boxed `statx` buffers, its pool ranges) is
        // owned by the task inserted into `ring.ops` under the entries' key,
        // which is removed only at its last completion (`complete`), or is
        // leaked with the pool if the ring is abandoned.
        unsafe { self.ring.push(entries) }
    }

    /// Submit what is queued, wait for at least one completion, handle them all.
    fn turn(&mut self, progress: &dyn Progress) -> std::io::Result<()> {
        self.ring.submit(1)?;
        let mut done = std::mem::take(&mut self.done);
        self.ring.reap(&mut done);
        // Every completion is handled, even after one fails to submit what
        // follows it: the others are done work to report.
        let mut result = Ok(());
        for &(key, step, res) in &done {
            let r = self.complete(key, step, res, progress);
            if result.is_ok() {
                result = r;
            }
        }
        done.clear();
        self.done = done;
        result
    }

    fn busy(&self) -> bool {
        !self.ring.ops.is_empty()
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

/// The engine: one [`Worker`] (a ring and its loop) per queue, each on a
/// thread of its own.
///
/// With one ring (`-j 1`), directories are made in it (`MKDIRAT`). With
/// several, the walker makes them, as for the io_uring engine, and sends each
/// worker only what goes inside ready directories: a ring never waits for a
/// directory another ring is making. Several rings keep more of a cold copy
/// in flight and spread completion handling over the CPUs (/usr/include,
/// cold: 1 ring 686 ms, 2 rings 603, 4 rings 601; medians of 5).
pub struct Chains {
    /// The first ring, made here to learn whether io_uring works at all; the
    /// others are made on their threads (a ring is not `Send`). None under
    /// an address-space limit (`ulimit -v`) with no room for it: then the
    /// synchronous copier handles its queue, as for a ring that failed.
    first: Option<Worker>,
    /// Options for each of the others.
    each: EngineOptions,
    files: Arc<FileCopier>,
    rings: usize,
}

impl Chains {
    /// `opts.jobs` rings (one if not given), each with its share of the
    /// buffer memory.
    pub fn new(opts: EngineOptions) -> Result<Self, String> {
        let rings = opts.jobs.unwrap_or(1).max(1);
        let mut each = opts.clone();
        each.buffer_mem = (opts.buffer_mem / rings as u64).max(1 << 20);
        let files = Arc::new(FileCopier::new(&each, chunk(&each) as usize));
        let first = match crate::addrspace::room_for_ring() {
            true => Some(Worker::new(each.clone(), files.clone())?),
            false => None,
        };
        Ok(Chains {
            first,
            each,
            files,
            rings,
        })
    }
}

impl Engine for Chains {
    fn name(&self) -> &'static str {
        "io_uring-chains"
    }

    fn intake(&self) -> Intake {
        Intake {
            queues: self.rings,
            // One ring: MKDIRAT goes through it too.
            makes_dirs: self.rings == 1,
        }
    }

    fn run(&mut self, shards: Vec<Receiver<Item>>, progress: &Arc<dyn Progress>) {
        let mut shards = shards.into_iter();
        let Some(first) = shards.next() else {
            return;
        };
        let (each, files) = (&self.each, &self.files);
        std::thread::scope(|s| {
            for (i, items) in shards.enumerate() {
                let work = move || match Worker::new(each.clone(), files.clone()) {
                    Ok(mut w) => w.run(items, progress),
                    // No ring for this one (e.g. locked memory ran out): the
                    // synchronous path copies the same way.
                    Err(_) => files.drain(&items, &**progress, &mut Vec::new()),
                };
                if !crate::threads::worker(s, format!("chains-{}", i + 1), &**progress, work) {
                    break;
                }
            }
            match &mut self.first {
                Some(w) => w.run(first, progress),
                None => files.drain(&first, &**progress, &mut Vec::new()),
            }
        });
    }
}

impl Worker {
    /// Handle `items` in order until the queue closes.
    fn run(&mut self, items: Receiver<Item>, progress: &Arc<dyn Progress>) {
        let result = self.run_loop(&items, &**progress);
        progress.ring_usage(self.ring.usage());
        if let Err(e) = result {
            self.ring_failed(e, items, progress);
        }
    }
}

impl Worker {
    /// The ring itself failed (it kept failing, see `ring::setup::enter`).
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
        let mut again = Vec::new();
        self.ring.abandon(|task| match task {
            Task::Stat { item, .. } | Task::Mkdir { item, .. } => again.push(item.clone()),
            Task::Copy(c) => progress.error(&c.item.error(Op::Write, true, ring_error(&e))),
            Task::Symlink { item } => {
                progress.error(&item.error(Op::Symlink, true, ring_error(&e)))
            }
            Task::Cleanup { .. } => {}
        });
        let leftover: Vec<Item> = again
            .into_iter()
            .chain(self.requeue.drain(..))
            .chain(self.parked.drain().flat_map(|(_, v)| v))
            .collect();
        let (tx, rx) = crossbeam_channel::unbounded();
        for item in leftover {
            let _ = tx.send(item);
        }
        drop(tx);
        // Then the rest, in walk order, through the synchronous copier every
        // engine shares (this is the rare path).
        let mut buf = Vec::new();
        self.files.drain(&rx, &**progress, &mut buf);
        self.files.drain(&items, &**progress, &mut buf);
    }
}

/// A ring's largest read, from its share of the buffer memory.
fn chunk(opts: &EngineOptions) -> u32 {
    ((opts.buffer_mem / 8) as u32).clamp(4096, MAX_CHUNK)
}

/// The error reported for work lost with a failed ring.
fn ring_error(e: &std::io::Error) -> std::io::Error {
    std::io::Error::other(format!(
        "io_uring failed ({}) while this was written; it may be incomplete",
        crate::error::strip_os_suffix(e)
    ))
}
