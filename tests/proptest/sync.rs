//! Sync mode against rsync: a tree A, then A changed into B.
//!
//! `random_changes_sync_like_rsync_on_every_engine` builds a random tree A as
//! `src`, syncs it with `uring-cp -a --sync --delete -T src dst-ENGINE` on
//! every engine of [`engines`] and with `rsync -aHX --delete src/ want/`,
//! replaces `src` by B (A with random changes: files rewritten, touched,
//! deleted, added, entries of another type at the same name, symlinks
//! retargeted, modes, owners, times and xattrs changed, hard links added and
//! split), and syncs again. After each round every run must exit 0 silently,
//! and every `dst-ENGINE` must equal `want` and the source in type, mode,
//! owner, mtime to the nanosecond (not atimes: rsync does not keep them),
//! size and content, symlink target, hard-link groups and xattrs (not the
//! allocated blocks: rsync without -S writes holes out), with no `.~ucp.*`
//! temporary left. A third run of uring-cp (`--itemize-changes`) must print
//! nothing.
//!
//! B only changes what both tools define the same way, which
//! `model.rs`'s `settle` enforces after the random changes:
//! * the quick check: a regular file with the same size and the same mtime
//!   in whole seconds as before is left alone by both (its mtime's
//!   nanoseconds too), so such a file keeps its content and its exact mtime;
//!   a file that differs in content, or that must leave or join a hard-link
//!   group, gets another whole-second mtime (rsync -H documents that it does
//!   not split existing hard links of unchanged files);
//! * a directory whose mtime keeps its whole second keeps its nanoseconds
//!   (rsync leaves them; uring-cp sets them);
//! * a hard-linked symlink whose target is unchanged gets a new target, and
//!   a kept regular file does not become a hard link of another kept file
//!   (the generator's model of kept inodes is one to one; the case is pinned
//!   by `sync_links_two_unchanged_files_that_became_one_inode` below).
//!
//! Bugs this test found, fixed, and pinned by the tests below: the xattrs of
//! a kept file or directory, the owner and times of a symlink with the same
//! target, a new name of an unchanged (symlink) inode linked whatever the
//! walk order, two unchanged files that became links of each other, and
//! set-ID bits kept when only the owner is fixed.

use super::*;
use sync_options::{
    Basis, aside, aside_like, aside_of, is_backup, left_of, newer_names_kept, options_strategy,
    split_in_source, twin_bytes_not_taken,
};

/// Tree pairs per run unless `UCP_PROPTEST_SYNC_CASES` (or
/// `UCP_PROPTEST_CASES`) says otherwise.
pub(crate) const DEFAULT_SYNC_CASES: u32 = 24;
/// Random changes per pair.
pub(crate) const MAX_CHANGES: usize = 14;

pub(crate) fn change_strategy() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => (any::<usize>(), file_size(), fill_strategy(), (second(), nanosecond()))
            .prop_map(|(at, size, fill, mtime)| Change::Rewrite { at, size, fill, mtime }),
        4 => (any::<usize>(), 0u8..4, attrs_strategy(true))
            .prop_map(|(at, which, attrs)| Change::Attr { at, which, attrs }),
        3 => any::<usize>().prop_map(|at| Change::Delete { at }),
        3 => node_strategy().prop_map(Change::Add),
        2 => (any::<usize>(), kind_strategy(), attrs_strategy(true))
            .prop_map(|(at, kind, attrs)| Change::Retype { at, kind, attrs }),
        1 => (any::<usize>(), target_strategy())
            .prop_map(|(at, target)| Change::Retarget { at, target }),
    ]
}

/// Nodes of a wide tree A, seven in eight of them in the root: a directory
/// big enough (16 non-directories and more) for sync mode to share its
/// stats with its stat-ahead thread (`walk/statahead.rs`), which the
/// ordinary trees (28 nodes over several directories) seldom reach.
pub(crate) const WIDE_NODES: std::ops::RangeInclusive<usize> = 32..=64;

