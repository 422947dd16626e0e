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
//!
//! For `--engine walkers` (what `auto` runs within one cloning filesystem)
//! there are no queues: `-j` walkers share the directories still to visit
//! and each creates what it lists (`pool.rs` says why).
//!
//! This file holds the walk itself (the operands in order, the stack of
//! directories to visit, one directory at a time); `operand.rs` starts each
//! operand (a directory is walked, anything else is one item); `list.rs`
//! reads and classifies a directory's entries, `route.rs` sends items to
//! shards and keeps the descriptor budget, `dest.rs` prepares each
//! directory's destination side; in sync mode `decide.rs` makes the
//! decision for each entry (with `sync.rs`'s quick check and `basis.rs`'s
//! twins) and `delete.rs` deletes what the source lacks, before, during or
//! after the copy.

mod ahead;
mod basis;
mod decide;
mod delete;
mod dest;
mod limit;
mod list;
pub mod listahead;
mod operand;
mod pool;
mod route;
mod statahead;
mod sync;

pub use basis::refuse_clone_dest;
pub use delete::Deletions;
pub use pool::Pool;

use crate::config::Deref;
use crate::error::{CopyError, Op};
use crate::filter::Filter;
use crate::meta::{Archive, DirFinish};
use crate::plan::Root;
use crate::progress::Progress;
use crate::sync::SyncOptions;
use crate::tree::{DirMade, DstDir, DstState, FinishQueue, Item, Kind, SrcDir, SrcStat, join};
use crossbeam_channel::{Receiver, Sender};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, Stat};
use std::ffi::OsStr;
use std::ffi::{CStr, CString};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How many items may wait in each of the engine's queues.
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
    /// Sync mode's `-b`/`--backup-dir`: what `--delete` or a type change
    /// would remove is moved aside instead.
    backup: Option<crate::config::Backup>,
    /// Where `--backup-dir` is when inside DEST: its directory's path and
    /// its name there (see [`Walker::is_backup_dir`]).
    backup_dir: Option<(PathBuf, std::ffi::OsString)>,
    /// See [`Options::last_batch`].
    last_batch: bool,
    /// `--delete-after`: what to delete once the copy is done.
    after: delete::Deletions,
    /// When the run started (see [`crate::sync::xattrs_may_differ`]).
    run_start: (i64, i64),
    /// --delete: entries deleted so far in the run, earlier batches of
    /// operands included (for --max-delete).
    deleted: u64,
    /// Sync mode: attributes an unchanged entry must match (see `sync.rs`).
    kept: Option<crate::sync::Kept>,
    /// getdents buffer for destination directories (sync mode).
    dst_buf: Vec<MaybeUninit<u8>>,
    /// The last destination directory listed, its names in order (sync mode).
    dst_names: statahead::Names,
    /// Sync mode: the thread that stats entries from the other end of a
    /// big directory (see `statahead.rs`).
    stat_ahead: statahead::StatAhead,
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
    /// of the walk (see `dir`), at most [`DEFER_MAX`](list::DEFER_MAX), in
    /// at most [`DEFER_DIRS_MAX`](list::DEFER_DIRS_MAX) directories.
    deferred: Vec<Item>,
    /// How many directories the names in `deferred` are in.
    deferred_dirs: usize,
    /// -x: stay on the filesystem of the operand being walked (its device).
    one_file_system: bool,
    operand_dev: u64,
    /// Where destination directories' last steps go when they are released.
    finishes: FinishQueue,
    /// --preserve=links: the hard-link map the engines fill.
    links: Arc<crate::meta::links::Links>,
    copy_contents: bool,
    /// --link-dest and the like: the basis directories (see `basis.rs`).
    bases: Option<basis::Bases>,
    /// Multiply-linked symlinks seen: their first status and the names left
    /// (shared by the walkers of a pool).
    linked_symlinks: Arc<std::sync::Mutex<LinkedSymlinks>>,
    /// Walkers that take whole directories (see `pool.rs`): the directories
    /// shared with the other walkers; items are created here, not sent.
    pool: Option<Arc<Pool>>,
    /// The buffer this walker copies with, when it creates items itself.
    copy_buf: std::cell::RefCell<Vec<u8>>,
    /// Entries listed here for a walker that waits for work.
    lent: std::cell::RefCell<Vec<Item>>,
    /// A directory taken from the pool is being listed: its entries are
    /// created here unless a walker waits (else, operands, always lent).
    listing: bool,
    /// A list-ahead reading directories before this walker (see
    /// `listahead.rs`): told of each directory listed here.
    lead: Option<Arc<listahead::Lead>>,
}

