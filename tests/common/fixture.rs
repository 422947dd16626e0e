//! The trees a test starts from: [`Fx`] builds entries of every kind with
//! exact modes, times and byte names under one root; [`TestEnv`] is a
//! temporary directory with two identical roots, `ours/` and `gnu/`.

use super::*;
use std::ffi::OsString;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds fixtures below one root. All modes are set explicitly with chmod, so
/// the test process's own umask never matters.
#[derive(Clone, Debug)]
pub struct Fx {
    pub root: PathBuf,
}

impl Fx {
    pub fn new(root: impl Into<PathBuf>) -> Fx {
        Fx { root: root.into() }
    }

    pub fn p(&self, rel: impl AsRef<[u8]>) -> PathBuf {
        let rel = rel.as_ref();
        if rel.is_empty() || rel == b"." {
            return self.root.clone();
        }
        self.root.join(os(rel))
    }

    fn ensure_parent(&self, rel: &[u8]) {
        if let Some(pos) = rel.iter().rposition(|&c| c == b'/') {
            let parent = &rel[..pos];
            if !parent.is_empty() && !self.p(parent).exists() {
                self.dir(parent, 0o755);
            }
        }
    }

    /// Create a directory (and any missing parents, with mode 0755) and set
    /// its mode exactly. Restrictive modes on dirs that get contents should be
    /// applied afterwards with [`Fx::chmod`].
    pub fn dir(&self, rel: impl AsRef<[u8]>, mode: u32) -> &Self {
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        if fs::symlink_metadata(&p).is_err() {
            fs::create_dir(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        }
        self.chmod(rel, mode);
        self
    }

    pub fn file(&self, rel: impl AsRef<[u8]>, mode: u32, content: impl AsRef<[u8]>) -> &Self {
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        fs::write(&p, content.as_ref()).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        self.chmod(rel, mode);
        self
    }

    pub fn symlink(&self, rel: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> &Self {
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        std::os::unix::fs::symlink(os(target.as_ref()), &p)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", p.display()));
        self
    }

    pub fn hardlink(&self, existing: impl AsRef<[u8]>, new: impl AsRef<[u8]>) -> &Self {
        self.ensure_parent(new.as_ref());
        let (a, b) = (self.p(existing), self.p(new));
        fs::hard_link(&a, &b)
            .unwrap_or_else(|e| panic!("link {} {}: {e}", a.display(), b.display()));
        self
    }

    pub fn fifo(&self, rel: impl AsRef<[u8]>, mode: u32) -> &Self {
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        let st = Command::new("mkfifo").arg(&p).status().expect("run mkfifo");
        assert!(st.success(), "mkfifo {} failed", p.display());
        self.chmod(rel, mode);
        self
    }

    /// A Unix-domain socket file (bound, then the listener is dropped; the
    /// filesystem node stays).
    pub fn socket(&self, rel: impl AsRef<[u8]>, mode: u32) -> &Self {
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        let l = std::os::unix::net::UnixListener::bind(&p).unwrap_or_else(|e| {
            panic!(
                "bind socket {} (sun_path limit is 108 bytes): {e}",
                p.display()
            )
        });
        drop(l);
        self.chmod(rel, mode);
        self
    }

    /// Character device node via `mknod` (needs root).
    pub fn char_device(&self, rel: impl AsRef<[u8]>, mode: u32, major: u32, minor: u32) -> &Self {
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        let st = Command::new("mknod")
            .arg(&p)
            .arg("c")
            .arg(major.to_string())
            .arg(minor.to_string())
            .status()
            .expect("run mknod");
        assert!(st.success(), "mknod {} failed", p.display());
        self.chmod(rel, mode);
        self
    }

    pub fn chmod(&self, rel: impl AsRef<[u8]>, mode: u32) -> &Self {
        let p = self.p(rel);
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {:o} {}: {e}", mode, p.display()));
        self
    }

    pub fn read(&self, rel: impl AsRef<[u8]>) -> Vec<u8> {
        let p = self.p(rel);
        fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    pub fn lstat(&self, rel: impl AsRef<[u8]>) -> fs::Metadata {
        let p = self.p(rel);
        fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()))
    }

    pub fn exists(&self, rel: impl AsRef<[u8]>) -> bool {
        fs::symlink_metadata(self.p(rel)).is_ok()
    }

    /// `chown -R -h nobody:nobody` of the whole root.
    pub fn chown_nobody(&self) {
        let st = Command::new("chown")
            .arg("-R")
            .arg("-h")
            .arg(format!("{NOBODY}:{NOBODY}"))
            .arg(&self.root)
            .status()
            .expect("run chown");
        assert!(st.success(), "chown -R nobody {}", self.root.display());
    }

    pub fn snapshot(&self) -> Vec<Entry> {
        snapshot(&self.root)
    }
}

// ---------------------------------------------------------------------------
// Test environment
// ---------------------------------------------------------------------------

/// A temp dir with two identical input roots: `ours/` and `gnu/`.
pub struct TestEnv {
    pub tmp: tempfile::TempDir,
    pub ours: Fx,
    pub gnu: Fx,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        Self::new_within(None)
    }

