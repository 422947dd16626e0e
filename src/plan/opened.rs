//! The operands' parent directories, opened once each.
//!
//! `cp -r man1/* dest/` names thousands of operands in one directory. Each
//! [`Root`](super::Root) holds its source and destination parent open until
//! it is walked, so opening them per operand ran out of descriptors
//! (17.9k operands: `Too many open files`). Here every distinct parent path
//! is opened once and shared; each root still gets a [`SrcDir`] of its own
//! over the shared descriptor, which the walker watches to know when an
//! operand is done (`walk::Walker::wait_for`).

use super::open_dir_path;
use crate::tree::{DirFd, DstDir, DstState, SrcDir};
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An operand's source parent.
pub(super) struct SrcParent {
    pub fd: Arc<DirFd>,
    /// Where it is, symlinks resolved (for the overlap checks).
    pub canonical: PathBuf,
}

impl SrcParent {
    /// A source directory of its own for one operand.
    pub fn dir(&self, path: PathBuf) -> Arc<SrcDir> {
        Arc::new(SrcDir::sharing(self.fd.clone(), path, (0, 0), None))
    }
}

/// An operand's destination parent: an existing directory, with nothing to
/// set once the copy is done, so operands can share it whole.
pub(super) struct DstParent {
    pub dir: Arc<DstDir>,
    pub canonical: PathBuf,
}

impl DstParent {
    pub fn fd(&self) -> std::io::Result<BorrowedFd<'_>> {
        match self.dir.state() {
            Some(DstState::Ready { fd, .. }) => Ok(fd.as_fd()),
            // (`DstDir::existing` is always ready.)
            _ => Err(std::io::Error::from_raw_os_error(libc::EBADF)),
        }
    }
}

/// The parents opened so far, by path as the operands name them (the bytes:
/// `Path`'s own hash goes component by component, and costs more).
#[derive(Default)]
pub(super) struct Opened {
    src: HashMap<OsString, Arc<SrcParent>>,
    dst: HashMap<OsString, Arc<DstParent>>,
}

impl Opened {
    /// Directories held open.
    pub fn len(&self) -> usize {
        self.src.len() + self.dst.len()
    }

    pub fn src(&mut self, path: &Path) -> std::io::Result<Arc<SrcParent>> {
        cached(&mut self.src, path, |fd, canonical| SrcParent {
            fd: Arc::new(DirFd::new(fd)),
            canonical,
        })
    }

    pub fn dst(&mut self, path: &Path) -> std::io::Result<Arc<DstParent>> {
        cached(&mut self.dst, path, |fd, canonical| DstParent {
            dir: Arc::new(DstDir::existing(path.to_path_buf(), fd)),
            canonical,
        })
    }

    /// A destination parent a dry run would have made (`--relative`): not
    /// there, so never ready; its canonical path is that of its nearest
    /// existing ancestor with the rest of `path` after it.
    pub fn absent(&mut self, path: &Path) -> Arc<DstParent> {
        if let Some(p) = self.dst.get(path.as_os_str()) {
            return p.clone();
        }
        let canonical = path
            .ancestors()
            .find_map(|a| {
                let fd = open_dir_path(a).ok()?;
                let rest = path.strip_prefix(a).ok()?;
                Some(canonical_dir(&fd).join(rest))
            })
            .unwrap_or_else(|| path.to_path_buf());
        let p = Arc::new(DstParent {
            dir: Arc::new(DstDir::pending(path.to_path_buf(), None)),
            canonical,
        });
        self.dst.insert(path.as_os_str().to_owned(), p.clone());
        p
    }
}

/// `path`'s entry in `map`, opened and made with `make` the first time.
fn cached<T>(
    map: &mut HashMap<OsString, Arc<T>>,
    path: &Path,
    make: impl FnOnce(OwnedFd, PathBuf) -> T,
) -> std::io::Result<Arc<T>> {
    if let Some(p) = map.get(path.as_os_str()) {
        return Ok(p.clone());
    }
    let fd = open_dir_path(path)?;
    let canonical = canonical_dir(&fd);
    let p = Arc::new(make(fd, canonical));
    map.insert(path.as_os_str().to_owned(), p.clone());
    Ok(p)
}

/// The canonical path of an open directory.
fn canonical_dir(fd: &impl AsRawFd) -> PathBuf {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default()
}