pub(crate) fn wide_tree_strategy() -> impl Strategy<Value = TreeSpec> {
    (
        attrs_strategy(true),
        prop::collection::vec((node_strategy(), 0u8..8), WIDE_NODES),
        prop::bool::ANY,
    )
        .prop_map(|(root, nodes, elsewhere)| TreeSpec {
            root,
            nodes: nodes
                .into_iter()
                .map(|(mut n, in_root)| {
                    if in_root != 0 {
                        n.parent = 0;
                    }
                    n
                })
                .collect(),
            elsewhere,
        })
}

pub(crate) fn sync_pair_strategy() -> impl Strategy<Value = (TreeSpec, Vec<Change>)> {
    (
        prop_oneof![2 => tree_strategy(), 1 => wide_tree_strategy()],
        prop::collection::vec(change_strategy(), 0..=MAX_CHANGES),
    )
}

/// Every attribute both tools keep: no atimes, no allocated blocks.
pub(crate) fn synced_view(root: &std::path::Path) -> Vec<Meta> {
    let mut v = meta_snapshot(root, &TIMES);
    for m in &mut v {
        m.blocks = None;
        if let Some(t) = &mut m.times {
            t[0] = (0, 0);
        }
    }
    v
}

/// Build A, sync it with rsync and with each engine, replace it by B, sync
/// again, compare; then sync once more with `--itemize-changes`.
pub(crate) fn check_sync(
    a: &Plan,
    b: &Plan,
    engines: &[&'static str],
    within: Option<&std::path::Path>,
    options: &[&str],
) -> Result<bool, (&'static str, String)> {
    let env = TestEnv::new_within(within);
    let dir = env.tmp.path();
    let src = Fx::new(dir.join("src"));
    let opts = RunOpts::default();
    // --dry-run, --existing and the --link-dest family in the second round
    // only: the first makes the mirror they start from.
    let dry_run = options.contains(&"--dry-run");
    let basis = Basis::among(options);
    let options_in = |round: usize| -> Vec<&str> {
        options
            .iter()
            .copied()
            .filter(|o| {
                round == 2
                    || (!matches!(*o, "--dry-run" | "--existing")
                        && !basis.as_ref().is_some_and(|b| b.is(o)))
            })
            .collect()
    };
    // Each tool's options in round 2: the basis made beside its mirror.
    let with_basis = |options: &[&str], round: usize, mirror: &std::path::Path| -> Vec<String> {
        options
            .iter()
            .map(|o| match &basis {
                Some(b) if round == 2 && b.is(o) => b.prepare(mirror),
                _ => aside(o, mirror),
            })
            .collect()
    };
    // With options that leave some of the source out (-u,
    // --size-only...), the mirror is compared with rsync's only.
    // (Nor with -b: a backup of a name deleted keeps its other names' link
    // count up.)
    let backups = options.contains(&"--backup");
    // --backup-dir: each tool's backups in a directory beside its mirror,
    // compared with rsync's. (Nor is the mirror compared with the source: a
    // name moved aside keeps its other names' link count up.)
    let set_aside = options.contains(&"--backup-dir=aside");
    let update = options.contains(&"-u");
    let removes = options.contains(&"--remove-source-files");
    if update
        && options.contains(&"--modify-window=1")
        && rsync_version().is_none_or(|v| v < (3, 4))
    {
        // rsync 3.2's -u with a window differs from 3.4's, which uring-cp
        // follows (see `sync::newer_kept`): not compared.
        return Ok(false);
    }
    let ignore_existing = options.contains(&"--ignore-existing");
    let leaves_out = |o: &&str| {
        matches!(
            *o,
            "-u" | "--size-only"
                | "--ignore-existing"
                | "--modify-window=1"
                | "--dry-run"
                | "--existing"
                | "--exclude=*a*"
        )
    };
    // --max-delete: what it keeps is not the source's.
    let max_delete = options.iter().any(|o| o.starts_with("--max-delete="));
    // (--link-dest: the copies' link counts include their twins'.)
    let like_source =
        !options.iter().any(leaves_out) && !backups && !set_aside && basis.is_none() && !max_delete;
    // --inplace into a file with other names: rsync writes through it, so the
    // other names take the new data even where the source's did not change
    // (its manual: "hard links are not broken"); uring-cp replaces the file
    // and leaves them, on purpose (README, Sync mode). From a tree with hard
    // links, the second round's mirror is compared with the source only.
    let write_through =
        options.contains(&"--inplace") && a.ops.iter().any(|op| matches!(op, Op::Link { .. }));
    // The mirrors, rsync's too, beside the source or (when tree A says so)
    // on another filesystem, as in `check_tree`.
    let other = match a.elsewhere {
        true => other_filesystem(dir),
        false => None,
    };
    let mirror = |name: &str| match &other {
        Some(o) => o.path().join(name),
        None => dir.join(name),
    };
    let want_dir = mirror("want");
    let want_arg = format!("{}/", want_dir.display());
    let view = |root: &std::path::Path| {
        // (A new mirror is not there before its run, nor after one with
        // --dry-run.)
        if basis.is_some() && std::fs::symlink_metadata(root).is_err() {
            return Vec::new();
        }
        let mut v = synced_view(root);
        if backups {
            // rsync -b leaves directories' times alone (so does uring-cp):
            // a new directory's is the time it was made.
            v.iter_mut()
                .filter(|m| m.kind == common::Kind::Dir)
                .for_each(|m| m.times = None);
            // A file still linked to a backup: rsync's backups are named
            // file by file, a directory's moved aside whole here.
            for m in &mut v {
                if let Some((first, _)) = &mut m.link_group
                    && is_backup(first)
                {
                    *first = b"(a backup)".to_vec();
                }
            }
        }
        v
    };
    // What --backup-dir set aside beside a mirror (nothing yet: no
    // directory), its directories compared by name only (see
    // `sync_options::aside_like`).
    let aside_view = |mirror: &std::path::Path| {
        let dir = aside_of(mirror);
        let mut v = match std::fs::symlink_metadata(&dir) {
            Ok(_) => synced_view(&dir),
            Err(_) => Vec::new(),
        };
        for m in v.iter_mut().filter(|m| m.kind == common::Kind::Dir) {
            (m.times, m.mode, m.uid, m.gid) = (None, 0, 0, 0);
            m.xattrs.clear();
        }
        v
    };
    for (round, plan) in [(1, a), (2, b)] {
        if round == 2 {
            std::fs::remove_dir_all(&src.root).expect("remove src");
        }
        plan.build(&src);
        let source = view(&src.root);
        let in_source: HashSet<Vec<u8>> = source.iter().map(|m| m.path.clone()).collect();
        let options = options_in(round);
        let sync_args = |options: &[String]| -> Vec<String> {
            ["-a", "--sync", "--delete"]
                .iter()
                .map(|s| s.to_string())
                .chain(options.iter().cloned())
                .collect()
        };
        if round == 2
            && basis.as_ref().is_some_and(Basis::compares)
            && source.iter().any(|m| m.link_group.is_some())
        {
            // --compare-dest with hard links: rsync 3.5.0 stops
            // ("File-list index 2 not in 4 - 5 (finish_hard_link)", exit 2)
            // or hangs where one name of a file has a twin. Not compared.
            return Ok(false);
        }
        if round == 2 && (ignore_existing || update) {
            let was = view(&want_dir);
            // --ignore-existing, a symlink kept where the source now has a
            // directory: rsync goes through it (with --delete it deletes
            // what it points to, the mirror itself for `l -> .`); uring-cp
            // leaves it, on purpose (README; pinned in
            // `tests/rsync_options.rs`). -u, a file with several names in
            // the mirror that the source has split: setting one name's time
            // changes the others', so what -u keeps depends on the order of
            // the names (rsync's sorted order, not uring-cp's). Not compared.
            let through = ignore_existing
                && source.iter().any(|m| {
                    m.kind == common::Kind::Dir
                        && was
                            .iter()
                            .any(|w| w.path == m.path && w.kind == common::Kind::Symlink)
                });
            if through || (update && split_in_source(&was, &source)) {
                return Ok(false);
            }
        }
        if round == 2 && options.contains(&"--existing") {
            // --existing, a name that became a file with several names where
            // the mirror has another type: rsync -H removes what is there
            // and makes nothing (its hard-link pass skips the new names);
            // a file of one name replaces it, in rsync and uring-cp alike.
            // Not compared.
            let was = view(&want_dir);
            let retyped_link = source.iter().any(|m| {
                m.link_group.is_some() && was.iter().any(|w| w.path == m.path && w.kind != m.kind)
            });
            if retyped_link {
                return Ok(false);
            }
        }
        let rsync_args: Vec<String> = ["-aHX", "--delete"]
            .iter()
            .map(|s| s.to_string())
            .chain(with_basis(&options, round, &want_dir))
            .chain(["src/".to_string(), want_arg.clone()])
            .collect();
        let mut rsync = run("rsync", &rsync_args, dir, &opts);
        // --max-delete kept entries: rsync's line, which uring-cp must say too.
        let limit_line = limited(&mut rsync);
        if !options.is_empty() && (rsync.code == Some(23) || !rsync.stderr.is_empty()) {
            // rsync's own failures with some options, not compared: -b
            // cannot put an entry where a directory it emptied is (it renames
            // the files in it and leaves it: "cannot delete non-empty
            // directory"; uring-cp moves the directory aside whole, on
            // purpose), and rsync 3.2.7 --inplace's "Missing abbreviated
            // xattr value" (its own bug: it leaves that xattr out).
            return Ok(false);
        }
        if rsync.code != Some(0) || !rsync.stderr.is_empty() {
            return Err((
                "rsync",
                format!("round {round}: rsync must succeed: {rsync}"),
            ));
        }
        let mut want = view(&want_dir);
        // (With -b, entries rsync's mirror keeps that are not the source's:
        // what --ignore-existing keeps under a file that was a directory.)
        let in_rsyncs: HashSet<Vec<u8>> = want.iter().map(|m| m.path.clone()).collect();
        if backups {
            want.retain(|m| in_source.contains(&m.path));
        }
        // --ignore-existing: a non-directory kept where the source has a
        // directory, without its times (see `sync_options::SYNC_OPTIONS`).
        let dirs_in_source: HashSet<Vec<u8>> = source
            .iter()
            .filter(|m| m.kind == common::Kind::Dir)
            .map(|m| m.path.clone())
            .collect();
        // And a file with several names: rsync sets the times of a new
        // name it links to a kept one, so of the kept file too; uring-cp
        // leaves what --ignore-existing keeps.
        let kept_under_dir = |v: &mut Vec<Meta>| {
            if ignore_existing {
                v.iter_mut()
                    .filter(|m| {
                        (m.kind != common::Kind::Dir && dirs_in_source.contains(&m.path))
                            || (m.kind == common::Kind::File && m.link_group.is_some())
                    })
                    .for_each(|m| m.times = None);
            }
        };
        // --max-delete: a directory the source lacks that keeps some of its
        // entries has the time its others went (each tool's own moment).
        let kept_extra = |v: &mut Vec<Meta>| {
            if max_delete {
                v.iter_mut()
                    .filter(|m| m.kind == common::Kind::Dir && !in_source.contains(&m.path))
                    .for_each(|m| m.times = None);
            }
        };
        kept_under_dir(&mut want);
        kept_extra(&mut want);
        let rsync_vs_source = diff_text(&source, &want, "source", "rsync");
        // --remove-source-files: what rsync left of the source, which each
        // engine's run (on the source made again) must leave too.
        let rsync_left = removes.then(|| left_of(&src.root));
        for &engine in engines {
            let dst_dir = mirror(&format!("dst-{engine}"));
            if removes {
                std::fs::remove_dir_all(&src.root).expect("remove src");
                plan.build(&src);
            }
            let dst = dst_dir.to_string_lossy().into_owned();
            let sync_args = sync_args(&with_basis(&options, round, &dst_dir));
            let sync_args: Vec<&str> = sync_args.iter().map(String::as_str).collect();
            let before = match update && round == 2 {
                true => view(&dst_dir),
                false => Vec::new(),
            };
            let out = run_uring_cp(engine, &sync_args, &["-T", "src", &dst], dir, &opts);
            let mut problems = Vec::new();
            if let Some(theirs) = &rsync_left
                && let Some(d) = diff_text(theirs, &left_of(&src.root), "rsync", "uring-cp")
            {
                problems.push(format!("the source left differs from rsync's: {d}"));
            }
            match &limit_line {
                None if out.code != Some(0) || !out.stderr.is_empty() => {
                    problems.push("must exit 0 and print nothing".to_string());
                }
                Some(line)
                    if out.code != Some(25)
                        || String::from_utf8_lossy(&out.stderr).trim_end()
                            != format!("uring-cp: {line}") =>
                {
                    problems.push(format!("must exit 25 and say only rsync's {line:?}"));
                }
                _ => {}
            }
            let mut ours = view(&dst_dir);
            if backups {
                // Backups: each mirror's entries the source has are compared;
                // the others must be backups (or in rsync's mirror too). (A directory that goes is moved
                // aside whole here; rsync renames the files in it and leaves
                // the directory: a difference on purpose, README.)
                let others = ours
                    .iter()
                    .filter(|m| {
                        !in_source.contains(&m.path)
                            && !is_backup(&m.path)
                            && !in_rsyncs.contains(&m.path)
                    })
                    .map(|m| show(&m.path))
                    .collect::<Vec<_>>();
                if !others.is_empty() {
                    problems.push(format!("neither in the source nor a backup: {others:?}"));
                }
                ours.retain(|m| in_source.contains(&m.path));
            }
            kept_under_dir(&mut ours);
            kept_extra(&mut ours);
            let mut want = want.clone();
            if basis.is_some() && options.contains(&"--size-only") {
                twin_bytes_not_taken(&source, &mut want, &ours);
            }
            if update {
                newer_names_kept(&source, &before, &mut want, &mut ours);
            }
            if options.contains(&"--modify-window=1") {
                // Times a second apart are the same time: which of two
                // such names of one file stands for it (and gives it its
                // time) depends on the order (rsync's sorted order).
                for m in &mut ours {
                    if let Some(w) = want.iter().find(|w| w.path == m.path)
                        && let (Some(a), Some(b)) = (m.times, w.times)
                        && (a[1].0 - b[1].0).abs() <= 1
                    {
                        m.times = w.times;
                    }
                }
            }
            let vs_rsync = match round == 2 && write_through {
                true => None,
                false => diff_text(&want, &ours, "rsync", "uring-cp"),
            };
            if let Some(d) = vs_rsync {
                problems.push(format!("the mirror differs from rsync's: {d}"));
            }
            if set_aside
                && let Some(d) = diff_text(
                    &aside_view(&want_dir),
                    &aside_like(
                        aside_view(&dst_dir),
                        &aside_view(&want_dir),
                        basis.is_some(),
                    ),
                    "rsync's backups",
                    "uring-cp's",
                )
            {
                problems.push(format!("the --backup-dir differs from rsync's: {d}"));
            }
            let vs_source = match like_source {
                true => diff_text(&source, &ours, "source", "uring-cp"),
                false => None,
            };
            if let Some(d) = vs_source {
                problems.push(format!("the mirror differs from the source: {d}"));
                if let Some(r) = &rsync_vs_source {
                    problems.push(format!("(rsync's differs from the source too: {r})"));
                }
            }
            let temps: Vec<String> = ours
                .iter()
                .filter(|m| split_name(&m.path).1.starts_with(b".~ucp."))
                .map(|m| show(&m.path))
                .collect();
            if !temps.is_empty() {
                problems.push(format!("temporaries left: {temps:?}"));
            }
            // (-b --delete-excluded: the next run deletes this run's
            // backups, which nothing protects then, as rsync's does.)
            // (-I copies every file again, and says so.)
            // (What --max-delete kept goes in the next run.)
            let unsettled = dry_run
                || removes
                || limit_line.is_some()
                || options.contains(&"--ignore-times")
                || (backups && options.contains(&"--delete-excluded"));
            if round == 2 && problems.is_empty() && !unsettled {
                let again_args: Vec<&str> = sync_args
                    .iter()
                    .copied()
                    .chain(["--itemize-changes"])
                    .collect();
                let again = run_uring_cp(engine, &again_args, &["-T", "src", &dst], dir, &opts);
                if again.code != Some(0) || !again.stderr.is_empty() || !again.stdout.is_empty() {
                    problems.push(format!(
                        "syncing the synced tree again must change nothing and print \
                         nothing: {again}"
                    ));
                }
            }
            if !problems.is_empty() {
                if other.is_some() {
                    problems.push(format!("(mirrors on another filesystem: {dst})"));
                }
                return Err((
                    engine,
                    format!(
                        "round {round} (tree {}): {out}\n{}",
                        ["A", "B"][round - 1],
                        problems.join("\n")
                    ),
                ));
            }
        }
    }
    Ok(true)
}

/// `--max-delete` kept entries at the destination (rsync exited 25): its
/// line ("Deletions stopped due to --max-delete limit (N skipped)"), taken
/// out of `rsync`'s output with the error line that follows it, and its
/// status made 0, so the rest is judged as any run's.
fn limited(rsync: &mut Outcome) -> Option<String> {
    if rsync.code != Some(25) {
        return None;
    }
    let text = String::from_utf8_lossy(&rsync.stderr).into_owned();
    let (limit, rest): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| {
        l.starts_with("Deletions stopped due to --max-delete limit")
            || l.starts_with("rsync error: the --max-delete limit stopped deletions")
    });
    rsync.stderr = rest
        .iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .into_bytes();
    rsync.code = Some(0);
    limit.first().map(|l| l.to_string())
}

