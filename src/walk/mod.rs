//! The source walker: one thread that reads the source tree and streams
//! [`Item`]s to the engine through a bounded channel.
//!
//! Why not the `walkdir` crate: walkdir opens every directory by its full path,
//! so it fails past `PATH_MAX` (a requirement here) and makes the kernel resolve
//! every path from the root again; and it cannot hand out the directory
//! descriptors the engine's `*AT` operations need. This walker opens each
//! directory relative to its parent's descriptor, reads it with `getdents64`
//! (rustix's `RawDir`, one reusable buffer), and classifies entries by `d_type`,
//! so a regular file costs the walker no system call at all: the engine stats it.
//!
//! Memory stays bounded by the channel capacity plus the names of directories
//! still to visit along the current path: nothing grows with the tree's size.
//!
//! Items go to one of several shards, one per engine worker. A directory's
//! entries go to one shard, and consecutive directories to different shards,
//! so workers create files in different directories at once instead of
//! queueing on one directory's lock; a big directory's entries rotate between
//! shards every [`ROTATE`] entries so that it is shared too. Every item still
//! comes after the item that creates its directory, and each shard is handled
//! in order, so a worker that waits for a directory always waits for an item
//! that is earlier in the walk: waits cannot form a cycle.

mod sync;

use crate::config::Deref;
use crate::error::{CopyError, IoContext, Op};
use crate::filter::Filter;
use crate::meta::{Archive, DirFinish, SrcStat};
use crate::plan::Root;
use crate::progress::Progress;
use crate::sync::SyncOptions;
use crate::tree::{DstDir, DstState, Item, Kind, SrcDir, join};
use crossbeam_channel::Sender;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, Stat};
use std::ffi::CString;
use std::ffi::OsStr;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How many items may wait between the walker and the engine, over all shards.
pub const QUEUE_DEPTH: usize = 4096;
/// Entries of one directory sent to a shard before moving to the next.
pub const ROTATE: usize = 128;

pub struct Walker {
    tx: Vec<Sender<Item>>,
    /// The shard the current directory's entries go to.
    shard: usize,
    /// The shard the next directory gets.
    next_shard: usize,
    /// Entries of the current directory sent so far.
    in_dir: usize,
    progress: Arc<dyn Progress>,
    deref: Deref,
    recursive: bool,
    umask: u32,
    /// Create destination directories here instead of sending them.
    make_dirs: bool,
    archive: Arc<Archive>,
    /// --exclude/--include: entries left out (not even listed further).
    filter: Arc<Filter>,
    /// --sync: decide per entry; delete extras (see `sync.rs`).
    sync: SyncOptions,
    /// --delete: entries deleted so far (for --max-delete).
    deleted: u64,
    /// Sync mode: attributes an unchanged entry must match (see `sync.rs`).
    kept: Option<crate::sync::Kept>,
    /// getdents buffer for destination directories (sync mode).
    dst_buf: Vec<MaybeUninit<u8>>,
    buf: Vec<MaybeUninit<u8>>,
    /// Directories still to visit (depth-first).
    stack: Vec<PendingDir>,
    /// Each destination operand as (its parent directory's dev and inode,
    /// its name, its path): with symlinks followed, the walk can come upon
    /// the destination it is filling, and must not copy it into itself.
    dests: Vec<((u64, u64), CString, PathBuf)>,
    /// How many directories may be open at once (see
    /// [`Walker::wait_for_descriptors`]).
    dir_budget: usize,
    /// Sync mode: names of multiply-linked sources held back until the end
    /// of the walk (see `dir`), at most [`DEFER_MAX`].
    deferred: Vec<Item>,
    /// -x: stay on the filesystem of the operand being walked (its device).
    one_file_system: bool,
    operand_dev: u64,
    copy_contents: bool,
    /// Multiply-linked symlinks seen: their first status and the names left.
    linked_symlinks: std::collections::HashMap<(u64, u64), (Stat, u64)>,
}

