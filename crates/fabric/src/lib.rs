//! # vnetsim-fabric: the compiler
//!
//! Turns a validated topology ([`vnetsim_model::Validated`]) into a
//! [`Fabric`]: immutable, `Send + Sync`, every node an integer id, every
//! table the data plane consults compiled ahead of time:
//!
//! - per subnet, its **effective routes** (system, gateway, user and Private
//!   Endpoint routes with Azure's selection and Active/Invalid states) and a
//!   longest-prefix-match FIB over the Active ones; identical route sets are
//!   compiled once and shared between subnets ([`RouteSet`]);
//! - per NSG association, the NSG's rules with service tags and ASGs
//!   expanded for that subnet, compiled into first-match classifiers
//!   ([`security::NsgTable`]);
//! - per Azure Firewall, DNAT, network and application rules
//!   ([`firewall::Firewall`]);
//! - per VNet, who owns each private address; globally, public addresses
//!   and on-premises prefixes.
//!
//! The Network Watcher questions (effective routes, next hop, effective
//! security rules, IP flow verify) are answered from these same compiled
//! tables ([`watcher`]), so what the reports say and what the data plane
//! does cannot disagree.

pub mod firewall;
pub mod prefix;
pub mod routes;
pub mod security;
pub mod watcher;

/// The compiled first-match classifier NSG tables and firewall network rules use.
pub use vnetsim_classify as classify;
/// The compiled longest-prefix-match structure every route set uses.
pub use vnetsim_lpm as lpm;

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vnetsim_model as m;

use lpm::Fib;
use prefix::{contains, net};
pub use routes::{EffectiveRoute, NextHopType, RouteSource, RouteState, Target};
use security::{NsgTable, TagSets};

macro_rules! ids {
    ($($name:ident),*) => {$(
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            #[inline]
            pub fn ix(self) -> usize { self.0 as usize }
        }
    )*};
}
ids!(
    VnetId,
    SubnetId,
    NicId,
    PeId,
    ServiceId,
    SiteId,
    GatewayId,
    FirewallId,
    RouteTableId,
    RouteSetId,
    NsgId,
    NsgTableId
);

/// Who owns a private address inside one VNet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    Nic(NicId),
    Pe(PeId),
    /// The firewall's frontend address (what user routes point at).
    Firewall(FirewallId),
    /// One of the firewall's instance (SNAT) addresses.
    FirewallInstance(FirewallId),
}

impl Owner {
    fn encode(self) -> u32 {
        match self {
            Owner::Nic(i) => i.0,
            Owner::Pe(i) => 1 << 28 | i.0,
            Owner::Firewall(i) => 2 << 28 | i.0,
            Owner::FirewallInstance(i) => 3 << 28 | i.0,
        }
    }
    #[inline]
    fn decode(v: u32) -> Owner {
        let id = v & 0x0FFF_FFFF;
        match v >> 28 {
            0 => Owner::Nic(NicId(id)),
            1 => Owner::Pe(PeId(id)),
            2 => Owner::Firewall(FirewallId(id)),
            _ => Owner::FirewallInstance(FirewallId(id)),
        }
    }
}

/// Who owns a public address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PublicOwner {
    Nic(NicId),
    Firewall(FirewallId),
    Service(ServiceId),
}

impl PublicOwner {
    fn encode(self) -> u32 {
        match self {
            PublicOwner::Nic(i) => i.0,
            PublicOwner::Firewall(i) => 1 << 28 | i.0,
            PublicOwner::Service(i) => 2 << 28 | i.0,
        }
    }
    #[inline]
    fn decode(v: u32) -> PublicOwner {
        let id = v & 0x0FFF_FFFF;
        match v >> 28 {
            0 => PublicOwner::Nic(NicId(id)),
            1 => PublicOwner::Firewall(FirewallId(id)),
            _ => PublicOwner::Service(ServiceId(id)),
        }
    }
}

#[derive(Clone, Debug)]
pub struct PeerLink {
    pub vnet: VnetId,
    /// This VNet's peering object toward `vnet` allows forwarded traffic (R-PEER-04).
    pub allow_forwarded_traffic: bool,
}

