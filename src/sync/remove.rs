//! `--remove-source-files` (rsync's): once a non-directory is at the
//! destination (copied, linked, or already there and up to date), its source
//! name is removed, making the run a move (between filesystems, too).
//! Directories stay, as with rsync.
//!
//! Never a source whose copy failed (callers remove only after success), and
//! never one that changed after it was copied: just before the unlink its
//! status is taken again and must still be the one the copy matched (the same
//! inode, size and modification time; not the change time, which every
//! removed name of a multiply-linked file moves). What changed is left in
//! place and reported, so the run exits 1.

use rustix::fs::AtFlags;
use rustix::io::Errno;
use std::ffi::CStr;
use std::os::fd::BorrowedFd;

/// What identifies the content a copy was made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
}

impl Copied {
    #[allow(clippy::unnecessary_cast)] // the field types differ between architectures
    pub fn of(st: &rustix::fs::Stat) -> Copied {
        Copied {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: st.st_size as u64,
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
        }
    }
}

/// Remove the source `name` in `dir` if it is still what was copied
/// (`copied`); `follow`: the copy was of what a symlink there points to.
/// A source already gone is fine.
pub fn remove_source(
    dir: BorrowedFd<'_>,
    name: &CStr,
    copied: &Copied,
    follow: bool,
) -> Result<(), std::io::Error> {
    let flags = match follow {
        true => AtFlags::empty(),
        false => AtFlags::SYMLINK_NOFOLLOW,
    };
    let now = match rustix::fs::statat(dir, name, flags) {
        Ok(st) => Copied::of(&st),
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if now != *copied {
        return Err(std::io::Error::other(
            "it changed after it was copied; left in place",
        ));
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
