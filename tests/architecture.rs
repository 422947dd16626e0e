//! The module graph, read from the sources: which top-level module (and
//! which engine) names which. Pins the layering ARCHITECTURE.md describes,
//! so a change that makes one engine use another, or makes `config` depend
//! on the modules it configures, or adds an import cycle, fails here
//! instead of in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The engines: each may use the shared engine modules, never another engine.
const ENGINES: [&str; 3] = ["uring", "chains", "portable"];

/// Module name -> the modules its code names (`crate::x`, and within the
/// engine, `super::x` for sibling engine modules). Tests are left out.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap().with_extension("");
            let parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let name = module_name(&parts);
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let deps = g.entry(name.clone()).or_default();
            for line in code.lines() {
                let line = line.split("//").next().unwrap_or_default();
                for (prefix, engine_relative) in [("crate::", false), ("super::", true)] {
                    for (i, _) in line.match_indices(prefix) {
                        let rest = &line[i + prefix.len()..];
                        let first: String = rest
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        let dep = if engine_relative {
                            // `super::x` from inside an engine submodule.
                            if !name.starts_with("engine::")
                                || !src.join("engine").join(&first).exists()
                                    && !src.join("engine").join(format!("{first}.rs")).exists()
                            {
                                continue;
                            }
                            format!("engine::{first}")
                        } else if first == "engine" {
                            let second: String = rest["engine::".len().min(rest.len())..]
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            match second.chars().next() {
                                Some(c) if c.is_lowercase() => format!("engine::{second}"),
                                _ => "engine".to_string(),
                            }
                        } else {
                            first
                        };
                        if dep != name && !dep.is_empty() {
                            deps.insert(dep);
                        }
                    }
                }
            }
        }
    }
    g
}

/// `engine/uring/adapt.rs` is `engine::uring`; `walk/list.rs` is `walk`.
fn module_name(parts: &[String]) -> String {
    match parts {
        [top, sub, ..] if top == "engine" && sub != "mod" => format!("engine::{sub}"),
        [top, ..] => top.clone(),
        [] => String::new(),
    }
}

#[test]
fn no_engine_uses_another() {
    let g = graph();
    let mut wrong = Vec::new();
    for engine in ENGINES {
        let name = format!("engine::{engine}");
        let deps = g.get(&name).unwrap_or_else(|| panic!("no module {name}"));
        for other in ENGINES.iter().filter(|o| **o != engine) {
            if deps.contains(&format!("engine::{other}")) {
                wrong.push(format!("{name} uses engine::{other}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}\nmodule graph: {g:#?}");
}

#[test]
fn config_depends_only_on_the_command_line() {
    let g = graph();
    let allowed: BTreeSet<String> = ["cli", "error", "filter"].map(String::from).into();
    let deps = &g["config"];
    let extra: Vec<&String> = deps.difference(&allowed).collect();
    assert!(
        extra.is_empty(),
        "config uses {extra:?}: it is validated before anything runs, from the command line alone"
    );
}

/// Groups of modules that import each other (strongly connected components
/// of more than one module).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    // Tarjan's algorithm, iterative enough for a graph this small.
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        for w in t.g[v].iter().filter(|w| t.g.contains_key(*w)) {
            if !t.index.contains_key(w.as_str()) {
                visit(t, w);
                let lw = t.low[w.as_str()];
                t.low.insert(v, t.low[v].min(lw));
            } else if t.stack.contains(&w.as_str()) {
                let iw = t.index[w.as_str()];
                t.low.insert(v, t.low[v].min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = BTreeSet::new();
            while let Some(w) = t.stack.pop() {
                comp.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                t.found.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.found
}

/// No import cycle: every module can be understood (and changed) from the
/// modules below it.
#[test]
fn no_import_cycle() {
    let g = graph();
    let found = cycles(&g);
    assert!(
        found.is_empty(),
        "import cycles: {found:?}\nmodule graph: {g:#?}"
    );
}
