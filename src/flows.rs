//! `sweep`, `diff` and `check`: their arguments and what they print. The jobs themselves run
//! in `vnetsim-jobs`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use vnetsim_jobs as jobs;
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
    /// Write a self-contained HTML report (heat map with drill-down, summaries; works offline)
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// How many top rules and drop points the summary lists
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Evaluate only part I of N (0-based): a contiguous range of the matrix's cells; the N
    /// parts' rows, concatenated in part order, are the whole sweep's rows
    #[arg(long, value_name = "I/N", value_parser = jobs::shard::Shard::parse)]
    pub shard: Option<jobs::shard::Shard>,
    #[command(flatten)]
    pub out_fmt: Output,
}

/// The title of a report or heat map: the fabric's name and what was swept.
fn title(f: &vnetsim_fabric::Fabric, what: &str) -> String {
    format!(
        "{}: {what}",
        if f.name.is_empty() { "fabric" } else { &f.name }
    )
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

/// A progress bar on a terminal, drawn once the job has run for a second, silent otherwise.
pub fn bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::with_draw_target(
        Some(len),
        if std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    b.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{wide_bar}}] {{human_pos}}/{{human_len}} {what} ({{per_sec}}, {{eta}} left)"
        ))
        .expect("template"),
    );
    b
}

/// Progress per batch into `bar`; the bar starts drawing once the job has taken a second.
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

impl Selectors {
    fn job(&self) -> jobs::sweep::Selectors {
        jobs::sweep::Selectors {
            from: self.from.clone(),
            to: self.to.clone(),
            ports: self.ports.clone(),
        }
    }
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

/// A sweep's rows going to a file (or standard output).
struct FileSink<'p> {
    w: vnetsim_report::RowWriter,
    path: &'p Path,
}

impl jobs::sweep::FlowSink for FileSink<'_> {
    fn add_symbols(&mut self, names: &[String]) {
        self.w.add_symbols(names)
    }
    fn add_pattern(&mut self, row: &vnetsim_report::SharedSymbols) -> vnetsim_report::PatternId {
        self.w.add_pattern(row)
    }
    fn write_flow(
        &mut self,
        p: vnetsim_report::PatternId,
        f: &vnetsim_report::FlowFields<'_>,
    ) -> Result<(), String> {
        self.w
            .write_flow(p, f)
            .map_err(|e| write_error(self.path, e))
    }
}

