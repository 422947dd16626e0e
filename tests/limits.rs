//! Copies under an address-space limit (`ulimit -v`, as GNU's
//! tests/cp/link-heap.sh sets): they must fit, on every engine, with several
//! workers, and within GNU's own bound. glibc reserves 64 MiB of address
//! space for each thread's own malloc arena and Rust 2 MiB for each thread's
//! stack, never touched but counted by the limit; under a limit every thread
//! shares one arena and gets a small stack (`src/addrspace.rs`). Before,
//! the copy with `-j 8` aborted on three engines of four ("memory allocation
//! of 32 bytes failed", exit 134) and took up to 400 MB of limit where it
//! now takes under 60 MB.

mod common;

use common::*;

/// The limit, in KiB: room for the debug binary's mappings and the rings
/// (each engine needs 38-59 MB here), a third of what the copy took before.
const LIMIT_KIB: u64 = 150_000;

#[test]
fn a_copy_with_eight_workers_fits_under_an_address_space_limit() {
    let env = TestEnv::new();
    let src = env.ours.p("src");
    link_heap_dir(&src, None);
    let mut failures = Failures::default();
    for engine in engines() {
        failures.check(|| {
            let dst = format!("dst-{engine}");
            let out = under_limit(&env, LIMIT_KIB, engine, &["-j", "8", "-a", "src", &dst]);
            let ctx = format!("[engine={engine}, ulimit -v {LIMIT_KIB}] {out}");
            assert_eq!(out.code, Some(0), "{ctx}");
            assert!(out.stderr.is_empty(), "{ctx}");
            assert_snapshots_eq(
                &ctx,
                &snapshot(&env.ours.p(&dst)),
                &snapshot(&src),
                "copy",
                "source",
            );
        });
    }
    failures.finish();
}

/// GNU's tests/cp/link-heap.sh, on every engine: `cp -al` of a directory
/// holding two directories of 10,000 files and 10,000 directories each (the
/// second's files hard links to the first's) must fit in the limit that
/// `cp -al` of one empty file needs plus 4,000 KiB, that limit found as the
/// test's `get_min_ulimit_v_` finds it ([`one_file_limit`], plus a page). Two walkers listing the two directories at once
/// took ~8.5 MB more than one file did (their 10,000 directories to visit
/// at 112 bytes each, in two growing stacks and the pool, and a 2 MiB
/// thread stack); the io_uring engine set up rings it would never read
/// through (~6 MB more).
#[test]
fn link_heap_sh_fits_in_one_file_s_limit_plus_4_mb_on_every_engine() {
    let (env, e) = link_heap_env();
    let mut failures = Failures::default();
    for engine in engines() {
        failures.check(|| {
            let vm = one_file_limit(&env, engine);
            let limit = vm + 4 + 4_000;
            let dst = format!("f-{engine}");
            let out = under_limit(&env, limit, engine, &["-al", "e", &dst]);
            let ctx =
                format!("[engine={engine}, one file fits in {vm} KiB, ulimit -v {limit}] {out}");
            assert_eq!(out.code, Some(0), "{ctx}");
            assert!(out.stderr.is_empty(), "{ctx}");
            for side in ["a", "b"] {
                let copy = env.ours.p(&dst).join(side);
                assert_eq!(
                    std::fs::read_dir(&copy).unwrap().count(),
                    20_000,
                    "{ctx}: {side}"
                );
                for i in (0..10_000).step_by(997) {
                    let name = format!("{i:031}");
                    assert_eq!(
                        ino(&copy.join(&name)),
                        ino(&e.join(side).join(&name)),
                        "{ctx}: {side}/{name} is not a hard link to its source"
                    );
                }
            }
        });
    }
    failures.finish();
}

