//! Walkers that take whole directories (`--engine walkers`, what `auto`
//! runs for a tree in the page cache) share the work of one directory: a
//! walker with nothing to do is lent entries of the directory another one
//! lists, and a large file among entries lent together goes on its own to a
//! walker that waits, so the large files of one directory are copied at once.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

/// Two large files (16 MiB and up is large) and a few small ones in one
/// directory, copied by two walkers under strace (`--seccomp-bpf`: only the
/// traced calls stop, so the threads' timing stays close to a run without
/// it): the two large copies are created by two different threads (the
/// walker listing the directory leaves both in the pool) in at least one of
/// three runs, and every copy equals its source.
#[test]
fn large_files_of_one_directory_are_copied_by_different_walkers() {
    if !has_command("strace") {
        skip("walkers sharing large files: strace is not installed (.ci/run installs it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let fx = Fx::new(&root);
    let mut rng = Rng(41);
    fx.dir("src", 0o755);
    for i in 0..2 {
        fx.file(
            format!("src/big{i}"),
            0o644,
            rng.bytes((40 << 20) + i * 4096),
        );
    }
    for i in 0..5 {
        fx.file(format!("src/small{i}"), 0o644, rng.bytes(100 + i));
    }
    let mut seen = Vec::new();
    for attempt in 0..3 {
        let dst = format!("dst{attempt}");
        let log = root.join(format!("strace{attempt}"));
        let out = Command::new("strace")
            .args(["-f", "-qq", "--seccomp-bpf", "-e", "trace=openat", "-o"])
            .arg(&log)
            .arg(BIN)
            .args(["--engine", "walkers", "-j", "2", "-r", "src", dst.as_str()])
            .current_dir(&root)
            .output()
            .unwrap();
        let ctx = format!("[attempt {attempt}]");
        assert!(out.status.success(), "{ctx} {out:?}");
        assert_snapshots_eq(
            &ctx,
            &snapshot(&root.join(&dst)),
            &snapshot(&root.join("src")),
            "copy",
            "source",
        );
        // The thread that created each large copy (`PID openat(DIR, "bigN", ...O_CREAT...)`).
        let text = fs::read_to_string(&log).unwrap();
        let creators: BTreeMap<&str, &str> = text
            .lines()
            .filter(|l| l.contains("O_CREAT"))
            .filter_map(|l| {
                let name = ["big0", "big1"]
                    .into_iter()
                    .find(|n| l.contains(&format!("\"{n}\"")))?;
                Some((name, l.split_whitespace().next()?))
            })
            .collect();
        assert_eq!(
            creators.len(),
            2,
            "{ctx} large copies created: {creators:?}\n{text}"
        );
        if creators["big0"] != creators["big1"] {
            return;
        }
        seen.push(format!("{ctx} {creators:?}"));
    }
    // (A loaded machine may leave the second walker unscheduled for a whole
    // copy now and then; the code that copied a large file where it was
    // found did it every time.)
    panic!("one walker created both large copies, one after the other, every time: {seen:?}");
}

/// An xfs image for a copy within it (where files are cloned and a walker
/// lending a directory's files opens them for the other: see
/// `engine::copier::lent`), or `None` with a SKIP.
fn xfs_with_strace(what: &str) -> Option<common::mount::LoopFs> {
    if !has_command("strace") {
        skip(&format!(
            "{what}: strace is not installed (.ci/run installs it)"
        ));
        return None;
    }
    common::mount::LoopFs::new("xfs")
        .map_err(|why| skip(&format!("{what}: {why}")))
        .ok()
}

/// Sixty small files in one directory within xfs, `--engine walkers -j 2`:
/// the walker listing the directory opens each source and creates its
/// copy, and hands it to the other walker to clone (`engine::copier::lent`).
/// Every way of moving bytes fails (`EIO` injected, the clone too): each
/// file is reported, exit 1, and each created copy is removed, also by a
/// walker that did not create it (at least one such file in one of three
/// runs).
#[test]
fn a_copy_created_by_one_walker_and_failing_in_another_is_removed() {
    let Some(mnt) = xfs_with_strace("walkers finishing each other's files") else {
        return;
    };
    let root = mnt.path().to_path_buf();
    let fx = Fx::new(&root);
    fx.dir("src", 0o755).dir("src/d", 0o755);
    for i in 0..60 {
        fx.file(format!("src/d/f{i}"), 0o644, vec![b'x'; 1000 + i]);
    }
    let mut seen = Vec::new();
    for attempt in 0..3 {
        let dst = format!("dst{attempt}");
        let log = root.join(format!("strace{attempt}"));
        let out = Command::new("strace")
            .args(["-f", "-qq", "--seccomp-bpf", "-o"])
            .arg(&log)
            .args([
                "-e",
                "trace=openat,unlinkat,ioctl,copy_file_range,sendfile,pwrite64",
            ])
            .args([
                "-e",
                "inject=ioctl,copy_file_range,sendfile,pwrite64:error=EIO",
            ])
            .arg(BIN)
            .args(["--engine", "walkers", "-j", "2", "-r", "src", dst.as_str()])
            .current_dir(&root)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let ctx = format!("[attempt {attempt}] {err}");
        assert_eq!(out.status.code(), Some(1), "{ctx}");
        assert_eq!(
            err.matches("error writing").count(),
            60,
            "{ctx}: every file reported once"
        );
        let left: Vec<_> = fs::read_dir(root.join(&dst).join("d"))
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{ctx}: failed copies left: {left:?}");
        // The thread that created each copy, and the one that removed it
        // (`PID openat(DIR, "fN", ...O_CREAT...)`, `PID unlinkat(DIR, "fN", 0)`).
        let text = fs::read_to_string(&log).unwrap();
        let by = |call: &str| -> BTreeMap<String, String> {
            text.lines()
                .filter(|l| l.contains(call) && (call != "openat(" || l.contains("O_CREAT")))
                .filter_map(|l| {
                    let name = l.split('"').nth(1)?;
                    Some((name.to_string(), l.split_whitespace().next()?.to_string()))
                })
                .filter(|(name, _)| name.starts_with('f'))
                .collect()
        };
        let (made, removed) = (by("openat("), by("unlinkat("));
        assert_eq!(made.len(), 60, "{ctx}: created {made:?}\n{text}");
        assert_eq!(removed.len(), 60, "{ctx}: removed {removed:?}\n{text}");
        let across = made.iter().filter(|(n, t)| removed[*n] != **t).count();
        if across > 0 {
            notice(&format!(
                "NOTE {across} of 60 copies removed by another walker than their creator"
            ));
            return;
        }
        seen.push(format!(
            "[attempt {attempt}] every copy removed by its creator"
        ));
    }
    panic!("no file was finished by another walker than the one that opened it: {seen:?}");
}

/// An interrupted copy within xfs by two walkers, one opening files for the
/// other (each clone or byte move slowed by 30 ms): files opened and not
/// finished when the signal comes are removed; every file left at the
/// destination is whole.
#[test]
fn an_interrupted_copy_removes_the_files_opened_for_another_walker() {
    let Some(mnt) = xfs_with_strace("interrupting walkers") else {
        return;
    };
    let root = mnt.path().to_path_buf();
    let fx = Fx::new(&root);
    fx.dir("src", 0o755).dir("src/d", 0o755);
    for i in 0..200 {
        fx.file(format!("src/d/f{i}"), 0o644, vec![b'y'; 10_000 + i]);
    }
    let log = root.join("strace");
    let child = Command::new("strace")
        .args(["-f", "-qq", "--seccomp-bpf", "-o"])
        .arg(&log)
        .args(["-e", "trace=ioctl,copy_file_range,sendfile,unlinkat"])
        .args([
            "-e",
            "inject=ioctl,copy_file_range,sendfile:delay_enter=30000",
        ])
        .arg(BIN)
        .args(["--engine", "walkers", "-j", "2", "-r", "src", "dst"])
        .current_dir(&root)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The traced uring-cp is strace's child, once it has exec'ed (before,
    // the child is a copy of strace).
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    let t = std::time::Instant::now();
    let pid = loop {
        let found = fs::read_to_string(&children).unwrap_or_default();
        let traced = found.split_whitespace().find(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "uring-cp")
        });
        if let Some(pid) = traced {
            break pid.parse::<i32>().unwrap();
        }
        assert!(
            t.elapsed().as_secs() < 10,
            "uring-cp did not start under strace"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    while fs::read_dir(root.join("dst/d")).map_or(true, |d| d.count() < 20) {
        assert!(t.elapsed().as_secs() < 20, "the copy did not get going");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // SAFETY: kill(2) on the pid of a process this test started (through strace).
    let killed = unsafe { libc::kill(pid, libc::SIGINT) };
    let kill_err = std::io::Error::last_os_error();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(killed, 0, "kill {pid}: {kill_err}; {:?}: {err}", out.status);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let mut whole = 0;
    for e in fs::read_dir(root.join("dst/d")).unwrap() {
        let e = e.unwrap();
        let want = fs::read(root.join("src/d").join(e.file_name())).unwrap();
        assert!(
            fs::read(e.path()).unwrap() == want,
            "{:?} is not whole after the interruption: {err}",
            e.path()
        );
        whole += 1;
    }
    let removed = fs::read_to_string(&log)
        .unwrap()
        .matches("unlinkat(")
        .count();
    assert!(whole < 200, "the copy ended before the signal: {err}");
    notice(&format!(
        "NOTE interrupted walkers: {whole} whole files left, {removed} removed"
    ));
}
