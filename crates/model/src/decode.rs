//! From the located tree to typed structures. Strict: unknown keys, wrong
//! types and bad enum values are reported with their location and the
//! expected form; decoding goes on so that every problem is reported at once.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::diag::Diagnostics;
use crate::node::{Entry, Loc, Node, NodeKind};
use crate::types::*;

/// Features named by Azure that topology format v1 does not model: input that
/// names them is rejected with this explanation, never silently ignored.
const NOT_IN_V1: &[(&str, &str)] = &[
    ("virtualHubs", "Virtual WAN hubs"),
    ("virtualWans", "Virtual WAN"),
    ("routeServers", "Route Server"),
    ("ipv6AddressSpace", "IPv6 address spaces"),
    ("addressPrefixes", "multiple subnet prefixes"),
];

pub(crate) struct Obj<'a> {
    entries: &'a [Entry<'a>],
    loc: Loc,
}

impl<'a> Obj<'a> {
    pub(crate) fn get(&self, key: &str) -> Option<&'a Node<'a>> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, n)| n)
            .filter(|n| !n.is_null())
    }
}

pub(crate) fn obj<'a>(
    d: &mut Diagnostics,
    node: &'a Node<'a>,
    what: &str,
    allowed: &[&str],
) -> Option<Obj<'a>> {
    let NodeKind::Map(entries) = &node.kind else {
        d.error(
            node.loc,
            format!("expected {what} (a mapping), found {}", node.describe()),
        );
        return None;
    };
    for (k, kloc, _) in entries {
        if allowed.contains(&&**k) {
            continue;
        }
        if let Some((_, feature)) = NOT_IN_V1.iter().find(|(n, _)| n == k) {
            d.error(
                *kloc,
                format!("'{k}': {feature} are not in topology format version 1"),
            );
        } else {
            let near = allowed.iter().find(|a| a.eq_ignore_ascii_case(k));
            let hint = match near {
                Some(a) => format!(" (did you mean '{a}'?)"),
                None => String::new(),
            };
            d.error(
                *kloc,
                format!(
                    "unknown key '{k}' in {what}{hint}; expected one of: {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    Some(Obj {
        entries,
        loc: node.loc,
    })
}

pub(crate) fn require<'a>(
    d: &mut Diagnostics,
    o: &Obj<'a>,
    key: &str,
    what: &str,
) -> Option<&'a Node<'a>> {
    let n = o.get(key);
    if n.is_none() {
        d.error(o.loc, format!("{what} is missing the required key '{key}'"));
    }
    n
}

pub(crate) fn scalar<'a>(
    d: &mut Diagnostics,
    node: &'a Node<'a>,
    expected: &str,
) -> Option<&'a str> {
    match &node.kind {
        NodeKind::Scalar { text, .. } => Some(&**text),
        _ => {
            d.error(
                node.loc,
                format!("expected {expected}, found {}", node.describe()),
            );
            None
        }
    }
}

pub(crate) fn string(d: &mut Diagnostics, node: &Node, expected: &str) -> Option<Sp<String>> {
    let s = scalar(d, node, expected)?;
    if s.is_empty() {
        d.error(
            node.loc,
            format!("expected {expected}, found an empty string"),
        );
        return None;
    }
    Some(Sp::new(s.to_string(), node.loc))
}

pub(crate) fn boolean(d: &mut Diagnostics, node: Option<&Node>, default: bool) -> bool {
    let Some(node) = node else { return default };
    match &node.kind {
        NodeKind::Scalar {
            text,
            quoted: false,
        } => match &**text {
            "true" | "True" | "TRUE" => true,
            "false" | "False" | "FALSE" => false,
            _ => {
                d.error(node.loc, format!("expected true or false, found '{text}'"));
                default
            }
        },
        _ => {
            d.error(
                node.loc,
                format!("expected true or false, found {}", node.describe()),
            );
            default
        }
    }
}

pub(crate) fn uint(d: &mut Diagnostics, node: &Node, expected: &str, max: u64) -> Option<Sp<u32>> {
    let s = scalar(d, node, expected)?;
    match s.trim().parse::<u64>() {
        Ok(v) if v <= max => Some(Sp::new(v as u32, node.loc)),
        _ => {
            d.error(node.loc, format!("expected {expected}, found '{s}'"));
            None
        }
    }
}

pub(crate) fn enumerated<T: Copy>(
    d: &mut Diagnostics,
    node: &Node,
    what: &str,
    table: &[(&str, T)],
) -> Option<T> {
    let s = scalar(d, node, what)?;
    if let Some((_, v)) = table.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Some(*v);
    }
    let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
    d.error(
        node.loc,
        format!(
            "invalid {what} '{s}'; expected one of: {}",
            names.join(", ")
        ),
    );
    None
}

pub(crate) fn ipv4(d: &mut Diagnostics, node: &Node, what: &str) -> Option<Sp<Ipv4Addr>> {
    let s = scalar(d, node, what)?;
    match s.trim().parse::<Ipv4Addr>() {
        Ok(a) => Some(Sp::new(a, node.loc)),
        Err(_) => {
            d.error(
                node.loc,
                format!("expected {what} (an IPv4 address like 10.1.0.4), found '{s}'"),
            );
            None
        }
    }
}

/// Parses `a.b.c.d/len` (or, when `allow_ip`, a bare address as /32), rejecting host bits.
pub(crate) fn parse_prefix(s: &str, allow_ip: bool) -> Result<Ipv4Net, String> {
    let s = s.trim();
    if !s.contains('/') {
        if allow_ip {
            if let Ok(a) = s.parse::<Ipv4Addr>() {
                return Ok(Ipv4Net::new(a, 32).expect("/32 is valid"));
            }
        }
        return Err(format!(
            "expected a CIDR prefix like 10.1.0.0/16, found '{s}'"
        ));
    }
    let net: Ipv4Net = s
        .parse()
        .map_err(|_| format!("expected a CIDR prefix like 10.1.0.0/16, found '{s}'"))?;
    if net.trunc() != net {
        return Err(format!(
            "'{s}' has host bits set (did you mean {}?)",
            net.trunc()
        ));
    }
    Ok(net)
}

pub(crate) fn prefix(d: &mut Diagnostics, node: &Node, allow_ip: bool) -> Option<Sp<Ipv4Net>> {
    let s = scalar(d, node, "a CIDR prefix")?;
    match parse_prefix(s, allow_ip) {
        Ok(p) => Some(Sp::new(p, node.loc)),
        Err(m) => {
            d.error(node.loc, m);
            None
        }
    }
}

/// A list, or (where the format allows "one value or a list") a single value.
pub(crate) fn items<'a>(
    d: &mut Diagnostics,
    node: Option<&'a Node<'a>>,
    what: &str,
    single_ok: bool,
) -> Vec<&'a Node<'a>> {
    let Some(node) = node else { return Vec::new() };
    match &node.kind {
        NodeKind::Seq(v) => v.iter().collect(),
        NodeKind::Scalar { .. } if single_ok => vec![node],
        _ => {
            d.error(
                node.loc,
                format!("expected {what} (a list), found {}", node.describe()),
            );
            Vec::new()
        }
    }
}

