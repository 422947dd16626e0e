//! A ring and everything the kernel may still touch through it: the state of
//! each operation in flight ([`Ops`]) and the registered buffer pool. Both
//! io_uring engines drive their rings through it (io-uring's `tcp_echo`
//! shape: one submit/complete loop, per-operation state keyed by
//! `user_data`).
//!
//! What it guarantees, once for both engines:
//! - a chain is pushed whole or not at all (when the queue is full, what is
//!   queued is submitted first), so a link never spans two submissions;
//! - the ring is torn down before the pool (field order), so the buffer
//!   registration is gone before the memory is unmapped;
//! - when the ring fails ([`Ring::abandon`]), every operation's state and
//!   the pool are leaked, never freed: the kernel may still write into them.
//!
//! What the engines guarantee is [`Ring::push`]'s contract: the memory an
//! entry points to belongs to its operation's state or to the pool.

use super::bufpool::BufPool;
use super::ops::{Key, Ops};
use super::setup;
use crate::progress::RingUsage;
use io_uring::{IoUring, Submitter, squeue};

pub struct Ring<T> {
    // Declared before `pool`: the ring and its buffer registration go first.
    ring: IoUring,
    /// Buffer memory for reads and writes; registered when the kernel allows.
    pub pool: BufPool,
    /// The state of every operation in flight.
    pub ops: Ops<T>,
    /// For `--stats`.
    usage: RingUsage,
    /// The ring failed and its operations were leaked.
    abandoned: bool,
}

impl<T> Ring<T> {
    /// A ring of up to `entries` submission entries (fewer when locked
    /// memory is short: see [`Ring::capacity`]) and a pool of
    /// `pool_bytes(capacity)` bytes.
    pub fn new(
        entries: u32,
        cq_entries: u32,
        pool_bytes: impl FnOnce(usize) -> usize,
    ) -> Result<Self, String> {
        let ring = setup::build(entries, cq_entries)?;
        // (Under an address-space limit, smaller: see `addrspace`.)
        let bytes = crate::addrspace::pool_bytes(pool_bytes(ring.params().sq_entries() as usize));
        // Every range of the pool belongs to a read or write in flight; as
        // many as the submission queue holds is plenty (past it a request is
        // refused as when the memory is used up, and callers wait or copy
        // synchronously).
        if !crate::addrspace::room_for_ring() {
            return Err("too little address space left under ulimit -v for a ring".into());
        }
        let mut pool = BufPool::new(bytes, ring.params().sq_entries())
            .map_err(|e| format!("cannot map the buffer pool: {e}"))?;
        // Falls back to plain READ/WRITE on the same memory if refused (memlock).
        pool.register(&ring.submitter());
        Ok(Ring {
            ops: Ops::with_capacity(ring.params().sq_entries() as usize),
            ring,
            pool,
            usage: RingUsage::default(),
            abandoned: false,
        })
    }

    /// Submission entries the ring actually has: the most that can be queued
    /// between two submissions.
    pub fn capacity(&self) -> usize {
        self.ring.params().sq_entries() as usize
    }

    /// Completion entries the ring has.
    pub fn cq_capacity(&self) -> usize {
        self.ring.params().cq_entries() as usize
    }

    /// For registrations (direct descriptors, io-wq limits).
    pub fn submitter(&self) -> Submitter<'_> {
        self.ring.submitter()
    }

    /// Queue a chain (linked entries) whole, submitting what is queued first
    /// if it does not fit. An error means the ring is broken.
    ///
    /// # Safety
    /// Every pointer in `entries` (names, buffers, `statx` targets) must point
    /// into the state of an operation in [`Ring::ops`], or into
    /// [`Ring::pool`], and that operation must stay in `ops` until the last of
    /// its entries has completed (or the ring is abandoned).
    pub unsafe fn push(&mut self, entries: &[squeue::Entry]) -> std::io::Result<()> {
        if entries.len() > self.capacity() {
            return Err(std::io::Error::other("a chain longer than the ring"));
        }
        loop {
            // SAFETY: the caller's contract above: what the entries point to
            // outlives their completions, and is leaked if the ring fails.
            if unsafe { self.ring.submission().push_multiple(entries) }.is_ok() {
                self.usage.submitted += entries.len() as u64;
                return Ok(());
            }
            self.submit(0)?;
        }
    }

    /// Submit what is queued and wait for `want` completions (see
    /// [`setup::enter`] for which errors are tried again).
    pub fn submit(&mut self, want: usize) -> std::io::Result<()> {
        self.usage.enters += 1;
        setup::enter(&self.ring, want)
    }

    /// Completions waiting to be reaped.
    pub fn ready(&mut self) -> usize {
        self.ring.completion().len()
    }

    /// Take the waiting completions as (operation, step, result), in order.
    /// A completion for an operation no longer in `ops` is dropped.
    pub fn reap(&mut self, into: &mut Vec<(Key, u8, i32)>) {
        let before = into.len();
        into.extend(self.ring.completion().map(|c| {
            let (key, step) = Key::from_user_data(c.user_data());
            (key, step, c.result())
        }));
        self.usage.completed += (into.len() - before) as u64;
    }

    /// The ring failed: operations may still be in flight. `salvage` sees
    /// each one's state (to take what must be done again another way); then
    /// the states and the pool are leaked, never freed.
    pub fn abandon(&mut self, mut salvage: impl FnMut(&T)) {
        self.abandoned = true;
        self.pool.leak();
        for state in self.ops.take_all() {
            salvage(&state);
            crate::tree::leak(state);
        }
    }

    pub fn abandoned(&self) -> bool {
        self.abandoned
    }

    pub fn usage(&self) -> RingUsage {
        self.usage
    }
}
