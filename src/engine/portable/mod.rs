//! The portable engine: ordinary system calls from a small thread pool.
//!
//! This is what runs where io_uring is blocked (containers' seccomp profiles,
//! `kernel.io_uring_disabled`, old kernels), so it is built to be fast too:
//! one worker per shard of the walk (two per CPU), so creates in different
//! directories and reads of different files overlap, and file data moves with
//! `copy_file_range` (no user-space copy; reflinks on filesystems that can),
//! `sendfile` for large files between filesystems, and read/write otherwise.
//! A refusal of copy_file_range is remembered, not retried for every file.
//! Large files go to whichever worker is free ([`FileCopier::next`]).
//! The walker has made every destination directory before its entries arrive.
//!
//! As `--engine walkers` (what `auto` runs within one cloning filesystem)
//! there are no queues: the workers are walkers that take whole
//! directories and create what they list (see [`crate::walk::Pool`]);
//! in sync mode, whose decisions are one walker's, it runs with queues.

use super::copier::FileCopier;
use super::{Engine, EngineOptions, Intake};
use crate::progress::Progress;
use crate::tree::Item;
use crossbeam_channel::Receiver;
use std::sync::Arc;

pub struct Portable {
    workers: usize,
    files: Arc<FileCopier>,
    /// The workers are walkers that take whole directories.
    whole_dirs: bool,
}

impl Portable {
    /// `whole_dirs`: `--engine walkers` (not in sync mode).
    pub fn new(opts: EngineOptions, whole_dirs: bool) -> Self {
        let workers = opts.jobs.unwrap_or_else(super::default_workers);
        Portable {
            files: Arc::new(super::file_copier(&opts, workers, opts.buffer_mem)),
            workers,
            whole_dirs: whole_dirs && !opts.sync,
        }
    }
}

impl Engine for Portable {
    fn name(&self) -> &'static str {
        match self.whole_dirs {
            true => "walkers",
            false => "portable",
        }
    }

    fn intake(&self) -> Intake {
        Intake {
            // Walkers taking whole directories use no queues (the walker
            // still makes one, unused).
            queues: if self.whole_dirs { 0 } else { self.workers },
            makes_dirs: false,
        }
    }

    fn run(&mut self, shards: Vec<Receiver<Item>>, progress: &Arc<dyn Progress>) {
        let this = &*self;
        std::thread::scope(|s| {
            for (i, items) in shards.into_iter().enumerate() {
                let each = progress.clone();
                let work = move || this.files.drain(&items, &*each, &mut Vec::new());
                if !crate::threads::worker(s, format!("worker-{i}"), &**progress, work) {
                    break;
                }
            }
        });
    }

    fn walkers(&self) -> Option<(usize, Arc<FileCopier>)> {
        self.whole_dirs.then(|| (self.workers, self.files.clone()))
    }
}