/// A rule's `unresolved:` mapping: each key one of `fields` (a field of the rule vnetsim cannot
/// resolve, left out of it), each value why. Empty when the rule has none.
pub(crate) fn unresolved(
    d: &mut Diagnostics,
    o: &Obj,
    what: &str,
    fields: &[&str],
) -> Vec<Unresolved> {
    let Some(n) = o.get("unresolved") else {
        return Vec::new();
    };
    let NodeKind::Map(entries) = &n.kind else {
        d.error(
            n.loc,
            format!(
                "expected the unresolved fields of {what} (a mapping FIELD: WHY), found {}",
                n.describe()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, kloc, v) in entries {
        if !fields.contains(&&**k) {
            d.error(
                *kloc,
                format!(
                    "'{k}' cannot be unresolved in {what}; expected one of: {}",
                    fields.join(", ")
                ),
            );
        } else if o.get(k).is_some() {
            d.error(
                *kloc,
                format!("'{k}' of {what} is unresolved: leave the field itself out of the rule"),
            );
        } else if let Some(reason) = string(d, v, "why the field is unresolved (a string)") {
            out.push(Unresolved {
                field: k.to_string(),
                reason,
            });
        }
    }
    if entries.is_empty() {
        d.error(n.loc, format!("the unresolved fields of {what} are empty"));
    }
    out
}

/// `key` of a rule, required unless it is one of the rule's unresolved fields.
pub(crate) fn required<'a>(
    d: &mut Diagnostics,
    o: &Obj<'a>,
    key: &str,
    what: &str,
    u: &[Unresolved],
) -> Option<&'a Node<'a>> {
    if u.iter().any(|x| x.field == key) {
        return None;
    }
    require(d, o, key, what)
}

pub(crate) fn port_ranges(d: &mut Diagnostics, node: Option<&Node>) -> Vec<PortRange> {
    ports(d, node)
}

fn ports(d: &mut Diagnostics, node: Option<&Node>) -> Vec<PortRange> {
    let Some(node) = node else {
        return vec![PortRange::ANY];
    };
    let mut out = Vec::new();
    for n in items(d, Some(node), "port ranges", true) {
        let Some(s) = scalar(d, n, "a port, 'LOW-HIGH' or '*'") else {
            continue;
        };
        let s = s.trim();
        if s == "*" {
            out.push(PortRange::ANY);
            continue;
        }
        let parsed = match s.split_once('-') {
            Some((a, b)) => a
                .trim()
                .parse::<u16>()
                .ok()
                .zip(b.trim().parse::<u16>().ok()),
            None => s.parse::<u16>().ok().map(|p| (p, p)),
        };
        match parsed {
            Some((lo, hi)) if lo <= hi => out.push(PortRange { lo, hi }),
            _ => d.error(
                n.loc,
                format!("expected a port (0-65535), 'LOW-HIGH' or '*', found '{s}'"),
            ),
        }
    }
    if out.is_empty() {
        d.error(node.loc, "expected at least one port range");
    }
    out
}

pub(crate) fn nsg_address(d: &mut Diagnostics, node: &Node) -> Option<Sp<AddressSpec>> {
    let s = scalar(
        d,
        node,
        "an address ('*', a prefix, an IP, a service tag or asg:NAME)",
    )?
    .trim();
    let spec = if s == "*" || s == "0.0.0.0/0" {
        AddressSpec::Any
    } else if let Some(name) = s.strip_prefix("asg:") {
        AddressSpec::Asg(name.to_string())
    } else if s.starts_with(|c: char| c.is_ascii_digit()) {
        match parse_prefix(s, true) {
            Ok(p) => AddressSpec::Prefix(p),
            Err(m) => {
                d.error(node.loc, m);
                return None;
            }
        }
    } else if let Some(tag) = ServiceTag::parse(s) {
        AddressSpec::Tag(tag)
    } else if is_tag_name(s) {
        // Checked against the serviceTags file by validation.
        AddressSpec::NamedTag(s.to_string())
    } else {
        d.error(
            node.loc,
            format!(
                "unknown address '{s}': expected '*', a prefix, an IP, asg:NAME or a service tag \
                 (VirtualNetwork, AzureLoadBalancer, Internet, or one of the serviceTags file)"
            ),
        );
        return None;
    };
    Some(Sp::new(spec, node.loc))
}

/// A service tag's spelling: letters first, then letters, digits, `.`, `_` or `-`.
pub(crate) fn is_tag_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn fw_addresses(d: &mut Diagnostics, node: Option<&Node>, default_any: bool) -> Vec<FwAddress> {
    let Some(node) = node else {
        return if default_any {
            vec![FwAddress::Any]
        } else {
            Vec::new()
        };
    };
    let mut out = Vec::new();
    for n in items(d, Some(node), "addresses", true) {
        let Some(s) = scalar(d, n, "'*', a prefix or an IP") else {
            continue;
        };
        if s.trim() == "*" {
            out.push(FwAddress::Any);
        } else {
            match parse_prefix(s, true) {
                Ok(p) if p.prefix_len() == 0 => out.push(FwAddress::Any),
                Ok(p) => out.push(FwAddress::Prefix(p)),
                Err(m) => d.error(n.loc, m),
            }
        }
    }
    out
}

fn fw_protocols(d: &mut Diagnostics, node: Option<&Node>, o: &Obj, what: &str) -> Vec<FwProtocol> {
    if node.is_none() {
        d.error(
            o.loc,
            format!("{what} is missing the required key 'protocols'"),
        );
    }
    items(d, node, "protocols", true)
        .into_iter()
        .filter_map(|n| enumerated(d, n, "firewall protocol", &FwProtocol::ALL))
        .collect()
}

fn names(d: &mut Diagnostics, node: Option<&Node>, what: &str) -> Vec<Sp<String>> {
    items(d, node, what, true)
        .into_iter()
        .filter_map(|n| string(d, n, what))
        .collect()
}

/// Decodes a whole document. Returns the (possibly partial) topology; errors are in `d`.
/// Decodes one object of a top-level list. An object that had any error is left out of the
/// topology (its name remembered in [`Diagnostics::undecoded`]), so that the semantic checks,
/// which run even when decoding failed, never see a half-read object and never report a
/// reference to it as unknown: every independent problem is reported in one run, without
/// cascades.
fn whole<T>(
    d: &mut Diagnostics,
    n: &Node,
    decode: impl FnOnce(&mut Diagnostics, &Node) -> Option<T>,
) -> Option<T> {
    let before = d.error_count();
    let x = decode(d, n);
    if x.is_some() && d.error_count() == before {
        return x;
    }
    if let NodeKind::Map(entries) = &n.kind {
        for (k, _, v) in entries {
            if let (true, NodeKind::Scalar { text, .. }) = (k == "name", &v.kind) {
                d.undecoded.insert(text.to_string());
            }
        }
    }
    None
}

/// Items of a list at least this long are decoded on several threads.
const PARALLEL_ITEMS: usize = 64;

/// The items of a list that decode, in order, each decoded as [`whole`] decodes it. A long
/// list is decoded in parts on several threads, each with diagnostics of its own; when every
/// part decodes without a word (no error, no warning), the parts are the answer, and otherwise
/// the list is decoded again on this thread, so that what is reported, and in which order, is
/// what one thread reports.
fn whole_list<T: Send>(
    d: &mut Diagnostics,
    nodes: &[&Node],
    decode: fn(&mut Diagnostics, &Node) -> Option<T>,
) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = threads.min(8).min(nodes.len() / PARALLEL_ITEMS);
    if parts >= 2 {
        if let Some(v) = silent_parts(d, nodes, parts, decode) {
            return v;
        }
    }
    nodes.iter().filter_map(|n| whole(d, n, decode)).collect()
}

