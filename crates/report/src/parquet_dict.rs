//! Parquet written from dictionary ids: the file layout of [`crate::parquet_io`] (same schema,
//! same Arrow schema in the footer, Snappy, row groups of [`ROW_GROUP_ROWS`]), with the column
//! chunks encoded here instead of by the Arrow writer.
//!
//! Every string a row holds is interned once, by content, into its column's id space; a row
//! is a list of ids. A column chunk is then a dictionary page (the distinct strings of the row group, in
//! first-use order) and one data page of indices (RLE/bit-packed hybrid). What a row costs is
//! an array read and a push per column: no string is copied, hashed or compared per row.
//! Callers that know a row's columns apart from its addresses and ports register them once as
//! a [`Pattern`] and then write flows as a pattern and [`FlowFields`].
//!
//! Statistics are written per column chunk (minimum, maximum and null count); pages carry none,
//! and no page index is written.

use std::collections::HashMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::Bytes;
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::basic::{Compression, Encoding};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedFileWriter, SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

use crate::{hops, Error, FlowRow};

pub use crate::parquet_io::ROW_GROUP_ROWS;

/// The string columns, by their index in [`crate::COLUMNS`], and whether each can be null.
const STR_COLUMNS: [(usize, bool); N_STR] = [
    (0, false),
    (1, false),
    (2, false),
    (5, true),
    (6, false),
    (7, false),
    (8, true),
    (9, true),
    (10, true),
    (11, false),
    (12, true),
    (13, true),
    (14, false),
    (15, false),
    (17, true),
    (18, true),
];
/// Number of string columns besides `hops`.
const N_STR: usize = 16;
/// Leaf columns of the schema: 25 fields and the hops list.
const N_LEAVES: usize = 26;
const SRC: usize = 0;
const DST: usize = 1;
const PROTOCOL: usize = 2;
const FQDN: usize = 3;
const INGRESS: usize = 4;
const OUTCOME: usize = 5;
const DELIVERED_TO: usize = 6;
const DROPPED_AT: usize = 7;
const RULE: usize = 8;
const REASON: usize = 9;
const SRC_SEEN: usize = 10;
const DST_SEEN: usize = 11;
const TO: usize = 14;
const CAPTURE: usize = 15;

/// A row's columns apart from its addresses and ports, registered with
/// [`DictParquetWriter::add_pattern`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatternId(pub u32);

/// The columns that rows of one pattern share, each as a symbol registered with
/// [`DictParquetWriter::add_symbols`] (`None`: null): a pattern costs an array read per column
/// to register, never a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedSymbols {
    pub protocol: u32,
    pub fqdn: Option<u32>,
    pub outcome: u32,
    pub dropped_at: Option<u32>,
    pub rule: Option<u32>,
    pub reason: u32,
    pub capture: Option<u32>,
    pub symmetric: bool,
}

impl SharedSymbols {
    /// The symbols, in the order of [`SHARED`].
    fn symbols(&self) -> [Option<u32>; N_SHARED] {
        [
            Some(self.protocol),
            self.fqdn,
            Some(self.outcome),
            self.dropped_at,
            self.rule,
            Some(self.reason),
            self.capture,
        ]
    }
}

/// The string columns rows of one pattern share, by their index among the string columns.
const SHARED: [usize; N_SHARED] = [PROTOCOL, FQDN, OUTCOME, DROPPED_AT, RULE, REASON, CAPTURE];
const N_SHARED: usize = 7;
/// The string columns each flow has its own of (the paths apart).
const OWN: [usize; 7] = [SRC, DST, INGRESS, DELIVERED_TO, SRC_SEEN, DST_SEEN, TO];
/// The columns a symbol can fill: those [`FlowFields`] names (`ingress`, `deliveredTo`, `to`,
/// the hops), then [`SHARED`].
const SYMBOL_COLUMNS: [usize; 4 + N_SHARED] = [
    INGRESS,
    DELIVERED_TO,
    TO,
    N_STR,
    PROTOCOL,
    FQDN,
    OUTCOME,
    DROPPED_AT,
    RULE,
    REASON,
    CAPTURE,
];

/// What differs from flow to flow among rows of one pattern: the addresses (IPv4, as
/// integers), the ports, and the endpoints, as symbols registered with
/// [`DictParquetWriter::add_symbols`]: where the flow entered, where it was delivered, the
/// endpoint its destination address belongs to, and the hops of its forward and return legs
/// (from which the `path`, `returnPath` and `hops` columns are written). `src_seen` and
/// `dst_seen` are `None` where the row leaves them empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowFields<'a> {
    pub src: u32,
    pub dst: u32,
    pub src_port: u16,
    pub dst_port: u16,
    pub src_seen: Option<u32>,
    pub dst_seen: Option<u32>,
    pub ingress: u32,
    pub delivered_to: Option<u32>,
    pub to: Option<u32>,
    pub forward: &'a [u32],
    pub ret: &'a [u32],
}

impl FlowFields<'_> {
    /// `row` with these fields, the symbols named by `symbols`.
    pub fn fill(&self, mut row: FlowRow, symbols: &[String]) -> FlowRow {
        let ip = |a: u32| Ipv4Addr::from(a).to_string();
        let name = |k: u32| symbols[k as usize].clone();
        let path = |hops: &[u32]| {
            let names: Vec<&str> = hops.iter().map(|&k| symbols[k as usize].as_str()).collect();
            names.join(" > ")
        };
        row.src = ip(self.src);
        row.dst = ip(self.dst);
        row.src_port = self.src_port;
        row.dst_port = self.dst_port;
        row.src_seen = self.src_seen.map(ip);
        row.dst_seen = self.dst_seen.map(ip);
        row.ingress = name(self.ingress);
        row.delivered_to = self.delivered_to.map(name);
        row.to = self.to.map(name);
        row.path = path(self.forward);
        row.return_path = path(self.ret);
        row
    }
}

/// Patterns and symbols kept as whole rows and names, for sinks that take whole rows (the text
/// formats, a function given each row): a flow's row is its pattern's, filled in.
#[derive(Default)]
pub struct RowPatterns {
    symbols: Vec<String>,
    rows: Vec<FlowRow>,
}

