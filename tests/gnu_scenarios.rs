//! The scenarios of GNU coreutils tests, run with uring-cp and with GNU
//! cp side by side (every engine, fresh temp dirs for each run):
//!
//! * `tests/cp/same-file.sh`: options x source/destination relationships
//!   (the same file, hard links, symlinks to each other, hard links to
//!   symlinks), where a naive copy would overwrite its own source;
//! * `tests/cp/abuse.sh`: `cp -dR a/1 b/1 c` where `a/1` is a symlink just
//!   copied to `c/1`: cp must not write `b/1` through it;
//! * `tests/cp/thru-dangling.sh`: a destination that is a dangling symlink
//!   (or a symlink loop);
//! * beside `tests/cp/preserve-link.sh` (whose own cases are in
//!   `tests/archive.rs`): -u with two names of one inode whose destinations
//!   it keeps.
//!
//! Each case compares the exit status, the resulting tree (types, bytes,
//! symlink targets, hard-link groups) and the essence of stderr: each
//! message without its program prefix (`uring-cp: `, `cp: `) and without a
//! trailing `: <system error>`, as same-file.sh itself normalises them.
//! Where uring-cp deliberately differs, the case says so and states what it
//! must do instead. Every test prints a table of what both programs did.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// Is `gnu_cp()` GNU cp? (The expectations below are GNU cp 9.1's.)
fn gnu_cp_available() -> Result<(), String> {
    let out = Command::new(gnu_cp())
        .arg("--version")
        .output()
        .map_err(|e| format!("{} not runnable: {e}", gnu_cp()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("GNU coreutils") {
        Ok(())
    } else {
        Err(format!(
            "{} is not GNU cp: {:?}",
            gnu_cp(),
            text.lines().next()
        ))
    }
}

/// What a case expects of uring-cp.
enum Expect {
    /// Exactly what GNU cp does.
    Gnu,
    /// A documented, deliberate difference: this exit status, these
    /// messages (essence, prefix stripped) and the tree `tree` builds on top
    /// of the fixture.
    Deliberate {
        why: &'static str,
        code: i32,
        msgs: &'static [&'static str],
        tree: fn(&Fx),
    },
}

struct Case {
    name: String,
    /// `NAME=value` set for both programs (through `env`).
    env: Vec<&'static str>,
    args: Vec<String>,
    setup: Box<dyn Fn(&Fx)>,
    expect: Expect,
    /// Runs per engine (more than one where the outcome has been seen to
    /// vary from run to run).
    repeat: usize,
}

impl Case {
    fn new(name: impl Into<String>, args: &[&str], setup: impl Fn(&Fx) + 'static) -> Case {
        Case {
            name: name.into(),
            env: Vec::new(),
            args: args.iter().map(|s| s.to_string()).collect(),
            setup: Box::new(setup),
            expect: Expect::Gnu,
            repeat: 1,
        }
    }
}

/// What one program did: exit status, message essences, stdout, the tree.
#[derive(Clone, PartialEq)]
struct Ran {
    code: Option<i32>,
    msgs: Vec<String>,
    stdout: String,
    tree: Vec<String>,
    /// Compact `ls`-like view of the tree, for the table.
    short: String,
    raw: String,
}

/// A message without its trailing `: <system error>` (anything after the
/// last quoted name), as same-file.sh's `sed` keeps only up to the colon.
fn essence(msg: &str) -> String {
    let tail_from = msg.rfind('\'').map_or(0, |i| i + 1);
    match msg[tail_from..].find(": ") {
        Some(i) => msg[..tail_from + i].to_string(),
        None => msg.to_string(),
    }
}

fn messages(stderr: &[u8], prefixes: &[&str]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(|l| {
            let m = prefixes.iter().find_map(|p| l.strip_prefix(p)).unwrap_or(l);
            essence(m)
        })
        .collect()
}

/// The tree below `root` as lines (type, mode, bytes, symlink target, and
/// for a non-directory with several names the group's first name), and a
/// compact one-line view.
fn tree_of(root: &Path) -> (Vec<String>, String) {
    let entries = snapshot(root);
    let mut first_name: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut lines = Vec::new();
    let mut short = Vec::new();
    for e in &entries {
        let p = if e.path == b"." {
            root.to_path_buf()
        } else {
            root.join(os(&e.path))
        };
        let md = std::fs::symlink_metadata(&p).expect("lstat");
        let mut line = format!("{e:?}");
        let mut name = show(&e.path);
        if !md.is_dir() && md.nlink() > 1 {
            let first = first_name.entry(md.ino()).or_insert_with(|| e.path.clone());
            write!(line, " links={} with {}", md.nlink(), show(first)).unwrap();
            write!(name, "({})", md.nlink()).unwrap();
        }
        lines.push(line);
        if e.path == b"." {
            continue;
        }
        match e.kind {
            Kind::Dir => name.push('/'),
            Kind::Symlink => {
                write!(name, "->{}", show(e.link_target.as_deref().unwrap_or(b""))).unwrap()
            }
            Kind::File => match &e.content {
                Content::Bytes(b) => write!(name, "={}", show(b.trim_ascii_end())).unwrap(),
                c => write!(name, "={c:?}").unwrap(),
            },
            k => write!(name, "[{k:?}]").unwrap(),
        }
        short.push(name);
    }
    (lines, short.join(" "))
}

/// Run `program` (uring-cp with `--engine engine`, or GNU cp) on the case in
/// `root`, through `env` so the case's variables reach it.
fn run_case(case: &Case, ours: Option<&str>, root: &Path) -> Ran {
    let mut argv: Vec<String> = case.env.iter().map(|s| s.to_string()).collect();
    match ours {
        Some(engine) => argv.extend([BIN.into(), "--engine".into(), engine.into()]),
        None => argv.push(gnu_cp().into()),
    }
    argv.extend(case.args.iter().cloned());
    let out = run("env", &argv, root, &RunOpts::default());
    let gnu_prefix = format!("{}: ", gnu_cp());
    let prefixes: Vec<&str> = match ours {
        Some(_) => vec!["uring-cp: "],
        None => vec![&gnu_prefix, "cp: "],
    };
    let (tree, short) = tree_of(root);
    Ran {
        code: out.code,
        msgs: messages(&out.stderr, &prefixes),
        stdout: out.stdout_str(),
        tree,
        short,
        raw: out.to_string(),
    }
}

fn brief(r: &Ran) -> String {
    let code = r.code.map_or("signal".to_string(), |c| c.to_string());
    if r.msgs.is_empty() {
        format!("{code} ({})", r.short)
    } else {
        format!("{code} [{}] ({})", r.msgs.join("; "), r.short)
    }
}

/// Compare uring-cp's result with the expectation; `Err` describes how it
/// differs.
fn judge(case: &Case, ours: &Ran, gnu: &Ran) -> Result<(), String> {
    let mut why = Vec::new();
    match &case.expect {
        Expect::Gnu => {
            if ours.code != gnu.code {
                why.push(format!(
                    "exit status: uring-cp {:?}, cp {:?}",
                    ours.code, gnu.code
                ));
            }
            if ours.msgs != gnu.msgs {
                why.push(format!(
                    "messages: uring-cp {:?}, cp {:?}",
                    ours.msgs, gnu.msgs
                ));
            }
            if ours.stdout != gnu.stdout {
                why.push(format!(
                    "stdout: uring-cp {:?}, cp {:?}",
                    ours.stdout, gnu.stdout
                ));
            }
            let d = diff_lines(&ours.tree, &gnu.tree, "uring-cp", "cp");
            if !d.is_empty() {
                why.push(format!("trees differ:\n      {}", d.join("\n      ")));
            }
        }
        Expect::Deliberate { code, msgs, .. } => {
            if ours.code != Some(*code) {
                why.push(format!("exit status {:?}, expected {code}", ours.code));
            }
            if ours.msgs != *msgs {
                why.push(format!("messages {:?}, expected {msgs:?}", ours.msgs));
            }
            if !ours.stdout.is_empty() {
                why.push(format!("stdout {:?}, expected none", ours.stdout));
            }
        }
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("\n    "))
    }
}

