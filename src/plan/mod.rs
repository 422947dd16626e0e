//! From operands to copy roots: GNU cp's path semantics.
//!
//! This is where the command line meets the filesystem. For each SOURCE it
//! decides the destination (DEST itself, or DEST/basename when DEST is a
//! directory), follows cp's rules for trailing slashes, `src/.` and -T/-t, and
//! refuses, before anything is written, the copies cp refuses: a missing source,
//! a directory without -r, a file onto itself, a directory into itself, a
//! directory over a non-directory and the reverse. What survives are
//! [`Root`]s, each holding open descriptors for its source and destination
//! parents (one per distinct directory, shared: `opened.rs`), ready for the
//! walker, planned a batch at a time ([`Plan`] says why). With `--parents` ([`parents`]) each SOURCE goes to its full name
//! under DIRECTORY, and the directories on the way are made here.

mod opened;
mod overlap;
pub mod parents;
pub mod relative;

use crate::config::{Config, Deref, LinkMode, Overwrite, Target};
use crate::error::{CopyError, Failure, Op, errno, quote, strip_os_suffix};
use crate::progress::Progress;
use crate::tree::{DstDir, SrcDir};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One command-line source, resolved.
#[derive(Debug)]
pub struct Root {
    pub src_dir: Arc<SrcDir>,
    pub name: CString,
    pub dst_dir: Arc<DstDir>,
    pub dst_name: CString,
    /// The source as the user wrote it.
    pub display: PathBuf,
    /// Follow the operand if it is a symlink.
    pub follow: bool,
    pub stat: Stat,
    /// Its destination is, holds or lies inside an earlier operand's: it is
    /// walked only once everything of the earlier operands is done, so the
    /// outcome is that of cp's one-operand-after-another (`cp -r a/. b/. c`).
    pub after_earlier: bool,
    /// Its destination's path inside DEST (empty when it is DEST itself):
    /// where its twins are inside a basis directory (`--link-dest`...).
    pub dest_rel: PathBuf,
}

/// Why nothing at all can be copied.
#[derive(Debug)]
pub enum Fatal {
    /// The operands cannot be used (e.g. the target directory is missing).
    Run(String),
    /// The command line asks for what cannot be (cp's usage errors).
    Usage(String),
}

/// What the operands resolve to: DEST, checked, and the operands, planned
/// into [`Root`]s a batch at a time ([`Plan::next_roots`]).
///
/// Why batches: every root holds its parent directories open until it is
/// walked (one descriptor per distinct directory, `opened.rs`), and
/// `--files-from` or `--parents` may name files in tens of thousands of
/// directories (30,000 one-file directories under a 20,000-descriptor
/// limit: `Too many open files` from the 10,000th on). So operands are
/// planned until their parents fill a share of the descriptor limit
/// ([`parent_budget`]), those are copied, and the rest are planned next;
/// an ordinary command line is one batch.
pub struct Plan {
    /// DEST as resolved (relative basis directories are inside it).
    pub dest: PathBuf,
    /// `--parents`: attributes of the directories on the way, set once the
    /// copy is done ([`parents::Fixups::apply`]).
    pub parents: Option<parents::Fixups>,
    into_dir: bool,
    /// Operands planned so far: `cfg.sources[..next]`.
    next: usize,
    seen: Seen,
    landed: overlap::Landed,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("dest", &self.dest)
            .field("next", &self.next)
            .finish()
    }
}

/// Parent directories one batch of operands may hold open: a quarter of
/// the descriptor limit (the walk of the batch needs the rest).
pub fn parent_budget() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    usize::try_from(limit / 4).unwrap_or(usize::MAX).max(16)
}

impl Plan {
    /// Is every operand planned?
    pub fn done(&self, cfg: &Config) -> bool {
        self.next >= cfg.sources.len()
    }

