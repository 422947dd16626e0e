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
//! walker, planned a batch at a time ([`Plan`] says why; `operand.rs` plans
//! one operand). With `--parents` ([`parents`]) each SOURCE goes to its full
//! name under DIRECTORY, and the directories on the way are made here.

mod opened;
mod operand;
mod overlap;
pub mod parents;
pub mod relative;

use crate::config::{Config, Deref, LinkMode, Overwrite, Target};
use crate::error::{CopyError, Failure, Op, errno, quote, strip_os_suffix};
use crate::progress::Progress;
use crate::tree::{DstDir, SrcDir};
use operand::{Planned, Seen, is_dir, plan_one};
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
