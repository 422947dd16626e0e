//! Sync mode's decision for one source entry, the same for the entries of
//! a directory being walked and for a non-directory operand: the quick check
//! against the destination ([`Walker::sync_entry`]), the basis directories
//! (`--link-dest` and the like, `basis.rs`), and the `--itemize-changes`
//! line. One place, so an operand and a file in a tree cannot drift apart.

use super::Walker;
use super::basis::{Candidate, Twin};
use super::sync::Step;
use crate::tree::{DstDir, DstState, SrcDir, join};
use rustix::fs::{FileType, Stat};
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

/// A source entry for sync mode to decide about (see [`Walker::decide`]).
pub(super) struct Entry<'a> {
    pub src: &'a Arc<SrcDir>,
    /// The destination directory.
    pub dst: &'a Arc<DstDir>,
    /// It, open, if it was there before the run (its entries can be there).
    pub listed: Option<BorrowedFd<'a>>,
    pub name: &'a CStr,
    /// The destination's name (the source's, but for operands).
    pub dst_name: &'a CStr,
    pub ft: FileType,
    /// The source's status, if the walk has it.
    pub stat: Option<&'a Stat>,
    /// The destination's, if the walk has it (see `statahead.rs`).
    pub dst_stat: Option<&'a Stat>,
    pub follow: bool,
    /// The type of the destination entry of that name, if there is one.
    pub existing: Option<FileType>,
    /// Its path inside the operand, where the walk has it (a filter).
    pub rel: Option<&'a std::path::Path>,
}

/// What sync mode decided for an [`Entry`].
pub(super) enum Decided {
    /// Nothing to send: up to date, left alone, or done here (linked, left
    /// out by `--compare-dest`).
    Nothing,
    /// Send it, from `from` (the source directory, or a basis directory's);
    /// hard-linked to the twin there if `twin`.
    Send { from: Arc<SrcDir>, twin: bool },
}

impl Walker {
    /// Sync mode's decision for one entry, for the walk of a directory and
    /// for a non-directory operand alike: the quick check against the
    /// destination, then the basis directories (`--link-dest`...), then what
    /// `--itemize-changes` says of it.
    pub(super) fn decide(&mut self, e: Entry<'_>) -> Decided {
        let Entry {
            src,
            dst,
            listed,
            name,
            dst_name,
            ft,
            stat,
            dst_stat,
            follow,
            existing,
            rel,
        } = e;
        // (Named only where it is said: not on the path of every entry.)
        let path = match self.sync.itemize || self.bases.is_some() {
            true => join(&dst.path, dst_name),
            false => std::path::PathBuf::new(),
        };
        let dst_dir_fd = match dst.state() {
            Some(DstState::Ready { fd, .. }) => Some(fd.as_fd()),
            _ => None,
        };
        // A twin has the source's name (an operand copied to another name
        // has none).
        let bases = self.bases.is_some() && name == dst_name;
        let candidate = |exists, changes| Candidate {
            src_dir: src.fd.as_fd(),
            name,
            ft,
            stat,
            dst: dst_dir_fd,
            dst_dir: dst,
            dst_path: &path,
            exists,
            changes,
        };
        // An existing regular file under --link-dest or --compare-dest looks
        // for a twin first (see `Walker::twin_first`); anything else only
        // once it is to be written.
        let mut twin = Twin::None;
        let mut looked = !bases;
        if let (true, Some(dfd), Some(dft)) = (bases, listed, existing)
            && self.twin_first(ft, dft)
            && !self.kept_whatever_twins(src.fd.as_fd(), name, stat, dfd, dst_name, dst_stat)
        {
            looked = true;
            twin = self.use_twin(candidate(true, "-"));
        }
        let mut line = None;
        if let Twin::None = twin {
            line = match (listed, existing) {
                (Some(dfd), Some(dft)) => {
                    let step = self.sync_entry(
                        src.fd.as_fd(),
                        &src.path,
                        dst,
                        dfd,
                        name,
                        dst_name,
                        ft,
                        dft,
                        (stat, dst_stat),
                        (follow, rel),
                    );
                    match step {
                        Step::Skip => return Decided::Nothing,
                        Step::Same(st) => {
                            self.remove_source(src, name, &st, follow);
                            return Decided::Nothing;
                        }
                        Step::Send(line) => line,
                    }
                }
                // --existing: nothing new is made (nor anything below a
                // directory not there).
                _ if self.sync.existing => return Decided::Nothing,
                _ => Some(("new", "-".to_string())),
            };
            if !looked {
                let changes = line.as_ref().map_or("-", |l| l.1.as_str());
                twin = self.use_twin(candidate(existing.is_some(), changes));
            }
        }
        match twin {
            Twin::Done => Decided::Nothing,
            Twin::CopyFrom(dir) => Decided::Send {
                from: dir,
                twin: false,
            },
            Twin::LinkFrom(dir) => Decided::Send {
                from: dir,
                twin: true,
            },
            Twin::None => {
                if let Some((action, details)) = &line {
                    self.itemize(action, ft, details, &path);
                    if let Some(dfd) = listed {
                        self.dry_run_backup(dfd, &dst.path, dst_name, (action, details));
                    }
                }
                Decided::Send {
                    from: src.clone(),
                    twin: false,
                }
            }
        }
    }
}