fn diff_lines(a: &[String], b: &[String], a_name: &str, b_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in a.iter().filter(|l| !b.contains(l)) {
        out.push(format!("only {a_name}: {l}"));
    }
    for l in b.iter().filter(|l| !a.contains(l)) {
        out.push(format!("only {b_name}: {l}"));
    }
    out
}

/// Run every case with every engine, print the table, fail with every case
/// whose uring-cp outcome is not the expected one.
fn run_all(title: &str, cases: &[Case]) {
    if let Err(why) = gnu_cp_available() {
        skip(&format!("{title}: {why}"));
        return;
    }
    let engines = engines();
    let mut table = format!(
        "\n=== {title}: uring-cp vs GNU cp ({} cases x engines {engines:?})\n",
        cases.len()
    );
    let mut failures = Vec::new();
    let (mut same, mut deliberate) = (0, 0);
    for case in cases {
        let cmd = format!(
            "{}cp {}",
            case.env.iter().map(|e| format!("{e} ")).collect::<String>(),
            case.args.join(" ")
        );
        // GNU cp's outcome, once per case (it has no engines).
        let env = TestEnv::new();
        env.build(|fx| (case.setup)(fx));
        let gnu = run_case(case, None, &env.gnu.root);
        drop(env);
        let mut rows: Vec<(String, Result<(), String>, String)> = Vec::new();
        for engine in &engines {
            for rep in 0..case.repeat {
                let env = TestEnv::new();
                env.build(|fx| (case.setup)(fx));
                let ours = run_case(case, Some(engine), &env.ours.root);
                let mut verdict = judge(case, &ours, &gnu);
                if let (Ok(()), Expect::Deliberate { tree, .. }) = (&verdict, &case.expect) {
                    let want = env.extra_root("expected");
                    (case.setup)(&want);
                    tree(&want);
                    let d = diff_lines(&ours.tree, &tree_of(&want.root).0, "uring-cp", "expected");
                    if !d.is_empty() {
                        verdict = Err(format!(
                            "tree is not the expected one:\n      {}",
                            d.join("\n      ")
                        ));
                    }
                }
                let label = if case.repeat > 1 {
                    format!("{engine}#{}", rep + 1)
                } else {
                    engine.to_string()
                };
                if let Err(e) = &verdict {
                    failures.push(format!(
                        "[{}] `{cmd}`, engine {label}:\n    {e}\n  uring-cp: {}\n  GNU cp:   {}",
                        case.name, ours.raw, gnu.raw
                    ));
                }
                rows.push((label, verdict, brief(&ours)));
            }
        }
        let differs = rows.iter().any(|r| r.1.is_err());
        let status = match (&case.expect, differs) {
            (_, true) => "DIFFERS",
            (Expect::Gnu, false) => {
                same += 1;
                "same"
            }
            (Expect::Deliberate { .. }, false) => {
                deliberate += 1;
                "deliber."
            }
        };
        writeln!(table, "{status:<8} {cmd}").unwrap();
        writeln!(table, "           cp: {}", brief(&gnu)).unwrap();
        match &case.expect {
            Expect::Deliberate { why, .. } => writeln!(
                table,
                "           expected of uring-cp: a deliberate difference: {why}"
            )
            .unwrap(),
            Expect::Gnu => {}
        }
        if differs || status != "same" {
            // One line per distinct uring-cp outcome, with its engines.
            let mut seen: Vec<(String, Vec<String>)> = Vec::new();
            for (label, _, b) in &rows {
                match seen.iter_mut().find(|(x, _)| x == b) {
                    Some((_, ls)) => ls.push(label.clone()),
                    None => seen.push((b.clone(), vec![label.clone()])),
                }
            }
            for (b, labels) in seen {
                writeln!(table, "           uring-cp [{}]: {b}", labels.join(",")).unwrap();
            }
        }
    }
    let differ = cases.len() - same - deliberate;
    writeln!(
        table,
        "=== {title}: {same} same as cp, {deliberate} deliberate differences, {differ} DIFFER"
    )
    .unwrap();
    notice(&table);
    if !failures.is_empty() {
        panic!(
            "{title}: {} run(s) of {differ} case(s) differ from the expected outcome:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
}

// ---------------------------------------------------------------------------
// same-file.sh
// ---------------------------------------------------------------------------

/// Every option set same-file.sh tries (`--rem` is `--remove-destination`).
const SAME_FILE_OPTIONS: &[&str] = &[
    "", "-d", "-f", "-df", "--rem", "-b", "-bd", "-bf", "-bdf", "-l", "-dl", "-fl", "-dfl", "-bl",
    "-bdl", "-bfl", "-bdfl", "-s", "-sf",
];

/// Every SOURCE DEST pair it tries, in its order.
const SAME_FILE_ARGS: &[(&str, &str)] = &[
    ("foo", "symlink"),
    ("symlink", "foo"),
    ("foo", "foo"),
    ("sl1", "sl2"),
    ("foo", "hardlink"),
    ("hlsl", "sl2"),
];

fn same_file_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for &(src, dst) in SAME_FILE_ARGS {
        for &opts in SAME_FILE_OPTIONS {
            // The script skips some hard-link-to-symlink cases on systems
            // where link(2) follows symlinks; Linux does not, so all run.
            let names = format!("{src} {dst}");
            let setup = move |fx: &Fx| {
                fx.file("foo", 0o644, "XYZ\n");
                if names.contains("symlink") {
                    fx.symlink("symlink", "foo");
                }
                if names.contains("hardlink") {
                    fx.hardlink("foo", "hardlink");
                }
                if names.contains("sl1") {
                    fx.symlink("sl1", "foo");
                }
                if names.contains("sl2") {
                    fx.symlink("sl2", "foo");
                }
                if names.contains("hlsl") {
                    fx.hardlink("sl2", "hlsl");
                }
            };
            let mut args: Vec<&str> = Vec::new();
            if !opts.is_empty() {
                args.push(opts);
            }
            args.extend([src, dst]);
            let mut c = Case::new(format!("same-file {opts:<5} {src} {dst}"), &args, setup);
            // As the script: numbered backups (`NAME.~1~`).
            c.env = vec!["VERSION_CONTROL=numbered"];
            cases.push(c);
        }
    }
    cases
}

#[test]
fn same_file_matrix() {
    run_all("same-file.sh", &same_file_cases());
}

// ---------------------------------------------------------------------------
// abuse.sh
// ---------------------------------------------------------------------------

/// a/1 -> ../t (a symlink), b/1 a file; `t` exists (holding "i") or not.
fn abuse_fixture(t_exists: bool) -> impl Fn(&Fx) + 'static {
    move |fx: &Fx| {
        fx.dir("a", 0o755).dir("b", 0o755).dir("c", 0o755);
        fx.symlink("a/1", "../t");
        fx.file("b/1", 0o644, "payload\n");
        if t_exists {
            fx.file("t", 0o644, "i\n");
        }
    }
}

