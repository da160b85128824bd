//! NSGs compiled per association (R5): the user rules plus Azure's default
//! rules, service tags and ASGs expanded for the subnet the NSG sits on,
//! each direction compiled into a first-match classifier.

use ipnet::Ipv4Net;
use vnetsim_model as m;

use crate::classify::{Classifier, Key, Protocols, Rule};
use crate::prefix::{aggregate, net, p};
use crate::unresolved::{UnresolvedRule, UnresolvedRules};
use crate::NsgId;

/// The platform's virtual IP (R1.2).
pub const PLATFORM_IP: u32 = 0xA83F_8110; // 168.63.129.16

#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Allow,
    Deny,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Allow => "Allow",
            Access::Deny => "Deny",
        }
    }
}

/// One rule as effective security rules show it: addresses expanded.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExpandedRule {
    pub name: String,
    pub default: bool,
    pub priority: u32,
    pub access: Access,
    #[serde(with = "protocol_name")]
    pub protocol: ProtocolName,
    pub source: Vec<String>,
    pub destination: Vec<String>,
    pub source_ports: Vec<(u16, u16)>,
    pub destination_ports: Vec<(u16, u16)>,
    pub expanded_source: Vec<Ipv4Net>,
    pub expanded_destination: Vec<Ipv4Net>,
    proto_num: Option<u8>,
}

/// One direction of one NSG association: rules in evaluation order and their classifier.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct RuleTable {
    pub rules: Vec<ExpandedRule>,
    pub classifier: Classifier,
    /// The NSG's rules of this direction that state a field vnetsim cannot resolve.
    pub unresolved: Option<UnresolvedRules>,
}

impl RuleTable {
    /// The rules as the classifier was built from them, in its order (for analyses that
    /// need each rule's fields, such as exhaustive reachability's cuts).
    pub fn classifier_rules(&self) -> Vec<Rule> {
        self.rules.iter().map(to_classifier_rule).collect()
    }
    fn new((rules, unresolved): (Vec<ExpandedRule>, Option<UnresolvedRules>)) -> RuleTable {
        let crules: Vec<Rule> = rules.iter().map(to_classifier_rule).collect();
        RuleTable {
            classifier: Classifier::build(&crules),
            rules,
            unresolved,
        }
    }
    /// The first unresolved rule `key` could match ahead of the rule at `index` (what
    /// `decide` returned): the verdict then depends on what vnetsim cannot resolve.
    #[inline]
    pub fn unresolved_ahead(&self, key: &Key, index: u32) -> Option<u32> {
        let u = self.unresolved.as_ref()?;
        let decided = self
            .rules
            .get(index as usize)
            .map_or(u32::MAX, |r| r.priority);
        u.ahead(key, decided, false)
    }
    /// `NSG/RULE` for the rule at `index` (what `decide` returned) of NSG `nsg`: the one way
    /// every output names an NSG rule.
    pub fn rule_name(&self, nsg: &str, index: u32) -> String {
        let rule = self
            .rules
            .get(index as usize)
            .map(|r| r.name.as_str())
            .unwrap_or("DenyAll");
        format!("{nsg}/{rule}")
    }
    /// First matching rule (every table ends with a deny-all, so there always is one).
    #[inline]
    pub fn decide(&self, key: &Key) -> (Access, u32) {
        match self.classifier.classify(key) {
            Some(i) => (self.rules[i as usize].access, i),
            None => (Access::Deny, u32::MAX),
        }
    }
}

fn to_classifier_rule(r: &ExpandedRule) -> Rule {
    classifier_rule(
        r.proto_num,
        [&r.expanded_source, &r.expanded_destination],
        [&r.source_ports, &r.destination_ports],
    )
}

/// The classifier's rule for an expanded NSG or admin rule: its protocol (`None`: any),
/// source and destination prefixes, and source and destination port ranges.
pub(crate) fn classifier_rule(
    proto_num: Option<u8>,
    [src, dst]: [&[Ipv4Net]; 2],
    [sport, dport]: [&[(u16, u16)]; 2],
) -> Rule {
    Rule {
        protocols: match proto_num {
            None => Protocols::Any,
            Some(n) => Protocols::Set(vec![n]),
        },
        src: src.iter().map(net).collect(),
        dst: dst.iter().map(net).collect(),
        sport: sport.to_vec(),
        dport: dport.to_vec(),
    }
}

