//! Handling completions: each CQE advances its task (a STATX answered, a
//! chain finished or cut short, a directory made), and a finished copy is
//! checked, reported, or handed to the synchronous copier.

use super::submit::{is_read, ud};
use super::*;

impl Worker {
    /// A destination directory is made (or failed): let its contents go.
    pub(super) fn publish(&mut self, node: &Arc<DstDir>, state: DstState) {
        node.set(state);
        if let Some(items) = self.parked.remove(&(Arc::as_ptr(node) as usize)) {
            self.parked_count -= items.len();
            self.requeue.extend(items);
        }
    }

    /// Handle one completion.
    pub(super) fn complete(
        &mut self,
        key: Key,
        step: u8,
        res: i32,
        progress: &dyn Progress,
    ) -> std::io::Result<()> {
        let Some(task) = self.ring.ops.get_mut(key) else {
            return Ok(());
        };
        match task {
            Task::Stat { .. } => {
                let Some(Task::Stat { item, stx }) = self.ring.ops.remove(key) else {
                    return Ok(());
                };
                self.stat_done(item, stx, res, progress);
            }
            Task::Mkdir { mkdir, .. } => {
                if step == 0 {
                    *mkdir = res;
                    return Ok(());
                }
                let mkdir = *mkdir;
                let Some(Task::Mkdir { item, .. }) = self.ring.ops.remove(key) else {
                    return Ok(());
                };
                self.active_other -= 1;
                self.mkdir_done(item, mkdir, res, progress);
            }
            Task::Symlink { .. } => {
                let Some(Task::Symlink { item }) = self.ring.ops.remove(key) else {
                    return Ok(());
                };
                self.active_other -= 1;
                let dir = match item.dst_dir.state() {
                    Some(DstState::Ready { fd, .. }) => Some(fd.as_fd()),
                    _ => None,
                };
                let result = match (res, dir) {
                    (0, Some(dir)) => {
                        self.files.made_symlinks.made(dir, item.dst_name());
                        Ok(Done::Copied(0))
                    }
                    (0, None) => Ok(Done::Copied(0)),
                    (_, Some(dir)) if res == -libc::EEXIST => self
                        .files
                        .make_entry(&item, dir, false, 0)
                        .map(|made| if made { Done::Copied(0) } else { Done::Skipped }),
                    (_, None) if res == -libc::EEXIST => Ok(Done::Skipped),
                    _ => Err(item.error(Op::Symlink, true, errno(-res)).into()),
                };
                report(progress, &item, result);
            }
            Task::Cleanup { slots, pending } => {
                *pending -= 1;
                if *pending == 0 {
                    let slots = *slots;
                    self.ring.ops.remove(key);
                    self.slots.extend(slots);
                }
            }
            Task::Copy(c) => {
                c.pending -= 1;
                let expect_len = |c: &Copy, step: u8| -> i64 {
                    if step == READ || step == WRITE {
                        c.buf.as_ref().map_or(0, |b| b.len as i64)
                    } else {
                        c.pairs[((step - PAIR) / 2) as usize]
                            .as_ref()
                            .map_or(0, |(b, _)| b.len as i64)
                    }
                };
                match step {
                    READ | WRITE | PAIR.. if res >= 0 && (res as i64) < expect_len(c, step) => {
                        if is_read(step) {
                            c.changed = true;
                        } else {
                            // A short write: the disk is full.
                            c.failed.get_or_insert((step, libc::ENOSPC));
                        }
                    }
                    _ if res == -libc::ECANCELED => {}
                    _ if res < 0 => {
                        c.failed.get_or_insert((step, -res));
                    }
                    OPEN_DST => c.dst_opened = true,
                    RESTAT => {
                        let now = crate::tree::SrcStat::from_libc_statx(&c.stx);
                        if !now.same_content_as(&c.before) {
                            c.changed = true;
                        }
                    }
                    _ => {}
                }
                if step >= PAIR {
                    let i = ((step - PAIR) / 2) as usize;
                    if let Some((_, due)) = &mut c.pairs[i] {
                        *due -= 1;
                        if *due == 0
                            && let Some((buf, _)) = c.pairs[i].take()
                        {
                            self.ring.pool.put(buf);
                        }
                    }
                }
                self.advance(key, progress)?;
            }
        }
        Ok(())
    }

