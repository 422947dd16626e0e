//! The command line, as clap derive definitions.
//!
//! Parsing does no I/O: it only turns argv into [`Args`]; [`crate::config`]
//! validates that into the [`crate::config::Config`] the rest of the program
//! reads. The man page and shell completions are generated from [`Args`].

pub mod manual;
mod order;
mod values;

pub use order::{PreserveStep, parse, parse_from};
pub use values::{EngineArg, InfoArg, ReflinkArg, RingReads, SparseArg, StatsArg};

use crate::filter::Spec;
use clap::{ArgAction, Parser};
use std::ffi::OsString;
use std::path::PathBuf;

/// Copy files and directory trees, fast: GNU `cp` semantics on an io_uring engine.
#[derive(Debug, Parser)]
#[command(
    name = "uring-cp",
    disable_version_flag = true,
    // GNU's getopt: an unambiguous prefix of a long option is that option
    // (`--rem` for --remove-destination), and a repeated option's last value
    // wins. Where a prefix that is unambiguous in cp is ambiguous here, because
    // of options cp does not have (`--b`: also --buffer-mem), the option has
    // it as an alias (see `tests::gnu_abbreviations_mean_the_same`).
    infer_long_args = true,
    args_override_self = true,
    // Any of the options that delete (for --max-delete).
    group = clap::ArgGroup::new("deleting").multiple(true).args(
        ["delete", "delete_excluded", "delete_before", "delete_during", "delete_after",
         "compare_dest"]),
    override_usage = "uring-cp [OPTIONS] SOURCE DEST\n       \
                      uring-cp [OPTIONS] SOURCE... DIRECTORY\n       \
                      uring-cp [OPTIONS] -t DIRECTORY SOURCE...",
    after_help = "Exit status: 0 if everything was copied, 1 if any file failed \
                  (the rest is still copied) or for a usage error. See `man uring-cp`."
)]
pub struct Args {
    /// Sources, then the destination (unless -t is given).
    #[arg(value_name = "PATH", num_args = 0..)]
    pub paths: Vec<OsString>,

    /// Copy directories recursively.
    #[arg(short = 'r', short_alias = 'R', long, help_heading = "Copy")]
    pub recursive: bool,

    /// Archive: same as -dR --preserve=all (with quieter reports of
    /// attributes the destination cannot hold, as cp -a).
    #[arg(short = 'a', long, help_heading = "Preserve")]
    pub archive: bool,

    /// Same as --no-dereference --preserve=links.
    #[arg(short = 'd', help_heading = "Preserve")]
    pub no_deref_preserve_links: bool,

    /// Same as --preserve=mode,ownership,timestamps.
    #[arg(short = 'p', help_heading = "Preserve")]
    pub preserve_default: bool,