struct PendingDir {
    parent_src: Arc<SrcDir>,
    name: CString,
    parent_dst: Arc<DstDir>,
    dst_name: Option<CString>,
    display: Option<PathBuf>,
    follow: bool,
    /// Its path inside the source operand, for the filter (empty when there
    /// is no filter, and for the operand itself).
    rel: PathBuf,
}

/// The channel to the engine is closed: the engine stopped.
struct Closed;

/// How to walk: what the command line and the engine decided.
pub struct Options {
    pub deref: Deref,
    pub recursive: bool,
    pub umask: u32,
    /// Create destination directories in the walker (see [`crate::engine::Engine::walker_makes_dirs`]).
    pub make_dirs: bool,
    pub archive: Arc<Archive>,
    pub filter: Arc<Filter>,
    pub sync: SyncOptions,
    /// -x: a directory on another filesystem than its operand is made, empty.
    pub one_file_system: bool,
    /// --copy-contents: devices and FIFOs in a tree are read as data.
    pub copy_contents: bool,
}

impl Walker {
    pub fn new(tx: Vec<Sender<Item>>, progress: Arc<dyn Progress>, o: Options) -> Self {
        let o_sync_enabled = o.sync.enabled;
        Walker {
            tx,
            shard: 0,
            next_shard: 0,
            in_dir: 0,
            progress,
            deref: o.deref,
            recursive: o.recursive,
            umask: o.umask,
            make_dirs: o.make_dirs,
            archive: o.archive,
            filter: o.filter,
            sync: o.sync,
            deleted: 0,
            kept: None,
            dst_buf: if o_sync_enabled {
                vec![MaybeUninit::uninit(); 64 << 10]
            } else {
                Vec::new()
            },
            buf: vec![MaybeUninit::uninit(); 64 << 10],
            stack: Vec::new(),
            dests: Vec::new(),
            linked_symlinks: Default::default(),
            deferred: Vec::new(),
            dir_budget: descriptor_budget(),
            one_file_system: o.one_file_system,
            operand_dev: 0,
            copy_contents: o.copy_contents,
        }
    }

    /// Walk every root, in order. Returns when done or when the engine hung up.
    pub fn run(mut self, roots: Vec<Root>) {
        for root in &roots {
            if let Some(DstState::Ready { fd, .. }) = root.dst_dir.state()
                && let Ok(st) = rustix::fs::fstat(fd)
            {
                let path = join(&root.dst_dir.path, &root.dst_name);
                self.dests
                    .push(((st.st_dev, st.st_ino), root.dst_name.clone(), path));
            }
        }
        let mut earlier = Vec::new();
        for root in roots {
            if root.after_earlier && self.wait_for(&earlier).is_err() {
                return;
            }
            earlier.push(Arc::downgrade(&root.src_dir));
            if self.root(root).is_err() {
                return;
            }
        }
        for item in std::mem::take(&mut self.deferred) {
            if self.send(item).is_err() {
                return;
            }
        }
        self.progress.walk_done();
    }

