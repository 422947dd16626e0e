//! Random trees copied onto random existing trees, with random options,
//! against GNU cp.
//!
//! The other comparisons copy into nothing; most of what can go wrong for a
//! user who runs `cp` twice, or into a directory that has things in it, is
//! what the destination already holds: a file where the source has a file
//! (kept, overwritten in place, skipped, backed up, removed first), a
//! directory where it has a file and the other way round, hard links on
//! either side. Each case is a source tree and a destination tree whose names
//! are drawn from a few letters (so they collide often), an option set (one
//! of `-r -R -a -rp -rd -rP`, `--preserve=`/`--no-preserve=` forms, plus up
//! to two of `-f -n -u --remove-destination -b --backup=numbered -l -v
//! --attributes-only --sparse=never --reflink=never -x`) and one of three
//! ways to name the operands (`-T src dst`, `src/. dst`, `src dst` with the
//! destination tree at `dst/src`). GNU cp runs on one copy of the two trees
//! and `uring-cp` on another, once per engine; both roots must then be equal
//! (types, modes, sizes, contents, symlink targets, hard-link groups), the
//! exit statuses and messages must agree ([`compare_all`]), and the
//! destination's owners, xattrs and (when the options keep them)
//! modification times too.
//!
//! Left out, because uring-cp differs there on purpose (README, "Where this
//! differs from GNU cp on purpose"): symlinks in the destination tree (cp
//! writes through them; they become regular files here), set-ID and sticky
//! bits on the destination's files (cp -p keeps them when the source has
//! none), hard links in the source with `-u`, and `-v` with `-l` or
//! `--attributes-only`. Also left out: `-n` with a backup option (cp
//! refuses the pair with a usage message), symlinks in the source under
//! `-l` (cp -rl follows them, out of the tree too), and cases whose outcome
//! depends on the order in which names are copied ([`order_decides`]; the
//! summary says how many).
//!
//! `UCP_PROPTEST_ONTO_CASES=N` cases (default 32, or `UCP_PROPTEST_CASES`);
//! `UCP_PROPTEST_SEED` replays a run.

use super::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Cases per run unless `UCP_PROPTEST_ONTO_CASES` (or `UCP_PROPTEST_CASES`)
/// says otherwise.
const DEFAULT_ONTO_CASES: u32 = 32;

/// The option sets every case starts from.
const BASES: &[&[&str]] = &[
    &["-r"],
    &["-R"],
    &["-a"],
    &["-rp"],
    &["-rd"],
    &["-rP"],
    &["-r", "--preserve=mode,timestamps"],
    &["-a", "--no-preserve=mode"],
];

/// What may be added to a base, up to two of them.
const MODIFIERS: &[&str] = &[
    "-f",
    "-n",
    "-u",
    "--remove-destination",
    "-b",
    "--backup=numbered",
    "-l",
    "-v",
    "--attributes-only",
    "--sparse=never",
    "--reflink=never",
    "-x",
];

/// How the operands are named.
#[derive(Clone, Copy, Debug)]
enum Form {
    /// `-T src dst`: src's entries merged into dst.
    Merge,
    /// `src/. dst`: the same, as a path.
    Dot,
    /// `src dst`: into `dst/src`, where the destination tree is.
    Into,
}

#[derive(Clone, Debug)]
struct Case {
    source: TreeSpec,
    destination: TreeSpec,
    args: Vec<&'static str>,
    form: Form,
}

/// Names from a few letters, so that the two trees' names meet.
fn collide(mut spec: TreeSpec, letters: &[u8]) -> TreeSpec {
    for n in &mut spec.nodes {
        let pick = n.name.iter().map(|&b| b as usize).sum::<usize>() + n.name.len();
        n.name = vec![letters[pick % letters.len()]];
    }
    spec.elsewhere = false;
    spec
}

