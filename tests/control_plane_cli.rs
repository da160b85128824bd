//! Configurations Azure refuses, through the real binary: `vnetsim validate` reports every
//! refusal of one file at once, each at FILE:LINE:COL with the rule it breaks, and exits 2.
//! The expected refusals come from Microsoft's documentation (cited per case); the expected
//! positions are found in the fixture's own text.

use std::path::PathBuf;
use std::process::Command;

const FIXTURE: &str = "tests/fixtures/control-plane-refusals.yaml";

fn text() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).unwrap()
}

/// "LINE:COL" of `needle` on the first line containing `line_has`.
fn at(text: &str, line_has: &str, needle: &str) -> String {
    let (i, l) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(line_has))
        .unwrap_or_else(|| panic!("no line with {line_has}"));
    let c = l
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle} in {l}"));
    format!("{}:{}", i + 1, c + 1)
}

#[test]
fn every_refusal_is_located_and_names_its_rule() {
    let out = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["validate", FIXTURE])
        .output()
        .expect("run vnetsim");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    let t = text();
    let cases = [
        // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp: 65515 is reserved by
        // Azure; on-premises devices cannot use it.
        (
            at(&t, "asn: 65515", "65515"),
            "error",
            "rule: on-premises devices cannot use reserved ASNs",
        ),
        // learn.microsoft.com/azure/firewall/firewall-faq: AzureFirewallSubnet is /26.
        (
            at(&t, "AzureFirewallSubnet", "10.0.1.0/27"),
            "error",
            "rule: Azure Firewall needs an AzureFirewallSubnet of /26 or larger",
        ),
        // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings#gwsub:
        // /29 is accepted, /27 recommended.
        (
            at(&t, "GatewaySubnet", "10.0.0.0/28"),
            "warning",
            "Azure accepts /29 but recommends /27 or larger",
        ),
        // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-peering-gateway-transit: the hub
        // side must allow gateway transit.
        (
            at(&t, "from: spoke2, to: hub", "{"),
            "error",
            "rule: useRemoteGateways needs allowGatewayTransit on the remote side",
        ),
        // learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering: the remote
        // virtual network must have a gateway.
        (
            at(&t, "from: lonely", "{"),
            "error",
            "rule: useRemoteGateways needs a gateway in the remote virtual network",
        ),
        // learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp: on-premises and Azure
        // need different ASNs.
        (
            at(&t, "site: dc", "dc"),
            "error",
            "rule: the two ends of a BGP connection need different ASNs",
        ),
    ];
    for (pos, severity, rule) in cases {
        let want = format!("{FIXTURE}:{pos}: {severity}: ");
        assert!(
            err.lines()
                .any(|l| l.starts_with(&want) && l.contains(rule)),
            "missing {want}... {rule}\n{err}"
        );
    }
    assert_eq!(
        err.lines().filter(|l| l.contains(": error: ")).count(),
        5,
        "{err}"
    );
}

#[test]
fn the_lab_still_validates() {
    // The lab's gateway uses 65515, Azure's own gateway ASN: allowed on the gateway.
    let out = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["validate", "traces/hub-spoke-lab.yaml"])
        .output()
        .expect("run vnetsim");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
