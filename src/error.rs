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
    /// The source changed while it was being copied.
    Changed,
}

/// An operation on a path failed.
#[derive(Debug)]
pub struct CopyError {
    pub op: Op,
    pub path: PathBuf,
    pub source: io::Error,
}

impl CopyError {
    pub fn new(op: Op, path: impl Into<PathBuf>, source: io::Error) -> Self {
        CopyError {
            op,
            path: path.into(),
            source,
        }
    }

    /// Is this ENOSPC/EDQUOT: a failure every later write will share?
    pub fn is_out_of_space(&self) -> bool {
        matches!(
            self.source.raw_os_error(),
            Some(libc::ENOSPC) | Some(libc::EDQUOT)
        )
    }
}

/// Quote a path the way GNU tools do in messages: `'name'`.
pub fn quote(path: &Path) -> String {
    format!("'{}'", path.display())
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
            Op::Changed => format!("{p} changed while it was being copied"),
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
