//! Azure Virtual Network Manager (`networkManagers`): network groups of VNets
//! (static members), security admin configurations whose rule collections
//! apply admin rules to groups, and connectivity configurations (mesh
//! connected groups, hub and spoke). Types, decoding and validation; the
//! fabric compiles them.
//!
//! ```yaml
//! networkManagers:
//!   - name: avnm
//!     networkGroups:
//!       - { name: ng-spokes, members: [vnet-a, vnet-b] }
//!     securityAdminConfigurations:
//!       - name: baseline
//!         ruleCollections:
//!           - name: guardrails
//!             appliesToGroups: [ng-spokes]
//!             rules:
//!               - { name: deny-rdp, priority: 10, direction: Inbound, access: Deny,
//!                   protocol: Tcp, sources: ['*'], destinations: ['*'],
//!                   destinationPortRanges: ['3389'] }
//!     connectivityConfigurations:
//!       - name: mesh
//!         connectivityTopology: Mesh          # Mesh | HubAndSpoke
//!         appliesToGroups: [{ networkGroup: ng-spokes }]
//! ```

use std::collections::{HashMap, HashSet};

use crate::decode::{
    enumerated, items, nsg_address, obj, port_ranges, require, required, string, uint, unresolved,
    Obj,
};
use crate::diag::Diagnostics;
use crate::limits::Echo;
use crate::node::{Loc, Node};
use crate::types::*;

/// A security admin rule's action (Microsoft Learn, "Security admin rules in Azure Virtual
/// Network Manager"): `Allow` lets NSGs decide, `AlwaysAllow` and `Deny` end evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AdminAccess {
    Allow,
    Deny,
    AlwaysAllow,
}

impl AdminAccess {
    pub const ALL: [(&'static str, AdminAccess); 3] = [
        ("Allow", AdminAccess::Allow),
        ("Deny", AdminAccess::Deny),
        ("AlwaysAllow", AdminAccess::AlwaysAllow),
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AdminAccess::Allow => "Allow",
            AdminAccess::Deny => "Deny",
            AdminAccess::AlwaysAllow => "AlwaysAllow",
        }
    }
}

#[derive(Clone, Debug)]
pub struct AdminRule {
    pub name: Sp<String>,
    /// 1..4096, lower first (0 when unresolved: ahead of every rule).
    pub priority: Sp<u32>,
    pub direction: Direction,
    pub access: AdminAccess,
    pub protocol: NsgProtocol,
    pub sources: Vec<Sp<AddressSpec>>,
    pub destinations: Vec<Sp<AddressSpec>>,
    pub source_port_ranges: Vec<PortRange>,
    pub destination_port_ranges: Vec<PortRange>,
    /// The fields the importer could not express (empty for an ordinary rule).
    pub unresolved: Vec<Unresolved>,
}

/// The fields an admin rule may leave unresolved.
const UNRESOLVABLE: [&str; 6] = [
    "sources",
    "destinations",
    "priority",
    "direction",
    "access",
    "protocol",
];

impl AdminRule {
    /// Whether `field` is one of the rule's unresolved fields.
    pub fn is_unresolved(&self, field: &str) -> bool {
        self.unresolved.iter().any(|u| u.field == field)
    }
    /// Whether the rule may apply in `dir` (both directions when its direction is unresolved).
    pub fn applies_in(&self, dir: Direction) -> bool {
        self.direction == dir || self.is_unresolved("direction")
    }
}

#[derive(Clone, Debug)]
pub struct AdminRuleCollection {
    pub name: Sp<String>,
    pub applies_to_groups: Vec<Sp<String>>,
    pub rules: Vec<AdminRule>,
    /// Rules with an `unresolved:` field (never in `rules`).
    pub unresolved_rules: Vec<AdminRule>,
}

