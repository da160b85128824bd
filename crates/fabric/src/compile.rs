//! The compiler's steps, in the order they run. Each step reads the validated topology and
//! what earlier steps built, and fills in one part of the [`Fabric`]:
//!
//! 1. [`Names`]: every declared name to its index;
//! 2. [`number_vnets`]: VNets and subnets get their ids;
//! 3. [`connect_peerings`]: which VNet pairs are connected, with each side's flags;
//! 4. [`compile_gateways`]: gateways, what they learn from sites and what they advertise;
//! 5. [`compile_endpoints`]: services, NICs, Private Endpoints, firewalls;
//! 6. [`owner_tables`]: who owns each private (per VNet and global) and public address;
//! 7. [`compile_route_sets`]: per subnet, effective routes, deduplicated into route sets;
//! 8. [`compile_nsg_tables`]: per NSG association, the NSG with its tags expanded;
//! 9. [`compile_admin_tables`]: per subnet that AVNM admin rules reach, those rules.
//!
//! Every step is linear in the size of its input, or n log n where it sorts.

use rayon::prelude::*;
use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vnetsim_model as m;

use crate::load_balancer::{self, AppGateway, Frontend};
use crate::lpm::Fib;
use crate::prefix::{self, contains};
use crate::route_server::{self, Programmed};
use crate::routes::{self, EffectiveRoute, NextHopType, RouteState, Target};
use crate::security::{self, NsgTable, TagSets};
use crate::service_tags;
use crate::{
    firewall, AppGwId, Fabric, FirewallId, Gateway, GatewayId, GatewayPeer, LbFrontendId,
    NatGateway, NatGatewayId, Nic, NicId, NsgId, NsgTableId, Owner, PeId, PeerLink,
    PrivateEndpoint, PublicOwner, RouteSet, RouteSetId, RouteTableId, RouteTableInfo, Service,
    ServiceId, Site, SiteId, Subnet, SubnetId, Vnet, VnetId,
};

/// Compiles a validated topology.
pub fn compile(v: &m::Validated) -> Fabric {
    let t = v.topology();
    let names = Names::new(t);
    let (mut vnets, mut subnets) = number_vnets(t, &names);
    let nat_gateways = compile_nat_gateways(t);
    let peerings = connect_peerings(t, &names, &mut vnets);
    let (sites, gws) = compile_gateways(t, &names, &vnets, &peerings);
    let (services, mut nics, pes, firewalls) = compile_endpoints(t, &names, &vnets, &subnets);
    let subnet_of = |p: &str| names.subnet(p);
    let mut lbs = load_balancer::compile_load_balancers(t, &subnet_of, &subnets);
    let app_gateways = load_balancer::compile_app_gateways(t, &subnet_of, &subnets, &nics);
    let extra = ExtraOwners {
        frontends: &lbs.frontends,
        app_gateways: &app_gateways,
    };
    let owners = owner_tables(
        &mut vnets, &subnets, &nics, &pes, &firewalls, &services, &sites, t, &extra,
    );
    let route_sets = compile_route_sets(t, &vnets, &mut subnets, &nics, &pes, &peerings, &gws);
    let nsg_tables = compile_nsg_tables(t, &vnets, &mut subnets, &mut nics, &peerings, &gws);
    let admin_tables = compile_admin_tables(t, &vnets, &mut subnets, &peerings, &gws);
    load_balancer::probe_health(t, &mut lbs.lbs, &nics, &subnets, &nsg_tables);
    Fabric {
        name: t.name.clone(),
        vnets,
        subnets,
        nics,
        pes,
        services,
        sites,
        gateways: gws.gateways,
        firewalls,
        nat_gateways,
        load_balancers: lbs.lbs,
        lb_frontends: lbs.frontends,
        lb_outbound: lbs.outbound,
        app_gateways,
        route_tables: t
            .route_tables
            .iter()
            .map(|r| RouteTableInfo {
                name: r.name.value.clone(),
                disable_bgp_route_propagation: r.disable_bgp_route_propagation,
            })
            .collect(),
        route_sets,
        nsg_names: t.nsgs.iter().map(|n| n.name.value.clone()).collect(),
        nsg_tables: crate::deferred::Deferred::built(nsg_tables),
        admin_tables,
        public: owners.public,
        site_prefixes: owners.site_prefixes,
        private: owners.private,
        subnet_prefixes: owners.subnet_prefixes,
        not_modelled: t
            .not_modelled
            .iter()
            .map(|x| crate::NotModelled {
                resource_type: x.resource_type.clone(),
                id: x.id.clone(),
                affects: x.affects.clone(),
                vnet: x.vnet.as_ref().map(|v| VnetId(names.vnet(&v.value) as u32)),
                gateway: x.gateway.as_ref().and_then(|g| {
                    let i = t.gateways.iter().position(|y| y.name.value == g.value)?;
                    Some(GatewayId(i as u32))
                }),
            })
            .collect(),
        not_modelled_addresses: fib_of(t.not_modelled.iter().enumerate().rev().flat_map(
            |(i, x)| {
                x.addresses
                    .iter()
                    .map(move |a| (host(ip(a.value)), i as u32))
            },
        )),
    }
}

/// The `notModelled` entry (a Virtual WAN hub connection) that gives subnet `s` of VNet `vnet`
/// routes vnetsim does not know: none when the subnet's route table turns gateway route
/// propagation off, which keeps hub routes out as it keeps gateway routes out (R2.4).
fn hub_routes(t: &m::Topology, vnet: &str, s: &m::Subnet) -> Option<u32> {
    let off = s.route_table.as_ref().is_some_and(|r| {
        t.route_tables
            .iter()
            .any(|x| x.name.value == r.value && x.disable_bgp_route_propagation)
    });
    if off {
        return None;
    }
    let i = t
        .not_modelled
        .iter()
        .position(|x| x.vnet.as_ref().is_some_and(|v| v.value == vnet))?;
    Some(i as u32)
}

fn on_gateway(x: &m::NotModelled, gateway: &str) -> bool {
    x.gateway.as_ref().is_some_and(|g| g.value == gateway)
}

