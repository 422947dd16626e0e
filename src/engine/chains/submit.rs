//! Building submissions: what each item puts in the ring (a STATX, a whole
//! copy chain, a large file's read/write pairs, MKDIRAT, SYMLINKAT), and
//! admission: how much may be in flight at once.

use super::*;

/// A `STATX` of a copy's source after all of it was read, into the copy's
/// own buffer: a status that differs from the one the copy was sized from
/// means it changed meanwhile (see `Copy::changed`).
pub(super) fn restat(c: &mut Copy, key: Key) -> squeue::Entry {
    let flags = match c.item.kind {
        Kind::File { follow: true, .. } => 0,
        _ => libc::AT_SYMLINK_NOFOLLOW,
    };
    let stx: *mut libc::statx = &mut *c.stx;
    opcode::Statx::new(
        Fd(c.item.src_dir.fd.as_raw_fd()),
        c.item.name.as_ptr(),
        stx.cast(),
    )
    .flags(flags)
    .mask(libc::STATX_BASIC_STATS)
    .build()
    .user_data(ud(key, RESTAT))
}

/// Is this step a read (of a small file or of a large file's pair)?
pub(super) fn is_read(step: u8) -> bool {
    step == READ || (step >= PAIR && (step - PAIR).is_multiple_of(2))
}

pub(super) fn ud(key: Key, step: u8) -> u64 {
    key.user_data(step)
}

/// A read and a write of the same buffer range, fixed or plain.
pub(super) fn rw(
    fixed: bool,
    src: Fixed,
    dst: Fixed,
    ptr: *mut u8,
    len: u32,
    off: u64,
) -> (squeue::Entry, squeue::Entry) {
    if fixed {
        (
            opcode::ReadFixed::new(src, ptr, len, 0).offset(off).build(),
            opcode::WriteFixed::new(dst, ptr, len, 0)
                .offset(off)
                .build(),
        )
    } else {
        (
            opcode::Read::new(src, ptr, len).offset(off).build(),
            opcode::Write::new(dst, ptr, len).offset(off).build(),
        )
    }
}

impl Worker {
    pub(super) fn max_files(&self) -> usize {
        // Each file has up to 2 + 2 * MAX_PAIRS completions due: keep them within
        // the completion queue, which a locked-memory limit may have shrunk.
        let cq = self.ring.cq_capacity();
        (MAX_FILES as usize)
            .min(self.nslots as usize / 2)
            .min(cq / 10)
            .max(1)
    }

    /// Room to take another item from the walker?
    pub(super) fn has_room(&self) -> bool {
        self.waiting.is_empty()
            && self.requeue.is_empty()
            && self.active_files < self.max_files()
            && self.active_other < MAX_OTHER
            && self.parked_count < MAX_FILES as usize * 4
    }

