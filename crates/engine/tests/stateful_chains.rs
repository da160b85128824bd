//! Long paths through stateful hops: the state a request leaves behind (firewall sessions,
//! R6.6; NSG flow records, R5.4) must admit its reply however many hops it crossed, and a
//! reply that skips any one of them must be caught (R8.3). Expected values come from those
//! rules, not from the engine's output.

mod common;
use common::*;
use vnetsim_engine::{Outcome, Reason, TCP};
use vnetsim_fabric::Fabric;

/// Source VNet `a` (10.1.0.0/16), four hub VNets h1..h4 (10.1N.0.0/16), each with a firewall
/// at 10.1N.1.4, and destination VNet `b` (10.2.0.0/16), peered in a line a-h1-h2-h3-h4-b.
/// UDRs carry a->b through fw1, fw2, fw3, fw4 and the reply back through fw4..fw1, unless
/// `skip_fw1_on_return` routes b's reply around fw1 (h2 sends it straight to a over an extra
/// direct peering h2-a).
fn four_firewalls(skip_fw1_on_return: bool) -> Fabric {
    let mut y = String::from("version: 1\nvnets:\n");
    y += "  - { name: a, addressSpace: [10.1.0.0/16], subnets: [{ name: work, addressPrefix: 10.1.1.0/24, routeTable: rt-a, nsg: nsg-a }] }\n";
    for i in 1..=4 {
        y += &format!("  - {{ name: h{i}, addressSpace: [10.1{i}.0.0/16], subnets: [{{ name: AzureFirewallSubnet, addressPrefix: 10.1{i}.1.0/26, routeTable: rt-h{i} }}] }}\n");
    }
    y += "  - { name: b, addressSpace: [10.2.0.0/16], subnets: [{ name: work, addressPrefix: 10.2.1.0/24, routeTable: rt-b, nsg: nsg-b }] }\n";
    y += "peerings:\n";
    let mut link = |x: &str, z: &str| {
        y += &format!("  - {{ from: {x}, to: {z}, allowForwardedTraffic: true }}\n  - {{ from: {z}, to: {x}, allowForwardedTraffic: true }}\n");
    };
    link("a", "h1");
    link("h1", "h2");
    link("h2", "h3");
    link("h3", "h4");
    link("h4", "b");
    if skip_fw1_on_return {
        link("h2", "a");
    }
    let va = |name: &str, prefix: &str, ip: &str| {
        format!("{{ name: {name}, addressPrefix: {prefix}, nextHopType: VirtualAppliance, nextHopIpAddress: {ip} }}")
    };
    y += "routeTables:\n";
    y += &format!(
        "  - {{ name: rt-a, routes: [{}] }}\n",
        va("to-b", "10.2.0.0/16", "10.11.1.4")
    );
    y += &format!(
        "  - {{ name: rt-b, routes: [{}] }}\n",
        va("to-a", "10.1.0.0/16", "10.14.1.4")
    );
    // Forward: fw_i hands b's traffic to fw_{i+1}; fw4 reaches b over its peering.
    // Return: fw_i hands a's traffic to fw_{i-1}; fw1 reaches a over its peering.
    let back2 = if skip_fw1_on_return {
        String::new() // h2 reaches a directly over the extra peering: fw1 is skipped
    } else {
        format!(", {}", va("to-a", "10.1.0.0/16", "10.11.1.4"))
    };
    y += &format!(
        "  - {{ name: rt-h1, routes: [{}] }}\n",
        va("to-b", "10.2.0.0/16", "10.12.1.4")
    );
    y += &format!(
        "  - {{ name: rt-h2, routes: [{}{back2}] }}\n",
        va("to-b", "10.2.0.0/16", "10.13.1.4")
    );
    y += &format!(
        "  - {{ name: rt-h3, routes: [{}, {}] }}\n",
        va("to-b", "10.2.0.0/16", "10.14.1.4"),
        va("to-a", "10.1.0.0/16", "10.12.1.4")
    );
    y += &format!(
        "  - {{ name: rt-h4, routes: [{}] }}\n",
        va("to-a", "10.1.0.0/16", "10.13.1.4")
    );
    // Each end denies everything in the reply's direction: only flow records admit the reply.
    y += "nsgs:\n";
    y += "  - { name: nsg-a, rules: [{ name: deny-in, priority: 100, direction: Inbound, access: Deny, protocol: '*', source: '*', destination: '*', destinationPorts: '*' }] }\n";
    y += "  - { name: nsg-b, rules: [{ name: deny-out, priority: 100, direction: Outbound, access: Deny, protocol: '*', source: '*', destination: '*', destinationPorts: '*' }] }\n";
    y += "nics:\n  - { name: vm-a, subnet: a/work, privateIpAddress: 10.1.1.4 }\n  - { name: vm-b, subnet: b/work, privateIpAddress: 10.2.1.4 }\n";
    y += "firewalls:\n";
    for i in 1..=4 {
        y += &format!("  - {{ name: fw{i}, vnet: h{i}, privateIpAddress: 10.1{i}.1.4, snatIpAddresses: [10.1{i}.1.5], networkRuleCollections: [{{ name: net, priority: 100, action: Allow, rules: [{{ name: a-b, protocols: [TCP], source: [10.1.0.0/16], destination: [10.2.0.0/16], destinationPorts: ['*'] }}] }}] }}\n");
    }
    fabric(&y)
}

