//! Shared helpers for the `uring-cp` integration tests.
//!
//! * [`TestEnv`]: a temporary directory holding two identical input roots,
//!   `ours/` (where `uring-cp` runs) and `gnu/` (where GNU `cp` runs), so the
//!   two outcomes can be compared tree for tree.
//! * [`Fx`]: fixture builder over one root (files, dirs, symlinks, FIFOs,
//!   sockets, device nodes, with exact modes and byte names).
//! * [`run`]: runs a program through `sh -c 'umask 022; exec "$@"'` with a
//!   fixed locale and a timeout (a hang fails the test instead of blocking).
//! * [`snapshot`]: captures a tree as a sorted list of [`Entry`]. It walks with
//!   directory file descriptors (`/proc/self/fd/N/name`), so it also works on
//!   trees whose paths exceed PATH_MAX, without ever changing the test
//!   process's working directory.
//! * [`engines`]: the engines to test (`portable`, plus `uring` when available;
//!   otherwise a `SKIP uring engine: <reason>` line is printed).
//!
//! One file per job: `fixture.rs` (`Fx`, `TestEnv`), `run.rs` (running
//! programs), `snapshot.rs`, `compare.rs` (against GNU cp), `meta.rs`
//! (archive mode's attributes), `mount.rs` (scratch filesystems); this file
//! holds what the machine has (users, io_uring, commands), the engines, the
//! seeded PRNG and the failure collector. Everything is re-exported here, so a
//! test names `common::X` wherever X lives.
#![allow(dead_code)]

mod compare;
mod fixture;
mod meta;
pub mod mount;
mod rsync;
mod run;
mod snapshot;

// A test crate that uses none of a module's items would warn of its glob.
#[allow(unused_imports)]
pub use compare::*;
#[allow(unused_imports)]
pub use fixture::*;
#[allow(unused_imports)]
pub use meta::*;
#[allow(unused_imports)]
pub use rsync::*;
#[allow(unused_imports)]
pub use run::*;
pub use snapshot::*;

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_uring-cp");

/// Default per-command timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// uid/gid used when a test drops root privileges (via `setpriv`).
pub const NOBODY: u32 = 65534;

/// Locale used for both programs, so GNU cp's quoting is deterministic.
pub const LOCALE: &str = "C.UTF-8";

pub fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

/// Render bytes for humans (non-UTF-8 and control bytes escaped).
pub fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

/// Print a line straight to the process's stderr, bypassing libtest's output
/// capture, so SKIP notices are visible even for passing tests.
pub fn notice(msg: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{msg}");
}

/// Print `SKIP <msg>` (visible even when the test passes), tagged with the
/// test's name (libtest names each test thread after the test).
pub fn skip(msg: &str) {
    match std::thread::current().name() {
        Some(t) if t != "main" => notice(&format!("SKIP {msg} [in {t}]")),
        _ => notice(&format!("SKIP {msg}")),
    }
}

pub fn gnu_cp() -> &'static str {
    if Path::new("/bin/cp").exists() {
        "/bin/cp"
    } else {
        "cp"
    }
}

/// Effective uid of the test process (via `id -u`; std has no geteuid).
pub fn euid() -> u32 {
    static EUID: OnceLock<u32> = OnceLock::new();
    *EUID.get_or_init(|| {
        let out = Command::new("id").arg("-u").output().expect("run id -u");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("parse id -u")
    })
}

pub fn is_root() -> bool {
    euid() == 0
}

/// Whether we can run commands as `nobody`: root, a working `setpriv`, the
/// binary under test reachable by other users ([`bin_for_others`]) and the
/// temporary directory too (the tests' fixtures live below it).
pub fn can_drop_privileges() -> Result<(), String> {
    static R: OnceLock<Result<(), String>> = OnceLock::new();
    R.get_or_init(|| {
        if !is_root() {
            return Err("not running as root (already unprivileged)".into());
        }
        match Command::new("setpriv")
            .args(setpriv_args())
            .arg("true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(s) if s.success() => {}
            Ok(s) => return Err(format!("setpriv failed: {s}")),
            Err(e) => return Err(format!("setpriv not runnable: {e}")),
        }
        let tmp = std::env::temp_dir();
        reachable_by_others(&tmp, false)
            .map_err(|why| format!("the temporary directory is not reachable by others: {why}"))?;
        bin_for_others().map(|_| ())
    })
    .clone()
}

