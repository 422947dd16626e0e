//! Filesystems a test mounts for itself (a small tmpfs, an xfs, btrfs or
//! ext4 image on a loop device), unmounted when dropped. Root only; the constructors say why
//! not otherwise, for the caller's SKIP line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A filesystem mounted by the test, unmounted (lazily) on drop.
pub struct Mount {
    pub path: PathBuf,
}

impl Mount {
    pub fn tmpfs(at: &Path, size: &str) -> Result<Mount, String> {
        if !super::is_root() {
            return Err("mounting a tmpfs needs root".into());
        }
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Mount {
            path: at.to_path_buf(),
        })
    }

    /// A filesystem of type `fs` (`xfs` with reflinks, `btrfs`, `ext4`) made
    /// in an image file of `mib` MiB and loop-mounted at `at`.
    pub fn image(fs: &str, at: &Path, image: &Path, mib: u64) -> Result<Mount, String> {
        if !super::is_root() {
            return Err(format!("mounting an {fs} image needs root"));
        }
        let (mkfs, args, package): (String, &[&str], &str) = match fs {
            "xfs" => (
                "mkfs.xfs".into(),
                &["-q", "-f", "-m", "reflink=1"],
                "xfsprogs",
            ),
            "btrfs" => ("mkfs.btrfs".into(), &["-q", "-f"], "btrfs-progs"),
            _ => (format!("mkfs.{fs}"), &["-q", "-F"], "e2fsprogs"),
        };
        if !super::has_command(&mkfs) {
            return Err(format!(
                "{mkfs} is not installed (apt-get install {package})"
            ));
        }
        let f = std::fs::File::create(image).map_err(|e| e.to_string())?;
        f.set_len(mib << 20).map_err(|e| e.to_string())?;
        drop(f);
        let out = Command::new(&mkfs)
            .args(args)
            .arg(image)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "{mkfs} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-o", "loop"])
            .arg(image)
            .arg(at)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "mount -o loop of the {fs} image failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Mount {
            path: at.to_path_buf(),
        })
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A fresh filesystem of type `fs` (see [`Mount::image`]), 512 MiB, in a
/// temporary directory of its own; unmounted and removed on drop.
pub struct LoopFs {
    // Unmounted before the directory holding the image is removed.
    mount: Mount,
    _dir: tempfile::TempDir,
}

impl LoopFs {
    pub fn new(fs: &str) -> Result<LoopFs, String> {
        if !super::is_root() {
            return Err(format!(
                "needs root to mount an {fs} image on a loop device"
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("uring-cp-{fs}."))
            .tempdir()
            .map_err(|e| e.to_string())?;
        let mount = Mount::image(fs, &dir.path().join("m"), &dir.path().join("img"), 512)?;
        Ok(LoopFs { mount, _dir: dir })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.mount.path
    }
}

/// Extents of `path` that FIEMAP reports as shared (via `filefrag -v`).
pub fn shared_extents(path: &Path) -> usize {
    let out = Command::new("filefrag")
        .arg("-v")
        .arg(path)
        .output()
        .expect("run filefrag");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("shared"))
        .count()
}
