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
const INGRESS: usize = 4;
const DELIVERED_TO: usize = 6;
const SRC_SEEN: usize = 10;
const DST_SEEN: usize = 11;
/// The two path columns, written plain (nearly every flow has its own).
const PATH: usize = 12;
const RETURN_PATH: usize = 13;
const TO: usize = 14;

/// A row's columns apart from its addresses and ports, registered with
/// [`DictParquetWriter::add_pattern`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatternId(pub u32);

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
    pub fn add_pattern(&mut self, row: &FlowRow) -> PatternId {
        self.rows.push(row.clone());
        PatternId(self.rows.len() as u32 - 1)
    }
    /// The row of a flow written from pattern `p`.
    pub fn row(&self, p: PatternId, f: &FlowFields) -> FlowRow {
        f.fill(self.rows[p.0 as usize].clone(), &self.symbols)
    }
}

/// One row as ids: a string column's value is an id in [`Strings`] (`NULL` for none). The
/// columns a flow gives are left `NULL`.
struct Pattern {
    strs: [u32; N_STR],
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

/// The row group being gathered.
#[derive(Default)]
struct Group {
    strs: [StrColumn; N_STR],
    /// `path` and `returnPath`, PLAIN-encoded: each value its length (4 bytes) and its bytes.
    plain: [Vec<u8>; 2],
    hops: StrColumn,
    ports: [Vec<u16>; 2],
    symmetric: Vec<bool>,
    counters: [(Vec<u8>, Vec<u64>); 6],
    rows: usize,
}

/// Streams rows into a Parquet file, encoding the column chunks from dictionary ids.
pub struct DictParquetWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    leaves: Vec<ColumnDescPtr>,
    /// The string columns' dictionaries, then the hops column's.
    strings: [Strings; N_STR + 1],
    patterns: Vec<Pattern>,
    /// Each symbol's text and its ids in the columns that take symbols: `ingress`,
    /// `deliveredTo`, `to` and the hops.
    symbols: Vec<(Box<str>, [u32; 4])>,
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

    /// Registers names that flows refer to by number ([`FlowFields`]): symbol `k` is the
    /// `k`-th name of all calls together.
    pub fn add_symbols<S: AsRef<str>>(&mut self, names: &[S]) {
        for n in names {
            let n = n.as_ref();
            let s = &mut self.strings;
            let ids = [INGRESS, DELIVERED_TO, TO, N_STR].map(|k| s[k].id(n));
            self.symbols.push((n.into(), ids));
        }
    }

    /// Registers a row's columns apart from those [`FlowFields`] gives (the values `r` has
    /// there are not kept).
    pub fn add_pattern(&mut self, r: &FlowRow) -> PatternId {
        let own = [SRC, DST, SRC_SEEN, DST_SEEN, INGRESS, DELIVERED_TO, TO];
        let values = row_strings(r);
        let s = &mut self.strings;
        let strs = std::array::from_fn(|k| match own.contains(&k) {
            true => NULL,
            false => s[k].opt(values[k]),
        });
        let id = PatternId(self.patterns.len() as u32);
        self.patterns.push(Pattern {
            strs,
            symmetric: r.symmetric,
        });
        id
    }

