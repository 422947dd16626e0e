//! Options added for drop-in compatibility with GNU cp (issue 13), each
//! compared with GNU cp on every engine: the same trees, exit status and
//! messages.

mod common;

use common::{Fx, RunOpts, case_opts, each_engine, engines};
use std::os::unix::fs::MetadataExt;

fn basic(fx: &Fx) {
    fx.file("a", 0o644, b"contents of a\n");
    fx.file("b", 0o644, b"contents of b\n");
    fx.dir("d", 0o755);
    fx.file("d/f", 0o644, b"d/f\n");
    fx.dir("e", 0o755);
}

/// `cp -nf c d` leaves d alone: -n wins over -f in either order.
#[test]
fn no_clobber_wins_over_force() {
    each_engine(
        "-n with -f",
        basic,
        &[&["-nf", "a", "b"], &["-fn", "a", "b"], &["-rnf", "d", "e"]],
    );
}

/// --remove-destination replaces an existing file by a new one (also one
/// that cannot be opened for writing), and abbreviations of long options work.
#[test]
fn remove_destination() {
    let build = |fx: &Fx| {
        basic(fx);
        fx.file("ro", 0o444, b"read-only\n");
        fx.symlink("loop", "loop");
    };
    each_engine(
        "--remove-destination",
        build,
        &[
            &["--remove-destination", "a", "b"],
            &["--rem", "a", "ro"],
            &["-r", "--remove-destination", "d", "e"],
            // A symlink loop as DEST is removed, not followed.
            &["--remove-destination", "a", "loop"],
        ],
    );
}

/// The last of a repeated option wins; --strip-trailing-slashes; -Z and
/// --context without SELinux.
#[test]
fn getopt_conventions_and_ignored_options() {
    each_engine(
        "conventions",
        basic,
        &[
            &["--reflink=always", "--reflink=auto", "a", "x"],
            &["--sparse=never", "--sparse=auto", "a", "x"],
            &["-r", "--strip-trailing-slashes", "d//", "x"],
            &["--strip-trailing-slashes", "a", "e/"],
            &["-Z", "a", "x"],
            &["--context=system_u:object_r:tmp_t:s0", "a", "x"],
        ],
    );
}

/// -x: a directory on another filesystem (a mount point) is copied as an
/// empty directory, as GNU cp does; its contents are not.
#[test]
fn one_file_system_stops_at_mount_points() {
    let tmp = tempfile::tempdir().unwrap();
    let src = Fx::new(tmp.path().join("src"));
    src.dir("", 0o755)
        .file("a", 0o644, "a\n")
        .dir("d", 0o755)
        .file("d/b", 0o644, "b\n");
    let mnt = match common::mount::Mount::tmpfs(&src.p("d/mnt"), "1m") {
        Ok(m) => m,
        Err(why) => {
            common::skip(&format!("-x: {why}"));
            return;
        }
    };
    std::fs::write(mnt.path.join("inside"), "on another filesystem\n").unwrap();
    let mut runs = vec![("gnu".to_string(), common::gnu_cp().to_string(), vec![])];
    for engine in engines() {
        let extra = vec!["--engine".to_string(), engine.to_string()];
        runs.push((engine.to_string(), common::BIN.to_string(), extra));
    }
    let mut trees = Vec::new();
    for (who, prog, extra) in &runs {
        let dst = tmp.path().join(format!("dst-{who}"));
        let out = std::process::Command::new(prog)
            .args(extra)
            .args(["-rx", "--one-file-system"])
            .arg(src.p(""))
            .arg(&dst)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{who}: {}",
            common::show(&out.stderr)
        );
        assert!(dst.join("d/mnt").is_dir(), "{who}: the mount point is made");
        assert!(
            !dst.join("d/mnt/inside").exists(),
            "{who}: crossed into the mount"
        );
        trees.push((who.clone(), common::snapshot(&dst)));
    }
    for (who, tree) in &trees[1..] {
        common::assert_snapshots_eq("-x", tree, &trees[0].1, who, "GNU cp");
    }
}

/// --copy-contents: with -r, a device is read as data (here /dev/null's
/// twin: an empty regular file), as cp does; without it, it is recreated.
#[test]
fn copy_contents_reads_devices() {
    if !common::is_root() {
        common::skip("--copy-contents: mknod needs root");
        return;
    }
    let build = |fx: &Fx| {
        basic(fx);
        fx.char_device("d/null", 0o666, 1, 3);
    };
    each_engine(
        "--copy-contents",
        build,
        &[&["-r", "--copy-contents", "d", "x"], &["-r", "d", "y"]],
    );
}

