//! Comparing uring-cp's outcome with GNU cp's: exit status, messages,
//! trees and hard links; [`each_engine`] and [`case`] run one scenario on
//! both.

use super::*;
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Messages whose wording the contract promises to match GNU cp 9.1 exactly.
pub fn is_contract_message(msg: &str) -> bool {
    msg.starts_with("cannot stat ")
        || msg.contains("-r not specified; omitting directory ")
        || msg.ends_with(" are the same file")
        || msg.starts_with("cannot copy a directory, ")
        || msg.starts_with("cannot overwrite directory ")
        || msg.starts_with("cannot overwrite non-directory ")
        || msg.starts_with("target ")
        || (msg.starts_with("cannot open ") && msg.contains(" for reading: "))
}

/// First single-quoted token of a GNU message (`'x'` -> `x`), if any.
fn first_quoted(msg: &str) -> Option<&str> {
    let start = msg.find('\'')? + 1;
    let len = msg[start..].find('\'')?;
    Some(&msg[start..start + len])
}

fn split_lines(b: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(b)
        .lines()
        .map(|l| l.to_string())
        .collect()
}

/// Compare exit status, stderr messages and stdout of `uring-cp` (ours) with
/// GNU cp's (gnu). Panics with a full report on mismatch.
///
/// stderr: every ours line must start with `uring-cp: `, and every gnu line
/// with `cp: `; after stripping the prefixes, the number of lines must be
/// equal; each GNU message covered by the contract must appear verbatim in
/// ours; any other GNU message must be matched by an ours line mentioning the
/// same (first) quoted file name.
///
/// stdout (`-v`): the sorted lines must be equal, and in ours a directory's
/// line must precede the lines of its contents.
pub fn compare_outcomes(ctx: &str, ours: &Outcome, gnu: &Outcome) {
    let mut problems = Vec::new();
    if ours.timed_out {
        problems.push("uring-cp timed out (killed)".to_string());
    }
    if gnu.timed_out {
        problems.push("GNU cp timed out (killed) -- test fixture problem".to_string());
    }
    if ours.code != gnu.code {
        problems.push(format!(
            "exit status: uring-cp {:?}, GNU cp {:?}",
            ours.code, gnu.code
        ));
    }

    let ours_lines = split_lines(&ours.stderr);
    let gnu_lines = split_lines(&gnu.stderr);
    let mut ours_msgs = Vec::new();
    for l in &ours_lines {
        match l.strip_prefix("uring-cp: ") {
            // `-v` names the engine once; cp has no such line.
            Some(m) if m.starts_with("using the ") || m.starts_with("io_uring unavailable") => {}
            Some(m) => ours_msgs.push(m.to_string()),
            None => problems.push(format!("stderr line without `uring-cp: ` prefix: {l:?}")),
        }
    }
    // GNU cp prefixes messages with its argv[0] (`/bin/cp: ` as we run it).
    let gnu_prefix = format!("{}: ", gnu_cp());
    let mut gnu_msgs = Vec::new();
    for l in &gnu_lines {
        match l
            .strip_prefix(gnu_prefix.as_str())
            .or_else(|| l.strip_prefix("cp: "))
        {
            Some(m) => gnu_msgs.push(m.to_string()),
            None => gnu_msgs.push(l.to_string()),
        }
    }
    if ours_msgs.len() != gnu_msgs.len() {
        problems.push(format!(
            "number of error messages: uring-cp {}, GNU cp {}",
            ours_msgs.len(),
            gnu_msgs.len()
        ));
    }
    for g in &gnu_msgs {
        if is_contract_message(g) {
            if !ours_msgs.iter().any(|o| o == g) {
                problems.push(format!(
                    "missing message (must match GNU cp verbatim): {g:?}"
                ));
            }
        } else if let Some(q) = first_quoted(g)
            && !ours_msgs.iter().any(|o| o.contains(q))
        {
            problems.push(format!(
                "no uring-cp message mentions '{q}' (GNU cp said {g:?})"
            ));
        }
    }

    let mut so = split_lines(&ours.stdout);
    let mut sg = split_lines(&gnu.stdout);
    check_verbose_order(&so, &mut problems);
    so.sort();
    sg.sort();
    if so != sg {
        problems.push(format!(
            "stdout lines differ (sorted):\n    uring-cp: {so:?}\n    GNU cp:   {sg:?}"
        ));
    }

    if !problems.is_empty() {
        panic!(
            "{ctx}: uring-cp differs from GNU cp:\n  - {}\n uring-cp: {ours}\n GNU cp:   {gnu}",
            problems.join("\n  - ")
        );
    }
}

