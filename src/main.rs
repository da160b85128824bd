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

/// mimalloc: loading a fabric makes millions of small allocations (a string per scalar, a
/// vector per rule side), and glibc's allocator spent a third of a load's instructions on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod cli;
mod duties;
mod flowlogs;
mod flows;
mod import;
mod reach;
mod replay;
mod trace;
use vnetsim_jobs::watcher;

use std::process::ExitCode;

use clap::Parser;

/// A compiled fabric file passes its checksum and the layout checks of its route tables and
/// classifiers, but a crafted one can still hold an index out of range somewhere else: the
/// panic that follows is reported as that file's error (exit 2), not as a crash. Any other
/// panic keeps the default report.
fn report_compiled_input_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| match cli::COMPILED_INPUT.get() {
        Some(p) => {
            eprintln!(
                "{}: error: the compiled fabric is inconsistent ({}); compile it again from its topology with `vnetsim compile`",
                p.display(),
                info.payload_as_str().unwrap_or("an index out of range")
            );
            std::process::exit(2);
        }
        None => default(info),
    }));
}

fn main() -> ExitCode {
    report_compiled_input_panics();
    let json = wants_json();
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) if json && e.use_stderr() => {
            let text = e.render().to_string();
            println!("{}", error_json(&text));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) if json => {
            println!("{}", error_json(&e));
            ExitCode::from(2)
        }
        Err(e) => {
            eprint!("{e}");
            if !e.ends_with('\n') {
                eprintln!();
            }
            ExitCode::from(2)
        }
    }
}

/// Whether the command line asks for JSON (`--json`, `--format json`), read before parsing so
/// that a parse error is JSON too.
fn wants_json() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.iter().any(|a| a == "--json" || a == "--format=json")
        || args
            .windows(2)
            .any(|w| w[0] == "--format" && w[1] == "json")
}

/// An error as JSON on standard output: the whole text, and each located line
/// (`FILE:LINE:COLUMN: error: MESSAGE`) as a diagnostic with its parts.
fn error_json(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let diagnostics: Vec<serde_json::Value> = lines.iter().filter_map(|l| located(l)).collect();
    let message = lines
        .first()
        .map(|l| l.trim_start_matches("error: ").to_string())
        .unwrap_or_default();
    serde_json::to_string_pretty(&serde_json::json!({
        "error": { "message": message, "diagnostics": diagnostics, "text": text.trim_end() }
    }))
    .expect("json")
}

/// `FILE:LINE:COLUMN: [error: |warning: ]MESSAGE` into its parts.
fn located(line: &str) -> Option<serde_json::Value> {
    // The first ":LINE:COLUMN: " in the line ends the file name (which may hold colons).
    for (i, _) in line.match_indices(':') {
        let rest = &line[i + 1..];
        let l_end = rest.find(':')?;
        let (l, after) = (&rest[..l_end], &rest[l_end + 1..]);
        let Ok(line_no) = l.parse::<u64>() else {
            continue;
        };
        let c_end = after.find(": ")?;
        let Ok(col) = after[..c_end].parse::<u64>() else {
            continue;
        };
        let msg = &after[c_end + 2..];
        let (severity, msg) = match msg.split_once(": ") {
            Some((s @ ("error" | "warning"), m)) => (s, m),
            _ => ("error", msg),
        };
        return Some(serde_json::json!({
            "file": &line[..i], "line": line_no, "column": col, "severity": severity, "message": msg,
        }));
    }
    None
}
