//! `vnetsim reach`: every header from the sources to the destinations, as regions.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use vnetsim_engine::sweep::{resolve, Side};
use vnetsim_engine::{Outcome, Scratch, Verdict};
use vnetsim_fabric::Endpoint;
use vnetsim_reach as reach;

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
    /// example header, with the change that lets it through (as trace --why; text and --json)
    #[arg(long, conflicts_with = "out")]
    pub why: bool,
    /// Write one row per region: .jsonl or .parquet, or - for JSON lines on standard output
    #[arg(long)]
    pub out: Option<PathBuf>,
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

/// Parses `443`, `1-1024,8080` (a `tcp/` or `udp/` prefix on an item is accepted and ignored).
pub fn parse_port_ranges(s: &str) -> Result<Vec<(u16, u16)>, String> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let n = item.rsplit_once('/').map_or(item, |x| x.1);
        let (a, b) = n.split_once('-').unwrap_or((n, n));
        let (Ok(lo), Ok(hi)) = (a.trim().parse::<u16>(), b.trim().parse::<u16>()) else {
            return Err(format!(
                "error: invalid port '{item}'; expected N or N-M (0-65535)"
            ));
        };
        if lo > hi {
            return Err(format!(
                "error: invalid port range '{item}' (the first port is above the last)"
            ));
        }
        out.push((lo, hi));
    }
    if out.is_empty() {
        return Err("error: no ports given".into());
    }
    Ok(out)
}

pub fn run_reach(a: ReachArgs) -> Result<u8, String> {
    let f = load(&a.topology)?;
    let scope = reach::Scope {
        protocol: a
            .protocol
            .as_deref()
            .map(crate::cli::parse_protocol)
            .transpose()?,
        ports: a.ports.as_deref().map(parse_port_ranges).transpose()?,
        except_ports: a
            .except_ports
            .as_deref()
            .map(parse_port_ranges)
            .transpose()?
            .unwrap_or_default(),
    };
    let from = if a.from.is_empty() && a.exposed {
        vec!["internet".to_string()]
    } else {
        a.from.clone()
    };
    let src_probes = resolve(&f, &from, Side::Source).map_err(|e| format!("error: --from: {e}"))?;
    let dst_probes =
        resolve(&f, &a.to, Side::Destination).map_err(|e| format!("error: --to: {e}"))?;
    let all_dests = a.to.is_empty() || a.to.iter().any(|x| x == "all");
    let sources = reach::sources(&f, &src_probes, &scope);
    let dests = reach::dests(&f, &dst_probes);
    let tables = reach::tables::Tables::new(&f);
    let pool = crate::cli::thread_pool(a.threads)?;
    let started = std::time::Instant::now();
    let (p, regions, rows, owners) = pool.install(|| -> Result<_, String> {
        let p = reach::partition_within(
            &f,
            &tables,
            &sources,
            &reach::dest_cuts(&f, &dests),
            a.max_boxes,
        )
        .map_err(|e| format!("error: reach: {e} (--max-boxes sets the bound)"))?;
        // A region with several ways (hashed choices) is kept when one of them is.
        let keep = |s: &reach::Signature| {
            let delivered = s.keys().any(|k| {
                k.forward.verdict == Verdict::Delivered
                    && k.forward.delivered_to != Some(Endpoint::Internet)
            });
            let reachable = s.keys().any(|k| k.outcome == Outcome::Reachable);
            (!a.only_allowed || reachable) && (!a.exposed || delivered)
        };
        let regions = reach::regions(&f, &p, &dests, all_dests, keep);
        let mut s = Scratch::new();
        let mut rows: Vec<reach::render::RegionRow> = Vec::new();
        // The region each row belongs to.
        let mut owners: Vec<usize> = Vec::new();
        for (i, r) in regions.iter().enumerate() {
            let more = reach::render::region_rows(&f, &sources, &dests, &p, r, &mut s);
            owners.extend(std::iter::repeat_n(i, more.len()));
            rows.extend(more);
        }
        Ok((p, regions, rows, owners))
    })?;
    let whys = if a.why {
        explain_regions(&a, &p, &regions, &sources)?
    } else {
        Vec::new()
    };
    let why_of = |i: usize| whys.iter().find(|(r, _)| *r == owners[i]).map(|(_, w)| w);
    let elapsed = started.elapsed();
    let summary = format!(
        "{} classes walked ({} walks) for {} source(s) in {:.2?}; {} regions, {} rows",
        p.classes.len(),
        p.walks,
        sources.len(),
        elapsed,
        regions.len(),
        rows.len()
    );
    if let Some(path) = &a.out {
        write_rows(path, &rows)?;
        eprintln!("{summary}");
        return Ok(0);
    }
    if a.out_fmt.json() {
        let mut v = serde_json::json!({
            "classes": p.classes.len(),
            "walks": p.walks,
            "sources": sources.len(),
            "regions": rows,
        });
        if a.why {
            let w: Vec<serde_json::Value> = (0..rows.len())
                .filter_map(|i| {
                    why_of(i).map(|w| {
                        let mut x = w.json();
                        x["row"] = i.into();
                        x["example"] = rows[i].example.clone().into();
                        x
                    })
                })
                .collect();
            v["why"] = w.into();
        }
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return Ok(0);
    }
    let mut out = std::io::stdout().lock();
    for (i, r) in rows.iter().enumerate() {
        if writeln!(out, "{}", reach::render::text(r)).is_err() {
            return Ok(0);
        }
        if let Some(w) = why_of(i) {
            let text = w.text();
            for line in text.lines() {
                if writeln!(out, "    {line}").is_err() {
                    return Ok(0);
                }
            }
        }
    }
    let _ = writeln!(out, "{summary}");
    Ok(0)
}

