//! `replay --flow-logs` (flow logs against the fabric, drift) and `synth-flow-logs` (the
//! fabric's traffic as Azure would log it).

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use vnetsim_engine::render::{ip, protocol_name};
use vnetsim_engine::sweep::{self, Matrix, Side};
use vnetsim_engine::{Scratch, ICMP};
use vnetsim_flowlog::Folder;
use vnetsim_jobs::flowlog::{self as fl, Judged, Kind};
use vnetsim_jobs::flowlog_rows::{drift_row, obs_row, DRIFT_COLUMNS, OBS_COLUMNS};
use vnetsim_report::table::{Cell, Kind as Col, TableWriter};

use crate::cli::load;
use crate::flows::Selectors;

/// Whether every input looks like a flow log (a folder, or JSON / gzip content).
pub fn looks_like_flow_logs(paths: &[PathBuf]) -> bool {
    paths
        .iter()
        .all(|p| p.is_dir() || vnetsim_flowlog::read::looks_like_flow_log(p))
}

/// What `replay` passes on for flow logs.
pub struct FlowReplay<'a> {
    pub topology: &'a Path,
    pub logs: &'a [PathBuf],
    pub out: Option<&'a Path>,
    pub drift_out: Option<&'a Path>,
    pub against: Option<&'a Path>,
    pub fail_on_drift: bool,
    pub threads: Option<usize>,
    pub top: usize,
    pub json: bool,
    pub report: Option<&'a Path>,
}

