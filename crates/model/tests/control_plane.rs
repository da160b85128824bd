//! Configurations Azure refuses before it accepts a fabric: one test per refusal, with its
//! location and the rule it names. Expected behaviour from Microsoft's documentation (cited
//! per test); the expected line and column are found in the test's own input.

use vnetsim_model::{load_str, Diagnostic, Severity};

fn pos(text: &str, needle: &str) -> (u32, u32) {
    for (i, l) in text.lines().enumerate() {
        if let Some(c) = l.find(needle) {
            return (i as u32 + 1, c as u32 + 1);
        }
    }
    panic!("no {needle}");
}

fn diagnostics(text: &str, severity: Severity) -> Vec<Diagnostic> {
    let items = match load_str("t.yaml", text) {
        Ok(v) => v.warnings.items,
        Err(d) => d.items,
    };
    items
        .into_iter()
        .filter(|x| x.severity == severity)
        .collect()
}

/// Asserts a diagnostic of `severity` containing every part of `msg`, located at `needle`.
fn expect(text: &str, severity: Severity, msg: &[&str], needle: &str) {
    let all = diagnostics(text, severity);
    let hit = all
        .iter()
        .find(|e| msg.iter().all(|m| e.message.contains(m)));
    let Some(e) = hit else {
        panic!("no {severity:?} containing {msg:?}; got {all:#?}")
    };
    assert_eq!((e.loc.line, e.loc.col), pos(text, needle), "{}", e.message);
}

fn valid(text: &str) {
    if let Err(d) = load_str("t.yaml", text) {
        panic!("expected valid, got:\n{d}");
    }
}

/// A hub with a gateway subnet and a firewall subnet, a spoke, a BGP site; `{peer}` and
/// `{gw}` are replaced per test.
fn fabric(hub_to_spoke: &str, spoke_to_hub: &str, gateways: &str) -> String {
    format!(
        r#"version: 1
sites:
  - name: home
    addressPrefixes: [192.168.0.0/16]
    bgp: {{ asn: 65010 }}
vnets:
  - name: hub
    addressSpace: [10.0.0.0/16]
    subnets:
      - {{ name: GatewaySubnet, addressPrefix: 10.0.0.0/27 }}
      - {{ name: AzureFirewallSubnet, addressPrefix: 10.0.1.0/26 }}
  - name: spoke
    addressSpace: [10.1.0.0/16]
    subnets:
      - {{ name: app, addressPrefix: 10.1.1.0/24 }}
peerings:
  - {{ from: hub, to: spoke{hub_to_spoke} }}
  - {{ from: spoke, to: hub{spoke_to_hub} }}
{gateways}"#
    )
}

const GATEWAY: &str =
    "gateways:\n  - { name: gw, vnet: hub, bgp: { asn: 65515 }, connections: [{ site: home }] }\n";

#[test]
fn transit_with_both_flags_and_a_gateway_is_accepted() {
    // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-peering-gateway-transit: hub
    // allowGatewayTransit, spoke useRemoteGateways, gateway in the hub.
    valid(&fabric(
        ", allowGatewayTransit: true",
        ", useRemoteGateways: true",
        GATEWAY,
    ));
}

#[test]
fn use_remote_gateways_toward_a_vnet_without_a_gateway() {
    // learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering: "Use the remote
    // virtual network's gateway" requires a gateway in the remote virtual network.
    let t = fabric(
        ", allowGatewayTransit: true",
        ", useRemoteGateways: true",
        "",
    );
    expect(
        &t,
        Severity::Error,
        &[
            "peering spoke -> hub",
            "has no virtual network gateway",
            "rule: useRemoteGateways needs a gateway",
        ],
        "{ from: spoke",
    );
}

#[test]
fn use_remote_gateways_toward_a_peer_without_allow_gateway_transit() {
    // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-peering-gateway-transit: the hub's
    // peering must allow gateway transit for the spoke to use remote gateways.
    let t = fabric("", ", useRemoteGateways: true", GATEWAY);
    expect(
        &t,
        Severity::Error,
        &[
            "peering spoke -> hub",
            "does not set allowGatewayTransit",
            "rule: useRemoteGateways needs allowGatewayTransit",
        ],
        "{ from: spoke",
    );
}

#[test]
fn use_remote_gateways_on_both_sides() {
    // learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering: a VNet that
    // uses remote gateways cannot be the one offering them; only one side can use the other's.
    let gws = "gateways:\n  - { name: gw, vnet: hub }\n  - { name: gw2, vnet: spoke }\n";
    let t = r#"version: 1
vnets:
  - name: hub
    addressSpace: [10.0.0.0/16]
    subnets: [{ name: GatewaySubnet, addressPrefix: 10.0.0.0/27 }]
  - name: spoke
    addressSpace: [10.1.0.0/16]
    subnets: [{ name: GatewaySubnet, addressPrefix: 10.1.0.0/27 }]
peerings:
  - { from: hub, to: spoke, allowGatewayTransit: true, useRemoteGateways: true }
  - { from: spoke, to: hub, allowGatewayTransit: true, useRemoteGateways: true }
"#
    .to_string()
        + gws;
    expect(
        &t,
        Severity::Error,
        &[
            "peering hub -> spoke",
            "both set useRemoteGateways",
            "rule: only one side",
        ],
        "{ from: hub",
    );
}

