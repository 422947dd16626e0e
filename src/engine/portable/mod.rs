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

use super::ops::FileCopier;
use super::{Engine, EngineOptions};
use crate::progress::Progress;
use crate::tree::Item;
use crossbeam_channel::Receiver;
use std::sync::Arc;

pub struct Portable {
    workers: usize,
    files: FileCopier,
}

impl Portable {
    pub fn new(opts: EngineOptions) -> Self {
        let workers = super::default_workers();
        Portable {
            files: super::file_copier(&opts, workers, opts.buffer_mem),
            workers,
        }
    }
}

impl Engine for Portable {
    fn name(&self) -> &'static str {
        "portable"
    }

    fn shards(&self) -> usize {
        self.workers
    }

    fn run(&mut self, shards: Vec<Receiver<Item>>, progress: &Arc<dyn Progress>) {
        let this = &*self;
        std::thread::scope(|s| {
            for items in shards {
                let progress = progress.clone();
                s.spawn(move || {
                    let mut buf = Vec::new();
                    for item in items {
                        this.files.handle(&item, &*progress, &mut buf);
                    }
                });
            }
        });
    }
}