    /// Plan the next operands, in order: all that are left, or as many as
    /// hold at most `budget` parent directories open (at least one).
    /// Per-operand refusals are reported to `progress` and that operand is
    /// dropped; the rest go on.
    pub fn next_roots(
        &mut self,
        cfg: &Config,
        progress: &dyn Progress,
        budget: usize,
    ) -> Vec<Root> {
        // (The roots of earlier batches hold what they still need.)
        self.seen.opened = Default::default();
        let mut roots: Vec<Root> = Vec::new();
        while let Some(src) = cfg.sources.get(self.next) {
            if self.seen.opened.len() >= budget {
                break;
            }
            self.next += 1;
            let dest = &self.dest;
            let planned = match &mut self.parents {
                // --files-from without -r: a listed directory is made (with the
                // ones on the way), not copied into (rsync's --dirs).
                Some(p) if cfg.files_from.is_some() && !cfg.recursive && is_dir(src) => {
                    let (base, rel) = relative::split(src);
                    p.make(dest, &rel.join("."), base, progress)
                        .map(|_| Planned::Nothing)
                }
                // --parents: DIRECTORY/SOURCE, once the directories on the way are
                // there; --relative: from the `/./` in SOURCE.
                Some(p) => {
                    let (base, rel) = match cfg.relative {
                        true => relative::split(src),
                        false => (Path::new(""), src.as_path()),
                    };
                    p.make(dest, rel, base, progress).and_then(|(dst, absent)| {
                        plan_one(cfg, src, &dst, false, absent, &mut self.seen)
                    })
                }
                None => plan_one(cfg, src, dest, self.into_dir, false, &mut self.seen),
            };
            match planned {
                Ok(Planned::Copy(mut root, key)) => {
                    let at = crate::tree::join(&root.dst_dir.path, &root.dst_name);
                    root.dest_rel = match at.strip_prefix(dest) {
                        Ok(rel) => rel.to_path_buf(),
                        Err(_) => PathBuf::from(OsStr::from_bytes(root.dst_name.to_bytes())),
                    };
                    root.after_earlier = self.landed.overlaps(&key);
                    roots.push(*root);
                }
                Ok(Planned::Twice) => progress.warning(&format!(
                    "warning: source file {} specified more than once",
                    quote(src)
                )),
                Ok(Planned::Nothing) => {}
                Err(f) => progress.failure(&f),
            }
        }
        roots
    }
}

/// Check DEST and prepare to plan the operands ([`Plan::next_roots`]).
/// `umask` is the process's.
pub fn plan(cfg: &Config, umask: u32) -> Result<Plan, Fatal> {
    // (A dry run's DEST that `--files-from` would have made.)
    let mut dest_absent = false;
    let (dest, into_dir) = match &cfg.target {
        Target::IntoDir(d) => {
            match rustix::fs::stat(d) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
                Ok(_) => {
                    return Err(Fatal::Run(format!(
                        "target directory {}: Not a directory",
                        quote(d)
                    )));
                }
                Err(e) => {
                    return Err(Fatal::Run(format!(
                        "target directory {}: {}",
                        quote(d),
                        strip_os_suffix(&e.into())
                    )));
                }
            }
            (d.clone(), true)
        }
        Target::Exactly(d) => (d.clone(), false),
        Target::Auto(d) => match rustix::fs::stat(d) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                (d.clone(), true)
            }
            // A dry run does not make DEST for `--files-from` (lib.rs):
            // everything goes in new.
            Err(rustix::io::Errno::NOENT) if cfg.sync.dry_run && cfg.files_from.is_some() => {
                dest_absent = true;
                (d.clone(), true)
            }
            other => {
                if cfg.sources.len() > 1 {
                    let why = match other {
                        Ok(_) => "Not a directory".to_string(),
                        Err(e) => strip_os_suffix(&e.into()),
                    };
                    return Err(Fatal::Run(format!("target {}: {why}", quote(d))));
                }
                if cfg.parents {
                    return Err(Fatal::Usage(crate::config::PARENTS_NEED_DIR.into()));
                }
                match other {
                    // -f, --remove-destination: a symlink loop is removed and
                    // replaced, as with cp.
                    Err(rustix::io::Errno::LOOP)
                        if cfg.overwrite == Overwrite::Force || cfg.remove_destination =>
                    {
                        (d.clone(), false)
                    }
                    // `cp a file/`: a trailing slash on an existing non-directory.
                    Err(e) if e != rustix::io::Errno::NOENT => {
                        return Err(Fatal::Run(format!(
                            "cannot stat {}: {}",
                            quote(d),
                            strip_os_suffix(&e.into())
                        )));
                    }
                    _ => (d.clone(), false),
                }
            }
        },
    };

    // `cp --force --backup F F` copies F to its backup name (cp's rule).
    let dest = match &cfg.backup {
        Some(b) if cfg.backs_up_onto_itself() && !into_dir => {
            own_backup_name(&dest, b).unwrap_or(dest)
        }
        _ => dest,
    };

    let parents = match (cfg.parents, dest_absent) {
        (true, false) => {
            let fd = open_dir_path(&dest).map_err(|e| {
                Fatal::Run(format!(
                    "target directory {}: {}",
                    quote(&dest),
                    strip_os_suffix(&e)
                ))
            })?;
            Some(parents::Fixups::new(cfg, Some(fd), umask))
        }
        (true, true) => Some(parents::Fixups::new(cfg, None, umask)),
        (false, _) => None,
    };

    Ok(Plan {
        dest,
        parents,
        into_dir,
        next: 0,
        seen: Seen::default(),
        landed: overlap::Landed::default(),
    })
}

