//! `--shard I/N`: one deterministic part of a job, for running a job across machines with no
//! distributed engine (one process per part, anywhere).
//!
//! - A sweep's part `I` of `N` is a contiguous range of the matrix's cells, in matrix order:
//!   cells `len * I / N .. len * (I + 1) / N`. The N parts' rows, concatenated in part order,
//!   are the unsharded rows in the same order.
//! - A replay's part `I` of `N` is the flows whose canonical bidirectional 5-tuple hashes to
//!   `I` ([`vnetsim_engine::replay::flow_shard`], 64-bit FNV-1a modulo N), so both directions
//!   of a flow, and so all its packets, stay in one part. Each part reads every capture; rows
//!   keep the order of first appearance within the part.

use std::ops::Range;

/// Part `index` (0-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole job.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with `0 <= I < N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard '{s}'; expected I/N with 0 <= I < N, like 0/4");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// This part's cells of a matrix of `len` cells: a contiguous range, the parts in order
    /// covering `0..len` exactly once.
    pub fn cells(&self, len: u64) -> Range<u64> {
        let at = |k: u32| (len as u128 * k as u128 / self.count as u128) as u64;
        at(self.index)..at(self.index + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_matrix_once_in_order() {
        for len in [0u64, 1, 6, 7, 1000, u64::MAX / 3] {
            for n in [1u32, 2, 7, 13] {
                let mut next = 0;
                for i in 0..n {
                    let r = Shard { index: i, count: n }.cells(len);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, len);
            }
        }
    }

    #[test]
    fn bad_shards_are_refused() {
        for s in ["", "1", "2/2", "0/0", "-1/3", "a/b", "1/2/3"] {
            assert!(Shard::parse(s).is_err(), "{s}");
        }
        assert_eq!(Shard::parse("6/7").unwrap(), Shard { index: 6, count: 7 });
    }
}
