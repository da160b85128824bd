//! `replay` (captures through the fabric) and `synth` (captures of a topology's traffic).

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use vnetsim_engine::replay::{build_table, AddressMap, FlowTable};
use vnetsim_engine::sweep::{self, Matrix, Side};
use vnetsim_engine::ICMP;
use vnetsim_report::FlowRow;

use vnetsim_jobs::replay;
use vnetsim_jobs::sweep::write_rows;

use crate::cli::{load, parse_endpoint, Output};
use crate::flows::{bar, Selectors};

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Flow,
    Packet,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    pub topology: PathBuf,
    /// pcap or pcapng files, replayed in the order given; or flow logs (blobs, JSON lines,
    /// gzip, folders as stored), detected by content or forced with --flow-logs
    #[arg(required = true)]
    pub captures: Vec<PathBuf>,
    /// The inputs are VNet or NSG flow logs
    #[arg(long)]
    pub flow_logs: bool,
    /// Flow logs: every finding where the model and the log disagree (.csv, .jsonl, .parquet)
    #[arg(long)]
    pub drift_out: Option<PathBuf>,
    /// Flow logs: exit 1 when the model and the log disagree (or --against decides differently)
    #[arg(long)]
    pub fail_on_drift: bool,
    /// Flow logs: a second topology; lists the logged flows it decides differently
    #[arg(long, value_name = "NEW")]
    pub against: Option<PathBuf>,
    /// Rows per flow or per packet (.csv, .jsonl, .parquet)
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "flow")]
    pub per: Per,
    /// Every packet enters here instead of at the endpoint owning its source address
    #[arg(long)]
    pub from: Option<String>,
    /// For each delivery endpoint, a pcap of the packets as it receives them
    #[arg(long)]
    pub pcap_out: Option<PathBuf>,
    /// Re-address a capture taken elsewhere: OLD/LEN=NEW/LEN (repeatable; host bits kept,
    /// the first matching rule applies)
    #[arg(long = "map", value_name = "OLD/LEN=NEW/LEN")]
    pub map: Vec<String>,
    /// Worker threads, at least 1 (default: one per core): the flow table is kept by as many
    /// threads beside the capture reader, and the distinct flows walked by as many
    #[arg(long, value_parser = crate::cli::parse_threads)]
    pub threads: Option<usize>,
    /// Write a self-contained HTML report (heat map of the flows with drill-down, summaries)
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// How many top rules and drop points the summary lists
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Walk only part I of N (0-based): the flows whose canonical bidirectional 5-tuple
    /// hashes to I (64-bit FNV-1a modulo N), each flow's packets kept together
    #[arg(long, value_name = "I/N", value_parser = vnetsim_jobs::shard::Shard::parse)]
    pub shard: Option<vnetsim_jobs::shard::Shard>,
    #[command(flatten)]
    pub out_fmt: Output,
}

