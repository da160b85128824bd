//! VNets, subnets, peerings, route tables, NSGs, ASGs, NICs, gateways,
//! sites and Private Endpoints.

use std::collections::HashSet;

use super::{arr, canon, deep, flag, ipv4, ipv4_net, strings, text, Ctx, Kind};
use crate::ir::{last_segment, parent_id, prop, ref_id, Resource};
use crate::json::Val;
use crate::report::Status;
use crate::yaml::{M, Y};

const VNET: &str = "microsoft.network/virtualnetworks";
const SUBNET: &str = "microsoft.network/virtualnetworks/subnets";
const PEERING: &str = "microsoft.network/virtualnetworks/virtualnetworkpeerings";

/// Inline items of `key` merged with child resources of `child_type` (by name; children win).
fn merged<'a>(c: &mut Ctx<'a>, r: &'a Resource, key: &str, child_type: &str) -> Vec<&'a Val> {
    let mut items: Vec<&Val> = arr(&r.body, key).iter().collect();
    for i in c.children_of(&r.id, child_type) {
        let child = c.res[i];
        c.mark(i, Status::Imported, format!("part of {}", r.name));
        let pos = items.iter().position(|v| {
            v.key("name")
                .and_then(Val::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(last_segment(&child.name)))
        });
        match pos {
            Some(p) => items[p] = &child.body,
            None => items.push(&child.body),
        }
    }
    items
}

fn item_name(v: &Val) -> String {
    v.key("name")
        .and_then(Val::as_str)
        .map(|n| last_segment(n).to_string())
        .unwrap_or_default()
}

fn item_id<'v>(v: &'v Val, fallback: &'v str) -> &'v str {
    v.key("id").and_then(Val::as_str).unwrap_or(fallback)
}

pub(crate) fn vnets(c: &mut Ctx) {
    let mut stubs = HashSet::new();
    for i in c.of_type(VNET) {
        let r = c.res[i];
        let name = c.names[&(Kind::Vnet, r.id.to_ascii_lowercase())].clone();
        let space = prefixes(c, r, deep(&r.body, &["addressSpace", "addressPrefixes"]));
        let mut subnets = Vec::new();
        for s in merged(c, r, "subnets", SUBNET) {
            if let Some(y) = subnet(c, r, s) {
                subnets.push(y);
            }
        }
        subnets.sort_by_key(|(n, _)| n.clone());
        let y = M::new()
            .put("name", Y::s(&name))
            .put("origin", c.origin(r))
            .put("addressSpace", Y::strs(space))
            .put(
                "subnets",
                Y::Seq(subnets.into_iter().map(|x| x.1).collect()),
            )
            .y();
        c.emit("vnets", name.clone(), y);
        c.mark(i, Status::Imported, format!("vnet {name}"));
        for p in merged(c, r, "virtualNetworkPeerings", PEERING) {
            peering(c, r, &name, p, &mut stubs);
        }
    }
}

/// IPv4 prefixes of a list; IPv6 ones are reported.
fn prefixes(c: &mut Ctx, r: &Resource, v: Option<&Val>) -> Vec<String> {
    let mut out = Vec::new();
    for s in strings(v) {
        match ipv4_net(&s) {
            Some(n) => out.push(n.to_string()),
            None if s.contains(':') => c.unsupported(
                &r.type_name,
                &r.id,
                format!("IPv6 prefix {s}: IPv6 traffic is not modelled"),
            ),
            None => c.error(
                v.map(|v| v.pos).unwrap_or(r.pos),
                format!("invalid address prefix '{s}' in {}", r.id),
            ),
        }
    }
    out
}