impl RowPatterns {
    /// As [`DictParquetWriter::add_symbols`].
    pub fn add_symbols(&mut self, names: &[String]) {
        self.symbols.extend_from_slice(names);
    }
    /// As [`DictParquetWriter::add_pattern`].
    pub fn add_pattern(&mut self, p: &SharedSymbols) -> PatternId {
        let name = |k: u32| self.symbols[k as usize].clone();
        self.rows.push(FlowRow {
            protocol: name(p.protocol),
            fqdn: p.fqdn.map(name),
            outcome: name(p.outcome),
            dropped_at: p.dropped_at.map(name),
            rule: p.rule.map(name),
            reason: name(p.reason),
            capture: p.capture.map(name),
            symmetric: p.symmetric,
            ..FlowRow::default()
        });
        PatternId(self.rows.len() as u32 - 1)
    }
    /// The row of a flow written from pattern `p`.
    pub fn row(&self, p: PatternId, f: &FlowFields) -> FlowRow {
        f.fill(self.rows[p.0 as usize].clone(), &self.symbols)
    }
}

/// What rows of one pattern share, as ids: each [`SHARED`] column's value, an id in its
/// [`Strings`] (`NULL` for none), and the symmetry.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Shared {
    strs: [u32; N_SHARED],
    symmetric: bool,
}

const NULL: u32 = u32::MAX;

/// A multiplicative hash of one word, for the address maps (the replay flow table's kind).
#[derive(Default)]
struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn write(&mut self, b: &[u8]) {
        for &x in b {
            self.write_u64(x as u64);
        }
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64)
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// One column's strings, interned by content (addresses also by value): each column has its
/// own dense ids, so the arrays a row group indexes by id stay the column's size.
#[derive(Default)]
struct Strings {
    ids: HashMap<Box<str>, u32>,
    text: Vec<Box<str>>,
    addrs: HashMap<u32, u32, std::hash::BuildHasherDefault<WordHasher>>,
    /// The addresses met last, direct-mapped by their low bits, in front of `addrs`: each
    /// slot an address and its id plus one (0: empty). Empty until the first address.
    recent: Vec<(u32, u32)>,
}

/// Slots of [`Strings::recent`]: 128 KiB, which stays in the processor's cache.
const RECENT: usize = 1 << 14;

impl Strings {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.text.len() as u32;
        self.text.push(s.into());
        self.ids.insert(s.into(), i);
        i
    }
    fn opt(&mut self, s: Option<&str>) -> u32 {
        s.map_or(NULL, |s| self.id(s))
    }
    #[inline]
    fn addr(&mut self, a: u32) -> u32 {
        if self.recent.is_empty() {
            self.recent = vec![(0, 0); RECENT];
        }
        let slot = (a as usize ^ (a >> 14) as usize) & (RECENT - 1);
        match self.recent[slot] {
            (b, i) if b == a && i != 0 => i - 1,
            _ => {
                let i = self.addr_slow(a);
                self.recent[slot] = (a, i + 1);
                i
            }
        }
    }
    fn addr_slow(&mut self, a: u32) -> u32 {
        if let Some(&i) = self.addrs.get(&a) {
            return i;
        }
        let i = self.id(&Ipv4Addr::from(a).to_string());
        self.addrs.insert(a, i);
        i
    }
}

/// One string column of the row group being gathered: the local dictionary (global ids in
/// first-use order, and each global id's local index plus one) and the values.
#[derive(Default)]
struct StrColumn {
    order: Vec<u32>,
    local: Vec<u32>,
    /// Local indices of the non-null values.
    values: Vec<u32>,
    /// Definition levels (0 null, else the column's maximum), one per value slot, for a
    /// column that can be null.
    defs: Vec<u8>,
    /// Repetition levels (the hops list only).
    reps: Vec<u8>,
}

impl StrColumn {
    #[inline]
    fn push_id(&mut self, g: u32) {
        let gi = g as usize;
        if gi >= self.local.len() {
            self.local.resize(gi + 1, 0);
        }
        let mut l = self.local[gi];
        if l == 0 {
            self.order.push(g);
            l = self.order.len() as u32;
            self.local[gi] = l;
        }
        self.values.push(l - 1);
    }
    #[inline]
    /// A value of a column that can be null (definition level 1 when present).
    fn push(&mut self, g: u32) {
        self.defs.push((g != NULL) as u8);
        if g != NULL {
            self.push_id(g);
        }
    }
    /// The local index of global id `g` (`NULL` for null), added to the dictionary if new.
    fn local_id(&mut self, g: u32) -> u32 {
        if g == NULL {
            return NULL;
        }
        let gi = g as usize;
        if gi >= self.local.len() {
            self.local.resize(gi + 1, 0);
        }
        if self.local[gi] == 0 {
            self.order.push(g);
            self.local[gi] = self.order.len() as u32;
        }
        self.local[gi] - 1
    }
    fn clear(&mut self) {
        for &g in &self.order {
            self.local[g as usize] = 0;
        }
        self.order.clear();
        self.values.clear();
        self.defs.clear();
        self.reps.clear();
    }
}

/// The row group being gathered. The [`SHARED`] columns and the symmetry are kept as one
/// number per row, the row's place among the group's distinct [`Shared`] values, and written
/// from those when the group is encoded.
#[derive(Default)]
struct Group {
    /// The [`OWN`] columns' values; the [`SHARED`] columns' dictionaries, filled when the group
    /// is encoded.
    strs: [StrColumn; N_STR],
    /// `path` and `returnPath`, PLAIN-encoded: each value its length (4 bytes) and its bytes.
    plain: [Vec<u8>; 2],
    hops: StrColumn,
    ports: [Vec<u16>; 2],
    /// Per row, its place in `shared`.
    shared_rows: Vec<u32>,
    /// The group's distinct shared values, in first-use order.
    shared: Vec<Shared>,
    /// Per pattern, its place in `shared` plus one (0: not in this group yet), and the
    /// patterns set there.
    of_pattern: Vec<u32>,
    patterns: Vec<u32>,
    /// The pattern met last and its place.
    last_pattern: Option<(u32, u32)>,
    /// The places of shared values of rows written whole.
    of_value: HashMap<Shared, u32>,
    /// Per [`SHARED`] column, each shared value's index in the chunk's dictionary (`NULL` for
    /// null), set when the group is encoded.
    shared_local: [Vec<u32>; N_SHARED],
    /// The six counters: definition levels and values, from the group's first row with a
    /// counter on (rows before it are null in all six; none at all: all null).
    counters: [(Vec<u8>, Vec<u64>); 6],
    rows: usize,
}

