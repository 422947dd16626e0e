//! Sync mode's stat-ahead: a second thread that stats the entries of the
//! directory pair the walker is comparing, so that a re-sync in which
//! little or nothing changed (two `fstatat` per entry and hardly anything
//! else) runs on two CPUs instead of one.
//!
//! Why this shape: the quick check needs, per entry, the status of the
//! source and of the destination of the same name, and the walker decides
//! entries one at a time in the source's listing order (its
//! `--itemize-changes` lines and hard-link decisions depend on that order).
//! So the decisions stay the walker's and only the stats move: once the
//! walker has listed a destination directory, it hands the names to this
//! thread ([`Job`]), which stats them from the end of the listing while the
//! walker goes on from the start. Each name is stat'ed once, by whichever
//! of the two claims its slot first; the walker waits only for a slot the
//! helper is in the middle of (one stat). Nothing here writes, reports or
//! decides: a failed stat is handed over as it is, and the walker reports
//! it as it would its own.
//!
//! A directory with fewer than [`AHEAD_MIN`] entries is not handed over:
//! waking the thread would cost more than the walker's own stats.

use crate::tree::{DstDir, DstState, SrcDir};
use crossbeam_channel::{Receiver, Sender};
use rustix::fs::{AtFlags, FileType, Stat};
use rustix::io::Errno;
use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

/// Entries (not counting directories) a destination directory needs for
/// its stats to be shared with the helper.
pub(super) const AHEAD_MIN: usize = 16;

/// Slots of one directory shared at most: the first this many names of its
/// listing (the walker stats the rest itself). A slot holds two `stat`s
/// (~320 bytes), so this bounds a job at ~5 MiB however big the directory
/// (a mail spool, a cache of a million files: there the walker stats most
/// names itself, as before); of /usr/share's biggest, 17.9k entries, 92%
/// are shared.
pub(super) const AHEAD_MAX: usize = 1 << 14;

/// The status of one name on both sides, neither following a symlink.
#[derive(Clone, Copy)]
pub(super) struct Pair {
    pub src: Result<Stat, Errno>,
    pub dst: Result<Stat, Errno>,
}

/// A destination directory's names in listing order, NUL-terminated back to
/// back: filled by `Walker::list_dst`, copied into a [`Job`] when one is
/// worth it.
#[derive(Default, Clone)]
pub(super) struct Names {
    bytes: Vec<u8>,
    /// Per slot, where its name starts in `bytes`, or `None` for a
    /// directory (nothing to stat: its entries are compared when it is
    /// walked). Only the first [`AHEAD_MAX`] are kept.
    starts: Vec<Option<u32>>,
    /// Slots kept that are not directories.
    files: usize,
    /// Names pushed, kept or not.
    pushed: u32,
}

impl Names {
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.starts.clear();
        self.files = 0;
        self.pushed = 0;
    }

    /// Add `name` of type `ft`; returns its slot (past [`AHEAD_MAX`], a
    /// slot no job has: the walker's).
    pub fn push(&mut self, name: &CStr, ft: FileType) -> u32 {
        let slot = self.pushed;
        self.pushed = self.pushed.saturating_add(1);
        if self.starts.len() >= AHEAD_MAX {
            return slot;
        }
        if ft == FileType::Directory {
            self.starts.push(None);
        } else {
            self.starts.push(Some(self.bytes.len() as u32));
            self.bytes.extend_from_slice(name.to_bytes_with_nul());
            self.files += 1;
        }
        slot
    }

    fn name(&self, slot: usize) -> Option<&CStr> {
        let start = self.starts[slot]? as usize;
        CStr::from_bytes_until_nul(&self.bytes[start..]).ok()
    }
}

const FREE: u8 = 0;
const HELPER: u8 = 1;
const WALKER: u8 = 2;

#[derive(Default)]
struct Slot {
    /// Who claimed it: [`FREE`], [`HELPER`] or [`WALKER`]; only ever moves
    /// away from `FREE`.
    claim: AtomicU8,
    /// Set by the helper once it has claimed the slot.
    stats: OnceLock<Pair>,
}