    /// Wait until everything the earlier operands sent is done: each item
    /// holds its source directory, and so the chain up to its operand's, so
    /// an operand is done when its source directory is no longer held. (The
    /// names held back for the end of the walk go first.)
    fn wait_for(&mut self, earlier: &[std::sync::Weak<SrcDir>]) -> Result<(), Closed> {
        for item in std::mem::take(&mut self.deferred) {
            self.send(item)?;
        }
        while earlier.iter().any(|w| w.strong_count() > 0) && !crate::tree::leaked() {
            if crate::interrupt::requested() {
                return Err(Closed);
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(())
    }

    fn send(&self, item: Item) -> Result<(), Closed> {
        if crate::interrupt::requested() {
            return Err(Closed);
        }
        if self.sync.dry_run {
            return Ok(()); // decided and itemized; nothing is written
        }
        self.progress.found(&item);
        self.tx[self.shard % self.tx.len()]
            .send(item)
            .map_err(|_| Closed)
    }

    /// Send a directory's item, or create it here. Returns whether what is
    /// inside can still be created.
    fn send_dir(&self, item: Item, node: &DstDir) -> Result<bool, Closed> {
        if !self.make_dirs {
            // `send` counts it.
            self.send(item)?;
            return Ok(true);
        }
        if crate::interrupt::requested() {
            return Err(Closed);
        }
        self.progress.found(&item);
        crate::engine::ops::create_dir(&item, &*self.progress);
        Ok(!matches!(node.state(), Some(crate::tree::DstState::Failed)))
    }

    fn root(&mut self, root: Root) -> Result<(), Closed> {
        let ft = FileType::from_raw_mode(root.stat.st_mode);
        if ft == FileType::Directory {
            self.stack.push(PendingDir {
                parent_src: root.src_dir,
                name: root.name,
                parent_dst: root.dst_dir,
                dst_name: Some(root.dst_name),
                display: Some(root.display),
                follow: root.follow,
                rel: PathBuf::new(),
            });
            return self.drain();
        }
        if self.sync.enabled
            && let Some(DstState::Ready { fd, .. }) = root.dst_dir.state()
        {
            // A file operand gets the same quick check as a file in a tree
            // (`uring-cp --sync big.iso /backup/` copies it only if it changed).
            let dst_path = join(&root.dst_dir.path, &root.dst_name);
            match rustix::fs::statat(fd, root.dst_name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(dst) => {
                    let step = self.sync_entry(
                        root.src_dir.fd.as_fd(),
                        &root.src_dir.path,
                        &root.dst_dir,
                        fd.as_fd(),
                        &root.name,
                        &root.dst_name,
                        ft,
                        FileType::from_raw_mode(dst.st_mode),
                        Some(&root.stat),
                        root.follow,
                    );
                    if let sync::Step::Skip = step {
                        return Ok(());
                    }
                }
                Err(_) => self.itemize("new", ft, "-", &dst_path),
            }
        }
        let kind = match ft {
            FileType::RegularFile => Kind::File {
                follow: root.follow,
                as_data: false,
            },
            FileType::Symlink => {
                match rustix::fs::readlinkat(&root.src_dir.fd, root.name.as_c_str(), Vec::new())
                    .ctx(Op::ReadLink, &root.display)
                {
                    Ok(target) => Kind::Symlink { target },
                    Err(e) => {
                        self.progress.error(&e);
                        return Ok(());
                    }
                }
            }
            // Without -r, cp reads devices and FIFOs (`cp /dev/null f`); with -r it
            // recreates them (unless --copy-contents).
            _ if !self.recursive || self.copies_contents(&root.stat) => Kind::File {
                follow: root.follow,
                as_data: true,
            },
            _ => special(&root.stat),
        };
        let stat = match kind {
            Kind::File { .. } => None,
            _ => Some(Box::new(SrcStat::from_stat(&root.stat))),
        };
        self.send(Item {
            src_dir: root.src_dir,
            name: root.name,
            dst_dir: root.dst_dir,
            dst_name: Some(root.dst_name),
            display: Some(root.display),
            kind,
            stat,
        })
    }

    fn drain(&mut self) -> Result<(), Closed> {
        while let Some(p) = self.stack.pop() {
            self.dir(p)?;
        }
        Ok(())
    }

    /// Before opening another directory: if the directories open (mostly
    /// held by queued items, source and destination side) use up the
    /// descriptor budget, wait for the engines to finish some. A tree of
    /// many one-file directories otherwise runs out of descriptors with
    /// thousands of items queued. When nothing is queued and nothing has
    /// closed for a while, the open directories are the walk's own (a deep
    /// tree): go on, and let the open fail if it must.
    fn wait_for_descriptors(&self) {
        let start = std::time::Instant::now();
        let mut last = crate::tree::open_dirs();
        let mut still = 0;
        while crate::tree::open_dirs() >= self.dir_budget {
            if crate::interrupt::requested() || start.elapsed().as_secs() >= 10 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
            let now = crate::tree::open_dirs();
            still = if now < last { 0 } else { still + 1 };
            last = now;
            if still >= 100 && self.tx.iter().all(|t| t.is_empty()) {
                return;
            }
        }
    }

    /// Open one directory, announce it, stream its entries, queue its subdirectories.
    fn dir(&mut self, p: PendingDir) -> Result<(), Closed> {
        self.wait_for_descriptors();
        let path = match &p.display {
            Some(d) => d.clone(),
            None => join(&p.parent_src.path, &p.name),
        };
        let nofollow = if p.follow {
            OFlags::empty()
        } else {
            OFlags::NOFOLLOW
        };
        let opened = rustix::fs::openat(
            &p.parent_src.fd,
            p.name.as_c_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | nofollow,
            Mode::empty(),
        )
        .and_then(|fd| rustix::fs::fstat(&fd).map(|st| (fd, st)));
        let (fd, st) = match opened {
            Ok(v) => v,
            Err(open_err) => {
                let mut err = CopyError::new(Op::OpenDir, path, open_err.into());
                if p.display.is_none() {
                    // Found by the walk (an operand that cannot be opened did not vanish).
                    err = err.found_in_walk();
                }
                // Like cp: the directory is still created, then its reading fails.
                let flags = if p.follow {
                    AtFlags::empty()
                } else {
                    AtFlags::SYMLINK_NOFOLLOW
                };
                if let Ok(st) = rustix::fs::statat(&p.parent_src.fd, p.name.as_c_str(), flags) {
                    let (node, mode) = self.dst_node(&p, &st, None);
                    let item = Item {
                        src_dir: p.parent_src,
                        name: p.name,
                        dst_dir: p.parent_dst,
                        dst_name: p.dst_name,
                        display: p.display,
                        kind: Kind::Dir {
                            node: node.clone(),
                            mode,
                        },
                        stat: None,
                    };
                    self.send_dir(item, &node)?;
                }
                self.progress.error(&err);
                return Ok(());
            }
        };
        let dev_ino = (st.st_dev, st.st_ino);
        if let Some((_, _, dst)) = self.dests.iter().find(|(parent, name, _)| {
            *parent == p.parent_src.dev_ino && name.as_c_str() == p.name.as_c_str()
        }) {
            // e.g. `d/up -> ..` under -L, with the destination next to d.
            self.progress.message(&format!(
                "cannot copy a directory, {}, into itself, {}",
                crate::error::quote(&path),
                crate::error::quote(dst)
            ));
            return Ok(());
        }
        if p.follow && p.parent_src.has_ancestor(dev_ino) {
            self.progress.message(&format!(
                "cannot copy {}: it is a directory that contains itself (symlink cycle)",
                crate::error::quote(&path)
            ));
            return Ok(());
        }

        let (node, mode) = if self.sync.dry_run {
            // Nothing is made or changed: the directory as it is, if it is.
            let dst_path = join(&p.parent_dst.path, p.dst_name.as_deref().unwrap_or(&p.name));
            (Arc::new(DstDir::pending(dst_path, None)), 0)
        } else {
            self.dst_node(&p, &st, Some(fd.as_fd()))
        };
        let p_is_operand = p.display.is_some();
        let src = Arc::new(SrcDir::new(fd, path, dev_ino, Some(p.parent_src.clone())));
        // This directory, then its entries, go to the next shard in turn: the
        // worker that handles its entries is the one that creates it.
        self.shard = self.next_shard;
        self.next_shard = (self.next_shard + 1) % self.tx.len();
        self.in_dir = 0;
        let item = Item {
            src_dir: p.parent_src,
            name: p.name,
            dst_dir: p.parent_dst,
            dst_name: p.dst_name,
            display: p.display,
            kind: Kind::Dir {
                node: node.clone(),
                mode,
            },
            stat: None,
        };
        if self.sync.dry_run {
            self.look_at_dir(&item, &node);
        } else if !self.send_dir(item, &node)? {
            // It could not be made (reported): nothing inside can be copied.
            return Ok(());
        }
        if self.sync.enabled && self.archive.preserve.xattr && !self.sync.dry_run {
            self.mirror_dir_xattrs(&src, &st, &node);
        }
        if p_is_operand {
            self.operand_dev = st.st_dev;
        } else if self.one_file_system && st.st_dev != self.operand_dev {
            // -x: a mount point is copied as an empty directory, as cp does.
            return Ok(());
        }

        let first_subdir = self.stack.len();
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.entries(&src, &node, &mut buf, &p.rel);
        self.buf = buf;
        result?;
        // Visit subdirectories in the order they were listed.
        self.stack[first_subdir..].reverse();
        Ok(())
    }

    /// Sync mode: a directory that was already at the destination gets
    /// exactly its source's xattrs now; the attributes set once its
    /// contents are done never remove one. Only looked at when the source's
    /// status changed since the destination's last did.
    fn mirror_dir_xattrs(&self, src: &SrcDir, st: &Stat, node: &DstDir) {
        let Some(DstState::Ready { fd, fresh: false }) = node.state() else {
            return;
        };
        if rustix::fs::fstat(fd).is_ok_and(|dst| crate::sync::xattrs_may_differ(st, &dst)) {
            let (src, dst) = (
                crate::meta::Src::Fd(src.fd.as_fd()),
                crate::meta::Dst::Fd(fd.as_fd()),
            );
            self.xattrs_differ(src, dst, &node.path);
        }
    }

    /// The destination directory for `p`, and the mode to create it with.
    /// `fd`: the open source directory, to read its xattrs from.
    fn dst_node(
        &self,
        p: &PendingDir,
        st: &Stat,
        fd: Option<BorrowedFd<'_>>,
    ) -> (Arc<DstDir>, u32) {
        let path = join(&p.parent_dst.path, p.dst_name.as_deref().unwrap_or(&p.name));
        // cp without -p: the source's bits (sticky kept, set-id dropped) under the umask.
        let want = if self.archive.preserve.no_mode {
            // --no-preserve=mode: the default permissions (cp keeps the
            // sticky bit mkdir gives the copy).
            0o777 | (st.st_mode & 0o1000)
        } else {
            st.st_mode & 0o1777
        };
        // The owner must be able to write into it while it is filled; while
        // the owner is preserved, group and others get nothing until the
        // directory has its owner (cp's rule, as for files), and while the
        // mode is, they cannot write until it has its mode (cp's again).
        let (create, fixup) = if self.archive.preserve.ownership {
            ((want & 0o1700) | 0o700, Some(want & !self.umask))
        } else if self.archive.preserve.mode {
            // DirFinish gives it the source's mode.
            ((want & !0o022) | 0o700, None)
        } else if want & 0o700 == 0o700 {
            (want, None)
        } else {
            (want | 0o700, Some(want & !self.umask))
        };
        // Archive mode: the source's status and xattrs, read now, applied
        // when the copy's contents are all written.
        let attrs = self.archive.dir_attrs().then(|| {
            let xattrs = match fd {
                Some(fd) => self.archive.read_xattrs(crate::meta::Src::Fd(fd), &|| {
                    join(&p.parent_src.path, &p.name)
                }),
                None => Vec::new(),
            };
            (SrcStat::from_stat(st), xattrs)
        });
        let finish = (fixup.is_some() || attrs.is_some()).then(|| {
            Box::new(DirFinish {
                mode: fixup,
                attrs,
                archive: self.archive.clone(),
            })
        });
        (Arc::new(DstDir::pending(path, finish)), create)
    }

    fn entries(
        &mut self,
        src: &Arc<SrcDir>,
        dst: &Arc<DstDir>,
        buf: &mut [MaybeUninit<u8>],
        dir_rel: &Path,
    ) -> Result<(), Closed> {
        // Sync mode in a directory that existed before: what is there now.
        let dst_fd = match dst.state() {
            Some(DstState::Ready { fd, fresh: false }) if self.sync.enabled => Some(fd.as_fd()),
            _ => None,
        };
        let mut there = dst_fd.and_then(|fd| self.list_dst(fd, &dst.path, src.fd.as_fd()));
        let mut listed = true;
        let mut dir = RawDir::new(src.fd.as_fd(), buf);
        while let Some(entry) = dir.next() {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.progress
                        .error(&CopyError::new(Op::ReadDir, &src.path, e.into()).found_in_walk());
                    listed = false;
                    break;
                }
            };
            let name = entry.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            // Whatever happens to it below, the source has it: never delete it.
            let existing = there.as_mut().and_then(|m| m.remove(name));
            let name = name.to_owned();
            let mut ft = entry.file_type();
            let mut follow = false;
            let mut stat = None;
            if ft == FileType::Unknown
                || ft == FileType::Fifo
                || ft == FileType::CharacterDevice
                || ft == FileType::BlockDevice
                || ft == FileType::Socket
                || (ft == FileType::Symlink && self.deref == Deref::Always)
            {
                follow = ft == FileType::Symlink;
                let flags = if follow {
                    AtFlags::empty()
                } else {
                    AtFlags::SYMLINK_NOFOLLOW
                };
                match rustix::fs::statat(&src.fd, name.as_c_str(), flags) {
                    Ok(st) => {
                        ft = FileType::from_raw_mode(st.st_mode);
                        stat = Some(st);
                    }
                    Err(e) => {
                        let err = CopyError::new(Op::Stat, join(&src.path, &name), e.into());
                        // Following a symlink, ENOENT means it dangles: a
                        // failure, as in cp, not a vanished file.
                        let err = if follow { err } else { err.found_in_walk() };
                        self.progress.error(&err);
                        continue;
                    }
                }
            }
            let mut rel = PathBuf::new();
            if !self.filter.is_empty() {
                rel = dir_rel.join(OsStr::from_bytes(name.to_bytes()));
                if self.filter.excluded(&rel, ft == FileType::Directory) {
                    continue;
                }
            }
            // Sync mode, in a destination directory that was there: a name
            // of a multiply-linked source that is to be copied waits for the
            // end of the walk, when every unchanged name of its inode has
            // been met, so that it is linked to one of them (as rsync -H)
            // rather than copied, whatever the order of the walk.
            let mut defer = false;
            if self.sync.enabled
                && dst_fd.is_some()
                && ft != FileType::Directory
                && self.archive.preserve.links
                && self.deferred.len() < DEFER_MAX
            {
                if stat.is_none() {
                    let flags = if follow {
                        AtFlags::empty()
                    } else {
                        AtFlags::SYMLINK_NOFOLLOW
                    };
                    stat = rustix::fs::statat(&src.fd, name.as_c_str(), flags).ok();
                }
                defer = stat.as_ref().is_some_and(|st| st.st_nlink > 1);
            }
            if self.sync.enabled {
                match (dst_fd, existing) {
                    (Some(dfd), Some(dft)) => {
                        let step = self.sync_entry(
                            src.fd.as_fd(),
                            &src.path,
                            dst,
                            dfd,
                            &name,
                            &name,
                            ft,
                            dft,
                            stat.as_ref(),
                            follow,
                        );
                        if let sync::Step::Skip = step {
                            self.count_entry();
                            continue;
                        }
                    }
                    _ => self.itemize("new", ft, "-", &join(&dst.path, &name)),
                }
            }
            let kind = match ft {
                FileType::Directory => {
                    self.stack.push(PendingDir {
                        parent_src: src.clone(),
                        name,
                        parent_dst: dst.clone(),
                        dst_name: None,
                        display: None,
                        follow,
                        rel,
                    });
                    self.count_entry();
                    continue;
                }
                FileType::RegularFile => Kind::File {
                    follow,
                    as_data: false,
                },
                FileType::Symlink => {
                    if stat.is_none() && self.archive.stat_symlinks() {
                        match rustix::fs::statat(
                            &src.fd,
                            name.as_c_str(),
                            AtFlags::SYMLINK_NOFOLLOW,
                        ) {
                            Ok(st) => stat = Some(st),
                            Err(e) => {
                                self.progress.error(&CopyError::new(
                                    Op::Stat,
                                    join(&src.path, &name),
                                    e.into(),
                                ));
                                continue;
                            }
                        }
                    }
                    if let Some(st) = &mut stat
                        && st.st_nlink > 1
                    {
                        *st = self.first_seen(st);
                    }
                    match rustix::fs::readlinkat(&src.fd, name.as_c_str(), Vec::new()) {
                        Ok(target) => Kind::Symlink { target },
                        Err(e) => {
                            self.progress.error(
                                &CopyError::new(Op::ReadLink, join(&src.path, &name), e.into())
                                    .found_in_walk(),
                            );
                            continue;
                        }
                    }
                }
                _ => match &stat {
                    Some(st) if self.copies_contents(st) => Kind::File {
                        follow: false,
                        as_data: true,
                    },
                    Some(st) => special(st),
                    None => continue,
                },
            };
            let stat = match kind {
                Kind::File { .. } => None,
                _ => stat.as_ref().map(|st| Box::new(SrcStat::from_stat(st))),
            };
            let item = Item {
                src_dir: src.clone(),
                name,
                dst_dir: dst.clone(),
                dst_name: None,
                display: None,
                kind,
                stat,
            };
            if defer {
                self.deferred.push(item);
            } else {
                self.send(item)?;
            }
            self.count_entry();
        }
        if let (Some(dfd), Some(extra)) = (dst_fd, there)
            && self.sync.delete
            && listed
        {
            self.delete_extra(dfd, dst, dir_rel, extra)?;
        }
        Ok(())
    }

