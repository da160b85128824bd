//! `check` assertions over every header: `onlyPorts` says no protocol or port other than the
//! listed ones is reachable between the selectors, evaluated with reach regions.

mod common;
use common::*;

fn assertions(tag: &str, text: &str) -> String {
    let p = tmp("only-ports", tag);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// nsg-web admits TCP 443 from the Internet; every other Internet packet meets
/// DenyAllInBound (the Internet is not in VirtualNetwork, and AllowAzureLoadBalancerInBound
/// admits 168.63.129.16 only), so tcp/443 is all the Internet reaches.
/// https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#default-security-rules
#[test]
fn passes_where_only_443_is_open() {
    let a = assertions(
        "pass.yaml",
        "assertions:\n  - name: only https from the internet\n    from: internet\n    to: nic:vm-web\n    expect: { onlyPorts: [tcp/443] }\n",
    );
    let topo = root()
        .join("tests/fixtures/only-443.yaml")
        .display()
        .to_string();
    let (code, out, err) = run(&["check", &topo, &a]);
    assert_eq!(code, 0, "{out}{err}");
}

/// The lab publishes RDP on the firewall's public IP 20.10.10.10 (DNAT rule rdp-to-app,
/// tcp/3389 to vm-app-nic): the Internet reaches the VM on tcp/3389 although no port of the
/// VM's own address is open to it. onlyPorts [tcp/443] fails, naming that region.
/// https://learn.microsoft.com/azure/firewall/tutorial-firewall-dnat
#[test]
fn fails_naming_the_rdp_dnat_region() {
    let a = assertions(
        "fail.yaml",
        "assertions:\n  - name: only https from the internet\n    from: internet\n    to: nic:vm-app-nic\n    expect: { onlyPorts: [tcp/443] }\n",
    );
    let topo = root()
        .join("traces/hub-spoke-lab.yaml")
        .display()
        .to_string();
    let (code, out, err) = run(&["check", &topo, &a]);
    assert_eq!(code, 1, "{out}{err}");
    let beyond: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("reachable outside onlyPorts"))
        .collect();
    assert_eq!(beyond.len(), 1, "{out}");
    assert!(beyond[0].contains("tcp/3389"), "{out}");
    assert!(beyond[0].contains("dst 20.10.10.10"), "{out}");
    // Allowing 3389 as well leaves nothing outside.
    let b = assertions(
        "both.yaml",
        "assertions:\n  - name: https and rdp\n    from: internet\n    to: nic:vm-app-nic\n    expect: { onlyPorts: [tcp/443, tcp/3389] }\n",
    );
    let (code, out, err) = run(&["check", &topo, &b]);
    assert_eq!(code, 0, "{out}{err}");
}

/// A malformed entry is a located error.
#[test]
fn bad_entry_is_located() {
    let a = assertions(
        "bad.yaml",
        "assertions:\n  - name: x\n    from: internet\n    to: nic:vm-web\n    expect: { onlyPorts: [tcp/99999] }\n",
    );
    let topo = root()
        .join("tests/fixtures/only-443.yaml")
        .display()
        .to_string();
    let (code, _, err) = run(&["check", &topo, &a]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(":5:") && err.contains("tcp/99999"), "{err}");
}
