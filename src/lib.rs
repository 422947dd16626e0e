//! uring-cp: copy files and trees with GNU cp semantics on an io_uring engine.
//!
//! The pipeline: [`cli`] parses, [`config`] validates, [`plan`] resolves the
//! operands against the filesystem (cp's path rules and refusals), a [`walk`]er
//! thread streams the source tree as [`tree::Item`]s through a bounded channel,
//! and an [`engine`] creates them at the destination, reporting to a
//! [`progress::Progress`]. See ARCHITECTURE.md.

pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod filter;
pub mod interrupt;
pub mod meta;
pub mod plan;
pub mod progress;
pub mod sync;
pub mod threads;
pub mod tree;
pub mod walk;

use config::Config;
use engine::EngineOptions;
use progress::{Console, Progress};
use std::io::Write;
use std::sync::Arc;

/// Exit statuses (documented in the README).
pub mod exit {
    /// Everything was copied.
    pub const OK: i32 = 0;
    /// At least one item failed; the rest were copied.
    pub const PARTIAL: i32 = 1;
    /// Nothing failed, but source files listed by the walk were gone when
    /// they were reached (a live tree): rsync's status for this.
    pub const VANISHED: i32 = 24;
    /// --max-delete stopped deletions (rsync's status for this).
    pub const MAX_DELETE: i32 = 25;
    /// The command line could not be used (cp's and rsync's status for
    /// this is 1 as well: scripts cannot tell it from a failed file).
    pub const USAGE: i32 = 1;
    /// Stopped by a signal: 128 + its number, as a shell reports a killed
    /// command (130 for SIGINT, 143 for SIGTERM).
    pub fn interrupted(signal: i32) -> i32 {
        128 + signal
    }
}

/// cp's pointer after a usage error, naming the program as it was invoked.
pub fn try_help() -> String {
    let argv0 = std::env::args_os()
        .next()
        .map_or_else(|| "uring-cp".into(), |a| a.to_string_lossy().into_owned());
    format!("Try '{argv0} --help' for more information.")
}

/// Let the process open as many descriptors as its hard limit allows (the
/// soft limit is often 1024): a copy keeps a descriptor per directory that
/// queued items still need. What is left is budgeted by the walker. Returns
/// the soft limit now (`None`: unlimited).
fn raise_descriptor_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        let raised = rustix::process::Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return lim.maximum;
        }
    }
    lim.current
}

/// Descriptors the table is grown to hold before any thread starts (or the
/// soft limit, if lower). A copy of /usr/share keeps ~800 open at its peak.
const DESCRIPTOR_TABLE: u64 = 8192;

/// Grow this process's descriptor table now, while the process has one
/// thread. The kernel grows a table that threads share only after an RCU
/// grace period (`expand_fdtable` calls `synchronize_rcu` when the table has
/// more than one user), and a table grows by doubling: 64, 128, ..., so a
/// copy that reached ~800 descriptors stalled the thread opening the 65th,
/// 129th, 257th and 513th, 15 ms of a 0.57 s copy within btrfs (`perf
/// record -e sched:sched_switch -g`: `wait_for_completion` <
/// `synchronize_rcu_normal` < `expand_files` < `openat`). Alone, growing
/// costs an allocation. A table never shrinks, so a descriptor opened at the
/// top and closed again leaves it grown. Best effort: a failure only costs
/// the stalls. `limit`: the soft limit on descriptors (`None`: unlimited).
fn reserve_descriptor_table(limit: Option<u64>) {
    use rustix::fs::{Mode, OFlags};
    let limit = limit.unwrap_or(u64::MAX);
    let Some(top) = limit.min(DESCRIPTOR_TABLE).checked_sub(1) else {
        return;
    };
    let Ok(top) = i32::try_from(top) else {
        return;
    };
    let Ok(root) = rustix::fs::open("/", OFlags::PATH | OFlags::CLOEXEC, Mode::empty()) else {
        return;
    };
    // `F_DUPFD_CLOEXEC` takes the lowest free descriptor at or above `top`,
    // so the table is grown to hold `top`; both are closed when dropped.
    let _high = rustix::io::fcntl_dupfd_cloexec(&root, top);
}

