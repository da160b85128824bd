//! The benchmark over a small generated workload in the shared file format: its
//! checksum against a direct reimplementation of the reference checker (a linear scan
//! of the prefixes, longest first, over the keys in whole blocks of 64), and its
//! errors on bad input.

use std::fs;
use std::path::PathBuf;
use vnetsim_lpm::bench;

/// splitmix64: a small deterministic generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("vnetsim-lpm-{}-{}", name, std::process::id()));
    fs::create_dir_all(&d).unwrap();
    d
}

fn dotted(a: u32) -> String {
    format!(
        "{}.{}.{}.{}",
        a >> 24,
        (a >> 16) & 255,
        (a >> 8) & 255,
        a & 255
    )
}

/// Writes an Azure-like workload: a default route, VNet /16s, subnet /24s, /32s and
/// some on-premises prefixes, and keys mostly inside them. Returns (routes lines, keys).
fn write_workload(
    dir: &std::path::Path,
    nroutes: usize,
    nkeys: usize,
    seed: u64,
    with_default: bool,
) -> (String, Vec<u32>) {
    let mut rng = Rng(seed);
    let lens = [
        8u32, 12, 16, 16, 16, 20, 22, 24, 24, 24, 24, 24, 26, 28, 32, 32, 32,
    ];
    let mut nets: Vec<(u32, u32)> = Vec::new();
    let mut text = String::new();
    if with_default {
        text.push_str("0.0.0.0/0 1\n");
        nets.push((0, 0));
    }
    while nets.len() < nroutes {
        let l = lens[rng.below(lens.len() as u64) as usize];
        let base = match rng.below(4) {
            0 => 0x0A00_0000 | (rng.next() as u32 & 0x00FF_FFFF),
            1 => 0xC0A8_0000 | (rng.next() as u32 & 0x0000_FFFF),
            _ => rng.next() as u32,
        };
        let a = base & (u32::MAX << (32 - l));
        // Duplicates on purpose now and then: the text keeps both lines, later wins.
        let v = 1 + rng.below(250) as u32;
        text.push_str(&format!("{}/{} {}\n", dotted(a), l, v));
        nets.push((a, l));
    }
    let mut keys = Vec::with_capacity(nkeys);
    for _ in 0..nkeys {
        let (a, l) = nets[rng.below(nets.len() as u64) as usize];
        let k = if rng.below(10) < 9 {
            a | if l == 32 {
                0
            } else {
                rng.next() as u32 & (u32::MAX >> l)
            }
        } else {
            rng.next() as u32
        };
        keys.push(k);
    }
    fs::write(dir.join("routes.txt"), &text).unwrap();
    let raw: Vec<u8> = keys.iter().flat_map(|k| k.to_le_bytes()).collect();
    fs::write(dir.join("keys.bin"), raw).unwrap();
    (text, keys)
}

/// The reference checker: parse the text independently, sort longest first, scan.
/// The last line of a duplicated prefix wins, as in the table.
fn reference_checksum(text: &str, keys: &[u32]) -> u64 {
    let mut routes: Vec<(u32, u32, u64, usize)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let (p, nh) = line.split_once(' ').unwrap();
        let (addr, len) = p.split_once('/').unwrap();
        let o: Vec<u32> = addr.split('.').map(|x| x.parse().unwrap()).collect();
        let a = o[0] << 24 | o[1] << 16 | o[2] << 8 | o[3];
        routes.push((len.parse().unwrap(), a, nh.parse().unwrap(), i));
    }
    // Longest first; among equal prefixes the later line first.
    routes.sort_by(|x, y| y.0.cmp(&x.0).then(y.3.cmp(&x.3)));
    let whole = keys.len() / 64 * 64;
    let mut s = 0u64;
    for &k in &keys[..whole] {
        for &(l, a, nh, _) in &routes {
            let m = if l == 0 { 0 } else { u32::MAX << (32 - l) };
            if k & m == a {
                s += nh;
                break;
            }
        }
    }
    s
}

#[test]
fn checksum_matches_reference() {
    for (seed, nroutes, nkeys, with_default) in [
        (1, 600, 10_000, true),
        (2, 3000, 6_450, true),
        (3, 200, 5_000, false),
    ] {
        let dir = scratch_dir(&format!("ck{seed}"));
        let (text, keys) = write_workload(&dir, nroutes, nkeys, seed, with_default);
        let r = bench::run(&dir.join("routes.txt"), &dir.join("keys.bin"), 2).unwrap();
        assert_eq!(r.checksum, reference_checksum(&text, &keys), "seed {seed}");
        assert_eq!(r.routes, nroutes);
        assert_eq!(r.keys, nkeys);
        assert_eq!(r.rounds, 2);
        assert!(r.fib_bytes > 0);
        let line = r.to_string();
        assert!(line.contains(&format!("checksum={}", r.checksum)), "{line}");
        assert!(line.contains("Mlookups/s="), "{line}");
        assert!(line.contains(&format!("routes={nroutes}")), "{line}");
        assert!(line.contains(&format!("keys={nkeys}")), "{line}");
        assert!(
            line.contains("bytes=") && line.contains("build_ms="),
            "{line}"
        );
        fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn fewer_keys_than_a_block_sum_to_zero() {
    let dir = scratch_dir("partial");
    fs::write(dir.join("routes.txt"), "0.0.0.0/0 7\n").unwrap();
    fs::write(dir.join("keys.bin"), [1u8; 4 * 63]).unwrap();
    let r = bench::run(&dir.join("routes.txt"), &dir.join("keys.bin"), 1).unwrap();
    assert_eq!(r.checksum, 0);
    fs::write(dir.join("keys.bin"), [1u8; 4 * 65]).unwrap();
    let r = bench::run(&dir.join("routes.txt"), &dir.join("keys.bin"), 1).unwrap();
    assert_eq!(r.checksum, 7 * 64);
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = scratch_dir("bad");
    let routes = dir.join("routes.txt");
    let keys = dir.join("keys.bin");
    fs::write(&keys, [0u8; 256]).unwrap();
    for (text, needle) in [
        ("10.0.0.0/8 1\n10.0.0.0/33 2\n", ":2:"),
        ("10.0.0.0/8 1\n\n10.0.0/8 2\n", ":3:"),
        ("10.0.0.0 1\n", ":1:"),
        ("10.0.0.0/8\n", ":1:"),
        ("10.0.0.0/8 x\n", ":1:"),
        ("10.0.0.0/8 2147483648\n", ":1:"),
        ("10.0.0.0/8 1 extra\n", ":1:"),
        ("300.0.0.0/8 1\n", ":1:"),
    ] {
        fs::write(&routes, text).unwrap();
        let e = bench::run(&routes, &keys, 1).unwrap_err();
        assert!(
            e.contains("routes.txt") && e.contains(needle),
            "{text:?}: {e}"
        );
    }
    fs::write(&routes, "10.0.0.0/8 1\n").unwrap();
    fs::write(&keys, [0u8; 7]).unwrap();
    let e = bench::run(&routes, &keys, 1).unwrap_err();
    assert!(e.contains("keys.bin"), "{e}");
    assert!(bench::run(&dir.join("missing.txt"), &keys, 1)
        .unwrap_err()
        .contains("missing.txt"));
    fs::write(&keys, [0u8; 256]).unwrap();
    assert!(bench::run(&routes, &keys, 0).is_err());
    fs::remove_dir_all(&dir).ok();
}
