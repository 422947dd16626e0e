//! A destination directory's last step, taken once everything inside it is
//! written: the mode of a source directory its owner cannot write into, and
//! the attributes archive mode keeps (times, owner, xattrs, mode).
//!
//! Why a thread of its own: a directory is done when the last item inside it
//! is dropped, which happens on whichever worker finished last, in the middle
//! of that worker's own work. Doing the last step there meant filesystem work
//! and error reports inside `Drop`, on a thread no one chose. Instead `Drop`
//! queues the open directory here, the [`Finisher`] applies each one in the
//! order they were released and reports its failures, and the run waits for
//! it ([`Finisher::finish`]) before what must come after every directory's
//! attributes (`--parents`' directories, `--fsync`).

use super::dirs::{closed_dir, released};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// A directory's last step; it reports its own failures.
pub trait FinishDir: Send + Sync {
    /// Apply it to the directory open as `dir`; `path` for messages;
    /// `fresh` when this run made the directory (else it was there before).
    fn finish(&self, dir: BorrowedFd<'_>, path: &Path, fresh: bool);
}

/// A last step and the queue it goes to when its directory is released.
pub struct Finish {
    work: Box<dyn FinishDir>,
    queue: FinishQueue,
}

/// A released directory waiting for its last step.
struct Finished {
    fd: OwnedFd,
    path: PathBuf,
    fresh: bool,
    work: Box<dyn FinishDir>,
}

enum Msg {
    Dir(Finished),
    Stop,
}

/// Where released directories are queued; given to the walker, which makes
/// the directories.
#[derive(Clone)]
pub struct FinishQueue {
    tx: Sender<Msg>,
    /// Queued and not finished yet.
    pending: Arc<AtomicUsize>,
}

impl FinishQueue {
    /// `work`, to be queued here when its directory is released.
    pub fn finish(&self, work: Box<dyn FinishDir>) -> Finish {
        Finish {
            work,
            queue: self.clone(),
        }
    }

    /// Directories released and not finished yet.
    pub fn pending(&self) -> usize {
        self.pending.load(SeqCst)
    }
}

impl Finish {
    /// The directory open as `fd` was released: queue its last step.
    /// `fresh`: this run made it.
    pub(super) fn queue(self, fd: OwnedFd, path: PathBuf, fresh: bool) {
        let Finish { work, queue } = self;
        queue.pending.fetch_add(1, SeqCst);
        let dir = Finished {
            fd,
            path,
            fresh,
            work,
        };
        if let Err(crossbeam_channel::SendError(Msg::Dir(dir))) = queue.tx.send(Msg::Dir(dir)) {
            // The finisher stopped: the run thought every directory was
            // released. Nothing can apply the step now; close it.
            debug_assert!(
                false,
                "{} released after the finisher stopped",
                dir.path.display()
            );
            done(dir, &queue.pending);
        }
    }
}

/// The thread that applies released directories' last steps.
pub struct Finisher {
    queue: FinishQueue,
    thread: std::thread::JoinHandle<()>,
}

impl Finisher {
    pub fn start() -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let queue = FinishQueue {
            tx,
            pending: Arc::default(),
        };
        let pending = queue.pending.clone();
        let thread = crate::addrspace::thread("finisher").spawn(move || run(rx, &pending))?;
        Ok(Finisher { queue, thread })
    }

    pub fn queue(&self) -> FinishQueue {
        self.queue.clone()
    }

    /// Wait until every directory released so far has its last step, and stop.
    pub fn finish(self) {
        // The thread holds the receiver until it has seen `Stop`, so this send
        // cannot fail; a thread that panicked has reported why.
        let _ = self.queue.tx.send(Msg::Stop);
        let _ = self.thread.join();
    }
}

/// How long the finisher gathers released directories once it has none.
/// They come in bursts (a subtree's directories at once, or one per
/// directory of a no-op re-sync, thousands a second): waking the finisher for
/// each cost a `futex` call on the thread that released it and a context
/// switch on the CPU the stat-ahead or a worker wants. A directory's last
/// step comes at most this much later.
const GATHER: std::time::Duration = std::time::Duration::from_millis(1);

fn run(rx: Receiver<Msg>, pending: &AtomicUsize) {
    loop {
        let msg = match rx.try_recv() {
            Ok(msg) => Ok(msg),
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {
                std::thread::sleep(GATHER);
                rx.try_recv().or_else(|_| rx.recv())
            }
        };
        match msg {
            Ok(Msg::Dir(dir)) => {
                dir.work.finish(dir.fd.as_fd(), &dir.path, dir.fresh);
                done(dir, pending);
            }
            Ok(Msg::Stop) | Err(_) => return,
        }
    }
}

/// Close a finished directory and say so.
fn done(dir: Finished, pending: &AtomicUsize) {
    drop(dir);
    closed_dir();
    pending.fetch_sub(1, SeqCst);
    released();
}
