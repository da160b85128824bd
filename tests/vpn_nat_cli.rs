//! VPN gateway NAT rules, which vnetsim does not model, through the binary: a walk across the
//! gateway whose source or destination lies in a rule's internal or external mapping ends
//! `not-modelled` naming the rule; every other walk across it keeps its verdict.
//!
//! Fixtures (hand-written): tests/fixtures/az-vpn-nat/ (the shapes `az network vnet list`,
//! `nic list`, `vnet-gateway list` with an inline `natRules`, `vnet-gateway nat-rule list`,
//! `local-gateway list` and `vpn-connection list` print), tests/fixtures/tf-vpn-nat.state.json
//! (the same fabric as `terraform show -json` state, `azurerm_virtual_network_gateway_nat_rule`),
//! tests/fixtures/vpn-nat.yaml (the same in topology form). The rules, as Azure documents VPN
//! Gateway NAT (learn.microsoft.com/azure/vpn-gateway/nat-overview): egress-app, EgressSnat,
//! internal 10.0.1.0/24 (snet-app) to external 100.64.1.0/24; ingress-branch, IngressSnat,
//! internal 172.16.0.0/24 (the branch) to external 100.64.2.0/24. An EgressSnat rule rewrites the
//! source of packets from its internal space leaving Azure, and the destination of the replies;
//! an IngressSnat rule the source of packets from its internal space entering Azure. So any packet
//! across the gateway from or to one of those four spaces may be rewritten.

mod common;
use common::*;
use serde_json::Value;

/// The three fabrics: the az export, the Terraform state, the hand-written topology.
fn sources() -> Vec<String> {
    vec![
        fixture("az-vpn-nat"),
        fixture("tf-vpn-nat.state.json"),
        fixture("vpn-nat.yaml"),
    ]
}

fn assert_stopped_by(v: &Value, rule: &str) {
    assert_eq!(v["outcome"], "not-modelled", "{v}");
    assert_eq!(v["forward"]["droppedAt"], "gateway:vgw-hub", "{v}");
    assert_eq!(v["forward"]["rule"], format!("notModelled/{rule}"), "{v}");
    let reason = v["reason"].as_str().unwrap_or("");
    assert!(reason.contains(&format!("natRules/{rule}")), "{v}");
}

#[test]
fn a_packet_from_an_egress_rules_internal_space_stops_at_the_gateway() {
    for src in sources() {
        // 10.0.1.4 is in egress-app's internal 10.0.1.0/24: its source would become 100.64.1.4.
        let v = trace_json(&src, &["--src", "nic-app", "--dst", "192.168.1.5"]);
        assert_stopped_by(&v, "egress-app");
    }
}

#[test]
fn a_packet_to_an_ingress_rules_external_space_stops_at_the_gateway() {
    for src in sources() {
        // 100.64.2.5 is in ingress-branch's external 100.64.2.0/24 (the branch's 172.16.0.5 as
        // Azure sees it): the gateway would send it on as 172.16.0.5.
        let v = trace_json(&src, &["--src", "nic-tools", "--dst", "100.64.2.5"]);
        assert_stopped_by(&v, "ingress-branch");
    }
}

#[test]
fn a_packet_from_the_branch_in_an_ingress_rules_internal_space_stops_at_the_gateway() {
    for src in sources() {
        let v = trace_json(
            &src,
            &[
                "--from",
                "site:lgw-branch",
                "--src",
                "172.16.0.5",
                "--dst",
                "10.0.2.4",
            ],
        );
        assert_stopped_by(&v, "ingress-branch");
    }
}

