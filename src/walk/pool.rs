//! Walkers that take whole directories: for a copy within one cloning
//! filesystem (btrfs, xfs), several walkers share the directories still to
//! visit, and each creates what it lists itself, with the synchronous copier.
//!
//! Why: there a file costs only metadata updates (it is cloned, no data
//! moves), all CPU work under the destination directory's lock. With one
//! walker feeding per-worker queues, a big directory's entries are spread
//! over the workers, which then take turns on that directory's lock
//! (`perf`: `rwsem_spin_on_owner` under `openat(O_CREAT)`), and the walker
//! is a third thread on two CPUs. A walker that owns the directories it
//! lists creates in one directory at a time, like cpz's workers.
//!
//! A big directory found late would then be one walker's alone while the
//! others wait (strace: the 17.9k-entry man1 of /usr/share was the last
//! seconds of the copy); so while a walker waits for work, the walker
//! listing a directory lends it entries, [`LEND`] at a time. /usr/share
//! within one filesystem, 2 CPUs, medians of 5: btrfs 2.270 -> 2.195 s,
//! xfs 2.119 -> 1.839 s (`benches/RESULTS-cow.md`).
//!
//! Lent whole, a file still had to be created in the lender's directory:
//! the two walkers took turns on its lock, which on this project's second
//! host ate all the lending gained (xfs: the same wall time as never
//! lending, 13% more CPU). So a walker listing a directory, while another
//! walker could take it, opens each file at both ends itself (the only
//! step under the directory's lock) and leaves it in the pool, at most
//! [`OPEN_AHEAD`] at a time, for a walker to finish (`engine::copier::lent`):
//! xfs, 9 runs, 0.38 -> 0.37 s, CPU 0.69 -> 0.65. Only within xfs: not
//! within btrfs, where the walkers contend on the filesystem's tree instead
//! (0.58 -> 0.60 s), nor where bytes are copied (warm into ext4: no gain,
//! and the harness's warm cells a little worse).
//!
//! Large files (16 MiB and up) are not copied where they are found: a
//! walker listing a directory leaves each in the pool, taken first by
//! whichever walker is free, and one going through lent entries gives one
//! back while another walker waits. Copied where found, the large files of
//! one directory went one after the other on one walker (2 x 1 GiB warm into
//! ext4, 5-7 runs: 631 -> 350 ms; fcp 374).
//!
//! Each walker has its own [`Walker`] (buffers, stack); what they share is
//! the [`Pool`]: the directories found and not yet taken, and how many
//! walkers are busy, so that a walker with nothing to take waits until
//! another one finds more, or until all are idle and the walk is over.
//! Directories are taken last-found first: depth-first, as with one walker,
//! so the pool holds little more than the siblings along the current paths.
//! Where directories are made ahead (`ahead.rs`, btrfs) they are taken
//! first-found first, while the directories open use less than half the
//! descriptor budget (the pool holds their parents open); past that,
//! depth-first again until some are closed.

use super::*;
use crate::engine::copier::lent::{Lending, OpenFile};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Condvar, Mutex};

/// Entries of a directory lent to a waiting walker at once.
const LEND: usize = 64;

/// Files opened for another walker and not taken yet, at most (each holds
/// two descriptors and an empty destination; see `engine::copier::lent`).
const OPEN_AHEAD: usize = 16;

/// The directories found and not yet taken, shared by the walkers.
pub struct Pool {
    state: Mutex<State>,
    /// How many walkers share it.
    pub(super) walkers: usize,
    /// Signalled when a directory is added, a walker goes idle, or the walk ends.
    changed: Condvar,
    /// The synchronous copier every walker creates items with.
    pub(super) files: Arc<crate::engine::copier::FileCopier>,
    /// Walkers waiting for work (read without the lock by the listers).
    waiting: AtomicUsize,
    /// How many files opened for another walker wait in the pool (read
    /// without the lock by the listers).
    opened: AtomicUsize,
    /// Directories are made when found, and taken in the order found.
    pub(super) ahead: bool,
    /// A listing walker opens files at both ends for another to finish.
    split: bool,
    /// How many directories may be open (the walkers' descriptor budget).
    budget: usize,
}

