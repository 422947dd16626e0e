//! Making directories ahead, for a copy within one btrfs filesystem (every
//! file is cloned): a walker that lists a directory makes the copies of its
//! subdirectories at once, and the walkers take directories in the order
//! they were found.
//!
//! Why: btrfs keeps every inode and directory entry of a subvolume in one
//! b-tree, keyed by inode number, and numbers new inodes in sequence. A
//! directory made when a walker takes it gets the newest number, so the
//! entries added to it go into the leaf at the tree's right edge, the one
//! where the other walker inserts every inode it creates: the two take turns
//! on that leaf's lock for every file. `perf` on /usr/share within btrfs, 2
//! walkers: 2,618 sleeps on a tree lock under `btrfs_add_link` against cpz's
//! 463. Made when found, and taken in the order found, a directory is filled
//! after later ones were made (cpz works this way): its entries go where the
//! other walker is not. Medians of 7: 1,396 -> 1,310 ms (cpz 1,251). Either
//! half alone measured nothing (1,375 and 1,436), and on xfs, which keeps
//! each directory's entries in its own blocks, both together were slower
//! (1,107 -> 1,173 ms, cpz 1,100): so btrfs only. And only where files are
//! cloned: copying the bytes of /usr/share from another filesystem into
//! btrfs, it measured slower (2,487 -> 2,600 ms, 7 runs), the copying of
//! data, not the b-tree, being what the walkers wait for there.
//!
//! A directory made ahead is made exactly as the walker taking it would
//! have (mode from [`Walker::dir_modes`]); that walker then only opens it.
//! Only in a directory this run made (nothing of the user's can be in the
//! way), never under `-L` (a symlink cycle is found when the directory is
//! taken), never for the destination found inside the source (`cp -r d
//! d/sub`, see `dests`). A source directory that vanishes before it is
//! taken leaves its copy empty, and its error reported.
//!
//! A directory made ahead is given to the pool at once while another walker
//! waits for work, not when its parent's listing ends: making the copies of
//! a directory's subdirectories is that listing's longest part (the 250 of
//! /usr/share's top directory), and the other walker would wait through it,
//! as it did at the start of every copy. cpz's second thread likewise starts
//! on the first directory its first thread finds.

use super::*;
use std::ffi::CStr;

impl Walker {
    /// `name`, a directory just listed in `src` (`stat`: its status, if the
    /// listing read it), is to be copied into `dst`: make its copy now if
    /// this walk makes directories ahead. Returns whether it did.
    pub(super) fn make_ahead(
        &self,
        src: &SrcDir,
        dst: &DstDir,
        name: &CStr,
        stat: Option<&Stat>,
        follow: bool,
    ) -> bool {
        if !self.pool.as_ref().is_some_and(|p| p.ahead) || follow || self.sync.dry_run {
            return false;
        }
        let Some(DstState::Ready { fd, fresh: true }) = dst.state() else {
            return false;
        };
        if self
            .dests
            .iter()
            .any(|(parent, n, _)| *parent == src.dev_ino && n.as_c_str() == name)
        {
            return false;
        }
        let mode = match stat {
            Some(st) => st.st_mode,
            None => match rustix::fs::statat(&src.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st.st_mode,
                // Reported when the directory is taken.
                Err(_) => return false,
            },
        };
        if FileType::from_raw_mode(mode) != FileType::Directory {
            return false;
        }
        let (create, _) = self.dir_modes(mode);
        // Any failure is met again, and reported, when the directory is taken.
        rustix::fs::mkdirat(fd, name, Mode::from_raw_mode(create)).is_ok()
    }
}
