//! Archive mode: what `-p`, `-a` and `--preserve` keep, and the data-layout
//! options `--sparse` and `--reflink`.
//!
//! Every engine calls into this module at the same points, so the result does
//! not depend on the engine:
//!
//! - **Regular files**: after the data is written, [`Archive::apply`] sets, on
//!   the open destination descriptor and in cp's order, the times
//!   (`futimens`, nanoseconds), the owner (`fchown`), the extended attributes
//!   and then the mode with its ACL (`fchmod`): ownership before the
//!   attributes because a chown clears `security.capability`, the mode last
//!   because a chown clears set-user/group-ID bits. The engines have the source's
//!   stat already (the `uring` engine asks `statx` for it after the ring read,
//!   and opens sources with `O_NOATIME` so that read does not move the atime it
//!   copies); none of this costs a stat of its own.
//! - **Symlinks and special files**: the walker stats them (it must read the
//!   link anyway); the attributes are set by name relative to the destination
//!   directory (`utimensat`/`fchownat` with `AT_SYMLINK_NOFOLLOW`).
//! - **Directories**: the walker reads the source directory's stat and xattrs
//!   when it opens it, and [`DirFinish`] applies them when the directory is
//!   released: every item inside holds the directory's `Arc` (a deferred hard
//!   link too), so that is after the last entry was created, and the
//!   directory's times are set after its contents are written, without any
//!   pass at the end ([`crate::tree::Finisher`]).
//! - **Hard links** ([`links`]): a shared map from (dev, ino) to the first
//!   copy. The first name of an inode is copied; a later name is linked at once
//!   if that copy is complete, or else parked in the map, and the worker that
//!   completes the first copy links the parked names. No worker ever waits for
//!   another file (a `uring` worker has many files in flight in its own ring;
//!   waiting on one of them would hang).
//! - **Extended attributes** ([`xattr`]): read from the source descriptor, or,
//!   where the engine has none (the `uring` engine reads through ring slots),
//!   through `/proc/self/fd/<dir>/<name>` with `llistxattr`; one listing per
//!   file, which also finds its ACL (`system.posix_acl_*`, copied with the mode
//!   as cp does).
//! - **Sparse files and reflinks** (`engine/mover/holes.rs`): a source whose allocated blocks
//!   are fewer than its size (cp's test) is copied extent by extent
//!   (`SEEK_DATA`/`SEEK_HOLE`), the holes left as holes; `--sparse=always` also
//!   skips zero blocks; `--reflink=always` clones with `FICLONE` or fails.
//!
//! Failures follow cp: a failure to keep the times, the mode, or (as root) the
//! owner is reported and fails the item (exit status 1); an unprivileged user
//! who cannot give a file away silently keeps it, and then loses the set-ID and
//! sticky bits (a directory keeps those mkdir gave it, as with cp); xattr
//! failures are silent under `-a`, warnings under `--preserve=all`, and errors
//! when `xattr` was named in `--preserve`.

pub mod links;
pub mod xattr;

use crate::config::{Config, Preserve, Reflink, Sparse};
use crate::error::{CopyError, IoContext, Op};
use crate::progress::Progress;
use crate::tree::SrcStat;
use rustix::fs::{AtFlags, Mode};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};
use std::ffi::CStr;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use xattr::Xattrs;

