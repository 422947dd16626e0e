//! Archive mode: a snapshot of every attribute `cp -a` preserves (times,
//! owners, modes, xattrs, sparseness) and its comparison.

use super::*;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Every attribute of an entry that `cp -a` preserves.
#[derive(Clone, PartialEq, Eq)]
pub struct Meta {
    pub path: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// (atime, mtime) as (s, ns), when compared.
    pub times: Option<[(i64, i64); 2]>,
    /// Size and content for files, size for symlinks.
    pub size: u64,
    pub content: Content,
    /// 512-byte blocks allocated, for regular files (holes show here).
    pub blocks: Option<u64>,
    pub link_target: Option<Vec<u8>>,
    pub rdev: Option<u64>,
    /// For a file with several names in the tree: its first name and nlink.
    pub link_group: Option<(Vec<u8>, u64)>,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for Meta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} {:04o} {}:{} size={}",
            show(&self.path),
            self.kind,
            self.mode,
            self.uid,
            self.gid,
            self.size
        )?;
        if let Some([a, m]) = self.times {
            write!(f, " atime={}.{:09} mtime={}.{:09}", a.0, a.1, m.0, m.1)?;
        }
        if let Some(b) = self.blocks {
            write!(f, " blocks={b}")?;
        }
        if !matches!(self.content, Content::None) {
            write!(f, " {:?}", self.content)?;
        }
        if let Some(t) = &self.link_target {
            write!(f, " -> {}", show(t))?;
        }
        if let Some(r) = self.rdev {
            write!(f, " rdev={r:#x}")?;
        }
        if let Some((first, n)) = &self.link_group {
            write!(f, " links={n} with {}", show(first))?;
        }
        for (k, v) in &self.xattrs {
            write!(f, " {}={}", show(k), show(v))?;
        }
        Ok(())
    }
}

/// What [`meta_snapshot`] records.
#[derive(Clone, Copy, Debug)]
pub struct MetaOpts {
    /// atime and mtime (compare only when both tools preserve them).
    pub times: bool,
}

fn xattrs_of(p: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let c = cpath(p);
    let mut names = vec![0u8; 64 * 1024];
    // SAFETY: a valid C string and a buffer of the given length.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return Vec::new();
    }
    names.truncate(n as usize);
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let cn = std::ffi::CString::new(name).expect("name");
        let mut v = vec![0u8; 64 * 1024];
        // SAFETY: valid C strings and a buffer of the given length.
        let m = unsafe { libc::lgetxattr(c.as_ptr(), cn.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        v.truncate(m.max(0) as usize);
        out.push((name.to_vec(), v));
    }
    out.sort();
    out
}

/// Everything but a file's content (read later: reading a file can change
/// the atime of its other names).
fn meta_entry(path: Vec<u8>, p: &Path, md: &fs::Metadata, o: &MetaOpts) -> Meta {
    let mut base = Entry {
        path,
        kind: kind_of(md),
        mode: md.mode() & 0o7777,
        size: 0,
        content: Content::None,
        link_target: None,
        rdev: None,
    };
    match base.kind {
        Kind::File => base.size = md.len(),
        Kind::Symlink => {
            base.size = md.len();
            base.link_target = Some(
                fs::read_link(p)
                    .expect("readlink")
                    .into_os_string()
                    .into_vec(),
            );
        }
        Kind::CharDev | Kind::BlockDev => base.rdev = Some(md.rdev()),
        _ => {}
    }
    Meta {
        path: base.path,
        kind: base.kind,
        mode: base.mode,
        uid: md.uid(),
        gid: md.gid(),
        times: o
            .times
            .then(|| [(md.atime(), md.atime_nsec()), (md.mtime(), md.mtime_nsec())]),
        size: base.size,
        content: base.content,
        blocks: (base.kind == Kind::File).then(|| md.blocks()),
        link_target: base.link_target,
        rdev: base.rdev,
        link_group: (base.kind != Kind::Dir && md.nlink() > 1).then(|| (Vec::new(), md.nlink())),
        xattrs: xattrs_of(p),
    }
}

/// Capture every attribute `cp -a` preserves of the tree at `root`, sorted by
/// path. Each entry is stat'ed before it is read, so reading it (a file's
/// content, a directory's entries) cannot change the atime recorded.
pub fn meta_snapshot(root: &Path, o: &MetaOpts) -> Vec<Meta> {
    fn walk_meta(
        dir: &File,
        prefix: &[u8],
        o: &MetaOpts,
        out: &mut Vec<Meta>,
        inodes: &mut Vec<(u64, Vec<u8>)>,
    ) {
        let mut names: Vec<OsString> = fs::read_dir(fd_path(dir, OsStr::new("")))
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        // Stat every entry before reading any (a read could not change a sibling, but keep it simple).
        let mut mds = Vec::new();
        for name in &names {
            let p = fd_path(dir, name);
            let md =
                fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
            mds.push(md);
        }
        for (name, md) in names.iter().zip(mds) {
            let p = fd_path(dir, name);
            let mut rel = prefix.to_vec();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name.as_bytes());
            if !md.is_dir() && md.nlink() > 1 {
                inodes.push((md.ino(), rel.clone()));
            }
            out.push(meta_entry(rel.clone(), &p, &md, o));
            if md.is_dir()
                && let Ok(sub) = File::open(&p)
            {
                walk_meta(&sub, &rel, o, out, inodes);
            }
        }
    }
    let md = fs::symlink_metadata(root).unwrap_or_else(|e| panic!("lstat {}: {e}", root.display()));
    let mut out = vec![meta_entry(b".".to_vec(), root, &md, o)];
    let mut inodes = Vec::new();
    if md.is_dir() {
        let d = File::open(root).unwrap_or_else(|e| panic!("open {}: {e}", root.display()));
        walk_meta(&d, b"", o, &mut out, &mut inodes);
    }
    // Name each link group by its first path.
    inodes.sort();
    for e in &mut out {
        if let Some((first, _)) = &mut e.link_group {
            let ino = inodes.iter().find(|(_, p)| *p == e.path).map(|(i, _)| *i);
            if let Some(p) = inodes.iter().find(|(i, _)| Some(*i) == ino).map(|(_, p)| p) {
                *first = p.clone();
            }
        }
    }
    // Now that everything is stat'ed: the contents.
    for e in &mut out {
        if e.kind == Kind::File {
            let p = if e.path == b"." {
                root.to_path_buf()
            } else {
                root.join(os(&e.path))
            };
            e.content = match fs::read(&p) {
                Ok(data) if data.len() as u64 <= INLINE_MAX => Content::Bytes(data),
                Ok(data) => Content::Digest(digest(&data)),
                Err(err) => Content::Unreadable(format!("{:?}", err.kind())),
            };
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Compare the attributes of two trees; panics with the differences.
pub fn assert_meta_eq(ctx: &str, ours: &Path, gnu: &Path, o: &MetaOpts) {
    let a = meta_snapshot(ours, o);
    let b = meta_snapshot(gnu, o);
    let d = diff_by_path(&a, &b, |e| &e.path, "uring-cp", "GNU cp");
    if !d.is_empty() {
        let n = d.len();
        panic!(
            "{ctx}: attributes differ ({n} differences{}):\n  {}",
            if n > 40 { ", first 40 shown" } else { "" },
            d.into_iter().take(40).collect::<Vec<_>>().join("\n  ")
        );
    }
}
