//! Sweep, diff and check: flow matrices evaluated in parallel, as rows.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use vnetsim_engine::render::{ip, outcome_reason, path, protocol_name, rule_name};
use vnetsim_engine::sweep::{self, Matrix, Side};
use vnetsim_engine::{Outcome, Scratch, Trace, Verdict, L7};

use vnetsim_fabric::Fabric;
use vnetsim_report::heatmap::{CellOutcome, Heatmap};
use vnetsim_report::summary::Summary;
use vnetsim_report::{FlowRow, OutputFormat, RowWriter};

use crate::cli::{load, Output};

#[derive(Args, Debug, Clone)]
pub struct Selectors {
    /// Sources: all, vnet:NAME, subnet:VNET/SUBNET, nic:NAME, pe:NAME, site:NAME, internet (repeatable)
    #[arg(long = "from")]
    pub from: Vec<String>,
    /// Destinations, same selectors (repeatable)
    #[arg(long = "to")]
    pub to: Vec<String>,
    /// Ports like tcp/443,tcp/1433,udp/53,icmp
    #[arg(long, default_value = "tcp/443")]
    pub ports: String,
    /// Worker threads, at least 1 (default: one per core)
    #[arg(long, value_parser = crate::cli::parse_threads)]
    pub threads: Option<usize>,
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    pub topology: PathBuf,
    #[command(flatten)]
    pub sel: Selectors,
    /// Write one row per flow: .csv, .jsonl or .parquet
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write a sources x destinations heat map (SVG)
    #[arg(long)]
    pub heatmap: Option<PathBuf>,
    /// How many top rules and drop points the summary lists
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    #[command(flatten)]
    pub out_fmt: Output,
}

/// One trace as a flat row (the contract's columns).
pub fn row(f: &Fabric, s: &Scratch, t: &Trace, l7: Option<L7<'_>>) -> FlowRow {
    let p = path(f, s, &t.forward);
    let rp = t.ret.as_ref().map(|r| path(f, s, r)).unwrap_or_default();
    row_with(f, t, l7, p, rp)
}

/// [`row`] with the paths given (empty for a representative of aggregated flows).
pub fn row_with(
    f: &Fabric,
    t: &Trace,
    l7: Option<L7<'_>>,
    path: String,
    return_path: String,
) -> FlowRow {
    let fw = &t.forward;
    let delivered = fw.verdict == Verdict::Delivered;
    let (dropped_at, rule) = match (t.outcome, &t.ret) {
        (Outcome::NoReturn, Some(r)) if r.verdict == Verdict::Dropped => (r.dropped_at, r.rule),
        (Outcome::NoReturn, _) => (t.bypassed.map(vnetsim_fabric::Endpoint::Firewall), fw.rule),
        _ => (fw.dropped_at, fw.rule),
    };
    FlowRow {
        src: ip(t.flow.src),
        dst: ip(t.flow.dst),
        protocol: protocol_name(t.flow.proto),
        src_port: t.flow.sport,
        dst_port: t.flow.dport,
        fqdn: l7.map(|x| x.fqdn.to_string()),
        ingress: f.endpoint_id(t.ingress),
        outcome: t.outcome.as_str().to_string(),
        delivered_to: fw.delivered_to.map(|e| f.endpoint_id(e)),
        dropped_at: dropped_at.map(|e| f.endpoint_id(e)),
        rule: rule.map(|r| rule_name(f, r)),
        reason: outcome_reason(f, t),
        src_seen: delivered.then(|| ip(fw.seen.src)),
        dst_seen: delivered.then(|| ip(fw.seen.dst)),
        path,
        return_path,
        symmetric: t.symmetric,
    }
}

pub struct Swept {
    pub matrix: Matrix,
    pub rows: Vec<FlowRow>,
    pub seconds: f64,
}

