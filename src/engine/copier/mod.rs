//! `FileCopier`: the synchronous copy of one item, shared by every engine.
//!
//! One regular file from open to commit: open and stat the source, claim it
//! in the hard-link map, open the destination under cp's rules
//! ([`dest`]), move the bytes ([`crate::engine::mover`]), check that the source
//! did not change meanwhile (else copy it again), apply the preserved
//! attributes, and commit or discard. Also symlinks, special files and hard
//! links made in place of a copy, large files handed to the shared queue
//! ([`large`]), and how outcomes are reported. The portable engine
//! does everything through it; the io_uring engines for what their rings do
//! not cover.

pub mod dest;
pub mod hardlinks;
pub mod large;
pub mod linking;
mod remove;
mod verify;

use crate::config::{Overwrite, Reflink};
use crate::engine::mover::{Ends, Mover};
use crate::engine::outcome::{Done, Outcome, report};
use crate::error::{CopyError, Failure, Op, errno, quote};
use crate::meta::{self, Archive};
use crate::progress::Progress;
use crate::tree::SrcStat;
use crate::tree::{DirMade, DstState, Item, Kind};
use dest::{MadeSymlinks, Opened, make_dir};
use hardlinks::LinkClaim;
use large::LargeFiles;
use rustix::fs::{FileType, Mode, OFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

/// Copies of a source that changes while it is copied, before giving up.
const CHANGED_RETRIES: u32 = 3;

/// The synchronous copy of one regular file: the portable engine's whole job,
/// and the io_uring engine's fallback when a linked chain cannot do it (the
/// source changed size, a destination appeared, -f must retry).
pub struct FileCopier {
    overwrite: Overwrite,
    /// Moves the bytes (a clone, copy_file_range, sendfile, read/write).
    mover: Mover,
    /// Archive mode: what to preserve, sparse files, reflinks.
    pub archive: Arc<Archive>,
    /// --preserve=links: the run's map of multiply-linked sources.
    links: Arc<crate::meta::links::Links>,
    large: LargeFiles,
    /// Sync mode: regular files go through a temporary name (see [`crate::sync`]).
    temp_files: bool,
    /// The symlinks this run made, never to be written through.
    pub made_symlinks: MadeSymlinks,
    /// --remove-destination.
    remove_destination: bool,
    /// --attributes-only: no data is copied; an existing file keeps its own.
    attributes_only: bool,
    /// -b: replaced destinations are kept under backup names.
    backup: Option<crate::config::Backup>,
    /// -i: ask before replacing a destination.
    interactive: bool,
    /// -l, -s: non-directories become links to their sources.
    link: Option<crate::config::LinkMode>,
    /// --verify: each copy is read back and compared (see `verify.rs`).
    verify: bool,
    /// --remove-source-files: sources go once copied (see `remove.rs`).
    remove_source: bool,
    /// Every regular file takes this synchronous path.
    need_sync: bool,
}

/// What [`FileCopier::handle_inner`] does with a large regular file (see
/// `large.rs`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Large {
    /// Queue it for whichever worker of a multi-worker engine is free.
    Queue,
    /// Copy it here.
    CopyHere,
    /// Give it back uncopied, to the walker that asked.
    GiveBack,
}

/// What became of a regular file given to the synchronous copier.
enum Copied {
    /// Copied, linked or skipped.
    Done(Done),
    /// Large: left for the queue, nothing written yet.
    Queued,
}

impl FileCopier {
    pub fn new(opts: &crate::engine::EngineOptions, chunk: usize) -> Self {
        let archive = opts.archive.clone();
        FileCopier {
            overwrite: opts.overwrite,
            made_symlinks: MadeSymlinks::new(opts.several_sources),
            remove_destination: opts.remove_destination,
            attributes_only: opts.attributes_only,
            backup: opts.backup.clone(),
            interactive: opts.interactive,
            link: opts.link,
            mover: Mover::new(
                chunk,
                archive.reflink != Reflink::Never,
                archive.reflink == Reflink::Auto,
            ),
            archive,
            links: opts.links.clone(),
            large: LargeFiles::new(),
            temp_files: opts.temp_files,
            verify: opts.verify,
            remove_source: opts.remove_source,
            need_sync: opts.files_need_sync(),
        }
    }

    /// May a regular file from the source directory `src` into the
    /// destination directory `dst` be cloned? Then the ring engines give it
    /// to this copier instead of reading it themselves (see [`Mover::may_clone`]).
    pub fn may_clone(&self, src: &crate::tree::SrcDir, dst: &crate::tree::DstDir) -> bool {
        dst.dev()
            .is_some_and(|dev| self.mover.may_clone((src.dev_ino.0, dev)))
    }

    /// Must every regular file take this synchronous path (see
    /// [`crate::engine::EngineOptions::files_need_sync`])?
    pub fn files_need_sync(&self) -> bool {
        self.need_sync
    }

    /// Create one item of any kind the synchronous way, and report it; a
    /// large file may be queued instead, for whichever worker is free.
    /// Waits until the item's destination directory exists.
    pub fn handle(&self, item: Item, progress: &dyn Progress, buf: &mut Vec<u8>) {
        self.handle_inner(item, progress, buf, Large::Queue);
    }

