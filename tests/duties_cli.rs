//! Separation of duties through the binary: `audit duties` (the influence map) and
//! `diff --guard` (changes that alter a protected property need its owner's approval as well
//! as the changed resources' owners, as Azure Backup's Resource Guard does for vaults:
//! https://learn.microsoft.com/en-us/azure/backup/multi-user-authorization-concept).
//!
//! Expected values come from the fabric semantics (R4.3, R5.2, R5.5, R5.7), worked out by hand
//! on the fixtures in the comments.

mod common;

use std::path::PathBuf;

use common::{ok, root, run, tmp};
use serde_json::Value;

fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A fixture with placeholders replaced, written to this binary's scratch folder.
fn variant(name: &str, out: &str, subs: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(root().join("tests/fixtures").join(name)).unwrap();
    for (k, v) in subs {
        text = text.replace(k, v);
    }
    let p = tmp("duties", out);
    std::fs::write(&p, text).unwrap();
    p
}

fn lab() -> String {
    root()
        .join("traces/hub-spoke-lab.yaml")
        .to_string_lossy()
        .into_owned()
}

fn audit(topo: &str, owners: Option<&str>) -> Value {
    let mut args = vec!["audit", "duties", topo, "--json"];
    if let Some(o) = owners {
        args.extend(["--owners", o]);
    }
    serde_json::from_str(&ok(&args)).unwrap()
}

fn influences(v: &Value) -> &Vec<Value> {
    v["influences"].as_array().unwrap()
}

/// The tag-widening influence on the NSG association `affected`.
fn widening<'a>(v: &'a Value, affected: &str) -> &'a Value {
    influences(v)
        .iter()
        .find(|i| {
            i["kind"] == "tag-widening"
                && i["affected"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a == affected)
        })
        .unwrap_or_else(|| panic!("no tag widening on {affected}: {v:#}"))
}

