//! Sync mode (`--sync`): make DEST an up-to-date copy of SOURCE, writing only
//! what differs, never leaving a broken file under its final name.
//!
//! The walker decides per entry, where it already lists both sides: in a
//! destination directory this run did not create, it lists the destination
//! once (getdents), and for a name present on both sides it stats both and
//! applies rsync's quick check (same size and the same modification time, in
//! whole seconds, `--modify-window` apart at most; or `--size-only`), made
//! stricter where both sides keep nanoseconds ([`mtimes_differ`]). An
//! unchanged entry is not sent to the engine at all, so a re-sync of an
//! unchanged tree is pure metadata work: one listing per directory and two
//! stats per entry, with no file opened. What differs is sent as a normal
//! item; in sync mode every regular file is written to a temporary name in
//! its directory ([`temp_name`]) and renamed over the old one only when its
//! data and attributes are complete (`--inplace` writes in place instead).
//! Temporaries left by a killed run are removed when their directory is
//! listed next time; an interrupted run removes its own.
//!
//! `--delete` removes destination entries that are not in the source, in the
//! directories being synced only, never those the filter excludes (as rsync),
//! and not at all in a directory whose source listing failed; `--max-delete=N`
//! stops after N.

pub mod durable;
pub mod remove;

use rustix::fd::BorrowedFd;
use rustix::fs::{FileType, Stat};
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub use crate::config::SyncOptions;

/// What differs between a source entry and the destination entry of the
/// same name.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    pub size: bool,
    /// The contents differ (found by `--checksum`).
    pub content: bool,
    pub time: bool,
    pub perms: bool,
    pub owner: bool,
    pub xattrs: bool,
}

impl Changes {
    pub fn any(&self) -> bool {
        self.size || self.content || self.time || self.perms || self.owner || self.xattrs
    }

    /// `size,time` (the order is fixed), or `-` for nothing.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = [
            (self.size, "size"),
            (self.content, "content"),
            (self.time, "time"),
            (self.perms, "perms"),
            (self.owner, "owner"),
            (self.xattrs, "xattrs"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        if names.is_empty() {
            "-".into()
        } else {
            names.join(",")
        }
    }
}

/// What to do with a source entry whose name exists at the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Leave the data; fix these attributes (none: leave it entirely).
    Keep(Changes),
    /// Write it again: its content differs (by the quick check).
    Update(Changes),
    /// `--checksum`: the sizes are equal, the contents must be compared;
    /// `time` tells whether the modification times differ.
    Compare { time: bool },
    /// The destination is of another type: remove it, then create.
    Replace,
}

/// Which attributes a kept entry must match (what the run preserves).
#[derive(Debug, Clone, Copy, Default)]
pub struct Kept {
    pub perms: bool,
    pub owner: bool,
    /// Timestamps (only ever fixed under `--checksum`, where equal contents
    /// may have other times).
    pub times: bool,
}

/// Are two modification times different, for the quick check? rsync's rule:
/// whole seconds, more than `window` apart. Stricter than rsync where it can
/// be: with no window, the same second with other nanoseconds differs when
/// both sides keep nanoseconds (neither is 0), unless the destination's is
/// the source's cut to a coarser granularity (below it by less than
/// [`CUT_NS`]: exFAT keeps 10 ms, NTFS and SMB 100 ns), so mirrors on such
/// filesystems are not copied again on every run. Found by the 1%-changed
/// sync benchmark on a faster host: a file rewritten at the same size within
/// the second it was last synced kept its old bytes in the mirror (as rsync
/// keeps them, unless `--modify-window=-1`). A side without nanoseconds (FAT,
/// ext3, a copy by a tool that drops them) still compares whole seconds.
pub fn mtimes_differ(src: &Stat, dst: &Stat, window: i64) -> bool {
    let apart = (src.st_mtime - dst.st_mtime).abs();
    if window > 0 || apart > 0 {
        return apart > window;
    }
    // The same second and no window: the nanoseconds, where both keep them.
    let (s, d) = (src.st_mtime_nsec as i64, dst.st_mtime_nsec as i64);
    s != 0 && d != 0 && (d > s || s - d >= CUT_NS)
}

