//! Many operands under a small descriptor limit: `cp -r dir/* dest/` names
//! thousands of sources in one directory, and `--files-from` lists thousands
//! of files in a few directories. Each operand used to hold its own open
//! parent directories until it was walked, so 17.9k operands ran out of
//! descriptors (`Too many open files`) where GNU cp copies them all. Here the
//! limit is lowered (`ulimit -n`, soft and hard, so the binary cannot raise
//! it) far below the number of operands, on every engine, and the outcome is
//! compared with GNU cp's and rsync's under the same limit.

mod common;

use common::*;
use std::path::Path;

/// Descriptors the runs may have: far fewer than the operands.
const LIMIT: u32 = 128;
/// File operands in one directory.
const FILES: usize = 1500;

/// `dir/` with FILES files and a few directories (each with a file inside).
fn many(fx: &Fx) {
    fx.dir("dir", 0o755);
    for i in 0..FILES {
        fx.file(format!("dir/f{i:04}"), 0o644, format!("file {i}\n"));
    }
    for i in 0..20 {
        fx.file(format!("dir/d{i:02}/inner"), 0o600, format!("inner {i}\n"));
    }
    fx.dir("dest", 0o755);
}

/// Run `program args...` with at most LIMIT descriptors.
fn limited(program: &str, args: &[String], cwd: &Path) -> Outcome {
    let mut all = vec![
        "-c".to_string(),
        format!("ulimit -n {LIMIT} && exec \"$0\" \"$@\""),
        program.to_string(),
    ];
    all.extend(args.iter().cloned());
    run("sh", &all, cwd, &RunOpts::default())
}

/// The operands as a shell glob would give them: `dir/d00 ... dir/f1499`.
fn operands(fx: &Fx) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fx.p("dir"))
        .expect("list dir")
        .map(|e| format!("dir/{}", e.expect("entry").file_name().to_string_lossy()))
        .collect();
    names.sort();
    names
}

#[test]
fn thousands_of_operands_in_one_directory_under_a_small_descriptor_limit() {
    for engine in engines() {
        let env = TestEnv::new();
        env.build(many);
        let mut args: Vec<String> = engine_args(engine).iter().map(|s| s.to_string()).collect();
        args.push("-r".into());
        args.extend(operands(&env.ours));
        args.push("dest/".into());
        let ours = limited(BIN, &args, &env.ours.root);
        let mut gnu_args = vec!["-r".to_string()];
        gnu_args.extend(operands(&env.gnu));
        gnu_args.push("dest/".into());
        let gnu = limited(gnu_cp(), &gnu_args, &env.gnu.root);
        assert_eq!(gnu.code, Some(0), "GNU cp under the limit: {gnu}");
        assert_eq!(ours.code, Some(0), "{engine}: {ours}");
        assert!(ours.stderr.is_empty(), "{engine}: {ours}");
        assert_snapshots_eq(
            engine,
            &snapshot(&env.ours.p("dest")),
            &snapshot(&env.gnu.p("dest")),
            "uring-cp",
            "cp",
        );
        assert_eq!(
            snapshot(&env.ours.p("dest")).len(),
            FILES + 2 * 20 + 1,
            "{engine}: every operand copied"
        );
    }
}

#[test]
fn files_from_with_thousands_of_files_under_a_small_descriptor_limit() {
    if std::process::Command::new("rsync")
        .arg("--version")
        .output()
        .is_err()
    {
        skip("rsync is not installed: no oracle for --files-from");
        return;
    }
    for engine in engines() {
        let env = TestEnv::new();
        let src = env.extra_root("src");
        let mut list = String::new();
        for d in 0..10 {
            for i in 0..200 {
                let rel = format!("d{d}/sub/f{i:03}");
                src.file(&rel, 0o644, format!("{rel}\n"));
                list.push_str(&rel);
                list.push('\n');
            }
        }
        let tmp = env.tmp.path();
        std::fs::write(tmp.join("list"), &list).expect("write list");
        for d in ["ours-dest", "rsync-dest"] {
            std::fs::create_dir(tmp.join(d)).expect("mkdir");
        }
        let mut args: Vec<String> = engine_args(engine).iter().map(|s| s.to_string()).collect();
        args.extend(["--files-from=list", "src", "ours-dest"].map(String::from));
        let ours = limited(BIN, &args, tmp);
        let theirs = limited(
            "rsync",
            &["-r", "--files-from=list", "src", "rsync-dest"].map(String::from),
            tmp,
        );
        assert_eq!(theirs.code, Some(0), "rsync under the limit: {theirs}");
        assert_eq!(ours.code, Some(0), "{engine}: {ours}");
        assert!(ours.stderr.is_empty(), "{engine}: {ours}");
        let ours_tree = snapshot(&tmp.join("ours-dest"));
        assert_snapshots_eq(
            engine,
            &ours_tree,
            &snapshot(&tmp.join("rsync-dest")),
            "uring-cp",
            "rsync",
        );
        assert_eq!(
            ours_tree.len(),
            1 + 10 * 2 + 2000,
            "{engine}: every file copied"
        );
    }
}

/// Into a directory this run did not make, a new file is created without
/// looking first (the look contends with the other workers' creates), and
/// once something was in the way there the copiers look first: copying
/// 300 files again over their copies tries to create only a few of them
/// before looking (at most one per worker), and overwrites every one in
/// place (same inode, new bytes).
#[test]
fn a_copy_over_existing_files_looks_first_after_the_first_collision() {
    if !have_strace() {
        return;
    }
    for engine in engines() {
        let env = TestEnv::new();
        for i in 0..300 {
            env.ours
                .file(format!("src/f{i:03}"), 0o644, format!("old {i}\n"));
        }
        env.ours.dir("dest", 0o755);
        let mut args: Vec<String> = engine_args(engine).iter().map(|s| s.to_string()).collect();
        args.extend(["-r", "src/.", "dest/"].map(String::from));
        let first = run(BIN, &args, &env.ours.root, &RunOpts::default());
        assert_eq!(first.code, Some(0), "{engine}: {first}");
        let inode = |i: usize| {
            std::os::unix::fs::MetadataExt::ino(
                &std::fs::metadata(env.ours.p(format!("dest/f{i:03}"))).expect("stat copy"),
            )
        };
        let before: Vec<u64> = (0..300).map(inode).collect();
        for i in 0..300 {
            env.ours
                .file(format!("src/f{i:03}"), 0o644, format!("new {i}\n"));
        }
        let trace = env.tmp.path().join("trace");
        let mut traced = vec![
            "-f".to_string(),
            "-qq".into(),
            "-e".into(),
            "trace=openat".into(),
            "-o".into(),
            trace.to_string_lossy().into_owned(),
            BIN.into(),
        ];
        traced.extend(args.iter().cloned());
        let again = run("strace", &traced, &env.ours.root, &RunOpts::default());
        assert_eq!(again.code, Some(0), "{engine}: {again}");
        let lines = std::fs::read_to_string(&trace).expect("read trace");
        let tried = lines
            .lines()
            .filter(|l| l.contains("O_EXCL") && l.contains("EEXIST"))
            .count();
        assert!(tried <= 8, "{engine}: {tried} creates of existing names");
        for (i, &ino) in before.iter().enumerate() {
            assert_eq!(
                env.ours.read(format!("dest/f{i:03}")),
                format!("new {i}\n").as_bytes()
            );
            assert_eq!(inode(i), ino, "{engine}: f{i:03} overwritten in place");
        }
    }
}