#[derive(Clone, Debug)]
pub struct Vnet {
    pub name: String,
    pub address_space: Vec<Ipv4Net>,
    pub subnets: Vec<SubnetId>,
    /// Connected peers (both peering objects exist).
    pub peers: Vec<PeerLink>,
    pub gateway_subnet: Option<SubnetId>,
    pub firewall_subnet: Option<SubnetId>,
    space: Fib,
    owners: Fib,
}

impl Vnet {
    #[inline]
    pub fn owner(&self, ip: u32) -> Option<Owner> {
        self.owners.lookup(ip).map(Owner::decode)
    }
    #[inline]
    pub fn in_space(&self, ip: u32) -> bool {
        self.space.lookup(ip).is_some()
    }
    #[inline]
    pub fn peer(&self, other: VnetId) -> Option<&PeerLink> {
        self.peers.iter().find(|p| p.vnet == other)
    }
}

#[derive(Clone, Debug)]
pub struct Subnet {
    pub name: String,
    pub vnet: VnetId,
    pub prefix: Ipv4Net,
    pub route_set: RouteSetId,
    pub route_table: Option<RouteTableId>,
    pub nsg: Option<NsgId>,
    pub nsg_table: Option<NsgTableId>,
    pub pe_policies: m::PeNetworkPolicies,
    pub is_gateway_subnet: bool,
    pub is_firewall_subnet: bool,
}

#[derive(Clone, Debug)]
pub struct Nic {
    pub name: String,
    pub subnet: SubnetId,
    pub ip: u32,
    pub public_ip: Option<u32>,
    pub nsg: Option<NsgId>,
    pub nsg_table: Option<NsgTableId>,
    pub ip_forwarding: bool,
}

#[derive(Clone, Debug)]
pub struct PrivateEndpoint {
    pub name: String,
    pub subnet: SubnetId,
    pub ip: u32,
    pub service: ServiceId,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub name: String,
    pub kind: String,
    pub fqdn: Option<String>,
    pub public_ip: Option<u32>,
    pub public_network_access: bool,
    pub accepts_udp: bool,
}

#[derive(Clone, Debug)]
pub struct Site {
    pub name: String,
    pub prefixes: Vec<Ipv4Net>,
    pub gateways: Vec<GatewayId>,
}

#[derive(Clone, Debug)]
pub struct Gateway {
    pub name: String,
    pub vnet: VnetId,
    pub subnet: Option<SubnetId>,
    /// On-premises prefixes learned (static and BGP), each with its site.
    pub learned: Vec<(Ipv4Net, SiteId)>,
    learned_fib: Fib,
    /// What the gateway advertises to its sites (R7.1): its VNet's space and transit spokes'.
    pub advertised: Vec<Ipv4Net>,
    advertised_fib: Fib,
}

impl Gateway {
    #[inline]
    pub fn site_for(&self, dst: u32) -> Option<SiteId> {
        self.learned_fib.lookup(dst).map(SiteId)
    }
    #[inline]
    pub fn advertises(&self, dst: u32) -> bool {
        self.advertised_fib.lookup(dst).is_some()
    }
}

#[derive(Clone, Debug)]
pub struct RouteTableInfo {
    pub name: String,
    pub disable_bgp_route_propagation: bool,
}

/// One distinct effective route set, shared by every subnet that has it.
#[derive(Clone, Debug)]
pub struct RouteSet {
    pub routes: Vec<EffectiveRoute>,
    fib: Fib,
}

impl RouteSet {
    /// Index (into `routes`) of the Active route chosen for `dst`.
    #[inline]
    pub fn lookup(&self, dst: u32) -> Option<u32> {
        self.fib.lookup(dst)
    }
    pub fn fib_bytes(&self) -> usize {
        self.fib.memory_bytes()
    }
}