/// Multiply-linked symlinks by (device, inode): the first status seen and
/// how many names are still to come.
type LinkedSymlinks = std::collections::HashMap<(u64, u64), (Stat, u64)>;

///
/// A directory with thousands of subdirectories holds thousands of these
/// (on the walker's stack, then in the pool), so what only an operand has is
/// boxed: 56 bytes each, not 112 (GNU's link-heap.sh copies a directory of
/// 10,000 subdirectories under `ulimit -v`).
struct PendingDir {
    parent_src: Arc<SrcDir>,
    name: CString,
    parent_dst: Arc<DstDir>,
    /// Set for an operand only: its destination name and the path it was
    /// given as.
    operand: Option<Box<OperandNames>>,
    follow: bool,
    /// Its path inside the source operand, for the filter and the
    /// `--link-dest` family (`None` without them, and for the operand
    /// itself). (-x's device of the operand is its parent's: the walk enters
    /// no directory on another device.)
    rel: Option<Box<PathBuf>>,
    /// Whether its destination is there: made when its parent was listed
    /// (`ahead.rs`), or listed there (sync mode).
    made: DirMade,
}

const _: () = assert!(std::mem::size_of::<PendingDir>() <= 56);

/// What an operand's [`PendingDir`] has and a directory found by the walk
/// does not.
struct OperandNames {
    dst_name: CString,
    display: PathBuf,
}

impl PendingDir {
    /// The name of its copy (as [`Item::dst_name`]).
    fn dst_name(&self) -> &CStr {
        self.operand.as_ref().map_or(&self.name, |o| &o.dst_name)
    }

    fn into_item_names(operand: Option<Box<OperandNames>>) -> (Option<CString>, Option<PathBuf>) {
        match operand {
            Some(o) => (Some(o.dst_name), Some(o.display)),
            None => (None, None),
        }
    }
}

/// A stack that has just given a big directory's subdirectories to the
/// pool gives back the room they took too, so that two walkers' stacks and
/// the pool do not each hold room for thousands of them at once.
fn shrink_after_give(stack: &mut Vec<PendingDir>) {
    if stack.capacity() > 1024 && stack.len() < stack.capacity() / 4 {
        stack.shrink_to(stack.len().max(64));
    }
}

/// How many subdirectories a walker of the pool holds while it lists one
/// directory before it gives them to the pool (see [`Walker::give_found_early`]).
const GIVE_EVERY: usize = 512;

/// The channel to the engine is closed: the engine stopped.
struct Closed;

/// How to walk: what the command line and the engine decided.
#[derive(Clone)]
pub struct Options {
    pub deref: Deref,
    pub recursive: bool,
    pub umask: u32,
    pub archive: Arc<Archive>,
    pub filter: Arc<Filter>,
    pub sync: SyncOptions,
    /// -x: a directory on another filesystem than its operand is made, empty.
    pub one_file_system: bool,
    /// --copy-contents: devices and FIFOs in a tree are read as data.
    pub copy_contents: bool,
    /// --preserve=links: the hard-link map the engines fill.
    pub links: Arc<crate::meta::links::Links>,
    /// DEST as planned: relative basis directories are inside it.
    pub dest: PathBuf,
    /// Sync mode: `-b`, `--backup-dir` (see `sync.rs`).
    pub backup: Option<crate::config::Backup>,
    /// These roots are the last of the operands (they are walked in
    /// batches when they name many directories, see [`crate::plan::Plan`]):
    /// at the end of this walk, the total the progress counts is known.
    pub last_batch: bool,
    /// `--max-delete`: the deletions the earlier batches decided (one limit
    /// for the whole run, not one per batch).
    pub deleted_before: u64,
}

impl Walker {
    /// Sync mode: is `name` in the destination directory at `dir_path`
    /// where `--backup-dir` (inside DEST) keeps backups? The source's entry
    /// of that name is not copied there (it would mix with the backups, or,
    /// a symlink, lead them out of the tree); rsync copies it.
    fn is_backup_dir(&self, dir_path: &Path, name: &std::ffi::CStr) -> bool {
        self.backup_dir
            .as_ref()
            .is_some_and(|(dir, n)| n.as_bytes() == name.to_bytes() && dir.as_path() == dir_path)
    }

