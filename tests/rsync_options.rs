//! rsync options of sync mode that need no harness of their own (issue 16),
//! each against rsync on every engine: `--delete-excluded`, `-x` with a
//! filesystem mounted inside the source, `--numeric-ids`.

mod common;

use common::mount::Mount;
use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

fn rsync(args: &[&str], cwd: &Path) {
    let out = Command::new("rsync")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("rsync");
    assert!(
        out.status.success(),
        "rsync {args:?}: {}",
        show(&out.stderr)
    );
}

/// `rsync -a OPTIONS src/ want/` and `uring-cp -a --sync OPTIONS -T src dst`
/// (each destination prepared by `prepare` first) give equal trees.
fn compare(ctx: &str, engine: &str, t: &Path, options: &[&str], prepare: &dyn Fn(&Path)) {
    let _ = std::fs::remove_dir_all(t.join("want"));
    let _ = std::fs::remove_dir_all(t.join("dst"));
    prepare(&t.join("want"));
    prepare(&t.join("dst"));
    let mut r = vec!["-a"];
    r.extend_from_slice(options);
    r.extend(["src/", "want/"]);
    rsync(&r, t);
    let mut flags = vec!["-a", "--sync"];
    flags.extend_from_slice(options);
    let out = run_uring_cp(
        engine,
        &flags,
        &["-T", "src", "dst"],
        t,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(0), "{ctx}: {out}");
    assert_snapshots_eq(
        ctx,
        &snapshot(&t.join("dst")),
        &snapshot(&t.join("want")),
        "uring-cp",
        "rsync",
    );
}

#[test]
fn delete_excluded_deletes_what_the_filter_excludes() {
    if !have_rsync("--delete-excluded") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("keep.c", 0o644, "int x;")
        .file("build/tmp.o", 0o644, "obj")
        .file("build/main.c", 0o644, "int main;");
    let prepare = |d: &Path| {
        Fx::new(d)
            .dir("", 0o755)
            .file("build/tmp.o", 0o644, "old obj")
            .file("build/local.o", 0o644, "mine")
            .file("extra", 0o644, "not in the source");
    };
    for engine in engines() {
        for options in [
            &["--delete", "--exclude", "*.o"][..],
            &["--delete-excluded", "--exclude", "*.o"],
        ] {
            let ctx = format!("[{engine}] {options:?}");
            compare(&ctx, engine, t, options, &prepare);
            let kept = t.join("dst/build/local.o").exists();
            assert_eq!(
                kept,
                options[0] == "--delete",
                "{ctx}: excluded entries protected only without --delete-excluded"
            );
            assert!(!t.join("dst/extra").exists(), "{ctx}");
        }
    }
}

#[test]
fn one_file_system_stops_at_a_mount_like_rsync() {
    if !have_rsync("-x") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("top", 0o644, "top")
        .dir("mnt", 0o755);
    let mount = match Mount::tmpfs(&t.join("src/mnt"), "1m") {
        Ok(m) => m,
        Err(why) => {
            skip(&format!("-x: {why}"));
            return;
        }
    };
    Fx::new(&mount.path)
        .file("inside", 0o644, "on another filesystem")
        .dir("deep", 0o755);
    for engine in engines() {
        compare(&format!("[{engine}] -x"), engine, t, &["-x"], &|_| {});
        assert!(
            t.join("dst/mnt").is_dir(),
            "[{engine}] the mount point is made"
        );
        assert!(
            !t.join("dst/mnt/inside").exists(),
            "[{engine}] -x crossed into the mount"
        );
    }
}

#[test]
fn numeric_ids_keep_the_ids_like_rsync() {
    if !have_rsync("--numeric-ids") {
        return;
    }
    if !is_root() {
        skip("--numeric-ids: needs root to own files as another user");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let fx = Fx::new(t.join("src"));
    fx.dir("", 0o755).file("f", 0o644, "data").symlink("l", "f");
    fx.chown_nobody();
    for engine in engines() {
        compare(
            &format!("[{engine}] --numeric-ids"),
            engine,
            t,
            &["--numeric-ids"],
            &|_| {},
        );
        for name in ["f", "l", ""] {
            let ids = |root: &str| {
                let md = std::fs::symlink_metadata(t.join(root).join(name)).expect("lstat");
                (md.uid(), md.gid())
            };
            assert_eq!(
                ids("dst"),
                ids("want"),
                "[{engine}] {name}: owner (uring-cp, rsync)"
            );
            assert_eq!(
                ids("dst"),
                ids("src"),
                "[{engine}] {name}: owner (uring-cp, source)"
            );
        }
    }
}
