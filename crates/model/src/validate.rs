//! Whole-file validation: every problem at once, each located.
//!
//! [`validate`] runs named steps in a fixed order (names, vnets and
//! subnets, peerings, route tables, NSGs, NICs, gateways, firewalls,
//! private endpoints). Each step reads the topology and what earlier steps
//! recorded in a `Checker`. Every step is linear in what it reads, or
//! n log n where prefixes are sorted to find overlaps; no step compares all
//! pairs.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::diag::Diagnostics;
use crate::limits::Echo;
use crate::node::Loc;
use crate::overlap::{overlapping_pairs, PrefixIndex};
use crate::types::*;

pub const GATEWAY_SUBNET: &str = "GatewaySubnet";
pub const FIREWALL_SUBNET: &str = "AzureFirewallSubnet";

/// Whether `ip` is one Azure keeps in `subnet` (R1.1): the first four and the last.
pub fn is_reserved(subnet: &Ipv4Net, ip: Ipv4Addr) -> bool {
    let base = u64::from(u32::from(subnet.network()));
    let v = u32::from(ip);
    u64::from(v) < base + 4 || v == u32::from(subnet.broadcast())
}

/// The first address of `subnet` Azure lets a resource use (R1.1).
fn first_usable(subnet: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()).saturating_add(4))
}

// The names a reference could have used, at most `LISTED` of them.
use crate::limits::{defined_list as list, LISTED};

/// A vnet's address space for a message: at most [`LISTED`] prefixes.
fn space_list(space: &[Sp<Ipv4Net>]) -> String {
    let shown: Vec<String> = space
        .iter()
        .take(LISTED)
        .map(|a| a.value.to_string())
        .collect();
    if space.len() > LISTED {
        format!("{}, ... ({} in all)", shown.join(", "), space.len())
    } else {
        shown.join(", ")
    }
}

/// Reports every name defined twice; returns each name's first index.
fn unique<'a>(
    d: &mut Diagnostics,
    kind: &str,
    names: impl Iterator<Item = &'a Sp<String>>,
) -> HashMap<&'a str, usize> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut first: HashMap<&str, Loc> = HashMap::new();
    for (i, n) in names.enumerate() {
        if let Some(l) = first.get(n.value.as_str()) {
            d.error(
                n.loc,
                format!(
                    "duplicate {kind} name '{}' (first defined at line {})",
                    Echo(&n.value),
                    l.line
                ),
            );
        } else {
            first.insert(&n.value, n.loc);
            seen.insert(&n.value, i);
        }
    }
    seen
}

/// Reports a reference to a name that is not defined.
/// A name left out because it did not decode (alone, or as either half of `VNET/SUBNET`) is
/// not reported: its own error says what is wrong.
fn unknown(d: &mut Diagnostics, r: &Sp<String>, kind: &str, defined: String) {
    if d.undecoded.contains(&r.value) || r.value.split('/').any(|part| d.undecoded.contains(part)) {
        return;
    }
    d.error(
        r.loc,
        format!("unknown {kind} '{}' ({defined})", Echo(&r.value)),
    );
}

/// The overlap between the address spaces of two vnets: the first pair
/// found (an index into each vnet's addressSpace) and how many of the
/// searched side's prefixes overlap the other side.
#[derive(Clone, Copy, Debug)]
struct SpaceOverlap {
    first: usize,
    second: usize,
    count: usize,
}

/// Whether the address spaces of vnets `a` and `b` overlap. The smaller
/// side is searched in the larger side's index: O(min log max).
fn space_overlap(t: &Topology, ix: &[PrefixIndex], a: usize, b: usize) -> Option<SpaceOverlap> {
    let (sa, sb) = (&t.vnets[a].address_space, &t.vnets[b].address_space);
    let swap = sa.len() > sb.len();
    let (small, large) = if swap { (sb, &ix[a]) } else { (sa, &ix[b]) };
    let mut found: Option<SpaceOverlap> = None;
    for (i, x) in small.iter().enumerate() {
        if let Some(j) = large.overlapping(&x.value) {
            let f = found.get_or_insert(SpaceOverlap {
                first: if swap { j } else { i },
                second: if swap { i } else { j },
                count: 0,
            });
            f.count += 1;
        }
    }
    found
}

/// Names defined once at the top level, each with its index.
struct Names<'a> {
    sites: HashMap<&'a str, usize>,
    vnets: HashMap<&'a str, usize>,
    route_tables: HashMap<&'a str, usize>,
    asgs: HashMap<&'a str, usize>,
    nsgs: HashMap<&'a str, usize>,
    services: HashMap<&'a str, usize>,
}

