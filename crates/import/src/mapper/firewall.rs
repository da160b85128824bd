//! Azure Firewall: classic rule collections, or a firewall policy with rule
//! collection groups (base policy first) and IP groups expanded.

use std::net::Ipv4Addr;

use super::network::public_ip;
use super::{arr, canon, flag, ipv4, ipv4_net, strings, text, Ctx, Kind};
use crate::ir::{parent_id, prop, ref_id, Resource};
use crate::json::Val;
use crate::report::Status;
use crate::yaml::{M, Y};

const RCG: &str = "microsoft.network/firewallpolicies/rulecollectiongroups";

/// A rule collection before flattening: (group priority, priority, kind, name, action, rules).
struct Coll<'a> {
    group: i64,
    priority: i64,
    kind: CollKind,
    name: String,
    action: String,
    rules: Vec<&'a Val>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CollKind {
    Network,
    Application,
    Nat,
}

pub(crate) fn firewalls(c: &mut Ctx) {
    for i in c.of_type("microsoft.network/azurefirewalls") {
        firewall(c, i);
    }
}

fn firewall(c: &mut Ctx, i: usize) {
    let r = c.res[i];
    let name = c.names[&(Kind::Firewall, r.id.to_ascii_lowercase())].clone();
    if prop(&r.body, "virtualHub").is_some() {
        c.mark(
            i,
            Status::Unsupported,
            "a secured Virtual WAN hub firewall: Virtual WAN is not modelled",
        );
        return;
    }
    let cfgs = arr(&r.body, "ipConfigurations");
    let Some(subnet_id) = cfgs
        .first()
        .and_then(|x| prop(x, "subnet"))
        .and_then(ref_id)
    else {
        c.error(
            r.pos,
            format!("firewall {} has no ipConfigurations[].subnet", r.id),
        );
        return;
    };
    let vnet_id = parent_id(subnet_id).unwrap_or("").to_string();
    let Some(vnet) = c
        .names
        .get(&(Kind::Vnet, vnet_id.to_ascii_lowercase()))
        .cloned()
    else {
        c.missing(r.pos, &vnet_id, "virtual network");
        return;
    };
    let Some(pip) = private_ip(c, r, &name, cfgs, subnet_id) else {
        return;
    };
    let mut publics = Vec::new();
    for cfg in cfgs {
        publics.extend(public_ip(
            c,
            prop(cfg, "publicIPAddress"),
            &format!("firewall {name}"),
        ));
    }
    let mut colls = classic(r);
    let mut ranges = private_ranges(&r.body);
    if let Some(p) = prop(&r.body, "firewallPolicy") {
        policy(c, r, p, &mut colls, &mut ranges, 0);
    }
    let (net, app, dnat) = flatten(c, &colls);
    dnat_destinations(c, &name, &dnat, &mut publics);
    let y = M::new()
        .put("name", Y::s(&name))
        .put("origin", c.origin(r))
        .put("vnet", Y::s(vnet))
        .put("privateIpAddress", Y::s(pip.to_string()))
        .put("publicIpAddresses", Y::strs(publics))
        .opt("privateRanges", ranges.map(Y::strs))
        .put("dnatRules", Y::Seq(dnat))
        .put("networkRuleCollections", Y::Seq(net))
        .put("applicationRuleCollections", Y::Seq(app))
        .y();
    c.emit("firewalls", name.clone(), y);
    c.mark(i, Status::Imported, format!("firewall {name}"));
}

/// The firewall's private IP: exported, `--set`, or the opt-in assumption.
fn private_ip(
    c: &mut Ctx,
    r: &Resource,
    name: &str,
    cfgs: &[Val],
    subnet_id: &str,
) -> Option<Ipv4Addr> {
    let key = format!("{name}.privateipaddress");
    let set = c
        .opts
        .sets
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        .map(|(_, v)| v.clone());
    if let Some(v) = set {
        return v.parse().ok().or_else(|| {
            c.error(
                r.pos,
                format!("--set {name}.privateIpAddress={v}: not an IPv4 address"),
            );
            None
        });
    }
    if let Some(a) = cfgs.iter().find_map(|x| ipv4(prop(x, "privateIPAddress"))) {
        return Some(a);
    }
    if c.opts.assume_firewall_ip {
        if let Some(a) = fourth_address(c, subnet_id) {
            c.report.note(format!("assumed: firewall '{name}' private IP is {a}, the first usable address of AzureFirewallSubnet"));
            return Some(a);
        }
    }
    c.error(
        r.pos,
        format!(
            "refused: firewall '{name}' gets its private IP address from Azure at deploy time; supply it with \
             --set {name}.privateIpAddress=ADDRESS, or pass --assume-firewall-ip (first usable address of AzureFirewallSubnet)"
        ),
    );
    None
}

