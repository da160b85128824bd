//! Diff: the same sweep on two fabrics, and the flows whose outcome, path or source seen
//! changed, keyed by (source, destination, protocol, port) so that the two matrices may list
//! their probes in different orders.

use std::collections::BTreeMap;

use vnetsim_engine::sweep::Matrix;
use vnetsim_fabric::Fabric;
use vnetsim_report::html::HtmlReport;
use vnetsim_report::summary::Summary;
use vnetsim_report::FlowRow;

use crate::sweep::{collect_rows, matrix, Selectors};
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

fn index(m: &Matrix, rows: Vec<FlowRow>) -> BTreeMap<FlowKey, FlowRow> {
    m.iter()
        .zip(rows)
        .map(|(c, r)| {
            let key = (
                m.sources[c.src as usize].label.clone(),
                m.dests[c.dst as usize].label.clone(),
                r.protocol.clone(),
                r.dst_port,
            );
            (key, r)
        })
        .collect()
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
    let io = index(&mo, collect_rows(old, &mo, job));
    let new_rows = collect_rows(new, &mn, job);
    let new_summary: Summary = new_rows.iter().collect();
    if let Some(r) = report.as_deref_mut() {
        report::record_rows(r, &report::Placements::new(new), &new_rows);
    }
    let inew = index(&mn, new_rows);
    let mut changes = Vec::new();
    for (k, b) in &inew {
        match io.get(k) {
            Some(a) if a.outcome == b.outcome && a.path == b.path && a.src_seen == b.src_seen => {}
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
    changes.sort_by(|x, y| x.key.cmp(&y.key));
    if let Some(r) = report {
        for c in &changes {
            let cause = report::change_cause(c.old.as_ref(), c.new.as_ref());
            r.change(&cause, c.old.as_ref(), c.new.as_ref());
        }
    }
    Ok(Diff {
        flows: inew.len(),
        changes,
        new_summary,
    })
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
