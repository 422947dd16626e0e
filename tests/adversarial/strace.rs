//! Running the binary under `strace -f -e inject=...` with a hard timeout
//! (and an optional watcher that acts while it runs), and looking at the
//! running tracee through /proc.

use crate::common::{self, shell_quote};
use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// strace
// ---------------------------------------------------------------------------

/// `Ok` if `strace -f` can trace and inject here (it needs ptrace).
pub fn strace_status() -> Result<(), String> {
    static S: OnceLock<Result<(), String>> = OnceLock::new();
    S.get_or_init(|| {
        if !common::has_command("strace") {
            return Err("strace is not installed (apt-get install strace)".into());
        }
        let out = Command::new("strace")
            .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=getpid"])
            .args(["-e", "inject=getpid:error=EIO:when=1", "true"])
            .output()
            .map_err(|e| format!("cannot run strace: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "strace cannot trace here (ptrace refused?): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    })
    .clone()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Error(&'static str),
    DelayEnter(u64),
    DelayExit(u64),
}

/// One `-e inject=SET:ACTION:when=WHEN`. strace counts `when` per thread
/// (each thread's Nth call of a syscall in the set), from the first
/// instruction of the process: the dynamic loader's calls count too.
#[derive(Clone, Debug)]
pub struct Inject {
    pub syscalls: Vec<String>,
    pub action: Action,
    pub when: String,
}

impl Inject {
    pub fn new(syscalls: &[&str], action: Action, when: impl Into<String>) -> Inject {
        Inject {
            syscalls: syscalls.iter().map(|s| s.to_string()).collect(),
            action,
            when: when.into(),
        }
    }
}

impl fmt::Display for Inject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inject={}:", self.syscalls.join(","))?;
        match &self.action {
            Action::Error(e) => write!(f, "error={e}")?,
            Action::DelayEnter(us) => write!(f, "delay_enter={us}")?,
            Action::DelayExit(us) => write!(f, "delay_exit={us}")?,
        }
        write!(f, ":when={}", self.when)
    }
}

/// One run of the binary: in `cwd`, under strace when there are injections.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub cwd: PathBuf,
    pub injects: Vec<Inject>,
    pub engine: String,
    pub args: Vec<String>,
    /// Send the program's stdout to /dev/full (else a pipe).
    pub stdout_full: bool,
}

impl Invocation {
    pub fn new(cwd: &Path, engine: &str, args: &[&str]) -> Invocation {
        Invocation {
            cwd: cwd.to_path_buf(),
            injects: Vec::new(),
            engine: engine.to_string(),
            args: args.iter().map(|s| s.to_string()).collect(),
            stdout_full: false,
        }
    }

    pub fn inject(mut self, i: Inject) -> Invocation {
        self.injects.push(i);
        self
    }

    /// The same run without strace.
    pub fn plain(&self) -> Invocation {
        Invocation {
            injects: Vec::new(),
            ..self.clone()
        }
    }

    pub fn argv(&self) -> Vec<String> {
        let mut v = Vec::new();
        if !self.injects.is_empty() {
            v.extend(["strace", "-f", "-qq", "-o", "/dev/null"].map(String::from));
            let mut traced: Vec<&str> = Vec::new();
            for i in &self.injects {
                for s in &i.syscalls {
                    if !traced.contains(&s.as_str()) {
                        traced.push(s);
                    }
                }
            }
            v.push("-e".into());
            v.push(format!("trace={}", traced.join(",")));
            for i in &self.injects {
                v.push("-e".into());
                v.push(i.to_string());
            }
        }
        v.push(common::BIN.to_string());
        v.push("--engine".into());
        v.push(self.engine.clone());
        v.extend(self.args.iter().cloned());
        v
    }
}

impl fmt::Display for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self
            .argv()
            .iter()
            .map(|a| shell_quote(a.as_bytes()))
            .collect();
        write!(
            f,
            "(cd {} && umask 022 && {}{})",
            shell_quote(self.cwd.as_os_str().as_encoded_bytes()),
            words.join(" "),
            if self.stdout_full { " >/dev/full" } else { "" }
        )
    }
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stderr: String,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Run {
    /// The dynamic loader (or libc start-up) failed: nothing of uring-cp ran.
    pub fn died_in_loader(&self) -> bool {
        self.code == Some(127) && self.stderr.contains("error while loading shared libraries")
    }

    pub fn panicked(&self) -> bool {
        self.code == Some(101) || self.stderr.contains("panicked at")
    }

    pub fn status(&self) -> String {
        match (self.code, self.signal) {
            _ if self.timed_out => format!("TIMED OUT after {:?} (killed)", self.elapsed),
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            (None, None) => "unknown status".into(),
        }
    }

    /// The sanity every run must have: it ended by itself, not by a signal,
    /// not by a panic. `None` if fine.
    pub fn crash(&self) -> Option<(&'static str, String)> {
        if self.timed_out {
            Some(("hang (killed after the timeout)", self.summary()))
        } else if self.signal.is_some() {
            Some(("killed by a signal", self.summary()))
        } else if self.panicked() {
            Some(("panic", self.summary()))
        } else {
            None
        }
    }

    pub fn summary(&self) -> String {
        let err: String = self
            .stderr
            .trim_end()
            .lines()
            .take(12)
            .collect::<Vec<_>>()
            .join("\n      ");
        format!("{}; stderr:\n      {}", self.status(), err)
    }
}

