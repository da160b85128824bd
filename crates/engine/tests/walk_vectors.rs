//! The NSG, firewall and walk vectors of fabric-semantics.md (18-39), expected
//! values written from the spec's words (rule ids next to each assertion).

mod common;
use common::*;
use vnetsim_engine::render::rule_name;
use vnetsim_engine::{
    trace, AppProtocol, Flow, Outcome, Reason, Scratch, Verdict, ICMP, L7, TCP, UDP,
};
use vnetsim_fabric::security::Access;
use vnetsim_fabric::watcher::{flow_verify, Direction};
use vnetsim_fabric::{Endpoint, Fabric};

fn rule(f: &Fabric, w: &Walked) -> Option<String> {
    w.t.forward.rule.map(|r| rule_name(f, r))
}
fn delivered(f: &Fabric, w: &Walked) -> Option<String> {
    w.t.forward.delivered_to.map(|e| f.endpoint_id(e))
}
fn dropped(f: &Fabric, w: &Walked) -> Option<String> {
    w.t.forward.dropped_at.map(|e| f.endpoint_id(e))
}
fn seen_src(w: &Walked) -> String {
    std::net::Ipv4Addr::from(w.t.forward.seen.src).to_string()
}
fn from_internet(f: &Fabric, src: &str, dst: &str, dport: u16) -> Walked {
    walk_from(
        f,
        Flow {
            src: ip(src),
            dst: ip(dst),
            proto: TCP,
            sport: 50000,
            dport,
        },
        Endpoint::Internet,
        None,
    )
}

/// One VNet, one subnet `s` (NSG `sub` unless empty), NICs a (10.1.0.4, NSG `nic` unless empty,
/// public 20.0.0.4) and b (10.1.0.5).
fn one_subnet(sub_rules: Option<&str>, nic_rules: Option<&str>) -> Fabric {
    let mut y = String::from(
        "version: 1\nvnets:\n  - name: v\n    addressSpace: [10.1.0.0/16]\n    subnets:\n",
    );
    y += &format!(
        "      - {{ name: s, addressPrefix: 10.1.0.0/24{} }}\n",
        if sub_rules.is_some() {
            ", nsg: sub"
        } else {
            ""
        }
    );
    y += "nsgs:\n";
    y += &format!(
        "  - {{ name: sub, rules: {} }}\n",
        sub_rules.unwrap_or("[]")
    );
    y += &format!(
        "  - {{ name: nic, rules: {} }}\n",
        nic_rules.unwrap_or("[]")
    );
    y += &format!(
        "nics:\n  - {{ name: a, subnet: v/s, privateIpAddress: 10.1.0.4, publicIpAddress: 20.0.0.4{} }}\n  - {{ name: b, subnet: v/s, privateIpAddress: 10.1.0.5 }}\n",
        if nic_rules.is_some() { ", nsg: nic" } else { "" }
    );
    fabric(&y)
}

/// An NSG rule in topology YAML, matching (source, destination, destination ports).
fn r(
    name: &str,
    prio: u32,
    dir: &str,
    access: &str,
    proto: &str,
    (src, dst, ports): (&str, &str, &str),
) -> String {
    format!("{{ name: {name}, priority: {prio}, direction: {dir}, access: {access}, protocol: '{proto}', source: '{src}', destination: '{dst}', destinationPorts: '{ports}' }}")
}

#[test]
fn v19_default_rules_allow_the_vnet_and_deny_the_internet() {
    let f = one_subnet(Some("[]"), None);
    let w = walk(&f, "10.1.0.5", "10.1.0.4", TCP, 22);
    assert_eq!(w.t.outcome, Outcome::Reachable); // R5.2 AllowVnetInBound
    let nsg_rules: Vec<String> =
        w.s.leg_hops(&w.t.forward)
            .iter()
            .filter_map(|h| h.rule)
            .map(|r| rule_name(&f, r))
            .collect();
    assert!(
        nsg_rules.contains(&"sub/AllowVnetInBound".to_string()),
        "{nsg_rules:?}"
    );
    let w = from_internet(&f, "203.0.113.7", "20.0.0.4", 22);
    assert_eq!(w.t.outcome, Outcome::Unreachable);
    assert_eq!(rule(&f, &w).as_deref(), Some("sub/DenyAllInBound"));
}

#[test]
fn v20_subnet_and_nic_nsg_both_required_inbound() {
    let allow80 = format!(
        "[{}]",
        r("allow-80", 100, "Inbound", "Allow", "Tcp", ("*", "*", "80"))
    );
    // Subnet allows, NIC does not: dropped at the NIC by its DenyAllInBound (R5.3).
    let f = one_subnet(Some(&allow80), Some("[]"));
    let w = from_internet(&f, "203.0.113.7", "20.0.0.4", 80);
    assert_eq!(dropped(&f, &w).as_deref(), Some("nic:a"));
    assert_eq!(rule(&f, &w).as_deref(), Some("nic/DenyAllInBound"));
    // NIC allows, subnet denies: dropped at the subnet.
    let f = one_subnet(Some("[]"), Some(&allow80));
    let w = from_internet(&f, "203.0.113.7", "20.0.0.4", 80);
    assert_eq!(dropped(&f, &w).as_deref(), Some("subnet:v/s"));
    assert_eq!(rule(&f, &w).as_deref(), Some("sub/DenyAllInBound"));
    // Both allow: delivered. Neither NSG: delivered.
    let f = one_subnet(Some(&allow80), Some(&allow80));
    assert_eq!(
        delivered(&f, &from_internet(&f, "203.0.113.7", "20.0.0.4", 80)).as_deref(),
        Some("nic:a")
    );
    let f = one_subnet(None, None);
    assert_eq!(
        delivered(&f, &from_internet(&f, "203.0.113.7", "20.0.0.4", 80)).as_deref(),
        Some("nic:a")
    );
}

