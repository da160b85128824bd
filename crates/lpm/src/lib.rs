//! Compiled IPv4 longest-prefix-match table (FIB) of the vnetsim data plane.
//!
//! Every per-subnet effective route table is compiled into a [`Fib`]: an
//! immutable, read-only structure answering "which value belongs to the
//! longest prefix containing this address" in a handful of memory accesses.
//!
//! # Structure
//!
//! The FIB is a *poptrie* (Asai and Ohara, SIGCOMM 2015): a multibit trie with
//! a 6-bit stride whose nodes are compressed with two 64-bit bitmaps and
//! population counts, preceded by a directly indexed top level ("direct
//! pointing") whose width adapts to the size of the table.
//!
//! * **Direct level.** The top `s` bits of the address index `direct`, an
//!   array of `2^s` `u32` entries. An entry is either a final answer (a value
//!   below `2^31`, or [`MISS`]) or `0x8000_0000 | node` pointing at the node
//!   that resolves the next bits. `s` grows with the number of prefixes `n`:
//!   the widest of 8, 12, 14, 16, 18 and 20 bits whose `2^s` entries stay within
//!   12 per prefix, and 0 (a single root entry) below 22 prefixes. A table of a few
//!   hundred routes thus spends 1 to 16 KiB on it; from about 87,000 prefixes it
//!   is 20 bits (4 MiB), where a /24 is one node and a /32 two nodes down.
//! * **Nodes.** Each node resolves the next 6 bits `v` of the address and is
//!   24 bytes: `vector` (bit `v` set: position `v` continues in a child
//!   node), `leafvec` (bit `v` set: position `v` is a leaf whose value differs
//!   from the previous leaf position), `base1` (index of the first child in
//!   `nodes`) and `base0` (index of the first leaf in `leaves`). The children
//!   of a node are contiguous, so child `v` is `nodes[base1 + popcnt(vector
//!   below v)]`. Runs of equal leaves are stored once, so leaf `v` is
//!   `leaves[base0 + popcnt(leafvec up to v) - 1]`. Position 0 always owns a
//!   leaf (a placeholder when it is a child), so that index is valid for any
//!   position, which lets the batched walk compute it without a branch. Addresses are read as if
//!   extended with zero bits on the right, so a level that straddles bit 32
//!   simply sees zeros there.
//! * **Leaves.** `leaves` holds the values (or [`MISS`]) of leaf runs, in
//!   node order.
//!
//! Route expansion is leaf-pushed: every leaf carries the value of the
//! longest prefix covering it, including prefixes that end higher up in the
//! trie, so a lookup ends at the first leaf it meets.
//!
//! # Memory
//!
//! Three flat arrays, no pointers: `4 * 2^s + 24 * nodes + 4 * leaves` bytes
//! ([`Fib::memory_bytes`]). A table of a few hundred routes costs a few tens of
//! kilobytes (600 Azure-like routes: about 43 KB); 100,000 routes cost under
//! 7 MB (a DIR-24-8 table costs 64 MiB whatever its size).
//!
//! # Lookups
//!
//! [`Fib::lookup`] walks one address. [`Fib::lookup_batch`] walks up to 64
//! addresses level by level: all direct entries first, then one trie level at a
//! time for the addresses not yet answered, without data-dependent branches
//! (conditional selects), so that the processor overlaps the memory accesses of
//! many lookups. On x86-64 it uses the `popcnt` and BMI instructions when the
//! processor has them, whatever the compile-time target. Neither allocates.
//!
//! # Values
//!
//! Values are `u32` below `2^31` ([`MAX_VALUE`]); the top bit is used to tell
//! nodes from answers in the direct level. [`Fib::lookup_batch`] writes
//! [`MISS`] (`u32::MAX`) for an address no prefix covers.

use std::fmt;

pub mod bench;

/// Written by [`Fib::lookup_batch`] for an address that no prefix covers.
pub const MISS: u32 = u32::MAX;

/// Largest value a route may carry.
pub const MAX_VALUE: u32 = 0x7FFF_FFFF;

/// Flag of a direct-level entry that points at a node.
const NODE_FLAG: u32 = 0x8000_0000;

