//! Effective routes of a subnet (R2, R3, R4): system routes, gateway routes,
//! user routes and Private Endpoint /32s, with Azure's selection and states.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::prefix::{contains, contains_ip, reserved_private};
use crate::{FirewallId, GatewayId, NicId, PeId, RouteTableId, VnetId};

/// Where a route came from, as effective-route outputs spell it.
#[derive(
    serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub enum RouteSource {
    Default,
    VirtualNetworkGateway,
    User,
}

impl RouteSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteSource::Default => "Default",
            RouteSource::VirtualNetworkGateway => "VirtualNetworkGateway",
            RouteSource::User => "User",
        }
    }
    /// R2.6: User beats VirtualNetworkGateway beats Default.
    fn precedence(self) -> u8 {
        match self {
            RouteSource::Default => 1,
            RouteSource::VirtualNetworkGateway => 2,
            RouteSource::User => 3,
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteState {
    Active,
    Invalid,
}

impl RouteState {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteState::Active => "Active",
            RouteState::Invalid => "Invalid",
        }
    }
}

/// The next hop type as effective routes print it.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NextHopType {
    VnetLocal,
    VNetPeering,
    VirtualNetworkGateway,
    Internet,
    None,
    VirtualAppliance,
    InterfaceEndpoint,
    /// A service endpoint's route to the service's public prefixes.
    VirtualNetworkServiceEndpoint,
    /// An AVNM connected group's route to another member VNet's space.
    ConnectedGroup,
}

impl NextHopType {
    pub fn as_str(self) -> &'static str {
        match self {
            NextHopType::VnetLocal => "VnetLocal",
            NextHopType::VNetPeering => "VNetPeering",
            NextHopType::VirtualNetworkGateway => "VirtualNetworkGateway",
            NextHopType::Internet => "Internet",
            NextHopType::None => "None",
            NextHopType::VirtualAppliance => "VirtualAppliance",
            NextHopType::InterfaceEndpoint => "InterfaceEndpoint",
            NextHopType::VirtualNetworkServiceEndpoint => "VirtualNetworkServiceEndpoint",
            NextHopType::ConnectedGroup => "ConnectedGroup",
        }
    }
}

/// What a route resolves to in the compiled fabric (decided once, at compile time).
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// Deliver inside this VNet (own space or, over peering, a peer's).
    Vnet(VnetId),
    /// A Private Endpoint's /32.
    Pe(PeId),
    /// A virtual network gateway (the VNet's own or, with gateway transit, the hub's).
    Gateway(GatewayId),
    /// Next hop VirtualNetworkGateway with no gateway to use (R2.8).
    NoGateway,
    Internet,
    /// Next hop None.
    Drop,
    /// A service endpoint: to the service over the backbone, the source left private.
    ServiceEndpoint,
    /// VirtualAppliance resolved to an Azure Firewall.
    Firewall(FirewallId),
    /// VirtualAppliance resolved to a NIC with IP forwarding.
    Appliance(NicId),
    /// VirtualAppliance resolved to an internal load balancer's frontend (NVAs behind it).
    LoadBalancer(crate::LbFrontendId),
    /// VirtualAppliance resolved to a NIC without IP forwarding (R-NVA-01).
    ApplianceNoForwarding(NicId),
    /// VirtualAppliance address owned by nothing reachable.
    ApplianceUnresolved,
    /// VirtualAppliance address of an IP-forwarding NIC in a VNet that is neither this one nor
    /// a connected peer: it exists, but the route cannot reach it.
    ApplianceUnreachable(NicId),
    /// Next hop VirtualNetworkGateway where the only gateway is this ExpressRoute gateway, which
    /// a user route cannot name (only VPN gateways can be).
    ExpressRouteGateway(GatewayId),
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct EffectiveRoute {
    pub source: RouteSource,
    pub state: RouteState,
    pub prefix: Ipv4Net,
    pub next_hop_type: NextHopType,
    pub next_hop_ip: Option<Ipv4Addr>,
    /// User route name (None for system and gateway routes).
    pub name: Option<String>,
    pub route_table: Option<RouteTableId>,
    pub target: Target,
}

