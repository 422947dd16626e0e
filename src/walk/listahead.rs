//! Listing ahead of the walker, for sources that are not in the page cache.
//!
//! Why: the walker is one thread, and on a cold disk each directory it lists
//! is a read it waits for (the directory's inode, then its blocks) before it
//! can send that directory's entries to the engine. Those waits are in series
//! and nothing else hides them: copying a CPython tree (8,252 directories)
//! from a cold cache took 2,646 ms, and 2,190 ms when its directories had
//! been listed just before (`find`, 640 ms alone); /usr/include 495 -> 450.
//! So where `--engine auto` finds the sources cold, [`LISTERS`] more threads
//! list the directory operands' trees in the walker's order (depth first,
//! entries in the order listed; one stack shared by the listers) and throw
//! the names away: the walker's reads then find the directories cached.
//! Cold, CPython tree, 7 interleaved runs, medians: 2,732 -> 2,231 ms;
//! /usr/include 467 -> 408 (xcp 680). Sync mode too: a no-op re-sync of
//! /usr/share from a cold cache, 5 runs, 1,164 -> 1,059 ms (`rsync -a
//! --delete` 1,379); listing the destination ahead as well gained nothing
//! more (1,077).
//!
//! It leaves no trace on the source: every directory is opened `O_NOATIME`
//! (where the kernel refuses that, not the owner and no `CAP_FOWNER`, the
//! directory and what is under it are not listed ahead), it never follows a
//! symlink and never leaves an operand's filesystem (`openat2` with
//! `RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV`). What it cannot open or read it
//! skips: the walker meets the same error and reports it. It stays at most
//! [`MAX_LEAD`] directories ahead of the walker (a huge tree is not read
//! into memory only to be evicted before the walker gets there), holds open
//! only directories whose subdirectories are still to be listed (about one
//! per level, per lister), and stops when the copy ends or is interrupted.

use rustix::fs::{FileType, Mode, OFlags, RawDir, ResolveFlags};
use std::ffi::CString;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Most directories listed ahead of the walker.
pub const MAX_LEAD: usize = 4096;

/// Threads listing at once. One was not enough: its reads wait behind the
/// copy's own, and the walker caught up with it (CPython tree, 8,252
/// directories: one lister was done at 2.2 s of a 2.7 s copy, the walker
/// then at 7,997 directories; four were done at 1.2 s, the walker at
/// 4,694). Two did best: 7 interleaved cold runs, medians, 2,732 ms without
/// a list-ahead, 2,291 with one lister, 2,231 with two, 2,295 with four.
pub const LISTERS: usize = 2;

/// How often a list-ahead that is far enough ahead looks again.
const PAUSE: Duration = Duration::from_millis(2);

/// What the walker and the list-ahead share: how many directories the walker
/// has listed, and whether to stop.
#[derive(Default)]
pub struct Lead {
    walked: AtomicUsize,
    stop: AtomicBool,
}

impl Lead {
    /// The walker is about to list a directory.
    pub fn walked_one(&self) {
        self.walked.fetch_add(1, Relaxed);
    }
}

/// The running list-ahead; [`ListAhead::finish`] (or dropping it) stops it.
pub struct ListAhead {
    lead: Arc<Lead>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ListAhead {
    /// List the trees under `operands` ahead of a walker that counts its
    /// directories in the returned `Lead`. `None` if the thread cannot start
    /// (the copy goes on without it).
    pub fn start(operands: Vec<PathBuf>) -> Option<(ListAhead, Arc<Lead>)> {
        let lead = Arc::new(Lead::default());
        let theirs = lead.clone();
        let thread = crate::addrspace::thread("list-ahead")
            .spawn(move || {
                list(&operands, &theirs);
            })
            .ok()?;
        let running = ListAhead {
            lead: lead.clone(),
            thread: Some(thread),
        };
        Some((running, lead))
    }

    /// Stop, and wait for the thread (at most one directory read).
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.lead.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            // It only reads; a panic there is not the copy's failure.
            let _ = t.join();
        }
    }
}

