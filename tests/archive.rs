//! Archive mode (`-a`, `-p`, `--preserve`, `--no-preserve`, `-d`, `--sparse`,
//! `--reflink`): every case copies the same tree with `uring-cp` (on every
//! engine) and with GNU `cp`, in sibling directories, and compares exit
//! statuses, messages and every attribute cp preserves (mode, owner, atime and
//! mtime with nanoseconds, size, content, allocated blocks, hard-link groups,
//! symlink targets, device numbers, xattrs and ACLs) of the two copies. The
//! `uring` engine runs twice: as by default (every source read through its
//! ring) and with cached sources copied with system calls (`--ring-reads
//! auto`); `uring-chains` runs with several rings and with one (`-j 1`).

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

const TIMES: MetaOpts = MetaOpts { times: true };
const NO_TIMES: MetaOpts = MetaOpts { times: false };

/// Is `setfacl` usable on this filesystem? (Installed by `.ci/run`.)
fn acl_support(dir: &Path) -> Result<(), String> {
    if !has_command("setfacl") {
        return Err("setfacl not installed (Debian package `acl`)".into());
    }
    let probe = dir.join(".acl-probe");
    fs::write(&probe, b"").map_err(|e| e.to_string())?;
    let st = Command::new("setfacl")
        .args(["-m", "u:65534:r"])
        .arg(&probe)
        .output()
        .map_err(|e| e.to_string())?;
    let _ = fs::remove_file(&probe);
    if st.status.success() {
        Ok(())
    } else {
        Err(format!(
            "setfacl fails here: {}",
            String::from_utf8_lossy(&st.stderr).trim()
        ))
    }
}

fn setfacl(fx: &Fx, args: &[&str], rel: &str) {
    let st = Command::new("setfacl")
        .args(args)
        .arg(fx.p(rel))
        .status()
        .expect("run setfacl");
    assert!(st.success(), "setfacl {args:?} {rel}");
}

/// The tree with every case: multi-linked files (across directories),
/// sparse files with leading, middle and trailing holes, a FIFO, a socket, a device
/// node (root), xattrs (trusted.* on a file and a symlink as root), ACLs
/// (when setfacl works), set-ID and sticky modes, a read-only directory with
/// contents, symlinks with their own times, files owned by someone else
/// (root), and nested directories, every entry with its own times.
fn rich(fx: &Fx, acl: bool) {
    let mut rng = Rng(42);
    fx.dir("src", 0o755);
    fx.file("src/plain", 0o644, b"plain\n");
    fx.file("src/exec", 0o755, b"#!/bin/sh\n");
    fx.file("src/setuid", 0o4755, b"suid\n");
    fx.file("src/setgid", 0o2755, b"sgid\n");
    fx.file("src/readonly", 0o444, b"ro\n");
    fx.file("src/empty", 0o600, b"");
    fx.file("src/large", 0o640, rng.bytes(300_000));
    // Hard links: one group across three directories, one of two names.
    fx.file("src/links/a", 0o644, b"linked three times\n");
    fx.hardlink("src/links/a", "src/links/b");
    fx.dir("src/other", 0o755);
    fx.hardlink("src/links/a", "src/other/c");
    fx.file("src/pair1", 0o600, rng.bytes(100_000));
    fx.hardlink("src/pair1", "src/d1/pair2");
    // Sparse files.
    let block = rng.bytes(8192);
    fx.sparse_file("src/sparse/lead", 0o644, 1 << 20, &[(1 << 19, &block)]);
    fx.sparse_file(
        "src/sparse/middle",
        0o644,
        1 << 20,
        &[(0, &block), ((1 << 20) - 8192, &block)],
    );
    fx.sparse_file("src/sparse/trail", 0o644, 1 << 20, &[(0, &block)]);
    fx.sparse_file("src/sparse/small", 0o644, 60_000, &[(0, &block[..100])]);
    fx.sparse_file("src/sparse/allhole", 0o644, 3 << 20, &[]);
    // Special files and symlinks.
    fx.fifo("src/fifo", 0o640);
    fx.socket("src/sock", 0o751);
    fx.symlink("src/link", "plain");
    fx.symlink("src/dangling", "no/such/file");
    fx.symlink("src/d1/up", "../plain");
    // A symlink and a FIFO with two names each.
    fx.symlink("src/sl1", "exec");
    fx.hardlink("src/sl1", "src/d1/sl2");
    fx.hardlink("src/fifo", "src/d1/fifo2");
    // Extended attributes.
    fx.set_xattr("src/plain", "user.one", b"1");
    fx.set_xattr("src/plain", "user.big", &rng.bytes(3000));
    fx.set_xattr("src/readonly", "user.ro", b"needs u+w to set");
    fx.set_xattr("src/links/a", "user.linked", b"yes");
    fx.set_xattr("src/d1", "user.dir", b"dir attr");
    // Directories: nested, set-group-ID, sticky, read-only with contents.
    fx.file("src/d1/d2/d3/deep", 0o600, b"deep\n");
    fx.dir("src/sgid", 0o2775);
    fx.file("src/sgid/f", 0o664, b"in sgid\n");
    fx.dir("src/sticky", 0o1777);
    fx.file("src/rodir/inside", 0o644, b"inside ro dir\n");
    fx.chmod("src/rodir", 0o555);
    if is_root() {
        fx.char_device("src/null", 0o666, 1, 3);
        fx.set_xattr("src/exec", "trusted.t", b"root only");
        fx.set_xattr("src/link", "trusted.l", b"on the link itself");
        fx.file("src/owned", 0o750, b"someone else's\n");
        fx.lchown("src/owned", NOBODY, NOBODY);
        // After the chown, which clears it.
        fx.chmod("src/owned", 0o4750);
        fx.dir("src/owneddir", 0o750);
        fx.file("src/owneddir/f", 0o640, b"x\n");
        fx.lchown("src/owneddir/f", NOBODY, 0);
        fx.lchown("src/owneddir", 0, NOBODY);
        fx.lchown("src/d1/up", NOBODY, NOBODY);
    }
    if acl {
        setfacl(fx, &["-m", "u:65534:r,g:65534:rw"], "src/exec");
        setfacl(fx, &["-m", "u:65534:rwx"], "src/other");
        setfacl(fx, &["-d", "-m", "u:65534:rx"], "src/other");
    }
    fx.stamp_all(1);
}

