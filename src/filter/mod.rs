//! `--exclude`, `--include`, `--exclude-from`: which entries of a source tree
//! are copied, with rsync's pattern rules.
//!
//! Rules are tried in the order given; the first whose pattern matches decides
//! (include or exclude); an entry no rule matches is copied. An excluded
//! directory is not entered at all, so nothing inside it can be included again,
//! as in rsync. Patterns are matched against the path *inside* the source
//! operand (`sub/file.o` for `SRC/sub/file.o`), with `/` between components:
//!
//! - `*` matches within one component, `**` across components (as a whole
//!   component, or at the start of one: `**.o`), `?` one character (not `/`),
//!   `[...]` a class, `\` escapes;
//! - a pattern with no `/` (apart from a trailing one) matches the last
//!   component at any depth (`*.o`);
//! - a pattern with a `/` inside matches the end of the path at a component
//!   boundary (`build/out` matches `build/out` and `a/build/out`), and one that
//!   starts with `/` is anchored at the top of the source (`/build`);
//! - a trailing `/` matches directories only (`cache/`);
//! - `dir/***` matches `dir` and everything inside it.
//!
//! Matching is by globset (compiled once); a pattern that does not compile is a
//! usage error. Reading `--exclude-from` files happens when the run starts,
//! not while the command line is parsed.

use globset::{GlobBuilder, GlobMatcher};
use std::path::{Path, PathBuf};

/// One filter option, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Exclude(String),
    Include(String),
    /// A file of patterns: one per line; blank lines and lines starting with
    /// `#` or `;` are skipped; `+ PATTERN` includes, `- PATTERN` excludes,
    /// anything else excludes.
    ExcludeFrom(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Include,
    Exclude,
}

#[derive(Debug)]
struct Rule {
    action: Action,
    /// Any of these matching the path is a match.
    globs: Vec<GlobMatcher>,
    dir_only: bool,
}

/// The compiled rules; empty when no filter option was given.
#[derive(Debug, Default)]
pub struct Filter {
    rules: Vec<Rule>,
}

impl Filter {
    /// Compile the rules, reading `--exclude-from` files.
    pub fn load(specs: &[Spec]) -> Result<Filter, String> {
        let mut rules = Vec::new();
        for spec in specs {
            match spec {
                Spec::Exclude(p) => rules.push(rule(Action::Exclude, p)?),
                Spec::Include(p) => rules.push(rule(Action::Include, p)?),
                Spec::ExcludeFrom(file) => {
                    let text = read_patterns(file)?;
                    for line in text.lines() {
                        let line = line.trim_end_matches('\r');
                        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                            continue;
                        }
                        let r = if let Some(p) = line.strip_prefix("+ ") {
                            rule(Action::Include, p)
                        } else if let Some(p) = line.strip_prefix("- ") {
                            rule(Action::Exclude, p)
                        } else {
                            rule(Action::Exclude, line)
                        };
                        rules.push(r.map_err(|e| format!("{e} (in {})", quote_path(file)))?);
                    }
                }
            }
        }
        Ok(Filter { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Is the entry at `rel` (inside the source operand, `/`-separated, no
    /// leading `/`) left out?
    pub fn excluded(&self, rel: &Path, is_dir: bool) -> bool {
        for r in &self.rules {
            if r.dir_only && !is_dir {
                continue;
            }
            if r.globs.iter().any(|g| g.is_match(rel)) {
                return r.action == Action::Exclude;
            }
        }
        false
    }
}

fn read_patterns(file: &Path) -> Result<String, String> {
    let bytes = if file == Path::new("-") {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v).map(|_| v)
    } else {
        std::fs::read(file)
    };
    bytes
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| {
            format!(
                "cannot read exclude file {}: {}",
                quote_path(file),
                crate::error::strip_os_suffix(&e)
            )
        })
}

fn quote_path(p: &Path) -> String {
    crate::error::quote(p)
}

/// Compile one pattern into the globs that match the whole relative path.
fn rule(action: Action, pattern: &str) -> Result<Rule, String> {
    if pattern.is_empty() {
        return Err("empty filter pattern".into());
    }
    let mut p = pattern;
    let dir_only = p.len() > 1 && p.ends_with('/') && !p.ends_with("\\/");
    if dir_only {
        p = &p[..p.len() - 1];
    }
    let (anchored, body) = match p.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, p),
    };
    // `dir/***`: the directory itself and everything below it.
    let bodies: Vec<String> = match body.strip_suffix("/***") {
        Some(dir) => vec![dir.to_string(), format!("{dir}/**")],
        None => vec![body.to_string()],
    };
    let mut globs = Vec::new();
    for b in bodies {
        // `**` that starts a component but goes on (`**.o`) spans components
        // in rsync; globset wants `**` alone in its component.
        let b = spread_double_star(&b);
        // Unanchored: at any depth, i.e. after any run of leading components.
        let full = if anchored {
            b
        } else {
            format!("{{{b},**/{b}}}")
        };
        let glob = GlobBuilder::new(&full)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("invalid filter pattern '{pattern}': {}", e.kind()))?;
        globs.push(glob.compile_matcher());
    }
    Ok(Rule {
        action,
        globs,
        dir_only,
    })
}

