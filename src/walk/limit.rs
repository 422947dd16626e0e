//! How much of an entry the source lacks `--delete` takes: all of it at
//! once, or entry by entry where something in it must stay.
//!
//! What stays: entries the filter excludes (unless `--delete-excluded`),
//! at any depth, as rsync; a directory that holds one stays too. And what
//! `--max-delete=N` keeps: at most N entries leave the destination, each
//! file and each directory counted, as rsync counts them (its
//! `deleted_files`).
//!
//! A directory the source no longer has is one take-away when it is removed
//! whole, but N entries when it holds N - 1, so under `--max-delete` or a
//! filter its tree is counted first ([`census`]). One that fits what is left
//! of the budget and holds nothing protected goes whole, as without either;
//! one that does not is taken apart as
//! rsync does it ([`TakeAway`]): deepest first and, in each directory, in the
//! reverse of rsync's order (subdirectories before other entries, each by
//! name from the last), until the budget is spent, so the same entries stay
//! as with `rsync --delete --max-delete=N` (for which the walk and
//! `--delete-before`'s pass also go through directories by name, as
//! rsync's do). What stays is counted as skipped
//! (rsync's count: every entry left, except a directory the source lacks
//! that is left because entries in it are) and said once at the end with
//! rsync's words ("Deletions stopped due to --max-delete limit (N skipped)",
//! exit status 25).
//!
//! A directory that a source entry of another type replaces is counted too,
//! without itself (rsync's "make room"): if its entries are more than the
//! budget left, or it holds a protected one, nothing of it goes and the
//! entry is not copied (rsync would delete what it can and then fail to make
//! the entry: a half-deleted directory that is neither the old nor the new).

use super::Walker;
use super::delete::{op, take_away};
use crate::config::Backup;
use crate::error::{CopyError, Op};
use crate::filter::Filter;
use crate::progress::Progress;
use crate::sync::{itemize_line, type_word};
use crate::tree::join;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::cmp::Ordering;
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How much of one entry to take away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Allowance {
    /// All of it at once (no limit, or it fits, and nothing in it is
    /// protected).
    Whole,
    /// Entry by entry in rsync's order (see [`TakeAway`]), at most this many,
    /// leaving what the filter protects; what the limit keeps is counted as
    /// skipped (0: nothing goes, the skipped are only counted).
    Part(u64),
    /// Nothing (a directory to replace that cannot all go: said).
    Nothing,
}

/// rsync's order of a directory's entries (its `f_name_cmp`, protocol 29
/// and later): other entries before subdirectories, each by the bytes of
/// its name, a directory's name compared with a `/` after it. Deletions go
/// through a directory in the reverse of this order.
pub(super) fn rsync_order(a: (&CStr, bool), b: (&CStr, bool)) -> Ordering {
    fn bytes((name, dir): (&CStr, bool)) -> impl Iterator<Item = u8> + '_ {
        name.to_bytes().iter().copied().chain(dir.then_some(b'/'))
    }
    a.1.cmp(&b.1).then_with(|| bytes(a).cmp(bytes(b)))
}

/// What `--delete` could take of the tree at `name` in `dir` (of type `ft`,
/// at `rel` inside the operand): how many entries, itself included, and
/// whether that is all of it (nothing in it is protected by `protect`, the
/// filter's exclusions). A directory goes only once all in it went.
pub(super) fn census(
    dir: BorrowedFd<'_>,
    name: &CStr,
    ft: FileType,
    rel: &Path,
    protect: Option<&Filter>,
) -> std::io::Result<(u64, bool)> {
    if ft != FileType::Directory {
        return Ok((1, true));
    }
    let fd = open_dir(dir, name)?;
    let (mut n, mut all) = (0, true);
    each_entry(&fd, |child, ft| {
        let child_rel = rel.join(OsStr::from_bytes(child.to_bytes()));
        if protect.is_some_and(|f| f.excluded(&child_rel, ft == FileType::Directory)) {
            all = false;
            return Ok(());
        }
        let (m, whole) = census(fd.as_fd(), child, ft, &child_rel, protect)?;
        n += m;
        all &= whole;
        Ok(())
    })?;
    Ok((n + u64::from(all), all))
}

/// Open the directory `name` in `dir`, not following a symlink there.
pub(super) fn open_dir(dir: BorrowedFd<'_>, name: &CStr) -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(dir, name, flags, Mode::empty())
}

