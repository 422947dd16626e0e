//! Listing: reading one source directory with `getdents64`, classifying
//! each entry (by `d_type`, a stat only where it must), filtering, and
//! turning entries into items or directories to visit.

use super::*;

/// Names held back for linking in sync mode, at most (past this, or
/// [`DEFER_DIRS_MAX`], names are copied in walk order, and a name of the
/// same file met unchanged later stays a file of its own until the next
/// run links it). Each is an `Item` in memory until then.
pub(super) const DEFER_MAX: usize = 1 << 18;

/// Directories the names held back are in, at most: each keeps its source
/// and destination directories open (names of one directory share them).
pub(super) const DEFER_DIRS_MAX: usize = 256;

pub(super) fn special(st: &Stat) -> Kind {
    Kind::Special {
        mode: st.st_mode,
        rdev: st.st_rdev,
    }
}

impl Walker {
    /// Is the last name held back one listed into `dst` (so its directories
    /// are held open already)?
    fn last_deferred_in(&self, dst: &Arc<DstDir>) -> bool {
        self.deferred
            .last()
            .is_some_and(|last| Arc::ptr_eq(&last.dst_dir, dst))
    }

    /// Is there room to hold back one more name listed into `dst`?
    fn may_defer(&self, dst: &Arc<DstDir>) -> bool {
        self.deferred.len() < DEFER_MAX
            && (self.deferred_dirs < DEFER_DIRS_MAX || self.last_deferred_in(dst))
    }

    /// Hold `item` back until the end of the walk (see `entries`).
    fn defer(&mut self, item: Item) {
        self.deferred_dirs += usize::from(!self.last_deferred_in(&item.dst_dir));
        self.deferred.push(item);
    }

    /// The names held back, to send now.
    pub(super) fn take_deferred(&mut self) -> Vec<Item> {
        self.deferred_dirs = 0;
        std::mem::take(&mut self.deferred)
    }

    pub(super) fn entries(
        &mut self,
        src: &Arc<SrcDir>,
        dst: &Arc<DstDir>,
        buf: &mut [MaybeUninit<u8>],
        dir_rel: &Path,
    ) -> Result<(), Closed> {
        // Sync mode in a directory that existed before: what is there now.
        let dst_fd = match dst.state() {
            Some(DstState::Ready { fd, fresh: false }) if self.sync.enabled => Some(fd.as_fd()),
            _ => None,
        };
        let there = dst_fd.and_then(|fd| self.list_dst(fd, &dst.path, src.fd.as_fd()));
        // (An empty one, as a first copy into a directory made for it, has
        // nothing unchanged.)
        if there.as_ref().is_some_and(|names| !names.is_empty()) {
            self.links.destination_existed();
        }
        // A big directory's stats are shared with the stat-ahead thread.
        let ahead = match &there {
            Some(_) => self.stat_ahead.share(src, dst, &self.dst_names),
            None => None,
        };
        let result = self.list_entries(src, dst, buf, dir_rel, dst_fd, there, ahead.as_deref());
        if let Some(job) = &ahead {
            job.close();
        }
        result
    }