/// Lookups interleaved by [`Fib::lookup_batch`].
const GROUP: usize = 64;

/// Bits resolved by one trie node.
const STRIDE: u32 = 6;

/// The direct level gets at most this many entries (4 bytes each) per prefix.
const DIRECT_ENTRIES_PER_PREFIX: usize = 12;

/// Why a route table cannot be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// A prefix length above 32.
    PrefixLength { index: usize, len: u8 },
    /// A value above [`MAX_VALUE`].
    Value { index: usize, value: u32 },
    /// A direct level wider than 24 bits was asked for.
    DirectBits(u8),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::PrefixLength { index, len } => {
                write!(f, "route {index}: prefix length {len} is above 32")
            }
            BuildError::Value { index, value } => {
                write!(
                    f,
                    "route {index}: value {value} is above the largest allowed, {MAX_VALUE}"
                )
            }
            BuildError::DirectBits(b) => write!(f, "direct level of {b} bits is above 24"),
        }
    }
}

impl std::error::Error for BuildError {}

/// One trie node: 6 bits of the address, two bitmaps and two bases.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Node {
    /// Bit `v` set: position `v` continues in child node `base1 + popcnt(vector & below(v))`.
    vector: u64,
    /// Bit `v` set: leaf position `v` starts a new run of equal leaves.
    leafvec: u64,
    /// Index of the first leaf of this node, minus one (wrapping).
    base0m1: u32,
    /// Index of the first child of this node.
    base1: u32,
}

/// Compiled longest-prefix-match table over IPv4 addresses (host-order `u32`).
///
/// Immutable after [`Fib::build`]; cheap to share between threads. Saved and read back with
/// serde (a compiled fabric file); what is read is checked to have the shape the compiler
/// gives before it is used ([`Fib::check_layout`]), so a damaged or crafted file is an
/// error, never an out-of-bounds read or an endless walk.
#[derive(serde::Serialize, serde::Deserialize, Clone)]
#[serde(try_from = "layout::Parts")]
pub struct Fib {
    /// Width `s` of the direct level.
    direct_bits: u32,
    /// `32 - s`: shift of the (zero-extended, 64-bit) address giving the direct index.
    direct_shift: u32,
    direct: Box<[u32]>,
    nodes: Box<[Node]>,
    leaves: Box<[u32]>,
    prefixes: usize,
    /// Sorted distinct addresses where a prefix starts or ends (its last address plus one):
    /// between two consecutive cuts every lookup returns the same value.
    cuts: Box<[u32]>,
}

impl Default for Fib {
    /// The empty table: every lookup misses.
    fn default() -> Fib {
        Fib::build(&[])
    }
}

impl fmt::Debug for Fib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fib")
            .field("prefixes", &self.prefixes)
            .field("direct_bits", &self.direct_bits)
            .field("nodes", &self.nodes.len())
            .field("leaves", &self.leaves.len())
            .field("memory_bytes", &self.memory_bytes())
            .finish()
    }
}

/// A route after validation and masking: (network, length, value).
type Route = (u32, u8, u32);

/// The netmask of a prefix length (lengths above 32 count as 32): the one prefix-mask helper
/// of vnetsim.
#[inline(always)]
pub fn netmask(len: u8) -> u32 {
    match len {
        0 => 0,
        l if l >= 32 => u32::MAX,
        l => u32::MAX << (32 - l as u32),
    }
}

/// Bits `o .. o + stride` of `addr`, reading past bit 32 as zeros.
#[inline(always)]
fn chunk(addr: u32, o: u32, stride: u32) -> usize {
    if stride == 0 {
        0
    } else {
        ((((addr as u64) << 32) << o) >> (64 - stride)) as usize
    }
}

impl Fib {
    /// Value written by [`Fib::lookup_batch`] for a miss (same as [`MISS`]).
    pub const MISS: u32 = MISS;

