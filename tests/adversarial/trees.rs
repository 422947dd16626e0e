//! Tree snapshots and the comparisons the invariants are made of.

use crate::common::{self, Content, Kind, Meta, MetaOpts};
use std::collections::BTreeMap;
use std::path::Path;

// ---------------------------------------------------------------------------
// Trees
// ---------------------------------------------------------------------------

/// Every attribute `cp -a` keeps, with the atime blanked (reading a file
/// moves it); empty if `root` does not exist.
pub fn tree(root: &Path) -> Vec<Meta> {
    if std::fs::symlink_metadata(root).is_err() {
        return Vec::new();
    }
    let mut v = common::meta_snapshot(root, &MetaOpts { times: true });
    for m in &mut v {
        if let Some(t) = &mut m.times {
            t[0] = (0, 0);
        }
    }
    v
}

pub fn by_path(t: &[Meta]) -> BTreeMap<&[u8], &Meta> {
    t.iter().map(|m| (m.path.as_slice(), m)).collect()
}

/// Same kind and the same data (content of a file, target of a symlink,
/// device number).
pub fn same_data(a: &Meta, b: &Meta) -> bool {
    a.kind == b.kind
        && match a.kind {
            Kind::File => a.content == b.content,
            Kind::Symlink => a.link_target == b.link_target,
            Kind::CharDev | Kind::BlockDev => a.rdev == b.rdev,
            _ => true,
        }
}

/// Same data and every attribute `-a` keeps (the mtime of directories
/// included; the atime was blanked by [`tree`]).
pub fn same_archive(a: &Meta, b: &Meta) -> bool {
    same_data(a, b)
        && a.mode == b.mode
        && a.uid == b.uid
        && a.gid == b.gid
        && a.times == b.times
        && a.link_group.as_ref().map(|l| l.1) == b.link_group.as_ref().map(|l| l.1)
}

pub fn is_temp(path: &[u8]) -> bool {
    path.rsplit(|&c| c == b'/')
        .next()
        .is_some_and(|n| n.starts_with(b".~ucp."))
}

pub fn temps(t: &[Meta]) -> Vec<String> {
    t.iter()
        .filter(|m| is_temp(&m.path))
        .map(|m| common::show(&m.path))
        .collect()
}

/// Short description of an entry for reports.
pub fn brief(m: Option<&Meta>) -> String {
    let Some(m) = m else {
        return "absent".into();
    };
    match (&m.kind, &m.content) {
        (Kind::File, Content::Bytes(b)) => {
            let zeros = b.iter().take_while(|&&c| c == 0).count();
            format!(
                "file of {} bytes{}",
                b.len(),
                if zeros > 0 {
                    format!(" starting with {zeros} zero bytes")
                } else {
                    String::new()
                }
            )
        }
        (Kind::File, _) => format!("file of {} bytes (digest {:?})", m.size, m.content),
        (Kind::Symlink, _) => format!(
            "symlink -> {}",
            common::show(m.link_target.as_deref().unwrap_or_default())
        ),
        (k, _) => format!("{k:?} mode {:04o}", m.mode),
    }
}

/// Differences between a source and its copy, for the paths of the source
/// (`archive`: with modes, owners, times, hard links).
pub fn copy_differences(src: &[Meta], dst: &[Meta], archive: bool) -> Vec<String> {
    let d = by_path(dst);
    let mut out = Vec::new();
    for s in src {
        match d.get(s.path.as_slice()) {
            None => out.push(format!("{} missing", common::show(&s.path))),
            Some(c) if !same_data(s, c) => out.push(format!(
                "{}: source {} but copy {}",
                common::show(&s.path),
                brief(Some(s)),
                brief(Some(c))
            )),
            Some(c) if archive && !same_archive(s, c) => out.push(format!(
                "{}: attributes differ: source {s:?} / copy {c:?}",
                common::show(&s.path)
            )),
            _ => {}
        }
    }
    out
}

/// Whether stderr reports a failure the way the README promises: a line
/// naming a quoted path and what was being done to it.
pub fn names_path_and_operation(stderr: &str) -> bool {
    const OPS: &[&str] = &[
        "cannot ",
        "error ",
        "failed ",
        "changed while",
        "stopped:",
        "not ",
        "skipping",
        "preserving ",
    ];
    stderr
        .lines()
        .any(|l| l.contains('\'') && OPS.iter().any(|op| l.contains(op)))
}
