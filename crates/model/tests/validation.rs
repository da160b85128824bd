//! One test per validation error class: the message and its location. The
//! expected line and column are found in the test's own input text.

use vnetsim_model::{load_str, Diagnostic, Severity};

/// 1-based (line, column) of the first occurrence of `needle` at or after the line containing `after`.
fn pos(text: &str, after: &str, needle: &str) -> (u32, u32) {
    let start = text
        .lines()
        .position(|l| l.contains(after))
        .unwrap_or_else(|| panic!("no line with {after}"));
    for (i, l) in text.lines().enumerate().skip(start) {
        if let Some(c) = l.find(needle) {
            return (i as u32 + 1, c as u32 + 1);
        }
    }
    panic!("no {needle} after {after}");
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match load_str("t.yaml", text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d
            .items
            .into_iter()
            .filter(|x| x.severity == Severity::Error)
            .collect(),
    }
}

/// Asserts one error whose message contains `msg`, at the position of `needle` (after line `after`).
fn expect(text: &str, msg: &str, after: &str, needle: &str) {
    let errs = errors(text);
    let (line, col) = pos(text, after, needle);
    let hit = errs.iter().find(|e| e.message.contains(msg));
    let Some(e) = hit else {
        panic!("no error containing {msg:?}; got {errs:#?}")
    };
    assert_eq!(
        (e.loc.line, e.loc.col),
        (line, col),
        "location of {:?}",
        e.message
    );
}

const BASE: &str = r#"version: 1
vnets:
  - name: hub
    addressSpace: [10.0.0.0/16]
    subnets:
      - { name: GatewaySubnet, addressPrefix: 10.0.0.0/27 }
      - { name: AzureFirewallSubnet, addressPrefix: 10.0.1.0/26 }
      - { name: tools, addressPrefix: 10.0.2.0/24 }
  - name: spoke
    addressSpace: [10.1.0.0/16]
    subnets:
      - { name: app, addressPrefix: 10.1.1.0/24 }
peerings:
  - { from: hub, to: spoke }
  - { from: spoke, to: hub }
nics:
  - { name: vm, subnet: spoke/app, privateIpAddress: 10.1.1.4 }
"#;

#[test]
fn base_is_valid() {
    let v = load_str("t.yaml", BASE).expect("valid");
    assert!(v.warnings.items.is_empty());
}

#[test]
fn syntax_error_is_located() {
    let t = "version: 1\nvnets:\n  - name: a\n   bad: [\n";
    let errs = errors(t);
    assert!(errs[0].message.starts_with("syntax error"), "{errs:?}");
    assert!(errs[0].loc.line >= 3);
}

#[test]
fn unknown_key_names_the_expected_keys() {
    let t = BASE.replace(
        "  - { name: vm, subnet",
        "  - { name: vm, subnett: x, subnet",
    );
    expect(&t, "unknown key 'subnett' in a NIC", "name: vm", "subnett");
    let e = errors(&t);
    assert!(
        e.iter().any(|x| x
            .message
            .contains("expected one of: name, subnet, privateIpAddress")),
        "{e:?}"
    );
}

#[test]
fn wrong_type_is_reported() {
    let t = BASE.replace("addressSpace: [10.1.0.0/16]", "addressSpace: { a: 1 }");
    expect(
        &t,
        "expected addressSpace (a list), found a mapping",
        "name: spoke",
        "{ a: 1 }",
    );
}

#[test]
fn bad_enum_value_lists_the_choices() {
    let t = format!(
        "{BASE}routeTables:\n  - name: rt\n    routes:\n      - {{ name: r, addressPrefix: 10.9.0.0/16, nextHopType: Nowhere }}\n"
    );
    expect(&t, "invalid nextHopType 'Nowhere'; expected one of: VirtualAppliance, VirtualNetworkGateway, VnetLocal, Internet, None", "name: r,", "Nowhere");
}

#[test]
fn dangling_subnet_reference() {
    let t = BASE.replace("subnet: spoke/app", "subnet: spoke/nope");
    expect(&t, "unknown subnet 'spoke/nope'", "name: vm", "spoke/nope");
}

