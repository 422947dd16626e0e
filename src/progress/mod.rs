//! What the engines report, and who listens.
//!
//! Engines and the walker never print: they call a [`Progress`] (xcp's design),
//! which counts and decides what reaches the terminal. [`Console`] is the one
//! the command line uses: `-v` lines on stdout, error messages on stderr.

use crate::error::{CopyError, Failure};
use crate::tree::{Item, Kind};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Receives events from the walker and the engines, from any thread.
pub trait Progress: Send + Sync {
    /// `item` was created at the destination; `bytes` of file data were written.
    fn done(&self, item: &Item, bytes: u64);
    /// `item` was left alone on purpose (e.g. -n and the destination exists).
    fn skipped(&self, item: &Item);
    /// Something failed; the run goes on.
    fn error(&self, err: &CopyError);
    /// A failure that has no single path (printed as is).
    fn message(&self, msg: &str);
    /// A problem worth a word that does not fail the run (cp prints some
    /// xattr failures under `--preserve=all` and still exits 0).
    fn warning(&self, msg: &str);
    /// Either kind of failure.
    fn failure(&self, f: &Failure) {
        match f {
            Failure::Io(e) => self.error(e),
            Failure::Msg(m) => self.message(m),
        }
    }
}

/// Counters for a run.
#[derive(Debug, Default)]
pub struct Stats {
    pub files: AtomicU64,
    pub dirs: AtomicU64,
    pub symlinks: AtomicU64,
    pub specials: AtomicU64,
    pub bytes: AtomicU64,
    pub skipped: AtomicU64,
    pub failed: AtomicU64,
}

/// The terminal: `-v` lines to stdout, errors to stderr.
#[derive(Debug, Default)]
pub struct Console {
    pub verbose: bool,
    pub stats: Stats,
}

impl Console {
    pub fn new(verbose: bool) -> Self {
        Console {
            verbose,
            stats: Stats::default(),
        }
    }

    pub fn failed(&self) -> u64 {
        self.stats.failed.load(Relaxed)
    }
}

impl Progress for Console {
    fn done(&self, item: &Item, bytes: u64) {
        let counter = match item.kind {
            Kind::File { .. } => &self.stats.files,
            Kind::Dir { .. } => &self.stats.dirs,
            Kind::Symlink { .. } => &self.stats.symlinks,
            Kind::Special { .. } => &self.stats.specials,
        };
        counter.fetch_add(1, Relaxed);
        self.stats.bytes.fetch_add(bytes, Relaxed);
        if self.verbose {
            let line = format!(
                "{} -> {}\n",
                crate::error::quote(&item.src_path()),
                crate::error::quote(&item.dst_path())
            );
            // A closed stdout (e.g. `| head`) must not stop the copy.
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    }

    fn skipped(&self, _item: &Item) {
        self.stats.skipped.fetch_add(1, Relaxed);
    }

    fn error(&self, err: &CopyError) {
        self.message(&err.to_string());
    }

    fn warning(&self, msg: &str) {
        let _ = writeln!(std::io::stderr().lock(), "uring-cp: {msg}");
    }

    fn message(&self, msg: &str) {
        self.stats.failed.fetch_add(1, Relaxed);
        // A closed stderr must not turn into a panic; the exit status still says it.
        let _ = writeln!(std::io::stderr().lock(), "uring-cp: {msg}");
    }
}
