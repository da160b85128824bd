//! The virtual network gateway as a router, through the real binary: spoke-to-spoke through
//! the hub gateway, site-to-site transit over BGP and its absence toward a static site, and
//! VNet-to-VNet connections with and without BGP. Expected values from Microsoft's
//! documentation, cited per case.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixture(subst: &[(&str, &str)]) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gateways.yaml");
    if subst.is_empty() {
        return src;
    }
    let mut text = std::fs::read_to_string(src).unwrap();
    for (k, v) in subst {
        assert!(text.contains(k), "{k}");
        text = text.replace(k, v);
    }
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-gateways-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let tag: String = subst
        .iter()
        .flat_map(|(_, v)| v.chars())
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let p = d.join(format!("gateways-{}.yaml", &tag[..tag.len().min(80)]));
    std::fs::write(&p, text).unwrap();
    p
}

fn trace(topo: &Path, src: &str, dst: &str) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args([
            "trace",
            topo.to_str().unwrap(),
            "--src",
            src,
            "--dst",
            dst,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn nodes(leg: &Value) -> Vec<String> {
    leg["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["node"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn spoke_to_spoke_through_the_hub_gateway() {
    // learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview (service
    // chaining: user-defined routes can send traffic to a gateway in a peered network);
    // learn.microsoft.com/azure/architecture/reference-architectures/hybrid-networking/virtual-network-peering
    // (spoke-to-spoke through the hub's VPN gateway). The gateway forwards by GatewaySubnet's
    // routes, where the other spoke is a peering route.
    let v = trace(&fixture(&[]), "10.1.1.4", "10.2.1.4");
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(
        nodes(&v["forward"]),
        ["nic:vm1", "gateway:vgw-hub", "nic:vm2"]
    );
    assert_eq!(
        nodes(&v["return"]),
        ["nic:vm2", "gateway:vgw-hub", "nic:vm1"]
    );
}

#[test]
fn sites_with_bgp_transit_through_the_gateway() {
    // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-bgp-overview (transit routing: with BGP
    // the gateway propagates what it learns from one connection to the others) and the BGP FAQ
    // (learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp: Azure advertises the
    // prefixes of the local network gateways connected to it and those learned over BGP).
    let v = trace(&fixture(&[]), "192.168.10.5", "192.168.20.5");
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["forward"]["deliveredTo"], "site:site-b");
    assert_eq!(
        nodes(&v["forward"]),
        ["site:site-a", "gateway:vgw-hub", "site:site-b"]
    );
    assert_eq!(v["return"]["deliveredTo"], "site:site-a");
}

#[test]
fn a_static_site_learns_no_other_site() {
    // Same pages: a site without BGP gets no advertisements; it routes to Azure only the
    // prefixes configured for the connection (the hub and its transit spokes), so it cannot
    // reach another site through the gateway, and answers a BGP site's request nowhere.
    let t = fixture(&[]);
    let v = trace(&t, "172.16.30.5", "192.168.10.5");
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["droppedAt"], "site:site-static");
    let v = trace(&t, "192.168.10.5", "172.16.30.5");
    assert_eq!(v["forward"]["deliveredTo"], "site:site-static");
    assert_eq!(v["outcome"], "no-return");
    assert_eq!(v["return"]["droppedAt"], "site:site-static");
}

#[test]
fn vnet_to_vnet_connection() {
    // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-howto-vnet-vnet-resource-manager-portal:
    // a VNet-to-VNet connection joins two VPN gateways; each VNet reaches the other's address
    // space through its gateway.
    let v = trace(&fixture(&[]), "10.0.2.4", "10.50.1.4");
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(
        nodes(&v["forward"]),
        [
            "nic:vm-tools",
            "gateway:vgw-hub",
            "gateway:vgw-remote",
            "nic:vm-remote"
        ]
    );
    assert_eq!(v["return"]["deliveredTo"], "nic:vm-tools");
}

#[test]
fn vnet_to_vnet_with_bgp_carries_the_spokes_and_sites() {
    // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-bgp-overview: with BGP on both
    // gateways each learns what the other advertises, its transit spokes and its sites'
    // prefixes, so a spoke of the hub and the remote VNet reach each other. (Without BGP the
    // remote gateway knows only the hub's address space: the modelling choice in the GUIDE.)
    let plain = fixture(&[]);
    assert_eq!(
        trace(&plain, "10.1.1.4", "10.50.1.4")["outcome"],
        "no-return"
    );
    let bgp = fixture(&[(
        "{ name: vgw-remote, vnet: remote }",
        "{ name: vgw-remote, vnet: remote, bgp: { asn: 65050 } }",
    )]);
    let v = trace(&bgp, "10.1.1.4", "10.50.1.4");
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["return"]["deliveredTo"], "nic:vm1");
    let v = trace(&bgp, "192.168.10.5", "10.50.1.4");
    assert_eq!(v["outcome"], "reachable");
}