    /// A `TestEnv` under `dir` (a filesystem the test mounted, say), or in
    /// the temporary directory when `None`.
    pub fn new_within(dir: Option<&Path>) -> TestEnv {
        let mut builder = tempfile::Builder::new();
        builder.prefix("uring-cp-test.");
        let tmp = match dir {
            Some(dir) => builder
                .tempdir_in(dir)
                .unwrap_or_else(|e| panic!("tempdir in {}: {e}", dir.display())),
            None => builder.tempdir().expect("tempdir"),
        };
        // Searchable by others, for the tests that drop privileges.
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let ours = Fx::new(tmp.path().join("ours"));
        let gnu = Fx::new(tmp.path().join("gnu"));
        for r in [&ours.root, &gnu.root] {
            fs::create_dir(r).unwrap();
            fs::set_permissions(r, fs::Permissions::from_mode(0o755)).unwrap();
        }
        TestEnv { tmp, ours, gnu }
    }

    /// Another root in the same temp dir (e.g. a pristine copy of the input).
    pub fn extra_root(&self, name: &str) -> Fx {
        let fx = Fx::new(self.tmp.path().join(name));
        fs::create_dir(&fx.root).unwrap();
        fs::set_permissions(&fx.root, fs::Permissions::from_mode(0o755)).unwrap();
        fx
    }

    /// Apply the same fixture to both roots.
    pub fn build(&self, f: impl Fn(&Fx)) {
        f(&self.ours);
        f(&self.gnu);
    }

    pub fn run_ours<A: AsRef<[u8]>>(&self, engine: &str, args: &[A], opts: &RunOpts) -> Outcome {
        run_uring_cp(engine, &[], args, &self.ours.root, opts)
    }

    pub fn run_gnu<A: AsRef<[u8]>>(&self, args: &[A], opts: &RunOpts) -> Outcome {
        run_gnu_cp(args, &self.gnu.root, opts)
    }