/// --attributes-only: new files are made empty, existing ones keep their
/// data; only the attributes asked for are copied.
#[test]
fn attributes_only_copies_no_data() {
    let build = |fx: &Fx| {
        basic(fx);
        fx.chmod("a", 0o640);
        fx.file("old", 0o600, b"the destination's own data\n");
        fx.symlink("sym", "a");
    };
    each_engine(
        "--attributes-only",
        build,
        &[
            &["--attributes-only", "a", "new"],
            &["--attributes-only", "--preserve=mode", "a", "old"],
            &["-r", "--attributes-only", "d", "x"],
            // A symlink is not put over a file: its data would go (exit 1).
            &["-a", "--attributes-only", "sym", "old"],
            &[
                "-a",
                "--remove-destination",
                "--attributes-only",
                "sym",
                "old",
            ],
        ],
    );
}

/// -a, -p, --preserve and --no-preserve apply in command-line order, as
/// cp's (GNU's preserve-mode.sh): the last word on an attribute wins.
#[test]
fn preserve_options_in_command_line_order() {
    let build = |fx: &Fx| {
        fx.file("a", 0o600, b"a\n");
        fx.dir("d", 0o705);
        fx.file("d/f", 0o640, b"f\n");
    };
    each_engine(
        "preserve order",
        build,
        &[
            &["--no-preserve=mode", "--preserve=all", "a", "x"],
            &["--preserve=all", "--no-preserve=mode", "a", "x"],
            &["--no-preserve=mode", "-p", "a", "x"],
            &["-p", "--no-preserve=mode", "a", "x"],
            &["--no-preserve=mode", "-a", "d", "x"],
            &["-a", "--no-preserve=mode", "d", "x"],
            &[
                "-r",
                "--no-preserve=mode,timestamps",
                "--preserve=mode",
                "d",
                "x",
            ],
        ],
    );
}

/// Fixture for -b, -l, -s and -i: existing destinations of several kinds.
fn existing(fx: &Fx) {
    basic(fx);
    fx.file("e/a", 0o644, b"old e/a\n");
    fx.file("e/b~", 0o644, b"old backup\n");
    fx.file("e/b", 0o600, b"old e/b\n");
    fx.file("e/b.~1~", 0o644, b"numbered 1\n");
    fx.file("e/b.~7~", 0o644, b"numbered 7\n");
    fx.dir("e/d", 0o755);
    fx.file("e/d/f", 0o644, b"old e/d/f\n");
    fx.symlink("e/l", "a");
    fx.symlink("sl", "a");
    fx.file("a~", 0o644, b"a's backup\n");
}

/// -b/--backup[=CONTROL] and -S/--suffix, with -v, into trees, onto
/// symlinks, the source's own backup name, and VERSION_CONTROL.
#[test]
fn backups() {
    each_engine(
        "backup",
        existing,
        &[
            &["-b", "a", "b", "e"],
            &["-v", "--backup=numbered", "a", "b", "e"],
            &["-v", "--backup=existing", "a", "b", "e"],
            &["--suffix=.s", "a", "e/a"],
            &["--backup=none", "a", "e/a"],
            &["--backup=nu", "a", "e/l"],
            &["-rb", "d", "e"],
            &["-avb", "d", "e"],
            &["-b", "sl", "e/a"],
            &["-db", "sl", "e/l"],
            // The source is the destination's simple backup: refused.
            &["--b=simple", "a~", "a"],
            // cp -f -b F F: F is copied to its backup name.
            &["-fb", "a", "a"],
            &["-b", "a", "a"],
            &["-v", "--backup=simple", "-S", ".old", "a", "e/a"],
            // The last CONTROL decides; a bare -b after it changes nothing.
            &["-v", "--backup=numbered", "-b", "a", "e/a"],
            &["-v", "-b", "--backup=numbered", "a", "e/a"],
            &["-v", "--backup=numbered", "--backup=simple", "a", "e/a"],
            &["-v", "--backup=simple", "--backup", "a", "e/b"],
        ],
    );
    let opts = RunOpts {
        env: vec![("VERSION_CONTROL".into(), "numbered".into())],
        ..RunOpts::default()
    };
    for engine in engines() {
        case_opts(
            "VERSION_CONTROL",
            engine,
            existing,
            &["-b", "a", "e"],
            &opts,
        );
        let opts = RunOpts {
            env: vec![("SIMPLE_BACKUP_SUFFIX".into(), ".bak".into())],
            ..RunOpts::default()
        };
        case_opts(
            "SIMPLE_BACKUP_SUFFIX",
            engine,
            existing,
            &["-b", "a", "e"],
            &opts,
        );
    }
}