fn positions(nodes: &[String], names: &[&str]) -> Vec<usize> {
    names
        .iter()
        .map(|n| {
            nodes
                .iter()
                .position(|x| x == n)
                .unwrap_or_else(|| panic!("{n} not in {nodes:?}"))
        })
        .collect()
}

#[test]
fn four_firewalls_in_series_admit_their_own_reply() {
    let f = four_firewalls(false);
    let w = walk(&f, "10.1.1.4", "10.2.1.4", TCP, 443);
    // R6.3: network rules toward a private destination keep the source.
    assert_eq!(
        std::net::Ipv4Addr::from(w.t.forward.seen.src).to_string(),
        "10.1.1.4"
    );
    let fwd = w.forward_nodes(&f);
    let p = positions(
        &fwd,
        &[
            "nic:vm-a",
            "firewall:fw1",
            "firewall:fw2",
            "firewall:fw3",
            "firewall:fw4",
            "nic:vm-b",
        ],
    );
    assert!(p.windows(2).all(|x| x[0] < x[1]), "{fwd:?}");
    let ret = w.return_nodes(&f);
    let p = positions(
        &ret,
        &[
            "nic:vm-b",
            "firewall:fw4",
            "firewall:fw3",
            "firewall:fw2",
            "firewall:fw1",
            "nic:vm-a",
        ],
    );
    assert!(p.windows(2).all(|x| x[0] < x[1]), "{ret:?}");
    // R6.6 at every firewall, R5.4 at both ends (their rules deny the reply's direction).
    assert_eq!(w.t.outcome, Outcome::Reachable, "{ret:?}");
    assert!(w.t.symmetric);
    assert_eq!(w.t.bypassed, None);
}

#[test]
fn a_reply_that_skips_the_first_of_four_firewalls_is_no_return() {
    let f = four_firewalls(true);
    let w = walk(&f, "10.1.1.4", "10.2.1.4", TCP, 443);
    let ret = w.return_nodes(&f);
    assert!(!ret.contains(&"firewall:fw1".to_string()), "{ret:?}");
    assert!(ret.contains(&"nic:vm-a".to_string()), "{ret:?}");
    // R8.3: fw1 carried the request and never sees the reply.
    assert_eq!(w.t.outcome, Outcome::NoReturn);
    assert_eq!(w.t.bypassed, f.find_firewall("fw1"));
}

