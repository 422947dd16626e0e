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
#![allow(dead_code)]

pub mod mount;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
// Fixture builder
// ---------------------------------------------------------------------------

/// Builds fixtures below one root. All modes are set explicitly with chmod, so
/// the test process's own umask never matters.
#[derive(Clone, Debug)]
pub struct Fx {
    pub root: PathBuf,
}

impl Fx {
    pub fn new(root: impl Into<PathBuf>) -> Fx {
        Fx { root: root.into() }
    }

    pub fn p(&self, rel: impl AsRef<[u8]>) -> PathBuf {
        let rel = rel.as_ref();
        if rel.is_empty() || rel == b"." {
            return self.root.clone();
        }
        self.root.join(os(rel))
    }

    fn ensure_parent(&self, rel: &[u8]) {
        if let Some(pos) = rel.iter().rposition(|&c| c == b'/') {
            let parent = &rel[..pos];
            if !parent.is_empty() && !self.p(parent).exists() {
                self.dir(parent, 0o755);
            }
        }
    }

    /// Create a directory (and any missing parents, with mode 0755) and set
    /// its mode exactly. Restrictive modes on dirs that get contents should be
    /// applied afterwards with [`Fx::chmod`].
    pub fn dir(&self, rel: impl AsRef<[u8]>, mode: u32) -> &Self {
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        if fs::symlink_metadata(&p).is_err() {
            fs::create_dir(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        }
        self.chmod(rel, mode);
        self
    }

    pub fn file(&self, rel: impl AsRef<[u8]>, mode: u32, content: impl AsRef<[u8]>) -> &Self {
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        fs::write(&p, content.as_ref()).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        self.chmod(rel, mode);
        self
    }

    pub fn symlink(&self, rel: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> &Self {
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        std::os::unix::fs::symlink(os(target.as_ref()), &p)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", p.display()));
        self
    }

    pub fn hardlink(&self, existing: impl AsRef<[u8]>, new: impl AsRef<[u8]>) -> &Self {
        self.ensure_parent(new.as_ref());
        let (a, b) = (self.p(existing), self.p(new));
        fs::hard_link(&a, &b)
            .unwrap_or_else(|e| panic!("link {} {}: {e}", a.display(), b.display()));
        self
    }

    pub fn fifo(&self, rel: impl AsRef<[u8]>, mode: u32) -> &Self {
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        let st = Command::new("mkfifo").arg(&p).status().expect("run mkfifo");
        assert!(st.success(), "mkfifo {} failed", p.display());
        self.chmod(rel, mode);
        self
    }

    /// A Unix-domain socket file (bound, then the listener is dropped; the
    /// filesystem node stays).
    pub fn socket(&self, rel: impl AsRef<[u8]>, mode: u32) -> &Self {
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        let l = std::os::unix::net::UnixListener::bind(&p).unwrap_or_else(|e| {
            panic!(
                "bind socket {} (sun_path limit is 108 bytes): {e}",
                p.display()
            )
        });
        drop(l);
        self.chmod(rel, mode);
        self
    }

    /// Character device node via `mknod` (needs root).
    pub fn char_device(&self, rel: impl AsRef<[u8]>, mode: u32, major: u32, minor: u32) -> &Self {
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        let st = Command::new("mknod")
            .arg(&p)
            .arg("c")
            .arg(major.to_string())
            .arg(minor.to_string())
            .status()
            .expect("run mknod");
        assert!(st.success(), "mknod {} failed", p.display());
        self.chmod(rel, mode);
        self
    }

    pub fn chmod(&self, rel: impl AsRef<[u8]>, mode: u32) -> &Self {
        let p = self.p(rel);
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {:o} {}: {e}", mode, p.display()));
        self
    }

    pub fn read(&self, rel: impl AsRef<[u8]>) -> Vec<u8> {
        let p = self.p(rel);
        fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    pub fn lstat(&self, rel: impl AsRef<[u8]>) -> fs::Metadata {
        let p = self.p(rel);
        fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()))
    }

    pub fn exists(&self, rel: impl AsRef<[u8]>) -> bool {
        fs::symlink_metadata(self.p(rel)).is_ok()
    }

    /// `chown -R -h nobody:nobody` of the whole root.
    pub fn chown_nobody(&self) {
        let st = Command::new("chown")
            .arg("-R")
            .arg("-h")
            .arg(format!("{NOBODY}:{NOBODY}"))
            .arg(&self.root)
            .status()
            .expect("run chown");
        assert!(st.success(), "chown -R nobody {}", self.root.display());
    }

    pub fn snapshot(&self) -> Vec<Entry> {
        snapshot(&self.root)
    }
}

// ---------------------------------------------------------------------------
// Running programs
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct RunOpts {
    pub umask: u32,
    pub timeout: Duration,
    /// Drop to uid/gid 65534 with `setpriv` (test process must be root).
    pub as_nobody: bool,
    /// Fed to stdin (else stdin is /dev/null): answers to -i's questions.
    pub stdin: Option<Vec<u8>>,
    /// Extra environment (VERSION_CONTROL, SIMPLE_BACKUP_SUFFIX are
    /// otherwise removed).
    pub env: Vec<(String, String)>,
}

impl Default for RunOpts {
    fn default() -> Self {
        RunOpts {
            umask: 0o022,
            timeout: DEFAULT_TIMEOUT,
            as_nobody: false,
            stdin: None,
            env: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Outcome {
    /// Exit code; `None` if killed by a signal (or by our timeout).
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
    pub cmdline: String,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` -> exit {:?}{} in {:?}\n  stdout: {}\n  stderr: {}",
            self.cmdline,
            self.code,
            if self.timed_out {
                " (TIMED OUT, killed)"
            } else {
                ""
            },
            self.elapsed,
            show(&self.stdout),
            show(&self.stderr)
        )
    }
}

/// Read a piped child's stdout and stderr to the end on two threads (so
/// neither pipe can fill up and stall it); join them for the bytes.
pub fn read_outputs(
    child: &mut std::process::Child,
) -> (
    std::thread::JoinHandle<Vec<u8>>,
    std::thread::JoinHandle<Vec<u8>>,
) {
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let so = child.stdout.take().expect("stdout is piped");
    let se = child.stderr.take().expect("stderr is piped");
    (drain(Box::new(so)), drain(Box::new(se)))
}

/// Run `program args...` in `cwd` through `sh -c 'umask NNN; exec "$@"'`,
/// with `LC_ALL=C.UTF-8`, stdin from /dev/null, and a timeout.
pub fn run<A: AsRef<[u8]>>(program: &str, args: &[A], cwd: &Path, opts: &RunOpts) -> Outcome {
    let script = format!("umask {:03o}; exec \"$@\"", opts.umask);
    // The user dropped to may not reach the binary where cargo built it.
    let program = if opts.as_nobody && program == BIN {
        bin_for_others().unwrap_or_else(|why| {
            panic!("running {BIN} as uid {NOBODY}: {why} (check can_drop_privileges first)")
        })
    } else {
        program
    };
    let mut cmd = if opts.as_nobody {
        let mut c = Command::new("setpriv");
        c.args(setpriv_args()).arg("sh");
        c
    } else {
        Command::new("sh")
    };
    cmd.arg("-c").arg(&script).arg("sh").arg(program);
    let mut cmdline = program.rsplit('/').next().unwrap_or(program).to_string();
    for a in args {
        cmd.arg(os(a.as_ref()));
        cmdline.push(' ');
        cmdline.push_str(&shell_quote(a.as_ref()));
    }
    cmd.current_dir(cwd)
        .env("LC_ALL", LOCALE)
        .env_remove("LANGUAGE")
        .env_remove("POSIXLY_CORRECT")
        .env_remove("VERSION_CONTROL")
        .env_remove("SIMPLE_BACKUP_SUFFIX")
        .envs(opts.env.iter().map(|(k, v)| (k, v)))
        .stdin(if opts.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
    if let (Some(input), Some(mut pipe)) = (&opts.stdin, child.stdin.take()) {
        use std::io::Write;
        // (A program that exits without reading all of it closes the pipe.)
        let _ = pipe.write_all(input);
    }
    let (t1, t2) = read_outputs(&mut child);
    let mut timed_out = false;
    let status = loop {
        match child.try_wait().expect("try_wait") {
            Some(s) => break s,
            None => {
                if start.elapsed() > opts.timeout {
                    timed_out = true;
                    let _ = child.kill();
                    break child.wait().expect("wait after kill");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    };
    let elapsed = start.elapsed();
    // If the killed child left a grandchild holding the pipes, don't hang.
    let stdout = t1.join().unwrap_or_default();
    let stderr = t2.join().unwrap_or_default();
    Outcome {
        code: status.code(),
        stdout,
        stderr,
        timed_out,
        cmdline,
        elapsed,
    }
}

pub fn shell_quote(b: &[u8]) -> String {
    if !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_./=+,:@%".contains(c))
    {
        String::from_utf8_lossy(b).into_owned()
    } else {
        format!("'{}'", show(b).replace('\'', "'\\''"))
    }
}

pub fn bytes_args<A: AsRef<[u8]>>(args: &[A]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_ref().to_vec()).collect()
}

/// The options that select `engine` (one of [`engines_and_ring_reads`]).
pub fn engine_args(engine: &str) -> Vec<&str> {
    match engine {
        // The uring engine with every source read through its ring.
        RING_ALWAYS => vec!["--engine", "uring", "--ring-reads", "always"],
        ONE_RING => vec!["--engine", "uring-chains", "-j", "1"],
        RING_AUTO => vec!["--engine", "uring", "--ring-reads", "auto"],
        _ => vec!["--engine", engine],
    }
}

/// `uring-cp --engine ENGINE [extra...] args...`
pub fn run_uring_cp<A: AsRef<[u8]>>(
    engine: &str,
    extra: &[&str],
    args: &[A],
    cwd: &Path,
    opts: &RunOpts,
) -> Outcome {
    let mut all: Vec<Vec<u8>> = engine_args(engine)
        .into_iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    all.extend(extra.iter().map(|s| s.as_bytes().to_vec()));
    all.extend(bytes_args(args));
    run(BIN, &all, cwd, opts)
}

pub fn run_gnu_cp<A: AsRef<[u8]>>(args: &[A], cwd: &Path, opts: &RunOpts) -> Outcome {
    run(gnu_cp(), args, cwd, opts)
}

// ---------------------------------------------------------------------------
// Test environment
// ---------------------------------------------------------------------------

/// A temp dir with two identical input roots: `ours/` and `gnu/`.
pub struct TestEnv {
    pub tmp: tempfile::TempDir,
    pub ours: Fx,
    pub gnu: Fx,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        Self::new_within(None)
    }

    /// A `TestEnv` under `dir` (a filesystem the test mounted, say), or in
    /// the temporary directory when `None`.
    pub fn new_within(dir: Option<&Path>) -> TestEnv {
        let mut builder = tempfile::Builder::new();
        builder.prefix("uring-cp-test.");
        let tmp = match dir {
            Some(dir) => builder
                .tempdir_in(dir)
                .unwrap_or_else(|e| panic!("tempdir in {}: {e}", dir.display())),
            None => builder.tempdir().expect("tempdir"),
        };
        // Searchable by others, for the tests that drop privileges.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let ours = Fx::new(tmp.path().join("ours"));
        let gnu = Fx::new(tmp.path().join("gnu"));
        for r in [&ours.root, &gnu.root] {
            fs::create_dir(r).unwrap();
            fs::set_permissions(r, fs::Permissions::from_mode(0o755)).unwrap();
        }
        TestEnv { tmp, ours, gnu }
    }

    /// Another root in the same temp dir (e.g. a pristine copy of the input).
    pub fn extra_root(&self, name: &str) -> Fx {
        let fx = Fx::new(self.tmp.path().join(name));
        fs::create_dir(&fx.root).unwrap();
        fs::set_permissions(&fx.root, fs::Permissions::from_mode(0o755)).unwrap();
        fx
    }

    /// Apply the same fixture to both roots.
    pub fn build(&self, f: impl Fn(&Fx)) {
        f(&self.ours);
        f(&self.gnu);
    }

    pub fn run_ours<A: AsRef<[u8]>>(&self, engine: &str, args: &[A], opts: &RunOpts) -> Outcome {
        run_uring_cp(engine, &[], args, &self.ours.root, opts)
    }

    pub fn run_gnu<A: AsRef<[u8]>>(&self, args: &[A], opts: &RunOpts) -> Outcome {
        run_gnu_cp(args, &self.gnu.root, opts)
    }

    pub fn run_both<A: AsRef<[u8]>>(
        &self,
        engine: &str,
        args: &[A],
        opts: &RunOpts,
    ) -> (Outcome, Outcome) {
        (self.run_ours(engine, args, opts), self.run_gnu(args, opts))
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Unprivileged runs: make mode-000 dirs removable before TempDir's
        // cleanup (root removes them anyway).
        if !is_root() {
            let _ = Command::new("chmod")
                .args(["-R", "u+rwX"])
                .arg(self.tmp.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    Fifo,
    Socket,
    CharDev,
    BlockDev,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Content {
    None,
    /// Files up to [`INLINE_MAX`] bytes are kept verbatim.
    Bytes(Vec<u8>),
    /// Larger files: a 64-bit digest.
    Digest(u64),
    Unreadable(String),
}

pub const INLINE_MAX: u64 = 64 * 1024;

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Content::None => write!(f, "-"),
            Content::Bytes(b) if b.len() <= 64 => write!(f, "b\"{}\"", show(b)),
            Content::Bytes(b) => write!(
                f,
                "b\"{}\"...({} bytes, digest {:016x})",
                show(&b[..48]),
                b.len(),
                digest(b)
            ),
            Content::Digest(d) => write!(f, "digest {d:016x}"),
            Content::Unreadable(e) => write!(f, "unreadable({e})"),
        }
    }
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Path relative to the snapshot root; the root itself is `.`.
    pub path: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    /// Size for regular files and symlinks; 0 otherwise (dir sizes are fs noise).
    pub size: u64,
    pub content: Content,
    pub link_target: Option<Vec<u8>>,
    pub rdev: Option<u64>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} {:04o} size={}",
            show(&self.path),
            self.kind,
            self.mode,
            self.size
        )?;
        if !matches!(self.content, Content::None) {
            write!(f, " {:?}", self.content)?;
        }
        if let Some(t) = &self.link_target {
            write!(f, " -> {}", show(t))?;
        }
        if let Some(r) = self.rdev {
            write!(f, " rdev={r:#x}")?;
        }
        Ok(())
    }
}

/// A fast-enough content digest (word-at-a-time multiply/rotate hash). Not
/// cryptographic: it only has to detect copy bugs.
pub fn digest(data: &[u8]) -> u64 {
    let mut h: u64 =
        0xcbf2_9ce4_8422_2325 ^ (data.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
    }
    for &b in chunks.remainder() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 31)
}

fn fd_path(dir: &File, name: &OsStr) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    if !name.is_empty() {
        p.push(name);
    }
    p
}

/// The kind of entry `md` describes (from an lstat).
pub fn kind_of(md: &fs::Metadata) -> Kind {
    let ft = md.file_type();
    if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_fifo() {
        Kind::Fifo
    } else if ft.is_socket() {
        Kind::Socket
    } else if ft.is_char_device() {
        Kind::CharDev
    } else {
        Kind::BlockDev
    }
}

fn make_entry(path: Vec<u8>, p: &Path, md: &fs::Metadata) -> Entry {
    let kind = kind_of(md);
    let mut e = Entry {
        path,
        kind,
        mode: md.mode() & 0o7777,
        size: 0,
        content: Content::None,
        link_target: None,
        rdev: None,
    };
    match kind {
        Kind::File => {
            e.size = md.len();
            e.content = match fs::read(p) {
                Ok(data) if data.len() as u64 <= INLINE_MAX => Content::Bytes(data),
                Ok(data) => Content::Digest(digest(&data)),
                Err(err) => Content::Unreadable(format!("{:?}", err.kind())),
            };
        }
        Kind::Symlink => {
            e.size = md.len();
            e.link_target = Some(
                fs::read_link(p)
                    .expect("readlink")
                    .into_os_string()
                    .into_vec(),
            );
        }
        Kind::CharDev | Kind::BlockDev => e.rdev = Some(md.rdev()),
        _ => {}
    }
    e
}

fn walk(dir: &File, prefix: &[u8], out: &mut Vec<Entry>) {
    let mut names: Vec<OsString> = match fs::read_dir(fd_path(dir, OsStr::new(""))) {
        Ok(rd) => rd.map(|e| e.expect("readdir entry").file_name()).collect(),
        Err(_) => return, // unreadable dir: recorded by its own entry's mode only
    };
    names.sort();
    for name in names {
        let p = fd_path(dir, &name);
        let md = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
        let mut rel = prefix.to_vec();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(name.as_bytes());
        let entry = make_entry(rel.clone(), &p, &md);
        out.push(entry);
        if md.is_dir()
            && let Ok(sub) = File::open(&p)
        {
            walk(&sub, &rel, out);
        }
    }
}

/// Capture the tree at `root` (the root itself is the entry `.`), sorted by
/// path. Works for paths longer than PATH_MAX (walks via directory fds).
pub fn snapshot(root: &Path) -> Vec<Entry> {
    let md = fs::symlink_metadata(root).unwrap_or_else(|e| panic!("lstat {}: {e}", root.display()));
    let mut out = vec![make_entry(b".".to_vec(), root, &md)];
    if md.is_dir() {
        let d = File::open(root).unwrap_or_else(|e| panic!("open {}: {e}", root.display()));
        walk(&d, b"", &mut out);
    }
    out.sort();
    out
}

/// Describe the differences between two snapshots (empty if equal).
pub fn diff_snapshots(a: &[Entry], b: &[Entry], a_name: &str, b_name: &str) -> Vec<String> {
    diff_by_path(a, b, |e| &e.path, a_name, b_name)
}

/// The differences between two lists of per-path records (empty if equal):
/// paths only on one side, and records that differ.
pub fn diff_by_path<T: PartialEq + fmt::Debug>(
    a: &[T],
    b: &[T],
    path: impl Fn(&T) -> &[u8],
    a_name: &str,
    b_name: &str,
) -> Vec<String> {
    use std::collections::BTreeMap;
    let am: BTreeMap<&[u8], &T> = a.iter().map(|e| (path(e), e)).collect();
    let bm: BTreeMap<&[u8], &T> = b.iter().map(|e| (path(e), e)).collect();
    let mut out = Vec::new();
    for (p, ea) in &am {
        match bm.get(p) {
            None => out.push(format!("only in {a_name}: {ea:?}")),
            Some(eb) if eb != ea => out.push(format!(
                "differs: {a_name}: {ea:?}\n          {b_name}: {eb:?}"
            )),
            _ => {}
        }
    }
    for (p, eb) in &bm {
        if !am.contains_key(p) {
            out.push(format!("only in {b_name}: {eb:?}"));
        }
    }
    out
}

pub fn assert_snapshots_eq(ctx: &str, a: &[Entry], b: &[Entry], a_name: &str, b_name: &str) {
    let d = diff_snapshots(a, b, a_name, b_name);
    if !d.is_empty() {
        let n = d.len();
        let shown: Vec<String> = d.into_iter().take(40).collect();
        panic!(
            "{ctx}: trees differ ({n} differences{}):\n  {}",
            if n > 40 { ", first 40 shown" } else { "" },
            shown.join("\n  ")
        );
    }
}

pub fn filter_snapshot(s: &[Entry], keep: impl Fn(&[u8]) -> bool) -> Vec<Entry> {
    s.iter().filter(|e| keep(&e.path)).cloned().collect()
}

// ---------------------------------------------------------------------------
// Comparing outcomes with GNU cp
// ---------------------------------------------------------------------------

/// Messages whose wording the contract promises to match GNU cp 9.1 exactly.
pub fn is_contract_message(msg: &str) -> bool {
    msg.starts_with("cannot stat ")
        || msg.contains("-r not specified; omitting directory ")
        || msg.ends_with(" are the same file")
        || msg.starts_with("cannot copy a directory, ")
        || msg.starts_with("cannot overwrite directory ")
        || msg.starts_with("cannot overwrite non-directory ")
        || msg.starts_with("target ")
        || (msg.starts_with("cannot open ") && msg.contains(" for reading: "))
}

/// First single-quoted token of a GNU message (`'x'` -> `x`), if any.
fn first_quoted(msg: &str) -> Option<&str> {
    let start = msg.find('\'')? + 1;
    let len = msg[start..].find('\'')?;
    Some(&msg[start..start + len])
}

fn split_lines(b: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(b)
        .lines()
        .map(|l| l.to_string())
        .collect()
}

/// Compare exit status, stderr messages and stdout of `uring-cp` (ours) with
/// GNU cp's (gnu). Panics with a full report on mismatch.
///
/// stderr: every ours line must start with `uring-cp: `, and every gnu line
/// with `cp: `; after stripping the prefixes, the number of lines must be
/// equal; each GNU message covered by the contract must appear verbatim in
/// ours; any other GNU message must be matched by an ours line mentioning the
/// same (first) quoted file name.
///
/// stdout (`-v`): the sorted lines must be equal, and in ours a directory's
/// line must precede the lines of its contents.
pub fn compare_outcomes(ctx: &str, ours: &Outcome, gnu: &Outcome) {
    let mut problems = Vec::new();
    if ours.timed_out {
        problems.push("uring-cp timed out (killed)".to_string());
    }
    if gnu.timed_out {
        problems.push("GNU cp timed out (killed) -- test fixture problem".to_string());
    }
    if ours.code != gnu.code {
        problems.push(format!(
            "exit status: uring-cp {:?}, GNU cp {:?}",
            ours.code, gnu.code
        ));
    }

    let ours_lines = split_lines(&ours.stderr);
    let gnu_lines = split_lines(&gnu.stderr);
    let mut ours_msgs = Vec::new();
    for l in &ours_lines {
        match l.strip_prefix("uring-cp: ") {
            // `-v` names the engine once; cp has no such line.
            Some(m) if m.starts_with("using the ") || m.starts_with("io_uring unavailable") => {}
            Some(m) => ours_msgs.push(m.to_string()),
            None => problems.push(format!("stderr line without `uring-cp: ` prefix: {l:?}")),
        }
    }
    // GNU cp prefixes messages with its argv[0] (`/bin/cp: ` as we run it).
    let gnu_prefix = format!("{}: ", gnu_cp());
    let mut gnu_msgs = Vec::new();
    for l in &gnu_lines {
        match l
            .strip_prefix(gnu_prefix.as_str())
            .or_else(|| l.strip_prefix("cp: "))
        {
            Some(m) => gnu_msgs.push(m.to_string()),
            None => gnu_msgs.push(l.to_string()),
        }
    }
    if ours_msgs.len() != gnu_msgs.len() {
        problems.push(format!(
            "number of error messages: uring-cp {}, GNU cp {}",
            ours_msgs.len(),
            gnu_msgs.len()
        ));
    }
    for g in &gnu_msgs {
        if is_contract_message(g) {
            if !ours_msgs.iter().any(|o| o == g) {
                problems.push(format!(
                    "missing message (must match GNU cp verbatim): {g:?}"
                ));
            }
        } else if let Some(q) = first_quoted(g)
            && !ours_msgs.iter().any(|o| o.contains(q))
        {
            problems.push(format!(
                "no uring-cp message mentions '{q}' (GNU cp said {g:?})"
            ));
        }
    }

    let mut so = split_lines(&ours.stdout);
    let mut sg = split_lines(&gnu.stdout);
    check_verbose_order(&so, &mut problems);
    so.sort();
    sg.sort();
    if so != sg {
        problems.push(format!(
            "stdout lines differ (sorted):\n    uring-cp: {so:?}\n    GNU cp:   {sg:?}"
        ));
    }

    if !problems.is_empty() {
        panic!(
            "{ctx}: uring-cp differs from GNU cp:\n  - {}\n uring-cp: {ours}\n GNU cp:   {gnu}",
            problems.join("\n  - ")
        );
    }
}

/// In `-v` output, `'x' -> 'D'` for a directory must come before
/// `'x/y' -> 'D/y'`.
fn check_verbose_order(lines: &[String], problems: &mut Vec<String>) {
    let dsts: Vec<Option<&str>> = lines.iter().map(|l| l.split(" -> ").nth(1)).collect();
    for (i, di) in dsts.iter().enumerate() {
        let Some(di) = di else { continue };
        let Some(stem) = di.strip_suffix('\'') else {
            continue;
        };
        let parent_prefix = format!("{stem}/");
        for (j, dj) in dsts.iter().enumerate() {
            if let Some(dj) = dj
                && dj.starts_with(&parent_prefix)
                && j < i
            {
                problems.push(format!(
                    "verbose order: {:?} printed before its directory {:?}",
                    lines[j], lines[i]
                ));
            }
        }
    }
}

/// Compare outcome and resulting trees of both roots, hard links included.
pub fn compare_all(ctx: &str, env: &TestEnv, ours: &Outcome, gnu: &Outcome) {
    compare_outcomes(ctx, ours, gnu);
    assert_snapshots_eq(
        ctx,
        &env.ours.snapshot(),
        &env.gnu.snapshot(),
        "uring-cp",
        "GNU cp",
    );
    assert_links_eq(ctx, &env.ours.root, &env.gnu.root);
}

/// A name that shares its inode with other names of the same tree.
#[derive(Clone, PartialEq, Eq)]
pub struct Linked {
    pub path: Vec<u8>,
    /// The first (in byte order) of the names of its inode in the tree.
    pub first: Vec<u8>,
}

impl fmt::Debug for Linked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is a hard link of {}",
            show(&self.path),
            show(&self.first)
        )
    }
}

/// The hard-link structure of the tree at `root`: every non-directory that
/// shares its inode with another name in the tree, and the first name of
/// that inode. (Links to names outside the tree are not seen.)
pub fn link_groups(root: &Path) -> Vec<Linked> {
    fn walk_links(dir: &File, prefix: &[u8], out: &mut Vec<((u64, u64), Vec<u8>)>) {
        let Ok(rd) = fs::read_dir(fd_path(dir, OsStr::new(""))) else {
            return;
        };
        for name in rd.map(|e| e.expect("readdir entry").file_name()) {
            let p = fd_path(dir, &name);
            let md =
                fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
            let mut rel = prefix.to_vec();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name.as_bytes());
            if md.is_dir() {
                if let Ok(sub) = File::open(&p) {
                    walk_links(&sub, &rel, out);
                }
            } else if md.nlink() > 1 {
                out.push(((md.dev(), md.ino()), rel));
            }
        }
    }
    let mut names = Vec::new();
    if fs::symlink_metadata(root).is_ok_and(|m| m.is_dir()) {
        let d = File::open(root).unwrap_or_else(|e| panic!("open {}: {e}", root.display()));
        walk_links(&d, b"", &mut names);
    }
    // By inode, then by name: each group's first entry is its first name.
    names.sort();
    let mut out = Vec::new();
    for group in names.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        for (_, path) in group {
            out.push(Linked {
                path: path.clone(),
                first: group[0].1.clone(),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Panic if the trees at `a` (uring-cp's) and `b` (GNU cp's) differ in
/// which names are hard links of each other.
pub fn assert_links_eq(ctx: &str, a: &Path, b: &Path) {
    let d = diff_by_path(
        &link_groups(a),
        &link_groups(b),
        |e| &e.path,
        "uring-cp",
        "GNU cp",
    );
    if !d.is_empty() {
        let n = d.len();
        panic!(
            "{ctx}: hard links differ ({n} differences{}):\n  {}",
            if n > 40 { ", first 40 shown" } else { "" },
            d.into_iter().take(40).collect::<Vec<_>>().join("\n  ")
        );
    }
}

/// Run `case` for every engine and every argument set: each compared with
/// GNU cp (trees, exit status, messages); all failures reported at the end.
pub fn each_engine(name: &str, build: impl Fn(&Fx) + Copy, arg_sets: &[&[&str]]) {
    let mut failures = Failures::default();
    for engine in engines() {
        for args in arg_sets {
            failures.check(|| {
                case(&format!("{name}: {args:?}"), engine, build, args);
            });
        }
    }
    failures.finish();
}

/// Build the fixture in a fresh env, run both programs with `args`, compare
/// everything, and return the env and outcomes for extra assertions.
pub fn case<A: AsRef<[u8]>>(
    name: &str,
    engine: &str,
    build: impl Fn(&Fx),
    args: &[A],
) -> (TestEnv, Outcome, Outcome) {
    case_opts(name, engine, build, args, &RunOpts::default())
}

pub fn case_opts<A: AsRef<[u8]>>(
    name: &str,
    engine: &str,
    build: impl Fn(&Fx),
    args: &[A],
    opts: &RunOpts,
) -> (TestEnv, Outcome, Outcome) {
    let env = TestEnv::new();
    env.build(&build);
    let (ours, gnu) = env.run_both(engine, args, opts);
    compare_all(&format!("[{name}, engine={engine}]"), &env, &ours, &gnu);
    (env, ours, gnu)
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

// ---------------------------------------------------------------------------
// Archive mode: times, owners, xattrs, sparse files, and a snapshot of every
// attribute `cp -a` preserves
// ---------------------------------------------------------------------------

fn cpath(p: &Path) -> std::ffi::CString {
    std::ffi::CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

/// Whether `name` is a command on PATH.
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

pub fn has_command(name: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Fx {
    /// Set atime and mtime (seconds, nanoseconds) of `rel` itself (a symlink is not followed).
    pub fn set_times(&self, rel: impl AsRef<[u8]>, atime: (i64, i64), mtime: (i64, i64)) -> &Self {
        let p = cpath(&self.p(rel));
        let ts = [
            libc::timespec {
                tv_sec: atime.0,
                tv_nsec: atime.1,
            },
            libc::timespec {
                tv_sec: mtime.0,
                tv_nsec: mtime.1,
            },
        ];
        // SAFETY: a valid C string and an array of two timespecs.
        let r = unsafe {
            libc::utimensat(
                libc::AT_FDCWD,
                p.as_ptr(),
                ts.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        assert_eq!(r, 0, "utimensat {p:?}: {}", std::io::Error::last_os_error());
        self
    }

    /// Give every entry below the root (and the root) its own atime and
    /// mtime with nanoseconds, derived from `seed` and its sorted position.
    /// All paths are listed first, so no directory is read after its times are set.
    pub fn stamp_all(&self, seed: i64) {
        let mut paths = Vec::new();
        fn list(dir: &Path, rel: &[u8], out: &mut Vec<Vec<u8>>) {
            let mut names: Vec<OsString> = fs::read_dir(dir)
                .expect("read_dir")
                .map(|e| e.expect("entry").file_name())
                .collect();
            names.sort();
            for n in names {
                let mut r = rel.to_vec();
                if !r.is_empty() {
                    r.push(b'/');
                }
                r.extend_from_slice(n.as_bytes());
                let p = dir.join(&n);
                out.push(r.clone());
                if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                    list(&p, &r, out);
                }
            }
        }
        list(&self.root, b"", &mut paths);
        paths.push(b".".to_vec());
        // A file with several names gets an atime in the future, which
        // reading it does not move (relatime): copies that do not keep the
        // links stat each name, and the order in which they read the shared
        // inode would otherwise decide which names get which atime.
        // (Fixed, so that both trees get the same: the year 2065.)
        let future: i64 = 3_000_000_000;
        for (i, rel) in paths.iter().enumerate() {
            let i = i as i64;
            let md = self.lstat(rel);
            let atime_s = if !md.is_dir() && md.nlink() > 1 {
                future + i
            } else {
                1_200_000_000 + seed * 100_000 + i * 1000
            };
            self.set_times(
                rel,
                (atime_s, (i * 123_456_789 + 7) % 1_000_000_000),
                (
                    1_100_000_000 + seed * 100_000 + i * 997,
                    (i * 987_654_321 + 11) % 1_000_000_000,
                ),
            );
        }
    }

    /// Set an extended attribute on `rel` itself.
    pub fn set_xattr(&self, rel: impl AsRef<[u8]>, name: &str, value: &[u8]) -> &Self {
        let p = cpath(&self.p(rel));
        let n = std::ffi::CString::new(name).expect("name");
        // SAFETY: valid C strings and a buffer of `value.len()` bytes.
        let r = unsafe {
            libc::lsetxattr(
                p.as_ptr(),
                n.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        assert_eq!(
            r,
            0,
            "lsetxattr {p:?} {name}: {}",
            std::io::Error::last_os_error()
        );
        self
    }

    /// `lchown` of one entry.
    pub fn lchown(&self, rel: impl AsRef<[u8]>, uid: u32, gid: u32) -> &Self {
        let p = self.p(rel);
        std::os::unix::fs::lchown(&p, Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("lchown {}: {e}", p.display()));
        self
    }

    /// A file of `size` bytes that is a hole except for `data` written at
    /// the given offsets.
    pub fn sparse_file(
        &self,
        rel: impl AsRef<[u8]>,
        mode: u32,
        size: u64,
        data: &[(u64, &[u8])],
    ) -> &Self {
        use std::os::unix::fs::FileExt;
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        let f = File::create(&p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        for (off, bytes) in data {
            f.write_all_at(bytes, *off).expect("write_all_at");
        }
        f.set_len(size).expect("set_len");
        drop(f);
        self.chmod(rel, mode);
        self
    }
}

/// Every attribute of an entry that `cp -a` preserves.
#[derive(Clone, PartialEq, Eq)]
pub struct Meta {
    pub path: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// (atime, mtime) as (s, ns), when compared.
    pub times: Option<[(i64, i64); 2]>,
    /// Size and content for files, size for symlinks.
    pub size: u64,
    pub content: Content,
    /// 512-byte blocks allocated, for regular files (holes show here).
    pub blocks: Option<u64>,
    pub link_target: Option<Vec<u8>>,
    pub rdev: Option<u64>,
    /// For a file with several names in the tree: its first name and nlink.
    pub link_group: Option<(Vec<u8>, u64)>,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for Meta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} {:04o} {}:{} size={}",
            show(&self.path),
            self.kind,
            self.mode,
            self.uid,
            self.gid,
            self.size
        )?;
        if let Some([a, m]) = self.times {
            write!(f, " atime={}.{:09} mtime={}.{:09}", a.0, a.1, m.0, m.1)?;
        }
        if let Some(b) = self.blocks {
            write!(f, " blocks={b}")?;
        }
        if !matches!(self.content, Content::None) {
            write!(f, " {:?}", self.content)?;
        }
        if let Some(t) = &self.link_target {
            write!(f, " -> {}", show(t))?;
        }
        if let Some(r) = self.rdev {
            write!(f, " rdev={r:#x}")?;
        }
        if let Some((first, n)) = &self.link_group {
            write!(f, " links={n} with {}", show(first))?;
        }
        for (k, v) in &self.xattrs {
            write!(f, " {}={}", show(k), show(v))?;
        }
        Ok(())
    }
}

/// What [`meta_snapshot`] records.
#[derive(Clone, Copy, Debug)]
pub struct MetaOpts {
    /// atime and mtime (compare only when both tools preserve them).
    pub times: bool,
}

fn xattrs_of(p: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let c = cpath(p);
    let mut names = vec![0u8; 64 * 1024];
    // SAFETY: a valid C string and a buffer of the given length.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return Vec::new();
    }
    names.truncate(n as usize);
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let cn = std::ffi::CString::new(name).expect("name");
        let mut v = vec![0u8; 64 * 1024];
        // SAFETY: valid C strings and a buffer of the given length.
        let m = unsafe { libc::lgetxattr(c.as_ptr(), cn.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        v.truncate(m.max(0) as usize);
        out.push((name.to_vec(), v));
    }
    out.sort();
    out
}

/// Everything but a file's content (read later: reading a file can change
/// the atime of its other names).
fn meta_entry(path: Vec<u8>, p: &Path, md: &fs::Metadata, o: &MetaOpts) -> Meta {
    let mut base = Entry {
        path,
        kind: kind_of(md),
        mode: md.mode() & 0o7777,
        size: 0,
        content: Content::None,
        link_target: None,
        rdev: None,
    };
    match base.kind {
        Kind::File => base.size = md.len(),
        Kind::Symlink => {
            base.size = md.len();
            base.link_target = Some(
                fs::read_link(p)
                    .expect("readlink")
                    .into_os_string()
                    .into_vec(),
            );
        }
        Kind::CharDev | Kind::BlockDev => base.rdev = Some(md.rdev()),
        _ => {}
    }
    Meta {
        path: base.path,
        kind: base.kind,
        mode: base.mode,
        uid: md.uid(),
        gid: md.gid(),
        times: o
            .times
            .then(|| [(md.atime(), md.atime_nsec()), (md.mtime(), md.mtime_nsec())]),
        size: base.size,
        content: base.content,
        blocks: (base.kind == Kind::File).then(|| md.blocks()),
        link_target: base.link_target,
        rdev: base.rdev,
        link_group: (base.kind != Kind::Dir && md.nlink() > 1).then(|| (Vec::new(), md.nlink())),
        xattrs: xattrs_of(p),
    }
}

/// Capture every attribute `cp -a` preserves of the tree at `root`, sorted by
/// path. Each entry is stat'ed before it is read, so reading it (a file's
/// content, a directory's entries) cannot change the atime recorded.
pub fn meta_snapshot(root: &Path, o: &MetaOpts) -> Vec<Meta> {
    fn walk_meta(
        dir: &File,
        prefix: &[u8],
        o: &MetaOpts,
        out: &mut Vec<Meta>,
        inodes: &mut Vec<(u64, Vec<u8>)>,
    ) {
        let mut names: Vec<OsString> = fs::read_dir(fd_path(dir, OsStr::new("")))
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        // Stat every entry before reading any (a read could not change a sibling, but keep it simple).
        let mut mds = Vec::new();
        for name in &names {
            let p = fd_path(dir, name);
            let md =
                fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
            mds.push(md);
        }
        for (name, md) in names.iter().zip(mds) {
            let p = fd_path(dir, name);
            let mut rel = prefix.to_vec();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name.as_bytes());
            if !md.is_dir() && md.nlink() > 1 {
                inodes.push((md.ino(), rel.clone()));
            }
            out.push(meta_entry(rel.clone(), &p, &md, o));
            if md.is_dir()
                && let Ok(sub) = File::open(&p)
            {
                walk_meta(&sub, &rel, o, out, inodes);
            }
        }
    }
    let md = fs::symlink_metadata(root).unwrap_or_else(|e| panic!("lstat {}: {e}", root.display()));
    let mut out = vec![meta_entry(b".".to_vec(), root, &md, o)];
    let mut inodes = Vec::new();
    if md.is_dir() {
        let d = File::open(root).unwrap_or_else(|e| panic!("open {}: {e}", root.display()));
        walk_meta(&d, b"", o, &mut out, &mut inodes);
    }
    // Name each link group by its first path.
    inodes.sort();
    for e in &mut out {
        if let Some((first, _)) = &mut e.link_group {
            let ino = inodes.iter().find(|(_, p)| *p == e.path).map(|(i, _)| *i);
            if let Some(p) = inodes.iter().find(|(i, _)| Some(*i) == ino).map(|(_, p)| p) {
                *first = p.clone();
            }
        }
    }
    // Now that everything is stat'ed: the contents.
    for e in &mut out {
        if e.kind == Kind::File {
            let p = if e.path == b"." {
                root.to_path_buf()
            } else {
                root.join(os(&e.path))
            };
            e.content = match fs::read(&p) {
                Ok(data) if data.len() as u64 <= INLINE_MAX => Content::Bytes(data),
                Ok(data) => Content::Digest(digest(&data)),
                Err(err) => Content::Unreadable(format!("{:?}", err.kind())),
            };
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Compare the attributes of two trees; panics with the differences.
pub fn assert_meta_eq(ctx: &str, ours: &Path, gnu: &Path, o: &MetaOpts) {
    let a = meta_snapshot(ours, o);
    let b = meta_snapshot(gnu, o);
    let d = diff_by_path(&a, &b, |e| &e.path, "uring-cp", "GNU cp");
    if !d.is_empty() {
        let n = d.len();
        panic!(
            "{ctx}: attributes differ ({n} differences{}):\n  {}",
            if n > 40 { ", first 40 shown" } else { "" },
            d.into_iter().take(40).collect::<Vec<_>>().join("\n  ")
        );
    }
}

/// Is strace here? If not, the caller's test is skipped with a reason.
pub fn have_strace() -> bool {
    if has_command("strace") {
        return true;
    }
    skip("strace is not installed (.ci/run installs it)");
    false
}

/// Run uring-cp (`engine`, then `args`) in `cwd` under `strace -f` with
/// every data write failing with EIO (`copy_file_range`, `pwrite64`,
/// `splice`, `sendfile`): a copy that can never be completed. Callers check
/// [`have_strace`] first.
pub fn run_with_failing_writes(engine: &str, args: &[&str], cwd: &Path) -> std::process::Output {
    let mut all: Vec<String> = ["-f", "-qq", "-o", "/dev/null"].map(String::from).to_vec();
    all.extend([
        "-e".into(),
        "trace=copy_file_range,pwrite64,splice,sendfile".into(),
    ]);
    for call in ["copy_file_range", "pwrite64", "splice", "sendfile"] {
        all.extend(["-e".into(), format!("inject={call}:error=EIO")]);
    }
    all.push(BIN.into());
    all.extend(engine_args(engine).into_iter().map(String::from));
    all.extend(args.iter().map(|a| a.to_string()));
    Command::new("strace")
        .args(&all)
        .current_dir(cwd)
        .output()
        .expect("strace")
}