    /// Writes one flow: the pattern's columns with the flow's own (no counters).
    pub fn write_flow(&mut self, p: PatternId, f: &FlowFields) -> Result<(), Error> {
        let pat = &self.patterns[p.0 as usize];
        let mut strs = pat.strs;
        let s = &mut self.strings;
        let sym = |k: u32, col: usize| self.symbols[k as usize].1[col];
        strs[SRC] = s[SRC].addr(f.src);
        strs[DST] = s[DST].addr(f.dst);
        strs[SRC_SEEN] = f.src_seen.map_or(NULL, |a| s[SRC_SEEN].addr(a));
        strs[DST_SEEN] = f.dst_seen.map_or(NULL, |a| s[DST_SEEN].addr(a));
        strs[INGRESS] = sym(f.ingress, 0);
        strs[DELIVERED_TO] = f.delivered_to.map_or(NULL, |k| sym(k, 1));
        strs[TO] = f.to.map_or(NULL, |k| sym(k, 2));
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
                col.extend_from_slice(self.symbols[h as usize].0.as_bytes());
            }
            let n = (col.len() - at - 4) as u32;
            col[at..at + 4].copy_from_slice(&n.to_le_bytes());
        }
        self.hop_scratch.clear();
        self.hop_scratch
            .extend(f.forward.iter().map(|&h| self.symbols[h as usize].1[3]));
        push_row(
            g,
            &strs,
            &self.hop_scratch,
            [f.src_port, f.dst_port],
            pat.symmetric,
            [None; 6],
        );
        self.after_row()
    }

    /// Writes one row given whole (its strings interned by content).
    pub fn write(&mut self, r: &FlowRow) -> Result<(), Error> {
        let strs = self.ids_of(r);
        let counters = crate::parquet_io::counters(r);
        for (col, text) in self.group.plain.iter_mut().zip([&r.path, &r.return_path]) {
            col.extend_from_slice(&(text.len() as u32).to_le_bytes());
            col.extend_from_slice(text.as_bytes());
        }
        push_row(
            &mut self.group,
            &strs,
            &self.hop_scratch,
            [r.src_port, r.dst_port],
            r.symmetric,
            counters,
        );
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
        let mut rg = self.file.next_row_group()?;
        for (leaf, descr) in self.leaves.iter().enumerate() {
            let (bytes, close) = encode_leaf(&self.group, leaf, descr, &self.strings)?;
            rg.append_column(&bytes, close)?;
        }
        rg.close()?;
        let g = &mut self.group;
        g.strs.iter_mut().for_each(StrColumn::clear);
        g.hops.clear();
        g.plain.iter_mut().for_each(Vec::clear);
        g.ports.iter_mut().for_each(Vec::clear);
        g.symmetric.clear();
        for (d, v) in g.counters.iter_mut() {
            d.clear();
            v.clear();
        }
        g.rows = 0;
        Ok(())
    }

    pub fn finish(mut self) -> Result<W, Error> {
        self.flush_group()?;
        Ok(self.file.into_inner()?)
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

fn push_row(
    g: &mut Group,
    strs: &[u32; N_STR],
    hops: &[u32],
    ports: [u16; 2],
    symmetric: bool,
    counters: [Option<u64>; 6],
) {
    for (k, (c, &id)) in g.strs.iter_mut().zip(strs).enumerate() {
        match STR_COLUMNS[k] {
            _ if k == PATH || k == RETURN_PATH => {}
            (_, true) => c.push(id),
            (_, false) => c.push_id(id),
        }
    }
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
    g.symmetric.push(symmetric);
    for ((d, v), c) in g.counters.iter_mut().zip(counters) {
        d.push(c.is_some() as u8);
        v.extend(c);
    }
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
        Leaf::Str(k, nullable) => {
            let c = &g.strs[k];
            let defs = nullable.then_some(&c.defs[..]);
            chunk.strings(c, None, (defs, descr.max_def_level()), &strings[k]);
        }
        Leaf::Hops => {
            let defs = (Some(&g.hops.defs[..]), descr.max_def_level());
            chunk.strings(&g.hops, Some(&g.hops.reps), defs, &strings[N_STR])
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
            let v = &g.symmetric;
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
            push_levels(&mut buf, defs, 1);
            for &x in v {
                buf.extend_from_slice(&(x as i64).to_le_bytes());
            }
            let (lo, hi) = (v.iter().min(), v.iter().max());
            chunk.stats = Some(Statistics::int64(
                lo.map(|&x| x as i64),
                hi.map(|&x| x as i64),
                None,
                Some((defs.len() - v.len()) as u64),
                false,
            ));
            chunk.data_page(&buf, defs.len(), Encoding::PLAIN);
        }
    }
    chunk.finish(descr, rows)
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
    /// A dictionary-encoded string column: the dictionary page and one data page of indices.
    fn strings(
        &mut self,
        c: &StrColumn,
        reps: Option<&[u8]>,
        (defs, max_def): (Option<&[u8]>, i16),
        s: &Strings,
    ) {
        let mut dict = Vec::new();
        let (mut lo, mut hi): (Option<&str>, Option<&str>) = (None, None);
        for &g in &c.order {
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
                num_values: c.order.len() as u32,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            },
            len,
        ));
        self.dictionary = true;
        let mut buf = Vec::new();
        if let Some(r) = reps {
            push_levels(&mut buf, r, 1);
        }
        let slots = defs.map_or(c.values.len(), |d| d.len());
        if let Some(d) = defs {
            push_levels(&mut buf, d, bit_width(max_def as u32));
        }
        let width = bit_width(c.order.len().saturating_sub(1) as u32);
        buf.push(width);
        hybrid(&mut buf, c.values.iter().copied(), c.values.len(), width);
        let bytes = |x: Option<&str>| x.map(|t| ByteArray::from(t.as_bytes().to_vec()));
        let nulls = (slots - c.values.len()) as u64;
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

fn snappy(b: &[u8]) -> Bytes {
    let mut out = vec![0u8; snap::raw::max_compress_len(b.len())];
    let n = snap::raw::Encoder::new()
        .compress(b, &mut out)
        .expect("an output buffer of snappy's maximum length");
    out.truncate(n);
    Bytes::from(out)
}

/// Bits needed for values up to `max`.
fn bit_width(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// Levels of a data page v1: their byte length (4 bytes, little-endian), then the levels in
/// the RLE/bit-packed hybrid.
fn push_levels(buf: &mut Vec<u8>, levels: &[u8], width: u8) {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    hybrid(buf, levels.iter().map(|&l| l as u32), levels.len(), width);
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
    let mut literal: Vec<[u32; 8]> = Vec::new();
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

/// Eight values of `width` bits, least significant bit first.
fn pack8(buf: &mut Vec<u8>, g: &[u32; 8], width: u8) {
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &v in g {
        acc |= (v as u64) << bits;
        bits += width as u32;
        while bits >= 8 {
            buf.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    debug_assert_eq!(bits, 0);
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
        let symbols: Vec<String> = ["nic:a", "firewall:hub-fw", "pe:pé-1", "internet", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = dir.path().join("f.parquet");
        let mut w = DictParquetWriter::new(std::fs::File::create(&p).unwrap()).unwrap();
        w.add_symbols(&symbols[..2]);
        w.add_symbols(&symbols[2..]);
        let mut want = Vec::new();
        let hop_lists: [&[u32]; 4] = [&[], &[0], &[0, 1, 2], &[3, 4, 0]];
        for (i, r) in rows.iter().enumerate() {
            let mut pattern = r.clone();
            pattern.first_ts_ns = None;
            pattern.last_ts_ns = None;
            pattern.request_packets = None;
            pattern.request_bytes = None;
            pattern.reply_packets = None;
            pattern.reply_bytes = None;
            let id = w.add_pattern(&pattern);
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