#[test]
fn dangling_nsg_route_table_site_service_asg() {
    let t = BASE
        .replace("{ name: app, addressPrefix: 10.1.1.0/24 }", "{ name: app, addressPrefix: 10.1.1.0/24, nsg: nsg-x, routeTable: rt-x }")
        .replace("privateIpAddress: 10.1.1.4 }", "privateIpAddress: 10.1.1.4, applicationSecurityGroups: [asg-x] }")
        + "gateways:\n  - { name: gw, vnet: hub, connections: [{ site: nowhere }] }\n"
        + "services: [{ name: svc }]\n"
        + "privateEndpoints:\n  - { name: pe, subnet: spoke/app, privateIpAddress: 10.1.1.9, service: svc-x }\n";
    expect(&t, "unknown NSG 'nsg-x'", "name: app", "nsg-x");
    expect(&t, "unknown route table 'rt-x'", "name: app", "rt-x");
    expect(&t, "unknown site 'nowhere'", "name: gw", "nowhere");
    expect(&t, "unknown service 'svc-x'", "name: pe", "svc-x");
    expect(
        &t,
        "unknown application security group 'asg-x'",
        "name: vm",
        "asg-x",
    );
}

#[test]
fn dangling_asg_in_a_rule() {
    let t = format!(
        "{BASE}nsgs:\n  - name: n\n    rules:\n      - {{ name: r, priority: 100, direction: Inbound, access: Allow, protocol: Tcp, source: '*', destination: asg:web }}\n"
    );
    expect(
        &t,
        "unknown application security group 'web'",
        "name: r,",
        "asg:web",
    );
}

#[test]
fn duplicate_names() {
    let t = BASE.replace("      - { name: tools, addressPrefix: 10.0.2.0/24 }", "      - { name: tools, addressPrefix: 10.0.2.0/24 }\n      - { name: tools, addressPrefix: 10.0.3.0/24 }");
    expect(
        &t,
        "duplicate subnet (in vnet 'hub') name 'tools' (first defined at line 8)",
        "10.0.3.0/24",
        "tools",
    );
}

#[test]
fn invalid_cidr_and_host_bits() {
    let t = BASE.replace("addressPrefix: 10.1.1.0/24", "addressPrefix: 10.1.1.7/24");
    expect(
        &t,
        "'10.1.1.7/24' has host bits set (did you mean 10.1.1.0/24?)",
        "name: app",
        "10.1.1.7/24",
    );
    let t = BASE.replace("addressPrefix: 10.1.1.0/24", "addressPrefix: 10.1.300.0/24");
    expect(
        &t,
        "expected a CIDR prefix like 10.1.0.0/16, found '10.1.300.0/24'",
        "name: app",
        "10.1.300.0/24",
    );
}

#[test]
fn subnet_outside_vnet_space() {
    let t = BASE
        .replace("addressPrefix: 10.1.1.0/24", "addressPrefix: 10.7.1.0/24")
        .replace("privateIpAddress: 10.1.1.4", "privateIpAddress: 10.7.1.4");
    expect(&t, "subnet 'app' prefix 10.7.1.0/24 is outside the address space of vnet 'spoke' (10.1.0.0/16)", "name: app", "10.7.1.0/24");
}

#[test]
fn overlapping_subnets() {
    let t = BASE.replace("      - { name: tools, addressPrefix: 10.0.2.0/24 }", "      - { name: tools, addressPrefix: 10.0.2.0/24 }\n      - { name: tools2, addressPrefix: 10.0.2.128/25 }");
    expect(
        &t,
        "subnet 'tools2' (10.0.2.128/25) overlaps subnet 'tools' (10.0.2.0/24)",
        "tools2",
        "10.0.2.128/25",
    );
}

#[test]
fn overlapping_address_spaces_of_peered_vnets() {
    let t = BASE
        .replace(
            "addressSpace: [10.1.0.0/16]",
            "addressSpace: [10.0.128.0/17]",
        )
        .replace("10.1.1.0/24", "10.0.129.0/24")
        .replace("10.1.1.4", "10.0.129.4");
    expect(&t, "peered vnets 'hub' and 'spoke' have overlapping address spaces (10.0.0.0/16 and 10.0.128.0/17)", "from: hub", "{ from: hub");
}

