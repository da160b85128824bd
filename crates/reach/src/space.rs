//! Boxes of the header space and the cut points that divide them.
//!
//! A header is five numbers: source address, destination address, protocol, source port,
//! destination port. A [`HeaderBox`] is a product of one inclusive interval per dimension. A
//! cut `c` on a dimension says "an answer may change between `c - 1` and `c`"; a box is cut
//! by `c` when `lo < c <= hi`.

use vnetsim_engine::Flow;

pub const SRC: usize = 0;
pub const DST: usize = 1;
pub const PROTO: usize = 2;
pub const SPORT: usize = 3;
pub const DPORT: usize = 4;

/// The dimensions in the order boxes are split: the destination decides most, then the
/// protocol and ports, then the source.
pub const SPLIT_ORDER: [usize; 5] = [DST, PROTO, DPORT, SPORT, SRC];

/// A product of inclusive intervals, one per dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeaderBox {
    pub lo: [u32; 5],
    pub hi: [u32; 5],
}

impl HeaderBox {
    pub fn new(
        src: (u32, u32),
        dst: (u32, u32),
        proto: (u32, u32),
        sport: (u32, u32),
        dport: (u32, u32),
    ) -> HeaderBox {
        HeaderBox {
            lo: [src.0, dst.0, proto.0, sport.0, dport.0],
            hi: [src.1, dst.1, proto.1, sport.1, dport.1],
        }
    }
    /// The header a box is walked with: its lowest corner.
    pub fn representative(&self) -> Flow {
        Flow {
            src: self.lo[SRC],
            dst: self.lo[DST],
            proto: self.lo[PROTO] as u8,
            sport: self.lo[SPORT] as u16,
            dport: self.lo[DPORT] as u16,
        }
    }
    pub fn contains(&self, f: &Flow) -> bool {
        let v = [f.src, f.dst, f.proto as u32, f.sport as u32, f.dport as u32];
        (0..5).all(|d| self.lo[d] <= v[d] && v[d] <= self.hi[d])
    }
    /// Number of headers in the box.
    pub fn volume(&self) -> u128 {
        (0..5)
            .map(|d| (self.hi[d] - self.lo[d]) as u128 + 1)
            .product()
    }
    /// The headers in both boxes, if any.
    pub fn meet(&self, o: &HeaderBox) -> Option<HeaderBox> {
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
    /// The box restricted to `[lo, hi]` on dimension `d`.
    pub fn with(&self, d: usize, lo: u32, hi: u32) -> HeaderBox {
        let mut b = *self;
        b.lo[d] = lo;
        b.hi[d] = hi;
        b
    }
}

/// Cut points found for one box, per dimension (only those inside the box are kept).
#[derive(Clone, Debug, Default)]
pub struct Cuts {
    pub d: [Vec<u32>; 5],
}

impl Cuts {
    pub fn clear(&mut self) {
        for v in &mut self.d {
            v.clear();
        }
    }
}

/// Splits `b` along the first dimension of [`SPLIT_ORDER`] that `cuts` divide; `None` when no
/// cut falls inside the box (the box is a class).
pub fn split(b: &HeaderBox, cuts: &mut Cuts) -> Option<Vec<HeaderBox>> {
    for d in SPLIT_ORDER {
        let v = &mut cuts.d[d];
        v.retain(|&c| b.lo[d] < c && c <= b.hi[d]);
        if v.is_empty() {
            continue;
        }
        v.sort_unstable();
        v.dedup();
        let mut out = Vec::with_capacity(v.len() + 1);
        let mut lo = b.lo[d];
        for &c in v.iter() {
            out.push(b.with(d, lo, c - 1));
            lo = c;
        }
        out.push(b.with(d, lo, b.hi[d]));
        return Some(out);
    }
    None
}

/// Merges boxes that differ on one dimension only and touch there, until none do.
/// `a` minus `b`: the part of `a` outside `b`, at most two boxes per dimension.
fn minus(a: &HeaderBox, b: &HeaderBox, out: &mut Vec<HeaderBox>) {
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

/// The headers of `set` in no box of `cut` (exact set difference, disjoint boxes in, disjoint
/// boxes out, not merged); `None` when the result would pass `limit` boxes.
pub fn subtract(set: Vec<HeaderBox>, cut: &[HeaderBox], limit: usize) -> Option<Vec<HeaderBox>> {
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

pub fn merge(mut boxes: Vec<HeaderBox>) -> Vec<HeaderBox> {
    loop {
        let before = boxes.len();
        for d in SPLIT_ORDER {
            boxes = merge_along(boxes, d);
        }
        if boxes.len() == before {
            boxes.sort();
            return boxes;
        }
    }
}

fn merge_along(mut boxes: Vec<HeaderBox>, d: usize) -> Vec<HeaderBox> {
    let others = |b: &HeaderBox| {
        let mut k = [0u32; 8];
        let mut i = 0;
        for e in 0..5 {
            if e != d {
                k[i] = b.lo[e];
                k[i + 1] = b.hi[e];
                i += 2;
            }
        }
        k
    };
    boxes.sort_by_key(|b| (others(b), b.lo[d]));
    let mut out: Vec<HeaderBox> = Vec::with_capacity(boxes.len());
    for b in boxes {
        if let Some(last) = out.last_mut() {
            if others(last) == others(&b) && last.hi[d].checked_add(1) == Some(b.lo[d]) {
                last.hi[d] = b.hi[d];
                continue;
            }
        }
        out.push(b);
    }
    out
}

/// Sorted, disjoint, non-touching intervals covering the same values as `v`.
pub fn union(mut v: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    v.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if lo as u64 <= last.1 as u64 + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// The values of `[0, max]` outside the sorted disjoint intervals `v`.
pub fn complement(v: &[(u32, u32)], max: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut next: u64 = 0;
    for &(lo, hi) in v {
        if (lo as u64) > next {
            out.push((next as u32, lo - 1));
        }
        next = hi as u64 + 1;
    }
    if next <= max as u64 {
        out.push((next as u32, max));
    }
    out
}

/// The smallest list of CIDR blocks covering exactly `[lo, hi]`.
pub fn cidrs(lo: u32, hi: u32) -> Vec<(u32, u8)> {
    let mut out = Vec::new();
    let (mut lo, hi) = (lo as u64, hi as u64);
    while lo <= hi {
        let mut len = 32u8;
        while len > 0 {
            let size = 1u64 << (32 - (len - 1));
            if lo % size != 0 || lo + size - 1 > hi {
                break;
            }
            len -= 1;
        }
        out.push((lo as u32, len));
        lo += 1u64 << (32 - len);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_cuts_the_first_divided_dimension_only() {
        let b = HeaderBox::new((1, 1), (0, 99), (6, 6), (0, 10), (0, 10));
        let mut c = Cuts::default();
        c.d[DST] = vec![50, 0, 100, 50];
        c.d[DPORT] = vec![5];
        let v = split(&b, &mut c).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].lo[DST], v[0].hi[DST]), (0, 49));
        assert_eq!((v[1].lo[DST], v[1].hi[DST]), (50, 99));
        assert_eq!(v[0].hi[DPORT], 10);
        let mut none = Cuts::default();
        none.d[SRC] = vec![1, 2];
        assert!(split(&b, &mut none).is_none());
    }

    #[test]
    fn merge_joins_touching_boxes_back() {
        let b = HeaderBox::new((1, 1), (0, 99), (6, 6), (0, 10), (0, 10));
        let mut c = Cuts::default();
        c.d[DST] = vec![10, 20, 30];
        let pieces = split(&b, &mut c).unwrap();
        let mut more = Vec::new();
        for p in pieces {
            let mut c = Cuts::default();
            c.d[DPORT] = vec![3, 7];
            more.extend(split(&p, &mut c).unwrap());
        }
        assert_eq!(more.len(), 12);
        assert_eq!(merge(more), vec![b]);
    }

    #[test]
    fn cidr_blocks_and_complements() {
        assert_eq!(cidrs(0x0A00_0000, 0x0AFF_FFFF), vec![(0x0A00_0000, 8)]);
        assert_eq!(cidrs(0, u32::MAX), vec![(0, 0)]);
        assert_eq!(cidrs(1, 2), vec![(1, 32), (2, 32)]);
        assert_eq!(complement(&[(0, 9), (20, 65535)], 65535), vec![(10, 19)]);
        assert_eq!(
            union(vec![(5, 9), (0, 4), (20, 30)]),
            vec![(0, 9), (20, 30)]
        );
    }
}
