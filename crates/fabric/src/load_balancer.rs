//! Azure Load Balancer and Application Gateway v2, compiled for the walk.
//!
//! A load balancer becomes integer tables: frontends (each an address owned in its VNet or a
//! public address), load-balancing rules and inbound NAT rules by frontend, protocol and port,
//! and per rule the healthy members of its pool (marked down in the topology, or down because
//! the member's NSGs refuse the health probe from 168.63.129.16). The backend a flow goes to
//! is chosen by [`pick`], a hash of the tuple the rule's distribution mode names.
//!
//! An Application Gateway becomes its listeners (frontend address and port), the backend
//! addresses of each listener's rule, and its instance addresses (the source a backend sees).

use std::collections::HashMap;

use vnetsim_model as m;
use vnetsim_model::load_balancer as mlb;

use crate::classify::Key;
use crate::compile::ip;
use crate::security::{Access, NsgTable, PLATFORM_IP};
use crate::{Nic, NicId, NsgTableId, Subnet, SubnetId, VnetId};

/// Index of an application gateway in [`crate::Fabric::app_gateways`].
pub use crate::AppGwId;
/// Index of a frontend in [`crate::Fabric::lb_frontends`].
pub use crate::LbFrontendId;
/// Index of a load balancer in [`crate::Fabric::load_balancers`].
pub use crate::LbId;