struct State {
    /// Taken from the back (depth-first), or from the front when `ahead`.
    dirs: VecDeque<PendingDir>,
    /// Entries lent by the walker listing a directory, or going through the
    /// operands (see [`Walker::create`]).
    lent: Vec<Vec<Item>>,
    /// Large files a walker found while listing, or gave back from lent
    /// entries for a walker that waits; taken first, copied by the taker.
    large: Vec<Item>,
    /// Files the walker listing their directory opened at both ends, for
    /// another walker to finish; taken after the large files.
    opened: Vec<OpenFile>,
    /// Walkers working on what they took (a directory or lent entries).
    busy: usize,
    /// No more directories will come: walkers with nothing to take stop.
    closed: bool,
}

/// A walker's turn on one directory: going idle (even by a panic) is
/// announced, so no other walker waits for it forever.
struct Busy<'a>(&'a Pool);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.busy -= 1;
        drop(st);
        self.0.wake(true);
    }
}

impl Pool {
    pub fn new(
        walkers: usize,
        files: Arc<crate::engine::copier::FileCopier>,
        ahead: bool,
        split: bool,
        budget: usize,
    ) -> Arc<Self> {
        Arc::new(Pool {
            walkers,
            waiting: AtomicUsize::new(0),
            opened: AtomicUsize::new(0),
            ahead,
            split,
            budget,
            state: Mutex::new(State {
                dirs: VecDeque::new(),
                lent: Vec::new(),
                large: Vec::new(),
                opened: Vec::new(),
                busy: 0,
                closed: false,
            }),
            changed: Condvar::new(),
            files,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A walker that panicked holding the lock left nothing half-done in it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take a directory to walk, or else lent entries to create. `None` when
    /// there is neither and none can come: the pool is closed, or
    /// `until_idle` and no walker is busy.
    fn take(&self, until_idle: bool) -> Option<(Work, Busy<'_>)> {
        let mut st = self.lock();
        loop {
            if crate::interrupt::requested() {
                return None;
            }
            // A large file first: it is the longest work; then files opened
            // for another walker (they hold descriptors).
            let work = match st.large.pop() {
                Some(large) => Some(Work::Large(large)),
                None if !st.opened.is_empty() => {
                    self.opened.store(0, Relaxed);
                    Some(Work::Opened(std::mem::take(&mut st.opened)))
                }
                None => match self.ahead && crate::tree::open_dirs() < self.budget / 2 {
                    true => st.dirs.pop_front(),
                    false => st.dirs.pop_back(),
                }
                .map(Work::Dir)
                .or_else(|| st.lent.pop().map(Work::Entries)),
            };
            if let Some(work) = work {
                st.busy += 1;
                return Some((work, Busy(self)));
            }
            if st.closed || (until_idle && st.busy == 0) {
                return None;
            }
            self.waiting.fetch_add(1, Relaxed);
            // A timeout only to look at the interrupt flag again.
            st = match self
                .changed
                .wait_timeout(st, std::time::Duration::from_millis(100))
            {
                Ok((st, _)) => st,
                Err(e) => e.into_inner().0,
            };
            self.waiting.fetch_sub(1, Relaxed);
        }
    }

    /// Wake the walkers waiting for work (`all`), or one, if any waits. Called
    /// after the change, out of the lock: a walker counts itself in
    /// `waiting` under the lock before it waits, so either it is counted
    /// here or it saw the change. (The condition variable's `notify` is a
    /// `futex` call whether or not anyone waits: 3.9k calls, one per
    /// directory, in a copy of /usr/share.)
    fn wake(&self, all: bool) {
        match (self.waiting.load(Relaxed) > 0, all) {
            (false, _) => {}
            (true, true) => self.changed.notify_all(),
            (true, false) => self.changed.notify_one(),
        }
    }

    /// Is a walker waiting for work? Then a walker in a big directory lends
    /// it entries (a long directory found last would otherwise be one
    /// walker's alone while the others wait).
    pub(super) fn wants_help(&self) -> bool {
        self.waiting.load(Relaxed) > 0
    }

    /// Entries of a directory (never directories) for another walker.
    fn lend(&self, entries: Vec<Item>) {
        if entries.is_empty() {
            return;
        }
        self.lock().lent.push(entries);
        self.wake(false);
    }

    /// Is there room for another file opened for another walker? Only with
    /// several walkers, where the run splits files (see `lib.rs`'s
    /// `Scheduling::split`: within xfs, not btrfs).
    fn takes_opened(&self) -> bool {
        self.split && self.walkers > 1 && self.opened.load(Relaxed) < OPEN_AHEAD
    }

    /// Open `item` at both ends for another walker to finish (see
    /// `engine::copier::lent`); anything that ends here is settled here, a
    /// large file is left for whichever walker is free first.
    fn open_for_another(&self, item: Item, progress: &dyn Progress, buf: &mut Vec<u8>) {
        match self.files.open_for_another(item, progress, buf) {
            Lending::Open(file) => {
                let mut st = self.lock();
                st.opened.push(file);
                self.opened.store(st.opened.len(), Relaxed);
            }
            Lending::Large(large) => self.lock().large.push(large),
            Lending::Done => return,
        }
        self.wake(false);
    }

    /// The run was interrupted: remove what files opened for another walker
    /// and not taken created (nothing will finish them).
    fn discard_opened(&self) {
        let stranded = std::mem::take(&mut self.lock().opened);
        self.opened.store(0, Relaxed);
        for file in stranded {
            self.files.discard_open(file);
        }
    }

    /// Create `item` here, unless it is a large file: that is left in the
    /// pool for whichever walker is free first (see `Work::Large`).
    fn create_or_lend_large(&self, item: Item, progress: &dyn Progress, buf: &mut Vec<u8>) {
        if let Some(large) = self.files.create_now_or_give_back(item, progress, buf) {
            self.lock().large.push(large);
            self.wake(false);
        }
    }

    /// Add directories found, the first found last (the order in which a
    /// walker alone takes them, from the back: see `Walker::dir`).
    pub(super) fn give(&self, found: impl DoubleEndedIterator<Item = PendingDir>) {
        let mut st = self.lock();
        let before = st.dirs.len();
        match self.ahead {
            // In the order found, behind those found before: taken from the
            // front, the oldest first.
            true => st.dirs.extend(found.rev()),
            false => st.dirs.extend(found),
        }
        let added = st.dirs.len() > before;
        drop(st);
        if added {
            self.wake(true);
        }
    }

    /// The walk is over: walkers waiting for directories stop.
    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }
}

/// Closes the pool when dropped.
pub(super) struct CloseOnDrop<'a>(pub(super) &'a Pool);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// What a walker takes from the pool.
enum Work {
    /// A directory to list, and create what is in it.
    Dir(PendingDir),
    /// Entries another walker listed, to create.
    Entries(Vec<Item>),
    /// Files another walker opened at both ends, to finish.
    Opened(Vec<OpenFile>),
    /// A large file a walker found while listing or gave back from lent
    /// entries, to copy here whatever happens meanwhile (never given back
    /// again).
    Large(Item),
}

impl Walker {
    /// A subdirectory was just pushed on the stack while listing (those
    /// found in this listing from `first` on): give them to the pool now, in
    /// the order the pool takes them (as at the end of the listing), when
    /// * it was made ahead (`ahead.rs`) and a walker waits for work: making
    ///   the copies of a directory's subdirectories is its listing's longest
    ///   part, and the other walker would wait through it;
    /// * or [`GIVE_EVERY`] have been found: two walkers
    ///   listing directories of 10,000 subdirectories each (GNU's
    ///   link-heap.sh, under `ulimit -v`) then do not each hold a stack of
    ///   them beside the pool's copy (the limit such a copy needed went from
    ///   3.75 MB above one file's to 2.9 MB, 10 runs of 10 each; GNU's bound
    ///   is 4 MB).
    pub(super) fn give_found_early(&mut self, first: usize, made_ahead: bool) {
        let Some(pool) = &self.pool else {
            return;
        };
        let now = match made_ahead {
            true => pool.wants_help(),
            false => self.stack.len() - first >= super::GIVE_EVERY,
        };
        if now {
            pool.give(self.stack.drain(first..).rev());
        }
    }

