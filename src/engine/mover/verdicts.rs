//! What a pair of devices answered to a way of moving bytes (a clone,
//! `copy_file_range`, `sendfile`), remembered for the run.
//!
//! Why not a `Mutex<HashMap>`: every worker asks once or twice per file and
//! the answer is written once per pair of devices. Behind one lock, two
//! walkers copying small files took turns on the lock's cache line several
//! times per file. Here a reader only loads what is already published (the
//! first pairs, in a few fixed slots); only writers, and runs with more pairs
//! than slots, take the lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Pairs answered without a lock (a run rarely sees more than one or two).
const SLOTS: usize = 8;

/// A verdict per (source device, destination device).
pub struct Verdicts {
    slots: [Slot; SLOTS],
    /// Slots published: each one's key is set before it is counted here.
    len: AtomicUsize,
    /// Taken by writers; holds the pairs past the slots.
    more: Mutex<HashMap<(u64, u64), bool>>,
}

#[derive(Default)]
struct Slot {
    key: OnceLock<(u64, u64)>,
    verdict: AtomicBool,
}

impl Default for Verdicts {
    fn default() -> Self {
        Verdicts {
            slots: Default::default(),
            len: AtomicUsize::new(0),
            more: Mutex::new(HashMap::new()),
        }
    }
}

impl Verdicts {
    /// The verdict for `devs`, if there is one yet.
    pub fn get(&self, devs: (u64, u64)) -> Option<bool> {
        let published = self.len.load(Ordering::Acquire);
        if let Some(slot) = self.slots[..published]
            .iter()
            .find(|s| s.key.get() == Some(&devs))
        {
            return Some(slot.verdict.load(Ordering::Acquire));
        }
        match published == SLOTS {
            true => self.lock().get(&devs).copied(),
            false => None,
        }
    }

    /// Remember `verdict` for `devs` (replacing an earlier one).
    pub fn set(&self, devs: (u64, u64), verdict: bool) {
        let mut more = self.lock();
        let published = self.len.load(Ordering::Acquire);
        if let Some(slot) = self.slots[..published]
            .iter()
            .find(|s| s.key.get() == Some(&devs))
        {
            slot.verdict.store(verdict, Ordering::Release);
        } else if published < SLOTS {
            let slot = &self.slots[published];
            slot.verdict.store(verdict, Ordering::Release);
            // Only writers set keys, one at a time under the lock: this slot's is unset.
            let _ = slot.key.set(devs);
            self.len.store(published + 1, Ordering::Release);
        } else {
            more.insert(devs, verdict);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(u64, u64), bool>> {
        // A writer that panicked left the map whole (one insert).
        self.more.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_what_was_set_past_the_slots_too() {
        let v = Verdicts::default();
        assert_eq!(v.get((1, 2)), None);
        for i in 0..(SLOTS as u64 + 4) {
            v.set((i, i + 1), i % 2 == 0);
        }
        for i in 0..(SLOTS as u64 + 4) {
            assert_eq!(v.get((i, i + 1)), Some(i % 2 == 0), "pair {i}");
        }
        assert_eq!(v.get((1, 1)), None);
        v.set((0, 1), false);
        v.set((SLOTS as u64 + 1, SLOTS as u64 + 2), true);
        assert_eq!(v.get((0, 1)), Some(false));
        assert_eq!(v.get((SLOTS as u64 + 1, SLOTS as u64 + 2)), Some(true));
    }

    #[test]
    fn readers_on_other_threads_see_every_verdict_set() {
        let v = Verdicts::default();
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..64u64 {
                    v.set((i, 0), true);
                }
            });
            s.spawn(|| {
                // Whatever is seen is what was set; nothing else.
                for _ in 0..10_000 {
                    for i in 0..64u64 {
                        assert_ne!(v.get((i, 0)), Some(false));
                    }
                }
            });
        });
        assert!((0..64u64).all(|i| v.get((i, 0)) == Some(true)));
    }
}