/// Can a user who is neither the owner nor in the group reach `p` (every
/// directory on the way searchable by others) and, if `exec`, execute it?
/// Judged from the mode bits alone (an ACL could grant more; then this says
/// no and the caller copies needlessly, which is harmless).
pub fn reachable_by_others(p: &Path, exec: bool) -> Result<(), String> {
    let p = fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display()))?;
    for dir in p.ancestors().skip(1) {
        let md = fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if md.mode() & 0o001 == 0 {
            return Err(format!(
                "{} is mode {:04o}",
                dir.display(),
                md.mode() & 0o7777
            ));
        }
    }
    let md = fs::metadata(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let need = if exec { 0o005 } else { 0o001 };
    if md.mode() & need != need {
        return Err(format!(
            "{} is mode {:04o}",
            p.display(),
            md.mode() & 0o7777
        ));
    }
    Ok(())
}

/// The binary under test at a path any user can execute, for the tests that
/// run it as another user (`setpriv` to uid 65534, or `setuid` before exec).
/// [`BIN`] itself when it already is (a checkout in a world-searchable
/// place); otherwise (a clone under a 0700 home directory) a copy, made once
/// per test process, in a fresh 0755 directory under /tmp, removed when the
/// process exits. `Err` says why neither works; callers then skip.
pub fn bin_for_others() -> Result<&'static str, String> {
    static COPY: OnceLock<Result<String, String>> = OnceLock::new();
    COPY.get_or_init(|| {
        let Err(why) = reachable_by_others(Path::new(BIN), true) else {
            return Ok(BIN.to_string());
        };
        let fail = |what: &str, e: &dyn fmt::Display| {
            format!("{BIN} is not reachable by other users ({why}), and {what} failed: {e}")
        };
        let dir = tempfile::Builder::new()
            .prefix("uring-cp-bin.")
            .tempdir_in("/tmp")
            .map_err(|e| fail("making a directory under /tmp", &e))?
            .keep();
        // Registered before anything is put there, so the process removes
        // it at exit whatever happens next.
        BIN_COPY_DIR.get_or_init(|| dir.clone());
        // SAFETY: registers a plain `extern "C" fn()`.
        unsafe { libc::atexit(remove_bin_copy) };
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
            .map_err(|e| fail("chmod 0755 of the copy's directory", &e))?;
        let copy = dir.join("uring-cp");
        fs::copy(BIN, &copy).map_err(|e| fail(&format!("copying to {}", copy.display()), &e))?;
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755))
            .map_err(|e| fail("chmod 0755 of the copy", &e))?;
        reachable_by_others(&copy, true).map_err(|e| fail("the copy in /tmp", &e))?;
        copy.into_os_string()
            .into_string()
            .map_err(|p| fail("naming the copy", &format!("{p:?} is not UTF-8")))
    })
    .as_deref()
    .map_err(|e| e.clone())
}

/// The directory [`bin_for_others`] copied the binary into, if it did.
static BIN_COPY_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_bin_copy() {
    if let Some(dir) = BIN_COPY_DIR.get() {
        let _ = fs::remove_dir_all(dir);
    }
}

fn setpriv_args() -> Vec<String> {
    vec![
        format!("--reuid={NOBODY}"),
        format!("--regid={NOBODY}"),
        "--clear-groups".into(),
    ]
}

// ---------------------------------------------------------------------------
// Engines
// ---------------------------------------------------------------------------

/// `Ok(())` if `uring-cp --version` reports `io_uring: available`, else the
/// reason (from the binary's own `unavailable (<reason>)` line if present).
pub fn uring_status() -> Result<(), String> {
    static S: OnceLock<Result<(), String>> = OnceLock::new();
    S.get_or_init(|| {
        let out = match Command::new(BIN).arg("--version").output() {
            Ok(o) => o,
            Err(e) => return Err(format!("cannot run {BIN} --version: {e}")),
        };
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("io_uring: ") {
                if rest.starts_with("available") {
                    return Ok(());
                }
                if let Some(r) = rest.strip_prefix("unavailable") {
                    let r = r.trim();
                    let r = r
                        .strip_prefix('(')
                        .and_then(|r| r.strip_suffix(')'))
                        .unwrap_or(r);
                    return Err(format!("io_uring unavailable ({r})"));
                }
            }
        }
        Err(format!(
            "`uring-cp --version` (exit {:?}) printed no `io_uring: ...` line; stdout: {:?}",
            out.status.code(),
            text
        ))
    })
    .clone()
}

