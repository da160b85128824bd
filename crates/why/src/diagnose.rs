//! One blocker from one trace: the decision that stopped the flow, read from the trace's
//! ids, and the edit that would let the flow past it (none when no single setting does).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use vnetsim_engine::render::{ip, reason_text};
use vnetsim_engine::{Flow, Leg, Outcome, Reason, RuleRef, Scratch, Trace, ICMP, TCP, UDP};
use vnetsim_fabric::security::Access;
use vnetsim_fabric::{Endpoint, Fabric, SubnetId, Target, VnetId};
use vnetsim_model::types::{Direction, Origin, Topology};

use crate::doc::{map, plain, s, seq};
use crate::fix::Edit;
use crate::Blocker;

/// What stops the trace, with its fix.
pub struct Finding {
    pub blocker: Blocker,
    pub edit: Option<Edit>,
}

pub fn finding(f: &Fabric, t: &Trace, sc: &Scratch, topo: &Topology) -> Option<Finding> {
    match t.outcome {
        Outcome::Reachable => None,
        Outcome::Unreachable => Some(leg_finding(f, &t.forward, sc, topo, "forward")),
        // Something vnetsim does not model decides: named, with no change to propose.
        Outcome::NotModelled => Some(match &t.ret {
            Some(r) if t.forward.delivered_to.is_some() => leg_finding(f, r, sc, topo, "return"),
            _ => leg_finding(f, &t.forward, sc, topo, "forward"),
        }),
        Outcome::NoReturn => Some(match (t.bypassed, &t.ret) {
            (Some(fw), _) => bypass(f, t, fw, topo),
            (None, Some(r)) if r.reason == Reason::FirewallNoSession => no_session(f, t, topo),
            (None, Some(r)) if t.bypassed_nva.is_none() => leg_finding(f, r, sc, topo, "return"),
            _ => unexplained(f, t, "return"),
        }),
    }
}

fn owner(o: &Option<Origin>, topo: &Topology) -> Option<String> {
    o.as_ref()
        .and_then(|o| o.owner.clone())
        .or_else(|| topo.owner.clone())
}

fn proto_word(p: u8) -> &'static str {
    match p {
        TCP => "Tcp",
        UDP => "Udp",
        ICMP => "Icmp",
        _ => "*",
    }
}

fn ports(flow: &Flow) -> String {
    if flow.proto == TCP || flow.proto == UDP {
        flow.dport.to_string()
    } else {
        "*".into()
    }
}

fn describe(flow: &Flow) -> String {
    format!(
        "{} {}",
        ip(flow.src) + " -> " + &ip(flow.dst),
        match flow.proto {
            TCP | UDP => format!("{}/{}", proto_word(flow.proto).to_lowercase(), flow.dport),
            _ => proto_word(flow.proto).to_lowercase(),
        }
    )
}

fn base(f: &Fabric, leg: &Leg, side: &'static str, kind: &'static str) -> Blocker {
    Blocker {
        leg: side,
        kind,
        resource: String::new(),
        owner: None,
        at: leg.dropped_at.map(|e| f.endpoint_id(e)).unwrap_or_default(),
        decision: reason_text(f, leg),
        change: None,
        patch: None,
        needed: true,
    }
}

fn unexplained(f: &Fabric, t: &Trace, side: &'static str) -> Finding {
    let leg = t.ret.as_ref().unwrap_or(&t.forward);
    let mut b = base(f, leg, side, "other");
    b.decision = vnetsim_engine::render::outcome_reason(f, t);
    Finding {
        blocker: b,
        edit: None,
    }
}

