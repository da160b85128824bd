//! One self-contained HTML report of a sweep, a diff or a replay.
//!
//! The file carries its data (one JSON document), its style sheet and its script inline:
//! nothing is fetched, so it opens offline and in air-gapped estates. What it holds is
//! bounded by the fabric's groups, not by the flows:
//!
//! - a heat map of **groups** × groups: subnet × subnet when both sides have at most
//!   [`SUBNET_LEVEL_MAX`] subnets (or endpoints outside any VNet), VNet × VNet otherwise,
//!   each cell holding its flows by outcome;
//! - a drill-down from a cell to its **endpoint pairs** (source endpoint, destination
//!   endpoint, each with its subnet and VNet), at most [`PAIRS_MAX`] pairs in all;
//! - for each cell and pair, a **representative flow** per outcome (the first in the
//!   job's order: matrix order for a sweep, capture order for a replay), with its port,
//!   deciding rule, reason, source seen and the full trace both ways, at most [`REPS_MAX`]
//!   in all;
//! - the summary: outcomes, deciding rules grouped by the resource that holds them (an NSG,
//!   a firewall rule collection), drop points grouped by VNet or kind, rewritten sources;
//! - for a diff, the changed flows grouped by cause;
//! - **sections** a job adds beside the flows ([`HtmlReport::section`]): a flow-log replay's
//!   drift, an audit's influence map. A section is data, not markup, in this shape (every
//!   key but `id` and `title` optional):
//!
//!   ```text
//!   section = { id, title, notes: [text], matrix, tables: [table] }
//!   matrix  = { caption, rows: [label], cols: [label], cells: [[row, col, text, class, detail]],
//!               details: [detail] }          // detail: an index into details, or null
//!   table   = { title, columns: [name], rows: [[cell]], details: [detail or null], omitted }
//!   detail  = { title, notes: [text], tables: [table] }
//!   ```
//!
//!   A matrix cell or a table row with a detail opens it below the section (and through the
//!   address: `#sec=ID&cell=R,C`, `#sec=ID&row=T,R`). `class` colours a matrix cell: `bad`,
//!   `warn`, `ok`, or none.
//!
//! When a budget is spent, the report says so and names the command that drills further.
//!
//! Colours are the Okabe–Ito palette, which readers with the common colour-vision
//! deficiencies tell apart, and each outcome also has its own glyph (in the legend, the
//! tables and every heat-map cell large enough to hold one) and, for unreachable cells,
//! a hatch.
//!
//! The output is deterministic: the same records in the same order give the same bytes.

use std::collections::HashMap;
use std::io::{self, Write};

use serde_json::{json, Value};

pub mod section;

use crate::summary::Summary;
use crate::FlowRow;

/// Above this many subnet groups on either side, the heat map is drawn VNet × VNet.
pub const SUBNET_LEVEL_MAX: usize = 60;
/// Endpoint pairs kept for the drill-down (the first ones in the job's order).
pub const PAIRS_MAX: usize = 200_000;
/// Representative flows kept (each with its full trace).
pub const REPS_MAX: usize = 20_000;
/// Changed flows kept as examples per cause, and in all.
pub const CHANGE_EXAMPLES_PER_CAUSE: usize = 20;
pub const CHANGE_EXAMPLES_MAX: usize = 5_000;
/// Outcome slots a report tells apart (the rest count as the last).
pub const OUTCOMES_MAX: usize = 6;

const STYLE: &str = include_str!("html/report.css");
const SCRIPT: &str = include_str!("html/report.js");

const NO_REP: u32 = u32::MAX;
/// Where the flat numeric arrays go in the serialized data (written as text, not as values).
/// (Inside the serialized document, `"cells":"@cells@"` cannot come from a label: quotes in
/// strings are escaped.)
const CELLS_MARK: &str = "@cells@";
const PAIRS_MARK: &str = "@pairs@";

/// The report's data: the document, and its two large numeric arrays as JSON text.
struct Data {
    value: Value,
    cells: String,
    pairs: String,
}

/// Appends numbers to a JSON array's text, comma-separated.
fn push_numbers(out: &mut String, it: impl IntoIterator<Item = u64>) {
    use std::fmt::Write as _;
    for n in it {
        if !out.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "{n}");
    }
}

