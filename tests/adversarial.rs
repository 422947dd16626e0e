//! Adversarial fault injection: the real binary under `strace -f -e
//! inject=...` over real temporary trees, with invariants checked after
//! every run. Three families, one test each:
//!
//! * `failing_syscalls` (`adversarial/syscalls.rs`): a small tree copied in
//!   five modes by every engine while one syscall fails (1st, 2nd or a
//!   later call; EIO, ENOSPC, EINTR, EAGAIN, and ENOMEM/EBADF/EFAULT for
//!   the io_uring calls). The invariants are listed in that module.
//! * `changing_sources` (`adversarial/sources.rs`): a source file grows,
//!   shrinks, is rewritten, touched, replaced by rename, deleted or turned
//!   into a directory while the first data call on it is held by
//!   `delay_enter`/`delay_exit`; same filesystem, a tmpfs and an xfs image.
//! * `hostile_destinations` (`adversarial/hostile.rs`): symlinks planted in
//!   the destination before and during the run, device nodes, FIFOs, and
//!   symlinks to /dev/full as destinations.
//!
//! Every case is a value whose `Display` is its id; a violation prints the
//! id, the exact command (`(cd DIR && umask 022 && strace ... uring-cp ...)`),
//! the injection and what was wrong. All violations of a family are
//! collected, grouped by kind, and fail its test once at the end.
//!
//! Environment knobs:
//! * `UCP_SWEEP=1`: run every case (all syscalls x Nth x errnos x engines x
//!   modes; every source change x filesystem x reflink x mode x size; every
//!   hostile case). Without it a seeded random sample runs (plus a few fixed
//!   cases), sized for CI.
//! * `UCP_SEED=N`: the seed of the sample (printed at the start of every run).
//! * `UCP_SAMPLE=N`: how many random cases per family (default: 40 syscall
//!   cases, 16 source changes, every hostile case).
//! * `UCP_ONLY=TEXT`: run only the cases whose id contains TEXT (e.g. a
//!   case id copied from a failure report), whatever the sample.
//! * `UCP_TIMEOUT=SECS`: per-run timeout before a run counts as a hang and
//!   its process group is killed (default 60).
//! * `UCP_KEEP=1`: keep the scratch directories (under target/tmp), so the
//!   printed commands can be replayed by hand.
//! * `UCP_VERBOSE=1`: print every case and violation as it happens.
//!
//! Tests that cannot run (no strace, ptrace refused, not root for mounts)
//! print `SKIP <reason>`.
//!
//! Run: `cargo test --test adversarial` (CI sample: about 1 minute on 2
//! cores, the three families in parallel), or a sweep of one family, e.g.
//! `UCP_SWEEP=1 cargo test --test adversarial failing_syscalls` (3610
//! cases, about 20 minutes; `changing_sources`: 2016 cases at about 2 s
//! each; `hostile_destinations` always runs all 54 cases, about 25 s).
//!
//! The io_uring engines are skipped (SKIP line) where io_uring is
//! unavailable; a concurrent test that sets `kernel.io_uring_disabled`
//! makes their runs fail with "the io_uring engine is unavailable".

mod common;
#[path = "adversarial/harness.rs"]
mod harness;
#[path = "adversarial/hostile.rs"]
mod hostile;
#[path = "adversarial/sources.rs"]
mod sources;
#[path = "adversarial/strace.rs"]
mod strace;
#[path = "adversarial/syscalls.rs"]
mod syscalls;
#[path = "adversarial/trees.rs"]
mod trees;

#[test]
fn failing_syscalls() {
    syscalls::run_family();
}

#[test]
fn changing_sources() {
    sources::run_family();
}

#[test]
fn hostile_destinations() {
    hostile::run_family();
}
