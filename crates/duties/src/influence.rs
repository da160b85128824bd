//! The influence map: for each pair of owner boundaries (A, B), the decisions inside B's
//! resources that depend on resources A owns, and the reachability each changes today.
//!
//! Each influence is found from the compiled fabric and measured by a counterfactual: the
//! same fabric without A's contribution (the NSG's `VirtualNetwork` tag without A's route
//! prefixes, the subnet without A's route table, the endpoint subnet's policies `Disabled`,
//! the peering flag off, the NIC out of the ASG), swept with the same selectors, and the
//! flows whose outcome, path or source seen differ listed; and compared region by region
//! ([`vnetsim_jobs::exhaustive`]) for the header space whose reachability differs, every address,
//! protocol and port between the same sources and destinations. Ranked by exposure: the addresses
//! that gain access (for tag widening, the sources B's rules now admit; otherwise the source
//! space of the flows that became reachable).

use std::collections::BTreeSet;

use ipnet::Ipv4Net;
use vnetsim_fabric::prefix::{aggregate, not_internet, p, subtract};
use vnetsim_fabric::security::{Access, NsgTable, RuleTable};
use vnetsim_fabric::{classify::Key, Fabric, NsgTableId, RouteSource, RouteState};
use vnetsim_jobs::sweep::Selectors;
use vnetsim_jobs::Job;
use vnetsim_model as m;

use crate::owners::Owners;
use crate::resources::Kind;

/// How one boundary's resource changes decisions in another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum InfluenceKind {
    /// A's user-route prefixes join the `VirtualNetwork` tag of B's NSG (R5.5).
    TagWidening,
    /// A's route table decides where B's subnet's traffic goes (through or around a firewall).
    RouteRedirection,
    /// A's endpoint subnet policies let user routes invalidate the endpoint's /32 in B's
    /// subnets (R4.3).
    PrivateEndpointPolicy,
    /// A's peering flags (forwarded traffic, gateway transit, remote gateways) decide what
    /// reaches or leaves B's VNet.
    PeeringFlags,
    /// A's NIC is a member of an ASG that B's NSG rules name (R5.8).
    AsgMembership,
}

impl InfluenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InfluenceKind::TagWidening => "tag-widening",
            InfluenceKind::RouteRedirection => "route-redirection",
            InfluenceKind::PrivateEndpointPolicy => "private-endpoint-policy",
            InfluenceKind::PeeringFlags => "peering-flags",
            InfluenceKind::AsgMembership => "asg-membership",
        }
    }
}

/// One rule of B's NSG that A's prefixes open: the sources it now admits and on which ports.
#[derive(Clone, Debug)]
pub struct OpenedRule {
    /// `NSG/RULE`.
    pub rule: String,
    /// The named other side (`vnet:NAME`, `site:NAME`, `internet`, `other addresses`): the
    /// source of an inbound rule, the destination of an outbound one.
    pub source: String,
    /// An outbound rule (the widened tag is its destination).
    pub outbound: bool,
    /// The part of that source the rule now admits.
    pub prefixes: Vec<Ipv4Net>,
    /// Ports (of those probed) on which the rule now decides Allow where Deny decided before.
    pub ports: Vec<(String, u16)>,
    /// R5.7: the data plane does not admit Internet-sourced traffic arriving at a public IP
    /// through the widened part; the rules (and IP flow verify) do.
    pub rules_only: bool,
}

/// A flow whose fate differs with and without A's contribution.
#[derive(Clone, Debug)]
pub struct FlowChange {
    pub from: String,
    pub to: String,
    pub protocol: String,
    pub port: u16,
    /// Without A's contribution.
    pub without: String,
    /// Today.
    pub today: String,
    pub path_without: String,
    pub path_today: String,
}

#[derive(Clone, Debug)]
pub struct Influence {
    pub kind: InfluenceKind,
    /// Boundary A, whose resources decide.
    pub from: String,
    /// Boundary B, whose decisions depend on them.
    pub to: String,
    /// A's resources involved (`routeTable:rt-spoke`, ...).
    pub causes: Vec<String>,
    /// B's resources whose decisions change (`nsg:nsg-app on subnet:vnet-workload/snet-app`).
    pub affected: Vec<String>,
    pub detail: String,
    pub opened: Vec<OpenedRule>,
    pub flows: Vec<FlowChange>,
    /// Addresses that gain access through it (see the module).
    pub exposure: u64,
    /// The seed scenario: a 0.0.0.0/0 user route widening the tag of an NSG that has no
    /// explicit deny-all ahead of the default rules.
    pub seed: bool,
    pub mitigations: Vec<String>,
    /// Why the counterfactual could not be swept, if it could not.
    pub not_evaluated: Option<String>,
    /// Every header whose reachability it changes: regions today against the counterfactual.
    pub regions: vnetsim_jobs::exhaustive::Changed,
}