#[test]
fn v21_outbound_nic_nsg_is_evaluated_first() {
    let allow = format!(
        "[{}]",
        r(
            "allow-443-out",
            100,
            "Outbound",
            "Allow",
            "Tcp",
            ("*", "Internet", "443")
        )
    );
    let deny = format!(
        "[{}]",
        r(
            "deny-443-out",
            100,
            "Outbound",
            "Deny",
            "Tcp",
            ("*", "Internet", "443")
        )
    );
    let f = one_subnet(Some(&allow), Some(&deny));
    let w = walk(&f, "10.1.0.4", "93.184.216.34", TCP, 443);
    assert_eq!(dropped(&f, &w).as_deref(), Some("nic:a"));
    assert_eq!(rule(&f, &w).as_deref(), Some("nic/deny-443-out"));
}

#[test]
fn v22_replies_pass_on_the_flow_record() {
    let b_rules = format!(
        "[{}, {}]",
        r(
            "allow-ssh-from-a",
            200,
            "Inbound",
            "Allow",
            "Tcp",
            ("10.1.0.4", "*", "22")
        ),
        r(
            "deny-all-out",
            100,
            "Outbound",
            "Deny",
            "*",
            ("*", "*", "*")
        )
    );
    let y = format!(
        "version: 1\nvnets:\n  - {{ name: v, addressSpace: [10.1.0.0/16], subnets: [{{ name: s, addressPrefix: 10.1.0.0/24 }}] }}\nnsgs:\n  - {{ name: nb, rules: {b_rules} }}\nnics:\n  - {{ name: a, subnet: v/s, privateIpAddress: 10.1.0.4 }}\n  - {{ name: b, subnet: v/s, privateIpAddress: 10.1.0.5, nsg: nb }}\n"
    );
    let f = fabric(&y);
    let w = walk(&f, "10.1.0.4", "10.1.0.5", TCP, 22);
    assert_eq!(
        w.t.outcome,
        Outcome::Reachable,
        "R5.4: the reply passes B's outbound deny"
    );
    // A new flow from B is denied by the same rule.
    let w = walk(&f, "10.1.0.5", "10.1.0.4", TCP, 22);
    assert_eq!(rule(&f, &w).as_deref(), Some("nb/deny-all-out"));
}

/// Spokes A (10.31/16) and S (10.32/16), each peered only with the hub, whose firewall forwards
/// between them without SNAT. S's subnet sends 0.0.0.0/0 to the firewall; A's route table is given.
fn spokes(a_routes: Option<&str>) -> Fabric {
    let a_rt = if a_routes.is_some() {
        ", routeTable: rt-a"
    } else {
        ""
    };
    let y = format!(
        r#"
version: 1
vnets:
  - name: hub
    addressSpace: [10.0.0.0/16]
    subnets: [{{ name: AzureFirewallSubnet, addressPrefix: 10.0.1.0/26 }}]
  - name: A
    addressSpace: [10.31.0.0/16]
    subnets: [{{ name: a, addressPrefix: 10.31.1.0/24, nsg: nsg-a {a_rt} }}]
  - name: S
    addressSpace: [10.32.0.0/16]
    subnets: [{{ name: s, addressPrefix: 10.32.1.0/24, routeTable: rt-s }}]
peerings:
  - {{ from: hub, to: A, allowForwardedTraffic: true }}
  - {{ from: A, to: hub, allowForwardedTraffic: true }}
  - {{ from: hub, to: S, allowForwardedTraffic: true }}
  - {{ from: S, to: hub, allowForwardedTraffic: true }}
routeTables:
  - {{ name: rt-s, routes: [{{ name: d, addressPrefix: 0.0.0.0/0, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }}] }}
  - {{ name: rt-a, routes: {} }}
nsgs: [{{ name: nsg-a, rules: [] }}]
nics:
  - {{ name: vm-a, subnet: A/a, privateIpAddress: 10.31.1.4, publicIpAddress: 20.0.0.31 }}
  - {{ name: vm-s, subnet: S/s, privateIpAddress: 10.32.1.4 }}
firewalls:
  - name: fw
    vnet: hub
    privateIpAddress: 10.0.1.4
    snatIpAddresses: [10.0.1.5]
    publicIpAddresses: [20.0.0.1]
    networkRuleCollections:
      - {{ name: east-west, priority: 100, action: Allow, rules: [{{ name: any, protocols: [Any], source: [10.0.0.0/8], destination: [10.0.0.0/8], destinationPorts: ['*'] }}] }}
"#,
        a_routes.unwrap_or("[]")
    );
    fabric(&y)
}

const A_DEFAULT: &str = "[{ name: d, addressPrefix: 0.0.0.0/0, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }]";

#[test]
fn v23_virtualnetwork_tag_narrow_vs_widened_by_default_udr() {
    // Without a UDR on A's subnet, 10.32.x is not in A's VirtualNetwork tag (R5.5).
    let f = spokes(None);
    let w = walk(&f, "10.32.1.4", "10.31.1.4", TCP, 22);
    assert!(w.forward_nodes(&f).contains(&"firewall:fw".to_string()));
    assert_eq!(rule(&f, &w).as_deref(), Some("nsg-a/DenyAllInBound"));
    assert_eq!(w.t.outcome, Outcome::Unreachable);
    // With 0.0.0.0/0 on A's subnet the tag holds every address.
    let f = spokes(Some(A_DEFAULT));
    let w = walk(&f, "10.32.1.4", "10.31.1.4", TCP, 22);
    assert_eq!(delivered(&f, &w).as_deref(), Some("nic:vm-a"));
    let hops: Vec<String> =
        w.s.leg_hops(&w.t.forward)
            .iter()
            .filter_map(|h| h.rule)
            .map(|r| rule_name(&f, r))
            .collect();
    assert!(
        hops.contains(&"nsg-a/AllowVnetInBound".to_string()),
        "{hops:?}"
    );
    assert_eq!(w.t.outcome, Outcome::Reachable);
    assert_eq!(
        seen_src(&w),
        "10.32.1.4",
        "R6.3: private destination, source kept"
    );
}

