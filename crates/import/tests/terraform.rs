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

fn shared(p: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/"
    ))
    .join(p)
}

#[test]
fn load_balancer_parts_are_assembled_from_their_own_resources() {
    // tests/fixtures/tf-lb-agw.state.json (azurerm 4.x): azurerm_lb ilb-web (frontend fe-web
    // 10.40.2.100 in snet-backend) with separate azurerm_lb_backend_address_pool pool-web,
    // azurerm_lb_probe probe-https (Https 8443), azurerm_lb_rule rule-https (Tcp 443 -> 8443),
    // azurerm_lb_nat_rule nat-ssh-web1 (50001 -> 22 on nic-web1), and the public lb-out
    // (pip-lb 20.60.0.10) with azurerm_lb_outbound_rule ob-all; NICs join pools through
    // azurerm_network_interface_backend_address_pool_association.
    let i = import(&[shared("tf-lb-agw.state.json")], &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("tf.yaml", &i.yaml).unwrap().topology().clone();
    let ilb = t
        .load_balancers
        .iter()
        .find(|l| l.name.value == "ilb-web")
        .unwrap();
    assert_eq!(ilb.sku, m::load_balancer::LbSku::Standard);
    let fe = &ilb.frontends[0];
    assert_eq!(fe.name.value, "fe-web");
    assert_eq!(fe.subnet.as_ref().unwrap().value, "vnet-lb/snet-backend");
    assert_eq!(
        fe.private_ip_address.as_ref().unwrap().value.to_string(),
        "10.40.2.100"
    );
    let members: Vec<&str> = ilb.pools[0]
        .backends
        .iter()
        .map(|b| b.nic.value.as_str())
        .collect();
    assert_eq!(
        (ilb.pools[0].name.value.as_str(), members),
        ("pool-web", vec!["nic-web1", "nic-web2"])
    );
    let p = &ilb.probes[0];
    assert_eq!(
        (p.name.value.as_str(), p.protocol.as_str(), p.port.value),
        ("probe-https", "Https", 8443)
    );
    let r = &ilb.rules[0];
    assert_eq!(r.name.value, "rule-https");
    assert_eq!(
        (r.frontend.value.as_str(), r.pool.value.as_str()),
        ("fe-web", "pool-web")
    );
    assert_eq!(r.protocol.value, m::load_balancer::LbProtocol::Tcp);
    assert_eq!((r.frontend_port.value, r.backend_port.value), (443, 8443));
    assert_eq!(r.probe.as_ref().unwrap().value, "probe-https");
    assert!(!r.floating_ip);
    let n = &ilb.nat_rules[0];
    assert_eq!(n.name.value, "nat-ssh-web1");
    assert_eq!(n.frontend_port.as_ref().unwrap().value, 50001);
    assert_eq!(n.backend_port.value, 22);
    assert_eq!(n.backend.as_ref().unwrap().value, "nic-web1");
    let out = t
        .load_balancers
        .iter()
        .find(|l| l.name.value == "lb-out")
        .unwrap();
    assert_eq!(
        out.frontends[0]
            .public_ip_address
            .as_ref()
            .unwrap()
            .value
            .to_string(),
        "20.60.0.10"
    );
    let o = &out.outbound_rules[0];
    assert_eq!(o.name.value, "ob-all");
    assert_eq!(o.frontends[0].value, "fe-pub");
    assert_eq!(o.pool.value, "pool-out");
    assert_eq!(o.protocol, m::load_balancer::LbProtocol::All);
    assert_eq!(out.pools[0].backends.len(), 2);
    assert_eq!(i.report.unsupported().count(), 0, "{}", i.report.to_text());
}

#[test]
fn application_gateway_is_mapped_from_its_inline_blocks() {
    // The same state: azurerm_application_gateway agw-web, Standard_v2 in snet-agw, public
    // frontend pip-agw 20.60.0.20, listener l-public (Https 443), pools pool-nic (nic-web1,
    // through the NIC association) and pool-ip (10.40.2.5), rule r-public to pool-nic over
    // backend settings hs-8080 (port 8080), priority 100.
    let i = import(&[shared("tf-lb-agw.state.json")], &ImportOptions::default()).unwrap();
    let t = m::load_str("tf.yaml", &i.yaml).unwrap().topology().clone();
    let g = &t.application_gateways[0];
    assert_eq!(g.name.value, "agw-web");
    assert_eq!(g.sku, m::load_balancer::AppGwSku::StandardV2);
    assert_eq!(g.subnet.value, "vnet-lb/snet-agw");
    assert_eq!(
        g.public_ip_address.as_ref().unwrap().value.to_string(),
        "20.60.0.20"
    );
    let l = &g.listeners[0];
    assert_eq!(
        (l.name.value.as_str(), l.port.value, l.protocol.as_str()),
        ("l-public", 443, "Https")
    );
    assert_eq!(l.frontend.value, m::load_balancer::AppGwFrontend::Public);
    let pool = |n: &str| g.pools.iter().find(|p| p.name.value == n).unwrap();
    assert_eq!(pool("pool-nic").nics[0].value, "nic-web1");
    assert_eq!(pool("pool-ip").addresses[0].value, "10.40.2.5");
    let r = &g.rules[0];
    assert_eq!(
        (
            r.listener.value.as_str(),
            r.pool.value.as_str(),
            r.backend_port.value
        ),
        ("l-public", "pool-nic", 8080)
    );
    assert_eq!(r.priority.as_ref().unwrap().value, 100);
}

#[test]
fn a_load_balancer_part_without_its_load_balancer_is_reported() {
    let state = r#"{"format_version": "1.0", "terraform_version": "1.9.5", "values": {"root_module": {"resources": [
      {"address": "azurerm_lb_rule.r", "mode": "managed", "type": "azurerm_lb_rule", "name": "r",
       "values": {"id": "/subscriptions/4d4d4d4d-0000-4000-9000-00000000004d/resourceGroups/rg-lb/providers/Microsoft.Network/loadBalancers/lb-gone/loadBalancingRules/r",
                  "name": "r", "loadbalancer_id": "/subscriptions/4d4d4d4d-0000-4000-9000-00000000004d/resourceGroups/rg-lb/providers/Microsoft.Network/loadBalancers/lb-gone",
                  "protocol": "Tcp", "frontend_port": 80, "backend_port": 80}}]}}}"#;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-tf-orphan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("state.json");
    std::fs::write(&f, state).unwrap();
    let i = import(&[f], &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let e = i.report.unsupported().next().expect("listed");
    assert!(e.id.ends_with("/lb-gone/loadBalancingRules/r"), "{e:?}");
}

