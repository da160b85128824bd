//! Route Servers imported from az CLI exports (`az network routeserver list`, `... peering
//! list`, `... peering list-learned-routes`) and Terraform state (`azurerm_route_server`,
//! `azurerm_route_server_bgp_connection`). Expected values are read from the fixture files by
//! hand; a Virtual WAN hub (a virtualHubs resource with `virtualWan`) stays unsupported.

use std::path::PathBuf;

use vnetsim_import::{import, ImportOptions, Status};
use vnetsim_model as m;

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/")).join(p)
}

fn topo(yaml: &str) -> m::Topology {
    m::load_str("imported.yaml", yaml)
        .unwrap_or_else(|d| panic!("imported topology must validate: {:?}\n{yaml}", d.items))
        .topology()
        .clone()
}

#[test]
fn az_route_server_with_peers_and_learned_routes() {
    let out = import(&[fixture("az-route-server")], &ImportOptions::default()).expect("imports");
    let t = topo(&out.yaml);
    assert_eq!(t.route_servers.len(), 1);
    let rs = &t.route_servers[0];
    assert_eq!(rs.name.value, "rs-hub");
    assert_eq!(rs.vnet.value, "vnet-hub");
    assert_eq!(rs.subnet.value, "RouteServerSubnet");
    assert!(rs.allow_branch_to_branch_traffic);
    let ips: Vec<String> = rs
        .instance_addresses
        .iter()
        .map(|a| a.value.to_string())
        .collect();
    assert_eq!(ips, ["10.0.1.4", "10.0.1.5"]);
    let peers: Vec<(&str, String, u32)> = rs
        .bgp_peers
        .iter()
        .map(|p| {
            (
                p.name.value.as_str(),
                p.peer_ip.value.to_string(),
                p.peer_asn.value,
            )
        })
        .collect();
    assert_eq!(
        peers,
        [
            ("nva1", "10.0.2.4".to_string(), 65001),
            ("nva2", "10.0.2.5".to_string(), 65002)
        ]
    );
    // nva1's routes come from its list-learned-routes file (both instances list them: once
    // each); nva2 has none, and the report says so.
    let nva1: Vec<(String, Vec<u32>)> = rs.bgp_peers[0]
        .advertises
        .iter()
        .map(|a| (a.prefix.value.to_string(), a.as_path.clone()))
        .collect();
    assert_eq!(
        nva1,
        [
            ("10.100.0.0/16".to_string(), vec![65001]),
            ("10.200.0.0/16".to_string(), vec![65001, 65050])
        ]
    );
    assert!(rs.bgp_peers[1].advertises.is_empty());
    assert!(
        out.report.notes.iter().any(|n| n.contains("rs-hub")
            && n.contains("nva2")
            && n.contains("not in any resource export")),
        "{:?}",
        out.report.notes
    );
    // The Virtual WAN hub is unsupported, and written as notModelled.
    let vwan = out
        .report
        .entries
        .iter()
        .find(|e| e.id.ends_with("/virtualHubs/vwan-hub-weu"))
        .unwrap();
    assert_eq!(vwan.status, Status::Unsupported);
    assert!(t
        .not_modelled
        .iter()
        .any(|x| x.id.ends_with("vwan-hub-weu")));
    let rs_entry = out
        .report
        .entries
        .iter()
        .find(|e| e.id.ends_with("/virtualHubs/rs-hub"))
        .unwrap();
    assert_eq!(rs_entry.status, Status::Imported);
}

#[test]
fn terraform_route_server_and_bgp_connection() {
    let out = import(
        &[fixture("tf-route-server.state.json")],
        &ImportOptions::default(),
    )
    .expect("imports");
    let t = topo(&out.yaml);
    let rs = &t.route_servers[0];
    assert_eq!(rs.name.value, "rs-tf");
    assert_eq!(rs.vnet.value, "vnet-rs");
    assert_eq!(rs.subnet.value, "RouteServerSubnet");
    assert!(!rs.allow_branch_to_branch_traffic);
    assert_eq!(rs.instance_addresses.len(), 2);
    assert_eq!(rs.bgp_peers.len(), 1);
    assert_eq!(rs.bgp_peers[0].name.value, "nva-tf");
    assert_eq!(rs.bgp_peers[0].peer_ip.value.to_string(), "10.70.2.4");
    assert_eq!(rs.bgp_peers[0].peer_asn.value, 65030);
    assert!(rs.bgp_peers[0].advertises.is_empty());
}
