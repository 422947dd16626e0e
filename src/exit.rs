//! Exit statuses (documented in the README), and the one a finished run
//! ends with.

use crate::progress::Console;

/// Everything was copied.
pub const OK: i32 = 0;
/// At least one item failed; the rest were copied.
pub const PARTIAL: i32 = 1;
/// Nothing failed, but source files listed by the walk were gone when
/// they were reached (a live tree): rsync's status for this.
pub const VANISHED: i32 = 24;
/// --max-delete stopped deletions (rsync's status for this).
pub const MAX_DELETE: i32 = 25;
/// The command line could not be used (cp's and rsync's status for
/// this is 1 as well: scripts cannot tell it from a failed file).
pub const USAGE: i32 = 1;
/// Memory ran out (`src/exhausted.rs`): GNU cp's status for "memory
/// exhausted".
pub const MEMORY_EXHAUSTED: i32 = 1;
/// Stopped by a signal: 128 + its number, as a shell reports a killed
/// command (130 for SIGINT, 143 for SIGTERM).
pub fn interrupted(signal: i32) -> i32 {
    128 + signal
}

/// The exit status of a finished run, and the note that explains a stop: an
/// interruption, a full destination; else failures, --max-delete, vanished
/// sources, in that order.
pub(crate) fn status(console: &Console) -> i32 {
    use std::sync::atomic::Ordering::Relaxed;
    // rsync's words, which scripts look for, whatever else happened.
    let delete_skipped = console.stats.delete_skipped.load(Relaxed);
    if delete_skipped > 0 && crate::interrupt::signal().is_none() {
        console.note(&format!(
            "Deletions stopped due to --max-delete limit ({delete_skipped} skipped)"
        ));
    }
    if let Some(sig) = crate::interrupt::signal() {
        let name = if sig == libc::SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        let st = &console.stats;
        console.note(&format!(
            "interrupted by {name}: {} files, {} directories, {} symlinks copied; \
             files being written were removed",
            st.files.load(Relaxed),
            st.dirs.load(Relaxed),
            st.symlinks.load(Relaxed),
        ));
        interrupted(sig)
    } else if crate::interrupt::destination_full() {
        let more = console
            .stats
            .out_of_space
            .load(std::sync::atomic::Ordering::Relaxed);
        let also = match more {
            0 => String::new(),
            n => format!(" ({n} more files being written failed the same way)"),
        };
        console.note(&format!(
            "stopped: no space left on the destination{also}; what was not copied yet was left out"
        ));
        PARTIAL
    } else if console.failed() > 0 {
        PARTIAL
    } else if delete_skipped > 0 {
        MAX_DELETE
    } else if console
        .stats
        .vanished
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0
    {
        VANISHED
    } else {
        OK
    }
}
