//! Compiled first-match packet classifier for NSG rule lists (and Azure
//! Firewall network rules).
//!
//! A rule list is compiled once into an immutable [`Classifier`]; a lookup
//! returns the index of the first rule (in list order) that matches a
//! [`Key`] (protocol, source and destination address, source and destination
//! port). [`classify_linear`] is the obvious reference.
//!
//! # Structure
//!
//! The classifier is a bit-vector scheme in the style of Lakshman and
//! Stiliadis, with equivalence classes and aggregated bit vectors:
//!
//! 1. **Per-field elementary intervals.** For each field the rules' ranges
//!    (a prefix is a range of addresses, a port range is a range, a protocol
//!    set is a set of one-value ranges) cut the field's domain into
//!    elementary intervals. Every address (or port, protocol) inside one
//!    interval is matched by the same set of rules, kept as a bitset with one
//!    bit per rule, bit `i` for rule `i`. A rule with many prefixes (a service
//!    tag expanding to thousands of them) only adds interval boundaries: its
//!    prefixes are merged first, and it still owns a single bit.
//! 2. **Equivalence classes.** Intervals with equal bitsets share one stored
//!    bitset (a *class*); neighbouring intervals of the same class are merged.
//!    Memory is `classes x rules / 8` bytes per field plus 8 to 16 bytes per
//!    interval, not `intervals x rules / 8`.
//! 3. **Cross-producting of the small fields.** The protocol, source-port and
//!    destination-port classes are usually few (a handful of protocols, `*`
//!    source ports, some tens of destination ports), so their product is
//!    precomputed once: one table maps (protocol class, source-port class,
//!    destination-port class) to the class of the AND of the three bitsets.
//!    A lookup then intersects three bitsets (source address, destination
//!    address, layer 4) instead of five. When the product would be large the
//!    classifier keeps the three fields separate and intersects five.
//! 4. **First set bit.** With up to 1,024 rules (16 words of 64 bits) the
//!    three bitsets are ANDed word by word without branches (two words per
//!    SSE2 vector on x86-64) and the first non-zero word gives the first
//!    matching rule via `trailing_zeros`; the word count is a compile-time
//!    constant of the lookup code (1, 2, 4, 8 or 16 words, rounded up).
//!    Longer lists use aggregated bit vectors: each stored bitset carries a
//!    summary with one bit per non-zero word, the lookup ANDs the summaries
//!    and visits only the words whose bit survives, lowest first. Either way
//!    a list ending with a catch-all default rule (every real NSG) costs no
//!    more than any other lookup, even when only that last rule matches.
//!
//! A lookup is: a 256-entry table for the protocol, branch-free binary
//! searches (unrolled for each power-of-two length, one compare and one
//! conditional move a step) over the sorted interval starts of the
//! addresses, the same or, for a port field with many intervals, a direct
//! 65,536-entry table, one table load for the layer-4 class, then the AND and
//! find-first-set. Its cost grows with the logarithm of the number of
//! distinct boundaries and with the number of words, not with the number of
//! rules tried. [`Classifier::classify_batch`] runs the searches of several
//! keys field by field so that they overlap in the pipeline.
//!
//! Build is a sweep over the sorted range endpoints of each field
//! (`O(E log E + I x rules / 64)` for `E` endpoints and `I` intervals), with
//! hashing to find equal bitsets. No lookup allocates.
//!
//! # Semantics
//!
//! A rule matches a key when its protocol set contains the key's protocol
//! ([`Protocols::Any`] contains all), the source address lies in at least one
//! source prefix, the destination address in at least one destination prefix,
//! and each port in at least one of the rule's ranges (inclusive). An empty
//! prefix or port list never matches; `0.0.0.0/0` matches everything. Host
//! bits of prefixes are ignored, a length above 32 counts as 32, and a port
//! range whose low end is above its high end is empty.

use std::collections::HashMap;

pub mod bench;

