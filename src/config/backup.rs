//! `-b`/`--backup[=CONTROL]` and `-S`/`--suffix` into a [`Backup`], as cp's
//! `xget_version` and `set_simple_backup_suffix` decide.

use super::{Backup, BackupDir, BackupKind, UsageError};
use crate::cli::Args;

/// The backup controls and their meanings, in cp's order.
const BACKUP_CONTROLS: [(&str, Option<BackupKind>); 8] = [
    ("none", None),
    ("off", None),
    ("simple", Some(BackupKind::Simple)),
    ("never", Some(BackupKind::Simple)),
    ("existing", Some(BackupKind::Existing)),
    ("nil", Some(BackupKind::Existing)),
    ("numbered", Some(BackupKind::Numbered)),
    ("t", Some(BackupKind::Numbered)),
];

/// -b, --backup[=CONTROL], -S: what cp's `xget_version` and
/// `set_simple_backup_suffix` decide, from the options and the environment
/// ($VERSION_CONTROL, $SIMPLE_BACKUP_SUFFIX) given here.
pub(super) fn backup(
    args: &Args,
    version_control: Option<String>,
    suffix_env: Option<String>,
) -> Result<Option<Backup>, UsageError> {
    if args.backup.is_none() && args.suffix.is_none() && args.backup_dir.is_none() {
        return Ok(None);
    }
    if args.sync {
        return sync_backup(args);
    }
    if args.no_clobber {
        return Err(UsageError(
            "options --backup and --no-clobber are mutually exclusive".into(),
        ));
    }
    let (word, context) = match given_control(args) {
        Some(w) => (Some(w), "backup type"),
        None => (version_control, "$VERSION_CONTROL"),
    };
    let kind = match word.filter(|w| !w.is_empty()) {
        None => Some(BackupKind::Existing),
        Some(w) => backup_control(&w, context)?,
    };
    // A suffix must be a plain name ending (cp: not empty, no slash).
    let suffix = [args.suffix.clone(), suffix_env]
        .into_iter()
        .flatten()
        .next()
        .filter(|s| !s.is_empty() && !s.contains('/'))
        .unwrap_or_else(|| "~".to_string());
    Ok(kind.map(|kind| Backup {
        kind,
        suffix,
        dir: None,
    }))
}

/// The CONTROL given last (`--backup=numbered -b` is numbered, as with cp).
fn given_control(args: &Args) -> Option<String> {
    args.backup.as_ref()?.last().cloned()
}

/// Sync mode's backups are rsync's: simple unless a CONTROL is given (the
/// environment is not read), suffix `~`, or none with `--backup-dir`.
fn sync_backup(args: &Args) -> Result<Option<Backup>, UsageError> {
    let kind = match given_control(args).filter(|w| !w.is_empty()) {
        None => Some(BackupKind::Simple),
        Some(w) => backup_control(&w, "backup type")?,
    };
    let dir = args.backup_dir.clone().map(|given| BackupDir {
        given,
        dest: Default::default(),
        owners: false,
    });
    let suffix = match &args.suffix {
        Some(s) => s.clone(),
        None if dir.is_some() => String::new(),
        None => "~".into(),
    };
    if suffix.contains('/') {
        return Err(UsageError(format!(
            "invalid backup suffix '{suffix}': it may not contain '/'"
        )));
    }
    if suffix.is_empty() && dir.is_none() {
        return Err(UsageError(
            "the backup suffix may be empty only with --backup-dir".into(),
        ));
    }
    Ok(kind.map(|kind| Backup { kind, suffix, dir }))
}

/// One backup control word: exact, or a prefix whose matches all mean the
/// same (cp's argmatch: `nu` is numbered, `n` is ambiguous).
fn backup_control(word: &str, context: &str) -> Result<Option<BackupKind>, UsageError> {
    if let Some((_, k)) = BACKUP_CONTROLS.iter().find(|(w, _)| *w == word) {
        return Ok(*k);
    }
    let matches: Vec<Option<BackupKind>> = BACKUP_CONTROLS
        .iter()
        .filter(|(w, _)| w.starts_with(word))
        .map(|(_, k)| *k)
        .collect();
    if let Some(first) = matches.first()
        && matches.iter().all(|k| k == first)
    {
        return Ok(*first);
    }
    let what = if matches.is_empty() {
        "invalid"
    } else {
        "ambiguous"
    };
    Err(UsageError(format!(
        "{what} argument '{word}' for '{context}'\nValid arguments are:\n  \
         - 'none', 'off'\n  - 'simple', 'never'\n  - 'existing', 'nil'\n  - 'numbered', 't'"
    )))
}
