//! Hard links inside the copied set stay hard links (`--preserve=links`).
//!
//! A map from the source's (dev, ino) to the state of its first copy, shared by
//! all workers. The first name of an inode is copied as usual; a later name is
//! linked to that copy at once if it is complete, or parked here with its item
//! (which holds its destination directory open, and that directory's final
//! times back) until the worker that completes the first copy links it. If the
//! first copy fails, the parked names are copied instead, the first of them
//! becoming the new first. No worker ever blocks on another file, so a `uring`
//! worker, which has many files in flight in its own ring, cannot wait on
//! itself.
//!
//! A name whose existing destination -u keeps (it is not older than the
//! source) stands for the copy, as in cp: if it is the first name seen, the
//! later names are linked to it; if not, it is linked to the first copy,
//! replacing what -u kept (cp's preserve-link.sh).
//!
//! An entry is dropped once all `nlink` names were seen; entries of inodes
//! with names outside the copied set (and, with -L or several operands,
//! every file's, since a name can then be met twice) stay until the run
//! ends. They do not hold their first copy's directory open (a tree
//! of many such files would run out of descriptors, and keep the directories'
//! times from being set): a later name is linked through the directory while
//! something else keeps it open, and through the copy's path after that.

use crate::tree::SrcStat;
use crate::tree::{DstDir, Item};
use std::collections::HashMap;
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};

/// What to do with a name of a multiply-linked source.
pub enum Claim {
    /// The first name seen: copy it, then call [`Links::first_done`].
    First,
    /// Link the destination to this complete copy, by its name in its
    /// directory, which is still open.
    Link(Arc<DstDir>, CString),
    /// The same, by its path: its directory is closed and done.
    LinkPath(PathBuf),
    /// The first copy is under way: the item was parked here and will be
    /// linked (and reported) by the worker that completes it.
    Parked,
    /// The first name seen, kept as it is by -u: its destination stands
    /// for the copy. Nothing to do.
    Kept,
}

/// A name parked until the first copy of its inode is complete.
pub struct Parked {
    pub item: Item,
    /// -u kept its destination ([`Links::claim`]'s `kept`): it is linked
    /// all the same, replacing that destination, and reported as skipped.
    pub kept: bool,
}

enum State {
    Copying(Vec<Parked>),
    Done(Weak<DstDir>, CString, PathBuf),
}

impl State {
    /// Complete, as `name` in `dir`.
    fn done(dir: &Arc<DstDir>, name: &std::ffi::CStr) -> State {
        State::Done(
            Arc::downgrade(dir),
            name.to_owned(),
            crate::tree::join(&dir.path, name),
        )
    }

    /// How to link to a complete copy: through its directory while that is
    /// open, else by path. (Only asked of `Done`.)
    fn link(&self) -> Claim {
        match self {
            State::Done(dir, name, path) => match dir.upgrade() {
                Some(dir) => Claim::Link(dir, name.clone()),
                None => Claim::LinkPath(path.clone()),
            },
            State::Copying(_) => Claim::Parked,
        }
    }
}

struct Entry {
    state: State,
    /// Names not seen yet.
    left: u64,
    /// Sync mode: the destination inode (dev, ino) of the unchanged name
    /// the entry was made from ([`Links::existing`]).
    at_dst: Option<(u64, u64)>,
}

#[derive(Default)]
pub struct Links {
    map: Mutex<HashMap<(u64, u64), Entry>>,
    /// Sync mode: a destination directory that was there before the run
    /// has been listed with entries in it, so unchanged names
    /// ([`Links::existing`]) may be met anywhere in the walk, new
    /// directories included.
    resync: AtomicBool,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links").finish_non_exhaustive()
    }
}

