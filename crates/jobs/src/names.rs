//! Names a user types, resolved against the compiled fabric: every node id and rule name the
//! outputs can show, and a did-you-mean listing the closest few when a name is unknown.

use std::collections::BTreeSet;

use std::net::Ipv4Addr;

use vnetsim_engine as engine;
use vnetsim_fabric::{self as fabric, Endpoint, Fabric};

/// Every node id an output can show (`nic:NAME`, `subnet:V/S`, `internet`, ...).
pub fn node_ids(f: &Fabric) -> BTreeSet<String> {
    use vnetsim_fabric::{FirewallId, GatewayId, NicId, PeId, ServiceId, SiteId, SubnetId};
    let mut e: Vec<Endpoint> = vec![Endpoint::Internet, Endpoint::Platform];
    e.extend((0..f.nics.len()).map(|i| Endpoint::Nic(NicId(i as u32))));
    e.extend((0..f.pes.len()).map(|i| Endpoint::Pe(PeId(i as u32))));
    e.extend((0..f.services.len()).map(|i| Endpoint::Service(ServiceId(i as u32))));
    e.extend((0..f.sites.len()).map(|i| Endpoint::Site(SiteId(i as u32))));
    e.extend((0..f.firewalls.len()).map(|i| Endpoint::Firewall(FirewallId(i as u32))));
    e.extend((0..f.gateways.len()).map(|i| Endpoint::Gateway(GatewayId(i as u32))));
    e.extend((0..f.subnets.len()).map(|i| Endpoint::Subnet(SubnetId(i as u32))));
    e.into_iter().map(|x| f.endpoint_id(x)).collect()
}

/// Every deciding-rule name an output can show: NSG rules (default rules included), firewall
/// rules, default denies and sessions, flow records, user routes.
pub fn rule_names(f: &Fabric) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for t in &f.nsg_tables {
        let nsg = &f.nsg_names[t.nsg.ix()];
        let tables = [
            Some(&t.inbound),
            t.inbound_from_internet.as_ref(),
            Some(&t.outbound),
        ];
        for rt in tables.into_iter().flatten() {
            for i in 0..rt.rules.len() {
                out.insert(rt.rule_name(nsg, i as u32));
            }
        }
    }
    for fw in &f.firewalls {
        out.extend(fw.network_rules.iter().map(|r| r.0.clone()));
        out.extend(fw.application.iter().map(|r| r.name.clone()));
        out.extend(fw.dnat.iter().map(|r| format!("dnatRules/{}", r.name)));
        out.insert(format!("{}/DefaultDeny", fw.name));
        out.insert(format!("{}/session", fw.name));
    }
    out.insert("flow-record".into());
    for rs in &f.route_sets {
        out.extend(rs.routes.iter().filter_map(|r| r.name.clone()));
    }
    out
}

/// ` (did you mean a, b or c?)` for the closest few candidates, or nothing when none is close.
/// A candidate `kind:NAME` is also compared by its `NAME` alone, so `afw-hub` finds
/// `firewall:afw-hub`.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let limit = (name.chars().count() / 3).max(2);
    let distance = |c: &str| {
        let bare = c.split_once(':').map(|(_, n)| n).unwrap_or(c);
        strsim::levenshtein(name, c).min(strsim::levenshtein(name, bare))
    };
    let mut near: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| (distance(c), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    near.sort();
    let names: Vec<&str> = near.iter().take(3).map(|(_, c)| *c).collect();
    match names.len() {
        0 => String::new(),
        1 => format!(" (did you mean {}?)", names[0]),
        n => format!(
            " (did you mean {} or {}?)",
            names[..n - 1].join(", "),
            names[n - 1]
        ),
    }
}

/// Names of a selector's kind (`vnet:`, `nic:`, ...), for suggestions.
fn selector_candidates(f: &Fabric, kind: &str) -> Vec<String> {
    match kind {
        "vnet" => f.vnets.iter().map(|v| format!("vnet:{}", v.name)).collect(),
        "subnet" => (0..f.subnets.len())
            .map(|i| f.subnet_id(vnetsim_fabric::SubnetId(i as u32)))
            .collect(),
        "nic" => f.nics.iter().map(|n| format!("nic:{}", n.name)).collect(),
        "pe" => f.pes.iter().map(|n| format!("pe:{}", n.name)).collect(),
        "site" => f.sites.iter().map(|n| format!("site:{}", n.name)).collect(),
        _ => vec!["all".into(), "internet".into()],
    }
}

