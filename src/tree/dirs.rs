//! Open directories on both sides of the copy, shared by the items inside
//! them, and the count of them the walker budgets its descriptors by.

use super::finish::Finish;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

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

/// An open directory descriptor, counted in [`open_dirs`]. Shared (`Arc`)
/// when several source directories are one: the command-line operands
/// `man1/a man1/b ...` each have a [`SrcDir`] of their own (the walker waits
/// on it, see `walk::Walker::wait_for`) over one descriptor of `man1`.
#[derive(Debug)]
pub struct DirFd(OwnedFd);

impl DirFd {
    pub fn new(fd: OwnedFd) -> Self {
        OPEN_DIRS.fetch_add(1, Relaxed);
        DirFd(fd)
    }
}

impl AsFd for DirFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for DirFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl Drop for DirFd {
    fn drop(&mut self) {
        OPEN_DIRS.fetch_sub(1, Relaxed);
        released();
    }
}

/// An open source directory.
#[derive(Debug)]
pub struct SrcDir {
    pub fd: Arc<DirFd>,
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
        SrcDir::sharing(Arc::new(DirFd::new(fd)), path, dev_ino, parent)
    }

    /// A source directory over a descriptor that others may hold too.
    pub fn sharing(
        fd: Arc<DirFd>,
        path: PathBuf,
        dev_ino: (u64, u64),
        parent: Option<Arc<SrcDir>>,
    ) -> Self {
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
        // (Its descriptor counts as released when the last holder drops it.)
        released();
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
    /// A file was created here where something already was (see
    /// [`DstDir::note_in_the_way`]).
    in_the_way: AtomicBool,
    /// What to apply once everything inside has been written: the mode of a
    /// source directory that does not let its owner write into it, and the
    /// attributes archive mode preserves. Queued to the finisher on drop.
    finish: Option<Finish>,
}

impl std::fmt::Debug for DstDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DstDir").field("path", &self.path).finish()
    }
}

impl DstDir {
    /// A directory that is not ready yet: its creator calls [`DstDir::set`].
    pub fn pending(path: PathBuf, finish: Option<Finish>) -> Self {
        DstDir {
            path,
            state: OnceLock::new(),
            dev: OnceLock::new(),
            in_the_way: AtomicBool::new(false),
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

    /// Something was in the way of a new file here: the copiers then look
    /// before they create in this directory, instead of trying to create
    /// first (a copy over an existing tree would try every name twice).
    pub fn note_in_the_way(&self) {
        self.in_the_way.store(true, Relaxed);
    }

    pub fn had_in_the_way(&self) -> bool {
        self.in_the_way.load(Relaxed)
    }

    /// This directory was just made in `parent`, so it is on the parent's
    /// device: asked once for a tree the run makes, not once per directory
    /// (an `fstat` each). Only a key for what the byte mover remembers per
    /// pair of devices, so a mount over the new directory in between costs a
    /// wrong guess, never a wrong copy.
    pub fn inherit_dev(&self, parent: &DstDir) {
        if let Some(dev) = parent.dev() {
            let _ = self.dev.set(Some(dev));
        }
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
    /// Close the directory, or, when it has a last step, hand its descriptor
    /// to the finisher that applies it (no filesystem work here: its failure
    /// could not be reported).
    fn drop(&mut self) {
        let Some(DstState::Ready { fd, fresh }) = self.state.take() else {
            return;
        };
        match self.finish.take() {
            // The finished directory closes, and is counted, there.
            Some(finish) => finish.queue(fd, std::mem::take(&mut self.path), fresh),
            None => {
                drop(fd);
                closed_dir();
            }
        }
    }
}

/// A destination directory's descriptor was closed.
pub(super) fn closed_dir() {
    OPEN_DIRS.fetch_sub(1, Relaxed);
    released();
}

/// Releases so far: source directories closed, destination directories
/// closed or finished. The walker waits on this instead of polling.
static RELEASES: AtomicU64 = AtomicU64::new(0);
/// Threads in [`wait_for_release`]: a release notifies only when one waits
/// (a notification costs a system call).
static WAITERS: AtomicUsize = AtomicUsize::new(0);
static SIGNAL: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());

/// Something was released.
pub(super) fn released() {
    RELEASES.fetch_add(1, SeqCst);
    if WAITERS.load(SeqCst) > 0 {
        // Taking the lock orders this after a waiter's check of `RELEASES`.
        let _guard = SIGNAL.0.lock().unwrap_or_else(|e| e.into_inner());
        SIGNAL.1.notify_all();
    }
}

/// How many releases there have been; pass it to [`wait_for_release`].
pub fn releases() -> u64 {
    RELEASES.load(SeqCst)
}

/// Wait up to `timeout` for a release after the `seen`th; returns whether
/// there was one.
pub fn wait_for_release(seen: u64, timeout: Duration) -> bool {
    WAITERS.fetch_add(1, SeqCst);
    let guard = SIGNAL.0.lock().unwrap_or_else(|e| e.into_inner());
    let result = SIGNAL
        .1
        .wait_timeout_while(guard, timeout, |_| RELEASES.load(SeqCst) == seen);
    drop(result);
    WAITERS.fetch_sub(1, SeqCst);
    RELEASES.load(SeqCst) != seen
}