/// GNU cp 9.1 puts a simple backup of a file copied into a directory in the
/// working directory (`cp --backup=simple a e` makes `./a~`, not `e/a~`; a
/// bug of 9.1, which numbered and `existing` backups do not have): backups
/// go beside the file they keep, deliberately unlike cp 9.1.
#[test]
fn simple_backups_stay_beside_their_file() {
    for engine in engines() {
        let env = common::TestEnv::new();
        env.build(existing);
        let out = env.run_ours(
            engine,
            &["-v", "--backup=simple", "-S", ".old", "a", "b", "e"],
            &RunOpts::default(),
        );
        assert_eq!(out.code, Some(0), "[{engine}] {out}");
        assert_eq!(
            out.stdout_str(),
            "'a' -> 'e/a' (backup: 'e/a.old')\n'b' -> 'e/b' (backup: 'e/b.old')\n",
            "[{engine}]"
        );
        let root = &env.ours.root;
        assert_eq!(std::fs::read(root.join("e/a.old")).unwrap(), b"old e/a\n");
        assert_eq!(std::fs::read(root.join("e/b.old")).unwrap(), b"old e/b\n");
        assert_eq!(std::fs::read(root.join("e/a")).unwrap(), b"contents of a\n");
        assert!(!root.join("a.old").exists() && !root.join("b.old").exists());
    }
}

/// -l/--link: hard links instead of copies; existing destinations need -f
/// (or -b, --remove-destination); -r follows symlinks unless -P/-a.
#[test]
fn hard_links() {
    let build = |fx: &Fx| {
        existing(fx);
        fx.symlink("d/tl", "f");
        fx.symlink("dangling", "nowhere");
    };
    each_engine(
        "link",
        build,
        &[
            &["-l", "a", "x"],
            &["-lv", "a", "b", "x"],
            &["-l", "a", "b", "e"],
            &["-lf", "a", "b", "e"],
            &["-lb", "a", "b", "e"],
            &["-l", "--remove-destination", "a", "e/a"],
            &["-rl", "d", "x"],
            &["-al", "d", "x"],
            &["-rlP", "d", "x"],
            &["-rlv", "d", "x"],
            &["-rl", "d", "e"],
            &["-rlf", "d", "e"],
            &["-l", "sl", "x"],
            &["-lP", "sl", "x"],
            &["--link", "--no-dereference", "dangling", "x"],
            &["-l", "dangling", "x"],
            &["-ln", "a", "e/a"],
            // Already the same file: nothing to do.
            &["-l", "a", "a"],
        ],
    );
}

/// -s/--symbolic-link: symlinks to the sources; relative ones only in the
/// current directory.
#[test]
fn symbolic_links() {
    each_engine(
        "symlink",
        existing,
        &[
            &["-s", "a", "x"],
            &["-sv", "a", "y"],
            &["-s", "a", "e/x"],
            &["-s", "a", "b", "e"],
            &["-sf", "a", "e/a"],
            &["-sb", "a", "e/a"],
            &["-rs", "d", "x"],
            &["-sfd", "a", "sl"],
        ],
    );
}

/// -i: asks on stderr, reads the answer from stdin; -i/-n: the last wins.
#[test]
fn interactive() {
    let cases: &[(&[&str], &str)] = &[
        (&["-i", "a", "b"], "y\n"),
        (&["-i", "a", "b"], "n\n"),
        (&["-i", "a", "b"], ""),
        (&["-vi", "a", "b", "e"], "Y\nn\n"),
        (&["-ri", "d", "e"], "yes\n"),
        (&["-rvi", "d", "e"], "n\n"),
        (&["-ni", "a", "b"], "y\n"),
        (&["-in", "a", "b"], "y\n"),
        (&["-fi", "a", "e/b"], "y\n"),
        (&["-bi", "a", "e/b"], "y\n"),
        (&["-li", "a", "e/a"], "y\n"),
        (&["-i", "a", "x"], ""),
        (&["-ui", "a", "e/a"], "y\n"),
    ];
    let mut failures = common::Failures::default();
    for engine in engines() {
        for (args, answers) in cases {
            let opts = RunOpts {
                stdin: Some(answers.as_bytes().to_vec()),
                ..RunOpts::default()
            };
            failures.check(|| {
                case_opts(
                    &format!("-i {args:?} <<< {answers:?}"),
                    engine,
                    existing,
                    args,
                    &opts,
                );
            });
        }
    }
    failures.finish();
}

