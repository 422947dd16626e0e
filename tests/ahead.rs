//! A destination on btrfs: the walkers make each directory when they list
//! its parent and take directories in the order found (`walk/ahead.rs`).
//! Made ahead or not, the copy is the one GNU cp makes, compared on the same
//! btrfs: modes (read-only, odd, sticky, set-id dropped, set-group-ID
//! inherited from the destination) under two umasks, `-a`; not from another
//! filesystem (nothing is cloned there); `cp -r d d/sub`
//! still writes nothing; and a wide tree with few descriptors (the walkers go
//! depth-first again past half the budget). Faults injected with strace: a
//! source directory that cannot be read after its copy was made ahead (as GNU
//! cp, the copy stays, empty), and a directory whose copy cannot be made,
//! ahead or when taken (reported once, its contents left out, the rest
//! copied).

mod common;

use common::mount::LoopFs;
use common::*;
use std::path::Path;

fn build(fx: &Fx) {
    fx.dir(".", 0o755);
    for (name, mode) in [
        ("open", 0o755),
        ("private", 0o700),
        ("readonly", 0o555),
        ("odd", 0o311),
        ("sticky", 0o1777),
        ("setid", 0o6755),
        ("group", 0o2770),
    ] {
        fx.dir(format!("{name}/inner/deeper"), 0o750);
        fx.file(format!("{name}/f"), 0o644, name);
        fx.file(format!("{name}/inner/g"), 0o600, "g");
        fx.symlink(format!("{name}/inner/l"), "g");
        fx.chmod(format!("{name}/inner"), mode);
        fx.chmod(name, mode);
    }
    for i in 0..150 {
        fx.file(format!("wide/d{i}/sub{i}/f"), 0o644, format!("{i}"));
    }
}

/// Run `program args` in `cwd`, as `cp` would be run there.
fn run_in(program: &str, args: &[&str], cwd: &Path, umask: u32) -> Outcome {
    let opts = RunOpts {
        umask,
        ..RunOpts::default()
    };
    run(program, args, cwd, &opts)
}

#[test]
fn directories_made_ahead_on_btrfs_are_the_ones_cp_makes() {
    let mnt = match LoopFs::new("btrfs") {
        Ok(m) => m,
        Err(why) => return skip(&format!("directories made ahead: {why}")),
    };
    let root = mnt.path();
    build(&Fx::new(root.join("src")));
    // A destination directory with the set-group-ID bit: what is made in it
    // inherits the bit from it, made ahead or not.
    Fx::new(root.join("sgid")).dir(".", 0o2775);
    let cases: [(&str, &[&str], u32); 5] = [
        ("-r", &["-r"], 0o022),
        ("-r, umask 027", &["-r"], 0o027),
        ("-a", &["-a"], 0o022),
        ("--no-preserve=mode", &["-r", "--no-preserve=mode"], 0o022),
        ("-r into set-group-ID", &["-r"], 0o022),
    ];
    for (i, (what, flags, umask)) in cases.into_iter().enumerate() {
        let ctx = format!("[{what}]");
        let parent = match what.contains("set-group-ID") {
            true => "sgid/",
            false => "",
        };
        let ours = format!("{parent}ours{i}");
        let theirs = format!("{parent}theirs{i}");
        // Two walkers, as the default is one within btrfs
        // (`engine::workers`): made ahead for the other walker to take.
        let mut args: Vec<&str> = flags.to_vec();
        args.extend(["--debug", "-j", "2", "src", &ours]);
        let out = run_in(BIN, &args, root, umask);
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        assert!(
            out.stderr_str()
                .contains("the destination is on btrfs: directories are made as found"),
            "{ctx}: not made ahead: {out}"
        );
        let mut args: Vec<&str> = flags.to_vec();
        args.extend(["src", &theirs]);
        let gnu = run_in(gnu_cp(), &args, root, umask);
        assert_eq!(gnu.code, Some(0), "{ctx}: GNU cp: {gnu}");
        assert_snapshots_eq(
            &ctx,
            &snapshot(&root.join(&ours)),
            &snapshot(&root.join(&theirs)),
            "uring-cp",
            "GNU cp",
        );
    }

    // `cp -r d d/sub`: refused before anything is written (where GNU cp
    // copies d's contents and then refuses; README, "Differences"), and
    // nothing is made ahead either.
    let d = Fx::new(root.join("self"));
    d.dir(".", 0o755).file("a/f", 0o644, "f").dir("b", 0o755);
    let before = snapshot(&root.join("self"));
    let out = run_in(BIN, &["-r", "self", "self/sub"], root, 0o022);
    assert_eq!(out.code, Some(1), "[into itself]: {out}");
    assert!(
        out.stderr_str().contains("into itself"),
        "[into itself]: {out}"
    );
    assert_snapshots_eq(
        "[into itself]",
        &snapshot(&root.join("self")),
        &before,
        "after",
        "before",
    );

    // From another filesystem into btrfs the bytes are copied, not cloned,
    // and directories are made when taken (ahead measured slower there).
    let elsewhere = tempfile::tempdir().expect("a temporary directory");
    build(&Fx::new(elsewhere.path().join("src")));
    let from = elsewhere.path().join("src");
    let path = from.to_str().expect("a UTF-8 temporary path");
    let out = run_in(
        BIN,
        &[
            "-r",
            "--debug",
            "--engine",
            "walkers",
            path,
            "from-elsewhere",
        ],
        root,
        0o022,
    );
    assert_eq!(out.code, Some(0), "[from another filesystem]: {out}");
    assert!(
        !out.stderr_str().contains("directories are made as found"),
        "[from another filesystem]: made ahead: {out}"
    );
    let gnu = run_in(gnu_cp(), &["-r", path, "gnu-from-elsewhere"], root, 0o022);
    assert_eq!(gnu.code, Some(0), "[from another filesystem] GNU cp: {gnu}");
    assert_snapshots_eq(
        "[from another filesystem]",
        &snapshot(&root.join("from-elsewhere")),
        &snapshot(&root.join("gnu-from-elsewhere")),
        "uring-cp",
        "GNU cp",
    );

    // Few descriptors: 150 directories wait with their parents open.
    let out = run_in(
        "prlimit",
        &["--nofile=64", BIN, "-r", "src/wide", "wide-ours"],
        root,
        0o022,
    );
    assert_eq!(out.code, Some(0), "[64 descriptors]: {out}");
    assert_snapshots_eq(
        "[64 descriptors]",
        &snapshot(&root.join("wide-ours")),
        &snapshot(&root.join("src/wide")),
        "uring-cp",
        "source",
    );
}

