//! # vnetsim-hygiene: rule hygiene
//!
//! Reads every NSG as compiled for each of its associations (service tags and ASGs expanded
//! for that subnet or NIC) and computes, exactly, the headers each rule matches first: its
//! match set minus the match sets of every rule ahead of it (first match by ascending priority,
//! R5.1), as boxes of the header space. From those regions:
//! - `shadowed`: a user rule no header matches first, with the rule(s) ahead that take it;
//! - `never-decides`: a rule that some header matches first, but none addressed to (inbound)
//!   or sent from (outbound) the association it is attached to;
//! - `vnet-tag-widened`: `AllowVnetInBound` admits sources outside the VNets because user
//!   routes on the subnet's route table widened `VirtualNetwork` (R5.5), with no rule ahead of
//!   it deciding those sources;
//! - `internet-allow`: an inbound Allow rule from any source (`*`, `Internet`, 0.0.0.0/0) that
//!   decides some header.
//!
//! - `unresolved`: a rule that states a field vnetsim cannot resolve (`unresolved:`): not
//!   audited, its unknown fields and why; every finding about a rule after it in the same
//!   table says that it was not counted (its headers are unknown).
//!
//! Layering: model (route names) and fabric (compiled NSG tables) in, findings out; the binary
//! prints them. A rule whose regions grow past a bound is reported as not analysed, never
//! guessed.

pub mod boxes;

use std::collections::BTreeMap;

use boxes::{intersect, subtract, universe, Bx, DST, SRC};
use ipnet::Ipv4Net;
use serde_json::{json, Value};
use vnetsim_fabric::security::{Access, ExpandedRule, NsgTable, RuleTable};
use vnetsim_fabric::Fabric;
use vnetsim_model::types::Topology;

/// Boxes a rule's region may take before it is reported as not analysed.
const LIMIT: usize = 20_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub kind: &'static str,
    pub nsg: String,
    pub direction: &'static str,
    pub rule: String,
    pub priority: u32,
    /// The associations (`subnet:V/S`, `nic:NAME`) it was found at.
    pub at: Vec<String>,
    /// The rules ahead that take its headers (shadowed), or the widening routes.
    pub by: Vec<String>,
    pub detail: String,
}

/// One association of an NSG: where, the table, the addresses it guards.
struct Assoc<'f> {
    id: String,
    table: &'f NsgTable,
    guarded: Ipv4Net,
    /// The route table of the subnet (the NIC's subnet for a NIC association).
    route_table: Option<String>,
}

fn associations(f: &Fabric) -> Vec<Assoc<'_>> {
    let mut v = Vec::new();
    let rt = |s: usize| {
        f.subnets[s]
            .route_table
            .map(|r| f.route_tables[r.ix()].name.clone())
    };
    for (i, s) in f.subnets.iter().enumerate() {
        if let Some(t) = s.nsg_table {
            v.push(Assoc {
                id: format!("subnet:{}/{}", f.vnets[s.vnet.ix()].name, s.name),
                table: &f.nsg_tables[t.ix()],
                guarded: s.prefix,
                route_table: rt(i),
            });
        }
    }
    for n in &f.nics {
        if let Some(t) = n.nsg_table {
            v.push(Assoc {
                id: format!("nic:{}", n.name),
                table: &f.nsg_tables[t.ix()],
                guarded: Ipv4Net::new(n.ip.into(), 32).expect("/32"),
                route_table: rt(n.subnet.ix()),
            });
        }
    }
    v
}

fn interval(p: &Ipv4Net) -> (u32, u32) {
    (u32::from(p.network()), u32::from(p.broadcast()))
}

fn protocols(p: &str) -> Vec<(u32, u32)> {
    match p.to_ascii_lowercase().as_str() {
        "tcp" => vec![(6, 6)],
        "udp" => vec![(17, 17)],
        "icmp" => vec![(1, 1)],
        "esp" => vec![(50, 50)],
        "ah" => vec![(51, 51)],
        _ => vec![(0, 255)],
    }
}

