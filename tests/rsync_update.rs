//! Sync mode's `-u` against rsync on every engine: a newer file left
//! entirely, entries of another type replaced however new, each newer name
//! of a hard-linked file kept (a difference on purpose), and
//! `--modify-window` (rsync 3.4 and later).

mod common;

use common::*;
use std::path::Path;

/// `-u` leaves a destination file that is newer than its source entirely
/// alone, as rsync does: not its data, nor its mode, nor its xattrs
/// (uring-cp set the source's xattrs on it).
#[test]
fn update_leaves_a_newer_file_entirely_like_rsync() {
    if !have_rsync("-u") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let src = Fx::new(t.join("src"));
    src.dir("", 0o755).file("f", 0o600, "the source's, older");
    src.set_xattr("f", "user.x", b"1");
    let f = t.join("src/f");
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(820_454_400);
    std::fs::File::options()
        .write(true)
        .open(&f)
        .and_then(|h| h.set_modified(old))
        .expect("set the source's time");
    std::fs::File::open(t.join("src"))
        .and_then(|h| h.set_modified(old))
        .expect("set the source directory's time");
    // (A set time: two files made one after the other can get times a
    // clock tick apart, and the comparison below is to the nanosecond.)
    let newer = |d: &Path| {
        let when = (1_893_456_000, 123); // 2030
        Fx::new(d.to_path_buf())
            .dir("", 0o755)
            .file("f", 0o644, "the destination's, newer")
            .set_times("f", when, when);
    };
    for engine in engines() {
        let _ = std::fs::remove_dir_all(t.join("want"));
        let _ = std::fs::remove_dir_all(t.join("dst"));
        newer(&t.join("want"));
        newer(&t.join("dst"));
        rsync(&["-aX", "-u", "src/", "want/"], t);
        let out = sync_src_to_dst(engine, t, &["-u"]);
        let ctx = format!("[{engine}] -u");
        assert_eq!(out.code, Some(0), "{ctx}: {out}");
        let view = |d: &str| {
            let mut v = meta_snapshot(&t.join(d), &MetaOpts { times: true });
            for m in &mut v {
                if let Some(times) = &mut m.times {
                    times[0] = (0, 0); // (rsync does not keep atimes)
                }
            }
            v
        };
        assert_eq!(view("dst"), view("want"), "{ctx}: uring-cp, then rsync");
    }
}

/// The names of [`update_replaces_newer_entries_of_another_type_like_rsync`]:
/// what the source has, then what the destination has.
const OVER: [&str; 8] = [
    "file_over_file",
    "file_over_link",
    "file_over_fifo",
    "file_over_dir",
    "link_over_file",
    "link_over_link",
    "fifo_over_file",
    "dir_over_file",
];

/// `-u` leaves only a newer *regular file* of the same type; an entry of
/// another type where the source has a file, symlink, fifo or directory is
/// replaced however new it is, as rsync (`-u` "does not affect the copying of
/// dirs, symlinks, or other special files"; "a difference of file format ...
/// is always considered to be important enough for an update").
#[test]
fn update_replaces_newer_entries_of_another_type_like_rsync() {
    if !have_rsync("-u") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let src = Fx::new(t.join("src"));
    src.dir("", 0o755)
        .file("file_over_file", 0o644, "source")
        .file("file_over_link", 0o644, "source")
        .file("file_over_fifo", 0o644, "source")
        .file("file_over_dir", 0o644, "source")
        .symlink("link_over_file", "target")
        .symlink("link_over_link", "target")
        .fifo("fifo_over_file", 0o644)
        .dir("dir_over_file", 0o755);
    let old = (946_684_800, 0);
    for name in OVER.iter().chain(&[""]) {
        src.set_times(name, old, old);
    }
    let newer = |d: &Path| {
        let fx = Fx::new(d.to_path_buf());
        fx.dir("", 0o755)
            .file("file_over_file", 0o644, "the destination's")
            .symlink("file_over_link", "other")
            .fifo("file_over_fifo", 0o644)
            .dir("file_over_dir", 0o755)
            .file("link_over_file", 0o644, "the destination's")
            .symlink("link_over_link", "other")
            .file("fifo_over_file", 0o644, "the destination's")
            .file("dir_over_file", 0o644, "the destination's");
        let new = (1_893_456_000, 0); // 2030: newer than the source
        for name in OVER {
            fx.set_times(name, new, new);
        }
    };
    for engine in engines() {
        let ctx = format!("[{engine}] -u");
        compare(&ctx, engine, t, &["-u"], &newer);
        let read = |p: &str| std::fs::read(t.join(p)).expect("read");
        assert_eq!(read("dst/file_over_file"), b"the destination's", "{ctx}");
        for name in ["file_over_link", "file_over_fifo", "file_over_dir"] {
            assert_eq!(read(&format!("dst/{name}")), b"source", "{ctx}: {name}");
        }
    }
}

