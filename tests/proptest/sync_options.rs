//! Sync mode against rsync with rsync's options: one or two of
//! [`SYNC_OPTIONS`] added to both commands of `sync.rs`'s comparison, and
//! the allowances each needs where the two tools differ on purpose or where
//! the order of the names decides (each explained where it is made, in
//! `sync::check_sync` and below).

use super::sync::{rsync_here, sync_proptest};
use super::*;

/// Options of rsync's that sync mode takes, one or two of which are added to
/// both commands by [`random_changes_with_random_options_sync_like_rsync`]
/// (the `--link-dest` family as [`Basis`] says, `--backup-dir` as
/// [`aside`] says; `--max-delete` ends with rsync's line and exit status
/// 25 when it keeps anything, see `sync::limited`).
/// With `--ignore-existing`, a file or symlink kept where the source now has
/// a directory is compared without its times: rsync gives it the
/// directory's time, uring-cp leaves it as it was (on purpose, README; pinned
/// in `tests/rsync_options.rs`).
const SYNC_OPTIONS: &[&str] = &[
    "--size-only",
    "--checksum",
    "--inplace",
    "--delete-before",
    "--delete-after",
    "--backup",
    "-u",
    "--ignore-existing",
    "--modify-window=1",
    "--delete-during",
    "--dry-run",
    "--numeric-ids",
    "--exclude=*a*",
    "--delete-excluded",
    "--remove-source-files",
    "--link-dest=new",
    "--link-dest=old",
    "--compare-dest=new",
    "--compare-dest=old",
    "--copy-dest=new",
    "--backup-dir=aside",
    "--ignore-times",
    "--existing",
    "--max-delete=0",
    "--max-delete=2",
];

/// The same with one or two of [`SYNC_OPTIONS`] added to both commands
/// (not two of one kind: `--size-only` and `--checksum`, or two `--delete-*`
/// timings): the mirror must equal rsync's (not always the source: some
/// options leave changes out). `UCP_PROPTEST_SYNC_OPTION_CASES=N` pairs
/// (default 16, or `UCP_PROPTEST_CASES`).
#[test]
fn random_changes_with_random_options_sync_like_rsync() {
    if !rsync_here() {
        return;
    }
    let cases = env_u64("UCP_PROPTEST_SYNC_OPTION_CASES")
        .or_else(|| env_u64("UCP_PROPTEST_CASES"))
        .map_or(DEFAULT_SYNC_OPTION_CASES, |n| n as u32);
    sync_proptest(cases, "UCP_PROPTEST_SYNC_OPTION_CASES", None, true);
}

/// Pairs with random options per run unless told otherwise.
const DEFAULT_SYNC_OPTION_CASES: u32 = 16;

/// Up to two of [`SYNC_OPTIONS`] (none when `with` is false), never two of
/// one kind.
pub(crate) fn options_strategy(with: bool) -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(
        prop::sample::select(SYNC_OPTIONS),
        if with { 1..=2 } else { 0..=0 },
    )
    .prop_map(|picked| {
        let mut kept: Vec<&'static str> = Vec::new();
        for o in picked {
            if !kept.iter().any(|k| option_kind(k) == option_kind(o)) {
                kept.push(o);
            }
        }
        kept
    })
}

/// Options of one kind cannot go together: the check (`--size-only`,
/// `--checksum`), the time of deletion (`--delete-*`), the `--link-dest`
/// family, and the pairs uring-cp refuses: `--inplace` with `--backup`
/// (nothing would be kept), `--remove-source-files` with a basis.
fn option_kind(o: &str) -> &str {
    match o {
        "--size-only" | "--checksum" => "check",
        "--inplace" | "--backup" | "--backup-dir=aside" => "write",
        "--delete-excluded" => "excluded",
        // (uring-cp refuses --remove-source-files with them: README.)
        "--remove-source-files" => "basis",
        o if Basis::of(o).is_some() => "basis",
        o if o.starts_with("--delete-") => "when",
        o if o.starts_with("--max-delete=") => "limit",
        o => o,
    }
}

