//! Family 1: failing system calls. A small tree is copied in each mode by
//! each engine while strace makes the 1st, 2nd or a later call of one
//! syscall fail with one errno; the invariants are checked after every run
//! and after a clean rerun.
//!
//! What counts as a correct outcome (decided here, precisely):
//! * The source is never changed (bytes, modes, owners, mtimes, xattrs).
//! * Every destination entry under a source path is the source's data, or
//!   the old destination's data untouched. A pre-existing regular file may
//!   hold anything else only in an in-place mode (plain cp, which rewrites
//!   an existing file in place like GNU cp, or `--sync --inplace`), and only
//!   when the exit status is nonzero.
//! * Nothing that was in the destination before the run is gone: no mode
//!   here uses `--delete`, and a failed write is no reason to remove a
//!   destination the run did not create (GNU cp keeps it).
//! * No entry appears that is not in the source (a `.~ucp.` temporary only
//!   after a failed run; the clean rerun must remove it).
//! * Exit 0 means the copy is complete (`-a`: with modes, owners, times and
//!   hard links). An incomplete copy needs a nonzero status and a message
//!   naming a quoted path and the operation.
//! * No hang, no signal death, no panic.
//! * A clean rerun (no strace) exits 0, completes the copy, and leaves no
//!   temporaries.

use crate::common::{Fx, Kind, engines, show, skip};
use crate::harness::*;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

#[derive(Clone, Copy, Debug)]
pub struct Mode {
    pub name: &'static str,
    pub args: &'static [&'static str],
    /// The destination holds an older copy before the run.
    pub old_dst: bool,
    /// Existing files are rewritten in place (cp; --sync --inplace).
    pub in_place: bool,
    /// `-a`: attributes are compared too.
    pub archive: bool,
}

pub const MODES: &[Mode] = &[
    Mode {
        name: "-r",
        args: &["-r"],
        old_dst: false,
        in_place: true,
        archive: false,
    },
    Mode {
        name: "-a onto an older copy",
        args: &["-a"],
        old_dst: true,
        in_place: true,
        archive: true,
    },
    Mode {
        name: "-a --sync onto an older copy",
        args: &["-a", "--sync"],
        old_dst: true,
        in_place: false,
        archive: true,
    },
    Mode {
        name: "-a --sync --inplace onto an older copy",
        args: &["-a", "--sync", "--inplace"],
        old_dst: true,
        in_place: true,
        archive: true,
    },
    Mode {
        name: "-r --fsync",
        args: &["-r", "--fsync"],
        old_dst: false,
        in_place: true,
        archive: false,
    },
];

/// The syscalls considered (those a mode and engine actually make are used).
pub const SYSCALLS: &[&str] = &[
    "openat",
    "open",
    "read",
    "pread64",
    "preadv2",
    "write",
    "pwrite64",
    "pwritev2",
    "copy_file_range",
    "sendfile",
    "splice",
    "ftruncate",
    "fallocate",
    "lseek",
    "ioctl",
    "fstat",
    "statx",
    "newfstatat",
    "getdents64",
    "readlinkat",
    "readlink",
    "mkdirat",
    "mknodat",
    "symlinkat",
    "linkat",
    "renameat",
    "renameat2",
    "unlinkat",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchownat",
    "utimensat",
    "fsync",
    "fdatasync",
    "syncfs",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "close",
];

pub fn errnos(syscall: &str) -> &'static [&'static str] {
    match syscall {
        "io_uring_setup" | "io_uring_register" => &["EIO", "ENOSPC", "EINTR", "EAGAIN", "ENOMEM"],
        "io_uring_enter" => &["EIO", "ENOSPC", "EINTR", "EAGAIN", "EBADF", "EFAULT"],
        _ => &["EIO", "ENOSPC", "EINTR", "EAGAIN"],
    }
}

#[derive(Clone, Debug)]
pub struct Case {
    pub mode: Mode,
    pub engine: &'static str,
    pub syscall: String,
    pub errno: &'static str,
    /// Which call (per thread, as strace counts).
    pub nth: usize,
}

impl Case {
    fn inject(&self) -> Inject {
        Inject::new(
            &[self.syscall.as_str()],
            Action::Error(self.errno),
            self.nth.to_string(),
        )
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "syscalls engine={} mode=[{}] {}",
            self.engine,
            self.mode.name,
            self.inject()
        )
    }
}