fn acl_or_skip(env: &TestEnv) -> bool {
    match acl_support(&env.ours.root) {
        Ok(()) => true,
        Err(why) => {
            skip(&format!("ACLs in the archive tree: {why}"));
            false
        }
    }
}

/// Copy `src` with `args` (before the operands) by both tools, compare
/// outcomes and the attributes of the copies `dst`.
fn both(env: &TestEnv, engine: &str, args: &[&str], o: &MetaOpts, ctx: &str) -> (Outcome, Outcome) {
    let mut argv: Vec<&str> = args.to_vec();
    argv.extend(["src", "dst"]);
    let (ours, gnu) = env.run_both(engine, &argv, &RunOpts::default());
    compare_outcomes(ctx, &ours, &gnu);
    assert_meta_eq(ctx, &env.ours.p("dst"), &env.gnu.p("dst"), o);
    (ours, gnu)
}

#[test]
fn archive_tree_matches_gnu_cp() {
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        for args in [&["-a"][..], &["-av"]] {
            failures.check(|| {
                let env = TestEnv::new();
                let acl = acl_or_skip(&env);
                env.build(|fx| rich(fx, acl));
                let ctx = format!("[{args:?}, engine={engine}]");
                both(&env, engine, args, &TIMES, &ctx);
                // Facts that do not depend on cp being right.
                let d = Fx::new(env.ours.p("dst"));
                let (a, b, c) = (d.lstat("links/a"), d.lstat("links/b"), d.lstat("other/c"));
                assert!(
                    a.ino() == b.ino() && b.ino() == c.ino(),
                    "{ctx}: hard links kept"
                );
                for f in [
                    "sparse/lead",
                    "sparse/middle",
                    "sparse/trail",
                    "sparse/allhole",
                ] {
                    let m = d.lstat(f);
                    assert!(
                        m.blocks() * 512 < m.len() / 2,
                        "{ctx}: {f} stays sparse: {m:?}"
                    );
                }
                assert_eq!(
                    d.lstat("setuid").mode() & 0o7777,
                    0o4755,
                    "{ctx}: setuid kept"
                );
                assert_eq!(
                    d.lstat("sticky").mode() & 0o7777,
                    0o1777,
                    "{ctx}: sticky kept"
                );
                let src = Fx::new(env.ours.p("src"));
                assert_eq!(
                    d.lstat("d1").mtime_nsec(),
                    src.lstat("d1").mtime_nsec(),
                    "{ctx}"
                );
                if is_root() {
                    assert_eq!(d.lstat("owned").uid(), NOBODY, "{ctx}: owner kept as root");
                    assert_eq!(d.lstat("owned").mode() & 0o7777, 0o4750, "{ctx}");
                }
            });
        }
    }
    failures.finish();
}

