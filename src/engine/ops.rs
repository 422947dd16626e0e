//! Synchronous destination operations shared by every engine.
//!
//! These are the slow paths: a destination that already exists (cp's overwrite
//! rules), symlinks and special files (no io_uring opcode for `readlinkat` or
//! `mknodat`, and rare), directory creation for the portable engine, and the
//! removal of a partly written file after a failure.

use super::mover::{Ends, Mover};
use crate::config::{Overwrite, Reflink};
use crate::error::{CopyError, Failure, IoContext, Op, errno, quote};
use crate::meta::links::{Claim, Parked};
use crate::meta::{self, Archive, SrcStat};
use crate::progress::Progress;
use crate::tree::{DstState, Item, Kind};
use crossbeam_channel::{Receiver, Select, Sender};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The complete copy a hard link is made to.
#[derive(Clone, Copy)]
enum LinkFrom<'a> {
    /// A name in an open destination directory.
    At(BorrowedFd<'a>, &'a CStr),
    /// A path (the directory was closed; paths are relative to the working
    /// directory, which never changes).
    Path(&'a std::path::Path),
}

/// How a destination file is to be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DstOpen {
    /// Nothing is there: create it (`O_CREAT | O_EXCL`).
    Create,
    /// A file is there: truncate and rewrite it, keeping its inode and mode,
    /// as cp does (never through a symlink that took its place meanwhile).
    Overwrite,
    /// The destination named on the command line is a symlink to a file:
    /// write through it, as cp does (the user named it).
    Through,
    /// A symlink is there that must not be followed (inside a tree, or a
    /// loop under -f): remove it, then create the file. (A temporary file
    /// renamed over it, in sync mode, replaces it in one step instead.)
    Replace,
    /// Leave the existing file alone (-n).
    Skip,
}

impl DstOpen {
    pub fn flags(self) -> OFlags {
        let base = OFlags::WRONLY | OFlags::CLOEXEC;
        match self {
            DstOpen::Create | DstOpen::Replace => base | OFlags::CREATE | OFlags::EXCL,
            // O_CREAT stays for the race where the file vanished since it
            // was checked.
            DstOpen::Overwrite => base | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW,
            DstOpen::Through | DstOpen::Skip => base | OFlags::CREATE | OFlags::TRUNC,
        }
    }
}

impl FileCopier {
    /// Decide how to open `item`'s destination, which may exist, applying cp's
    /// refusals. `src` is the source's status.
    pub fn check_existing(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        src: &SrcStat,
    ) -> Result<DstOpen, Failure> {
        let overwrite = self.overwrite;
        let name = item.dst_name();
        let lst = match rustix::fs::statat(dst, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(DstOpen::Create),
            Err(e) => return Err(item.error(Op::Stat, true, e.into()).into()),
        };
        if overwrite == Overwrite::Skip
            || (overwrite == Overwrite::Older && !older(&lst, src.mtime))
        {
            return Ok(DstOpen::Skip);
        }
        self.made_symlinks.check(item, &lst)?;
        if !self.may_overwrite(item, dst, &lst) {
            return Ok(DstOpen::Skip);
        }
        let is_dir = FileType::from_raw_mode(lst.st_mode) == FileType::Directory;
        if self.backup.is_some() && !is_dir {
            // Kept under its backup name once the new file is complete (see
            // `super::backup`): never written in place, never followed.
            return Ok(DstOpen::Replace);
        }
        let symlink = FileType::from_raw_mode(lst.st_mode) == FileType::Symlink;
        if symlink && self.remove_destination {
            // Removed, not followed (even a loop or a dangling one), as cp.
            return Ok(DstOpen::Replace);
        }
        if symlink && item.display.is_none() {
            // Inside a tree, a destination symlink may point anywhere, even out
            // of the destination (`dst/f -> /etc/passwd`): it is replaced by the
            // file, never written through (rsync's rule; GNU cp writes through).
            return Ok(DstOpen::Replace);
        }
        let st = if symlink {
            match rustix::fs::statat(dst, name, AtFlags::empty()) {
                Ok(st) => st,
                Err(Errno::LOOP) if overwrite == Overwrite::Force => {
                    // -f: a symlink loop cannot be written through; cp
                    // removes it and creates the file.
                    return Ok(DstOpen::Replace);
                }
                Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => {
                    return Err(Failure::Msg(format!(
                        "not writing through dangling symlink {}",
                        quote(&item.dst_path())
                    )));
                }
                // Not known to dangle: its target cannot be reached (an
                // unsearchable directory), as cp says.
                Err(e) => return Err(item.error(Op::Stat, true, e.into()).into()),
            }
        } else {
            lst
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            return Err(Failure::Msg(format!(
                "cannot overwrite directory {} with non-directory",
                quote(&item.dst_path())
            )));
        }
        if self.remove_destination {
            // Another name of the source is removed, not written: the plan
            // refused the cases where that would lose the source.
            return Ok(DstOpen::Replace);
        }
        if (st.st_dev, st.st_ino) == (src.dev, src.ino) {
            return Err(Failure::Msg(format!(
                "{} and {} are the same file",
                quote(&item.src_path()),
                quote(&item.dst_path())
            )));
        }
        Ok(if symlink {
            DstOpen::Through
        } else {
            DstOpen::Overwrite
        })
    }