/// Flows by outcome, and the representative flow of each outcome, of one cell or pair.
#[derive(Clone, Debug)]
struct Tally {
    counts: [u64; OUTCOMES_MAX],
    reps: [u32; OUTCOMES_MAX],
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            counts: [0; OUTCOMES_MAX],
            reps: [NO_REP; OUTCOMES_MAX],
        }
    }
}

impl Tally {
    /// Counts one flow; true when this outcome has no representative yet.
    fn count(&mut self, slot: usize) -> bool {
        self.counts[slot] += 1;
        self.reps[slot] == NO_REP
    }
}

/// An endpoint, with the subnet and VNet groups it is drawn in.
#[derive(Clone, Debug)]
struct Member {
    label: String,
    subnet: u32,
    vnet: u32,
}

/// Strings interned once (labels of groups, endpoints).
#[derive(Default, Debug)]
struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.ids.insert(s.to_string(), i);
        self.names.push(s.to_string());
        i
    }
}

/// A cause of changed flows in a diff: how many, their outcome transitions, examples.
#[derive(Default, Debug)]
struct Cause {
    flows: u64,
    transitions: std::collections::BTreeMap<String, u64>,
    examples: Vec<(Option<FlowRow>, Option<FlowRow>)>,
}

/// What kind of job the report describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sweep,
    Diff,
    Replay,
    /// No flows of its own: sections only (an audit).
    Audit,
    /// Reach regions: sections only.
    Reach,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Sweep => "sweep",
            Kind::Diff => "diff",
            Kind::Replay => "replay",
            Kind::Audit => "audit",
            Kind::Reach => "reach",
        }
    }
}

/// An HTML report being built: record flows (in the job's order), then [`HtmlReport::write`].
#[derive(Debug)]
pub struct HtmlReport {
    title: String,
    kind: Kind,
    notes: Vec<String>,
    outcomes: Vec<String>,
    members: Vec<Member>,
    member_ids: HashMap<String, u32>,
    subnets: Interner,
    vnets: Interner,
    vnet_cells: HashMap<(u32, u32), Tally>,
    /// `None` once there are too many subnet cells for the subnet level.
    subnet_cells: Option<HashMap<(u32, u32), Tally>>,
    pairs: HashMap<(u32, u32), Tally>,
    pairs_dropped: u64,
    reps: Vec<Option<FlowRow>>,
    reps_wanted_beyond_budget: u64,
    flows: u64,
    causes: std::collections::BTreeMap<String, Cause>,
    change_examples: usize,
    changed: u64,
    sections: Vec<Value>,
}

impl HtmlReport {
    pub fn new(title: impl Into<String>, kind: Kind) -> Self {
        HtmlReport {
            title: title.into(),
            kind,
            notes: Vec::new(),
            outcomes: Vec::new(),
            members: Vec::new(),
            member_ids: HashMap::new(),
            subnets: Interner::default(),
            vnets: Interner::default(),
            vnet_cells: HashMap::new(),
            subnet_cells: Some(HashMap::new()),
            pairs: HashMap::new(),
            pairs_dropped: 0,
            reps: Vec::new(),
            reps_wanted_beyond_budget: 0,
            flows: 0,
            causes: Default::default(),
            change_examples: 0,
            changed: 0,
            sections: Vec::new(),
        }
    }

    /// A section beside the flows, in the shape the module documents; drawn in the order
    /// added.
    pub fn section(&mut self, s: Value) {
        self.sections.push(s);
    }

    /// A line shown under the title (what the job covered, what it did not).
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// The slot of an outcome name (`reachable`, `unreachable`, `no-return`, ...).
    pub fn outcome_slot(&mut self, name: &str) -> usize {
        if let Some(i) = self.outcomes.iter().position(|o| o == name) {
            return i;
        }
        if self.outcomes.len() < OUTCOMES_MAX {
            self.outcomes.push(name.to_string());
            return self.outcomes.len() - 1;
        }
        OUTCOMES_MAX - 1
    }

    /// The id of an endpoint (`nic:NAME`, `subnet:V/S`, `internet`, ...), drawn in the subnet
    /// and VNet groups given (for an endpoint outside any VNet, its own label for both).
    pub fn member(&mut self, label: &str, subnet: &str, vnet: &str) -> u32 {
        if let Some(&i) = self.member_ids.get(label) {
            return i;
        }
        let m = Member {
            label: label.to_string(),
            subnet: self.subnets.id(subnet),
            vnet: self.vnets.id(vnet),
        };
        let i = self.members.len() as u32;
        self.members.push(m);
        self.member_ids.insert(label.to_string(), i);
        i
    }

