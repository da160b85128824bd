//! The compiled table against an obviously correct reference: a linear scan of the
//! prefixes, longest first.

use proptest::prelude::*;
use vnetsim_lpm::{BuildError, Fib, MAX_VALUE, MISS};

/// Reference table: distinct prefixes (later duplicates replace earlier ones),
/// scanned longest first.
struct Naive {
    entries: Vec<(u32, u8, u32)>,
}

impl Naive {
    fn new(routes: &[(u32, u8, u32)]) -> Naive {
        let mut entries: Vec<(u32, u8, u32)> = Vec::new();
        for &(a, l, v) in routes {
            let net = if l == 0 {
                0
            } else {
                a & (u32::MAX << (32 - l as u32))
            };
            match entries.iter_mut().find(|e| e.0 == net && e.1 == l) {
                Some(e) => e.2 = v,
                None => entries.push((net, l, v)),
            }
        }
        entries.sort_by_key(|e| std::cmp::Reverse(e.1));
        Naive { entries }
    }

    fn lookup(&self, addr: u32) -> Option<u32> {
        self.entries
            .iter()
            .find(|&&(net, l, _)| l == 0 || (addr >> (32 - l as u32)) == (net >> (32 - l as u32)))
            .map(|e| e.2)
    }
}

/// Addresses worth probing for a route set: both ends of every prefix and their
/// neighbours, plus the ends of the address space.
fn probes(routes: &[(u32, u8, u32)], extra: &[u32]) -> Vec<u32> {
    let mut v = vec![0, 1, u32::MAX, u32::MAX - 1, 0x8000_0000, 0x7FFF_FFFF];
    for &(a, l, _) in routes {
        let m = if l == 0 {
            0
        } else {
            u32::MAX << (32 - l as u32)
        };
        let lo = a & m;
        let hi = lo | !m;
        v.extend([
            lo,
            hi,
            lo.wrapping_sub(1),
            hi.wrapping_add(1),
            a,
            lo | (!m >> 1),
        ]);
    }
    v.extend_from_slice(extra);
    v
}

fn check(routes: &[(u32, u8, u32)], fib: &Fib, addrs: &[u32]) -> Result<(), TestCaseError> {
    let naive = Naive::new(routes);
    prop_assert_eq!(fib.len(), naive.entries.len());
    prop_assert_eq!(fib.is_empty(), naive.entries.is_empty());
    for &a in addrs {
        prop_assert_eq!(fib.lookup(a), naive.lookup(a), "address {:#010x}", a);
    }
    let mut out = vec![0u32; addrs.len()];
    fib.lookup_batch(addrs, &mut out);
    for (&a, &o) in addrs.iter().zip(&out) {
        prop_assert_eq!(
            o,
            naive.lookup(a).unwrap_or(MISS),
            "batch, address {:#010x}",
            a
        );
    }
    Ok(())
}

