//! The AVM hub-networking module (../shared/import-samples/avm-hub-networking,
//! compiled Bicep, languageVersion 2.0: symbolic resources, inline nested 2.0
//! templates, copy loops, conditions, lambdas, tryGet, existing resources).
//! Its only input is `hubVirtualNetworks`, given by the hand-written parameter
//! file tests/fixtures/avm-hub.parameters.json (two hubs; hub1 has a firewall
//! and peers with hub2). What the module does with it was read from main.json
//! by hand: the route table is named after the hub (routeTableName default) and
//! created with disableBgpRoutePropagation true; for each peering a route
//! `<hub>-to-<remote>-route` to the remote VNet's first prefix via the
//! firewall's private IP (output privateIp, main.json line 6874); the firewall
//! subnet is re-deployed with the hub's route table.

use std::path::PathBuf;

use vnetsim_import::{import, ImportOptions};
use vnetsim_model as m;

const AVM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/import-samples/avm-hub-networking/main.json"
);

fn sources() -> Vec<PathBuf> {
    let t = PathBuf::from(AVM);
    assert!(t.is_file(), "the shared sample {} is missing", t.display());
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/avm-hub.parameters.json"
    ));
    vec![t, p]
}

fn hub() -> m::Topology {
    let opts = ImportOptions {
        sets: vec![("hub1.privateIpAddress".into(), "10.0.1.4".into())],
        ..Default::default()
    };
    let i = import(&sources(), &opts).unwrap_or_else(|e| panic!("{e}"));
    m::load_str("avm.yaml", &i.yaml)
        .unwrap_or_else(|d| panic!("{:?}", d.items))
        .topology()
        .clone()
}

#[test]
fn vnets_subnets_and_peering() {
    let t = hub();
    let names: Vec<&str> = t.vnets.iter().map(|v| v.name.value.as_str()).collect();
    assert_eq!(names, ["hub1", "hub2"]);
    let h1 = &t.vnets[0];
    assert_eq!(h1.address_space[0].value.to_string(), "10.0.0.0/16");
    let fw = h1
        .subnets
        .iter()
        .find(|s| s.name.value == "AzureFirewallSubnet")
        .unwrap();
    assert_eq!(fw.address_prefix.value.to_string(), "10.0.1.0/26");
    assert_eq!(fw.route_table.as_ref().unwrap().value, "hub1");
    assert!(h1.subnets.iter().any(
        |s| s.name.value == "snet-mgmt" && s.address_prefix.value.to_string() == "10.0.2.0/24"
    ));
    assert_eq!(t.vnets[1].subnets[0].name.value, "snet-shared");
    assert_eq!(t.peerings.len(), 1);
    let p = &t.peerings[0];
    assert_eq!(
        (p.from.value.as_str(), p.to.value.as_str()),
        ("hub1", "hub2")
    );
    assert!(p.allow_forwarded_traffic && p.allow_virtual_network_access && !p.use_remote_gateways);
    let o = p.origin.as_ref().unwrap().source.as_ref().unwrap();
    assert!(
        o.ends_with("/virtualNetworks/hub1/virtualNetworkPeerings/hub1-to-hub2-peering"),
        "{o}"
    );
}

#[test]
fn route_table_routes_through_the_firewall() {
    let t = hub();
    let rt = t
        .route_tables
        .iter()
        .find(|r| r.name.value == "hub1")
        .unwrap();
    assert!(rt.disable_bgp_route_propagation);
    let r = rt
        .routes
        .iter()
        .find(|r| r.name.value == "hub1-to-hub2-route")
        .unwrap();
    assert_eq!(
        r.address_prefix.value,
        m::RoutePrefix::Prefix("10.1.0.0/16".parse().unwrap())
    );
    assert_eq!(r.next_hop_type.value, m::NextHopType::VirtualAppliance);
    assert_eq!(
        r.next_hop_ip_address.as_ref().unwrap().value.to_string(),
        "10.0.1.4"
    );
    let op = rt
        .routes
        .iter()
        .find(|r| r.name.value == "to-onprem")
        .unwrap();
    assert_eq!(
        op.next_hop_type.value,
        m::NextHopType::VirtualNetworkGateway
    );
}

#[test]
fn firewall_and_its_rules() {
    let t = hub();
    assert_eq!(t.firewalls.len(), 1);
    let f = &t.firewalls[0];
    assert_eq!(
        (f.name.value.as_str(), f.vnet.value.as_str()),
        ("hub1", "hub1")
    );
    assert_eq!(f.private_ip_address.value.to_string(), "10.0.1.4");
    let c = &f.network_rule_collections[0];
    assert_eq!(
        (c.name.value.as_str(), c.priority.value, c.action),
        ("allow-hub2", 200, m::Access::Allow)
    );
    assert_eq!(
        c.rules[0].destination,
        vec![m::FwAddress::Prefix("10.1.0.0/16".parse().unwrap())]
    );
    // hub2 has enableAzureFirewall false: no firewall, no firewall subnet deployment.
    assert!(t.vnets[1]
        .subnets
        .iter()
        .all(|s| s.name.value != "AzureFirewallSubnet"));
}

#[test]
fn without_values_the_refusal_lists_exactly_the_deploy_time_expressions() {
    let e = import(&sources(), &ImportOptions::default()).expect_err("refused");
    let got: Vec<(u32, u32)> = e.diagnostics.iter().map(|d| (d.line, d.col)).collect();
    // main.json 6874:26: the firewall module's privateIp output, reference('azureFirewall')...privateIPAddress;
    // main.json 5339:30: the azureFirewall resource itself (its address is assigned at deploy time).
    assert_eq!(got, [(6874, 26), (5339, 30)], "{e}");
    assert!(e.diagnostics[0]
        .message
        .contains("--set hub1.privateIPAddress=VALUE"));
}

#[test]
fn the_firewall_assumption_works_on_the_module_too() {
    let opts = ImportOptions {
        assume_firewall_ip: true,
        ..Default::default()
    };
    let i = import(&sources(), &opts).unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("avm.yaml", &i.yaml).unwrap().topology().clone();
    // AzureFirewallSubnet 10.0.1.0/26: the first usable address is 10.0.1.4.
    assert_eq!(
        t.firewalls[0].private_ip_address.value.to_string(),
        "10.0.1.4"
    );
    assert!(i.report.notes.iter().any(|n| n.contains("assumed")));
}