/// The fields a rule matches on. Addresses are host-order `u32` values
/// (`10.0.0.1` is `0x0A00_0001`).
#[derive(
    serde::Serialize, serde::Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash,
)]
pub struct Key {
    pub proto: u8,
    pub src: u32,
    pub dst: u32,
    pub sport: u16,
    pub dport: u16,
}

/// Interval starts along each field of a [`Classifier`] (see [`Classifier::cuts`]).
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Cuts {
    pub proto: Vec<u32>,
    pub src: Vec<u32>,
    pub dst: Vec<u32>,
    pub sport: Vec<u32>,
    pub dport: Vec<u32>,
}

/// The IP protocols a rule matches.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum Protocols {
    /// Every protocol (`*`).
    Any,
    /// These IP protocol numbers (6 TCP, 17 UDP, 1 ICMP, 50 ESP, 51 AH, ...).
    /// An empty set matches nothing.
    Set(Vec<u8>),
}

impl Protocols {
    /// Whether `proto` is in the set.
    pub fn contains(&self, proto: u8) -> bool {
        match self {
            Protocols::Any => true,
            Protocols::Set(v) => v.contains(&proto),
        }
    }
}

/// One rule: it matches when every field matches (see the crate documentation).
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub protocols: Protocols,
    /// Source prefixes `(address, length)`; at least one must contain the source.
    pub src: Vec<(u32, u8)>,
    /// Destination prefixes; at least one must contain the destination.
    pub dst: Vec<(u32, u8)>,
    /// Inclusive source port ranges `(low, high)`.
    pub sport: Vec<(u16, u16)>,
    /// Inclusive destination port ranges.
    pub dport: Vec<(u16, u16)>,
}

impl Rule {
    /// The `* -> *` rule: any protocol, any address, any port (as in the
    /// default `DenyAll*` rules closing every NSG).
    pub fn any() -> Rule {
        Rule {
            protocols: Protocols::Any,
            src: vec![(0, 0)],
            dst: vec![(0, 0)],
            sport: vec![(0, u16::MAX)],
            dport: vec![(0, u16::MAX)],
        }
    }

    /// Whether this rule matches `key` (the plain definition, no compilation).
    pub fn matches(&self, key: &Key) -> bool {
        self.protocols.contains(key.proto)
            && self.src.iter().any(|&(a, l)| in_prefix(key.src, a, l))
            && self.dst.iter().any(|&(a, l)| in_prefix(key.dst, a, l))
            && self
                .sport
                .iter()
                .any(|&(lo, hi)| lo <= key.sport && key.sport <= hi)
            && self
                .dport
                .iter()
                .any(|&(lo, hi)| lo <= key.dport && key.dport <= hi)
    }
}

pub use vnetsim_lpm::netmask;

fn in_prefix(addr: u32, net: u32, len: u8) -> bool {
    let m = netmask(len);
    addr & m == net & m
}

/// The reference: the index of the first rule of `rules` matching `key`, by
/// trying each rule in turn.
pub fn classify_linear(rules: &[Rule], key: &Key) -> Option<u32> {
    rules.iter().position(|r| r.matches(key)).map(|i| i as u32)
}

/// Largest number of entries of the cross-product table of the protocol,
/// source-port and destination-port classes.
const L4_TABLE_MAX: usize = 1 << 16;
/// Largest number of bitset words ANDed to fill that table (bounds build time).
const L4_WORK_MAX: usize = 1 << 23;

/// One field other than the protocol: the sorted starts of its elementary
/// intervals and, per interval, a value (an offset into a bitset pool, or a
/// pre-multiplied class number for the layer-4 cross product).
///
/// Both vectors have the same power-of-two length (built only by
/// [`Field::new`]): the last interval is repeated as padding, so that the
/// search below has a fixed number of steps and stays in bounds.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
struct Field {
    /// `starts[0] == 0`, non-decreasing.
    starts: Vec<u32>,
    vals: Vec<u32>,
}

