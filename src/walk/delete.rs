//! Sync mode's `--delete`: what the source no longer has goes from the
//! destination (or, with `-b`/`--backup-dir`, is moved aside), at one of
//! rsync's three moments:
//!
//! - during (the default): per directory, once its entries are sent
//!   ([`Walker::delete_extra`] from the listing);
//! - before: a pass of its own over the trees that only deletes, before the
//!   walk sends anything ([`Walker::delete_before`]): frees the space first;
//! - after: the walk finds them as during, and [`Deletions::apply`] deletes
//!   them once every copy is in place and every directory finished, so
//!   nothing is gone before its replacement is there (rsync's
//!   `--delete-delay`; its `--delete-after` scans again at the end, which
//!   finds the same entries unless the source changes meanwhile). The
//!   directories' modification times, which a deletion moves, are put back.
//!   After a failure (or an interruption) nothing is deleted: an entry to
//!   delete may be the only copy of a file whose new name was not copied.
//!
//! Entries excluded by the filter are protected unless `--delete-excluded`;
//! `--max-delete` counts every entry deleted, as rsync (see [`super::limit`]);
//! nothing is deleted in a directory whose source could not be listed. A
//! directory's entries are deleted in the reverse of rsync's order, as
//! rsync does (which entries `--max-delete` leaves depends on it).

use super::limit::{Allowance, TakeAway, rsync_order};
use super::sync::Listing;
use super::{Closed, Walker};
use crate::config::{Backup, DeleteWhen, Deref};
use crate::error::{CopyError, Op};
use crate::filter::Filter;
use crate::plan::Root;
use crate::progress::Progress;
use crate::sync::type_word;
use crate::tree::{DstState, join};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An entry to delete after the copy: its directory's path and identity
/// (device, inode) when the walk listed it, its name, its path inside the
/// operand and its type, and how much of it may go (see [`super::limit`]).
type Found = (PathBuf, (u64, u64), CString, PathBuf, FileType, Allowance);

/// `--delete-after`: the entries the walk found, each with the path of its
/// destination directory, deleted by [`Deletions::apply`] once the copy is
/// done. Empty (and `apply` does nothing) otherwise.
#[derive(Default)]
pub struct Deletions {
    found: Vec<Found>,
    backup: Option<Backup>,
    dry_run: bool,
    itemize: bool,
    keep_times: bool,
    /// The filter whose exclusions stay (none under `--delete-excluded`).
    protect: Option<Arc<Filter>>,
    /// Deletions the walk decided, done or noted here, counting those of
    /// the batches before it: where `--max-delete` stands.
    decided: u64,
}

impl Deletions {
    /// Add what the walk of a later batch of operands found (see
    /// [`crate::plan::Plan`]): deleted together, after the last batch.
    pub fn append(&mut self, later: Deletions) {
        match self.found.is_empty() {
            true => *self = later,
            false => {
                self.found.extend(later.found);
                self.decided = later.decided;
            }
        }
    }

    /// Deletions decided so far (the next batch's walk goes on from there:
    /// [`super::Options::deleted_before`]).
    pub fn decided(&self) -> u64 {
        self.decided
    }

    /// Delete what was found, directory by directory; each directory gets
    /// back the modification time it had (archive mode set it already).
    pub fn apply(self, progress: &dyn Progress) {
        let mut i = 0;
        while i < self.found.len() {
            let dir_path = &self.found[i].0;
            let n = self.found[i..]
                .iter()
                .take_while(|(d, ..)| d == dir_path)
                .count();
            self.apply_in(dir_path, &self.found[i..i + n], progress);
            i += n;
        }
    }

    /// The copy did not go through: nothing is deleted, and that is said.
    pub fn skip(self, progress: &dyn Progress) {
        if !self.found.is_empty() {
            progress.warning(&format!(
                "--delete-after: {} deletions skipped, as not everything was copied",
                self.found.len()
            ));
        }
    }

    fn apply_in(&self, dir_path: &Path, found: &[Found], progress: &dyn Progress) {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let dir = match rustix::fs::open(dir_path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) => {
                return progress.error(&CopyError::new(Op::OpenDir, dir_path, e.into()));
            }
        };
        let before = rustix::fs::fstat(&dir).ok();
        // Still the directory the walk listed (not something put in its
        // place since, which the names would then be deleted from).
        let listed = found.first().map(|f| f.1);
        if before.as_ref().map(|st| (st.st_dev, st.st_ino)) != listed {
            let why =
                std::io::Error::other("it was replaced after it was listed; nothing deleted in it");
            return progress.error(&CopyError::new(Op::Remove, dir_path, why));
        }
        let taker = TakeAway {
            backup: self.backup.as_ref(),
            dry_run: self.dry_run,
            itemize: self.itemize,
            progress,
            protect: self.protect.as_deref(),
        };
        let mut changed = false;
        for (_, _, name, rel, ft, allowance) in found {
            if crate::interrupt::requested() {
                break;
            }
            // (A part taken away changes the directory even when it stays.)
            taker.allowed(dir.as_fd(), dir_path, (name, rel), *ft, *allowance);
            changed = true;
        }
        if let (true, false, true, Some(st)) = (changed, self.dry_run, self.keep_times, before) {
            put_times_back(&dir, &st, dir_path, progress);
        }
    }
}