fn subnet(c: &mut Ctx, r: &Resource, s: &Val) -> Option<(String, Y)> {
    let name = item_name(s);
    let id = item_id(s, &r.id).to_string();
    let mut list = strings(prop(s, "addressPrefix"));
    list.extend(strings(prop(s, "addressPrefixes")));
    for v6 in list.iter().filter(|p| p.contains(':')) {
        let t = "Microsoft.Network/virtualNetworks/subnets";
        c.unsupported(
            t,
            &id,
            format!("IPv6 prefix {v6}: IPv6 traffic is not modelled"),
        );
    }
    let v4: Vec<String> = list
        .iter()
        .filter_map(|p| ipv4_net(p))
        .map(|n| n.to_string())
        .collect();
    let Some(first) = v4.first().cloned() else {
        c.error(
            s.pos,
            format!("subnet '{name}' of {} has no IPv4 addressPrefix", r.name),
        );
        return None;
    };
    if v4.len() > 1 {
        c.unsupported(
            "Microsoft.Network/virtualNetworks/subnets",
            &id,
            format!(
                "subnet has several prefixes ({}); only {first} is imported",
                v4.join(", ")
            ),
        );
    }
    let nat = nat_gateway(c, s, &id);
    let nsg = prop(s, "networkSecurityGroup")
        .and_then(|v| c.name_ref(Kind::Nsg, v, "network security group"));
    let rt = prop(s, "routeTable").and_then(|v| c.name_ref(Kind::RouteTable, v, "route table"));
    let pol = text(s, "privateEndpointNetworkPolicies").and_then(|p| {
        canon(
            p,
            &[
                "Disabled",
                "Enabled",
                "NetworkSecurityGroupEnabled",
                "RouteTableEnabled",
            ],
        )
    });
    // Disabled is the default: written only when it is not.
    let pol = pol.filter(|p| *p != "Disabled");
    let y = M::new()
        .put("name", Y::s(&name))
        .put("addressPrefix", Y::s(first))
        .opt("nsg", nsg.map(Y::s))
        .opt("routeTable", rt.map(Y::s))
        .opt("privateEndpointNetworkPolicies", pol.map(Y::s))
        .opt("natGateway", nat.map(Y::s))
        .opt("serviceEndpoints", service_endpoints(c, s, &id))
        .y();
    Some((name, y))
}

/// The subnet's NAT gateway: its `natGateway` reference, else a gateway whose `subnets` lists
/// it. A gateway in the sources that was not imported (a bare listing, no address) is reported
/// there; one outside the sources is a located error.
fn nat_gateway(c: &mut Ctx, s: &Val, id: &str) -> Option<String> {
    let Some(v) = prop(s, "natGateway") else {
        return c.nat_served.get(&id.to_ascii_lowercase()).cloned();
    };
    let ng = ref_id(v)?;
    if let Some(n) = c.names.get(&(Kind::NatGateway, ng.to_ascii_lowercase())) {
        return Some(n.clone());
    }
    match c.get(ng) {
        None => c.missing(v.pos, ng, "NAT gateway"),
        Some(_) => c.unsupported(
            "Microsoft.Network/virtualNetworks/subnets",
            id,
            format!("NAT gateway {ng} (not imported, see its entry) is this subnet's outbound source to the Internet"),
        ),
    }
    None
}

/// A subnet's service endpoints: `{service, locations}` each; a service vnetsim has no tag for
/// is reported, not imported.
fn service_endpoints(c: &mut Ctx, s: &Val, id: &str) -> Option<Y> {
    let eps: Vec<Y> = arr(s, "serviceEndpoints")
        .iter()
        .filter_map(|e| {
            let service = text(e, "service")?;
            if vnetsim_model::service_tags::endpoint_tag(service).is_none() {
                c.unsupported(
                    "Microsoft.Network/virtualNetworks/subnets",
                    id,
                    format!("service endpoint {service}: no service tag is known for it, so its routes are not modelled"),
                );
                return None;
            }
            let locations = strings(e.key("locations"));
            Some(
                M::new()
                    .put("service", Y::s(service))
                    .opt("locations", (!locations.is_empty()).then(|| Y::strs(locations)))
                    .y(),
            )
        })
        .collect();
    (!eps.is_empty()).then_some(Y::Seq(eps))
}

fn peering(c: &mut Ctx, r: &Resource, from: &str, p: &Val, stubs: &mut HashSet<String>) {
    let Some(remote) = prop(p, "remoteVirtualNetwork") else {
        c.error(
            p.pos,
            format!(
                "peering '{}' of {} has no remoteVirtualNetwork",
                item_name(p),
                r.name
            ),
        );
        return;
    };
    let Some(rid) = ref_id(remote).map(str::to_string) else {
        return;
    };
    let to = match c.names.get(&(Kind::Vnet, rid.to_ascii_lowercase())) {
        Some(n) => n.clone(),
        None => match stub(c, r, p, &rid, stubs) {
            Some(n) => n,
            None => return,
        },
    };
    let b = |k: &str, d: bool| flag(p, k).unwrap_or(d);
    if b("useRemoteGateways", false) {
        c.gateway_users.push((from.to_string(), to.clone()));
    }
    let y = M::new()
        .put("from", Y::s(from))
        .put("to", Y::s(&to))
        .put(
            "allowVirtualNetworkAccess",
            Y::b(b("allowVirtualNetworkAccess", true)),
        )
        .put(
            "allowForwardedTraffic",
            Y::b(b("allowForwardedTraffic", false)),
        )
        .put("allowGatewayTransit", Y::b(b("allowGatewayTransit", false)))
        .put("useRemoteGateways", Y::b(b("useRemoteGateways", false)))
        .put("origin", c.origin_as(r, item_id(p, &r.id)))
        .y();
    c.emit("peerings", format!("{from}\u{0}{to}"), y);
}