impl Field {
    fn new(mut starts: Vec<u32>, mut vals: Vec<u32>) -> Field {
        debug_assert!(!starts.is_empty() && starts.len() == vals.len() && starts[0] == 0);
        let len = starts.len().next_power_of_two();
        let (ls, lv) = (starts[starts.len() - 1], vals[vals.len() - 1]);
        starts.resize(len, ls);
        vals.resize(len, lv);
        Field { starts, vals }
    }

    /// The value of the interval holding `x`: at the last `i` with `starts[i] <= x`.
    #[inline(always)]
    fn lookup(&self, x: u32) -> u32 {
        // One fully unrolled search per depth (log2 of the padded length): a
        // step is then a compare with a constant offset and a conditional move.
        macro_rules! depths {
            ($($d:literal)*) => {
                match self.starts.len().trailing_zeros() {
                    $($d => self.search::<$d>(x),)*
                    _ => self.search_any(x),
                }
            };
        }
        let i = depths!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20);
        // SAFETY: the searches return base < len == self.vals.len() (same
        // length as `starts`, by construction in `Field::new`).
        unsafe { *self.vals.get_unchecked(i) }
    }

    /// Branch-free binary search over `starts`, whose length is `2^D`.
    #[inline(always)]
    fn search<const D: u32>(&self, x: u32) -> usize {
        debug_assert_eq!(self.starts.len(), 1 << D);
        let mut base = 0usize;
        let mut k = D;
        // Invariant: base + 2^k <= len at the top of the loop, so base + half
        // < len inside it and base < len at the end.
        while k > 0 {
            k -= 1;
            let half = 1usize << k;
            // SAFETY: base + half < len == self.starts.len() (invariant above;
            // len == 2^D because `Field::new` pads to a power of two and
            // `lookup` picks D = log2(len)).
            let s = unsafe { *self.starts.get_unchecked(base + half) };
            // A conditional move: a branch here would be mispredicted half the time.
            base = std::hint::select_unpredictable(s <= x, base + half, base);
        }
        base
    }

    /// As `search` for any power-of-two length.
    #[inline(never)]
    fn search_any(&self, x: u32) -> usize {
        let mut base = 0usize;
        let mut half = self.starts.len() / 2;
        while half > 0 {
            base =
                std::hint::select_unpredictable(self.starts[base + half] <= x, base + half, base);
            half /= 2;
        }
        base
    }

    fn bytes(&self) -> usize {
        (self.starts.capacity() + self.vals.capacity()) * 4
    }
}

/// A port field: searched like the others, or, when it has many intervals,
/// read from a table with one class number per port (128 KB), which is
/// cheaper than a search of 8 or more steps.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
struct PortField {
    field: Field,
    /// Empty, or 65,536 class numbers.
    direct: Vec<u16>,
    /// Value of class `c` in `direct`: `c * mul`.
    mul: u32,
}

/// Port fields with at least this many intervals get a direct table.
const PORT_DIRECT_MIN: usize = 256;

impl PortField {
    #[inline(always)]
    fn lookup(&self, port: u16) -> u32 {
        if self.direct.is_empty() {
            self.field.lookup(port as u32)
        } else {
            self.direct[port as usize] as u32 * self.mul
        }
    }

    fn bytes(&self) -> usize {
        self.field.bytes() + self.direct.capacity() * 2
    }
}

/// Stored bitsets of one field or group of fields: per class, `summary`
/// words then `words` words (see the crate documentation).
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
struct Pool {
    data: Vec<u64>,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
enum L4 {
    /// `table[proto_map[proto] + sport.lookup() + dport.lookup()]` is the
    /// offset of the layer-4 bitset in `pool` (the three parts are
    /// pre-multiplied class numbers).
    Combined { table: Vec<u32>, pool: Pool },
    /// `proto_map`, `sport`, `dport` give offsets into their own pools.
    Separate {
        proto: Pool,
        sport: Pool,
        dport: Pool,
    },
}

/// A compiled rule list. Immutable; cheap to share between threads.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Classifier {
    rules: usize,
    /// Summary words per stored bitset.
    summary: usize,
    /// Rule words per stored bitset (`rules / 64` rounded up, at least 1;
    /// rounded up to a power of two when at most [`SMALL_WORDS`]).
    words: usize,
    /// `words` when the bitsets have no summary (at most [`SMALL_WORDS`]
    /// words), else 0.
    words_fixed: usize,
    src: Field,
    dst: Field,
    src_pool: Pool,
    dst_pool: Pool,
    #[serde(with = "proto_map")]
    proto_map: Box<[u32; 256]>,
    sport: PortField,
    dport: PortField,
    l4: L4,
}