fn abuse_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // The script's two cases: cp copies the symlink a/1 to c/1, then must
    // refuse to write b/1 through it ("will not copy 'b/1' through
    // just-created symlink 'c/1'", exit 1), leaving t absent or unchanged.
    for (t_exists, what) in [(false, "dangling-dest"), (true, "existing-dest")] {
        cases.push(Case::new(
            format!("abuse {what}"),
            &["-dR", "a/1", "b/1", "c"],
            abuse_fixture(t_exists),
        ));
    }
    cases
}

/// The exact message abuse.sh expects (its `exp` file, prefix stripped).
const ABUSE_MSG: &str = "will not copy 'b/1' through just-created symlink 'c/1'";

#[test]
fn abuse_just_created_symlink() {
    let cases = abuse_cases();
    run_all("abuse.sh", &cases);
}

/// What abuse.sh itself asserts, independently of GNU cp: exit 1, exactly
/// its message, `t` not created (dangling) or unchanged (existing). GNU cp
/// is checked too, so the fixture is known to be the script's.
#[test]
fn abuse_script_assertions() {
    if let Err(why) = gnu_cp_available() {
        skip(&format!("abuse.sh assertions: {why}"));
        return;
    }
    let mut failures = Failures::default();
    let mut programs: Vec<Option<&str>> = vec![None];
    let engines = engines();
    programs.extend(engines.iter().map(|e| Some(*e)));
    for case in abuse_cases() {
        for &program in &programs {
            failures.check(|| {
                let env = TestEnv::new();
                let root = match program {
                    Some(_) => &env.ours,
                    None => &env.gnu,
                };
                (case.setup)(root);
                let t_before = root.exists("t").then(|| root.read("t"));
                let r = run_case(&case, program, &root.root);
                let who =
                    program.map_or("GNU cp".to_string(), |e| format!("uring-cp --engine {e}"));
                let ctx = format!("[{}] {who}", case.name);
                assert_eq!(r.code, Some(1), "{ctx}: exit status\n{}", r.raw);
                assert_eq!(r.msgs, [ABUSE_MSG], "{ctx}: message\n{}", r.raw);
                let t_after = root.exists("t").then(|| root.read("t"));
                assert_eq!(
                    t_after.as_deref().map(show),
                    t_before.as_deref().map(show),
                    "{ctx}: t was written through c/1\n{}",
                    r.raw
                );
            });
        }
    }
    failures.finish();
}

