//! NSG classifier speed: lookups (batched, in blocks of 64 like the DPDK
//! harness) and build time, on deterministic rule lists shaped like the shared
//! ACL workload (100 and 1000 rules), a typical 200-rule NSG, and NSGs whose
//! service tags expand to thousands of prefixes.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use vnetsim_classify::{Classifier, Key, Protocols, Rule};

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

fn prefix(r: &mut Rng) -> (u32, u8) {
    let l = [0u8, 8, 12, 16, 16, 16, 20, 24, 24, 24, 24, 26, 28, 32, 32][r.below(15) as usize];
    let base = [0x0A00_0000u32, 0xAC10_0000, 0xC0A8_0000, r.next() as u32][r.below(4) as usize];
    let m = if l == 0 { 0 } else { u32::MAX << (32 - l) };
    ((base | (r.next() as u32 & 0xFFFF)) & m, l)
}

fn dports(r: &mut Rng) -> (u16, u16) {
    let x = r.below(100);
    if x < 30 {
        (0, u16::MAX)
    } else if x < 85 {
        let p = [
            22u16,
            53,
            80,
            443,
            1433,
            3389,
            5432,
            8080,
            8443,
            r.next() as u16,
        ][r.below(10) as usize];
        (p, p)
    } else {
        let lo = 1024 + r.below(58000) as u16;
        (lo, lo + 1 + r.below(1999) as u16)
    }
}

/// A rule list like the shared workload's (gen_acl.py).
fn acl_rules(n: usize, seed: u64) -> Vec<Rule> {
    let mut r = Rng(seed);
    (0..n)
        .map(|_| {
            let p = [6u8, 6, 6, 17, 0][r.below(5) as usize];
            Rule {
                protocols: if p == 0 {
                    Protocols::Any
                } else {
                    Protocols::Set(vec![p])
                },
                src: vec![prefix(&mut r)],
                dst: vec![prefix(&mut r)],
                sport: vec![(0, u16::MAX)],
                dport: vec![dports(&mut r)],
            }
        })
        .collect()
}

/// A service tag's expansion: `n` prefixes, /16 to /29, scattered.
fn tag(r: &mut Rng, n: usize) -> Vec<(u32, u8)> {
    (0..n)
        .map(|_| (r.next() as u32, 16 + r.below(14) as u8))
        .collect()
}

/// An NSG of `n` rules in which every `every`-th rule uses a service tag of
/// `tag_len` prefixes as its source (and every other one of those also as
/// destination), closed by the catch-all default rule.
fn tagged_nsg(n: usize, every: usize, tag_len: usize, seed: u64) -> Vec<Rule> {
    let mut r = Rng(seed);
    let mut rules = acl_rules(n - 1, seed ^ 0xABCD);
    for (i, x) in rules.iter_mut().enumerate() {
        if i % every == 0 {
            x.src = tag(&mut r, tag_len);
            if i % (2 * every) == 0 {
                x.dst = tag(&mut r, tag_len);
            }
        }
    }
    rules.push(Rule::any());
    rules
}

/// Keys like the workload's: 80% inside a random rule, 20% random.
fn keys(rules: &[Rule], n: usize, seed: u64) -> Vec<Key> {
    let mut r = Rng(seed);
    (0..n)
        .map(|_| {
            let x = &rules[r.below(rules.len() as u64) as usize];
            if r.below(10) < 8 {
                let host = |r: &mut Rng, ps: &[(u32, u8)]| {
                    let (a, l) = ps[r.below(ps.len() as u64) as usize];
                    if l >= 32 {
                        a
                    } else {
                        a | (r.next() as u32 >> l)
                    }
                };
                let (lo, hi) = x.dport[0];
                Key {
                    proto: match &x.protocols {
                        Protocols::Set(v) => v[0],
                        Protocols::Any => [6u8, 17][r.below(2) as usize],
                    },
                    src: host(&mut r, &x.src),
                    dst: host(&mut r, &x.dst),
                    sport: r.next() as u16,
                    dport: lo + r.below(hi as u64 - lo as u64 + 1) as u16,
                }
            } else {
                Key {
                    proto: [6u8, 17][r.below(2) as usize],
                    src: r.next() as u32,
                    dst: r.next() as u32,
                    sport: r.next() as u16,
                    dport: r.next() as u16,
                }
            }
        })
        .collect()
}

fn lookups(c: &mut Criterion) {
    const NKEYS: usize = 64 * 1024;
    let sets: Vec<(&str, Vec<Rule>)> = vec![
        ("acl100", acl_rules(100, 4)),
        ("acl1000", acl_rules(1000, 3)),
        ("nsg200_catchall", {
            let mut v = acl_rules(199, 5);
            v.push(Rule::any());
            v
        }),
        ("nsg200_tags3000", tagged_nsg(200, 20, 3000, 6)),
        ("nsg20_tag5000", tagged_nsg(20, 8, 5000, 7)),
    ];
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(NKEYS as u64));
    for (name, rules) in &sets {
        let cl = Classifier::build(rules);
        let ks = keys(rules, NKEYS, 99);
        let mut out = [0u32; 64];
        g.bench_function(BenchmarkId::new("batch64", name), |b| {
            b.iter(|| {
                let mut sum = 0u64;
                for block in ks.chunks_exact(64) {
                    cl.classify_batch(black_box(block), &mut out);
                    sum += out.iter().map(|&x| x as u64).sum::<u64>();
                }
                sum
            })
        });
        g.bench_function(BenchmarkId::new("single", name), |b| {
            b.iter(|| {
                ks.iter()
                    .map(|k| cl.classify(black_box(k)).map_or(0, |x| x as u64 + 1))
                    .sum::<u64>()
            })
        });
    }
    g.finish();
}

fn builds(c: &mut Criterion) {
    let sets: Vec<(&str, Vec<Rule>)> = vec![
        ("nsg200", acl_rules(200, 8)),
        ("acl1000", acl_rules(1000, 3)),
        ("nsg200_tags3000", tagged_nsg(200, 20, 3000, 6)),
    ];
    let mut g = c.benchmark_group("build");
    g.sample_size(20);
    for (name, rules) in &sets {
        g.throughput(Throughput::Elements(rules.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| Classifier::build(black_box(rules)).memory_bytes())
        });
    }
    g.finish();
}

criterion_group!(benches, lookups, builds);
criterion_main!(benches);