fn prepare(
    f: &Fabric,
    sel: &Selectors,
) -> Result<(Matrix, indicatif::ProgressBar, rayon::ThreadPool), String> {
    let sources = sweep::resolve(f, &sel.from, Side::Source).map_err(|e| format!("error: {e}"))?;
    let dests = sweep::resolve(f, &sel.to, Side::Destination).map_err(|e| format!("error: {e}"))?;
    let ports = sweep::parse_ports(&sel.ports).map_err(|e| format!("error: --ports: {e}"))?;
    let matrix = Matrix::new(sources, dests, ports);
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(matrix.len()),
        if std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} flows ({per_sec})",
        )
        .expect("template"),
    );
    Ok((matrix, bar, crate::cli::thread_pool(sel.threads)?))
}

/// Progress per batch; the bar starts drawing once the sweep has taken a second.
fn progress_fn(bar: &indicatif::ProgressBar, started: Instant) -> impl Fn(u64) + Sync + '_ {
    let shown = std::sync::atomic::AtomicBool::new(false);
    move |n: u64| {
        bar.inc(n);
        if !shown.load(std::sync::atomic::Ordering::Relaxed)
            && started.elapsed().as_secs_f64() > 1.0
        {
            shown.store(true, std::sync::atomic::Ordering::Relaxed);
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
        }
    }
}

/// Runs a sweep keeping every row; shows a progress bar on a terminal when it takes more than a second.
pub fn sweep(f: &Fabric, sel: &Selectors) -> Result<Swept, String> {
    let (matrix, bar, pool) = prepare(f, sel)?;
    let started = Instant::now();
    let progress = progress_fn(&bar, started);
    let rows =
        pool.install(|| sweep::run(f, &matrix, |f, s, t, _, fqdn| row(f, s, t, fqdn), &progress));
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok(Swept {
        matrix,
        rows,
        seconds,
    })
}

/// A sweep that keeps only what its summary and heat map need: per distinct
/// [`vnetsim_engine::TraceKey`] a count, and per cell its outcome. Names are rendered once per key.
pub struct SweptSummary {
    pub matrix: Matrix,
    pub summary: Summary,
    pub outcomes: Vec<Outcome>,
    pub seconds: f64,
}

type KeyCounts = HashMap<
    vnetsim_engine::TraceKey,
    (u64, vnetsim_engine::sweep::Cell),
    BuildHasherDefault<vnetsim_engine::replay::FxHasher>,
>;

