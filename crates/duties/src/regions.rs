//! The reachability an influence changes, for every header rather than a sample: the
//! `vnetsim-reach` regions of the fabric today and of the counterfactual (the same fabric
//! without A's contribution), and the header space whose reachability differs between them,
//! per source and destination.

use std::collections::BTreeMap;

use vnetsim_engine::sweep::{resolve, Side};
use vnetsim_engine::Outcome;
use vnetsim_fabric::Fabric;
use vnetsim_reach as reach;
use vnetsim_reach::space::{merge, HeaderBox};

use vnetsim_jobs::Job;

/// Boxes a difference may hold before the comparison gives up (and says so).
pub const BOXES_MAX: usize = 200_000;

/// Headers that became reachable (or stopped being) between one source and one destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionChange {
    pub from: String,
    pub to: String,
    /// Reachable today and not without A's contribution (else the reverse).
    pub gained: bool,
    pub src: String,
    pub dst: String,
    pub protocols: String,
    pub headers: u128,
}

/// What the comparison found: the changes, the classes walked on both sides, or why it
/// could not be made.
#[derive(Clone, Debug, Default)]
pub struct Changed {
    pub changes: Vec<RegionChange>,
    pub classes: u64,
    pub not_evaluated: Option<String>,
}

/// `a` without `b`: up to two boxes per dimension, the part of `a` outside `b`.
fn minus(a: &HeaderBox, b: &HeaderBox, out: &mut Vec<HeaderBox>) {
    if (0..5).any(|d| a.hi[d] < b.lo[d] || b.hi[d] < a.lo[d]) {
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

/// The headers of `a` in no box of `b` (both disjoint box lists), merged; `None` past
/// [`BOXES_MAX`].
pub fn difference(a: &[HeaderBox], b: &[HeaderBox]) -> Option<Vec<HeaderBox>> {
    let mut cur: Vec<HeaderBox> = a.to_vec();
    for bb in b {
        let mut next = Vec::with_capacity(cur.len());
        for x in &cur {
            minus(x, bb, &mut next);
        }
        if next.len() > BOXES_MAX {
            return None;
        }
        cur = next;
    }
    Some(merge(cur))
}

/// Reachable boxes per (source label, destination label), with the classes walked.
fn reachable(
    g: &Fabric,
    from: &[String],
    to: &[String],
) -> Result<(BTreeMap<(String, String), Vec<HeaderBox>>, u64), String> {
    let src = resolve(g, from, Side::Source)?;
    let dst = resolve(g, to, Side::Destination)?;
    let sources = reach::sources(g, &src, &reach::Scope::everything());
    let dests = reach::dests(g, &dst);
    let tables = reach::tables::Tables::new(g);
    let p = reach::partition(g, &tables, &sources, &reach::dest_cuts(g, &dests));
    let regions = reach::regions(g, &p, &dests, false, |s| {
        s.key.outcome == Outcome::Reachable
    });
    let mut by: BTreeMap<(String, String), Vec<HeaderBox>> = BTreeMap::new();
    for r in regions {
        let Some(d) = r.dest else { continue };
        by.entry((
            sources[r.source as usize].label.clone(),
            dests[d as usize].label.clone(),
        ))
        .or_default()
        .extend(r.boxes);
    }
    Ok((by, p.classes.len() as u64))
}

/// The header space whose reachability from `from` to `to` differs between `cf` (without A's
/// contribution) and `f` (today).
pub fn changed(cf: &Fabric, f: &Fabric, from: &[String], to: &[String], job: &Job<'_>) -> Changed {
    let run = || -> Result<Changed, String> {
        let (before, c0) = reachable(cf, from, to)?;
        let (after, c1) = reachable(f, from, to)?;
        let mut out = Changed {
            classes: c0 + c1,
            ..Changed::default()
        };
        let empty = Vec::new();
        let keys: std::collections::BTreeSet<&(String, String)> =
            before.keys().chain(after.keys()).collect();
        for k in keys {
            let (b, a) = (
                before.get(k).unwrap_or(&empty),
                after.get(k).unwrap_or(&empty),
            );
            for (gained, x, y) in [(true, a, b), (false, b, a)] {
                let Some(d) = difference(x, y) else {
                    out.not_evaluated = Some(format!(
                        "regions from {} to {} differ in more than {BOXES_MAX} boxes",
                        k.0, k.1
                    ));
                    return Ok(out);
                };
                for s in reach::render::rows(&d) {
                    out.changes.push(RegionChange {
                        from: k.0.clone(),
                        to: k.1.clone(),
                        gained,
                        src: reach::render::addresses(&s[0]),
                        dst: reach::render::addresses(&s[1]),
                        protocols: reach::render::protocols(&s),
                        headers: volume(&s),
                    });
                }
            }
        }
        Ok(out)
    };
    job.pool.install(run).unwrap_or_else(|e| Changed {
        not_evaluated: Some(e),
        ..Changed::default()
    })
}

fn volume(s: &reach::render::Sets) -> u128 {
    s.iter()
        .map(|v| {
            v.iter()
                .map(|&(lo, hi)| (hi - lo) as u128 + 1)
                .sum::<u128>()
        })
        .product()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(src: (u32, u32), dport: (u32, u32)) -> HeaderBox {
        HeaderBox::new(src, (5, 5), (6, 6), (0, 65535), dport)
    }

    #[test]
    fn difference_keeps_exactly_the_headers_outside() {
        // [0,9] x ports [0,99] without [3,5] x [10,19]: 1000 - 30 = 970 headers.
        let a = [bx((0, 9), (0, 99))];
        let b = [bx((3, 5), (10, 19))];
        let d = difference(&a, &b).unwrap();
        let n: u128 = d.iter().map(|x| x.volume()).sum();
        assert_eq!(n, 970 * 65536);
        for x in &d {
            assert!(
                difference(&[*x], &b).unwrap() == vec![*x],
                "disjoint from b"
            );
        }
        assert!(difference(&b, &a).unwrap().is_empty());
        assert_eq!(difference(&a, &[]).unwrap(), a.to_vec());
    }
}