#[test]
fn site_asns_reserved_by_azure_are_refused() {
    // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp: ASNs reserved by Azure
    // (8074, 8075, 12076, 65515, 65517, 65518, 65519, 65520) and by IANA (23456,
    // 64496-64511, 65535-65551, 4294967295) cannot be used by on-premises devices.
    for asn in [
        8074u64, 8075, 12076, 65515, 65517, 65518, 65519, 65520, 23456, 64496, 64511, 65535, 65551,
        4294967295,
    ] {
        let t = fabric(
            ", allowGatewayTransit: true",
            ", useRemoteGateways: true",
            GATEWAY,
        )
        .replace("asn: 65010", &format!("asn: {asn}"));
        expect(
            &t,
            Severity::Error,
            &[
                &format!("site 'home' uses BGP ASN {asn}"),
                "rule: on-premises devices cannot use reserved ASNs",
            ],
            &format!("{asn} }}"),
        );
    }
    // 65516 is not in either list: a private ASN a site may use.
    valid(
        &fabric(
            ", allowGatewayTransit: true",
            ", useRemoteGateways: true",
            GATEWAY,
        )
        .replace("asn: 65010", "asn: 65516"),
    );
}

#[test]
fn the_gateway_may_use_its_own_default_asn() {
    // Same FAQ: 65515 is the Azure VPN gateway's default ASN (the lab's gateway uses it).
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../traces/hub-spoke-lab.yaml"),
    )
    .unwrap();
    valid(&text);
}

#[test]
fn equal_asns_on_both_ends_of_a_bgp_connection() {
    // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp: "Can I use the same ASN
    // for both on-premises VPN networks and Azure virtual networks? No."
    let t = fabric(
        ", allowGatewayTransit: true",
        ", useRemoteGateways: true",
        "gateways:\n  - { name: gw, vnet: hub, bgp: { asn: 65010 }, connections: [{ site: home }] }\n",
    );
    expect(
        &t,
        Severity::Error,
        &[
            "gateway 'gw' to site 'home' has ASN 65010 on both ends",
            "rule: the two ends of a BGP connection need different ASNs",
        ],
        "home }]",
    );
}

#[test]
fn firewall_subnet_smaller_than_26() {
    // learn.microsoft.com/azure/firewall/firewall-faq: Azure Firewall needs a /26
    // AzureFirewallSubnet.
    let t = fabric("", "", "").replace("10.0.1.0/26", "10.0.1.0/27");
    expect(
        &t,
        Severity::Error,
        &[
            "AzureFirewallSubnet of vnet 'hub' is 10.0.1.0/27",
            "rule: Azure Firewall needs an AzureFirewallSubnet of /26 or larger",
        ],
        "10.0.1.0/27",
    );
}

#[test]
fn gateway_subnet_of_28_or_29_is_a_warning_and_30_an_error() {
    // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings#gwsub:
    // "while you can create a gateway subnet as small as /29, we recommend ... /27 or larger".
    for len in [28, 29] {
        let p = format!("10.0.0.0/{len}");
        let t = fabric("", "", GATEWAY).replace("10.0.0.0/27", &p);
        expect(
            &t,
            Severity::Warning,
            &[
                &format!("GatewaySubnet of vnet 'hub' is {p}"),
                "recommends /27",
            ],
            &p,
        );
        valid(&t);
    }
    let t = fabric("", "", GATEWAY).replace("10.0.0.0/27", "10.0.0.0/30");
    expect(
        &t,
        Severity::Error,
        &["smallest subnet, /29"],
        "10.0.0.0/30",
    );
}

#[test]
fn coexisting_expressroute_and_vpn_gateways_need_a_27() {
    // learn.microsoft.com/azure/expressroute/expressroute-howto-coexist-resource-manager: the
    // gateway subnet must be /27 or a shorter prefix for the two gateways to coexist.
    let gws = "gateways:\n  - { name: gw, vnet: hub, type: Vpn }\n  - { name: er, vnet: hub, type: ExpressRoute }\n";
    let t = fabric("", "", gws).replace("10.0.0.0/27", "10.0.0.0/28");
    expect(
        &t,
        Severity::Error,
        &[
            "GatewaySubnet of vnet 'hub' is 10.0.0.0/28",
            "rule: coexisting gateways need a GatewaySubnet of /27 or larger",
        ],
        "10.0.0.0/28",
    );
    valid(&fabric("", "", gws));
}

