//! Rules vnetsim cannot resolve and Virtual WAN hub routes, through the binary: a flow that
//! could meet one before the rule (or route) that decides ends `not-modelled`, naming it; any
//! other flow gets its ordinary verdict.
//!
//! Fixtures (hand-written in the shapes `az network ... list` prints): tests/fixtures/
//! az-unresolved/nsg-storage.json (an NSG rule denying tcp/443 toward the `Storage` tag at
//! priority 100, ahead of an allow at 200), firewall-fqdn.json (a firewall policy network rule
//! with `destinationFqdns` in a Deny collection processed before the Allow collection),
//! vwan-spoke.json (a VNet with a `hubVirtualNetworkConnections` to a Virtual WAN hub);
//! tests/fixtures/unresolved.yaml (all three written in topology form);
//! tests/fixtures/service-tags.json (the `az network list-service-tags` shape: Storage is
//! 20.38.108.0/23, 20.60.0.0/24, 52.239.136.0/22).

mod common;
use common::*;
use serde_json::Value;

fn reason(v: &Value) -> &str {
    v["reason"].as_str().unwrap_or("")
}

#[test]
fn an_nsg_rule_naming_a_tag_without_data_stops_the_flows_it_could_match() {
    let src = fixture("az-unresolved/nsg-storage.json");
    // tcp/443 toward 20.38.108.10 (a Storage address): deny-storage-https (priority 100) may
    // match it before allow-https-out (200) decides; without tag data no verdict is given.
    let v = trace_json(&src, &["--src", "nic-app", "--dst", "20.38.108.10"]);
    assert_eq!(v["outcome"], "not-modelled", "{v}");
    assert_eq!(v["forward"]["rule"], "nsg-app/deny-storage-https");
    assert_eq!(v["forward"]["droppedAt"], "subnet:vnet-app/snet-app");
    assert!(
        reason(&v).contains("nsg-app/deny-storage-https") && reason(&v).contains("'Storage'"),
        "{v}"
    );
    // tcp/80 is no port of the rule: the ordinary verdict (AllowInternetOutBound, R5.2).
    let v = trace_json(
        &src,
        &[
            "--src",
            "nic-app",
            "--dst",
            "20.38.108.10",
            "--dst-port",
            "80",
        ],
    );
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["rule"], "nsg-app/AllowInternetOutBound");
}

#[test]
fn given_the_tag_file_the_same_rule_decides() {
    let out = tmp("unresolved", "tagged/fabric.yaml");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let out_s = out.display().to_string();
    let tags = fixture("service-tags.json");
    let src = fixture("az-unresolved/nsg-storage.json");
    ok(&["import", &src, "--service-tags", &tags, "-o", &out_s]);
    let yaml = std::fs::read_to_string(&out).unwrap();
    assert!(!yaml.contains("unresolved:"), "{yaml}");
    // 20.38.108.10 is in Storage's 20.38.108.0/23: denied by the rule at priority 100.
    let v = trace_json(&out_s, &["--src", "nic-app", "--dst", "20.38.108.10"]);
    assert_eq!(v["outcome"], "unreachable", "{v}");
    assert_eq!(v["forward"]["rule"], "nsg-app/deny-storage-https");
    // 8.8.8.8 is in no Storage prefix: allow-https-out (priority 200) admits it.
    let v = trace_json(&out_s, &["--src", "nic-app", "--dst", "8.8.8.8"]);
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["rule"], "nsg-app/allow-https-out");
}

#[test]
fn the_import_keeps_the_rule_with_what_is_known() {
    let (code, yaml, err) = run(&["import", &fixture("az-unresolved/nsg-storage.json")]);
    assert_eq!(code, 0, "{err}");
    // Everything the export states but the tag's addresses.
    let rule = yaml
        .split("- name: \"deny-storage-https\"")
        .nth(1)
        .and_then(|r| r.split("- name:").next())
        .expect("the rule is in the topology");
    for k in [
        "priority: 100",
        "direction: \"Outbound\"",
        "access: \"Deny\"",
        "protocol: \"Tcp\"",
        "destinationPorts: [\"443\"]",
        "unresolved:",
        "destination: \"service tag 'Storage' has no address data",
    ] {
        assert!(rule.contains(k), "{k} in {rule}");
    }
    assert!(!rule.contains("destination: ["), "{rule}");
    // Reported as kept, not as a resource vnetsim does not model.
    assert!(!yaml.contains("notModelled:"), "{yaml}");
}

