//! cp's rules for the destination of one item, shared by every engine.
//!
//! Whether an existing destination is rewritten in place, replaced, skipped
//! (-n, -u, -i's no) or refused ("are the same file", a directory in the
//! way, a symlink this run made); how a file is opened for writing (under a
//! temporary name when it replaces something, so a failure keeps the old
//! entry); how a complete copy is committed (renamed into place, -b's backup
//! made just before) and a failed one discarded (only what the run created is
//! removed); symlinks and special files made in place of what is there.
//! (Directories: [`super::dirs`].)

use super::FileCopier;
use crate::config::Overwrite;
use crate::error::{CopyError, Failure, Op, errno, quote};
use crate::tree::SrcStat;
use crate::tree::{Item, Kind};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::CStr;
use std::os::fd::AsFd as _;
use std::os::fd::{BorrowedFd, OwnedFd};

/// How a destination file is to be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DstOpen {
    /// Nothing is there: create it (`O_CREAT | O_EXCL`).
    Create,
    /// A file is there: truncate and rewrite it, keeping its inode and mode,
    /// as cp does (never through a symlink that took its place meanwhile).
    Overwrite,
    /// The destination named on the command line is a symlink to a file:
    /// write through it, as cp does (the user named it).
    Through,
    /// A symlink is there that must not be followed (inside a tree, or a
    /// loop under -f): remove it, then create the file. (A temporary file
    /// renamed over it, in sync mode, replaces it in one step instead.)
    Replace,
    /// Leave the existing file alone (-n).
    Skip,
}

impl DstOpen {
    pub fn flags(self) -> OFlags {
        let base = OFlags::WRONLY | OFlags::CLOEXEC;
        match self {
            DstOpen::Create | DstOpen::Replace => base | OFlags::CREATE | OFlags::EXCL,
            // O_CREAT stays for the race where the file vanished since it
            // was checked.
            DstOpen::Overwrite => base | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW,
            DstOpen::Through | DstOpen::Skip => base | OFlags::CREATE | OFlags::TRUNC,
        }
    }
}

impl FileCopier {
    /// Decide how to open `item`'s destination, which may exist, applying cp's
    /// refusals. `src` is the source's status.
    pub fn check_existing(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        src: &SrcStat,
    ) -> Result<DstOpen, Failure> {
        let overwrite = self.overwrite;
        let name = item.dst_name();
        let lst = match rustix::fs::statat(dst, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(DstOpen::Create),
            Err(e) => return Err(item.error(Op::Stat, true, e.into()).into()),
        };
        if overwrite == Overwrite::Skip
            || (overwrite == Overwrite::Older && !older(&lst, src.mtime))
        {
            return Ok(DstOpen::Skip);
        }
        self.made_symlinks.check(item, &lst)?;
        if !self.may_overwrite(item, dst, &lst) {
            return Ok(DstOpen::Skip);
        }
        let is_dir = FileType::from_raw_mode(lst.st_mode) == FileType::Directory;
        if self.backup.is_some() && !is_dir {
            // Kept under its backup name once the new file is complete (see
            // `crate::engine::backup`): never written in place, never followed.
            return Ok(DstOpen::Replace);
        }
        let symlink = FileType::from_raw_mode(lst.st_mode) == FileType::Symlink;
        if symlink && self.remove_destination {
            // Removed, not followed (even a loop or a dangling one), as cp.
            return Ok(DstOpen::Replace);
        }
        if symlink && item.display.is_none() {
            // Inside a tree, a destination symlink may point anywhere, even out
            // of the destination (`dst/f -> /etc/passwd`): it is replaced by the
            // file, never written through (rsync's rule; GNU cp writes through).
            return Ok(DstOpen::Replace);
        }
        let st = if symlink {
            match rustix::fs::statat(dst, name, AtFlags::empty()) {
                Ok(st) => st,
                Err(Errno::LOOP) if overwrite == Overwrite::Force => {
                    // -f: a symlink loop cannot be written through; cp
                    // removes it and creates the file.
                    return Ok(DstOpen::Replace);
                }
                Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => {
                    return Err(Failure::Msg(format!(
                        "not writing through dangling symlink {}",
                        quote(&item.dst_path())
                    )));
                }
                // Not known to dangle: its target cannot be reached (an
                // unsearchable directory), as cp says.
                Err(e) => return Err(item.error(Op::Stat, true, e.into()).into()),
            }
        } else {
            lst
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            return Err(Failure::Msg(format!(
                "cannot overwrite directory {} with non-directory",
                quote(&item.dst_path())
            )));
        }
        if self.remove_destination {
            // Another name of the source is removed, not written: the plan
            // refused the cases where that would lose the source.
            return Ok(DstOpen::Replace);
        }
        if (st.st_dev, st.st_ino) == (src.dev, src.ino) {
            return Err(Failure::Msg(format!(
                "{} and {} are the same file",
                quote(&item.src_path()),
                quote(&item.dst_path())
            )));
        }
        if !symlink && self.removes_linked_destination(&lst) {
            return Ok(DstOpen::Replace);
        }
        Ok(if symlink {
            DstOpen::Through
        } else {
            DstOpen::Overwrite
        })
    }

