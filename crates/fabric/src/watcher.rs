//! Network Watcher's questions answered from the compiled tables: effective
//! routes, next hop, effective security rules and IP flow verify.

use std::net::Ipv4Addr;

use crate::admin::{AdminAccess, AdminTable};
use crate::classify::Key;
use crate::routes::{EffectiveRoute, NextHopType, RouteSource};
use crate::security::{Access, NsgTable};
use crate::{Fabric, NicId, SubnetId};

pub fn effective_routes(f: &Fabric, s: SubnetId) -> &[EffectiveRoute] {
    &f.route_set(s).routes
}

/// The next hop addresses effective routes show for a route: a gateway route's gateway instance
/// addresses (two for active-active, where the topology declares them), else its own.
pub fn next_hop_ips(f: &Fabric, r: &EffectiveRoute) -> Vec<Ipv4Addr> {
    match (r.source, r.target) {
        (RouteSource::VirtualNetworkGateway, crate::Target::Gateway(g)) => {
            f.gateways[g.ix()].instance_ips.clone()
        }
        _ => r.next_hop_ip.into_iter().collect(),
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct NextHop {
    pub next_hop_type: NextHopType,
    pub next_hop_ip: Option<Ipv4Addr>,
    /// The route table name when a user route won, else `System Route`.
    pub route_table_id: String,
    pub route: Option<EffectiveRoute>,
}

/// Next hop from a subnet toward `dst` (one hop, from the subnet's table).
pub fn next_hop(f: &Fabric, s: SubnetId, dst: Ipv4Addr) -> NextHop {
    let rs = f.route_set(s);
    match rs.lookup(u32::from(dst)) {
        Some(i) => {
            let r = &rs.routes[i as usize];
            NextHop {
                next_hop_type: r.next_hop_type,
                next_hop_ip: next_hop_ips(f, r).first().copied(),
                route_table_id: match (r.source, r.route_table) {
                    (RouteSource::User, Some(rt)) => f.route_tables[rt.ix()].name.clone(),
                    _ => "System Route".to_string(),
                },
                route: Some(r.clone()),
            }
        }
        None => NextHop {
            next_hop_type: NextHopType::None,
            next_hop_ip: None,
            route_table_id: "System Route".to_string(),
            route: None,
        },
    }
}

/// Which resource an NSG is associated with, in effective-rules output.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Association {
    Subnet(SubnetId),
    NetworkInterface(NicId),
}

/// The NSGs that apply to a NIC: the subnet's, then the NIC's (R5.3, R-NW-05).
pub fn effective_rules(f: &Fabric, nic: NicId) -> Vec<(Association, &str, &NsgTable)> {
    let n = &f.nics[nic.ix()];
    let s = &f.subnets[n.subnet.ix()];
    let mut out = Vec::new();
    if let (Some(t), Some(id)) = (s.nsg_table, s.nsg) {
        out.push((
            Association::Subnet(n.subnet),
            f.nsg_names[id.ix()].as_str(),
            &f.nsg_tables[t.ix()],
        ));
    }
    if let (Some(t), Some(id)) = (n.nsg_table, n.nsg) {
        out.push((
            Association::NetworkInterface(nic),
            f.nsg_names[id.ix()].as_str(),
            &f.nsg_tables[t.ix()],
        ));
    }
    out
}

/// The AVNM security admin rules that reach a NIC (its subnet's), evaluated before its NSGs.
pub fn admin_rules(f: &Fabric, nic: NicId) -> Option<&AdminTable> {
    let s = &f.subnets[f.nics[nic.ix()].subnet.ix()];
    s.admin_table.map(|t| &f.admin_tables[t.ix()])
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub access: Access,
    /// `NSGNAME/RULENAME`; `None` when no NSG applies.
    pub rule_name: Option<String>,
    /// A rule with an `unresolved:` field that may decide first (`RULE: why`): then `access`
    /// and `rule_name` are what the other rules say, and the answer is not known.
    pub unresolved: Option<String>,
}

/// `RULE: why` of an unresolved rule.
fn unresolved_text(name: &str, u: &crate::unresolved::UnresolvedRules, i: u32) -> String {
    let r = &u.rules[i as usize];
    format!("{name}: {}", r.why)
}

/// IP flow verify (R5.6, R-NW-02): what the security admin rules and NSGs of a NIC say, from
/// the rules only. Admin rules first: `Deny` and `AlwaysAllow` decide, `Allow` goes on to the
/// NSGs. Inbound: subnet NSG then NIC NSG; outbound: NIC then subnet. The first deny decides;
/// when all allow, the allow of the last NSG evaluated is named (U13), or the admin `Allow`
/// rule when no NSG applies.
pub fn flow_verify(
    f: &Fabric,
    nic: NicId,
    dir: Direction,
    proto: u8,
    local: (Ipv4Addr, u16),
    remote: (Ipv4Addr, u16),
) -> Verdict {
    let mut nsgs = effective_rules(f, nic);
    let key = match dir {
        Direction::Inbound => Key {
            proto,
            src: remote.0.into(),
            dst: local.0.into(),
            sport: remote.1,
            dport: local.1,
        },
        Direction::Outbound => {
            nsgs.reverse();
            Key {
                proto,
                src: local.0.into(),
                dst: remote.0.into(),
                sport: local.1,
                dport: remote.1,
            }
        }
    };
    let mut last = None;
    let mut unresolved = None;
    if let Some(a) = admin_rules(f, nic) {
        let rules = a.rules(dir == Direction::Inbound);
        let decided = rules.decide(&key);
        if let (Some(i), Some(u)) = (
            rules.unresolved_ahead(&key, decided.map(|d| d.1)),
            &rules.unresolved,
        ) {
            unresolved = Some(unresolved_text(&u.rules[i as usize].name, u, i));
        }
        if let Some((access, i)) = decided {
            let name = rules.rules[i as usize].name.clone();
            match access {
                AdminAccess::Deny => {
                    return Verdict {
                        access: Access::Deny,
                        rule_name: Some(name),
                        unresolved,
                    }
                }
                AdminAccess::AlwaysAllow => {
                    return Verdict {
                        access: Access::Allow,
                        rule_name: Some(name),
                        unresolved,
                    }
                }
                AdminAccess::Allow => last = Some(name),
            }
        }
    }
    for (_, name, t) in nsgs {
        let table = match dir {
            Direction::Inbound => &t.inbound,
            Direction::Outbound => &t.outbound,
        };
        let (access, i) = table.decide(&key);
        let rule = table.rule_name(name, i);
        if let (None, Some(j), Some(u)) = (
            &unresolved,
            table.unresolved_ahead(&key, i),
            &table.unresolved,
        ) {
            let rule = format!("{name}/{}", u.rules[j as usize].name);
            unresolved = Some(unresolved_text(&rule, u, j));
        }
        if access == Access::Deny {
            return Verdict {
                access,
                rule_name: Some(rule),
                unresolved,
            };
        }
        last = Some(rule);
    }
    Verdict {
        access: Access::Allow,
        rule_name: last,
        unresolved,
    }
}

/// Where a route a gateway advertises to a site came from.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdvertisedOrigin {
    /// The gateway's VNet or a spoke that uses it (`useRemoteGateways`).
    VirtualNetwork,
    /// Learned from another connection of the gateway (BGP transit, Vnet2Vnet).
    Connection(crate::GatewayPeer),
    /// Learned through the VNet's route server with branch-to-branch on (an NVA's route, or
    /// the other gateway type's: ExpressRoute <-> VPN).
    BranchToBranch,
}

