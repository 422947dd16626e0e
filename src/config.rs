//! The validated run configuration.
//!
//! [`Config::from_args`] checks the operands and flags and decides the meaning of
//! the command line (which operand is the destination, whether it names a
//! directory to copy into, how symlinks are treated) without touching the
//! filesystem: whether DEST is an existing directory is decided later, in
//! [`crate::plan`], where the I/O happens.

mod backup;
mod basis;
mod preserve;
mod sync;

use crate::cli::{Args, EngineArg, InfoArg, ReflinkArg, RingReads, SparseArg, StatsArg};
use backup::backup;
pub use basis::{Basis, BasisUse, MAX_BASIS_DIRS};
use preserve::preserve;
use std::path::PathBuf;
use sync::sync_options;
pub use sync::{DeleteWhen, SyncOptions};

/// Default cap on data-buffer memory: enough for hundreds of small files or
/// several large-file chunks in flight, small against any RSS budget.
pub const DEFAULT_BUFFER_MEM: u64 = 16 << 20;
/// Smallest buffer memory accepted: one page per in-flight file, a few files.
pub const MIN_BUFFER_MEM: u64 = 64 << 10;

/// When symlinks in the source are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deref {
    /// -P: copy symlinks as symlinks.
    Never,
    /// -H: follow symlinks named on the command line only.
    CommandLine,
    /// -L (and the default without -r): follow every symlink.
    Always,
}

/// What to do when a destination file exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Truncate and rewrite it in place (cp's default: the inode and its mode are kept).
    Replace,
    /// Like Replace, but if it cannot be opened, unlink it and create a new one (-f).
    Force,
    /// Leave it alone (-n).
    Skip,
    /// Replace it only when it is older than the source (-u, cp's meaning:
    /// modification times compared to the nanosecond); otherwise leave it.
    Older,
}

/// How the destination operand is to be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// -t DIR: every source goes into DIR.
    IntoDir(PathBuf),
    /// -T: the single source is copied to exactly DEST.
    Exactly(PathBuf),
    /// Neither: DEST is a directory to copy into if it is one, else the new name
    /// (the latter only with exactly one source).
    Auto(PathBuf),
}

/// Which attributes are preserved (cp's `--preserve` list), and how strictly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preserve {
    pub mode: bool,
    pub ownership: bool,
    pub timestamps: bool,
    pub links: bool,
    pub xattr: bool,
    /// `context` named explicitly: SELinux contexts are not supported, so the
    /// run is refused (as cp does on a kernel without SELinux).
    pub context: bool,
    /// -p, -a or --preserve was given: a failure to preserve mode, ownership
    /// (as root) or times fails the item (cp's `require_preserve`).
    pub required: bool,
    /// xattr named in --preserve: every xattr failure is reported and fails the
    /// item. Under -a alone, xattr failures are silent (cp's `reduce_diagnostics`).
    pub xattr_required: bool,
    /// -a: xattr failures that are not required are not reported at all
    /// (cp's `reduce_diagnostics`); otherwise they are, without failing.
    pub xattr_quiet: bool,
    /// `--no-preserve=mode`: new files get 0666 and directories 0777 under
    /// the umask, not the source's permissions (cp's `explicit_no_preserve_mode`).
    pub no_mode: bool,
}

impl Preserve {
    /// Anything beyond what a plain `cp -r` keeps?
    pub fn any(&self) -> bool {
        self.mode || self.ownership || self.timestamps || self.links || self.xattr
    }
}

/// How backups are named (`--backup=CONTROL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupKind {
    /// NAME + suffix (`simple`, `never`).
    Simple,
    /// NAME.~N~, one more than the highest there (`numbered`, `t`).
    Numbered,
    /// Numbered if NAME already has numbered backups, else simple
    /// (`existing`, `nil`).
    Existing,
}

/// `-b`/`--backup` and `-S`/`--suffix`: an existing destination that would
/// be replaced is kept under a backup name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub kind: BackupKind,
    /// The simple backup suffix: `-S`, else $SIMPLE_BACKUP_SUFFIX, else `~`
    /// (sync mode: `-S`, else `~`, or nothing with `--backup-dir`).
    pub suffix: String,
    /// `--backup-dir`: where backups go instead of beside the original.
    pub dir: Option<BackupDir>,
}

