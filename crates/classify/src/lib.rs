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
    #[serde(with = "le_array")]
    starts: Vec<u32>,
    #[serde(with = "le_array")]
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

    /// `out[i] = lookup(xs[i])` for every lane, the search depth chosen once for all
    /// of them (not once a key), the lanes' searches interleaved step by step.
    #[inline(always)]
    fn lookup_lanes(&self, xs: &[u32; LANES], out: &mut [usize; LANES]) {
        macro_rules! depths {
            ($($d:literal)*) => {
                match self.starts.len().trailing_zeros() {
                    $($d => {
                        for i in 0..LANES {
                            out[i] = self.search::<$d>(xs[i]);
                        }
                    })*
                    _ => {
                        for i in 0..LANES {
                            out[i] = self.search_any(xs[i]);
                        }
                    }
                }
            };
        }
        depths!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20);
        for o in out.iter_mut() {
            // SAFETY: as in `lookup`: every search returns an index below `vals.len()`.
            *o = unsafe { *self.vals.get_unchecked(*o) } as usize;
        }
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
    #[serde(with = "le_array")]
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
    #[serde(with = "le_array")]
    data: Vec<u64>,
}

impl Pool {
    /// The stored bitset (with its summary) at `offset`, to the end of the pool.
    #[inline(always)]
    fn bitset(&self, offset: usize) -> &[u64] {
        debug_assert!(offset < self.data.len());
        // SAFETY: every offset a field or the layer-4 table holds is
        // `class * stride` for a class of this pool (`build::field`,
        // `build::port_field`, the cross product), and the pool holds
        // `count * stride` words (`build::pool`): the offset is in bounds,
        // with a whole bitset after it. A classifier read from a file is
        // checked for exactly this before use (`layout::check`).
        unsafe { self.data.get_unchecked(offset..) }
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
enum L4 {
    /// `table[proto_map[proto] + sport.lookup() + dport.lookup()]` is the
    /// offset of the layer-4 bitset in `pool` (the three parts are
    /// pre-multiplied class numbers).
    Combined {
        #[serde(with = "le_array")]
        table: Vec<u32>,
        pool: Pool,
    },
    /// `proto_map`, `sport`, `dport` give offsets into their own pools.
    Separate {
        proto: Pool,
        sport: Pool,
        dport: Pool,
    },
}

/// A compiled rule list. Immutable; cheap to share between threads.
///
/// Saved and read back with serde (a compiled fabric file); what is read is checked to have
/// the layout [`Classifier::build`] gives before it is used (`layout::check`), so a damaged
/// or crafted file is an error, never an out-of-bounds read.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
#[serde(try_from = "layout::Parts")]
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
    /// Whether the processor has AVX2 (checked once, at build or when read back): batches
    /// then AND four bitset words a vector instead of two.
    #[serde(skip)]
    avx2: bool,
}

/// Up to this many words per bitset, lookups AND all words without branches.
const SMALL_WORDS: usize = 16;

/// The index of the first word `w` for which the AND of `bits[..][w]` is not
/// zero, `W` or more if there is none. With `AVX2` (only ever true inside
/// [`Classifier::batch_w_avx2`], compiled for AVX2 and called only when the
/// processor has it) four words are ANDed per vector, else two (SSE2).
#[inline(always)]
fn first_nonzero_word<const W: usize, const N: usize, const AVX2: bool>(
    bits: &[&[u64; W]; N],
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if AVX2 && (4..=16).contains(&W) {
        use std::arch::x86_64::*;
        // One bit per zero word of the AND, from the lowest word up.
        let mut zero = 0u32;
        for j in 0..W / 4 {
            // SAFETY: AVX2 is enabled in the only caller that sets `AVX2` (see
            // above). The load reads the 32 bytes from `b[4 * j]`, inside the
            // array since 4 * j + 3 < W; unaligned loads have no other requirement.
            let m = unsafe {
                let mut v = _mm256_set1_epi8(-1);
                for b in bits {
                    v = _mm256_and_si256(
                        v,
                        _mm256_loadu_si256(b.as_ptr().add(4 * j) as *const __m256i),
                    );
                }
                let z = _mm256_cmpeq_epi64(v, _mm256_setzero_si256());
                _mm256_movemask_pd(_mm256_castsi256_pd(z)) as u32
            };
            zero |= m << (4 * j);
        }
        return (!zero).trailing_zeros() as usize;
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if (2..=16).contains(&W) {
        // Two words per SSE2 vector, one bit per zero 32-bit half of the AND.
        use std::arch::x86_64::*;
        let mut zero_halves = 0u32;
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
                let z = _mm_cmpeq_epi32(v, _mm_setzero_si128());
                _mm_movemask_ps(_mm_castsi128_ps(z)) as u32
            };
            zero_halves |= m << (4 * j);
        }
        // Word `w` is zero when both its halves (bits 2w and 2w + 1) are.
        let zero_words = zero_halves & (zero_halves >> 1) & 0x5555_5555;
        return ((!zero_words & 0x5555_5555).trailing_zeros() / 2) as usize;
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

    /// The same classifier with the AVX2 batch path switched off: batches then
    /// take the SSE2 (or scalar) path every x86-64 processor has. Lookups give
    /// the same answers either way; this exists so that tests and benchmarks
    /// can compare the two paths on a processor that has AVX2.
    pub fn portable(mut self) -> Classifier {
        self.avx2 = false;
        self
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
                self.first_match::<W, 3, false>([
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
                self.first_match::<W, 5, false>([
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
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `avx2` is true only when the processor has AVX2 (`build`).
            4 if self.avx2 => unsafe { self.batch_w_avx2::<4>(keys, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            8 if self.avx2 => unsafe { self.batch_w_avx2::<8>(keys, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            16 if self.avx2 => unsafe { self.batch_w_avx2::<16>(keys, out) },
            1 => self.batch_w::<1, false>(keys, out),
            2 => self.batch_w::<2, false>(keys, out),
            4 => self.batch_w::<4, false>(keys, out),
            8 => self.batch_w::<8, false>(keys, out),
            16 => self.batch_w::<16, false>(keys, out),
            _ => self.batch_w::<0, false>(keys, out),
        }
    }

    /// [`Classifier::batch_w`] compiled for AVX2, its bitset ANDs four words a vector.
    ///
    /// # Safety
    /// The processor must have AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn batch_w_avx2<const W: usize>(&self, keys: &[Key], out: &mut [u32]) {
        self.batch_w::<W, true>(keys, out)
    }

    #[inline(always)]
    fn batch_w<const W: usize, const AVX2: bool>(&self, keys: &[Key], out: &mut [u32]) {
        match &self.l4 {
            L4::Combined { table, pool } => {
                let mut kc = keys.chunks_exact(LANES);
                let mut oc = out.chunks_exact_mut(LANES);
                for (kc, oc) in (&mut kc).zip(&mut oc) {
                    // Field by field over the lanes, so that the searches of
                    // different keys overlap in the pipeline.
                    let mut lo = [0usize; LANES];
                    let mut so = [0usize; LANES];
                    let mut dof = [0usize; LANES];
                    let (mut srcs, mut dsts) = ([0u32; LANES], [0u32; LANES]);
                    for i in 0..LANES {
                        let k = &kc[i];
                        lo[i] = table[(self.proto_map[k.proto as usize]
                            + self.sport.lookup(k.sport)
                            + self.dport.lookup(k.dport))
                            as usize] as usize;
                        (srcs[i], dsts[i]) = (k.src, k.dst);
                    }
                    self.src.lookup_lanes(&srcs, &mut so);
                    self.dst.lookup_lanes(&dsts, &mut dof);
                    for i in 0..LANES {
                        oc[i] = self.first_match::<W, 3, AVX2>([
                            self.src_pool.bitset(so[i]),
                            self.dst_pool.bitset(dof[i]),
                            pool.bitset(lo[i]),
                        ]);
                    }
                }
                for (k, o) in kc.remainder().iter().zip(oc.into_remainder()) {
                    *o = self.classify_w::<W>(k);
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
    fn first_match<const W: usize, const N: usize, const AVX2: bool>(
        &self,
        sets: [&[u64]; N],
    ) -> u32 {
        if W > 0 {
            // Few words, no summaries: AND all words without branching, then
            // pick the first non-zero one.
            let bits: [&[u64; W]; N] = sets.map(|s| {
                debug_assert!(s.len() >= W);
                // SAFETY: each set starts at a stored bitset of `words == W`
                // words (`words_fixed`), inside its pool (see `Pool::bitset`).
                unsafe { &*(s.as_ptr() as *const [u64; W]) }
            });
            let w = first_nonzero_word::<W, N, AVX2>(&bits);
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

    /// A multiply-rotate hash of whole words (as FxHash): the interner hashes a
    /// bitset per elementary interval, where SipHash's strength buys nothing.
    #[derive(Default)]
    struct WordHasher(u64);

    impl std::hash::Hasher for WordHasher {
        fn finish(&self) -> u64 {
            self.0
        }
        /// A slice of words arrives as its bytes (integers hash their slices whole).
        fn write(&mut self, bytes: &[u8]) {
            let mut chunks = bytes.chunks_exact(8);
            for c in &mut chunks {
                self.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
            }
            for &b in chunks.remainder() {
                self.write_u64(b as u64);
            }
        }
        fn write_u64(&mut self, w: u64) {
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
        }
        fn write_usize(&mut self, w: usize) {
            self.write_u64(w as u64);
        }
    }

    type WordMap<V> = HashMap<Vec<u64>, V, std::hash::BuildHasherDefault<WordHasher>>;

    /// Interns bitsets: equal bitsets get one class number.
    struct Interner {
        map: WordMap<u32>,
        bits: Vec<u64>,
        count: usize,
    }

    impl Interner {
        fn new() -> Self {
            Interner {
                map: WordMap::default(),
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
            avx2: has_avx2(),
        }
    }

    pub(super) fn has_avx2() -> bool {
        #[cfg(target_arch = "x86_64")]
        return std::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        false
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

/// The check of a classifier read back from a file: every offset its lookups can produce
/// lies inside the table or pool it indexes, with a whole bitset after it.
/// The classifier's arrays as their little-endian bytes in a binary format (a compiled fabric
/// file): read back with one copy each instead of a call per number, which made decoding a
/// table's 65,536-entry port arrays most of the cost of a table's first use. A human-readable
/// format gets them as sequences of numbers.
mod le_array {
    use serde::de::{Deserialize, Deserializer, Error, Visitor};
    use serde::ser::{Serialize, Serializer};
    use std::marker::PhantomData;

    /// A number stored in an array: its width and its little-endian bytes.
    pub trait Word: Copy {
        const SIZE: usize;
        fn put(self, out: &mut Vec<u8>);
        fn get(b: &[u8]) -> Self;
    }

    macro_rules! word {
        ($($t:ty),*) => {$(
            impl Word for $t {
                const SIZE: usize = std::mem::size_of::<$t>();
                fn put(self, out: &mut Vec<u8>) {
                    out.extend_from_slice(&self.to_le_bytes());
                }
                fn get(b: &[u8]) -> Self {
                    <$t>::from_le_bytes(b.try_into().expect("chunks of the word's size"))
                }
            }
        )*};
    }
    word!(u16, u32, u64);

    pub fn serialize<T: Word + Serialize, S: Serializer>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return v.serialize(s);
        }
        let mut bytes = Vec::with_capacity(v.len() * T::SIZE);
        v.iter().for_each(|&x| x.put(&mut bytes));
        s.serialize_bytes(&bytes)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
    where
        T: Word + Deserialize<'de>,
        D: Deserializer<'de>,
    {
        if d.is_human_readable() {
            return Vec::deserialize(d);
        }
        d.deserialize_bytes(Bytes(PhantomData))
    }

    struct Bytes<T>(PhantomData<T>);

    impl<T: Word> Visitor<'_> for Bytes<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "the little-endian bytes of {}-byte numbers", T::SIZE)
        }
        fn visit_bytes<E: Error>(self, b: &[u8]) -> Result<Vec<T>, E> {
            if !b.len().is_multiple_of(T::SIZE) {
                return Err(E::invalid_length(b.len(), &self));
            }
            Ok(b.chunks_exact(T::SIZE).map(T::get).collect())
        }
    }
}

mod layout {
    use super::*;

    /// A [`Classifier`]'s saved fields, in its order.
    #[derive(serde::Deserialize)]
    pub(super) struct Parts {
        rules: usize,
        summary: usize,
        words: usize,
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

    impl TryFrom<Parts> for Classifier {
        type Error = String;
        fn try_from(p: Parts) -> Result<Classifier, String> {
            let c = Classifier {
                rules: p.rules,
                summary: p.summary,
                words: p.words,
                words_fixed: p.words_fixed,
                src: p.src,
                dst: p.dst,
                src_pool: p.src_pool,
                dst_pool: p.dst_pool,
                proto_map: p.proto_map,
                sport: p.sport,
                dport: p.dport,
                l4: p.l4,
                avx2: build::has_avx2(),
            };
            check(&c).map_err(|e| format!("a classifier is damaged: {e}"))?;
            Ok(c)
        }
    }

    /// The largest value a field's lookup returns, if its tables are well formed.
    fn field_max(f: &Field) -> Result<usize, &'static str> {
        let n = f.starts.len();
        if n == 0 || !n.is_power_of_two() || f.vals.len() != n || f.starts[0] != 0 {
            return Err("a field's interval table is malformed");
        }
        Ok(f.vals.iter().copied().max().unwrap_or(0) as usize)
    }

    fn port_max(f: &PortField) -> Result<usize, &'static str> {
        match f.direct.len() {
            0 => field_max(&f.field),
            65_536 => {
                let m = f.direct.iter().copied().max().unwrap_or(0) as usize;
                m.checked_mul(f.mul as usize)
                    .ok_or("a port table overflows")
            }
            _ => Err("a port table has the wrong length"),
        }
    }

    /// `max` (the largest offset) plus a whole bitset fits in `pool`.
    fn fits(max: usize, stride: usize, pool: &Pool) -> Result<(), &'static str> {
        match max.checked_add(stride) {
            Some(end) if end <= pool.data.len() => Ok(()),
            _ => Err("an offset points past its bitset pool"),
        }
    }

    pub(super) fn check(c: &Classifier) -> Result<(), &'static str> {
        let fixed = matches!(c.words_fixed, 0 | 1 | 2 | 4 | 8 | 16);
        let shape = if c.words_fixed > 0 {
            c.words == c.words_fixed && c.summary == 0
        } else {
            c.words > SMALL_WORDS && c.summary == c.words.div_ceil(64)
        };
        if !fixed || !shape || c.rules > c.words.saturating_mul(64) {
            return Err("its word counts disagree");
        }
        let stride = c.summary + c.words;
        fits(field_max(&c.src)?, stride, &c.src_pool)?;
        fits(field_max(&c.dst)?, stride, &c.dst_pool)?;
        let proto = c.proto_map.iter().copied().max().unwrap_or(0) as usize;
        let (sport, dport) = (port_max(&c.sport)?, port_max(&c.dport)?);
        match &c.l4 {
            L4::Combined { table, pool } => {
                let top = proto.checked_add(sport).and_then(|x| x.checked_add(dport));
                if top.is_none_or(|t| t >= table.len()) {
                    return Err("a layer-4 index points past its table");
                }
                let max = table.iter().copied().max().unwrap_or(0) as usize;
                fits(max, stride, pool)
            }
            L4::Separate {
                proto: pp,
                sport: sp,
                dport: dp,
            } => {
                fits(proto, stride, pp)?;
                fits(sport, stride, sp)?;
                fits(dport, stride, dp)
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn rules() -> Vec<Rule> {
            let mut r = Rule::any();
            r.dport = vec![(443, 443)];
            vec![r, Rule::any()]
        }

        #[test]
        fn a_built_classifier_passes() {
            for n in [1usize, 70, 300, 1100] {
                let c = Classifier::build(&rules().into_iter().cycle().take(n).collect::<Vec<_>>());
                assert_eq!(check(&c), Ok(()), "{n} rules");
            }
        }

        #[test]
        fn an_offset_past_its_pool_is_refused() {
            let mut c = Classifier::build(&rules());
            let last = c.src.vals.len() - 1;
            c.src.vals[last] = c.src_pool.data.len() as u32;
            assert!(check(&c).is_err());
            let mut c = Classifier::build(&rules());
            c.dst.starts.pop();
            assert!(check(&c).is_err());
            let mut c = Classifier::build(&rules());
            c.proto_map[6] = u32::MAX;
            assert!(check(&c).is_err());
        }
    }
}