/// A VNet outside the sources, built from the peering's `remoteAddressSpace`.
fn stub(
    c: &mut Ctx,
    r: &Resource,
    p: &Val,
    rid: &str,
    stubs: &mut HashSet<String>,
) -> Option<String> {
    let space = deep(p, &["remoteAddressSpace", "addressPrefixes"])
        .or_else(|| deep(p, &["remoteVirtualNetworkAddressSpace", "addressPrefixes"]));
    let prefixes: Vec<String> = strings(space)
        .iter()
        .filter_map(|s| ipv4_net(s))
        .map(|n| n.to_string())
        .collect();
    if prefixes.is_empty() {
        c.missing(p.pos, rid, "virtual network");
        return None;
    }
    let name = super::sanitize(last_segment(rid));
    let name = if c.names.values().any(|n| n == &name) {
        format!("stub:{name}")
    } else {
        name
    };
    c.names
        .insert((Kind::Vnet, rid.to_ascii_lowercase()), name.clone());
    if stubs.insert(name.clone()) {
        let (sub, rg) = crate::ir::scope_of(rid);
        let origin = M::new()
            .put(
                "source",
                Y::s(format!(
                    "stub built from remoteAddressSpace of peering {}",
                    item_id(p, &r.id)
                )),
            )
            .opt("subscription", sub.map(Y::s))
            .opt("resourceGroup", rg.map(Y::s))
            .y();
        let y = M::new()
            .put("name", Y::s(&name))
            .put("origin", origin)
            .put("addressSpace", Y::strs(prefixes))
            .y();
        c.emit("vnets", name.clone(), y);
        c.report.note(format!(
            "vnet '{name}' ({rid}) is outside the sources: a stub with its remoteAddressSpace and no subnets"
        ));
        let connected =
            text(p, "peeringState").is_some_and(|s| s.eq_ignore_ascii_case("connected"));
        if connected {
            let from = c.names[&(Kind::Vnet, r.id.to_ascii_lowercase())].clone();
            let y = M::new()
                .put("from", Y::s(&name))
                .put("to", Y::s(&from))
                .put("allowForwardedTraffic", Y::b(true))
                .put(
                    "origin",
                    M::new()
                        .put(
                            "source",
                            Y::s(format!(
                                "assumed: the remote side of peering {} (peeringState Connected)",
                                item_id(p, &r.id)
                            )),
                        )
                        .y(),
                )
                .y();
            c.emit("peerings", format!("{name}\u{0}{from}"), y);
        }
    }
    Some(name)
}

pub(crate) fn route_tables(c: &mut Ctx) {
    for i in c.of_type("microsoft.network/routetables") {
        let r = c.res[i];
        let name = c.names[&(Kind::RouteTable, r.id.to_ascii_lowercase())].clone();
        let mut routes = Vec::new();
        for rt in merged(c, r, "routes", "microsoft.network/routetables/routes") {
            if let Some(y) = route(c, r, rt) {
                routes.push(y);
            }
        }
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        let y = M::new()
            .put("name", Y::s(&name))
            .put("origin", c.origin(r))
            .put(
                "disableBgpRoutePropagation",
                Y::b(flag(&r.body, "disableBgpRoutePropagation").unwrap_or(false)),
            )
            .put("routes", Y::Seq(routes.into_iter().map(|x| x.1).collect()))
            .y();
        c.emit("routeTables", name.clone(), y);
        c.mark(i, Status::Imported, format!("route table {name}"));
    }
}

const NEXT_HOPS: &[&str] = &[
    "VirtualAppliance",
    "VirtualNetworkGateway",
    "VnetLocal",
    "Internet",
    "None",
];