/// Up to this many words per bitset, lookups AND all words without branches.
const SMALL_WORDS: usize = 16;

/// The index of the first word `w` for which the AND of `bits[..][w]` is not
/// zero, `W` or more if there is none.
#[inline(always)]
fn first_nonzero_word<const W: usize, const N: usize>(bits: &[&[u64; W]; N]) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if (2..=16).contains(&W) {
        // Two words per SSE2 vector; one bit per zero byte of the AND, from
        // the lowest word up.
        use std::arch::x86_64::*;
        let mut zero_bytes = 0u128;
        for j in 0..W / 2 {
            // SAFETY: the intrinsics need SSE2, which this code is compiled
            // for (cfg above). The load reads the 16 bytes from `b[2 * j]`,
            // inside the array since 2 * j + 1 < W; unaligned loads have no
            // other requirement.
            let m = unsafe {
                let mut v = _mm_set1_epi8(-1);
                for b in bits {
                    v = _mm_and_si128(v, _mm_loadu_si128(b.as_ptr().add(2 * j) as *const __m128i));
                }
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) as u16
            };
            zero_bytes |= (m as u128) << (16 * j);
        }
        // The first non-zero byte is in the first non-zero word.
        return ((!zero_bytes).trailing_zeros() / 8) as usize;
    }
    let mut nz = 0u32;
    for w in 0..W {
        let mut x = u64::MAX;
        for b in bits {
            x &= b[w];
        }
        nz |= ((x != 0) as u32) << w;
    }
    if nz == 0 {
        W
    } else {
        nz.trailing_zeros() as usize
    }
}

/// Keys whose searches are interleaved in [`Classifier::classify_batch`].
const LANES: usize = 8;

impl Classifier {
    /// Compiles `rules` (first match wins, in list order). Never panics; see the
    /// crate documentation for how odd input (long prefixes, reversed ranges,
    /// empty lists) is read.
    pub fn build(rules: &[Rule]) -> Classifier {
        build::build(rules)
    }

    /// The index of the first rule matching `key`, or `None`.
    #[inline]
    pub fn classify(&self, key: &Key) -> Option<u32> {
        let r = self.classify_raw(key);
        if r == u32::MAX {
            None
        } else {
            Some(r)
        }
    }

    /// As [`Classifier::classify`], `u32::MAX` for no match.
    #[inline]
    fn classify_raw(&self, key: &Key) -> u32 {
        match self.words_fixed {
            1 => self.classify_w::<1>(key),
            2 => self.classify_w::<2>(key),
            4 => self.classify_w::<4>(key),
            8 => self.classify_w::<8>(key),
            16 => self.classify_w::<16>(key),
            _ => self.classify_w::<0>(key),
        }
    }

    /// One key; `W` is the number of words of every bitset, 0 for "many, use
    /// the summaries".
    #[inline(always)]
    fn classify_w<const W: usize>(&self, key: &Key) -> u32 {
        let s = self.src.lookup(key.src) as usize;
        let d = self.dst.lookup(key.dst) as usize;
        match &self.l4 {
            L4::Combined { table, pool } => {
                let l = table[(self.proto_map[key.proto as usize]
                    + self.sport.lookup(key.sport)
                    + self.dport.lookup(key.dport)) as usize] as usize;
                self.first_match::<W, 3>([
                    &self.src_pool.data[s..],
                    &self.dst_pool.data[d..],
                    &pool.data[l..],
                ])
            }
            L4::Separate {
                proto,
                sport,
                dport,
            } => {
                let p = self.proto_map[key.proto as usize] as usize;
                let sp = self.sport.lookup(key.sport) as usize;
                let dp = self.dport.lookup(key.dport) as usize;
                self.first_match::<W, 5>([
                    &self.src_pool.data[s..],
                    &self.dst_pool.data[d..],
                    &proto.data[p..],
                    &sport.data[sp..],
                    &dport.data[dp..],
                ])
            }
        }
    }

