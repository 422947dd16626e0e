//! What the engines report, and who listens.
//!
//! Engines and the walker never print: they call a [`Progress`] (xcp's design),
//! which counts and decides what reaches the terminal. [`Console`] is the one
//! the command line uses: `-v` lines on stdout, error messages on stderr, and
//! counters that the progress bar ([`bar`]) and `--stats` ([`summary`]) read.
//! The copying threads only bump atomic counters; the bar, and the lines of
//! `--info=progress2` ([`lines`]), are written by a thread of their own at a
//! bounded rate, so they cost the copy nothing measurable. With `--log-file`
//! ([`log`]) the console also appends what it says to a file.

pub mod bar;
mod counter;
pub mod lines;
pub mod log;
pub mod summary;

use crate::error::{CopyError, Failure};
use crate::tree::{Item, Kind};
pub use counter::Counter;
use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

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
    /// The walker found `item`, which will be created later (totals for the
    /// progress display).
    fn found(&self, _item: &Item) {}
    /// The walker has found everything: the totals are final.
    fn walk_done(&self) {}
    /// Sync mode, `--itemize-changes`: one change (see [`crate::sync`]).
    fn itemize(&self, _line: &str) {}
    /// Sync mode: a destination entry was deleted.
    fn deleted(&self) {}
    /// An existing destination entry was removed to make room for the item
    /// that replaces it, or (sync mode) deleted or moved aside as the source
    /// lacks it (cp's `removed 'X'` under -v).
    fn removed(&self, _path: &std::path::Path) {}
    /// -b: the existing `dst`, a `what` (`file`, `dir`, `symlink`,
    /// `special`), was kept as `backup` (cp's -v names it on the item's
    /// line; sync mode's `--itemize-changes` gives it a line).
    fn backed_up(&self, _dst: &std::path::Path, _backup: &std::path::Path, _what: &str) {}
    /// Sync mode: --max-delete kept `skipped` more entries from going
    /// (counted as rsync counts them, see `walk::limit`).
    fn delete_stopped(&self, _skipped: u64) {}
    /// What one io_uring worker submitted, when it ends.
    fn ring_usage(&self, _usage: RingUsage) {}
    /// --parents made the directory `dst` on the way to a destination, for
    /// the source directory `src` (cp's `-v` line for it is `src -> dst`,
    /// unquoted).
    fn parent_made(&self, _src: &std::path::Path, _dst: &std::path::Path) {}
    /// Either kind of failure.
    fn failure(&self, f: &Failure) {
        match f {
            Failure::Io(e) => self.error(e),
            Failure::Msg(m) => self.message(m),
        }
    }
}

/// io_uring work of one worker: requests submitted, completions reaped, and
/// `io_uring_enter` calls that carried them.
#[derive(Debug, Default, Clone, Copy)]
pub struct RingUsage {
    pub submitted: u64,
    pub completed: u64,
    pub enters: u64,
}

/// Counters for a run (those bumped per entry are [`Counter`]s).
#[derive(Debug, Default)]
pub struct Stats {
    pub files: Counter,
    pub dirs: Counter,
    pub symlinks: Counter,
    pub specials: Counter,
    pub bytes: Counter,
    pub skipped: AtomicU64,
    pub failed: AtomicU64,
    /// Source entries the walk listed that were gone when reached.
    pub vanished: AtomicU64,
    /// Failures for lack of space after the first, which stopped the run.
    pub out_of_space: AtomicU64,
    /// Sync mode: destination entries deleted, and those --max-delete kept.
    pub deleted: AtomicU64,
    pub delete_skipped: AtomicU64,
    /// Regular files the walker has found so far.
    pub found_files: Counter,
    /// Entries of any kind the walker has found so far.
    pub found: Counter,
    pub walk_done: AtomicBool,
    pub ring_submitted: AtomicU64,
    pub ring_completed: AtomicU64,
    pub ring_enters: AtomicU64,
}

impl Stats {
    /// Entries done so far: created, skipped or failed.
    pub fn settled(&self) -> u64 {
        self.files.load(Relaxed)
            + self.dirs.load(Relaxed)
            + self.symlinks.load(Relaxed)
            + self.specials.load(Relaxed)
            + self.skipped.load(Relaxed)
            + self.failed.load(Relaxed)
            + self.vanished.load(Relaxed)
    }
}