impl Group {
    /// The place of a pattern's shared value in the group.
    #[inline]
    fn pattern_place(&mut self, p: PatternId, value: &Shared) -> u32 {
        // Consecutive flows often share their pattern.
        if let Some((q, place)) = self.last_pattern {
            if q == p.0 {
                return place;
            }
        }
        let place = self.pattern_place_new(p, value);
        self.last_pattern = Some((p.0, place));
        place
    }
    fn pattern_place_new(&mut self, p: PatternId, value: &Shared) -> u32 {
        let pi = p.0 as usize;
        if pi >= self.of_pattern.len() {
            self.of_pattern.resize(pi + 1, 0);
        }
        if self.of_pattern[pi] == 0 {
            self.patterns.push(p.0);
            self.of_pattern[pi] = self.value_place(value) + 1;
        }
        self.of_pattern[pi] - 1
    }
    /// The place of a shared value in the group.
    fn value_place(&mut self, value: &Shared) -> u32 {
        let next = self.shared.len() as u32;
        let at = *self.of_value.entry(*value).or_insert(next);
        if at == next {
            self.shared.push(*value);
        }
        at
    }
    /// A row's counters (none for flows written from a pattern).
    fn push_counters(&mut self, counters: [Option<u64>; 6]) {
        let on = !self.counters[0].0.is_empty();
        if !on && counters.iter().all(Option::is_none) {
            return;
        }
        for ((d, v), c) in self.counters.iter_mut().zip(counters) {
            if !on {
                d.resize(self.rows, 0);
            }
            d.push(c.is_some() as u8);
            v.extend(c);
        }
    }
    fn clear(&mut self) {
        self.strs.iter_mut().for_each(StrColumn::clear);
        self.hops.clear();
        self.plain.iter_mut().for_each(Vec::clear);
        self.ports.iter_mut().for_each(Vec::clear);
        self.shared_rows.clear();
        self.shared.clear();
        for &p in &self.patterns {
            self.of_pattern[p as usize] = 0;
        }
        self.patterns.clear();
        self.last_pattern = None;
        self.of_value.clear();
        for (d, v) in self.counters.iter_mut() {
            d.clear();
            v.clear();
        }
        self.rows = 0;
    }
}

/// Streams rows into a Parquet file, encoding the column chunks from dictionary ids.
pub struct DictParquetWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    leaves: Vec<ColumnDescPtr>,
    /// The string columns' dictionaries, then the hops column's.
    strings: [Strings; N_STR + 1],
    patterns: Vec<Shared>,
    /// Each symbol's text.
    symbols: Vec<Box<str>>,
    /// Each symbol's ids in the columns symbols fill, by the column's place in
    /// [`SYMBOL_COLUMNS`], interned on first use (`NULL` until then).
    symbol_ids: Vec<[u32; SYMBOL_COLUMNS.len()]>,
    hop_scratch: Vec<u32>,
    group: Group,
}

impl<W: Write + Send> DictParquetWriter<W> {
    pub fn new(sink: W) -> Result<Self, Error> {
        let schema = crate::parquet_io::schema();
        let descr = ArrowSchemaConverter::new().convert(&schema)?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let leaves = descr.columns().to_vec();
        debug_assert_eq!(leaves.len(), N_LEAVES);
        let file = SerializedFileWriter::new(sink, descr.root_schema_ptr(), Arc::new(props))?;
        Ok(Self {
            file,
            leaves,
            strings: Default::default(),
            patterns: Vec::new(),
            symbols: Vec::new(),
            symbol_ids: Vec::new(),
            hop_scratch: Vec::new(),
            group: Group::default(),
        })
    }

    /// The ids of a row's string columns (addresses included) and of its hops.
    fn ids_of(&mut self, r: &FlowRow) -> [u32; N_STR] {
        let s = &mut self.strings;
        self.hop_scratch.clear();
        for h in hops(&r.path) {
            self.hop_scratch.push(s[N_STR].id(h));
        }
        let values = row_strings(r);
        std::array::from_fn(|k| s[k].opt(values[k]))
    }

    /// Registers names that flows and patterns refer to by number ([`FlowFields`],
    /// [`SharedSymbols`]): symbol `k` is the `k`-th name of all calls together.
    pub fn add_symbols<S: AsRef<str>>(&mut self, names: &[S]) {
        for n in names {
            self.symbols.push(n.as_ref().into());
            self.symbol_ids.push([NULL; SYMBOL_COLUMNS.len()]);
        }
    }

    /// Symbol `k`'s id in the column at `slot` of [`SYMBOL_COLUMNS`].
    #[inline]
    fn symbol_id(&mut self, k: u32, slot: usize) -> u32 {
        let id = self.symbol_ids[k as usize][slot];
        if id != NULL {
            return id;
        }
        let id = self.strings[SYMBOL_COLUMNS[slot]].id(&self.symbols[k as usize]);
        self.symbol_ids[k as usize][slot] = id;
        id
    }

    /// Registers the columns rows of one pattern share (the capture's too: null unless
    /// given), symbols registered with [`DictParquetWriter::add_symbols`].
    pub fn add_pattern(&mut self, p: &SharedSymbols) -> PatternId {
        let syms = p.symbols();
        let strs = std::array::from_fn(|j| syms[j].map_or(NULL, |k| self.symbol_id(k, 4 + j)));
        let id = PatternId(self.patterns.len() as u32);
        self.patterns.push(Shared {
            strs,
            symmetric: p.symmetric,
        });
        id
    }