/// An NSG compiled for one association.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct NsgTable {
    pub nsg: NsgId,
    pub inbound: RuleTable,
    /// R5.7: inbound rules as Internet-sourced traffic meets them (the
    /// `VirtualNetwork` tag without its user-route part); `None` when identical.
    pub inbound_from_internet: Option<RuleTable>,
    pub outbound: RuleTable,
    /// The outbound rules with the `VirtualNetwork` tag without its user-route part (R5.5):
    /// not used by the walk, only to show what the route table's prefixes open outbound;
    /// `None` when identical.
    pub outbound_without_routes: Option<RuleTable>,
}

impl NsgTable {
    #[inline]
    pub fn inbound_for(&self, internet_sourced: bool) -> &RuleTable {
        match (&self.inbound_from_internet, internet_sourced) {
            (Some(t), true) => t,
            _ => &self.inbound,
        }
    }
    /// The table an NSG rule reference names: inbound or outbound, and for
    /// inbound the narrow Internet-sourced table when `from_internet` (the full one when the
    /// association has none).
    #[inline]
    pub fn table(&self, inbound: bool, from_internet: bool) -> &RuleTable {
        if inbound {
            self.inbound_for(from_internet)
        } else {
            &self.outbound
        }
    }
}

/// Address sets the tags expand to for one association.
pub(crate) struct TagSets<'t> {
    pub virtual_network: Vec<Ipv4Net>,
    pub virtual_network_without_udr: Vec<Ipv4Net>,
    pub internet: Vec<Ipv4Net>,
    /// The `serviceTags` file's tags (validation made sure every tag named is in it).
    pub named: Option<&'t m::service_tags::ServiceTags>,
}

fn any() -> Vec<Ipv4Net> {
    vec![p("0.0.0.0/0")]
}

pub(crate) fn expand(
    specs: &[m::Sp<m::AddressSpec>],
    tags: &TagSets,
    narrow_vnet: bool,
    asg: &(dyn Fn(&str) -> Vec<Ipv4Net> + Sync),
) -> (Vec<String>, Vec<Ipv4Net>) {
    let mut shown = Vec::new();
    let mut nets = Vec::new();
    for s in specs {
        match &s.value {
            m::AddressSpec::Any => {
                shown.push("*".to_string());
                nets.extend(any());
            }
            m::AddressSpec::Prefix(x) => {
                shown.push(crate::prefix::text(x, true));
                nets.push(*x);
            }
            m::AddressSpec::Tag(t) => {
                shown.push(t.name().to_string());
                match t {
                    m::ServiceTag::VirtualNetwork => nets.extend(if narrow_vnet {
                        tags.virtual_network_without_udr.iter().copied()
                    } else {
                        tags.virtual_network.iter().copied()
                    }),
                    m::ServiceTag::AzureLoadBalancer => nets.push(p("168.63.129.16/32")),
                    m::ServiceTag::Internet => nets.extend(tags.internet.iter().copied()),
                }
            }
            m::AddressSpec::Asg(name) => {
                shown.push(format!("asg:{name}"));
                nets.extend(asg(name));
            }
            m::AddressSpec::NamedTag(name) => {
                let tag = tags.named.and_then(|t| t.get(name));
                shown.push(tag.map(|t| t.name.clone()).unwrap_or_else(|| name.clone()));
                nets.extend(tag.iter().flat_map(|t| t.prefixes.iter().copied()));
            }
        }
    }
    (shown, aggregate(&nets))
}

/// A rule's protocol as effective security rules name it (one of [`PROTOCOL_NAMES`]); an alias
/// so that serde reads it through [`protocol_name`] rather than borrowing it from the input.
pub type ProtocolName = &'static str;

/// The protocol names [`proto`] gives, for reading a saved fabric back.
pub(crate) const PROTOCOL_NAMES: [&str; 6] = ["Tcp", "Udp", "Icmp", "Esp", "Ah", "All"];

/// A rule's protocol name saved as text and read back as one of [`PROTOCOL_NAMES`].
pub(crate) mod protocol_name {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(p: &&'static str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(p)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        let p = String::deserialize(d)?;
        super::PROTOCOL_NAMES
            .into_iter()
            .find(|&n| n == p)
            .ok_or_else(|| D::Error::custom(format!("unknown rule protocol '{p}'")))
    }
}

pub(crate) fn proto(p: m::NsgProtocol) -> (&'static str, Option<u8>) {
    let name = match p {
        m::NsgProtocol::Tcp => "Tcp",
        m::NsgProtocol::Udp => "Udp",
        m::NsgProtocol::Icmp => "Icmp",
        m::NsgProtocol::Esp => "Esp",
        m::NsgProtocol::Ah => "Ah",
        m::NsgProtocol::Any => "All",
    };
    (name, p.number())
}