impl Links {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(u64, u64), Entry>> {
        // A worker that panicked cannot have left the map half-updated in a
        // way that matters more than losing the copy: keep going.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A name of `st`'s inode is to be copied as `item`. `keep`: remember
    /// the copy until the end even when all `nlink` names were seen (-L,
    /// several operands). `kept`: -u keeps `item`'s existing destination,
    /// which becomes the copy if this is the first name seen.
    pub fn claim(&self, item: &Item, st: &SrcStat, keep: bool, kept: bool) -> Claim {
        let key = (st.dev, st.ino);
        let mut map = self.lock();
        let Some(e) = map.get_mut(&key) else {
            // Under -L a file may have more names (symlinks) than links.
            let left = if keep {
                u64::MAX
            } else {
                st.nlink.saturating_sub(1)
            };
            let (state, claim) = match kept {
                true => (State::done(&item.dst_dir, item.dst_name()), Claim::Kept),
                false => (State::Copying(Vec::new()), Claim::First),
            };
            if left > 0 || !kept {
                map.insert(
                    key,
                    Entry {
                        state,
                        left,
                        at_dst: None,
                    },
                );
            }
            return claim;
        };
        e.left = e.left.saturating_sub(1);
        match &mut e.state {
            State::Copying(parked) => {
                parked.push(Parked {
                    item: item.clone(),
                    kept,
                });
                Claim::Parked
            }
            State::Done(..) => {
                let claim = e.state.link();
                if e.left == 0 {
                    map.remove(&key);
                }
                claim
            }
        }
    }

    /// Has a name of `st`'s inode been claimed, and not all its names seen?
    pub fn has(&self, st: &SrcStat) -> bool {
        self.lock().contains_key(&(st.dev, st.ino))
    }

    /// The first copy of `st`'s inode, `item`, ended (`ok`: it exists).
    /// Returns the names parked meanwhile: to link to it, or, if it failed,
    /// to copy (claimed again: one of them becomes the first).
    pub fn first_done(&self, item: &Item, st: &SrcStat, ok: bool) -> Vec<Parked> {
        let key = (st.dev, st.ino);
        let mut map = self.lock();
        let Some(e) = map.get_mut(&key) else {
            return Vec::new();
        };
        let parked = match &mut e.state {
            State::Copying(parked) => std::mem::take(parked),
            State::Done(..) => Vec::new(),
        };
        if ok && e.left > 0 {
            e.state = State::done(&item.dst_dir, item.dst_name());
        } else {
            map.remove(&key);
        }
        parked
    }

    /// Sync mode: a name of `st`'s inode is already at the destination as
    /// `name` in `dir` (inode `dst_id`), unchanged, so it is not copied: new
    /// names of the inode are linked to it. If another unchanged name of
    /// the inode was met first and is another inode at the destination (two
    /// files that became links of each other), or a name of it was copied
    /// already, returns that name: this one is to be linked to it. A name
    /// claimed for copying and not yet copied stays as is.
    pub fn existing(
        &self,
        st: &SrcStat,
        dir: &Arc<DstDir>,
        name: &std::ffi::CStr,
        dst_id: (u64, u64),
    ) -> Option<Claim> {
        let key = (st.dev, st.ino);
        let mut map = self.lock();
        let Some(e) = map.get_mut(&key) else {
            map.insert(
                key,
                Entry {
                    state: State::done(dir, name),
                    left: st.nlink.saturating_sub(1),
                    at_dst: Some(dst_id),
                },
            );
            return None;
        };
        e.left = e.left.saturating_sub(1);
        let relink = match (&e.state, e.at_dst) {
            (State::Done(..), Some(first)) if first != dst_id => Some(e.state.link()),
            // A name copied before this unchanged one was met (names past
            // what the walk holds back, `walk::list`): linked to that copy,
            // which is the source's file too. (One still being copied is
            // left: the next run links them.)
            (State::Done(..), None) => Some(e.state.link()),
            _ => None,
        };
        if e.left == 0 {
            map.remove(&key);
        }
        relink
    }

    /// Sync mode: a destination directory that was there has been listed,
    /// with entries in it. Set before its entries are listed: every
    /// directory below it, a new one too, is listed after, by this walker
    /// or, through the pool's lock, another.
    pub fn destination_existed(&self) {
        if !self.resync.load(Relaxed) {
            self.resync.store(true, Relaxed);
        }
    }

    /// May a name of a multiply-linked source be met unchanged at the
    /// destination in this run (see [`Links::destination_existed`])?
    pub fn unchanged_names_possible(&self) -> bool {
        self.resync.load(Relaxed)
    }

    /// Forget every entry (at the end of the run; parked names cannot be
    /// left by then, but if one were, this closes its directory).
    pub fn clear(&self) {
        let drained: Vec<Entry> = self.lock().drain().map(|(_, e)| e).collect();
        drop(drained);
    }
}
