//! A first-match rule table's cuts, found per box from the rules that can decide inside it.
//!
//! A table's static cut points (every start and end of every rule, [`crate::tables`]) are
//! sound but coarse: a 200-rule NSG cuts every box that reaches it at every port and prefix
//! any of its rules names, although most of those rules can never match a header of the box.
//! [`RuleCuts`] keeps, per dimension, the elementary intervals of the table's rules with the
//! set of rules holding each (a bitset, in rule order), and gives for a box only the cuts
//! that can change the first match inside it:
//!
//! - a rule that misses the box along some dimension matches none of its headers;
//! - rules after the first rule that holds the whole box (its *cover*) are never first;
//! - so a start along dimension `d` matters only where the set of rules holding the two
//!   intervals either side of it differs by a rule that meets the box along every other
//!   dimension and is not after the cover.
//!
//! A box none of these cuts divides is one in which each rule that can match is either
//! after the cover or holds the whole box: every header of it has the same first match (the
//! cover, or no rule at all when none meets the box), which is what the walk needs from the
//! table.

use vnetsim_fabric::classify::{Protocols, Rule};

/// A rule table as bitsets per elementary interval along each dimension (in the
/// orientation of [`crate::tables::NodeCuts`]: source, destination, protocol, source port,
/// destination port).
#[derive(Clone, Debug)]
pub struct RuleCuts {
    /// 64-bit words per bitset.
    words: usize,
    dims: [Dim; 5],
}

#[derive(Clone, Debug, Default)]
struct Dim {
    /// `starts[0] == 0`, strictly increasing: interval `i` runs from `starts[i]` to the next
    /// start less one (the last to `u32::MAX`).
    starts: Vec<u32>,
    /// Per interval, `words` words: bit `r` when rule `r` holds the interval.
    bits: Vec<u64>,
}

/// Scratch space for [`RuleCuts::cuts_in`], kept by the caller between calls so that a call
/// allocates nothing once it has grown.
#[derive(Clone, Debug, Default)]
pub struct Work {
    words: Vec<u64>,
}

impl Dim {
    fn new(ranges: &[Vec<(u32, u32)>], words: usize) -> Dim {
        let mut starts = vec![0u32];
        for (lo, hi) in ranges.iter().flatten() {
            starts.push(*lo);
            starts.extend(hi.checked_add(1));
        }
        starts.sort_unstable();
        starts.dedup();
        let mut bits = vec![0u64; starts.len() * words];
        for (r, rs) in ranges.iter().enumerate() {
            for &(lo, hi) in rs {
                let (a, b) = (interval(&starts, lo), interval(&starts, hi));
                for i in a..=b {
                    bits[i * words + r / 64] |= 1 << (r % 64);
                }
            }
        }
        Dim { starts, bits }
    }
    fn row(&self, i: usize, words: usize) -> &[u64] {
        &self.bits[i * words..(i + 1) * words]
    }
}

/// The interval of `starts` holding `x`.
fn interval(starts: &[u32], x: u32) -> usize {
    starts.partition_point(|&s| s <= x) - 1
}

fn prefix((a, l): (u32, u8)) -> (u32, u32) {
    let m = vnetsim_fabric::lpm::netmask(l);
    (a & m, (a & m) | !m)
}

fn ports(v: &[(u16, u16)]) -> Vec<(u32, u32)> {
    v.iter()
        .filter(|(lo, hi)| lo <= hi)
        .map(|&(lo, hi)| (lo as u32, hi as u32))
        .collect()
}

impl RuleCuts {
    /// The bitsets of `rules` (first match wins, in list order), read as the classifier
    /// reads them (see `vnetsim_classify`: an empty list matches nothing, a reversed port
    /// range is empty).
    pub fn new(rules: &[Rule]) -> RuleCuts {
        let words = rules.len().div_ceil(64).max(1);
        let per = |f: &dyn Fn(&Rule) -> Vec<(u32, u32)>| {
            let v: Vec<Vec<(u32, u32)>> = rules.iter().map(f).collect();
            Dim::new(&v, words)
        };
        RuleCuts {
            words,
            dims: [
                per(&|r| r.src.iter().copied().map(prefix).collect()),
                per(&|r| r.dst.iter().copied().map(prefix).collect()),
                per(&|r| match &r.protocols {
                    Protocols::Any => vec![(0, 255)],
                    Protocols::Set(v) => v.iter().map(|&p| (p as u32, p as u32)).collect(),
                }),
                per(&|r| ports(&r.sport)),
                per(&|r| ports(&r.dport)),
            ],
        }
    }

