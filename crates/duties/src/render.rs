//! The influence map and the guard report as text and JSON (camelCase keys).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{json, Value};

use crate::guard::Report;
use crate::influence::{Influence, Map};

/// What the audit does not cover, printed with every map.
pub const COVERAGE: &str = "coverage: reachability for every header (exhaustive regions: every address, protocol and port between the selected sources and destinations) and by sweep (one probe per endpoint, the ports given, with paths), with and without each boundary's contribution; rule openings probed on ports 22, 80, 443, 445, 1433, 3389, 5985, 8080 and each rule's own ports; inbound and outbound NSG rules (outbound: the rules that name VirtualNetwork as a destination, reported when one opens something the defaults did not already admit)";

/// A prefix list for a reader: the first few, then how many more and how many addresses.
pub fn short_list(ps: &[ipnet::Ipv4Net]) -> String {
    const SHOWN: usize = 4;
    let mut v: Vec<String> = ps.iter().take(SHOWN).map(|p| p.to_string()).collect();
    if ps.len() > SHOWN {
        let n: u64 = ps.iter().map(|p| 1u64 << (32 - p.prefix_len())).sum();
        v.push(format!(
            "and {} more prefixes; {n} addresses in all",
            ps.len() - SHOWN
        ));
    }
    v.join(", ")
}

/// (from, to) -> (count, kinds, exposure).
fn cells(m: &Map) -> BTreeMap<(String, String), (usize, Vec<&'static str>, u64)> {
    let mut c: BTreeMap<(String, String), (usize, Vec<&'static str>, u64)> = BTreeMap::new();
    for i in &m.influences {
        let e = c.entry((i.from.clone(), i.to.clone())).or_default();
        e.0 += 1;
        if !e.1.contains(&i.kind.as_str()) {
            e.1.push(i.kind.as_str());
        }
        e.2 = e.2.saturating_add(i.exposure);
    }
    c
}

fn influence_json(rank: usize, i: &Influence) -> Value {
    json!({
        "rank": rank,
        "kind": i.kind.as_str(),
        "from": i.from,
        "to": i.to,
        "seed": i.seed,
        "exposure": i.exposure,
        "detail": i.detail,
        "causes": i.causes,
        "affected": i.affected,
        "opened": i.opened.iter().map(|o| json!({
            "rule": o.rule,
            "direction": if o.outbound { "Outbound" } else { "Inbound" },
            (if o.outbound { "destination" } else { "source" }): o.source,
            "prefixes": o.prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "ports": o.ports.iter().map(|(p, n)| format!("{p}/{n}")).collect::<Vec<_>>(),
            "rulesOnly": o.rules_only,
        })).collect::<Vec<_>>(),
        "flows": i.flows.iter().map(|f| json!({
            "from": f.from, "to": f.to, "protocol": f.protocol, "dstPort": f.port,
            "without": f.without, "today": f.today,
            "pathWithout": f.path_without, "pathToday": f.path_today,
        })).collect::<Vec<_>>(),
        "mitigations": i.mitigations,
        "notEvaluated": i.not_evaluated,
        "regions": {
            "classes": i.regions.classes,
            "notEvaluated": i.regions.not_evaluated,
            "changes": i.regions.changes.iter().map(|c| json!({
                "from": c.from, "to": c.to,
                "change": if c.gained { "gained" } else { "lost" },
                "src": c.src, "dst": c.dst, "protocols": c.protocols,
                "headers": c.headers.to_string(),
            })).collect::<Vec<_>>(),
        },
    })
}

pub fn map_json(m: &Map) -> Value {
    let matrix: Vec<Value> = cells(m)
        .into_iter()
        .map(|((a, b), (n, kinds, e))| {
            json!({ "from": a, "to": b, "influences": n, "kinds": kinds, "exposure": e })
        })
        .collect();
    json!({
        "boundaries": m.boundaries,
        "ports": m.ports,
        "matrix": matrix,
        "influences": m.influences.iter().enumerate().map(|(k, i)| influence_json(k + 1, i)).collect::<Vec<_>>(),
        "coverage": COVERAGE,
    })
}

fn matrix_text(m: &Map, out: &mut String) {
    let c = cells(m);
    let w = m
        .boundaries
        .iter()
        .map(|b| b.len())
        .max()
        .unwrap_or(4)
        .max(9);
    let _ = write!(out, "{:w$}", "A \\ B");
    for b in &m.boundaries {
        let _ = write!(out, "  {b:>cw$}", cw = b.len().max(3));
    }
    out.push('\n');
    for a in &m.boundaries {
        let _ = write!(out, "{a:w$}");
        for b in &m.boundaries {
            let n = c.get(&(a.clone(), b.clone())).map(|x| x.0).unwrap_or(0);
            let cell = if a == b {
                "-".to_string()
            } else {
                n.to_string()
            };
            let _ = write!(out, "  {cell:>cw$}", cw = b.len().max(3));
        }
        out.push('\n');
    }
}

pub fn map_text(m: &Map) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} boundaries, {} influences across them (row A's resources decide, column B's decisions depend on them)\n",
        m.boundaries.len(),
        m.influences.len()
    );
    if m.boundaries.len() < 2 {
        let _ = writeln!(
            s,
            "every resource has one owner ({}): nothing crosses a boundary. Give an owner file (--owners), `origin.owner` on resources, or a topology imported from several subscriptions or resource groups.",
            m.boundaries.first().map(String::as_str).unwrap_or(crate::owners::UNOWNED)
        );
    }
    matrix_text(m, &mut s);
    for (k, i) in m.influences.iter().enumerate() {
        let _ = writeln!(
            s,
            "\n#{} {} {} -> {}{} (exposure {} addresses, {} flows changed)",
            k + 1,
            i.kind.as_str(),
            i.from,
            i.to,
            if i.seed {
                " [0.0.0.0/0 route, no explicit deny]"
            } else {
                ""
            },
            i.exposure,
            i.flows.len()
        );
        let _ = writeln!(s, "  {}", i.detail);
        let _ = writeln!(s, "  caused by: {}", i.causes.join("; "));
        let _ = writeln!(s, "  affects:   {}", i.affected.join("; "));
        for o in &i.opened {
            let ports: Vec<String> = o.ports.iter().map(|(p, n)| format!("{p}/{n}")).collect();
            let _ = writeln!(
                s,
                "  opens {} {} {} ({}) on {}{}",
                o.rule,
                if o.outbound { "toward" } else { "to" },
                o.source,
                short_list(&o.prefixes),
                ports.join(","),
                if o.rules_only {
                    " [rules and IP flow verify only: the fabric does not admit Internet-sourced traffic at a public IP through the widened part, R5.7]"
                } else {
                    ""
                }
            );
        }
        for f in &i.flows {
            let _ = writeln!(
                s,
                "  flow {} -> {} {}/{}: {} without, {} today (path {})",
                f.from,
                f.to,
                f.protocol.to_ascii_lowercase(),
                f.port,
                f.without,
                f.today,
                f.path_today
            );
        }
        if let Some(e) = &i.not_evaluated {
            let _ = writeln!(s, "  reachability not evaluated: {e}");
        }
        region_text(i, &mut s);
        for x in &i.mitigations {
            let _ = writeln!(s, "  mitigation: {x}");
        }
    }
    let _ = writeln!(s, "\n{COVERAGE}");
    s
}