/// Where the source's extended attributes come from.
#[derive(Clone, Copy)]
pub enum Src<'a> {
    /// An open source file.
    Fd(BorrowedFd<'a>),
    /// A name in an open source directory (symlinks, special files, and files
    /// the `uring` engine read through a ring slot); `follow` for a symlink
    /// named on the command line with -H/-L.
    At {
        dir: BorrowedFd<'a>,
        name: &'a CStr,
        follow: bool,
    },
    /// Read already (directories: when the walker opened them).
    Read(&'a Xattrs),
}

/// The copy whose attributes are set.
#[derive(Clone, Copy)]
pub enum Dst<'a> {
    /// An open destination file or directory.
    Fd(BorrowedFd<'a>),
    /// A symlink or special file, by name in its directory (never followed).
    At {
        dir: BorrowedFd<'a>,
        name: &'a CStr,
        symlink: bool,
    },
}

/// The archive-mode settings of a run, and where its failures are reported.
/// (The hard-link map is [`links::Links`], shared by the walker and engines.)
pub struct Archive {
    pub preserve: Preserve,
    pub sparse: Sparse,
    pub reflink: Reflink,
    /// Running as root: a failed chown is reported (cp's `chown_privileges`).
    pub privileged: bool,
    pub umask: u32,
    /// -L with --preserve=links: every file is remembered, since two
    /// symlinks to one file make two names of it (cp does the same).
    pub link_all: bool,
    /// -H with --preserve=links: each operand is remembered, since a
    /// symlink operand to another operand makes two names of one file
    /// (cp does the same).
    pub link_operands: bool,
    /// Keep every remembered copy until the end of the run, even once all
    /// `nlink` names were seen: with -L, or with several operands, one name
    /// can be met twice (`cp -RH --preserve=links d sym-to-d c`, `cp -a d
    /// d/f c`), and cp links it to the first copy again.
    pub keep_links: bool,
    pub progress: Arc<dyn Progress>,
    /// A destination directory has a default ACL, so new copies inherit ACL
    /// entries: with the mode preserved, those are removed where the source
    /// has no ACL (cp replaces every copy's ACL with the source's).
    pub strip_acls: std::sync::atomic::AtomicBool,
    /// Sync mode: an entry that was there (a file rewritten in place) gets
    /// exactly its source's xattrs, as with rsync -X; cp adds the source's
    /// and leaves the others.
    pub exact_xattrs: bool,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("preserve", &self.preserve)
            .field("sparse", &self.sparse)
            .field("reflink", &self.reflink)
            .finish()
    }
}

impl Archive {
    pub fn new(cfg: &Config, progress: Arc<dyn Progress>, umask: u32) -> Self {
        Archive {
            preserve: cfg.preserve,
            sparse: cfg.sparse,
            reflink: cfg.reflink,
            privileged: rustix::process::geteuid().is_root(),
            umask,
            link_all: cfg.preserve.links && cfg.deref == crate::config::Deref::Always,
            link_operands: cfg.preserve.links && cfg.deref == crate::config::Deref::CommandLine,
            keep_links: cfg.preserve.links
                && (cfg.deref == crate::config::Deref::Always || cfg.sources.len() > 1),
            progress,
            strip_acls: Default::default(),
            exact_xattrs: cfg.sync.enabled,
        }
    }

