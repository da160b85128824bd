//! Service endpoints, service tags from a service-tag file, and Azure Virtual Network Manager
//! (security admin rules, connected groups) through the real binary. Expected values are
//! written from Microsoft's documentation, cited per test.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    common::root().join("tests/fixtures").join(name)
}

/// The service-endpoint fixture with its storage account's `ipRules`, next to the tag file.
fn endpoint_topology(ip_rules: &str) -> PathBuf {
    let text = std::fs::read_to_string(fixture("service-endpoint.yaml"))
        .unwrap()
        .replace("IP_RULES", ip_rules);
    // A folder per call: tests run in parallel and must not rewrite each other's files.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = format!("admin-{n}");
    let tags = common::tmp(&dir, "service-tags.json");
    std::fs::copy(fixture("service-tags.json"), &tags).unwrap();
    let tag: String = ip_rules.chars().filter(|c| c.is_ascii_digit()).collect();
    let p = common::tmp(&dir, &format!("service-endpoint-{tag}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&common::ok(args)).unwrap()
}

fn trace(topo: &Path, src: &str, dst: &str, port: &str) -> Value {
    json(&[
        "trace",
        topo.to_str().unwrap(),
        "--src",
        src,
        "--dst",
        dst,
        "--dst-port",
        port,
        "--json",
    ])
}

fn routes(topo: &Path, subnet: &str) -> Vec<(String, String, String)> {
    let v = json(&[
        "routes",
        topo.to_str().unwrap(),
        "--subnet",
        subnet,
        "--json",
    ]);
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["addressPrefix"][0].as_str().unwrap().to_string(),
                r["nextHopType"].as_str().unwrap().to_string(),
                r["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

// Service endpoints: "Service endpoints ... extend your virtual network private address space
// and the identity of your VNet to the Azure services ... traffic ... source IP addresses
// switch from public to private IPv4 addresses"; the subnet's effective routes get the
// service's prefixes with next hop type VirtualNetworkServiceEndpoint.
// https://learn.microsoft.com/azure/virtual-network/virtual-network-service-endpoints-overview
// https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview#optional-default-routes
#[test]
fn service_endpoint_routes_come_from_the_regional_tag() {
    let t = endpoint_topology("[]");
    let r = routes(&t, "vnet-app/snet-se");
    let se: Vec<&str> = r
        .iter()
        .filter(|x| x.1 == "VirtualNetworkServiceEndpoint")
        .map(|x| x.0.as_str())
        .collect();
    // Storage.WestEurope's IPv4 prefixes in the fixture; Storage.NorthEurope's are not routed.
    assert_eq!(se, ["20.38.108.0/23", "20.60.0.0/24"]);
    let plain = routes(&t, "vnet-app/snet-plain");
    assert!(plain.iter().all(|x| x.1 != "VirtualNetworkServiceEndpoint"));
}

// A storage account whose firewall admits one subnet ("selected networks"): traffic from that
// subnet over its service endpoint arrives with the VM's private address and is admitted; the
// same request from a subnet without the endpoint leaves through the VM's public address, which
// the virtual network rule does not admit, unless an IP network rule names that address.
// https://learn.microsoft.com/azure/storage/common/storage-network-security
#[test]
fn service_endpoint_allows_storage_the_same_flow_without_it_is_denied() {
    let t = endpoint_topology("[]");
    let v = trace(&t, "vm-se", "service:st-data", "443");
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["forward"]["deliveredTo"], "service:st-data");
    assert_eq!(v["forward"]["srcSeen"], "10.1.1.4");
    let hop = &v["forward"]["hops"][0];
    assert_eq!(hop["route"]["nextHopType"], "VirtualNetworkServiceEndpoint");

    let v = trace(&t, "vm-plain", "service:st-data", "443");
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["droppedAt"], "service:st-data");
    let reason = v["forward"]["reason"].as_str().unwrap();
    assert!(reason.contains("20.30.40.50"), "{reason}");

    let t = endpoint_topology("[20.30.40.50]");
    let v = trace(&t, "vm-plain", "service:st-data", "443");
    assert_eq!(v["outcome"], "reachable");
    assert_eq!(v["forward"]["srcSeen"], "20.30.40.50");
}

// Service tags as UDR address prefixes and in NSG rules take their prefixes from the tag file.
// https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview#service-tags-for-user-defined-routes
// https://learn.microsoft.com/azure/virtual-network/service-tags-overview
#[test]
fn service_tags_in_routes_and_nsg_rules_use_the_tag_file() {
    let t = endpoint_topology("[]");
    let r = routes(&t, "vnet-app/snet-plain");
    assert!(r.contains(&("52.239.136.0/22".into(), "None".into(), "Active".into())));
    let v = trace(&t, "vm-plain", "52.239.136.10", "443");
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["rule"], "north-storage-drop");
    let v = trace(&t, "vm-plain", "13.69.105.20", "1433");
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["rule"], "nsg-plain/deny-sql");
    // No "no tag data" warning once a tag file is given; the skipped IPv6 prefixes are counted.
    let (code, out, err) = common::run(&["validate", t.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let all = format!("{out}{err}");
    assert!(!all.contains("no tag data"), "{all}");
    assert!(all.contains("3 IPv6 prefixes"), "{all}");
}

#[test]
fn without_a_tag_file_a_tag_route_is_not_installed_and_says_so() {
    let text = "version: 1\nvnets: [{ name: v, addressSpace: [10.1.0.0/16], subnets: [{ name: s, addressPrefix: 10.1.0.0/24, routeTable: rt }] }]\nrouteTables: [{ name: rt, routes: [{ name: cloud, addressPrefix: AzureCloud, nextHopType: Internet }] }]\n";
    let p = common::tmp("admin", "no-tags.yaml");
    std::fs::write(&p, text).unwrap();
    let (code, out, err) = common::run(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(format!("{out}{err}").contains("no tag data is bundled"));
}

// Security admin rules are evaluated before NSG rules: Deny ends evaluation (the NSG's allow is
// never reached), AlwaysAllow admits (the NSG's deny is skipped), Allow hands the traffic to
// the NSGs, which decide. https://learn.microsoft.com/azure/virtual-network-manager/concept-security-admins
#[test]
fn admin_deny_beats_nsg_allow_always_allow_beats_nsg_deny_allow_defers() {
    let t = fixture("avnm.yaml");
    let v = trace(&t, "vm-b", "vm-a", "8080");
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(
        v["forward"]["rule"],
        "avnm-corp/baseline/guardrails/deny-8080"
    );
    assert_eq!(v["forward"]["droppedAt"], "nic:vm-a");

    let v = trace(&t, "vm-b", "vm-a", "22");
    assert_eq!(v["outcome"], "reachable");
    let last = v["forward"]["hops"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last["rule"],
        "avnm-corp/baseline/guardrails/always-ssh-from-b"
    );

    let v = trace(&t, "vm-b", "vm-a", "443");
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["rule"], "nsg-a/deny-https");
    let v = trace(&t, "vm-b", "vm-a", "80");
    assert_eq!(v["outcome"], "reachable");

    // IP flow verify includes admin rules (Network Watcher).
    // https://learn.microsoft.com/azure/network-watcher/ip-flow-verify-overview
    let fv = |port: &str| {
        json(&[
            "flow-verify",
            t.to_str().unwrap(),
            "--nic",
            "vm-a",
            "--direction",
            "Inbound",
            "--protocol",
            "TCP",
            "--local",
            &format!("10.10.0.4:{port}"),
            "--remote",
            "10.20.0.4:50000",
            "--json",
        ])
    };
    let v = fv("8080");
    assert_eq!(
        (v["access"].as_str(), v["ruleName"].as_str()),
        (
            Some("Deny"),
            Some("avnm-corp/baseline/guardrails/deny-8080")
        )
    );
    let v = fv("22");
    assert_eq!(
        (v["access"].as_str(), v["ruleName"].as_str()),
        (
            Some("Allow"),
            Some("avnm-corp/baseline/guardrails/always-ssh-from-b")
        )
    );
    let v = fv("443");
    assert_eq!(
        (v["access"].as_str(), v["ruleName"].as_str()),
        (Some("Deny"), Some("nsg-a/deny-https"))
    );

    // Effective security rules list the admin rules too.
    let v = json(&["rules", t.to_str().unwrap(), "--nic", "vm-a", "--json"]);
    let names: Vec<&str> = v["securityAdminRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "avnm-corp/baseline/guardrails/deny-8080",
            "avnm-corp/baseline/guardrails/always-ssh-from-b",
            "avnm-corp/baseline/guardrails/allow-web"
        ]
    );
    // vnet-c is in no network group: no admin rules reach its NICs.
    let v = json(&["rules", t.to_str().unwrap(), "--nic", "vm-c", "--json"]);
    assert_eq!(v["securityAdminRules"].as_array().unwrap().len(), 0);
}

// A mesh connectivity configuration makes its VNets a connected group: each member's subnets
// get the other members' address spaces with next hop type ConnectedGroup, and they reach each
// other without peering; a VNet outside the group does not.
// https://learn.microsoft.com/azure/virtual-network-manager/concept-connectivity-configuration
#[test]
fn mesh_connected_group_routes() {
    let t = fixture("avnm.yaml");
    let r = routes(&t, "vnet-a/snet-a");
    assert!(r.contains(&(
        "10.20.0.0/16".into(),
        "ConnectedGroup".into(),
        "Active".into()
    )));
    assert!(r.iter().all(|x| x.0 != "10.30.0.0/16"));
    let r = routes(&t, "vnet-b/snet-b");
    assert!(r.contains(&(
        "10.10.0.0/16".into(),
        "ConnectedGroup".into(),
        "Active".into()
    )));
    let r = routes(&t, "vnet-c/snet-c");
    assert!(r.iter().all(|x| x.1 != "ConnectedGroup"));
    let v = trace(&t, "vm-b", "vm-a", "80");
    assert_eq!(
        v["forward"]["hops"][0]["route"]["nextHopType"],
        "ConnectedGroup"
    );
    // vnet-c is no member: 10.10.0.0/16 falls in 10.0.0.0/8, next hop None.
    let v = trace(&t, "vm-c", "vm-a", "80");
    assert_eq!(v["outcome"], "unreachable");
}

#[test]
fn validate_locates_invalid_network_manager_and_endpoint_forms() {
    let text = r#"version: 1
vnets:
  - name: v
    addressSpace: [10.1.0.0/16]
    subnets:
      - { name: s, addressPrefix: 10.1.0.0/24, serviceEndpoints: [Microsoft.Nothing] }
nsgs:
  - name: n
    rules:
      - { name: r, priority: 100, direction: Outbound, access: Allow, protocol: Tcp, source: '*', destination: Storage }
networkManagers:
  - name: m
    networkGroups:
      - { name: g, members: [v, ghost] }
    securityAdminConfigurations:
      - name: c
        ruleCollections:
          - name: rc
            appliesToGroups: [g, nogroup]
            rules:
              - { name: zero, priority: 0, direction: Inbound, access: Deny, protocol: Tcp, sources: ['*'], destinations: ['*'] }
              - { name: big, priority: 4097, direction: Inbound, access: AlwaysAllow, protocol: Any, sources: ['*'], destinations: ['*'] }
    connectivityConfigurations:
      - { name: hs, connectivityTopology: HubAndSpoke, appliesToGroups: [{ networkGroup: g }] }
"#;
    let p = common::tmp("admin", "invalid.yaml");
    std::fs::write(&p, text).unwrap();
    let (code, _, err) = common::run(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    for (line, what) in [
        (6, "unknown service endpoint service 'Microsoft.Nothing'"),
        (10, "service tag 'Storage' has no address data"),
        (14, "unknown vnet 'ghost'"),
        (19, "unknown network group 'nogroup'"),
        (21, "priority 0 is outside 1..4096"),
        (22, "priority 4097 is outside 1..4096"),
        (24, "names no hub vnet"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!(":{line}:")) && l.contains(what)),
            "line {line}: {what}\n{err}"
        );
    }
}