    /// Create an item listed here, or lend it to a waiting walker. Operands
    /// that are not directories are always lent (the walker goes on to the
    /// next operand), and [`Walker::finish_pool`] gives what is left.
    pub(super) fn create(&self, pool: &Pool, item: Item) {
        if self.listing && pool.takes_opened() {
            let mut buf = self.copy_buf.borrow_mut();
            pool.open_for_another(item, &*self.progress, &mut buf);
            return;
        }
        if !self.listing || pool.wants_help() {
            let mut lent = self.lent.borrow_mut();
            lent.push(item);
            if lent.len() >= LEND {
                pool.lend(std::mem::take(&mut *lent));
            }
            return;
        }
        // A large file is left in the pool, taken first by whichever walker
        // is free (this one, once it has listed the directory, if no other):
        // copied here, it would hold up the listing, and a second large file
        // after it, until its copy was done.
        let mut buf = self.copy_buf.borrow_mut();
        pool.create_or_lend_large(item, &*self.progress, &mut buf);
    }

    /// The walker that goes through the operands, before it waits for them
    /// (overlapping operands, the end of the walk): give the entries it
    /// holds, and help until every walker is idle.
    pub(super) fn finish_pool(&mut self) -> Result<(), Closed> {
        match self.pool.clone() {
            Some(pool) => {
                pool.lend(self.lent.take());
                self.walk_pool(&pool, true)
            }
            None => Ok(()),
        }
    }