/// The list decoded in `parts` parts at once, or `None` when any part said anything.
fn silent_parts<T: Send>(
    d: &Diagnostics,
    nodes: &[&Node],
    parts: usize,
    decode: fn(&mut Diagnostics, &Node) -> Option<T>,
) -> Option<Vec<T>> {
    let chunk = nodes.len().div_ceil(parts);
    let decoded: Vec<Option<Vec<T>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = nodes
            .chunks(chunk)
            .map(|part| {
                let mut pd = d.empty_like();
                scope.spawn(move || {
                    let v: Vec<T> = part
                        .iter()
                        .filter_map(|n| whole(&mut pd, n, decode))
                        .collect();
                    pd.is_silent().then_some(v)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().ok().flatten())
            .collect()
    });
    let mut out = Vec::with_capacity(nodes.len());
    for part in decoded {
        out.extend(part?);
    }
    Some(out)
}

pub fn decode(d: &mut Diagnostics, root: &Node) -> Topology {
    let mut t = Topology::default();
    let Some(o) = obj(
        d,
        root,
        "the topology",
        &[
            "version",
            "name",
            "owner",
            "sites",
            "vnets",
            "peerings",
            "routeTables",
            "applicationSecurityGroups",
            "nsgs",
            "nics",
            "gateways",
            "natGateways",
            "expressRouteCircuits",
            "routeServers",
            "firewalls",
            "services",
            "privateEndpoints",
            "loadBalancers",
            "applicationGateways",
            "notModelled",
            "serviceTags",
            "networkManagers",
        ],
    ) else {
        return t;
    };
    match o.get("version") {
        None => d.error(
            o.loc,
            "the topology is missing the required key 'version' (expected version: 1)",
        ),
        Some(n) => {
            if let Some(v) = uint(d, n, "the format version 1", u32::MAX as u64) {
                if v.value != 1 {
                    d.error(
                        n.loc,
                        format!(
                            "unsupported topology format version {}; expected 1",
                            v.value
                        ),
                    );
                }
                t.version = v.value;
            }
        }
    }
    t.name = o
        .get("name")
        .and_then(|n| scalar(d, n, "a name").map(str::to_string))
        .unwrap_or_default();
    t.owner = o
        .get("owner")
        .and_then(|n| string(d, n, "an owner (a team or boundary name)"))
        .map(|s| s.value);

    for n in items(d, o.get("sites"), "sites", false) {
        if let Some(s) = whole(d, n, site) {
            t.sites.push(s);
        }
    }
    let list = items(d, o.get("vnets"), "vnets", false);
    t.vnets = whole_list(d, &list, vnet);
    let list = items(d, o.get("peerings"), "peerings", false);
    t.peerings = whole_list(d, &list, peering);
    let list = items(d, o.get("routeTables"), "routeTables", false);
    t.route_tables = whole_list(d, &list, route_table);
    t.application_security_groups = names(
        d,
        o.get("applicationSecurityGroups"),
        "an application security group name",
    );
    let list = items(d, o.get("nsgs"), "nsgs", false);
    t.nsgs = whole_list(d, &list, nsg);
    let list = items(d, o.get("nics"), "nics", false);
    t.nics = whole_list(d, &list, nic);
    for n in items(d, o.get("gateways"), "gateways", false) {
        if let Some(x) = whole(d, n, gateway) {
            t.gateways.push(x);
        }
    }
    for n in items(d, o.get("natGateways"), "natGateways", false) {
        if let Some(x) = whole(d, n, nat_gateway) {
            t.nat_gateways.push(x);
        }
    }
    for n in items(
        d,
        o.get("expressRouteCircuits"),
        "expressRouteCircuits",
        false,
    ) {
        if let Some(x) = whole(d, n, circuit) {
            t.express_route_circuits.push(x);
        }
    }
    for n in items(d, o.get("routeServers"), "routeServers", false) {
        if let Some(x) = whole(d, n, crate::route_server::decode) {
            t.route_servers.push(x);
        }
    }
    for n in items(d, o.get("firewalls"), "firewalls", false) {
        if let Some(x) = whole(d, n, firewall) {
            t.firewalls.push(x);
        }
    }
    for n in items(d, o.get("services"), "services", false) {
        if let Some(x) = whole(d, n, service) {
            t.services.push(x);
        }
    }
    let list = items(d, o.get("privateEndpoints"), "privateEndpoints", false);
    t.private_endpoints = whole_list(d, &list, private_endpoint);
    for n in items(d, o.get("loadBalancers"), "loadBalancers", false) {
        if let Some(x) = crate::load_balancer::decode_load_balancer(d, n) {
            t.load_balancers.push(x);
        }
    }
    for n in items(
        d,
        o.get("applicationGateways"),
        "applicationGateways",
        false,
    ) {
        if let Some(x) = crate::load_balancer::decode_application_gateway(d, n) {
            t.application_gateways.push(x);
        }
    }
    for n in items(d, o.get("notModelled"), "notModelled", false) {
        if let Some(x) = whole(d, n, not_modelled) {
            t.not_modelled.push(x);
        }
    }
    t.service_tags_file = o
        .get("serviceTags")
        .and_then(|x| string(d, x, "the path of a service-tag file"));
    for n in items(d, o.get("networkManagers"), "networkManagers", false) {
        if let Some(x) = whole(d, n, |d, n| crate::admin::network_manager(d, n, origin)) {
            t.network_managers.push(x);
        }
    }
    t
}

/// A `notModelled` entry: said again as a warning at every load, so no answer about this
/// fabric forgets it.
fn not_modelled(d: &mut Diagnostics, n: &Node) -> Option<NotModelled> {
    let o = obj(
        d,
        n,
        "a notModelled entry",
        &[
            "type",
            "id",
            "affects",
            "addresses",
            "vnet",
            "gateway",
            "prefixes",
        ],
    )?;
    let vnet = o.get("vnet").and_then(|x| string(d, x, "a VNet name"));
    let gateway = o
        .get("gateway")
        .and_then(|x| string(d, x, "a gateway name"));
    let prefixes: Vec<_> = items(d, o.get("prefixes"), "prefixes", true)
        .into_iter()
        .filter_map(|x| prefix(d, x, false))
        .collect();
    if let (Some(p), None) = (prefixes.first(), &gateway) {
        d.error(
            p.loc,
            "prefixes belong to a notModelled entry with a gateway (the address spaces its NAT rule rewrites)",
        );
    }
    if let (Some(_), Some(g)) = (&vnet, &gateway) {
        d.error(
            g.loc,
            "a notModelled entry names a vnet (hub routes) or a gateway (NAT), not both",
        );
    }
    let mut field = |k: &str| {
        o.get(k)
            .and_then(|x| scalar(d, x, "a string").map(str::to_string))
            .unwrap_or_default()
    };
    let (resource_type, id, affects) = (field("type"), field("id"), field("affects"));
    let addresses = items(d, o.get("addresses"), "addresses", true)
        .into_iter()
        .filter_map(|x| ipv4(d, x, "an IPv4 address"))
        .collect();
    let x = NotModelled {
        resource_type,
        id,
        affects,
        addresses,
        vnet,
        gateway,
        prefixes,
    };
    d.warning(
        n.loc,
        format!(
            "not modelled: {} {} ({}); answers for packets that meet it are not trustworthy",
            x.resource_type, x.id, x.affects
        ),
    );
    Some(x)
}

pub(crate) fn named(d: &mut Diagnostics, o: &Obj, what: &str) -> Option<Sp<String>> {
    require(d, o, "name", what).and_then(|n| string(d, n, "a name"))
}

fn site(d: &mut Diagnostics, n: &Node) -> Option<Site> {
    let o = obj(
        d,
        n,
        "a site",
        &["name", "addressPrefixes", "bgp", "origin"],
    )?;
    let name = named(d, &o, "a site")?;
    let req_node = require(d, &o, "addressPrefixes", "a site");
    let address_prefixes: Vec<_> = items(d, req_node, "addressPrefixes", false)
        .into_iter()
        .filter_map(|p| prefix(d, p, false))
        .collect();
    let bgp = match o.get("bgp") {
        None => None,
        Some(b) => {
            let bo = obj(
                d,
                b,
                "a site's bgp settings",
                &["asn", "advertisedPrefixes"],
            )?;
            let asn = require(d, &bo, "asn", "bgp")
                .and_then(|a| uint(d, a, "an ASN", u32::MAX as u64))?;
            let advertised_prefixes = bo.get("advertisedPrefixes").map(|p| {
                items(d, Some(p), "advertisedPrefixes", false)
                    .into_iter()
                    .filter_map(|p| prefix(d, p, false))
                    .collect()
            });
            Some(SiteBgp {
                asn,
                advertised_prefixes,
            })
        }
    };
    Some(Site {
        name,
        address_prefixes,
        bgp,
        origin: origin(d, &o),
    })
}

fn vnet(d: &mut Diagnostics, n: &Node) -> Option<Vnet> {
    let o = obj(
        d,
        n,
        "a vnet",
        &["name", "addressSpace", "subnets", "origin"],
    )?;
    let name = named(d, &o, "a vnet")?;
    let req_node = require(d, &o, "addressSpace", "a vnet");
    let address_space = items(d, req_node, "addressSpace", true)
        .into_iter()
        .filter_map(|p| prefix(d, p, false))
        .collect();
    let mut subnets = Vec::new();
    for s in items(d, o.get("subnets"), "subnets", false) {
        let Some(so) = obj(
            d,
            s,
            "a subnet",
            &[
                "name",
                "addressPrefix",
                "nsg",
                "routeTable",
                "privateEndpointNetworkPolicies",
                "natGateway",
                "defaultOutboundAccess",
                "serviceEndpoints",
            ],
        ) else {
            continue;
        };
        let Some(sname) = named(d, &so, "a subnet") else {
            continue;
        };
        let Some(address_prefix) =
            require(d, &so, "addressPrefix", "a subnet").and_then(|p| prefix(d, p, false))
        else {
            continue;
        };
        let nsg = so.get("nsg").and_then(|x| string(d, x, "an NSG name"));
        let route_table = so
            .get("routeTable")
            .and_then(|x| string(d, x, "a route table name"));
        let policies = so
            .get("privateEndpointNetworkPolicies")
            .and_then(|x| {
                enumerated(
                    d,
                    x,
                    "privateEndpointNetworkPolicies",
                    &PeNetworkPolicies::ALL,
                )
            })
            .unwrap_or_default();
        subnets.push(Subnet {
            name: sname,
            address_prefix,
            nsg,
            route_table,
            private_endpoint_network_policies: policies,
            nat_gateway: so
                .get("natGateway")
                .and_then(|x| string(d, x, "a NAT gateway name")),
            default_outbound_access: boolean(d, so.get("defaultOutboundAccess"), true),
            service_endpoints: items(d, so.get("serviceEndpoints"), "serviceEndpoints", false)
                .into_iter()
                .filter_map(|x| service_endpoint(d, x))
                .collect(),
        });
    }
    Some(Vnet {
        name,
        address_space,
        subnets,
        origin: origin(d, &o),
    })
}

/// `{service: Microsoft.Storage, locations: [westeurope]}`, or just the service's name.
fn service_endpoint(d: &mut Diagnostics, n: &Node) -> Option<ServiceEndpoint> {
    if matches!(n.kind, NodeKind::Scalar { .. }) {
        return Some(ServiceEndpoint {
            service: string(d, n, "a service name like Microsoft.Storage")?,
            locations: Vec::new(),
        });
    }
    let o = obj(d, n, "a service endpoint", &["service", "locations"])?;
    let service = require(d, &o, "service", "a service endpoint")
        .and_then(|x| string(d, x, "a service name like Microsoft.Storage"))?;
    Some(ServiceEndpoint {
        service,
        locations: names(d, o.get("locations"), "a location"),
    })
}

fn peering(d: &mut Diagnostics, n: &Node) -> Option<Peering> {
    let o = obj(
        d,
        n,
        "a peering",
        &[
            "from",
            "to",
            "allowVirtualNetworkAccess",
            "allowForwardedTraffic",
            "allowGatewayTransit",
            "useRemoteGateways",
            "origin",
        ],
    )?;
    let from = require(d, &o, "from", "a peering").and_then(|x| string(d, x, "a vnet name"));
    let to = require(d, &o, "to", "a peering").and_then(|x| string(d, x, "a vnet name"));
    let p = Peering {
        loc: o.loc,
        from: from?,
        to: to?,
        allow_virtual_network_access: boolean(d, o.get("allowVirtualNetworkAccess"), true),
        allow_forwarded_traffic: boolean(d, o.get("allowForwardedTraffic"), false),
        allow_gateway_transit: boolean(d, o.get("allowGatewayTransit"), false),
        use_remote_gateways: boolean(d, o.get("useRemoteGateways"), false),
        origin: origin(d, &o),
    };
    Some(p)
}

fn route_table(d: &mut Diagnostics, n: &Node) -> Option<RouteTable> {
    let o = obj(
        d,
        n,
        "a route table",
        &["name", "disableBgpRoutePropagation", "routes", "origin"],
    )?;
    let name = named(d, &o, "a route table")?;
    let disable = boolean(d, o.get("disableBgpRoutePropagation"), false);
    let mut routes = Vec::new();
    for r in items(d, o.get("routes"), "routes", false) {
        let Some(ro) = obj(
            d,
            r,
            "a route",
            &["name", "addressPrefix", "nextHopType", "nextHopIpAddress"],
        ) else {
            continue;
        };
        let rname = named(d, &ro, "a route");
        let ap = require(d, &ro, "addressPrefix", "a route").and_then(|p| {
            let s = scalar(d, p, "a CIDR prefix or a service tag")?;
            if s.trim().starts_with(|c: char| c.is_ascii_digit()) {
                match parse_prefix(s, false) {
                    Ok(x) => Some(Sp::new(RoutePrefix::Prefix(x), p.loc)),
                    Err(m) => {
                        d.error(p.loc, m);
                        None
                    }
                }
            } else {
                Some(Sp::new(
                    RoutePrefix::ServiceTag(s.trim().to_string()),
                    p.loc,
                ))
            }
        });
        let nht = require(d, &ro, "nextHopType", "a route").and_then(|x| {
            enumerated(d, x, "nextHopType", &NextHopType::ALL).map(|v| Sp::new(v, x.loc))
        });
        let ip = ro
            .get("nextHopIpAddress")
            .and_then(|x| ipv4(d, x, "a next hop IP address"));
        if let (Some(name), Some(address_prefix), Some(next_hop_type)) = (rname, ap, nht) {
            routes.push(Route {
                name,
                address_prefix,
                next_hop_type,
                next_hop_ip_address: ip,
            });
        }
    }
    Some(RouteTable {
        name,
        disable_bgp_route_propagation: disable,
        routes,
        origin: origin(d, &o),
    })
}

fn nsg(d: &mut Diagnostics, n: &Node) -> Option<Nsg> {
    let o = obj(d, n, "an NSG", &["name", "rules", "origin"])?;
    let name = named(d, &o, "an NSG")?;
    let mut rules = Vec::new();
    let mut unresolved_rules = Vec::new();
    for r in items(d, o.get("rules"), "rules", false) {
        let Some(ro) = obj(
            d,
            r,
            "a security rule",
            &[
                "name",
                "priority",
                "direction",
                "access",
                "protocol",
                "source",
                "sourcePorts",
                "destination",
                "destinationPorts",
                "description",
                "unresolved",
            ],
        ) else {
            continue;
        };
        let u = unresolved(d, &ro, "a security rule", &["source", "destination"]);
        let rname = named(d, &ro, "a security rule");
        let priority = require(d, &ro, "priority", "a security rule")
            .and_then(|x| uint(d, x, "a priority (100..4096)", u32::MAX as u64));
        let direction = require(d, &ro, "direction", "a security rule").and_then(|x| {
            enumerated(
                d,
                x,
                "direction",
                &[
                    ("Inbound", Direction::Inbound),
                    ("Outbound", Direction::Outbound),
                ],
            )
        });
        let access = require(d, &ro, "access", "a security rule").and_then(|x| {
            enumerated(
                d,
                x,
                "access",
                &[("Allow", Access::Allow), ("Deny", Access::Deny)],
            )
        });
        let protocol = require(d, &ro, "protocol", "a security rule")
            .and_then(|x| enumerated(d, x, "protocol", &NsgProtocol::ALL));
        let req_node = required(d, &ro, "source", "a security rule", &u);
        let source: Vec<_> = items(d, req_node, "source", true)
            .into_iter()
            .filter_map(|x| nsg_address(d, x))
            .collect();
        let req_node = required(d, &ro, "destination", "a security rule", &u);
        let destination: Vec<_> = items(d, req_node, "destination", true)
            .into_iter()
            .filter_map(|x| nsg_address(d, x))
            .collect();
        let source_ports = ports(d, ro.get("sourcePorts"));
        let destination_ports = ports(d, ro.get("destinationPorts"));
        if let (Some(name), Some(priority), Some(direction), Some(access), Some(protocol)) =
            (rname, priority, direction, access, protocol)
        {
            let r = SecurityRule {
                name,
                priority,
                direction,
                access,
                protocol,
                source,
                source_ports,
                destination,
                destination_ports,
                unresolved: u,
            };
            if r.unresolved.is_empty() {
                rules.push(r);
            } else {
                unresolved_rules.push(r);
            }
        }
    }
    Some(Nsg {
        name,
        rules,
        unresolved_rules,
        origin: origin(d, &o),
    })
}

fn nic(d: &mut Diagnostics, n: &Node) -> Option<Nic> {
    let o = obj(
        d,
        n,
        "a NIC",
        &[
            "name",
            "subnet",
            "privateIpAddress",
            "publicIpAddress",
            "nsg",
            "applicationSecurityGroups",
            "enableIpForwarding",
            "macAddress",
            "origin",
        ],
    )?;
    let name = named(d, &o, "a NIC");
    let subnet = require(d, &o, "subnet", "a NIC")
        .and_then(|x| string(d, x, "a subnet reference VNET/SUBNET"));
    let ip = require(d, &o, "privateIpAddress", "a NIC")
        .and_then(|x| ipv4(d, x, "a private IP address"));
    let public_ip_address = o
        .get("publicIpAddress")
        .and_then(|x| ipv4(d, x, "a public IP address"));
    let nsg = o.get("nsg").and_then(|x| string(d, x, "an NSG name"));
    let asgs = names(
        d,
        o.get("applicationSecurityGroups"),
        "an application security group name",
    );
    let fwd = boolean(d, o.get("enableIpForwarding"), false);
    let mac_address = o.get("macAddress").and_then(|x| mac(d, x));
    Some(Nic {
        name: name?,
        subnet: subnet?,
        private_ip_address: ip?,
        public_ip_address,
        nsg,
        application_security_groups: asgs,
        enable_ip_forwarding: fwd,
        mac_address,
        origin: origin(d, &o),
    })
}

/// A MAC address: twelve hex digits, with `-`, `:` or no separators, any case.
fn mac(d: &mut Diagnostics, n: &Node) -> Option<Sp<u64>> {
    let s = string(d, n, "a MAC address like 00-22-48-71-C2-05")?;
    let mut v: u64 = 0;
    let mut digits = 0;
    for c in s.value.chars().filter(|c| !matches!(c, '-' | ':')) {
        match c.to_digit(16) {
            Some(x) if digits < 12 => {
                v = v << 4 | x as u64;
                digits += 1;
            }
            _ => digits = 13,
        }
    }
    if digits != 12 {
        d.error(
            s.loc,
            format!(
                "invalid MAC address '{}'; expected twelve hex digits like 00-22-48-71-C2-05",
                s.value
            ),
        );
        return None;
    }
    Some(Sp {
        value: v,
        loc: s.loc,
    })
}

fn gateway(d: &mut Diagnostics, n: &Node) -> Option<Gateway> {
    let o = obj(
        d,
        n,
        "a gateway",
        &[
            "name",
            "vnet",
            "type",
            "bgp",
            "connections",
            "activeActive",
            "instanceAddresses",
            "origin",
        ],
    )?;
    let name = named(d, &o, "a gateway");
    let vnet = require(d, &o, "vnet", "a gateway").and_then(|x| string(d, x, "a vnet name"));
    let gateway_type = match o.get("type") {
        Some(x) => enumerated(
            d,
            x,
            "gateway type",
            &[
                ("Vpn", GatewayType::Vpn),
                ("ExpressRoute", GatewayType::ExpressRoute),
            ],
        ),
        None => Some(GatewayType::Vpn),
    };
    let bgp_asn = o.get("bgp").and_then(|b| {
        let bo = obj(d, b, "gateway bgp settings", &["asn"])?;
        match bo.get("asn") {
            Some(a) => uint(d, a, "an ASN", u32::MAX as u64),
            None => Some(Sp::new(65515, b.loc)),
        }
    });
    let mut connections = Vec::new();
    let mut vnet2vnet = Vec::new();
    let mut circuits = Vec::new();
    for c in items(d, o.get("connections"), "connections", false) {
        match connection(d, c) {
            Some((ConnectionType::IPsec, s)) => connections.push(s),
            Some((ConnectionType::Vnet2Vnet, g)) => vnet2vnet.push(g),
            Some((ConnectionType::ExpressRoute, c)) => circuits.push(c),
            None => {}
        }
    }
    Some(Gateway {
        name: name?,
        vnet: vnet?,
        gateway_type: gateway_type?,
        bgp_asn,
        connections,
        origin: origin(d, &o),
        vnet2vnet,
        circuits,
        active_active: boolean(d, o.get("activeActive"), false),
        instance_addresses: items(d, o.get("instanceAddresses"), "instanceAddresses", true)
            .into_iter()
            .filter_map(|x| ipv4(d, x, "a gateway instance address"))
            .collect(),
    })
}

/// One gateway connection: `site` (connectionType IPsec, the default for a site) or
/// `virtualNetworkGateway` (connectionType Vnet2Vnet), as Azure's connection resource names them.
fn connection(d: &mut Diagnostics, c: &Node) -> Option<(ConnectionType, Sp<String>)> {
    let co = obj(
        d,
        c,
        "a gateway connection",
        &[
            "site",
            "virtualNetworkGateway",
            "expressRouteCircuit",
            "connectionType",
        ],
    )?;
    let ty = co
        .get("connectionType")
        .and_then(|x| enumerated(d, x, "connectionType", &ConnectionType::ALL).map(|t| (t, x.loc)));
    let named = [
        ("site", ConnectionType::IPsec, "a site name"),
        (
            "virtualNetworkGateway",
            ConnectionType::Vnet2Vnet,
            "a gateway name",
        ),
        (
            "expressRouteCircuit",
            ConnectionType::ExpressRoute,
            "a circuit name",
        ),
    ];
    let given: Vec<_> = named
        .iter()
        .filter_map(|(k, t, w)| co.get(k).map(|n| (*t, n, *w)))
        .collect();
    let [(want, node, what)] = given[..] else {
        d.error(
            c.loc,
            "a gateway connection names exactly one of 'site' (IPsec), \
             'virtualNetworkGateway' (Vnet2Vnet) or 'expressRouteCircuit' (ExpressRoute)",
        );
        return None;
    };
    if let Some((t, loc)) = ty.filter(|(t, _)| *t != want) {
        d.error(
            loc,
            format!("connectionType {t:?} does not fit this connection; expected {want:?}"),
        );
    }
    Some((want, string(d, node, what)?))
}

fn circuit(d: &mut Diagnostics, n: &Node) -> Option<ExpressRouteCircuit> {
    let o = obj(
        d,
        n,
        "an ExpressRoute circuit",
        &["name", "privatePeering", "origin"],
    )?;
    let name = named(d, &o, "an ExpressRoute circuit")?;
    let pn = require(d, &o, "privatePeering", "an ExpressRoute circuit")?;
    let po = obj(
        d,
        pn,
        "a circuit's private peering",
        &["peerAsn", "advertisedPrefixes"],
    )?;
    let peer_asn = require(d, &po, "peerAsn", "a private peering")
        .and_then(|a| uint(d, a, "an ASN", u32::MAX as u64))?;
    let advertised_prefixes = items(d, po.get("advertisedPrefixes"), "advertisedPrefixes", true)
        .into_iter()
        .filter_map(|x| prefix(d, x, false))
        .collect();
    Some(ExpressRouteCircuit {
        name,
        peer_asn,
        advertised_prefixes,
        origin: origin(d, &o),
    })
}

fn nat_gateway(d: &mut Diagnostics, n: &Node) -> Option<NatGateway> {
    let o = obj(
        d,
        n,
        "a NAT gateway",
        &["name", "publicIpAddresses", "publicIpPrefixes", "origin"],
    )?;
    let name = named(d, &o, "a NAT gateway")?;
    let public_ip_addresses = items(d, o.get("publicIpAddresses"), "publicIpAddresses", true)
        .into_iter()
        .filter_map(|x| ipv4(d, x, "a public IP address"))
        .collect();
    let public_ip_prefixes = items(d, o.get("publicIpPrefixes"), "publicIpPrefixes", true)
        .into_iter()
        .filter_map(|x| prefix(d, x, false))
        .collect();
    Some(NatGateway {
        name,
        public_ip_addresses,
        public_ip_prefixes,
        origin: origin(d, &o),
    })
}

fn app_protocol(d: &mut Diagnostics, n: &Node) -> Option<AppProtocol> {
    let s = scalar(d, n, "an application protocol like 'Https:443'")?.trim();
    let (k, p) = match s.split_once(':') {
        Some((k, p)) => (k, p.trim().parse::<u16>().ok()),
        None => (s, None),
    };
    let kind = match k.to_ascii_lowercase().as_str() {
        "http" => AppProtocolKind::Http,
        "https" => AppProtocolKind::Https,
        "mssql" => AppProtocolKind::Mssql,
        _ => {
            d.error(n.loc, format!("invalid application protocol '{s}'; expected Http:PORT, Https:PORT or Mssql:PORT"));
            return None;
        }
    };
    let port = match (p, s.contains(':')) {
        (Some(p), _) => p,
        (None, false) => match kind {
            AppProtocolKind::Http => 80,
            AppProtocolKind::Https => 443,
            AppProtocolKind::Mssql => 1433,
        },
        (None, true) => {
            d.error(n.loc, format!("invalid port in application protocol '{s}'"));
            return None;
        }
    };
    Some(AppProtocol { kind, port })
}

fn collection_header(
    d: &mut Diagnostics,
    co: &Obj,
    what: &str,
) -> Option<(Sp<String>, Sp<u32>, Access)> {
    let name = named(d, co, what);
    let priority =
        require(d, co, "priority", what).and_then(|x| uint(d, x, "a priority (100..65000)", 65000));
    let action = require(d, co, "action", what).and_then(|x| {
        enumerated(
            d,
            x,
            "action",
            &[("Allow", Access::Allow), ("Deny", Access::Deny)],
        )
    });
    Some((name?, priority?, action?))
}

fn firewall(d: &mut Diagnostics, n: &Node) -> Option<Firewall> {
    let o = obj(
        d,
        n,
        "a firewall",
        &[
            "name",
            "vnet",
            "privateIpAddress",
            "snatIpAddresses",
            "publicIpAddresses",
            "privateRanges",
            "dnatRules",
            "networkRuleCollections",
            "applicationRuleCollections",
            "origin",
        ],
    )?;
    let name = named(d, &o, "a firewall");
    let vnet = require(d, &o, "vnet", "a firewall").and_then(|x| string(d, x, "a vnet name"));
    let pip = require(d, &o, "privateIpAddress", "a firewall")
        .and_then(|x| ipv4(d, x, "a private IP address"));
    let snat: Vec<_> = items(d, o.get("snatIpAddresses"), "snatIpAddresses", true)
        .into_iter()
        .filter_map(|x| ipv4(d, x, "an IP address"))
        .collect();
    let public: Vec<_> = items(d, o.get("publicIpAddresses"), "publicIpAddresses", true)
        .into_iter()
        .filter_map(|x| ipv4(d, x, "an IP address"))
        .collect();
    let private_ranges = match o.get("privateRanges") {
        None => vec![PrivateRange::IanaPrivateRanges],
        Some(pr) => items(d, Some(pr), "privateRanges", true)
            .into_iter()
            .filter_map(|x| {
                let s = scalar(d, x, "'IANAPrivateRanges' or a prefix")?;
                if s.trim().eq_ignore_ascii_case("IANAPrivateRanges") {
                    Some(PrivateRange::IanaPrivateRanges)
                } else {
                    match parse_prefix(s, true) {
                        Ok(p) => Some(PrivateRange::Prefix(p)),
                        Err(m) => {
                            d.error(x.loc, format!("{m} (or 'IANAPrivateRanges')"));
                            None
                        }
                    }
                }
            })
            .collect(),
    };
    let mut dnat_rules = Vec::new();
    let mut unresolved_dnat_rules = Vec::new();
    for r in items(d, o.get("dnatRules"), "dnatRules", false) {
        let Some(ro) = obj(
            d,
            r,
            "a DNAT rule",
            &[
                "name",
                "protocols",
                "source",
                "destination",
                "destinationPorts",
                "translatedAddress",
                "translatedPort",
                "unresolved",
            ],
        ) else {
            continue;
        };
        let u = unresolved(d, &ro, "a DNAT rule", &["source", "translatedAddress"]);
        let rname = named(d, &ro, "a DNAT rule");
        let protocols = fw_protocols(d, ro.get("protocols"), &ro, "a DNAT rule");
        let source = fw_addresses(d, ro.get("source"), true);
        let req_node = require(d, &ro, "destination", "a DNAT rule");
        let destination: Vec<_> = items(d, req_node, "destination", true)
            .into_iter()
            .filter_map(|x| ipv4(d, x, "a firewall public IP address"))
            .collect();
        let req_node = require(d, &ro, "destinationPorts", "a DNAT rule");
        let destination_ports = ports(d, req_node);
        let ta = match required(d, &ro, "translatedAddress", "a DNAT rule", &u) {
            Some(x) => ipv4(d, x, "an IP address"),
            None if !u.is_empty() => Some(Sp::new(Ipv4Addr::UNSPECIFIED, ro.loc)),
            None => None,
        };
        let tp = match ro.get("translatedPort") {
            Some(x) => uint(d, x, "a port", 65535).map(|v| v.value as u16),
            None => destination_ports.first().map(|p| p.lo),
        };
        if let (Some(name), Some(translated_address), Some(translated_port)) = (rname, ta, tp) {
            let r = DnatRule {
                name,
                protocols,
                source,
                destination,
                destination_ports,
                translated_address,
                translated_port,
                unresolved: u,
            };
            if r.unresolved.is_empty() {
                dnat_rules.push(r);
            } else {
                unresolved_dnat_rules.push((dnat_rules.len(), r));
            }
        }
    }
    let mut network_rule_collections = Vec::new();
    for c in items(
        d,
        o.get("networkRuleCollections"),
        "networkRuleCollections",
        false,
    ) {
        let Some(co) = obj(
            d,
            c,
            "a network rule collection",
            &["name", "priority", "action", "rules"],
        ) else {
            continue;
        };
        let header = collection_header(d, &co, "a network rule collection");
        let mut rules = Vec::new();
        let mut unresolved_rules = Vec::new();
        for r in items(d, co.get("rules"), "rules", false) {
            let Some(ro) = obj(
                d,
                r,
                "a network rule",
                &[
                    "name",
                    "protocols",
                    "source",
                    "destination",
                    "destinationPorts",
                    "destinationFqdns",
                    "unresolved",
                ],
            ) else {
                continue;
            };
            let u = unresolved(d, &ro, "a network rule", &["source", "destination"]);
            if let Some(x) = ro.get("destinationFqdns") {
                d.error(
                    x.loc,
                    "'destinationFqdns' in network rules needs the firewall's DNS proxy, which is not in \
                     topology format version 1; use application rules or destination prefixes",
                );
            }
            let rname = named(d, &ro, "a network rule");
            let protocols = fw_protocols(d, ro.get("protocols"), &ro, "a network rule");
            let source = fw_addresses(d, ro.get("source"), true);
            let req_node = required(d, &ro, "destination", "a network rule", &u);
            let destination = fw_addresses(d, req_node, false);
            let req_node = require(d, &ro, "destinationPorts", "a network rule");
            let destination_ports = ports(d, req_node);
            if let Some(name) = rname {
                let r = NetworkRule {
                    name,
                    protocols,
                    source,
                    destination,
                    destination_ports,
                    unresolved: u,
                };
                if r.unresolved.is_empty() {
                    rules.push(r);
                } else {
                    unresolved_rules.push(r);
                }
            }
        }
        if let Some((name, priority, action)) = header {
            network_rule_collections.push(NetworkRuleCollection {
                name,
                priority,
                action,
                rules,
                unresolved_rules,
            });
        }
    }
    let mut application_rule_collections = Vec::new();
    for c in items(
        d,
        o.get("applicationRuleCollections"),
        "applicationRuleCollections",
        false,
    ) {
        let Some(co) = obj(
            d,
            c,
            "an application rule collection",
            &["name", "priority", "action", "rules"],
        ) else {
            continue;
        };
        let header = collection_header(d, &co, "an application rule collection");
        let mut rules = Vec::new();
        let mut unresolved_rules = Vec::new();
        for r in items(d, co.get("rules"), "rules", false) {
            let Some(ro) = obj(
                d,
                r,
                "an application rule",
                &["name", "source", "protocols", "targetFqdns", "unresolved"],
            ) else {
                continue;
            };
            let u = unresolved(d, &ro, "an application rule", &["source", "targetFqdns"]);
            let rname = named(d, &ro, "an application rule");
            let source = fw_addresses(d, ro.get("source"), true);
            let req_node = require(d, &ro, "protocols", "an application rule");
            let protocols: Vec<_> = items(d, req_node, "protocols", true)
                .into_iter()
                .filter_map(|x| app_protocol(d, x))
                .collect();
            let req_node = required(d, &ro, "targetFqdns", "an application rule", &u);
            let target_fqdns: Vec<Sp<String>> = names(d, req_node, "a target FQDN");
            for f in &target_fqdns {
                if let Err(m) = check_fqdn_pattern(&f.value) {
                    d.error(f.loc, m);
                }
            }
            if let Some(name) = rname {
                let r = ApplicationRule {
                    name,
                    source,
                    protocols,
                    target_fqdns,
                    unresolved: u,
                };
                if r.unresolved.is_empty() {
                    rules.push(r);
                } else {
                    unresolved_rules.push(r);
                }
            }
        }
        if let Some((name, priority, action)) = header {
            application_rule_collections.push(ApplicationRuleCollection {
                name,
                priority,
                action,
                rules,
                unresolved_rules,
            });
        }
    }
    Some(Firewall {
        name: name?,
        vnet: vnet?,
        private_ip_address: pip?,
        snat_ip_addresses: snat,
        public_ip_addresses: public,
        private_ranges,
        dnat_rules,
        unresolved_dnat_rules,
        network_rule_collections,
        application_rule_collections,
        origin: origin(d, &o),
    })
}

/// Azure Firewall target FQDNs: `*` may only stand at the left (`*`, `*.x`, `*x`).
pub fn check_fqdn_pattern(p: &str) -> Result<(), String> {
    let rest = p.strip_prefix('*').unwrap_or(p);
    if rest.contains('*') {
        return Err(format!(
            "invalid target FQDN '{p}': a wildcard is allowed only as the left-most part ('*.contoso.com')"
        ));
    }
    Ok(())
}

/// A service's `networkAcls`: `defaultAction` (Allow | Deny), `virtualNetworkRules` (subnets),
/// `ipRules` (public prefixes).
fn network_acls(d: &mut Diagnostics, n: &Node) -> Option<NetworkAcls> {
    let o = obj(
        d,
        n,
        "a service's networkAcls",
        &["defaultAction", "virtualNetworkRules", "ipRules"],
    )?;
    let default_deny = o
        .get("defaultAction")
        .and_then(|x| enumerated(d, x, "defaultAction", &[("Allow", false), ("Deny", true)]))
        .unwrap_or(false);
    Some(NetworkAcls {
        default_deny,
        virtual_network_rules: names(
            d,
            o.get("virtualNetworkRules"),
            "a subnet reference VNET/SUBNET",
        ),
        ip_rules: items(d, o.get("ipRules"), "ipRules", true)
            .into_iter()
            .filter_map(|x| prefix(d, x, true))
            .collect(),
    })
}

fn service(d: &mut Diagnostics, n: &Node) -> Option<Service> {
    let o = obj(
        d,
        n,
        "a service",
        &[
            "name",
            "kind",
            "fqdn",
            "publicIpAddress",
            "publicNetworkAccess",
            "acceptsUdp",
            "networkAcls",
            "origin",
        ],
    )?;
    let name = named(d, &o, "a service")?;
    let network_acls = o
        .get("networkAcls")
        .and_then(|x| network_acls(d, x))
        .unwrap_or_default();
    let kind = o
        .get("kind")
        .and_then(|x| scalar(d, x, "a kind").map(str::to_string))
        .unwrap_or_default();
    let fqdn = o
        .get("fqdn")
        .and_then(|x| scalar(d, x, "an FQDN").map(|s| s.trim().to_ascii_lowercase()));
    let public_ip_address = o
        .get("publicIpAddress")
        .and_then(|x| ipv4(d, x, "a public IP address"));
    let pna = match o.get("publicNetworkAccess") {
        Some(x) => enumerated(
            d,
            x,
            "publicNetworkAccess",
            &[("Enabled", true), ("Disabled", false)],
        )
        .unwrap_or(true),
        None => true,
    };
    let accepts_udp = boolean(d, o.get("acceptsUdp"), false);
    Some(Service {
        name,
        kind,
        fqdn,
        public_ip_address,
        public_network_access: pna,
        network_acls,
        accepts_udp,
        origin: origin(d, &o),
    })
}

fn private_endpoint(d: &mut Diagnostics, n: &Node) -> Option<PrivateEndpoint> {
    let o = obj(
        d,
        n,
        "a private endpoint",
        &["name", "subnet", "privateIpAddress", "service", "origin"],
    )?;
    let name = named(d, &o, "a private endpoint");
    let subnet = require(d, &o, "subnet", "a private endpoint")
        .and_then(|x| string(d, x, "a subnet reference VNET/SUBNET"));
    let ip = require(d, &o, "privateIpAddress", "a private endpoint")
        .and_then(|x| ipv4(d, x, "a private IP address"));
    let svc = require(d, &o, "service", "a private endpoint")
        .and_then(|x| string(d, x, "a service name"));
    Some(PrivateEndpoint {
        name: name?,
        subnet: subnet?,
        private_ip_address: ip?,
        service: svc?,
        origin: origin(d, &o),
    })
}

/// The optional `origin:` mapping of a top-level object (where it was imported from).
pub(crate) fn origin(d: &mut Diagnostics, o: &Obj) -> Option<Origin> {
    let n = o.get("origin")?;
    let keys = ["source", "subscription", "resourceGroup", "tenant", "owner"];
    let oo = obj(d, n, "an origin", &keys)?;
    let mut field = |k: &str| {
        oo.get(k)
            .and_then(|x| scalar(d, x, "a string").map(str::to_string))
    };
    Some(Origin {
        source: field("source"),
        subscription: field("subscription"),
        resource_group: field("resourceGroup"),
        tenant: field("tenant"),
        owner: field("owner"),
    })
}
