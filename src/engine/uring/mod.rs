//! The io_uring engine: sources read through rings, destinations written with
//! plain system calls, by several workers.
//!
//! Why this split (measured; see ARCHITECTURE.md and benches/RESULTS-generated.md): on
//! ext4, io_uring runs every create (`OPENAT` with `O_CREAT`), every buffered
//! write and every `STATX` in its io-wq worker threads. A design that sends
//! whole copies through the ring pays a hand-off, a wake-up and contention on
//! the ring lock for each file, and measured 1.6x slower than plain system
//! calls from threads on a warm 10,000-file tree, however the chains were
//! batched. Reading a source is different: `OPENAT` of a cached name and a
//! `READ` from the page cache complete inline, inside `io_uring_enter`, and a
//! read that must go to disk is retried from the page-lock wake-up, not by a
//! worker. So each worker keeps a ring full of `OPENAT -> READ_FIXED` chains on
//! direct descriptors (one `io_uring_enter` for many files; deep queues when
//! the cache is cold) and writes each file it has read with `openat`, `write`,
//! `close`.
//!
//! A file whose first read fills the buffer is large: it is copied by the
//! synchronous path ([`FileCopier`]), which streams it with `copy_file_range`
//! or read/write. A source slot is not closed by an SQE: the next `OPENAT`
//! into the slot replaces (closes) the file, and the ring's teardown closes the
//! rest.
//!
//! Workers take items from their own shard (see [`crate::walk`]); directories,
//! symlinks and special files are created synchronously. With `--ring-reads
//! auto`, while a worker's sources come from the page cache it copies them
//! with system calls instead of the ring, and goes back to the ring when they
//! come from storage (`adapt.rs`; not the default: no faster on real trees).
//!
//! Archive mode adds no system call before the write: the `statx` after the
//! read already has everything (times, owner, nlink, blocks), and sources are
//! opened with `O_NOATIME` when times are preserved, so the read does not move
//! the atime that is copied (a source the user may not open so is copied by the
//! synchronous path, which stats before it reads). A source that may have
//! holes, and every file under `--reflink=always`, goes to [`FileCopier`].

mod adapt;

use super::ring::Ring;
pub use super::ring::availability;
use super::ring::bufpool::Buf;
use super::ring::ops::Key;

use super::copier::hardlinks::LinkClaim;
use super::copier::large::Work;
use super::copier::{self, FileCopier};
use super::outcome::{Done, Outcome, report};
use super::{Engine, EngineOptions, Intake};
use crate::error::{Op, errno};
use crate::meta;
use crate::progress::Progress;
use crate::tree::SrcStat;
use crate::tree::{DstState, Item, Kind};
use adapt::Adapt;
use crossbeam_channel::{Receiver, TryRecvError};
use io_uring::types::{DestinationSlot, Fd, Fixed};
use io_uring::{opcode, squeue};
use rustix::fs::{AtFlags, FileType, StatxFlags};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

/// Largest first read of a file; a file that fills it is copied synchronously.
const MAX_CHUNK: u32 = 64 << 10;
/// Most files in flight per worker: with 2 workers per CPU, deep enough for a
/// cold cache (measured: 16-64 all within noise warm), and 2 MiB of pinned
/// buffers per worker at the most.
const MAX_INFLIGHT: usize = 32;

// The two steps of a file's chain (see [`Key::user_data`]).
const OPEN: u8 = 0;
const READ: u8 = 1;

pub struct Uring {
    opts: EngineOptions,
    workers: usize,
    files: FileCopier,
}

impl Uring {
    /// Fails (with the reason) when io_uring cannot be used here.
    pub fn new(opts: EngineOptions) -> Result<Self, String> {
        super::ring::availability()?;
        let workers = opts.jobs.unwrap_or_else(super::default_workers);
        Ok(Uring {
            // Half of --buffer-mem for the rings' read buffers, half for the
            // synchronous path (large files).
            files: super::file_copier(&opts, workers, opts.buffer_mem / 2),
            opts,
            workers,
        })
    }
}

