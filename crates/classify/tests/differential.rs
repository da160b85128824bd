//! The compiled classifier against the linear reference on random rule lists.

use proptest::prelude::*;
use vnetsim_classify::{classify_linear, Classifier, Key, Protocols, Rule};

/// Small deterministic generator (splitmix64), so failures reproduce.
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
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Addresses drawn from a few clusters so that prefixes overlap often.
fn addr(r: &mut Rng) -> u32 {
    match r.below(4) {
        0 => 0x0A00_0000 | (r.next() as u32 & 0x0000_FFFF),
        1 => 0xC0A8_0000 | (r.next() as u32 & 0x0000_03FF),
        2 => 0xAC10_0000 | (r.next() as u32 & 0x000F_FFFF),
        _ => r.next() as u32,
    }
}

fn prefix(r: &mut Rng) -> (u32, u8) {
    let len = [0u8, 1, 8, 12, 16, 20, 24, 24, 26, 28, 31, 32, 32, 33][r.below(14) as usize];
    // Host bits are left in on purpose: the classifier must ignore them.
    (addr(r), len)
}

fn prefixes(r: &mut Rng) -> Vec<(u32, u8)> {
    match r.below(10) {
        0 => vec![],
        1 => (0..r.below(60)).map(|_| prefix(r)).collect(),
        2..=4 => (0..1 + r.below(4)).map(|_| prefix(r)).collect(),
        _ => vec![prefix(r)],
    }
}

const BORDER_PORTS: [u16; 10] = [0, 1, 22, 53, 80, 443, 1024, 8080, 65534, 65535];

fn port(r: &mut Rng) -> u16 {
    if r.chance(60) {
        BORDER_PORTS[r.below(BORDER_PORTS.len() as u64) as usize]
    } else {
        r.next() as u16
    }
}

fn ranges(r: &mut Rng) -> Vec<(u16, u16)> {
    let one = |r: &mut Rng| -> (u16, u16) {
        match r.below(6) {
            0 => (0, u16::MAX),
            1 | 2 => {
                let p = port(r);
                (p, p)
            }
            3 => {
                // Reversed ranges are empty.
                let (a, b) = (port(r), port(r));
                (a, b)
            }
            _ => {
                let (a, b) = (port(r), port(r));
                (a.min(b), a.max(b))
            }
        }
    };
    match r.below(12) {
        0 => vec![],
        1..=3 => (0..2 + r.below(4)).map(|_| one(r)).collect(),
        _ => vec![one(r)],
    }
}

fn protocols(r: &mut Rng) -> Protocols {
    match r.below(8) {
        0 | 1 => Protocols::Any,
        2 => Protocols::Set(vec![]),
        3 => Protocols::Set(vec![6, 17]),
        4 => Protocols::Set(vec![[1u8, 50, 51, 0, 255][r.below(5) as usize]]),
        5 => Protocols::Set(vec![17]),
        _ => Protocols::Set(vec![6]),
    }
}

fn rule(r: &mut Rng) -> Rule {
    if r.chance(5) {
        return Rule::any();
    }
    Rule {
        protocols: protocols(r),
        src: prefixes(r),
        dst: prefixes(r),
        sport: ranges(r),
        dport: ranges(r),
    }
}

/// A key that often lies on an edge of some rule's ranges.
fn key(r: &mut Rng, rules: &[Rule]) -> Key {
    let mut k = Key {
        proto: [6u8, 17, 1, 50, 51, 0, 255, 6][r.below(8) as usize],
        src: addr(r),
        dst: addr(r),
        sport: port(r),
        dport: port(r),
    };
    if !rules.is_empty() && r.chance(70) {
        let x = &rules[r.below(rules.len() as u64) as usize];
        let edge = |r: &mut Rng, (a, l): (u32, u8)| -> u32 {
            let m = if l == 0 {
                0
            } else if l >= 32 {
                u32::MAX
            } else {
                u32::MAX << (32 - l)
            };
            match r.below(5) {
                0 => a & m,
                1 => (a & m) | !m,
                2 => (a & m).wrapping_sub(1),
                3 => ((a & m) | !m).wrapping_add(1),
                _ => (a & m) | (r.next() as u32 & !m),
            }
        };
        if let Some(&p) = x.src.get(r.below(x.src.len().max(1) as u64) as usize) {
            k.src = edge(r, p);
        }
        if let Some(&p) = x.dst.get(r.below(x.dst.len().max(1) as u64) as usize) {
            k.dst = edge(r, p);
        }
        let pedge = |r: &mut Rng, (lo, hi): (u16, u16)| -> u16 {
            match r.below(5) {
                0 => lo,
                1 => hi,
                2 => lo.wrapping_sub(1),
                3 => hi.wrapping_add(1),
                _ => lo.wrapping_add(r.below(hi.wrapping_sub(lo) as u64 + 1) as u16),
            }
        };
        if let Some(&p) = x.sport.get(r.below(x.sport.len().max(1) as u64) as usize) {
            k.sport = pedge(r, p);
        }
        if let Some(&p) = x.dport.get(r.below(x.dport.len().max(1) as u64) as usize) {
            k.dport = pedge(r, p);
        }
        if let Protocols::Set(v) = &x.protocols {
            if let Some(&p) = v.first() {
                k.proto = p;
            }
        }
    }
    k
}