/// `--backup-dir=DIR`: backups keep their path relative to DEST inside DIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupDir {
    /// As given (a relative one is inside DEST).
    pub given: PathBuf,
    /// DEST as given: every destination path starts with it.
    pub dest: PathBuf,
    /// `-o`/`-g`: directories made in DIR take their counterparts' owners.
    pub owners: bool,
}

impl BackupDir {
    /// The backup directory itself: DIR, or DEST/DIR when DIR is relative.
    pub fn root(&self) -> PathBuf {
        Basis::tree_root(&self.given, &self.dest, std::path::Path::new(""))
    }

    /// Where DIR is inside DEST, as plain names below it: a relative DIR of
    /// plain names, or DEST's path (as given, made absolute) and plain
    /// names below it. `None` for a DIR elsewhere (or spelled otherwise).
    pub fn names_below_dest(&self) -> Option<Vec<&std::ffi::OsStr>> {
        let below = match self.given.is_relative() {
            true => self.given.as_path(),
            false => self
                .given
                .strip_prefix(std::path::absolute(&self.dest).ok()?)
                .ok()?,
        };
        let names = below
            .components()
            .map(|c| match c {
                std::path::Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        (!names.is_empty()).then_some(names)
    }

    /// Where DIR is when it is inside DEST (see [`Self::names_below_dest`]):
    /// the path, under DEST as given, of the directory that holds it, and
    /// its name there.
    pub fn place_in_dest(&self) -> Option<(PathBuf, std::ffi::OsString)> {
        let names = self.names_below_dest()?;
        let (name, above) = names.split_last()?;
        let dir = above.iter().fold(self.dest.clone(), |p, n| p.join(n));
        Some((dir, name.to_os_string()))
    }
}

/// -l and -s: make links instead of copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMode {
    /// -l: hard links to the source files.
    Hard,
    /// -s: symbolic links to the source files.
    Symbolic,
}

/// cp's words when --parents has no directory to copy into.
pub const PARENTS_NEED_DIR: &str = "with --parents, the destination must be a directory";

/// When to show the progress bar (`--progress`, `--no-progress`, `-q`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// On a terminal, after a second (`progress::bar::DELAY`), unless `-v`
    /// lists every item.
    Auto,
    /// On a terminal, from the start.
    Always,
    Never,
}

/// `--stats` and `--stats=json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsFormat {
    Text,
    Json,
}

/// `--sparse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sparse {
    Auto,
    Always,
    Never,
}

/// `--reflink`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reflink {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineChoice {
    Auto,
    Uring,
    UringChains,
    Portable,
    Walkers,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub sources: Vec<PathBuf>,
    pub target: Target,
    pub recursive: bool,
    pub deref: Deref,
    pub overwrite: Overwrite,
    pub verbose: bool,
    /// --debug: also say which engine copies.
    pub debug: bool,
    /// `--fsync`: flush the destination filesystems before reporting success.
    pub fsync: bool,
    /// `--verify`: read every copy back past the page cache and compare it.
    pub verify: bool,
    /// --sync and its options.
    pub sync: SyncOptions,
    /// --exclude/--include/--exclude-from, in order.
    pub filters: Vec<crate::filter::Spec>,
    /// When to draw the progress bar.
    pub progress: When,
    /// `--info=progress2` (and not `-q`): progress as plain lines on stderr
    /// instead of the bar.
    pub progress_lines: bool,
    /// `--log-file=FILE`: a record of the run appended to FILE.
    pub log_file: Option<PathBuf>,
    /// `--stats`: print a summary at the end, in this format.
    pub stats: Option<StatsFormat>,
    /// `-q`: no notes on stderr beyond errors.
    pub quiet: bool,
    pub engine: EngineChoice,
    /// The io_uring engine switches to system calls for cached sources.
    pub adaptive_reads: bool,
    pub buffer_mem: u64,
    /// -j: worker threads, when not the engine's default.
    pub jobs: Option<usize>,
    pub preserve: Preserve,
    pub sparse: Sparse,
    pub reflink: Reflink,
    /// --remove-destination: existing destination files are replaced by new
    /// ones, not rewritten in place.
    pub remove_destination: bool,
    /// -x: do not descend into directories on other filesystems.
    pub one_file_system: bool,
    /// --copy-contents: devices and FIFOs inside trees are read as data.
    pub copy_contents: bool,
    /// --attributes-only: no file data, only the attributes preserved.
    pub attributes_only: bool,
    /// -b/--backup: existing destinations that would be replaced are kept.
    pub backup: Option<Backup>,
    /// -i: ask before replacing an existing destination.
    pub interactive: bool,
    /// -l, -s: every non-directory becomes a link to its source.
    pub link: Option<LinkMode>,
    /// --parents: each SOURCE goes to its full name under the target
    /// directory (see [`crate::plan::parents`]).
    pub parents: bool,
    /// --relative: --parents from the `/./` in a SOURCE, if any.
    pub relative: bool,
    /// --files-from=FILE (and whether its names end with NUL): the sources
    /// are the paths listed, inside the one SOURCE (read by `lib::run`).
    pub files_from: Option<(PathBuf, bool)>,
    /// Warnings about the command line, printed before the run (no I/O here).
    pub warnings: Vec<String>,
}

