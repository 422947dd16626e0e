//! Running rsync beside uring-cp in sync-mode tests.

use super::*;
use std::path::Path;
use std::process::Command;

/// `rsync ARGS` in `cwd`, which must succeed.
pub fn rsync(args: &[&str], cwd: &Path) {
    let out = Command::new("rsync")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("rsync");
    assert!(
        out.status.success(),
        "rsync {args:?}: {}",
        show(&out.stderr)
    );
}

/// `uring-cp -a --sync OPTIONS -T src dst` in `t`, on `engine`.
pub fn sync_src_to_dst(engine: &str, t: &Path, options: &[&str]) -> Outcome {
    let mut flags = vec!["-a", "--sync"];
    flags.extend_from_slice(options);
    run_uring_cp(
        engine,
        &flags,
        &["-T", "src", "dst"],
        t,
        &RunOpts::default(),
    )
}

/// `rsync -a OPTIONS src/ want/` and `uring-cp -a --sync OPTIONS -T src dst`
/// (each destination prepared by `prepare` first) give equal trees.
pub fn compare(ctx: &str, engine: &str, t: &Path, options: &[&str], prepare: &dyn Fn(&Path)) {
    let _ = std::fs::remove_dir_all(t.join("want"));
    let _ = std::fs::remove_dir_all(t.join("dst"));
    prepare(&t.join("want"));
    prepare(&t.join("dst"));
    let mut r = vec!["-a"];
    r.extend_from_slice(options);
    r.extend(["src/", "want/"]);
    rsync(&r, t);
    let out = sync_src_to_dst(engine, t, options);
    assert_eq!(out.code, Some(0), "{ctx}: {out}");
    assert_snapshots_eq(
        ctx,
        &snapshot(&t.join("dst")),
        &snapshot(&t.join("want")),
        "uring-cp",
        "rsync",
    );
}