/// Checks `classify`, `classify_batch` (with and without AVX2) and the linear
/// reference agree on `keys`.
fn check(rules: &[Rule], keys: &[Key]) {
    let c = Classifier::build(rules);
    assert_eq!(c.len(), rules.len());
    let mut out = vec![0u32; keys.len()];
    c.classify_batch(keys, &mut out);
    // The batch path every x86-64 processor has, also where AVX2 is used.
    let mut portable = vec![0u32; keys.len()];
    c.clone().portable().classify_batch(keys, &mut portable);
    for ((k, &b), &p) in keys.iter().zip(&out).zip(&portable) {
        let want = classify_linear(rules, k);
        assert_eq!(c.classify(k), want, "key {k:?}");
        assert_eq!(b, want.unwrap_or(u32::MAX), "batch, key {k:?}");
        assert_eq!(p, want.unwrap_or(u32::MAX), "portable batch, key {k:?}");
    }
}

#[test]
fn empty_rule_list_matches_nothing() {
    let c = Classifier::build(&[]);
    assert_eq!(c.len(), 0);
    assert!(c.is_empty());
    let k = Key {
        proto: 6,
        src: 1,
        dst: 2,
        sport: 3,
        dport: 4,
    };
    assert_eq!(c.classify(&k), None);
    let mut out = [7u32; 3];
    c.classify_batch(&[k, k, k], &mut out);
    assert_eq!(out, [u32::MAX; 3]);
}

#[test]
fn rules_with_an_empty_field_never_match() {
    let mut rules = Vec::new();
    for field in 0..5 {
        let mut r = Rule::any();
        match field {
            0 => r.protocols = Protocols::Set(vec![]),
            1 => r.src.clear(),
            2 => r.dst.clear(),
            3 => r.sport.clear(),
            _ => r.dport.clear(),
        }
        rules.push(r);
    }
    rules.push(Rule::any());
    let c = Classifier::build(&rules);
    let k = Key {
        proto: 17,
        src: 0x0A00_0001,
        dst: 0xFFFF_FFFF,
        sport: 0,
        dport: 65535,
    };
    assert_eq!(c.classify(&k), Some(5));
}

#[test]
fn hand_written_nsg() {
    let tcp = Protocols::Set(vec![6]);
    let rules = vec![
        // Allow TCP 443 from 10.1.0.0/16 to 10.2.0.4/32.
        Rule {
            protocols: tcp.clone(),
            src: vec![(0x0A01_0000, 16)],
            dst: vec![(0x0A02_0004, 32)],
            sport: vec![(0, 65535)],
            dport: vec![(443, 443)],
        },
        // Deny TCP 22, 3389 from anywhere.
        Rule {
            protocols: tcp,
            src: vec![(0, 0)],
            dst: vec![(0, 0)],
            sport: vec![(0, 65535)],
            dport: vec![(22, 22), (3389, 3389)],
        },
        Rule::any(),
    ];
    let c = Classifier::build(&rules);
    let k = |proto, src, dst, dport| Key {
        proto,
        src,
        dst,
        sport: 50000,
        dport,
    };
    assert_eq!(c.classify(&k(6, 0x0A01_0203, 0x0A02_0004, 443)), Some(0));
    assert_eq!(c.classify(&k(17, 0x0A01_0203, 0x0A02_0004, 443)), Some(2));
    assert_eq!(c.classify(&k(6, 0x0A01_0203, 0x0A02_0005, 443)), Some(2));
    assert_eq!(c.classify(&k(6, 0x0A01_0203, 0x0A02_0005, 3389)), Some(1));
    assert_eq!(c.classify(&k(6, 0x0A01_0203, 0x0A02_0005, 3390)), Some(2));
}

#[test]
fn random_lists_of_many_sizes() {
    let mut r = Rng(1);
    // Sizes around the word boundaries (64 rules a word) and the switch to
    // summary words (more than 16 words).
    for &n in &[
        0usize, 1, 2, 3, 7, 63, 64, 65, 100, 128, 129, 200, 500, 1023, 1024, 1025, 1100, 2000,
    ] {
        for _ in 0..2 {
            let mut rules: Vec<Rule> = (0..n).map(|_| rule(&mut r)).collect();
            if r.chance(50) && n > 0 {
                // NSGs end with a catch-all.
                rules[n - 1] = Rule::any();
            }
            let keys: Vec<Key> = (0..1500).map(|_| key(&mut r, &rules)).collect();
            check(&rules, &keys);
        }
    }
}

