//! The resources of a topology by kind and name, as an owner file, a report and a change list
//! name them; which resources differ between two topologies; one resource's change applied to
//! (or reverted from) another topology, for counterfactuals.

use std::collections::BTreeMap;

use vnetsim_model as m;

/// A resource kind, in the topology format's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Site,
    Vnet,
    Subnet,
    Peering,
    RouteTable,
    Nsg,
    Asg,
    Nic,
    Gateway,
    NatGateway,
    ExpressRouteCircuit,
    Firewall,
    Service,
    PrivateEndpoint,
    RouteServer,
    LoadBalancer,
    ApplicationGateway,
    NetworkManager,
}

impl Kind {
    pub const ALL: [Kind; 18] = [
        Kind::Site,
        Kind::Vnet,
        Kind::Subnet,
        Kind::Peering,
        Kind::RouteTable,
        Kind::Nsg,
        Kind::Asg,
        Kind::Nic,
        Kind::Gateway,
        Kind::NatGateway,
        Kind::ExpressRouteCircuit,
        Kind::Firewall,
        Kind::Service,
        Kind::PrivateEndpoint,
        Kind::RouteServer,
        Kind::LoadBalancer,
        Kind::ApplicationGateway,
        Kind::NetworkManager,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Site => "site",
            Kind::Vnet => "vnet",
            Kind::Subnet => "subnet",
            Kind::Peering => "peering",
            Kind::RouteTable => "routeTable",
            Kind::Nsg => "nsg",
            Kind::Asg => "asg",
            Kind::Nic => "nic",
            Kind::Gateway => "gateway",
            Kind::NatGateway => "natGateway",
            Kind::ExpressRouteCircuit => "expressRouteCircuit",
            Kind::Firewall => "firewall",
            Kind::Service => "service",
            Kind::PrivateEndpoint => "privateEndpoint",
            Kind::RouteServer => "routeServer",
            Kind::LoadBalancer => "loadBalancer",
            Kind::ApplicationGateway => "applicationGateway",
            Kind::NetworkManager => "networkManager",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

/// One resource: its kind and name (`VNET/SUBNET` for a subnet, `FROM->TO` for a peering).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceId {
    pub kind: Kind,
    pub name: String,
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.name)
    }
}

pub fn id(kind: Kind, name: impl Into<String>) -> ResourceId {
    ResourceId {
        kind,
        name: name.into(),
    }
}

pub fn peering_name(p: &m::Peering) -> String {
    format!("{}->{}", p.from.value, p.to.value)
}

/// The item's content without the places it was written, so that moving a resource in the
/// file is not a change.
fn canon(x: &impl std::fmt::Debug) -> String {
    let s = format!("{x:?}");
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find("Loc { line: ") {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match rest.find('}') {
            Some(j) => rest = &rest[j + 1..],
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// Every resource of the topology with its content (location-free), and the origin it
/// carries, in declaration order.
pub fn inventory(t: &m::Topology) -> Vec<(ResourceId, String, Option<m::Origin>)> {
    let mut v = Vec::new();
    macro_rules! each {
        ($list:expr, $kind:expr) => {
            for x in &$list {
                v.push((id($kind, x.name.value.clone()), canon(x), x.origin.clone()));
            }
        };
    }
    each!(t.sites, Kind::Site);
    for x in &t.vnets {
        let body = (&x.name.value, &x.address_space, &x.origin);
        v.push((
            id(Kind::Vnet, x.name.value.clone()),
            canon(&body),
            x.origin.clone(),
        ));
        for s in &x.subnets {
            let n = format!("{}/{}", x.name.value, s.name.value);
            v.push((id(Kind::Subnet, n), canon(s), None));
        }
    }
    for p in &t.peerings {
        v.push((
            id(Kind::Peering, peering_name(p)),
            canon(p),
            p.origin.clone(),
        ));
    }
    each!(t.route_tables, Kind::RouteTable);
    for a in &t.application_security_groups {
        v.push((id(Kind::Asg, a.value.clone()), String::new(), None));
    }
    each!(t.nsgs, Kind::Nsg);
    each!(t.nics, Kind::Nic);
    each!(t.gateways, Kind::Gateway);
    for x in &t.nat_gateways {
        v.push((id(Kind::NatGateway, x.name.value.clone()), canon(x), None));
    }
    for x in &t.express_route_circuits {
        v.push((
            id(Kind::ExpressRouteCircuit, x.name.value.clone()),
            canon(x),
            None,
        ));
    }
    each!(t.firewalls, Kind::Firewall);
    each!(t.services, Kind::Service);
    each!(t.private_endpoints, Kind::PrivateEndpoint);
    each!(t.route_servers, Kind::RouteServer);
    each!(t.load_balancers, Kind::LoadBalancer);
    each!(t.application_gateways, Kind::ApplicationGateway);
    each!(t.network_managers, Kind::NetworkManager);
    v
}

/// How a resource changed from one topology to the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Modified => "modified",
        }
    }
}

