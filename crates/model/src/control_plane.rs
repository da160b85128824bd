//! Configurations Azure's control plane refuses (or only warns about) before it accepts a
//! fabric: gateway transit over peerings, BGP ASNs, and the sizes of the special subnets.
//! Each problem is located and names the rule it breaks. Run after the other validation
//! steps; names that do not resolve were reported there and are skipped here.

use crate::diag::Diagnostics;
use crate::types::*;
use crate::validate::{FIREWALL_SUBNET, GATEWAY_SUBNET};

/// ASNs Azure keeps for itself: a site (local network gateway) or a BGP peer may not use them.
/// 65515 is the Azure VPN gateway's own default ASN, so a gateway may use it.
/// learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp
pub const AZURE_RESERVED_ASNS: [u32; 8] = [8074, 8075, 12076, 65515, 65517, 65518, 65519, 65520];

/// ASNs reserved by IANA that Azure does not let anyone configure (same page).
pub fn iana_reserved_asn(asn: u32) -> bool {
    asn == 23456
        || (64496..=64511).contains(&asn)
        || (65535..=65551).contains(&asn)
        || asn == u32::MAX
}

/// Every check of this module.
pub fn check(t: &Topology, d: &mut Diagnostics) {
    gateway_transit(t, d);
    site_asns(t, d);
    gateway_asns(t, d);
    special_subnet_sizes(t, d);
    nat_gateways(t, d);
    vnet2vnet(t, d);
    instance_addresses(t, d);
    express_route(t, d);
    crate::route_server::check(t, d);
}

/// ExpressRoute: circuits connect to ExpressRoute gateways, sites and VNet-to-VNet to VPN
/// gateways; a circuit's peer ASN is not one Azure reserves.
/// learn.microsoft.com/azure/expressroute/expressroute-routing (ASNs);
/// learn.microsoft.com/azure/expressroute/expressroute-about-virtual-network-gateways
fn express_route(t: &Topology, d: &mut Diagnostics) {
    for c in &t.express_route_circuits {
        if let Some(why) = site_asn_refusal(c.peer_asn.value) {
            d.error(
                c.peer_asn.loc,
                format!(
                    "circuit '{}' peers with ASN {}, which is {why} \
                     (rule: on-premises devices cannot use reserved ASNs)",
                    c.name.value, c.peer_asn.value
                ),
            );
        }
    }
    for g in &t.gateways {
        let er = g.gateway_type == GatewayType::ExpressRoute;
        for c in &g.circuits {
            if !t
                .express_route_circuits
                .iter()
                .any(|x| x.name.value == c.value)
            {
                d.error(c.loc, format!("unknown ExpressRoute circuit '{}'", c.value));
            }
            if !er {
                d.error(
                    c.loc,
                    format!(
                        "VPN gateway '{}' cannot hold an ExpressRoute connection \
                         (rule: circuits connect to ExpressRoute gateways)",
                        g.name.value
                    ),
                );
            }
        }
        for c in g.connections.iter().filter(|_| er) {
            d.error(
                c.loc,
                format!(
                    "ExpressRoute gateway '{}' cannot hold an IPsec connection \
                     (rule: sites connect to VPN gateways)",
                    g.name.value
                ),
            );
        }
    }
}

/// A gateway has one instance address (active-standby) or two (active-active), each a usable
/// address of its GatewaySubnet. learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp
/// (one BGP peer IP for active-standby, two for active-active).
fn instance_addresses(t: &Topology, d: &mut Diagnostics) {
    for g in t
        .gateways
        .iter()
        .filter(|g| !g.instance_addresses.is_empty())
    {
        let want = if g.active_active { 2 } else { 1 };
        if g.instance_addresses.len() != want {
            d.error(
                g.instance_addresses[0].loc,
                format!(
                    "gateway '{}' lists {} instanceAddresses; {} has {want} \
                     (rule: one instance address for active-standby, two for active-active)",
                    g.name.value,
                    g.instance_addresses.len(),
                    if g.active_active {
                        "an active-active gateway"
                    } else {
                        "an active-standby gateway"
                    }
                ),
            );
        }
        let v = t.vnets.iter().find(|v| v.name.value == g.vnet.value);
        let gs = v.and_then(|v| v.subnets.iter().find(|s| s.name.value == GATEWAY_SUBNET));
        let Some(gs) = gs else { continue };
        let p = gs.address_prefix.value;
        for a in &g.instance_addresses {
            if !p.contains(&a.value) || crate::validate::is_reserved(&p, a.value) {
                d.error(
                    a.loc,
                    format!(
                        "gateway '{}' instance address {} is not a usable address of its \
                         GatewaySubnet {p} (rule: gateway instances take addresses of GatewaySubnet)",
                        g.name.value, a.value
                    ),
                );
            }
        }
    }
}

