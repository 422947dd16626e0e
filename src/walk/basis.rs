//! Basis directories in sync mode (`--link-dest`, `--clone-dest`,
//! `--compare-dest`, `--copy-dest`): before a file that is missing or
//! changed at the destination is sent to be copied, its twin (the same
//! relative path) in each basis directory is looked at, in order; the first
//! twin that is unchanged against the source decides instead of a copy.
//!
//! "Unchanged" is rsync's: the quick check (size and modification time, or
//! `--size-only`, or the contents under `--checksum`) and the attributes the
//! run preserves (the modification time, permissions, owner and group as
//! root, xattrs). So under `-a --size-only` a twin of the same size but
//! another time is not taken: the file is copied from the source. rsync
//! copies the twin there and gives the copy the source's time, so a twin
//! whose bytes differ leaves a copy that every later quick check takes for
//! the source's (a difference on purpose: README; before, uring-cp linked
//! or copied the twin and kept the twin's time). A symlink's twin must have
//! the same target, a special file's the same type and device number; a
//! directory is never taken from a basis (it is made, as rsync does).
//!
//! What the twin is used for: `--link-dest` hard-links the destination to it
//! (symlinks and special files too, as rsync does); `--compare-dest` leaves
//! the entry out; `--copy-dest` and `--clone-dest` copy the file from it
//! instead of from the source (the byte mover clones where it can, so a
//! clone is a new inode sharing the twin's blocks). A link that the
//! filesystem refuses (another filesystem, too many links) falls back to a
//! copy from the source.

use super::Walker;
use super::limit::Allowance;
use crate::config::{Basis, BasisUse};
use crate::error::{CopyError, Op};
use crate::meta::xattr;
use crate::sync::{Kept, xattrs_may_differ};
use crate::tree::{DstDir, SrcDir, SrcStat, join};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The basis directories of one run, and those of the directory being listed.
pub(super) struct Bases {
    use_: BasisUse,
    /// As given on the command line (for messages).
    given: Vec<PathBuf>,
    /// DEST, which relative ones are inside.
    dest: PathBuf,
    /// Each basis directory itself (a relative one inside DEST).
    base_dirs: Vec<PathBuf>,
    /// The operand's destination inside DEST (so inside each basis).
    operand_rel: PathBuf,
    /// Each one's counterpart of the directory being listed, opened when
    /// first needed.
    here: Vec<Slot>,
    /// The directory being listed, inside its operand.
    rel: PathBuf,
    /// Whether the missing ones were reported.
    checked: bool,
}

enum Slot {
    Unopened,
    Missing,
    Open(Arc<SrcDir>),
}

/// What the walker does with an entry after looking at its twins.
pub(super) enum Twin {
    /// No unchanged twin: copy from the source as usual.
    None,
    /// Done here (linked, or left out): nothing to send.
    Done,
    /// Copy it from this directory (the twin's), not the source's.
    CopyFrom(Arc<SrcDir>),
    /// A regular file: send it to be hard-linked to its twin in this
    /// directory (the engine's workers make the links, in parallel).
    LinkFrom(Arc<SrcDir>),
}

impl Bases {
    pub(super) fn new(basis: &Basis, dest: PathBuf) -> Bases {
        Bases {
            use_: basis.use_,
            given: basis.dirs.clone(),
            dest,
            base_dirs: Vec::new(),
            operand_rel: PathBuf::new(),
            here: Vec::new(),
            rel: PathBuf::new(),
            checked: false,
        }
    }

    /// rsync's warning for each basis directory that is not there (the first
    /// snapshot of a rotation has no previous one): the run goes on. Asked
    /// once DEST exists (a relative one may be `DEST/../daily.1`).
    fn missing(&self) -> Vec<String> {
        self.given
            .iter()
            .filter(|d| rustix::fs::stat(before_dest_exists(d, &self.dest)).is_err())
            .map(|d| format!("{} arg does not exist: {}", self.use_.flag(), d.display()))
            .collect()
    }

    /// An operand whose destination is `dest_rel` inside DEST begins.
    pub(super) fn operand(&mut self, dest_rel: &Path) {
        self.base_dirs = self
            .given
            .iter()
            .map(|d| before_dest_exists(d, &self.dest))
            .collect();
        self.operand_rel = dest_rel.to_path_buf();
        self.here.clear();
    }

