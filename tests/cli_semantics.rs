//! GNU `cp` path semantics: every case runs `uring-cp` (for every available
//! engine) and GNU `cp` on identical inputs in sibling directories and compares
//! the resulting trees, exit statuses, messages (prefix `uring-cp: ` vs `cp: `)
//! and `-v` output. Nothing about GNU cp's behaviour is hard-coded except where
//! a comment says so.

mod common;

use common::*;
use std::fs::{self, File};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::time::Duration;

/// Standard small fixture used by many cases:
/// a (0644), b (0644), d/{f, sub/g, sub/deeper/h}, e/ (empty dir), f2 (file)
fn basic(fx: &Fx) {
    fx.file("a", 0o644, b"contents of a\n");
    fx.file("b", 0o644, b"contents of b\n");
    fx.dir("d", 0o755);
    fx.file("d/f", 0o644, b"d/f\n");
    fx.file("d/sub/g", 0o600, b"d/sub/g\n");
    fx.file("d/sub/deeper/h", 0o755, b"#!/bin/sh\necho h\n");
    fx.dir("e", 0o755);
    fx.file("f2", 0o644, b"plain file f2\n");
}

// ---------------------------------------------------------------------------
// Basic file/dir destinations
// ---------------------------------------------------------------------------

#[test]
fn file_to_new_file() {
    each_engine(
        "file to new file",
        basic,
        &[&["a", "new"], &["d/sub/g", "g-copy"]],
    );
}

#[test]
fn empty_and_larger_files_to_new_files() {
    let build = |fx: &Fx| {
        fx.file("empty", 0o644, b"");
        let mut rng = Rng(7);
        fx.file("big", 0o644, rng.bytes(300_001));
    };
    each_engine(
        "empty/larger files",
        build,
        &[&["empty", "e2"], &["big", "big2"]],
    );
}

#[test]
fn file_over_existing_file_keeps_inode_and_mode() {
    let build = |fx: &Fx| {
        fx.file("src", 0o755, b"new content, longer than the old one\n");
        fx.file("dst", 0o600, b"old\n");
        fx.file(
            "long",
            0o600,
            b"an old file much longer than the new content, must be truncated\n",
        );
    };
    let mut failures = Failures::default();
    for engine in engines() {
        for target in ["dst", "long"] {
            failures.check(|| {
                let env = TestEnv::new();
                env.build(build);
                // Hold the old inodes open so a replaced file can't reuse the number.
                let held_ours = File::open(env.ours.p(target)).unwrap();
                let held_gnu = File::open(env.gnu.p(target)).unwrap();
                let (ours, gnu) = env.run_both(engine, &["src", target], &RunOpts::default());
                let ctx = format!("[file over existing {target}, engine={engine}]");
                compare_all(&ctx, &env, &ours, &gnu);
                let gnu_kept = env.gnu.lstat(target).ino() == held_gnu.metadata().unwrap().ino();
                let ours_kept = env.ours.lstat(target).ino() == held_ours.metadata().unwrap().ino();
                assert!(
                    gnu_kept,
                    "{ctx}: fixture assumption: GNU cp keeps the destination inode"
                );
                assert_eq!(
                    ours_kept, gnu_kept,
                    "{ctx}: destination inode kept by uring-cp? {ours_kept}, by GNU cp? {gnu_kept}"
                );
            });
        }
    }
    failures.finish();
}

#[test]
fn file_into_existing_dir() {
    each_engine(
        "file into dir",
        basic,
        &[&["a", "d"], &["a", "e"], &["d/f", "e"]],
    );
}

#[test]
fn several_sources_into_dir() {
    each_engine(
        "several sources into dir",
        basic,
        &[
            &["a", "b", "e"],
            &["-r", "a", "d", "b", "e"],
            &["a", "d/f", "d/sub/g", "e"],
        ],
    );
}

#[test]
fn several_sources_into_non_dir() {
    // target is a regular file / does not exist / is a symlink to a file
    let build = |fx: &Fx| {
        basic(fx);
        fx.symlink("lnk", "f2");
    };
    each_engine(
        "several sources into non-dir",
        build,
        &[
            &["a", "b", "f2"],
            &["-r", "a", "d", "f2"],
            &["a", "b", "nosuch"],
            &["a", "b", "lnk"],
        ],
    );
}

#[test]
fn dir_without_r_is_omitted_and_others_copied() {
    each_engine(
        "dir without -r",
        basic,
        &[
            &["d", "x"],
            &["a", "d", "b", "e"],
            &["d", "e"],
            &["-v", "a", "d", "e"],
        ],
    );
}

#[test]
fn dir_to_new_name() {
    each_engine(
        "dir to new name",
        basic,
        &[
            &["-r", "d", "new"],
            &["-R", "d", "new"],
            &["--recursive", "d/sub", "n2"],
        ],
    );
}

#[test]
fn dir_into_existing_dir() {
    let build = |fx: &Fx| {
        basic(fx);
        // a previous partial copy: merge, overwrite files, keep extra ones
        fx.file("e/d/f", 0o600, b"stale\n");
        fx.file("e/d/extra", 0o644, b"extra file kept\n");
        fx.dir("e/d/sub", 0o700);
    };
    each_engine(
        "dir into existing dir",
        build,
        &[&["-r", "d", "e"], &["-r", "d", "d/sub", "e"]],
    );
}

