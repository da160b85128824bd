//! `bench::run` on a small workload in the shared `gen_acl.py` format, checked
//! against an independent re-implementation of `ref_check.py acl`: it reads
//! the files itself and tries the rules in order, without the crate's parser,
//! rule type or classifier.

use std::path::{Path, PathBuf};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct GenRule {
    proto: u8,
    src: (u32, u32),
    dst: (u32, u32),
    sp: (u16, u16),
    dp: (u16, u16),
}

/// Mirrors gen_acl.py: clustered prefixes of typical lengths, mostly single
/// destination ports, 80% of keys drawn inside a rule, 20% random.
fn generate(dir: &Path, nrules: usize, nkeys: usize, seed: u64) {
    let mut r = Rng(seed | 1);
    let prefix = |r: &mut Rng| -> (u32, u32) {
        let l = [0u32, 8, 12, 16, 16, 16, 20, 24, 24, 24, 24, 26, 28, 32, 32][r.below(15) as usize];
        let base = [0x0A00_0000u32, 0xAC10_0000, 0xC0A8_0000, r.next() as u32][r.below(4) as usize];
        let m = if l == 0 { 0 } else { u32::MAX << (32 - l) };
        ((base | (r.next() as u32 & 0xFFFF)) & m, l)
    };
    let ports = |r: &mut Rng, dst: bool| -> (u16, u16) {
        let x = r.below(100);
        if !dst || x < 30 {
            (0, 65535)
        } else if x < 85 {
            let p = [
                22u16,
                53,
                80,
                443,
                1433,
                3389,
                5432,
                8080,
                8443,
                1 + r.below(65535) as u16,
            ][r.below(10) as usize];
            (p, p)
        } else {
            let lo = 1024 + r.below(60000 - 1024) as u16;
            (lo, lo + 1 + r.below(1999) as u16)
        }
    };
    let mut rules = Vec::new();
    let mut text = String::new();
    for _ in 0..nrules {
        let g = GenRule {
            proto: [6u8, 6, 6, 17, 0][r.below(5) as usize],
            src: prefix(&mut r),
            dst: prefix(&mut r),
            sp: ports(&mut r, false),
            dp: ports(&mut r, true),
        };
        let ip = |a: u32| {
            format!(
                "{}.{}.{}.{}",
                a >> 24,
                (a >> 16) & 255,
                (a >> 8) & 255,
                a & 255
            )
        };
        text += &format!(
            "{} {}/{} {}/{} {}-{} {}-{} {}\n",
            g.proto,
            ip(g.src.0),
            g.src.1,
            ip(g.dst.0),
            g.dst.1,
            g.sp.0,
            g.sp.1,
            g.dp.0,
            g.dp.1,
            if r.below(2) == 0 { "Allow" } else { "Deny" }
        );
        rules.push(g);
    }
    let mut keys = Vec::new();
    for _ in 0..nkeys {
        let g = &rules[r.below(nrules as u64) as usize];
        let (proto, src, dst, sp, dp) = if r.below(10) < 8 {
            let host = |r: &mut Rng, (a, l): (u32, u32)| {
                if l == 32 {
                    a
                } else {
                    a | (r.next() as u32 >> l)
                }
            };
            let proto = if g.proto == 0 {
                [6u8, 17][r.below(2) as usize]
            } else {
                g.proto
            };
            let span =
                |r: &mut Rng, (lo, hi): (u16, u16)| lo + r.below(hi as u64 - lo as u64 + 1) as u16;
            (
                proto,
                host(&mut r, g.src),
                host(&mut r, g.dst),
                span(&mut r, g.sp),
                span(&mut r, g.dp),
            )
        } else {
            (
                [6u8, 17][r.below(2) as usize],
                r.next() as u32,
                r.next() as u32,
                r.next() as u16,
                r.next() as u16,
            )
        };
        keys.push(proto);
        keys.extend_from_slice(&[0, 0, 0]);
        keys.extend_from_slice(&src.to_le_bytes());
        keys.extend_from_slice(&dst.to_le_bytes());
        keys.extend_from_slice(&sp.to_le_bytes());
        keys.extend_from_slice(&dp.to_le_bytes());
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("rules.txt"), text).unwrap();
    std::fs::write(dir.join("keys.bin"), keys).unwrap();
}

