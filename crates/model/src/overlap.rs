//! Overlaps among address prefixes in O(n log n): sort by first address,
//! sweep, and binary searches over a running maximum of last addresses.
//! Validation uses these instead of comparing every pair, so a file with
//! thousands of overlapping address spaces costs no more than a sort.

use ipnet::Ipv4Net;

/// First and last address of a prefix, as integers.
fn bounds(p: &Ipv4Net) -> (u32, u32) {
    (u32::from(p.network()), u32::from(p.broadcast()))
}

/// Pairs of overlapping prefixes, each as (later, earlier) in declaration
/// order. A sweep in address order pairs every prefix that overlaps one
/// before it with the one reaching furthest, so every prefix that overlaps
/// any other is in at least one pair, and there are fewer pairs than
/// prefixes. Pairs come in address order.
pub fn overlapping_pairs(prefixes: &[Ipv4Net]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..prefixes.len()).collect();
    // Larger prefixes first at the same address, then declaration order.
    order.sort_by_key(|&i| {
        let (first, last) = bounds(&prefixes[i]);
        (first, std::cmp::Reverse(last), i)
    });
    let mut pairs = Vec::new();
    let mut cover: Option<(usize, u32)> = None;
    for i in order {
        let (first, last) = bounds(&prefixes[i]);
        match cover {
            Some((c, reach)) if first <= reach => pairs.push((i.max(c), i.min(c))),
            _ => {}
        }
        if cover.is_none_or(|(_, reach)| last > reach) {
            cover = Some((i, last));
        }
    }
    pairs
}

/// A set of prefixes sorted by first address, answering "does any of them
/// overlap (or contain) this prefix" with one binary search.
#[derive(Clone, Debug, Default)]
pub struct PrefixIndex {
    /// First addresses, ascending.
    firsts: Vec<u32>,
    /// For each position, the furthest last address among the prefixes up to
    /// it, and which prefix (declaration index) reaches it.
    reach: Vec<(u32, usize)>,
}

impl PrefixIndex {
    pub fn new(prefixes: &[Ipv4Net]) -> Self {
        let mut order: Vec<usize> = (0..prefixes.len()).collect();
        order.sort_by_key(|&i| (bounds(&prefixes[i]).0, i));
        let firsts = order.iter().map(|&i| bounds(&prefixes[i]).0).collect();
        let mut reach: Vec<(u32, usize)> = Vec::with_capacity(order.len());
        for &i in &order {
            let last = bounds(&prefixes[i]).1;
            let best = match reach.last() {
                Some(&(r, j)) if r >= last => (r, j),
                _ => (last, i),
            };
            reach.push(best);
        }
        PrefixIndex { firsts, reach }
    }

    /// The prefix reaching furthest among those starting at or before `addr`.
    fn furthest_from(&self, addr: u32) -> Option<(u32, usize)> {
        let n = self.firsts.partition_point(|&f| f <= addr);
        n.checked_sub(1).map(|k| self.reach[k])
    }

    /// A prefix of the set that overlaps `p` (declaration index), if any.
    pub fn overlapping(&self, p: &Ipv4Net) -> Option<usize> {
        let (first, last) = bounds(p);
        match self.furthest_from(last) {
            Some((reach, i)) if reach >= first => Some(i),
            _ => None,
        }
    }

    /// Whether a prefix of the set contains all of `p`.
    pub fn contains(&self, p: &Ipv4Net) -> bool {
        let (first, last) = bounds(p);
        matches!(self.furthest_from(first), Some((reach, _)) if reach >= last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &[&str]) -> Vec<Ipv4Net> {
        s.iter().map(|x| x.parse().unwrap()).collect()
    }

    /// Every pair compared: the reference the sweep must agree with.
    fn brute(p: &[Ipv4Net]) -> Vec<bool> {
        (0..p.len())
            .map(|i| {
                (0..p.len()).any(|j| {
                    i != j && (p[i].contains(&p[j].network()) || p[j].contains(&p[i].network()))
                })
            })
            .collect()
    }

    #[test]
    fn sweep_finds_every_overlapping_prefix() {
        let p = nets(&[
            "10.0.2.0/24",
            "10.0.2.128/25",
            "10.1.0.0/16",
            "10.0.0.0/16",
            "192.168.0.0/24",
            "10.0.2.128/25",
            "10.2.0.0/16",
        ]);
        let pairs = overlapping_pairs(&p);
        let mut seen = vec![false; p.len()];
        for &(later, earlier) in &pairs {
            assert!(later > earlier);
            assert!(
                p[later].contains(&p[earlier].network())
                    || p[earlier].contains(&p[later].network())
            );
            seen[later] = true;
            seen[earlier] = true;
        }
        assert_eq!(seen, brute(&p));
        assert!(pairs.len() < p.len());
    }

    #[test]
    fn index_answers_overlap_and_containment() {
        let set = nets(&["10.0.0.0/16", "10.2.0.0/24", "172.16.0.0/12"]);
        let ix = PrefixIndex::new(&set);
        let q = |s: &str| s.parse::<Ipv4Net>().unwrap();
        // Both 10.x prefixes overlap 10.0.0.0/8; the one reaching furthest is named.
        assert_eq!(ix.overlapping(&q("10.0.0.0/8")), Some(1));
        assert_eq!(ix.overlapping(&q("10.0.5.0/24")), Some(0));
        assert_eq!(ix.overlapping(&q("10.2.0.128/25")), Some(1));
        assert_eq!(ix.overlapping(&q("172.20.0.0/16")), Some(2));
        assert_eq!(ix.overlapping(&q("10.1.0.0/16")), None);
        assert_eq!(ix.overlapping(&q("192.168.0.0/16")), None);
        assert!(ix.contains(&q("10.0.1.0/24")));
        assert!(!ix.contains(&q("10.2.0.0/23")));
        assert!(!ix.contains(&q("10.1.0.0/24")));
        assert!(PrefixIndex::new(&[]).overlapping(&q("0.0.0.0/0")).is_none());
    }
}
