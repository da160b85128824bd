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
    /// Sources: all, vnet:NAME, subnet:VNET/SUBNET, nic:NAME, site:NAME, internet or an
    /// address (repeatable)
    #[arg(long = "from")]
    pub from: Vec<String>,
    /// Destinations: the same, and pe:NAME (repeatable)
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
    /// Write one row per flow, streamed: .csv, .jsonl or .parquet, or - for standard output
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The format of --out -: jsonl (default) or csv
    #[arg(long, value_enum)]
    pub out_format: Option<RowFormat>,
    /// Write a sources x destinations heat map (SVG)
    #[arg(long)]
    pub heatmap: Option<PathBuf>,
    /// How many top rules and drop points the summary lists
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    #[command(flatten)]
    pub out_fmt: Output,
}

/// Row formats for standard output.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum RowFormat {
    Jsonl,
    Csv,
}

impl From<RowFormat> for OutputFormat {
    fn from(f: RowFormat) -> OutputFormat {
        match f {
            RowFormat::Jsonl => OutputFormat::Jsonl,
            RowFormat::Csv => OutputFormat::Csv,
        }
    }
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
            "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} flows ({per_sec}, {eta} left)",
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
    bar.finish_and_clear();
    Ok(Swept { matrix, rows })
}

/// Cells evaluated per slice of a streamed sweep: what a sweep holds at once, rows or
/// accumulators, is bounded by a slice, never by the matrix.
const SLICE: u64 = 64 * 1024;

/// Per pair (source, destination) of the matrix, flows by outcome: what the heat map draws.
pub struct PairOutcomes {
    dests: usize,
    counts: Vec<[u64; 3]>,
}

impl PairOutcomes {
    fn new(m: &Matrix) -> PairOutcomes {
        PairOutcomes {
            dests: m.dests.len(),
            counts: vec![[0; 3]; m.sources.len() * m.dests.len()],
        }
    }
    fn add(&mut self, c: sweep::Cell, o: Outcome, n: u64) {
        self.counts[c.src as usize * self.dests + c.dst as usize][o as usize] += n;
    }
}

/// What a sweep reports besides its rows.
pub struct SweptSummary {
    pub matrix: Matrix,
    pub summary: Summary,
    /// Present when a heat map was asked for.
    pub pairs: Option<PairOutcomes>,
    pub flows: u64,
    pub seconds: f64,
}

type KeyCounts = HashMap<
    vnetsim_engine::TraceKey,
    (u64, vnetsim_engine::sweep::Cell),
    BuildHasherDefault<vnetsim_engine::replay::FxHasher>,
>;

