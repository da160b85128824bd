//! Azure Load Balancer and Application Gateway (v2) as the user wrote them: types, decoding
//! from the located tree, and Azure's constraints on them (the validator's load-balancer and
//! application-gateway steps).
//!
//! Sources: learn.microsoft.com/azure/load-balancer (components, load-balancer-ha-ports-overview,
//! distribution-mode-concepts, load-balancer-floating-ip, inbound-nat-rules, outbound-rules,
//! load-balancer-custom-probe-overview) and
//! learn.microsoft.com/azure/application-gateway/configuration-infrastructure.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use crate::decode::{enumerated, ipv4, items, obj, require, scalar, string, uint, Obj};
use crate::diag::Diagnostics;
use crate::limits::Echo;
use crate::node::{Loc, Node};
use crate::types::{Access, AddressSpec, Direction, NsgProtocol, Origin, Sp};
use crate::validate::Checker;

/// Load balancer SKU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LbSku {
    Standard,
    Basic,
}

/// A load-balancing or NAT rule's protocol (`All` only with port 0: HA ports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LbProtocol {
    Tcp,
    Udp,
    All,
}

impl LbProtocol {
    pub const ALL: [(&'static str, LbProtocol); 3] = [
        ("Tcp", LbProtocol::Tcp),
        ("Udp", LbProtocol::Udp),
        ("All", LbProtocol::All),
    ];
    /// IP protocol number, `None` for All.
    pub fn number(self) -> Option<u8> {
        match self {
            LbProtocol::Tcp => Some(6),
            LbProtocol::Udp => Some(17),
            LbProtocol::All => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            LbProtocol::Tcp => "Tcp",
            LbProtocol::Udp => "Udp",
            LbProtocol::All => "All",
        }
    }
}

/// A rule's `loadDistribution` (distribution-mode-concepts): the tuple the hash covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum LoadDistribution {
    /// Five-tuple hash (source and destination address and port, protocol).
    #[default]
    Default,
    /// Session persistence on the client address: two-tuple (source, destination address).
    SourceIP,
    /// Session persistence on client address and protocol: three-tuple.
    SourceIPProtocol,
}

impl LoadDistribution {
    pub const ALL: [(&'static str, LoadDistribution); 3] = [
        ("Default", LoadDistribution::Default),
        ("SourceIP", LoadDistribution::SourceIP),
        ("SourceIPProtocol", LoadDistribution::SourceIPProtocol),
    ];
}

/// A frontend IP configuration: a private address in a subnet, or a public IP.
#[derive(Clone, Debug)]
pub struct LbFrontend {
    pub name: Sp<String>,
    pub subnet: Option<Sp<String>>,
    pub private_ip_address: Option<Sp<Ipv4Addr>>,
    pub public_ip_address: Option<Sp<Ipv4Addr>>,
}

/// A backend pool member: a NIC's (primary) IP configuration, healthy unless marked down.
#[derive(Clone, Debug)]
pub struct LbBackend {
    pub nic: Sp<String>,
    /// `health: down`: the probe fails (an input: vnetsim does not run probes).
    pub down: bool,
}

#[derive(Clone, Debug)]
pub struct LbPool {
    pub name: Sp<String>,
    pub backends: Vec<LbBackend>,
}

#[derive(Clone, Debug)]
pub struct LbProbe {
    pub name: Sp<String>,
    /// Tcp, Http or Https; the probe connects over TCP in all three.
    pub protocol: String,
    pub port: Sp<u32>,
}

#[derive(Clone, Debug)]
pub struct LbRule {
    pub name: Sp<String>,
    pub frontend: Sp<String>,
    pub pool: Sp<String>,
    pub protocol: Sp<LbProtocol>,
    pub frontend_port: Sp<u32>,
    pub backend_port: Sp<u32>,
    pub probe: Option<Sp<String>>,
    pub floating_ip: bool,
    pub load_distribution: LoadDistribution,
    /// `disableOutboundSnat` (default false): whether the rule's frontend also gives its
    /// backends outbound SNAT (public load balancers only).
    pub disable_outbound_snat: bool,
}

/// An inbound NAT rule: one frontend port to one NIC's port, or (`frontendPortRangeStart`
/// with a pool) consecutive frontend ports to the pool's members in order.
#[derive(Clone, Debug)]
pub struct LbNatRule {
    pub name: Sp<String>,
    pub frontend: Sp<String>,
    pub protocol: Sp<LbProtocol>,
    pub frontend_port: Option<Sp<u32>>,
    pub frontend_port_range_start: Option<Sp<u32>>,
    pub backend_port: Sp<u32>,
    pub backend: Option<Sp<String>>,
    pub pool: Option<Sp<String>>,
    pub floating_ip: bool,
}

#[derive(Clone, Debug)]
pub struct LbOutboundRule {
    pub name: Sp<String>,
    pub frontends: Vec<Sp<String>>,
    pub pool: Sp<String>,
    pub protocol: LbProtocol,
}

#[derive(Clone, Debug)]
pub struct LoadBalancer {
    pub name: Sp<String>,
    pub sku: LbSku,
    pub frontends: Vec<LbFrontend>,
    pub pools: Vec<LbPool>,
    pub probes: Vec<LbProbe>,
    pub rules: Vec<LbRule>,
    pub nat_rules: Vec<LbNatRule>,
    pub outbound_rules: Vec<LbOutboundRule>,
    pub origin: Option<Origin>,
}

impl LoadBalancer {
    /// Public when its frontends are public IPs (Azure: a load balancer is one or the other).
    pub fn is_public(&self) -> bool {
        self.frontends.iter().any(|f| f.public_ip_address.is_some())
    }
}

/// Application Gateway SKU tier (v2 only; WAF policies are not modelled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppGwSku {
    StandardV2,
    WafV2,
}