#[test]
fn random_changes_sync_like_rsync_on_every_engine() {
    if !rsync_here() {
        return;
    }
    let cases = env_u64("UCP_PROPTEST_SYNC_CASES")
        .or_else(|| env_u64("UCP_PROPTEST_CASES"))
        .map_or(DEFAULT_SYNC_CASES, |n| n as u32);
    sync_proptest(cases, "UCP_PROPTEST_SYNC_CASES", None, false);
}

/// The same within btrfs and within xfs (see
/// [`random_trees_within_btrfs_and_xfs_equal_cp_on_every_engine`]):
/// `UCP_PROPTEST_COW_SYNC_CASES=N` pairs on each (default 12).
#[test]
fn random_changes_within_btrfs_and_xfs_sync_like_rsync_on_every_engine() {
    if !rsync_here() {
        return;
    }
    let cases = env_u64("UCP_PROPTEST_COW_SYNC_CASES").map_or(DEFAULT_COW_SYNC_CASES, |n| n as u32);
    within_cloning_filesystems("proptest (sync)", |within| {
        sync_proptest(cases, "UCP_PROPTEST_COW_SYNC_CASES", Some(within), false)
    });
}

/// Is rsync here to compare sync mode with? Else a SKIP line says so.
pub(crate) fn rsync_here() -> bool {
    let here = Command::new("rsync").arg("--version").output().is_ok();
    if !here {
        skip("rsync is not installed (.ci/run installs it): cannot compare sync with it");
    }
    here
}