/// `--backup-dir=aside` as each tool is given it: a directory beside its
/// mirror (`MIRROR.aside`, absolute: a relative one would be inside the
/// mirror), in both rounds; other options as they are.
pub(crate) fn aside(o: &str, mirror: &std::path::Path) -> String {
    match o {
        "--backup-dir=aside" => format!("--backup-dir={}", aside_of(mirror).display()),
        o => o.to_string(),
    }
}

/// Where [`aside`] puts `mirror`'s backups.
pub(crate) fn aside_of(mirror: &std::path::Path) -> std::path::PathBuf {
    let mut dir = mirror.as_os_str().to_owned();
    dir.push(".aside");
    dir.into()
}

/// uring-cp's `--backup-dir` as rsync's would be where they differ on
/// purpose (README, Sync mode): a directory that goes is moved there whole,
/// so it may hold directories rsync does not make (empty ones: rsync moves
/// files one by one). Directories made there are compared by name only:
/// they take the permissions and owner of DEST's directory as it is when
/// the first backup goes into it (rsync's, after it gave that directory the
/// source's new ones; the backup directory itself: default permissions),
/// pinned in `tests/backup_sync.rs`. With a basis (`twins`), what a twin's
/// link replaces is kept too (rsync keeps only symlinks there; README): each
/// of rsync's backups must be among ours, not the other way round, and
/// ours may be linked to the other names of their file we kept (their link
/// groups are not compared).
pub(crate) fn aside_like(mut ours: Vec<Meta>, rsyncs: &[Meta], twins: bool) -> Vec<Meta> {
    ours.retain(|m| {
        (m.kind != common::Kind::Dir && !twins) || rsyncs.iter().any(|r| r.path == m.path)
    });
    if twins {
        for m in &mut ours {
            if let Some(r) = rsyncs.iter().find(|r| r.path == m.path) {
                m.link_group = r.link_group.clone();
            }
        }
    }
    ours
}

/// `-u` with a hard-linked source: a name whose destination is newer is
/// left as it was (`before`), while rsync -H links it to its group's first
/// name when that one is updated (a difference on purpose, README; pinned in
/// `tests/rsync_update.rs`). Such a name in `ours` is taken as it is in
/// `want` (rsync's), and its group's names are compared without their link
/// groups. Only a name of a multiply-linked regular file, newer in whole
/// seconds than its source and unchanged since the last run, counts.
pub(crate) fn newer_names_kept(
    source: &[Meta],
    before: &[Meta],
    want: &mut [Meta],
    ours: &mut [Meta],
) {
    let unlinked = |m: &Meta| Meta {
        link_group: None,
        ..m.clone()
    };
    let find = |v: &[Meta], path: &[u8]| v.iter().find(|m| m.path == path).map(unlinked);
    let mtime = |m: &Meta| m.times.map_or(0, |t| t[1].0);
    let (mut kept_names, mut groups) = (HashSet::new(), HashSet::new());
    for m in ours.iter() {
        let (Some(src), Some(was)) = (find(source, &m.path), find(before, &m.path)) else {
            continue;
        };
        let kept = m.kind == common::Kind::File
            && src.kind == common::Kind::File
            && unlinked(m) == was
            && mtime(m) > mtime(&src);
        let group = source
            .iter()
            .find(|s| s.path == m.path)
            .and_then(|s| s.link_group.clone());
        if let (true, Some(group)) = (kept, group) {
            kept_names.insert(m.path.clone());
            groups.insert(group.0);
        }
    }
    let in_group = |path: &[u8]| {
        source
            .iter()
            .find(|s| s.path == path)
            .and_then(|s| s.link_group.as_ref())
            .is_some_and(|g| groups.contains(&g.0))
    };
    for m in want.iter_mut().chain(ours.iter_mut()) {
        if in_group(&m.path) {
            m.link_group = None;
        }
    }
    for w in want.iter_mut() {
        if let Some(o) = ours.iter().find(|o| o.path == w.path)
            && kept_names.contains(&w.path)
        {
            *w = o.clone();
        }
    }
}

/// What is left of a source after `--remove-source-files`: its entries
/// without directories' times (removing names from a directory sets its
/// time to the run's).
pub(crate) fn left_of(root: &std::path::Path) -> Vec<Meta> {
    let mut v = synced_view(root);
    v.iter_mut()
        .filter(|m| m.kind == common::Kind::Dir)
        .for_each(|m| m.times = None);
    v
}