/// The prefixes the `notModelled` NAT rules of `gateway` rewrite, to their entry (the first
/// declared where they overlap).
fn gateway_nat(t: &m::Topology, gateway: &str) -> Fib {
    fib_of(
        t.not_modelled
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, x)| on_gateway(x, gateway))
            .flat_map(|(i, x)| x.prefixes.iter().map(move |p| (p.value, i as u32))),
    )
}

pub(crate) fn ip(a: Ipv4Addr) -> u32 {
    u32::from(a)
}

pub(crate) fn fib_of(items: impl Iterator<Item = (Ipv4Net, u32)>) -> Fib {
    let v: Vec<(u32, u8, u32)> = items
        .map(|(p, v)| (prefix::net(&p).0, prefix::net(&p).1, v))
        .collect();
    Fib::build(&v)
}

fn host(a: u32) -> Ipv4Net {
    Ipv4Net::new(a.into(), 32).expect("a /32 is valid")
}

/// Step 1: declared names to indices (the topology is validated: every reference resolves).
pub(crate) struct Names<'t> {
    vnet: HashMap<&'t str, usize>,
    route_table: HashMap<&'t str, usize>,
    nsg: HashMap<&'t str, usize>,
    site: HashMap<&'t str, usize>,
    service: HashMap<&'t str, usize>,
    /// `VNET/SUBNET` to subnet index, filled by [`number_vnets`].
    subnet: HashMap<String, usize>,
}

fn index_of<'t, T>(items: &'t [T], name: impl Fn(&'t T) -> &'t str) -> HashMap<&'t str, usize> {
    items
        .iter()
        .enumerate()
        .map(|(i, x)| (name(x), i))
        .collect()
}

impl<'t> Names<'t> {
    fn new(t: &'t m::Topology) -> Names<'t> {
        let mut subnet = HashMap::new();
        let mut n = 0;
        for v in &t.vnets {
            for s in &v.subnets {
                subnet.insert(format!("{}/{}", v.name.value, s.name.value), n);
                n += 1;
            }
        }
        Names {
            vnet: index_of(&t.vnets, |v| v.name.value.as_str()),
            route_table: index_of(&t.route_tables, |r| r.name.value.as_str()),
            nsg: index_of(&t.nsgs, |r| r.name.value.as_str()),
            site: index_of(&t.sites, |r| r.name.value.as_str()),
            service: index_of(&t.services, |r| r.name.value.as_str()),
            subnet,
        }
    }
    fn vnet(&self, name: &str) -> usize {
        self.vnet[name]
    }
    fn subnet(&self, path: &str) -> SubnetId {
        SubnetId(self.subnet[path] as u32)
    }
    fn nsg(&self, name: &str) -> NsgId {
        NsgId(self.nsg[name] as u32)
    }
}

/// Step 2: VNets and their subnets, in declaration order.
fn number_vnets(t: &m::Topology, names: &Names) -> (Vec<Vnet>, Vec<Subnet>) {
    let mut subnets: Vec<Subnet> = Vec::new();
    let mut vnets: Vec<Vnet> = Vec::new();
    for (vi, v) in t.vnets.iter().enumerate() {
        let mut ids = Vec::new();
        let (mut gws, mut fws) = (None, None);
        for s in &v.subnets {
            let id = SubnetId(subnets.len() as u32);
            if s.name.value == m::GATEWAY_SUBNET {
                gws = Some(id);
            }
            if s.name.value == m::FIREWALL_SUBNET {
                fws = Some(id);
            }
            ids.push(id);
            subnets.push(Subnet {
                name: s.name.value.clone(),
                vnet: VnetId(vi as u32),
                prefix: s.address_prefix.value,
                route_set: RouteSetId(0),
                route_table: s
                    .route_table
                    .as_ref()
                    .map(|r| RouteTableId(names.route_table[r.value.as_str()] as u32)),
                nsg: s.nsg.as_ref().map(|n| names.nsg(&n.value)),
                nsg_table: None,
                pe_policies: s.private_endpoint_network_policies,
                nat_gateway: s.nat_gateway.as_ref().map(|n| {
                    let i = t.nat_gateways.iter().position(|g| g.name.value == n.value);
                    NatGatewayId(i.expect("validated") as u32)
                }),
                default_outbound_access: s.default_outbound_access,
                admin_table: None,
                hub_routes: hub_routes(t, &v.name.value, s),
            });
        }
        let space: Vec<Ipv4Net> = v.address_space.iter().map(|a| a.value).collect();
        vnets.push(Vnet {
            name: v.name.value.clone(),
            space: fib_of(space.iter().map(|p| (*p, 1))),
            address_space: space,
            subnets: ids,
            peers: Vec::new(),
            gateway_subnet: gws,
            firewall_subnet: fws,
            owners: Fib::default(),
        });
    }
    (vnets, subnets)
}

/// NAT gateways and the address each one's connections leave from.
fn compile_nat_gateways(t: &m::Topology) -> Vec<NatGateway> {
    t.nat_gateways
        .iter()
        .map(|n| NatGateway {
            name: n.name.value.clone(),
            snat_ip: n
                .public_ip_addresses
                .first()
                .map(|a| ip(a.value))
                .or_else(|| n.public_ip_prefixes.first().map(|p| ip(p.value.network())))
                .expect("validated: a public IP or prefix"),
        })
        .collect()
}

/// Step 3's result: the peering objects by (from, to), and the connected pairs.
pub(crate) struct Peerings<'t> {
    own_flags: HashMap<(usize, usize), &'t m::Peering>,
    /// Per VNet, the VNets it is connected to (both peering objects exist, R2.1), in the order
    /// the peerings are declared (the order `routes` lists them in).
    connected: Vec<Vec<usize>>,
    /// The same, sorted, for lookups.
    sorted: Vec<Vec<usize>>,
}

impl Peerings<'_> {
    fn connected(&self, a: usize, b: usize) -> bool {
        self.sorted[a].binary_search(&b).is_ok()
    }
}