    /// Writes one flow: the pattern's columns with the flow's own (no counters).
    pub fn write_flow(&mut self, p: PatternId, f: &FlowFields) -> Result<(), Error> {
        let shared = self.patterns[p.0 as usize];
        let s = &mut self.strings;
        let own = [
            s[SRC].addr(f.src),
            s[DST].addr(f.dst),
            self.symbol_id(f.ingress, 0),
            f.delivered_to.map_or(NULL, |k| self.symbol_id(k, 1)),
            f.src_seen.map_or(NULL, |a| self.strings[SRC_SEEN].addr(a)),
            f.dst_seen.map_or(NULL, |a| self.strings[DST_SEEN].addr(a)),
            f.to.map_or(NULL, |k| self.symbol_id(k, 2)),
        ];
        self.hop_scratch.clear();
        for &h in f.forward {
            let id = self.symbol_id(h, 3);
            self.hop_scratch.push(id);
        }
        let g = &mut self.group;
        for (col, hops) in g.plain.iter_mut().zip([f.forward, f.ret]) {
            if col.capacity() == 0 {
                // A row group's paths, at about a hundred bytes each, without growing.
                col.reserve(ROW_GROUP_ROWS * 128);
            }
            let at = col.len();
            col.extend_from_slice(&[0; 4]);
            for (i, &h) in hops.iter().enumerate() {
                if i > 0 {
                    col.extend_from_slice(b" > ");
                }
                col.extend_from_slice(self.symbols[h as usize].as_bytes());
            }
            let n = (col.len() - at - 4) as u32;
            col[at..at + 4].copy_from_slice(&n.to_le_bytes());
        }
        let place = g.pattern_place(p, &shared);
        push_row(g, &own, &self.hop_scratch, [f.src_port, f.dst_port], place);
        self.after_row()
    }

    /// Writes one row given whole (its strings interned by content).
    pub fn write(&mut self, r: &FlowRow) -> Result<(), Error> {
        let strs = self.ids_of(r);
        for (col, text) in self.group.plain.iter_mut().zip([&r.path, &r.return_path]) {
            col.extend_from_slice(&(text.len() as u32).to_le_bytes());
            col.extend_from_slice(text.as_bytes());
        }
        let g = &mut self.group;
        let shared = Shared {
            strs: SHARED.map(|k| strs[k]),
            symmetric: r.symmetric,
        };
        let place = g.value_place(&shared);
        g.push_counters(crate::parquet_io::counters(r));
        let own = OWN.map(|k| strs[k]);
        push_row(g, &own, &self.hop_scratch, [r.src_port, r.dst_port], place);
        self.after_row()
    }

    fn after_row(&mut self) -> Result<(), Error> {
        if self.group.rows >= ROW_GROUP_ROWS {
            self.flush_group()?;
        }
        Ok(())
    }

    fn flush_group(&mut self) -> Result<(), Error> {
        if self.group.rows == 0 {
            return Ok(());
        }
        self.group.shared_dictionaries();
        let mut rg = self.file.next_row_group()?;
        for (leaf, descr) in self.leaves.iter().enumerate() {
            let (bytes, close) = encode_leaf(&self.group, leaf, descr, &self.strings)?;
            rg.append_column(&bytes, close)?;
        }
        rg.close()?;
        self.group.clear();
        Ok(())
    }

    pub fn finish(mut self) -> Result<W, Error> {
        self.flush_group()?;
        Ok(self.file.into_inner()?)
    }
}

impl Group {
    /// The [`SHARED`] columns' dictionaries, in first-use order, and each shared value's index
    /// in them.
    fn shared_dictionaries(&mut self) {
        for (j, &k) in SHARED.iter().enumerate() {
            let c = &mut self.strs[k];
            let local = &mut self.shared_local[j];
            local.clear();
            local.extend(self.shared.iter().map(|v| c.local_id(v.strs[j])));
        }
    }
}

/// A row's string columns, in the order of [`STR_COLUMNS`] (`None` for null; the path columns,
/// written plain, are `None` here).
fn row_strings(r: &FlowRow) -> [Option<&str>; N_STR] {
    [
        Some(&r.src),
        Some(&r.dst),
        Some(&r.protocol),
        r.fqdn.as_deref(),
        Some(&r.ingress),
        Some(&r.outcome),
        r.delivered_to.as_deref(),
        r.dropped_at.as_deref(),
        r.rule.as_deref(),
        Some(&r.reason),
        r.src_seen.as_deref(),
        r.dst_seen.as_deref(),
        None,
        None,
        r.to.as_deref(),
        r.capture.as_deref(),
    ]
}

/// One row's [`OWN`] columns, hops, ports and place among the group's shared values.
fn push_row(g: &mut Group, own: &[u32; 7], hops: &[u32], ports: [u16; 2], place: u32) {
    let [src, dst, ingress, delivered_to, src_seen, dst_seen, to] = *own;
    g.strs[SRC].push_id(src);
    g.strs[DST].push_id(dst);
    g.strs[INGRESS].push_id(ingress);
    g.strs[DELIVERED_TO].push(delivered_to);
    g.strs[SRC_SEEN].push(src_seen);
    g.strs[DST_SEEN].push(dst_seen);
    g.strs[TO].push(to);
    if hops.is_empty() {
        g.hops.defs.push(0);
        g.hops.reps.push(0);
    }
    for (i, &h) in hops.iter().enumerate() {
        g.hops.defs.push(2);
        g.hops.reps.push((i > 0) as u8);
        g.hops.push_id(h);
    }
    g.ports[0].push(ports[0]);
    g.ports[1].push(ports[1]);
    g.shared_rows.push(place);
    g.rows += 1;
}

/// What a leaf column of the schema holds, in schema order.
enum Leaf {
    /// A string column, by its index among the string columns, and whether it can be null.
    Str(usize, bool),
    /// `path` (0) or `returnPath` (1).
    Plain(usize),
    Port(usize),
    Symmetric,
    Counter(usize),
    Hops,
}

fn leaf_kind(leaf: usize) -> Leaf {
    match leaf {
        3 | 4 => Leaf::Port(leaf - 3),
        16 => Leaf::Symmetric,
        19..=24 => Leaf::Counter(leaf - 19),
        25 => Leaf::Hops,
        14 | 15 => Leaf::Plain(leaf - 14),
        _ => {
            let k = STR_COLUMNS
                .iter()
                .position(|&(c, _)| c == leaf)
                .expect("a string column");
            Leaf::Str(k, STR_COLUMNS[k].1)
        }
    }
}