fn leg_finding(
    f: &Fabric,
    leg: &Leg,
    sc: &Scratch,
    topo: &Topology,
    side: &'static str,
) -> Finding {
    let b = base(f, leg, side, "other");
    match (leg.reason, leg.rule) {
        (
            Reason::NsgDeny,
            Some(RuleRef::Nsg {
                table,
                inbound,
                from_internet,
                index,
            }),
        ) => nsg(f, leg, b, topo, (table, inbound, from_internet, index)),
        (
            Reason::AdminRuleDeny,
            Some(RuleRef::AdminRule {
                table,
                inbound,
                index,
            }),
        ) => admin(f, leg, b, topo, (table, inbound, index)),
        (Reason::FirewallDeny | Reason::FirewallDefaultDeny, rule) => {
            firewall(f, leg, b, topo, rule)
        }
        (Reason::UnresolvedRule, Some(r)) => unresolved(f, b, r),
        (Reason::ForwardedTrafficNotAllowed, _) => forwarded(f, leg, sc, b, topo),
        (Reason::RouteNone, Some(RuleRef::Route(rr))) => {
            let r = &f.route_sets[rr.set.ix()].routes[rr.index as usize];
            match (r.route_table, &r.name) {
                (Some(rt), Some(name)) => remove_route(f, b, topo, rt.ix(), name, r.prefix),
                _ => no_route(f, leg, sc, b, topo),
            }
        }
        (Reason::RouteNone | Reason::NoRoute, _) => no_route(f, leg, sc, b, topo),
        (Reason::NoGateway, _) => gateway_transit(f, leg, sc, b, topo),
        (Reason::NoOutboundConnectivity, _) => outbound(f, leg, b, topo),
        _ => Finding {
            blocker: b,
            edit: None,
        },
    }
}

/// A rule vnetsim cannot resolve may decide: named, marked unresolved with its unknown fields,
/// and no change proposed (any change would be a guess at what the rule matches).
fn unresolved(f: &Fabric, mut b: Blocker, r: RuleRef) -> Finding {
    let Some((name, why)) = vnetsim_engine::render::unresolved_rule(f, r) else {
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    b.kind = "unresolvedRule";
    b.resource = match r {
        RuleRef::NsgUnresolved { .. } => format!("nsg:{}", name.split('/').next().unwrap_or("")),
        RuleRef::FirewallUnresolved { .. } => {
            format!("firewall:{}", name.split('/').next().unwrap_or(""))
        }
        _ => format!("adminRule:{name}"),
    };
    b.decision = format!(
        "unresolved rule {name} ({why}) may match this flow ahead of the rule that decides"
    );
    b.change = Some(format!(
        "none until {name} is resolved: state what it leaves unresolved (for a service tag, \
         import with --service-tags FILE)"
    ));
    Finding {
        blocker: b,
        edit: None,
    }
}

/// The highest free priority in `lo..below` (the nearest one ahead of the deciding rule).
fn free_priority(used: &HashSet<u32>, lo: u32, below: u32, hi: u32) -> Option<u32> {
    (lo..below.min(hi + 1)).rev().find(|p| !used.contains(p))
}

fn unique(base: String, taken: &HashSet<String>) -> String {
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|i| format!("{base}-{i}"))
        .find(|n| !taken.contains(n))
        .unwrap()
}

fn flow_tag(flow: &Flow) -> String {
    format!(
        "{}-{}-from-{}",
        proto_word(flow.proto).to_lowercase(),
        ports(flow),
        ip(flow.src)
    )
    .replace('*', "any")
}