/// Set the directory `dir`'s times to those of `st`, its status before.
#[allow(clippy::unnecessary_cast)] // the field types differ between architectures
fn put_times_back(dir: &OwnedFd, st: &rustix::fs::Stat, path: &Path, progress: &dyn Progress) {
    let ts = |s: i64, ns: i64| rustix::fs::Timespec {
        tv_sec: s,
        tv_nsec: ns as _,
    };
    let times = rustix::fs::Timestamps {
        last_access: ts(st.st_atime as i64, st.st_atime_nsec as i64),
        last_modification: ts(st.st_mtime as i64, st.st_mtime_nsec as i64),
    };
    if let Err(e) = rustix::fs::futimens(dir, &times) {
        progress.error(&CopyError::new(Op::PreserveTimes, path, e.into()));
    }
}

/// Remove the entry `name` (of type `ft`) of the destination directory
/// `dir` (at `dir_path`), or with `-b` move it to its backup name (see
/// [`crate::engine::backup::move_aside`]), unless it has a backup's name
/// and there is no `--backup-dir`: that is removed, as rsync does (backing
/// `f~` up as `f~~` under `--delete-excluded`, which does not protect
/// backups, made one more backup on every run). `--dry-run`: nothing.
pub(super) fn take_away(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &CStr,
    ft: FileType,
    backup: Option<&Backup>,
    dry_run: bool,
    progress: &dyn Progress,
) -> std::io::Result<()> {
    let backup =
        backup.filter(|b| b.dir.is_some() || !crate::engine::backup::is_backup_name(name, b));
    if dry_run {
        if let Some(b) = backup {
            let to = crate::engine::backup::planned(dir, dir_path, name, b);
            progress.backed_up(&join(dir_path, name), &to, type_word(ft));
        }
        return Ok(());
    }
    let Some(b) = backup else {
        return remove(dir, name, ft == FileType::Directory);
    };
    if let Some(to) = crate::engine::backup::move_aside(dir, dir_path, name, b)? {
        progress.backed_up(&join(dir_path, name), &to, type_word(ft));
    }
    Ok(())
}

/// What [`take_away`] does, for its failures' messages.
pub(super) fn op(backup: Option<&Backup>) -> Op {
    match backup {
        Some(_) => Op::Backup,
        None => Op::Remove,
    }
}

impl Walker {
    /// `--delete`: what is left of a destination listing (entries the source
    /// does not have), except what the filter protects, is deleted now, or
    /// under `--delete-after` noted for [`Deletions::apply`].
    pub(super) fn delete_extra(
        &mut self,
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        dir_rel: &Path,
        extra: Listing,
    ) -> Result<(), Closed> {
        let mut extra: Vec<(CString, FileType)> = extra
            .into_iter()
            .map(|(name, (ft, _))| (name, ft))
            .collect();
        // rsync's order, from the last (see `limit`).
        let is_dir = |ft: &FileType| *ft == FileType::Directory;
        extra.sort_by(|a, b| rsync_order((&b.0, is_dir(&b.1)), (&a.0, is_dir(&a.1))));
        // --delete-after: the directory's identity, checked before deleting.
        let mut dir_id = None;
        for (name, ft) in extra {
            if crate::interrupt::requested() {
                return Err(Closed);
            }
            let rel = dir_rel.join(OsStr::from_bytes(name.to_bytes()));
            if !self.filter.is_empty()
                && !self.sync.delete_excluded
                && self.filter.excluded(&rel, ft == FileType::Directory)
            {
                continue; // excluded entries are protected, as in rsync
            }
            if self.protected_backup(dir, &name, ft) {
                continue;
            }
            let path = join(dir_path, &name);
            let allowance = match self.allowance(dir, (&name, &rel), ft, &path, None) {
                None | Some(Allowance::Nothing) => continue,
                Some(a) => a,
            };
            if self.sync.delete_when == DeleteWhen::After {
                // (Asked once per directory.)
                let id = *dir_id.get_or_insert_with(|| {
                    rustix::fs::fstat(dir).map_or((0, 0), |st| (st.st_dev, st.st_ino))
                });
                self.after
                    .found
                    .push((dir_path.to_path_buf(), id, name, rel, ft, allowance));
                continue;
            }
            self.taker()
                .allowed(dir, dir_path, (&name, &rel), ft, allowance);
        }
        Ok(())
    }

