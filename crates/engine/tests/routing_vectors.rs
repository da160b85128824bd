//! The routing test vectors of fabric-semantics.md (1-17), expected values
//! written from the spec's words.

mod common;
use common::*;
use vnetsim_engine::{Outcome, Reason, Verdict, TCP};

const LONE: &str = r#"
version: 1
vnets:
  - name: A
    addressSpace: [10.1.0.0/16]
    subnets: [{ name: a, addressPrefix: 10.1.0.0/24 }]
"#;

#[test]
fn v01_lone_vnet_system_routes() {
    // R2.1: VnetLocal, Internet, the four None routes; all Active, source Default.
    let f = fabric(LONE);
    let mut got = routes(&f, "A/a");
    got.sort();
    let mut want: Vec<(String, String, String, String)> = [
        ("10.1.0.0/16", "VnetLocal"),
        ("0.0.0.0/0", "Internet"),
        ("10.0.0.0/8", "None"),
        ("172.16.0.0/12", "None"),
        ("192.168.0.0/16", "None"),
        ("100.64.0.0/10", "None"),
    ]
    .iter()
    .map(|(p, n)| {
        (
            "Default".to_string(),
            "Active".to_string(),
            p.to_string(),
            n.to_string(),
        )
    })
    .collect();
    want.sort();
    assert_eq!(got, want);
}

fn two(peerings: &str) -> String {
    format!(
        r#"
version: 1
vnets:
  - {{ name: A, addressSpace: [10.1.0.0/16], subnets: [{{ name: a, addressPrefix: 10.1.0.0/24 }}] }}
  - {{ name: B, addressSpace: [10.2.0.0/16], subnets: [{{ name: b, addressPrefix: 10.2.0.0/24 }}] }}
peerings: {peerings}
"#
    )
}

#[test]
fn v02_one_way_peering_gives_no_route_both_ways_does() {
    // R2.1: a link is connected only when both directions exist.
    let f = fabric(&two("[{ from: A, to: B }]"));
    assert_eq!(state(&f, "A/a", "10.2.0.0/16", "VNetPeering"), None);
    assert_eq!(state(&f, "B/b", "10.1.0.0/16", "VNetPeering"), None);
    let f = fabric(&two("[{ from: A, to: B }, { from: B, to: A }]"));
    assert_eq!(
        state(&f, "A/a", "10.2.0.0/16", "VNetPeering").as_deref(),
        Some("Active")
    );
    assert_eq!(
        state(&f, "B/b", "10.1.0.0/16", "VNetPeering").as_deref(),
        Some("Active")
    );
}

#[test]
fn v03_peering_is_not_transitive() {
    let f = fabric(
        r#"
version: 1
vnets:
  - { name: A, addressSpace: [10.1.0.0/16], subnets: [{ name: a, addressPrefix: 10.1.0.0/24 }] }
  - { name: B, addressSpace: [10.2.0.0/16], subnets: [{ name: b, addressPrefix: 10.2.0.0/24 }] }
  - { name: C, addressSpace: [10.3.0.0/16], subnets: [{ name: c, addressPrefix: 10.3.0.0/24 }] }
peerings:
  - { from: A, to: B }
  - { from: B, to: A }
  - { from: B, to: C }
  - { from: C, to: B }
"#,
    );
    assert!(
        routes(&f, "A/a").iter().all(|r| r.2 != "10.3.0.0/16"),
        "A must have no route to C"
    );
    assert_eq!(
        state(&f, "B/b", "10.3.0.0/16", "VNetPeering").as_deref(),
        Some("Active")
    );
    // A's packets to C fall to 10.0.0.0/8 None.
    let w = walk(&f, "10.1.0.4", "10.3.0.4", TCP, 443);
    assert_eq!(w.t.forward.reason, Reason::RouteNone);
}