impl<'a> Names<'a> {
    /// Step 1: every kind of name is unique.
    fn check(t: &'a Topology, d: &mut Diagnostics) -> Self {
        let names = Names {
            sites: unique(d, "site", t.sites.iter().map(|s| &s.name)),
            vnets: unique(d, "vnet", t.vnets.iter().map(|v| &v.name)),
            route_tables: unique(d, "route table", t.route_tables.iter().map(|r| &r.name)),
            asgs: unique(
                d,
                "application security group",
                t.application_security_groups.iter(),
            ),
            nsgs: unique(d, "NSG", t.nsgs.iter().map(|n| &n.name)),
            services: HashMap::new(),
        };
        unique(d, "NIC", t.nics.iter().map(|n| &n.name));
        unique(d, "gateway", t.gateways.iter().map(|n| &n.name));
        unique(d, "firewall", t.firewalls.iter().map(|n| &n.name));
        let services = unique(d, "service", t.services.iter().map(|n| &n.name));
        unique(
            d,
            "private endpoint",
            t.private_endpoints.iter().map(|n| &n.name),
        );
        Names { services, ..names }
    }
}

/// What the steps share: the topology, its names, indexes built once, and
/// what earlier steps recorded.
pub(crate) struct Checker<'a> {
    pub(crate) t: &'a Topology,
    names: Names<'a>,
    /// Each vnet's address space, indexed for overlap and containment.
    spaces: Vec<PrefixIndex>,
    /// Subnets by "VNET/SUBNET" (the first of a duplicated name).
    pub(crate) subnets: HashMap<String, (usize, usize)>,
    /// Subnet references sorted by name, built for the first unknown one.
    sorted_subnets: OnceCell<Vec<String>>,
    /// Vnets that have a gateway.
    gateway_vnets: HashSet<&'a str>,
    /// Addresses owned by NICs, endpoints and firewalls, per vnet.
    owners: HashMap<(usize, Ipv4Addr), String>,
    /// The vnet (and the place) where each ASG got its first member.
    asg_vnet: HashMap<&'a str, (usize, Loc)>,
}

/// Checks a topology; appends every problem to `d`.
pub fn validate(t: &Topology, d: &mut Diagnostics) {
    let mut c = Checker::new(t, d);
    c.check_vnets(d);
    c.check_peerings(d);
    c.check_peerings_back(d);
    c.check_route_tables(d);
    c.check_nsgs(d);
    c.check_nics(d);
    c.check_gateways(d);
    c.check_firewalls(d);
    c.check_not_modelled(d);
    c.check_private_endpoints(d);
    c.check_service_endpoints(d);
    c.check_network_acls(d);
    check_named_tags(t, d);
    crate::admin::validate(t, d);
    c.check_load_balancers(d);
    c.check_application_gateways(d);
    crate::control_plane::check(t, d);
}

/// The message for a tag the serviceTags file does not have.
fn unknown_tag(tag: &str, tags: &crate::service_tags::ServiceTags) -> String {
    let hint = match tags.near(tag) {
        Some(n) => format!(" (did you mean '{}'?)", Echo(n)),
        None => String::new(),
    };
    format!(
        "unknown service tag '{}': the serviceTags file {} has no such tag{hint}",
        Echo(tag),
        Echo(&tags.file)
    )
}

/// Service tags NSG and admin rules name beyond the built-in three need the serviceTags file,
/// and must be in it.
fn check_named_tags(t: &Topology, d: &mut Diagnostics) {
    let nsg = t
        .nsgs
        .iter()
        .flat_map(|n| n.rules.iter().chain(&n.unresolved_rules))
        .flat_map(|r| r.source.iter().chain(r.destination.iter()));
    let admin = t
        .network_managers
        .iter()
        .flat_map(|m| m.security_admin_configurations.iter())
        .flat_map(|c| c.rule_collections.iter())
        .flat_map(|c| c.rules.iter().chain(&c.unresolved_rules))
        .flat_map(|r| r.sources.iter().chain(r.destinations.iter()));
    for a in nsg.chain(admin) {
        let AddressSpec::NamedTag(tag) = &a.value else {
            continue;
        };
        match &t.service_tags {
            None => d.error(
                a.loc,
                format!(
                    "service tag '{}' has no address data: only VirtualNetwork, AzureLoadBalancer \
                     and Internet are built in; name a service-tag file with 'serviceTags: FILE' \
                     (the JSON `az network list-service-tags` writes)",
                    Echo(tag)
                ),
            ),
            Some(tags) if tags.get(tag).is_none() => d.error(a.loc, unknown_tag(tag, tags)),
            Some(_) => {}
        }
    }
}

impl<'a> Checker<'a> {
    fn new(t: &'a Topology, d: &mut Diagnostics) -> Self {
        let spaces = t
            .vnets
            .iter()
            .map(|v| PrefixIndex::new(&v.address_space.iter().map(|a| a.value).collect::<Vec<_>>()))
            .collect();
        Checker {
            t,
            names: Names::check(t, d),
            spaces,
            subnets: HashMap::new(),
            sorted_subnets: OnceCell::new(),
            gateway_vnets: t
                .gateways
                .iter()
                .map(|g| g.vnet.value.as_str())
                .chain(t.route_servers.iter().map(|r| r.vnet.value.as_str()))
                .collect(),
            owners: HashMap::new(),
            asg_vnet: HashMap::new(),
        }
    }

    fn defined_vnets(&self) -> String {
        list(self.t.vnets.iter().map(|v| v.name.value.as_str()))
    }

