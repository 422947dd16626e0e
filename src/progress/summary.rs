//! `--stats`: what a run did, as text for people or one JSON object for
//! scripts (the field names are documented in the README and stable).

use super::Stats;
use serde::Serialize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

pub use crate::config::StatsFormat as Format;

#[derive(Debug, Serialize)]
pub struct Summary {
    pub files: u64,
    pub directories: u64,
    pub symlinks: u64,
    pub special_files: u64,
    pub bytes: u64,
    pub skipped: u64,
    pub failed: u64,
    pub vanished: u64,
    pub elapsed_seconds: f64,
    pub bytes_per_second: u64,
    pub engine: String,
    pub io_uring: RingSummary,
}

/// io_uring requests submitted and completed, and the `io_uring_enter` calls
/// that carried them: each request would otherwise have been a system call.
#[derive(Debug, Serialize)]
pub struct RingSummary {
    pub submissions: u64,
    pub completions: u64,
    pub enter_calls: u64,
    pub syscalls_saved: u64,
}

impl Summary {
    pub fn new(stats: &Stats, engine: &str, elapsed: Duration) -> Self {
        let bytes = stats.bytes.load(Relaxed);
        let submissions = stats.ring_submitted.load(Relaxed);
        let enter_calls = stats.ring_enters.load(Relaxed);
        let secs = elapsed.as_secs_f64();
        Summary {
            files: stats.files.load(Relaxed),
            directories: stats.dirs.load(Relaxed),
            symlinks: stats.symlinks.load(Relaxed),
            special_files: stats.specials.load(Relaxed),
            bytes,
            skipped: stats.skipped.load(Relaxed),
            failed: stats.failed.load(Relaxed),
            vanished: stats.vanished.load(Relaxed),
            elapsed_seconds: (secs * 1000.0).round() / 1000.0,
            bytes_per_second: (bytes as f64 / secs.max(1e-6)) as u64,
            engine: engine.to_string(),
            io_uring: RingSummary {
                submissions,
                completions: stats.ring_completed.load(Relaxed),
                enter_calls,
                syscalls_saved: submissions.saturating_sub(enter_calls),
            },
        }
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => serde_json::to_string(self).unwrap_or_default(),
            Format::Text => self.text(),
        }
    }

    fn text(&self) -> String {
        use indicatif::{HumanBytes, HumanCount};
        let r = &self.io_uring;
        let mut s = format!(
            "Files: {}\nDirectories: {}\nSymlinks: {}\nSpecial files: {}\n\
             Bytes: {} ({})\nSkipped: {}\nFailed: {}\nVanished: {}\nElapsed: {:.3} s\n\
             Throughput: {}/s\nEngine: {}\n",
            HumanCount(self.files),
            HumanCount(self.directories),
            HumanCount(self.symlinks),
            HumanCount(self.special_files),
            HumanCount(self.bytes),
            HumanBytes(self.bytes),
            HumanCount(self.skipped),
            HumanCount(self.failed),
            HumanCount(self.vanished),
            self.elapsed_seconds,
            HumanBytes(self.bytes_per_second),
            self.engine,
        );
        if r.submissions > 0 {
            s.push_str(&format!(
                "io_uring: {} requests in {} io_uring_enter calls ({} completions; {} system calls saved)\n",
                HumanCount(r.submissions),
                HumanCount(r.enter_calls),
                HumanCount(r.completions),
                HumanCount(r.syscalls_saved),
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_every_field() {
        let stats = Stats::default();
        stats.files.store(3, Relaxed);
        stats.bytes.store(4096, Relaxed);
        stats.ring_submitted.store(10, Relaxed);
        stats.ring_enters.store(2, Relaxed);
        let s = Summary::new(&stats, "io_uring", Duration::from_millis(500));
        let v: serde_json::Value = serde_json::from_str(&s.render(Format::Json)).unwrap();
        assert_eq!(v["files"], 3);
        assert_eq!(v["bytes_per_second"], 8192);
        assert_eq!(v["engine"], "io_uring");
        assert_eq!(v["io_uring"]["syscalls_saved"], 8);
        assert!(s.render(Format::Text).contains("Files: 3\n"));
    }
}