#[test]
fn v04_routing_example_both_subnets() {
    let f = fabric(include_str!("../../../tests/fixtures/routing-example.yaml"));
    let s1 = routes(&f, "VNet1/Subnet1");
    assert_eq!(s1.len(), 11, "{s1:?}");
    let has = |src: &str, st: &str, p: &str, nh: &str| {
        s1.contains(&(src.into(), st.into(), p.into(), nh.into()))
    };
    assert!(has("Default", "Invalid", "10.0.0.0/16", "VnetLocal"));
    assert!(has("User", "Active", "10.0.0.0/16", "VirtualAppliance"));
    assert!(has("User", "Active", "10.0.0.0/24", "VnetLocal"));
    assert!(has("Default", "Invalid", "10.1.0.0/16", "VNetPeering"));
    assert!(has("Default", "Invalid", "10.2.0.0/16", "VNetPeering"));
    assert!(has("User", "Active", "10.1.0.0/16", "None"));
    assert!(has("User", "Active", "10.2.0.0/16", "None"));
    assert!(has(
        "VirtualNetworkGateway",
        "Invalid",
        "10.10.0.0/16",
        "VirtualNetworkGateway"
    ));
    assert!(has("User", "Active", "10.10.0.0/16", "VirtualAppliance"));
    assert!(has("Default", "Invalid", "0.0.0.0/0", "Internet"));
    assert!(has("User", "Active", "0.0.0.0/0", "VirtualAppliance"));
    let s2 = routes(&f, "VNet1/Subnet2");
    assert_eq!(s2.len(), 9, "{s2:?}");
    assert!(s2.iter().all(|r| r.1 == "Active"));
}

#[test]
fn v05_default_udr_removes_none_routes() {
    // R2.2: no None routes; the system 0.0.0.0/0 is Invalid.
    let f = fabric(
        r#"
version: 1
vnets:
  - name: A
    addressSpace: [10.1.0.0/16]
    subnets: [{ name: a, addressPrefix: 10.1.0.0/24, routeTable: rt }]
routeTables:
  - name: rt
    routes: [{ name: d, addressPrefix: 0.0.0.0/0, nextHopType: VirtualAppliance, nextHopIpAddress: 10.1.0.10 }]
"#,
    );
    let r = routes(&f, "A/a");
    assert!(r.iter().all(|x| x.3 != "None"), "{r:?}");
    assert_eq!(
        state(&f, "A/a", "0.0.0.0/0", "Internet").as_deref(),
        Some("Invalid")
    );
    assert_eq!(
        state(&f, "A/a", "0.0.0.0/0", "VirtualAppliance").as_deref(),
        Some("Active")
    );
}

fn hub_spoke(spoke_flag: &str, hub_flag: &str, spoke_rt: &str) -> String {
    format!(
        r#"
version: 1
sites:
  - name: home
    addressPrefixes: [192.168.0.0/16]
    bgp: {{ asn: 65010, advertisedPrefixes: [192.168.0.0/16, 172.16.50.0/24] }}
vnets:
  - name: hub
    addressSpace: [10.0.0.0/16]
    subnets:
      - {{ name: GatewaySubnet, addressPrefix: 10.0.0.0/27 }}
      - {{ name: AzureFirewallSubnet, addressPrefix: 10.0.1.0/26 }}
      - {{ name: tools, addressPrefix: 10.0.2.0/24 }}
  - name: spoke
    addressSpace: [10.1.0.0/16]
    subnets:
      - {{ name: work, addressPrefix: 10.1.1.0/24 {spoke_rt} }}
peerings:
  - {{ from: hub, to: spoke, allowForwardedTraffic: true {hub_flag} }}
  - {{ from: spoke, to: hub, allowForwardedTraffic: true {spoke_flag} }}
routeTables:
  - name: rt-nobgp
    disableBgpRoutePropagation: true
    routes: []
  - name: rt-nobgp-default
    disableBgpRoutePropagation: true
    routes: [{{ name: d, addressPrefix: 0.0.0.0/0, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }}]
nics:
  - {{ name: vm, subnet: spoke/work, privateIpAddress: 10.1.1.4 }}
gateways:
  - {{ name: gw, vnet: hub, type: Vpn, bgp: {{ asn: 65515 }}, connections: [{{ site: home }}] }}
firewalls:
  - name: fw
    vnet: hub
    privateIpAddress: 10.0.1.4
    snatIpAddresses: [10.0.1.5]
    publicIpAddresses: [20.0.0.1]
    networkRuleCollections:
      - {{ name: all, priority: 100, action: Allow, rules: [{{ name: any, protocols: [Any], source: ['*'], destination: ['*'], destinationPorts: ['*'] }}] }}
"#
    )
}

