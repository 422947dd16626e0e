//! uring-cp: copy files and trees with GNU cp semantics on an io_uring engine.
//!
//! The pipeline: [`cli`] parses, [`config`] validates, [`plan`] resolves the
//! operands against the filesystem (cp's path rules and refusals), a [`walk`]er
//! thread streams the source tree as [`tree::Item`]s through a bounded channel,
//! and an [`engine`] creates them at the destination, reporting to a
//! [`progress::Progress`]. See ARCHITECTURE.md.

mod addrspace;
pub mod cli;
pub mod config;
mod descriptors;
pub mod engine;
pub mod error;
mod exhausted;
pub mod exit;
pub mod filter;
pub mod interrupt;
pub mod meta;
pub mod plan;
pub mod progress;
mod startup;
pub mod sync;
pub mod threads;
pub mod tree;
pub mod walk;

use config::Config;

#[global_allocator]
static ALLOCATOR: exhausted::ExitWhenExhausted = exhausted::ExitWhenExhausted;
use progress::{Console, Progress};
use std::io::Write;
use std::sync::Arc;

/// cp's pointer after a usage error, naming the program as it was invoked.
pub fn try_help() -> String {
    let argv0 = std::env::args_os()
        .next()
        .map_or_else(|| "uring-cp".into(), |a| a.to_string_lossy().into_owned());
    format!("Try '{argv0} --help' for more information.")
}

/// Run a copy described by `cfg`; returns the exit status.
///
/// The phases: refuse what cannot be done at all, pick the engine, plan the
/// operands (cp's path rules; nothing is copied yet), copy (walker, engine
/// and finisher), then what must come after every write (`--parents`'
/// directories, `--fsync`), the statistics and the exit status.
pub fn run(cfg: Config) -> i32 {
    let start = std::time::Instant::now();
    addrspace::economize_under_a_limit();
    interrupt::install();
    descriptors::reserve_table(descriptors::raise_limit());
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
        startup::dest(&cfg),
        cfg.reflink,
    );
    let opts = startup::engine_options(&cfg, &archive, &links);
    let (mut engine, cold) = match startup::start_engine(&cfg, opts, clones, &*progress) {
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
    exit::status(console)
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