/// Step 3: peerings are connected when both directions exist (R2.1). Each VNet records its
/// own object's flags toward each peer; `Vnet::peers` is sorted by id for binary search.
fn connect_peerings<'t>(t: &'t m::Topology, names: &Names, vnets: &mut [Vnet]) -> Peerings<'t> {
    let mut own_flags: HashMap<(usize, usize), &m::Peering> = HashMap::new();
    for p in &t.peerings {
        own_flags.insert((names.vnet(&p.from.value), names.vnet(&p.to.value)), p);
    }
    let mut connected: Vec<Vec<usize>> = vec![Vec::new(); vnets.len()];
    let mut seen: std::collections::HashSet<(usize, usize)> = std::collections::HashSet::new();
    for p in &t.peerings {
        let a = names.vnet(&p.from.value);
        let b = names.vnet(&p.to.value);
        if own_flags.contains_key(&(b, a)) && seen.insert((a, b)) {
            connected[a].push(b);
        }
    }
    let mut sorted = connected.clone();
    for (a, list) in sorted.iter_mut().enumerate() {
        list.sort_unstable();
        vnets[a].peers = list
            .iter()
            .map(|&b| PeerLink {
                vnet: VnetId(b as u32),
                allow_forwarded_traffic: own_flags[&(a, b)].allow_forwarded_traffic,
            })
            .collect();
    }
    Peerings {
        own_flags,
        connected,
        sorted,
    }
}

/// Step 4's result.
pub(crate) struct Gateways {
    gateways: Vec<Gateway>,
    /// Per VNet, its own gateways.
    of_vnet: Vec<Vec<GatewayId>>,
    /// Per VNet, the hub whose gateways it uses (`useRemoteGateways` honoured).
    transit_hub: Vec<Option<usize>>,
    /// Per gateway, whether it is an ExpressRoute gateway.
    express_route: Vec<bool>,
    /// Per VNet, what its Route Server programs.
    route_servers: Vec<Option<Programmed>>,
}

impl Gateways {
    /// On-premises prefixes a subnet of VNet `vi` learns, with the gateway that learned each:
    /// its own gateways', or its transit hub's (R2.3, R-RT-12).
    fn routes_of(&self, vi: usize) -> Vec<(Ipv4Net, GatewayId)> {
        let mut gws: &[GatewayId] = &self.of_vnet[vi];
        if gws.is_empty() {
            if let Some(h) = self.transit_hub[vi] {
                gws = &self.of_vnet[h];
            }
        }
        // For the same prefix the first gateway's route is kept: ExpressRoute gateways go first,
        // as Azure prefers ExpressRoute over VPN for an equal prefix.
        let er_first = gws.iter().filter(|g| self.express_route[g.ix()]);
        let vpn = gws.iter().filter(|g| !self.express_route[g.ix()]);
        er_first
            .chain(vpn)
            .flat_map(|&g| {
                self.gateways[g.ix()]
                    .learned
                    .iter()
                    .map(move |(p, _)| (*p, g))
            })
            .collect()
    }
    /// Route Server routes a subnet of VNet `vi` gets: its own VNet's route server's, else its
    /// transit hub's (peered VNets that use remote gateways, R-RS-02). GatewaySubnet gets them
    /// only with branch-to-branch on: the gateway learns them from the route server then.
    fn nva_routes_of(&self, vi: usize, gateway_subnet: bool) -> &[(Ipv4Net, Vec<Ipv4Addr>)] {
        let own = self.route_servers[vi].as_ref();
        let rs = if own.is_some() || !self.of_vnet[vi].is_empty() {
            own
        } else {
            self.transit_hub[vi].and_then(|h| self.route_servers[h].as_ref())
        };
        match rs {
            Some(p) if !gateway_subnet || p.branch_to_branch => &p.routes,
            _ => &[],
        }
    }
    /// The VPN gateway a `VirtualNetworkGateway` user route in VNet `vi` reaches (R2.8): its
    /// own, else its transit hub's. A user route cannot name an ExpressRoute gateway
    /// (learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview, next hop types).
    fn udr_target(&self, t: &m::Topology, vi: usize) -> Target {
        let gws = if self.of_vnet[vi].is_empty() {
            self.transit_hub[vi]
                .map(|h| &self.of_vnet[h][..])
                .unwrap_or(&[])
        } else {
            &self.of_vnet[vi][..]
        };
        let vpn = |g: &&GatewayId| t.gateways[g.ix()].gateway_type == m::GatewayType::Vpn;
        match (gws.iter().find(vpn), gws.first()) {
            (Some(&g), _) => Target::Gateway(g),
            (None, Some(&er)) => Target::ExpressRouteGateway(er),
            (None, None) => Target::NoGateway,
        }
    }
}

