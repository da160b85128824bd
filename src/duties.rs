//! `audit duties` and `diff --guard`: their arguments and what they print. The work is done in
//! `vnetsim-duties`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use vnetsim_duties as duties;
use vnetsim_jobs as jobs;

use crate::cli::Output;

/// `vnetsim audit ...`: audits of a topology.
#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Separation of duties: which owner boundaries change decisions in which others, and the
    /// reachability each influence changes today.
    Duties(DutiesArgs),
    /// Rule hygiene: NSG rules no packet matches first (and what shadows them), rules that
    /// never decide, reliance on AllowVnetInBound after a user route widened VirtualNetwork,
    /// allows from any Internet source.
    Rules(RulesArgs),
}

#[derive(Args, Debug)]
pub struct RulesArgs {
    pub topology: PathBuf,
    #[command(flatten)]
    pub out: Output,
}

#[derive(Args, Debug)]
pub struct DutiesArgs {
    pub topology: PathBuf,
    /// Owner file: rules by resource kind and name pattern, and a default owner
    #[arg(long)]
    pub owners: Option<PathBuf>,
    /// Sources of the counterfactual sweeps (repeatable; default all)
    #[arg(long = "from")]
    pub from: Vec<String>,
    /// Destinations of the counterfactual sweeps (repeatable; default all)
    #[arg(long = "to")]
    pub to: Vec<String>,
    /// Ports of the counterfactual sweeps
    #[arg(long, default_value = "tcp/22,tcp/443,tcp/3389")]
    pub ports: String,
    /// Worker threads, at least 1 (default: one per core)
    #[arg(long, value_parser = crate::cli::parse_threads)]
    pub threads: Option<usize>,
    /// Write a self-contained HTML report: the boundary matrix, each cell opening its
    /// influences with their resources, opened rules and changed flows
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub out: Output,
}

pub fn run_audit(c: AuditCmd) -> Result<u8, String> {
    match c {
        AuditCmd::Duties(a) => run_duties(a),
        AuditCmd::Rules(a) => run_rules(a),
    }
}

fn all_if_empty(v: &[String]) -> Vec<String> {
    if v.is_empty() {
        vec!["all".into()]
    } else {
        v.to_vec()
    }
}

fn run_duties(a: DutiesArgs) -> Result<u8, String> {
    let file = duties::owners::read(a.owners.as_deref())?;
    let v = crate::import::load_validated(&a.topology)?;
    if !v.warnings.items.is_empty() {
        eprint!("{}", v.warnings);
    }
    let f = vnetsim_fabric::compile(&v);
    let owners = duties::owners::Owners::resolve(v.topology(), &file);
    let sel = jobs::sweep::Selectors {
        from: all_if_empty(&a.from),
        to: all_if_empty(&a.to),
        ports: a.ports.clone(),
    };
    let pool = crate::cli::thread_pool(a.threads)?;
    let job = jobs::Job {
        pool: &pool,
        progress: &|_| {},
    };
    let m = duties::influence::map(&v, &f, &owners, &sel, &job)?;
    if let Some(p) = &a.report {
        let name = if f.name.is_empty() { "fabric" } else { &f.name };
        let mut r = vnetsim_report::html::HtmlReport::new(
            format!("{name}: separation of duties"),
            vnetsim_report::html::Kind::Audit,
        );
        r.section(duties::render::map_section(&m).json());
        jobs::report::write(p, &r, &vnetsim_report::summary::Summary::new())?;
    }
    if a.out.json() {
        println!(
            "{}",
            serde_json::to_string_pretty(&duties::render::map_json(&m)).expect("json")
        );
    } else {
        print!("{}", duties::render::map_text(&m));
    }
    Ok(0)
}

/// `diff --guard`'s arguments.
#[derive(Args, Debug, Clone)]
pub struct GuardArgs {
    /// Guard file: assertions in the `check` form, each with the owner who must approve a
    /// change that alters it
    #[arg(long)]
    pub guard: Option<PathBuf>,
    /// Owners who approved the change, comma-separated (with --guard)
    #[arg(long, value_delimiter = ',', requires = "guard")]
    pub approved_by: Vec<String>,
    /// Owner file for both topologies (with --guard)
    #[arg(long, requires = "guard")]
    pub owners: Option<PathBuf>,
}

/// Evaluates the guards of `g` on OLD and NEW; prints the report; `true` when approved.
pub fn run_guard(
    g: &GuardArgs,
    old: &Path,
    new: &Path,
    threads: Option<usize>,
    json: bool,
) -> Result<(bool, serde_json::Value), String> {
    let path = g.guard.as_ref().expect("checked by the caller");
    let file = duties::owners::read(g.owners.as_deref())?;
    let text = vnetsim_model::read::read_side_file(path, "the guard file")?;
    let name = path.display().to_string();
    let list = vnetsim_model::assertions::parse_guards(&name, &text).map_err(|d| d.to_string())?;
    let (vo, vn) = (
        crate::import::load_validated(old)?,
        crate::import::load_validated(new)?,
    );
    let (fo, fnew) = (vnetsim_fabric::compile(&vo), vnetsim_fabric::compile(&vn));
    // A name neither side has is a located error, never a guard that silently holds.
    if let (Err(_), Err(e)) = (
        jobs::check::check_names(&fo, &name, &list),
        jobs::check::check_names(&fnew, &name, &list),
    ) {
        return Err(e);
    }
    let pool = crate::cli::thread_pool(threads)?;
    let job = jobs::Job {
        pool: &pool,
        progress: &|_| {},
    };
    let approved: BTreeSet<String> = g
        .approved_by
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let sides = duties::guard::Sides {
        old: &vo,
        new: &vn,
        old_fabric: &fo,
        new_fabric: &fnew,
    };
    let r = duties::guard::check(
        &sides,
        &name,
        &list,
        &duties::owners::Owners::resolve(vo.topology(), &file),
        &duties::owners::Owners::resolve(vn.topology(), &file),
        approved,
        &job,
    );
    if !json {
        print!("\n{}", duties::render::guard_text(&r));
    }
    Ok((r.pass(), duties::render::guard_json(&r)))
}

fn run_rules(a: RulesArgs) -> Result<u8, String> {
    let v = crate::import::load_validated(&a.topology)?;
    if !v.warnings.items.is_empty() {
        eprint!("{}", v.warnings);
    }
    let f = vnetsim_fabric::compile(&v);
    let found = vnetsim_hygiene::audit(&f, v.topology());
    if a.out.json() {
        println!(
            "{}",
            serde_json::to_string_pretty(&vnetsim_hygiene::json(&found)).expect("json")
        );
    } else {
        print!("{}", vnetsim_hygiene::text(&found));
    }
    Ok(0)
}