fn route(c: &mut Ctx, r: &Resource, rt: &Val) -> Option<(String, Y)> {
    let name = item_name(rt);
    let prefix = text(rt, "addressPrefix").unwrap_or("").trim().to_string();
    if prefix.contains(':') {
        c.unsupported(
            &r.type_name,
            &r.id,
            format!("route {name} for IPv6 prefix {prefix} is not modelled"),
        );
        return None;
    }
    let prefix = match ipv4_net(&prefix) {
        Some(n) => n.to_string(),
        None if !prefix.is_empty() && !prefix.starts_with(|c: char| c.is_ascii_digit()) => prefix,
        None => {
            c.error(
                rt.pos,
                format!(
                    "route '{name}' of {} has an invalid addressPrefix '{prefix}'",
                    r.name
                ),
            );
            return None;
        }
    };
    let nh = text(rt, "nextHopType").unwrap_or("");
    let Some(nh) = canon(nh, NEXT_HOPS) else {
        let what = format!(
            "route {name}: nextHopType '{nh}' is not modelled (only {}); the route is not imported",
            NEXT_HOPS.join(", ")
        );
        c.unsupported(&r.type_name, &r.id, what);
        return None;
    };
    let ip = (nh == "VirtualAppliance")
        .then(|| ipv4(prop(rt, "nextHopIpAddress")))
        .flatten();
    let y = M::new()
        .put("name", Y::s(&name))
        .put("addressPrefix", Y::s(prefix))
        .put("nextHopType", Y::s(nh))
        .opt("nextHopIpAddress", ip.map(|a| Y::s(a.to_string())))
        .y();
    Some((name, y))
}

pub(crate) fn nsgs(c: &mut Ctx) {
    for i in c.of_type("microsoft.network/networksecuritygroups") {
        let r = c.res[i];
        let name = c.names[&(Kind::Nsg, r.id.to_ascii_lowercase())].clone();
        let mut rules = Vec::new();
        for s in merged(
            c,
            r,
            "securityRules",
            "microsoft.network/networksecuritygroups/securityrules",
        ) {
            if let Some(y) = security_rule(c, r, s) {
                rules.push(y);
            }
        }
        rules.sort_by(|a, b| a.0.cmp(&b.0));
        let y = M::new()
            .put("name", Y::s(&name))
            .put("origin", c.origin(r))
            .put("rules", Y::Seq(rules.into_iter().map(|x| x.1).collect()))
            .y();
        c.emit("nsgs", name.clone(), y);
        c.mark(i, Status::Imported, format!("nsg {name}"));
    }
}

/// One NSG address side as the import can write it.
pub(crate) enum Side {
    /// Prefixes, tags and ASGs.
    Known(Vec<String>),
    /// A part vnetsim has no addresses for (the reason): the side is written unresolved.
    Unresolved(String),
    /// IPv6 prefixes only: no IPv4 packet matches the rule.
    Ipv6Only,
}

/// One NSG address side: prefixes, tags and ASGs.
fn nsg_side(c: &mut Ctx, s: &Val, side: &str) -> Side {
    let mut out = Vec::new();
    let mut raw = strings(prop(s, &format!("{side}AddressPrefix")));
    raw.extend(strings(prop(s, &format!("{side}AddressPrefixes"))));
    for a in raw {
        let a = a.trim();
        if a == "*" || a.eq_ignore_ascii_case("any") {
            out.push("*".to_string());
        } else if let Some(n) = ipv4_net(a) {
            out.push(n.to_string());
        } else if let Some(t) = canon(a, &["VirtualNetwork", "AzureLoadBalancer", "Internet"]) {
            out.push(t.to_string());
        } else if a.contains(':') {
            continue;
        } else {
            match super::service_tag(c, a) {
                Ok(t) => out.push(t),
                Err(e) => return Side::Unresolved(e),
            }
        }
    }
    for g in arr(s, &format!("{side}ApplicationSecurityGroups")) {
        if let Some(n) = c.name_ref(Kind::Asg, g, "application security group") {
            out.push(format!("asg:{n}"));
        }
    }
    if out.is_empty() {
        return Side::Ipv6Only;
    }
    Side::Known(out)
}

/// The written form of a rule's two address sides: each known one as a list, the others
/// under `unresolved:` (the third value; each reported as kept unresolved). `None` when a side
/// is IPv6 only (the rule is reported and left out: it matches no IPv4 packet).
pub(crate) fn written_sides(
    c: &mut Ctx,
    sides: [(&str, Side); 2],
    (type_name, id, rule): (&str, &str, &str),
) -> Option<([Option<Y>; 2], Option<Y>)> {
    let mut known = [None, None];
    let mut unresolved = M::new();
    let mut any = false;
    for (slot, (key, side)) in known.iter_mut().zip(sides) {
        match side {
            Side::Known(v) => *slot = Some(Y::strs(v)),
            Side::Unresolved(why) => {
                c.report
                    .note(format!("{rule} kept with its {key} unresolved: {why}"));
                unresolved = unresolved.put(key, Y::s(why));
                any = true;
            }
            Side::Ipv6Only => {
                let what = format!("{rule} not imported: {key} is IPv6 only");
                c.unsupported(type_name, id, what);
                return None;
            }
        }
    }
    Some((known, any.then(|| unresolved.y())))
}