/// The region comparisons of several (from, to) selections, as one.
fn regions_of(
    cf: &Fabric,
    f: &Fabric,
    pairs: &[(Vec<String>, Vec<String>)],
    job: &Job<'_>,
) -> vnetsim_jobs::exhaustive::Changed {
    let mut all = vnetsim_jobs::exhaustive::Changed::default();
    for (from, to) in pairs {
        let c = vnetsim_jobs::exhaustive::changed(cf, f, from, to, job);
        all.classes += c.classes;
        all.changes.extend(c.changes);
        if all.not_evaluated.is_none() {
            all.not_evaluated = c.not_evaluated;
        }
    }
    all
}

/// The whole map.
pub struct Map {
    pub boundaries: Vec<String>,
    pub influences: Vec<Influence>,
    /// Sweep selectors used for the counterfactuals.
    pub ports: String,
}

fn size(ps: &[Ipv4Net]) -> u64 {
    aggregate(ps)
        .iter()
        .map(|x| 1u64 << (32 - x.prefix_len()))
        .sum()
}

fn intersect(a: &[Ipv4Net], b: &[Ipv4Net]) -> Vec<Ipv4Net> {
    subtract(a, &subtract(&[p("0.0.0.0/0")], b))
}

/// The address space a sweep probe's label stands for.
fn label_space(f: &Fabric, label: &str) -> u64 {
    if label == "internet" {
        return size(&subtract(&[p("0.0.0.0/0")], &not_internet()));
    }
    if let Some(s) = label
        .strip_prefix("site:")
        .or(label.strip_prefix("circuit:"))
    {
        if let Some(x) = f.sites.iter().find(|x| x.name == s) {
            return size(&x.prefixes);
        }
    }
    if let Some(s) = label.strip_prefix("subnet:") {
        if let Some(i) = f.find_subnet(s) {
            return size(&[f.subnets[i.ix()].prefix]);
        }
    }
    1
}

fn reached(o: &str) -> bool {
    o == "reachable"
}

/// Sweeps `cf` (without A's contribution) and `f` (today) and lists what differs.
fn compare(
    cf: &Fabric,
    f: &Fabric,
    sel: &Selectors,
    job: &Job<'_>,
) -> Result<(Vec<FlowChange>, u64), String> {
    let d = vnetsim_jobs::diff::diff(cf, f, sel, job)?;
    let mut flows = Vec::new();
    let mut gained: BTreeSet<String> = BTreeSet::new();
    for c in d.changes {
        let out = |r: &Option<vnetsim_report::FlowRow>| {
            r.as_ref()
                .map(|r| (r.outcome.clone(), r.path.clone()))
                .unwrap_or_else(|| ("absent".into(), String::new()))
        };
        let (w, pw) = out(&c.old);
        let (t, pt) = out(&c.new);
        if reached(&t) && !reached(&w) {
            gained.insert(c.key.0.clone());
        }
        flows.push(FlowChange {
            from: c.key.0,
            to: c.key.1,
            protocol: c.key.2,
            port: c.key.3,
            without: w,
            today: t,
            path_without: pw,
            path_today: pt,
        });
    }
    let exposure = gained.iter().map(|l| label_space(f, l)).sum();
    Ok((flows, exposure))
}

/// Named regions a widened tag may take in: other VNets, sites, the Internet, the rest.
fn regions(f: &Fabric, own_vnet: usize, widened: &[Ipv4Net]) -> Vec<(String, Vec<Ipv4Net>)> {
    let mut out = Vec::new();
    let mut named: Vec<Ipv4Net> = Vec::new();
    for (i, v) in f.vnets.iter().enumerate() {
        named.extend(v.address_space.iter().copied());
        if i == own_vnet {
            continue;
        }
        let x = intersect(&v.address_space, widened);
        if !x.is_empty() {
            out.push((format!("vnet:{}", v.name), x));
        }
    }
    for s in &f.sites {
        named.extend(s.prefixes.iter().copied());
        let x = intersect(&s.prefixes, widened);
        if !x.is_empty() {
            out.push((format!("site:{}", s.name), x));
        }
    }
    let public = subtract(&[p("0.0.0.0/0")], &not_internet());
    let inet = intersect(&subtract(&public, &named), widened);
    if !inet.is_empty() {
        out.push(("internet".into(), inet));
    }
    named.extend(public);
    let rest = subtract(widened, &named);
    if !rest.is_empty() {
        out.push(("other addresses".into(), rest));
    }
    out
}

/// A probe address inside `ps`: a NIC's address when one is there, else the first usable host.
fn probe_in(f: &Fabric, ps: &[Ipv4Net]) -> u32 {
    for n in &f.nics {
        if ps
            .iter()
            .any(|x| vnetsim_fabric::prefix::contains_ip(x, n.ip))
        {
            return n.ip;
        }
    }
    let x = ps[0];
    let base = u32::from(x.network());
    if x.prefix_len() <= 29 {
        base + 4
    } else {
        base
    }
}

