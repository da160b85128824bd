//! Azure Route Server through the real binary: NVA routes programmed into the hub and into
//! spokes that use its gateways, shortest AS path and ECMP, precedence against user and system
//! routes, branch-to-branch exchange with the VPN and ExpressRoute gateways on and off, and each
//! control-plane refusal. Expected values from Microsoft's documentation, cited per case:
//! learn.microsoft.com/azure/route-server/route-server-faq,
//! learn.microsoft.com/azure/route-server/expressroute-vpn-support,
//! learn.microsoft.com/azure/route-server/route-server-limits,
//! learn.microsoft.com/azure/route-server/quickstart-create-route-server-cli.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

const FIXTURE: &str = "tests/fixtures/route_server.yaml";

/// The fixture with text substitutions, written to the scratch folder.
fn fixture(name: &str, subst: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(common::root().join(FIXTURE)).unwrap();
    for (k, v) in subst {
        assert!(text.contains(k), "{k}");
        text = text.replacen(k, v, 1);
    }
    let p = common::tmp("route-server", &format!("{name}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn b2b(on: bool) -> PathBuf {
    let v = if on { "true" } else { "false" };
    fixture(
        &format!("b2b-{v}"),
        &[(
            "allowBranchToBranchTraffic: false",
            &format!("allowBranchToBranchTraffic: {v}"),
        )],
    )
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str(&common::ok(&a)).unwrap()
}

fn trace(topo: &Path, src: &str, dst: &str, sport: u16) -> Value {
    let sp = sport.to_string();
    json(&[
        "trace",
        topo.to_str().unwrap(),
        "--src",
        src,
        "--dst",
        dst,
        "--src-port",
        &sp,
    ])
}

fn nodes(leg: &Value) -> Vec<String> {
    leg["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["node"].as_str().unwrap().to_string())
        .collect()
}

/// Rows of `routes --subnet` for a prefix: (source, state, next hop type, next hop IPs).
fn routes_for(
    topo: &Path,
    subnet: &str,
    prefix: &str,
) -> Vec<(String, String, String, Vec<String>)> {
    let v = json(&["routes", topo.to_str().unwrap(), "--subnet", subnet]);
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["addressPrefix"][0] == prefix)
        .map(|r| {
            let ips = r["nextHopIpAddress"].as_array().unwrap();
            (
                r["source"].as_str().unwrap().to_string(),
                r["state"].as_str().unwrap().to_string(),
                r["nextHopType"].as_str().unwrap().to_string(),
                ips.iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn active_hops(rows: &[(String, String, String, Vec<String>)]) -> Vec<String> {
    rows.iter()
        .filter(|r| r.1 == "Active")
        .flat_map(|r| r.3.clone())
        .collect()
}

fn site_networks(topo: &Path, site: &str) -> Vec<String> {
    let v = json(&["routes", topo.to_str().unwrap(), "--site", site]);
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["network"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_spoke_that_uses_remote_gateways_learns_the_nva_routes() {
    // FAQ: with "Use Remote Gateway (or Route Server)" on the spoke's peering, Route Server
    // programs the NVAs' routes into the spoke's VMs. Effective routes show them with source and
    // next hop type VirtualNetworkGateway and the NVA's peer IP as next hop.
    let f = common::root().join(FIXTURE);
    let rows = routes_for(&f, "spoke1/app", "10.200.0.0/16");
    assert_eq!(
        rows,
        [(
            "VirtualNetworkGateway".to_string(),
            "Active".to_string(),
            "VirtualNetworkGateway".to_string(),
            vec!["10.0.2.4".to_string()]
        )]
    );
    // Spoke-to-spoke: spoke1 learns spoke2's space from nva1 (the spokes are not peered), so
    // traffic goes to the NVA, which forwards it over the hub's peering; the reply likewise.
    let v = trace(&f, "10.1.1.4", "10.2.1.4", 50000);
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(nodes(&v["forward"]), ["nic:vm1", "nic:nva1", "nic:vm2"]);
    assert_eq!(nodes(&v["return"]), ["nic:vm2", "nic:nva1", "nic:vm1"]);
    let first = &v["forward"]["hops"][0]["route"];
    assert_eq!(first["nextHopType"], "VirtualNetworkGateway");
    assert_eq!(first["source"], "VirtualNetworkGateway");
}

#[test]
fn a_default_route_from_an_nva_reaches_the_spoke() {
    // FAQ: the routes an NVA advertises, a default route included, are programmed into the VMs.
    let f = fixture(
        "default-route",
        &[(
            "          - { prefix: 10.200.0.0/16, asPath: [65001] }",
            "          - { prefix: 10.200.0.0/16, asPath: [65001] }\n          - { prefix: 0.0.0.0/0, asPath: [65001] }",
        )],
    );
    let rows = routes_for(&f, "spoke1/app", "0.0.0.0/0");
    let bgp: Vec<_> = rows
        .iter()
        .filter(|r| r.0 == "VirtualNetworkGateway")
        .collect();
    assert_eq!(bgp.len(), 1);
    assert_eq!(bgp[0].1, "Active");
    assert_eq!(bgp[0].3, ["10.0.2.4"]);
    // The system default route to the Internet gives way to it (a BGP route beats a system one).
    assert!(rows
        .iter()
        .any(|r| r.0 == "Default" && r.1 == "Invalid" && r.2 == "Internet"));
}

#[test]
fn equal_as_paths_give_ecmp_and_a_shorter_one_wins() {
    // FAQ: the same route from two NVAs with the same AS path length is programmed with both
    // next hops (ECMP); if one NVA sends a shorter AS path, only its route is programmed.
    let f = common::root().join(FIXTURE);
    let ecmp = routes_for(&f, "spoke1/app", "10.100.0.0/16");
    assert_eq!(active_hops(&ecmp), ["10.0.2.4", "10.0.2.5"]);
    let shorter = routes_for(&f, "spoke1/app", "10.200.0.0/16");
    assert_eq!(active_hops(&shorter), ["10.0.2.4"]);
    // Flows spread over both NVAs, each flow always to the same one.
    let mut seen = std::collections::BTreeSet::new();
    for port in 40000..40016u16 {
        let v = trace(&f, "10.1.1.4", "10.100.1.1", port);
        assert_eq!(v["outcome"], "reachable");
        let hop = nodes(&v["forward"])[1].clone();
        assert!(hop == "nic:nva1" || hop == "nic:nva2", "{hop}");
        let again = trace(&f, "10.1.1.4", "10.100.1.1", port);
        assert_eq!(nodes(&again["forward"])[1], hop);
        seen.insert(hop);
    }
    assert_eq!(seen.len(), 2, "16 flows all took one NVA: {seen:?}");
}

#[test]
fn a_user_route_beats_the_bgp_route() {
    // learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview (how Azure selects
    // a route: user route, then BGP, then system, for the same prefix).
    let f = fixture(
        "udr",
        &[
            (
                "subnets: [{ name: app, addressPrefix: 10.1.1.0/24 }]",
                "subnets: [{ name: app, addressPrefix: 10.1.1.0/24, routeTable: rt-spoke1 }]",
            ),
            (
                "nics:",
                "routeTables:\n  - { name: rt-spoke1, routes: [{ name: blackhole, addressPrefix: 10.100.0.0/16, nextHopType: None }] }\nnics:",
            ),
        ],
    );
    let rows = routes_for(&f, "spoke1/app", "10.100.0.0/16");
    let states: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(
        states,
        [
            ("VirtualNetworkGateway", "Invalid"),
            ("VirtualNetworkGateway", "Invalid"),
            ("User", "Active")
        ]
    );
    let v = trace(&f, "10.1.1.4", "10.100.1.1", 50000);
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(nodes(&v["forward"]), ["nic:vm1"]);
}

#[test]
fn a_more_specific_nva_route_does_not_steer_traffic_inside_the_vnet() {
    // FAQ: system routes for the VNet, peerings and service endpoints are preferred over BGP
    // routes even when the BGP routes are more specific; inter-subnet traffic cannot be sent
    // through the NVA with Route Server.
    let f = common::root().join(FIXTURE);
    let rows = routes_for(&f, "hub/app", "10.0.3.128/25");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "Invalid");
    let v = trace(&f, "10.0.3.4", "10.0.3.132", 50000);
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(nodes(&v["forward"]), ["nic:vm-hub", "nic:vm-hub2"]);
    // The same for a peered VNet's space: spoke1's own space from nva1 is Invalid in spoke1.
    let own = routes_for(&f, "spoke1/app", "10.1.0.0/16");
    assert!(own
        .iter()
        .any(|r| r.0 == "VirtualNetworkGateway" && r.1 == "Invalid"));
}

#[test]
fn branch_to_branch_off_keeps_gateway_and_nvas_apart() {
    // expressroute-vpn-support: by default Route Server does not propagate the NVAs' routes to
    // the gateways nor the gateways' to the NVAs; VMs learn both regardless.
    let f = b2b(false);
    let nets = site_networks(&f, "onprem");
    assert_eq!(nets, ["10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16"]);
    let v = trace(&f, "site:onprem", "10.100.1.1", 50000);
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["droppedAt"], "site:onprem");
    // ExpressRoute <-> site-to-site VPN transit is off too.
    let v = trace(&f, "site:onprem", "172.20.1.1", 50000);
    assert_eq!(v["outcome"], "unreachable");
    let v = trace(&f, "circuit:er-dc", "192.168.1.1", 50000);
    assert_eq!(v["outcome"], "unreachable");
    // The VMs still learn both the gateway's and the NVAs' routes.
    let hub = common::root().join(FIXTURE);
    assert_eq!(
        active_hops(&routes_for(&hub, "spoke1/app", "192.168.0.0/16")),
        ["10.0.0.4", "10.0.0.5"]
    );
    assert_eq!(
        active_hops(&routes_for(&hub, "spoke1/app", "10.100.0.0/16")).len(),
        2
    );
}

#[test]
fn branch_to_branch_on_lets_sites_reach_the_nvas_and_each_other() {
    // expressroute-vpn-support: with branch-to-branch, the gateway learns the NVAs' routes and
    // advertises them on-premises; ExpressRoute and site-to-site VPN exchange routes too.
    let f = b2b(true);
    let nets = site_networks(&f, "onprem");
    assert!(nets.contains(&"10.100.0.0/16".to_string()), "{nets:?}");
    assert!(nets.contains(&"172.20.0.0/16".to_string()), "{nets:?}");
    let v = trace(&f, "site:onprem", "10.100.1.1", 50000);
    assert_eq!(v["outcome"], "reachable");
    let fwd = nodes(&v["forward"]);
    assert_eq!(fwd[..2], ["site:onprem", "gateway:vgw-hub"]);
    assert!(fwd[2] == "nic:nva1" || fwd[2] == "nic:nva2", "{fwd:?}");
    let v = trace(&f, "site:onprem", "172.20.1.1", 50000);
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["forward"]["deliveredTo"], "circuit:er-dc");
    let v = trace(&f, "circuit:er-dc", "192.168.1.1", 50000);
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["forward"]["deliveredTo"], "site:onprem");
    assert!(site_networks(&f, "circuit:er-dc").contains(&"192.168.0.0/16".to_string()));
}

#[test]
fn a_spoke_may_use_a_hub_whose_only_gateway_is_a_route_server() {
    // FAQ: "Use Remote Gateway (or Route Server)": a Route Server serves the setting as a
    // gateway does.
    let text = std::fs::read_to_string(common::root().join(FIXTURE)).unwrap();
    let (head, _) = text.split_once("# GATEWAYS").unwrap();
    let head = head
        .replace(
            "  - { name: onprem, addressPrefixes: [192.168.0.0/16], bgp: { asn: 65010 } }\n",
            "",
        )
        .replace("sites:\n", "");
    let p = common::tmp("route-server", "no-gateway.yaml");
    std::fs::write(&p, head).unwrap();
    let (code, _, err) = common::run(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        active_hops(&routes_for(&p, "spoke2/app", "10.100.0.0/16")).len(),
        2
    );
}

#[test]
fn a_peer_over_a_thousand_routes_loses_its_session() {
    // route-server-limits: more than 1,000 routes from one peer drop the BGP session.
    let many: String = (0..1001)
        .map(|i| {
            format!(
                "          - {{ prefix: 10.{}.{}.0/24 }}\n",
                150 + i / 256,
                i % 256
            )
        })
        .collect();
    let f = fixture(
        "too-many",
        &[(
            "          - { prefix: 10.200.0.0/16, asPath: [65002, 65050] }\n",
            &format!("          - {{ prefix: 10.200.0.0/16, asPath: [65002, 65050] }}\n{many}"),
        )],
    );
    let (code, _, err) = common::run(&["validate", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("advertises 1003 routes") && err.contains("drops the BGP session"),
        "{err}"
    );
    // nva2's routes are gone: 10.100.0.0/16 only through nva1.
    assert_eq!(
        active_hops(&routes_for(&f, "spoke1/app", "10.100.0.0/16")),
        ["10.0.2.4"]
    );
}

/// Validation of the fixture with `subst` fails with a message holding every `want`.
fn refused(name: &str, subst: &[(&str, &str)], want: &[&str]) {
    let f = fixture(name, subst);
    let (code, _, err) = common::run(&["validate", f.to_str().unwrap()]);
    assert_ne!(code, 0, "{name} accepted");
    for w in want {
        assert!(err.contains(w), "{name}: expected '{w}' in:\n{err}");
    }
    assert!(
        err.contains(&format!("{name}.yaml:")),
        "{name}: not located:\n{err}"
    );
}

#[test]
fn the_route_server_subnet_is_named_and_sized_as_azure_requires() {
    // quickstart-create-route-server-cli: RouteServerSubnet, at least /27; FAQ: no NSG and no
    // route table may be associated with it.
    refused(
        "wrong-subnet",
        &[(
            "    vnet: hub\n    allowBranch",
            "    vnet: hub\n    subnet: nva\n    allowBranch",
        )],
        &["subnet 'nva'", "named RouteServerSubnet"],
    );
    refused(
        "small-subnet",
        &[(
            "RouteServerSubnet, addressPrefix: 10.0.1.0/27",
            "RouteServerSubnet, addressPrefix: 10.0.1.0/28",
        )],
        &["10.0.1.0/28", "/27 or larger"],
    );
    refused(
        "nsg",
        &[
            (
                "RouteServerSubnet, addressPrefix: 10.0.1.0/27",
                "RouteServerSubnet, addressPrefix: 10.0.1.0/27, nsg: nsg-rs",
            ),
            ("nics:", "nsgs:\n  - { name: nsg-rs, rules: [] }\nnics:"),
        ],
        &["no network security group"],
    );
    refused(
        "route-table",
        &[
            (
                "RouteServerSubnet, addressPrefix: 10.0.1.0/27",
                "RouteServerSubnet, addressPrefix: 10.0.1.0/27, routeTable: rt-rs",
            ),
            (
                "nics:",
                "routeTables:\n  - { name: rt-rs, routes: [] }\nnics:",
            ),
        ],
        &["no route table"],
    );
}

#[test]
fn one_route_server_per_vnet() {
    // FAQ: only one route server per virtual network.
    refused(
        "two",
        &[("# GATEWAYS", "  - { name: rs-two, vnet: hub }\n# GATEWAYS")],
        &[
            "already has a route server",
            "only one route server per virtual network",
        ],
    );
}

#[test]
fn reserved_and_32_bit_peer_asns_are_refused() {
    // FAQ: the NVA's ASN differs from 65515; ASNs reserved by Azure (8074, 8075, 12076, 65515,
    // 65517-65520) or IANA (23456, 64496-64511, 65535-65551) cannot be used; 16-bit ASNs only.
    for (asn, want) in [
        ("65515", "the route server's own ASN"),
        ("12076", "reserved by Azure"),
        ("65518", "reserved by Azure"),
        ("64500", "reserved by IANA"),
        ("23456", "reserved by IANA"),
        ("4200000001", "16-bit ASNs only"),
    ] {
        refused(
            &format!("asn-{asn}"),
            &[("peerAsn: 65002", &format!("peerAsn: {asn}"))],
            &[want, "BGP peer 'nva2'"],
        );
    }
}

#[test]
fn at_most_eight_peers_in_reach() {
    // route-server-limits: 8 BGP peers per route server.
    let extra: String = (3..=9)
        .map(|i| {
            format!(
                "      - {{ name: nva{i}, peerIp: 10.0.2.{}, peerAsn: {} }}\n",
                10 + i,
                65010 + i
            )
        })
        .collect();
    refused(
        "nine-peers",
        &[("# GATEWAYS", &format!("{extra}# GATEWAYS"))],
        &["9 BGP peers", "at most 8"],
    );
    // The peer IP must be in the route server's VNet or a peered one (modelling choice).
    refused(
        "far-peer",
        &[("peerIp: 10.0.2.5", "peerIp: 10.9.2.5")],
        &["outside vnet 'hub'"],
    );
}

#[test]
fn a_vpn_gateway_beside_a_route_server_is_active_active_with_asn_65515() {
    // expressroute-vpn-support: an Azure VPN gateway used with Route Server must be
    // active-active with ASN 65515.
    refused(
        "active-standby",
        &[(
            "    activeActive: true\n    instanceAddresses: [10.0.0.4, 10.0.0.5]\n",
            "",
        )],
        &["must be active-active with ASN 65515"],
    );
}

#[test]
fn an_nva_without_ip_forwarding_drops_what_it_is_sent() {
    // route-server-faq: data traffic goes straight to the NVA's peer IP (Route Server does not
    // route it); learn.microsoft.com/azure/virtual-network/virtual-network-network-interface
    // (IP forwarding: without it a NIC drops traffic not addressed to it).
    let f = fixture(
        "no-forwarding",
        &[(
            "privateIpAddress: 10.0.2.4, enableIpForwarding: true",
            "privateIpAddress: 10.0.2.4, enableIpForwarding: false",
        )],
    );
    let v = trace(&f, "10.1.1.4", "10.200.1.1", 50000);
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["droppedAt"], "nic:nva1");
    let reason = v["forward"]["reason"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(reason.contains("forwarding"), "{reason}");
}