/// The entries of the open directory `fd` with their types, in the order
/// deletions take them (the reverse of [`rsync_order`]).
fn list(fd: &OwnedFd) -> std::io::Result<Vec<(CString, FileType)>> {
    let mut out = entries(fd)?;
    let is_dir = |ft: &FileType| *ft == FileType::Directory;
    out.sort_by(|a, b| rsync_order((&b.0, is_dir(&b.1)), (&a.0, is_dir(&a.1))));
    Ok(out)
}

/// The entries of the open directory `fd`, as read.
fn entries(fd: &OwnedFd) -> std::io::Result<Vec<(CString, FileType)>> {
    let mut out = Vec::new();
    each_entry(fd, |name, ft| {
        out.push((name.to_owned(), ft));
        Ok(())
    })?;
    Ok(out)
}

/// Call `f` with each entry of the open directory `fd` (but `.` and `..`)
/// and its type, asked where the listing does not say; nothing is followed.
/// The first error stops it.
pub(super) fn each_entry(
    fd: &OwnedFd,
    mut f: impl FnMut(&CStr, FileType) -> std::io::Result<()>,
) -> std::io::Result<()> {
    for entry in rustix::fs::Dir::read_from(fd)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let mut ft = entry.file_type();
        if ft == FileType::Unknown {
            let st = rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
            ft = FileType::from_raw_mode(st.st_mode);
        }
        f(name, ft)?;
    }
    Ok(())
}

/// Takes entries away (removed, or moved aside under `-b`; under
/// `--dry-run` only said), each taken away with its change line (and under
/// `-v` cp's `removed 'X'`), a failure with its error.
pub(super) struct TakeAway<'a> {
    pub backup: Option<&'a Backup>,
    pub dry_run: bool,
    pub itemize: bool,
    pub progress: &'a dyn Progress,
    /// The filter whose exclusions `--delete` leaves (none under
    /// `--delete-excluded`).
    pub protect: Option<&'a Filter>,
}

/// `--max-delete`'s budget within one entry's tree: entries that may still
/// go, and those it kept (rsync's skipped count).
struct Budget {
    left: u64,
    skipped: u64,
}

impl TakeAway<'_> {
    /// Take away what `allowance` lets go of `name` (type `ft`, at `rel`
    /// inside the operand) in `dir` (at `dir_path`).
    pub fn allowed(
        &self,
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        (name, rel): (&CStr, &Path),
        ft: FileType,
        allowance: Allowance,
    ) {
        match allowance {
            Allowance::Nothing => {}
            Allowance::Whole => {
                self.one(dir, dir_path, name, ft);
            }
            Allowance::Part(left) => {
                let mut budget = Budget { left, skipped: 0 };
                self.part(&mut budget, dir, dir_path, (name, rel), ft, true);
                if budget.skipped > 0 {
                    self.progress.delete_stopped(budget.skipped);
                }
            }
        }
    }

    /// Take `name` away, all of it at once; whether it went.
    fn one(&self, dir: BorrowedFd<'_>, dir_path: &Path, name: &CStr, ft: FileType) -> bool {
        let path = join(dir_path, name);
        match take_away(
            dir,
            dir_path,
            name,
            ft,
            self.backup,
            self.dry_run,
            self.progress,
        ) {
            Ok(()) => {
                self.progress.deleted();
                if !self.dry_run {
                    self.progress.removed(&path); // -v: cp's "removed 'X'"
                }
                if self.itemize {
                    self.progress
                        .itemize(&itemize_line("delete", ft, "-", &path));
                }
                true
            }
            Err(e) => {
                self.progress
                    .error(&CopyError::new(op(self.backup), &path, e));
                false
            }
        }
    }

    /// rsync's `delete_item`: take away the tree at `name` one entry at a
    /// time in rsync's order (see the module docs), leaving what the filter
    /// protects, a directory once all in it went, while the budget lasts;
    /// each entry the budget keeps is counted as skipped (rsync's count: not
    /// a directory the source lacks that stays for what is in it, `top`).
    /// Whether `name` went.
    fn part(
        &self,
        budget: &mut Budget,
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        (name, rel): (&CStr, &Path),
        ft: FileType,
        top: bool,
    ) -> bool {
        if ft == FileType::Directory {
            let path = join(dir_path, name);
            let listed = open_dir(dir, name)
                .map_err(std::io::Error::from)
                .and_then(|fd| list(&fd).map(|l| (fd, l)));
            let (fd, entries) = match listed {
                Ok(l) => l,
                Err(e) => {
                    self.progress.error(&CopyError::new(Op::ReadDir, &path, e));
                    return false;
                }
            };
            let mut all = true;
            for (child, ft) in entries {
                if crate::interrupt::requested() {
                    return false;
                }
                let child_rel = rel.join(OsStr::from_bytes(child.to_bytes()));
                let is_dir = ft == FileType::Directory;
                if self.protect.is_some_and(|f| f.excluded(&child_rel, is_dir)) {
                    all = false; // protected, as rsync
                    continue;
                }
                all &= self.part(budget, fd.as_fd(), &path, (&child, &child_rel), ft, false);
            }
            if !all {
                // Not empty: stays (rsync's "cannot delete non-empty
                // directory"), counted if the limit kept it from trying.
                if !top && budget.left == 0 {
                    budget.skipped += 1;
                }
                return false;
            }
        }
        if budget.left == 0 {
            budget.skipped += 1;
            return false;
        }
        let gone = self.one(dir, dir_path, name, ft);
        budget.left -= u64::from(gone);
        gone
    }
}

