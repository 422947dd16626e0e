//! Parsing argv into [`Args`], keeping the order of the options whose
//! order matters (clap gives each option's values, not how they
//! interleave): filters apply in command-line order, `--preserve`,
//! `--no-preserve`, `-a`, `-d`, `-p` each change what the ones before
//! them set, and of `-i` and `-n` the last one wins, as in cp.

use super::Args;
use crate::filter::Spec;
use clap::{CommandFactory, FromArgMatches};
use std::ffi::OsString;

/// One option that changes which attributes are preserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreserveStep {
    /// -a.
    Archive,
    /// -d.
    Links,
    /// -p, or --preserve without a list.
    Default,
    /// --preserve=LIST.
    On(String),
    /// --no-preserve=LIST.
    Off(String),
}

/// Parse the command line. Like `Args::try_parse`, and also records the
/// order of the options whose order matters.
pub fn parse() -> Result<Args, clap::Error> {
    parse_from(std::env::args_os())
}

/// [`parse`] over any argv (the first item is the program name).
pub fn parse_from<I, T>(argv: I) -> Result<Args, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let m = Args::command().try_get_matches_from(argv)?;
    let mut args = Args::from_arg_matches(&m)?;
    args.filters = in_order(
        &m,
        &[
            ("exclude", &|i| Spec::Exclude(args.exclude[i].clone())),
            ("include", &|i| Spec::Include(args.include[i].clone())),
            ("exclude_from", &|i| {
                Spec::ExcludeFrom(args.exclude_from[i].clone())
            }),
        ],
    );
    args.preserve_steps = in_order(
        &m,
        &[
            ("archive", &|_| PreserveStep::Archive),
            ("no_deref_preserve_links", &|_| PreserveStep::Links),
            ("preserve_default", &|_| PreserveStep::Default),
            ("preserve", &|i| PreserveStep::On(args.preserve[i].clone())),
            ("no_preserve", &|i| {
                PreserveStep::Off(args.no_preserve[i].clone())
            }),
        ],
    );
    // -i and -n: cp keeps the last one given.
    let last = in_order(
        &m,
        &[("interactive", &|_| true), ("no_clobber", &|_| false)],
    );
    if let Some(&ask) = last.last() {
        args.interactive = ask;
        args.no_clobber = !ask;
    }
    Ok(args)
}

/// The occurrences of the given options in command-line order, each made
/// into a `T` by its function from its index among that option's values.
#[allow(clippy::type_complexity)]
fn in_order<T>(m: &clap::ArgMatches, ids: &[(&str, &dyn Fn(usize) -> T)]) -> Vec<T> {
    let mut ordered: Vec<(usize, T)> = Vec::new();
    for (id, make) in ids {
        // A flag that is not given still has a default value, without an index.
        if m.value_source(id) != Some(clap::parser::ValueSource::CommandLine) {
            continue;
        }
        if let Some(idx) = m.indices_of(id) {
            ordered.extend(idx.enumerate().map(|(i, at)| (at, make(i))));
        }
    }
    ordered.sort_by_key(|(at, _)| *at);
    ordered.into_iter().map(|(_, s)| s).collect()
}
