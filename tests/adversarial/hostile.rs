//! Family 3: hostile destinations. Symlinks planted in the destination
//! before the run (to files and directories outside it, dangling, loops)
//! and during it (an attacker thread swaps every entry the run creates for
//! a symlink leading outside, while strace holds each `openat`/`mkdirat`
//! for 20 ms); device nodes (/dev/full's numbers), FIFOs, and symlinks to
//! /dev/full or to the program's own stdout as destinations.
//!
//! Invariants: nothing outside the destination changes (a sentinel
//! directory beside it is snapshotted, and /dev/full itself); no hang,
//! signal death or panic; an existing destination the run did not create
//! (a device node, a FIFO, a symlink named on the command line) is never
//! removed because a write to it failed; a copy that failed says so
//! (nonzero status, a message naming the path).

use crate::common::{Fx, Kind, engines, show, skip};
use crate::harness::*;
use std::fmt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plant {
    /// Symlinks in dst/d before the run (to outside files and dirs,
    /// dangling, loops).
    Symlinks,
    /// An attacker swaps what the run creates for symlinks, during the run.
    Swaps,
    /// dst/d/full is a character device 1,7 (/dev/full).
    Device,
    /// dst/d/fifo is a FIFO with a reader.
    Fifo,
    /// The destination operand is a symlink to /dev/full.
    LinkToFull,
    /// The destination operand is a symlink to /proc/self/fd/1, with
    /// stdout on /dev/full.
    LinkToStdout,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub plant: Plant,
    pub engine: &'static str,
    pub mode: &'static [&'static str],
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hostile engine={} plant={:?} mode=[{}]",
            self.engine,
            self.plant,
            self.mode.join(" ")
        )
    }
}

const MODES: &[&[&str]] = &[
    &["-r"],
    &["-a"],
    &["-a", "--sync"],
    &["-a", "--sync", "--inplace"],
];

fn outside(fx: &Fx) {
    fx.dir("outside", 0o755)
        .file("outside/secret", 0o644, "precious")
        .file("outside/secret2", 0o600, "precious too")
        .dir("outside/dir", 0o755)
        .file("outside/dir/kept", 0o644, "kept");
    fx.set_times("outside/secret", (1_600_000_000, 0), (1_600_000_000, 0));
    fx.set_times("outside/dir", (1_600_000_000, 0), (1_600_000_000, 0));
    fx.set_times("outside", (1_600_000_000, 0), (1_600_000_000, 0));
}

fn source(fx: &Fx) {
    fx.dir("src/d", 0o755)
        .file("src/d/f", 0o644, "source f")
        .file("src/d/abs", 0o644, "source abs")
        .file("src/d/dangling", 0o644, "source dangling")
        .file("src/d/loop1", 0o644, "source loop1")
        .file("src/d/self", 0o644, "source self")
        .file("src/d/full", 0o644, vec![b'x'; 200_000])
        .file("src/d/fifo", 0o644, "into the fifo")
        .dir("src/d/sub", 0o755)
        .file("src/d/sub/x", 0o644, "source x")
        .file("src/d/big", 0o644, vec![b'b'; 1 << 20]);
}

fn dev_full_id() -> Option<(u64, u64)> {
    std::fs::metadata("/dev/full")
        .ok()
        .filter(|m| m.file_type().is_char_device())
        .map(|m| (m.ino(), m.rdev()))
}

pub fn all_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for engine in engines() {
        for &mode in MODES {
            for plant in [Plant::Symlinks, Plant::Swaps, Plant::Device, Plant::Fifo] {
                v.push(Case {
                    plant,
                    engine,
                    mode,
                });
            }
        }
        for plant in [Plant::LinkToFull, Plant::LinkToStdout] {
            v.push(Case {
                plant,
                engine,
                mode: &[],
            });
        }
    }
    v
}