/// The routes the gateways of site `s` advertise to it (`az network vnet-gateway
/// list-advertised-routes`), each prefix once, in gateway order: the VNet's and its spokes'
/// spaces; over BGP also what the gateway learned from its other connections; and, with a
/// route server's branch-to-branch on, what it learned from the route server.
pub fn site_routes(
    f: &Fabric,
    s: crate::SiteId,
) -> Vec<(ipnet::Ipv4Net, crate::GatewayId, AdvertisedOrigin)> {
    let site = &f.sites[s.ix()];
    let mut out: Vec<(ipnet::Ipv4Net, crate::GatewayId, AdvertisedOrigin)> = Vec::new();
    for &g in &site.gateways {
        let gw = &f.gateways[g.ix()];
        let mut rows: Vec<(ipnet::Ipv4Net, AdvertisedOrigin)> = gw
            .advertised
            .iter()
            .map(|p| (*p, AdvertisedOrigin::VirtualNetwork))
            .collect();
        if site.bgp && gw.bgp {
            let other = gw
                .learned
                .iter()
                .filter(|(_, peer)| *peer != crate::GatewayPeer::Site(s));
            rows.extend(other.map(|(p, peer)| (*p, AdvertisedOrigin::Connection(*peer))));
        }
        if (site.bgp && gw.bgp) || site.express_route {
            rows.extend(
                gw.branch
                    .iter()
                    .map(|p| (*p, AdvertisedOrigin::BranchToBranch)),
            );
        }
        for (p, o) in rows {
            if !out.iter().any(|r| r.0 == p) {
                out.push((p, g, o));
            }
        }
    }
    out
}