#[test]
fn no_target_directory_t_capital() {
    let build = |fx: &Fx| {
        basic(fx);
        fx.file("e/old", 0o644, b"old\n");
    };
    each_engine(
        "-T",
        build,
        &[
            &["-rT", "d", "e"],        // merge d's contents into e
            &["-r", "-T", "d", "new"], // plain rename-copy
            &["-T", "a", "b"],         // file over file
            &["-T", "a", "e"],         // cannot overwrite directory with non-directory
            &["-rT", "d", "f2"],       // cannot overwrite non-directory with directory
            &["--no-target-directory", "a", "newfile"],
        ],
    );
}

#[test]
fn target_directory_t() {
    each_engine(
        "-t",
        basic,
        &[
            &["-t", "e", "a", "b"],
            &["-r", "-t", "e", "d", "a"],
            &["--target-directory=e", "a"],
            &["--target-directory", "e", "-r", "d"],
            &["-t", "e", "a", "nosuch", "b"],
        ],
    );
}

#[test]
fn target_directory_t_errors() {
    // `-t` naming a missing dir or a file: exit status / tree / message compared
    // (the message is not one of the contract's, so only the quoted name must match).
    each_engine(
        "-t errors",
        basic,
        &[&["-t", "nosuch", "a"], &["-t", "a", "b"]],
    );
}

#[test]
fn dot_source_into_existing_and_new_dest() {
    let build = |fx: &Fx| {
        basic(fx);
        fx.file("e/pre", 0o644, b"pre-existing\n");
    };
    each_engine(
        "src/.",
        build,
        &[
            &["-r", "d/.", "e"],
            &["-r", "d/.", "new"],
            &["-r", "d/sub/.", "e"],
            &["-rT", "d/.", "e"],
        ],
    );
}

#[test]
fn trailing_slashes() {
    each_engine(
        "trailing slashes",
        basic,
        &[
            &["-r", "d/", "new/"],
            &["-r", "d/", "e/"],
            &["-r", "d//", "e//"],
            &["-r", "d", "e/"],
            &["a", "e/"],
            &["a", "d/sub/"],
            &["a/", "x"], // file with trailing slash: error
            &["-r", "d/", "new"],
        ],
    );
}

#[test]
fn nonexistent_dest_with_trailing_slash() {
    each_engine(
        "DEST/ does not exist",
        basic,
        &[
            &["a", "nodir/"],
            &["-r", "d", "nodir/"],
            &["-r", "d/", "nodir/"],
            &["a", "f2/"],
        ],
    );
}

#[test]
fn nonexistent_source_among_good_ones() {
    each_engine(
        "nonexistent source",
        basic,
        &[
            &["nosuch", "x"],
            &["a", "nosuch", "b", "e"],
            &["-r", "a", "nosuch", "d", "nosuch2", "e"],
            &["-r", "nosuch/", "e"],
        ],
    );
}

// ---------------------------------------------------------------------------
// Same file / into itself
// ---------------------------------------------------------------------------

#[test]
fn file_onto_itself_same_path() {
    each_engine(
        "same path",
        basic,
        &[
            &["a", "a"],
            &["d/f", "d/f"],
            &["d/f", "d"],
            &["-r", "a", "."],
            &["./a", "a"],
        ],
    );
}

#[test]
fn file_onto_itself_through_hard_link() {
    let build = |fx: &Fx| {
        basic(fx);
        fx.hardlink("a", "hl");
    };
    each_engine(
        "same file via hard link",
        build,
        &[&["a", "hl"], &["hl", "a"], &["-f", "a", "hl"]],
    );
}

#[test]
fn file_onto_itself_through_symlink() {
    let build = |fx: &Fx| {
        basic(fx);
        fx.symlink("sl", "a");
        fx.symlink("e/up", "../a");
    };
    each_engine(
        "same file via symlink",
        build,
        &[
            &["a", "sl"],
            &["sl", "a"],
            &["-f", "a", "sl"],
            &["a", "e/up"],
            &["-r", "sl", "a"],
        ],
    );
}

/// Copying a directory into itself: exit status and message must match GNU
/// cp. GNU cp 9.1 copies a good part of the tree before detecting the loop
/// (e.g. `cp -r d d` leaves a full `d/d/...` minus the recursion; what exactly
/// depends on readdir order) and then abandons that operand. uring-cp may
/// reproduce that, or detect the loop up front and copy nothing for that
/// operand. So the tree must equal GNU's, or the tree GNU cp produces when the
/// offending operand is left out of the command line (or the untouched input
/// if it was the only source).
#[test]
fn dir_into_itself_and_own_subtree() {
    // (args, index of the operand that is copied into itself)
    let cases: &[(&[&str], usize)] = &[
        (&["-r", "d", "d"], 1),
        (&["-r", "d", "d/sub"], 1),
        (&["-r", "d", "d/sub/deeper"], 1),
        (&["-r", "d/.", "d/sub"], 1),
        (&["-r", "a", "d", "d/sub"], 2),
        (&["-r", "d", "a", "d/sub/"], 1),
    ];
    let mut failures = Failures::default();
    for engine in engines() {
        for (args, bad) in cases {
            failures.check(|| {
            let ctx = format!("[dir into itself {args:?}, engine={engine}]");
            let env = TestEnv::new();
            env.build(basic);
            let (ours, gnu) = env.run_both(engine, args, &RunOpts::default());
            compare_outcomes(&ctx, &ours, &gnu);
            let so = env.ours.snapshot();
            let sg = env.gnu.snapshot();
            if diff_snapshots(&so, &sg, "a", "b").is_empty() {
                return;
            }
            let alt = env.extra_root("alt");
            basic(&alt);
            let alt_args: Vec<&str> = args
                .iter()
                .enumerate()
                .filter(|(i, _)| i != bad)
                .map(|(_, a)| *a)
                .collect();
            if alt_args.iter().filter(|a| !a.starts_with('-')).count() >= 2 {
                let out = run_gnu_cp(&alt_args, &alt.root, &RunOpts::default());
                assert_eq!(out.code, Some(0), "{ctx}: fixture: {out}");
            }
            assert_snapshots_eq(
                &format!(
                    "{ctx} (tree is neither GNU's partial copy nor GNU's result without that operand)"
                ),
                &so,
                &alt.snapshot(),
                "uring-cp",
                "expected",
            );
            notice(&format!(
                "NOTE {ctx}: uring-cp copied nothing into itself; GNU cp creates a partial copy"
            ));
            });
        }
    }
    failures.finish();
}