/// `-u` with a hard-linked source: each name whose destination is newer is
/// left as it is, and the other names are synced (linked among
/// themselves). When the name left is the group's first in rsync's order
/// (`a`), that is rsync -H's result too; when it is a later one (`b/f`),
/// rsync links it to the first name, replacing the newer file -u is meant to
/// keep: uring-cp keeps it (a difference on purpose, README, Sync mode).
/// uring-cp linked every name to the kept one, leaving the older ones stale.
#[test]
fn update_keeps_each_newer_name_of_a_linked_file() {
    if !have_rsync("-u") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let src = Fx::new(t.join("src"));
    src.dir("", 0o755)
        .dir("b", 0o755)
        .file("a", 0o644, "the source's")
        .hardlink("a", "b/f")
        .set_times("a", (1_262_304_000, 0), (1_262_304_000, 0)); // 2010
    let (old, new) = ((946_684_800, 0), (1_577_836_800, 0)); // 2000, 2020
    for (newer, older) in [("a", "b/f"), ("b/f", "a")] {
        let prepare = |d: &Path| {
            let fx = Fx::new(d.to_path_buf());
            fx.dir("", 0o755)
                .dir("b", 0o755)
                .file(newer, 0o644, "newer")
                .file(older, 0o644, "older")
                .set_times(newer, new, new)
                .set_times(older, old, old);
        };
        for engine in engines() {
            let ctx = format!("[{engine}] -u, {newer} newer");
            for d in ["want", "dst"] {
                let _ = std::fs::remove_dir_all(t.join(d));
                prepare(&t.join(d));
            }
            rsync(&["-aH", "-u", "src/", "want/"], t);
            let out = sync_src_to_dst(engine, t, &["-u"]);
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            let read = |p: &str| std::fs::read(t.join(p)).expect("read");
            assert_eq!(read(&format!("dst/{newer}")), b"newer", "{ctx}: kept");
            assert_eq!(
                read(&format!("dst/{older}")),
                b"the source's",
                "{ctx}: synced"
            );
            if newer == "a" {
                assert_eq!(read("want/a"), b"newer", "{ctx}: rsync keeps a too");
                assert_eq!(read("want/b/f"), b"the source's", "{ctx}: and syncs b/f");
            }
        }
    }
}

/// `-u` with `--modify-window=N`: a destination file with the same time as
/// its source, or up to N-1 seconds older, is kept whatever its size, as
/// rsync 3.4 and later (`file->modtime - st_mtime < modify_window`); one
/// older by N seconds or more is replaced. (rsync 3.2 replaced a file of the
/// same time and another size, as its manual says; then only this test's own
/// expectations are checked.)
#[test]
fn update_with_a_window_keeps_files_of_nearly_the_same_time_like_rsync() {
    if !have_rsync("-u --modify-window") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let src = Fx::new(t.join("src"));
    src.dir("", 0o755);
    let at = 1_577_836_800; // 2020
    // (name, the destination's time relative to the source's, kept?)
    let cases = [
        ("same", 0, true),
        ("older1", -1, true),
        ("older2", -2, false),
        ("older9", -9, false),
        ("newer", 5, true),
    ];
    for (name, _, _) in cases {
        src.file(name, 0o644, "the source's, longer")
            .set_times(name, (at, 0), (at, 0));
    }
    src.set_times("", (at, 0), (at, 0));
    let prepare = |d: &Path| {
        let fx = Fx::new(d.to_path_buf());
        fx.dir("", 0o755);
        for (name, delta, _) in cases {
            fx.file(name, 0o644, "dst's")
                .set_times(name, (at + delta, 0), (at + delta, 0));
        }
    };
    let like_rsync = rsync_version().is_some_and(|v| v >= (3, 4));
    if !like_rsync {
        eprintln!("NOTE: rsync older than 3.4: only uring-cp's results are checked");
    }
    let options = ["-u", "--modify-window=2"];
    for engine in engines() {
        let ctx = format!("[{engine}] -u --modify-window=2");
        if like_rsync {
            compare(&ctx, engine, t, &options, &prepare);
        } else {
            let _ = std::fs::remove_dir_all(t.join("dst"));
            prepare(&t.join("dst"));
            let out = sync_src_to_dst(engine, t, &options);
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
        }
        for (name, _, kept) in cases {
            let got = std::fs::read(t.join("dst").join(name)).expect("read");
            let want: &[u8] = if kept {
                b"dst's"
            } else {
                b"the source's, longer"
            };
            assert_eq!(got, want, "{ctx}: {name}");
        }
    }
}
