//! Which filesystems clone, asked of paths before a run: the default worker
//! count (`engine::workers`), the walkers' scheduling within btrfs
//! (`walk::ahead`) and `--clone-dest`'s refusal use it. The byte
//! mover itself never guesses: it tries `FICLONE` and remembers the answer.

use std::path::Path;

/// The name [`same_cloning_filesystem`] gives btrfs (the walkers schedule
/// for it: `walk::ahead`).
pub const BTRFS: &str = "btrfs";

/// Filesystems whose files can be cloned within one filesystem, by statfs
/// `f_type`, with their names for messages.
const CLONING: [(i64, &str); 2] = [
    (0x9123_683E, BTRFS),
    (0x5846_5342, "xfs"), // where made with reflink=1 (the default since xfsprogs 5.1)
];

/// The filesystem `path` is on: its statfs type and device, or `None` when it
/// cannot be asked. Never through a symlink: following one moves its atime,
/// and a source operand must not be touched (GNU's `cp -dp SYMLINK` keeps it).
fn filesystem(path: &Path) -> Option<(i64, u64)> {
    let st = rustix::fs::lstat(path).ok()?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink {
        return None;
    }
    let fs = rustix::fs::statfs(path).ok()?;
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between architectures
    Some((fs.f_type as i64, st.st_dev))
}

/// Names of common filesystems that do not clone, for messages.
const OTHERS: [(i64, &str); 5] = [
    (0xEF53, "ext4"),
    (0x0102_1994, "tmpfs"),
    (0x794C_7630, "overlayfs"),
    (0x6969, "nfs"),
    (0x2FC1_2FC1, "zfs"),
];

/// The name of a filesystem type that clones, if `kind` is one.
fn cloning(kind: i64) -> Option<&'static str> {
    CLONING.iter().find(|(k, _)| *k == kind).map(|(_, n)| *n)
}

/// `path` if it exists, else its parent (a destination not made yet).
pub fn existing_or_parent(path: &Path) -> &Path {
    if rustix::fs::lstat(path).is_ok() {
        return path;
    }
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Are `a` and `b` on one filesystem of a type that clones? Its name if so.
pub fn same_cloning_filesystem(a: &Path, b: &Path) -> Option<&'static str> {
    match (filesystem(a), filesystem(b)) {
        (Some((ka, da)), Some((kb, db))) if da == db && ka == kb => cloning(ka),
        _ => None,
    }
}

/// Why files under `from` cannot be cloned to `to`, if they surely cannot:
/// a filesystem that never clones, or two filesystems. (Two btrfs
/// subvolumes have two device numbers yet clone: only their types are
/// compared.) `None` when they may clone, or when either cannot be asked
/// (the copy finds out).
pub fn cannot_clone(from: &Path, to: &Path) -> Option<String> {
    let ((kf, df), (kt, dt)) = (filesystem(from)?, filesystem(to)?);
    let name = |k: i64| match CLONING.iter().chain(&OTHERS).find(|(t, _)| *t == k) {
        Some((_, n)) => n.to_string(),
        None => format!("a filesystem of type {k:#x}"),
    };
    match (cloning(kf), cloning(kt)) {
        (None, _) => Some(format!(
            "{} cannot clone (only btrfs and xfs can)",
            name(kf)
        )),
        (_, None) => Some(format!(
            "{} cannot clone (only btrfs and xfs can)",
            name(kt)
        )),
        _ if kf != kt || (df != dt && cloning(kf) != Some("btrfs")) => {
            Some("they are on two filesystems".to_string())
        }
        _ => None,
    }
}