#[derive(Clone, Debug)]
pub struct SecurityAdminConfiguration {
    pub name: Sp<String>,
    pub rule_collections: Vec<AdminRuleCollection>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectivityTopology {
    Mesh,
    HubAndSpoke,
}

#[derive(Clone, Debug)]
pub struct ConnectivityGroup {
    pub network_group: Sp<String>,
    /// `groupConnectivity: DirectlyConnected`: the group's VNets form a connected group.
    pub directly_connected: bool,
    /// Spokes use the hub's gateway (hub and spoke only).
    pub use_hub_gateway: bool,
}

#[derive(Clone, Debug)]
pub struct ConnectivityConfiguration {
    pub name: Sp<String>,
    pub topology: ConnectivityTopology,
    /// The hub VNet (hub and spoke).
    pub hub: Option<Sp<String>>,
    pub applies_to_groups: Vec<ConnectivityGroup>,
}

#[derive(Clone, Debug)]
pub struct NetworkGroup {
    pub name: Sp<String>,
    /// Static members: VNet names.
    pub members: Vec<Sp<String>>,
}

#[derive(Clone, Debug)]
pub struct NetworkManager {
    pub name: Sp<String>,
    pub network_groups: Vec<NetworkGroup>,
    pub security_admin_configurations: Vec<SecurityAdminConfiguration>,
    pub connectivity_configurations: Vec<ConnectivityConfiguration>,
    pub origin: Option<Origin>,
}

impl NetworkManager {
    /// The VNets of network group `name`.
    pub fn members(&self, name: &str) -> &[Sp<String>] {
        self.network_groups
            .iter()
            .find(|g| g.name.value == name)
            .map(|g| g.members.as_slice())
            .unwrap_or(&[])
    }
}

// ---- Decoding.

fn named(d: &mut Diagnostics, o: &Obj, what: &str) -> Option<Sp<String>> {
    require(d, o, "name", what).and_then(|n| string(d, n, "a name"))
}

fn list_of<T>(
    d: &mut Diagnostics,
    node: Option<&Node>,
    what: &str,
    mut one: impl FnMut(&mut Diagnostics, &Node) -> Option<T>,
) -> Vec<T> {
    items(d, node, what, false)
        .into_iter()
        .filter_map(|n| one(d, n))
        .collect()
}

fn names(d: &mut Diagnostics, node: Option<&Node>, what: &str) -> Vec<Sp<String>> {
    items(d, node, what, true)
        .into_iter()
        .filter_map(|n| string(d, n, what))
        .collect()
}

/// One `networkManagers` entry.
pub(crate) fn network_manager(
    d: &mut Diagnostics,
    n: &Node,
    origin: impl Fn(&mut Diagnostics, &Obj) -> Option<Origin>,
) -> Option<NetworkManager> {
    let o = obj(
        d,
        n,
        "a network manager",
        &[
            "name",
            "networkGroups",
            "securityAdminConfigurations",
            "connectivityConfigurations",
            "origin",
        ],
    )?;
    let name = named(d, &o, "a network manager")?;
    Some(NetworkManager {
        name,
        network_groups: list_of(d, o.get("networkGroups"), "networkGroups", network_group),
        security_admin_configurations: list_of(
            d,
            o.get("securityAdminConfigurations"),
            "securityAdminConfigurations",
            security_admin_configuration,
        ),
        connectivity_configurations: list_of(
            d,
            o.get("connectivityConfigurations"),
            "connectivityConfigurations",
            connectivity_configuration,
        ),
        origin: origin(d, &o),
    })
}

fn network_group(d: &mut Diagnostics, n: &Node) -> Option<NetworkGroup> {
    let o = obj(d, n, "a network group", &["name", "members"])?;
    Some(NetworkGroup {
        name: named(d, &o, "a network group")?,
        members: names(d, o.get("members"), "a vnet name"),
    })
}

fn security_admin_configuration(
    d: &mut Diagnostics,
    n: &Node,
) -> Option<SecurityAdminConfiguration> {
    let o = obj(
        d,
        n,
        "a security admin configuration",
        &["name", "ruleCollections"],
    )?;
    Some(SecurityAdminConfiguration {
        name: named(d, &o, "a security admin configuration")?,
        rule_collections: list_of(
            d,
            o.get("ruleCollections"),
            "ruleCollections",
            rule_collection,
        ),
    })
}

fn rule_collection(d: &mut Diagnostics, n: &Node) -> Option<AdminRuleCollection> {
    let o = obj(
        d,
        n,
        "an admin rule collection",
        &["name", "appliesToGroups", "rules"],
    )?;
    let name = named(d, &o, "an admin rule collection")?;
    let groups = require(d, &o, "appliesToGroups", "an admin rule collection");
    let (unresolved_rules, rules) = list_of(d, o.get("rules"), "rules", admin_rule)
        .into_iter()
        .partition(|r: &AdminRule| !r.unresolved.is_empty());
    Some(AdminRuleCollection {
        name,
        applies_to_groups: names(d, groups, "a network group name"),
        rules,
        unresolved_rules,
    })
}

const ADMIN_PROTOCOLS: [(&str, NsgProtocol); 7] = [
    ("Tcp", NsgProtocol::Tcp),
    ("Udp", NsgProtocol::Udp),
    ("Icmp", NsgProtocol::Icmp),
    ("Esp", NsgProtocol::Esp),
    ("Ah", NsgProtocol::Ah),
    ("Any", NsgProtocol::Any),
    ("*", NsgProtocol::Any),
];

fn admin_rule(d: &mut Diagnostics, n: &Node) -> Option<AdminRule> {
    let o = obj(
        d,
        n,
        "a security admin rule",
        &[
            "name",
            "priority",
            "direction",
            "access",
            "protocol",
            "sources",
            "destinations",
            "sourcePortRanges",
            "destinationPortRanges",
            "description",
            "unresolved",
        ],
    )?;
    let what = "a security admin rule";
    let u = unresolved(d, &o, what, &UNRESOLVABLE);
    let name = named(d, &o, what);
    // An unresolved priority, direction, access or protocol (a Default rule known by its flag
    // only) takes the value that puts the rule ahead of every other and matches every packet:
    // priority 0, both directions (see `AdminRule::directions`), any protocol.
    let stated = |d: &mut Diagnostics, k: &str| match u.iter().find(|x| x.field == k) {
        Some(_) => None,
        None => Some(require(d, &o, k, what)),
    };
    let priority = match stated(d, "priority") {
        None => Some(Sp::new(0, n.loc)),
        Some(x) => x.and_then(|x| uint(d, x, "a priority (1..4096)", u32::MAX as u64)),
    };
    let direction = match stated(d, "direction") {
        None => Some(Direction::Inbound),
        Some(x) => x.and_then(|x| {
            enumerated(
                d,
                x,
                "direction",
                &[
                    ("Inbound", Direction::Inbound),
                    ("Outbound", Direction::Outbound),
                ],
            )
        }),
    };
    let access = match stated(d, "access") {
        None => Some(AdminAccess::Deny),
        Some(x) => x.and_then(|x| enumerated(d, x, "admin rule access", &AdminAccess::ALL)),
    };
    let protocol = match stated(d, "protocol") {
        None => Some(NsgProtocol::Any),
        Some(x) => x.and_then(|x| enumerated(d, x, "protocol", &ADMIN_PROTOCOLS)),
    };
    let mut addresses = |key: &str| -> Vec<Sp<AddressSpec>> {
        let node = required(d, &o, key, what, &u);
        items(d, node, key, true)
            .into_iter()
            .filter_map(|x| nsg_address(d, x))
            .collect()
    };
    let sources = addresses("sources");
    let destinations = addresses("destinations");
    Some(AdminRule {
        name: name?,
        priority: priority?,
        direction: direction?,
        access: access?,
        protocol: protocol?,
        sources,
        destinations,
        source_port_ranges: port_ranges(d, o.get("sourcePortRanges")),
        destination_port_ranges: port_ranges(d, o.get("destinationPortRanges")),
        unresolved: u,
    })
}

fn connectivity_configuration(d: &mut Diagnostics, n: &Node) -> Option<ConnectivityConfiguration> {
    let o = obj(
        d,
        n,
        "a connectivity configuration",
        &["name", "connectivityTopology", "hub", "appliesToGroups"],
    )?;
    let name = named(d, &o, "a connectivity configuration")?;
    let topology = require(
        d,
        &o,
        "connectivityTopology",
        "a connectivity configuration",
    )
    .and_then(|x| {
        enumerated(
            d,
            x,
            "connectivityTopology",
            &[
                ("Mesh", ConnectivityTopology::Mesh),
                ("HubAndSpoke", ConnectivityTopology::HubAndSpoke),
            ],
        )
    })?;
    let hub = o.get("hub").and_then(|x| string(d, x, "a vnet name"));
    let applies_to_groups = list_of(d, o.get("appliesToGroups"), "appliesToGroups", |d, g| {
        let go = obj(
            d,
            g,
            "a connectivity group item",
            &["networkGroup", "groupConnectivity", "useHubGateway"],
        )?;
        let network_group = require(d, &go, "networkGroup", "a connectivity group item")
            .and_then(|x| string(d, x, "a network group name"))?;
        let directly_connected = go
            .get("groupConnectivity")
            .and_then(|x| {
                enumerated(
                    d,
                    x,
                    "groupConnectivity",
                    &[("None", false), ("DirectlyConnected", true)],
                )
            })
            .unwrap_or(false);
        let use_hub_gateway = go
            .get("useHubGateway")
            .and_then(|x| enumerated(d, x, "true or false", &[("true", true), ("false", false)]))
            .unwrap_or(false);
        Some(ConnectivityGroup {
            network_group,
            directly_connected,
            use_hub_gateway,
        })
    });
    Some(ConnectivityConfiguration {
        name,
        topology,
        hub,
        applies_to_groups,
    })
}

// ---- Validation.

/// Checks every network manager: unique names, members and groups that exist, admin rule
/// priorities in 1..4096, addresses an admin rule may use, hubs.
pub(crate) fn validate(t: &Topology, d: &mut Diagnostics) {
    let vnets: HashSet<&str> = t.vnets.iter().map(|v| v.name.value.as_str()).collect();
    let mut seen: HashMap<&str, Loc> = HashMap::new();
    for m in &t.network_managers {
        if let Some(l) = seen.insert(&m.name.value, m.name.loc) {
            d.error(
                m.name.loc,
                format!(
                    "duplicate network manager name '{}' (first defined at line {})",
                    Echo(&m.name.value),
                    l.line
                ),
            );
        }
        check_manager(m, &vnets, d);
    }
}

fn dup<'a>(d: &mut Diagnostics, kind: &str, names: impl Iterator<Item = &'a Sp<String>>) {
    let mut seen: HashMap<&str, Loc> = HashMap::new();
    for n in names {
        if let Some(l) = seen.insert(&n.value, n.loc) {
            d.error(
                n.loc,
                format!(
                    "duplicate {kind} name '{}' (first defined at line {})",
                    Echo(&n.value),
                    l.line
                ),
            );
        }
    }
}