    /// Adds to `out[map[i]]` the starts inside `[lo[i], hi[i]]` at which the first match of
    /// a header of the box `lo..=hi` can change (see the module documentation). Dimensions
    /// with `skip[i]` get no cuts: the caller passes them as their whole range (their value
    /// at this table is not the box's, e.g. a field a rewrite made constant).
    pub fn cuts_in(
        &self,
        lo: &[u32; 5],
        hi: &[u32; 5],
        skip: &[bool; 5],
        map: &[usize; 5],
        work: &mut Work,
        out: &mut [Vec<u32>; 5],
    ) {
        let mut span = [(0usize, 0usize); 5];
        let mut divided = false;
        for d in 0..5 {
            let s = &self.dims[d].starts;
            span[d] = (interval(s, lo[d]), interval(s, hi[d]));
            divided |= !skip[d] && span[d].0 < span[d].1;
        }
        if !divided {
            return;
        }
        let w = self.words;
        // Words 0..5w: per dimension, the rules meeting the box along it; 5w..6w: the rules
        // that may decide inside it; 6w..7w: scratch.
        work.words.clear();
        work.words.resize(7 * w, 0);
        let (meet, rest) = work.words.split_at_mut(5 * w);
        let (live, other) = rest.split_at_mut(w);
        live.fill(u64::MAX);
        for d in 0..5 {
            let m = &mut meet[d * w..(d + 1) * w];
            let (a, b) = span[d];
            for i in a..=b {
                let row = self.dims[d].row(i, w);
                for k in 0..w {
                    m[k] |= row[k];
                    if i == a {
                        other[k] = row[k];
                    } else {
                        other[k] &= row[k];
                    }
                }
            }
            for k in 0..w {
                // `live` gathers the rules holding the whole box (AND of `other`).
                live[k] &= other[k];
            }
        }
        keep_through_first(live);
        for d in 0..5 {
            let (a, b) = span[d];
            if skip[d] || a == b {
                continue;
            }
            // The rules that may decide, meeting the box along every dimension but `d`.
            for k in 0..w {
                other[k] = live[k];
                for e in (0..5).filter(|&e| e != d) {
                    other[k] &= meet[e * w + k];
                }
            }
            if other.iter().all(|&x| x == 0) {
                continue;
            }
            let dim = &self.dims[d];
            for i in a..b {
                let (x, y) = (dim.row(i, w), dim.row(i + 1, w));
                if (0..w).any(|k| (x[k] ^ y[k]) & other[k] != 0) {
                    out[map[d]].push(dim.starts[i + 1]);
                }
            }
        }
    }
}

