//! Sync mode against rsync: a tree A, then A changed into B.

use super::*;

// ---------------------------------------------------------------------------
// Sync mode against rsync: a tree A, then A changed into B
// ---------------------------------------------------------------------------
//
// `random_changes_sync_like_rsync_on_every_engine` builds a random tree A as
// `src`, syncs it with `uring-cp -a --sync --delete -T src dst-ENGINE` on
// every engine of [`engines`] and with `rsync -aHX --delete src/ want/`,
// replaces `src` by B (A with random changes: files rewritten, touched,
// deleted, added, entries of another type at the same name, symlinks
// retargeted, modes, owners, times and xattrs changed, hard links added and
// split), and syncs again. After each round every run must exit 0 silently,
// and every `dst-ENGINE` must equal `want` and the source in type, mode,
// owner, mtime to the nanosecond (not atimes: rsync does not keep them),
// size and content, symlink target, hard-link groups and xattrs (not the
// allocated blocks: rsync without -S writes holes out), with no `.~ucp.*`
// temporary left. A third run of uring-cp (`--itemize-changes`) must print
// nothing.
//
// B only changes what both tools define the same way, which
// [`settle`] enforces after the random changes:
// * the quick check: a regular file with the same size and the same mtime
//   in whole seconds as before is left alone by both (its mtime's
//   nanoseconds too), so such a file keeps its content and its exact mtime;
//   a file that differs in content, or that must leave or join a hard-link
//   group, gets another whole-second mtime (rsync -H documents that it does
//   not split existing hard links of unchanged files);
// * a directory whose mtime keeps its whole second keeps its nanoseconds
//   (rsync leaves them; uring-cp sets them);
// * a hard-linked symlink whose target is unchanged gets a new target, and
//   a kept regular file does not become a hard link of another kept file
//   (the generator's model of kept inodes is one to one; the case is pinned
//   by `sync_links_two_unchanged_files_that_became_one_inode` below).
//
// Bugs this test found, fixed, and pinned by the tests below: the xattrs of
// a kept file or directory, the owner and times of a symlink with the same
// target, a new name of an unchanged (symlink) inode linked whatever the
// walk order, two unchanged files that became links of each other, and
// set-ID bits kept when only the owner is fixed.

/// Tree pairs per run unless `UCP_PROPTEST_SYNC_CASES` (or
/// `UCP_PROPTEST_CASES`) says otherwise.
pub(crate) const DEFAULT_SYNC_CASES: u32 = 24;
/// Random changes per pair.
pub(crate) const MAX_CHANGES: usize = 14;

#[derive(Clone, Debug)]
pub(crate) enum Change {
    /// New content (and mtime) for the n-th regular file (all its names).
    Rewrite {
        at: usize,
        size: u64,
        fill: Fill,
        mtime: (i64, i64),
    },
    /// One attribute of the n-th inode (the root first): 0 mode, 1 owner,
    /// 2 times, 3 xattrs, taken from `attrs`.
    Attr {
        at: usize,
        which: u8,
        attrs: Attrs,
    },
    /// Remove the n-th entry (a directory with all inside).
    Delete {
        at: usize,
    },
    Add(Node),
    /// Remove the n-th entry and make another one of that name.
    Retype {
        at: usize,
        kind: Kind,
        attrs: Attrs,
    },
    /// A new target for the n-th symlink.
    Retarget {
        at: usize,
        target: Target,
    },
}

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

#[derive(Clone, Debug)]
pub(crate) enum Body {
    Dir,
    File(Vec<u8>),
    Sparse(u64, Vec<(u64, Vec<u8>)>),
    Symlink(Vec<u8>),
    /// Another name of the entry at this path (never itself a `Link`).
    Link(Vec<u8>),
}

impl Body {
    /// A regular file's size.
    pub(crate) fn size(&self) -> Option<u64> {
        match self {
            Body::File(d) => Some(d.len() as u64),
            Body::Sparse(size, _) => Some(*size),
            _ => None,
        }
    }

    /// A regular file's content.
    pub(crate) fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            Body::File(d) => Some(d.clone()),
            Body::Sparse(size, chunks) => {
                let mut v = vec![0u8; *size as usize];
                for (off, d) in chunks {
                    v[*off as usize..*off as usize + d.len()].copy_from_slice(d);
                }
                Some(v)
            }
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Ent {
    body: Body,
    /// Unused for a `Link` (its inode's are the linked entry's).
    attrs: Attrs,
}

/// A tree by path, to change: each inode's attributes are on its entry.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    root: Attrs,
    ents: std::collections::BTreeMap<Vec<u8>, Ent>,
}

