//! `terraform show -json`: a 4.x state equivalent to the az-tolerant bundle,
//! 3.x attribute names with associations and an azapi_resource, and a plan
//! whose "known after apply" value is refused. Expected values are read from
//! the fixtures by hand.

use std::path::PathBuf;

use vnetsim_import::{import, ImportOptions};
use vnetsim_model as m;

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/")).join(p)
}

#[test]
fn state_4x_equals_the_az_export() {
    let tf = import(
        &[fixture("tf-tolerant.state.json")],
        &ImportOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let az = import(&[fixture("az-tolerant")], &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tf.yaml, az.yaml);
    let t = m::load_str("tf.yaml", &tf.yaml).unwrap().topology().clone();
    // bgp_route_propagation_enabled = true (4.x) is disableBgpRoutePropagation false.
    assert!(!t.route_tables[0].disable_bgp_route_propagation);
    // bgp_enabled (4.x) and bgp_settings.asn.
    assert_eq!(t.gateways[0].bgp_asn.as_ref().map(|a| a.value), Some(65501));
    // The association resources put nsg-web and rt-web on east's snet-web.
    let web = t.vnets[0]
        .subnets
        .iter()
        .find(|s| s.name.value == "snet-web")
        .unwrap();
    assert_eq!(web.nsg.as_ref().unwrap().value, "rg-east:nsg-web");
    assert_eq!(web.route_table.as_ref().unwrap().value, "rt-web");
}

#[test]
fn state_3x_names_associations_and_azapi() {
    let i = import(
        &[fixture("tf-3x-and-azapi.state.json")],
        &ImportOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("tf.yaml", &i.yaml).unwrap().topology().clone();
    let s = t.vnets[0]
        .subnets
        .iter()
        .find(|s| s.name.value == "snet-app")
        .unwrap();
    // private_endpoint_network_policies_enabled = true (3.x) is Enabled.
    assert_eq!(
        s.private_endpoint_network_policies,
        m::PeNetworkPolicies::Enabled
    );
    assert_eq!(s.route_table.as_ref().unwrap().value, "rt-3x");
    assert_eq!(s.nsg.as_ref().unwrap().value, "nsg-azapi");
    // disable_bgp_route_propagation = true (3.x).
    assert!(t.route_tables[0].disable_bgp_route_propagation);
    // enable_ip_forwarding = true (3.x).
    assert!(t.nics[0].enable_ip_forwarding);
    assert_eq!(t.nics[0].private_ip_address.value.to_string(), "10.60.1.4");
    // azapi_resource body through the ARM mapper.
    let r = &t.nsgs[0].rules[0];
    assert_eq!(
        (r.name.value.as_str(), r.priority.value, r.access),
        ("deny-rdp", 400, m::Access::Deny)
    );
}

#[test]
fn plan_value_known_after_apply_is_refused() {
    let e = import(&[fixture("tf-plan.json")], &ImportOptions::default()).expect_err("refused");
    let d = e
        .diagnostics
        .iter()
        .find(|d| {
            d.message
                .contains("azurerm_route_table.spoke.route[0].next_hop_in_ip_address")
        })
        .unwrap_or_else(|| panic!("{e}"));
    assert!(d.message.contains("known only after apply"), "{d}");
    assert!(d.file.ends_with("tf-plan.json"), "{d}");
}

#[test]
fn classic_firewall_rule_collection_resources_join_their_firewall() {
    let i = import(
        &[fixture("tf-3x-and-azapi.state.json")],
        &ImportOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("tf.yaml", &i.yaml).unwrap().topology().clone();
    let f = &t.firewalls[0];
    assert_eq!(
        (
            f.name.value.as_str(),
            f.private_ip_address.value.to_string()
        ),
        ("afw-3x", "10.60.0.4".to_string())
    );
    assert_eq!(f.public_ip_addresses[0].value.to_string(), "20.60.0.1");
    let n = &f.network_rule_collections[0];
    assert_eq!(
        (n.name.value.as_str(), n.priority.value, n.action),
        ("net-allow", 100, m::Access::Allow)
    );
    assert_eq!(
        n.rules[0].destination,
        vec![m::FwAddress::Prefix("10.61.0.0/16".parse().unwrap())]
    );
    let d = &f.dnat_rules[0];
    assert_eq!(
        (d.name.value.as_str(), d.translated_port),
        ("https-in", 443)
    );
    assert_eq!(
        d.destination_ports,
        vec![m::PortRange { lo: 8443, hi: 8443 }]
    );
}