/// Step 4: sites, gateways and the prefixes they learn (static, and BGP when both ends speak
/// it, R2.3) and advertise (their VNet's space and their transit spokes', R7.1).
fn compile_gateways(
    t: &m::Topology,
    names: &Names,
    vnets: &[Vnet],
    peerings: &Peerings,
) -> (Vec<Site>, Gateways) {
    let mut sites: Vec<Site> = t
        .sites
        .iter()
        .map(|s| Site {
            name: s.name.value.clone(),
            prefixes: s.address_prefixes.iter().map(|p| p.value).collect(),
            gateways: Vec::new(),
            bgp: s.bgp.is_some(),
            express_route: false,
        })
        .collect();
    // Circuits follow the sites; BGP over private peering, but not re-advertised to BGP sites
    // (ExpressRoute-to-VPN transit is off by default).
    sites.extend(t.express_route_circuits.iter().map(|c| Site {
        name: c.name.value.clone(),
        prefixes: c.advertised_prefixes.iter().map(|p| p.value).collect(),
        gateways: Vec::new(),
        bgp: false,
        express_route: true,
    }));
    let mut route_servers: Vec<Option<Programmed>> = vec![None; vnets.len()];
    for rs in &t.route_servers {
        route_servers[names.vnet(&rs.vnet.value)] = Some(route_server::programmed(rs));
    }
    let mut gateways: Vec<Gateway> = Vec::new();
    let mut of_vnet: Vec<Vec<GatewayId>> = vec![Vec::new(); vnets.len()];
    for g in &t.gateways {
        let vi = names.vnet(&g.vnet.value);
        let id = GatewayId(gateways.len() as u32);
        of_vnet[vi].push(id);
        for c in &g.connections {
            sites[names.site[c.value.as_str()]].gateways.push(id);
        }
        let mut learned = learned_prefixes(t, names, g, &vnets[vi]);
        for c in &g.circuits {
            let ci = circuit_site(t, &c.value);
            sites[ci].gateways.push(id);
            for p in &sites[ci].prefixes {
                let inside = vnets[vi].address_space.iter().any(|s| contains(s, p));
                if !inside && !learned.iter().any(|l| l.0 == *p) {
                    learned.push((*p, GatewayPeer::Site(SiteId(ci as u32))));
                }
            }
        }
        gateways.push(Gateway {
            name: g.name.value.clone(),
            vnet: VnetId(vi as u32),
            subnet: vnets[vi].gateway_subnet,
            bgp: g.bgp_asn.is_some(),
            instance_ips: g.instance_addresses.iter().map(|a| a.value).collect(),
            learned_fib: Fib::default(),
            learned,
            advertised: Vec::new(),
            advertised_fib: Fib::default(),
            bgp_advertised_fib: Fib::default(),
            branch: Vec::new(),
            branch_fib: Fib::default(),
            nat_fib: gateway_nat(t, &g.name.value),
            nat_everywhere: t
                .not_modelled
                .iter()
                .position(|x| on_gateway(x, &g.name.value) && x.prefixes.is_empty())
                .map(|i| i as u32),
        });
    }
    let has_rs: Vec<bool> = route_servers.iter().map(Option::is_some).collect();
    let transit_hub = transit_hubs(peerings, &of_vnet, &has_rs);
    let mut spokes_of: Vec<Vec<usize>> = vec![Vec::new(); vnets.len()];
    for (s, h) in transit_hub.iter().enumerate() {
        if let Some(h) = h {
            spokes_of[*h].push(s);
        }
    }
    for g in gateways.iter_mut() {
        let hub = g.vnet.ix();
        let mut adv = vnets[hub].address_space.clone();
        for &s in &spokes_of[hub] {
            adv.extend(vnets[s].address_space.iter().copied());
        }
        g.advertised_fib = fib_of(adv.iter().map(|p| (*p, 1)));
        g.advertised = adv;
    }
    learn_vnet2vnet(t, &mut gateways, vnets);
    let express_route: Vec<bool> = t
        .gateways
        .iter()
        .map(|g| g.gateway_type == m::GatewayType::ExpressRoute)
        .collect();
    branch_to_branch(&mut gateways, &route_servers, &express_route);
    for g in gateways.iter_mut() {
        g.branch_fib = fib_of(g.branch.iter().map(|p| (*p, 1)));
        g.learned_fib = fib_of(g.learned.iter().map(|(p, s)| (*p, s.encode())));
        let all = g
            .advertised
            .iter()
            .copied()
            .chain(g.learned.iter().map(|l| l.0));
        g.bgp_advertised_fib = fib_of(all.map(|p| (p, 1)));
    }
    (
        sites,
        Gateways {
            gateways,
            of_vnet,
            transit_hub,
            express_route,
            route_servers,
        },
    )
}

/// Branch-to-branch (R-RS-04): where a VNet's route server has `allowBranchToBranchTraffic`, its
/// gateways learn the NVAs' routes and each other's (ExpressRoute <-> site-to-site VPN), and
/// advertise them to their BGP peers. Without it, the route server exchanges nothing with them.
/// learn.microsoft.com/azure/route-server/expressroute-vpn-support
fn branch_to_branch(gateways: &mut [Gateway], rs: &[Option<Programmed>], er: &[bool]) {
    let learned: Vec<(VnetId, bool, Vec<Ipv4Net>)> = gateways
        .iter()
        .enumerate()
        .map(|(i, g)| (g.vnet, er[i], g.learned.iter().map(|l| l.0).collect()))
        .collect();
    for (i, g) in gateways.iter_mut().enumerate() {
        let Some(p) = rs[g.vnet.ix()].as_ref().filter(|p| p.branch_to_branch) else {
            continue;
        };
        let mut branch: Vec<Ipv4Net> = p.prefixes().collect();
        for (v, other_er, l) in &learned {
            if *v == g.vnet && *other_er != er[i] {
                branch.extend(l.iter().copied());
            }
        }
        g.branch = branch;
    }
}

