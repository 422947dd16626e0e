//! The descriptor limit and table, set up while the process has one thread.
//!
//! A copy keeps a descriptor open for every directory that queued items
//! still need, and two walkers open and close descriptors all the time:
//! the soft limit (often 1024) is raised to the hard one, and the table
//! that will hold them is grown before any thread starts, because a table
//! threads share grows only after an RCU grace period ([`reserve_table`]).

/// Let the process open as many descriptors as its hard limit allows (the
/// soft limit is often 1024): a copy keeps a descriptor per directory that
/// queued items still need. What is left is budgeted by the walker. Returns
/// the soft limit now (`None`: unlimited).
pub(crate) fn raise_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        let raised = rustix::process::Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return lim.maximum;
        }
    }
    lim.current
}

/// Descriptors the table is grown to hold before any thread starts (or the
/// soft limit, if lower). A copy of /usr/share keeps ~800 open at its peak.
const DESCRIPTOR_TABLE: u64 = 8192;

/// Grow this process's descriptor table now, while the process has one
/// thread. The kernel grows a table that threads share only after an RCU
/// grace period (`expand_fdtable` calls `synchronize_rcu` when the table has
/// more than one user), and a table grows by doubling: 64, 128, ..., so a
/// copy that reached ~800 descriptors stalled the thread opening the 65th,
/// 129th, 257th and 513th, 15 ms of a 0.57 s copy within btrfs (`perf
/// record -e sched:sched_switch -g`: `wait_for_completion` <
/// `synchronize_rcu_normal` < `expand_files` < `openat`). Alone, growing
/// costs an allocation. A table never shrinks, so a descriptor opened at the
/// top and closed again leaves it grown. Best effort: a failure only costs
/// the stalls. `limit`: the soft limit on descriptors (`None`: unlimited).
pub(crate) fn reserve_table(limit: Option<u64>) {
    use rustix::fs::{Mode, OFlags};
    let limit = limit.unwrap_or(u64::MAX);
    let Some(top) = limit.min(DESCRIPTOR_TABLE).checked_sub(1) else {
        return;
    };
    let Ok(top) = i32::try_from(top) else {
        return;
    };
    let Ok(root) = rustix::fs::open("/", OFlags::PATH | OFlags::CLOEXEC, Mode::empty()) else {
        return;
    };
    // `F_DUPFD_CLOEXEC` takes the lowest free descriptor at or above `top`,
    // so the table is grown to hold `top`; both are closed when dropped.
    let _high = rustix::io::fcntl_dupfd_cloexec(&root, top);
}
