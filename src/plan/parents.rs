//! `--parents`: each SOURCE is copied to its full name under the target
//! directory (`--parents a/b/f D` makes `D/a/b/f`), after the missing
//! directories on the way (`D/a`, `D/a/b`) are made.
//!
//! GNU cp 9.1's rules (`make_dir_parents_private` and `re_protect` in its
//! src/cp.c), kept here:
//!
//! - The destination is DIRECTORY and SOURCE joined as written (without its
//!   trailing slashes): `./a//b/f` gives `D/./a//b/f`, `/etc/f` gives
//!   `D/etc/f`. Each leading directory of it is looked at by name, relative
//!   to DIRECTORY, symlinks followed, as is each source directory
//!   (`sym/b/f` with `sym -> x` makes a directory `D/sym` with `x`'s
//!   attributes).
//! - If the innermost directory exists, nothing is made and no attribute is
//!   touched. Otherwise each missing directory is made with its source's
//!   permissions (under the umask; with the owner preserved, without group
//!   and other bits, and with the mode preserved, without their write bits,
//!   until the copy is done), opened up for its owner while the copy runs,
//!   and given back the mode it was made with. With -p (or any of mode,
//!   ownership, timestamps preserved) every directory on the way, existing
//!   or new, gets its source's times, owner and mode (with its ACL) after
//!   the copy, in that order, innermost first.
//! - `-v` prints `a -> D/a` (unquoted) for each directory made.
//! - Sync mode's `--itemize-changes` says `new dir - 'D/a'` for each one made
//!   (rsync's `cd+++++++++ a/`); under `--dry-run` nothing is made, the same
//!   lines are said once per directory, and an operand whose directories
//!   would be made is planned as new (everything in it is new).
//!
//! The directories are made when the operands are planned; the attributes
//! are set once the whole copy is done ([`Fixups::apply`]), after every write
//! into those directories (GNU cp sets them after each operand: a later
//! operand writing into a directory that is already complete leaves its
//! modification time at the time of that write, where here it is the
//! source's).

use crate::config::{Config, Preserve};
use crate::error::{CopyError, Failure, Op, errno, quote};
use crate::meta::Dst;
use crate::meta::xattr::{self, Xattrs};
use crate::progress::Progress;
use crate::sync::itemize_line;
use crate::tree::SrcStat;
use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};
use std::collections::HashSet;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A directory on the way to an operand's destination whose attributes are
/// set after the copy (GNU's `struct dir_attr`).
struct Fixup {
    /// Its name relative to the target directory.
    rel: CString,
    /// Its path, for messages.
    path: PathBuf,
    /// The source directory's status; with `restore_mode`, the mode is the
    /// one this directory was made with.
    st: SrcStat,
    /// The source directory's ACLs (with --preserve=mode).
    acls: Xattrs,
    /// Made here without --preserve=mode, and opened up for the copy: set
    /// `st.mode` back afterwards.
    restore_mode: bool,
}

/// Makes the leading directories of each operand and remembers what to
/// set on them once the copy is done.
pub struct Fixups {
    /// The target directory (`O_PATH`); `None` in a dry run that would
    /// have made it (`--files-from`, as rsync makes DEST).
    target: Option<OwnedFd>,
    preserve: Preserve,
    umask: u32,
    privileged: bool,
    /// `--dry-run`: nothing is made; each directory that would be is said
    /// once (`--itemize-changes`) and remembered here, by path.
    dry_run: bool,
    would_make: HashSet<PathBuf>,
    /// Sync mode's `--itemize-changes`: a line for each directory made.
    itemize: bool,
    /// Sync mode: a symlink on the way is not followed (see [`Self::stat`]).
    sync: bool,
    /// For each operand whose directories were made: innermost first.
    operands: Vec<Vec<Fixup>>,
}

impl std::fmt::Debug for Fixups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixups")
            .field("operands", &self.operands.len())
            .finish()
    }
}

impl Fixups {
    /// For copies into `target`, open as `fd` (`None`: a dry run's missing
    /// DEST).
    pub fn new(cfg: &Config, target: Option<OwnedFd>, umask: u32) -> Self {
        Fixups {
            target,
            preserve: cfg.preserve,
            umask,
            privileged: rustix::process::geteuid().is_root(),
            dry_run: cfg.sync.dry_run,
            would_make: HashSet::new(),
            itemize: cfg.sync.itemize,
            sync: cfg.sync.enabled,
            operands: Vec::new(),
        }
    }