/// R5.1/R5.3: a deny decided at one NSG (subnet or NIC); an Allow rule for exactly this
/// flow at the free priority just ahead of the deciding rule lets it past that NSG.
fn nsg(
    f: &Fabric,
    leg: &Leg,
    mut b: Blocker,
    topo: &Topology,
    r: (u32, bool, bool, u32),
) -> Finding {
    let (table, inbound, from_internet, index) = r;
    let nt = &f.nsg_tables[table as usize];
    let rt = nt.table(inbound, from_internet);
    let rule = &rt.rules[index as usize];
    let name = &f.nsg_names[nt.nsg.ix()];
    let model = topo.nsgs.iter().find(|n| &n.name.value == name);
    let dir = if inbound {
        Direction::Inbound
    } else {
        Direction::Outbound
    };
    // Unresolved rules hold their priorities and names too: a change never takes them.
    let all = |n: &'_ vnetsim_model::types::Nsg| {
        n.rules
            .iter()
            .chain(&n.unresolved_rules)
            .cloned()
            .collect::<Vec<_>>()
    };
    let rules = model.map(all).unwrap_or_default();
    let used: HashSet<u32> = rules
        .iter()
        .filter(|r| r.direction == dir)
        .map(|r| r.priority.value)
        .collect();
    let names: HashSet<String> = rules.iter().map(|r| r.name.value.clone()).collect();
    let level = match leg.dropped_at {
        Some(Endpoint::Nic(_)) => "NIC",
        _ => "subnet",
    };
    let dirw = if inbound { "Inbound" } else { "Outbound" };
    b.kind = "nsg";
    b.resource = format!("nsg:{name}");
    b.owner = model.and_then(|n| owner(&n.origin, topo));
    b.decision = format!(
        "{} {} rule {} (priority {}) at the {level} level denies {}",
        name,
        dirw.to_lowercase(),
        rule.name,
        rule.priority,
        describe(&leg.seen)
    );
    let Some(p) = free_priority(&used, 100, rule.priority, 4096) else {
        b.change = Some(format!(
            "no free priority ahead of {} in {name}: narrow or remove that rule",
            rule.name
        ));
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    let fl = &leg.seen;
    let rname = unique(format!("allow-{}", flow_tag(fl)), &names);
    let new = map(vec![
        ("name", s(&rname)),
        ("priority", plain(p)),
        ("direction", s(dirw)),
        ("access", s("Allow")),
        ("protocol", s(proto_word(fl.proto))),
        ("source", s(format!("{}/32", ip(fl.src)))),
        ("sourcePorts", s("*")),
        ("destination", s(format!("{}/32", ip(fl.dst)))),
        ("destinationPorts", s(ports(fl))),
    ]);
    b.change = Some(format!(
        "add to {name} an {} Allow rule at priority {p}, source {}/32, destination {}/32, {} {}",
        dirw.to_lowercase(),
        ip(fl.src),
        ip(fl.dst),
        proto_word(fl.proto).to_uppercase(),
        ports(fl)
    ));
    let edit = Edit::AddNsgRule {
        nsg: name.clone(),
        rule: new,
    };
    b.patch = Some(edit.patch());
    Finding {
        blocker: b,
        edit: Some(edit),
    }
}