/// The 4th address of a subnet (Azure reserves the first four less one: .4 is the first usable).
fn fourth_address(c: &Ctx, subnet_id: &str) -> Option<Ipv4Addr> {
    let vnet = c.get(parent_id(subnet_id)?)?;
    let leaf = crate::ir::last_segment(subnet_id);
    let v = &c.res[vnet].body;
    let mut all: Vec<&Val> = arr(v, "subnets").iter().collect();
    for i in c.children_of(&c.res[vnet].id, "microsoft.network/virtualnetworks/subnets") {
        all.push(&c.res[i].body);
    }
    let s = all.into_iter().find(|s| {
        s.key("name")
            .and_then(Val::as_str)
            .is_some_and(|n| crate::ir::last_segment(n).eq_ignore_ascii_case(leaf))
    })?;
    let net = ipv4_net(text(s, "addressPrefix")?)?;
    Some(Ipv4Addr::from(u32::from(net.network()).checked_add(4)?))
}

/// `privateRanges` from a policy's `snat` or a firewall's `Network.SNAT.PrivateRanges`.
fn private_ranges(v: &Val) -> Option<Vec<String>> {
    if let Some(p) = prop(v, "snat").and_then(|s| prop(s, "privateRanges")) {
        return Some(strings(Some(p)));
    }
    let extra =
        prop(v, "additionalProperties").and_then(|a| a.key("Network.SNAT.PrivateRanges"))?;
    Some(
        extra
            .as_str()?
            .split(',')
            .map(|s| s.trim().to_string())
            .collect(),
    )
}

/// Classic collections written on the firewall itself.
fn classic(r: &Resource) -> Vec<Coll<'_>> {
    let mut out = Vec::new();
    for (key, kind) in [
        ("networkRuleCollections", CollKind::Network),
        ("applicationRuleCollections", CollKind::Application),
        ("natRuleCollections", CollKind::Nat),
    ] {
        for col in arr(&r.body, key) {
            out.push(Coll {
                group: 0,
                priority: prop(col, "priority").and_then(Val::as_i64).unwrap_or(0),
                kind,
                name: col
                    .key("name")
                    .and_then(Val::as_str)
                    .unwrap_or("")
                    .to_string(),
                action: prop(col, "action")
                    .and_then(|a| text(a, "type").or(a.as_str()))
                    .unwrap_or("Allow")
                    .to_string(),
                rules: arr(col, "rules").iter().collect(),
            });
        }
    }
    out
}

/// Collections of a policy (its base policy first), from its rule collection groups.
fn policy<'a>(
    c: &mut Ctx<'a>,
    fw: &Resource,
    p: &Val,
    colls: &mut Vec<Coll<'a>>,
    ranges: &mut Option<Vec<String>>,
    depth: usize,
) {
    let Some(pid) = ref_id(p) else { return };
    let Some(pi) = c.get(pid) else {
        c.missing(p.pos, pid, "firewall policy");
        return;
    };
    let pr: &'a Resource = c.res[pi];
    c.mark(
        pi,
        Status::Imported,
        format!("rules of firewall {}", fw.name),
    );
    if let Some(base) = prop(&pr.body, "basePolicy") {
        if depth < 8 {
            policy(c, fw, base, colls, ranges, depth + 1);
        }
    }
    if let Some(r) = private_ranges(&pr.body) {
        *ranges = Some(r);
    }
    let mut groups: Vec<usize> = c.children_of(&pr.id, RCG);
    for g in arr(&pr.body, "ruleCollectionGroups") {
        let Some(gid) = ref_id(g) else { continue };
        match c.get(gid) {
            Some(gi) if !groups.contains(&gi) => groups.push(gi),
            Some(_) => {}
            None => c.missing(g.pos, gid, "rule collection group"),
        }
    }
    for gi in groups {
        c.mark(
            gi,
            Status::Imported,
            format!("rules of firewall {}", fw.name),
        );
        group(c.res[gi], colls, depth);
    }
}

