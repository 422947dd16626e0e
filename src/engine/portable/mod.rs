//! The portable engine: ordinary system calls from a small thread pool.
//!
//! This is what runs where io_uring is blocked (containers' seccomp profiles,
//! `kernel.io_uring_disabled`, old kernels), so it is built to be fast too:
//! several workers pull items from the walker's channel at once, so creates in
//! different directories and reads of different files overlap, and file data
//! moves with `copy_file_range` (no user-space copy; reflinks on filesystems
//! that can) with a plain read/write loop where the kernel refuses it, such as
//! between filesystems of different kinds. A refusal is remembered, not retried
//! for every file.
//!
//! An item waits until its destination directory exists: the directory's own
//! item always comes earlier from the channel, and the worker that took it is
//! creating it, so the wait always ends.

use super::ops::{self, FileCopier};
use super::{Engine, EngineOptions};
use crate::progress::Progress;
use crate::tree::{DstState, Item, Kind};
use crossbeam_channel::Receiver;
use std::os::fd::AsFd;
use std::sync::Arc;

/// Largest read/write buffer per worker.
const MAX_CHUNK: usize = 1 << 20;

pub struct Portable {
    opts: EngineOptions,
    workers: usize,
    files: FileCopier,
}

impl Portable {
    pub fn new(opts: EngineOptions) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = (cpus * 2).clamp(2, 16);
        let chunk = ((opts.buffer_mem as usize) / workers).clamp(4096, MAX_CHUNK);
        Portable {
            files: FileCopier::new(opts.overwrite, chunk),
            opts,
            workers,
        }
    }

    fn handle(&self, item: &Item, progress: &dyn Progress, buf: &mut Vec<u8>) {
        let (dst, fresh) = match item.dst_dir.wait() {
            DstState::Ready { fd, fresh } => (fd.as_fd(), *fresh),
            // The directory failed and was reported: its contents cannot go anywhere.
            DstState::Failed => {
                if let Kind::Dir { node, .. } = &item.kind {
                    node.set(DstState::Failed);
                }
                return;
            }
        };
        let result = match &item.kind {
            Kind::Dir { node, mode } => {
                // Report before publishing, so `-v` lists a directory before its contents.
                let state = match ops::make_dir(item, dst, *mode) {
                    Ok(state) => {
                        if let DstState::Ready { fresh: true, .. } = state {
                            progress.done(item, 0);
                        }
                        state
                    }
                    Err(f) => {
                        progress.failure(&f);
                        DstState::Failed
                    }
                };
                node.set(state);
                return;
            }
            Kind::File { .. } => self.files.copy(item, dst, fresh, buf),
            Kind::Symlink { .. } | Kind::Special { .. } => {
                ops::create_other(item, dst, fresh, self.opts.overwrite)
                    .map(|made| made.then_some(0))
            }
        };
        match result {
            Ok(Some(bytes)) => progress.done(item, bytes),
            Ok(None) => progress.skipped(item),
            Err(f) => progress.failure(&f),
        }
    }
}

impl Engine for Portable {
    fn name(&self) -> &'static str {
        "portable"
    }

    fn run(&mut self, items: Receiver<Item>, progress: &Arc<dyn Progress>) {
        let this = &*self;
        std::thread::scope(|s| {
            for _ in 0..this.workers {
                let items = items.clone();
                let progress = progress.clone();
                s.spawn(move || {
                    let mut buf = Vec::new();
                    for item in items {
                        this.handle(&item, &*progress, &mut buf);
                    }
                });
            }
        });
    }
}
