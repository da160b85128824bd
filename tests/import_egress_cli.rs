//! Through the binary: what the importer now maps from Terraform state (load balancers
//! assembled from their `azurerm_lb_*` parts, an Application Gateway), NAT gateways from az
//! and Terraform, and an NSG rule naming a service tag with `--service-tags`. Each flow's
//! expected backend and source come from Microsoft's documentation, cited per test.

mod common;

use std::collections::BTreeSet;

use common::{fixture, ok, run, tmp, trace_json};
use serde_json::Value;

#[test]
fn imported_internal_load_balancer_spreads_flows_and_keeps_the_client_source() {
    // learn.microsoft.com/azure/load-balancer/distribution-mode-concepts: the default
    // distribution is a five-tuple hash over the healthy backends of the rule's pool;
    // learn.microsoft.com/azure/load-balancer/components: a load-balancing rule maps the
    // frontend port (443) to the backend port (8443); Load Balancer does not proxy, so the
    // backend sees the client's own address (10.40.1.4, nic-client).
    let tf = fixture("tf-lb-agw.state.json");
    let mut used = BTreeSet::new();
    for port in 41000..41012u16 {
        let p = port.to_string();
        let args = [
            "--src",
            "nic-client",
            "--dst",
            "10.40.2.100",
            "--dst-port",
            "443",
            "--src-port",
            &p,
        ];
        let v = trace_json(&tf, &args);
        assert_eq!(v["outcome"], "reachable", "{v}");
        let to = v["forward"]["deliveredTo"].as_str().unwrap().to_string();
        let backend_ip = match to.as_str() {
            "nic:nic-web1" => "10.40.2.4",
            "nic:nic-web2" => "10.40.2.5",
            other => panic!("not a pool member: {other}"),
        };
        assert_eq!(v["forward"]["dstSeen"], backend_ip);
        assert_eq!(v["forward"]["srcSeen"], "10.40.1.4");
        assert_eq!(
            trace_json(&tf, &args)["forward"]["deliveredTo"],
            to.as_str()
        );
        used.insert(to);
    }
    assert_eq!(used.len(), 2, "flows spread over both members: {used:?}");
}

#[test]
fn imported_inbound_nat_rule_reaches_its_one_backend() {
    // learn.microsoft.com/azure/load-balancer/inbound-nat-rules: an inbound NAT rule forwards
    // one frontend port (50001) to one backend instance (nic-web1), port 22.
    let v = trace_json(
        &fixture("tf-lb-agw.state.json"),
        &[
            "--src",
            "nic-client",
            "--dst",
            "10.40.2.100",
            "--dst-port",
            "50001",
        ],
    );
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["deliveredTo"], "nic:nic-web1");
    assert_eq!(v["forward"]["srcSeen"], "10.40.1.4");
}

#[test]
fn imported_outbound_rule_gives_the_frontend_address_as_source() {
    // learn.microsoft.com/azure/load-balancer/outbound-rules: outbound rules SNAT the pool's
    // outbound flows to the rule's frontend address (pip-lb, 20.60.0.10).
    let v = trace_json(
        &fixture("tf-lb-agw.state.json"),
        &["--src", "nic-web2", "--dst", "8.8.8.8"],
    );
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["srcSeen"], "20.60.0.10");
}

#[test]
fn imported_application_gateway_backend_sees_an_instance_address() {
    // learn.microsoft.com/azure/application-gateway/how-application-gateway-works: the gateway
    // ends the client's connection and opens its own to the backend from an instance address
    // of its subnet (snet-agw, 10.40.3.0/24); the client's address travels in
    // X-Forwarded-For (learn.microsoft.com/azure/application-gateway/rewrite-http-headers-url).
    let v = trace_json(
        &fixture("tf-lb-agw.state.json"),
        &[
            "--src",
            "8.8.8.8",
            "--dst",
            "20.60.0.20",
            "--dst-port",
            "443",
        ],
    );
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["deliveredTo"], "nic:nic-web1");
    let src: std::net::Ipv4Addr = v["forward"]["srcSeen"].as_str().unwrap().parse().unwrap();
    let agw: ipnet::Ipv4Net = "10.40.3.0/24".parse().unwrap();
    assert!(agw.contains(&src), "an instance of snet-agw: {src}");
    assert_eq!(v["xForwardedFor"], "8.8.8.8");
    assert_eq!(v["forward"]["dstSeen"], "10.40.2.4");
}

