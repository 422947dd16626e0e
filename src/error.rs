//! Errors that carry the path and the operation that failed.
//!
//! Every I/O failure in a copy is reported to the user as
//! `uring-cp: <what we tried> '<path>': <OS reason>`, in GNU cp's wording where
//! cp has one, so scripts and people that know cp read the same message. A bare
//! `io::Error` never reaches the user: it is wrapped with [`IoContext::ctx`] at the
//! call site, where the path and the operation are known.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What was being done when an error happened. The variant decides the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Stat,
    OpenRead,
    Read,
    OpenDir,
    ReadDir,
    ReadLink,
    Create,
    Write,
    Close,
    Mkdir,
    Symlink,
    Mknod,
    Mkfifo,
    Remove,
    SetPerms,
    /// Setting a copy's mode or ACL to the source's (--preserve=mode).
    PreservePerms,
    PreserveTimes,
    PreserveOwner,
    /// Reading the source's extended attributes.
    ListXattrs,
    /// Creating a hard link (--preserve=links); the path is the new name.
    Link,
    /// Finding the data and holes of a sparse source.
    Seek,
    /// The source changed while it was being copied.
    Changed,
    /// Renaming a complete temporary file over the destination (sync mode).
    Replace,
    /// Flushing a destination filesystem to disk (`--fsync`).
    Flush,
    /// Keeping a destination under its backup name (-b); the path is the
    /// destination.
    Backup,
    /// Making a kept destination's extended attributes the source's (sync mode).
    SetXattrs,
    /// --parents: reading a directory on the way (the source's, or the one made).
    ParentAttrs,
    /// --parents: making a directory on the way.
    ParentMkdir,
    /// --parents: setting a directory's times to its source's.
    ParentTimes,
    /// --parents: setting back the mode a directory was made with.
    ParentPerms,
    /// --verify: reading a copy back and comparing it with its source.
    Verify,
    /// --log-file: opening (creating) the log before the run.
    OpenLog,
    /// --log-file: writing to the log during the run.
    WriteLog,
    /// A source entry left out on purpose (with the reason).
    NotCopied,
}

/// An operation on a path failed.
#[derive(Debug)]
pub struct CopyError {
    pub op: Op,
    pub path: PathBuf,
    pub source: io::Error,
    /// A source entry the walk listed was gone when it was reached (ENOENT):
    /// counted apart, so a backup of a live tree can tell this from a
    /// failure (exit status 24, as rsync).
    pub vanished: bool,
}

impl CopyError {
    pub fn new(op: Op, path: impl Into<PathBuf>, source: io::Error) -> Self {
        CopyError {
            op,
            path: path.into(),
            source,
            vanished: false,
        }
    }

    /// The error is about an entry found by the walk on the source side: if
    /// it no longer exists, it vanished.
    pub fn found_in_walk(mut self) -> Self {
        self.vanished = self.source.raw_os_error() == Some(libc::ENOENT);
        self
    }
}

/// Quote a path the way GNU tools do in messages and `-v` lines (coreutils'
/// "shell-escape-always" style), so the output can be pasted into a shell:
/// `'name'`; `"it's"` when a single quote is the only special character; and
/// control characters and bytes that are not UTF-8 as `$'\n'` / `$'\377'`
/// segments: `'a'$'\n''b'`.
pub fn quote(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let mut printable = true;
    for chunk in bytes.utf8_chunks() {
        if !chunk.invalid().is_empty() || chunk.valid().chars().any(char::is_control) {
            printable = false;
        }
    }
    if printable && bytes.contains(&b'\'') && !bytes.iter().any(|b| b"\"$`\\".contains(b)) {
        return format!("\"{}\"", String::from_utf8_lossy(bytes));
    }
    let mut out = String::new();
    let mut in_quote = false; // inside '...'
    let mut in_escape = false; // inside $'...'
    let plain = |out: &mut String, in_quote: &mut bool, in_escape: &mut bool, s: &str| {
        if *in_escape {
            out.push('\'');
            *in_escape = false;
        }
        if !*in_quote {
            out.push('\'');
            *in_quote = true;
        }
        out.push_str(s);
    };
    let escaped = |out: &mut String, in_quote: &mut bool, in_escape: &mut bool, b: u8| {
        if *in_quote {
            out.push('\'');
            *in_quote = false;
        }
        if !*in_escape {
            out.push_str("$'");
            *in_escape = true;
        }
        match b {
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x0b => out.push_str("\\v"),
            0x0c => out.push_str("\\f"),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    };
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\'' {
                // Close the quote, add an escaped quote, reopen: '\''
                plain(&mut out, &mut in_quote, &mut in_escape, "");
                out.push_str("'\\'");
                in_quote = false;
            } else if c.is_control() {
                let mut buf = [0u8; 4];
                for &b in c.encode_utf8(&mut buf).as_bytes() {
                    escaped(&mut out, &mut in_quote, &mut in_escape, b);
                }
            } else {
                let mut buf = [0u8; 4];
                plain(
                    &mut out,
                    &mut in_quote,
                    &mut in_escape,
                    c.encode_utf8(&mut buf),
                );
            }
        }
        for &b in chunk.invalid() {
            escaped(&mut out, &mut in_quote, &mut in_escape, b);
        }
    }
    if in_quote || in_escape {
        out.push('\'');
    }
    if out.is_empty() {
        out.push_str("''");
    }
    out
}

