//! SIGINT and SIGTERM: stop promptly, leave no partly written file, say what
//! was done, and exit with the shell's status for the signal (130, 143).
//!
//! The handler only records the signal (signal-hook); the walker stops
//! listing, workers stop taking items, a file being copied stops at its next
//! chunk and is removed, and `run` reports. A second signal ends the process
//! at once, for a user who does not want to wait. A destination that runs
//! out of space stops the run the same way ([`stop_destination_full`]).

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

fn caught() -> &'static Arc<AtomicUsize> {
    static CAUGHT: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    CAUGHT.get_or_init(|| Arc::new(AtomicUsize::new(0)))
}

/// Install the handlers. Failing to install them is not worth failing the
/// copy for: the signals then kill the process as usual.
pub fn install() {
    let seen = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it sees the flag set by an earlier signal.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, seen.clone());
        let _ = signal_hook::flag::register(sig, seen.clone());
        let _ = signal_hook::flag::register_usize(sig, caught().clone(), sig as usize);
    }
}

/// The stop that is not a signal: the destination ran out of space.
const FULL: usize = usize::MAX;

/// Has the run been asked to stop?
#[inline]
pub fn requested() -> bool {
    caught().load(Relaxed) != 0
}

/// The signal that asked the run to stop, if any.
pub fn signal() -> Option<i32> {
    match caught().load(Relaxed) {
        0 | FULL => None,
        s => Some(s as i32),
    }
}

/// A write failed for lack of space (ENOSPC, EDQUOT): stop the run the way
/// a signal does, instead of failing every file left with the same error.
/// (A signal that came first keeps its place.) Returns whether this call
/// stopped the run, i.e. this is the first such failure.
pub fn stop_destination_full() -> bool {
    caught().compare_exchange(0, FULL, Relaxed, Relaxed).is_ok()
}

/// Did the run stop because the destination is full?
pub fn destination_full() -> bool {
    caught().load(Relaxed) == FULL
}
