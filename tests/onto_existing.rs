//! Copies onto trees that are already there, each compared with GNU cp on
//! every engine: the differences `tests/proptest/onto.rs` (random trees onto
//! random trees with random options) found, pinned one by one.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

/// Paths, each with the mode it must have.
type Modes<'a> = &'a [(&'a str, u32)];

/// Each run (arguments, then the modes they must leave) on every engine,
/// compared with GNU cp ([`case`]); each must also exit 0 and leave those
/// modes. `name` says which fixture, for the messages.
fn modes_after(name: &str, build: impl Fn(&Fx) + Copy, runs: &[(&[&str], Modes)]) {
    let mut failures = Failures::default();
    for engine in engines() {
        for (args, want) in runs {
            failures.check(|| {
                let ctx = format!("{name}: {args:?} on {engine}");
                let (env, ours, _) = case(&ctx, engine, build, args);
                assert_eq!(ours.code, Some(0), "{ctx}: {ours}");
                for &(path, want) in *want {
                    let mode = env.ours.lstat(path).permissions().mode() & 0o7777;
                    assert_eq!(mode, want, "{ctx}: {path} is {mode:o}, want {want:o}");
                }
            });
        }
    }
    failures.finish();
}

/// Without -p, a directory that is already at the destination keeps its
/// mode, whatever the source directory's: cp changes only the modes of the
/// directories it makes. uring-cp gave an existing directory the mode of a
/// source directory its owner cannot write into (0444, 0500), the mode it
/// sets last on a directory it made (found by `tests/proptest/onto.rs`,
/// seed 16367885143816100528: `cp -r -T src dst`, src 0444, dst 0644).
#[test]
fn an_existing_directory_keeps_its_mode_without_p() {
    for (src_mode, dst_mode) in [(0o444, 0o644), (0o500, 0o755), (0o555, 0o2750)] {
        let build = move |fx: &Fx| {
            fx.dir("src", 0o755).dir("src/sub", 0o755);
            fx.file("src/sub/f", 0o644, b"new\n");
            fx.dir("dst", 0o755).dir("dst/sub", 0o755);
            fx.dir("into", 0o755).dir("into/src", 0o755);
            fx.chmod("src/sub", src_mode).chmod("src", src_mode);
            for d in ["dst/sub", "dst", "into/src"] {
                fx.chmod(d, dst_mode);
            }
        };
        // into/src/sub is made by the copy: the source's mode, and the
        // set-group-ID bit of its parent.
        let made = (src_mode & !0o022) | (dst_mode & 0o2000);
        let kept: Modes = &[("dst", dst_mode), ("dst/sub", dst_mode)];
        modes_after(
            &format!("src {src_mode:o} onto {dst_mode:o}"),
            build,
            &[
                (&["-r", "-T", "src", "dst"], kept),
                (&["-r", "src/.", "dst"], kept),
                (
                    &["-r", "src", "into"],
                    &[("into/src", dst_mode), ("into/src/sub", made)],
                ),
            ],
        );
    }
}

/// With --preserve=links (-a, -d), a destination file that has other names
/// is replaced, not rewritten in place: its other names, which the source
/// may not have, keep what they hold, as cp unlinks such a file first.
/// Without it (-r) the file is rewritten in place, every name sees the new
/// bytes, and its mode stays, as with cp; under --attributes-only too (no
/// bytes move). uring-cp rewrote it in place in every case (found by
/// `tests/proptest/onto.rs`: `cp -rd src dst`, where `dst/src/c` and
/// `dst/src/a~2` were one file).
#[test]
fn a_destination_with_other_names_is_replaced_under_preserve_links() {
    let build = |fx: &Fx| {
        fx.dir("src", 0o755).file("src/c", 0o644, b"new\n");
        fx.dir("dst", 0o755).file("dst/c", 0o600, b"old contents\n");
        fx.hardlink("dst/c", "dst/other");
    };
    let mut failures = Failures::default();
    for engine in engines() {
        // (options, what dst/c and dst/other then hold, dst/c's link count)
        let old: &[u8] = b"old contents\n";
        for (opts, c, other, nlink) in [
            (&["-a"][..], &b"new\n"[..], old, 1),
            (&["-rd"], b"new\n", old, 1),
            (&["-r", "--preserve=links"], b"new\n", old, 1),
            (&["-r"], b"new\n", b"new\n", 2),
            (&["-rp"], b"new\n", b"new\n", 2),
            // Its bytes stay: the attributes are set on the file in place.
            (&["-a", "--attributes-only"], old, old, 2),
        ] {
            failures.check(|| {
                let args: Vec<&str> = opts.iter().copied().chain(["-T", "src", "dst"]).collect();
                let name = format!("{args:?} on {engine}");
                let (env, ours, _) = case(&name, engine, build, &args);
                assert_eq!(ours.code, Some(0), "{name}: {ours}");
                assert_eq!(fs::read(env.ours.p("dst/c")).unwrap(), c, "{name}");
                assert_eq!(fs::read(env.ours.p("dst/other")).unwrap(), other, "{name}");
                assert_eq!(env.ours.lstat("dst/c").nlink(), nlink, "{name}");
            });
        }
    }
    failures.finish();
}

/// Under -p a directory that is already at the destination gets the
/// source's permission bits and keeps its own set-ID and sticky bits when
/// the source has none, as cp (which sets the permission bits through the
/// directory's ACL): `cp -a src/. shared/` keeps `shared` 1777 sticky.
/// uring-cp gave it the source's mode exactly (found by
/// `tests/proptest/onto.rs`: `cp -a -T src dst`, src 0644, dst 4755).
#[test]
fn an_existing_directory_keeps_its_special_bits_under_p() {
    for (src_mode, dst_mode, want) in [
        (0o777, 0o1777, 0o1777),
        (0o644, 0o4755, 0o4644),
        (0o750, 0o2755, 0o2750),
        (0o1755, 0o2755, 0o1755),
        (0o755, 0o755, 0o755),
    ] {
        let build = move |fx: &Fx| {
            fx.dir("src", 0o755).dir("src/sub", 0o755);
            fx.file("src/sub/f", 0o644, b"new\n");
            fx.dir("dst", 0o755).dir("dst/sub", 0o755);
            fx.chmod("src/sub", src_mode).chmod("src", src_mode);
            fx.chmod("dst/sub", dst_mode).chmod("dst", dst_mode);
        };
        let want: Modes = &[("dst", want), ("dst/sub", want)];
        modes_after(
            &format!("src {src_mode:o} onto {dst_mode:o}"),
            build,
            &[
                (&["-a", "-T", "src", "dst"], want),
                (&["-rp", "src/.", "dst"], want),
            ],
        );
    }
}

/// Different from cp on purpose: under -p a regular file that is already
/// at the destination gets exactly the source's mode. cp 9.1 keeps the old
/// file's set-ID and sticky bits when the source has none (as for
/// directories, above), so `cp -a new tool` onto a set-user-ID `tool`
/// leaves the new contents set-user-ID; uring-cp does not.
#[test]
fn an_existing_file_gets_exactly_the_source_mode_under_p() {
    let build = |fx: &Fx| {
        fx.dir("src", 0o755).file("src/tool", 0o755, b"new\n");
        fx.dir("dst", 0o755).file("dst/tool", 0o4755, b"old\n");
    };
    for engine in engines() {
        let env = TestEnv::new();
        env.build(build);
        let args = ["-a", "-T", "src", "dst"];
        let (ours, gnu) = env.run_both(engine, &args, &RunOpts::default());
        assert_eq!((ours.code, gnu.code), (Some(0), Some(0)), "{ours}\n{gnu}");
        let mode = |fx: &Fx| fx.lstat("dst/tool").permissions().mode() & 0o7777;
        assert_eq!(mode(&env.ours), 0o755, "engine {engine}");
        assert_eq!(fs::read(env.ours.p("dst/tool")).unwrap(), b"new\n");
        notice(&format!(
            "cp -a onto a set-user-ID file: GNU cp {:o}, uring-cp {:o} (on purpose)",
            mode(&env.gnu),
            mode(&env.ours)
        ));
    }
}

/// --attributes-only with a symlink or FIFO whose name is taken: cp leaves
/// the entry there (-n and -u skip it, a directory is refused with its
/// message, anything else is "File exists") unless -f says to replace it
/// by a symlink or -b to keep it as a backup.
/// uring-cp said "File exists" for all of them (found by
/// `tests/proptest/onto.rs`: `cp -rp -f --attributes-only src/. dst` with a
/// symlink onto a directory).
#[test]
fn attributes_only_onto_taken_names_like_cp() {
    let build = |fx: &Fx| {
        fx.dir("src", 0o755).dir("dst", 0o755);
        fx.symlink("src/onto-file", "x")
            .symlink("src/onto-dir", "x");
        fx.fifo("src/fifo-onto-file", 0o644)
            .fifo("src/fifo-onto-dir", 0o644);
        for name in ["onto-file", "fifo-onto-file"] {
            fx.file(format!("dst/{name}"), 0o644, b"old\n");
        }
        for name in ["onto-dir", "fifo-onto-dir"] {
            fx.dir(format!("dst/{name}"), 0o755);
        }
        for name in ["onto-file", "onto-dir", "fifo-onto-file", "fifo-onto-dir"] {
            fx.set_times(format!("dst/{name}"), (946_684_800, 0), (946_684_800, 0));
        }
    };
    each_engine(
        "--attributes-only onto taken names",
        build,
        &[
            &["-r", "--attributes-only", "src/.", "dst"],
            &["-rn", "--attributes-only", "src/.", "dst"],
            &["-ru", "--attributes-only", "src/.", "dst"],
            // Not -v: cp prints a line for the FIFO it then fails to make
            // (uring-cp's -v lines name what was done; README).
            &["-rf", "--attributes-only", "src/.", "dst"],
            &["-a", "-f", "--attributes-only", "src/.", "dst"],
            // The entry goes to its backup name, and the copy takes its place.
            &[
                "-r",
                "--backup=numbered",
                "--attributes-only",
                "src/.",
                "dst",
            ],
            &["-rbv", "--attributes-only", "src/.", "dst"],
        ],
    );
}

/// Under -p a directory the copy makes inside a set-group-ID directory keeps
/// the set-group-ID bit it inherited when its source has no special bits,
/// as cp (same rule as above). uring-cp cleared it (found by
/// `tests/proptest/onto.rs`: `cp -rp -f --attributes-only src/. dst`, dst
/// 3756, src/e 0644).
#[test]
fn a_new_directory_keeps_an_inherited_set_group_id_bit_under_p() {
    let build = |fx: &Fx| {
        fx.dir("src", 0o755)
            .dir("src/e", 0o644)
            .dir("src/s", 0o1755);
        fx.dir("dst", 0o2755);
    };
    let want: Modes = &[("dst/e", 0o2644), ("dst/s", 0o1755)];
    modes_after(
        "a set-group-ID destination",
        build,
        &[
            (&["-a", "src/.", "dst"], want),
            (&["-rp", "-T", "src", "dst"], want),
        ],
    );
}

/// Keeping owners but not modes (`-a --no-preserve=mode`, `-r
/// --preserve=ownership`), a file rewritten in place keeps its mode, as
/// with cp; only a new file gets cp's default permissions back once its
/// owner is set. uring-cp gave the rewritten file the defaults (0644) too
/// (found by `tests/proptest/onto.rs`: `cp -a --no-preserve=mode -T src
/// dst`, dst/e 0251).
#[test]
fn a_file_rewritten_in_place_keeps_its_mode_when_owners_are_kept() {
    let build = |fx: &Fx| {
        fx.dir("src", 0o755).file("src/e", 0o644, b"new\n");
        fx.file("src/f", 0o640, b"n\n");
        fx.dir("dst", 0o755).file("dst/e", 0o251, b"old\n");
    };
    let mut failures = Failures::default();
    for engine in engines() {
        for (opts, f_mode) in [
            (&["-a", "--no-preserve=mode"][..], 0o644),
            (&["-r", "--preserve=ownership"], 0o640),
        ] {
            failures.check(|| {
                let args: Vec<&str> = opts.iter().copied().chain(["-T", "src", "dst"]).collect();
                let name = format!("{args:?} on {engine}");
                let (env, ours, _) = case(&name, engine, build, &args);
                assert_eq!(ours.code, Some(0), "{name}: {ours}");
                let mode = |p: &str| env.ours.lstat(p).permissions().mode() & 0o7777;
                assert_eq!(mode("dst/e"), 0o251, "{name}");
                assert_eq!(mode("dst/f"), f_mode, "{name}");
                assert_eq!(fs::read(env.ours.p("dst/e")).unwrap(), b"new\n");
            });
        }
    }
    failures.finish();
}

/// Under -v, a destination file removed before the copy takes its name
/// (--remove-destination, or another name of it under --preserve=links) is
/// reported as cp does: `removed 'dst/b'`, then the copy's line. uring-cp
/// printed only the copy's line (found by `tests/proptest/onto.rs`: `cp -rP
/// --remove-destination -v -T src dst`).
#[test]
fn a_removed_destination_is_reported_under_v() {
    let build = |fx: &Fx| {
        fx.dir("src", 0o755).file("src/b", 0o644, b"new\n");
        fx.file("src/c", 0o644, b"new\n");
        fx.dir("dst", 0o755).file("dst/b", 0o644, b"old\n");
        fx.file("dst/c", 0o644, b"old\n")
            .hardlink("dst/c", "dst/c2");
    };
    each_engine(
        "a removed destination under -v",
        build,
        &[
            &["-rv", "--remove-destination", "-T", "src", "dst"],
            &["-av", "-T", "src", "dst"],
            &["-rv", "-T", "src", "dst"],
            &["-av", "--backup=numbered", "-T", "src", "dst"],
        ],
    );
}

/// `-l` under --preserve=links replaces a destination file that has other
/// names by the hard link, as cp; with --attributes-only it does not (cp
/// then says "File exists"). uring-cp replaced it in both (found by
/// `tests/proptest/onto.rs`: `cp -a --attributes-only -l src/. dst`).
#[test]
fn hard_links_onto_a_file_with_other_names_like_cp() {
    let build = |fx: &Fx| {
        fx.dir("src", 0o755).file("src/d", 0o644, b"new\n");
        fx.dir("dst", 0o755).file("dst/d", 0o644, b"old\n");
        fx.hardlink("dst/d", "dst/d2");
    };
    each_engine(
        "-l onto a file with other names",
        build,
        &[
            &["-al", "src/.", "dst"],
            &["-al", "--attributes-only", "src/.", "dst"],
            &["-rl", "src/.", "dst"],
        ],
    );
}
