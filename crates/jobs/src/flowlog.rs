//! Flow-log replay: each logged flow (folded by `vnetsim-flowlog`) mapped to the NIC that logged
//! it, judged at the point Azure logged it (that NIC's NSGs in that direction) and walked end to
//! end for its path, verdict and source rewrite; every disagreement between the model and the
//! log is a [`Finding`].

use std::collections::HashMap;

use rayon::prelude::*;
use vnetsim_engine::render::{ip, protocol_name, rule_name};
use vnetsim_engine::{
    nsg_point, trace_with, Action, Flow, NsgDecision, Reason, RuleRef, Scratch, Trace,
};
use vnetsim_fabric::security::Access;
use vnetsim_fabric::{Endpoint, Fabric, NicId, Owner};
use vnetsim_flowlog::tuple::mac_string;
use vnetsim_flowlog::{Direction, FoldedFlow, Folder};
use vnetsim_report::FlowRow;

use crate::flow_row::row;
use crate::Job;

/// The kinds of disagreement between the model and the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Logged allowed and modelled denied at that NIC, or the reverse.
    VerdictMismatch,
    /// Same verdict, another deciding rule.
    RuleMismatch,
    /// The model says the flow cannot be where the log saw it.
    LoggedButImpossible,
    /// The logging NIC (MAC, IP) is not in the fabric.
    UnknownEndpoint,
    /// Decided by something vnetsim does not model (AVNM security admin rules, encryption
    /// enforcement): no comparison made. Not drift, said.
    NotModelled,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::VerdictMismatch,
        Kind::RuleMismatch,
        Kind::LoggedButImpossible,
        Kind::UnknownEndpoint,
        Kind::NotModelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::VerdictMismatch => "verdict-mismatch",
            Kind::RuleMismatch => "rule-mismatch",
            Kind::LoggedButImpossible => "logged-but-impossible",
            Kind::UnknownEndpoint => "unknown-endpoint",
            Kind::NotModelled => "not-modelled",
        }
    }
    /// Whether `--fail-on-drift` fails on it.
    pub fn is_drift(self) -> bool {
        self != Kind::NotModelled
    }
}

/// Every flow log under `paths` (blobs, folders as stored, JSON lines, gzip) read and folded.
pub fn read(paths: &[&std::path::Path]) -> Result<(vnetsim_flowlog::ReadStats, Folder), String> {
    let mut folder = Folder::default();
    let st =
        vnetsim_flowlog::read_paths(paths, &vnetsim_flowlog::Limits::default(), &mut |g, t| {
            folder.add(g, t)
        })
        .map_err(|e| e.to_string())?;
    Ok((st, folder))
}

/// One logged flow, judged.
#[derive(Clone, Debug)]
pub struct Judged {
    /// Index into the folder's flows.
    pub flow: usize,
    /// `nic:NAME` of the logging NIC, if found.
    pub nic: Option<String>,
    pub nic_id: Option<NicId>,
    /// `mac`, `ip` or `none`: how the NIC was found.
    pub matched_by: &'static str,
    /// The model's verdict at the logging point (`Allow`, `Deny`), and its deciding rule as the
    /// log would name it (`UserRule_x`, `DefaultRule_x`) with its NSG.
    pub model_access: Option<Access>,
    pub model_rule: Option<String>,
    pub model_nsg_rule: Option<String>,
    /// The end-to-end walk, when the NIC is known.
    pub row: Option<FlowRow>,
    pub finding: Option<(Kind, String)>,
}

/// A flow log's rule name: `UserRule_x`, `DefaultRule_x`, or something else.
enum LoggedRule<'a> {
    Nsg,
    /// `unspecified`: dropped by virtual network encryption enforcement.
    Encryption,
    /// Anything else: an AVNM security admin rule's bare name.
    Admin(&'a str),
}

fn logged_rule(s: &str) -> LoggedRule<'_> {
    if s.starts_with("UserRule_") || s.starts_with("DefaultRule_") {
        LoggedRule::Nsg
    } else if s.eq_ignore_ascii_case("unspecified") {
        LoggedRule::Encryption
    } else {
        LoggedRule::Admin(s)
    }
}