/// The resources that differ between `old` and `new`, in kind and name order.
pub fn changed(old: &m::Topology, new: &m::Topology) -> Vec<(ResourceId, ChangeKind)> {
    let a: BTreeMap<ResourceId, String> =
        inventory(old).into_iter().map(|(i, c, _)| (i, c)).collect();
    let b: BTreeMap<ResourceId, String> =
        inventory(new).into_iter().map(|(i, c, _)| (i, c)).collect();
    let mut out = Vec::new();
    for (k, cb) in &b {
        match a.get(k) {
            None => out.push((k.clone(), ChangeKind::Added)),
            Some(ca) if ca != cb => out.push((k.clone(), ChangeKind::Modified)),
            _ => {}
        }
    }
    for k in a.keys() {
        if !b.contains_key(k) {
            out.push((k.clone(), ChangeKind::Removed));
        }
    }
    out.sort_by(|x, y| x.0.cmp(&y.0));
    out
}

/// Puts `from`'s version of the item named `name` into `dst` (replacing, adding at the end,
/// or removing it when `from` has none).
fn put<T: Clone>(dst: &mut Vec<T>, from: &[T], name: &str, key: impl Fn(&T) -> String) {
    let pos = dst.iter().position(|x| key(x) == name);
    match (from.iter().find(|x| key(x) == name), pos) {
        (Some(x), Some(i)) => dst[i] = x.clone(),
        (Some(x), None) => dst.push(x.clone()),
        (None, Some(i)) => {
            dst.remove(i);
        }
        (None, None) => {}
    }
}