#[test]
fn vnet_to_vnet_with_equal_asns_is_refused() {
    // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp: the two ends of a BGP
    // connection need different ASNs.
    let t = fixture(&[(
        "{ name: vgw-remote, vnet: remote }",
        "{ name: vgw-remote, vnet: remote, bgp: { asn: 65515 } }",
    )]);
    let o = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(["validate", t.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("rule: the two ends of a BGP connection need different ASNs"),
        "{err}"
    );
}

#[test]
fn reasons_name_the_expressroute_gateway_and_the_unreachable_appliance() {
    // learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview: a user route's
    // next hop VirtualNetworkGateway must be a VPN gateway; an ExpressRoute gateway cannot be
    // named (its routes come by BGP). The drop names the gateway that is there.
    let t = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reasons.yaml");
    let v = trace(&t, "10.10.1.4", "192.168.1.1");
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["droppedAt"], "gateway:ergw");
    let reason = v["forward"]["reason"].as_str().unwrap();
    assert!(reason.contains("ExpressRoute gateway"), "{reason}");
    assert!(!reason.contains("no gateway serves"), "{reason}");
    // Same page and learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview:
    // a VirtualAppliance next hop is reached in the VNet or a peered one; an IP-forwarding NIC
    // elsewhere is named as unreachable, not as an address nothing owns.
    let v = trace(&t, "10.10.1.4", "172.16.1.1");
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["droppedAt"], "nic:nva-far");
    let reason = v["forward"]["reason"].as_str().unwrap();
    assert!(reason.contains("IP-forwarding NIC"), "{reason}");
    assert!(reason.contains("unreachable"), "{reason}");
}

#[test]
fn gateway_routes_show_the_instance_addresses() {
    // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp: the gateway's BGP peer
    // addresses come from GatewaySubnet, one per instance, two for active-active; effective
    // routes (learn.microsoft.com/azure/network-watcher/diagnose-vm-network-routing-problem)
    // list a gateway route's next hop addresses. A spoke using the hub's gateway shows the hub
    // gateway's instances.
    let o = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args([
            "routes",
            fixture(&[]).to_str().unwrap(),
            "--subnet",
            "spoke1/app",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let row = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["addressPrefix"][0] == "192.168.20.0/24")
        .expect("the site route")
        .clone();
    assert_eq!(row["source"], "VirtualNetworkGateway");
    assert_eq!(
        row["nextHopIpAddress"],
        serde_json::json!(["10.0.0.4", "10.0.0.5"])
    );
    // The user route to VirtualNetworkGateway names no address.
    let udr = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "User")
        .unwrap()
        .clone();
    assert_eq!(udr["nextHopIpAddress"], serde_json::json!([]));
}

#[test]
fn gateway_subnet_user_route_sends_spoke_traffic_to_an_appliance() {
    // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings#gwsub and
    // learn.microsoft.com/azure/firewall/tutorial-hybrid-ps: a route table on GatewaySubnet
    // steers what the gateway forwards, here to an IP-forwarding NVA in the hub.
    let t = fixture(&[
        (
            "{ name: GatewaySubnet, addressPrefix: 10.0.0.0/27 }",
            "{ name: GatewaySubnet, addressPrefix: 10.0.0.0/27, routeTable: rt-gw }\n      - { name: nva, addressPrefix: 10.0.3.0/24 }",
        ),
        (
            "routeTables:",
            "routeTables:\n  - { name: rt-gw, routes: [{ name: spoke2-via-nva, addressPrefix: 10.2.0.0/16, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.3.4 }] }",
        ),
        (
            "nics:",
            "nics:\n  - { name: nva, subnet: hub/nva, privateIpAddress: 10.0.3.4, enableIpForwarding: true }",
        ),
    ]);
    let v = trace(&t, "10.1.1.4", "10.2.1.4");
    assert_eq!(v["forward"]["deliveredTo"], "nic:vm2");
    assert_eq!(
        nodes(&v["forward"]),
        ["nic:vm1", "gateway:vgw-hub", "nic:nva", "nic:vm2"]
    );
}

#[test]
fn expressroute_is_preferred_over_vpn_for_the_same_prefix() {
    // learn.microsoft.com/azure/expressroute/use-s2s-vpn-as-backup-for-expressroute-privatepeering:
    // with ExpressRoute and a site-to-site VPN coexisting, Azure prefers the ExpressRoute
    // route for the same prefix (longest prefix match still comes first); private peering
    // routes are learned over BGP (learn.microsoft.com/azure/expressroute/expressroute-routing).
    let t = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/expressroute.yaml");
    let v = trace(&t, "10.0.2.4", "192.168.1.1");
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(
        nodes(&v["forward"]),
        ["nic:vm", "gateway:ergw", "circuit:er-circuit"]
    );
    // A prefix only the VPN site has still goes over the VPN.
    let v = trace(&t, "10.0.2.4", "172.16.5.1");
    assert_eq!(
        nodes(&v["forward"]),
        ["nic:vm", "gateway:vpngw", "site:branch"]
    );
    // A prefix only the circuit advertises, both ways.
    let v = trace(&t, "10.0.2.4", "10.200.1.1");
    assert_eq!(v["forward"]["deliveredTo"], "circuit:er-circuit");
    let v = trace(&t, "10.200.1.1", "10.0.2.4");
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["ingress"], "circuit:er-circuit");
}
