//! The az bundle, imported, behaves exactly as the hand-written YAML of the
//! same fabric (tests/fixtures/az-hub-spoke.expected.yaml, written from the
//! export files): a sweep of every endpoint to every endpoint on several ports
//! gives the same rendered traces, byte for byte.

use std::path::PathBuf;

use vnetsim_engine::{render, sweep};

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/")).join(p)
}

/// Every cell's trace as JSON text, sorted (the two files list objects in different orders).
fn sweep_rows(yaml: &str) -> Vec<String> {
    let v = vnetsim_model::load_str("t.yaml", yaml).unwrap_or_else(|d| panic!("{:?}", d.items));
    let f = vnetsim_fabric::compile(&v);
    let all = ["all".to_string()];
    let src = sweep::resolve(&f, &all, sweep::Side::Source).unwrap();
    let dst = sweep::resolve(&f, &all, sweep::Side::Destination).unwrap();
    let ports = sweep::parse_ports("tcp/443,tcp/22,tcp/3389,udp/53,icmp").unwrap();
    let m = sweep::Matrix::new(src, dst, ports);
    let mut rows = sweep::run(
        &f,
        &m,
        |f, s, t, _, q| render::trace_json(f, s, t, q).to_string(),
        &|_| {},
    );
    rows.sort();
    rows
}

#[test]
fn imported_bundle_sweeps_like_the_hand_written_yaml() {
    let imported = vnetsim_import::import(&[fixture("az-hub-spoke")], &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let hand = std::fs::read_to_string(fixture("az-hub-spoke.expected.yaml")).unwrap();
    let a = sweep_rows(&imported.yaml);
    let b = sweep_rows(&hand);
    assert!(a.len() >= 45, "{} cells", a.len()); // NIC, PE, site, Internet x 5 ports
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
}