pub fn check(case: &Case, report: &Report) {
    report.ran();
    let tmp = scratch("hostile");
    let root = tmp.path();
    let fx = Fx::new(root);
    outside(&fx);
    source(&fx);
    fx.dir("dst/d", 0o755);
    let abs_secret2 = fx.p("outside/secret2").display().to_string();
    let mut args: Vec<String> = case.mode.iter().map(|s| s.to_string()).collect();
    let mut expect_kept: Vec<&str> = Vec::new();
    match case.plant {
        Plant::Symlinks => {
            fx.symlink("dst/d/f", "../../outside/secret")
                .symlink("dst/d/abs", &abs_secret2)
                .symlink("dst/d/dangling", "../../outside/new-file")
                .symlink("dst/d/sub", "../../outside/dir")
                .symlink("dst/d/loop1", "loop2")
                .symlink("dst/d/loop2", "loop1")
                .symlink("dst/d/self", "self");
        }
        Plant::Swaps => {}
        Plant::Device => {
            fx.char_device("dst/d/full", 0o666, 1, 7);
            if !case.mode.contains(&"--sync") {
                expect_kept.push("dst/d/full");
            }
        }
        Plant::Fifo => {
            fx.fifo("dst/d/fifo", 0o644);
            if !case.mode.contains(&"--sync") {
                expect_kept.push("dst/d/fifo");
            }
        }
        Plant::LinkToFull => {
            fx.symlink("dst/link", "/dev/full");
            expect_kept.push("dst/link");
        }
        Plant::LinkToStdout => {
            fx.symlink("dst/link", "/proc/self/fd/1");
            expect_kept.push("dst/link");
        }
    }
    match case.plant {
        Plant::LinkToFull | Plant::LinkToStdout => {
            args.extend(["src/d/full".into(), "dst/link".into()]);
        }
        _ => args.extend(["-T".into(), "src/d".into(), "dst/d".into()]),
    }
    let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let mut inv = Invocation::new(root, case.engine, &argv);
    inv.stdout_full = case.plant == Plant::LinkToStdout;
    if case.plant == Plant::Swaps {
        inv = inv.inject(Inject::new(
            &["openat", "mkdirat"],
            Action::DelayEnter(20_000),
            "1+",
        ));
    }
    let what = match case.plant {
        Plant::Swaps => {
            "\n    and, during the run, every entry created under dst/d is renamed away and replaced by a symlink into outside/"
        }
        Plant::Fifo => "\n    and a reader drains dst/d/fifo during the run",
        _ => "",
    };
    let ctx = format!("{case}\n    replay: {inv}{what}");
    let outside0 = tree(&root.join("outside"));
    let full0 = dev_full_id();
    let planted0: Vec<(String, Kind)> = expect_kept
        .iter()
        .map(|p| (p.to_string(), crate::common::kind_of(&fx.lstat(p))))
        .collect();

    // A reader for the FIFO, so that opening it for writing cannot block.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = (case.plant == Plant::Fifo).then(|| {
        let path = fx.p("dst/d/fifo");
        let stop = stop.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            use std::os::unix::fs::OpenOptionsExt;
            let Ok(mut f) = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
            else {
                return Vec::new();
            };
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match f.read(&mut buf) {
                    Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                    _ => std::thread::sleep(std::time::Duration::from_millis(2)),
                }
            }
            // What was written just before the run ended is still in the
            // pipe (the stop can come while this thread sleeps): drain it.
            while let Ok(n @ 1..) = f.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
            got
        })
    });
    // Let the reader open the FIFO first.
    std::thread::sleep(std::time::Duration::from_millis(if reader.is_some() {
        20
    } else {
        0
    }));

    let mut swaps = 0usize;
    let run = execute(&inv, knobs().timeout, |_| {
        if case.plant == Plant::Swaps {
            swaps += swap_in_symlinks(root);
        }
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let fifo_got = reader.map(|r| r.join().unwrap_or_default());
    if let Some((kind, detail)) = run.crash() {
        report.add(kind, &ctx, detail);
    }
    let outside1 = tree(&root.join("outside"));
    if outside0 != outside1 {
        let d = crate::common::diff_by_path(&outside0, &outside1, |m| &m.path, "before", "after");
        report.add(
            "written outside the destination",
            &ctx,
            format!("{}; {}", d.join("; "), run.summary()),
        );
    }
    if dev_full_id() != full0 {
        report.add(
            "/dev/full itself was changed",
            &ctx,
            format!(
                "before {full0:?}, after {:?}; {}",
                dev_full_id(),
                run.summary()
            ),
        );
    }
    if case.plant == Plant::Swaps {
        if swaps == 0 {
            report.note("the attacker found nothing to swap during a run");
        }
        return;
    }
    for (p, k0) in &planted0 {
        let now = std::fs::symlink_metadata(fx.p(p))
            .ok()
            .map(|m| crate::common::kind_of(&m));
        if now != Some(*k0) {
            report.add(
                "an existing destination the run did not create was removed or replaced",
                &ctx,
                format!(
                    "{p}: was a {k0:?}, now {}; {}",
                    now.map_or("absent".to_string(), |k| format!("a {k:?}")),
                    run.summary()
                ),
            );
        }
    }
    match case.plant {
        Plant::Device | Plant::LinkToFull | Plant::LinkToStdout
            if !case.mode.contains(&"--sync") =>
        {
            // Writing into /dev/full fails: the run must say so.
            if run.code == Some(0) {
                report.add(
                    "exit 0 although the write into /dev/full failed",
                    &ctx,
                    run.summary(),
                );
            } else if !names_path_and_operation(&run.stderr) {
                report.add(
                    "failure without a message naming a path and an operation",
                    &ctx,
                    run.summary(),
                );
            }
        }
        Plant::Fifo
            if !case.mode.contains(&"--sync")
                && run.code == Some(0)
                && fifo_got.as_deref() != Some(b"into the fifo".as_slice()) =>
        {
            report.add(
                "exit 0 but the FIFO did not get the data",
                &ctx,
                format!(
                    "the reader got {:?}; {}",
                    fifo_got.map(|g| show(&g)),
                    run.summary()
                ),
            );
        }
        _ => {}
    }
    // Every regular file at a source name holds the source's bytes or is
    // a planted entry left alone.
    if run.code == Some(0) && matches!(case.plant, Plant::Symlinks | Plant::Device | Plant::Fifo) {
        for name in ["f", "abs", "dangling", "loop1", "self", "sub/x", "big"] {
            let d = fx.p(format!("dst/d/{name}"));
            let s = fx.read(format!("src/d/{name}"));
            match std::fs::symlink_metadata(&d) {
                Ok(m) if m.is_file() => {
                    if std::fs::read(&d).ok().as_deref() != Some(s.as_slice()) {
                        report.add("exit 0 with wrong bytes", &ctx, format!("dst/d/{name}"));
                    }
                }
                Ok(m) if m.file_type().is_symlink() => {}
                other => report.add(
                    "exit 0 but a file is missing",
                    &ctx,
                    format!(
                        "dst/d/{name}: {:?}; {}",
                        other.map(|m| crate::common::kind_of(&m)),
                        run.summary()
                    ),
                ),
            }
        }
    }
}

/// Replace every real entry under dst/d (a directory the run made, a file
/// it is writing) by a symlink leading into outside/. Returns how many.
fn swap_in_symlinks(root: &Path) -> usize {
    let mut n = 0;
    for (rel, target) in [
        ("dst/d/sub", "../../outside/dir"),
        ("dst/d/f", "../../outside/secret"),
        ("dst/d/big", "../../outside/secret"),
        ("dst/d/sub/x", "../../../outside/secret"),
        ("dst/d/abs", "../../outside/secret"),
    ] {
        let p = root.join(rel);
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.file_type().is_symlink() {
            continue;
        }
        let away = root.join(format!("dst/moved-{}-{}", rel.replace('/', "_"), m.ino()));
        if std::fs::rename(&p, &away).is_ok() && std::os::unix::fs::symlink(target, &p).is_ok() {
            n += 1;
        }
    }
    n
}

pub fn run_family() {
    if let Err(why) = strace_status() {
        skip(&format!(
            "adversarial hostile destinations (during-the-run cases): {why}"
        ));
    }
    if !crate::common::is_root() {
        skip("adversarial hostile destinations: device nodes need root");
        return;
    }
    let strace_ok = strace_status().is_ok();
    let all: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| strace_ok || c.plant != Plant::Swaps)
        .collect();
    let n = all.len();
    let cases = select("hostile", all, &[], n);
    let report = Report::new("hostile destinations");
    for c in &cases {
        check(c, &report);
    }
    report.finish();
}
