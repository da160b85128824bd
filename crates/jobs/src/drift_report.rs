//! A flow-log replay's drift as a section of the HTML report: a matrix of source × destination
//! places with the drift findings in each cell, the findings by kind, the flows the other
//! topology decides differently, and the logged flows grouped without their ephemeral ports.
//! Each cell and kind opens its findings, one row per logged flow.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use vnetsim_engine::render::{ip, protocol_name};
use vnetsim_fabric::Fabric;
use vnetsim_flowlog::{Folder, ReadStats};
use vnetsim_report::html::section::{Detail, Mark, Matrix, Section, Table};

use crate::flowlog::{self as fl, Judged, Kind};

/// Findings listed per cell or kind, and groups listed in all.
pub const FINDINGS_PER_LIST: usize = 500;
pub const GROUPS_MAX: usize = 500;
/// Above this many places on either side, the matrix is drawn VNet by VNet.
pub const PLACES_MAX: usize = 60;

const FINDING_COLUMNS: [&str; 15] = [
    "kind",
    "src",
    "dst",
    "protocol",
    "srcPort",
    "dstPort",
    "direction",
    "nic",
    "logged",
    "loggedRule",
    "model",
    "modelRule",
    "detail",
    "path",
    "log",
];

/// Where a flow's first tuple was: `FILE#recordN`.
pub fn location(st: &ReadStats, folder: &Folder, j: &Judged) -> String {
    let x = &folder.flows[j.flow];
    let file = st
        .files
        .get(x.first.file as usize)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!("{file}#record{}", x.first.record)
}

fn finding_row(
    st: &ReadStats,
    folder: &Folder,
    j: &Judged,
    kind: &str,
    detail: &str,
) -> Vec<Value> {
    let x = &folder.flows[j.flow];
    let k = &x.key;
    vec![
        json!(kind),
        json!(ip(k.src)),
        json!(ip(k.dst)),
        json!(protocol_name(k.proto)),
        json!(k.sport),
        json!(k.dport),
        json!(k.direction.as_str()),
        json!(j.nic.clone().unwrap_or_default()),
        json!(if k.denied { "Deny" } else { "Allow" }),
        json!(folder.strings.get(k.rule)),
        json!(j.model_access.map_or("unknown", |a| a.as_str())),
        json!(j.model_nsg_rule.clone().unwrap_or_default()),
        json!(detail),
        json!(j.row.as_ref().map(|r| r.path.clone()).unwrap_or_default()),
        json!(location(st, folder, j)),
    ]
}

fn findings_table(title: String) -> Table {
    Table::new(title, &FINDING_COLUMNS, FINDINGS_PER_LIST)
}

/// The VNet group of a place (`subnet:V/S` → `vnet:V`); other places are their own group.
fn vnet_group(place: &str) -> String {
    match place.strip_prefix("subnet:") {
        Some(path) => format!("vnet:{}", path.split('/').next().unwrap_or(path)),
        None => place.to_string(),
    }
}

/// One matrix cell: logged flows, and its findings.
#[derive(Default)]
struct Cell {
    flows: u64,
    drift: u64,
    findings: Option<Table>,
}

/// The drift section of a flow-log replay's report.
pub fn section(
    f: &Fabric,
    st: &ReadStats,
    folder: &Folder,
    judged: &[Judged],
    changed: Option<&[(usize, String)]>,
) -> Section {
    let mut s = Section::new(
        "drift",
        "Drift: the model against the log, at the NIC and direction Azure logged",
    );
    s.note(format!(
        "{} file(s), {} records, {} tuples ({} VNet v4, {} NSG v1, {} NSG v2) in {} logged flows; corrupt records {}, corrupt tuples {}, blobs cut mid-write {}, files skipped {}.",
        st.files.len(), st.records, st.tuples, st.vnet_v4_tuples, st.nsg_v1_tuples,
        st.nsg_v2_tuples, folder.flows.len(), st.corrupt_records, st.corrupt_tuples,
        st.truncated_blobs, st.skipped_files
    ));
    s.note("Each logged flow is judged by the NSGs of the NIC that logged it, in the direction it was logged; a finding is where that verdict or rule differs from the log, where the model says the flow cannot be there, or where the NIC is not in the fabric. not-modelled findings (admin rules, encryption) are listed but are not drift.");
    s.matrix(matrix(f, st, folder, judged));
    s.table(by_kind(st, folder, judged));
    if let Some(c) = changed {
        s.table(decided_differently(st, folder, judged, c));
    }
    s.table(groups(f, folder, judged));
    s
}