/// Related cases beyond the script (the same "just created" logic): a
/// directory where the symlink was made, one source named twice, and two
/// trees merged into one (where the symlink lies inside the destination
/// tree, not on the command line).
fn abuse_extra_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.push(Case::new(
        "abuse -a (as -dR)",
        &["-a", "a/1", "b/1", "c"],
        abuse_fixture(false),
    ));
    // b/1 a directory: cp makes the symlink c/1 first (operands in order),
    // then refuses to put a directory over it.
    cases.push(Case::new(
        "abuse dir over just-created symlink",
        &["-dR", "a/1", "b/1", "c"],
        |fx: &Fx| {
            fx.dir("a", 0o755)
                .dir("b/1", 0o755)
                .dir("c", 0o755)
                .dir("t", 0o755);
            fx.symlink("a/1", "../t");
            fx.file("b/1/f", 0o644, "payload\n");
        },
    ));
    // uring-cp's outcome has been seen to vary from run to run here.
    if let Some(c) = cases.last_mut() {
        c.repeat = 3;
    }
    // The same source twice: cp warns ("source file 'a/1' specified more
    // than once") and copies it once, exit 0.
    cases.push(Case::new(
        "abuse same symlink twice",
        &["-dR", "a/1", "a/1", "c"],
        abuse_fixture(false),
    ));
    cases.push(Case::new("same file twice", &["f", "f", "c"], |fx: &Fx| {
        fx.dir("c", 0o755).file("f", 0o644, "f\n");
    }));
    // Contents merged: c/./1 comes from a/./1 (a symlink), then b/./1 lands
    // on it inside the tree. GNU cp checks "just created" only for
    // command-line operands: it refuses the dangling one and writes payload
    // through into t when t exists, outside the destination. uring-cp
    // refuses to copy through a symlink this run made wherever it lies
    // (deliberate, README): exit 1, c/1 stays a's symlink, t untouched.
    // Operands whose destinations overlap are copied one after the other,
    // so the outcome does not depend on which worker gets there first: run
    // several times.
    for (t_exists, what) in [(false, "dangling"), (true, "existing")] {
        let mut c = Case::new(
            format!("abuse merged trees, {what} t"),
            &["-dR", "a/.", "b/.", "c"],
            abuse_fixture(t_exists),
        );
        c.expect = Expect::Deliberate {
            why: "never copies through a symlink this run made, inside a tree either",
            code: 1,
            msgs: &["will not copy 'b/./1' through just-created symlink 'c/./1'"],
            tree: |fx: &Fx| {
                fx.symlink("c/1", "../t");
            },
        };
        c.repeat = 5;
        cases.push(c);
    }
    // Overlapping operands in archive mode: c is made from a/. and then gets
    // b/.'s attributes (GNU cp: the later operand's mode wins). The earlier
    // operand's directory attributes must be applied before the later
    // operand starts, never after it.
    let mut c = Case::new(
        "archive merged trees, the later operand's directory mode wins",
        &["-a", "a/.", "b/.", "c"],
        |fx: &Fx| {
            fx.dir("a/d", 0o750).dir("b/d", 0o705);
            fx.file("a/d/f", 0o644, "a\n").file("b/d/g", 0o600, "b\n");
            fx.chmod("a", 0o751).chmod("b", 0o715);
        },
    );
    c.repeat = 5;
    cases.push(c);
    cases
}