fn check_manager(m: &NetworkManager, vnets: &HashSet<&str>, d: &mut Diagnostics) {
    let who = format!("network manager '{}'", Echo(&m.name.value));
    dup(
        d,
        &format!("network group (in {who})"),
        m.network_groups.iter().map(|g| &g.name),
    );
    let groups: HashSet<&str> = m
        .network_groups
        .iter()
        .map(|g| g.name.value.as_str())
        .collect();
    let defined_groups = {
        let mut v: Vec<&str> = groups.iter().copied().collect();
        v.sort_unstable();
        crate::limits::defined_list(v.into_iter())
    };
    for g in &m.network_groups {
        for v in &g.members {
            if !vnets.contains(v.value.as_str()) {
                d.error(
                    v.loc,
                    format!(
                        "network group '{}' lists unknown vnet '{}' as a member",
                        Echo(&g.name.value),
                        Echo(&v.value)
                    ),
                );
            }
        }
    }
    let group_ref = |d: &mut Diagnostics, g: &Sp<String>| {
        if !groups.contains(g.value.as_str()) {
            d.error(
                g.loc,
                format!(
                    "unknown network group '{}' in {who} ({defined_groups})",
                    Echo(&g.value)
                ),
            );
        }
    };
    dup(
        d,
        &format!("security admin configuration (in {who})"),
        m.security_admin_configurations.iter().map(|c| &c.name),
    );
    for c in &m.security_admin_configurations {
        for rc in &c.rule_collections {
            for g in &rc.applies_to_groups {
                group_ref(d, g);
            }
            if rc.applies_to_groups.is_empty() {
                d.error(
                    rc.name.loc,
                    format!(
                        "admin rule collection '{}' applies to no network group",
                        Echo(&rc.name.value)
                    ),
                );
            }
            dup(
                d,
                &format!("admin rule (in collection '{}')", Echo(&rc.name.value)),
                rc.rules.iter().chain(&rc.unresolved_rules).map(|r| &r.name),
            );
            for r in rc.rules.iter().chain(&rc.unresolved_rules) {
                check_admin_rule(r, d);
            }
        }
    }
    dup(
        d,
        &format!("connectivity configuration (in {who})"),
        m.connectivity_configurations.iter().map(|c| &c.name),
    );
    for c in &m.connectivity_configurations {
        for g in &c.applies_to_groups {
            group_ref(d, &g.network_group);
        }
        check_hub(c, vnets, d);
    }
}