/// In `-v` output, `'x' -> 'D'` for a directory must come before
/// `'x/y' -> 'D/y'`.
fn check_verbose_order(lines: &[String], problems: &mut Vec<String>) {
    let dsts: Vec<Option<&str>> = lines.iter().map(|l| l.split(" -> ").nth(1)).collect();
    for (i, di) in dsts.iter().enumerate() {
        let Some(di) = di else { continue };
        let Some(stem) = di.strip_suffix('\'') else {
            continue;
        };
        let parent_prefix = format!("{stem}/");
        for (j, dj) in dsts.iter().enumerate() {
            if let Some(dj) = dj
                && dj.starts_with(&parent_prefix)
                && j < i
            {
                problems.push(format!(
                    "verbose order: {:?} printed before its directory {:?}",
                    lines[j], lines[i]
                ));
            }
        }
    }
}

/// Compare outcome and resulting trees of both roots, hard links included.
pub fn compare_all(ctx: &str, env: &TestEnv, ours: &Outcome, gnu: &Outcome) {
    compare_outcomes(ctx, ours, gnu);
    assert_snapshots_eq(
        ctx,
        &env.ours.snapshot(),
        &env.gnu.snapshot(),
        "uring-cp",
        "GNU cp",
    );
    assert_links_eq(ctx, &env.ours.root, &env.gnu.root);
}

/// A name that shares its inode with other names of the same tree.
#[derive(Clone, PartialEq, Eq)]
pub struct Linked {
    pub path: Vec<u8>,
    /// The first (in byte order) of the names of its inode in the tree.
    pub first: Vec<u8>,
}

impl fmt::Debug for Linked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is a hard link of {}",
            show(&self.path),
            show(&self.first)
        )
    }
}

/// The hard-link structure of the tree at `root`: every non-directory that
/// shares its inode with another name in the tree, and the first name of
/// that inode. (Links to names outside the tree are not seen.)
pub fn link_groups(root: &Path) -> Vec<Linked> {
    fn walk_links(dir: &File, prefix: &[u8], out: &mut Vec<((u64, u64), Vec<u8>)>) {
        let Ok(rd) = fs::read_dir(fd_path(dir, OsStr::new(""))) else {
            return;
        };
        for name in rd.map(|e| e.expect("readdir entry").file_name()) {
            let p = fd_path(dir, &name);
            let md =
                fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
            let mut rel = prefix.to_vec();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name.as_bytes());
            if md.is_dir() {
                if let Ok(sub) = File::open(&p) {
                    walk_links(&sub, &rel, out);
                }
            } else if md.nlink() > 1 {
                out.push(((md.dev(), md.ino()), rel));
            }
        }
    }
    let mut names = Vec::new();
    if fs::symlink_metadata(root).is_ok_and(|m| m.is_dir()) {
        let d = File::open(root).unwrap_or_else(|e| panic!("open {}: {e}", root.display()));
        walk_links(&d, b"", &mut names);
    }
    // By inode, then by name: each group's first entry is its first name.
    names.sort();
    let mut out = Vec::new();
    for group in names.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        for (_, path) in group {
            out.push(Linked {
                path: path.clone(),
                first: group[0].1.clone(),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Panic if the trees at `a` (uring-cp's) and `b` (GNU cp's) differ in
/// which names are hard links of each other.
pub fn assert_links_eq(ctx: &str, a: &Path, b: &Path) {
    let d = diff_by_path(
        &link_groups(a),
        &link_groups(b),
        |e| &e.path,
        "uring-cp",
        "GNU cp",
    );
    if !d.is_empty() {
        let n = d.len();
        panic!(
            "{ctx}: hard links differ ({n} differences{}):\n  {}",
            if n > 40 { ", first 40 shown" } else { "" },
            d.into_iter().take(40).collect::<Vec<_>>().join("\n  ")
        );
    }
}

/// Run `case` for every engine and every argument set: each compared with
/// GNU cp (trees, exit status, messages); all failures reported at the end.
pub fn each_engine(name: &str, build: impl Fn(&Fx) + Copy, arg_sets: &[&[&str]]) {
    let mut failures = Failures::default();
    for engine in engines() {
        for args in arg_sets {
            failures.check(|| {
                case(&format!("{name}: {args:?}"), engine, build, args);
            });
        }
    }
    failures.finish();
}

/// Build the fixture in a fresh env, run both programs with `args`, compare
/// everything, and return the env and outcomes for extra assertions.
pub fn case<A: AsRef<[u8]>>(
    name: &str,
    engine: &str,
    build: impl Fn(&Fx),
    args: &[A],
) -> (TestEnv, Outcome, Outcome) {
    case_opts(name, engine, build, args, &RunOpts::default())
}

pub fn case_opts<A: AsRef<[u8]>>(
    name: &str,
    engine: &str,
    build: impl Fn(&Fx),
    args: &[A],
    opts: &RunOpts,
) -> (TestEnv, Outcome, Outcome) {
    let env = TestEnv::new();
    env.build(&build);
    let (ours, gnu) = env.run_both(engine, args, opts);
    compare_all(&format!("[{name}, engine={engine}]"), &env, &ours, &gnu);
    (env, ours, gnu)
}