/// A default rule: its name, priority, access and tag, then its source and destination tags.
type DefaultRule = (
    &'static str,
    u32,
    Access,
    m::ServiceTag,
    Option<m::ServiceTag>,
    Option<m::ServiceTag>,
);

fn default_rules(dir: m::Direction) -> Vec<DefaultRule> {
    use m::ServiceTag::*;
    // (name, priority, access, which tag pattern): source tag, destination tag (None = any)
    match dir {
        m::Direction::Inbound => vec![
            (
                "AllowVnetInBound",
                65000,
                Access::Allow,
                VirtualNetwork,
                Some(VirtualNetwork),
                Some(VirtualNetwork),
            ),
            (
                "AllowAzureLoadBalancerInBound",
                65001,
                Access::Allow,
                AzureLoadBalancer,
                Some(AzureLoadBalancer),
                None,
            ),
            ("DenyAllInBound", 65500, Access::Deny, Internet, None, None),
        ],
        m::Direction::Outbound => vec![
            (
                "AllowVnetOutBound",
                65000,
                Access::Allow,
                VirtualNetwork,
                Some(VirtualNetwork),
                Some(VirtualNetwork),
            ),
            (
                "AllowInternetOutBound",
                65001,
                Access::Allow,
                Internet,
                None,
                Some(Internet),
            ),
            ("DenyAllOutBound", 65500, Access::Deny, Internet, None, None),
        ],
    }
}

/// An address side of a rule: expanded, or every address when it is unresolved.
pub(crate) fn side(
    specs: &[m::Sp<m::AddressSpec>],
    field: &str,
    unresolved: &[m::Unresolved],
    tags: &TagSets,
    narrow: bool,
    asg: &(dyn Fn(&str) -> Vec<Ipv4Net> + Sync),
) -> (Vec<String>, Vec<Ipv4Net>) {
    if unresolved.iter().any(|u| u.field == field) {
        return (vec!["?".to_string()], any());
    }
    expand(specs, tags, narrow, asg)
}

/// The NSG's unresolved rules of one direction, by priority, their unresolved sides matching
/// every address.
fn unresolved_dir(
    nsg: &m::Nsg,
    dir: m::Direction,
    tags: &TagSets,
    narrow: bool,
    asg: &(dyn Fn(&str) -> Vec<Ipv4Net> + Sync),
) -> Option<UnresolvedRules> {
    let mut user: Vec<&m::SecurityRule> = nsg
        .unresolved_rules
        .iter()
        .filter(|r| r.direction == dir)
        .collect();
    user.sort_by_key(|r| r.priority.value);
    let rules = user.into_iter().map(|r| {
        let u = &r.unresolved;
        let (_, src) = side(&r.source, "source", u, tags, narrow, asg);
        let (_, dst) = side(&r.destination, "destination", u, tags, narrow, asg);
        let rule = Rule {
            protocols: match r.protocol.number() {
                None => Protocols::Any,
                Some(n) => Protocols::Set(vec![n]),
            },
            src: src.iter().map(net).collect(),
            dst: dst.iter().map(net).collect(),
            sport: r.source_ports.iter().map(|p| (p.lo, p.hi)).collect(),
            dport: r.destination_ports.iter().map(|p| (p.lo, p.hi)).collect(),
        };
        let shown = UnresolvedRule {
            name: r.name.value.clone(),
            order: r.priority.value,
            why: m::unresolved_text(u),
        };
        (rule, shown)
    });
    UnresolvedRules::build(rules.collect())
}

/// Whether an address side names the `VirtualNetwork` tag, the only one whose expansion
/// depends on `narrow`.
fn names_virtual_network(specs: &[m::Sp<m::AddressSpec>]) -> bool {
    specs
        .iter()
        .any(|s| matches!(s.value, m::AddressSpec::Tag(m::ServiceTag::VirtualNetwork)))
}

/// One side of rule `k` expanded; with `wide` (the same direction expanded without `narrow`),
/// a side that does not name `VirtualNetwork` is taken from it instead of expanded again.
fn rule_side(
    specs: &[m::Sp<m::AddressSpec>],
    wide: Option<(&ExpandedRule, bool)>,
    tags: &TagSets,
    narrow: bool,
    asg: &(dyn Fn(&str) -> Vec<Ipv4Net> + Sync),
) -> (Vec<String>, Vec<Ipv4Net>) {
    match wide {
        Some((r, true)) if !names_virtual_network(specs) => {
            (r.source.clone(), r.expanded_source.clone())
        }
        Some((r, false)) if !names_virtual_network(specs) => {
            (r.destination.clone(), r.expanded_destination.clone())
        }
        _ => expand(specs, tags, narrow, asg),
    }
}

