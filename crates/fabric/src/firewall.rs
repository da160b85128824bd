//! Azure Firewall compiled (R6): DNAT rules, network rules flattened by
//! collection priority into a classifier, application rules by priority,
//! and the SNAT private ranges.

use ipnet::Ipv4Net;
use vnetsim_model as m;

use crate::classify::{Classifier, Key, Protocols, Rule};
use crate::lpm::Fib;
use crate::prefix::{mask, net, reserved_private};
use crate::security::Access;
use crate::unresolved::{UnresolvedRule, UnresolvedRules};
use crate::{SubnetId, VnetId};

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct DnatRule {
    pub name: String,
    pub protocols: Protocols,
    pub source: Vec<(u32, u8)>,
    pub destination: Vec<u32>,
    pub ports: Vec<(u16, u16)>,
    pub to_ip: u32,
    pub to_port: u16,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
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
    /// Its collection's rank among the application rule collections, in processing order.
    pub rank: u32,
}

/// An application rule with an unresolved source or target (`None`: may match anything).
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct UnresolvedAppRule {
    pub source: Option<Vec<(u32, u8)>>,
    pub protocols: Vec<(AppProtocol, u16)>,
    pub fqdns: Option<Vec<FqdnPattern>>,
    pub rank: u32,
    /// Its entry in [`Firewall::unresolved`].
    pub index: u32,
}

impl UnresolvedAppRule {
    /// Whether a flow could match it: every stated field matches.
    #[inline]
    pub fn could_match(&self, src: u32, protocol: AppProtocol, dport: u16, fqdn: &str) -> bool {
        self.source.as_ref().is_none_or(|s| prefix_match(s, src))
            && self.protocols.contains(&(protocol, dport))
            && self
                .fqdns
                .as_ref()
                .is_none_or(|f| f.iter().any(|p| p.matches(fqdn)))
    }
}

/// A DNAT rule with an unresolved source or translated address.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct UnresolvedDnat {
    pub protocols: Protocols,
    /// `None`: the source is unresolved (may match anything).
    pub source: Option<Vec<(u32, u8)>>,
    pub destination: Vec<u32>,
    pub ports: Vec<(u16, u16)>,
    /// How many ordinary DNAT rules come before it.
    pub before: u32,
    /// Its entry in [`Firewall::unresolved`].
    pub index: u32,
}

