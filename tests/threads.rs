//! A thread that cannot be started (`EAGAIN` under a container's or a
//! service's pids limit), injected with strace at the Nth thread the run
//! starts: never a panic; either the copy completes (the walkers engine goes
//! on with fewer walkers) or it stops with `cannot start a thread` and exit
//! status 1, and every file it leaves holds its source's bytes.

mod common;

use common::*;
use std::path::Path;

/// A tree of two directories with 60 small files each.
fn tree(fx: &Fx) {
    for i in 0..60 {
        fx.file(
            format!("src/a/f{i:02}"),
            0o644,
            format!("a {i}\n").repeat(i + 1),
        );
        fx.file(
            format!("src/a/b/g{i:02}"),
            0o600,
            format!("b {i}\n").repeat(61 - i),
        );
    }
}

/// Every file under `dst` has the bytes of its twin under `src`.
fn no_wrong_bytes(src: &Path, dst: &Path, ctx: &str) -> usize {
    let mut files = 0;
    if !dst.exists() {
        return files; // stopped before it was made
    }
    for e in snapshot(dst) {
        let rel = os(&e.path);
        let (s, d) = (src.join(rel), dst.join(rel));
        if std::fs::symlink_metadata(&d).is_ok_and(|m| m.is_file()) {
            assert_eq!(
                std::fs::read(&d).ok(),
                std::fs::read(&s).ok(),
                "{ctx}: {} differs from its source",
                show(&e.path)
            );
            files += 1;
        }
    }
    files
}

#[test]
fn a_thread_that_cannot_start_never_panics_or_leaves_wrong_bytes() {
    if !have_strace() {
        return;
    }
    for engine in engines() {
        // The run starts a few threads (finisher, walker, workers or
        // walkers): fail from each of the first ones on.
        for nth in 1..=6 {
            let env = TestEnv::new();
            env.build(tree);
            let before = snapshot(&env.ours.p("src"));
            let mut args: Vec<String> = [
                "-f",
                "-qq",
                "-o",
                "/dev/null",
                "-e",
                "trace=clone,clone3",
                "-e",
            ]
            .map(String::from)
            .to_vec();
            args.push(format!("inject=clone,clone3:error=EAGAIN:when={nth}+"));
            args.push(BIN.into());
            args.extend(engine_args(engine).iter().map(|s| s.to_string()));
            args.extend(["-r", "src", "dst"].map(String::from));
            let out = run("strace", &args, &env.ours.root, &RunOpts::default());
            let ctx = format!("{engine}, threads fail from the {nth}th: {out}");
            let stderr = out.stderr_str();
            assert!(!stderr.contains("panicked"), "{ctx}");
            match out.code {
                Some(0) => assert_snapshots_eq(
                    &ctx,
                    &snapshot(&env.ours.p("dst")),
                    &before,
                    "copy",
                    "source",
                ),
                Some(1) => assert!(stderr.contains("cannot start a thread"), "{ctx}"),
                _ => panic!("{ctx}"),
            }
            no_wrong_bytes(&env.ours.p("src"), &env.ours.p("dst"), &ctx);
            assert_snapshots_eq(
                &ctx,
                &snapshot(&env.ours.p("src")),
                &before,
                "source after",
                "source before",
            );
        }
    }
}

/// The descriptor table is grown while the run has one thread: the kernel
/// grows a table that threads share only after an RCU grace period, a stall
/// of milliseconds each time a copy's open descriptors pass 64, 128, 256...
/// (`expand_fdtable`; `benches/RESULTS-cow.md`). Pinned here because nothing
/// else would notice the stalls coming back: the `F_DUPFD_CLOEXEC` that
/// grows it comes before the first thread, and the copy is whole.
#[test]
fn the_descriptor_table_is_grown_before_any_thread_starts() {
    if !have_strace() {
        return;
    }
    for engine in engines() {
        let env = TestEnv::new();
        env.build(tree);
        let log = env.ours.p("trace");
        let mut args: Vec<String> = ["-f", "-qq", "-e", "trace=fcntl,clone,clone3", "-o"]
            .map(String::from)
            .to_vec();
        args.push(log.display().to_string());
        args.push(BIN.into());
        args.extend(engine_args(engine).iter().map(|s| s.to_string()));
        args.extend(["-r", "src", "dst"].map(String::from));
        let out = run("strace", &args, &env.ours.root, &RunOpts::default());
        let ctx = format!("{engine}: {out}");
        assert_eq!(out.code, Some(0), "{ctx}");
        assert_snapshots_eq(
            &ctx,
            &snapshot(&env.ours.p("dst")),
            &snapshot(&env.ours.p("src")),
            "copy",
            "source",
        );
        let trace = std::fs::read_to_string(&log).expect("strace's log");
        // The run raises its soft limit to the hard one first.
        let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .maximum
            .unwrap_or(u64::MAX);
        let top = format!("F_DUPFD_CLOEXEC, {})", hard.min(8192) - 1);
        let grown = trace.lines().position(|l| l.contains(&top));
        let first_thread = trace.lines().position(|l| l.contains("clone"));
        assert!(
            grown.is_some() && first_thread.is_some() && grown < first_thread,
            "{ctx}: the table is not grown before the first thread:\n{trace}"
        );
    }
}
