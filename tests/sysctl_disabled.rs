//! `kernel.io_uring_disabled=2` (io_uring refused to everyone, as on hardened
//! hosts): `auto` copies identically with the portable engine, `--engine
//! uring` fails naming why and writes nothing. The test sets the sysctl as
//! root and puts the old value back when it ends, also when it fails. It is
//! a test binary of its own: cargo runs test binaries one at a time, so no
//! other test sees io_uring disabled.

mod common;

use common::*;
use std::process::Command;

const KNOB: &str = "/proc/sys/kernel/io_uring_disabled";

/// Restores the sysctl when dropped (also while unwinding from a failure).
struct Restore(String);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(KNOB, &self.0) {
            notice(&format!(
                "WARNING could not restore {KNOB} to {}: {e}",
                self.0.trim()
            ));
        }
    }
}

#[test]
fn io_uring_disabled_by_sysctl_falls_back() {
    if !is_root() {
        skip("setting kernel.io_uring_disabled needs root");
        return;
    }
    let Ok(old) = std::fs::read_to_string(KNOB) else {
        skip("this kernel has no kernel.io_uring_disabled");
        return;
    };
    if std::fs::write(KNOB, "2").is_err() {
        skip("kernel.io_uring_disabled is not writable here (read-only /proc/sys?)");
        return;
    }
    let _restore = Restore(old);

    let tmp = tempfile::tempdir().unwrap();
    let fx = Fx::new(tmp.path().join("src"));
    fx.dir("", 0o755).dir("d", 0o755).symlink("d/link", "../f0");
    for i in 0..50 {
        fx.file(
            format!("d/f{i}"),
            0o644,
            vec![b'a' + (i % 26) as u8; i * 997],
        );
    }
    fx.file("f0", 0o600, "top");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };

    let v = String::from_utf8_lossy(&run(&["--version"]).stdout).into_owned();
    assert!(v.contains("io_uring: unavailable ("), "--version: {v:?}");

    let forced = run(&["--engine", "uring", "-r", "src", "forced"]);
    assert_eq!(forced.status.code(), Some(1), "{}", show(&forced.stderr));
    assert!(
        String::from_utf8_lossy(&forced.stderr)
            .contains("uring-cp: the io_uring engine is unavailable: "),
        "{}",
        show(&forced.stderr)
    );
    assert!(
        !tmp.path().join("forced").exists(),
        "nothing may be written"
    );

    let auto = run(&["-r", "src", "auto"]);
    assert_eq!(auto.status.code(), Some(0), "{}", show(&auto.stderr));
    assert!(
        auto.stderr.is_empty(),
        "auto falls back silently: {}",
        show(&auto.stderr)
    );
    assert_snapshots_eq(
        "io_uring_disabled=2",
        &snapshot(&tmp.path().join("src")),
        &snapshot(&tmp.path().join("auto")),
        "source",
        "copy",
    );
}
