//! Copy engines: one trait, several drivers, one chosen at start-up (xcp's design).
//!
//! An engine consumes [`Item`]s from the walker and creates them at the
//! destination. All engines share the synchronous copier in [`copier`]
//! (existing destinations under cp's rules, symlinks, special files, large
//! files, cleanup), the byte mover in [`mover`] and the result type in
//! [`outcome`], so their behaviour cannot drift apart; the two io_uring
//! engines share [`ring`]. They differ only in how the common case, a new
//! small regular file, is copied:
//!
//! - [`uring`]: sources read through a ring per worker, destinations written
//!   with system calls (`auto`'s choice for `-a` from storage and in sync
//!   mode);
//! - [`chains`]: every step through one ring (fewest system calls);
//! - [`portable`]: system calls only; as `--engine walkers` (`auto`'s choice
//!   within one cloning filesystem and for cached sources) without queues:
//!   the walkers take whole directories and create what they list (see
//!   [`crate::walk::Pool`]).

pub mod backup;
pub mod cache;
pub mod chains;
pub mod copier;
pub mod mover;
pub mod outcome;
pub mod portable;
pub mod prompt;
pub mod ring;
pub mod uring;
pub mod workers;

pub use workers::{cpus, default_workers};

use crate::config::{EngineChoice, Overwrite};
use crate::progress::Progress;
use crate::tree::Item;
use crossbeam_channel::Receiver;
use std::sync::Arc;

/// What every engine needs to know.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub overwrite: Overwrite,
    /// Cap on file-data buffer memory, in bytes.
    pub buffer_mem: u64,
    /// -j: workers of the multi-worker engines ([`default_workers`] if not given;
    /// the command line's default is [`workers::for_copy`]).
    pub jobs: Option<usize>,
    /// Archive mode (what is preserved, sparse, reflink), shared by all workers.
    pub archive: Arc<crate::meta::Archive>,
    /// --preserve=links: the hard-link map, shared with the walker.
    pub links: Arc<crate::meta::links::Links>,
    /// io_uring engine: plain system calls for sources in the page cache.
    pub adaptive_reads: bool,
    /// Sync mode: regular files are written through a temporary name.
    pub temp_files: bool,
    /// --verify: every copy is read back and compared with its source.
    pub verify: bool,
    /// --remove-source-files: a source name goes once its copy is made.
    pub remove_source: bool,
    /// Several sources: one may land where another made a symlink (see
    /// `copier::dest::MadeSymlinks`).
    pub several_sources: bool,
    /// --remove-destination: an existing destination file is replaced by a
    /// new file, not rewritten in place.
    pub remove_destination: bool,
    /// --attributes-only: files get their attributes, no data.
    pub attributes_only: bool,
    /// -b: replaced destinations are kept under backup names.
    pub backup: Option<crate::config::Backup>,
    /// -i: ask before replacing a destination.
    pub interactive: bool,
    /// -l, -s: non-directories become links to their sources.
    pub link: Option<crate::config::LinkMode>,
    /// Sync mode: one walker decides per entry, so walkers that take whole
    /// directories are not used (the walkers engine runs with queues).
    pub sync: bool,
}

impl EngineOptions {
    /// Must every regular file take the synchronous copier's path? In sync
    /// mode (temporary names), with --verify (read back) or
    /// --remove-source-files (removed after the copy), under --reflink=always
    /// (FICLONE), with --attributes-only (no data at all), -l/-s (links, no
    /// data) and -i (a question, asked once, before anything is opened): the
    /// ring engines' fast paths do none of these.
    pub fn files_need_sync(&self) -> bool {
        self.temp_files
            || self.verify
            || self.remove_source
            || self.attributes_only
            || self.link.is_some()
            || self.interactive
            || self.archive.files_need_sync()
    }

    /// Does the all-in-ring engine copy regular files in its ring (not with
    /// the synchronous copier)? Only when nothing beyond `cp -r` is kept:
    /// there are no opcodes for fchown, futimens or fchmod.
    pub fn ring_copies_files(&self) -> bool {
        !self.files_need_sync() && !self.archive.preserve.any()
    }
}

/// The synchronous copier for `workers` threads that may use `bytes` of
/// buffers between them, one buffer each.
pub fn file_copier(opts: &EngineOptions, workers: usize, bytes: u64) -> copier::FileCopier {
    let chunk = (bytes as usize / workers.max(1)).clamp(4096, 1 << 20);
    copier::FileCopier::new(opts, chunk)
}

/// What an engine takes from the walker: its half of the contract described
/// in [`crate::walk`]. The walker decides everything else (which queue an
/// item goes to, when to wait).
#[derive(Debug, Clone, Copy)]
pub struct Intake {
    /// Queues of items, one per worker; each is handled in order.
    pub queues: usize,
    /// Directories come as items and the engine makes them (`MKDIRAT` in its
    /// ring). Otherwise the walker makes each directory before it sends what
    /// goes inside: then no worker ever waits for another worker's queue to
    /// reach a directory, which with one queue per worker stalls whole queues.
    pub makes_dirs: bool,
}