impl Config {
    /// `cp --force --backup F F`: cp copies F to its backup name, written
    /// without a backup of its own (the plan does the renaming; it refuses,
    /// copying nothing, when F is not a regular file).
    pub fn backs_up_onto_itself(&self) -> bool {
        let onto_itself = match (&self.target, self.sources.as_slice()) {
            (Target::Auto(d) | Target::Exactly(d), [only]) => only == d,
            _ => false,
        };
        onto_itself && self.overwrite == Overwrite::Force && self.backup.is_some()
    }

    /// The backups the engines make (none for [`Self::backs_up_onto_itself`]).
    pub fn engine_backup(&self) -> Option<Backup> {
        self.backup.clone().filter(|_| !self.backs_up_onto_itself())
    }
}

/// A command line that cannot be run; reported with exit status 1, as cp.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// `p` without trailing slashes (`/` stays `/`).
fn strip_trailing_slashes(p: &std::path::Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let b = p.as_os_str().as_bytes();
    let end = b
        .iter()
        .rposition(|&c| c != b'/')
        .map_or(b.len().min(1), |i| i + 1);
    PathBuf::from(std::ffi::OsStr::from_bytes(&b[..end]))
}

impl Config {
    pub fn from_args(mut args: Args) -> Result<Config, UsageError> {
        let preserve = preserve(&args)?;
        let backup = backup(
            &args,
            std::env::var("VERSION_CONTROL").ok(),
            std::env::var("SIMPLE_BACKUP_SUFFIX").ok(),
        )?;
        let target_path = args
            .target_directory
            .clone()
            .or_else(|| args.paths.last().map(PathBuf::from))
            .unwrap_or_default();
        let backup = backup.map(|mut b| {
            if let Some(d) = &mut b.dir {
                d.dest = target_path;
                d.owners = preserve.ownership;
            }
            b
        });
        let strip = args.strip_trailing_slashes;
        let mut paths: Vec<PathBuf> = std::mem::take(&mut args.paths)
            .into_iter()
            .map(PathBuf::from)
            .collect();
        if strip {
            // (Of the sources only: DEST is the last operand, or -t's.)
            let n = paths.len() - usize::from(args.target_directory.is_none()).min(paths.len());
            for p in &mut paths[..n] {
                *p = strip_trailing_slashes(p);
            }
        }
        let mut warnings = Vec::new();
        if let Some(Some(_)) = &args.context {
            warnings.push(
                "warning: ignoring --context; it requires an SELinux-enabled kernel".to_string(),
            );
        }
        let target = if let Some(dir) = args.target_directory.take() {
            if paths.is_empty() {
                return Err(UsageError("missing file operand".into()));
            }
            Target::IntoDir(dir)
        } else {
            match paths.len() {
                0 => return Err(UsageError("missing file operand".into())),
                1 => {
                    return Err(UsageError(format!(
                        "missing destination file operand after {}",
                        crate::error::quote(&paths[0])
                    )));
                }
                _ => {}
            }
            let dest = paths.pop().unwrap_or_default();
            if args.no_target_directory {
                if paths.len() > 1 {
                    return Err(UsageError(format!(
                        "extra operand {}",
                        crate::error::quote(&dest)
                    )));
                }
                if args.parents || args.relative || args.files_from.is_some() {
                    return Err(UsageError(PARENTS_NEED_DIR.into()));
                }
                Target::Exactly(dest)
            } else {
                Target::Auto(dest)
            }
        };

        if args.files_from.is_some() && paths.len() != 1 {
            return Err(UsageError(
                "--files-from takes one SOURCE directory, which the listed paths are in".into(),
            ));
        }
        let deref = if args.dereference {
            Deref::Always
        } else if args.deref_command_line {
            Deref::CommandLine
        } else if args.no_dereference
            || args.archive
            || args.no_deref_preserve_links
            || (args.recursive && !args.link)
        {
            // (cp -rl follows symlinks: it links their targets.)
            Deref::Never
        } else {
            // GNU cp: without -r and without -P, symlinks are followed.
            Deref::Always
        };

        let overwrite = if args.no_clobber {
            Overwrite::Skip
        } else if args.update && !args.sync {
            // In sync mode the walker applies -u (rsync's whole seconds).
            Overwrite::Older
        } else if args.force {
            Overwrite::Force
        } else {
            Overwrite::Replace
        };

        let buffer_mem = match &args.buffer_mem {
            None => DEFAULT_BUFFER_MEM,
            Some(s) => parse_size(s)?,
        };

        let sparse = match args.sparse {
            SparseArg::Auto => Sparse::Auto,
            SparseArg::Always => Sparse::Always,
            SparseArg::Never => Sparse::Never,
        };
        let reflink = match args.reflink {
            ReflinkArg::Auto => Reflink::Auto,
            ReflinkArg::Always => Reflink::Always,
            ReflinkArg::Never => Reflink::Never,
        };
        if reflink == Reflink::Always && sparse != Sparse::Auto {
            return Err(UsageError(
                "--reflink can be used only with --sparse=auto".into(),
            ));
        }

        let sync = sync_options(&args, reflink)?;

        // rsync's -q silences --info=progress2 too, whatever the order; -i's
        // questions on stderr must not be cut by a progress line.
        let progress_lines =
            args.info == Some(InfoArg::Progress2) && !args.quiet && !args.interactive;

        Ok(Config {
            sources: paths,
            target,
            // (rsync: with --files-from, -a does not recurse; -r does.)
            recursive: args.recursive || (args.archive && args.files_from.is_none()),
            deref,
            overwrite,
            verbose: args.verbose || args.debug,
            debug: args.debug,
            fsync: args.fsync,
            verify: args.verify,
            remove_destination: args.remove_destination,
            one_file_system: args.one_file_system,
            copy_contents: args.copy_contents,
            attributes_only: args.attributes_only,
            backup,
            interactive: args.interactive,
            link: if args.link {
                Some(LinkMode::Hard)
            } else if args.symbolic_link {
                Some(LinkMode::Symbolic)
            } else {
                None
            },
            parents: args.parents || args.relative || args.files_from.is_some(),
            relative: args.relative || args.files_from.is_some(),
            files_from: args.files_from.map(|f| (f, args.from0)),
            warnings,
            sync,
            filters: args.filters,
            // (-i's questions share stderr with the bar: no bar then; nor
            // with --info=progress2, whose lines take its place.)
            progress: if args.quiet || args.no_progress || args.interactive || progress_lines {
                When::Never
            } else if args.progress {
                When::Always
            } else {
                When::Auto
            },
            progress_lines,
            log_file: args.log_file,
            stats: args.stats.map(|s| match s {
                StatsArg::Text => StatsFormat::Text,
                StatsArg::Json => StatsFormat::Json,
            }),
            quiet: args.quiet,
            engine: match args.engine {
                EngineArg::Auto => EngineChoice::Auto,
                EngineArg::Uring => EngineChoice::Uring,
                EngineArg::UringChains => EngineChoice::UringChains,
                EngineArg::Portable => EngineChoice::Portable,
                EngineArg::Walkers => EngineChoice::Walkers,
            },
            adaptive_reads: args.ring_reads == RingReads::Auto,
            buffer_mem,
            jobs: args.jobs.map(usize::from),
            preserve,
            sparse,
            reflink,
        })
    }
}

/// Parse `16M`, `64K`, `1GiB`, `4096` (binary multiples, as cp/dd users expect).
fn parse_size(s: &str) -> Result<u64, UsageError> {
    let bytes = parse_size::Config::new()
        .with_binary()
        .parse_size(s)
        .map_err(|e| UsageError(format!("invalid --buffer-mem '{s}': {e}")))?;
    if bytes < MIN_BUFFER_MEM {
        return Err(UsageError(format!(
            "invalid --buffer-mem '{s}': must be at least {}K",
            MIN_BUFFER_MEM >> 10
        )));
    }
    if bytes > u32::MAX as u64 {
        return Err(UsageError(format!(
            "invalid --buffer-mem '{s}': must be below 4G"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests;