/// Which frontend a listener listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppGwFrontend {
    Public,
    Private,
}

#[derive(Clone, Debug)]
pub struct AppGwListener {
    pub name: Sp<String>,
    pub frontend: Sp<AppGwFrontend>,
    pub port: Sp<u32>,
    /// Http or Https (the client's connection; TLS terminates at the gateway).
    pub protocol: String,
}

/// A backend pool: addresses (IPs or FQDNs) and NICs.
#[derive(Clone, Debug)]
pub struct AppGwPool {
    pub name: Sp<String>,
    pub addresses: Vec<Sp<String>>,
    pub nics: Vec<Sp<String>>,
}

#[derive(Clone, Debug)]
pub struct AppGwRule {
    pub name: Sp<String>,
    pub listener: Sp<String>,
    pub pool: Sp<String>,
    pub backend_port: Sp<u32>,
    pub priority: Option<Sp<u32>>,
}

#[derive(Clone, Debug)]
pub struct ApplicationGateway {
    pub name: Sp<String>,
    pub sku: AppGwSku,
    pub subnet: Sp<String>,
    pub private_ip_address: Option<Sp<Ipv4Addr>>,
    pub public_ip_address: Option<Sp<Ipv4Addr>>,
    /// The instances' addresses in the gateway's subnet (the source backends see).
    pub instance_addresses: Vec<Sp<Ipv4Addr>>,
    pub listeners: Vec<AppGwListener>,
    pub pools: Vec<AppGwPool>,
    pub rules: Vec<AppGwRule>,
    pub origin: Option<Origin>,
}

// ---------------------------------------------------------------- decoding

fn flag(d: &mut Diagnostics, n: Option<&Node>, default: bool) -> bool {
    let Some(n) = n else { return default };
    match scalar(d, n, "true or false") {
        Some("true" | "True" | "TRUE") => true,
        Some("false" | "False" | "FALSE") => false,
        Some(s) => {
            d.error(n.loc, format!("expected true or false, found '{s}'"));
            default
        }
        None => default,
    }
}

fn port(d: &mut Diagnostics, o: &Obj, key: &str, what: &str) -> Option<Sp<u32>> {
    require(d, o, key, what).and_then(|x| uint(d, x, "a port number 0-65535", 65535))
}

fn list_of<T>(
    d: &mut Diagnostics,
    n: Option<&Node>,
    what: &str,
    f: impl Fn(&mut Diagnostics, &Node) -> Option<T>,
) -> Vec<T> {
    items(d, n, what, false)
        .into_iter()
        .filter_map(|x| f(d, x))
        .collect()
}

fn name_list(d: &mut Diagnostics, n: Option<&Node>, what: &str) -> Vec<Sp<String>> {
    items(d, n, what, true)
        .into_iter()
        .filter_map(|x| string(d, x, what))
        .collect()
}

/// Decodes one `loadBalancers` entry.
pub(crate) fn decode_load_balancer(d: &mut Diagnostics, n: &Node) -> Option<LoadBalancer> {
    let o = obj(
        d,
        n,
        "a load balancer",
        &[
            "name",
            "sku",
            "frontendIPConfigurations",
            "backendAddressPools",
            "probes",
            "loadBalancingRules",
            "inboundNatRules",
            "outboundRules",
            "origin",
        ],
    )?;
    let name = require(d, &o, "name", "a load balancer").and_then(|x| string(d, x, "a name"));
    let sku = o
        .get("sku")
        .and_then(|x| {
            enumerated(
                d,
                x,
                "load balancer sku",
                &[("Standard", LbSku::Standard), ("Basic", LbSku::Basic)],
            )
        })
        .unwrap_or(LbSku::Standard);
    let frontends = list_of(
        d,
        o.get("frontendIPConfigurations"),
        "frontendIPConfigurations",
        frontend,
    );
    let pools = list_of(d, o.get("backendAddressPools"), "backendAddressPools", pool);
    let probes = list_of(d, o.get("probes"), "probes", probe);
    let rules = list_of(
        d,
        o.get("loadBalancingRules"),
        "loadBalancingRules",
        lb_rule,
    );
    let nat_rules = list_of(d, o.get("inboundNatRules"), "inboundNatRules", nat_rule);
    let outbound_rules = list_of(d, o.get("outboundRules"), "outboundRules", outbound_rule);
    Some(LoadBalancer {
        name: name?,
        sku,
        frontends,
        pools,
        probes,
        rules,
        nat_rules,
        outbound_rules,
        origin: crate::decode::origin(d, &o),
    })
}