    /// Compiles `routes`: `(network address in host order, prefix length 0..=32, value)`.
    /// Host bits beyond the length are ignored. If the same prefix appears more than
    /// once, the later entry wins.
    ///
    /// # Panics
    /// On a prefix length above 32 or a value above [`MAX_VALUE`]; use
    /// [`Fib::try_build`] to get an error instead.
    pub fn build(routes: &[(u32, u8, u32)]) -> Fib {
        match Fib::try_build(routes) {
            Ok(f) => f,
            Err(e) => panic!("Fib::build: {e}"),
        }
    }

    /// [`Fib::build`] returning an error for a prefix length above 32 or a value
    /// above [`MAX_VALUE`].
    pub fn try_build(routes: &[(u32, u8, u32)]) -> Result<Fib, BuildError> {
        let sorted = normalize(routes)?;
        let bits = direct_bits_for(&sorted);
        Ok(compile(&sorted, bits))
    }

    /// [`Fib::try_build`] with a chosen direct-level width (0..=24 bits) instead of the
    /// one picked from the table size. For measurements and tests.
    pub fn build_with_direct_bits(
        routes: &[(u32, u8, u32)],
        direct_bits: u8,
    ) -> Result<Fib, BuildError> {
        if direct_bits > 24 {
            return Err(BuildError::DirectBits(direct_bits));
        }
        let sorted = normalize(routes)?;
        Ok(compile(&sorted, direct_bits as u32))
    }

    /// Value of the longest prefix containing `addr`, if any.
    #[inline]
    pub fn lookup(&self, addr: u32) -> Option<u32> {
        let v = self.lookup_raw(addr);
        if v == MISS {
            None
        } else {
            Some(v)
        }
    }

    /// Looks up every address of `addrs` into the same position of `out`, writing
    /// [`MISS`] (`u32::MAX`) for an address no prefix covers.
    ///
    /// # Panics
    /// If `out.len() != addrs.len()`.
    pub fn lookup_batch(&self, addrs: &[u32], out: &mut [u32]) {
        assert_eq!(
            addrs.len(),
            out.len(),
            "lookup_batch: out and addrs differ in length"
        );
        #[cfg(all(target_arch = "x86_64", not(target_feature = "popcnt")))]
        {
            if std::is_x86_feature_detected!("popcnt")
                && std::is_x86_feature_detected!("bmi1")
                && std::is_x86_feature_detected!("bmi2")
            {
                // SAFETY: the CPU supports popcnt, BMI1 and BMI2, checked just above.
                unsafe { self.batch_popcnt(addrs, out) };
                return;
            }
        }
        self.batch_generic(addrs, out);
    }

    #[cfg(all(target_arch = "x86_64", not(target_feature = "popcnt")))]
    #[target_feature(enable = "popcnt,bmi1,bmi2")]
    unsafe fn batch_popcnt(&self, addrs: &[u32], out: &mut [u32]) {
        self.batch_generic(addrs, out);
    }

    #[inline(always)]
    fn batch_generic(&self, addrs: &[u32], out: &mut [u32]) {
        for (a, o) in addrs.chunks(GROUP).zip(out.chunks_mut(GROUP)) {
            self.group(a, o);
        }
    }