    fn defined_nsgs(&self) -> String {
        list(self.t.nsgs.iter().map(|x| x.name.value.as_str()))
    }

    fn defined_asgs(&self) -> String {
        list(
            self.t
                .application_security_groups
                .iter()
                .map(|x| x.value.as_str()),
        )
    }

    fn defined_subnets(&self) -> String {
        let sorted = self.sorted_subnets.get_or_init(|| {
            let mut k: Vec<String> = self.subnets.keys().cloned().collect();
            k.sort_unstable();
            k
        });
        list(sorted.iter().map(String::as_str))
    }

    // ---- Step 2: vnets and their subnets.

    fn check_vnets(&mut self, d: &mut Diagnostics) {
        for vi in 0..self.t.vnets.len() {
            self.check_vnet(vi, d);
        }
    }

    fn check_vnet(&mut self, vi: usize, d: &mut Diagnostics) {
        let v = &self.t.vnets[vi];
        unique(
            d,
            &format!("subnet (in vnet '{}')", Echo(&v.name.value)),
            v.subnets.iter().map(|s| &s.name),
        );
        if v.address_space.is_empty() {
            d.error(
                v.name.loc,
                format!("vnet '{}' has an empty addressSpace", Echo(&v.name.value)),
            );
        }
        check_address_space_overlaps(v, d);
        let prefixes: Vec<Ipv4Net> = v.subnets.iter().map(|s| s.address_prefix.value).collect();
        let mut overlaps_earlier: Vec<Vec<usize>> = vec![Vec::new(); prefixes.len()];
        for (later, earlier) in overlapping_pairs(&prefixes) {
            overlaps_earlier[later].push(earlier);
        }
        for (si, earlier) in overlaps_earlier.iter().enumerate() {
            self.check_subnet(vi, si, earlier, d);
        }
    }

    /// One subnet: its prefix, its overlaps with subnets declared before it
    /// (`earlier`), and its NSG and route table.
    fn check_subnet(&mut self, vi: usize, si: usize, earlier: &[usize], d: &mut Diagnostics) {
        let v = &self.t.vnets[vi];
        let s = &v.subnets[si];
        self.subnets
            .entry(format!("{}/{}", v.name.value, s.name.value))
            .or_insert((vi, si));
        self.check_subnet_prefix(vi, s, d);
        for &o in earlier {
            let o = &v.subnets[o];
            d.error(
                s.address_prefix.loc,
                format!(
                    "subnet '{}' ({}) overlaps subnet '{}' ({})",
                    Echo(&s.name.value),
                    s.address_prefix.value,
                    Echo(&o.name.value),
                    o.address_prefix.value
                ),
            );
        }
        if let Some(n) = &s.nsg {
            self.check_subnet_nsg(s, n, d);
        }
        if let Some(r) = &s.route_table {
            self.check_subnet_route_table(s, r, d);
        }
    }

    /// Inside the vnet's address space, and no smaller than /29.
    fn check_subnet_prefix(&self, vi: usize, s: &Subnet, d: &mut Diagnostics) {
        let v = &self.t.vnets[vi];
        let p = s.address_prefix.value;
        if !self.spaces[vi].contains(&p) {
            d.error(
                s.address_prefix.loc,
                format!(
                    "subnet '{}' prefix {p} is outside the address space of vnet '{}' ({})",
                    Echo(&s.name.value),
                    Echo(&v.name.value),
                    space_list(&v.address_space)
                ),
            );
        }
        if p.prefix_len() > 29 {
            d.error(
                s.address_prefix.loc,
                format!("subnet prefix {p} is smaller than Azure's smallest subnet, /29"),
            );
        }
    }

    fn check_subnet_nsg(&self, s: &Subnet, n: &Sp<String>, d: &mut Diagnostics) {
        if !self.names.nsgs.contains_key(n.value.as_str()) {
            unknown(d, n, "NSG", self.defined_nsgs());
        }
        if s.name.value == GATEWAY_SUBNET {
            d.error(
                n.loc,
                "an NSG on GatewaySubnet is not supported by Azure (the gateway stops working)",
            );
        }
    }

    fn check_subnet_route_table(&self, s: &Subnet, r: &Sp<String>, d: &mut Diagnostics) {
        let t = self.t;
        match self.names.route_tables.get(r.value.as_str()) {
            None => unknown(
                d,
                r,
                "route table",
                list(t.route_tables.iter().map(|x| x.name.value.as_str())),
            ),
            Some(&ri) => {
                if s.name.value == GATEWAY_SUBNET
                    && t.route_tables[ri].disable_bgp_route_propagation
                {
                    d.error(
                        r.loc,
                        format!(
                            "route table '{}' disables BGP route propagation and cannot be used on GatewaySubnet",
                            Echo(&r.value)
                        ),
                    );
                }
            }
        }
    }