    /// The target directory; `ENOENT` for a dry run's missing DEST.
    fn target(&self) -> Result<BorrowedFd<'_>, Errno> {
        self.target
            .as_ref()
            .map(|fd| fd.as_fd())
            .ok_or(Errno::NOENT)
    }

    /// `rel`'s status under the target directory: symlinks followed, as GNU
    /// cp's `--parents` does; in sync mode not (the last name: the earlier
    /// ones were looked at before it, in order), so a symlink in DEST where
    /// a directory goes is not a directory there, and nothing is written
    /// through it (rsync replaces it with a directory; it is refused here).
    fn stat(&self, rel: &CString) -> Result<rustix::fs::Stat, Errno> {
        let flags = match self.sync {
            true => AtFlags::SYMLINK_NOFOLLOW,
            false => AtFlags::empty(),
        };
        rustix::fs::statat(self.target()?, rel, flags)
    }

    /// Any preserve option that makes every directory on the way get its
    /// source's attributes.
    fn preserving(&self) -> bool {
        let p = &self.preserve;
        p.mode || p.ownership || p.timestamps
    }

    /// Make the directories leading to `src`'s destination under `dir` (the
    /// target directory as the user named it). Returns that destination, and
    /// whether its parent directory is missing because this is a dry run (it
    /// would have been made). `Err` when a directory could not be made: then
    /// `src` is not copied.
    pub fn make(
        &mut self,
        dir: &Path,
        src: &Path,
        base: &Path,
        progress: &dyn Progress,
    ) -> Result<(PathBuf, bool), Failure> {
        let (dst, src_offset) = concat(
            dir.as_os_str().as_bytes(),
            strip_trailing_slashes(src.as_os_str().as_bytes()),
        );
        let path = |end: usize| PathBuf::from(OsStr::from_bytes(&dst[..end]));
        // (Names from the command line hold no NUL byte.)
        let name = |end: usize, b: &[u8]| {
            CString::new(b)
                .map_err(|_| CopyError::new(Op::ParentMkdir, path(end), errno(libc::EINVAL)))
        };
        let not_a_dir = |end: usize, st: &rustix::fs::Stat| {
            let what = match FileType::from_raw_mode(st.st_mode) {
                FileType::Symlink => "is a symlink (not followed in sync mode)",
                _ => "exists but is not a directory",
            };
            Failure::Msg(format!("{} {what}", quote(&path(end))))
        };
        let is_dir =
            |st: &rustix::fs::Stat| FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        let dirlen = dir_len(&dst);
        if dirlen <= src_offset {
            // A single name: DIRECTORY/name.
            return Ok((path(dst.len()), self.target.is_none()));
        }
        let rel_start = src_offset + leading_slashes(&dst[src_offset..]);
        if self.sync {
            // Each directory on the way, outermost first, before anything
            // is looked at through it.
            let mut pos = rel_start;
            while let Some(off) = dst[pos..dirlen + 1].iter().position(|&b| b == b'/') {
                let end = pos + off;
                match self.stat(&name(end, &dst[rel_start..end])?) {
                    Ok(st) if !is_dir(&st) => return Err(not_a_dir(end, &st)),
                    Ok(_) => {}
                    Err(_) => break,
                }
                pos = end + 1 + leading_slashes(&dst[end + 1..]);
            }
        }
        // Everything there already: nothing to make, nothing to set.
        let innermost = name(dirlen, &dst[rel_start..dirlen])?;
        if let Ok(st) = self.stat(&innermost) {
            return match is_dir(&st) {
                true => Ok((path(dst.len()), false)),
                false => Err(not_a_dir(dirlen, &st)),
            };
        }
        if self.would_make.contains(&path(dirlen)) {
            return Ok((path(dst.len()), true));
        }

        let mut list: Vec<Fixup> = Vec::new();
        let mut pos = rel_start;
        while let Some(off) = dst[pos..].iter().position(|&b| b == b'/') {
            let end = pos + off;
            let rel = name(end, &dst[rel_start..end])?;
            // (--relative: SOURCE's directories are inside `base`.)
            let src_dir = base.join(OsStr::from_bytes(&dst[src_offset..end]));
            let existing = self.stat(&rel);
            // (A dry run said so already for a directory it would make.)
            let said = existing.is_err() && self.would_make.contains(&path(end));
            if !said && (existing.is_err() || self.preserving()) {
                let (st, acls) = self.source_dir(&src_dir)?;
                let mut fix = Fixup {
                    rel,
                    path: path(end),
                    st,
                    acls,
                    restore_mode: false,
                };
                if existing.is_err() {
                    match self.dry_run {
                        true => drop(self.would_make.insert(fix.path.clone())),
                        false => {
                            self.make_one(&mut fix)?;
                            progress.parent_made(&src_dir, &fix.path);
                        }
                    }
                    if self.itemize {
                        let dir = FileType::Directory;
                        progress.itemize(&itemize_line("new", dir, "-", &fix.path));
                    }
                }
                if !self.dry_run {
                    list.push(fix);
                }
            }
            if let Ok(st) = existing
                && !is_dir(&st)
            {
                return Err(not_a_dir(end, &st));
            }
            pos = end + 1 + leading_slashes(&dst[end + 1..]);
        }
        list.reverse();
        if !list.is_empty() {
            self.operands.push(list);
        }
        Ok((
            path(dst.len()),
            self.dry_run && self.would_make.contains(&path(dirlen)),
        ))
    }

    /// The status of a source directory (symlinks followed), and its ACLs
    /// when the mode is preserved.
    fn source_dir(&self, src: &Path) -> Result<(SrcStat, Xattrs), Failure> {
        let failed = |e: std::io::Error| CopyError::new(Op::ParentAttrs, src, e);
        // O_PATH|O_DIRECTORY: like stat, and ENOTDIR for anything but a directory.
        let fd = super::open_dir_path(src).map_err(failed)?;
        let st = rustix::fs::fstat(&fd).map_err(|e| failed(e.into()))?;
        let acls = match self.preserve.mode {
            true => xattr::read_at(fd.as_fd(), c".", true).unwrap_or_default(),
            false => Xattrs::new(),
        };
        Ok((SrcStat::from_stat(&st), acls))
    }

    /// Make one missing directory, whose source's status `fix` holds, and
    /// let its owner write into it while the copy runs.
    fn make_one(&self, fix: &mut Fixup) -> Result<(), Failure> {
        let (rel, path) = (fix.rel.as_c_str(), fix.path.as_path());
        let p = &self.preserve;
        let src_mode = fix.st.mode;
        // Bits left out until the copy is done, so that nobody else gets in
        // before the owner and the mode are right (GNU's omitted_permissions).
        let mut omitted = src_mode
            & if p.ownership {
                0o077
            } else if p.mode {
                0o022
            } else {
                0
            };
        let base = if p.no_mode { 0o777 } else { src_mode };
        let mode = base & 0o7777 & !omitted;
        let target = self
            .target()
            .map_err(|e| CopyError::new(Op::ParentMkdir, path, e.into()))?;
        rustix::fs::mkdirat(target, rel, Mode::from_raw_mode(mode))
            .map_err(|e| CopyError::new(Op::ParentMkdir, path, e.into()))?;
        let st = rustix::fs::statat(target, rel, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| CopyError::new(Op::ParentAttrs, path, e.into()))?;
        let made = st.st_mode & 0o7777;
        if !p.mode {
            if omitted & !made != 0 {
                omitted &= !self.umask;
            }
            if omitted & !made != 0 || made & 0o700 != 0o700 {
                fix.st.mode = made | omitted;
                fix.restore_mode = true;
            }
        }
        if made | 0o700 != made {
            rustix::fs::chmodat(
                target,
                rel,
                Mode::from_raw_mode(made | 0o700),
                AtFlags::empty(),
            )
            .map_err(|e| CopyError::new(Op::SetPerms, path, e.into()))?;
        }
        Ok(())
    }

    /// Give the directories on the way their final attributes (GNU's
    /// `re_protect`), operand by operand; an operand's first failure is
    /// reported and ends its list.
    pub fn apply(&self, progress: &dyn Progress) {
        for list in &self.operands {
            if let Err(e) = self.reprotect(list) {
                progress.error(&e);
            }
        }
    }

    fn reprotect(&self, list: &[Fixup]) -> Result<(), CopyError> {
        let p = &self.preserve;
        let Some(dir) = self.target.as_ref().map(|fd| fd.as_fd()) else {
            return Ok(()); // (a dry run: nothing was made, nothing is set)
        };
        for f in list {
            let name = f.rel.as_c_str();
            let fail = |op: Op, e: Errno| CopyError::new(op, &f.path, e.into());
            if p.timestamps {
                let ts = |(s, ns): (i64, u32)| Timespec {
                    tv_sec: s,
                    tv_nsec: ns.into(),
                };
                let times = Timestamps {
                    last_access: ts(f.st.atime),
                    last_modification: ts(f.st.mtime),
                };
                rustix::fs::utimensat(dir, name, &times, AtFlags::empty())
                    .map_err(|e| fail(Op::ParentTimes, e))?;
            }
            if p.ownership {
                let chown = |u: Option<Uid>, g: Option<Gid>| {
                    rustix::fs::chownat(dir, name, u, g, AtFlags::SYMLINK_NOFOLLOW)
                };
                let (uid, gid) = (Uid::from_raw(f.st.uid), Gid::from_raw(f.st.gid));
                if let Err(e) = chown(Some(uid), Some(gid)) {
                    if self.privileged || !matches!(e, Errno::PERM | Errno::INVAL) {
                        return Err(fail(Op::PreserveOwner, e));
                    }
                    // Not allowed to give it away: keep at least the group.
                    let _ = chown(None, Some(gid));
                }
            }
            let mode = Mode::from_raw_mode(f.st.mode & 0o7777);
            if p.mode {
                // The source's ACLs, and none it does not have (inherited
                // from a default ACL), then the mode.
                let dst = Dst::At {
                    dir,
                    name,
                    symlink: false,
                };
                xattr::remove_inherited_acls(&f.acls, dst, true);
                if let Some((_, e)) = xattr::write(&f.acls, dst, self.privileged, true).first() {
                    return Err(fail(Op::PreservePerms, *e));
                }
                rustix::fs::chmodat(dir, name, mode, AtFlags::empty())
                    .map_err(|e| fail(Op::PreservePerms, e))?;
            } else if f.restore_mode {
                rustix::fs::chmodat(dir, name, mode, AtFlags::empty())
                    .map_err(|e| fail(Op::ParentPerms, e))?;
            }
        }
        Ok(())
    }
}

