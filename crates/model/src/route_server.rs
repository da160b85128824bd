//! Azure Route Server: its place in the format (`routeServers`) and the configurations Azure
//! refuses before it deploys one or accepts a BGP peering with it. Each problem is located and
//! names the rule it breaks.
//!
//! Sources: learn.microsoft.com/azure/route-server/route-server-faq,
//! learn.microsoft.com/azure/route-server/route-server-limits,
//! learn.microsoft.com/azure/route-server/quickstart-create-route-server-cli,
//! learn.microsoft.com/azure/route-server/expressroute-vpn-support.

use crate::control_plane::{iana_reserved_asn, AZURE_RESERVED_ASNS};
use crate::decode::{boolean, ipv4, items, named, obj, origin, prefix, require, string, uint};
use crate::diag::Diagnostics;
use crate::node::{Loc, Node};
use crate::types::*;

/// Route Server's own ASN: an NVA peer may not use it.
pub const ROUTE_SERVER_ASN: u32 = 65515;
/// BGP peers one Route Server takes.
pub const MAX_PEERS: usize = 8;
/// Routes one peer may advertise; above it, the BGP session is dropped.
pub const MAX_ROUTES_PER_PEER: usize = 1000;

/// `routeServers` entry.
pub(crate) fn decode(d: &mut Diagnostics, n: &Node) -> Option<RouteServer> {
    let o = obj(
        d,
        n,
        "a route server",
        &[
            "name",
            "vnet",
            "subnet",
            "allowBranchToBranchTraffic",
            "instanceAddresses",
            "bgpPeers",
            "origin",
        ],
    )?;
    let name = named(d, &o, "a route server");
    let vnet = require(d, &o, "vnet", "a route server").and_then(|x| string(d, x, "a vnet name"));
    let subnet = match o.get("subnet") {
        Some(x) => string(d, x, "a subnet name"),
        None => Some(Sp::new(ROUTE_SERVER_SUBNET.to_string(), n.loc)),
    };
    let instance_addresses = items(d, o.get("instanceAddresses"), "instanceAddresses", true)
        .into_iter()
        .filter_map(|x| ipv4(d, x, "a route server instance address"))
        .collect();
    let bgp_peers = items(d, o.get("bgpPeers"), "bgpPeers", false)
        .into_iter()
        .filter_map(|x| bgp_peer(d, x))
        .collect();
    Some(RouteServer {
        name: name?,
        vnet: vnet?,
        subnet: subnet?,
        allow_branch_to_branch_traffic: boolean(d, o.get("allowBranchToBranchTraffic"), false),
        instance_addresses,
        bgp_peers,
        origin: origin(d, &o),
    })
}

fn bgp_peer(d: &mut Diagnostics, n: &Node) -> Option<BgpPeer> {
    let o = obj(
        d,
        n,
        "a route server BGP peer",
        &["name", "peerIp", "peerAsn", "advertises"],
    )?;
    let name = named(d, &o, "a BGP peer");
    let peer_ip = require(d, &o, "peerIp", "a BGP peer").and_then(|x| ipv4(d, x, "a peer IP"));
    let peer_asn =
        require(d, &o, "peerAsn", "a BGP peer").and_then(|x| uint(d, x, "an ASN", u32::MAX as u64));
    let advertises = items(d, o.get("advertises"), "advertises", false)
        .into_iter()
        .filter_map(|x| advertised(d, x))
        .collect();
    Some(BgpPeer {
        name: name?,
        peer_ip: peer_ip?,
        peer_asn: peer_asn?,
        advertises,
    })
}

fn advertised(d: &mut Diagnostics, n: &Node) -> Option<AdvertisedRoute> {
    let o = obj(d, n, "an advertised route", &["prefix", "asPath"])?;
    let p = require(d, &o, "prefix", "an advertised route").and_then(|x| prefix(d, x, false));
    let as_path = items(d, o.get("asPath"), "asPath", true)
        .into_iter()
        .filter_map(|x| uint(d, x, "an ASN", u32::MAX as u64).map(|a| a.value))
        .collect();
    Some(AdvertisedRoute {
        prefix: p?,
        as_path,
    })
}

