//! Unit tests of the command-line definitions.

use clap::CommandFactory;
use clap::parser::ValueSource;

/// GNU cp 9.1's long options (its `--debug` came in 9.2).
const GNU_LONG: [&str; 29] = [
    "archive",
    "attributes-only",
    "backup",
    "context",
    "copy-contents",
    "dereference",
    "force",
    "help",
    "interactive",
    "link",
    "no-clobber",
    "no-dereference",
    "no-preserve",
    "no-target-directory",
    "one-file-system",
    "parents",
    "path",
    "preserve",
    "recursive",
    "reflink",
    "remove-destination",
    "sparse",
    "strip-trailing-slashes",
    "suffix",
    "symbolic-link",
    "target-directory",
    "update",
    "verbose",
    "version",
];

/// Every prefix that names one of cp's long options in cp names the same
/// option here, although this tool has more options (a script's `--b` or
/// `--in` must not become ambiguous).
#[test]
fn gnu_abbreviations_mean_the_same() {
    // What clap makes of `--WORD` (with a value for options that need
    // one): the long name of the option it set.
    let resolve = |word: &str, opt: &str| -> Option<String> {
        let value = match opt {
            "no-preserve" => "=mode",
            "sparse" | "reflink" => "=auto",
            "suffix" => "=.b",
            "target-directory" => "=d",
            _ => "",
        };
        let arg = format!("--{word}{value}");
        let m = match super::Args::command().try_get_matches_from(["uring-cp", &arg]) {
            Ok(m) => m,
            Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
                return Some("help".into());
            }
            Err(_) => return None,
        };
        let cmd = super::Args::command();
        cmd.get_arguments()
            .find(|a| m.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine))
            .and_then(|a| a.get_long())
            .map(str::to_string)
    };
    let mut wrong = Vec::new();
    for opt in GNU_LONG {
        for end in 1..=opt.len() {
            let prefix = &opt[..end];
            if GNU_LONG.iter().filter(|o| o.starts_with(prefix)).count() != 1 {
                continue;
            }
            // (cp's --path is its old name for --parents.)
            let want = if opt == "path" { "parents" } else { opt };
            let here = resolve(prefix, opt);
            if here.as_deref() != Some(want) {
                wrong.push(format!("--{prefix} (cp: --{opt}, here: {here:?})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "prefixes that differ from cp's: {wrong:#?}"
    );
}
