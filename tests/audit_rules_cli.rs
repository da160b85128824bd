//! `vnetsim audit rules`: rule hygiene from the rules' exact first-match regions. Expected
//! findings are read from the fixtures' YAML and Azure's NSG evaluation (lowest priority number
//! first, the first match decides; default rules at 65000 and above).
//! https://learn.microsoft.com/azure/virtual-network/network-security-group-how-it-works

mod common;
use common::*;
use serde_json::Value;

fn findings(topo: &str) -> Vec<Value> {
    let path = root().join(topo).display().to_string();
    let v: Value = serde_json::from_str(&ok(&["audit", "rules", &path, "--json"])).unwrap();
    v["findings"].as_array().unwrap().clone()
}

fn of<'a>(v: &'a [Value], kind: &str) -> Vec<&'a Value> {
    v.iter().filter(|x| x["kind"] == kind).collect()
}

fn rules(v: &[&Value]) -> Vec<String> {
    v.iter()
        .map(|x| {
            format!(
                "{}/{}",
                x["nsg"].as_str().unwrap(),
                x["rule"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn shadowed_never_deciding_and_internet_rules_of_the_fixture() {
    let v = findings("tests/fixtures/rule-hygiene.yaml");
    let sh = of(&v, "shadowed");
    assert_eq!(
        rules(&sh),
        ["nsg-web/deny-ssh-spoke", "nsg-web/deny-mid"],
        "{v:#?}"
    );
    assert_eq!(
        sh[0]["by"],
        serde_json::json!(["nsg-web/allow-tcp-low (priority 100)"])
    );
    assert_eq!(
        sh[1]["by"],
        serde_json::json!([
            "nsg-web/allow-a (priority 300)",
            "nsg-web/allow-b (priority 310)"
        ])
    );
    assert_eq!(rules(&of(&v, "never-decides")), ["nsg-web/allow-db"]);
    // allow-a and allow-b also admit any source; allow-db decides nothing.
    assert_eq!(
        rules(&of(&v, "internet-allow")),
        [
            "nsg-web/allow-a",
            "nsg-web/allow-b",
            "nsg-web/allow-web-any"
        ]
    );
    assert!(
        of(&v, "vnet-tag-widened").is_empty(),
        "no route table, no widening"
    );
}

/// The lab: rt-spoke (on snet-app and snet-shared) and rt-hub (on snet-tools) hold
/// default-via-firewall, 0.0.0.0/0, so VirtualNetwork is every address for those subnets'
/// NSGs and vm-app-nic's (R5.5); none of nsg-app, nsg-shared, nsg-tools, nsg-vm-app denies
/// other sources ahead of AllowVnetInBound. snet-pe has no route table: nsg-pe is not
/// widened. nsg-vm-app's allow-web admits 443 and 3389 from any source.
/// https://learn.microsoft.com/azure/virtual-network/service-tags-overview
#[test]
fn lab_widened_virtual_network_and_internet_allow() {
    let v = findings("traces/hub-spoke-lab.yaml");
    let w = of(&v, "vnet-tag-widened");
    let mut at: Vec<String> = w
        .iter()
        .map(|x| {
            format!(
                "{} {}",
                x["nsg"].as_str().unwrap(),
                x["at"][0].as_str().unwrap()
            )
        })
        .collect();
    at.sort();
    assert_eq!(
        at,
        [
            "nsg-app subnet:vnet-workload/snet-app",
            "nsg-shared subnet:vnet-shared/snet-shared",
            "nsg-tools subnet:vnet-hub/snet-tools",
            "nsg-vm-app nic:vm-app-nic",
        ],
        "{v:#?}"
    );
    let app = w.iter().find(|x| x["nsg"] == "nsg-app").unwrap();
    assert_eq!(
        app["by"],
        serde_json::json!(["rt-spoke/default-via-firewall (0.0.0.0/0)"])
    );
    assert!(app["detail"]
        .as_str()
        .unwrap()
        .contains("every source address"));
    assert_eq!(rules(&of(&v, "internet-allow")), ["nsg-vm-app/allow-web"]);
    assert!(of(&v, "shadowed").is_empty(), "{v:#?}");
}
