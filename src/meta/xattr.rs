//! Extended attributes: reading a source's, writing them on a copy.
//!
//! Which ones, as cp (libattr's `/etc/xattr.conf` defaults): the POSIX ACLs
//! (`system.posix_acl_access`, `system.posix_acl_default`) go with the mode,
//! not with `xattr`; the SELinux label goes with `context` (not supported);
//! `security.evm`, NFSv4 ACLs and XFS's internal `trusted.SGI_*` and `xfsroot.*`
//! are never copied. Everything else (`user.*`; `trusted.*`, which only root
//! can read; `security.*` such as file capabilities) is.
//!
//! Reading costs one `listxattr` for a file with no attributes (nearly all),
//! into a stack buffer: no allocation.

use super::Dst;
use rustix::fs::{Mode, XattrFlags};
use rustix::io::Errno;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd};

/// A source's attributes: names and values.
pub type Xattrs = Vec<(CString, Vec<u8>)>;

const ACLS: [&[u8]; 2] = [b"system.posix_acl_access", b"system.posix_acl_default"];

/// Never copied (see the module docs).
fn skipped(name: &[u8]) -> bool {
    name == b"security.selinux"
        || name == b"security.evm"
        || name == b"system.nfs4_acl"
        || name == b"system.nfs4acl"
        || name.starts_with(b"trusted.SGI_")
        || name.starts_with(b"xfsroot.")
}

fn is_acl(name: &[u8]) -> bool {
    ACLS.contains(&name)
}

/// The filesystem has no xattrs, or none of this kind: not worth a word.
pub fn unsupported(e: Errno) -> bool {
    matches!(e, Errno::NOTSUP | Errno::NOSYS)
}

/// `/proc/self/fd/<dir>/<name>`: a path to an entry of an open directory, for
/// the xattr calls that have no `*at` form.
fn proc_path(dir: BorrowedFd<'_>, name: &CStr) -> CString {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name.to_bytes());
    // A name from a directory or a CStr has no interior NUL.
    CString::new(p).unwrap_or_default()
}