// ---------------------------------------------------------------------------
// Overwriting dirs with files and vice versa
// ---------------------------------------------------------------------------

#[test]
fn overwrite_dir_with_file_and_file_with_dir() {
    each_engine(
        "dir/file clashes",
        basic,
        &[
            &["-T", "a", "d"],  // cannot overwrite directory 'd' with non-directory
            &["-r", "d", "f2"], // cannot overwrite non-directory 'f2' with directory 'd'
            &["-rT", "d", "a"],
            &["-r", "d", "a", "e"], // fine: into dir
        ],
    );
}

#[test]
fn overwrite_clashes_inside_tree_merge() {
    let build = |fx: &Fx| {
        basic(fx);
        // m/d exists; m/d/f is a directory where d/f is a file, and m/d/sub is a
        // file where d/sub is a directory. Other entries must still be merged.
        fx.dir("m/d/f", 0o755);
        fx.file("m/d/f/inner", 0o644, b"inner\n");
        fx.file("m/d/sub", 0o644, b"i am a file\n");
        fx.file("m/d/other", 0o644, b"other\n");
        fx.file("d/zzz", 0o644, b"copied despite earlier errors\n");
    };
    each_engine(
        "clashes in merge",
        build,
        &[&["-r", "d", "m"], &["-rv", "d", "m"]],
    );
}

// ---------------------------------------------------------------------------
// -n / -f
// ---------------------------------------------------------------------------

#[test]
fn no_clobber_leaves_existing_files() {
    let build = |fx: &Fx| {
        basic(fx);
        fx.file("m/d/f", 0o600, b"OLD f\n");
        fx.file("m/d/sub/deeper/h", 0o644, b"OLD h\n");
    };
    let mut failures = Failures::default();
    for engine in engines() {
        for args in [
            &["-n", "a", "b"][..],
            &["--no-clobber", "a", "b", "e"],
            &["-rn", "d", "m"],
            &["-rnv", "d", "m"],
            &["-n", "-v", "a", "b"],
        ] {
            failures.check(|| {
                let (env, _, _) = case(&format!("-n {args:?}"), engine, build, args);
                assert_eq!(
                    env.ours.read("b"),
                    b"contents of b\n",
                    "[-n {args:?}, {engine}] b was clobbered"
                );
                assert_eq!(
                    env.ours.read("m/d/f"),
                    b"OLD f\n",
                    "[-n {args:?}, {engine}] m/d/f was clobbered"
                );
                assert_eq!(env.ours.read("m/d/sub/deeper/h"), b"OLD h\n");
            });
        }
    }
    failures.finish();
}

#[test]
fn force_over_read_only_file() {
    // As root the read-only destination is simply opened and truncated (inode
    // kept); as a normal user cp -f unlinks and recreates it. Either way the
    // "inode kept" result must match GNU cp's.
    let build = |fx: &Fx| {
        fx.file("a", 0o644, b"new contents\n");
        fx.file("ro", 0o444, b"read-only old\n");
        fx.file("ro2", 0o444, b"read-only old 2\n");
    };
    let mut failures = Failures::default();
    for engine in engines() {
        for args in [
            &["-f", "a", "ro"][..],
            &["--force", "a", "ro"],
            &["a", "ro2"],
        ] {
            failures.check(|| {
                force_case(engine, build, args, &RunOpts::default(), false);
            });
        }
    }
    failures.finish();
}

#[test]
fn force_over_read_only_file_unprivileged() {
    if let Err(why) = can_drop_privileges()
        && is_root()
    {
        skip(&format!("force_over_read_only_file_unprivileged: {why}"));
        return;
    }
    let build = |fx: &Fx| {
        fx.file("a", 0o644, b"new contents\n");
        fx.file("ro", 0o444, b"read-only old\n");
    };
    let opts = RunOpts {
        as_nobody: is_root(),
        ..RunOpts::default()
    };
    let mut failures = Failures::default();
    for engine in engines() {
        failures.check(|| {
            // with -f: replaced; without: "cannot create regular file" + exit 1
            force_case(engine, build, &["-f", "a", "ro"], &opts, true);
            force_case(engine, build, &["a", "ro"], &opts, true);
        });
    }
    failures.finish();
}

