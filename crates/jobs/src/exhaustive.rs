//! Assertions over every header: the reach regions between selectors, for `check`'s
//! `onlyPorts` ("nothing but tcp/443 is reachable from internet to subnet:X").

use vnetsim_engine::sweep::{resolve, Side};
use vnetsim_engine::{Outcome, Scratch};
use vnetsim_fabric::Fabric;
use vnetsim_reach as reach;
use vnetsim_reach::space::{self, HeaderBox, DPORT, PROTO};

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
    let p = reach::partition(f, &tables, &sources, &reach::dest_cuts(f, &dests));
    let reachable = |s: &reach::Signature| s.key.outcome == Outcome::Reachable;
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