    /// May a non-regular item (symlink, special file, hard link) take the
    /// place of what exists at its destination? cp replaces a non-directory
    /// (and says `removed 'X'` under -v), refuses a directory, and -n (or -u,
    /// when the destination is not older) skips: false.
    pub(super) fn may_replace(&self, item: &Item, dst: BorrowedFd<'_>) -> Result<bool, Failure> {
        let overwrite = self.overwrite;
        let st = match rustix::fs::statat(dst, item.dst_name(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(true),
            Err(e) => return Err(item.error(Op::Stat, true, e.into()).into()),
        };
        if overwrite == Overwrite::Skip {
            return Ok(false);
        }
        if overwrite == Overwrite::Older {
            // -u: the source's own time (a symlink's, not its target's).
            let src = rustix::fs::statat(&item.src_dir.fd, &item.name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| item.error(Op::Stat, false, e.into()))?;
            if !older(&st, SrcStat::from_stat(&src).mtime) {
                return Ok(false);
            }
        }
        self.made_symlinks.check(item, &st)?;
        if !self.may_overwrite(item, dst, &st) {
            return Ok(false);
        }
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            return Err(Failure::Msg(format!(
                "cannot overwrite directory {} with non-directory",
                quote(&item.dst_path())
            )));
        }
        Ok(true)
    }

    /// -i: ask whether the existing destination (status `st`) may be
    /// replaced. Always yes without -i.
    fn may_overwrite(&self, item: &Item, dst: BorrowedFd<'_>, st: &rustix::fs::Stat) -> bool {
        !self.interactive
            || super::prompt::overwrite_ok(
                &item.dst_path(),
                dst,
                item.dst_name(),
                st,
                self.overwrite == Overwrite::Force || self.remove_destination,
            )
    }