    /// Classifies `keys[i]` into `out[i]`: the index of the first matching rule,
    /// `u32::MAX` when none matches. Panics if `out` is shorter than `keys`.
    pub fn classify_batch(&self, keys: &[Key], out: &mut [u32]) {
        assert!(
            out.len() >= keys.len(),
            "classify_batch: out is shorter than keys"
        );
        let out = &mut out[..keys.len()];
        match self.words_fixed {
            1 => self.batch_w::<1>(keys, out),
            2 => self.batch_w::<2>(keys, out),
            4 => self.batch_w::<4>(keys, out),
            8 => self.batch_w::<8>(keys, out),
            16 => self.batch_w::<16>(keys, out),
            _ => self.batch_w::<0>(keys, out),
        }
    }

    #[inline(always)]
    fn batch_w<const W: usize>(&self, keys: &[Key], out: &mut [u32]) {
        match &self.l4 {
            L4::Combined { table, pool } => {
                for (kc, oc) in keys.chunks(LANES).zip(out.chunks_mut(LANES)) {
                    // Field by field over the lanes, so that the searches of
                    // different keys overlap in the pipeline.
                    let mut so = [0usize; LANES];
                    let mut dof = [0usize; LANES];
                    let mut lo = [0usize; LANES];
                    for (i, k) in kc.iter().enumerate() {
                        lo[i] = (self.proto_map[k.proto as usize]
                            + self.sport.lookup(k.sport)
                            + self.dport.lookup(k.dport)) as usize;
                    }
                    for (i, k) in kc.iter().enumerate() {
                        so[i] = self.src.lookup(k.src) as usize;
                    }
                    for (i, k) in kc.iter().enumerate() {
                        dof[i] = self.dst.lookup(k.dst) as usize;
                    }
                    for l in lo.iter_mut().take(kc.len()) {
                        *l = table[*l] as usize;
                    }
                    for (i, o) in oc.iter_mut().enumerate() {
                        *o = self.first_match::<W, 3>([
                            &self.src_pool.data[so[i]..],
                            &self.dst_pool.data[dof[i]..],
                            &pool.data[lo[i]..],
                        ]);
                    }
                }
            }
            L4::Separate { .. } => {
                for (k, o) in keys.iter().zip(out.iter_mut()) {
                    *o = self.classify_w::<W>(k);
                }
            }
        }
    }

    /// The first rule whose bit is set in all `sets` (each a slice of a pool
    /// starting at a stored bitset), `u32::MAX` if none. `W` as in
    /// [`Classifier::classify_w`].
    #[inline(always)]
    fn first_match<const W: usize, const N: usize>(&self, sets: [&[u64]; N]) -> u32 {
        if W > 0 {
            // Few words, no summaries: AND all words without branching, then
            // pick the first non-zero one.
            let bits: [&[u64; W]; N] =
                sets.map(|s| s.first_chunk::<W>().expect("bitset inside its pool"));
            let w = first_nonzero_word::<W, N>(&bits);
            if w >= W {
                return u32::MAX;
            }
            let mut x = u64::MAX;
            for b in &bits {
                x &= b[w];
            }
            return (w * 64) as u32 + x.trailing_zeros();
        }
        // Many words: visit only those whose summary bits are set in all sets.
        let sw = self.summary;
        let words = self.words;
        let bits: [&[u64]; N] = sets.map(|s| &s[sw..sw + words]);
        for j in 0..sw {
            let mut s = u64::MAX;
            for set in &sets {
                s &= set[j];
            }
            while s != 0 {
                let w = j * 64 + s.trailing_zeros() as usize;
                let mut x = u64::MAX;
                for b in &bits {
                    x &= b[w];
                }
                if x != 0 {
                    return (w * 64) as u32 + x.trailing_zeros();
                }
                s &= s - 1;
            }
        }
        u32::MAX
    }

