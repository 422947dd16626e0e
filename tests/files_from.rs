//! `--files-from=FILE` (`-0`/`--from0`) and `--relative` (issue 16), against
//! rsync on every engine: the trees, and the modes and times of the
//! directories made on the way (rsync's implied directories). A listed path
//! that climbs out with `..` is refused (rsync sanitizes it).

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

fn fixture(t: &Path) {
    let _ = std::fs::remove_dir_all(t.join("src"));
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .dir("a", 0o700)
        .dir("a/b", 0o750)
        .file("a/b/f", 0o640, "f")
        .file("a/b/other", 0o644, "not listed")
        .file("c/d/g", 0o644, "g")
        .file("c/d/h", 0o644, "h")
        .file("top", 0o600, "top")
        .file("e/x", 0o644, "x")
        .file("new\nline", 0o644, "a name with a newline");
    for d in ["a", "a/b", "c", "c/d", "e"] {
        let when = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30);
        std::fs::File::open(t.join("src").join(d))
            .and_then(|f| f.set_modified(when))
            .expect("set mtime");
    }
}

/// Every entry's path, mode and (for directories and files) modification time.
fn tree(root: &Path) -> Vec<(String, u32, i64)> {
    let mut v: Vec<(String, u32, i64)> = snapshot(root)
        .iter()
        .filter(|e| e.path != b".")
        .map(|e| {
            let md = std::fs::symlink_metadata(root.join(os(&e.path))).expect("stat");
            (show(&e.path), md.mode(), md.mtime())
        })
        .collect();
    v.sort();
    v
}

