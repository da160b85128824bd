//! Azure Virtual Network Manager: network managers with their network groups (static members),
//! security admin configurations (rule collections, admin rules) and connectivity
//! configurations, from their ARM shapes (child resources by id). Configurations are taken as
//! deployed: which regions a configuration was committed to is not in the exports.

use super::network::{written_sides, Side};
use super::{arr, canon, text, Ctx, Kind};
use crate::ir::{last_segment, prop, ref_id, Resource};
use crate::json::Val;
use crate::report::Status;
use crate::yaml::{M, Y};

const NM: &str = "microsoft.network/networkmanagers";
const GROUP: &str = "microsoft.network/networkmanagers/networkgroups";
const MEMBER: &str = "microsoft.network/networkmanagers/networkgroups/staticmembers";
const SAC: &str = "microsoft.network/networkmanagers/securityadminconfigurations";
const COLLECTION: &str =
    "microsoft.network/networkmanagers/securityadminconfigurations/rulecollections";
const RULE: &str =
    "microsoft.network/networkmanagers/securityadminconfigurations/rulecollections/rules";
const CONNECTIVITY: &str = "microsoft.network/networkmanagers/connectivityconfigurations";

fn short(r: &Resource) -> String {
    last_segment(&r.name).to_string()
}

pub(crate) fn network_managers(c: &mut Ctx) {
    for i in c.of_type(NM) {
        let r = c.res[i];
        let name = super::sanitize(&r.name);
        let groups = network_groups(c, r);
        let sacs = admin_configurations(c, r);
        let conns = connectivity(c, r);
        let y = M::new()
            .put("name", Y::s(&name))
            .put("origin", c.origin(r))
            .put("networkGroups", Y::Seq(groups))
            .put("securityAdminConfigurations", Y::Seq(sacs))
            .put("connectivityConfigurations", Y::Seq(conns))
            .y();
        c.emit("networkManagers", name.clone(), y);
        c.mark(i, Status::Imported, format!("network manager {name}"));
    }
}

fn network_groups(c: &mut Ctx, r: &Resource) -> Vec<Y> {
    let mut out = Vec::new();
    for gi in c.children_of(&r.id, GROUP) {
        let g = c.res[gi];
        let mut members = Vec::new();
        for mi in c.children_of(&g.id, MEMBER) {
            let m = c.res[mi];
            c.mark(
                mi,
                Status::Imported,
                format!("member of network group {}", short(g)),
            );
            let Some(v) = prop(&m.body, "resourceId") else {
                continue;
            };
            if let Some(n) = c.name_ref(Kind::Vnet, v, "virtual network") {
                members.push(n);
            }
        }
        if prop(&g.body, "memberType").and_then(Val::as_str) == Some("Subnet") {
            c.unsupported(
                &g.type_name,
                &g.id,
                "a network group of subnets: only VNet members are modelled",
            );
        }
        c.mark(gi, Status::Imported, format!("network group {}", short(g)));
        out.push(
            M::new()
                .put("name", Y::s(short(g)))
                .put("members", Y::strs(members))
                .y(),
        );
    }
    out
}

fn group_names(v: &Val) -> Vec<String> {
    arr(v, "appliesToGroups")
        .iter()
        .filter_map(|g| g.key("networkGroupId").and_then(Val::as_str))
        .map(|id| last_segment(id).to_string())
        .collect()
}

fn admin_configurations(c: &mut Ctx, r: &Resource) -> Vec<Y> {
    let mut out = Vec::new();
    for si in c.children_of(&r.id, SAC) {
        let s = c.res[si];
        let mut collections = Vec::new();
        for ci in c.children_of(&s.id, COLLECTION) {
            let rc = c.res[ci];
            let mut rules = Vec::new();
            for ri in c.children_of(&rc.id, RULE) {
                let ru = c.res[ri];
                c.mark(ri, Status::Imported, format!("admin rule {}", short(ru)));
                if let Some(y) = admin_rule(c, ru) {
                    rules.push(y);
                }
            }
            rules.sort_by(|a, b| a.0.cmp(&b.0));
            c.mark(
                ci,
                Status::Imported,
                format!("admin rule collection {}", short(rc)),
            );
            let groups = group_names(props_of(rc));
            collections.push(
                M::new()
                    .put("name", Y::s(short(rc)))
                    .put("appliesToGroups", Y::strs(groups))
                    .put("rules", Y::Seq(rules.into_iter().map(|x| x.1).collect()))
                    .y(),
            );
        }
        c.mark(
            si,
            Status::Imported,
            format!("security admin configuration {}", short(s)),
        );
        out.push(
            M::new()
                .put("name", Y::s(short(s)))
                .put("ruleCollections", Y::Seq(collections))
                .y(),
        );
    }
    out
}

fn props_of(r: &Resource) -> &Val {
    r.body.key("properties").unwrap_or(&r.body)
}

/// One address side of an admin rule: unresolved when it names a service tag the import has
/// no data for.
fn side(c: &Ctx, v: &Val, key: &str) -> Side {
    let mut out = Vec::new();
    for a in arr(v, key) {
        let Some(p) = a.key("addressPrefix").and_then(Val::as_str) else {
            continue;
        };
        let tag = a.key("addressPrefixType").and_then(Val::as_str) == Some("ServiceTag");
        if tag
            && !["VirtualNetwork", "AzureLoadBalancer", "Internet", "*"]
                .iter()
                .any(|t| t.eq_ignore_ascii_case(p))
        {
            match super::service_tag(c, p) {
                Ok(t) => out.push(t),
                Err(e) => return Side::Unresolved(e),
            }
            continue;
        }
        out.push(p.to_string());
    }
    if out.is_empty() {
        out.push("*".into());
    }
    Side::Known(out)
}

