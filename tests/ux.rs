//! What a person or a script sees: the progress bar in a real terminal (a
//! pseudo-terminal made by util-linux `script`), no escape codes in pipes,
//! `--stats` and `--stats=json`, `-q`, the bash completion, and the man page.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

const FILES: usize = 2000;

/// `FILES` small files in 20 directories, 10 symlinks; returns the bytes.
fn tree(root: &Path) -> u64 {
    let mut bytes = 0;
    for i in 0..FILES {
        let dir = root.join(format!("src/d{:02}", i % 20));
        std::fs::create_dir_all(&dir).unwrap();
        let data = vec![b'x'; (i * 37) % 5000];
        bytes += data.len() as u64;
        std::fs::write(dir.join(format!("f{i}")), data).unwrap();
    }
    for i in 0..10 {
        std::os::unix::fs::symlink(format!("d00/f{i}"), root.join(format!("src/l{i}"))).unwrap();
    }
    bytes
}

/// Run a shell command line in a pseudo-terminal; returns what the terminal
/// received, escape codes included. `None` (after a SKIP) without `script`.
fn in_terminal(cmdline: &str, cwd: &Path) -> Option<(i32, Vec<u8>)> {
    let out = match Command::new("script")
        .args(["-q", "-e", "-c", cmdline, "/dev/null"])
        .current_dir(cwd)
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            skip(&format!(
                "no pseudo-terminal: util-linux `script` cannot run ({e})"
            ));
            return None;
        }
    };
    Some((out.status.code().unwrap_or(-1), out.stdout))
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[test]
fn progress_bar_in_a_terminal_shows_the_final_count_then_clears() {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    for engine in engines() {
        let cmd = format!("{BIN} --engine {engine} -r --progress src dst-{engine}");
        let Some((code, screen)) = in_terminal(&cmd, tmp.path()) else {
            return;
        };
        let text = show(&screen);
        assert_eq!(code, 0, "[{engine}] {text}");
        // The final frame: every file counted, the total final (no '+').
        let last = format!("{FILES}/{FILES} files").replace("2000", "2,000");
        let at = rfind(&screen, last.as_bytes())
            .unwrap_or_else(|| panic!("[{engine}] no final frame {last:?} in {text}"));
        // Then the line is cleared and nothing else is written.
        let rest = &screen[at..];
        let clear = rfind(rest, b"\x1b[2K")
            .unwrap_or_else(|| panic!("[{engine}] bar not cleared after the final frame: {text}"));
        assert!(
            rest[clear + 4..].iter().all(|b| b.is_ascii_whitespace()),
            "[{engine}] output after the bar was cleared: {text}"
        );
        assert_snapshots_eq(
            engine,
            &snapshot(&tmp.path().join("src")),
            &snapshot(&tmp.path().join(format!("dst-{engine}"))),
            "source",
            "copy",
        );
    }
}

#[test]
fn no_bar_for_a_short_run_in_a_terminal_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    // Three files: done in well under the one-second delay, even on a busy machine.
    std::fs::create_dir(tmp.path().join("src")).unwrap();
    for i in 0..3 {
        std::fs::write(tmp.path().join(format!("src/f{i}")), b"data").unwrap();
    }
    let cmd = format!("{BIN} -r src dst");
    let started = std::time::Instant::now();
    let Some((code, screen)) = in_terminal(&cmd, tmp.path()) else {
        return;
    };
    assert_eq!(code, 0, "{}", show(&screen));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "the run was not short"
    );
    assert_eq!(
        count(&screen, b"\x1b"),
        0,
        "escape codes for a run shorter than a second: {}",
        show(&screen)
    );
    // --no-progress and -q: never, even when asked for with --progress first.
    for flags in ["--progress --no-progress", "--progress -q"] {
        let cmd = format!("{BIN} -r {flags} src dst-{}", flags.len());
        let (code, screen) = in_terminal(&cmd, tmp.path()).unwrap();
        assert_eq!(code, 0, "{flags}: {}", show(&screen));
        assert!(screen.is_empty(), "{flags}: {}", show(&screen));
    }
}

#[test]
fn no_escape_codes_reach_a_pipe() {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    for (i, extra) in [&[][..], &["--progress"][..], &["-v"][..]]
        .iter()
        .enumerate()
    {
        let out = Command::new(BIN)
            .args(*extra)
            .args(["-r", "src"])
            .arg(format!("dst{i}"))
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{extra:?}");
        assert!(
            !out.stderr.contains(&0x1b) && !out.stdout.contains(&0x1b),
            "{extra:?}: escape codes in a pipe: {} / {}",
            show(&out.stdout),
            show(&out.stderr)
        );
    }
}