/// The coarsest sub-second timestamp granularity of a filesystem that keeps
/// one (exFAT: 10 ms): a destination time below the source's by less than
/// this, in the same second, is taken as the source's time cut to it.
pub const CUT_NS: i64 = 10_000_000;

/// `-u`: is the destination file newer than its source, so left entirely
/// as it is (no attribute of it set either, as rsync)? In whole seconds;
/// with `--modify-window=N` (N > 0), rsync 3.4 and later's rule: the
/// source must be newer by N seconds or more to replace the file, so a
/// destination with the same time, or up to N-1 seconds older, is kept
/// whatever its size (rsync 3.2's rule, and its manual, replaced a file of
/// the same time and another size). When unsure, -u keeps.
pub fn newer_kept(src: &Stat, dst: &Stat, o: &SyncOptions) -> bool {
    o.update && src.st_mtime - dst.st_mtime < o.modify_window.max(0)
}

/// The quick check for two regular files (rsync's).
pub fn decide_file(src: &Stat, dst: &Stat, o: &SyncOptions, kept: Kept) -> Decision {
    if FileType::from_raw_mode(dst.st_mode) != FileType::RegularFile {
        return Decision::Replace;
    }
    if o.ignore_existing || newer_kept(src, dst, o) {
        return Decision::Keep(Changes::default());
    }
    let time = mtimes_differ(src, dst, o.modify_window);
    let differs = Changes {
        size: src.st_size != dst.st_size,
        time: !o.size_only && time,
        ..Changes::default()
    };
    if o.checksum && !differs.size {
        return Decision::Compare { time };
    }
    if differs.size || differs.time || o.never_unchanged() {
        return Decision::Update(differs);
    }
    // --size-only keeps the data of a file whose time differs, and sets the
    // time, as rsync does (and as for --checksum's equal contents).
    Decision::Keep(Changes {
        time: time && kept.times,
        ..attrs(src, dst, kept)
    })
}

/// Attributes of an entry kept as it is that differ from its source's.
pub fn attrs(src: &Stat, dst: &Stat, kept: Kept) -> Changes {
    Changes {
        perms: kept.perms && (src.st_mode & 0o7777) != (dst.st_mode & 0o7777),
        owner: kept.owner && (src.st_uid, src.st_gid) != (dst.st_uid, dst.st_gid),
        ..Changes::default()
    }
}

/// `--checksum`: do the two open files, each `size` bytes long by their
/// status, hold the same bytes? Reads both in step and stops at the first
/// difference (a byte comparison: there is no remote side to send digests
/// to, so hashing would only add work). `Err((true, e))`: reading the source
/// failed; `Err((false, e))`: the destination.
pub fn same_content(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    size: u64,
) -> Result<bool, (bool, std::io::Error)> {
    const CHUNK: usize = 256 * 1024;
    let len = usize::try_from(size).unwrap_or(CHUNK).clamp(1, CHUNK);
    let (mut a, mut b) = (vec![0u8; len], vec![0u8; len]);
    let mut off = 0u64;
    loop {
        let n = read_full(src, &mut a, off).map_err(|e| (true, e))?;
        let m = read_full(dst, &mut b, off).map_err(|e| (false, e))?;
        if n != m || a[..n] != b[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true); // both at EOF together
        }
        off += n as u64;
    }
}

/// Read at `off` until `buf` is full or EOF.
pub fn read_full(fd: BorrowedFd<'_>, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::pread(fd, &mut buf[got..], off + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(got)
}

/// Can the source's extended attributes differ from the destination's? Only
/// if its status changed (ctime) after the destination's last did, or in the
/// same clock tick (timestamps are coarse): the destination's ctime is when
/// this tool last wrote or fixed it. So an unchanged re-sync lists no
/// attributes at all. Except when the destination's status changed during
/// this run (`run_start`, a second early for coarse clocks): this run may
/// have linked or unlinked another name of it (`--delete`, `-H`), which sets
/// its ctime without fixing its attributes.
#[allow(clippy::unnecessary_cast)] // the field types differ between architectures
pub fn xattrs_may_differ(src: &Stat, dst: &Stat, run_start: (i64, i64)) -> bool {
    let dst_ctime = (dst.st_ctime as i64, dst.st_ctime_nsec as i64);
    (src.st_ctime as i64, src.st_ctime_nsec as i64) >= dst_ctime || dst_ctime >= run_start
}