/// A rule's match set, within the headers packets can have.
fn rule_boxes(r: &ExpandedRule) -> Vec<Bx> {
    let mut v = Vec::new();
    for &(plo, phi) in &protocols(r.protocol) {
        for s in &r.expanded_source {
            for d in &r.expanded_destination {
                for &(slo, shi) in &r.source_ports {
                    for &(dlo, dhi) in &r.destination_ports {
                        let (s, d) = (interval(s), interval(d));
                        v.push(Bx {
                            lo: [s.0, d.0, plo, slo as u32, dlo as u32],
                            hi: [s.1, d.1, phi, shi as u32, dhi as u32],
                        });
                    }
                }
            }
        }
    }
    intersect(&v, &universe())
}

/// Each rule's first-match region (`None`: not analysed, too many boxes).
fn regions(t: &RuleTable) -> Vec<Option<Vec<Bx>>> {
    let all: Vec<Vec<Bx>> = t.rules.iter().map(rule_boxes).collect();
    (0..all.len())
        .map(|i| {
            let ahead: Vec<Bx> = all[..i].iter().flatten().copied().collect();
            subtract(all[i].clone(), &ahead, LIMIT)
        })
        .collect()
}

/// The rules ahead of rule `i` that take its headers: the one that takes all of them when
/// there is one, else every rule ahead that takes some.
fn shadowing(t: &RuleTable, i: usize, nsg: &str) -> Vec<String> {
    let mine = rule_boxes(&t.rules[i]);
    let name = |j: usize| {
        format!(
            "{nsg}/{} (priority {})",
            t.rules[j].name, t.rules[j].priority
        )
    };
    for j in 0..i {
        if subtract(mine.clone(), &rule_boxes(&t.rules[j]), LIMIT).is_some_and(|r| r.is_empty()) {
            return vec![name(j)];
        }
    }
    (0..i)
        .filter(|&j| !intersect(&mine, &rule_boxes(&t.rules[j])).is_empty())
        .map(name)
        .collect()
}

/// Per rule of every NSG and direction: (shadowed at every association, decides at some,
/// not analysed somewhere, associations, shadowing rules).
#[derive(Default)]
struct Tally {
    priority: u32,
    default: bool,
    access_allow: bool,
    any_source: bool,
    ports: String,
    seen: Vec<String>,
    shadowed: usize,
    decides: usize,
    unknown: usize,
    by: Vec<String>,
}

type Key = (String, &'static str, String);

fn ports_text(r: &ExpandedRule) -> String {
    let p: Vec<String> = r
        .destination_ports
        .iter()
        .map(|&(a, b)| match (a, b) {
            (0, 65535) => "any port".to_string(),
            (a, b) if a == b => a.to_string(),
            (a, b) => format!("{a}-{b}"),
        })
        .collect();
    format!("{} {}", r.protocol, p.join(","))
}

fn tally_table(f: &Fabric, a: &Assoc<'_>, inbound: bool, out: &mut BTreeMap<Key, Tally>) {
    let t = if inbound {
        &a.table.inbound
    } else {
        &a.table.outbound
    };
    let nsg = &f.nsg_names[a.table.nsg.ix()];
    let (g0, g1) = interval(&a.guarded);
    let dim = if inbound { DST } else { SRC };
    let guarded = Bx {
        lo: [0; 5],
        hi: [u32::MAX, u32::MAX, 255, 65535, 65535],
    }
    .with(dim, g0, g1);
    let dir = if inbound { "Inbound" } else { "Outbound" };
    for (i, reg) in regions(t).into_iter().enumerate() {
        let r = &t.rules[i];
        let e = out.entry((nsg.clone(), dir, r.name.clone())).or_default();
        e.priority = r.priority;
        e.default = r.default;
        e.access_allow = r.access == Access::Allow;
        e.any_source = r
            .source
            .iter()
            .any(|s| s == "*" || s == "Internet" || s == "0.0.0.0/0");
        e.ports = ports_text(r);
        e.seen.push(a.id.clone());
        match reg {
            None => e.unknown += 1,
            Some(v) if v.is_empty() => {
                e.shadowed += 1;
                if e.by.is_empty() {
                    e.by = shadowing(t, i, nsg);
                }
            }
            Some(v) if !intersect(&v, &[guarded]).is_empty() => e.decides += 1,
            Some(_) => {}
        }
    }
}

fn rule_findings(f: &Fabric) -> Vec<Finding> {
    let mut tally: BTreeMap<Key, Tally> = BTreeMap::new();
    for a in associations(f) {
        tally_table(f, &a, true, &mut tally);
        tally_table(f, &a, false, &mut tally);
    }
    let mut out = Vec::new();
    for ((nsg, direction, rule), t) in tally {
        let n = t.seen.len();
        let base = |kind: &'static str, by: Vec<String>, detail: String| Finding {
            kind,
            nsg: nsg.clone(),
            direction,
            rule: rule.clone(),
            priority: t.priority,
            at: t.seen.clone(),
            by,
            detail,
        };
        if t.unknown > 0 {
            out.push(base(
                "not-analysed",
                vec![],
                "its first-match region has too many pieces to analyse".into(),
            ));
        } else if !t.default && t.shadowed == n {
            let detail = format!(
                "no packet matches it first: the rules ahead take every header it matches ({})",
                t.ports
            );
            out.push(base("shadowed", t.by.clone(), detail));
        } else if !t.default && t.decides == 0 {
            let what = if direction == "Inbound" {
                "addressed to"
            } else {
                "sent from"
            };
            let detail = format!("no packet {what} the addresses it guards matches it first");
            out.push(base("never-decides", vec![], detail));
        }
        if !t.default && t.access_allow && t.any_source && direction == "Inbound" && t.decides > 0 {
            let detail = format!("allows {} from any source, the Internet included", t.ports);
            out.push(base("internet-allow", vec![], detail));
        }
    }
    out
}