    /// Note the directory a root is copied into: copies inherit from its
    /// default ACL, if it has one.
    pub fn watch_dst_parent(&self, dir: BorrowedFd<'_>) {
        // The plan opens these with O_PATH, which the xattr calls refuse.
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&dir));
        if self.preserve.mode
            && rustix::fs::getxattr_query(path.as_str(), c"system.posix_acl_default")
                .is_ok_and(|n| n > 0)
        {
            self.strip_acls
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Must every regular file take the synchronous path ([`crate::engine::copier::FileCopier`])?
    /// Only it can clone.
    pub fn files_need_sync(&self) -> bool {
        self.reflink == Reflink::Always
    }

    /// Is this source to be copied hole by hole? cp's test
    /// (`is_probably_sparse`): fewer 512-byte blocks allocated than whole
    /// 512-byte blocks in its size says it may have holes
    /// (`--sparse=auto`). The division rounds down, as cp's does: a file
    /// of 45,057 bytes with 88 blocks (its 80 of data and an ext4 xattr
    /// block of 8) is copied whole by cp, every zero written, so ours is
    /// too (comparing bytes, 88 x 512 < 45,057, it was copied sparse).
    pub fn sparse_copy(&self, st: &SrcStat) -> bool {
        match self.sparse {
            Sparse::Never => false,
            Sparse::Always => st.size > 0,
            Sparse::Auto => st.blocks < st.size / 512,
        }
    }

    /// A new file's (or FIFO's, device's, socket's) permissions before the
    /// umask: the source's, or with `--no-preserve=mode` cp's defaults, 0666
    /// (0777 for a socket, as for a directory).
    fn base_perms(&self, src_mode: u32) -> u32 {
        if !self.preserve.no_mode {
            src_mode & 0o777
        } else if src_mode & 0o170000 == 0o140000 {
            0o777
        } else {
            0o666
        }
    }

    /// The permissions a new file (or FIFO, device, socket) is created with,
    /// before the umask.
    ///
    /// While the owner is preserved, the group and other bits are left out
    /// until the copy has its owner, as cp does, so that a copy whose owner
    /// cannot be set never grants the wrong group or others access.
    pub fn create_mode(&self, src_mode: u32) -> u32 {
        let mode = self.base_perms(src_mode);
        if self.preserve.ownership {
            mode & 0o700
        } else {
            mode
        }
    }

    /// Do symlinks need their own stat (for times, owner, xattrs, links)?
    pub fn stat_symlinks(&self) -> bool {
        let p = &self.preserve;
        p.timestamps || p.ownership || p.xattr || p.links
    }

    /// Is this name of a source (`operand`: named on the command line) to
    /// go through the hard-link map? cp's rule: with --preserve=links, a
    /// file with several links, every file under -L, an operand under -H.
    pub fn tracks_links(&self, st: &SrcStat, operand: bool) -> bool {
        self.preserve.links && (st.nlink > 1 || self.link_all || (self.link_operands && operand))
    }

    /// Does a directory's copy get any of its source's attributes?
    pub fn dir_attrs(&self) -> bool {
        let p = &self.preserve;
        p.mode || p.ownership || p.timestamps || p.xattr
    }

    /// Is the source's xattr list needed (xattrs, or the ACL that goes with the mode)?
    pub fn wants_xattrs(&self) -> bool {
        self.preserve.xattr || self.preserve.mode
    }

    /// Does a regular file's copy get any attribute set after its data?
    pub fn file_attrs(&self) -> bool {
        self.dir_attrs()
    }

    /// Read the source's extended attributes, if they are wanted. Errors are
    /// reported as cp does (quietly under -a).
    pub fn read_xattrs(&self, src: Src<'_>, src_path: &dyn Fn() -> PathBuf) -> Xattrs {
        if !self.wants_xattrs() {
            return Xattrs::default();
        }
        match src {
            Src::Read(x) => Ok(x.clone()),
            Src::Fd(fd) => xattr::read_fd(fd),
            Src::At { dir, name, follow } => xattr::read_at(dir, name, follow),
        }
        .unwrap_or_else(|e| {
            if self.preserve.xattr {
                self.xattr_failure(&CopyError::new(Op::ListXattrs, src_path(), e.into()), e);
            }
            Xattrs::default()
        })
    }

    /// Report an xattr failure the way cp does: every failure, failing the
    /// item, when `xattr` was named in --preserve; nothing under -a; else
    /// those that are not "unsupported", as a warning.
    fn xattr_failure(&self, msg: &dyn std::fmt::Display, e: Errno) {
        let p = &self.preserve;
        if p.xattr_required {
            self.progress.message(&msg.to_string());
        } else if !p.xattr_quiet && !xattr::unsupported(e) {
            self.progress.warning(&msg.to_string());
        }
    }

    /// Give a copy its source's preserved attributes, in cp's order: times,
    /// owner, extended attributes, then mode and ACL. Failures are reported to
    /// the progress; after one that fails the item, the rest are not tried
    /// (then `false`: the copy keeps the restrictive mode it was made with).
    pub fn apply(
        &self,
        st: &SrcStat,
        src: Src<'_>,
        src_path: &dyn Fn() -> PathBuf,
        dst: Dst<'_>,
        dst_path: &dyn Fn() -> PathBuf,
        created: bool,
    ) -> bool {
        self.apply_as(self.preserve, st, src, src_path, dst, dst_path, created)
    }

    /// [`Self::apply`] with `p` in place of the run's [`Preserve`].
    #[allow(clippy::too_many_arguments)]
    pub fn apply_as(
        &self,
        p: Preserve,
        st: &SrcStat,
        src: Src<'_>,
        src_path: &dyn Fn() -> PathBuf,
        dst: Dst<'_>,
        dst_path: &dyn Fn() -> PathBuf,
        created: bool,
    ) -> bool {
        let report = |op: Op, e: Errno| {
            self.progress
                .error(&CopyError::new(op, dst_path(), e.into()))
        };
        let symlink = matches!(dst, Dst::At { symlink: true, .. });

        if p.timestamps {
            let ts = st.timestamps();
            let r = match dst {
                Dst::Fd(fd) => rustix::fs::futimens(fd, &ts),
                Dst::At { dir, name, .. } => {
                    rustix::fs::utimensat(dir, name, &ts, AtFlags::SYMLINK_NOFOLLOW)
                }
            };
            if let Err(e) = r {
                report(Op::PreserveTimes, e);
                if p.required {
                    return false;
                }
            }
        }

        // cp: when the owner cannot be kept, the set-ID and sticky bits go too.
        let mut mode = st.mode & 0o7777;
        if p.ownership {
            let (uid, gid) = (Uid::from_raw(st.uid), Gid::from_raw(st.gid));
            let chown = |u: Option<Uid>, g: Option<Gid>| match dst {
                Dst::Fd(fd) => rustix::fs::fchown(fd, u, g),
                Dst::At { dir, name, .. } => {
                    rustix::fs::chownat(dir, name, u, g, AtFlags::SYMLINK_NOFOLLOW)
                }
            };
            if let Err(e) = chown(Some(uid), Some(gid)) {
                if matches!(e, Errno::PERM | Errno::INVAL) {
                    // Keep at least the group, if the user is in it.
                    let _ = chown(None, Some(gid));
                }
                if self.privileged || !matches!(e, Errno::PERM | Errno::INVAL | Errno::ACCESS) {
                    report(Op::PreserveOwner, e);
                    if p.required {
                        return false;
                    }
                }
                mode = self.without_special_bits(st, dst, mode);
            }
        }

        let attrs = self.read_xattrs(src, src_path);
        // (A directory's are made exact by the walker: `mirror_dir_xattrs`.)
        if p.xattr
            && self.exact_xattrs
            && !created
            && st.mode & 0o170000 != 0o040000
            && let Err(e) = xattr::remove_others(&attrs, dst)
        {
            let msg = format!(
                "removing attributes of {}: {}",
                crate::error::quote(&dst_path()),
                crate::error::strip_os_suffix(&e.into())
            );
            self.xattr_failure(&msg, e);
        }
        if p.xattr {
            for (name, e) in xattr::write(&attrs, dst, self.privileged, false) {
                let msg = format!(
                    "setting attribute {} for {}: {}",
                    crate::error::quote(std::path::Path::new(std::ffi::OsStr::from_bytes(
                        name.to_bytes()
                    ))),
                    crate::error::quote(&dst_path()),
                    crate::error::strip_os_suffix(&e.into())
                );
                self.xattr_failure(&msg, e);
            }
        }
        if symlink {
            return true;
        }
        if p.mode {
            if self.strip_acls.load(std::sync::atomic::Ordering::Relaxed) {
                xattr::remove_inherited_acls(&attrs, dst, st.mode & 0o170000 == 0o040000);
            }
            if let Some((_, e)) = xattr::write(&attrs, dst, self.privileged, true).first() {
                report(Op::PreservePerms, *e);
                if p.required {
                    return false;
                }
            }
            self.chmod(dst, mode, dst_path);
        } else if p.ownership && created && st.mode & 0o170000 != 0o040000 {
            // A new file's or special file's group and other bits were left
            // out until the owner was set (see [`Archive::create_mode`]): put
            // them back. (A directory's are put back by its DirFinish; a
            // file rewritten in place keeps its mode, as with cp.)
            self.chmod(dst, self.base_perms(st.mode) & !self.umask, dst_path);
        }
        true
    }

    /// cp's rule when the owner could not be kept: no set-user/group-ID or
    /// sticky bit from the source. A directory keeps the ones it got from
    /// mkdir (sticky) and its parent (set-group-ID), as cp's copy does: cp
    /// then sets only its permission bits.
    fn without_special_bits(&self, st: &SrcStat, dst: Dst<'_>, mode: u32) -> u32 {
        let kept = match dst {
            Dst::Fd(fd) if st.mode & 0o170000 == 0o040000 => {
                rustix::fs::fstat(fd).map_or(0, |cur| cur.st_mode & 0o7000)
            }
            _ => 0,
        };
        (mode & 0o777) | kept
    }

    fn chmod(&self, dst: Dst<'_>, mode: u32, dst_path: &dyn Fn() -> PathBuf) {
        let m = Mode::from_raw_mode(mode);
        let r = match dst {
            Dst::Fd(fd) => rustix::fs::fchmod(fd, m),
            Dst::At { dir, name, .. } => rustix::fs::chmodat(dir, name, m, AtFlags::empty()),
        };
        if let Err(e) = r {
            self.progress
                .error(&CopyError::new(Op::PreservePerms, dst_path(), e.into()));
        }
    }
}