#[test]
fn archive_over_an_existing_copy_matches_gnu_cp() {
    // The second `cp -a src dst` of a backup script: directories exist,
    // files are rewritten in place, hard links are made again.
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        failures.check(|| {
            let env = TestEnv::new();
            env.build(|fx| rich(fx, false));
            let ctx = format!("[-a twice, engine={engine}]");
            let (ours, gnu) = env.run_both(engine, &["-a", "src", "dst"], &RunOpts::default());
            compare_outcomes(&ctx, &ours, &gnu);
            // Change the copies, then copy the contents of src onto them.
            env.build(|fx| {
                fx.file("dst/plain", 0o600, b"changed since\n");
                fx.chmod("dst/exec", 0o700);
                // The first copy read the sources (and moved their atimes,
                // each tree at its own moment): stamp them again.
                Fx::new(fx.p("src")).stamp_all(5);
            });
            let args = ["-a", "src/.", "dst"];
            let (ours, gnu) = env.run_both(engine, &args, &RunOpts::default());
            compare_outcomes(&ctx, &ours, &gnu);
            assert_meta_eq(&ctx, &env.ours.p("dst"), &env.gnu.p("dst"), &TIMES);
        });
    }
    failures.finish();
}

#[test]
fn inherited_default_acls_are_replaced_like_cp() {
    // Copies made in a directory with a default ACL inherit its entries;
    // with the mode preserved, cp gives them the source's ACL (none) instead.
    let probe = TestEnv::new();
    if let Err(why) = acl_support(&probe.ours.root) {
        skip(&format!("inherited ACLs: {why}"));
        return;
    }
    let build = |fx: &Fx| {
        fx.file("src/f", 0o640, b"x\n");
        fx.file("src/sub/g", 0o600, b"y\n");
        fx.file("src/acl", 0o644, b"z\n");
        setfacl(fx, &["-m", "u:65534:r"], "src/acl");
        fx.dir("out", 0o755);
        setfacl(fx, &["-d", "-m", "u:65534:rwx"], "out");
        fx.stamp_all(6);
    };
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        for args in [&["-a"][..], &["-rp"], &["-r"]] {
            failures.check(|| {
                let env = TestEnv::new();
                env.build(build);
                let mut argv = args.to_vec();
                argv.extend(["src", "out"]);
                let (ours, gnu) = env.run_both(engine, &argv, &RunOpts::default());
                let ctx = format!("[{args:?} into a default ACL, engine={engine}]");
                compare_outcomes(&ctx, &ours, &gnu);
                let o = if args == ["-r"] { NO_TIMES } else { TIMES };
                assert_meta_eq(&ctx, &env.ours.p("out/src"), &env.gnu.p("out/src"), &o);
            });
        }
    }
    failures.finish();
}

#[test]
fn preserve_lists_match_gnu_cp() {
    // (arguments, whether both tools keep the times)
    let cases: &[(&[&str], bool)] = &[
        (&["-r"], false),
        (&["-rp"], true),
        (&["-r", "--preserve"], true),
        (&["-r", "--preserve=mode"], false),
        (&["-r", "--preserve=ownership"], false),
        (&["-r", "--preserve=timestamps"], true),
        (&["-r", "--preserve=links"], false),
        (&["-r", "--preserve=xattr"], false),
        (&["-R", "--preserve=all"], true),
        (&["-rd"], false),
        (&["-a", "--no-preserve=mode"], true),
        (&["-a", "--no-preserve=ownership,links"], true),
        (&["-a", "--no-preserve=timestamps,xattr"], false),
        (&["-a", "--sparse=never"], true),
        (&["-a", "--sparse=always"], true),
        (&["-a", "--reflink=never"], true),
        // Following symlinks: two symlinks to one file become two names of it.
        (&["-rL", "--preserve=links"], false),
        (&["-aL"], true),
    ];
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        for (args, times) in cases {
            failures.check(|| {
                let env = TestEnv::new();
                env.build(|fx| rich(fx, false));
                let o = if *times { TIMES } else { NO_TIMES };
                both(
                    &env,
                    engine,
                    args,
                    &o,
                    &format!("[{args:?}, engine={engine}]"),
                );
            });
        }
    }
    failures.finish();
}