/// Writes a state of `resources` (JSON text of the `resources` array's items) to a file.
fn state_file(name: &str, resources: &[String]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-tf-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("state.json");
    let body = format!(
        r#"{{"format_version": "1.0", "terraform_version": "1.9.5", "values": {{"root_module": {{"resources": [{}]}}}}}}"#,
        resources.join(",")
    );
    std::fs::write(&f, body).unwrap();
    f
}

fn tf(ty: &str, values: &str) -> String {
    format!(
        r#"{{"address": "{ty}.x", "mode": "managed", "type": "{ty}", "name": "x", "values": {values}}}"#
    )
}

const SUB: &str = "/subscriptions/5e5e5e5e-0000-4000-9000-00000000005e/resourceGroups/rg-i/providers/Microsoft.Network";

#[test]
fn a_nat_gateway_association_reaches_a_subnet_declared_inline() {
    // azurerm_virtual_network's inline `subnet` blocks carry their ids; the association
    // resource names one of them.
    let v = format!("{SUB}/virtualNetworks/vnet-i");
    let r = [
        tf(
            "azurerm_virtual_network",
            &format!(
                r#"{{"id": "{v}", "name": "vnet-i", "address_space": ["10.70.0.0/16"],
              "subnet": [{{"id": "{v}/subnets/snet-i", "name": "snet-i", "address_prefixes": ["10.70.1.0/24"]}}]}}"#
            ),
        ),
        tf(
            "azurerm_nat_gateway",
            &format!(
                r#"{{"id": "{SUB}/natGateways/ng-i", "name": "ng-i", "sku_name": "Standard"}}"#
            ),
        ),
        tf(
            "azurerm_public_ip",
            &format!(
                r#"{{"id": "{SUB}/publicIPAddresses/pip-i", "name": "pip-i", "ip_address": "20.70.0.1"}}"#
            ),
        ),
        tf(
            "azurerm_nat_gateway_public_ip_association",
            &format!(
                r#"{{"nat_gateway_id": "{SUB}/natGateways/ng-i", "public_ip_address_id": "{SUB}/publicIPAddresses/pip-i"}}"#
            ),
        ),
        tf(
            "azurerm_subnet_nat_gateway_association",
            &format!(
                r#"{{"subnet_id": "{v}/subnets/snet-i", "nat_gateway_id": "{SUB}/natGateways/ng-i"}}"#
            ),
        ),
        // Its subnet is in no VNet of the state: listed, not dropped.
        tf(
            "azurerm_subnet_route_table_association",
            &format!(
                r#"{{"subnet_id": "{SUB}/virtualNetworks/vnet-gone/subnets/s", "route_table_id": "{SUB}/routeTables/rt"}}"#
            ),
        ),
    ];
    let i = import(&[state_file("inline", &r)], &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("tf.yaml", &i.yaml).unwrap().topology().clone();
    let s = &t.vnets[0].subnets[0];
    assert_eq!(s.nat_gateway.as_ref().unwrap().value, "ng-i");
    assert_eq!(
        t.nat_gateways[0].public_ip_addresses[0].value.to_string(),
        "20.70.0.1"
    );
    let e = i.report.unsupported().next().expect("orphan listed");
    assert!(
        e.type_name
            .contains("azurerm_subnet_route_table_association"),
        "{e:?}"
    );
}