    /// Begin work on an item from the walker.
    pub(super) fn start(&mut self, item: Item, progress: &dyn Progress) -> std::io::Result<()> {
        if crate::interrupt::requested() {
            // Chains in flight finish; nothing new starts.
            crate::engine::copier::drop_interrupted(item);
            return Ok(());
        }
        let (dst_fd, fresh) = match item.dst_dir.state() {
            None => {
                let key = Arc::as_ptr(&item.dst_dir) as usize;
                self.parked.entry(key).or_default().push(item);
                self.parked_count += 1;
                return Ok(());
            }
            Some(DstState::Failed) => {
                // Reported already; nothing inside can be created.
                if let Kind::Dir { node, .. } = &item.kind {
                    self.publish(node, DstState::Failed);
                }
                return Ok(());
            }
            Some(DstState::Ready { fd, fresh }) => (fd.as_raw_fd(), *fresh),
        };
        match &item.kind {
            // It may be cloned (see `Mover::may_clone`), or it is a --link-dest
            // twin to link (`linking::twin`): the synchronous copier does that,
            // with no ring work first.
            Kind::File {
                as_data: false,
                twin,
                ..
            } if *twin
                || (!self.files.files_need_sync()
                    && self.files.may_clone(&item.src_dir, &item.dst_dir)) =>
            {
                if let Some(DstState::Ready { fd, .. }) = item.dst_dir.state() {
                    let r = self.files.copy(&item, fd.as_fd(), fresh, &mut Vec::new());
                    report(progress, &item, r);
                }
            }
            Kind::File { follow, .. } => {
                let flags = if *follow {
                    0
                } else {
                    libc::AT_SYMLINK_NOFOLLOW
                };
                let src_dir = item.src_dir.fd.as_raw_fd();
                let name = item.name.as_ptr();
                let mut stx = crate::engine::ring::sys::statx_buffer();
                let stx_ptr: *mut libc::statx = &mut *stx;
                let key = self.ring.ops.insert(Task::Stat { item, stx });
                self.active_files += 1;
                let sqe = opcode::Statx::new(Fd(src_dir), name, stx_ptr.cast())
                    .flags(flags)
                    .mask(libc::STATX_BASIC_STATS)
                    .build()
                    .user_data(ud(key, 0));
                self.push(&[sqe])?;
            }
            Kind::Dir { mode, .. } => {
                let name = item.dst_name().as_ptr();
                let mode = *mode;
                let key = self.ring.ops.insert(Task::Mkdir { item, mkdir: 0 });
                self.active_other += 1;
                let mkdir = opcode::MkDirAt::new(Fd(dst_fd), name)
                    .mode(mode)
                    .build()
                    .flags(squeue::Flags::IO_LINK)
                    .user_data(ud(key, 0));
                let open = opcode::OpenAt::new(Fd(dst_fd), name)
                    .flags(libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .build()
                    .user_data(ud(key, 1));
                self.push(&[mkdir, open])?;
            }
            Kind::Symlink { target }
                if fresh && item.stat.is_none() && !self.files.files_need_sync() =>
            {
                let target = target.as_ptr();
                let name = item.dst_name().as_ptr();
                let key = self.ring.ops.insert(Task::Symlink { item });
                self.active_other += 1;
                let sqe = opcode::SymlinkAt::new(Fd(dst_fd), target, name)
                    .build()
                    .user_data(ud(key, 0));
                self.push(&[sqe])?;
            }
            // Replacing an existing entry, and mknod (no opcode): the rare, synchronous path.
            Kind::Symlink { .. } | Kind::Special { .. } => {
                if let Some(DstState::Ready { fd, .. }) = item.dst_dir.state() {
                    report(
                        progress,
                        &item,
                        self.files.create_other(&item, fd.as_fd(), fresh),
                    );
                }
            }
        }
        Ok(())
    }

    /// Start stat'ed files while slots and buffer memory last.
    pub(super) fn start_waiting(&mut self) -> std::io::Result<()> {
        for key in std::mem::take(&mut self.starved) {
            self.stream(key)?;
        }
        while let Some(&key) = self.waiting.front() {
            if self.slots.len() < 2 {
                return Ok(());
            }
            let Some(Task::Copy(c)) = self.ring.ops.get(key) else {
                self.waiting.pop_front();
                continue;
            };
            let small = c.size <= self.chunk as u64;
            let buf = if small && c.size > 0 {
                match self.ring.pool.get(c.size as u32) {
                    Some(b) => Some(b),
                    None => return Ok(()),
                }
            } else {
                None
            };
            self.waiting.pop_front();
            let (src, dst) = match (self.slots.pop(), self.slots.pop()) {
                (Some(s), Some(d)) => (s, d),
                _ => unreachable!("two slots were checked to be free"),
            };
            let Some(Task::Copy(c)) = self.ring.ops.get_mut(key) else {
                continue;
            };
            c.src = src;
            c.dst = dst;
            c.buf = buf;
            c.stage = if small { Stage::Chain } else { Stage::Opening };
            let sqes = self.chain(key);
            self.push(&sqes)?;
        }
        Ok(())
    }

    /// The SQEs that start a file: the whole chain for a small one, the opens
    /// for a large one.
    pub(super) fn chain(&mut self, key: Key) -> Vec<squeue::Entry> {
        let fixed = self.ring.pool.registered();
        let Some(Task::Copy(c)) = self.ring.ops.get_mut(key) else {
            return Vec::new();
        };
        let link = squeue::Flags::IO_LINK;
        let nofollow = match c.item.kind {
            Kind::File { follow: true, .. } => 0,
            _ => libc::O_NOFOLLOW,
        };
        let dst_fd = match c.item.dst_dir.state() {
            Some(DstState::Ready { fd, .. }) => fd.as_raw_fd(),
            _ => -1,
        };
        let slot = |s: u32| DestinationSlot::try_from_slot_target(s).ok();
        let open_src = opcode::OpenAt::new(Fd(c.item.src_dir.fd.as_raw_fd()), c.item.name.as_ptr())
            .flags(libc::O_RDONLY | nofollow)
            .file_index(slot(c.src))
            .build()
            .flags(link)
            .user_data(ud(key, OPEN_SRC));
        let open_dst = opcode::OpenAt::new(Fd(dst_fd), c.item.dst_name().as_ptr())
            .flags(c.how.flags().bits() as i32 & !libc::O_CLOEXEC)
            .mode(c.mode)
            .file_index(slot(c.dst))
            .build()
            .user_data(ud(key, OPEN_DST));
        let (src, dst) = (Fixed(c.src), Fixed(c.dst));
        let close_dst = opcode::Close::new(dst)
            .build()
            .user_data(ud(key, CLOSE_DST));
        let close_src = opcode::Close::new(src)
            .build()
            .user_data(ud(key, CLOSE_SRC));
        let mut sqes = vec![open_src];
        match (c.stage, &c.buf) {
            (Stage::Chain, Some(buf)) => {
                let (ptr, len) = (self.ring.pool.ptr(buf), buf.len);
                let (read, write) = rw(fixed, src, dst, ptr, len, 0);
                sqes.push(read.flags(link).user_data(ud(key, READ)));
                sqes.push(open_dst.flags(link));
                sqes.push(write.flags(link).user_data(ud(key, WRITE)));
                sqes.push(close_dst.flags(link));
                sqes.push(close_src.flags(link));
                sqes.push(restat(c, key));
            }
            (Stage::Chain, None) => {
                sqes.push(open_dst.flags(link));
                sqes.push(close_dst.flags(link));
                sqes.push(close_src);
            }
            _ => sqes.push(open_dst),
        }
        c.pending = sqes.len() as u32;
        sqes
    }

    /// Keep a large file's read/write pairs in flight; close it when all are done.
    pub(super) fn stream(&mut self, key: Key) -> std::io::Result<()> {
        let fixed = self.ring.pool.registered();
        let mut sqes = Vec::new();
        let Some(Task::Copy(c)) = self.ring.ops.get_mut(key) else {
            return Ok(());
        };
        if c.failed.is_some() || c.changed {
            return Ok(());
        }
        let (src, dst) = (Fixed(c.src), Fixed(c.dst));
        while c.next_off < c.size {
            let Some(i) = c.pairs.iter().position(Option::is_none) else {
                break;
            };
            let len = (c.size - c.next_off).min(self.chunk as u64) as u32;
            let Some(buf) = self.ring.pool.get(len) else {
                if c.pairs.iter().all(Option::is_none) {
                    self.starved.push(key);
                }
                break;
            };
            let (read, write) = rw(fixed, src, dst, self.ring.pool.ptr(&buf), len, c.next_off);
            let step = PAIR + 2 * i as u8;
            sqes.push(read.flags(squeue::Flags::IO_LINK).user_data(ud(key, step)));
            sqes.push(write.user_data(ud(key, step + 1)));
            c.pairs[i] = Some((buf, 2));
            c.pending += 2;
            c.next_off += len as u64;
        }
        if c.next_off >= c.size && c.pending == 0 {
            c.stage = Stage::Closing;
            // Every read is done: has the source changed meanwhile?
            sqes.push(restat(c, key));
            sqes.push(
                opcode::Close::new(dst)
                    .build()
                    .user_data(ud(key, CLOSE_DST)),
            );
            sqes.push(
                opcode::Close::new(src)
                    .build()
                    .user_data(ud(key, CLOSE_SRC)),
            );
            c.pending = 3;
        }
        self.push(&sqes)
    }
}
