//! FIB lookup and build throughput on deterministic, Azure-like route sets
//! (a default route, VNet /16s, subnet /24s, private endpoint /32s, on-premises
//! /8../28), with keys mostly inside the routes. Lookups go in blocks of 64, as
//! the data plane's batched walk and the DPDK anchor do.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use vnetsim_lpm::Fib;

/// splitmix64.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn routes(n: usize, seed: u64) -> Vec<(u32, u8, u32)> {
    let mut rng = Rng(seed);
    // Prefix lengths weighted like an Azure effective route table.
    let lens: Vec<u8> = [
        (8u8, 2),
        (12, 2),
        (16, 20),
        (20, 10),
        (22, 10),
        (24, 120),
        (26, 10),
        (28, 8),
        (32, 60),
    ]
    .iter()
    .flat_map(|&(l, w)| std::iter::repeat_n(l, w))
    .collect();
    let mut seen = std::collections::HashSet::new();
    let mut v = vec![(0, 0, 1)];
    seen.insert((0u32, 0u8));
    while v.len() < n {
        let l = lens[rng.below(lens.len() as u64) as usize];
        let (base, span) = match rng.below(4) {
            0 => (0x0A00_0000u32, 8),
            1 => (0xAC10_0000, 12),
            2 => (0xC0A8_0000, 16),
            _ => (rng.next() as u32, 0),
        };
        let a = if span > 0 && l > span {
            base | (rng.next() as u32 >> span)
        } else {
            base
        };
        let a = a & (u32::MAX << (32 - l));
        if seen.insert((a, l)) {
            v.push((a, l, (v.len() % 250 + 1) as u32));
        }
    }
    v
}

fn keys(routes: &[(u32, u8, u32)], n: usize, seed: u64) -> Vec<u32> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            if rng.below(10) < 9 {
                let (a, l, _) = routes[rng.below(routes.len() as u64) as usize];
                if l == 32 {
                    a
                } else {
                    a | (rng.next() as u32 & (u32::MAX >> l))
                }
            } else {
                rng.next() as u32
            }
        })
        .collect()
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("fib_lookup");
    for (n, seed) in [(600usize, 1u64), (100_000, 2)] {
        let r = routes(n, seed);
        let fib = Fib::build(&r);
        let k = keys(&r, 1 << 20, seed + 100);
        g.throughput(Throughput::Elements(k.len() as u64));
        g.bench_with_input(BenchmarkId::new("batch64", n), &k, |b, k| {
            let mut out = [0u32; 64];
            b.iter(|| {
                let mut sum = 0u64;
                for block in k.chunks_exact(64) {
                    fib.lookup_batch(block, &mut out);
                    sum += out.iter().map(|&v| v as u64).sum::<u64>();
                }
                black_box(sum)
            })
        });
        g.bench_with_input(BenchmarkId::new("single", n), &k, |b, k| {
            b.iter(|| {
                let mut sum = 0u64;
                for &a in k {
                    sum += fib.lookup(black_box(a)).unwrap_or(0) as u64;
                }
                black_box(sum)
            })
        });
    }
    g.finish();
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("fib_build");
    for (n, seed) in [(30usize, 3u64), (600, 1), (100_000, 2)] {
        let r = routes(n, seed);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &r, |b, r| {
            b.iter(|| Fib::build(black_box(r)))
        });
    }
    g.finish();
}

criterion_group!(benches, lookup, build);
criterion_main!(benches);
