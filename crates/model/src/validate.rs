//! Whole-file validation: every problem at once, each located.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::diag::Diagnostics;
use crate::limits::Echo;
use crate::node::Loc;
use crate::overlap::{overlapping_pairs, PrefixIndex};
use crate::types::*;

pub const GATEWAY_SUBNET: &str = "GatewaySubnet";
pub const FIREWALL_SUBNET: &str = "AzureFirewallSubnet";

/// Whether `ip` is one Azure keeps in `subnet` (R1.1): the first four and the last.
pub fn is_reserved(subnet: &Ipv4Net, ip: Ipv4Addr) -> bool {
    let base = u32::from(subnet.network());
    let last = u32::from(subnet.broadcast());
    let v = u32::from(ip);
    v < base + 4 || v == last
}

/// How many names (or prefixes) a message lists before "... (N in all)".
const LISTED: usize = 12;

/// The names a reference could have used, for an "unknown NAME" message:
/// at most [`LISTED`], each echoed short, so the message costs the same
/// however many are defined.
fn list<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    let total = names.len();
    let shown: Vec<String> = names.take(LISTED).map(|n| Echo(n).to_string()).collect();
    if total == 0 {
        "none are defined".to_string()
    } else if total > LISTED {
        format!("defined: {}, ... ({total} in all)", shown.join(", "))
    } else {
        format!("defined: {}", shown.join(", "))
    }
}

/// A vnet's address space for a message: at most [`LISTED`] prefixes.
fn space_list(space: &[Sp<Ipv4Net>]) -> String {
    let shown: Vec<String> = space
        .iter()
        .take(LISTED)
        .map(|a| a.value.to_string())
        .collect();
    if space.len() > LISTED {
        format!("{}, ... ({} in all)", shown.join(", "), space.len())
    } else {
        shown.join(", ")
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
                    Echo(&n.value),
                    l.line
                ),
            );
        } else {
            first.insert(&n.value, n.loc);
            seen.insert(&n.value, i);
        }
    }
    seen
}

/// The overlap between the address spaces of two vnets: the first pair
/// found (an index into each vnet's addressSpace) and how many of the
/// searched side's prefixes overlap the other side.
#[derive(Clone, Copy, Debug)]
struct SpaceOverlap {
    first: usize,
    second: usize,
    count: usize,
}