/// Run a copy described by `cfg`; returns the exit status.
///
/// The phases: refuse what cannot be done at all, pick the engine, plan the
/// operands (cp's path rules; nothing is copied yet), copy (walker, engine
/// and finisher), then what must come after every write (`--parents`'
/// directories, `--fsync`), the statistics and the exit status.
pub fn run(cfg: Config) -> i32 {
    let start = std::time::Instant::now();
    interrupt::install();
    reserve_descriptor_table(raise_descriptor_limit());
    let console = match open_console(&cfg) {
        Ok(c) => Arc::new(c),
        Err(status) => return status,
    };
    let status = run_with(cfg, &console, start);
    console.finish_log(status, start.elapsed());
    status
}

/// The console, with the log open if `--log-file` asks for one (or the exit
/// status of a refusal: a run asked to keep a log never runs without it).
fn open_console(cfg: &Config) -> Result<Console, i32> {
    let mut console = Console::new(cfg.verbose);
    console.backup_lines = cfg.sync.enabled && (cfg.sync.itemize || cfg.log_file.is_some());
    let Some(path) = &cfg.log_file else {
        return Ok(console);
    };
    // In sync mode the change lines say what was done; in cp mode, -v's.
    match progress::log::Log::open(path, !cfg.sync.enabled) {
        Ok(log) => {
            let console = console.with_log(Some(log), cfg.sync.itemize);
            console.log(&format!(
                "uring-cp {} started: {}",
                env!("CARGO_PKG_VERSION"),
                progress::log::command_line()
            ));
            Ok(console)
        }
        Err(e) => {
            // (Not `error`: ENOSPC there means a full destination.)
            console.message(&e.to_string());
            Err(exit::PARTIAL)
        }
    }
}