/// The terminal: `-v` lines to stdout, errors to stderr.
#[derive(Debug, Default)]
pub struct Console {
    pub verbose: bool,
    /// Sync mode with change lines (`--itemize-changes`, `--log-file`):
    /// backups get a change line of their own.
    pub backup_lines: bool,
    pub stats: Stats,
    /// The progress bar, once it is shown: lines printed meanwhile go above it.
    bar: OnceLock<indicatif::ProgressBar>,
    /// -v with -b: the backup made of each destination, until its line is printed.
    backups: std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, std::path::PathBuf>>,
    /// Change lines ([`Progress::itemize`]) go to stdout (`--itemize-changes`);
    /// otherwise they are only logged.
    itemize: bool,
    /// `--log-file`: the lines above, messages, and a summary at the end.
    log: Option<log::Log>,
}

impl Console {
    pub fn new(verbose: bool) -> Self {
        Console {
            verbose,
            backup_lines: false,
            stats: Stats::default(),
            bar: OnceLock::new(),
            backups: Default::default(),
            itemize: true,
            log: None,
        }
    }

    /// Also append to `log`; change lines reach stdout only if `itemize`.
    pub fn with_log(mut self, log: Option<log::Log>, itemize: bool) -> Self {
        self.log = log;
        self.itemize = itemize;
        self
    }

    /// The log, where each item made gets a line (`-v`'s, in cp mode).
    fn item_log(&self) -> Option<&log::Log> {
        self.log.as_ref().filter(|l| l.item_lines())
    }

    /// Write `text` to the log, if there is one.
    pub fn log(&self, text: &str) {
        if let Some(log) = &self.log {
            log.line(text);
        }
    }

    /// The log's last line, `status` the exit status; then flush it.
    pub fn finish_log(&self, status: i32, elapsed: std::time::Duration) {
        let Some(log) = &self.log else {
            return;
        };
        let s = &self.stats;
        log.line(&format!(
            "total: {} files, {} directories, {} symlinks, {} special files, {} bytes, \
             {} skipped, {} deleted, {} failed, {} vanished in {:.3} s; exit status {status}",
            s.files.load(Relaxed),
            s.dirs.load(Relaxed),
            s.symlinks.load(Relaxed),
            s.specials.load(Relaxed),
            s.bytes.load(Relaxed),
            s.skipped.load(Relaxed),
            s.deleted.load(Relaxed),
            s.failed.load(Relaxed),
            s.vanished.load(Relaxed),
            elapsed.as_secs_f64(),
        ));
        log.finish();
    }

    pub fn failed(&self) -> u64 {
        self.stats.failed.load(Relaxed)
    }

    /// A note on stderr that is not a failure.
    pub fn note(&self, msg: &str) {
        self.log(&format!("uring-cp: {msg}"));
        self.print(|| {
            let _ = writeln!(std::io::stderr().lock(), "uring-cp: {msg}");
        });
    }

    /// Print through the bar when it is shown, so it is redrawn below.
    fn print(&self, f: impl FnOnce()) {
        match self.bar.get() {
            Some(bar) if !bar.is_hidden() => bar.suspend(f),
            _ => f(),
        }
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
        let log = self.item_log();
        if self.verbose || log.is_some() {
            let dst = item.dst_path();
            let backup = match self.backups.lock() {
                Ok(mut b) if !b.is_empty() => b.remove(&dst),
                _ => None,
            };
            let line = format!(
                "{} -> {}{}",
                crate::error::quote(&item.src_path()),
                crate::error::quote(&dst),
                backup.map_or_else(String::new, |b| format!(
                    " (backup: {})",
                    crate::error::quote(&b)
                ))
            );
            if let Some(log) = log {
                log.line(&line);
            }
            if self.verbose {
                // A closed stdout (e.g. `| head`) must not stop the copy.
                self.print(|| {
                    let _ = writeln!(std::io::stdout().lock(), "{line}");
                });
            }
        }
    }

