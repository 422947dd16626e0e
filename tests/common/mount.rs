//! Filesystems a test mounts for itself (a small tmpfs, an xfs image on a
//! loop device), unmounted when dropped. Root only; the constructors say why
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

    /// An xfs filesystem in a loop-mounted image file of `mib` MiB.
    pub fn xfs(at: &Path, image: &Path, mib: u64) -> Result<Mount, String> {
        if !super::is_root() {
            return Err("mounting an xfs image needs root".into());
        }
        if !super::has_command("mkfs.xfs") {
            return Err("mkfs.xfs is not installed (apt-get install xfsprogs)".into());
        }
        let f = std::fs::File::create(image).map_err(|e| e.to_string())?;
        f.set_len(mib << 20).map_err(|e| e.to_string())?;
        drop(f);
        let out = Command::new("mkfs.xfs")
            .args(["-q", "-f"])
            .arg(image)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "mkfs.xfs failed: {}",
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
                "mount -o loop of the xfs image failed: {}",
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