    /// Move to the next shard after every `ROTATE` entries of one directory.
    /// A symlink with several names (hard links to one symlink inode): the
    /// status its first name had. Reading a symlink's target can move its
    /// atime, so a later name, stat'ed after the first was read, would
    /// carry that new atime into the copy if its item were the one copied.
    #[allow(clippy::unnecessary_cast)] // the field types differ between architectures
    fn first_seen(&mut self, st: &Stat) -> Stat {
        use std::collections::hash_map::Entry;
        match self.linked_symlinks.entry((st.st_dev, st.st_ino)) {
            Entry::Vacant(v) => {
                v.insert((*st, (st.st_nlink as u64).saturating_sub(1)));
                *st
            }
            Entry::Occupied(mut o) => {
                let (first, left) = *o.get();
                o.get_mut().1 = left.saturating_sub(1);
                if left <= 1 {
                    o.remove(); // every name seen
                }
                first
            }
        }
    }

    fn count_entry(&mut self) {
        self.in_dir += 1;
        if self.in_dir.is_multiple_of(ROTATE) {
            self.shard = (self.shard + 1) % self.tx.len();
        }
    }
}

/// Directories that may be open at once: half the descriptors this process
/// may still open (the rest is for the files being copied and the rings).
fn descriptor_budget() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    // (Not std's read_dir: its drop panics when closedir fails.)
    let open = rustix::fs::open(
        "/proc/self/fd",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .and_then(rustix::fs::Dir::new)
    .map_or(16, |d| d.count()) as u64;
    let budget = limit.saturating_sub(open) / 2;
    usize::try_from(budget).unwrap_or(usize::MAX).max(16)
}

/// Names held back for linking in sync mode, at most (each keeps its two
/// directories open; past this, names are copied in walk order).
const DEFER_MAX: usize = 1024;

impl Walker {
    /// --copy-contents: a device or FIFO is read as data, as without -r
    /// (sockets are still recreated: they cannot be read).
    fn copies_contents(&self, st: &Stat) -> bool {
        self.copy_contents
            && matches!(
                FileType::from_raw_mode(st.st_mode),
                FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo
            )
    }
}

fn special(st: &Stat) -> Kind {
    Kind::Special {
        mode: st.st_mode,
        rdev: st.st_rdev,
    }
}