fn read_with(
    list: impl Fn(&mut [u8]) -> Result<usize, Errno>,
    query: impl Fn() -> Result<usize, Errno>,
    get: impl Fn(&CStr, &mut [u8]) -> Result<usize, Errno>,
    get_query: impl Fn(&CStr) -> Result<usize, Errno>,
) -> Result<Xattrs, Errno> {
    let mut small = [0u8; 1024];
    let mut big = Vec::new();
    let names: &[u8] = match list(&mut small) {
        Ok(0) => return Ok(Vec::new()),
        Ok(n) => &small[..n],
        Err(Errno::RANGE) => loop {
            big.resize(query()?, 0);
            match list(&mut big) {
                Ok(n) => break &big[..n],
                Err(Errno::RANGE) => continue,
                Err(e) => return Err(e),
            }
        },
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if skipped(name) {
            continue;
        }
        let Ok(name) = CString::new(name) else {
            continue;
        };
        let mut value = vec![0u8; 256];
        loop {
            match get(&name, &mut value) {
                Ok(n) => {
                    value.truncate(n);
                    break;
                }
                Err(Errno::RANGE) => value.resize(get_query(&name)?, 0),
                // Removed since it was listed.
                Err(Errno::NODATA) => {
                    value.clear();
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        out.push((name, value));
    }
    Ok(out)
}

/// The attributes of an open file or directory.
pub fn read_fd(fd: BorrowedFd<'_>) -> Result<Xattrs, Errno> {
    read_with(
        |b| rustix::fs::flistxattr(fd, b),
        || rustix::fs::flistxattr_query(fd),
        |n, b| rustix::fs::fgetxattr(fd, n, b),
        |n| rustix::fs::fgetxattr_query(fd, n),
    )
}

/// The attributes of `name` in `dir`, of the symlink itself unless `follow`.
pub fn read_at(dir: BorrowedFd<'_>, name: &CStr, follow: bool) -> Result<Xattrs, Errno> {
    let path = proc_path(dir, name);
    let path = path.as_c_str();
    if follow {
        read_with(
            |b| rustix::fs::listxattr(path, b),
            || rustix::fs::listxattr_query(path),
            |n, b| rustix::fs::getxattr(path, n, b),
            |n| rustix::fs::getxattr_query(path, n),
        )
    } else {
        read_with(
            |b| rustix::fs::llistxattr(path, b),
            || rustix::fs::llistxattr_query(path),
            |n, b| rustix::fs::lgetxattr(path, n, b),
            |n| rustix::fs::lgetxattr_query(path, n),
        )
    }
}

/// Do two lists hold the same attributes, in whatever order?
pub fn same(a: &Xattrs, b: &Xattrs) -> bool {
    let (mut a, mut b): (Vec<_>, Vec<_>) = (a.iter().collect(), b.iter().collect());
    a.sort();
    b.sort();
    a == b
}

/// Sync mode: make the attributes of `dst` (a symlink itself, never its
/// target) exactly `src`: remove what the source does not have, then set
/// the source's. Returns whether anything had to change.
pub fn mirror(src: &Xattrs, dst: Dst<'_>) -> Result<bool, Errno> {
    if !remove_others(src, dst)? {
        return Ok(false);
    }
    for acls in [false, true] {
        if let Some((_, e)) = write(src, dst, false, acls).first() {
            return Err(*e);
        }
    }
    Ok(true)
}

/// Remove the attributes of `dst` (a symlink itself, never its target) that
/// `src` does not have. Returns whether `dst`'s differ from `src` at all.
pub fn remove_others(src: &Xattrs, dst: Dst<'_>) -> Result<bool, Errno> {
    let (have, path) = match dst {
        Dst::Fd(fd) => (read_fd(fd)?, None),
        Dst::At { dir, name, .. } => (read_at(dir, name, false)?, Some(proc_path(dir, name))),
    };
    if same(src, &have) {
        return Ok(false);
    }
    for (k, _) in &have {
        if !src.iter().any(|(n, _)| n == k) {
            match (dst, &path) {
                (Dst::Fd(fd), _) => rustix::fs::fremovexattr(fd, k)?,
                (_, Some(p)) => rustix::fs::lremovexattr(p.as_c_str(), k)?,
                _ => return Err(Errno::BADF),
            }
        }
    }
    Ok(true)
}

/// Write the ACLs (`acls`) or the other attributes of `attrs` on `dst`.
/// Returns the failures (name and error); after one, the others are still
/// tried, as cp does.
pub fn write<'a>(
    attrs: &'a Xattrs,
    dst: Dst<'_>,
    privileged: bool,
    acls: bool,
) -> Vec<(&'a CStr, Errno)> {
    let mut failed = Vec::new();
    let mut unlocked: Option<u32> = None;
    let path = match dst {
        Dst::At { dir, name, .. } => Some(proc_path(dir, name)),
        Dst::Fd(_) => None,
    };
    for (name, value) in attrs {
        if is_acl(name.to_bytes()) != acls {
            continue;
        }
        let set = || match (&dst, &path) {
            (Dst::Fd(fd), _) => rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty()),
            (_, Some(p)) => rustix::fs::lsetxattr(p.as_c_str(), name, value, XattrFlags::empty()),
            _ => Err(Errno::BADF),
        };
        let mut r = set();
        if r == Err(Errno::ACCESS)
            && !privileged
            && unlocked.is_none()
            && let Dst::Fd(fd) = dst
            && let Ok(st) = rustix::fs::fstat(fd)
            && st.st_mode & 0o200 == 0
        {
            // The kernel wants write permission for user.* attributes even
            // from the owner: open the copy up while they are set, as cp does.
            let mode = st.st_mode & 0o7777;
            if rustix::fs::fchmod(fd, Mode::from_raw_mode(mode | 0o600)).is_ok() {
                unlocked = Some(mode);
                r = set();
            }
        }
        if let Err(e) = r {
            failed.push((name.as_c_str(), e));
        }
    }
    if let (Some(mode), Dst::Fd(fd)) = (unlocked, dst) {
        let _ = rustix::fs::fchmod(fd, Mode::from_raw_mode(mode));
    }
    failed
}

/// Remove the ACLs a copy inherited from its directory's default ACL where
/// the source has none of that kind (cp gives a copy exactly the source's).
pub fn remove_inherited_acls(attrs: &Xattrs, dst: Dst<'_>, is_dir: bool) {
    for acl in &ACLS[..if is_dir { 2 } else { 1 }] {
        if attrs.iter().any(|(n, _)| n.to_bytes() == *acl) {
            continue;
        }
        let Ok(name) = CString::new(*acl) else {
            continue;
        };
        // ENODATA (nothing inherited) and ENOTSUP (no ACLs here) are fine.
        let _ = match dst {
            Dst::Fd(fd) => rustix::fs::fremovexattr(fd, &name),
            Dst::At {
                dir, name: entry, ..
            } => rustix::fs::lremovexattr(proc_path(dir, entry).as_c_str(), &name),
        };
    }
}
