//! `vnetsim trace --why`: every decision that stops a flow, each with the smallest change that
//! lets it through. Expected blockers are read from the fixtures' YAML and the fabric
//! semantics; each test writes the fixed topology, checks that it validates, and traces the
//! flow on it again: it must be reachable.

mod common;
use common::*;
use serde_json::Value;

fn fixture(name: &str) -> String {
    root().join(name).display().to_string()
}

/// `trace --why --json` on `topo` for `flow`; the blockers, after proving that the written
/// fixed topology validates and makes the flow reachable.
fn why(topo: &str, flow: &[&str], tag: &str) -> Vec<Value> {
    let fixed = tmp("why", &format!("{tag}.yaml")).display().to_string();
    let mut a = vec!["trace", topo];
    a.extend_from_slice(flow);
    a.extend_from_slice(&["--why", "--json", "--fixed-out", &fixed]);
    let v: Value = serde_json::from_str(&ok(&a)).unwrap();
    assert_ne!(
        v["outcome"], "reachable",
        "{tag}: the flow must start blocked"
    );
    assert_eq!(v["why"]["end"], "reachable", "{tag}: {:#}", v["why"]);
    ok(&["validate", &fixed]);
    let mut t = vec!["trace", fixed.as_str()];
    t.extend_from_slice(flow);
    t.push("--json");
    let after: Value = serde_json::from_str(&ok(&t)).unwrap();
    assert_eq!(after["outcome"], "reachable", "{tag}: {after:#}");
    v["why"]["blockers"].as_array().unwrap().clone()
}

fn change(b: &Value) -> &str {
    b["change"].as_str().unwrap_or("")
}

/// Three blockers on one flow, each listed: vm-a (10.1.0.4) to vm-b (10.2.0.4) tcp/5432.
/// R5.3: outbound, the source subnet's NSG nsg-a decides (deny-pg-to-b, priority 200); the
/// fix is an Allow at 199, just ahead of it. R-PEER-04: the appliance in vnet-hub forwards
/// the packet into vnet-b, whose peering toward vnet-hub has allowForwardedTraffic false.
/// R5.3: inbound, vm-b's NIC NSG nsg-b-nic denies (deny-pg-from-a, priority 150): Allow at 149.
/// Owners: nsg-a's origin (team-a), the peering's origin (team-b), else the file's owner.
/// https://learn.microsoft.com/azure/virtual-network/network-security-group-how-it-works
/// https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview
#[test]
fn three_blockers_source_subnet_nsg_peering_flag_and_destination_nic_nsg() {
    let b = why(
        &fixture("tests/fixtures/why.yaml"),
        &[
            "--src",
            "10.1.0.4",
            "--dst",
            "10.2.0.4",
            "--dst-port",
            "5432",
        ],
        "three",
    );
    assert_eq!(b.len(), 3, "{b:#?}");
    assert_eq!(b[0]["resource"], "nsg:nsg-a");
    assert_eq!(b[0]["owner"], "team-a");
    assert_eq!(b[0]["at"], "subnet:vnet-a/snet-a");
    assert!(b[0]["decision"]
        .as_str()
        .unwrap()
        .contains("deny-pg-to-b (priority 200)"));
    assert_eq!(
        change(&b[0]),
        "add to nsg-a an outbound Allow rule at priority 199, source 10.1.0.4/32, destination 10.2.0.4/32, TCP 5432"
    );
    assert_eq!(b[1]["resource"], "peering:vnet-b->vnet-hub");
    assert_eq!(b[1]["owner"], "team-b");
    assert_eq!(
        change(&b[1]),
        "set allowForwardedTraffic on peering vnet-b -> vnet-hub"
    );
    assert_eq!(b[2]["resource"], "nsg:nsg-b-nic");
    assert_eq!(b[2]["owner"], "platform-team");
    assert_eq!(b[2]["at"], "nic:vm-b");
    assert_eq!(
        change(&b[2]),
        "add to nsg-b-nic an inbound Allow rule at priority 149, source 10.1.0.4/32, destination 10.2.0.4/32, TCP 5432"
    );
    assert_eq!(b[2]["patch"]["op"], "add");
    assert_eq!(b[2]["patch"]["path"], "nsgs[nsg-b-nic].rules");
    assert_eq!(b[2]["patch"]["value"]["priority"], 149);
    assert!(
        b.iter().all(|x| x["needed"] == true),
        "each change is needed"
    );
}