#[test]
fn single_files_and_operands_match_gnu_cp() {
    // Files named on the command line: -p on a set-user-ID file, and two
    // names of one inode given as separate operands stay linked with -d.
    let build = |fx: &Fx| {
        fx.file("suid", 0o4711, b"x\n");
        fx.file("a", 0o640, b"one inode\n");
        fx.hardlink("a", "b");
        fx.symlink("sl", "a");
        fx.dir("out", 0o755);
        fx.stamp_all(2);
    };
    // (arguments, the copies, whether times are kept)
    let cases: &[(&[&str], &[&str], bool)] = &[
        (&["-p", "suid", "copy"], &["copy"], true),
        (&["-d", "a", "b", "out"], &["out/a", "out/b"], false),
        (
            &["-a", "a", "b", "sl", "out"],
            &["out/a", "out/b", "out/sl"],
            true,
        ),
        (&["-p", "sl", "copy"], &["copy"], true),
        (&["-dp", "sl", "copy"], &["copy"], true),
    ];
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        for (args, copies, times) in cases {
            failures.check(|| {
                let env = TestEnv::new();
                env.build(build);
                let (ours, gnu) = env.run_both(engine, args, &RunOpts::default());
                let ctx = format!("[{args:?}, engine={engine}]");
                compare_outcomes(&ctx, &ours, &gnu);
                let o = if *times { TIMES } else { NO_TIMES };
                for c in *copies {
                    assert_meta_eq(&ctx, &env.ours.p(c), &env.gnu.p(c), &o);
                }
                if copies.len() > 1 {
                    let (a, b) = (env.ours.lstat(copies[0]), env.ours.lstat(copies[1]));
                    assert_eq!(a.ino(), b.ino(), "{ctx}: operands stay linked");
                }
            });
        }
    }
    failures.finish();
}

#[test]
fn many_hard_links_across_directories() {
    // Enough linked names that later names meet a first copy still in
    // flight in some worker's ring: they are parked, then linked.
    let build = |fx: &Fx| {
        let mut rng = Rng(9);
        for i in 0..150 {
            let first = format!("src/d{}/f{i}", i % 7);
            fx.file(&first, 0o644, rng.bytes((i * 37) % 5000));
            for j in 1..3 {
                fx.hardlink(&first, format!("src/d{}/l{i}-{j}", (i + j) % 11));
            }
        }
        // Names far apart in the walk: the first copy's directory is likely
        // finished and closed when the last name comes (linked by path).
        fx.file("src/a0/first", 0o640, b"first of three\n");
        fx.hardlink("src/a0/first", "src/m0/middle");
        fx.hardlink("src/a0/first", "src/z9/last");
        // One name inside the tree, one outside it.
        fx.file("outside", 0o644, b"half in\n");
        fx.hardlink("outside", "src/half");
        fx.stamp_all(3);
    };
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        for args in [&["-a"][..], &["-rd"]] {
            failures.check(|| {
                let env = TestEnv::new();
                env.build(build);
                let o = if args == ["-a"] { TIMES } else { NO_TIMES };
                let ctx = format!("[{args:?}, engine={engine}]");
                both(&env, engine, args, &o, &ctx);
                let d = Fx::new(env.ours.p("dst"));
                assert_eq!(d.lstat("d0/f0").nlink(), 3, "{ctx}");
                assert_eq!(d.lstat("half").nlink(), 1, "{ctx}");
            });
        }
    }
    failures.finish();
}

/// Run [`case`] (trees and which names are hard links of each other, exit
/// status, messages, all compared with GNU cp's) for every engine, the
/// `uring` engine reading every source through its ring too, and every
/// argument set.
fn each_engine_and_ring_reads(name: &str, build: impl Fn(&Fx) + Copy, arg_sets: &[&[&str]]) {
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        for args in arg_sets {
            failures.check(|| {
                case(&format!("{name}: {args:?}"), engine, build, args);
            });
        }
    }
    failures.finish();
}