    /// Heap and inline bytes of the compiled structure.
    pub fn memory_bytes(&self) -> usize {
        let pools = match &self.l4 {
            L4::Combined { table, pool } => table.capacity() * 4 + pool.data.capacity() * 8,
            L4::Separate {
                proto,
                sport,
                dport,
            } => (proto.data.capacity() + sport.data.capacity() + dport.data.capacity()) * 8,
        };
        std::mem::size_of::<Self>()
            + 256 * 4
            + self.src.bytes()
            + self.dst.bytes()
            + self.sport.bytes()
            + self.dport.bytes()
            + (self.src_pool.data.capacity() + self.dst_pool.data.capacity()) * 8
            + pools
    }

    /// Number of rules compiled.
    pub fn len(&self) -> usize {
        self.rules
    }

    /// Where the answer may change along each field: the sorted distinct starts of the
    /// elementary intervals of the protocol, source, destination, source port and destination
    /// port. Within a box of keys that crosses none of these starts every key gets the same
    /// answer. For header-space analyses.
    pub fn cuts(&self) -> Cuts {
        fn starts(f: &Field) -> Vec<u32> {
            let mut v = f.starts.clone();
            v.dedup();
            v
        }
        let mut proto = vec![0u32];
        for p in 1..256 {
            if self.proto_map[p] != self.proto_map[p - 1] {
                proto.push(p as u32);
            }
        }
        Cuts {
            proto,
            src: starts(&self.src),
            dst: starts(&self.dst),
            sport: starts(&self.sport.field),
            dport: starts(&self.dport.field),
        }
    }

    /// Whether the rule list was empty (nothing ever matches).
    pub fn is_empty(&self) -> bool {
        self.rules == 0
    }
}

mod build {
    use super::*;

    /// Classes of one field after the sweep.
    struct Classes {
        /// Interval starts (first is 0) and class number per interval.
        starts: Vec<u32>,
        ids: Vec<u32>,
        /// `count` bitsets of `words` words each.
        bits: Vec<u64>,
        count: usize,
    }

    /// Interns bitsets: equal bitsets get one class number.
    struct Interner {
        map: HashMap<Vec<u64>, u32>,
        bits: Vec<u64>,
        count: usize,
    }

    impl Interner {
        fn new() -> Self {
            Interner {
                map: HashMap::new(),
                bits: Vec::new(),
                count: 0,
            }
        }
        fn intern(&mut self, set: &[u64]) -> u32 {
            if let Some(&id) = self.map.get(set) {
                return id;
            }
            let id = self.count as u32;
            self.map.insert(set.to_vec(), id);
            self.bits.extend_from_slice(set);
            self.count += 1;
            id
        }
    }

    /// Cuts the domain `[0, end)` by the inclusive ranges of each rule
    /// (`ranges[i]` for rule `i`) into elementary intervals and their classes.
    fn sweep(words: usize, end: u64, ranges: &[Vec<(u64, u64)>]) -> Classes {
        let mut events: Vec<(u64, u32)> = Vec::new();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (i, rs) in ranges.iter().enumerate() {
            merged.clear();
            merged.extend(rs.iter().copied().filter(|&(lo, hi)| lo <= hi && lo < end));
            merged.sort_unstable();
            // Merge overlapping and touching ranges so each rule's ranges are
            // disjoint: its bit then toggles exactly at their ends.
            let mut k = 0;
            for j in 0..merged.len() {
                let (lo, hi) = merged[j];
                if k > 0 && lo <= merged[k - 1].1.saturating_add(1) {
                    merged[k - 1].1 = merged[k - 1].1.max(hi);
                } else {
                    merged[k] = (lo, hi);
                    k += 1;
                }
            }
            for &(lo, hi) in &merged[..k] {
                events.push((lo, i as u32));
                if hi + 1 < end {
                    events.push((hi + 1, i as u32));
                }
            }
        }
        events.sort_unstable();
        let mut cur = vec![0u64; words];
        let mut interner = Interner::new();
        let mut starts = Vec::new();
        let mut ids: Vec<u32> = Vec::new();
        let mut k = 0;
        let mut pos = 0u64;
        loop {
            while k < events.len() && events[k].0 == pos {
                let r = events[k].1 as usize;
                cur[r / 64] ^= 1 << (r % 64);
                k += 1;
            }
            let id = interner.intern(&cur);
            if ids.last() != Some(&id) {
                starts.push(pos as u32);
                ids.push(id);
            }
            if k == events.len() {
                break;
            }
            pos = events[k].0;
        }
        Classes {
            starts,
            ids,
            bits: interner.bits,
            count: interner.count,
        }
    }

