//! Prefix arithmetic used at compile time (never on the per-packet path).

use ipnet::Ipv4Net;

#[inline]
pub fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len)
    }
}

pub fn net(p: &Ipv4Net) -> (u32, u8) {
    (u32::from(p.network()), p.prefix_len())
}

pub fn contains(outer: &Ipv4Net, inner: &Ipv4Net) -> bool {
    outer.prefix_len() <= inner.prefix_len() && outer.contains(&inner.network())
}

pub fn contains_ip(p: &Ipv4Net, ip: u32) -> bool {
    ip & mask(p.prefix_len()) == u32::from(p.network())
}

fn to_range(p: &Ipv4Net) -> (u64, u64) {
    let lo = u32::from(p.network()) as u64;
    (lo, lo + (1u64 << (32 - p.prefix_len())) - 1)
}

/// The smallest list of CIDR blocks covering exactly [lo, hi].
fn range_to_cidrs(mut lo: u64, hi: u64, out: &mut Vec<Ipv4Net>) {
    while lo <= hi {
        let mut len = 32u8;
        while len > 0 {
            let size = 1u64 << (32 - (len - 1));
            if lo % size != 0 || lo + size - 1 > hi {
                break;
            }
            len -= 1;
        }
        out.push(Ipv4Net::new((lo as u32).into(), len).expect("valid length"));
        lo += 1u64 << (32 - len);
    }
}

/// Normalises a set of prefixes: merged, minimal, sorted.
pub fn aggregate(items: &[Ipv4Net]) -> Vec<Ipv4Net> {
    let mut r: Vec<(u64, u64)> = items.iter().map(to_range).collect();
    r.sort();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (lo, hi) in r {
        match merged.last_mut() {
            Some(last) if lo <= last.1 + 1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    let mut out = Vec::new();
    for (lo, hi) in merged {
        range_to_cidrs(lo, hi, &mut out);
    }
    out
}

/// `universe` minus `remove`, as a minimal sorted list of prefixes.
pub fn subtract(universe: &[Ipv4Net], remove: &[Ipv4Net]) -> Vec<Ipv4Net> {
    let u = aggregate(universe);
    let rm = aggregate(remove);
    let rm: Vec<(u64, u64)> = rm.iter().map(to_range).collect();
    let mut out = Vec::new();
    for p in &u {
        let (mut lo, hi) = to_range(p);
        for &(a, b) in &rm {
            if b < lo || a > hi {
                continue;
            }
            if a > lo {
                range_to_cidrs(lo, a - 1, &mut out);
            }
            lo = b + 1;
            if lo > hi {
                break;
            }
        }
        if lo <= hi {
            range_to_cidrs(lo, hi, &mut out);
        }
    }
    aggregate(&out)
}

pub fn p(s: &str) -> Ipv4Net {
    s.parse().expect("static prefix")
}

/// R1.3: reserved private ranges (RFC 1918 and RFC 6598).
pub fn reserved_private() -> [Ipv4Net; 4] {
    [
        p("10.0.0.0/8"),
        p("172.16.0.0/12"),
        p("192.168.0.0/16"),
        p("100.64.0.0/10"),
    ]
}

/// Address blocks that are never part of the `Internet` service tag: the
/// private ranges and IANA special-purpose space (R-TAG-03).
pub fn not_internet() -> Vec<Ipv4Net> {
    let mut v: Vec<Ipv4Net> = reserved_private().to_vec();
    for s in [
        "0.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
    ] {
        v.push(p(s));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn subtract_splits_into_minimal_blocks() {
        let r = subtract(&[p("10.0.0.0/8")], &[p("10.1.0.0/16")]);
        // 10.0.0.0/16, 10.2.0.0/15, 10.4.0.0/14, 10.8.0.0/13, 10.16.0.0/12, 10.32.0.0/11, 10.64.0.0/10, 10.128.0.0/9
        let s: Vec<String> = r.iter().map(|x| x.to_string()).collect();
        assert_eq!(
            s,
            [
                "10.0.0.0/16",
                "10.2.0.0/15",
                "10.4.0.0/14",
                "10.8.0.0/13",
                "10.16.0.0/12",
                "10.32.0.0/11",
                "10.64.0.0/10",
                "10.128.0.0/9"
            ]
        );
    }
    #[test]
    fn aggregate_merges_adjacent() {
        let r = aggregate(&[p("10.0.0.0/25"), p("10.0.0.128/25"), p("10.0.0.5/32")]);
        assert_eq!(r, vec![p("10.0.0.0/24")]);
    }
}