#[test]
fn v24_a_udr_for_the_peer_range_alone_widens_the_tag() {
    let f = spokes(Some("[{ name: s, addressPrefix: 10.32.0.0/16, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }]"));
    let w = walk(&f, "10.32.1.4", "10.31.1.4", TCP, 22);
    assert_eq!(delivered(&f, &w).as_deref(), Some("nic:vm-a"));
    let v = flow_verify(
        &f,
        f.find_nic("vm-a").unwrap(),
        Direction::Inbound,
        TCP,
        (ip("10.31.1.4").into(), 22),
        (ip("10.32.1.4").into(), 50000),
    );
    assert_eq!(
        (v.access, v.rule_name.as_deref()),
        (Access::Allow, Some("nsg-a/AllowVnetInBound"))
    );
}

#[test]
fn v26_flow_verify_allows_what_the_fabric_drops_from_the_internet() {
    let f = spokes(Some(A_DEFAULT));
    let nic = f.find_nic("vm-a").unwrap();
    let v = flow_verify(
        &f,
        nic,
        Direction::Inbound,
        TCP,
        (ip("10.31.1.4").into(), 22),
        (ip("203.0.113.50").into(), 50000),
    );
    assert_eq!(v.access, Access::Allow); // R5.6
    assert_eq!(v.rule_name.as_deref(), Some("nsg-a/AllowVnetInBound"));
    let w = from_internet(&f, "203.0.113.50", "20.0.0.31", 22);
    assert_eq!(w.t.outcome, Outcome::Unreachable); // R5.7
    assert_eq!(rule(&f, &w).as_deref(), Some("nsg-a/DenyAllInBound"));
}

fn hub_with_site(spoke_flags: &str, gw_rt: &str, extra: &str) -> Fabric {
    let y = format!(
        r#"
version: 1
sites: [{{ name: home, addressPrefixes: [192.168.0.0/16] }}]
vnets:
  - name: hub
    addressSpace: [10.0.0.0/16]
    subnets:
      - {{ name: GatewaySubnet, addressPrefix: 10.0.0.0/27 {gw_rt} }}
      - {{ name: AzureFirewallSubnet, addressPrefix: 10.0.1.0/26 }}
  - name: spoke
    addressSpace: [10.1.0.0/16]
    subnets:
      - {{ name: work, addressPrefix: 10.1.1.0/24, nsg: nsg-spoke }}
      - {{ name: pe, addressPrefix: 10.1.4.0/24 }}
peerings:
  - {{ from: hub, to: spoke, allowForwardedTraffic: true, allowGatewayTransit: true }}
  - {{ from: spoke, to: hub, allowForwardedTraffic: true {spoke_flags} }}
routeTables:
  - {{ name: rt-gw, routes: [{{ name: spoke, addressPrefix: 10.1.0.0/16, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }}] }}
nsgs: [{{ name: nsg-spoke, rules: [] }}]
nics: [{{ name: vm, subnet: spoke/work, privateIpAddress: 10.1.1.4 }}]
gateways: [{{ name: gw, vnet: hub, connections: [{{ site: home }}] }}]
services: [{{ name: blob, fqdn: acct.blob.core.windows.net }}]
privateEndpoints: [{{ name: pe1, subnet: spoke/pe, privateIpAddress: 10.1.4.5, service: blob }}]
firewalls:
  - name: fw
    vnet: hub
    privateIpAddress: 10.0.1.4
    snatIpAddresses: [10.0.1.5]
    publicIpAddresses: [20.0.0.1]
{extra}
"#
    );
    fabric(&y)
}

const NET_ALLOW: &str = "    networkRuleCollections:\n      - { name: net, priority: 100, action: Allow, rules: [{ name: onprem, protocols: [TCP], source: [192.168.0.0/16], destination: [10.1.0.0/16], destinationPorts: ['*'] }] }\n";
const APP_ALLOW: &str = "    applicationRuleCollections:\n      - { name: app, priority: 100, action: Allow, rules: [{ name: blob, source: ['*'], protocols: ['Https:443'], targetFqdns: ['*.blob.core.windows.net'] }] }\n";

#[test]
fn v25_site_prefixes_join_a_transit_spokes_virtualnetwork_tag() {
    let f = hub_with_site(", useRemoteGateways: true", "", NET_ALLOW);
    let w = walk(&f, "192.168.1.10", "10.1.1.4", TCP, 22);
    assert_eq!(w.t.ingress, Endpoint::Site(f.find_site("home").unwrap()));
    assert_eq!(delivered(&f, &w).as_deref(), Some("nic:vm"));
    let hops: Vec<String> =
        w.s.leg_hops(&w.t.forward)
            .iter()
            .filter_map(|h| h.rule)
            .map(|r| rule_name(&f, r))
            .collect();
    assert!(
        hops.contains(&"nsg-spoke/AllowVnetInBound".to_string()),
        "{hops:?}"
    );
    assert_eq!(w.t.outcome, Outcome::Reachable);
}

