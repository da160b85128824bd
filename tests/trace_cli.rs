//! The data plane through the real binary: `trace` and `flow-verify` on the
//! cases of the data-plane issue. Expected values from fabric-semantics.md.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixture(name: &str, subst: &[(&str, &str)]) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    if subst.is_empty() {
        return src;
    }
    let mut text = std::fs::read_to_string(src).unwrap();
    for (k, v) in subst {
        text = text.replace(k, v);
    }
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-trace-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let tag: String = subst
        .iter()
        .map(|(_, v)| {
            v.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-");
    let p = d.join(format!("{name}-{}.yaml", &tag[..tag.len().min(60)]));
    std::fs::write(&p, text).unwrap();
    p
}

fn lab() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("traces/hub-spoke-lab.yaml")
}

fn json(args: &[&str]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn trace(topo: &Path, extra: &[&str]) -> Value {
    let mut a = vec!["trace", topo.to_str().unwrap()];
    a.extend_from_slice(extra);
    a.push("--json");
    json(&a)
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
fn endpoint_direct_with_policies_off_through_proxy_with_policies_on() {
    // R4.2: policies off, the /32 beats B's /16 user route: straight to the endpoint.
    let t = fixture("pe-app-rule.yaml", &[("POLICIES", "Disabled")]);
    let v = trace(&t, &["--src", "10.2.1.4", "--dst", "10.1.1.10"]);
    assert_eq!(v["outcome"], "reachable");
    assert!(!nodes(&v["forward"]).contains(&"firewall:fw".to_string()));
    assert_eq!(v["forward"]["srcSeen"], "10.2.1.4");
    // R4.3 + R6.4: policies on, the /32 is Invalid, the firewall's application rule proxies.
    let t = fixture("pe-app-rule.yaml", &[("POLICIES", "Enabled")]);
    let v = trace(&t, &["--src", "10.2.1.4", "--dst", "10.1.1.10"]);
    assert_eq!(v["outcome"], "reachable");
    assert!(nodes(&v["forward"]).contains(&"firewall:fw".to_string()));
    assert_eq!(v["forward"]["deliveredTo"], "pe:pe1");
    assert_eq!(v["forward"]["srcSeen"], "10.2.0.5");
    assert_eq!(v["flow"]["fqdn"], "acct.blob.core.windows.net");
    assert_eq!(v["symmetric"], true);
    assert!(nodes(&v["return"]).contains(&"firewall:fw".to_string()));
}

#[test]
fn network_rule_to_private_destination_keeps_source_and_reply_bypasses() {
    // R6.3 (no SNAT), R4.5, R8.3: the lab's on-premises client to the endpoint.
    let v = trace(&lab(), &["--src", "192.168.1.10", "--dst", "10.1.2.5"]);
    assert_eq!(v["outcome"], "no-return");
    assert_eq!(v["symmetric"], false);
    assert_eq!(v["bypassed"], "firewall:afw-hub");
    assert_eq!(v["forward"]["srcSeen"], "192.168.1.10");
    assert!(nodes(&v["forward"]).contains(&"firewall:afw-hub".to_string()));
    assert!(!nodes(&v["return"]).contains(&"firewall:afw-hub".to_string()));
    assert!(v["reason"].as_str().unwrap().contains("afw-hub"));
}

#[test]
fn virtualnetwork_tag_narrow_denies_widened_allows() {
    let narrow = fixture("spokes-tag.yaml", &[("ROUTES", "[]")]);
    let v = trace(
        &narrow,
        &[
            "--src",
            "10.32.1.4",
            "--dst",
            "10.31.1.4",
            "--dst-port",
            "22",
        ],
    );
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["rule"], "nsg-a/DenyAllInBound");
    let wide = fixture("spokes-tag.yaml", &[("ROUTES", "[{ name: d, addressPrefix: 0.0.0.0/0, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }]")]);
    let v = trace(
        &wide,
        &[
            "--src",
            "10.32.1.4",
            "--dst",
            "10.31.1.4",
            "--dst-port",
            "22",
        ],
    );
    assert_eq!(v["outcome"], "reachable");
    let rules: Vec<&str> = v["forward"]["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["rule"].as_str())
        .collect();
    assert!(rules.contains(&"nsg-a/AllowVnetInBound"), "{rules:?}");
}

#[test]
fn flow_verify_allows_an_internet_source_that_trace_drops() {
    let l = lab();
    // R5.6: the rules alone; the tools subnet's 0.0.0.0/0 route widened VirtualNetwork.
    let v = json(&[
        "flow-verify",
        l.to_str().unwrap(),
        "--nic",
        "vm-tools-nic",
        "--direction",
        "Inbound",
        "--protocol",
        "TCP",
        "--local",
        "10.0.2.4:22",
        "--remote",
        "203.0.113.50:50000",
        "--json",
    ]);
    assert_eq!(v["access"], "Allow");
    assert_eq!(v["ruleName"], "nsg-tools/AllowVnetInBound");
    // R5.7: the fabric does not let Internet traffic match the user-route part of the tag.
    let v = trace(
        &l,
        &[
            "--src",
            "203.0.113.50",
            "--dst",
            "20.30.40.50",
            "--dst-port",
            "22",
        ],
    );
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["rule"], "nsg-tools/DenyAllInBound");
    assert_eq!(v["forward"]["droppedAt"], "subnet:vnet-hub/snet-tools");
}

#[test]
fn subnet_and_nic_nsg_are_both_required() {
    let allow80 = "[{ name: allow-80, priority: 100, direction: Inbound, access: Allow, protocol: Tcp, source: '*', destination: '*', destinationPorts: '80' }]";
    let args = [
        "--src",
        "203.0.113.7",
        "--dst",
        "20.0.0.4",
        "--dst-port",
        "80",
    ];
    let t = fixture(
        "nsg-pair.yaml",
        &[("SUBNET_RULES", allow80), ("NIC_RULES", "[]")],
    );
    let v = trace(&t, &args);
    assert_eq!(
        (
            v["forward"]["droppedAt"].as_str(),
            v["forward"]["rule"].as_str()
        ),
        (Some("nic:vm"), Some("nsg-nic/DenyAllInBound"))
    );
    let t = fixture(
        "nsg-pair.yaml",
        &[("SUBNET_RULES", "[]"), ("NIC_RULES", allow80)],
    );
    let v = trace(&t, &args);
    assert_eq!(
        (
            v["forward"]["droppedAt"].as_str(),
            v["forward"]["rule"].as_str()
        ),
        (Some("subnet:v/s"), Some("nsg-subnet/DenyAllInBound"))
    );
    let t = fixture(
        "nsg-pair.yaml",
        &[("SUBNET_RULES", allow80), ("NIC_RULES", allow80)],
    );
    let v = trace(&t, &args);
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["forward"]["deliveredTo"], "nic:vm");
    assert_eq!(
        v["forward"]["dstSeen"], "10.1.0.4",
        "NSGs see the private destination"
    );
}

