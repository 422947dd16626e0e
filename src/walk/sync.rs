//! The walker's part of sync mode (see [`crate::sync`]): list a destination
//! directory that existed before the run, decide per source entry whether it
//! must be sent, and delete what the source no longer has.

use super::Walker;
use super::limit::Allowance;
use crate::error::{CopyError, Op};
use crate::meta::xattr;
use crate::meta::{Dst, Src};
use crate::sync::{
    Decision, Kept, attrs, decide_file, is_stale_temp, itemize_line, mtimes_differ, newer_kept,
    type_word, xattrs_may_differ,
};
use crate::tree::{DstDir, DstState, join};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, Stat};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::Arc;

/// A destination directory's entries, by name (stale temporaries removed):
/// each one's type and its slot in the listing (see `statahead.rs`).
pub(super) type Listing = HashMap<CString, (FileType, u32)>;

/// What the walker does with a source entry after the sync check.
pub(super) enum Step {
    /// Nothing to do (left alone, or the entry could not be looked at).
    Skip,
    /// The destination already is a copy of the source, whose status is
    /// this (only attributes, if any, were fixed here):
    /// `--remove-source-files` removes the source.
    Same(Box<Stat>),
    /// Send it to be created; the destination is free for it. With what
    /// `--itemize-changes` says of it (ACTION and DETAILS), if anything.
    Send(Option<(&'static str, String)>),
}

impl Walker {
    /// List the destination directory `dir` (in sync mode, when it existed
    /// before this run), removing temporaries a killed run left there (but
    /// a name the source directory `src` has is the user's, and stays).
    pub(super) fn list_dst(
        &mut self,
        dir: BorrowedFd<'_>,
        path: &Path,
        src: BorrowedFd<'_>,
    ) -> Option<Listing> {
        // Through `dir` itself, rewound (a listing moves its position; only
        // the walker lists a destination directory): a descriptor of its own
        // per directory cost an `openat` and a `close` on the one thread a
        // no-op re-sync runs on. An `O_PATH` descriptor (an operand's parent)
        // cannot be read or rewound: then through one of its own.
        let own = match rustix::fs::seek(dir, rustix::fs::SeekFrom::Start(0)) {
            Ok(_) => None,
            Err(_) => match rustix::fs::openat(
                dir,
                c".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => Some(fd),
                Err(e) => {
                    self.progress
                        .error(&CopyError::new(Op::OpenDir, path, e.into()));
                    return None;
                }
            },
        };
        let fd = own.as_ref().map_or(dir, |fd| fd.as_fd());
        let mut there = Listing::new();
        self.dst_names.clear();
        let mut buf = std::mem::take(&mut self.dst_buf);
        let mut list = RawDir::new(fd, &mut buf);
        while let Some(entry) = list.next() {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.progress
                        .error(&CopyError::new(Op::ReadDir, path, e.into()));
                    self.dst_buf = buf;
                    return None;
                }
            };
            let name = entry.file_name();
            let bytes = name.to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            if is_stale_temp(bytes)
                && rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW).err()
                    == Some(Errno::NOENT)
            {
                // Left by a run that was killed.
                if !self.sync.dry_run
                    && let Err(e) = rustix::fs::unlinkat(dir, name, AtFlags::empty())
                {
                    self.progress
                        .error(&CopyError::new(Op::Remove, join(path, name), e.into()));
                }
                continue;
            }
            let mut ft = entry.file_type();
            if ft == FileType::Unknown {
                ft = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map(|st| FileType::from_raw_mode(st.st_mode))
                    .unwrap_or(FileType::Unknown);
            }
            let slot = self.dst_names.push(name, ft);
            there.insert(name.to_owned(), (ft, slot));
        }
        self.dst_buf = buf;
        Some(there)
    }

    /// `--dry-run`: instead of making the directory of `item`, see whether it
    /// is there (a directory, not through a symlink) and open it to compare
    /// its entries; if not, everything inside is new.
    pub(super) fn look_at_dir(&self, item: &crate::tree::Item, node: &DstDir) {
        let state = match item.dst_dir.state() {
            Some(DstState::Ready { fd, .. }) => rustix::fs::openat(
                fd,
                item.dst_name(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map(|fd| DstState::Ready { fd, fresh: false })
            .unwrap_or(DstState::Failed),
            _ => DstState::Failed,
        };
        node.set(state);
    }

    /// Decide about a source entry `src_name` of type `ft` whose destination
    /// `dst_name` (of type `dft`, the same name but for operands) exists in
    /// `dst`. `known`: the source's and the destination's status where the
    /// walk already has them.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sync_entry(
        &mut self,
        src_dir: BorrowedFd<'_>,
        src_path: &Path,
        dst: &Arc<DstDir>,
        dir: BorrowedFd<'_>,
        src_name: &CStr,
        dst_name: &CStr,
        ft: FileType,
        dft: FileType,
        (src_stat, dst_stat): (Option<&Stat>, Option<&Stat>),
        (follow, rel): (bool, Option<&Path>),
    ) -> Step {
        let path = join(&dst.path, dst_name);
        if ft == FileType::Directory && dft == FileType::Directory {
            // Synced when the walk opens it (`Walker::dir`), its attributes
            // too, even under --ignore-existing (as rsync).
            return Step::Send(None);
        }
        if self.sync.ignore_existing {
            return Step::Skip;
        }
        if ft == FileType::Directory {
            return self.replace(dst, dir, (dst_name, rel), (ft, dft), &path);
        }
        if dft == FileType::Directory {
            return self.replace(dst, dir, (dst_name, rel), (ft, dft), &path);
        }
        let flags = if follow {
            AtFlags::empty()
        } else {
            AtFlags::SYMLINK_NOFOLLOW
        };
        let src_st = match src_stat {
            Some(st) => *st,
            None => match rustix::fs::statat(src_dir, src_name, flags) {
                Ok(st) => st,
                Err(e) => {
                    self.progress.error(
                        &CopyError::new(Op::Stat, join(src_path, src_name), e.into())
                            .found_in_walk(),
                    );
                    return Step::Skip;
                }
            },
        };
        let dst_st = match dst_stat.map_or_else(
            || rustix::fs::statat(dir, dst_name, AtFlags::SYMLINK_NOFOLLOW),
            |st| Ok(*st),
        ) {
            Ok(st) => st,
            Err(e) => {
                self.progress
                    .error(&CopyError::new(Op::Stat, &path, e.into()));
                return Step::Skip;
            }
        };
        if (src_st.st_dev, src_st.st_ino) == (dst_st.st_dev, dst_st.st_ino) {
            return Step::Skip; // the same file: nothing to copy
        }
        let kept = self.kept();
        // Set where --checksum found the contents equal.
        let mut same_bytes = false;
        let decision = match ft {
            FileType::RegularFile => match decide_file(&src_st, &dst_st, &self.sync, kept) {
                Decision::Compare { time } => {
                    match self.compare(src_dir, src_path, dir, (src_name, dst_name), &src_st) {
                        None => return Step::Skip, // the source could not be read: reported
                        Some(true) => {
                            same_bytes = true;
                            let mut fix = attrs(&src_st, &dst_st, kept);
                            fix.time = time && kept.times;
                            Decision::Keep(fix)
                        }
                        Some(false) => Decision::Update(crate::sync::Changes {
                            content: true,
                            time,
                            ..Default::default()
                        }),
                    }
                }
                d => d,
            },
            FileType::Symlink => {
                let same = FileType::from_raw_mode(dst_st.st_mode) == FileType::Symlink
                    && rustix::fs::readlinkat(src_dir, src_name, Vec::new()).ok()
                        == rustix::fs::readlinkat(dir, dst_name, Vec::new()).ok();
                if same {
                    // Permissions mean nothing on a symlink; owner and times do.
                    let time = mtimes_differ(&src_st, &dst_st, self.sync.modify_window);
                    Decision::Keep(crate::sync::Changes {
                        time: time && kept.times,
                        ..attrs(
                            &src_st,
                            &dst_st,
                            Kept {
                                perms: false,
                                ..kept
                            },
                        )
                    })
                } else {
                    Decision::Replace
                }
            }
            _ => {
                let same = FileType::from_raw_mode(dst_st.st_mode) == ft
                    && src_st.st_rdev == dst_st.st_rdev;
                if same {
                    Decision::Keep(attrs(&src_st, &dst_st, kept))
                } else {
                    Decision::Replace
                }
            }
        };
        // -u left a newer destination file: not even its xattrs are set.
        let newer = ft == FileType::RegularFile && newer_kept(&src_st, &dst_st, &self.sync);
        // Not a name -u keeps because it is newer: its data is not the
        // source's, so the other names are not linked to it; they are
        // synced on their own (rsync -H links a newer name to the group's
        // first instead, replacing what -u keeps: README, Sync mode).
        if src_st.st_nlink > 1
            && self.archive.preserve.links
            && !newer
            && matches!(decision, Decision::Keep(_))
        {
            // New names of this inode are linked to the copy already there;
            // and if another unchanged name of it is another inode here (two
            // files that became links of each other), this one is linked to
            // that one (as rsync -H).
            let st = crate::tree::SrcStat::from_stat(&src_st);
            let id = (dst_st.st_dev, dst_st.st_ino);
            if let Some(from) = self.links.existing(&st, dst, dst_name, id) {
                self.itemize("link", ft, "-", &path);
                // -b: the inode the link replaces is kept under this name
                // too (as rsync's): it may be the only name of its bytes.
                match self.back_up_existing(dir, &dst.path, dst_name) {
                    Err(e) => self.progress.error(&CopyError::new(Op::Backup, &path, e)),
                    Ok(()) if !self.sync.dry_run => self.relink(from, dir, dst_name, &path),
                    Ok(()) => {}
                }
            }
        }
        let decision = match decision {
            Decision::Keep(mut fix)
                if self.archive.preserve.xattr
                    && !newer
                    && xattrs_may_differ(&src_st, &dst_st, self.run_start) =>
            {
                let src = Src::At {
                    dir: src_dir,
                    name: src_name,
                    follow: false,
                };
                let dst = Dst::At {
                    dir,
                    name: dst_name,
                    symlink: ft == FileType::Symlink,
                };
                fix.xattrs = self.xattrs_differ(src, dst, &path);
                Decision::Keep(fix)
            }
            d => d,
        };
        match decision {
            Decision::Keep(fix) => {
                if fix.any() {
                    if !self.sync.dry_run {
                        self.fix_attrs(dir, dst_name, &src_st, fix, &path);
                    }
                    self.itemize("attrs", ft, &fix.describe(), &path);
                }
                // Kept because the data is the same (not because of -u). The
                // source may be removed on this basis (--remove-source-files):
                // unless --size-only or a window says otherwise, only the same
                // time to the nanosecond counts (the quick check's allowance
                // for a destination that keeps coarser times is not enough to
                // delete the source; it is then left, and the copy too).
                let o = &self.sync;
                let mtime = |st: &Stat| (st.st_mtime, st.st_mtime_nsec);
                let same = ft != FileType::RegularFile
                    || same_bytes
                    || (src_st.st_size == dst_st.st_size
                        && (o.size_only
                            || match o.modify_window {
                                0 => mtime(&src_st) == mtime(&dst_st),
                                w => !mtimes_differ(&src_st, &dst_st, w),
                            }));
                match same {
                    true => Step::Same(Box::new(src_st)),
                    false => Step::Skip,
                }
            }
            Decision::Update(changes) => Step::Send(Some(("update", changes.describe()))),
            // Resolved into Keep or Update above; copying is the safe answer.
            Decision::Compare { .. } => Step::Send(None),
            // A symlink or special file over another non-directory: the
            // engine replaces it (cp's rule for existing non-directories).
            Decision::Replace => Step::Send(Some(("replace", "-".into()))),
        }
    }

    /// `--remove-source-files`: the entry `name` of `src` (status `st`) is
    /// at the destination already; remove it from the source.
    pub(super) fn remove_source(
        &self,
        src: &crate::tree::SrcDir,
        name: &CStr,
        st: &Stat,
        follow: bool,
    ) {
        if !self.sync.remove_source
            || self.sync.dry_run
            || FileType::from_raw_mode(st.st_mode) == FileType::Directory
        {
            return;
        }
        let copied = crate::sync::remove::Copied::of(st);
        if let Err(e) = crate::sync::remove::remove_source(src.fd.as_fd(), name, &copied, follow) {
            self.progress
                .error(&CopyError::new(Op::Remove, join(&src.path, name), e));
        }
    }

    /// The attributes an unchanged entry must still match: what the run
    /// preserves (the owner only as root, who can set it). Asked once.
    pub(super) fn kept(&mut self) -> Kept {
        *self.kept.get_or_insert_with(|| Kept {
            times: self.archive.preserve.timestamps,
            perms: self.archive.preserve.mode,
            owner: self.archive.preserve.ownership && rustix::process::geteuid().is_root(),
        })
    }

    /// Do the xattrs of the source `src` and of `dst` differ? Unless
    /// `--dry-run`, the destination's are made the source's (set and
    /// removed) here. A failure is reported and counts as no change.
    pub(super) fn xattrs_differ(&self, src: Src<'_>, dst: Dst<'_>, path: &Path) -> bool {
        let read = match src {
            Src::Fd(fd) => xattr::read_fd(fd),
            Src::At { dir, name, follow } => xattr::read_at(dir, name, follow),
            Src::Read(attrs) => Ok(attrs.clone()),
        };
        let mirrored = read.and_then(|want| match (self.sync.dry_run, dst) {
            (false, _) => xattr::mirror(&want, dst),
            (true, Dst::Fd(fd)) => xattr::read_fd(fd).map(|have| !xattr::same(&want, &have)),
            (true, Dst::At { dir, name, .. }) => {
                xattr::read_at(dir, name, false).map(|have| !xattr::same(&want, &have))
            }
        });
        match mirrored {
            Ok(changed) => changed,
            Err(e) if xattr::unsupported(e) => false,
            Err(e) => {
                self.progress
                    .error(&CopyError::new(Op::SetXattrs, path, e.into()));
                false
            }
        }
    }

    /// Replace `name` in `dir` by a hard link to `from`, atomically (a link
    /// under a temporary name, renamed over it).
    fn relink(
        &self,
        from: crate::meta::links::Claim,
        dir: BorrowedFd<'_>,
        name: &CStr,
        path: &Path,
    ) {
        use crate::meta::links::Claim;
        let result = match &from {
            Claim::Link(d, n) => match d.state() {
                Some(DstState::Ready { fd, .. }) => {
                    crate::sync::link_over(fd.as_fd(), n.as_c_str(), dir, name)
                }
                _ => Err(rustix::io::Errno::BADF),
            },
            Claim::LinkPath(p) => crate::sync::link_over(rustix::fs::CWD, p.as_path(), dir, name),
            _ => return,
        };
        if let Err(e) = result {
            self.progress
                .error(&CopyError::new(Op::Link, path, e.into()));
        }
    }

    /// `--checksum`: compare the contents of the source `name` (status `st`)
    /// and its destination. `None`: the source could not be read (reported);
    /// a destination that cannot be read counts as different.
    fn compare(
        &self,
        src_dir: BorrowedFd<'_>,
        src_path: &Path,
        dir: BorrowedFd<'_>,
        (name, dst_name): (&CStr, &CStr),
        st: &Stat,
    ) -> Option<bool> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK;
        let src = match rustix::fs::openat(src_dir, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) => {
                let err = CopyError::new(Op::OpenRead, join(src_path, name), e.into());
                self.progress.error(&err.found_in_walk());
                return None;
            }
        };
        let Ok(dst) = rustix::fs::openat(dir, dst_name, flags, Mode::empty()) else {
            return Some(false);
        };
        match crate::sync::same_content(AsFd::as_fd(&src), AsFd::as_fd(&dst), st.st_size as u64) {
            Ok(same) => Some(same),
            Err((false, _)) => Some(false),
            Err((true, e)) => {
                let err = CopyError::new(Op::Read, join(src_path, name), e);
                self.progress.error(&err.found_in_walk());
                None
            }
        }
    }

    /// Remove a destination entry of another type than its source (one of
    /// them a directory), so the source can be created there.
    fn replace(
        &mut self,
        dst: &DstDir,
        dir: BorrowedFd<'_>,
        (name, rel): (&CStr, Option<&Path>),
        (ft, dft): (FileType, FileType),
        path: &Path,
    ) -> Step {
        // --max-delete: what is in a directory counts, not the directory;
        // what the filter protects stays (both said where they keep it).
        let rel = rel.unwrap_or(Path::new(""));
        match self.allowance(dir, (name, rel), dft, path, Some(ft)) {
            None | Some(Allowance::Nothing) => return Step::Skip,
            Some(_) => {}
        }
        match self.take_away(dir, &dst.path, name, dft) {
            Ok(()) => Step::Send(Some(("replace", format!("was-{}", type_word(dft))))),
            Err(e) => {
                self.progress
                    .error(&CopyError::new(self.take_away_op(), path, e));
                Step::Skip
            }
        }
    }

    fn fix_attrs(
        &self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        src: &Stat,
        fix: crate::sync::Changes,
        path: &Path,
    ) {
        // Owner first: a chown clears set-ID bits, the mode puts them back.
        if fix.owner
            && let Err(e) = rustix::fs::chownat(
                dir,
                name,
                Some(rustix::fs::Uid::from_raw(src.st_uid)),
                Some(rustix::fs::Gid::from_raw(src.st_gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
        {
            self.progress
                .error(&CopyError::new(Op::SetPerms, path, e.into()));
        }
        if fix.time {
            let ts = |s: i64, ns: i64| rustix::fs::Timespec {
                tv_sec: s,
                tv_nsec: ns as _,
            };
            #[allow(clippy::unnecessary_cast)] // the field types differ between architectures
            let times = rustix::fs::Timestamps {
                last_access: ts(src.st_atime as i64, src.st_atime_nsec as i64),
                last_modification: ts(src.st_mtime as i64, src.st_mtime_nsec as i64),
            };
            if let Err(e) = rustix::fs::utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW) {
                self.progress
                    .error(&CopyError::new(Op::PreserveTimes, path, e.into()));
            }
        }
        // A chown clears set-ID bits: put them back even if the mode was equal.
        let set_id = fix.owner && src.st_mode & 0o6000 != 0 && self.archive.preserve.mode;
        if (fix.perms || set_id)
            && let Err(e) = rustix::fs::chmodat(
                dir,
                name,
                Mode::from_raw_mode(src.st_mode & 0o7777),
                AtFlags::empty(),
            )
        {
            self.progress
                .error(&CopyError::new(Op::SetPerms, path, e.into()));
        }
    }

    /// `--itemize-changes`: `ACTION TYPE DETAILS PATH`.
    pub(super) fn itemize(&self, action: &str, ft: FileType, details: &str, path: &Path) {
        if self.sync.itemize {
            self.progress
                .itemize(&itemize_line(action, ft, details, path));
        }
    }
}
