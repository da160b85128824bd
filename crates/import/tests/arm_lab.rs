//! The azure-labs hub-and-spoke templates (../shared/import-samples): a
//! subscription-scope template with linked templates, `reference()` to the
//! firewall's runtime address, `newGuid()` in a parameter default. Expected
//! values were read from the templates by hand (azuredeploy.json variables,
//! deploy-transit.json, deploy-shared.json, deploy-workload.json,
//! deploy-fw-policy.json, deploy-private-endpoint.json).

use std::path::PathBuf;

use vnetsim_import::{import, ImportOptions};
use vnetsim_model as m;

const LAB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/import-samples/azure-labs-hub-and-spoke"
);

fn root() -> PathBuf {
    let p = PathBuf::from(LAB).join("azuredeploy.json");
    assert!(p.is_file(), "the shared sample {} is missing", p.display());
    p
}

/// uniqueData defaults to substring(newGuid(), 0, 8); newGuid() is fixed to zeros.
const U: &str = "00000000";

fn sets() -> Vec<(String, String)> {
    vec![
        (format!("afw{U}.privateIPAddress"), "10.0.2.4".into()),
        (
            format!("plkvcnt{U}vault0000.privateIpAddress"),
            "10.1.2.20".into(),
        ),
        (
            format!("plkvapp{U}vault0000.privateIpAddress"),
            "10.2.2.4".into(),
        ),
    ]
}

fn lab(opts: ImportOptions) -> m::Topology {
    let i = import(&[root()], &opts).unwrap_or_else(|e| panic!("{e}"));
    m::load_str("lab.yaml", &i.yaml)
        .unwrap_or_else(|d| panic!("{:?}", d.items))
        .topology()
        .clone()
}

fn with_sets() -> m::Topology {
    lab(ImportOptions {
        sets: sets(),
        ..Default::default()
    })
}

fn net(s: &str) -> ipnet::Ipv4Net {
    s.parse().unwrap()
}

fn vnet<'a>(t: &'a m::Topology, n: &str) -> &'a m::Vnet {
    t.vnets
        .iter()
        .find(|v| v.name.value == n)
        .unwrap_or_else(|| panic!("vnet {n}"))
}

fn subnets(v: &m::Vnet) -> Vec<(String, String)> {
    let mut s: Vec<(String, String)> = v
        .subnets
        .iter()
        .map(|s| (s.name.value.clone(), s.address_prefix.value.to_string()))
        .collect();
    s.sort();
    s
}

#[test]
fn vnets_and_subnets_match_the_templates() {
    let t = with_sets();
    assert_eq!(t.vnets.len(), 3);
    let tr = vnet(&t, &format!("vnet-transit{U}"));
    assert_eq!(tr.address_space[0].value, net("10.0.0.0/16"));
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        subnets(tr),
        pairs(&[
            ("AzureBastionSubnet", "10.0.1.0/27"),
            ("AzureFirewallSubnet", "10.0.2.0/26"),
            ("GatewaySubnet", "10.0.0.0/27")
        ])
    );
    let sh = vnet(&t, &format!("vnet-shared{U}"));
    assert_eq!(sh.address_space[0].value, net("10.1.0.0/16"));
    assert_eq!(
        subnets(sh),
        pairs(&[
            ("snet-dev", "10.1.2.0/24"),
            ("snet-dnsin", "10.1.0.0/28"),
            ("snet-dnsout", "10.1.1.0/28"),
            ("snet-svc", "10.1.3.0/24")
        ])
    );
    let wl = vnet(&t, &format!("vnet-workload{U}"));
    assert_eq!(
        subnets(wl),
        pairs(&[
            ("snet-app", "10.2.0.0/24"),
            ("snet-data", "10.2.1.0/24"),
            ("snet-svc", "10.2.2.0/24")
        ])
    );
    // The templates write "privateEndpointNetworkPolicies": "Enabled" on every subnet.
    assert!(wl
        .subnets
        .iter()
        .all(|s| s.private_endpoint_network_policies == m::PeNetworkPolicies::Enabled));
    let o = tr.origin.as_ref().unwrap();
    assert_eq!(
        o.resource_group.as_deref(),
        Some(format!("rg-transit-{U}").as_str())
    );
    assert!(o.source.as_ref().unwrap().contains("deploy-transit.json:"));
}

#[test]
fn peerings_hub_and_spoke() {
    let t = with_sets();
    let (tr, sh, wl) = (
        format!("vnet-transit{U}"),
        format!("vnet-shared{U}"),
        format!("vnet-workload{U}"),
    );
    let p = |f: &str, to: &str| {
        t.peerings
            .iter()
            .find(|p| p.from.value == f && p.to.value == to)
            .unwrap_or_else(|| panic!("{f}->{to}"))
            .clone()
    };
    for spoke in [&sh, &wl] {
        let up = p(spoke, &tr);
        assert!(up.allow_forwarded_traffic && up.use_remote_gateways && !up.allow_gateway_transit);
        let down = p(&tr, spoke);
        assert!(
            down.allow_forwarded_traffic && down.allow_gateway_transit && !down.use_remote_gateways
        );
    }
    assert_eq!(t.peerings.len(), 4);
}

