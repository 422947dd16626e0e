//! A tree captured as a sorted list of [`Entry`], walked through directory
//! descriptors so paths past PATH_MAX work, and the differences between two.

use super::*;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    Fifo,
    Socket,
    CharDev,
    BlockDev,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Content {
    None,
    /// Files up to [`INLINE_MAX`] bytes are kept verbatim.
    Bytes(Vec<u8>),
    /// Larger files: a 64-bit digest.
    Digest(u64),
    Unreadable(String),
}

pub const INLINE_MAX: u64 = 64 * 1024;

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Content::None => write!(f, "-"),
            Content::Bytes(b) if b.len() <= 64 => write!(f, "b\"{}\"", show(b)),
            Content::Bytes(b) => write!(
                f,
                "b\"{}\"...({} bytes, digest {:016x})",
                show(&b[..48]),
                b.len(),
                digest(b)
            ),
            Content::Digest(d) => write!(f, "digest {d:016x}"),
            Content::Unreadable(e) => write!(f, "unreadable({e})"),
        }
    }
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Path relative to the snapshot root; the root itself is `.`.
    pub path: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    /// Size for regular files and symlinks; 0 otherwise (dir sizes are fs noise).
    pub size: u64,
    pub content: Content,
    pub link_target: Option<Vec<u8>>,
    pub rdev: Option<u64>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} {:04o} size={}",
            show(&self.path),
            self.kind,
            self.mode,
            self.size
        )?;
        if !matches!(self.content, Content::None) {
            write!(f, " {:?}", self.content)?;
        }
        if let Some(t) = &self.link_target {
            write!(f, " -> {}", show(t))?;
        }
        if let Some(r) = self.rdev {
            write!(f, " rdev={r:#x}")?;
        }
        Ok(())
    }
}

/// A fast-enough content digest (word-at-a-time multiply/rotate hash). Not
/// cryptographic: it only has to detect copy bugs.
pub fn digest(data: &[u8]) -> u64 {
    let mut h: u64 =
        0xcbf2_9ce4_8422_2325 ^ (data.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
    }
    for &b in chunks.remainder() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 31)
}

pub fn fd_path(dir: &File, name: &OsStr) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    if !name.is_empty() {
        p.push(name);
    }
    p
}

/// The kind of entry `md` describes (from an lstat).
pub fn kind_of(md: &fs::Metadata) -> Kind {
    let ft = md.file_type();
    if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_fifo() {
        Kind::Fifo
    } else if ft.is_socket() {
        Kind::Socket
    } else if ft.is_char_device() {
        Kind::CharDev
    } else {
        Kind::BlockDev
    }
}

fn make_entry(path: Vec<u8>, p: &Path, md: &fs::Metadata) -> Entry {
    let kind = kind_of(md);
    let mut e = Entry {
        path,
        kind,
        mode: md.mode() & 0o7777,
        size: 0,
        content: Content::None,
        link_target: None,
        rdev: None,
    };
    match kind {
        Kind::File => {
            e.size = md.len();
            e.content = match fs::read(p) {
                Ok(data) if data.len() as u64 <= INLINE_MAX => Content::Bytes(data),
                Ok(data) => Content::Digest(digest(&data)),
                Err(err) => Content::Unreadable(format!("{:?}", err.kind())),
            };
        }
        Kind::Symlink => {
            e.size = md.len();
            e.link_target = Some(
                fs::read_link(p)
                    .expect("readlink")
                    .into_os_string()
                    .into_vec(),
            );
        }
        Kind::CharDev | Kind::BlockDev => e.rdev = Some(md.rdev()),
        _ => {}
    }
    e
}

fn walk(dir: &File, prefix: &[u8], out: &mut Vec<Entry>) {
    let mut names: Vec<OsString> = match fs::read_dir(fd_path(dir, OsStr::new(""))) {
        Ok(rd) => rd.map(|e| e.expect("readdir entry").file_name()).collect(),
        Err(_) => return, // unreadable dir: recorded by its own entry's mode only
    };
    names.sort();
    for name in names {
        let p = fd_path(dir, &name);
        let md = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
        let mut rel = prefix.to_vec();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(name.as_bytes());
        let entry = make_entry(rel.clone(), &p, &md);
        out.push(entry);
        if md.is_dir()
            && let Ok(sub) = File::open(&p)
        {
            walk(&sub, &rel, out);
        }
    }
}

/// Capture the tree at `root` (the root itself is the entry `.`), sorted by
/// path. Works for paths longer than PATH_MAX (walks via directory fds).
pub fn snapshot(root: &Path) -> Vec<Entry> {
    let md = fs::symlink_metadata(root).unwrap_or_else(|e| panic!("lstat {}: {e}", root.display()));
    let mut out = vec![make_entry(b".".to_vec(), root, &md)];
    if md.is_dir() {
        let d = File::open(root).unwrap_or_else(|e| panic!("open {}: {e}", root.display()));
        walk(&d, b"", &mut out);
    }
    out.sort();
    out
}

/// Describe the differences between two snapshots (empty if equal).
pub fn diff_snapshots(a: &[Entry], b: &[Entry], a_name: &str, b_name: &str) -> Vec<String> {
    diff_by_path(a, b, |e| &e.path, a_name, b_name)
}

/// The differences between two lists of per-path records (empty if equal):
/// paths only on one side, and records that differ.
pub fn diff_by_path<T: PartialEq + fmt::Debug>(
    a: &[T],
    b: &[T],
    path: impl Fn(&T) -> &[u8],
    a_name: &str,
    b_name: &str,
) -> Vec<String> {
    use std::collections::BTreeMap;
    let am: BTreeMap<&[u8], &T> = a.iter().map(|e| (path(e), e)).collect();
    let bm: BTreeMap<&[u8], &T> = b.iter().map(|e| (path(e), e)).collect();
    let mut out = Vec::new();
    for (p, ea) in &am {
        match bm.get(p) {
            None => out.push(format!("only in {a_name}: {ea:?}")),
            Some(eb) if eb != ea => out.push(format!(
                "differs: {a_name}: {ea:?}\n          {b_name}: {eb:?}"
            )),
            _ => {}
        }
    }
    for (p, eb) in &bm {
        if !am.contains_key(p) {
            out.push(format!("only in {b_name}: {eb:?}"));
        }
    }
    out
}

pub fn assert_snapshots_eq(ctx: &str, a: &[Entry], b: &[Entry], a_name: &str, b_name: &str) {
    let d = diff_snapshots(a, b, a_name, b_name);
    if !d.is_empty() {
        let n = d.len();
        let shown: Vec<String> = d.into_iter().take(40).collect();
        panic!(
            "{ctx}: trees differ ({n} differences{}):\n  {}",
            if n > 40 { ", first 40 shown" } else { "" },
            shown.join("\n  ")
        );
    }
}

pub fn filter_snapshot(s: &[Entry], keep: impl Fn(&[u8]) -> bool) -> Vec<Entry> {
    s.iter().filter(|e| keep(&e.path)).cloned().collect()
}