/// Why `sel` names nothing in the fabric, if it does not.
pub fn selector_problem(f: &Fabric, sel: &str) -> Option<String> {
    let (kind, name) = sel.split_once(':').unwrap_or((sel, ""));
    let found = match kind {
        "all" | "internet" => name.is_empty(),
        "vnet" => f.find_vnet(name).is_some(),
        "subnet" => f.find_subnet(name).is_some(),
        "nic" => f.find_nic(name).is_some(),
        "pe" => f.find_pe(name).is_some(),
        "site" => f.find_site(name).is_some(),
        _ if sel.parse::<std::net::Ipv4Addr>().is_ok() => true,
        _ => {
            return Some(format!(
                "invalid selector '{sel}'; expected all, vnet:NAME, subnet:VNET/SUBNET, nic:NAME, pe:NAME, site:NAME, internet or an IPv4 address"
            ))
        }
    };
    if found {
        return None;
    }
    let c = selector_candidates(f, kind);
    Some(format!(
        "unknown selector '{sel}'{}",
        did_you_mean(sel, c.iter().map(String::as_str))
    ))
}

/// What `trace --src`/`--dst` name: an address, and the endpoint (and FQDN) it came from when
/// it was given by name.
pub struct Named {
    pub addr: u32,
    pub endpoint: Option<Endpoint>,
    pub fqdn: Option<String>,
}

/// Resolves an address or a name: an IPv4 address; `nic:NAME`, `pe:NAME`, `site:NAME`,
/// `service:NAME` or `internet`; a bare NIC or endpoint name; a service's FQDN. A service
/// stands for its Private Endpoint's address when it has one (what its privatelink zone
/// resolves to inside the fabric), else its public address.
pub fn resolve_address(f: &Fabric, s: &str) -> Result<Named, String> {
    use vnetsim_fabric::{NicId, PeId, ServiceId, SiteId};
    let plain = |addr: u32, endpoint: Option<Endpoint>| Named {
        addr,
        endpoint,
        fqdn: None,
    };
    if let Ok(a) = s.parse::<std::net::Ipv4Addr>() {
        return Ok(plain(a.into(), None));
    }
    let (kind, name) = s.split_once(':').unwrap_or(("", s));
    let nic = |n: NicId| plain(f.nics[n.ix()].ip, Some(Endpoint::Nic(n)));
    let pe = |p: PeId| plain(f.pes[p.ix()].ip, Some(Endpoint::Pe(p)));
    let site = |i: SiteId| {
        let addr = f.sites[i.ix()]
            .prefixes
            .first()
            .map(vnetsim_engine::sweep::first_host)
            .unwrap_or(0);
        plain(addr, Some(Endpoint::Site(i)))
    };
    let service = |i: ServiceId| -> Option<Named> {
        let svc = &f.services[i.ix()];
        let pe = f.pes.iter().find(|p| p.service == i).map(|p| p.ip);
        Some(Named {
            addr: pe.or(svc.public_ip)?,
            endpoint: None,
            fqdn: svc.fqdn.clone(),
        })
    };
    let by_fqdn = || {
        let lower = s.to_ascii_lowercase();
        let i = f
            .services
            .iter()
            .position(|x| x.fqdn.as_deref() == Some(lower.as_str()))?;
        service(ServiceId(i as u32))
    };
    let found = match kind {
        "nic" => f.find_nic(name).map(nic),
        "pe" => f.find_pe(name).map(pe),
        "site" => f.find_site(name).map(site),
        "circuit" => find_circuit(f, name).map(site),
        "service" => f.find_service(name).and_then(service),
        "" if s == "internet" => Some(plain(
            vnetsim_engine::sweep::INTERNET_PROBE,
            Some(Endpoint::Internet),
        )),
        "" => f
            .find_nic(s)
            .map(nic)
            .or_else(|| f.find_pe(s).map(pe))
            .or_else(by_fqdn),
        _ => None,
    };
    found.ok_or_else(|| {
        let mut all: Vec<String> = Vec::new();
        for n in &f.nics {
            all.push(format!("nic:{}", n.name));
        }
        for p in &f.pes {
            all.push(format!("pe:{}", p.name));
        }
        for (i, _) in f.sites.iter().enumerate() {
            all.push(f.endpoint_id(Endpoint::Site(fabric::SiteId(i as u32))));
        }
        for x in &f.services {
            all.push(format!("service:{}", x.name));
            all.extend(x.fqdn.clone());
        }
        format!(
            "'{s}' is neither an IPv4 address nor a NIC, endpoint, site or service of the fabric{}",
            did_you_mean(s, all.iter().map(String::as_str))
        )
    })
}

pub fn parse_protocol(s: &str) -> Result<u8, String> {
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Ok(engine::TCP),
        "udp" => Ok(engine::UDP),
        "icmp" => Ok(engine::ICMP),
        _ => s
            .parse::<u8>()
            .map_err(|_| format!("error: invalid protocol '{s}'; expected Tcp, Udp or Icmp")),
    }
}

