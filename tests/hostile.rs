//! Hostile trees: a destination holding symlinks that point out of it must
//! never lead to a write outside the destination, and a source symlink loop
//! under -L must be reported, not followed forever. Every engine.

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What lies outside the destination, to be left exactly as it is.
fn outside(fx: &Fx) {
    fx.dir("outside", 0o755)
        .file("outside/secret", 0o644, "precious")
        .file("outside/secret2", 0o644, "precious too")
        .dir("outside/dir", 0o755);
    fx.set_times("outside/secret", (1_600_000_000, 0), (1_600_000_000, 0));
}

/// A source tree, and a destination that already holds the same names as
/// symlinks leading out of it (relative, absolute, dangling, to a directory).
fn hostile(fx: &Fx) {
    outside(fx);
    fx.dir("d", 0o755)
        .file("d/f", 0o644, "source f")
        .file("d/abs", 0o644, "source abs")
        .file("d/dangling", 0o644, "source dangling")
        .dir("d/sub", 0o755)
        .file("d/sub/x", 0o644, "source x");
    let abs = fx.p("outside/secret2");
    fx.dir("dst", 0o755)
        .dir("dst/d", 0o755)
        .symlink("dst/d/f", "../../outside/secret")
        .symlink("dst/d/abs", abs.as_os_str().as_encoded_bytes())
        .symlink("dst/d/dangling", "../../outside/new-file")
        .symlink("dst/d/sub", "../../outside/dir");
}

fn assert_outside_untouched(ctx: &str, root: &Path) {
    let fx = Fx::new(root);
    assert_eq!(
        fx.read("outside/secret"),
        b"precious",
        "{ctx}: written through a symlink"
    );
    assert_eq!(
        fx.read("outside/secret2"),
        b"precious too",
        "{ctx}: written through a symlink"
    );
    assert_eq!(fx.lstat("outside/secret").mtime(), 1_600_000_000, "{ctx}");
    assert!(
        !fx.exists("outside/new-file"),
        "{ctx}: created through a dangling symlink"
    );
    let in_dir: Vec<_> = std::fs::read_dir(root.join("outside/dir"))
        .unwrap()
        .collect();
    assert!(
        in_dir.is_empty(),
        "{ctx}: written into a directory outside: {in_dir:?}"
    );
}

#[test]
fn destination_symlinks_never_lead_outside() {
    for engine in engines() {
        for args in [
            &["-r", "d", "dst"][..],
            &["-a", "d", "dst"],
            &["-rf", "d", "dst"],
            &["-a", "--sync", "-T", "d", "dst/d"],
            &["-a", "--sync", "--delete", "--inplace", "-T", "d", "dst/d"],
        ] {
            let ctx = format!("[{engine}] {args:?}");
            let tmp = tempfile::tempdir().unwrap();
            let fx = Fx::new(tmp.path());
            hostile(&fx);
            let mut argv = vec!["--engine", engine];
            argv.extend_from_slice(args);
            let out = run(BIN, &argv, tmp.path(), &RunOpts::default());
            assert_outside_untouched(&ctx, tmp.path());
            // The files replaced the symlinks.
            for (name, content) in [
                ("f", "source f"),
                ("abs", "source abs"),
                ("dangling", "source dangling"),
            ] {
                let rel = format!("dst/d/{name}");
                assert!(
                    fx.lstat(&rel).is_file(),
                    "{ctx}: {rel} is not a regular file"
                );
                assert_eq!(fx.read(&rel), content.as_bytes(), "{ctx}");
            }
            if args.contains(&"--sync") {
                // A mirror: the directory takes the symlink's place.
                assert_eq!(out.code, Some(0), "{ctx}: {}", out.stderr_str());
                assert_eq!(fx.read("dst/d/sub/x"), b"source x", "{ctx}");
            } else {
                // cp's refusal: a directory does not replace a non-directory.
                assert_eq!(out.code, Some(1), "{ctx}: {}", out.stderr_str());
                assert!(
                    out.stderr_str().contains(
                        "cannot overwrite non-directory 'dst/d/sub' with directory 'd/sub'"
                    ),
                    "{ctx}: {}",
                    out.stderr_str()
                );
                assert!(fx.lstat("dst/d/sub").file_type().is_symlink(), "{ctx}");
            }
        }
    }
}

#[test]
fn a_symlink_named_as_destination_is_written_through_like_cp() {
    // The user named the link: cp's rule holds (and the test pins it).
    for engine in engines() {
        let env = TestEnv::new();
        env.build(|fx| {
            fx.file("a", 0o644, "new a").file("target", 0o644, "old");
            fx.symlink("link", "target");
        });
        let (ours, gnu) = env.run_both(engine, &["a", "link"], &RunOpts::default());
        assert_eq!(ours.code, gnu.code, "[{engine}]");
        assert_eq!(env.ours.read("target"), b"new a", "[{engine}]");
        assert_eq!(env.gnu.read("target"), b"new a");
    }
}

#[test]
fn a_symlink_loop_under_dereference_is_reported() {
    for engine in engines() {
        let env = TestEnv::new();
        env.build(|fx| {
            fx.file("d/f", 0o644, "f")
                .symlink("d/up", "..")
                .symlink("d/self", ".")
                .symlink("d/a", "b")
                .symlink("d/b", "a");
        });
        let opts = RunOpts {
            timeout: std::time::Duration::from_secs(20),
            ..RunOpts::default()
        };
        let (ours, gnu) = env.run_both(engine, &["-rL", "d", "o"], &opts);
        let ctx = format!("[{engine}] -rL over symlink loops");
        assert_eq!(ours.code, gnu.code, "{ctx}: {}", ours.stderr_str());
        assert_eq!(ours.code, Some(1), "{ctx}");
        let err = ours.stderr_str();
        assert!(
            err.contains("'d/a'") && err.contains("'d/b'"),
            "{ctx}: {err}"
        );
        // `up -> ..` leads to the directory holding d and o: d is found
        // again (a cycle) and o, the destination, is never copied into itself.
        assert!(
            err.contains("'d/self'") && err.contains("'d/up/d/up'"),
            "{ctx}: {err}"
        );
        assert!(err.matches("symlink cycle").count() >= 3, "{ctx}: {err}");
        assert!(
            !env.ours.exists("o/up/o/up"),
            "{ctx}: the destination was copied into itself"
        );
        assert_eq!(env.ours.read("o/f"), b"f", "{ctx}");
    }
}