#[test]
fn operands_naming_one_file_are_linked_like_cp() {
    // GNU's tests/cp/link-preserve.sh and its neighbours: with -H each
    // operand is remembered, so a symlink operand to another operand's file
    // becomes a second name of its copy; with -L every file is; and a file
    // met twice (a directory named twice through a symlink, a file inside an
    // operand named again) is linked to its first copy again.
    let build = |fx: &Fx| {
        fx.file("a", 0o644, b"one inode\n");
        fx.symlink("b", "a");
        fx.symlink("bb", "b");
        fx.hardlink("a", "h");
        fx.dir("d", 0o755);
        fx.file("d/x", 0o644, b"x and y\n");
        fx.hardlink("d/x", "d/y");
        fx.file("d/z", 0o644, b"z alone\n");
        fx.symlink("e", "d");
        fx.symlink("dx", "d/x");
        fx.symlink("dz", "d/z");
        fx.fifo("p", 0o644);
        fx.symlink("ps", "p");
        fx.dir("c", 0o755);
        // Destinations -u keeps (newer than the sources), not yet linked.
        fx.file("t/a", 0o644, b"one inode\n");
        fx.file("t/b", 0o644, b"one inode\n");
        fx.stamp_all(6);
        let later = (2_000_000_000, 0);
        fx.set_times("t/a", later, later);
        fx.set_times("t/b", later, later);
    };
    each_engine_and_ring_reads(
        "operands naming one file",
        build,
        &[
            // link-preserve.sh, case by case.
            &["-d", "a", "h", "c"],
            &["--preserve=links", "-R", "-H", "a", "b", "c"],
            &["--preserve=links", "-R", "-L", "d", "c"],
            &["-dR", "--no-preserve=links", "d", "c"],
            // The symlink first; without -R; through two symlinks; with -v.
            &["--preserve=links", "-R", "-H", "b", "a", "c"],
            &["--preserve=links", "-H", "a", "b", "bb", "c"],
            &["--preserve=links", "a", "b", "c"],
            &["-aHv", "a", "b", "bb", "h", "c"],
            &["--preserve=links", "-RL", "b", "a", "c"],
            // No -H, or no --preserve=links: separate files (or a symlink).
            &["-a", "a", "b", "c"],
            &["-RH", "a", "b", "c"],
            // An operand named twice.
            &["--preserve=links", "-H", "a", "b", "a", "c"],
            // A directory copied twice (through a symlink): its linked
            // files are linked across both copies, the others are not.
            &["--preserve=links", "-RH", "d", "e", "c"],
            &["--preserve=links", "-RL", "d", "e", "dz", "c"],
            // Symlink operands to files of a tree operand, before and
            // after it: linked where the file has several names.
            &["--preserve=links", "-RH", "d", "dx", "dz", "c"],
            &["--preserve=links", "-RH", "dx", "dz", "d", "c"],
            // A file inside an operand, named again.
            &["-a", "d", "d/x", "d/z", "c"],
            // Special files too.
            &["--preserve=links", "-RH", "p", "ps", "c"],
            // -u keeps t/a; t/b becomes a link to it all the same.
            &["-uH", "--preserve=links", "a", "b", "t"],
        ],
    );
}

#[test]
fn update_links_names_to_the_kept_destination_like_cp() {
    // GNU's tests/cp/preserve-link.sh: `cp -au s t` where -u keeps some
    // names' destinations (not older than the source). A kept destination
    // counts as the copy of its inode: the other names are linked to it, or,
    // if another name was copied first, it is linked to that copy, replacing
    // the destination -u kept. Contents are the same everywhere, so the
    // outcome does not depend on which name the walk meets first.
    const OLD: (i64, i64) = (1_500_000_000, 0);
    const SRC: (i64, i64) = (1_600_000_000, 0);
    const NEW: (i64, i64) = (1_700_000_000, 0);
    fn source(fx: &Fx, names: &[&str]) {
        fx.file(format!("s/{}", names[0]), 0o644, b"same\n");
        for n in &names[1..] {
            fx.hardlink(format!("s/{}", names[0]), format!("s/{n}"));
        }
        fx.set_times(format!("s/{}", names[0]), SRC, SRC);
    }
    fn dest(fx: &Fx, name: &str, times: (i64, i64)) {
        let rel = format!("t/s/{name}");
        fx.file(&rel, 0o644, b"same\n");
        fx.set_times(&rel, times, times);
    }
    // The script's tree, with `f` or `linkm` at the destination.
    fn script(fx: &Fx, there: &str) {
        source(fx, &["f", "linkm", "linke", "fileo", "fileu"]);
        dest(fx, there, NEW);
        fx.hardlink(format!("t/s/{there}"), "t/s/linke");
        dest(fx, "fileo", OLD);
        dest(fx, "fileu", NEW);
    }
    let args: &[&[&str]] = &[
        &["-au", "s", "t"],
        &["-ru", "--preserve=links", "s", "t"],
        &["-a", "s", "t"],
        &["-an", "s", "t"],
    ];
    each_engine_and_ring_reads("preserve-link.sh, f", |fx| script(fx, "f"), args);
    each_engine_and_ring_reads("preserve-link.sh, linkm", |fx| script(fx, "linkm"), args);
    // Two names: the one -u keeps is first or second in directory order
    // (one of p and q is, whatever the order), the other missing, older, or
    // kept too (then linked to the first all the same).
    let two: &[&[&str]] = &[&["-au", "s", "t"]];
    for (kept, other) in [("p", "q"), ("q", "p")] {
        let ctx = format!("-u keeps {kept}");
        each_engine_and_ring_reads(
            &format!("{ctx}, {other} missing"),
            |fx| {
                source(fx, &["p", "q"]);
                dest(fx, kept, NEW);
            },
            two,
        );
        each_engine_and_ring_reads(
            &format!("{ctx}, {other} older"),
            |fx| {
                source(fx, &["p", "q"]);
                dest(fx, kept, NEW);
                dest(fx, other, OLD);
            },
            two,
        );
    }
    each_engine_and_ring_reads(
        "-u keeps both",
        |fx| {
            source(fx, &["p", "q"]);
            dest(fx, "p", NEW);
            dest(fx, "q", NEW);
        },
        two,
    );
}