    /// Looks up at most [`GROUP`] addresses level by level: first the direct level
    /// of all of them, then one trie level at a time for those not yet answered.
    /// Each pass is a loop of independent lookups without data-dependent branches,
    /// so the processor overlaps their memory accesses.
    #[inline(always)]
    fn group(&self, addrs: &[u32], out: &mut [u32]) {
        let n = addrs.len().min(out.len()).min(GROUP);
        let (addrs, out) = (&addrs[..n], &mut out[..n]);
        // Positions in the group of the lookups still walking the trie: read from
        // one list and written to the other, so that loads never wait on stores.
        let mut lists = [[0u8; GROUP]; 2];
        let mut count = 0usize;
        {
            let cur = &mut lists[0];
            for (i, (&a, o)) in addrs.iter().zip(out.iter_mut()).enumerate() {
                let e = self.direct_at(a);
                *o = e;
                cur[count] = i as u8;
                count += ((e as i32) < -1) as usize;
            }
        }
        let mut off = self.direct_bits;
        let mut side = 0;
        while count > 0 {
            let [a_list, b_list] = &mut lists;
            let (cur, nxt) = if side == 0 {
                (&*a_list, b_list)
            } else {
                (&*b_list, a_list)
            };
            let mut next = 0usize;
            for &i in &cur[..count] {
                let i = i as usize;
                // SAFETY: the lists hold positions below `n`, the length of `addrs` and
                // `out` (they are written only from the enumeration of `addrs` above and
                // copied from list to list).
                let (a, e) = unsafe { (*addrs.get_unchecked(i), *out.get_unchecked(i)) };
                let n = self.node_at(e & !NODE_FLAG);
                let bit = 1u64 << ((((a as u64) << 32) << off) >> 58);
                let child = n.base1.wrapping_add((n.vector & (bit - 1)).count_ones());
                // Every node has a leaf at position 0, so this index is a leaf of this
                // node even where position `v` is a child.
                let li = n
                    .base0m1
                    .wrapping_add((n.leafvec & (bit << 1).wrapping_sub(1)).count_ones());
                let inner = n.vector & bit != 0;
                // Where the walk goes on, read leaf 0 (always cached, and there is one
                // since there is a node) instead of a leaf of this node.
                let leaf = self.leaf_at(std::hint::select_unpredictable(inner, 0, li));
                // A branch here would be mispredicted often: select without one.
                let r = std::hint::select_unpredictable(inner, child | NODE_FLAG, leaf);
                // SAFETY: as above, `i < n`.
                unsafe { *out.get_unchecked_mut(i) = r };
                nxt[next] = i as u8;
                next += inner as usize;
            }
            count = next;
            side ^= 1;
            off += STRIDE;
        }
    }

    /// Direct-level entry of `addr`.
    #[inline(always)]
    fn direct_at(&self, addr: u32) -> u32 {
        let i = ((addr as u64) >> self.direct_shift) as usize;
        debug_assert!(i < self.direct.len());
        // SAFETY: `direct_shift` is `32 - direct_bits` and `direct` has
        // `2^direct_bits` entries, so a 32-bit address shifted right by it is in range.
        unsafe { *self.direct.get_unchecked(i) }
    }

    /// Node `idx`, an index taken from a node entry of the direct level or computed
    /// as a child of a node.
    #[inline(always)]
    fn node_at(&self, idx: u32) -> &Node {
        debug_assert!((idx as usize) < self.nodes.len());
        // SAFETY: the compiler writes node entries (`NODE_FLAG | idx`) only with
        // indices of nodes it allocated, and a child index `base1 + popcnt(vector &
        // below(v))` of a position `v` whose `vector` bit is set is below `base1 +
        // popcnt(vector)`, the end of the node's child block. Only such indices are
        // followed: the walk stops at the first leaf position.
        unsafe { self.nodes.get_unchecked(idx as usize) }
    }

    /// Leaf `idx`: 0, or `base0 - 1 + popcnt(leafvec & upto(v))` of a node.
    #[inline(always)]
    fn leaf_at(&self, idx: u32) -> u32 {
        debug_assert!((idx as usize) < self.leaves.len());
        // SAFETY: a node's `leafvec` has one bit per leaf it owns, bit 0 always set, so
        // `popcnt(leafvec & upto(v))` is between 1 and the number of its leaves and the
        // index falls inside the node's leaf block. Index 0 is valid whenever there is
        // a node (every node owns at least one leaf), and leaves are read only by the
        // walk through nodes.
        unsafe { *self.leaves.get_unchecked(idx as usize) }
    }

    /// The lookup proper; [`MISS`] for no match.
    #[inline(always)]
    fn lookup_raw(&self, addr: u32) -> u32 {
        let e = self.direct[((addr as u64) >> self.direct_shift) as usize];
        // Answers are values below 2^31 and MISS (-1 as i32); nodes are the rest.
        if (e as i32) >= -1 {
            return e;
        }
        let mut idx = (e & !NODE_FLAG) as usize;
        let key = (addr as u64) << 32;
        let mut off = self.direct_bits;
        loop {
            let n = &self.nodes[idx];
            let bit = 1u64 << ((key << off) >> 58);
            if n.vector & bit != 0 {
                idx = n.base1 as usize + (n.vector & (bit - 1)).count_ones() as usize;
                off += STRIDE;
            } else {
                let upto = (bit << 1).wrapping_sub(1);
                let li = n.base0m1.wrapping_add((n.leafvec & upto).count_ones());
                return self.leaves[li as usize];
            }
        }
    }

