//! What is kept of a source entry's status: the fields of one `stat` or
//! `statx` that the copy needs (archive mode's attributes, hard-link
//! identity, change detection), whichever call produced them.

use rustix::fs::{Timespec, Timestamps};

/// What is kept of a source entry's status: one `stat` or `statx`, copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrcStat {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    /// Status change time: moves with every write and cannot be set back.
    pub ctime: (i64, u32),
}

/// rustix's `Statx` and libc's `statx` (the ring's) have the same fields.
macro_rules! from_statx {
    ($st:expr) => {
        SrcStat {
            mode: $st.stx_mode.into(),
            uid: $st.stx_uid,
            gid: $st.stx_gid,
            nlink: $st.stx_nlink.into(),
            dev: rustix::fs::makedev($st.stx_dev_major, $st.stx_dev_minor),
            ino: $st.stx_ino,
            size: $st.stx_size,
            blocks: $st.stx_blocks,
            atime: ($st.stx_atime.tv_sec, $st.stx_atime.tv_nsec),
            mtime: ($st.stx_mtime.tv_sec, $st.stx_mtime.tv_nsec),
            ctime: ($st.stx_ctime.tv_sec, $st.stx_ctime.tv_nsec),
        }
    };
}

impl SrcStat {
    // The field types differ between architectures.
    #[allow(clippy::unnecessary_cast)]
    pub fn from_stat(st: &rustix::fs::Stat) -> Self {
        SrcStat {
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
            nlink: st.st_nlink as u64,
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            blocks: st.st_blocks as u64,
            atime: (st.st_atime as i64, st.st_atime_nsec as u32),
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as u32),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as u32),
        }
    }

    pub fn from_statx(st: &rustix::fs::Statx) -> Self {
        from_statx!(st)
    }

    /// From the `statx` the ring's STATX fills in.
    pub fn from_libc_statx(st: &libc::statx) -> Self {
        from_statx!(st)
    }

    /// Is a later status of the same file (`self`) evidence that its data
    /// did not change since `before`? Size, modification and status change
    /// times all equal (the ctime catches a writer that set the mtime back).
    pub fn same_content_as(&self, before: &SrcStat) -> bool {
        (self.size, self.mtime, self.ctime) == (before.size, before.mtime, before.ctime)
    }

    /// Its access and modification times, as `utimensat` takes them.
    pub fn timestamps(&self) -> Timestamps {
        let ts = |(s, ns): (i64, u32)| Timespec {
            tv_sec: s,
            tv_nsec: ns.into(),
        };
        Timestamps {
            last_access: ts(self.atime),
            last_modification: ts(self.mtime),
        }
    }
}