fn options_strategy() -> impl Strategy<Value = Vec<&'static str>> {
    (
        prop::sample::select(BASES),
        prop::collection::vec(prop::sample::select(MODIFIERS), 0..=2),
    )
        .prop_map(|(base, extra)| {
            let mut args: Vec<&'static str> = base.to_vec();
            for m in extra {
                if !args.contains(&m) {
                    args.push(m);
                }
            }
            let backup = |a: &&str| a.starts_with("-b") || a.starts_with("--backup");
            if args.contains(&"-n") && args.iter().any(backup) {
                args.retain(|a| !backup(a));
            }
            if args.contains(&"-l") || args.contains(&"--attributes-only") {
                // cp's -v names what it then fails to make; uring-cp's names what was done.
                args.retain(|a| *a != "-v");
            }
            args
        })
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        tree_strategy(),
        tree_strategy(),
        options_strategy(),
        prop::sample::select(vec![Form::Merge, Form::Dot, Form::Into]),
    )
        .prop_map(|(source, destination, args, form)| {
            let mut source = collide(source, b"abcde");
            let mut destination = collide(destination, b"abcde");
            for n in &mut destination.nodes {
                // cp writes through a destination's symlinks; uring-cp replaces them.
                if let Kind::Symlink(_) = n.kind {
                    n.kind = Kind::File {
                        size: 3,
                        fill: Fill::Text,
                    };
                }
                // Under -p cp keeps an old file's set-ID and sticky bits
                // when its source has none; uring-cp gives it the source's mode.
                if !matches!(n.kind, Kind::Dir) {
                    n.attrs.mode &= 0o777;
                }
            }
            if args.contains(&"-l") {
                // cp -rl follows symlinks (-L): ones that lead out of the tree
                // (`/`, `../..`) would copy the machine.
                for n in &mut source.nodes {
                    if let Kind::Symlink(_) = n.kind {
                        n.kind = Kind::File {
                            size: 5,
                            fill: Fill::Text,
                        };
                    }
                }
            }
            if args.contains(&"-u") {
                // -u with two names of one source file: a difference on purpose.
                for n in &mut source.nodes {
                    if let Kind::HardLink(_) = n.kind {
                        n.kind = Kind::Dir;
                    }
                }
            }
            Case {
                source,
                destination,
                args,
                form,
            }
        })
}

impl Case {
    /// The whole command line after the program's name.
    fn argv(&self) -> Vec<&'static str> {
        let mut v = self.args.clone();
        match self.form {
            Form::Merge => v.extend(["-T", "src", "dst"]),
            Form::Dot => v.extend(["src/.", "dst"]),
            Form::Into => v.extend(["src", "dst"]),
        }
        v
    }

    /// Whether the options keep times (then they are compared too).
    fn keeps_times(&self) -> bool {
        self.args
            .iter()
            .any(|a| matches!(*a, "-a" | "-rp" | "--preserve=mode,timestamps"))
    }

    /// Make both trees below `fx`.
    fn build(&self, source: &Plan, destination: &Plan, fx: &Fx) {
        source.build(&Fx::new(fx.p("src")));
        match self.form {
            Form::Merge | Form::Dot => destination.build(&Fx::new(fx.p("dst"))),
            Form::Into => {
                fx.dir("dst", 0o755);
                destination.build(&Fx::new(fx.p("dst/src")));
                // Made at another instant in each root.
                fx.set_times("dst", (1_000_000_000, 0), (1_000_000_000, 0));
            }
        }
    }

    fn describe(&self, source: &Plan, destination: &Plan) -> String {
        format!(
            "  command: cp {}\n  the source tree (paths below src/):\n{}\n  the destination \
             tree (paths below {}):\n{}",
            self.argv().join(" "),
            source.describe(),
            match self.form {
                Form::Into => "dst/src/",
                _ => "dst/",
            },
            destination.describe()
        )
    }
}