/// A copy engine.
pub trait Engine {
    /// Its name, for `-v` and statistics.
    fn name(&self) -> &'static str;
    /// How it takes items from the walker.
    fn intake(&self) -> Intake;
    /// Create every item received, until all the queues close. Each queue
    /// is handled in order; see [`crate::walk`] for why that cannot deadlock.
    fn run(&mut self, queues: Vec<Receiver<Item>>, progress: &Arc<dyn Progress>);
    /// `Some` when there are no queues: this many walkers take whole
    /// directories and create what they list with this copier (see
    /// [`crate::walk::Pool`]), and [`Engine::run`] is not called.
    fn walkers(&self) -> Option<(usize, Arc<copier::FileCopier>)> {
        None
    }
}

/// Why [`pick`] picked its engine, for `--debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// `--engine` named it.
    Asked,
    /// `auto`: sync mode, whose decisions are one walker's, with io_uring.
    Default,
    /// `auto`: the sources are not in the page cache.
    Cold,
    /// `auto`: the sources are in the page cache.
    Cached,
    /// `auto`: a copy within one cloning filesystem (every file is cloned).
    Clones,
    /// `auto`: io_uring cannot be used here (the reason).
    NoUring(String),
}

/// An engine to build (see [`pick`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Portable,
    /// The portable engine's walkers taking whole directories, no queues.
    Walkers,
    Uring,
    Chains,
}

/// Pick the engine, without building it: the one asked for, or for `auto`
/// (outside sync mode, where one walker decides and feeds queues):
/// - within one cloning filesystem (`clones`), walkers taking whole
///   directories: every file is cloned, all CPU work (see
///   [`crate::walk::Pool`]);
/// - when `cold()` says the sources are not in the page cache (see
///   [`cache`]), the ring engines: every open, stat and read in flight at
///   once (the all-in-ring engine for a plain copy, `ring_copies_files`;
///   it has no opcodes for the attributes `-a` keeps);
/// - else, the sources cached, walkers again: then a copy is CPU work too,
///   and walkers that create what they list spend less of it than a walker
///   feeding ring workers (no hand-offs, one thread per CPU, one directory's
///   creates on one thread). Warm, into a fresh loop filesystem, 5 runs,
///   medians: `-r` /usr/share into ext4 1,426 vs 1,572 ms for the io_uring
///   engine, a CPython tree 1,499 vs 1,609, /usr/include 257 vs 295; into
///   xfs 1,807 vs 1,899, 1,723 vs 1,815, 307 vs 351; `-a` /usr/share into
///   ext4 1,201 vs 1,347, the CPython tree 1,302 vs 1,513.
///
/// In sync mode `auto` is the io_uring engine, cold or not (the look only
/// decides whether directories are listed ahead of the walk).
pub fn pick(
    choice: EngineChoice,
    opts: &EngineOptions,
    clones: bool,
    cold: impl FnOnce() -> bool,
) -> (Pick, Why) {
    match choice {
        EngineChoice::Portable => (Pick::Portable, Why::Asked),
        EngineChoice::Walkers => (Pick::Walkers, Why::Asked),
        EngineChoice::Uring => (Pick::Uring, Why::Asked),
        EngineChoice::UringChains => (Pick::Chains, Why::Asked),
        // Sync mode's engine does not depend on the cache, but a cold tree
        // gets its directories listed ahead of the walk (`walk::listahead`).
        EngineChoice::Auto if opts.sync => match cold() {
            true => (Pick::Uring, Why::Cold),
            false => (Pick::Uring, Why::Default),
        },
        EngineChoice::Auto if clones => (Pick::Walkers, Why::Clones),
        EngineChoice::Auto if cold() => match opts.ring_copies_files() {
            true => (Pick::Chains, Why::Cold),
            false => (Pick::Uring, Why::Cold),
        },
        EngineChoice::Auto => (Pick::Walkers, Why::Cached),
    }
}

/// Build the engine [`pick`] picked. An io_uring engine that cannot start
/// here is an error when it was asked for; `auto` falls back from the
/// all-in-ring engine to the io_uring engine, and from that to the portable
/// one (with [`Why::NoUring`]).
pub fn build(pick: Pick, why: Why, opts: &EngineOptions) -> Result<(Box<dyn Engine>, Why), String> {
    let unavailable = |why| format!("the io_uring engine is unavailable: {why}");
    let asked = why == Why::Asked;
    if pick == Pick::Chains {
        match chains::Chains::new(opts.clone()) {
            Ok(e) => return Ok((Box::new(e), why)),
            Err(e) if asked => return Err(unavailable(e)),
            Err(_) => {}
        }
    }
    match pick {
        Pick::Portable => Ok((Box::new(portable::Portable::new(opts.clone(), false)), why)),
        Pick::Walkers => Ok((Box::new(portable::Portable::new(opts.clone(), true)), why)),
        Pick::Uring | Pick::Chains => match uring::Uring::new(opts.clone()) {
            Ok(e) => Ok((Box::new(e), why)),
            Err(e) if asked => Err(unavailable(e)),
            Err(e) => Ok((
                Box::new(portable::Portable::new(opts.clone(), false)),
                Why::NoUring(e),
            )),
        },
    }
}
