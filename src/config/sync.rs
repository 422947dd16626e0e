//! Sync mode's options (`--sync` and rsync's flags that go with it),
//! validated from the command line with no I/O.

use super::{Basis, BasisUse, Reflink, UsageError};
use crate::cli::Args;

/// The sync options, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// `--sync` was given.
    pub enabled: bool,
    /// Compare sizes only (`--size-only`).
    pub size_only: bool,
    /// Same-size files are compared by content (`--checksum`).
    pub checksum: bool,
    /// Seconds two modification times may differ and still count as equal.
    pub modify_window: i64,
    /// Leave every existing destination entry alone (`--ignore-existing`).
    pub ignore_existing: bool,
    /// Make nothing new at the destination (`--existing`).
    pub existing: bool,
    /// Regular files are copied whatever their sizes and times
    /// (`--ignore-times`, unless `--size-only` or `--checksum`).
    pub ignore_times: bool,
    /// Leave destination files that are newer than their source (`-u`).
    pub update: bool,
    /// Remove destination entries missing from the source (`--delete`).
    pub delete: bool,
    /// `--delete-excluded`: excluded destination entries are deleted too.
    pub delete_excluded: bool,
    /// When `--delete` deletes (`--delete-before`, `-during`, `-after`).
    pub delete_when: DeleteWhen,
    /// Stop deleting after this many (`--max-delete`).
    pub max_delete: Option<u64>,
    /// Write changed files in place instead of through a temporary name.
    pub inplace: bool,
    /// One line per change on stdout (`--itemize-changes`).
    pub itemize: bool,
    /// Decide and report, change nothing (`--dry-run`).
    pub dry_run: bool,
    /// `--link-dest`, `--clone-dest`, `--compare-dest`, `--copy-dest`.
    pub basis: Option<Basis>,
    /// `--remove-source-files`: a source name is removed once its entry is
    /// at the destination (see [`crate::sync::remove`]).
    pub remove_source: bool,
}

/// When sync mode's `--delete` deletes, relative to the copying (rsync's
/// `--delete-before`, `--delete-during`, `--delete-after`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeleteWhen {
    /// All of it first, in a pass of its own.
    Before,
    /// Per directory, after its entries are sent.
    #[default]
    During,
    /// Once everything is copied (found during the walk).
    After,
}

impl SyncOptions {
    /// `-I` decides (rsync's `unchanged_file` asks `--checksum`, then
    /// `--size-only`, then `-I`): no regular file counts as unchanged.
    pub fn never_unchanged(&self) -> bool {
        self.ignore_times && !self.size_only && !self.checksum
    }

    /// Regular files are written through a temporary name.
    pub fn temp_files(&self) -> bool {
        self.enabled && !self.inplace
    }
}

/// The sync options of `args`; `reflink` is the validated `--reflink`
/// (`--clone-dest` needs cloning).
pub(super) fn sync_options(args: &Args, reflink: Reflink) -> Result<SyncOptions, UsageError> {
    let basis = Basis::from_args([
        (BasisUse::Link, &args.link_dest),
        (BasisUse::Clone, &args.clone_dest),
        (BasisUse::Compare, &args.compare_dest),
        (BasisUse::Copy, &args.copy_dest),
    ])?;
    if reflink == Reflink::Never && basis.as_ref().is_some_and(|b| b.use_ == BasisUse::Clone) {
        return Err(UsageError(
            "--clone-dest cannot be used with --reflink=never".into(),
        ));
    }
    Ok(SyncOptions {
        enabled: args.sync,
        size_only: args.size_only,
        checksum: args.checksum,
        modify_window: i64::from(args.modify_window),
        // -n keeps existing files in sync mode too.
        ignore_existing: args.ignore_existing || args.no_clobber,
        existing: args.existing,
        ignore_times: args.ignore_times,
        update: args.update,
        delete: args.delete
            || args.delete_excluded
            || args.delete_before
            || args.delete_during
            || args.delete_after,
        delete_excluded: args.delete_excluded,
        delete_when: if args.delete_before {
            DeleteWhen::Before
        } else if args.delete_after {
            DeleteWhen::After
        } else {
            DeleteWhen::During
        },
        max_delete: args.max_delete,
        inplace: args.inplace,
        itemize: args.itemize_changes,
        dry_run: args.dry_run,
        basis,
        remove_source: args.remove_source_files,
    })
}