/// Turns `holding` (the rules holding the whole box) into the mask of rules up to and
/// including the first of them: every rule when none holds it.
fn keep_through_first(holding: &mut [u64]) {
    let Some(k) = holding.iter().position(|&x| x != 0) else {
        holding.fill(u64::MAX);
        return;
    };
    let bit = holding[k].trailing_zeros();
    for (j, x) in holding.iter_mut().enumerate() {
        *x = match j.cmp(&k) {
            std::cmp::Ordering::Less => u64::MAX,
            std::cmp::Ordering::Equal => u64::MAX >> (63 - bit),
            std::cmp::Ordering::Greater => 0,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(src: (u32, u8), dports: &[(u16, u16)]) -> Rule {
        Rule {
            protocols: Protocols::Any,
            src: vec![src],
            dst: vec![(0, 0)],
            sport: vec![(0, 65535)],
            dport: dports.to_vec(),
        }
    }

    fn cuts(t: &RuleCuts, lo: [u32; 5], hi: [u32; 5]) -> [Vec<u32>; 5] {
        let mut out: [Vec<u32>; 5] = Default::default();
        let id = [0, 1, 2, 3, 4];
        t.cuts_in(&lo, &hi, &[false; 5], &id, &mut Work::default(), &mut out);
        out
    }

    const ALL_HI: [u32; 5] = [u32::MAX, u32::MAX, 255, 65535, 65535];

    #[test]
    fn a_rule_that_misses_the_box_gives_no_cut() {
        // Rule 0 allows 10.0.0.0/8 to port 22; rule 1 everyone to 443.
        let t = RuleCuts::new(&[
            rule((0x0a00_0000, 8), &[(22, 22)]),
            rule((0, 0), &[(443, 443)]),
        ]);
        // From 192.168.0.1 only: port 22 is no boundary, 443 is.
        let src = 0xc0a8_0001;
        let c = cuts(&t, [src, 0, 0, 0, 0], [src, u32::MAX, 255, 65535, 65535]);
        assert_eq!(c[4], vec![443, 444]);
        // From everywhere: the source splits at 10.0.0.0/8 and both ports count.
        let c = cuts(&t, [0; 5], ALL_HI);
        assert_eq!(c[0], vec![0x0a00_0000, 0x0b00_0000]);
        assert_eq!(c[4], vec![22, 23, 443, 444]);
    }

    #[test]
    fn rules_after_one_holding_the_whole_box_give_no_cut() {
        // Rule 0 holds every header to ports 0-1000; rule 1 names port 22 inside it.
        let t = RuleCuts::new(&[rule((0, 0), &[(0, 1000)]), rule((0, 0), &[(22, 22)])]);
        let c = cuts(&t, [0, 0, 0, 0, 0], [u32::MAX, u32::MAX, 255, 65535, 500]);
        assert!(c.iter().all(|v| v.is_empty()), "{c:?}");
        // A box reaching past 1000: no rule holds all of it, so every end of a rule meeting
        // it counts (the test is by sets of rules, a superset of the cuts that matter).
        let c = cuts(&t, [0, 0, 0, 0, 0], [u32::MAX, u32::MAX, 255, 65535, 2000]);
        assert_eq!(c[4], vec![22, 23, 1001]);
    }

    #[test]
    fn within_one_interval_of_every_dimension_nothing_is_cut() {
        let t = RuleCuts::new(&[rule((0x0a00_0000, 8), &[(22, 22)])]);
        let c = cuts(&t, [0x0a00_0001, 5, 6, 1, 22], [0x0a00_00ff, 9, 6, 9, 22]);
        assert!(c.iter().all(|v| v.is_empty()), "{c:?}");
    }

    #[test]
    fn the_cover_mask_keeps_rules_up_to_the_first() {
        let mut m = [0u64, 0b1000, 0b1];
        keep_through_first(&mut m);
        assert_eq!(m, [u64::MAX, 0b1111, 0]);
        let mut none = [0u64; 2];
        keep_through_first(&mut none);
        assert_eq!(none, [u64::MAX; 2]);
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Random rules over a small space (addresses 0-255 in four /26 and /28 blocks, ports
    /// 0-99), more than one bitset word of them.
    fn random_rules(r: &mut Rng, n: usize) -> Vec<Rule> {
        let prefix = |r: &mut Rng| match r.below(3) {
            0 => (0, 0),
            1 => ((r.below(4) * 64) as u32, 26),
            _ => ((r.below(16) * 16) as u32, 28),
        };
        let range = |r: &mut Rng| {
            let lo = r.below(100) as u16;
            (lo, lo + r.below(20) as u16)
        };
        (0..n)
            .map(|_| Rule {
                protocols: match r.below(3) {
                    0 => Protocols::Any,
                    _ => Protocols::Set(vec![[6, 17][r.below(2) as usize]]),
                },
                src: vec![prefix(r)],
                dst: vec![prefix(r), prefix(r)],
                sport: vec![(0, 65535)],
                dport: vec![range(r)],
            })
            .collect()
    }

    /// Within every piece the cuts leave of a random box, every header has the same first
    /// match, by the plain first-match definition (`classify_linear`).
    #[test]
    fn every_piece_has_one_first_match() {
        use vnetsim_fabric::classify::{classify_linear, Key};
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..40 {
            let rules = random_rules(&mut r, 70 + case);
            let t = RuleCuts::new(&rules);
            let mut work = Work::default();
            for _ in 0..20 {
                let (s0, d0, p0) = (r.below(200) as u32, r.below(200) as u32, r.below(60) as u32);
                let lo = [s0, d0, 6, 0, p0];
                let hi = [
                    s0 + r.below(56) as u32,
                    d0 + r.below(56) as u32,
                    17,
                    0,
                    p0 + 40,
                ];
                let mut out: [Vec<u32>; 5] = Default::default();
                t.cuts_in(&lo, &hi, &[false; 5], &[0, 1, 2, 3, 4], &mut work, &mut out);
                // The piece of each header: its count of cuts at or below it, per dimension.
                let piece = |k: &Key| {
                    let v = [k.src, k.dst, k.proto as u32, 0, k.dport as u32];
                    (0..5)
                        .map(|d| out[d].iter().filter(|&&c| c <= v[d]).count())
                        .collect::<Vec<_>>()
                };
                let mut first: std::collections::HashMap<Vec<usize>, Option<u32>> =
                    Default::default();
                for _ in 0..300 {
                    let k = Key {
                        src: lo[0] + r.below((hi[0] - lo[0] + 1) as u64) as u32,
                        dst: lo[1] + r.below((hi[1] - lo[1] + 1) as u64) as u32,
                        proto: [6, 17][r.below(2) as usize],
                        sport: 0,
                        dport: (lo[4] + r.below(41) as u32) as u16,
                    };
                    let m = classify_linear(&rules, &k);
                    let seen = *first.entry(piece(&k)).or_insert(m);
                    assert_eq!(seen, m, "case {case}: {k:?} in a piece with rule {seen:?}");
                }
            }
        }
    }

    #[test]
    fn a_cover_past_the_first_word_stops_later_rules() {
        // 100 rules naming one port each (port i), then at 100 a rule holding ports 0-999,
        // then 30 more naming ports 0-29 again.
        let mut rules: Vec<Rule> = (0..100).map(|i| rule((0, 0), &[(i, i)])).collect();
        rules.push(rule((0, 0), &[(0, 999)]));
        rules.extend((0..30).map(|i| rule((0, 0), &[(i, i)])));
        let t = RuleCuts::new(&rules);
        // Ports 200-300: only the cover meets them, nothing cuts.
        let c = cuts(&t, [0, 0, 0, 0, 200], [u32::MAX, u32::MAX, 255, 65535, 300]);
        assert!(c[4].is_empty(), "{c:?}");
        // Ports 50-60: rules 50-60 meet the box; the cover holds it, and the later rules
        // (none here) would not count: cuts at 51..=60.
        let c = cuts(&t, [0, 0, 0, 0, 50], [u32::MAX, u32::MAX, 255, 65535, 60]);
        assert_eq!(c[4], (51..=60).collect::<Vec<u32>>());
    }
}