fn leading_slashes(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| c == b'/').count()
}

/// The last component of a name, after any leading slashes (gnulib's
/// `last_component`): its offset.
fn last_component(b: &[u8]) -> usize {
    let mut base = leading_slashes(b);
    let mut last_was_slash = false;
    for (i, &c) in b.iter().enumerate().skip(base) {
        if c == b'/' {
            last_was_slash = true;
        } else if last_was_slash {
            base = i;
            last_was_slash = false;
        }
    }
    base
}

/// The length of a name's last component without its trailing slashes,
/// keeping one character (gnulib's `base_len`).
fn base_len(b: &[u8]) -> usize {
    let mut len = b.len();
    while len > 1 && b[len - 1] == b'/' {
        len -= 1;
    }
    len
}

/// The length of the directory part of a name, without the slashes before
/// the last component (gnulib's `dir_len`).
fn dir_len(b: &[u8]) -> usize {
    let prefix = usize::from(b.first() == Some(&b'/'));
    let mut len = last_component(b);
    while prefix < len && b[len - 1] == b'/' {
        len -= 1;
    }
    len
}

/// A name without its trailing slashes; `/` stays (gnulib's `strip_trailing_slashes`).
fn strip_trailing_slashes(b: &[u8]) -> &[u8] {
    let base = last_component(b);
    let base = if base == b.len() { 0 } else { base };
    &b[..base + base_len(&b[base..])]
}