    pub fn run_both<A: AsRef<[u8]>>(
        &self,
        engine: &str,
        args: &[A],
        opts: &RunOpts,
    ) -> (Outcome, Outcome) {
        (self.run_ours(engine, args, opts), self.run_gnu(args, opts))
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Unprivileged runs: make mode-000 dirs removable before TempDir's
        // cleanup (root removes them anyway).
        if !is_root() {
            let _ = Command::new("chmod")
                .args(["-R", "u+rwX"])
                .arg(self.tmp.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

pub fn cpath(p: &Path) -> std::ffi::CString {
    std::ffi::CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

impl Fx {
    /// Set atime and mtime (seconds, nanoseconds) of `rel` itself (a symlink is not followed).
    pub fn set_times(&self, rel: impl AsRef<[u8]>, atime: (i64, i64), mtime: (i64, i64)) -> &Self {
        let p = cpath(&self.p(rel));
        let ts = [
            libc::timespec {
                tv_sec: atime.0,
                tv_nsec: atime.1,
            },
            libc::timespec {
                tv_sec: mtime.0,
                tv_nsec: mtime.1,
            },
        ];
        // SAFETY: a valid C string and an array of two timespecs.
        let r = unsafe {
            libc::utimensat(
                libc::AT_FDCWD,
                p.as_ptr(),
                ts.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        assert_eq!(r, 0, "utimensat {p:?}: {}", std::io::Error::last_os_error());
        self
    }

    /// Give every entry below the root (and the root) its own atime and
    /// mtime with nanoseconds, derived from `seed` and its sorted position.
    /// All paths are listed first, so no directory is read after its times are set.
    pub fn stamp_all(&self, seed: i64) {
        let mut paths = Vec::new();
        fn list(dir: &Path, rel: &[u8], out: &mut Vec<Vec<u8>>) {
            let mut names: Vec<OsString> = fs::read_dir(dir)
                .expect("read_dir")
                .map(|e| e.expect("entry").file_name())
                .collect();
            names.sort();
            for n in names {
                let mut r = rel.to_vec();
                if !r.is_empty() {
                    r.push(b'/');
                }
                r.extend_from_slice(n.as_bytes());
                let p = dir.join(&n);
                out.push(r.clone());
                if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                    list(&p, &r, out);
                }
            }
        }
        list(&self.root, b"", &mut paths);
        paths.push(b".".to_vec());
        // A file with several names gets an atime in the future, which
        // reading it does not move (relatime): copies that do not keep the
        // links stat each name, and the order in which they read the shared
        // inode would otherwise decide which names get which atime.
        // (Fixed, so that both trees get the same: the year 2065.)
        let future: i64 = 3_000_000_000;
        for (i, rel) in paths.iter().enumerate() {
            let i = i as i64;
            let md = self.lstat(rel);
            let atime_s = if !md.is_dir() && md.nlink() > 1 {
                future + i
            } else {
                1_200_000_000 + seed * 100_000 + i * 1000
            };
            self.set_times(
                rel,
                (atime_s, (i * 123_456_789 + 7) % 1_000_000_000),
                (
                    1_100_000_000 + seed * 100_000 + i * 997,
                    (i * 987_654_321 + 11) % 1_000_000_000,
                ),
            );
        }
    }

    /// Set an extended attribute on `rel` itself.
    pub fn set_xattr(&self, rel: impl AsRef<[u8]>, name: &str, value: &[u8]) -> &Self {
        let p = cpath(&self.p(rel));
        let n = std::ffi::CString::new(name).expect("name");
        // SAFETY: valid C strings and a buffer of `value.len()` bytes.
        let r = unsafe {
            libc::lsetxattr(
                p.as_ptr(),
                n.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        assert_eq!(
            r,
            0,
            "lsetxattr {p:?} {name}: {}",
            std::io::Error::last_os_error()
        );
        self
    }

    /// `lchown` of one entry.
    pub fn lchown(&self, rel: impl AsRef<[u8]>, uid: u32, gid: u32) -> &Self {
        let p = self.p(rel);
        std::os::unix::fs::lchown(&p, Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("lchown {}: {e}", p.display()));
        self
    }

    /// A file of `size` bytes that is a hole except for `data` written at
    /// the given offsets.
    pub fn sparse_file(
        &self,
        rel: impl AsRef<[u8]>,
        mode: u32,
        size: u64,
        data: &[(u64, &[u8])],
    ) -> &Self {
        use std::os::unix::fs::FileExt;
        let rel = rel.as_ref();
        self.ensure_parent(rel);
        let p = self.p(rel);
        let f = File::create(&p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        for (off, bytes) in data {
            f.write_all_at(bytes, *off).expect("write_all_at");
        }
        f.set_len(size).expect("set_len");
        drop(f);
        self.chmod(rel, mode);
        self
    }
}