    /// A directory, `rel` inside its operand, is about to be listed (its
    /// destination exists). Returns the warnings for missing basis
    /// directories the first time.
    pub(super) fn enter(&mut self, rel: &Path) -> Vec<String> {
        self.rel = rel.to_path_buf();
        self.here.clear();
        self.here
            .resize_with(self.base_dirs.len(), || Slot::Unopened);
        match std::mem::replace(&mut self.checked, true) {
            true => Vec::new(),
            false => self.missing(),
        }
    }

    /// The directory being listed, inside DEST: so inside each basis.
    fn inside(&self) -> PathBuf {
        match (
            self.operand_rel.as_os_str().is_empty(),
            self.rel.as_os_str().is_empty(),
        ) {
            (_, true) => self.operand_rel.clone(),
            (true, false) => self.rel.clone(),
            (false, false) => self.operand_rel.join(&self.rel),
        }
    }

    /// Open basis directory `i`'s counterpart of the directory being listed:
    /// the basis directory as given (the user's path, followed), then the
    /// directory's path inside it, never through a symlink. A basis is an
    /// older copy of the tree, so where the source now has a directory it
    /// may have a symlink (`daily.1/sub -> /etc`): followed, files outside
    /// every basis would be taken as twins, linked into DEST or copied from
    /// (rsync follows it). Such a counterpart is missing: no twins there.
    fn open_below(&self, i: usize) -> Result<OwnedFd, Errno> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let root = rustix::fs::open(&self.base_dirs[i], flags, Mode::empty())?;
        let inside = self.inside();
        if inside.as_os_str().is_empty() {
            return Ok(root);
        }
        let how = ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH;
        match rustix::fs::openat2(&root, &inside, flags, Mode::empty(), how) {
            // (No openat2: kernels before 5.6, or a filter refusing it.)
            Err(Errno::NOSYS | Errno::PERM | Errno::INVAL) => {}
            other => return other,
        }
        let mut fd = root;
        for name in inside.components() {
            fd = rustix::fs::openat(
                &fd,
                name.as_os_str(),
                flags | OFlags::NOFOLLOW,
                Mode::empty(),
            )?;
        }
        Ok(fd)
    }

    /// Basis directory `i`'s counterpart of the directory being listed.
    fn dir(&mut self, i: usize) -> Option<Arc<SrcDir>> {
        if let Slot::Unopened = self.here[i] {
            let inside = self.inside();
            let path = match inside.as_os_str().is_empty() {
                true => self.base_dirs[i].clone(),
                false => self.base_dirs[i].join(inside),
            };
            self.here[i] = match self.open_below(i) {
                Ok(fd) => Slot::Open(Arc::new(SrcDir::new(fd, path, (0, 0), None))),
                Err(_) => Slot::Missing,
            };
        }
        match &self.here[i] {
            Slot::Open(d) => Some(d.clone()),
            _ => None,
        }
    }
}

/// A source entry that may be taken from a basis directory.
pub(super) struct Candidate<'a> {
    pub src_dir: BorrowedFd<'a>,
    pub name: &'a CStr,
    pub ft: FileType,
    /// Its status, if the walk has it.
    pub stat: Option<&'a Stat>,
    /// The destination directory (`None` under `--dry-run` when it is not there).
    pub dst: Option<BorrowedFd<'a>>,
    /// The same, for the hard-link map.
    pub dst_dir: &'a Arc<DstDir>,
    pub dst_path: &'a Path,
    /// Whether the name is at the destination (it is then replaced atomically).
    pub exists: bool,
    /// `--itemize-changes` details of the copy a twin replaces.
    pub changes: &'a str,
}

impl Walker {
    /// Should an entry of type `ft` whose destination exists, of type `dft`,
    /// look for a twin before the quick check against the destination? As
    /// rsync: a regular file under `--link-dest` (an up-to-date copy that is
    /// not the twin's inode is linked to the twin) or `--compare-dest` (it is
    /// removed); anything else only when it is to be written.
    pub(super) fn twin_first(&self, ft: FileType, dft: FileType) -> bool {
        ft == FileType::RegularFile
            && dft == FileType::RegularFile
            && self
                .bases
                .as_ref()
                .is_some_and(|b| matches!(b.use_, BasisUse::Link | BasisUse::Compare))
    }