/// The rules of one direction in evaluation order, then the defaults. `wide` is this
/// direction already built without `narrow`, rule for rule, to copy sides from.
fn build_dir(
    nsg: &m::Nsg,
    dir: m::Direction,
    tags: &TagSets,
    narrow: bool,
    asg: &(dyn Fn(&str) -> Vec<Ipv4Net> + Sync),
    wide: Option<&[ExpandedRule]>,
) -> (Vec<ExpandedRule>, Option<UnresolvedRules>) {
    let mut user: Vec<&m::SecurityRule> = nsg.rules.iter().filter(|r| r.direction == dir).collect();
    user.sort_by_key(|r| r.priority.value);
    let mut out = Vec::new();
    for r in user {
        let w = wide.map(|w| &w[out.len()]);
        let (src_shown, src) = rule_side(&r.source, w.map(|w| (w, true)), tags, narrow, asg);
        let (dst_shown, dst) = rule_side(&r.destination, w.map(|w| (w, false)), tags, narrow, asg);
        let (pname, pnum) = proto(r.protocol);
        out.push(ExpandedRule {
            name: r.name.value.clone(),
            default: false,
            priority: r.priority.value,
            access: match r.access {
                m::Access::Allow => Access::Allow,
                m::Access::Deny => Access::Deny,
            },
            protocol: pname,
            source: src_shown,
            destination: dst_shown,
            source_ports: r.source_ports.iter().map(|p| (p.lo, p.hi)).collect(),
            destination_ports: r.destination_ports.iter().map(|p| (p.lo, p.hi)).collect(),
            expanded_source: src,
            expanded_destination: dst,
            proto_num: pnum,
        });
    }
    for (name, prio, access, _, s, d) in default_rules(dir) {
        let w = wide.map(|w| &w[out.len()]);
        let exp = |t: Option<m::ServiceTag>, src: bool| -> (Vec<String>, Vec<Ipv4Net>) {
            match t {
                None => (vec!["*".into()], any()),
                Some(t) => rule_side(
                    &[m::Sp::new(m::AddressSpec::Tag(t), m::Loc::default())],
                    w.map(|w| (w, src)),
                    tags,
                    narrow,
                    asg,
                ),
            }
        };
        let (ss, se) = exp(s, true);
        let (ds, de) = exp(d, false);
        out.push(ExpandedRule {
            name: name.to_string(),
            default: true,
            priority: prio,
            access,
            protocol: "All",
            source: ss,
            destination: ds,
            source_ports: vec![(0, 65535)],
            destination_ports: vec![(0, 65535)],
            expanded_source: se,
            expanded_destination: de,
            proto_num: None,
        });
    }
    (out, unresolved_dir(nsg, dir, tags, narrow, asg))
}

