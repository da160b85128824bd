//! NAT gateways (`Microsoft.Network/natGateways`): their public IP addresses and prefixes,
//! resolved from the imported `publicIPAddresses` and `publicIPPrefixes`, and the subnets
//! they serve (the subnet's `natGateway` reference, or the gateway's `subnets` list).
//!
//! A public IP or prefix whose address is not in the sources (a dynamic or not yet allocated
//! address, a template) is refused with the `--set NAME.ipAddress=VALUE` (or
//! `NAME.ipPrefix=VALUE`) that supplies it, like every deploy-time value.

use std::collections::HashMap;

use super::{arr, ipv4_net, text, Ctx, Kind};
use crate::ir::{prop, ref_id};
use crate::report::Status;
use crate::yaml::{M, Y};

pub(crate) const NAT_GATEWAY: &str = "microsoft.network/natgateways";

/// Emits every NAT gateway whose details are in the sources; returns subnet id (lower case)
/// to gateway name from the gateways' own `subnets` lists. Runs before the VNets, whose
/// subnets name the gateways.
pub(crate) fn nat_gateways(c: &mut Ctx) -> HashMap<String, String> {
    let mut served = HashMap::new();
    for i in c.of_type(NAT_GATEWAY) {
        let r = c.res[i];
        let key = (Kind::NatGateway, r.id.to_ascii_lowercase());
        let Some(name) = c.names.get(&key).cloned() else {
            continue;
        };
        let listed = ["publicIpAddresses", "publicIpPrefixes", "subnets"]
            .iter()
            .any(|k| prop(&r.body, k).is_some());
        if !listed {
            c.mark(i, Status::Unsupported, "outbound Internet traffic (SNAT) of the subnets it is attached to: its public IPs are not in the sources (a resource listing); export it with `az network nat gateway list -o json`");
            c.names.remove(&key);
            continue;
        }
        let user = format!("NAT gateway {name}");
        let addresses = resolve(c, arr(&r.body, "publicIpAddresses"), &user, "ipAddress");
        let prefixes = resolve(c, arr(&r.body, "publicIpPrefixes"), &user, "ipPrefix");
        if addresses.is_empty() && prefixes.is_empty() {
            c.mark(i, Status::Unsupported, "a NAT gateway with no public IP address or prefix gives its subnets no outbound connectivity; not imported");
            c.names.remove(&key);
            continue;
        }
        for s in arr(&r.body, "subnets").iter().filter_map(ref_id) {
            served.insert(s.to_ascii_lowercase(), name.clone());
        }
        let y = M::new()
            .put("name", Y::s(&name))
            .put("origin", c.origin(r))
            .opt(
                "publicIpAddresses",
                (!addresses.is_empty()).then(|| Y::strs(addresses)),
            )
            .opt(
                "publicIpPrefixes",
                (!prefixes.is_empty()).then(|| Y::strs(prefixes)),
            )
            .y();
        c.emit("natGateways", name.clone(), y);
        c.mark(i, Status::Imported, format!("nat gateway {name}"));
    }
    served
}

/// The addresses (`field` ipAddress) or prefixes (`ipPrefix`) of the referenced resources.
fn resolve(c: &mut Ctx, refs: &[crate::json::Val], user: &str, field: &str) -> Vec<String> {
    let what = if field == "ipAddress" {
        "public IP address"
    } else {
        "public IP prefix"
    };
    let mut out = Vec::new();
    for v in refs {
        let Some(id) = ref_id(v) else { continue };
        let Some(i) = c.get(id) else {
            c.missing(v.pos, id, what);
            continue;
        };
        let r = c.res[i];
        c.mark(i, Status::Imported, format!("public address of {user}"));
        let set = super::set_value(c, &r.name, field);
        let value = set.or_else(|| text(&r.body, field).map(str::to_string));
        let parsed = value.as_deref().and_then(|s| {
            if field == "ipAddress" {
                s.trim()
                    .parse::<std::net::Ipv4Addr>()
                    .ok()
                    .map(|a| a.to_string())
            } else {
                ipv4_net(s).map(|n| n.to_string())
            }
        });
        match parsed {
            Some(a) => out.push(a),
            None => c.error(
                v.pos,
                format!(
                    "refused: {what} '{}' of {user} has no IPv4 {field} in the sources (Azure \
                     assigns it at deploy time, or it is IPv6); supply it with --set {}.{field}=VALUE",
                    r.name, r.name
                ),
            ),
        }
    }
    out.sort();
    out.dedup();
    out
}