/// VNet-to-VNet connections: toward another VPN gateway, with a different ASN when both speak
/// BGP. learn.microsoft.com/azure/vpn-gateway/vpn-gateway-howto-vnet-vnet-resource-manager-portal
fn vnet2vnet(t: &Topology, d: &mut Diagnostics) {
    for g in &t.gateways {
        for c in &g.vnet2vnet {
            let Some(o) = t.gateways.iter().find(|o| o.name.value == c.value) else {
                let names: Vec<&str> = t.gateways.iter().map(|o| o.name.value.as_str()).collect();
                d.error(
                    c.loc,
                    format!(
                        "unknown gateway '{}' ({})",
                        crate::limits::Echo(&c.value),
                        crate::limits::defined_list(names.into_iter())
                    ),
                );
                continue;
            };
            if o.vnet.value == g.vnet.value {
                d.error(
                    c.loc,
                    format!(
                        "gateway '{}' cannot connect to a gateway of its own vnet \
                         (rule: a VNet-to-VNet connection joins two virtual networks)",
                        g.name.value
                    ),
                );
            }
            if g.gateway_type != GatewayType::Vpn || o.gateway_type != GatewayType::Vpn {
                d.error(
                    c.loc,
                    "a Vnet2Vnet connection joins two VPN gateways \
                     (rule: VNet-to-VNet connections are VPN gateway connections)",
                );
            }
            if let (Some(a), Some(b)) = (&g.bgp_asn, &o.bgp_asn) {
                if a.value == b.value {
                    d.error(
                        c.loc,
                        format!(
                            "the BGP connection of gateway '{}' to gateway '{}' has ASN {} on \
                             both ends (rule: the two ends of a BGP connection need different ASNs)",
                            g.name.value, o.name.value, a.value
                        ),
                    );
                }
            }
        }
    }
}

/// A gateway or a Route Server: either serves a peer that sets `useRemoteGateways`
/// (learn.microsoft.com/azure/route-server/route-server-faq, "Use Remote Gateway (or Route Server)").
fn has_gateway(t: &Topology, vnet: &str) -> bool {
    t.gateways.iter().any(|g| g.vnet.value == vnet)
        || crate::route_server::has_route_server(t, vnet)
}

fn peering_back<'t>(t: &'t Topology, p: &Peering) -> Option<&'t Peering> {
    t.peerings
        .iter()
        .find(|q| q.from.value == p.to.value && q.to.value == p.from.value)
}

/// `useRemoteGateways` needs a gateway in the remote VNet, a remote side that allows gateway
/// transit, and is never set on both sides of one link.
/// learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering (settings);
/// learn.microsoft.com/azure/vpn-gateway/vpn-gateway-peering-gateway-transit
fn gateway_transit(t: &Topology, d: &mut Diagnostics) {
    for p in t.peerings.iter().filter(|p| p.use_remote_gateways) {
        if p.from.value == p.to.value || !t.vnets.iter().any(|v| v.name.value == p.to.value) {
            continue;
        }
        let link = format!("peering {} -> {}", p.from.value, p.to.value);
        if !has_gateway(t, &p.to.value) {
            d.error(
                p.loc,
                format!(
                    "{link} sets useRemoteGateways but vnet '{}' has no virtual network gateway or route server \
                     (rule: useRemoteGateways needs a gateway in the remote virtual network)",
                    p.to.value
                ),
            );
            continue;
        }
        match peering_back(t, p) {
            Some(q) if q.use_remote_gateways => d.error(
                p.loc,
                format!(
                    "{link} and the peering back (line {}) both set useRemoteGateways \
                     (rule: only one side of a peering can use the other's gateway)",
                    q.loc.line
                ),
            ),
            Some(q) if !q.allow_gateway_transit => d.error(
                p.loc,
                format!(
                    "{link} sets useRemoteGateways but the peering back (line {}) does not set \
                     allowGatewayTransit (rule: useRemoteGateways needs allowGatewayTransit on \
                     the remote side)",
                    q.loc.line
                ),
            ),
            Some(_) => {}
            None => d.error(
                p.loc,
                format!(
                    "{link} sets useRemoteGateways but there is no peering back from {} with \
                     allowGatewayTransit (rule: useRemoteGateways needs allowGatewayTransit on \
                     the remote side)",
                    p.to.value
                ),
            ),
        }
    }
}

/// Why an ASN may not be used on a site, if it may not.
fn site_asn_refusal(asn: u32) -> Option<&'static str> {
    if AZURE_RESERVED_ASNS.contains(&asn) {
        Some("reserved by Azure (8074, 8075, 12076, 65515, 65517-65520)")
    } else if iana_reserved_asn(asn) {
        Some("reserved by IANA (23456, 64496-64511, 65535-65551, 4294967295)")
    } else if asn == 0 {
        Some("not a valid ASN")
    } else {
        None
    }
}

fn site_asns(t: &Topology, d: &mut Diagnostics) {
    for s in &t.sites {
        let Some(b) = &s.bgp else { continue };
        if let Some(why) = site_asn_refusal(b.asn.value) {
            d.error(
                b.asn.loc,
                format!(
                    "site '{}' uses BGP ASN {}, which is {why} \
                     (rule: on-premises devices cannot use reserved ASNs)",
                    s.name.value, b.asn.value
                ),
            );
        }
    }
}

