//! Basis directories (issue 16) against rsync: `uring-cp -a --sync --delete
//! --link-dest=DIR -T src dst` (and `--compare-dest`, `--copy-dest`) must give
//! the tree, the modification times and, for `--link-dest`, the inode sharing
//! (link counts, which names are links of the basis) that `rsync -a --delete
//! --link-dest=DIR src/ dst/` gives, on every engine; so must a rotation of
//! seven daily snapshots. `--clone-dest` (no rsync equivalent) gives the same
//! trees as rsync's `--link-dest`, but every unchanged file is an independent
//! inode sharing its twin's blocks (xfs and btrfs images); it is refused where
//! nothing can be cloned.

mod common;

use common::mount::LoopFs;
use common::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

const DAY: i64 = 86_400;
const T0: i64 = 1_600_000_000;

/// The first day's tree: every kind of entry the basis options treat
/// differently (files that will change in size, in content only, in mode, or
/// not at all; a symlink, a FIFO, an empty file, a file of several blocks).
fn day0(fx: &Fx) {
    let mut rng = Rng(16);
    fx.dir("", 0o755)
        .dir("empty", 0o755)
        .file("docs/a.txt", 0o644, "alpha")
        .file("docs/b.txt", 0o644, "bravo")
        .file("docs/deep/c.txt", 0o644, "charlie ".repeat(2000))
        .file("bin/tool.sh", 0o755, "#!/bin/sh\necho hi\n")
        .file("same-size", 0o644, "12345")
        .file("perm", 0o644, "mode changes")
        .file("zero", 0o644, "")
        .file("big", 0o640, rng.bytes(300_000))
        .symlink("link", "docs/a.txt")
        .fifo("pipe", 0o644);
    for rel in [
        "docs/a.txt",
        "docs/b.txt",
        "docs/deep/c.txt",
        "bin/tool.sh",
        "same-size",
        "perm",
        "zero",
        "big",
    ] {
        fx.set_times(rel, (T0, 0), (T0, 0));
    }
}

/// What changes on day `d` (1..): sizes, contents with the same size, a
/// mode, a new file and an old one gone, a retargeted symlink.
fn change(root: &Path, d: i64) {
    let fx = Fx::new(root);
    fx.file("docs/a.txt", 0o644, format!("alpha on day {d}"));
    fx.set_times("docs/a.txt", (T0 + d * DAY, 0), (T0 + d * DAY, 0));
    fx.file("same-size", 0o644, format!("{:05}", d % 100_000));
    fx.set_times("same-size", (T0 + d * DAY, 0), (T0 + d * DAY, 0));
    fx.chmod("perm", if d % 2 == 1 { 0o600 } else { 0o644 });
    fx.file(format!("new-{d}"), 0o644, format!("made on day {d}"));
    fx.set_times(format!("new-{d}"), (T0 + d * DAY, 0), (T0 + d * DAY, 0));
    let _ = fs::remove_file(root.join(format!("new-{}", d - 2)));
    fs::remove_file(root.join("link")).expect("rm link");
    fx.symlink(
        "link",
        if d % 2 == 0 {
            "docs/a.txt"
        } else {
            "docs/b.txt"
        },
    );
}

/// `rsync -a --delete OPTION src/ DST/` and `uring-cp -a --sync --delete
/// OPTION -T src DST` (in `cwd`); returns our stdout.
fn both(engine: &str, option: &str, cwd: &Path, r_dst: &str, u_dst: &str, itemize: bool) -> String {
    let mut r = vec!["-a".to_string(), "--delete".into()];
    r.extend((!option.is_empty()).then(|| option.to_string()));
    r.extend(["src/".to_string(), format!("{r_dst}/")]);
    rsync(&r.iter().map(String::as_str).collect::<Vec<_>>(), cwd);
    let mut flags = vec!["-a", "--sync", "--delete"];
    if !option.is_empty() {
        flags.push(option);
    }
    if itemize {
        flags.push("--itemize-changes");
    }
    let out = run_uring_cp(
        engine,
        &flags,
        &["-T", "src", u_dst],
        cwd,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(0), "[{engine}] {option}: {out}");
    assert!(out.stderr.is_empty(), "[{engine}] {option}: {out}");
    out.stdout_str()
}