#[test]
fn route_tables_point_at_the_supplied_firewall_address() {
    let t = with_sets();
    let rt = |n: &str| {
        t.route_tables
            .iter()
            .find(|r| r.name.value == n)
            .unwrap_or_else(|| panic!("{n}"))
            .clone()
    };
    let vng = rt("rt-vng");
    assert!(!vng.disable_bgp_route_propagation); // "False" as a string
    let mut routes: Vec<(String, String, String)> = vng
        .routes
        .iter()
        .map(|r| {
            (
                r.name.value.clone(),
                format!("{:?}", r.address_prefix.value),
                r.next_hop_ip_address.as_ref().unwrap().value.to_string(),
            )
        })
        .collect();
    routes.sort();
    assert_eq!(
        routes[0],
        (
            "udr-shared".into(),
            format!("{:?}", m::RoutePrefix::Prefix(net("10.1.0.0/16"))),
            "10.0.2.4".into()
        )
    );
    assert_eq!(
        routes[1],
        (
            "udr-workload".into(),
            format!("{:?}", m::RoutePrefix::Prefix(net("10.2.0.0/16"))),
            "10.0.2.4".into()
        )
    );
    for n in ["rt-dev", "rt-dns", "rt-app", "rt-data"] {
        let r = rt(n);
        assert!(r.disable_bgp_route_propagation, "{n}"); // "True" as a string
        assert_eq!(r.routes.len(), 1);
        assert_eq!(r.routes[0].name.value, "udr-default");
        assert_eq!(
            r.routes[0].address_prefix.value,
            m::RoutePrefix::Prefix(net("0.0.0.0/0"))
        );
        assert_eq!(
            r.routes[0]
                .next_hop_ip_address
                .as_ref()
                .unwrap()
                .value
                .to_string(),
            "10.0.2.4"
        );
    }
    let sh = vnet(&t, &format!("vnet-shared{U}"));
    let dev = sh
        .subnets
        .iter()
        .find(|s| s.name.value == "snet-dev")
        .unwrap();
    assert_eq!(dev.route_table.as_ref().unwrap().value, "rt-dev");
}

#[test]
fn nsg_rules_of_the_dns_inbound_subnet() {
    let t = with_sets();
    let n = t
        .nsgs
        .iter()
        .find(|n| n.name.value == format!("nsg-dnsin{U}"))
        .unwrap();
    let tcp = n
        .rules
        .iter()
        .find(|r| r.name.value == "AllowTcpDns")
        .unwrap();
    assert_eq!(tcp.priority.value, 1000);
    assert_eq!(tcp.protocol, m::NsgProtocol::Tcp);
    // sourceAddressPrefixes: [onPremisesAddressSpace, cloudRegionAddressSpace].
    let src: Vec<String> = tcp
        .source
        .iter()
        .map(|s| format!("{:?}", s.value))
        .collect();
    assert_eq!(
        src,
        [
            format!("{:?}", m::AddressSpec::Prefix(net("192.168.0.0/16"))),
            format!("{:?}", m::AddressSpec::Prefix(net("10.0.0.0/13")))
        ]
    );
    assert_eq!(tcp.destination_ports, vec![m::PortRange { lo: 53, hi: 53 }]);
    let udp = n
        .rules
        .iter()
        .find(|r| r.name.value == "AllowUdpDns")
        .unwrap();
    assert_eq!(
        (udp.priority.value, udp.protocol),
        (1001, m::NsgProtocol::Udp)
    );
}

#[test]
fn firewall_policy_rules_in_processing_order() {
    let t = with_sets();
    let f = &t.firewalls[0];
    assert_eq!(f.name.value, format!("afw{U}"));
    assert_eq!(f.private_ip_address.value.to_string(), "10.0.2.4");
    let names: Vec<&str> = f
        .network_rule_collections
        .iter()
        .map(|c| c.name.value.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "AllowWindowsVmRequired",
            "AllowUbuntuVmRequired",
            "AllowOnPremisesRemote",
            "AllowDns",
            "AllowDevVmWorkload"
        ]
    );
    let prios: Vec<u32> = f
        .network_rule_collections
        .iter()
        .map(|c| c.priority.value)
        .collect();
    assert!(prios.windows(2).all(|w| w[0] < w[1]));
    let remote = &f.network_rule_collections[2].rules[0];
    assert_eq!(remote.name.value, "AllowOnPremRemoteAccess");
    assert_eq!(remote.protocols, vec![m::FwProtocol::Tcp]);
    assert_eq!(
        remote.source,
        vec![m::FwAddress::Prefix(net("192.168.0.0/16"))]
    );
    assert_eq!(
        remote.destination,
        vec![m::FwAddress::Prefix(net("10.0.0.0/13"))]
    );
    assert_eq!(
        remote.destination_ports,
        vec![
            m::PortRange { lo: 22, hi: 22 },
            m::PortRange { lo: 3389, hi: 3389 }
        ]
    );
    // AllowKMSActivation and AllowNtp use destinationFqdns: reported unsupported, not imported.
    assert!(f.network_rule_collections[0].rules.is_empty());
    let apps: Vec<&str> = f
        .application_rule_collections
        .iter()
        .map(|c| c.name.value.as_str())
        .collect();
    assert_eq!(
        apps,
        [
            "AllowAzureToInternetTraffic",
            "AllowInfraAzureTraffic",
            "AllowOnPremToAzure"
        ]
    );
}