    /// Is the existing destination file `dst_name` in `dst_dir` kept as it
    /// is, whatever the basis directories hold: under `--ignore-existing`,
    /// or `-u` where it is newer than the source `name` in `src_dir`? Then
    /// no twin replaces it (`--link-dest`) or removes it (`--compare-dest`),
    /// as with rsync; uring-cp did both, losing the data those options keep.
    /// (The statuses are read here when the walk has not.)
    pub(super) fn kept_whatever_twins(
        &self,
        src_dir: BorrowedFd<'_>,
        name: &CStr,
        src: Option<&Stat>,
        dst_dir: BorrowedFd<'_>,
        dst_name: &CStr,
        dst: Option<&Stat>,
    ) -> bool {
        if self.sync.ignore_existing {
            return true;
        }
        if !self.sync.update {
            return false;
        }
        let stat = |dir, name, have: Option<&Stat>| match have {
            Some(st) => Some(*st),
            None => rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok(),
        };
        match (stat(src_dir, name, src), stat(dst_dir, dst_name, dst)) {
            (Some(s), Some(d)) => crate::sync::newer_kept(&s, &d, &self.sync),
            // The quick check reports what cannot be read.
            _ => false,
        }
    }

    /// Look for an unchanged twin of `c` in the basis directories, and act on
    /// the first one found.
    pub(super) fn use_twin(&mut self, c: Candidate<'_>) -> Twin {
        let Some(use_) = self.bases.as_ref().map(|b| b.use_) else {
            return Twin::None;
        };
        if c.ft == FileType::Directory || (c.dst.is_none() && !self.sync.dry_run) {
            return Twin::None;
        }
        if matches!(use_, BasisUse::Copy | BasisUse::Clone) && c.ft != FileType::RegularFile {
            return Twin::None; // made anew from the source
        }
        let src_st = match c.stat {
            Some(st) => *st,
            None => match rustix::fs::statat(c.src_dir, c.name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(_) => return Twin::None, // the copy reports it
            },
        };
        // A file with other names, under -H: copied from the source, so
        // that its names are one file in the copy (the engine's hard-link
        // map knows the source's inode, not a twin's), with the same bytes
        // and attributes as an unchanged twin's. (--clone-dest: such a file
        // shares no blocks with its twin.)
        if matches!(use_, BasisUse::Copy | BasisUse::Clone)
            && src_st.st_nlink > 1
            && self.archive.preserve.links
        {
            return Twin::None;
        }
        let kept = self.kept();
        let count = self.bases.as_ref().map_or(0, |b| b.base_dirs.len());
        for i in 0..count {
            let Some(dir) = self.bases.as_mut().and_then(|b| b.dir(i)) else {
                continue;
            };
            let Some(twin) = self.unchanged_twin(kept, c.src_dir, c.name, &src_st, dir.fd.as_fd())
            else {
                continue;
            };
            return match use_ {
                BasisUse::Compare => self.leave_out(&c),
                BasisUse::Copy | BasisUse::Clone => {
                    let action = if use_ == BasisUse::Clone {
                        "cloned"
                    } else {
                        "copied"
                    };
                    self.itemize(action, c.ft, c.changes, c.dst_path);
                    Twin::CopyFrom(dir)
                }
                BasisUse::Link => self.link(&c, &dir, &twin, &src_st),
            };
        }
        Twin::None
    }

    /// `--compare-dest`: the entry is not to be in the destination; one
    /// that is there is removed (rsync does the same).
    fn leave_out(&mut self, c: &Candidate<'_>) -> Twin {
        if !c.exists {
            return Twin::Done;
        }
        // Not counted against --max-delete, as rsync: the same bytes are in
        // the basis.
        let Some(dst) = c.dst else {
            return Twin::Done;
        };
        self.taker().allowed(
            dst,
            parent(c.dst_path),
            (c.name, Path::new("")),
            c.ft,
            Allowance::Whole,
        );
        Twin::Done
    }