/// Path -> modification time (seconds) of every entry under `root`, but
/// the root itself.
fn mtimes(root: &Path) -> Vec<(String, i64)> {
    let mut v = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).expect("read_dir") {
            let p = e.expect("entry").path();
            let md = fs::symlink_metadata(&p).expect("lstat");
            if md.is_dir() {
                stack.push(p.clone());
            }
            let rel = p.strip_prefix(root).expect("under root");
            v.push((rel.display().to_string(), md.mtime()));
        }
    }
    v.sort();
    v
}

/// Path -> (link count, same inode as the name in `basis`) of every
/// non-directory under `root`.
fn sharing(root: &Path, basis: &Path) -> Vec<(String, u64, bool)> {
    let mut v: Vec<_> = mtimes(root)
        .into_iter()
        .filter_map(|(rel, _)| {
            let md = fs::symlink_metadata(root.join(&rel)).expect("lstat");
            if md.is_dir() {
                return None;
            }
            let twin = fs::symlink_metadata(basis.join(&rel)).ok();
            let same = twin.is_some_and(|t| (t.dev(), t.ino()) == (md.dev(), md.ino()));
            Some((rel, md.nlink(), same))
        })
        .collect();
    v.sort();
    v
}

/// The trees at `r` (rsync's) and `u` (ours) are equal: entries, contents,
/// modes, symlink targets, modification times.
fn assert_same_trees(ctx: &str, r: &Path, u: &Path) {
    assert_snapshots_eq(ctx, &snapshot(u), &snapshot(r), "uring-cp", "rsync");
    let (ours, theirs) = (mtimes(u), mtimes(r));
    assert_eq!(ours, theirs, "{ctx}: modification times (uring-cp, rsync)");
}

/// For each option: a previous snapshot made from day 0, a destination that
/// holds day 0 with one file gone stale, then day 1 synced with the option.
/// Twice: the second run changes nothing.
#[test]
fn basis_options_give_rsyncs_trees() {
    if !have_rsync("--link-dest, --compare-dest, --copy-dest") {
        return;
    }
    for engine in engines() {
        for option in [
            "--link-dest=../prev",
            "--compare-dest=../prev",
            "--copy-dest=../prev",
        ] {
            let tmp = tempfile::tempdir().expect("tempdir");
            let t = tmp.path();
            day0(&Fx::new(t.join("src")));
            for side in ["r", "u"] {
                fs::create_dir(t.join(side)).expect("mkdir");
                rsync(&["-a", "src/", &format!("{side}/prev/")], t);
                rsync(&["-a", "src/", &format!("{side}/dst/")], t);
                // A destination file that differs from both (it is replaced).
                Fx::new(t.join(side).join("dst")).file("docs/b.txt", 0o644, "STALE!");
            }
            change(&t.join("src"), 1);
            let ctx = format!("[{engine}] {option}");
            for round in 0..2 {
                let ctx = format!("{ctx} round {round}");
                let said = both(engine, option, t, "r/dst", "u/dst", true);
                assert_same_trees(&ctx, &t.join("r/dst"), &t.join("u/dst"));
                assert_same_trees(&ctx, &t.join("r/prev"), &t.join("u/prev"));
                let (r, u) = (
                    sharing(&t.join("r/dst"), &t.join("r/prev")),
                    sharing(&t.join("u/dst"), &t.join("u/prev")),
                );
                assert_eq!(
                    u, r,
                    "{ctx}: (link count, linked to prev) per name (uring-cp, rsync)"
                );
                if option.starts_with("--link-dest") {
                    assert!(
                        u.iter().any(|(_, _, linked)| *linked),
                        "{ctx}: nothing linked"
                    );
                    if round == 0 {
                        assert!(
                            said.contains("linked file - 'u/dst/docs/deep/c.txt'"),
                            "{ctx}: {said}"
                        );
                        // Stale at the destination, unchanged in the basis.
                        assert!(
                            said.contains("linked file - 'u/dst/docs/b.txt'"),
                            "{ctx}: {said}"
                        );
                    }
                } else {
                    assert!(u.iter().all(|(_, _, linked)| !*linked), "{ctx}: {u:?}");
                }
                if round == 1 {
                    assert_eq!(said, "", "{ctx}: a second run changed something");
                }
            }
        }
    }
}