    /// Heap bytes of the compiled structure.
    pub fn memory_bytes(&self) -> usize {
        self.direct.len() * std::mem::size_of::<u32>()
            + self.nodes.len() * std::mem::size_of::<Node>()
            + self.leaves.len() * std::mem::size_of::<u32>()
            + self.cuts.len() * std::mem::size_of::<u32>()
    }

    /// Sorted distinct addresses at which the value a lookup returns may change (where a
    /// prefix starts, or ends plus one): every address between two consecutive cuts, and
    /// every address below the first, gets the same answer. For header-space analyses.
    pub fn cuts(&self) -> &[u32] {
        &self.cuts
    }

    /// Number of distinct prefixes.
    pub fn len(&self) -> usize {
        self.prefixes
    }

    /// True when the table holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.prefixes == 0
    }

    /// Width in bits of the direct level.
    pub fn direct_bits(&self) -> u32 {
        self.direct_bits
    }

    /// Number of trie nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

/// Validates, masks, sorts by (network, length) and removes duplicate prefixes
/// (the later entry wins).
fn normalize(routes: &[(u32, u8, u32)]) -> Result<Vec<Route>, BuildError> {
    let mut v: Vec<(u32, u8, u32, u32)> = Vec::with_capacity(routes.len());
    for (i, &(a, l, val)) in routes.iter().enumerate() {
        if l > 32 {
            return Err(BuildError::PrefixLength { index: i, len: l });
        }
        if val > MAX_VALUE {
            return Err(BuildError::Value {
                index: i,
                value: val,
            });
        }
        v.push((a & netmask(l), l, val, i as u32));
    }
    v.sort_unstable_by_key(|r| (r.0, r.1, r.3));
    let mut out: Vec<Route> = Vec::with_capacity(v.len());
    for (a, l, val, _) in v {
        match out.last_mut() {
            Some(last) if last.0 == a && last.1 == l => last.2 = val,
            _ => out.push((a, l, val)),
        }
    }
    Ok(out)
}

/// Width of the direct level for a table: none for small tables (they stay a few
/// kilobytes), growing with the number of prefixes longer than the width.
fn direct_bits_for(routes: &[Route]) -> u32 {
    // Widths worth having: 8 and 14 end at a 6-bit boundary before bit 32 (so do
    // 20, where a /32 is two levels down), 12 and 18 put /24 at a level boundary.
    const WIDTHS: [u32; 6] = [20, 18, 16, 14, 12, 8];
    let budget = routes.len().saturating_mul(DIRECT_ENTRIES_PER_PREFIX);
    WIDTHS
        .into_iter()
        .find(|&b| 1usize << b <= budget)
        .unwrap_or(0)
}

struct Compiler<'a> {
    routes: &'a [Route],
    nodes: Vec<Node>,
    leaves: Vec<u32>,
}

/// Splits `slice` (sorted, all inside the block of a level at offset `o` of width
/// `stride`) into leaf values and child runs. Returns the child runs as
/// (position, start, end) in position order.
fn expand(
    slice: &[Route],
    base: usize,
    o: u32,
    stride: u32,
    vals: &mut [u32],
    mut child: impl FnMut(u32, u32, u32),
) {
    let end_len = o + stride;
    let mut i = 0;
    while i < slice.len() {
        let (a, l, val) = slice[i];
        let l = l as u32;
        if l <= o {
            // Covers the whole block: already part of the default.
            i += 1;
            continue;
        }
        let p = chunk(a, o, stride);
        if l <= end_len {
            // Prefixes come in (network, length) order, so a prefix overlapping an
            // earlier one is nested inside it and longer: overwriting is correct.
            let count = 1usize << (end_len - l);
            vals[p..p + count].fill(val);
            i += 1;
            continue;
        }
        // A longer prefix: the run of prefixes in position p becomes a child.
        let mut j = i + 1;
        while j < slice.len() && chunk(slice[j].0, o, stride) == p {
            j += 1;
        }
        // Shorter prefixes of the run (length <= end_len) sort before it, so they were
        // handled already; the child skips them.
        child(p as u32, (base + i) as u32, (base + j) as u32);
        i = j;
    }
}

