//! The validated run configuration.
//!
//! [`Config::from_args`] checks the operands and flags and decides the meaning of
//! the command line (which operand is the destination, whether it names a
//! directory to copy into, how symlinks are treated) without touching the
//! filesystem: whether DEST is an existing directory is decided later, in
//! [`crate::plan`], where the I/O happens.

use crate::cli::{Args, EngineArg, RingReads, StatsArg};
use crate::progress::bar::When;
use crate::progress::summary;
use std::path::PathBuf;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineChoice {
    Auto,
    Uring,
    UringChains,
    Portable,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub sources: Vec<PathBuf>,
    pub target: Target,
    pub recursive: bool,
    pub deref: Deref,
    pub overwrite: Overwrite,
    pub verbose: bool,
    /// --exclude/--include/--exclude-from, in order.
    pub filters: Vec<crate::filter::Spec>,
    /// When to draw the progress bar.
    pub progress: When,
    /// `--stats`: print a summary at the end, in this format.
    pub stats: Option<summary::Format>,
    /// `-q`: no notes on stderr beyond errors.
    pub quiet: bool,
    pub engine: EngineChoice,
    /// The io_uring engine switches to system calls for cached sources.
    pub adaptive_reads: bool,
    pub buffer_mem: u64,
}

/// A command line that cannot be run; reported with exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl Config {
    pub fn from_args(args: Args) -> Result<Config, UsageError> {
        let mut paths: Vec<PathBuf> = args.paths.into_iter().map(PathBuf::from).collect();
        let target = if let Some(dir) = args.target_directory {
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
                Target::Exactly(dest)
            } else {
                Target::Auto(dest)
            }
        };

        let deref = if args.dereference {
            Deref::Always
        } else if args.deref_command_line {
            Deref::CommandLine
        } else if args.no_dereference || args.recursive {
            Deref::Never
        } else {
            // GNU cp: without -r and without -P, symlinks are followed.
            Deref::Always
        };

        let overwrite = if args.no_clobber {
            Overwrite::Skip
        } else if args.force {
            Overwrite::Force
        } else {
            Overwrite::Replace
        };

        let buffer_mem = match &args.buffer_mem {
            None => DEFAULT_BUFFER_MEM,
            Some(s) => parse_size(s)?,
        };

        Ok(Config {
            sources: paths,
            target,
            recursive: args.recursive,
            deref,
            overwrite,
            verbose: args.verbose,
            filters: args.filters,
            progress: if args.quiet || args.no_progress {
                When::Never
            } else if args.progress {
                When::Always
            } else {
                When::Auto
            },
            stats: args.stats.map(|s| match s {
                StatsArg::Text => summary::Format::Text,
                StatsArg::Json => summary::Format::Json,
            }),
            quiet: args.quiet,
            engine: match args.engine {
                EngineArg::Auto => EngineChoice::Auto,
                EngineArg::Uring => EngineChoice::Uring,
                EngineArg::UringChains => EngineChoice::UringChains,
                EngineArg::Portable => EngineChoice::Portable,
            },
            adaptive_reads: args.ring_reads == RingReads::Auto,
            buffer_mem,
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
mod tests {
    use super::*;
    use clap::Parser;

    fn cfg(argv: &[&str]) -> Result<Config, UsageError> {
        let mut v = vec!["uring-cp"];
        v.extend_from_slice(argv);
        Config::from_args(Args::try_parse_from(v).expect("argv parses"))
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16M").unwrap(), 16 << 20);
        assert_eq!(parse_size("64K").unwrap(), 64 << 10);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert!(parse_size("1K").is_err());
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn deref_defaults_follow_cp() {
        assert_eq!(cfg(&["a", "b"]).unwrap().deref, Deref::Always);
        assert_eq!(cfg(&["-r", "a", "b"]).unwrap().deref, Deref::Never);
        assert_eq!(cfg(&["-rL", "a", "b"]).unwrap().deref, Deref::Always);
        assert_eq!(cfg(&["-rH", "a", "b"]).unwrap().deref, Deref::CommandLine);
        assert_eq!(cfg(&["-LP", "a", "b"]).unwrap().deref, Deref::Never);
    }

    #[test]
    fn operands() {
        assert!(cfg(&[]).is_err());
        assert!(cfg(&["a"]).is_err());
        assert!(cfg(&["-T", "a", "b", "c"]).is_err());
        let c = cfg(&["a", "b", "c"]).unwrap();
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.target, Target::Auto("c".into()));
        let c = cfg(&["-t", "d", "a", "b"]).unwrap();
        assert_eq!(c.target, Target::IntoDir("d".into()));
        assert_eq!(c.sources.len(), 2);
    }

    #[test]
    fn clobber_flags_last_wins() {
        assert_eq!(cfg(&["-fn", "a", "b"]).unwrap().overwrite, Overwrite::Skip);
        assert_eq!(cfg(&["-nf", "a", "b"]).unwrap().overwrite, Overwrite::Force);
    }
}