    /// The loop of [`Walker::entries`]: `there`, the destination's listing
    /// in sync mode; `ahead`, where its stats are shared.
    #[allow(clippy::too_many_arguments)]
    fn list_entries(
        &mut self,
        src: &Arc<SrcDir>,
        dst: &Arc<DstDir>,
        buf: &mut [MaybeUninit<u8>],
        dir_rel: &Path,
        dst_fd: Option<BorrowedFd<'_>>,
        mut there: Option<sync::Listing>,
        ahead: Option<&statahead::Job>,
    ) -> Result<(), Closed> {
        if let Some(b) = &mut self.bases {
            for warning in b.enter(dir_rel) {
                self.progress.warning(&warning);
            }
        }
        let mut listed = true;
        // Subdirectories found here are pushed from this index on.
        let first_subdir = self.stack.len();
        let mut dir = RawDir::new(src.fd.as_fd(), buf);
        while let Some(entry) = dir.next() {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.progress
                        .error(&CopyError::new(Op::ReadDir, &src.path, e.into()).found_in_walk());
                    listed = false;
                    break;
                }
            };
            let name = entry.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            // Whatever happens to it below, the source has it: never delete it.
            let listed = there.as_mut().and_then(|m| m.remove(name));
            let existing = listed.map(|(ft, _)| ft);
            let name = name.to_owned();
            let mut ft = entry.file_type();
            let mut follow = false;
            let mut stat = None;
            if ft == FileType::Unknown
                || ft == FileType::Fifo
                || ft == FileType::CharacterDevice
                || ft == FileType::BlockDevice
                || ft == FileType::Socket
                || (ft == FileType::Symlink && self.deref == Deref::Always)
            {
                follow = ft == FileType::Symlink;
                let flags = if follow {
                    AtFlags::empty()
                } else {
                    AtFlags::SYMLINK_NOFOLLOW
                };
                match rustix::fs::statat(&src.fd, name.as_c_str(), flags) {
                    Ok(st) => {
                        ft = FileType::from_raw_mode(st.st_mode);
                        stat = Some(st);
                    }
                    Err(e) => {
                        let err = CopyError::new(Op::Stat, join(&src.path, &name), e.into());
                        // Following a symlink, ENOENT means it dangles: a
                        // failure, as in cp, not a vanished file.
                        let err = if follow { err } else { err.found_in_walk() };
                        self.progress.error(&err);
                        continue;
                    }
                }
            }
            // Its path inside the operand, where a filter or the
            // `--link-dest` family looks at it.
            let mut rel = None;
            if !self.filter.is_empty() || self.bases.is_some() {
                let path = dir_rel.join(OsStr::from_bytes(name.to_bytes()));
                let excluded = self.filter.excluded(&path, ft == FileType::Directory);
                rel = Some(path);
                if excluded {
                    // --delete-excluded: not protected, and deleted below.
                    if let (Some(m), Some(dft), true) =
                        (there.as_mut(), listed, self.sync.delete_excluded)
                    {
                        m.insert(name, dft);
                    }
                    continue;
                }
            }
            if self.is_backup_dir(&dst.path, &name) {
                let why = std::io::Error::other(format!(
                    "--backup-dir keeps backups at {}",
                    crate::error::quote(&join(&dst.path, &name))
                ));
                let err = CopyError::new(Op::NotCopied, join(&src.path, &name), why);
                self.progress.error(&err);
                continue;
            }
            // The stats the stat-ahead made of both sides, if it came to this
            // name first (never through a symlink: not for one followed).
            let mut dst_stat = None;
            if let (Some(job), Some((_, slot))) = (ahead, listed)
                && let Some(pair) = job.take(slot)
            {
                if stat.is_none() && !follow {
                    stat = pair.src.ok();
                }
                dst_stat = pair.dst.ok();
            }
            // Sync mode, into a destination that was there: a name of a
            // multiply-linked source that is to be copied waits for the end
            // of the walk, when every unchanged name of its inode has been
            // met, so that it is linked to one of them (as rsync -H) rather
            // than copied, whatever the order of the walk. In a directory
            // new at the destination too (a file that became a directory):
            // the unchanged name may be anywhere. With basis directories
            // too: another name may have a twin to link them all to (as
            // rsync -H, whichever name has it; `basis.rs`). Not in a first
            // copy, where nothing is unchanged (it would cost a stat per
            // entry).
            let mut defer = false;
            if self.sync.enabled
                && (dst_fd.is_some()
                    || self.links.unchanged_names_possible()
                    || self.bases.is_some())
                && ft != FileType::Directory
                && self.archive.preserve.links
                && self.may_defer(dst)
            {
                if stat.is_none() {
                    let flags = if follow {
                        AtFlags::empty()
                    } else {
                        AtFlags::SYMLINK_NOFOLLOW
                    };
                    stat = rustix::fs::statat(&src.fd, name.as_c_str(), flags).ok();
                }
                defer = stat.as_ref().is_some_and(|st| st.st_nlink > 1);
            }
            // Sync mode: whether it is sent at all, and with --link-dest and
            // the like, whether a twin replaces the copy or its source.
            let mut src_dir = src.clone();
            let mut twin_link = false;
            if self.sync.enabled {
                let entry = decide::Entry {
                    src,
                    dst,
                    listed: dst_fd,
                    name: &name,
                    dst_name: &name,
                    ft,
                    stat: stat.as_ref(),
                    dst_stat: dst_stat.as_ref(),
                    follow,
                    existing,
                    rel: rel.as_deref(),
                };
                match self.decide(entry) {
                    decide::Decided::Nothing => {
                        self.count_entry();
                        continue;
                    }
                    decide::Decided::Send { from, twin } => {
                        src_dir = from;
                        twin_link = twin;
                    }
                }
            }
            let kind = match ft {
                FileType::Directory => {
                    let made = match self.make_ahead(src, dst, &name, stat.as_ref(), follow) {
                        true => DirMade::Ahead,
                        // (Not one replaced above: that was not a directory.)
                        false if existing == Some(FileType::Directory) => DirMade::There,
                        false => DirMade::No,
                    };
                    self.stack.push(PendingDir {
                        parent_src: src.clone(),
                        name,
                        parent_dst: dst.clone(),
                        operand: None,
                        follow,
                        rel: rel.map(Box::new),
                        made,
                    });
                    self.give_found_early(first_subdir, made == DirMade::Ahead);
                    self.count_entry();
                    continue;
                }
                FileType::RegularFile => Kind::File {
                    follow,
                    as_data: false,
                    twin: twin_link,
                },
                FileType::Symlink => {
                    if stat.is_none() && self.archive.stat_symlinks() {
                        match rustix::fs::statat(
                            &src.fd,
                            name.as_c_str(),
                            AtFlags::SYMLINK_NOFOLLOW,
                        ) {
                            Ok(st) => stat = Some(st),
                            Err(e) => {
                                self.progress.error(&CopyError::new(
                                    Op::Stat,
                                    join(&src.path, &name),
                                    e.into(),
                                ));
                                continue;
                            }
                        }
                    }
                    if let Some(st) = &mut stat
                        && st.st_nlink > 1
                    {
                        *st = self.first_seen(st);
                    }
                    match rustix::fs::readlinkat(&src.fd, name.as_c_str(), Vec::new()) {
                        Ok(target) => Kind::Symlink { target },
                        Err(e) => {
                            self.progress.error(
                                &CopyError::new(Op::ReadLink, join(&src.path, &name), e.into())
                                    .found_in_walk(),
                            );
                            continue;
                        }
                    }
                }
                _ => match &stat {
                    Some(st) if self.copies_contents(st) => Kind::File {
                        follow: false,
                        as_data: true,
                        twin: false,
                    },
                    Some(st) => special(st),
                    None => continue,
                },
            };
            let stat = match kind {
                Kind::File { .. } => None,
                _ => stat.as_ref().map(|st| Box::new(SrcStat::from_stat(st))),
            };
            let item = Item {
                src_dir,
                name,
                dst_dir: dst.clone(),
                dst_name: None,
                display: None,
                kind,
                stat,
            };
            if defer {
                self.defer(item);
            } else {
                self.send(item)?;
            }
            self.count_entry();
        }
        if let (Some(dfd), Some(extra)) = (dst_fd, there)
            && self.sync.delete
            && self.sync.delete_when != crate::config::DeleteWhen::Before
            && listed
        {
            self.delete_extra(dfd, &dst.path, dir_rel, extra)?;
        }
        Ok(())
    }

    /// A symlink with several names (hard links to one symlink inode): the
    /// status its first name had. Reading a symlink's target can move its
    /// atime, so a later name, stat'ed after the first was read, would
    /// carry that new atime into the copy if its item were the one copied.
    #[allow(clippy::unnecessary_cast)] // the field types differ between architectures
    pub(super) fn first_seen(&self, st: &Stat) -> Stat {
        use std::collections::hash_map::Entry;
        let mut seen = self
            .linked_symlinks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match seen.entry((st.st_dev, st.st_ino)) {
            Entry::Vacant(v) => {
                v.insert((*st, (st.st_nlink as u64).saturating_sub(1)));
                *st
            }
            Entry::Occupied(mut o) => {
                let (first, left) = *o.get();
                o.get_mut().1 = left.saturating_sub(1);
                if left <= 1 {
                    o.remove(); // every name seen
                }
                first
            }
        }
    }

    /// Move to the next shard after every `ROTATE` entries of one directory.
    pub(super) fn count_entry(&mut self) {
        self.in_dir += 1;
        if self.in_dir.is_multiple_of(ROTATE) {
            self.shard = (self.shard + 1) % self.tx.len().max(1);
        }
    }

    /// --copy-contents: a device or FIFO is read as data, as without -r
    /// (sockets are still recreated: they cannot be read).
    pub(super) fn copies_contents(&self, st: &Stat) -> bool {
        self.copy_contents
            && matches!(
                FileType::from_raw_mode(st.st_mode),
                FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo
            )
    }
}