/// Seven daily snapshots of a changing tree, each linked to the day before:
/// the same trees and the same hard-link structure across all seven as
/// rsync's (which names of which days are one inode).
#[test]
fn seven_daily_snapshots_like_rsync() {
    if !have_rsync("--link-dest snapshots") {
        return;
    }
    for engine in engines() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = tmp.path();
        day0(&Fx::new(t.join("src")));
        for side in ["r", "u"] {
            fs::create_dir(t.join(side)).expect("mkdir");
        }
        for d in 0..7 {
            if d > 0 {
                change(&t.join("src"), d);
            }
            let option = match d {
                0 => String::new(),
                _ => format!("--link-dest=../day{}", d - 1),
            };
            let (r, u) = (format!("r/day{d}"), format!("u/day{d}"));
            both(engine, &option, t, &r, &u, false);
            let ctx = format!("[{engine}] day {d}");
            assert_same_trees(&ctx, &t.join(&r), &t.join(&u));
            assert_snapshots_eq(
                &ctx,
                &snapshot(&t.join(&u)),
                &snapshot(&t.join("src")),
                "uring-cp",
                "source",
            );
        }
        let (theirs, ours) = (link_groups(&t.join("r")), link_groups(&t.join("u")));
        assert!(!ours.is_empty(), "[{engine}] no links at all");
        assert_eq!(
            ours, theirs,
            "[{engine}] hard links across the seven days (uring-cp, rsync)"
        );
        for d in 0..7 {
            assert_eq!(
                sharing(&t.join(format!("u/day{d}")), &t.join("u/day0")),
                sharing(&t.join(format!("r/day{d}")), &t.join("r/day0")),
                "[{engine}] day {d}: link counts"
            );
        }
    }
}