    /// `--link-dest`: make the entry (status `src`) a hard link of its twin
    /// (`twin`, in `dir`), unless it already is one.
    ///
    /// A regular file with other names in the source (under `-H`, which
    /// `-a` implies) is linked here, not by a worker, and stands for its
    /// names in the hard-link map: the names met after it are linked to it,
    /// with or without twins of their own, so they stay one file as in the
    /// source (as rsync -H). One met after another name of its file was
    /// copied or kept takes that copy instead of its twin. Before, the
    /// twin's name was linked to the twin and the file's other names copied
    /// apart: one file of the source was two in the copy, exit 0.
    fn link(&self, c: &Candidate<'_>, dir: &Arc<SrcDir>, twin: &Stat, src: &Stat) -> Twin {
        if c.exists
            && let Some(dst) = c.dst
            && let Ok(st) = rustix::fs::statat(dst, c.name, AtFlags::SYMLINK_NOFOLLOW)
            && (st.st_dev, st.st_ino) == (twin.st_dev, twin.st_ino)
        {
            return Twin::None; // already linked: the quick check goes on
        }
        let group =
            (c.ft == FileType::RegularFile && src.st_nlink > 1 && self.archive.preserve.links)
                .then(|| SrcStat::from_stat(src));
        if let Some(st) = &group
            && self.links.has(st)
        {
            return Twin::None; // linked to its file's copy by the engine
        }
        // -b: what the link replaces is kept (the engine keeps a regular
        // file, once its link is made; here it is only said under --dry-run).
        if c.exists
            && let Some(dst) = c.dst
            && (c.ft != FileType::RegularFile || self.sync.dry_run || group.is_some())
            && let Err(e) = self.back_up_existing(dst, parent(c.dst_path), c.name)
        {
            self.progress
                .error(&CopyError::new(Op::Backup, c.dst_path, e));
            return Twin::Done;
        }
        if c.ft == FileType::RegularFile && group.is_none() {
            self.itemize("linked", c.ft, c.changes, c.dst_path);
            return Twin::LinkFrom(dir.clone());
        }
        match self.link_twin(dir, c.name, c.dst, c.exists) {
            Ok(()) => {
                if let Some(st) = &group {
                    let id = (twin.st_dev, twin.st_ino);
                    // (Not in the map, so nothing to link this name to.)
                    let _ = self.links.existing(st, c.dst_dir, c.name, id);
                }
                self.itemize("linked", c.ft, c.changes, c.dst_path);
                Twin::Done
            }
            // Another filesystem, too many links: copy instead.
            Err(Errno::XDEV | Errno::MLINK | Errno::PERM) => Twin::None,
            Err(e) => {
                let from = join(&dir.path, c.name);
                self.progress.error(&CopyError::new(
                    Op::Link,
                    c.dst_path,
                    std::io::Error::other(format!(
                        "cannot link to {}: {}",
                        crate::error::quote(&from),
                        crate::error::strip_os_suffix(&e.into())
                    )),
                ));
                Twin::Done
            }
        }
    }

    /// The status of `name` in the basis directory `dir` if it is an
    /// unchanged twin of the source entry `name` in `src_dir` (status `src`).
    /// See the module docs.
    fn unchanged_twin(
        &self,
        kept: Kept,
        src_dir: BorrowedFd<'_>,
        name: &CStr,
        src: &Stat,
        dir: BorrowedFd<'_>,
    ) -> Option<Stat> {
        let twin = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
        let ft = FileType::from_raw_mode(src.st_mode);
        if FileType::from_raw_mode(twin.st_mode) != ft {
            return None;
        }
        let o = &self.sync;
        let p = &self.archive.preserve;
        let same_time = !crate::sync::mtimes_differ(src, &twin, o.modify_window);
        let same = match ft {
            FileType::RegularFile => {
                src.st_size == twin.st_size
                    && match (o.checksum, o.size_only) {
                        _ if o.never_unchanged() => false,
                        (true, _) => {
                            (same_time || !p.timestamps)
                                && self.same_bytes(src_dir, name, dir, src.st_size as u64)
                        }
                        // The time too where times are kept, as rsync's
                        // link, compare or copy of a twin needs (see the
                        // module docs).
                        (false, true) => same_time || !p.timestamps,
                        (false, false) => same_time,
                    }
            }
            FileType::Symlink => {
                (same_time || !p.timestamps)
                    && rustix::fs::readlinkat(src_dir, name, Vec::new()).ok()
                        == rustix::fs::readlinkat(dir, name, Vec::new()).ok()
            }
            _ => (same_time || !p.timestamps) && src.st_rdev == twin.st_rdev,
        };
        // (xattrs are listed only where they may differ, as for a
        // destination in sync mode: see `sync::xattrs_may_differ`.)
        let unchanged = same
            && (!kept.perms
                || ft == FileType::Symlink
                || src.st_mode & 0o7777 == twin.st_mode & 0o7777)
            && (!kept.owner || (src.st_uid, src.st_gid) == (twin.st_uid, twin.st_gid))
            && (!p.xattr
                || !xattrs_may_differ(src, &twin, self.run_start)
                || same_xattrs(src_dir, dir, name));
        unchanged.then_some(twin)
    }

