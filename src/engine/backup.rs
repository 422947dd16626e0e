//! `-b`/`--backup`: an existing destination that is replaced is kept under a
//! backup name (`NAME~`, or `NAME.~N~` when numbered), as with cp.
//!
//! cp renames the destination to its backup name first and then creates the
//! new file, so for as long as the copy runs, and after a copy that fails,
//! nothing is under the name. Here the new entry is made under a temporary
//! name first (as every replacement is, see `copier::FileCopier::replace`), and
//! only once it is complete does the old entry get its backup name: a hard
//! link renamed onto the backup name (which replaces an older backup of that
//! name in one step), then the new entry is renamed over the name. At every
//! moment the name holds the old or the new entry, and a failed copy changes
//! nothing. Where hard links cannot be made, the old entry is renamed, as cp
//! does.
//!
//! Sync mode adds rsync's `--backup-dir` (the backup keeps its path relative
//! to DEST inside that directory) and backs up what `--delete` would remove
//! ([`move_aside`]): moved, not copied, so the backup directory must be on
//! DEST's filesystem (a clear error otherwise, and the entry stays).

use crate::config::{Backup, BackupKind};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Give `name` in `dir` (whose path is `dir_path`) its backup name, beside
/// it or inside `--backup-dir`, while `name` still holds it (a hard link; see
/// the module docs); returns the backup's path. `Ok(None)` when `name` no
/// longer exists (nothing to keep, as cp).
pub fn make(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &CStr,
    b: &Backup,
) -> std::io::Result<Option<Kept>> {
    let ft = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => FileType::from_raw_mode(st.st_mode),
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let (to, to_path) = destination(dir_path, b)?;
    let to = to.as_ref().map_or(dir, |fd| fd.as_fd());
    let backup = name_for(to, name, b)?;
    let temp = crate::sync::temp_name(name);
    match rustix::fs::linkat(dir, name, to, &temp, AtFlags::empty()) {
        Ok(()) => {
            let renamed = rustix::fs::renameat(to, &temp, to, &backup);
            // (A rename onto another name of the same inode does nothing and
            // leaves the temporary name.)
            let _ = rustix::fs::unlinkat(to, &temp, AtFlags::empty());
            renamed.map_err(|e| refused(e, b))?;
        }
        Err(Errno::NOENT) => return Ok(None),
        // No hard links here (or too many): move it aside, as cp does.
        Err(Errno::PERM | Errno::MLINK | Errno::NOTSUP) => {
            match rustix::fs::renameat(dir, name, to, &backup) {
                Err(Errno::NOENT) => return Ok(None),
                other => other.map_err(|e| refused(e, b))?,
            }
        }
        Err(e) => return Err(refused(e, b)),
    }
    Ok(Some(Kept {
        path: crate::tree::join(&to_path, &backup),
        ft,
    }))
}

/// A backup made: its path and the type of the entry kept.
pub struct Kept {
    pub path: PathBuf,
    pub ft: FileType,
}

/// Sync mode: move the entry `name` of `dir` (at `dir_path`) to its backup
/// name instead of removing it (`--delete`, or an entry of another type in
/// the way). A directory moves whole; where its backup name is a directory
/// already (an earlier backup), its entries are merged into that one.
/// Returns the backup's path; `Ok(None)` when `name` is gone.
pub fn move_aside(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &CStr,
    b: &Backup,
) -> std::io::Result<Option<PathBuf>> {
    let (to, to_path) = destination(dir_path, b)?;
    let to = to.as_ref().map_or(dir, |fd| fd.as_fd());
    let backup = name_for(to, name, b)?;
    match rustix::fs::renameat(dir, name, to, &backup) {
        Ok(()) => {}
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::NOTEMPTY | Errno::EXIST) => {
            merge(dir, name, to, &backup).map_err(|e| refused(e, b))?;
        }
        Err(e) => return Err(refused(e, b)),
    }
    Ok(Some(crate::tree::join(&to_path, &backup)))
}