    /// Move a file on after a completion.
    pub(super) fn advance(&mut self, key: Key, progress: &dyn Progress) -> std::io::Result<()> {
        let Some(Task::Copy(c)) = self.ring.ops.get_mut(key) else {
            return Ok(());
        };
        if c.stage == Stage::Streaming && c.failed.is_none() && crate::interrupt::requested() {
            // Stop streaming: the file is removed once its requests are in.
            c.failed = Some((WRITE, libc::EINTR));
        }
        let broken = c.failed.is_some() || c.changed;
        match (c.stage, c.pending, broken) {
            (Stage::Opening, 0, false) => {
                if let Some(Task::Copy(c)) = self.ring.ops.get_mut(key) {
                    c.stage = Stage::Streaming;
                }
                self.stream(key)
            }
            (Stage::Streaming, _, false) => self.stream(key),
            (_, 0, _) => {
                let Some(Task::Copy(c)) = self.ring.ops.remove(key) else {
                    return Ok(());
                };
                self.active_files -= 1;
                self.finish(*c, progress)
            }
            _ => Ok(()),
        }
    }

    /// A file's last completion is in.
    pub(super) fn finish(&mut self, mut c: Copy, progress: &dyn Progress) -> std::io::Result<()> {
        if let Some(buf) = c.buf.take() {
            self.ring.pool.put(buf);
        }
        if c.failed.is_none() && !c.changed {
            self.slots.extend([c.src, c.dst]);
            progress.done(&c.item, c.size);
            return Ok(());
        }
        // Close whatever the broken chain left open, then free the slots.
        let key = self.ring.ops.insert(Task::Cleanup {
            slots: [c.src, c.dst],
            pending: 2,
        });
        self.push(&[
            opcode::Close::new(Fixed(c.src))
                .build()
                .user_data(ud(key, 0)),
            opcode::Close::new(Fixed(c.dst))
                .build()
                .user_data(ud(key, 1)),
        ])?;
        let Some(DstState::Ready { fd, .. }) = c.item.dst_dir.state() else {
            return Ok(());
        };
        let dst = fd.as_fd();
        // Only a file this chain created goes: an existing one was truncated
        // in place (cp's rule) and is rewritten by the retry or stays.
        if c.dst_opened && c.how == DstOpen::Create {
            self.files.remove_made(&c.item, dst, c.item.dst_name());
        }
        let item = &c.item;
        let retry = match c.failed {
            None => true, // the source changed size: copy what is there now
            Some((OPEN_DST, e)) => {
                e == libc::EEXIST
                    || (matches!(c.how, DstOpen::Overwrite | DstOpen::Through)
                        && self.opts.overwrite == crate::config::Overwrite::Force)
            }
            Some(_) => false,
        };
        let result = if c.failed == Some((WRITE, libc::EINTR)) {
            return Ok(()); // interrupted: removed, and not a failure of its own
        } else if retry {
            let mut buf = Vec::new();
            self.files.copy(item, dst, false, &mut buf)
        } else {
            let (step, e) = c.failed.unwrap_or((READ, libc::EIO));
            Err(match step {
                OPEN_SRC => item.error(Op::OpenRead, false, errno(e)).into(),
                OPEN_DST if e == libc::EISDIR => Failure::Msg(format!(
                    "cannot overwrite directory {} with non-directory",
                    crate::error::quote(&item.dst_path())
                )),
                OPEN_DST => item.error(Op::Create, true, errno(e)).into(),
                CLOSE_DST | CLOSE_SRC => item.error(Op::Close, step == CLOSE_DST, errno(e)).into(),
                RESTAT => item.error(Op::Stat, false, errno(e)).into(),
                s if is_read(s) => item.error(Op::Read, false, errno(e)).into(),
                _ => item.error(Op::Write, true, errno(e)).into(),
            })
        };
        report(progress, item, result);
        Ok(())
    }