    /// May a non-regular item (symlink, special file, hard link) take the
    /// place of what exists at its destination? cp replaces a non-directory
    /// (and says `removed 'X'` under -v), refuses a directory, and -n (or -u,
    /// when the destination is not older) skips: false.
    /// Is `st`, an existing destination, removed first rather than written?
    /// Under --preserve=links (-a, -d) a file with other names is replaced,
    /// not rewritten, so that its other names keep what they hold, as cp
    /// unlinks it first (rewriting it in place changed files the source does
    /// not have). Not under --attributes-only, whose copy keeps the file's
    /// bytes (cp sets its attributes in place). For copies and for -l/-s.
    pub(super) fn removes_linked_destination(&self, st: &rustix::fs::Stat) -> bool {
        self.archive.preserve.links && !self.attributes_only && st.st_nlink > 1
    }

    pub(super) fn may_replace(&self, item: &Item, dst: BorrowedFd<'_>) -> Result<bool, Failure> {
        let overwrite = self.overwrite;
        let st = match rustix::fs::statat(dst, item.dst_name(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(true),
            Err(e) => return Err(item.error(Op::Stat, true, e.into()).into()),
        };
        if overwrite == Overwrite::Skip {
            return Ok(false);
        }
        if overwrite == Overwrite::Older {
            // -u: the source's own time (a symlink's, not its target's).
            let src = rustix::fs::statat(&item.src_dir.fd, &item.name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| item.error(Op::Stat, false, e.into()))?;
            if !older(&st, SrcStat::from_stat(&src).mtime) {
                return Ok(false);
            }
        }
        self.made_symlinks.check(item, &st)?;
        if !self.may_overwrite(item, dst, &st) {
            return Ok(false);
        }
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            return Err(Failure::Msg(format!(
                "cannot overwrite directory {} with non-directory",
                quote(&item.dst_path())
            )));
        }
        Ok(true)
    }

    /// -i: ask whether the existing destination (status `st`) may be
    /// replaced. Always yes without -i.
    fn may_overwrite(&self, item: &Item, dst: BorrowedFd<'_>, st: &rustix::fs::Stat) -> bool {
        !self.interactive
            || crate::engine::prompt::overwrite_ok(
                &item.dst_path(),
                dst,
                item.dst_name(),
                st,
                self.overwrite == Overwrite::Force || self.remove_destination,
            )
    }

