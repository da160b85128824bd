//! A generator of az CLI export bundles (the shapes of the hand-written
//! fixtures), for measuring import speed: one hub and `n - 1` spokes, each
//! spoke with a subnet, an NSG, the shared spoke route table and a peering
//! pair with the hub.

use std::fmt::Write;
use std::path::Path;

const SUB: &str = "/subscriptions/00000000-0000-4000-9000-000000000000";

fn net_id(rg: &str, ty: &str, name: &str) -> String {
    format!("{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/{ty}/{name}")
}

/// Spoke `i` (1-based) uses 10.a.b.0/24.
fn spoke_space(i: usize) -> String {
    format!("10.{}.{}.0", i / 256, i % 256)
}

fn peering(from: &str, name: &str, remote: &str, transit: bool) -> String {
    format!(
        r#"{{"allowForwardedTraffic": true, "allowGatewayTransit": {transit}, "allowVirtualNetworkAccess": true,
 "id": "{from}/virtualNetworkPeerings/{name}", "name": "{name}", "peeringState": "Connected",
 "remoteVirtualNetwork": {{"id": "{remote}"}}, "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
 "useRemoteGateways": false}}"#
    )
}

fn vnet(id: &str, name: &str, rg: &str, space: &str, subnets: &str, peerings: &[String]) -> String {
    format!(
        r#"{{"addressSpace": {{"addressPrefixes": ["{space}"]}}, "id": "{id}", "location": "westeurope", "name": "{name}",
 "resourceGroup": "{rg}", "subnets": [{subnets}], "type": "Microsoft.Network/virtualNetworks",
 "virtualNetworkPeerings": [{}]}}"#,
        peerings.join(",\n")
    )
}

fn nsg(i: usize) -> String {
    let id = net_id(
        "rg-spokes",
        "networkSecurityGroups",
        &format!("nsg-spoke-{i}"),
    );
    let p = spoke_space(i);
    format!(
        r#"{{"id": "{id}", "name": "nsg-spoke-{i}", "resourceGroup": "rg-spokes", "type": "Microsoft.Network/networkSecurityGroups",
 "securityRules": [
  {{"access": "Allow", "destinationAddressPrefix": "{p}/25", "destinationPortRange": "443", "direction": "Inbound",
   "name": "allow-https-hub", "priority": 200, "protocol": "Tcp", "sourceAddressPrefix": "172.16.0.0/16", "sourcePortRange": "*"}},
  {{"access": "Deny", "destinationAddressPrefix": "*", "destinationPortRanges": ["22", "3389"], "direction": "Inbound",
   "name": "deny-mgmt", "priority": 300, "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*"}}]}}"#
    )
}

/// The bundle's files: (`vnet.json`, ...) with their text.
pub fn az_bundle(n: usize) -> Vec<(&'static str, String)> {
    let hub_id = net_id("rg-hub", "virtualNetworks", "vnet-hub");
    let rt_id = net_id("rg-hub", "routeTables", "rt-spoke");
    let mut vnets = Vec::with_capacity(n);
    let mut hub_peerings = Vec::new();
    for i in 1..n {
        let name = format!("vnet-spoke-{i}");
        let id = net_id("rg-spokes", "virtualNetworks", &name);
        let p = spoke_space(i);
        let nsg_id = net_id(
            "rg-spokes",
            "networkSecurityGroups",
            &format!("nsg-spoke-{i}"),
        );
        let subnet = format!(
            r#"{{"addressPrefix": "{p}/25", "id": "{id}/subnets/snet-app", "name": "snet-app",
 "networkSecurityGroup": {{"id": "{nsg_id}"}}, "routeTable": {{"id": "{rt_id}"}}, "type": "Microsoft.Network/virtualNetworks/subnets"}}"#
        );
        let back = peering(&id, "to-hub", &hub_id, false);
        vnets.push(vnet(
            &id,
            &name,
            "rg-spokes",
            &format!("{p}/24"),
            &subnet,
            &[back],
        ));
        hub_peerings.push(peering(&hub_id, &format!("to-spoke-{i}"), &id, true));
    }
    let fw_subnet = format!(
        r#"{{"addressPrefix": "172.16.1.0/26", "id": "{hub_id}/subnets/AzureFirewallSubnet", "name": "AzureFirewallSubnet"}}"#
    );
    vnets.insert(
        0,
        vnet(
            &hub_id,
            "vnet-hub",
            "rg-hub",
            "172.16.0.0/16",
            &fw_subnet,
            &hub_peerings,
        ),
    );
    let nsgs: Vec<String> = (1..n).map(nsg).collect();
    let mut rt = String::new();
    let _ = write!(
        rt,
        r#"[{{"disableBgpRoutePropagation": true, "id": "{rt_id}", "name": "rt-spoke", "resourceGroup": "rg-hub",
 "type": "Microsoft.Network/routeTables", "routes": [{{"addressPrefix": "0.0.0.0/0", "name": "default",
 "nextHopIpAddress": "172.16.1.4", "nextHopType": "VirtualAppliance"}}]}}]"#
    );
    vec![
        ("vnet.json", format!("[{}]", vnets.join(",\n"))),
        ("nsg.json", format!("[{}]", nsgs.join(",\n"))),
        ("route-table.json", rt),
    ]
}

/// Writes [`az_bundle`] into `dir`.
pub fn write_az_bundle(dir: &Path, n: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in az_bundle(n) {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}