/// `--clone-dest` on xfs and btrfs: three daily snapshots whose trees are
/// rsync `--link-dest`'s, but whose unchanged files are new inodes (link
/// count 1) sharing their twin's extents; a chmod in one snapshot leaves
/// the others alone (the trap of hard-link snapshots).
#[test]
fn clone_dest_snapshots_are_independent_and_share_blocks() {
    if !have_rsync("--clone-dest snapshots") {
        return;
    }
    if !has_command("filefrag") {
        skip("--clone-dest: filefrag is not installed (e2fsprogs)");
        return;
    }
    for fs_type in ["xfs", "btrfs"] {
        let mnt = match LoopFs::new(fs_type) {
            Ok(m) => m,
            Err(why) => {
                skip(&format!("--clone-dest on {fs_type}: {why}"));
                continue;
            }
        };
        let t = mnt.path();
        for engine in engines() {
            let _ = fs::remove_dir_all(t.join("src"));
            day0(&Fx::new(t.join("src")));
            for side in ["r", "u"] {
                let _ = fs::remove_dir_all(t.join(side));
                fs::create_dir(t.join(side)).expect("mkdir");
            }
            for d in 0..3 {
                if d > 0 {
                    change(&t.join("src"), d);
                }
                let (r, u) = (format!("r/day{d}"), format!("u/day{d}"));
                let (link, clone) = match d {
                    0 => (String::new(), String::new()),
                    _ => (
                        format!("--link-dest=../day{}", d - 1),
                        format!("--clone-dest=../day{}", d - 1),
                    ),
                };
                let mut args = vec!["-a".to_string(), "--delete".into()];
                args.extend((d > 0).then(|| link.clone()));
                args.extend(["src/".to_string(), format!("{r}/")]);
                rsync(&args.iter().map(String::as_str).collect::<Vec<_>>(), t);
                let mut flags = vec!["-a", "--sync", "--delete", "--itemize-changes"];
                if d > 0 {
                    flags.push(&clone);
                }
                let out = run_uring_cp(
                    engine,
                    &flags,
                    &["-T", "src", u.as_str()],
                    t,
                    &RunOpts::default(),
                );
                let ctx = format!("[{fs_type}, {engine}] day {d}");
                assert_eq!(out.code, Some(0), "{ctx}: {out}");
                assert_same_trees(&ctx, &t.join(&r), &t.join(&u));
                if d == 0 {
                    continue;
                }
                // Where rsync linked a file to the day before, ours is a clone.
                let prev_u = t.join(format!("u/day{}", d - 1));
                let linked = sharing(&t.join(&r), &t.join(format!("r/day{}", d - 1)));
                assert!(
                    linked.iter().any(|(_, _, l)| *l),
                    "{ctx}: rsync linked nothing"
                );
                for (rel, _, was_linked) in linked {
                    let md = fs::symlink_metadata(t.join(&u).join(&rel)).expect("lstat");
                    let twin = fs::symlink_metadata(prev_u.join(&rel)).ok();
                    if twin.as_ref().is_some_and(|tw| tw.ino() == md.ino()) {
                        panic!("{ctx}: {rel} is a hard link of the day before");
                    }
                    if !was_linked || !md.is_file() {
                        continue;
                    }
                    assert_eq!(md.nlink(), 1, "{ctx}: {rel}");
                    assert!(
                        out.stdout_str()
                            .contains(&format!("cloned file - '{u}/{rel}'")),
                        "{ctx}: {rel}: {out}"
                    );
                    // Files of several blocks (btrfs keeps tiny ones inline, unshared).
                    if md.len() >= 16_384 {
                        assert!(
                            common::mount::shared_extents(&t.join(&u).join(&rel)) > 0,
                            "{ctx}: {rel} shares no extent"
                        );
                    }
                }
            }
            // Independent inodes: a chmod of today's copy leaves yesterday's.
            let (today, yesterday) = (
                t.join("u/day2/docs/deep/c.txt"),
                t.join("u/day1/docs/deep/c.txt"),
            );
            fs::set_permissions(&today, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .expect("chmod");
            let mode = fs::symlink_metadata(&yesterday).expect("lstat").mode() & 0o7777;
            assert_eq!(
                mode, 0o644,
                "[{fs_type}, {engine}] the day before changed too"
            );
        }
    }
}

/// Where nothing can be cloned (ext4), `--clone-dest` is refused before
/// anything is made; so is `--clone-dest` with `--reflink=never`.
#[test]
fn clone_dest_is_refused_where_nothing_clones() {
    let mnt = match LoopFs::new("ext4") {
        Ok(m) => m,
        Err(why) => {
            skip(&format!("--clone-dest on ext4: {why}"));
            return;
        }
    };
    let t = mnt.path();
    day0(&Fx::new(t.join("src")));
    Fx::new(t.join("day0")).dir("", 0o755).file("f", 0o644, "x");
    for engine in engines() {
        let out = run_uring_cp(
            engine,
            &["-a", "--sync", "--clone-dest=../day0"],
            &["-T", "src", "day1"],
            t,
            &RunOpts::default(),
        );
        assert_eq!(out.code, Some(1), "[{engine}] {out}");
        let err = out.stderr_str();
        assert!(
            err.contains("--clone-dest '../day0': cannot clone into 'day1': ext4 cannot clone"),
            "[{engine}] {out}"
        );
        assert!(
            !t.join("day1").exists(),
            "[{engine}] made the destination anyway"
        );
    }
    refused(
        t,
        &["-a", "--sync", "--clone-dest=x", "--reflink=never"],
        "--clone-dest cannot be used with --reflink=never",
    );
}

/// `uring-cp --engine portable FLAGS -T src d` in `t` is refused: status 1
/// and `message` on stderr.
fn refused(t: &Path, flags: &[&str], message: &str) {
    let out = run_uring_cp(
        "portable",
        flags,
        &["-T", "src", "d"],
        t,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr_str().contains(message), "{out}");
}

/// rsync's rules around the options: a missing basis directory is a warning
/// (the first snapshot of a rotation has none) and the copy is whole; two
/// kinds at once are a usage error, as with rsync (status 1).
#[test]
fn missing_basis_warns_and_mixed_kinds_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    day0(&Fx::new(t.join("src")));
    for engine in engines() {
        let dst = format!("dst-{engine}");
        let out = run_uring_cp(
            engine,
            &["-a", "--sync", "--link-dest=../nope"],
            &["-T", "src", dst.as_str()],
            t,
            &RunOpts::default(),
        );
        assert_eq!(out.code, Some(0), "[{engine}] {out}");
        assert!(
            out.stderr_str()
                .contains("--link-dest arg does not exist: ../nope"),
            "[{engine}] {out}"
        );
        assert_snapshots_eq(
            &format!("[{engine}]"),
            &snapshot(&t.join(&dst)),
            &snapshot(&t.join("src")),
            "copy",
            "source",
        );
    }
    refused(
        t,
        &["-a", "--sync", "--link-dest=a", "--compare-dest=b"],
        "the --compare-dest option conflicts with the --link-dest option",
    );
    if have_rsync("mixed basis options") {
        let r = Command::new("rsync")
            .args(["-a", "--link-dest=a", "--compare-dest=b", "src/", "r/"])
            .current_dir(t)
            .output()
            .expect("rsync");
        assert_eq!(r.status.code(), Some(1), "rsync refuses it too");
    }
    let many: Vec<String> = (0..21).map(|i| format!("--link-dest=d{i}")).collect();
    let mut flags = vec!["-a", "--sync"];
    flags.extend(many.iter().map(String::as_str));
    refused(t, &flags, "at most 20 --link-dest directories");
}