#[test]
fn v38_site_cannot_reach_a_spoke_that_does_not_use_the_gateway() {
    let f = hub_with_site("", "", NET_ALLOW);
    let w = walk(&f, "192.168.1.10", "10.1.1.4", TCP, 22);
    assert_eq!(w.t.outcome, Outcome::Unreachable); // R7.1
    assert_eq!(w.t.forward.reason, Reason::NotAdvertisedToSite);
}

#[test]
fn v39_gateway_subnet_route_table_steers_site_traffic_through_the_firewall() {
    let f = hub_with_site(
        ", useRemoteGateways: true",
        ", routeTable: rt-gw",
        NET_ALLOW,
    );
    let w = walk(&f, "192.168.1.10", "10.1.1.4", TCP, 22);
    let n = w.forward_nodes(&f);
    let pos = |x: &str| {
        n.iter()
            .position(|y| y == x)
            .unwrap_or_else(|| panic!("{x} not in {n:?}"))
    };
    assert!(
        pos("site:home") < pos("gateway:gw")
            && pos("gateway:gw") < pos("firewall:fw")
            && pos("firewall:fw") < pos("nic:vm")
    );
    assert_eq!(delivered(&f, &w).as_deref(), Some("nic:vm"));
}

#[test]
fn v35_with_endpoint_policies_off_the_32_bypasses_the_firewall_and_is_reachable() {
    // GatewaySubnet sends the spoke's /16 to the firewall, but the endpoint subnet keeps
    // route-table policies Disabled, so the endpoint's /32 stays Active in GatewaySubnet and
    // wins by longest prefix (R4.2, R4.3): the request goes straight to the endpoint, no
    // stateful device is crossed, and the reply returns the same way. (With policies on, the
    // same flow crosses the firewall and is no-return: the next test.)
    let f = hub_with_site(
        ", useRemoteGateways: true",
        ", routeTable: rt-gw",
        &(NET_ALLOW.to_string() + APP_ALLOW),
    );
    let gw_rt_has_pe = state(&f, "hub/GatewaySubnet", "10.1.4.5/32", "InterfaceEndpoint");
    assert_eq!(
        gw_rt_has_pe.as_deref(),
        Some("Active"),
        "policies Disabled: the /32 wins in GatewaySubnet"
    );
    // Direct to the endpoint, firewall bypassed, symmetric (no stateful device crossed).
    let w = walk(&f, "192.168.1.10", "10.1.4.5", TCP, 443);
    assert!(!w.forward_nodes(&f).contains(&"firewall:fw".to_string()));
    assert_eq!(w.t.outcome, Outcome::Reachable);
}

fn pe_through_firewall(rules: &str) -> Fabric {
    // The endpoint subnet turns route-table policies on so GatewaySubnet's /16 user route
    // invalidates the /32 (R4.3) and the request goes through the firewall.
    let y = format!(
        r#"
version: 1
sites: [{{ name: home, addressPrefixes: [192.168.0.0/16] }}]
vnets:
  - name: hub
    addressSpace: [10.0.0.0/16]
    subnets:
      - {{ name: GatewaySubnet, addressPrefix: 10.0.0.0/27, routeTable: rt-gw }}
      - {{ name: AzureFirewallSubnet, addressPrefix: 10.0.1.0/26 }}
  - name: spoke
    addressSpace: [10.1.0.0/16]
    subnets: [{{ name: pe, addressPrefix: 10.1.4.0/24, privateEndpointNetworkPolicies: RouteTableEnabled }}]
peerings:
  - {{ from: hub, to: spoke, allowForwardedTraffic: true, allowGatewayTransit: true }}
  - {{ from: spoke, to: hub, allowForwardedTraffic: true, useRemoteGateways: true }}
routeTables:
  - {{ name: rt-gw, routes: [{{ name: spoke, addressPrefix: 10.1.0.0/16, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }}] }}
gateways: [{{ name: gw, vnet: hub, connections: [{{ site: home }}] }}]
services: [{{ name: blob, fqdn: acct.blob.core.windows.net }}]
privateEndpoints: [{{ name: pe1, subnet: spoke/pe, privateIpAddress: 10.1.4.5, service: blob }}]
firewalls:
  - name: fw
    vnet: hub
    privateIpAddress: 10.0.1.4
    snatIpAddresses: [10.0.1.5]
    publicIpAddresses: [20.0.0.1]
{rules}
"#
    );
    fabric(&y)
}

#[test]
fn v35_endpoint_reply_bypasses_firewall_after_network_rule_but_not_after_proxy() {
    let f = pe_through_firewall(NET_ALLOW);
    let w = walk(&f, "192.168.1.10", "10.1.4.5", TCP, 443);
    assert_eq!(delivered(&f, &w).as_deref(), Some("pe:pe1"));
    assert!(w.forward_nodes(&f).contains(&"firewall:fw".to_string()));
    assert_eq!(seen_src(&w), "192.168.1.10"); // R6.3 no SNAT to a private destination
    assert_eq!(w.t.outcome, Outcome::NoReturn); // R4.5, R8.3
    assert_eq!(w.t.bypassed, Some(vnetsim_fabric::FirewallId(0)));
    assert!(!w.return_nodes(&f).contains(&"firewall:fw".to_string()));
    assert!(
        w.return_nodes(&f).contains(&"gateway:gw".to_string()),
        "{:?}",
        w.return_nodes(&f)
    );
    // Through the application rule the endpoint sees a firewall address and answers it.
    let f = pe_through_firewall(APP_ALLOW);
    let w = walk_fqdn(
        &f,
        "192.168.1.10",
        "10.1.4.5",
        TCP,
        443,
        Some("acct.blob.core.windows.net"),
    );
    assert_eq!(w.t.outcome, Outcome::Reachable);
    assert_eq!(seen_src(&w), "10.0.1.5"); // R6.4 instance address
    assert!(w.return_nodes(&f).contains(&"firewall:fw".to_string()));
    assert!(w.t.symmetric);
}

