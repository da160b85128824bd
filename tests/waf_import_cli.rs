//! Through the binary: an Application Gateway's Web Application Firewall, imported from
//! Terraform state. learn.microsoft.com/azure/web-application-firewall/ag/ag-overview: in
//! Prevention mode the WAF blocks requests that its managed and custom rules match, by
//! their content; in Detection mode it only logs them. vnetsim does not look at request
//! content, so a request to a gateway behind a WAF in Prevention mode must end not-modelled,
//! naming the WAF, and one behind a WAF in Detection mode (or a disabled one) keeps the
//! gateway's ordinary verdict (reachable, delivered to nic-web1).

mod common;

use common::{root, run, tmp, trace_json};
use serde_json::{json, Value};

const POLICY: &str =
    "/subscriptions/4d4d4d4d-0000-4000-9000-00000000004d/resourceGroups/rg-lb/providers/Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies/waf-web";

/// The load balancer and gateway state, with the gateway on the WAF_v2 SKU and `edit`
/// applied to its values (and `extra` resources added).
fn state(tag: &str, edit: impl Fn(&mut Value), extra: Vec<Value>) -> String {
    let path = root().join("tests/fixtures/tf-lb-agw.state.json");
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let res = s["values"]["root_module"]["resources"]
        .as_array_mut()
        .unwrap();
    let agw = res
        .iter_mut()
        .find(|r| r["type"] == "azurerm_application_gateway")
        .unwrap();
    agw["values"]["sku"] = json!([{"name": "WAF_v2", "tier": "WAF_v2", "capacity": 2}]);
    edit(&mut agw["values"]);
    res.extend(extra);
    let out = tmp("waf", &format!("{tag}.state.json"));
    std::fs::write(&out, serde_json::to_string(&s).unwrap()).unwrap();
    out.display().to_string()
}

fn policy(mode: &str, enabled: bool) -> Value {
    json!({
        "address": "azurerm_web_application_firewall_policy.web",
        "mode": "managed",
        "type": "azurerm_web_application_firewall_policy",
        "name": "web",
        "values": {
            "id": POLICY,
            "name": "waf-web",
            "resource_group_name": "rg-lb",
            "location": "westeurope",
            "policy_settings": [{"enabled": enabled, "mode": mode}],
            "managed_rules": [{"managed_rule_set": [{"type": "OWASP", "version": "3.2"}]}]
        }
    })
}

fn with_policy(v: &mut Value) {
    v["firewall_policy_id"] = json!(POLICY);
}

/// A request from the Internet to the gateway's public frontend (20.60.0.20) on 443.
fn request(src: &str) -> Value {
    trace_json(
        src,
        &[
            "--src",
            "8.8.8.8",
            "--dst",
            "20.60.0.20",
            "--dst-port",
            "443",
        ],
    )
}

/// The import report (`--report --json`, on standard error after the warnings). The
/// topology is written beside the source, so that tests running at once never share it.
fn report(src: &str) -> Value {
    let out = format!("{src}.yaml");
    let (code, _, err) = run(&["import", src, "-o", &out, "--report", "--json"]);
    assert_eq!(code, 0, "{err}");
    // The load's warnings (one per not-modelled entry) come first, a line each.
    let start = if err.starts_with('{') {
        0
    } else {
        err.find("\n{").expect("a JSON report") + 1
    };
    serde_json::from_str(&err[start..]).unwrap()
}

fn entry<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(id)))
        .unwrap_or_else(|| panic!("{id} not in the report: {r}"))
}

#[test]
fn a_waf_policy_in_prevention_mode_makes_requests_to_the_gateway_not_modelled() {
    let src = state("prevention", with_policy, vec![policy("Prevention", true)]);
    let v = request(&src);
    assert_eq!(v["outcome"], "not-modelled", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("waf-web"), "{v}");
    assert_eq!(entry(&report(&src), POLICY)["status"], "unsupported");
}

#[test]
fn a_waf_in_detection_mode_or_disabled_keeps_the_gateways_verdict() {
    for (tag, mode, enabled) in [
        ("detection", "Detection", true),
        ("off", "Prevention", false),
    ] {
        let src = state(tag, with_policy, vec![policy(mode, enabled)]);
        let v = request(&src);
        assert_eq!(v["outcome"], "reachable", "{tag}: {v}");
        assert_eq!(v["forward"]["deliveredTo"], "nic:nic-web1", "{tag}: {v}");
        assert_eq!(entry(&report(&src), POLICY)["status"], "skipped", "{tag}");
    }
}

#[test]
fn the_gateways_own_waf_configuration_in_prevention_mode_is_not_modelled() {
    let src = state(
        "inline",
        |v| v["waf_configuration"] = json!([{"enabled": true, "firewall_mode": "Prevention"}]),
        vec![],
    );
    let v = request(&src);
    assert_eq!(v["outcome"], "not-modelled", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("webApplicationFirewallConfiguration"),
        "{v}"
    );
    let detection = state(
        "inline-detection",
        |v| v["waf_configuration"] = json!([{"enabled": true, "firewall_mode": "Detection"}]),
        vec![],
    );
    assert_eq!(request(&detection)["outcome"], "reachable");
}

#[test]
fn a_policy_outside_the_sources_is_taken_to_block() {
    let src = state("missing", with_policy, vec![]);
    let v = request(&src);
    assert_eq!(v["outcome"], "not-modelled", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("waf-web"), "{v}");
}