    pub(super) fn stat_done(
        &mut self,
        item: Item,
        stx: Box<libc::statx>,
        res: i32,
        progress: &dyn Progress,
    ) {
        if res < 0 {
            self.active_files -= 1;
            progress.error(&item.error(Op::Stat, false, errno(-res)));
            return;
        }
        let Some(DstState::Ready { fd, fresh }) = item.dst_dir.state() else {
            self.active_files -= 1;
            return;
        };
        let is_reg = u32::from(stx.stx_mode) & libc::S_IFMT == libc::S_IFREG;
        let sst = crate::tree::SrcStat::from_libc_statx(&stx);
        let archive = &self.files.archive;
        let sync =
            archive.preserve.any() || self.files.files_need_sync() || archive.sparse_copy(&sst);
        let large = stx.stx_size >= crate::engine::copier::large::LARGE_MIN;
        let how = if !is_reg || sync || stx.stx_size == 0 || large {
            // Changed type since the walk, a device read as data, attributes
            // to keep, or a size of 0, which may be a pseudo-file (/proc) with
            // content: synchronous path, which reads to EOF. So is a large
            // file: the byte mover moves it in the kernel (`sendfile`: one
            // memory copy, the ring's reads and writes make two).
            None
        } else if *fresh {
            Some(Ok(DstOpen::Create))
        } else {
            Some(self.files.check_existing(&item, fd.as_fd(), &sst))
        };
        match how {
            // A symlink to replace: there is no unlink in a chain.
            None | Some(Ok(DstOpen::Replace)) => {
                self.active_files -= 1;
                let mut buf = Vec::new();
                let r = self.files.copy(&item, fd.as_fd(), *fresh, &mut buf);
                report(progress, &item, r);
            }
            Some(Err(f)) => {
                self.active_files -= 1;
                progress.failure(&f);
            }
            Some(Ok(DstOpen::Skip)) => {
                self.active_files -= 1;
                progress.skipped(&item);
            }
            Some(Ok(how)) => {
                let copy = Copy {
                    item,
                    size: stx.stx_size,
                    mode: self.files.archive.create_mode(stx.stx_mode.into()),
                    how,
                    stage: Stage::Chain,
                    src: 0,
                    dst: 0,
                    buf: None,
                    pairs: Default::default(),
                    next_off: 0,
                    pending: 0,
                    failed: None,
                    changed: false,
                    before: sst,
                    stx,
                    dst_opened: false,
                };
                let key = self.ring.ops.insert(Task::Copy(Box::new(copy)));
                self.waiting.push_back(key);
            }
        }
    }

    pub(super) fn mkdir_done(
        &mut self,
        item: Item,
        mkdir: i32,
        open: i32,
        progress: &dyn Progress,
    ) {
        let Kind::Dir { node, .. } = &item.kind else {
            return;
        };
        let parent = match item.dst_dir.state() {
            Some(DstState::Ready { fd, .. }) => fd.as_fd(),
            _ => return,
        };
        let state = if mkdir == 0 && open >= 0 {
            // SAFETY: a successful OPENAT without a slot returns a new descriptor
            // that nothing else owns.
            Ok(DstState::Ready {
                fd: unsafe { OwnedFd::from_raw_fd(open) },
                fresh: true,
            })
        } else if mkdir == 0 || mkdir == -libc::EEXIST {
            dirs::open_made_dir(&item, parent, mkdir == 0)
        } else {
            Err(item.error(Op::Mkdir, true, errno(-mkdir)).into())
        };
        let state = match state {
            Ok(s) => {
                // Like cp -v: a directory that already existed is not listed.
                if let DstState::Ready { fresh: true, .. } = s {
                    progress.done(&item, 0);
                }
                s
            }
            Err(f) => {
                progress.failure(&f);
                DstState::Failed
            }
        };
        let node = node.clone();
        self.publish(&node, state);
    }
}