    /// Resolves a `VNET/SUBNET` reference, reporting a malformed or unknown one.
    pub(crate) fn subnet_ref(&self, d: &mut Diagnostics, r: &Sp<String>) -> Option<(usize, usize)> {
        if !r.value.contains('/') {
            d.error(
                r.loc,
                format!(
                    "expected a subnet reference VNET/SUBNET, found '{}'",
                    Echo(&r.value)
                ),
            );
            return None;
        }
        let found = self.subnets.get(&r.value).copied();
        if found.is_none() {
            unknown(d, r, "subnet", self.defined_subnets());
        }
        found
    }

    /// A subnet named `name` in vnet `vnet` (for GatewaySubnet and AzureFirewallSubnet).
    fn special_subnet(&self, vnet: &str, name: &str) -> Option<(usize, usize)> {
        self.subnets.get(&format!("{vnet}/{name}")).copied()
    }

    // ---- Step 3: peerings.

    fn check_peerings(&self, d: &mut Diagnostics) {
        let mut seen = PeeringsSeen::default();
        for p in &self.t.peerings {
            self.check_peering(p, &mut seen, d);
        }
    }

    fn check_peering(&self, p: &'a Peering, seen: &mut PeeringsSeen<'a>, d: &mut Diagnostics) {
        let f = self.names.vnets.get(p.from.value.as_str()).copied();
        let to = self.names.vnets.get(p.to.value.as_str()).copied();
        for (r, x) in [(&p.from, f), (&p.to, to)] {
            if x.is_none() {
                unknown(d, r, "vnet", self.defined_vnets());
            }
        }
        if p.from.value == p.to.value {
            d.error(p.to.loc, "a vnet cannot be peered with itself");
            return;
        }
        if let Some(l) = seen.pairs.insert((&p.from.value, &p.to.value), p.loc) {
            d.error(
                p.loc,
                format!(
                    "duplicate peering {} -> {} (first at line {})",
                    Echo(&p.from.value),
                    Echo(&p.to.value),
                    l.line
                ),
            );
        }
        if let (Some(a), Some(b)) = (f, to) {
            self.check_peered_spaces(p, (a, b), seen, d);
        }
        if p.use_remote_gateways {
            self.check_remote_gateways(p, seen, d);
        }
    }

    /// Peered vnets may not overlap: one error per peering, with the first
    /// overlapping pair and how many more there are.
    fn check_peered_spaces(
        &self,
        p: &Peering,
        (a, b): (usize, usize),
        seen: &mut PeeringsSeen<'a>,
        d: &mut Diagnostics,
    ) {
        let (lo, hi) = (a.min(b), a.max(b));
        let found = *seen
            .space_overlaps
            .entry((lo, hi))
            .or_insert_with(|| space_overlap(self.t, &self.spaces, lo, hi));
        let Some(o) = found else { return };
        let (x, y) = if a < b {
            (o.first, o.second)
        } else {
            (o.second, o.first)
        };
        let more = match o.count {
            1 => String::new(),
            n => format!("; {} more overlapping address spaces", n - 1),
        };
        d.error(
            p.loc,
            format!(
                "peered vnets '{}' and '{}' have overlapping address spaces ({} and {}){more}",
                Echo(&p.from.value),
                Echo(&p.to.value),
                self.t.vnets[a].address_space[x].value,
                self.t.vnets[b].address_space[y].value
            ),
        );
    }

    /// A vnet uses remote gateways through one peering, and only without its own.
    fn check_remote_gateways(
        &self,
        p: &'a Peering,
        seen: &mut PeeringsSeen<'a>,
        d: &mut Diagnostics,
    ) {
        if let Some(l) = seen.remote_gateway_users.insert(&p.from.value, p.loc) {
            d.error(
                p.loc,
                format!(
                    "vnet '{}' already uses remote gateways through the peering at line {}",
                    Echo(&p.from.value),
                    l.line
                ),
            );
        }
        if self.gateway_vnets.contains(p.from.value.as_str()) {
            d.error(
                p.loc,
                format!(
                    "vnet '{}' has its own gateway and cannot use remote gateways",
                    Echo(&p.from.value)
                ),
            );
        }
    }