/// Every entry of `root` but those under `left_out`.
fn without(root: &Path, left_out: &str) -> Vec<Entry> {
    snapshot(root)
        .into_iter()
        .filter(|e| {
            e.path != left_out.as_bytes() && !e.path.starts_with(format!("{left_out}/").as_bytes())
        })
        .collect()
}

#[test]
fn faults_around_directories_made_ahead_on_btrfs() {
    if !have_strace() {
        return;
    }
    let mnt = match LoopFs::new("btrfs") {
        Ok(m) => m,
        Err(why) => return skip(&format!("directories made ahead, faults: {why}")),
    };
    let root = mnt.path();
    let src = Fx::new(root.join("src"));
    src.dir(".", 0o755)
        .file("a/f", 0o644, "f")
        .file("a/x-dir/g", 0o644, "g")
        .file("a/x-dir/deeper/h", 0o644, "h")
        .file("b/i", 0o644, "i");
    let before = snapshot(&root.join("src"));

    // The source directory cannot be listed (getdents64 on its descriptor
    // fails; strace -P matches the descriptor's path for both tools): its
    // copy, made ahead when its parent was listed, stays empty, as GNU cp's
    // (made before it reads the source) does.
    let gone = root.join("src/a/x-dir");
    let inject = |out: &str, program: &str, extra: &[&str]| {
        let mut args: Vec<String> = ["-f", "-qq", "-o", "/dev/null", "-P"]
            .map(String::from)
            .to_vec();
        args.push(gone.to_string_lossy().into_owned());
        args.extend(["-e", "inject=getdents64:error=EIO", program].map(String::from));
        args.extend(extra.iter().map(|a| a.to_string()));
        args.extend(["-r", "src", out].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_in("strace", &args, root, 0o022)
    };
    let ours = inject("ours-eio", BIN, &["--debug", "-j", "2"]);
    let gnu = inject("gnu-eio", gnu_cp(), &[]);
    assert_eq!(ours.code, Some(1), "[unreadable source directory]: {ours}");
    assert_eq!(
        gnu.code,
        Some(1),
        "[unreadable source directory] GNU cp: {gnu}"
    );
    assert!(
        ours.stderr_str().contains("directories are made as found"),
        "[unreadable source directory]: not made ahead: {ours}"
    );
    assert!(
        ours.stderr_str()
            .contains("cannot read directory 'src/a/x-dir': Input/output error"),
        "[unreadable source directory]: {ours}"
    );
    assert_snapshots_eq(
        "[unreadable source directory]",
        &snapshot(&root.join("ours-eio")),
        &snapshot(&root.join("gnu-eio")),
        "uring-cp",
        "GNU cp",
    );

    // The copy of x-dir cannot be made (every mkdirat of that name fails:
    // ahead, then again when the directory is taken): one message naming
    // it, its contents left out, everything else copied, exit 1.
    let mut args: Vec<&str> = vec!["-f", "-qq", "-o", "/dev/null", "-P", "x-dir"];
    args.extend([
        "-e",
        "inject=mkdirat:error=EACCES",
        BIN,
        "-r",
        "src",
        "ours-eacces",
    ]);
    let out = run_in("strace", &args, root, 0o022);
    assert_eq!(out.code, Some(1), "[directory not made]: {out}");
    let err = out.stderr_str();
    assert_eq!(
        err.matches("cannot create directory 'ours-eacces/a/x-dir': Permission denied")
            .count(),
        1,
        "[directory not made]: {out}"
    );
    assert_eq!(err.lines().count(), 1, "[directory not made]: {out}");
    assert_snapshots_eq(
        "[directory not made]",
        &snapshot(&root.join("ours-eacces")),
        &without(&root.join("src"), "a/x-dir"),
        "uring-cp",
        "source without a/x-dir",
    );
    assert_snapshots_eq(
        "[source untouched]",
        &snapshot(&root.join("src")),
        &before,
        "after",
        "before",
    );
}