#[test]
fn v18_endpoint_subnet_nsg_applies_only_with_nsg_policies() {
    for (policies, expect_drop) in [
        ("Disabled", false),
        ("RouteTableEnabled", false),
        ("NetworkSecurityGroupEnabled", true),
        ("Enabled", true),
    ] {
        let y = format!(
            r#"
version: 1
vnets:
  - name: v
    addressSpace: [10.1.0.0/16]
    subnets:
      - {{ name: pe, addressPrefix: 10.1.4.0/24, nsg: nsg-pe, privateEndpointNetworkPolicies: {policies} }}
      - {{ name: work, addressPrefix: 10.1.1.0/24 }}
nsgs: [{{ name: nsg-pe, rules: [{}] }}]
nics: [{{ name: vm, subnet: v/work, privateIpAddress: 10.1.1.4 }}]
services: [{{ name: svc, fqdn: svc.example.net }}]
privateEndpoints: [{{ name: pe1, subnet: v/pe, privateIpAddress: 10.1.4.5, service: svc }}]
"#,
            r("deny-443", 100, "Inbound", "Deny", "Tcp", ("*", "*", "443"))
        );
        let f = fabric(&y);
        let w = walk(&f, "10.1.1.4", "10.1.4.5", TCP, 443);
        if expect_drop {
            assert_eq!(
                rule(&f, &w).as_deref(),
                Some("nsg-pe/deny-443"),
                "{policies}"
            );
        } else {
            assert_eq!(delivered(&f, &w).as_deref(), Some("pe:pe1"), "{policies}");
        }
    }
}

#[test]
fn v27_asg_rule_reaches_members_only() {
    let y = format!(
        r#"
version: 1
vnets: [{{ name: v, addressSpace: [10.1.0.0/16], subnets: [{{ name: s, addressPrefix: 10.1.0.0/24, nsg: n }}] }}]
applicationSecurityGroups: [web]
nsgs: [{{ name: n, rules: [{}] }}]
nics:
  - {{ name: web1, subnet: v/s, privateIpAddress: 10.1.0.4, publicIpAddress: 20.0.0.4, applicationSecurityGroups: [web] }}
  - {{ name: other, subnet: v/s, privateIpAddress: 10.1.0.5, publicIpAddress: 20.0.0.5 }}
"#,
        r(
            "web-443",
            100,
            "Inbound",
            "Allow",
            "Tcp",
            ("Internet", "asg:web", "443")
        )
    );
    let f = fabric(&y);
    assert_eq!(
        delivered(&f, &from_internet(&f, "203.0.113.7", "20.0.0.4", 443)).as_deref(),
        Some("nic:web1")
    );
    let w = from_internet(&f, "203.0.113.7", "20.0.0.5", 443);
    assert_eq!(rule(&f, &w).as_deref(), Some("n/DenyAllInBound"));
}

#[test]
fn v28_platform_address_reaches_any_nic() {
    let f = one_subnet(Some("[]"), Some("[]"));
    let w = walk(&f, "168.63.129.16", "10.1.0.4", TCP, 80);
    assert_eq!(w.t.ingress, Endpoint::Platform);
    assert_eq!(delivered(&f, &w).as_deref(), Some("nic:a"));
    assert_eq!(w.t.outcome, Outcome::Reachable);
    // 168.63.129.16 is in both AllowAzureLoadBalancerInBound's source (R5.2) and the
    // VirtualNetwork tag (R1.2, R5.5); first match by priority (R5.1) names AllowVnetInBound
    // (65000), before AllowAzureLoadBalancerInBound (65001).
    assert_eq!(rule(&f, &w).as_deref(), Some("nic/AllowVnetInBound"));
    let deny_tag = format!(
        "[{}]",
        r(
            "Deny-VNet-In",
            4000,
            "Inbound",
            "Deny",
            "*",
            ("VirtualNetwork", "*", "*")
        )
    );
    let f = one_subnet(None, Some(&deny_tag));
    let w = walk(&f, "168.63.129.16", "10.1.0.4", TCP, 80);
    // Reference TV-71: denying VirtualNetwork also blocks the platform's probes.
    assert_eq!(rule(&f, &w).as_deref(), Some("nic/Deny-VNet-In"));
}

/// A VM subnet sending 0.0.0.0/0 to a firewall with the given rule collections and private ranges.
fn fw_lab(collections: &str, private_ranges: &str) -> Fabric {
    let y = format!(
        r#"
version: 1
sites: [{{ name: home, addressPrefixes: [192.168.0.0/16] }}]
vnets:
  - name: hub
    addressSpace: [10.0.0.0/16]
    subnets:
      - {{ name: GatewaySubnet, addressPrefix: 10.0.0.0/27 }}
      - {{ name: AzureFirewallSubnet, addressPrefix: 10.0.1.0/26 }}
      - {{ name: work, addressPrefix: 10.0.2.0/24, routeTable: rt }}
      - {{ name: other, addressPrefix: 10.0.3.0/24 }}
routeTables:
  - name: rt
    routes:
      - {{ name: d, addressPrefix: 0.0.0.0/0, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }}
      - {{ name: other, addressPrefix: 10.0.3.0/24, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }}
      - {{ name: onprem, addressPrefix: 192.168.0.0/16, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }}
nics:
  - {{ name: vm, subnet: hub/work, privateIpAddress: 10.0.2.4 }}
  - {{ name: vm2, subnet: hub/other, privateIpAddress: 10.0.3.4 }}
gateways: [{{ name: gw, vnet: hub, connections: [{{ site: home }}] }}]
firewalls:
  - name: fw
    vnet: hub
    privateIpAddress: 10.0.1.4
    snatIpAddresses: [10.0.1.5, 10.0.1.6]
    publicIpAddresses: [20.0.0.1]
    privateRanges: {private_ranges}
{collections}
"#
    );
    fabric(&y)
}

