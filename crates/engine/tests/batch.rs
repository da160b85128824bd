//! `trace_batch` walks flows of one source with their first route lookups made together:
//! every flow's trace (its legs, outcome and every hop) must equal the trace of the same flow
//! walked alone.

use std::path::Path;

use vnetsim_engine::sweep::{self, Matrix, Side};
use vnetsim_engine::{trace, trace_batch, Flow, Hop, Scratch, Trace, BATCH};
use vnetsim_fabric::{compile, Fabric};

fn fabric(file: &str) -> Fabric {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    compile(&vnetsim_model::load(&p).unwrap_or_else(|e| panic!("{file}: {e:?}")))
}

/// Every cell of the all-to-all matrix on `ports`, walked in batches of up to [`BATCH`]
/// consecutive cells of one source and one by one; the traces compared.
/// Returns the most cells one source has.
fn batched_equals_alone(file: &str, ports: &str) -> usize {
    let f = fabric(file);
    let m = Matrix::new(
        sweep::resolve(&f, &[], Side::Source).unwrap(),
        sweep::resolve(&f, &[], Side::Destination).unwrap(),
        sweep::parse_ports(ports).unwrap(),
    );
    let cells: Vec<sweep::Cell> = m.iter().collect();
    let mut batched: Vec<(Trace, Vec<Hop>)> = Vec::new();
    let mut s = Scratch::new();
    for run in cells.chunk_by(|a, b| a.src == b.src) {
        for batch in run.chunks(BATCH) {
            let flows: Vec<Flow> = batch.iter().map(|c| m.flow(&f, *c)).collect();
            let ingress = m.sources[batch[0].src as usize].endpoint;
            let l7 = |i: usize| sweep::destination_l7(&f, &flows[i]);
            trace_batch(&f, &flows, ingress, l7, &mut s, |_, s, t| {
                batched.push((*t, s.hops.clone()))
            });
        }
    }
    assert_eq!(batched.len(), cells.len(), "{file}");
    let mut alone = Scratch::new();
    for ((t, hops), c) in batched.iter().zip(&cells) {
        let flow = m.flow(&f, *c);
        let l7 = sweep::destination_l7(&f, &flow);
        let direct = trace(&f, flow, m.sources[c.src as usize].endpoint, l7, &mut alone);
        assert_eq!(*t, direct, "{file}: {c:?}");
        assert_eq!(*hops, alone.hops, "{file}: {c:?} hops");
    }
    cells
        .chunk_by(|a, b| a.src == b.src)
        .map(<[_]>::len)
        .max()
        .unwrap_or(0)
}

#[test]
fn batched_walks_equal_walks_alone() {
    let ports = "tcp/443,tcp/22,tcp/1433,udp/53,icmp,tcp/80-99";
    let mut longest = 0;
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
        longest = longest.max(batched_equals_alone(file, ports));
    }
    // Sources with more cells than one batch, so batches end at BATCH and at a source's end.
    assert!(longest > 2 * BATCH, "{longest}");
}
