//! The whole round-trip walk over compiled fabrics: the bundled lab and a
//! generated 200-VNet hub-and-spoke fabric.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vnetsim_engine::sweep::{self, Matrix, Side};
use vnetsim_engine::{trace, Scratch};
use vnetsim_fabric::compile;

fn flows(
    text: &str,
    from: &[String],
) -> (
    vnetsim_fabric::Fabric,
    Vec<(
        vnetsim_engine::Flow,
        vnetsim_fabric::Endpoint,
        Option<String>,
    )>,
) {
    let f = compile(&vnetsim_model::load_str("bench.yaml", text).expect("valid"));
    let m = Matrix::new(
        sweep::resolve(&f, from, Side::Source).unwrap(),
        sweep::resolve(&f, &[], Side::Destination).unwrap(),
        sweep::parse_ports("tcp/443,tcp/22,udp/53,icmp").unwrap(),
    );
    let v = m
        .iter()
        .map(|c| {
            let fl = m.flow(&f, c);
            (
                fl,
                m.sources[c.src as usize].endpoint,
                sweep::fqdn_for(&f, fl.dst).map(str::to_string),
            )
        })
        .collect();
    (f, v)
}

fn bench(c: &mut Criterion) {
    let lab = include_str!("../traces/hub-spoke-lab.yaml").to_string();
    let gen = vnetsim_model::generate::generate(&vnetsim_model::generate::Params {
        vnets: 200,
        subnets_per_vnet: 10,
        rules_per_nsg: 200,
        private_endpoints: 1000,
        seed: 1,
    })
    .unwrap();
    let mut g = c.benchmark_group("walk");
    for (name, text, from) in [
        ("lab", &lab, vec![]),
        (
            "generated-200-vnets",
            &gen,
            vec!["vnet:spoke1".to_string(), "vnet:spoke2".to_string()],
        ),
    ] {
        let (f, v) = flows(text, &from);
        let n = v.len().min(20_000);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(name, |b| {
            let mut s = Scratch::new();
            b.iter(|| {
                let mut acc = 0u64;
                for (fl, e, q) in &v[..n] {
                    let l7 = q
                        .as_deref()
                        .map(|n| vnetsim_engine::L7::by_port(n, fl.dport));
                    acc += trace(&f, *fl, *e, l7, &mut s).outcome as u64;
                }
                acc
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