impl fmt::Display for CopyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = quote(&self.path);
        let what = match self.op {
            Op::Stat => format!("cannot stat {p}"),
            Op::OpenRead => format!("cannot open {p} for reading"),
            Op::Read => format!("error reading {p}"),
            Op::OpenDir => format!("cannot access {p}"),
            Op::ReadDir => format!("cannot read directory {p}"),
            Op::ReadLink => format!("cannot read symbolic link {p}"),
            Op::Create => format!("cannot create regular file {p}"),
            Op::Write => format!("error writing {p}"),
            Op::Close => format!("failed to close {p}"),
            Op::Mkdir => format!("cannot create directory {p}"),
            Op::Symlink => format!("cannot create symbolic link {p}"),
            Op::Mknod => format!("cannot create special file {p}"),
            Op::Mkfifo => format!("cannot create fifo {p}"),
            Op::Remove => format!("cannot remove {p}"),
            Op::SetPerms => format!("setting permissions for {p}"),
            Op::PreservePerms => format!("preserving permissions for {p}"),
            Op::PreserveTimes => format!("preserving times for {p}"),
            Op::PreserveOwner => format!("failed to preserve ownership for {p}"),
            Op::ListXattrs => format!("listing attributes of {p}"),
            Op::Link => format!("cannot create hard link {p}"),
            Op::Seek => format!("cannot lseek {p}"),
            Op::Changed => format!("{p} changed while it was being copied"),
            Op::Replace => format!("cannot replace {p}"),
            Op::Flush => format!("cannot flush {p} to disk"),
            Op::Backup => format!("cannot backup {p}"),
            Op::SetXattrs => format!("setting extended attributes of {p}"),
            Op::ParentAttrs => format!("failed to get attributes of {p}"),
            Op::ParentMkdir => format!("cannot make directory {p}"),
            Op::ParentTimes => format!("failed to preserve times for {p}"),
            Op::ParentPerms => format!("failed to preserve permissions for {p}"),
            Op::Verify => format!("verification of {p} failed"),
            Op::OpenLog => format!("cannot open log file {p}"),
            Op::WriteLog => format!("cannot write to log file {p}"),
            Op::NotCopied => format!("not copying {p}"),
        };
        write!(f, "{what}: {}", strip_os_suffix(&self.source))
    }
}

impl std::error::Error for CopyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// `io::Error`'s Display appends " (os error N)"; GNU tools print only the reason.
pub fn strip_os_suffix(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Attach an operation and a path to an I/O result (fuc's `map_io_err`).
pub trait IoContext<T> {
    fn ctx(self, op: Op, path: &Path) -> Result<T, CopyError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: Op, path: &Path) -> Result<T, CopyError> {
        self.map_err(|e| CopyError::new(op, path, e))
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn ctx(self, op: Op, path: &Path) -> Result<T, CopyError> {
        self.map_err(|e| CopyError::new(op, path, e.into()))
    }
}

/// An errno as an `io::Error`.
pub fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// A refusal or failure for one item: an I/O error with its context, or one of
/// cp's own verdicts that has no OS error ("'a' and 'b' are the same file").
#[derive(Debug)]
pub enum Failure {
    Io(CopyError),
    Msg(String),
}

impl From<CopyError> for Failure {
    fn from(e: CopyError) -> Self {
        Failure::Io(e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Io(e) => e.fmt(f),
            Failure::Msg(m) => f.write_str(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::quote;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    fn q(b: &[u8]) -> String {
        quote(Path::new(OsStr::from_bytes(b)))
    }

    #[test]
    fn quotes_like_gnu() {
        // Expected strings are what GNU cp 9.1 prints for these names.
        assert_eq!(q(b"a"), "'a'");
        assert_eq!(q(b"sp ace"), "'sp ace'");
        assert_eq!(q(b"d/nl\nx"), r"'d/nl'$'\n''x'");
        assert_eq!(q(b"bad\xff\xfe"), r"'bad'$'\377\376'");
        assert_eq!(q(b"d/it's"), "\"d/it's\"");
        assert_eq!(q(b"ctl\x01\x7f"), r"'ctl'$'\001\177'");
        assert_eq!(q(b"\xc3(bad"), r"$'\303''(bad'");
        assert_eq!(q(b""), "''");
        assert_eq!(q(b"it's\n"), r"'it'\''s'$'\n'");
        assert_eq!(q("été".as_bytes()), "'été'");
        assert_eq!(q(b"tab\tx"), r"'tab'$'\t''x'");
    }
}