#[test]
fn private_endpoints_with_supplied_addresses() {
    let t = with_sets();
    let pe = |n: &str| {
        t.private_endpoints
            .iter()
            .find(|p| p.name.value == n)
            .unwrap_or_else(|| panic!("{n}"))
            .clone()
    };
    let c = pe(&format!("plkvcnt{U}vault0000"));
    assert_eq!(c.subnet.value, format!("vnet-shared{U}/snet-dev"));
    assert_eq!(c.service.value, format!("kvcnt{U}"));
    let a = pe(&format!("plkvapp{U}vault0000"));
    assert_eq!(a.subnet.value, format!("vnet-workload{U}/snet-svc"));
    assert_eq!(a.private_ip_address.value.to_string(), "10.2.2.4");
}

#[test]
fn without_values_the_refusal_lists_exactly_the_deploy_time_expressions() {
    let e =
        import(&[root()], &ImportOptions::default()).expect_err("deploy-time values are refused");
    let got: Vec<String> = e
        .diagnostics
        .iter()
        .map(|d| {
            format!(
                "{}:{}:{}",
                d.file.rsplit('/').next().unwrap(),
                d.line,
                d.col
            )
        })
        .collect();
    // deploy-transit.json: the two rt-vng routes and the firewallIp output read
    // reference(firewall).ipConfigurations[0].properties.privateIPAddress (lines 762, 776, 872);
    // the firewall resource itself (line 523); the two Private Endpoints (deploy-private-endpoint.json line 97).
    assert_eq!(
        got,
        [
            "deploy-transit.json:762:39",
            "deploy-transit.json:776:39",
            "deploy-transit.json:872:24",
            "deploy-transit.json:523:9",
            "deploy-private-endpoint.json:97:9",
            "deploy-private-endpoint.json:97:9",
        ]
    );
    let first = e.diagnostics[0].to_string();
    assert!(first.contains("reference(variables('azureFirewallName')).ipConfigurations[0].properties.privateIPAddress"), "{first}");
    assert!(
        first.contains(&format!("--set afw{U}.privateIPAddress=VALUE")),
        "{first}"
    );
}

#[test]
fn the_firewall_assumption_gives_the_fourth_address() {
    let t = lab(ImportOptions {
        assume_firewall_ip: true,
        sets: sets().into_iter().skip(1).collect(),
        ..Default::default()
    });
    // AzureFirewallSubnet is 10.0.2.0/26: the first usable address is 10.0.2.4.
    assert_eq!(
        t.firewalls[0].private_ip_address.value.to_string(),
        "10.0.2.4"
    );
    let vng = t
        .route_tables
        .iter()
        .find(|r| r.name.value == "rt-vng")
        .unwrap();
    assert!(vng
        .routes
        .iter()
        .all(|r| r.next_hop_ip_address.as_ref().unwrap().value.to_string() == "10.0.2.4"));
}