fn port_list(v: &Val, key: &str) -> Vec<String> {
    let p: Vec<String> = arr(v, key)
        .iter()
        .filter_map(Val::as_str)
        .map(str::to_string)
        .collect();
    if p.is_empty() {
        vec!["*".into()]
    } else {
        p
    }
}

fn admin_rule(c: &mut Ctx, r: &Resource) -> Option<(String, Y)> {
    let name = short(r);
    let p = props_of(r);
    if r.body.key("kind").and_then(Val::as_str) == Some("Default") {
        let flag = text(p, "flag").unwrap_or("(no flag)").to_string();
        if text(p, "direction").is_none() || p.key("priority").is_none() {
            return Some(default_rule_by_flag(c, &name, &flag));
        }
        c.report.note(format!(
            "admin rule {name}: a Default rule (flag {flag}), imported from the fields Azure reports for it"
        ));
    }
    let sides = [
        ("sources", side(c, p, "sources")),
        ("destinations", side(c, p, "destinations")),
    ];
    let rule = format!("admin rule {name}");
    let ([src, dst], unresolved) = written_sides(c, sides, (&r.type_name, &r.id, &rule))?;
    let dir = canon(text(p, "direction").unwrap_or(""), &["Inbound", "Outbound"]);
    let access = canon(
        text(p, "access").unwrap_or(""),
        &["Allow", "Deny", "AlwaysAllow"],
    );
    let proto = canon(
        text(p, "protocol").unwrap_or("Any"),
        &["Tcp", "Udp", "Icmp", "Esp", "Ah", "Any"],
    );
    let prio = p.key("priority").and_then(Val::as_i64);
    let (Some(dir), Some(access), Some(proto), Some(prio)) = (dir, access, proto, prio) else {
        c.error(
            r.pos,
            format!("admin rule '{name}' lacks a valid direction, access, protocol or priority"),
        );
        return None;
    };
    let y = M::new()
        .put("name", Y::s(&name))
        .put("priority", Y::n(prio))
        .put("direction", Y::s(dir))
        .put("access", Y::s(access))
        .put("protocol", Y::s(proto))
        .opt("sources", src)
        .put(
            "sourcePortRanges",
            Y::strs(port_list(p, "sourcePortRanges")),
        )
        .opt("destinations", dst)
        .put(
            "destinationPortRanges",
            Y::strs(port_list(p, "destinationPortRanges")),
        )
        .opt("unresolved", unresolved)
        .y();
    Some((format!("{dir}{prio:06}"), y))
}

/// A Default (built-in) admin rule the source knows by its flag only: Azure documents no rule
/// set for a flag, so every field but the name is unresolved and a flow it could match (any,
/// at a NIC of the collection's VNets) ends naming it.
fn default_rule_by_flag(c: &mut Ctx, name: &str, flag: &str) -> (String, Y) {
    let why = format!(
        "Default rule flag '{flag}': its rule set is not in the source (export the rule with `az \
         network manager security-admin-config rule-collection rule show`, which reports it)"
    );
    c.report
        .note(format!("admin rule {name} kept unresolved: {why}"));
    let mut u = M::new().put("priority", Y::s(&why));
    for k in ["direction", "access", "protocol", "sources", "destinations"] {
        u = u.put(k, Y::s(format!("Default rule flag '{flag}'")));
    }
    let y = M::new()
        .put("name", Y::s(name))
        .put("unresolved", u.y())
        .y();
    (format!("Default\u{0}{name}"), y)
}

fn connectivity(c: &mut Ctx, r: &Resource) -> Vec<Y> {
    let mut out = Vec::new();
    for ci in c.children_of(&r.id, CONNECTIVITY) {
        let cc = c.res[ci];
        let p = props_of(cc);
        let topo = canon(
            text(p, "connectivityTopology").unwrap_or(""),
            &["Mesh", "HubAndSpoke"],
        );
        let Some(topo) = topo else {
            c.error(
                cc.pos,
                format!(
                    "connectivity configuration '{}' has no valid connectivityTopology",
                    short(cc)
                ),
            );
            continue;
        };
        let hub = arr(p, "hubs")
            .first()
            .and_then(|h| h.key("resourceId"))
            .and_then(|v| c.name_ref(Kind::Vnet, v, "virtual network"));
        let groups: Vec<Y> = arr(p, "appliesToGroups")
            .iter()
            .filter_map(|g| {
                let id = g.key("networkGroupId").and_then(Val::as_str)?;
                let direct =
                    g.key("groupConnectivity").and_then(Val::as_str) == Some("DirectlyConnected");
                let gw = match g.key("useHubGateway") {
                    Some(v) => v
                        .as_bool()
                        .unwrap_or(v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))),
                    None => false,
                };
                Some(
                    M::new()
                        .put("networkGroup", Y::s(last_segment(id)))
                        .put(
                            "groupConnectivity",
                            Y::s(if direct { "DirectlyConnected" } else { "None" }),
                        )
                        .put("useHubGateway", Y::b(gw))
                        .y(),
                )
            })
            .collect();
        let _ = ref_id;
        c.mark(
            ci,
            Status::Imported,
            format!("connectivity configuration {}", short(cc)),
        );
        out.push(
            M::new()
                .put("name", Y::s(short(cc)))
                .put("connectivityTopology", Y::s(topo))
                .opt("hub", hub.map(Y::s))
                .put("appliesToGroups", Y::Seq(groups))
                .y(),
        );
    }
    out
}