/// `--dry-run` with `--link-dest` says which files would be linked and
/// makes nothing.
#[test]
fn dry_run_says_what_would_be_linked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    day0(&Fx::new(t.join("src")));
    let out = run_uring_cp(
        "portable",
        &["-a", "--sync"],
        &["-T", "src", "prev"],
        t,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(0), "{out}");
    change(&t.join("src"), 1);
    for engine in engines() {
        let out = run_uring_cp(
            engine,
            &[
                "-a",
                "--sync",
                "--dry-run",
                "--itemize-changes",
                "--link-dest=../prev",
            ],
            &["-T", "src", "next"],
            t,
            &RunOpts::default(),
        );
        assert_eq!(out.code, Some(0), "[{engine}] {out}");
        let said = out.stdout_str();
        assert!(
            said.contains("linked file - 'next/docs/deep/c.txt'"),
            "[{engine}] {said}"
        );
        assert!(
            said.contains("new file - 'next/docs/a.txt'"),
            "[{engine}] {said}"
        );
        assert!(
            !t.join("next").exists(),
            "[{engine}] --dry-run made the destination"
        );
    }
}

/// With `--inplace` (no temporary names, so the ring engines' own read
/// paths are open to files) a twin is still linked, never read and copied.
#[test]
fn twins_are_linked_on_every_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    day0(&Fx::new(t.join("src")));
    let out = run_uring_cp(
        "portable",
        &["-a", "--sync"],
        &["-T", "src", "prev"],
        t,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(0), "{out}");
    for engine in engines_and_ring_reads() {
        for extra in [
            &["--inplace"][..],
            &["--inplace", "--no-preserve=all", "--preserve=timestamps"],
        ] {
            let dst = format!("dst-{engine}-{}", extra.len());
            let mut flags = vec!["-a", "--sync", "--link-dest=../prev"];
            flags.extend_from_slice(extra);
            let out = run_uring_cp(
                engine,
                &flags,
                &["-T", "src", dst.as_str()],
                t,
                &RunOpts::default(),
            );
            let ctx = format!("[{engine}] {extra:?}");
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            for rel in ["docs/a.txt", "docs/deep/c.txt", "big", "zero"] {
                let (a, b) = (
                    fs::metadata(t.join(&dst).join(rel)).expect("stat copy"),
                    fs::metadata(t.join("prev").join(rel)).expect("stat twin"),
                );
                assert_eq!(a.ino(), b.ino(), "{ctx}: {rel} is not a link of its twin");
            }
        }
    }
}

/// `--compare-dest` removes an up-to-date destination file that equals its
/// twin, as rsync does, and, as rsync, does not count such removals against
/// `--max-delete` (the same bytes are in the basis; uring-cp counted them
/// and stopped after one).
#[test]
fn compare_dest_removals_are_not_counted_by_max_delete_like_rsync() {
    if !have_rsync("--compare-dest") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("a", 0o644, "a")
        .file("b", 0o644, "b")
        .file("c", 0o644, "c");
    let left = |d: &str| {
        ["a", "b", "c"]
            .iter()
            .filter(|n| t.join(d).join(n).exists())
            .count()
    };
    for engine in engines() {
        for d in ["base", "dst", "want"] {
            let _ = fs::remove_dir_all(t.join(d));
            let out = run_uring_cp(engine, &["-a"], &["-T", "src", d], t, &RunOpts::default());
            assert_eq!(out.code, Some(0), "[{engine}] {out}");
        }
        let out = run_uring_cp(
            engine,
            &["-a", "--sync", "--compare-dest=../base", "--max-delete=1"],
            &["-T", "src", "dst"],
            t,
            &RunOpts::default(),
        );
        rsync(
            &[
                "-a",
                "--compare-dest=../base",
                "--max-delete=1",
                "src/",
                "want/",
            ],
            t,
        );
        assert_eq!(out.code, Some(0), "[{engine}] {out}");
        assert_eq!(
            (left("dst"), left("want")),
            (0, 0),
            "[{engine}] all three removed"
        );
    }
}

