//! Effective routes and next hop through the real binary: the routing example
//! of fabric-semantics R3, row for row, and the Private Endpoint /32 (R4).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn vnetsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(args)
        .output()
        .expect("run vnetsim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> Value {
    let (code, out, err) = vnetsim(args);
    assert_eq!(code, 0, "vnetsim {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from {args:?}: {e}\n{out}"))
}

/// (source, state, prefix, next hop type, next hop ip)
type Row = (String, String, String, String, String);

fn rows(v: &Value) -> Vec<Row> {
    let mut r: Vec<Row> = v["value"]
        .as_array()
        .expect("value array")
        .iter()
        .map(|x| {
            (
                x["source"].as_str().unwrap().to_string(),
                x["state"].as_str().unwrap().to_string(),
                x["addressPrefix"][0].as_str().unwrap().to_string(),
                x["nextHopType"].as_str().unwrap().to_string(),
                x["nextHopIpAddress"]
                    .as_array()
                    .unwrap()
                    .first()
                    .and_then(|a| a.as_str())
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    r.sort();
    r
}

fn row(src: &str, state: &str, prefix: &str, nh: &str, ip: &str) -> Row {
    (
        src.into(),
        state.into(),
        prefix.into(),
        nh.into(),
        ip.into(),
    )
}

#[test]
fn r3_routing_example_subnet1_route_for_route() {
    let t = fixture("routing-example.yaml");
    let got = rows(&json(&[
        "routes",
        t.to_str().unwrap(),
        "--subnet",
        "VNet1/Subnet1",
        "--json",
    ]));
    // The table of R3, rows 1..11. The gateway route (row 8) is labelled
    // VirtualNetworkGateway, as effective-route outputs do (R3 accepts either).
    let mut want = vec![
        row("Default", "Invalid", "10.0.0.0/16", "VnetLocal", ""),
        row(
            "User",
            "Active",
            "10.0.0.0/16",
            "VirtualAppliance",
            "10.0.100.4",
        ),
        row("User", "Active", "10.0.0.0/24", "VnetLocal", ""),
        row("Default", "Invalid", "10.1.0.0/16", "VNetPeering", ""),
        row("Default", "Invalid", "10.2.0.0/16", "VNetPeering", ""),
        row("User", "Active", "10.1.0.0/16", "None", ""),
        row("User", "Active", "10.2.0.0/16", "None", ""),
        row(
            "VirtualNetworkGateway",
            "Invalid",
            "10.10.0.0/16",
            "VirtualNetworkGateway",
            "",
        ),
        row(
            "User",
            "Active",
            "10.10.0.0/16",
            "VirtualAppliance",
            "10.0.100.4",
        ),
        row("Default", "Invalid", "0.0.0.0/0", "Internet", ""),
        row(
            "User",
            "Active",
            "0.0.0.0/0",
            "VirtualAppliance",
            "10.0.100.4",
        ),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn r3_routing_example_subnet2_all_active() {
    let t = fixture("routing-example.yaml");
    let got = rows(&json(&[
        "routes",
        t.to_str().unwrap(),
        "--subnet",
        "VNet1/Subnet2",
        "--json",
    ]));
    let mut want = vec![
        row("Default", "Active", "10.0.0.0/16", "VnetLocal", ""),
        row("Default", "Active", "10.1.0.0/16", "VNetPeering", ""),
        row("Default", "Active", "10.2.0.0/16", "VNetPeering", ""),
        row(
            "VirtualNetworkGateway",
            "Active",
            "10.10.0.0/16",
            "VirtualNetworkGateway",
            "",
        ),
        row("Default", "Active", "0.0.0.0/0", "Internet", ""),
        // VNet space does not contain 10.0.0.0/8, so its None route stays (R3 note).
        row("Default", "Active", "10.0.0.0/8", "None", ""),
        row("Default", "Active", "172.16.0.0/12", "None", ""),
        row("Default", "Active", "192.168.0.0/16", "None", ""),
        row("Default", "Active", "100.64.0.0/10", "None", ""),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn r3_routes_by_nic_equal_routes_by_subnet() {
    let t = fixture("routing-example.yaml");
    let t = t.to_str().unwrap();
    assert_eq!(
        rows(&json(&["routes", t, "--nic", "s1a", "--json"])),
        rows(&json(&["routes", t, "--subnet", "VNet1/Subnet1", "--json"]))
    );
}

#[test]
fn next_hop_names_the_route_table_or_system_route() {
    let t = fixture("routing-example.yaml");
    let t = t.to_str().unwrap();
    // TV-12: Subnet1 to Subnet2 goes to the appliance by RT1.
    let v = json(&["next-hop", t, "--nic", "s1a", "--dst", "10.0.1.4", "--json"]);
    assert_eq!(v["nextHopType"], "VirtualAppliance");
    assert_eq!(v["nextHopIpAddress"], "10.0.100.4");
    assert_eq!(v["routeTableId"], "RT1");
    // Within Subnet1 the /24 VnetLocal user route wins by longest prefix (TV-01).
    let v = json(&["next-hop", t, "--nic", "s1a", "--dst", "10.0.0.5", "--json"]);
    assert_eq!(v["nextHopType"], "VnetLocal");
    // Subnet2 toward on-premises: the gateway route, a system route.
    let v = json(&["next-hop", t, "--nic", "s2", "--dst", "10.10.1.1", "--json"]);
    assert_eq!(v["nextHopType"], "VirtualNetworkGateway");
    assert_eq!(v["routeTableId"], "System Route");
    // Subnet2 toward an unknown private address: None (TV-10).
    let v = json(&[
        "next-hop",
        t,
        "--nic",
        "s2",
        "--dst",
        "192.168.5.5",
        "--json",
    ]);
    assert_eq!(v["nextHopType"], "None");
    assert_eq!(v["routeTableId"], "System Route");
}

#[test]
fn routes_text_table_shows_states() {
    let t = fixture("routing-example.yaml");
    let (code, out, _) = vnetsim(&["routes", t.to_str().unwrap(), "--subnet", "VNet1/Subnet1"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Source") && out.contains("Next Hop Type"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.contains("10.1.0.0/16") && l.contains("VNetPeering"))
        .expect("peering row");
    assert!(line.contains("Invalid"), "{line}");
}

fn pe_topology(policies: &str) -> PathBuf {
    let text = std::fs::read_to_string(fixture("pe-peering.yaml"))
        .unwrap()
        .replace("POLICIES", policies);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-routes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("pe-{policies}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn pe_row(v: &Value) -> Option<(String, String)> {
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["addressPrefix"][0] == "10.1.1.10/32")
        .map(|r| {
            (
                r["state"].as_str().unwrap().to_string(),
                r["nextHopType"].as_str().unwrap().to_string(),
            )
        })
}

#[test]
fn private_endpoint_route_active_with_policies_off() {
    // R4.1/R4.2: in the peered VNet the /32 is Active and beats the /16 user route.
    let t = pe_topology("Disabled");
    let v = json(&[
        "routes",
        t.to_str().unwrap(),
        "--subnet",
        "B/work",
        "--json",
    ]);
    assert_eq!(
        pe_row(&v),
        Some(("Active".into(), "InterfaceEndpoint".into()))
    );
    let nh = json(&[
        "next-hop",
        t.to_str().unwrap(),
        "--nic",
        "vm-b",
        "--dst",
        "10.1.1.10",
        "--json",
    ]);
    assert_eq!(nh["nextHopType"], "InterfaceEndpoint");
    assert_eq!(nh["routeTableId"], "System Route");
    // The trace goes straight to the endpoint, no firewall hop (vector 13).
    let tr = json(&[
        "trace",
        t.to_str().unwrap(),
        "--src",
        "10.2.1.4",
        "--dst",
        "10.1.1.10",
        "--json",
    ]);
    assert_eq!(tr["forward"]["deliveredTo"], "pe:pe1");
    let nodes: Vec<&str> = tr["forward"]["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["node"].as_str().unwrap())
        .collect();
    assert!(!nodes.contains(&"firewall:fw"), "{nodes:?}");
}

#[test]
fn private_endpoint_route_invalid_with_route_table_policies() {
    // R4.3: RouteTableEnabled or Enabled on the endpoint's subnet; B's /16 user route
    // is at least as long as A's /16 space, so the /32 is Invalid and the firewall is used.
    for policies in ["RouteTableEnabled", "Enabled"] {
        let t = pe_topology(policies);
        let v = json(&[
            "routes",
            t.to_str().unwrap(),
            "--subnet",
            "B/work",
            "--json",
        ]);
        assert_eq!(
            pe_row(&v),
            Some(("Invalid".into(), "InterfaceEndpoint".into())),
            "{policies}"
        );
        let nh = json(&[
            "next-hop",
            t.to_str().unwrap(),
            "--nic",
            "vm-b",
            "--dst",
            "10.1.1.10",
            "--json",
        ]);
        assert_eq!(nh["nextHopType"], "VirtualAppliance", "{policies}");
        assert_eq!(nh["nextHopIpAddress"], "10.2.0.4");
        let tr = json(&[
            "trace",
            t.to_str().unwrap(),
            "--src",
            "10.2.1.4",
            "--dst",
            "10.1.1.10",
            "--json",
        ]);
        let nodes: Vec<&str> = tr["forward"]["hops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["node"].as_str().unwrap())
            .collect();
        assert!(nodes.contains(&"firewall:fw"), "{policies}: {nodes:?}");
        assert_eq!(tr["forward"]["deliveredTo"], "pe:pe1");
    }
}

#[test]
fn private_endpoint_route_absent_beyond_direct_peering() {
    // R4.1: C is peered with B only, so it gets no /32 for A's endpoint.
    for policies in ["Disabled", "Enabled"] {
        let t = pe_topology(policies);
        let v = json(&[
            "routes",
            t.to_str().unwrap(),
            "--subnet",
            "C/work",
            "--json",
        ]);
        assert_eq!(pe_row(&v), None, "{policies}");
        // And A's own subnet has it, Active (no user route there).
        let v = json(&["routes", t.to_str().unwrap(), "--subnet", "A/pe", "--json"]);
        assert_eq!(
            pe_row(&v),
            Some(("Active".into(), "InterfaceEndpoint".into()))
        );
    }
}

#[test]
fn an_unknown_subnet_lists_a_dozen_of_the_defined_ones_and_how_many_there_are() {
    let dir = std::env::temp_dir().join(format!("vnetsim-routes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let topo = dir.join("many.yaml").display().to_string();
    // A hub (its GatewaySubnet, AzureFirewallSubnet and shared) and 40 spokes of 5: 203 subnets.
    let (code, _, err) = vnetsim(&[
        "generate",
        "--vnets",
        "41",
        "--subnets-per-vnet",
        "5",
        "-o",
        &topo,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = vnetsim(&["routes", &topo, "--subnet", "nowhere/none"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    let line = err.lines().next().unwrap();
    assert!(
        line.starts_with("error: unknown subnet 'nowhere/none'"),
        "{err}"
    );
    // Twelve names and the count, whatever the fabric's size.
    let listed = line.split("defined: ").nth(1).unwrap();
    assert_eq!(listed.matches(", ").count(), 12, "{line}");
    let all = line.rsplit('(').next().unwrap();
    let n: usize = all.trim_end_matches(" in all))").parse().unwrap();
    assert_eq!(n, 203, "{line}");
    assert!(line.len() < 600, "{}", line.len());
}