#[test]
fn abuse_related_cases() {
    run_all("abuse.sh, related cases", &abuse_extra_cases());
}

// ---------------------------------------------------------------------------
// preserve-link.sh (its own cases are in tests/archive.rs)
// ---------------------------------------------------------------------------

/// `s/f` and `s/g` are one inode; `t/s/f` and `t/s/g` are two files, each
/// newer than the source, with contents of their own.
fn update_fixture(fx: &Fx) {
    fx.file("s/f", 0o644, "source\n").hardlink("s/f", "s/g");
    fx.file("t/s/f", 0o644, "newer f\n");
    fx.file("t/s/g", 0o644, "newer g\n");
    let (old, new) = ((1_600_000_000, 0), (1_700_000_000, 0));
    fx.set_times("s/f", old, old);
    fx.set_times("t/s/f", new, new);
    fx.set_times("t/s/g", new, new);
}

fn update_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // With --preserve=links, cp links the later name to the first one -u
    // kept, losing its own newer contents (preserve-link.sh checks the
    // link), and so does uring-cp: tests/archive.rs, with the same contents
    // in both, since which name comes first varies.
    //
    // Without --preserve=links, cp 9.1 still remembers every name -u keeps
    // and links a later name of the inode to it: t/s/g's newer contents are
    // replaced by t/s/f's. uring-cp makes hard links only when they are
    // preserved: both destinations stay as they are.
    let mut c = Case::new(
        "-u keeps both names, links not preserved",
        &["-ru", "s", "t"],
        update_fixture,
    );
    c.expect = Expect::Deliberate {
        why: "-u without --preserve=links never links a name it keeps to another",
        code: 0,
        msgs: &[],
        tree: |_| {},
    };
    cases.push(c);
    // The same with a file of one link named twice (in a tree operand and
    // as an operand), which --preserve=links does not link either: cp 9.1
    // links t/f to t/d/f, uring-cp keeps both.
    let mut c = Case::new(
        "-u keeps a file named twice",
        &["-au", "d", "d/f", "t"],
        |fx: &Fx| {
            fx.file("d/f", 0o644, "source\n");
            fx.file("t/d/f", 0o644, "newer d/f\n");
            fx.file("t/f", 0o644, "newer f\n");
            let (old, new) = ((1_600_000_000, 0), (1_700_000_000, 0));
            fx.set_times("d/f", old, old);
            fx.set_times("t/d/f", new, new);
            fx.set_times("t/f", new, new);
        },
    );
    c.expect = Expect::Deliberate {
        why: "-u never links a name it keeps to another unless cp would link them anyway",
        code: 0,
        msgs: &[],
        tree: |_| {},
    };
    cases.push(c);
    cases
}