/// Run rsync in `t`; its standard output.
fn rsync(args: &[&str], t: &Path, stdin: Option<&[u8]>) -> String {
    let mut child = Command::new("rsync")
        .args(args)
        .current_dir(t)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rsync");
    if let (Some(data), Some(mut i)) = (stdin, child.stdin.take()) {
        std::io::Write::write_all(&mut i, data).expect("stdin");
    }
    let out = child.wait_with_output().expect("rsync");
    assert!(
        out.status.success(),
        "rsync {args:?}: {}",
        show(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn files_from_copies_what_rsync_copies() {
    if !have_rsync("--files-from") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    std::fs::write(t.join("list"), "a/b/f\n/top\nc/d\ne\n\n").expect("list");
    std::fs::write(t.join("list0"), "a/b/f\0new\nline\0c/d/g\0").expect("list");
    for engine in engines() {
        for (rs, ours, list) in [
            (&["-a"][..], &["-a", "--sync"][..], "list"),
            (&["-a", "-r"], &["-a", "-r", "--sync"], "list"),
            (&["-a"], &["-a"], "list"),
            (&["-a", "--from0"], &["-a", "--sync", "-0"], "list0"),
        ] {
            let ctx = format!("[{engine}] {ours:?} --files-from={list}");
            let _ = std::fs::remove_dir_all(t.join("want"));
            let _ = std::fs::remove_dir_all(t.join("dst"));
            let from = format!("--files-from={list}");
            let mut r = rs.to_vec();
            r.extend([from.as_str(), "src/", "want/"]);
            rsync(&r, t, None);
            let mut flags = ours.to_vec();
            flags.push(&from);
            let out = run_uring_cp(engine, &flags, &["src", "dst"], t, &RunOpts::default());
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            assert_eq!(tree(&t.join("dst")), tree(&t.join("want")), "{ctx}");
            if ours.contains(&"--sync") {
                let mut again = flags.clone();
                again.push("--itemize-changes");
                let out = run_uring_cp(engine, &again, &["src", "dst"], t, &RunOpts::default());
                assert_eq!(out.code, Some(0), "{ctx} again: {out}");
                assert_eq!(out.stdout_str(), "", "{ctx}: a second run changes nothing");
            }
        }
    }
    // The list on stdin.
    let _ = std::fs::remove_dir_all(t.join("want"));
    let _ = std::fs::remove_dir_all(t.join("dst"));
    let list = b"c/d/h\na/b/other\n";
    rsync(&["-a", "--files-from=-", "src/", "want/"], t, Some(list));
    let opts = RunOpts {
        stdin: Some(list.to_vec()),
        ..RunOpts::default()
    };
    let out = run_uring_cp(
        "portable",
        &["-a", "--sync", "--files-from=-"],
        &["src", "dst"],
        t,
        &opts,
    );
    assert_eq!(out.code, Some(0), "stdin: {out}");
    assert_eq!(tree(&t.join("dst")), tree(&t.join("want")), "stdin");
}

/// What rsync's `-i` lines say is new (`>f+++++++++ a/b/f`, `cd+++++++++
/// a/`) and what ours say is (`new file - 'dst/a/b/f'`), as sorted paths
/// inside DEST.
fn new_in(rsync_out: &str, ours: &str) -> (Vec<String>, Vec<String>) {
    let mut theirs: Vec<String> = rsync_out
        .lines()
        .filter(|l| l.get(2..11) == Some("+++++++++") && !l.ends_with(" ./"))
        .map(|l| l[12..].trim_end_matches('/').to_string())
        .collect();
    let mut mine: Vec<String> = ours
        .lines()
        .filter_map(|l| l.strip_prefix("new "))
        .filter_map(|l| l.split_once(" - 'dst/"))
        .map(|(_, p)| p.trim_end_matches('\'').to_string())
        .collect();
    theirs.sort();
    mine.sort();
    (theirs, mine)
}

/// `--dry-run` with `--files-from` or `--relative` writes nothing (not even
/// DEST or the directories on the way) and says what the run would make,
/// as `rsync -n -i` does: each directory on the way once, then the listed
/// entries; the real run then says the same.
#[test]
fn dry_run_with_files_from_says_what_rsync_would_make() {
    if !have_rsync("--files-from --dry-run") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    std::fs::write(t.join("list"), "a/b/f\n/top\nc/d/g\nc/d/h\ne\n").expect("list");
    for engine in engines() {
        // DEST missing; DEST there with some of it (`c/d` holds an old `g`).
        for with_dest in [false, true] {
            let ctx = format!("[{engine}] --dry-run --files-from, DEST there: {with_dest}");
            for d in ["dst", "want"] {
                let _ = std::fs::remove_dir_all(t.join(d));
                if with_dest {
                    std::fs::create_dir_all(t.join(d).join("c/d")).expect("mkdir");
                    std::fs::write(t.join(d).join("c/d/g"), "old").expect("old g");
                }
            }
            let before = with_dest.then(|| snapshot(&t.join("dst")));
            let said = rsync(
                &["-n", "-a", "-i", "--files-from=list", "src/", "want/"],
                t,
                None,
            );
            let flags = ["-a", "--sync", "--itemize-changes", "--files-from=list"];
            let mut dry = flags.to_vec();
            dry.push("--dry-run");
            let out = run_uring_cp(engine, &dry, &["src", "dst"], t, &RunOpts::default());
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            match &before {
                Some(b) => assert_eq!(&snapshot(&t.join("dst")), b, "{ctx}: nothing written"),
                None => assert!(!t.join("dst").exists(), "{ctx}: DEST made"),
            }
            let (theirs, mine) = new_in(&said, &out.stdout_str());
            assert_eq!(mine, theirs, "{ctx}: what is new\n{out}\nrsync:\n{said}");
            let wet = run_uring_cp(engine, &flags, &["src", "dst"], t, &RunOpts::default());
            assert_eq!(wet.code, Some(0), "{ctx}: the real run: {wet}");
            assert_eq!(
                wet.stdout_str(),
                out.stdout_str(),
                "{ctx}: the real run says"
            );
        }
        // --relative alike: the directories on the way are not made.
        let _ = std::fs::remove_dir_all(t.join("dst"));
        std::fs::create_dir(t.join("dst")).expect("mkdir");
        let out = run_uring_cp(
            engine,
            &[
                "-a",
                "--sync",
                "--relative",
                "--dry-run",
                "--itemize-changes",
            ],
            &["src/./a/b", "src/c/d/g", "dst"],
            t,
            &RunOpts::default(),
        );
        assert_eq!(out.code, Some(0), "[{engine}] --relative --dry-run: {out}");
        assert_eq!(
            std::fs::read_dir(t.join("dst")).expect("ls").count(),
            0,
            "[{engine}] --relative --dry-run wrote into DEST"
        );
        let said = out.stdout_str();
        for line in [
            "new dir - 'dst/a'",
            "new file - 'dst/a/b/f'",
            "new dir - 'dst/src/c/d'",
        ] {
            assert!(said.lines().any(|l| l == line), "[{engine}] {line}: {said}");
        }
    }
}

#[test]
fn relative_keeps_the_path_from_the_marker_like_rsync() {
    if !have_rsync("--relative") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    for engine in engines() {
        let ctx = format!("[{engine}] --relative");
        for d in ["want", "dst"] {
            let _ = std::fs::remove_dir_all(t.join(d));
            std::fs::create_dir(t.join(d)).expect("mkdir");
        }
        rsync(&["-aR", "src/./a/b", "src/c/d/g", "want/"], t, None);
        let out = run_uring_cp(
            engine,
            &["-a", "--sync", "--relative"],
            &["src/./a/b", "src/c/d/g", "dst"],
            t,
            &RunOpts::default(),
        );
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        assert_eq!(tree(&t.join("dst")), tree(&t.join("want")), "{ctx}");
    }
}

#[test]
fn a_listed_path_never_leaves_dest() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    fixture(t);
    Fx::new(t.join("outside")).dir("", 0o755);
    std::fs::write(t.join("src/escape"), "would land outside").expect("write");
    std::fs::write(
        t.join("list"),
        "../outside/escape\ntop\nc/../../outside/x\n",
    )
    .expect("list");
    for engine in engines() {
        let ctx = format!("[{engine}] '..' in the list");
        let _ = std::fs::remove_dir_all(t.join("dst"));
        let out = run_uring_cp(
            engine,
            &["-a", "--sync", "--files-from=list"],
            &["src", "dst"],
            t,
            &RunOpts::default(),
        );
        assert_eq!(out.code, Some(1), "{ctx}: {out}");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            err.contains("refusing '../outside/escape'") && err.contains("'..'"),
            "{ctx}: {err}"
        );
        assert_eq!(
            std::fs::read(t.join("dst/top")).expect("top"),
            b"top",
            "{ctx}"
        );
        assert_eq!(
            std::fs::read_dir(t.join("outside")).expect("ls").count(),
            0,
            "{ctx}: nothing written outside DEST"
        );
    }
    // Usage: one SOURCE; a list that cannot be read.
    let out = run_uring_cp(
        "portable",
        &["-a", "--files-from=list"],
        &["src", "top", "dst"],
        t,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--files-from takes one SOURCE"),
        "{out}"
    );
    let out = run_uring_cp(
        "portable",
        &["-a", "--files-from=missing"],
        &["src", "dst2"],
        t,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read --files-from 'missing'"),
        "{out}"
    );
    assert!(!t.join("dst2").exists(), "nothing made");
}

/// Run uring-cp's `engine` with `args` in `cwd` under `ulimit -n 256`
/// (soft and hard limit: a batch of operands may hold 64 parent directories
/// open).
fn with_256_descriptors(engine: &str, args: &[&str], cwd: &Path) -> Outcome {
    let mut all = vec!["-c", "ulimit -n 256 && exec \"$0\" \"$@\"", BIN];
    all.extend(engine_args(engine));
    all.extend(args);
    run("sh", &all, cwd, &RunOpts::default())
}

/// A list naming files in more directories than a share of the descriptor
/// limit allows open at once: every root holds its parent directories open
/// until it is walked, so the operands are planned and copied in batches
/// (`plan::Plan`), and every file arrives. Before, 30,000 one-file
/// directories under a 20,000-descriptor limit failed from the 10,000th on
/// (`Too many open files`, exit 1). Also `--parents` with as many operands.
#[test]
fn operands_in_more_directories_than_descriptors_are_all_copied() {
    const DIRS: usize = 300; // 600 parents (source and destination) under `ulimit -n 256`
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let fx = Fx::new(t.join("src"));
    fx.dir("", 0o755);
    let mut list = String::new();
    let mut names = Vec::new();
    for i in 0..DIRS {
        let rel = format!("d{i:03}/f");
        fx.file(&rel, 0o644, format!("file {i}"));
        list.push_str(&rel);
        list.push('\n');
        names.push(rel);
    }
    std::fs::write(t.join("list"), list).expect("list");
    for engine in engines() {
        let runs: [(&str, Vec<&str>, &Path, &str); 3] = [
            (
                "files-from",
                vec!["-a", "--files-from=list", "src", "dst"],
                t,
                "dst",
            ),
            (
                "files-from, sync",
                vec!["-a", "--sync", "--files-from=list", "src", "dst"],
                t,
                "dst",
            ),
            (
                "--parents",
                [
                    &["-a", "--parents"][..],
                    &names.iter().map(String::as_str).collect::<Vec<_>>(),
                    &["../pdst"],
                ]
                .concat(),
                &t.join("src"),
                "pdst",
            ),
        ];
        for (what, args, cwd, dst) in runs {
            let _ = std::fs::remove_dir_all(t.join(dst));
            if dst == "pdst" {
                std::fs::create_dir(t.join(dst)).expect("pdst");
            }
            let out = with_256_descriptors(engine, &args, cwd);
            let ctx = format!("[{engine}] {what}, ulimit -n 256");
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            assert!(out.stderr.is_empty(), "{ctx}: {out}");
            for (i, rel) in names.iter().enumerate() {
                let got = std::fs::read(t.join(dst).join(rel)).unwrap_or_default();
                assert_eq!(got, format!("file {i}").into_bytes(), "{ctx}: {rel}");
            }
        }
    }
}

/// `--max-delete` is one limit for the whole run when the operands are
/// copied in batches: each batch's walk goes on from the deletions the
/// batches before it decided (not from 0), and the run ends with rsync's
/// status 25.
#[test]
fn max_delete_is_one_limit_across_batches() {
    const DIRS: usize = 300; // listed `pN/d`: 600 parents under `ulimit -n 256`
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let fx = Fx::new(t.join("src"));
    fx.dir("", 0o755);
    let mut list = String::new();
    for i in 0..DIRS {
        fx.file(format!("p{i:03}/d/f"), 0o644, format!("{i}"));
        list.push_str(&format!("p{i:03}/d\n"));
    }
    std::fs::write(t.join("list"), list).expect("list");
    for engine in engines() {
        let _ = std::fs::remove_dir_all(t.join("dst"));
        let flags = ["-a", "-r", "--sync", "--files-from=list"];
        let out = run_uring_cp(engine, &flags, &["src", "dst"], t, &RunOpts::default());
        assert_eq!(out.code, Some(0), "[{engine}] first sync: {out}");
        for i in 0..DIRS {
            std::fs::write(t.join(format!("dst/p{i:03}/d/extra")), "x").expect("extra");
        }
        let args = [&flags[..], &["--delete", "--max-delete=5", "src", "dst"]].concat();
        let out = with_256_descriptors(engine, &args, t);
        let ctx = format!("[{engine}] --max-delete=5 over batches");
        assert_eq!(out.code, Some(25), "{ctx}: {out}");
        let left = (0..DIRS)
            .filter(|i| t.join(format!("dst/p{i:03}/d/extra")).exists())
            .count();
        assert_eq!(left, DIRS - 5, "{ctx}: {} deleted", DIRS - left);
    }
}

/// Hard links between operands of different batches stay hard links (cp
/// -a keeps links among everything it copies): the hard-link map is kept
/// from one batch to the next.
#[test]
fn hard_links_across_batches_stay_links() {
    const DIRS: usize = 300; // 600 parents under `ulimit -n 256`
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let fx = Fx::new(t.join("src"));
    fx.dir("", 0o755);
    let mut list = String::new();
    for i in 0..DIRS {
        fx.dir(format!("p{i:03}/d"), 0o755);
        match i {
            0 => fx.file("p000/d/f", 0o644, "one inode"),
            _ => fx.hardlink("p000/d/f", format!("p{i:03}/d/f")),
        };
        list.push_str(&format!("p{i:03}/d/f\n"));
    }
    std::fs::write(t.join("list"), list).expect("list");
    for engine in engines() {
        let _ = std::fs::remove_dir_all(t.join("dst"));
        let args = ["-a", "--files-from=list", "src", "dst"];
        let out = with_256_descriptors(engine, &args, t);
        let ctx = format!("[{engine}] {DIRS} names of one inode, in batches");
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        let inodes: std::collections::BTreeSet<u64> = (0..DIRS)
            .map(|i| {
                std::fs::metadata(t.join(format!("dst/p{i:03}/d/f")))
                    .expect("copy")
                    .ino()
            })
            .collect();
        assert_eq!(inodes.len(), 1, "{ctx}: {} inodes", inodes.len());
    }
}

/// A symlink in DEST where a directory on the way to a listed path goes
/// (`dst/a -> ../victim`): sync mode never writes through it, under
/// `--files-from` or `--relative`, whether it is the listed file's parent
/// or further up: the path is refused naming it, and nothing lands in
/// `victim`. (rsync replaces the symlink with a directory; GNU cp's
/// `--parents`, and `--relative` without `--sync`, follow it: pinned.)
#[test]
fn sync_never_writes_through_a_symlink_on_the_way_to_a_listed_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    Fx::new(t.join("src"))
        .dir("", 0o755)
        .file("a/f", 0o644, "f")
        .file("a/b/g", 0o644, "g");
    std::fs::write(t.join("list"), "a/f\na/b/g\n").expect("list");
    let fresh = || {
        for d in ["dst", "victim"] {
            let _ = std::fs::remove_dir_all(t.join(d));
        }
        Fx::new(t.join("victim")).dir("", 0o755).dir("b", 0o755);
        Fx::new(t.join("dst"))
            .dir("", 0o755)
            .symlink("a", "../victim");
    };
    let in_victim = || {
        let mut v: Vec<String> = snapshot(&t.join("victim"))
            .iter()
            .map(|e| show(&e.path))
            .collect();
        v.sort();
        v
    };
    for engine in engines() {
        for (flags, operands) in [
            (
                vec!["-a", "--sync", "--files-from=list"],
                vec!["src", "dst"],
            ),
            (
                vec!["-a", "--sync", "--relative"],
                vec!["src/./a/f", "src/./a/b/g", "dst"],
            ),
        ] {
            let ctx = format!("[{engine}] {flags:?}");
            fresh();
            let out = run_uring_cp(engine, &flags, &operands, t, &RunOpts::default());
            assert_eq!(out.code, Some(1), "{ctx}: {out}");
            assert_eq!(
                out.stderr_str(),
                "uring-cp: 'dst/a' is a symlink (not followed in sync mode)\n".repeat(2),
                "{ctx}"
            );
            assert_eq!(in_victim(), [".", "b"], "{ctx}: written through");
        }
    }
    // Without --sync, GNU cp's --parents rule: followed.
    fresh();
    let out = run_uring_cp(
        "auto",
        &["-a", "--relative"],
        &["src/./a/f", "dst"],
        t,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(0), "--relative: {out}");
    assert_eq!(in_victim(), [".", "b", "f"], "cp's --parents follows it");
    fresh();
    let gnu = Command::new("cp")
        .args(["-a", "--parents", "a/f", "../dst"])
        .current_dir(t.join("src"))
        .output()
        .expect("cp");
    assert!(gnu.status.success(), "cp --parents: {gnu:?}");
    assert_eq!(in_victim(), [".", "b", "f"], "GNU cp --parents follows it");
}
