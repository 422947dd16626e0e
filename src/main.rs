//! The `uring-cp` binary: parse, validate, run, turn the outcome into an exit status.

use clap::error::ErrorKind;
use uring_cp::{config::Config, exit};

fn main() {
    let args = match uring_cp::cli::parse() {
        Ok(a) => a,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            std::process::exit(exit::OK);
        }
        Err(e) => usage_error(&clap_message(&e)),
    };
    if args.version {
        print_version();
        return;
    }
    let code = match Config::from_args(args) {
        Ok(cfg) => uring_cp::run(cfg),
        Err(e) => usage_error(&e.to_string()),
    };
    std::process::exit(code);
}

/// Report a command line that cannot be run as cp does: the problem, then
/// where to read more, naming the program as it was invoked; exit status 1
/// (cp's and rsync's status for a usage error).
fn usage_error(msg: &str) -> ! {
    eprintln!("uring-cp: {msg}\n{}", uring_cp::try_help());
    std::process::exit(exit::USAGE)
}

/// clap's message without its `error: ` prefix and usage block: the first
/// line, plus any `tip:` lines (they suggest the option meant).
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let mut msg = first.strip_prefix("error: ").unwrap_or(first).to_string();
    for tip in lines.filter_map(|l| l.trim().strip_prefix("tip: ")) {
        msg.push_str(&format!("\n  ({tip})"));
    }
    msg
}

fn print_version() {
    println!("uring-cp {}", env!("CARGO_PKG_VERSION"));
    match uring_cp::engine::uring::availability() {
        Ok(()) => println!("io_uring: available"),
        Err(why) => println!("io_uring: unavailable ({why})"),
    }
}
