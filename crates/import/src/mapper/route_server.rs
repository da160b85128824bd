//! Azure Route Server: a `Microsoft.Network/virtualHubs` without a virtual WAN (ARM, az
//! `network routeserver list`, Terraform `azurerm_route_server`), its `ipConfigurations` (the
//! subnet) and `bgpConnections` (az `network routeserver peering list`, Terraform
//! `azurerm_route_server_bgp_connection`). A hub of a virtual WAN stays unsupported.
//!
//! The routes each NVA advertises are in no resource export: peers are imported with the routes
//! `az network routeserver peering list-learned-routes` files give for their peer IP (each
//! route's `sourcePeer`), else with none, and the report says so.

use super::{arr, flag, ipv4, text, Ctx};
use crate::ir::{parent_id, prop, ref_id, Resource};
use crate::json::Val;
use crate::report::Status;
use crate::yaml::{M, Y};

const HUB: &str = "microsoft.network/virtualhubs";
const IP_CONFIG: &str = "microsoft.network/virtualhubs/ipconfigurations";
const BGP: &str = "microsoft.network/virtualhubs/bgpconnections";
/// The type given to a `list-learned-routes` document.
const LEARNED: &str = "vnetsim/routeserverlearnedroutes";

/// A `list-learned-routes` document as a resource the mapper reads.
pub(crate) fn learned_routes_source(v: Val, file: &str) -> Resource {
    Resource {
        id: format!("{file} (list-learned-routes)"),
        type_name: "vnetsim/routeServerLearnedRoutes".to_string(),
        name: file.to_string(),
        subscription: None,
        resource_group: None,
        tenant: None,
        source: file.to_string(),
        pos: v.pos,
        body: v,
    }
}

/// Routes learned from each peer IP: (prefix, AS path), each once.
type Learned = Vec<(std::net::Ipv4Addr, Vec<(String, Vec<u32>)>)>;

fn learned_routes(c: &mut Ctx) -> Learned {
    let mut out: Learned = Vec::new();
    for i in c.of_type(LEARNED) {
        let doc = &c.res[i].body;
        let mut n = 0;
        for (_, routes) in doc.as_obj().unwrap_or(&[]) {
            for r in routes.as_arr().unwrap_or(&[]) {
                let peer = ipv4(r.key("sourcePeer")).or_else(|| ipv4(r.key("nextHop")));
                let net = r.key("network").and_then(Val::as_str);
                let (Some(peer), Some(net)) = (peer, net) else {
                    c.error(
                        r.pos,
                        "a learned route needs 'network' and 'sourcePeer' (or 'nextHop')",
                    );
                    continue;
                };
                if super::ipv4_net(net).is_none() {
                    c.error(
                        r.pos,
                        format!("learned route network '{net}' is not an IPv4 prefix"),
                    );
                    continue;
                }
                let path = as_path(r.key("asPath").and_then(Val::as_str).unwrap_or(""));
                let slot = match out.iter().position(|(p, _)| *p == peer) {
                    Some(k) => k,
                    None => {
                        out.push((peer, Vec::new()));
                        out.len() - 1
                    }
                };
                if !out[slot].1.iter().any(|(p, _)| p == net) {
                    out[slot].1.push((net.to_string(), path));
                    n += 1;
                }
            }
        }
        c.mark(
            i,
            Status::Imported,
            format!("{n} routes learned by a route server"),
        );
    }
    out
}

/// An AS path as `list-learned-routes` prints it (`65001-65050` or `65001 65050`).
fn as_path(s: &str) -> Vec<u32> {
    s.split(['-', ' ', ','])
        .filter_map(|a| a.trim().parse().ok())
        .collect()
}

pub(crate) fn route_servers(c: &mut Ctx) {
    let conns = c.of_type(BGP);
    let learned = learned_routes(c);
    for i in c.of_type(HUB) {
        route_server(c, i, &conns, &learned);
    }
}

