//! One command-line operand: a directory starts a walk; anything else is
//! one item, decided like an entry of a tree in sync mode
//! (`uring-cp --sync big.iso /backup/` copies it only if it changed).

use super::{Closed, OperandNames, PendingDir, Walker, decide, list};
use crate::error::{IoContext, Op};
use crate::plan::Root;
use crate::tree::{DirMade, DstState, Item, Kind, SrcStat};
use rustix::fs::{AtFlags, FileType};
use std::os::fd::AsFd;
use std::path::Path;

impl Walker {
    /// Walk one operand: a directory is pushed (or given to the pool), a
    /// file, symlink or special file is sent as it is, after sync mode's
    /// decision and, with basis directories, their warnings.
    pub(super) fn root(&mut self, root: Root) -> Result<(), Closed> {
        if let Some(b) = &mut self.bases {
            b.operand(&root.dest_rel);
        }
        let ft = FileType::from_raw_mode(root.stat.st_mode);
        if ft == FileType::Directory {
            self.stack.push(PendingDir {
                parent_src: root.src_dir,
                name: root.name,
                parent_dst: root.dst_dir,
                operand: Some(Box::new(OperandNames {
                    dst_name: root.dst_name,
                    display: root.display,
                })),
                follow: root.follow,
                rel: None,
                made: DirMade::No,
            });
            return self.drain();
        }
        let mut src_dir = root.src_dir.clone();
        let mut twin_link = false;
        if let Some(b) = &mut self.bases {
            // A non-directory operand's twin is beside where its copy goes.
            b.operand(root.dest_rel.parent().unwrap_or(Path::new("")));
            for warning in b.enter(Path::new("")) {
                self.progress.warning(&warning);
            }
            if root.name != root.dst_name {
                self.progress.warning(&format!(
                    "warning: {} is copied under another name: not taken from a basis directory",
                    crate::error::quote(&root.display)
                ));
            }
        }
        let dst_fd = match root.dst_dir.state() {
            Some(DstState::Ready { fd, .. }) => Some(fd.as_fd()),
            _ => None,
        };
        // (A dry run's `--relative` operand whose directories would have
        // been made has no destination directory: it is new.)
        if self.sync.enabled && (dst_fd.is_some() || self.sync.dry_run) {
            // A file operand gets the same decision as a file in a tree
            // (`uring-cp --sync big.iso /backup/` copies it only if it changed).
            let dst_stat = dst_fd.and_then(|fd| {
                rustix::fs::statat(fd, root.dst_name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW).ok()
            });
            let existing = dst_stat
                .as_ref()
                .map(|st| FileType::from_raw_mode(st.st_mode));
            let entry = decide::Entry {
                src: &root.src_dir,
                dst: &root.dst_dir,
                listed: dst_fd,
                name: &root.name,
                dst_name: &root.dst_name,
                ft,
                stat: Some(&root.stat),
                dst_stat: dst_stat.as_ref(),
                follow: root.follow,
                existing,
                rel: None,
            };
            match self.decide(entry) {
                decide::Decided::Nothing => return Ok(()),
                decide::Decided::Send { from, twin } => {
                    src_dir = from;
                    twin_link = twin;
                }
            }
        }
        let kind = match ft {
            FileType::RegularFile => Kind::File {
                follow: root.follow,
                as_data: false,
                twin: twin_link,
            },
            FileType::Symlink => {
                match rustix::fs::readlinkat(&root.src_dir.fd, root.name.as_c_str(), Vec::new())
                    .ctx(Op::ReadLink, &root.display)
                {
                    Ok(target) => Kind::Symlink { target },
                    Err(e) => {
                        self.progress.error(&e);
                        return Ok(());
                    }
                }
            }
            // Without -r, cp reads devices and FIFOs (`cp /dev/null f`); with -r it
            // recreates them (unless --copy-contents).
            _ if !self.recursive || self.copies_contents(&root.stat) => Kind::File {
                follow: root.follow,
                as_data: true,
                twin: false,
            },
            _ => list::special(&root.stat),
        };
        let stat = match kind {
            Kind::File { .. } => None,
            _ => Some(Box::new(SrcStat::from_stat(&root.stat))),
        };
        // File operands are shared out like a directory's entries (`cp -r
        // dir/* dest/` names thousands of them; all went to one worker).
        self.count_entry();
        self.send(Item {
            src_dir,
            name: root.name,
            dst_dir: root.dst_dir,
            dst_name: Some(root.dst_name),
            display: Some(root.display),
            kind,
            stat,
        })
    }
}
