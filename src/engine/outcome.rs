//! How one item ended, as every engine reports it.
//!
//! One type instead of `Result<Option<u64>, _>` with a sentinel byte count:
//! whether a name was copied, linked, skipped or parked in the hard-link map
//! is said in words, and [`report`] is the one place that turns it into
//! progress events.

use crate::error::Failure;
use crate::progress::Progress;
use crate::tree::Item;

/// An item that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Created or rewritten: this many bytes of file data (0 for a
    /// directory, symlink or special file).
    Copied(u64),
    /// Made as a hard link (--preserve=links, -l) or a symbolic link (-s)
    /// to what is already there: no data copied.
    Linked,
    /// Left alone: -n, -u, -i's no, already that very file, or the run is
    /// stopping.
    Skipped,
    /// A later name of a multiply-linked source, parked in the hard-link map
    /// until the first copy of its inode ends; that reports it.
    Parked,
}

/// How an item ended.
pub type Outcome = Result<Done, Failure>;

impl Done {
    /// Was something made at the destination (a copy or a link)?
    pub fn made(self) -> bool {
        matches!(self, Done::Copied(_) | Done::Linked)
    }
}

/// Tell `progress` how `item` ended.
pub fn report(progress: &dyn Progress, item: &Item, outcome: Outcome) {
    match outcome {
        Ok(Done::Copied(bytes)) => progress.done(item, bytes),
        Ok(Done::Linked) => progress.done(item, 0),
        Ok(Done::Skipped) => progress.skipped(item),
        // Reported by whoever finishes the first copy.
        Ok(Done::Parked) => {}
        Err(f) => progress.failure(&f),
    }
}