/// File operands take their twins too (`uring-cp --sync --link-dest=../prev
/// f g dst/`), as rsync's do: an unchanged one is linked, a changed one
/// copied; one copied under another name has no twin (said).
#[test]
fn file_operands_take_their_twins_like_rsync() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("f", 0o644, "same")
        .file("g", 0o644, "changed");
    Fx::new(t.join("prev"))
        .dir("", 0o755)
        .file("g", 0o644, "older");
    fs::copy(t.join("src/f"), t.join("prev/f")).expect("copy");
    let m = fs::metadata(t.join("src/f")).expect("stat");
    fs::File::options()
        .write(true)
        .open(t.join("prev/f"))
        .and_then(|f| f.set_modified(m.modified()?))
        .expect("mtime");
    let prev_f = fs::metadata(t.join("prev/f")).expect("stat").ino();
    let have_rsync = have_rsync("--link-dest with file operands");
    for engine in engines() {
        let ctx = format!("[{engine}] file operands");
        for d in ["want", "dst"] {
            let _ = fs::remove_dir_all(t.join(d));
            fs::create_dir(t.join(d)).expect("mkdir");
        }
        let out = run_uring_cp(
            engine,
            &["-a", "--sync", "--itemize-changes", "--link-dest=../prev"],
            &["src/f", "src/g", "dst/"],
            t,
            &RunOpts::default(),
        );
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        assert!(
            out.stdout_str().contains("linked file - 'dst/f'"),
            "{ctx}: {out}"
        );
        let ino = |p: &str| fs::metadata(t.join(p)).expect("stat").ino();
        assert_eq!(ino("dst/f"), prev_f, "{ctx}: linked to its twin");
        assert_ne!(
            ino("dst/g"),
            ino("prev/g"),
            "{ctx}: a changed file is copied"
        );
        assert_eq!(fs::read(t.join("dst/g")).expect("g"), b"changed", "{ctx}");
        if have_rsync {
            rsync(&["-a", "--link-dest=../prev", "src/f", "src/g", "want/"], t);
            assert_eq!(ino("want/f"), prev_f, "{ctx}: rsync links it too");
            assert_same_trees(&ctx, &t.join("want"), &t.join("dst"));
        }
    }
    let out = run_uring_cp(
        "portable",
        &["-a", "--sync", "--link-dest=../prev"],
        &["src/f", "dst/h"],
        t,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("warning: 'src/f' is copied under another name: not taken from a basis"),
        "{out}"
    );
}

/// `-a --size-only` takes a twin only when its time is the source's too, as
/// rsync does: `f`, a twin of the same size but another time, is copied with
/// the source's time (a new inode, not a link; not left out), and `g`, the
/// same size and time, is taken (linked, left out, copied from the twin).
/// uring-cp linked or copied `f`'s twin and kept the twin's time. Where the
/// twin's bytes differ, rsync copies the twin's bytes under the source's
/// time, a copy every later quick check takes for the source's; uring-cp
/// copies the source's (a difference on purpose: README, Sync mode).
#[test]
fn size_only_takes_no_twin_of_another_time_like_rsync() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let fx = Fx::new(t.join("src"));
    fx.dir("", 0o755)
        .file("f", 0o644, "hello")
        .file("g", 0o644, "same!");
    let base = Fx::new(t.join("base"));
    base.dir("", 0o755)
        .file("f", 0o644, "HELLO")
        .file("g", 0o644, "same!");
    fx.set_times("f", (T0 + DAY, 0), (T0 + DAY, 0));
    base.set_times("f", (T0, 0), (T0, 0));
    for x in [&fx, &base] {
        x.set_times("g", (T0, 0), (T0, 0));
    }
    let have_rsync = have_rsync("--size-only with basis directories");
    for engine in engines() {
        for option in ["--link-dest", "--compare-dest", "--copy-dest"] {
            let ctx = format!("[{engine}] --size-only {option}");
            let option = format!("{option}=../base");
            for d in ["want", "dst"] {
                let _ = fs::remove_dir_all(t.join(d));
            }
            let out = sync_src_to_dst(engine, t, &["--size-only", &option]);
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            assert!(out.stderr.is_empty(), "{ctx}: {out}");
            let md = fs::metadata(t.join("dst/f")).expect("stat dst/f");
            assert_eq!(fs::read(t.join("dst/f")).expect("f"), b"hello", "{ctx}");
            assert_eq!((md.mtime(), md.nlink()), (T0 + DAY, 1), "{ctx}: f");
            let g = t.join("dst/g");
            match option.starts_with("--link-dest") {
                true => assert_eq!(
                    fs::metadata(&g).expect("stat dst/g").ino(),
                    fs::metadata(t.join("base/g")).expect("stat base/g").ino(),
                    "{ctx}: g is linked to its twin"
                ),
                false => assert_eq!(
                    g.exists(),
                    option.starts_with("--copy-dest"),
                    "{ctx}: g is left out, or copied"
                ),
            }
            if have_rsync {
                rsync(&["-a", "--size-only", &option, "src/", "want/"], t);
                let theirs = fs::metadata(t.join("want/f")).expect("stat want/f");
                assert_eq!(
                    (theirs.mtime(), theirs.nlink()),
                    (md.mtime(), md.nlink()),
                    "{ctx}: f's time and link count are rsync's"
                );
                assert_eq!(g.exists(), t.join("want/g").exists(), "{ctx}: g");
                assert_eq!(
                    fs::read(t.join("want/f")).expect("want/f"),
                    b"HELLO",
                    "{ctx}: rsync now copies the source's bytes: drop the difference (README)"
                );
            }
        }
    }
}