    /// Counts one flow from endpoint `src` to endpoint `dst` with the outcome in `slot`.
    /// Returns the id of a representative to fill with [`HtmlReport::set_rep`] when this flow
    /// is the first of its outcome in a cell or pair (and the budget allows).
    pub fn record(&mut self, src: u32, dst: u32, slot: usize) -> Option<u32> {
        self.flows += 1;
        let (s, d) = (&self.members[src as usize], &self.members[dst as usize]);
        let (sv, dv, ss, ds) = (s.vnet, d.vnet, s.subnet, d.subnet);
        let mut want = self.vnet_cells.entry((sv, dv)).or_default().count(slot);
        if let Some(cells) = self.subnet_cells.as_mut() {
            want |= cells.entry((ss, ds)).or_default().count(slot);
            if cells.len() > SUBNET_LEVEL_MAX * SUBNET_LEVEL_MAX {
                self.subnet_cells = None;
            }
        }
        let room = self.pairs.len() < PAIRS_MAX;
        if room || self.pairs.contains_key(&(src, dst)) {
            want |= self.pairs.entry((src, dst)).or_default().count(slot);
        } else {
            self.pairs_dropped += 1;
        }
        if !want {
            return None;
        }
        if self.reps.len() >= REPS_MAX {
            self.reps_wanted_beyond_budget += 1;
            return None;
        }
        let id = self.reps.len() as u32;
        self.reps.push(None);
        let give = |t: Option<&mut Tally>| {
            if let Some(t) = t {
                if t.reps[slot] == NO_REP {
                    t.reps[slot] = id;
                }
            }
        };
        give(self.vnet_cells.get_mut(&(sv, dv)));
        if let Some(cells) = self.subnet_cells.as_mut() {
            give(cells.get_mut(&(ss, ds)));
        }
        give(self.pairs.get_mut(&(src, dst)));
        Some(id)
    }

    /// The row of a representative [`HtmlReport::record`] asked for.
    pub fn set_rep(&mut self, id: u32, row: FlowRow) {
        if let Some(r) = self.reps.get_mut(id as usize) {
            *r = Some(row);
        }
    }

    /// [`HtmlReport::record`] and [`HtmlReport::set_rep`] at once, for jobs that have the row.
    pub fn record_row(&mut self, src: u32, dst: u32, row: &FlowRow) {
        let slot = self.outcome_slot(&row.outcome);
        if let Some(id) = self.record(src, dst, slot) {
            self.set_rep(id, row.clone());
        }
    }

    /// A diff's changed flow, under the cause that explains it.
    pub fn change(&mut self, cause: &str, old: Option<&FlowRow>, new: Option<&FlowRow>) {
        self.changed += 1;
        let c = self.causes.entry(cause.to_string()).or_default();
        c.flows += 1;
        let name = |r: Option<&FlowRow>| r.map_or("absent".to_string(), |r| r.outcome.clone());
        *c.transitions
            .entry(format!("{} → {}", name(old), name(new)))
            .or_default() += 1;
        if c.examples.len() < CHANGE_EXAMPLES_PER_CAUSE
            && self.change_examples < CHANGE_EXAMPLES_MAX
        {
            c.examples.push((old.cloned(), new.cloned()));
            self.change_examples += 1;
        }
    }

    /// Flows recorded.
    pub fn flows(&self) -> u64 {
        self.flows
    }

    /// Writes the report: one HTML file, data and script inline.
    pub fn write(&self, summary: &Summary, mut w: impl Write) -> io::Result<()> {
        let data = self.data(summary);
        let mut json = serde_json::to_string(&data.value).map_err(io::Error::other)?;
        json = json
            .replacen(
                &format!("\"cells\":\"{CELLS_MARK}\""),
                &format!("\"cells\":[{}]", data.cells),
                1,
            )
            .replacen(
                &format!("\"pairs\":\"{PAIRS_MARK}\""),
                &format!("\"pairs\":[{}]", data.pairs),
                1,
            );
        // Inside <script>, "</" could close the element: escape it (JSON allows "\/").
        json = json.replace("</", "<\\/");
        write!(
            w,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body data-state=\"loading\">\n\
             <noscript>This report draws itself with JavaScript; enable it to read the report.</noscript>\n\
             <main id=\"app\"></main>\n<pre id=\"errors\" hidden></pre>\n\
             <script id=\"data\" type=\"application/json\">{json}</script>\n<script>\n{SCRIPT}</script>\n\
             </body>\n</html>\n",
            escape(&self.title)
        )?;
        w.flush()
    }