/// The tuple a load-balancing rule hashes (distribution-mode-concepts).
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Distribution {
    FiveTuple,
    /// `SourceIP`: source and destination address.
    TwoTuple,
    /// `SourceIPProtocol`: source and destination address and protocol.
    ThreeTuple,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Frontend {
    pub name: String,
    pub lb: LbId,
    pub ip: u32,
    /// The subnet of an internal frontend.
    pub subnet: Option<SubnetId>,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct LbRule {
    pub name: String,
    pub frontend: LbFrontendId,
    /// IP protocol, `None` for All (HA ports).
    pub proto: Option<u8>,
    pub frontend_port: u16,
    pub backend_port: u16,
    pub pool: String,
    /// Healthy pool members, in pool order: what the hash chooses among.
    pub healthy: Vec<NicId>,
    pub floating_ip: bool,
    pub distribution: Distribution,
    /// HA ports: protocol All, port 0, every port of every TCP and UDP flow.
    pub ha_ports: bool,
}

impl LbRule {
    #[inline]
    pub fn matches(&self, proto: u8, dport: u16) -> bool {
        if self.ha_ports {
            return proto == 6 || proto == 17;
        }
        self.proto == Some(proto) && self.frontend_port == dport
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct NatRule {
    pub name: String,
    pub frontend: LbFrontendId,
    pub proto: u8,
    /// Frontend port of the first target; target i listens on `frontend_port + i`.
    pub frontend_port: u16,
    pub backend_port: u16,
    pub targets: Vec<NicId>,
    pub floating_ip: bool,
}

impl NatRule {
    /// The NIC a frontend port maps to.
    #[inline]
    pub fn target(&self, proto: u8, dport: u16) -> Option<NicId> {
        if proto != self.proto || dport < self.frontend_port {
            return None;
        }
        self.targets
            .get((dport - self.frontend_port) as usize)
            .copied()
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct LoadBalancer {
    pub name: String,
    pub public: bool,
    pub standard: bool,
    pub vnet: Option<VnetId>,
    pub rules: Vec<LbRule>,
    pub nat_rules: Vec<NatRule>,
    /// Members whose NSGs deny the health probe (down although not marked so).
    pub probe_denied: Vec<NicId>,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Listener {
    pub name: String,
    pub ip: u32,
    pub port: u16,
    /// The routing rule serving it (lowest priority number first), if any.
    pub rule: Option<u32>,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct GwRule {
    pub name: String,
    pub backends: Vec<u32>,
    /// Per backend, the FQDN it was given by (lower case): the name the gateway's connection
    /// carries (TLS SNI / Host) toward it.
    pub names: Vec<Option<String>>,
    pub backend_port: u16,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct AppGateway {
    pub name: String,
    pub subnet: SubnetId,
    pub vnet: VnetId,
    pub private_ip: Option<u32>,
    pub public_ip: Option<u32>,
    /// Instance addresses in its subnet: the source of its connections to backends.
    pub instance_ips: Vec<u32>,
    pub listeners: Vec<Listener>,
    pub rules: Vec<GwRule>,
}

impl AppGateway {
    #[inline]
    pub fn listener(&self, dst: u32, dport: u16) -> Option<u32> {
        self.listeners
            .iter()
            .position(|l| l.ip == dst && l.port == dport)
            .map(|i| i as u32)
    }
}

/// FNV-1a (64 bit) over the words, then MurmurHash3's 64-bit finalizer: stable across
/// platforms and releases. Azure's own hash is not published; what the model keeps is what
/// Azure documents: a flow always maps to the same backend, flows spread over the healthy
/// backends, and (HA ports) a flow and its reply map to the same one.
#[inline]
pub fn hash_words(seed: u32, words: &[u32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for w in std::iter::once(seed).chain(words.iter().copied()) {
        for b in w.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The hash [`pick`] reduces modulo the number of backends.
#[inline]
pub fn pick_hash(
    seed: u32,
    d: Distribution,
    symmetric: bool,
    (src, sport): (u32, u16),
    (dst, dport): (u32, u16),
    proto: u8,
) -> u64 {
    let (a, b) = if symmetric && (dst, dport) < (src, sport) {
        ((dst, dport), (src, sport))
    } else {
        ((src, sport), (dst, dport))
    };
    match d {
        Distribution::FiveTuple => hash_words(
            seed,
            &[a.0, b.0, (a.1 as u32) << 16 | b.1 as u32, proto as u32],
        ),
        Distribution::ThreeTuple => hash_words(seed, &[a.0, b.0, proto as u32]),
        Distribution::TwoTuple => hash_words(seed, &[a.0, b.0]),
    }
}

/// The backend index (into `n` healthy backends) for a flow. `symmetric` orders the two
/// endpoints first, so a flow and its reply (addresses and ports swapped) get the same index.
/// The seed is the frontend: distinct frontends and load balancers decide independently, as
/// Azure documents (no symmetry across load balancers or frontends).
#[inline]
pub fn pick(
    seed: u32,
    d: Distribution,
    symmetric: bool,
    (src, sport): (u32, u16),
    (dst, dport): (u32, u16),
    proto: u8,
    n: usize,
) -> usize {
    let h = pick_hash(seed, d, symmetric, (src, sport), (dst, dport), proto);
    (h % n.max(1) as u64) as usize
}

/// What compiling the load balancers gives the fabric.
pub(crate) struct Compiled {
    pub lbs: Vec<LoadBalancer>,
    pub frontends: Vec<Frontend>,
    /// Per NIC: the outbound rule's (or SNAT-giving load-balancing rule's) frontend public IP.
    pub outbound: Vec<Option<(LbId, u32, bool)>>,
}

type Index<'t> = HashMap<&'t str, usize>;

fn index<'t, T>(v: &'t [T], name: impl Fn(&'t T) -> &'t str) -> Index<'t> {
    v.iter().enumerate().map(|(i, x)| (name(x), i)).collect()
}

/// Compiles every load balancer. `subnet_of` resolves `VNET/SUBNET`.
pub(crate) fn compile_load_balancers(
    t: &m::Topology,
    subnet_of: &dyn Fn(&str) -> SubnetId,
    subnets: &[Subnet],
) -> Compiled {
    let nic_ix = index(&t.nics, |n| n.name.value.as_str());
    let mut out = Compiled {
        lbs: Vec::new(),
        frontends: Vec::new(),
        outbound: vec![None; t.nics.len()],
    };
    for (li, lb) in t.load_balancers.iter().enumerate() {
        let id = LbId(li as u32);
        let fe_base = out.frontends.len();
        for f in &lb.frontends {
            let subnet = f.subnet.as_ref().map(|s| subnet_of(&s.value));
            let addr = f
                .private_ip_address
                .as_ref()
                .or(f.public_ip_address.as_ref())
                .map(|a| ip(a.value))
                .unwrap_or(0);
            out.frontends.push(Frontend {
                name: f.name.value.clone(),
                lb: id,
                ip: addr,
                subnet,
            });
        }
        let fe_ix = index(&lb.frontends, |f| f.name.value.as_str());
        let fe_id = |n: &str| LbFrontendId((fe_base + fe_ix[n]) as u32);
        let pool_of = |n: &str| lb.pools.iter().find(|p| p.name.value == n);
        let members = |p: &mlb::LbPool, only_up: bool| -> Vec<NicId> {
            p.backends
                .iter()
                .filter(|b| !(only_up && b.down))
                .map(|b| NicId(nic_ix[b.nic.value.as_str()] as u32))
                .collect()
        };
        let public = lb.is_public();
        let vnet = lb
            .frontends
            .iter()
            .find_map(|f| f.subnet.as_ref())
            .map(|s| subnets[subnet_of(&s.value).ix()].vnet);
        let rules = lb
            .rules
            .iter()
            .map(|r| {
                let pool = pool_of(&r.pool.value);
                LbRule {
                    name: r.name.value.clone(),
                    frontend: fe_id(&r.frontend.value),
                    proto: r.protocol.value.number(),
                    frontend_port: r.frontend_port.value as u16,
                    backend_port: r.backend_port.value as u16,
                    pool: r.pool.value.clone(),
                    healthy: pool.map(|p| members(p, true)).unwrap_or_default(),
                    floating_ip: r.floating_ip,
                    distribution: match r.load_distribution {
                        mlb::LoadDistribution::Default => Distribution::FiveTuple,
                        mlb::LoadDistribution::SourceIP => Distribution::TwoTuple,
                        mlb::LoadDistribution::SourceIPProtocol => Distribution::ThreeTuple,
                    },
                    ha_ports: r.protocol.value == mlb::LbProtocol::All,
                }
            })
            .collect();
        let nat_rules = lb
            .nat_rules
            .iter()
            .map(|r| {
                let (port, targets) = match (
                    &r.backend,
                    &r.pool,
                    &r.frontend_port,
                    &r.frontend_port_range_start,
                ) {
                    (Some(b), _, Some(p), _) => {
                        (p.value, vec![NicId(nic_ix[b.value.as_str()] as u32)])
                    }
                    (_, Some(pl), _, Some(s)) => (
                        s.value,
                        pool_of(&pl.value)
                            .map(|p| members(p, false))
                            .unwrap_or_default(),
                    ),
                    _ => (0, Vec::new()),
                };
                NatRule {
                    name: r.name.value.clone(),
                    frontend: fe_id(&r.frontend.value),
                    proto: r.protocol.value.number().unwrap_or(6),
                    frontend_port: port as u16,
                    backend_port: r.backend_port.value as u16,
                    targets,
                    floating_ip: r.floating_ip,
                }
            })
            .collect();
        // Outbound rules first (explicit), then load-balancing rules that keep outbound SNAT.
        if public && lb.sku == mlb::LbSku::Standard {
            for r in &lb.outbound_rules {
                let Some(p) = pool_of(&r.pool.value) else {
                    continue;
                };
                let Some(fe) = r.frontends.first() else {
                    continue;
                };
                let a = out.frontends[fe_id(&fe.value).ix()].ip;
                for n in members(p, false) {
                    out.outbound[n.ix()].get_or_insert((id, a, true));
                }
            }
        }
        if public {
            for r in lb.rules.iter().filter(|r| !r.disable_outbound_snat) {
                let Some(p) = pool_of(&r.pool.value) else {
                    continue;
                };
                let a = out.frontends[fe_id(&r.frontend.value).ix()].ip;
                for n in members(p, false) {
                    out.outbound[n.ix()].get_or_insert((id, a, false));
                }
            }
        }
        out.lbs.push(LoadBalancer {
            name: lb.name.value.clone(),
            public,
            standard: lb.sku == mlb::LbSku::Standard,
            vnet,
            rules,
            nat_rules,
            probe_denied: Vec::new(),
        });
    }
    out
}

/// Probes come from 168.63.129.16 (AzureLoadBalancer): a member whose subnet or NIC NSG denies
/// the probe is down (load-balancer-custom-probe-overview). Runs after the NSG tables exist.
pub(crate) fn probe_health(
    t: &m::Topology,
    lbs: &mut [LoadBalancer],
    nics: &[Nic],
    subnets: &[Subnet],
    tables: &[NsgTable],
) {
    let allows = |table: Option<NsgTableId>, key: &Key| {
        table
            .map(|t| tables[t.ix()].inbound.decide(key).0 == Access::Allow)
            .unwrap_or(true)
    };
    for (lb, mlb) in lbs.iter_mut().zip(&t.load_balancers) {
        for (rule, mr) in lb.rules.iter_mut().zip(&mlb.rules) {
            let Some(probe) = mr
                .probe
                .as_ref()
                .and_then(|p| mlb.probes.iter().find(|x| x.name.value == p.value))
            else {
                continue;
            };
            let denied: Vec<NicId> = rule
                .healthy
                .iter()
                .copied()
                .filter(|n| {
                    let nic = &nics[n.ix()];
                    let key = Key {
                        proto: 6,
                        src: PLATFORM_IP,
                        dst: nic.ip,
                        sport: 49152,
                        dport: probe.port.value as u16,
                    };
                    !(allows(subnets[nic.subnet.ix()].nsg_table, &key)
                        && allows(nic.nsg_table, &key))
                })
                .collect();
            rule.healthy.retain(|n| !denied.contains(n));
            for n in denied {
                if !lb.probe_denied.contains(&n) {
                    lb.probe_denied.push(n);
                }
            }
        }
    }
}

/// Compiles every application gateway. Backend FQDNs resolve to the service's Private
/// Endpoint when it has one (the private DNS zone linked to the gateway's VNet, the documented
/// design), else to its public address.
pub(crate) fn compile_app_gateways(
    t: &m::Topology,
    subnet_of: &dyn Fn(&str) -> SubnetId,
    subnets: &[Subnet],
    nics: &[Nic],
) -> Vec<AppGateway> {
    let nic_ix = index(&t.nics, |n| n.name.value.as_str());
    let resolve = |a: &str| -> Option<u32> {
        if let Ok(x) = a.parse::<std::net::Ipv4Addr>() {
            return Some(ip(x));
        }
        let s = t.services.iter().find(|s| s.fqdn.as_deref() == Some(a))?;
        t.private_endpoints
            .iter()
            .find(|p| p.service.value == s.name.value)
            .map(|p| ip(p.private_ip_address.value))
            .or(s.public_ip_address.as_ref().map(|x| ip(x.value)))
    };
    t.application_gateways
        .iter()
        .map(|g| {
            let subnet = subnet_of(&g.subnet.value);
            let private_ip = g.private_ip_address.as_ref().map(|a| ip(a.value));
            let public_ip = g.public_ip_address.as_ref().map(|a| ip(a.value));
            let mut instance_ips: Vec<u32> =
                g.instance_addresses.iter().map(|a| ip(a.value)).collect();
            if instance_ips.is_empty() {
                // Azure assigns instance addresses from the subnet; undeclared, the model takes
                // the first usable address that is not the private frontend.
                let first = u32::from(subnets[subnet.ix()].prefix.network()) + 4;
                let a = if Some(first) == private_ip {
                    first + 1
                } else {
                    first
                };
                instance_ips.push(a);
            }
            let mut order: Vec<usize> = (0..g.rules.len()).collect();
            order.sort_by_key(|&i| {
                g.rules[i]
                    .priority
                    .as_ref()
                    .map(|p| p.value)
                    .unwrap_or(u32::MAX)
            });
            let listeners = g
                .listeners
                .iter()
                .map(|l| Listener {
                    name: l.name.value.clone(),
                    ip: match l.frontend.value {
                        mlb::AppGwFrontend::Public => public_ip.unwrap_or(0),
                        mlb::AppGwFrontend::Private => private_ip.unwrap_or(0),
                    },
                    port: l.port.value as u16,
                    rule: order
                        .iter()
                        .copied()
                        .find(|&i| g.rules[i].listener.value == l.name.value)
                        .map(|i| i as u32),
                })
                .collect();
            let rules = g
                .rules
                .iter()
                .map(|r| {
                    let pool = g.pools.iter().find(|p| p.name.value == r.pool.value);
                    let mut backends: Vec<u32> = Vec::new();
                    let mut names: Vec<Option<String>> = Vec::new();
                    if let Some(p) = pool {
                        for a in &p.addresses {
                            if let Some(x) = resolve(&a.value) {
                                backends.push(x);
                                let fqdn = a.value.parse::<std::net::Ipv4Addr>().is_err();
                                names.push(fqdn.then(|| a.value.to_ascii_lowercase()));
                            }
                        }
                        let before = backends.len();
                        backends.extend(
                            p.nics
                                .iter()
                                .filter_map(|n| nic_ix.get(n.value.as_str()))
                                .map(|&i| nics[i].ip),
                        );
                        names.resize(names.len() + backends.len() - before, None);
                    }
                    GwRule {
                        name: r.name.value.clone(),
                        backends,
                        names,
                        backend_port: r.backend_port.value as u16,
                    }
                })
                .collect();
            AppGateway {
                name: g.name.value.clone(),
                subnet,
                vnet: subnets[subnet.ix()].vnet,
                private_ip,
                public_ip,
                instance_ips,
                listeners,
                rules,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_is_symmetric_only_when_asked() {
        let a = (0x0A01_0004, 40000);
        let b = (0x0A02_0004, 443);
        for n in 2..5 {
            assert_eq!(
                pick(7, Distribution::FiveTuple, true, a, b, 6, n),
                pick(7, Distribution::FiveTuple, true, b, a, 6, n)
            );
        }
        // Over many source ports, both backends of two get flows.
        let mut seen = [0usize; 2];
        for p in 1000..1100u16 {
            seen[pick(1, Distribution::FiveTuple, false, (a.0, p), b, 6, 2)] += 1;
        }
        assert!(seen[0] > 20 && seen[1] > 20, "{seen:?}");
        // Two-tuple ignores ports.
        assert_eq!(
            pick(1, Distribution::TwoTuple, false, (a.0, 1), b, 6, 3),
            pick(1, Distribution::TwoTuple, false, (a.0, 2), b, 17, 3)
        );
    }
}