pub fn sweep_summary(f: &Fabric, sel: &Selectors) -> Result<SweptSummary, String> {
    let (matrix, bar, pool) = prepare(f, sel)?;
    let started = Instant::now();
    let progress = progress_fn(&bar, started);
    let chunks: Vec<(KeyCounts, Vec<Outcome>)> = pool.install(|| {
        sweep::fold_chunks(
            f,
            &matrix,
            |n| {
                (
                    KeyCounts::with_capacity_and_hasher(n, Default::default()),
                    Vec::with_capacity(n),
                )
            },
            |acc, _, _, t, c, _| {
                acc.0.entry(t.key()).or_insert((0, c)).0 += 1;
                acc.1.push(t.outcome);
            },
            &progress,
        )
    });
    let mut counts: KeyCounts = KeyCounts::default();
    let mut outcomes = Vec::with_capacity(matrix.len() as usize);
    for (k, o) in chunks {
        for (key, (n, c)) in k {
            counts.entry(key).and_modify(|e| e.0 += n).or_insert((n, c));
        }
        outcomes.extend(o);
    }
    let mut summary = Summary::default();
    let mut s = Scratch::new();
    for (n, c) in counts.values() {
        let t = sweep::trace_cell(f, &matrix, *c, &mut s);
        summary.add_n(&row_with(f, &t, None, String::new(), String::new()), *n);
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok(SweptSummary {
        matrix,
        summary,
        outcomes,
        seconds,
    })
}

fn cell_outcome(o: &str) -> CellOutcome {
    match o {
        "reachable" => CellOutcome::Reachable,
        "unreachable" => CellOutcome::Unreachable,
        _ => CellOutcome::NoReturn,
    }
}

pub fn write_rows(path: &Path, rows: &[FlowRow]) -> Result<(), String> {
    let fmt = OutputFormat::from_path(path).map_err(|e| format!("error: --out: {e}"))?;
    let mut w = RowWriter::create(path, fmt)
        .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
    for r in rows {
        w.write(r)
            .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
    }
    w.finish()
        .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
    Ok(())
}

pub fn write_heatmap(
    path: &Path,
    title: &str,
    m: &Matrix,
    outcomes: &[Outcome],
) -> Result<(), String> {
    let rows: Vec<String> = m.sources.iter().map(|p| p.label.clone()).collect();
    let cols: Vec<String> = m.dests.iter().map(|p| p.label.clone()).collect();
    let mut h = Heatmap::new(title, rows, cols);
    for (c, o) in m.iter().zip(outcomes) {
        h.add(c.src as usize, c.dst as usize, cell_outcome(o.as_str()));
    }
    let file = std::fs::File::create(path)
        .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    h.write_svg(&mut w)
        .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
    Ok(())
}

pub fn run_sweep(a: SweepArgs) -> Result<u8, String> {
    let f = load(&a.topology)?;
    let (matrix, sum, outcomes, n, seconds) = match &a.out {
        Some(p) => {
            let s = sweep(&f, &a.sel)?;
            write_rows(p, &s.rows)?;
            let mut sum = Summary::default();
            for r in &s.rows {
                sum.add(r);
            }
            let outcomes: Vec<Outcome> = s
                .rows
                .iter()
                .map(|r| match r.outcome.as_str() {
                    "reachable" => Outcome::Reachable,
                    "unreachable" => Outcome::Unreachable,
                    _ => Outcome::NoReturn,
                })
                .collect();
            let n = s.rows.len();
            (s.matrix, sum, outcomes, n, s.seconds)
        }
        None => {
            let s = sweep_summary(&f, &a.sel)?;
            let n = s.outcomes.len();
            (s.matrix, s.summary, s.outcomes, n, s.seconds)
        }
    };
    if let Some(p) = &a.heatmap {
        let title = format!(
            "{}: reachability, {}",
            if f.name.is_empty() { "fabric" } else { &f.name },
            a.sel.ports
        );
        write_heatmap(p, &title, &matrix, &outcomes)?;
    }
    if a.out_fmt.json() {
        println!(
            "{}",
            serde_json::to_string_pretty(&sum.to_json()).expect("json")
        );
    } else {
        println!(
            "{} sources x {} destinations x {} ports = {} flows",
            matrix.sources.len(),
            matrix.dests.len(),
            matrix.ports.len(),
            n
        );
        print!("{}", sum.render_text(a.top));
    }
    eprintln!(
        "swept {} flows in {:.3} s ({:.0} flows/s)",
        n,
        seconds,
        n as f64 / seconds.max(1e-9)
    );
    Ok(0)
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub old: PathBuf,
    pub new: PathBuf,
    #[command(flatten)]
    pub sel: Selectors,
    /// Exit 1 when any flow changed
    #[arg(long)]
    pub fail_on_change: bool,
    /// Also write the changed flows (both sides) as JSON lines
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub out_fmt: Output,
}

type Key = (String, String, String, u16);

fn key(r: &FlowRow, src_label: &str, dst_label: &str) -> Key {
    (
        src_label.to_string(),
        dst_label.to_string(),
        r.protocol.clone(),
        r.dst_port,
    )
}

pub fn run_diff(a: DiffArgs) -> Result<u8, String> {
    let old = load(&a.old)?;
    let new = load(&a.new)?;
    let so = sweep(&old, &a.sel)?;
    let sn = sweep(&new, &a.sel)?;
    let index = |s: &Swept| -> BTreeMap<Key, FlowRow> {
        s.matrix
            .iter()
            .zip(&s.rows)
            .map(|(c, r)| {
                (
                    key(
                        r,
                        &s.matrix.sources[c.src as usize].label,
                        &s.matrix.dests[c.dst as usize].label,
                    ),
                    r.clone(),
                )
            })
            .collect()
    };
    let (io, inew) = (index(&so), index(&sn));
    let mut changes = Vec::new();
    for (k, b) in &inew {
        match io.get(k) {
            Some(a0)
                if a0.outcome == b.outcome && a0.path == b.path && a0.src_seen == b.src_seen => {}
            other => changes.push((k.clone(), other.cloned(), Some(b.clone()))),
        }
    }
    for (k, a0) in &io {
        if !inew.contains_key(k) {
            changes.push((k.clone(), Some(a0.clone()), None));
        }
    }
    changes.sort_by(|x, y| x.0.cmp(&y.0));
    let side = |r: &Option<FlowRow>| -> serde_json::Value {
        match r {
            None => serde_json::Value::Null,
            Some(r) => serde_json::json!({
                "outcome": r.outcome, "deliveredTo": r.delivered_to, "droppedAt": r.dropped_at, "rule": r.rule,
                "srcSeen": r.src_seen, "path": r.path, "reason": r.reason,
            }),
        }
    };
    let items: Vec<serde_json::Value> = changes
        .iter()
        .map(|(k, a0, b)| {
            serde_json::json!({
                "from": k.0, "to": k.1, "protocol": k.2, "dstPort": k.3,
                "old": side(a0), "new": side(b),
            })
        })
        .collect();
    if let Some(p) = &a.out {
        let mut text = String::new();
        for i in &items {
            text.push_str(&serde_json::to_string(i).expect("json"));
            text.push('\n');
        }
        std::fs::write(p, text).map_err(|e| format!("error: cannot write {}: {e}", p.display()))?;
    }
    if a.out_fmt.json() {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "flows": inew.len(), "changed": items })
            )
            .expect("json")
        );
    } else {
        println!("{} flows compared, {} changed", inew.len(), changes.len());
        for (k, a0, b) in &changes {
            println!("\n{} -> {} {}/{}", k.0, k.1, k.2.to_ascii_lowercase(), k.3);
            let show = |tag: &str, r: &Option<FlowRow>| match r {
                None => println!("  {tag}: (no such flow)"),
                Some(r) => {
                    println!("  {tag}: {:<11} {}", r.outcome, r.reason);
                    println!("  {:>w$}  path {}", "", r.path, w = tag.len());
                    if let Some(s) = &r.src_seen {
                        println!("  {:>w$}  source seen {s}", "", w = tag.len());
                    }
                }
            };
            show("old", a0);
            show("new", b);
        }
    }
    Ok(if a.fail_on_change && !changes.is_empty() {
        1
    } else {
        0
    })
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    pub topology: PathBuf,
    pub assertions: PathBuf,
    /// Worker threads, at least 1 (default: one per core)
    #[arg(long, value_parser = crate::cli::parse_threads)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub out_fmt: Output,
}

