//! The units of work that flow from the walker to an engine.
//!
//! Everything is directory-relative: an [`Item`] names an entry by its parent's
//! open descriptor and its own name, on both the source and the destination side.
//! That is what lets trees deeper than `PATH_MAX` copy, keeps the kernel from
//! re-resolving long paths for every file, and is the form io_uring's `*AT`
//! opcodes take. Full paths are only built for messages.
//!
//! Directory descriptors are shared (`Arc`) by everything inside them and close
//! when the last item in them is done; a destination directory whose final mode
//! must wait until its contents are written (a read-only source directory) gets
//! that mode when its [`DstDir`] is dropped, and so do the attributes archive
//! mode preserves (times, owner, xattrs, mode; see [`crate::meta`]).

use crate::error::CopyError;
use crate::meta::{DirFinish, SrcStat};
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

/// Directories open right now, source and destination side (each holds a
/// descriptor). Queued items keep their directories open, so a tree of many
/// small directories could otherwise hold thousands; the walker waits on
/// this count (see `walk::Walker::wait_for_descriptors`).
static OPEN_DIRS: AtomicUsize = AtomicUsize::new(0);

/// How many directory descriptors are open.
pub fn open_dirs() -> usize {
    OPEN_DIRS.load(Relaxed)
}

/// Items were leaked (a failed ring may still use their names and
/// directories): their directories stay held for good.
static LEAKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Leak `value`, which holds items the kernel may still use; see [`leaked`].
pub fn leak<T>(value: T) {
    LEAKED.store(true, Relaxed);
    std::mem::forget(value);
}

/// Were items leaked? Then waiting for a directory to be released (the
/// walker's order between overlapping operands) would never end.
pub fn leaked() -> bool {
    LEAKED.load(Relaxed)
}

/// An open source directory.
#[derive(Debug)]
pub struct SrcDir {
    pub fd: OwnedFd,
    /// The path for messages (as the user typed it, then joined).
    pub path: PathBuf,
    /// Device and inode, to detect cycles when following symlinks.
    pub dev_ino: (u64, u64),
    /// The directory this one was found in, if it was found in a walk.
    pub parent: Option<Arc<SrcDir>>,
}

impl SrcDir {
    pub fn new(
        fd: OwnedFd,
        path: PathBuf,
        dev_ino: (u64, u64),
        parent: Option<Arc<SrcDir>>,
    ) -> Self {
        OPEN_DIRS.fetch_add(1, Relaxed);
        SrcDir {
            fd,
            path,
            dev_ino,
            parent,
        }
    }
}

impl Drop for SrcDir {
    /// Drop the chain of parents one by one: dropping a deep chain at once
    /// (thousands of levels, e.g. a symlink loop under -L stopped by an
    /// error) would otherwise recurse once per level and overflow the stack.
    fn drop(&mut self) {
        OPEN_DIRS.fetch_sub(1, Relaxed);
        let mut next = self.parent.take();
        while let Some(parent) = next {
            next = match Arc::into_inner(parent) {
                Some(mut last) => last.parent.take(), // `last` drops here, parentless
                None => None,                         // still shared: someone else drops it
            };
        }
    }
}

impl SrcDir {
    /// Is (dev, ino) this directory or one of its ancestors?
    pub fn has_ancestor(&self, dev_ino: (u64, u64)) -> bool {
        let mut cur = Some(self);
        while let Some(d) = cur {
            if d.dev_ino == dev_ino {
                return true;
            }
            cur = d.parent.as_deref();
        }
        false
    }
}

/// The state of a destination directory.
#[derive(Debug)]
pub enum DstState {
    /// Open; `fresh` when this run created it, so nothing can exist in it yet.
    Ready { fd: OwnedFd, fresh: bool },
    /// It could not be created or opened (already reported): skip what is inside.
    Failed,
}

/// A directory on the destination side.
pub struct DstDir {
    pub path: PathBuf,
    state: OnceLock<DstState>,
    /// Its device, asked once (see [`DstDir::dev`]).
    dev: OnceLock<Option<u64>>,
    /// What to apply once everything inside has been written: the mode of a
    /// source directory that does not let its owner write into it, and the
    /// attributes archive mode preserves.
    finish: Option<Box<DirFinish>>,
}

impl std::fmt::Debug for DstDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DstDir").field("path", &self.path).finish()
    }
}

impl DstDir {
    /// A directory that is not ready yet: its creator calls [`DstDir::set`].
    pub fn pending(path: PathBuf, finish: Option<Box<DirFinish>>) -> Self {
        DstDir {
            path,
            state: OnceLock::new(),
            dev: OnceLock::new(),
            finish,
        }
    }

    /// An existing directory, already open.
    pub fn existing(path: PathBuf, fd: OwnedFd) -> Self {
        let d = DstDir::pending(path, None);
        d.set(DstState::Ready { fd, fresh: false });
        d
    }

    pub fn set(&self, state: DstState) {
        // Only the engine that created the directory sets it, once.
        let ready = matches!(state, DstState::Ready { .. });
        if self.state.set(state).is_ok() && ready {
            OPEN_DIRS.fetch_add(1, Relaxed);
        }
    }

    /// Block until the directory's creator has set its state.
    pub fn wait(&self) -> &DstState {
        self.state.wait()
    }

    pub fn state(&self) -> Option<&DstState> {
        self.state.get()
    }

    /// The device of the open directory, which is that of every file created
    /// in it (`None` when it is not open or cannot be stat'ed).
    pub fn dev(&self) -> Option<u64> {
        *self.dev.get_or_init(|| match self.state.get() {
            Some(DstState::Ready { fd, .. }) => rustix::fs::fstat(fd).ok().map(|st| st.st_dev),
            _ => None,
        })
    }
}

impl Drop for DstDir {
    fn drop(&mut self) {
        if let Some(DstState::Ready { .. }) = self.state.get() {
            OPEN_DIRS.fetch_sub(1, Relaxed);
        }
        if let (Some(finish), Some(DstState::Ready { fd, .. })) = (&self.finish, self.state.get()) {
            use std::os::fd::AsFd;
            finish.apply(fd.as_fd(), &self.path);
        }
    }
}

/// What kind of thing an item is, with what the engine needs to create it.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A regular file (or, when `follow`, a symlink to one). Engines stat it.
    /// `as_data`: not necessarily regular; read whatever it is until EOF, as
    /// cp does with a device or FIFO named on the command line without -r.
    File { follow: bool, as_data: bool },
    /// A directory: create `node` (its children refer to it), with `mode`.
    Dir { node: Arc<DstDir>, mode: u32 },
    /// A symbolic link with this target.
    Symlink { target: CString },
    /// A FIFO, socket or device node, recreated (never read).
    Special { mode: u32, rdev: u64 },
}

/// One entry to create at the destination.
#[derive(Debug, Clone)]
pub struct Item {
    pub src_dir: Arc<SrcDir>,
    pub name: CString,
    pub dst_dir: Arc<DstDir>,
    /// The destination name when it differs from `name` (command-line operands).
    pub dst_name: Option<CString>,
    /// How the user wrote the source, for command-line operands.
    pub display: Option<PathBuf>,
    pub kind: Kind,
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