/// Compiles one NSG for one association.
pub(crate) fn compile_nsg(
    id: NsgId,
    nsg: &m::Nsg,
    tags: &TagSets,
    asg: &(dyn Fn(&str) -> Vec<Ipv4Net> + Sync),
) -> NsgTable {
    let inbound_rules = build_dir(nsg, m::Direction::Inbound, tags, false, asg, None);
    let narrow_rules = build_dir(
        nsg,
        m::Direction::Inbound,
        tags,
        true,
        asg,
        Some(&inbound_rules.0),
    );
    let same =
        |a: &(Vec<ExpandedRule>, Option<UnresolvedRules>),
         b: &(Vec<ExpandedRule>, Option<UnresolvedRules>)| { a.0 == b.0 && a.1 == b.1 };
    let inbound_from_internet = if same(&narrow_rules, &inbound_rules) {
        None
    } else {
        Some(RuleTable::new(narrow_rules))
    };
    let outbound_rules = build_dir(nsg, m::Direction::Outbound, tags, false, asg, None);
    let narrow_out = build_dir(
        nsg,
        m::Direction::Outbound,
        tags,
        true,
        asg,
        Some(&outbound_rules.0),
    );
    let outbound_without_routes = if same(&narrow_out, &outbound_rules) {
        None
    } else {
        Some(RuleTable::new(narrow_out))
    };
    NsgTable {
        nsg: id,
        inbound: RuleTable::new(inbound_rules),
        inbound_from_internet,
        outbound: RuleTable::new(outbound_rules),
        outbound_without_routes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One VNet (10.1.0.0/16), no peers or gateways, its subnet's route table sending
    /// 10.9.0.0/16 to an appliance: `VirtualNetwork` is the VNet, 168.63.129.16 and, with the
    /// route prefixes (R5.5), 10.9.0.0/16; Internet-sourced traffic meets it without them (R5.7).
    const TOPOLOGY: &str = "
version: 1
name: narrow
vnets:
  - name: v1
    addressSpace: [10.1.0.0/16]
    subnets:
      - { name: app, addressPrefix: 10.1.1.0/24, nsg: nsg-app, routeTable: rt }
routeTables:
  - name: rt
    routes:
      - { name: far, addressPrefix: 10.9.0.0/16, nextHopType: VirtualAppliance, nextHopIpAddress: 10.1.1.10 }
nsgs:
  - name: nsg-app
    rules:
      - { name: from-vnet, priority: 100, direction: Inbound, access: Allow, protocol: Tcp, source: VirtualNetwork, destination: '*', destinationPorts: '443' }
      - { name: from-site, priority: 200, direction: Inbound, access: Deny, protocol: Udp, source: 192.168.5.0/24, destination: 10.1.1.0/24, destinationPorts: '53' }
      - { name: to-vnet, priority: 100, direction: Outbound, access: Deny, protocol: Tcp, source: '*', destination: VirtualNetwork, destinationPorts: '22' }
";

    fn nets(v: &[&str]) -> Vec<Ipv4Net> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn table() -> NsgTable {
        let v = m::load_str("narrow.yaml", TOPOLOGY).expect("valid");
        let f = crate::compile::compile(&v);
        assert_eq!(f.nsg_tables.len(), 1);
        f.nsg_tables[0].clone()
    }

    #[test]
    fn tables_without_route_prefixes_narrow_only_the_virtual_network_sides() {
        let t = table();
        let wide = nets(&["10.1.0.0/16", "10.9.0.0/16", "168.63.129.16/32"]);
        let narrow = nets(&["10.1.0.0/16", "168.63.129.16/32"]);
        let (full, from_internet) = (&t.inbound, t.inbound_from_internet.as_ref().unwrap());
        let names: Vec<&str> = from_internet
            .rules
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        let expected = [
            "from-vnet",
            "from-site",
            "AllowVnetInBound",
            "AllowAzureLoadBalancerInBound",
            "DenyAllInBound",
        ];
        assert_eq!(names, expected);
        assert_eq!(full.rules[0].expanded_source, wide);
        assert_eq!(from_internet.rules[0].expanded_source, narrow);
        assert_eq!(from_internet.rules[0].source, ["VirtualNetwork"]);
        assert_eq!(
            from_internet.rules[0].expanded_destination,
            nets(&["0.0.0.0/0"])
        );
        // A rule naming no tag reads the same in both tables.
        assert_eq!(from_internet.rules[1], full.rules[1]);
        assert_eq!(from_internet.rules[1].source, ["192.168.5.0/24"]);
        assert_eq!(
            from_internet.rules[1].expanded_destination,
            nets(&["10.1.1.0/24"])
        );
        // AllowVnetInBound: VirtualNetwork on both sides.
        assert_eq!(full.rules[2].expanded_destination, wide);
        assert_eq!(from_internet.rules[2].expanded_source, narrow);
        assert_eq!(from_internet.rules[2].expanded_destination, narrow);
        assert_eq!(from_internet.rules[3], full.rules[3]);
        assert_eq!(from_internet.rules[4], full.rules[4]);
    }

    #[test]
    fn outbound_without_route_prefixes_narrows_the_destination() {
        let t = table();
        let narrow = t.outbound_without_routes.as_ref().unwrap();
        assert_eq!(t.outbound.rules[0].name, "to-vnet");
        assert_eq!(
            t.outbound.rules[0].expanded_destination,
            nets(&["10.1.0.0/16", "10.9.0.0/16", "168.63.129.16/32"])
        );
        assert_eq!(
            narrow.rules[0].expanded_destination,
            nets(&["10.1.0.0/16", "168.63.129.16/32"])
        );
        assert_eq!(narrow.rules[0].expanded_source, nets(&["0.0.0.0/0"]));
        let key = |dst: [u8; 4]| Key {
            proto: 6,
            src: u32::from_be_bytes([10, 1, 1, 5]),
            dst: u32::from_be_bytes(dst),
            sport: 50000,
            dport: 22,
        };
        // SSH to 10.9.1.1: denied by to-vnet with the route prefixes, not without them.
        assert_eq!(t.outbound.decide(&key([10, 9, 1, 1])), (Access::Deny, 0));
        assert_ne!(narrow.decide(&key([10, 9, 1, 1])).1, 0);
    }
}
