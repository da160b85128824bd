//! Runs the FIB benchmark: `lpm_bench ROUTES KEYS [ROUNDS]` (ROUNDS defaults to 10).
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: lpm_bench ROUTES KEYS [ROUNDS]");
        return ExitCode::from(2);
    }
    let rounds = match args.get(3).map(|r| r.parse::<u32>()) {
        None => 10,
        Some(Ok(r)) => r,
        Some(Err(_)) => {
            eprintln!("ROUNDS must be a whole number");
            return ExitCode::from(2);
        }
    };
    match vnetsim_lpm::bench::run(Path::new(&args[1]), Path::new(&args[2]), rounds) {
        Ok(r) => {
            println!("{r}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