/// Move every entry of the directory `name` in `dir` into the directory
/// `into` in `to` (recursively where both have a directory of one name),
/// then remove the emptied `name`. A clash of a directory with a
/// non-directory stops it: nothing is removed that was not moved.
fn merge(dir: BorrowedFd<'_>, name: &CStr, to: BorrowedFd<'_>, into: &CStr) -> Result<(), Errno> {
    let open = |d: BorrowedFd<'_>, n: &CStr| {
        rustix::fs::openat(
            d,
            n,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    let from = open(dir, name)?;
    let into_fd = open(to, into)?;
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(&from)? {
        let entry = entry?;
        let n = entry.file_name();
        if n != c"." && n != c".." {
            names.push(n.to_owned());
        }
    }
    for n in &names {
        match rustix::fs::renameat(&from, n, &into_fd, n) {
            Ok(()) => {}
            Err(Errno::NOTEMPTY | Errno::EXIST) => merge(from.as_fd(), n, into_fd.as_fd(), n)?,
            Err(e) => return Err(e),
        }
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)
}

/// The directory a backup of an entry of the directory at `dir_path` goes
/// into: that directory itself
/// (`None`), or its counterpart in `--backup-dir`, made if missing.
fn destination(dir_path: &Path, b: &Backup) -> std::io::Result<(Option<OwnedFd>, PathBuf)> {
    let Some(d) = &b.dir else {
        return Ok((None, dir_path.to_path_buf()));
    };
    let rel = inside_dest(d, dir_path)?;
    // The backup directory, then each directory on the way inside it, made
    // where missing with the permissions of its counterpart in DEST (the
    // umask only takes bits away): a backup is never open to more users
    // than its original was.
    let mut path = d.root();
    let mut like = d.dest.clone();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .create(parent)
            .map_err(|e| cannot_create(parent, e))?;
    }
    make_dir_like(&path, &like)?;
    for c in rel.components() {
        path.push(c);
        like.push(c);
        make_dir_like(&path, &like)?;
    }
    let fd = rustix::fs::open(
        &path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok((Some(fd), path))
}

/// Where the destination directory at `dir_path` is inside DEST: where its
/// backups go inside the backup directory.
fn inside_dest<'a>(d: &crate::config::BackupDir, dir_path: &'a Path) -> std::io::Result<&'a Path> {
    dir_path.strip_prefix(&d.dest).map_err(|_| {
        std::io::Error::other(format!(
            "not inside the destination {}",
            crate::error::quote(&d.dest)
        ))
    })
}

/// Make the directory `path` unless it is there, with the permission bits
/// of the directory `like` (owner-only if those cannot be read).
fn make_dir_like(path: &Path, like: &Path) -> std::io::Result<()> {
    let mode = rustix::fs::stat(like).map_or(0o700, |st| st.st_mode & 0o7777);
    match rustix::fs::mkdir(path, Mode::from_raw_mode(mode)) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(cannot_create(path, e.into())),
    }
}

fn cannot_create(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!(
            "cannot create backup directory {}: {}",
            crate::error::quote(path),
            crate::error::strip_os_suffix(&e)
        ),
    )
}

/// A backup that could not be made, said plainly where the reason is ours.
fn refused(e: Errno, b: &Backup) -> std::io::Error {
    match (e, &b.dir) {
        (Errno::XDEV, Some(d)) => std::io::Error::other(format!(
            "the backup directory {} is on another filesystem",
            crate::error::quote(&d.given)
        )),
        _ => e.into(),
    }
}

/// The backup name of `name` in `dir` under `b`'s rules.
pub fn name_for(dir: BorrowedFd<'_>, name: &CStr, b: &Backup) -> Result<CString, Errno> {
    let highest = match b.kind {
        BackupKind::Simple => None,
        BackupKind::Numbered | BackupKind::Existing => highest_number(dir, name.to_bytes())?,
    };
    Ok(named(name, b, highest))
}

/// The backup name of `name` when the highest numbered backup there is
/// `highest`.
fn named(name: &CStr, b: &Backup, highest: Option<u64>) -> CString {
    match (b.kind, highest) {
        (BackupKind::Simple, _) | (BackupKind::Existing, None) => {
            join(name.to_bytes(), b.suffix.as_bytes())
        }
        (_, n) => join(
            name.to_bytes(),
            format!(".~{}~", n.unwrap_or(0) + 1).as_bytes(),
        ),
    }
}

/// `--dry-run`: the path the backup of `name` in `dir` (at `dir_path`)
/// would get. Nothing is made (a backup directory not there yet holds no
/// backups).
pub fn planned(dir: BorrowedFd<'_>, dir_path: &Path, name: &CStr, b: &Backup) -> PathBuf {
    let Some(d) = &b.dir else {
        let backup = name_for(dir, name, b).unwrap_or_else(|_| named(name, b, None));
        return crate::tree::join(dir_path, &backup);
    };
    let to_path = d
        .root()
        .join(inside_dest(d, dir_path).unwrap_or(Path::new("")));
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let backup = match rustix::fs::open(&to_path, flags, Mode::empty()) {
        Ok(fd) => name_for(fd.as_fd(), name, b).unwrap_or_else(|_| named(name, b, None)),
        Err(_) => named(name, b, None),
    };
    crate::tree::join(&to_path, &backup)
}