/// Region rows shown per influence in the text (the JSON and the report have them all).
const REGION_LINES: usize = 12;

fn region_text(i: &Influence, s: &mut String) {
    let r = &i.regions;
    for c in r.changes.iter().take(REGION_LINES) {
        let _ = writeln!(
            s,
            "  every header: {} {} {} -> {} {} dst {}",
            if c.gained {
                "reachable only with it:"
            } else {
                "reachable only without it:"
            },
            c.from,
            c.src,
            c.to,
            c.protocols,
            c.dst
        );
    }
    if r.changes.len() > REGION_LINES {
        let _ = writeln!(
            s,
            "  ... and {} more region rows (--json)",
            r.changes.len() - REGION_LINES
        );
    }
    if let Some(e) = &r.not_evaluated {
        let _ = writeln!(s, "  regions not compared: {e}");
    }
}

pub fn guard_json(r: &Report) -> Value {
    json!({
        "pass": r.pass(),
        "changedResources": r.changed.iter().map(|(id, c, o)| json!({
            "resource": id.to_string(), "change": c.as_str(), "owner": o,
        })).collect::<Vec<_>>(),
        "guards": r.guards.iter().map(|g| json!({
            "name": g.name,
            "owner": g.owner,
            "altered": g.altered(),
            "old": { "pass": g.old.pass, "problems": g.old.problems },
            "new": { "pass": g.new.pass, "problems": g.new.problems },
            "causes": g.causes.iter().map(|c| json!({
                "resource": c.resource.to_string(), "change": c.change.as_str(),
                "owner": c.owner, "how": c.how,
            })).collect::<Vec<_>>(),
            "approvals": g.approvals,
        })).collect::<Vec<_>>(),
        "required": r.required,
        "approved": r.approved,
        "missing": r.missing(),
    })
}