impl Engine for Uring {
    fn name(&self) -> &'static str {
        "io_uring"
    }

    fn intake(&self) -> Intake {
        Intake {
            queues: self.workers,
            makes_dirs: false,
        }
    }

    fn run(&mut self, shards: Vec<Receiver<Item>>, progress: &Arc<dyn Progress>) {
        let per_worker = (self.opts.buffer_mem as usize / 2 / shards.len().max(1)).max(4096);
        let files = &self.files;
        let adaptive = self.opts.adaptive_reads;
        std::thread::scope(|s| {
            for (i, items) in shards.into_iter().enumerate() {
                let each = progress.clone();
                let work = move || {
                    // Where no file is read through a ring (sync mode, -l, -s,
                    // --verify...: see `files_need_sync`), none is set up and
                    // no buffers are pinned for it.
                    let worker = match files.files_need_sync() {
                        true => None,
                        // No ring for this worker (e.g. locked memory ran
                        // out): the synchronous path copies the same way.
                        false => Worker::new(per_worker, adaptive, files, &*each).ok(),
                    };
                    match worker {
                        Some(mut w) => w.run(&items),
                        None => files.drain(&items, &*each, &mut Vec::new()),
                    }
                };
                if !crate::threads::worker(s, format!("ring-{i}"), &**progress, work) {
                    break;
                }
            }
        });
    }
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        self.progress.ring_usage(self.ring.usage());
        // Source files stay in their slots until a later open replaces them.
        // Close them now: the ring itself is torn down asynchronously after
        // exit, and files it still held kept the filesystem busy (umount
        // right after the copy answered EBUSY for seconds, benches/RESULTS-generated.md).
        if self.ring.ops.is_empty() && !self.ring.abandoned() {
            let _ = self.ring.submitter().unregister_files();
        }
    }
}

/// A file whose source is being read.
struct Pending {
    item: Item,
    buf: Buf,
    slot: u32,
    /// A little before the read was submitted (see [`may_have_changed`]).
    before: (i64, u32),
}

/// How far a file's timestamps may lag the clock: the kernel stamps with a
/// coarse clock that ticks every few milliseconds.
const CLOCK_SLACK: std::time::Duration = std::time::Duration::from_millis(20);

/// The wall clock, less [`CLOCK_SLACK`], as a timestamp.
fn clock_before() -> (i64, u32) {
    let now = std::time::SystemTime::now() - CLOCK_SLACK;
    let d = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

/// Could a source whose status after the read is `st` have been written
/// while it was read (`before` is from before the read)? The ring reads
/// without a status from before, so a writer rewriting it in place could
/// leave a mix with the size unchanged: any status change from that time on
/// (the ctime moves with every write and cannot be set back) sends the file
/// to the synchronous path, which checks before and after.
fn may_have_changed(st: &SrcStat, before: (i64, u32)) -> bool {
    st.ctime >= before
}

struct Worker<'a> {
    /// The ring, its buffer pool, and the files being read.
    ring: Ring<Pending>,
    files: &'a FileCopier,
    progress: &'a dyn Progress,
    chunk: u32,
    max_inflight: usize,
    slots: Vec<u32>,
    /// Reaped completions, reused between turns.
    done: Vec<(Key, u8, i32)>,
    /// Scratch buffer for the synchronous path.
    buf: Vec<u8>,
    /// Ring or system calls, by how warm the cache is.
    adapt: Adapt,
    /// Chains queued since the last submission.
    new_chains: u32,
}