#[test]
fn many_prefix_rules() {
    let mut r = Rng(2);
    let mut rules = Vec::new();
    for i in 0..40 {
        let mut x = rule(&mut r);
        if i % 4 == 0 {
            // A service tag: thousands of prefixes, overlapping and not.
            x.src = (0..3000)
                .map(|_| prefix(&mut r))
                .filter(|p| p.1 >= 8)
                .collect();
        }
        if i % 7 == 0 {
            x.dst = (0..2000)
                .map(|_| (addr(&mut r), 24 + r.below(9) as u8))
                .collect();
        }
        rules.push(x);
    }
    rules.push(Rule::any());
    let keys: Vec<Key> = (0..20000).map(|_| key(&mut r, &rules)).collect();
    check(&rules, &keys);
}

#[test]
fn many_port_ranges_take_the_separate_path() {
    // Enough distinct protocol, source-port and destination-port classes that
    // their cross product is not tabulated.
    let mut r = Rng(3);
    let mut rules = Vec::new();
    for i in 0..700u32 {
        let lo = (i * 89) as u16;
        rules.push(Rule {
            protocols: Protocols::Set(vec![(i % 40) as u8 + 1, 6]),
            src: vec![prefix(&mut r)],
            dst: vec![(0, 0)],
            sport: vec![(lo, lo.saturating_add(40))],
            dport: vec![
                ((i * 37 % 65536) as u16, (i * 37 % 65536) as u16),
                (lo, lo.saturating_add(100)),
            ],
        });
    }
    rules.push(Rule::any());
    let keys: Vec<Key> = (0..20000)
        .map(|_| {
            let mut k = key(&mut r, &rules);
            k.proto = r.below(45) as u8;
            k
        })
        .collect();
    check(&rules, &keys);
}

fn arb_prefix() -> impl Strategy<Value = (u32, u8)> {
    (
        prop_oneof![
            any::<u32>(),
            (0u32..16).prop_map(|x| 0x0A00_0000 | (x << 20)),
            Just(0)
        ],
        prop_oneof![Just(0u8), Just(32u8), 0u8..=33],
    )
}

fn arb_range() -> impl Strategy<Value = (u16, u16)> {
    prop_oneof![
        Just((0u16, u16::MAX)),
        any::<u16>().prop_map(|p| (p, p)),
        (0u16..100, 0u16..100),
        (any::<u16>(), any::<u16>()),
    ]
}

fn arb_rule() -> impl Strategy<Value = Rule> {
    (
        prop_oneof![
            Just(Protocols::Any),
            prop::collection::vec(prop_oneof![Just(6u8), Just(17u8), any::<u8>()], 0..3)
                .prop_map(Protocols::Set),
        ],
        prop::collection::vec(arb_prefix(), 0..4),
        prop::collection::vec(arb_prefix(), 0..4),
        prop::collection::vec(arb_range(), 0..3),
        prop::collection::vec(arb_range(), 0..3),
    )
        .prop_map(|(protocols, src, dst, sport, dport)| Rule {
            protocols,
            src,
            dst,
            sport,
            dport,
        })
}

fn arb_key() -> impl Strategy<Value = Key> {
    (
        prop_oneof![Just(6u8), Just(17u8), any::<u8>()],
        prop_oneof![
            any::<u32>(),
            (0u32..0x0100_0000).prop_map(|x| 0x0A00_0000 | x)
        ],
        prop_oneof![
            any::<u32>(),
            (0u32..0x0100_0000).prop_map(|x| 0x0A00_0000 | x)
        ],
        prop_oneof![any::<u16>(), 0u16..101],
        prop_oneof![any::<u16>(), 0u16..101],
    )
        .prop_map(|(proto, src, dst, sport, dport)| Key {
            proto,
            src,
            dst,
            sport,
            dport,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn prop_matches_linear(
        rules in prop::collection::vec(arb_rule(), 0..80),
        keys in prop::collection::vec(arb_key(), 1..64),
    ) {
        let c = Classifier::build(&rules);
        let mut out = vec![0u32; keys.len()];
        c.classify_batch(&keys, &mut out);
        for (k, &b) in keys.iter().zip(&out) {
            let want = classify_linear(&rules, k);
            prop_assert_eq!(c.classify(k), want);
            prop_assert_eq!(b, want.unwrap_or(u32::MAX));
        }
    }
}

#[test]
fn classifier_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Classifier>();
    let rules = vec![Rule::any()];
    let c = Classifier::build(&rules).clone();
    let k = Key {
        proto: 6,
        src: 1,
        dst: 2,
        sport: 3,
        dport: 4,
    };
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(c.classify(&k), Some(0)));
    });
}

#[test]
fn sizes_stay_small() {
    // A 200-rule NSG takes tens of KB; a rule of 3,000 prefixes adds a few
    // dozen bytes a prefix, not a bitset per prefix.
    let mut r = Rng(4);
    let mut rules: Vec<Rule> = (0..199).map(|_| rule(&mut r)).collect();
    rules.push(Rule::any());
    let c = Classifier::build(&rules);
    assert!(c.memory_bytes() < 100_000, "{} bytes", c.memory_bytes());
    rules[10].src = (0..3000)
        .map(|_| (r.next() as u32, 16 + r.below(17) as u8))
        .collect();
    let c = Classifier::build(&rules);
    assert!(c.memory_bytes() < 400_000, "{} bytes", c.memory_bytes());
}