/// VNet-to-VNet connections (declared on either side, they connect both): each gateway learns
/// the other VNet's address space; with BGP on both ends, everything the other advertises
/// (its transit spokes) and learned from its sites (R-GW-03). Prefixes inside a gateway's own
/// VNet space are filtered, and a prefix already learned keeps its first connection.
fn learn_vnet2vnet(t: &m::Topology, gateways: &mut [Gateway], vnets: &[Vnet]) {
    let id = |name: &str| t.gateways.iter().position(|g| g.name.value == name);
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (a, g) in t.gateways.iter().enumerate() {
        for c in &g.vnet2vnet {
            let b = id(&c.value).expect("validated");
            pairs.extend([(a, b), (b, a)]);
        }
    }
    let snapshot: Vec<(Vec<Ipv4Net>, Vec<Ipv4Net>)> = gateways
        .iter()
        .map(|g| {
            (
                g.advertised.clone(),
                g.learned.iter().map(|l| l.0).collect(),
            )
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for (a, b) in pairs {
        if !seen.insert((a, b)) {
            continue;
        }
        let bgp = gateways[a].bgp && gateways[b].bgp;
        let from_b: Vec<Ipv4Net> = if bgp {
            snapshot[b]
                .0
                .iter()
                .chain(&snapshot[b].1)
                .copied()
                .collect()
        } else {
            vnets[gateways[b].vnet.ix()].address_space.clone()
        };
        let own = &vnets[gateways[a].vnet.ix()].address_space;
        for p in from_b {
            let inside_own = own.iter().any(|s| contains(s, &p));
            if !inside_own && !gateways[a].learned.iter().any(|l| l.0 == p) {
                let peer = GatewayPeer::Gateway(GatewayId(b as u32));
                gateways[a].learned.push((p, peer));
            }
        }
    }
}

/// The fabric site index of circuit `name` (circuits follow the sites).
fn circuit_site(t: &m::Topology, name: &str) -> usize {
    let i = t
        .express_route_circuits
        .iter()
        .position(|c| c.name.value == name);
    t.sites.len() + i.expect("validated")
}

/// What gateway `g` learns from its connections' sites, each prefix once, first site wins.
/// Prefixes equal to or inside the gateway VNet's own space are filtered (R-RT-12).
fn learned_prefixes(
    t: &m::Topology,
    names: &Names,
    g: &m::Gateway,
    vnet: &Vnet,
) -> Vec<(Ipv4Net, GatewayPeer)> {
    let mut learned: Vec<(Ipv4Net, GatewayPeer)> = Vec::new();
    let mut seen: std::collections::HashSet<Ipv4Net> = std::collections::HashSet::new();
    for c in &g.connections {
        let si = names.site[c.value.as_str()];
        let site = &t.sites[si];
        let mut prefixes: Vec<Ipv4Net> = site.address_prefixes.iter().map(|p| p.value).collect();
        if site.bgp.is_some() && g.bgp_asn.is_some() {
            prefixes.extend(site.advertised());
        }
        for p in prefixes {
            if vnet.address_space.iter().any(|s| contains(s, &p)) {
                continue;
            }
            if seen.insert(p) {
                learned.push((p, GatewayPeer::Site(SiteId(si as u32))));
            }
        }
    }
    learned
}

/// Each spoke whose peering uses remote gateways, toward a connected hub that allows gateway
/// transit and has a gateway (R2.3).
/// A route server serves `useRemoteGateways` as a gateway does (R-RS-02).
fn transit_hubs(
    peerings: &Peerings,
    of_vnet: &[Vec<GatewayId>],
    has_rs: &[bool],
) -> Vec<Option<usize>> {
    let mut transit_hub: Vec<Option<usize>> = vec![None; of_vnet.len()];
    let mut pairs: Vec<(&(usize, usize), &&m::Peering)> = peerings.own_flags.iter().collect();
    pairs.sort_by_key(|(k, _)| **k);
    for (&(a, b), p) in pairs {
        if !p.use_remote_gateways || !peerings.connected(a, b) {
            continue;
        }
        if let Some(back) = peerings.own_flags.get(&(b, a)) {
            if back.allow_gateway_transit && (!of_vnet[b].is_empty() || has_rs[b]) {
                transit_hub[a] = Some(b);
            }
        }
    }
    transit_hub
}

/// Step 5: services, NICs, Private Endpoints and firewalls.
fn compile_endpoints(
    t: &m::Topology,
    names: &Names,
    vnets: &[Vnet],
    _subnets: &[Subnet],
) -> (
    Vec<Service>,
    Vec<Nic>,
    Vec<PrivateEndpoint>,
    Vec<firewall::Firewall>,
) {
    let services = t
        .services
        .iter()
        .map(|s| Service {
            name: s.name.value.clone(),
            kind: s.kind.clone(),
            fqdn: s.fqdn.clone(),
            public_ip: s.public_ip_address.as_ref().map(|a| ip(a.value)),
            public_network_access: s.public_network_access,
            accepts_udp: s.accepts_udp,
            acls: crate::ServiceAcls {
                default_deny: s.network_acls.default_deny,
                virtual_network_rules: {
                    let mut v: Vec<SubnetId> = s
                        .network_acls
                        .virtual_network_rules
                        .iter()
                        .map(|r| names.subnet(&r.value))
                        .collect();
                    v.sort_unstable();
                    v
                },
                ip_rules: s
                    .network_acls
                    .ip_rules
                    .iter()
                    .map(|p| prefix::net(&p.value))
                    .collect(),
            },
        })
        .collect();
    let nics = t
        .nics
        .iter()
        .map(|n| Nic {
            name: n.name.value.clone(),
            subnet: names.subnet(&n.subnet.value),
            ip: ip(n.private_ip_address.value),
            public_ip: n.public_ip_address.as_ref().map(|a| ip(a.value)),
            nsg: n.nsg.as_ref().map(|x| names.nsg(&x.value)),
            nsg_table: None,
            ip_forwarding: n.enable_ip_forwarding,
            mac: n.mac_address.as_ref().map(|m| m.value),
        })
        .collect();
    let pes = t
        .private_endpoints
        .iter()
        .map(|p| PrivateEndpoint {
            name: p.name.value.clone(),
            subnet: names.subnet(&p.subnet.value),
            ip: ip(p.private_ip_address.value),
            service: ServiceId(names.service[p.service.value.as_str()] as u32),
        })
        .collect();
    let firewalls = t
        .firewalls
        .iter()
        .map(|f| {
            let vi = names.vnet(&f.vnet.value);
            let subnet = vnets[vi].firewall_subnet.expect("validated");
            firewall::compile(f, VnetId(vi as u32), subnet)
        })
        .collect();
    (services, nics, pes, firewalls)
}

/// Addresses held by load balancer frontends and application gateways.
struct ExtraOwners<'c> {
    frontends: &'c [Frontend],
    app_gateways: &'c [AppGateway],
}

impl ExtraOwners<'_> {
    /// (vnet, address, owner) of every private address, and (address, owner) of public ones.
    fn private(&self, subnets: &[Subnet]) -> Vec<(usize, u32, Owner)> {
        let mut v = Vec::new();
        for (i, f) in self.frontends.iter().enumerate() {
            if let Some(s) = f.subnet {
                v.push((
                    subnets[s.ix()].vnet.ix(),
                    f.ip,
                    Owner::LbFrontend(LbFrontendId(i as u32)),
                ));
            }
        }
        for (i, g) in self.app_gateways.iter().enumerate() {
            let id = AppGwId(i as u32);
            for a in &g.instance_ips {
                v.push((g.vnet.ix(), *a, Owner::AppGwInstance(id)));
            }
            if let Some(a) = g.private_ip {
                v.push((g.vnet.ix(), a, Owner::AppGw(id)));
            }
        }
        v
    }
    fn public(&self) -> Vec<(u32, PublicOwner)> {
        let mut v = Vec::new();
        for (i, f) in self.frontends.iter().enumerate() {
            if f.subnet.is_none() {
                v.push((f.ip, PublicOwner::LbFrontend(LbFrontendId(i as u32))));
            }
        }
        for (i, g) in self.app_gateways.iter().enumerate() {
            if let Some(a) = g.public_ip {
                v.push((a, PublicOwner::AppGw(AppGwId(i as u32))));
            }
        }
        v
    }
}