fn group<'a>(g: &'a Resource, colls: &mut Vec<Coll<'a>>, depth: usize) {
    let gp = prop(&g.body, "priority").and_then(Val::as_i64).unwrap_or(0);
    for col in arr(&g.body, "ruleCollections") {
        let ty = text(col, "ruleCollectionType").unwrap_or("");
        let rules: Vec<&Val> = arr(col, "rules").iter().collect();
        let kind = if ty.eq_ignore_ascii_case("FirewallPolicyNatRuleCollection") {
            CollKind::Nat
        } else if rules
            .iter()
            .any(|r| text(r, "ruleType").is_some_and(|t| t.eq_ignore_ascii_case("ApplicationRule")))
        {
            CollKind::Application
        } else {
            CollKind::Network
        };
        colls.push(Coll {
            group: (8 - depth as i64) * 1_000_000 + gp,
            priority: prop(col, "priority").and_then(Val::as_i64).unwrap_or(0),
            kind,
            name: col
                .key("name")
                .and_then(Val::as_str)
                .unwrap_or("")
                .to_string(),
            action: prop(col, "action")
                .and_then(|a| text(a, "type").or(a.as_str()))
                .unwrap_or("Allow")
                .to_string(),
            rules,
        });
    }
}

/// Orders collections as Azure processes them and writes them in v1 form.
fn flatten(c: &mut Ctx, colls: &[Coll]) -> (Vec<Y>, Vec<Y>, Vec<Y>) {
    let mut order: Vec<&Coll> = colls.iter().collect();
    // Base policy (higher depth -> smaller group key) first, then group priority, then collection priority.
    order.sort_by_key(|x| {
        (
            std::cmp::Reverse(x.group / 1_000_000),
            x.group % 1_000_000,
            x.priority,
        )
    });
    let groups: std::collections::HashSet<i64> = colls.iter().map(|x| x.group).collect();
    let rank = groups.len() > 1;
    let (mut net, mut app, mut dnat) = (Vec::new(), Vec::new(), Vec::new());
    for x in order {
        let prio = if rank {
            100 + 10 * (net.len() + app.len()) as i64
        } else {
            x.priority
        };
        let action = canon(&x.action, &["Allow", "Deny", "Dnat"]).unwrap_or("Allow");
        match x.kind {
            CollKind::Nat => dnat.extend(x.rules.iter().filter_map(|r| nat_rule(c, x, r))),
            CollKind::Network => {
                let rules: Vec<Y> = x
                    .rules
                    .iter()
                    .filter_map(|r| network_rule(c, x, r))
                    .collect();
                net.push(collection(&x.name, prio, action, rules));
            }
            CollKind::Application => {
                let rules: Vec<Y> = x.rules.iter().filter_map(|r| app_rule(c, x, r)).collect();
                app.push(collection(&x.name, prio, action, rules));
            }
        }
    }
    if rank {
        c.report.note("firewall rule collections from several rule collection groups are renumbered 100, 110, ... in processing order");
    }
    (net, app, dnat)
}

fn collection(name: &str, prio: i64, action: &str, rules: Vec<Y>) -> Y {
    M::new()
        .put("name", Y::s(name))
        .put("priority", Y::n(prio))
        .put("action", Y::s(action))
        .put("rules", Y::Seq(rules))
        .y()
}