fn with_nat(subnet_extra: &str, nat: &str) -> String {
    fabric("", "", "")
        .replace(
            "{ name: app, addressPrefix: 10.1.1.0/24 }",
            &format!("{{ name: app, addressPrefix: 10.1.1.0/24{subnet_extra} }}"),
        )
        .replace("peerings:", &format!("{nat}peerings:"))
}

#[test]
fn nat_gateway_references_and_placement() {
    // learn.microsoft.com/azure/nat-gateway/nat-gateway-resource: a NAT gateway needs a public
    // IP address or prefix, cannot span virtual networks, and is not for the gateway subnet.
    let ok = "natGateways: [{ name: ng, publicIpAddresses: [40.0.0.10] }]\n";
    valid(&with_nat(", natGateway: ng", ok));
    let t = with_nat(", natGateway: nope", ok);
    expect(&t, Severity::Error, &["unknown NAT gateway 'nope'"], "nope");
    let t = with_nat(", natGateway: ng", "natGateways: [{ name: ng }]\n");
    expect(
        &t,
        Severity::Error,
        &["rule: a NAT gateway needs at least one public IP address or prefix"],
        "ng }]",
    );
    let t = with_nat(", natGateway: ng", ok).replace(
        "{ name: GatewaySubnet, addressPrefix: 10.0.0.0/27 }",
        "{ name: GatewaySubnet, addressPrefix: 10.0.0.0/27, natGateway: ng }",
    );
    expect(
        &t,
        Severity::Error,
        &["rule: NAT gateway cannot be associated with the gateway subnet"],
        "ng }",
    );
    let t = with_nat(", natGateway: ng", ok).replace(
        "{ name: AzureFirewallSubnet, addressPrefix: 10.0.1.0/26 }",
        "{ name: AzureFirewallSubnet, addressPrefix: 10.0.1.0/26, natGateway: ng }",
    );
    // Reported at the spoke's reference, the second VNet to name the gateway.
    let all = diagnostics(&t, Severity::Error);
    let e = all
        .iter()
        .find(|e| {
            e.message
                .contains("rule: a NAT gateway cannot span virtual networks")
        })
        .unwrap_or_else(|| panic!("{all:#?}"));
    assert!(e
        .message
        .contains("NAT gateway 'ng' already serves vnet 'hub'"));
    let line = t.lines().position(|l| l.contains("name: app")).unwrap();
    let col = t.lines().nth(line).unwrap().find("ng }").unwrap();
    assert_eq!((e.loc.line, e.loc.col), (line as u32 + 1, col as u32 + 1));
}

#[test]
fn instance_addresses_fit_the_gateway_mode_and_subnet() {
    // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp: one BGP peer IP from
    // GatewaySubnet for active-standby, two for active-active.
    let gw = |extra: &str| {
        fabric(
            "",
            "",
            &format!("gateways:\n  - {{ name: gw, vnet: hub{extra} }}\n"),
        )
    };
    valid(&gw(
        ", activeActive: true, instanceAddresses: [10.0.0.4, 10.0.0.5]",
    ));
    valid(&gw(", instanceAddresses: [10.0.0.4]"));
    let t = gw(", instanceAddresses: [10.0.0.4, 10.0.0.5]");
    expect(
        &t,
        Severity::Error,
        &["rule: one instance address for active-standby, two for active-active"],
        "10.0.0.4,",
    );
    let t = gw(", instanceAddresses: [10.0.1.4]");
    expect(
        &t,
        Severity::Error,
        &["rule: gateway instances take addresses of GatewaySubnet"],
        "10.0.1.4]",
    );
}

#[test]
fn expressroute_connections_fit_the_gateway_type() {
    // learn.microsoft.com/azure/expressroute/expressroute-about-virtual-network-gateways: a
    // circuit connects to an ExpressRoute gateway; learn.microsoft.com/azure/expressroute/expressroute-routing:
    // the private peering's ASN may not be one Azure reserves.
    let circuit = "expressRouteCircuits:\n  - { name: c1, privatePeering: { peerAsn: 65100, advertisedPrefixes: [10.200.0.0/16] } }\n";
    let gws = |ty: &str| {
        format!("{circuit}gateways:\n  - {{ name: gw, vnet: hub, type: {ty}, connections: [{{ expressRouteCircuit: c1 }}] }}\n")
    };
    valid(&fabric("", "", &gws("ExpressRoute")));
    expect(
        &fabric("", "", &gws("Vpn")),
        Severity::Error,
        &["rule: circuits connect to ExpressRoute gateways"],
        "c1 }]",
    );
    let t = fabric("", "", &gws("ExpressRoute")).replace("peerAsn: 65100", "peerAsn: 12076");
    expect(
        &t,
        Severity::Error,
        &[
            "circuit 'c1' peers with ASN 12076",
            "rule: on-premises devices cannot use reserved ASNs",
        ],
        "12076",
    );
}