/// The backup name of the existing regular file `path`, if it is one.
fn own_backup_name(path: &Path, b: &crate::config::Backup) -> Option<PathBuf> {
    let st = rustix::fs::stat(path).ok()?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return None;
    }
    let (parent, name) = split(path);
    let dir = open_dir_path(&parent).ok()?;
    let backup = crate::engine::backup::name_for(dir.as_fd(), &name, b).ok()?;
    Some(crate::tree::join(&parent, &backup))
}

/// What the operands planned so far put where.
#[derive(Default)]
struct Seen {
    /// Non-directory destinations, and whether each is a symlink copied as one.
    created: HashMap<PathBuf, bool>,
    /// Non-directory sources as named, by (name, dev, ino): cp copies a source
    /// named twice once.
    sources: std::collections::HashSet<(PathBuf, u64, u64)>,
    /// The operands' parent directories, each opened once.
    opened: opened::Opened,
}

/// What becomes of one operand.
enum Planned {
    /// Copied: the root, and where it lands (for [`Root::after_earlier`]).
    Copy(Box<Root>, PathBuf),
    /// The same source named again: a warning, nothing copied.
    Twice,
    /// Nothing to do, silently (a symlink onto a hard link of itself).
    Nothing,
}

/// Is `p` a directory (not through a symlink)?
fn is_dir(p: &Path) -> bool {
    rustix::fs::lstat(p).is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
}

