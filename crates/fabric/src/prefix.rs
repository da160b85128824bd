//! Prefix arithmetic used at compile time (never on the per-packet path).

use ipnet::Ipv4Net;

pub use crate::lpm::netmask as mask;

/// `a.b.c.d/len`, as `Ipv4Net`'s `Display` writes it, without the formatting machinery (NSG
/// compilation writes a text for every expanded prefix of every rule side); the address alone
/// when `bare` and the prefix is a /32.
pub fn text(p: &Ipv4Net, bare: bool) -> String {
    let mut out = String::with_capacity(18);
    push_ip(&mut out, u32::from(p.addr()));
    if !(bare && p.prefix_len() == 32) {
        out.push('/');
        push_decimal(&mut out, p.prefix_len());
    }
    out
}

/// Appends `a` in dotted-quad form (as `Ipv4Addr`'s `Display` writes it, without the
/// formatting machinery: rows and rule sides are written by the million).
pub fn push_ip(out: &mut String, a: u32) {
    for (i, b) in a.to_be_bytes().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_decimal(out, b);
    }
}

fn push_decimal(out: &mut String, v: u8) {
    if v >= 100 {
        out.push((b'0' + v / 100) as char);
    }
    if v >= 10 {
        out.push((b'0' + v / 10 % 10) as char);
    }
    out.push((b'0' + v % 10) as char);
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
            if !lo.is_multiple_of(size) || lo + size - 1 > hi {
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

/// Address blocks that are never part of the `Internet` service tag (R-TAG-03), as
/// (network, length): first the reserved private ranges of R1.3 (RFC 1918 and RFC 6598), then
/// IANA special-purpose space. The one list every part of vnetsim uses.
pub const NOT_INTERNET: [(u32, u8); 9] = [
    (0x0A00_0000, 8),  // 10.0.0.0/8
    (0xAC10_0000, 12), // 172.16.0.0/12
    (0xC0A8_0000, 16), // 192.168.0.0/16
    (0x6440_0000, 10), // 100.64.0.0/10
    (0x0000_0000, 8),  // 0.0.0.0/8
    (0x7F00_0000, 8),  // 127.0.0.0/8
    (0xA9FE_0000, 16), // 169.254.0.0/16
    (0xE000_0000, 4),  // 224.0.0.0/4
    (0xF000_0000, 4),  // 240.0.0.0/4
];

/// How many entries of [`NOT_INTERNET`] are the reserved private ranges (R1.3).
const PRIVATE: usize = 4;

fn block((a, l): (u32, u8)) -> Ipv4Net {
    Ipv4Net::new(a.into(), l).expect("a valid static prefix")
}

/// R1.3: reserved private ranges (RFC 1918 and RFC 6598).
pub fn reserved_private() -> [Ipv4Net; PRIVATE] {
    std::array::from_fn(|i| block(NOT_INTERNET[i]))
}

/// [`NOT_INTERNET`] as prefixes.
pub fn not_internet() -> Vec<Ipv4Net> {
    NOT_INTERNET.iter().copied().map(block).collect()
}

/// Whether `ip` is public Internet space: outside every block of [`NOT_INTERNET`].
#[inline]
pub fn is_public(ip: u32) -> bool {
    !NOT_INTERNET.iter().any(|&(a, l)| ip & mask(l) == a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of every prefix is ipnet's `Display` form (`a.b.c.d/len`; the address alone
    /// for a bare /32).
    #[test]
    fn text_is_the_display_form() {
        let mut x: u32 = 0x9E37_79B9;
        for len in 0..=32u8 {
            for _ in 0..200 {
                x = x.rotate_left(7).wrapping_mul(0x2545_F491) ^ 0x1234_5678;
                let net = Ipv4Net::new(x.into(), len).unwrap();
                assert_eq!(text(&net, false), net.to_string());
                let bare = if len == 32 {
                    net.addr().to_string()
                } else {
                    net.to_string()
                };
                assert_eq!(text(&net, true), bare);
            }
        }
        for (s, t) in [
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("255.255.255.255/32", "255.255.255.255"),
        ] {
            assert_eq!(text(&s.parse().unwrap(), true), t);
        }
    }
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
