//! Network Watcher tutorial vectors (reference TV-13..TV-17): next hop and IP
//! flow verify on a VNet with one subnet and an NSG of default rules.

mod common;
use common::*;
use vnetsim_fabric::security::Access;
use vnetsim_fabric::watcher::{flow_verify, next_hop, Direction};

const T_B: &str = r#"
version: 1
vnets:
  - { name: v, addressSpace: [10.0.0.0/16], subnets: [{ name: s, addressPrefix: 10.0.0.0/24, nsg: n }] }
nsgs: [{ name: n, rules: [] }]
nics: [{ name: myVm, subnet: v/s, privateIpAddress: 10.0.0.4 }]
"#;

fn a(s: &str) -> std::net::Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn tv13_tv14_next_hop_internet_and_none() {
    let f = fabric(T_B);
    let s = f.find_subnet("v/s").unwrap();
    let nh = next_hop(&f, s, a("13.107.21.200"));
    assert_eq!(
        (nh.next_hop_type.as_str(), nh.route_table_id.as_str()),
        ("Internet", "System Route")
    );
    let nh = next_hop(&f, s, a("172.31.0.100"));
    assert_eq!(
        (nh.next_hop_type.as_str(), nh.route_table_id.as_str()),
        ("None", "System Route")
    );
}

#[test]
fn tv15_tv16_tv17_ip_flow_verify() {
    let f = fabric(T_B);
    let n = f.find_nic("myVm").unwrap();
    // TV-15: 13.107.21.200 is in the Internet tag.
    let v = flow_verify(
        &f,
        n,
        Direction::Outbound,
        6,
        (a("10.0.0.4"), 60000),
        (a("13.107.21.200"), 80),
    );
    assert_eq!(v.access, Access::Allow);
    assert_eq!(v.rule_name.as_deref(), Some("n/AllowInternetOutBound"));
    // TV-16: 172.31.0.100 is neither VirtualNetwork nor Internet.
    let v = flow_verify(
        &f,
        n,
        Direction::Outbound,
        6,
        (a("10.0.0.4"), 60000),
        (a("172.31.0.100"), 80),
    );
    assert_eq!(v.access, Access::Deny);
    assert_eq!(v.rule_name.as_deref(), Some("n/DenyAllOutBound"));
    // TV-17: inbound from it.
    let v = flow_verify(
        &f,
        n,
        Direction::Inbound,
        6,
        (a("10.0.0.4"), 80),
        (a("172.31.0.100"), 60000),
    );
    assert_eq!(v.access, Access::Deny);
    assert_eq!(v.rule_name.as_deref(), Some("n/DenyAllInBound"));
}