/// Has the source split a file that has several names in the mirror `was`
/// (some of its names, still in the source, are no longer one file there)?
pub(crate) fn split_in_source(was: &[Meta], source: &[Meta]) -> bool {
    let mut groups: std::collections::HashMap<&[u8], HashSet<Vec<u8>>> = Default::default();
    for m in was {
        let Some((first, _)) = &m.link_group else {
            continue;
        };
        if let Some(s) = source.iter().find(|s| s.path == m.path) {
            let key = s.link_group.as_ref().map_or(&s.path, |g| &g.0);
            groups.entry(first).or_default().insert(key.clone());
        }
    }
    groups.values().any(|keys| keys.len() > 1)
}

/// Is `path` a backup (`-b`'s suffix `~` on it or on a directory above it)?
pub(crate) fn is_backup(path: &[u8]) -> bool {
    path.split(|&b| b == b'/').any(|c| c.ends_with(b"~"))
}

/// The `--link-dest` family as [`SYNC_OPTIONS`] draws it, in the second round
/// only (the first makes the mirror it starts from). `=new`: the snapshot
/// idiom, the second round into a new, empty mirror with the first round's
/// moved aside as its basis; `=old`: into the first round's mirror, with a
/// copy of it (`cp -a`) as the basis, so every unchanged file is already
/// there (`--link-dest` relinks it to its twin, `--compare-dest` removes
/// it). Each tool's mirror has a basis of its own, so link counts compare.
pub(crate) struct Basis {
    /// `--link-dest`, `--compare-dest` or `--copy-dest`.
    option: &'static str,
    /// Into a new mirror (`=new`), or into the old one (`=old`).
    new: bool,
}

impl Basis {
    /// The basis option among `options`, if any.
    pub(crate) fn among(options: &[&str]) -> Option<Basis> {
        options.iter().find_map(|o| Basis::of(o))
    }

    fn of(o: &str) -> Option<Basis> {
        let (option, how) = o.split_once('=')?;
        let option = match option {
            "--link-dest" => "--link-dest",
            "--compare-dest" => "--compare-dest",
            "--copy-dest" => "--copy-dest",
            _ => return None,
        };
        Some(Basis {
            option,
            new: how == "new",
        })
    }

    /// Make `mirror`'s basis beside it and return the option that names it
    /// (absolute: a relative one would be inside the mirror).
    pub(crate) fn prepare(&self, mirror: &std::path::Path) -> String {
        let mut base = mirror.as_os_str().to_owned();
        base.push(".base");
        let base = std::path::PathBuf::from(base);
        if self.new {
            std::fs::rename(mirror, &base).expect("move the mirror aside as the basis");
        } else {
            let out = Command::new("cp")
                .arg("-a")
                .arg(mirror)
                .arg(&base)
                .output()
                .expect("run cp -a");
            assert!(out.status.success(), "cp -a of the mirror: {out:?}");
        }
        format!("{}={}", self.option, base.display())
    }

    /// Is it `--compare-dest`?
    pub(crate) fn compares(&self) -> bool {
        self.option == "--compare-dest"
    }

    /// Is `o` the option this basis was drawn as?
    pub(crate) fn is(&self, o: &str) -> bool {
        o.split_once('=')
            .is_some_and(|(option, _)| option == self.option)
    }
}

/// `--size-only` with a basis: where a twin has the source's size but
/// another time, rsync copies the twin's bytes under the source's time and
/// uring-cp the source's bytes (a difference on purpose, README; pinned in
/// `tests/basis.rs`). A file of rsync's mirror with the source's size but
/// not its bytes, where uring-cp's has the source's, is taken as the
/// source's.
pub(crate) fn twin_bytes_not_taken(source: &[Meta], want: &mut [Meta], ours: &[Meta]) {
    for w in want.iter_mut() {
        let Some(s) = source.iter().find(|s| s.path == w.path) else {
            continue;
        };
        let ours_is_source = ours
            .iter()
            .any(|o| o.path == w.path && o.kind == s.kind && o.content == s.content);
        if w.kind == common::Kind::File
            && s.kind == common::Kind::File
            && w.size == s.size
            && w.content != s.content
            && ours_is_source
        {
            w.content = s.content.clone();
        }
    }
}