    fn data(&self, summary: &Summary) -> Data {
        let subnet_level = self.subnet_cells.as_ref().filter(|cells| {
            let rows = distinct(cells.keys().map(|k| k.0));
            let cols = distinct(cells.keys().map(|k| k.1));
            rows <= SUBNET_LEVEL_MAX && cols <= SUBNET_LEVEL_MAX
        });
        let (level, cells, names): (&str, &HashMap<(u32, u32), Tally>, &Interner) =
            match subnet_level {
                Some(c) => ("subnet", c, &self.subnets),
                None => ("vnet", &self.vnet_cells, &self.vnets),
            };
        let group_of = |m: &Member| if level == "subnet" { m.subnet } else { m.vnet };
        let (rows, cols, cell_list) = grid(cells);
        let k = self.outcomes.len().max(1);
        let mut flat_cells = String::with_capacity(cell_list.len() * 4 * (2 + k));
        let mut cell_reps = Vec::new();
        for (i, (r, c, t)) in cell_list.iter().enumerate() {
            push_numbers(&mut flat_cells, [u64::from(*r), u64::from(*c)]);
            push_numbers(&mut flat_cells, t.counts[..k].iter().copied());
            for s in 0..k {
                if t.reps[s] != NO_REP {
                    cell_reps.push(json!([i, s, t.reps[s]]));
                }
            }
        }
        let mut pair_keys: Vec<&(u32, u32)> = self.pairs.keys().collect();
        pair_keys.sort_unstable();
        let mut flat_pairs = String::with_capacity(pair_keys.len() * 4 * (4 + k));
        let mut pair_reps = Vec::new();
        for (i, key) in pair_keys.iter().enumerate() {
            let t = &self.pairs[key];
            let (s, d) = (&self.members[key.0 as usize], &self.members[key.1 as usize]);
            let pos = |axis: &Axis, g: u32| {
                axis.0
                    .get(&g)
                    .map_or(u64::from(u32::MAX), |p| u64::from(*p))
            };
            push_numbers(
                &mut flat_pairs,
                [
                    u64::from(key.0),
                    u64::from(key.1),
                    pos(&rows, group_of(s)),
                    pos(&cols, group_of(d)),
                ],
            );
            push_numbers(&mut flat_pairs, t.counts[..k].iter().copied());
            for s in 0..k {
                if t.reps[s] != NO_REP {
                    pair_reps.push(json!([i, s, t.reps[s]]));
                }
            }
        }
        let value = json!({
            "title": self.title,
            "kind": self.kind.name(),
            "notes": self.notes,
            "flows": self.flows,
            "outcomes": self.outcomes,
            "level": level,
            "rows": rows.1.iter().map(|g| &names.names[*g as usize]).collect::<Vec<_>>(),
            "cols": cols.1.iter().map(|g| &names.names[*g as usize]).collect::<Vec<_>>(),
            "cells": CELLS_MARK,
            "cellReps": cell_reps,
            "members": self.members.iter().map(|m| json!([
                m.label, self.subnets.names[m.subnet as usize], self.vnets.names[m.vnet as usize]
            ])).collect::<Vec<_>>(),
            "pairs": PAIRS_MARK,
            "pairReps": pair_reps,
            "reps": self.reps.iter().map(rep_json).collect::<Vec<_>>(),
            "limits": {
                "pairsMax": PAIRS_MAX, "pairsDropped": self.pairs_dropped,
                "repsMax": REPS_MAX, "repsBeyondBudget": self.reps_wanted_beyond_budget,
                "subnetLevelMax": SUBNET_LEVEL_MAX,
            },
            "summary": summary_json(summary),
            "changes": self.changes_json(),
            "sections": self.sections,
        });
        Data {
            value,
            cells: flat_cells,
            pairs: flat_pairs,
        }
    }

