//! `vnetsim import` and import sources given to other commands, through the real binary.
//! Expected values are read from the fixtures and templates by hand (see the comments).

mod common;
use common::{ok, root, run, tmp};

use std::path::{Path, PathBuf};

use serde_json::Value;

fn az() -> PathBuf {
    root().join("crates/import/tests/fixtures/az-hub-spoke")
}

fn sorted_rows(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn an_az_export_sweeps_like_the_hand_written_yaml_of_the_same_fabric() {
    // az-hub-spoke.expected.yaml was written by hand from the export files.
    let hand = root().join("crates/import/tests/fixtures/az-hub-spoke.expected.yaml");
    let (a, b) = (tmp("import", "az.jsonl"), tmp("import", "hand.jsonl"));
    let ports = "tcp/443,tcp/22,tcp/3389,udp/53,icmp";
    ok(&[
        "sweep",
        az().to_str().unwrap(),
        "--ports",
        ports,
        "--out",
        a.to_str().unwrap(),
    ]);
    ok(&[
        "sweep",
        hand.to_str().unwrap(),
        "--ports",
        ports,
        "--out",
        b.to_str().unwrap(),
    ]);
    let (ra, rb) = (sorted_rows(&a), sorted_rows(&b));
    assert!(ra.len() >= 45, "{} rows", ra.len());
    assert_eq!(
        ra, rb,
        "the two files list objects in different orders; the rows must be the same set"
    );
}

#[test]
fn import_writes_a_topology_that_validates_keeps_origins_and_says_what_is_not_modelled() {
    let out = tmp("import", "imported.yaml");
    let (c, _, err) = run(&[
        "import",
        az().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--report",
    ]);
    assert_eq!(c, 0, "{err}");
    // stderr is a pipe here, not a terminal: the progress bar stays silent, and the topology
    // was written whole under its own name (no temporary file left beside it).
    assert!(
        !err.contains("mapping:") && !err.contains("reading "),
        "{err}"
    );
    let partial = out.with_file_name("imported.yaml.partial");
    assert!(out.exists() && !partial.exists());
    // resources.json holds a load balancer and a NAT gateway: unsupported, and reported.
    assert!(err.contains("unsupported"), "{err}");
    assert!(err.contains("Microsoft.Network/loadBalancers"), "{err}");
    let (c, text, warn) = run(&["validate", out.to_str().unwrap()]);
    assert_eq!(c, 0, "{warn}");
    assert!(text.contains("valid (3 vnets"), "{text}");
    for kind in [
        "Microsoft.Network/loadBalancers",
        "Microsoft.Network/natGateways",
    ] {
        assert!(
            warn.contains(&format!("not modelled: {kind}")),
            "validate must say so: {warn}"
        );
    }
    // Ownership: vnet-hub is in rg-hub of subscription 8f3e2a1c-... (vnet.json), kept through
    // the YAML written to disk.
    let v: Value =
        serde_json::from_str(&ok(&["validate", out.to_str().unwrap(), "--json"])).unwrap();
    let hub = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "vnet" && o["name"] == "vnet-hub")
        .expect("vnet-hub");
    assert_eq!(hub["origin"]["resourceGroup"], "rg-hub");
    assert_eq!(
        hub["origin"]["subscription"],
        "8f3e2a1c-0000-4000-9000-000000000001"
    );
    assert!(hub["origin"]["source"]
        .as_str()
        .unwrap()
        .ends_with("/virtualNetworks/vnet-hub"));
    // The source folder itself gives the same answer.
    let direct: Value =
        serde_json::from_str(&ok(&["validate", az().to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(direct["objects"], v["objects"]);
}

fn lab() -> PathBuf {
    let p = root().join("../shared/import-samples/azure-labs-hub-and-spoke/azuredeploy.json");
    assert!(p.is_file(), "the shared sample {} is missing", p.display());
    p
}

/// Deploy-time values of the lab (the firewall's address, both Private Endpoints'): chosen
/// inside their subnets (AzureFirewallSubnet 10.0.2.0/26, snet-dev 10.1.2.0/24, snet-app
/// 10.2.2.0/24 in the templates).
const SETS: [&str; 3] = [
    "afw00000000.privateIPAddress=10.0.2.4",
    "plkvcnt00000000vault0000.privateIpAddress=10.1.2.20",
    "plkvapp00000000vault0000.privateIpAddress=10.2.2.4",
];

#[test]
fn the_lab_templates_are_refused_without_their_deploy_time_values() {
    let (c, _, err) = run(&["import", lab().to_str().unwrap()]);
    assert_eq!(c, 2, "{err}");
    let refused: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("error: refused"))
        .collect();
    // The firewall's runtime address three times in deploy-transit.json's route tables, the
    // firewall itself, and the two endpoints (deploy-private-endpoint.json, once per use).
    assert_eq!(refused.len(), 6, "{err}");
    assert!(refused.iter().all(|l| l.contains("--set")), "{err}");
}

fn import_lab(extra: &[&str]) -> PathBuf {
    let out = tmp("import", &format!("lab{}.yaml", extra.len()));
    let mut args = vec![
        "import".to_string(),
        lab().to_str().unwrap().into(),
        "-o".into(),
        out.to_str().unwrap().into(),
    ];
    for s in SETS {
        args.extend(["--set".to_string(), s.to_string()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&a);
    out
}

fn route_state(topo: &Path, subnet: &str, prefix: &str) -> Option<String> {
    let v: Value = serde_json::from_str(&ok(&[
        "routes",
        topo.to_str().unwrap(),
        "--subnet",
        subnet,
        "--json",
    ]))
    .unwrap();
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["addressPrefix"][0] == prefix)
        .map(|r| r["state"].as_str().unwrap().to_string())
}

#[test]
fn on_the_imported_lab_the_endpoint_32_follows_its_subnets_policies() {
    // snet-dev (vnet-shared) enables privateEndpointNetworkPolicies; rt-vng on the transit
    // GatewaySubnet routes vnet-shared's 10.1.0.0/16 to the firewall, so the endpoint's
    // 10.1.2.20/32 is Invalid there (R4.3) and Active in AzureFirewallSubnet (no route table).
    let t = import_lab(&[]);
    let gw = "vnet-transit00000000/GatewaySubnet";
    let fw = "vnet-transit00000000/AzureFirewallSubnet";
    assert_eq!(
        route_state(&t, gw, "10.1.2.20/32").as_deref(),
        Some("Invalid")
    );
    assert_eq!(
        route_state(&t, fw, "10.1.2.20/32").as_deref(),
        Some("Active")
    );
    // With the policies off on snet-dev the /32 is Active in GatewaySubnet too.
    let text = std::fs::read_to_string(&t).unwrap();
    let mut in_dev = false;
    let off: Vec<&str> = text
        .lines()
        .filter(|l| {
            if l.trim_start().starts_with("- name: ") {
                in_dev = l.contains("\"snet-dev\"");
            }
            !(in_dev && l.contains("privateEndpointNetworkPolicies"))
        })
        .collect();
    let t2 = tmp("import", "lab-policies-off.yaml");
    std::fs::write(&t2, off.join("\n")).unwrap();
    assert_eq!(
        route_state(&t2, gw, "10.1.2.20/32").as_deref(),
        Some("Active")
    );
}

fn vnet_tag(topo: &Path, nic: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(&ok(&[
        "rules",
        topo.to_str().unwrap(),
        "--nic",
        nic,
        "--json",
    ]))
    .unwrap();
    // The subnet NSG's AllowVnetInBound (the first NSG listed), with its source expanded.
    let all = &v["value"][0];
    fn find(v: &Value) -> Option<Vec<String>> {
        match v {
            Value::Object(m) => {
                if m.get("name").and_then(Value::as_str)
                    == Some("defaultSecurityRules/AllowVnetInBound")
                {
                    let p = m.get("expandedSourceAddressPrefix")?.as_array()?;
                    let mut s: Vec<String> =
                        p.iter().map(|x| x.as_str().unwrap().to_string()).collect();
                    s.sort();
                    return Some(s);
                }
                m.values().find_map(find)
            }
            Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    find(all).expect("AllowVnetInBound")
}

#[test]
fn on_the_imported_lab_the_virtual_network_tag_widens_under_a_default_route() {
    // vmldev01 sits in snet-dev of vnet-shared (10.1.0.0/16), whose rt-dev sends 0.0.0.0/0 to
    // the firewall: the tag holds every user-route prefix (R5.5), so everything.
    let t = import_lab(&["--name", "lab"]);
    assert_eq!(vnet_tag(&t, "vmldev0100000000"), ["0.0.0.0/0"]);
    // Without that route table: the VNet 10.1.0.0/16, its peer vnet-transit 10.0.0.0/16 and
    // 168.63.129.16 (the two adjacent /16s print merged as 10.0.0.0/15).
    let text = std::fs::read_to_string(&t).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| l.trim() != "routeTable: \"rt-dev\"")
        .collect();
    let t2 = tmp("import", "lab-no-rt-dev.yaml");
    std::fs::write(&t2, kept.join("\n")).unwrap();
    assert_eq!(
        vnet_tag(&t2, "vmldev0100000000"),
        ["10.0.0.0/15", "168.63.129.16/32"]
    );
}

#[test]
fn a_truncated_export_is_a_located_error() {
    let p = tmp("import", "truncated.json");
    std::fs::write(
        &p,
        "[{\"type\": \"Microsoft.Network/virtualNetworks\", \"name\": \"v\", \"properties\": {",
    )
    .unwrap();
    let (c, _, err) = run(&["import", p.to_str().unwrap()]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("truncated.json:1:"), "{err}");
}

#[test]
fn a_trace_that_meets_a_resource_not_modelled_names_it() {
    // The az bundle plus a Private Link service (tests/fixtures/az-pls/pls.json) with a
    // frontend at 10.1.1.100 in snet-app. Private Link services are not modelled, so a flow to
    // that frontend cannot be answered: the trace must stop there and say why, never claim a
    // confident drop or delivery.
    let dir = tmp("import", "az-with-pls");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(az()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        root().join("tests/fixtures/az-pls/pls.json"),
        dir.join("pls.json"),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&ok(&[
        "trace",
        dir.to_str().unwrap(),
        "--src",
        "vm-app-nic",
        "--dst",
        "10.1.1.100",
        // Not 443: nsg-app's allow-storage-out (tcp/443 toward a tag without data) would
        // stop the flow first.
        "--dst-port",
        "8080",
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["outcome"], "not-modelled");
    assert_eq!(v["forward"]["rule"], "notModelled/pls-app");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("Microsoft.Network/privateLinkServices"),
        "{reason}"
    );
    assert!(reason.contains("/privateLinkServices/pls-app"), "{reason}");
    assert!(reason.contains("not trustworthy"), "{reason}");
    // An address nothing holds is still an ordinary drop.
    let v: Value = serde_json::from_str(&ok(&[
        "trace",
        dir.to_str().unwrap(),
        "--src",
        "vm-app-nic",
        "--dst",
        "10.1.1.101",
        "--dst-port",
        "8080",
        "--json",
    ]))
    .unwrap();
    assert!(
        v["reason"].as_str().unwrap().contains("nothing owns"),
        "{v}"
    );
}

#[test]
fn an_imported_internal_load_balancer_is_modelled() {
    // The az bundle plus `az network lb list` output (tests/fixtures/az-lb/lb.json): an
    // internal Standard load balancer lb-app with a frontend at 10.1.1.100 in snet-app and no
    // rules. It is imported (no longer listed as unsupported); a flow to its frontend meets it
    // and, with no load-balancing rule for the port, is dropped there
    // (learn.microsoft.com/azure/load-balancer/components: rules map frontend ports to pools).
    let dir = tmp("import", "az-with-lb");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(az()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        root().join("tests/fixtures/az-lb/lb.json"),
        dir.join("lb.json"),
    )
    .unwrap();
    let yaml = ok(&["import", dir.to_str().unwrap()]);
    assert!(yaml.contains("loadBalancers:"), "{yaml}");
    assert!(yaml.contains("privateIpAddress: \"10.1.1.100\""), "{yaml}");
    assert!(
        !yaml.contains("loadBalancers/lb-app:"),
        "not listed as not modelled: {yaml}"
    );
    let v: Value = serde_json::from_str(&ok(&[
        "trace",
        dir.to_str().unwrap(),
        "--src",
        "vm-app-nic",
        "--dst",
        "10.1.1.100",
        // Not 443: nsg-app's allow-storage-out (tcp/443 toward a tag without data) would
        // stop the flow first.
        "--dst-port",
        "8080",
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["droppedAt"], "lb:lb-app");
}

#[test]
fn an_az_load_balancer_export_maps_rules_pools_probes_and_nat() {
    // `az network lb list` shape (learn.microsoft.com/rest/api/load-balancer/load-balancers):
    // frontendIPConfigurations, backendAddressPools (backendIPConfigurations naming NIC IP
    // configurations), probes, loadBalancingRules and inboundNatRules, referenced by id.
    let dir = tmp("import", "az-lb-rules");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(az()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        root().join("tests/fixtures/az-lb-rules/lb.json"),
        dir.join("lb.json"),
    )
    .unwrap();
    let yaml = ok(&["import", dir.to_str().unwrap()]);
    for want in [
        "backends: [\"vm-app-nic\"]",
        "frontendIPConfiguration: \"fe-app\"",
        "backendPort: 8443",
        "loadDistribution: \"SourceIP\"",
        "probe: \"https\"",
        "backend: \"vm-app-nic\"",
        "frontendPort: 50001",
    ] {
        assert!(yaml.contains(want), "{want} in {yaml}");
    }
    assert!(
        !yaml.contains("loadBalancers/lb-app:"),
        "not listed as not modelled: {yaml}"
    );
}
