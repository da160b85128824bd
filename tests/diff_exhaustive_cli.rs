//! `diff --exhaustive`: two fabrics compared on every header (reach regions of both, the
//! header space whose reachability differs), not on sweep probes.

mod common;

use common::{root, run, tmp};
use serde_json::Value;

fn lab() -> String {
    root()
        .join("traces/hub-spoke-lab.yaml")
        .display()
        .to_string()
}

/// The lab with nsg-vm-app (on vm-app-nic) given a deny of TCP 22 from the hub's tools subnet
/// 10.0.2.0/24 at priority 101. allow-web (100) covers only 443 and 3389, so the deny decides
/// for port 22 (R5.1, lowest number first), and the only source the fabric holds in
/// 10.0.2.0/24 is vm-tools-nic (10.0.2.4), whose SSH to the VM crosses no firewall (the hub
/// VM reaches the spoke directly: the peering's 10.1.0.0/16 route is longer than rt-hub's
/// 0.0.0.0/0, R2.x). Exactly those headers change: every source port of 10.0.2.4 to 10.1.1.4 TCP
/// 22, reachable only in the old fabric. Nothing else changes for any source or port.
#[test]
fn one_deny_changes_exactly_the_headers_it_matches() {
    let text = std::fs::read_to_string(lab()).unwrap();
    let changed = text.replace(
        "  - name: nsg-vm-app\n    rules:\n",
        "  - name: nsg-vm-app\n    rules:\n      - { name: deny-ssh-hub, priority: 101, direction: Inbound, access: Deny, protocol: Tcp,\n          source: 10.0.2.0/24, destination: '*', destinationPorts: '22' }\n",
    );
    assert_ne!(text, changed);
    let p = tmp("diffx", "lab-deny-ssh.yaml");
    std::fs::write(&p, changed).unwrap();
    let (code, out, err) = run(&[
        "diff",
        &lab(),
        p.to_str().unwrap(),
        "--exhaustive",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v["changed"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let r = &rows[0];
    assert_eq!(r["reachableOnlyIn"], "old");
    assert_eq!(r["from"], "nic:vm-tools-nic");
    assert_eq!(r["src"], "10.0.2.4");
    assert_eq!(r["to"], "nic:vm-app-nic");
    assert_eq!(r["dst"], "10.1.1.4");
    assert_eq!(r["protocols"], "tcp/22");
    assert_eq!(r["headers"], "65536", "every source port");
    // --fail-on-change gates on it; the same fabric twice changes nothing.
    let (code, _, _) = run(&[
        "diff",
        &lab(),
        p.to_str().unwrap(),
        "--exhaustive",
        "--fail-on-change",
    ]);
    assert_eq!(code, 1);
    let (code, out, err) = run(&["diff", &lab(), &lab(), "--exhaustive", "--fail-on-change"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": 0 region rows differ"), "{out}");
}