/// The hub a BGP connection belongs to: its `routeServerId` (Terraform), else its id's parent.
fn owner_of(r: &Resource) -> String {
    prop(&r.body, "routeServerId")
        .and_then(ref_id)
        .or_else(|| parent_id(&r.id))
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn route_server(c: &mut Ctx, i: usize, conns: &[usize], learned: &Learned) {
    let r = c.res[i];
    if prop(&r.body, "virtualWan").and_then(ref_id).is_some() {
        return; // a virtual WAN hub: the classification's "unsupported" stands
    }
    let mut configs: Vec<&Val> = arr(&r.body, "ipConfigurations").iter().collect();
    for k in c.children_of(&r.id, IP_CONFIG) {
        configs.push(&c.res[k].body);
        c.mark(
            k,
            Status::Imported,
            format!("part of route server {}", r.name),
        );
    }
    let subnet = configs
        .iter()
        .find_map(|x| prop(x, "subnet"))
        .or_else(|| subnet_holding(c, &r.id));
    let Some(path) = subnet.and_then(|s| c.subnet_ref(s)) else {
        if subnet.is_none() {
            c.error(
                r.pos,
                format!(
                    "route server {} has no ipConfigurations[].subnet (export its ipConfigurations \
                     with `az network routeserver show`)",
                    r.id
                ),
            );
        }
        return;
    };
    let (vnet, subnet_name) = path.split_once('/').unwrap_or((&path, ""));
    let name = super::sanitize(&r.name);
    let me = r.id.to_ascii_lowercase();
    let mut peers: Vec<Y> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mine: Vec<usize> = conns
        .iter()
        .copied()
        .filter(|&k| owner_of(c.res[k]) == me)
        .collect();
    for k in mine {
        if let Some((p, known)) = peer(c, k, learned) {
            peers.push(p.0);
            if !known {
                unknown.push(p.1);
            }
        }
    }
    let ips = arr(&r.body, "virtualRouterIps")
        .iter()
        .filter_map(|v| ipv4(Some(v)))
        .map(|a| a.to_string());
    let y = M::new()
        .put("name", Y::s(&name))
        .put("origin", c.origin(r))
        .put("vnet", Y::s(vnet))
        .put("subnet", Y::s(subnet_name))
        .put(
            "allowBranchToBranchTraffic",
            Y::b(flag(&r.body, "allowBranchToBranchTraffic").unwrap_or(false)),
        )
        .put("instanceAddresses", Y::strs(ips))
        .put("bgpPeers", Y::Seq(peers))
        .y();
    if !unknown.is_empty() {
        c.report.note(format!(
            "route server '{name}': the routes BGP peers {} advertise are not in any resource \
             export; they are imported with none (add them under bgpPeers[].advertises, or import \
             `az network routeserver peering list-learned-routes -o json` with the rest)",
            unknown.join(", ")
        ));
    }
    c.emit("routeServers", name.clone(), y);
    c.mark(i, Status::Imported, format!("route server {name}"));
}

/// The subnet whose `ipConfigurations` name one of the hub's (`az network vnet list` lists them;
/// `az network routeserver list` gives the hub's ipConfigurations as ids only): its `id`.
fn subnet_holding<'a>(c: &Ctx<'a>, hub_id: &str) -> Option<&'a Val> {
    let prefix = format!("{}/ipconfigurations/", hub_id.to_ascii_lowercase());
    let holds = |s: &Val| {
        arr(s, "ipConfigurations")
            .iter()
            .any(|x| ref_id(x).is_some_and(|id| id.to_ascii_lowercase().starts_with(&prefix)))
    };
    let vnets = c.of_type("microsoft.network/virtualnetworks");
    let inline = vnets
        .iter()
        .flat_map(|&i| arr(&c.res[i].body, "subnets").iter());
    let children = c
        .of_type("microsoft.network/virtualnetworks/subnets")
        .into_iter()
        .map(|i| &c.res[i].body);
    inline
        .chain(children)
        .find(|s| holds(s))
        .and_then(|s| s.key("id"))
}

/// A peer's entry, its name, and whether its advertised routes were known.
fn peer(c: &mut Ctx, k: usize, learned: &Learned) -> Option<((Y, String), bool)> {
    let r = c.res[k];
    let ip = ipv4(prop(&r.body, "peerIp"));
    let asn = prop(&r.body, "peerAsn").and_then(Val::as_i64);
    let (Some(ip), Some(asn)) = (ip, asn) else {
        c.error(
            r.pos,
            format!("BGP connection {} needs peerIp and peerAsn", r.id),
        );
        return None;
    };
    c.mark(k, Status::Imported, "route server BGP peer");
    let name = super::sanitize(text(&r.body, "name").unwrap_or(&r.name));
    let name = crate::ir::last_segment(&name).to_string();
    let routes = learned.iter().find(|(p, _)| *p == ip).map(|(_, r)| r);
    let advertises = routes.map(|rs| {
        let items = rs.iter().map(|(net, path)| {
            M::new()
                .put("prefix", Y::s(net))
                .put("asPath", Y::Seq(path.iter().map(Y::n).collect()))
                .y()
        });
        Y::Seq(items.collect())
    });
    let y = M::new()
        .put("name", Y::s(&name))
        .put("peerIp", Y::s(ip.to_string()))
        .put("peerAsn", Y::n(asn))
        .opt("advertises", advertises)
        .y();
    Some(((y, name), routes.is_some()))
}
