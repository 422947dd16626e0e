//! Basis directories (`--link-dest`, `--clone-dest`, `--compare-dest`,
//! `--copy-dest`): rsync's options for snapshot backups, checked into one
//! [`Basis`] with no I/O. The walker uses them (`walk/basis.rs`).

use super::UsageError;
use std::path::{Path, PathBuf};

/// What an unchanged twin in a basis directory is used for (rsync's
/// `--link-dest`, `--compare-dest`, `--copy-dest`, and `--clone-dest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasisUse {
    /// Hard-link the destination to it.
    Link,
    /// Clone it (a new inode sharing its blocks).
    Clone,
    /// Leave the file out of the destination.
    Compare,
    /// Copy it (locally) instead of the source.
    Copy,
}

impl BasisUse {
    /// The option's name.
    pub fn flag(self) -> &'static str {
        match self {
            BasisUse::Link => "--link-dest",
            BasisUse::Clone => "--clone-dest",
            BasisUse::Compare => "--compare-dest",
            BasisUse::Copy => "--copy-dest",
        }
    }
}

/// Basis directories: where unchanged twins of source files may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    pub use_: BasisUse,
    /// As given; a relative one is relative to DEST (see `tree_root`).
    pub dirs: Vec<PathBuf>,
}

/// rsync's limit on basis directories.
pub const MAX_BASIS_DIRS: usize = 20;

impl Basis {
    /// The basis directories of the options given, in order, or a usage
    /// error: one kind only (rsync's rule), at most [`MAX_BASIS_DIRS`].
    pub(super) fn from_args(
        kinds: [(BasisUse, &[PathBuf]); 4],
    ) -> Result<Option<Basis>, UsageError> {
        let given: Vec<_> = kinds.into_iter().filter(|(_, d)| !d.is_empty()).collect();
        match given.as_slice() {
            [] => Ok(None),
            [(use_, dirs)] if dirs.len() <= MAX_BASIS_DIRS => Ok(Some(Basis {
                use_: *use_,
                dirs: dirs.to_vec(),
            })),
            [(use_, _)] => Err(UsageError(format!(
                "at most {MAX_BASIS_DIRS} {} directories may be given",
                use_.flag()
            ))),
            [(a, _), (b, _), ..] => Err(UsageError(format!(
                "the {} option conflicts with the {} option",
                b.flag(),
                a.flag()
            ))),
        }
    }

    /// Where `dir` is for a tree whose destination is `under` inside DEST
    /// (`dest`): `dir` itself if absolute, else inside DEST, then `under`.
    pub fn tree_root(dir: &Path, dest: &Path, under: &Path) -> PathBuf {
        let base = match dir.is_absolute() {
            true => dir.to_path_buf(),
            false => dest.join(dir),
        };
        match under.as_os_str().is_empty() {
            true => base,
            false => base.join(under),
        }
    }
}