fn check_admin_rule(r: &AdminRule, d: &mut Diagnostics) {
    let p = r.priority.value;
    if !(1..=4096).contains(&p) && !r.is_unresolved("priority") {
        d.error(
            r.priority.loc,
            format!(
                "security admin rule '{}' priority {p} is outside 1..4096",
                Echo(&r.name.value)
            ),
        );
    }
    for a in r.sources.iter().chain(r.destinations.iter()) {
        if let AddressSpec::Asg(name) = &a.value {
            d.error(
                a.loc,
                format!(
                    "security admin rule '{}' names application security group '{}': admin rules take IP prefixes and service tags only",
                    Echo(&r.name.value),
                    Echo(name)
                ),
            );
        }
    }
    let stated = |field: &str, v: &[Sp<AddressSpec>]| {
        !v.is_empty() || r.unresolved.iter().any(|u| u.field == field)
    };
    if !stated("sources", &r.sources) || !stated("destinations", &r.destinations) {
        d.error(
            r.name.loc,
            format!(
                "security admin rule '{}' needs sources and destinations",
                Echo(&r.name.value)
            ),
        );
    }
}

fn check_hub(c: &ConnectivityConfiguration, vnets: &HashSet<&str>, d: &mut Diagnostics) {
    match (&c.topology, &c.hub) {
        (ConnectivityTopology::HubAndSpoke, None) => d.error(
            c.name.loc,
            format!(
                "connectivity configuration '{}' is HubAndSpoke and names no hub vnet",
                Echo(&c.name.value)
            ),
        ),
        (ConnectivityTopology::Mesh, Some(h)) => d.error(
            h.loc,
            format!(
                "connectivity configuration '{}' is Mesh, which has no hub",
                Echo(&c.name.value)
            ),
        ),
        (_, Some(h)) if !vnets.contains(h.value.as_str()) => {
            d.error(h.loc, format!("unknown hub vnet '{}'", Echo(&h.value)))
        }
        _ => {}
    }
}