impl<'a> Worker<'a> {
    fn new(
        pool_bytes: usize,
        adaptive: bool,
        files: &'a FileCopier,
        progress: &'a dyn Progress,
    ) -> Result<Self, String> {
        let chunk = ((pool_bytes / 16) as u32).clamp(4096, MAX_CHUNK);
        let max_inflight = (pool_bytes / chunk as usize).clamp(1, MAX_INFLIGHT);
        // The ring may be smaller than asked (locked memory): a chain is two
        // entries, and all the chains in flight must fit its queue at once.
        let fits = |capacity: usize| max_inflight.min(capacity / 2).max(1);
        let ring = Ring::new(
            (max_inflight * 2) as u32,
            (max_inflight * 4) as u32,
            |capacity| fits(capacity) * chunk as usize,
        )?;
        let max_inflight = fits(ring.capacity());
        let submitter = ring.submitter();
        // Opens of names that are not cached yet (a cold cache) run in io-wq:
        // let a few run at once so their inode reads overlap.
        let _ = submitter.register_iowq_max_workers(&mut [4, 4]);
        submitter
            .register_files_sparse(max_inflight as u32)
            .map_err(|e| e.to_string())?;
        Ok(Worker {
            ring,
            files,
            progress,
            chunk,
            max_inflight,
            slots: (0..max_inflight as u32).rev().collect(),
            done: Vec::with_capacity(max_inflight * 2),
            buf: Vec::new(),
            adapt: Adapt::new(adaptive),
            new_chains: 0,
        })
    }

    fn run(&mut self, items: &Receiver<Item>) {
        let mut open = true;
        loop {
            // Take items until the ring is full or the walker has nothing ready.
            while open && self.ring.ops.len() < self.max_inflight {
                let next = if self.ring.ops.is_empty() {
                    // Nothing in flight: wait for the shard, and copy large
                    // files other workers found meanwhile.
                    match self.files.next(items) {
                        Some(Work::Item(item)) => Some(item),
                        Some(large) => {
                            self.files.work(large, self.progress, &mut self.buf);
                            continue;
                        }
                        None => {
                            open = false;
                            None
                        }
                    }
                } else {
                    match items.try_recv() {
                        Ok(item) => Some(item),
                        Err(TryRecvError::Empty) => None,
                        Err(TryRecvError::Disconnected) => {
                            open = false;
                            None
                        }
                    }
                };
                match next {
                    Some(item) => {
                        if let Err(e) = self.start(item) {
                            self.ring_failed(e);
                            return self.files.drain(items, self.progress, &mut self.buf);
                        }
                    }
                    None => break,
                }
            }
            if self.ring.ops.is_empty() {
                if open {
                    continue;
                }
                // The large files still queued (some may be this worker's).
                return self.files.drain(items, self.progress, &mut self.buf);
            }
            if let Err(e) = self.turn() {
                self.ring_failed(e);
                return self.files.drain(items, self.progress, &mut self.buf);
            }
        }
    }

    /// Start an item: queue the read of a regular file, do anything else now.
    /// An error means the ring is broken.
    fn start(&mut self, item: Item) -> std::io::Result<()> {
        if crate::interrupt::requested() {
            copier::drop_interrupted(item);
            return Ok(());
        }
        // Files that need the synchronous path (see `files_need_sync`).
        let plain_file =
            // (a --link-dest twin is linked, never read: see `linking::twin`.)
            matches!(item.kind, Kind::File { as_data: false, twin: false, .. }) && !self.files.files_need_sync();
        let ready = matches!(item.dst_dir.wait(), DstState::Ready { .. });
        // While the cache is warm (see `adapt`), and for a file that may be
        // cloned (see `Mover::may_clone`), the ring does not read it at all.
        if plain_file && ready {
            let warm = self.adapt.sync();
            if warm || self.files.may_clone(&item.src_dir, &item.dst_dir) {
                self.copy_or_queue(item);
                if warm {
                    self.adapt.sync_file();
                }
                return Ok(());
            }
        }
        let slot = if plain_file && ready {
            self.slots.pop()
        } else {
            None
        };
        let Some(slot) = slot else {
            self.files.handle(item, self.progress, &mut self.buf);
            return Ok(());
        };
        let Some(buf) = self.ring.pool.get(self.chunk) else {
            self.slots.push(slot);
            self.files.handle(item, self.progress, &mut self.buf);
            return Ok(());
        };
        let nofollow = match item.kind {
            Kind::File { follow: true, .. } => 0,
            _ => libc::O_NOFOLLOW,
        };
        let noatime = if self.files.archive.preserve.timestamps {
            libc::O_NOATIME
        } else {
            0
        };
        let dir = item.src_dir.fd.as_raw_fd();
        let name = item.name.as_ptr();
        let ptr = self.ring.pool.ptr(&buf);
        let len = buf.len;
        let before = clock_before();
        let key = self.ring.ops.insert(Pending {
            item,
            buf,
            slot,
            before,
        });
        let open = opcode::OpenAt::new(Fd(dir), name)
            .flags(libc::O_RDONLY | nofollow | noatime)
            .file_index(DestinationSlot::try_from_slot_target(slot).ok())
            .build()
            // One completion per file: the read's, or the open's if it failed
            // (which cancels the read without a completion).
            .flags(squeue::Flags::IO_LINK | squeue::Flags::SKIP_SUCCESS)
            .user_data(key.user_data(OPEN));
        let read = if self.ring.pool.registered() {
            opcode::ReadFixed::new(Fixed(slot), ptr, len, 0).build()
        } else {
            opcode::Read::new(Fixed(slot), ptr, len).build()
        };
        let read = read.user_data(key.user_data(READ));
        // SAFETY: the name belongs to the item and the buffer range to the
        // pool entry held by the `Pending` just inserted under `key`, which
        // stays in `ops` until its one completion is reaped (`turn`) or the
        // ring is abandoned; the slot is this file's until then too.
        unsafe { self.ring.push(&[open, read]) }?;
        self.new_chains += 1;
        Ok(())
    }