#[test]
fn v29_network_rules_come_before_application_rules_and_collections_by_priority() {
    let f = fw_lab(
        "    networkRuleCollections:\n      - { name: net, priority: 200, action: Allow, rules: [{ name: Allow-web, protocols: [TCP], source: ['*'], destination: ['*'], destinationPorts: ['80', '443'] }] }\n    applicationRuleCollections:\n      - { name: app, priority: 100, action: Deny, rules: [{ name: Deny-google, source: ['*'], protocols: ['Http:80', 'Https:443'], targetFqdns: ['*.google.com', 'google.com'] }] }\n",
        "[IANAPrivateRanges]",
    );
    let w = walk_fqdn(
        &f,
        "10.0.2.4",
        "142.250.1.1",
        TCP,
        443,
        Some("www.google.com"),
    );
    assert_eq!(
        w.t.forward.verdict,
        Verdict::Delivered,
        "R6.5: the network rule allows first"
    );
    assert!(w
        .s
        .leg_hops(&w.t.forward)
        .iter()
        .any(|h| h.rule.map(|r| rule_name(&f, r)).as_deref() == Some("net/Allow-web")));
    let f = fw_lab(
        "    networkRuleCollections:\n      - { name: Allow-collection, priority: 200, action: Allow, rules: [{ name: Allow-SSH, protocols: [TCP], source: ['*'], destination: ['*'], destinationPorts: ['22'] }] }\n      - { name: Deny-collection, priority: 100, action: Deny, rules: [{ name: Deny-SSH, protocols: [TCP], source: ['*'], destination: ['*'], destinationPorts: ['22'] }] }\n",
        "[IANAPrivateRanges]",
    );
    let w = walk(&f, "10.0.2.4", "8.8.8.8", TCP, 22);
    assert_eq!(rule(&f, &w).as_deref(), Some("Deny-collection/Deny-SSH"));
    assert_eq!(w.t.forward.reason, Reason::FirewallDeny);
}

const NET_ANY: &str = "    networkRuleCollections:\n      - { name: net, priority: 100, action: Allow, rules: [{ name: any, protocols: [Any], source: ['*'], destination: ['*'], destinationPorts: ['*'] }] }\n";

#[test]
fn v30_snat_only_toward_public_destinations() {
    let f = fw_lab(NET_ANY, "[IANAPrivateRanges]");
    let w = walk(&f, "10.0.2.4", "192.168.1.1", TCP, 443);
    assert_eq!(delivered(&f, &w).as_deref(), Some("site:home"));
    assert!(w.forward_nodes(&f).contains(&"firewall:fw".to_string()));
    assert_eq!(seen_src(&w), "10.0.2.4"); // R6.3 private: kept
    let w = walk(&f, "10.0.2.4", "8.8.8.8", UDP, 53);
    assert_eq!(delivered(&f, &w).as_deref(), Some("internet"));
    assert_eq!(seen_src(&w), "20.0.0.1"); // R6.3 public: firewall public IP
    assert_eq!(w.t.outcome, Outcome::Reachable);
}

#[test]
fn v31_private_ranges_never_and_always() {
    let f = fw_lab(NET_ANY, "['0.0.0.0/0']");
    let w = walk(&f, "10.0.2.4", "8.8.8.8", UDP, 53);
    assert_eq!(seen_src(&w), "10.0.2.4", "R6.3: never SNAT");
    let f = fw_lab(NET_ANY, "['255.255.255.255/32']");
    let w = walk(&f, "10.0.2.4", "10.0.3.4", TCP, 443);
    assert_eq!(delivered(&f, &w).as_deref(), Some("nic:vm2"));
    let s = seen_src(&w);
    assert!(
        s == "10.0.1.5" || s == "10.0.1.6",
        "R6.3: always SNAT, to a firewall address: {s}"
    );
}

#[test]
fn v32_application_rule_wildcards_ports_and_proxy() {
    let f = fw_lab(
        "    applicationRuleCollections:\n      - { name: web, priority: 100, action: Allow, rules: [{ name: apps, source: ['*'], protocols: ['Https:443'], targetFqdns: ['*.azurewebsites.net'] }] }\n",
        "[IANAPrivateRanges]",
    );
    // Toward a private destination the proxy leaves from an instance address (R6.4).
    let w = walk_fqdn(
        &f,
        "10.0.2.4",
        "10.0.3.4",
        TCP,
        443,
        Some("app1.azurewebsites.net"),
    );
    assert_eq!(w.t.outcome, Outcome::Reachable);
    assert!(w.forward_nodes(&f).contains(&"firewall:fw".to_string()));
    let app: Vec<String> =
        w.s.leg_hops(&w.t.forward)
            .iter()
            .filter_map(|h| h.rule)
            .map(|r| rule_name(&f, r))
            .collect();
    assert!(app.contains(&"web/apps".to_string()), "{app:?}");
    let s = seen_src(&w);
    assert!(s == "10.0.1.5" || s == "10.0.1.6", "{s}");
    // The bare name does not match the wildcard; plain HTTP on 80 is not allowed by it.
    let w = walk_fqdn(
        &f,
        "10.0.2.4",
        "10.0.3.4",
        TCP,
        443,
        Some("azurewebsites.net"),
    );
    assert_eq!(rule(&f, &w).as_deref(), Some("fw/DefaultDeny"));
    let w = walk_fqdn(
        &f,
        "10.0.2.4",
        "10.0.3.4",
        TCP,
        80,
        Some("app1.azurewebsites.net"),
    );
    assert_eq!(rule(&f, &w).as_deref(), Some("fw/DefaultDeny"));
}