    /// Step 4: every peering has one back (a warning otherwise), and gateway
    /// transit is set up on both sides where a spoke uses remote gateways.
    fn check_peerings_back(&self, d: &mut Diagnostics) {
        let t = self.t;
        let mut first: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, p) in t.peerings.iter().enumerate() {
            first.entry((&p.from.value, &p.to.value)).or_insert(i);
        }
        for p in &t.peerings {
            if p.from.value == p.to.value {
                continue;
            }
            // With a peering back there is nothing more to check: useRemoteGateways toward a
            // peer without a gateway or gateway transit is refused by control_plane, as Azure
            // refuses it.
            if !first.contains_key(&(p.to.value.as_str(), p.from.value.as_str())) {
                d.warning(
                    p.loc,
                    format!(
                        "peering {} -> {} has no peering back from {} to {}: Azure shows it as Initiated and it carries no traffic",
                        Echo(&p.from.value),
                        Echo(&p.to.value),
                        Echo(&p.to.value),
                        Echo(&p.from.value)
                    ),
                );
            }
        }
    }

    // ---- Step 5: route tables.

    fn check_route_tables(&self, d: &mut Diagnostics) {
        for rt in &self.t.route_tables {
            unique(
                d,
                &format!("route (in route table '{}')", Echo(&rt.name.value)),
                rt.routes.iter().map(|r| &r.name),
            );
            let mut prefixes: HashMap<&RoutePrefix, Loc> = HashMap::new();
            for r in &rt.routes {
                if let Some(l) = prefixes.insert(&r.address_prefix.value, r.address_prefix.loc) {
                    d.error(
                        r.address_prefix.loc,
                        format!(
                            "route table '{}' has two routes for the same prefix (first at line {})",
                            Echo(&rt.name.value),
                            l.line
                        ),
                    );
                }
                check_route(r, self.t.service_tags.as_ref(), d);
            }
        }
    }

    // ---- Step 6: NSGs.

    fn check_nsgs(&self, d: &mut Diagnostics) {
        for n in &self.t.nsgs {
            unique(
                d,
                &format!("security rule (in NSG '{}')", Echo(&n.name.value)),
                n.rules.iter().chain(&n.unresolved_rules).map(|r| &r.name),
            );
            let mut priorities: HashMap<(Direction, u32), Loc> = HashMap::new();
            for r in n.rules.iter().chain(&n.unresolved_rules) {
                check_rule_priority(n, r, &mut priorities, d);
                self.check_rule_addresses(r, d);
            }
        }
    }

    /// ASGs named by a rule exist; a rule has a source and a destination.
    fn check_rule_addresses(&self, r: &SecurityRule, d: &mut Diagnostics) {
        for a in r.source.iter().chain(r.destination.iter()) {
            if let AddressSpec::Asg(name) = &a.value {
                if !self.names.asgs.contains_key(name.as_str()) {
                    d.error(
                        a.loc,
                        format!(
                            "unknown application security group '{}' ({})",
                            Echo(name),
                            self.defined_asgs()
                        ),
                    );
                }
            }
        }
        let stated = |field: &str, v: &[Sp<AddressSpec>]| {
            !v.is_empty() || r.unresolved.iter().any(|u| u.field == field)
        };
        if !stated("source", &r.source) || !stated("destination", &r.destination) {
            d.error(
                r.name.loc,
                format!(
                    "security rule '{}' needs a source and a destination",
                    Echo(&r.name.value)
                ),
            );
        }
    }

    // ---- Service endpoints and what PaaS services admit.

    /// Each service endpoint names a service that has endpoints; its routes need tag data.
    fn check_service_endpoints(&self, d: &mut Diagnostics) {
        for v in &self.t.vnets {
            for s in &v.subnets {
                for e in &s.service_endpoints {
                    self.check_service_endpoint(s, e, d);
                }
            }
        }
    }

    fn check_service_endpoint(&self, s: &Subnet, e: &ServiceEndpoint, d: &mut Diagnostics) {
        use crate::service_tags::{endpoint_services, endpoint_tag};
        let Some(base) = endpoint_tag(&e.service.value) else {
            d.error(
                e.service.loc,
                format!(
                    "subnet '{}': unknown service endpoint service '{}' (expected one of: {})",
                    Echo(&s.name.value),
                    Echo(&e.service.value),
                    endpoint_services()
                ),
            );
            return;
        };
        if [GATEWAY_SUBNET, FIREWALL_SUBNET].contains(&s.name.value.as_str()) {
            return;
        }
        let Some(tags) = &self.t.service_tags else {
            d.warning(
                e.service.loc,
                format!(
                    "subnet '{}': the service endpoint for {} adds no routes, because the topology \
                     names no serviceTags file to take the service's prefixes from",
                    Echo(&s.name.value),
                    Echo(&e.service.value)
                ),
            );
            return;
        };
        let locations: Vec<String> = e.locations.iter().map(|l| l.value.clone()).collect();
        let (_, missing) = tags.endpoint_prefixes(base, &locations);
        for m in missing {
            let loc = e
                .locations
                .iter()
                .find(|l| l.value == m)
                .map(|l| l.loc)
                .unwrap_or(e.service.loc);
            d.warning(
                loc,
                format!(
                    "service endpoint {} in '{}': the serviceTags file has no tag for that region, \
                     so it adds no routes there",
                    Echo(&e.service.value),
                    Echo(&m)
                ),
            );
        }
    }

    /// A service's virtual network rules name subnets that exist and have a service endpoint;
    /// its IP rules name public prefixes (Azure refuses private ones).
    fn check_network_acls(&self, d: &mut Diagnostics) {
        for svc in &self.t.services {
            let acls = &svc.network_acls;
            for r in &acls.virtual_network_rules {
                let Some((vi, si)) = self.subnet_ref(d, r) else {
                    continue;
                };
                if self.t.vnets[vi].subnets[si].service_endpoints.is_empty() {
                    d.warning(
                        r.loc,
                        format!(
                            "service '{}' admits subnet '{}', which has no service endpoint: its \
                             traffic reaches the service from its public egress address, which this \
                             rule does not admit",
                            Echo(&svc.name.value),
                            Echo(&r.value)
                        ),
                    );
                }
            }
            for p in &acls.ip_rules {
                let a = p.value.addr();
                if a.is_private() || a.is_loopback() || a.is_link_local() {
                    d.error(
                        p.loc,
                        format!(
                            "service '{}': ipRules take public addresses only, found {}",
                            Echo(&svc.name.value),
                            p.value
                        ),
                    );
                }
            }
        }
    }

    // ---- Steps 7-10: what owns an address: NICs, gateways, firewalls, endpoints.

    /// Records that `who` owns `ip` in vnet `vnet`; an address has one owner per vnet.
    pub(crate) fn claim(
        &mut self,
        d: &mut Diagnostics,
        vnet: usize,
        ip: &Sp<Ipv4Addr>,
        who: String,
    ) {
        if let Some(prev) = self.owners.get(&(vnet, ip.value)) {
            d.error(
                ip.loc,
                format!("address {} of {who} is already used by {prev}", ip.value),
            );
        } else {
            self.owners.insert((vnet, ip.value), who);
        }
    }

    /// `ip` is inside subnet `(vi, si)` and not one Azure reserves there.
    pub(crate) fn check_ip(
        &self,
        d: &mut Diagnostics,
        (vi, si): (usize, usize),
        ip: &Sp<Ipv4Addr>,
        who: &str,
    ) {
        let v = &self.t.vnets[vi];
        let s = &v.subnets[si];
        let p = s.address_prefix.value;
        if !p.contains(&ip.value) {
            d.error(
                ip.loc,
                format!(
                    "{who} address {} is outside its subnet {}/{} ({p})",
                    ip.value,
                    Echo(&v.name.value),
                    Echo(&s.name.value)
                ),
            );
        } else if is_reserved(&p, ip.value) {
            d.error(
                ip.loc,
                format!(
                    "{who} address {} is reserved by Azure in subnet {p} (the first four and the last address; the first usable is {})",
                    ip.value,
                    first_usable(&p)
                ),
            );
        }
    }

    /// The subnet a NIC or private endpoint sits in, which may not be a special one.
    fn placement(
        &self,
        d: &mut Diagnostics,
        subnet: &Sp<String>,
        what: &str,
    ) -> Option<(usize, usize)> {
        let (vi, si) = self.subnet_ref(d, subnet)?;
        let sname = &self.t.vnets[vi].subnets[si].name.value;
        if sname == GATEWAY_SUBNET || sname == FIREWALL_SUBNET {
            d.error(subnet.loc, format!("{what} cannot be placed in {sname}"));
        }
        Some((vi, si))
    }

    fn check_nics(&mut self, d: &mut Diagnostics) {
        for nic in &self.t.nics {
            self.check_nic(nic, d);
        }
    }

    fn check_nic(&mut self, nic: &'a Nic, d: &mut Diagnostics) {
        let who = format!("NIC '{}'", Echo(&nic.name.value));
        let Some((vi, si)) = self.placement(d, &nic.subnet, &who) else {
            return;
        };
        self.check_ip(d, (vi, si), &nic.private_ip_address, &who);
        self.claim(d, vi, &nic.private_ip_address, who);
        if let Some(n) = &nic.nsg {
            if !self.names.nsgs.contains_key(n.value.as_str()) {
                unknown(d, n, "NSG", self.defined_nsgs());
            }
        }
        for a in &nic.application_security_groups {
            self.check_nic_asg(vi, a, d);
        }
    }

    /// An ASG exists, and all its members are in one vnet.
    fn check_nic_asg(&mut self, vi: usize, a: &'a Sp<String>, d: &mut Diagnostics) {
        if !self.names.asgs.contains_key(a.value.as_str()) {
            unknown(d, a, "application security group", self.defined_asgs());
        } else if let Some(&(v0, l0)) = self.asg_vnet.get(a.value.as_str()) {
            if v0 != vi {
                d.error(
                    a.loc,
                    format!(
                        "application security group '{}' already has members in vnet '{}' (line {}); all members must be in one vnet",
                        Echo(&a.value),
                        Echo(&self.t.vnets[v0].name.value),
                        l0.line
                    ),
                );
            }
        } else {
            self.asg_vnet.insert(&a.value, (vi, a.loc));
        }
    }

    fn check_gateways(&self, d: &mut Diagnostics) {
        let mut per_vnet: HashMap<(&str, GatewayType), Loc> = HashMap::new();
        for g in &self.t.gateways {
            self.check_gateway(g, d);
            if let Some(l) = per_vnet.insert((&g.vnet.value, g.gateway_type), g.name.loc) {
                d.error(
                    g.name.loc,
                    format!(
                        "vnet '{}' already has a {:?} gateway (line {})",
                        Echo(&g.vnet.value),
                        g.gateway_type,
                        l.line
                    ),
                );
            }
            for c in &g.connections {
                if !self.names.sites.contains_key(c.value.as_str()) {
                    let sites = list(self.t.sites.iter().map(|s| s.name.value.as_str()));
                    unknown(d, c, "site", sites);
                }
            }
        }
    }

    /// A gateway's vnet exists and has a GatewaySubnet.
    fn check_gateway(&self, g: &Gateway, d: &mut Diagnostics) {
        if !self.names.vnets.contains_key(g.vnet.value.as_str()) {
            unknown(d, &g.vnet, "vnet", self.defined_vnets());
        } else if self.special_subnet(&g.vnet.value, GATEWAY_SUBNET).is_none() {
            d.error(
                g.vnet.loc,
                format!(
                    "gateway '{}' needs a subnet named GatewaySubnet in vnet '{}'",
                    Echo(&g.name.value),
                    Echo(&g.vnet.value)
                ),
            );
        }
    }

    fn check_firewalls(&mut self, d: &mut Diagnostics) {
        for f in &self.t.firewalls {
            self.check_firewall(f, d);
        }
    }

    fn check_firewall(&mut self, f: &Firewall, d: &mut Diagnostics) {
        let Some(&vi) = self.names.vnets.get(f.vnet.value.as_str()) else {
            unknown(d, &f.vnet, "vnet", self.defined_vnets());
            return;
        };
        let Some(fs) = self.special_subnet(&f.vnet.value, FIREWALL_SUBNET) else {
            d.error(
                f.vnet.loc,
                format!(
                    "firewall '{}' needs a subnet named AzureFirewallSubnet in vnet '{}'",
                    Echo(&f.name.value),
                    Echo(&f.vnet.value)
                ),
            );
            return;
        };
        let who = format!("firewall '{}'", Echo(&f.name.value));
        self.check_firewall_addresses(f, (vi, fs), &who, d);
        check_dnat_destinations(f, &who, d);
        check_collection_priorities(f, d);
    }

    /// The private and SNAT addresses are usable in AzureFirewallSubnet and
    /// owned by the firewall; it has a public address.
    fn check_firewall_addresses(
        &mut self,
        f: &Firewall,
        (vi, fs): (usize, (usize, usize)),
        who: &str,
        d: &mut Diagnostics,
    ) {
        self.check_ip(d, fs, &f.private_ip_address, who);
        self.claim(d, vi, &f.private_ip_address, who.to_string());
        for s in &f.snat_ip_addresses {
            self.check_ip(d, fs, s, &format!("{who} SNAT"));
            if s.value != f.private_ip_address.value {
                self.claim(d, vi, s, format!("{who} (SNAT address)"));
            }
        }
        if f.public_ip_addresses.is_empty() {
            d.warning(
                f.name.loc,
                format!("{who} has no publicIpAddresses: Azure requires one; SNAT toward the Internet is impossible"),
            );
        }
    }

    /// A `notModelled` entry's `vnet` exists; its walks out of the VNet are not all known. Its
    /// `gateway` is a VPN gateway; the walks across it that its NAT rule could rewrite are not.
    fn check_not_modelled(&self, d: &mut Diagnostics) {
        for x in &self.t.not_modelled {
            if let Some(g) = &x.gateway {
                self.check_not_modelled_gateway(d, g, x);
            }
            let Some(v) = &x.vnet else { continue };
            if !self.names.vnets.contains_key(v.value.as_str()) {
                unknown(d, v, "vnet", self.defined_vnets());
                continue;
            }
            d.warning(
                v.loc,
                format!(
                    "vnet '{}' gets routes from {} that vnetsim does not model: a walk from it \
                     toward an address outside its own and its peers' address spaces ends \
                     naming that resource",
                    Echo(&v.value),
                    Echo(&x.id)
                ),
            );
        }
    }

    fn check_not_modelled_gateway(&self, d: &mut Diagnostics, g: &Sp<String>, x: &NotModelled) {
        let Some(gw) = self.t.gateways.iter().find(|y| y.name.value == g.value) else {
            let gateways = list(self.t.gateways.iter().map(|y| y.name.value.as_str()));
            unknown(d, g, "gateway", gateways);
            return;
        };
        if gw.gateway_type != GatewayType::Vpn {
            d.error(
                g.loc,
                format!(
                    "gateway '{}' is an ExpressRoute gateway: NAT rules belong to VPN gateways",
                    Echo(&g.value)
                ),
            );
            return;
        }
        let which = if x.prefixes.is_empty() {
            "every walk across it".to_string()
        } else {
            let p: Vec<String> = x.prefixes.iter().map(|p| p.value.to_string()).collect();
            format!(
                "a walk across it with its source or destination in {}",
                p.join(", ")
            )
        };
        d.warning(
            g.loc,
            format!(
                "gateway '{}' rewrites addresses with {} that vnetsim does not model: {which} \
                 ends naming that resource",
                Echo(&g.value),
                Echo(&x.id)
            ),
        );
    }

    fn check_private_endpoints(&mut self, d: &mut Diagnostics) {
        for pe in &self.t.private_endpoints {
            self.check_private_endpoint(pe, d);
        }
    }

    fn check_private_endpoint(&mut self, pe: &PrivateEndpoint, d: &mut Diagnostics) {
        if !self.names.services.contains_key(pe.service.value.as_str()) {
            let services = list(self.t.services.iter().map(|s| s.name.value.as_str()));
            unknown(d, &pe.service, "service", services);
        }
        let what = format!("private endpoint '{}'", Echo(&pe.name.value));
        let Some((vi, si)) = self.placement(d, &pe.subnet, &what) else {
            return;
        };
        self.check_ip(d, (vi, si), &pe.private_ip_address, &what);
        self.claim(d, vi, &pe.private_ip_address, what);
    }
}

