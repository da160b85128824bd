//! `vnetsim reach`: every header from the sources to the destinations, as regions.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use vnetsim_engine::Outcome;
use vnetsim_jobs as jobs;
use vnetsim_jobs::reach::Sink;
use vnetsim_jobs::reach_report::ReportSink;
use vnetsim_jobs::reach_rows::{JsonSink, RowsSink, TextSink};

use crate::cli::{load, Output};

#[derive(Args, Debug)]
pub struct ReachArgs {
    pub topology: PathBuf,
    /// Sources: all, vnet:NAME, subnet:VNET/SUBNET, nic:NAME, site:NAME, internet or an
    /// address (repeatable; default all, or internet with --exposed)
    #[arg(long = "from")]
    pub from: Vec<String>,
    /// Destinations: the same, and pe:NAME (repeatable; default all)
    #[arg(long = "to")]
    pub to: Vec<String>,
    /// Only this protocol: tcp, udp, icmp or a number (default: every protocol)
    #[arg(long)]
    pub protocol: Option<String>,
    /// Only these destination ports, like 443 or 1-1024,8080 (TCP and UDP)
    #[arg(long)]
    pub ports: Option<String>,
    /// Leave these destination ports out, like 1433
    #[arg(long)]
    pub except_ports: Option<String>,
    /// Only regions that are reachable (the reply comes back)
    #[arg(long)]
    pub only_allowed: bool,
    /// Everything the sources (default: the Internet) deliver to the fabric, across public IPs
    /// and DNAT: regions whose request reaches a NIC, endpoint or service of the fabric
    #[arg(long)]
    pub exposed: bool,
    /// For each region that is not reachable (the first 32): every decision that stops its
    /// example header, with the change that lets it through (as trace --why; text, --json,
    /// and a blockers column in --out)
    #[arg(long)]
    pub why: bool,
    /// Write one row per region: .jsonl or .parquet, or - for JSON lines on standard output
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// An HTML report: a matrix of sources × destinations (VNet × VNet past 60 on a side)
    /// whose cells count reachable regions and open the regions of their pair
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Worker threads, at least 1 (default: one per core)
    #[arg(long, value_parser = crate::cli::parse_threads)]
    pub threads: Option<usize>,
    /// Header boxes held at once (classes found plus boxes still to split) before stopping
    /// with an error instead of running out of memory (each box is about 48 bytes)
    #[arg(long, default_value_t = vnetsim_reach::BOXES_HELD_MAX)]
    pub max_boxes: usize,
    #[command(flatten)]
    pub out_fmt: Output,
}

pub fn run_reach(a: ReachArgs) -> Result<u8, String> {
    let f = load(&a.topology)?;
    let why = if a.why {
        Some(jobs::reach::WhyInput {
            file: a.topology.display().to_string(),
            text: crate::import::topology_text(&a.topology)?,
        })
    } else {
        None
    };
    let q = jobs::reach::Question {
        from: a.from,
        to: a.to,
        protocol: a.protocol,
        ports: a.ports,
        except_ports: a.except_ports,
        only_allowed: a.only_allowed,
        exposed: a.exposed,
        max_boxes: a.max_boxes,
        why,
    };
    let plan = jobs::reach::plan(f, &q)?;
    let pool = crate::cli::thread_pool(a.threads)?;
    let job = jobs::Job {
        pool: &pool,
        progress: &|_| {},
    };
    let started = std::time::Instant::now();
    let mut sink: Box<dyn Sink> = match &a.out {
        Some(path) => Box::new(RowsSink::create(path, a.why)?),
        None if a.out_fmt.json() => Box::new(JsonSink::new(std::io::stdout().lock(), a.why)),
        None => Box::new(TextSink {
            out: std::io::BufWriter::new(std::io::stdout().lock()),
        }),
    };
    let mut report = a.report.clone().map(|p| ReportSink::new(f, &plan, p));
    let t = match report.as_mut() {
        Some(r) => jobs::reach::run(f, &q, &plan, &job, &mut [sink.as_mut(), r])?,
        None => jobs::reach::run(f, &q, &plan, &job, &mut [sink.as_mut()])?,
    };
    drop(sink);
    if t.blocked > t.explained && a.why {
        eprintln!(
            "--why: {} regions are not reachable; explained the first {}",
            t.blocked, t.explained
        );
    }
    let summary = format!(
        "{} classes walked ({} walks) for {} source(s) in {:.2?}; {} regions ({} reachable), {} rows",
        t.classes,
        t.walks,
        t.sources,
        started.elapsed(),
        t.regions,
        t.regions_by_outcome[Outcome::Reachable as usize],
        t.rows
    );
    if a.out.is_some() {
        eprintln!("{summary}");
    } else if !a.out_fmt.json() {
        // The reader may have gone (`| head`): nothing left to tell it.
        let _ = writeln!(std::io::stdout(), "{summary}");
    }
    Ok(0)
}
