//! Family 2: sources that change while they are copied. The first data
//! call on the source (pread64, preadv2, copy_file_range, sendfile, splice)
//! is held for 300 ms by strace (each thread's first four such calls are
//! held, since a thread may copy another file first), and so is a write
//! (pwrite64, pwritev2, write) to its copy (`delay_enter`: before it reads; `delay_exit`:
//! after it read), and for the io_uring engines every `io_uring_enter` is
//! held for 150 ms. A watcher polls `/proc/PID/task/*/syscall`; when a
//! thread is held in a data call whose descriptor is the source or its
//! copy (or, for the io_uring engines, whose ring descriptors do not show
//! in /proc, as soon as the copy or its temporary appears at the
//! destination), the test changes the source: it grows, shrinks, is rewritten in place with the same size,
//! gets a new mtime only, is replaced by rename, is deleted, or becomes a
//! directory.
//!
//! Invariants: exit 0 means the copy is a state the source really had
//! (before or after the change; for a directory, its copy); exit 24 (a
//! vanished source) or 1 must name the path, and leave the destination
//! absent (cp), the old copy (sync) or a real state; never a mix, never
//! zeros; no hang or crash; a clean rerun copies the new state and leaves
//! no temporaries.

use crate::common::{engines, show, skip};
use crate::harness::*;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fs {
    Same,
    Tmpfs,
    Xfs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Grow,
    Shrink,
    Rewrite,
    Touch,
    Rename,
    Delete,
    ToDir,
}

const CHANGES: &[Change] = &[
    Change::Grow,
    Change::Shrink,
    Change::Rewrite,
    Change::Touch,
    Change::Rename,
    Change::Delete,
    Change::ToDir,
];

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Grow => "grow (append half its size)",
            Change::Shrink => "shrink (truncate to half)",
            Change::Rewrite => "rewrite in place, same size",
            Change::Touch => "touch (new mtime, same bytes)",
            Change::Rename => "replace by rename",
            Change::Delete => "delete",
            Change::ToDir => "become a directory",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Held before the first data call reads.
    Before,
    /// Held after the first data call returned.
    After,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub engine: &'static str,
    pub fs: Fs,
    pub reflink: &'static str,
    pub sync: bool,
    pub size: usize,
    pub change: Change,
    pub window: Window,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sources engine={} fs={:?} --reflink={} mode={} size={} change=[{}] window={}",
            self.engine,
            self.fs,
            self.reflink,
            if self.sync { "sync" } else { "cp" },
            self.size,
            self.change,
            match self.window {
                Window::Before => "delay_enter",
                Window::After => "delay_exit",
            }
        )
    }
}

/// The calls that move file data (`read` is left out: uring-cp reads no
/// file data with it, and holding it would only slow the dynamic loader).
/// The writes are there for the io_uring engine, which reads through its
/// ring and writes with system calls.
const DATA_CALLS: &[&str] = &[
    "pwrite64",
    "pwritev2",
    "write",
    "pread64",
    "preadv2",
    "copy_file_range",
    "sendfile",
    "splice",
];
const HOLD_US: u64 = 300_000;
const RING_HOLD_US: u64 = 150_000;

/// Contents that show any mix: every 4 KiB block starts with a header
/// naming the version and the block.
fn versioned(version: &str, size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size + 4096);
    let mut block = 0;
    while v.len() < size {
        let mut b = format!("{version} block {block}\n").into_bytes();
        b.resize(4096, version.as_bytes()[0]);
        v.extend_from_slice(&b);
        block += 1;
    }
    v.truncate(size);
    v
}

/// What the source is after the change.
#[derive(Clone, Debug, PartialEq)]
enum State {
    File(Vec<u8>),
    Dir,
    Gone,
}

fn mutate(f: &Path, change: Change, size: usize) -> std::io::Result<State> {
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    let v1 = versioned("v1", size);
    Ok(match change {
        Change::Grow => {
            let extra = versioned("v2", size / 2);
            std::fs::OpenOptions::new()
                .append(true)
                .open(f)?
                .write_all(&extra)?;
            State::File([v1, extra].concat())
        }
        Change::Shrink => {
            std::fs::OpenOptions::new()
                .write(true)
                .open(f)?
                .set_len((size / 2) as u64)?;
            State::File(v1[..size / 2].to_vec())
        }
        Change::Rewrite => {
            let v2 = versioned("v2", size);
            std::fs::OpenOptions::new()
                .write(true)
                .open(f)?
                .write_all_at(&v2, 0)?;
            State::File(v2)
        }
        Change::Touch => {
            let t = std::time::SystemTime::now() + Duration::from_secs(3);
            std::fs::OpenOptions::new()
                .write(true)
                .open(f)?
                .set_modified(t)?;
            State::File(v1)
        }
        Change::Rename => {
            let v3 = versioned("v3", size * 3 / 4);
            let tmp = f.with_file_name(".f.new");
            std::fs::write(&tmp, &v3)?;
            std::fs::rename(&tmp, f)?;
            State::File(v3)
        }
        Change::Delete => {
            std::fs::remove_file(f)?;
            State::Gone
        }
        Change::ToDir => {
            std::fs::remove_file(f)?;
            std::fs::create_dir(f)?;
            std::fs::write(f.join("inner"), "inner")?;
            State::Dir
        }
    })
}

