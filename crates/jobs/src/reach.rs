//! `reach`: every header from the selected sources to the destinations, as regions, one
//! source at a time. Each source's header space is cut into classes, merged into regions and
//! rendered as rows; the rows go to the sinks in source order as soon as that source is done,
//! and the source's classes and regions are dropped. What a run holds at once follows the
//! largest sources of one window (as many sources as worker threads), never the matrix;
//! totals are kept as numbers.
//!
//! Sources of a window are cut in parallel, and the walks of each source in parallel too
//! (`vnetsim_reach::partition_source`); every source's regions are the same at any thread
//! count, and they are emitted in source order, so the output is byte-identical.

use rayon::prelude::*;
use vnetsim_engine::sweep::{resolve, Side};
use vnetsim_engine::{Flow, Outcome, Scratch, Verdict};
use vnetsim_fabric::{Endpoint, Fabric};
use vnetsim_reach::render::RegionRow;
use vnetsim_reach::{self as reach, Signature};

use crate::Job;

/// What a reach run covers, as the user writes it.
#[derive(Clone, Debug)]
pub struct Question {
    /// Source selectors (empty: `all`, or `internet` with `exposed`).
    pub from: Vec<String>,
    /// Destination selectors (empty: `all`).
    pub to: Vec<String>,
    /// `tcp`, `udp`, `icmp` or a number; `None`: every protocol.
    pub protocol: Option<String>,
    /// Destination ports like `443` or `1-1024,8080`; `None`: all.
    pub ports: Option<String>,
    /// Destination ports left out.
    pub except_ports: Option<String>,
    /// Only regions that are reachable.
    pub only_allowed: bool,
    /// Only regions whose request reaches the fabric (a NIC, endpoint or service).
    pub exposed: bool,
    /// Header boxes one source's partition may hold at once.
    pub max_boxes: usize,
    /// Explain regions that are not reachable: the topology's file name and text.
    pub why: Option<WhyInput>,
}

/// The topology `--why` re-reads and changes.
#[derive(Clone, Debug)]
pub struct WhyInput {
    pub file: String,
    pub text: String,
}

impl Question {
    /// Every header from `from` to `to`, no filter, the default bound.
    pub fn new(from: Vec<String>, to: Vec<String>) -> Question {
        Question {
            from,
            to,
            protocol: None,
            ports: None,
            except_ports: None,
            only_allowed: false,
            exposed: false,
            max_boxes: reach::BOXES_HELD_MAX,
            why: None,
        }
    }
}

/// Regions `--why` explains at most.
pub const WHY_REGIONS: usize = 32;

/// One region: its rows (one per set of boxes that reads as one line), its outcome, and, when
/// `--why` explained it, what blocks its example header.
pub struct RegionOut {
    pub rows: Vec<RegionRow>,
    pub outcome: Outcome,
    /// The header walked for the region.
    pub example: Flow,
    pub why: Option<vnetsim_why::Why>,
}

/// The regions of one source, in order, with what it took to find them.
pub struct SourceRegions {
    /// The source's place among the sources.
    pub index: usize,
    pub label: String,
    pub regions: Vec<RegionOut>,
    pub classes: u64,
    pub walks: u64,
    /// The index of this source's first row among all rows written.
    pub first_row: u64,
}

/// What a run found, as numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub sources: usize,
    pub classes: u64,
    pub walks: u64,
    pub regions: u64,
    pub rows: u64,
    /// Regions by outcome (`Outcome as usize`: reachable, unreachable, no-return, not
    /// modelled).
    pub regions_by_outcome: [u64; 4],
    /// Regions not reachable, and how many of them `--why` explained.
    pub blocked: u64,
    pub explained: u64,
}

/// Where a run's regions go, one source at a time, in source order.
pub trait Sink {
    /// The regions of one source. `Ok(false)`: the reader went away, stop.
    fn source(&mut self, done: &SourceRegions) -> Result<bool, String>;
    /// The run is over.
    fn finish(&mut self, totals: &Totals) -> Result<(), String>;
}

/// The sources, destinations and tables of a question, resolved against the fabric.
pub struct Plan {
    pub sources: Vec<reach::Source>,
    pub dests: Vec<reach::Dest>,
    /// Every destination asked about (`all`): classes aimed at none are kept.
    pub all_dests: bool,
    cuts: Vec<u32>,
    tables: reach::tables::Tables,
}

/// Resolves the question's selectors and scope (every name checked before anything runs).
pub fn plan(f: &Fabric, q: &Question) -> Result<Plan, String> {
    let scope = scope(q)?;
    let from = if q.from.is_empty() && q.exposed {
        vec!["internet".to_string()]
    } else {
        q.from.clone()
    };
    let src = resolve(f, &from, Side::Source).map_err(|e| format!("error: --from: {e}"))?;
    let dst = resolve(f, &q.to, Side::Destination).map_err(|e| format!("error: --to: {e}"))?;
    let dests = reach::dests(f, &dst);
    Ok(Plan {
        sources: reach::sources(f, &src, &scope),
        cuts: reach::dest_cuts(f, &dests),
        dests,
        all_dests: q.to.is_empty() || q.to.iter().any(|x| x == "all"),
        tables: reach::tables::Tables::new(f),
    })
}

