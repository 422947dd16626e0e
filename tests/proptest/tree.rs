//! What proptest generates (and shrinks): a tree spec, and the spec resolved
//! into paths to create and the attributes to set afterwards.

use super::*;

#[derive(Clone, Debug)]
pub(crate) struct Times {
    pub(crate) atime: (i64, i64),
    pub(crate) mtime: (i64, i64),
}

#[derive(Clone, Debug)]
pub(crate) struct Attrs {
    pub(crate) mode: u32,
    /// uid and gid (applied only when the test runs as root).
    pub(crate) owner: (u32, u32),
    pub(crate) times: Times,
    pub(crate) xattrs: Vec<(String, Vec<u8>)>,
}

#[derive(Clone, Debug)]
pub(crate) enum Fill {
    Random(u64),
    Zeros,
    Text,
}

#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// `../`s up to the root, then the path of the n-th entry made so far.
    Entry(usize),
    /// The same, to the n-th directory (the root included).
    Dir(usize),
    /// Fixed strings: absolute, dangling, `.`, `..`, arbitrary bytes.
    Literal(Vec<u8>),
    /// The link's own name (a loop).
    Itself,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Dir,
    File {
        size: u64,
        fill: Fill,
    },
    /// A file of `size` bytes that is a hole except for the chunks
    /// (offset as a fraction of the size in 1/65536, length).
    Sparse {
        size: u64,
        chunks: Vec<(u16, u16)>,
    },
    Symlink(Target),
    /// Another name of the n-th regular file or symlink made so far.
    HardLink(usize),
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// Index (modulo) into the directories made so far, the root first.
    pub(crate) parent: usize,
    pub(crate) name: Vec<u8>,
    pub(crate) kind: Kind,
    pub(crate) attrs: Attrs,
}

#[derive(Clone, Debug)]
pub(crate) struct TreeSpec {
    pub(crate) root: Attrs,
    pub(crate) nodes: Vec<Node>,
    /// Copied onto another filesystem (tmpfs; see [`other_filesystem`]).
    pub(crate) elsewhere: bool,
}

pub(crate) fn name_strategy() -> impl Strategy<Value = Vec<u8>> {
    let plain = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.".to_vec();
    let odd = b" \n\t-~'\"\\*?[]$`;&|<>#%!{}()=+,:@\xff\xfe\x80\xc3\xa9\x01\x7f".to_vec();
    let mixed: Vec<u8> = plain.iter().chain(odd.iter()).copied().collect();
    let plain2 = plain.clone();
    prop_oneof![
        6 => prop::collection::vec(prop::sample::select(plain), 1..12),
        3 => prop::collection::vec(prop::sample::select(mixed), 1..20),
        1 => prop::collection::vec(prop::sample::select(plain2.clone()), 1..8)
            .prop_map(|mut v| {
                v.insert(0, b'-');
                v
            }),
        1 => (200usize..=255, any::<u8>()).prop_map(|(n, c)| {
            let c = if c == b'/' || c == 0 { b'L' } else { c };
            vec![c; n]
        }),
        1 => prop::collection::vec(1u8..=255, 1..16).prop_map(|v| v
            .into_iter()
            .map(|b| if b == b'/' { b'_' } else { b })
            .collect()),
    ]
}

pub(crate) fn second() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 0i64..4_000_000_000,
        1 => -2_000_000_000i64..0,
        1 => prop::sample::select(vec![0i64, 1, 2_147_483_647, 2_147_483_648]),
    ]
}

pub(crate) fn nanosecond() -> impl Strategy<Value = i64> {
    prop_oneof![3 => 0i64..1_000_000_000, 1 => Just(0i64), 1 => Just(999_999_999i64)]
}

pub(crate) fn attrs_strategy(xattrs: bool) -> impl Strategy<Value = Attrs> {
    let mode = prop_oneof![
        3 => prop::sample::select(vec![
            0o644u32, 0o600, 0o755, 0o700, 0o444, 0o555, 0o400, 0o000, 0o4755, 0o2755, 0o6711,
            0o1777, 0o1755, 0o2775, 0o777, 0o640, 0o750, 0o7777,
        ]),
        2 => 0u32..=0o7777,
    ];
    let id = prop::sample::select(vec![0u32, 0, 0, NOBODY, 1000, 4242]);
    let times = ((second(), nanosecond()), (second(), nanosecond()))
        .prop_map(|(atime, mtime)| Times { atime, mtime });
    let xattr_value = prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..48),
        1 => prop::collection::vec(any::<u8>(), 500..1000),
    ];
    let xattr_name = prop_oneof![
        prop::sample::select(vec!["user.a", "user.b", "user.mime_type", "user.x.y"])
            .prop_map(String::from),
        prop::collection::vec(
            prop::sample::select(b"abcdefghij_.-0123456789".to_vec()),
            1..40
        )
        .prop_map(|v| format!("user.{}", String::from_utf8(v).unwrap())),
    ];
    let max = if xattrs { 3 } else { 0 };
    (
        mode,
        (id.clone(), id),
        times,
        prop::collection::vec((xattr_name, xattr_value), 0..=max),
    )
        .prop_map(|(mode, owner, times, xattrs)| Attrs {
            mode,
            owner,
            times,
            xattrs,
        })
}

