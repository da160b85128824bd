//! Diff: the same sweep on two fabrics, and the flows whose outcome, path or source seen
//! changed, keyed by (source, destination, protocol, port) so that the two matrices may list
//! their probes in different orders.
//!
//! When both fabrics give the same matrix (the same probe labels and ports, in the same order,
//! each once: the usual what-if), the two sweeps are run slice by slice in matrix order and
//! compared cell by cell as they come: memory holds one slice of each and the changes, never
//! the sweeps. Otherwise both sweeps are held and matched by key.

use std::collections::{BTreeMap, HashSet};

use vnetsim_engine::sweep::{Cell, Matrix};
use vnetsim_fabric::Fabric;
use vnetsim_report::html::HtmlReport;
use vnetsim_report::summary::Summary;
use vnetsim_report::FlowRow;

use crate::sweep::{collect_rows, matrix, slice_rows, Selectors, SLICE};
use crate::{report, Job};

/// (source label, destination label, protocol, destination port).
pub type FlowKey = (String, String, String, u16);

/// One flow that changed: its row on each side (`None` where the flow does not exist).
#[derive(Clone, Debug)]
pub struct Change {
    pub key: FlowKey,
    pub old: Option<FlowRow>,
    pub new: Option<FlowRow>,
}

/// The flows of the new fabric compared, and those that changed, in key order.
pub struct Diff {
    pub flows: usize,
    pub changes: Vec<Change>,
    /// The summary of the new fabric's sweep.
    pub new_summary: Summary,
}

fn key(m: &Matrix, c: Cell, r: &FlowRow) -> FlowKey {
    (
        m.sources[c.src as usize].label.clone(),
        m.dests[c.dst as usize].label.clone(),
        r.protocol.clone(),
        r.dst_port,
    )
}

fn index(m: &Matrix, rows: Vec<FlowRow>) -> BTreeMap<FlowKey, FlowRow> {
    m.iter()
        .zip(rows)
        .map(|(c, r)| (key(m, c, &r), r))
        .collect()
}

/// Whether two rows of one flow differ in what a diff reports.
fn differs(a: &FlowRow, b: &FlowRow) -> bool {
    !(a.outcome == b.outcome && a.path == b.path && a.src_seen == b.src_seen)
}

/// Whether both matrices list the same flows in the same order, each once (cells follow from
/// the labels and ports alone, so equal labels and ports give equal cells).
fn aligned(a: &Matrix, b: &Matrix) -> bool {
    let labels = |m: &Matrix, dests: bool| -> Vec<String> {
        let v = if dests { &m.dests } else { &m.sources };
        v.iter().map(|p| p.label.clone()).collect()
    };
    let once = |v: &[String]| v.iter().collect::<HashSet<_>>().len() == v.len();
    let ports_once = a.ports.iter().collect::<HashSet<_>>().len() == a.ports.len();
    let (sa, da) = (labels(a, false), labels(a, true));
    sa == labels(b, false)
        && da == labels(b, true)
        && a.ports == b.ports
        && once(&sa)
        && once(&da)
        && ports_once
}

/// Both sweeps over one matrix, slice by slice: the changes (matrix order) and the summary
/// of the new fabric's rows, fed to the report as they come.
fn streamed(
    old: &Fabric,
    new: &Fabric,
    m: (&Matrix, &Matrix),
    job: &Job<'_>,
    mut report: Option<&mut HtmlReport>,
) -> (Vec<Change>, Summary) {
    let (fo, fnew) = (m.0.fqdns(old), m.1.fqdns(new));
    let places = report.as_ref().map(|_| report::Placements::new(new));
    let mut summary = Summary::default();
    let mut changes = Vec::new();
    let len = m.1.len();
    for start in (0..len).step_by(SLICE as usize) {
        let range = start..(start + SLICE).min(len);
        let a = slice_rows(old, m.0, &fo, range.clone(), job);
        let b = slice_rows(new, m.1, &fnew, range, job);
        if let (Some(r), Some(p)) = (report.as_deref_mut(), places.as_ref()) {
            report::record_rows(r, p, b.iter().map(|x| &x.1));
        }
        for ((_, ra), (c, rb)) in a.into_iter().zip(b) {
            summary.add(&rb);
            if differs(&ra, &rb) {
                changes.push(Change {
                    key: key(m.1, c, &rb),
                    old: Some(ra),
                    new: Some(rb),
                });
            }
        }
    }
    (changes, summary)
}