/// The NSG name of an `aclID` / `resourceId` that is a full NSG id.
fn acl_nsg(acl: &str) -> Option<&str> {
    let lower = acl.to_ascii_lowercase();
    let i = lower.find("/networksecuritygroups/")?;
    let rest = &acl[i + "/networksecuritygroups/".len()..];
    Some(rest.split('/').next().unwrap_or(rest))
}

/// A model rule as flow logs name it: `UserRule_x` or `DefaultRule_x`.
pub fn log_rule_name(f: &Fabric, r: RuleRef) -> String {
    let RuleRef::Nsg {
        table,
        inbound,
        from_internet,
        index,
    } = r
    else {
        return rule_name(f, r);
    };
    let t = &f.nsg_tables[table as usize];
    let rt = t.table(inbound, from_internet);
    match rt.rules.get(index as usize) {
        Some(x) if x.default => format!("DefaultRule_{}", x.name),
        Some(x) => format!("UserRule_{}", x.name),
        None => "DefaultRule_DenyAllInBound".into(),
    }
}

/// Per job: NICs by MAC address.
pub struct Observers {
    by_mac: HashMap<u64, NicId>,
}

impl Observers {
    pub fn new(f: &Fabric) -> Observers {
        let by_mac = f
            .nics
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.mac.map(|m| (m, NicId(i as u32))))
            .collect();
        Observers { by_mac }
    }
    /// The NIC that logged a flow: by MAC, else by the address on its side of the flow.
    pub fn find(&self, f: &Fabric, x: &FoldedFlow) -> (Option<NicId>, &'static str) {
        if let Some(n) = x.key.mac.and_then(|m| self.by_mac.get(&m)) {
            return (Some(*n), "mac");
        }
        let a = match x.key.direction {
            Direction::Outbound => x.key.src,
            Direction::Inbound => x.key.dst,
        };
        match f.private_owner(a) {
            Some((_, Owner::Nic(n))) => (Some(n), "ip"),
            _ => (None, "none"),
        }
    }
}

fn flow_of(x: &FoldedFlow) -> Flow {
    Flow {
        src: x.key.src,
        dst: x.key.dst,
        proto: x.key.proto,
        sport: x.key.sport,
        dport: x.key.dport,
    }
}

/// Judges every logged flow (in parallel, results in flow order). `rows`: walk end to end too.
pub fn judge_all(f: &Fabric, folder: &Folder, rows: bool, job: &Job<'_>) -> Vec<Judged> {
    let obs = Observers::new(f);
    job.pool.install(|| {
        folder
            .flows
            .par_iter()
            .enumerate()
            .map_init(Scratch::new, |s, (i, x)| {
                judge(f, &obs, folder, i, x, rows, s)
            })
            .collect()
    })
}