/// Step 6's result: the global address tables.
struct Owners {
    public: Fib,
    site_prefixes: Fib,
    private: Fib,
    subnet_prefixes: Fib,
}

/// Step 6: who owns each address. Per VNet its NICs, endpoints and firewall addresses; and
/// globally public addresses, site prefixes, every private owner (the first declared VNet wins
/// where spaces overlap) and every subnet prefix.
#[allow(clippy::too_many_arguments)]
fn owner_tables(
    vnets: &mut [Vnet],
    subnets: &[Subnet],
    nics: &[Nic],
    pes: &[PrivateEndpoint],
    firewalls: &[firewall::Firewall],
    services: &[Service],
    sites: &[Site],
    t: &m::Topology,
    extra: &ExtraOwners,
) -> Owners {
    let mut owner_lists: Vec<Vec<(Ipv4Net, u32)>> = vec![Vec::new(); vnets.len()];
    for (i, n) in nics.iter().enumerate() {
        owner_lists[subnets[n.subnet.ix()].vnet.ix()]
            .push((host(n.ip), Owner::Nic(NicId(i as u32)).encode()));
    }
    for (i, p) in pes.iter().enumerate() {
        owner_lists[subnets[p.subnet.ix()].vnet.ix()]
            .push((host(p.ip), Owner::Pe(PeId(i as u32)).encode()));
    }
    for (i, f) in firewalls.iter().enumerate() {
        let id = FirewallId(i as u32);
        for s in &f.snat_ips {
            owner_lists[f.vnet.ix()].push((host(*s), Owner::FirewallInstance(id).encode()));
        }
        owner_lists[f.vnet.ix()].push((host(f.private_ip), Owner::Firewall(id).encode()));
    }
    for (vi, a, o) in extra.private(subnets) {
        owner_lists[vi].push((host(a), o.encode()));
    }
    for (vi, l) in owner_lists.iter().enumerate() {
        vnets[vi].owners = fib_of(l.iter().copied());
    }
    let mut public_list: Vec<(Ipv4Net, u32)> = Vec::new();
    for (i, n) in nics.iter().enumerate() {
        if let Some(p) = n.public_ip {
            public_list.push((host(p), PublicOwner::Nic(NicId(i as u32)).encode()));
        }
    }
    for (i, f) in firewalls.iter().enumerate() {
        for p in &f.public_ips {
            let owner = PublicOwner::Firewall(FirewallId(i as u32));
            public_list.push((host(*p), owner.encode()));
        }
    }
    for (i, s) in services.iter().enumerate() {
        if let Some(p) = s.public_ip {
            public_list.push((host(p), PublicOwner::Service(ServiceId(i as u32)).encode()));
        }
    }
    for (i, n) in t.nat_gateways.iter().enumerate() {
        let owner = PublicOwner::NatGateway(NatGatewayId(i as u32)).encode();
        for a in &n.public_ip_addresses {
            public_list.push((host(ip(a.value)), owner));
        }
        for p in &n.public_ip_prefixes {
            public_list.push((p.value, owner));
        }
    }
    for (a, o) in extra.public() {
        public_list.push((host(a), o.encode()));
    }
    // Later entries win in a FIB build: lists go in reverse so the first declared wins.
    public_list.reverse();
    let mut site_list: Vec<(Ipv4Net, u32)> = Vec::new();
    for (i, s) in sites.iter().enumerate() {
        for p in &s.prefixes {
            site_list.push((*p, i as u32));
        }
    }
    site_list.reverse();
    let subnet_list = subnets
        .iter()
        .enumerate()
        .rev()
        .map(|(i, s)| (s.prefix, i as u32));
    Owners {
        public: fib_of(public_list.into_iter()),
        site_prefixes: fib_of(site_list.into_iter()),
        private: fib_of(owner_lists.iter().rev().flat_map(|l| l.iter().copied())),
        subnet_prefixes: fib_of(subnet_list),
    }
}

/// Resolves a `VirtualAppliance` next hop of VNet `vi` to what owns the address in that VNet
/// or a connected peer (R-NVA-01).
fn resolve_appliance(
    vnets: &[Vnet],
    nics: &[Nic],
    peerings: &Peerings,
    vi: usize,
    a: u32,
) -> Target {
    let candidates = std::iter::once(vi).chain(peerings.connected[vi].iter().copied());
    let unreachable = || {
        let far = vnets.iter().find_map(|v| match v.owner(a) {
            Some(Owner::Nic(n)) if nics[n.ix()].ip_forwarding => Some(n),
            _ => None,
        });
        far.map(Target::ApplianceUnreachable)
            .unwrap_or(Target::ApplianceUnresolved)
    };
    for c in candidates {
        if !vnets[c].in_space(a) {
            continue;
        }
        return match vnets[c].owner(a) {
            Some(Owner::Firewall(f)) | Some(Owner::FirewallInstance(f)) => Target::Firewall(f),
            Some(Owner::Nic(n)) if nics[n.ix()].ip_forwarding => Target::Appliance(n),
            Some(Owner::Nic(n)) => Target::ApplianceNoForwarding(n),
            Some(Owner::LbFrontend(fe)) => Target::LoadBalancer(fe),
            _ => Target::ApplianceUnresolved,
        };
    }
    unreachable()
}

/// A subnet's user routes with their targets resolved.
fn user_routes(
    t: &m::Topology,
    rt: RouteTableId,
    target_of: &dyn Fn(&m::Route) -> (NextHopType, Target),
) -> Vec<routes::UserRoute> {
    let tags = t.service_tags.as_ref();
    let mut routes: Vec<&m::Route> = t.route_tables[rt.ix()].routes.iter().collect();
    // R-RT-13: on an exact tie the earlier route wins; order by explicit prefix, then tag kind.
    routes.sort_by_key(|r| service_tags::rank(&r.address_prefix.value));
    routes
        .into_iter()
        .flat_map(|r| {
            let (next_hop_type, target) = target_of(r);
            service_tags::route_prefixes(&r.address_prefix.value, tags)
                .into_iter()
                .map(move |prefix| routes::UserRoute {
                    name: r.name.value.clone(),
                    prefix,
                    next_hop_type,
                    next_hop_ip: r.next_hop_ip_address.as_ref().map(|a| a.value),
                    target,
                })
        })
        .collect()
}