fn ports(s: &Val, side: &str) -> Vec<String> {
    let mut p = strings(prop(s, &format!("{side}PortRange")));
    p.extend(strings(prop(s, &format!("{side}PortRanges"))));
    if p.is_empty() {
        p.push("*".into());
    }
    p
}

fn security_rule(c: &mut Ctx, r: &Resource, s: &Val) -> Option<(String, Y)> {
    let name = item_name(s);
    let id = item_id(s, &r.id).to_string();
    let (src, dst) = (nsg_side(c, s, "source"), nsg_side(c, s, "destination"));
    let dir = canon(text(s, "direction").unwrap_or(""), &["Inbound", "Outbound"]);
    let access = canon(text(s, "access").unwrap_or(""), &["Allow", "Deny"]);
    let proto = text(s, "protocol").unwrap_or("*");
    let proto = if proto.eq_ignore_ascii_case("any") {
        "*"
    } else {
        proto
    };
    let proto = canon(proto, &["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"]);
    let prio = prop(s, "priority").and_then(Val::as_i64);
    let (Some(dir), Some(access), Some(proto), Some(prio)) = (dir, access, proto, prio) else {
        c.error(s.pos, format!("security rule '{name}' of {} lacks a valid direction, access, protocol or priority", r.name));
        return None;
    };
    let what = (
        "Microsoft.Network/networkSecurityGroups/securityRules",
        id.as_str(),
        &*format!("rule {name} of NSG {}", r.name),
    );
    let ([src, dst], unresolved) = written_sides(c, [("source", src), ("destination", dst)], what)?;
    let y = M::new()
        .put("name", Y::s(&name))
        .put("priority", Y::n(prio))
        .put("direction", Y::s(dir))
        .put("access", Y::s(access))
        .put("protocol", Y::s(proto))
        .opt("source", src)
        .put("sourcePorts", Y::strs(ports(s, "source")))
        .opt("destination", dst)
        .put("destinationPorts", Y::strs(ports(s, "destination")))
        .opt("unresolved", unresolved)
        .y();
    Some((format!("{dir}{prio:06}"), y))
}

pub(crate) fn asgs(c: &mut Ctx) {
    for i in c.of_type("microsoft.network/applicationsecuritygroups") {
        let r = c.res[i];
        let name = c.names[&(Kind::Asg, r.id.to_ascii_lowercase())].clone();
        c.emit("applicationSecurityGroups", name.clone(), Y::s(&name));
        c.mark(
            i,
            Status::Imported,
            format!("application security group {name}"),
        );
    }
}

/// NICs owned by a Private Endpoint (their address is the endpoint's).
fn pe_nics(c: &Ctx) -> HashSet<String> {
    let mut out = HashSet::new();
    for i in c.of_type("microsoft.network/privateendpoints") {
        for n in arr(&c.res[i].body, "networkInterfaces") {
            if let Some(id) = ref_id(n) {
                out.insert(id.to_ascii_lowercase());
            }
        }
    }
    for i in c.of_type("microsoft.network/networkinterfaces") {
        if prop(&c.res[i].body, "privateEndpoint").is_some() {
            out.insert(c.res[i].id.to_ascii_lowercase());
        }
    }
    out
}

/// The primary IP configuration of a NIC.
pub(crate) fn primary_ip_config(v: &Val) -> Option<&Val> {
    let cfgs = arr(v, "ipConfigurations");
    cfgs.iter()
        .find(|x| flag(x, "primary") == Some(true))
        .or_else(|| cfgs.first())
}

/// The address of a public IP resource referenced by `v`.
pub(crate) fn public_ip(c: &mut Ctx, v: Option<&Val>, user: &str) -> Option<String> {
    let id = ref_id(v?)?;
    let Some(i) = c.get(id) else {
        c.report.note(format!("public IP {id} of {user} is not in the sources (add `az network public-ip list`); its address is omitted"));
        return None;
    };
    c.mark(i, Status::Imported, format!("public address of {user}"));
    ipv4(prop(&c.res[i].body, "ipAddress")).map(|a| a.to_string())
}