fn frontend(d: &mut Diagnostics, n: &Node) -> Option<LbFrontend> {
    let what = "a frontend IP configuration";
    let o = obj(
        d,
        n,
        what,
        &["name", "subnet", "privateIpAddress", "publicIpAddress"],
    )?;
    let name = require(d, &o, "name", what).and_then(|x| string(d, x, "a name"));
    let subnet = o
        .get("subnet")
        .and_then(|x| string(d, x, "a subnet reference VNET/SUBNET"));
    let private_ip_address = o
        .get("privateIpAddress")
        .and_then(|x| ipv4(d, x, "a private IP address"));
    let public_ip_address = o
        .get("publicIpAddress")
        .and_then(|x| ipv4(d, x, "a public IP address"));
    Some(LbFrontend {
        name: name?,
        subnet,
        private_ip_address,
        public_ip_address,
    })
}

fn backend_entry(d: &mut Diagnostics, n: &Node) -> Option<LbBackend> {
    if matches!(n.kind, crate::node::NodeKind::Scalar { .. }) {
        return string(d, n, "a NIC name").map(|nic| LbBackend { nic, down: false });
    }
    let o = obj(d, n, "a backend", &["nic", "health"])?;
    let nic = require(d, &o, "nic", "a backend").and_then(|x| string(d, x, "a NIC name"));
    let down = o
        .get("health")
        .and_then(|x| enumerated(d, x, "health", &[("Up", false), ("Down", true)]))
        .unwrap_or(false);
    Some(LbBackend { nic: nic?, down })
}

fn pool(d: &mut Diagnostics, n: &Node) -> Option<LbPool> {
    let o = obj(d, n, "a backend address pool", &["name", "backends"])?;
    let name =
        require(d, &o, "name", "a backend address pool").and_then(|x| string(d, x, "a name"));
    let backends = items(d, o.get("backends"), "backends", false)
        .into_iter()
        .filter_map(|x| backend_entry(d, x))
        .collect();
    Some(LbPool {
        name: name?,
        backends,
    })
}

fn probe(d: &mut Diagnostics, n: &Node) -> Option<LbProbe> {
    let o = obj(
        d,
        n,
        "a probe",
        &["name", "protocol", "port", "requestPath"],
    )?;
    let name = require(d, &o, "name", "a probe").and_then(|x| string(d, x, "a name"));
    let protocol = o
        .get("protocol")
        .and_then(|x| {
            enumerated(
                d,
                x,
                "probe protocol",
                &[("Tcp", "Tcp"), ("Http", "Http"), ("Https", "Https")],
            )
        })
        .unwrap_or("Tcp");
    let port = port(d, &o, "port", "a probe");
    Some(LbProbe {
        name: name?,
        protocol: protocol.to_string(),
        port: port?,
    })
}

fn protocol(d: &mut Diagnostics, o: &Obj, what: &str) -> Option<Sp<LbProtocol>> {
    let n = require(d, o, "protocol", what)?;
    enumerated(d, n, "load balancer protocol", &LbProtocol::ALL).map(|p| Sp::new(p, n.loc))
}

fn lb_rule(d: &mut Diagnostics, n: &Node) -> Option<LbRule> {
    let what = "a load-balancing rule";
    let o = obj(
        d,
        n,
        what,
        &[
            "name",
            "frontendIPConfiguration",
            "backendAddressPool",
            "protocol",
            "frontendPort",
            "backendPort",
            "probe",
            "enableFloatingIP",
            "loadDistribution",
            "disableOutboundSnat",
            "idleTimeoutInMinutes",
            "enableTcpReset",
        ],
    )?;
    let name = require(d, &o, "name", what).and_then(|x| string(d, x, "a name"));
    let fe = require(d, &o, "frontendIPConfiguration", what)
        .and_then(|x| string(d, x, "a frontend IP configuration name"));
    let pool = require(d, &o, "backendAddressPool", what)
        .and_then(|x| string(d, x, "a backend address pool name"));
    let proto = protocol(d, &o, what);
    let fp = port(d, &o, "frontendPort", what);
    let bp = port(d, &o, "backendPort", what);
    let probe = o.get("probe").and_then(|x| string(d, x, "a probe name"));
    let floating_ip = flag(d, o.get("enableFloatingIP"), false);
    let load_distribution = o
        .get("loadDistribution")
        .and_then(|x| enumerated(d, x, "loadDistribution", &LoadDistribution::ALL))
        .unwrap_or_default();
    let disable_outbound_snat = flag(d, o.get("disableOutboundSnat"), false);
    let _ = flag(d, o.get("enableTcpReset"), false);
    if let Some(x) = o.get("idleTimeoutInMinutes") {
        let _ = uint(d, x, "minutes", 120);
    }
    Some(LbRule {
        name: name?,
        frontend: fe?,
        pool: pool?,
        protocol: proto?,
        frontend_port: fp?,
        backend_port: bp?,
        probe,
        floating_ip,
        load_distribution,
        disable_outbound_snat,
    })
}