pub(crate) fn depth_of(p: &[u8]) -> usize {
    if p.is_empty() {
        0
    } else {
        p.iter().filter(|&&c| c == b'/').count() + 1
    }
}

pub(crate) fn split_name(p: &[u8]) -> (&[u8], &[u8]) {
    match p.iter().rposition(|&c| c == b'/') {
        Some(i) => (&p[..i], &p[i + 1..]),
        None => (&[], p),
    }
}

impl Model {
    pub(crate) fn from_plan(plan: &Plan) -> Model {
        let attrs: std::collections::HashMap<&[u8], &Attrs> = plan
            .inodes
            .iter()
            .map(|n| (n.path.as_slice(), &n.attrs))
            .collect();
        let root = plan.inodes[0].attrs.clone();
        let mut ents = std::collections::BTreeMap::new();
        for op in &plan.ops {
            let (p, body) = match op {
                Op::Dir(p) => (p, Body::Dir),
                Op::File(p, d) => (p, Body::File(d.clone())),
                Op::Sparse(p, size, d) => (p, Body::Sparse(*size, d.clone())),
                Op::Symlink(p, t) => (p, Body::Symlink(t.clone())),
                Op::Link { existing, new } => (new, Body::Link(existing.clone())),
            };
            let attrs = attrs.get(p.as_slice()).copied().unwrap_or(&root).clone();
            ents.insert(p.clone(), Ent { body, attrs });
        }
        Model { root, ents }
    }

    pub(crate) fn to_plan(&self) -> Plan {
        let mut ops = Vec::new();
        let mut links = Vec::new();
        let mut inodes = vec![Inode {
            path: b".".to_vec(),
            symlink: false,
            attrs: self.root.clone(),
        }];
        // By path: a directory before what it holds; links last.
        for (p, e) in &self.ents {
            ops.push(match &e.body {
                Body::Link(t) => {
                    links.push(Op::Link {
                        existing: t.clone(),
                        new: p.clone(),
                    });
                    continue;
                }
                Body::Dir => Op::Dir(p.clone()),
                Body::File(d) => Op::File(p.clone(), d.clone()),
                Body::Sparse(size, d) => Op::Sparse(p.clone(), *size, d.clone()),
                Body::Symlink(t) => Op::Symlink(p.clone(), t.clone()),
            });
            inodes.push(Inode {
                path: p.clone(),
                symlink: matches!(e.body, Body::Symlink(_)),
                attrs: e.attrs.clone(),
            });
        }
        ops.extend(links);
        Plan {
            ops,
            inodes,
            elsewhere: false,
        }
    }

    /// The path holding the inode of `p` (`p` itself unless a `Link`).
    pub(crate) fn owner(&self, p: &[u8]) -> Option<Vec<u8>> {
        match &self.ents.get(p)?.body {
            Body::Link(t) => Some(t.clone()),
            _ => Some(p.to_vec()),
        }
    }

    /// The inode entry of `p`.
    pub(crate) fn inode(&self, p: &[u8]) -> Option<&Ent> {
        self.ents.get(&self.owner(p)?)
    }