impl UnresolvedDnat {
    /// Whether packet (`proto`, `src`, `dst`, `dport`) could match it.
    #[inline]
    pub fn could_match(&self, proto: u8, src: u32, dst: u32, dport: u16) -> bool {
        let proto_ok = match &self.protocols {
            Protocols::Any => true,
            Protocols::Set(s) => s.contains(&proto),
        };
        proto_ok
            && self.destination.contains(&dst)
            && self
                .ports
                .iter()
                .any(|&(lo, hi)| lo <= dport && dport <= hi)
            && self.source.as_ref().is_none_or(|s| prefix_match(s, src))
    }
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

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
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

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
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
    /// Each flattened network rule's collection rank, in processing order.
    pub network_rank: Vec<u32>,
    pub application: Vec<AppRule>,
    /// Every rule stating a field vnetsim cannot resolve: network, then DNAT, then application.
    pub unresolved: Vec<UnresolvedRule>,
    /// The unresolved network rules (their order: the collection's rank); indexes are
    /// [`Firewall::unresolved`]'s.
    pub unresolved_network: Option<UnresolvedRules>,
    pub unresolved_dnat: Vec<UnresolvedDnat>,
    pub unresolved_application: Vec<UnresolvedAppRule>,
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
    /// The first unresolved network rule `key` could match in a collection processed before
    /// the one of network rule `decided` (`None`: no network rule matched). A rule of the
    /// deciding collection changes nothing: the collection's action is the verdict either way.
    #[inline]
    pub fn unresolved_network_ahead(&self, key: &Key, decided: Option<u32>) -> Option<u32> {
        let rank = decided.map_or(u32::MAX, |i| self.network_rank[i as usize]);
        crate::unresolved::ahead(&self.unresolved_network, key, rank, false)
    }
    /// The first unresolved DNAT rule a packet could match before ordinary DNAT rule `decided`
    /// (`None`: none matched).
    #[inline]
    pub fn unresolved_dnat_ahead(
        &self,
        p: (u8, u32, u32, u16),
        decided: Option<u32>,
    ) -> Option<u32> {
        let before = decided.unwrap_or(u32::MAX);
        self.unresolved_dnat
            .iter()
            .find(|r| r.before <= before && r.could_match(p.0, p.1, p.2, p.3))
            .map(|r| r.index)
    }
    /// The first unresolved application rule a flow could match in a collection processed
    /// before the one of application rule `decided` (`None`: none matched).
    #[inline]
    pub fn unresolved_application_ahead(
        &self,
        (src, protocol, dport, fqdn): (u32, AppProtocol, u16, &str),
        decided: Option<u32>,
    ) -> Option<u32> {
        let rank = decided.map_or(u32::MAX, |i| self.application[i as usize].rank);
        self.unresolved_application
            .iter()
            .find(|r| r.rank < rank && r.could_match(src, protocol, dport, fqdn))
            .map(|r| r.index)
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
    let dnat: Vec<DnatRule> = f
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
    let mut network_rank = Vec::new();
    let mut unresolved = Vec::new();
    let mut unresolved_net = Vec::new();
    for (rank, c) in colls.into_iter().enumerate() {
        let access = if c.action == m::Access::Allow {
            Access::Allow
        } else {
            Access::Deny
        };
        for r in &c.rules {
            rules.push(network_rule(r));
            meta.push((format!("{}/{}", c.name.value, r.name.value), access));
            network_rank.push(rank as u32);
        }
        for r in &c.unresolved_rules {
            let shown = shown(&c.name.value, r, rank as u32);
            unresolved.push(shown.clone());
            unresolved_net.push((network_rule(r), shown));
        }
    }
    let (unresolved_dnat, unresolved_application) = unresolved_dnat_and_app(f, &mut unresolved);
    let mut acolls: Vec<&m::ApplicationRuleCollection> =
        f.application_rule_collections.iter().collect();
    acolls.sort_by_key(|c| c.priority.value);
    let mut application = Vec::new();
    for (rank, c) in acolls.into_iter().enumerate() {
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
                fqdns: patterns(&r.target_fqdns),
                rank: rank as u32,
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
        network_rank,
        application,
        unresolved,
        unresolved_network: UnresolvedRules::build(unresolved_net),
        unresolved_dnat,
        unresolved_application,
    }
}

fn patterns(fqdns: &[m::Sp<String>]) -> Vec<FqdnPattern> {
    fqdns.iter().map(|f| FqdnPattern::parse(&f.value)).collect()
}

/// Whether `field` of a rule is unresolved.
fn unknown(u: &[m::Unresolved], field: &str) -> bool {
    u.iter().any(|x| x.field == field)
}

/// A network rule's match, its unresolved fields every address.
fn network_rule(r: &m::NetworkRule) -> Rule {
    let side = |field: &str, a: &[m::FwAddress]| {
        if unknown(&r.unresolved, field) {
            vec![(0, 0)]
        } else {
            addrs(a)
        }
    };
    Rule {
        protocols: protocols(&r.protocols),
        src: side("source", &r.source),
        dst: side("destination", &r.destination),
        sport: vec![(0, 65535)],
        dport: r.destination_ports.iter().map(|p| (p.lo, p.hi)).collect(),
    }
}

fn shown(coll: &str, r: &m::NetworkRule, rank: u32) -> UnresolvedRule {
    UnresolvedRule {
        name: format!("{coll}/{}", r.name.value),
        order: rank,
        why: m::unresolved_text(&r.unresolved),
    }
}

/// The unresolved DNAT and application rules, their descriptions appended to `shown`.
fn unresolved_dnat_and_app(
    f: &m::Firewall,
    shown: &mut Vec<UnresolvedRule>,
) -> (Vec<UnresolvedDnat>, Vec<UnresolvedAppRule>) {
    let mut dnat = Vec::new();
    for (before, r) in &f.unresolved_dnat_rules {
        dnat.push(UnresolvedDnat {
            protocols: protocols(&r.protocols),
            source: (!unknown(&r.unresolved, "source")).then(|| addrs(&r.source)),
            destination: r.destination.iter().map(|d| u32::from(d.value)).collect(),
            ports: r.destination_ports.iter().map(|p| (p.lo, p.hi)).collect(),
            before: *before as u32,
            index: shown.len() as u32,
        });
        shown.push(UnresolvedRule {
            name: r.name.value.clone(),
            order: *before as u32,
            why: m::unresolved_text(&r.unresolved),
        });
    }
    let mut acolls: Vec<&m::ApplicationRuleCollection> =
        f.application_rule_collections.iter().collect();
    acolls.sort_by_key(|c| c.priority.value);
    let mut app = Vec::new();
    for (rank, c) in acolls.into_iter().enumerate() {
        for r in &c.unresolved_rules {
            let u = &r.unresolved;
            app.push(UnresolvedAppRule {
                source: (!unknown(u, "source")).then(|| addrs(&r.source)),
                protocols: r.protocols.iter().map(|p| (p.kind, p.port)).collect(),
                fqdns: (!unknown(u, "targetFqdns")).then(|| patterns(&r.target_fqdns)),
                rank: rank as u32,
                index: shown.len() as u32,
            });
            shown.push(UnresolvedRule {
                name: format!("{}/{}", c.name.value, r.name.value),
                order: rank as u32,
                why: m::unresolved_text(u),
            });
        }
    }
    (dnat, app)
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
