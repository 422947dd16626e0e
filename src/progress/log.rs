//! `--log-file=FILE`: a record of the run appended to a file, for backup
//! scripts that run unattended (cron, systemd timers) and are read later.
//!
//! The lines look like rsync's (`2026/12/02 04:00:00 [12345] TEXT`: local
//! time and the process id, so the runs appended to one file can be told
//! apart), and say what the terminal would have been told: the change lines
//! (chosen by [`super::Console`]), every message printed on stderr, and a
//! summary at the end.
//!
//! Why it is built this way:
//! - The file is opened (`O_APPEND`, created `0644` under the umask, a
//!   symlink followed as rsync does) before anything is copied, and a run
//!   that cannot open it is refused: a script that asked for a record should
//!   not get a copy without one. (rsync warns and copies anyway.)
//! - Lines come from every copying thread. One mutex serializes them into a
//!   buffered writer, so a line costs a copy into memory, and a `write` only
//!   when the buffer fills. A thread of its own flushes the buffer every
//!   second, so the log keeps up with a run that stalls on one large file;
//!   the end flushes what is left. Nothing is fsynced: the record must not
//!   slow the copy it records (`--fsync` makes the copy durable, not this).
//! - Failing to write the log is not failing the copy: the first failure is
//!   said once on stderr, the log is given up, and the run goes on with its
//!   exit status unchanged.

use crate::error::{CopyError, Op};
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a line may wait in the buffer.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// The buffer: a few hundred lines.
const BUFFER: usize = 64 << 10;

/// An open log file.
#[derive(Debug)]
pub struct Log {
    shared: Arc<Shared>,
    /// The flushing thread, until [`Log::finish`].
    flusher: Mutex<Option<(Sender<()>, std::thread::JoinHandle<()>)>>,
    /// In cp mode, one line per item made (`-v`'s text); in sync mode the
    /// change lines say it instead.
    item_lines: bool,
}

#[derive(Debug)]
struct Shared {
    path: PathBuf,
    pid: u32,
    out: Mutex<Out>,
}

#[derive(Debug)]
struct Out {
    file: BufWriter<File>,
    /// Lines written since the last flush.
    dirty: bool,
    /// A write failed: the log was given up.
    failed: bool,
}

impl Log {
    /// Open (create) `path` for appending. `item_lines`: see [`Log::item_lines`].
    pub fn open(path: &Path, item_lines: bool) -> Result<Log, CopyError> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(path)
            .map_err(|e| CopyError::new(Op::OpenLog, path, e))?;
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            pid: std::process::id(),
            out: Mutex::new(Out {
                file: BufWriter::with_capacity(BUFFER, file),
                dirty: false,
                failed: false,
            }),
        });
        let (stop, stopped) = crossbeam_channel::bounded::<()>(1);
        let flushing = shared.clone();
        // Without the thread, lines are still flushed when the buffer fills
        // and at the end.
        let flusher = crate::addrspace::thread("log-flush")
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(FLUSH_EVERY) {
                    flushing.flush();
                }
            })
            .ok()
            .map(|thread| (stop, thread));
        Ok(Log {
            shared,
            flusher: Mutex::new(flusher),
            item_lines,
        })
    }

    /// Whether each item made is logged (cp mode, with `-v`'s text).
    pub fn item_lines(&self) -> bool {
        self.item_lines
    }

    /// Append one line per line of `text`, stamped with the time and pid.
    pub fn line(&self, text: &str) {
        let stamp = timestamp(&jiff::ZonedDateTime::now());
        let pid = self.shared.pid;
        let mut record = String::with_capacity(text.len() + 32);
        for l in text.lines() {
            record.push_str(&format!("{stamp} [{pid}] {l}\n"));
        }
        let Ok(mut out) = self.shared.out.lock() else {
            return;
        };
        if out.failed {
            return;
        }
        match out.file.write_all(record.as_bytes()) {
            Ok(()) => out.dirty = true,
            Err(e) => self.shared.give_up(&mut out, e),
        }
    }

    /// Stop the flushing thread and flush what is left.
    pub fn finish(&self) {
        let flusher = self.flusher.lock().ok().and_then(|mut f| f.take());
        if let Some((stop, thread)) = flusher {
            let _ = stop.send(());
            let _ = thread.join();
        }
        self.shared.flush();
    }
}

impl Shared {
    fn flush(&self) {
        let Ok(mut out) = self.out.lock() else {
            return;
        };
        if !out.dirty || out.failed {
            return;
        }
        out.dirty = false;
        if let Err(e) = out.file.flush() {
            self.give_up(&mut out, e);
        }
    }

    /// The first write failure: say it once, write no more.
    fn give_up(&self, out: &mut Out, e: std::io::Error) {
        out.failed = true;
        let err = CopyError::new(Op::WriteLog, &self.path, e);
        // Straight to stderr: the console would log it again. A closed
        // stderr must not stop the copy either.
        let _ = writeln!(
            std::io::stderr().lock(),
            "uring-cp: {err}; the run goes on without a log"
        );
    }
}

/// rsync's log time: `2026/12/02 04:00:00`.
fn timestamp(t: &jiff::ZonedDateTime) -> String {
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The command line as a shell would take it back (for the log's first
/// line): words quoted only where they need it.
pub fn command_line() -> String {
    let words: Vec<String> = std::env::args_os()
        .map(|a| {
            let plain = !a.is_empty()
                && a.as_encoded_bytes()
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_./=+,:@%~".contains(c));
            match plain {
                true => a.to_string_lossy().into_owned(),
                false => crate::error::quote(Path::new(&a)),
            }
        })
        .collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rsyncs() {
        let t: jiff::ZonedDateTime = "2026-01-02T03:04:05[UTC]".parse().unwrap();
        assert_eq!(timestamp(&t), "2026/01/02 03:04:05");
    }

    #[test]
    fn lines_are_stamped_and_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "earlier\n").unwrap();
        let log = Log::open(&path, true).unwrap();
        log.line("one\ntwo");
        log.finish();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], "earlier");
        let pid = format!(" [{}] ", std::process::id());
        assert!(
            lines[1].contains(&pid) && lines[1].ends_with(" one"),
            "{text}"
        );
        assert!(lines[2].ends_with(" two"), "{text}");
    }

    #[test]
    fn a_directory_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = Log::open(dir.path(), false).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("cannot open log file '"), "{msg}");
        assert!(msg.ends_with(": Is a directory"), "{msg}");
    }
}