    /// Stores `count` bitsets of `words` words with their summaries; returns the
    /// pool (class `c` at offset `c * (summary + words)`).
    fn pool(bits: &[u64], count: usize, words: usize, summary: usize) -> Pool {
        let stride = summary + words;
        let mut data = vec![0u64; count * stride];
        for c in 0..count {
            let set = &bits[c * words..(c + 1) * words];
            let out = &mut data[c * stride..(c + 1) * stride];
            for (w, &x) in set.iter().enumerate() {
                if x != 0 && summary > 0 {
                    out[w / 64] |= 1 << (w % 64);
                }
                out[summary + w] = x;
            }
        }
        Pool { data }
    }

    fn prefix_range(addr: u32, len: u8) -> (u64, u64) {
        let m = netmask(len);
        let lo = (addr & m) as u64;
        (lo, lo | (!m) as u64)
    }

    fn port_ranges(rs: &[(u16, u16)]) -> Vec<(u64, u64)> {
        rs.iter().map(|&(lo, hi)| (lo as u64, hi as u64)).collect()
    }

    /// A field whose values are offsets `id * stride` (or `id * mul`).
    fn field(c: &Classes, mul: usize) -> Field {
        Field::new(
            c.starts.clone(),
            c.ids.iter().map(|&id| (id as usize * mul) as u32).collect(),
        )
    }

    /// A port field whose values are `id * mul`.
    fn port_field(c: &Classes, mul: usize) -> PortField {
        let mut direct = Vec::new();
        // Port classes are fewer than 65,536 (one per port at most): u16 fits.
        if c.starts.len() >= PORT_DIRECT_MIN {
            direct = vec![0u16; 1 << 16];
            for (i, &s) in c.starts.iter().enumerate() {
                let e = c.starts.get(i + 1).map_or(1 << 16, |&x| x as usize);
                direct[s as usize..e].fill(c.ids[i] as u16);
            }
        }
        let field = if direct.is_empty() {
            field(c, mul)
        } else {
            Field::new(vec![0], vec![0])
        };
        PortField {
            field,
            direct,
            mul: mul as u32,
        }
    }