#[test]
fn v33_default_deny() {
    let f = fw_lab("", "[IANAPrivateRanges]");
    let w = walk(&f, "10.0.2.4", "8.8.8.8", UDP, 53);
    assert_eq!(w.t.outcome, Outcome::Unreachable);
    assert_eq!(dropped(&f, &w).as_deref(), Some("firewall:fw"));
    assert_eq!(rule(&f, &w).as_deref(), Some("fw/DefaultDeny"));
}

#[test]
fn v34_dnat_inbound() {
    let f = fw_lab(
        "    dnatRules:\n      - { name: rdp, protocols: [TCP], source: '*', destination: 20.0.0.1, destinationPorts: ['3389'], translatedAddress: 10.0.3.4, translatedPort: 3389 }\n",
        "[IANAPrivateRanges]",
    );
    let w = from_internet(&f, "198.51.100.9", "20.0.0.1", 3389);
    assert_eq!(delivered(&f, &w).as_deref(), Some("nic:vm2"));
    let s = seen_src(&w);
    assert!(
        s == "10.0.1.5" || s == "10.0.1.6",
        "R6.2: the VM sees a firewall address: {s}"
    );
    assert_eq!(
        std::net::Ipv4Addr::from(w.t.forward.seen.dst).to_string(),
        "10.0.3.4"
    );
    assert_eq!(w.t.outcome, Outcome::Reachable);
    assert!(
        w.return_nodes(&f).contains(&"firewall:fw".to_string()),
        "the reply returns through the firewall"
    );
    // Another port has no DNAT rule: dropped at the firewall.
    let w = from_internet(&f, "198.51.100.9", "20.0.0.1", 22);
    assert_eq!(dropped(&f, &w).as_deref(), Some("firewall:fw"));
}

#[test]
fn v36_reply_over_a_direct_peering_bypasses_the_firewall() {
    let y = r#"
version: 1
vnets:
  - { name: hub, addressSpace: [10.0.0.0/16], subnets: [{ name: AzureFirewallSubnet, addressPrefix: 10.0.1.0/26 }] }
  - { name: A, addressSpace: [10.31.0.0/16], subnets: [{ name: a, addressPrefix: 10.31.1.0/24, routeTable: rt-a }] }
  - { name: S, addressSpace: [10.32.0.0/16], subnets: [{ name: s, addressPrefix: 10.32.1.0/24 }] }
peerings:
  - { from: hub, to: A, allowForwardedTraffic: true }
  - { from: A, to: hub, allowForwardedTraffic: true }
  - { from: hub, to: S, allowForwardedTraffic: true }
  - { from: S, to: hub, allowForwardedTraffic: true }
  - { from: A, to: S }
  - { from: S, to: A }
routeTables:
  - { name: rt-a, routes: [{ name: s-via-fw, addressPrefix: 10.32.0.0/16, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }] }
nics:
  - { name: vm-a, subnet: A/a, privateIpAddress: 10.31.1.4 }
  - { name: vm-s, subnet: S/s, privateIpAddress: 10.32.1.4 }
firewalls:
  - name: fw
    vnet: hub
    privateIpAddress: 10.0.1.4
    snatIpAddresses: [10.0.1.5]
    publicIpAddresses: [20.0.0.1]
    networkRuleCollections:
      - { name: net, priority: 100, action: Allow, rules: [{ name: any, protocols: [Any], source: ['*'], destination: ['*'], destinationPorts: ['*'] }] }
"#;
    let f = fabric(y);
    let w = walk(&f, "10.31.1.4", "10.32.1.4", TCP, 443);
    assert!(w.forward_nodes(&f).contains(&"firewall:fw".to_string()));
    assert_eq!(delivered(&f, &w).as_deref(), Some("nic:vm-s"));
    assert_eq!(w.t.outcome, Outcome::NoReturn); // R8.3
    assert!(!w.t.symmetric);
    assert!(!w.return_nodes(&f).contains(&"firewall:fw".to_string()));
}

#[test]
fn v37_appliances_pointing_at_each_other_loop() {
    let y = r#"
version: 1
vnets:
  - name: v
    addressSpace: [10.1.0.0/16]
    subnets:
      - { name: x, addressPrefix: 10.1.1.0/24, routeTable: rt-x }
      - { name: y, addressPrefix: 10.1.2.0/24, routeTable: rt-y }
routeTables:
  - { name: rt-x, routes: [{ name: to-y, addressPrefix: 10.9.0.0/16, nextHopType: VirtualAppliance, nextHopIpAddress: 10.1.2.4 }] }
  - { name: rt-y, routes: [{ name: to-x, addressPrefix: 10.9.0.0/16, nextHopType: VirtualAppliance, nextHopIpAddress: 10.1.1.4 }] }
nics:
  - { name: nva-x, subnet: v/x, privateIpAddress: 10.1.1.4, enableIpForwarding: true }
  - { name: nva-y, subnet: v/y, privateIpAddress: 10.1.2.4, enableIpForwarding: true }
"#;
    let f = fabric(y);
    let w = walk(&f, "10.1.1.4", "10.9.0.1", TCP, 443);
    assert_eq!(w.t.outcome, Outcome::Unreachable);
    assert_eq!(w.t.forward.reason, Reason::Loop); // R8.4
}

