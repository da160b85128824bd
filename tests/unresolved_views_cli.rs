//! Unresolved rules in the views: `rules` lists them marked as such (the unknown field and
//! why), `audit rules` reports them and says which findings did not count them, and `trace
//! --why` names them as the blocker without proposing a change, and never proposes a rule that
//! takes an unresolved rule's priority.
//!
//! Fixtures (hand-written): tests/fixtures/unresolved.yaml (nsg-app/deny-storage-https, Outbound
//! priority 100, destination unresolved), tests/fixtures/unresolved-views.yaml (its header says
//! which rule does what), tests/fixtures/az-unresolved/avnm-default-flag.json (a Default admin
//! rule known by its flag only: every field unresolved).

mod common;
use common::*;
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str(&ok(&a)).unwrap()
}

#[test]
fn rules_lists_an_unresolved_nsg_rule_with_its_field_and_why() {
    let src = fixture("unresolved.yaml");
    let text = ok(&["rules", &src, "--nic", "vm-app"]);
    let line = text
        .lines()
        .find(|l| l.contains("deny-storage-https"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("Outbound") && line.contains("100"), "{line}");
    assert!(line.contains("UNRESOLVED"), "{line}");
    assert!(
        line.contains("destination: service tag 'Storage' has no address data"),
        "{line}"
    );
    let v = json(&["rules", &src, "--nic", "vm-app"]);
    let u = &v["value"][0]["unresolvedSecurityRules"];
    assert_eq!(u[0]["name"], "securityRules/deny-storage-https", "{v}");
    assert_eq!(u[0]["priority"], 100);
    assert_eq!(u[0]["direction"], "Outbound");
    assert!(u[0]["unresolved"]
        .as_str()
        .unwrap()
        .starts_with("destination: service tag 'Storage'"));
    // Still not among the rules that decide.
    let effective = v["value"][0]["effectiveSecurityRules"].as_array().unwrap();
    assert!(effective
        .iter()
        .all(|r| r["name"] != "securityRules/deny-storage-https"));
}

#[test]
fn rules_lists_an_admin_rule_of_unknown_priority_in_both_directions() {
    let src = fixture("az-unresolved/avnm-default-flag.json");
    let v = json(&["rules", &src, "--nic", "nic-a1"]);
    let u = v["unresolvedSecurityAdminRules"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(u.len(), 2, "{v}");
    for (r, dir) in u.iter().zip(["Inbound", "Outbound"]) {
        assert_eq!(r["name"], "avnm-corp/baseline/guardrails/default-by-flag");
        assert_eq!(r["direction"], dir);
        assert!(r["priority"].is_null(), "{r}");
        assert!(r["unresolved"]
            .as_str()
            .unwrap()
            .contains("priority: Default rule flag 'fixture-flag'"));
    }
    let text = ok(&["rules", &src, "--nic", "nic-a1"]);
    assert!(
        text.contains("    ? avnm-corp/baseline/guardrails/default-by-flag"),
        "{text}"
    );
}

#[test]
fn audit_rules_reports_the_unresolved_rule_and_what_it_did_not_count() {
    let v = json(&["audit", "rules", &fixture("unresolved-views.yaml")]);
    let f = v["findings"].as_array().unwrap();
    let u = f
        .iter()
        .find(|x| x["kind"] == "unresolved")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(u["rule"], "keep-8443");
    assert_eq!(u["priority"], 299);
    assert!(u["detail"]
        .as_str()
        .unwrap()
        .contains("destination: service tag 'Storage'"));
    // deny-dup (500) is shadowed by the rules ahead; keep-8443 (299) is ahead of it and was not
    // counted.
    let d = f
        .iter()
        .find(|x| x["rule"] == "deny-dup")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(d["kind"], "shadowed");
    assert!(
        d["detail"]
            .as_str()
            .unwrap()
            .contains("not counted, their headers unknown: keep-8443"),
        "{d}"
    );
}

#[test]
fn why_names_an_unresolved_blocker_and_proposes_nothing() {
    let v = json(&[
        "trace",
        &fixture("unresolved.yaml"),
        "--src",
        "vm-app",
        "--dst",
        "20.38.108.10",
        "--why",
    ]);
    let b = &v["why"]["blockers"][0];
    assert_eq!(b["kind"], "unresolvedRule", "{v}");
    assert_eq!(b["resource"], "nsg:nsg-app");
    let d = b["decision"].as_str().unwrap();
    assert!(
        d.contains("unresolved rule nsg-app/deny-storage-https") && d.contains("'Storage'"),
        "{d}"
    );
    assert!(b["patch"].is_null(), "{b}");
    assert!(b["change"].as_str().unwrap().starts_with("none"), "{b}");
}

#[test]
fn why_never_takes_an_unresolved_rules_priority() {
    let src = fixture("unresolved-views.yaml");
    let fixed = tmp("unresolved-views", "fixed.yaml");
    let fixed_s = fixed.display().to_string();
    // tcp/443 to 8.8.8.8 is denied by deny-https (300); keep-8443 (299) is for tcp/8443 only, so
    // it does not stop the walk, but it holds priority 299: the Allow goes at 298.
    let v = json(&[
        "trace",
        &src,
        "--src",
        "vm-app",
        "--dst",
        "8.8.8.8",
        "--why",
        "--fixed-out",
        &fixed_s,
    ]);
    let b = &v["why"]["blockers"][0];
    assert_eq!(b["kind"], "nsg", "{v}");
    assert_eq!(b["patch"]["value"]["priority"], 298, "{b}");
    assert_eq!(v["why"]["end"], "reachable", "{v}");
    // The fixed topology is valid (no two outbound rules at one priority) and lets it through.
    let t = json(&["trace", &fixed_s, "--src", "vm-app", "--dst", "8.8.8.8"]);
    assert_eq!(t["outcome"], "reachable", "{t}");
}