/// A destination file that `--ignore-existing`, or `-u` (it is newer than
/// the source), keeps is neither replaced by a link to its twin
/// (`--link-dest`) nor removed as equal to it (`--compare-dest`), as with
/// rsync; uring-cp did both, on every engine, losing the data those options
/// are there to keep. Compared with rsync where it is here.
#[test]
fn files_kept_by_ignore_existing_or_update_are_not_replaced_by_twins_like_rsync() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    for d in ["src", "base"] {
        Fx::new(t.join(d))
            .dir("", 0o755)
            .file("f", 0o644, "hello")
            .set_times("f", (T0, 0), (T0, 0));
    }
    let have_rsync = have_rsync("--ignore-existing and -u with basis directories");
    for engine in engines() {
        for kept in ["--ignore-existing", "-u"] {
            for option in ["--link-dest", "--compare-dest", "--copy-dest"] {
                let ctx = format!("[{engine}] {kept} {option}");
                let option = format!("{option}=../base");
                let mut outcomes = Vec::new();
                for d in ["dst", "want"] {
                    if d == "want" && !have_rsync {
                        continue;
                    }
                    let _ = fs::remove_dir_all(t.join(d));
                    Fx::new(t.join(d))
                        .dir("", 0o755)
                        .file("f", 0o644, "the user's newer data")
                        .set_times("f", (T0 + DAY, 0), (T0 + DAY, 0));
                    match d {
                        "dst" => {
                            let out = sync_src_to_dst(engine, t, &[kept, &option]);
                            assert_eq!(out.code, Some(0), "{ctx}: {out}");
                            assert!(out.stderr.is_empty(), "{ctx}: {out}");
                        }
                        _ => rsync(&["-a", kept, &option, "src/", "want/"], t),
                    }
                    let f = t.join(d).join("f");
                    let md = fs::metadata(&f).expect("the file is kept");
                    outcomes.push((fs::read(&f).expect("read"), md.nlink(), md.mtime()));
                }
                let want = (b"the user's newer data".to_vec(), 1, T0 + DAY);
                assert!(outcomes.iter().all(|o| *o == want), "{ctx}: {outcomes:?}");
            }
        }
    }
}