    /// Submit the queued chains, wait for one completion, finish what completed.
    fn turn(&mut self) -> std::io::Result<()> {
        // Submit without waiting first: when every chain in flight completed
        // inline, the sources are in the page cache (see `adapt`).
        let submitted = std::mem::take(&mut self.new_chains);
        let mut wait = submitted == 0;
        if !wait {
            self.ring.submit(0)?;
            let ready = self.ring.ready();
            self.adapt
                .ring_turn(submitted, ready >= self.ring.ops.len());
            wait = ready == 0;
        }
        if wait {
            self.ring.submit(1)?;
        }
        let mut done = std::mem::take(&mut self.done);
        self.ring.reap(&mut done);
        for &(key, step, res) in &done {
            if let Some(p) = self.ring.ops.remove(key) {
                self.finish(p, step, res);
            }
        }
        done.clear();
        self.done = done;
        Ok(())
    }

    /// A source has been read (or could not be): write the destination.
    fn finish(&mut self, p: Pending, step: u8, res: i32) {
        let Pending {
            item,
            buf,
            slot,
            before,
        } = p;
        self.slots.push(slot);
        if crate::interrupt::requested() {
            return self.ring.pool.put(buf); // nothing written for it yet
        }
        let result =
            if step == OPEN && res == -libc::EPERM && self.files.archive.preserve.timestamps {
                // O_NOATIME is for the file's owner: copy it the synchronous way.
                self.ring.pool.put(buf);
                return self.copy_or_queue(item);
            } else if step == OPEN || res < 0 {
                let op = if step == OPEN { Op::OpenRead } else { Op::Read };
                Err(item.error(op, false, errno(-res)).into())
            } else if res as u32 == buf.len {
                // It may be larger than the buffer: copy it the streaming way, or
                // leave it to a free worker if it is large.
                self.ring.pool.put(buf);
                return self.copy_or_queue(item);
            } else {
                self.write(&item, &buf, res as usize, before)
            };
        self.ring.pool.put(buf);
        report(self.progress, &item, result);
    }

