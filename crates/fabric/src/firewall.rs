//! Azure Firewall compiled (R6): DNAT rules, network rules flattened by
//! collection priority into a classifier, application rules by priority,
//! and the SNAT private ranges.

use ipnet::Ipv4Net;
use vnetsim_model as m;

use crate::classify::{Classifier, Key, Protocols, Rule};
use crate::lpm::Fib;
use crate::prefix::{mask, net, reserved_private};
use crate::security::Access;
use crate::{SubnetId, VnetId};

#[derive(Clone, Debug)]
pub struct DnatRule {
    pub name: String,
    pub protocols: Protocols,
    pub source: Vec<(u32, u8)>,
    pub destination: Vec<u32>,
    pub ports: Vec<(u16, u16)>,
    pub to_ip: u32,
    pub to_port: u16,
}

#[derive(Clone, Debug)]
pub struct AppRule {
    /// `COLLECTION/RULE`
    pub name: String,
    pub access: Access,
    pub source: Vec<(u32, u8)>,
    /// `Https:443`, `Http:80`, `Mssql:1433`: the application protocol and port a flow must
    /// speak (R6.4, R-FW-07).
    pub protocols: Vec<(AppProtocol, u16)>,
    /// Lower-case patterns: exact names, or a suffix after a leading `*`.
    pub fqdns: Vec<FqdnPattern>,
}

/// The application protocols Azure Firewall application rules name.
pub use m::AppProtocolKind as AppProtocol;