impl Compiler<'_> {
    /// Fills node `idx` at bit offset `o` from `routes[start..end]`, inheriting `default`.
    fn node(&mut self, idx: usize, o: u32, start: usize, end: usize, default: u32) {
        let mut vals = [default; 64];
        let mut children = [(0u32, 0u32, 0u32); 64];
        let mut nchildren = 0;
        let mut vector = 0u64;
        expand(
            &self.routes[start..end],
            start,
            o,
            STRIDE,
            &mut vals,
            |p, s, e| {
                children[nchildren] = (p, s, e);
                nchildren += 1;
                vector |= 1u64 << p;
            },
        );
        let children = &children[..nchildren];
        let base1 = self.nodes.len();
        self.nodes.resize(base1 + children.len(), Node::default());
        let base0 = self.leaves.len();
        let mut leafvec = 0u64;
        let mut prev: Option<u32> = None;
        for (p, &v) in vals.iter().enumerate() {
            // Position 0 always has a leaf (a placeholder when it is a child), so that a
            // leaf index computed for any position is valid.
            if p != 0 && vector & (1u64 << p) != 0 {
                continue;
            }
            if prev != Some(v) {
                leafvec |= 1u64 << p;
                self.leaves.push(v);
                prev = Some(v);
            }
        }
        self.nodes[idx] = Node {
            vector,
            leafvec,
            base0m1: (base0 as u32).wrapping_sub(1),
            base1: base1 as u32,
        };
        for (k, &(p, s, e)) in children.iter().enumerate() {
            self.node(
                base1 + k,
                o + STRIDE,
                s as usize,
                e as usize,
                vals[p as usize],
            );
        }
    }
}

fn compile(routes: &[Route], bits: u32) -> Fib {
    let default = match routes.first() {
        Some(&(0, 0, v)) => v,
        _ => MISS,
    };
    let mut vals = vec![default; 1usize << bits];
    let mut children = Vec::new();
    expand(routes, 0, 0, bits, &mut vals, |p, s, e| {
        children.push((p, s, e))
    });
    let mut c = Compiler {
        routes,
        nodes: Vec::new(),
        leaves: Vec::new(),
    };
    c.nodes.resize(children.len(), Node::default());
    for (k, &(p, s, e)) in children.iter().enumerate() {
        let d = vals[p as usize];
        vals[p as usize] = NODE_FLAG | k as u32;
        c.node(k, bits, s as usize, e as usize, d);
    }
    Fib {
        direct_bits: bits,
        direct_shift: 32 - bits,
        direct: vals.into_boxed_slice(),
        nodes: c.nodes.into_boxed_slice(),
        leaves: c.leaves.into_boxed_slice(),
        prefixes: routes.len(),
        cuts: cuts_of(routes),
    }
}

/// The starts of the intervals a route list divides the address space into.
fn cuts_of(routes: &[Route]) -> Box<[u32]> {
    let mut v: Vec<u32> = Vec::with_capacity(2 * routes.len());
    for &(a, l, _) in routes {
        v.push(a);
        if let Some(end) = (a | !netmask(l)).checked_add(1) {
            v.push(end);
        }
    }
    v.sort_unstable();
    v.dedup();
    v.into_boxed_slice()
}

/// The check of a table read back from a file.
mod layout {
    use super::*;

    /// A [`Fib`]'s saved fields, in its order.
    #[derive(serde::Deserialize)]
    pub(super) struct Parts {
        direct_bits: u32,
        direct_shift: u32,
        direct: Box<[u32]>,
        nodes: Box<[Node]>,
        leaves: Box<[u32]>,
        prefixes: usize,
        cuts: Box<[u32]>,
    }