/// ref_check.py's acl branch, re-done plainly over the first `nk` keys.
fn reference(dir: &Path, nk: usize) -> u64 {
    let text = std::fs::read_to_string(dir.join("rules.txt")).unwrap();
    let parse_net = |s: &str| -> (u32, u32) {
        let (a, l) = s.split_once('/').unwrap();
        let o: Vec<u32> = a.split('.').map(|x| x.parse().unwrap()).collect();
        let l: u32 = l.parse().unwrap();
        let mask = if l == 0 { 0 } else { u32::MAX << (32 - l) };
        ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3], mask)
    };
    let mut rules = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let p: u32 = f[0].parse().unwrap();
        let (sa, sm) = parse_net(f[1]);
        let (da, dm) = parse_net(f[2]);
        let r = |s: &str| -> (u32, u32) {
            let (a, b) = s.split_once('-').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        };
        let (s0, s1) = r(f[3]);
        let (d0, d1) = r(f[4]);
        rules.push((p, sa, sm, da, dm, s0, s1, d0, d1));
    }
    let raw = std::fs::read(dir.join("keys.bin")).unwrap();
    let mut sum = 0u64;
    for i in 0..nk {
        let b = &raw[16 * i..16 * i + 16];
        let pr = b[0] as u32;
        let src = u32::from_le_bytes(b[4..8].try_into().unwrap());
        let dst = u32::from_le_bytes(b[8..12].try_into().unwrap());
        let spt = u16::from_le_bytes(b[12..14].try_into().unwrap()) as u32;
        let dpt = u16::from_le_bytes(b[14..16].try_into().unwrap()) as u32;
        for (idx, &(p, sa, sm, da, dm, s0, s1, d0, d1)) in rules.iter().enumerate() {
            if (p == 0 || p == pr)
                && src & sm == sa
                && dst & dm == da
                && s0 <= spt
                && spt <= s1
                && d0 <= dpt
                && dpt <= d1
            {
                sum += idx as u64 + 1;
                break;
            }
        }
    }
    sum
}

fn scratch(name: &str) -> PathBuf {
    std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("vnetsim-classify-{name}-{}", std::process::id()))
}

#[test]
fn checksum_matches_reference() {
    for (nrules, nkeys, seed) in [
        (30usize, 64 * 40 + 17, 11u64),
        (300, 64 * 50, 12),
        (1200, 64 * 30 + 63, 13),
    ] {
        let dir = scratch(&format!("ck{seed}"));
        generate(&dir, nrules, nkeys, seed);
        let rep =
            vnetsim_classify::bench::run(&dir.join("rules.txt"), &dir.join("keys.bin"), 2).unwrap();
        // Whole blocks of 64 only, as the DPDK harness.
        let want = reference(&dir, nkeys / 64 * 64);
        assert_eq!(rep.checksum, want, "{nrules} rules, seed {seed}");
        assert_eq!((rep.rules, rep.keys, rep.rounds), (nrules, nkeys, 2));
        let line = rep.to_string();
        assert!(
            line.contains(&format!("checksum={want}")) && line.contains("Mclassify/s="),
            "{line}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn bad_input_is_an_error_with_file_and_line() {
    let dir = scratch("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.txt");
    let keys = dir.join("keys.bin");
    std::fs::write(&keys, [0u8; 32]).unwrap();
    for (text, what) in [
        ("6 10.0.0.0/8 0.0.0.0/0 0-65535 80-80 Allow\n6 10.0.0.0/33 0.0.0.0/0 0-65535 80-80 Allow\n", ":2:"),
        ("6 10.0.0.0/8 0.0.0.0/0 0-65535 80-80\n", ":1:"),
        ("\n# comment\n6 10.0.0.0/8 0.0.0.0/0 0-65535 90-80 Allow\n", ":3:"),
        ("300 10.0.0.0/8 0.0.0.0/0 0-65535 80-80 Allow\n", ":1:"),
        ("6 10.0.0/8 0.0.0.0/0 0-65535 80-80 Allow\n", ":1:"),
        ("6 10.0.0.0/8 0.0.0.0/0 0-65536 80-80 Allow\n", ":1:"),
    ] {
        std::fs::write(&rules, text).unwrap();
        let e = vnetsim_classify::bench::run(&rules, &keys, 1).unwrap_err();
        assert!(e.contains("rules.txt") && e.contains(what), "{e}");
    }
    std::fs::write(&rules, "0 0.0.0.0/0 0.0.0.0/0 0-65535 0-65535 Deny\n").unwrap();
    std::fs::write(&keys, [0u8; 17]).unwrap();
    let e = vnetsim_classify::bench::run(&rules, &keys, 1).unwrap_err();
    assert!(e.contains("keys.bin"), "{e}");
    assert!(vnetsim_classify::bench::run(&dir.join("missing"), &keys, 1)
        .unwrap_err()
        .contains("missing"));
    std::fs::write(&keys, [0u8; 16 * 64]).unwrap();
    assert!(vnetsim_classify::bench::run(&rules, &keys, 0).is_err());
    let rep = vnetsim_classify::bench::run(&rules, &keys, 1).unwrap();
    assert_eq!(rep.checksum, 64);
    std::fs::remove_dir_all(&dir).ok();
}