pub(crate) fn file_size() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => Just(0u64),
        10 => 1u64..4 * KIB,
        2 => prop::sample::select(vec![4095u64, 4096, 4097, 65535, 65536, 65537, 131072]),
        4 => 4 * KIB..64 * KIB,
        3 => 64 * KIB + 1..300 * KIB,
        1 => MIB..2 * MIB + 4 * KIB,
    ]
}

pub(crate) fn target_strategy() -> impl Strategy<Value = Target> {
    prop_oneof![
        4 => any::<usize>().prop_map(Target::Entry),
        2 => any::<usize>().prop_map(Target::Dir),
        3 => prop::sample::select(vec![
            b"/etc/passwd".to_vec(),
            b"/".to_vec(),
            b"/nonexistent/dir/".to_vec(),
            b"no/such/file".to_vec(),
            b"../../../../../../../..".to_vec(),
            b".".to_vec(),
            b"..".to_vec(),
            b"-dash target".to_vec(),
            b"new\nline \xff\xfe".to_vec(),
            vec![b'x'; 1000],
        ])
        .prop_map(Target::Literal),
        1 => prop::collection::vec(1u8..=255, 1..64).prop_map(Target::Literal),
        1 => Just(Target::Itself),
    ]
}

pub(crate) fn fill_strategy() -> impl Strategy<Value = Fill> {
    prop_oneof![
        6 => any::<u64>().prop_map(Fill::Random),
        1 => Just(Fill::Zeros),
        1 => Just(Fill::Text),
    ]
}

pub(crate) fn kind_strategy() -> impl Strategy<Value = Kind> {
    prop_oneof![
        10 => (file_size(), fill_strategy()).prop_map(|(size, fill)| Kind::File { size, fill }),
        4 => Just(Kind::Dir),
        3 => target_strategy().prop_map(Kind::Symlink),
        2 => any::<usize>().prop_map(Kind::HardLink),
        1 => (
            prop_oneof![4 * KIB..300 * KIB, MIB..3 * MIB],
            prop::collection::vec((any::<u16>(), 1u16..20_000), 0..4),
        )
            .prop_map(|(size, chunks)| Kind::Sparse { size, chunks }),
    ]
}

pub(crate) fn node_strategy() -> impl Strategy<Value = Node> {
    (
        any::<usize>(),
        name_strategy(),
        kind_strategy(),
        attrs_strategy(true),
    )
        .prop_map(|(parent, name, kind, attrs)| Node {
            parent,
            name,
            kind,
            attrs,
        })
}

pub(crate) fn tree_strategy() -> impl Strategy<Value = TreeSpec> {
    (
        attrs_strategy(true),
        prop::collection::vec(node_strategy(), 0..=MAX_NODES),
        prop::bool::ANY,
    )
        .prop_map(|(root, nodes, elsewhere)| TreeSpec {
            root,
            nodes,
            elsewhere,
        })
}

// ---------------------------------------------------------------------------
// A spec resolved into paths: what to create, then the attributes
// ---------------------------------------------------------------------------

pub(crate) enum Op {
    Dir(Vec<u8>),
    File(Vec<u8>, Vec<u8>),
    Sparse(Vec<u8>, u64, Vec<(u64, Vec<u8>)>),
    Symlink(Vec<u8>, Vec<u8>),
    Link { existing: Vec<u8>, new: Vec<u8> },
}

/// One inode: its first path, whether it is a symlink, its attributes.
pub(crate) struct Inode {
    pub(crate) path: Vec<u8>,
    pub(crate) symlink: bool,
    pub(crate) attrs: Attrs,
}

pub(crate) struct Plan {
    pub(crate) ops: Vec<Op>,
    pub(crate) inodes: Vec<Inode>,
    /// The copies go to another filesystem, GNU cp's too.
    pub(crate) elsewhere: bool,
}

pub(crate) fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = parent.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

pub(crate) fn content(size: u64, fill: &Fill) -> Vec<u8> {
    match fill {
        Fill::Random(seed) => Rng(*seed).bytes(size as usize),
        Fill::Zeros => vec![0; size as usize],
        Fill::Text => b"line of text\n"
            .iter()
            .copied()
            .cycle()
            .take(size as usize)
            .collect(),
    }
}