    impl TryFrom<Parts> for Fib {
        type Error = String;
        fn try_from(p: Parts) -> Result<Fib, String> {
            let f = Fib {
                direct_bits: p.direct_bits,
                direct_shift: p.direct_shift,
                direct: p.direct,
                nodes: p.nodes,
                leaves: p.leaves,
                prefixes: p.prefixes,
                cuts: p.cuts,
            };
            f.check_layout()
                .map_err(|e| format!("a route table is damaged: {e}"))?;
            Ok(f)
        }
    }
}

impl Fib {
    /// Whether the table has the shape [`Fib::build`] gives, which the lookups rely on: a
    /// direct level of `2^direct_bits` entries, every node reached once, from the direct
    /// level or as a child, with its children and leaves inside their arrays, and no node
    /// below the last bit of an address. Linear in the table's size.
    pub fn check_layout(&self) -> Result<(), &'static str> {
        let b = self.direct_bits;
        if b > 24 || self.direct_shift != 32 - b || self.direct.len() != 1usize << b {
            return Err("its direct level has the wrong size");
        }
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<(usize, u32)> = Vec::new();
        for &e in self.direct.iter() {
            if (e as i32) < -1 {
                stack.push(((e & !NODE_FLAG) as usize, b));
            }
        }
        while let Some((idx, off)) = stack.pop() {
            let n = self
                .nodes
                .get(idx)
                .ok_or("a node index is past the nodes")?;
            if std::mem::replace(&mut seen[idx], true) {
                return Err("a node is reached twice");
            }
            let first = n.base0m1.wrapping_add(1) as usize;
            let count = n.leafvec.count_ones() as usize;
            if n.leafvec & 1 == 0
                || first
                    .checked_add(count)
                    .is_none_or(|e| e > self.leaves.len())
            {
                return Err("a node's leaves are past the leaves");
            }
            let children = n.vector.count_ones() as usize;
            if children == 0 {
                continue;
            }
            let end = (n.base1 as usize).checked_add(children);
            if off + STRIDE >= 32 || end.is_none_or(|e| e > self.nodes.len()) {
                return Err("a node's children are past the nodes or past the address");
            }
            stack.extend((n.base1 as usize..end.unwrap_or(0)).map(|c| (c, off + STRIDE)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    fn table() -> Fib {
        // A /8 and /32s under it: a direct level with nodes two levels down.
        let mut routes = vec![(0x0A00_0000, 8, 1)];
        routes.extend((0..40u32).map(|i| (0x0A01_0000 + i * 97, 32, 2 + i)));
        Fib::build(&routes)
    }

    #[test]
    fn built_tables_pass() {
        assert_eq!(Fib::build(&[]).check_layout(), Ok(()));
        assert_eq!(table().check_layout(), Ok(()));
        for bits in [0u8, 8, 12, 16, 20, 24] {
            let routes: Vec<(u32, u8, u32)> = (0..300u32)
                .map(|i| (i.wrapping_mul(0x9E37_79B9), 16 + (i % 17) as u8, i))
                .collect();
            let f = Fib::build_with_direct_bits(&routes, bits).unwrap();
            assert_eq!(f.check_layout(), Ok(()), "direct bits {bits}");
        }
    }

    #[test]
    fn damaged_tables_are_refused() {
        let f = table();
        assert!(!f.nodes.is_empty());
        let mut g = f.clone();
        g.nodes[0].base1 = u32::MAX;
        g.nodes[0].vector = 1;
        assert!(g.check_layout().is_err(), "children past the nodes");
        let mut g = f.clone();
        // A node whose child is itself: a walk that never ends.
        let i = (0..g.nodes.len())
            .find(|&i| g.nodes[i].vector != 0)
            .unwrap();
        g.nodes[i].base1 = i as u32;
        g.nodes[i].vector = 1;
        assert!(g.check_layout().is_err(), "a node reached twice");
        let mut g = f.clone();
        g.nodes[0].base0m1 = g.leaves.len() as u32;
        assert!(g.check_layout().is_err(), "leaves past the leaves");
        let mut g = f;
        g.direct_shift += 1;
        assert!(g.check_layout().is_err(), "direct level");
    }
}