/// Addresses plus expanded IP groups; `Err` names what is not modelled.
fn addresses(c: &mut Ctx, r: &Val, side: &str) -> Result<Vec<String>, String> {
    let mut raw = strings(prop(r, &format!("{side}Addresses")));
    for g in strings(prop(r, &format!("{side}IpGroups"))) {
        match c.get(&g) {
            Some(gi) => {
                c.mark(
                    gi,
                    Status::Imported,
                    "addresses expanded into firewall rules",
                );
                raw.extend(strings(prop(&c.res[gi].body, "ipAddresses")));
            }
            None => {
                return Err(format!(
                    "IP group {g} is not in the sources (add `az network ip-group list`)"
                ))
            }
        }
    }
    let mut out = Vec::new();
    for a in raw {
        let a = a.trim();
        if a == "*" {
            out.push("*".to_string());
        } else if let Some(n) = ipv4_net(a) {
            out.push(n.to_string());
        } else if let Some(nets) = ip_range(a) {
            out.extend(nets);
        } else if let Some(t) = c.tags.and_then(|t| t.tags.get(a)) {
            // A service tag: its prefixes from the --service-tags file (the firewall's rules
            // hold addresses only).
            out.extend(t.prefixes.iter().map(|n| n.to_string()));
        } else {
            return Err(format!(
                "'{a}' is not an address: a service tag needs its prefixes from the import's \
                 --service-tags FILE, and FQDNs are not modelled in firewall rules"
            ));
        }
    }
    Ok(out)
}

fn rule_name(r: &Val) -> String {
    r.key("name")
        .and_then(Val::as_str)
        .unwrap_or("")
        .to_string()
}

/// A firewall rule's fields that cannot be written (each key and why) under `unresolved:`,
/// each reported as kept unresolved; `None` when every field is known.
fn unresolved(c: &mut Ctx, x: &Coll, r: &Val, fields: Vec<(&str, String)>) -> Option<Y> {
    if fields.is_empty() {
        return None;
    }
    let mut m = M::new();
    for (key, why) in fields {
        c.report.note(format!(
            "firewall rule {}/{} kept with its {key} unresolved: {why}",
            x.name,
            rule_name(r)
        ));
        m = m.put(key, Y::s(why));
    }
    Some(m.y())
}

/// An address side: its list, or (into `unknown`) why it is unresolved.
fn side(c: &mut Ctx, r: &Val, key: &str, unknown: &mut Vec<(&'static str, String)>) -> Option<Y> {
    let field: &'static str = if key == "source" {
        "source"
    } else {
        "destination"
    };
    match addresses(c, r, key) {
        Ok(a) => Some(Y::strs(a)),
        Err(e) => {
            unknown.push((field, e));
            None
        }
    }
}

fn protocols(r: &Val) -> Vec<String> {
    let mut p = strings(prop(r, "ipProtocols"));
    if p.is_empty() {
        p = strings(prop(r, "protocols"));
    }
    p.iter()
        .filter_map(|s| canon(s, &["TCP", "UDP", "ICMP", "Any"]).map(str::to_string))
        .collect()
}

fn network_rule(c: &mut Ctx, x: &Coll, r: &Val) -> Option<Y> {
    let mut unknown = Vec::new();
    let src = side(c, r, "source", &mut unknown);
    let fqdns = strings(prop(r, "destinationFqdns"));
    let dst = if fqdns.is_empty() {
        side(c, r, "destination", &mut unknown)
    } else {
        unknown.push((
            "destination",
            format!(
                "destinationFqdns {} are resolved by the firewall's DNS proxy, which vnetsim does not model",
                fqdns.join(", ")
            ),
        ));
        None
    };
    Some(
        M::new()
            .put("name", Y::s(rule_name(r)))
            .put("protocols", Y::strs(protocols(r)))
            .opt("source", src)
            .opt("destination", dst)
            .put(
                "destinationPorts",
                Y::strs(strings(prop(r, "destinationPorts"))),
            )
            .opt("unresolved", unresolved(c, x, r, unknown))
            .y(),
    )
}

fn app_rule(c: &mut Ctx, x: &Coll, r: &Val) -> Option<Y> {
    let mut unknown = Vec::new();
    let fqdns = strings(prop(r, "targetFqdns"));
    if fqdns.is_empty() {
        let named: Vec<String> = ["fqdnTags", "webCategories", "targetUrls"]
            .into_iter()
            .filter_map(|k| {
                let v = strings(prop(r, k));
                (!v.is_empty()).then(|| format!("{k} {}", v.join(", ")))
            })
            .collect();
        let what = if named.is_empty() {
            "no targetFqdns".to_string()
        } else {
            named.join("; ")
        };
        unknown.push((
            "targetFqdns",
            format!("{what}: only targetFqdns are modelled"),
        ));
    }
    let src = side(c, r, "source", &mut unknown);
    let protos: Vec<String> = arr(r, "protocols")
        .iter()
        .filter_map(|p| {
            let t = text(p, "protocolType")?;
            let port = prop(p, "port").and_then(Val::as_i64)?;
            Some(format!("{}:{port}", canon(t, &["Http", "Https", "Mssql"])?))
        })
        .collect();
    Some(
        M::new()
            .put("name", Y::s(rule_name(r)))
            .opt("source", src)
            .put("protocols", Y::strs(protos))
            .opt("targetFqdns", (!fqdns.is_empty()).then(|| Y::strs(fqdns)))
            .opt("unresolved", unresolved(c, x, r, unknown))
            .y(),
    )
}

