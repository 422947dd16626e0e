//! `-i`: ask before replacing an existing destination, as cp asks.
//!
//! The question goes to stderr and the answer is one line of stdin; a line
//! starting with `y` or `Y` is yes, anything else (also end of input) no.
//! Workers ask one at a time: the lock is held from the question to the
//! answer, so questions and answers pair up whichever worker asks.

use rustix::fs::{Access, AtFlags, FileType};
use std::ffi::CStr;
use std::io::{BufRead, Write};
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::Mutex;

static ASKING: Mutex<()> = Mutex::new(());

/// May `name` in `dir` (shown as `path`, with status `st`) be replaced?
/// `removing`: -f or --remove-destination, which cp words differently for
/// a file the user cannot write.
pub fn overwrite_ok(
    path: &Path,
    dir: BorrowedFd<'_>,
    name: &CStr,
    st: &rustix::fs::Stat,
    removing: bool,
) -> bool {
    let quoted = crate::error::quote(path);
    let writable = FileType::from_raw_mode(st.st_mode) == FileType::Symlink
        || rustix::fs::accessat(dir, name, Access::WRITE_OK, AtFlags::EACCESS).is_ok();
    let question = if writable {
        format!("uring-cp: overwrite {quoted}? ")
    } else {
        let mode = st.st_mode & 0o7777;
        let perms = ls_perms(st.st_mode);
        if removing {
            format!("uring-cp: replace {quoted}, overriding mode {mode:04o} ({perms})? ")
        } else {
            format!("uring-cp: unwritable {quoted} (mode {mode:04o}, {perms}); try anyway? ")
        }
    };
    // A poisoned lock only means another worker panicked while asking.
    let _turn = ASKING.lock().unwrap_or_else(|p| p.into_inner());
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(question.as_bytes());
    let _ = err.flush();
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(_) => answer.starts_with(['y', 'Y']),
        Err(_) => false,
    }
}

/// `rw-r--r--`: the permission bits as ls shows them (with set-id and
/// sticky bits), as in cp's question.
fn ls_perms(mode: u32) -> String {
    let bit = |m: u32, c: char| if mode & m != 0 { c } else { '-' };
    let special = |x: u32, s: u32, on: char, off: char| match (mode & x != 0, mode & s != 0) {
        (true, true) => on,
        (false, true) => off,
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        special(0o100, 0o4000, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        special(0o010, 0o2000, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        special(0o001, 0o1000, 't', 'T'),
    ]
    .iter()
    .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn perms() {
        assert_eq!(super::ls_perms(0o100444), "r--r--r--");
        assert_eq!(super::ls_perms(0o104755), "rwsr-xr-x");
        assert_eq!(super::ls_perms(0o101644), "rw-r--r-T");
    }
}
