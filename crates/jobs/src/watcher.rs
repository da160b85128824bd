//! Renderings of the Network Watcher answers (effective routes and rules): the text and JSON
//! of `vnetsim routes` and `vnetsim rules`, and the Python package's tables.

use std::fmt::Write as _;

use serde_json::{json, Value};
use vnetsim_fabric::admin::{AdminRule, AdminRules};
use vnetsim_fabric::security::{ExpandedRule, RuleTable};
use vnetsim_fabric::unresolved::UnresolvedRules;
use vnetsim_fabric::watcher::{
    admin_rules, effective_routes, effective_rules, next_hop_ips, site_routes, AdvertisedOrigin,
    Association,
};
use vnetsim_fabric::{
    EffectiveRoute, Endpoint, Fabric, GatewayPeer, NicId, RouteSource, SiteId, SubnetId,
};

fn route_row(f: &Fabric, r: &EffectiveRoute) -> Value {
    json!({
        "name": r.name,
        "source": r.source.as_str(),
        "state": r.state.as_str(),
        "addressPrefix": [r.prefix.to_string()],
        "nextHopType": r.next_hop_type.as_str(),
        "nextHopIpAddress": next_hop_ips(f, r).iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "routeTable": match (r.source, r.route_table) {
            (RouteSource::User, Some(rt)) => Some(f.route_tables[rt.ix()].name.clone()),
            _ => None,
        },
    })
}

pub fn routes_json(f: &Fabric, s: SubnetId) -> Value {
    let rows: Vec<Value> = effective_routes(f, s)
        .iter()
        .map(|r| route_row(f, r))
        .collect();
    json!({ "subnet": f.subnet_path(s), "value": rows })
}

fn origin_name(f: &Fabric, o: AdvertisedOrigin) -> String {
    match o {
        AdvertisedOrigin::VirtualNetwork => "VirtualNetwork".to_string(),
        AdvertisedOrigin::Connection(GatewayPeer::Site(s)) => f.endpoint_id(Endpoint::Site(s)),
        AdvertisedOrigin::Connection(GatewayPeer::Gateway(g)) => {
            f.endpoint_id(Endpoint::Gateway(g))
        }
        AdvertisedOrigin::BranchToBranch => "RouteServer".to_string(),
    }
}

/// `routes --site --json`: what the site's gateways advertise to it.
pub fn site_routes_json(f: &Fabric, s: SiteId) -> Value {
    let rows: Vec<Value> = site_routes(f, s)
        .into_iter()
        .map(|(p, g, o)| {
            json!({
                "network": p.to_string(),
                "gateway": f.gateways[g.ix()].name,
                "learnedFrom": origin_name(f, o),
            })
        })
        .collect();
    json!({ "site": f.endpoint_id(Endpoint::Site(s)), "value": rows })
}

pub fn site_routes_text(f: &Fabric, s: SiteId) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Routes advertised to {}",
        f.endpoint_id(Endpoint::Site(s))
    );
    let _ = writeln!(out, "{:<18} {:<22} Learned From", "Network", "Gateway");
    for (p, g, o) in site_routes(f, s) {
        let _ = writeln!(
            out,
            "{:<18} {:<22} {}",
            p.to_string(),
            f.gateways[g.ix()].name,
            origin_name(f, o)
        );
    }
    out
}

pub fn routes_text(f: &Fabric, s: SubnetId) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Effective routes of {}", f.subnet_path(s));
    let _ = writeln!(
        out,
        "{:<22} {:<8} {:<18} {:<22} {:<15} Name",
        "Source", "State", "Address Prefix", "Next Hop Type", "Next Hop IP"
    );
    for r in effective_routes(f, s) {
        let name = match (&r.name, r.route_table) {
            (Some(n), Some(rt)) => format!("{}/{}", f.route_tables[rt.ix()].name, n),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<22} {:<8} {:<18} {:<22} {:<15} {}",
            r.source.as_str(),
            r.state.as_str(),
            r.prefix.to_string(),
            r.next_hop_type.as_str(),
            next_hop_ips(f, r)
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            name
        );
    }
    out
}

fn ports(p: &[(u16, u16)]) -> Vec<String> {
    p.iter().map(|(a, b)| format!("{a}-{b}")).collect()
}

fn rule_json(r: &ExpandedRule, dir: &str) -> Value {
    let prefix = if r.default {
        "defaultSecurityRules"
    } else {
        "securityRules"
    };
    json!({
        "name": format!("{prefix}/{}", r.name),
        "protocol": r.protocol,
        "sourcePortRanges": ports(&r.source_ports),
        "destinationPortRanges": ports(&r.destination_ports),
        "sourceAddressPrefixes": r.source,
        "expandedSourceAddressPrefix": r.expanded_source.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "destinationAddressPrefixes": r.destination,
        "expandedDestinationAddressPrefix": r.expanded_destination.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "access": r.access.as_str(),
        "priority": r.priority,
        "direction": dir,
    })
}

fn assoc(f: &Fabric, a: Association) -> Value {
    match a {
        Association::Subnet(s) => json!({ "subnet": f.subnet_path(s) }),
        Association::NetworkInterface(n) => json!({ "networkInterface": f.nics[n.ix()].name }),
    }
}