const PROBE_PORTS: [u16; 8] = [22, 80, 443, 445, 1433, 3389, 5985, 8080];

/// The ports to probe a rule on: its own range starts and the usual service ports inside them.
fn rule_ports(ranges: &[(u16, u16)]) -> Vec<u16> {
    let mut v: Vec<u16> = ranges
        .iter()
        .filter(|r| **r != (0, 65535))
        .map(|r| r.0)
        .collect();
    v.extend(
        PROBE_PORTS
            .iter()
            .filter(|p| ranges.iter().any(|r| r.0 <= **p && **p <= r.1)),
    );
    v.sort();
    v.dedup();
    v
}

fn protos(p: &str) -> Vec<(String, u8)> {
    match p {
        "Udp" => vec![("udp".into(), 17)],
        _ => vec![("tcp".into(), 6)],
    }
}

/// Does the NSG have an explicit inbound deny of everything ahead of the defaults?
fn has_explicit_deny(t: &RuleTable) -> bool {
    t.rules.iter().any(|r| {
        !r.default
            && r.access == Access::Deny
            && r.protocol == "All"
            && r.expanded_source == [p("0.0.0.0/0")]
            && r.expanded_destination == [p("0.0.0.0/0")]
            && r.destination_ports == [(0, 65535)]
    })
}

/// The rules of `wide` that the widening opens, over the named regions: inbound, to sources
/// in them reaching `own` (the association's probe address); outbound, from `own` to
/// destinations in them.
fn opened_rules(
    f: &Fabric,
    nsg: &str,
    (wide, narrow): (&RuleTable, &RuleTable),
    own: u32,
    regions: &[(String, Vec<Ipv4Net>)],
    outbound: bool,
) -> Vec<OpenedRule> {
    let mut out = Vec::new();
    for (i, r) in wide.rules.iter().enumerate() {
        let (named, expanded) = if outbound {
            (&r.destination, &r.expanded_destination)
        } else {
            (&r.source, &r.expanded_source)
        };
        if r.access != Access::Allow || !named.iter().any(|s| s == "VirtualNetwork") {
            continue;
        }
        for (name, ps) in regions {
            let x = intersect(ps, expanded);
            if x.is_empty() {
                continue;
            }
            let other = probe_in(f, &x);
            let (src, dst) = if outbound { (own, other) } else { (other, own) };
            let mut ports = Vec::new();
            for (pn, proto) in protos(r.protocol) {
                for port in rule_ports(&r.destination_ports) {
                    let key = Key {
                        proto,
                        src,
                        dst,
                        sport: 50000,
                        dport: port,
                    };
                    let (a, ix) = wide.decide(&key);
                    let (b, _) = narrow.decide(&key);
                    if a == Access::Allow && ix as usize == i && b == Access::Deny {
                        ports.push((pn.clone(), port));
                    }
                }
            }
            if !ports.is_empty() {
                out.push(OpenedRule {
                    rule: format!("{nsg}/{}", r.name),
                    source: name.clone(),
                    outbound,
                    prefixes: x,
                    ports,
                    rules_only: !outbound && name == "internet",
                });
            }
        }
    }
    out
}

/// [`opened_rules`] at every association's probe address, each (rule, other side) once.
fn opened_over(
    f: &Fabric,
    nsg: &str,
    tables: (&RuleTable, &RuleTable),
    assoc: &[(String, String, u32, usize)],
    regions: &[(String, Vec<Ipv4Net>)],
    outbound: bool,
) -> Vec<OpenedRule> {
    let mut opened: Vec<OpenedRule> = Vec::new();
    for (_, _, own, _) in assoc {
        for o in opened_rules(f, nsg, tables, *own, regions, outbound) {
            if !opened
                .iter()
                .any(|x| x.rule == o.rule && x.source == o.source)
            {
                opened.push(o);
            }
        }
    }
    opened
}

/// Where an NSG table is associated: (description, sweep destination selector, probe address,
/// subnet).
fn associations(f: &Fabric, t: NsgTableId) -> Vec<(String, String, u32, usize)> {
    let mut v = Vec::new();
    for (i, s) in f.subnets.iter().enumerate() {
        if s.nsg_table == Some(t) {
            let sid = vnetsim_fabric::SubnetId(i as u32);
            let probe = f
                .nics
                .iter()
                .find(|n| n.subnet.ix() == i)
                .map(|n| n.ip)
                .unwrap_or(u32::from(s.prefix.network()) + 4);
            v.push((f.subnet_id(sid), f.subnet_id(sid), probe, i));
        }
    }
    for n in &f.nics {
        if n.nsg_table == Some(t) {
            v.push((
                format!("nic:{}", n.name),
                format!("nic:{}", n.name),
                n.ip,
                n.subnet.ix(),
            ));
        }
    }
    v
}

