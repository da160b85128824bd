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

pub mod admin;
mod compile;
pub mod deferred;
pub mod firewall;
pub mod load_balancer;
pub mod prefix;
mod route_server;
pub mod routes;
pub mod security;
mod service_tags;
pub mod unresolved;
pub mod watcher;

/// The compiled first-match classifier NSG tables and firewall network rules use.
pub use vnetsim_classify as classify;
/// The compiled longest-prefix-match structure every route set uses.
pub use vnetsim_lpm as lpm;

use ipnet::Ipv4Net;
use vnetsim_model as m;

pub use compile::compile;
use lpm::Fib;
pub use routes::{EffectiveRoute, NextHopType, RouteSource, RouteState, Target};
use security::NsgTable;

macro_rules! ids {
    ($($name:ident),*) => {$(
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
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
    NatGatewayId,
    FirewallId,
    RouteTableId,
    RouteSetId,
    NsgId,
    NsgTableId,
    AdminTableId,
    LbId,
    LbFrontendId,
    AppGwId
);

/// Who owns a private address inside one VNet.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    Nic(NicId),
    Pe(PeId),
    /// The firewall's frontend address (what user routes point at).
    Firewall(FirewallId),
    /// One of the firewall's instance (SNAT) addresses.
    FirewallInstance(FirewallId),
    /// An internal load balancer's frontend address.
    LbFrontend(LbFrontendId),
    /// An application gateway's private frontend address.
    AppGw(AppGwId),
    /// One of an application gateway's instance addresses.
    AppGwInstance(AppGwId),
}

impl Owner {
    fn encode(self) -> u32 {
        match self {
            Owner::Nic(i) => i.0,
            Owner::Pe(i) => 1 << 28 | i.0,
            Owner::Firewall(i) => 2 << 28 | i.0,
            Owner::FirewallInstance(i) => 3 << 28 | i.0,
            Owner::LbFrontend(i) => 4 << 28 | i.0,
            Owner::AppGw(i) => 5 << 28 | i.0,
            Owner::AppGwInstance(i) => 6 << 28 | i.0,
        }
    }
    #[inline]
    fn decode(v: u32) -> Owner {
        let id = v & 0x0FFF_FFFF;
        match v >> 28 {
            0 => Owner::Nic(NicId(id)),
            1 => Owner::Pe(PeId(id)),
            2 => Owner::Firewall(FirewallId(id)),
            3 => Owner::FirewallInstance(FirewallId(id)),
            4 => Owner::LbFrontend(LbFrontendId(id)),
            5 => Owner::AppGw(AppGwId(id)),
            _ => Owner::AppGwInstance(AppGwId(id)),
        }
    }
}

/// Who owns a public address.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PublicOwner {
    Nic(NicId),
    Firewall(FirewallId),
    Service(ServiceId),
    /// One of a NAT gateway's public IPs or prefixes (outbound only).
    NatGateway(NatGatewayId),
    /// A public load balancer's frontend.
    LbFrontend(LbFrontendId),
    /// An application gateway's public frontend.
    AppGw(AppGwId),
}