    fn found(&self, item: &Item) {
        self.stats.found.fetch_add(1, Relaxed);
        if let Kind::File { .. } = item.kind {
            self.stats.found_files.fetch_add(1, Relaxed);
        }
    }

    fn walk_done(&self) {
        self.stats.walk_done.store(true, Relaxed);
    }

    fn itemize(&self, line: &str) {
        self.log(line);
        if self.itemize {
            self.print(|| {
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            });
        }
    }

    fn deleted(&self) {
        self.stats.deleted.fetch_add(1, Relaxed);
    }

    fn backed_up(&self, dst: &std::path::Path, backup: &std::path::Path, what: &str) {
        if self.backup_lines {
            use crate::error::quote;
            let line = format!("backup {what} - {} -> {}", quote(dst), quote(backup));
            return self.itemize(&line);
        }
        if (self.verbose || self.item_log().is_some())
            && let Ok(mut b) = self.backups.lock()
        {
            b.insert(dst.to_path_buf(), backup.to_path_buf());
        }
    }

    fn removed(&self, path: &std::path::Path) {
        let log = self.item_log();
        if self.verbose || log.is_some() {
            use crate::error::quote;
            // Sync mode's deletions under -b say where the entry went (cp
            // mode says "removed" only where nothing was backed up).
            let line = match self.backups.lock().ok().and_then(|mut b| b.remove(path)) {
                Some(b) => format!("removed {} (backup: {})", quote(path), quote(&b)),
                None => format!("removed {}", quote(path)),
            };
            if let Some(log) = log {
                log.line(&line);
            }
            if self.verbose {
                self.print(|| {
                    let _ = writeln!(std::io::stdout().lock(), "{line}");
                });
            }
        }
    }

    fn delete_stopped(&self, skipped: u64) {
        self.stats.delete_skipped.fetch_add(skipped, Relaxed);
    }

    fn parent_made(&self, src: &std::path::Path, dst: &std::path::Path) {
        let log = self.item_log();
        if self.verbose || log.is_some() {
            use std::os::unix::ffi::OsStrExt;
            let mut line = src.as_os_str().as_bytes().to_vec();
            line.extend_from_slice(b" -> ");
            line.extend_from_slice(dst.as_os_str().as_bytes());
            if let Some(log) = log {
                log.line(&String::from_utf8_lossy(&line));
            }
            line.push(b'\n');
            if self.verbose {
                self.print(|| {
                    let _ = std::io::stdout().lock().write_all(&line);
                });
            }
        }
    }

    fn ring_usage(&self, u: RingUsage) {
        self.stats.ring_submitted.fetch_add(u.submitted, Relaxed);
        self.stats.ring_completed.fetch_add(u.completed, Relaxed);
        self.stats.ring_enters.fetch_add(u.enters, Relaxed);
    }

    fn skipped(&self, _item: &Item) {
        self.stats.skipped.fetch_add(1, Relaxed);
    }

    fn error(&self, err: &CopyError) {
        if err.vanished {
            self.stats.vanished.fetch_add(1, Relaxed);
            return self.note(&err.to_string());
        }
        if matches!(err.source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
            && !crate::interrupt::stop_destination_full()
        {
            // Every failure passes here, so this is where a full destination
            // is noticed and the run stopped: the files still to come would
            // fail the same way. Those already in flight (a ring holds many)
            // are counted, not each printed.
            self.stats.failed.fetch_add(1, Relaxed);
            self.stats.out_of_space.fetch_add(1, Relaxed);
            return;
        }
        self.message(&err.to_string());
    }

    fn warning(&self, msg: &str) {
        self.log(&format!("uring-cp: {msg}"));
        let _ = writeln!(std::io::stderr().lock(), "uring-cp: {msg}");
    }

    fn message(&self, msg: &str) {
        self.stats.failed.fetch_add(1, Relaxed);
        self.log(&format!("uring-cp: {msg}"));
        // A closed stderr must not turn into a panic; the exit status still says it.
        self.print(|| {
            let _ = writeln!(std::io::stderr().lock(), "uring-cp: {msg}");
        });
    }
}