pub fn rules_json(f: &Fabric, n: NicId) -> Value {
    let blocks: Vec<Value> = effective_rules(f, n)
        .into_iter()
        .map(|(a, name, t)| {
            let mut rules: Vec<Value> = t.inbound.rules.iter().map(|r| rule_json(r, "Inbound")).collect();
            rules.extend(t.outbound.rules.iter().map(|r| rule_json(r, "Outbound")));
            let mut v = json!({ "networkSecurityGroup": name, "association": assoc(f, a), "effectiveSecurityRules": rules });
            let mut u = unresolved_json(&t.inbound.unresolved, "Inbound", "securityRules/");
            u.extend(unresolved_json(&t.outbound.unresolved, "Outbound", "securityRules/"));
            if !u.is_empty() {
                v["unresolvedSecurityRules"] = Value::Array(u);
            }
            v
        })
        .collect();
    let mut admin: Vec<Value> = Vec::new();
    let mut unresolved: Vec<Value> = Vec::new();
    if let Some(a) = admin_rules(f, n) {
        admin.extend(a.inbound.rules.iter().map(|r| admin_json(r, "Inbound")));
        admin.extend(a.outbound.rules.iter().map(|r| admin_json(r, "Outbound")));
        unresolved.extend(unresolved_json(&a.inbound.unresolved, "Inbound", ""));
        unresolved.extend(unresolved_json(&a.outbound.unresolved, "Outbound", ""));
    }
    let mut v = json!({
        "networkInterface": f.nics[n.ix()].name,
        "securityAdminRules": admin,
        "value": blocks,
    });
    if !unresolved.is_empty() {
        v["unresolvedSecurityAdminRules"] = Value::Array(unresolved);
    }
    v
}

/// Rules that state a field vnetsim cannot resolve: name, priority (null when unresolved),
/// direction, and every unresolved field with why.
fn unresolved_json(u: &Option<UnresolvedRules>, dir: &str, prefix: &str) -> Vec<Value> {
    let Some(u) = u else { return Vec::new() };
    u.rules
        .iter()
        .map(|r| {
            json!({
                "name": format!("{prefix}{}", r.name),
                "priority": (r.order > 0).then_some(r.order),
                "direction": dir,
                "unresolved": r.why,
            })
        })
        .collect()
}

fn unresolved_text(out: &mut String, dir: &str, u: &Option<UnresolvedRules>) {
    let Some(u) = u else { return };
    for r in &u.rules {
        let prio = if r.order > 0 {
            r.order.to_string()
        } else {
            "?".to_string()
        };
        let _ = writeln!(
            out,
            "  {dir:<9} {prio:>5} {:<34} UNRESOLVED  {} (a flow it could match ahead of the rule that decides gets no verdict)",
            r.name, r.why
        );
    }
}

fn admin_json(r: &AdminRule, dir: &str) -> Value {
    json!({
        "name": r.name,
        "protocol": r.protocol,
        "sourcePortRanges": ports(&r.source_ports),
        "destinationPortRanges": ports(&r.destination_ports),
        "sources": r.source,
        "expandedSourceAddressPrefix": r.expanded_source.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "destinations": r.destination,
        "expandedDestinationAddressPrefix": r.expanded_destination.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "access": r.access.as_str(),
        "priority": r.priority,
        "direction": dir,
    })
}

fn admin_text(out: &mut String, dir: &str, t: &AdminRules) {
    for r in &t.rules {
        let _ = writeln!(
            out,
            "  {:<9} {:>5} {:<34} {:<11} {:<5} src {} [{}] ports {} -> dst {} [{}] ports {}",
            dir,
            r.priority,
            r.name,
            r.access.as_str(),
            r.protocol,
            r.source.join(","),
            short(&r.expanded_source),
            ports(&r.source_ports).join(","),
            r.destination.join(","),
            short(&r.expanded_destination),
            ports(&r.destination_ports).join(","),
        );
    }
}

fn short(v: &[ipnet::Ipv4Net]) -> String {
    let s: Vec<String> = v.iter().map(|p| p.to_string()).collect();
    if s.len() > 6 {
        format!("{} ... ({} prefixes)", s[..6].join(","), s.len())
    } else {
        s.join(",")
    }
}

fn table_text(out: &mut String, dir: &str, t: &RuleTable) {
    for r in &t.rules {
        let _ = writeln!(
            out,
            "  {:<9} {:>5} {:<34} {:<6} {:<5} src {} [{}] ports {} -> dst {} [{}] ports {}",
            dir,
            r.priority,
            r.name,
            r.access.as_str(),
            r.protocol,
            r.source.join(","),
            short(&r.expanded_source),
            ports(&r.source_ports).join(","),
            r.destination.join(","),
            short(&r.expanded_destination),
            ports(&r.destination_ports).join(","),
        );
    }
}

pub fn rules_text(f: &Fabric, n: NicId) -> String {
    let mut out = String::new();
    let blocks = effective_rules(f, n);
    let admin = admin_rules(f, n);
    if let Some(a) = admin {
        let _ = writeln!(
            out,
            "Security admin rules (network manager; evaluated before NSGs: Deny and AlwaysAllow decide, Allow defers to the NSGs)"
        );
        admin_text(&mut out, "Inbound", &a.inbound);
        unresolved_text(&mut out, "Inbound", &a.inbound.unresolved);
        admin_text(&mut out, "Outbound", &a.outbound);
        unresolved_text(&mut out, "Outbound", &a.outbound.unresolved);
    }
    if blocks.is_empty() && admin.is_none() {
        let _ = writeln!(
            out,
            "No NSG applies to NIC {} (all traffic allowed).",
            f.nics[n.ix()].name
        );
    }
    for (a, name, t) in blocks {
        let at = match a {
            Association::Subnet(s) => format!("subnet {}", f.subnet_path(s)),
            Association::NetworkInterface(n) => {
                format!("network interface {}", f.nics[n.ix()].name)
            }
        };
        let _ = writeln!(out, "NSG {name} (associated with {at})");
        table_text(&mut out, "Inbound", &t.inbound);
        unresolved_text(&mut out, "Inbound", &t.inbound.unresolved);
        table_text(&mut out, "Outbound", &t.outbound);
        unresolved_text(&mut out, "Outbound", &t.outbound.unresolved);
    }
    out
}
