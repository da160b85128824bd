//! Load balancers and Application Gateways (v2), from the ARM shape that az exports, Resource
//! Graph and templates share: frontends, backend pools (members from the pool's
//! `backendIPConfigurations` and from NICs' `loadBalancerBackendAddressPools`), probes,
//! load-balancing, inbound NAT and outbound rules; listeners, pools and routing rules.

use std::collections::BTreeMap;

use super::network::public_ip;
use super::{arr, flag, ipv4, text, Ctx, Kind};
use crate::ir::{last_segment, parent_id, prop, ref_id};
use crate::json::Val;
use crate::report::Status;
use crate::yaml::{M, Y};

const LB: &str = "microsoft.network/loadbalancers";
const AGW: &str = "microsoft.network/applicationgateways";

fn name_of(v: &Val) -> String {
    v.key("name")
        .and_then(Val::as_str)
        .map(|n| last_segment(n).to_string())
        .unwrap_or_default()
}

/// The last segment of a referenced sub-resource id (`.../frontendIPConfigurations/fe`).
fn ref_name(v: Option<&Val>) -> Option<String> {
    ref_id(v?).map(|id| last_segment(id).to_string())
}

fn num(v: &Val, k: &str) -> Option<i64> {
    prop(v, k).and_then(Val::as_i64)
}

/// The NIC name of an IP configuration id `.../networkInterfaces/NIC/ipConfigurations/CFG`.
fn nic_of_ip_config(c: &Ctx, id: &str) -> Option<String> {
    let nic = parent_id(id)?;
    c.names.get(&(Kind::Nic, nic.to_ascii_lowercase())).cloned()
}

/// Pool id (lower case) to member NIC names, from NICs' IP configurations.
fn members_from_nics(c: &Ctx) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in c.of_type("microsoft.network/networkinterfaces") {
        let r = c.res[i];
        let Some(name) = c.names.get(&(Kind::Nic, r.id.to_ascii_lowercase())) else {
            continue;
        };
        for cfg in arr(&r.body, "ipConfigurations") {
            for p in arr(cfg, "loadBalancerBackendAddressPools") {
                if let Some(id) = ref_id(p) {
                    m.entry(id.to_ascii_lowercase())
                        .or_default()
                        .push(name.clone());
                }
            }
        }
    }
    m
}

/// The NIC whose primary address is an IP-based pool member's `ipAddress` (in the member's
/// `virtualNetwork` when it names one): Azure sends the member's traffic to that address
/// (learn.microsoft.com/azure/load-balancer/backend-pool-management).
fn nic_by_address(c: &Ctx, m: &Val) -> Option<String> {
    let ip = ipv4(prop(m, "ipAddress"))?;
    let vnet = prop(m, "virtualNetwork").and_then(ref_id);
    c.of_type("microsoft.network/networkinterfaces")
        .into_iter()
        .find_map(|i| {
            let r = c.res[i];
            let cfg = super::network::primary_ip_config(&r.body)?;
            let subnet = prop(cfg, "subnet").and_then(ref_id)?;
            let same_vnet =
                vnet.is_none_or(|v| parent_id(subnet).is_some_and(|s| s.eq_ignore_ascii_case(v)));
            (ipv4(prop(cfg, "privateIPAddress")) == Some(ip) && same_vnet)
                .then(|| {
                    c.names
                        .get(&(Kind::Nic, r.id.to_ascii_lowercase()))
                        .cloned()
                })
                .flatten()
        })
}

pub(crate) fn load_balancers(c: &mut Ctx) {
    let from_nics = members_from_nics(c);
    for i in c.of_type(LB) {
        load_balancer(c, i, &from_nics);
    }
    for i in c.of_type(AGW) {
        app_gateway(c, i);
    }
}

fn frontend(c: &mut Ctx, f: &Val, user: &str) -> Result<Y, String> {
    let name = name_of(f);
    let m = M::new().put("name", Y::s(&name));
    if let Some(s) = prop(f, "subnet") {
        let subnet = c
            .subnet_ref(s)
            .ok_or_else(|| format!("frontend {name}'s subnet is not in the sources"))?;
        let Some(ip) = ipv4(prop(f, "privateIPAddress")) else {
            return Err(format!(
                "frontend {name} has no private address in the sources"
            ));
        };
        return Ok(m
            .put("subnet", Y::s(subnet))
            .put("privateIpAddress", Y::s(ip.to_string()))
            .y());
    }
    let Some(ip) = public_ip(c, prop(f, "publicIPAddress"), user) else {
        return Err(format!("frontend {name} has no address in the sources"));
    };
    Ok(m.put("publicIpAddress", Y::s(ip)).y())
}