pub fn run_replay(a: ReplayArgs) -> Result<u8, String> {
    if a.flow_logs || crate::flowlogs::looks_like_flow_logs(&a.captures) {
        let capture_only = [
            ("--pcap-out", a.pcap_out.is_some()),
            ("--per packet", a.per == Per::Packet),
            ("--map", !a.map.is_empty()),
            ("--from", a.from.is_some()),
            ("--shard", a.shard.is_some()),
        ];
        if let Some((flag, _)) = capture_only.iter().find(|(_, on)| *on) {
            return Err(format!(
                "error: {flag} applies to packet captures; these inputs are flow logs (a flow log has no packets to rewrite, and each logged flow enters at the NIC that logged it)"
            ));
        }
        return crate::flowlogs::run(crate::flowlogs::FlowReplay {
            topology: &a.topology,
            logs: &a.captures,
            out: a.out.as_deref(),
            drift_out: a.drift_out.as_deref(),
            against: a.against.as_deref(),
            fail_on_drift: a.fail_on_drift,
            threads: a.threads,
            top: a.top,
            json: a.out_fmt.json(),
            report: a.report.as_deref(),
        });
    }
    let log_only = [
        ("--drift-out", a.drift_out.is_some()),
        ("--against", a.against.is_some()),
        ("--fail-on-drift", a.fail_on_drift),
    ];
    if let Some((flag, _)) = log_only.iter().find(|(_, on)| *on) {
        return Err(format!(
            "error: {flag} applies to flow logs; these inputs are packet captures (give --flow-logs if they are flow logs that were not recognised)"
        ));
    }
    let f = load(&a.topology)?;
    let from = a
        .from
        .as_deref()
        .map(|e| parse_endpoint(f, e))
        .transpose()?;
    if a.per == Per::Packet {
        if let Some(p) = &a.out {
            let ext = p
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            if ext != "jsonl" && ext != "csv" && ext != "ndjson" && ext != "parquet" {
                return Err(format!(
                    "error: --per packet writes .jsonl, .csv or .parquet, not {}",
                    p.display()
                ));
            }
        }
    }
    let paths: Vec<&Path> = a.captures.iter().map(|p| p.as_path()).collect();
    let second_pass = a.pcap_out.is_some() || (a.per == Per::Packet && a.out.is_some());
    if second_pass {
        if let Some(p) = paths
            .iter()
            .find(|p| !p.metadata().is_ok_and(|m| m.is_file()))
        {
            return Err(format!(
                "error: {}: --pcap-out and --per packet read the captures twice, and a pipe or \
                 device can be read once: write the capture to a file first",
                p.display()
            ));
        }
    }
    let total: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let started = Instant::now();
    let b = bar(total / 100, "packets (estimated)");
    let mut map = AddressMap::default();
    for m in &a.map {
        map.add(m).map_err(|e| format!("error: {e}"))?;
    }
    let pool = crate::cli::thread_pool(a.threads)?;
    // One table thread per worker thread, beside the reader thread.
    let tables = pool.current_num_threads();
    let mut table: FlowTable = build_table(f, &paths, from, &map, tables, &|n| b.inc(n))
        .map_err(|e| format!("error: {e}"))?;
    if let Some(s) = a.shard {
        table.retain_shard(s.index, s.count);
    }
    b.finish_and_clear();
    let job = vnetsim_jobs::Job {
        pool: &pool,
        progress: &|_| {},
    };
    let rows_needed = a.out.is_some() || a.pcap_out.is_some() || a.report.is_some();
    let (sum, fates) = replay::walk(f, &table, &paths, rows_needed, &job);
    let walked = started.elapsed().as_secs_f64();

    if a.per == Per::Flow {
        if let Some(p) = &a.out {
            let rows: Vec<FlowRow> = fates.iter().map(|x| x.row.clone()).collect();
            write_rows(p, &rows)?;
        }
    }
    if let Some(p) = &a.report {
        let names: Vec<String> = a.captures.iter().map(|c| c.display().to_string()).collect();
        let what = format!("replay of {}", names.join(", "));
        let title = format!(
            "{}: {what}",
            if f.name.is_empty() { "fabric" } else { &f.name }
        );
        let mut r = vnetsim_jobs::report::new_report(&title, vnetsim_report::html::Kind::Replay);
        r.note("One row per distinct flow of the captures (5-tuple, both directions together), in the order first seen.");
        let places = vnetsim_jobs::report::Placements::new(f);
        vnetsim_jobs::report::record_rows(&mut r, &places, fates.iter().map(|x| &x.row));
        vnetsim_jobs::report::write(p, &r, &sum)?;
    }
    if second_pass {
        let sinks = vnetsim_jobs::replay::PassTwo {
            packet_rows: a.out.as_deref().filter(|_| a.per == Per::Packet),
            pcap_out: a.pcap_out.as_deref(),
        };
        let b = bar(table.stats.read.packets, "packets, second pass");
        vnetsim_jobs::replay::second(f, &paths, &table, &map, &fates, &sinks, &|n| {
            b.set_position(n)
        })?;
        b.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();

    let st = &table.stats;
    let r = &st.read;
    let malformed: Vec<(&str, u64)> = vnetsim_traffic::MalformedKind::ALL
        .iter()
        .map(|k| (k.name(), r.malformed_of(*k)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let scopes = replay::scopes(&table);
    if a.out_fmt.json() {
        let v = serde_json::json!({
            "captures": st.captures,
            "packets": r.packets,
            "bytes": r.wire_bytes,
            "ipv4Packets": r.ipv4,
            "modelledPackets": st.modelled_packets,
            "flows": table.flows.len(),
            "scope": { "inFabric": scopes[0], "partly": scopes[1], "outside": scopes[2] },
            "unmodelled": { "ipv6": r.ipv6, "nonIp": r.non_ip, "unsupportedLinkType": r.unsupported_link_type, "orphanFragments": st.orphan_fragments },
            "malformed": malformed.iter().map(|(k, n)| (k.to_string(), serde_json::json!(n))).collect::<serde_json::Map<_, _>>(),
            "corruptRecords": r.corrupt_records,
            "truncatedRecords": r.truncated_records,
            "summary": sum.to_json_top(a.top),
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        println!(
            "{} capture(s): {} packets, {} bytes, {} IPv4 packets in {} flows",
            st.captures,
            r.packets,
            r.wire_bytes,
            st.modelled_packets,
            table.flows.len()
        );
        let [inside, partly, outside] = scopes;
        println!(
            "flows: {inside} in the fabric, {partly} partly (one address is an Internet host), {outside} outside it (neither address belongs to the fabric{})",
            if outside > 0 && a.map.is_empty() { "; was the capture taken elsewhere? --map re-addresses it" } else { "" }
        );
        println!(
            "not modelled: {} IPv6, {} non-IP, {} unsupported link type, {} fragments without their first",
            r.ipv6, r.non_ip, r.unsupported_link_type, st.orphan_fragments
        );
        let m: Vec<String> = malformed.iter().map(|(k, n)| format!("{n} {k}")).collect();
        println!(
            "malformed: {}; corrupt records: {}; truncated records: {}",
            if m.is_empty() {
                "none".to_string()
            } else {
                m.join(", ")
            },
            r.corrupt_records,
            r.truncated_records
        );
        println!("\nper flow:");
        print!("{}", sum.render_text(a.top));
    }
    eprintln!(
        "replayed {} packets ({} bytes) in {:.3} s: {:.0} packets/s, {:.1} MB/s ({} flows walked in {:.3} s)",
        r.packets,
        r.wire_bytes,
        seconds,
        r.packets as f64 / seconds.max(1e-9),
        r.wire_bytes as f64 / seconds.max(1e-9) / 1e6,
        table.flows.len(),
        walked
    );
    // Left to the process's exit, as `load` leaves the fabric: freeing a table of hundreds of
    // thousands of flows allocation by allocation costs time and saves nothing.
    std::mem::forget((table, fates, sum));
    Ok(0)
}

#[derive(Args, Debug)]
pub struct SynthArgs {
    pub topology: PathBuf,
    #[command(flatten)]
    pub sel: Selectors,
    /// Output capture (pcap)
    #[arg(long, short)]
    pub output: PathBuf,
    /// Write exactly this many packets, cycling over the flows (for benchmarks)
    #[arg(long)]
    pub packets: Option<u64>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Writes a capture of a topology's traffic: one conversation per sweep cell.
pub fn run_synth(a: SynthArgs) -> Result<u8, String> {
    let f = load(&a.topology)?;
    let sources =
        sweep::resolve(f, &a.sel.from, Side::Source).map_err(|e| format!("error: {e}"))?;
    let dests =
        sweep::resolve(f, &a.sel.to, Side::Destination).map_err(|e| format!("error: {e}"))?;
    let ports = sweep::parse_ports(&a.sel.ports).map_err(|e| format!("error: --ports: {e}"))?;
    let m = Matrix::new(sources, dests, ports);
    let flows: Vec<vnetsim_traffic::synth::SynthFlow> = m
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let fl = m.flow(f, c);
            vnetsim_traffic::synth::SynthFlow {
                src: fl.src,
                dst: fl.dst,
                proto: fl.proto,
                sport: if fl.proto == ICMP {
                    0
                } else {
                    40000 + (i % 20000) as u16
                },
                dport: fl.dport,
                fqdn: sweep::fqdn_for(f, fl.dst).map(str::to_string),
                reply: true,
                packets: 2,
            }
        })
        .collect();
    let (packets, bytes) = match a.packets {
        Some(n) => {
            let s = vnetsim_traffic::synth::write_large(&a.output, &flows, n, a.seed)
                .map_err(|e| format!("error: cannot write {}: {e}", a.output.display()))?;
            (s.packets, s.bytes)
        }
        None => {
            let cfg = vnetsim_traffic::synth::SynthConfig {
                seed: a.seed,
                ..Default::default()
            };
            let s = vnetsim_traffic::synth::write_flows_to_path(&a.output, &flows, &cfg)
                .map_err(|e| format!("error: cannot write {}: {e}", a.output.display()))?;
            (s.packets, s.bytes)
        }
    };
    println!(
        "{}: {} flows, {} packets, {} bytes",
        a.output.display(),
        flows.len(),
        packets,
        bytes
    );
    Ok(0)
}
