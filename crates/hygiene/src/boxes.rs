//! Header-space boxes (source, destination, protocol, source port, destination port; each an
//! inclusive interval) and exact set difference, for the first-match regions of rules.

pub const SRC: usize = 0;
pub const DST: usize = 1;
pub const PROTO: usize = 2;
pub const DPORT: usize = 4;

/// A box of the header space: the reach crate's, whose set difference this module uses.
pub type Bx = vnetsim_reach::space::HeaderBox;
pub use vnetsim_reach::space::subtract;

/// The headers a packet can have: TCP and UDP with every port, other protocols with ports 0.
pub fn universe() -> Vec<Bx> {
    let all = Bx {
        lo: [0; 5],
        hi: [u32::MAX, u32::MAX, 255, 65535, 65535],
    };
    let mut v = vec![all.with(PROTO, 6, 6), all.with(PROTO, 17, 17)];
    for (lo, hi) in [(0, 5), (7, 16), (18, 255)] {
        v.push(all.with(PROTO, lo, hi).with(3, 0, 0).with(DPORT, 0, 0));
    }
    v
}

/// `set` restricted to `keep`.
pub fn intersect(set: &[Bx], keep: &[Bx]) -> Vec<Bx> {
    set.iter()
        .flat_map(|a| keep.iter().filter_map(move |k| a.meet(k)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(lo: u32, hi: u32) -> Bx {
        Bx {
            lo: [lo, 0, 6, 0, 0],
            hi: [hi, 0, 6, 0, 0],
        }
    }

    #[test]
    fn difference_is_exact() {
        let r = subtract(vec![b(0, 9)], &[b(3, 5)], 100).unwrap();
        let mut got: Vec<(u32, u32)> = r.iter().map(|x| (x.lo[0], x.hi[0])).collect();
        got.sort();
        assert_eq!(got, vec![(0, 2), (6, 9)]);
        assert!(subtract(vec![b(3, 5)], &[b(0, 4), b(5, 9)], 100)
            .unwrap()
            .is_empty());
    }
}