/// A missing route: vnet-c is peered with nothing, so 10.3.0.4 from vm-a meets the system
/// route 10.0.0.0/8 with next hop None (R2). Before that, nsg-a's outbound default rules
/// decide: 10.3.0.4 is neither in VirtualNetwork (vnet-a, its peers, rt-a's 10.2.0.0/16) nor
/// in Internet, so DenyAllOutBound (65500) drops it; the fix is an Allow at 4096, the last
/// user priority. Peering the two VNets adds the route.
/// https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview#default
#[test]
fn missing_route_is_a_missing_peering() {
    let b = why(
        &fixture("tests/fixtures/why.yaml"),
        &[
            "--src",
            "10.1.0.4",
            "--dst",
            "10.3.0.4",
            "--dst-port",
            "443",
        ],
        "route",
    );
    assert_eq!(b.len(), 2, "{b:#?}");
    assert!(b[0]["decision"]
        .as_str()
        .unwrap()
        .contains("DenyAllOutBound (priority 65500)"));
    assert!(change(&b[0]).contains("outbound Allow rule at priority 4096"));
    assert_eq!(b[1]["resource"], "peering:vnet-a<->vnet-c");
    assert_eq!(
        change(&b[1]),
        "peer vnet-a and vnet-c (both peering objects)"
    );
    // Once peered, vnet-c is in nsg-a's VirtualNetwork and AllowVnetOutBound (65000) admits
    // the flow: the NSG change is not needed, and the fixed topology leaves it out.
    assert_eq!(b[0]["needed"], false);
    assert_eq!(b[1]["needed"], true);
}

/// defaultOutboundAccess false without a NAT gateway or public IP: no outbound method.
/// https://learn.microsoft.com/azure/virtual-network/ip-services/default-outbound-access
#[test]
fn private_subnet_without_outbound_method() {
    let b = why(
        &fixture("tests/fixtures/why.yaml"),
        &["--src", "10.1.1.4", "--dst", "8.8.8.8", "--dst-port", "443"],
        "private",
    );
    assert_eq!(b.len(), 1, "{b:#?}");
    assert_eq!(b[0]["resource"], "subnet:vnet-a/snet-private");
    assert!(
        change(&b[0]).starts_with("set defaultOutboundAccess: true on subnet vnet-a/snet-private")
    );
}

/// The lab: shared VM 10.2.1.4 to the workload VM 10.1.1.4 tcp/22. rt-spoke sends it to the
/// firewall; no network rule matches (no-ssh-to-shared is toward 10.2.0.0/16,
/// workload-to-shared from 10.1.0.0/16) and no application rule: default deny (R6.1). Past
/// it, nsg-app's deny-ssh-from-shared (priority 300, source 10.2.0.0/16) denies at the
/// workload subnet: Allow at 299. Two blockers, both listed.
/// https://learn.microsoft.com/azure/firewall/rule-processing
#[test]
fn lab_firewall_default_deny_then_destination_subnet_nsg() {
    let b = why(
        &fixture("traces/hub-spoke-lab.yaml"),
        &["--src", "10.2.1.4", "--dst", "10.1.1.4", "--dst-port", "22"],
        "lab-ssh",
    );
    assert_eq!(b.len(), 2, "{b:#?}");
    assert_eq!(b[0]["resource"], "firewall:afw-hub");
    assert!(b[0]["decision"].as_str().unwrap().contains("default deny"));
    assert!(change(&b[0]).starts_with("add to firewall afw-hub a network rule collection"));
    assert!(change(&b[0]).ends_with("source 10.2.1.4, destination 10.1.1.4, TCP 22"));
    assert_eq!(b[1]["resource"], "nsg:nsg-app");
    assert_eq!(b[1]["at"], "subnet:vnet-workload/snet-app");
    assert_eq!(
        change(&b[1]),
        "add to nsg-app an inbound Allow rule at priority 299, source 10.2.1.4/32, destination 10.1.1.4/32, TCP 22"
    );
}

/// The lab's no-return: on-premises 192.168.1.10 to the Private Endpoint 10.1.2.5 crosses
/// the firewall by network rule onprem-to-spokes without SNAT (private destination), and the
/// endpoint's reply goes straight to the gateway, bypassing it (R4.5, R8.3). snet-pe has no
/// route table: the fix creates one with 192.168.1.10/32 via the firewall, 10.0.1.4.
/// https://learn.microsoft.com/azure/private-link/inspect-traffic-with-azure-firewall
#[test]
fn lab_no_return_through_the_bypassed_firewall() {
    let b = why(
        &fixture("traces/hub-spoke-lab.yaml"),
        &[
            "--src",
            "192.168.1.10",
            "--dst",
            "10.1.2.5",
            "--dst-port",
            "443",
        ],
        "lab-pe",
    );
    assert_eq!(b.len(), 1, "{b:#?}");
    assert_eq!(b[0]["leg"], "return");
    assert_eq!(b[0]["kind"], "returnPath");
    assert!(b[0]["decision"]
        .as_str()
        .unwrap()
        .contains("bypasses stateful firewall afw-hub"));
    assert!(change(&b[0]).contains("192.168.1.10/32 -> VirtualAppliance 10.0.1.4"));
    assert!(change(&b[0]).contains("subnet vnet-workload/snet-pe"));
}