/// Every Route Server check.
pub fn check(t: &Topology, d: &mut Diagnostics) {
    let mut seen: Vec<(&str, Loc)> = Vec::new();
    for rs in &t.route_servers {
        let Some(v) = t.vnets.iter().find(|v| v.name.value == rs.vnet.value) else {
            let names: Vec<&str> = t.vnets.iter().map(|v| v.name.value.as_str()).collect();
            d.error(
                rs.vnet.loc,
                format!(
                    "unknown vnet '{}' ({})",
                    crate::limits::Echo(&rs.vnet.value),
                    crate::limits::defined_list(names.into_iter())
                ),
            );
            continue;
        };
        match seen.iter().find(|(n, _)| *n == rs.vnet.value) {
            Some((_, l)) => d.error(
                rs.name.loc,
                format!(
                    "vnet '{}' already has a route server (line {}) \
                     (rule: only one route server per virtual network)",
                    rs.vnet.value, l.line
                ),
            ),
            None => seen.push((&rs.vnet.value, rs.name.loc)),
        }
        subnet(rs, v, d);
        peers(t, rs, d);
        gateways_with(t, rs, d);
    }
}

/// RouteServerSubnet: that name, /27 or larger, no NSG and no route table.
fn subnet(rs: &RouteServer, v: &Vnet, d: &mut Diagnostics) {
    let who = format!("route server '{}'", rs.name.value);
    if rs.subnet.value != ROUTE_SERVER_SUBNET {
        d.error(
            rs.subnet.loc,
            format!(
                "{who} is in subnet '{}' (rule: a route server is deployed in a dedicated \
                 subnet named RouteServerSubnet)",
                rs.subnet.value
            ),
        );
        return;
    }
    let Some(s) = v
        .subnets
        .iter()
        .find(|s| s.name.value == ROUTE_SERVER_SUBNET)
    else {
        d.error(
            rs.vnet.loc,
            format!(
                "{who}: vnet '{}' has no subnet RouteServerSubnet (rule: a route server is \
                 deployed in a dedicated subnet named RouteServerSubnet)",
                v.name.value
            ),
        );
        return;
    };
    let p = &s.address_prefix;
    if p.value.prefix_len() > 27 {
        d.error(
            p.loc,
            format!(
                "RouteServerSubnet of vnet '{}' is {}, smaller than /27 \
                 (rule: RouteServerSubnet must be /27 or larger)",
                v.name.value, p.value
            ),
        );
    }
    if let Some(n) = &s.nsg {
        d.error(
            n.loc,
            format!(
                "NSG '{}' on RouteServerSubnet of vnet '{}' (rule: no network security group \
                 can be associated with RouteServerSubnet)",
                n.value, v.name.value
            ),
        );
    }
    if let Some(r) = &s.route_table {
        d.error(
            r.loc,
            format!(
                "route table '{}' on RouteServerSubnet of vnet '{}' (rule: no route table \
                 can be associated with RouteServerSubnet)",
                r.value, v.name.value
            ),
        );
    }
    for a in &rs.instance_addresses {
        if !p.value.contains(&a.value) || crate::validate::is_reserved(&p.value, a.value) {
            d.error(
                a.loc,
                format!(
                    "{who} instance address {} is not a usable address of RouteServerSubnet {} \
                     (rule: route server instances take addresses of RouteServerSubnet)",
                    a.value, p.value
                ),
            );
        }
    }
    if !rs.instance_addresses.is_empty() && rs.instance_addresses.len() != 2 {
        d.error(
            rs.instance_addresses[0].loc,
            format!(
                "{who} lists {} instanceAddresses (rule: a route server has two instances, \
                 two virtualRouterIps)",
                rs.instance_addresses.len()
            ),
        );
    }
}

/// Why an NVA peer's ASN is refused, if it is.
fn peer_asn_refusal(asn: u32) -> Option<&'static str> {
    if asn == ROUTE_SERVER_ASN {
        Some("the route server's own ASN (rule: the NVA's ASN must differ from 65515)")
    } else if AZURE_RESERVED_ASNS.contains(&asn) {
        Some(
            "reserved by Azure: 8074, 8075, 12076, 65515, 65517-65520 \
             (rule: ASNs reserved by Azure or IANA cannot be used)",
        )
    } else if iana_reserved_asn(asn) {
        Some(
            "reserved by IANA: 23456, 64496-64511, 65535-65551 \
             (rule: ASNs reserved by Azure or IANA cannot be used)",
        )
    } else if asn > 65535 {
        Some("a 32-bit ASN (rule: a route server peers with 16-bit ASNs only)")
    } else if asn == 0 {
        Some("not a valid ASN (rule: ASNs reserved by Azure or IANA cannot be used)")
    } else {
        None
    }
}