// ---- What the configurations mean for VNets.

/// The VNet-to-VNet peerings a hub-and-spoke configuration creates (hub with each spoke, both
/// directions; gateway transit when the group uses the hub gateway), for VNets not already
/// peered by the topology itself.
pub(crate) fn hub_and_spoke_peerings(t: &Topology) -> Vec<Peering> {
    let vnets: HashSet<&str> = t.vnets.iter().map(|v| v.name.value.as_str()).collect();
    let mut have: HashSet<(String, String)> = t
        .peerings
        .iter()
        .map(|p| (p.from.value.clone(), p.to.value.clone()))
        .collect();
    let mut out = Vec::new();
    for m in &t.network_managers {
        for c in &m.connectivity_configurations {
            let (ConnectivityTopology::HubAndSpoke, Some(hub)) = (c.topology, &c.hub) else {
                continue;
            };
            if !vnets.contains(hub.value.as_str()) {
                continue;
            }
            for g in &c.applies_to_groups {
                for s in m.members(&g.network_group.value) {
                    if s.value == hub.value || !vnets.contains(s.value.as_str()) {
                        continue;
                    }
                    let pair = |from: &Sp<String>, to: &Sp<String>, hub_side: bool| Peering {
                        loc: c.name.loc,
                        from: from.clone(),
                        to: to.clone(),
                        allow_virtual_network_access: true,
                        allow_forwarded_traffic: true,
                        allow_gateway_transit: hub_side && g.use_hub_gateway,
                        use_remote_gateways: !hub_side && g.use_hub_gateway,
                        origin: None,
                    };
                    for p in [pair(hub, s, true), pair(s, hub, false)] {
                        if have.insert((p.from.value.clone(), p.to.value.clone())) {
                            out.push(p);
                        }
                    }
                }
            }
        }
    }
    out
}

/// The connected groups the connectivity configurations form: each a list of VNet names (a
/// mesh's VNets across all its groups; a hub and spoke's directly connected group).
pub fn connected_groups(t: &Topology) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for m in &t.network_managers {
        for c in &m.connectivity_configurations {
            match c.topology {
                ConnectivityTopology::Mesh => {
                    let mut g: Vec<String> = Vec::new();
                    for x in &c.applies_to_groups {
                        for v in m.members(&x.network_group.value) {
                            if !g.contains(&v.value) {
                                g.push(v.value.clone());
                            }
                        }
                    }
                    out.push(g);
                }
                ConnectivityTopology::HubAndSpoke => {
                    for x in c.applies_to_groups.iter().filter(|x| x.directly_connected) {
                        let mut g: Vec<String> = Vec::new();
                        for v in m.members(&x.network_group.value) {
                            if !g.contains(&v.value) {
                                g.push(v.value.clone());
                            }
                        }
                        out.push(g);
                    }
                }
            }
        }
    }
    out.retain(|g| g.len() > 1);
    out
}
