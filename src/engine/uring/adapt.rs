//! Whether a worker reads its sources through its ring or with system calls
//! (`--ring-reads auto`; the default, `always`, keeps every read on the ring).
//!
//! Not the default since the real-tree benchmarks (`benches/RESULTS.md`,
//! 2026-12-02): warm, every read on the ring measured 1,392 ms against 1,545
//! for this (/usr/share, ext4, medians of 5), 1,547 against 1,524 (a CPython
//! tree) and 1,691 against 1,793 (/usr/share, xfs), with less CPU in all
//! three; the estimate below came from a generated tree.
//!
//! The ring wins when sources come from the disk: many opens and reads in
//! flight at once (cold 100,000-file tree: 2.2 s against 3.7 s with system
//! calls). When they come from the page cache it does not: the open and the
//! read complete inline either way, and the ring adds its own bookkeeping and
//! a `statx` by name (the source's descriptor lives in a ring slot, which
//! `fstat` cannot reach), ~8% more CPU than `openat`/`fstat`/`read` on a warm
//! tree (benches/STATUS.md). So a worker watches which case it is in:
//!
//! - On the ring, a turn whose every read completed during the submission
//!   itself (nothing left to wait for) is a sign of a warm cache; after
//!   [`WARM_FILES`] files in a row read that way the worker switches to system
//!   calls.
//! - With system calls, it asks every [`CHECK_EVERY`] files how many blocks
//!   the thread has read from storage (`getrusage(RUSAGE_THREAD)`, one system
//!   call); any means the cache went cold, and it goes back to the ring. It
//!   also goes back after [`SYNC_FILES`] files to look again, so a kernel
//!   without per-thread I/O accounting costs at most the portable engine's
//!   speed on a cold tree, never a hang.

use crate::engine::ring::sys;

/// Files read inline in a row before a worker leaves the ring.
pub const WARM_FILES: u32 = 64;
/// Files copied with system calls between two looks at the thread's reads.
pub const CHECK_EVERY: u32 = 16;
/// Files copied with system calls before the ring is tried again.
pub const SYNC_FILES: u32 = 8192;

#[derive(Debug)]
pub enum Mode {
    /// Reading through the ring; `inline` files in a row completed inline.
    Ring { inline: u32 },
    /// Copying with system calls; `left` files before the ring is tried
    /// again; `blocks` read from storage by this thread at the last look.
    Sync { left: u32, blocks: u64 },
}

#[derive(Debug)]
pub struct Adapt {
    mode: Mode,
    /// Off (always the ring) when the caller asked for that.
    enabled: bool,
}

impl Adapt {
    pub fn new(enabled: bool) -> Self {
        Adapt {
            mode: Mode::Ring { inline: 0 },
            enabled,
        }
    }

    /// Should the next file be copied with system calls?
    pub fn sync(&self) -> bool {
        matches!(self.mode, Mode::Sync { .. })
    }

    /// After a ring submission: `files` chains were submitted, and every
    /// chain in flight had completed when it returned (`all_done`) or not.
    pub fn ring_turn(&mut self, files: u32, all_done: bool) {
        let Mode::Ring { inline } = &mut self.mode else {
            return;
        };
        if !all_done {
            *inline = 0;
            return;
        }
        *inline += files;
        if self.enabled && *inline >= WARM_FILES {
            self.mode = Mode::Sync {
                left: SYNC_FILES,
                blocks: sys::thread_blocks_read(),
            };
        }
    }

    /// After a file copied with system calls.
    pub fn sync_file(&mut self) {
        let Mode::Sync { left, blocks } = &mut self.mode else {
            return;
        };
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.mode = Mode::Ring { inline: 0 };
        } else if *left % CHECK_EVERY == 0 {
            let now = sys::thread_blocks_read();
            if now > *blocks {
                self.mode = Mode::Ring { inline: 0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_turns_switch_to_sync_and_back_after_the_window() {
        let mut a = Adapt::new(true);
        a.ring_turn(40, true);
        assert!(!a.sync());
        a.ring_turn(10, false); // a turn that had to wait starts the count again
        a.ring_turn(40, true);
        assert!(!a.sync());
        a.ring_turn(30, true);
        assert!(a.sync());
        for _ in 0..SYNC_FILES - 1 {
            a.sync_file();
        }
        assert!(a.sync());
        a.sync_file();
        assert!(!a.sync());
    }

    #[test]
    fn disabled_stays_on_the_ring() {
        let mut a = Adapt::new(false);
        a.ring_turn(10_000, true);
        assert!(!a.sync());
    }

    #[test]
    fn blocks_read_from_storage_send_it_back_to_the_ring() {
        let mut a = Adapt::new(true);
        a.ring_turn(WARM_FILES, true);
        assert!(a.sync());
        // Pretend the thread had read nothing when it switched.
        a.mode = Mode::Sync {
            left: SYNC_FILES,
            blocks: 0,
        };
        let reads = sys::thread_blocks_read();
        for _ in 0..CHECK_EVERY {
            a.sync_file();
        }
        // Only when this kernel accounts reads per thread and this test
        // thread has read from storage can the switch be observed here.
        assert_eq!(a.sync(), reads == 0);
    }
}