fn write_table(
    path: &Path,
    cols: &[(&'static str, Col)],
    rows: impl Iterator<Item = Vec<Cell>>,
) -> Result<(), String> {
    let err = |e: vnetsim_report::Error| format!("error: cannot write {}: {e}", path.display());
    let mut w = TableWriter::create(path, cols).map_err(err)?;
    for r in rows {
        w.write(r).map_err(err)?;
    }
    w.finish().map_err(err)
}

pub fn run(a: FlowReplay<'_>) -> Result<u8, String> {
    let f = load(a.topology)?;
    let started = Instant::now();
    let paths: Vec<&Path> = a.logs.iter().map(|p| p.as_path()).collect();
    let (st, folder) = fl::read(&paths)?;
    let read_s = started.elapsed().as_secs_f64();
    let pool = crate::cli::thread_pool(a.threads)?;
    let job = vnetsim_jobs::Job {
        pool: &pool,
        progress: &|_| {},
    };
    let rows = a.out.is_some() || a.against.is_some() || a.report.is_some();
    let judged = fl::judge_all(f, &folder, rows, &job);
    let changed = match a.against {
        Some(p) => {
            let g = load(p)?;
            let new = fl::judge_all(g, &folder, true, &job);
            Some(fl::against(&judged, &new))
        }
        None => None,
    };
    let seconds = started.elapsed().as_secs_f64();
    if let Some(p) = a.out {
        write_table(
            p,
            &OBS_COLUMNS,
            judged.iter().map(|j| obs_row(&st, &folder, j)),
        )?;
    }
    if let Some(p) = a.drift_out {
        let mut rows: Vec<Vec<Cell>> = judged
            .iter()
            .filter_map(|j| {
                let (k, d) = j.finding.as_ref()?;
                Some(drift_row(&st, &folder, j, k.as_str(), d))
            })
            .collect();
        if let Some(c) = &changed {
            for (i, d) in c {
                rows.push(drift_row(
                    &st,
                    &folder,
                    &judged[*i],
                    "decided-differently",
                    d,
                ));
            }
        }
        write_table(p, &DRIFT_COLUMNS, rows.into_iter())?;
    }
    if let Some(p) = a.report {
        write_report(p, f, &a, &st, &folder, &judged, changed.as_deref())?;
    }
    let kinds = fl::drift_summary(f, &folder, &judged, 5);
    let groups = fl::groups(f, &folder, &judged);
    let drift: u64 = kinds
        .iter()
        .filter(|(k, _)| k.is_drift())
        .map(|(_, s)| s.count)
        .sum();
    if a.json {
        print_json(
            &st,
            &folder,
            &kinds,
            &groups,
            changed.as_deref(),
            &judged,
            a.top,
        );
    } else {
        print_text(
            &st,
            &folder,
            &kinds,
            &groups,
            changed.as_deref(),
            &judged,
            a.top,
        );
    }
    eprintln!(
        "replayed {} tuples ({} flows) in {:.3} s: {:.0} tuples/s (read and folded in {:.3} s)",
        st.tuples,
        folder.flows.len(),
        seconds,
        st.tuples as f64 / seconds.max(1e-9),
        read_s
    );
    let differs = changed.as_ref().is_some_and(|c| !c.is_empty());
    Ok(if a.fail_on_drift && (drift > 0 || differs) {
        1
    } else {
        0
    })
}

/// The HTML report: the logged flows' heat map and summary, and the drift section.
fn write_report(
    path: &Path,
    f: &vnetsim_fabric::Fabric,
    a: &FlowReplay<'_>,
    st: &vnetsim_flowlog::ReadStats,
    folder: &Folder,
    judged: &[Judged],
    changed: Option<&[(usize, String)]>,
) -> Result<(), String> {
    use vnetsim_jobs::report as rep;
    let names: Vec<String> = a.logs.iter().map(|c| c.display().to_string()).collect();
    let title = format!(
        "{}: flow-log replay of {}",
        if f.name.is_empty() { "fabric" } else { &f.name },
        names.join(", ")
    );
    let mut r = rep::new_report(&title, vnetsim_report::html::Kind::Replay);
    r.note("One row per logged flow (its B, C and E tuples folded), walked end to end from the NIC that logged it; flows whose NIC is not in the fabric are counted in the drift section only.");
    r.section(vnetsim_jobs::drift_report::section(f, st, folder, judged, changed).json());
    let places = rep::Placements::new(f);
    let mut sum = vnetsim_report::summary::Summary::new();
    let walked = judged.iter().filter_map(|j| j.row.as_ref());
    for row in walked.clone() {
        sum.add(row);
    }
    rep::record_rows(&mut r, &places, walked);
    rep::write(path, &r, &sum)
}

fn flow_text(folder: &Folder, j: &Judged) -> String {
    let k = &folder.flows[j.flow].key;
    format!(
        "{} {}:{} -> {}:{}",
        protocol_name(k.proto),
        ip(k.src),
        k.sport,
        ip(k.dst),
        k.dport
    )
}

fn print_text(
    st: &vnetsim_flowlog::ReadStats,
    folder: &Folder,
    kinds: &[(Kind, fl::KindSummary)],
    groups: &[(fl::GroupKey, u64)],
    changed: Option<&[(usize, String)]>,
    judged: &[Judged],
    top: usize,
) {
    println!(
        "{} file(s), {} records, {} tuples ({} VNet v4, {} NSG v1, {} NSG v2) in {} logged flows",
        st.files.len(),
        st.records,
        st.tuples,
        st.vnet_v4_tuples,
        st.nsg_v1_tuples,
        st.nsg_v2_tuples,
        folder.flows.len()
    );
    println!(
        "corrupt records: {}; corrupt tuples: {}; blobs cut mid-write: {}; files skipped: {}",
        st.corrupt_records, st.corrupt_tuples, st.truncated_blobs, st.skipped_files
    );
    for e in &st.examples {
        println!("  {e}");
    }
    println!("\ndrift (at the NIC and direction Azure logged):");
    for (k, s) in kinds {
        println!("  {}: {}", k.as_str(), s.count);
        for e in &s.examples {
            println!("    {e}");
        }
        if s.count > 0 {
            println!("    resources: {}", s.resources.join(", "));
        }
    }
    if let Some(c) = changed {
        println!("\ndecided differently by the other topology: {}", c.len());
        for (i, d) in c.iter().take(top) {
            println!("  {}: {d}", flow_text(folder, &judged[*i]));
        }
    }
    println!("\nlogged flows by source, destination, protocol, port, logged and modelled verdict:");
    for (g, n) in groups.iter().take(top) {
        println!(
            "  {n:>8}  {} -> {} {}/{} logged {} model {}",
            g.src, g.dst, g.protocol, g.dst_port, g.logged, g.model
        );
    }
    if groups.len() > top {
        println!("  ... and {} more groups", groups.len() - top);
    }
}

fn print_json(
    st: &vnetsim_flowlog::ReadStats,
    folder: &Folder,
    kinds: &[(Kind, fl::KindSummary)],
    groups: &[(fl::GroupKey, u64)],
    changed: Option<&[(usize, String)]>,
    judged: &[Judged],
    top: usize,
) {
    let drift: serde_json::Map<String, serde_json::Value> = kinds
        .iter()
        .map(|(k, s)| {
            (
                k.as_str().to_string(),
                serde_json::json!({"count": s.count, "examples": s.examples, "resources": s.resources}),
            )
        })
        .collect();
    let g: Vec<serde_json::Value> = groups
        .iter()
        .take(top)
        .map(|(g, n)| serde_json::json!({"src": g.src, "dst": g.dst, "protocol": g.protocol, "dstPort": g.dst_port, "logged": g.logged, "model": g.model, "flows": n}))
        .collect();
    let mut v = serde_json::json!({
        "files": st.files.len(),
        "records": st.records,
        "tuples": st.tuples,
        "tuplesBySchema": {"vnetV4": st.vnet_v4_tuples, "nsgV1": st.nsg_v1_tuples, "nsgV2": st.nsg_v2_tuples},
        "flows": folder.flows.len(),
        "corruptRecords": st.corrupt_records,
        "corruptTuples": st.corrupt_tuples,
        "truncatedBlobs": st.truncated_blobs,
        "skippedFiles": st.skipped_files,
        "problems": st.examples,
        "drift": drift,
        "groups": g,
    });
    if let Some(c) = changed {
        v["decidedDifferently"] = serde_json::json!({
            "count": c.len(),
            "flows": c.iter().take(top).map(|(i, d)| serde_json::json!({"flow": flow_text(folder, &judged[*i]), "change": d})).collect::<Vec<_>>(),
        });
    }
    println!("{}", serde_json::to_string_pretty(&v).expect("json"));
}

#[derive(Args, Debug)]
pub struct SynthFlowLogsArgs {
    pub topology: PathBuf,
    #[command(flatten)]
    pub sel: Selectors,
    /// Folder to write the blobs into (the storage account's layout)
    #[arg(long, short)]
    pub output: PathBuf,
    /// Write at least this many tuples, repeating the flows with other source ports
    #[arg(long)]
    pub tuples: Option<u64>,
    /// Tuples per allowed flow (B, C..., E) and per denied flow (D retries)
    #[arg(long, default_value_t = 2)]
    pub tuples_per_flow: u64,
    /// First hour, seconds since the epoch
    #[arg(long, default_value_t = 1_767_225_600)]
    pub start: u64,
}

/// Writes the topology's traffic (one flow per sweep cell) as VNet flow logs v4.
pub fn run_synth(a: SynthFlowLogsArgs) -> Result<u8, String> {
    let f = load(&a.topology)?;
    let sources =
        sweep::resolve(f, &a.sel.from, Side::Source).map_err(|e| format!("error: {e}"))?;
    let dests =
        sweep::resolve(f, &a.sel.to, Side::Destination).map_err(|e| format!("error: {e}"))?;
    let ports = sweep::parse_ports(&a.sel.ports).map_err(|e| format!("error: --ports: {e}"))?;
    let m = Matrix::new(sources, dests, ports);
    let mut s = Scratch::new();
    let mut obs = Vec::new();
    for (i, c) in m.iter().enumerate() {
        let mut flow = m.flow(f, c);
        if flow.proto != ICMP {
            flow.sport = 40000 + (i % 20000) as u16;
        }
        let ingress = m.sources[c.src as usize].endpoint;
        let t = vnetsim_engine::trace(f, flow, ingress, sweep::destination_l7(f, &flow), &mut s);
        fl::observations(f, &t, &s, &mut obs);
    }
    let tpf = a.tuples_per_flow.max(1);
    let copies = match a.tuples {
        Some(n) if !obs.is_empty() => n.div_ceil(obs.len() as u64 * tpf).max(1),
        _ => 1,
    };
    let shape = fl::SynthShape {
        copies,
        tuples_per_flow: tpf,
        start_s: a.start - a.start % 3600,
    };
    let (blobs, tuples) = fl::write_blobs(f, &obs, &shape, &a.output)?;
    println!(
        "{}: {} observations, {} blobs, {} tuples",
        a.output.display(),
        obs.len(),
        blobs,
        tuples
    );
    Ok(0)
}