#[test]
fn a_firewall_network_rule_with_fqdns_stops_the_flows_it_could_match() {
    let src = fixture("az-unresolved/firewall-fqdn.json");
    // tcp/443 to 93.184.216.34: coll-fqdn (priority 100, Deny) is processed before coll-allow
    // (200), and its rule names www.example.com, which only the DNS proxy resolves.
    let v = trace_json(&src, &["--src", "nic-app", "--dst", "93.184.216.34"]);
    assert_eq!(v["outcome"], "not-modelled", "{v}");
    assert_eq!(v["forward"]["rule"], "afw/coll-fqdn/deny-fqdn");
    assert_eq!(v["forward"]["droppedAt"], "firewall:afw");
    assert!(
        reason(&v).contains("destinationFqdns www.example.com"),
        "{v}"
    );
    // tcp/80 is no port of that rule: coll-allow/allow-web allows it (R6.1), SNAT to the
    // firewall's public IP toward the Internet (R6.3).
    let v = trace_json(
        &src,
        &[
            "--src",
            "nic-app",
            "--dst",
            "93.184.216.34",
            "--dst-port",
            "80",
        ],
    );
    assert_eq!(v["outcome"], "reachable", "{v}");
    let hops = v["forward"]["hops"].as_array().unwrap();
    let fw = hops.iter().find(|h| h["node"] == "firewall:afw").unwrap();
    assert_eq!(fw["rule"], "coll-allow/allow-web");
    assert_eq!(v["forward"]["srcSeen"], "20.50.0.10");
}

#[test]
fn a_vnet_connected_to_a_virtual_wan_hub_does_not_guess_its_routes() {
    let src = fixture("az-unresolved/vwan-spoke.json");
    // 10.70.0.4 is outside vnet-spoke (10.60.0.0/16), which has no peer: only a hub route can
    // take it, and vnetsim does not know the hub's routes.
    let v = trace_json(&src, &["--src", "nic-a", "--dst", "10.70.0.4"]);
    assert_eq!(v["outcome"], "not-modelled", "{v}");
    assert_eq!(v["forward"]["rule"], "notModelled/conn-spoke");
    assert!(
        reason(&v).contains("hubVirtualNetworkConnections/conn-spoke"),
        "{v}"
    );
    // Inside the VNet the VnetLocal system route decides, whatever the hub advertises (R2.7).
    let v = trace_json(&src, &["--src", "nic-a", "--dst", "nic-b"]);
    assert_eq!(v["outcome"], "reachable", "{v}");
    // validate says so.
    let (code, _, err) = run(&["validate", &src]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("vnet 'vnet-spoke' gets routes from"), "{err}");
}