/// DIR and NAME joined with one slash, unless DIR ends in one or NAME
/// starts with one; a root DIR takes NAME without its leading slashes
/// (gnulib's `file_name_concat`). Returns the name and where NAME starts in it.
fn concat(dir: &[u8], name: &[u8]) -> (Vec<u8>, usize) {
    let base = last_component(dir);
    let base_len = base_len(&dir[base..]);
    let dirlen = base + base_len;
    let mut name = name;
    let mut out = dir[..dirlen].to_vec();
    if base_len > 0 {
        if dir[dirlen - 1] != b'/' && name.first() != Some(&b'/') {
            out.push(b'/');
        }
    } else {
        name = &name[leading_slashes(name)..];
    }
    let at = out.len();
    out.extend_from_slice(name);
    (out, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(dir: &str, name: &str) -> (String, usize) {
        let (b, at) = concat(dir.as_bytes(), name.as_bytes());
        (String::from_utf8(b).unwrap(), at)
    }

    #[test]
    fn names_like_gnulib() {
        assert_eq!(cat("D", "a/b/f"), ("D/a/b/f".into(), 2));
        assert_eq!(cat("D/", "a/b/f"), ("D/a/b/f".into(), 2));
        assert_eq!(cat("D//", "./a//b"), ("D/./a//b".into(), 2));
        assert_eq!(cat("D", "/etc/f"), ("D/etc/f".into(), 1));
        assert_eq!(cat("/", "/etc/f"), ("/etc/f".into(), 1));
        assert_eq!(cat("/", "etc"), ("/etc".into(), 1));
        assert_eq!(dir_len(b"D/a//b"), 3);
        assert_eq!(dir_len(b"D/a"), 1);
        assert_eq!(dir_len(b"D/"), 0);
        assert_eq!(dir_len(b"/etc"), 1);
        assert_eq!(strip_trailing_slashes(b"a/b//"), b"a/b");
        assert_eq!(strip_trailing_slashes(b"/"), b"/");
        assert_eq!(strip_trailing_slashes(b"//"), b"/");
        assert_eq!(strip_trailing_slashes(b"a"), b"a");
    }
}