/// A time just before now, for [`xattrs_may_differ`]'s `run_start`.
pub fn run_start() -> (i64, i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_secs() as i64 - 1, i64::from(now.subsec_nanos()))
}

/// Temporary names start with this; a listing in sync mode removes the ones
/// runs that are no longer alive left (see [`is_stale_temp`]).
pub const TEMP_PREFIX: &[u8] = b".~ucp.";

/// The process ID in `name` if it is one of our temporary names,
/// `.~ucp.NAME.PID-N` ([`temp_name`]).
pub fn temp_pid(name: &[u8]) -> Option<u32> {
    let rest = name.strip_prefix(TEMP_PREFIX)?;
    let dot = rest.iter().rposition(|&b| b == b'.')?;
    let (pid, n) = std::str::from_utf8(&rest[dot + 1..])
        .ok()?
        .split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(pid) && digits(n))
        .then(|| pid.parse().ok())
        .flatten()
}

/// Is `name` a temporary file that a run which is no longer alive left (a
/// run that was killed)? Never one of a run still going (this one, or a
/// concurrent one into the same tree), and never a name our scheme cannot
/// produce. The caller also keeps a name the source has.
pub fn is_stale_temp(name: &[u8]) -> bool {
    temp_pid(name).is_some_and(|pid| {
        let alive = match rustix::process::Pid::from_raw(pid as i32) {
            // kill(pid, 0): ESRCH is the only answer that means "no such process".
            Some(p) => rustix::process::test_kill_process(p) != Err(rustix::io::Errno::SRCH),
            None => true,
        };
        pid != std::process::id() && !alive
    })
}

/// A fresh temporary name in the same directory as `name`:
/// `.~ucp.NAME.PID-N`, with NAME shortened to keep it within NAME_MAX.
pub fn temp_name(name: &CStr) -> CString {
    static N: AtomicU64 = AtomicU64::new(0);
    let suffix = format!(".{}-{}", std::process::id(), N.fetch_add(1, Relaxed));
    let room = 255 - TEMP_PREFIX.len() - suffix.len();
    let base = name.to_bytes();
    let mut v = Vec::with_capacity(255);
    v.extend_from_slice(TEMP_PREFIX);
    v.extend_from_slice(&base[..base.len().min(room)]);
    v.extend_from_slice(suffix.as_bytes());
    // No NUL: `name` had none, the rest is ASCII.
    CString::new(v).unwrap_or_default()
}

/// Make `name` in `dir` a hard link of `from_name` in `from_dir`, replacing
/// whatever is there in one step: a link under a temporary name, renamed
/// over `name` (removed again if the rename fails). At every moment `name`
/// is the old entry or the new link.
pub fn link_over<P: rustix::path::Arg>(
    from_dir: BorrowedFd<'_>,
    from_name: P,
    dir: BorrowedFd<'_>,
    name: &CStr,
) -> Result<(), rustix::io::Errno> {
    use rustix::fs::AtFlags;
    let temp = temp_name(name);
    rustix::fs::linkat(from_dir, from_name, dir, temp.as_c_str(), AtFlags::empty())?;
    rustix::fs::renameat(dir, temp.as_c_str(), dir, name).inspect_err(|_| {
        let _ = rustix::fs::unlinkat(dir, temp.as_c_str(), AtFlags::empty());
    })
}

/// One `--itemize-changes` line: `ACTION TYPE DETAILS PATH`.
pub fn itemize_line(action: &str, ft: FileType, details: &str, path: &std::path::Path) -> String {
    let (kind, path) = (type_word(ft), crate::error::quote(path));
    format!("{action} {kind} {details} {path}")
}