/// The `VirtualNetwork` tag as the default rule of that direction expands it.
fn vnet_tag(t: &RuleTable, outbound: bool) -> Vec<Ipv4Net> {
    let name = if outbound {
        "AllowVnetOutBound"
    } else {
        "AllowVnetInBound"
    };
    t.rules
        .iter()
        .find(|r| r.default && r.name == name)
        .map(|r| {
            if outbound {
                r.expanded_destination.clone()
            } else {
                r.expanded_source.clone()
            }
        })
        .unwrap_or_default()
}

fn tag_widening(
    v: &m::Validated,
    f: &Fabric,
    owners: &Owners,
    sel: &Selectors,
    job: &Job<'_>,
) -> Result<Vec<Influence>, String> {
    let topo = v.topology();
    let mut out = Vec::new();
    for (ti, table) in f.nsg_tables.iter().enumerate() {
        let Some(narrow) = &table.inbound_from_internet else {
            continue;
        };
        let Some((rt, nsg, a, b, assoc)) = widening_parties(f, owners, ti) else {
            continue;
        };
        let sub = assoc[0].3;
        let rt_name = &f.route_tables[rt.ix()].name;
        let widened = subtract(&vnet_tag(&table.inbound, false), &vnet_tag(narrow, false));
        let regs = regions(f, f.subnets[sub].vnet.ix(), &widened);
        let opened = opened_over(f, nsg, (&table.inbound, narrow), &assoc, &regs, false);
        let routes: Vec<&m::Route> = topo.route_tables[rt.ix()]
            .routes
            .iter()
            .filter(|r| matches!(&r.address_prefix.value, m::RoutePrefix::Prefix(x) if widened.iter().any(|w| x.contains(w) || w.contains(x))))
            .collect();
        let default_route = routes
            .iter()
            .any(|r| r.address_prefix.value == m::RoutePrefix::Prefix(p("0.0.0.0/0")));
        let deny = has_explicit_deny(&table.inbound);
        let mut cf = f.clone();
        let mut t2: NsgTable = cf.nsg_tables[ti].clone();
        t2.inbound = narrow.clone();
        t2.inbound_from_internet = None;
        cf.nsg_tables[ti] = t2;
        let mut flows = Vec::new();
        for (_, to, _, _) in &assoc {
            let s = Selectors {
                from: sel.from.clone(),
                to: vec![to.clone()],
                ports: sel.ports.clone(),
            };
            flows.extend(compare(&cf, f, &s, job)?.0);
        }
        let pairs: Vec<(Vec<String>, Vec<String>)> = assoc
            .iter()
            .map(|(_, to, _, _)| (sel.from.clone(), vec![to.clone()]))
            .collect();
        let regions = regions_of(&cf, f, &pairs, job);
        let exposure = size(
            &opened
                .iter()
                .flat_map(|o| o.prefixes.iter().copied())
                .collect::<Vec<_>>(),
        );
        let mut mitigations = Vec::new();
        if !opened.is_empty() {
            if !deny {
                mitigations.push(format!(
                    "add an explicit inbound rule to {nsg}: Deny, priority 4096, source *, destination *, any protocol and port, so that nothing reaches AllowVnetInBound (65000) and the tag's widening opens nothing"
                ));
            }
            mitigations.push(format!(
                "write {nsg}'s allow rules with the prefixes they mean (the VNet's and its peers' ranges) instead of the VirtualNetwork tag"
            ));
        }
        let route_list: Vec<String> = routes
            .iter()
            .map(|r| {
                let pfx = match &r.address_prefix.value {
                    m::RoutePrefix::Prefix(x) => x.to_string(),
                    m::RoutePrefix::ServiceTag(s) => s.clone(),
                };
                format!("route {rt_name}/{} {pfx}", r.name.value)
            })
            .collect();
        out.push(Influence {
            kind: InfluenceKind::TagWidening,
            from: a.to_string(),
            to: b.to_string(),
            causes: std::iter::once(format!("routeTable:{rt_name}"))
                .chain(route_list)
                .collect(),
            affected: assoc
                .iter()
                .map(|(d, _, _, _)| format!("nsg:{nsg} on {d}"))
                .collect(),
            detail: format!(
                "the user-route prefixes of {rt_name} join the VirtualNetwork tag of {nsg} (R5.5): the tag gains {}",
                crate::render::short_list(&widened)
            ),
            seed: default_route && !deny && !opened.is_empty(),
            opened,
            flows,
            exposure,
            mitigations,
            not_evaluated: None,
            regions,
        });
    }
    Ok(out)
}