/// Private Endpoints whose /32 a VNet's subnets get: its own and its directly peered VNets'
/// (R4.1), with the endpoint subnet's route-table policy and its VNet space's length.
fn endpoint_routes(
    vi: usize,
    by_vnet: &[Vec<usize>],
    pes: &[PrivateEndpoint],
    subnets: &[Subnet],
    vnets: &[Vnet],
    peerings: &Peerings,
) -> Vec<(PeId, u32, bool, u8)> {
    let mut out = Vec::new();
    for pv in std::iter::once(vi).chain(peerings.connected[vi].iter().copied()) {
        for &pi in &by_vnet[pv] {
            let p = &pes[pi];
            let policies = subnets[p.subnet.ix()].pe_policies.route_tables();
            let space_len = vnets[pv]
                .address_space
                .iter()
                .find(|s| prefix::contains_ip(s, p.ip))
                .map(|s| s.prefix_len())
                .unwrap_or(32);
            out.push((PeId(pi as u32), p.ip, policies, space_len));
        }
    }
    out.sort_by_key(|e| e.0);
    out
}

/// Step 7: per subnet, its effective routes (system, peering, gateway, user, Private Endpoint;
/// selection and Active/Invalid states, in `routes`), compiled into a FIB once per distinct
/// route set.
#[allow(clippy::too_many_arguments)]
fn compile_route_sets(
    t: &m::Topology,
    vnets: &[Vnet],
    subnets: &mut [Subnet],
    nics: &[Nic],
    pes: &[PrivateEndpoint],
    peerings: &Peerings,
    gws: &Gateways,
) -> Vec<RouteSet> {
    let mut pes_by_vnet: Vec<Vec<usize>> = vec![Vec::new(); vnets.len()];
    for (i, p) in pes.iter().enumerate() {
        pes_by_vnet[subnets[p.subnet.ix()].vnet.ix()].push(i);
    }
    let mut set_ix: HashMap<Vec<EffectiveRoute>, usize> = HashMap::new();
    let mut route_sets: Vec<RouteSet> = Vec::new();
    let msubnets: Vec<&m::Subnet> = t.vnets.iter().flat_map(|v| v.subnets.iter()).collect();
    let groups = connected_groups(t, vnets);
    for si in 0..subnets.len() {
        let vi = subnets[si].vnet.ix();
        let target_of = |r: &m::Route| -> (NextHopType, Target) {
            match r.next_hop_type.value {
                m::NextHopType::VirtualAppliance => {
                    let a = r.next_hop_ip_address.as_ref().expect("validated").value;
                    let target = resolve_appliance(vnets, nics, peerings, vi, ip(a));
                    (NextHopType::VirtualAppliance, target)
                }
                m::NextHopType::VirtualNetworkGateway => {
                    (NextHopType::VirtualNetworkGateway, gws.udr_target(t, vi))
                }
                m::NextHopType::VnetLocal => {
                    (NextHopType::VnetLocal, Target::Vnet(VnetId(vi as u32)))
                }
                m::NextHopType::Internet => (NextHopType::Internet, Target::Internet),
                m::NextHopType::None => (NextHopType::None, Target::Drop),
            }
        };
        let route_table = subnets[si].route_table.map(|rt| {
            let disable = t.route_tables[rt.ix()].disable_bgp_route_propagation;
            (rt, disable, user_routes(t, rt, &target_of))
        });
        let inputs = routes::RouteInputs {
            own_space: &vnets[vi].address_space,
            peers: peerings.connected[vi]
                .iter()
                .map(|&w| (VnetId(w as u32), vnets[w].address_space.as_slice()))
                .collect(),
            gateway_routes: gws.routes_of(vi),
            bgp_routes: gws
                .nva_routes_of(vi, vnets[vi].gateway_subnet == Some(SubnetId(si as u32)))
                .iter()
                .map(|(p, hops)| {
                    let hops = hops.iter().map(|a| {
                        let target = resolve_appliance(vnets, nics, peerings, vi, ip(*a));
                        (*a, target)
                    });
                    (*p, hops.collect())
                })
                .collect(),
            endpoints: endpoint_routes(vi, &pes_by_vnet, pes, subnets, vnets, peerings),
            route_table,
            vnet: VnetId(vi as u32),
            connected_group: groups[vi]
                .iter()
                .map(|&w| (VnetId(w as u32), vnets[w].address_space.as_slice()))
                .collect(),
            service_endpoints: service_tags::endpoint_prefixes(
                msubnets[si],
                t.service_tags.as_ref(),
            ),
        };
        let list = routes::effective_routes(&inputs);
        let id = *set_ix.entry(list).or_insert_with_key(|list| {
            route_sets.push(route_set(list.clone()));
            route_sets.len() - 1
        });
        subnets[si].route_set = RouteSetId(id as u32);
    }
    route_sets
}

/// Per VNet, the other VNets of the AVNM connected groups it is in (mesh, or hub and spoke
/// with direct connectivity), in declaration order, each once.
fn connected_groups(t: &m::Topology, vnets: &[Vnet]) -> Vec<Vec<usize>> {
    let ix: HashMap<&str, usize> = vnets
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.as_str(), i))
        .collect();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); vnets.len()];
    for g in m::admin::connected_groups(t) {
        let members: Vec<usize> = g
            .iter()
            .filter_map(|n| ix.get(n.as_str()).copied())
            .collect();
        for &a in &members {
            for &b in &members {
                if a != b && !out[a].contains(&b) {
                    out[a].push(b);
                }
            }
        }
    }
    out
}

