//! The model sync mode's random changes are made on: a tree by path, and
//! `settle`, which keeps B to what rsync and uring-cp define the same way.

use super::*;

/// One random change of tree A, made on its [`Model`].
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
/// module doc of `sync.rs`.
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
