//! `--exclude`, `--include`, `--exclude-from` follow rsync's rules: each case
//! runs `rsync -a FILTERS src/ dst/` and `uring-cp -r FILTERS src dst` on
//! the same tree and compares what was copied, on every engine.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn tree(root: &Path) {
    let fx = Fx::new(root.join("src"));
    fx.dir("", 0o755)
        .dir("a", 0o755)
        .dir("a/b", 0o755)
        .dir("a/cache", 0o755)
        .dir("build", 0o755)
        .dir("build/out", 0o755)
        .dir("x", 0o755)
        .dir("x/build", 0o755)
        .dir("x/build/out", 0o755)
        .dir("logs", 0o755)
        .dir("logs/old", 0o755)
        .dir("top", 0o755)
        .dir("a/top", 0o755)
        .file("main.c", 0o644, "int main;")
        .file("main.o", 0o644, "obj")
        .file("keep.o", 0o644, "keep")
        .file("a/util.o", 0o644, "obj")
        .file("a/keep.o", 0o644, "keep")
        .file("a/b/deep.tmp", 0o644, "tmp")
        .file("a/b/deep.c", 0o644, "c")
        .file("cache", 0o644, "a file named cache")
        .file("a/cache/blob", 0o644, "blob")
        .file("build/out/bin", 0o755, "bin")
        .file("x/build/out/bin", 0o755, "bin")
        .file("x/build/keep", 0o644, "k")
        .file("logs/today.log", 0o644, "log")
        .file("logs/old/y.log", 0o644, "log")
        .file("top/t", 0o644, "t")
        .file("a/top/t", 0o644, "t")
        .symlink("link.o", "main.o");
}

fn paths(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = snapshot(root)
        .iter()
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .collect();
    v.sort();
    v
}

fn check(filters: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    std::fs::write(
        tmp.path().join("rules"),
        "# build products\n; another comment\n\n+ keep.o\n- *.o\n*.tmp\n",
    )
    .unwrap();
    let rsync = Command::new("rsync")
        .arg("-a")
        .args(filters)
        .args(["src/", "want/"])
        .current_dir(tmp.path())
        .output()
        .expect("rsync runs");
    assert!(
        rsync.status.success(),
        "rsync {filters:?}: {}",
        show(&rsync.stderr)
    );
    let want = paths(&tmp.path().join("want"));
    for engine in engines() {
        let dst = format!("dst-{engine}");
        let out = Command::new(BIN)
            .args(["--engine", engine, "-r"])
            .args(filters)
            .args(["src", &dst])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "[{engine}] {filters:?}: {}",
            show(&out.stderr)
        );
        assert_eq!(
            paths(&tmp.path().join(&dst)),
            want,
            "[{engine}] {filters:?}: copied set differs from rsync's"
        );
    }
}

#[test]
fn basename_and_directory_patterns_match_rsync() {
    if !have_rsync("filters") {
        return;
    }
    check(&["--exclude", "*.o"]);
    check(&["--exclude", "cache/"]);
    check(&["--exclude", "cache"]);
    check(&["--exclude=logs/***"]);
}

#[test]
fn anchored_and_path_patterns_match_rsync() {
    if !have_rsync("filters") {
        return;
    }
    check(&["--exclude", "/top"]);
    check(&["--exclude", "top"]);
    check(&["--exclude", "build/out"]);
    check(&["--exclude", "/a/*.o"]);
    check(&["--exclude", "a/**.tmp"]);
}

#[test]
fn first_match_wins_in_command_line_order_like_rsync() {
    if !have_rsync("filters") {
        return;
    }
    check(&["--include", "keep.o", "--exclude", "*.o"]);
    check(&["--exclude", "*.o", "--include", "keep.o"]);
    check(&[
        "--include",
        "x/***",
        "--exclude",
        "build/",
        "--exclude=*.tmp",
    ]);
    check(&["--exclude-from", "rules"]);
    check(&[
        "--include=a/keep.o",
        "--exclude-from=rules",
        "--exclude",
        "logs/",
    ]);
}

#[test]
fn bad_filters_are_usage_errors_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    for (args, msg) in [
        (
            &["--exclude", "a["][..],
            "uring-cp: invalid filter pattern 'a['",
        ),
        (
            &["--exclude-from", "missing"][..],
            "uring-cp: cannot read exclude file 'missing': No such file or directory",
        ),
    ] {
        let out = Command::new(BIN)
            .args(args)
            .args(["-r", "src", "dst"])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with(msg), "{args:?}: {err}");
        assert!(
            !tmp.path().join("dst").exists(),
            "{args:?}: nothing may be copied"
        );
    }
}