fn judge(
    f: &Fabric,
    obs: &Observers,
    folder: &Folder,
    i: usize,
    x: &FoldedFlow,
    rows: bool,
    s: &mut Scratch,
) -> Judged {
    let (nic, matched_by) = obs.find(f, x);
    let mut j = Judged {
        flow: i,
        nic: nic.map(|n| f.endpoint_id(Endpoint::Nic(n))),
        nic_id: nic,
        matched_by,
        model_access: None,
        model_rule: None,
        model_nsg_rule: None,
        row: None,
        finding: None,
    };
    let Some(n) = nic else {
        let mac = x.key.mac.map(mac_string).unwrap_or_else(|| "none".into());
        let a = match x.key.direction {
            Direction::Outbound => x.key.src,
            Direction::Inbound => x.key.dst,
        };
        j.finding = Some((
            Kind::UnknownEndpoint,
            format!("no NIC of the fabric has MAC {mac} or address {}", ip(a)),
        ));
        return j;
    };
    let flow = flow_of(x);
    let inbound = x.key.direction == Direction::Inbound;
    let internet = f.endpoint_of_source(flow.src) == Endpoint::Internet;
    let point = nsg_point(f, n, &flow, inbound, internet);
    let decided = point.iter().flatten().last().copied();
    j.model_access = Some(decided.map_or(Access::Allow, |d| d.access));
    j.model_rule = decided.map(|d| log_rule_name(f, d.rule));
    j.model_nsg_rule = decided.map(|d| rule_name(f, d.rule));
    let walk = walk(f, n, x, s);
    let impossible = impossible(f, n, x, &walk, s);
    if rows {
        let mut r = row(
            f,
            s,
            &walk,
            vnetsim_engine::sweep::destination_l7(f, &walk.flow),
        );
        r.first_ts_ns = Some(x.first_ts_ms.saturating_mul(1_000_000));
        r.last_ts_ns = Some(x.last_ts_ms.saturating_mul(1_000_000));
        r.request_packets = Some(x.counters[0]);
        r.request_bytes = Some(x.counters[1]);
        r.reply_packets = Some(x.counters[2]);
        r.reply_bytes = Some(x.counters[3]);
        j.row = Some(r);
    }
    let unresolved = unresolved_at(f, n, &flow, inbound, internet);
    j.finding = unresolved
        .or(impossible)
        .or_else(|| compare(f, folder, x, n, &point));
    j
}

/// A rule vnetsim cannot resolve that could decide the logged flow at its NIC's NSGs: the
/// model has no verdict to compare (said, not drift).
fn unresolved_at(
    f: &Fabric,
    n: NicId,
    flow: &Flow,
    inbound: bool,
    internet: bool,
) -> Option<(Kind, String)> {
    let r = vnetsim_engine::nsg_point_unresolved(f, n, flow, inbound, internet)?;
    let (name, why) = vnetsim_engine::render::unresolved_rule(f, r)?;
    let dir = if inbound { "inbound" } else { "outbound" };
    Some((
        Kind::NotModelled,
        format!(
            "at {} {dir} rule {name} may decide this flow, and vnetsim cannot resolve it ({why})",
            f.endpoint_id(Endpoint::Nic(n))
        ),
    ))
}

/// The end-to-end walk: outbound from the NIC; inbound from whatever owns the source, toward
/// the NIC's public address when an Internet host reached it there.
fn walk(f: &Fabric, n: NicId, x: &FoldedFlow, s: &mut Scratch) -> Trace {
    let mut flow = flow_of(x);
    let ingress = match x.key.direction {
        Direction::Outbound => Endpoint::Nic(n),
        Direction::Inbound => {
            let from = f.endpoint_of_source(flow.src);
            let nic = &f.nics[n.ix()];
            if from == Endpoint::Internet && flow.dst == nic.ip {
                if let Some(p) = nic.public_ip {
                    flow.dst = p;
                }
            }
            from
        }
    };
    trace_with(
        f,
        flow,
        ingress,
        vnetsim_engine::sweep::destination_l7(f, &flow),
        false,
        s,
    )
}

