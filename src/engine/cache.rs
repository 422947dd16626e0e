//! Whether a tree's files are in the page cache, for `--engine auto`.
//!
//! Why: which engine is fastest depends on where the bytes come from. From
//! storage, the all-in-ring engine (`uring-chains`) wins: every open, stat
//! and read of many files is in flight at once (ext4, cold cache, medians of
//! 3, `benches/RESULTS.md`: /usr/include 538 ms against 577 for the io_uring
//! engine, a CPython tree 3,330 against 4,072, /usr/share 2,960 against
//! 3,740). From the page cache it loses: creates and buffered writes run in
//! io-wq threads, and the hand-offs cost more than the system calls they
//! save (/usr/share warm 1,884 against 1,392); there walkers taking whole
//! directories spend the least CPU of all (see [`super::pick`]). So `auto`
//! looks before it starts.
//!
//! The look is small and leaves no trace: up to [`PROBE_FILES`] regular
//! files found breadth-first under the directory operands (among the first
//! [`PROBE_OPERANDS`]; at most [`PROBE_DIRS`] directories listed), each
//! asked for its first byte without waiting for storage (`preadv2` with
//! `RWF_NOWAIT`, which answers `EAGAIN` when that byte is not cached).
//! Everything is opened with `O_NOATIME`, so the look moves no access time
//! that `-a` would copy; where the kernel refuses that (not the owner, no
//! `CAP_FOWNER`), the entry is skipped, not read. File operands are not
//! looked at: a lone large file gains nothing from the ring.

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::{Errno, ReadWriteFlags};
use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// Most files asked about.
pub const PROBE_FILES: usize = 8;
/// Most directories listed to find them.
pub const PROBE_DIRS: usize = 16;
/// Most operands tried as directories.
pub const PROBE_OPERANDS: usize = 64;

/// What the look found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Look {
    /// Files whose first byte was in the page cache.
    pub cached: usize,
    /// Files whose first byte was not.
    pub uncached: usize,
}

impl Look {
    /// Most of the files asked about were not cached.
    pub fn cold(&self) -> bool {
        self.uncached > self.cached
    }
}

/// Look at the files under the directory operands among `sources`.
pub fn look(sources: &[PathBuf]) -> Look {
    let mut found = Look::default();
    let mut dirs: VecDeque<OwnedFd> = sources
        .iter()
        // (`cp -r dir/* dest/` may name thousands of files: look at the first few.)
        .take(PROBE_OPERANDS)
        // Not through a symlink operand: -r copies it as a symlink, and
        // following it would move its access time.
        .filter_map(|s| {
            open(
                rustix::fs::CWD,
                s.as_path(),
                OFlags::DIRECTORY | OFlags::NOFOLLOW,
            )
        })
        .take(PROBE_DIRS)
        .collect();
    let mut listed = dirs.len();
    while let Some(dir) = dirs.pop_front() {
        let Ok(entries) = rustix::fs::Dir::read_from(&dir) else {
            continue;
        };
        for entry in entries {
            let Ok(entry) = entry else { break };
            let name = entry.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            match entry.file_type() {
                FileType::RegularFile => {
                    // (Read only what is still a regular file: not a device
                    // or FIFO that replaced it since the listing.)
                    if let Some(fd) = open(&dir, name, OFlags::NONBLOCK | OFlags::NOFOLLOW)
                        && rustix::fs::fstat(&fd).is_ok_and(|st| {
                            FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
                        })
                    {
                        let mut byte = [0u8; 1];
                        let buf = &mut [std::io::IoSliceMut::new(&mut byte)];
                        match rustix::io::preadv2(&fd, buf, 0, ReadWriteFlags::NOWAIT) {
                            Ok(1) => found.cached += 1,
                            Err(Errno::AGAIN) => found.uncached += 1,
                            // Empty, or it cannot say: no evidence either way.
                            _ => {}
                        }
                    }
                    if found.cached + found.uncached == PROBE_FILES {
                        return found;
                    }
                }
                FileType::Directory if listed < PROBE_DIRS => {
                    if let Some(fd) = open(&dir, name, OFlags::DIRECTORY | OFlags::NOFOLLOW) {
                        dirs.push_back(fd);
                        listed += 1;
                    }
                }
                _ => {}
            }
        }
    }
    found
}

/// Open `name` read-only (with `extra`) without moving its access time;
/// `None` where that is refused.
fn open<Fd: std::os::fd::AsFd, P: rustix::path::Arg>(
    dir: Fd,
    name: P,
    extra: OFlags,
) -> Option<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOATIME | extra;
    rustix::fs::openat(dir, name, flags, Mode::empty()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// The look moves no access time, finds files below directories, and
    /// stops at [`PROBE_FILES`].
    #[test]
    fn the_look_leaves_access_times_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        let old = rustix::fs::Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: 1_000_000_000,
                tv_nsec: 0,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: 1_500_000_000,
                tv_nsec: 0,
            },
        };
        let mut files = Vec::new();
        for i in 0..PROBE_FILES + 3 {
            let f = deep.join(format!("f{i}"));
            std::fs::write(&f, b"data").unwrap();
            let fd = std::fs::File::open(&f).unwrap();
            // An access time older than the modification time: relatime
            // would move it on any read.
            rustix::fs::futimens(fd.as_fd(), &old).unwrap();
            files.push(f);
        }
        let found = look(&[tmp.path().join("a")]);
        assert_eq!(found.cached + found.uncached, PROBE_FILES, "{found:?}");
        for f in &files {
            let st = rustix::fs::stat(f).unwrap();
            assert_eq!(st.st_atime, 1_000_000_000, "{} was read", f.display());
        }
        assert_eq!(
            look(&[deep.join("f0")]),
            Look::default(),
            "file operands are not looked at"
        );
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink("a/b", &link).unwrap();
        assert_eq!(
            look(&[link]),
            Look::default(),
            "a symlink operand was followed"
        );
    }
}
