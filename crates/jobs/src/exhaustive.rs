//! Answers over every header from the reach regions between selectors: `check`'s
//! `onlyPorts` ("nothing but tcp/443 is reachable from internet to subnet:X"), and the header
//! space whose reachability differs between two fabrics (`diff --exhaustive`, and what each
//! influence of `audit duties` changes).

use std::collections::BTreeMap;
use vnetsim_engine::sweep::{resolve, Side};
use vnetsim_engine::{Outcome, Scratch};
use vnetsim_fabric::Fabric;
use vnetsim_reach as reach;

use vnetsim_reach::space::{self, merge, subtract, HeaderBox, DPORT, PROTO};

use crate::Job;

/// Each reachable region from `from` to `to` (headers of every protocol and port), restricted
/// to the headers outside `allowed` (protocol, first port, last port), as region text.
pub fn beyond_ports(
    f: &Fabric,
    from: &[String],
    to: &[String],
    allowed: &[(u8, u16, u16)],
) -> Result<Vec<String>, String> {
    let sp = resolve(f, from, Side::Source)?;
    let dp = resolve(f, to, Side::Destination)?;
    let sources = reach::sources(f, &sp, &reach::Scope::everything());
    let dests = reach::dests(f, &dp);
    let tables = reach::tables::Tables::new(f);
    let p = reach::partition(f, &tables, &sources, &reach::dest_cuts(f, &dests))
        .map_err(|e| e.to_string())?;
    // One way reachable (of several hashed choices) is enough.
    let reachable = |s: &reach::Signature| s.keys().any(|k| k.outcome == Outcome::Reachable);
    let mut out = Vec::new();
    let mut scratch = Scratch::new();
    for mut r in reach::regions(f, &p, &dests, false, reachable) {
        let outside: Vec<HeaderBox> = r.boxes.iter().flat_map(|b| outside(b, allowed)).collect();
        if outside.is_empty() {
            continue;
        }
        r.boxes = space::merge(outside);
        for row in reach::render::region_rows(f, &sources, &dests, &p, &r, &mut scratch) {
            out.push(reach::render::text(&row));
        }
    }
    Ok(out)
}

/// The parts of `b` no allowed protocol and port range covers.
fn outside(b: &HeaderBox, allowed: &[(u8, u16, u16)]) -> Vec<HeaderBox> {
    let mut out = Vec::new();
    for proto in b.lo[PROTO]..=b.hi[PROTO] {
        let covered: Vec<(u32, u32)> = space::union(
            allowed
                .iter()
                .filter(|a| a.0 as u32 == proto)
                .map(|a| (a.1 as u32, a.2 as u32))
                .collect(),
        );
        let free = space::complement(&covered, 65535);
        for (lo, hi) in free {
            let (lo, hi) = (lo.max(b.lo[DPORT]), hi.min(b.hi[DPORT]));
            if lo <= hi {
                out.push(b.with(PROTO, proto, proto).with(DPORT, lo, hi));
            }
        }
    }
    out
}
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

/// The headers of `a` in no box of `b`, merged; `None` past [`BOXES_MAX`].
pub fn difference(a: &[HeaderBox], b: &[HeaderBox]) -> Option<Vec<HeaderBox>> {
    subtract(a.to_vec(), b, BOXES_MAX).map(merge)
}

/// Header boxes per (source label, destination label).
type BoxesByPair = BTreeMap<(String, String), Vec<HeaderBox>>;

/// Reachable boxes per (source label, destination label), with the classes walked.
fn reachable(g: &Fabric, from: &[String], to: &[String]) -> Result<(BoxesByPair, u64), String> {
    let src = resolve(g, from, Side::Source)?;
    let dst = resolve(g, to, Side::Destination)?;
    let sources = reach::sources(g, &src, &reach::Scope::everything());
    let dests = reach::dests(g, &dst);
    let tables = reach::tables::Tables::new(g);
    let p = reach::partition(g, &tables, &sources, &reach::dest_cuts(g, &dests))
        .map_err(|e| e.to_string())?;
    let regions = reach::regions(g, &p, &dests, false, |s| {
        s.keys().any(|k| k.outcome == Outcome::Reachable)
    });
    let mut by: BoxesByPair = BTreeMap::new();
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