#[test]
fn address_outside_subnet_or_reserved() {
    let t = BASE.replace("privateIpAddress: 10.1.1.4", "privateIpAddress: 10.1.2.4");
    expect(
        &t,
        "NIC 'vm' address 10.1.2.4 is outside its subnet spoke/app (10.1.1.0/24)",
        "name: vm",
        "10.1.2.4",
    );
    // Vector 40 (R1.1): the first four and the last address are Azure's.
    for bad in ["10.1.1.2", "10.1.1.255", "10.1.1.0", "10.1.1.3"] {
        let t = BASE.replace(
            "privateIpAddress: 10.1.1.4",
            &format!("privateIpAddress: {bad}"),
        );
        expect(
            &t,
            &format!("NIC 'vm' address {bad} is reserved by Azure in subnet 10.1.1.0/24"),
            "name: vm",
            bad,
        );
        let e = errors(&t);
        assert!(
            e.iter()
                .any(|x| x.message.contains("the first usable is 10.1.1.4")),
            "{e:?}"
        );
    }
}

#[test]
fn virtual_appliance_route_needs_an_address() {
    let t = format!("{BASE}routeTables:\n  - name: rt\n    routes:\n      - {{ name: r, addressPrefix: 0.0.0.0/0, nextHopType: VirtualAppliance }}\n");
    expect(
        &t,
        "route 'r' has nextHopType VirtualAppliance but no nextHopIpAddress",
        "name: r,",
        "VirtualAppliance",
    );
}

#[test]
fn nsg_priority_range_and_duplicates() {
    let rule = |name: &str, prio: u32, dir: &str| {
        format!("      - {{ name: {name}, priority: {prio}, direction: {dir}, access: Allow, protocol: Tcp, source: '*', destination: '*' }}\n")
    };
    let t = format!(
        "{BASE}nsgs:\n  - name: n\n    rules:\n{}{}{}{}",
        rule("low", 99, "Inbound"),
        rule("a", 200, "Inbound"),
        rule("b", 200, "Inbound"),
        rule("c", 200, "Outbound")
    );
    expect(
        &t,
        "security rule 'low' priority 99 is outside 100..4096",
        "name: low",
        "99",
    );
    expect(
        &t,
        "security rule 'b' reuses priority 200 for Inbound rules in NSG 'n'",
        "name: b,",
        "200",
    );
    // The same priority in the other direction is fine.
    assert!(!errors(&t).iter().any(|e| e.message.contains("'c' reuses")));
    let t = format!(
        "{BASE}nsgs:\n  - name: n\n    rules:\n{}",
        rule("high", 4097, "Outbound")
    );
    expect(
        &t,
        "priority 4097 is outside 100..4096",
        "name: high",
        "4097",
    );
}

#[test]
fn gateway_and_firewall_need_their_subnets() {
    let t = format!(
        "{BASE}gateways:\n  - {{ name: gw, vnet: spoke }}\nfirewalls:\n  - {{ name: fw, vnet: spoke, privateIpAddress: 10.1.1.10, publicIpAddresses: [20.0.0.1] }}\n"
    );
    expect(
        &t,
        "gateway 'gw' needs a subnet named GatewaySubnet in vnet 'spoke'",
        "name: gw",
        "spoke",
    );
    expect(
        &t,
        "firewall 'fw' needs a subnet named AzureFirewallSubnet in vnet 'spoke'",
        "name: fw",
        "spoke",
    );
}

#[test]
fn one_sided_peering_is_a_warning() {
    let t = BASE.replace("  - { from: spoke, to: hub }\n", "");
    let v = load_str("t.yaml", &t).expect("a warning is not an error");
    let w = &v.warnings.items;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].severity, Severity::Warning);
    assert!(
        w[0].message.contains("Initiated") && w[0].message.contains("carries no traffic"),
        "{}",
        w[0].message
    );
    assert_eq!(
        (w[0].loc.line, w[0].loc.col),
        pos(&t, "from: hub", "{ from: hub")
    );
}