#[test]
fn stats_json_counts_what_was_copied() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = tree(tmp.path());
    for engine in engines() {
        let dst = format!("dst-{engine}");
        let out = Command::new(BIN)
            .args(["--engine", engine, "-r", "--stats=json", "src", &dst])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "[{engine}] {}",
            show(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "[{engine}] not one JSON object ({e}): {}",
                show(&out.stdout)
            )
        });
        assert_eq!(v["files"], FILES as u64, "[{engine}] {v}");
        assert_eq!(
            v["directories"], 21,
            "[{engine}] src and its 20 subdirectories: {v}"
        );
        assert_eq!(v["symlinks"], 10, "[{engine}] {v}");
        assert_eq!(v["bytes"], bytes, "[{engine}] {v}");
        assert_eq!(v["skipped"], 0, "[{engine}] {v}");
        assert_eq!(v["failed"], 0, "[{engine}] {v}");
        assert!(
            v["elapsed_seconds"].as_f64().unwrap() > 0.0,
            "[{engine}] {v}"
        );
        let ring = &v["io_uring"];
        let (sub, enters) = (
            ring["submissions"].as_u64().unwrap(),
            ring["enter_calls"].as_u64().unwrap(),
        );
        assert_eq!(
            ring["syscalls_saved"],
            sub.saturating_sub(enters),
            "[{engine}] {v}"
        );
        let name = match engine {
            "uring-chains" => "io_uring-chains",
            "uring" => "io_uring",
            other => other,
        };
        assert_eq!(v["engine"], name, "[{engine}] {v}");
        if engine == "portable" || engine == "walkers" {
            assert_eq!(sub, 0, "[{engine}] {v}");
        } else {
            assert!(sub > 0 && enters > 0 && enters < sub, "[{engine}] {v}");
            assert!(ring["completions"].as_u64().unwrap() > 0, "[{engine}] {v}");
        }
    }
}

#[test]
fn stats_text_and_failures() {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    let run = || {
        Command::new(BIN)
            .args([
                "--engine",
                "portable",
                "-r",
                "--stats",
                "src",
                "missing-source",
                "dst",
            ])
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };
    // dst does not exist and there are two sources: cp's refusal, nothing copied.
    let out = run();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out.stderr));
    std::fs::create_dir(tmp.path().join("dst")).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "Files: 2,000\n",
        "Directories: 21\n",
        "Symlinks: 10\n",
        "Failed: 1\n",
        "Engine: portable\n",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("uring-cp: cannot stat 'missing-source': No such file or directory"),
        "{}",
        show(&out.stderr)
    );
}