/// Sync `cases` random pairs of trees with rsync and with every engine, in a
/// temporary directory or within a filesystem the test mounted (`within`:
/// its type and mount point), and compare (see [`archive_proptest`]).
pub(crate) fn sync_proptest(
    cases: u32,
    cases_var: &str,
    within: Option<(&str, &std::path::Path)>,
    with_options: bool,
) {
    let engines = engines();
    let (seed, place) = seed_and_place(within);
    let also = if with_options {
        " plus one or two random options"
    } else {
        ""
    };
    notice(&format!(
        "proptest (sync): {cases} random tree pairs{place}, each synced by rsync -aHX --delete \
         and by uring-cp -a --sync --delete{also} on {} engine(s) {engines:?}; seed {seed} \
         (replay with UCP_PROPTEST_SEED={seed})",
        engines.len()
    ));
    let mut runner = runner(cases, seed);
    let started = Instant::now();
    let calls = Cell::new(0usize);
    let focus: Cell<Option<&'static str>> = Cell::new(None);
    let first: RefCell<Option<(usize, &'static str, String)>> = RefCell::new(None);
    // What the pairs that passed held: tree A (see `Plan::tally`), changes.
    let tally = Cell::new([0u64; 10]);
    let changed = Cell::new(0usize);
    // Pairs not compared (see `check_sync`).
    let left_out = Cell::new(0usize);
    let strategy = (sync_pair_strategy(), options_strategy(with_options));
    let result = runner.run(&strategy, |((spec, changes), options)| {
        calls.set(calls.get() + 1);
        let (a, b) = sync_plans(&spec, &changes);
        let only;
        let run_on = match focus.get() {
            Some(e) if e != "rsync" => {
                only = [e];
                &only[..]
            }
            _ => &engines[..],
        };
        match check_sync(&a, &b, run_on, within.map(|(_, dir)| dir), &options) {
            Ok(false) => {
                left_out.set(left_out.get() + 1);
                Ok(())
            }
            Ok(true) => {
                let mut t = tally.get();
                a.tally(&mut t);
                tally.set(t);
                changed.set(changed.get() + changes.len());
                Ok(())
            }
            Err((engine, why)) => {
                focus.set(Some(engine));
                let msg = format!(
                    "engine {engine}, options {options:?}:\n{why}\n  tree A (paths below src/):\n{}  the changes: \
                     {changes:?}\n  tree B:\n{}",
                    a.describe(),
                    b.describe()
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
                "proptest (sync): {cases} tree pairs{place} x {} engines passed in {:.1?} ({} \
                 mirrored onto another filesystem); the A trees held {} regular files, {} \
                 directories, {} symlinks, {} extra hard-link names, {} xattrs; {} random \
                 changes made the B trees; {} pairs left out (rsync failed: -b cannot \
                 replace a directory it emptied, --inplace misses an xattr value; or \
                 --ignore-existing would make rsync go through a symlink; or -u on \
                 split links, where the order decides; or --compare-dest with hard \
                 links, where rsync stops or hangs; or --existing where a linked file \
                 takes another type's name)",
                engines.len(),
                started.elapsed(),
                t[9],
                t[1],
                t[5],
                t[6],
                t[7],
                t[8],
                changed.get(),
                left_out.get()
            ));
        }
        Err(TestError::Abort(why)) => panic!("proptest aborted (seed {seed}): {why}"),
        Err(TestError::Fail(reason, _)) => {
            let (case, engine, original) =
                first
                    .take()
                    .unwrap_or((0, "?", "(not recorded)".to_string()));
            panic!(
                "uring-cp --sync differs from rsync on a random pair of trees{place}: seed \
                 {seed} (replay with UCP_PROPTEST_SEED={seed} {cases_var}={cases}), first \
                 failing at call #{case} on engine {engine}, shrunk over {} calls.\n\n\
                 MINIMAL FAILING PAIR, {}\n\nFIRST FAILURE (before shrinking), {original}",
                calls.get(),
                reason.message()
            );
        }
    }
}