/// A pseudo-engine for [`run_uring_cp`]: `--engine uring --ring-reads always`
/// (the default, named for tests that must not depend on it).
pub const RING_ALWAYS: &str = "uring-ring-always";

/// A pseudo-engine for [`run_uring_cp`]: `--engine uring-chains -j 1`, the
/// all-in-ring engine with one ring, which makes directories in its ring
/// (with several rings, the default, the walker makes them).
pub const ONE_RING: &str = "uring-chains-one-ring";

/// A pseudo-engine for [`run_uring_cp`]: `--engine uring --ring-reads auto`,
/// the uring engine copying cached sources with system calls.
pub const RING_AUTO: &str = "uring-ring-auto";

/// [`engines`], plus the uring engine switching to system calls for cached
/// sources and the all-in-ring engine with one ring (when io_uring is
/// available).
pub fn engines_and_ring_reads() -> Vec<&'static str> {
    let mut v = engines();
    if v.contains(&"uring") {
        v.push(RING_AUTO);
        v.push(ONE_RING);
    }
    v
}

/// The engines every behavioural test runs against: always `portable` and
/// `walkers` (walkers taking whole directories, what `auto` runs within one
/// cloning filesystem); the io_uring engines only when available (otherwise
/// prints `SKIP uring engine: <reason>`).
pub fn engines() -> Vec<&'static str> {
    let mut v = vec!["portable", "walkers"];
    match uring_status() {
        Ok(()) => v.extend(["uring", "uring-chains"]),
        Err(reason) => skip(&format!("uring engine: {reason}")),
    }
    v
}

// ---------------------------------------------------------------------------
// Deterministic PRNG (splitmix64)
// ---------------------------------------------------------------------------

pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rem = chunks.into_remainder();
        let w = self.next_u64().to_le_bytes();
        let n = rem.len();
        rem.copy_from_slice(&w[..n]);
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }
}

// ---------------------------------------------------------------------------
// Collecting failures across cases
// ---------------------------------------------------------------------------

/// Runs every case of a test even when an earlier one fails, then fails the
/// test with all the messages.
#[derive(Default)]
pub struct Failures {
    list: Vec<String>,
    ran: usize,
}

impl Failures {
    pub fn check(&mut self, f: impl FnOnce()) {
        self.ran += 1;
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            let msg = if let Some(s) = e.downcast_ref::<String>() {
                s.clone()
            } else if let Some(s) = e.downcast_ref::<&str>() {
                s.to_string()
            } else {
                "(non-string panic)".to_string()
            };
            self.list.push(msg);
        }
    }

    pub fn finish(self) {
        if !self.list.is_empty() {
            panic!(
                "{} of {} case(s) failed:\n\n{}",
                self.list.len(),
                self.ran,
                self.list.join("\n\n")
            );
        }
    }
}

/// Is rsync here (the oracle of sync mode)? If not, prints a SKIP line
/// saying what cannot be compared (`what`).
pub fn have_rsync(what: &str) -> bool {
    if Command::new("rsync").arg("--version").output().is_ok() {
        return true;
    }
    skip(&format!(
        "rsync is not installed (.ci/run installs it): cannot compare {what} with it"
    ));
    false
}

/// rsync's version as (major, minor), if it runs and says it.
pub fn rsync_version() -> Option<(u32, u32)> {
    let out = Command::new("rsync").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)?;
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

/// Whether `name` is a command on PATH.
pub fn has_command(name: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Is strace here? If not, the caller's test is skipped with a reason.
pub fn have_strace() -> bool {
    if has_command("strace") {
        return true;
    }
    skip("strace is not installed (.ci/run installs it)");
    false
}