/// Plan one operand. `absent`: a dry run would have made `dest`'s parent
/// directory (`--relative`), so it is not there and everything goes in new.
fn plan_one(
    cfg: &Config,
    src: &Path,
    dest: &Path,
    into_dir: bool,
    absent: bool,
    seen: &mut Seen,
) -> Result<Planned, Failure> {
    let (src_parent, src_name) = split(src);
    let trailing_slash = src.as_os_str().as_bytes().ends_with(b"/");
    let follow = cfg.deref != Deref::Never || trailing_slash;

    let src_parent_at = seen
        .opened
        .src(&src_parent)
        .map_err(|e| CopyError::new(Op::Stat, src, e))?;
    let src_parent_fd = src_parent_at.fd.as_fd();
    let stat_flags = if follow {
        AtFlags::empty()
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    };
    let st = rustix::fs::statat(src_parent_fd, src_name.as_c_str(), stat_flags)
        .map_err(|e| CopyError::new(Op::Stat, src, e.into()))?;
    let src_is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
    if trailing_slash && !src_is_dir {
        return Err(CopyError::new(Op::Stat, src, errno(libc::ENOTDIR)).into());
    }
    if src_is_dir && !cfg.recursive {
        return Err(Failure::Msg(format!(
            "-r not specified; omitting directory {}",
            quote(src)
        )));
    }

    // The destination: DEST/basename(SOURCE), or DEST itself.
    let (dst_path, dst_parent, dst_name) = if into_dir {
        let name = if src_name.as_bytes() == b"/" {
            CString::from(c".")
        } else {
            src_name.clone()
        };
        let path = crate::tree::join(dest, &name);
        (path, dest.to_path_buf(), name)
    } else {
        let (parent, name) = split(dest);
        (dest.to_path_buf(), parent, name)
    };

    let create_op = if src_is_dir { Op::Mkdir } else { Op::Create };
    let dst_parent_at = match absent {
        true => seen.opened.absent(&dst_parent),
        false => seen
            .opened
            .dst(&dst_parent)
            .map_err(|e| CopyError::new(create_op, &dst_path, e))?,
    };
    let dst_parent_fd = match absent {
        true => None,
        false => Some(
            dst_parent_at
                .fd()
                .map_err(|e| CopyError::new(create_op, &dst_path, e))?,
        ),
    };
    let dst_lstat = dst_parent_fd
        .and_then(|fd| rustix::fs::statat(fd, dst_name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW).ok());
    // (Only a symlink's target needs another look.)
    let dst_stat = match (&dst_lstat, dst_parent_fd) {
        (Some(l), Some(fd)) if FileType::from_raw_mode(l.st_mode) == FileType::Symlink => {
            rustix::fs::statat(fd, dst_name.as_c_str(), AtFlags::empty()).ok()
        }
        (other, _) => *other,
    };

    if !src_is_dir
        && !into_dir
        && dst_lstat.is_none()
        && dest.as_os_str().as_bytes().ends_with(b"/")
    {
        return Err(CopyError::new(create_op, &dst_path, errno(libc::ENOTDIR)).into());
    }
    // The same file, also when SOURCE is a symlink to DEST copied as a link
    // (that would replace DEST with a link to itself).
    // (`st` is a symlink's own status only when it is copied as a symlink.)
    let src_is_link = FileType::from_raw_mode(st.st_mode) == FileType::Symlink;
    let src_target = if src_is_link {
        rustix::fs::statat(src_parent_fd, src_name.as_c_str(), AtFlags::empty()).ok()
    } else {
        None
    };
    let same = |d: &Stat| {
        (d.st_dev, d.st_ino) == (st.st_dev, st.st_ino)
            || src_target
                .as_ref()
                .is_some_and(|t| (d.st_dev, d.st_ino) == (t.st_dev, t.st_ino))
    };
    // A symlink copied as a symlink onto another symlink replaces it: the
    // two are the same only if they are one inode (cp -P l1 l2, both
    // pointing to one file, is a copy, as with cp).
    let link_onto_link = src_is_link
        && dst_lstat
            .as_ref()
            .is_some_and(|l| FileType::from_raw_mode(l.st_mode) == FileType::Symlink);
    let dst_same = match link_onto_link {
        true => dst_lstat
            .as_ref()
            .filter(|l| (l.st_dev, l.st_ino) == (st.st_dev, st.st_ino)),
        false => dst_stat.as_ref().filter(|d| same(d)),
    };
    let key = lexical_join(&dst_parent_at.canonical, &dst_name);
    if link_onto_link
        && dst_same.is_some()
        && key != lexical_join(&src_parent_at.canonical, &src_name)
        && cfg.backup.is_none()
    {
        // Two names of one symlink inode: cp leaves them as they are.
        return Ok(Planned::Nothing);
    }
    if !src_is_dir
        && !seen
            .sources
            .insert((src.to_path_buf(), st.st_dev, st.st_ino))
    {
        return Ok(Planned::Twice);
    }
    let src_lstat = match follow {
        false => Some(st),
        true => rustix::fs::statat(
            src_parent_fd,
            src_name.as_c_str(),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .ok(),
    };
    let src_name_is_link = src_lstat
        .as_ref()
        .is_some_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink);
    let same_name = key == lexical_join(&src_parent_at.canonical, &src_name);
    let dst_is_link = dst_lstat
        .as_ref()
        .is_some_and(|l| FileType::from_raw_mode(l.st_mode) == FileType::Symlink);
    let hard_links = cfg.link == Some(LinkMode::Hard) && !src_is_dir;
    if hard_links
        && (dst_lstat
            .as_ref()
            .is_some_and(|l| (l.st_dev, l.st_ino) == (st.st_dev, st.st_ino))
            || (cfg.deref == Deref::Never
                && !dst_is_link
                && dst_same.is_some()
                && cfg.backup.is_none()))
    {
        // Already a hard link of the source (or of the file the symlink
        // SOURCE points to, under -P): nothing to do, as cp.
        return Ok(Planned::Nothing);
    }
    // --remove-destination removes DEST before copying: one file under two
    // names is then no obstacle, as long as removing DEST leaves the source
    // (DEST is a symlink, or another hard link of a source that is not one).
    let removable = cfg.remove_destination
        && dst_lstat.is_some()
        && !same_name
        && (dst_is_link || !src_name_is_link);
    // -b moves DEST aside first (cp's rules): another name of the source
    // may be backed up, except a file that a followed symlink SOURCE
    // points to (the symlink would dangle), and never the source's own name.
    let same_link = match (&src_lstat, &dst_lstat) {
        (Some(s), Some(d)) => (s.st_dev, s.st_ino) == (d.st_dev, d.st_ino),
        _ => false,
    };
    let backed_up = cfg.backup.is_some()
        && dst_lstat.is_some()
        && match same_link {
            false => !(cfg.deref != Deref::Never && src_name_is_link && !dst_is_link),
            true => !same_name,
        };
    // -s replaces a symlink DEST by a new symlink: it is never "the same".
    let relinked = cfg.link == Some(LinkMode::Symbolic) && dst_is_link;
    // -l never writes into DEST: linking onto another name of the source
    // fails with "File exists", or replaces that name under -f.
    if dst_same.is_some() && !src_is_dir && !removable && !backed_up && !relinked && !hard_links {
        return Err(Failure::Msg(format!(
            "{} and {} are the same file",
            quote(src),
            quote(&dst_path)
        )));
    }
    if src_is_dir {
        if let Some(l) = &dst_lstat
            && FileType::from_raw_mode(l.st_mode) != FileType::Directory
        {
            return Err(Failure::Msg(format!(
                "cannot overwrite non-directory {} with directory {}",
                quote(&dst_path),
                quote(src)
            )));
        }
        if is_inside(
            &src_parent_at.canonical,
            &src_name,
            &dst_parent_at.canonical,
            &dst_name,
        ) {
            return Err(Failure::Msg(format!(
                "cannot copy a directory, {}, into itself, {}",
                quote(src),
                quote(&dst_path)
            )));
        }
    } else if let Some(d) = &dst_stat
        && FileType::from_raw_mode(d.st_mode) == FileType::Directory
    {
        return Err(Failure::Msg(format!(
            "cannot overwrite directory {} with non-directory",
            quote(&dst_path)
        )));
    }
    if let (Some(b), Some(_), false, Some(dst_parent_fd)) =
        (&cfg.backup, &dst_lstat, src_is_dir, dst_parent_fd)
        && crate::engine::backup::would_destroy_source(
            &src_name,
            (st.st_dev, st.st_ino),
            dst_parent_fd,
            &dst_name,
            b,
        )
    {
        return Err(Failure::Msg(format!(
            "backing up {} might destroy source;  {} not copied",
            quote(&dst_path),
            quote(src)
        )));
    }
    if !src_is_dir {
        match seen.created.get(&key) {
            // Writing through it could write anywhere (GNU's tests/cp/abuse.sh).
            Some(true) => {
                return Err(Failure::Msg(format!(
                    "will not copy {} through just-created symlink {}",
                    quote(src),
                    quote(&dst_path)
                )));
            }
            Some(false) => {
                return Err(Failure::Msg(format!(
                    "will not overwrite just-created {} with {}",
                    quote(&dst_path),
                    quote(src)
                )));
            }
            None => {
                seen.created.insert(key.clone(), src_is_link);
            }
        }
    }

    Ok(Planned::Copy(
        Box::new(Root {
            src_dir: src_parent_at.dir(src_parent),
            name: src_name,
            dst_dir: dst_parent_at.dir.clone(),
            dst_name,
            display: src.to_path_buf(),
            follow,
            stat: st,
            after_earlier: false,
            dest_rel: PathBuf::new(),
        }),
        key,
    ))
}