    /// A walker feeding an engine that takes items as `intake` says, its
    /// directories' last steps going to `finishes` (the run's
    /// [`crate::tree::Finisher`]); returns it and the engine's queues.
    pub fn new(
        intake: crate::engine::Intake,
        progress: Arc<dyn Progress>,
        o: Options,
        finishes: FinishQueue,
    ) -> (Self, Vec<Receiver<Item>>) {
        let (tx, rx) = (0..intake.queues.max(1))
            .map(|_| crossbeam_channel::bounded(QUEUE_DEPTH))
            .unzip();
        let o_sync_enabled = o.sync.enabled;
        let bases = match &o.sync.basis {
            Some(b) if o_sync_enabled => Some(basis::Bases::new(b, o.dest.clone())),
            _ => None,
        };
        let walker = Walker {
            tx,
            shard: 0,
            next_shard: 0,
            in_dir: 0,
            progress,
            deref: o.deref,
            recursive: o.recursive,
            umask: o.umask,
            // Sync mode decides per entry against the destination directory,
            // so that directory must exist when its entries are listed.
            make_dirs: !intake.makes_dirs || o_sync_enabled,
            archive: o.archive,
            filter: o.filter,
            sync: o.sync,
            backup_dir: o
                .backup
                .as_ref()
                .and_then(|b| b.dir.as_ref())
                .filter(|_| o_sync_enabled)
                .and_then(|d| d.place_in_dest()),
            backup: o.backup.filter(|_| o_sync_enabled),
            last_batch: o.last_batch,
            after: Default::default(),
            run_start: crate::sync::run_start(),
            deleted: o.deleted_before,
            kept: None,
            dst_buf: if o_sync_enabled {
                vec![MaybeUninit::uninit(); 64 << 10]
            } else {
                Vec::new()
            },
            dst_names: Default::default(),
            stat_ahead: Default::default(),
            buf: vec![MaybeUninit::uninit(); 64 << 10],
            stack: Vec::new(),
            dests: Vec::new(),
            linked_symlinks: Default::default(),
            pool: None,
            copy_buf: Default::default(),
            lent: Default::default(),
            listing: false,
            lead: None,
            deferred: Vec::new(),
            deferred_dirs: 0,
            dir_budget: route::descriptor_budget(),
            one_file_system: o.one_file_system,
            operand_dev: 0,
            copy_contents: o.copy_contents,
            finishes,
            links: o.links,
            bases,
        };
        (walker, rx)
    }

    /// Walk every root, in order. Returns when done or when the engine hung
    /// up, with what `--delete-after` deletes once the copy is done.
    pub fn run(mut self, roots: Vec<Root>) -> Deletions {
        self.note_dests(&roots);
        match self.pool.clone() {
            None => {
                self.walk(roots);
                // Joined: no directory stays open in it past the walk.
                self.stat_ahead = Default::default();
            }
            Some(pool) => std::thread::scope(|s| {
                // Closed however the walk through the operands ends (a
                // panic too), or the other walkers would wait forever.
                let _close = pool::CloseOnDrop(&pool);
                for i in 1..pool.walkers {
                    let mut helper = self.helper();
                    let pool = &pool;
                    let name = format!("walker-{i}");
                    if let Err(e) =
                        crate::threads::scoped(s, name, move || helper.walk_pool(pool, false))
                    {
                        // Fewer walkers share the same directories.
                        self.progress.warning(&format!(
                            "cannot start another walker ({}); going on with {i}",
                            crate::error::strip_os_suffix(&e)
                        ));
                        break;
                    }
                }
                self.walk(roots);
            }),
        }
        self.deletions()
    }

    /// Take whole directories, `walkers` walkers in all, each creating
    /// what it lists with `files` instead of sending items to queues (see
    /// `pool.rs`). Not for sync mode (its decisions, deletions and
    /// held-back names are one walker's).
    /// `ahead`: make directories when they are found and take them in that
    /// order (for a destination on btrfs, see `ahead.rs`).
    pub fn take_whole_directories(
        &mut self,
        walkers: usize,
        files: Arc<crate::engine::copier::FileCopier>,
        ahead: bool,
        split: bool,
    ) {
        debug_assert!(!self.sync.enabled);
        self.tx.clear();
        self.pool = Some(Pool::new(walkers, files, ahead, split, self.dir_budget));
    }