#[test]
fn quiet_keeps_errors_and_drops_notes() {
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    let out = Command::new(BIN)
        .args(["-r", "--debug", "src", "dst"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(
        show(&out.stderr).contains("engine"),
        "--debug names the engine: {}",
        show(&out.stderr)
    );
    // -v prints what cp -v prints, and nothing else (the engine is --debug's).
    let out = Command::new(BIN)
        .args(["-rv", "src", "dst-v"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.stderr.is_empty(), "{}", show(&out.stderr));
    let out = Command::new(BIN)
        .args(["-r", "--debug", "-q", "src", "dst2", "nonexistent"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("engine"), "-q: {err}");
    assert!(
        err.contains("'nonexistent'"),
        "-q still reports errors: {err}"
    );
}

#[test]
fn bash_completion_completes_options() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/uring-cp.bash");
    let prog = format!(
        "source {}; COMP_WORDS=(uring-cp --sta); COMP_CWORD=1; COMP_LINE='uring-cp --sta'; \
         COMP_POINT=${{#COMP_LINE}}; _uring__cp uring-cp --sta uring-cp; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = match Command::new("bash").args(["-c", &prog]).output() {
        Ok(o) => o,
        Err(e) => {
            skip(&format!("bash cannot run: {e}"));
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.trim() == "--stats"),
        "completing --sta: {text:?} {}",
        show(&out.stderr)
    );
}

#[test]
fn man_page_renders_without_warnings() {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("man/uring-cp.1");
    let out = match Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&page)
        .env("MANWIDTH", "80")
        .env_remove("MAN_KEEP_FORMATTING")
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            skip(&format!("man cannot run ({e}); .ci/run installs man-db"));
            return;
        }
    };
    assert_eq!(out.status.code(), Some(0), "{}", show(&out.stderr));
    assert!(out.stderr.is_empty(), "man warnings: {}", show(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for section in [
        "EXIT STATUS",
        "ENGINES",
        "EXAMPLES",
        "ENVIRONMENT",
        "--stats",
    ] {
        assert!(
            text.contains(section),
            "{section} missing from the man page"
        );
    }
}

/// Without -j, a copy of files named on the command line (no tree) starts no
/// more workers than there are files: each ring costs ~1 ms to set up. A tree
/// gets the default, also when named beside files.
#[test]
fn named_files_start_no_more_workers_than_files() {
    let env = TestEnv::new();
    env.build(|fx| {
        fx.dir("d/sub", 0o755);
        fx.file("d/sub/x", 0o644, "x\n");
        fx.file("a", 0o644, "a\n");
        fx.file("b", 0o644, "b\n");
        fx.dir("two", 0o755);
    });
    // The engine line of `--debug`, after a successful copy.
    let engine_line = |engine: &str, args: &[&str]| {
        let mut all = vec!["--debug"];
        all.extend_from_slice(args);
        let out = run_uring_cp(engine, &[], &all, &env.ours.root, &RunOpts::default());
        assert_eq!(out.code, Some(0), "[{engine}] {args:?}: {out}");
        out.stderr_str()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    for engine in engines_and_ring_reads() {
        if engine.starts_with("uring-chains") {
            continue; // -j counts rings there, and ONE_RING sets it
        }
        let one = engine_line(engine, &["a", "one"]);
        assert!(one.ends_with(" 1 worker"), "[{engine}] {one}");
        assert_eq!(env.ours.read("one"), b"a\n");
        let two = engine_line(engine, &["a", "b", "two"]);
        assert!(two.ends_with(" 2 workers"), "[{engine}] {two}");
        assert_eq!(env.ours.read("two/b"), b"b\n");
        let tree = engine_line(engine, &["-r", "d", "tree"]);
        let mixed = engine_line(engine, &["-r", "a", "d", "two"]);
        assert_eq!(mixed, tree, "[{engine}] a file beside a tree");
        assert_eq!(env.ours.read("two/d/sub/x"), b"x\n");
        for d in ["one", "two/a", "two/b", "two/d", "tree"] {
            let p = env.ours.p(d);
            std::fs::remove_dir_all(&p)
                .or_else(|_| std::fs::remove_file(&p))
                .unwrap();
        }
    }
}

/// -j N sets the workers of the multi-worker engines (`--debug` says how
/// many); every N copies the same tree; 0 is a usage error.
#[test]
fn jobs_sets_the_workers() {
    let env = TestEnv::new();
    env.build(|fx| {
        fx.dir("src/a/b", 0o755);
        for i in 0..50 {
            fx.file(format!("src/a/f{i}"), 0o644, format!("{i}\n").repeat(i + 1));
            fx.file(format!("src/a/b/g{i}"), 0o600, format!("g{i}\n"));
        }
    });
    for engine in engines_and_ring_reads() {
        for jobs in ["1", "3", "17"] {
            let dst = format!("dst-{engine}-{jobs}");
            let out = run_uring_cp(
                engine,
                &["-r", "--debug", "-j", jobs],
                &["src", dst.as_str()],
                &env.ours.root,
                &RunOpts::default(),
            );
            let ctx = format!("[engine={engine}, -j {jobs}]");
            assert_eq!(out.code, Some(0), "{ctx}: {out}");
            if engine != "uring-chains" {
                let want = match jobs {
                    "1" => "1 worker\n".to_string(),
                    n => format!("{n} workers\n"),
                };
                assert!(out.stderr_str().contains(&want), "{ctx}: {out}");
            }
            assert_snapshots_eq(
                &ctx,
                &snapshot(&env.ours.root.join(&dst)),
                &snapshot(&env.ours.root.join("src")),
                "copy",
                "source",
            );
        }
    }
    let out = run_uring_cp(
        "portable",
        &["-r", "-j", "0"],
        &["src", "dst0"],
        &env.ours.root,
        &RunOpts::default(),
    );
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr_str().contains("--jobs"), "{out}");
    assert!(!env.ours.root.join("dst0").exists());
}