/// One column chunk of the gathered row group: its bytes and its metadata.
fn encode_leaf(
    g: &Group,
    leaf: usize,
    descr: &ColumnDescPtr,
    strings: &[Strings; N_STR + 1],
) -> Result<(Bytes, ColumnCloseResult), Error> {
    let rows = g.rows;
    let mut chunk = Chunk::default();
    match leaf_kind(leaf) {
        Leaf::Str(k, nullable) => match SHARED.iter().position(|&c| c == k) {
            Some(j) => shared_strings(&mut chunk, g, j, nullable, &strings[k]),
            None => {
                let c = &g.strs[k];
                let mut levels = Vec::new();
                if nullable {
                    push_levels(&mut levels, levels_of(&c.defs), c.defs.len(), 1);
                }
                let slots = if nullable {
                    c.defs.len()
                } else {
                    c.values.len()
                };
                let values = (c.values.iter().copied(), c.values.len());
                chunk.strings(&c.order, &strings[k], levels, values, slots);
            }
        },
        Leaf::Hops => {
            let c = &g.hops;
            let mut levels = Vec::new();
            push_levels(&mut levels, levels_of(&c.reps), c.reps.len(), 1);
            let width = bit_width(descr.max_def_level() as u32);
            push_levels(&mut levels, levels_of(&c.defs), c.defs.len(), width);
            let values = (c.values.iter().copied(), c.values.len());
            chunk.strings(&c.order, &strings[N_STR], levels, values, c.defs.len());
        }
        Leaf::Plain(k) => {
            chunk.encodings = vec![Encoding::PLAIN];
            chunk.data_page(&g.plain[k], rows, Encoding::PLAIN);
        }
        Leaf::Port(k) => {
            let v = &g.ports[k];
            let mut buf = Vec::with_capacity(v.len() * 4);
            for &p in v {
                buf.extend_from_slice(&(p as i32).to_le_bytes());
            }
            let (lo, hi) = (v.iter().min(), v.iter().max());
            chunk.stats = Some(Statistics::int32(
                lo.map(|&x| x as i32),
                hi.map(|&x| x as i32),
                None,
                Some(0),
                false,
            ));
            chunk.data_page(&buf, v.len(), Encoding::PLAIN);
        }
        Leaf::Symmetric => {
            let v: Vec<bool> = g
                .shared_rows
                .iter()
                .map(|&p| g.shared[p as usize].symmetric)
                .collect();
            let mut buf = vec![0u8; v.len().div_ceil(8)];
            for (i, &b) in v.iter().enumerate() {
                buf[i / 8] |= (b as u8) << (i % 8);
            }
            let (lo, hi) = (v.iter().min(), v.iter().max());
            chunk.stats = Some(Statistics::boolean(
                lo.copied(),
                hi.copied(),
                None,
                Some(0),
                false,
            ));
            chunk.data_page(&buf, v.len(), Encoding::PLAIN);
        }
        Leaf::Counter(k) => {
            let (defs, v) = &g.counters[k];
            let mut buf = Vec::new();
            match defs.is_empty() {
                // No row of the group had a counter: every value is null.
                true => push_levels(&mut buf, std::iter::repeat(0), rows, 1),
                false => push_levels(&mut buf, levels_of(defs), defs.len(), 1),
            }
            for &x in v {
                buf.extend_from_slice(&(x as i64).to_le_bytes());
            }
            let (lo, hi) = (v.iter().min(), v.iter().max());
            chunk.stats = Some(Statistics::int64(
                lo.map(|&x| x as i64),
                hi.map(|&x| x as i64),
                None,
                Some((rows - v.len()) as u64),
                false,
            ));
            chunk.data_page(&buf, rows, Encoding::PLAIN);
        }
    }
    chunk.finish(descr, rows)
}

/// A [`SHARED`] column's chunk (the `j`-th), written from each row's place among the group's
/// shared values.
fn shared_strings(chunk: &mut Chunk, g: &Group, j: usize, nullable: bool, s: &Strings) {
    let local = &g.shared_local[j];
    let of_row = || g.shared_rows.iter().map(|&p| local[p as usize]);
    let n = of_row().filter(|&v| v != NULL).count();
    let mut levels = Vec::new();
    if nullable {
        let defs = of_row().map(|v| (v != NULL) as u32);
        push_levels(&mut levels, defs, g.rows, 1);
    }
    let values = of_row().filter(|&v| v != NULL);
    chunk.strings(&g.strs[SHARED[j]].order, s, levels, (values, n), g.rows);
}

/// Levels stored a byte each, as the numbers [`push_levels`] takes.
fn levels_of(levels: &[u8]) -> impl Iterator<Item = u32> + '_ {
    levels.iter().map(|&l| l as u32)
}

/// A column chunk being encoded: its pages, in order (a dictionary page first, if any).
#[derive(Default)]
struct Chunk {
    pages: Vec<CompressedPage>,
    stats: Option<Statistics>,
    values: usize,
    encodings: Vec<Encoding>,
    dictionary: bool,
}

impl Chunk {
    /// A dictionary-encoded string column: the dictionary page (the strings of `order`) and
    /// one data page: the `levels` already encoded, then the `values` (indices into `order`,
    /// and their count), for `slots` value slots.
    fn strings(
        &mut self,
        order: &[u32],
        s: &Strings,
        mut buf: Vec<u8>,
        (values, n): (impl Iterator<Item = u32>, usize),
        slots: usize,
    ) {
        let mut dict = Vec::new();
        let (mut lo, mut hi): (Option<&str>, Option<&str>) = (None, None);
        for &g in order {
            let t: &str = &s.text[g as usize];
            dict.extend_from_slice(&(t.len() as u32).to_le_bytes());
            dict.extend_from_slice(t.as_bytes());
            lo = Some(lo.map_or(t, |m| m.min(t)));
            hi = Some(hi.map_or(t, |m| m.max(t)));
        }
        let len = dict.len();
        self.pages.push(CompressedPage::new(
            Page::DictionaryPage {
                buf: snappy(&dict),
                num_values: order.len() as u32,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            },
            len,
        ));
        self.dictionary = true;
        let width = bit_width(order.len().saturating_sub(1) as u32);
        buf.push(width);
        hybrid(&mut buf, values, n, width);
        let bytes = |x: Option<&str>| x.map(|t| ByteArray::from(t.as_bytes().to_vec()));
        let nulls = (slots - n) as u64;
        self.stats = Some(Statistics::byte_array(
            bytes(lo),
            bytes(hi),
            None,
            Some(nulls),
            false,
        ));
        self.data_page(&buf, slots, Encoding::RLE_DICTIONARY);
    }