impl Drop for ListAhead {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A directory still to list: its parent, open (none for an operand, whose
/// path is its name), and its name.
type Pending = (Option<Arc<OwnedFd>>, CString);

/// The directories still to list, shared by the listing threads.
struct Todo {
    stack: Vec<Pending>,
    /// Threads listing a directory now (they may push more).
    busy: usize,
}

/// What the listing threads share: the directories to list, a signal when
/// some are added, the walker's count, and how many they have opened.
struct Shared<'a> {
    todo: Mutex<Todo>,
    more: Condvar,
    lead: &'a Lead,
    listed: AtomicUsize,
}

/// List the trees under `operands`; returns how many directories it listed.
fn list(operands: &[PathBuf], lead: &Lead) -> usize {
    let mut stack: Vec<Pending> = operands
        .iter()
        .filter_map(|p| CString::new(p.as_os_str().as_bytes()).ok())
        .map(|name| (None, name))
        .collect();
    stack.reverse();
    let shared = Shared {
        todo: Mutex::new(Todo { stack, busy: 0 }),
        more: Condvar::new(),
        lead,
        listed: AtomicUsize::new(0),
    };
    std::thread::scope(|s| {
        for i in 1..LISTERS {
            let shared = &shared;
            // One that cannot start leaves the listing to the others.
            let _ = crate::threads::scoped(s, format!("list-ahead-{i}"), move || lister(shared));
        }
        lister(&shared);
    });
    shared.listed.load(Relaxed)
}

/// One listing thread: take the next directory in the walker's order, list
/// it, put its subdirectories back in front.
fn lister(shared: &Shared) {
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 64 << 10];
    let mut found = Vec::new();
    while let Some(fd) = next(shared) {
        let mut entries = RawDir::new(fd.as_fd(), &mut buf);
        while let Some(Ok(entry)) = entries.next() {
            let name = entry.file_name();
            if entry.file_type() == FileType::Directory
                && name.to_bytes() != b"."
                && name.to_bytes() != b".."
            {
                found.push((Some(fd.clone()), name.to_owned()));
            }
        }
        let mut todo = shared.todo.lock().unwrap_or_else(|e| e.into_inner());
        // The walker visits subdirectories in the order listed.
        todo.stack.extend(found.drain(..).rev());
        todo.busy -= 1;
        drop(todo);
        shared.more.notify_all();
    }
}

/// The next directory to list, open; `None` when all are listed (or the copy
/// ended). A directory that cannot be opened without following a symlink,
/// leaving the filesystem or moving its access time is skipped.
fn next(shared: &Shared) -> Option<Arc<OwnedFd>> {
    let how = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_XDEV | ResolveFlags::NO_MAGICLINKS;
    let flags =
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::NOATIME | OFlags::CLOEXEC;
    loop {
        if stopped(shared.lead, shared.listed.load(Relaxed)) {
            shared.lead.stop.store(true, Relaxed);
            shared.more.notify_all();
            return None;
        }
        let mut todo = shared.todo.lock().unwrap_or_else(|e| e.into_inner());
        let (parent, name) = loop {
            if let Some(p) = todo.stack.pop() {
                break p;
            }
            if todo.busy == 0 || shared.lead.stop.load(Relaxed) {
                return None;
            }
            todo = shared.more.wait(todo).unwrap_or_else(|e| e.into_inner());
        };
        todo.busy += 1;
        drop(todo);
        let opened = match &parent {
            // An operand's own path may go through symlinks (as the walker's
            // does), but not end in one: `-r` copies that as a symlink, and
            // what it points to may be a whole other tree. Nothing under an
            // operand is reached through a symlink.
            None => rustix::fs::openat(rustix::fs::CWD, name.as_c_str(), flags, Mode::empty()),
            Some(parent) => {
                rustix::fs::openat2(&**parent, name.as_c_str(), flags, Mode::empty(), how)
            }
        };
        match opened {
            Ok(fd) => {
                shared.listed.fetch_add(1, Relaxed);
                return Some(Arc::new(fd));
            }
            Err(_) => {
                let mut todo = shared.todo.lock().unwrap_or_else(|e| e.into_inner());
                todo.busy -= 1;
                drop(todo);
                shared.more.notify_all();
            }
        }
    }
}

/// Stop (the copy ended or was interrupted)? Waits while `listed` is
/// [`MAX_LEAD`] directories ahead of the walker.
fn stopped(lead: &Lead, listed: usize) -> bool {
    loop {
        if lead.stop.load(Relaxed) || crate::interrupt::requested() {
            return true;
        }
        if listed < lead.walked.load(Relaxed) + MAX_LEAD {
            return false;
        }
        std::thread::sleep(PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every directory of the tree is listed, none reached through a
    /// symlink (inside the tree or as the operand), and a file operand is
    /// skipped.
    #[test]
    fn lists_the_tree_and_follows_no_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("tree");
        for d in ["a/b/c", "a/d", "e"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("a/file"), b"x").unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(outside.join("x/y")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("a/link")).unwrap();
        std::os::unix::fs::symlink(&root, tmp.path().join("root-link")).unwrap();
        let lead = Lead::default();
        // tree, a, a/b, a/b/c, a/d, e
        assert_eq!(list(std::slice::from_ref(&root), &lead), 6);
        assert_eq!(list(&[tmp.path().join("root-link")], &lead), 0);
        assert_eq!(list(&[root.join("a/file")], &lead), 0);
        assert_eq!(list(&[root.join("a/d"), root.join("e")], &lead), 2);
    }

    /// It waits while [`MAX_LEAD`] directories ahead, and ends when told.
    #[test]
    fn stays_within_its_lead_and_stops() {
        let lead = Lead::default();
        assert!(!stopped(&lead, MAX_LEAD - 1));
        lead.walked_one();
        assert!(!stopped(&lead, MAX_LEAD));
        lead.stop.store(true, Relaxed);
        assert!(stopped(&lead, MAX_LEAD + 5), "a stopped list-ahead waited");
    }
}