/// A file with two names in the source, one of which has an unchanged twin
/// in the basis directory: under `--link-dest` both names are linked to the
/// twin, whichever is met first, as rsync -H links them (four layouts: the
/// twin's name in the root or below, first or last). uring-cp linked the
/// twin's name and copied the other: one file of the source was two in the
/// copy, exit 0.
#[test]
fn names_of_a_linked_file_all_take_one_name_s_twin_like_rsync() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let have_rsync = have_rsync("--link-dest with hard links");
    for (twin_name, other) in [
        ("f", "sub/g"),
        ("sub/f", "g"),
        ("a/f", "b/g"),
        ("b/f", "a/g"),
    ] {
        for d in ["src", "base"] {
            let _ = fs::remove_dir_all(t.join(d));
            Fx::new(t.join(d)).dir("", 0o755);
            for sub in ["sub", "a", "b"] {
                fs::create_dir(t.join(d).join(sub)).expect("mkdir");
            }
        }
        let src = Fx::new(t.join("src"));
        src.file(twin_name, 0o644, "data")
            .set_times(twin_name, (T0, 0), (T0, 0));
        fs::hard_link(t.join("src").join(twin_name), t.join("src").join(other)).expect("link");
        fs::copy(
            t.join("src").join(twin_name),
            t.join("base").join(twin_name),
        )
        .expect("cp");
        Fx::new(t.join("base")).set_times(twin_name, (T0, 0), (T0, 0));
        let twin = fs::metadata(t.join("base").join(twin_name))
            .expect("stat")
            .ino();
        let mut dsts = Vec::new();
        for engine in engines() {
            let dst = format!("dst-{engine}");
            let _ = fs::remove_dir_all(t.join(&dst));
            let out = run_uring_cp(
                engine,
                &["-a", "--sync", "--link-dest=../base"],
                &["-T", "src", &dst],
                t,
                &RunOpts::default(),
            );
            assert_eq!(out.code, Some(0), "[{engine}] {twin_name}, {other}: {out}");
            dsts.push((engine.to_string(), dst));
        }
        if have_rsync {
            let _ = fs::remove_dir_all(t.join("want"));
            rsync(&["-aH", "--link-dest=../base", "src/", "want/"], t);
            dsts.push(("rsync".to_string(), "want".to_string()));
        }
        for (who, dst) in dsts {
            let inos: Vec<u64> = [twin_name, other]
                .iter()
                .map(|n| fs::metadata(t.join(&dst).join(n)).expect("stat").ino())
                .collect();
            assert_eq!(
                inos,
                [twin, twin],
                "[{who}] {twin_name} (its twin {twin}) and {other}: both linked to the twin"
            );
        }
    }
}

/// A basis is an older copy of the tree, so where the source now has a
/// directory it may hold a symlink (`base/sub -> ../outside`, the source's
/// symlink of an earlier day). Below the basis directory given, nothing is
/// reached through a symlink: `sub/f` has no twin there and is copied from
/// the source, under every basis option and whether `sub` is inside an
/// operand (`-T src dst`) or is the operand (`src/sub dst/`). rsync 3.5.0
/// follows it and takes `outside/f` (same size and time, other bytes) as
/// the twin: linked, copied from, or left out (pinned below).
#[test]
fn a_symlink_in_a_basis_is_never_followed_unlike_rsync() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let fx = Fx::new(t);
    fx.file("outside/f", 0o644, "OUTSIDE")
        .file("src/sub/f", 0o644, "SOURCE!")
        .dir("base", 0o755)
        .symlink("base/sub", "../outside");
    for f in ["outside/f", "src/sub/f"] {
        fx.set_times(f, (T0, 0), (T0, 0));
    }
    let base = format!("{}", t.join("base").display());
    for engine in engines() {
        for option in ["--link-dest", "--copy-dest", "--compare-dest"] {
            let arg = format!("{option}={base}");
            for (operands, f) in [
                (["-T", "src", "dst"], "dst/sub/f"),
                (["src/sub", "dst/", ""], "dst/sub/f"),
            ] {
                let ctx = format!("[{engine}] {option} {operands:?}");
                let _ = fs::remove_dir_all(t.join("dst"));
                fs::create_dir(t.join("dst")).expect("mkdir dst");
                let operands: Vec<&str> = operands.into_iter().filter(|o| !o.is_empty()).collect();
                let out = run_uring_cp(
                    engine,
                    &["-a", "--sync", &arg],
                    &operands,
                    t,
                    &RunOpts::default(),
                );
                assert_eq!(out.code, Some(0), "{ctx}: {out}");
                assert_eq!(fs::read(t.join(f)).expect("the copy"), b"SOURCE!", "{ctx}");
                assert_eq!(fs::metadata(t.join(f)).expect("stat").nlink(), 1, "{ctx}");
            }
        }
    }
    if !have_rsync("a symlink in a basis") {
        return;
    }
    for option in ["--link-dest", "--copy-dest", "--compare-dest"] {
        let _ = fs::remove_dir_all(t.join("want"));
        let arg = format!("{option}={base}");
        let r = Command::new("rsync")
            .args(["-a", &arg, "src/", "want/"])
            .current_dir(t)
            .output()
            .expect("rsync");
        assert!(r.status.success(), "rsync {option}: {r:?}");
        let got = fs::read(t.join("want/sub/f")).ok();
        let followed = match option {
            "--compare-dest" => got.is_none(),
            _ => got.as_deref() == Some(b"OUTSIDE".as_slice()),
        };
        assert!(
            followed,
            "rsync {option} no longer follows a symlink in the basis: the README says it does"
        );
    }
}