/// What a destination directory still needs once its contents are written.
pub struct DirFinish {
    /// Without --preserve=mode: the mode of a directory its owner cannot write
    /// into, set last (cp's umask rule), or nothing. Only for a directory
    /// the run made: one that was there keeps its mode, as with cp.
    pub mode: Option<u32>,
    /// With --preserve: the source directory's status and xattrs.
    pub attrs: Option<(SrcStat, Xattrs)>,
    pub archive: Arc<Archive>,
    /// Sync mode: a directory that already has the mode, owner and
    /// modification time it would be given is left alone, so a re-sync that
    /// changed nothing changes no directory's status (its ctime stays, as
    /// with rsync). Its xattrs are the walker's (`walk::Walker::mirror_dir_xattrs`).
    pub only_if_changed: bool,
    /// Its times are set (when preserved); not in sync mode with `-b` and no
    /// `--backup-dir` (`walk::Walker::omits_dir_times`).
    pub times: bool,
}

/// The mode `fixup` for a directory whose mode is now `cur`, keeping the
/// set-group-ID bit it inherited from its parent, as cp does (`cp -r` of a
/// directory mode 0555 into a set-group-ID directory makes it 2555).
fn keep_inherited(fixup: u32, cur: u32) -> u32 {
    fixup | (cur & 0o2000)
}

