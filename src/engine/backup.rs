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

use crate::config::{Backup, BackupKind};
use rustix::fs::AtFlags;
use rustix::io::Errno;
use std::ffi::{CStr, CString};
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;

/// Give `name` in `dir` its backup name; returns that name. `Ok(None)` when
/// `name` no longer exists (nothing to keep, as cp).
pub fn make(dir: BorrowedFd<'_>, name: &CStr, b: &Backup) -> Result<Option<CString>, Errno> {
    let backup = name_for(dir, name, b)?;
    let temp = crate::sync::temp_name(name);
    match rustix::fs::linkat(dir, name, dir, &temp, AtFlags::empty()) {
        Ok(()) => {
            let renamed = rustix::fs::renameat(dir, &temp, dir, &backup);
            // (A rename onto another name of the same inode does nothing and
            // leaves the temporary name.)
            let _ = rustix::fs::unlinkat(dir, &temp, AtFlags::empty());
            renamed?;
        }
        Err(Errno::NOENT) => return Ok(None),
        // No hard links here (or too many): move it aside, as cp does.
        Err(Errno::PERM | Errno::MLINK | Errno::NOTSUP | Errno::XDEV) => {
            match rustix::fs::renameat(dir, name, dir, &backup) {
                Err(Errno::NOENT) => return Ok(None),
                other => other?,
            }
        }
        Err(e) => return Err(e),
    }
    Ok(Some(backup))
}

/// The backup name of `name` in `dir` under `b`'s rules.
pub fn name_for(dir: BorrowedFd<'_>, name: &CStr, b: &Backup) -> Result<CString, Errno> {
    let simple = || join(name.to_bytes(), b.suffix.as_bytes());
    let highest = match b.kind {
        BackupKind::Simple => return Ok(simple()),
        BackupKind::Numbered | BackupKind::Existing => highest_number(dir, name.to_bytes())?,
    };
    Ok(match (b.kind, highest) {
        (BackupKind::Existing, None) => simple(),
        (_, n) => join(
            name.to_bytes(),
            format!(".~{}~", n.unwrap_or(0) + 1).as_bytes(),
        ),
    })
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
}