fn matrix(f: &Fabric, st: &ReadStats, folder: &Folder, judged: &[Judged]) -> Matrix {
    let places: Vec<(String, String)> = judged
        .iter()
        .map(|j| {
            let k = &folder.flows[j.flow].key;
            (fl::place(f, k.src), fl::place(f, k.dst))
        })
        .collect();
    let distinct = |side: fn(&(String, String)) -> &String| {
        places.iter().map(side).collect::<BTreeSet<_>>().len()
    };
    let by_vnet = distinct(|p| &p.0) > PLACES_MAX || distinct(|p| &p.1) > PLACES_MAX;
    let group = |p: &str| {
        if by_vnet {
            vnet_group(p)
        } else {
            p.to_string()
        }
    };
    let mut cells: BTreeMap<(String, String), Cell> = BTreeMap::new();
    for (j, (a, b)) in judged.iter().zip(&places) {
        let (ga, gb) = (group(a), group(b));
        let cell = cells.entry((ga.clone(), gb.clone())).or_default();
        cell.flows += 1;
        let Some((kind, detail)) = &j.finding else {
            continue;
        };
        if !kind.is_drift() {
            continue;
        }
        cell.drift += 1;
        cell.findings
            .get_or_insert_with(|| findings_table(format!("Findings {ga} → {gb}")))
            .row(finding_row(st, folder, j, kind.as_str(), detail), None);
    }
    let rows: Vec<String> = cells
        .keys()
        .map(|k| k.0.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let cols: Vec<String> = cells
        .keys()
        .map(|k| k.1.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let level = if by_vnet { "VNet" } else { "subnet" };
    let mut m = Matrix::new(
        format!("Drift findings by source and destination {level}: a cell with findings opens them; 0 is a pair of places whose logged flows all agree with the model"),
        rows.clone(),
        cols.clone(),
    );
    for ((a, b), c) in cells {
        let r = rows.binary_search(&a).unwrap_or(0);
        let col = cols.binary_search(&b).unwrap_or(0);
        let (text, mark) = if c.drift > 0 {
            (c.drift.to_string(), Mark::Bad)
        } else {
            ("0".to_string(), Mark::Ok)
        };
        let detail = c.findings.map(|t| {
            Detail::new(format!(
                "{a} → {b}: {} drift findings in {} logged flows",
                c.drift, c.flows
            ))
            .table(t)
        });
        m.cell(r, col, text, mark, detail);
    }
    m
}

fn by_kind(st: &ReadStats, folder: &Folder, judged: &[Judged]) -> Table {
    let mut lists: BTreeMap<Kind, (u64, BTreeSet<String>, Table)> = BTreeMap::new();
    for k in Kind::ALL {
        lists.insert(
            k,
            (
                0,
                BTreeSet::new(),
                findings_table(format!("{} findings", k.as_str())),
            ),
        );
    }
    for j in judged {
        let Some((kind, detail)) = &j.finding else {
            continue;
        };
        let e = lists.get_mut(kind).expect("every kind");
        e.0 += 1;
        for r in [j.nic.clone(), j.model_nsg_rule.clone()]
            .into_iter()
            .flatten()
        {
            if e.1.len() < 50 {
                e.1.insert(r);
            }
        }
        e.2.row(finding_row(st, folder, j, kind.as_str(), detail), None);
    }
    let mut t = Table::new(
        "Findings by kind",
        &["kind", "flows", "drift", "resources"],
        Kind::ALL.len(),
    );
    for (k, (n, res, list)) in lists {
        let detail =
            (n > 0).then(|| Detail::new(format!("{}: {n} logged flows", k.as_str())).table(list));
        t.row(
            vec![
                json!(k.as_str()),
                json!(n),
                json!(if k.is_drift() {
                    "yes"
                } else {
                    "no (not compared)"
                }),
                json!(res.into_iter().collect::<Vec<_>>().join(", ")),
            ],
            detail,
        );
    }
    t
}

fn decided_differently(
    st: &ReadStats,
    folder: &Folder,
    judged: &[Judged],
    changed: &[(usize, String)],
) -> Table {
    let mut t = Table::new(
        format!(
            "Decided differently by the other topology ({} logged flows)",
            changed.len()
        ),
        &FINDING_COLUMNS,
        FINDINGS_PER_LIST,
    );
    for (i, d) in changed {
        t.row(
            finding_row(st, folder, &judged[*i], "decided-differently", d),
            None,
        );
    }
    t
}

fn groups(f: &Fabric, folder: &Folder, judged: &[Judged]) -> Table {
    let all = fl::groups(f, folder, judged);
    let mut t = Table::new(
        "Logged flows by source, destination, protocol, port, logged and modelled verdict",
        &[
            "src", "dst", "protocol", "dstPort", "logged", "model", "flows",
        ],
        GROUPS_MAX,
    );
    for (g, n) in all {
        t.row(
            vec![
                json!(g.src),
                json!(g.dst),
                json!(g.protocol),
                json!(g.dst_port),
                json!(g.logged),
                json!(g.model),
                json!(n),
            ],
            None,
        );
    }
    t
}