/// `base` with resource `r` as `from` has it (added, replaced or removed).
pub fn with_resource_of(base: &m::Topology, from: &m::Topology, r: &ResourceId) -> m::Topology {
    let mut t = base.clone();
    let n = r.name.as_str();
    match r.kind {
        Kind::Site => put(&mut t.sites, &from.sites, n, |x| x.name.value.clone()),
        Kind::Vnet => {
            let src = from.vnets.iter().find(|v| v.name.value == n);
            match (src, t.vnets.iter_mut().find(|v| v.name.value == n)) {
                (Some(s), Some(d)) => {
                    d.address_space = s.address_space.clone();
                    d.origin = s.origin.clone();
                }
                _ => put(&mut t.vnets, &from.vnets, n, |x| x.name.value.clone()),
            }
        }
        Kind::Subnet => {
            let (vn, sn) = n.split_once('/').unwrap_or((n, ""));
            let src = from.vnets.iter().find(|v| v.name.value == vn);
            if let (Some(s), Some(d)) = (src, t.vnets.iter_mut().find(|v| v.name.value == vn)) {
                put(&mut d.subnets, &s.subnets, sn, |x| x.name.value.clone());
            }
        }
        Kind::Peering => put(&mut t.peerings, &from.peerings, n, peering_name),
        Kind::RouteTable => put(&mut t.route_tables, &from.route_tables, n, |x| {
            x.name.value.clone()
        }),
        Kind::Nsg => put(&mut t.nsgs, &from.nsgs, n, |x| x.name.value.clone()),
        Kind::Asg => put(
            &mut t.application_security_groups,
            &from.application_security_groups,
            n,
            |x| x.value.clone(),
        ),
        Kind::Nic => put(&mut t.nics, &from.nics, n, |x| x.name.value.clone()),
        Kind::Gateway => put(&mut t.gateways, &from.gateways, n, |x| x.name.value.clone()),
        Kind::NatGateway => put(&mut t.nat_gateways, &from.nat_gateways, n, |x| {
            x.name.value.clone()
        }),
        Kind::ExpressRouteCircuit => put(
            &mut t.express_route_circuits,
            &from.express_route_circuits,
            n,
            |x| x.name.value.clone(),
        ),
        Kind::Firewall => put(&mut t.firewalls, &from.firewalls, n, |x| {
            x.name.value.clone()
        }),
        Kind::Service => put(&mut t.services, &from.services, n, |x| x.name.value.clone()),
        Kind::PrivateEndpoint => put(&mut t.private_endpoints, &from.private_endpoints, n, |x| {
            x.name.value.clone()
        }),
        Kind::RouteServer => put(&mut t.route_servers, &from.route_servers, n, |x| {
            x.name.value.clone()
        }),
        Kind::LoadBalancer => put(&mut t.load_balancers, &from.load_balancers, n, |x| {
            x.name.value.clone()
        }),
        Kind::ApplicationGateway => put(
            &mut t.application_gateways,
            &from.application_gateways,
            n,
            |x| x.name.value.clone(),
        ),
        Kind::NetworkManager => put(&mut t.network_managers, &from.network_managers, n, |x| {
            x.name.value.clone()
        }),
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo(text: &str) -> m::Topology {
        m::load_str("t.yaml", text).unwrap().topology().clone()
    }

    const BASE: &str = "version: 1
vnets:
  - { name: v, addressSpace: [10.0.0.0/16], subnets: [{ name: s, addressPrefix: 10.0.1.0/24, routeTable: rt }] }
routeTables:
  - { name: rt, routes: [{ name: r, addressPrefix: 10.9.0.0/16, nextHopType: None }] }
nsgs:
  - { name: n, rules: [] }
";

    #[test]
    fn moving_a_resource_in_the_file_is_not_a_change() {
        let moved = BASE.replace("nsgs:\n  - { name: n, rules: [] }\n", "");
        let moved = moved.replace(
            "version: 1\n",
            "version: 1\nnsgs:\n  - { name: n, rules: [] }\n\n",
        );
        assert!(changed(&topo(BASE), &topo(&moved)).is_empty());
    }

    #[test]
    fn a_changed_route_is_its_tables_change_and_applies_alone() {
        let new = BASE.replace("nextHopType: None", "nextHopType: Internet");
        let (a, b) = (topo(BASE), topo(&new));
        let c = changed(&a, &b);
        assert_eq!(c, vec![(id(Kind::RouteTable, "rt"), ChangeKind::Modified)]);
        let applied = with_resource_of(&a, &b, &c[0].0);
        assert!(changed(&applied, &b).is_empty());
        assert!(changed(&with_resource_of(&b, &a, &c[0].0), &a).is_empty());
    }

    #[test]
    fn a_route_servers_changed_peers_are_its_change_and_apply_alone() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/route_server.yaml"
        );
        let text = std::fs::read_to_string(path).unwrap();
        // nva2 stops advertising 10.200.0.0/16: only the Route Server rs-hub changed.
        let new = text.replace(
            "          - { prefix: 10.200.0.0/16, asPath: [65002, 65050] }\n",
            "",
        );
        assert_ne!(new, text);
        let (a, b) = (topo(&text), topo(&new));
        let c = changed(&a, &b);
        assert_eq!(
            c,
            vec![(id(Kind::RouteServer, "rs-hub"), ChangeKind::Modified)]
        );
        assert!(changed(&with_resource_of(&a, &b, &c[0].0), &b).is_empty());
        assert!(changed(&with_resource_of(&b, &a, &c[0].0), &a).is_empty());
    }

    #[test]
    fn an_added_nsg_on_a_subnet_is_two_changes() {
        let new = BASE
            .replace("routeTable: rt }", "routeTable: rt, nsg: n2 }")
            .replace(
                "  - { name: n, rules: [] }\n",
                "  - { name: n, rules: [] }\n  - { name: n2, rules: [] }\n",
            );
        let c = changed(&topo(BASE), &topo(&new));
        assert_eq!(
            c,
            vec![
                (id(Kind::Subnet, "v/s"), ChangeKind::Modified),
                (id(Kind::Nsg, "n2"), ChangeKind::Added)
            ]
        );
    }
}