    /// -b: keep the existing destination under its backup name, just before
    /// the complete new entry (`temp`) is renamed over it.
    pub(super) fn back_up(&self, item: &Item, dst: BorrowedFd<'_>) -> Result<bool, Failure> {
        let Some(b) = &self.backup else {
            return Ok(false);
        };
        match crate::engine::backup::make(dst, &item.dst_dir.path, item.dst_name(), b) {
            Ok(Some(kept)) => {
                let what = crate::sync::type_word(kept.ft);
                let progress = &self.archive.progress;
                progress.backed_up(&item.dst_path(), &kept.path, what);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(item.error(Op::Backup, true, e).into()),
        }
    }

    /// Put a new entry in place of `item`'s existing destination in one step:
    /// `make` creates it under a temporary name, which is renamed over the
    /// old one, so a failure at any point leaves the old entry as it was (cp
    /// removes it first, and a failure then loses it).
    pub(super) fn replace(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        make: impl Fn(&CStr) -> Result<(), CopyError>,
        say_removed: bool,
    ) -> Result<(), Failure> {
        let temp = crate::sync::temp_name(item.dst_name());
        make(&temp)?;
        let backed_up = match self.back_up(item, dst) {
            Ok(b) => b,
            Err(f) => {
                self.remove_made(item, dst, &temp);
                return Err(f);
            }
        };
        if let Err(e) = rustix::fs::renameat(dst, &temp, dst, item.dst_name()) {
            self.remove_made(item, dst, &temp);
            return Err(item.error(Op::Replace, true, e.into()).into());
        }
        // A rename onto another name of the same inode does nothing and
        // leaves the temporary name.
        let _ = rustix::fs::unlinkat(dst, &temp, AtFlags::empty());
        if say_removed && !backed_up {
            self.archive.progress.removed(&item.dst_path());
        }
        Ok(())
    }

    /// Create a symlink or special file (with permissions `perms`, under the
    /// umask). Returns false if it was skipped (-n).
    pub fn make_entry(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
        perms: u32,
    ) -> Result<bool, Failure> {
        let name = item.dst_name();
        let make = |name: &CStr| match &item.kind {
            Kind::Symlink { target } => rustix::fs::symlinkat(target.as_c_str(), dst, name)
                .map_err(|e| item.error(Op::Symlink, true, e.into())),
            Kind::Special { mode, rdev } => {
                let ft = FileType::from_raw_mode(*mode);
                let op = if ft == FileType::Fifo {
                    Op::Mkfifo
                } else {
                    Op::Mknod
                };
                rustix::fs::mknodat(dst, name, ft, Mode::from_raw_mode(perms & 0o777), *rdev)
                    .map_err(|e| item.error(op, true, e.into()))
            }
            _ => Err(item.error(Op::Create, true, errno(libc::EINVAL))),
        };
        // --attributes-only replaces an entry only by a symlink under -f,
        // under -b (the entry kept as a backup) or --remove-destination, as
        // cp; -n and -u still skip, and a directory is refused.
        let attributes_only = self.attributes_only && !self.remove_destination;
        match make(name) {
            Ok(()) => {}
            Err(e)
                if e.source.raw_os_error() != Some(libc::EEXIST) || (fresh && !attributes_only) =>
            {
                return Err(e.into());
            }
            Err(e) => {
                if !self.may_replace(item, dst)? {
                    return Ok(false);
                }
                let forced =
                    self.overwrite == Overwrite::Force && matches!(item.kind, Kind::Symlink { .. });
                if attributes_only && !forced && self.backup.is_none() {
                    return Err(e.into());
                }
                // Under --attributes-only, cp's -f retry of a symlink it could
                // not make or the entry moved to its backup name: no `removed`
                // line.
                self.replace(item, dst, make, !attributes_only)?;
            }
        }
        if let Kind::Symlink { .. } = item.kind {
            self.made_symlinks.made(dst, name);
        }
        Ok(true)
    }

    /// A complete copy: close it, and rename a temporary over the destination.
    pub fn commit(&self, item: &Item, dst: BorrowedFd<'_>, out: Opened) -> Result<(), Failure> {
        drop(out.fd);
        let Some(t) = &out.temp else {
            return Ok(());
        };
        // (A temporary replaces an existing entry, which -b keeps.)
        let backed_up = match self.back_up(item, dst) {
            Ok(b) => b,
            Err(f) => {
                self.remove_made(item, dst, t);
                return Err(f);
            }
        };
        if let Err(e) = rustix::fs::renameat(dst, t.as_c_str(), dst, item.dst_name()) {
            self.remove_made(item, dst, t);
            return Err(item.error(Op::Replace, true, e.into()).into());
        }
        if !backed_up && !self.temp_files {
            // cp removes such an entry first (--remove-destination, another
            // name of it under --preserve=links) and says so under -v; sync
            // mode's temporaries are rsync's way, which says nothing.
            self.archive.progress.removed(&item.dst_path());
        }
        Ok(())
    }

    /// After a failed copy: remove what this run created (a temporary, or a
    /// new file under its final name), so no file with wrong bytes stays
    /// under its name. An existing file that was truncated and rewritten in
    /// place stays, as with cp: it is the user's, and may be a device or a
    /// symlink's target.
    pub fn discard(&self, item: &Item, dst: BorrowedFd<'_>, out: Opened) {
        drop(out.fd);
        match (&out.temp, out.created) {
            (Some(t), _) => self.remove_made(item, dst, t),
            (None, true) => self.remove_made(item, dst, item.dst_name()),
            (None, false) => {}
        }
    }

    /// Remove `name`, made by this run in `dst`; a failure is reported.
    pub fn remove_made(&self, item: &Item, dst: BorrowedFd<'_>, name: &CStr) {
        if let Err(e) = rustix::fs::unlinkat(dst, name, AtFlags::empty())
            && e != Errno::NOENT
        {
            let path = crate::tree::join(&item.dst_dir.path, name);
            self.archive
                .progress
                .error(&CopyError::new(Op::Remove, path, e.into()));
        }
    }

    /// Open (create, or truncate under cp's rules) the destination of a
    /// regular file whose source has status `src`, with `mode`. `Ok(None)`:
    /// skipped (-n, -u). In sync mode, and where a symlink is to be replaced
    /// by the file, it is written under a temporary name that [`Self::commit`]
    /// renames over the destination only once it is complete, so a failure
    /// leaves the old entry as it was.
    pub fn open_destination(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
        src: &SrcStat,
        mode: u32,
        as_data: bool,
    ) -> Result<Option<Opened>, Failure> {
        let mode = mode & 0o777;
        // In a directory this run made nothing can be in the way, and in
        // another a new name is usually free too (`cp -r dir/* dest/`):
        // create, and look at what is there only when that fails. Looking
        // first costs a lookup of the missing name, which also waits on the
        // directory's lock while other workers create in it (17.9k operands
        // into one directory: 0.87 -> 0.58 s). Once something was in the
        // way in a directory, look first there. (Not with temporary files:
        // the name written is another.)
        let mut in_the_way = false;
        if !self.temp_files && (fresh || !item.dst_dir.had_in_the_way()) {
            match open_dst(item, dst, DstOpen::Create, mode, self.overwrite) {
                Ok(opened) => return Ok(Some(opened)),
                Err(e) if e.source.raw_os_error() == Some(libc::EEXIST) => {
                    item.dst_dir.note_in_the_way();
                    in_the_way = true;
                }
                Err(e) if fresh => return Err(e.into()),
                // Said again, as cp would, once it is decided below.
                Err(_) => {}
            }
        }
        let how = if fresh && !in_the_way {
            DstOpen::Create
        } else {
            self.check_existing(item, dst, src)?
        };
        if how == DstOpen::Skip {
            return Ok(None);
        }
        if !as_data && (self.temp_files || how == DstOpen::Replace) {
            let temp = crate::sync::temp_name(item.dst_name());
            let fd = rustix::fs::openat(
                dst,
                &temp,
                DstOpen::Create.flags(),
                Mode::from_raw_mode(mode),
            )
            .map_err(|e| item.error(Op::Create, true, e.into()))?;
            return Ok(Some(Opened {
                fd,
                created: true,
                temp: Some(temp),
            }));
        }
        if self.attributes_only && matches!(how, DstOpen::Overwrite | DstOpen::Through) {
            // Its data stays: opened without truncating it.
            return rustix::fs::openat(
                dst,
                item.dst_name(),
                how.flags() - OFlags::TRUNC,
                Mode::empty(),
            )
            .map(|fd| {
                Some(Opened {
                    fd,
                    created: false,
                    temp: None,
                })
            })
            .map_err(|e| item.error(Op::Create, true, e.into()).into());
        }
        Ok(Some(open_dst(item, dst, how, mode, self.overwrite)?))
    }
}

/// Is the destination `dst` older than a source modified at `mtime` (-u)?
/// Compared to the nanosecond, as cp does on filesystems that keep them.
#[allow(clippy::unnecessary_cast)] // the field types differ between architectures
pub(super) fn older(dst: &rustix::fs::Stat, mtime: (i64, u32)) -> bool {
    (dst.st_mtime as i64, dst.st_mtime_nsec as u32) < mtime
}

/// A destination file opened for writing.
pub struct Opened {
    pub fd: OwnedFd,
    /// This run created it (`O_EXCL`, or -f's remove and create), so a failed
    /// copy may remove it; a file that existed was truncated in place and stays.
    pub created: bool,
    /// Written under this temporary name, renamed over the destination by
    /// [`FileCopier::commit`].
    pub temp: Option<std::ffi::CString>,
}

impl Opened {
    /// Where it is written: its directory `dir`, the name it has there (the
    /// temporary one, if any), and the descriptor.
    pub fn written<'a>(
        &'a self,
        item: &'a Item,
        dir: BorrowedFd<'a>,
    ) -> (BorrowedFd<'a>, &'a std::ffi::CStr, BorrowedFd<'a>) {
        let name = self.temp.as_deref().unwrap_or(item.dst_name());
        (dir, name, self.fd.as_fd())
    }
}

