//! The `uring-cp` binary: parse, validate, run, turn the outcome into an exit status.

use uring_cp::{config::Config, exit};

fn main() {
    let args = match uring_cp::cli::parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if args.version {
        print_version();
        return;
    }
    let code = match Config::from_args(args) {
        Ok(cfg) => uring_cp::run(cfg),
        Err(e) => {
            eprintln!("uring-cp: {e}\nTry 'uring-cp --help' for more information.");
            exit::USAGE
        }
    };
    std::process::exit(code);
}

fn print_version() {
    println!("uring-cp {}", env!("CARGO_PKG_VERSION"));
    match uring_cp::engine::uring::availability() {
        Ok(()) => println!("io_uring: available"),
        Err(why) => println!("io_uring: unavailable ({why})"),
    }
}