#[test]
fn a_nat_rule_association_gives_the_rule_its_backend() {
    // azurerm_network_interface_nat_rule_association: the single-VM inbound NAT rule's backend
    // is the associated NIC's IP configuration (here nic-web2 instead of the state's computed
    // nic-web1).
    let text = std::fs::read_to_string(shared("tf-lb-agw.state.json")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let lb = "/subscriptions/4d4d4d4d-0000-4000-9000-00000000004d/resourceGroups/rg-lb/providers/Microsoft.Network";
    let list = doc["values"]["root_module"]["resources"]
        .as_array_mut()
        .unwrap();
    for r in list.iter_mut() {
        if r["type"] == "azurerm_lb_nat_rule" {
            r["values"]["backend_ip_configuration_id"] = "".into();
        }
    }
    list.push(serde_json::json!({
        "address": "azurerm_network_interface_nat_rule_association.ssh", "mode": "managed",
        "type": "azurerm_network_interface_nat_rule_association", "name": "ssh",
        "values": {
            "network_interface_id": format!("{lb}/networkInterfaces/nic-web2"),
            "ip_configuration_name": "ipconfig1",
            "nat_rule_id": format!("{lb}/loadBalancers/ilb-web/inboundNatRules/nat-ssh-web1")
        }
    }));
    let f = state_file("nat-assoc", &[]);
    std::fs::write(&f, doc.to_string()).unwrap();
    let i = import(&[f], &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("tf.yaml", &i.yaml).unwrap().topology().clone();
    let ilb = t
        .load_balancers
        .iter()
        .find(|l| l.name.value == "ilb-web")
        .unwrap();
    assert_eq!(ilb.nat_rules[0].backend.as_ref().unwrap().value, "nic-web2");
}

#[test]
fn an_ip_address_pool_member_is_the_nic_holding_that_address() {
    // learn.microsoft.com/azure/load-balancer/backend-pool-management: an IP-based pool member
    // is an address in a virtual network; traffic goes to that address. nic-web2 holds
    // 10.40.2.5 in vnet-lb; 10.40.2.77 is held by no NIC: reported, not guessed.
    let text = std::fs::read_to_string(shared("tf-lb-agw.state.json")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let base = "/subscriptions/4d4d4d4d-0000-4000-9000-00000000004d/resourceGroups/rg-lb/providers/Microsoft.Network";
    let pool = format!("{base}/loadBalancers/ilb-web/backendAddressPools/pool-web");
    let list = doc["values"]["root_module"]["resources"]
        .as_array_mut()
        .unwrap();
    list.retain(|r| {
        !(r["type"] == "azurerm_network_interface_backend_address_pool_association"
            && r["values"]["network_interface_id"]
                .as_str()
                .unwrap()
                .ends_with("nic-web2")
            && r["values"]["backend_address_pool_id"] == pool.as_str())
    });
    for (n, ip) in [("web2", "10.40.2.5"), ("ghost", "10.40.2.77")] {
        list.push(serde_json::json!({
            "address": format!("azurerm_lb_backend_address_pool_address.{n}"), "mode": "managed",
            "type": "azurerm_lb_backend_address_pool_address", "name": n,
            "values": { "name": n, "backend_address_pool_id": pool, "ip_address": ip,
                        "virtual_network_id": format!("{base}/virtualNetworks/vnet-lb") }
        }));
    }
    let f = state_file("pool-address", &[]);
    std::fs::write(&f, doc.to_string()).unwrap();
    let i = import(&[f], &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("tf.yaml", &i.yaml).unwrap().topology().clone();
    let ilb = t
        .load_balancers
        .iter()
        .find(|l| l.name.value == "ilb-web")
        .unwrap();
    let members: Vec<&str> = ilb.pools[0]
        .backends
        .iter()
        .map(|b| b.nic.value.as_str())
        .collect();
    assert_eq!(members, ["nic-web1", "nic-web2"]);
    let e = i.report.unsupported().next().expect("the ghost member");
    assert!(e.detail.contains("10.40.2.77"), "{}", e.detail);
}

/// A VNet with one subnet, as `azurerm_virtual_network` with an inline `subnet` block.
fn vnet_with_subnet(name: &str, space: &str, subnet: &str) -> String {
    let v = format!("{SUB}/virtualNetworks/{name}");
    tf(
        "azurerm_virtual_network",
        &format!(
            r#"{{"id": "{v}", "name": "{name}", "address_space": ["{space}"],
              "subnet": [{{"id": "{v}/subnets/s", "name": "s", "address_prefixes": ["{subnet}"]}}]}}"#
        ),
    )
}

#[test]
fn a_nic_keeps_the_mac_address_of_the_state() {
    // azurerm_network_interface exports `mac_address` (an attribute Azure computes): what flow
    // logs name the NIC by, kept as the az export's `macAddress` is.
    let nic = tf(
        "azurerm_network_interface",
        &format!(
            r#"{{"id": "{SUB}/networkInterfaces/nic-m", "name": "nic-m", "mac_address": "00-22-48-0A-46-04",
              "ip_configuration": [{{"name": "ipconfig1", "primary": true, "private_ip_address": "10.80.1.4",
                "subnet_id": "{SUB}/virtualNetworks/vnet-m/subnets/s"}}]}}"#
        ),
    );
    let r = [
        vnet_with_subnet("vnet-m", "10.80.0.0/16", "10.80.1.0/24"),
        nic,
    ];
    let i = import(&[state_file("mac", &r)], &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("tf.yaml", &i.yaml).unwrap().topology().clone();
    assert_eq!(
        t.nics[0].mac_address.as_ref().map(|m| m.value),
        Some(0x0022_480A_4604)
    );
}

#[test]
fn a_virtual_hub_connection_marks_its_vnet() {
    // azurerm_virtual_hub_connection attaches a VNet to a Virtual WAN hub: the hub's routes
    // reach it, and the topology says which VNet they reach.
    let r = [
        vnet_with_subnet("vnet-w", "10.81.0.0/16", "10.81.1.0/24"),
        tf(
            "azurerm_virtual_hub_connection",
            &format!(
                r#"{{"id": "{SUB}/virtualHubs/vhub/hubVirtualNetworkConnections/conn-w", "name": "conn-w",
                  "virtual_hub_id": "{SUB}/virtualHubs/vhub", "remote_virtual_network_id": "{SUB}/virtualNetworks/vnet-w"}}"#
            ),
        ),
    ];
    let i = import(&[state_file("vhub", &r)], &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("tf.yaml", &i.yaml).unwrap().topology().clone();
    let x = t
        .not_modelled
        .iter()
        .find(|x| x.id.ends_with("/conn-w"))
        .expect("listed");
    assert_eq!(x.vnet.as_ref().map(|v| v.value.as_str()), Some("vnet-w"));
}