#[test]
fn flows_in_no_mapping_keep_their_verdict() {
    for src in sources() {
        // 10.0.2.4 and 192.168.1.5 are in no mapping: the site's prefix routes it (R7.3).
        let v = trace_json(&src, &["--src", "nic-tools", "--dst", "192.168.1.5"]);
        assert_eq!(v["outcome"], "reachable", "{src}: {v}");
        assert_eq!(v["forward"]["deliveredTo"], "site:lgw-branch", "{v}");
        let v = trace_json(
            &src,
            &[
                "--from",
                "site:lgw-branch",
                "--src",
                "192.168.1.5",
                "--dst",
                "10.0.2.4",
            ],
        );
        assert_eq!(v["outcome"], "reachable", "{src}: {v}");
        // snet-app to snet-tools never crosses the gateway.
        let v = trace_json(&src, &["--src", "nic-app", "--dst", "10.0.2.4"]);
        assert_eq!(v["outcome"], "reachable", "{src}: {v}");
    }
}

#[test]
fn the_import_writes_each_rule_with_its_gateway_and_mappings() {
    for src in [fixture("az-vpn-nat"), fixture("tf-vpn-nat.state.json")] {
        let (code, yaml, err) = run(&["import", &src, "--report"]);
        assert_eq!(code, 0, "{err}");
        for (rule, prefixes) in [
            ("egress-app", "[\"10.0.1.0/24\", \"100.64.1.0/24\"]"),
            ("ingress-branch", "[\"172.16.0.0/24\", \"100.64.2.0/24\"]"),
        ] {
            let entry = yaml
                .split("- type: \"Microsoft.Network/virtualNetworkGateways/natRules\"")
                .find(|e| e.contains(&format!("natRules/{rule}\"")))
                .unwrap_or_else(|| panic!("{rule} in {yaml}"));
            assert!(entry.contains("gateway: \"vgw-hub\""), "{entry}");
            assert!(entry.contains(&format!("prefixes: {prefixes}")), "{entry}");
            assert!(entry.contains("applied by connection cn-branch"), "{entry}");
        }
        assert!(err.contains("2 unsupported"), "{err}");
    }
}

#[test]
fn validate_says_which_walks_the_rules_stop() {
    let (code, out, err) = run(&["validate", &fixture("az-vpn-nat")]);
    assert_eq!(code, 0, "{err}");
    let all = format!("{out}{err}");
    assert!(
        all.contains("not modelled: Microsoft.Network/virtualNetworkGateways/natRules"),
        "{all}"
    );
    assert!(
        all.contains("gateway 'vgw-hub' rewrites addresses")
            && all.contains("10.0.1.0/24, 100.64.1.0/24"),
        "{all}"
    );
}

fn bad(yaml: &str) -> String {
    let p = tmp("vpn-nat", "bad.yaml");
    std::fs::write(&p, yaml).unwrap();
    let (code, _, err) = run(&["validate", &p.display().to_string()]);
    assert_ne!(code, 0, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn a_nat_entry_must_name_a_vpn_gateway_of_the_topology() {
    let base = std::fs::read_to_string(fixture("vpn-nat.yaml")).unwrap();
    let err = bad(&base.replacen("gateway: vgw-hub", "gateway: vgw-nowhere", 1));
    assert!(err.contains("unknown gateway 'vgw-nowhere'"), "{err}");
    let err = bad(&base.replacen("    gateway: vgw-hub\n", "", 1));
    assert!(
        err.contains("prefixes belong to a notModelled entry with a gateway"),
        "{err}"
    );
    let er = base
        .replace("type: Vpn", "type: ExpressRoute")
        .replace("connections: [{ site: lgw-branch }]", "connections: []");
    let err = bad(&er);
    assert!(err.contains("NAT rules belong to VPN gateways"), "{err}");
}

#[test]
fn reach_splits_the_regions_at_the_mappings() {
    let out = ok(&[
        "reach",
        &fixture("vpn-nat.yaml"),
        "--from",
        "nic:nic-tools",
        "--to",
        "site:lgw-branch",
        "--protocol",
        "tcp",
        "--ports",
        "443",
    ]);
    // The site holds 192.168.0.0/16 and 100.64.2.0/24; only the second is a NAT mapping.
    assert!(out.contains("dst 100.64.2.0/24: not-modelled"), "{out}");
    assert!(out.contains("dst 192.168.0.0/16: reachable"), "{out}");
}
