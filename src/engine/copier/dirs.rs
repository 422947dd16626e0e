//! Destination directories: made (the portable engine and the walker), or
//! opened after another made them (a ring's `MKDIRAT`, a walker ahead, sync
//! mode's listing), never through a symlink, with cp's refusal when a
//! non-directory is in the way.

use crate::error::{Failure, Op, quote};
use crate::tree::{DstState, Item};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::os::fd::{BorrowedFd, OwnedFd};

/// After `mkdirat` answered: open the new or existing directory. `made` is
/// whether mkdir created it. Fails like cp when a non-directory is in the way.
pub fn open_made_dir(item: &Item, parent: BorrowedFd<'_>, made: bool) -> Result<DstState, Failure> {
    match open_dir(item, parent) {
        Ok(fd) => Ok(DstState::Ready { fd, fresh: made }),
        Err(e) => Err(dir_failure(item, e)),
    }
}

/// Sync mode: open the directory its parent's listing found at the
/// destination (no `mkdir` that can only fail); make it if it has gone since.
pub fn open_listed_dir(
    item: &Item,
    parent: BorrowedFd<'_>,
    mode: u32,
) -> Result<DstState, Failure> {
    match open_dir(item, parent) {
        Ok(fd) => Ok(DstState::Ready { fd, fresh: false }),
        Err(Errno::NOENT) => make_dir(item, parent, mode),
        Err(e) => Err(dir_failure(item, e)),
    }
}

/// Open the destination directory of `item` in `parent`, not through a symlink.
fn open_dir(item: &Item, parent: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        parent,
        item.dst_name(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Opening a destination directory failed with `e`: a non-directory in the
/// way is cp's refusal.
fn dir_failure(item: &Item, e: Errno) -> Failure {
    match e {
        Errno::NOTDIR | Errno::LOOP => not_a_dir(item),
        e => item.error(Op::Mkdir, true, e.into()).into(),
    }
}

/// cp's refusal to put a directory where a non-directory is.
pub fn not_a_dir(item: &Item) -> Failure {
    Failure::Msg(format!(
        "cannot overwrite non-directory {} with directory {}",
        quote(&item.dst_path()),
        quote(&item.src_path())
    ))
}

/// Create a directory synchronously (portable engine), or reuse an existing one.
pub fn make_dir(item: &Item, parent: BorrowedFd<'_>, mode: u32) -> Result<DstState, Failure> {
    match rustix::fs::mkdirat(parent, item.dst_name(), Mode::from_raw_mode(mode)) {
        Ok(()) => open_made_dir(item, parent, true),
        Err(Errno::EXIST) => open_made_dir(item, parent, false),
        Err(e) => Err(item.error(Op::Mkdir, true, e.into()).into()),
    }
}