fn protocol(v: &Val) -> String {
    match text(v, "protocol").map(str::to_ascii_lowercase).as_deref() {
        Some("udp") => "Udp".into(),
        Some("all") => "All".into(),
        _ => "Tcp".into(),
    }
}

fn load_balancer(c: &mut Ctx, i: usize, from_nics: &BTreeMap<String, Vec<String>>) {
    let r = c.res[i];
    let name = super::sanitize(&r.name);
    let user = format!("load balancer {name}");
    let sku_name = r
        .body
        .key("sku")
        .and_then(|s| s.key("name"))
        .and_then(Val::as_str)
        .unwrap_or("Standard");
    let sku = match sku_name.to_ascii_lowercase().as_str() {
        "standard" => "Standard",
        "basic" => "Basic",
        _ => {
            c.mark(
                i,
                Status::Unsupported,
                format!("SKU {sku_name} is not modelled (Standard and Basic are)"),
            );
            return;
        }
    };
    if arr(&r.body, "frontendIPConfigurations").is_empty() {
        c.mark(i, Status::Unsupported, "traffic to its frontend IPs (load-balancing and inbound NAT rules) and outbound SNAT of its backend pools: its frontends are not in the sources (a resource listing, or Terraform's separate azurerm_lb_* resources, which are not assembled); export it with `az network lb list`");
        return;
    }
    let mut fes = Vec::new();
    for f in arr(&r.body, "frontendIPConfigurations") {
        match frontend(c, f, &user) {
            Ok(y) => fes.push(y),
            Err(why) => {
                c.mark(
                    i,
                    Status::Unsupported,
                    format!("{why}: traffic to its frontends is not modelled"),
                );
                return;
            }
        }
    }
    let mut pools = Vec::new();
    for p in arr(&r.body, "backendAddressPools") {
        let pid = p
            .key("id")
            .and_then(Val::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut nics: Vec<String> = arr(p, "backendIPConfigurations")
            .iter()
            .filter_map(ref_id)
            .filter_map(|id| nic_of_ip_config(c, id))
            .collect();
        nics.extend(from_nics.get(&pid).cloned().unwrap_or_default());
        for m in arr(p, "loadBalancerBackendAddresses") {
            match nic_by_address(c, m) {
                Some(n) => nics.push(n),
                None => c.unsupported(
                    &r.type_name,
                    &r.id,
                    format!(
                        "pool {} member {} is given by IP address and no imported NIC holds it; \
                         that member is not imported",
                        name_of(p),
                        text(m, "ipAddress").unwrap_or("?")
                    ),
                ),
            }
        }
        nics.sort();
        nics.dedup();
        pools.push(
            M::new()
                .put("name", Y::s(name_of(p)))
                .put("backends", Y::strs(nics))
                .y(),
        );
    }
    let probes: Vec<Y> = arr(&r.body, "probes")
        .iter()
        .map(|p| {
            let proto = match text(p, "protocol").map(str::to_ascii_lowercase).as_deref() {
                Some("http") => "Http",
                Some("https") => "Https",
                _ => "Tcp",
            };
            M::new()
                .put("name", Y::s(name_of(p)))
                .put("protocol", Y::s(proto))
                .put("port", Y::n(num(p, "port").unwrap_or(0)))
                .y()
        })
        .collect();
    let rules: Vec<Y> = arr(&r.body, "loadBalancingRules")
        .iter()
        .map(|x| {
            M::new()
                .put("name", Y::s(name_of(x)))
                .put(
                    "frontendIPConfiguration",
                    Y::s(ref_name(prop(x, "frontendIPConfiguration")).unwrap_or_default()),
                )
                .put(
                    "backendAddressPool",
                    Y::s(ref_name(prop(x, "backendAddressPool")).unwrap_or_default()),
                )
                .put("protocol", Y::s(protocol(x)))
                .put("frontendPort", Y::n(num(x, "frontendPort").unwrap_or(0)))
                .put("backendPort", Y::n(num(x, "backendPort").unwrap_or(0)))
                .opt("probe", ref_name(prop(x, "probe")).map(Y::s))
                .put(
                    "enableFloatingIP",
                    Y::b(flag(x, "enableFloatingIP").unwrap_or(false)),
                )
                .opt("loadDistribution", text(x, "loadDistribution").map(Y::s))
                .put(
                    "disableOutboundSnat",
                    Y::b(flag(x, "disableOutboundSnat").unwrap_or(false)),
                )
                .y()
        })
        .collect();
    let mut nat = Vec::new();
    for x in arr(&r.body, "inboundNatRules") {
        let fe = ref_name(prop(x, "frontendIPConfiguration")).unwrap_or_default();
        let base = M::new()
            .put("name", Y::s(name_of(x)))
            .put("frontendIPConfiguration", Y::s(fe))
            .put("protocol", Y::s(protocol(x)))
            .put("backendPort", Y::n(num(x, "backendPort").unwrap_or(0)))
            .put(
                "enableFloatingIP",
                Y::b(flag(x, "enableFloatingIP").unwrap_or(false)),
            );
        let backend = prop(x, "backendIPConfiguration")
            .and_then(ref_id)
            .and_then(|id| nic_of_ip_config(c, id));
        let y = match (
            backend,
            num(x, "frontendPortRangeStart"),
            ref_name(prop(x, "backendAddressPool")),
        ) {
            (_, Some(start), Some(pool)) => base
                .put("frontendPortRangeStart", Y::n(start))
                .put("backendAddressPool", Y::s(pool))
                .y(),
            (Some(nic), _, _) => base
                .put("frontendPort", Y::n(num(x, "frontendPort").unwrap_or(0)))
                .put("backend", Y::s(nic))
                .y(),
            _ => {
                c.report.note(format!(
                    "inbound NAT rule {} of {} has no backend in the sources; skipped",
                    name_of(x),
                    r.id
                ));
                continue;
            }
        };
        nat.push(y);
    }
    let outbound: Vec<Y> = arr(&r.body, "outboundRules")
        .iter()
        .map(|x| {
            let fes: Vec<String> = arr(x, "frontendIPConfigurations")
                .iter()
                .filter_map(|f| ref_id(f).map(|id| last_segment(id).to_string()))
                .collect();
            M::new()
                .put("name", Y::s(name_of(x)))
                .put("frontendIPConfigurations", Y::strs(fes))
                .put(
                    "backendAddressPool",
                    Y::s(ref_name(prop(x, "backendAddressPool")).unwrap_or_default()),
                )
                .put("protocol", Y::s(protocol(x)))
                .y()
        })
        .collect();
    let y = M::new()
        .put("name", Y::s(&name))
        .put("origin", c.origin(r))
        .put("sku", Y::s(sku))
        .put("frontendIPConfigurations", Y::Seq(fes))
        .put("backendAddressPools", Y::Seq(pools))
        .put("probes", Y::Seq(probes))
        .put("loadBalancingRules", Y::Seq(rules))
        .put("inboundNatRules", Y::Seq(nat))
        .put("outboundRules", Y::Seq(outbound))
        .y();
    c.emit("loadBalancers", name.clone(), y);
    c.mark(i, Status::Imported, format!("load balancer {name}"));
}

fn app_gateway(c: &mut Ctx, i: usize) {
    let r = c.res[i];
    let name = super::sanitize(&r.name);
    let user = format!("application gateway {name}");
    let tier = prop(&r.body, "sku")
        .and_then(|s| text(s, "tier").or_else(|| text(s, "name")))
        .unwrap_or("Standard_v2");
    let sku = match tier.to_ascii_lowercase().as_str() {
        "standard_v2" => "Standard_v2",
        "waf_v2" => "WAF_v2",
        _ => {
            c.mark(i, Status::Unsupported, format!("HTTP(S) traffic to its frontend (proxy): SKU {tier}, only v2 application gateways are modelled"));
            return;
        }
    };
    let Some(subnet) = arr(&r.body, "gatewayIPConfigurations")
        .first()
        .and_then(|g| prop(g, "subnet"))
        .and_then(|s| c.subnet_ref(s))
    else {
        c.mark(
            i,
            Status::Unsupported,
            "HTTP(S) traffic to its frontend (proxy): its gateway subnet is not in the sources",
        );
        return;
    };
    let (mut private, mut public) = (None, None);
    let mut fe_kind: BTreeMap<String, &str> = BTreeMap::new();
    for f in arr(&r.body, "frontendIPConfigurations") {
        let n = name_of(f);
        if prop(f, "publicIPAddress").is_some() {
            public = public_ip(c, prop(f, "publicIPAddress"), &user);
            fe_kind.insert(n, "Public");
        } else {
            private = ipv4(prop(f, "privateIPAddress")).map(|a| a.to_string());
            fe_kind.insert(n, "Private");
        }
    }
    let ports: BTreeMap<String, i64> = arr(&r.body, "frontendPorts")
        .iter()
        .map(|p| (name_of(p), num(p, "port").unwrap_or(0)))
        .collect();
    let settings: BTreeMap<String, i64> = arr(&r.body, "backendHttpSettingsCollection")
        .iter()
        .map(|p| (name_of(p), num(p, "port").unwrap_or(0)))
        .collect();
    let listeners: Vec<Y> = arr(&r.body, "httpListeners")
        .iter()
        .filter_map(|l| {
            let fe = ref_name(prop(l, "frontendIPConfiguration"))?;
            let port = ports.get(&ref_name(prop(l, "frontendPort"))?).copied()?;
            let proto = if text(l, "protocol").is_some_and(|p| p.eq_ignore_ascii_case("http")) {
                "Http"
            } else {
                "Https"
            };
            Some(
                M::new()
                    .put("name", Y::s(name_of(l)))
                    .put("frontend", Y::s(*fe_kind.get(&fe)?))
                    .put("port", Y::n(port))
                    .put("protocol", Y::s(proto))
                    .y(),
            )
        })
        .collect();
    let mut pools = Vec::new();
    for p in arr(&r.body, "backendAddressPools") {
        let mut ips = Vec::new();
        for a in arr(p, "backendAddresses") {
            if let Some(ip) = ipv4(a.key("ipAddress")) {
                ips.push(ip.to_string());
            } else if let Some(f) = a.key("fqdn").and_then(Val::as_str) {
                c.unsupported(&r.type_name, &r.id, format!("backend FQDN {f} of pool {} is not imported (resolved by DNS at run time); give its address", name_of(p)));
            }
        }
        let nics: Vec<String> = arr(p, "backendIPConfigurations")
            .iter()
            .filter_map(ref_id)
            .filter_map(|id| nic_of_ip_config(c, id))
            .collect();
        pools.push(
            M::new()
                .put("name", Y::s(name_of(p)))
                .put("backendAddresses", Y::strs(ips))
                .put("nics", Y::strs(nics))
                .y(),
        );
    }
    let rules: Vec<Y> = arr(&r.body, "requestRoutingRules")
        .iter()
        .filter_map(|x| {
            let pool = ref_name(prop(x, "backendAddressPool"))?;
            let port = settings
                .get(&ref_name(prop(x, "backendHttpSettings"))?)
                .copied()?;
            Some(
                M::new()
                    .put("name", Y::s(name_of(x)))
                    .put("listener", Y::s(ref_name(prop(x, "httpListener"))?))
                    .put("backendAddressPool", Y::s(pool))
                    .put("backendPort", Y::n(port))
                    .opt("priority", num(x, "priority").map(Y::n))
                    .y(),
            )
        })
        .collect();
    let y = M::new()
        .put("name", Y::s(&name))
        .put("origin", c.origin(r))
        .put("sku", Y::s(sku))
        .put("subnet", Y::s(subnet))
        .opt("privateIpAddress", private.clone().map(Y::s))
        .opt("publicIpAddress", public.clone().map(Y::s))
        .put("listeners", Y::Seq(listeners))
        .put("backendAddressPools", Y::Seq(pools))
        .put("routingRules", Y::Seq(rules))
        .y();
    c.emit("applicationGateways", name.clone(), y);
    c.mark(i, Status::Imported, format!("application gateway {name}"));
    let frontends = private.into_iter().chain(public).collect();
    super::waf::application_firewalls(c, i, &name, frontends);
}
