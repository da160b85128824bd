//! `vnetsim import`: real fabrics (az exports, Resource Graph, ARM templates, Terraform state)
//! into a topology, and the loader every command shares, which takes an import source as
//! readily as a topology file.

use std::path::{Path, PathBuf};

use clap::Args;
use std::time::Instant;

use vnetsim_import::{
    import, import_with_progress, looks_like_import_source, ImportOptions, Progress,
};

use crate::cli::Output;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// az CLI exports (files or folders), Resource Graph pages, ARM templates (with parameter
    /// files), `terraform show -json` output: detected by content
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
    /// Write the topology here (default: standard output)
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Print the report of every resource seen (imported, skipped, unsupported) on stderr
    #[arg(long)]
    pub report: bool,
    #[command(flatten)]
    pub opts: ImportFlags,
    #[command(flatten)]
    pub out: Output,
}

/// What an import may be told; see docs/import.md.
#[derive(Args, Debug, Clone, Default)]
pub struct ImportFlags {
    /// A value Azure assigns at deploy time: NAME.field=VALUE (repeatable)
    #[arg(long = "set", value_name = "NAME.FIELD=VALUE")]
    pub sets: Vec<String>,
    /// Give a firewall without a known private address the first usable address of its
    /// AzureFirewallSubnet (the fourth, e.g. .4 in a /26)
    #[arg(long)]
    pub assume_firewall_ip: bool,
    /// Templates: subscription().subscriptionId (default 00000000-0000-0000-0000-000000000000)
    #[arg(long)]
    pub subscription_id: Option<String>,
    /// Templates: resourceGroup().name (default rg-imported)
    #[arg(long)]
    pub resource_group: Option<String>,
    /// Templates: resourceGroup().location (default westeurope)
    #[arg(long)]
    pub location: Option<String>,
    /// Templates: a linked-template URL prefix and the local folder holding it, PREFIX=DIR
    /// (repeatable; nothing is ever fetched)
    #[arg(long, value_name = "PREFIX=DIR")]
    pub template_root: Vec<String>,
    /// Tenant recorded in each object's origin when the source does not say
    #[arg(long)]
    pub tenant: Option<String>,
    /// The topology's name (default: imported)
    #[arg(long)]
    pub name: Option<String>,
    /// Service-tag data (the JSON `az network list-service-tags` writes): rules naming service
    /// tags are imported, and the topology names the file as `serviceTags:`
    #[arg(long, value_name = "FILE")]
    pub service_tags: Option<PathBuf>,
}

impl ImportFlags {
    fn options(&self) -> Result<ImportOptions, String> {
        let pair = |s: &str, what: &str| -> Result<(String, String), String> {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("error: {what} expects KEY=VALUE, found '{s}'"))
        };
        let mut o = ImportOptions {
            name: self.name.clone(),
            tenant: self.tenant.clone(),
            assume_firewall_ip: self.assume_firewall_ip,
            subscription_id: self.subscription_id.clone(),
            resource_group: self.resource_group.clone(),
            location: self.location.clone(),
            service_tags: self.service_tags.clone(),
            ..ImportOptions::default()
        };
        for s in &self.sets {
            o.sets.push(pair(s, "--set")?);
        }
        for s in &self.template_root {
            let (k, v) = pair(s, "--template-root")?;
            o.template_roots.push((k, PathBuf::from(v)));
        }
        Ok(o)
    }
}

pub fn run_import(a: ImportArgs) -> Result<u8, String> {
    let mut opts = a.opts.options()?;
    opts.output = a.output.clone();
    let bar = import_bar();
    let started = Instant::now();
    let shown = std::cell::Cell::new(false);
    let imported = import_with_progress(&a.sources, &opts, &|p| {
        show_progress(&bar, p, started);
        if !shown.get() && started.elapsed().as_secs_f64() > 1.0 {
            shown.set(true);
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
        }
    });
    bar.finish_and_clear();
    let imported = imported.map_err(|e| e.to_string())?;
    for w in &imported.warnings {
        eprintln!("{w}");
    }
    if a.report {
        eprint!(
            "{}",
            if a.out.json() {
                imported.report.to_json()
            } else {
                imported.report.to_text()
            }
        );
    }
    match &a.output {
        Some(p) => write_whole(p, &imported.yaml)
            .map_err(|e| format!("error: cannot write {}: {e}", p.display()))?,
        None => print!("{}", imported.yaml),
    }
    Ok(0)
}

/// The import's bar: the bytes of the sources read and parsed, then the mapping steps; drawn
/// on a terminal once the import has taken a second, silent otherwise.
fn import_bar() -> indicatif::ProgressBar {
    let b = crate::flows::bar(0, "");
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {msg} ({eta} left)",
        )
        .expect("template"),
    );
    b
}

fn show_progress(bar: &indicatif::ProgressBar, p: Progress, started: Instant) {
    match p {
        Progress::Read { bytes, of } => {
            let rate = bytes as f64 / started.elapsed().as_secs_f64().max(1e-3);
            bar.set_length(of);
            bar.set_position(bytes);
            bar.set_message(format!(
                "reading {} of {}, {}/s",
                indicatif::HumanBytes(bytes),
                indicatif::HumanBytes(of),
                indicatif::HumanBytes(rate as u64)
            ));
        }
        Progress::Map { step, done, of } => {
            if bar.length() != Some(of) {
                bar.reset();
                bar.set_length(of);
            }
            bar.set_position(done);
            bar.set_message(format!("mapping: {step} ({done}/{of} steps)"));
        }
    }
}

/// Writes `text` to `path` under a temporary name first, so an interrupted import never leaves
/// a file that looks complete.
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// A compiled fabric holds the fabric, not the topology it was compiled from: the commands
/// that read the topology itself (validate, audit, trace --why, reach --why) refuse it.
fn refuse_compiled(path: &Path) -> Result<(), String> {
    match vnetsim_store::is_compiled(path) {
        true => Err(format!(
            "{}: error: a compiled fabric holds no topology source, and this command reads the \
             topology itself: give it the topology file the fabric was compiled from\n",
            path.display()
        )),
        false => Ok(()),
    }
}

/// Loads and validates a topology file, or imports an import source (detected by content)
/// with default options.
pub fn load_validated(path: &Path) -> Result<vnetsim_model::Validated, String> {
    refuse_compiled(path)?;
    if !looks_like_import_source(path) {
        return vnetsim_model::load(path).map_err(|d| d.to_string());
    }
    let opts = ImportFlags::default().options()?;
    let imported = import(&[path.to_path_buf()], &opts).map_err(|e| {
        format!("{e}(to supply deploy-time values or template roots, run `vnetsim import` with --set or --template-root and use its output)\n")
    })?;
    vnetsim_model::load_str(&path.display().to_string(), &imported.yaml).map_err(|d| d.to_string())
}

/// The topology text of a file, or the topology an import source maps to (default options).
pub fn topology_text(path: &Path) -> Result<String, String> {
    refuse_compiled(path)?;
    if !looks_like_import_source(path) {
        let limits = vnetsim_model::limits::Limits::default();
        return vnetsim_model::read::read_topology(path, &limits)
            .map_err(|e| format!("{}:{}: error: {}", path.display(), e.loc, e.message));
    }
    let opts = ImportFlags::default().options()?;
    import(&[path.to_path_buf()], &opts)
        .map(|i| i.yaml)
        .map_err(|e| e.to_string())
}
