//! Running programs: [`run`] with a fixed locale, umask and timeout, and
//! the ways tests start `uring-cp` and GNU cp (also under strace with
//! failing writes).

use super::*;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
