//! `FileCopier`: the synchronous copy of one item, shared by every engine.
//!
//! One regular file from open to commit: open and stat the source, claim it
//! in the hard-link map, open the destination under cp's rules
//! ([`dest`]), move the bytes ([`crate::engine::mover`]), check that the source
//! did not change meanwhile (else copy it again), apply the preserved
//! attributes, and commit or discard (`file.rs`, in two halves, which
//! `lent.rs` lets two walkers share). Also symlinks, special files and hard
//! links made in place of a copy, large files handed to the shared queue
//! ([`large`]), and how outcomes are reported. The portable engine
//! does everything through it; the io_uring engines for what their rings do
//! not cover.

pub mod dest;
pub mod dirs;
mod file;
pub mod hardlinks;
pub mod large;
pub mod lent;
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
use dest::{MadeSymlinks, Opened};
use dirs::make_dir;
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
            .filter(|st| self.tracks_links(item, st));
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
                true,
            );
        }
        Ok(Done::Copied(0))
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
    fn finish_file(&self, item: &Item, src: &OwnedFd, out: &Opened, sst: &SrcStat) {
        if self.archive.file_attrs() {
            self.archive.apply(
                sst,
                meta::Src::Fd(src.as_fd()),
                &|| item.src_path(),
                meta::Dst::Fd(out.fd.as_fd()),
                &|| item.dst_path(),
                out.created,
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
                DirMade::Ahead => dirs::open_made_dir(item, fd.as_fd(), true),
                DirMade::There => dirs::open_listed_dir(item, fd.as_fd(), *mode),
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