fn force_case(engine: &str, build: impl Fn(&Fx), args: &[&str], opts: &RunOpts, chown: bool) {
    let env = TestEnv::new();
    env.build(&build);
    if chown && opts.as_nobody {
        env.ours.chown_nobody();
        env.gnu.chown_nobody();
    }
    let target = args.last().unwrap();
    let held_ours = File::open(env.ours.p(target)).unwrap();
    let held_gnu = File::open(env.gnu.p(target)).unwrap();
    let (ours, gnu) = env.run_both(engine, args, opts);
    let ctx = format!("[{args:?} as_nobody={}, engine={engine}]", opts.as_nobody);
    compare_all(&ctx, &env, &ours, &gnu);
    let gnu_kept = env.gnu.lstat(target).ino() == held_gnu.metadata().unwrap().ino();
    let ours_kept = env.ours.lstat(target).ino() == held_ours.metadata().unwrap().ino();
    assert_eq!(
        ours_kept, gnu_kept,
        "{ctx}: destination inode kept: uring-cp {ours_kept}, GNU cp {gnu_kept}"
    );
}

// ---------------------------------------------------------------------------
// -v
// ---------------------------------------------------------------------------

#[test]
fn verbose_output_matches_cp() {
    let build = |fx: &Fx| {
        basic(fx);
        fx.file("m/d/f", 0o644, b"old\n");
        fx.symlink("d/link", "f");
    };
    each_engine(
        "-v",
        build,
        &[
            &["-v", "a", "b"],
            &["-v", "a", "new"],
            &["-v", "a", "b", "e"],
            &["-rv", "d", "new"],
            &["-rv", "d", "m"],
            &["--verbose", "-r", "d/.", "e"],
            &["-rv", "-t", "e", "a", "d"],
            &["-v", "a", "nosuch", "e"],
        ],
    );
}

#[test]
fn verbose_output_with_odd_names() {
    let build = |fx: &Fx| {
        fx.dir("d", 0o755);
        fx.file("d/sp ace", 0o644, b"1");
        fx.file(b"d/nl\nx", 0o644, b"2");
        fx.file(b"d/bad\xff\xfe", 0o644, b"3");
        fx.file("d/it's", 0o644, b"4");
        fx.file("d/-dash", 0o644, b"5");
        fx.file("d/tab\tx", 0o644, b"6");
        fx.file("d/\u{e9}t\u{e9}", 0o644, b"7");
        fx.file("d/q\"uote", 0o644, b"8");
        fx.file("d/back\\slash", 0o644, b"9");
        fx.file(b"d/ctl\x01\x7f", 0o644, b"10");
    };
    let mut failures = Failures::default();
    for engine in engines() {
        failures.check(|| {
            case("-v odd names", engine, build, &["-rv", "d", "o"]);
            case(
                "-v odd name operand",
                engine,
                build,
                &[&b"-v"[..], b"d/bad\xff\xfe", b"d/nl\nx", b"d/sp ace", b"."],
            );
        });
    }
    failures.finish();
}

// ---------------------------------------------------------------------------
// Symlinks
// ---------------------------------------------------------------------------

fn symlink_tree(fx: &Fx) {
    fx.file("d/f", 0o644, b"target file\n");
    fx.file("d/real/x", 0o640, b"x in real\n");
    fx.symlink("d/rel", "f");
    fx.symlink("d/up", "../outside");
    fx.symlink("d/ldir", "real");
    fx.symlink("d/dangling", "does/not/exist");
    fx.symlink("d/abs", "/nonexistent/absolute/target");
    fx.symlink("d/abs2", "/tmp");
    fx.symlink(b"d/nonutf8", b"bad\xff\xfe/target");
    fx.symlink(b"d/name\xff", "f");
    fx.symlink("d/empty-ish", " ");
    fx.file("outside", 0o600, b"outside\n");
    fx.symlink("lf", "d/f");
    fx.symlink("ld", "d");
    fx.symlink("ldang", "nowhere");
}

#[test]
fn symlinks_copied_as_symlinks_under_r() {
    let mut failures = Failures::default();
    for engine in engines() {
        for args in [
            &["-r", "d", "o"][..],
            &["-R", "d", "o"],
            &["-rP", "d", "o"],
            &["-r", "lf", "o"],
            &["-r", "ld", "o"],
            &["-r", "ldang", "o"],
            &["-P", "lf", "o"],
            &["-r", "ld/", "o"], // trailing slash: follows the link
        ] {
            failures.check(|| {
                let (env, _, _) = case(&format!("symlinks {args:?}"), engine, symlink_tree, args);
                if args == ["-r", "d", "o"] {
                    // spot-check exact target bytes
                    let t = fs::read_link(env.ours.p("o/nonutf8")).unwrap();
                    assert_eq!(
                        std::os::unix::ffi::OsStrExt::as_bytes(t.as_os_str()),
                        b"bad\xff\xfe/target"
                    );
                    assert!(env.ours.lstat("o/dangling").file_type().is_symlink());
                }
            });
        }
    }
    failures.finish();
}

#[test]
fn command_line_symlinks_without_r_are_followed() {
    each_engine(
        "symlink w/o -r",
        symlink_tree,
        &[&["lf", "o"], &["ldang", "o"], &["ld", "o"], &["lf", "ld"]],
    );
}