/// `a/**.txt` -> `a/**/*.txt`.
fn spread_double_star(p: &str) -> String {
    let bytes = p.as_bytes();
    let mut out = String::with_capacity(p.len() + 4);
    let mut i = 0;
    while i < p.len() {
        let starts_component = i == 0 || bytes[i - 1] == b'/';
        if starts_component && p[i..].starts_with("**") {
            let next = bytes.get(i + 2).copied();
            out.push_str("**");
            if !matches!(next, None | Some(b'/') | Some(b'*')) {
                out.push_str("/*");
            }
            i += 2;
            continue;
        }
        let c = p[i..].chars().next().unwrap_or_default();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(specs: &[(&str, &str)]) -> Filter {
        let specs: Vec<Spec> = specs
            .iter()
            .map(|(a, p)| match *a {
                "+" => Spec::Include(p.to_string()),
                _ => Spec::Exclude(p.to_string()),
            })
            .collect();
        Filter::load(&specs).unwrap()
    }

    fn ex(filter: &Filter, path: &str, dir: bool) -> bool {
        filter.excluded(Path::new(path), dir)
    }

    #[test]
    fn basename_patterns_match_at_any_depth() {
        let flt = f(&[("-", "*.o")]);
        assert!(ex(&flt, "a.o", false));
        assert!(ex(&flt, "x/y/a.o", false));
        assert!(!ex(&flt, "a.c", false));
        assert!(!ex(&flt, "x.o/a.c", false), "only the last component");
    }

    #[test]
    fn slash_patterns_match_the_end_of_the_path_and_anchors_the_top() {
        let flt = f(&[("-", "build/out")]);
        assert!(ex(&flt, "build/out", true));
        assert!(ex(&flt, "a/build/out", true));
        assert!(!ex(&flt, "abuild/out", true), "component boundary");
        let flt = f(&[("-", "/build")]);
        assert!(ex(&flt, "build", true));
        assert!(!ex(&flt, "a/build", true));
    }

    #[test]
    fn star_stays_in_a_component_double_star_does_not() {
        let flt = f(&[("-", "/a/*.txt")]);
        assert!(ex(&flt, "a/x.txt", false));
        assert!(!ex(&flt, "a/b/x.txt", false));
        let flt = f(&[("-", "/a/**.txt")]);
        assert!(ex(&flt, "a/b/x.txt", false));
    }

    #[test]
    fn trailing_slash_is_for_directories_only() {
        let flt = f(&[("-", "cache/")]);
        assert!(ex(&flt, "x/cache", true));
        assert!(!ex(&flt, "x/cache", false));
    }

    #[test]
    fn first_match_wins() {
        let flt = f(&[("+", "keep.o"), ("-", "*.o")]);
        assert!(!ex(&flt, "d/keep.o", false));
        assert!(ex(&flt, "d/other.o", false));
        let flt = f(&[("-", "*.o"), ("+", "keep.o")]);
        assert!(ex(&flt, "d/keep.o", false));
    }

    #[test]
    fn triple_star_is_the_directory_and_its_contents() {
        let flt = f(&[("-", "/logs/***")]);
        assert!(ex(&flt, "logs", true));
        assert!(ex(&flt, "logs/a/b", false));
        assert!(!ex(&flt, "logsx", true));
    }

    #[test]
    fn exclude_from_reads_rules_in_order() {
        let dir = std::env::temp_dir().join(format!("uring-cp-filter-{}", std::process::id()));
        std::fs::write(&dir, "# comment\n\n; also\n+ keep.tmp\n- *.tmp\n*.bak\n").unwrap();
        let flt = Filter::load(&[Spec::ExcludeFrom(dir.clone())]).unwrap();
        let _ = std::fs::remove_file(&dir);
        assert!(!ex(&flt, "keep.tmp", false));
        assert!(ex(&flt, "x.tmp", false));
        assert!(ex(&flt, "y/x.bak", false));
        assert!(!ex(&flt, "x.txt", false));
    }

    #[test]
    fn bad_patterns_and_files_are_reported() {
        let e = Filter::load(&[Spec::Exclude("a[".into())]).unwrap_err();
        assert!(e.starts_with("invalid filter pattern 'a['"), "{e}");
        let e = Filter::load(&[Spec::ExcludeFrom("/nonexistent/x".into())]).unwrap_err();
        assert_eq!(
            e,
            "cannot read exclude file '/nonexistent/x': No such file or directory"
        );
    }
}