/// A security admin rule with action Deny (evaluated before NSGs): an `Allow` admin rule
/// just ahead of it hands the flow to the NSGs, which then decide (AVNM "Allow").
fn admin(f: &Fabric, leg: &Leg, mut b: Blocker, topo: &Topology, r: (u32, bool, u32)) -> Finding {
    let (table, inbound, index) = r;
    let rule = &f.admin_tables[table as usize].rules(inbound).rules[index as usize];
    let parts: Vec<&str> = rule.name.splitn(4, '/').collect();
    b.kind = "adminRule";
    b.resource = format!("adminRule:{}", rule.name);
    let mgr = topo
        .network_managers
        .iter()
        .find(|m| Some(&m.name.value.as_str()) == parts.first());
    b.owner = mgr
        .and_then(|m| owner(&m.origin, topo))
        .or_else(|| topo.owner.clone());
    let dirw = if inbound { "Inbound" } else { "Outbound" };
    b.decision = format!(
        "security admin rule {} (priority {}, {}) denies {}",
        rule.name,
        rule.priority,
        dirw.to_lowercase(),
        describe(&leg.seen)
    );
    let coll = mgr.and_then(|m| {
        m.security_admin_configurations
            .iter()
            .find(|c| Some(&c.name.value.as_str()) == parts.get(1))
            .and_then(|c| {
                c.rule_collections
                    .iter()
                    .find(|x| Some(&x.name.value.as_str()) == parts.get(2))
            })
    });
    let (Some(coll), 4) = (coll, parts.len()) else {
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    let every = || coll.rules.iter().chain(&coll.unresolved_rules);
    let used: HashSet<u32> = every().map(|r| r.priority.value).collect();
    let names: HashSet<String> = every().map(|r| r.name.value.clone()).collect();
    let Some(p) = free_priority(&used, 1, rule.priority, 4096) else {
        b.change = Some(format!(
            "no free priority ahead of {} in its collection",
            rule.name
        ));
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    let fl = &leg.seen;
    let mut entries = vec![
        ("name", s(unique(format!("allow-{}", flow_tag(fl)), &names))),
        ("priority", plain(p)),
        ("direction", s(dirw)),
        ("access", s("Allow")),
        ("protocol", s(proto_word(fl.proto))),
        ("sources", seq(vec![s(format!("{}/32", ip(fl.src)))])),
        ("destinations", seq(vec![s(format!("{}/32", ip(fl.dst)))])),
    ];
    if fl.proto == TCP || fl.proto == UDP {
        entries.push(("destinationPortRanges", seq(vec![s(ports(fl))])));
    }
    b.change = Some(format!(
        "add to admin rule collection {}/{}/{} an {} Allow rule at priority {p}, source {}/32, destination {}/32, {} {} (Allow hands the flow to the NSGs)",
        parts[0], parts[1], parts[2], dirw.to_lowercase(), ip(fl.src), ip(fl.dst),
        proto_word(fl.proto).to_uppercase(), ports(fl)
    ));
    let edit = Edit::AddAdminRule {
        manager: parts[0].into(),
        configuration: parts[1].into(),
        collection: parts[2].into(),
        rule: map(entries),
    };
    b.patch = Some(edit.patch());
    Finding {
        blocker: b,
        edit: Some(edit),
    }
}

/// R6.1: a Deny network rule collection, or nothing matched (default deny). A network rule
/// collection with one Allow rule for the flow, at the free priority just ahead of the denying
/// collection (or after every collection, for the default deny), lets it through; network
/// rules are evaluated before application rules.
fn firewall(
    f: &Fabric,
    leg: &Leg,
    mut b: Blocker,
    topo: &Topology,
    rule: Option<RuleRef>,
) -> Finding {
    let fw = match (leg.dropped_at, rule) {
        (_, Some(RuleRef::FirewallNetwork { fw, .. }))
        | (_, Some(RuleRef::FirewallApplication { fw, .. }))
        | (_, Some(RuleRef::FirewallDefaultDeny(fw)))
        | (Some(Endpoint::Firewall(fw)), _) => fw,
        _ => {
            return Finding {
                blocker: b,
                edit: None,
            }
        }
    };
    let name = f.firewalls[fw.ix()].name.clone();
    let Some(model) = topo.firewalls.iter().find(|x| x.name.value == name) else {
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    b.kind = "firewall";
    b.resource = format!("firewall:{name}");
    b.owner = owner(&model.origin, topo);
    let used: HashSet<u32> = model
        .network_rule_collections
        .iter()
        .map(|c| c.priority.value)
        .collect();
    let names: HashSet<String> = model
        .network_rule_collections
        .iter()
        .map(|c| c.name.value.clone())
        .collect();
    let deny = match rule {
        Some(RuleRef::FirewallNetwork { index, .. }) => {
            let (n, a) = &f.firewalls[fw.ix()].network_rules[index as usize];
            (*a == Access::Deny).then(|| n.clone())
        }
        _ => None,
    };
    let fl = &leg.seen;
    let p = match &deny {
        Some(n) => {
            let coll = n.split('/').next().unwrap_or("");
            let cp = model
                .network_rule_collections
                .iter()
                .find(|c| c.name.value == coll)
                .map(|c| c.priority.value)
                .unwrap_or(65000);
            b.decision = format!(
                "firewall {name}: network rule {n} (collection priority {cp}) denies {}",
                describe(fl)
            );
            free_priority(&used, 100, cp, 65000)
        }
        None => {
            b.decision = format!(
                "firewall {name}: no DNAT, network or application rule matches {} (default deny)",
                describe(fl)
            );
            let after = (used.iter().max().copied().unwrap_or(0) + 100).clamp(100, 65000);
            (!used.contains(&after))
                .then_some(after)
                .or_else(|| free_priority(&used, 100, 65001, 65000))
        }
    };
    let Some(p) = p else {
        b.change = Some(format!(
            "no free collection priority ahead of the denying collection in {name}"
        ));
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    let proto = match fl.proto {
        TCP => "TCP",
        UDP => "UDP",
        ICMP => "ICMP",
        _ => "Any",
    };
    let cname = unique(format!("allow-{}", flow_tag(fl)), &names);
    let coll = map(vec![
        ("name", s(&cname)),
        ("priority", plain(p)),
        ("action", s("Allow")),
        (
            "rules",
            seq(vec![map(vec![
                ("name", s(&cname)),
                ("protocols", seq(vec![s(proto)])),
                ("source", seq(vec![s(ip(fl.src))])),
                ("destination", seq(vec![s(ip(fl.dst))])),
                ("destinationPorts", seq(vec![s(ports(fl))])),
            ])]),
        ),
    ]);
    b.change = Some(format!(
        "add to firewall {name} a network rule collection {cname} at priority {p}, action Allow, one rule: source {}, destination {}, {proto} {}",
        ip(fl.src), ip(fl.dst), ports(fl)
    ));
    let edit = Edit::AddFirewallCollection {
        firewall: name,
        collection: coll,
    };
    b.patch = Some(edit.patch());
    Finding {
        blocker: b,
        edit: Some(edit),
    }
}

/// The VNet an endpoint sits in, when it sits in one.
fn vnet_of(f: &Fabric, e: Endpoint) -> Option<VnetId> {
    match e {
        Endpoint::Subnet(s) => Some(f.subnets[s.ix()].vnet),
        Endpoint::Nic(n) => Some(f.subnets[f.nics[n.ix()].subnet.ix()].vnet),
        Endpoint::Pe(p) => Some(f.subnets[f.pes[p.ix()].subnet.ix()].vnet),
        Endpoint::Firewall(fw) => Some(f.firewalls[fw.ix()].vnet),
        Endpoint::Gateway(g) => Some(f.gateways[g.ix()].vnet),
        _ => None,
    }
}

fn subnet_of(f: &Fabric, e: Endpoint) -> Option<SubnetId> {
    match e {
        Endpoint::Subnet(s) => Some(s),
        Endpoint::Nic(n) => Some(f.nics[n.ix()].subnet),
        Endpoint::Pe(p) => Some(f.pes[p.ix()].subnet),
        Endpoint::Firewall(fw) => Some(f.firewalls[fw.ix()].subnet),
        _ => None,
    }
}

/// The VNet the leg's last route lookup happened in, and where that route pointed.
fn last_lookup(f: &Fabric, leg: &Leg, sc: &Scratch) -> Option<(VnetId, Target)> {
    let h = sc.leg_hops(leg).iter().rev().find(|h| h.route.is_some())?;
    let rr = h.route?;
    let target = f.route_sets[rr.set.ix()].routes[rr.index as usize].target;
    Some((vnet_of(f, h.node)?, target))
}

fn target_vnet(f: &Fabric, t: Target) -> Option<VnetId> {
    match t {
        Target::Vnet(v) => Some(v),
        Target::Pe(p) => Some(f.subnets[f.pes[p.ix()].subnet.ix()].vnet),
        Target::Firewall(fw) => Some(f.firewalls[fw.ix()].vnet),
        Target::Appliance(n) => Some(f.subnets[f.nics[n.ix()].subnet.ix()].vnet),
        Target::LoadBalancer(fe) => f.lb_frontends[fe.ix()]
            .subnet
            .map(|s| f.subnets[s.ix()].vnet),
        _ => None,
    }
}

fn peering_owner(topo: &Topology, from: &str, to: &str) -> Option<String> {
    topo.peerings
        .iter()
        .find(|p| p.from.value == from && p.to.value == to)
        .and_then(|p| owner(&p.origin, topo))
        .or_else(|| topo.owner.clone())
}

/// R-PEER-04: the receiving VNet's peering toward the sender must allow forwarded traffic
/// (traffic whose source is outside the sending VNet).
fn forwarded(f: &Fabric, leg: &Leg, sc: &Scratch, mut b: Blocker, topo: &Topology) -> Finding {
    let Some((from, target)) = last_lookup(f, leg, sc) else {
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    let Some(to) = target_vnet(f, target) else {
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    let (a, z) = (
        f.vnets[to.ix()].name.clone(),
        f.vnets[from.ix()].name.clone(),
    );
    b.kind = "peering";
    b.resource = format!("peering:{a}->{z}");
    b.owner = peering_owner(topo, &a, &z);
    b.decision = format!(
        "peering {a} -> {z} does not allow forwarded traffic, and the source {} is outside {z}",
        ip(leg.seen.src)
    );
    b.change = Some(format!("set allowForwardedTraffic on peering {a} -> {z}"));
    let edit = Edit::SetPeeringFlag {
        from: a,
        to: z,
        flag: "allowForwardedTraffic",
    };
    b.patch = Some(edit.patch());
    Finding {
        blocker: b,
        edit: Some(edit),
    }
}

/// A user route with next hop None decided: removing it lets the next best route decide.
fn remove_route(
    f: &Fabric,
    mut b: Blocker,
    topo: &Topology,
    rt: usize,
    name: &str,
    prefix: ipnet::Ipv4Net,
) -> Finding {
    let table = f.route_tables[rt].name.clone();
    b.kind = "route";
    b.resource = format!("routeTable:{table}");
    b.owner = topo
        .route_tables
        .iter()
        .find(|t| t.name.value == table)
        .and_then(|t| owner(&t.origin, topo));
    b.decision = format!("route {name} ({prefix}, next hop None) in {table} drops the flow");
    b.change = Some(format!(
        "remove route {name} from {table} (it also stops dropping every other destination in {prefix})"
    ));
    let edit = Edit::RemoveRoute {
        table,
        route: name.into(),
    };
    b.patch = Some(edit.patch());
    Finding {
        blocker: b,
        edit: Some(edit),
    }
}

/// No route (or the system None route for private space) toward a VNet that is not peered
/// with the sender: peering the two VNets adds the VNetPeering route (R2).
fn no_route(f: &Fabric, leg: &Leg, sc: &Scratch, mut b: Blocker, topo: &Topology) -> Finding {
    b.kind = "route";
    let here = sc.leg_hops(leg).last().map(|h| h.node).or(leg.dropped_at);
    let from = here.and_then(|e| vnet_of(f, e));
    let dst = leg.seen.dst;
    let to = (0..f.vnets.len())
        .find(|&i| f.vnets[i].in_space(dst))
        .map(|i| VnetId(i as u32));
    b.resource = match here {
        Some(e) => format!("routes:{}", f.endpoint_id(e)),
        None => "routes".into(),
    };
    b.owner = topo.owner.clone();
    let (Some(v), Some(w)) = (from, to) else {
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    if v == w || f.vnets[v.ix()].peer(w).is_some() {
        return Finding {
            blocker: b,
            edit: None,
        };
    }
    let (a, z) = (f.vnets[v.ix()].name.clone(), f.vnets[w.ix()].name.clone());
    b.kind = "peering";
    b.resource = format!("peering:{a}<->{z}");
    b.decision = format!(
        "no route from {a} toward {} ({z}): the two VNets are not peered",
        ip(dst)
    );
    b.change = Some(format!("peer {a} and {z} (both peering objects)"));
    let edit = Edit::AddPeerings { a, b: z };
    b.patch = Some(edit.patch());
    Finding {
        blocker: b,
        edit: Some(edit),
    }
}

/// R2.8: next hop VirtualNetworkGateway with no gateway in reach: a spoke uses the hub's
/// gateway through useRemoteGateways (its side) and allowGatewayTransit (the hub's side).
fn gateway_transit(
    f: &Fabric,
    leg: &Leg,
    sc: &Scratch,
    mut b: Blocker,
    topo: &Topology,
) -> Finding {
    let here = sc.leg_hops(leg).last().map(|h| h.node).or(leg.dropped_at);
    let Some(v) = here.and_then(|e| vnet_of(f, e)) else {
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    let hub = f.vnets[v.ix()]
        .peers
        .iter()
        .map(|p| p.vnet)
        .find(|h| f.gateways.iter().any(|g| g.vnet == *h));
    let Some(h) = hub else {
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    let (spoke, hub) = (f.vnets[v.ix()].name.clone(), f.vnets[h.ix()].name.clone());
    b.kind = "peering";
    b.resource = format!("peering:{spoke}->{hub}");
    b.owner = peering_owner(topo, &spoke, &hub);
    b.decision = format!(
        "{spoke} has no gateway in reach: its peering to {hub} does not use the remote gateway"
    );
    let uses = topo
        .peerings
        .iter()
        .any(|p| p.from.value == spoke && p.to.value == hub && p.use_remote_gateways);
    let (edit, change) = if uses {
        (
            Edit::SetPeeringFlag {
                from: hub.clone(),
                to: spoke.clone(),
                flag: "allowGatewayTransit",
            },
            format!("set allowGatewayTransit on peering {hub} -> {spoke}"),
        )
    } else {
        (
            Edit::SetPeeringFlag {
                from: spoke.clone(),
                to: hub.clone(),
                flag: "useRemoteGateways",
            },
            format!("set useRemoteGateways on peering {spoke} -> {hub}"),
        )
    };
    b.change = Some(change);
    b.patch = Some(edit.patch());
    Finding {
        blocker: b,
        edit: Some(edit),
    }
}

/// A private subnet (defaultOutboundAccess false) without an explicit outbound method.
fn outbound(f: &Fabric, leg: &Leg, mut b: Blocker, topo: &Topology) -> Finding {
    let Some(sn) = leg.dropped_at.and_then(|e| subnet_of(f, e)) else {
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    let sub = &f.subnets[sn.ix()];
    let vnet = f.vnets[sub.vnet.ix()].name.clone();
    b.kind = "subnet";
    b.resource = format!("subnet:{vnet}/{}", sub.name);
    b.owner = topo
        .vnets
        .iter()
        .find(|v| v.name.value == vnet)
        .and_then(|v| owner(&v.origin, topo));
    b.decision = format!(
        "subnet {vnet}/{} is private (defaultOutboundAccess false) and has no NAT gateway, and the NIC has no public IP",
        sub.name
    );
    b.change = Some(format!(
        "set defaultOutboundAccess: true on subnet {vnet}/{} (or give it a NAT gateway)",
        sub.name
    ));
    let edit = Edit::SetSubnet {
        vnet,
        subnet: sub.name.clone(),
        key: "defaultOutboundAccess",
        value: plain("true"),
    };
    b.patch = Some(edit.patch());
    Finding {
        blocker: b,
        edit: Some(edit),
    }
}

/// R8.3 / R4.5: the reply bypasses the stateful firewall the request crossed. A route for the
/// request's source (as the destination saw it) via the firewall, on the replying subnet's
/// route table, sends the reply back through it.
fn bypass(f: &Fabric, t: &Trace, fw: vnetsim_fabric::FirewallId, topo: &Topology) -> Finding {
    let leg = t.ret.as_ref().unwrap_or(&t.forward);
    let mut b = base(f, leg, "return", "returnPath");
    let fwx = &f.firewalls[fw.ix()];
    b.decision = vnetsim_engine::render::outcome_reason(f, t);
    b.resource = format!("firewall:{}", fwx.name);
    let hop = ("VirtualAppliance", Some(Ipv4Addr::from(fwx.private_ip)));
    let why = format!("the reply then returns through {}", fwx.name);
    reply_route(
        f,
        t,
        b,
        topo,
        hop,
        &format!("return-via-{}", fwx.name),
        &why,
    )
}

/// R6.6 / R8.3: the reply meets a stateful firewall the request never crossed (a request that
/// arrived at a public IP directly, a reply sent to the firewall by a broad user route). A route
/// for the request's public source with next hop Internet, on the replying subnet's route
/// table, sends the reply back the way the request came.
fn no_session(f: &Fabric, t: &Trace, topo: &Topology) -> Finding {
    let leg = t.ret.as_ref().unwrap_or(&t.forward);
    let mut b = base(f, leg, "return", "returnPath");
    let name = match leg.dropped_at {
        Some(Endpoint::Firewall(fw)) => f.firewalls[fw.ix()].name.clone(),
        _ => String::new(),
    };
    b.resource = format!("firewall:{name}");
    b.decision = format!(
        "the reply to {} meets firewall {name}, which never saw the request (asymmetric): it has no session",
        ip(t.forward.seen.src),
    );
    if !vnetsim_fabric::prefix::is_public(t.forward.seen.src) {
        return Finding {
            blocker: b,
            edit: None,
        };
    }
    let why = "the reply then leaves the way the request came".to_string();
    reply_route(f, t, b, topo, ("Internet", None), "return-direct", &why)
}

/// A route for the request's source (as its destination saw it) on the replying subnet's
/// route table (a new table when it has none).
fn reply_route(
    f: &Fabric,
    t: &Trace,
    mut b: Blocker,
    topo: &Topology,
    hop: (&str, Option<Ipv4Addr>),
    route_name: &str,
    why: &str,
) -> Finding {
    let Some(sn) = t.forward.delivered_to.and_then(|e| subnet_of(f, e)) else {
        return Finding {
            blocker: b,
            edit: None,
        };
    };
    let sub = &f.subnets[sn.ix()];
    let vnet = f.vnets[sub.vnet.ix()].name.clone();
    let prefix = format!("{}/32", ip(t.forward.seen.src));
    let tables: HashSet<String> = topo
        .route_tables
        .iter()
        .map(|r| r.name.value.clone())
        .collect();
    let (table, create) = match sub.route_table {
        Some(rt) => (f.route_tables[rt.ix()].name.clone(), None),
        None => (
            unique(format!("rt-{}", sub.name), &tables),
            Some((vnet.clone(), sub.name.clone())),
        ),
    };
    let names: HashSet<String> = topo
        .route_tables
        .iter()
        .filter(|r| r.name.value == table)
        .flat_map(|r| r.routes.iter().map(|x| x.name.value.clone()))
        .collect();
    let rname = unique(route_name.to_string(), &names);
    b.kind = "returnPath";
    b.owner = topo
        .route_tables
        .iter()
        .find(|r| r.name.value == table)
        .and_then(|r| owner(&r.origin, topo))
        .or_else(|| topo.owner.clone());
    let next = match hop.1 {
        Some(a) => format!("{} {a}", hop.0),
        None => hop.0.to_string(),
    };
    b.change = Some(match &create {
        None => format!("add a route {prefix} -> {next} to {table} ({why})"),
        Some(_) => format!(
            "add a route table {table} with a route {prefix} -> {next}, associated with subnet {vnet}/{} ({why})",
            sub.name
        ),
    });
    let mut entries = vec![
        ("name", s(rname)),
        ("addressPrefix", s(prefix)),
        ("nextHopType", s(hop.0)),
    ];
    if let Some(a) = hop.1 {
        entries.push(("nextHopIpAddress", s(a.to_string())));
    }
    let edit = Edit::AddRoute {
        table,
        route: map(entries),
        create_for: create,
    };
    b.patch = Some(edit.patch());
    Finding {
        blocker: b,
        edit: Some(edit),
    }
}
