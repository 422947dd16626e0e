//! `--relative` and `--files-from`: rsync's ways of naming where under DEST
//! a SOURCE goes. `--relative` is cp's `--parents` (see [`super::parents`])
//! with rsync's `/./` marker: `src/./a/f` goes to `DEST/a/f`, its directories
//! on the way (`a`) taking their attributes from `src/a`. `--files-from`
//! turns each listed path `p` into the SOURCE `DIR/./p`.
//!
//! A listed path may not climb out of DEST: a `..` component is refused
//! (rsync sanitizes such paths; a copy tool that writes outside its target
//! because of a line in a file is worse than one that says no), and leading
//! slashes are dropped, as rsync does.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// `base/./rel` split at its first `/./` into `(base, rel)`; without one,
/// `("", src)`.
pub fn split(src: &Path) -> (&Path, &Path) {
    let b = src.as_os_str().as_bytes();
    match b.windows(3).position(|w| w == b"/./") {
        Some(i) => {
            let mut rest = &b[i + 3..];
            while let Some(r) = rest.strip_prefix(b"/") {
                rest = r;
            }
            (
                Path::new(OsStr::from_bytes(&b[..i])),
                Path::new(OsStr::from_bytes(rest)),
            )
        }
        None => (Path::new(""), src),
    }
}

/// The SOURCE operands `--files-from=list` names inside `dir`, and a message
/// for each line refused. `list` is `-` for stdin; names end with NUL under
/// `from0`, else with a newline (empty ones are skipped).
pub fn read_list(
    list: &Path,
    from0: bool,
    dir: &Path,
) -> Result<(Vec<PathBuf>, Vec<String>), String> {
    let mut data = Vec::new();
    let read = match list.as_os_str().as_bytes() {
        b"-" => std::io::stdin().lock().read_to_end(&mut data),
        _ => std::fs::File::open(list).and_then(|mut f| f.read_to_end(&mut data)),
    };
    if let Err(e) = read {
        return Err(format!(
            "cannot read --files-from {}: {}",
            crate::error::quote(list),
            crate::error::strip_os_suffix(&e)
        ));
    }
    let end = if from0 { b'\0' } else { b'\n' };
    let mut sources = Vec::new();
    let mut refused = Vec::new();
    for line in data.split(|&c| c == end) {
        let mut name = line;
        while let Some(r) = name.strip_prefix(b"/") {
            name = r;
        }
        if name.is_empty() {
            continue;
        }
        let rel = Path::new(OsStr::from_bytes(name));
        if rel.components().any(|c| c == Component::ParentDir) {
            refused.push(format!(
                "--files-from {}: refusing {}: it climbs out of SOURCE with '..'",
                crate::error::quote(list),
                crate::error::quote(rel)
            ));
            continue;
        }
        let mut op = dir.as_os_str().as_bytes().to_vec();
        op.extend_from_slice(b"/./");
        op.extend_from_slice(name);
        sources.push(PathBuf::from(OsStr::from_bytes(&op)));
    }
    Ok((sources, refused))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_marker() {
        let s = |p: &str| {
            let (a, b) = split(Path::new(p));
            (
                a.to_str().unwrap().to_string(),
                b.to_str().unwrap().to_string(),
            )
        };
        assert_eq!(s("src/./a/f"), ("src".into(), "a/f".into()));
        assert_eq!(s("/x/y/.//a"), ("/x/y".into(), "a".into()));
        assert_eq!(s("a/b"), ("".into(), "a/b".into()));
        assert_eq!(s("a/./b/./c"), ("a".into(), "b/./c".into()));
    }
}
