//! Header-space boxes (source, destination, protocol, source port, destination port; each an
//! inclusive interval) and exact set difference, for the first-match regions of rules.

pub const SRC: usize = 0;
pub const DST: usize = 1;
pub const PROTO: usize = 2;
pub const DPORT: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bx {
    pub lo: [u32; 5],
    pub hi: [u32; 5],
}

impl Bx {
    pub fn meet(&self, o: &Bx) -> Option<Bx> {
        let mut b = *self;
        for d in 0..5 {
            b.lo[d] = self.lo[d].max(o.lo[d]);
            b.hi[d] = self.hi[d].min(o.hi[d]);
            if b.lo[d] > b.hi[d] {
                return None;
            }
        }
        Some(b)
    }
    pub fn with(&self, d: usize, lo: u32, hi: u32) -> Bx {
        let mut b = *self;
        b.lo[d] = lo;
        b.hi[d] = hi;
        b
    }
}

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

/// `a` minus `b`: at most ten boxes.
fn minus(a: &Bx, b: &Bx, out: &mut Vec<Bx>) {
    if a.meet(b).is_none() {
        out.push(*a);
        return;
    }
    let mut rest = *a;
    for d in 0..5 {
        if rest.lo[d] < b.lo[d] {
            out.push(rest.with(d, rest.lo[d], b.lo[d] - 1));
            rest.lo[d] = b.lo[d];
        }
        if rest.hi[d] > b.hi[d] {
            out.push(rest.with(d, b.hi[d] + 1, rest.hi[d]));
            rest.hi[d] = b.hi[d];
        }
    }
}

/// `set` minus every box of `cut`; `None` when the result would exceed `limit` boxes.
pub fn subtract(set: Vec<Bx>, cut: &[Bx], limit: usize) -> Option<Vec<Bx>> {
    let mut cur = set;
    for c in cut {
        let mut next = Vec::with_capacity(cur.len());
        for a in &cur {
            minus(a, c, &mut next);
        }
        if next.len() > limit {
            return None;
        }
        cur = next;
        if cur.is_empty() {
            break;
        }
    }
    Some(cur)
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