/// Access times are not compared: a directory's is whenever something last
/// listed it, and with two names of one source file copied as two files
/// (`-rp`) the second copy keeps the access time reading the first gave it.
fn without_atimes(mut v: Vec<Meta>) -> Vec<Meta> {
    for t in v.iter_mut().filter_map(|m| m.times.as_mut()) {
        t[0] = (0, 0);
    }
    v
}

/// The names of non-directories a plan makes.
fn non_dirs(plan: &Plan) -> HashSet<&[u8]> {
    plan.ops
        .iter()
        .filter_map(|op| match op {
            Op::File(p, _) | Op::Sparse(p, ..) | Op::Symlink(p, _) => Some(p.as_slice()),
            Op::Link { new, .. } => Some(new.as_slice()),
            Op::Dir(_) => None,
        })
        .collect()
}

/// The directory a name is in (empty: the top).
fn parent(name: &[u8]) -> &[u8] {
    name.iter()
        .rposition(|&b| b == b'/')
        .map_or(&[][..], |i| &name[..i])
}

/// The names of each multiply-linked file a plan makes, by its first name.
fn link_groups(plan: &Plan) -> std::collections::HashMap<&[u8], Vec<&[u8]>> {
    let mut first: std::collections::HashMap<&[u8], &[u8]> = Default::default();
    for op in &plan.ops {
        if let Op::Link { existing, new } = op {
            let root = first.get(existing.as_slice()).copied().unwrap_or(existing);
            first.insert(existing, root);
            first.insert(new, root);
        }
    }
    let mut groups: std::collections::HashMap<&[u8], Vec<&[u8]>> = Default::default();
    for (name, root) in first {
        groups.entry(root).or_default().push(name);
    }
    groups
}

/// Does the outcome depend on the order in which names are copied? cp goes
/// in inode order, uring-cp's workers in theirs, so such cases are not
/// compared:
/// * two names of one destination file both receive a source entry: what
///   the file ends up holding (and, under --preserve=links, where cp
///   replaces a file with other names and rewrites one with no others left,
///   which name keeps it) depends on which is copied first;
/// * under --preserve=links, a name of a multiply-linked source lands on an
///   existing file: copied first, that file is rewritten in place (keeping
///   its inode and xattrs the source lacks); linked later, it is replaced;
/// * under --preserve=links without owners (`-rd`), a multiply-linked source
///   with names in two directories: the file is made in the directory of the
///   name copied first, whose set-group-ID bit may give it that group.
fn order_decides(case: &Case, source: &Plan, destination: &Plan) -> bool {
    let sourced = non_dirs(source);
    let taken = non_dirs(destination);
    let hit = |names: &Vec<&[u8]>, set: &HashSet<&[u8]>| {
        names.iter().filter(|n| set.contains(*n)).count()
    };
    // The option sets of BASES that keep hard links.
    let links_kept = case.args.iter().any(|a| matches!(*a, "-a" | "-rd"));
    link_groups(destination)
        .values()
        .any(|names| hit(names, &sourced) >= 2)
        || (links_kept
            && link_groups(source)
                .values()
                .any(|names| hit(names, &taken) >= 1))
        || (case.args.contains(&"-rd")
            && link_groups(source).values().any(|names| {
                names
                    .iter()
                    .map(|n| parent(n))
                    .collect::<HashSet<_>>()
                    .len()
                    > 1
            }))
}

