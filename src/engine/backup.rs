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
/// into: that directory itself (`None`), or its counterpart in
/// `--backup-dir`, made if missing.
///
/// Below DEST every directory is the tree's: the source can put a symlink
/// at any of its names (`sub -> /etc`), and a run can move one into the
/// backup directory (the backup of a symlink the source made a directory).
/// So inside the backup directory, and on the way to it where it is inside
/// DEST, each level is opened `O_NOFOLLOW` relative to the one above and a
/// symlink or file in the way is an error naming it: a backup is never
/// moved through a symlink, out of the tree. (DEST itself, and a backup
/// directory given outside it, are the user's paths, followed as given.)
fn destination(dir_path: &Path, b: &Backup) -> std::io::Result<(Option<OwnedFd>, PathBuf)> {
    let Some(d) = &b.dir else {
        return Ok((None, dir_path.to_path_buf()));
    };
    let rel = inside_dest(d, dir_path)?;
    let (mut fd, mut path) = open_root(d)?;
    let mut like = d.dest.clone();
    for c in rel.components() {
        path.push(c);
        like.push(c);
        fd = enter_or_make(fd.as_fd(), c.as_os_str(), &path, Some(&like), d)?;
    }
    Ok((Some(fd), path))
}

/// The backup directory itself, opened (made where missing, like DEST).
/// A relative DIR of plain names, or DEST's path (as given) and plain names
/// below it, is inside DEST: entered level by level from DEST, never
/// through a symlink; any other is the user's path as given.
fn open_root(d: &crate::config::BackupDir) -> std::io::Result<(OwnedFd, PathBuf)> {
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let root = d.root();
    if let Some(names) = d.names_below_dest() {
        let mut fd = rustix::fs::open(&d.dest, dir_flags, Mode::empty())
            .map_err(|e| cannot_create(&root, e.into()))?;
        let mut path = d.dest.clone();
        let last = names.len() - 1;
        for (i, n) in names.into_iter().enumerate() {
            path.push(n);
            // DIR's own directories on the way are plain ones (as `mkdir
            // -p` makes them); DIR itself is like DEST.
            let like = (i == last).then_some(d.dest.as_path());
            fd = enter_or_make(fd.as_fd(), n, &path, like, d)?;
        }
        return Ok((fd, root));
    }
    if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .create(parent)
            .map_err(|e| cannot_create(parent, e))?;
    }
    let made = match rustix::fs::mkdir(&root, Mode::RWXU) {
        Ok(()) => true,
        Err(Errno::EXIST) => false,
        Err(e) => return Err(cannot_create(&root, e.into())),
    };
    let fd = rustix::fs::open(&root, dir_flags, Mode::empty())
        .map_err(|e| cannot_create(&root, e.into()))?;
    if made {
        take_attributes(&fd, &root, &d.dest, d)?;
    }
    Ok((fd, root))
}

/// Open the directory `name` in `parent`, never through a symlink; make it
/// where missing, with the attributes of `like` (or plain, `None`).
fn enter_or_make(
    parent: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    path: &Path,
    like: Option<&Path>,
    d: &crate::config::BackupDir,
) -> std::io::Result<OwnedFd> {
    let open = || {
        rustix::fs::openat(
            parent,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    // (An older backup of a symlink or file of that name: kept, and this
    // backup not made; rsync removes it.)
    let in_the_way = || {
        let what = match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                "a symlink (not followed)"
            }
            _ => "not a directory",
        };
        std::io::Error::other(format!(
            "backup directory {} is {what}",
            crate::error::quote(path)
        ))
    };
    match open() {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOTDIR | Errno::LOOP) => return Err(in_the_way()),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(cannot_create(path, e.into())),
    }
    let plain = Mode::from_raw_mode(0o777);
    let made = match rustix::fs::mkdirat(parent, name, like.map_or(plain, |_| Mode::RWXU)) {
        Ok(()) => true,
        Err(Errno::EXIST) => false, // made meanwhile (by another run)
        Err(e) => return Err(cannot_create(path, e.into())),
    };
    let fd = match open() {
        Ok(fd) => fd,
        Err(Errno::NOTDIR | Errno::LOOP) => return Err(in_the_way()),
        Err(e) => return Err(cannot_create(path, e.into())),
    };
    if let (true, Some(like)) = (made, like) {
        take_attributes(&fd, path, like, d)?;
    }
    Ok(fd)
}

/// Give a directory just made in the backup directory the permission bits
/// of its counterpart `like` in DEST (and, as `-o`/`-g` keep owners, its
/// owner and group), as rsync does: a backup is never open to more users
/// than its original was. A counterpart that cannot be read (or is not a
/// directory) leaves it owner-only. Not root: the owner keeps rwx, so the
/// backups can be moved in.
fn take_attributes(
    fd: &OwnedFd,
    path: &Path,
    like: &Path,
    d: &crate::config::BackupDir,
) -> std::io::Result<()> {
    // (DEST itself is the user's path, followed; what is below it is not.)
    let follow = match like == d.dest {
        true => AtFlags::empty(),
        false => AtFlags::SYMLINK_NOFOLLOW,
    };
    let st = rustix::fs::statat(rustix::fs::CWD, like, follow)
        .ok()
        .filter(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
    let Some(st) = st else {
        return Ok(()); // made owner-only
    };
    let root = rustix::process::geteuid().is_root();
    if d.owners {
        let owner = (root || st.st_uid == rustix::process::geteuid().as_raw())
            .then(|| rustix::fs::Uid::from_raw(st.st_uid));
        match rustix::fs::fchown(fd, owner, Some(rustix::fs::Gid::from_raw(st.st_gid))) {
            // (Not root: a group we are not in, or another owner, stays ours.)
            Ok(()) | Err(Errno::PERM) => {}
            Err(e) => return Err(cannot_create(path, e.into())),
        }
    }
    let mut mode = st.st_mode & 0o7777;
    if !root {
        mode |= 0o700;
    }
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode)).map_err(|e| cannot_create(path, e.into()))
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
