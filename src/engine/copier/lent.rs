//! A regular file copied in two halves by two walkers (see `walk::pool`):
//! the walker listing a directory opens the source and creates the
//! destination, another walker moves the bytes, applies the attributes and
//! commits.
//!
//! Why: in a copy within one cloning filesystem (xfs, btrfs) a file costs
//! metadata only, and creating it is the one step under its directory's
//! lock. When two walkers shared a big directory's entries, each doing whole
//! files, they took turns on that lock: /usr/share within xfs, `perf`, 163 of
//! 3,763 samples in `rwsem_spin_on_owner` under `openat(O_CREAT)`, and the
//! same wall time as not sharing the directory at all, for 13% more CPU
//! (`benches/RESULTS-cow.md`). Split this way only the lister creates in its
//! directory, and the halves are about even (in that profile creating took
//! ~38% of the samples; opening the source, cloning and closing ~41%).
//!
//! A file that ends in its first half (linked, skipped, failed, or large:
//! given back for whichever walker is free) is settled by the lister. A
//! file opened for another walker holds two descriptors and an empty
//! destination under its name until it is finished, so the pool keeps only
//! a few; one that no walker will finish (the run was interrupted) is
//! discarded explicitly ([`FileCopier::discard_open`]), never by a `Drop`.

use super::file::{Front, OpenEnds};
use super::{Copied, FileCopier, Large, drop_interrupted};
use crate::engine::outcome::Done;
use crate::progress::Progress;
use crate::tree::{DstState, Item, Kind};
use std::os::fd::AsFd;

/// A regular file opened at both ends by one walker, for another to finish.
pub struct OpenFile {
    item: Item,
    ends: OpenEnds,
}

/// What [`FileCopier::open_for_another`] did with an item.
pub enum Lending {
    /// Opened at both ends: the rest is for [`FileCopier::finish_open`].
    Open(OpenFile),
    /// A large regular file, given back uncopied (as `Large::GiveBack`).
    Large(Item),
    /// Settled and reported here (not a regular file, or it ended early).
    Done,
}

impl FileCopier {
    /// The first half of an item's copy, for a walker that lends the rest
    /// (see the module docs). Anything but a regular file is created here in
    /// full; a regular file that ends in its first half is reported here.
    pub fn open_for_another(
        &self,
        item: Item,
        progress: &dyn Progress,
        buf: &mut Vec<u8>,
    ) -> Lending {
        if crate::interrupt::requested() {
            drop_interrupted(item);
            return Lending::Done;
        }
        if !matches!(item.kind, Kind::File { .. }) {
            return match self.handle_inner(item, progress, buf, Large::GiveBack) {
                Some(large) => Lending::Large(large),
                None => Lending::Done,
            };
        }
        let (dst, fresh) = match item.dst_dir.wait() {
            DstState::Ready { fd, fresh } => (fd.as_fd(), *fresh),
            // The directory failed and was reported: its contents cannot go anywhere.
            DstState::Failed => return Lending::Done,
        };
        match self.open_file(&item, dst, fresh, buf, true) {
            Front::Ended(Ok(Copied::Queued)) => Lending::Large(item),
            Front::Ended(result) => {
                self.settle(item, result, progress);
                Lending::Done
            }
            Front::Open(ends) => Lending::Open(OpenFile { item, ends }),
        }
    }

    /// The second half: move the bytes of a file another walker opened,
    /// apply its attributes, commit it (or discard it), and report it.
    pub fn finish_open(&self, file: OpenFile, progress: &dyn Progress, buf: &mut Vec<u8>) {
        let OpenFile { item, ends } = file;
        let copied = match item.dst_dir.wait() {
            DstState::Ready { fd, .. } => {
                if crate::interrupt::requested() {
                    self.discard_ends(&item, fd.as_fd(), ends);
                    Ok(Copied::Done(Done::Skipped))
                } else {
                    self.finish_file_copy(&item, fd.as_fd(), ends, buf)
                }
            }
            // (Never: the directory was ready when the file was opened in it.)
            DstState::Failed => Ok(Copied::Done(Done::Skipped)),
        };
        self.settle(item, copied, progress);
    }

    /// A file opened for another walker that none will finish (the run was
    /// interrupted): remove the destination it created, as an interrupted
    /// copy does; nothing is reported but a failure to remove it.
    pub fn discard_open(&self, file: OpenFile) {
        let OpenFile { item, ends } = file;
        if let DstState::Ready { fd, .. } = item.dst_dir.wait() {
            self.discard_ends(&item, fd.as_fd(), ends);
        }
    }
}