/// The NSG table `ti`'s route table and the two boundaries, when they differ: (route table,
/// NSG name, A = the route table's owner, B = the NSG's owner, associations).
#[allow(clippy::type_complexity)]
fn widening_parties<'f>(
    f: &'f Fabric,
    owners: &Owners,
    ti: usize,
) -> Option<(
    vnetsim_fabric::RouteTableId,
    &'f str,
    String,
    String,
    Vec<(String, String, u32, usize)>,
)> {
    let assoc = associations(f, NsgTableId(ti as u32));
    let sub = assoc.first()?.3;
    let rt = f.subnets[sub].route_table?;
    let nsg = f.nsg_names[f.nsg_tables[ti].nsg.ix()].as_str();
    let a = owners.of(Kind::RouteTable, &f.route_tables[rt.ix()].name);
    let b = owners.of(Kind::Nsg, nsg);
    (a != b).then(|| (rt, nsg, a.to_string(), b.to_string(), assoc))
}

/// The same widening on the outbound rules: A's route prefixes join the `VirtualNetwork`
/// tag that B's outbound rules name as a destination (R5.5), so an allow toward
/// `VirtualNetwork` ahead of B's denies (toward `Internet`, say) now lets traffic to every
/// route prefix through. Measured by sweeping from each association with B's outbound rules
/// as they read without the route prefixes.
fn outbound_widening(
    f: &Fabric,
    owners: &Owners,
    sel: &Selectors,
    job: &Job<'_>,
) -> Result<Vec<Influence>, String> {
    let mut out = Vec::new();
    for (ti, table) in f.nsg_tables.iter().enumerate() {
        let Some(narrow) = &table.outbound_without_routes else {
            continue;
        };
        let Some((rt, nsg, a, b, assoc)) = widening_parties(f, owners, ti) else {
            continue;
        };
        let sub = assoc[0].3;
        let widened = subtract(&vnet_tag(&table.outbound, true), &vnet_tag(narrow, true));
        let regs = regions(f, f.subnets[sub].vnet.ix(), &widened);
        let opened = opened_over(f, nsg, (&table.outbound, narrow), &assoc, &regs, true);
        if opened.is_empty() {
            continue; // the defaults alone: AllowInternetOutBound admitted the rest already
        }
        let mut cf = f.clone();
        cf.nsg_tables[ti].outbound = narrow.clone();
        cf.nsg_tables[ti].outbound_without_routes = None;
        let mut flows = Vec::new();
        for (_, from, _, _) in &assoc {
            let s = Selectors {
                from: vec![from.clone()],
                to: sel.to.clone(),
                ports: sel.ports.clone(),
            };
            flows.extend(compare(&cf, f, &s, job)?.0);
        }
        let pairs: Vec<(Vec<String>, Vec<String>)> = assoc
            .iter()
            .map(|(_, from, _, _)| (vec![from.clone()], sel.to.clone()))
            .collect();
        let regions = regions_of(&cf, f, &pairs, job);
        let rt_name = &f.route_tables[rt.ix()].name;
        let exposure = size(
            &opened
                .iter()
                .flat_map(|o| o.prefixes.iter().copied())
                .collect::<Vec<_>>(),
        );
        out.push(Influence {
            kind: InfluenceKind::TagWidening,
            from: a,
            to: b,
            causes: vec![format!("routeTable:{rt_name}")],
            affected: assoc.iter().map(|(d, _, _, _)| format!("nsg:{nsg} outbound on {d}")).collect(),
            detail: format!(
                "the user-route prefixes of {rt_name} join the VirtualNetwork tag that {nsg}'s outbound rules name as a destination (R5.5): the tag gains {}",
                crate::render::short_list(&widened)
            ),
            seed: false,
            opened,
            flows,
            exposure,
            mitigations: vec![
                format!("write {nsg}'s outbound allow rules with the destination prefixes they mean instead of the VirtualNetwork tag"),
                format!("or give {nsg}'s outbound denies that must hold (toward Internet, say) a lower priority number than the allows that name VirtualNetwork"),
            ],
            not_evaluated: None,
            regions,
        });
    }
    Ok(out)
}

/// A counterfactual topology, validated and compiled, or why it could not be.
fn counterfactual(t: m::Topology) -> Result<Fabric, String> {
    match m::revalidate("(counterfactual)", t) {
        Ok(v) => Ok(vnetsim_fabric::compile(&v)),
        Err(d) => Err(d
            .errors()
            .next()
            .map(|e| e.message.clone())
            .unwrap_or_else(|| "it does not validate".into())),
    }
}

#[allow(clippy::too_many_arguments)]
fn measured(
    kind: InfluenceKind,
    from: &str,
    to: &str,
    causes: Vec<String>,
    affected: Vec<String>,
    detail: String,
    cf: Result<Fabric, String>,
    f: &Fabric,
    sel: &Selectors,
    job: &Job<'_>,
) -> Result<Influence, String> {
    let (flows, exposure, not_evaluated, regions) = match cf {
        Ok(cf) => {
            let (fl, e) = compare(&cf, f, sel, job)?;
            let r = regions_of(&cf, f, &[(sel.from.clone(), sel.to.clone())], job);
            (fl, e, None, r)
        }
        Err(e) => (Vec::new(), 0, Some(e), Default::default()),
    };
    Ok(Influence {
        kind,
        from: from.to_string(),
        to: to.to_string(),
        causes,
        affected,
        detail,
        opened: Vec::new(),
        flows,
        exposure,
        seed: false,
        mitigations: Vec::new(),
        not_evaluated,
        regions,
    })
}