fn nat_rule(c: &mut Ctx, x: &Coll, r: &Val) -> Option<Y> {
    let mut unknown = Vec::new();
    let to = ipv4(prop(r, "translatedAddress"));
    if to.is_none() {
        let why = match text(r, "translatedFqdn") {
            Some(f) => format!(
                "translatedFqdn {f} is resolved by the firewall's DNS, which vnetsim does not model"
            ),
            None => "the rule has no IPv4 translatedAddress".to_string(),
        };
        unknown.push(("translatedAddress", why));
    }
    let src = side(c, r, "source", &mut unknown);
    let port = prop(r, "translatedPort").and_then(Val::as_i64);
    let _ = flag(r, "enabled");
    Some(
        M::new()
            .put("name", Y::s(rule_name(r)))
            .put("protocols", Y::strs(protocols(r)))
            .opt("source", src)
            .put(
                "destination",
                Y::strs(strings(prop(r, "destinationAddresses"))),
            )
            .put(
                "destinationPorts",
                Y::strs(strings(prop(r, "destinationPorts"))),
            )
            .opt("translatedAddress", to.map(|a| Y::s(a.to_string())))
            .opt("translatedPort", port.map(Y::n))
            .opt("unresolved", unresolved(c, x, r, unknown))
            .y(),
    )
}

/// `10.0.0.1-10.0.0.6` as the exact list of prefixes covering it.
fn ip_range(a: &str) -> Option<Vec<String>> {
    let (x, y) = a.split_once('-')?;
    let lo = u32::from(x.trim().parse::<Ipv4Addr>().ok()?) as u64;
    let hi = u32::from(y.trim().parse::<Ipv4Addr>().ok()?) as u64;
    if lo > hi {
        return None;
    }
    let mut out = Vec::new();
    let mut cur = lo;
    while cur <= hi && out.len() < 64 {
        let mut len = 32u32;
        while len > 0 {
            let size = 1u64 << (33 - len);
            if !cur.is_multiple_of(size) || cur + size - 1 > hi {
                break;
            }
            len -= 1;
        }
        out.push(format!("{}/{len}", Ipv4Addr::from(cur as u32)));
        cur += 1u64 << (32 - len);
    }
    (cur > hi).then_some(out)
}

/// A DNAT rule's destination is one of the firewall's public IPs: when the
/// public IP resources are not in the sources, take the addresses from the rules.
fn dnat_destinations(c: &mut Ctx, name: &str, dnat: &[Y], publics: &mut Vec<String>) {
    for rule in dnat {
        let Y::Map(m) = rule else { continue };
        let Some((_, Y::Seq(dst))) = m.iter().find(|(k, _)| k == "destination") else {
            continue;
        };
        for d in dst {
            if let Y::Str(a) = d {
                if a.parse::<Ipv4Addr>().is_ok() && !publics.contains(a) {
                    c.report.note(format!(
                        "firewall '{name}': public IP {a} taken from its DNAT rules (the public IP resource is not in the sources)"
                    ));
                    publics.push(a.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ranges_become_exact_prefixes() {
        assert_eq!(
            super::ip_range("10.0.0.0-10.0.0.255").unwrap(),
            ["10.0.0.0/24"]
        );
        assert_eq!(
            super::ip_range("10.0.0.1-10.0.0.6").unwrap(),
            ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
        );
        assert_eq!(
            super::ip_range("0.0.0.0-255.255.255.255").unwrap(),
            ["0.0.0.0/0"]
        );
        assert!(super::ip_range("10.0.0.9-10.0.0.1").is_none());
    }
}