#[test]
fn dereference_l() {
    // no cycles: -L on a cyclic link is a different GNU message not in the contract
    let build = |fx: &Fx| {
        fx.file("d/f", 0o644, b"target file\n");
        fx.file("d/real/x", 0o640, b"x in real\n");
        fx.symlink("d/rel", "f");
        fx.symlink("d/ldir", "real");
        fx.symlink("d/up", "../outside");
        fx.file("outside", 0o600, b"outside\n");
        fx.dir("other", 0o700);
        fx.file("other/y", 0o644, b"y\n");
        fx.symlink("d/lother", "../other");
        fx.symlink("lf", "d/f");
        fx.symlink("ld", "d");
        fx.dir("t", 0o755);
    };
    let with_dangling = |fx: &Fx| {
        build(fx);
        fx.symlink("d/dangling", "does/not/exist");
    };
    let mut failures = Failures::default();
    for engine in engines() {
        for args in [
            &["-rL", "d", "o"][..],
            &["-L", "lf", "o"],
            &["-rL", "ld", "o"],
            &["--dereference", "-r", "ld", "lf", "t"],
        ] {
            failures.check(|| {
                case(&format!("-L {args:?}"), engine, build, args);
            });
        }
        case("-L dangling", engine, with_dangling, &["-rL", "d", "o"]);
    }
    failures.finish();
}

#[test]
fn dereference_command_line_only_h() {
    let build = |fx: &Fx| {
        fx.file("d/f", 0o644, b"target file\n");
        fx.file("d/real/x", 0o640, b"x in real\n");
        fx.symlink("d/rel", "f");
        fx.symlink("d/ldir", "real");
        fx.symlink("d/dangling", "nowhere");
        fx.symlink("lf", "d/f");
        fx.symlink("ld", "d");
        fx.symlink("ldang", "nowhere");
        fx.dir("e", 0o755);
    };
    each_engine(
        "-H",
        build,
        &[
            &["-rH", "ld", "o"],
            &["-rH", "d", "o"],
            &["-H", "lf", "o"],
            &["-rH", "lf", "ld", "e"],
            &["-rH", "ldang", "o"],
        ],
    );
}

// ---------------------------------------------------------------------------
// Special files
// ---------------------------------------------------------------------------

#[test]
fn fifos_and_sockets_in_tree_are_recreated_not_read() {
    let build = |fx: &Fx| {
        fx.file("d/regular", 0o644, b"regular\n");
        fx.fifo("d/fifo", 0o640);
        fx.fifo("d/sub/fifo2", 0o600);
        fx.socket("d/sock", 0o751);
        fx.file("d/sub/after", 0o644, b"after\n");
    };
    let opts = RunOpts {
        timeout: Duration::from_secs(10),
        ..RunOpts::default()
    };
    let mut failures = Failures::default();
    for engine in engines() {
        for args in [&["-r", "d", "o"][..], &["-rv", "d", "o"]] {
            failures.check(|| {
                let (env, ours, _) =
                    case_opts(&format!("fifo/socket {args:?}"), engine, build, args, &opts);
                assert!(!ours.timed_out, "uring-cp hung on a FIFO");
                assert!(env.ours.lstat("o/fifo").file_type().is_fifo());
                assert!(env.ours.lstat("o/sock").file_type().is_socket());
            });
        }
    }
    failures.finish();
}

#[test]
fn device_nodes_in_tree() {
    if !is_root() {
        skip("device_nodes_in_tree: mknod needs root");
        return;
    }
    let build = |fx: &Fx| {
        fx.file("d/regular", 0o644, b"regular\n");
        fx.char_device("d/null", 0o600, 1, 3);
        fx.char_device("d/zero", 0o644, 1, 5);
        fx.fifo("d/fifo", 0o644);
    };
    let opts = RunOpts {
        timeout: Duration::from_secs(10),
        ..RunOpts::default()
    };
    let mut failures = Failures::default();
    for engine in engines() {
        failures.check(|| {
            // The device nodes must be recreated (mknod), never opened: reading
            // d/zero would never end.
            case_opts("device nodes", engine, build, &["-r", "d", "o"], &opts);
        });
    }
    failures.finish();
}

// ---------------------------------------------------------------------------
// Permissions
// ---------------------------------------------------------------------------

fn perm_tree(fx: &Fx) {
    fx.dir("s", 0o755);
    for (name, mode) in [
        ("f600", 0o600),
        ("f644", 0o644),
        ("f755", 0o755),
        ("f4755", 0o4755),
        ("f2755", 0o2755),
        ("f1755", 0o1755),
        ("f666", 0o666),
        ("f444", 0o444),
        ("f000", 0o000),
    ] {
        fx.file(format!("s/{name}"), mode, name.as_bytes());
    }
    fx.file("s/d700/in", 0o644, b"in 700\n");
    fx.file("s/d555/in", 0o644, b"in 555\n");
    fx.file("s/d555/sub/in2", 0o600, b"in 555/sub\n");
    fx.dir("s/d755", 0o755);
    fx.dir("s/d777", 0o777);
    fx.dir("s/d1777", 0o1777);
    fx.dir("s/d2755", 0o2755);
    fx.dir("s/d3775", 0o3775);
    fx.dir("s/d000", 0o000);
    fx.chmod("s/d700", 0o700);
    fx.chmod("s/d555/sub", 0o555);
    fx.chmod("s/d555", 0o555);
}

#[test]
fn permission_bits_umask_022() {
    let mut failures = Failures::default();
    for engine in engines() {
        for args in [
            &["-r", "s", "o"][..],
            &["s/f4755", "x"],
            &["s/f666", "x"],
            &["-r", "s/d555", "x"],
        ] {
            failures.check(|| {
                case(
                    &format!("perms umask 022 {args:?}"),
                    engine,
                    perm_tree,
                    args,
                );
            });
        }
    }
    failures.finish();
}