    fn data_page(&mut self, buf: &[u8], values: usize, encoding: Encoding) {
        let len = buf.len();
        self.values += values;
        if self.encodings.is_empty() {
            self.encodings = vec![Encoding::PLAIN, Encoding::RLE];
        }
        if encoding == Encoding::RLE_DICTIONARY {
            self.encodings.push(encoding);
        }
        self.pages.push(CompressedPage::new(
            Page::DataPage {
                buf: snappy(buf),
                num_values: values as u32,
                encoding,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            },
            len,
        ));
    }

    /// The pages serialized (headers included) and the chunk's metadata.
    fn finish(
        self,
        descr: &ColumnDescPtr,
        rows: usize,
    ) -> Result<(Bytes, ColumnCloseResult), Error> {
        // The pages and their headers (a few dozen bytes each), without growing the buffer.
        let bytes: usize = self.pages.iter().map(|p| p.compressed_size() + 64).sum();
        let mut sink = TrackedWrite::new(Vec::with_capacity(bytes));
        let mut specs = Vec::with_capacity(self.pages.len());
        {
            let mut w = SerializedPageWriter::new(&mut sink);
            for p in self.pages {
                specs.push(w.write_page(p)?);
            }
            w.close()?;
        }
        let compressed: u64 = specs.iter().map(|s| s.bytes_written).sum();
        let uncompressed: usize = specs.iter().map(|s| s.uncompressed_size).sum();
        let data = &specs[self.dictionary as usize];
        let mut meta = ColumnChunkMetaData::builder(descr.clone())
            .set_compression(Compression::SNAPPY)
            .set_encodings(self.encodings)
            .set_num_values(self.values as i64)
            .set_total_compressed_size(compressed as i64)
            .set_total_uncompressed_size(uncompressed as i64)
            .set_data_page_offset(data.offset as i64)
            .set_dictionary_page_offset(self.dictionary.then_some(specs[0].offset as i64));
        if let Some(s) = self.stats {
            meta = meta.set_statistics(s);
        }
        let bytes = Bytes::from(sink.into_inner()?);
        let close = ColumnCloseResult {
            bytes_written: compressed,
            rows_written: rows as u64,
            metadata: meta.build()?,
            bloom_filter: None,
            column_index: None,
            offset_index: None,
        };
        Ok((bytes, close))
    }
}

/// `b` compressed, through one scratch buffer of Snappy's maximum length per thread (grown,
/// never zeroed again), so a page's compression allocates only its result.
fn snappy(b: &[u8]) -> Bytes {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|out| {
        let need = snap::raw::max_compress_len(b.len());
        if out.len() < need {
            out.resize(need, 0);
        }
        let n = snap::raw::Encoder::new()
            .compress(b, out)
            .expect("an output buffer of snappy's maximum length");
        Bytes::copy_from_slice(&out[..n])
    })
}

