//! Real-world tolerance: case-insensitive property names and enum values,
//! booleans written as strings, names clashing across resource groups and
//! subscriptions, located errors for references outside the sources.

use std::path::PathBuf;

use vnetsim_import::{import, ImportOptions};
use vnetsim_model as m;

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/az-tolerant/"
    ))
    .join(p)
}

fn tolerant() -> (m::Topology, vnetsim_import::Report) {
    let i = import(&[fixture("")], &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("x.yaml", &i.yaml)
        .expect("validates")
        .topology()
        .clone();
    (t, i.report)
}

#[test]
fn clashing_names_are_qualified_and_reported() {
    let (t, rep) = tolerant();
    let names: Vec<&str> = t.vnets.iter().map(|v| v.name.value.as_str()).collect();
    assert_eq!(names, ["rg-east:vnet-app", "rg-west:vnet-app"]);
    let nsgs: Vec<&str> = t.nsgs.iter().map(|v| v.name.value.as_str()).collect();
    assert_eq!(nsgs, ["rg-east:nsg-web", "rg-west:nsg-web"]);
    assert_eq!(
        t.vnets[0].subnets[1].nsg.as_ref().unwrap().value,
        "rg-east:nsg-web"
    );
    assert_eq!(
        t.vnets[1].subnets[0].nsg.as_ref().unwrap().value,
        "rg-west:nsg-web"
    );
    // The owner tag is kept as origin.owner.
    assert_eq!(
        t.vnets[0].origin.as_ref().unwrap().owner.as_deref(),
        Some("team-east")
    );
    assert_eq!(t.vnets[1].origin.as_ref().unwrap().owner, None);
    let notes = rep.notes.join("\n");
    assert!(notes.contains("'rg-west:vnet-app'"), "{notes}");
    assert!(notes.contains("'rg-east:nsg-web'"), "{notes}");
}

#[test]
fn property_names_enums_and_booleans_are_tolerant() {
    let (t, _) = tolerant();
    // "AddressSpace"/"AddressPrefixes" and "ADDRESSPREFIX".
    assert_eq!(
        t.vnets[0].address_space[0].value.to_string(),
        "10.10.0.0/16"
    );
    assert_eq!(
        t.vnets[0].subnets[0].address_prefix.value.to_string(),
        "10.10.255.0/27"
    );
    // "gatewayType": "vpn", "enableBGP": "True".
    let g = &t.gateways[0];
    assert_eq!(g.gateway_type, m::GatewayType::Vpn);
    assert_eq!(g.bgp_asn.as_ref().map(|a| a.value), Some(65501));
    // "disableBgpRoutePropagation": "False", nextHopType in lower case.
    let rt = &t.route_tables[0];
    assert!(!rt.disable_bgp_route_propagation);
    assert_eq!(
        rt.routes[0].next_hop_type.value,
        m::NextHopType::VirtualNetworkGateway
    );
    // "allowForwardedTraffic": "True" / "False", "useRemoteGateways": "FALSE".
    let east = t
        .peerings
        .iter()
        .find(|p| p.from.value == "rg-east:vnet-app")
        .unwrap();
    assert!(east.allow_forwarded_traffic && east.allow_gateway_transit);
    let west = t
        .peerings
        .iter()
        .find(|p| p.from.value == "rg-west:vnet-app")
        .unwrap();
    assert!(!west.allow_forwarded_traffic && !west.use_remote_gateways);
    // "Priority": "150", "Direction": "inbound", "Access": "allow", "Protocol": "TCP", "internet".
    let r = &t.nsgs[0].rules[0];
    assert_eq!(r.priority.value, 150);
    assert_eq!(
        (r.direction, r.access, r.protocol),
        (m::Direction::Inbound, m::Access::Allow, m::NsgProtocol::Tcp)
    );
    assert_eq!(
        r.source[0].value,
        m::AddressSpec::Tag(m::ServiceTag::Internet)
    );
}

#[test]
fn reference_outside_the_sources_is_a_located_error_naming_the_id() {
    let e = import(
        &[fixture("vnets.json"), fixture("gw.json")],
        &ImportOptions::default(),
    )
    .expect_err("the NSGs and route table are not exported");
    let text = std::fs::read_to_string(fixture("vnets.json")).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("networkSecurityGroups/nsg-web"))
        .unwrap() as u32
        + 1;
    let d = e
        .diagnostics
        .iter()
        .find(|d| {
            d.message
                .contains("rg-east/providers/Microsoft.Network/networkSecurityGroups/nsg-web'")
        })
        .unwrap_or_else(|| panic!("{e}"));
    assert_eq!(d.line, line);
    assert!(d.file.ends_with("vnets.json"));
    assert!(d.message.contains("az network nsg list"), "{d}");
    assert!(
        d.to_string().contains(&format!("vnets.json:{line}:")),
        "{d}"
    );
    assert!(e.to_string().contains("error: route table"));
}

#[test]
fn a_single_file_that_is_not_a_source_is_an_error() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-import-notsrc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("x.json");
    std::fs::write(&f, "{\"hello\": 1}").unwrap();
    let e = import(std::slice::from_ref(&f), &ImportOptions::default()).expect_err("not a source");
    assert!(e.to_string().contains("not an import source"), "{e}");
    assert!(!vnetsim_import::looks_like_import_source(&f));
    assert!(vnetsim_import::looks_like_import_source(&fixture("")));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn classic_firewall_rule_collections() {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/az-classic-fw"
    ));
    let i = import(&[p], &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("x.yaml", &i.yaml)
        .expect("validates")
        .topology()
        .clone();
    let f = &t.firewalls[0];
    assert_eq!(f.private_ip_address.value.to_string(), "10.100.0.132");
    // additionalProperties "Network.SNAT.PrivateRanges".
    assert_eq!(
        f.private_ranges,
        vec![
            m::PrivateRange::Prefix("10.0.0.0/8".parse().unwrap()),
            m::PrivateRange::Prefix("172.16.0.0/12".parse().unwrap())
        ]
    );
    let n = &f.network_rule_collections[0];
    assert_eq!(
        (n.name.value.as_str(), n.priority.value, n.action),
        ("net-allow", 200, m::Access::Allow)
    );
    assert_eq!(
        n.rules[0].destination_ports,
        vec![m::PortRange { lo: 22, hi: 22 }]
    );
    assert_eq!(
        f.application_rule_collections[0].rules[0].target_fqdns[0].value,
        "*.microsoft.com"
    );
    let d = &f.dnat_rules[0];
    assert_eq!(
        (d.translated_address.value.to_string(), d.translated_port),
        ("10.100.1.4".to_string(), 22)
    );
    assert_eq!(
        d.destination_ports,
        vec![m::PortRange { lo: 2222, hi: 2222 }]
    );
}