fn nat_rule(d: &mut Diagnostics, n: &Node) -> Option<LbNatRule> {
    let what = "an inbound NAT rule";
    let o = obj(
        d,
        n,
        what,
        &[
            "name",
            "frontendIPConfiguration",
            "protocol",
            "frontendPort",
            "frontendPortRangeStart",
            "frontendPortRangeEnd",
            "backendPort",
            "backend",
            "backendAddressPool",
            "enableFloatingIP",
        ],
    )?;
    let name = require(d, &o, "name", what).and_then(|x| string(d, x, "a name"));
    let fe = require(d, &o, "frontendIPConfiguration", what)
        .and_then(|x| string(d, x, "a frontend IP configuration name"));
    let proto = protocol(d, &o, what);
    let p = |d: &mut Diagnostics, k: &str| {
        o.get(k)
            .and_then(|x| uint(d, x, "a port number 1-65534", 65534))
    };
    let frontend_port = p(d, "frontendPort");
    let frontend_port_range_start = p(d, "frontendPortRangeStart");
    let _ = p(d, "frontendPortRangeEnd");
    let bp = port(d, &o, "backendPort", what);
    let backend = o.get("backend").and_then(|x| string(d, x, "a NIC name"));
    let pool = o
        .get("backendAddressPool")
        .and_then(|x| string(d, x, "a backend address pool name"));
    match (&frontend_port, &backend, &frontend_port_range_start, &pool) {
        (Some(_), Some(_), None, None) | (None, None, Some(_), Some(_)) => {}
        _ => d.error(
            o_loc(n),
            "an inbound NAT rule has either frontendPort with backend (one NIC), or \
             frontendPortRangeStart with backendAddressPool",
        ),
    }
    let floating_ip = flag(d, o.get("enableFloatingIP"), false);
    Some(LbNatRule {
        name: name?,
        frontend: fe?,
        protocol: proto?,
        frontend_port,
        frontend_port_range_start,
        backend_port: bp?,
        backend,
        pool,
        floating_ip,
    })
}

fn o_loc(n: &Node) -> Loc {
    n.loc
}

fn outbound_rule(d: &mut Diagnostics, n: &Node) -> Option<LbOutboundRule> {
    let what = "an outbound rule";
    let o = obj(
        d,
        n,
        what,
        &[
            "name",
            "frontendIPConfigurations",
            "backendAddressPool",
            "protocol",
            "allocatedOutboundPorts",
            "idleTimeoutInMinutes",
            "enableTcpReset",
        ],
    )?;
    let name = require(d, &o, "name", what).and_then(|x| string(d, x, "a name"));
    let fes = name_list(
        d,
        o.get("frontendIPConfigurations"),
        "a frontend IP configuration name",
    );
    if fes.is_empty() {
        d.error(
            n.loc,
            "an outbound rule needs at least one of frontendIPConfigurations",
        );
    }
    let pool = require(d, &o, "backendAddressPool", what)
        .and_then(|x| string(d, x, "a backend address pool name"));
    let protocol = o
        .get("protocol")
        .and_then(|x| enumerated(d, x, "outbound rule protocol", &LbProtocol::ALL))
        .unwrap_or(LbProtocol::All);
    for k in ["allocatedOutboundPorts", "idleTimeoutInMinutes"] {
        if let Some(x) = o.get(k) {
            let _ = uint(d, x, "a number", 64000);
        }
    }
    let _ = flag(d, o.get("enableTcpReset"), false);
    Some(LbOutboundRule {
        name: name?,
        frontends: fes,
        pool: pool?,
        protocol,
    })
}

