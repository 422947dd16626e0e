//! Copies onto trees that are already there, each compared with GNU cp on
//! every engine: the differences `tests/proptest/onto.rs` (random trees onto
//! random trees with random options) found, pinned one by one.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

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
        let mut failures = Failures::default();
        for engine in engines() {
            for args in [
                &["-r", "-T", "src", "dst"][..],
                &["-r", "src/.", "dst"],
                &["-r", "src", "into"],
            ] {
                failures.check(|| {
                    let name = format!("src {src_mode:o} onto {dst_mode:o}: {args:?}");
                    let (env, ours, _) = case(&name, engine, build, args);
                    assert_eq!(ours.code, Some(0), "{name} on {engine}: {ours}");
                    let target = if args[2] == "into" { "into/src" } else { "dst" };
                    for d in [target.to_string(), format!("{target}/sub")] {
                        let mode = env.ours.lstat(&d).permissions().mode() & 0o7777;
                        let want = if d.ends_with("sub") && target == "into/src" {
                            // into/src/sub is made by the copy: the source's
                            // mode, and the set-group-ID bit of its parent.
                            (src_mode & !0o022) | (dst_mode & 0o2000)
                        } else {
                            dst_mode
                        };
                        assert_eq!(
                            mode, want,
                            "{name} on {engine}: {d} is {mode:o}, want {want:o}"
                        );
                    }
                });
            }
        }
        failures.finish();
    }
}

/// With --preserve=links (-a, -d), a destination file that has other names
/// is replaced, not rewritten in place: its other names, which the source
/// may not have, keep what they hold, as cp unlinks such a file first.
/// Without it (-r) the file is rewritten in place, every name sees the new
/// bytes, and its mode stays, as with cp. uring-cp rewrote it in place in
/// both cases (found by `tests/proptest/onto.rs`: `cp -rd src dst`, where
/// `dst/src/c` and `dst/src/a~2` were one file).
#[test]
fn a_destination_with_other_names_is_replaced_under_preserve_links() {
    let build = |fx: &Fx| {
        fx.dir("src", 0o755).file("src/c", 0o644, b"new\n");
        fx.dir("dst", 0o755).file("dst/c", 0o600, b"old contents\n");
        fx.hardlink("dst/c", "dst/other");
    };
    let mut failures = Failures::default();
    for engine in engines() {
        for (opts, replaced) in [
            (&["-a"][..], true),
            (&["-rd"], true),
            (&["-r", "--preserve=links"], true),
            (&["-r"], false),
            (&["-rp"], false),
        ] {
            failures.check(|| {
                let args: Vec<&str> = opts.iter().copied().chain(["-T", "src", "dst"]).collect();
                let name = format!("{args:?}");
                let (env, ours, _) = case(&name, engine, build, &args);
                assert_eq!(ours.code, Some(0), "{name} on {engine}: {ours}");
                let other = fs::read(env.ours.p("dst/other")).unwrap();
                let c = env.ours.lstat("dst/c");
                assert_eq!(fs::read(env.ours.p("dst/c")).unwrap(), b"new\n");
                if replaced {
                    assert_eq!(other, b"old contents\n", "{name} on {engine}");
                    assert_eq!(c.nlink(), 1, "{name} on {engine}");
                } else {
                    assert_eq!(other, b"new\n", "{name} on {engine}");
                    assert_eq!(c.nlink(), 2, "{name} on {engine}");
                }
            });
        }
    }
    failures.finish();
}