/// VNets whose addresses an NVA peer may hold: the route server's and its connected peers'.
fn reachable_spaces<'t>(t: &'t Topology, vnet: &str) -> Vec<&'t Sp<ipnet::Ipv4Net>> {
    let connected = |other: &str| {
        let has = |a: &str, b: &str| {
            t.peerings
                .iter()
                .any(|p| p.from.value == a && p.to.value == b)
        };
        has(vnet, other) && has(other, vnet)
    };
    t.vnets
        .iter()
        .filter(|v| v.name.value == vnet || connected(&v.name.value))
        .flat_map(|v| v.address_space.iter())
        .collect()
}

/// At most 8 peers, each with an allowed ASN, an address in reach, and at most 1,000 routes.
fn peers(t: &Topology, rs: &RouteServer, d: &mut Diagnostics) {
    let who = format!("route server '{}'", rs.name.value);
    if rs.bgp_peers.len() > MAX_PEERS {
        d.error(
            rs.bgp_peers[MAX_PEERS].name.loc,
            format!(
                "{who} has {} BGP peers (rule: a route server takes at most {MAX_PEERS} BGP peers)",
                rs.bgp_peers.len()
            ),
        );
    }
    let spaces = reachable_spaces(t, &rs.vnet.value);
    for (i, p) in rs.bgp_peers.iter().enumerate() {
        if rs.bgp_peers[..i]
            .iter()
            .any(|q| q.name.value == p.name.value)
        {
            d.error(
                p.name.loc,
                format!("{who} has two BGP peers named '{}'", p.name.value),
            );
        }
        if let Some(why) = peer_asn_refusal(p.peer_asn.value) {
            d.error(
                p.peer_asn.loc,
                format!(
                    "BGP peer '{}' of {who} uses ASN {}, which is {why}",
                    p.name.value, p.peer_asn.value
                ),
            );
        }
        if !spaces.iter().any(|s| s.value.contains(&p.peer_ip.value)) {
            d.error(
                p.peer_ip.loc,
                format!(
                    "BGP peer '{}' of {who} has peerIp {}, outside vnet '{}' and the vnets \
                     peered with it (rule: an NVA peers from the route server's virtual network \
                     or a peered one)",
                    p.name.value, p.peer_ip.value, rs.vnet.value
                ),
            );
        }
        if p.advertises.len() > MAX_ROUTES_PER_PEER {
            d.warning(
                p.name.loc,
                format!(
                    "BGP peer '{}' of {who} advertises {} routes, more than {MAX_ROUTES_PER_PEER}: \
                     the route server drops the BGP session and programs none of its routes",
                    p.name.value,
                    p.advertises.len()
                ),
            );
        }
    }
}

/// A VPN gateway beside a route server is active-active with ASN 65515.
fn gateways_with(t: &Topology, rs: &RouteServer, d: &mut Diagnostics) {
    let vpn = t
        .gateways
        .iter()
        .filter(|g| g.vnet.value == rs.vnet.value && g.gateway_type == GatewayType::Vpn);
    for g in vpn {
        let asn = g.bgp_asn.as_ref().map(|a| a.value);
        if !g.active_active || asn != Some(ROUTE_SERVER_ASN) {
            d.error(
                g.name.loc,
                format!(
                    "VPN gateway '{}' shares vnet '{}' with route server '{}' but is not \
                     active-active with BGP ASN 65515 (rule: a VPN gateway used with Route Server \
                     must be active-active with ASN 65515)",
                    g.name.value, rs.vnet.value, rs.name.value
                ),
            );
        }
    }
}

/// Whether VNet `vnet` has a route server (it serves `useRemoteGateways` like a gateway).
pub fn has_route_server(t: &Topology, vnet: &str) -> bool {
    t.route_servers.iter().any(|r| r.vnet.value == vnet)
}