/// The compiled fabric.
#[derive(Clone, Debug)]
pub struct Fabric {
    pub name: String,
    pub vnets: Vec<Vnet>,
    pub subnets: Vec<Subnet>,
    pub nics: Vec<Nic>,
    pub pes: Vec<PrivateEndpoint>,
    pub services: Vec<Service>,
    pub sites: Vec<Site>,
    pub gateways: Vec<Gateway>,
    pub firewalls: Vec<firewall::Firewall>,
    pub route_tables: Vec<RouteTableInfo>,
    pub route_sets: Vec<RouteSet>,
    pub nsg_names: Vec<String>,
    pub nsg_tables: Vec<NsgTable>,
    public: Fib,
    site_prefixes: Fib,
    /// Every NIC, endpoint and firewall address (the first VNet wins where spaces overlap), for
    /// finding the endpoint owning a source.
    private: Fib,
}

/// Where a flow enters the fabric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Nic(NicId),
    Pe(PeId),
    Service(ServiceId),
    Site(SiteId),
    Internet,
    Firewall(FirewallId),
    Gateway(GatewayId),
    Subnet(SubnetId),
    /// 168.63.129.16, the platform (R1.2).
    Platform,
}

impl Fabric {
    #[inline]
    pub fn route_set(&self, s: SubnetId) -> &RouteSet {
        &self.route_sets[self.subnets[s.ix()].route_set.ix()]
    }
    #[inline]
    pub fn public_owner(&self, ip: u32) -> Option<PublicOwner> {
        self.public.lookup(ip).map(PublicOwner::decode)
    }
    #[inline]
    pub fn site_of(&self, ip: u32) -> Option<SiteId> {
        self.site_prefixes.lookup(ip).map(SiteId)
    }
    /// Owner of a private address in any VNet (the first VNet that has it).
    pub fn private_owner(&self, ip: u32) -> Option<(VnetId, Owner)> {
        let o = Owner::decode(self.private.lookup(ip)?);
        let vnet = match o {
            Owner::Nic(n) => self.subnets[self.nics[n.ix()].subnet.ix()].vnet,
            Owner::Pe(p) => self.subnets[self.pes[p.ix()].subnet.ix()].vnet,
            Owner::Firewall(f) | Owner::FirewallInstance(f) => self.firewalls[f.ix()].vnet,
        };
        Some((vnet, o))
    }
    /// The endpoint that owns a source address (R: trace `--from` default).
    pub fn endpoint_of_source(&self, ip: u32) -> Endpoint {
        if ip == security::PLATFORM_IP {
            return Endpoint::Platform;
        }
        if let Some(o) = self.private.lookup(ip).map(Owner::decode) {
            return match o {
                Owner::Nic(n) => Endpoint::Nic(n),
                Owner::Pe(p) => Endpoint::Pe(p),
                Owner::Firewall(f) | Owner::FirewallInstance(f) => Endpoint::Firewall(f),
            };
        }
        if let Some(s) = self.site_of(ip) {
            return Endpoint::Site(s);
        }
        if self.vnets.iter().any(|v| v.in_space(ip)) {
            // An address inside a VNet that nothing owns: traffic starts in its subnet.
            for (i, s) in self.subnets.iter().enumerate() {
                if prefix::contains_ip(&s.prefix, ip) {
                    return Endpoint::Subnet(SubnetId(i as u32));
                }
            }
        }
        Endpoint::Internet
    }
    /// The endpoint id as outputs print it (`nic:NAME`, `pe:NAME`, ...).
    pub fn endpoint_id(&self, e: Endpoint) -> String {
        match e {
            Endpoint::Nic(i) => format!("nic:{}", self.nics[i.ix()].name),
            Endpoint::Pe(i) => format!("pe:{}", self.pes[i.ix()].name),
            Endpoint::Service(i) => format!("service:{}", self.services[i.ix()].name),
            Endpoint::Site(i) => format!("site:{}", self.sites[i.ix()].name),
            Endpoint::Internet => "internet".to_string(),
            Endpoint::Firewall(i) => format!("firewall:{}", self.firewalls[i.ix()].name),
            Endpoint::Gateway(i) => format!("gateway:{}", self.gateways[i.ix()].name),
            Endpoint::Subnet(i) => self.subnet_id(i),
            Endpoint::Platform => "platform".to_string(),
        }
    }
    pub fn subnet_id(&self, s: SubnetId) -> String {
        let sn = &self.subnets[s.ix()];
        format!("subnet:{}/{}", self.vnets[sn.vnet.ix()].name, sn.name)
    }
    pub fn subnet_path(&self, s: SubnetId) -> String {
        let sn = &self.subnets[s.ix()];
        format!("{}/{}", self.vnets[sn.vnet.ix()].name, sn.name)
    }
    pub fn find_subnet(&self, path: &str) -> Option<SubnetId> {
        let (v, s) = path.split_once('/')?;
        self.subnets
            .iter()
            .position(|x| x.name == s && self.vnets[x.vnet.ix()].name == v)
            .map(|i| SubnetId(i as u32))
    }
    pub fn find_nic(&self, name: &str) -> Option<NicId> {
        self.nics
            .iter()
            .position(|n| n.name == name)
            .map(|i| NicId(i as u32))
    }
    pub fn find_pe(&self, name: &str) -> Option<PeId> {
        self.pes
            .iter()
            .position(|n| n.name == name)
            .map(|i| PeId(i as u32))
    }
    pub fn find_site(&self, name: &str) -> Option<SiteId> {
        self.sites
            .iter()
            .position(|n| n.name == name)
            .map(|i| SiteId(i as u32))
    }
    pub fn find_vnet(&self, name: &str) -> Option<VnetId> {
        self.vnets
            .iter()
            .position(|n| n.name == name)
            .map(|i| VnetId(i as u32))
    }
    pub fn find_firewall(&self, name: &str) -> Option<FirewallId> {
        self.firewalls
            .iter()
            .position(|n| n.name == name)
            .map(|i| FirewallId(i as u32))
    }
    pub fn find_service(&self, name: &str) -> Option<ServiceId> {
        self.services
            .iter()
            .position(|n| n.name == name)
            .map(|i| ServiceId(i as u32))
    }
    /// Total bytes of the compiled FIBs of all distinct route sets.
    pub fn fib_bytes(&self) -> usize {
        self.route_sets.iter().map(|r| r.fib_bytes()).sum()
    }
}

