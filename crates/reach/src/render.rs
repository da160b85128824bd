//! Regions as people read them: address sets as CIDR lists (or "0.0.0.0/0 except ..."),
//! port sets as ranges, one row per region.

use serde::Serialize;
use vnetsim_engine::render::{ip, outcome_reason, path, rule_name};
use vnetsim_engine::{Outcome, Scratch, Verdict};
use vnetsim_fabric::Fabric;

use crate::space::{self, HeaderBox, DPORT, DST, PROTO, SPORT, SRC};
use crate::{walk, Dest, Partition, Region, Source};

/// A set of values per dimension, each sorted disjoint intervals.
pub type Sets = [Vec<(u32, u32)>; 5];

/// A region's boxes as few rows of interval sets as possible: boxes that agree on every
/// dimension but one are joined on that one.
pub fn rows(boxes: &[HeaderBox]) -> Vec<Sets> {
    let mut rows: Vec<Sets> = boxes
        .iter()
        .map(|b| std::array::from_fn(|d| vec![(b.lo[d], b.hi[d])]))
        .collect();
    for d in [SRC, DST, DPORT, SPORT, PROTO] {
        rows.sort_by(|a, b| key(a, d).cmp(&key(b, d)).then(a[d].cmp(&b[d])));
        let mut out: Vec<Sets> = Vec::with_capacity(rows.len());
        for r in rows {
            match out.last_mut() {
                Some(last) if key(last, d) == key(&r, d) => {
                    let mut v = std::mem::take(&mut last[d]);
                    v.extend_from_slice(&r[d]);
                    last[d] = space::union(v);
                }
                _ => out.push(r),
            }
        }
        rows = out;
    }
    rows.sort();
    rows
}

fn key(s: &Sets, d: usize) -> Vec<&Vec<(u32, u32)>> {
    (0..5).filter(|&e| e != d).map(|e| &s[e]).collect()
}

/// The CIDR blocks covering `v`, in order.
fn cidr_blocks(v: &[(u32, u32)]) -> impl Iterator<Item = (u32, u8)> + '_ {
    v.iter().flat_map(|&(lo, hi)| space::cidrs(lo, hi))
}

/// An address set: `any`, a CIDR list, or `0.0.0.0/0 except ...` when that is shorter (by
/// blocks; only the list shown is written out).
pub fn addresses(v: &[(u32, u32)]) -> String {
    if v == [(0, u32::MAX)] {
        return "0.0.0.0/0".into();
    }
    let not = space::complement(v, u32::MAX);
    let (prefix, list) = if cidr_blocks(&not).count() < cidr_blocks(v).count() {
        ("0.0.0.0/0 except ", &not[..])
    } else {
        ("", v)
    };
    let mut out = String::from(prefix);
    for (i, (a, l)) in cidr_blocks(list).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&ip(a));
        if l != 32 {
            out.push('/');
            out.push_str(&l.to_string());
        }
    }
    out
}

fn ranges(v: &[(u32, u32)]) -> String {
    v.iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A port set: `*`, ranges, or `* except ...` when that is shorter.
pub fn ports(v: &[(u32, u32)]) -> String {
    if v == [(0, 65535)] {
        return "*".into();
    }
    let not = space::complement(v, 65535);
    if not.len() < v.len() {
        format!("* except {}", ranges(&not))
    } else {
        ranges(v)
    }
}

/// Protocols and ports: `tcp/3389`, `udp/*`, `icmp`, `protocols 0,2-5,...`.
pub fn protocols(s: &Sets) -> String {
    let p = &s[PROTO];
    let name = |x: u32| match x {
        6 => "tcp".to_string(),
        17 => "udp".to_string(),
        1 => "icmp".to_string(),
        n => format!("protocol {n}"),
    };
    let single = (p.len() == 1 && p[0].0 == p[0].1).then_some(p[0].0);
    let sport = if s[SPORT] == [(0, 65535)] || s[SPORT] == [(0, 0)] {
        String::new()
    } else {
        format!(" from port {}", ports(&s[SPORT]))
    };
    if p.as_slice() == [(6, 6), (17, 17)] {
        return format!("tcp+udp/{}{sport}", ports(&s[DPORT]));
    }
    if p.as_slice() == [(0, 5), (7, 16), (18, 255)] {
        return "every protocol but tcp and udp (no ports)".into();
    }
    match single {
        Some(x @ (6 | 17)) => format!("{}/{}{sport}", name(x), ports(&s[DPORT])),
        Some(x) => name(x),
        None if p
            .iter()
            .all(|&(lo, hi)| lo > 17 || hi < 6 || (lo > 6 && hi < 17)) =>
        {
            format!("protocols {} (no ports)", ranges(p))
        }
        None => format!("protocols {} ports {}{sport}", ranges(p), ports(&s[DPORT])),
    }
}

/// One region row, as JSON lines and Parquet write it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RegionRow {
    pub from: String,
    pub to: Option<String>,
    pub src: String,
    pub dst: String,
    pub protocols: String,
    pub outcome: String,
    pub delivered_to: Option<String>,
    pub dropped_at: Option<String>,
    pub rule: Option<String>,
    pub reason: String,
    pub src_seen: Option<String>,
    pub dst_seen: Option<String>,
    pub path: String,
    pub return_path: String,
    /// The header walked for the region (any header of it gives the same walk).
    pub example: String,
    /// Classes merged into the region.
    pub classes: u64,
    /// The ways a header of the region may go by the hashed choices it makes (a load
    /// balancer's or Application Gateway's backend, a gateway instance, an ECMP next hop):
    /// 1 without such choices. The fields above are the first way.
    pub ways: u64,
    /// The other ways, each `OUTCOME via PATH`, separated by ` | `.
    pub other_ways: String,
}