/// The ports on which `rule` now admits `source`, as `tcp/80`, ...
fn opened(i: &Value, rule: &str, source: &str) -> Option<Vec<String>> {
    i["opened"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["rule"] == rule && o["source"] == source)
        .map(|o| {
            o["ports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect()
        })
}

#[test]
fn on_the_lab_the_network_teams_default_route_widens_the_security_teams_nsgs() {
    // rt-spoke (network team) holds 0.0.0.0/0 and sits on snet-app, whose NSG nsg-app is the
    // security team's. Its prefix joins nsg-app's VirtualNetwork tag (R5.5, "VirtualNetwork":
    // https://learn.microsoft.com/en-us/azure/virtual-network/service-tags-overview), so the
    // default AllowVnetInBound (65000, R5.2:
    // https://learn.microsoft.com/en-us/azure/virtual-network/network-security-groups-overview)
    // admits every address. nsg-app has no explicit deny-all: the seed scenario.
    let v = audit(&lab(), Some(&fixture("duties/owners-lab.yaml")));
    let b: Vec<&str> = v["boundaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(b, ["app-team", "network-team", "security-team"]);
    let cell = v["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["from"] == "network-team" && c["to"] == "security-team")
        .expect("network -> security cell");
    assert!(cell["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k == "tag-widening"));

    let app = widening(&v, "nsg:nsg-app on subnet:vnet-workload/snet-app");
    assert_eq!(app["from"], "network-team");
    assert_eq!(app["to"], "security-team");
    assert_eq!(app["seed"], true);
    assert!(app["causes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "route rt-spoke/default-via-firewall 0.0.0.0/0"));
    // Without the route, nsg-app's tag is vnet-workload 10.1/16, the peered hub 10.0/16, the
    // on-premises prefixes learned through gateway transit (192.168.0.0/16, 172.16.50.0/24)
    // and 168.63.129.16. The shared spoke 10.2/16 is not peered with the workload: it is new.
    // On 22 deny-ssh-from-shared (300, Deny, 10.2.0.0/16) decides first, so the default rule
    // opens every probed port but 22 to it.
    let shared = opened(app, "nsg-app/AllowVnetInBound", "vnet:vnet-shared").expect("shared");
    for p in ["tcp/80", "tcp/443", "tcp/445", "tcp/1433", "tcp/3389"] {
        assert!(shared.contains(&p.to_string()), "{p} in {shared:?}");
    }
    assert!(!shared.contains(&"tcp/22".to_string()), "{shared:?}");
    // The Internet: open by the rules (IP flow verify says Allow), not by the data plane for
    // traffic arriving at a public IP (R5.7).
    let inet = app["opened"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["rule"] == "nsg-app/AllowVnetInBound" && o["source"] == "internet")
        .expect("internet");
    assert_eq!(inet["rulesOnly"], true);
    // On-premises was in the tag already: nothing new opens to it.
    assert!(opened(app, "nsg-app/AllowVnetInBound", "site:home").is_none());
    let m = app["mitigations"].as_array().unwrap();
    assert!(m
        .iter()
        .any(|x| x.as_str().unwrap().contains("priority 4096")));
    assert!(m.iter().any(|x| x
        .as_str()
        .unwrap()
        .contains("instead of the VirtualNetwork tag")));

    // The VM's own NSG (nsg-vm-app, on vm-app-nic in snet-app) is widened the same way; there
    // allow-web (100, any source, 443 and 3389) decides 443 and 3389 first, and nothing denies
    // 22: the default rule opens 22 to the shared spoke but not 443 or 3389.
    let vm = widening(&v, "nsg:nsg-vm-app on nic:vm-app-nic");
    let s = opened(vm, "nsg-vm-app/AllowVnetInBound", "vnet:vnet-shared").expect("shared");
    assert!(s.contains(&"tcp/22".to_string()), "{s:?}");
    assert!(!s.contains(&"tcp/443".to_string()) && !s.contains(&"tcp/3389".to_string()));

    // The shared spoke's NSG: the workload VM's 443 to the shared VM crosses the firewall
    // (workload-to-shared allows it, no SNAT toward a private address, R6.3) and arrives with
    // source 10.1.1.4, which only the widened tag admits: reachable today, dropped by
    // DenyAllInBound without the route.
    let sh = widening(&v, "nsg:nsg-shared on subnet:vnet-shared/snet-shared");
    let f = sh["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["from"] == "nic:vm-app-nic" && f["dstPort"] == 443)
        .expect("the workload-to-shared flow");
    assert_eq!(f["without"], "unreachable");
    assert_eq!(f["today"], "reachable");

    // Ranked: a seed influence comes first.
    let first = &influences(&v)[0];
    assert_eq!(first["kind"], "tag-widening");
    assert_eq!(first["seed"], true);

    // The text output names the pair and the rules.
    let text = ok(&[
        "audit",
        "duties",
        &lab(),
        "--owners",
        &fixture("duties/owners-lab.yaml"),
    ]);
    assert!(
        text.contains("tag-widening network-team -> security-team"),
        "{text}"
    );
    assert!(
        text.contains("opens nsg-app/AllowVnetInBound to vnet:vnet-shared"),
        "{text}"
    );
}

#[test]
fn an_explicit_deny_all_at_4096_leaves_the_widening_nothing_to_open() {
    // The first mitigation: with Deny * at 4096, every flow the user rules do not allow stops
    // there, before AllowVnetInBound (65000) is reached.
    let text = std::fs::read_to_string(lab()).unwrap().replace(
        "          source: 10.2.0.0/16, sourcePorts: '*', destination: '*', destinationPorts: '22' }\n",
        "          source: 10.2.0.0/16, sourcePorts: '*', destination: '*', destinationPorts: '22' }\n      - { name: deny-all, priority: 4096, direction: Inbound, access: Deny, protocol: '*',\n          source: '*', destination: '*', destinationPorts: '*' }\n",
    );
    assert!(text.contains("deny-all"));
    let p = tmp("duties", "lab-deny-all.yaml");
    std::fs::write(&p, text).unwrap();
    let v = audit(
        p.to_str().unwrap(),
        Some(&fixture("duties/owners-lab.yaml")),
    );
    let app = widening(&v, "nsg:nsg-app on subnet:vnet-workload/snet-app");
    assert_eq!(app["seed"], false);
    assert!(app["opened"].as_array().unwrap().is_empty(), "{app:#}");
    assert_eq!(app["exposure"], 0);
    // nsg-vm-app has no such rule: still the seed scenario.
    assert_eq!(
        widening(&v, "nsg:nsg-vm-app on nic:vm-app-nic")["seed"],
        true
    );
}

const DEFAULT_ROUTE: &str =
    "[{ name: d, addressPrefix: 0.0.0.0/0, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }]";

fn guarded_diff(old: &str, new: &str, guard: &str, owners: &str, approved: &str) -> (i32, String) {
    let mut args = vec![
        "diff", old, new, "--ports", "tcp/22", "--guard", guard, "--owners", owners,
    ];
    if !approved.is_empty() {
        args.extend(["--approved-by", approved]);
    }
    let (c, out, err) = run(&args);
    assert!(c == 0 || c == 1, "{err}");
    (c, out)
}

#[test]
fn adding_the_default_route_needs_the_security_teams_approval_too() {
    // Vector 23 (R5.5): spoke S reaches A's VM on 22 through the hub firewall. With A's route
    // table empty, 10.32.1.4 is outside nsg-a's VirtualNetwork tag (10.31/16, the hub 10.0/16,
    // 168.63.129.16): DenyAllInBound, the guard holds. Adding 0.0.0.0/0 to rt-a (the network
    // team's) puts every address in the tag: AllowVnetInBound admits it, the guard fails. The
    // cause is rt-a (network team); the guard is the security team's: both must approve.
    let old = variant("spokes-tag.yaml", "spokes-old.yaml", &[("ROUTES", "[]")]);
    let new = variant(
        "spokes-tag.yaml",
        "spokes-new.yaml",
        &[("ROUTES", DEFAULT_ROUTE)],
    );
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let (g, w) = (
        fixture("duties/guards-spokes.yaml"),
        fixture("duties/owners-lab.yaml"),
    );
    let (c, out) = guarded_diff(o, n, &g, &w, "network-team");
    assert_eq!(c, 1, "{out}");
    assert!(
        out.contains("ALTERED    spoke S does not reach spoke A's VM on SSH"),
        "{out}"
    );
    assert!(
        out.contains("caused by routeTable:rt-a (modified, owner network-team"),
        "{out}"
    );
    assert!(
        out.contains("NOT APPROVED: missing approval of security-team"),
        "{out}"
    );

    let (c, out) = guarded_diff(o, n, &g, &w, "network-team,security-team");
    assert_eq!(c, 0, "{out}");
    assert!(
        out.contains("approved: every required owner approved (network-team, security-team)"),
        "{out}"
    );

    // The same in JSON: the required set, what is missing, the causing resource.
    let (c, out, _) = run(&[
        "diff",
        o,
        n,
        "--ports",
        "tcp/22",
        "--guard",
        &g,
        "--owners",
        &w,
        "--approved-by",
        "network-team",
        "--json",
    ]);
    assert_eq!(c, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let gs = &v["guards"];
    assert_eq!(
        gs["required"],
        serde_json::json!(["network-team", "security-team"])
    );
    assert_eq!(gs["missing"], serde_json::json!(["security-team"]));
    assert_eq!(gs["guards"][0]["causes"][0]["resource"], "routeTable:rt-a");
}

#[test]
fn an_unrelated_change_needs_no_guard_approval() {
    // A route for 10.99.0.0/16 to None on S's table changes rt-s but no path between S and A
    // (10.31.1.4 still matches the 0.0.0.0/0 route): the guard keeps its result.
    let old = variant("spokes-tag.yaml", "spokes-old2.yaml", &[("ROUTES", "[]")]);
    let text = std::fs::read_to_string(&old).unwrap().replace(
        "nextHopIpAddress: 10.0.1.4 }] }\n  - { name: rt-a",
        "nextHopIpAddress: 10.0.1.4 }, { name: blackhole, addressPrefix: 10.99.0.0/16, nextHopType: None }] }\n  - { name: rt-a",
    );
    assert!(text.contains("blackhole"));
    let new = tmp("duties", "spokes-unrelated.yaml");
    std::fs::write(&new, text).unwrap();
    let (c, out) = guarded_diff(
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        &fixture("duties/guards-spokes.yaml"),
        &fixture("duties/owners-lab.yaml"),
        "",
    );
    assert_eq!(c, 0, "{out}");
    assert!(out.contains("1 resources changed"), "{out}");
    assert!(
        out.contains("no guarded property changed: no approval needed"),
        "{out}"
    );
}

#[test]
fn a_private_endpoint_policy_flip_that_skips_the_firewall_names_the_subnets_owner() {
    // R4.3 (https://learn.microsoft.com/en-us/azure/private-link/disable-private-endpoint-network-policy):
    // with RouteTableEnabled on A/pe, B's user route 10.1.0.0/16 (as long as A's /16) makes
    // the endpoint's /32 Invalid in B/work, so vm-b -> pe1 goes through fw: the guard holds.
    // Disabled: the /32 is Active again and wins by longest prefix (R4.2): the firewall is
    // skipped. The change is the subnet's (VNet A: the data team's); the guard is the security
    // team's.
    let old = variant(
        "pe-peering.yaml",
        "pe-old.yaml",
        &[("POLICIES", "RouteTableEnabled")],
    );
    let new = variant(
        "pe-peering.yaml",
        "pe-new.yaml",
        &[("POLICIES", "Disabled")],
    );
    let (c, out) = guarded_diff(
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        &fixture("duties/guards-pe.yaml"),
        &fixture("duties/owners-pe.yaml"),
        "security-team",
    );
    assert_eq!(c, 1, "{out}");
    assert!(
        out.contains("caused by subnet:A/pe (modified, owner data-team"),
        "{out}"
    );
    assert!(
        out.contains("NOT APPROVED: missing approval of data-team"),
        "{out}"
    );
}

#[test]
fn after_import_owners_are_the_subscriptions_and_resource_groups() {
    // tests/fixtures/duties/az-two-subscriptions: rt-spoke is in rg-spoke of subscription
    // 7b7b7b7b-... (route-table.json) and sends 0.0.0.0/0 to 10.0.1.4, afw-hub's private
    // address; afw-hub is in rg-hub of subscription 8f3e2a1c-... (firewall.json). So the spoke
    // subscription's route table redirects traffic through the hub subscription's firewall.
    let v = audit(&fixture("duties/az-two-subscriptions"), None);
    let spoke = "7b7b7b7b-0000-4000-9000-000000000003/rg-spoke";
    let hub = "8f3e2a1c-0000-4000-9000-000000000001/rg-hub";
    let b = v["boundaries"].as_array().unwrap();
    assert!(
        b.iter().any(|x| x == spoke) && b.iter().any(|x| x == hub),
        "{b:?}"
    );
    let r = influences(&v)
        .iter()
        .find(|i| i["kind"] == "route-redirection" && i["from"] == spoke && i["to"] == hub)
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(r["causes"], serde_json::json!(["routeTable:rt-spoke"]));
    assert_eq!(r["affected"], serde_json::json!(["firewall:afw-hub"]));
    // The spoke's own peering to the hub (workload-to-hub, in rg-spoke, vnet.json) uses the
    // hub's gateways: a spoke-subscription setting that decides what reaches the hub's VNet.
    assert!(influences(&v).iter().any(|i| i["kind"] == "peering-flags"
        && i["from"] == spoke
        && i["to"] == hub
        && i["causes"]
            == serde_json::json!(["peering:vnet-workload->vnet-hub useRemoteGateways"])));
}

#[test]
fn bad_owner_and_guard_files_are_located_errors() {
    let bad = tmp("duties", "bad-owners.yaml");
    std::fs::write(&bad, "owners:\n  - { kind: routeTabel, owner: net }\n").unwrap();
    let (c, _, err) = run(&["audit", "duties", &lab(), "--owners", bad.to_str().unwrap()]);
    assert_eq!(c, 2);
    assert!(err.contains("bad-owners.yaml:2:"), "{err}");
    assert!(err.contains("unknown resource kind 'routeTabel'"), "{err}");

    let g = tmp("duties", "no-owner-guard.yaml");
    std::fs::write(
        &g,
        "guards:\n  - name: x\n    from: nic:vm-s\n    to: nic:vm-a\n    expect: { outcome: unreachable }\n",
    )
    .unwrap();
    let t = variant("spokes-tag.yaml", "spokes-g.yaml", &[("ROUTES", "[]")]);
    let ts = t.to_str().unwrap();
    let (c, _, err) = run(&["diff", ts, ts, "--guard", g.to_str().unwrap()]);
    assert_eq!(c, 2);
    assert!(err.contains("no-owner-guard.yaml:2:"), "{err}");
    assert!(err.contains("'owner'"), "{err}");

    // A misspelt node is an error, never a guard that silently holds on both sides.
    std::fs::write(
        &g,
        "guards:\n  - name: x\n    owner: sec\n    from: nic:vm-s\n    to: nic:vm-aa\n    expect: { outcome: unreachable }\n",
    )
    .unwrap();
    let (c, _, err) = run(&["diff", ts, ts, "--guard", g.to_str().unwrap()]);
    assert_eq!(c, 2);
    assert!(err.contains("vm-aa"), "{err}");
}

#[test]
fn a_nic_joining_another_teams_asg_is_an_influence_with_the_flow_it_opens() {
    // R5.8: asg:app-servers stands for its members' addresses. nsg-db (security team) allows
    // 1433 from asg:app-servers at 100 and denies everything at 4096, so vm-x (application
    // team) reaches vm-db on 1433 only as a member: without the membership DenyAll at 4096.
    let topo = "version: 1
vnets:
  - name: v
    addressSpace: [10.0.0.0/16]
    subnets:
      - { name: db, addressPrefix: 10.0.1.0/24, nsg: nsg-db }
      - { name: app, addressPrefix: 10.0.2.0/24 }
applicationSecurityGroups: [app-servers]
nsgs:
  - name: nsg-db
    rules:
      - { name: sql-from-app, priority: 100, direction: Inbound, access: Allow, protocol: Tcp,
          source: asg:app-servers, destination: '*', destinationPorts: '1433' }
      - { name: deny-all, priority: 4096, direction: Inbound, access: Deny, protocol: '*',
          source: '*', destination: '*', destinationPorts: '*' }
nics:
  - { name: vm-db, subnet: v/db, privateIpAddress: 10.0.1.4 }
  - { name: vm-x, subnet: v/app, privateIpAddress: 10.0.2.4, applicationSecurityGroups: [app-servers] }
";
    let p = tmp("duties", "asg.yaml");
    std::fs::write(&p, topo).unwrap();
    let (c, out, err) = run(&[
        "audit",
        "duties",
        p.to_str().unwrap(),
        "--owners",
        &fixture("duties/owners-lab.yaml"),
        "--ports",
        "tcp/1433",
        "--json",
    ]);
    assert_eq!(c, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let i = influences(&v)
        .iter()
        .find(|i| i["kind"] == "asg-membership")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(i["from"], "app-team");
    assert_eq!(i["to"], "security-team");
    assert_eq!(
        i["causes"],
        serde_json::json!(["nic:vm-x in asg:app-servers"])
    );
    let f = i["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["from"] == "nic:vm-x" && f["to"] == "nic:vm-db")
        .expect("vm-x -> vm-db");
    assert_eq!(f["without"], "unreachable");
    assert_eq!(f["today"], "reachable");
}

/// Outbound widening. The `Internet` tag is the public address space outside the VNet
/// (https://learn.microsoft.com/en-us/azure/virtual-network/service-tags-overview), so a
/// private range that is neither in `VirtualNetwork` nor public meets DenyAllOutBound (65500):
/// on the plain lab, nsg-app's tag without rt-spoke's prefixes holds vnet-workload, the peered
/// hub and the on-premises prefixes, not the shared spoke 10.2.0.0/16 (not peered with the
/// workload spoke). R5.5: rt-spoke's 0.0.0.0/0 on snet-app joins the tag, so
/// AllowVnetOutBound (65000) now lets the VM out toward the shared spoke, and its 443 to the
/// shared VM (through the firewall, whose workload-to-shared rule allows it) is reachable only
/// because of it. With an outbound lock-down in nsg-app (allow VirtualNetwork at 100, deny
/// Internet at 200), the same widening lets the allow at 100 decide for public destinations
/// too, ahead of the deny.
#[test]
fn the_default_route_widens_the_outbound_rules_too() {
    let on_app = |v: &Value| -> Value {
        influences(v)
            .iter()
            .find(|i| {
                i["affected"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a == "nsg:nsg-app outbound on subnet:vnet-workload/snet-app")
            })
            .unwrap_or_else(|| panic!("an outbound widening on nsg-app: {v:#}"))
            .clone()
    };
    let toward = |i: &Value, rule: &str, dest: &str| -> Vec<String> {
        i["opened"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["rule"] == rule && o["destination"] == dest)
            .unwrap_or_else(|| panic!("{rule} toward {dest}: {i:#}"))["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    let plain = audit(&lab(), Some(&fixture("duties/owners-lab.yaml")));
    let out = on_app(&plain);
    assert_eq!(out["kind"], "tag-widening");
    assert_eq!(out["from"], "network-team");
    assert_eq!(out["to"], "security-team");
    let ports = toward(&out, "nsg-app/AllowVnetOutBound", "vnet:vnet-shared");
    for port in ["tcp/22", "tcp/443", "tcp/3389"] {
        assert!(ports.contains(&port.to_string()), "{port}: {ports:?}");
    }
    let f = out["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["to"] == "nic:vm-shared-nic" && f["dstPort"] == 443)
        .unwrap_or_else(|| panic!("the VM's 443 to the shared VM: {out:#}"));
    assert_eq!(f["without"], "unreachable");
    assert_eq!(f["today"], "reachable");
    assert!(out["opened"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["direction"] == "Outbound" && o["rulesOnly"] == false));

    let text = std::fs::read_to_string(lab()).unwrap();
    let locked = text.replace(
        "  - name: nsg-app\n    rules:\n",
        "  - name: nsg-app\n    rules:\n      - { name: allow-vnet-out, priority: 100, direction: Outbound, access: Allow, protocol: '*',\n          source: '*', destination: VirtualNetwork, destinationPorts: '*' }\n      - { name: deny-internet-out, priority: 200, direction: Outbound, access: Deny, protocol: '*',\n          source: '*', destination: Internet, destinationPorts: '*' }\n",
    );
    assert_ne!(text, locked);
    let p = tmp("duties", "lab-outbound-lockdown.yaml");
    std::fs::write(&p, locked).unwrap();
    let v = audit(
        p.to_str().unwrap(),
        Some(&fixture("duties/owners-lab.yaml")),
    );
    let out = on_app(&v);
    let ports = toward(&out, "nsg-app/allow-vnet-out", "internet");
    for port in ["tcp/22", "tcp/443", "tcp/3389"] {
        assert!(
            ports.contains(&port.to_string()),
            "{port} toward the Internet: {ports:?}"
        );
    }
}

/// Every header, not a sample: the regions today against the counterfactual. For nsg-shared's
/// widening (rt-spoke's 0.0.0.0/0 joins its VirtualNetwork tag, R5.5), what only the widening
/// lets in is the workload VM (10.1.1.4) to the shared VM through the firewall on what the
/// firewall allows from 10.1.0.0/16 to 10.2.0.0/16: workload-to-shared (TCP and UDP 22, 53,
/// 443) less no-ssh-to-shared (TCP 22, the deny collection at 100, R6.x): TCP 53 and 443, UDP
/// 22, 53 and 443. Nothing else changes for any source, protocol or port.
#[test]
fn each_influence_lists_every_header_it_changes() {
    let v = audit(&lab(), Some(&fixture("duties/owners-lab.yaml")));
    let shared = widening(&v, "nsg:nsg-shared on subnet:vnet-shared/snet-shared");
    let r = &shared["regions"];
    assert!(r["notEvaluated"].is_null(), "{r}");
    assert!(r["classes"].as_u64().unwrap() > 0);
    let changes = r["changes"].as_array().unwrap();
    let got: std::collections::BTreeSet<(String, String, String, String, String)> = changes
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_string();
            (s("change"), s("from"), s("src"), s("to"), s("protocols"))
        })
        .collect();
    let want: std::collections::BTreeSet<(String, String, String, String, String)> =
        ["tcp/53,443", "udp/22,53,443"]
            .iter()
            .map(|p| {
                (
                    "gained".to_string(),
                    "nic:vm-app-nic".to_string(),
                    "10.1.1.4".to_string(),
                    "subnet:vnet-shared/snet-shared".to_string(),
                    p.to_string(),
                )
            })
            .collect();
    assert_eq!(got, want, "{changes:#?}");
    // The only address of snet-shared that holds a NIC (vm-shared-nic): packets to the
    // subnet's other addresses reach no VM, with or without the route.
    assert!(
        changes.iter().all(|c| c["dst"] == "10.2.1.4"),
        "{changes:#?}"
    );
}

/// The NSG part of the endpoint policies (R4.4). On the lab, snet-pe (the application team's,
/// through its VNet) says RouteTableEnabled, so nsg-pe (the security team's) does not apply
/// to traffic into pe-app: the subnet's owner voids the security team's rules there. With a
/// deny in nsg-pe that would matter (TCP 443 from the workload spoke 10.1.0.0/16, which
/// reaches the endpoint directly within its VNet, no firewall), the workload VM's 443 to the
/// endpoint is reachable today only because the rule is void.
#[test]
fn the_endpoint_subnets_owner_decides_whether_its_nsg_applies() {
    let on_pe = |v: &Value| -> Value {
        influences(v)
            .iter()
            .find(|i| {
                i["kind"] == "private-endpoint-policy"
                    && i["affected"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|a| a == "nsg:nsg-pe on pe:pe-app")
            })
            .unwrap_or_else(|| panic!("an NSG-policy influence on pe-app: {v:#}"))
            .clone()
    };
    let v = audit(&lab(), Some(&fixture("duties/owners-lab.yaml")));
    let i = on_pe(&v);
    assert_eq!(i["from"], "app-team");
    assert_eq!(i["to"], "security-team");
    assert_eq!(i["causes"][0], "subnet:vnet-workload/snet-pe");
    let d = i["detail"].as_str().unwrap();
    assert!(d.contains("RouteTableEnabled") && d.contains("void"), "{d}");

    let text = std::fs::read_to_string(lab()).unwrap();
    let changed = text.replace(
        "source: 10.2.0.0/16, destination: '*', destinationPorts: '443' }",
        "source: 10.1.0.0/16, destination: '*', destinationPorts: '443' }",
    );
    assert_ne!(text, changed);
    let p = tmp("duties", "lab-pe-deny-workload.yaml");
    std::fs::write(&p, changed).unwrap();
    let v = audit(
        p.to_str().unwrap(),
        Some(&fixture("duties/owners-lab.yaml")),
    );
    let i = on_pe(&v);
    let f = i["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["from"] == "nic:vm-app-nic" && f["dstPort"] == 443)
        .unwrap_or_else(|| panic!("the workload VM's 443: {i:#}"));
    assert_eq!(f["today"], "reachable");
    assert_eq!(f["without"], "unreachable");
    let gained: Vec<&Value> = i["regions"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "gained")
        .collect();
    assert!(
        gained.iter().any(|c| c["from"] == "nic:vm-app-nic"
            && c["protocols"] == "tcp/443"
            && c["dst"] == "10.1.2.5"),
        "{gained:#?}"
    );
    assert!(
        gained.iter().all(|c| c["protocols"] == "tcp/443"),
        "only 443 is denied: {gained:#?}"
    );
}