fn ip(a: Ipv4Addr) -> u32 {
    u32::from(a)
}

fn fib_of(items: impl Iterator<Item = (Ipv4Net, u32)>) -> Fib {
    let v: Vec<(u32, u8, u32)> = items.map(|(p, v)| (net(&p).0, net(&p).1, v)).collect();
    Fib::build(&v)
}

fn host(a: u32) -> Ipv4Net {
    Ipv4Net::new(a.into(), 32).unwrap()
}

/// Compiles a validated topology.
pub fn compile(v: &m::Validated) -> Fabric {
    let t = v.topology();
    let vnet_ix: HashMap<&str, usize> = t
        .vnets
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.value.as_str(), i))
        .collect();
    let rt_ix: HashMap<&str, usize> = t
        .route_tables
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.value.as_str(), i))
        .collect();
    let nsg_ix: HashMap<&str, usize> = t
        .nsgs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.value.as_str(), i))
        .collect();
    let site_ix: HashMap<&str, usize> = t
        .sites
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.value.as_str(), i))
        .collect();
    let svc_ix: HashMap<&str, usize> = t
        .services
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.value.as_str(), i))
        .collect();

    // Subnets in declaration order.
    let mut subnets: Vec<Subnet> = Vec::new();
    let mut subnet_ix: HashMap<String, usize> = HashMap::new();
    let mut vnets: Vec<Vnet> = Vec::new();
    for (vi, v) in t.vnets.iter().enumerate() {
        let mut ids = Vec::new();
        let mut gws = None;
        let mut fws = None;
        for s in &v.subnets {
            let id = SubnetId(subnets.len() as u32);
            subnet_ix.insert(format!("{}/{}", v.name.value, s.name.value), id.ix());
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
                    .map(|r| RouteTableId(rt_ix[r.value.as_str()] as u32)),
                nsg: s
                    .nsg
                    .as_ref()
                    .map(|n| NsgId(nsg_ix[n.value.as_str()] as u32)),
                nsg_table: None,
                pe_policies: s.private_endpoint_network_policies,
                is_gateway_subnet: s.name.value == m::GATEWAY_SUBNET,
                is_firewall_subnet: s.name.value == m::FIREWALL_SUBNET,
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

    // Peerings: connected when both directions exist (R2.1).
    // Also records each VNet's own object flags: (allowVirtualNetworkAccess, useRemoteGateways, allowGatewayTransit).
    let mut own_flags: HashMap<(usize, usize), &m::Peering> = HashMap::new();
    for p in &t.peerings {
        own_flags.insert(
            (vnet_ix[p.from.value.as_str()], vnet_ix[p.to.value.as_str()]),
            p,
        );
    }
    let mut connected: Vec<Vec<usize>> = vec![Vec::new(); vnets.len()];
    for p in &t.peerings {
        let a = vnet_ix[p.from.value.as_str()];
        let b = vnet_ix[p.to.value.as_str()];
        if own_flags.contains_key(&(b, a)) && !connected[a].contains(&b) {
            connected[a].push(b);
            vnets[a].peers.push(PeerLink {
                vnet: VnetId(b as u32),
                allow_forwarded_traffic: p.allow_forwarded_traffic,
            });
        }
    }

    // Sites and gateways.
    let mut sites: Vec<Site> = t
        .sites
        .iter()
        .map(|s| Site {
            name: s.name.value.clone(),
            prefixes: s.address_prefixes.iter().map(|p| p.value).collect(),
            gateways: Vec::new(),
        })
        .collect();
    let mut gateways: Vec<Gateway> = Vec::new();
    let mut gw_of_vnet: Vec<Vec<GatewayId>> = vec![Vec::new(); vnets.len()];
    for g in &t.gateways {
        let vi = vnet_ix[g.vnet.value.as_str()];
        let id = GatewayId(gateways.len() as u32);
        gw_of_vnet[vi].push(id);
        let mut learned: Vec<(Ipv4Net, SiteId)> = Vec::new();
        for c in &g.connections {
            let si = site_ix[c.value.as_str()];
            sites[si].gateways.push(id);
            let site = &t.sites[si];
            let mut prefixes: Vec<Ipv4Net> =
                site.address_prefixes.iter().map(|p| p.value).collect();
            // R2.3: with BGP at both ends, the advertised prefixes too.
            if site.bgp.is_some() && g.bgp_asn.is_some() {
                prefixes.extend(site.advertised());
            }
            for p in prefixes {
                // R-RT-12: prefixes equal to or inside the gateway VNet's space are filtered.
                if vnets[vi].address_space.iter().any(|s| contains(s, &p)) {
                    continue;
                }
                if !learned.iter().any(|(q, _)| *q == p) {
                    learned.push((p, SiteId(si as u32)));
                }
            }
        }
        gateways.push(Gateway {
            name: g.name.value.clone(),
            vnet: VnetId(vi as u32),
            subnet: vnets[vi].gateway_subnet,
            learned_fib: fib_of(learned.iter().map(|(p, s)| (*p, s.0))),
            learned,
            advertised: Vec::new(),
            advertised_fib: Fib::default(),
        });
    }
    // Gateway transit: spoke -> hub whose gateways it uses.
    let mut transit_hub: Vec<Option<usize>> = vec![None; vnets.len()];
    for (&(a, b), p) in &own_flags {
        if p.use_remote_gateways && connected[a].contains(&b) {
            if let Some(back) = own_flags.get(&(b, a)) {
                if back.allow_gateway_transit && !gw_of_vnet[b].is_empty() {
                    transit_hub[a] = Some(b);
                }
            }
        }
    }
    for (gi, g) in gateways.iter_mut().enumerate() {
        let _ = gi;
        let hub = g.vnet.ix();
        let mut adv = vnets[hub].address_space.clone();
        for (s, h) in transit_hub.iter().enumerate() {
            if *h == Some(hub) {
                adv.extend(vnets[s].address_space.iter().copied());
            }
        }
        g.advertised_fib = fib_of(adv.iter().map(|p| (*p, 1)));
        g.advertised = adv;
    }

    // Services, NICs, endpoints, firewalls.
    let services: Vec<Service> = t
        .services
        .iter()
        .map(|s| Service {
            name: s.name.value.clone(),
            kind: s.kind.clone(),
            fqdn: s.fqdn.clone(),
            public_ip: s.public_ip_address.as_ref().map(|a| ip(a.value)),
            public_network_access: s.public_network_access,
            accepts_udp: s.accepts_udp,
        })
        .collect();
    let nics: Vec<Nic> = t
        .nics
        .iter()
        .map(|n| Nic {
            name: n.name.value.clone(),
            subnet: SubnetId(subnet_ix[&n.subnet.value] as u32),
            ip: ip(n.private_ip_address.value),
            public_ip: n.public_ip_address.as_ref().map(|a| ip(a.value)),
            nsg: n
                .nsg
                .as_ref()
                .map(|x| NsgId(nsg_ix[x.value.as_str()] as u32)),
            nsg_table: None,
            ip_forwarding: n.enable_ip_forwarding,
        })
        .collect();
    let pes: Vec<PrivateEndpoint> = t
        .private_endpoints
        .iter()
        .map(|p| PrivateEndpoint {
            name: p.name.value.clone(),
            subnet: SubnetId(subnet_ix[&p.subnet.value] as u32),
            ip: ip(p.private_ip_address.value),
            service: ServiceId(svc_ix[p.service.value.as_str()] as u32),
        })
        .collect();
    let firewalls: Vec<firewall::Firewall> = t
        .firewalls
        .iter()
        .map(|f| {
            let vi = vnet_ix[f.vnet.value.as_str()];
            firewall::compile(
                f,
                VnetId(vi as u32),
                vnets[vi].firewall_subnet.expect("validated"),
            )
        })
        .collect();

    // Address owners per VNet.
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
            public_list.push((
                host(*p),
                PublicOwner::Firewall(FirewallId(i as u32)).encode(),
            ));
        }
    }
    for (i, s) in services.iter().enumerate() {
        if let Some(p) = s.public_ip {
            public_list.push((host(p), PublicOwner::Service(ServiceId(i as u32)).encode()));
        }
    }
    public_list.reverse(); // first declared wins on duplicates
    let public = fib_of(public_list.into_iter());
    let mut site_list: Vec<(Ipv4Net, u32)> = Vec::new();
    for (i, s) in sites.iter().enumerate() {
        for p in &s.prefixes {
            site_list.push((*p, i as u32));
        }
    }
    site_list.reverse();
    let site_prefixes = fib_of(site_list.into_iter());
    // Later entries win in a FIB build, so VNets go in reverse: the first declared owner wins.
    let private = fib_of(owner_lists.iter().rev().flat_map(|l| l.iter().copied()));

    // Per-subnet effective routes, deduplicated into route sets.
    let route_tables: Vec<RouteTableInfo> = t
        .route_tables
        .iter()
        .map(|r| RouteTableInfo {
            name: r.name.value.clone(),
            disable_bgp_route_propagation: r.disable_bgp_route_propagation,
        })
        .collect();
    let gateway_routes_of = |vi: usize| -> Vec<(Ipv4Net, GatewayId)> {
        let mut out = Vec::new();
        let mut gws: Vec<GatewayId> = gw_of_vnet[vi].clone();
        if gws.is_empty() {
            if let Some(h) = transit_hub[vi] {
                gws = gw_of_vnet[h].clone();
            }
        }
        for g in gws {
            for (p, _) in &gateways[g.ix()].learned {
                out.push((*p, g));
            }
        }
        out
    };
    let udr_gateway_of = |vi: usize| -> Option<GatewayId> {
        let own = gw_of_vnet[vi]
            .iter()
            .copied()
            .find(|g| t.gateways[g.ix()].gateway_type == m::GatewayType::Vpn);
        own.or_else(|| transit_hub[vi].and_then(|h| gw_of_vnet[h].first().copied()))
    };
    let resolve_appliance = |vi: usize, a: u32| -> Target {
        let mut candidates = vec![vi];
        candidates.extend(connected[vi].iter().copied());
        for c in candidates {
            if !vnets[c].in_space(a) {
                continue;
            }
            return match vnets[c].owner(a) {
                Some(Owner::Firewall(f)) | Some(Owner::FirewallInstance(f)) => Target::Firewall(f),
                Some(Owner::Nic(n)) => {
                    if nics[n.ix()].ip_forwarding {
                        Target::Appliance(n)
                    } else {
                        Target::ApplianceNoForwarding(n)
                    }
                }
                _ => Target::ApplianceUnresolved,
            };
        }
        Target::ApplianceUnresolved
    };
    let mut set_ix: HashMap<Vec<EffectiveRoute>, usize> = HashMap::new();
    let mut route_sets: Vec<RouteSet> = Vec::new();
    for si in 0..subnets.len() {
        let vi = subnets[si].vnet.ix();
        let peers: Vec<(VnetId, &[Ipv4Net])> = connected[vi]
            .iter()
            .map(|&w| (VnetId(w as u32), vnets[w].address_space.as_slice()))
            .collect();
        let mut endpoints = Vec::new();
        for (pi, p) in pes.iter().enumerate() {
            let pv = subnets[p.subnet.ix()].vnet.ix();
            if pv == vi || connected[vi].contains(&pv) {
                let policies = subnets[p.subnet.ix()].pe_policies.route_tables();
                let space_len = vnets[pv]
                    .address_space
                    .iter()
                    .find(|s| prefix::contains_ip(s, p.ip))
                    .map(|s| s.prefix_len())
                    .unwrap_or(32);
                endpoints.push((PeId(pi as u32), p.ip, policies, space_len));
            }
        }
        let route_table = subnets[si].route_table.map(|rt| {
            let mrt = &t.route_tables[rt.ix()];
            let routes = mrt
                .routes
                .iter()
                .filter_map(|r| {
                    let m::RoutePrefix::Prefix(prefix) = r.address_prefix.value else {
                        return None;
                    };
                    let nh_ip = r.next_hop_ip_address.as_ref().map(|a| a.value);
                    let (nht, target) = match r.next_hop_type.value {
                        m::NextHopType::VirtualAppliance => (
                            NextHopType::VirtualAppliance,
                            resolve_appliance(vi, ip(nh_ip.expect("validated"))),
                        ),
                        m::NextHopType::VirtualNetworkGateway => (
                            NextHopType::VirtualNetworkGateway,
                            udr_gateway_of(vi)
                                .map(Target::Gateway)
                                .unwrap_or(Target::NoGateway),
                        ),
                        m::NextHopType::VnetLocal => {
                            (NextHopType::VnetLocal, Target::Vnet(VnetId(vi as u32)))
                        }
                        m::NextHopType::Internet => (NextHopType::Internet, Target::Internet),
                        m::NextHopType::None => (NextHopType::None, Target::Drop),
                    };
                    Some(routes::UserRoute {
                        name: r.name.value.clone(),
                        prefix,
                        next_hop_type: nht,
                        next_hop_ip: nh_ip,
                        target,
                    })
                })
                .collect();
            (rt, mrt.disable_bgp_route_propagation, routes)
        });
        let inputs = routes::RouteInputs {
            own_space: &vnets[vi].address_space,
            peers,
            gateway_routes: gateway_routes_of(vi),
            endpoints,
            route_table,
            vnet: VnetId(vi as u32),
        };
        let list = routes::effective_routes(&inputs);
        let id = match set_ix.get(&list) {
            Some(&i) => i,
            None => {
                let fib = fib_of(
                    list.iter()
                        .enumerate()
                        .filter(|(_, r)| r.state == RouteState::Active)
                        .map(|(i, r)| (r.prefix, i as u32)),
                );
                route_sets.push(RouteSet {
                    routes: list.clone(),
                    fib,
                });
                set_ix.insert(list, route_sets.len() - 1);
                route_sets.len() - 1
            }
        };
        subnets[si].route_set = RouteSetId(id as u32);
    }

    // NSG tables per association, deduplicated by (NSG, VNet, route table).
    let asg_members: HashMap<&str, Vec<Ipv4Net>> = {
        let mut mm: HashMap<&str, Vec<Ipv4Net>> = HashMap::new();
        for n in &t.nics {
            for a in &n.application_security_groups {
                mm.entry(a.value.as_str())
                    .or_default()
                    .push(host(ip(n.private_ip_address.value)));
            }
        }
        mm
    };
    let asg = |name: &str| -> Vec<Ipv4Net> { asg_members.get(name).cloned().unwrap_or_default() };
    let tags_for = |vi: usize, rt: Option<RouteTableId>| -> TagSets {
        let mut base: Vec<Ipv4Net> = vnets[vi].address_space.clone();
        for &w in &connected[vi] {
            // R-PEER-03: only when this VNet's own peering object allows VNet access.
            if own_flags
                .get(&(vi, w))
                .map(|p| p.allow_virtual_network_access)
                .unwrap_or(true)
            {
                base.extend(vnets[w].address_space.iter().copied());
            }
        }
        let onprem: Vec<Ipv4Net> = gateway_routes_of(vi).into_iter().map(|(p, _)| p).collect();
        base.extend(onprem.iter().copied());
        base.push(prefix::p("168.63.129.16/32"));
        let mut with_udr = base.clone();
        if let Some(rt) = rt {
            for r in &t.route_tables[rt.ix()].routes {
                if let m::RoutePrefix::Prefix(p) = r.address_prefix.value {
                    with_udr.push(p);
                }
            }
        }
        // Internet (R5.5, R-TAG-03): public space outside this VNet's, its peers' and on-premises space.
        let mut not_inet = prefix::not_internet();
        not_inet.extend(vnets[vi].address_space.iter().copied());
        for &w in &connected[vi] {
            not_inet.extend(vnets[w].address_space.iter().copied());
        }
        not_inet.extend(onprem);
        TagSets {
            virtual_network: prefix::aggregate(&with_udr),
            virtual_network_without_udr: prefix::aggregate(&base),
            internet: prefix::subtract(&[prefix::p("0.0.0.0/0")], &not_inet),
        }
    };
    let mut nsg_tables: Vec<NsgTable> = Vec::new();
    let mut table_ix: HashMap<(usize, usize, Option<RouteTableId>), usize> = HashMap::new();
    let mut table_for = |nsg: NsgId, subnet: &Subnet| -> NsgTableId {
        let key = (nsg.ix(), subnet.vnet.ix(), subnet.route_table);
        if let Some(&i) = table_ix.get(&key) {
            return NsgTableId(i as u32);
        }
        let tags = tags_for(subnet.vnet.ix(), subnet.route_table);
        nsg_tables.push(security::compile_nsg(nsg, &t.nsgs[nsg.ix()], &tags, &asg));
        table_ix.insert(key, nsg_tables.len() - 1);
        NsgTableId((nsg_tables.len() - 1) as u32)
    };
    for si in 0..subnets.len() {
        if let Some(n) = subnets[si].nsg {
            let tid = table_for(n, &subnets[si]);
            subnets[si].nsg_table = Some(tid);
        }
    }
    let mut nics = nics;
    for n in nics.iter_mut() {
        if let Some(g) = n.nsg {
            n.nsg_table = Some(table_for(g, &subnets[n.subnet.ix()]));
        }
    }

    Fabric {
        name: t.name.clone(),
        vnets,
        subnets,
        nics,
        pes,
        services,
        sites,
        gateways,
        firewalls,
        route_tables,
        route_sets,
        nsg_names: t.nsgs.iter().map(|n| n.name.value.clone()).collect(),
        nsg_tables,
        public,
        site_prefixes,
        private,
    }
}