/// Between the limit one file's copy needs and the one a tree's copy needs,
/// every engine either copies the whole tree or stops with a message and
/// exit status 1, as GNU cp does ("memory exhausted"); never an abort. Rust
/// aborts when an allocation fails ("memory allocation of 32 bytes failed",
/// SIGABRT, exit 134): every engine did in a band of limits up to ~4 MB
/// wide (`src/exhausted.rs` now exits instead), and the all-in-ring engine
/// aborted across ~8 MB while its rings fitted and the copy did not (a ring
/// is now set up only with 16 MiB to spare: `addrspace::room_for_ring`).
#[test]
fn under_any_limit_a_copy_completes_or_fails_with_a_message_on_every_engine() {
    let (env, _) = link_heap_env();
    let mut failures = Failures::default();
    for engine in engines() {
        failures.check(|| {
            let vm = one_file_limit(&env, engine);
            let mut exhausted = 0;
            let mut limit = vm;
            loop {
                let dst = format!("t-{engine}-{limit}");
                let out = under_limit(&env, limit, engine, &["-al", "e", &dst]);
                let ctx = format!("[engine={engine}, one file fits in {vm} KiB, ulimit -v {limit}] {out}");
                if out.code == Some(0) {
                    assert!(out.stderr.is_empty(), "{ctx}");
                    assert_eq!(std::fs::read_dir(env.ours.p(&dst).join("b")).unwrap().count(), 20_000, "{ctx}");
                    break;
                }
                assert_eq!(out.code, Some(1), "{ctx}: neither a copy nor a clean failure");
                let stderr = out.stderr_str();
                // (A walker that could not start is said first, and the copy
                // goes on with fewer: `cannot start another walker`.)
                let said = |what: &str| stderr.lines().any(|l| l.starts_with(what));
                assert!(
                    said("uring-cp: memory exhausted (an allocation of ")
                        || said("uring-cp: cannot start a thread"),
                    "{ctx}: no message saying what ran out"
                );
                exhausted += usize::from(said("uring-cp: memory exhausted"));
                limit += 1_000;
                assert!(limit <= vm + 30_000, "{ctx}: still failing 30 MB over one file's limit");
            }
            eprintln!("[engine={engine}] one file {vm} KiB, the tree {limit} KiB, {exhausted} limits between said memory was exhausted");
        });
    }
    failures.finish();
}

/// The smallest `ulimit -v` under which `cp -al f f2` works, found as GNU's
/// link-heap.sh's `get_min_ulimit_v_` finds it: the first of 5,000, 10,000,
/// ... KiB that works, then down by 1,000 while it works; the last that
/// worked.
fn one_file_limit(env: &TestEnv, engine: &str) -> u64 {
    let one_file = |limit: u64| {
        let _ = std::fs::remove_file(env.ours.p("f2"));
        under_limit(env, limit, engine, &["-al", "f", "f2"]).code == Some(0)
    };
    let up = (5_000..=200_000)
        .step_by(5_000)
        .find(|&v| one_file(v))
        .unwrap_or_else(|| {
            panic!("[engine={engine}] `-al f f2` fails under every limit up to 200,000 KiB")
        });
    let mut vm = up;
    while vm > 1_000 && one_file(vm - 1_000) {
        vm -= 1_000;
    }
    vm
}

/// link-heap.sh's files: `e` holding two of its directories (`a`, and `b`
/// whose files are hard links to `a`'s) and an empty file `f`. Returns the
/// environment and `e`.
fn link_heap_env() -> (TestEnv, std::path::PathBuf) {
    let env = TestEnv::new();
    let e = env.ours.p("e");
    std::fs::create_dir(&e).unwrap();
    link_heap_dir(&e.join("a"), None);
    link_heap_dir(&e.join("b"), Some(&e.join("a")));
    std::fs::write(env.ours.p("f"), b"").unwrap();
    (env, e)
}

/// link-heap.sh's directory: 10,000 empty files and 10,000 directories, the
/// files hard links to those of `linked_to` when given.
fn link_heap_dir(dir: &std::path::Path, linked_to: Option<&std::path::Path>) {
    std::fs::create_dir(dir).unwrap();
    for i in 0..10_000 {
        let name = format!("{i:031}");
        match linked_to {
            Some(other) => std::fs::hard_link(other.join(&name), dir.join(&name)).unwrap(),
            None => std::fs::write(dir.join(&name), b"").unwrap(),
        }
        std::fs::create_dir(dir.join(format!("d{i:030}"))).unwrap();
    }
}

fn ino(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).unwrap().ino()
}

/// Run the binary with `args` on `engine` in the test's directory, under
/// `ulimit -v limit_kib`.
fn under_limit(env: &TestEnv, limit_kib: u64, engine: &str, args: &[&str]) -> Outcome {
    let mut sh = vec![
        "-c".to_string(),
        format!("ulimit -v {limit_kib} && exec \"$0\" \"$@\""),
        BIN.to_string(),
    ];
    sh.extend(engine_args(engine).iter().map(|s| s.to_string()));
    sh.extend(args.iter().map(|s| s.to_string()));
    run("sh", &sh, &env.ours.root, &RunOpts::default())
}