#[test]
fn v06_gateway_routes_in_every_hub_subnet() {
    // R2.3: the site's static prefix and its BGP-advertised prefix, source VirtualNetworkGateway.
    let f = fabric(&hub_spoke("", "", ""));
    for s in ["hub/GatewaySubnet", "hub/AzureFirewallSubnet", "hub/tools"] {
        let r = routes(&f, s);
        for p in ["192.168.0.0/16", "172.16.50.0/24"] {
            assert!(
                r.contains(&(
                    "VirtualNetworkGateway".into(),
                    "Active".into(),
                    p.into(),
                    "VirtualNetworkGateway".into()
                )),
                "{s} lacks {p}: {r:?}"
            );
        }
    }
}

#[test]
fn v07_gateway_transit_needs_both_flags() {
    let both = fabric(&hub_spoke(
        ", useRemoteGateways: true",
        ", allowGatewayTransit: true",
        "",
    ));
    assert_eq!(
        state(
            &both,
            "spoke/work",
            "192.168.0.0/16",
            "VirtualNetworkGateway"
        )
        .as_deref(),
        Some("Active")
    );
    assert_eq!(
        state(
            &both,
            "spoke/work",
            "172.16.50.0/24",
            "VirtualNetworkGateway"
        )
        .as_deref(),
        Some("Active")
    );
    // useRemoteGateways toward a hub without allowGatewayTransit is refused by Azure
    // (learn.microsoft.com/azure/vpn-gateway/vpn-gateway-peering-gateway-transit), so that
    // case is a validation error now, not a fabric without site routes.
    let refused = hub_spoke(", useRemoteGateways: true", "", "");
    assert!(vnetsim_model::load_str("t.yaml", &refused).is_err());
    for (s, h) in [("", ", allowGatewayTransit: true"), ("", "")] {
        let f = fabric(&hub_spoke(s, h, ""));
        assert_eq!(
            state(&f, "spoke/work", "192.168.0.0/16", "VirtualNetworkGateway"),
            None,
            "flags {s} {h}"
        );
    }
}

#[test]
fn v08_propagation_disabled_keeps_site_routes_out() {
    // R2.4: no site routes; 192.168.1.1 takes the system None, or the spoke's 0.0.0.0/0 UDR.
    let f = fabric(&hub_spoke(
        ", useRemoteGateways: true",
        ", allowGatewayTransit: true",
        ", routeTable: rt-nobgp",
    ));
    assert!(routes(&f, "spoke/work")
        .iter()
        .all(|r| r.0 != "VirtualNetworkGateway"));
    let w = walk(&f, "10.1.1.4", "192.168.1.1", TCP, 443);
    assert_eq!(w.t.forward.reason, Reason::RouteNone);
    let f = fabric(&hub_spoke(
        ", useRemoteGateways: true",
        ", allowGatewayTransit: true",
        ", routeTable: rt-nobgp-default",
    ));
    assert!(routes(&f, "spoke/work")
        .iter()
        .all(|r| r.0 != "VirtualNetworkGateway"));
    let w = walk(&f, "10.1.1.4", "192.168.1.1", TCP, 443);
    assert!(
        w.forward_nodes(&f).contains(&"firewall:fw".to_string()),
        "{:?}",
        w.forward_nodes(&f)
    );
}

