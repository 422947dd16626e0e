//! The destination side of a directory the walk enters: its node in the
//! destination tree (made here for the engines that do not make
//! directories themselves) and the attributes it gets when it is finished.

use super::*;

impl Walker {
    /// Sync mode: a directory that was already at the destination gets
    /// exactly its source's xattrs now; the attributes set once its
    /// contents are done never remove one. Only looked at when the source's
    /// status changed since the destination's last did.
    pub(super) fn mirror_dir_xattrs(&self, src: &SrcDir, st: &Stat, node: &DstDir) {
        let Some(DstState::Ready { fd, fresh: false }) = node.state() else {
            return;
        };
        if rustix::fs::fstat(fd)
            .is_ok_and(|dst| crate::sync::xattrs_may_differ(st, &dst, self.run_start))
        {
            let (src, dst) = (
                crate::meta::Src::Fd(src.fd.as_fd()),
                crate::meta::Dst::Fd(fd.as_fd()),
            );
            self.xattrs_differ(src, dst, &node.path);
        }
    }

    /// Sync mode's `-b` without `--backup-dir` leaves directories' times
    /// alone, as rsync does (it forces `--omit-dir-times` on then: the
    /// backups made in a directory change its time anyway).
    pub(super) fn omits_dir_times(&self) -> bool {
        self.backup.as_ref().is_some_and(|b| b.dir.is_none())
    }

    /// The destination directory for `p`, and the mode to create it with.
    /// `fd`: the open source directory, to read its xattrs from.
    pub(super) fn dst_node(
        &self,
        p: &PendingDir,
        st: &Stat,
        fd: Option<BorrowedFd<'_>>,
    ) -> (Arc<DstDir>, u32) {
        let path = join(&p.parent_dst.path, p.dst_name());
        let (create, fixup) = self.dir_modes(st.st_mode);
        // Archive mode: the source's status and xattrs, read now, applied
        // when the copy's contents are all written.
        let attrs = self.archive.dir_attrs().then(|| {
            let xattrs = match fd {
                Some(fd) => self.archive.read_xattrs(crate::meta::Src::Fd(fd), &|| {
                    join(&p.parent_src.path, &p.name)
                }),
                None => Vec::new(),
            };
            (SrcStat::from_stat(st), xattrs)
        });
        let finish = (fixup.is_some() || attrs.is_some()).then(|| {
            self.finishes.finish(Box::new(DirFinish {
                mode: fixup,
                attrs,
                archive: self.archive.clone(),
                only_if_changed: self.sync.enabled,
                times: !self.omits_dir_times(),
            }))
        });
        (Arc::new(DstDir::pending(path, finish)), create)
    }

    /// The mode to create a copy of a directory of mode `st_mode` with, and
    /// the mode it gets once its contents are written, if another.
    pub(super) fn dir_modes(&self, st_mode: u32) -> (u32, Option<u32>) {
        // cp without -p: the source's bits (sticky kept, set-id dropped) under the umask.
        let want = if self.archive.preserve.no_mode {
            // --no-preserve=mode: the default permissions (cp keeps the
            // sticky bit mkdir gives the copy).
            0o777 | (st_mode & 0o1000)
        } else {
            st_mode & 0o1777
        };
        // The owner must be able to write into it while it is filled; while
        // the owner is preserved, group and others get nothing until the
        // directory has its owner (cp's rule, as for files), and while the
        // mode is, they cannot write until it has its mode (cp's again).
        if self.archive.preserve.ownership {
            ((want & 0o1700) | 0o700, Some(want & !self.umask))
        } else if self.archive.preserve.mode {
            // DirFinish gives it the source's mode.
            ((want & !0o022) | 0o700, None)
        } else if want & 0o700 == 0o700 {
            (want, None)
        } else {
            (want | 0o700, Some(want & !self.umask))
        }
    }
}
