//! `-a`, `-d`, `-p`, `--preserve` and `--no-preserve` into a [`Preserve`], in
//! command-line order as cp applies them.

use super::{Preserve, UsageError};
use crate::cli::{Args, PreserveStep};

/// The attribute names of `--preserve`, in cp's order.
const ATTRS: [&str; 7] = [
    "mode",
    "timestamps",
    "ownership",
    "links",
    "context",
    "xattr",
    "all",
];

/// One name of an attribute list: exact, or an unambiguous prefix (cp's argmatch).
fn attr(word: &str, option: &str) -> Result<&'static str, UsageError> {
    if let Some(a) = ATTRS.iter().find(|a| **a == word) {
        return Ok(a);
    }
    let matches: Vec<&&str> = ATTRS.iter().filter(|a| a.starts_with(word)).collect();
    match (word.is_empty(), matches.as_slice()) {
        (false, [one]) => Ok(one),
        (false, []) => Err(UsageError(format!(
            "invalid argument '{word}' for '{option}'\nValid arguments are: {}",
            ATTRS.join(", ")
        ))),
        _ => Err(UsageError(format!(
            "ambiguous argument '{word}' for '{option}'\nValid arguments are: {}",
            ATTRS.join(", ")
        ))),
    }
}

/// Turn the attributes of a comma-separated list on or off.
fn apply_list(p: &mut Preserve, list: &str, on: bool, option: &str) -> Result<(), UsageError> {
    for word in list.split(',') {
        match attr(word, option)? {
            "mode" => {
                p.mode = on;
                p.no_mode = !on;
            }
            "timestamps" => p.timestamps = on,
            "ownership" => p.ownership = on,
            "links" => p.links = on,
            "context" => p.context = on,
            "xattr" => {
                p.xattr = on;
                p.xattr_required = on;
            }
            _ => {
                // all: like cp, `all` does not insist on a security context.
                p.mode = on;
                p.timestamps = on;
                p.ownership = on;
                p.links = on;
                p.xattr = on;
                p.no_mode = !on;
                if !on {
                    p.context = false;
                }
            }
        }
    }
    Ok(())
}

/// -a, -d, -p, --preserve and --no-preserve, applied in command-line order as
/// cp does: `--no-preserve=mode --preserve=all` keeps the mode,
/// `--preserve=all --no-preserve=mode` does not.
pub(super) fn preserve(args: &Args) -> Result<Preserve, UsageError> {
    let mut p = Preserve::default();
    for step in &args.preserve_steps {
        match step {
            PreserveStep::Archive => {
                p.mode = true;
                p.ownership = true;
                p.timestamps = true;
                p.links = true;
                p.xattr = true;
                p.required = true;
                p.xattr_quiet = true;
            }
            PreserveStep::Links => p.links = true,
            PreserveStep::Default => {
                p.mode = true;
                p.ownership = true;
                p.timestamps = true;
                p.required = true;
            }
            PreserveStep::On(list) => {
                apply_list(&mut p, list, true, "--preserve")?;
                p.required = true;
            }
            PreserveStep::Off(list) => apply_list(&mut p, list, false, "--no-preserve")?,
        }
    }
    // (-a after --no-preserve=mode: cp preserves the mode, which takes
    // precedence over its default permissions.)
    p.no_mode &= !p.mode;
    Ok(p)
}