#[test]
fn v09_udr_beats_peering_route_of_same_prefix() {
    let f = fabric(
        r#"
version: 1
vnets:
  - name: A
    addressSpace: [10.1.0.0/16]
    subnets: [{ name: a, addressPrefix: 10.1.0.0/24, routeTable: rt }, { name: nva, addressPrefix: 10.1.9.0/24 }]
  - { name: B, addressSpace: [10.2.0.0/16], subnets: [{ name: b, addressPrefix: 10.2.0.0/24 }] }
peerings: [{ from: A, to: B }, { from: B, to: A }]
routeTables:
  - name: rt
    routes: [{ name: to-b, addressPrefix: 10.2.0.0/16, nextHopType: VirtualAppliance, nextHopIpAddress: 10.1.9.4 }]
nics:
  - { name: vm, subnet: A/a, privateIpAddress: 10.1.0.4 }
  - { name: nva, subnet: A/nva, privateIpAddress: 10.1.9.4, enableIpForwarding: true }
  - { name: vmb, subnet: B/b, privateIpAddress: 10.2.0.4 }
"#,
    );
    assert_eq!(
        state(&f, "A/a", "10.2.0.0/16", "VNetPeering").as_deref(),
        Some("Invalid")
    );
    assert_eq!(
        state(&f, "A/a", "10.2.0.0/16", "VirtualAppliance").as_deref(),
        Some("Active")
    );
    let w = walk(&f, "10.1.0.4", "10.2.0.4", TCP, 443);
    assert_eq!(
        w.forward_nodes(&f)[1],
        "nic:nva",
        "chosen route goes to the appliance"
    );
    assert_eq!(
        w.t.forward
            .delivered_to
            .map(|e| f.endpoint_id(e))
            .as_deref(),
        Some("nic:vmb")
    );
}

#[test]
fn v10_bgp_route_inside_peered_space_is_invalid() {
    // R2.7: the peered VNet's system route wins over a more specific BGP route.
    let f = fabric(
        r#"
version: 1
sites:
  - { name: s, addressPrefixes: [192.168.0.0/16], bgp: { asn: 65010, advertisedPrefixes: [10.2.5.0/24] } }
vnets:
  - name: A
    addressSpace: [10.1.0.0/16]
    subnets: [{ name: GatewaySubnet, addressPrefix: 10.1.255.0/27 }, { name: a, addressPrefix: 10.1.0.0/24 }]
  - { name: B, addressSpace: [10.2.0.0/16], subnets: [{ name: b, addressPrefix: 10.2.5.0/24 }] }
peerings: [{ from: A, to: B }, { from: B, to: A }]
nics:
  - { name: vm, subnet: A/a, privateIpAddress: 10.1.0.4 }
  - { name: vmb, subnet: B/b, privateIpAddress: 10.2.5.9 }
gateways:
  - { name: gw, vnet: A, bgp: { asn: 65515 }, connections: [{ site: s }] }
"#,
    );
    assert_eq!(
        state(&f, "A/a", "10.2.5.0/24", "VirtualNetworkGateway").as_deref(),
        Some("Invalid")
    );
    let w = walk(&f, "10.1.0.4", "10.2.5.9", TCP, 443);
    assert_eq!(
        w.t.forward
            .delivered_to
            .map(|e| f.endpoint_id(e))
            .as_deref(),
        Some("nic:vmb")
    );
    assert!(!w
        .forward_nodes(&f)
        .iter()
        .any(|n| n.starts_with("gateway:")));
}

