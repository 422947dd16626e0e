//! Routing: which shard an item goes to, back-pressure from the engine's
//! queues, the order between overlapping operands, and the descriptor budget.

use super::*;

/// Directories that may be open at once: half the descriptors this process
/// may still open (the rest is for the files being copied and the rings).
pub(super) fn descriptor_budget() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    // (Not std's read_dir: its drop panics when closedir fails.)
    let open = rustix::fs::open(
        "/proc/self/fd",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .and_then(rustix::fs::Dir::new)
    .map_or(16, |d| d.count()) as u64;
    let budget = limit.saturating_sub(open) / 2;
    usize::try_from(budget).unwrap_or(usize::MAX).max(16)
}

impl Walker {
    /// Wait until everything the earlier operands sent is done: each item
    /// holds its source directory, and so the chain up to its operand's, so
    /// an operand is done when its source directory is no longer held; its
    /// destination directories were released before (see [`Item`]'s field
    /// order) and must have had their last steps too, or they could set an
    /// earlier operand's attributes over a later one's. (The names held back
    /// for the end of the walk go first.)
    pub(super) fn wait_for(&mut self, earlier: &[std::sync::Weak<SrcDir>]) -> Result<(), Closed> {
        for item in self.take_deferred() {
            self.send(item)?;
        }
        // Walkers taking whole directories: help until everything given so far is done.
        self.finish_pool()?;
        loop {
            let seen = crate::tree::releases();
            let busy = earlier.iter().any(|w| w.strong_count() > 0) || self.finishes.pending() > 0;
            if !busy || crate::tree::leaked() {
                return Ok(());
            }
            if crate::interrupt::requested() {
                return Err(Closed);
            }
            // A timeout only to look at the interrupt flag again.
            crate::tree::wait_for_release(seen, std::time::Duration::from_millis(100));
        }
    }

    pub(super) fn send(&self, item: Item) -> Result<(), Closed> {
        if crate::interrupt::requested() {
            return Err(Closed);
        }
        if self.sync.dry_run {
            return Ok(()); // decided and itemized; nothing is written
        }
        self.progress.found(&item);
        if let Some(pool) = &self.pool {
            self.create(pool, item);
            return Ok(());
        }
        self.tx[self.shard % self.tx.len()]
            .send(item)
            .map_err(|_| Closed)
    }

    /// Send a directory's item, or create it here. Returns whether what is
    /// inside can still be created.
    pub(super) fn send_dir(&self, item: Item, node: &DstDir) -> Result<bool, Closed> {
        if !self.make_dirs {
            // `send` counts it.
            self.send(item)?;
            return Ok(true);
        }
        if crate::interrupt::requested() {
            return Err(Closed);
        }
        self.progress.found(&item);
        crate::engine::copier::create_dir(&item, &*self.progress);
        Ok(!matches!(node.state(), Some(crate::tree::DstState::Failed)))
    }

    /// Before opening another directory: if the directories open (mostly
    /// held by queued items, source and destination side) use up the
    /// descriptor budget, wait for the engines to release some. A tree of
    /// many one-file directories otherwise runs out of descriptors with
    /// thousands of items queued. When nothing is queued and nothing was
    /// released for a while, the open directories are the walk's own (a deep
    /// tree): go on, and let the open fail if it must.
    pub(super) fn wait_for_descriptors(&self) {
        let start = std::time::Instant::now();
        loop {
            let seen = crate::tree::releases();
            if crate::tree::open_dirs() < self.dir_budget
                || crate::interrupt::requested()
                || start.elapsed().as_secs() >= 10
            {
                return;
            }
            let quiet = !crate::tree::wait_for_release(seen, std::time::Duration::from_millis(100));
            if quiet && self.tx.iter().all(|t| t.is_empty()) {
                return;
            }
        }
    }
}