#[test]
fn features_outside_v1_are_rejected_by_name() {
    let t = format!("{BASE}virtualHubs: []\n");
    expect(
        &t,
        "'virtualHubs': Virtual WAN hubs are not in topology format version 1",
        "virtualHubs",
        "virtualHubs",
    );
}

#[test]
fn gateway_subnet_route_table_cannot_disable_propagation() {
    let t = BASE.replace(
        "{ name: GatewaySubnet, addressPrefix: 10.0.0.0/27 }",
        "{ name: GatewaySubnet, addressPrefix: 10.0.0.0/27, routeTable: rt }",
    ) + "routeTables:\n  - { name: rt, disableBgpRoutePropagation: true, routes: [] }\n";
    expect(
        &t,
        "disables BGP route propagation and cannot be used on GatewaySubnet",
        "name: GatewaySubnet",
        "rt }",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let t = BASE
        .replace("privateIpAddress: 10.1.1.4", "privateIpAddress: 10.1.1.1")
        .replace(
            "{ name: tools, addressPrefix: 10.0.2.0/24 }",
            "{ name: tools, addressPrefix: 10.0.2.0/24, nsg: missing }",
        )
        .replace("  - { from: spoke, to: hub }\n", "");
    let d = load_str("t.yaml", &t).unwrap_err();
    let errs: Vec<_> = d.errors().collect();
    assert_eq!(errs.len(), 2, "{d}");
    assert_eq!(d.warnings().count(), 1);
    // Rendered as file:line:col: severity: message, sorted by position.
    let text = d.to_string();
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("t.yaml:8:"), "{text}");
}

#[test]
fn json_input_is_accepted_with_locations() {
    let t = r#"{
  "version": 1,
  "vnets": [
    { "name": "a", "addressSpace": ["10.1.0.0/16"],
      "subnets": [ { "name": "s", "addressPrefix": "10.1.0.0/24", "bogus": 1 } ] }
  ]
}"#;
    expect(
        t,
        "unknown key 'bogus' in a subnet",
        "\"subnets\"",
        "\"bogus\"",
    );
}

/// A syntax problem in one object and semantic problems in others are reported in one run; an
/// object that did not decode is left out, so nothing cascades from it (no "unknown subnet"
/// for the subnets of a VNet that failed, no overlap with a half-read prefix).
#[test]
fn syntax_and_semantic_problems_are_reported_together_without_cascades() {
    let text = "\
version: 1
vnets:
  - name: vnet-a
    addressSpace: [10.1.0.0/16]
    subnets:
      - { name: app, addressPrefix: 10.1.0.0/24, colour: blue }
  - name: vnet-b
    addressSpace: [10.2.0.0/16]
    subnets:
      - { name: web, addressPrefix: 10.3.0.0/24 }
nics:
  - { name: n1, subnet: vnet-a/app, privateIpAddress: 10.1.0.4 }
  - { name: n2, subnet: vnet-b/nope, privateIpAddress: 10.2.0.4 }
";
    let errs = errors(text);
    let (l, c) = pos(text, "colour", "colour");
    assert!(errs
        .iter()
        .any(|e| e.message.contains("unknown key 'colour'") && (e.loc.line, e.loc.col) == (l, c)));
    // vnet-b's subnet lies outside its space: a semantic problem, independent of vnet-a's.
    assert!(errs.iter().any(|e| e
        .message
        .contains("outside the address space of vnet 'vnet-b'")));
    // n2 names a subnet that does not exist in a VNet that decoded.
    assert!(errs
        .iter()
        .any(|e| e.message.contains("unknown subnet 'vnet-b/nope'")));
    // n1's subnet is in vnet-a, which did not decode: not reported as unknown.
    assert!(
        !errs.iter().any(|e| e.message.contains("vnet-a/app")),
        "{errs:#?}"
    );
    assert_eq!(errs.len(), 3, "{errs:#?}");
}