    /// -b: keep the existing destination under its backup name, just before
    /// the complete new entry (`temp`) is renamed over it.
    fn back_up(&self, item: &Item, dst: BorrowedFd<'_>) -> Result<bool, Failure> {
        let Some(b) = &self.backup else {
            return Ok(false);
        };
        match super::backup::make(dst, item.dst_name(), b) {
            Ok(Some(name)) => {
                let path = crate::tree::join(&item.dst_dir.path, &name);
                self.archive.progress.backed_up(&item.dst_path(), &path);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(item.error(Op::Backup, true, e.into()).into()),
        }
    }

    /// Put a new entry in place of `item`'s existing destination in one step:
    /// `make` creates it under a temporary name, which is renamed over the
    /// old one, so a failure at any point leaves the old entry as it was (cp
    /// removes it first, and a failure then loses it).
    pub(super) fn replace(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        make: impl Fn(&CStr) -> Result<(), CopyError>,
        say_removed: bool,
    ) -> Result<(), Failure> {
        let temp = crate::sync::temp_name(item.dst_name());
        make(&temp)?;
        let backed_up = match self.back_up(item, dst) {
            Ok(b) => b,
            Err(f) => {
                self.remove_made(item, dst, &temp);
                return Err(f);
            }
        };
        if let Err(e) = rustix::fs::renameat(dst, &temp, dst, item.dst_name()) {
            self.remove_made(item, dst, &temp);
            return Err(item.error(Op::Replace, true, e.into()).into());
        }
        // A rename onto another name of the same inode does nothing and
        // leaves the temporary name.
        let _ = rustix::fs::unlinkat(dst, &temp, AtFlags::empty());
        if say_removed && !backed_up {
            self.archive.progress.removed(&item.dst_path());
        }
        Ok(())
    }

    /// Create a symlink or special file (with permissions `perms`, under the
    /// umask). Returns false if it was skipped (-n).
    pub fn make_entry(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
        perms: u32,
    ) -> Result<bool, Failure> {
        let name = item.dst_name();
        let make = |name: &CStr| match &item.kind {
            Kind::Symlink { target } => rustix::fs::symlinkat(target.as_c_str(), dst, name)
                .map_err(|e| item.error(Op::Symlink, true, e.into())),
            Kind::Special { mode, rdev } => {
                let ft = FileType::from_raw_mode(*mode);
                let op = if ft == FileType::Fifo {
                    Op::Mkfifo
                } else {
                    Op::Mknod
                };
                rustix::fs::mknodat(dst, name, ft, Mode::from_raw_mode(perms & 0o777), *rdev)
                    .map_err(|e| item.error(op, true, e.into()))
            }
            _ => Err(item.error(Op::Create, true, errno(libc::EINVAL))),
        };
        match make(name) {
            Ok(()) => {}
            // --attributes-only never replaces an entry (its data would go),
            // unless --remove-destination says so, as cp.
            Err(e) if self.attributes_only && !self.remove_destination => return Err(e.into()),
            Err(e) if !fresh && e.source.raw_os_error() == Some(libc::EEXIST) => {
                if !self.may_replace(item, dst)? {
                    return Ok(false);
                }
                self.replace(item, dst, make, true)?;
            }
            Err(e) => return Err(e.into()),
        }
        if let Kind::Symlink { .. } = item.kind {
            self.made_symlinks.made(dst, name);
        }
        Ok(true)
    }
}

/// Is the destination `dst` older than a source modified at `mtime` (-u)?
/// Compared to the nanosecond, as cp does on filesystems that keep them.
#[allow(clippy::unnecessary_cast)] // the field types differ between architectures
fn older(dst: &rustix::fs::Stat, mtime: (i64, u32)) -> bool {
    (dst.st_mtime as i64, dst.st_mtime_nsec as u32) < mtime
}

/// A destination file opened for writing.
pub struct Opened {
    pub fd: OwnedFd,
    /// This run created it (`O_EXCL`, or -f's remove and create), so a failed
    /// copy may remove it; a file that existed was truncated in place and stays.
    pub created: bool,
    /// Written under this temporary name, renamed over the destination by
    /// [`FileCopier::commit`].
    pub temp: Option<std::ffi::CString>,
}

/// Open the destination file the synchronous way, with -f's retry.
pub fn open_dst(
    item: &Item,
    dst: BorrowedFd<'_>,
    how: DstOpen,
    mode: u32,
    overwrite: Overwrite,
) -> Result<Opened, CopyError> {
    let name = item.dst_name();
    let mode = Mode::from_raw_mode(mode);
    if how == DstOpen::Replace {
        rustix::fs::unlinkat(dst, name, AtFlags::empty())
            .map_err(|e| item.error(Op::Remove, true, e.into()))?;
    }
    let created = matches!(how, DstOpen::Create | DstOpen::Replace);
    match rustix::fs::openat(dst, name, how.flags(), mode) {
        Ok(fd) => Ok(Opened {
            fd,
            created,
            temp: None,
        }),
        Err(e)
            if matches!(how, DstOpen::Overwrite | DstOpen::Through)
                && overwrite == Overwrite::Force =>
        {
            // -f: remove what cannot be opened and create a new file.
            if rustix::fs::unlinkat(dst, name, AtFlags::empty()).is_err() {
                return Err(item.error(Op::Create, true, e.into()));
            }
            rustix::fs::openat(dst, name, DstOpen::Create.flags(), mode)
                .map(|fd| Opened {
                    fd,
                    created: true,
                    temp: None,
                })
                .map_err(|e| item.error(Op::Create, true, e.into()))
        }
        Err(e) => Err(item.error(Op::Create, true, e.into())),
    }
}

/// After `mkdirat` answered: open the new or existing directory. `made` is
/// whether mkdir created it. Fails like cp when a non-directory is in the way.
pub fn open_made_dir(item: &Item, parent: BorrowedFd<'_>, made: bool) -> Result<DstState, Failure> {
    match rustix::fs::openat(
        parent,
        item.dst_name(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Ok(DstState::Ready { fd, fresh: made }),
        Err(Errno::NOTDIR) | Err(Errno::LOOP) => Err(not_a_dir(item)),
        Err(e) => Err(item.error(Op::Mkdir, true, e.into()).into()),
    }
}

/// cp's refusal to put a directory where a non-directory is.
pub fn not_a_dir(item: &Item) -> Failure {
    Failure::Msg(format!(
        "cannot overwrite non-directory {} with directory {}",
        quote(&item.dst_path()),
        quote(&item.src_path())
    ))
}

/// Create a directory synchronously (portable engine), or reuse an existing one.
pub fn make_dir(item: &Item, parent: BorrowedFd<'_>, mode: u32) -> Result<DstState, Failure> {
    match rustix::fs::mkdirat(parent, item.dst_name(), Mode::from_raw_mode(mode)) {
        Ok(()) => open_made_dir(item, parent, true),
        Err(Errno::EXIST) => open_made_dir(item, parent, false),
        Err(e) => Err(item.error(Op::Mkdir, true, e.into()).into()),
    }
}

/// Files at least this large are large: a worker that finds one queues it for
/// whichever worker is free (see [`FileCopier::handle`]), and one that is the
/// only large file being copied is split into one range per CPU.
const LARGE_MIN: u64 = 16 << 20;
/// Most large files queued at once; past it a worker copies what it finds
/// itself. Queued items keep their directories open, so this bounds the
/// descriptors the queue holds (`ulimit -n`).
const LARGE_BACKLOG: usize = 16;

/// Copies of a source that changes while it is copied, before giving up.
const CHANGED_RETRIES: u32 = 3;

/// The synchronous copy of one regular file: the portable engine's whole job,
/// and the io_uring engine's fallback when a linked chain cannot do it (the
/// source changed size, a destination appeared, -f must retry).
pub struct FileCopier {
    pub(super) overwrite: Overwrite,
    /// Moves the bytes (copy_file_range, splice, read/write).
    mover: Mover,
    /// Archive mode: what to preserve, sparse files, reflinks, hard links.
    pub archive: Arc<Archive>,
    large: LargeFiles,
    /// Sync mode: regular files go through a temporary name (see [`crate::sync`]).
    temp_files: bool,
    /// The symlinks this run made, never to be written through.
    pub made_symlinks: MadeSymlinks,
    /// --remove-destination.
    pub(super) remove_destination: bool,
    /// --attributes-only: no data is copied; an existing file keeps its own.
    attributes_only: bool,
    /// -b: replaced destinations are kept under backup names.
    pub(super) backup: Option<crate::config::Backup>,
    /// -i: ask before replacing a destination.
    pub(super) interactive: bool,
    /// -l, -s: non-directories become links to their sources.
    link: Option<crate::config::LinkMode>,
}

/// The symlinks this run made, by device and inode, when it has several
/// sources: one source may be copied to where another just made a symlink
/// (`cp -dR a/1 b/1 c` with a symlink `a/1 -> ../t`), and writing `b/1`
/// through `c/1` would write outside the destination. GNU cp refuses that
/// ("will not copy 'b/1' through just-created symlink 'c/1'"), and so does
/// this tool. With one source, no two entries share a destination name.
pub struct MadeSymlinks(Option<std::sync::Mutex<std::collections::HashSet<(u64, u64)>>>);

impl MadeSymlinks {
    fn new(on: bool) -> Self {
        MadeSymlinks(on.then(Default::default))
    }

    /// The symlink `name` in `dir` was just made by this run.
    pub fn made(&self, dir: BorrowedFd<'_>, name: &CStr) {
        if let Some(set) = &self.0
            && let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
            && let Ok(mut set) = set.lock()
        {
            set.insert((st.st_dev, st.st_ino));
        }
    }

    /// Refuse to copy `item` onto the existing destination `st` (its lstat) if
    /// it is a symlink this run made.
    fn check(&self, item: &Item, st: &rustix::fs::Stat) -> Result<(), Failure> {
        let Some(set) = &self.0 else { return Ok(()) };
        if FileType::from_raw_mode(st.st_mode) != FileType::Symlink
            || !set
                .lock()
                .is_ok_and(|s| s.contains(&(st.st_dev, st.st_ino)))
        {
            return Ok(());
        }
        Err(Failure::Msg(format!(
            "will not copy {} through just-created symlink {}",
            quote(&item.src_path()),
            quote(&item.dst_path())
        )))
    }
}

/// Large files found by any worker, copied by whichever worker is free.
///
/// Why: a walk hands a directory's entries to one worker, so the large files
/// of one directory (a backup's images, a build's artefacts) would be copied
/// one after another by one thread while the others idle; two ranges of one
/// file copied at once queue on the destination inode's lock, two files do
/// not (2 x 1 GiB, ext4: 611 ms split in ranges by one worker, 380 ms for fcp's
/// one thread per file).
struct LargeFiles {
    tx: Sender<Item>,
    rx: Receiver<Item>,
    /// Large files being copied right now.
    copying: AtomicUsize,
}

/// What a worker does next: an item of its own shard, or a large file queued
/// by any worker (copy it with [`FileCopier::handle_large`]).
pub enum Work {
    Item(Item),
    Large(Item),
}

/// What became of a regular file given to the synchronous copier.
enum Copied {
    /// Copied (`Some(bytes)`) or skipped (-n).
    Done(Option<u64>),
    /// Large: left for the queue, nothing written yet.
    Queued,
}

impl FileCopier {
    pub fn new(opts: &super::EngineOptions, chunk: usize) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        let archive = opts.archive.clone();
        FileCopier {
            overwrite: opts.overwrite,
            made_symlinks: MadeSymlinks::new(opts.several_sources),
            remove_destination: opts.remove_destination,
            attributes_only: opts.attributes_only,
            backup: opts.backup.clone(),
            interactive: opts.interactive,
            link: opts.link,
            mover: Mover::new(chunk, archive.reflink != Reflink::Never),
            archive,
            large: LargeFiles {
                tx,
                rx,
                copying: AtomicUsize::new(0),
            },
            temp_files: opts.temp_files,
        }
    }

    /// Must every regular file take this synchronous path? In sync mode
    /// (temporary names), under --reflink=always (FICLONE), with
    /// --attributes-only (no data at all), -l/-s (links, no data) and -i (a
    /// question, asked once, before anything is opened): the ring engines'
    /// fast paths do none of these.
    pub fn files_need_sync(&self) -> bool {
        self.temp_files
            || self.attributes_only
            || self.link.is_some()
            || self.interactive
            || self.archive.files_need_sync()
    }

    /// Wait for a worker's next work: the next item of its shard, or a large
    /// file any worker queued. `None` once the shard is closed and no large
    /// file is queued; a worker calls this until then, so whatever it queued
    /// itself is copied by the time it ends.
    pub fn next(&self, items: &Receiver<Item>) -> Option<Work> {
        let mut sel = Select::new();
        let shard = sel.recv(items);
        sel.recv(&self.large.rx);
        let op = sel.select();
        if op.index() == shard {
            match op.recv(items) {
                Ok(item) => Some(Work::Item(item)),
                Err(_) => self.large.rx.try_recv().ok().map(Work::Large),
            }
        } else {
            // `self` holds a sender, so this channel never disconnects.
            op.recv(&self.large.rx).ok().map(Work::Large)
        }
    }

    /// Do work taken with [`FileCopier::next`] the synchronous way.
    pub fn work(&self, work: Work, progress: &dyn Progress, buf: &mut Vec<u8>) {
        match work {
            Work::Item(item) => self.handle(item, progress, buf),
            Work::Large(item) => self.handle_large(item, progress, buf),
        }
    }

    /// Do all that is left of a shard, and the large files queued, the
    /// synchronous way.
    pub fn drain(&self, items: &Receiver<Item>, progress: &dyn Progress, buf: &mut Vec<u8>) {
        while let Some(work) = self.next(items) {
            self.work(work, progress, buf);
        }
    }

    /// Create one item of any kind the synchronous way, and report it; a
    /// large file may be queued instead, for whichever worker is free.
    /// Waits until the item's destination directory exists.
    pub fn handle(&self, item: Item, progress: &dyn Progress, buf: &mut Vec<u8>) {
        self.handle_inner(item, progress, buf, true);
    }

    /// Copy a large file taken from the queue, and report it.
    pub fn handle_large(&self, item: Item, progress: &dyn Progress, buf: &mut Vec<u8>) {
        self.large.copying.fetch_add(1, Relaxed);
        self.handle_inner(item, progress, buf, false);
        self.large.copying.fetch_sub(1, Relaxed);
    }

    fn handle_inner(&self, item: Item, progress: &dyn Progress, buf: &mut Vec<u8>, queue: bool) {
        if crate::interrupt::requested() {
            return drop_interrupted(item);
        }
        if let Kind::Dir { .. } = item.kind {
            return create_dir(&item, progress);
        }
        let (dst, fresh) = match item.dst_dir.wait() {
            DstState::Ready { fd, fresh } => (fd.as_fd(), *fresh),
            // The directory failed and was reported: its contents cannot go anywhere.
            DstState::Failed => return,
        };
        if let Kind::File { .. } = item.kind {
            let copied = self.copy_file(&item, dst, fresh, buf, queue);
            return self.settle(item, copied, progress);
        }
        let made = self.create_other(&item, dst, fresh);
        report(progress, &item, made);
    }

    /// Like [`FileCopier::handle`] for a regular file whose destination
    /// directory is ready: copy it, or queue it if it is large.
    pub fn copy_or_queue(
        &self,
        item: Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
        progress: &dyn Progress,
        buf: &mut Vec<u8>,
    ) {
        if crate::interrupt::requested() {
            return;
        }
        let copied = self.copy_file(&item, dst, fresh, buf, true);
        self.settle(item, copied, progress);
    }

    /// Report a regular file's copy, or queue it.
    fn settle(&self, item: Item, copied: Result<Copied, Failure>, progress: &dyn Progress) {
        match copied {
            // Cannot fail: `self` holds the receiver too.
            Ok(Copied::Queued) => drop(self.large.tx.send(item)),
            Ok(Copied::Done(n)) => report(progress, &item, Ok(n)),
            Err(e) => report(progress, &item, Err(e)),
        }
    }

    /// Create a symlink or special file and give it its source's preserved
    /// attributes. `Ok(None)` if it was skipped (-n).
    pub fn create_other(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
    ) -> Result<Option<u64>, Failure> {
        if let Some(mode) = self.link {
            return super::linking::make(self, item, dst, fresh, mode);
        }
        // A symlink or special file with several names: link it like a file.
        let linked = item
            .stat
            .as_deref()
            .filter(|st| self.archive.tracks_links(st, item.display.is_some()));
        let first = match linked {
            Some(st) => match self.claim_link(item, st, dst, fresh) {
                Ok(first) => first,
                Err(result) => return result,
            },
            None => false,
        };
        let result = self.make_other(item, dst, fresh);
        if let (true, Some(st)) = (first, linked) {
            self.first_done(item, st, matches!(result, Ok(Some(_))));
        }
        result
    }

    fn make_other(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
    ) -> Result<Option<u64>, Failure> {
        let perms = match &item.kind {
            Kind::Special { mode, .. } => self.archive.create_mode(*mode),
            _ => 0,
        };
        if !self.make_entry(item, dst, fresh, perms)? {
            return Ok(None);
        }
        if let Some(st) = &item.stat {
            let symlink = matches!(item.kind, Kind::Symlink { .. });
            self.archive.apply(
                st,
                meta::Src::At {
                    dir: item.src_dir.fd.as_fd(),
                    name: &item.name,
                    follow: false,
                },
                &|| item.src_path(),
                meta::Dst::At {
                    dir: dst,
                    name: item.dst_name(),
                    symlink,
                },
                &|| item.dst_path(),
            );
        }
        Ok(Some(0))
    }

    /// For a source with several names, under --preserve=links: copy it
    /// (`Ok(true)`: the first name, call [`FileCopier::first_done`] after),
    /// or it was linked, parked or kept by -u (`Err(result)`, to give
    /// [`report`]; a parked name's is `Ok(Some(PARKED))`, which reports
    /// nothing).
    pub fn claim_link(
        &self,
        item: &Item,
        st: &SrcStat,
        dst: BorrowedFd<'_>,
        fresh: bool,
    ) -> Result<bool, Result<Option<u64>, Failure>> {
        if !self.archive.tracks_links(st, item.display.is_some()) {
            return Ok(false);
        }
        // -u first, as cp: a destination it keeps stands for the copy.
        let kept = !fresh
            && self.overwrite == Overwrite::Older
            && match rustix::fs::statat(dst, item.dst_name(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(d) => !older(&d, st.mtime),
                Err(Errno::NOENT) => false,
                Err(e) => return Err(Err(item.error(Op::Stat, true, e.into()).into())),
            };
        let keep = self.archive.keep_links;
        Err(match self.archive.links.claim(item, st, keep, kept) {
            Claim::First => return Ok(true),
            Claim::Kept => Ok(None),
            Claim::Parked => Ok(Some(PARKED)),
            Claim::Link(dir, name) => match dir.state() {
                Some(DstState::Ready { fd, .. }) => {
                    self.link(item, LinkFrom::At(fd.as_fd(), &name), dst, fresh, kept)
                }
                _ => Err(item.error(Op::Link, true, errno(libc::ENOENT)).into()),
            },
            Claim::LinkPath(path) => self.link(item, LinkFrom::Path(&path), dst, fresh, kept),
        })
    }

    /// The first copy of a multiply-linked source ended: link (or, if it
    /// failed, copy) the names that were parked meanwhile, and report them.
    pub fn first_done(&self, item: &Item, st: &SrcStat, ok: bool) {
        let progress = &*self.archive.progress;
        let mut buf = Vec::new();
        for Parked { item: other, kept } in self.archive.links.first_done(item, st, ok) {
            let Some(DstState::Ready { fd, fresh }) = other.dst_dir.state() else {
                continue;
            };
            let r = match other.kind {
                _ if ok => match item.dst_dir.state() {
                    Some(DstState::Ready { fd: from, .. }) => self.link(
                        &other,
                        LinkFrom::At(from.as_fd(), item.dst_name()),
                        fd.as_fd(),
                        *fresh,
                        kept,
                    ),
                    _ => Err(other.error(Op::Link, true, errno(libc::ENOENT)).into()),
                },
                Kind::File { .. } => self.copy(&other, fd.as_fd(), *fresh, &mut buf),
                _ => self.create_other(&other, fd.as_fd(), *fresh),
            };
            report(progress, &other, r);
        }
    }

    /// Make `item`'s destination a hard link to the copy `from` (cp replaces
    /// an existing non-directory; -n keeps it). `kept`: -u kept the
    /// destination, which cp replaces all the same, and the name counts as
    /// skipped (`Ok(None)`).
    fn link(
        &self,
        item: &Item,
        from: LinkFrom<'_>,
        dst: BorrowedFd<'_>,
        fresh: bool,
        kept: bool,
    ) -> Result<Option<u64>, Failure> {
        let make = |name: &CStr| {
            match from {
                LinkFrom::At(dir, from) => {
                    rustix::fs::linkat(dir, from, dst, name, AtFlags::empty())
                }
                LinkFrom::Path(path) => {
                    rustix::fs::linkat(rustix::fs::CWD, path, dst, name, AtFlags::empty())
                }
            }
            .map_err(|e| item.error(Op::Link, true, e.into()))
        };
        match make(item.dst_name()) {
            Ok(()) => Ok(Some(0)),
            Err(e) if !fresh && e.source.raw_os_error() == Some(libc::EEXIST) => {
                if !kept && !self.may_replace(item, dst)? {
                    return Ok(None);
                }
                self.replace(item, dst, make, true)?;
                Ok((!kept).then_some(0))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Copy one regular file. `Ok(None)` when skipped (-n).
    pub fn copy(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
        buf: &mut Vec<u8>,
    ) -> Result<Option<u64>, Failure> {
        match self.copy_file(item, dst, fresh, buf, false)? {
            Copied::Done(n) => Ok(n),
            Copied::Queued => unreachable!("not asked to queue"),
        }
    }

    /// Copy one regular file, or when `queue` and it is large and the queue
    /// has room, leave it for the queue (after opening and stat-ing the
    /// source, nothing else).
    fn copy_file(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
        buf: &mut Vec<u8>,
        queue: bool,
    ) -> Result<Copied, Failure> {
        if let Some(mode) = self.link {
            return super::linking::make(self, item, dst, fresh, mode).map(Copied::Done);
        }
        let (follow, as_data) = match item.kind {
            Kind::File { follow, as_data } => (follow, as_data),
            _ => (false, false),
        };
        let mut flags = OFlags::RDONLY | OFlags::CLOEXEC;
        if !follow {
            flags |= OFlags::NOFOLLOW;
        }
        if !as_data {
            // Never block opening a FIFO that replaced a file since the walk saw it.
            flags |= OFlags::NONBLOCK;
        }
        let src = rustix::fs::openat(&item.src_dir.fd, item.name.as_c_str(), flags, Mode::empty())
            .map_err(|e| item.error(Op::OpenRead, false, e.into()))?;
        let st = rustix::fs::fstat(&src).ctx(Op::Stat, &item.src_path())?;
        if !as_data && FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(item.error(Op::Changed, false, errno(libc::EINVAL)).into());
        }
        if queue
            && !as_data
            && st.st_size as u64 >= LARGE_MIN
            && self.large.rx.len() < LARGE_BACKLOG
        {
            return Ok(Copied::Queued);
        }
        let sst = SrcStat::from_stat(&st);
        let first = match as_data {
            true => false,
            false => match self.claim_link(item, &sst, dst, fresh) {
                Ok(first) => first,
                Err(result) => return result.map(Copied::Done),
            },
        };
        let result = self.copy_open(item, &src, dst, fresh, &sst, as_data, buf);
        if first {
            self.first_done(item, &sst, matches!(result, Ok(Some(_))));
        }
        result.map(Copied::Done)
    }

    /// Copy the open source `src` (status `sst`): data, then attributes.
    #[allow(clippy::too_many_arguments)]
    fn copy_open(
        &self,
        item: &Item,
        src: &OwnedFd,
        dst: BorrowedFd<'_>,
        fresh: bool,
        sst: &SrcStat,
        as_data: bool,
        buf: &mut Vec<u8>,
    ) -> Result<Option<u64>, Failure> {
        let mode = self.archive.create_mode(sst.mode);
        let Some(out) = self.open_destination(item, dst, fresh, sst, mode, as_data)? else {
            return Ok(None);
        };
        if self.attributes_only {
            self.finish_file(item, src, &out.fd, sst);
            self.commit(item, dst, out)?;
            return Ok(Some(0));
        }
        if self.archive.reflink == Reflink::Always && !as_data {
            if let Err(e) = rustix::fs::ioctl_ficlone(&out.fd, src) {
                // cp leaves the empty destination when the clone fails.
                if out.temp.is_some() {
                    self.discard(item, dst, out);
                }
                return Err(Failure::Msg(format!(
                    "failed to clone {} from {}: {}",
                    quote(&item.dst_path()),
                    quote(&item.src_path()),
                    crate::error::strip_os_suffix(&e.into())
                )));
            }
            self.finish_file(item, src, &out.fd, sst);
            self.commit(item, dst, out)?;
            return Ok(Some(sst.size));
        }
        let copied = self.dst_end(item, &out).and_then(|(dev, regular)| {
            let ends = Ends {
                src: src.as_fd(),
                dst: out.fd.as_fd(),
                devs: (sst.dev, dev),
                dst_regular: regular,
            };
            self.copy_checked(item, ends, *sst, as_data, buf)
        });
        match copied {
            Ok((n, sst)) => {
                self.finish_file(item, src, &out.fd, &sst);
                self.commit(item, dst, out)?;
                Ok(Some(n))
            }
            Err(e) => {
                self.discard(item, dst, out);
                if crate::interrupt::requested() {
                    return Ok(None); // not a failure of its own
                }
                Err(e.into())
            }
        }
    }

    /// A complete copy: close it, and rename a temporary over the destination.
    pub fn commit(&self, item: &Item, dst: BorrowedFd<'_>, out: Opened) -> Result<(), Failure> {
        drop(out.fd);
        let Some(t) = &out.temp else {
            return Ok(());
        };
        // (A temporary replaces an existing entry, which -b keeps.)
        if let Err(f) = self.back_up(item, dst) {
            self.remove_made(item, dst, t);
            return Err(f);
        }
        if let Err(e) = rustix::fs::renameat(dst, t.as_c_str(), dst, item.dst_name()) {
            self.remove_made(item, dst, t);
            return Err(item.error(Op::Replace, true, e.into()).into());
        }
        Ok(())
    }

    /// After a failed copy: remove what this run created (a temporary, or a
    /// new file under its final name), so no file with wrong bytes stays
    /// under its name. An existing file that was truncated and rewritten in
    /// place stays, as with cp: it is the user's, and may be a device or a
    /// symlink's target.
    pub fn discard(&self, item: &Item, dst: BorrowedFd<'_>, out: Opened) {
        drop(out.fd);
        match (&out.temp, out.created) {
            (Some(t), _) => self.remove_made(item, dst, t),
            (None, true) => self.remove_made(item, dst, item.dst_name()),
            (None, false) => {}
        }
    }

    /// Remove `name`, made by this run in `dst`; a failure is reported.
    pub fn remove_made(&self, item: &Item, dst: BorrowedFd<'_>, name: &CStr) {
        if let Err(e) = rustix::fs::unlinkat(dst, name, AtFlags::empty())
            && e != Errno::NOENT
        {
            let path = crate::tree::join(&item.dst_dir.path, name);
            self.archive
                .progress
                .error(&CopyError::new(Op::Remove, path, e.into()));
        }
    }

    /// Copy the data of a source with status `sst`, and check that it did not
    /// change meanwhile: a writer that appended, truncated or rewrote it would
    /// leave a mix of old and new bytes. Then it is copied again from its new
    /// state, and if it keeps changing, it fails rather than keep a mix.
    /// Returns the bytes copied and the status they match.
    fn copy_checked(
        &self,
        item: &Item,
        ends: Ends<'_>,
        mut sst: SrcStat,
        as_data: bool,
        buf: &mut Vec<u8>,
    ) -> Result<(u64, SrcStat), CopyError> {
        let mut attempts = 0;
        loop {
            // A size of 0 may be a pseudo-file (/proc) with content: read it to EOF.
            let size = (!as_data && sst.size > 0).then_some(sst.size);
            let copied = match size {
                Some(size) if ends.dst_regular && self.archive.sparse_copy(&sst) => {
                    let zeros = self.archive.sparse == crate::config::Sparse::Always;
                    meta::data::copy_sparse(item, ends, size, zeros, buf, &mut |a, b, buf| {
                        self.mover.copy(item, ends, a, Some(b), buf)
                    })?
                }
                _ => self.copy_data(item, ends, size, buf)?,
            };
            let Some(size) = size else {
                return Ok((copied, sst));
            };
            let now = rustix::fs::fstat(ends.src)
                .map(|st| SrcStat::from_stat(&st))
                .map_err(|e| item.error(Op::Stat, false, e.into()))?;
            // (Fewer bytes than the size with nothing changed is no change:
            // /sys files claim 4096 bytes whatever they hold.)
            if now.same_content_as(&sst) && now.size == size {
                verify_size(item, ends.dst, ends.dst_regular, copied)?;
                return Ok((copied, sst));
            }
            attempts += 1;
            if attempts == CHANGED_RETRIES || !ends.dst_regular {
                let why = match ends.dst_regular {
                    true => {
                        format!("it changed during {CHANGED_RETRIES} copies in a row; not copied")
                    }
                    false => "it changed while it was copied".to_string(),
                };
                return Err(item.error(Op::Changed, false, std::io::Error::other(why)));
            }
            rustix::fs::ftruncate(ends.dst, 0)
                .map_err(|e| item.error(Op::Write, true, e.into()))?;
            sst = now;
        }
    }

    /// The device of an opened destination and whether it is a regular file
    /// (written at offsets). A file this run created is one, on its directory's
    /// device; an existing one may be a device node or FIFO named as DEST.
    fn dst_end(&self, item: &Item, out: &Opened) -> Result<(u64, bool), CopyError> {
        if out.created
            && let Some(dev) = item.dst_dir.dev()
        {
            return Ok((dev, true));
        }
        let st = rustix::fs::fstat(&out.fd).map_err(|e| item.error(Op::Stat, true, e.into()))?;
        Ok((
            st.st_dev,
            FileType::from_raw_mode(st.st_mode) == FileType::RegularFile,
        ))
    }

    /// Write `data`, the whole content of a small source the ring read, to an
    /// opened destination (the caller discards it on an error).
    pub fn write_whole(&self, item: &Item, out: &Opened, data: &[u8]) -> Result<(), CopyError> {
        let (_, regular) = self.dst_end(item, out)?;
        super::mover::write_all_at(out.fd.as_fd(), data, 0, regular)
            .map_err(|e| item.error(Op::Write, true, e.into()))?;
        verify_size(item, out.fd.as_fd(), regular, data.len() as u64)
    }

    /// Give a copied file its source's preserved attributes.
    fn finish_file(&self, item: &Item, src: &OwnedFd, out: &OwnedFd, sst: &SrcStat) {
        if self.archive.file_attrs() {
            self.archive.apply(
                sst,
                meta::Src::Fd(src.as_fd()),
                &|| item.src_path(),
                meta::Dst::Fd(out.as_fd()),
                &|| item.dst_path(),
            );
        }
    }

    /// Open (create, or truncate under cp's rules) the destination of a
    /// regular file whose source has status `src`, with `mode`. `Ok(None)`:
    /// skipped (-n, -u). In sync mode, and where a symlink is to be replaced
    /// by the file, it is written under a temporary name that [`Self::commit`]
    /// renames over the destination only once it is complete, so a failure
    /// leaves the old entry as it was.
    pub fn open_destination(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
        src: &SrcStat,
        mode: u32,
        as_data: bool,
    ) -> Result<Option<Opened>, Failure> {
        let mode = mode & 0o777;
        let how = if fresh {
            DstOpen::Create
        } else {
            self.check_existing(item, dst, src)?
        };
        if how == DstOpen::Skip {
            return Ok(None);
        }
        if !as_data && (self.temp_files || how == DstOpen::Replace) {
            let temp = crate::sync::temp_name(item.dst_name());
            let fd = rustix::fs::openat(
                dst,
                &temp,
                DstOpen::Create.flags(),
                Mode::from_raw_mode(mode),
            )
            .map_err(|e| item.error(Op::Create, true, e.into()))?;
            return Ok(Some(Opened {
                fd,
                created: true,
                temp: Some(temp),
            }));
        }
        if self.attributes_only && matches!(how, DstOpen::Overwrite | DstOpen::Through) {
            // Its data stays: opened without truncating it.
            return rustix::fs::openat(
                dst,
                item.dst_name(),
                how.flags() - OFlags::TRUNC,
                Mode::empty(),
            )
            .map(|fd| {
                Some(Opened {
                    fd,
                    created: false,
                    temp: None,
                })
            })
            .map_err(|e| item.error(Op::Create, true, e.into()).into());
        }
        match open_dst(item, dst, how, mode, self.overwrite) {
            Err(e) if fresh && e.source.raw_os_error() == Some(libc::EEXIST) => {
                // Something appeared in a directory we just made: take the slow path.
                match self.check_existing(item, dst, src)? {
                    DstOpen::Skip => Ok(None),
                    how => Ok(Some(open_dst(item, dst, how, mode, self.overwrite)?)),
                }
            }
            other => Ok(Some(other?)),
        }
    }

    /// Move the bytes: until EOF or, when the size is known, until that many
    /// bytes (saving the EOF probe). A large file that is the only one being
    /// copied or queued is split into one range per CPU, copied at once (a
    /// single 1 GiB file between filesystems: 274 ms against 365 in one
    /// piece); with several, each goes whole on its own worker.
    fn copy_data(
        &self,
        item: &Item,
        ends: Ends<'_>,
        size: Option<u64>,
        buf: &mut Vec<u8>,
    ) -> Result<u64, CopyError> {
        let Some(size) = size else {
            return self.mover.copy(item, ends, 0, None, buf);
        };
        let alone = self.large.copying.load(Relaxed) <= 1 && self.large.rx.is_empty();
        let cpus = if alone && ends.dst_regular {
            super::cpus() as u64
        } else {
            1
        };
        let parts = (size / LARGE_MIN).min(cpus).max(1);
        if parts == 1 {
            return self.mover.copy(item, ends, 0, Some(size), buf);
        }
        let bound = |i: u64| size * i / parts;
        std::thread::scope(|s| {
            let others: Vec<_> = (1..parts)
                .map(|i| {
                    s.spawn(move || {
                        let range = (bound(i), Some(bound(i + 1)));
                        self.mover
                            .copy(item, ends, range.0, range.1, &mut Vec::new())
                    })
                })
                .collect();
            let mut total = self.mover.copy(item, ends, 0, Some(bound(1)), buf)?;
            for h in others {
                total += h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
            }
            Ok(total)
        })
    }
}

/// Check that a regular destination holds exactly the `n` bytes written: a
/// writer of its own, or a mover that wrote past the range, must not leave a
/// wrong file behind an exit status of 0.
pub fn verify_size(
    item: &Item,
    dst: BorrowedFd<'_>,
    regular: bool,
    n: u64,
) -> Result<(), CopyError> {
    if !regular {
        return Ok(());
    }
    let st = rustix::fs::fstat(dst).map_err(|e| item.error(Op::Stat, true, e.into()))?;
    if st.st_size as u64 != n {
        let why = format!("it has {} bytes after {n} were written", st.st_size);
        return Err(item.error(Op::Write, true, std::io::Error::other(why)));
    }
    Ok(())
}

/// Create a directory item synchronously (or reuse an existing directory),
/// report it, and publish its state so what goes inside can proceed. Waits
/// until its parent exists; a failed parent makes it fail silently (the
/// parent's failure was reported).
pub fn create_dir(item: &Item, progress: &dyn Progress) {
    let Kind::Dir { node, mode } = &item.kind else {
        return;
    };
    let state = match item.dst_dir.wait() {
        DstState::Ready { fd, .. } => match make_dir(item, fd.as_fd(), *mode) {
            Ok(state) => {
                // Report before publishing, so `-v` lists a directory before its contents.
                if let DstState::Ready { fresh: true, .. } = state {
                    progress.done(item, 0);
                }
                state
            }
            Err(f) => {
                progress.failure(&f);
                DstState::Failed
            }
        },
        DstState::Failed => DstState::Failed,
    };
    node.set(state);
}

/// The "bytes copied" of a name parked in the hard-link map: nothing to
/// report yet (see [`FileCopier::claim_link`]).
pub const PARKED: u64 = u64::MAX;

/// Drop an item because the run is stopping. A directory is marked failed,
/// so nothing waits for it.
pub fn drop_interrupted(item: Item) {
    if let Kind::Dir { node, .. } = &item.kind
        && node.state().is_none()
    {
        node.set(DstState::Failed);
    }
}

/// Tell `progress` how an item ended: created (`Some(bytes)`), skipped, or failed.
pub fn report(progress: &dyn Progress, item: &Item, result: Result<Option<u64>, Failure>) {
    match result {
        // Parked until the first copy of its inode is done, which reports it.
        Ok(Some(PARKED)) => {}
        Ok(Some(bytes)) => progress.done(item, bytes),
        Ok(None) => progress.skipped(item),
        Err(f) => progress.failure(&f),
    }
}