/// The rows of a region (one per set of boxes that reads as one line).
pub fn region_rows(
    f: &Fabric,
    sources: &[Source],
    dests: &[Dest],
    p: &Partition,
    r: &Region,
    s: &mut Scratch,
) -> Vec<RegionRow> {
    let src = &sources[r.source as usize];
    let rep = r.boxes[0].representative();
    let sig = &p.signatures[r.sig as usize];
    let other_ways = sig
        .others
        .iter()
        .map(|(w, _)| way_text(f, src.endpoint, rep, w, s))
        .collect::<Vec<_>>()
        .join(" | ");
    s.force(Some(&[]));
    let t = walk(f, src.endpoint, rep, s);
    s.force(None);
    let fw = &t.forward;
    let delivered = fw.verdict == Verdict::Delivered;
    let (dropped_at, rule) = match (t.outcome, &t.ret) {
        (Outcome::NoReturn, Some(x)) if x.verdict == Verdict::Dropped => (x.dropped_at, x.rule),
        (Outcome::NotModelled, Some(x)) if delivered => (x.dropped_at, x.rule),
        (Outcome::NoReturn, _) => (t.bypassed.map(vnetsim_fabric::Endpoint::Firewall), fw.rule),
        _ => (fw.dropped_at, fw.rule),
    };
    let base = RegionRow {
        from: src.label.clone(),
        to: r.dest.map(|d| dests[d as usize].label.clone()),
        src: String::new(),
        dst: String::new(),
        protocols: String::new(),
        outcome: t.outcome.as_str().to_string(),
        delivered_to: fw.delivered_to.map(|e| f.endpoint_id(e)),
        dropped_at: dropped_at.map(|e| f.endpoint_id(e)),
        rule: rule.map(|x| rule_name(f, x)),
        reason: outcome_reason(f, &t),
        src_seen: (delivered && fw.seen.src != rep.src).then(|| ip(fw.seen.src)),
        dst_seen: (delivered && fw.seen.dst != rep.dst)
            .then(|| format!("{}:{}", ip(fw.seen.dst), fw.seen.dport)),
        path: path(f, s, fw),
        return_path: t.ret.map(|x| path(f, s, &x)).unwrap_or_default(),
        example: format!(
            "{} {}:{} > {}:{}",
            vnetsim_engine::render::protocol_name(rep.proto),
            ip(rep.src),
            rep.sport,
            ip(rep.dst),
            rep.dport
        ),
        classes: r.classes,
        ways: 1 + sig.others.len() as u64,
        other_ways,
    };
    rows(&r.boxes)
        .into_iter()
        .map(|x| RegionRow {
            src: addresses(&x[SRC]),
            dst: addresses(&x[DST]),
            protocols: protocols(&x),
            ..base.clone()
        })
        .collect()
}

/// One way of a region's example header (its hashed choices forced to `ways`), as text.
fn way_text(
    f: &Fabric,
    ingress: vnetsim_fabric::Endpoint,
    rep: vnetsim_engine::Flow,
    ways: &[u32],
    s: &mut Scratch,
) -> String {
    s.force(Some(ways));
    let t = walk(f, ingress, rep, s);
    s.force(None);
    let mut out = t.outcome.as_str().to_string();
    let fw = &t.forward;
    if fw.verdict == Verdict::Delivered && fw.seen.src != rep.src {
        out.push_str(&format!(", source seen {}", ip(fw.seen.src)));
    }
    if t.outcome != Outcome::Reachable {
        out.push_str(&format!(" ({})", outcome_reason(f, &t)));
    }
    format!("{out} via {}", path(f, s, &t.forward))
}

/// A row as one line of text.
pub fn text(r: &RegionRow) -> String {
    let to = r.to.as_deref().unwrap_or("elsewhere");
    let mut s = format!(
        "{} {} → {} {} dst {}: {}",
        r.from, r.src, to, r.protocols, r.dst, r.outcome
    );
    if let Some(d) = &r.dst_seen {
        s.push_str(&format!(", delivered as {d}"));
    }
    if let Some(x) = &r.src_seen {
        s.push_str(&format!(", source seen {x}"));
    }
    if r.outcome != "reachable" {
        s.push_str(&format!(" ({})", r.reason));
    }
    s.push_str(&format!(" via {}", r.path));
    if r.ways > 1 {
        s.push_str(&format!(
            "; or, by hash (one of {} ways), the others: {}",
            r.ways, r.other_ways
        ));
    }
    s
}
