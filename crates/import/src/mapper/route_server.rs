//! Azure Route Server: a `Microsoft.Network/virtualHubs` without a virtual WAN (ARM, az
//! `network routeserver list`, Terraform `azurerm_route_server`), its `ipConfigurations` (the
//! subnet) and `bgpConnections` (az `network routeserver peering list`, Terraform
//! `azurerm_route_server_bgp_connection`). A hub of a virtual WAN stays unsupported.
//!
//! The routes each NVA advertises are in no export: peers are imported with none, and the
//! report says so.

use super::{arr, flag, ipv4, text, Ctx};
use crate::ir::{parent_id, prop, ref_id, Resource};
use crate::json::Val;
use crate::report::Status;
use crate::yaml::{M, Y};

const HUB: &str = "microsoft.network/virtualhubs";
const IP_CONFIG: &str = "microsoft.network/virtualhubs/ipconfigurations";
const BGP: &str = "microsoft.network/virtualhubs/bgpconnections";

pub(crate) fn route_servers(c: &mut Ctx) {
    let conns = c.of_type(BGP);
    for i in c.of_type(HUB) {
        route_server(c, i, &conns);
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

fn route_server(c: &mut Ctx, i: usize, conns: &[usize]) {
    let r = c.res[i];
    if prop(&r.body, "virtualWan").and_then(ref_id).is_some() {
        return; // a virtual WAN hub: the classification's "unsupported" stands
    }
    let mut configs: Vec<&Val> = arr(&r.body, "ipConfigurations").iter().collect();
    for k in c.children_of(&r.id, IP_CONFIG) {
        configs.push(&c.res[k].body);
        c.mark(k, Status::Imported, format!("part of route server {}", r.name));
    }
    let subnet = configs.iter().find_map(|x| prop(x, "subnet"));
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
    let mine: Vec<usize> = conns
        .iter()
        .copied()
        .filter(|&k| owner_of(c.res[k]) == me)
        .collect();
    for k in mine {
        if let Some(p) = peer(c, k) {
            peers.push(p);
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
    c.report.note(format!(
        "route server '{name}': the routes its BGP peers advertise are not in any export; its \
         peers are imported with none (add them under bgpPeers[].advertises, e.g. from \
         `az network routeserver peering list-learned-routes`)"
    ));
    c.emit("routeServers", name.clone(), y);
    c.mark(i, Status::Imported, format!("route server {name}"));
}

fn peer(c: &mut Ctx, k: usize) -> Option<Y> {
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
    Some(
        M::new()
            .put("name", Y::s(name))
            .put("peerIp", Y::s(ip.to_string()))
            .put("peerAsn", Y::n(asn))
            .y(),
    )
}