/// [`run`] once the console is there.
fn run_with(mut cfg: Config, console: &Arc<Console>, start: std::time::Instant) -> i32 {
    let progress: Arc<dyn Progress> = console.clone();
    for w in &cfg.warnings {
        progress.warning(w);
    }
    if let Err(status) = refuse_unsupported(&cfg, &*progress) {
        return status;
    }
    // --files-from: the listed paths are the sources.
    if let Some((list, from0)) = &cfg.files_from {
        let dir = cfg.sources.first().cloned().unwrap_or_default();
        match plan::relative::read_list(list, *from0, &dir) {
            Ok((sources, refused)) => {
                for msg in refused {
                    progress.message(&msg);
                }
                cfg.sources = sources;
                // rsync makes DEST (one level) for a list, as for any copy
                // (a dry run plans it as missing: everything in it is new).
                if let config::Target::Auto(d) = &cfg.target
                    && !cfg.sync.dry_run
                    && let Err(e) = std::fs::create_dir(d)
                    && e.kind() != std::io::ErrorKind::AlreadyExists
                {
                    progress.error(&error::CopyError::new(error::Op::Mkdir, d, e));
                    return exit::PARTIAL;
                }
            }
            Err(msg) => {
                progress.message(&msg);
                return exit::PARTIAL;
            }
        }
    }
    // The umask decides the final mode of directories whose mode is fixed up
    // after they are filled; reading it means setting it, so put it back.
    let umask = rustix::process::umask(rustix::fs::Mode::empty());
    rustix::process::umask(umask);

    let archive = Arc::new(meta::Archive::new(&cfg, progress.clone(), umask.bits()));
    let links = Arc::new(meta::links::Links::default());
    // Asked once: it sets -j's default and keeps `auto` off the ring.
    let clones = engine::workers::clones(
        cfg.sources.first().map(|p| p.as_path()),
        dest(&cfg),
        cfg.reflink,
    );
    let opts = engine_options(&cfg, &archive, &links);
    let (mut engine, cold) = match start_engine(&cfg, opts, clones.is_some(), &*progress) {
        Ok(e) => e,
        Err(status) => return status,
    };
    let filter = match filter::Filter::load(&cfg.filters) {
        Ok(f) => Arc::new(f),
        Err(msg) => {
            progress.message(&msg);
            return exit::USAGE;
        }
    };
    let mut plan = match plan_operands(&cfg, umask.bits(), &*progress) {
        Ok(p) => p,
        Err(status) => return status,
    };
    if let Some(basis) = &cfg.sync.basis
        && let Err(msg) = walk::refuse_clone_dest(basis, &plan.dest)
    {
        progress.message(&msg);
        return exit::PARTIAL;
    }
    // The operands, a batch at a time when they name more parent
    // directories than a share of the descriptor limit (see `plan::Plan`).
    let budget = plan::parent_budget();
    let mut roots = plan.next_roots(&cfg, &*progress, budget);
    let options = walk::Options {
        deref: cfg.deref,
        recursive: cfg.recursive,
        umask: umask.bits(),
        archive: archive.clone(),
        filter,
        sync: config::SyncOptions {
            // The log gets the change lines, said or not.
            itemize: cfg.sync.itemize || cfg.log_file.is_some(),
            ..cfg.sync.clone()
        },
        one_file_system: cfg.one_file_system,
        copy_contents: cfg.copy_contents,
        links: links.clone(),
        dest: plan.dest.clone(),
        backup: cfg.backup.clone(),
        last_batch: false, // (per batch, below)
        deleted_before: 0,
    };
    let bar = progress::bar::Bar::start(console.clone(), cfg.progress, start);
    let lines = match cfg.progress_lines {
        true => progress::lines::Lines::start(console.clone(), start),
        false => None,
    };
    // --fsync flushes the filesystems of the destinations once all is written.
    let mut dests: Vec<std::path::PathBuf> = Vec::new();
    let mut deletions = walk::Deletions::default();
    // (The list-ahead reads every operand's tree: with the first batch.)
    let mut list_ahead = match cold {
        true => cfg.sources.clone(),
        false => Vec::new(),
    };
    loop {
        watch_dst_parents(&archive, &roots);
        if cfg.fsync {
            dests.extend(
                roots
                    .iter()
                    .map(|r| tree::join(&r.dst_dir.path, &r.dst_name)),
            );
        }
        let how = Scheduling {
            ahead: clones == Some(engine::mover::clonefs::BTRFS),
            split: clones.is_some_and(|fs| fs != engine::mover::clonefs::BTRFS),
            list_ahead: std::mem::take(&mut list_ahead),
            debug: cfg.debug && !cfg.quiet,
        };
        let options = walk::Options {
            last_batch: plan.done(&cfg),
            deleted_before: deletions.decided(),
            ..options.clone()
        };
        match copy(&mut *engine, roots, options, &links, &progress, how) {
            Ok(d) => deletions.append(d),
            Err(e) => {
                progress.message(&format!(
                    "cannot start a thread: {}",
                    error::strip_os_suffix(&e)
                ));
                return exit::PARTIAL;
            }
        }
        if plan.done(&cfg) || interrupt::requested() {
            break;
        }
        roots = plan.next_roots(&cfg, &*progress, budget);
    }
    let parents = plan.parents;
    // --delete-after: once every copy is in place and every directory
    // finished; not at all after a failure (the entry to delete may be the
    // only copy of a file whose new name did not make it).
    if console.failed() > 0 || interrupt::requested() || interrupt::destination_full() {
        deletions.skip(&*progress);
    } else {
        deletions.apply(&*progress);
    }
    // --parents: the directories on the way get their attributes last.
    if let Some(parents) = &parents {
        parents.apply(&*progress);
    }
    if cfg.fsync && !cfg.sync.dry_run && !interrupt::requested() {
        sync::durable::flush(&dests, &*progress);
    }
    if let Some(bar) = bar {
        bar.finish();
    }
    if let Some(lines) = lines {
        lines.finish();
    }
    if let Some(format) = cfg.stats {
        let summary =
            progress::summary::Summary::new(&console.stats, engine.name(), start.elapsed());
        // A closed stdout is not an error of the copy.
        let _ = writeln!(std::io::stdout().lock(), "{}", summary.render(format));
    }
    exit_status(console)
}