/// AllowVnetInBound admitting sources outside the VNets (R5.5 widening by user routes).
fn widened(f: &Fabric, topo: &Topology) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in associations(f) {
        let Some(narrow) = &a.table.inbound_from_internet else {
            continue;
        };
        let t = &a.table.inbound;
        let Some(i) = t
            .rules
            .iter()
            .position(|r| r.default && r.name == "AllowVnetInBound")
        else {
            continue;
        };
        let Some(Some(reg)) = regions(t).into_iter().nth(i) else {
            continue;
        };
        let (g0, g1) = interval(&a.guarded);
        let all = Bx {
            lo: [0; 5],
            hi: [u32::MAX, u32::MAX, 255, 65535, 65535],
        };
        let reg = intersect(&reg, &[all.with(DST, g0, g1)]);
        let vnet_src: Vec<Bx> = narrow
            .rules
            .iter()
            .find(|r| r.default && r.name == "AllowVnetInBound")
            .map(|r| {
                r.expanded_source
                    .iter()
                    .map(|p| {
                        let (lo, hi) = interval(p);
                        all.with(SRC, lo, hi)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let Some(outside) = subtract(reg, &vnet_src, LIMIT) else {
            continue;
        };
        if outside.is_empty() {
            continue;
        }
        let routes = widening_routes(
            topo,
            a.route_table.as_deref(),
            &narrow.rules[i].expanded_source,
        );
        let nsg = f.nsg_names[a.table.nsg.ix()].clone();
        let every = routes.iter().any(|r| r.contains("0.0.0.0/0"));
        out.push(Finding {
            kind: "vnet-tag-widened",
            nsg,
            direction: "Inbound",
            rule: "AllowVnetInBound".into(),
            priority: 65000,
            at: vec![a.id.clone()],
            by: routes,
            detail: format!(
                "relies on the default AllowVnetInBound, which admits {} because the user routes of route table {} widened VirtualNetwork (R5.5); no rule ahead of it decides those sources (IP flow verify says Allow; traffic arriving at a public IP is still held to the VNets' own space, R5.7)",
                if every { "every source address" } else { "sources outside the VNets" },
                a.route_table.as_deref().unwrap_or("-")
            ),
        });
    }
    out
}

/// The user routes of `table` whose prefixes are not inside the unwidened VirtualNetwork.
fn widening_routes(topo: &Topology, table: Option<&str>, narrow: &[Ipv4Net]) -> Vec<String> {
    let Some(rt) = table.and_then(|n| topo.route_tables.iter().find(|r| r.name.value == n)) else {
        return Vec::new();
    };
    rt.routes
        .iter()
        .filter_map(|r| match &r.address_prefix.value {
            vnetsim_model::types::RoutePrefix::Prefix(p)
                if !narrow.iter().any(|n| n.contains(p)) =>
            {
                Some(format!("{}/{} ({p})", rt.name.value, r.name.value))
            }
            vnetsim_model::types::RoutePrefix::ServiceTag(t) => {
                Some(format!("{}/{} ({t})", rt.name.value, r.name.value))
            }
            _ => None,
        })
        .collect()
}

/// Every finding, in a stable order (kind, NSG, direction, priority, rule).
pub fn audit(f: &Fabric, topo: &Topology) -> Vec<Finding> {
    let mut v = rule_findings(f);
    v.extend(widened(f, topo));
    let unresolved = unresolved_findings(f);
    for x in &mut v {
        behind_unresolved(x, &unresolved);
    }
    v.extend(unresolved);
    let rank = |k: &str| {
        [
            "shadowed",
            "never-decides",
            "vnet-tag-widened",
            "internet-allow",
            "not-analysed",
            "unresolved",
        ]
        .iter()
        .position(|x| *x == k)
    };
    v.sort_by(|a, b| {
        (
            rank(a.kind),
            &a.nsg,
            a.direction,
            a.priority,
            &a.rule,
            &a.at,
        )
            .cmp(&(
                rank(b.kind),
                &b.nsg,
                b.direction,
                b.priority,
                &b.rule,
                &b.at,
            ))
    });
    v
}

/// One `unresolved` finding per NSG rule with an `unresolved:` field (its associations in `at`).
fn unresolved_findings(f: &Fabric) -> Vec<Finding> {
    let mut by: BTreeMap<(String, &'static str, String), Finding> = BTreeMap::new();
    for a in associations(f) {
        let nsg = &f.nsg_names[a.table.nsg.ix()];
        for (dir, t) in [
            ("Inbound", &a.table.inbound),
            ("Outbound", &a.table.outbound),
        ] {
            for r in t.unresolved.iter().flat_map(|u| &u.rules) {
                let x = by
                    .entry((nsg.clone(), dir, r.name.clone()))
                    .or_insert_with(|| Finding {
                        kind: "unresolved",
                        nsg: nsg.clone(),
                        direction: dir,
                        rule: r.name.clone(),
                        priority: r.order,
                        at: Vec::new(),
                        by: Vec::new(),
                        detail: format!(
                            "not audited: {}; a flow it could match ahead of the rule that decides gets no verdict",
                            r.why
                        ),
                    });
                x.at.push(a.id.clone());
            }
        }
    }
    by.into_values().collect()
}

/// A finding about a rule that an unresolved rule of the same NSG and direction comes ahead of
/// says so: the regions were computed without it.
fn behind_unresolved(x: &mut Finding, unresolved: &[Finding]) {
    let ahead: Vec<&str> = unresolved
        .iter()
        .filter(|u| u.nsg == x.nsg && u.direction == x.direction && u.priority < x.priority)
        .map(|u| u.rule.as_str())
        .collect();
    if !ahead.is_empty() {
        x.detail.push_str(&format!(
            " (unresolved rule(s) ahead not counted, their headers unknown: {})",
            ahead.join(", ")
        ));
    }
}

pub fn json(v: &[Finding]) -> Value {
    json!({ "findings": v.iter().map(|x| json!({
        "kind": x.kind, "nsg": x.nsg, "direction": x.direction, "rule": x.rule,
        "priority": x.priority, "at": x.at, "by": x.by, "detail": x.detail,
    })).collect::<Vec<_>>() })
}

pub fn text(v: &[Finding]) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    for x in v {
        let _ = writeln!(
            o,
            "{:<16} {} {} {} (priority {}) at {}",
            x.kind,
            x.nsg,
            x.direction.to_lowercase(),
            x.rule,
            x.priority,
            x.at.join(", ")
        );
        let _ = writeln!(o, "                 {}", x.detail);
        if !x.by.is_empty() {
            let _ = writeln!(o, "                 by {}", x.by.join(", "));
        }
    }
    let _ = writeln!(o, "{} finding(s)", v.len());
    o
}