#[test]
fn sweep_counts_not_modelled_as_its_own_outcome() {
    // Worked out by hand over tests/fixtures/unresolved.yaml, 2 sources x 3 destinations x 2
    // ports: vm-app's tcp/443 flows (3) meet nsg-app/deny-storage-https; vm-a's flows to the
    // Internet (2) meet the hub's routes; the other 7 are reachable (vm-app tcp/80 to vm-db
    // and vm-a2 by VNet and peering routes and to the Internet through the firewall; vm-a to
    // vm-db over the peering and to vm-a2 in its VNet).
    let y = fixture("unresolved.yaml");
    let v: Value = serde_json::from_str(&ok(&[
        "sweep",
        &y,
        "--from",
        "nic:vm-app",
        "--from",
        "nic:vm-a",
        "--to",
        "nic:vm-db",
        "--to",
        "nic:vm-a2",
        "--to",
        "internet",
        "--ports",
        "tcp/443,tcp/80",
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["flows"], 12);
    let o = &v["outcomes"];
    assert_eq!(
        (
            &o["reachable"],
            &o["unreachable"],
            &o["noReturn"],
            &o["notModelled"]
        ),
        (
            &Value::from(7),
            &Value::from(0),
            &Value::from(0),
            &Value::from(5)
        ),
        "{v}"
    );
    let rule = |name: &str| {
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == name)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(rule("nsg-app/deny-storage-https")["notModelled"], 3);
    assert_eq!(rule("notModelled/conn-spoke")["notModelled"], 2);
}

#[test]
fn reach_marks_the_regions_an_unresolved_rule_could_take() {
    let y = fixture("unresolved.yaml");
    let out = tmp("unresolved", "reach.jsonl");
    let o = out.display().to_string();
    ok(&[
        "reach",
        &y,
        "--from",
        "nic:vm-app",
        "--to",
        "internet",
        "--protocol",
        "tcp",
        "--out",
        &o,
    ]);
    let rows = jsonl(&out);
    let find = |p: &str| {
        let v: Vec<&Value> = rows.iter().filter(|r| r["protocols"] == p).collect();
        assert_eq!(v.len(), 1, "{p}: {rows:#?}");
        v[0].clone()
    };
    // Exactly tcp/443 is the NSG rule's region and tcp/8443 the firewall rule's (the allows
    // around them, tcp/400-9000 and tcp/80-9000, cut nothing there); the ports beside them are
    // allowed through the firewall.
    assert_eq!(find("tcp/443")["outcome"], "not-modelled");
    assert_eq!(find("tcp/443")["rule"], "nsg-app/deny-storage-https");
    assert_eq!(find("tcp/8443")["outcome"], "not-modelled");
    assert_eq!(find("tcp/8443")["rule"], "afw/coll-fqdn/deny-fqdn");
    let beside = find("tcp/400-442,444-8442,8444-9000");
    assert_eq!(beside["outcome"], "reachable");
    assert_eq!(beside["rule"], "coll-allow/allow-web");
}

#[test]
fn an_unresolved_field_that_is_also_given_is_a_located_error() {
    let bad = tmp("unresolved", "bad.yaml");
    std::fs::write(
        &bad,
        "version: 1
vnets:
  - { name: v, addressSpace: [10.0.0.0/16], subnets: [{ name: s, addressPrefix: 10.0.0.0/24, nsg: n }] }
nsgs:
  - name: n
    rules:
      - { name: r, priority: 100, direction: Outbound, access: Deny, protocol: Tcp,
          source: '*', destination: '*', unresolved: { destination: a tag } }
      - { name: q, priority: 110, direction: Outbound, access: Deny, protocol: Tcp,
          source: '*', destination: '*', unresolved: { protocol: unknown } }
",
    )
    .unwrap();
    let (code, _, err) = run(&["validate", &bad.display().to_string()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.yaml:8:")
            && err.contains("'destination' of a security rule is unresolved"),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:10:") && err.contains("'protocol' cannot be unresolved"),
        "{err}"
    );
}

/// A firewall whose first DNAT rule translates to an FQDN and whose first application rule
/// collection names an FQDN tag: both are unresolved (R6.2, R6.4 evaluate them in order).
const FIREWALL_RULES: &str = "version: 1
vnets:
  - name: vnet-hub
    addressSpace: [10.50.0.0/16]
    subnets:
      - { name: AzureFirewallSubnet, addressPrefix: 10.50.0.0/26 }
      - { name: snet-app, addressPrefix: 10.50.1.0/24, routeTable: rt-app }
routeTables:
  - { name: rt-app, routes: [{ name: via-fw, addressPrefix: 0.0.0.0/0, nextHopType: VirtualAppliance, nextHopIpAddress: 10.50.0.4 }] }
nics:
  - { name: vm-app, subnet: vnet-hub/snet-app, privateIpAddress: 10.50.1.4 }
firewalls:
  - name: afw
    vnet: vnet-hub
    privateIpAddress: 10.50.0.4
    publicIpAddresses: [20.50.0.10]
    dnatRules:
      - { name: rdp-fqdn, protocols: [TCP], source: '*', destination: 20.50.0.10, destinationPorts: ['3389'],
          unresolved: { translatedAddress: translatedFqdn vm.contoso.internal is resolved by the firewall's DNS } }
      - { name: ssh-in, protocols: [TCP], source: '*', destination: 20.50.0.10, destinationPorts: ['22'],
          translatedAddress: 10.50.1.4 }
    applicationRuleCollections:
      - name: coll-tags
        priority: 100
        action: Deny
        rules:
          - { name: deny-update, source: [10.50.1.0/24], protocols: ['Https:443'],
              unresolved: { targetFqdns: 'fqdnTags WindowsUpdate: only targetFqdns are modelled' } }
      - name: coll-web
        priority: 200
        action: Allow
        rules:
          - { name: github, source: [10.50.1.0/24], protocols: ['Https:443'], targetFqdns: [github.com] }
";

#[test]
fn unresolved_dnat_and_application_rules_stop_only_the_flows_they_could_match() {
    let y = tmp("unresolved", "firewall-rules.yaml");
    std::fs::write(&y, FIREWALL_RULES).unwrap();
    let y = y.display().to_string();
    let from_internet = |port: &str| {
        trace_json(
            &y,
            &[
                "--src",
                "203.0.113.9",
                "--dst",
                "20.50.0.10",
                "--dst-port",
                port,
            ],
        )
    };
    // tcp/3389 matches rdp-fqdn, whose translation vnetsim cannot know.
    let v = from_internet("3389");
    assert_eq!(v["outcome"], "not-modelled", "{v}");
    assert_eq!(v["forward"]["rule"], "afw/rdp-fqdn");
    // tcp/22 does not: ssh-in translates it to vm-app (R6.2).
    let v = from_internet("22");
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["deliveredTo"], "nic:vm-app");
    // An HTTPS flow naming github.com could be one of WindowsUpdate's names, and coll-tags
    // (100) is processed before coll-web (200).
    let https = |port: &str| {
        trace_json(
            &y,
            &[
                "--src",
                "vm-app",
                "--dst",
                "140.82.112.3",
                "--dst-port",
                port,
                "--fqdn",
                "github.com",
            ],
        )
    };
    let v = https("443");
    assert_eq!(v["outcome"], "not-modelled", "{v}");
    assert_eq!(v["forward"]["rule"], "afw/coll-tags/deny-update");
    // On port 8443 neither rule's protocol matches: the firewall's default deny (R6.1).
    let v = https("8443");
    assert_eq!(v["outcome"], "unreachable", "{v}");
    assert_eq!(v["forward"]["rule"], "afw/DefaultDeny");
}

#[test]
fn flow_verify_says_unknown_where_an_unresolved_rule_may_decide_first() {
    let y = fixture("unresolved.yaml");
    let verify = |port: &str| -> Value {
        let remote = format!("8.8.8.8:{port}");
        serde_json::from_str(&ok(&[
            "flow-verify",
            &y,
            "--nic",
            "vm-app",
            "--direction",
            "Outbound",
            "--local",
            "10.50.1.4:50000",
            "--remote",
            &remote,
            "--json",
        ]))
        .unwrap()
    };
    // tcp/443: deny-storage-https (100) may match before allow-https-out (200).
    let v = verify("443");
    assert_eq!(v["access"], "unknown", "{v}");
    let u = v["unresolved"].as_str().unwrap();
    assert!(
        u.starts_with("nsg-app/deny-storage-https: destination: service tag 'Storage'"),
        "{u}"
    );
    // tcp/80: no unresolved rule names it; AllowVnetOutBound (the 0.0.0.0/0 user route widens
    // the VirtualNetwork tag, R5.5) allows it.
    let v = verify("80");
    assert_eq!(v["access"], "Allow", "{v}");
    assert_eq!(v["ruleName"], "nsg-app/AllowVnetOutBound");
    assert!(v["unresolved"].is_null(), "{v}");
}

#[test]
fn a_hubs_own_virtual_network_connections_mark_their_vnet_too() {
    // tests/fixtures/az-unresolved/vhub-inline.json: vwan-spoke.json with the connection given
    // only inline, in the hub's `virtualNetworkConnections` (the shape `az network vhub show`
    // prints), not as a resource of its own.
    let src = fixture("az-unresolved/vhub-inline.json");
    let v = trace_json(&src, &["--src", "nic-a", "--dst", "10.70.0.4"]);
    assert_eq!(v["outcome"], "not-modelled", "{v}");
    assert_eq!(v["forward"]["rule"], "notModelled/conn-spoke");
    let v = trace_json(&src, &["--src", "nic-a", "--dst", "nic-b"]);
    assert_eq!(v["outcome"], "reachable", "{v}");
    // Given both ways (inline and as its resource), the connection is reported once.
    let read = |p: &str| -> Vec<Value> {
        serde_json::from_str(&std::fs::read_to_string(fixture(p)).unwrap()).unwrap()
    };
    let mut both = read("az-unresolved/vhub-inline.json");
    both.extend(
        read("az-unresolved/vwan-spoke.json")
            .into_iter()
            .filter(|r| r["type"] == "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections"),
    );
    let p = tmp("unresolved", "vhub-both.json");
    std::fs::write(&p, serde_json::to_string(&both).unwrap()).unwrap();
    let (code, yaml, err) = run(&["import", &p.display().to_string()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        yaml.matches("hubVirtualNetworkConnections/conn-spoke\"")
            .count(),
        1,
        "{yaml}"
    );
}