#[test]
fn permission_bits_umask_027_and_077() {
    for umask in [0o027, 0o077, 0o000] {
        let opts = RunOpts {
            umask,
            ..RunOpts::default()
        };
        let mut failures = Failures::default();
        for engine in engines() {
            for args in [&["-r", "s", "o"][..], &["s/f755", "x"]] {
                failures.check(|| {
                    case_opts(
                        &format!("perms umask {umask:03o} {args:?}"),
                        engine,
                        perm_tree,
                        args,
                        &opts,
                    );
                });
            }
        }
        failures.finish();
    }
}

// ---------------------------------------------------------------------------
// Odd names
// ---------------------------------------------------------------------------

fn odd_tree(fx: &Fx) {
    fx.file(b"bad\xff\xfename", 0o644, b"non-utf8 name\n");
    fx.file(b"new\nline", 0o644, b"newline name\n");
    fx.file("with space", 0o644, b"space\n");
    fx.file("-dash", 0o644, b"leading dash\n");
    fx.file(b"d/\xc3\x28bad", 0o644, b"invalid utf8 seq\n");
    fx.file(b"d/sub dir/with\nnewline/f\xff", 0o600, b"deep odd\n");
    fx.file("d/ leading-space", 0o644, b"ls\n");
    fx.file("d/trailing-space ", 0o644, b"ts\n");
    fx.file("d/*glob?[x]", 0o644, b"glob\n");
    fx.file("d/$(echo no)", 0o644, b"dollar\n");
    fx.file(vec![b'n'; 255], 0o644, b"255-byte name\n");
    fx.symlink(b"d/l\xff", b"t\nx\xff");
}

#[test]
fn odd_names() {
    let mut failures = Failures::default();
    for engine in engines() {
        failures.check(|| {
            let sets: &[&[&[u8]]] = &[
                &[b"-r", b"d", b"o"],
                &[b"bad\xff\xfename", b"copy\xfe"],
                &[b"new\nline", b"with space", b"d"],
                &[b"--", b"-dash", b"x"],
                &[b"./-dash", b"y"],
                &[b"-r", b"d/sub dir", b"o2 with space"],
                &[b"-r", b"d/sub dir/with\nnewline", b"."],
                &[b"-rv", b"d", b"o3"],
            ];
            for args in sets {
                case(
                    &format!(
                        "odd names {:?}",
                        args.iter().map(|a| show(a)).collect::<Vec<_>>()
                    ),
                    engine,
                    odd_tree,
                    args,
                );
            }
        });
    }
    failures.finish();
}

// ---------------------------------------------------------------------------
// Unreadable files / dirs (needs an unprivileged user)
// ---------------------------------------------------------------------------

fn unprivileged_opts(test: &str) -> Option<RunOpts> {
    if !is_root() {
        return Some(RunOpts::default());
    }
    match can_drop_privileges() {
        Ok(()) => Some(RunOpts {
            as_nobody: true,
            ..RunOpts::default()
        }),
        Err(why) => {
            skip(&format!(
                "{test}: running as root, which reads everything, and cannot drop privileges: {why}"
            ));
            None
        }
    }
}

/// Run each argument set with both programs on every engine as `opts` says
/// (as nobody, owning the fixture, when the test runs as root), compare
/// everything, and check the exit status if `code` is given.
fn unprivileged_cases(
    what: &str,
    opts: &RunOpts,
    build: impl Fn(&Fx) + Copy,
    arg_sets: &[&[&str]],
    code: Option<i32>,
) {
    let mut failures = Failures::default();
    for engine in engines() {
        for args in arg_sets {
            failures.check(|| {
                let env = TestEnv::new();
                env.build(build);
                if opts.as_nobody {
                    env.ours.chown_nobody();
                    env.gnu.chown_nobody();
                }
                let (ours, gnu) = env.run_both(engine, args, opts);
                let ctx = format!("[{what} {args:?}, engine={engine}]");
                compare_all(&ctx, &env, &ours, &gnu);
                if let Some(code) = code {
                    assert_eq!(ours.code, Some(code), "{ctx}");
                }
            });
        }
    }
    failures.finish();
}

#[test]
fn unreadable_file_in_tree_reports_and_copies_rest() {
    let Some(opts) = unprivileged_opts("unreadable_file_in_tree") else {
        return;
    };
    if opts.as_nobody {
        notice(
            "NOTE unreadable_file_in_tree: running both programs as uid 65534 via setpriv (test runs as root)",
        );
    }
    let build = |fx: &Fx| {
        fx.file("d/a", 0o644, b"a\n");
        fx.file("d/secret", 0o000, b"secret\n");
        fx.file("d/sub/b", 0o644, b"b\n");
        fx.file("d/sub/secret2", 0o200, b"write-only\n");
        fx.file("d/z", 0o644, b"z\n");
        fx.file("top-secret", 0o000, b"top\n");
        fx.file("ok", 0o644, b"ok\n");
    };
    unprivileged_cases(
        "unreadable file",
        &opts,
        build,
        &[
            &["-r", "d", "o"],
            &["top-secret", "ok", "d"],
            &["top-secret", "x"],
        ],
        Some(1),
    );
}