#[test]
fn preserve_link_related_cases() {
    run_all("preserve-link.sh, related cases", &update_cases());
}

// ---------------------------------------------------------------------------
// thru-dangling.sh
// ---------------------------------------------------------------------------

fn dangling_fixture(fx: &Fx) {
    fx.symlink("dangle", "no-such").file("f", 0o644, "hi\n");
}

fn loop_fixture(fx: &Fx) {
    fx.symlink("loop", "loop").file("f", 0o644, "hi\n");
}

fn thru_dangling_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // Refused with and without -f: "not writing through dangling symlink
    // 'dangle'", exit 1, no-such not created.
    cases.push(Case::new(
        "dangling dest",
        &["f", "dangle"],
        dangling_fixture,
    ));
    cases.push(Case::new(
        "dangling dest -f",
        &["-f", "f", "dangle"],
        dangling_fixture,
    ));
    // POSIXLY_CORRECT: GNU cp writes through (creates no-such, exit 0).
    // uring-cp never writes through a dangling destination symlink (README,
    // "Path rules": "a symlink named as the destination on the command line
    // is written through, as cp does (but never a dangling one)"), with or
    // without POSIXLY_CORRECT: the same refusal as without it.
    let mut c = Case::new(
        "dangling dest, POSIXLY_CORRECT",
        &["f", "dangle"],
        dangling_fixture,
    );
    c.env = vec!["POSIXLY_CORRECT=1"];
    c.expect = Expect::Deliberate {
        why: "never writes through a dangling destination symlink",
        code: 1,
        msgs: &["not writing through dangling symlink 'dangle'"],
        tree: |_| {},
    };
    cases.push(c);
    // A symlink loop as destination with -f: cp treats ELOOP as "exists",
    // removes the symlink and writes a regular file, silently, exit 0.
    cases.push(Case::new(
        "loop dest -f",
        &["-f", "f", "loop"],
        loop_fixture,
    ));
    // Beyond the script: without -f, cp cannot stat it and fails.
    cases.push(Case::new("loop dest", &["f", "loop"], loop_fixture));
    cases
}

#[test]
fn thru_dangling() {
    run_all("thru-dangling.sh", &thru_dangling_cases());
}
