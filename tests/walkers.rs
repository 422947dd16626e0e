//! Walkers that take whole directories (`--engine walkers`, what `auto`
//! runs for a tree in the page cache) share the work of one directory: a
//! walker with nothing to do is lent entries of the directory another one
//! lists, and a large file among entries lent together goes on its own to a
//! walker that waits, so the large files of one directory are copied at once.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

/// Two large files (16 MiB and up is large) and a few small ones in one
/// directory, copied by two walkers under strace (`--seccomp-bpf`: only the
/// traced calls stop, so the threads' timing stays close to a run without
/// it): the two large copies are created by two different threads (the
/// walker listing the directory leaves both in the pool) in at least one of
/// three runs, and every copy equals its source.
#[test]
fn large_files_of_one_directory_are_copied_by_different_walkers() {
    if !has_command("strace") {
        skip("walkers sharing large files: strace is not installed (.ci/run installs it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let fx = Fx::new(&root);
    let mut rng = Rng(41);
    fx.dir("src", 0o755);
    for i in 0..2 {
        fx.file(
            format!("src/big{i}"),
            0o644,
            rng.bytes((40 << 20) + i * 4096),
        );
    }
    for i in 0..5 {
        fx.file(format!("src/small{i}"), 0o644, rng.bytes(100 + i));
    }
    let mut seen = Vec::new();
    for attempt in 0..3 {
        let dst = format!("dst{attempt}");
        let log = root.join(format!("strace{attempt}"));
        let out = Command::new("strace")
            .args(["-f", "-qq", "--seccomp-bpf", "-e", "trace=openat", "-o"])
            .arg(&log)
            .arg(BIN)
            .args(["--engine", "walkers", "-j", "2", "-r", "src", dst.as_str()])
            .current_dir(&root)
            .output()
            .unwrap();
        let ctx = format!("[attempt {attempt}]");
        assert!(out.status.success(), "{ctx} {out:?}");
        assert_snapshots_eq(
            &ctx,
            &snapshot(&root.join(&dst)),
            &snapshot(&root.join("src")),
            "copy",
            "source",
        );
        // The thread that created each large copy (`PID openat(DIR, "bigN", ...O_CREAT...)`).
        let text = fs::read_to_string(&log).unwrap();
        let creators: BTreeMap<&str, &str> = text
            .lines()
            .filter(|l| l.contains("O_CREAT"))
            .filter_map(|l| {
                let name = ["big0", "big1"]
                    .into_iter()
                    .find(|n| l.contains(&format!("\"{n}\"")))?;
                Some((name, l.split_whitespace().next()?))
            })
            .collect();
        assert_eq!(
            creators.len(),
            2,
            "{ctx} large copies created: {creators:?}\n{text}"
        );
        if creators["big0"] != creators["big1"] {
            return;
        }
        seen.push(format!("{ctx} {creators:?}"));
    }
    // (A loaded machine may leave the second walker unscheduled for a whole
    // copy now and then; the code that copied a large file where it was
    // found did it every time.)
    panic!("one walker created both large copies, one after the other, every time: {seen:?}");
}