/// Note the directories `roots` are copied into (copies inherit a default
/// ACL there: [`meta::Archive::watch_dst_parent`]); operands in one
/// directory share one `DstDir`, looked at once.
fn watch_dst_parents(archive: &meta::Archive, roots: &[plan::Root]) {
    let mut watched: Option<&Arc<tree::DstDir>> = None;
    for root in roots {
        if watched.is_some_and(|w| Arc::ptr_eq(w, &root.dst_dir)) {
            continue;
        }
        watched = Some(&root.dst_dir);
        if let Some(tree::DstState::Ready { fd, .. }) = root.dst_dir.state() {
            use std::os::fd::AsFd;
            archive.watch_dst_parent(fd.as_fd());
        }
    }
}

/// What cp refuses before copying anything: `--preserve=context` named
/// explicitly without SELinux.
fn refuse_unsupported(cfg: &Config, progress: &dyn Progress) -> Result<(), i32> {
    if cfg.preserve.context {
        let why = if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
            "preserving SELinux security contexts is not supported"
        } else {
            "cannot preserve security context without an SELinux-enabled kernel"
        };
        progress.message(why);
        return Err(exit::PARTIAL);
    }
    Ok(())
}

/// The engine asked for (or the one that works here), said with `--debug`,
/// and whether `auto` found the sources not cached.
fn start_engine(
    cfg: &Config,
    mut opts: EngineOptions,
    clones: bool,
    progress: &dyn Progress,
) -> Result<(Box<dyn engine::Engine>, bool), i32> {
    // `--engine auto` looks whether the sources are cached (see `engine::cache`).
    let cold = || engine::cache::look(&cfg.sources).cold();
    let (pick, why) = engine::pick(cfg.engine, &opts, clones, cold);
    let cold = why == engine::Why::Cold;
    // Cloned files, and walkers taking whole directories (files cloned, or
    // read from the cache), are CPU work only: one thread per CPU unless -j
    // says otherwise.
    let per_cpu = clones || pick == engine::Pick::Walkers;
    opts.jobs = Some(cfg.jobs.unwrap_or_else(|| default_jobs(cfg, per_cpu)));
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

/// What [`copy`] needs to know to schedule the walkers.
struct Scheduling {
    /// The copy is within one btrfs filesystem (every file is cloned): the
    /// walkers make directories ahead (`walk::ahead`). Not when the bytes
    /// are copied into btrfs from another filesystem: /usr/share, 7 runs,
    /// 2,487 ms without, 2,600 with.
    ahead: bool,
    /// The copy is within one cloning filesystem other than btrfs (xfs): a
    /// walker lending a directory's files opens them at both ends first
    /// (`engine::copier::lent`). Not within btrfs, nor for copies that move
    /// bytes: /usr/share, 9 interleaved runs, within xfs 0.38 -> 0.37 s
    /// (CPU 0.69 -> 0.65), within btrfs 0.58 -> 0.60, warm into ext4 0.36 ->
    /// 0.36, and the harness's 11-run warm cells 0.94-0.95x cpz -> 0.95-0.97x.
    split: bool,
    /// The sources were found not cached: a list-ahead reads these operands'
    /// directories in front of the walker (`walk::listahead`).
    list_ahead: Vec<std::path::PathBuf>,
    /// `--debug`: say so.
    debug: bool,
}

/// The operands resolved under cp's path rules, or the exit status of a
/// refusal.
fn plan_operands(cfg: &Config, umask: u32, progress: &dyn Progress) -> Result<plan::Plan, i32> {
    plan::plan(cfg, umask).map_err(|fatal| match fatal {
        plan::Fatal::Run(msg) => {
            progress.message(&msg);
            exit::PARTIAL
        }
        plan::Fatal::Usage(msg) => {
            progress.message(&msg);
            eprintln!("{}", try_help());
            exit::USAGE
        }
    })
}

/// The copy itself: the walker streams `roots` to the engine, and every
/// destination directory gets its last step on the finisher. Returns once
/// everything is written and every directory finished (after the last
/// batch of operands the hard-link map, which can hold directories, is
/// emptied first), with what `--delete-after` is to delete.
fn copy(
    engine: &mut dyn engine::Engine,
    roots: Vec<plan::Root>,
    options: walk::Options,
    links: &meta::links::Links,
    progress: &Arc<dyn Progress>,
    how: Scheduling,
) -> std::io::Result<walk::Deletions> {
    let finisher = tree::Finisher::start()?;
    let last_batch = options.last_batch;
    let (mut walker, queues) =
        walk::Walker::new(engine.intake(), progress.clone(), options, finisher.queue());
    let list_ahead = match how.list_ahead.is_empty() {
        true => None,
        false => walk::listahead::ListAhead::start(how.list_ahead),
    };
    if let Some((_, lead)) = &list_ahead {
        walker.led_by(lead.clone());
        if how.debug {
            eprintln!(
                "uring-cp: the sources are not cached: directories are listed ahead of the walk"
            );
        }
    }
    let deletions = match engine.walkers() {
        Some((walkers, files)) => {
            drop(queues);
            if how.ahead && how.debug {
                eprintln!("uring-cp: the destination is on btrfs: directories are made as found");
            }
            walker.take_whole_directories(walkers, files, how.ahead, how.split);
            walker.run(roots)
        }
        None => std::thread::scope(|s| {
            // (Not started: the walker and the queues drop, nothing was sent.)
            let walk = threads::scoped(s, "walker".into(), move || walker.run(roots))?;
            engine.run(queues, progress);
            Ok::<_, std::io::Error>(walk.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        })?,
    };
    if let Some((list_ahead, _)) = list_ahead {
        list_ahead.finish();
    }
    // (Not between batches of operands: a later batch may hold more names
    // of an inode copied in an earlier one. An interrupted copy, after
    // which no batch follows, may have left names parked, holding their
    // directories: those go before the finisher stops.)
    if last_batch || interrupt::requested() {
        links.clear();
    }
    finisher.finish();
    Ok(deletions)
}

/// The exit status of a finished run, and the note that explains a stop: an
/// interruption, a full destination; else failures, --max-delete, vanished
/// sources, in that order (see [`exit`]).
fn exit_status(console: &progress::Console) -> i32 {
    if let Some(sig) = interrupt::signal() {
        let name = if sig == libc::SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        let st = &console.stats;
        use std::sync::atomic::Ordering::Relaxed;
        console.note(&format!(
            "interrupted by {name}: {} files, {} directories, {} symlinks copied; \
             files being written were removed",
            st.files.load(Relaxed),
            st.dirs.load(Relaxed),
            st.symlinks.load(Relaxed),
        ));
        exit::interrupted(sig)
    } else if interrupt::destination_full() {
        let more = console
            .stats
            .out_of_space
            .load(std::sync::atomic::Ordering::Relaxed);
        let also = match more {
            0 => String::new(),
            n => format!(" ({n} more files being written failed the same way)"),
        };
        console.note(&format!(
            "stopped: no space left on the destination{also}; what was not copied yet was left out"
        ));
        exit::PARTIAL
    } else if console.failed() > 0 {
        exit::PARTIAL
    } else if console
        .stats
        .delete_stopped
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        exit::MAX_DELETE
    } else if console
        .stats
        .vanished
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0
    {
        exit::VANISHED
    } else {
        exit::OK
    }
}

/// Workers when -j is not given: one per CPU for CPU work (`per_cpu`: files
/// cloned within one filesystem, or walkers copying cached sources; see
/// [`engine::workers`]), and no more than the files named when there is no
/// tree to copy: each worker's ring costs ~1 ms to set up and tear down (one
/// small file: 7.2 ms with 4 workers, 4.0 with 1; cp 1.5).
fn default_jobs(cfg: &Config, per_cpu: bool) -> usize {
    let jobs = engine::workers::for_copy(per_cpu);
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
fn dest(cfg: &Config) -> &std::path::Path {
    match &cfg.target {
        config::Target::IntoDir(p) | config::Target::Exactly(p) | config::Target::Auto(p) => p,
    }
}

/// What the engines need to know of the configuration.
fn engine_options(
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