/// DEST a symlink into a directory the user cannot search (GNU's
/// fail-perm.sh): "cannot stat", not "dangling", as cp says.
#[test]
fn symlink_dest_into_unsearchable_dir() {
    let Some(opts) = unprivileged_opts("symlink_dest_into_unsearchable_dir") else {
        return;
    };
    let build = |fx: &Fx| {
        fx.dir("D/D", 0o755);
        fx.chmod("D", 0o000);
        fx.symlink("symlink", "D/D");
        fx.file("F", 0o644, b"F\n");
    };
    unprivileged_cases(
        "symlink into unsearchable dir",
        &opts,
        build,
        &[
            &["F", "symlink"],
            &["-T", "F", "symlink"],
            &["--target-directory=symlink", "F"],
        ],
        Some(1),
    );
}

#[test]
fn unreadable_dir_in_tree() {
    let Some(opts) = unprivileged_opts("unreadable_dir_in_tree") else {
        return;
    };
    let build = |fx: &Fx| {
        fx.file("d/a", 0o644, b"a\n");
        fx.file("d/locked/z", 0o644, b"z\n");
        fx.file("d/zz", 0o644, b"zz\n");
        fx.chmod("d/locked", 0o000);
    };
    unprivileged_cases("unreadable dir", &opts, build, &[&["-r", "d", "o"]], None);
}

// ---------------------------------------------------------------------------
// Usage errors, --version, --engine
// ---------------------------------------------------------------------------

fn usage_error(args: &[&str]) {
    let mut failures = Failures::default();
    for engine in engines() {
        failures.check(|| {
            let env = TestEnv::new();
            env.build(basic);
            let before = env.ours.snapshot();
            let ours = env.run_ours(engine, args, &RunOpts::default());
            let ctx = format!("[usage error {args:?}, engine={engine}]");
            // GNU cp rejects these too, with the same status (1) and a
            // last line pointing at --help.
            let gnu = env.run_gnu(args, &RunOpts::default());
            assert_eq!(gnu.code, Some(1), "{ctx}: GNU cp's status\n{gnu}");
            assert_eq!(ours.code, gnu.code, "{ctx}: exit status\n{ours}");
            let last = ours
                .stderr_str()
                .lines()
                .last()
                .unwrap_or_default()
                .to_string();
            assert!(
                last.starts_with("Try '") && last.ends_with(" --help' for more information."),
                "{ctx}: expected cp's `Try '... --help'` line last\n{ours}"
            );
            assert!(
                ours.stdout.is_empty(),
                "{ctx}: expected nothing on stdout\n{ours}"
            );
            assert_snapshots_eq(&ctx, &env.ours.snapshot(), &before, "after", "before");
        });
    }
    failures.finish();
}

#[test]
fn usage_error_no_operands() {
    usage_error(&[]);
    usage_error(&["-r"]);
}

#[test]
fn usage_error_one_operand() {
    usage_error(&["a"]);
    usage_error(&["-r", "d"]);
}

#[test]
fn usage_error_unknown_flag() {
    usage_error(&["--bogus-flag", "a", "b"]);
    usage_error(&["-Z9", "a", "b"]);
}

/// Options that cannot go together (GNU's sparse.sh).
#[test]
fn usage_error_conflicting_options() {
    usage_error(&["--sparse=always", "--reflink", "a", "b"]);
    usage_error(&["--sparse=never", "--reflink=always", "a", "b"]);
    usage_error(&["-bn", "a", "b"]);
    usage_error(&["--backup=bogus", "a", "b"]);
    usage_error(&["--backup=n", "a", "b"]);
    usage_error(&["-ls", "a", "b"]);
}

/// GNU cp reports `extra operand` via its usage() path (`Try 'cp --help'`),
/// so uring-cp must treat it as a usage error (exit 1, the same line).
#[test]
fn usage_error_extra_operand_with_no_target_directory() {
    usage_error(&["-T", "a", "b", "e"]);
}

#[test]
fn version_output() {
    let out = run(
        BIN,
        &["--version"],
        std::path::Path::new("/"),
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(0), "{out}");
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("uring-cp ") && l.len() > "uring-cp ".len()),
        "no `uring-cp <version>` line:\n{out}"
    );
    let ur: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("io_uring: "))
        .collect();
    assert_eq!(
        ur.len(),
        1,
        "expected exactly one `io_uring: ` line:\n{out}"
    );
    let rest = &ur[0]["io_uring: ".len()..];
    assert!(
        rest.starts_with("available")
            || (rest.starts_with("unavailable (")
                && rest.ends_with(')')
                && rest.len() > "unavailable ()".len()),
        "bad io_uring line {:?}",
        ur[0]
    );
}

#[test]
fn engine_uring_fails_when_unavailable() {
    match uring_status() {
        Ok(()) => {
            skip("engine_uring_fails_when_unavailable: io_uring is available here");
            // Still check the flag is accepted and works.
            let (env, _, _) = case("--engine uring", "uring", basic, &["-r", "d", "o"]);
            assert!(env.ours.exists("o/sub/deeper/h"));
        }
        Err(reason) => {
            let env = TestEnv::new();
            env.build(basic);
            let out = env.run_ours("uring", &["a", "x"], &RunOpts::default());
            assert_eq!(
                out.code,
                Some(1),
                "--engine uring with io_uring unavailable ({reason}) must exit 1\n{out}"
            );
            assert!(out.stderr.starts_with(b"uring-cp: "), "{out}");
        }
    }
}

