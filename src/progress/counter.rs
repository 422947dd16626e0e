//! A counter that several copying threads bump once per file, and a
//! display thread reads a few times a second.
//!
//! Why not one `AtomicU64`: with two walkers each adding to the same counters
//! for every file (found, done, bytes), the counters' cache line went back and
//! forth between the CPUs several times per file. Each thread adds to a
//! stripe of its own (on its own cache line); a read sums the stripes. It
//! has the `AtomicU64` methods the counters were used with (`fetch_add`,
//! which returns nothing here, `load`, and `store` for tests), so their
//! readers did not change.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Stripes per counter: enough for the threads that copy at once on most
/// machines; more threads share stripes (still correct, only slower).
const STRIPES: usize = 8;

/// One stripe, alone on its cache line (128 bytes: adjacent-line prefetch
/// pairs lines on x86).
#[derive(Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

/// A sum of per-thread stripes.
#[derive(Default)]
pub struct Counter {
    stripes: [Stripe; STRIPES],
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.load(Ordering::Relaxed).fmt(f)
    }
}

/// This thread's stripe, handed out in turn as threads first count.
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: Cell<Option<usize>> = const { Cell::new(None) };
    }
    MINE.with(|m| match m.get() {
        Some(i) => i,
        None => {
            let i = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
            m.set(Some(i));
            i
        }
    })
}

impl Counter {
    /// Add `n` (to this thread's stripe).
    pub fn fetch_add(&self, n: u64, order: Ordering) {
        self.stripes[stripe()].0.fetch_add(n, order);
    }

    /// The sum of every stripe. Adds made at the same time may or may not be
    /// in it; each add is counted once and none is lost.
    pub fn load(&self, order: Ordering) -> u64 {
        self.stripes.iter().map(|s| s.0.load(order)).sum()
    }

    /// Set the sum to `n` (for tests: not while other threads add).
    pub fn store(&self, n: u64, order: Ordering) {
        for s in &self.stripes[1..] {
            s.0.store(0, order);
        }
        self.stripes[0].0.store(n, order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn no_add_is_lost_between_threads() {
        let c = Counter::default();
        std::thread::scope(|s| {
            for t in 0..(STRIPES + 3) as u64 {
                let c = &c;
                s.spawn(move || {
                    for _ in 0..10_000 {
                        c.fetch_add(t + 1, Relaxed);
                    }
                });
            }
        });
        let threads = (STRIPES + 3) as u64;
        assert_eq!(c.load(Relaxed), 10_000 * threads * (threads + 1) / 2);
        c.store(7, Relaxed);
        assert_eq!(c.load(Relaxed), 7);
    }
}