/// Run `inv` with a hard timeout. `watch(root_pid)` is called about every
/// millisecond while it runs (root_pid is strace's pid when injecting, else
/// the program's). The whole process group is killed on timeout.
pub fn execute(inv: &Invocation, timeout: Duration, mut watch: impl FnMut(u32)) -> Run {
    let argv = inv.argv();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("umask 022; exec \"$@\"")
        .arg("sh")
        .args(&argv)
        .current_dir(&inv.cwd)
        .env("LC_ALL", common::LOCALE)
        .env_remove("LANGUAGE")
        .env_remove("POSIXLY_CORRECT")
        .process_group(0)
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    if inv.stdout_full {
        cmd.stdout(
            std::fs::File::options()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full"),
        );
    } else {
        cmd.stdout(Stdio::piped());
    }
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {inv}: {e}"));
    let pid = child.id();
    let so = child.stdout.take();
    let se = child.stderr.take().expect("stderr piped");
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    };
    let t_out = drain(so.map(|s| Box::new(s) as Box<dyn std::io::Read + Send>));
    let t_err = drain(Some(Box::new(se)));
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            // SAFETY: kill(2) of the process group we created for this child.
            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
            break child.wait().expect("wait after kill");
        }
        watch(pid);
        std::thread::sleep(Duration::from_millis(1));
    };
    let elapsed = start.elapsed();
    // Anything of the group still alive (a tracee strace left behind).
    // SAFETY: as above, our own process group.
    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    let _stdout = t_out.join();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
    Run {
        code: status.code(),
        signal: status.signal(),
        stderr,
        timed_out,
        elapsed,
    }
}

/// Per-thread call counts of the given syscalls in one traced run:
/// `(syscall -> largest count in any one thread)`.
pub fn record_calls(inv: &Invocation, syscalls: &[&str]) -> BTreeMap<String, usize> {
    let trace = inv.cwd.join(".strace-record");
    let mut argv = vec![
        "strace".to_string(),
        "-f".into(),
        "-qq".into(),
        "-o".into(),
        trace.display().to_string(),
        "-e".into(),
        format!("trace={}", syscalls.join(",")),
    ];
    argv.extend(inv.plain().argv());
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$@\"")
        .arg("sh")
        .args(&argv)
        .current_dir(&inv.cwd)
        .env("LC_ALL", common::LOCALE)
        .stdin(Stdio::null())
        .output()
        .expect("run strace to record");
    assert!(
        out.status.success(),
        "recording run failed: {inv}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&trace).unwrap_or_default();
    let _ = std::fs::remove_file(&trace);
    let mut per: BTreeMap<(String, String), usize> = BTreeMap::new();
    for line in text.lines() {
        let mut it = line.splitn(2, ' ');
        let (Some(tid), Some(rest)) = (it.next(), it.next()) else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.starts_with('<') || rest.starts_with("+++") || rest.starts_with("---") {
            continue; // "<... x resumed>", exits, signals
        }
        if let Some(name) = rest.split('(').next()
            && syscalls.contains(&name)
        {
            *per.entry((name.to_string(), tid.to_string())).or_default() += 1;
        }
    }
    let mut max: BTreeMap<String, usize> = BTreeMap::new();
    for ((name, _), n) in per {
        let e = max.entry(name).or_default();
        *e = (*e).max(n);
    }
    max
}

// ---------------------------------------------------------------------------
// Looking at a running tracee through /proc
// ---------------------------------------------------------------------------

/// Every thread of every child process of `parent`: (pid, tid).
pub fn child_tasks(parent: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parens.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let ppid: Option<u32> = after.split_whitespace().nth(1).and_then(|s| s.parse().ok());
        if ppid == Some(parent)
            && let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task"))
        {
            for t in tasks.flatten() {
                if let Some(tid) = t.file_name().to_str().and_then(|s| s.parse().ok()) {
                    out.push((pid, tid));
                }
            }
        }
    }
    out
}

/// The syscall a thread is blocked or stopped in: (number, args).
pub fn current_syscall(pid: u32, tid: u32) -> Option<(i64, Vec<u64>)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")).ok()?;
    let mut it = s.split_whitespace();
    let nr: i64 = it.next()?.parse().ok()?;
    let args = it
        .take(6)
        .filter_map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .collect();
    Some((nr, args))
}

pub fn fd_target(pid: u32, fd: u64) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()
}

pub mod nr {
    pub const READ: i64 = libc::SYS_read;
    pub const PREAD64: i64 = libc::SYS_pread64;
    pub const PREADV: i64 = libc::SYS_preadv;
    pub const PREADV2: i64 = libc::SYS_preadv2;
    pub const SENDFILE: i64 = libc::SYS_sendfile;
    pub const SPLICE: i64 = libc::SYS_splice;
    pub const COPY_FILE_RANGE: i64 = libc::SYS_copy_file_range;
    pub const WRITE: i64 = libc::SYS_write;
    pub const PWRITE64: i64 = libc::SYS_pwrite64;
    pub const PWRITEV: i64 = libc::SYS_pwritev;
    pub const PWRITEV2: i64 = libc::SYS_pwritev2;

    /// The descriptor a data syscall reads from (its first or second argument).
    pub fn source_fd(nr: i64, args: &[u64]) -> Option<u64> {
        match nr {
            READ | PREAD64 | PREADV | PREADV2 | SPLICE | COPY_FILE_RANGE => args.first().copied(),
            SENDFILE => args.get(1).copied(),
            _ => None,
        }
    }

    /// The descriptor a write syscall writes to.
    pub fn dest_fd(nr: i64, args: &[u64]) -> Option<u64> {
        match nr {
            WRITE | PWRITE64 | PWRITEV | PWRITEV2 => args.first().copied(),
            _ => None,
        }
    }
}