#[test]
fn engine_auto_and_buffer_mem_flags() {
    let build = |fx: &Fx| {
        basic(fx);
        let mut rng = Rng(42);
        fx.file("d/big", 0o644, rng.bytes(1 << 20 | 3));
    };
    for (engine, extra) in [
        ("auto", vec![]),
        ("portable", vec!["--buffer-mem", "64K"]),
        ("auto", vec!["--buffer-mem", "16M"]),
    ] {
        let env = TestEnv::new();
        env.build(build);
        let ours = run_uring_cp(
            engine,
            &extra,
            &["-r", "d", "o"],
            &env.ours.root,
            &RunOpts::default(),
        );
        let gnu = env.run_gnu(&["-r", "d", "o"], &RunOpts::default());
        compare_all(&format!("[--engine {engine} {extra:?}]"), &env, &ours, &gnu);
    }
    if uring_status().is_ok() {
        let env = TestEnv::new();
        env.build(build);
        let ours = run_uring_cp(
            "uring",
            &["--buffer-mem", "64K"],
            &["-r", "d", "o"],
            &env.ours.root,
            &RunOpts::default(),
        );
        let gnu = env.run_gnu(&["-r", "d", "o"], &RunOpts::default());
        compare_all("[--engine uring --buffer-mem 64K]", &env, &ours, &gnu);
    }
}

#[test]
fn update_replaces_only_older_destinations_like_cp() {
    // -u: replace only a destination whose modification time is older than
    // its source's, to the nanosecond; missing ones are copied.
    const T: i64 = 1_700_000_000;
    let build = |fx: &Fx| {
        fx.dir("d", 0o755).dir("d/sub", 0o755).dir("m", 0o755);
        fx.dir("m/d", 0o755).dir("m/d/sub", 0o755);
        for (name, src_ns, dst) in [
            ("older", (T, 0), Some((T - 10, 0))),
            ("newer", (T, 0), Some((T + 10, 0))),
            ("same", (T, 5), Some((T, 5))),
            ("ns-older", (T, 6), Some((T, 5))),
            ("ns-newer", (T, 5), Some((T, 6))),
            ("missing", (T, 0), None),
            ("sub/older", (T, 0), Some((T - 1, 0))),
            ("sub/newer", (T, 0), Some((T + 1, 0))),
        ] {
            let rel = format!("d/{name}");
            fx.file(&rel, 0o644, format!("new {name}\n"));
            fx.set_times(&rel, src_ns, src_ns);
            if let Some(t) = dst {
                let rel = format!("m/d/{name}");
                fx.file(&rel, 0o644, format!("OLD {name} at the destination\n"));
                fx.set_times(&rel, t, t);
            }
        }
        for (name, src, dst) in [("ln-older", T, T - 10), ("ln-newer", T, T + 10)] {
            fx.symlink(format!("d/{name}"), "new-target");
            fx.set_times(format!("d/{name}"), (src, 0), (src, 0));
            fx.symlink(format!("m/d/{name}"), "old-target");
            fx.set_times(format!("m/d/{name}"), (dst, 0), (dst, 0));
        }
        fx.file("a", 0o644, b"new a\n")
            .set_times("a", (T, 0), (T, 0));
        fx.file("b", 0o644, b"OLD b\n")
            .set_times("b", (T + 1, 0), (T + 1, 0));
        fx.file("c", 0o644, b"OLD c\n")
            .set_times("c", (T - 1, 0), (T - 1, 0));
    };
    let mut failures = Failures::default();
    for engine in engines() {
        for args in [
            &["-ru", "d", "m"][..],
            &["-r", "--update", "-v", "d", "m"],
            &["-au", "d", "m"],
            &["-uv", "a", "b"],
            &["-u", "-v", "a", "c"],
        ] {
            failures.check(|| {
                let (env, ours, _) = case(&format!("-u {args:?}"), engine, build, args);
                assert_eq!(
                    ours.code,
                    Some(0),
                    "[{args:?}, {engine}] {}",
                    ours.stderr_str()
                );
                if args.contains(&"d") {
                    assert_eq!(
                        env.ours.read("m/d/newer"),
                        b"OLD newer at the destination\n"
                    );
                    assert_eq!(env.ours.read("m/d/ns-older"), b"new ns-older\n");
                    assert_eq!(env.ours.read("m/d/missing"), b"new missing\n");
                }
            });
        }
    }
    failures.finish();
}

/// A directory its owner cannot write into, copied into a set-group-ID
/// directory: made with owner rwx, its mode is fixed last, and the fix keeps
/// the set-group-ID bit it inherited there, as cp's does (`cp -r` of a 0311
/// directory into a 2775 one makes 2311), on every engine.
#[test]
fn the_last_mode_fix_keeps_an_inherited_set_group_id() {
    for engine in engines() {
        let ctx = format!("[{engine}]");
        let env = TestEnv::new();
        env.build(|fx| {
            fx.dir("out", 0o2775);
            fx.file("src/odd/inner/f", 0o644, "f");
            fx.chmod("src/odd/inner", 0o555);
            fx.chmod("src/odd", 0o311);
        });
        let (ours, gnu) = env.run_both(engine, &["-r", "src", "out/copy"], &RunOpts::default());
        compare_outcomes(&ctx, &ours, &gnu);
        assert_snapshots_eq(
            &ctx,
            &snapshot(&env.ours.p("out")),
            &snapshot(&env.gnu.p("out")),
            "uring-cp",
            "GNU cp",
        );
        let copy = Fx::new(env.ours.p("out/copy"));
        assert_eq!(copy.lstat("odd").mode() & 0o7777, 0o2311, "{ctx}");
        assert_eq!(copy.lstat("odd/inner").mode() & 0o7777, 0o2555, "{ctx}");
    }
}