pub(crate) fn nics(c: &mut Ctx) {
    let owned = pe_nics(c);
    for i in c.of_type("microsoft.network/networkinterfaces") {
        let r = c.res[i];
        if owned.contains(&r.id.to_ascii_lowercase()) {
            continue;
        }
        let name = c.names[&(Kind::Nic, r.id.to_ascii_lowercase())].clone();
        let Some(cfg) = primary_ip_config(&r.body) else {
            c.mark(i, Status::Skipped, "no IP configuration");
            continue;
        };
        let set = set_address(c, &r.name).and_then(|a| a.parse().ok());
        let Some(ip) = set.or_else(|| ipv4(prop(cfg, "privateIPAddress"))) else {
            c.error(
                cfg.pos,
                format!(
                    "refused: NIC '{}' has no private IPv4 address (a dynamic address is assigned by Azure \
                     at deploy time); supply it with --set {}.privateIpAddress=VALUE",
                    r.name, r.name
                ),
            );
            continue;
        };
        let Some(subnet) = prop(cfg, "subnet").and_then(|s| c.subnet_ref(s)) else {
            continue;
        };
        if arr(&r.body, "ipConfigurations").len() > 1 {
            c.unsupported(&r.type_name, &r.id, "secondary IP configurations are not modelled; only the primary address is imported");
        }
        let pip = public_ip(c, prop(cfg, "publicIPAddress"), &format!("NIC {name}"));
        let nsg = prop(&r.body, "networkSecurityGroup")
            .and_then(|v| c.name_ref(Kind::Nsg, v, "network security group"));
        let mut asgs = Vec::new();
        for g in arr(cfg, "applicationSecurityGroups") {
            asgs.extend(c.name_ref(Kind::Asg, g, "application security group"));
        }
        let fwd = flag(&r.body, "enableIPForwarding").unwrap_or(false);
        // Deployed NICs carry their MAC (`00-22-48-…`), which flow logs name them by.
        let mac = text(&r.body, "macAddress").filter(|m| !m.trim().is_empty());
        let y = M::new()
            .put("name", Y::s(&name))
            .put("origin", c.origin(r))
            .put("subnet", Y::s(subnet))
            .put("privateIpAddress", Y::s(ip.to_string()))
            .opt("publicIpAddress", pip.map(Y::s))
            .opt("nsg", nsg.map(Y::s))
            .put("applicationSecurityGroups", Y::strs(asgs))
            .put("enableIpForwarding", Y::b(fwd))
            .opt("macAddress", mac.map(Y::s))
            .y();
        c.emit("nics", name.clone(), y);
        c.mark(i, Status::Imported, format!("nic {name}"));
    }
}

pub(crate) fn sites_and_gateways(c: &mut Ctx) {
    let mut bgp_sites = HashSet::new();
    let mut links: Vec<(String, String)> = Vec::new();
    for i in c.of_type("microsoft.network/connections") {
        connection(c, i, &mut links, &mut bgp_sites);
    }
    for i in c.of_type("microsoft.network/localnetworkgateways") {
        site(c, i, &bgp_sites);
    }
    for i in c.of_type("microsoft.network/virtualnetworkgateways") {
        gateway(c, i, &links);
    }
}

fn connection(c: &mut Ctx, i: usize, links: &mut Vec<(String, String)>, bgp: &mut HashSet<String>) {
    let r = c.res[i];
    let ty = text(&r.body, "connectionType").unwrap_or("IPsec");
    let gw = prop(&r.body, "virtualNetworkGateway1")
        .and_then(ref_id)
        .map(str::to_string);
    let lgw = prop(&r.body, "localNetworkGateway2")
        .and_then(ref_id)
        .map(str::to_string);
    if ty.eq_ignore_ascii_case("expressroute") {
        return super::express_route::connection(c, i, gw);
    }
    let (Some(gw), Some(lgw), true) = (gw, lgw, ty.eq_ignore_ascii_case("ipsec")) else {
        c.mark(
            i,
            Status::Unsupported,
            format!("{ty} connection: routes and traffic between its ends are not modelled"),
        );
        return;
    };
    if c.get(&lgw).is_none() {
        let pos = prop(&r.body, "localNetworkGateway2")
            .map(|v| v.pos)
            .unwrap_or(r.pos);
        c.missing(pos, &lgw, "local network gateway");
        return;
    }
    if flag(&r.body, "enableBgp") == Some(true) {
        bgp.insert(lgw.to_ascii_lowercase());
    }
    links.push((gw.to_ascii_lowercase(), lgw.to_ascii_lowercase()));
    c.mark(
        i,
        Status::Imported,
        format!(
            "connection of gateway {} to site {}",
            last_segment(&gw),
            last_segment(&lgw)
        ),
    );
}