/// The data chunks of a sparse file (`seed` varies the bytes).
pub(crate) fn sparse_data(size: u64, chunks: &[(u16, u16)], seed: u64) -> Vec<(u64, Vec<u8>)> {
    let mut rng = Rng(seed ^ size);
    chunks
        .iter()
        .map(|&(at, len)| {
            let off = size * at as u64 / 65536;
            let len = (len as u64).min(size - off);
            (off, rng.bytes(len as usize))
        })
        .collect()
}

/// The target of a symlink named `name` in a directory `depth` levels below
/// the root: relative ones climb to the root, then name an entry of
/// `entries` or a directory of `dirs` (the root first).
pub(crate) fn symlink_target(
    t: &Target,
    depth: usize,
    name: &[u8],
    entries: &[Vec<u8>],
    dirs: &[&[u8]],
) -> Vec<u8> {
    let up = |rel: &[u8]| {
        let mut s = b"../".repeat(depth);
        s.extend_from_slice(rel);
        if s.is_empty() {
            s = b".".to_vec();
        }
        if s.ends_with(b"/") {
            s.pop();
        }
        s
    };
    match t {
        Target::Entry(k) if !entries.is_empty() => up(&entries[k % entries.len()]),
        Target::Entry(_) => b"nothing-yet".to_vec(),
        Target::Dir(k) => up(dirs[k % dirs.len()]),
        Target::Literal(s) => s.clone(),
        Target::Itself => name.to_vec(),
    }
}

pub(crate) fn resolve(spec: &TreeSpec) -> Plan {
    // (path, depth below the root) of every directory, the root first.
    let mut dirs: Vec<(Vec<u8>, usize)> = vec![(Vec::new(), 0)];
    // Every entry made so far, and those a hard link may name.
    let mut entries: Vec<Vec<u8>> = Vec::new();
    let mut linkable: Vec<Vec<u8>> = Vec::new();
    let mut taken: HashSet<Vec<u8>> = HashSet::new();
    let mut ops = Vec::new();
    let mut inodes = vec![Inode {
        path: b".".to_vec(),
        symlink: false,
        attrs: spec.root.clone(),
    }];
    for (i, n) in spec.nodes.iter().enumerate() {
        let (parent, depth) = dirs[n.parent % dirs.len()].clone();
        let mut name = n.name.clone();
        if name == b"." || name == b".." || taken.contains(&join(&parent, &name)) {
            name.truncate(240);
            name.extend_from_slice(format!("~{i}").as_bytes());
        }
        let path = join(&parent, &name);
        taken.insert(path.clone());
        let mut inode = |symlink| {
            inodes.push(Inode {
                path: path.clone(),
                symlink,
                attrs: n.attrs.clone(),
            })
        };
        match &n.kind {
            Kind::Dir => {
                ops.push(Op::Dir(path.clone()));
                inode(false);
                if depth + 1 < MAX_DEPTH {
                    dirs.push((path.clone(), depth + 1));
                }
            }
            Kind::File { size, fill } => {
                ops.push(Op::File(path.clone(), content(*size, fill)));
                inode(false);
                linkable.push(path.clone());
            }
            Kind::Sparse { size, chunks } => {
                let data = sparse_data(*size, chunks, i as u64);
                ops.push(Op::Sparse(path.clone(), *size, data));
                inode(false);
                linkable.push(path.clone());
            }
            Kind::Symlink(t) => {
                let dir_paths: Vec<&[u8]> = dirs.iter().map(|d| d.0.as_slice()).collect();
                let target = symlink_target(t, depth, &name, &entries, &dir_paths);
                ops.push(Op::Symlink(path.clone(), target));
                inode(true);
                linkable.push(path.clone());
            }
            Kind::HardLink(k) => {
                if linkable.is_empty() {
                    continue;
                }
                ops.push(Op::Link {
                    existing: linkable[k % linkable.len()].clone(),
                    new: path.clone(),
                });
            }
        }
        entries.push(path);
    }
    // A symlink with several names gets an atime that reading it does not
    // move (relatime leaves an atime alone while it is later than the mtime
    // and the ctime and less than a day old: one in the future):
    // `meta_snapshot` reads each symlink's target as it walks, so it would
    // move the atime its other names show before it stats them. What
    // uring-cp does with such atimes (it had a bug here) is pinned by
    // `hard_linked_symlink_keeps_the_atime_seen_before_reading_it` below.
    let linked: HashSet<&[u8]> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Link { existing, .. } => Some(existing.as_slice()),
            _ => None,
        })
        .collect();
    for n in inodes.iter_mut() {
        if n.symlink && linked.contains(n.path.as_slice()) {
            let t = &mut n.attrs.times;
            t.atime.0 = t.mtime.0.max(3_000_000_000) + 1 + t.atime.0.rem_euclid(1000);
        }
    }
    Plan {
        ops,
        inodes,
        elsewhere: spec.elsewhere,
    }
}

