//! Site (local network gateway) prefixes must be networks: a valid
//! address, a length, and no host bits (issue: a sweep probes a host of
//! each site prefix, which is only meaningful for a real network).

use vnetsim_model::{load_str, Diagnostic};

const BASE: &str = r#"version: 1
sites:
  - name: branch
    addressPrefixes: [192.168.0.0/16, 172.16.4.9/32]
    bgp: { asn: 65010, advertisedPrefixes: [192.168.8.0/21] }
vnets:
  - name: hub
    addressSpace: [10.0.0.0/16]
    subnets:
      - { name: GatewaySubnet, addressPrefix: 10.0.0.0/27 }
gateways:
  - { name: gw, vnet: hub, connections: [{ site: branch }] }
"#;

fn only_error(text: &str) -> Diagnostic {
    let d = load_str("t.yaml", text).unwrap_err();
    let errs: Vec<_> = d.errors().cloned().collect();
    assert_eq!(errs.len(), 1, "{d}");
    errs[0].clone()
}

/// Line and column (1-based) of the first `needle` in `text`.
fn at(text: &str, needle: &str) -> (u32, u32) {
    let (i, l) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .expect("needle present");
    (i as u32 + 1, l.find(needle).unwrap() as u32 + 1)
}

#[test]
fn base_sites_are_valid() {
    let v = load_str("t.yaml", BASE).expect("valid");
    let site = &v.topology().sites[0];
    let got: Vec<String> = site
        .address_prefixes
        .iter()
        .map(|p| p.value.to_string())
        .collect();
    assert_eq!(got, ["192.168.0.0/16", "172.16.4.9/32"]);
    assert_eq!(site.advertised()[0].to_string(), "192.168.8.0/21");
}

#[test]
fn site_prefix_with_host_bits_is_rejected() {
    let t = BASE.replace("192.168.0.0/16, ", "192.168.1.7/16, ");
    let e = only_error(&t);
    assert_eq!(
        e.message,
        "'192.168.1.7/16' has host bits set (did you mean 192.168.0.0/16?)"
    );
    assert_eq!((e.loc.line, e.loc.col), at(&t, "192.168.1.7/16"));
}

#[test]
fn advertised_prefix_with_host_bits_is_rejected() {
    let t = BASE.replace("[192.168.8.0/21]", "[192.168.9.0/21]");
    let e = only_error(&t);
    assert_eq!(
        e.message,
        "'192.168.9.0/21' has host bits set (did you mean 192.168.8.0/21?)"
    );
    assert_eq!((e.loc.line, e.loc.col), at(&t, "192.168.9.0/21"));
}

#[test]
fn site_prefix_must_be_a_network() {
    for bad in [
        "192.168.300.0/16",
        "192.168.0.0/33",
        "192.168.0.0",
        "branch-office",
    ] {
        let t = BASE.replace("192.168.0.0/16, ", &format!("{bad}, "));
        let e = only_error(&t);
        assert_eq!(
            e.message,
            format!("expected a CIDR prefix like 10.1.0.0/16, found '{bad}'")
        );
        assert_eq!((e.loc.line, e.loc.col), at(&t, bad));
    }
}