/// Whether the address spaces of vnets `a` and `b` overlap. The smaller
/// side is searched in the larger side's index: O(min log max).
fn space_overlap(t: &Topology, ix: &[PrefixIndex], a: usize, b: usize) -> Option<SpaceOverlap> {
    let (sa, sb) = (&t.vnets[a].address_space, &t.vnets[b].address_space);
    let swap = sa.len() > sb.len();
    let (small, large) = if swap { (sb, &ix[a]) } else { (sa, &ix[b]) };
    let mut found: Option<SpaceOverlap> = None;
    for (i, x) in small.iter().enumerate() {
        if let Some(j) = large.overlapping(&x.value) {
            let f = found.get_or_insert(SpaceOverlap {
                first: if swap { j } else { i },
                second: if swap { i } else { j },
                count: 0,
            });
            f.count += 1;
        }
    }
    found
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
    let space_indexes: Vec<PrefixIndex> = t
        .vnets
        .iter()
        .map(|v| PrefixIndex::new(&v.address_space.iter().map(|a| a.value).collect::<Vec<_>>()))
        .collect();
    let mut subnets: HashMap<String, (usize, usize)> = HashMap::new();
    for (vi, v) in t.vnets.iter().enumerate() {
        unique(
            d,
            &format!("subnet (in vnet '{}')", Echo(&v.name.value)),
            v.subnets.iter().map(|s| &s.name),
        );
        if v.address_space.is_empty() {
            d.error(
                v.name.loc,
                format!("vnet '{}' has an empty addressSpace", Echo(&v.name.value)),
            );
        }
        let space: Vec<Ipv4Net> = v.address_space.iter().map(|a| a.value).collect();
        for (i, j) in overlapping_pairs(&space) {
            let (a, b) = (&v.address_space[i], &v.address_space[j]);
            d.error(
                a.loc,
                format!(
                    "address space {} of vnet '{}' overlaps {}",
                    a.value,
                    Echo(&v.name.value),
                    b.value
                ),
            );
        }
        let prefixes: Vec<Ipv4Net> = v.subnets.iter().map(|s| s.address_prefix.value).collect();
        let mut overlaps_earlier: Vec<Vec<usize>> = vec![Vec::new(); prefixes.len()];
        for (later, earlier) in overlapping_pairs(&prefixes) {
            overlaps_earlier[later].push(earlier);
        }
        for (si, s) in v.subnets.iter().enumerate() {
            subnets
                .entry(format!("{}/{}", v.name.value, s.name.value))
                .or_insert((vi, si));
            let p = s.address_prefix.value;
            if !space_indexes[vi].contains(&p) {
                d.error(
                    s.address_prefix.loc,
                    format!(
                        "subnet '{}' prefix {p} is outside the address space of vnet '{}' ({})",
                        Echo(&s.name.value),
                        Echo(&v.name.value),
                        space_list(&v.address_space)
                    ),
                );
            }
            if p.prefix_len() > 29 {
                d.error(
                    s.address_prefix.loc,
                    format!("subnet prefix {p} is smaller than Azure's smallest subnet, /29"),
                );
            }
            for &o in &overlaps_earlier[si] {
                let o = &v.subnets[o];
                d.error(
                    s.address_prefix.loc,
                    format!(
                        "subnet '{}' ({p}) overlaps subnet '{}' ({})",
                        Echo(&s.name.value),
                        Echo(&o.name.value),
                        o.address_prefix.value
                    ),
                );
            }
            if let Some(n) = &s.nsg {
                if !nsgs.contains_key(n.value.as_str()) {
                    d.error(
                        n.loc,
                        format!(
                            "unknown NSG '{}' ({})",
                            Echo(&n.value),
                            list(t.nsgs.iter().map(|x| x.name.value.as_str()))
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
                            Echo(&r.value),
                            list(t.route_tables.iter().map(|x| x.name.value.as_str()))
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
                                    Echo(&r.value)
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
    let sorted_subnets: OnceCell<Vec<&str>> = OnceCell::new();
    let subnet_ref = |d: &mut Diagnostics, r: &Sp<String>| -> Option<(usize, usize)> {
        if !r.value.contains('/') {
            d.error(
                r.loc,
                format!(
                    "expected a subnet reference VNET/SUBNET, found '{}'",
                    Echo(&r.value)
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
                        Echo(&r.value),
                        list(
                            sorted_subnets
                                .get_or_init(|| {
                                    let mut k: Vec<&str> =
                                        subnets.keys().map(String::as_str).collect();
                                    k.sort_unstable();
                                    k
                                })
                                .iter()
                                .copied()
                        )
                    ),
                );
                None
            }
        }
    };

    // Peerings.
    let mut pairs: HashMap<(&str, &str), Loc> = HashMap::new();
    let mut remote_gw_users: HashMap<&str, Loc> = HashMap::new();
    let mut space_overlaps: HashMap<(usize, usize), Option<SpaceOverlap>> = HashMap::new();
    let gateway_vnets: HashSet<&str> = t.gateways.iter().map(|g| g.vnet.value.as_str()).collect();
    let mut first_peering: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, p) in t.peerings.iter().enumerate() {
        first_peering
            .entry((&p.from.value, &p.to.value))
            .or_insert(i);
    }
    for p in &t.peerings {
        let f = vnets.get(p.from.value.as_str()).copied();
        let to = vnets.get(p.to.value.as_str()).copied();
        for (r, x) in [(&p.from, f), (&p.to, to)] {
            if x.is_none() {
                d.error(
                    r.loc,
                    format!(
                        "unknown vnet '{}' ({})",
                        Echo(&r.value),
                        list(t.vnets.iter().map(|v| v.name.value.as_str()))
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
                    Echo(&p.from.value),
                    Echo(&p.to.value),
                    l.line
                ),
            );
        }
        if let (Some(a), Some(b)) = (f, to) {
            let found = *space_overlaps
                .entry((a.min(b), a.max(b)))
                .or_insert_with(|| space_overlap(t, &space_indexes, a.min(b), a.max(b)));
            if let Some(o) = found {
                let (x, y) = if a < b {
                    (o.first, o.second)
                } else {
                    (o.second, o.first)
                };
                let more = match o.count {
                    1 => String::new(),
                    n => format!("; {} more overlapping address spaces", n - 1),
                };
                d.error(
                    p.loc,
                    format!(
                        "peered vnets '{}' and '{}' have overlapping address spaces ({} and {}){more}",
                        Echo(&p.from.value),
                        Echo(&p.to.value),
                        t.vnets[a].address_space[x].value,
                        t.vnets[b].address_space[y].value
                    ),
                );
            }
        }
        if p.use_remote_gateways {
            if let Some(l) = remote_gw_users.insert(&p.from.value, p.loc) {
                d.error(
                    p.loc,
                    format!(
                        "vnet '{}' already uses remote gateways through the peering at line {}",
                        Echo(&p.from.value),
                        l.line
                    ),
                );
            }
            if gateway_vnets.contains(p.from.value.as_str()) {
                d.error(
                    p.loc,
                    format!(
                        "vnet '{}' has its own gateway and cannot use remote gateways",
                        Echo(&p.from.value)
                    ),
                );
            }
        }
    }
    for p in &t.peerings {
        if p.from.value == p.to.value {
            continue;
        }
        let back = first_peering
            .get(&(p.to.value.as_str(), p.from.value.as_str()))
            .map(|&i| &t.peerings[i]);
        match back {
            None => d.warning(
                p.loc,
                format!(
                    "peering {} -> {} has no peering back from {} to {}: Azure shows it as Initiated and it carries no traffic",
                    Echo(&p.from.value), Echo(&p.to.value), Echo(&p.to.value), Echo(&p.from.value)
                ),
            ),
            Some(q) => {
                if p.use_remote_gateways {
                    let hub_has_gw = gateway_vnets.contains(p.to.value.as_str());
                    if !q.allow_gateway_transit || !hub_has_gw {
                        d.warning(
                            p.loc,
                            format!(
                                "peering {} -> {} sets useRemoteGateways but {}: no gateway routes reach {}",
                                Echo(&p.from.value),
                                Echo(&p.to.value),
                                if !hub_has_gw {
                                    format!("vnet '{}' has no gateway", Echo(&p.to.value))
                                } else {
                                    format!("the peering back does not set allowGatewayTransit")
                                },
                                Echo(&p.from.value)
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
            &format!("route (in route table '{}')", Echo(&rt.name.value)),
            rt.routes.iter().map(|r| &r.name),
        );
        let mut prefixes: HashMap<&RoutePrefix, Loc> = HashMap::new();
        for r in &rt.routes {
            if let Some(l) = prefixes.insert(&r.address_prefix.value, r.address_prefix.loc) {
                d.error(
                    r.address_prefix.loc,
                    format!(
                        "route table '{}' has two routes for the same prefix (first at line {})",
                        Echo(&rt.name.value),
                        l.line
                    ),
                );
            }
            match (r.next_hop_type.value, &r.next_hop_ip_address) {
                (NextHopType::VirtualAppliance, None) => d.error(
                    r.next_hop_type.loc,
                    format!("route '{}' has nextHopType VirtualAppliance but no nextHopIpAddress", Echo(&r.name.value)),
                ),
                (NextHopType::VirtualAppliance, Some(_)) => {}
                (other, Some(ip)) => d.error(
                    ip.loc,
                    format!("route '{}' has a nextHopIpAddress, which only nextHopType VirtualAppliance takes (found {:?})", Echo(&r.name.value), other),
                ),
                _ => {}
            }
            if let RoutePrefix::ServiceTag(tag) = &r.address_prefix.value {
                d.warning(
                    r.address_prefix.loc,
                    format!("route '{}' uses service tag '{tag}' as its prefix; no service-tag address data is bundled, so this route is not installed", Echo(&r.name.value)),
                );
            }
        }
    }

    // NSGs.
    for n in &t.nsgs {
        unique(
            d,
            &format!("security rule (in NSG '{}')", Echo(&n.name.value)),
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
                        Echo(&r.name.value)
                    ),
                );
            } else if let Some(l) = prios.insert((r.direction, p), r.priority.loc) {
                d.error(
                    r.priority.loc,
                    format!("security rule '{}' reuses priority {p} for {:?} rules in NSG '{}' (first at line {})", Echo(&r.name.value), r.direction, Echo(&n.name.value), l.line),
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
                                        .map(|x| x.value.as_str())
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
                        Echo(&r.name.value)
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
                    ip.value,
                    Echo(&t.vnets[vi].name.value),
                    Echo(&s.name.value)
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
                format!(
                    "NIC '{}' cannot be placed in {sname}",
                    Echo(&nic.name.value)
                ),
            );
        }
        check_ip(
            d,
            t,
            (vi, si),
            &nic.private_ip_address,
            &format!("NIC '{}'", Echo(&nic.name.value)),
        );
        claim(
            d,
            vi,
            &nic.private_ip_address,
            format!("NIC '{}'", Echo(&nic.name.value)),
        );
        if let Some(n) = &nic.nsg {
            if !nsgs.contains_key(n.value.as_str()) {
                d.error(
                    n.loc,
                    format!(
                        "unknown NSG '{}' ({})",
                        Echo(&n.value),
                        list(t.nsgs.iter().map(|x| x.name.value.as_str()))
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
                        Echo(&a.value),
                        list(
                            t.application_security_groups
                                .iter()
                                .map(|x| x.value.as_str())
                        )
                    ),
                );
            } else if let Some((v0, l0)) = asg_vnet.get(a.value.as_str()) {
                if *v0 != vi {
                    d.error(a.loc, format!("application security group '{}' already has members in vnet '{}' (line {}); all members must be in one vnet", Echo(&a.value), Echo(&t.vnets[*v0].name.value), l0.line));
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
                    Echo(&g.vnet.value),
                    list(t.vnets.iter().map(|v| v.name.value.as_str()))
                ),
            );
        } else if find_special(&g.vnet.value, GATEWAY_SUBNET).is_none() {
            d.error(
                g.vnet.loc,
                format!(
                    "gateway '{}' needs a subnet named GatewaySubnet in vnet '{}'",
                    Echo(&g.name.value),
                    Echo(&g.vnet.value)
                ),
            );
        }
        if let Some(l) = gw_per_vnet.insert((&g.vnet.value, g.gateway_type), g.name.loc) {
            d.error(
                g.name.loc,
                format!(
                    "vnet '{}' already has a {:?} gateway (line {})",
                    Echo(&g.vnet.value),
                    g.gateway_type,
                    l.line
                ),
            );
        }
        for c in &g.connections {
            if !sites.contains_key(c.value.as_str()) {
                d.error(
                    c.loc,
                    format!(
                        "unknown site '{}' ({})",
                        Echo(&c.value),
                        list(t.sites.iter().map(|s| s.name.value.as_str()))
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
                    Echo(&f.vnet.value),
                    list(t.vnets.iter().map(|v| v.name.value.as_str()))
                ),
            );
            continue;
        };
        let Some(fs) = find_special(&f.vnet.value, FIREWALL_SUBNET) else {
            d.error(
                f.vnet.loc,
                format!(
                    "firewall '{}' needs a subnet named AzureFirewallSubnet in vnet '{}'",
                    Echo(&f.name.value),
                    Echo(&f.vnet.value)
                ),
            );
            continue;
        };
        let who = format!("firewall '{}'", Echo(&f.name.value));
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
        let public_ips: HashSet<Ipv4Addr> = f.public_ip_addresses.iter().map(|p| p.value).collect();
        for r in &f.dnat_rules {
            for dst in &r.destination {
                if !public_ips.contains(&dst.value) {
                    d.error(
                        dst.loc,
                        format!(
                            "DNAT rule '{}' destination {} is not a public IP of {who}",
                            Echo(&r.name.value),
                            dst.value
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
                        Echo(&c.name.value),
                        c.priority.value
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
                        Echo(&c.name.value),
                        c.priority.value
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
                    Echo(&pe.service.value),
                    list(t.services.iter().map(|s| s.name.value.as_str()))
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
                    Echo(&pe.name.value)
                ),
            );
        }
        let who = format!("private endpoint '{}'", Echo(&pe.name.value));
        check_ip(d, t, (vi, si), &pe.private_ip_address, &who);
        claim(d, vi, &pe.private_ip_address, who);
    }
}