/// Whether the model can put the logged flow where the log saw it.
fn impossible(
    f: &Fabric,
    n: NicId,
    x: &FoldedFlow,
    t: &Trace,
    s: &Scratch,
) -> Option<(Kind, String)> {
    let fw = &t.forward;
    let nic = Endpoint::Nic(n);
    let sub = Endpoint::Subnet(f.nics[n.ix()].subnet);
    let detail = || {
        let hops = s.leg_hops(fw);
        let path: Vec<String> = hops.iter().map(|h| f.endpoint_id(h.node)).collect();
        let end = match (fw.delivered_to, fw.dropped_at) {
            (Some(d), _) => format!("delivers it to {}", f.endpoint_id(d)),
            (None, Some(d)) => format!(
                "drops it at {}{} ({})",
                f.endpoint_id(d),
                fw.rule
                    .map(|r| format!(" by {}", rule_name(f, r)))
                    .unwrap_or_default(),
                vnetsim_engine::render::reason_text(f, fw)
            ),
            _ => "ends it".into(),
        };
        format!("the model's walk ({}) {end}", path.join(" > "))
    };
    match x.key.direction {
        Direction::Outbound => (fw.reason == Reason::SourceNotOwned).then(|| {
            (
                Kind::LoggedButImpossible,
                format!(
                    "{} sent from {}, an address it does not own, without IP forwarding",
                    f.endpoint_id(nic),
                    ip(x.key.src)
                ),
            )
        }),
        Direction::Inbound => {
            let reached = fw.delivered_to == Some(nic)
                || fw.dropped_at == Some(nic)
                || (fw.dropped_at == Some(sub)
                    && fw.reason == Reason::NsgDeny
                    && matches!(fw.rule, Some(RuleRef::Nsg { inbound: true, .. })));
            let last_is_nic = s
                .leg_hops(fw)
                .last()
                .is_some_and(|h| h.node == nic && h.action != Action::Forward);
            // A walk stopped by something vnetsim does not model proves nothing impossible.
            let kind = if t.outcome == vnetsim_engine::Outcome::NotModelled {
                Kind::NotModelled
            } else {
                Kind::LoggedButImpossible
            };
            (!reached && !last_is_nic).then(|| {
                (
                    kind,
                    format!("logged inbound at {}, but {}", f.endpoint_id(nic), detail()),
                )
            })
        }
    }
}

fn access_str(a: Access) -> &'static str {
    a.as_str()
}

/// The logged verdict and rule against the model's at the logging point.
fn compare(
    f: &Fabric,
    folder: &Folder,
    x: &FoldedFlow,
    n: NicId,
    point: &[Option<NsgDecision>; 2],
) -> Option<(Kind, String)> {
    let rule = folder.strings.get(x.key.rule);
    let acl = folder.strings.get(x.key.acl);
    let logged = if x.key.denied {
        Access::Deny
    } else {
        Access::Allow
    };
    let nicname = f.endpoint_id(Endpoint::Nic(n));
    let dir = x.key.direction.as_str();
    match logged_rule(rule) {
        LoggedRule::Encryption => {
            return Some((
                Kind::NotModelled,
                format!("{} at {nicname} {dir} by virtual network encryption enforcement (rule 'unspecified'): not modelled", access_str(logged)),
            ))
        }
        LoggedRule::Admin(a) => {
            return Some((
                Kind::NotModelled,
                format!("{} at {nicname} {dir} by security admin rule '{a}' (aclID {acl}): AVNM security admin rules are not modelled yet", access_str(logged)),
            ))
        }
        _ => {}
    }
    let wanted = |d: &NsgDecision| log_rule_name(f, d.rule).eq_ignore_ascii_case(rule);
    let nsg_name = |d: &NsgDecision| f.nsg_names[d.nsg.ix()].as_str();
    // The NSG the log names (a full id), else the one whose deciding rule the log names.
    let by_acl = acl_nsg(acl);
    let target = match by_acl {
        Some(name) => point
            .iter()
            .flatten()
            .find(|d| nsg_name(d).eq_ignore_ascii_case(name)),
        None => point.iter().flatten().find(|d| wanted(d)),
    };
    let decided = point.iter().flatten().last();
    let model = |d: Option<&NsgDecision>| match d {
        Some(d) => format!("{} by {}", d.access.as_str(), rule_name(f, d.rule)),
        None => "Allow (no NSG at this NIC or its subnet)".into(),
    };
    let at = format!("{nicname} {dir}");
    let (d, verdict) = match target {
        Some(d) => (Some(d), d.access),
        None => (decided, decided.map_or(Access::Allow, |d| d.access)),
    };
    if verdict != logged {
        return Some((
            Kind::VerdictMismatch,
            format!(
                "logged {} by {rule} at {at}; the model: {}",
                access_str(logged),
                model(d)
            ),
        ));
    }
    let same_rule = d.is_some_and(wanted);
    let nsg_known = by_acl.is_none() || target.is_some();
    if !same_rule || !nsg_known {
        let why = if nsg_known {
            String::new()
        } else {
            format!(
                " (the logged NSG '{}' does not apply there in the model)",
                by_acl.unwrap_or("")
            )
        };
        return Some((
            Kind::RuleMismatch,
            format!(
                "logged {} by {rule} at {at}; the model: {}{why}",
                access_str(logged),
                model(d)
            ),
        ));
    }
    None
}