    /// Like [`FileCopier::handle`], but a large file is copied here too: for
    /// walkers that create what they list (see [`crate::walk::Pool`]).
    pub fn create_now(&self, item: Item, progress: &dyn Progress, buf: &mut Vec<u8>) {
        self.handle_inner(item, progress, buf, Large::CopyHere);
    }

    /// For walkers (see `walk::pool`): like [`FileCopier::create_now`], but a
    /// large regular file is given back uncopied (opened and stat'ed only,
    /// nothing written), for the pool to hand to whichever walker is free,
    /// so that the large files of one directory are copied at once.
    pub fn create_now_or_give_back(
        &self,
        item: Item,
        progress: &dyn Progress,
        buf: &mut Vec<u8>,
    ) -> Option<Item> {
        self.handle_inner(item, progress, buf, Large::GiveBack)
    }

    /// Create `item`; a large regular file goes as `large` says. Returns it
    /// only when it is given back ([`Large::GiveBack`]).
    pub(super) fn handle_inner(
        &self,
        item: Item,
        progress: &dyn Progress,
        buf: &mut Vec<u8>,
        large: Large,
    ) -> Option<Item> {
        if crate::interrupt::requested() {
            drop_interrupted(item);
            return None;
        }
        if let Kind::Dir { .. } = item.kind {
            create_dir(&item, progress);
            return None;
        }
        let (dst, fresh) = match item.dst_dir.wait() {
            DstState::Ready { fd, fresh } => (fd.as_fd(), *fresh),
            // The directory failed and was reported: its contents cannot go anywhere.
            DstState::Failed => return None,
        };
        if let Kind::File { .. } = item.kind {
            let copied = self.copy_file(&item, dst, fresh, buf, large != Large::CopyHere);
            if let (Ok(Copied::Queued), Large::GiveBack) = (&copied, large) {
                return Some(item);
            }
            self.settle(item, copied, progress);
            return None;
        }
        let made = self.create_other(&item, dst, fresh);
        report(progress, &item, made);
        None
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
            Ok(Copied::Queued) => self.large.queue(item),
            Ok(Copied::Done(d)) => report(progress, &item, Ok(d)),
            Err(e) => report(progress, &item, Err(e)),
        }
    }

    /// Create a symlink or special file and give it its source's preserved
    /// attributes.
    pub fn create_other(&self, item: &Item, dst: BorrowedFd<'_>, fresh: bool) -> Outcome {
        if let Some(mode) = self.link {
            return linking::make(self, item, dst, fresh, mode);
        }
        // A symlink or special file with several names: link it like a file.
        let linked = item
            .stat
            .as_deref()
            .filter(|st| self.archive.tracks_links(st, item.display.is_some()));
        let first = match linked {
            Some(st) => match self.claim_link(item, st, dst, fresh) {
                LinkClaim::Untracked => false,
                LinkClaim::First => true,
                LinkClaim::Ended(outcome) => return outcome,
            },
            None => false,
        };
        let result = self.make_other(item, dst, fresh);
        if let (true, Some(st)) = (first, linked) {
            self.first_done(item, st, result.as_ref().is_ok_and(|d| d.made()));
        }
        if let Ok(Done::Copied(_)) = result {
            self.remove_source(item, item.stat.as_deref());
        }
        result
    }

    fn make_other(&self, item: &Item, dst: BorrowedFd<'_>, fresh: bool) -> Outcome {
        let perms = match &item.kind {
            Kind::Special { mode, .. } => self.archive.create_mode(*mode),
            _ => 0,
        };
        if !self.make_entry(item, dst, fresh, perms)? {
            return Ok(Done::Skipped);
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
        Ok(Done::Copied(0))
    }

    /// Copy one regular file.
    pub fn copy(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
        buf: &mut Vec<u8>,
    ) -> Outcome {
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
            return linking::make(self, item, dst, fresh, mode).map(Copied::Done);
        }
        let (follow, as_data) = match item.kind {
            Kind::File { twin: true, .. } => {
                return linking::twin(self, item, dst, fresh, buf).map(Copied::Done);
            }
            Kind::File {
                follow, as_data, ..
            } => (follow, as_data),
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
        // (The path is built only for a message: joining it costs an allocation per file.)
        let st = rustix::fs::fstat(&src)
            .map_err(|e| CopyError::new(Op::Stat, item.src_path(), e.into()))?;
        if !as_data && FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(item.error(Op::Changed, false, errno(libc::EINVAL)).into());
        }
        if queue && !as_data && self.large.takes(st.st_size as u64) {
            return Ok(Copied::Queued);
        }
        let sst = SrcStat::from_stat(&st);
        let first = match as_data {
            true => false,
            false => match self.claim_link(item, &sst, dst, fresh) {
                LinkClaim::Untracked => false,
                LinkClaim::First => true,
                LinkClaim::Ended(outcome) => {
                    if let Ok(Done::Linked) = outcome {
                        self.remove_source(item, Some(&sst));
                    }
                    return outcome.map(Copied::Done);
                }
            },
        };
        let result = self.copy_open(item, &src, dst, fresh, &sst, as_data, buf);
        if first {
            self.first_done(item, &sst, result.as_ref().is_ok_and(|d| d.made()));
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
    ) -> Outcome {
        let mode = self.archive.create_mode(sst.mode);
        let Some(out) = self.open_destination(item, dst, fresh, sst, mode, as_data)? else {
            return Ok(Done::Skipped);
        };
        if self.attributes_only {
            self.finish_file(item, src, &out.fd, sst);
            self.commit(item, dst, out)?;
            return Ok(Done::Copied(0));
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
            if self.verify
                && let Err(e) = self.verify(item, src.as_fd(), out.written(item, dst), sst.size)
            {
                self.discard(item, dst, out);
                return Err(e.into());
            }
            self.finish_file(item, src, &out.fd, sst);
            self.commit(item, dst, out)?;
            return Ok(Done::Copied(sst.size));
        }
        // Just opened: its file position is 0.
        let dst_pos = std::cell::Cell::new(Some(0));
        let copied = self.dst_end(item, &out).and_then(|(dev, regular)| {
            let ends = Ends {
                src: src.as_fd(),
                dst: out.fd.as_fd(),
                devs: (sst.dev, dev),
                dst_regular: regular,
                dst_pos: &dst_pos,
            };
            let (n, sst) = self.copy_checked(item, ends, *sst, as_data, buf)?;
            if self.verify && regular && !as_data {
                self.verify(item, src.as_fd(), out.written(item, dst), n)?;
            }
            Ok((n, sst))
        });
        match copied {
            Ok((n, sst)) => {
                self.finish_file(item, src, &out.fd, &sst);
                self.commit(item, dst, out)?;
                self.remove_source(item, Some(&sst));
                Ok(Done::Copied(n))
            }
            Err(e) => {
                self.discard(item, dst, out);
                if crate::interrupt::requested() {
                    return Ok(Done::Skipped); // not a failure of its own
                }
                Err(e.into())
            }
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
                // The whole file shares the source's blocks if it can (cp tries
                // that first whatever --sparse says; holes stay holes). No
                // check after it: the kernel clones the whole file holding both
                // inodes' locks (a `write` or, on btrfs and xfs, an mmap fault
                // cannot run meanwhile; `generic_remap_file_range_prep` asks
                // every filesystem for that), so the copy is the source at one
                // instant, never a mix, and its size is the kernel's doing, not
                // the mover's. The instant is after `sst` was taken: preserved
                // times may be older than the content, never newer, so a later
                // `--sync` sees a change rather than missing one. Within btrfs,
                // one thread, 5 runs: the two `fstat`s per file cost 2.3% of
                // the wall time (2,144 -> 2,094 ms without the destination's).
                Some(size) if self.mover.clone_whole(ends) => return Ok((size, sst)),
                Some(size) if ends.dst_regular && self.archive.sparse_copy(&sst) => {
                    let zeros = self.archive.sparse == crate::config::Sparse::Always;
                    crate::engine::mover::holes::copy_sparse(
                        item,
                        ends,
                        size,
                        zeros,
                        buf,
                        &mut |a, b, buf| self.mover.copy(item, ends, a, Some(b), buf),
                    )?
                }
                // Until EOF or, when the size is known, that many bytes (no EOF
                // probe). One range, on this thread: a lone 2 GiB file split in
                // two ranges on two threads spent twice the CPU for no wall time
                // warm and lost cold (two read-ahead streams on one disk; 9
                // interleaved runs, 1st-quartile wall: warm 0.64 s split, 0.66
                // one range, fcp 0.75; cold 1.31, 0.89, fcp 0.82). Several
                // large files still go to several workers ([`large`]).
                _ => self.mover.copy(item, ends, 0, size, buf)?,
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
        crate::engine::mover::write_all_at(out.fd.as_fd(), data, 0, regular)
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
    let Kind::Dir { node, mode, made } = &item.kind else {
        return;
    };
    let state = match item.dst_dir.wait() {
        DstState::Ready { fd, .. } => {
            let opened = match made {
                // Made when its parent was listed (`walk::ahead`).
                DirMade::Ahead => dest::open_made_dir(item, fd.as_fd(), true),
                DirMade::There => dest::open_listed_dir(item, fd.as_fd(), *mode),
                DirMade::No => make_dir(item, fd.as_fd(), *mode),
            };
            match opened {
                Ok(state) => {
                    // Report before publishing, so `-v` lists a directory before its contents.
                    if let DstState::Ready { fresh: true, .. } = state {
                        progress.done(item, 0);
                        node.inherit_dev(&item.dst_dir);
                    }
                    state
                }
                Err(f) => {
                    progress.failure(&f);
                    DstState::Failed
                }
            }
        }
        DstState::Failed => DstState::Failed,
    };
    node.set(state);
}

/// Drop an item because the run is stopping. A directory is marked failed,
/// so nothing waits for it.
pub fn drop_interrupted(item: Item) {
    if let Kind::Dir { node, .. } = &item.kind
        && node.state().is_none()
    {
        node.set(DstState::Failed);
    }
}
