//! `--info=progress2`: the whole run's progress as plain lines, for logs.
//!
//! rsync's `--info=progress2` redraws one line with carriage returns, which
//! a log (cron mail, the journal, `2>>log`) receives as one line that never
//! ends. These are whole lines on stderr, without escape codes or `\r`,
//! terminal or not: one a second, written by a thread of its own that reads
//! the [`Stats`] counters (the copying threads never wait for it), and a
//! last one when the run ends.
//!
//! ```text
//!       5,242,880  25%    5.00MB/s    0:00:01 (files 250/1,000, ETA 0:00:03)
//! ```
//!
//! The first four columns are rsync's, in its widths and units (bytes
//! copied, percent, rate in 1024-based kB/s, MB/s or GB/s, time), so what
//! reads rsync's columns reads these; the time is always the time elapsed
//! (rsync's is the time left, and the elapsed time on its last line), and
//! the parenthesis is our own: files copied (or skipped) of files found,
//! failures, and the time left.
//!
//! The percentage is of files, not bytes. The walker takes names and types
//! from `getdents64` and never stats a file for its size (a system call per
//! file is what the many-small-files copies this tool is for cannot
//! afford), so the bytes still to copy are unknown until each file is
//! opened. While the walk goes on the count of files found grows (shown
//! with a `+`) and the percentage is of those found so far. It stays below
//! 100% until the last line, which says 100% when the run went through (not
//! interrupted, not stopped by a full destination), failures or not.

use super::{Console, Stats};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use indicatif::HumanCount;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Time between two lines.
pub const EVERY: Duration = Duration::from_secs(1);

/// The thread that writes the lines; [`Lines::finish`] writes the last one.
pub struct Lines {
    stop: Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Lines {
    /// Start writing a line a second. `start` is when the run began (for
    /// the rate). `None` if no thread could be started (said on stderr).
    pub fn start(console: Arc<Console>, start: Instant) -> Option<Lines> {
        let (stop, stopped) = crossbeam_channel::bounded(1);
        let writer = console.clone();
        match crate::addrspace::thread("progress-lines")
            .spawn(move || write(&writer, &stopped, start))
        {
            Ok(thread) => Some(Lines { stop, thread }),
            Err(e) => {
                use super::Progress;
                console.warning(&format!("no progress lines: cannot start a thread: {e}"));
                None
            }
        }
    }

    /// Write the last line and end the thread.
    pub fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn write(console: &Console, stopped: &Receiver<()>, start: Instant) {
    // A dropped sender (the run returned early) ends it too, with a last line.
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
        emit(console, &line(&console.stats, start.elapsed(), false));
    }
    let through = !crate::interrupt::requested() && !crate::interrupt::destination_full();
    emit(console, &line(&console.stats, start.elapsed(), through));
}

fn emit(console: &Console, line: &str) {
    // (Through the console, in case a line of its own is being written.)
    console.print(|| {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    });
}

/// One line; `through`: the run ended without being stopped (100%).
pub fn line(stats: &Stats, elapsed: Duration, through: bool) -> String {
    let bytes = stats.bytes.load(Relaxed);
    let found = stats.found_files.load(Relaxed);
    let walked = stats.walk_done.load(Relaxed);
    // Files copied or left alone on purpose (-n, -u); a skipped entry of
    // another kind may count too, hence the bound.
    let done = (stats.files.load(Relaxed) + stats.skipped.load(Relaxed)).min(found);
    let percent = match (through, found) {
        (true, _) => 100,
        (false, 0) => 0,
        (false, n) => (done * 100 / n).min(99),
    };
    let secs = elapsed.as_secs_f64().max(1e-3);
    let mut s = format!(
        "{:>15} {percent:>3}% {} {} (files {}/{}{}",
        HumanCount(bytes).to_string(),
        rate(bytes as f64 / secs),
        clock(elapsed),
        HumanCount(done),
        HumanCount(found),
        if walked { "" } else { "+" },
    );
    let failed = stats.failed.load(Relaxed);
    if failed > 0 {
        s.push_str(&format!(", {} failed", HumanCount(failed)));
    }
    if !through && walked && done > 0 && found > done {
        let left = elapsed.mul_f64((found - done) as f64 / done as f64);
        s.push_str(&format!(", ETA {}", clock(left).trim_start()));
    }
    s.push(')');
    s
}

/// rsync's rate column: `%7.2f` in kB/s, MB/s or GB/s (1024-based).
fn rate(per_second: f64) -> String {
    let mut r = per_second / 1024.0;
    let mut unit = "kB/s";
    for next in ["MB/s", "GB/s"] {
        if r > 1024.0 {
            r /= 1024.0;
            unit = next;
        }
    }
    format!("{r:7.2}{unit}")
}

/// rsync's time column: `%4u:%02u:%02u`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:4}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_rsyncs_then_files_and_eta() {
        let stats = Stats::default();
        stats.files.store(250, Relaxed);
        stats.found_files.store(1000, Relaxed);
        stats.bytes.store(5 << 20, Relaxed);
        let l = line(&stats, Duration::from_secs(1), false);
        assert_eq!(
            l,
            "      5,242,880  25%    5.00MB/s    0:00:01 (files 250/1,000+)"
        );
        stats.walk_done.store(true, Relaxed);
        stats.failed.store(2, Relaxed);
        let l = line(&stats, Duration::from_secs(1), false);
        assert_eq!(
            l,
            "      5,242,880  25%    5.00MB/s    0:00:01 (files 250/1,000, 2 failed, ETA 0:00:03)"
        );
        let l = line(&stats, Duration::from_secs(3725), true);
        assert_eq!(
            l,
            "      5,242,880 100%    1.37kB/s    1:02:05 (files 250/1,000, 2 failed)"
        );
    }

    #[test]
    fn below_100_until_the_end() {
        let stats = Stats::default();
        stats.files.store(10, Relaxed);
        stats.found_files.store(10, Relaxed);
        stats.walk_done.store(true, Relaxed);
        assert!(line(&stats, Duration::from_secs(1), false).contains(" 99% "));
        assert_eq!(rate(3.0 * 1024.0 * 1024.0 * 1024.0), "   3.00GB/s");
        assert_eq!(rate(0.0), "   0.00kB/s");
    }
}