/// Split a path into (parent, last component) the way cp names things:
/// trailing slashes are ignored, `a/.` names `.` inside `a`, and an empty
/// parent means the current directory.
pub fn split(path: &Path) -> (PathBuf, CString) {
    let bytes = path.as_os_str().as_bytes();
    let mut end = bytes.len();
    while end > 1 && bytes[end - 1] == b'/' {
        end -= 1;
    }
    let trimmed = &bytes[..end];
    if trimmed == b"/" {
        return (PathBuf::from("/"), CString::from(c"."));
    }
    let (parent, name) = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => {
            let mut p = &trimmed[..i];
            while p.len() > 1 && p.ends_with(b"/") {
                p = &p[..p.len() - 1];
            }
            (
                if p.is_empty() { b"/" as &[u8] } else { p },
                &trimmed[i + 1..],
            )
        }
        None => (b"" as &[u8], trimmed),
    };
    // Operands come from argv, which cannot hold NUL bytes.
    let name = CString::new(name).unwrap_or_else(|_| CString::from(c"."));
    (PathBuf::from(OsStr::from_bytes(parent)), name)
}

/// Open a directory for use as the `dirfd` of `*at` calls; "" is the current directory.
pub fn open_dir_path(path: &Path) -> std::io::Result<rustix::fd::OwnedFd> {
    let p: &Path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    Ok(rustix::fs::open(
        p,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Would `dst_parent/dst_name` be `src_parent/src_name` or inside it?
fn is_inside(src_parent: &Path, src_name: &CString, dst_parent: &Path, dst_name: &CString) -> bool {
    let src = lexical_join(src_parent, src_name);
    let dst = lexical_join(dst_parent, dst_name);
    if src.as_os_str().is_empty() {
        return false;
    }
    dst.starts_with(&src)
}

/// Join a canonical directory and one name, resolving `.` and `..`.
fn lexical_join(dir: &Path, name: &CString) -> PathBuf {
    match name.as_bytes() {
        b"." => dir.to_path_buf(),
        b".." => dir.parent().map(Path::to_path_buf).unwrap_or_default(),
        n => dir.join(OsStr::from_bytes(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(p: &str) -> (String, String) {
        let (a, b) = split(Path::new(p));
        (
            a.to_string_lossy().into_owned(),
            b.to_string_lossy().into_owned(),
        )
    }

    #[test]
    fn split_like_cp() {
        assert_eq!(s("a"), ("".into(), "a".into()));
        assert_eq!(s("a/b"), ("a".into(), "b".into()));
        assert_eq!(s("a/b/"), ("a".into(), "b".into()));
        assert_eq!(s("a//b//"), ("a".into(), "b".into()));
        assert_eq!(s("a/."), ("a".into(), ".".into()));
        assert_eq!(s("/"), ("/".into(), ".".into()));
        assert_eq!(s("/x"), ("/".into(), "x".into()));
        assert_eq!(s("."), ("".into(), ".".into()));
    }
}