impl Walker {
    /// How much of the entry `name` (type `ft`, at `rel` inside the
    /// operand) of `dir` (at `path`) that the source lacks may go: all at
    /// once, or entry by entry where `--max-delete`'s budget or the filter's
    /// exclusions keep some (the budget is charged what will go). With
    /// `room`, a directory that an entry of another type replaces: only what
    /// is in it counts, and it goes whole or not at all (`room`: the type of
    /// the entry that replaces it). `None` if its tree could not be read
    /// (said; nothing of it is to go).
    pub(super) fn allowance(
        &mut self,
        dir: BorrowedFd<'_>,
        (name, rel): (&CStr, &Path),
        ft: FileType,
        path: &Path,
        room: Option<FileType>,
    ) -> Option<Allowance> {
        let protect = self.protect();
        if self.sync.max_delete.is_none() && (protect.is_none() || ft != FileType::Directory) {
            return Some(Allowance::Whole);
        }
        let (n, whole) = match census(dir, name, ft, rel, protect) {
            Ok(c) => c,
            Err(e) => {
                self.progress
                    .error(&CopyError::new(Op::ReadDir, path, e).found_in_walk());
                return None;
            }
        };
        let left = self
            .sync
            .max_delete
            .map_or(u64::MAX, |max| max.saturating_sub(self.deleted));
        if let Some(by) = room {
            let n = n.saturating_sub(1); // (what is in it)
            if whole && n <= left {
                self.deleted += n;
                return Some(Allowance::Whole);
            }
            if n > left {
                self.progress.delete_stopped(n);
            }
            let why = match whole {
                true => "the entries in it are more than --max-delete lets go",
                false => "it holds entries the filter keeps from --delete",
            };
            let why = format!("not replaced by a {}: {why}", type_word(by));
            let err = CopyError::new(Op::Remove, path, std::io::Error::other(why));
            self.progress.error(&err);
            return Some(Allowance::Nothing);
        }
        self.deleted += n.min(left);
        Some(match whole && n <= left {
            true => Allowance::Whole,
            false => Allowance::Part(left),
        })
    }

    /// The filter whose exclusions `--delete` leaves, if any.
    fn protect(&self) -> Option<&Filter> {
        let f = &*self.filter;
        (!f.is_empty() && !self.sync.delete_excluded).then_some(f)
    }

    /// The walker's [`TakeAway`].
    pub(super) fn taker(&self) -> TakeAway<'_> {
        TakeAway {
            backup: self.backup.as_ref(),
            dry_run: self.sync.dry_run,
            itemize: self.sync.itemize,
            progress: &*self.progress,
            protect: self.protect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsync_order_puts_other_entries_first_and_compares_a_directory_with_a_slash() {
        let mut v = vec![
            (c"a", true),
            (c"b", false),
            (c"a-b", true),
            (c"a.b", false),
            (c"Z", false),
            (c"a.b", true),
        ];
        v.sort_by(|x, y| rsync_order(*x, *y));
        // "a-b/" < "a.b/" < "a/": '-' and '.' sort before '/'.
        let want = [
            (c"Z", false),
            (c"a.b", false),
            (c"b", false),
            (c"a-b", true),
            (c"a.b", true),
            (c"a", true),
        ];
        assert_eq!(v, want);
    }
}