#[test]
fn unprivileged_archive_matches_gnu_cp() {
    // As uid 65534: files owned by root cannot be given away, silently, and
    // lose their set-ID bits; the user's own set-ID file keeps them.
    if let Err(why) = can_drop_privileges() {
        skip(&format!("archive as an unprivileged user: {why}"));
        return;
    }
    let build = |fx: &Fx| {
        fx.dir("src", 0o755);
        fx.file("src/rootsuid", 0o4755, b"root's\n");
        fx.file("src/mine", 0o4750, b"nobody's\n");
        fx.file("src/readonly", 0o444, b"ro\n");
        fx.dir("src/sticky", 0o1777);
        fx.dir("src/mydir", 0o2750);
        fx.file("src/mydir/f", 0o640, b"f\n");
        fx.symlink("src/link", "mine");
        fx.lchown("src/mine", NOBODY, NOBODY);
        fx.lchown("src/readonly", NOBODY, NOBODY);
        fx.lchown("src/mydir", NOBODY, NOBODY);
        fx.lchown("src/mydir/f", NOBODY, NOBODY);
        fx.lchown("src/link", NOBODY, NOBODY);
        fx.set_xattr("src/readonly", "user.x", b"set on a read-only copy");
        fx.chmod(".", 0o777);
        fx.stamp_all(4);
    };
    let opts = RunOpts {
        as_nobody: true,
        ..RunOpts::default()
    };
    let cases: &[(&[&str], bool)] = &[
        (&["-a"], true),
        (&["-r", "--preserve=ownership"], false),
        (&["-rp"], true),
        (&["-r", "--preserve=all"], true),
    ];
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        for (args, times) in cases {
            failures.check(|| {
                let env = TestEnv::new();
                env.build(build);
                let mut argv = args.to_vec();
                argv.extend(["src", "dst"]);
                let (ours, gnu) = env.run_both(engine, &argv, &opts);
                let ctx = format!("[{args:?} as uid 65534, engine={engine}]");
                compare_outcomes(&ctx, &ours, &gnu);
                let o = if *times { TIMES } else { NO_TIMES };
                assert_meta_eq(&ctx, &env.ours.p("dst"), &env.gnu.p("dst"), &o);
            });
        }
    }
    failures.finish();
}

#[test]
fn xattr_failures_are_reported_like_cp() {
    // An unprivileged user may read a file capability but not set one: cp
    // reports it and fails with --preserve=xattr, only reports it with
    // --preserve=all, and says nothing with -a.
    if let Err(why) = can_drop_privileges() {
        skip(&format!("xattr failures as an unprivileged user: {why}"));
        return;
    }
    let build = |fx: &Fx| {
        fx.file("src/capable", 0o755, b"x\n");
        fx.file("src/plain", 0o644, b"y\n");
        fx.set_xattr("src/plain", "user.ok", b"1");
        // struct vfs_cap_data, revision 2, effective, CAP_NET_BIND_SERVICE.
        let cap: Vec<u8> = [0x0200_0001u32, 1 << 10, 0, 0, 0]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        fx.set_xattr("src/capable", "security.capability", &cap);
        fx.chmod(".", 0o777);
    };
    let opts = RunOpts {
        as_nobody: true,
        ..RunOpts::default()
    };
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        for args in [
            &["-r", "--preserve=xattr"][..],
            &["-r", "--preserve=all"],
            &["-a"],
        ] {
            failures.check(|| {
                let env = TestEnv::new();
                env.build(build);
                let mut argv = args.to_vec();
                argv.extend(["src", "dst"]);
                let (ours, gnu) = env.run_both(engine, &argv, &opts);
                let ctx = format!("[{args:?} as uid 65534, engine={engine}]");
                compare_outcomes(&ctx, &ours, &gnu);
                assert_meta_eq(&ctx, &env.ours.p("dst"), &env.gnu.p("dst"), &NO_TIMES);
            });
        }
    }
    failures.finish();
}