fn route_redirection(
    v: &m::Validated,
    f: &Fabric,
    owners: &Owners,
    sel: &Selectors,
    job: &Job<'_>,
) -> Result<Vec<Influence>, String> {
    let t = v.topology();
    let mut out = Vec::new();
    for (vi, vn) in t.vnets.iter().enumerate() {
        for (si, s) in vn.subnets.iter().enumerate() {
            let Some(rt) = &s.route_table else { continue };
            let path = format!("{}/{}", vn.name.value, s.name.value);
            let a = owners.of(Kind::RouteTable, &rt.value);
            let b = owners.of(Kind::Subnet, &path);
            // The firewalls the table's routes point at, with their owners.
            let mut fw_owners: Vec<(String, String)> = Vec::new();
            for r in t
                .route_tables
                .iter()
                .filter(|x| x.name.value == rt.value)
                .flat_map(|x| &x.routes)
            {
                if let Some(ip) = &r.next_hop_ip_address {
                    for fw in t
                        .firewalls
                        .iter()
                        .filter(|x| x.private_ip_address.value == ip.value)
                    {
                        let o = owners.of(Kind::Firewall, &fw.name.value).to_string();
                        if !fw_owners.iter().any(|(n, _)| *n == fw.name.value) {
                            fw_owners.push((fw.name.value.clone(), o));
                        }
                    }
                }
            }
            let mut targets: Vec<(String, String)> = Vec::new();
            if a != b {
                targets.push((b.to_string(), format!("subnet:{path}")));
            }
            for (fw, o) in &fw_owners {
                if o != a && !targets.iter().any(|(x, _)| x == o) {
                    targets.push((o.clone(), format!("firewall:{fw}")));
                }
            }
            if targets.is_empty() {
                continue;
            }
            let mut ct = t.clone();
            ct.vnets[vi].subnets[si].route_table = None;
            let cf = counterfactual(ct);
            let s_sel = Selectors {
                from: vec![format!("subnet:{path}")],
                to: sel.to.clone(),
                ports: sel.ports.clone(),
            };
            for (to, what) in targets {
                let through: Vec<&str> = fw_owners.iter().map(|x| x.0.as_str()).collect();
                let detail = if through.is_empty() {
                    format!(
                        "{} decides where the traffic of subnet {path} goes",
                        rt.value
                    )
                } else {
                    format!(
                        "{} sends the traffic of subnet {path} through (or, by its narrower routes, around) firewall {}",
                        rt.value,
                        through.join(", ")
                    )
                };
                out.push(measured(
                    InfluenceKind::RouteRedirection,
                    a,
                    &to,
                    vec![format!("routeTable:{}", rt.value)],
                    vec![what],
                    detail,
                    cf.clone(),
                    f,
                    &s_sel,
                    job,
                )?);
            }
        }
    }
    Ok(out)
}

fn pe_policy(
    v: &m::Validated,
    f: &Fabric,
    owners: &Owners,
    sel: &Selectors,
    job: &Job<'_>,
) -> Result<Vec<Influence>, String> {
    let t = v.topology();
    let mut out = Vec::new();
    for (vi, vn) in t.vnets.iter().enumerate() {
        for (si, s) in vn.subnets.iter().enumerate() {
            if !s.private_endpoint_network_policies.route_tables() {
                continue;
            }
            let path = format!("{}/{}", vn.name.value, s.name.value);
            let a = owners.of(Kind::Subnet, &path);
            let pes: Vec<&vnetsim_fabric::PrivateEndpoint> = f
                .pes
                .iter()
                .filter(|p| f.subnet_path(p.subnet) == path)
                .collect();
            if pes.is_empty() {
                continue;
            }
            // Subnets where a user route now invalidates an endpoint's /32 (R4.3).
            let mut by_owner: Vec<(String, Vec<String>)> = Vec::new();
            for (j, sn) in f.subnets.iter().enumerate() {
                let rs = &f.route_sets[sn.route_set.ix()];
                let invalid = rs.routes.iter().any(|r| {
                    r.state == RouteState::Invalid
                        && r.source == RouteSource::Default
                        && r.prefix.prefix_len() == 32
                        && pes.iter().any(|p| u32::from(r.prefix.network()) == p.ip)
                });
                if !invalid {
                    continue;
                }
                let sp = f.subnet_path(vnetsim_fabric::SubnetId(j as u32));
                let mut o = owners.of(Kind::Subnet, &sp).to_string();
                if o == a {
                    if let Some(rt) = sn.route_table {
                        o = owners
                            .of(Kind::RouteTable, &f.route_tables[rt.ix()].name)
                            .to_string();
                    }
                }
                if o == a {
                    continue;
                }
                match by_owner.iter_mut().find(|(x, _)| *x == o) {
                    Some((_, l)) => l.push(format!("subnet:{sp}")),
                    None => by_owner.push((o, vec![format!("subnet:{sp}")])),
                }
            }
            if by_owner.is_empty() {
                continue;
            }
            let mut ct = t.clone();
            ct.vnets[vi].subnets[si].private_endpoint_network_policies =
                m::PeNetworkPolicies::Disabled;
            let cf = counterfactual(ct);
            let p_sel = Selectors {
                from: sel.from.clone(),
                to: pes.iter().map(|p| format!("pe:{}", p.name)).collect(),
                ports: sel.ports.clone(),
            };
            for (o, subnets) in by_owner {
                let detail = format!(
                    "privateEndpointNetworkPolicies {:?} on {path} lets the user routes of {} invalidate the /32 of {} (R4.3): their routes, not the endpoint's, decide",
                    s.private_endpoint_network_policies,
                    subnets.join(", "),
                    pes.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
                );
                out.push(measured(
                    InfluenceKind::PrivateEndpointPolicy,
                    a,
                    &o,
                    vec![format!("subnet:{path}")],
                    subnets,
                    detail,
                    cf.clone(),
                    f,
                    &p_sel,
                    job,
                )?);
            }
        }
    }
    Ok(out)
}