/// One directory pair's names, shared by the walker and the helper.
pub(super) struct Job {
    src: Arc<SrcDir>,
    dst: Arc<DstDir>,
    names: Names,
    slots: Box<[Slot]>,
    /// The walker has left the directory: what is left is not wanted.
    closed: AtomicBool,
}

impl Job {
    /// The walker's turn at `slot`: the pair the helper stat'ed (waiting
    /// for one it is stat'ing now), or `None` if it has not come to it: then
    /// the slot is the walker's, which stats it itself.
    pub fn take(&self, slot: u32) -> Option<Pair> {
        let s = self.slots.get(slot as usize)?;
        match s
            .claim
            .compare_exchange(FREE, WALKER, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => None,
            Err(HELPER) => Some(*s.stats.wait()),
            Err(_) => None, // taken twice: the walker's again
        }
    }

    /// The walker is done with the directory.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// The helper's side: stat every slot still free, from the last one.
    fn work(&self) {
        let (Some(DstState::Ready { fd: dst, .. }), src) = (self.dst.state(), &self.src.fd) else {
            return;
        };
        for (i, slot) in self.slots.iter().enumerate().rev() {
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            let Some(name) = self.names.name(i) else {
                continue;
            };
            if slot
                .claim
                .compare_exchange(FREE, HELPER, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            // From here the walker may wait for this slot: nothing between
            // the claim and `set` can fail or panic.
            let pair = Pair {
                src: rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW),
                dst: rustix::fs::statat(dst, name, AtFlags::SYMLINK_NOFOLLOW),
            };
            let _ = slot.stats.set(pair);
        }
    }
}

/// The helper thread, started with the first directory worth sharing;
/// stopped (and joined) when dropped, so no [`Job`] (and no directory it
/// holds open) outlives the walk.
#[derive(Default)]
pub(super) struct StatAhead {
    tx: Option<Sender<Arc<Job>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The thread could not be started: the walker stats everything.
    unavailable: bool,
}

impl StatAhead {
    /// Share the stats of `names` (the listing of `dst`, whose source is
    /// `src`) if there are enough; the job to take them from, if shared.
    pub fn share(
        &mut self,
        src: &Arc<SrcDir>,
        dst: &Arc<DstDir>,
        names: &Names,
    ) -> Option<Arc<Job>> {
        if names.files < AHEAD_MIN || self.unavailable {
            return None;
        }
        if self.tx.is_none() {
            let (tx, rx) = crossbeam_channel::unbounded();
            match crate::addrspace::thread("stat-ahead").spawn(move || run(rx)) {
                Ok(thread) => {
                    self.tx = Some(tx);
                    self.thread = Some(thread);
                }
                Err(_) => {
                    // (A pids limit: the walker does it alone, as before.)
                    self.unavailable = true;
                    return None;
                }
            }
        }
        let job = Arc::new(Job {
            src: src.clone(),
            dst: dst.clone(),
            names: names.clone(),
            slots: (0..names.starts.len()).map(|_| Slot::default()).collect(),
            closed: AtomicBool::new(false),
        });
        let tx = self.tx.as_ref()?;
        tx.send(job.clone()).ok()?;
        Some(job)
    }
}

