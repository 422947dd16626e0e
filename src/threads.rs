//! Starting threads. Each is named (`top -H`, `perf`, a core dump say which
//! walker or worker it is), and a thread that cannot be started (`EAGAIN`
//! under a container's or a service's pids limit) is an error its caller
//! handles, not a panic: the walk goes on with fewer walkers, an engine that
//! is short of a worker stops the copy with a message (exit status 1), and
//! the progress bar is left out. Under an address-space limit a thread
//! without room for its stack and signal stack is refused the same way
//! (`ENOMEM`), before the runtime would abort inside it.

use std::thread::{Scope, ScopedJoinHandle};

/// Start `f` on a thread named `name` within `scope`.
pub fn scoped<'scope, F, T>(
    scope: &'scope Scope<'scope, '_>,
    name: String,
    f: F,
) -> std::io::Result<ScopedJoinHandle<'scope, T>>
where
    F: FnOnce() -> T + Send + 'scope,
    T: Send + 'scope,
{
    if !crate::addrspace::room_for_thread() {
        // Refused here rather than by the runtime inside the new thread,
        // which aborts (see `addrspace::room_for_thread`).
        return Err(std::io::Error::from_raw_os_error(libc::ENOMEM));
    }
    crate::addrspace::thread(name).spawn_scoped(scope, f)
}

/// Start an engine's worker `f` on a thread named `name` within `scope`;
/// when it cannot start, say so and return false: the caller starts no more
/// and drops the queues left, so the walker stops at the next item for them.
pub fn worker<'scope, F>(
    scope: &'scope Scope<'scope, '_>,
    name: String,
    progress: &dyn crate::progress::Progress,
    f: F,
) -> bool
where
    F: FnOnce() + Send + 'scope,
{
    match scoped(scope, name.clone(), f) {
        Ok(_) => true,
        Err(e) => {
            progress.message(&format!(
                "cannot start a thread ({name}): {}; stopping the copy",
                crate::error::strip_os_suffix(&e)
            ));
            false
        }
    }
}
