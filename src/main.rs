//! The `vnetsim` command line: argument parsing and wiring only. The work is
//! done by the crates under `crates/` (see ARCHITECTURE.md).

/// Standard output that ends the process quietly when the reader goes away
/// (`vnetsim ... | head`), instead of panicking on the broken pipe.
macro_rules! print {
    ($($t:tt)*) => { $crate::stdout_write(format_args!($($t)*)) };
}
macro_rules! println {
    () => { $crate::stdout_write(format_args!("\n")) };
    ($($t:tt)*) => { $crate::stdout_write(format_args!("{}\n", format_args!($($t)*))) };
}

/// Standard error that never panics: a closed stderr pipe loses the message, not the run.
macro_rules! eprint {
    ($($t:tt)*) => { $crate::stderr_write(format_args!($($t)*)) };
}
macro_rules! eprintln {
    () => { $crate::stderr_write(format_args!("\n")) };
    ($($t:tt)*) => { $crate::stderr_write(format_args!("{}\n", format_args!($($t)*))) };
}

pub fn stderr_write(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(args);
}

pub fn stdout_write(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(2);
    }
}

mod bench;
mod cli;
mod flowlogs;
mod flows;
mod import;
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