/// Regions `reach --why` explains at most.
const WHY_REGIONS: usize = 32;

/// `trace --why` on the example header of each region that is not reachable (the first
/// [`WHY_REGIONS`]): (region index, its blockers).
fn explain_regions(
    a: &ReachArgs,
    p: &reach::Partition,
    regions: &[reach::Region],
    sources: &[reach::Source],
) -> Result<Vec<(usize, vnetsim_why::Why)>, String> {
    let text = crate::import::topology_text(&a.topology)?;
    let file = a.topology.display().to_string();
    let blocked: Vec<usize> = (0..regions.len())
        .filter(|&i| p.signatures[regions[i].sig as usize].key.outcome != Outcome::Reachable)
        .collect();
    if blocked.len() > WHY_REGIONS {
        eprintln!(
            "--why: {} regions are not reachable; explaining the first {WHY_REGIONS}",
            blocked.len()
        );
    }
    let mut out = Vec::new();
    for i in blocked.into_iter().take(WHY_REGIONS) {
        let r = &regions[i];
        let (flow, ingress) = (
            r.boxes[0].representative(),
            sources[r.source as usize].endpoint,
        );
        let probe =
            |f: &vnetsim_fabric::Fabric, s: &mut Scratch| Ok(reach::walk(f, ingress, flow, s));
        out.push((i, vnetsim_why::explain(&file, &text, &probe)?));
    }
    Ok(out)
}

const COLUMNS: [&str; 18] = [
    "from",
    "to",
    "src",
    "dst",
    "protocols",
    "outcome",
    "deliveredTo",
    "droppedAt",
    "rule",
    "reason",
    "srcSeen",
    "dstSeen",
    "path",
    "returnPath",
    "example",
    "classes",
    "ways",
    "otherWays",
];

fn write_rows(path: &std::path::Path, rows: &[reach::render::RegionRow]) -> Result<(), String> {
    let err = |e: String| format!("error: cannot write {}: {e}", path.display());
    let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("");
    if path.as_os_str() != "-" && ext == "parquet" {
        let table: Vec<Vec<Option<String>>> = rows
            .iter()
            .map(|r| {
                let v = serde_json::to_value(r).expect("row");
                COLUMNS
                    .iter()
                    .map(|c| match &v[*c] {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(s.clone()),
                        x => Some(x.to_string()),
                    })
                    .collect()
            })
            .collect();
        let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
        return vnetsim_report::table::write_text_parquet(file, &COLUMNS, &table)
            .map_err(|e| err(e.to_string()));
    }
    if path.as_os_str() != "-" && ext != "jsonl" {
        return Err(format!(
            "error: --out {}: expected a .jsonl or .parquet file, or -",
            path.display()
        ));
    }
    let mut w: Box<dyn Write> = if path.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| err(e.to_string()))?,
        ))
    };
    for r in rows {
        let line = serde_json::to_string(r).expect("row");
        if let Err(e) = writeln!(w, "{line}") {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(err(e.to_string()));
        }
    }
    w.flush().map_err(|e| err(e.to_string()))
}