/// A summary group: ephemeral source ports dropped.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub src: String,
    pub dst: String,
    pub protocol: String,
    pub dst_port: u16,
    pub logged: &'static str,
    pub model: &'static str,
}

/// Where an address sits: `subnet:V/S`, `site:NAME`, `internet`, ...
pub fn place(f: &Fabric, a: u32) -> String {
    let e = f.endpoint_of_source(a);
    let sub = match e {
        Endpoint::Nic(n) => Some(f.nics[n.ix()].subnet),
        Endpoint::Pe(p) => Some(f.pes[p.ix()].subnet),
        Endpoint::Firewall(w) => Some(f.firewalls[w.ix()].subnet),
        Endpoint::Subnet(s) => Some(s),
        _ => None,
    };
    match sub {
        Some(s) => f.endpoint_id(Endpoint::Subnet(s)),
        None => match f.endpoint_of_destination(a) {
            Endpoint::Internet => "internet".into(),
            x => f.endpoint_id(x),
        },
    }
}

/// Logged flows per (source place, destination place, protocol, port, logged and modelled
/// verdict), largest first.
pub fn groups(f: &Fabric, folder: &Folder, judged: &[Judged]) -> Vec<(GroupKey, u64)> {
    let mut m: HashMap<GroupKey, u64> = HashMap::new();
    for j in judged {
        let x = &folder.flows[j.flow];
        let k = GroupKey {
            src: place(f, x.key.src),
            dst: place(f, x.key.dst),
            protocol: protocol_name(x.key.proto),
            dst_port: x.key.dport,
            logged: if x.key.denied { "Deny" } else { "Allow" },
            model: j.model_access.map_or("unknown", |a| a.as_str()),
        };
        *m.entry(k).or_default() += 1;
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Findings per kind: count, the first examples, the resources involved.
#[derive(Clone, Debug, Default)]
pub struct KindSummary {
    pub count: u64,
    pub examples: Vec<String>,
    pub resources: Vec<String>,
}

pub fn drift_summary(
    f: &Fabric,
    folder: &Folder,
    judged: &[Judged],
    examples: usize,
) -> Vec<(Kind, KindSummary)> {
    let mut out: Vec<(Kind, KindSummary)> = Kind::ALL
        .iter()
        .map(|k| (*k, KindSummary::default()))
        .collect();
    for j in judged {
        let Some((k, d)) = &j.finding else { continue };
        let e = &mut out.iter_mut().find(|x| x.0 == *k).expect("every kind").1;
        e.count += 1;
        if e.examples.len() < examples {
            let x = &folder.flows[j.flow];
            e.examples.push(format!(
                "{} {}:{} -> {}:{}: {d}",
                protocol_name(x.key.proto),
                ip(x.key.src),
                x.key.sport,
                ip(x.key.dst),
                x.key.dport
            ));
        }
        let mut res: Vec<String> = Vec::new();
        if let Some(n) = &j.nic {
            res.push(n.clone());
        }
        if let Some(r) = &j.model_nsg_rule {
            res.push(r.clone());
        }
        res.push(
            folder
                .strings
                .get(folder.flows[j.flow].key.rule)
                .to_string(),
        );
        for r in res {
            if e.resources.len() < 50 && !e.resources.contains(&r) {
                e.resources.push(r);
            }
        }
    }
    let _ = f;
    out
}

/// `--against NEW`: the logged flows NEW decides differently at the logging point than TOPO
/// does, or whose end-to-end outcome changes: (flow index, what changed).
pub fn against(old: &[Judged], new: &[Judged]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (a, b) in old.iter().zip(new) {
        let va = (a.model_access, a.model_nsg_rule.as_deref());
        let vb = (b.model_access, b.model_nsg_rule.as_deref());
        let oa = a.row.as_ref().map(|r| r.outcome.as_str());
        let ob = b.row.as_ref().map(|r| r.outcome.as_str());
        let show = |v: (Option<Access>, Option<&str>)| match v {
            (Some(x), Some(r)) => format!("{} by {r}", x.as_str()),
            (Some(x), None) => x.as_str().to_string(),
            _ => "no NIC".into(),
        };
        if va != vb {
            out.push((
                a.flow,
                format!("at the logging NIC: {} becomes {}", show(va), show(vb)),
            ));
        } else if oa != ob {
            out.push((
                a.flow,
                format!(
                    "end to end: {} becomes {}",
                    oa.unwrap_or("-"),
                    ob.unwrap_or("-")
                ),
            ));
        }
    }
    out
}

/// The synthetic id of an NSG as flow logs write it in `aclID`.
pub fn nsg_acl_id(name: &str) -> String {
    format!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/vnetsim/providers/Microsoft.Network/networkSecurityGroups/{name}")
}

/// A NIC's MAC: the topology's, else one made from its index (`00-22-48-...`, what Azure
/// assigns from; then replay finds the NIC by address).
pub fn nic_mac(f: &Fabric, n: NicId) -> u64 {
    f.nics[n.ix()].mac.unwrap_or(0x0022_4800_0000 | n.0 as u64)
}

/// One observation the generator writes: a NIC's NSG deciding a flow in one direction.
#[derive(Clone, Debug)]
pub struct Observation {
    pub nic: NicId,
    pub acl: String,
    pub rule: String,
    pub flow: Flow,
    pub inbound: bool,
    pub denied: bool,
}

/// The lab as Azure would log it: for each walked flow, the source NIC's outbound NSGs on the
/// request as sent, and the destination NIC's inbound NSGs on the request as it arrived
/// (every rewrite done), each NSG's decision under its own `aclID` (a NIC and its subnet both
/// with NSGs log under both). An NSG after a denying one is not reached and logs nothing.
pub fn observations(f: &Fabric, t: &Trace, s: &Scratch, out: &mut Vec<Observation>) {
    let mut push = |n: NicId, flow: Flow, inbound: bool, internet: bool| {
        for d in nsg_point(f, n, &flow, inbound, internet).iter().flatten() {
            out.push(Observation {
                nic: n,
                acl: nsg_acl_id(&f.nsg_names[d.nsg.ix()]),
                rule: log_rule_name(f, d.rule),
                flow,
                inbound,
                denied: d.access == Access::Deny,
            });
        }
    };
    if let Endpoint::Nic(n) = t.ingress {
        if t.flow.src == f.nics[n.ix()].ip {
            push(n, t.flow, false, false);
        }
    }
    let fw = &t.forward;
    let hops = s.leg_hops(fw);
    // The destination NIC: delivered to, or dropped by its (or its subnet's) inbound NSG.
    let dest = match (fw.delivered_to, fw.dropped_at) {
        (Some(Endpoint::Nic(n)), _) => Some(n),
        (None, Some(Endpoint::Nic(n))) if fw.reason == Reason::NsgDeny => Some(n),
        (None, Some(Endpoint::Subnet(_)))
            if fw.reason == Reason::NsgDeny
                && matches!(fw.rule, Some(RuleRef::Nsg { inbound: true, .. })) =>
        {
            match f.private_owner(fw.seen.dst) {
                Some((_, Owner::Nic(n))) => Some(n),
                _ => None,
            }
        }
        _ => None,
    };
    let _ = hops;
    if let Some(n) = dest {
        let mut seen = fw.seen;
        // Inbound at the NIC the destination is its private address (a public IP is
        // translated before the NIC).
        seen.dst = f.nics[n.ix()].ip;
        let internet = f.endpoint_of_source(seen.src) == Endpoint::Internet;
        push(n, seen, true, internet);
    }
}

/// How the generator spreads observations into tuples.
#[derive(Clone, Copy, Debug)]
pub struct SynthShape {
    /// Copies of each observation with another source port (1 = the flows as given).
    pub copies: u64,
    /// Tuples per allowed flow (B, C..., E; at least 2) and per denied flow (D retries).
    pub tuples_per_flow: u64,
    /// Seconds since the epoch of the first tuple (a whole hour).
    pub start_s: u64,
}

/// Writes v4 blobs in the stored folder layout under `dir`, one blob per NIC per hour,
/// at most `per_blob` tuples each. Returns (blobs, tuples).
pub fn write_blobs(
    f: &Fabric,
    obs: &[Observation],
    shape: &SynthShape,
    dir: &std::path::Path,
) -> Result<(u64, u64), String> {
    use std::io::Write;
    let per_blob: u64 = 200_000;
    // Observations by NIC, in NIC order then in the order given.
    let mut by_nic: Vec<Vec<&Observation>> = vec![Vec::new(); f.nics.len()];
    for o in obs {
        by_nic[o.nic.ix()].push(o);
    }
    let (mut blobs, mut tuples) = (0u64, 0u64);
    let tpf = shape.tuples_per_flow.max(1);
    for (ni, list) in by_nic.iter().enumerate() {
        if list.is_empty() {
            continue;
        }
        let n = NicId(ni as u32);
        let mac = mac_string(nic_mac(f, n));
        let total = list.len() as u64 * shape.copies.max(1) * tpf;
        let hours = total.div_ceil(per_blob).max(1);
        let per_hour_flows = (list.len() as u64 * shape.copies.max(1)).div_ceil(hours);
        let mut flow_ix: u64 = 0;
        for h in 0..hours {
            let ts0 = shape.start_s + h * 3600;
            let path = blob_path(dir, ts0, &mac);
            std::fs::create_dir_all(path.parent().expect("has a parent"))
                .map_err(|e| format!("error: cannot create {}: {e}", path.display()))?;
            let file = std::fs::File::create(&path)
                .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            let werr = |e: std::io::Error| format!("error: cannot write {}: {e}", path.display());
            write!(w, "{{\"records\":[").map_err(werr)?;
            let end = (flow_ix + per_hour_flows).min(list.len() as u64 * shape.copies.max(1));
            let mut first_record = true;
            let mut i = flow_ix;
            while i < end {
                // One record per minute's worth: at most 1,000 flows.
                let stop = (i + 1000).min(end);
                if !first_record {
                    write!(w, ",").map_err(werr)?;
                }
                first_record = false;
                write_record(&mut w, f, n, &mac, list, shape, ts0, i, stop, tpf).map_err(werr)?;
                tuples += (stop - i) * tpf;
                i = stop;
            }
            flow_ix = end;
            write!(w, "]}}").map_err(werr)?;
            w.flush().map_err(werr)?;
            blobs += 1;
        }
    }
    Ok((blobs, tuples))
}

fn blob_path(dir: &std::path::Path, ts: u64, mac: &str) -> std::path::PathBuf {
    let days = ts / 86400;
    let (y, m, d) = civil(days as i64);
    let h = (ts % 86400) / 3600;
    dir.join("flowLogResourceID=")
        .join("00000000-0000-0000-0000-000000000000_NETWORKWATCHERRG")
        .join("NETWORKWATCHER_VNETSIM_VNETSIM-FLOWLOGS")
        .join(format!("y={y}"))
        .join(format!("m={m:02}"))
        .join(format!("d={d:02}"))
        .join(format!("h={h:02}"))
        .join("m=00")
        .join(format!("macAddress={mac}"))
        .join("PT1H.json")
}

/// A record's `time` as Azure writes it: ISO 8601 in UTC with seven fractional digits
/// (`2026-01-01T00:00:00.0000000Z`).
fn iso_time(ts: u64) -> String {
    let (y, m, d) = civil((ts / 86400) as i64);
    let s = ts % 86400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.0000000Z",
        s / 3600,
        (s % 3600) / 60,
        s % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's civil-from-days).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[allow(clippy::too_many_arguments)]
fn write_record(
    w: &mut impl std::io::Write,
    f: &Fabric,
    n: NicId,
    mac: &str,
    list: &[&Observation],
    shape: &SynthShape,
    ts0: u64,
    from: u64,
    to: u64,
    tpf: u64,
) -> std::io::Result<()> {
    let nic = &f.nics[n.ix()];
    let nicid = format!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/vnetsim/providers/Microsoft.Network/networkInterfaces/{}", nic.name);
    write!(w, "{{\"time\":\"{}\",\"flowLogVersion\":4,\"flowLogGUID\":\"00000000-0000-0000-0000-000000000001\",\"macAddress\":\"{mac}\",\"category\":\"FlowLogFlowEvent\",\"flowLogResourceID\":\"/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_VNETSIM/FLOWLOGS/VNETSIM-FLOWLOGS\",\"targetResourceID\":\"{nicid}\",\"operationName\":\"FlowLogFlowEvent\",\"flowRecords\":{{\"flows\":[", iso_time(ts0))?;
    // Group the flows of this record by (aclID, rule), in first-seen order.
    let copies = shape.copies.max(1);
    let mut groups: Vec<(&str, &str, Vec<u64>)> = Vec::new();
    for i in from..to {
        let o = list[(i / copies) as usize];
        match groups.iter_mut().find(|g| g.0 == o.acl && g.1 == o.rule) {
            Some(g) => g.2.push(i),
            None => groups.push((&o.acl, &o.rule, vec![i])),
        }
    }
    let mut acls: Vec<&str> = Vec::new();
    for g in &groups {
        if !acls.contains(&g.0) {
            acls.push(g.0);
        }
    }
    for (ai, acl) in acls.iter().enumerate() {
        if ai > 0 {
            write!(w, ",")?;
        }
        write!(w, "{{\"aclID\":\"{acl}\",\"flowGroups\":[")?;
        let mut first = true;
        for g in groups.iter().filter(|g| g.0 == *acl) {
            if !first {
                write!(w, ",")?;
            }
            first = false;
            write!(w, "{{\"rule\":\"{}\",\"flowTuples\":[", g.1)?;
            let mut ft = true;
            for &i in &g.2 {
                let o = list[(i / copies) as usize];
                let copy = i % copies;
                let mut fl = o.flow;
                if copy > 0 && fl.proto != vnetsim_engine::ICMP {
                    fl.sport = (1024 + (fl.sport as u64 + copy * 7919) % 64000) as u16;
                }
                let dir = if o.inbound { 'I' } else { 'O' };
                for k in 0..tpf {
                    if !ft {
                        write!(w, ",")?;
                    }
                    ft = false;
                    let ts = (ts0 + (i % 3000) + k) * 1000;
                    let (state, c) = if o.denied {
                        ("D", [0u64; 4])
                    } else if k == 0 {
                        ("B", [0; 4])
                    } else if k + 1 == tpf {
                        ("E", [2, 120, 2, 120])
                    } else {
                        ("C", [10, 1500, 8, 900])
                    };
                    if state == "B" {
                        write!(
                            w,
                            "\"{ts},{},{},{},{},{},{dir},B,NX,,,,\"",
                            ip(fl.src),
                            ip(fl.dst),
                            fl.sport,
                            fl.dport,
                            fl.proto
                        )?;
                    } else {
                        write!(
                            w,
                            "\"{ts},{},{},{},{},{},{dir},{state},NX,{},{},{},{}\"",
                            ip(fl.src),
                            ip(fl.dst),
                            fl.sport,
                            fl.dport,
                            fl.proto,
                            c[0],
                            c[1],
                            c[2],
                            c[3]
                        )?;
                    }
                }
            }
            write!(w, "]}}")?;
        }
        write!(w, "]}}")?;
    }
    write!(w, "]}}}}")
}