#[test]
fn an_unknown_admin_action_is_a_located_error() {
    let text = "version: 1\nvnets: [{ name: v, addressSpace: [10.1.0.0/16] }]\nnetworkManagers:\n  - name: m\n    networkGroups: [{ name: g, members: [v] }]\n    securityAdminConfigurations:\n      - name: c\n        ruleCollections:\n          - name: rc\n            appliesToGroups: [g]\n            rules:\n              - { name: bad, priority: 5, direction: Inbound, access: Block, protocol: Tcp, sources: ['*'], destinations: ['*'] }\n";
    let p = common::tmp("admin", "bad-action.yaml");
    std::fs::write(&p, text).unwrap();
    let (code, _, err) = common::run(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(":12:")
            && err.contains(
                "invalid admin rule access 'Block'; expected one of: Allow, Deny, AlwaysAllow"
            ),
        "{err}"
    );
}

#[test]
fn a_broken_tag_file_is_a_located_error() {
    let tags = common::tmp("admin", "broken-tags.json");
    std::fs::write(&tags, "{ \"values\": [ { \"name\": \"Storage\", \"properties\": { \"addressPrefixes\": [\"20.38.108.1/23\"] } } ] }").unwrap();
    let text = "version: 1\nserviceTags: broken-tags.json\nvnets: [{ name: v, addressSpace: [10.1.0.0/16] }]\n";
    let p = common::tmp("admin", "broken.yaml");
    std::fs::write(&p, text).unwrap();
    let (code, _, err) = common::run(&["validate", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(":2:") && err.contains("broken-tags.json:1:") && err.contains("host bits"),
        "{err}"
    );
}
