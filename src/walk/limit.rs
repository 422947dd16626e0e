//! `--max-delete=N`: at most N entries leave the destination, each file and
//! each directory counted, as rsync counts them (its `deleted_files`).
//!
//! A directory the source no longer has is one take-away when it is removed
//! whole, but N entries when it holds N - 1, so under `--max-delete` its tree
//! is counted first ([`count`]). One that fits what is left of the budget
//! goes whole, as without the option; one that does not is taken apart as
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
//! budget left, nothing of it goes and the entry is not copied (rsync would
//! delete what the budget allows and then fail to make the entry: a half-
//! deleted directory that is neither the old nor the new).

use super::Walker;
use super::delete::{op, take_away};
use crate::config::Backup;
use crate::error::{CopyError, Op};
use crate::progress::Progress;
use crate::sync::itemize_line;
use crate::tree::join;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::cmp::Ordering;
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// How much of one entry to take away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Allowance {
    /// All of it (no limit, or it fits).
    Whole,
    /// At most this many of its entries, in rsync's order (see [`TakeAway`]).
    Part(u64),
    /// Nothing: the budget is spent.
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

/// The entries of the tree at `name` in `dir` (of type `ft`), itself
/// included; nothing is followed.
pub(super) fn count(dir: BorrowedFd<'_>, name: &CStr, ft: FileType) -> std::io::Result<u64> {
    if ft != FileType::Directory {
        return Ok(1);
    }
    let fd = open_dir(dir, name)?;
    let mut n = 1;
    each_entry(&fd, |child, ft| {
        n += count(fd.as_fd(), child, ft)?;
        Ok(())
    })?;
    Ok(n)
}

/// The skipped count rsync gives a tree of `n` entries of which `gone`
/// went: every entry left, except a directory left because entries in it
/// are.
pub(super) fn skipped(ft: FileType, n: u64, gone: u64) -> u64 {
    let left = n.saturating_sub(gone);
    match ft == FileType::Directory && left > 1 {
        true => left - 1,
        false => left,
    }
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
}

impl TakeAway<'_> {
    /// Take away what `allowance` lets go of `name` (type `ft`) in `dir`
    /// (at `dir_path`); whether all of it went.
    pub fn allowed(
        &self,
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        name: &CStr,
        ft: FileType,
        allowance: Allowance,
    ) -> bool {
        match allowance {
            Allowance::Nothing => false,
            Allowance::Whole => self.one(dir, dir_path, name, ft),
            Allowance::Part(mut left) => self.part(&mut left, dir, dir_path, name, ft),
        }
    }

    /// Take `name` away, all of it at once.
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

    /// Take away at most `left` entries of the tree at `name`, one at a
    /// time in rsync's order (see the module docs), a directory once all in
    /// it went; whether `name` went.
    fn part(
        &self,
        left: &mut u64,
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        name: &CStr,
        ft: FileType,
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
                all &= self.part(left, fd.as_fd(), &path, &child, ft);
            }
            if !all {
                return false; // not empty: stays (rsync's "cannot delete non-empty directory")
            }
        }
        if *left == 0 {
            return false;
        }
        let gone = self.one(dir, dir_path, name, ft);
        *left -= u64::from(gone);
        gone
    }
}

impl Walker {
    /// `--max-delete`: how much of the entry `name` (type `ft`) of `dir` (at
    /// `path`) that the source lacks may go, taken from the budget (the
    /// entries it does not let go are counted as skipped). With `room`, a
    /// directory that an entry of another type replaces: only what is in
    /// it counts, and it goes whole or not at all. `None` if its tree could
    /// not be counted (said; nothing of it is to go).
    pub(super) fn allowance(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        ft: FileType,
        path: &Path,
        room: bool,
    ) -> Option<Allowance> {
        let Some(max) = self.sync.max_delete else {
            return Some(Allowance::Whole);
        };
        let n = match count(dir, name, ft) {
            Ok(n) => n - u64::from(room),
            Err(e) => {
                self.progress
                    .error(&CopyError::new(Op::ReadDir, path, e).found_in_walk());
                return None;
            }
        };
        let left = max.saturating_sub(self.deleted);
        if n <= left {
            self.deleted += n;
            return Some(Allowance::Whole);
        }
        self.deleted = max;
        if room {
            self.progress.delete_stopped(n);
            return Some(Allowance::Nothing);
        }
        self.progress.delete_stopped(skipped(ft, n, left));
        Some(match left {
            0 => Allowance::Nothing,
            left => Allowance::Part(left),
        })
    }

    /// The walker's [`TakeAway`].
    pub(super) fn taker(&self) -> TakeAway<'_> {
        TakeAway {
            backup: self.backup.as_ref(),
            dry_run: self.sync.dry_run,
            itemize: self.sync.itemize,
            progress: &*self.progress,
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

    #[test]
    fn skipped_leaves_out_a_directory_kept_for_what_is_in_it() {
        assert_eq!(skipped(FileType::RegularFile, 1, 0), 1);
        assert_eq!(skipped(FileType::Directory, 5, 2), 2); // 3 left: itself and 2 in it
        assert_eq!(skipped(FileType::Directory, 5, 4), 1); // only itself left
        assert_eq!(skipped(FileType::Directory, 1, 0), 1); // empty
        assert_eq!(skipped(FileType::Directory, 5, 5), 0);
    }
}