    /// `--checksum`: the contents of the source and of its twin, compared.
    fn same_bytes(
        &self,
        src_dir: BorrowedFd<'_>,
        name: &CStr,
        dir: BorrowedFd<'_>,
        size: u64,
    ) -> bool {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK;
        let (Ok(a), Ok(b)) = (
            rustix::fs::openat(src_dir, name, flags, Mode::empty()),
            rustix::fs::openat(dir, name, flags, Mode::empty()),
        ) else {
            return false;
        };
        crate::sync::same_content(a.as_fd(), b.as_fd(), size).unwrap_or(false)
    }

    /// Hard-link `name` in `dst` to its twin in `dir`; an existing `name` is
    /// replaced atomically (a link under a temporary name, renamed over it).
    fn link_twin(
        &self,
        dir: &SrcDir,
        name: &CStr,
        dst: Option<BorrowedFd<'_>>,
        exists: bool,
    ) -> Result<(), Errno> {
        let Some(dst) = dst.filter(|_| !self.sync.dry_run) else {
            return Ok(()); // --dry-run: said, not done
        };
        if !exists {
            return rustix::fs::linkat(&dir.fd, name, dst, name, AtFlags::empty());
        }
        crate::sync::link_over(dir.fd.as_fd(), name, dst, name)
    }
}

/// Do `name` in `a` and in `b` have the same xattrs (as far as they can be
/// read; a filesystem without xattrs has none)?
fn same_xattrs(a: BorrowedFd<'_>, b: BorrowedFd<'_>, name: &CStr) -> bool {
    let read = |dir| match xattr::read_at(dir, name, false) {
        Err(e) if xattr::unsupported(e) => Ok(Default::default()),
        other => other,
    };
    match (read(a), read(b)) {
        (Ok(x), Ok(y)) => xattr::same(&x, &y),
        _ => false,
    }
}

/// Where the basis directory `dir` is, also before the run makes DEST
/// (`dest`): a relative `../x` of a DEST still to be made is `x` in DEST's
/// parent (the directory the run makes there), so `--dry-run` and the
/// checks before the copy find it too.
fn before_dest_exists(dir: &Path, dest: &Path) -> PathBuf {
    if dir.is_absolute() || rustix::fs::lstat(dest).is_ok() {
        return Basis::tree_root(dir, dest, Path::new(""));
    }
    let parent = crate::engine::mover::clonefs::existing_or_parent(dest);
    match dir.strip_prefix("..") {
        Ok(rest) => parent.join(rest),
        Err(_) => dest.join(dir), // inside a DEST not made yet: not there
    }
}

/// `--clone-dest`: refuse before anything is copied when a basis directory
/// that exists is on a filesystem that cannot clone into DEST's (rsync's
/// snapshot idiom would silently turn into full copies).
pub fn refuse_clone_dest(basis: &Basis, dest: &Path) -> Result<(), String> {
    if basis.use_ != BasisUse::Clone {
        return Ok(());
    }
    let to = crate::engine::mover::clonefs::existing_or_parent(dest);
    for dir in &basis.dirs {
        let from = before_dest_exists(dir, dest);
        if let Some(why) = crate::engine::mover::clonefs::cannot_clone(&from, to) {
            return Err(format!(
                "--clone-dest {}: cannot clone into {}: {why}",
                crate::error::quote(dir),
                crate::error::quote(dest)
            ));
        }
    }
    Ok(())
}

/// The directory part of a destination path (for backups' relative paths).
fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}