/// Run one case on `engine`: whether it was compared, or the differences
/// from GNU cp.
fn check_onto(case: &Case, engine: &'static str) -> Result<bool, String> {
    let source = resolve(&case.source);
    let destination = resolve(&case.destination);
    if order_decides(case, &source, &destination) {
        return Ok(false);
    }
    let env = TestEnv::new();
    case.build(&source, &destination, &env.ours);
    case.build(&source, &destination, &env.gnu);
    let argv = case.argv();
    let (ours, gnu) = env.run_both(engine, &argv, &RunOpts::default());
    let ctx = format!("[cp {}, engine={engine}]", argv.join(" "));
    // The attributes first: comparing the trees reads every file, which
    // moves access times.
    let opts = if case.keeps_times() { TIMES } else { NO_TIMES };
    let (ours_meta, gnu_meta) = (
        without_atimes(meta_snapshot(&env.ours.p("dst"), &opts)),
        without_atimes(meta_snapshot(&env.gnu.p("dst"), &opts)),
    );
    // compare_all panics with its report; here a report is a failed case.
    let compared = catch_unwind(AssertUnwindSafe(|| compare_all(&ctx, &env, &ours, &gnu)));
    if let Err(panic) = compared {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "compare_all panicked".to_string());
        return Err(why);
    }
    if let Some(d) = diff_text(
        &without_blocks(ours_meta),
        &without_blocks(gnu_meta),
        "uring-cp",
        "GNU cp",
    ) {
        return Err(format!("{ctx}: the destinations' attributes differ: {d}"));
    }
    Ok(true)
}

#[test]
fn random_trees_onto_random_trees_with_random_options_like_cp() {
    let cases = env_u64("UCP_PROPTEST_ONTO_CASES")
        .or_else(|| env_u64("UCP_PROPTEST_CASES"))
        .map_or(DEFAULT_ONTO_CASES, |n| n as u32);
    // The destination rules are the shared copier's; the ring variants of
    // `engines_and_ring_reads` run in the other comparisons.
    let engines = engines_and_ring_reads();
    let (seed, _) = seed_and_place(None);
    notice(&format!(
        "proptest (onto): {cases} random trees copied onto random trees with random options, \
         by cp and by uring-cp on {} engine(s) {engines:?}; seed {seed} (replay with \
         UCP_PROPTEST_SEED={seed})",
        engines.len()
    ));
    let mut runner = runner(cases, seed);
    let started = Instant::now();
    let calls = Cell::new(0usize);
    let focus: Cell<Option<&'static str>> = Cell::new(None);
    let first: RefCell<Option<(usize, String)>> = RefCell::new(None);
    // Cases left out by `order_decides` (while no case has failed).
    let left_out = Cell::new(0usize);
    let result = runner.run(&case_strategy(), |case| {
        calls.set(calls.get() + 1);
        let only;
        let run_on = match focus.get() {
            Some(e) => {
                only = [e];
                &only[..]
            }
            None => &engines[..],
        };
        for &engine in run_on {
            let compared = check_onto(&case, engine);
            if let Ok(false) = compared {
                left_out.set(left_out.get() + 1);
                break;
            }
            if let Err(why) = compared {
                focus.set(Some(engine));
                let source = resolve(&case.source);
                let destination = resolve(&case.destination);
                let msg = format!(
                    "engine {engine}:\n{why}\n{}",
                    case.describe(&source, &destination)
                );
                first
                    .borrow_mut()
                    .get_or_insert_with(|| (calls.get(), msg.clone()));
                return Err(TestCaseError::fail(msg));
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => notice(&format!(
            "proptest (onto): {cases} cases x {} engines passed in {:.1?} ({} left out: the \
             order of the copies decides their outcome)",
            engines.len(),
            started.elapsed(),
            left_out.get()
        )),
        Err(TestError::Abort(why)) => panic!("proptest aborted (seed {seed}): {why}"),
        Err(TestError::Fail(reason, _)) => {
            let (case, original) = first.take().unwrap_or((0, "(not recorded)".to_string()));
            panic!(
                "uring-cp differs from cp onto a random tree: seed {seed} (replay with \
                 UCP_PROPTEST_SEED={seed} UCP_PROPTEST_ONTO_CASES={cases}), first failing at \
                 call #{case}, shrunk over {} calls.\n\nMINIMAL FAILING CASE, {}\n\nFIRST \
                 FAILURE (before shrinking), {original}",
                calls.get(),
                reason.message()
            );
        }
    }
}
