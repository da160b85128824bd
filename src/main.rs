//! The `vnetsim` command line: argument parsing and wiring only. The work is
//! done by the crates under `crates/` (see ARCHITECTURE.md).

mod bench;
mod cli;
mod flows;
mod replay;
mod watcher;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprint!("{e}");
            if !e.ends_with('\n') {
                eprintln!();
            }
            ExitCode::from(2)
        }
    }
}