fn site(c: &mut Ctx, i: usize, bgp_sites: &HashSet<String>) {
    let r = c.res[i];
    let name = c.names[&(Kind::Site, r.id.to_ascii_lowercase())].clone();
    let mut pfx = prefixes(
        c,
        r,
        deep(&r.body, &["localNetworkAddressSpace", "addressPrefixes"]),
    );
    let asn = deep(&r.body, &["bgpSettings", "asn"]).and_then(Val::as_i64);
    let bgp = asn.filter(|_| bgp_sites.contains(&r.id.to_ascii_lowercase()));
    if pfx.is_empty() {
        if let Some(a) = ipv4(deep(&r.body, &["bgpSettings", "bgpPeeringAddress"])) {
            pfx.push(format!("{a}/32"));
        }
    }
    if bgp.is_some() {
        c.report.note(format!(
            "site '{name}': the prefixes it advertises over BGP are not in the export; assumed to be its addressPrefixes \
             (export `az network vnet-gateway list-learned-routes` to know them)"
        ));
    }
    let y = M::new()
        .put("name", Y::s(&name))
        .put("origin", c.origin(r))
        .put("addressPrefixes", Y::strs(pfx))
        .opt("bgp", bgp.map(|a| M::new().put("asn", Y::n(a)).y()))
        .y();
    c.emit("sites", name.clone(), y);
    c.mark(i, Status::Imported, format!("site {name}"));
}

fn gateway(c: &mut Ctx, i: usize, links: &[(String, String)]) {
    let r = c.res[i];
    let name = c.names[&(Kind::Gateway, r.id.to_ascii_lowercase())].clone();
    let Some(subnet) = arr(&r.body, "ipConfigurations")
        .first()
        .and_then(|x| prop(x, "subnet"))
        .and_then(ref_id)
    else {
        c.error(
            r.pos,
            format!("gateway {} has no ipConfigurations[].subnet", r.id),
        );
        return;
    };
    let Some(vnet_id) = parent_id(subnet).map(str::to_string) else {
        return;
    };
    let Some(vnet) = c
        .names
        .get(&(Kind::Vnet, vnet_id.to_ascii_lowercase()))
        .cloned()
    else {
        c.missing(r.pos, &vnet_id, "virtual network");
        return;
    };
    let ty = canon(
        text(&r.body, "gatewayType").unwrap_or("Vpn"),
        &["Vpn", "ExpressRoute"],
    );
    let Some(ty) = ty else {
        c.mark(
            i,
            Status::Unsupported,
            "gateway type not modelled (only Vpn and ExpressRoute)",
        );
        return;
    };
    let asn = deep(&r.body, &["bgpSettings", "asn"]).and_then(Val::as_i64);
    let bgp = (flag(&r.body, "enableBgp") == Some(true))
        .then(|| M::new().put("asn", Y::n(asn.unwrap_or(65515))).y());
    let me = r.id.to_ascii_lowercase();
    let mut conns: Vec<String> = links
        .iter()
        .filter(|(g, _)| *g == me)
        .filter_map(|(_, l)| c.names.get(&(Kind::Site, l.clone())).cloned())
        .collect();
    conns.sort();
    let mut circuits: Vec<String> = c
        .circuit_links
        .iter()
        .filter(|(g, k)| *g == me && c.circuit_peering.contains_key(k))
        .filter_map(|(_, k)| c.names.get(&(Kind::Circuit, k.clone())).cloned())
        .collect();
    circuits.sort();
    if flag(&r.body, "activeActive") == Some(true) {
        c.report.note(format!(
            "gateway '{name}' is active-active; vnetsim models one instance"
        ));
    }
    let y = M::new()
        .put("name", Y::s(&name))
        .put("origin", c.origin(r))
        .put("vnet", Y::s(vnet))
        .put("type", Y::s(ty))
        .opt("bgp", bgp)
        .put(
            "connections",
            Y::Seq(
                conns
                    .into_iter()
                    .map(|s| M::new().put("site", Y::s(s)).y())
                    .chain(
                        circuits
                            .into_iter()
                            .map(|k| M::new().put("expressRouteCircuit", Y::s(k)).y()),
                    )
                    .collect(),
            ),
        )
        .y();
    c.emit("gateways", name.clone(), y);
    c.mark(i, Status::Imported, format!("gateway {name}"));
}

pub(crate) fn private_endpoints(c: &mut Ctx) {
    let mut services: Vec<(String, String)> = Vec::new();
    for i in c.of_type("microsoft.network/privateendpoints") {
        private_endpoint(c, i, &mut services);
    }
}

/// `--set NAME.privateIpAddress=VALUE` for an object named `name`.
pub(crate) fn set_address(c: &Ctx, name: &str) -> Option<String> {
    super::set_value(c, name, "privateIpAddress")
}