/// Bits needed for values up to `max`.
fn bit_width(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// Levels of a data page v1: their byte length (4 bytes, little-endian), then the levels in
/// the RLE/bit-packed hybrid.
fn push_levels(buf: &mut Vec<u8>, levels: impl Iterator<Item = u32>, n: usize, width: u8) {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    hybrid(buf, levels, n, width);
    let n = (buf.len() - at - 4) as u32;
    buf[at..at + 4].copy_from_slice(&n.to_le_bytes());
}

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// The RLE/bit-packed hybrid encoding of `n` values of `width` bits: groups of eight equal
/// values join a repeated run, other groups go into bit-packed runs (the last group padded
/// with zeros, which readers ignore past the count they are given).
fn hybrid(buf: &mut Vec<u8>, values: impl Iterator<Item = u32>, n: usize, width: u8) {
    let value_bytes = (width as usize).div_ceil(8);
    // Room for every group bit-packed with a header byte of its own: growing past it is rare.
    buf.reserve(n.div_ceil(8) * (width as usize + 1) + 16);
    let mut literal: Vec<[u32; 8]> = Vec::with_capacity(n.div_ceil(8).min(1 << 13));
    let mut run: Option<(u32, u64)> = None;
    let flush_literal = |buf: &mut Vec<u8>, lit: &mut Vec<[u32; 8]>| {
        if lit.is_empty() {
            return;
        }
        varint(buf, (lit.len() as u64) << 1 | 1);
        for g in lit.iter() {
            pack8(buf, g, width);
        }
        lit.clear();
    };
    let flush_run = |buf: &mut Vec<u8>, run: &mut Option<(u32, u64)>| {
        if let Some((v, count)) = run.take() {
            varint(buf, count << 1);
            buf.extend_from_slice(&v.to_le_bytes()[..value_bytes]);
        }
    };
    let mut it = values.take(n);
    let mut left = n;
    while left > 0 {
        let k = left.min(8);
        let mut g = [0u32; 8];
        for slot in g.iter_mut().take(k) {
            *slot = it.next().unwrap_or(0);
        }
        left -= k;
        let same = g[..k].iter().all(|&x| x == g[0]);
        if same && (k == 8 || literal.is_empty()) {
            flush_literal(buf, &mut literal);
            match &mut run {
                Some((v, count)) if *v == g[0] => *count += k as u64,
                _ => {
                    flush_run(buf, &mut run);
                    run = Some((g[0], k as u64));
                }
            }
        } else {
            flush_run(buf, &mut run);
            literal.push(g);
        }
    }
    flush_literal(buf, &mut literal);
    flush_run(buf, &mut run);
}

/// Eight values of `width` bits, least significant bit first: `width` bytes.
fn pack8(buf: &mut Vec<u8>, g: &[u32; 8], width: u8) {
    let mut out = [0u8; 32];
    let (mut acc, mut bits, mut at) = (0u64, 0u32, 0usize);
    for &v in g {
        acc |= (v as u64) << bits;
        bits += width as u32;
        while bits >= 8 {
            out[at] = acc as u8;
            at += 1;
            acc >>= 8;
            bits -= 8;
        }
    }
    debug_assert_eq!((bits, at), (0, width as usize));
    buf.extend_from_slice(&out[..width as usize]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, ListArray, StringArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// Rows that exercise every column: nulls and empty strings in optional columns, empty
    /// paths, counters set and unset, non-ASCII text, repeated and distinct values.
    fn rows(n: usize) -> Vec<FlowRow> {
        (0..n)
            .map(|i| {
                let k = i % 7;
                let path = match k {
                    0 => String::new(),
                    1 => "nic:a".to_string(),
                    _ => format!("nic:vm-{} > firewall:hub-fw > pe:pé-{}", i % 13, i % 5),
                };
                FlowRow {
                    src: format!("10.{}.{}.4", i % 3, i % 250),
                    dst: format!("10.9.{}.{}", i / 256 % 256, i % 256),
                    protocol: ["tcp", "udp", "icmp"][i % 3].into(),
                    src_port: (i * 7919 % 65536) as u16,
                    dst_port: [443, 53, 0, 65535][i % 4],
                    fqdn: (k == 3).then(|| "db.privatelink.example".into()),
                    ingress: format!("nic:vm-{}", i % 11),
                    outcome: ["reachable", "unreachable", "no-return"][k % 3].into(),
                    delivered_to: (k % 2 == 0).then(|| format!("nic:vm-{}", i % 17)),
                    dropped_at: (k % 2 == 1).then(|| (if k == 5 { "" } else { "nsg:x" }).into()),
                    rule: (k != 4).then(|| format!("nsg:n/{}", i % 29)),
                    reason: format!("reason {}", i % 31),
                    src_seen: (k % 2 == 0).then(|| format!("10.{}.0.1", i % 3)),
                    dst_seen: (k % 2 == 0).then(|| "10.9.0.9".into()),
                    path,
                    return_path: if k == 6 {
                        String::new()
                    } else {
                        "nic:b > nic:a".into()
                    },
                    symmetric: i % 3 != 0,
                    to: (k != 2).then(|| format!("pe:pé-{}", i % 5)),
                    capture: (i % 5 == 0).then(|| "lab.pcap".into()),
                    first_ts_ns: (i % 4 == 0).then_some(i as u64 * 1_000_000_007),
                    last_ts_ns: (i % 4 == 0).then_some(u64::MAX / 2 - i as u64),
                    request_packets: (i % 2 == 0).then_some(i as u64),
                    request_bytes: (i % 2 == 0).then_some(i as u64 * 60),
                    reply_packets: None,
                    reply_bytes: (i % 9 == 0).then_some(0),
                }
            })
            .collect()
    }

    fn write_dict(rows: &[FlowRow], path: &std::path::Path) {
        let mut w = DictParquetWriter::new(std::fs::File::create(path).unwrap()).unwrap();
        for r in rows {
            w.write(r).unwrap();
        }
        w.finish().unwrap();
    }

    fn hops_of(path: &std::path::Path) -> Vec<Vec<String>> {
        let file = std::fs::File::open(path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let mut out = Vec::new();
        for b in reader {
            let b = b.unwrap();
            let l = b.column_by_name("hops").unwrap();
            let l = l.as_any().downcast_ref::<ListArray>().unwrap();
            for i in 0..l.len() {
                let v = l.value(i);
                let v = v.as_any().downcast_ref::<StringArray>().unwrap();
                out.push((0..v.len()).map(|j| v.value(j).to_string()).collect());
            }
        }
        out
    }

    #[test]
    fn reads_back_as_the_arrow_writer_s_file_does() {
        let dir = tempfile::tempdir().unwrap();
        // More than two row groups, the last one partial.
        let rows = rows(2 * ROW_GROUP_ROWS + 1234);
        let ours = dir.path().join("dict.parquet");
        let reference = dir.path().join("arrow.parquet");
        write_dict(&rows, &ours);
        let mut w =
            crate::parquet_io::ParquetRowWriter::new(std::fs::File::create(&reference).unwrap())
                .unwrap();
        for r in &rows {
            w.write(r).unwrap();
        }
        w.finish().unwrap();
        let back = crate::parquet_io::read(&ours).unwrap();
        assert_eq!(back.len(), rows.len());
        assert_eq!(back, rows);
        assert_eq!(back, crate::parquet_io::read(&reference).unwrap());
        let want: Vec<Vec<String>> = rows
            .iter()
            .map(|r| hops(&r.path).map(str::to_string).collect())
            .collect();
        assert_eq!(hops_of(&ours), want);
        assert_eq!(hops_of(&ours), hops_of(&reference));
        let groups = crate::parquet_io::row_group_sizes(&ours).unwrap();
        assert_eq!(groups, vec![65536, 65536, 1234]);
        // The Parquet schema is the Arrow writer's, field for field.
        let schema = |p: &std::path::Path| {
            let f = std::fs::File::open(p).unwrap();
            let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
            (b.schema().clone(), b.parquet_schema().root_schema().clone())
        };
        assert_eq!(schema(&ours), schema(&reference));
    }

    #[test]
    fn counters_read_back_null_where_no_row_before_had_one() {
        // A row group whose first 100 rows have no counter, then a row group with none at all,
        // then a partial one: each row reads back as written.
        let dir = tempfile::tempdir().unwrap();
        let mut rows = rows(2 * ROW_GROUP_ROWS + 500);
        let none = |r: &mut FlowRow| {
            r.first_ts_ns = None;
            r.last_ts_ns = None;
            r.request_packets = None;
            r.request_bytes = None;
            r.reply_packets = None;
            r.reply_bytes = None;
        };
        rows[..100].iter_mut().for_each(none);
        rows[ROW_GROUP_ROWS..2 * ROW_GROUP_ROWS]
            .iter_mut()
            .for_each(none);
        let p = dir.path().join("c.parquet");
        write_dict(&rows, &p);
        let back = crate::parquet_io::read(&p).unwrap();
        assert_eq!(
            back[..100]
                .iter()
                .filter(|r| r.request_packets.is_some())
                .count(),
            0
        );
        assert_eq!(back[100].request_packets, Some(100));
        assert_eq!(back[ROW_GROUP_ROWS + 2].request_bytes, None);
        assert_eq!(back, rows);
    }

    #[test]
    fn chunk_statistics_are_those_of_the_values() {
        let dir = tempfile::tempdir().unwrap();
        let rows = rows(1000);
        let p = dir.path().join("s.parquet");
        write_dict(&rows, &p);
        let f = std::fs::File::open(&p).unwrap();
        let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
        let g = &b.metadata().row_groups()[0];
        let col = |name: &str| {
            g.columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .unwrap()
                .statistics()
                .unwrap()
                .clone()
        };
        let s = col("dst");
        let min = rows.iter().map(|r| r.dst.as_str()).min().unwrap();
        let max = rows.iter().map(|r| r.dst.as_str()).max().unwrap();
        assert_eq!(s.min_bytes_opt(), Some(min.as_bytes()));
        assert_eq!(s.max_bytes_opt(), Some(max.as_bytes()));
        let nulls = rows.iter().filter(|r| r.fqdn.is_none()).count() as u64;
        assert_eq!(col("fqdn").null_count_opt(), Some(nulls));
        let port_max = rows.iter().map(|r| r.dst_port).max().unwrap() as i32;
        assert_eq!(
            col("dstPort").max_bytes_opt(),
            Some(&port_max.to_le_bytes()[..])
        );
    }

    #[test]
    fn a_flow_written_from_a_pattern_is_the_filled_row() {
        let dir = tempfile::tempdir().unwrap();
        let rows = rows(300);
        let mut symbols: Vec<String> = ["nic:a", "firewall:hub-fw", "pe:pé-1", "internet", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // Each row's shared columns as symbols of their own, after the endpoints' (equal texts
        // under different symbols, as a sweep may register them).
        let mut shared = Vec::new();
        for r in &rows {
            let mut sym = |t: &str| {
                symbols.push(t.to_string());
                symbols.len() as u32 - 1
            };
            shared.push(SharedSymbols {
                protocol: sym(&r.protocol),
                fqdn: r.fqdn.as_deref().map(&mut sym),
                outcome: sym(&r.outcome),
                dropped_at: r.dropped_at.as_deref().map(&mut sym),
                rule: r.rule.as_deref().map(&mut sym),
                reason: sym(&r.reason),
                capture: r.capture.as_deref().map(&mut sym),
                symmetric: r.symmetric,
            });
        }
        let p = dir.path().join("f.parquet");
        let mut w = DictParquetWriter::new(std::fs::File::create(&p).unwrap()).unwrap();
        w.add_symbols(&symbols[..2]);
        w.add_symbols(&symbols[2..]);
        let mut want = Vec::new();
        let hop_lists: [&[u32]; 4] = [&[], &[0], &[0, 1, 2], &[3, 4, 0]];
        for (i, r) in rows.iter().enumerate() {
            let pattern = FlowRow {
                protocol: r.protocol.clone(),
                fqdn: r.fqdn.clone(),
                outcome: r.outcome.clone(),
                dropped_at: r.dropped_at.clone(),
                rule: r.rule.clone(),
                reason: r.reason.clone(),
                capture: r.capture.clone(),
                symmetric: r.symmetric,
                ..FlowRow::default()
            };
            let id = w.add_pattern(&shared[i]);
            let f = FlowFields {
                src: 0x0a00_0001 + i as u32,
                dst: 0xc0a8_0000 | (i as u32 % 7),
                src_port: i as u16,
                dst_port: 443,
                src_seen: (i % 2 == 0).then_some(0x6440_0001),
                dst_seen: None,
                ingress: i as u32 % 5,
                delivered_to: (i % 3 == 0).then_some(2),
                to: (i % 4 != 0).then_some(i as u32 % 4),
                forward: hop_lists[i % 4],
                ret: hop_lists[(i + 1) % 4],
            };
            w.write_flow(id, &f).unwrap();
            want.push(f.fill(pattern, &symbols));
        }
        w.finish().unwrap();
        assert_eq!(want[1].src, "10.0.0.2");
        assert_eq!(want[0].src_seen.as_deref(), Some("100.64.0.1"));
        assert_eq!(want[2].path, "nic:a > firewall:hub-fw > pe:pé-1");
        assert_eq!(want[2].return_path, "internet >  > nic:a");
        assert_eq!(crate::parquet_io::read(&p).unwrap(), want);
        let hops: Vec<Vec<String>> = want
            .iter()
            .enumerate()
            .map(|(i, _)| {
                hop_lists[i % 4]
                    .iter()
                    .map(|&k| symbols[k as usize].clone())
                    .collect()
            })
            .collect();
        assert_eq!(hops_of(&p), hops);
    }

    #[test]
    fn an_address_keeps_its_id_whatever_the_recent_slots_hold() {
        // 50,000 addresses, many sharing a slot of the direct-mapped front (more addresses
        // than slots), met three times in different orders: each keeps the id it got first,
        // and that id's text is the address written as a dotted quad.
        let mut s = Strings::default();
        let addrs: Vec<u32> = (0..50_000u32)
            .map(|i| 0x0a00_0000 | i.wrapping_mul(2_654_435_761) >> 8)
            .collect();
        let first: Vec<u32> = addrs.iter().map(|&a| s.addr(a)).collect();
        for round in 0..2 {
            for (k, &a) in addrs.iter().enumerate().rev().skip(round) {
                assert_eq!(s.addr(a), first[k], "{}", Ipv4Addr::from(a));
            }
        }
        for (k, &a) in addrs.iter().enumerate() {
            assert_eq!(&*s.text[first[k] as usize], Ipv4Addr::from(a).to_string());
        }
        let distinct: std::collections::HashSet<u32> = addrs.iter().copied().collect();
        assert_eq!(s.text.len(), distinct.len());
    }

    #[test]
    fn hybrid_runs_decode_to_the_values() {
        // Decoded by hand from the format's definition: a repeated run's header is the count
        // shifted left by one; a bit-packed run's is the number of groups of 8, shifted, | 1.
        let mut buf = Vec::new();
        let v: Vec<u32> = [5u32; 16].iter().copied().chain([1, 2, 3]).collect();
        hybrid(&mut buf, v.iter().copied(), v.len(), 3);
        // 16 fives as one repeated run (header 32, value 5 in one byte), then one bit-packed
        // group of 1, 2, 3 padded with zeros: 1 | 2<<3 | 3<<6 = 0xd1, then 0 in two bytes.
        assert_eq!(buf, vec![32, 5, 3, 0xd1, 0, 0]);
        let mut buf = Vec::new();
        hybrid(&mut buf, std::iter::repeat(0), 3, 0);
        assert_eq!(buf, vec![6]);
    }
}