#[test]
fn ip_forwarding_off_drops_at_the_appliance() {
    // R-NVA-01 / reference TV-69.
    let y = r#"
version: 1
vnets:
  - name: v
    addressSpace: [10.0.0.0/16]
    subnets:
      - { name: public, addressPrefix: 10.0.0.0/24, routeTable: rt }
      - { name: private, addressPrefix: 10.0.1.0/24 }
      - { name: dmz, addressPrefix: 10.0.2.0/24 }
routeTables:
  - { name: rt, routes: [{ name: to-private, addressPrefix: 10.0.1.0/24, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.2.4 }] }
nics:
  - { name: pub, subnet: v/public, privateIpAddress: 10.0.0.4 }
  - { name: priv, subnet: v/private, privateIpAddress: 10.0.1.4 }
  - { name: nva, subnet: v/dmz, privateIpAddress: 10.0.2.4, enableIpForwarding: FWD }
"#;
    let f = fabric(&y.replace("FWD", "true"));
    let w = walk(&f, "10.0.0.4", "10.0.1.4", ICMP, 0);
    assert_eq!(w.forward_nodes(&f), ["nic:pub", "nic:nva", "nic:priv"]);
    assert_eq!(
        w.t.outcome,
        Outcome::Reachable,
        "a plain router is not stateful; the reply goes direct"
    );
    assert_eq!(w.return_nodes(&f), ["nic:priv", "nic:pub"]);
    let f = fabric(&y.replace("FWD", "false"));
    let w = walk(&f, "10.0.0.4", "10.0.1.4", ICMP, 0);
    assert_eq!(w.t.forward.reason, Reason::IpForwardingDisabled);
    assert_eq!(dropped(&f, &w).as_deref(), Some("nic:nva"));
}

#[test]
fn forwarded_traffic_needs_the_peering_flag() {
    // R-PEER-04 (reference TV-32): S's peering toward the hub refuses forwarded traffic.
    let f = spokes(Some(A_DEFAULT));
    let y_ok = walk(&f, "10.31.1.4", "10.32.1.4", TCP, 443);
    assert_eq!(y_ok.t.forward.verdict, Verdict::Delivered);
    let text_f = spokes_text_without_forwarding();
    let f = fabric(&text_f);
    let w = walk(&f, "10.31.1.4", "10.32.1.4", TCP, 443);
    assert_eq!(w.t.forward.reason, Reason::ForwardedTrafficNotAllowed);
}

fn spokes_text_without_forwarding() -> String {
    r#"
version: 1
vnets:
  - { name: hub, addressSpace: [10.0.0.0/16], subnets: [{ name: AzureFirewallSubnet, addressPrefix: 10.0.1.0/26 }] }
  - { name: A, addressSpace: [10.31.0.0/16], subnets: [{ name: a, addressPrefix: 10.31.1.0/24, routeTable: rt }] }
  - { name: S, addressSpace: [10.32.0.0/16], subnets: [{ name: s, addressPrefix: 10.32.1.0/24, routeTable: rt }] }
peerings:
  - { from: hub, to: A, allowForwardedTraffic: true }
  - { from: A, to: hub, allowForwardedTraffic: true }
  - { from: hub, to: S, allowForwardedTraffic: true }
  - { from: S, to: hub, allowForwardedTraffic: false }
routeTables:
  - { name: rt, routes: [{ name: d, addressPrefix: 0.0.0.0/0, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }] }
nics:
  - { name: vm-a, subnet: A/a, privateIpAddress: 10.31.1.4 }
  - { name: vm-s, subnet: S/s, privateIpAddress: 10.32.1.4 }
firewalls:
  - name: fw
    vnet: hub
    privateIpAddress: 10.0.1.4
    snatIpAddresses: [10.0.1.5]
    publicIpAddresses: [20.0.0.1]
    networkRuleCollections:
      - { name: net, priority: 100, action: Allow, rules: [{ name: any, protocols: [Any], source: ['*'], destination: ['*'], destinationPorts: ['*'] }] }
"#
    .to_string()
}

#[test]
fn r6_4_application_rules_match_the_protocol_as_well_as_the_port() {
    // R6.4 / R-FW-07: a rule names protocol:port pairs. `Https:8443` admits TLS on 8443 only;
    // `Http:80` admits plain HTTP on 80 only: the same name over the other protocol, or on
    // another port, matches nothing and meets the default deny.
    let f = fw_lab(
        "    applicationRuleCollections:\n      - { name: web, priority: 100, action: Allow, rules: [{ name: apps, source: ['*'], protocols: ['Https:8443', 'Http:80'], targetFqdns: ['app1.azurewebsites.net'] }] }\n",
        "[IANAPrivateRanges]",
    );
    let flow = |dport: u16| Flow {
        src: ip("10.0.2.4"),
        dst: ip("10.0.3.4"),
        proto: TCP,
        sport: 50000,
        dport,
    };
    let at = |dport: u16, protocol: AppProtocol| {
        let mut s = Scratch::new();
        let l7 = L7 {
            fqdn: "app1.azurewebsites.net",
            protocol,
        };
        let fl = flow(dport);
        let t = trace(&f, fl, f.endpoint_of_source(fl.src), Some(l7), &mut s);
        t.forward.rule.map(|r| rule_name(&f, r))
    };
    let allowed = Some("web/apps".to_string());
    let denied = Some("fw/DefaultDeny".to_string());
    assert_eq!(at(8443, AppProtocol::Https), allowed);
    assert_eq!(at(80, AppProtocol::Http), allowed);
    assert_eq!(at(8443, AppProtocol::Http), denied);
    assert_eq!(at(80, AppProtocol::Https), denied);
    assert_eq!(at(443, AppProtocol::Https), denied);
    assert_eq!(at(80, AppProtocol::Mssql), denied);
}