/// Can `unshare -U -r` (a user namespace where only root is mapped) run here?
fn user_namespace() -> Result<(), String> {
    if !has_command("unshare") {
        return Err("unshare not installed (util-linux)".into());
    }
    match Command::new("unshare").args(["-U", "-r", "true"]).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "unshare -U -r fails: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn failed_chown_as_root_is_reported_like_cp() {
    // Root in a user namespace that maps only root cannot give a file to
    // uid 65534 (EINVAL): cp reports it, fails the item (exit 1), leaves the
    // copy without group and other permissions and skips its other
    // attributes, under -a as under --preserve=ownership.
    if let Err(why) = user_namespace() {
        skip(&format!("failed chown as root: {why}"));
        return;
    }
    if !is_root() {
        skip("failed chown as root: not running as root");
        return;
    }
    let build = |fx: &Fx| {
        fx.file("src/theirs", 0o644, b"x\n");
        fx.lchown("src/theirs", NOBODY, NOBODY);
        fx.file("src/mine", 0o4755, b"y\n");
        fx.dir("src/theirdir", 0o755);
        fx.file("src/theirdir/f", 0o640, b"z\n");
        fx.lchown("src/theirdir", NOBODY, NOBODY);
        fx.fifo("src/fifo", 0o644);
        fx.lchown("src/fifo", NOBODY, NOBODY);
        fx.stamp_all(7);
    };
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        for args in [&["-a"][..], &["-r", "--preserve=ownership"], &["-rp"]] {
            failures.check(|| {
                let env = TestEnv::new();
                env.build(build);
                let mut ours_args: Vec<Vec<u8>> = vec![b"-U".to_vec(), b"-r".to_vec(), BIN.into()];
                ours_args.extend(
                    engine_args(engine)
                        .into_iter()
                        .map(|s| s.as_bytes().to_vec()),
                );
                let mut gnu_args: Vec<Vec<u8>> =
                    vec![b"-U".to_vec(), b"-r".to_vec(), gnu_cp().into()];
                for a in args.iter().chain(&["src", "dst"]) {
                    ours_args.push(a.as_bytes().to_vec());
                    gnu_args.push(a.as_bytes().to_vec());
                }
                let o = RunOpts::default();
                let ours = run("unshare", &ours_args, &env.ours.root, &o);
                let gnu = run("unshare", &gnu_args, &env.gnu.root, &o);
                let ctx = format!("[{args:?} in a user namespace, engine={engine}]");
                compare_outcomes(&ctx, &ours, &gnu);
                assert_eq!(gnu.code, Some(1), "{ctx}: fixture assumption: cp fails");
                let times = if args == ["-r", "--preserve=ownership"] {
                    NO_TIMES
                } else {
                    TIMES
                };
                assert_meta_eq(&ctx, &env.ours.p("dst"), &env.gnu.p("dst"), &times);
            });
        }
    }
    failures.finish();
}

#[test]
fn sparse_modes_match_gnu_cp() {
    // Zero runs written as data (only --sparse=always makes holes of them in
    // a file without holes), real holes (kept unless --sparse=never), small
    // and large, and a file with both: there cp's default makes holes of the
    // zero blocks in its data too (`SEEK_HOLE is conservative and may miss
    // some holes`: xfs reports its speculative preallocation, once read, as
    // data; found by tests/proptest/ within xfs).
    let build = |fx: &Fx| {
        let mut rng = Rng(5);
        let mut zeros_in_data = vec![0u8; 256 << 10];
        zeros_in_data[100_000..100_100].copy_from_slice(&rng.bytes(100));
        fx.file("src/zeros", 0o644, &zeros_in_data);
        fx.file("src/smallzeros", 0o644, vec![0u8; 40_000]);
        let b = rng.bytes(5000);
        fx.sparse_file("src/holes", 0o644, 2 << 20, &[(1 << 20, &b)]);
        fx.sparse_file("src/smallholes", 0o644, 50_000, &[(40_000, &b)]);
        // 11 of its 12 blocks written, the last with one byte: 88 sectors
        // allocated for 45,057 bytes, which is 88 whole sectors and one
        // byte. cp's `is_probably_sparse` (88 < 45,057 / 512, rounded down:
        // no) copies every byte, zeros included, and so must we (we once
        // compared bytes, 88 x 512 < 45,057, and made holes; found by
        // tests/proptest/ with an ext4 xattr block making up the count).
        let head = rng.bytes(20_480);
        let tail = rng.bytes(45_057 - 24_576);
        fx.sparse_file(
            "src/onesectorshort",
            0o644,
            45_057,
            &[(0, &head), (24_576, &tail)],
        );
        let mut zeros_then_data = vec![0u8; 64 << 10];
        zeros_then_data[60 << 10..].copy_from_slice(&rng.bytes(4 << 10));
        fx.sparse_file(
            "src/holesandzeros",
            0o644,
            2 << 20,
            &[(1 << 20, &zeros_then_data)],
        );
    };
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        for args in [
            &["-r"][..],
            &["-r", "--sparse=always"],
            &["-r", "--sparse=never"],
        ] {
            failures.check(|| {
                let env = TestEnv::new();
                env.build(build);
                let ctx = format!("[{args:?}, engine={engine}]");
                both(&env, engine, args, &NO_TIMES, &ctx);
            });
        }
    }
    failures.finish();
}

