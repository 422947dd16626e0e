//! Starting threads. Each is named (`top -H`, `perf`, a core dump say which
//! walker or worker it is), and a thread that cannot be started (`EAGAIN`
//! under a container's or a service's pids limit) is an error its caller
//! handles, not a panic: the walk goes on with fewer walkers, an engine that
//! is short of a worker stops the copy with a message (exit status 1), and
//! the progress bar is left out.

use std::thread::{Builder, Scope, ScopedJoinHandle};

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
    Builder::new().name(name).spawn_scoped(scope, f)
}

/// What to say when an engine could not start the thread named `name`.
pub fn cannot_start(name: &str, e: &std::io::Error) -> String {
    format!(
        "cannot start a thread ({name}): {}; stopping the copy",
        crate::error::strip_os_suffix(e)
    )
}
