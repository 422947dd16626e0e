//! --preserve=links in the engines: a name of a multiply-linked source is
//! claimed in the shared map (`crate::meta::links`), then copied (the first
//! name), linked to the first copy, or parked until that copy is done; the
//! worker that finishes the first copy links the parked names.

use super::FileCopier;
use super::dest::older;
use crate::config::Overwrite;
use crate::engine::outcome::{Done, Outcome, report};
use crate::error::{Op, errno};
use crate::meta::links::{Claim, Parked};
use crate::tree::SrcStat;
use crate::tree::{DstState, Item, Kind};
use rustix::fs::AtFlags;
use rustix::io::Errno;
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd};

/// The complete copy a hard link is made to.
#[derive(Clone, Copy)]
pub(super) enum LinkFrom<'a> {
    /// A name in an open destination directory.
    At(BorrowedFd<'a>, &'a CStr),
    /// A path (the directory was closed; paths are relative to the working
    /// directory, which never changes).
    Path(&'a std::path::Path),
}

/// Where a name of a source stands in the hard-link map (--preserve=links).
pub enum LinkClaim {
    /// Its links are not tracked: copy it.
    Untracked,
    /// The first name of its inode: copy it, then call
    /// [`FileCopier::first_done`].
    First,
    /// Linked to the first copy, parked until it is done, or kept by -u:
    /// nothing to copy.
    Ended(Outcome),
}

impl FileCopier {
    /// For a source with several names, under --preserve=links: is this the
    /// name to copy, or was it linked, parked or kept by -u?
    pub fn claim_link(
        &self,
        item: &Item,
        st: &SrcStat,
        dst: BorrowedFd<'_>,
        fresh: bool,
    ) -> LinkClaim {
        if !self.tracks_links(item, st) {
            return LinkClaim::Untracked;
        }
        // -u first, as cp: a destination it keeps stands for the copy.
        let kept = !fresh
            && self.overwrite == Overwrite::Older
            && match rustix::fs::statat(dst, item.dst_name(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(d) => !older(&d, st.mtime),
                Err(Errno::NOENT) => false,
                Err(e) => {
                    return LinkClaim::Ended(Err(item.error(Op::Stat, true, e.into()).into()));
                }
            };
        let keep = self.archive.keep_links;
        LinkClaim::Ended(match self.links.claim(item, st, keep, kept) {
            Claim::First => return LinkClaim::First,
            Claim::Kept => Ok(Done::Skipped),
            Claim::Parked => Ok(Done::Parked),
            Claim::Link(dir, name) => match dir.state() {
                Some(DstState::Ready { fd, .. }) => {
                    self.link(item, st, LinkFrom::At(fd.as_fd(), &name), dst, fresh, kept)
                }
                _ => Err(item.error(Op::Link, true, errno(libc::ENOENT)).into()),
            },
            Claim::LinkPath(path) => self.link(item, st, LinkFrom::Path(&path), dst, fresh, kept),
        })
    }

    /// Is `item` (status `st`) a name of a file with several names, whose
    /// copies are to be one file? Also, with --remove-source-files, a file
    /// whose other names were copied and removed from the source already
    /// (its link count has dropped; rsync -H links it all the same).
    pub(super) fn tracks_links(&self, item: &Item, st: &SrcStat) -> bool {
        self.archive.tracks_links(st, item.display.is_some())
            || (self.remove_source && self.archive.preserve.links && self.links.has(st))
    }

    /// The first copy of a multiply-linked source ended: link (or, if it
    /// failed, copy) the names that were parked meanwhile, and report them.
    pub fn first_done(&self, item: &Item, st: &SrcStat, ok: bool) {
        let progress = &*self.archive.progress;
        let mut buf = Vec::new();
        for Parked { item: other, kept } in self.links.first_done(item, st, ok) {
            let Some(DstState::Ready { fd, fresh }) = other.dst_dir.state() else {
                continue;
            };
            let r = match other.kind {
                _ if ok => match item.dst_dir.state() {
                    Some(DstState::Ready { fd: from, .. }) => self.link(
                        &other,
                        st,
                        LinkFrom::At(from.as_fd(), item.dst_name()),
                        fd.as_fd(),
                        *fresh,
                        kept,
                    ),
                    _ => Err(other.error(Op::Link, true, errno(libc::ENOENT)).into()),
                },
                Kind::File { .. } => self.copy(&other, fd.as_fd(), *fresh, &mut buf),
                _ => self.create_other(&other, fd.as_fd(), *fresh),
            };
            report(progress, &other, r);
        }
    }

    /// Make `item`'s destination a hard link to the copy `from` (cp replaces
    /// an existing non-directory; -n keeps it). `kept`: -u kept the
    /// destination, which cp replaces all the same, and the name counts as
    /// skipped. With --remove-source-files, a name linked is removed from
    /// the source (`st`: its file's status, as the first copy saw it).
    pub(super) fn link(
        &self,
        item: &Item,
        st: &SrcStat,
        from: LinkFrom<'_>,
        dst: BorrowedFd<'_>,
        fresh: bool,
        kept: bool,
    ) -> Outcome {
        let make = |name: &CStr| {
            match from {
                LinkFrom::At(dir, from) => {
                    rustix::fs::linkat(dir, from, dst, name, AtFlags::empty())
                }
                LinkFrom::Path(path) => {
                    rustix::fs::linkat(rustix::fs::CWD, path, dst, name, AtFlags::empty())
                }
            }
            .map_err(|e| item.error(Op::Link, true, e.into()))
        };
        let done = match make(item.dst_name()) {
            Ok(()) => Done::Linked,
            Err(e) if !fresh && e.source.raw_os_error() == Some(libc::EEXIST) => {
                if !kept && !self.may_replace(item, dst)? {
                    return Ok(Done::Skipped);
                }
                self.replace(item, dst, make, true)?;
                if kept { Done::Skipped } else { Done::Linked }
            }
            Err(e) => return Err(e.into()),
        };
        if let Done::Linked = done {
            self.remove_source(item, Some(st));
        }
        Ok(done)
    }
}