/// The NSG part of the endpoint policies (R4.4): the subnet's owner decides whether the
/// subnet's NSG, which another boundary may own, applies to traffic into its Private
/// Endpoints. Off, every rule of that NSG is void for the endpoints; on, the rules decide.
/// Measured against the other setting of the NSG part (the route-table part kept).
fn pe_nsg_policy(
    v: &m::Validated,
    f: &Fabric,
    owners: &Owners,
    sel: &Selectors,
    job: &Job<'_>,
) -> Result<Vec<Influence>, String> {
    let t = v.topology();
    let mut out = Vec::new();
    for (vi, vn) in t.vnets.iter().enumerate() {
        for (si, s) in vn.subnets.iter().enumerate() {
            let Some(nsg) = s.nsg.as_ref().map(|n| n.value.clone()) else {
                continue;
            };
            let path = format!("{}/{}", vn.name.value, s.name.value);
            let pes: Vec<String> = f
                .pes
                .iter()
                .filter(|p| f.subnet_path(p.subnet) == path)
                .map(|p| p.name.clone())
                .collect();
            let (a, b) = (owners.of(Kind::Subnet, &path), owners.of(Kind::Nsg, &nsg));
            if pes.is_empty() || a == b {
                continue;
            }
            let pol = s.private_endpoint_network_policies;
            let flipped = match (pol.route_tables(), pol.nsg()) {
                (true, true) => m::PeNetworkPolicies::RouteTableEnabled,
                (true, false) => m::PeNetworkPolicies::Enabled,
                (false, true) => m::PeNetworkPolicies::Disabled,
                (false, false) => m::PeNetworkPolicies::NetworkSecurityGroupEnabled,
            };
            let mut ct = t.clone();
            ct.vnets[vi].subnets[si].private_endpoint_network_policies = flipped;
            let detail = if pol.nsg() {
                format!("privateEndpointNetworkPolicies {pol:?} on {path} makes {nsg}'s rules apply to traffic into {} (R4.4); the subnet's owner can switch them off", pes.join(", "))
            } else {
                format!("privateEndpointNetworkPolicies {pol:?} on {path} leaves {nsg}'s rules void for traffic into {} (R4.4): none of them, denies included, decides for the endpoints", pes.join(", "))
            };
            let p_sel = Selectors {
                from: sel.from.clone(),
                to: pes.iter().map(|p| format!("pe:{p}")).collect(),
                ports: sel.ports.clone(),
            };
            out.push(measured(
                InfluenceKind::PrivateEndpointPolicy,
                a,
                b,
                vec![format!("subnet:{path}")],
                pes.iter().map(|p| format!("nsg:{nsg} on pe:{p}")).collect(),
                detail,
                counterfactual(ct),
                f,
                &p_sel,
                job,
            )?);
        }
    }
    Ok(out)
}