pub fn run_sweep(a: SweepArgs) -> Result<u8, String> {
    let f = load(&a.topology)?;
    let pairs = a.heatmap.is_some();
    let matrix = jobs::sweep::matrix(f, &a.sel.job())?;
    let cells = a
        .shard
        .unwrap_or(jobs::shard::Shard::ALL)
        .cells(matrix.len());
    let pool = crate::cli::thread_pool(a.sel.threads)?;
    let b = bar(cells.end - cells.start, "flows");
    let progress = progress_fn(&b, Instant::now());
    let job = jobs::Job {
        pool: &pool,
        progress: &progress,
    };
    let mut report = a.report.as_ref().map(|_| {
        let mut r = jobs::report::new_report(
            &title(f, &format!("sweep, {}", a.sel.ports)),
            vnetsim_report::html::Kind::Sweep,
        );
        r.note(jobs::sweep::COVERAGE);
        r
    });
    let s = match &a.out {
        Some(p) => {
            let mut w = FileSink {
                w: row_writer(p, a.out_format.map(Into::into))?,
                path: p,
            };
            let s = jobs::sweep::sweep_rows_into(
                f,
                matrix,
                cells,
                &job,
                pairs,
                report.as_mut(),
                &mut w,
            )?;
            w.w.finish().map_err(|e| write_error(p, e))?;
            s
        }
        None => jobs::sweep::sweep_summary_into(f, matrix, cells, &job, pairs, report.as_mut()),
    };
    b.finish_and_clear();
    if let (Some(p), Some(r)) = (&a.report, &report) {
        jobs::report::write(p, r, &s.summary)?;
    }
    if let (Some(p), Some(pairs)) = (&a.heatmap, &s.pairs) {
        let title = format!(
            "{}: reachability, {}",
            if f.name.is_empty() { "fabric" } else { &f.name },
            a.sel.ports
        );
        jobs::sweep::write_heatmap(f, p, &title, &s.matrix, pairs)?;
    }
    let to_stdout = a.out.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if to_stdout {
        // Rows own standard output; the summary goes to standard error.
        eprint!("{}", s.summary.render_text(a.top));
    } else if a.out_fmt.json() {
        let mut v = s.summary.to_json();
        if let Some(m) = v.as_object_mut() {
            m.insert("coverage".into(), serde_json::json!(jobs::sweep::COVERAGE));
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
        println!("\n{}", jobs::sweep::COVERAGE);
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
    /// Compare every header instead of sweep probes: the reach regions of both fabrics between
    /// --from and --to (all protocols and ports; --ports is not used), and the header space
    /// whose reachability differs
    #[arg(long, conflicts_with_all = ["out", "report"])]
    pub exhaustive: bool,
    /// Also write the changed flows (both sides) as JSON lines
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write a self-contained HTML report: the new fabric's heat map and the changes grouped
    /// by cause
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub guard: crate::duties::GuardArgs,
    #[command(flatten)]
    pub out_fmt: Output,
}

/// `diff --exhaustive`: the header space whose reachability differs, region by region.
fn exhaustive_diff(
    a: &DiffArgs,
    old: &vnetsim_fabric::Fabric,
    new: &vnetsim_fabric::Fabric,
    job: &jobs::Job<'_>,
) -> Result<u8, String> {
    let all = |v: &[String]| {
        if v.is_empty() {
            vec!["all".to_string()]
        } else {
            v.to_vec()
        }
    };
    let (from, to) = (all(&a.sel.from), all(&a.sel.to));
    let c = jobs::exhaustive::changed(old, new, &from, &to, job);
    if let Some(e) = &c.not_evaluated {
        return Err(format!("error: --exhaustive: {e}"));
    }
    let side = |gained: bool| if gained { "new" } else { "old" };
    if a.out_fmt.json() {
        let v = serde_json::json!({
            "classes": c.classes,
            "changed": c.changes.iter().map(|x| serde_json::json!({
                "reachableOnlyIn": side(x.gained), "from": x.from, "to": x.to,
                "src": x.src, "dst": x.dst, "protocols": x.protocols,
                "headers": x.headers.to_string(),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        println!(
            "every header compared ({} classes walked on both sides): {} region rows differ",
            c.classes,
            c.changes.len()
        );
        for x in &c.changes {
            println!(
                "reachable only in {}: {} {} -> {} {} dst {} ({} headers)",
                side(x.gained),
                x.from,
                x.src,
                x.to,
                x.protocols,
                x.dst,
                x.headers
            );
        }
    }
    Ok(u8::from(a.fail_on_change && !c.changes.is_empty()))
}

pub fn run_diff(a: DiffArgs) -> Result<u8, String> {
    let old = load(&a.old)?;
    let new = load(&a.new)?;
    let pool = crate::cli::thread_pool(a.sel.threads)?;
    let job = jobs::Job {
        pool: &pool,
        progress: &|_| {},
    };
    if a.exhaustive {
        return exhaustive_diff(&a, old, new, &job);
    }
    let mut report = a.report.as_ref().map(|_| {
        let what = format!(
            "diff of {} against {}, {}",
            a.new.display(),
            a.old.display(),
            a.sel.ports
        );
        let mut r = jobs::report::new_report(&title(new, &what), vnetsim_report::html::Kind::Diff);
        r.note(
            "The heat map shows the new fabric's sweep; the changes compare it with the old one.",
        );
        r.note(jobs::sweep::COVERAGE);
        r
    });
    let d = jobs::diff::diff_into(old, new, &a.sel.job(), &job, report.as_mut())?;
    if let (Some(p), Some(r)) = (&a.report, &report) {
        jobs::report::write(p, r, &d.new_summary)?;
    }
    let items: Vec<serde_json::Value> = d.changes.iter().map(jobs::diff::change_json).collect();
    let changes: Vec<(jobs::diff::FlowKey, Option<FlowRow>, Option<FlowRow>)> = d
        .changes
        .into_iter()
        .map(|c| (c.key, c.old, c.new))
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
        let mut v = serde_json::json!({ "flows": d.flows, "changed": items });
        if a.guard.guard.is_some() {
            let (pass, g) =
                crate::duties::run_guard(&a.guard, &a.old, &a.new, a.sel.threads, true)?;
            v["guards"] = g;
            println!("{}", serde_json::to_string_pretty(&v).expect("json"));
            return Ok(if !pass || (a.fail_on_change && !changes.is_empty()) {
                1
            } else {
                0
            });
        }
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        println!("{} flows compared, {} changed", d.flows, changes.len());
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
    if a.guard.guard.is_some() {
        let (pass, _) = crate::duties::run_guard(&a.guard, &a.old, &a.new, a.sel.threads, false)?;
        if !pass {
            return Ok(1);
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

pub fn run_check(a: CheckArgs) -> Result<u8, String> {
    use vnetsim_model::assertions;
    let f = load(&a.topology)?;
    let text = vnetsim_model::read::read_side_file(&a.assertions, "the assertions file")?;
    let file = a.assertions.display().to_string();
    let list = assertions::parse(&file, &text).map_err(|d| d.to_string())?;
    let pool = crate::cli::thread_pool(a.threads)?;
    let job = jobs::Job {
        pool: &pool,
        progress: &|_| {},
    };
    let results = jobs::check::check(f, &file, &list, &job)?;
    let failed = results.iter().filter(|r| !r.pass()).count();
    if a.out_fmt.json() {
        let v: Vec<serde_json::Value> = results
            .iter()
            .map(|r| serde_json::json!({ "name": r.name, "flows": r.flows, "pass": r.pass(), "problems": r.problems }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "passed": list.len() - failed, "failed": failed, "assertions": v })).expect("json"));
    } else {
        for r in &results {
            let (n, p) = (r.flows, &r.problems);
            println!(
                "{} {} ({} flow{})",
                if r.pass() { "PASS" } else { "FAIL" },
                r.name,
                n,
                if n == 1 { "" } else { "s" }
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
        jobs::check::write_junit(p, &results)?;
    }
    Ok(if failed > 0 { 1 } else { 0 })
}