/// Finds the traced program (strace's child) and tells when one of its
/// threads is held where the test wants to act.
struct Watcher {
    pid: Option<u32>,
    src: PathBuf,
    dst_dir: PathBuf,
    ring: bool,
}

impl Watcher {
    fn held(&mut self, strace_pid: u32) -> bool {
        if self.pid.is_none() {
            self.pid = child_tasks(strace_pid).first().map(|t| t.0);
        }
        let Some(pid) = self.pid else {
            return false;
        };
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return false;
        };
        for t in tasks.flatten() {
            let Some(tid) = t.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let Some((n, args)) = current_syscall(pid, tid) else {
                continue;
            };
            if let Some(fd) = nr::source_fd(n, &args)
                && fd_target(pid, fd).as_deref() == Some(self.src.as_path())
            {
                return true;
            }
            if let Some(fd) = nr::dest_fd(n, &args)
                && let Some(t) = fd_target(pid, fd)
                && t.parent() == Some(self.dst_dir.as_path())
                && t.file_name()
                    .is_some_and(|n| n == "f" || n.as_encoded_bytes().starts_with(b".~ucp.f."))
            {
                return true;
            }
        }
        // Ring engines: their reads and writes do not show in /proc, so
        // the window is "the copy of f has begun at the destination".
        self.ring && self.dst_started()
    }

    /// The copy of `f` has begun: its temporary exists, or `f` exists and
    /// is not the old copy.
    fn dst_started(&self) -> bool {
        let temp = std::fs::read_dir(&self.dst_dir).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| e.file_name().as_encoded_bytes().starts_with(b".~ucp.f."))
        });
        temp || std::fs::File::open(self.dst_dir.join("f")).is_ok_and(|mut f| {
            let mut b = [0u8; 8];
            std::io::Read::read(&mut f, &mut b)
                .is_ok_and(|n| b[..n] != b"old copy"[..n.min(8)] || n == 0)
        })
    }
}

/// Fields drop in order: the mounts go before their directory is removed.
pub struct Places {
    tmpfs: Option<Mount>,
    xfs: Option<Mount>,
    _tmp: tempfile::TempDir,
}

fn places() -> Places {
    let tmp = scratch("src-fs");
    let root = tmp.path().to_path_buf();
    let tmpfs = match Mount::tmpfs(&root.join("tmpfs"), "256m") {
        Ok(m) => Some(m),
        Err(e) => {
            skip(&format!("adversarial changing sources on tmpfs: {e}"));
            None
        }
    };
    let xfs = match Mount::image("xfs", &root.join("xfs"), &root.join("xfs.img"), 320) {
        Ok(m) => Some(m),
        Err(e) => {
            skip(&format!("adversarial changing sources on xfs: {e}"));
            None
        }
    };
    Places {
        _tmp: tmp,
        tmpfs,
        xfs,
    }
}

