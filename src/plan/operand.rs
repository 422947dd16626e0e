//! One operand's plan: where it goes under cp's path rules, and the
//! refusals cp makes before anything is written (a missing source, a
//! directory without -r, a file onto itself, a directory into itself, a
//! directory over a non-directory and the reverse, a source named twice).
//! [`super::Plan`] calls it for each operand in turn, with what the earlier
//! ones planned ([`Seen`]).

use super::*;

/// What the operands planned so far put where.
#[derive(Default)]
pub(super) struct Seen {
    /// Non-directory destinations, and whether each is a symlink copied as one.
    pub created: HashMap<PathBuf, bool>,
    /// Non-directory sources as named, by (name, dev, ino): cp copies a source
    /// named twice once.
    pub sources: std::collections::HashSet<(PathBuf, u64, u64)>,
    /// The operands' parent directories, each opened once.
    pub opened: opened::Opened,
}

/// What becomes of one operand.
pub(super) enum Planned {
    /// Copied: the root, and where it lands (for [`Root::after_earlier`]).
    Copy(Box<Root>, PathBuf),
    /// The same source named again: a warning, nothing copied.
    Twice,
    /// Nothing to do, silently (a symlink onto a hard link of itself).
    Nothing,
}

/// Is `p` a directory (not through a symlink)?
pub(super) fn is_dir(p: &Path) -> bool {
    rustix::fs::lstat(p).is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
}

/// Plan one operand. `absent`: a dry run would have made `dest`'s parent
/// directory (`--relative`), so it is not there and everything goes in new.
pub(super) fn plan_one(
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