    /// Tell `lead` of each directory listed: a list-ahead runs in front.
    pub fn led_by(&mut self, lead: Arc<listahead::Lead>) {
        self.lead = Some(lead);
    }

    /// Note each destination operand (see `dests`), before any walking.
    fn note_dests(&mut self, roots: &[Root]) {
        // (Only a directory can be come upon while walking.)
        let dirs = roots
            .iter()
            .filter(|r| FileType::from_raw_mode(r.stat.st_mode) == FileType::Directory);
        for root in dirs {
            if let Some(DstState::Ready { fd, .. }) = root.dst_dir.state()
                && let Ok(st) = rustix::fs::fstat(fd)
            {
                let path = join(&root.dst_dir.path, &root.dst_name);
                self.dests
                    .push(((st.st_dev, st.st_ino), root.dst_name.clone(), path));
            }
        }
    }

    fn walk(&mut self, roots: Vec<Root>) {
        if self.sync.delete
            && self.sync.delete_when == crate::config::DeleteWhen::Before
            && self.delete_before(&roots).is_err()
        {
            return;
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
        for item in self.take_deferred() {
            if self.send(item).is_err() {
                return;
            }
        }
        if self.finish_pool().is_err() {
            return;
        }
        if self.last_batch {
            self.progress.walk_done();
        }
    }

    fn drain(&mut self) -> Result<(), Closed> {
        if let Some(pool) = &self.pool {
            // The other walkers start on it while the next operands are read.
            pool.give(self.stack.drain(..));
            shrink_after_give(&mut self.stack);
            return Ok(());
        }
        while let Some(p) = self.stack.pop() {
            self.dir(p)?;
        }
        Ok(())
    }

    /// Open one directory, announce it, stream its entries, queue its subdirectories.
    fn dir(&mut self, p: PendingDir) -> Result<(), Closed> {
        self.wait_for_descriptors();
        let path = match &p.operand {
            Some(o) => o.display.clone(),
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
                if p.operand.is_none() {
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
                    let (dst_name, display) = PendingDir::into_item_names(p.operand);
                    let item = Item {
                        src_dir: p.parent_src,
                        name: p.name,
                        dst_dir: p.parent_dst,
                        dst_name,
                        display,
                        kind: Kind::Dir {
                            node: node.clone(),
                            mode,
                            made: p.made,
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
            let dst_path = join(&p.parent_dst.path, p.dst_name());
            (Arc::new(DstDir::pending(dst_path, None)), 0)
        } else {
            self.dst_node(&p, &st, Some(fd.as_fd()))
        };
        let p_is_operand = p.operand.is_some();
        let parent_dev = p.parent_src.dev_ino.0;
        let src = Arc::new(SrcDir::new(fd, path, dev_ino, Some(p.parent_src.clone())));
        // This directory, then its entries, go to the next shard in turn: the
        // worker that handles its entries is the one that creates it.
        self.shard = self.next_shard;
        self.next_shard = (self.next_shard + 1) % self.tx.len().max(1);
        self.in_dir = 0;
        let (dst_name, display) = PendingDir::into_item_names(p.operand);
        let item = Item {
            src_dir: p.parent_src,
            name: p.name,
            dst_dir: p.parent_dst,
            dst_name,
            display,
            kind: Kind::Dir {
                node: node.clone(),
                mode,
                made: p.made,
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
        self.operand_dev = match p_is_operand {
            true => st.st_dev,
            // Found in the walk, so its parent is on the operand's device.
            false => parent_dev,
        };
        if self.one_file_system && !p_is_operand && st.st_dev != self.operand_dev {
            // -x: a mount point is copied as an empty directory, as cp does.
            return Ok(());
        }

        let first_subdir = self.stack.len();
        if let Some(lead) = &self.lead {
            lead.walked_one();
        }
        let mut buf = std::mem::take(&mut self.buf);
        let rel = p.rel.as_deref().map_or(Path::new(""), PathBuf::as_path);
        let result = self.entries(&src, &node, &mut buf, rel);
        self.buf = buf;
        result?;
        match self.sync.max_delete {
            // Visit subdirectories in the order they were listed.
            None => self.stack[first_subdir..].reverse(),
            // By name, as rsync's walk: which entries --max-delete lets go
            // depends on the order of the directories (see `limit`).
            Some(_) => self.stack[first_subdir..]
                .sort_by(|a, b| limit::rsync_order((&b.name, true), (&a.name, true))),
        }
        Ok(())
    }
}
