//! Sync mode's quick check spread over the CPUs: the two `stat`s per entry
//! (source and destination) of a big directory, done by helper threads while
//! the walker does its share.
//!
//! Why: a re-sync that finds little to do is nothing but listing and
//! comparing, and the comparing is two `newfstatat` per entry. On one thread
//! the walker ran at 100% of one CPU while the engine's workers idled
//! (/usr/share: 95k stats of 0.44 s of system time). The decisions stay in
//! the walker, in walk order (they touch its state: the link map, itemize
//! lines, deletions); only the stats, which depend on nothing the walker
//! does to other entries, are taken ahead, in parallel.
//!
//! Each directory with at least [`MIN_ENTRIES`] entries to check becomes one
//! [`Job`]: the walker and every helper claim [`CHUNK`] entries at a time
//! from one counter until none is left, then the walker waits for the
//! chunks the helpers still hold. A stat that fails keeps its error, which
//! the quick check reports as it would have reported its own.

use crate::tree::{DstDir, DstState, SrcDir};
use rustix::fs::{AtFlags, Stat};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// Directories with fewer entries to check are checked by the walker alone:
/// handing them out costs more than it saves.
pub(super) const MIN_ENTRIES: usize = 32;
/// Entries claimed at a time.
const CHUNK: usize = 16;

/// The stats of one entry, taken ahead: its source's (without following a
/// symlink), if asked for, and its destination's.
#[derive(Clone, Copy)]
pub(super) struct Pair {
    pub src: Option<Result<Stat, Errno>>,
    pub dst: Result<Stat, Errno>,
}

/// One entry to stat: its name, and whether the source is wanted too.
pub(super) struct Want {
    pub name: CString,
    pub src: bool,
}

/// The stats of one directory's entries, shared by the walker and helpers.
struct Job {
    src: Arc<SrcDir>,
    dst: Arc<DstDir>,
    wants: Vec<Want>,
    next: AtomicUsize,
    out: Vec<OnceLock<Pair>>,
    /// Chunks not finished yet; the walker waits on `all_done` for zero.
    left: Mutex<usize>,
    all_done: Condvar,
}

impl Job {
    /// Claim and stat chunks until none is left.
    fn work(&self) {
        let dst = match self.dst.state() {
            Some(DstState::Ready { fd, .. }) => Some(fd.as_fd()),
            _ => None,
        };
        loop {
            let start = self.next.fetch_add(CHUNK, Ordering::Relaxed);
            if start >= self.wants.len() {
                return;
            }
            let end = (start + CHUNK).min(self.wants.len());
            for i in start..end {
                let w = &self.wants[i];
                let src = w
                    .src
                    .then(|| rustix::fs::statat(&self.src.fd, &w.name, AtFlags::SYMLINK_NOFOLLOW));
                let dst = match dst {
                    Some(fd) => rustix::fs::statat(fd, &w.name, AtFlags::SYMLINK_NOFOLLOW),
                    None => Err(Errno::BADF),
                };
                // Each index is claimed once, so the cell is empty.
                let _ = self.out[i].set(Pair { src, dst });
            }
            let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
            *left -= 1;
            if *left == 0 {
                self.all_done.notify_all();
            }
        }
    }
}

/// Helper threads, started on the first big directory. Dropping the pool
/// hangs up their queues; they finish the job in hand and exit.
#[derive(Default)]
pub(super) struct Prestat {
    helpers: Vec<crossbeam_channel::Sender<Arc<Job>>>,
    started: bool,
}

impl Prestat {
    /// Start taking the stats `wants` asks for in the directories `src` and
    /// `dst`: the helpers begin at once, the walker joins in with
    /// [`Ahead::finish`] once it has read the source's listing. `None` for a
    /// small directory, or when no helper could be started (one CPU, or
    /// thread creation refused): the quick check then stats as it goes.
    pub(super) fn begin(
        &mut self,
        src: &Arc<SrcDir>,
        dst: &Arc<DstDir>,
        wants: Vec<Want>,
    ) -> Option<Ahead> {
        if wants.len() < MIN_ENTRIES || !self.start() {
            return None;
        }
        let chunks = wants.len().div_ceil(CHUNK);
        let job = Arc::new(Job {
            src: src.clone(),
            dst: dst.clone(),
            out: (0..wants.len()).map(|_| OnceLock::new()).collect(),
            wants,
            next: AtomicUsize::new(0),
            left: Mutex::new(chunks),
            all_done: Condvar::new(),
        });
        for h in &self.helpers {
            // A helper still busy (or gone) leaves its share to the others:
            // the walker never waits to hand out work.
            let _ = h.try_send(job.clone());
        }
        Some(Ahead(job))
    }

    /// Start the helpers once: one fewer than the CPUs (the walker is one),
    /// at most three. Whether there is at least one.
    fn start(&mut self) -> bool {
        if !self.started {
            self.started = true;
            let n = crate::engine::workers::cpus().saturating_sub(1).min(3);
            for i in 0..n {
                let (tx, rx) = crossbeam_channel::bounded::<Arc<Job>>(1);
                let spawned = std::thread::Builder::new()
                    .name(format!("prestat-{i}"))
                    .spawn(move || helper(rx));
                if spawned.is_ok() {
                    self.helpers.push(tx);
                }
            }
        }
        !self.helpers.is_empty()
    }
}

/// A helper's loop. After a job it keeps looking for the next one for a
/// moment before it sleeps: in a walk of many big directories the next job
/// comes within microseconds, and waking a sleeping thread took longer than
/// a chunk of stats (the walker had done two thirds of them itself).
fn helper(rx: crossbeam_channel::Receiver<Arc<Job>>) {
    const LOOK: std::time::Duration = std::time::Duration::from_micros(50);
    loop {
        let since = std::time::Instant::now();
        let job = loop {
            match rx.try_recv() {
                Ok(job) => break job,
                Err(crossbeam_channel::TryRecvError::Disconnected) => return,
                Err(crossbeam_channel::TryRecvError::Empty) if since.elapsed() < LOOK => {
                    std::thread::yield_now()
                }
                Err(crossbeam_channel::TryRecvError::Empty) => match rx.recv() {
                    Ok(job) => break job,
                    Err(_) => return,
                },
            }
        };
        job.work();
    }
}

/// Stats being taken (see [`Prestat::begin`]).
pub(super) struct Ahead(Arc<Job>);

impl Ahead {
    /// Take what is left, wait for the helpers' chunks, and return every
    /// stat by name.
    pub(super) fn finish(self) -> HashMap<CString, Pair> {
        let job = self.0;
        job.work();
        let mut left = job.left.lock().unwrap_or_else(|e| e.into_inner());
        while *left > 0 {
            left = job.all_done.wait(left).unwrap_or_else(|e| e.into_inner());
        }
        drop(left);
        job.wants
            .iter()
            .zip(&job.out)
            .filter_map(|(w, cell)| Some((w.name.clone(), *cell.get()?)))
            .collect()
    }
}
