//! The topology as the user wrote it (topology format version 1), typed.
//! Names and enum spellings are Azure's. Every item keeps its location.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::node::Loc;

/// A value with the place it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> Sp<T> {
    pub fn new(value: T, loc: Loc) -> Self {
        Sp { value, loc }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Topology {
    pub version: u32,
    pub name: String,
    /// The owner of every object of the file that names none (`owner:` at the top; a team or
    /// boundary name, used by separation-of-duties audits).
    pub owner: Option<String>,
    pub sites: Vec<Site>,
    pub vnets: Vec<Vnet>,
    pub peerings: Vec<Peering>,
    pub route_tables: Vec<RouteTable>,
    pub application_security_groups: Vec<Sp<String>>,
    pub nsgs: Vec<Nsg>,
    pub nics: Vec<Nic>,
    pub gateways: Vec<Gateway>,
    pub nat_gateways: Vec<NatGateway>,
    pub express_route_circuits: Vec<ExpressRouteCircuit>,
    /// Azure Route Servers (`routeServers`): NVAs peer with them over BGP.
    pub route_servers: Vec<RouteServer>,
    pub firewalls: Vec<Firewall>,
    pub services: Vec<Service>,
    pub private_endpoints: Vec<PrivateEndpoint>,
    /// Azure Load Balancers (`loadBalancers`).
    pub load_balancers: Vec<crate::load_balancer::LoadBalancer>,
    /// Application Gateways v2 (`applicationGateways`).
    pub application_gateways: Vec<crate::load_balancer::ApplicationGateway>,
    /// Resources that affect packets but that vnetsim does not model (written by `import`).
    pub not_modelled: Vec<NotModelled>,
    /// `serviceTags`: the service-tag file (as written, relative to the topology).
    pub service_tags_file: Option<Sp<String>>,
    /// The tag data read from it (filled when the topology is loaded).
    pub service_tags: Option<crate::service_tags::ServiceTags>,
    /// Azure Virtual Network Manager instances (`networkManagers`).
    pub network_managers: Vec<crate::admin::NetworkManager>,
}

/// A resource the fabric has and vnetsim does not model: every load reports it.
#[derive(Clone, Debug)]
pub struct NotModelled {
    /// The Azure resource type, e.g. `Microsoft.Network/loadBalancers`.
    pub resource_type: String,
    /// Its ARM id (or template location).
    pub id: String,
    /// What it would affect.
    pub affects: String,
    /// Addresses it holds (frontends, instances): a packet sent to one meets it.
    pub addresses: Vec<Sp<Ipv4Addr>>,
    /// The VNet it gives routes vnetsim does not know (a Virtual WAN hub connection): a walk
    /// leaving that VNet for an address a hub route could take ends with this entry.
    pub vnet: Option<Sp<String>>,
    /// The VPN gateway it acts in (a gateway NAT rule): a walk crossing that gateway whose source
    /// or destination lies in one of `prefixes` (every walk crossing it, when none) ends with
    /// this entry.
    pub gateway: Option<Sp<String>>,
    /// The address spaces it rewrites (a NAT rule's internal and external mappings).
    pub prefixes: Vec<Sp<Ipv4Net>>,
}

#[derive(Clone, Debug)]
pub struct Site {
    pub name: Sp<String>,
    pub address_prefixes: Vec<Sp<Ipv4Net>>,
    pub bgp: Option<SiteBgp>,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
}

#[derive(Clone, Debug)]
pub struct SiteBgp {
    pub asn: Sp<u32>,
    /// `None` means "default: the site's addressPrefixes".
    pub advertised_prefixes: Option<Vec<Sp<Ipv4Net>>>,
}

impl Site {
    /// Prefixes the site advertises over BGP (default: its address prefixes).
    pub fn advertised(&self) -> Vec<Ipv4Net> {
        match &self.bgp {
            Some(SiteBgp {
                advertised_prefixes: Some(p),
                ..
            }) => p.iter().map(|p| p.value).collect(),
            _ => self.address_prefixes.iter().map(|p| p.value).collect(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Vnet {
    pub name: Sp<String>,
    pub address_space: Vec<Sp<Ipv4Net>>,
    pub subnets: Vec<Subnet>,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum PeNetworkPolicies {
    #[default]
    Disabled,
    Enabled,
    NetworkSecurityGroupEnabled,
    RouteTableEnabled,
}

impl PeNetworkPolicies {
    pub const ALL: [(&'static str, PeNetworkPolicies); 4] = [
        ("Disabled", PeNetworkPolicies::Disabled),
        ("Enabled", PeNetworkPolicies::Enabled),
        (
            "NetworkSecurityGroupEnabled",
            PeNetworkPolicies::NetworkSecurityGroupEnabled,
        ),
        ("RouteTableEnabled", PeNetworkPolicies::RouteTableEnabled),
    ];
    /// R4.3: user routes may invalidate the endpoint /32.
    pub fn route_tables(self) -> bool {
        matches!(
            self,
            PeNetworkPolicies::Enabled | PeNetworkPolicies::RouteTableEnabled
        )
    }
    /// R4.4: the subnet's NSG applies to traffic into the endpoint.
    pub fn nsg(self) -> bool {
        matches!(
            self,
            PeNetworkPolicies::Enabled | PeNetworkPolicies::NetworkSecurityGroupEnabled
        )
    }
}

#[derive(Clone, Debug)]
pub struct Subnet {
    pub name: Sp<String>,
    pub address_prefix: Sp<Ipv4Net>,
    pub nsg: Option<Sp<String>>,
    pub route_table: Option<Sp<String>>,
    pub private_endpoint_network_policies: PeNetworkPolicies,
    /// The NAT gateway associated with the subnet (its explicit outbound method).
    pub nat_gateway: Option<Sp<String>>,
    /// Whether VMs without an explicit outbound method get default outbound access
    /// (default true in format version 1, Azure's behaviour for VNets created before private
    /// subnets became the default; `false` makes the subnet private).
    pub default_outbound_access: bool,
    /// `serviceEndpoints`: services reached over the backbone with the VM's private source.
    pub service_endpoints: Vec<ServiceEndpoint>,
}

/// A subnet's service endpoint (`{service: Microsoft.Storage, locations: [westeurope]}`).
#[derive(Clone, Debug)]
pub struct ServiceEndpoint {
    pub service: Sp<String>,
    /// Regions whose prefixes the endpoint covers; empty or `*`: all (the global tag).
    pub locations: Vec<Sp<String>>,
}

/// A PaaS service's `networkAcls` (the storage account shape): what its public endpoint admits.
#[derive(Clone, Debug, Default)]
pub struct NetworkAcls {
    /// `defaultAction: Deny` admits only the rules below ("selected networks").
    pub default_deny: bool,
    /// Subnets (`VNET/SUBNET`) whose service-endpoint traffic is admitted.
    pub virtual_network_rules: Vec<Sp<String>>,
    /// Public source prefixes admitted (never private ones, nor service-endpoint traffic).
    pub ip_rules: Vec<Sp<Ipv4Net>>,
}

/// A NAT gateway: the source address of its subnets' outbound connections to the Internet.
#[derive(Clone, Debug)]
pub struct NatGateway {
    pub name: Sp<String>,
    pub public_ip_addresses: Vec<Sp<Ipv4Addr>>,
    pub public_ip_prefixes: Vec<Sp<Ipv4Net>>,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
}

#[derive(Clone, Debug)]
pub struct Peering {
    pub loc: Loc,
    pub from: Sp<String>,
    pub to: Sp<String>,
    pub allow_virtual_network_access: bool,
    pub allow_forwarded_traffic: bool,
    pub allow_gateway_transit: bool,
    pub use_remote_gateways: bool,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
}

#[derive(Clone, Debug)]
pub struct RouteTable {
    pub name: Sp<String>,
    pub disable_bgp_route_propagation: bool,
    pub routes: Vec<Route>,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NextHopType {
    VirtualAppliance,
    VirtualNetworkGateway,
    VnetLocal,
    Internet,
    None,
}

impl NextHopType {
    pub const ALL: [(&'static str, NextHopType); 5] = [
        ("VirtualAppliance", NextHopType::VirtualAppliance),
        ("VirtualNetworkGateway", NextHopType::VirtualNetworkGateway),
        ("VnetLocal", NextHopType::VnetLocal),
        ("Internet", NextHopType::Internet),
        ("None", NextHopType::None),
    ];
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RoutePrefix {
    Prefix(Ipv4Net),
    /// A service tag used as a route prefix: its prefixes come from the `serviceTags` file.
    ServiceTag(String),
}

#[derive(Clone, Debug)]
pub struct Route {
    pub name: Sp<String>,
    pub address_prefix: Sp<RoutePrefix>,
    pub next_hop_type: Sp<NextHopType>,
    pub next_hop_ip_address: Option<Sp<Ipv4Addr>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Allow,
    Deny,
}

/// NSG rule protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NsgProtocol {
    Tcp,
    Udp,
    Icmp,
    Esp,
    Ah,
    Any,
}

impl NsgProtocol {
    pub const ALL: [(&'static str, NsgProtocol); 6] = [
        ("Tcp", NsgProtocol::Tcp),
        ("Udp", NsgProtocol::Udp),
        ("Icmp", NsgProtocol::Icmp),
        ("Esp", NsgProtocol::Esp),
        ("Ah", NsgProtocol::Ah),
        ("*", NsgProtocol::Any),
    ];
    /// IP protocol number, `None` for any.
    pub fn number(self) -> Option<u8> {
        match self {
            NsgProtocol::Tcp => Some(6),
            NsgProtocol::Udp => Some(17),
            NsgProtocol::Icmp => Some(1),
            NsgProtocol::Esp => Some(50),
            NsgProtocol::Ah => Some(51),
            NsgProtocol::Any => None,
        }
    }
}

/// Service tags with address data in v1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceTag {
    VirtualNetwork,
    AzureLoadBalancer,
    Internet,
}

impl ServiceTag {
    pub fn name(self) -> &'static str {
        match self {
            ServiceTag::VirtualNetwork => "VirtualNetwork",
            ServiceTag::AzureLoadBalancer => "AzureLoadBalancer",
            ServiceTag::Internet => "Internet",
        }
    }
    /// Accepts Azure's spellings, case-insensitively, and the classic ones.
    pub fn parse(s: &str) -> Option<ServiceTag> {
        match s.to_ascii_lowercase().as_str() {
            "virtualnetwork" | "virtual_network" => Some(ServiceTag::VirtualNetwork),
            "azureloadbalancer" | "azure_loadbalancer" => Some(ServiceTag::AzureLoadBalancer),
            "internet" => Some(ServiceTag::Internet),
            _ => None,
        }
    }
}

/// One NSG address item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressSpec {
    Any,
    Prefix(Ipv4Net),
    Tag(ServiceTag),
    Asg(String),
    /// A service tag whose prefixes come from the `serviceTags` file (e.g. `Storage`).
    NamedTag(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    pub const ANY: PortRange = PortRange { lo: 0, hi: 65535 };
}

#[derive(Clone, Debug)]
pub struct SecurityRule {
    pub name: Sp<String>,
    pub priority: Sp<u32>,
    pub direction: Direction,
    pub access: Access,
    pub protocol: NsgProtocol,
    pub source: Vec<Sp<AddressSpec>>,
    pub source_ports: Vec<PortRange>,
    pub destination: Vec<Sp<AddressSpec>>,
    pub destination_ports: Vec<PortRange>,
    /// The fields the importer could not express (empty for an ordinary rule).
    pub unresolved: Vec<Unresolved>,
}

/// A field of a rule that vnetsim cannot resolve (a service tag without address data, a
/// firewall rule's FQDNs, an IP group outside the sources): written `unresolved: {FIELD: WHY}`
/// on the rule, with the field itself left out. The rule is kept with everything else it
/// states; a flow it could match (every stated field matching, the unresolved one assumed to)
/// ends with a reason naming it, never a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    /// The rule's key, as written (`source`, `destination`, `translatedAddress`...).
    pub field: String,
    /// Why it is unresolved.
    pub reason: Sp<String>,
}

/// Every unresolved field of a rule and why, as `FIELD: WHY; ...`.
pub fn unresolved_text(u: &[Unresolved]) -> String {
    u.iter()
        .map(|x| format!("{}: {}", x.field, x.reason.value))
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Clone, Debug)]
pub struct Nsg {
    pub name: Sp<String>,
    pub rules: Vec<SecurityRule>,
    /// Rules with an `unresolved:` field, in the order written (never in `rules`).
    pub unresolved_rules: Vec<SecurityRule>,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
}

#[derive(Clone, Debug)]
pub struct Nic {
    pub name: Sp<String>,
    pub subnet: Sp<String>,
    pub private_ip_address: Sp<Ipv4Addr>,
    pub public_ip_address: Option<Sp<Ipv4Addr>>,
    pub nsg: Option<Sp<String>>,
    pub application_security_groups: Vec<Sp<String>>,
    pub enable_ip_forwarding: bool,
    /// The NIC's MAC address (48 bits), as `az network nic list` gives it (`00-22-48-71-C2-05`,
    /// any separator or none, any case): what flow logs name the NIC by.
    pub mac_address: Option<Sp<u64>>,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GatewayType {
    Vpn,
    ExpressRoute,
}

#[derive(Clone, Debug)]
pub struct Gateway {
    pub name: Sp<String>,
    pub vnet: Sp<String>,
    pub gateway_type: GatewayType,
    /// The gateway's BGP ASN (65515 when `bgp` is given without one), where it was written.
    pub bgp_asn: Option<Sp<u32>>,
    /// IPsec (site-to-site) connections, by site name.
    pub connections: Vec<Sp<String>>,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
    /// VNet-to-VNet connections, by the other virtual network gateway's name.
    pub vnet2vnet: Vec<Sp<String>>,
    /// ExpressRoute connections, by circuit name.
    pub circuits: Vec<Sp<String>>,
    /// Two instances both active (`activeActive`), or active-standby.
    pub active_active: bool,
    /// The instances' addresses in GatewaySubnet (`instanceAddresses`): what effective routes
    /// show as the next hop of the routes the gateway puts in.
    pub instance_addresses: Vec<Sp<Ipv4Addr>>,
}

/// An ExpressRoute circuit's private peering: the on-premises side's ASN and the prefixes it
/// advertises over BGP.
#[derive(Clone, Debug)]
pub struct ExpressRouteCircuit {
    pub name: Sp<String>,
    pub peer_asn: Sp<u32>,
    pub advertised_prefixes: Vec<Sp<Ipv4Net>>,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
}

/// The Route Server's subnet name, as Azure requires it.
pub const ROUTE_SERVER_SUBNET: &str = "RouteServerSubnet";

/// An Azure Route Server (a `Microsoft.Network/virtualHubs` without a virtual WAN) in a VNet's
/// RouteServerSubnet. It exchanges routes with NVAs over BGP and programs what they advertise
/// into the VNet and into peered VNets that use remote gateways.
#[derive(Clone, Debug)]
pub struct RouteServer {
    pub name: Sp<String>,
    pub vnet: Sp<String>,
    /// The subnet it is deployed in (default `RouteServerSubnet`, the only name Azure accepts).
    pub subnet: Sp<String>,
    /// Route exchange between the VNet's VPN/ExpressRoute gateways and the NVAs (branch-to-branch),
    /// off by default.
    pub allow_branch_to_branch_traffic: bool,
    /// Its two instance addresses in RouteServerSubnet (`virtualRouterIps`), optional.
    pub instance_addresses: Vec<Sp<Ipv4Addr>>,
    pub bgp_peers: Vec<BgpPeer>,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
}

/// One NVA peered with a Route Server (`bgpConnections` in ARM) and the routes it advertises
/// (an input, like a site's BGP prefixes: no export carries them).
#[derive(Clone, Debug)]
pub struct BgpPeer {
    pub name: Sp<String>,
    pub peer_ip: Sp<Ipv4Addr>,
    pub peer_asn: Sp<u32>,
    pub advertises: Vec<AdvertisedRoute>,
}

/// A route an NVA advertises: its prefix and AS path (nearest AS first; empty means the NVA's
/// own ASN only, a path of length one).
#[derive(Clone, Debug)]
pub struct AdvertisedRoute {
    pub prefix: Sp<Ipv4Net>,
    pub as_path: Vec<u32>,
}

impl AdvertisedRoute {
    /// The AS path length the Route Server compares: the peer's own ASN counts when the path
    /// given does not start with it.
    pub fn as_path_len(&self, peer_asn: u32) -> usize {
        match self.as_path.first() {
            Some(&a) if a == peer_asn => self.as_path.len(),
            _ => self.as_path.len() + 1,
        }
    }
}

/// A gateway connection's `connectionType`, in Azure's spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionType {
    IPsec,
    Vnet2Vnet,
    ExpressRoute,
}

impl ConnectionType {
    pub const ALL: [(&'static str, ConnectionType); 3] = [
        ("IPsec", ConnectionType::IPsec),
        ("Vnet2Vnet", ConnectionType::Vnet2Vnet),
        ("ExpressRoute", ConnectionType::ExpressRoute),
    ];
}

/// Firewall network-rule and DNAT protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FwProtocol {
    Tcp,
    Udp,
    Icmp,
    Any,
}

impl FwProtocol {
    pub const ALL: [(&'static str, FwProtocol); 4] = [
        ("TCP", FwProtocol::Tcp),
        ("UDP", FwProtocol::Udp),
        ("ICMP", FwProtocol::Icmp),
        ("Any", FwProtocol::Any),
    ];
}

/// A firewall rule address: `*` or a prefix/IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FwAddress {
    Any,
    Prefix(Ipv4Net),
}

#[derive(Clone, Debug)]
pub struct DnatRule {
    pub name: Sp<String>,
    pub protocols: Vec<FwProtocol>,
    pub source: Vec<FwAddress>,
    pub destination: Vec<Sp<Ipv4Addr>>,
    pub destination_ports: Vec<PortRange>,
    /// `0.0.0.0` when `translatedAddress` is unresolved.
    pub translated_address: Sp<Ipv4Addr>,
    pub translated_port: u16,
    pub unresolved: Vec<Unresolved>,
}

#[derive(Clone, Debug)]
pub struct NetworkRule {
    pub name: Sp<String>,
    pub protocols: Vec<FwProtocol>,
    pub source: Vec<FwAddress>,
    pub destination: Vec<FwAddress>,
    pub destination_ports: Vec<PortRange>,
    pub unresolved: Vec<Unresolved>,
}

#[derive(Clone, Debug)]
pub struct NetworkRuleCollection {
    pub name: Sp<String>,
    pub priority: Sp<u32>,
    pub action: Access,
    pub rules: Vec<NetworkRule>,
    /// Rules with an `unresolved:` field (never in `rules`).
    pub unresolved_rules: Vec<NetworkRule>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AppProtocolKind {
    Http,
    Https,
    Mssql,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AppProtocol {
    pub kind: AppProtocolKind,
    pub port: u16,
}

#[derive(Clone, Debug)]
pub struct ApplicationRule {
    pub name: Sp<String>,
    pub source: Vec<FwAddress>,
    pub protocols: Vec<AppProtocol>,
    pub target_fqdns: Vec<Sp<String>>,
    pub unresolved: Vec<Unresolved>,
}

#[derive(Clone, Debug)]
pub struct ApplicationRuleCollection {
    pub name: Sp<String>,
    pub priority: Sp<u32>,
    pub action: Access,
    pub rules: Vec<ApplicationRule>,
    /// Rules with an `unresolved:` field (never in `rules`).
    pub unresolved_rules: Vec<ApplicationRule>,
}

/// One entry of the firewall's SNAT `privateRanges`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivateRange {
    IanaPrivateRanges,
    Prefix(Ipv4Net),
}

#[derive(Clone, Debug)]
pub struct Firewall {
    pub name: Sp<String>,
    pub vnet: Sp<String>,
    pub private_ip_address: Sp<Ipv4Addr>,
    pub snat_ip_addresses: Vec<Sp<Ipv4Addr>>,
    pub public_ip_addresses: Vec<Sp<Ipv4Addr>>,
    pub private_ranges: Vec<PrivateRange>,
    pub dnat_rules: Vec<DnatRule>,
    /// DNAT rules with an `unresolved:` field (never in `dnat_rules`), each with the number
    /// of ordinary DNAT rules written before it (DNAT rules are evaluated in order).
    pub unresolved_dnat_rules: Vec<(usize, DnatRule)>,
    pub network_rule_collections: Vec<NetworkRuleCollection>,
    pub application_rule_collections: Vec<ApplicationRuleCollection>,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
}

#[derive(Clone, Debug)]
pub struct Service {
    pub name: Sp<String>,
    pub kind: String,
    pub fqdn: Option<String>,
    pub public_ip_address: Option<Sp<Ipv4Addr>>,
    pub public_network_access: bool,
    /// Whether the service answers UDP through its endpoints (R4.6; default TCP only).
    pub accepts_udp: bool,
    /// What its public endpoint admits (`networkAcls`; default: everything).
    pub network_acls: NetworkAcls,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
}

#[derive(Clone, Debug)]
pub struct PrivateEndpoint {
    pub name: Sp<String>,
    pub subnet: Sp<String>,
    pub private_ip_address: Sp<Ipv4Addr>,
    pub service: Sp<String>,
    /// Where the object came from (set by the importer; optional).
    pub origin: Option<Origin>,
}

/// Where an object came from and who owns it: the importer fills it from the
/// source (ARM id or file:line, subscription, resource group, tenant). Optional
/// in the format (`origin:` on each top-level object); kept through a round trip.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub source: Option<String>,
    pub subscription: Option<String>,
    pub resource_group: Option<String>,
    pub tenant: Option<String>,
    pub owner: Option<String>,
}