/// Everything about a subnet that its effective routes depend on.
pub(crate) struct RouteInputs<'a> {
    pub own_space: &'a [Ipv4Net],
    /// Connected peers: (vnet, its address space).
    pub peers: Vec<(VnetId, &'a [Ipv4Net])>,
    /// Gateway routes reaching this subnet's VNet (own gateways, or the hub's through transit).
    pub gateway_routes: Vec<(Ipv4Net, GatewayId)>,
    /// Route Server routes reaching this subnet: per prefix, each equal-cost next hop (the NVA
    /// peer's address and what owns it).
    pub bgp_routes: Vec<(Ipv4Net, Vec<(Ipv4Addr, Target)>)>,
    /// Private Endpoints whose /32 this subnet gets: (id, address, whether route-table
    /// policies are on in the endpoint's subnet, prefix length of the endpoint VNet's space holding it).
    pub endpoints: Vec<(PeId, u32, bool, u8)>,
    pub route_table: Option<(RouteTableId, bool, Vec<UserRoute>)>,
    pub vnet: VnetId,
    /// VNets of the AVNM connected groups this VNet is in: (vnet, its address space).
    pub connected_group: Vec<(VnetId, &'a [Ipv4Net])>,
    /// The public prefixes the subnet's service endpoints cover.
    pub service_endpoints: Vec<Ipv4Net>,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub(crate) struct UserRoute {
    pub name: String,
    pub prefix: Ipv4Net,
    pub next_hop_type: NextHopType,
    pub next_hop_ip: Option<Ipv4Addr>,
    pub target: Target,
}

fn sys(prefix: Ipv4Net, nh: NextHopType, target: Target) -> EffectiveRoute {
    EffectiveRoute {
        source: RouteSource::Default,
        state: RouteState::Active,
        prefix,
        next_hop_type: nh,
        next_hop_ip: None,
        name: None,
        route_table: None,
        target,
    }
}

/// Compiles the effective route list of one subnet, in display order.
pub(crate) fn effective_routes(inp: &RouteInputs) -> Vec<EffectiveRoute> {
    let mut out: Vec<EffectiveRoute> = Vec::new();
    let mut pre_invalid: Vec<bool> = Vec::new();
    let push = |out: &mut Vec<EffectiveRoute>, pi: &mut Vec<bool>, r: EffectiveRoute, inv: bool| {
        out.push(r);
        pi.push(inv);
    };
    // R2.1: the VNet's own space, then connected peers.
    for a in inp.own_space {
        push(
            &mut out,
            &mut pre_invalid,
            sys(*a, NextHopType::VnetLocal, Target::Vnet(inp.vnet)),
            false,
        );
    }
    for (w, space) in &inp.peers {
        for a in space.iter() {
            push(
                &mut out,
                &mut pre_invalid,
                sys(*a, NextHopType::VNetPeering, Target::Vnet(*w)),
                false,
            );
        }
    }
    for (w, space) in &inp.connected_group {
        for a in space.iter() {
            push(
                &mut out,
                &mut pre_invalid,
                sys(*a, NextHopType::ConnectedGroup, Target::Vnet(*w)),
                false,
            );
        }
    }
    let system_spaces: Vec<Ipv4Net> = inp
        .own_space
        .iter()
        .copied()
        .chain(inp.peers.iter().flat_map(|(_, s)| s.iter().copied()))
        .chain(
            inp.connected_group
                .iter()
                .flat_map(|(_, s)| s.iter().copied()),
        )
        .collect();

    // R2.3/R2.4: gateway routes unless the route table disables propagation.
    let propagate = !matches!(&inp.route_table, Some((_, true, _)));
    let mut bgp_default = false;
    if propagate {
        for (prefix, g) in &inp.gateway_routes {
            if out
                .iter()
                .any(|r| r.source == RouteSource::VirtualNetworkGateway && r.prefix == *prefix)
            {
                continue;
            }
            // R2.7 / R-RT-12: the VNet's own and peered spaces, and service endpoint
            // prefixes, beat gateway routes inside them.
            let inv = system_spaces
                .iter()
                .chain(inp.service_endpoints.iter())
                .any(|s| contains(s, prefix));
            if prefix.prefix_len() == 0 {
                bgp_default = true;
            }
            push(
                &mut out,
                &mut pre_invalid,
                EffectiveRoute {
                    source: RouteSource::VirtualNetworkGateway,
                    state: RouteState::Active,
                    prefix: *prefix,
                    next_hop_type: NextHopType::VirtualNetworkGateway,
                    next_hop_ip: None,
                    name: None,
                    route_table: None,
                    target: Target::Gateway(*g),
                },
                inv,
            );
        }
        for (prefix, hops) in &inp.bgp_routes {
            // The same prefix from a VPN or ExpressRoute gateway is preferred (R-RS-03).
            if out
                .iter()
                .any(|r| r.source == RouteSource::VirtualNetworkGateway && r.prefix == *prefix)
            {
                continue;
            }
            // R-RS-05: the VNet's, peerings' and service endpoints' system routes beat BGP
            // routes inside them, however specific.
            let inv = system_spaces
                .iter()
                .chain(inp.service_endpoints.iter())
                .any(|s| contains(s, prefix));
            if prefix.prefix_len() == 0 {
                bgp_default = true;
            }
            for (ip, target) in hops {
                push(
                    &mut out,
                    &mut pre_invalid,
                    EffectiveRoute {
                        source: RouteSource::VirtualNetworkGateway,
                        state: RouteState::Active,
                        prefix: *prefix,
                        next_hop_type: NextHopType::VirtualNetworkGateway,
                        next_hop_ip: Some(*ip),
                        name: None,
                        route_table: None,
                        target: *target,
                    },
                    inv,
                );
            }
        }
    }
    // R-RT-07: service endpoint routes, only in the subnets that enabled the endpoint.
    for p in &inp.service_endpoints {
        push(
            &mut out,
            &mut pre_invalid,
            sys(
                *p,
                NextHopType::VirtualNetworkServiceEndpoint,
                Target::ServiceEndpoint,
            ),
            false,
        );
    }
    push(
        &mut out,
        &mut pre_invalid,
        sys(
            "0.0.0.0/0".parse().unwrap(),
            NextHopType::Internet,
            Target::Internet,
        ),
        false,
    );

    let user: &[UserRoute] = match &inp.route_table {
        Some((_, _, routes)) => routes,
        None => &[],
    };
    // R2.2: a 0.0.0.0/0 user route (or, per U2, a gateway-learned default) removes the None routes.
    let default_override = user.iter().any(|u| u.prefix.prefix_len() == 0) || bgp_default;
    if !default_override {
        for r in reserved_private() {
            // R2.1/R-RT-03: absent when the VNet's or a peer's space equals or contains it.
            if system_spaces.iter().any(|s| contains(s, &r)) {
                continue;
            }
            push(
                &mut out,
                &mut pre_invalid,
                sys(r, NextHopType::None, Target::Drop),
                false,
            );
        }
    }
    // R4.1/R4.3: Private Endpoint /32s and their invalidation.
    for &(pe, ip, policies, space_len) in &inp.endpoints {
        let p = Ipv4Net::new(ip.into(), 32).unwrap();
        let inv = policies
            && user
                .iter()
                .any(|u| contains_ip(&u.prefix, ip) && u.prefix.prefix_len() >= space_len);
        push(
            &mut out,
            &mut pre_invalid,
            sys(p, NextHopType::InterfaceEndpoint, Target::Pe(pe)),
            inv,
        );
    }
    // R2.5: user routes.
    if let Some((rt, _, routes)) = &inp.route_table {
        for u in routes {
            push(
                &mut out,
                &mut pre_invalid,
                EffectiveRoute {
                    source: RouteSource::User,
                    state: RouteState::Active,
                    prefix: u.prefix,
                    next_hop_type: u.next_hop_type,
                    next_hop_ip: u.next_hop_ip,
                    name: Some(u.name.clone()),
                    route_table: Some(*rt),
                    target: u.target,
                },
                false,
            );
        }
    }
    // R2.6: among routes of the same prefix, the highest source precedence stays Active; where
    // that is a Route Server route, its equal-cost siblings stay Active with it (ECMP).
    let from_route_server = |r: &EffectiveRoute| {
        r.source == RouteSource::VirtualNetworkGateway && r.next_hop_ip.is_some()
    };
    let best_of = best_of_prefix(&out, &pre_invalid);
    for i in 0..out.len() {
        if pre_invalid[i] {
            out[i].state = RouteState::Invalid;
            continue;
        }
        let best = best_of[i];
        out[i].state = if best == i || (from_route_server(&out[best]) && from_route_server(&out[i]))
        {
            RouteState::Active
        } else {
            RouteState::Invalid
        };
    }
    out
}

/// For each route that is not invalidated already, the route of its prefix that wins (R2.6):
/// the highest source precedence, the first listed among equals. One sort, not a scan of
/// every route per route: a hub's subnets hold a route per peered VNet and per Private
/// Endpoint in them.
fn best_of_prefix(out: &[EffectiveRoute], pre_invalid: &[bool]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..out.len()).filter(|&j| !pre_invalid[j]).collect();
    order.sort_unstable_by_key(|&j| {
        (
            out[j].prefix,
            std::cmp::Reverse(out[j].source.precedence()),
            j,
        )
    });
    let mut best = vec![usize::MAX; out.len()];
    for group in order.chunk_by(|&a, &b| out[a].prefix == out[b].prefix) {
        for &j in group {
            best[j] = group[0];
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn lone_vnet_has_the_six_system_routes() {
        // Vector 1 (R2.1).
        let space = [p("10.1.0.0/16")];
        let inp = RouteInputs {
            own_space: &space,
            peers: vec![],
            gateway_routes: vec![],
            bgp_routes: vec![],
            endpoints: vec![],
            route_table: None,
            vnet: VnetId(0),
            connected_group: vec![],
            service_endpoints: vec![],
        };
        let r = effective_routes(&inp);
        let got: Vec<(String, &str, &str)> = r
            .iter()
            .map(|r| {
                (
                    r.prefix.to_string(),
                    r.next_hop_type.as_str(),
                    r.state.as_str(),
                )
            })
            .collect();
        let want = [
            ("10.1.0.0/16", "VnetLocal"),
            ("0.0.0.0/0", "Internet"),
            ("10.0.0.0/8", "None"),
            ("172.16.0.0/12", "None"),
            ("192.168.0.0/16", "None"),
            ("100.64.0.0/10", "None"),
        ];
        assert_eq!(got.len(), want.len());
        for (p, nh) in want {
            assert!(
                got.contains(&(p.to_string(), nh, "Active")),
                "missing {p} {nh}: {got:?}"
            );
        }
        assert!(r.iter().all(|r| r.source == RouteSource::Default));
    }
}