/// The small tree: dirs, files of 0 B, 3 KiB, 70 KiB, 1.5 MiB, a symlink
/// and a hard-link pair, with distinct modes and times.
pub fn build_source(fx: &Fx) {
    let data = |n: usize, salt: u8| -> Vec<u8> {
        (0..n).map(|i| ((i * 31 + i / 4096) as u8) ^ salt).collect()
    };
    fx.dir(".", 0o755)
        .file("empty", 0o644, b"")
        .file("f70k", 0o640, data(70 * 1024, 1))
        .symlink("sl", "f70k")
        .dir("d", 0o750)
        .file("d/f3k", 0o600, data(3 * 1024, 2))
        .dir("d/e", 0o755)
        .file("d/e/big", 0o644, data(1536 * 1024, 3))
        .hardlink("d/f3k", "hl");
    fx.stamp_all(7);
}

/// An older copy: some files with other contents, one of the same size, a
/// symlink to elsewhere, and entries that are not in the source.
pub fn build_old_destination(fx: &Fx) {
    fx.dir(".", 0o755)
        .file("f70k", 0o640, vec![b'o'; 70 * 1024])
        .symlink("sl", "old-target")
        .dir("d", 0o750)
        .file("d/f3k", 0o600, "old f3k")
        .file("d/keep2", 0o644, "not in the source")
        .dir("d/e", 0o755)
        .file("d/e/big", 0o644, vec![b'O'; 100 * 1024])
        .file("keep-me", 0o644, "not in the source either");
    fx.stamp_all(3);
}

struct Layout {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
}

fn layout(mode: &Mode) -> Layout {
    let tmp = scratch("sys");
    let root = tmp.path().to_path_buf();
    build_source(&Fx::new(root.join("src")));
    if mode.old_dst {
        build_old_destination(&Fx::new(root.join("dst")));
    }
    Layout { _tmp: tmp, root }
}

fn invocation(root: &Path, engine: &str, mode: &Mode) -> Invocation {
    let mut args: Vec<&str> = mode.args.to_vec();
    args.extend(["-T", "src", "dst"]);
    Invocation::new(root, engine, &args)
}

/// Which Nth calls to fail: 1, 2 and the busiest thread's last (in a sweep
/// also the middle one).
fn nths(max: usize, sweep: bool) -> Vec<usize> {
    let mut v = vec![1];
    if max >= 2 {
        v.push(2);
    }
    if sweep && max >= 6 {
        v.push(max / 2);
    }
    if max >= 3 {
        v.push(max);
    }
    v
}

pub fn all_cases(sweep: bool) -> Vec<Case> {
    let mut cases = Vec::new();
    for engine in engines() {
        for mode in MODES {
            let l = layout(mode);
            let counts = record_calls(&invocation(&l.root, engine, mode), SYSCALLS);
            for (syscall, max) in counts {
                for nth in nths(max, sweep) {
                    for errno in errnos(&syscall) {
                        cases.push(Case {
                            mode: *mode,
                            engine,
                            syscall: syscall.clone(),
                            errno,
                            nth,
                        });
                    }
                }
            }
        }
    }
    cases
}

pub fn check(case: &Case, report: &Report) {
    report.ran();
    let l = layout(&case.mode);
    let src_dir = l.root.join("src");
    let dst_dir = l.root.join("dst");
    let inv = invocation(&l.root, case.engine, &case.mode).inject(case.inject());
    let ctx = format!("{case}\n    replay: {inv}");
    let src0 = tree(&src_dir);
    let dst0 = tree(&dst_dir);
    let run = execute(&inv, knobs().timeout, |_| {});
    if knobs().verbose {
        crate::common::notice(&format!("{case}: {}", run.status()));
    }

    let src1 = tree(&src_dir);
    if src0 != src1 {
        let d = crate::common::diff_by_path(&src0, &src1, |m| &m.path, "before", "after");
        report.add("source changed", &ctx, d.join("\n"));
    }
    if let Some((kind, detail)) = run.crash() {
        report.add(kind, &ctx, detail);
    }
    let dst1 = tree(&dst_dir);
    check_destination(&ctx, &case.mode, &run, &src0, &dst0, &dst1, report);

    // A clean rerun finishes the job.
    let rerun = execute(&inv.plain(), knobs().timeout, |_| {});
    let dst2 = tree(&dst_dir);
    let src2 = tree(&src_dir);
    if rerun.code != Some(0) {
        report.add(
            "clean rerun fails",
            &ctx,
            format!("rerun `{}`: {}", inv.plain(), rerun.summary()),
        );
    } else {
        let d = copy_differences(&src2, &dst2, case.mode.archive);
        if !d.is_empty() {
            report.add(
                "clean rerun exits 0 with an incomplete copy",
                &ctx,
                d.join("\n"),
            );
        }
    }
    let t = temps(&dst2);
    if !t.is_empty() {
        report.add("temporaries left after a clean rerun", &ctx, t.join(", "));
    }
    lost_entries(&ctx, &dst0, &dst2, "after the clean rerun", &rerun, report);
}

