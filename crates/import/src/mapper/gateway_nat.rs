//! VPN gateway NAT rules (`Microsoft.Network/virtualNetworkGateways/natRules`, inline
//! `natRules` on the gateway, Terraform `azurerm_virtual_network_gateway_nat_rule`) are not
//! modelled: each rule of an imported VPN gateway is reported unsupported with the gateway and
//! the address spaces of its internal and external mappings, so that a walk across the gateway
//! whose source or destination lies in one ends naming the rule. A rule whose mappings hold no
//! IPv4 prefix stands for every walk across the gateway.

use std::collections::HashMap;

use super::{arr, ipv4_net, text, Ctx, Kind};
use crate::ir::{last_segment, parent_id, prop, ref_id};
use crate::json::Val;
use crate::report::Status;

const GATEWAY: &str = "microsoft.network/virtualnetworkgateways";
const RULE: &str = "microsoft.network/virtualnetworkgateways/natrules";
const RULE_TYPE: &str = "Microsoft.Network/virtualNetworkGateways/natRules";
const CONNECTION: &str = "microsoft.network/connections";

pub(crate) fn nat_rules(c: &mut Ctx) {
    let links = connection_links(c);
    for i in c.of_type(GATEWAY) {
        let r = c.res[i];
        let imported = matches!(&c.status[i], Some((Status::Imported, _)));
        let Some(gateway) = c.names.get(&(Kind::Gateway, r.id.to_ascii_lowercase())) else {
            continue;
        };
        if !imported {
            continue;
        }
        let gateway = gateway.clone();
        let children = rule_resources(c, &r.id);
        let child_names: Vec<String> = children
            .iter()
            .map(|&k| last_segment(&c.res[k].name).to_ascii_lowercase())
            .collect();
        for rule in arr(&r.body, "natRules") {
            let name = text(rule, "name").map(last_segment).unwrap_or_default();
            if child_names.contains(&name.to_ascii_lowercase()) {
                continue; // the separately exported resource wins
            }
            let id = text(rule, "id").unwrap_or(&r.id).to_string();
            let (detail, prefixes) = described(rule, &gateway, links.get(&id.to_ascii_lowercase()));
            c.report.add(Status::Unsupported, RULE_TYPE, &id, detail);
            if let Some(e) = c.report.entries.last_mut() {
                e.gateway = Some(gateway.clone());
                e.prefixes = prefixes;
            }
        }
        for k in children {
            let res = c.res[k];
            let linked = links.get(&res.id.to_ascii_lowercase());
            let (detail, prefixes) = described(&res.body, &gateway, linked);
            c.mark(k, Status::Unsupported, detail);
            c.nat_rules.insert(k, (gateway.clone(), prefixes));
        }
    }
}

/// The NAT rule resources of the gateway `id`: its children, or those whose
/// `virtualNetworkGatewayId` (Terraform) names it.
fn rule_resources(c: &Ctx, id: &str) -> Vec<usize> {
    c.of_type(RULE)
        .into_iter()
        .filter(|&k| {
            let r = c.res[k];
            let parent = prop(&r.body, "virtualNetworkGatewayId")
                .and_then(ref_id)
                .or_else(|| parent_id(&r.id));
            parent.is_some_and(|p| p.eq_ignore_ascii_case(id))
        })
        .collect()
}

/// Lower-cased NAT rule id -> the connections that apply it (`NAME (ingress)`).
fn connection_links(c: &Ctx) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for i in c.of_type(CONNECTION) {
        let r = c.res[i];
        for (key, way) in [("ingressNatRules", "ingress"), ("egressNatRules", "egress")] {
            for x in prop(&r.body, key).and_then(Val::as_arr).unwrap_or(&[]) {
                if let Some(id) = ref_id(x) {
                    let v = out.entry(id.to_ascii_lowercase()).or_default();
                    v.push(format!("{} ({way})", r.name));
                }
            }
        }
    }
    out
}

/// What the rule would affect, and the IPv4 prefixes of its mappings.
fn described(rule: &Val, gateway: &str, linked: Option<&Vec<String>>) -> (String, Vec<String>) {
    let mode = text(rule, "mode").unwrap_or("EgressSnat");
    // az prints the rule's own type as typePropertiesType (its `type` is the resource type).
    let kind = text(rule, "typePropertiesType")
        .or_else(|| text(rule, "type").filter(|t| !t.contains('/')))
        .unwrap_or("Static");
    let (internal, ip) = mappings(rule, "internalMappings");
    let (external, ep) = mappings(rule, "externalMappings");
    let mut prefixes = ip;
    for p in ep {
        if !prefixes.contains(&p) {
            prefixes.push(p);
        }
    }
    let applied = match linked {
        Some(v) => format!("applied by connection {}", v.join(", ")),
        None => "linked to no connection in the sources".to_string(),
    };
    let scope = if prefixes.is_empty() {
        "no IPv4 mapping: every walk across the gateway".to_string()
    } else {
        "walks across the gateway from or to these address spaces".to_string()
    };
    let detail = format!(
        "{mode} {kind} NAT on VPN gateway {gateway} (internal {internal}, external {external}; \
         {applied}): address rewriting is not modelled; {scope}"
    );
    (detail, prefixes)
}

/// A mapping list as text (`10.0.1.0/24 ports 1000-2000`) and its IPv4 prefixes.
fn mappings(rule: &Val, key: &str) -> (String, Vec<String>) {
    let mut shown = Vec::new();
    let mut prefixes = Vec::new();
    for m in prop(rule, key).and_then(Val::as_arr).unwrap_or(&[]) {
        let space = text(m, "addressSpace").unwrap_or("").trim();
        let ports = text(m, "portRange").filter(|p| !p.is_empty());
        shown.push(match ports {
            Some(p) => format!("{space} ports {p}"),
            None => space.to_string(),
        });
        if let Some(n) = ipv4_net(space) {
            prefixes.push(n.to_string());
        }
    }
    if shown.is_empty() {
        shown.push("none".to_string());
    }
    (shown.join(", "), prefixes)
}
