//! Azure Virtual Network Manager security admin rules, compiled per subnet
//! into the same first-match classifier NSGs use.
//!
//! Every rule collection applied to a network group reaches every subnet of
//! the group's VNets. A subnet's admin rules (from every network manager and
//! configuration that reaches it) are ordered by priority, lower first, then
//! by declaration; the first match decides (Microsoft Learn, "Security admin
//! rules in Azure Virtual Network Manager"): `Deny` drops, `AlwaysAllow`
//! admits without NSGs, `Allow` hands the packet to the NSGs. Service tags
//! are expanded for the subnet, as for its NSG.

use ipnet::Ipv4Net;
use vnetsim_model as m;
pub use vnetsim_model::admin::AdminAccess;

use crate::classify::{Classifier, Key, Protocols, Rule};
use crate::prefix::net;
use crate::security::{expand, proto, side, TagSets};
use crate::unresolved::{UnresolvedRule, UnresolvedRules};

/// One admin rule as effective security rules show it.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct AdminRule {
    /// `MANAGER/CONFIGURATION/COLLECTION/RULE`.
    pub name: String,
    pub priority: u32,
    pub access: AdminAccess,
    #[serde(with = "crate::security::protocol_name")]
    pub protocol: crate::security::ProtocolName,
    pub source: Vec<String>,
    pub destination: Vec<String>,
    pub source_ports: Vec<(u16, u16)>,
    pub destination_ports: Vec<(u16, u16)>,
    pub expanded_source: Vec<Ipv4Net>,
    pub expanded_destination: Vec<Ipv4Net>,
    proto_num: Option<u8>,
}

/// One direction of a subnet's admin rules.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct AdminRules {
    pub rules: Vec<AdminRule>,
    classifier: Classifier,
    /// The rules of this direction that state a field vnetsim cannot resolve.
    pub unresolved: Option<UnresolvedRules>,
}

fn classifier_rule(r: &AdminRule) -> Rule {
    crate::security::classifier_rule(
        r.proto_num,
        [&r.expanded_source, &r.expanded_destination],
        [&r.source_ports, &r.destination_ports],
    )
}

impl AdminRules {
    fn new(rules: Vec<AdminRule>, unresolved: Option<UnresolvedRules>) -> AdminRules {
        let crules: Vec<Rule> = rules.iter().map(classifier_rule).collect();
        AdminRules {
            classifier: Classifier::build(&crules),
            rules,
            unresolved,
        }
    }
    /// The first unresolved rule `key` could match at or ahead of the priority of the rule at
    /// `index` (`None`: no rule matched, every unresolved rule is ahead). Equal priorities
    /// count as ahead: their order across managers is not Azure's to promise.
    #[inline]
    pub fn unresolved_ahead(&self, key: &Key, index: Option<u32>) -> Option<u32> {
        let u = self.unresolved.as_ref()?;
        let decided = index
            .and_then(|i| self.rules.get(i as usize))
            .map_or(u32::MAX, |r| r.priority);
        u.ahead(key, decided, true)
    }
    /// The rules as the classifier was built from them, in its order.
    pub fn classifier_rules(&self) -> Vec<Rule> {
        self.rules.iter().map(classifier_rule).collect()
    }
    /// The compiled first-match classifier (its cut points bound the header classes that
    /// exhaustive reachability walks).
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }
    /// The first matching rule and its action; `None` when no admin rule matches (the NSGs
    /// decide).
    #[inline]
    pub fn decide(&self, key: &Key) -> Option<(AdminAccess, u32)> {
        if self.rules.is_empty() {
            return None;
        }
        self.classifier
            .classify(key)
            .map(|i| (self.rules[i as usize].access, i))
    }
}

/// A subnet's admin rules, both directions.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct AdminTable {
    pub inbound: AdminRules,
    pub outbound: AdminRules,
}

impl AdminTable {
    #[inline]
    pub fn rules(&self, inbound: bool) -> &AdminRules {
        if inbound {
            &self.inbound
        } else {
            &self.outbound
        }
    }
}