pub fn all_cases(p: &Places) -> Vec<Case> {
    let mut fss = vec![Fs::Same];
    if p.tmpfs.is_some() {
        fss.push(Fs::Tmpfs);
    }
    if p.xfs.is_some() {
        fss.push(Fs::Xfs);
    }
    let mut v = Vec::new();
    for engine in engines() {
        for &fs in &fss {
            for reflink in ["auto", "never"] {
                for sync in [false, true] {
                    for size in [64 << 10, 1 << 20, 2 << 20, 16 << 20] {
                        for &change in CHANGES {
                            for window in [Window::Before, Window::After] {
                                v.push(Case {
                                    engine,
                                    fs,
                                    reflink,
                                    sync,
                                    size,
                                    change,
                                    window,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    v
}

fn describe(d: &[u8], states: &[(&str, &[u8])]) -> String {
    let zeros = d.iter().take_while(|&&c| c == 0).count();
    let mut s = format!("{} bytes", d.len());
    if zeros > 0 {
        s.push_str(&format!(", the first {zeros} are zeros"));
    }
    for (name, st) in states {
        if d.len() > st.len() && d.ends_with(st) {
            s.push_str(&format!(", ends with the {name} content"));
        }
        let common = d.iter().zip(st.iter()).take_while(|(a, b)| a == b).count();
        if common > 0 && common < d.len() {
            s.push_str(&format!(", first {common} bytes match the {name} content"));
        }
    }
    if let Some(p) = d.windows(3).position(|w| w == b"v2 " || w == b"v3 ") {
        s.push_str(&format!(", newer blocks from offset {p}"));
    }
    s
}

pub fn check(case: &Case, p: &Places, n: usize, report: &Report) {
    report.ran();
    let work = scratch("src");
    let w = work.path();
    let src = w.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let v1 = versioned("v1", case.size);
    std::fs::write(src.join("f"), &v1).unwrap();
    std::fs::write(src.join("calm"), "calm").unwrap();
    let dst_parent = match case.fs {
        Fs::Same => w.to_path_buf(),
        Fs::Tmpfs => p.tmpfs.as_ref().unwrap().path.join(format!("c{n}")),
        Fs::Xfs => p.xfs.as_ref().unwrap().path.join(format!("c{n}")),
    };
    let dst = dst_parent.join("dst");
    let _ = std::fs::remove_dir_all(dst_parent.join("dst"));
    std::fs::create_dir_all(&dst_parent).unwrap();
    let old = b"old copy".to_vec();
    if case.sync {
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::write(dst.join("f"), &old).unwrap();
        let f = std::fs::File::options()
            .write(true)
            .open(dst.join("f"))
            .unwrap();
        f.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000))
            .unwrap();
    }
    let dst_s = dst.display().to_string();
    let reflink = format!("--reflink={}", case.reflink);
    let mut args: Vec<&str> = if case.sync {
        vec!["-a", "--sync"]
    } else {
        vec!["-r"]
    };
    args.extend([reflink.as_str(), "-T", "src", dst_s.as_str()]);
    let hold = match case.window {
        Window::Before => Action::DelayEnter(HOLD_US),
        Window::After => Action::DelayExit(HOLD_US),
    };
    let mut inv =
        Invocation::new(w, case.engine, &args).inject(Inject::new(DATA_CALLS, hold, "1..4"));
    if case.engine != "portable" {
        inv = inv.inject(Inject::new(
            &["io_uring_enter"],
            Action::DelayEnter(RING_HOLD_US),
            "1+",
        ));
    }
    let ctx = format!(
        "{case}\n    replay: {inv}\n    and, while a data call on src/f is held: {}",
        case.change
    );
    let mut watcher = Watcher {
        pid: None,
        src: src.join("f"),
        dst_dir: dst.clone(),
        ring: case.engine != "portable",
    };
    let mut after: Option<State> = None;
    let mut mutate_err = None;
    let run = execute(&inv, knobs().timeout, |pid| {
        if after.is_none() && mutate_err.is_none() && watcher.held(pid) {
            match mutate(&src.join("f"), case.change, case.size) {
                Ok(s) => after = Some(s),
                Err(e) => mutate_err = Some(e.to_string()),
            }
        }
    });
    if let Some(e) = mutate_err {
        panic!("{ctx}: the test could not change the source: {e}");
    }
    if let Some((kind, detail)) = run.crash() {
        report.add(kind, &ctx, detail);
    }
    let hit = after.is_some();
    if !hit {
        report.note(format!(
            "window not hit (no held data call on the source): engine={} fs={:?} reflink={} sync={}",
            case.engine, case.fs, case.reflink, case.sync
        ));
    }
    let after = after.unwrap_or(State::File(v1.clone()));
    let f = dst.join("f");
    let md = std::fs::symlink_metadata(&f).ok();
    let got: Option<State> = md.map(|m| {
        if m.is_dir() {
            State::Dir
        } else {
            State::File(std::fs::read(&f).unwrap_or_default())
        }
    });
    let mut states: Vec<(&str, &[u8])> = vec![("original", &v1)];
    if let State::File(a) = &after
        && *a != v1
    {
        states.push(("changed", a));
    }
    let is_state = |d: &[u8]| states.iter().any(|(_, s)| *s == d);
    let dir_ok = || std::fs::read(f.join("inner")).is_ok_and(|d| d == b"inner");
    let names_f = run.stderr.contains("src/f'");
    match run.code {
        Some(0) => match &got {
            Some(State::File(d)) if is_state(d) => {}
            Some(State::Dir) if after == State::Dir && dir_ok() => {}
            Some(State::File(d)) => report.add(
                "exit 0 with content the source never had",
                &ctx,
                format!(
                    "{}: {}; {}",
                    f.display(),
                    describe(d, &states),
                    run.summary()
                ),
            ),
            other => report.add(
                "exit 0 but the copy is missing or of the wrong type",
                &ctx,
                format!("{}: {other:?}; {}", f.display(), run.summary()),
            ),
        },
        Some(1) | Some(24) => {
            if !names_f {
                report.add(
                    "failure without a message naming the path",
                    &ctx,
                    run.summary(),
                );
            }
            if run.code == Some(24) && !matches!(after, State::Gone | State::Dir) && hit {
                report.add(
                    "exit 24 (vanished) for a source that did not vanish",
                    &ctx,
                    run.summary(),
                );
            }
            match &got {
                None => {
                    if case.sync {
                        report.add(
                            "sync: the old copy was removed by a failed update",
                            &ctx,
                            run.summary(),
                        );
                    }
                }
                Some(State::File(d)) if is_state(d) || (case.sync && *d == old) => {}
                Some(State::Dir) if after == State::Dir => {}
                Some(State::File(d)) => report.add(
                    "failed run left content the source never had under the final name",
                    &ctx,
                    format!(
                        "{}: {}; {}",
                        f.display(),
                        describe(d, &states),
                        run.summary()
                    ),
                ),
                Some(State::Dir) => report.add(
                    "failed run left a directory for a file",
                    &ctx,
                    run.summary(),
                ),
                Some(State::Gone) => unreachable!(),
            }
        }
        _ if run.crash().is_some() => {}
        _ => report.add("unexpected exit status", &ctx, run.summary()),
    }
    if run.code == Some(0) && std::fs::read(dst.join("calm")).ok().as_deref() != Some(b"calm") {
        report.add(
            "exit 0 but another file was not copied",
            &ctx,
            run.summary(),
        );
    }

    // The program never writes to its source.
    let now = match std::fs::symlink_metadata(src.join("f")) {
        Err(_) => State::Gone,
        Ok(m) if m.is_dir() => State::Dir,
        Ok(_) => State::File(std::fs::read(src.join("f")).unwrap()),
    };
    if now != after {
        report.add("the source was changed by the copy", &ctx, run.summary());
    }

    // A clean rerun copies the current state.
    let rerun = execute(&inv.plain(), knobs().timeout, |_| {});
    let got2 = std::fs::symlink_metadata(&f).ok().map(|m| {
        if m.is_dir() {
            State::Dir
        } else {
            State::File(std::fs::read(&f).unwrap_or_default())
        }
    });
    let want2 = match &after {
        State::Gone => None,
        s => Some(s.clone()),
    };
    if rerun.code != Some(0) || got2 != want2 {
        // A file that became a directory stays a file in cp mode: cp refuses
        // to overwrite a non-directory with a directory.
        let cp_refusal = !case.sync
            && after == State::Dir
            && matches!(got2, Some(State::File(_)))
            && rerun.stderr.contains("cannot overwrite non-directory");
        // A deleted source leaves the earlier copy (no --delete here).
        let cp_keeps = after == State::Gone && rerun.code == Some(0);
        if !cp_refusal && !cp_keeps {
            report.add(
                "clean rerun does not copy the current state",
                &ctx,
                format!(
                    "rerun {}; copy is {}",
                    rerun.summary(),
                    match &got2 {
                        Some(State::File(d)) => describe(d, &states),
                        other => format!("{other:?}"),
                    }
                ),
            );
        }
    }
    let t: Vec<String> = std::fs::read_dir(&dst)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().as_encoded_bytes().to_vec())
                .filter(|n| is_temp(n))
                .map(|n| show(&n))
                .collect()
        })
        .unwrap_or_default();
    if !t.is_empty() {
        report.add("temporaries left after a clean rerun", &ctx, t.join(", "));
    }
    if case.fs != Fs::Same {
        let _ = std::fs::remove_dir_all(&dst_parent);
    }
}

pub fn run_family() {
    if let Err(why) = strace_status() {
        skip(&format!("adversarial changing sources: {why}"));
        return;
    }
    let p = places();
    let all = all_cases(&p);
    // The known case (a touch during the first sendfile, ext4 -> tmpfs or
    // --reflink=never), for each engine, and a rewrite for uring-chains.
    let must: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            let known =
                c.fs == if p.tmpfs.is_some() {
                    Fs::Tmpfs
                } else {
                    Fs::Same
                } && c.reflink == "never"
                    && !c.sync
                    && c.size == 2 << 20
                    && c.change == Change::Touch
                    && c.window == Window::Before;
            let chains = c.engine == "uring-chains"
                && c.fs == Fs::Same
                && c.reflink == "auto"
                && c.size == 1 << 20
                && c.change == Change::Rewrite
                && c.window == Window::Before;
            known || chains
        })
        .map(|(i, _)| i)
        .collect();
    let cases = select("sources", all, &must, 16);
    let report = Report::new("changing sources");
    for (n, c) in cases.iter().enumerate() {
        check(c, &p, n, &report);
    }
    drop(p);
    report.finish();
}