/// A summary-only sweep: per distinct [`vnetsim_engine::TraceKey`] a count (names rendered once
/// per key), and per pair its outcomes when `pairs` is wanted. Memory: the distinct keys and
/// the pairs, never the flows.
pub fn sweep_summary(f: &Fabric, sel: &Selectors, pairs: bool) -> Result<SweptSummary, String> {
    let (matrix, bar, pool) = prepare(f, sel)?;
    let started = Instant::now();
    let progress = progress_fn(&bar, started);
    let fq = matrix.fqdns(f);
    let mut counts: KeyCounts = KeyCounts::default();
    let mut heat = pairs.then(|| PairOutcomes::new(&matrix));
    for start in (0..matrix.len()).step_by(SLICE as usize) {
        let range = start..(start + SLICE).min(matrix.len());
        let chunks: Vec<(KeyCounts, Vec<(sweep::Cell, Outcome)>)> = pool.install(|| {
            sweep::fold_range(
                f,
                &matrix,
                &fq,
                range,
                |_| Default::default(),
                |acc: &mut (KeyCounts, Vec<(sweep::Cell, Outcome)>), _, _, t, c, _| {
                    acc.0.entry(t.key()).or_insert((0, c)).0 += 1;
                    if pairs {
                        acc.1.push((c, t.outcome));
                    }
                },
                &progress,
            )
        });
        for (k, cells) in chunks {
            for (key, (n, c)) in k {
                counts.entry(key).and_modify(|e| e.0 += n).or_insert((n, c));
            }
            if let Some(h) = heat.as_mut() {
                for (c, o) in cells {
                    h.add(c, o, 1);
                }
            }
        }
    }
    let mut summary = Summary::default();
    let mut s = Scratch::new();
    // Keys in the order of their first cell, so the summary's ties break the same every run.
    let mut keys: Vec<(&vnetsim_engine::TraceKey, &(u64, sweep::Cell))> = counts.iter().collect();
    keys.sort_by_key(|(_, (_, c))| (c.src, c.dst, c.port));
    for (_, (n, c)) in keys {
        let t = sweep::trace_cell(f, &matrix, *c, &mut s);
        summary.add_n(&row_with(f, &t, None, String::new(), String::new()), *n);
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok(SweptSummary {
        flows: matrix.len(),
        matrix,
        summary,
        pairs: heat,
        seconds,
    })
}

/// A sweep whose rows are streamed to `out` in matrix order, slice by slice (each slice
/// evaluated and rendered in parallel): memory holds one slice of rows.
pub fn sweep_rows(
    f: &Fabric,
    sel: &Selectors,
    pairs: bool,
    out: &mut dyn FnMut(&FlowRow) -> Result<(), String>,
) -> Result<SweptSummary, String> {
    let (matrix, bar, pool) = prepare(f, sel)?;
    let started = Instant::now();
    let progress = progress_fn(&bar, started);
    let fq = matrix.fqdns(f);
    let mut summary = Summary::default();
    let mut heat = pairs.then(|| PairOutcomes::new(&matrix));
    for start in (0..matrix.len()).step_by(SLICE as usize) {
        let range = start..(start + SLICE).min(matrix.len());
        let chunks: Vec<Vec<(sweep::Cell, Outcome, FlowRow)>> = pool.install(|| {
            sweep::fold_range(
                f,
                &matrix,
                &fq,
                range,
                Vec::with_capacity,
                |v: &mut Vec<(sweep::Cell, Outcome, FlowRow)>, f, s, t, c, q| {
                    v.push((c, t.outcome, row(f, s, t, q)))
                },
                &progress,
            )
        });
        for (c, o, r) in chunks.into_iter().flatten() {
            out(&r)?;
            summary.add(&r);
            if let Some(h) = heat.as_mut() {
                h.add(c, o, 1);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok(SweptSummary {
        flows: matrix.len(),
        matrix,
        summary,
        pairs: heat,
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
    pairs: &PairOutcomes,
) -> Result<(), String> {
    let rows: Vec<String> = m.sources.iter().map(|p| p.label.clone()).collect();
    let cols: Vec<String> = m.dests.iter().map(|p| p.label.clone()).collect();
    let mut h = Heatmap::new(title, rows, cols);
    let outcomes = [Outcome::Reachable, Outcome::Unreachable, Outcome::NoReturn];
    for (i, c) in pairs.counts.iter().enumerate() {
        for o in outcomes {
            if c[o as usize] > 0 {
                let cell = cell_outcome(o.as_str());
                let n = u32::try_from(c[o as usize]).unwrap_or(u32::MAX);
                h.add_count(i / pairs.dests, i % pairs.dests, cell, n);
            }
        }
    }
    let (file, done) = vnetsim_report::Completion::create(path)
        .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    h.write_svg(&mut w)
        .and_then(|_| std::io::Write::flush(&mut w))
        .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
    drop(w);
    done.finish()
        .map_err(|e| format!("error: cannot write {}: {e}", path.display()))
}

/// Where `--out` rows go: a file (format by extension, written under a temporary name until
/// complete) or standard output (`-`, JSON lines or CSV by `--out-format`).
fn row_writer(path: &Path, stdout_format: Option<OutputFormat>) -> Result<RowWriter, String> {
    if path.as_os_str() == "-" {
        let fmt = stdout_format.unwrap_or(OutputFormat::Jsonl);
        if fmt == OutputFormat::Parquet {
            return Err("error: --out - writes JSON lines or CSV, not Parquet".into());
        }
        return RowWriter::new(Box::new(std::io::stdout()), fmt)
            .map_err(|e| format!("error: cannot write to standard output: {e}"));
    }
    let fmt = OutputFormat::from_path(path).map_err(|e| format!("error: --out: {e}"))?;
    RowWriter::create(path, fmt).map_err(|e| format!("error: cannot write {}: {e}", path.display()))
}

/// A write error; a closed standard output ends the process quietly.
fn write_error(path: &Path, e: vnetsim_report::Error) -> String {
    if let vnetsim_report::Error::Io(io) = &e {
        if io.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
    if let vnetsim_report::Error::Csv(c) = &e {
        if let csv::ErrorKind::Io(io) = c.kind() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }
    format!("error: cannot write {}: {e}", path.display())
}

/// What a sweep answers and what it does not: said with every summary, so a sweep is never
/// taken for a proof.
const COVERAGE: &str = "coverage: one probe per endpoint (a NIC's or endpoint's address, a subnet's first usable \
address, a site's first host, 203.0.113.10 for the Internet) on the listed ports only. Not covered: other \
addresses of subnets, sites and the Internet, rules narrower than those probes, and public IPs and DNAT \
rules reachable from the Internet (trace them one by one).";

pub fn run_sweep(a: SweepArgs) -> Result<u8, String> {
    let f = load(&a.topology)?;
    let pairs = a.heatmap.is_some();
    let s = match &a.out {
        Some(p) => {
            let mut w = row_writer(p, a.out_format.map(Into::into))?;
            let s = sweep_rows(&f, &a.sel, pairs, &mut |r| {
                w.write(r).map_err(|e| write_error(p, e))
            })?;
            w.finish().map_err(|e| write_error(p, e))?;
            s
        }
        None => sweep_summary(&f, &a.sel, pairs)?,
    };
    if let (Some(p), Some(pairs)) = (&a.heatmap, &s.pairs) {
        let title = format!(
            "{}: reachability, {}",
            if f.name.is_empty() { "fabric" } else { &f.name },
            a.sel.ports
        );
        write_heatmap(p, &title, &s.matrix, pairs)?;
    }
    let to_stdout = a.out.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if to_stdout {
        // Rows own standard output; the summary goes to standard error.
        eprint!("{}", s.summary.render_text(a.top));
    } else if a.out_fmt.json() {
        let mut v = s.summary.to_json();
        if let Some(m) = v.as_object_mut() {
            m.insert("coverage".into(), serde_json::json!(COVERAGE));
        }
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        println!(
            "{} sources x {} destinations x {} ports = {} flows",
            s.matrix.sources.len(),
            s.matrix.dests.len(),
            s.matrix.ports.len(),
            s.flows
        );
        print!("{}", s.summary.render_text(a.top));
        println!("\n{COVERAGE}");
    }
    eprintln!(
        "swept {} flows in {:.3} s ({:.0} flows/s)",
        s.flows,
        s.seconds,
        s.flows as f64 / s.seconds.max(1e-9)
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
    /// Also write a JUnit XML report (one test case per assertion) for CI systems
    #[arg(long)]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub out_fmt: Output,
}

/// Every name the assertions use must exist in the fabric: a misspelt node or rule is a
/// located error (with the closest names), never an assertion that passes for want of a match.
fn check_names(
    f: &Fabric,
    file: &str,
    list: &[vnetsim_model::assertions::Assertion],
) -> Result<(), String> {
    use crate::names::{did_you_mean, node_ids, rule_names, selector_problem};
    use vnetsim_model::assertions::RefKind;
    let (nodes, rules) = (node_ids(f), rule_names(f));
    let mut errors = Vec::new();
    for r in list.iter().flat_map(|a| &a.refs) {
        let problem = match r.kind {
            RefKind::Selector => selector_problem(f, &r.name),
            RefKind::Node if !nodes.contains(&r.name) => Some(format!(
                "unknown node '{}'{}",
                r.name,
                did_you_mean(&r.name, nodes.iter().map(String::as_str))
            )),
            RefKind::Rule if !rules.contains(&r.name) => Some(format!(
                "unknown rule '{}'{}",
                r.name,
                did_you_mean(&r.name, rules.iter().map(String::as_str))
            )),
            _ => None,
        };
        if let Some(p) = problem {
            errors.push((
                (r.loc.line, r.loc.col),
                format!("{file}:{}:{}: error: {p}", r.loc.line, r.loc.col),
            ));
        }
    }
    errors.sort();
    let errors: Vec<String> = errors.into_iter().map(|e| e.1).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n") + "\n")
    }
}

/// The assertions' results as JUnit XML: one test case per assertion, its problems as the
/// failure's text.
fn write_junit(path: &Path, results: &[(String, usize, bool, Vec<String>)]) -> Result<(), String> {
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
    let failures = results.iter().filter(|r| !r.2).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x += &format!(
        "<testsuites tests=\"{}\" failures=\"{failures}\">\n  <testsuite name=\"vnetsim check\" tests=\"{}\" failures=\"{failures}\">\n",
        results.len(),
        results.len()
    );
    for (name, flows, pass, problems) in results {
        x += &format!(
            "    <testcase classname=\"vnetsim.check\" name=\"{}\">\n      <system-out>{flows} flow(s)</system-out>\n",
            esc(name)
        );
        if !pass {
            let first = problems.first().map(String::as_str).unwrap_or("failed");
            x += &format!(
                "      <failure message=\"{}\">{}</failure>\n",
                esc(first),
                esc(&problems.join("\n"))
            );
        }
        x += "    </testcase>\n";
    }
    x += "  </testsuite>\n</testsuites>\n";
    std::fs::write(path, x).map_err(|e| format!("error: cannot write {}: {e}", path.display()))
}

pub fn run_check(a: CheckArgs) -> Result<u8, String> {
    use vnetsim_model::assertions::{self, SrcSeen, Subject};
    let f = load(&a.topology)?;
    let text = std::fs::read_to_string(&a.assertions)
        .map_err(|e| format!("{}:1:1: error: cannot read: {e}", a.assertions.display()))?;
    let file = a.assertions.display().to_string();
    let list = assertions::parse(&file, &text).map_err(|d| d.to_string())?;
    check_names(&f, &file, &list)?;
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
    if let Some(p) = &a.junit {
        let r: Vec<(String, usize, bool, Vec<String>)> = results
            .iter()
            .map(|(asr, n, pass, p)| (asr.name.clone(), *n, *pass, p.clone()))
            .collect();
        write_junit(p, &r)?;
    }
    Ok(if failed > 0 { 1 } else { 0 })
}