    /// Walk the directories of the pool until none is left and no walker is
    /// busy (`until_idle`, the walker that goes through the operands), or
    /// until the pool is closed (the others).
    pub(super) fn walk_pool(&mut self, pool: &Pool, until_idle: bool) -> Result<(), Closed> {
        while let Some((work, _busy)) = pool.take(until_idle) {
            match work {
                Work::Dir(p) => {
                    // Its entries are created here unless a walker waits.
                    self.listing = true;
                    let done = self.dir(p);
                    self.listing = false;
                    pool.lend(self.lent.take());
                    // Its subdirectories, first listed to be taken first.
                    pool.give(self.stack.drain(..));
                    super::shrink_after_give(&mut self.stack);
                    done?;
                }
                Work::Entries(items) => {
                    let mut buf = self.copy_buf.borrow_mut();
                    // A large file among them goes on its own to a walker
                    // that waits (two large files of one directory, lent
                    // together, were copied one after the other: 2 x 1 GiB
                    // warm into ext4, 700 ms against fcp's 405), unless it is
                    // the last: this walker would then wait while the other
                    // copies it (or take it back itself).
                    let progress = &*self.progress;
                    let mut items = items.into_iter().peekable();
                    while let Some(item) = items.next() {
                        if crate::interrupt::requested() {
                            break;
                        }
                        if items.peek().is_some() && pool.wants_help() {
                            pool.create_or_lend_large(item, progress, &mut buf);
                        } else {
                            pool.files.create_now(item, progress, &mut buf);
                        }
                    }
                }
                Work::Large(item) => {
                    let mut buf = self.copy_buf.borrow_mut();
                    pool.files.create_now(item, &*self.progress, &mut buf);
                }
                Work::Opened(files) => {
                    let mut buf = self.copy_buf.borrow_mut();
                    for file in files {
                        pool.files.finish_open(file, &*self.progress, &mut buf);
                    }
                }
            }
        }
        match crate::interrupt::requested() {
            true => {
                pool.discard_opened();
                Err(Closed)
            }
            false => Ok(()),
        }
    }

    /// Another walker for the same run, sharing this one's pool: the same
    /// settings, its own buffers and stack.
    pub(super) fn helper(&self) -> Walker {
        Walker {
            tx: Vec::new(),
            shard: 0,
            next_shard: 0,
            in_dir: 0,
            progress: self.progress.clone(),
            deref: self.deref,
            recursive: self.recursive,
            umask: self.umask,
            make_dirs: self.make_dirs,
            archive: self.archive.clone(),
            filter: self.filter.clone(),
            sync: self.sync.clone(),
            backup: self.backup.clone(),
            backup_dir: self.backup_dir.clone(),
            last_batch: self.last_batch,
            after: Default::default(),
            run_start: self.run_start,
            deleted: 0,
            kept: None,
            dst_buf: Vec::new(),
            dst_names: Default::default(),
            stat_ahead: Default::default(),
            buf: vec![MaybeUninit::uninit(); 64 << 10],
            copy_buf: Default::default(),
            lent: Default::default(),
            listing: false,
            lead: self.lead.clone(),
            stack: Vec::new(),
            dests: self.dests.clone(),
            dir_budget: self.dir_budget,
            deferred: Vec::new(),
            deferred_dirs: 0,
            one_file_system: self.one_file_system,
            operand_dev: self.operand_dev,
            finishes: self.finishes.clone(),
            links: self.links.clone(),
            copy_contents: self.copy_contents,
            bases: None,
            linked_symlinks: self.linked_symlinks.clone(),
            pool: self.pool.clone(),
        }
    }
}