/// One VNet: source subnet s0 (10.0.0.0/24), four appliance subnets n1..n4 (10.0.N.0/24), each
/// with an IP-forwarding NVA at 10.0.N.4 behind a subnet NSG and a NIC NSG, and destination
/// subnet d (10.0.9.0/24). UDRs chain s0 -> nva1 -> nva2 -> nva3 -> nva4 -> d and back. The
/// destination's NSG denies all outbound traffic and the source's all inbound: only the flow
/// records of the request (R5.4) let the reply through, at 2 + 4x2 + 2 distinct points.
fn four_appliances() -> Fabric {
    let mut y = String::from(
        "version: 1\nvnets:\n  - name: v\n    addressSpace: [10.0.0.0/16]\n    subnets:\n",
    );
    y += "      - { name: s0, addressPrefix: 10.0.0.0/24, routeTable: rt-s0, nsg: nsg-src }\n";
    for i in 1..=4 {
        y += &format!("      - {{ name: n{i}, addressPrefix: 10.0.{i}.0/24, routeTable: rt-n{i}, nsg: nsg-open }}\n");
    }
    y += "      - { name: d, addressPrefix: 10.0.9.0/24, routeTable: rt-d, nsg: nsg-dst }\n";
    let va = |name: &str, prefix: &str, ip: &str| {
        format!("{{ name: {name}, addressPrefix: {prefix}, nextHopType: VirtualAppliance, nextHopIpAddress: {ip} }}")
    };
    y += "routeTables:\n";
    y += &format!(
        "  - {{ name: rt-s0, routes: [{}] }}\n",
        va("to-d", "10.0.9.0/24", "10.0.1.4")
    );
    y += &format!(
        "  - {{ name: rt-d, routes: [{}] }}\n",
        va("to-s0", "10.0.0.0/24", "10.0.4.4")
    );
    for i in 1..=4u32 {
        let mut routes = Vec::new();
        if i < 4 {
            routes.push(va("to-d", "10.0.9.0/24", &format!("10.0.{}.4", i + 1)));
        }
        if i > 1 {
            routes.push(va("to-s0", "10.0.0.0/24", &format!("10.0.{}.4", i - 1)));
        }
        y += &format!("  - {{ name: rt-n{i}, routes: [{}] }}\n", routes.join(", "));
    }
    y += "nsgs:\n";
    y += "  - { name: nsg-src, rules: [{ name: deny-in, priority: 100, direction: Inbound, access: Deny, protocol: '*', source: '*', destination: '*', destinationPorts: '*' }] }\n";
    y += "  - { name: nsg-dst, rules: [{ name: deny-out, priority: 100, direction: Outbound, access: Deny, protocol: '*', source: '*', destination: '*', destinationPorts: '*' }] }\n";
    y += "  - { name: nsg-open, rules: [] }\n";
    y += "nics:\n  - { name: src, subnet: v/s0, privateIpAddress: 10.0.0.4 }\n  - { name: dst, subnet: v/d, privateIpAddress: 10.0.9.4 }\n";
    for i in 1..=4 {
        y += &format!("  - {{ name: nva{i}, subnet: v/n{i}, privateIpAddress: 10.0.{i}.4, enableIpForwarding: true, nsg: nsg-open }}\n");
    }
    fabric(&y)
}

#[test]
fn flow_records_of_every_point_admit_the_reply_through_four_appliances() {
    let f = four_appliances();
    let w = walk(&f, "10.0.0.4", "10.0.9.4", TCP, 443);
    let fwd = w.forward_nodes(&f);
    let p = positions(
        &fwd,
        &[
            "nic:src", "nic:nva1", "nic:nva2", "nic:nva3", "nic:nva4", "nic:dst",
        ],
    );
    assert!(p.windows(2).all(|x| x[0] < x[1]), "{fwd:?}");
    assert_eq!(w.t.forward.reason, Reason::Delivered);
    let ret = w.return_nodes(&f);
    let p = positions(
        &ret,
        &[
            "nic:dst", "nic:nva4", "nic:nva3", "nic:nva2", "nic:nva1", "nic:src",
        ],
    );
    assert!(p.windows(2).all(|x| x[0] < x[1]), "{ret:?}");
    // nsg-dst denies every outbound packet and nsg-src every inbound one: the reply passes only
    // on the flow records the request created at dst and at src (R5.4).
    assert_eq!(w.t.outcome, Outcome::Reachable, "{ret:?}");
    // A new connection in the reply's direction is refused by those same rules.
    let back = walk(&f, "10.0.9.4", "10.0.0.4", TCP, 443);
    assert_eq!(back.t.outcome, Outcome::Unreachable);
    assert_eq!(back.t.forward.reason, Reason::NsgDeny);
}
