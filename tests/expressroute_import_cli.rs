//! ExpressRoute circuits through the import and the binary.
//!
//! Fixtures (hand-written): tests/fixtures/az-expressroute/ (the shapes `az network vnet list`,
//! `nic list`, `vnet-gateway list`, `express-route list` and `vpn-connection list` print: an
//! ExpressRoute gateway in vnet-hub connected to er-circuit, whose AzurePrivatePeering peers
//! with ASN 65100 and which also has a MicrosoftPeering; vnet-spoke peered to the hub with
//! useRemoteGateways), tests/fixtures/tf-expressroute.state.json (the same as `terraform show
//! -json` state), tests/fixtures/expressroute-unknown-routes.yaml (the same written by hand).
//!
//! What Azure documents (learn.microsoft.com/azure/expressroute/expressroute-routing): the
//! gateway learns on-premises prefixes over the private peering's BGP session and gives them to
//! its VNet and to VNets peered with useRemoteGateways. Those prefixes are in no export, so a walk
//! from either VNet that such a route could take has no verdict; within the hub and the spoke,
//! which are peered, system routes decide (R2.1).

mod common;
use common::*;

fn imported(src: &str, name: &str) -> String {
    let out = tmp("expressroute", name);
    let out_s = out.display().to_string();
    ok(&["import", &fixture(src), "-o", &out_s]);
    out_s
}

fn fabrics() -> Vec<String> {
    vec![
        imported("az-expressroute", "az.yaml"),
        imported("tf-expressroute.state.json", "tf.yaml"),
        fixture("expressroute-unknown-routes.yaml"),
    ]
}

#[test]
fn the_import_writes_the_circuit_its_asn_and_its_connection() {
    for src in ["az-expressroute", "tf-expressroute.state.json"] {
        let (code, yaml, err) = run(&["import", &fixture(src), "--report"]);
        assert_eq!(code, 0, "{err}");
        let circuit = yaml
            .split("expressRouteCircuits:")
            .nth(1)
            .and_then(|x| x.split("\nvnets:").next())
            .unwrap_or_else(|| panic!("{yaml}"));
        assert!(circuit.contains("- name: \"er-circuit\""), "{circuit}");
        assert!(circuit.contains("peerAsn: 65100"), "{circuit}");
        assert!(circuit.contains("advertisedPrefixes: []"), "{circuit}");
        assert!(
            yaml.contains("- expressRouteCircuit: \"er-circuit\""),
            "{yaml}"
        );
        // What the export cannot say is said, not guessed.
        assert!(
            err.contains("ExpressRoute circuit 'er-circuit': the prefixes on-premises advertises")
                && err.contains("az network express-route list-route-tables"),
            "{err}"
        );
        assert!(
            err.contains("connection of gateway ergw-hub to ExpressRoute circuit er-circuit"),
            "{err}"
        );
    }
    // Only the az export has the Microsoft peering: reported, not modelled.
    let (_, yaml, _) = run(&["import", &fixture("az-expressroute")]);
    assert!(yaml.contains("peerings/MicrosoftPeering\""), "{yaml}");
}

#[test]
fn a_walk_a_learned_route_could_take_ends_naming_the_peering() {
    for f in fabrics() {
        for (src, dst) in [
            ("nic-tools", "172.16.60.5"),
            ("nic-app", "172.16.60.5"),
            ("nic-tools", "8.8.8.8"),
        ] {
            let v = trace_json(&f, &["--src", src, "--dst", dst]);
            assert_eq!(v["outcome"], "not-modelled", "{f} {src} {dst}: {v}");
            assert_eq!(
                v["forward"]["rule"], "notModelled/AzurePrivatePeering",
                "{v}"
            );
        }
    }
}

#[test]
fn walks_between_the_peered_vnets_keep_their_verdict() {
    for f in fabrics() {
        let v = trace_json(&f, &["--src", "nic-app", "--dst", "10.0.2.4"]);
        assert_eq!(v["outcome"], "reachable", "{f}: {v}");
        assert_eq!(v["forward"]["deliveredTo"], "nic:nic-tools", "{v}");
    }
}

#[test]
fn routes_are_those_of_the_hand_written_topology() {
    let [az, tf, hand] = <[String; 3]>::try_from(fabrics()).unwrap();
    for nic in ["nic-app", "nic-tools"] {
        let want = ok(&["routes", &hand, "--nic", nic]);
        assert_eq!(ok(&["routes", &az, "--nic", nic]), want, "{nic}");
        assert_eq!(ok(&["routes", &tf, "--nic", nic]), want, "{nic}");
    }
}

#[test]
fn given_the_prefixes_the_circuit_carries_them() {
    // The import's topology once the learned prefixes are filled in and the marks removed.
    let yaml = std::fs::read_to_string(imported("az-expressroute", "filled.yaml")).unwrap();
    let yaml = yaml.replace(
        "advertisedPrefixes: []",
        "advertisedPrefixes: [\"172.16.60.0/24\"]",
    );
    let yaml = yaml.split("\nnotModelled:").next().unwrap().to_string() + "\n";
    let p = tmp("expressroute", "filled-edited.yaml");
    std::fs::write(&p, yaml).unwrap();
    let p = p.display().to_string();
    // The spoke uses the hub's gateway: the prefix reaches it as a gateway route.
    let v = trace_json(&p, &["--src", "nic-app", "--dst", "172.16.60.5"]);
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["deliveredTo"], "circuit:er-circuit", "{v}");
    // 8.8.8.8 is no prefix of the circuit: the system Internet route.
    let v = trace_json(&p, &["--src", "nic-tools", "--dst", "8.8.8.8"]);
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["deliveredTo"], "internet", "{v}");
}

#[test]
fn a_connection_to_a_circuit_outside_the_sources_is_a_located_error() {
    let dir = tmp("expressroute", "no-circuit");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "vnet.json",
        "nic.json",
        "vnet-gateway.json",
        "connection.json",
    ] {
        std::fs::copy(fixture(&format!("az-expressroute/{f}")), dir.join(f)).unwrap();
    }
    let (code, _, err) = run(&["import", &dir.display().to_string()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("connection.json:"), "{err}");
    assert!(
        err.contains("expressRouteCircuits/er-circuit' is not in the import sources")
            && err.contains("az network express-route list"),
        "{err}"
    );
}