/// The highest N of the `NAME.~N~` entries in `dir`, if any.
fn highest_number(dir: BorrowedFd<'_>, name: &[u8]) -> Result<Option<u64>, Errno> {
    let mut highest = None;
    // (Destination directories may be held as O_PATH descriptors, which
    // cannot be listed.)
    let fd = rustix::fs::openat(
        dir,
        c".",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let mut entries = rustix::fs::Dir::new(fd)?;
    while let Some(entry) = entries.read() {
        let entry = entry?;
        if let Some(n) = number_of(entry.file_name().to_bytes(), name) {
            highest = highest.max(Some(n));
        }
    }
    Ok(highest)
}

/// Is `name` a backup's name under `b`: ending in the suffix, or numbered
/// (`NAME.~N~`)? Sync mode's `--delete` leaves those (rsync's rule).
pub fn is_backup_name(name: &CStr, b: &Backup) -> bool {
    let n = name.to_bytes();
    let numbered = || {
        let Some(rest) = n.strip_suffix(b"~") else {
            return false;
        };
        let Some(at) = rest.windows(2).rposition(|w| w == b".~") else {
            return false;
        };
        number_of(n, &n[..at]).is_some()
    };
    (!b.suffix.is_empty() && n.ends_with(b.suffix.as_bytes()))
        || (b.kind != BackupKind::Simple && numbered())
}

/// N, if `entry` is `NAME.~N~` (N decimal, without leading zeros).
fn number_of(entry: &[u8], name: &[u8]) -> Option<u64> {
    let digits = entry
        .strip_prefix(name)?
        .strip_prefix(b".~")?
        .strip_suffix(b"~")?;
    if digits.first().is_none_or(|d| *d == b'0') || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn join(a: &[u8], b: &[u8]) -> CString {
    let mut v = Vec::with_capacity(a.len() + b.len());
    v.extend_from_slice(a);
    v.extend_from_slice(b);
    // Neither part holds a NUL (a file name and a suffix from argv or the
    // environment).
    CString::new(v).unwrap_or_default()
}

/// Would backing up `dst_name` (in the directory holding `src_name`'s source
/// or not) destroy the source? cp's check for simple backups: the source is
/// named `DST + suffix` and is the file `DST + suffix` in the destination's
/// directory (`cp --b=simple a~ a` would rename a over a~, the source).
pub fn would_destroy_source(
    src_name: &CStr,
    src: (u64, u64),
    dst_dir: BorrowedFd<'_>,
    dst_name: &CStr,
    b: &Backup,
) -> bool {
    if b.kind == BackupKind::Numbered {
        return false;
    }
    let simple = join(dst_name.to_bytes(), b.suffix.as_bytes());
    let src_base = std::path::Path::new(std::ffi::OsStr::from_bytes(src_name.to_bytes()));
    let dst_base = std::path::Path::new(std::ffi::OsStr::from_bytes(simple.to_bytes()));
    src_base.file_name() == dst_base.file_name()
        && rustix::fs::statat(dst_dir, &simple, AtFlags::empty())
            .is_ok_and(|st| (st.st_dev, st.st_ino) == src)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number_of(b"f.~12~", b"f"), Some(12));
        assert_eq!(number_of(b"f.~0~", b"f"), None);
        assert_eq!(number_of(b"f.~01~", b"f"), None);
        assert_eq!(number_of(b"f.~~", b"f"), None);
        assert_eq!(number_of(b"f.~1a~", b"f"), None);
        assert_eq!(number_of(b"g.~1~", b"f"), None);
        assert_eq!(number_of(b"f~", b"f"), None);
    }

    #[test]
    fn backup_names() {
        let b = |kind, suffix: &str| Backup {
            kind,
            suffix: suffix.into(),
            dir: None,
        };
        let simple = b(BackupKind::Simple, "~");
        assert!(is_backup_name(c"f~", &simple));
        assert!(!is_backup_name(c"f", &simple));
        assert!(!is_backup_name(c"f.~1~x", &simple));
        let numbered = b(BackupKind::Numbered, ".bak");
        assert!(is_backup_name(c"f.~12~", &numbered));
        assert!(is_backup_name(c"f.bak", &numbered));
        assert!(!is_backup_name(c"f.~01~", &numbered));
        assert!(!is_backup_name(c"f~", &numbered));
    }
}