/// Open the destination file the synchronous way, with -f's retry.
pub fn open_dst(
    item: &Item,
    dst: BorrowedFd<'_>,
    how: DstOpen,
    mode: u32,
    overwrite: Overwrite,
) -> Result<Opened, CopyError> {
    let name = item.dst_name();
    let mode = Mode::from_raw_mode(mode);
    if how == DstOpen::Replace {
        rustix::fs::unlinkat(dst, name, AtFlags::empty())
            .map_err(|e| item.error(Op::Remove, true, e.into()))?;
    }
    let created = matches!(how, DstOpen::Create | DstOpen::Replace);
    match rustix::fs::openat(dst, name, how.flags(), mode) {
        Ok(fd) => Ok(Opened {
            fd,
            created,
            temp: None,
        }),
        Err(e)
            if matches!(how, DstOpen::Overwrite | DstOpen::Through)
                && overwrite == Overwrite::Force =>
        {
            // -f: remove what cannot be opened and create a new file.
            if rustix::fs::unlinkat(dst, name, AtFlags::empty()).is_err() {
                return Err(item.error(Op::Create, true, e.into()));
            }
            rustix::fs::openat(dst, name, DstOpen::Create.flags(), mode)
                .map(|fd| Opened {
                    fd,
                    created: true,
                    temp: None,
                })
                .map_err(|e| item.error(Op::Create, true, e.into()))
        }
        Err(e) => Err(item.error(Op::Create, true, e.into())),
    }
}

