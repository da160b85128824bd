//! Azure Route Server: which of the routes its NVA peers advertise it programs (R-RS).
//!
//! Per prefix, the shortest AS path wins; peers tied on the shortest path all stay, one next hop
//! each (ECMP). A peer that advertises more than 1,000 routes loses its BGP session and none of
//! its routes are programmed; a route whose AS path holds the route server's own ASN is refused
//! (BGP loop prevention).
//! learn.microsoft.com/azure/route-server/route-server-faq,
//! learn.microsoft.com/azure/route-server/route-server-limits

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vnetsim_model as m;
use vnetsim_model::route_server::{MAX_ROUTES_PER_PEER, ROUTE_SERVER_ASN};

/// What one Route Server programs, and whether it exchanges routes with the VNet's gateways.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
pub(crate) struct Programmed {
    /// Branch-to-branch (`allowBranchToBranchTraffic`).
    pub branch_to_branch: bool,
    /// Per prefix, in the order first advertised, the next hops (peer IPs, declaration order).
    pub routes: Vec<(Ipv4Net, Vec<Ipv4Addr>)>,
}

impl Programmed {
    pub fn prefixes(&self) -> impl Iterator<Item = Ipv4Net> + '_ {
        self.routes.iter().map(|r| r.0)
    }
}

/// The best routes of a route server's peers.
pub(crate) fn programmed(rs: &m::RouteServer) -> Programmed {
    let mut ix: HashMap<Ipv4Net, usize> = HashMap::new();
    let mut best: Vec<(Ipv4Net, usize, Vec<Ipv4Addr>)> = Vec::new();
    let live = rs
        .bgp_peers
        .iter()
        .filter(|p| p.advertises.len() <= MAX_ROUTES_PER_PEER);
    for p in live {
        let asn = p.peer_asn.value;
        for a in &p.advertises {
            if a.as_path.contains(&ROUTE_SERVER_ASN) {
                continue;
            }
            let len = a.as_path_len(asn);
            let ip = p.peer_ip.value;
            let i = *ix.entry(a.prefix.value).or_insert_with(|| {
                best.push((a.prefix.value, usize::MAX, Vec::new()));
                best.len() - 1
            });
            let b = &mut best[i];
            if len < b.1 {
                b.1 = len;
                b.2 = vec![ip];
            } else if len == b.1 && !b.2.contains(&ip) {
                b.2.push(ip);
            }
        }
    }
    Programmed {
        branch_to_branch: rs.allow_branch_to_branch_traffic,
        routes: best.into_iter().map(|(p, _, h)| (p, h)).collect(),
    }
}
