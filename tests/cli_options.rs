//! Options added for drop-in compatibility with GNU cp (issue 13), each
//! compared with GNU cp on every engine: the same trees, exit status and
//! messages.

mod common;

use common::{Failures, Fx, case, engines};

fn basic(fx: &Fx) {
    fx.file("a", 0o644, b"contents of a\n");
    fx.file("b", 0o644, b"contents of b\n");
    fx.dir("d", 0o755);
    fx.file("d/f", 0o644, b"d/f\n");
    fx.dir("e", 0o755);
}

fn each_engine(name: &str, build: impl Fn(&Fx) + Copy, arg_sets: &[&[&str]]) {
    let mut failures = Failures::default();
    for engine in engines() {
        for args in arg_sets {
            failures.check(|| {
                case(&format!("{name}: {args:?}"), engine, build, args);
            });
        }
    }
    failures.finish();
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
    };
    each_engine(
        "--remove-destination",
        build,
        &[
            &["--remove-destination", "a", "b"],
            &["--rem", "a", "ro"],
            &["-r", "--remove-destination", "d", "e"],
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