/// Decodes one `applicationGateways` entry.
pub(crate) fn decode_application_gateway(
    d: &mut Diagnostics,
    n: &Node,
) -> Option<ApplicationGateway> {
    let what = "an application gateway";
    let o = obj(
        d,
        n,
        what,
        &[
            "name",
            "sku",
            "subnet",
            "privateIpAddress",
            "publicIpAddress",
            "instanceAddresses",
            "listeners",
            "backendAddressPools",
            "routingRules",
            "origin",
        ],
    )?;
    let name = require(d, &o, "name", what).and_then(|x| string(d, x, "a name"));
    let sku = o
        .get("sku")
        .and_then(|x| {
            enumerated(
                d,
                x,
                "application gateway sku (v2 only)",
                &[
                    ("Standard_v2", AppGwSku::StandardV2),
                    ("WAF_v2", AppGwSku::WafV2),
                ],
            )
        })
        .unwrap_or(AppGwSku::StandardV2);
    let subnet =
        require(d, &o, "subnet", what).and_then(|x| string(d, x, "a subnet reference VNET/SUBNET"));
    let private_ip_address = o
        .get("privateIpAddress")
        .and_then(|x| ipv4(d, x, "a private IP address"));
    let public_ip_address = o
        .get("publicIpAddress")
        .and_then(|x| ipv4(d, x, "a public IP address"));
    let instance_addresses = items(d, o.get("instanceAddresses"), "instanceAddresses", true)
        .into_iter()
        .filter_map(|x| ipv4(d, x, "an instance address"))
        .collect();
    let listeners = list_of(d, o.get("listeners"), "listeners", listener);
    let pools = list_of(
        d,
        o.get("backendAddressPools"),
        "backendAddressPools",
        appgw_pool,
    );
    let rules = list_of(d, o.get("routingRules"), "routingRules", appgw_rule);
    Some(ApplicationGateway {
        name: name?,
        sku,
        subnet: subnet?,
        private_ip_address,
        public_ip_address,
        instance_addresses,
        listeners,
        pools,
        rules,
        origin: crate::decode::origin(d, &o),
    })
}

fn listener(d: &mut Diagnostics, n: &Node) -> Option<AppGwListener> {
    let what = "a listener";
    let o = obj(
        d,
        n,
        what,
        &["name", "frontend", "port", "protocol", "hostNames"],
    )?;
    let name = require(d, &o, "name", what).and_then(|x| string(d, x, "a name"));
    let frontend = require(d, &o, "frontend", what).and_then(|x| {
        enumerated(
            d,
            x,
            "listener frontend",
            &[
                ("Public", AppGwFrontend::Public),
                ("Private", AppGwFrontend::Private),
            ],
        )
        .map(|v| Sp::new(v, x.loc))
    });
    let port = require(d, &o, "port", what).and_then(|x| uint(d, x, "a port 1-65535", 65535));
    let protocol = o
        .get("protocol")
        .and_then(|x| {
            enumerated(
                d,
                x,
                "listener protocol",
                &[("Http", "Http"), ("Https", "Https")],
            )
        })
        .unwrap_or("Https");
    let _ = name_list(d, o.get("hostNames"), "a host name");
    Some(AppGwListener {
        name: name?,
        frontend: frontend?,
        port: port?,
        protocol: protocol.to_string(),
    })
}

fn appgw_pool(d: &mut Diagnostics, n: &Node) -> Option<AppGwPool> {
    let what = "a backend address pool";
    let o = obj(d, n, what, &["name", "backendAddresses", "nics"])?;
    let name = require(d, &o, "name", what).and_then(|x| string(d, x, "a name"));
    let addresses = name_list(d, o.get("backendAddresses"), "an IP address or FQDN");
    let nics = name_list(d, o.get("nics"), "a NIC name");
    Some(AppGwPool {
        name: name?,
        addresses,
        nics,
    })
}

fn appgw_rule(d: &mut Diagnostics, n: &Node) -> Option<AppGwRule> {
    let what = "a routing rule";
    let o = obj(
        d,
        n,
        what,
        &[
            "name",
            "listener",
            "backendAddressPool",
            "backendPort",
            "backendProtocol",
            "priority",
        ],
    )?;
    let name = require(d, &o, "name", what).and_then(|x| string(d, x, "a name"));
    let listener = require(d, &o, "listener", what).and_then(|x| string(d, x, "a listener name"));
    let pool = require(d, &o, "backendAddressPool", what)
        .and_then(|x| string(d, x, "a backend address pool name"));
    let backend_port = port(d, &o, "backendPort", what);
    if let Some(x) = o.get("backendProtocol") {
        let _ = enumerated(d, x, "backend protocol", &[("Http", ()), ("Https", ())]);
    }
    let priority = o
        .get("priority")
        .and_then(|x| uint(d, x, "a priority 1-20000", 20000));
    Some(AppGwRule {
        name: name?,
        listener: listener?,
        pool: pool?,
        backend_port: backend_port?,
        priority,
    })
}

// ---------------------------------------------------------------- validation