/// --parents (and its abbreviation --parent): SOURCE's full name under
/// DIRECTORY, the missing directories on the way made with the source
/// directories' modes (0700, 0750, a read-only 0555 one), `-v` lines for
/// them, -p/-a giving every directory on the way its source's attributes,
/// existing directories on the way, a symlink on the way, and the refusals.
#[test]
fn parents() {
    let build = |fx: &Fx| {
        fx.file("a/b/c/foo", 0o644, b"foo\n");
        fx.file("a/b/bar", 0o600, b"bar\n");
        fx.file("ro/x/y", 0o644, b"y\n");
        fx.file("f", 0o644, b"f\n");
        fx.dir("D", 0o755);
        fx.dir("E/a", 0o711);
        fx.file("F/a", 0o644, b"not a directory\n");
        fx.symlink("sym", "a/b");
        fx.chmod("a", 0o700);
        fx.chmod("a/b", 0o750);
        fx.chmod("ro", 0o555);
        fx.stamp_all(7);
    };
    let with_attrs: &[&[&str]] = &[
        &["-p", "--parents", "a/b/c/foo", "D"],
        &["-a", "--parents", "-v", "a/b/c/foo", "a/b/bar", "D"],
        &["-rp", "--parents", "a/b", "D"],
        &["--preserve=mode", "--parents", "ro/x/y", "D"],
        &["-a", "--parents", "sym/c/foo", "D"],
    ];
    let mut sets: Vec<&[&str]> = vec![
        &["--parents", "a/b/c/foo", "D"],
        &["--parent", "-v", "a/b/c/foo", "D"],
        &["-r", "--parents", "-v", "a/b", "D"],
        &["-r", "--parents", "a/b/", "D"],
        &[
            "--parents",
            "-v",
            "a/b/c/foo",
            "a/b/bar",
            "ro/x/y",
            "f",
            "D",
        ],
        &["--parents", "-v", "./a//b/c/foo", "D/"],
        &["-t", "D", "--parents", "a/b/c/foo"],
        // E/a exists: kept as it is, unless -p.
        &["--parents", "-v", "a/b/c/foo", "E"],
        &["-p", "--parents", "a/b/c/foo", "E"],
        // A symlink on the way is followed: D/sym is a directory.
        &["--parents", "-v", "sym/c/foo", "D"],
        &["-r", "--parents", "sym/c", "D"],
        &["--no-preserve=mode", "--parents", "a/b/c/foo", "D"],
        // Refusals: a file on the way, in the source or the destination;
        // a missing source below a directory that is made anyway.
        &["--parents", "f/g", "D"],
        &["--parents", "a/b/c/foo", "F"],
        &["--parents", "a/nosuch", "D"],
        &["--parents", "a/b/c/foo", "a/b/bar", "f"],
    ];
    sets.extend_from_slice(with_attrs);
    each_engine("--parents", build, &sets);

    // With the attributes preserved, the directories on the way also get
    // the source's times and owner (compared before the trees are read,
    // which moves access times).
    for engine in engines() {
        for args in with_attrs {
            let ctx = format!("--parents: {args:?}, engine={engine}");
            let env = common::TestEnv::new();
            env.build(build);
            let (ours, gnu) = env.run_both(engine, args, &common::RunOpts::default());
            let top = ["D/ro", "D/sym"]
                .into_iter()
                .find(|t| args.iter().any(|a| a.starts_with(&t[2..])))
                .unwrap_or("D/a");
            let times = common::MetaOpts {
                times: !args.contains(&"--preserve=mode"),
            };
            if args.contains(&"a/b/bar") {
                // The second operand writes into D/a/b, which the first
                // made: cp sets the attributes of the directories on the
                // way after each operand and leaves D/a/b's modification
                // time at the time of that write; here they are set after
                // the whole copy, so D/a/b has its source's.
                let mtime = |p: std::path::PathBuf| {
                    let m = std::fs::symlink_metadata(&p).unwrap();
                    (m.mtime(), m.mtime_nsec())
                };
                assert_eq!(
                    mtime(env.ours.p("D/a/b")),
                    mtime(env.ours.p("a/b")),
                    "{ctx}"
                );
                common::assert_meta_eq(&ctx, &env.ours.p("D/a/b/c"), &env.gnu.p("D/a/b/c"), &times);
            } else {
                common::assert_meta_eq(&ctx, &env.ours.p(top), &env.gnu.p(top), &times);
            }
            common::compare_all(&ctx, &env, &ours, &gnu);
        }
    }

    // DEST not a directory: cp's usage error (exit status 1), nothing copied.
    for engine in engines() {
        for args in [
            &["--parents", "a/b/c/foo", "f"][..],
            &["--parents", "a/b/c/foo", "new"],
            &["--parents", "-T", "a/b/c/foo", "D"],
        ] {
            let env = common::TestEnv::new();
            env.build(build);
            let (ours, gnu) = env.run_both(engine, args, &common::RunOpts::default());
            let ctx = format!("--parents: {args:?}, engine={engine}");
            assert_eq!((ours.code, gnu.code), (Some(1), Some(1)), "{ctx}");
            let msg = "with --parents, the destination must be a directory";
            assert!(ours.stderr_str().contains(msg), "{ctx}: {ours}");
            assert!(gnu.stderr_str().contains(msg), "{ctx}: {gnu}");
            common::assert_snapshots_eq(
                &ctx,
                &env.ours.snapshot(),
                &env.gnu.snapshot(),
                "uring-cp",
                "GNU cp",
            );
        }
    }
}
