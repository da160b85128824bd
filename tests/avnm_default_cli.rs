//! Default (built-in, `kind: Default`) security admin rules through the import and the binary.
//!
//! Azure's API (DefaultAdminPropertiesFormat, learn.microsoft.com REST reference) gives a Default
//! rule a writable `flag` and read-only priority, direction, access, protocol, sources,
//! destinations and ports; no page lists the rules a flag stands for. Fixtures (hand-written, the
//! ARM shape Resource Graph prints): tests/fixtures/az-unresolved/avnm-default-flag.json (a
//! Default rule known by its flag only, in a collection applying to vnet-a; vnet-c is in no
//! group), avnm-default-reported.json (the same rule with the read-only fields a GET returns:
//! priority 5, Inbound, Deny, Tcp, any source, destination port 22).

mod common;
use common::*;

#[test]
fn a_default_rule_known_by_its_flag_stops_every_flow_it_reaches() {
    let src = fixture("az-unresolved/avnm-default-flag.json");
    // Its priority, direction, protocol and addresses are unknown: nothing in vnet-a is decided.
    for port in ["443", "22"] {
        let v = trace_json(
            &src,
            &["--src", "nic-a1", "--dst", "10.10.0.5", "--dst-port", port],
        );
        assert_eq!(v["outcome"], "not-modelled", "{v}");
        assert_eq!(
            v["forward"]["rule"], "avnm-corp/baseline/guardrails/default-by-flag",
            "{v}"
        );
        assert!(
            v["reason"]
                .as_str()
                .unwrap()
                .contains("flag 'fixture-flag'"),
            "{v}"
        );
    }
    // vnet-c is in no network group: no admin rule reaches it.
    let v = trace_json(&src, &["--src", "nic-c", "--dst", "8.8.8.8"]);
    assert_eq!(v["outcome"], "reachable", "{v}");
}

#[test]
fn the_import_keeps_it_unresolved_and_says_so() {
    let (code, yaml, err) = run(&[
        "import",
        &fixture("az-unresolved/avnm-default-flag.json"),
        "--report",
    ]);
    assert_eq!(code, 0, "{err}");
    let rule = yaml
        .split("- name: \"default-by-flag\"")
        .nth(1)
        .unwrap_or_else(|| panic!("{yaml}"));
    for k in [
        "priority:",
        "direction:",
        "access:",
        "protocol:",
        "sources:",
        "destinations:",
    ] {
        assert!(rule.contains(k), "{k} in {rule}");
    }
    assert!(rule.contains("unresolved:"), "{rule}");
    assert!(
        err.contains("admin rule default-by-flag kept unresolved"),
        "{err}"
    );
    assert!(
        !err.contains("Default (built-in) admin rule is not modelled"),
        "{err}"
    );
}

#[test]
fn a_default_rule_with_its_reported_fields_decides_as_they_say() {
    let src = fixture("az-unresolved/avnm-default-reported.json");
    // Inbound Deny tcp/22 at priority 5, evaluated before the NSGs.
    let v = trace_json(
        &src,
        &["--src", "nic-a1", "--dst", "10.10.0.5", "--dst-port", "22"],
    );
    assert_eq!(v["outcome"], "unreachable", "{v}");
    assert_eq!(
        v["forward"]["rule"],
        "avnm-corp/baseline/guardrails/default-reported"
    );
    // tcp/443 is no port of the rule; no NSG: delivered.
    let v = trace_json(&src, &["--src", "nic-a1", "--dst", "10.10.0.5"]);
    assert_eq!(v["outcome"], "reachable", "{v}");
}

#[test]
fn a_hand_written_rule_may_leave_its_priority_and_direction_unresolved() {
    let yaml = r#"version: 1
vnets:
  - name: vnet-a
    addressSpace: [10.10.0.0/16]
    subnets: [{ name: snet-a, addressPrefix: 10.10.0.0/24 }]
nics:
  - { name: nic-a1, subnet: vnet-a/snet-a, privateIpAddress: 10.10.0.4 }
  - { name: nic-a2, subnet: vnet-a/snet-a, privateIpAddress: 10.10.0.5 }
networkManagers:
  - name: avnm
    networkGroups: [{ name: ng, members: [vnet-a] }]
    securityAdminConfigurations:
      - name: cfg
        ruleCollections:
          - name: rc
            appliesToGroups: [ng]
            rules:
              - { name: allow-all, priority: 1, direction: Outbound, access: AlwaysAllow,
                  protocol: Any, sources: ['*'], destinations: ['*'] }
              - name: unknown-tcp
                protocol: Tcp
                sources: ['*']
                destinations: ['*']
                destinationPortRanges: ['22']
                unresolved: { priority: "not known", direction: "not known", access: "not known" }
"#;
    let p = tmp("avnm-default", "hand.yaml");
    std::fs::write(&p, yaml).unwrap();
    let p = p.display().to_string();
    // Even at priority 1, allow-all may come after the rule of unknown priority.
    let v = trace_json(
        &p,
        &["--src", "nic-a1", "--dst", "10.10.0.5", "--dst-port", "22"],
    );
    assert_eq!(v["outcome"], "not-modelled", "{v}");
    assert_eq!(v["forward"]["rule"], "avnm/cfg/rc/unknown-tcp", "{v}");
    // tcp/443: not a port of the unknown rule; allow-all admits it outbound, inbound no rule.
    let v = trace_json(&p, &["--src", "nic-a1", "--dst", "10.10.0.5"]);
    assert_eq!(v["outcome"], "reachable", "{v}");
    // Giving a priority as well as leaving it unresolved is an error.
    let bad = yaml.replace(
        "protocol: Tcp\n",
        "protocol: Tcp\n                priority: 7\n",
    );
    std::fs::write(tmp("avnm-default", "bad.yaml"), bad).unwrap();
    let (code, _, err) = run(&[
        "validate",
        &tmp("avnm-default", "bad.yaml").display().to_string(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("priority"), "{err}");
}