    /// Create the destination and write the `n` bytes read.
    fn write(&mut self, item: &Item, buf: &Buf, n: usize, before: (i64, u32)) -> Outcome {
        let Some(DstState::Ready { fd, fresh }) = item.dst_dir.state() else {
            return Ok(Done::Skipped);
        };
        let flags = match item.kind {
            Kind::File { follow: true, .. } => AtFlags::empty(),
            _ => AtFlags::SYMLINK_NOFOLLOW,
        };
        // The mode for the new file and the identity for cp's same-file check.
        // The inode is cached now that it has been read, so this is cheap.
        let st = rustix::fs::statx(
            &item.src_dir.fd,
            item.name.as_c_str(),
            flags,
            StatxFlags::BASIC_STATS,
        )
        .map_err(|e| item.error(Op::Stat, false, e.into()))?;
        if FileType::from_raw_mode(st.stx_mode.into()) != FileType::RegularFile
            || st.stx_size != n as u64
        {
            // It changed since it was read: copy what is there now.
            return self.copy_by_syscalls(item);
        }
        let sst = SrcStat::from_statx(&st);
        if may_have_changed(&sst, before) {
            // Written while, or just before, it was read.
            return self.copy_by_syscalls(item);
        }
        if self.files.archive.sparse_copy(&sst) {
            // It may have holes: the synchronous path keeps them.
            return self.copy_by_syscalls(item);
        }
        let first = match self.files.claim_link(item, &sst, fd.as_fd(), *fresh) {
            LinkClaim::Untracked => false,
            LinkClaim::First => true,
            LinkClaim::Ended(outcome) => return outcome,
        };
        let result = self.write_new(item, buf, n, &sst);
        if first {
            self.files
                .first_done(item, &sst, result.as_ref().is_ok_and(|d| d.made()));
        }
        result
    }

    /// Write the `n` bytes read to a new or truncated destination, then its attributes.
    fn write_new(&mut self, item: &Item, buf: &Buf, n: usize, sst: &SrcStat) -> Outcome {
        let Some(DstState::Ready { fd, fresh }) = item.dst_dir.state() else {
            return Ok(Done::Skipped);
        };
        let Some(out) = self.files.open_destination(
            item,
            fd.as_fd(),
            *fresh,
            sst,
            self.files.archive.create_mode(sst.mode),
            false,
        )?
        else {
            return Ok(Done::Skipped);
        };
        // SAFETY: the read completed, so the kernel no longer writes this range,
        // and `n` is at most the range's length.
        let data = unsafe { std::slice::from_raw_parts(self.ring.pool.ptr(buf), n) };
        if let Err(e) = self.files.write_whole(item, &out, data) {
            self.files.discard(item, fd.as_fd(), out);
            return Err(e.into());
        }
        if self.files.archive.file_attrs() {
            let follow = matches!(item.kind, Kind::File { follow: true, .. });
            self.files.archive.apply(
                sst,
                meta::Src::At {
                    dir: item.src_dir.fd.as_fd(),
                    name: &item.name,
                    follow,
                },
                &|| item.src_path(),
                meta::Dst::Fd(out.fd.as_fd()),
                &|| item.dst_path(),
                out.created,
            );
        }
        self.files.commit(item, fd.as_fd(), out)?;
        Ok(Done::Copied(n as u64))
    }

    /// Copy a regular file with system calls and report it, or queue it for
    /// any worker if it is large.
    fn copy_or_queue(&mut self, item: Item) {
        let dir = item.dst_dir.clone();
        if let Some(DstState::Ready { fd, fresh }) = dir.state() {
            let (fd, fresh) = (fd.as_fd(), *fresh);
            self.files
                .copy_or_queue(item, fd, fresh, self.progress, &mut self.buf);
        }
    }

    /// Copy a regular file with system calls now (the ring's read of it
    /// cannot be used); the caller reports the outcome.
    fn copy_by_syscalls(&mut self, item: &Item) -> Outcome {
        match item.dst_dir.state() {
            Some(DstState::Ready { fd, fresh }) => {
                self.files.copy(item, fd.as_fd(), *fresh, &mut self.buf)
            }
            _ => Ok(Done::Skipped),
        }
    }

    /// The ring itself failed: operations may be in flight, so the memory
    /// they use (names, buffers) is never freed. They only read sources, so
    /// their files are copied again with system calls.
    fn ring_failed(&mut self, e: std::io::Error) {
        self.progress.warning(&format!(
            "io_uring failed ({}); finishing with plain system calls",
            crate::error::strip_os_suffix(&e)
        ));
        let mut again = Vec::new();
        self.ring.abandon(|p| again.push(p.item.clone()));
        for item in again {
            self.copy_or_queue(item);
        }
    }
}