/// What the peering step remembers from one peering to the next.
#[derive(Default)]
struct PeeringsSeen<'a> {
    pairs: HashMap<(&'a str, &'a str), Loc>,
    remote_gateway_users: HashMap<&'a str, Loc>,
    /// Address-space overlap per pair of vnets (lower index first).
    space_overlaps: HashMap<(usize, usize), Option<SpaceOverlap>>,
}

/// Address spaces of one vnet may not overlap: one error per prefix that
/// overlaps one declared before it.
fn check_address_space_overlaps(v: &Vnet, d: &mut Diagnostics) {
    let space: Vec<Ipv4Net> = v.address_space.iter().map(|a| a.value).collect();
    for (i, j) in overlapping_pairs(&space) {
        let (a, b) = (&v.address_space[i], &v.address_space[j]);
        d.error(
            a.loc,
            format!(
                "address space {} of vnet '{}' overlaps {}",
                a.value,
                Echo(&v.name.value),
                b.value
            ),
        );
    }
}

/// A route's next hop address goes with VirtualAppliance only; a service
/// tag as prefix is not installed.
fn check_route(r: &Route, tags: Option<&crate::service_tags::ServiceTags>, d: &mut Diagnostics) {
    match (r.next_hop_type.value, &r.next_hop_ip_address) {
        (NextHopType::VirtualAppliance, None) => d.error(
            r.next_hop_type.loc,
            format!(
                "route '{}' has nextHopType VirtualAppliance but no nextHopIpAddress",
                Echo(&r.name.value)
            ),
        ),
        (NextHopType::VirtualAppliance, Some(_)) => {}
        (other, Some(ip)) => d.error(
            ip.loc,
            format!(
                "route '{}' has a nextHopIpAddress, which only nextHopType VirtualAppliance takes (found {:?})",
                Echo(&r.name.value),
                other
            ),
        ),
        _ => {}
    }
    if let RoutePrefix::ServiceTag(tag) = &r.address_prefix.value {
        match tags {
            None => d.warning(
                r.address_prefix.loc,
                format!(
                    "route '{}' uses service tag '{}' as its prefix; no tag data is bundled and the topology names no serviceTags file, so this route is not installed",
                    Echo(&r.name.value),
                    Echo(tag)
                ),
            ),
            Some(tags) => {
                if tags.get(tag).is_none() {
                    d.error(r.address_prefix.loc, unknown_tag(tag, tags));
                }
            }
        }
    }
}