impl AppRule {
    /// R6.4: source, protocol and port, and the name the flow carries.
    #[inline]
    pub fn matches(&self, src: u32, protocol: AppProtocol, dport: u16, fqdn: &str) -> bool {
        prefix_match(&self.source, src)
            && self.protocols.contains(&(protocol, dport))
            && self.fqdns.iter().any(|p| p.matches(fqdn))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FqdnPattern {
    Any,
    Exact(String),
    /// `*suffix`: any name ending in `suffix` (`*.x.com` does not match `x.com`).
    Suffix(String),
}

impl FqdnPattern {
    pub fn parse(p: &str) -> FqdnPattern {
        let p = p.trim().to_ascii_lowercase();
        if p == "*" {
            FqdnPattern::Any
        } else if let Some(s) = p.strip_prefix('*') {
            FqdnPattern::Suffix(s.to_string())
        } else {
            FqdnPattern::Exact(p)
        }
    }
    /// `name` must already be lower case.
    #[inline]
    pub fn matches(&self, name: &str) -> bool {
        match self {
            FqdnPattern::Any => !name.is_empty(),
            FqdnPattern::Exact(e) => e == name,
            FqdnPattern::Suffix(s) => {
                name.len() > s.len() && name.ends_with(s.as_str())
                    || (!s.starts_with('.') && name == s)
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct Firewall {
    pub name: String,
    pub vnet: VnetId,
    pub subnet: SubnetId,
    pub private_ip: u32,
    pub snat_ips: Vec<u32>,
    pub public_ips: Vec<u32>,
    /// Destinations network rules do not SNAT toward.
    pub private_ranges: Fib,
    pub dnat: Vec<DnatRule>,
    pub network: Classifier,
    /// `COLLECTION/RULE` and action of each flattened network rule.
    pub network_rules: Vec<(String, Access)>,
    pub application: Vec<AppRule>,
}

impl Firewall {
    /// The private address that appears as source after SNAT, DNAT or proxy (U15: an instance address).
    pub fn snat_private(&self) -> u32 {
        self.snat_ips.first().copied().unwrap_or(self.private_ip)
    }
    pub fn snat_public(&self) -> Option<u32> {
        self.public_ips.first().copied()
    }
    #[inline]
    pub fn is_private_destination(&self, dst: u32) -> bool {
        self.private_ranges.lookup(dst).is_some()
    }
    #[inline]
    pub fn network_decision(&self, key: &Key) -> Option<(Access, u32)> {
        self.network
            .classify(key)
            .map(|i| (self.network_rules[i as usize].1, i))
    }
    pub fn owns(&self, ip: u32) -> bool {
        ip == self.private_ip || self.snat_ips.contains(&ip) || self.public_ips.contains(&ip)
    }
}

fn protocols(ps: &[m::FwProtocol]) -> Protocols {
    if ps.is_empty() || ps.contains(&m::FwProtocol::Any) {
        return Protocols::Any;
    }
    Protocols::Set(
        ps.iter()
            .map(|p| match p {
                m::FwProtocol::Tcp => 6,
                m::FwProtocol::Udp => 17,
                m::FwProtocol::Icmp => 1,
                m::FwProtocol::Any => 0,
            })
            .collect(),
    )
}

fn addrs(a: &[m::FwAddress]) -> Vec<(u32, u8)> {
    a.iter()
        .map(|x| match x {
            m::FwAddress::Any => (0, 0),
            m::FwAddress::Prefix(p) => net(p),
        })
        .collect()
}

pub(crate) fn compile(f: &m::Firewall, vnet: VnetId, subnet: SubnetId) -> Firewall {
    let mut ranges: Vec<Ipv4Net> = Vec::new();
    for r in &f.private_ranges {
        match r {
            m::PrivateRange::IanaPrivateRanges => ranges.extend(reserved_private()),
            m::PrivateRange::Prefix(p) => ranges.push(*p),
        }
    }
    let private_ranges = Fib::build(
        &ranges
            .iter()
            .map(|p| (net(p).0, net(p).1, 1))
            .collect::<Vec<_>>(),
    );
    let dnat = f
        .dnat_rules
        .iter()
        .map(|r| DnatRule {
            name: r.name.value.clone(),
            protocols: protocols(&r.protocols),
            source: addrs(&r.source),
            destination: r.destination.iter().map(|d| u32::from(d.value)).collect(),
            ports: r.destination_ports.iter().map(|p| (p.lo, p.hi)).collect(),
            to_ip: u32::from(r.translated_address.value),
            to_port: r.translated_port,
        })
        .collect();
    // R6.1: collections by priority (stable for equal priorities), rules in order.
    let mut colls: Vec<&m::NetworkRuleCollection> = f.network_rule_collections.iter().collect();
    colls.sort_by_key(|c| c.priority.value);
    let mut rules = Vec::new();
    let mut meta = Vec::new();
    for c in colls {
        let access = if c.action == m::Access::Allow {
            Access::Allow
        } else {
            Access::Deny
        };
        for r in &c.rules {
            rules.push(Rule {
                protocols: protocols(&r.protocols),
                src: addrs(&r.source),
                dst: addrs(&r.destination),
                sport: vec![(0, 65535)],
                dport: r.destination_ports.iter().map(|p| (p.lo, p.hi)).collect(),
            });
            meta.push((format!("{}/{}", c.name.value, r.name.value), access));
        }
    }
    let mut acolls: Vec<&m::ApplicationRuleCollection> =
        f.application_rule_collections.iter().collect();
    acolls.sort_by_key(|c| c.priority.value);
    let mut application = Vec::new();
    for c in acolls {
        let access = if c.action == m::Access::Allow {
            Access::Allow
        } else {
            Access::Deny
        };
        for r in &c.rules {
            application.push(AppRule {
                name: format!("{}/{}", c.name.value, r.name.value),
                access,
                source: addrs(&r.source),
                protocols: r.protocols.iter().map(|p| (p.kind, p.port)).collect(),
                fqdns: r
                    .target_fqdns
                    .iter()
                    .map(|f| FqdnPattern::parse(&f.value))
                    .collect(),
            });
        }
    }
    Firewall {
        name: f.name.value.clone(),
        vnet,
        subnet,
        private_ip: u32::from(f.private_ip_address.value),
        snat_ips: f
            .snat_ip_addresses
            .iter()
            .map(|a| u32::from(a.value))
            .collect(),
        public_ips: f
            .public_ip_addresses
            .iter()
            .map(|a| u32::from(a.value))
            .collect(),
        private_ranges,
        dnat,
        network: Classifier::build(&rules),
        network_rules: meta,
        application,
    }
}

#[inline]
pub fn prefix_match(list: &[(u32, u8)], ip: u32) -> bool {
    list.iter().any(|&(a, l)| ip & mask(l) == a & mask(l))
}

#[cfg(test)]
mod tests {
    use super::FqdnPattern;
    #[test]
    fn wildcards_follow_azure_firewall() {
        // R-FW-07: `*.contoso.com` matches subdomains only; `*contoso.com` matches both.
        let w = FqdnPattern::parse("*.contoso.com");
        assert!(w.matches("any.contoso.com"));
        assert!(w.matches("a.b.contoso.com"));
        assert!(!w.matches("contoso.com"));
        let s = FqdnPattern::parse("*contoso.com");
        assert!(s.matches("contoso.com"));
        assert!(s.matches("example.anycontoso.com"));
        let e = FqdnPattern::parse("www.google.com");
        assert!(e.matches("www.google.com"));
        assert!(!e.matches("google.com"));
    }
}