#[test]
fn firewall_default_deny() {
    let v = trace(
        &lab(),
        &["--src", "10.1.1.4", "--dst", "1.1.1.1", "--dst-port", "80"],
    );
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["droppedAt"], "firewall:afw-hub");
    assert_eq!(v["forward"]["rule"], "afw-hub/DefaultDeny");
}

#[test]
fn dnat_inbound() {
    let v = trace(
        &lab(),
        &[
            "--src",
            "203.0.113.9",
            "--dst",
            "20.10.10.10",
            "--dst-port",
            "3389",
        ],
    );
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["ingress"], "internet");
    assert_eq!(v["forward"]["deliveredTo"], "nic:vm-app-nic");
    assert_eq!(v["forward"]["dstSeen"], "10.1.1.4");
    assert_eq!(v["forward"]["srcSeen"], "10.0.1.5"); // R6.2
    let fw = v["forward"]["hops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["node"] == "firewall:afw-hub")
        .unwrap();
    assert_eq!(fw["rule"], "dnatRules/rdp-to-app");
    assert_eq!(fw["nat"]["dst"][1], "10.1.1.4");
    assert!(nodes(&v["return"]).contains(&"firewall:afw-hub".to_string()));
    assert_eq!(v["return"]["deliveredTo"], "internet");
}

#[test]
fn routing_loop_is_detected() {
    let t = fixture("loop.yaml", &[]);
    let v = trace(&t, &["--src", "10.1.1.4", "--dst", "10.9.0.1"]);
    assert_eq!(v["outcome"], "unreachable");
    assert!(
        v["forward"]["reason"].as_str().unwrap().contains("loop"),
        "{}",
        v["forward"]["reason"]
    );
    assert!(nodes(&v["forward"]).len() > 8);
}

