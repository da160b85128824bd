//! `cargo run -p vnetsim-import --example import -- SOURCE... [--report] [--json]`
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = vnetsim_import::ImportOptions::default();
    let mut sources = Vec::new();
    let (mut report, mut json, mut quiet) = (false, false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--report" => report = true,
            "--json" => json = true,
            "--quiet" => quiet = true,
            "--assume-firewall-ip" => opts.assume_firewall_ip = true,
            "--subscription-id" => opts.subscription_id = it.next().cloned(),
            "--resource-group" => opts.resource_group = it.next().cloned(),
            "--location" => opts.location = it.next().cloned(),
            "--template-root" => {
                if let Some((k, v)) = it.next().and_then(|s| s.split_once('=')) {
                    opts.template_roots.push((k.to_string(), PathBuf::from(v)));
                }
            }
            "--set" => {
                if let Some((k, v)) = it.next().and_then(|s| s.split_once('=')) {
                    opts.sets.push((k.to_string(), v.to_string()));
                }
            }
            _ => sources.push(PathBuf::from(a)),
        }
    }
    let t = std::time::Instant::now();
    match vnetsim_import::import(&sources, &opts) {
        Ok(i) => {
            eprintln!("imported in {:.3} s", t.elapsed().as_secs_f64());
            if !quiet {
                print!("{}", i.yaml);
            }
            if report {
                print!(
                    "{}",
                    if json {
                        i.report.to_json()
                    } else {
                        i.report.to_text()
                    }
                );
            }
            for w in &i.warnings {
                eprintln!("{w}");
            }
        }
        Err(e) => {
            eprint!("{e}");
            std::process::exit(2);
        }
    }
}