fn lost_entries(
    ctx: &str,
    before: &[crate::common::Meta],
    after: &[crate::common::Meta],
    when: &str,
    run: &Run,
    report: &Report,
) {
    let a = by_path(after);
    let lost: Vec<String> = before
        .iter()
        .filter(|m| !a.contains_key(m.path.as_slice()))
        .map(|m| format!("{} ({})", show(&m.path), brief(Some(m))))
        .collect();
    if !lost.is_empty() {
        report.add(
            "a pre-existing destination entry was removed",
            &ctx,
            format!("gone {when}: {}; {}", lost.join(", "), run.summary()),
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn check_destination(
    ctx: &str,
    mode: &Mode,
    run: &Run,
    src: &[crate::common::Meta],
    dst0: &[crate::common::Meta],
    dst1: &[crate::common::Meta],
    report: &Report,
) {
    let s = by_path(src);
    let d0 = by_path(dst0);
    let ok = run.code == Some(0);
    let mut bad: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for m in dst1 {
        let p = m.path.as_slice();
        if is_temp(p) {
            if ok {
                bad.entry("exit 0 but a temporary was left")
                    .or_default()
                    .push(show(p));
            }
            continue;
        }
        let old = d0.get(p).copied();
        match s.get(p) {
            Some(sm) => {
                if same_data(sm, m) || (sm.kind == Kind::Dir && m.kind == Kind::Dir) {
                    continue;
                }
                if old.is_some_and(|o| same_data(o, m)) {
                    continue;
                }
                if mode.in_place && !ok && old.is_some_and(|o| o.kind == Kind::File) {
                    continue; // rewritten in place and failed: partial is allowed
                }
                bad.entry("wrong data under a final name")
                    .or_default()
                    .push(format!(
                        "{}: {} (source: {}, before the run: {})",
                        show(p),
                        brief(Some(m)),
                        brief(Some(sm)),
                        brief(old)
                    ));
            }
            None => match old {
                Some(o) if same_data(o, m) => {}
                Some(o) => bad
                    .entry("a destination entry not in the source was changed")
                    .or_default()
                    .push(format!(
                        "{}: was {}, now {}",
                        show(p),
                        brief(Some(o)),
                        brief(Some(m))
                    )),
                None => bad
                    .entry("an entry that is not in the source appeared")
                    .or_default()
                    .push(format!("{}: {}", show(p), brief(Some(m)))),
            },
        }
    }
    for (kind, items) in bad {
        report.add(
            kind,
            &ctx,
            format!("{}; {}", items.join("; "), run.summary()),
        );
    }
    lost_entries(ctx, dst0, dst1, "after the failing run", run, report);

    let incomplete = copy_differences(src, dst1, mode.archive);
    if ok && !incomplete.is_empty() {
        report.add(
            "exit 0 with an incomplete copy",
            &ctx,
            format!("{}; {}", incomplete.join("; "), run.summary()),
        );
    }
    if !ok && !run.died_in_loader() && run.crash().is_none() {
        if run.code != Some(1) {
            report.add(
                "unexpected exit status",
                &ctx,
                format!("want 1 (or 0); {}", run.summary()),
            );
        }
        if !names_path_and_operation(&run.stderr) && !run.stderr.contains("io_uring") {
            report.add(
                "failure without a message naming a path and an operation",
                &ctx,
                run.summary(),
            );
        }
    }
}

pub fn run_family() {
    if let Err(why) = strace_status() {
        skip(&format!("adversarial failing syscalls: {why}"));
        return;
    }
    let k = knobs();
    let all = all_cases(k.sweep);
    // Always: ENOSPC on the data path, and an error on the first write of
    // an existing copy, in every mode and engine the sample reaches.
    let must: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            c.nth == 1
                && c.errno == "EIO"
                && ["copy_file_range", "io_uring_enter"].contains(&c.syscall.as_str())
                && c.mode.old_dst
        })
        .map(|(i, _)| i)
        .collect();
    let cases = select("syscalls", all, &must, 120);
    let report = Report::new("failing syscalls");
    for c in &cases {
        check(c, &report);
    }
    report.finish();
}