/// The symlinks this run made, by device and inode, when it has several
/// sources: one source may be copied to where another just made a symlink
/// (`cp -dR a/1 b/1 c` with a symlink `a/1 -> ../t`), and writing `b/1`
/// through `c/1` would write outside the destination. GNU cp refuses that
/// ("will not copy 'b/1' through just-created symlink 'c/1'"), and so does
/// this tool. With one source, no two entries share a destination name.
pub struct MadeSymlinks(Option<std::sync::Mutex<std::collections::HashSet<(u64, u64)>>>);

impl MadeSymlinks {
    pub(super) fn new(on: bool) -> Self {
        MadeSymlinks(on.then(Default::default))
    }

    /// The symlink `name` in `dir` was just made by this run.
    pub fn made(&self, dir: BorrowedFd<'_>, name: &CStr) {
        if let Some(set) = &self.0
            && let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
            && let Ok(mut set) = set.lock()
        {
            set.insert((st.st_dev, st.st_ino));
        }
    }

    /// Refuse to copy `item` onto the existing destination `st` (its lstat) if
    /// it is a symlink this run made.
    fn check(&self, item: &Item, st: &rustix::fs::Stat) -> Result<(), Failure> {
        let Some(set) = &self.0 else { return Ok(()) };
        if FileType::from_raw_mode(st.st_mode) != FileType::Symlink
            || !set
                .lock()
                .is_ok_and(|s| s.contains(&(st.st_dev, st.st_ino)))
        {
            return Ok(());
        }
        Err(Failure::Msg(format!(
            "will not copy {} through just-created symlink {}",
            quote(&item.src_path()),
            quote(&item.dst_path())
        )))
    }
}