/// The protocols and ports of the question.
pub fn scope(q: &Question) -> Result<reach::Scope, String> {
    Ok(reach::Scope {
        protocol: q
            .protocol
            .as_deref()
            .map(crate::names::parse_protocol)
            .transpose()?,
        ports: q.ports.as_deref().map(parse_port_ranges).transpose()?,
        except_ports: q
            .except_ports
            .as_deref()
            .map(parse_port_ranges)
            .transpose()?
            .unwrap_or_default(),
    })
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

/// Runs the question: each source's regions to every sink in source order as soon as its
/// window is done. A sink whose reader went away is left out from then on; the run stops when
/// none is left. `job.progress` is told the classes walked per source.
pub fn run(
    f: &Fabric,
    q: &Question,
    plan: &Plan,
    job: &Job<'_>,
    sinks: &mut [&mut dyn Sink],
) -> Result<Totals, String> {
    let mut live = vec![true; sinks.len()];
    let window = job.pool.current_num_threads().max(1);
    let mut t = Totals {
        sources: plan.sources.len(),
        ..Totals::default()
    };
    let all: Vec<usize> = (0..plan.sources.len()).collect();
    for w in all.chunks(window) {
        let done: Vec<Result<SourceRegions, String>> = job
            .pool
            .install(|| w.par_iter().map(|&i| one_source(f, q, plan, i)).collect());
        for d in done {
            let mut d = d?;
            job.pool.install(|| explain(q, plan, &mut d, &mut t))?;
            d.first_row = t.rows;
            add(&mut t, &d);
            (job.progress)(d.classes);
            for (s, l) in sinks.iter_mut().zip(live.iter_mut()) {
                *l = *l && s.source(&d)?;
            }
            if !live.contains(&true) {
                return Ok(t);
            }
        }
    }
    for (s, _) in sinks.iter_mut().zip(&live).filter(|x| *x.1) {
        s.finish(&t)?;
    }
    Ok(t)
}

fn add(t: &mut Totals, d: &SourceRegions) {
    t.classes += d.classes;
    t.walks += d.walks;
    t.regions += d.regions.len() as u64;
    for r in &d.regions {
        t.rows += r.rows.len() as u64;
        t.regions_by_outcome[r.outcome as usize] += 1;
        t.blocked += (r.outcome != Outcome::Reachable) as u64;
    }
}

/// The regions of source `i`, rendered; its classes are dropped on return.
fn one_source(f: &Fabric, q: &Question, plan: &Plan, i: usize) -> Result<SourceRegions, String> {
    let src = &plan.sources[i];
    let p = reach::partition_source(f, &plan.tables, &plan.sources, i, &plan.cuts, q.max_boxes)
        .map_err(|e| {
            format!(
                "error: reach: from {}: {e} (--max-boxes sets the bound)",
                src.label
            )
        })?;
    let keep = |s: &Signature| kept(q, s);
    let regions = reach::regions(f, &p, &plan.dests, plan.all_dests, keep);
    let out = regions
        .par_iter()
        .map_init(Scratch::new, |s, r| RegionOut {
            rows: reach::render::region_rows(f, &plan.sources, &plan.dests, &p, r, s),
            outcome: p.signatures[r.sig as usize].key.outcome,
            example: r.boxes[0].representative(),
            why: None,
        })
        .collect();
    Ok(SourceRegions {
        index: i,
        label: src.label.clone(),
        regions: out,
        classes: p.classes.len() as u64,
        walks: p.walks,
        first_row: 0,
    })
}

/// Whether a region of this signature is kept (`--only-allowed`, `--exposed`).
/// Whether a region is kept: one with several ways (hashed choices) is kept when one of its
/// ways is.
fn kept(q: &Question, s: &Signature) -> bool {
    let delivered = s.keys().any(|k| {
        k.forward.verdict == Verdict::Delivered
            && k.forward.delivered_to != Some(Endpoint::Internet)
    });
    let reachable = s.keys().any(|k| k.outcome == Outcome::Reachable);
    (!q.only_allowed || reachable) && (!q.exposed || delivered)
}

/// `trace --why` on the example header of each region of `d` that is not reachable, while
/// fewer than [`WHY_REGIONS`] have been explained.
fn explain(q: &Question, plan: &Plan, d: &mut SourceRegions, t: &mut Totals) -> Result<(), String> {
    let Some(w) = &q.why else { return Ok(()) };
    let ingress = plan.sources[d.index].endpoint;
    let room = WHY_REGIONS.saturating_sub(t.explained as usize);
    let mut todo: Vec<&mut RegionOut> = d
        .regions
        .iter_mut()
        .filter(|r| r.outcome != Outcome::Reachable)
        .take(room)
        .collect();
    t.explained += todo.len() as u64;
    todo.par_iter_mut().try_for_each(|r| {
        let flow = r.example;
        let probe = |f: &Fabric, s: &mut Scratch| Ok(reach::walk(f, ingress, flow, s));
        r.why = Some(vnetsim_why::explain(&w.file, &w.text, &probe)?);
        Ok(())
    })
}