/// A gateway's ASN: not an IANA-reserved one, and different from each BGP peer's.
fn gateway_asns(t: &Topology, d: &mut Diagnostics) {
    for g in &t.gateways {
        let Some(asn) = &g.bgp_asn else { continue };
        if iana_reserved_asn(asn.value) || asn.value == 0 {
            d.error(
                asn.loc,
                format!(
                    "gateway '{}' uses BGP ASN {}, which Azure does not allow \
                     (rule: ASNs reserved by IANA cannot be configured)",
                    g.name.value, asn.value
                ),
            );
        }
        for c in &g.connections {
            let site = t.sites.iter().find(|s| s.name.value == c.value);
            let Some(b) = site.and_then(|s| s.bgp.as_ref()) else {
                continue;
            };
            if b.asn.value == asn.value {
                d.error(
                    c.loc,
                    format!(
                        "the BGP connection of gateway '{}' to site '{}' has ASN {} on both ends \
                         (rule: the two ends of a BGP connection need different ASNs)",
                        g.name.value, c.value, asn.value
                    ),
                );
            }
        }
    }
}

/// AzureFirewallSubnet is /26 or larger; GatewaySubnet /29 or larger (the generic subnet rule),
/// /27 recommended, and /27 or larger where an ExpressRoute and a VPN gateway coexist.
/// learn.microsoft.com/azure/firewall/firewall-faq ("Why does Azure Firewall need a /26 subnet size?");
/// learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings#gwsub;
/// learn.microsoft.com/azure/expressroute/expressroute-howto-coexist-resource-manager
fn special_subnet_sizes(t: &Topology, d: &mut Diagnostics) {
    for v in &t.vnets {
        for s in &v.subnets {
            let p = &s.address_prefix;
            let len = p.value.prefix_len();
            if s.name.value == FIREWALL_SUBNET && len > 26 {
                d.error(
                    p.loc,
                    format!(
                        "AzureFirewallSubnet of vnet '{}' is {}, smaller than /26 \
                         (rule: Azure Firewall needs an AzureFirewallSubnet of /26 or larger)",
                        v.name.value, p.value
                    ),
                );
            }
            if s.name.value == GATEWAY_SUBNET && len > 27 && len <= 29 {
                gateway_subnet_size(t, v, s, d);
            }
        }
    }
}

fn gateway_subnet_size(t: &Topology, v: &Vnet, s: &Subnet, d: &mut Diagnostics) {
    let p = &s.address_prefix;
    let of_type = |ty| {
        t.gateways
            .iter()
            .any(|g| g.vnet.value == v.name.value && g.gateway_type == ty)
    };
    if of_type(GatewayType::Vpn) && of_type(GatewayType::ExpressRoute) {
        d.error(
            p.loc,
            format!(
                "GatewaySubnet of vnet '{}' is {}, but its ExpressRoute and VPN gateways coexist \
                 (rule: coexisting gateways need a GatewaySubnet of /27 or larger)",
                v.name.value, p.value
            ),
        );
    } else {
        d.warning(
            p.loc,
            format!(
                "GatewaySubnet of vnet '{}' is {}: Azure accepts /29 but recommends /27 or larger",
                v.name.value, p.value
            ),
        );
    }
}

/// NAT gateways: each needs a public IP or prefix, serves subnets of one VNet only, and is never
/// on GatewaySubnet. learn.microsoft.com/azure/nat-gateway/nat-gateway-resource
fn nat_gateways(t: &Topology, d: &mut Diagnostics) {
    for n in &t.nat_gateways {
        if n.public_ip_addresses.is_empty() && n.public_ip_prefixes.is_empty() {
            d.error(
                n.name.loc,
                format!(
                    "NAT gateway '{}' has no publicIpAddresses and no publicIpPrefixes \
                     (rule: a NAT gateway needs at least one public IP address or prefix)",
                    n.name.value
                ),
            );
        }
    }
    let mut vnet_of: Vec<(&str, &str)> = Vec::new();
    for v in &t.vnets {
        for s in &v.subnets {
            let Some(r) = &s.nat_gateway else { continue };
            if !t.nat_gateways.iter().any(|n| n.name.value == r.value) {
                let names: Vec<&str> = t
                    .nat_gateways
                    .iter()
                    .map(|n| n.name.value.as_str())
                    .collect();
                d.error(
                    r.loc,
                    format!(
                        "unknown NAT gateway '{}' ({})",
                        crate::limits::Echo(&r.value),
                        crate::limits::defined_list(names.into_iter())
                    ),
                );
                continue;
            }
            if s.name.value == GATEWAY_SUBNET {
                d.error(
                    r.loc,
                    "a NAT gateway on GatewaySubnet (rule: NAT gateway cannot be associated with \
                     the gateway subnet)",
                );
            }
            match vnet_of.iter().find(|(n, _)| *n == r.value) {
                Some((_, w)) if *w != v.name.value => d.error(
                    r.loc,
                    format!(
                        "NAT gateway '{}' already serves vnet '{w}' (rule: a NAT gateway cannot \
                         span virtual networks)",
                        r.value
                    ),
                ),
                Some(_) => {}
                None => vnet_of.push((&r.value, &v.name.value)),
            }
        }
    }
}