/// Sweeps both fabrics with the same selectors and compares them flow by flow.
pub fn diff(old: &Fabric, new: &Fabric, sel: &Selectors, job: &Job<'_>) -> Result<Diff, String> {
    diff_into(old, new, sel, job, None)
}

/// [`diff`], feeding an HTML report: the new fabric's sweep as its heat map, and every
/// changed flow under its cause ([`crate::report::change_cause`]).
pub fn diff_into(
    old: &Fabric,
    new: &Fabric,
    sel: &Selectors,
    job: &Job<'_>,
    mut report: Option<&mut HtmlReport>,
) -> Result<Diff, String> {
    let (mo, mn) = (matrix(old, sel)?, matrix(new, sel)?);
    let (mut changes, new_summary, flows) = if aligned(&mo, &mn) {
        let (c, s) = streamed(old, new, (&mo, &mn), job, report.as_deref_mut());
        (c, s, mn.len() as usize)
    } else {
        held(old, new, (&mo, &mn), job, report.as_deref_mut())
    };
    changes.sort_by(|x, y| x.key.cmp(&y.key));
    if let Some(r) = report {
        for c in &changes {
            let cause = report::change_cause(c.old.as_ref(), c.new.as_ref());
            r.change(&cause, c.old.as_ref(), c.new.as_ref());
        }
    }
    Ok(Diff {
        flows,
        changes,
        new_summary,
    })
}

/// Both sweeps held and matched by key (matrices that differ): the changes, in no order, the
/// new fabric's summary and the number of its flows.
fn held(
    old: &Fabric,
    new: &Fabric,
    (mo, mn): (&Matrix, &Matrix),
    job: &Job<'_>,
    report: Option<&mut HtmlReport>,
) -> (Vec<Change>, Summary, usize) {
    let io = index(mo, collect_rows(old, mo, job));
    let new_rows = collect_rows(new, mn, job);
    let new_summary: Summary = new_rows.iter().collect();
    if let Some(r) = report {
        report::record_rows(r, &report::Placements::new(new), &new_rows);
    }
    let inew = index(mn, new_rows);
    let mut changes = Vec::new();
    for (k, b) in &inew {
        match io.get(k) {
            Some(a) if !differs(a, b) => {}
            other => changes.push(Change {
                key: k.clone(),
                old: other.cloned(),
                new: Some(b.clone()),
            }),
        }
    }
    for (k, a) in &io {
        if !inew.contains_key(k) {
            changes.push(Change {
                key: k.clone(),
                old: Some(a.clone()),
                new: None,
            });
        }
    }
    (changes, new_summary, inew.len())
}

/// One side of a change as `diff --json` writes it (null for a flow only the other side has).
fn side_json(r: &Option<FlowRow>) -> serde_json::Value {
    match r {
        None => serde_json::Value::Null,
        Some(r) => serde_json::json!({
            "outcome": r.outcome, "deliveredTo": r.delivered_to, "droppedAt": r.dropped_at, "rule": r.rule,
            "srcSeen": r.src_seen, "path": r.path,
            "hops": vnetsim_report::hops(&r.path).collect::<Vec<_>>(), "reason": r.reason,
        }),
    }
}

/// A change as `diff --json` and `--out` write it.
pub fn change_json(c: &Change) -> serde_json::Value {
    let k = &c.key;
    serde_json::json!({
        "from": k.0, "to": k.1, "protocol": k.2, "dstPort": k.3,
        "old": side_json(&c.old), "new": side_json(&c.new),
    })
}
