//! The classifier benchmark over the shared ACL workload, comparable with the
//! DPDK `rte_acl` harness: same input files, same work, same figures.
//!
//! * `rules.txt`: one rule a line in priority order (first match wins):
//!   `PROTO SRC/LEN DST/LEN SPORT_LO-SPORT_HI DPORT_LO-DPORT_HI ACTION`, where
//!   `PROTO` 0 means any protocol. Blank lines and lines starting with `#` are
//!   skipped; anything else that does not parse is an error naming the file and
//!   line (the DPDK harness silently skips such lines).
//! * `keys.bin`: 16-byte little-endian records
//!   `<proto u8, 3 pad bytes, src u32, dst u32, sport u16, dport u16>`.
//!
//! The keys are classified in whole blocks of 64, `rounds` times; a trailing
//! partial block is left out, as the DPDK harness does. The checksum is the
//! sum, over **one** pass of those keys, of the 1-based index of the first
//! matching rule (0 when none matches). The DPDK harness adds up all its
//! rounds, so its figure is `rounds` times this one.

use crate::{Classifier, Key, Protocols, Rule};
use std::fmt;
use std::path::Path;
use std::time::Instant;

/// Keys classified per call, as in the DPDK harness.
const BLOCK: usize = 64;

/// Result of [`run`].
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Rules read.
    pub rules: usize,
    /// Keys in the key file.
    pub keys: usize,
    pub rounds: u32,
    /// Million classifications per second over all rounds (whole blocks of 64).
    pub mclassify_per_s: f64,
    /// Sum over one pass of the 1-based index of the first matching rule.
    pub checksum: u64,
    /// Bytes of the compiled classifier ([`Classifier::memory_bytes`]).
    pub bytes: usize,
    /// Time to compile the classifier, in milliseconds.
    pub build_ms: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "vnetsim_acl rules={} keys={} rounds={} Mclassify/s={:.2} checksum={} bytes={} build_ms={:.3}",
            self.rules, self.keys, self.rounds, self.mclassify_per_s, self.checksum, self.bytes, self.build_ms
        )
    }
}

fn parse_u32(s: &str, what: &str, max: u32) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(format!("bad {what} `{s}` (expected an integer 0..={max})")),
    }
}

fn parse_prefix(s: &str) -> Result<(u32, u8), String> {
    let (addr, len) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not a prefix a.b.c.d/len"))?;
    let addr: std::net::Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("bad IPv4 address `{addr}` in `{s}`"))?;
    let len = parse_u32(len, "prefix length", 32)? as u8;
    Ok((u32::from(addr), len))
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (lo, hi) = s
        .split_once('-')
        .ok_or_else(|| format!("`{s}` is not a port range LO-HI"))?;
    let lo = parse_u32(lo, "port", 65535)? as u16;
    let hi = parse_u32(hi, "port", 65535)? as u16;
    if lo > hi {
        return Err(format!(
            "port range `{s}` has its low end above its high end"
        ));
    }
    Ok((lo, hi))
}

/// Parses one rules line (see the module documentation).
pub fn parse_rule(line: &str) -> Result<Rule, String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() != 6 {
        return Err(format!(
            "expected 6 fields `PROTO SRC/LEN DST/LEN SPORT_LO-SPORT_HI DPORT_LO-DPORT_HI ACTION`, found {}",
            f.len()
        ));
    }
    let proto = parse_u32(f[0], "protocol", 255)? as u8;
    Ok(Rule {
        protocols: if proto == 0 {
            Protocols::Any
        } else {
            Protocols::Set(vec![proto])
        },
        src: vec![parse_prefix(f[1])?],
        dst: vec![parse_prefix(f[2])?],
        sport: vec![parse_range(f[3])?],
        dport: vec![parse_range(f[4])?],
    })
}

/// Parses the text of a rules file; errors carry `name:line`.
pub fn parse_rules(text: &str, name: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        rules.push(parse_rule(t).map_err(|e| format!("{name}:{}: {e}", i + 1))?);
    }
    Ok(rules)
}

/// Decodes key records (see the module documentation).
pub fn parse_keys(bytes: &[u8], name: &str) -> Result<Vec<Key>, String> {
    if !bytes.len().is_multiple_of(16) {
        return Err(format!(
            "{name}: {} bytes is not a whole number of 16-byte key records",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(16)
        .map(|r| Key {
            proto: r[0],
            src: u32::from_le_bytes([r[4], r[5], r[6], r[7]]),
            dst: u32::from_le_bytes([r[8], r[9], r[10], r[11]]),
            sport: u16::from_le_bytes([r[12], r[13]]),
            dport: u16::from_le_bytes([r[14], r[15]]),
        })
        .collect())
}

/// Sum over `keys` (whole blocks of 64 only) of the 1-based index of the first
/// matching rule, 0 for none.
pub fn checksum(c: &Classifier, keys: &[Key]) -> u64 {
    let whole = keys.len() / BLOCK * BLOCK;
    let mut res = [0u32; BLOCK];
    let mut sum = 0u64;
    for block in keys[..whole].chunks_exact(BLOCK) {
        c.classify_batch(block, &mut res);
        sum += res.iter().map(|&r| r.wrapping_add(1) as u64).sum::<u64>();
    }
    sum
}

/// Parses `rules` and `keys`, compiles, classifies every key `rounds` times in
/// blocks of 64 and reports rate, checksum, size and build time.
pub fn run(rules: &Path, keys: &Path, rounds: u32) -> Result<Report, String> {
    if rounds == 0 {
        return Err("rounds must be at least 1".to_string());
    }
    let rname = rules.display().to_string();
    let kname = keys.display().to_string();
    let text = std::fs::read_to_string(rules).map_err(|e| format!("{rname}: {e}"))?;
    let rule_list = parse_rules(&text, &rname)?;
    let raw = std::fs::read(keys).map_err(|e| format!("{kname}: {e}"))?;
    let key_list = parse_keys(&raw, &kname)?;
    drop(raw);

    let t = Instant::now();
    let c = Classifier::build(&rule_list);
    let build_ms = t.elapsed().as_secs_f64() * 1e3;

    let whole = key_list.len() / BLOCK * BLOCK;
    let t = Instant::now();
    let mut sums = Vec::with_capacity(rounds as usize);
    for _ in 0..rounds {
        sums.push(checksum(&c, &key_list[..whole]));
    }
    let secs = t.elapsed().as_secs_f64();
    if sums.iter().any(|&s| s != sums[0]) {
        return Err(format!("checksums differ between rounds: {sums:?}"));
    }
    let done = rounds as f64 * whole as f64;
    Ok(Report {
        rules: rule_list.len(),
        keys: key_list.len(),
        rounds,
        mclassify_per_s: if secs > 0.0 { done / secs / 1e6 } else { 0.0 },
        checksum: sums[0],
        bytes: c.memory_bytes(),
        build_ms,
    })
}
