//! The FIB benchmark over the shared LPM workload, comparable with the DPDK
//! `rte_lpm` harness: same input files, same work, same figures.
//!
//! * `routes.txt`: one route a line, `a.b.c.d/len nexthop`.
//! * `keys.bin`: little-endian `u32` IPv4 addresses (host-order values).
//!
//! The keys are looked up in whole blocks of 64, `rounds` times; a trailing
//! partial block is left out, as the DPDK harness does. The checksum is the sum,
//! over one pass of those keys, of the value of the longest matching prefix (0 for
//! an address no prefix covers, which the DPDK harness also counts as 0 when the
//! table has no default route).

use crate::{Fib, MISS};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Instant;

/// Keys looked up per call, as in the DPDK harness.
const BLOCK: usize = 64;

/// Result of [`run`].
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Route lines read (duplicates included).
    pub routes: usize,
    /// Keys in the key file.
    pub keys: usize,
    pub rounds: u32,
    /// Million lookups per second over all rounds (whole blocks of 64 only).
    pub mlookups_per_s: f64,
    /// Sum over one pass of the values found (see the module documentation).
    pub checksum: u64,
    /// Heap bytes of the compiled table.
    pub fib_bytes: usize,
    /// Time to compile the table, in milliseconds.
    pub build_ms: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "vnetsim_lpm routes={} keys={} rounds={} Mlookups/s={:.1} checksum={} bytes={} build_ms={:.3}",
            self.routes, self.keys, self.rounds, self.mlookups_per_s, self.checksum, self.fib_bytes, self.build_ms
        )
    }
}

/// Parses one routes line: `a.b.c.d/len value`.
fn parse_route(line: &str) -> Result<(u32, u8, u32), String> {
    let mut it = line.split_whitespace();
    let prefix = it.next().ok_or("empty line")?;
    let value = it.next().ok_or("missing next hop after the prefix")?;
    if let Some(extra) = it.next() {
        return Err(format!("unexpected `{extra}` after the next hop"));
    }
    let (addr, len) = prefix
        .split_once('/')
        .ok_or_else(|| format!("`{prefix}` is not a prefix a.b.c.d/len"))?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not an IPv4 address"))?;
    let len: u8 = match len.parse() {
        Ok(l) if l <= 32 => l,
        _ => return Err(format!("`{len}` is not a prefix length 0..=32")),
    };
    let value: u32 = match value.parse() {
        Ok(v) if v <= crate::MAX_VALUE => v,
        _ => {
            return Err(format!(
                "`{value}` is not a next hop 0..={}",
                crate::MAX_VALUE
            ))
        }
    };
    Ok((u32::from(addr), len, value))
}

/// Reads a routes file (blank lines and lines starting with `#` are skipped).
pub fn read_routes(path: &Path) -> Result<Vec<(u32, u8, u32)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut routes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        routes.push(parse_route(t).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?);
    }
    Ok(routes)
}

/// Reads a keys file: little-endian `u32` addresses.
pub fn read_keys(path: &Path) -> Result<Vec<u32>, String> {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if raw.len() % 4 != 0 {
        return Err(format!(
            "{}: {} bytes is not a whole number of 4-byte keys",
            path.display(),
            raw.len()
        ));
    }
    Ok(raw
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Sum of the values of one pass over `keys` (whole blocks of 64; misses count 0).
pub fn checksum(fib: &Fib, keys: &[u32]) -> u64 {
    let mut out = [0u32; BLOCK];
    let mut sum = 0u64;
    for block in keys.chunks_exact(BLOCK) {
        fib.lookup_batch(block, &mut out);
        sum += block_sum(&out);
    }
    sum
}

#[inline]
fn block_sum(out: &[u32; BLOCK]) -> u64 {
    out.iter()
        .map(|&v| if v == MISS { 0 } else { v as u64 })
        .sum()
}

/// Builds the table from `routes`, looks every key of `keys` up `rounds` times in
/// blocks of 64, and reports the rate, the checksum, the size and the build time.
pub fn run(routes: &Path, keys: &Path, rounds: u32) -> Result<Report, String> {
    if rounds == 0 {
        return Err("rounds must be at least 1".to_string());
    }
    let table = read_routes(routes)?;
    let keys_v = read_keys(keys)?;

    let t0 = Instant::now();
    let fib = Fib::try_build(&table).map_err(|e| format!("{}: {e}", routes.display()))?;
    let build_ms = t0.elapsed().as_secs_f64() * 1e3;

    let whole = keys_v.len() / BLOCK * BLOCK;
    let keys_w = &keys_v[..whole];
    let mut out = [0u32; BLOCK];
    let mut sums = Vec::with_capacity(rounds as usize);
    let t1 = Instant::now();
    for _ in 0..rounds {
        let mut sum = 0u64;
        for block in keys_w.chunks_exact(BLOCK) {
            fib.lookup_batch(block, &mut out);
            sum += block_sum(&out);
        }
        sums.push(sum);
    }
    let secs = t1.elapsed().as_secs_f64();
    if sums.iter().any(|&s| s != sums[0]) {
        return Err(format!("checksums differ between rounds: {sums:?}"));
    }
    let looked_up = rounds as f64 * whole as f64;
    Ok(Report {
        routes: table.len(),
        keys: keys_v.len(),
        rounds,
        mlookups_per_s: if secs > 0.0 {
            looked_up / secs / 1e6
        } else {
            f64::INFINITY
        },
        checksum: sums[0],
        fib_bytes: fib.memory_bytes(),
        build_ms,
    })
}