/// Route sets with much nesting: networks drawn near a few bases, any length.
fn route_set(max: usize) -> impl Strategy<Value = Vec<(u32, u8, u32)>> {
    let bases = prop::collection::vec(any::<u32>(), 1..4);
    (
        bases,
        prop::collection::vec(
            (any::<u32>(), 0u8..=32, 0u32..=MAX_VALUE, 0usize..8),
            0..max,
        ),
    )
        .prop_map(|(bases, raw)| {
            raw.into_iter()
                .map(|(r, l, v, pick)| {
                    let a = match pick {
                        // Near a base: the high bits of the base, random low bits.
                        0..=4 => bases[pick % bases.len()] ^ (r >> (r % 32)),
                        5 => bases[0],
                        _ => r,
                    };
                    (a, l, v % 1000)
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn matches_reference(routes in route_set(300), extra in prop::collection::vec(any::<u32>(), 0..200)) {
        let fib = Fib::build(&routes);
        check(&routes, &fib, &probes(&routes, &extra))?;
    }

    #[test]
    fn matches_reference_any_direct_width(
        routes in route_set(120),
        bits in 0u8..=24,
        extra in prop::collection::vec(any::<u32>(), 0..100),
    ) {
        let fib = Fib::build_with_direct_bits(&routes, bits).unwrap();
        prop_assert_eq!(fib.direct_bits(), bits as u32);
        check(&routes, &fib, &probes(&routes, &extra))?;
    }

    #[test]
    fn long_prefixes_only(
        routes in prop::collection::vec((any::<u32>(), 24u8..=32, 0u32..=MAX_VALUE), 0..200),
        extra in prop::collection::vec(any::<u32>(), 0..100),
    ) {
        let fib = Fib::build(&routes);
        check(&routes, &fib, &probes(&routes, &extra))?;
    }

    #[test]
    fn large_values(routes in prop::collection::vec((any::<u32>(), 0u8..=32, (MAX_VALUE - 3)..=MAX_VALUE), 0..50)) {
        let fib = Fib::build(&routes);
        check(&routes, &fib, &probes(&routes, &[]))?;
    }
}

#[test]
fn empty_table_misses_everything() {
    for fib in [Fib::build(&[]), Fib::default()] {
        assert_eq!(fib.len(), 0);
        assert!(fib.is_empty());
        for a in [0, 1, 0x0A00_0001, u32::MAX] {
            assert_eq!(fib.lookup(a), None);
        }
        let mut out = [7u32; 3];
        fib.lookup_batch(&[0, 5, u32::MAX], &mut out);
        assert_eq!(out, [MISS; 3]);
        assert_eq!(Fib::MISS, MISS);
        assert_eq!(MISS, u32::MAX);
    }
}

#[test]
fn default_route_only() {
    let fib = Fib::build(&[(0x0102_0304, 0, 42)]);
    assert_eq!(fib.len(), 1);
    for a in [0, 0x0A00_0001, 0xFFFF_FFFF, 0x8000_0000] {
        assert_eq!(fib.lookup(a), Some(42));
    }
}

#[test]
fn host_routes_at_the_ends_of_the_space() {
    let routes = [(0, 32, 1), (u32::MAX, 32, 2), (0, 0, 3)];
    for bits in [0, 8, 12, 20, 24] {
        let fib = Fib::build_with_direct_bits(&routes, bits).unwrap();
        assert_eq!(fib.lookup(0), Some(1));
        assert_eq!(fib.lookup(1), Some(3));
        assert_eq!(fib.lookup(u32::MAX), Some(2));
        assert_eq!(fib.lookup(u32::MAX - 1), Some(3));
    }
}

#[test]
fn nested_prefixes_and_later_duplicates_win() {
    let routes = [
        (0x0A00_0000, 8, 1),  // 10.0.0.0/8
        (0x0A01_0000, 16, 2), // 10.1.0.0/16
        (0x0A01_0200, 24, 3), // 10.1.2.0/24
        (0x0A01_0203, 32, 4), // 10.1.2.3/32
        (0x0A01_02FF, 24, 5), // 10.1.2.0/24 again, host bits set: replaces 3
    ];
    let fib = Fib::build(&routes);
    assert_eq!(fib.len(), 4);
    assert_eq!(fib.lookup(0x0A01_0203), Some(4));
    assert_eq!(fib.lookup(0x0A01_0204), Some(5));
    assert_eq!(fib.lookup(0x0A01_0304), Some(2));
    assert_eq!(fib.lookup(0x0A02_0000), Some(1));
    assert_eq!(fib.lookup(0x0B00_0000), None);
    assert_eq!(fib.lookup(0x09FF_FFFF), None);
}

#[test]
fn batch_of_any_length() {
    let routes: Vec<(u32, u8, u32)> = (0..500u32)
        .map(|i| (i.wrapping_mul(0x9E37_79B9), (i % 33) as u8, i))
        .collect();
    let fib = Fib::build(&routes);
    let naive = Naive::new(&routes);
    for n in [0usize, 1, 63, 64, 65, 200, 1000] {
        let addrs: Vec<u32> = (0..n as u32)
            .map(|i| i.wrapping_mul(0x85EB_CA6B) ^ 0x1234_5678)
            .collect();
        let mut out = vec![0u32; n];
        fib.lookup_batch(&addrs, &mut out);
        for (&a, &o) in addrs.iter().zip(&out) {
            assert_eq!(o, naive.lookup(a).unwrap_or(MISS));
        }
    }
}

#[test]
#[should_panic]
fn batch_lengths_must_agree() {
    Fib::build(&[]).lookup_batch(&[1, 2], &mut [0]);
}

#[test]
fn bad_routes_are_errors() {
    assert_eq!(
        Fib::try_build(&[(0, 8, 1), (0, 33, 1)]).unwrap_err(),
        BuildError::PrefixLength { index: 1, len: 33 }
    );
    assert_eq!(
        Fib::try_build(&[(0, 8, MAX_VALUE + 1)]).unwrap_err(),
        BuildError::Value {
            index: 0,
            value: MAX_VALUE + 1
        }
    );
    assert_eq!(
        Fib::build_with_direct_bits(&[], 25).unwrap_err(),
        BuildError::DirectBits(25)
    );
    assert!(std::panic::catch_unwind(|| Fib::build(&[(0, 0, u32::MAX)])).is_err());
}

#[test]
fn small_tables_stay_small() {
    // A few hundred routes: kilobytes, not megabytes.
    let routes: Vec<(u32, u8, u32)> = (0..300u32)
        .map(|i| {
            (
                0x0A00_0000 | (i.wrapping_mul(0x0001_3579) & 0x00FF_FFFF),
                [16, 24, 32][i as usize % 3],
                i,
            )
        })
        .collect();
    let fib = Fib::build(&routes);
    assert!(
        fib.memory_bytes() < 64 * 1024,
        "{} bytes",
        fib.memory_bytes()
    );
    assert!(Fib::build(&[(0, 0, 1)]).memory_bytes() <= 64);
}

#[test]
fn shared_between_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Fib>();
    let fib = std::sync::Arc::new(Fib::build(&[(0x0A00_0000, 8, 9)]));
    let f2 = fib.clone();
    let h = std::thread::spawn(move || f2.lookup(0x0A01_0101));
    assert_eq!(h.join().unwrap(), Some(9));
    assert_eq!(fib.clone().lookup(0x0B00_0000), None);
}