fn fails(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(args)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{args:?} must be refused");
    String::from_utf8_lossy(&o.stderr).into()
}

#[test]
fn trace_takes_names_where_addresses_go() {
    // The lab: vm-shared-nic is 10.2.1.4; pe-app is 10.1.2.5 for app-flask (its FQDN
    // app-flask.azurewebsites.net resolves to the endpoint inside the fabric).
    let by_ip = trace(&lab(), &["--src", "10.2.1.4", "--dst", "10.1.2.5"]);
    for (src, dst) in [
        ("vm-shared-nic", "pe:pe-app"),
        ("nic:vm-shared-nic", "pe-app"),
        ("vm-shared-nic", "app-flask.azurewebsites.net"),
        ("vm-shared-nic", "service:app-flask"),
    ] {
        let v = trace(&lab(), &["--src", src, "--dst", dst]);
        assert_eq!(v["flow"], by_ip["flow"], "{src} -> {dst}");
        assert_eq!(v["outcome"], by_ip["outcome"], "{src} -> {dst}");
        assert_eq!(v["ingress"], "nic:vm-shared-nic");
    }
    // A site by name enters at the site, from its first host.
    let v = trace(&lab(), &["--src", "site:home", "--dst", "vm-app-nic"]);
    assert_eq!(v["ingress"], "site:home");
    assert_eq!(v["flow"]["src"], "192.168.0.1");
    assert_eq!(v["flow"]["dst"], "10.1.1.4");
    // An unknown name lists the closest, not every name.
    let err = fails(&[
        "trace",
        lab().to_str().unwrap(),
        "--src",
        "vm-sharde-nic",
        "--dst",
        "10.1.1.4",
    ]);
    assert!(err.contains("did you mean nic:vm-shared-nic"), "{err}");
}

#[test]
fn a_private_source_nothing_owns_is_refused_not_taken_for_the_internet() {
    // 10.9.9.9 is private (RFC 1918) and in no VNet, subnet or site of the lab.
    let l = lab();
    let err = fails(&[
        "trace",
        l.to_str().unwrap(),
        "--src",
        "10.9.9.9",
        "--dst",
        "10.1.1.4",
    ]);
    assert!(err.contains("--src 10.9.9.9 belongs to no NIC"), "{err}");
    // A public source is an Internet host.
    let v = trace(
        &l,
        &[
            "--src",
            "203.0.113.9",
            "--dst",
            "20.10.10.10",
            "--dst-port",
            "3389",
        ],
    );
    assert_eq!(v["ingress"], "internet");
    // --from says where a private source enters.
    let v = trace(
        &l,
        &[
            "--src", "10.9.9.9", "--dst", "10.1.1.4", "--from", "internet",
        ],
    );
    assert_eq!(v["ingress"], "internet");
}

#[test]
fn flow_verify_local_must_be_the_nics_address() {
    let l = lab();
    let err = fails(&[
        "flow-verify",
        l.to_str().unwrap(),
        "--nic",
        "vm-app-nic",
        "--direction",
        "Inbound",
        "--local",
        "10.1.1.99:443",
        "--remote",
        "192.168.1.10:50000",
    ]);
    assert!(
        err.contains("is not an address of NIC vm-app-nic (its address is 10.1.1.4)"),
        "{err}"
    );
}

#[test]
fn a_spoofed_source_from_a_nic_without_ip_forwarding_is_dropped() {
    // vm-app-nic (10.1.1.4) has IP forwarding off: Azure drops what it sends from another
    // address. The same packet from its own address is carried.
    let l = lab();
    let spoofed = trace(
        &l,
        &[
            "--src",
            "10.1.1.77",
            "--dst",
            "10.2.1.4",
            "--from",
            "nic:vm-app-nic",
        ],
    );
    assert_eq!(spoofed["outcome"], "unreachable");
    assert_eq!(spoofed["forward"]["droppedAt"], "nic:vm-app-nic");
    assert!(spoofed["forward"]["reason"]
        .as_str()
        .unwrap()
        .contains("does not own the source address 10.1.1.77"));
    let own = trace(
        &l,
        &[
            "--src",
            "10.1.1.4",
            "--dst",
            "10.2.1.4",
            "--from",
            "nic:vm-app-nic",
        ],
    );
    assert_ne!(own["forward"]["droppedAt"], "nic:vm-app-nic");
}