/// The single-letter-free, script-friendly type word of `--itemize-changes`.
pub fn type_word(ft: FileType) -> &'static str {
    match ft {
        FileType::RegularFile => "file",
        FileType::Directory => "dir",
        FileType::Symlink => "symlink",
        _ => "special",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(mode: u32, size: i64, mtime: i64) -> Stat {
        // SAFETY: Stat is plain integers; all-zero is valid.
        let mut st: Stat = unsafe { std::mem::zeroed() };
        st.st_mode = mode;
        st.st_size = size;
        st.st_mtime = mtime;
        st
    }

    fn stat_ns(mtime: i64, ns: i64) -> Stat {
        let mut st = stat(F, 10, mtime);
        st.st_mtime_nsec = ns as _;
        st
    }

    #[test]
    fn nanoseconds_count_where_both_sides_keep_them() {
        let o = SyncOptions {
            enabled: true,
            ..SyncOptions::default()
        };
        let k = Kept::default();
        // The same second, other nanoseconds: changed.
        let Decision::Update(c) = decide_file(&stat_ns(100, 5), &stat_ns(100, 7), &o, k) else {
            panic!("nanoseconds differ")
        };
        assert_eq!(c.describe(), "time");
        // Equal to the nanosecond: kept.
        assert!(matches!(
            decide_file(&stat_ns(100, 5), &stat_ns(100, 5), &o, k),
            Decision::Keep(_)
        ));
        // The destination's cut to 100 ns (NTFS) or 10 ms (exFAT): the same.
        for cut in [123_456_700, 120_000_000] {
            let same = decide_file(&stat_ns(100, 123_456_789), &stat_ns(100, cut), &o, k);
            assert!(matches!(same, Decision::Keep(_)), "{cut}");
        }
        for other in [100_000_000, 123_456_790] {
            let changed = decide_file(&stat_ns(100, 123_456_789), &stat_ns(100, other), &o, k);
            assert!(matches!(changed, Decision::Update(_)), "{other}");
        }
        // A side without nanoseconds (0): whole seconds, as rsync.
        for (a, b) in [
            (stat_ns(100, 5), stat_ns(100, 0)),
            (stat_ns(100, 0), stat_ns(100, 5)),
        ] {
            assert!(matches!(decide_file(&a, &b, &o, k), Decision::Keep(_)));
        }
        // A window means whole seconds.
        let o1 = SyncOptions {
            modify_window: 1,
            ..o.clone()
        };
        assert!(matches!(
            decide_file(&stat_ns(100, 5), &stat_ns(100, 7), &o1, k),
            Decision::Keep(_)
        ));
    }

    const F: u32 = libc::S_IFREG | 0o644;

    #[test]
    fn quick_check_is_size_and_whole_seconds() {
        let o = SyncOptions {
            enabled: true,
            ..SyncOptions::default()
        };
        let k = Kept::default();
        let same = decide_file(&stat(F, 10, 100), &stat(F, 10, 100), &o, k);
        assert_eq!(same, Decision::Keep(Changes::default()));
        let Decision::Update(c) = decide_file(&stat(F, 10, 100), &stat(F, 11, 100), &o, k) else {
            panic!("size differs")
        };
        assert_eq!(c.describe(), "size");
        let Decision::Update(c) = decide_file(&stat(F, 10, 100), &stat(F, 10, 101), &o, k) else {
            panic!("time differs")
        };
        assert_eq!(c.describe(), "time");
        let o2 = SyncOptions {
            modify_window: 1,
            ..o.clone()
        };
        assert!(matches!(
            decide_file(&stat(F, 10, 100), &stat(F, 10, 101), &o2, k),
            Decision::Keep(_)
        ));
        let o3 = SyncOptions {
            size_only: true,
            ..o.clone()
        };
        assert!(matches!(
            decide_file(&stat(F, 10, 100), &stat(F, 10, 999), &o3, k),
            Decision::Keep(_)
        ));
    }

    #[test]
    fn update_with_a_window_keeps_equal_and_slightly_older_times() {
        let o = SyncOptions {
            enabled: true,
            update: true,
            modify_window: 2,
            ..SyncOptions::default()
        };
        let k = Kept::default();
        // (size 10 at the source, 11 at the destination; source time 100)
        for (dst_time, kept) in [
            (103, true),
            (100, true),
            (99, true),
            (98, false),
            (90, false),
        ] {
            let d = decide_file(&stat(F, 10, 100), &stat(F, 11, dst_time), &o, k);
            assert_eq!(
                matches!(d, Decision::Keep(_)),
                kept,
                "destination time {dst_time}"
            );
        }
    }

    #[test]
    fn update_ignore_existing_and_types() {
        let o = SyncOptions {
            enabled: true,
            update: true,
            ..SyncOptions::default()
        };
        let k = Kept::default();
        // The destination is newer: left alone.
        assert!(matches!(
            decide_file(&stat(F, 1, 100), &stat(F, 2, 200), &o, k),
            Decision::Keep(_)
        ));
        assert!(matches!(
            decide_file(&stat(F, 1, 300), &stat(F, 2, 200), &o, k),
            Decision::Update(_)
        ));
        let o = SyncOptions {
            enabled: true,
            ignore_existing: true,
            ..SyncOptions::default()
        };
        assert!(matches!(
            decide_file(&stat(F, 1, 100), &stat(F, 2, 200), &o, k),
            Decision::Keep(_)
        ));
        let dir = stat(libc::S_IFDIR | 0o755, 0, 0);
        assert_eq!(decide_file(&stat(F, 1, 1), &dir, &o, k), Decision::Replace);
    }

    #[test]
    fn kept_files_report_attribute_changes() {
        let o = SyncOptions {
            enabled: true,
            ..SyncOptions::default()
        };
        let k = Kept {
            perms: true,
            owner: true,
            times: true,
        };
        let mut d = stat(libc::S_IFREG | 0o600, 5, 7);
        d.st_uid = 1;
        let Decision::Keep(c) = decide_file(&stat(F, 5, 7), &d, &o, k) else {
            panic!()
        };
        assert_eq!(c.describe(), "perms,owner");
    }

    #[test]
    fn temp_names_are_recognisable_and_short_enough() {
        let t = temp_name(c"notes.txt");
        assert_eq!(temp_pid(t.to_bytes()), Some(std::process::id()));
        // This run's own temporaries are never stale.
        assert!(!is_stale_temp(t.to_bytes()));
        // Names the scheme cannot produce are never taken for temporaries.
        for name in [
            &b".~ucp.notes"[..],
            b".~ucp.notes.txt",
            b".~ucp.a.12-",
            b".~ucp.a.x-1",
            b"ucp.a.1-1",
        ] {
            assert_eq!(temp_pid(name), None, "{}", String::from_utf8_lossy(name));
        }
        // PID 2^22 + 1 is above Linux's pid_max limit: no such process.
        assert!(is_stale_temp(b".~ucp.notes.txt.4194305-0"));
        assert!(t.to_bytes().starts_with(b".~ucp.notes.txt."));
        let long = CString::new(vec![b'x'; 255]).unwrap();
        assert!(temp_name(&long).to_bytes().len() <= 255);
        assert_ne!(temp_name(c"a"), temp_name(c"a"));
    }

    #[test]
    fn same_content_compares_every_byte_and_the_length() {
        use std::io::Write;
        use std::os::fd::AsFd;
        let big: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let file = |data: &[u8]| {
            let mut f = tempfile::tempfile().expect("tempfile");
            f.write_all(data).expect("write");
            f
        };
        let a = file(&big);
        let mut changed = big.clone();
        changed[599_999] ^= 1;
        let mut longer = big.clone();
        longer.push(0);
        let cmp = |b: &std::fs::File| same_content(a.as_fd(), b.as_fd(), big.len() as u64).ok();
        assert_eq!(cmp(&file(&big)), Some(true));
        assert_eq!(cmp(&file(&changed)), Some(false));
        assert_eq!(cmp(&file(&longer)), Some(false));
        assert_eq!(cmp(&file(&big[..1000])), Some(false));
    }
}