    fn changes_json(&self) -> Value {
        if self.kind != Kind::Diff {
            return Value::Null;
        }
        let mut causes: Vec<(&String, &Cause)> = self.causes.iter().collect();
        causes.sort_by_key(|(_, c)| std::cmp::Reverse(c.flows));
        json!({
            "changed": self.changed,
            "causes": causes.iter().map(|(name, c)| json!({
                "cause": name,
                "flows": c.flows,
                "transitions": c.transitions,
                "examples": c.examples.iter().map(|(o, n)| json!([
                    o.as_ref().map_or(Value::Null, row_json),
                    n.as_ref().map_or(Value::Null, row_json),
                ])).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

fn distinct(it: impl Iterator<Item = u32>) -> usize {
    let mut v: Vec<u32> = it.collect();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// One axis: group id → position, and position → group id (in id order: first seen first).
type Axis = (HashMap<u32, u32>, Vec<u32>);

/// Rows and columns of the heat map (groups present on each side, in first-seen order) and
/// the cells sorted by position.
fn grid(cells: &HashMap<(u32, u32), Tally>) -> (Axis, Axis, Vec<(u32, u32, &Tally)>) {
    let axis = |ids: Vec<u32>| -> Axis {
        let mut ids = ids;
        ids.sort_unstable();
        ids.dedup();
        let pos: HashMap<u32, u32> = ids
            .iter()
            .enumerate()
            .map(|(i, g)| (*g, i as u32))
            .collect();
        (pos, ids)
    };
    let rows = axis(cells.keys().map(|k| k.0).collect());
    let cols = axis(cells.keys().map(|k| k.1).collect());
    let mut list: Vec<(u32, u32, &Tally)> = cells
        .iter()
        .map(|(k, t)| (rows.0[&k.0], cols.0[&k.1], t))
        .collect();
    list.sort_unstable_by_key(|(r, c, _)| (*r, *c));
    (rows, cols, list)
}

fn rep_json(r: &Option<FlowRow>) -> Value {
    r.as_ref().map_or(Value::Null, row_json)
}

/// A row as the report's script reads it (the contract's camelCase names).
fn row_json(r: &FlowRow) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

/// A resource's rules: their flows, their outcomes (reachable, unreachable, no return, other)
/// and the first 50 of them.
type RuleGroup = (u64, [u64; 4], Vec<Value>);

/// The summary, with rules grouped by the resource holding them and drop points by VNet.
fn summary_json(s: &Summary) -> Value {
    let mut v = s.to_json_top(20);
    let rules = s.top_rules(usize::MAX);
    let mut by_resource: std::collections::BTreeMap<String, RuleGroup> = Default::default();
    for r in &rules {
        let holder = r.rule.split_once('/').map_or(r.rule.as_str(), |(h, _)| h);
        let e = by_resource.entry(holder.to_string()).or_default();
        e.0 += r.flows;
        e.1[0] += r.outcomes.reachable;
        e.1[1] += r.outcomes.unreachable;
        e.1[2] += r.outcomes.no_return;
        e.1[3] += r.outcomes.other;
        if e.2.len() < 50 {
            e.2.push(
                json!({"rule": r.rule, "flows": r.flows, "reachable": r.outcomes.reachable,
                "unreachable": r.outcomes.unreachable, "noReturn": r.outcomes.no_return}),
            );
        }
    }
    let mut groups: Vec<(String, RuleGroup)> = by_resource.into_iter().collect();
    groups.sort_by_key(|(_, g)| std::cmp::Reverse(g.0));
    let rule_groups: Vec<Value> = groups
        .into_iter()
        .take(100)
        .map(|(name, (flows, o, list))| {
            json!({"resource": name, "flows": flows, "reachable": o[0], "unreachable": o[1],
                "noReturn": o[2], "rules": list})
        })
        .collect();
    let mut drops: std::collections::BTreeMap<String, (u64, Vec<Value>)> = Default::default();
    for d in s.top_drop_points(usize::MAX) {
        let group = drop_group(&d.name);
        let e = drops.entry(group).or_default();
        e.0 += d.flows;
        if e.1.len() < 50 {
            e.1.push(json!({"point": d.name, "flows": d.flows}));
        }
    }
    let mut drop_list: Vec<(String, (u64, Vec<Value>))> = drops.into_iter().collect();
    drop_list.sort_by_key(|(_, g)| std::cmp::Reverse(g.0));
    if let Some(m) = v.as_object_mut() {
        m.insert("ruleGroups".into(), json!(rule_groups));
        m.insert(
            "dropGroups".into(),
            json!(drop_list
                .into_iter()
                .take(100)
                .map(|(g, (flows, points))| json!({"group": g, "flows": flows, "points": points}))
                .collect::<Vec<_>>()),
        );
    }
    v
}

/// The group a drop point reads best in: its VNet for a subnet, its kind otherwise.
fn drop_group(point: &str) -> String {
    match point.split_once(':') {
        Some(("subnet", path)) => format!("vnet:{}", path.split('/').next().unwrap_or(path)),
        Some((kind, _)) => format!("{kind}s"),
        None => point.to_string(),
    }
}

/// Text for HTML element content.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(outcome: &str, dport: u16) -> FlowRow {
        FlowRow {
            outcome: outcome.into(),
            dst_port: dport,
            protocol: "Tcp".into(),
            ..FlowRow::default()
        }
    }

    #[test]
    fn first_flow_of_each_outcome_is_the_representative_of_its_cell_and_pair() {
        let mut h = HtmlReport::new("t", Kind::Sweep);
        let a = h.member("nic:a", "v1/s1", "v1");
        let b = h.member("nic:b", "v2/s2", "v2");
        h.record_row(a, b, &row("reachable", 443));
        h.record_row(a, b, &row("reachable", 22));
        h.record_row(a, b, &row("unreachable", 3389));
        let data = h.data(&Summary::new());
        let d = &data.value;
        assert_eq!(d["level"], "subnet");
        // Row 0, column 0: two reachable, one unreachable.
        assert_eq!(data.cells, "0,0,2,1");
        // Two representatives: tcp/443 (first reachable) and tcp/3389 (first unreachable).
        assert_eq!(d["reps"].as_array().unwrap().len(), 2);
        assert_eq!(d["reps"][0]["dstPort"], 443);
        assert_eq!(d["reps"][1]["dstPort"], 3389);
        assert_eq!(d["cellReps"], json!([[0, 0, 0], [0, 1, 1]]));
    }

    #[test]
    fn many_subnets_draw_vnet_by_vnet() {
        let mut h = HtmlReport::new("t", Kind::Sweep);
        let dsts: Vec<u32> = (0..=SUBNET_LEVEL_MAX as u32)
            .map(|i| {
                h.member(
                    &format!("subnet:v{}/s{i}", i % 3),
                    &format!("v{}/s{i}", i % 3),
                    &format!("v{}", i % 3),
                )
            })
            .collect();
        let src = h.member("internet", "internet", "internet");
        for d in dsts {
            h.record_row(src, d, &row("unreachable", 443));
        }
        let data = h.data(&Summary::new());
        let d = &data.value;
        assert_eq!(d["level"], "vnet");
        assert_eq!(d["cols"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn script_cannot_be_closed_by_data() {
        let mut h = HtmlReport::new("</script><b>", Kind::Sweep);
        let a = h.member("nic:</script>", "x", "x");
        h.record_row(a, a, &row("reachable", 1));
        let mut out = Vec::new();
        h.write(&Summary::new(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.matches("</script>").count(),
            2,
            "only the two real script ends"
        );
        assert!(text.contains("<title>&lt;/script&gt;&lt;b&gt;</title>"));
    }

    #[test]
    fn budgets_bound_pairs_and_representatives() {
        let mut h = HtmlReport::new("t", Kind::Sweep);
        let n = 700u32; // 490,000 pairs: more than PAIRS_MAX
        let ids: Vec<u32> = (0..n)
            .map(|i| h.member(&format!("nic:{i}"), "s", "v"))
            .collect();
        for &s in &ids {
            for &d in &ids {
                let slot = h.outcome_slot("reachable");
                if let Some(id) = h.record(s, d, slot) {
                    h.set_rep(id, row("reachable", 1));
                }
            }
        }
        assert_eq!(h.pairs.len(), PAIRS_MAX);
        assert_eq!(h.reps.len(), REPS_MAX);
        assert_eq!(h.pairs_dropped, (n * n) as u64 - PAIRS_MAX as u64);
    }
}