impl Drop for StatAhead {
    fn drop(&mut self) {
        self.tx = None; // the thread's `recv` fails: it returns
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(rx: Receiver<Arc<Job>>) {
    while let Ok(job) = rx.recv() {
        job.work();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;
    use std::path::Path;

    fn open(dir: &Path) -> OwnedFd {
        rustix::fs::open(
            dir,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY,
            rustix::fs::Mode::empty(),
        )
        .unwrap()
    }

    /// A job over `src` and `dst` with `names` (a name ending in `/` is a
    /// directory), not sent to any thread.
    fn job(src: &Path, dst: &Path, names: &[&str]) -> Job {
        let src = Arc::new(SrcDir::new(open(src), src.into(), (0, 0), None));
        let node = DstDir::pending(dst.into(), None);
        node.set(DstState::Ready {
            fd: open(dst),
            fresh: false,
        });
        let mut listed = Names::default();
        for name in names {
            let (name, ft) = match name.strip_suffix('/') {
                Some(d) => (d, FileType::Directory),
                None => (*name, FileType::RegularFile),
            };
            let name = std::ffi::CString::new(name).unwrap();
            listed.push(&name, ft);
        }
        Job {
            src,
            dst: Arc::new(node),
            slots: (0..listed.starts.len()).map(|_| Slot::default()).collect(),
            names: listed,
            closed: AtomicBool::new(false),
        }
    }

    /// Every slot gets the stats of its own name on both sides (sizes tell
    /// them apart), failures included; a slot the walker took first is the
    /// walker's, and a directory gets none.
    #[test]
    fn each_slot_gets_the_stats_of_its_own_name() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        std::fs::create_dir_all(src.join("d")).unwrap();
        std::fs::create_dir_all(dst.join("d")).unwrap();
        let mut names: Vec<String> = Vec::new();
        for i in 0..40usize {
            let name = format!("f{i}");
            std::fs::write(src.join(&name), vec![b's'; i]).unwrap();
            std::fs::write(dst.join(&name), vec![b'd'; 2 * i + 1]).unwrap();
            names.push(name);
        }
        std::fs::write(dst.join("only-here"), b"x").unwrap();
        names.insert(7, "d/".into());
        names.insert(20, "only-here".into());
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let job = job(&src, &dst, &refs);
        assert!(job.take(3).is_none(), "slot 3 was free: now the walker's");
        job.work();
        for (slot, name) in names.iter().enumerate() {
            let pair = job.take(slot as u32);
            match name.as_str() {
                "d/" => assert!(pair.is_none(), "a directory was stat'ed"),
                _ if slot == 3 => assert!(pair.is_none(), "the walker's slot was taken"),
                "only-here" => {
                    let pair = pair.unwrap();
                    assert_eq!(pair.src.err(), Some(Errno::NOENT));
                    assert_eq!(pair.dst.unwrap().st_size, 1);
                }
                f => {
                    let i: i64 = f[1..].parse().unwrap();
                    let pair = pair.unwrap_or_else(|| panic!("{f}: no stats"));
                    assert_eq!(pair.src.unwrap().st_size, i, "{f}");
                    assert_eq!(pair.dst.unwrap().st_size, 2 * i + 1, "{f}");
                }
            }
        }
    }

    /// Once the walker has left the directory the helper stats nothing more.
    #[test]
    fn a_closed_job_is_left() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("f"), b"x").unwrap();
        let job = job(tmp.path(), tmp.path(), &["f", "f"]);
        job.close();
        job.work();
        assert!(job.take(0).is_none() && job.take(1).is_none());
    }

    /// A directory past [`AHEAD_MAX`] entries is shared up to there: the
    /// names kept are the first ones, and a later slot is the walker's.
    #[test]
    fn a_huge_directory_is_shared_up_to_the_cap() {
        let tmp = tempfile::tempdir().unwrap();
        let total = AHEAD_MAX + 10;
        let mut names = Names::default();
        for i in 0..total {
            let name = std::ffi::CString::new(format!("n{i}")).unwrap();
            let ft = match i % 7 {
                0 => FileType::Directory,
                _ => FileType::RegularFile,
            };
            names.push(&name, ft);
        }
        assert_eq!(names.starts.len(), AHEAD_MAX);
        assert_eq!(names.pushed as usize, total);
        for slot in [1, AHEAD_MAX - 1, AHEAD_MAX - 2] {
            let want = format!("n{slot}");
            assert_eq!(names.name(slot).map(|n| n.to_str().unwrap()), Some(&*want));
        }
        let j = job(tmp.path(), tmp.path(), &["a"]);
        let mut ahead = StatAhead::default();
        let shared = ahead.share(&j.src, &j.dst, &names).unwrap();
        assert_eq!(shared.slots.len(), AHEAD_MAX);
        assert!(shared.take((AHEAD_MAX + 5) as u32).is_none());
        shared.close();
    }

    /// A small directory is not shared (and no thread is started for it).
    #[test]
    fn a_small_directory_is_not_shared() {
        let tmp = tempfile::tempdir().unwrap();
        let j = job(tmp.path(), tmp.path(), &["a"; AHEAD_MIN - 1]);
        let mut ahead = StatAhead::default();
        assert!(ahead.share(&j.src, &j.dst, &j.names).is_none());
        assert!(ahead.thread.is_none());
    }
}
