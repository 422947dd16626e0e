//! What a run settles before it copies: the engine, its worker count, and
//! what the engines are told of the configuration.

use crate::config::{self, Config};
use crate::engine::{self, EngineOptions};
use crate::exit;
use crate::meta;
use crate::progress::Progress;
use std::sync::Arc;

/// The engine asked for (or the one that works here), said with `--debug`,
/// and whether `auto` found the sources not cached.
pub(crate) fn start_engine(
    cfg: &Config,
    mut opts: EngineOptions,
    clones: Option<&'static str>,
    progress: &dyn Progress,
) -> Result<(Box<dyn engine::Engine>, bool), i32> {
    // `--engine auto` looks whether the sources are cached (see `engine::cache`).
    let cold = || engine::cache::look(&cfg.sources).cold();
    let (pick, why) = engine::pick(cfg.engine, &opts, clones.is_some(), cold);
    let cold = why == engine::Why::Cold;
    // Cloned files, and walkers taking whole directories (files cloned, or
    // read from the cache), are CPU work only: one thread per CPU unless -j
    // says otherwise; within btrfs one walker (see `engine::workers`).
    let work = match (clones, pick == engine::Pick::Walkers) {
        (Some(engine::mover::clonefs::BTRFS), true) => engine::workers::Work::WithinBtrfs,
        (Some(_), _) | (None, true) => engine::workers::Work::Cpu,
        (None, false) => engine::workers::Work::Data,
    };
    opts.jobs = Some(cfg.jobs.unwrap_or_else(|| default_jobs(cfg, work)));
    let (engine, why) = engine::build(pick, why, &opts).map_err(|msg| {
        progress.message(&msg);
        exit::PARTIAL
    })?;
    if cfg.debug && !cfg.quiet {
        let workers = engine
            .walkers()
            .map_or(engine.intake().queues, |(walkers, _)| walkers);
        let s = if workers == 1 { "" } else { "s" };
        let (workers, why) = match why {
            engine::Why::NoUring(why) => {
                eprintln!("uring-cp: io_uring unavailable ({why}); using the portable engine");
                return Ok((engine, cold));
            }
            engine::Why::Asked | engine::Why::Default => (format!("{workers} worker{s}"), ""),
            engine::Why::Cached => (
                format!("{workers} walker{s} taking whole directories"),
                " (the sources are in the page cache)",
            ),
            engine::Why::Cold => (
                format!("{workers} worker{s}"),
                " (the sources are not in the page cache)",
            ),
            engine::Why::Clones => (
                format!("{workers} walker{s} taking whole directories"),
                " (one cloning filesystem: every file is cloned)",
            ),
        };
        eprintln!(
            "uring-cp: using the {} engine, {workers}{why}",
            engine.name()
        );
    }
    Ok((engine, cold))
}

/// Workers when -j is not given: as [`engine::workers::for_copy`] says for
/// the `work`, and no more than the files named when there is no
/// tree to copy: each worker's ring costs ~1 ms to set up and tear down (one
/// small file: 7.2 ms with 4 workers, 4.0 with 1; cp 1.5).
fn default_jobs(cfg: &Config, work: engine::workers::Work) -> usize {
    let jobs = engine::workers::for_copy(work);
    // A guess, as the rest: anything but a regular file may be a tree (a
    // symlink under -L/-H). lstat, not stat: following a symlink operand
    // would move its access time, which -a then copies. Only asked when
    // there are fewer sources than workers: `cp -r dir/* dest/` names
    // thousands of files and gets every worker either way.
    let trees = cfg.files_from.is_some()
        || cfg.sources.len() >= jobs
        || cfg.recursive
            && cfg
                .sources
                .iter()
                .any(|s| std::fs::symlink_metadata(s).map_or(true, |m| !m.is_file()));
    match trees {
        true => jobs,
        false => jobs.min(cfg.sources.len().max(1)),
    }
}

/// The destination operand, as given.
pub(crate) fn dest(cfg: &Config) -> &std::path::Path {
    match &cfg.target {
        config::Target::IntoDir(p) | config::Target::Exactly(p) | config::Target::Auto(p) => p,
    }
}

/// What the engines need to know of the configuration.
pub(crate) fn engine_options(
    cfg: &Config,
    archive: &Arc<meta::Archive>,
    links: &Arc<meta::links::Links>,
) -> EngineOptions {
    EngineOptions {
        overwrite: cfg.overwrite,
        buffer_mem: cfg.buffer_mem,
        // Set by `start_engine`, once the engine is picked.
        jobs: cfg.jobs,
        archive: archive.clone(),
        links: links.clone(),
        adaptive_reads: cfg.adaptive_reads,
        temp_files: cfg.sync.temp_files(),
        verify: cfg.verify,
        remove_source: cfg.sync.remove_source && !cfg.sync.dry_run,
        several_sources: cfg.sources.len() > 1,
        remove_destination: cfg.remove_destination,
        attributes_only: cfg.attributes_only,
        backup: cfg.engine_backup(),
        interactive: cfg.interactive,
        link: cfg.link,
        sync: cfg.sync.enabled,
    }
}