/// The names of `items` for an "unknown NAME" message, at most a dozen of them
/// ([`vnetsim_model::defined_list`]).
fn names<T>(items: &[T], f: impl Fn(&T) -> &str) -> String {
    vnetsim_model::defined_list(items.iter().map(f))
}

pub fn find_nic(f: &Fabric, name: &str) -> Result<fabric::NicId, String> {
    f.find_nic(name).ok_or_else(|| {
        format!(
            "error: unknown NIC '{name}' ({})",
            names(&f.nics, |n| &n.name)
        )
    })
}

pub fn find_subnet(f: &Fabric, path: &str) -> Result<fabric::SubnetId, String> {
    f.find_subnet(path).ok_or_else(|| {
        let paths = (0..f.subnets.len()).map(|i| f.subnet_path(fabric::SubnetId(i as u32)));
        let listed = vnetsim_model::defined_of(paths, f.subnets.len());
        format!("error: unknown subnet '{path}' (expected VNET/SUBNET; {listed})")
    })
}

/// Parses an endpoint id (`nic:NAME`, `pe:NAME`, `site:NAME`, `service:NAME`, `subnet:V/S`, `firewall:NAME`, `internet`, `platform`).
/// An ExpressRoute circuit by name: on-premises behind it is a source like a site.
fn find_circuit(f: &Fabric, name: &str) -> Option<fabric::SiteId> {
    f.find_site(name).filter(|i| f.sites[i.ix()].express_route)
}

pub fn parse_endpoint(f: &Fabric, s: &str) -> Result<Endpoint, String> {
    let bad = || format!("error: unknown endpoint '{s}'");
    let (kind, name) = s.split_once(':').unwrap_or((s, ""));
    match kind {
        "internet" => Ok(Endpoint::Internet),
        "platform" => Ok(Endpoint::Platform),
        "nic" => find_nic(f, name).map(Endpoint::Nic),
        "pe" => f.find_pe(name).map(Endpoint::Pe).ok_or_else(bad),
        "site" => f.find_site(name).map(Endpoint::Site).ok_or_else(bad),
        "circuit" => find_circuit(f, name).map(Endpoint::Site).ok_or_else(bad),
        "service" => f.find_service(name).map(Endpoint::Service).ok_or_else(bad),
        "subnet" => find_subnet(f, name).map(Endpoint::Subnet),
        "firewall" => f.firewalls.iter().position(|x| x.name == name).map(|i| Endpoint::Firewall(fabric::FirewallId(i as u32))).ok_or_else(bad),
        _ => Err(format!(
            "error: invalid endpoint '{s}'; expected nic:NAME, pe:NAME, site:NAME, circuit:NAME, service:NAME, subnet:VNET/SUBNET, firewall:NAME, internet or platform"
        )),
    }
}

/// `--threads N`, the same in every command: a whole number of at least 1.
/// The endpoint a source address enters at. An address that nothing in the fabric owns and
/// that is not public Internet space is refused: it would otherwise be taken as an Internet
/// host, which it cannot be.
pub fn source_endpoint(f: &Fabric, src: u32) -> Result<Endpoint, String> {
    let e = f.endpoint_of_source(src);
    if e == Endpoint::Internet && !fabric::prefix::is_public(src) {
        return Err(format!(
            "error: --src {} belongs to no NIC, endpoint, site or subnet of the fabric and is not public Internet space; give --from ENDPOINT to say where it enters",
            Ipv4Addr::from(src)
        ));
    }
    Ok(e)
}

pub fn parse_app_protocol(s: &str) -> Result<engine::AppProtocol, String> {
    match s.to_ascii_lowercase().as_str() {
        "http" => Ok(engine::AppProtocol::Http),
        "https" => Ok(engine::AppProtocol::Https),
        "mssql" => Ok(engine::AppProtocol::Mssql),
        _ => Err(format!(
            "invalid application protocol '{s}'; expected Http, Https or Mssql"
        )),
    }
}

/// What application rules see of a flow: the given name (or the destination service's FQDN)
/// with the given protocol (or the one its port stands for).
pub fn flow_l7<'a>(
    f: &'a Fabric,
    flow: &engine::Flow,
    fqdn: Option<&'a str>,
    protocol: Option<engine::AppProtocol>,
) -> Option<engine::L7<'a>> {
    let l7 = match fqdn {
        Some(name) => engine::L7::by_port(name, flow.dport),
        None => engine::sweep::destination_l7(f, flow)?,
    };
    Some(engine::L7 {
        protocol: protocol.unwrap_or(l7.protocol),
        ..l7
    })
}
