//! Rows per logged flow (`replay LOGS --out`) and per drift finding (`--drift-out`): their
//! columns and cells, for the files the command line writes and the tables the Python package
//! returns.

use vnetsim_engine::render::{ip, protocol_name};
use vnetsim_flowlog::Folder;
use vnetsim_report::table::{Cell, Kind as Col};

use crate::drift_report::location;
use crate::flowlog::Judged;

pub const OBS_COLUMNS: [(&str, Col); 21] = [
    ("src", Col::Text),
    ("dst", Col::Text),
    ("protocol", Col::Text),
    ("srcPort", Col::Count),
    ("dstPort", Col::Count),
    ("direction", Col::Text),
    ("nic", Col::Text),
    ("matchedBy", Col::Text),
    ("loggedVerdict", Col::Text),
    ("loggedRule", Col::Text),
    ("aclId", Col::Text),
    ("modelVerdict", Col::Text),
    ("modelRule", Col::Text),
    ("drift", Col::Text),
    ("outcome", Col::Text),
    ("path", Col::Text),
    ("srcSeen", Col::Text),
    ("tuples", Col::Count),
    ("packets", Col::Count),
    ("bytes", Col::Count),
    ("log", Col::Text),
];

pub const DRIFT_COLUMNS: [(&str, Col); 12] = [
    ("kind", Col::Text),
    ("src", Col::Text),
    ("dst", Col::Text),
    ("protocol", Col::Text),
    ("srcPort", Col::Count),
    ("dstPort", Col::Count),
    ("direction", Col::Text),
    ("nic", Col::Text),
    ("loggedRule", Col::Text),
    ("modelRule", Col::Text),
    ("detail", Col::Text),
    ("log", Col::Text),
];

fn logged_verdict(x: &vnetsim_flowlog::FoldedFlow) -> &'static str {
    if x.key.denied {
        "Deny"
    } else {
        "Allow"
    }
}

pub fn obs_row(st: &vnetsim_flowlog::ReadStats, folder: &Folder, j: &Judged) -> Vec<Cell> {
    let x = &folder.flows[j.flow];
    let k = &x.key;
    let r = j.row.as_ref();
    vec![
        ip(k.src).into(),
        ip(k.dst).into(),
        protocol_name(k.proto).into(),
        (k.sport as u64).into(),
        (k.dport as u64).into(),
        k.direction.as_str().into(),
        j.nic.clone().into(),
        j.matched_by.into(),
        logged_verdict(x).into(),
        folder.strings.get(k.rule).into(),
        folder.strings.get(k.acl).into(),
        j.model_access.map(|a| a.as_str().to_string()).into(),
        j.model_nsg_rule.clone().into(),
        j.finding.as_ref().map(|f| f.0.as_str().to_string()).into(),
        r.map(|r| r.outcome.clone()).into(),
        r.map(|r| r.path.clone()).into(),
        r.and_then(|r| r.src_seen.clone()).into(),
        x.tuples.into(),
        (x.counters[0] + x.counters[2]).into(),
        (x.counters[1] + x.counters[3]).into(),
        location(st, folder, j).into(),
    ]
}

pub fn drift_row(
    st: &vnetsim_flowlog::ReadStats,
    folder: &Folder,
    j: &Judged,
    kind: &str,
    detail: &str,
) -> Vec<Cell> {
    let x = &folder.flows[j.flow];
    let k = &x.key;
    vec![
        kind.into(),
        ip(k.src).into(),
        ip(k.dst).into(),
        protocol_name(k.proto).into(),
        (k.sport as u64).into(),
        (k.dport as u64).into(),
        k.direction.as_str().into(),
        j.nic.clone().into(),
        folder.strings.get(k.rule).into(),
        j.model_nsg_rule.clone().into(),
        detail.into(),
        location(st, folder, j).into(),
    ]
}