pub fn run_check(a: CheckArgs) -> Result<u8, String> {
    use vnetsim_model::assertions::{self, SrcSeen, Subject};
    let f = load(&a.topology)?;
    let text = std::fs::read_to_string(&a.assertions)
        .map_err(|e| format!("{}:1:1: error: cannot read: {e}", a.assertions.display()))?;
    let list =
        assertions::parse(&a.assertions.display().to_string(), &text).map_err(|d| d.to_string())?;
    let mut results = Vec::new();
    let mut failed = 0;
    for asr in &list {
        let rows: Vec<FlowRow> = match &asr.subject {
            Subject::Matrix { from, to, ports } => {
                let sel = Selectors {
                    from: from.clone(),
                    to: to.clone(),
                    ports: ports.clone(),
                    threads: a.threads,
                };
                let s = sweep(&f, &sel)
                    .map_err(|e| format!("{}:{}: {e}", a.assertions.display(), asr.loc))?;
                s.rows
            }
            Subject::Flow(fl) => {
                let proto = crate::cli::parse_protocol(&fl.protocol)?;
                let (sp, dp) = if proto == vnetsim_engine::ICMP {
                    (0, 0)
                } else {
                    (fl.src_port, fl.dst_port)
                };
                let flow = vnetsim_engine::Flow {
                    src: fl.src.into(),
                    dst: fl.dst.into(),
                    proto,
                    sport: sp,
                    dport: dp,
                };
                let ingress = match &fl.from {
                    Some(e) => crate::cli::parse_endpoint(&f, e)
                        .map_err(|e| format!("{}:{}: {e}", a.assertions.display(), asr.loc))?,
                    None => f.endpoint_of_source(flow.src),
                };
                let given = fl.fqdn.as_ref().map(|s| s.to_ascii_lowercase());
                let l7 = crate::cli::flow_l7(&f, &flow, given.as_deref(), None);
                let mut s = Scratch::new();
                let t = vnetsim_engine::trace(&f, flow, ingress, l7, &mut s);
                vec![row(&f, &s, &t, l7)]
            }
        };
        let e = &asr.expect;
        let mut problems: Vec<String> = Vec::new();
        if rows.is_empty() {
            problems.push("the selectors match no flow".into());
        }
        for r in &rows {
            let who = format!(
                "{} -> {} {}/{}",
                r.src,
                r.dst,
                r.protocol.to_ascii_lowercase(),
                r.dst_port
            );
            if let Some(o) = e.outcome {
                if r.outcome != o.as_str() {
                    problems.push(format!(
                        "{who}: outcome {} (expected {}): {}",
                        r.outcome,
                        o.as_str(),
                        r.reason
                    ));
                }
            }
            if let Some(d) = &e.delivered_to {
                if r.delivered_to.as_deref() != Some(d.as_str()) {
                    problems.push(format!(
                        "{who}: delivered to {} (expected {d})",
                        r.delivered_to.as_deref().unwrap_or("nothing")
                    ));
                }
            }
            if let Some(d) = &e.dropped_at {
                if r.dropped_at.as_deref() != Some(d.as_str()) {
                    problems.push(format!(
                        "{who}: dropped at {} (expected {d})",
                        r.dropped_at.as_deref().unwrap_or("nowhere")
                    ));
                }
            }
            if let Some(x) = &e.rule {
                if r.rule.as_deref() != Some(x.as_str()) {
                    problems.push(format!(
                        "{who}: deciding rule {} (expected {x})",
                        r.rule.as_deref().unwrap_or("none")
                    ));
                }
            }
            if let Some(x) = &e.src_seen {
                let seen = r.src_seen.as_deref();
                let ok = match x {
                    SrcSeen::Address(a) => seen == Some(a.to_string().as_str()),
                    SrcSeen::Unchanged => seen == Some(r.src.as_str()),
                    SrcSeen::Rewritten => seen.is_some() && seen != Some(r.src.as_str()),
                };
                if !ok {
                    let want = match x {
                        SrcSeen::Address(a) => a.to_string(),
                        SrcSeen::Unchanged => "unchanged".into(),
                        SrcSeen::Rewritten => "rewritten".into(),
                    };
                    problems.push(format!(
                        "{who}: source seen {} (expected {want})",
                        seen.unwrap_or("none (not delivered)")
                    ));
                }
            }
            let nodes: Vec<&str> = r.path.split(" > ").collect();
            for c in &e.crosses {
                if !nodes.contains(&c.as_str()) {
                    problems.push(format!("{who}: does not cross {c} (path {})", r.path));
                }
            }
            for c in &e.avoids {
                if nodes.contains(&c.as_str()) {
                    problems.push(format!("{who}: crosses {c} (path {})", r.path));
                }
            }
        }
        let pass = problems.is_empty();
        if !pass {
            failed += 1;
        }
        results.push((asr, rows.len(), pass, problems));
    }
    if a.out_fmt.json() {
        let v: Vec<serde_json::Value> = results
            .iter()
            .map(|(asr, n, pass, p)| serde_json::json!({ "name": asr.name, "flows": n, "pass": pass, "problems": p }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "passed": list.len() - failed, "failed": failed, "assertions": v })).expect("json"));
    } else {
        for (asr, n, pass, p) in &results {
            println!(
                "{} {} ({} flow{})",
                if *pass { "PASS" } else { "FAIL" },
                asr.name,
                n,
                if *n == 1 { "" } else { "s" }
            );
            for x in p.iter().take(20) {
                println!("       {x}");
            }
            if p.len() > 20 {
                println!("       ... and {} more", p.len() - 20);
            }
        }
        println!("{} passed, {} failed", list.len() - failed, failed);
    }
    Ok(if failed > 0 { 1 } else { 0 })
}