#[test]
fn reflink_always_fails_like_cp_where_it_cannot_clone() {
    // The test directory's filesystem (ext4 here) cannot clone.
    let build = |fx: &Fx| {
        fx.file("src/f", 0o644, b"data\n");
        fx.file("src/g", 0o600, b"more\n");
    };
    let probe = TestEnv::new();
    probe.ours.file("p", 0o644, b"x");
    let can_clone = Command::new(gnu_cp())
        .args(["--reflink=always", "p", "q"])
        .current_dir(&probe.ours.root)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if can_clone {
        skip("reflink failure: the temp directory's filesystem can clone");
        return;
    }
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        failures.check(|| {
            let env = TestEnv::new();
            env.build(build);
            let ctx = format!("[--reflink=always, engine={engine}]");
            both(&env, engine, &["-r", "--reflink=always"], &NO_TIMES, &ctx);
            // The failed clone leaves an empty file, as cp does.
            assert_eq!(env.ours.lstat("dst/f").len(), 0, "{ctx}");
        });
    }
    failures.finish();
}

#[test]
fn reflink_clones_on_xfs() {
    let mnt = match common::mount::LoopFs::new("xfs") {
        Ok(m) => m,
        Err(why) => {
            skip(&format!("reflink on xfs: {why}"));
            return;
        }
    };
    if !has_command("filefrag") {
        skip("reflink on xfs: filefrag not installed (e2fsprogs)");
        return;
    }
    let root = mnt.path();
    let fx = Fx::new(root.join("src"));
    let mut rng = Rng(11);
    fx.dir(".", 0o755);
    fx.file("small", 0o644, rng.bytes(10_000));
    fx.file("large", 0o644, rng.bytes(3 << 20));
    fx.sparse_file("sparse", 0o644, 8 << 20, &[(4 << 20, &rng.bytes(65536))]);
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        for mode in ["--reflink=always", "--reflink=auto"] {
            failures.check(|| {
                let dst = format!("dst-{engine}{mode}");
                let out = run_uring_cp(
                    engine,
                    &["-a", mode],
                    &["src", dst.as_str()],
                    root,
                    &RunOpts::default(),
                );
                let ctx = format!("[{mode}, engine={engine}]");
                assert_eq!(out.code, Some(0), "{ctx}: {out}");
                let d = root.join(&dst);
                for f in ["small", "large", "sparse"] {
                    assert_eq!(
                        fs::read(d.join(f)).unwrap(),
                        fs::read(fx.p(f)).unwrap(),
                        "{ctx}: {f}"
                    );
                }
                // Always and auto (the default, as cp's): every file is a
                // clone, whichever engine (none reads a file it can clone).
                for f in ["small", "large", "sparse"] {
                    assert!(
                        common::mount::shared_extents(&d.join(f)) > 0,
                        "{ctx}: {f} shares its extents"
                    );
                }
                let m = fs::symlink_metadata(d.join("sparse")).unwrap();
                assert!(m.blocks() * 512 < m.len(), "{ctx}: sparse stays sparse");
            });
        }
        failures.check(|| {
            let dst = format!("dst-{engine}-never");
            let out = run_uring_cp(
                engine,
                &["-a", "--reflink=never"],
                &["src", dst.as_str()],
                root,
                &RunOpts::default(),
            );
            assert_eq!(out.code, Some(0), "{out}");
            assert_eq!(
                common::mount::shared_extents(&root.join(&dst).join("large")),
                0,
                "[never, engine={engine}]: a real copy"
            );
        });
    }
    failures.finish();
}

#[test]
fn context_and_bad_lists_are_refused() {
    let env = TestEnv::new();
    env.build(|fx| {
        fx.file("src/f", 0o644, b"x\n");
    });
    // Without SELinux, cp refuses an explicit context before copying anything.
    if !Path::new("/sys/fs/selinux/enforce").exists() {
        for engine in engines_and_ring_reads() {
            let (ours, gnu) = env.run_both(
                engine,
                &["-r", "--preserve=context", "src", "dst"],
                &RunOpts::default(),
            );
            compare_all(
                &format!("[--preserve=context, engine={engine}]"),
                &env,
                &ours,
                &gnu,
            );
        }
    } else {
        skip("--preserve=context refusal: SELinux is enabled here");
    }
    // Usage errors: exit status 2 (cp uses 1), nothing copied.
    for args in [
        &["--preserve=bogus", "src/f", "g"][..],
        &["--preserve=", "src/f", "g"],
        &["--no-preserve=mode,,links", "src/f", "g"],
        &["--reflink=always", "--sparse=never", "src/f", "g"],
        &["--sparse=sometimes", "src/f", "g"],
    ] {
        let out = env.run_ours("portable", args, &RunOpts::default());
        assert_eq!(out.code, Some(1), "{args:?}: {out}");
        assert!(!env.ours.exists("g"), "{args:?}: nothing copied");
    }
}
