//! `-l`/`--link` and `-s`/`--symbolic-link`: each non-directory becomes a
//! link to its source instead of a copy (directories are still made).
//!
//! cp's rules for an existing destination hold: -n and -u skip it, -i asks,
//! -b keeps it under its backup name, and it is replaced only under -f,
//! --remove-destination or -b (for -l, also after -i's yes), or where cp
//! removes it first anyway (the source is a symlink copied as one; links are
//! preserved and it has several names); otherwise the link fails with "File
//! exists". A replacement is made under a
//! temporary name and renamed over the old entry, so a failure keeps it.

use super::FileCopier;
use crate::config::{LinkMode, Overwrite};
use crate::engine::outcome::{Done, Outcome};
use crate::error::{CopyError, Failure, Op, quote, strip_os_suffix};
use crate::tree::{Item, Kind};
use rustix::fs::AtFlags;
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

/// Make `item`'s destination a link to its source. `Done::Skipped` when it was
/// left alone (skipped, or already that very file).
pub fn make(
    fc: &FileCopier,
    item: &Item,
    dst: BorrowedFd<'_>,
    fresh: bool,
    mode: LinkMode,
) -> Outcome {
    let src = item.src_path();
    let target = CString::new(src.as_os_str().as_bytes()).unwrap_or_default();
    if mode == LinkMode::Symbolic && !src.is_absolute() && !in_current_dir(dst) {
        // The link would point elsewhere than the source.
        return Err(Failure::Msg(format!(
            "{}: can make relative symbolic links only in current directory",
            item.dst_path().display()
        )));
    }
    let follow = matches!(item.kind, Kind::File { follow: true, .. });
    let link = |name: &CStr| -> Result<(), CopyError> {
        match mode {
            LinkMode::Hard => rustix::fs::linkat(
                &item.src_dir.fd,
                &item.name,
                dst,
                name,
                if follow {
                    AtFlags::SYMLINK_FOLLOW
                } else {
                    AtFlags::empty()
                },
            )
            .map_err(|e| item.error(Op::Link, true, e.into())),
            LinkMode::Symbolic => rustix::fs::symlinkat(target.as_c_str(), dst, name)
                .map_err(|e| item.error(Op::Symlink, true, e.into())),
        }
    };
    let result = match link(item.dst_name()) {
        Ok(()) => Ok(Done::Linked),
        Err(e) if !fresh && e.source.raw_os_error() == Some(libc::EEXIST) => {
            replace_existing(fc, item, dst, mode, follow, e, &link)
        }
        Err(e) => Err(Failure::Io(e)),
    };
    // cp names both ends: "cannot create hard link 'dst' to 'src'".
    result.map_err(|f| match f {
        Failure::Io(e) if matches!(e.op, Op::Link | Op::Symlink) && e.path == item.dst_path() => {
            let what = match mode {
                LinkMode::Hard => "hard",
                LinkMode::Symbolic => "symbolic",
            };
            Failure::Msg(format!(
                "cannot create {what} link {} to {}: {}",
                quote(&e.path),
                quote(&src),
                strip_os_suffix(&e.source)
            ))
        }
        other => other,
    })
}

/// The destination exists (`exists` is the EEXIST of the first try).
fn replace_existing(
    fc: &FileCopier,
    item: &Item,
    dst: BorrowedFd<'_>,
    mode: LinkMode,
    follow: bool,
    exists: CopyError,
    link: &dyn Fn(&CStr) -> Result<(), CopyError>,
) -> Outcome {
    if mode == LinkMode::Hard && already_linked(item, dst, follow) {
        return Ok(Done::Skipped);
    }
    if !fc.may_replace(item, dst)? {
        return Ok(Done::Skipped);
    }
    // cp also removes the destination first when the source is a symlink
    // copied as one, or where a copy would (`removes_linked_destination`).
    let removed_first = matches!(item.kind, Kind::Symlink { .. })
        || rustix::fs::statat(dst, item.dst_name(), AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| fc.removes_linked_destination(&st));
    let replace = fc.backup.is_some()
        || fc.remove_destination
        || fc.overwrite == Overwrite::Force
        || (mode == LinkMode::Hard && fc.interactive)
        || removed_first;
    if !replace {
        return Err(Failure::Io(exists));
    }
    fc.replace(item, dst, link, false)?;
    Ok(Done::Linked)
}

/// Is the destination already a hard link of the source? (cp does nothing then.)
fn already_linked(item: &Item, dst: BorrowedFd<'_>, follow: bool) -> bool {
    let flags = if follow {
        AtFlags::empty()
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    };
    match (
        rustix::fs::statat(&item.src_dir.fd, &item.name, flags),
        rustix::fs::statat(dst, item.dst_name(), AtFlags::SYMLINK_NOFOLLOW),
    ) {
        (Ok(s), Ok(d)) => (s.st_dev, s.st_ino) == (d.st_dev, d.st_ino),
        _ => false,
    }
}

/// Is `dir` the working directory? A relative symlink target is only right
/// there.
fn in_current_dir(dir: BorrowedFd<'_>) -> bool {
    match (rustix::fs::fstat(dir), rustix::fs::stat(".")) {
        (Ok(d), Ok(cwd)) => (d.st_dev, d.st_ino) == (cwd.st_dev, cwd.st_ino),
        // cp: a failed stat is not this check's to report.
        _ => true,
    }
}

/// `--link-dest`: make `item`'s destination a hard link of its source, an
/// unchanged twin in a basis directory (the walker compared them). An
/// existing destination is replaced atomically (a link under a temporary
/// name, renamed over it) unless it already is the twin. Where the
/// filesystem will not link (another filesystem, too many links), the twin
/// is copied instead: the same bytes and attributes as the source's.
pub fn twin(
    fc: &FileCopier,
    item: &Item,
    dst: BorrowedFd<'_>,
    fresh: bool,
    buf: &mut Vec<u8>,
) -> Outcome {
    let link =
        |name: &CStr| rustix::fs::linkat(&item.src_dir.fd, &item.name, dst, name, AtFlags::empty());
    let linked = match link(item.dst_name()) {
        Err(rustix::io::Errno::EXIST) if !fresh => {
            if already_linked(item, dst, false) {
                return Ok(Done::Skipped);
            }
            // -b: the file the link replaces is kept first.
            fc.back_up(item, dst)?;
            crate::sync::link_over(item.src_dir.fd.as_fd(), &item.name, dst, item.dst_name())
        }
        other => other,
    };
    match linked {
        Ok(()) => Ok(Done::Linked),
        Err(rustix::io::Errno::XDEV | rustix::io::Errno::MLINK | rustix::io::Errno::PERM) => {
            let copy = Item {
                kind: Kind::File {
                    follow: false,
                    as_data: false,
                    twin: false,
                },
                ..item.clone()
            };
            fc.copy(&copy, dst, fresh, buf)
        }
        Err(e) => Err(Failure::Msg(format!(
            "cannot create hard link {} to {}: {}",
            quote(&item.dst_path()),
            quote(&item.src_path()),
            strip_os_suffix(&e.into())
        ))),
    }
}
