//! The large-file queue shared by a multi-worker engine's workers.

use super::FileCopier;
use crate::progress::Progress;
use crate::tree::Item;
use crossbeam_channel::{Receiver, Select, Sender};

/// Files at least this large are large: a worker that finds one queues it for
/// whichever worker is free (see [`FileCopier::handle`]).
pub const LARGE_MIN: u64 = 16 << 20;

/// Most large files queued at once; past it a worker copies what it finds
/// itself. Queued items keep their directories open, so this bounds the
/// descriptors the queue holds (`ulimit -n`).
const LARGE_BACKLOG: usize = 16;

/// Large files found by any worker, copied by whichever worker is free.
///
/// Why: a walk hands a directory's entries to one worker, so the large files
/// of one directory (a backup's images, a build's artefacts) would be copied
/// one after another by one thread while the others idle (2 x 1 GiB, ext4:
/// 611 ms split in ranges by one worker, 380 ms for fcp's one thread per
/// file).
pub(super) struct LargeFiles {
    tx: Sender<Item>,
    rx: Receiver<Item>,
}

impl LargeFiles {
    pub(super) fn new() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        LargeFiles { tx, rx }
    }

    /// Should a file of `size` bytes go to the queue (it is large and the
    /// queue has room)?
    pub(super) fn takes(&self, size: u64) -> bool {
        size >= LARGE_MIN && self.rx.len() < LARGE_BACKLOG
    }

    pub(super) fn queue(&self, item: Item) {
        // Cannot fail: `self` holds the receiver too.
        drop(self.tx.send(item));
    }
}

/// What a worker does next: an item of its own shard, or a large file queued
/// by any worker (copy it with [`FileCopier::handle_large`]).
pub enum Work {
    Item(Item),
    Large(Item),
}

impl FileCopier {
    /// Wait for a worker's next work: the next item of its shard, or a large
    /// file any worker queued. `None` once the shard is closed and no large
    /// file is queued; a worker calls this until then, so whatever it queued
    /// itself is copied by the time it ends.
    pub fn next(&self, items: &Receiver<Item>) -> Option<Work> {
        let mut sel = Select::new();
        let shard = sel.recv(items);
        sel.recv(&self.large.rx);
        let op = sel.select();
        if op.index() == shard {
            match op.recv(items) {
                Ok(item) => Some(Work::Item(item)),
                Err(_) => self.large.rx.try_recv().ok().map(Work::Large),
            }
        } else {
            // `self` holds a sender, so this channel never disconnects.
            op.recv(&self.large.rx).ok().map(Work::Large)
        }
    }

    /// Do work taken with [`FileCopier::next`] the synchronous way.
    pub fn work(&self, work: Work, progress: &dyn Progress, buf: &mut Vec<u8>) {
        match work {
            Work::Item(item) => self.handle(item, progress, buf),
            Work::Large(item) => self.handle_large(item, progress, buf),
        }
    }

    /// Do all that is left of a shard, and the large files queued, the
    /// synchronous way.
    pub fn drain(&self, items: &Receiver<Item>, progress: &dyn Progress, buf: &mut Vec<u8>) {
        while let Some(work) = self.next(items) {
            self.work(work, progress, buf);
        }
    }

    /// Copy a large file taken from the queue, and report it.
    pub fn handle_large(&self, item: Item, progress: &dyn Progress, buf: &mut Vec<u8>) {
        self.handle_inner(item, progress, buf, super::Large::CopyHere);
    }
}