#[test]
fn scope_flags_set_subscription_and_location() {
    let i = import(
        &[root()],
        &ImportOptions {
            sets: sets(),
            subscription_id: Some("11111111-2222-3333-4444-555555555555".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let t = m::load_str("lab.yaml", &i.yaml).unwrap().topology().clone();
    // transitSubscriptionId defaults to subscription().subscriptionId.
    assert_eq!(
        t.vnets[0].origin.as_ref().unwrap().subscription.as_deref(),
        Some("11111111-2222-3333-4444-555555555555")
    );
    assert!(i
        .report
        .entries
        .iter()
        .any(|e| e.type_name == "Microsoft.Compute/virtualMachines"
            && e.status == vnetsim_import::Status::Skipped));
    assert!(i
        .report
        .entries
        .iter()
        .any(|e| e.type_name == "Microsoft.Network/bastionHosts"
            && e.status == vnetsim_import::Status::Unsupported));
}

/// The state of the Private Endpoint's /32 in a transit subnet, on the compiled fabric.
fn pe_route_state(yaml: &str, subnet: &str, pe: &str) -> vnetsim_fabric::routes::RouteState {
    let v = m::load_str("lab.yaml", yaml).unwrap_or_else(|d| panic!("{:?}", d.items));
    let f = vnetsim_fabric::compile(&v);
    let s = f.find_subnet(subnet).unwrap_or_else(|| panic!("{subnet}"));
    let want: ipnet::Ipv4Net = format!("{pe}/32").parse().unwrap();
    vnetsim_fabric::watcher::effective_routes(&f, s)
        .iter()
        .find(|r| r.prefix == want)
        .unwrap_or_else(|| panic!("no {want} in {subnet}"))
        .state
}

#[test]
fn private_endpoint_route_in_the_transit_subnets() {
    use vnetsim_fabric::routes::RouteState;
    let i = import(
        &[root()],
        &ImportOptions {
            sets: sets(),
            ..Default::default()
        },
    )
    .unwrap();
    let gw = format!("vnet-transit{U}/GatewaySubnet");
    let fw = format!("vnet-transit{U}/AzureFirewallSubnet");
    // The template enables privateEndpointNetworkPolicies on snet-dev; rt-vng on
    // GatewaySubnet routes 10.1.0.0/16 (vnet-shared's own range) to the firewall: by
    // R4.3 the endpoint's 10.1.2.20/32 is Invalid there, and Active where no such route is.
    assert_eq!(
        pe_route_state(&i.yaml, &gw, "10.1.2.20"),
        RouteState::Invalid
    );
    assert_eq!(
        pe_route_state(&i.yaml, &fw, "10.1.2.20"),
        RouteState::Active
    );
    // With the policies disabled on the endpoint's subnet the /32 is Active in GatewaySubnet too.
    let disabled = disable_policies(&i.yaml, "snet-dev");
    assert_eq!(
        pe_route_state(&disabled, &gw, "10.1.2.20"),
        RouteState::Active
    );
}

/// The YAML with privateEndpointNetworkPolicies removed (Disabled) on one subnet.
fn disable_policies(yaml: &str, subnet: &str) -> String {
    let mut out = Vec::new();
    let mut in_subnet = false;
    for l in yaml.lines() {
        if l.trim_start().starts_with("- name: ") {
            in_subnet = l.contains(&format!("\"{subnet}\""));
        }
        if in_subnet && l.contains("privateEndpointNetworkPolicies") {
            continue;
        }
        out.push(l);
    }
    out.join("\n")
}

/// AllowVnetInBound's expanded source on the subnet NSG of a NIC, on the compiled fabric.
fn vnet_tag(yaml: &str, nic: &str) -> Vec<String> {
    let v = m::load_str("lab.yaml", yaml).unwrap_or_else(|d| panic!("{:?}", d.items));
    let f = vnetsim_fabric::compile(&v);
    let n = f.find_nic(nic).unwrap_or_else(|| panic!("{nic}"));
    let tables = vnetsim_fabric::watcher::effective_rules(&f, n);
    let (_, _, t) = tables.first().expect("the subnet NSG");
    let r = t
        .inbound
        .rules
        .iter()
        .find(|r| r.name == "AllowVnetInBound")
        .expect("default rule");
    let mut s: Vec<String> = r.expanded_source.iter().map(|p| p.to_string()).collect();
    s.sort();
    s
}

#[test]
fn virtual_network_tag_of_the_dev_subnet() {
    let i = import(
        &[root()],
        &ImportOptions {
            sets: sets(),
            ..Default::default()
        },
    )
    .unwrap();
    let nic = format!("vmldev01{U}");
    // snet-dev carries rt-dev (0.0.0.0/0 to the firewall): the tag widens to everything.
    assert_eq!(vnet_tag(&i.yaml, &nic), ["0.0.0.0/0"]);
    // Without the route table: vnet-shared 10.1.0.0/16, its peer vnet-transit 10.0.0.0/16
    // (the gateway has no connections, so no on-premises prefixes) and 168.63.129.16;
    // the two /16s are adjacent and come back merged as 10.0.0.0/15.
    let no_udr: String = i
        .yaml
        .lines()
        .filter(|l| l.trim() != "routeTable: \"rt-dev\"")
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(vnet_tag(&no_udr, &nic), ["10.0.0.0/15", "168.63.129.16/32"]);
}

#[test]
fn the_lab_folder_imports_like_its_root_template() {
    // In a folder, templates in subfolders are linked templates, not roots.
    let opts = ImportOptions {
        sets: sets(),
        ..Default::default()
    };
    let from_root = import(&[root()], &opts).unwrap();
    let from_dir = import(&[PathBuf::from(LAB)], &opts).unwrap();
    assert_eq!(from_root.yaml, from_dir.yaml);
}