/// The endpoint's address: `--set`, static IP configuration, else its NIC, else its DNS configs.
fn pe_address(c: &mut Ctx, r: &Resource) -> Option<String> {
    if let Some(a) = set_address(c, &r.name) {
        return Some(a);
    }
    let from_cfg = arr(&r.body, "ipConfigurations")
        .iter()
        .find_map(|x| ipv4(prop(x, "privateIPAddress")));
    if let Some(a) = from_cfg {
        return Some(a.to_string());
    }
    let nic = arr(&r.body, "networkInterfaces").first();
    if let Some(nic) = nic {
        let nid = ref_id(nic).unwrap_or("").to_string();
        if let Some(ni) = c.get(&nid) {
            c.mark(
                ni,
                Status::Imported,
                format!("address of private endpoint {}", r.name),
            );
            let body = &c.res[ni].body;
            if let Some(a) = primary_ip_config(body).and_then(|x| ipv4(prop(x, "privateIPAddress")))
            {
                return Some(a.to_string());
            }
        }
        let dns = arr(&r.body, "customDnsConfigs")
            .iter()
            .find_map(|d| strings(prop(d, "ipAddresses")).first().cloned());
        if dns.is_some() {
            return dns;
        }
        c.missing(nic.pos, &nid, "network interface");
        return None;
    }
    c.error(
        r.pos,
        format!(
            "refused: private endpoint '{}' gets its address from Azure at deploy time (no ipConfigurations, \
             networkInterfaces or customDnsConfigs); supply it with --set {}.privateIpAddress=VALUE",
            r.name, r.name
        ),
    );
    None
}

fn private_endpoint(c: &mut Ctx, i: usize, services: &mut Vec<(String, String)>) {
    let r = c.res[i];
    let name = c.names[&(Kind::PrivateEndpoint, r.id.to_ascii_lowercase())].clone();
    let Some(subnet) = prop(&r.body, "subnet").and_then(|s| c.subnet_ref(s)) else {
        if prop(&r.body, "subnet").is_none() {
            c.error(r.pos, format!("private endpoint {} has no subnet", r.id));
        }
        return;
    };
    let Some(ip) = pe_address(c, r) else { return };
    let conn = arr(&r.body, "privateLinkServiceConnections")
        .first()
        .or_else(|| arr(&r.body, "manualPrivateLinkServiceConnections").first());
    let target = conn
        .and_then(|x| text(x, "privateLinkServiceId"))
        .unwrap_or(&r.id)
        .to_string();
    let group = conn
        .map(|x| strings(prop(x, "groupIds")))
        .unwrap_or_default();
    let svc = service(c, r, &target, &group, services);
    let y = M::new()
        .put("name", Y::s(&name))
        .put("origin", c.origin(r))
        .put("subnet", Y::s(subnet))
        .put("privateIpAddress", Y::s(ip))
        .put("service", Y::s(svc))
        .y();
    c.emit("privateEndpoints", name.clone(), y);
    c.mark(i, Status::Imported, format!("private endpoint {name}"));
}

/// The service a Private Endpoint points at (emitted once per target).
fn service(
    c: &mut Ctx,
    pe: &Resource,
    target: &str,
    group: &[String],
    seen: &mut Vec<(String, String)>,
) -> String {
    let key = target.to_ascii_lowercase();
    if let Some((_, n)) = seen.iter().find(|(k, _)| *k == key) {
        return n.clone();
    }
    let base = super::sanitize(last_segment(target));
    let name = if seen.iter().any(|(_, n)| *n == base) {
        format!("{base}-{}", seen.len())
    } else {
        base
    };
    seen.push((key, name.clone()));
    let parts: Vec<&str> = target.split('/').collect();
    let ty = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("providers"))
        .and_then(|i| parts.get(i + 2))
        .copied()
        .unwrap_or("service");
    let kind = match group.first() {
        Some(g) => format!("{ty}/{g}"),
        None => ty.to_string(),
    };
    let fqdn = arr(&pe.body, "customDnsConfigs")
        .first()
        .and_then(|d| text(d, "fqdn"))
        .map(str::to_string);
    let mut pna = None;
    if let Some(ti) = c.get(target) {
        pna = text(&c.res[ti].body, "publicNetworkAccess")
            .and_then(|p| canon(p, &["Enabled", "Disabled"]));
        c.mark(
            ti,
            Status::Imported,
            format!("service {name} (target of private endpoint {})", pe.name),
        );
    }
    let y = M::new()
        .put("name", Y::s(&name))
        .put("origin", c.origin_as(pe, target))
        .put("kind", Y::s(kind))
        .opt("fqdn", fqdn.map(Y::s))
        .opt("publicNetworkAccess", pna.map(Y::s))
        .y();
    c.emit("services", name.clone(), y);
    name
}