impl PublicOwner {
    fn encode(self) -> u32 {
        match self {
            PublicOwner::Nic(i) => i.0,
            PublicOwner::Firewall(i) => 1 << 28 | i.0,
            PublicOwner::Service(i) => 2 << 28 | i.0,
            PublicOwner::NatGateway(i) => 3 << 28 | i.0,
            PublicOwner::LbFrontend(i) => 4 << 28 | i.0,
            PublicOwner::AppGw(i) => 5 << 28 | i.0,
        }
    }
    #[inline]
    fn decode(v: u32) -> PublicOwner {
        let id = v & 0x0FFF_FFFF;
        match v >> 28 {
            0 => PublicOwner::Nic(NicId(id)),
            1 => PublicOwner::Firewall(FirewallId(id)),
            2 => PublicOwner::Service(ServiceId(id)),
            3 => PublicOwner::NatGateway(NatGatewayId(id)),
            4 => PublicOwner::LbFrontend(LbFrontendId(id)),
            _ => PublicOwner::AppGw(AppGwId(id)),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct PeerLink {
    pub vnet: VnetId,
    /// This VNet's peering object toward `vnet` allows forwarded traffic (R-PEER-04).
    pub allow_forwarded_traffic: bool,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
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
    /// Where [`Vnet::owner`]'s answer may change (see `Fib::cuts`).
    pub fn owner_cuts(&self) -> &[u32] {
        self.owners.cuts()
    }
    /// Where [`Vnet::in_space`]'s answer may change.
    pub fn space_cuts(&self) -> &[u32] {
        self.space.cuts()
    }
    #[inline]
    pub fn peer(&self, other: VnetId) -> Option<&PeerLink> {
        // Sorted by VNet id at compile time: a hub with a thousand spokes costs ten probes.
        self.peers
            .binary_search_by_key(&other, |p| p.vnet)
            .ok()
            .map(|i| &self.peers[i])
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Subnet {
    pub name: String,
    pub vnet: VnetId,
    pub prefix: Ipv4Net,
    pub route_set: RouteSetId,
    pub route_table: Option<RouteTableId>,
    pub nsg: Option<NsgId>,
    pub nsg_table: Option<NsgTableId>,
    pub pe_policies: m::PeNetworkPolicies,
    /// The NAT gateway the subnet's outbound Internet connections leave through.
    pub nat_gateway: Option<NatGatewayId>,
    /// Default outbound access for VMs without an explicit outbound method.
    pub default_outbound_access: bool,
    /// The AVNM security admin rules that reach the subnet (evaluated before NSGs).
    pub admin_table: Option<AdminTableId>,
    /// The `notModelled` entry (a Virtual WAN hub connection of its VNet) whose routes the
    /// subnet gets and vnetsim does not know.
    pub hub_routes: Option<u32>,
}

/// The stand-in for the platform's default outbound access address, which Azure assigns
/// implicitly and may change (198.51.100.1, from TEST-NET-2, RFC 5737; a modelling choice).
pub const DEFAULT_OUTBOUND_IP: u32 = 0xC633_6401;

/// A NAT gateway: the outbound source of every VM of the subnets it is associated with.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct NatGateway {
    pub name: String,
    /// The address its connections leave from: the first public IP, else the first address of
    /// the first prefix (a modelling choice; Azure picks among them per connection).
    pub snat_ip: u32,
}

/// How a VM's connection to the Internet gets its public source address.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutboundMethod {
    NatGateway(NatGatewayId),
    InstancePublicIp,
    /// A public load balancer's outbound rule (or a load-balancing rule keeping outbound SNAT).
    LoadBalancer(LbId),
    DefaultOutboundAccess,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Nic {
    pub name: String,
    pub subnet: SubnetId,
    pub ip: u32,
    pub public_ip: Option<u32>,
    pub nsg: Option<NsgId>,
    pub nsg_table: Option<NsgTableId>,
    pub ip_forwarding: bool,
    /// The NIC's MAC address (48 bits), when the topology gives it.
    pub mac: Option<u64>,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct PrivateEndpoint {
    pub name: String,
    pub subnet: SubnetId,
    pub ip: u32,
    pub service: ServiceId,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Service {
    pub name: String,
    pub kind: String,
    pub fqdn: Option<String>,
    pub public_ip: Option<u32>,
    pub public_network_access: bool,
    pub accepts_udp: bool,
    /// What its public endpoint admits (`networkAcls`).
    pub acls: ServiceAcls,
}

/// A PaaS service's network rules, as its public endpoint applies them.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
pub struct ServiceAcls {
    /// Only the rules below are admitted ("selected networks").
    pub default_deny: bool,
    /// Subnets whose service-endpoint traffic is admitted, sorted.
    pub virtual_network_rules: Vec<SubnetId>,
    /// Public source prefixes admitted: (network, length).
    pub ip_rules: Vec<(u32, u8)>,
}

impl ServiceAcls {
    /// Whether the service admits a packet from `src`, arriving over a service endpoint of
    /// subnet `via` or (`None`) from the Internet. Virtual network rules judge service-endpoint
    /// traffic, IP rules the public sources (Microsoft Learn, "Configure Azure Storage
    /// firewalls and virtual networks").
    #[inline]
    pub fn admits(&self, src: u32, via: Option<SubnetId>) -> bool {
        if !self.default_deny {
            return true;
        }
        match via {
            Some(s) => self.virtual_network_rules.binary_search(&s).is_ok(),
            None => self
                .ip_rules
                .iter()
                .any(|&(n, l)| src & prefix::mask(l) == n),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Site {
    pub name: String,
    pub prefixes: Vec<Ipv4Net>,
    pub gateways: Vec<GatewayId>,
    /// The site speaks BGP over its connections.
    pub bgp: bool,
    /// An ExpressRoute circuit's private peering (its prefixes are what it advertises).
    pub express_route: bool,
}

/// Where a gateway sends what it learned: a site (IPsec) or another gateway (Vnet2Vnet).
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GatewayPeer {
    Site(SiteId),
    Gateway(GatewayId),
}

impl GatewayPeer {
    fn encode(self) -> u32 {
        match self {
            GatewayPeer::Site(s) => s.0,
            GatewayPeer::Gateway(g) => 1 << 30 | g.0,
        }
    }
    #[inline]
    fn decode(v: u32) -> GatewayPeer {
        match v >> 30 {
            0 => GatewayPeer::Site(SiteId(v)),
            _ => GatewayPeer::Gateway(GatewayId(v & 0x3FFF_FFFF)),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Gateway {
    pub name: String,
    pub vnet: VnetId,
    pub subnet: Option<SubnetId>,
    /// The gateway speaks BGP.
    pub bgp: bool,
    /// Its instances' addresses in GatewaySubnet, where declared (`instanceAddresses`).
    pub instance_ips: Vec<std::net::Ipv4Addr>,
    /// Prefixes learned (site prefixes, static and BGP; the other VNet's over Vnet2Vnet), each
    /// with the connection it leaves through.
    pub learned: Vec<(Ipv4Net, GatewayPeer)>,
    learned_fib: Fib,
    /// What the gateway advertises to its sites (R7.1): its VNet's space and transit spokes'.
    pub advertised: Vec<Ipv4Net>,
    advertised_fib: Fib,
    /// What it advertises to a BGP peer: the above and everything it learned from its other
    /// connections (R-GW-03: transit between sites through the gateway).
    bgp_advertised_fib: Fib,
    /// What it learned from its VNet's route server and the VNet's other gateway type with
    /// branch-to-branch on (the NVAs' routes; ExpressRoute <-> VPN), advertised to BGP peers.
    pub branch: Vec<Ipv4Net>,
    branch_fib: Fib,
    /// The address spaces its NAT rules rewrite (`notModelled` entries with this gateway), to
    /// the entry's index; `nat_everywhere` an entry without prefixes (every walk across it).
    nat_fib: Fib,
    nat_everywhere: Option<u32>,
}

impl Gateway {
    /// The connection a packet toward `dst` leaves through.
    #[inline]
    pub fn next_for(&self, dst: u32) -> Option<GatewayPeer> {
        self.learned_fib.lookup(dst).map(GatewayPeer::decode)
    }
    /// Whether a site (a BGP one when `bgp`) routes `dst` to this gateway.
    /// Where [`Gateway::next_for`] and [`Gateway::advertises_to`] may change their answer.
    pub fn cuts(&self) -> [&[u32]; 4] {
        [
            self.learned_fib.cuts(),
            self.advertised_fib.cuts(),
            self.bgp_advertised_fib.cuts(),
            self.branch_fib.cuts(),
        ]
    }
    /// Where [`Gateway::nat_not_modelled`] may change its answer, in source or destination.
    pub fn nat_cuts(&self) -> &[u32] {
        self.nat_fib.cuts()
    }
    /// The `notModelled` NAT rule of this gateway that could rewrite a packet from `src` to
    /// `dst` (either address inside one of its mappings).
    #[inline]
    pub fn nat_not_modelled(&self, src: u32, dst: u32) -> Option<u32> {
        self.nat_everywhere
            .or_else(|| self.nat_fib.lookup(src))
            .or_else(|| self.nat_fib.lookup(dst))
    }
    #[inline]
    pub fn advertises_to(&self, dst: u32, bgp: bool, express_route: bool) -> bool {
        let speaks_bgp = (bgp && self.bgp) || express_route;
        if speaks_bgp && self.branch_fib.lookup(dst).is_some() {
            return true;
        }
        if bgp && self.bgp {
            return self.bgp_advertised_fib.lookup(dst).is_some();
        }
        self.advertised_fib.lookup(dst).is_some()
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct RouteTableInfo {
    pub name: String,
    pub disable_bgp_route_propagation: bool,
}

/// One distinct effective route set, shared by every subnet that has it.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct RouteSet {
    pub routes: Vec<EffectiveRoute>,
    fib: Fib,
    /// Per route, how many equal-cost routes start at it (1 but for ECMP groups).
    ecmp: Vec<u8>,
}

impl RouteSet {
    /// Index (into `routes`) of the Active route chosen for `dst`.
    #[inline]
    pub fn lookup(&self, dst: u32) -> Option<u32> {
        self.fib.lookup(dst)
    }
    /// [`RouteSet::lookup`] of every address of `dsts` into the same position of `out`, done
    /// together ([`vnetsim_lpm::Fib::lookup_batch`]); [`vnetsim_lpm::MISS`] where no route
    /// matches.
    #[inline]
    pub fn lookup_batch(&self, dsts: &[u32], out: &mut [u32]) {
        self.fib.lookup_batch(dsts, out)
    }
    /// How many equal-cost routes (consecutive from `i`) the route `lookup` gave stands for.
    #[inline]
    pub fn ecmp_width(&self, i: u32) -> u32 {
        self.ecmp[i as usize] as u32
    }
    pub fn fib_bytes(&self) -> usize {
        self.fib.memory_bytes()
    }
    /// Where [`RouteSet::lookup`]'s answer may change.
    pub fn cuts(&self) -> &[u32] {
        self.fib.cuts()
    }
}

/// The compiled fabric.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
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
    pub nat_gateways: Vec<NatGateway>,
    pub load_balancers: Vec<load_balancer::LoadBalancer>,
    pub lb_frontends: Vec<load_balancer::Frontend>,
    /// Per NIC, the load balancer giving it outbound SNAT: (balancer, frontend public IP,
    /// from an outbound rule).
    pub lb_outbound: Vec<Option<(LbId, u32, bool)>>,
    pub app_gateways: Vec<load_balancer::AppGateway>,
    pub route_tables: Vec<RouteTableInfo>,
    pub route_sets: Vec<RouteSet>,
    pub nsg_names: Vec<String>,
    /// Per NSG association, its compiled rules. A compiled fabric file saves them itself,
    /// table by table, and decodes each when first used (`deferred`), so they are not part of
    /// the fabric's serde form.
    #[serde(skip)]
    pub nsg_tables: deferred::Deferred<NsgTable>,
    /// AVNM security admin rules, per subnet that they reach (`Subnet::admin_table`).
    pub admin_tables: Vec<admin::AdminTable>,
    public: Fib,
    site_prefixes: Fib,
    /// Every NIC, endpoint and firewall address (the first VNet wins where spaces overlap), for
    /// finding the endpoint owning a source.
    private: Fib,
    /// Every subnet prefix to its subnet (the first declared wins where spaces overlap).
    subnet_prefixes: Fib,
    /// Resources the fabric has and vnetsim does not model (from `notModelled`).
    pub not_modelled: Vec<NotModelled>,
    /// Their addresses, to the index of their entry.
    not_modelled_addresses: Fib,
}

/// A resource that affects packets and that vnetsim does not model.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct NotModelled {
    pub resource_type: String,
    pub id: String,
    pub affects: String,
    /// The VNet it gives routes vnetsim does not know (a Virtual WAN hub connection).
    pub vnet: Option<VnetId>,
    /// The VPN gateway whose NAT rule it is.
    pub gateway: Option<GatewayId>,
}

/// Where a flow enters the fabric.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    LoadBalancer(LbId),
    AppGateway(AppGwId),
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
    /// The outbound method of a NIC toward the Internet and the source address it gives, in
    /// Azure's order of precedence: NAT gateway on the subnet, instance public IP, a public
    /// load balancer's outbound rule (followed only when the VM has no instance-level public
    /// IP: learn.microsoft.com/azure/load-balancer/outbound-rules), then a load-balancing
    /// rule's outbound SNAT, default outbound access (none on a private subnet).
    #[inline]
    pub fn outbound_of(&self, n: NicId) -> Option<(OutboundMethod, u32)> {
        let nic = &self.nics[n.ix()];
        let s = &self.subnets[nic.subnet.ix()];
        if let Some(g) = s.nat_gateway {
            return Some((
                OutboundMethod::NatGateway(g),
                self.nat_gateways[g.ix()].snat_ip,
            ));
        }
        if let Some(p) = nic.public_ip {
            return Some((OutboundMethod::InstancePublicIp, p));
        }
        if let Some((lb, a, _)) = self.lb_outbound.get(n.ix()).copied().flatten() {
            return Some((OutboundMethod::LoadBalancer(lb), a));
        }
        s.default_outbound_access
            .then_some((OutboundMethod::DefaultOutboundAccess, DEFAULT_OUTBOUND_IP))
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
            Owner::LbFrontend(fe) => {
                let s = self.lb_frontends[fe.ix()].subnet?;
                self.subnets[s.ix()].vnet
            }
            Owner::AppGw(g) | Owner::AppGwInstance(g) => self.app_gateways[g.ix()].vnet,
        };
        Some((vnet, o))
    }
    /// The endpoint a destination address stands for: the owner of a public address (a NIC's
    /// public IP, a firewall's, a service's), else what owns it as a source would.
    pub fn endpoint_of_destination(&self, ip: u32) -> Endpoint {
        match self.public_owner(ip) {
            Some(PublicOwner::Nic(n)) => Endpoint::Nic(n),
            Some(PublicOwner::Firewall(f)) => Endpoint::Firewall(f),
            Some(PublicOwner::Service(s)) => Endpoint::Service(s),
            _ => self.endpoint_of_source(ip),
        }
    }
    /// Where the global address tables may change their answer, for header-space analyses:
    /// public owners, site prefixes, private owners, subnet prefixes, not-modelled addresses.
    pub fn address_cuts(&self) -> [&[u32]; 5] {
        [
            self.public.cuts(),
            self.site_prefixes.cuts(),
            self.private.cuts(),
            self.subnet_prefixes.cuts(),
            self.not_modelled_addresses.cuts(),
        ]
    }
    /// The not-modelled resource holding `ip`, if any.
    #[inline]
    pub fn not_modelled_at(&self, ip: u32) -> Option<u32> {
        self.not_modelled_addresses.lookup(ip)
    }
    /// Whether an address belongs to the fabric: a NIC's, endpoint's or firewall's, one inside
    /// a subnet or a site, the platform's, or one of the fabric's public addresses.
    pub fn knows(&self, ip: u32) -> bool {
        self.knows_given(ip, self.endpoint_of_source(ip))
    }
    /// [`Fabric::knows`] for an address whose [`Fabric::endpoint_of_source`] is `owner`
    /// (the public owners are looked up only when nothing else owns it).
    #[inline]
    pub fn knows_given(&self, ip: u32, owner: Endpoint) -> bool {
        owner != Endpoint::Internet || self.public_owner(ip).is_some()
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
                Owner::LbFrontend(fe) => Endpoint::LoadBalancer(self.lb_frontends[fe.ix()].lb),
                Owner::AppGw(g) | Owner::AppGwInstance(g) => Endpoint::AppGateway(g),
            };
        }
        if let Some(s) = self.site_of(ip) {
            return Endpoint::Site(s);
        }
        // An address inside a subnet that nothing owns: traffic starts in its subnet.
        match self.subnet_prefixes.lookup(ip) {
            Some(i) => Endpoint::Subnet(SubnetId(i)),
            None => Endpoint::Internet,
        }
    }
    /// The endpoint id as outputs print it (`nic:NAME`, `pe:NAME`, ...).
    pub fn endpoint_id(&self, e: Endpoint) -> String {
        match e {
            Endpoint::Nic(i) => format!("nic:{}", self.nics[i.ix()].name),
            Endpoint::Pe(i) => format!("pe:{}", self.pes[i.ix()].name),
            Endpoint::Service(i) => format!("service:{}", self.services[i.ix()].name),
            Endpoint::Site(i) if self.sites[i.ix()].express_route => {
                format!("circuit:{}", self.sites[i.ix()].name)
            }
            Endpoint::Site(i) => format!("site:{}", self.sites[i.ix()].name),
            Endpoint::Internet => "internet".to_string(),
            Endpoint::Firewall(i) => format!("firewall:{}", self.firewalls[i.ix()].name),
            Endpoint::Gateway(i) => format!("gateway:{}", self.gateways[i.ix()].name),
            Endpoint::Subnet(i) => self.subnet_id(i),
            Endpoint::Platform => "platform".to_string(),
            Endpoint::LoadBalancer(i) => format!("lb:{}", self.load_balancers[i.ix()].name),
            Endpoint::AppGateway(i) => format!("appgw:{}", self.app_gateways[i.ix()].name),
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
