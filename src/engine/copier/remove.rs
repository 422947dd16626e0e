//! `--remove-source-files`, the engines' side: a source name is removed
//! right after its entry was made at the destination, if it is still what
//! was copied (see [`crate::sync::remove`]; the walker removes the sources
//! of entries that were up to date already).

use super::FileCopier;
use crate::error::{CopyError, Op};
use crate::sync::remove::{Copied, remove_source};
use crate::tree::{Item, Kind, SrcStat};
use std::os::fd::AsFd;

impl FileCopier {
    /// After `item` was made at the destination from a source whose status
    /// was `sst` (for a symlink or special file: the walker's, if it had one).
    pub(super) fn remove_source(&self, item: &Item, sst: Option<&SrcStat>) {
        if !self.remove_source {
            return;
        }
        let follow = matches!(item.kind, Kind::File { follow: true, .. });
        let copied = match sst {
            Some(st) => Copied {
                dev: st.dev,
                ino: st.ino,
                size: st.size,
                mtime: (st.mtime.0, i64::from(st.mtime.1)),
            },
            // A symlink the walker did not stat: still the one copied if it
            // still points where the copy points.
            None => {
                let Kind::Symlink { target } = &item.kind else {
                    return;
                };
                let dir = item.src_dir.fd.as_fd();
                let same = rustix::fs::readlinkat(dir, &item.name, Vec::new())
                    .is_ok_and(|t| t.as_c_str() == target.as_c_str());
                match rustix::fs::statat(dir, &item.name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if same => Copied::of(&st),
                    _ => return self.changed(item),
                }
            }
        };
        if let Err(e) = remove_source(item.src_dir.fd.as_fd(), &item.name, &copied, follow) {
            self.archive
                .progress
                .error(&CopyError::new(Op::Remove, item.src_path(), e));
        }
    }

    fn changed(&self, item: &Item) {
        let why = std::io::Error::other("it changed after it was copied; left in place");
        self.archive
            .progress
            .error(&CopyError::new(Op::Remove, item.src_path(), why));
    }
}