#[test]
fn v11_user_route_none_drops() {
    let f = fabric(
        r#"
version: 1
vnets:
  - name: A
    addressSpace: [10.1.0.0/16]
    subnets: [{ name: a, addressPrefix: 10.1.0.0/24, routeTable: rt }]
routeTables:
  - { name: rt, routes: [{ name: blackhole, addressPrefix: 10.3.0.0/16, nextHopType: None }] }
nics: [{ name: vm, subnet: A/a, privateIpAddress: 10.1.0.4 }]
"#,
    );
    let w = walk(&f, "10.1.0.4", "10.3.0.9", TCP, 443);
    assert_eq!(w.t.outcome, Outcome::Unreachable);
    assert_eq!(w.t.forward.verdict, Verdict::Dropped);
    assert_eq!(w.t.forward.reason, Reason::RouteNone);
    let rule =
        w.t.forward
            .rule
            .map(|r| vnetsim_engine::render::rule_name(&f, r));
    assert_eq!(rule.as_deref(), Some("blackhole"));
}

/// The topology of vectors 12-17: PE 10.1.1.10 in A (10.1.0.0/16), B peered with A
/// (its subnet has route table `rt` with the given routes), C peered with B only.
fn pe(policies: &str, b_routes: &str) -> String {
    format!(
        r#"
version: 1
vnets:
  - name: A
    addressSpace: [10.1.0.0/16]
    subnets: [{{ name: pe, addressPrefix: 10.1.1.0/24, privateEndpointNetworkPolicies: {policies} }}]
  - name: B
    addressSpace: [10.2.0.0/16]
    subnets:
      - {{ name: AzureFirewallSubnet, addressPrefix: 10.2.0.0/26 }}
      - {{ name: b, addressPrefix: 10.2.1.0/24, routeTable: rt }}
  - {{ name: C, addressSpace: [10.3.0.0/16], subnets: [{{ name: c, addressPrefix: 10.3.1.0/24 }}] }}
peerings:
  - {{ from: A, to: B, allowForwardedTraffic: true }}
  - {{ from: B, to: A, allowForwardedTraffic: true }}
  - {{ from: B, to: C }}
  - {{ from: C, to: B }}
routeTables:
  - {{ name: rt, routes: {b_routes} }}
nics: [{{ name: vm, subnet: B/b, privateIpAddress: 10.2.1.4 }}]
firewalls:
  - name: fw
    vnet: B
    privateIpAddress: 10.2.0.4
    snatIpAddresses: [10.2.0.5]
    publicIpAddresses: [20.0.0.1]
    networkRuleCollections:
      - {{ name: all, priority: 100, action: Allow, rules: [{{ name: any, protocols: [Any], source: ['*'], destination: ['*'], destinationPorts: ['*'] }}] }}
services: [{{ name: blob, fqdn: acct.blob.core.windows.net }}]
privateEndpoints: [{{ name: pe1, subnet: A/pe, privateIpAddress: 10.1.1.10, service: blob }}]
"#
    )
}

fn udr(prefix: &str) -> String {
    format!("[{{ name: r, addressPrefix: {prefix}, nextHopType: VirtualAppliance, nextHopIpAddress: 10.2.0.4 }}]")
}

fn crosses_firewall(f: &vnetsim_fabric::Fabric) -> bool {
    let w = walk(f, "10.2.1.4", "10.1.1.10", TCP, 443);
    assert_eq!(
        w.t.forward
            .delivered_to
            .map(|e| f.endpoint_id(e))
            .as_deref(),
        Some("pe:pe1")
    );
    w.forward_nodes(f).contains(&"firewall:fw".to_string())
}

#[test]
fn v12_endpoint_route_in_own_and_directly_peered_vnets_only() {
    let f = fabric(&pe("Disabled", "[]"));
    assert_eq!(
        state(&f, "A/pe", "10.1.1.10/32", "InterfaceEndpoint").as_deref(),
        Some("Active")
    );
    assert_eq!(
        state(&f, "B/b", "10.1.1.10/32", "InterfaceEndpoint").as_deref(),
        Some("Active")
    );
    assert_eq!(
        state(
            &f,
            "B/AzureFirewallSubnet",
            "10.1.1.10/32",
            "InterfaceEndpoint"
        )
        .as_deref(),
        Some("Active")
    );
    assert_eq!(state(&f, "C/c", "10.1.1.10/32", "InterfaceEndpoint"), None);
}

