//! The progress bar (indicatif) on stderr.
//!
//! A thread of its own reads the [`Stats`] counters a few times a second and
//! draws; the copying threads never wait for the terminal. By default the bar
//! appears only when stderr is a terminal, the run has lasted a second, and
//! `-v` is not printing a line per item already. It is never drawn to
//! something that is not a terminal, so no escape code reaches a pipe or a
//! log file. The walker runs ahead of the copy, so the file total grows while
//! the walk goes on (shown with a `+`); the ETA appears once it is final.

use super::{Console, Stats};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use indicatif::{
    HumanBytes, HumanCount, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle,
};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

pub use crate::config::When;

/// How long a run must last before the bar appears by default.
pub const DELAY: Duration = Duration::from_secs(1);
/// Time between two redraws.
const TICK: Duration = Duration::from_millis(125);

/// The running bar; [`Bar::finish`] removes it.
pub struct Bar {
    stop: Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Bar {
    /// Start the bar's thread if the bar may be shown here. `start` is when
    /// the run began (for the rate).
    pub fn start(console: Arc<Console>, when: When, start: Instant) -> Option<Bar> {
        let show = match when {
            When::Never => false,
            When::Auto => !console.verbose,
            When::Always => true,
        };
        if !show || !std::io::stderr().is_terminal() {
            return None;
        }
        let delay = if when == When::Always {
            Duration::ZERO
        } else {
            DELAY
        };
        let (stop, stopped) = crossbeam_channel::bounded(1);
        // (No bar when no thread can be started for it.)
        let thread = crate::addrspace::thread("bar")
            .spawn(move || draw(&console, &stopped, delay, start))
            .ok()?;
        Some(Bar { stop, thread })
    }

    /// Draw the final state, then clear the bar's line.
    pub fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn draw(console: &Console, stopped: &Receiver<()>, delay: Duration, start: Instant) {
    if !matches!(stopped.recv_timeout(delay), Err(RecvTimeoutError::Timeout)) {
        return; // finished before the bar was due
    }
    let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10))
        .with_style(style);
    let _ = console.bar.set(bar.clone());
    loop {
        bar.set_message(line(&console.stats, start.elapsed()));
        bar.tick();
        match stopped.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => break,
        }
    }
    // The final state, drawn whatever the rate limit, then the line cleared.
    bar.set_message(line(&console.stats, start.elapsed()));
    bar.finish();
    let _ = console::Term::stderr().clear_line();
}

/// `12,345/20,000 files  145.2 MiB  48.4 MiB/s  ETA 5 seconds`
pub fn line(stats: &Stats, elapsed: Duration) -> String {
    let done = stats.files.load(Relaxed);
    let found = stats.found_files.load(Relaxed);
    let bytes = stats.bytes.load(Relaxed);
    let walked = stats.walk_done.load(Relaxed);
    let secs = elapsed.as_secs_f64().max(1e-3);
    let mut s = format!(
        "{}/{}{} files  {}  {}/s",
        HumanCount(done),
        HumanCount(found),
        if walked { "" } else { "+" },
        HumanBytes(bytes),
        HumanBytes((bytes as f64 / secs) as u64),
    );
    let failed = stats.failed.load(Relaxed);
    if failed > 0 {
        s.push_str(&format!("  {failed} failed"));
    }
    if walked && done > 0 && found > done {
        let left = elapsed.mul_f64((found - done) as f64 / done as f64);
        s.push_str(&format!("  ETA {}", HumanDuration(left)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_growing_total_then_eta() {
        let stats = Stats::default();
        stats.files.store(250, Relaxed);
        stats.found_files.store(1000, Relaxed);
        stats.bytes.store(5 << 20, Relaxed);
        let l = line(&stats, Duration::from_secs(1));
        assert_eq!(l, "250/1,000+ files  5.00 MiB  5.00 MiB/s");
        stats.walk_done.store(true, Relaxed);
        let l = line(&stats, Duration::from_secs(1));
        assert_eq!(l, "250/1,000 files  5.00 MiB  5.00 MiB/s  ETA 3 seconds");
    }
}