/// The lab's tools VM behind its public IP 20.30.40.50, tcp/22 from the Internet: nsg-tools
/// has no rules and Internet traffic does not match the UDR-widened VirtualNetwork tag
/// (R5.7), so DenyAllInBound decides: Allow at 4096. Then the reply follows rt-hub's
/// 0.0.0.0/0 to the firewall, which never saw the request (R6.6): a route for the client
/// with next hop Internet on rt-hub sends it back the way it came.
/// https://learn.microsoft.com/azure/firewall/integrate-lb#asymmetric-routing
#[test]
fn lab_public_ip_nsg_then_asymmetric_reply() {
    let b = why(
        &fixture("traces/hub-spoke-lab.yaml"),
        &[
            "--src",
            "203.0.113.9",
            "--dst",
            "20.30.40.50",
            "--dst-port",
            "22",
        ],
        "lab-tools",
    );
    assert_eq!(b.len(), 2, "{b:#?}");
    assert_eq!(b[0]["resource"], "nsg:nsg-tools");
    assert!(b[0]["decision"]
        .as_str()
        .unwrap()
        .contains("DenyAllInBound"));
    assert_eq!(
        change(&b[0]),
        "add to nsg-tools an inbound Allow rule at priority 4096, source 203.0.113.9/32, destination 10.0.2.4/32, TCP 22"
    );
    assert_eq!(b[1]["leg"], "return");
    assert_eq!(b[1]["resource"], "firewall:afw-hub");
    assert!(change(&b[1]).starts_with("add a route 203.0.113.9/32 -> Internet to rt-hub"));
}

/// AVNM: vm-b (10.20.0.4) to vm-a (10.10.0.4) tcp/8080. The admin rule deny-8080 (priority
/// 10) drops it before any NSG; an admin Allow at priority 9 hands the flow to the NSGs, and
/// nsg-a's allow-8080 admits it. One blocker.
/// https://learn.microsoft.com/azure/virtual-network-manager/concept-security-admins
#[test]
fn admin_deny_then_nsg_allows() {
    let b = why(
        &fixture("tests/fixtures/avnm.yaml"),
        &[
            "--src",
            "10.20.0.4",
            "--dst",
            "10.10.0.4",
            "--dst-port",
            "8080",
        ],
        "admin",
    );
    assert_eq!(b.len(), 1, "{b:#?}");
    assert_eq!(b[0]["kind"], "adminRule");
    assert_eq!(
        b[0]["resource"],
        "adminRule:avnm-corp/baseline/guardrails/deny-8080"
    );
    assert!(change(&b[0]).starts_with(
        "add to admin rule collection avnm-corp/baseline/guardrails an inbound Allow rule at priority 9"
    ));
}

/// A reachable flow has nothing to explain; the text says so.
#[test]
fn reachable_flow_has_no_blocker() {
    let out = ok(&[
        "trace",
        &fixture("traces/hub-spoke-lab.yaml"),
        "--src",
        "10.2.1.4",
        "--dst",
        "10.1.2.5",
        "--why",
    ]);
    assert!(
        out.contains("why: the flow is reachable; nothing blocks it"),
        "{out}"
    );
}

/// --fixed-out without --why is refused by the argument parser.
#[test]
fn fixed_out_needs_why() {
    let (code, _, err) = run(&[
        "trace",
        &fixture("traces/hub-spoke-lab.yaml"),
        "--src",
        "10.2.1.4",
        "--dst",
        "10.1.2.5",
        "--fixed-out",
        "x.yaml",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--why"), "{err}");
}

/// `reach --why`: the region of tcp/22 from the shared VM to the workload VM is unreachable,
/// and its example header has the two blockers of the trace above (the firewall's default
/// deny, then nsg-app's deny-ssh-from-shared at priority 300).
#[test]
fn reach_why_explains_the_unreachable_region() {
    let out = ok(&[
        "reach",
        &fixture("traces/hub-spoke-lab.yaml"),
        "--from",
        "nic:vm-shared-nic",
        "--to",
        "nic:vm-app-nic",
        "--protocol",
        "tcp",
        "--ports",
        "22",
        "--why",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let w = v["why"].as_array().unwrap();
    assert_eq!(w.len(), 1, "{v:#}");
    assert_eq!(w[0]["end"], "reachable");
    let b = w[0]["blockers"].as_array().unwrap();
    let res: Vec<&str> = b.iter().map(|x| x["resource"].as_str().unwrap()).collect();
    assert_eq!(res, ["firewall:afw-hub", "nsg:nsg-app"]);
    assert!(change(&b[1]).contains("inbound Allow rule at priority 299"));
}
