//! Azure Virtual Network Manager resources and subnet service endpoints from an az export (the
//! ARM shapes of `az network manager ... show`, `az network vnet show`). Expected values read
//! from the fixture by hand.

use std::path::PathBuf;

use vnetsim_import::{import, ImportOptions};
use vnetsim_model as m;

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/")).join(p)
}

#[test]
fn network_manager_and_service_endpoints_are_imported() {
    let out = import(&[fixture("az-avnm.json")], &ImportOptions::default()).expect("imports");
    let v = m::load_str("imported.yaml", &out.yaml).expect("validates");
    let t = v.topology();
    let se = &t.vnets[0].subnets[0].service_endpoints;
    assert_eq!(se.len(), 1);
    assert_eq!(se[0].service.value, "Microsoft.Storage");
    let locs: Vec<&str> = se[0].locations.iter().map(|l| l.value.as_str()).collect();
    assert_eq!(locs, ["westeurope", "northeurope"]);
    let nm = &t.network_managers[0];
    assert_eq!(nm.name.value, "avnm-corp");
    let members: Vec<&str> = nm.network_groups[0]
        .members
        .iter()
        .map(|x| x.value.as_str())
        .collect();
    assert_eq!(members, ["vnet-a", "vnet-b"]);
    let rc = &nm.security_admin_configurations[0].rule_collections[0];
    assert_eq!(rc.applies_to_groups[0].value, "ng-prod");
    // deny-rdp is imported; allow-storage names the Storage tag, which needs tag data: kept
    // with its destinations unresolved, everything else it states written.
    assert_eq!(rc.rules.len(), 1);
    assert_eq!(rc.unresolved_rules.len(), 1);
    let u = &rc.unresolved_rules[0];
    assert_eq!(u.name.value, "allow-storage");
    assert!(u.destinations.is_empty());
    let stated = (u.priority.value, u.access, u.destination_port_ranges[0].lo);
    assert_eq!(stated, (20, m::admin::AdminAccess::AlwaysAllow, 443));
    assert_eq!(u.sources[0].value, m::AddressSpec::Any);
    assert_eq!(u.unresolved[0].field, "destinations");
    assert!(u.unresolved[0]
        .reason
        .value
        .contains("service tag 'Storage'"));
    let r = &rc.rules[0];
    assert_eq!((r.name.value.as_str(), r.priority.value), ("deny-rdp", 10));
    assert_eq!(r.access, m::admin::AdminAccess::Deny);
    assert_eq!(r.destination_port_ranges[0].lo, 3389);
    assert!(!out.yaml.contains("admin rule allow-storage not imported"));
    let c = &nm.connectivity_configurations[0];
    assert_eq!(c.topology, m::admin::ConnectivityTopology::Mesh);
    assert_eq!(
        m::admin::connected_groups(t),
        vec![vec!["vnet-a".to_string(), "vnet-b".to_string()]]
    );
    // No network manager resource is left as unsupported.
    assert!(!out
        .yaml
        .contains("type: \"Microsoft.Network/networkManagers\""));
}

#[test]
fn terraform_network_manager_resources_are_imported() {
    let out = import(&[fixture("tf-avnm.json")], &ImportOptions::default()).expect("imports");
    let v = m::load_str("imported.yaml", &out.yaml).expect("validates");
    let t = v.topology();
    let nm = &t.network_managers[0];
    assert_eq!(nm.network_groups[0].members[0].value, "vnet-a");
    let r = &nm.security_admin_configurations[0].rule_collections[0].rules[0];
    assert_eq!((r.name.value.as_str(), r.priority.value), ("allow-ssh", 5));
    assert_eq!(r.access, m::admin::AdminAccess::AlwaysAllow);
    assert_eq!(
        r.sources[0].value,
        m::AddressSpec::Prefix("10.0.0.0/16".parse().unwrap())
    );
    let c = &nm.connectivity_configurations[0];
    assert_eq!(c.topology, m::admin::ConnectivityTopology::HubAndSpoke);
    assert_eq!(c.hub.as_ref().unwrap().value, "vnet-hub");
    // Hub and spoke: AVNM creates the hub-spoke peerings, both directions.
    let pairs: Vec<(&str, &str)> = t
        .peerings
        .iter()
        .map(|p| (p.from.value.as_str(), p.to.value.as_str()))
        .collect();
    assert_eq!(pairs, [("vnet-hub", "vnet-a"), ("vnet-a", "vnet-hub")]);
    assert_eq!(
        t.vnets[0].subnets[0].service_endpoints[0].service.value,
        "Microsoft.Sql"
    );
}