/// A security rule's priority is in 100..4096 and unique per direction in its NSG.
fn check_rule_priority(
    n: &Nsg,
    r: &SecurityRule,
    seen: &mut HashMap<(Direction, u32), Loc>,
    d: &mut Diagnostics,
) {
    let p = r.priority.value;
    if !(100..=4096).contains(&p) {
        d.error(
            r.priority.loc,
            format!(
                "security rule '{}' priority {p} is outside 100..4096",
                Echo(&r.name.value)
            ),
        );
    } else if let Some(l) = seen.insert((r.direction, p), r.priority.loc) {
        d.error(
            r.priority.loc,
            format!(
                "security rule '{}' reuses priority {p} for {:?} rules in NSG '{}' (first at line {})",
                Echo(&r.name.value),
                r.direction,
                Echo(&n.name.value),
                l.line
            ),
        );
    }
}

/// DNAT rules translate traffic to one of the firewall's public addresses.
fn check_dnat_destinations(f: &Firewall, who: &str, d: &mut Diagnostics) {
    let public: HashSet<Ipv4Addr> = f.public_ip_addresses.iter().map(|p| p.value).collect();
    for r in f
        .dnat_rules
        .iter()
        .chain(f.unresolved_dnat_rules.iter().map(|x| &x.1))
    {
        for dst in &r.destination {
            if !public.contains(&dst.value) {
                d.error(
                    dst.loc,
                    format!(
                        "DNAT rule '{}' destination {} is not a public IP of {who}",
                        Echo(&r.name.value),
                        dst.value
                    ),
                );
            }
        }
    }
}

/// Rule collection priorities are at least 100 (decoding caps them at 65000).
fn check_collection_priorities(f: &Firewall, d: &mut Diagnostics) {
    let network = f
        .network_rule_collections
        .iter()
        .map(|c| (&c.name, &c.priority));
    let application = f
        .application_rule_collections
        .iter()
        .map(|c| (&c.name, &c.priority));
    for (name, priority) in network.chain(application) {
        if priority.value < 100 {
            d.error(
                priority.loc,
                format!(
                    "rule collection '{}' priority {} is outside 100..65000",
                    Echo(&name.value),
                    priority.value
                ),
            );
        }
    }
}