    /// A type change: the destination entry `name` of `dir` goes (see
    /// [`take_away`]) so the source's can be made.
    pub(super) fn take_away(
        &self,
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        name: &CStr,
        ft: FileType,
    ) -> std::io::Result<()> {
        let (backup, dry_run) = (self.backup.as_ref(), self.sync.dry_run);
        take_away(dir, dir_path, name, ft, backup, dry_run, &*self.progress)
    }

    /// `--dry-run` with `-b`: the backup line of an existing non-directory
    /// `name` in `dir` that the engine would replace (after `action`'s line:
    /// `update`, or `replace` with DETAILS `-`; a type change is backed up
    /// by [`Self::take_away`]).
    pub(super) fn dry_run_backup(
        &self,
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        name: &CStr,
        (action, details): (&str, &str),
    ) {
        if self.sync.dry_run && (action == "update" || (action == "replace" && details == "-")) {
            // (Under --dry-run nothing is made, so nothing fails.)
            let _ = self.back_up_existing(dir, dir_path, name);
        }
    }

    /// `-b`: keep the existing entry `name` of `dir` (at `dir_path`) as a
    /// backup before the walker puts something in its place (a twin's
    /// link); under `--dry-run` only its line is said.
    pub(super) fn back_up_existing(
        &self,
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        name: &CStr,
    ) -> std::io::Result<()> {
        let Some(b) = &self.backup else {
            return Ok(());
        };
        let here = join(dir_path, name);
        if self.sync.dry_run {
            if let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                let to = crate::engine::backup::planned(dir, dir_path, name, b);
                let what = type_word(FileType::from_raw_mode(st.st_mode));
                self.progress.backed_up(&here, &to, what);
            }
            return Ok(());
        }
        if let Some(kept) = crate::engine::backup::make(dir, dir_path, name, b)? {
            self.progress
                .backed_up(&here, &kept.path, type_word(kept.ft));
        }
        Ok(())
    }

    /// What [`Self::take_away`] does, for its failures' messages.
    pub(super) fn take_away_op(&self) -> Op {
        op(self.backup.as_ref())
    }

    /// The `--delete-after` list, to be applied once the copy is done.
    pub(super) fn deletions(&mut self) -> Deletions {
        Deletions {
            found: std::mem::take(&mut self.after.found),
            backup: self.backup.clone(),
            dry_run: self.sync.dry_run,
            itemize: self.sync.itemize,
            keep_times: self.archive.preserve.timestamps,
            protect: (!self.filter.is_empty() && !self.sync.delete_excluded)
                .then(|| self.filter.clone()),
            decided: self.deleted,
        }
    }

    /// `--delete-before`: before anything is sent, go over every operand
    /// whose destination directory exists and delete what its source lacks.
    pub(super) fn delete_before(&mut self, roots: &[Root]) -> Result<(), Closed> {
        for root in roots {
            if FileType::from_raw_mode(root.stat.st_mode) != FileType::Directory {
                continue;
            }
            let Some(DstState::Ready { fd, .. }) = root.dst_dir.state() else {
                continue;
            };
            let nofollow = if root.follow {
                OFlags::empty()
            } else {
                OFlags::NOFOLLOW
            };
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let (Ok(src), Ok(dst)) = (
                rustix::fs::openat(
                    &root.src_dir.fd,
                    &root.name,
                    flags | nofollow,
                    Mode::empty(),
                ),
                rustix::fs::openat(fd, &root.dst_name, flags | OFlags::NOFOLLOW, Mode::empty()),
            ) else {
                continue; // the walk reports it, or there is nothing to delete
            };
            self.operand_dev = root.stat.st_dev;
            let dst_path = join(&root.dst_dir.path, &root.dst_name);
            let src_path = join(&root.src_dir.path, &root.name);
            self.prune(
                src.as_fd(),
                &src_path,
                dst.as_fd(),
                &dst_path,
                Path::new(""),
            )?;
        }
        Ok(())
    }

    /// One directory of [`Self::delete_before`]'s pass, then its
    /// subdirectories that both sides have.
    fn prune(
        &mut self,
        src: BorrowedFd<'_>,
        src_path: &Path,
        dst: BorrowedFd<'_>,
        dst_path: &Path,
        rel: &Path,
    ) -> Result<(), Closed> {
        let Some(mut there) = self.list_dst(dst, dst_path, src) else {
            return Ok(()); // reported
        };
        let mut both = Vec::new();
        let entries = rustix::fs::Dir::read_from(src).map(|d| d.collect::<Result<Vec<_>, _>>());
        let entries = match entries {
            Ok(Ok(e)) => e,
            Ok(Err(e)) | Err(e) => {
                let err = CopyError::new(Op::ReadDir, src_path, e.into());
                self.progress.error(&err.found_in_walk());
                return Ok(()); // nothing deleted where the source is not known
            }
        };
        for entry in entries {
            let name = entry.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            let mut ft = entry.file_type();
            let mut follow = false;
            if ft == FileType::Unknown || (ft == FileType::Symlink && self.deref == Deref::Always) {
                follow = ft == FileType::Symlink;
                let flags = if follow {
                    AtFlags::empty()
                } else {
                    AtFlags::SYMLINK_NOFOLLOW
                };
                if let Ok(st) = rustix::fs::statat(src, name, flags) {
                    ft = FileType::from_raw_mode(st.st_mode);
                }
            }
            let existing = there.remove(name);
            let child_rel = rel.join(OsStr::from_bytes(name.to_bytes()));
            if !self.filter.is_empty()
                && self.filter.excluded(&child_rel, ft == FileType::Directory)
            {
                if let (Some(dft), true) = (existing, self.sync.delete_excluded) {
                    there.insert(name.to_owned(), dft);
                }
                continue;
            }
            if ft == FileType::Directory && existing.map(|e| e.0) == Some(FileType::Directory) {
                both.push((name.to_owned(), follow, child_rel));
            }
        }
        self.delete_extra(dst, dst_path, rel, there)?;
        // By name, as rsync's pass (see `limit`).
        both.sort_by(|a, b| rsync_order((&a.0, true), (&b.0, true)));
        for (name, follow, child_rel) in both {
            if crate::interrupt::requested() {
                return Err(Closed);
            }
            let nofollow = if follow {
                OFlags::empty()
            } else {
                OFlags::NOFOLLOW
            };
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let (Ok(s), Ok(d)) = (
                rustix::fs::openat(src, &name, flags | nofollow, Mode::empty()),
                rustix::fs::openat(dst, &name, flags | OFlags::NOFOLLOW, Mode::empty()),
            ) else {
                continue; // the walk reports it
            };
            if self.one_file_system
                && rustix::fs::fstat(&s).is_ok_and(|st| st.st_dev != self.operand_dev)
            {
                continue; // -x: made empty by the walk, not entered
            }
            let (sp, dp) = (join(src_path, &name), join(dst_path, &name));
            self.prune(s.as_fd(), &sp, d.as_fd(), &dp, &child_rel)?;
        }
        Ok(())
    }

    /// Is the extra destination entry `name` in `dir` one `--delete` must
    /// leave with `-b`: a backup beside its original (rsync protects the
    /// suffix from deletion unless `--delete-excluded`), or the backup
    /// directory itself where it is inside DEST (rsync would delete it,
    /// backing it up into itself)?
    fn protected_backup(&self, dir: BorrowedFd<'_>, name: &CStr, ft: FileType) -> bool {
        let Some(b) = &self.backup else {
            return false;
        };
        match &b.dir {
            None => !self.sync.delete_excluded && crate::engine::backup::is_backup_name(name, b),
            Some(d) => {
                ft == FileType::Directory
                    && match (
                        rustix::fs::stat(d.root()),
                        rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW),
                    ) {
                        (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
                        _ => false,
                    }
            }
        }
    }
}

/// Remove `name` in `dir`: a file, or a whole directory tree.
fn remove(dir: BorrowedFd<'_>, name: &CStr, is_dir: bool) -> std::io::Result<()> {
    if !is_dir {
        return rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(Into::into);
    }
    remove_tree(dir, name)
}

/// Remove the directory `name` in `dir` and everything in it, never following
/// a symlink (each level is opened `O_NOFOLLOW` relative to its parent).
/// Not std's remove_dir_all: its directory streams panic when closedir fails.
fn remove_tree(dir: BorrowedFd<'_>, name: &CStr) -> std::io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Err(Errno::NOTEMPTY | Errno::EXIST) => {}
        other => return other.map_err(Into::into),
    }
    let fd = super::limit::open_dir(dir, name)?;
    super::limit::each_entry(&fd, |child, ft| match ft {
        FileType::Directory => remove_tree(fd.as_fd(), child),
        _ => rustix::fs::unlinkat(&fd, child, AtFlags::empty()).map_err(Into::into),
    })?;
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(Into::into)
}