/// The admin rules reaching VNet `vnet` (by name): (manager, configuration, collection, rule).
fn rules_for<'t>(
    t: &'t m::Topology,
    vnet: &str,
    unresolved: bool,
) -> Vec<(&'t str, &'t str, &'t str, &'t m::admin::AdminRule)> {
    let mut out = Vec::new();
    for mgr in &t.network_managers {
        for cfg in &mgr.security_admin_configurations {
            for rc in &cfg.rule_collections {
                let reaches = rc
                    .applies_to_groups
                    .iter()
                    .any(|g| mgr.members(&g.value).iter().any(|v| v.value == vnet));
                if !reaches {
                    continue;
                }
                let rules = if unresolved {
                    &rc.unresolved_rules
                } else {
                    &rc.rules
                };
                for r in rules {
                    out.push((
                        mgr.name.value.as_str(),
                        cfg.name.value.as_str(),
                        rc.name.value.as_str(),
                        r,
                    ));
                }
            }
        }
    }
    // Stable: equal priorities keep declaration order.
    out.sort_by_key(|x| x.3.priority.value);
    out
}

/// Whether any admin rule reaches VNet `vnet`.
pub(crate) fn reaches(t: &m::Topology, vnet: &str) -> bool {
    !rules_for(t, vnet, false).is_empty() || !rules_for(t, vnet, true).is_empty()
}

/// Compiles the admin rules that reach a subnet of VNet `vnet`, tags expanded by `tags`.
pub(crate) fn compile_admin(t: &m::Topology, vnet: &str, tags: &TagSets) -> AdminTable {
    let no_asg = |_: &str| -> Vec<Ipv4Net> { Vec::new() };
    let mut inbound = Vec::new();
    let mut outbound = Vec::new();
    for (mgr, cfg, rc, r) in rules_for(t, vnet, false) {
        let (src_shown, src) = expand(&r.sources, tags, false, &no_asg);
        let (dst_shown, dst) = expand(&r.destinations, tags, false, &no_asg);
        let (pname, pnum) = proto(r.protocol);
        let rule = AdminRule {
            name: format!("{mgr}/{cfg}/{rc}/{}", r.name.value),
            priority: r.priority.value,
            access: r.access,
            protocol: pname,
            source: src_shown,
            destination: dst_shown,
            source_ports: r.source_port_ranges.iter().map(|p| (p.lo, p.hi)).collect(),
            destination_ports: r
                .destination_port_ranges
                .iter()
                .map(|p| (p.lo, p.hi))
                .collect(),
            expanded_source: src,
            expanded_destination: dst,
            proto_num: pnum,
        };
        match r.direction {
            m::Direction::Inbound => inbound.push(rule),
            m::Direction::Outbound => outbound.push(rule),
        }
    }
    let unresolved = |dir| unresolved_admin(t, vnet, tags, dir);
    AdminTable {
        inbound: AdminRules::new(inbound, unresolved(m::Direction::Inbound)),
        outbound: AdminRules::new(outbound, unresolved(m::Direction::Outbound)),
    }
}

/// The unresolved admin rules of one direction reaching VNet `vnet`, by priority.
fn unresolved_admin(
    t: &m::Topology,
    vnet: &str,
    tags: &TagSets,
    dir: m::Direction,
) -> Option<UnresolvedRules> {
    let no_asg = |_: &str| -> Vec<Ipv4Net> { Vec::new() };
    let rules = rules_for(t, vnet, true).into_iter();
    let rules = rules
        .filter(|x| x.3.applies_in(dir))
        .map(|(mgr, cfg, rc, r)| {
            let u = &r.unresolved;
            let (_, src) = side(&r.sources, "sources", u, tags, false, &no_asg);
            let (_, dst) = side(&r.destinations, "destinations", u, tags, false, &no_asg);
            let rule = Rule {
                protocols: match r.protocol.number() {
                    None => Protocols::Any,
                    Some(n) => Protocols::Set(vec![n]),
                },
                src: src.iter().map(net).collect(),
                dst: dst.iter().map(net).collect(),
                sport: r.source_port_ranges.iter().map(|p| (p.lo, p.hi)).collect(),
                dport: r
                    .destination_port_ranges
                    .iter()
                    .map(|p| (p.lo, p.hi))
                    .collect(),
            };
            let shown = UnresolvedRule {
                name: format!("{mgr}/{cfg}/{rc}/{}", r.name.value),
                order: r.priority.value,
                why: m::unresolved_text(u),
            };
            (rule, shown)
        });
    UnresolvedRules::build(rules.collect())
}