impl DirFinish {
    /// Does the directory, whose status is `cur`, already have what this
    /// would give it? (The access time is not compared: listing a directory
    /// moves it, and rsync does not keep it either.)
    fn already_applied(&self, cur: &rustix::fs::Stat, fresh: bool) -> bool {
        let mode = cur.st_mode & 0o7777;
        #[allow(clippy::unnecessary_cast)] // the field types differ between architectures
        let mtime = (cur.st_mtime as i64, cur.st_mtime_nsec as u32);
        let attrs_match = match &self.attrs {
            None => true,
            Some((st, xattrs)) => {
                let p = &self.archive.preserve;
                // A new directory has none of its source's xattrs yet.
                (!fresh || xattrs.is_empty())
                    && (!p.mode || mode == st.mode & 0o7777)
                    && (!p.ownership || (cur.st_uid, cur.st_gid) == (st.uid, st.gid))
                    && (!p.timestamps || !self.times || mtime == st.mtime)
            }
        };
        let fixup_matches = match self.mode {
            Some(m) if fresh && !(self.attrs.is_some() && self.archive.preserve.mode) => {
                mode == keep_inherited(m, cur.st_mode)
            }
            _ => true,
        };
        attrs_match && fixup_matches
    }
}

impl DirFinish {
    /// The status to give a directory under --preserve=mode: cp sets a
    /// directory's permission bits and leaves its set-ID and sticky bits
    /// alone when the source has none (it sets the permission bits through
    /// the directory's ACL), so `cp -a src/. dst` keeps a shared `dst` 1777
    /// sticky, and a directory it makes keeps the set-group-ID bit it
    /// inherited from its parent. Sync mode sets the mode as rsync does,
    /// exactly.
    fn special_bits_kept(&self, mut st: SrcStat, fd: BorrowedFd<'_>) -> SrcStat {
        let applies = !self.only_if_changed && self.archive.preserve.mode && st.mode & 0o7000 == 0;
        if applies && let Ok(cur) = rustix::fs::fstat(fd) {
            st.mode |= cur.st_mode & 0o7000;
        }
        st
    }
}

impl crate::tree::FinishDir for DirFinish {
    /// Apply to the directory open as `fd`; `path` for messages.
    fn finish(&self, fd: BorrowedFd<'_>, path: &std::path::Path, fresh: bool) {
        if self.only_if_changed
            && rustix::fs::fstat(fd).is_ok_and(|cur| self.already_applied(&cur, fresh))
        {
            return;
        }
        let dst_path = || path.to_path_buf();
        let completed = match &self.attrs {
            Some((st, attrs)) => {
                let st = self.special_bits_kept(*st, fd);
                let preserve = Preserve {
                    timestamps: self.archive.preserve.timestamps && self.times,
                    ..self.archive.preserve
                };
                self.archive.apply_as(
                    preserve,
                    &st,
                    Src::Read(attrs),
                    &dst_path,
                    Dst::Fd(fd),
                    &dst_path,
                    fresh,
                )
            }
            None => true,
        };
        if let Some(mode) = self.mode
            && fresh
            && completed
            && !(self.attrs.is_some() && self.archive.preserve.mode)
        {
            let mode = match rustix::fs::fstat(fd) {
                Ok(cur) => keep_inherited(mode, cur.st_mode),
                Err(_) => mode,
            };
            let r = rustix::fs::fchmod(fd, Mode::from_raw_mode(mode)).ctx(Op::SetPerms, path);
            if let Err(e) = r {
                self.archive.progress.error(&e);
            }
        }
    }
}
