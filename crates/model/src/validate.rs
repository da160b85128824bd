//! Whole-file validation: every problem at once, each located.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::diag::Diagnostics;
use crate::node::Loc;
use crate::types::*;

pub const GATEWAY_SUBNET: &str = "GatewaySubnet";
pub const FIREWALL_SUBNET: &str = "AzureFirewallSubnet";

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Whether `ip` is one Azure keeps in `subnet` (R1.1): the first four and the last.
pub fn is_reserved(subnet: &Ipv4Net, ip: Ipv4Addr) -> bool {
    let base = u32::from(subnet.network());
    let last = u32::from(subnet.broadcast());
    let v = u32::from(ip);
    v < base + 4 || v == last
}

fn list(names: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = names.collect();
    if v.is_empty() {
        "none are defined".to_string()
    } else if v.len() > 12 {
        format!("defined: {}, ... ({} in all)", v[..12].join(", "), v.len())
    } else {
        format!("defined: {}", v.join(", "))
    }
}

fn unique<'a>(
    d: &mut Diagnostics,
    kind: &str,
    names: impl Iterator<Item = &'a Sp<String>>,
) -> HashMap<&'a str, usize> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut first: HashMap<&str, Loc> = HashMap::new();
    for (i, n) in names.enumerate() {
        if let Some(l) = first.get(n.value.as_str()) {
            d.error(
                n.loc,
                format!(
                    "duplicate {kind} name '{}' (first defined at line {})",
                    n.value, l.line
                ),
            );
        } else {
            first.insert(&n.value, n.loc);
            seen.insert(&n.value, i);
        }
    }
    seen
}