    /// Paths of entries that are not links, matching `keep`.
    pub(crate) fn owners(&self, keep: impl Fn(&Body) -> bool) -> Vec<Vec<u8>> {
        self.ents
            .iter()
            .filter(|(_, e)| !matches!(e.body, Body::Link(_)) && keep(&e.body))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Directories that may get entries (the root first).
    pub(crate) fn dirs(&self) -> Vec<Vec<u8>> {
        let mut v = vec![Vec::new()];
        v.extend(
            self.owners(|b| matches!(b, Body::Dir))
                .into_iter()
                .filter(|p| depth_of(p) < MAX_DEPTH),
        );
        v
    }

    /// Remove `p` (and all below it); a removed inode's other names keep it.
    pub(crate) fn remove(&mut self, p: &[u8]) {
        let mut prefix = p.to_vec();
        prefix.push(b'/');
        let gone: Vec<Vec<u8>> = self
            .ents
            .keys()
            .filter(|k| k.as_slice() == p || k.starts_with(&prefix))
            .cloned()
            .collect();
        let removed: Vec<(Vec<u8>, Ent)> = gone
            .into_iter()
            .map(|k| {
                let e = self.ents.remove(&k).unwrap();
                (k, e)
            })
            .collect();
        for (k, e) in removed {
            if matches!(e.body, Body::Link(_)) {
                continue;
            }
            let names: Vec<Vec<u8>> = self
                .ents
                .iter()
                .filter(|(_, x)| matches!(&x.body, Body::Link(t) if *t == k))
                .map(|(n, _)| n.clone())
                .collect();
            if let Some((first, rest)) = names.split_first() {
                self.ents.insert(first.clone(), e);
                for n in rest {
                    self.ents.get_mut(n).unwrap().body = Body::Link(first.clone());
                }
            }
        }
    }

    /// Make an entry `name` in the directory `parent`, as `resolve` does.
    pub(crate) fn add(
        &mut self,
        parent: &[u8],
        name: &[u8],
        kind: &Kind,
        attrs: &Attrs,
        salt: usize,
    ) {
        let mut name = name.to_vec();
        if name == b"." || name == b".." || self.ents.contains_key(&join(parent, &name)) {
            name.truncate(240);
            name.extend_from_slice(format!("~{salt}").as_bytes());
            while self.ents.contains_key(&join(parent, &name)) {
                name.push(b'~');
            }
        }
        let path = join(parent, &name);
        let body = match kind {
            Kind::Dir => Body::Dir,
            Kind::File { size, fill } => Body::File(content(*size, fill)),
            Kind::Sparse { size, chunks } => {
                Body::Sparse(*size, sparse_data(*size, chunks, salt as u64 + 1000))
            }
            Kind::Symlink(t) => {
                let entries: Vec<Vec<u8>> = self.ents.keys().cloned().collect();
                let dirs = self.dirs();
                let dirs: Vec<&[u8]> = dirs.iter().map(Vec::as_slice).collect();
                Body::Symlink(symlink_target(t, depth_of(parent), &name, &entries, &dirs))
            }
            Kind::HardLink(k) => {
                let linkable = self.owners(|b| !matches!(b, Body::Dir));
                if linkable.is_empty() {
                    return;
                }
                Body::Link(linkable[k % linkable.len()].clone())
            }
        };
        self.ents.insert(
            path,
            Ent {
                body,
                attrs: attrs.clone(),
            },
        );
    }

    pub(crate) fn apply(&mut self, change: &Change, salt: usize) {
        let pick = |v: Vec<Vec<u8>>, at: usize| (!v.is_empty()).then(|| v[at % v.len()].clone());
        match change {
            Change::Rewrite {
                at,
                size,
                fill,
                mtime,
            } => {
                if let Some(p) = pick(self.owners(|b| b.size().is_some()), *at) {
                    let e = self.ents.get_mut(&p).unwrap();
                    e.body = Body::File(content(*size, fill));
                    e.attrs.times.mtime = *mtime;
                }
            }
            Change::Attr { at, which, attrs } => {
                let mut all = vec![Vec::new()];
                all.extend(self.owners(|_| true));
                let p = &all[at % all.len()];
                let a = if p.is_empty() {
                    &mut self.root
                } else {
                    &mut self.ents.get_mut(p).unwrap().attrs
                };
                match which {
                    0 => a.mode = attrs.mode,
                    1 => a.owner = attrs.owner,
                    2 => a.times = attrs.times.clone(),
                    _ => a.xattrs = attrs.xattrs.clone(),
                }
            }
            Change::Delete { at } => {
                if let Some(p) = pick(self.ents.keys().cloned().collect(), *at) {
                    self.remove(&p);
                }
            }
            Change::Add(node) => {
                let dirs = self.dirs();
                let parent = dirs[node.parent % dirs.len()].clone();
                self.add(&parent, &node.name, &node.kind, &node.attrs, salt);
            }
            Change::Retype { at, kind, attrs } => {
                if let Some(p) = pick(self.ents.keys().cloned().collect(), *at) {
                    self.remove(&p);
                    let (parent, name) = split_name(&p);
                    self.add(parent, name, kind, attrs, salt);
                }
            }
            Change::Retarget { at, target } => {
                if let Some(p) = pick(self.owners(|b| matches!(b, Body::Symlink(_))), *at) {
                    let entries: Vec<Vec<u8>> = self.ents.keys().cloned().collect();
                    let dirs = self.dirs();
                    let dirs: Vec<&[u8]> = dirs.iter().map(Vec::as_slice).collect();
                    let (parent, name) = split_name(&p);
                    let t = symlink_target(target, depth_of(parent), name, &entries, &dirs);
                    self.ents.get_mut(&p).unwrap().body = Body::Symlink(t);
                }
            }
        }
    }
}

/// Make B (the changed tree) change only what rsync and uring-cp's sync mode
/// both define the same way, given A (the tree already synced): see the
/// comment above [`DEFAULT_SYNC_CASES`].
pub(crate) fn settle(a: &Model, b: &mut Model) {
    // A directory on both sides: an mtime in the same whole second has the
    // same nanoseconds.
    let same_dir = |b: &mut Attrs, a: &Attrs| {
        if b.times.mtime.0 == a.times.mtime.0 {
            b.times.mtime = a.times.mtime;
        }
    };
    same_dir(&mut b.root, &a.root);
    for (p, e) in b.ents.iter_mut() {
        if let (
            Body::Dir,
            Some(Ent {
                body: Body::Dir,
                attrs,
            }),
        ) = (&e.body, a.ents.get(p))
        {
            same_dir(&mut e.attrs, attrs);
        }
    }
    // Every inode of B with its names.
    let mut names: std::collections::BTreeMap<Vec<u8>, Vec<Vec<u8>>> = Default::default();
    for p in b.ents.keys() {
        names
            .entry(b.owner(p).unwrap())
            .or_default()
            .push(p.clone());
    }
    // Regular files: at most one inode of B is kept (unchanged by the quick
    // check) per inode of A, and only with all its names on that inode and
    // the same content; every other one gets another whole-second mtime.
    let mut kept: HashSet<Vec<u8>> = HashSet::new();
    for (o, ns) in &names {
        let Some(size) = b.ents[o].body.size() else {
            continue;
        };
        // The inodes of A these names had, when regular files.
        let was: std::collections::BTreeSet<Vec<u8>> = ns
            .iter()
            .filter_map(|q| a.owner(q))
            .filter(|x| a.ents[x].body.size().is_some())
            .collect();
        let quick_equal = |x: &Vec<u8>, sec: i64| {
            a.ents[x].body.size() == Some(size) && a.ents[x].attrs.times.mtime.0 == sec
        };
        let sec = b.ents[o].attrs.times.mtime.0;
        let keep = match was.iter().collect::<Vec<_>>()[..] {
            [x] if quick_equal(x, sec)
                && !kept.contains(x)
                && a.ents[x].body.bytes() == b.ents[o].body.bytes() =>
            {
                Some(x.clone())
            }
            _ => None,
        };
        let e = b.ents.get_mut(o).unwrap();
        if let Some(x) = keep {
            // Both leave it: the same nanoseconds.
            e.attrs.times.mtime = a.ents[&x].attrs.times.mtime;
            kept.insert(x);
        } else {
            let mut sec = sec;
            while was.iter().any(|x| quick_equal(x, sec)) {
                sec += 1;
            }
            e.attrs.times.mtime.0 = sec;
        }
    }
    // Symlinks whose target is unchanged: kept by both, with the owner and
    // times (a bug) of A; unless hard-linked, when they get a new target.
    for (o, ns) in &names {
        let Body::Symlink(t) = &b.ents[o].body else {
            continue;
        };
        let target_in_a = |q: &[u8]| match a.inode(q).map(|e| &e.body) {
            Some(Body::Symlink(t)) => Some(t.clone()),
            _ => None,
        };
        let was: Vec<Vec<u8>> = ns
            .iter()
            .filter(|q| target_in_a(q).as_ref() == Some(t))
            .map(|q| a.owner(q).unwrap())
            .collect();
        let Some(x) = was.first() else {
            continue;
        };
        let a_names = a.ents.keys().filter(|p| a.owner(p).as_ref() == Some(x));
        if ns.len() == 1 && a_names.count() == 1 {
            // Kept by both: an mtime in the same whole second keeps its
            // nanoseconds (both compare whole seconds).
            let was = a.ents[x].attrs.times.mtime;
            let e = b.ents.get_mut(o).unwrap();
            if e.attrs.times.mtime.0 == was.0 {
                e.attrs.times.mtime = was;
            }
        } else {
            let mut t = t.clone();
            loop {
                t.push(b'~');
                if ns.iter().all(|q| target_in_a(q).as_ref() != Some(&t)) {
                    break;
                }
            }
            b.ents.get_mut(o).unwrap().body = Body::Symlink(t);
        }
    }
}

/// Tree A, and B: A with the changes, settled.
pub(crate) fn sync_plans(spec: &TreeSpec, changes: &[Change]) -> (Plan, Plan) {
    let a = resolve(spec);
    let ma = Model::from_plan(&a);
    let mut mb = ma.clone();
    for (i, c) in changes.iter().enumerate() {
        mb.apply(c, spec.nodes.len() + i);
    }
    settle(&ma, &mut mb);
    (a, mb.to_plan())
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
) -> Result<(), (&'static str, String)> {
    let env = TestEnv::new_within(within);
    let dir = env.tmp.path();
    let src = Fx::new(dir.join("src"));
    let opts = RunOpts::default();
    let sync_args = ["-a", "--sync", "--delete"];
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
    for (round, plan) in [(1, a), (2, b)] {
        if round == 2 {
            std::fs::remove_dir_all(&src.root).expect("remove src");
        }
        plan.build(&src);
        let source = synced_view(&src.root);
        let rsync = run(
            "rsync",
            &["-aHX", "--delete", "src/", want_arg.as_str()],
            dir,
            &opts,
        );
        if rsync.code != Some(0) || !rsync.stderr.is_empty() {
            return Err((
                "rsync",
                format!("round {round}: rsync must succeed: {rsync}"),
            ));
        }
        let want = synced_view(&want_dir);
        let rsync_vs_source = diff_text(&source, &want, "source", "rsync");
        for &engine in engines {
            let dst_dir = mirror(&format!("dst-{engine}"));
            let dst = dst_dir.to_string_lossy().into_owned();
            let out = run_uring_cp(engine, &sync_args, &["-T", "src", &dst], dir, &opts);
            let mut problems = Vec::new();
            if out.code != Some(0) || !out.stderr.is_empty() {
                problems.push("must exit 0 and print nothing".to_string());
            }
            let ours = synced_view(&dst_dir);
            if let Some(d) = diff_text(&want, &ours, "rsync -aHX", "uring-cp") {
                problems.push(format!("the mirror differs from rsync's: {d}"));
            }
            if let Some(d) = diff_text(&source, &ours, "source", "uring-cp") {
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
            if round == 2 && problems.is_empty() {
                let again = run_uring_cp(
                    engine,
                    &["-a", "--sync", "--delete", "--itemize-changes"],
                    &["-T", "src", &dst],
                    dir,
                    &opts,
                );
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
    Ok(())
}

#[test]
pub(crate) fn random_changes_sync_like_rsync_on_every_engine() {
    if !rsync_here() {
        return;
    }
    let cases = env_u64("UCP_PROPTEST_SYNC_CASES")
        .or_else(|| env_u64("UCP_PROPTEST_CASES"))
        .map_or(DEFAULT_SYNC_CASES, |n| n as u32);
    sync_proptest(cases, "UCP_PROPTEST_SYNC_CASES", None);
}

/// The same within btrfs and within xfs (see
/// [`random_trees_within_btrfs_and_xfs_equal_cp_on_every_engine`]):
/// `UCP_PROPTEST_COW_SYNC_CASES=N` pairs on each (default 12).
#[test]
pub(crate) fn random_changes_within_btrfs_and_xfs_sync_like_rsync_on_every_engine() {
    if !rsync_here() {
        return;
    }
    let cases = env_u64("UCP_PROPTEST_COW_SYNC_CASES").map_or(DEFAULT_COW_SYNC_CASES, |n| n as u32);
    within_cloning_filesystems("proptest (sync)", |within| {
        sync_proptest(cases, "UCP_PROPTEST_COW_SYNC_CASES", Some(within))
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
pub(crate) fn sync_proptest(cases: u32, cases_var: &str, within: Option<(&str, &std::path::Path)>) {
    let engines = engines();
    let (seed, place) = seed_and_place(within);
    notice(&format!(
        "proptest (sync): {cases} random tree pairs{place}, each synced by rsync -aHX --delete \
         and by uring-cp -a --sync --delete on {} engine(s) {engines:?}; seed {seed} (replay \
         with UCP_PROPTEST_SEED={seed})",
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
    let result = runner.run(&sync_pair_strategy(), |(spec, changes)| {
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
        match check_sync(&a, &b, run_on, within.map(|(_, dir)| dir)) {
            Ok(()) => {
                let mut t = tally.get();
                a.tally(&mut t);
                tally.set(t);
                changed.set(changed.get() + changes.len());
                Ok(())
            }
            Err((engine, why)) => {
                focus.set(Some(engine));
                let msg = format!(
                    "engine {engine}:\n{why}\n  tree A (paths below src/):\n{}  the changes: \
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
                 changes made the B trees",
                engines.len(),
                started.elapsed(),
                t[9],
                t[1],
                t[5],
                t[6],
                t[7],
                t[8],
                changed.get()
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
