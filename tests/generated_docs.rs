//! The man page and shell completions are generated from the clap definition
//! and committed. This test regenerates them and fails when the committed
//! files are stale. To refresh them:
//!
//!     UPDATE_GENERATED=1 cargo test --test generated_docs

use clap::CommandFactory;
use clap_complete::Shell;
use roff::{Roff, bold, roman};
use std::path::{Path, PathBuf};
use uring_cp::cli::Args;
use uring_cp::cli::manual::{Para, SECTIONS};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// clap_mangen's sections, then ours (`uring_cp::cli::manual`) in place of
/// the `--help` footer.
fn man_page() -> Vec<u8> {
    let man = clap_mangen::Man::new(Args::command());
    let mut out = Vec::new();
    let rendered: std::io::Result<()> = (|| {
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        man.render_options_section(&mut out)?;
        let mut roff = Roff::new();
        for (title, paras) in SECTIONS {
            roff.control("SH", [*title]);
            for p in *paras {
                match p {
                    Para::Text(t) => {
                        roff.control("PP", []).text([roman(*t)]);
                    }
                    Para::Item(term, desc) => {
                        roff.control("TP", [])
                            .text([bold(*term)])
                            .text([roman(*desc)]);
                    }
                    Para::Example(lines) => {
                        roff.control("PP", [])
                            .control("RS", ["4"])
                            .control("nf", []);
                        for l in *lines {
                            roff.text([roman(*l)]);
                        }
                        roff.control("fi", []).control("RE", []);
                    }
                }
            }
        }
        roff.to_writer(&mut out)
    })();
    rendered.expect("rendering into a Vec cannot fail");
    out
}

fn completion(shell: Shell) -> (String, Vec<u8>) {
    let mut cmd = Args::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "uring-cp", &mut out);
    let name = match shell {
        Shell::Bash => "uring-cp.bash".to_string(),
        Shell::Zsh => "_uring-cp".to_string(),
        Shell::Fish => "uring-cp.fish".to_string(),
        Shell::Elvish => "uring-cp.elv".to_string(),
        Shell::PowerShell => "_uring-cp.ps1".to_string(),
        other => format!("uring-cp.{other}"),
    };
    (name, out)
}

fn check(path: &Path, want: &[u8], stale: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(path, want).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    match std::fs::read(path) {
        Ok(have) if have == want => {}
        _ => stale.push(path.display().to_string()),
    }
}

#[test]
fn man_page_and_completions_are_current() {
    let mut stale = Vec::new();
    check(&root().join("man/uring-cp.1"), &man_page(), &mut stale);
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let (name, text) = completion(shell);
        check(&root().join("completions").join(name), &text, &mut stale);
    }
    assert!(
        stale.is_empty(),
        "generated files are stale: {stale:?}\nrun: UPDATE_GENERATED=1 cargo test --test generated_docs"
    );
}
