//! The units of work that flow from the walker to an engine.
//!
//! Everything is directory-relative: an [`Item`] names an entry by its parent's
//! open descriptor and its own name, on both the source and the destination side.
//! That is what lets trees deeper than `PATH_MAX` copy, keeps the kernel from
//! re-resolving long paths for every file, and is the form io_uring's `*AT`
//! opcodes take. Full paths are only built for messages.
//!
//! `dirs.rs`: directory descriptors, shared (`Arc`) by everything inside them
//! and closed when the last item in them is done. `finish.rs`: a destination
//! directory whose last step must wait until its contents are written (the
//! mode of a read-only source directory, the attributes archive mode keeps) is
//! queued then to the [`Finisher`], a thread of its own, which applies it;
//! dropping a directory never does filesystem work itself. `stat.rs`: the
//! source status an item carries.

mod dirs;
mod finish;
mod stat;

pub use dirs::{
    DirFd, DstDir, DstState, SrcDir, leak, leaked, open_dirs, releases, wait_for_release,
};
pub use finish::{Finish, FinishDir, FinishQueue, Finisher};
pub use stat::SrcStat;

use crate::error::CopyError;
use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Whether a directory's copy is there before its item is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirMade {
    /// It is to be made (`mkdir`; an existing directory is used as it is).
    No,
    /// The walker made it when it listed the parent (see `walk::ahead`):
    /// it is only to be opened, and it is the run's.
    Ahead,
    /// Sync mode listed a directory of that name at the destination: it is
    /// opened as it is (no `mkdir` that would fail), and made only if it has
    /// gone since.
    There,
}

/// What kind of thing an item is, with what the engine needs to create it.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A regular file (or, when `follow`, a symlink to one). Engines stat it.
    /// `as_data`: not necessarily regular; read whatever it is until EOF, as
    /// cp does with a device or FIFO named on the command line without -r.
    /// `twin`: the source is an unchanged twin in a `--link-dest` directory,
    /// and the destination becomes a hard link of it (see `walk/basis.rs`).
    File {
        follow: bool,
        as_data: bool,
        twin: bool,
    },
    /// A directory: create `node` (its children refer to it), with `mode`,
    /// unless `made` says it is there already.
    Dir {
        node: Arc<DstDir>,
        mode: u32,
        made: DirMade,
    },
    /// A symbolic link with this target.
    Symlink { target: CString },
    /// A FIFO, socket or device node, recreated (never read).
    Special { mode: u32, rdev: u64 },
}

/// One entry to create at the destination.
#[derive(Debug, Clone)]
pub struct Item {
    // Fields drop in this order: the destination side first, so that once an
    // operand's source directories are released its destination directories
    // have been released (queued to the finisher) too; see
    // `walk::Walker::wait_for`.
    pub dst_dir: Arc<DstDir>,
    pub kind: Kind,
    pub src_dir: Arc<SrcDir>,
    pub name: CString,
    /// The destination name when it differs from `name` (command-line operands).
    pub dst_name: Option<CString>,
    /// How the user wrote the source, for command-line operands.
    pub display: Option<PathBuf>,
    /// The source's status, when the walker has it and archive mode needs it
    /// (symlinks and special files; engines stat regular files themselves).
    pub stat: Option<Box<SrcStat>>,
}

impl Item {
    pub fn dst_name(&self) -> &CStr {
        self.dst_name.as_deref().unwrap_or(&self.name)
    }

    /// The source path, for messages.
    pub fn src_path(&self) -> PathBuf {
        match &self.display {
            Some(p) => p.clone(),
            None => join(&self.src_dir.path, &self.name),
        }
    }

    /// The destination path, for messages.
    pub fn dst_path(&self) -> PathBuf {
        join(&self.dst_dir.path, self.dst_name())
    }

    pub fn error(&self, op: crate::error::Op, on_dst: bool, e: std::io::Error) -> CopyError {
        let path = if on_dst {
            self.dst_path()
        } else {
            self.src_path()
        };
        let err = CopyError::new(op, path, e);
        // Command-line operands were checked by the plan: only what the walk
        // found can vanish.
        if !on_dst && self.display.is_none() {
            err.found_in_walk()
        } else {
            err
        }
    }
}

/// `dir/name`, where an empty `dir` is the current directory and `.` names the
/// directory itself.
pub fn join(dir: &Path, name: &CStr) -> PathBuf {
    let name = OsStr::from_bytes(name.to_bytes());
    if dir.as_os_str().is_empty() {
        PathBuf::from(name)
    } else {
        dir.join(name)
    }
}