pub fn guard_text(r: &Report) -> String {
    let mut s = String::new();
    let altered = r.guards.iter().filter(|g| g.altered()).count();
    let _ = writeln!(
        s,
        "guards: {} checked, {} altered by this change ({} resources changed)",
        r.guards.len(),
        altered,
        r.changed.len()
    );
    for g in &r.guards {
        if !g.altered() {
            let _ = writeln!(
                s,
                "  unchanged  {} (owner {}): {}",
                g.name,
                g.owner,
                g.new.describe()
            );
            continue;
        }
        let _ = writeln!(s, "  ALTERED    {} (owner {})", g.name, g.owner);
        let _ = writeln!(s, "             before: {}", g.old.describe());
        let _ = writeln!(s, "             after:  {}", g.new.describe());
        for c in &g.causes {
            let _ = writeln!(
                s,
                "             caused by {} ({}, owner {}; {})",
                c.resource,
                c.change.as_str(),
                c.owner,
                c.how
            );
        }
        let v: Vec<&str> = g.approvals.iter().map(String::as_str).collect();
        let _ = writeln!(s, "             needs approval of: {}", v.join(", "));
    }
    let miss = r.missing();
    if r.required.is_empty() {
        let _ = writeln!(s, "no guarded property changed: no approval needed");
    } else if miss.is_empty() {
        let v: Vec<&str> = r.required.iter().map(String::as_str).collect();
        let _ = writeln!(
            s,
            "approved: every required owner approved ({})",
            v.join(", ")
        );
    } else {
        let v: Vec<&str> = miss.iter().map(|x| x.as_str()).collect();
        let _ = writeln!(s, "NOT APPROVED: missing approval of {}", v.join(", "));
    }
    s
}

/// The influence map as a section of the HTML report: a boundary × boundary matrix (row A's
/// resources decide, column B's decisions depend on them) whose cells open their influences,
/// with the resources, opened rules and changed flows of each; then every influence, ranked,
/// each opening the same detail.
pub fn map_section(m: &Map) -> vnetsim_report::html::section::Section {
    use vnetsim_report::html::section::{Detail, Mark, Matrix, Section, Table};
    let mut s = Section::new(
        "duties",
        format!(
            "Separation of duties: {} boundaries, {} influences across them",
            m.boundaries.len(),
            m.influences.len()
        ),
    );
    s.note("Row A's resources decide; column B's decisions depend on them. A cell counts A's influences on B and opens them; a crossed cell holds the seed scenario (a 0.0.0.0/0 route widening VirtualNetwork for an NSG with no explicit deny) or an influence that exposes addresses.");
    s.note(COVERAGE);
    let mut mx = Matrix::new(
        "Influences by boundary (row A decides, column B depends)",
        m.boundaries.clone(),
        m.boundaries.clone(),
    );
    for (a, b, list) in by_cell(m) {
        let ra = m.boundaries.iter().position(|x| *x == a).unwrap_or(0);
        let cb = m.boundaries.iter().position(|x| *x == b).unwrap_or(0);
        let exposing = list.iter().any(|(_, i)| i.seed || i.exposure > 0);
        let mut d =
            Detail::new(format!("{a} → {b}: {} influences", list.len())).table(ranked_table(&list));
        for (rank, i) in &list {
            d = add_influence(d, *rank, i);
        }
        let mark = if exposing { Mark::Bad } else { Mark::Warn };
        mx.cell(ra, cb, list.len().to_string(), mark, Some(d));
    }
    s.matrix(mx);
    let all: Vec<(usize, &Influence)> = m
        .influences
        .iter()
        .enumerate()
        .map(|(k, i)| (k + 1, i))
        .collect();
    let mut t = Table::new(
        "Influences, ranked by what they expose",
        &RANKED_COLUMNS,
        usize::MAX,
    );
    for (rank, i) in &all {
        let d = add_influence(
            Detail::new(format!("#{rank} {} {} → {}", i.kind.as_str(), i.from, i.to)),
            *rank,
            i,
        );
        t.row(ranked_row(*rank, i), Some(d));
    }
    s.table(t);
    s
}

const RANKED_COLUMNS: [&str; 8] = [
    "rank",
    "kind",
    "from",
    "to",
    "seed",
    "exposure",
    "flows changed",
    "detail",
];

fn ranked_row(rank: usize, i: &Influence) -> Vec<Value> {
    vec![
        json!(rank),
        json!(i.kind.as_str()),
        json!(i.from),
        json!(i.to),
        json!(if i.seed { "yes" } else { "" }),
        json!(i.exposure),
        json!(i.flows.len()),
        json!(i.detail),
    ]
}

