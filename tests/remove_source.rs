//! `--remove-source-files` (issue 16) against rsync: after `uring-cp -a --sync
//! --remove-source-files -T src dst` and `rsync -a --remove-source-files src/
//! dst/` on equal trees (part of each already synced), the destinations are
//! equal and so is what is left of the sources (directories only), on every
//! engine. A source that changes after it was copied is kept and reported.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

fn tree(fx: &Fx) {
    fx.dir("", 0o755)
        .file("a", 0o644, "alpha")
        .file("d/b", 0o600, "bravo")
        .file("d/e/c", 0o644, "charlie".repeat(1000))
        .dir("empty", 0o755)
        .symlink("link", "a")
        .fifo("pipe", 0o644);
    fx.set_times("a", (1_600_000_000, 0), (1_600_000_000, 0));
}

/// Every name under `root`, with its type (what `find -printf '%P %y'` says).
fn names(root: &Path) -> Vec<String> {
    let out = Command::new("find")
        .arg(".")
        .args(["-printf", "%P %y\\n"])
        .current_dir(root)
        .output()
        .expect("find");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// `rsync RSYNC_FLAG --remove-source-files src/ dst/` in `t/r` and
/// `uring-cp -a --sync --remove-source-files -T src dst` in `t/u`, each of
/// which must succeed; the context for messages.
fn remove_with_both(t: &Path, engine: &str, rsync_flag: &str) -> String {
    let out = Command::new("rsync")
        .args([rsync_flag, "--remove-source-files", "src/", "dst/"])
        .current_dir(t.join("r"))
        .output()
        .expect("rsync");
    assert!(out.status.success(), "rsync: {}", show(&out.stderr));
    let out = run_uring_cp(
        engine,
        &["-a", "--sync", "--remove-source-files"],
        &["-T", "src", "dst"],
        &t.join("u"),
        &RunOpts::default(),
    );
    let ctx = format!("[{engine}]");
    assert_eq!(out.code, Some(0), "{ctx}: {out}");
    ctx
}

#[test]
fn sources_are_removed_like_rsync() {
    if !have_rsync("--remove-source-files") {
        return;
    }
    for engine in engines() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = tmp.path();
        for side in ["r", "u"] {
            fs::create_dir(t.join(side)).expect("mkdir");
            tree(&Fx::new(t.join(side).join("src")));
            // Half synced already: those names are up to date at the destination.
            let out = Command::new("rsync")
                .args(["-a", "src/", "dst/"])
                .current_dir(t.join(side))
                .output()
                .expect("rsync");
            assert!(out.status.success());
            Fx::new(t.join(side).join("src"))
                .file("new", 0o644, "new")
                .file("d/e/new2", 0o644, "new too");
        }
        let ctx = remove_with_both(t, engine, "-a");
        assert_snapshots_eq(
            &ctx,
            &snapshot(&t.join("u/dst")),
            &snapshot(&t.join("r/dst")),
            "uring-cp",
            "rsync",
        );
        assert_eq!(
            names(&t.join("u/src")),
            names(&t.join("r/src")),
            "{ctx}: what is left of the source (uring-cp, rsync)"
        );
        assert!(
            names(&t.join("u/src")).iter().all(|n| n.ends_with(" d")),
            "{ctx}: {:?}",
            names(&t.join("u/src"))
        );
    }
}

/// A source appended to after its copy was written (strace holds the run at
/// the copy's first `utimensat`, before the rename and the removal) is kept
/// and reported; the copy is the complete old version; the run exits 1.
#[test]
fn a_source_changed_after_its_copy_is_kept() {
    if !has_command("strace") {
        skip("--remove-source-files: strace is not installed (.ci/run installs it)");
        return;
    }
    for engine in engines() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = tmp.path();
        fs::write(t.join("f"), b"version one\n").expect("write");
        let mut cmd = Command::new("strace");
        cmd.args([
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=utimensat",
            "-e",
            "inject=utimensat:delay_enter=1000000:when=1",
            BIN,
        ])
        .args(engine_args(engine))
        .args(["-a", "--sync", "--remove-source-files", "f", "g"])
        .current_dir(t)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        let child = cmd.spawn().expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(500));
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(t.join("f"))
            .expect("open");
        std::io::Write::write_all(&mut f, b"version two\n").expect("append");
        drop(f);
        let out = child.wait_with_output().expect("wait");
        let ctx = format!("[{engine}]");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{ctx}: {err}");
        assert!(
            err.contains("cannot remove 'f': it changed after it was copied; left in place"),
            "{ctx}: {err}"
        );
        assert_eq!(
            fs::read(t.join("f")).expect("source"),
            b"version one\nversion two\n",
            "{ctx}"
        );
        assert_eq!(
            fs::read(t.join("g")).expect("copy"),
            b"version one\n",
            "{ctx}"
        );
    }
}

