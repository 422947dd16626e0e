//! One regular file, from open to commit, in two halves: [`FileCopier::open_file`]
//! opens and stats the source, claims it in the hard-link map and opens the
//! destination; [`FileCopier::finish_file_copy`] moves the bytes (checking
//! that the source did not change meanwhile, else copying it again),
//! applies the preserved attributes and commits or discards. One thread
//! does both for most files; a walker lending a directory's files does the
//! first and another walker the second (`lent.rs`).

use super::*;

/// A regular file opened at both ends, none of its bytes moved yet: the
/// first half of a copy (`FileCopier::open_file`).
pub struct OpenEnds {
    src: OwnedFd,
    sst: SrcStat,
    out: Opened,
    as_data: bool,
    /// The first name of a multiply-linked source: its other names wait
    /// for this copy ([`FileCopier::first_done`]).
    first: bool,
}

/// How far [`FileCopier::open_file`] got.
pub(super) enum Front {
    /// The file ended there (linked, skipped, queued or failed).
    Ended(Result<Copied, Failure>),
    /// Opened at both ends: the rest of its copy is still to do.
    Open(OpenEnds),
}

impl FileCopier {
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
    pub(super) fn copy_file(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
        buf: &mut Vec<u8>,
        queue: bool,
    ) -> Result<Copied, Failure> {
        match self.open_file(item, dst, fresh, buf, queue) {
            Front::Ended(result) => result,
            Front::Open(ends) => self.finish_file_copy(item, dst, ends, buf),
        }
    }

    /// The first half of [`FileCopier::copy_file`]: open and stat the source,
    /// claim it in the hard-link map, open the destination. A file that ends
    /// here (linked, skipped, queued, failed) is done with but for the
    /// caller's report; its hard-link claim is released here too.
    pub(super) fn open_file(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        fresh: bool,
        buf: &mut Vec<u8>,
        queue: bool,
    ) -> Front {
        if let Some(mode) = self.link {
            return Front::Ended(linking::make(self, item, dst, fresh, mode).map(Copied::Done));
        }
        let (follow, as_data) = match item.kind {
            Kind::File { twin: true, .. } => {
                let linked = linking::twin(self, item, dst, fresh, buf);
                return Front::Ended(linked.map(Copied::Done));
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
        let src = match rustix::fs::openat(
            &item.src_dir.fd,
            item.name.as_c_str(),
            flags,
            Mode::empty(),
        ) {
            Ok(src) => src,
            Err(e) => return Front::Ended(Err(item.error(Op::OpenRead, false, e.into()).into())),
        };
        // (The path is built only for a message: joining it costs an allocation per file.)
        let st = match rustix::fs::fstat(&src) {
            Ok(st) => st,
            Err(e) => {
                return Front::Ended(Err(
                    CopyError::new(Op::Stat, item.src_path(), e.into()).into()
                ));
            }
        };
        if !as_data && FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Front::Ended(Err(item
                .error(Op::Changed, false, errno(libc::EINVAL))
                .into()));
        }
        if queue && !as_data && self.large.takes(st.st_size as u64) {
            return Front::Ended(Ok(Copied::Queued));
        }
        let sst = SrcStat::from_stat(&st);
        let first = match as_data {
            true => false,
            false => match self.claim_link(item, &sst, dst, fresh) {
                LinkClaim::Untracked => false,
                LinkClaim::First => true,
                LinkClaim::Ended(outcome) => return Front::Ended(outcome.map(Copied::Done)),
            },
        };
        let mode = self.archive.create_mode(sst.mode);
        match self.open_destination(item, dst, fresh, &sst, mode, as_data) {
            Ok(Some(out)) => Front::Open(OpenEnds {
                src,
                sst,
                out,
                as_data,
                first,
            }),
            ended => {
                if first {
                    self.first_done(item, &sst, false);
                }
                Front::Ended(ended.map(|_| Copied::Done(Done::Skipped)))
            }
        }
    }

    /// The second half of [`FileCopier::copy_file`]: move the bytes of a file
    /// opened at both ends, then its attributes, then commit (or discard).
    pub(super) fn finish_file_copy(
        &self,
        item: &Item,
        dst: BorrowedFd<'_>,
        ends: OpenEnds,
        buf: &mut Vec<u8>,
    ) -> Result<Copied, Failure> {
        let OpenEnds {
            src,
            sst,
            out,
            as_data,
            first,
        } = ends;
        let result = self.copy_open(item, &src, dst, out, &sst, as_data, buf);
        if first {
            self.first_done(item, &sst, result.as_ref().is_ok_and(|d| d.made()));
        }
        result.map(Copied::Done)
    }

    /// Copy the open source `src` (status `sst`) into the opened destination
    /// `out`: data, then attributes.
    #[allow(clippy::too_many_arguments)]
    fn copy_open(
        &self,
        item: &Item,
        src: &OwnedFd,
        dst: BorrowedFd<'_>,
        out: Opened,
        sst: &SrcStat,
        as_data: bool,
        buf: &mut Vec<u8>,
    ) -> Outcome {
        if self.attributes_only {
            self.finish_file(item, src, &out, sst);
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
            self.finish_file(item, src, &out, sst);
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
                self.finish_file(item, src, &out, &sst);
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
                    crate::engine::mover::holes::copy_sparse(item, ends, size, buf)?
                }
                // Until EOF or, when the size is known, that many bytes (no EOF
                // probe). One range, on this thread: a lone 2 GiB file split in
                // two ranges on two threads spent twice the CPU for no wall time
                // warm and lost cold (two read-ahead streams on one disk; 9
                // interleaved runs, 1st-quartile wall: warm 0.64 s split, 0.66
                // one range, fcp 0.75; cold 1.31, 0.89, fcp 0.82). Several
                // large files still go to several workers ([`large`]).
                _ => self.mover.copy(item, ends, size, buf)?,
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
    pub(super) fn dst_end(&self, item: &Item, out: &Opened) -> Result<(u64, bool), CopyError> {
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

    /// Give up on a file opened at both ends: remove the destination it
    /// created (as a failed copy does) and let its other names go on.
    pub(super) fn discard_ends(&self, item: &Item, dst: BorrowedFd<'_>, ends: OpenEnds) {
        let OpenEnds {
            src,
            sst,
            out,
            first,
            ..
        } = ends;
        drop(src);
        self.discard(item, dst, out);
        if first {
            self.first_done(item, &sst, false);
        }
    }
}