/// The v2 infrastructure ports GatewayManager must reach (configuration-infrastructure).
pub const APPGW_V2_INFRA_PORTS: (u16, u16) = (65200, 65535);

fn unique_names<'n>(
    d: &mut Diagnostics,
    kind: &str,
    owner: &str,
    names: impl Iterator<Item = &'n Sp<String>>,
) -> HashMap<&'n str, usize> {
    let mut m = HashMap::new();
    for (i, n) in names.enumerate() {
        if m.insert(n.value.as_str(), i).is_some() {
            d.error(
                n.loc,
                format!("duplicate {kind} name '{}' in {owner}", Echo(&n.value)),
            );
        }
    }
    m
}

fn known(
    d: &mut Diagnostics,
    m: &HashMap<&str, usize>,
    r: &Sp<String>,
    kind: &str,
    owner: &str,
) -> Option<usize> {
    let i = m.get(r.value.as_str()).copied();
    if i.is_none() {
        let mut k: Vec<&str> = m.keys().copied().collect();
        k.sort_unstable();
        d.error(
            r.loc,
            format!(
                "unknown {kind} '{}' in {owner} ({})",
                Echo(&r.value),
                crate::limits::defined_list(k.into_iter())
            ),
        );
    }
    i
}

impl<'a> Checker<'a> {
    /// The NIC index of a name, with its vnet.
    fn nic_vnet(
        &self,
        nics: &HashMap<&str, usize>,
        d: &mut Diagnostics,
        r: &Sp<String>,
        owner: &str,
    ) -> Option<usize> {
        let i = known(d, nics, r, "NIC", owner)?;
        self.subnets
            .get(&self.t.nics[i].subnet.value)
            .map(|&(v, _)| v)
    }