#[test]
fn v13_policies_disabled_endpoint_route_beats_broader_udr() {
    let f = fabric(&pe("Disabled", &udr("10.1.0.0/16")));
    assert_eq!(
        state(&f, "B/b", "10.1.1.10/32", "InterfaceEndpoint").as_deref(),
        Some("Active")
    );
    assert_eq!(
        state(&f, "B/b", "10.1.0.0/16", "VirtualAppliance").as_deref(),
        Some("Active")
    );
    assert!(!crosses_firewall(&f));
}

#[test]
fn v14_policies_enabled_vnet_sized_udr_invalidates_endpoint_route() {
    for p in ["Enabled", "RouteTableEnabled"] {
        let f = fabric(&pe(p, &udr("10.1.0.0/16")));
        assert_eq!(
            state(&f, "B/b", "10.1.1.10/32", "InterfaceEndpoint").as_deref(),
            Some("Invalid"),
            "{p}"
        );
        assert!(crosses_firewall(&f), "{p}");
    }
    // NetworkSecurityGroupEnabled does not turn route-table policies on.
    let f = fabric(&pe("NetworkSecurityGroupEnabled", &udr("10.1.0.0/16")));
    assert_eq!(
        state(&f, "B/b", "10.1.1.10/32", "InterfaceEndpoint").as_deref(),
        Some("Active")
    );
}

#[test]
fn v15_default_udr_never_invalidates_endpoint_route() {
    let f = fabric(&pe("Enabled", &udr("0.0.0.0/0")));
    assert_eq!(
        state(&f, "B/b", "10.1.1.10/32", "InterfaceEndpoint").as_deref(),
        Some("Active")
    );
    assert!(!crosses_firewall(&f));
}

#[test]
fn v16_subnet_sized_udr_invalidates_broader_than_vnet_does_not() {
    let f = fabric(&pe("Enabled", &udr("10.1.1.0/24")));
    assert_eq!(
        state(&f, "B/b", "10.1.1.10/32", "InterfaceEndpoint").as_deref(),
        Some("Invalid")
    );
    assert!(crosses_firewall(&f));
    let f = fabric(&pe("Enabled", &udr("10.0.0.0/8")));
    assert_eq!(
        state(&f, "B/b", "10.1.1.10/32", "InterfaceEndpoint").as_deref(),
        Some("Active")
    );
    assert!(!crosses_firewall(&f));
}

#[test]
fn v17_exact_host_udr_beats_endpoint_route_even_with_policies_disabled() {
    let f = fabric(&pe("Disabled", &udr("10.1.1.10/32")));
    assert_eq!(
        state(&f, "B/b", "10.1.1.10/32", "InterfaceEndpoint").as_deref(),
        Some("Invalid")
    );
    assert_eq!(
        state(&f, "B/b", "10.1.1.10/32", "VirtualAppliance").as_deref(),
        Some("Active")
    );
    assert!(crosses_firewall(&f));
}

#[test]
fn identical_route_sets_are_compiled_once() {
    // Two subnets of one VNet without route tables share one compiled set; a
    // subnet with a route table gets its own.
    let f = fabric(
        r#"
version: 1
vnets:
  - name: A
    addressSpace: [10.1.0.0/16]
    subnets:
      - { name: a, addressPrefix: 10.1.0.0/24 }
      - { name: b, addressPrefix: 10.1.1.0/24 }
      - { name: c, addressPrefix: 10.1.2.0/24, routeTable: rt }
routeTables:
  - { name: rt, routes: [{ name: x, addressPrefix: 10.9.0.0/16, nextHopType: None }] }
"#,
    );
    let a = f.subnets[f.find_subnet("A/a").unwrap().ix()].route_set;
    let b = f.subnets[f.find_subnet("A/b").unwrap().ix()].route_set;
    let c = f.subnets[f.find_subnet("A/c").unwrap().ix()].route_set;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(f.route_sets.len(), 2);
}