/// A source is removed because its copy is already there only when the
/// two agree to the nanosecond: a destination on a filesystem with coarser
/// times (here: no nanoseconds) passes the quick check in whole seconds, so
/// it is not copied again, but its source is not deleted on that basis; it
/// is left as it was (the bytes differ here).
#[test]
fn a_source_is_not_removed_on_a_whole_second_match() {
    for engine in engines() {
        let tmp = tempfile::tempdir().unwrap();
        let fx = Fx::new(tmp.path());
        fx.dir("src", 0o755)
            .file("src/f", 0o644, "new bytes")
            .set_times("src/f", (1_600_000_000, 5), (1_600_000_000, 500_000_000))
            .dir("dst", 0o755)
            .file("dst/f", 0o644, "old bytes")
            .set_times("dst/f", (1_600_000_000, 0), (1_600_000_000, 0));
        let out = run_uring_cp(
            engine,
            &["-a", "--sync", "--remove-source-files", "-T"],
            &["src", "dst"],
            tmp.path(),
            &RunOpts::default(),
        );
        assert_eq!(out.code, Some(0), "[{engine}] {out}");
        assert_eq!(
            fx.read("src/f"),
            b"new bytes",
            "[{engine}] the source was removed"
        );
        assert_eq!(fx.read("dst/f"), b"old bytes", "[{engine}]");
    }
}

#[test]
fn remove_source_files_refuses_basis_directories() {
    let tmp = tempfile::tempdir().expect("tempdir");
    tree(&Fx::new(tmp.path().join("src")));
    let out = run_uring_cp(
        "portable",
        &["-a", "--sync", "--remove-source-files", "--link-dest=x"],
        &["-T", "src", "dst"],
        tmp.path(),
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(1), "{out}");
    assert!(tmp.path().join("src/a").exists());
}

/// Files with several names (regular files and symlinks, 200 of each, their
/// names in two directories): every name is removed from the source, and
/// the copies stay one file each, as rsync -aH. Two defects: a name linked
/// to a copy still being made kept its source, and a name met after its
/// file's first name was removed from the source (its link count dropped
/// to one) was copied as a file of its own. Both depend on timing; 200
/// files of each make them likely on every engine.
#[test]
fn every_name_of_a_linked_file_is_removed_and_the_copies_stay_linked_like_rsync() {
    if !have_rsync("--remove-source-files -H") {
        return;
    }
    for engine in engines() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = tmp.path();
        for side in ["r", "u"] {
            fs::create_dir(t.join(side)).expect("mkdir");
            let fx = Fx::new(t.join(side).join("src"));
            fx.dir("", 0o755).dir("x", 0o755).dir("y", 0o755);
            for i in 0..200 {
                fx.file(format!("x/f{i}"), 0o644, format!("file {i}"))
                    .hardlink(format!("x/f{i}"), format!("y/f{i}"))
                    .symlink(format!("x/l{i}"), format!("target {i}"))
                    .hardlink(format!("x/l{i}"), format!("y/l{i}"));
            }
        }
        let ctx = remove_with_both(t, engine, "-aH");
        assert_eq!(
            names(&t.join("u/src")),
            names(&t.join("r/src")),
            "{ctx}: what is left of the source (uring-cp, rsync)"
        );
        assert_links_eq(
            &format!("{ctx} (rsync's as \"GNU cp\")"),
            &t.join("u/dst"),
            &t.join("r/dst"),
        );
    }
}