/// Checks a topology; appends every problem to `d`.
pub fn validate(t: &Topology, d: &mut Diagnostics) {
    let sites = unique(d, "site", t.sites.iter().map(|s| &s.name));
    let vnets = unique(d, "vnet", t.vnets.iter().map(|v| &v.name));
    let rts = unique(d, "route table", t.route_tables.iter().map(|r| &r.name));
    let asgs = unique(
        d,
        "application security group",
        t.application_security_groups.iter(),
    );
    let nsgs = unique(d, "NSG", t.nsgs.iter().map(|n| &n.name));
    unique(d, "NIC", t.nics.iter().map(|n| &n.name));
    unique(d, "gateway", t.gateways.iter().map(|n| &n.name));
    unique(d, "firewall", t.firewalls.iter().map(|n| &n.name));
    let services = unique(d, "service", t.services.iter().map(|n| &n.name));
    unique(
        d,
        "private endpoint",
        t.private_endpoints.iter().map(|n| &n.name),
    );

    // Subnets by "VNET/SUBNET".
    let mut subnets: HashMap<String, (usize, usize)> = HashMap::new();
    for (vi, v) in t.vnets.iter().enumerate() {
        unique(
            d,
            &format!("subnet (in vnet '{}')", v.name.value),
            v.subnets.iter().map(|s| &s.name),
        );
        if v.address_space.is_empty() {
            d.error(
                v.name.loc,
                format!("vnet '{}' has an empty addressSpace", v.name.value),
            );
        }
        for (i, a) in v.address_space.iter().enumerate() {
            for b in &v.address_space[..i] {
                if overlaps(&a.value, &b.value) {
                    d.error(
                        a.loc,
                        format!(
                            "address space {} of vnet '{}' overlaps {}",
                            a.value, v.name.value, b.value
                        ),
                    );
                }
            }
        }
        for (si, s) in v.subnets.iter().enumerate() {
            subnets
                .entry(format!("{}/{}", v.name.value, s.name.value))
                .or_insert((vi, si));
            let p = s.address_prefix.value;
            if !v.address_space.iter().any(|a| a.value.contains(&p)) {
                let space: Vec<String> = v
                    .address_space
                    .iter()
                    .map(|a| a.value.to_string())
                    .collect();
                d.error(
                    s.address_prefix.loc,
                    format!(
                        "subnet '{}' prefix {p} is outside the address space of vnet '{}' ({})",
                        s.name.value,
                        v.name.value,
                        space.join(", ")
                    ),
                );
            }
            if p.prefix_len() > 29 {
                d.error(
                    s.address_prefix.loc,
                    format!("subnet prefix {p} is smaller than Azure's smallest subnet, /29"),
                );
            }
            for o in &v.subnets[..si] {
                if overlaps(&p, &o.address_prefix.value) {
                    d.error(
                        s.address_prefix.loc,
                        format!(
                            "subnet '{}' ({p}) overlaps subnet '{}' ({})",
                            s.name.value, o.name.value, o.address_prefix.value
                        ),
                    );
                }
            }
            if let Some(n) = &s.nsg {
                if !nsgs.contains_key(n.value.as_str()) {
                    d.error(
                        n.loc,
                        format!(
                            "unknown NSG '{}' ({})",
                            n.value,
                            list(t.nsgs.iter().map(|x| x.name.value.clone()))
                        ),
                    );
                }
                if s.name.value == GATEWAY_SUBNET {
                    d.error(n.loc, "an NSG on GatewaySubnet is not supported by Azure (the gateway stops working)");
                }
            }
            if let Some(r) = &s.route_table {
                match rts.get(r.value.as_str()) {
                    None => d.error(
                        r.loc,
                        format!(
                            "unknown route table '{}' ({})",
                            r.value,
                            list(t.route_tables.iter().map(|x| x.name.value.clone()))
                        ),
                    ),
                    Some(&ri) => {
                        if s.name.value == GATEWAY_SUBNET
                            && t.route_tables[ri].disable_bgp_route_propagation
                        {
                            d.error(
                                r.loc,
                                format!(
                                    "route table '{}' disables BGP route propagation and cannot be used on GatewaySubnet",
                                    r.value
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
    let subnet_ref = |d: &mut Diagnostics, r: &Sp<String>| -> Option<(usize, usize)> {
        if !r.value.contains('/') {
            d.error(
                r.loc,
                format!(
                    "expected a subnet reference VNET/SUBNET, found '{}'",
                    r.value
                ),
            );
            return None;
        }
        match subnets.get(&r.value) {
            Some(x) => Some(*x),
            None => {
                d.error(
                    r.loc,
                    format!(
                        "unknown subnet '{}' ({})",
                        r.value,
                        list({
                            let mut k: Vec<String> = subnets.keys().cloned().collect();
                            k.sort();
                            k.into_iter()
                        })
                    ),
                );
                None
            }
        }
    };

    // Peerings.
    let mut pairs: HashMap<(&str, &str), Loc> = HashMap::new();
    let mut remote_gw_users: HashMap<&str, Loc> = HashMap::new();
    for p in &t.peerings {
        let f = vnets.get(p.from.value.as_str()).copied();
        let to = vnets.get(p.to.value.as_str()).copied();
        for (r, x) in [(&p.from, f), (&p.to, to)] {
            if x.is_none() {
                d.error(
                    r.loc,
                    format!(
                        "unknown vnet '{}' ({})",
                        r.value,
                        list(t.vnets.iter().map(|v| v.name.value.clone()))
                    ),
                );
            }
        }
        if p.from.value == p.to.value {
            d.error(p.to.loc, "a vnet cannot be peered with itself");
            continue;
        }
        if let Some(l) = pairs.insert((&p.from.value, &p.to.value), p.loc) {
            d.error(
                p.loc,
                format!(
                    "duplicate peering {} -> {} (first at line {})",
                    p.from.value, p.to.value, l.line
                ),
            );
        }
        if let (Some(a), Some(b)) = (f, to) {
            for x in &t.vnets[a].address_space {
                for y in &t.vnets[b].address_space {
                    if overlaps(&x.value, &y.value) {
                        d.error(
                            p.loc,
                            format!(
                                "peered vnets '{}' and '{}' have overlapping address spaces ({} and {})",
                                p.from.value, p.to.value, x.value, y.value
                            ),
                        );
                    }
                }
            }
        }
        if p.use_remote_gateways {
            if let Some(l) = remote_gw_users.insert(&p.from.value, p.loc) {
                d.error(
                    p.loc,
                    format!(
                        "vnet '{}' already uses remote gateways through the peering at line {}",
                        p.from.value, l.line
                    ),
                );
            }
            if t.gateways.iter().any(|g| g.vnet.value == p.from.value) {
                d.error(
                    p.loc,
                    format!(
                        "vnet '{}' has its own gateway and cannot use remote gateways",
                        p.from.value
                    ),
                );
            }
        }
    }
    for p in &t.peerings {
        if p.from.value == p.to.value {
            continue;
        }
        let back = t
            .peerings
            .iter()
            .find(|q| q.from.value == p.to.value && q.to.value == p.from.value);
        match back {
            None => d.warning(
                p.loc,
                format!(
                    "peering {} -> {} has no peering back from {} to {}: Azure shows it as Initiated and it carries no traffic",
                    p.from.value, p.to.value, p.to.value, p.from.value
                ),
            ),
            Some(q) => {
                if p.use_remote_gateways {
                    let hub_has_gw = t.gateways.iter().any(|g| g.vnet.value == p.to.value);
                    if !q.allow_gateway_transit || !hub_has_gw {
                        d.warning(
                            p.loc,
                            format!(
                                "peering {} -> {} sets useRemoteGateways but {}: no gateway routes reach {}",
                                p.from.value,
                                p.to.value,
                                if !hub_has_gw {
                                    format!("vnet '{}' has no gateway", p.to.value)
                                } else {
                                    format!("the peering back does not set allowGatewayTransit")
                                },
                                p.from.value
                            ),
                        );
                    }
                }
            }
        }
    }

    // Route tables.
    for rt in &t.route_tables {
        unique(
            d,
            &format!("route (in route table '{}')", rt.name.value),
            rt.routes.iter().map(|r| &r.name),
        );
        let mut prefixes: HashMap<&RoutePrefix, Loc> = HashMap::new();
        for r in &rt.routes {
            if let Some(l) = prefixes.insert(&r.address_prefix.value, r.address_prefix.loc) {
                d.error(
                    r.address_prefix.loc,
                    format!(
                        "route table '{}' has two routes for the same prefix (first at line {})",
                        rt.name.value, l.line
                    ),
                );
            }
            match (r.next_hop_type.value, &r.next_hop_ip_address) {
                (NextHopType::VirtualAppliance, None) => d.error(
                    r.next_hop_type.loc,
                    format!("route '{}' has nextHopType VirtualAppliance but no nextHopIpAddress", r.name.value),
                ),
                (NextHopType::VirtualAppliance, Some(_)) => {}
                (other, Some(ip)) => d.error(
                    ip.loc,
                    format!("route '{}' has a nextHopIpAddress, which only nextHopType VirtualAppliance takes (found {:?})", r.name.value, other),
                ),
                _ => {}
            }
            if let RoutePrefix::ServiceTag(tag) = &r.address_prefix.value {
                d.warning(
                    r.address_prefix.loc,
                    format!("route '{}' uses service tag '{tag}' as its prefix; no service-tag address data is bundled, so this route is not installed", r.name.value),
                );
            }
        }
    }

    // NSGs.
    for n in &t.nsgs {
        unique(
            d,
            &format!("security rule (in NSG '{}')", n.name.value),
            n.rules.iter().map(|r| &r.name),
        );
        let mut prios: HashMap<(Direction, u32), Loc> = HashMap::new();
        for r in &n.rules {
            let p = r.priority.value;
            if !(100..=4096).contains(&p) {
                d.error(
                    r.priority.loc,
                    format!(
                        "security rule '{}' priority {p} is outside 100..4096",
                        r.name.value
                    ),
                );
            } else if let Some(l) = prios.insert((r.direction, p), r.priority.loc) {
                d.error(
                    r.priority.loc,
                    format!("security rule '{}' reuses priority {p} for {:?} rules in NSG '{}' (first at line {})", r.name.value, r.direction, n.name.value, l.line),
                );
            }
            for a in r.source.iter().chain(r.destination.iter()) {
                if let AddressSpec::Asg(name) = &a.value {
                    if !asgs.contains_key(name.as_str()) {
                        d.error(
                            a.loc,
                            format!(
                                "unknown application security group '{name}' ({})",
                                list(
                                    t.application_security_groups
                                        .iter()
                                        .map(|x| x.value.clone())
                                )
                            ),
                        );
                    }
                }
            }
            if r.source.is_empty() || r.destination.is_empty() {
                d.error(
                    r.name.loc,
                    format!(
                        "security rule '{}' needs a source and a destination",
                        r.name.value
                    ),
                );
            }
        }
    }

    // Addresses owned by NICs, endpoints and firewalls must be unique per VNet.
    let mut owners: HashMap<(usize, Ipv4Addr), String> = HashMap::new();
    let mut claim = |d: &mut Diagnostics, vnet: usize, ip: &Sp<Ipv4Addr>, who: String| {
        if let Some(prev) = owners.get(&(vnet, ip.value)) {
            d.error(
                ip.loc,
                format!("address {} of {who} is already used by {prev}", ip.value),
            );
        } else {
            owners.insert((vnet, ip.value), who);
        }
    };
    let check_ip = |d: &mut Diagnostics,
                    t: &Topology,
                    (vi, si): (usize, usize),
                    ip: &Sp<Ipv4Addr>,
                    who: &str| {
        let s = &t.vnets[vi].subnets[si];
        let p = s.address_prefix.value;
        if !p.contains(&ip.value) {
            d.error(
                ip.loc,
                format!(
                    "{who} address {} is outside its subnet {}/{} ({p})",
                    ip.value, t.vnets[vi].name.value, s.name.value
                ),
            );
        } else if is_reserved(&p, ip.value) {
            d.error(
                ip.loc,
                format!(
                    "{who} address {} is reserved by Azure in subnet {p} (the first four and the last address; the first usable is {})",
                    ip.value,
                    Ipv4Addr::from(u32::from(p.network()) + 4)
                ),
            );
        }
    };

    let mut asg_vnet: HashMap<&str, (usize, Loc)> = HashMap::new();
    for nic in &t.nics {
        let Some((vi, si)) = subnet_ref(d, &nic.subnet) else {
            continue;
        };
        let sname = &t.vnets[vi].subnets[si].name.value;
        if sname == GATEWAY_SUBNET || sname == FIREWALL_SUBNET {
            d.error(
                nic.subnet.loc,
                format!("NIC '{}' cannot be placed in {sname}", nic.name.value),
            );
        }
        check_ip(
            d,
            t,
            (vi, si),
            &nic.private_ip_address,
            &format!("NIC '{}'", nic.name.value),
        );
        claim(
            d,
            vi,
            &nic.private_ip_address,
            format!("NIC '{}'", nic.name.value),
        );
        if let Some(n) = &nic.nsg {
            if !nsgs.contains_key(n.value.as_str()) {
                d.error(
                    n.loc,
                    format!(
                        "unknown NSG '{}' ({})",
                        n.value,
                        list(t.nsgs.iter().map(|x| x.name.value.clone()))
                    ),
                );
            }
        }
        for a in &nic.application_security_groups {
            if !asgs.contains_key(a.value.as_str()) {
                d.error(
                    a.loc,
                    format!(
                        "unknown application security group '{}' ({})",
                        a.value,
                        list(
                            t.application_security_groups
                                .iter()
                                .map(|x| x.value.clone())
                        )
                    ),
                );
            } else if let Some((v0, l0)) = asg_vnet.get(a.value.as_str()) {
                if *v0 != vi {
                    d.error(a.loc, format!("application security group '{}' already has members in vnet '{}' (line {}); all members must be in one vnet", a.value, t.vnets[*v0].name.value, l0.line));
                }
            } else {
                asg_vnet.insert(&a.value, (vi, a.loc));
            }
        }
    }

    let find_special = |vnet: &str, name: &str| -> Option<(usize, usize)> {
        subnets.get(&format!("{vnet}/{name}")).copied()
    };

    let mut gw_per_vnet: HashMap<(&str, GatewayType), Loc> = HashMap::new();
    for g in &t.gateways {
        if !vnets.contains_key(g.vnet.value.as_str()) {
            d.error(
                g.vnet.loc,
                format!(
                    "unknown vnet '{}' ({})",
                    g.vnet.value,
                    list(t.vnets.iter().map(|v| v.name.value.clone()))
                ),
            );
        } else if find_special(&g.vnet.value, GATEWAY_SUBNET).is_none() {
            d.error(
                g.vnet.loc,
                format!(
                    "gateway '{}' needs a subnet named GatewaySubnet in vnet '{}'",
                    g.name.value, g.vnet.value
                ),
            );
        }
        if let Some(l) = gw_per_vnet.insert((&g.vnet.value, g.gateway_type), g.name.loc) {
            d.error(
                g.name.loc,
                format!(
                    "vnet '{}' already has a {:?} gateway (line {})",
                    g.vnet.value, g.gateway_type, l.line
                ),
            );
        }
        for c in &g.connections {
            if !sites.contains_key(c.value.as_str()) {
                d.error(
                    c.loc,
                    format!(
                        "unknown site '{}' ({})",
                        c.value,
                        list(t.sites.iter().map(|s| s.name.value.clone()))
                    ),
                );
            }
        }
    }

    for f in &t.firewalls {
        let Some(&vi) = vnets.get(f.vnet.value.as_str()) else {
            d.error(
                f.vnet.loc,
                format!(
                    "unknown vnet '{}' ({})",
                    f.vnet.value,
                    list(t.vnets.iter().map(|v| v.name.value.clone()))
                ),
            );
            continue;
        };
        let Some(fs) = find_special(&f.vnet.value, FIREWALL_SUBNET) else {
            d.error(
                f.vnet.loc,
                format!(
                    "firewall '{}' needs a subnet named AzureFirewallSubnet in vnet '{}'",
                    f.name.value, f.vnet.value
                ),
            );
            continue;
        };
        let who = format!("firewall '{}'", f.name.value);
        check_ip(d, t, fs, &f.private_ip_address, &who);
        claim(d, vi, &f.private_ip_address, who.clone());
        for s in &f.snat_ip_addresses {
            check_ip(d, t, fs, s, &format!("{who} SNAT"));
            if s.value != f.private_ip_address.value {
                claim(d, vi, s, format!("{who} (SNAT address)"));
            }
        }
        if f.public_ip_addresses.is_empty() {
            d.warning(f.name.loc, format!("{who} has no publicIpAddresses: Azure requires one; SNAT toward the Internet is impossible"));
        }
        for r in &f.dnat_rules {
            for dst in &r.destination {
                if !f.public_ip_addresses.iter().any(|p| p.value == dst.value) {
                    d.error(
                        dst.loc,
                        format!(
                            "DNAT rule '{}' destination {} is not a public IP of {who}",
                            r.name.value, dst.value
                        ),
                    );
                }
            }
        }
        for c in &f.network_rule_collections {
            if c.priority.value < 100 {
                d.error(
                    c.priority.loc,
                    format!(
                        "rule collection '{}' priority {} is outside 100..65000",
                        c.name.value, c.priority.value
                    ),
                );
            }
        }
        for c in &f.application_rule_collections {
            if c.priority.value < 100 {
                d.error(
                    c.priority.loc,
                    format!(
                        "rule collection '{}' priority {} is outside 100..65000",
                        c.name.value, c.priority.value
                    ),
                );
            }
        }
    }

    for pe in &t.private_endpoints {
        if !services.contains_key(pe.service.value.as_str()) {
            d.error(
                pe.service.loc,
                format!(
                    "unknown service '{}' ({})",
                    pe.service.value,
                    list(t.services.iter().map(|s| s.name.value.clone()))
                ),
            );
        }
        let Some((vi, si)) = subnet_ref(d, &pe.subnet) else {
            continue;
        };
        let sname = &t.vnets[vi].subnets[si].name.value;
        if sname == GATEWAY_SUBNET || sname == FIREWALL_SUBNET {
            d.error(
                pe.subnet.loc,
                format!(
                    "private endpoint '{}' cannot be placed in {sname}",
                    pe.name.value
                ),
            );
        }
        let who = format!("private endpoint '{}'", pe.name.value);
        check_ip(d, t, (vi, si), &pe.private_ip_address, &who);
        claim(d, vi, &pe.private_ip_address, who);
    }
    crate::control_plane::check(t, d);
}
