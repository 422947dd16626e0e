//! Random trees under `cp -a`: one case (build, copy on every engine,
//! compare with the source and with GNU cp's copy) and the tests.

use super::*;

pub(crate) fn without_blocks(mut v: Vec<Meta>) -> Vec<Meta> {
    for m in &mut v {
        m.blocks = None;
    }
    v
}

/// `ours` for comparing with GNU cp's copy: a file allocated exactly as its
/// source counts as allocated as GNU's copy. GNU cp 9.1 sometimes writes out
/// a leading hole of a source whose blocks are not written back yet (seen with
/// seed 948667239677594787: data at 8192 and 15433.., cp's copy 72 blocks, the
/// source and ours 56); a copy with the source's own holes is not worse.
pub(crate) fn blocks_as_gnu_where_as_source(
    mut ours: Vec<Meta>,
    source: &[Meta],
    gnu: &[Meta],
) -> Vec<Meta> {
    for m in &mut ours {
        let same_path = |v: &[Meta]| v.iter().find(|x| x.path == m.path).and_then(|x| x.blocks);
        if m.blocks.is_some() && m.blocks == same_path(source) {
            m.blocks = same_path(gnu).or(m.blocks);
        }
    }
    ours
}

pub(crate) fn without_times(mut v: Vec<Meta>) -> Vec<Meta> {
    for m in &mut v {
        m.times = None;
    }
    v
}

pub(crate) fn diff_text(a: &[Meta], b: &[Meta], a_name: &str, b_name: &str) -> Option<String> {
    let d = diff_by_path(a, b, |m| &m.path, a_name, b_name);
    if d.is_empty() {
        return None;
    }
    let n = d.len();
    Some(format!(
        "{n} difference(s){}:\n  {}",
        if n > 40 { ", first 40 shown" } else { "" },
        d.into_iter().take(40).collect::<Vec<_>>().join("\n  ")
    ))
}

/// Build the tree, copy it with GNU cp and with each engine, compare.
/// Returns the engine that failed and why.
pub(crate) fn check_tree(
    plan: &Plan,
    engines: &[&'static str],
    within: Option<&std::path::Path>,
) -> Result<(), (&'static str, String)> {
    let env = TestEnv::new_within(within);
    let src = Fx::new(env.ours.p("src"));
    plan.build(&src);
    plan.build(&Fx::new(env.gnu.p("src")));
    let source = meta_snapshot(&src.root, &TIMES);

    // Where the copies go: beside the sources, or (one tree in two) on
    // another filesystem, where copy_file_range is refused and the bytes
    // move with sendfile (holes, hard links and xattrs too).
    let other = match plan.elsewhere {
        true => other_filesystem(env.tmp.path()),
        false => None,
    };
    let dst_of = |name: &str, fx: &Fx| match &other {
        Some(dir) => dir.path().join(name),
        None => fx.p(name),
    };
    let gnu_dst = dst_of("gnu-dst", &env.gnu);
    let gnu = env.run_gnu(
        &[&b"-a"[..], b"src", gnu_dst.as_os_str().as_bytes()],
        &RunOpts::default(),
    );
    if gnu.code != Some(0) || !gnu.stderr.is_empty() {
        return Err(("GNU cp", format!("fixture: GNU cp -a must succeed: {gnu}")));
    }
    let source_no_times = without_times(source.clone());
    let gnu_copy = meta_snapshot(&gnu_dst, &TIMES);
    let gnu_vs_source = diff_text(
        &without_blocks(source.clone()),
        &without_blocks(gnu_copy.clone()),
        "source",
        "GNU cp -a",
    );

    for &engine in engines {
        plan.stamp(&src);
        let dst = dst_of(&format!("dst-{engine}"), &env.ours);
        let out = env.run_ours(
            engine,
            &[&b"-a"[..], b"src", dst.as_os_str().as_bytes()],
            &RunOpts::default(),
        );
        let mut problems = Vec::new();
        if out.code != Some(0) || !out.stderr.is_empty() {
            problems.push("must exit 0 and print nothing".to_string());
        }
        let ours = meta_snapshot(&dst, &TIMES);
        let vs_source = diff_text(
            &without_blocks(source.clone()),
            &without_blocks(ours.clone()),
            "source",
            "uring-cp -a",
        );
        if let Some(d) = &vs_source {
            problems.push(format!("the copy differs from the source: {d}"));
            if let Some(g) = &gnu_vs_source {
                problems.push(format!("(GNU cp's copy differs from the source too: {g})"));
            }
        }
        let ours_for_gnu = blocks_as_gnu_where_as_source(ours.clone(), &source, &gnu_copy);
        if let Some(d) = diff_text(&gnu_copy, &ours_for_gnu, "GNU cp -a", "uring-cp -a") {
            problems.push(format!("the copy differs from GNU cp's: {d}"));
        }
        // The source itself must be untouched (times aside: reading moves atimes).
        let after = meta_snapshot(&src.root, &NO_TIMES);
        if let Some(d) = diff_text(&source_no_times, &after, "source before", "source after") {
            problems.push(format!("the copy changed the source: {d}"));
        }
        if !problems.is_empty() {
            if other.is_some() {
                problems.push(format!(
                    "(copied onto another filesystem: {})",
                    dst.display()
                ));
            }
            return Err((engine, format!("{out}\n{}", problems.join("\n"))));
        }
    }
    Ok(())
}

/// A directory on /dev/shm (tmpfs) when that is another filesystem than
/// `beside`'s, for the trees copied elsewhere; else `None`, said once.
pub(crate) fn other_filesystem(beside: &std::path::Path) -> Option<tempfile::TempDir> {
    static SAID: std::sync::Once = std::sync::Once::new();
    let dev = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.dev());
    let why = match tempfile::tempdir_in("/dev/shm") {
        Ok(d) if dev(d.path()).ok() != dev(beside).ok() => return Some(d),
        Ok(_) => "the temporary directory is on /dev/shm".to_string(),
        Err(e) => format!("no /dev/shm: {e}"),
    };
    SAID.call_once(|| {
        notice(&format!(
            "proptest: trees meant for another filesystem are copied beside their source \
             ({why})"
        ))
    });
    None
}

