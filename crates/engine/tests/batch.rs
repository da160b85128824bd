//! A sweep walks the flows of one source in batches whose first route lookups are made
//! together: every cell's trace (its legs, outcome and every hop) must equal the trace of the
//! same flow walked alone.

use std::path::Path;

use vnetsim_engine::sweep::{self, Matrix, Side};
use vnetsim_engine::{trace, Hop, Scratch, Trace};
use vnetsim_fabric::{compile, Fabric};

fn fabric(file: &str) -> Fabric {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    compile(&vnetsim_model::load(&p).unwrap_or_else(|e| panic!("{file}: {e:?}")))
}

/// Every cell of the all-to-all matrix on `ports`, walked through [`sweep::walk_cells`] and
/// one by one; the cells compared.
fn batched_equals_alone(file: &str, ports: &str) -> u64 {
    let f = fabric(file);
    let m = Matrix::new(
        sweep::resolve(&f, &[], Side::Source).unwrap(),
        sweep::resolve(&f, &[], Side::Destination).unwrap(),
        sweep::parse_ports(ports).unwrap(),
    );
    let fq = m.fqdns(&f);
    let mut batched: Vec<(sweep::Cell, Trace, Vec<Hop>)> = Vec::new();
    let mut s = Scratch::new();
    sweep::walk_cells(&f, &m, &fq, 0..m.len(), &mut s, |s, t, c, _| {
        batched.push((c, *t, s.hops.clone()))
    });
    assert_eq!(batched.len() as u64, m.len(), "{file}");
    let mut alone = Scratch::new();
    for ((c, t, hops), want) in batched.iter().zip(m.iter()) {
        assert_eq!(*c, want, "{file}: cells out of order");
        let flow = m.flow(&f, *c);
        let direct = trace(
            &f,
            flow,
            m.sources[c.src as usize].endpoint,
            sweep::destination_l7(&f, &flow),
            &mut alone,
        );
        assert_eq!(*t, direct, "{file}: {c:?}");
        assert_eq!(*hops, alone.hops, "{file}: {c:?} hops");
    }
    m.len()
}

#[test]
fn batched_walks_equal_walks_alone() {
    let ports = "tcp/443,tcp/22,tcp/1433,udp/53,icmp";
    let mut cells = 0;
    for file in [
        "traces/hub-spoke-lab.yaml",
        "tests/fixtures/two-spokes-firewall.yaml",
        "tests/fixtures/routing-example.yaml",
        "tests/fixtures/load-balancers.yaml",
        "tests/fixtures/route_server.yaml",
        "tests/fixtures/gateways.yaml",
        "tests/fixtures/loop.yaml",
        "tests/fixtures/egress.yaml",
        "tests/fixtures/unresolved.yaml",
    ] {
        cells += batched_equals_alone(file, ports);
    }
    // More cells than one batch per source, so batches end at a source's end and at BATCH.
    assert!(cells > 10 * vnetsim_engine::BATCH as u64, "{cells}");
}