fn peering_flags(
    v: &m::Validated,
    f: &Fabric,
    owners: &Owners,
    sel: &Selectors,
    job: &Job<'_>,
) -> Result<Vec<Influence>, String> {
    let t = v.topology();
    let mut out = Vec::new();
    for (i, pr) in t.peerings.iter().enumerate() {
        let name = crate::resources::peering_name(pr);
        let a = owners.of(Kind::Peering, &name);
        let b = owners.of(Kind::Vnet, &pr.to.value);
        if a == b {
            continue;
        }
        let flags = [
            ("allowForwardedTraffic", pr.allow_forwarded_traffic),
            ("allowGatewayTransit", pr.allow_gateway_transit),
            ("useRemoteGateways", pr.use_remote_gateways),
        ];
        for (flag, on) in flags {
            if !on {
                continue;
            }
            let mut ct = t.clone();
            let q = &mut ct.peerings[i];
            match flag {
                "allowForwardedTraffic" => q.allow_forwarded_traffic = false,
                "allowGatewayTransit" => q.allow_gateway_transit = false,
                _ => q.use_remote_gateways = false,
            }
            if flag == "allowGatewayTransit" {
                // Without transit the remote side cannot use this side's gateways either.
                for r in ct.peerings.iter_mut() {
                    if r.from.value == pr.to.value && r.to.value == pr.from.value {
                        r.use_remote_gateways = false;
                    }
                }
            }
            let (x, y) = (&pr.from.value, &pr.to.value);
            let detail = match flag {
                "allowForwardedTraffic" => format!(
                    "allowForwardedTraffic on peering {name}: {x} accepts traffic that {y}'s appliances, firewalls or gateways forward from elsewhere"
                ),
                "allowGatewayTransit" => format!(
                    "allowGatewayTransit on peering {name}: {y} may use {x}'s gateways, and with them reach (and be reached from) what they connect (R2.3)"
                ),
                _ => format!(
                    "useRemoteGateways on peering {name}: {x} uses {y}'s gateways; the routes they learn enter {x}'s subnets and its VirtualNetwork tag (R2.3, R5.5)"
                ),
            };
            out.push(measured(
                InfluenceKind::PeeringFlags,
                a,
                b,
                vec![format!("peering:{name} {flag}")],
                vec![format!("vnet:{}", pr.to.value)],
                detail,
                counterfactual(ct),
                f,
                sel,
                job,
            )?);
        }
    }
    Ok(out)
}

fn asg_membership(
    v: &m::Validated,
    f: &Fabric,
    owners: &Owners,
    sel: &Selectors,
    job: &Job<'_>,
) -> Result<Vec<Influence>, String> {
    let t = v.topology();
    let mut out = Vec::new();
    for (ni, nic) in t.nics.iter().enumerate() {
        let a = owners.of(Kind::Nic, &nic.name.value);
        for (gi, g) in nic.application_security_groups.iter().enumerate() {
            let names = |l: &[m::Sp<m::AddressSpec>]| {
                l.iter()
                    .any(|x| matches!(&x.value, m::AddressSpec::Asg(n) if *n == g.value))
            };
            for nsg in &t.nsgs {
                if !nsg
                    .rules
                    .iter()
                    .any(|r| names(&r.source) || names(&r.destination))
                {
                    continue;
                }
                let b = owners.of(Kind::Nsg, &nsg.name.value);
                if a == b {
                    continue;
                }
                let mut ct = t.clone();
                ct.nics[ni].application_security_groups.remove(gi);
                out.push(measured(
                    InfluenceKind::AsgMembership,
                    a,
                    b,
                    vec![format!("nic:{} in asg:{}", nic.name.value, g.value)],
                    vec![format!("nsg:{}", nsg.name.value)],
                    format!(
                        "nic {} is a member of asg {}, which the rules of {} name (R5.8)",
                        nic.name.value, g.value, nsg.name.value
                    ),
                    counterfactual(ct),
                    f,
                    sel,
                    job,
                )?);
            }
        }
    }
    Ok(out)
}

/// The influence map of a topology under `owners`, every counterfactual swept with `sel`.
pub fn map(
    v: &m::Validated,
    f: &Fabric,
    owners: &Owners,
    sel: &Selectors,
    job: &Job<'_>,
) -> Result<Map, String> {
    let mut all = tag_widening(v, f, owners, sel, job)?;
    all.extend(outbound_widening(f, owners, sel, job)?);
    all.extend(route_redirection(v, f, owners, sel, job)?);
    all.extend(pe_policy(v, f, owners, sel, job)?);
    all.extend(pe_nsg_policy(v, f, owners, sel, job)?);
    all.extend(peering_flags(v, f, owners, sel, job)?);
    all.extend(asg_membership(v, f, owners, sel, job)?);
    // Ranked: the seed scenario, then by exposure, then by flows changed; ties in a stable,
    // input-independent order.
    all.sort_by(|x, y| {
        (y.seed, y.exposure, y.flows.len())
            .cmp(&(x.seed, x.exposure, x.flows.len()))
            .then_with(|| {
                (x.kind, &x.from, &x.to, &x.affected).cmp(&(y.kind, &y.from, &y.to, &y.affected))
            })
    });
    Ok(Map {
        boundaries: owners.boundaries(),
        influences: all,
        ports: sel.ports.clone(),
    })
}