impl Plan {
    /// Make the tree below `fx.root` (which must not exist).
    pub(crate) fn build(&self, fx: &Fx) {
        fx.dir(".", 0o755);
        for op in &self.ops {
            match op {
                Op::Dir(p) => {
                    fx.dir(p, 0o755);
                }
                Op::File(p, data) => {
                    fx.file(p, 0o644, data);
                }
                Op::Sparse(p, size, data) => {
                    let chunks: Vec<(u64, &[u8])> =
                        data.iter().map(|(o, d)| (*o, d.as_slice())).collect();
                    fx.sparse_file(p, 0o644, *size, &chunks);
                }
                Op::Symlink(p, t) => {
                    fx.symlink(p, t);
                }
                Op::Link { existing, new } => {
                    fx.hardlink(existing, new);
                }
            }
        }
        let root = is_root();
        // Owners first (a chown clears set-ID bits), then xattrs (an
        // unprivileged owner needs write permission), then modes.
        if root {
            for n in &self.inodes {
                fx.lchown(&n.path, n.attrs.owner.0, n.attrs.owner.1);
            }
        }
        for n in self.inodes.iter().filter(|n| !n.symlink) {
            for (k, v) in &n.attrs.xattrs {
                fx.set_xattr(&n.path, k, v);
            }
        }
        for n in self.inodes.iter().filter(|n| !n.symlink) {
            let mut mode = n.attrs.mode;
            if !root {
                // Unprivileged, unreadable sources are a different test.
                mode |= if fx.lstat(&n.path).is_dir() {
                    0o500
                } else {
                    0o400
                };
            }
            fx.chmod(&n.path, mode);
        }
        self.stamp(fx);
    }

    /// Apply the generated atimes and mtimes (again: reading moves atimes).
    pub(crate) fn stamp(&self, fx: &Fx) {
        for n in &self.inodes {
            fx.set_times(&n.path, n.attrs.times.atime, n.attrs.times.mtime);
        }
    }

    /// Add what this tree holds to `t`: trees, regular files, files past
    /// 64 KiB, past 1 MiB, sparse files, directories, symlinks, extra
    /// hard-link names, xattrs, trees copied onto another filesystem.
    pub(crate) fn tally(&self, t: &mut [u64; 10]) {
        t[0] += 1;
        t[9] += u64::from(self.elsewhere);
        for op in &self.ops {
            match op {
                Op::File(_, d) => {
                    t[1] += 1;
                    t[2] += u64::from(d.len() as u64 > 64 * KIB);
                    t[3] += u64::from(d.len() as u64 > MIB);
                }
                Op::Sparse(..) => {
                    t[1] += 1;
                    t[4] += 1;
                }
                Op::Dir(_) => t[5] += 1,
                Op::Symlink(..) => t[6] += 1,
                Op::Link { .. } => t[7] += 1,
            }
        }
        for n in self.inodes.iter().filter(|n| !n.symlink) {
            t[8] += n.attrs.xattrs.len() as u64;
        }
    }

    /// The tree, for failure messages.
    pub(crate) fn describe(&self) -> String {
        let mut s = String::new();
        for op in &self.ops {
            let _ = match op {
                Op::Dir(p) => writeln!(s, "    dir     {}", shell_quote(p)),
                Op::File(p, d) => writeln!(
                    s,
                    "    file    {} ({} bytes, digest {:016x})",
                    shell_quote(p),
                    d.len(),
                    digest(d)
                ),
                Op::Sparse(p, size, d) => writeln!(
                    s,
                    "    sparse  {} ({size} bytes, data at {:?})",
                    shell_quote(p),
                    d.iter().map(|(o, b)| (*o, b.len())).collect::<Vec<_>>()
                ),
                Op::Symlink(p, t) => {
                    writeln!(s, "    symlink {} -> {}", shell_quote(p), shell_quote(t))
                }
                Op::Link { existing, new } => writeln!(
                    s,
                    "    link    {} = {}",
                    shell_quote(new),
                    shell_quote(existing)
                ),
            };
        }
        for n in &self.inodes {
            let a = &n.attrs;
            let _ = write!(
                s,
                "    attrs   {} mode={:04o} owner={}:{} atime={}.{:09} mtime={}.{:09}",
                shell_quote(&n.path),
                a.mode,
                a.owner.0,
                a.owner.1,
                a.times.atime.0,
                a.times.atime.1,
                a.times.mtime.0,
                a.times.mtime.1
            );
            if !n.symlink {
                for (k, v) in &a.xattrs {
                    let _ = write!(s, " {k}={}", show(v));
                }
            }
            s.push('\n');
        }
        s
    }
}
