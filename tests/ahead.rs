//! A destination on btrfs: the walkers make each directory when they list
//! its parent and take directories in the order found (`walk/ahead.rs`).
//! Made ahead or not, the copy is the one GNU cp makes, compared on the same
//! btrfs: modes (read-only, odd, sticky, set-id dropped, set-group-ID
//! inherited from the destination) under two umasks, `-a`; `cp -r d d/sub`
//! still writes nothing; and a wide tree with few descriptors (the walkers go depth-first again past half the budget).

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
        let mut args: Vec<&str> = flags.to_vec();
        args.extend(["--debug", "src", &ours]);
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