    /// Load balancers: frontends placed and owned, references resolved, Azure's constraints.
    pub(crate) fn check_load_balancers(&mut self, d: &mut Diagnostics) {
        let nics: HashMap<&str, usize> = self
            .t
            .nics
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.value.as_str(), i))
            .collect();
        unique_names(
            d,
            "load balancer",
            "loadBalancers",
            self.t.load_balancers.iter().map(|l| &l.name),
        );
        for lb in &self.t.load_balancers {
            self.check_load_balancer(lb, &nics, d);
        }
    }

    fn check_load_balancer(
        &mut self,
        lb: &LoadBalancer,
        nics: &HashMap<&str, usize>,
        d: &mut Diagnostics,
    ) {
        let owner = format!("load balancer '{}'", Echo(&lb.name.value));
        let public = lb.is_public();
        let mut lb_vnet: Option<usize> = None;
        for fe in &lb.frontends {
            let who = format!("frontend '{}' of {owner}", Echo(&fe.name.value));
            match (&fe.subnet, &fe.private_ip_address, &fe.public_ip_address) {
                (Some(s), Some(ip), None) => {
                    if public {
                        d.error(fe.name.loc, format!("{who} is private, but {owner} has a public frontend: a load balancer is either public or internal"));
                    }
                    if let Some((vi, si)) = self.subnet_ref(d, s) {
                        self.check_ip(d, (vi, si), ip, &who);
                        self.claim(d, vi, ip, who.clone());
                        lb_vnet.get_or_insert(vi);
                    }
                }
                (None, None, Some(_)) => {}
                _ => d.error(
                    fe.name.loc,
                    format!("{who} needs either subnet and privateIpAddress (internal) or publicIpAddress (public)"),
                ),
            }
        }
        let fes = unique_names(
            d,
            "frontend IP configuration",
            &owner,
            lb.frontends.iter().map(|f| &f.name),
        );
        let pools = unique_names(
            d,
            "backend address pool",
            &owner,
            lb.pools.iter().map(|p| &p.name),
        );
        let probes = unique_names(d, "probe", &owner, lb.probes.iter().map(|p| &p.name));
        unique_names(
            d,
            "load-balancing rule",
            &owner,
            lb.rules.iter().map(|r| &r.name),
        );
        unique_names(
            d,
            "inbound NAT rule",
            &owner,
            lb.nat_rules.iter().map(|r| &r.name),
        );
        // Backends of a load balancer are in one virtual network; an internal one's is its
        // frontends' (load-balancer backend pool management).
        for p in &lb.pools {
            for b in &p.backends {
                let Some(v) = self.nic_vnet(nics, d, &b.nic, &owner) else {
                    continue;
                };
                match lb_vnet {
                    Some(lv) if lv != v => d.error(
                        b.nic.loc,
                        format!(
                            "backend NIC '{}' of pool '{}' is in vnet {}, but {owner}'s backends must be in vnet {} (a load balancer's backend pool members are all in one virtual network, an internal load balancer's in its frontend's)",
                            Echo(&b.nic.value),
                            Echo(&p.name.value),
                            Echo(&self.t.vnets[v].name.value),
                            Echo(&self.t.vnets[lv].name.value)
                        ),
                    ),
                    Some(_) => {}
                    None => lb_vnet = Some(v),
                }
            }
        }
        let mut used: HashSet<(usize, Option<u8>, u32)> = HashSet::new();
        let mut taken = |d: &mut Diagnostics, fe: usize, proto: LbProtocol, port: u32, loc: Loc| {
            let clash = used.iter().any(|&(f, p, q)| {
                f == fe
                    && q == port
                    && (p.is_none() || proto.number().is_none() || p == proto.number())
            }) || used
                .iter()
                .any(|&(f, p, q)| f == fe && (p.is_none() && q == 0) && proto != LbProtocol::All);
            if clash {
                d.error(loc, format!("frontend port {port}/{} is already used by another rule of the same frontend in {owner}", proto.as_str()));
            }
            used.insert((fe, proto.number(), port));
        };
        for r in &lb.rules {
            let fe = known(d, &fes, &r.frontend, "frontend IP configuration", &owner);
            known(d, &pools, &r.pool, "backend address pool", &owner);
            if let Some(p) = &r.probe {
                known(d, &probes, p, "probe", &owner);
            }
            let ha = r.protocol.value == LbProtocol::All;
            if ha && (r.frontend_port.value != 0 || r.backend_port.value != 0) {
                d.error(r.protocol.loc, format!("rule '{}': protocol All (HA ports) requires frontendPort 0 and backendPort 0", Echo(&r.name.value)));
            }
            if !ha && (r.frontend_port.value == 0 || r.backend_port.value == 0) {
                d.error(
                    r.frontend_port.loc,
                    format!(
                        "rule '{}': port 0 is only for HA ports (protocol All)",
                        Echo(&r.name.value)
                    ),
                );
            }
            if ha && public {
                d.error(r.protocol.loc, format!("rule '{}': HA ports (protocol All, port 0) are available on an internal load balancer only, and {owner} is public", Echo(&r.name.value)));
            }
            if ha && lb.sku == LbSku::Basic {
                d.error(
                    r.protocol.loc,
                    format!(
                        "rule '{}': HA ports need the Standard SKU",
                        Echo(&r.name.value)
                    ),
                );
            }
            if let Some(fe) = fe {
                taken(
                    d,
                    fe,
                    r.protocol.value,
                    r.frontend_port.value,
                    r.frontend_port.loc,
                );
            }
        }
        for r in &lb.nat_rules {
            let fe = known(d, &fes, &r.frontend, "frontend IP configuration", &owner);
            if r.protocol.value == LbProtocol::All {
                d.error(
                    r.protocol.loc,
                    format!(
                        "inbound NAT rule '{}': protocol is Tcp or Udp",
                        Echo(&r.name.value)
                    ),
                );
            }
            if let Some(b) = &r.backend {
                if let (Some(v), Some(lv)) = (self.nic_vnet(nics, d, b, &owner), lb_vnet) {
                    if v != lv {
                        d.error(b.loc, format!("inbound NAT rule '{}': NIC '{}' is not in the load balancer's vnet {}", Echo(&r.name.value), Echo(&b.value), Echo(&self.t.vnets[lv].name.value)));
                    }
                }
            }
            if let Some(p) = &r.pool {
                known(d, &pools, p, "backend address pool", &owner);
            }
            if let (Some(fe), Some(p)) = (fe, &r.frontend_port) {
                taken(d, fe, r.protocol.value, p.value, p.loc);
            }
        }
        for r in &lb.outbound_rules {
            known(d, &pools, &r.pool, "backend address pool", &owner);
            if !public {
                d.error(r.name.loc, format!("outbound rule '{}': outbound rules need a public load balancer, and {owner} is internal", Echo(&r.name.value)));
            }
            if lb.sku == LbSku::Basic {
                d.error(
                    r.name.loc,
                    format!(
                        "outbound rule '{}': outbound rules need the Standard SKU",
                        Echo(&r.name.value)
                    ),
                );
            }
            for f in &r.frontends {
                known(d, &fes, f, "frontend IP configuration", &owner);
            }
        }
    }

    /// Application gateways: a dedicated subnet, frontends and instances inside it, references.
    pub(crate) fn check_application_gateways(&mut self, d: &mut Diagnostics) {
        let nics: HashMap<&str, usize> = self
            .t
            .nics
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.value.as_str(), i))
            .collect();
        unique_names(
            d,
            "application gateway",
            "applicationGateways",
            self.t.application_gateways.iter().map(|g| &g.name),
        );
        let mut others: HashSet<(usize, usize)> = HashSet::new();
        for n in &self.t.nics {
            if let Some(&s) = self.subnets.get(&n.subnet.value) {
                others.insert(s);
            }
        }
        for p in &self.t.private_endpoints {
            if let Some(&s) = self.subnets.get(&p.subnet.value) {
                others.insert(s);
            }
        }
        for lb in &self.t.load_balancers {
            for fe in &lb.frontends {
                if let Some(&s) = fe.subnet.as_ref().and_then(|s| self.subnets.get(&s.value)) {
                    others.insert(s);
                }
            }
        }
        for g in &self.t.application_gateways {
            self.check_application_gateway(g, &nics, &others, d);
        }
    }

    fn check_application_gateway(
        &mut self,
        g: &ApplicationGateway,
        nics: &HashMap<&str, usize>,
        others: &HashSet<(usize, usize)>,
        d: &mut Diagnostics,
    ) {
        let owner = format!("application gateway '{}'", Echo(&g.name.value));
        let Some((vi, si)) = self.subnet_ref(d, &g.subnet) else {
            return;
        };
        let s = &self.t.vnets[vi].subnets[si];
        if others.contains(&(vi, si))
            || s.name.value == crate::GATEWAY_SUBNET
            || s.name.value == crate::FIREWALL_SUBNET
        {
            d.error(
                g.subnet.loc,
                format!("{owner}: its subnet {} holds other resources; an application gateway needs a dedicated subnet (only application gateways may be in it)", Echo(&g.subnet.value)),
            );
        }
        if let Some(n) = &s.nsg {
            self.check_appgw_nsg(&owner, n, d);
        }
        if let Some(ip) = &g.private_ip_address {
            self.check_ip(d, (vi, si), ip, &owner);
            self.claim(d, vi, ip, owner.clone());
        }
        for ip in &g.instance_addresses {
            let who = format!("instance of {owner}");
            self.check_ip(d, (vi, si), ip, &who);
            self.claim(d, vi, ip, who);
        }
        let listeners = unique_names(d, "listener", &owner, g.listeners.iter().map(|l| &l.name));
        let pools = unique_names(
            d,
            "backend address pool",
            &owner,
            g.pools.iter().map(|l| &l.name),
        );
        unique_names(d, "routing rule", &owner, g.rules.iter().map(|l| &l.name));
        let mut ports = HashSet::new();
        for l in &g.listeners {
            let has = match l.frontend.value {
                AppGwFrontend::Public => g.public_ip_address.is_some(),
                AppGwFrontend::Private => g.private_ip_address.is_some(),
            };
            if !has {
                d.error(l.frontend.loc, format!("listener '{}' of {owner} uses the {:?} frontend, which the gateway does not have", Echo(&l.name.value), l.frontend.value));
            }
            if l.port.value == 0 {
                d.error(l.port.loc, "a listener port is 1-65535");
            } else if !ports.insert((l.frontend.value, l.port.value)) {
                d.error(l.port.loc, format!("listener '{}' of {owner}: frontend port {} is already used by another listener on the same frontend", Echo(&l.name.value), l.port.value));
            }
        }
        for r in &g.rules {
            known(d, &listeners, &r.listener, "listener", &owner);
            known(d, &pools, &r.pool, "backend address pool", &owner);
        }
        for p in &g.pools {
            for n in &p.nics {
                known(d, nics, n, "NIC", &owner);
            }
            for a in &p.addresses {
                if a.value.parse::<Ipv4Addr>().is_err()
                    && !self
                        .t
                        .services
                        .iter()
                        .any(|s| s.fqdn.as_deref() == Some(a.value.as_str()))
                {
                    d.error(a.loc, format!("backend address '{}' of {owner} is neither an IPv4 address nor the fqdn of a declared service", Echo(&a.value)));
                }
            }
        }
    }

    /// v2 needs inbound TCP 65200-65535 allowed from GatewayManager (configuration-infrastructure).
    fn check_appgw_nsg(&self, owner: &str, nsg: &Sp<String>, d: &mut Diagnostics) {
        let Some(n) = self.t.nsgs.iter().find(|x| x.name.value == nsg.value) else {
            return;
        };
        let (lo, hi) = APPGW_V2_INFRA_PORTS;
        let mut rules: Vec<_> = n
            .rules
            .iter()
            .filter(|r| r.direction == Direction::Inbound)
            .filter(|r| matches!(r.protocol, NsgProtocol::Tcp | NsgProtocol::Any))
            .filter(|r| r.destination_ports.iter().any(|p| p.lo <= lo && p.hi >= hi))
            .filter(|r| r.source.iter().any(|s| s.value == AddressSpec::Any))
            .collect();
        rules.sort_by_key(|r| r.priority.value);
        if rules.first().map(|r| r.access) != Some(Access::Allow) {
            d.warning(
                nsg.loc,
                format!("{owner}: NSG '{}' on its subnet has no inbound rule allowing TCP {lo}-{hi} from GatewayManager (or '*'); Application Gateway v2 requires it for its infrastructure communication", Echo(&nsg.value)),
            );
        }
    }
}