    pub(super) fn build(rules: &[Rule]) -> Classifier {
        let n = rules.len();
        let mut words = n.div_ceil(64).max(1);
        let (summary, words_fixed);
        if words <= SMALL_WORDS {
            words = words.next_power_of_two();
            (summary, words_fixed) = (0, words);
        } else {
            (summary, words_fixed) = (words.div_ceil(64), 0);
        }
        let stride = summary + words;

        let src_r: Vec<Vec<(u64, u64)>> = rules
            .iter()
            .map(|r| r.src.iter().map(|&(a, l)| prefix_range(a, l)).collect())
            .collect();
        let dst_r: Vec<Vec<(u64, u64)>> = rules
            .iter()
            .map(|r| r.dst.iter().map(|&(a, l)| prefix_range(a, l)).collect())
            .collect();
        let proto_r: Vec<Vec<(u64, u64)>> = rules
            .iter()
            .map(|r| match &r.protocols {
                Protocols::Any => vec![(0, 255)],
                Protocols::Set(v) => v.iter().map(|&p| (p as u64, p as u64)).collect(),
            })
            .collect();
        let sport_r: Vec<Vec<(u64, u64)>> = rules.iter().map(|r| port_ranges(&r.sport)).collect();
        let dport_r: Vec<Vec<(u64, u64)>> = rules.iter().map(|r| port_ranges(&r.dport)).collect();

        let src_c = sweep(words, 1 << 32, &src_r);
        let dst_c = sweep(words, 1 << 32, &dst_r);
        let proto_c = sweep(words, 256, &proto_r);
        let sport_c = sweep(words, 1 << 16, &sport_r);
        let dport_c = sweep(words, 1 << 16, &dport_r);

        let src = field(&src_c, stride);
        let dst = field(&dst_c, stride);
        let src_pool = pool(&src_c.bits, src_c.count, words, summary);
        let dst_pool = pool(&dst_c.bits, dst_c.count, words, summary);

        // Protocol class of each of the 256 values.
        let mut proto_id = [0u32; 256];
        for (i, &s) in proto_c.starts.iter().enumerate() {
            let e = proto_c.starts.get(i + 1).map_or(256, |&x| x as usize);
            for v in &mut proto_id[s as usize..e] {
                *v = proto_c.ids[i];
            }
        }

        let (cp, cs, cd) = (proto_c.count, sport_c.count, dport_c.count);
        let product = cp.saturating_mul(cs).saturating_mul(cd);
        let mut proto_map = Box::new([0u32; 256]);
        let (sport, dport, l4);
        if product <= L4_TABLE_MAX && product.saturating_mul(words) <= L4_WORK_MAX {
            // Cross product: table[(p * cs + s) * cd + d] = offset of the AND.
            for (m, &id) in proto_map.iter_mut().zip(proto_id.iter()) {
                *m = id * (cs * cd) as u32;
            }
            sport = port_field(&sport_c, cd);
            dport = port_field(&dport_c, 1);
            let mut interner = Interner::new();
            let mut table = Vec::with_capacity(product);
            let mut ps = vec![0u64; words];
            let mut all = vec![0u64; words];
            for p in 0..cp {
                let pb = &proto_c.bits[p * words..(p + 1) * words];
                for s in 0..cs {
                    let sb = &sport_c.bits[s * words..(s + 1) * words];
                    for w in 0..words {
                        ps[w] = pb[w] & sb[w];
                    }
                    for d in 0..cd {
                        let db = &dport_c.bits[d * words..(d + 1) * words];
                        for w in 0..words {
                            all[w] = ps[w] & db[w];
                        }
                        table.push(interner.intern(&all) * stride as u32);
                    }
                }
            }
            l4 = L4::Combined {
                table,
                pool: pool(&interner.bits, interner.count, words, summary),
            };
        } else {
            for (m, &id) in proto_map.iter_mut().zip(proto_id.iter()) {
                *m = id * stride as u32;
            }
            sport = port_field(&sport_c, stride);
            dport = port_field(&dport_c, stride);
            l4 = L4::Separate {
                proto: pool(&proto_c.bits, cp, words, summary),
                sport: pool(&sport_c.bits, cs, words, summary),
                dport: pool(&dport_c.bits, cd, words, summary),
            };
        }
        Classifier {
            rules: n,
            summary,
            words,
            words_fixed,
            src,
            dst,
            src_pool,
            dst_pool,
            proto_map,
            sport,
            dport,
            l4,
        }
    }
}

/// `Classifier::proto_map` saved as a sequence (serde's arrays stop at 32), read back only at
/// its length.
mod proto_map {
    use serde::{de::Error, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &[u32; 256], s: S) -> Result<S::Ok, S::Error> {
        m.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Box<[u32; 256]>, D::Error> {
        let v = Vec::<u32>::deserialize(d)?;
        let n = v.len();
        v.into_boxed_slice()
            .try_into()
            .map_err(|_| D::Error::invalid_length(n, &"256 protocol offsets"))
    }
}
