//! How many workers the multi-worker engines start when `-j` is not given.
//!
//! Two per CPU, so that one worker can create or read while another waits on
//! a lock or the disk: copies between filesystems and from storage wait a lot.
//!
//! A copy within one btrfs or xfs filesystem is different: every file is
//! cloned (see [`crate::engine::mover`]), so no data moves and each file is a
//! handful of metadata updates, all CPU work. Workers beyond the CPUs then do
//! not overlap any waiting; they take turns on the filesystem's b-tree and
//! directory locks and cost more CPU than they save (/usr/share within one
//! filesystem, 2 CPUs, medians of 5: btrfs 2.34 s with 2 workers against 2.92
//! with 4, xfs 1.78 against 1.95; `benches/RESULTS-cow.md`). There the default
//! is one worker per CPU. So it is for walkers copying sources that are in
//! the page cache (`--engine auto`'s choice for them): no waiting either.
//! /usr/share into xfs, 5 runs, medians: 2 walkers 1,063 ms, 3: 1,229, 4:
//! 1,209; the CPython tree 1,263 / 1,372 / 1,451; into ext4 within 2%.
//!
//! Within one btrfs filesystem, one walker. Every new inode's items go to
//! the right edge of the subvolume's one b-tree, so a second walker mostly
//! takes turns with the first on its leaf locks (`benches/STATUS.md`). How
//! much that costs depends on the host: one walker took 0.93x `cp -r`'s time
//! on two hosts of this kind (/usr/share, `benches/cow.sh`), two walkers
//! 0.87x on one of them and 1.00-1.06x on the other, where one walker was
//! also faster than cpz (0.935x, 9 rounds); and one walker spends a third
//! less CPU. So the steady choice, not the best case of one host.

use crate::config::Reflink;
use crate::engine::mover::clonefs;
use std::path::Path;

/// The CPUs this process may use. Asked once: the answer comes from reading
/// cgroup files, several system calls each time.
pub fn cpus() -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// The default for copies that move data: two per CPU, at most 16.
pub fn default_workers() -> usize {
    (cpus() * 2).clamp(2, 16)
}

/// What a run's threads mostly do, for their default number.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Work {
    /// Move data (between filesystems, from storage): [`default_workers`].
    Data,
    /// CPU work (the copy clones, see [`clones`], or walkers copy cached
    /// sources): one per CPU.
    Cpu,
    /// Walkers cloning within one btrfs filesystem: one (module docs).
    WithinBtrfs,
}

/// The default for this run's `work`.
pub fn for_copy(work: Work) -> usize {
    match work {
        Work::Data => default_workers(),
        Work::Cpu => cpus().clamp(1, 16),
        Work::WithinBtrfs => 1,
    }
}

/// Are the first source and the destination on one cloning filesystem, with
/// cloning allowed (so files are cloned, not read)? Its name if so
/// (`clonefs::BTRFS`, "xfs"). `dest` need not exist yet (its parent is
/// asked). Only a guess: the copy itself works whatever this says.
pub fn clones(first_source: Option<&Path>, dest: &Path, reflink: Reflink) -> Option<&'static str> {
    match (reflink, first_source) {
        (Reflink::Never, _) | (_, None) => None,
        (_, Some(src)) => clonefs::same_cloning_filesystem(src, clonefs::existing_or_parent(dest)),
    }
}