/// The NAT gateway's addresses in the fixtures: pip-ng and the prefix ippre-ng.
fn nat_addresses() -> Vec<String> {
    let mut a = vec!["20.50.60.70".to_string()];
    a.extend((0..4).map(|i| format!("20.50.61.{i}")));
    a
}

#[test]
fn a_nat_gateway_imported_from_az_and_terraform_is_the_internet_source() {
    // learn.microsoft.com/azure/nat-gateway/nat-overview: NAT gateway takes precedence over
    // instance-level public IPs and load balancer outbound rules; outbound flows leave with
    // the gateway's public IP addresses (or prefix). nic-vm-nat also has pip-vm (20.50.60.80).
    // The fixtures' NSG denies the Storage tag outbound: imported with the tag file, so that
    // the flow to 8.8.8.8 (in no Storage prefix) is decided.
    for (i, from) in [fixture("az-nat"), fixture("tf-nat.state.json")]
        .iter()
        .enumerate()
    {
        let out = tmp("import-egress", &format!("nat-{i}/fabric.yaml"));
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let src = out.display().to_string();
        let tags = fixture("service-tags.json");
        ok(&["import", from, "--service-tags", &tags, "-o", &src]);
        let v = trace_json(&src, &["--src", "nic-vm-nat", "--dst", "8.8.8.8"]);
        assert_eq!(v["outcome"], "reachable", "{v}");
        let seen = v["forward"]["srcSeen"].as_str().unwrap().to_string();
        assert!(nat_addresses().contains(&seen), "{src}: {seen}");
        assert_ne!(seen, "20.50.60.80");
    }
}

#[test]
fn an_nsg_rule_denying_the_storage_tag_blocks_a_storage_prefix_given_the_tag_file() {
    // learn.microsoft.com/azure/virtual-network/service-tags-overview: a service tag in a
    // security rule stands for the service's address prefixes; 20.38.108.0/23 is Storage's in
    // tests/fixtures/service-tags.json. The rule deny-storage-out (Outbound, Deny, priority
    // 100) on nsg-app therefore drops nic-vm-plain's flow to 20.38.108.10.
    let out = tmp("import-egress", "tagged/fabric.yaml");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let out_s = out.display().to_string();
    let tags = fixture("service-tags.json");
    ok(&[
        "import",
        &fixture("az-nat"),
        "--service-tags",
        &tags,
        "-o",
        &out_s,
    ]);
    let yaml = std::fs::read_to_string(&out).unwrap();
    assert!(yaml.contains("serviceTags: \""), "{yaml}");
    assert!(!yaml.contains("notModelled:"), "{yaml}");
    let args = [
        "--src",
        "nic-vm-plain",
        "--dst",
        "20.38.108.10",
        "--dst-port",
        "443",
    ];
    let v = trace_json(&out_s, &args);
    assert_eq!(v["outcome"], "unreachable", "{v}");
    assert_eq!(v["forward"]["rule"], "nsg-app/deny-storage-out");
    // An address outside the tag is not matched.
    let v = trace_json(&out_s, &["--src", "nic-vm-plain", "--dst", "8.8.8.8"]);
    assert_eq!(v["outcome"], "reachable", "{v}");
    // Without the tag file the rule is kept unresolved: the same flow gets no verdict.
    let (code, yaml, err) = run(&["import", &fixture("az-nat")]);
    assert_eq!(code, 0, "{err}");
    assert!(yaml.contains("unresolved:"), "{yaml}");
    assert!(yaml.contains("deny-storage-out"), "{yaml}");
    assert!(yaml.contains("--service-tags FILE"), "{yaml}");
    let v = trace_json(&fixture("az-nat"), &args);
    assert_eq!(v["outcome"], "not-modelled", "{v}");
    assert_eq!(v["forward"]["rule"], "nsg-app/deny-storage-out");
}

#[test]
fn a_missing_tag_file_is_a_clear_error() {
    let (code, _, err) = run(&[
        "import",
        &fixture("az-nat"),
        "--service-tags",
        &fixture("no-such-tags.json"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no-such-tags.json") && err.contains("--service-tags"),
        "{err}"
    );
}

#[test]
fn validate_json_lists_the_imported_nat_gateway_with_its_origin() {
    let v: Value = serde_json::from_str(&ok(&["validate", &fixture("az-nat"), "--json"])).unwrap();
    let ng = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "natGateway")
        .expect("listed");
    assert_eq!(ng["name"], "ng-app");
    assert_eq!(ng["origin"]["resourceGroup"], "rg-app");
    assert!(ng["origin"]["source"]
        .as_str()
        .unwrap()
        .ends_with("/natGateways/ng-app"));
}