    /// Preserve the listed attributes: mode, ownership, timestamps, links,
    /// context, xattr, all (comma-separated; default: mode,ownership,timestamps).
    #[arg(
        long,
        alias = "pr",
        value_name = "ATTR_LIST",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "mode,ownership,timestamps",
        action = ArgAction::Append,
        help_heading = "Preserve"
    )]
    pub preserve: Vec<String>,

    /// Do not preserve the listed attributes (-a, -p, --preserve and
    /// --no-preserve apply in command-line order: the last one wins).
    #[arg(
        long,
        aliases = ["no-p", "no-pr"],
        value_name = "ATTR_LIST",
        action = ArgAction::Append,
        help_heading = "Preserve"
    )]
    pub no_preserve: Vec<String>,

    /// Control creation of sparse files: auto (a source with holes keeps
    /// them, and its blocks of zeros become holes too, as with cp), always
    /// (every file's blocks of zeros become holes), never.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = SparseArg::Auto, help_heading = "Copy")]
    pub sparse: SparseArg,

    /// Control clone/copy-on-write copies: auto (clone each whole file where
    /// the filesystem can, as on btrfs and xfs within one filesystem, else
    /// copy), always (clone or fail), never. --reflink alone means always.
    #[arg(
        long,
        value_name = "WHEN",
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "always",
        default_value_t = ReflinkArg::Auto,
        help_heading = "Copy"
    )]
    pub reflink: ReflinkArg,

    /// Never follow symbolic links in SOURCE; copy them as links (the default with -r).
    #[arg(short = 'P', long, overrides_with_all = ["dereference", "deref_command_line"], help_heading = "Copy")]
    pub no_dereference: bool,

    /// Always follow symbolic links in SOURCE.
    #[arg(short = 'L', long, aliases = ["d", "de"], overrides_with_all = ["no_dereference", "deref_command_line"], help_heading = "Copy")]
    pub dereference: bool,

    /// Follow symbolic links given on the command line, not those found inside trees.
    #[arg(short = 'H', overrides_with_all = ["no_dereference", "dereference"], help_heading = "Copy")]
    pub deref_command_line: bool,

    /// If an existing destination file cannot be opened, remove it and try again
    /// (-n, when also given, wins, as with cp).
    #[arg(short, long, alias = "f", help_heading = "Copy")]
    pub force: bool,

    /// Do not overwrite an existing file; skip it and go on (-i and -n: the
    /// last one given wins).
    #[arg(short, long, help_heading = "Copy")]
    pub no_clobber: bool,

    /// Ask before replacing an existing destination: the question goes to
    /// stderr, a line starting with `y` or `Y` on stdin answers yes; anything
    /// else keeps the destination. No progress bar is drawn meanwhile.
    #[arg(short, long, aliases = ["i", "in"], help_heading = "Copy")]
    pub interactive: bool,

    /// Keep each existing destination file that would be replaced as a backup:
    /// CONTROL is `simple`/`never` (NAME~), `numbered`/`t` (NAME.~N~),
    /// `existing`/`nil` (numbered if numbered backups exist, else simple), or
    /// `none`/`off`. Default: $VERSION_CONTROL, else existing (with --sync:
    /// simple, as rsync); the last CONTROL given decides. Directories are
    /// merged, not backed up (with --sync, a directory that --delete or a file
    /// would remove is moved aside whole).
    #[arg(
        short = 'b',
        long,
        aliases = ["b", "ba", "bac", "back", "backu"],
        value_name = "CONTROL",
        num_args = 0..=1,
        require_equals = true,
        action = clap::ArgAction::Append,
        conflicts_with = "inplace",
        help_heading = "Backup"
    )]
    // Every CONTROL given, in order: as with cp, the last one decides, and a
    // bare `-b` or `--backup` after it changes nothing.
    pub backup: Option<Vec<String>>,

    /// The suffix of simple backups (default: $SIMPLE_BACKUP_SUFFIX, else ~;
    /// with --sync: ~, or none with --backup-dir); implies --backup.
    #[arg(
        short = 'S',
        long,
        value_name = "SUFFIX",
        conflicts_with = "inplace",
        help_heading = "Backup"
    )]
    pub suffix: Option<String>,

    /// With --sync: backups go into DIR, each at its path relative to DEST
    /// (DIR's directories are made as needed), instead of beside the original;
    /// implies --backup. A relative DIR is inside DEST (rsync's rule), and is
    /// never deleted by --delete. Must be on DEST's filesystem.
    #[arg(
        long,
        value_name = "DIR",
        requires = "sync",
        conflicts_with = "inplace",
        help_heading = "Backup"
    )]
    pub backup_dir: Option<PathBuf>,

    /// Remove each existing destination file before copying to it (it is
    /// replaced by a new file, renamed over it once complete), instead of
    /// rewriting it in place.
    #[arg(long, aliases = ["rem", "remo", "remov", "remove", "remove-"], help_heading = "Copy")]
    pub remove_destination: bool,

    /// Make hard links to the source files instead of copying them
    /// (directories are still created; with -r, symlinks are followed unless
    /// -P or -a is given).
    #[arg(short = 'l', long, aliases = ["l", "li", "lin"],
          conflicts_with_all = ["symbolic_link", "sync"], help_heading = "Copy")]
    pub link: bool,

    /// Make symbolic links to the source files instead of copying them; a
    /// relative SOURCE works only for a destination in the current directory.
    #[arg(
        short = 's',
        long,
        alias = "sy",
        conflicts_with = "sync",
        help_heading = "Copy"
    )]
    pub symbolic_link: bool,

    /// Stay on the filesystem of each SOURCE: a directory on another one (a
    /// mount point) is copied as an empty directory.
    #[arg(short = 'x', long, help_heading = "Copy")]
    pub one_file_system: bool,

    /// With -r, read devices and FIFOs as data (as without -r) instead of
    /// recreating them. A FIFO blocks the copy until something writes it.
    #[arg(long, aliases = ["cop", "copy", "copy-"], help_heading = "Copy")]
    pub copy_contents: bool,

    /// Do not copy file data, only the attributes: a new file is made empty,
    /// an existing one keeps its data.
    #[arg(long, conflicts_with = "sync", help_heading = "Preserve")]
    pub attributes_only: bool,

    /// Use the full source file name under DIRECTORY: `--parents a/b/f DIR`
    /// copies to DIR/a/b/f, making the missing directories DIR/a and DIR/a/b
    /// (with -p, every directory on the way gets its source's attributes).
    #[arg(long, alias = "path", help_heading = "Copy")]
    pub parents: bool,

    /// --parents as rsync's -R says it: each SOURCE goes to its full name
    /// under DEST, from the `/./` in it if there is one (`src/./a/f DEST`
    /// copies to DEST/a/f). (-R is cp's --recursive.)
    #[arg(long, help_heading = "Copy")]
    pub relative: bool,

    /// Copy exactly the paths listed in FILE (one per line; `-` is stdin),
    /// each relative to the one SOURCE directory, to the same path under
    /// DEST, making the directories on the way (implies --relative). As with
    /// rsync, -a does not recurse into a listed directory here (it is made);
    /// -r does.
    #[arg(long, value_name = "FILE", help_heading = "Copy")]
    pub files_from: Option<PathBuf>,

    /// With --files-from: the paths in FILE end with a NUL byte, not a newline.
    #[arg(short = '0', long, requires = "files_from", help_heading = "Copy")]
    pub from0: bool,

    /// Remove trailing slashes from each SOURCE.
    #[arg(long, alias = "st", help_heading = "Copy")]
    pub strip_trailing_slashes: bool,

    /// Replace an existing destination only when it is older than its source
    /// (modification times); with --sync, leave files that are newer at the
    /// destination.
    #[arg(short, long, help_heading = "Copy")]
    pub update: bool,

    /// Copy all SOURCE arguments into DIRECTORY.
    #[arg(short, long, value_name = "DIRECTORY", help_heading = "Copy")]
    pub target_directory: Option<PathBuf>,

    /// Treat DEST as a normal file (or the directory to create), never as a directory to copy into.
    #[arg(
        short = 'T',
        long,
        conflicts_with = "target_directory",
        help_heading = "Copy"
    )]
    pub no_target_directory: bool,

    /// Make DEST an up-to-date mirror: copy only entries that differ (same size
    /// and modification time count as the same), write each changed file to a
    /// temporary name and rename it into place when complete.
    #[arg(long, help_heading = "Sync")]
    pub sync: bool,

    /// With --sync: remove destination entries that are not in SOURCE (in the
    /// directories being synced; excluded ones are kept).
    #[arg(long, requires = "sync", help_heading = "Sync")]
    pub delete: bool,

    /// With --sync: delete everything to be deleted first, in one pass over
    /// the trees, before anything is copied (frees space; implies --delete).
    #[arg(long, requires = "sync", conflicts_with_all = ["delete_during", "delete_after"],
          help_heading = "Sync")]
    pub delete_before: bool,

    /// With --sync: delete in each directory while the run goes (the default;
    /// implies --delete).
    #[arg(
        long,
        alias = "del",
        requires = "sync",
        conflicts_with = "delete_after",
        help_heading = "Sync"
    )]
    pub delete_during: bool,

    /// With --sync: delete only once everything has been copied, so nothing
    /// is gone before its replacement is in place (implies --delete). The
    /// entries are found during the run, as rsync's --delete-delay, which is
    /// accepted too.
    #[arg(long, alias = "delete-delay", requires = "sync", help_heading = "Sync")]
    pub delete_after: bool,

    /// With --sync: also delete destination entries that --exclude matches
    /// (implies --delete; excluded entries are otherwise protected).
    #[arg(long, requires = "sync", help_heading = "Sync")]
    pub delete_excluded: bool,

    /// With --sync: accepted for rsync scripts. A local copy keeps numeric
    /// user and group IDs anyway (as rsync does between two names of one
    /// machine).
    #[arg(long, requires = "sync", help_heading = "Sync")]
    pub numeric_ids: bool,

    /// With --delete: delete at most N entries, each file and directory of a
    /// removed tree counted, as rsync; then stop deleting and say how many
    /// were kept (exit status 25). --compare-dest's removals of files equal to
    /// their twins are not counted (as rsync).
    #[arg(long, value_name = "N", requires = "deleting", help_heading = "Sync")]
    pub max_delete: Option<u64>,

    /// With --sync: modification times at most N seconds apart count as equal
    /// (without it, the same second with other nanoseconds is a change where
    /// both sides keep nanoseconds).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        requires = "sync",
        help_heading = "Sync"
    )]
    pub modify_window: u32,

    /// With --sync: files of the same size count as the same.
    #[arg(long, requires = "sync", help_heading = "Sync")]
    pub size_only: bool,

    /// With --sync: files of the same size are compared by content (both read
    /// in full) instead of by modification time.
    #[arg(
        short = 'c',
        long,
        requires = "sync",
        conflicts_with = "size_only",
        help_heading = "Sync"
    )]
    pub checksum: bool,

    /// Read every copied file back from the disk (its cached pages dropped
    /// after fdatasync) and compare it with its source; a copy that differs is
    /// removed and reported (exit status 1). Also without --sync.
    #[arg(long, conflicts_with_all = ["attributes_only", "link", "symbolic_link", "dry_run"],
          help_heading = "Sync")]
    pub verify: bool,

    /// Make everything written durable on disk before exiting successfully
    /// (one syncfs per destination filesystem at the end; also without --sync).
    #[arg(long, help_heading = "Sync")]
    pub fsync: bool,

    /// With --sync: leave every existing destination entry alone.
    #[arg(long, requires = "sync", help_heading = "Sync")]
    pub ignore_existing: bool,

    /// With --sync: update only what DEST already has; make nothing new
    /// there (no file, symlink or directory; rsync's --existing).
    #[arg(
        long,
        visible_alias = "ignore-non-existing",
        requires = "sync",
        help_heading = "Sync"
    )]
    pub existing: bool,

    /// With --sync: copy every regular file again, even one whose size and
    /// time match (rsync's -I; --size-only and --checksum still decide where
    /// given).
    #[arg(short = 'I', long, requires = "sync", help_heading = "Sync")]
    pub ignore_times: bool,

    /// With --sync: write changed files in place instead of through a temporary name.
    #[arg(long, requires = "sync", help_heading = "Sync")]
    pub inplace: bool,

    /// With --sync: decide and report what would change (see --itemize-changes),
    /// change nothing.
    #[arg(long, requires = "sync", help_heading = "Sync")]
    pub dry_run: bool,

    /// With --sync: print one line per change on stdout: ACTION TYPE DETAILS PATH
    /// (see the man page).
    #[arg(long, requires = "sync", help_heading = "Sync")]
    pub itemize_changes: bool,

    /// With --sync: once a file, symlink or special file is at the destination
    /// (copied, or already up to date), remove it from SOURCE (directories
    /// stay): a move. A source that changed after it was copied is kept.
    #[arg(long, requires = "sync",
          conflicts_with_all = ["link_dest", "clone_dest", "compare_dest", "copy_dest"],
          help_heading = "Sync")]
    pub remove_source_files: bool,

    /// With --sync: a file missing or changed at the destination whose twin in
    /// DIR is unchanged (quick check, same attributes) is hard-linked to that
    /// twin instead of copied (snapshot backups). Relative to DEST; up to 20,
    /// tried in order.
    #[arg(long, value_name = "DIR", action = ArgAction::Append, requires = "sync",
          help_heading = "Sync")]
    pub link_dest: Vec<PathBuf>,

    /// With --sync: like --link-dest, but an unchanged twin is cloned (a new
    /// inode sharing the twin's blocks, FICLONE): snapshots that share space yet
    /// never change together. Needs btrfs or xfs (reflink) under DIR and DEST.
    #[arg(long, value_name = "DIR", action = ArgAction::Append, requires = "sync",
          help_heading = "Sync")]
    pub clone_dest: Vec<PathBuf>,

    /// With --sync: files whose twin in DIR is unchanged are not copied at all
    /// (DEST receives only what differs from DIR). Relative to DEST; up to 20.
    #[arg(long, value_name = "DIR", action = ArgAction::Append, requires = "sync",
          help_heading = "Sync")]
    pub compare_dest: Vec<PathBuf>,

    /// With --sync: files whose twin in DIR is unchanged are copied from that
    /// twin (a local copy) instead of from SOURCE. Relative to DEST; up to 20.
    #[arg(long, value_name = "DIR", action = ArgAction::Append, requires = "sync",
          help_heading = "Sync")]
    pub copy_dest: Vec<PathBuf>,

    /// Leave out entries matching PATTERN (rsync's rules: `*.o`, `cache/`,
    /// `/top-only`, `dir/***`); with --include, the first matching rule wins.
    #[arg(long, value_name = "PATTERN", action = ArgAction::Append, help_heading = "Filter")]
    pub exclude: Vec<String>,

    /// Copy entries matching PATTERN even if a later --exclude matches them.
    #[arg(long, value_name = "PATTERN", action = ArgAction::Append, help_heading = "Filter")]
    pub include: Vec<String>,

    /// Read exclude patterns from FILE (`-` for stdin), one per line; `+ PATTERN`
    /// includes; blank lines and lines starting with # or ; are skipped.
    #[arg(long, value_name = "FILE", action = ArgAction::Append, help_heading = "Filter")]
    pub exclude_from: Vec<PathBuf>,

    /// The filter options above in command-line order (filled by [`parse`]).
    #[arg(skip)]
    pub filters: Vec<Spec>,

    /// -a, -d, -p, --preserve and --no-preserve in command-line order (filled
    /// by [`parse`]): cp applies them one after another, so the last word on
    /// an attribute wins.
    #[arg(skip)]
    pub preserve_steps: Vec<PreserveStep>,

    /// Explain what is being done: one line per copied item, as `cp -v`
    /// (and with --sync --delete, `removed 'X'` per entry deleted).
    #[arg(short, long, help_heading = "Output")]
    pub verbose: bool,

    /// Like -v, and first say which engine copies, with how many workers
    /// (io_uring, or portable and why). cp's per-file lines on copy offload are not printed.
    #[arg(long, help_heading = "Output")]
    pub debug: bool,

    /// Show a progress bar on stderr from the start (by default it appears on a
    /// terminal once a run has lasted a second, unless -v is given).
    #[arg(long, overrides_with_all = ["no_progress", "quiet"], help_heading = "Output")]
    pub progress: bool,

    /// Never show a progress bar.
    #[arg(long, overrides_with_all = ["progress", "quiet"], help_heading = "Output")]
    pub no_progress: bool,

    /// No progress bar and no notes; errors are still reported.
    #[arg(short, long, overrides_with_all = ["progress", "no_progress"], help_heading = "Output")]
    pub quiet: bool,

    /// Print the whole run's progress on stderr as plain lines, for logs: one
    /// a second and a last one at the end, each `BYTES PERCENT RATE ELAPSED
    /// (files DONE/FOUND, ETA)`, the percentage of files found (not bytes).
    /// No escape codes or carriage returns, terminal or not; it replaces the
    /// progress bar, and -q turns it off. rsync's spelling: only `progress2`.
    #[arg(long, value_enum, value_name = "FLAGS", help_heading = "Output")]
    pub info: Option<InfoArg>,

    /// Append a record of the run to FILE (created if missing): a line per
    /// change (with --sync the --itemize-changes lines, otherwise -v's lines),
    /// every message printed on stderr, and a summary, each line prefixed
    /// with `YYYY/MM/DD HH:MM:SS [PID]` (local time) as rsync's. Needs
    /// neither -v nor --itemize-changes. If FILE cannot be opened, nothing is
    /// copied (exit status 1).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub log_file: Option<PathBuf>,

    /// Print a summary at the end: counts, bytes, time, throughput, engine and
    /// io_uring use; `--stats=json` prints it as one JSON object on stdout.
    #[arg(long, value_enum, value_name = "FORMAT", num_args = 0..=1, require_equals = true,
          default_missing_value = "text", help_heading = "Output")]
    pub stats: Option<StatsArg>,

    /// Which copy engine to use: io_uring if it works here (auto), or force one.
    #[arg(long, value_enum, default_value_t = EngineArg::Auto, help_heading = "Engine")]
    pub engine: EngineArg,

    /// How the io_uring engine reads sources: `always` keeps every read on the
    /// ring; `auto` switches a worker to plain system calls while its sources
    /// come from the page cache and back to the ring when they come from
    /// storage (measured no faster on real trees, so not the default)
    #[arg(long, value_enum, default_value_t = RingReads::Always, value_name = "WHEN", help_heading = "Engine")]
    pub ring_reads: RingReads,

    /// Worker threads of the engines (uring-chains: rings, each on its own
    /// thread): fewer for a spinning disk, more for a network filesystem
    /// [default: two per CPU, at most 16; one per CPU for walkers (a copy
    /// within one xfs filesystem, where files are cloned, or of cached
    /// sources); one walker within one btrfs filesystem; no more than the
    /// files named when there is no tree to copy]
    #[arg(short = 'j', long, value_name = "N", help_heading = "Engine",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,

    /// Cap on memory for file data buffers, e.g. 16M, 64K [default: 16M].
    #[arg(long, value_name = "SIZE", help_heading = "Engine")]
    pub buffer_mem: Option<String>,

    /// SELinux security contexts are not supported: -Z is ignored, and
    /// --context=CTX is ignored with a warning, as cp does without SELinux.
    #[arg(
        short = 'Z',
        long,
        value_name = "CTX",
        num_args = 0..=1,
        require_equals = true,
        help_heading = "Preserve"
    )]
    pub context: Option<Option<String>>,

    /// Print version information and whether io_uring works on this machine.
    #[arg(short = 'V', long, action = ArgAction::SetTrue)]
    pub version: bool,
}

#[cfg(test)]
mod tests;
