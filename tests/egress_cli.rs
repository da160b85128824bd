//! Egress to the Internet translates the source, through the real binary: NAT gateway versus
//! instance public IP versus default outbound access versus none on a private subnet, replies
//! through the same translation, and the public-IP hairpin judged as Internet traffic.
//! Expected values from Microsoft's documentation, cited per case.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/egress.yaml")
}

fn trace(extra: &[&str]) -> Value {
    let mut a = vec!["trace", fixture().to_str().unwrap().to_string().leak()];
    a.extend_from_slice(extra);
    a.push("--json");
    let o = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(&a)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{a:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn last_node(leg: &Value) -> String {
    let hops = leg["hops"].as_array().unwrap();
    hops.last().unwrap()["node"].as_str().unwrap().to_string()
}

#[test]
fn nat_gateway_takes_precedence_over_the_instance_public_ip() {
    // learn.microsoft.com/azure/nat-gateway/nat-gateway-resource: NAT gateway takes precedence
    // over other outbound scenarios, instance-level public IPs included; return traffic is
    // allowed in response to the outbound flow.
    let v = trace(&["--src", "10.5.1.4", "--dst", "8.8.8.8"]);
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["forward"]["srcSeen"], "40.0.0.10");
    assert_eq!(v["return"]["dstSeen"], "10.5.1.4");
    assert_eq!(v["return"]["deliveredTo"], "nic:vm-nat");
    assert_eq!(last_node(&v["return"]), "nic:vm-nat");
}

#[test]
fn instance_public_ip_on_a_private_subnet() {
    // learn.microsoft.com/azure/virtual-network/ip-services/default-outbound-access: a public
    // IP associated with the VM's NIC is an explicit outbound method.
    let v = trace(&["--src", "10.5.2.4", "--dst", "8.8.8.8"]);
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["forward"]["srcSeen"], "40.0.0.30");
    assert_eq!(v["return"]["deliveredTo"], "nic:vm-pip");
}

#[test]
fn private_subnet_without_an_explicit_method_has_no_internet() {
    // learn.microsoft.com/azure/virtual-network/ip-services/default-outbound-access: private
    // subnets get no default outbound access; without NAT gateway, public IP or load balancer
    // outbound rule a VM cannot reach the Internet.
    let v = trace(&["--src", "10.5.3.4", "--dst", "8.8.8.8"]);
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["droppedAt"], "subnet:v/snet-private");
    let reason = v["forward"]["reason"].as_str().unwrap();
    assert!(reason.contains("private subnet"), "{reason}");
    assert!(reason.contains("no outbound method"), "{reason}");
}

#[test]
fn default_outbound_access_uses_a_platform_address() {
    // Same page: without an explicit method a VM gets an implicit Microsoft-owned outbound
    // address; vnetsim's documented stand-in for it is 198.51.100.1 (GUIDE, Modelling choices).
    let v = trace(&["--src", "10.5.4.4", "--dst", "8.8.8.8"]);
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["forward"]["srcSeen"], "198.51.100.1");
    assert_eq!(v["return"]["deliveredTo"], "nic:vm-default");
}

#[test]
fn nat_gateway_accepts_no_inbound_connection() {
    // learn.microsoft.com/azure/nat-gateway/nat-gateway-resource: services outside the virtual
    // network can't initiate an inbound connection through a NAT gateway.
    let v = trace(&[
        "--src",
        "203.0.113.9",
        "--dst",
        "40.0.0.10",
        "--from",
        "internet",
    ]);
    assert_eq!(v["outcome"], "unreachable");
    let reason = v["forward"]["reason"].as_str().unwrap();
    assert!(reason.contains("NAT gateway"), "{reason}");
}

#[test]
fn public_ip_hairpin_is_judged_as_internet_traffic() {
    // learn.microsoft.com/azure/virtual-network/network-security-groups-overview: the
    // VirtualNetwork tag covers the VNet's address space, not public addresses, so a VM reaching
    // another VM's public IP arrives from its own outbound address (the NAT gateway's) and meets
    // the Internet rules: AllowVnetInBound does not admit SSH, the Internet HTTPS rule does.
    let v = trace(&[
        "--src",
        "10.5.1.4",
        "--dst",
        "40.0.0.30",
        "--dst-port",
        "22",
    ]);
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["rule"], "nsg-web/DenyAllInBound");
    let v = trace(&[
        "--src",
        "10.5.1.4",
        "--dst",
        "40.0.0.30",
        "--dst-port",
        "443",
    ]);
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["forward"]["rule"], "nsg-web/allow-https-internet");
    assert_eq!(v["forward"]["srcSeen"], "40.0.0.10");
    assert_eq!(v["forward"]["dstSeen"], "10.5.2.4");
    // The reply leaves from the target's public IP and comes back through the NAT gateway.
    assert_eq!(v["return"]["srcSeen"], "40.0.0.30");
    assert_eq!(v["return"]["dstSeen"], "10.5.1.4");
    assert_eq!(v["return"]["deliveredTo"], "nic:vm-nat");
    assert_eq!(v["symmetric"], true);
}