fn ranked_table(list: &[(usize, &Influence)]) -> vnetsim_report::html::section::Table {
    let mut t =
        vnetsim_report::html::section::Table::new("Influences", &RANKED_COLUMNS, usize::MAX);
    for (rank, i) in list {
        t.row(ranked_row(*rank, i), None);
    }
    t
}

/// One influence's resources, opened rules, changed flows and mitigations, added to `d`.
fn add_influence(
    d: vnetsim_report::html::section::Detail,
    rank: usize,
    i: &Influence,
) -> vnetsim_report::html::section::Detail {
    use vnetsim_report::html::section::Table;
    const FLOWS_SHOWN: usize = 200;
    let mut res = Table::new(
        format!("#{rank} {}: resources", i.kind.as_str()),
        &["side", "resource"],
        usize::MAX,
    );
    for c in &i.causes {
        res.row(vec![json!(format!("{} (decides)", i.from)), json!(c)], None);
    }
    for a in &i.affected {
        res.row(vec![json!(format!("{} (depends)", i.to)), json!(a)], None);
    }
    let mut opened = Table::new(
        format!("#{rank}: rules it opens"),
        &[
            "rule",
            "direction",
            "source or destination",
            "prefixes",
            "ports",
            "data plane",
        ],
        usize::MAX,
    );
    for o in &i.opened {
        let ports: Vec<String> = o.ports.iter().map(|(p, n)| format!("{p}/{n}")).collect();
        opened.row(
            vec![
                json!(o.rule),
                json!(if o.outbound { "Outbound" } else { "Inbound" }),
                json!(o.source),
                json!(short_list(&o.prefixes)),
                json!(ports.join(",")),
                json!(if o.rules_only {
                    "rules and IP flow verify only (R5.7)"
                } else {
                    "yes"
                }),
            ],
            None,
        );
    }
    let mut flows = Table::new(
        format!("#{rank}: flows whose fate it changes"),
        &[
            "from",
            "to",
            "protocol",
            "dstPort",
            "without",
            "today",
            "path today",
        ],
        FLOWS_SHOWN,
    );
    for f in &i.flows {
        flows.row(
            vec![
                json!(f.from),
                json!(f.to),
                json!(f.protocol),
                json!(f.port),
                json!(f.without),
                json!(f.today),
                json!(f.path_today),
            ],
            None,
        );
    }
    let mut regions = Table::new(
        format!(
            "#{rank}: every header whose reachability it changes ({} classes walked)",
            i.regions.classes
        ),
        &["change", "from", "src", "to", "protocols", "dst", "headers"],
        500,
    );
    for c in &i.regions.changes {
        regions.row(
            vec![
                json!(if c.gained {
                    "reachable only with it"
                } else {
                    "reachable only without it"
                }),
                json!(c.from),
                json!(c.src),
                json!(c.to),
                json!(c.protocols),
                json!(c.dst),
                json!(c.headers.to_string()),
            ],
            None,
        );
    }
    let mut d = d.table(res);
    if !regions.is_empty() {
        d = d.table(regions);
    }
    if let Some(e) = &i.regions.not_evaluated {
        d = d.note(format!("#{rank}: regions not compared: {e}"));
    }
    if !opened.is_empty() {
        d = d.table(opened);
    }
    if !flows.is_empty() {
        d = d.table(flows);
    }
    if let Some(e) = &i.not_evaluated {
        d = d.note(format!("#{rank}: reachability not evaluated: {e}"));
    }
    if !i.mitigations.is_empty() {
        let mut t = Table::new(format!("#{rank}: mitigations"), &["mitigation"], usize::MAX);
        for x in &i.mitigations {
            t.row(vec![json!(x)], None);
        }
        d = d.table(t);
    }
    d
}

/// An (A, B) pair and its influences, each with its rank.
type PairInfluences<'m> = (String, String, Vec<(usize, &'m Influence)>);

/// The influences of each (A, B) pair, with their ranks, in boundary order.
fn by_cell(m: &Map) -> Vec<PairInfluences<'_>> {
    let mut c: BTreeMap<(String, String), Vec<(usize, &Influence)>> = BTreeMap::new();
    for (k, i) in m.influences.iter().enumerate() {
        c.entry((i.from.clone(), i.to.clone()))
            .or_default()
            .push((k + 1, i));
    }
    c.into_iter().map(|((a, b), l)| (a, b, l)).collect()
}
