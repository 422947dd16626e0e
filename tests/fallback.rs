//! Start-up detection: wherever io_uring is blocked or starved, `--engine auto`
//! still copies correctly (with the portable engine or a smaller ring), and
//! `--engine uring` says clearly why it cannot run.
//!
//! io_uring is blocked here the way container runtimes block it: a seccomp
//! filter installed in the child before exec that answers EPERM to
//! io_uring_setup (Docker's default profile), or to io_uring_enter only (a
//! filter that lets setup through, caught by the NOP round trip).

mod common;

use common::{BIN, assert_snapshots_eq, bin_for_others, skip, snapshot};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

/// Install a seccomp filter that fails syscall `nr` with EPERM.
fn deny_syscall(nr: libc::c_long) -> std::io::Result<()> {
    // BPF: load the syscall number; if it is `nr`, return ERRNO(EPERM), else allow.
    let filter = [
        bpf(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
        bpf(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, nr as u32),
        bpf(
            libc::BPF_RET | libc::BPF_K,
            0,
            0,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
        bpf(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: plain prctl calls in the forked child; `prog` outlives them.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn bpf(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

fn run_denying(nr: libc::c_long, args: &[&str], cwd: &Path) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(cwd);
    // SAFETY: the closure only makes async-signal-safe prctl calls.
    unsafe { cmd.pre_exec(move || deny_syscall(nr)) };
    cmd.output().expect("run uring-cp")
}

fn source_tree(root: &Path) {
    let src = root.join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    for i in 0..200u32 {
        let dir = if i % 3 == 0 {
            src.join("sub")
        } else {
            src.join("sub/deeper")
        };
        std::fs::write(
            dir.join(format!("f{i}")),
            vec![i as u8; (i as usize * 997) % 70_000],
        )
        .unwrap();
    }
    std::fs::write(src.join("big"), vec![7u8; 3 << 20]).unwrap();
    std::os::unix::fs::symlink("sub/f3", src.join("link")).unwrap();
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn check_blocked(nr: libc::c_long, what: &str) {
    let tmp = tempfile::tempdir().unwrap();
    source_tree(tmp.path());

    let v = run_denying(nr, &["--version"], tmp.path());
    let out = text(&v.stdout);
    assert!(
        out.contains("io_uring: unavailable ("),
        "{what}: --version should say io_uring is unavailable, said {out:?}"
    );

    let forced = run_denying(
        nr,
        &["--engine", "uring", "-r", "src", "forced"],
        tmp.path(),
    );
    assert_eq!(
        forced.status.code(),
        Some(1),
        "{what}: --engine uring must fail"
    );
    assert!(
        text(&forced.stderr).contains("uring-cp: the io_uring engine is unavailable: "),
        "{what}: message was {:?}",
        text(&forced.stderr)
    );
    assert!(
        !tmp.path().join("forced").exists(),
        "{what}: nothing may be written"
    );

    // `auto` on these cached sources runs walkers, which need no ring; in
    // sync mode it would run the io_uring engine, and falls back.
    for (flags, dst, fallback) in [
        (&["-r", "--debug"][..], "auto", false),
        (&["-r", "--debug", "--sync"][..], "auto-sync", true),
    ] {
        let mut args = flags.to_vec();
        args.extend(["src", dst]);
        let auto = run_denying(nr, &args, tmp.path());
        assert_eq!(
            auto.status.code(),
            Some(0),
            "{what}, {args:?}: {}",
            text(&auto.stderr)
        );
        let said = text(&auto.stderr);
        match fallback {
            true => assert!(
                said.contains("io_uring unavailable") && said.contains("portable engine"),
                "{what}, {args:?}: --debug should name the fallback: {said:?}"
            ),
            false => assert!(
                said.contains("the walkers engine"),
                "{what}, {args:?}: {said:?}"
            ),
        }
        assert_snapshots_eq(
            what,
            &snapshot(&tmp.path().join("src")),
            &snapshot(&tmp.path().join(dst)),
            "source",
            "copy",
        );
    }
}

#[test]
fn seccomp_denying_io_uring_setup_falls_back() {
    check_blocked(libc::SYS_io_uring_setup, "seccomp denies io_uring_setup");
}

#[test]
fn seccomp_denying_io_uring_enter_falls_back() {
    check_blocked(libc::SYS_io_uring_enter, "seccomp denies io_uring_enter");
}

/// Run as an unprivileged `uid` with a resource limit (root ignores
/// RLIMIT_MEMLOCK). io_uring charges locked memory to the user, and releases
/// it asynchronously, so each memlock case runs as a user of its own.
fn run_limited(
    uid: u32,
    limit: libc::__rlimit_resource_t,
    value: u64,
    args: &[&str],
    cwd: &Path,
) -> Option<Output> {
    if unsafe { libc::geteuid() } != 0 {
        skip("limited-resource runs need root to switch to nobody");
        return None;
    }
    // The binary where uid `uid` can execute it.
    let bin = match bin_for_others() {
        Ok(bin) => bin,
        Err(why) => {
            skip(&format!("limited-resource runs as uid {uid}: {why}"));
            return None;
        }
    };
    let mut cmd = Command::new(bin);
    cmd.args(args).current_dir(cwd);
    // SAFETY: setrlimit/setgid/setuid are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let rl = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            if libc::setrlimit(limit, &rl) != 0
                || libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(uid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    Some(cmd.output().expect("run uring-cp"))
}

/// Large files (16 MiB, sparse in the source) each in a directory of its own,
/// more than the large-file queue holds: queued items keep their directories
/// open, which must stay within a low `ulimit -n`.
fn add_large_files(root: &Path) {
    for i in 0..18 {
        let dir = root.join(format!("src/large{i:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        let f = std::fs::File::create(dir.join("image")).unwrap();
        f.set_len((16 << 20) + i).unwrap();
        std::os::unix::fs::FileExt::write_at(&f, &[i as u8 + 1; 4096], 5 << 20).unwrap();
    }
}

fn check_limited(uid: u32, limit: libc::__rlimit_resource_t, value: u64, engine: &str, what: &str) {
    let tmp = tempfile::tempdir().unwrap();
    source_tree(tmp.path());
    if limit == libc::RLIMIT_NOFILE {
        add_large_files(tmp.path());
    }
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let Some(out) = run_limited(
        uid,
        limit,
        value,
        &["--engine", engine, "-r", "src", "dst"],
        tmp.path(),
    ) else {
        return;
    };
    assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out.stderr));
    assert_snapshots_eq(
        what,
        &snapshot(&tmp.path().join("src")),
        &snapshot(&tmp.path().join("dst")),
        "source",
        "copy",
    );
}

#[test]
fn tiny_memlock_limit_still_copies() {
    // 64 KiB: the ring shrinks and the 16 MiB buffer pool cannot be registered,
    // so plain READ/WRITE on the same memory is used.
    if common::uring_status().is_err() {
        skip("io_uring unavailable: the memlock fallback inside the engine cannot run");
    } else {
        for (uid, engine) in [(60101, "uring"), (60102, "uring-chains")] {
            check_limited(
                uid,
                libc::RLIMIT_MEMLOCK,
                64 << 10,
                engine,
                &format!("ulimit -l 64, {engine} engine"),
            );
        }
    }
    // No locked memory at all: no ring; auto falls back.
    check_limited(
        60103,
        libc::RLIMIT_MEMLOCK,
        0,
        "auto",
        "ulimit -l 0, auto engine",
    );
}

#[test]
fn low_open_file_limit_still_copies() {
    for engine in common::engines() {
        check_limited(
            65534,
            libc::RLIMIT_NOFILE,
            64,
            engine,
            &format!("ulimit -n 64, {engine} engine"),
        );
    }
}
