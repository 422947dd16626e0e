//! The values of the options that take one of a few words (`--engine`,
//! `--reflink`, ...): each variant's doc comment is its line in `--help`
//! and the man page.

use clap::ValueEnum;

/// The `--stats` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsArg {
    /// Lines for people.
    Text,
    /// One JSON object for scripts.
    Json,
}

/// The `--info` values (rsync has many; this one only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InfoArg {
    /// The whole run's progress as plain lines on stderr.
    Progress2,
}

/// The `--ring-reads` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RingReads {
    /// Ring reads while the sources come from storage, system calls while cached.
    Auto,
    /// Every source read through the ring.
    Always,
}

/// The `--engine` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// walkers for a copy within one btrfs or xfs filesystem (every file
    /// is cloned) and for sources in the page cache (a look at up to 8
    /// files first); for sources that are not, uring-chains for a plain
    /// copy (nothing preserved beyond -r), else uring; in sync mode uring;
    /// portable where io_uring cannot be used.
    Auto,
    /// The io_uring engine (sources read through rings, destinations written
    /// by worker threads); fail if io_uring cannot be used.
    Uring,
    /// Every step through a ring as linked chains, one ring per worker:
    /// fewest system calls, slower on ext4 warm, fastest cold; fail if
    /// io_uring cannot be used.
    UringChains,
    /// Ordinary system calls from a small thread pool.
    Portable,
    /// Ordinary system calls from walkers that each take whole directories
    /// and create what they list (no queues): what auto runs for a copy
    /// within one btrfs or xfs filesystem, where every file is cloned, and
    /// for sources in the page cache. (In sync mode one walker decides,
    /// and it runs as portable.)
    Walkers,
}

/// The `--sparse` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SparseArg {
    /// A source with holes (SEEK_DATA/SEEK_HOLE) keeps them, and its 4 KiB
    /// blocks of zeros become holes too; a source without holes is copied
    /// as it is.
    Auto,
    /// Every file's 4 KiB blocks of zeros become holes.
    Always,
    /// Write every byte; the copy has no holes.
    Never,
}

/// The `--reflink` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReflinkArg {
    /// Share the source's blocks where the filesystem can (through
    /// copy_file_range), else copy.
    Auto,
    /// Clone every file (FICLONE); fail for a file that cannot be cloned.
    Always,
    /// Never share blocks: copy every byte (no copy_file_range).
    Never,
}