/// A route set's FIB over its Active routes. Equal-cost Route Server routes of one prefix are
/// consecutive: the FIB names the first, `ecmp` how many follow it.
fn route_set(routes: Vec<EffectiveRoute>) -> RouteSet {
    let active = |i: usize| routes[i].state == RouteState::Active;
    let mut ecmp = vec![1u8; routes.len()];
    let mut first: Vec<bool> = vec![false; routes.len()];
    let mut i = 0;
    while i < routes.len() {
        let mut j = i + 1;
        while active(i) && j < routes.len() && active(j) && routes[j].prefix == routes[i].prefix {
            j += 1;
        }
        ecmp[i] = (j - i) as u8;
        first[i] = active(i);
        i = j;
    }
    let fib = fib_of(
        routes
            .iter()
            .enumerate()
            .filter(|(i, _)| first[*i])
            .map(|(i, r)| (r.prefix, i as u32)),
    );
    RouteSet { routes, fib, ecmp }
}

/// The service tags an NSG associated in VNet `vi` (under route table `rt`) expands
/// (R5.5, R-TAG-03, R-PEER-03): `VirtualNetwork` with and without the subnet's user-route
/// prefixes, and `Internet`.
fn tags_for<'t>(
    t: &'t m::Topology,
    vnets: &[Vnet],
    peerings: &Peerings,
    gws: &Gateways,
    vi: usize,
    rt: Option<RouteTableId>,
) -> TagSets<'t> {
    let mut base: Vec<Ipv4Net> = vnets[vi].address_space.clone();
    for &w in &peerings.connected[vi] {
        // R-PEER-03: only when this VNet's own peering object allows VNet access.
        let allowed = peerings
            .own_flags
            .get(&(vi, w))
            .map(|p| p.allow_virtual_network_access)
            .unwrap_or(true);
        if allowed {
            base.extend(vnets[w].address_space.iter().copied());
        }
    }
    let onprem: Vec<Ipv4Net> = gws.routes_of(vi).into_iter().map(|(p, _)| p).collect();
    base.extend(onprem.iter().copied());
    base.push(prefix::p("168.63.129.16/32"));
    let mut with_udr = base.clone();
    if let Some(rt) = rt {
        for r in &t.route_tables[rt.ix()].routes {
            with_udr.extend(service_tags::route_prefixes(
                &r.address_prefix.value,
                t.service_tags.as_ref(),
            ));
        }
    }
    // Internet: public space outside this VNet's, its peers' and on-premises space.
    let mut not_inet = prefix::not_internet();
    not_inet.extend(vnets[vi].address_space.iter().copied());
    for &w in &peerings.connected[vi] {
        not_inet.extend(vnets[w].address_space.iter().copied());
    }
    not_inet.extend(onprem);
    TagSets {
        virtual_network: prefix::aggregate(&with_udr),
        virtual_network_without_udr: prefix::aggregate(&base),
        internet: prefix::subtract(&[prefix::p("0.0.0.0/0")], &not_inet),
        named: t.service_tags.as_ref(),
    }
}

/// Step 9: AVNM security admin rules per subnet of a VNet some rule collection reaches,
/// deduplicated by (VNet, route table), the tags' scope.
fn compile_admin_tables(
    t: &m::Topology,
    vnets: &[Vnet],
    subnets: &mut [Subnet],
    peerings: &Peerings,
    gws: &Gateways,
) -> Vec<crate::admin::AdminTable> {
    let mut tables = Vec::new();
    let mut table_ix: HashMap<(usize, Option<RouteTableId>), usize> = HashMap::new();
    let reached: Vec<bool> = vnets
        .iter()
        .map(|v| crate::admin::reaches(t, &v.name))
        .collect();
    for s in subnets.iter_mut() {
        let vi = s.vnet.ix();
        if !reached[vi] {
            continue;
        }
        let i = *table_ix.entry((vi, s.route_table)).or_insert_with(|| {
            let tags = tags_for(t, vnets, peerings, gws, vi, s.route_table);
            tables.push(crate::admin::compile_admin(t, &vnets[vi].name, &tags));
            tables.len() - 1
        });
        s.admin_table = Some(crate::AdminTableId(i as u32));
    }
    tables
}

/// Step 8: NSG tables per association, deduplicated by (NSG, VNet, route table): the same NSG
/// expands its tags differently in each.
fn compile_nsg_tables(
    t: &m::Topology,
    vnets: &[Vnet],
    subnets: &mut [Subnet],
    nics: &mut [Nic],
    peerings: &Peerings,
    gws: &Gateways,
) -> Vec<NsgTable> {
    let mut asg_members: HashMap<&str, Vec<Ipv4Net>> = HashMap::new();
    for n in &t.nics {
        for a in &n.application_security_groups {
            asg_members
                .entry(a.value.as_str())
                .or_default()
                .push(host(ip(n.private_ip_address.value)));
        }
    }
    let asg = |name: &str| -> Vec<Ipv4Net> { asg_members.get(name).cloned().unwrap_or_default() };
    // Each association (NSG, the subnet's VNet, its route table) is compiled once: numbered
    // in the order subnets and then NICs first name it, then compiled in parallel, in that
    // order (the tables are independent, and the result is the same at any thread count).
    let mut keys: Vec<(NsgId, usize, Option<RouteTableId>)> = Vec::new();
    let mut table_ix: HashMap<(usize, usize, Option<RouteTableId>), usize> = HashMap::new();
    let mut table_for = |nsg: NsgId, subnet: &Subnet| -> NsgTableId {
        let key = (nsg.ix(), subnet.vnet.ix(), subnet.route_table);
        let i = *table_ix.entry(key).or_insert_with(|| {
            keys.push((nsg, subnet.vnet.ix(), subnet.route_table));
            keys.len() - 1
        });
        NsgTableId(i as u32)
    };
    for s in subnets.iter_mut() {
        if let Some(n) = s.nsg {
            s.nsg_table = Some(table_for(n, s));
        }
    }
    for n in nics.iter_mut() {
        if let Some(g) = n.nsg {
            n.nsg_table = Some(table_for(g, &subnets[n.subnet.ix()]));
        }
    }
    keys.par_iter()
        .map(|&(nsg, vnet, route_table)| {
            let tags = tags_for(t, vnets, peerings, gws, vnet, route_table);
            security::compile_nsg(nsg, &t.nsgs[nsg.ix()], &tags, &asg)
        })
        .collect()
}
