//! A copy under an address-space limit (`ulimit -v`, as GNU's
//! tests/cp/link-heap.sh sets): it must fit, on every engine, with several
//! workers. glibc reserves 64 MiB of address space for each thread's own
//! malloc arena, never touched but counted by the limit; under a limit
//! every thread now shares one arena (`src/arena.rs`). Before, this copy
//! with `-j 8` aborted on three engines of four ("memory allocation of 32
//! bytes failed", exit 134) and took up to 400 MB of limit where it now
//! takes under 60 MB.

mod common;

use common::*;

/// The limit, in KiB: room for the debug binary's mappings and the rings
/// (each engine needs 38-59 MB here), a third of what the copy took before.
const LIMIT_KIB: u64 = 150_000;

#[test]
fn a_copy_with_eight_workers_fits_under_an_address_space_limit() {
    let env = TestEnv::new();
    // GNU's link-heap.sh tree: 10,000 files and 10,000 directories in one.
    let src = env.ours.p("src");
    std::fs::create_dir(&src).unwrap();
    for i in 0..10_000 {
        std::fs::write(src.join(format!("{i:031}")), b"").unwrap();
        std::fs::create_dir(src.join(format!("d{i:030}"))).unwrap();
    }
    let mut failures = Failures::default();
    for engine in engines() {
        failures.check(|| {
            let dst = format!("dst-{engine}");
            let mut args = vec![
                "-c".to_string(),
                format!("ulimit -v {LIMIT_KIB} && exec \"$0\" \"$@\""),
                BIN.to_string(),
            ];
            args.extend(engine_args(engine).iter().map(|s| s.to_string()));
            args.extend(["-j", "8", "-a", "src", &dst].map(String::from));
            let out = run("sh", &args, &env.ours.root, &RunOpts::default());
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