#[test]
fn random_trees_under_archive_equal_the_source_and_cp_on_every_engine() {
    let cases = env_u64("UCP_PROPTEST_CASES").map_or(DEFAULT_CASES, |n| n as u32);
    archive_proptest(cases, "UCP_PROPTEST_CASES", None);
}

/// The same within btrfs and within xfs, where every engine clones instead of
/// copying and the walkers schedule for the filesystem (`walk::ahead` within
/// btrfs, `engine::copier::lent` within xfs); the trees meant for another
/// filesystem go from there to /dev/shm. `UCP_PROPTEST_COW_CASES=N` trees on
/// each (default 24); `UCP_PROPTEST_SEED` as above.
#[test]
fn random_trees_within_btrfs_and_xfs_equal_cp_on_every_engine() {
    let cases = env_u64("UCP_PROPTEST_COW_CASES").map_or(DEFAULT_COW_CASES, |n| n as u32);
    within_cloning_filesystems("proptest", |within| {
        archive_proptest(cases, "UCP_PROPTEST_COW_CASES", Some(within))
    });
}

/// Copy `cases` random trees with `cp -a` and with `uring-cp -a` on every
/// engine, beside the sources in a temporary directory or within a
/// filesystem the test mounted (`within`: its type and mount point), and
/// compare; a failure is shrunk and reported with its seed (and `cases_var`,
/// the variable that sets `cases`, for the replay).
pub(crate) fn archive_proptest(
    cases: u32,
    cases_var: &str,
    within: Option<(&str, &std::path::Path)>,
) {
    let engines = engines_and_ring_reads();
    let (seed, place) = seed_and_place(within);
    notice(&format!(
        "proptest: {cases} random trees{place}, each copied by cp -a and by uring-cp -a on {} \
         engine(s) {engines:?}; seed {seed} (replay with UCP_PROPTEST_SEED={seed})",
        engines.len()
    ));
    let mut runner = runner(cases, seed);
    let started = Instant::now();
    // Every call of the closure (new cases and shrinking steps alike).
    let calls = Cell::new(0usize);
    // Once a case fails, shrinking runs only the engine that failed.
    let focus: Cell<Option<&'static str>> = Cell::new(None);
    // The first failure, before shrinking: (call number, engine, message).
    let first: RefCell<Option<(usize, &'static str, String)>> = RefCell::new(None);
    // What the trees that passed held (see `Plan::tally`).
    let tally = Cell::new([0u64; 10]);
    let result = runner.run(&tree_strategy(), |spec| {
        calls.set(calls.get() + 1);
        let plan = resolve(&spec);
        let only;
        let run_on = match focus.get() {
            Some(e) if e != "GNU cp" => {
                only = [e];
                &only[..]
            }
            _ => &engines[..],
        };
        match check_tree(&plan, run_on, within.map(|(_, dir)| dir)) {
            Ok(()) => {
                let mut t = tally.get();
                plan.tally(&mut t);
                tally.set(t);
                Ok(())
            }
            Err((engine, why)) => {
                focus.set(Some(engine));
                let msg = format!(
                    "engine {engine}:\n{why}\n  the source tree (paths below src/):\n{}",
                    plan.describe()
                );
                first
                    .borrow_mut()
                    .get_or_insert_with(|| (calls.get(), engine, msg.clone()));
                Err(TestCaseError::fail(msg))
            }
        }
    });
    match result {
        Ok(()) => {
            let t = tally.get();
            notice(&format!(
                "proptest: {cases} trees{place} x {} engines passed in {:.1?} ({} of the trees \
                 copied onto another filesystem); the trees held {} regular files ({} over 64 KiB, {} \
                 over 1 MiB, {} sparse), {} directories, {} symlinks, {} extra hard-link names, \
                 {} xattrs",
                engines.len(),
                started.elapsed(),
                t[9],
                t[1],
                t[2],
                t[3],
                t[4],
                t[5],
                t[6],
                t[7],
                t[8]
            ));
        }
        Err(TestError::Abort(why)) => panic!("proptest aborted (seed {seed}): {why}"),
        Err(TestError::Fail(reason, _)) => {
            let (case, engine, original) =
                first
                    .take()
                    .unwrap_or((0, "?", "(not recorded)".to_string()));
            panic!(
                "uring-cp -a differs on a random tree{place}: seed {seed} (replay with \
                 UCP_PROPTEST_SEED={seed} {cases_var}={cases}), first failing at call \
                 #{case} on engine {engine}, shrunk over {} calls.\n\n\
                 MINIMAL FAILING TREE, {}\n\nFIRST FAILURE (before shrinking), {original}",
                calls.get(),
                reason.message()
            );
        }
    }
}

/// A bug this test found: a symlink with two names in different
/// directories, whose atime reading it moves. GNU `cp -a` gives the copy the
/// atime it saw before reading the target. The portable and uring engines
/// sometimes gave it the atime of the moment the walk read the first name's
/// target: the walk stats and reads each name in turn, and the second
/// name's item could be the one a worker claims first (`Links::claim`), with
/// a stat taken after the first name's `readlinkat`. Now every name carries
/// the first name's status. Racy: failed within a few attempts before.
#[test]
fn hard_linked_symlink_keeps_the_atime_seen_before_reading_it() {
    const ATTEMPTS: usize = 30;
    let atime = (2_000_000_000, 500_000_000);
    let mtime = (2_100_000_000, 250_000_000);
    let mut failures = Failures::default();
    for engine in engines_and_ring_reads() {
        failures.check(|| {
            let env = TestEnv::new();
            let src = Fx::new(env.ours.p("src"));
            src.dir(".", 0o755);
            src.dir("N", 0o755);
            src.symlink("s", "target");
            src.hardlink("s", "N/t");
            // The control: GNU cp keeps the atime (also racy if it did not).
            let gnu = Fx::new(env.gnu.p("src"));
            gnu.dir(".", 0o755);
            gnu.dir("N", 0o755);
            gnu.symlink("s", "target");
            gnu.hardlink("s", "N/t");
            for i in 0..ATTEMPTS {
                gnu.set_times("s", atime, mtime);
                let dst = format!("dst{i}");
                let out = env.run_gnu(&["-a", "src", dst.as_str()], &RunOpts::default());
                assert_eq!(out.code, Some(0), "{out}");
                let md = Fx::new(env.gnu.p(&dst)).lstat("s");
                assert_eq!((md.atime(), md.atime_nsec()), atime, "fixture: GNU cp -a");
            }
            for i in 0..ATTEMPTS {
                src.set_times("s", atime, mtime);
                let dst = format!("dst{i}");
                let out = env.run_ours(engine, &["-a", "src", dst.as_str()], &RunOpts::default());
                assert_eq!(out.code, Some(0), "{out}");
                let md = Fx::new(env.ours.p(&dst)).lstat("s");
                assert_eq!(
                    (md.atime(), md.atime_nsec()),
                    atime,
                    "engine {engine}, attempt {} of {ATTEMPTS}: `{}`: the copy of the symlink \
                     src/s (also named src/N/t) has another atime than the source had",
                    i + 1,
                    out.cmdline
                );
            }
        });
    }
    failures.finish();
}
