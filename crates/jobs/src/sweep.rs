//! Sweeps: the matrix of selected sources × destinations × ports, evaluated in parallel and
//! streamed to a sink in matrix order, slice by slice, with the summary and the per-pair
//! outcomes the heat map draws.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::path::Path;
use std::time::Instant;

use vnetsim_engine::sweep::{self, Matrix, Side};
use vnetsim_engine::{Outcome, Scratch, Trace, L7};
use vnetsim_fabric::Fabric;
use vnetsim_report::heatmap::{CellOutcome, Heatmap};
use vnetsim_report::html::HtmlReport;
use vnetsim_report::summary::Summary;
use vnetsim_report::{
    FlowFields, FlowRow, OutputFormat, PatternId, RowPatterns, RowWriter, SharedSymbols,
};

use crate::rows::EndpointIds;

use crate::report::Placements;
use crate::Job;

/// What a sweep covers: selectors and ports as the user writes them.
#[derive(Clone, Debug, Default)]
pub struct Selectors {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub ports: String,
}

/// The matrix the selectors and ports describe.
pub fn matrix(f: &Fabric, sel: &Selectors) -> Result<Matrix, String> {
    let sources = sweep::resolve(f, &sel.from, Side::Source).map_err(|e| format!("error: {e}"))?;
    let dests = sweep::resolve(f, &sel.to, Side::Destination).map_err(|e| format!("error: {e}"))?;
    let ports = sweep::parse_ports(&sel.ports).map_err(|e| format!("error: --ports: {e}"))?;
    Ok(Matrix::new(sources, dests, ports))
}

/// The rows of the cells `range` of a sweep, with their cells, in matrix order.
pub(crate) fn slice_rows(
    f: &Fabric,
    matrix: &Matrix,
    fq: &[(Option<&str>, Option<&str>)],
    range: std::ops::Range<u64>,
    job: &Job<'_>,
) -> Vec<(sweep::Cell, FlowRow)> {
    let chunks: Vec<Vec<(sweep::Cell, FlowRow)>> = job.pool.install(|| {
        sweep::fold_range(
            f,
            matrix,
            fq,
            range,
            Vec::with_capacity,
            |v: &mut Vec<(sweep::Cell, FlowRow)>, f, s, t, c, q| v.push((c, row(f, s, t, q))),
            job.progress,
        )
    });
    chunks.into_iter().flatten().collect()
}

/// Every row of a sweep, kept (for check, and diff of matrices that differ, which are small
/// enough to hold).
pub fn collect_rows(f: &Fabric, matrix: &Matrix, job: &Job<'_>) -> Vec<FlowRow> {
    job.pool
        .install(|| sweep::run(f, matrix, |f, s, t, _, q| row(f, s, t, q), job.progress))
}

use crate::flow_row::{row, row_with};
pub use crate::summary_key::SummaryKey;
use crate::summary_key::{count_key, merge_counts};

/// Cells evaluated per slice of a streamed sweep: what a sweep holds at once, rows or
/// accumulators, is bounded by a slice, never by the matrix.
pub(crate) const SLICE: u64 = 64 * 1024;

/// Per pair (source, destination) of the matrix, flows by outcome: what the heat map draws.
pub struct PairOutcomes {
    pub dests: usize,
    /// Per pair (source-major), flows by [`Outcome`] (`Outcome as usize`).
    pub counts: Vec<[u64; 4]>,
}

impl PairOutcomes {
    fn new(m: &Matrix) -> PairOutcomes {
        PairOutcomes {
            dests: m.dests.len(),
            counts: vec![[0; 4]; m.sources.len() * m.dests.len()],
        }
    }
    fn add(&mut self, c: sweep::Cell, o: Outcome, n: u64) {
        self.counts[c.src as usize * self.dests + c.dst as usize][o as usize] += n;
    }
}

/// What a sweep reports besides its rows.
pub struct SweptSummary {
    pub matrix: Matrix,
    pub summary: Summary,
    /// Present when a heat map was asked for.
    pub pairs: Option<PairOutcomes>,
    pub flows: u64,
    pub seconds: f64,
}

type KeyCounts = crate::summary_key::KeyCounts<sweep::Cell>;

/// Key counts with the run of equal keys in progress in front: consecutive flows (one source's
/// ports and destinations) often share their key, so most flows compare one key instead of
/// hashing it.
#[derive(Default)]
struct Tally {
    counts: KeyCounts,
    run: Option<(SummaryKey, u64, sweep::Cell)>,
}

impl Tally {
    #[inline]
    fn add(&mut self, key: SummaryKey, c: sweep::Cell) {
        match &mut self.run {
            Some((k, n, first)) if *k == key => {
                *n += 1;
                *first = (*first).min(c);
            }
            run => {
                if let Some((k, n, first)) = run.replace((key, 1, c)) {
                    count_key(&mut self.counts, k, n, first);
                }
            }
        }
    }
    fn into_counts(mut self) -> KeyCounts {
        if let Some((k, n, first)) = self.run.take() {
            count_key(&mut self.counts, k, n, first);
        }
        self.counts
    }
}

/// A summary-only sweep: per distinct [`SummaryKey`] a count (names rendered once
/// per key), and per pair its outcomes when `pairs` is wanted. Memory: the distinct keys and
/// the pairs, never the flows.
/// `cells` is the part of the matrix to evaluate (`0..matrix.len()` for all of it).
pub fn sweep_summary(
    f: &Fabric,
    matrix: Matrix,
    cells: std::ops::Range<u64>,
    job: &Job<'_>,
    pairs: bool,
) -> SweptSummary {
    sweep_summary_into(f, matrix, cells, job, pairs, None)
}

/// The report's members for the matrix's sources and destinations (by probe), and the
/// representatives it asked for, traced once the sweep is done.
struct ReportFeed<'r> {
    report: &'r mut HtmlReport,
    sources: Vec<u32>,
    dests: Vec<u32>,
    wanted: Vec<(u32, sweep::Cell)>,
}

impl<'r> ReportFeed<'r> {
    fn new(f: &Fabric, m: &Matrix, report: &'r mut HtmlReport) -> ReportFeed<'r> {
        let places = Placements::new(f);
        let mut member =
            |p: &sweep::Probe| places.member_as(report, &p.label, &f.endpoint_id(p.endpoint));
        let sources = m.sources.iter().map(&mut member).collect();
        let dests = m.dests.iter().map(&mut member).collect();
        ReportFeed {
            report,
            sources,
            dests,
            wanted: Vec::new(),
        }
    }
    fn record(&mut self, c: sweep::Cell, o: Outcome) -> Option<u32> {
        let id = self.report.record(
            self.sources[c.src as usize],
            self.dests[c.dst as usize],
            o as usize,
        );
        if let Some(id) = id {
            self.wanted.push((id, c));
        }
        id
    }
    /// Traces the representatives not yet filled (a summary-only sweep renders no rows).
    fn finish(self, f: &Fabric, m: &Matrix) {
        let mut s = Scratch::new();
        for (id, c) in self.wanted {
            let t = sweep::trace_cell(f, m, c, &mut s);
            let l7 = sweep::destination_l7(f, &t.flow);
            self.report.set_rep(id, row(f, &s, &t, l7));
        }
    }
}

/// The summary's key counts of the cells `cells`, slice by slice, with each cell's outcome
/// given in matrix order to the heat map and the report.
fn count_by_cell(
    f: &Fabric,
    matrix: &Matrix,
    fq: &[(Option<&str>, Option<&str>)],
    cells: std::ops::Range<u64>,
    job: &Job<'_>,
    heat: &mut Option<PairOutcomes>,
    feed: &mut Option<ReportFeed<'_>>,
) -> KeyCounts {
    type Acc = (Tally, Vec<(sweep::Cell, Outcome)>);
    let each = |acc: &mut Acc, _: &Fabric, _: &Scratch, t: &Trace, c, _: Option<L7>| {
        acc.0.add(SummaryKey::of(t), c);
        acc.1.push((c, t.outcome));
    };
    let mut counts = KeyCounts::default();
    for start in cells.clone().step_by(SLICE as usize) {
        let range = start..(start + SLICE).min(cells.end);
        let chunks: Vec<Acc> = job.pool.install(|| {
            sweep::fold_range(f, matrix, fq, range, |_| Acc::default(), each, job.progress)
        });
        for (k, cells) in chunks {
            counts = merge_counts(counts, k.into_counts());
            for (c, o) in cells {
                if let Some(h) = heat.as_mut() {
                    h.add(c, o, 1);
                }
                if let Some(r) = feed.as_mut() {
                    r.record(c, o);
                }
            }
        }
    }
    counts
}

/// The summary of counted keys: one representative flow per key (its first cell) traced again
/// and rendered once, added with the key's count.
fn summarize(f: &Fabric, matrix: &Matrix, counts: &KeyCounts) -> Summary {
    let mut summary = Summary::default();
    let mut s = Scratch::new();
    // Keys in the order of their first cell, so the summary's ties break the same every run.
    let mut keys: Vec<&(u64, sweep::Cell)> = counts.values().collect();
    keys.sort_by_key(|(_, c)| (c.src, c.dst, c.port));
    for (n, c) in keys {
        let t = sweep::trace_cell(f, matrix, *c, &mut s);
        summary.add_n(&row_with(f, &t, None, String::new(), String::new()), *n);
    }
    summary
}

/// [`sweep_summary`], feeding an HTML report as it goes.
pub fn sweep_summary_into(
    f: &Fabric,
    matrix: Matrix,
    cells: std::ops::Range<u64>,
    job: &Job<'_>,
    pairs: bool,
    report: Option<&mut HtmlReport>,
) -> SweptSummary {
    let (pool, progress) = (job.pool, job.progress);
    let mut feed = report.map(|r| ReportFeed::new(f, &matrix, r));
    let cells_wanted = pairs || feed.is_some();
    let started = Instant::now();
    let fq = matrix.fqdns(f);
    let cells = cells.start.min(matrix.len())..cells.end.min(matrix.len());
    let mut heat = pairs.then(|| PairOutcomes::new(&matrix));
    let counts = if cells_wanted {
        count_by_cell(f, &matrix, &fq, cells.clone(), job, &mut heat, &mut feed)
    } else {
        let each = |acc: &mut Tally, _: &Fabric, _: &Scratch, t: &Trace, c, _: Option<L7>| {
            acc.add(SummaryKey::of(t), c)
        };
        let merge = |a: Tally, b: Tally| Tally {
            counts: merge_counts(a.into_counts(), b.into_counts()),
            run: None,
        };
        pool.install(|| {
            sweep::fold_merge(
                f,
                &matrix,
                &fq,
                cells.clone(),
                Tally::default,
                each,
                merge,
                progress,
            )
        })
        .into_counts()
    };
    if let Some(r) = feed {
        r.finish(f, &matrix);
    }
    SweptSummary {
        flows: cells.end - cells.start,
        summary: summarize(f, &matrix, &counts),
        matrix,
        pairs: heat,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Where a streamed sweep's rows go: rows given as a pattern (what flows of one kind share,
/// registered once) and each flow's own fields ([`FlowFields`], endpoints by symbol).
pub trait FlowSink {
    /// Names for symbols `0..`: every endpoint's id, before any flow.
    fn add_symbols(&mut self, names: &[String]);
    /// Registers what flows of one pattern share, as symbols (names registered with
    /// `add_symbols`, endpoints' or not).
    fn add_pattern(&mut self, p: &SharedSymbols) -> PatternId;
    fn write_flow(&mut self, p: PatternId, f: &FlowFields<'_>) -> Result<(), String>;
}

/// A [`FlowSink`] that hands each row, whole, to a function.
pub struct EachRow<F> {
    pub each: F,
    patterns: RowPatterns,
}

impl<F: FnMut(FlowRow) -> Result<(), String>> EachRow<F> {
    pub fn new(each: F) -> Self {
        EachRow {
            each,
            patterns: RowPatterns::default(),
        }
    }
}

impl<F: FnMut(FlowRow) -> Result<(), String>> FlowSink for EachRow<F> {
    fn add_symbols(&mut self, names: &[String]) {
        self.patterns.add_symbols(names)
    }
    fn add_pattern(&mut self, p: &SharedSymbols) -> PatternId {
        self.patterns.add_pattern(p)
    }
    fn write_flow(&mut self, p: PatternId, f: &FlowFields<'_>) -> Result<(), String> {
        (self.each)(self.patterns.row(p, f))
    }
}

/// A sweep whose rows are streamed to `out` in matrix order, slice by slice (each slice
/// evaluated in parallel): memory holds one slice of flows. `cells` is the part of the matrix
/// to evaluate (`0..matrix.len()` for all of it).
pub fn sweep_rows(
    f: &Fabric,
    matrix: Matrix,
    cells: std::ops::Range<u64>,
    job: &Job<'_>,
    pairs: bool,
    out: &mut dyn FlowSink,
) -> Result<SweptSummary, String> {
    sweep_rows_into(f, matrix, cells, job, pairs, None, out)
}

/// One flow of a slice: its cell and outcome, its pattern's key, and its own fields.
struct SweptFlow {
    cell: sweep::Cell,
    outcome: Outcome,
    key: PatternKey,
    own: OwnFields,
}

/// A flow's [`FlowFields`] as a slice keeps them, in 44 bytes where the fields with their hop
/// lists take 80: the optional ones as [`NONE`], the hops as a place in the slice part's hop
/// list (the forward leg's, then the return leg's).
#[derive(Clone, Copy)]
struct OwnFields {
    src: u32,
    dst: u32,
    ports: [u16; 2],
    /// The source and destination the destination saw, when delivered.
    seen: [u32; 2],
    delivered: bool,
    ingress: u32,
    delivered_to: u32,
    to: u32,
    hops: u32,
    legs: [u16; 2],
}

const NONE: u32 = u32::MAX;

impl OwnFields {
    /// The fields, their hops in `hops` (the part's hop list).
    fn fields<'h>(&self, hops: &'h [u32]) -> FlowFields<'h> {
        let (at, [n, m]) = (self.hops as usize, self.legs.map(usize::from));
        let some = |x: u32| (x != NONE).then_some(x);
        FlowFields {
            src: self.src,
            dst: self.dst,
            src_port: self.ports[0],
            dst_port: self.ports[1],
            src_seen: self.delivered.then_some(self.seen[0]),
            dst_seen: self.delivered.then_some(self.seen[1]),
            ingress: self.ingress,
            delivered_to: some(self.delivered_to),
            to: some(self.to),
            forward: &hops[at..at + n],
            ret: &hops[at + n..at + n + m],
        }
    }
}

/// Part of a slice: its flows, and their hops (symbols).
struct SweptPart {
    flows: Vec<SweptFlow>,
    hops: Vec<u32>,
}

/// What determines a row apart from its [`FlowFields`]: the summary's key (outcome, symmetry,
/// rule, drop point, reason, rewritten source), the protocol and the name the probe used.
#[derive(Clone, Copy)]
struct PatternKey(SummaryKey, [u64; 3]);

impl PartialEq for PatternKey {
    #[inline]
    fn eq(&self, o: &PatternKey) -> bool {
        let d = self.1.iter().zip(&o.1).fold(0, |d, (a, b)| d | (a ^ b));
        d == 0 && self.0 == o.0
    }
}
impl Eq for PatternKey {}

/// The same words `eq` compares: the summary's key, then the protocol and the name.
impl Hash for PatternKey {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.hash(h);
        self.1.hash(h);
    }
}

fn pattern_key(t: &Trace, l7: Option<L7<'_>>) -> PatternKey {
    let (p, n) = l7.map_or((0, 0), |q| (q.fqdn.as_ptr() as u64, q.fqdn.len() as u64));
    PatternKey(SummaryKey::of(t), [t.flow.proto as u64, p, n])
}

/// Per destination probe, the symbol of the endpoint its address belongs to
/// ([`Fabric::endpoint_of_destination`]): a flow's `to` column when it goes to the probe's
/// address (every flow but those from the Internet to a NIC's public address).
fn destination_symbols(f: &Fabric, m: &Matrix, ids: &EndpointIds) -> Vec<(u32, u32)> {
    let to = |d: &sweep::Probe| ids.symbol(f.endpoint_of_destination(d.addr));
    m.dests.iter().map(|d| (d.addr, to(d))).collect()
}

/// A flow's own fields, its hops appended to `hops`; `probe` is its destination probe's
/// address and that address's endpoint symbol.
fn own_fields(
    (f, ids): (&Fabric, &EndpointIds),
    s: &Scratch,
    t: &Trace,
    (probe, probe_to): (u32, u32),
    hops: &mut Vec<u32>,
) -> OwnFields {
    let fw = &t.forward;
    let at = hops.len() as u32;
    let mut leg = |l: &vnetsim_engine::Leg| {
        let before = hops.len();
        hops.extend(s.leg_hops(l).iter().map(|h| ids.symbol(h.node)));
        // A leg has at most a few dozen hops (the walk ends one past MAX_HOPS lookups).
        (hops.len() - before) as u16
    };
    let legs = [leg(fw), t.ret.as_ref().map_or(0, &mut leg)];
    let to = match t.flow.dst == probe {
        true => probe_to,
        false => ids.symbol(f.endpoint_of_destination(t.flow.dst)),
    };
    OwnFields {
        src: t.flow.src,
        dst: t.flow.dst,
        ports: [t.flow.sport, t.flow.dport],
        seen: [fw.seen.src, fw.seen.dst],
        delivered: fw.verdict == vnetsim_engine::Verdict::Delivered,
        ingress: ids.symbol(t.ingress),
        delivered_to: fw.delivered_to.map_or(NONE, |e| ids.symbol(e)),
        to,
        hops: at,
        legs,
    }
}

/// The symbols of patterns' shared columns, each text registered with the sink on first sight
/// and found again by what determines it: the protocol, the outcome, the name probed (by its
/// place in the fabric), and the drop point, rule and reason by their words in the summary's
/// key. A new pattern costs a few reads of small maps; the cell is traced again only when its
/// drop point, rule or reason is new.
struct SharedTexts {
    /// The next symbol's number: the endpoints' come first.
    next: u32,
    protocols: FxMap<u8, u32>,
    outcomes: [Option<u32>; 4],
    fqdns: FxMap<[u64; 2], Option<u32>>,
    drop_points: FxMap<[u64; 2], Option<u32>>,
    rules: FxMap<[u64; 2], Option<u32>>,
    reasons: FxMap<[u64; 4], u32>,
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<vnetsim_engine::replay::FxHasher>>;

/// A fabric, a matrix and the endpoints' symbols: what a pattern's texts are rendered from.
type PatternSource<'a> = (&'a Fabric, &'a Matrix, &'a EndpointIds);

impl SharedTexts {
    fn new(ids: &EndpointIds) -> SharedTexts {
        SharedTexts {
            next: ids.names().len() as u32,
            protocols: FxMap::default(),
            outcomes: [None; 4],
            fqdns: FxMap::default(),
            drop_points: FxMap::default(),
            rules: FxMap::default(),
            reasons: FxMap::default(),
        }
    }

    /// A new symbol for `text`.
    fn text(next: &mut u32, out: &mut dyn FlowSink, text: String) -> u32 {
        out.add_symbols(&[text]);
        *next += 1;
        *next - 1
    }

    /// The shared columns of the flows of `key`, whose first flow is in cell `c`.
    fn of(
        &mut self,
        (key, c, outcome): (PatternKey, sweep::Cell, Outcome),
        (f, m, ids): PatternSource<'_>,
        scratch: &mut Scratch,
        out: &mut dyn FlowSink,
    ) -> SharedSymbols {
        let n = &mut self.next;
        let k = key.0;
        let (drop_words, rule_words, reason_words) =
            (k.drop_point_words(), k.rule_words(), k.reason_words());
        let known = (
            self.drop_points.get(&drop_words).copied(),
            self.rules.get(&rule_words).copied(),
            self.reasons.get(&reason_words).copied(),
        );
        let (dropped_at, rule, reason) = match known {
            (Some(d), Some(r), Some(why)) => (d, r, why),
            _ => {
                let t = sweep::trace_cell(f, m, c, scratch);
                let (d, r) = crate::flow_row::decided(&t);
                let d = *self
                    .drop_points
                    .entry(drop_words)
                    .or_insert_with(|| d.map(|e| ids.symbol(e)));
                let r = *self.rules.entry(rule_words).or_insert_with(|| {
                    r.map(|r| Self::text(n, out, vnetsim_engine::render::rule_name(f, r)))
                });
                let why = *self.reasons.entry(reason_words).or_insert_with(|| {
                    Self::text(n, out, vnetsim_engine::render::outcome_reason(f, &t))
                });
                (d, r, why)
            }
        };
        let proto = key.1[0] as u8;
        let protocol = *self
            .protocols
            .entry(proto)
            .or_insert_with(|| Self::text(n, out, vnetsim_engine::render::protocol_name(proto)));
        let o = &mut self.outcomes[outcome as usize];
        let outcome = *o.get_or_insert_with(|| Self::text(n, out, outcome.as_str().to_string()));
        let fqdn = *self.fqdns.entry([key.1[1], key.1[2]]).or_insert_with(|| {
            let l7 = sweep::destination_l7(f, &m.flow(f, c));
            l7.map(|q| Self::text(n, out, q.fqdn.to_string()))
        });
        SharedSymbols {
            protocol,
            fqdn,
            outcome,
            dropped_at,
            rule,
            reason,
            capture: None,
            symmetric: k.symmetric(),
        }
    }
}

/// The patterns of a sweep's keys, each registered on first sight from its key (its texts
/// from [`SharedTexts`], never per flow), and the flows counted under each key: one lookup
/// per flow gives both the pattern and the summary's count.
///
/// Two caches stand in front of the index of every key, each compared whole: the key found
/// last (consecutive flows of one source often share theirs), and the key found last for the
/// flow's destination probe (flows to one destination from different sources often share
/// theirs, and a source's flows meet the destinations in order, so this array is read from
/// start to end, from the processor's cache, where the index of tens of thousands of keys
/// would miss it).
struct Patterns {
    index: PatternIndex,
    /// Per distinct key, in first-seen order: its pattern, its flows and the least cell.
    seen: Vec<(PatternKey, PatternId, u64, sweep::Cell)>,
    last: Option<(PatternKey, usize)>,
    /// Per destination probe, the last key found for it and its place in `seen`.
    by_dst: Vec<Option<(PatternKey, u32)>>,
    texts: SharedTexts,
}

type PatternIndex = FxMap<PatternKey, u32>;

impl Patterns {
    fn new(m: &Matrix, ids: &EndpointIds) -> Patterns {
        Patterns {
            index: PatternIndex::default(),
            seen: Vec::new(),
            last: None,
            by_dst: vec![None; m.dests.len()],
            texts: SharedTexts::new(ids),
        }
    }

    /// The pattern of the flow in cell `c`, with the flow counted under its key.
    fn count(
        &mut self,
        (key, c, outcome): (PatternKey, sweep::Cell, Outcome),
        fab: PatternSource<'_>,
        scratch: &mut Scratch,
        out: &mut dyn FlowSink,
    ) -> PatternId {
        let at = match (self.last, self.by_dst[c.dst as usize]) {
            (Some((k, at)), _) if k == key => at,
            (_, Some((k, at))) if k == key => at as usize,
            _ => {
                let next = self.seen.len() as u32;
                let at = *self.index.entry(key).or_insert(next) as usize;
                if at == self.seen.len() {
                    let shared = self.texts.of((key, c, outcome), fab, scratch, out);
                    let p = out.add_pattern(&shared);
                    self.seen.push((key, p, 0, c));
                }
                self.by_dst[c.dst as usize] = Some((key, at as u32));
                at
            }
        };
        self.last = Some((key, at));
        let e = &mut self.seen[at];
        e.2 += 1;
        e.3 = e.3.min(c);
        e.1
    }

    /// The flows per summary key (a pattern's key is its summary key and the probe's protocol
    /// and name, so the summary's counts are the patterns' summed).
    fn into_counts(self) -> KeyCounts {
        let mut counts = KeyCounts::default();
        for (key, _, n, first) in self.seen {
            count_key(&mut counts, key.0, n, first);
        }
        counts
    }
}

/// [`sweep_rows`], feeding an HTML report as it goes.
pub fn sweep_rows_into(
    f: &Fabric,
    matrix: Matrix,
    cells: std::ops::Range<u64>,
    job: &Job<'_>,
    pairs: bool,
    report: Option<&mut HtmlReport>,
    out: &mut dyn FlowSink,
) -> Result<SweptSummary, String> {
    let (pool, progress) = (job.pool, job.progress);
    let mut feed = report.map(|r| ReportFeed::new(f, &matrix, r));
    let started = Instant::now();
    let fq = matrix.fqdns(f);
    let ids = EndpointIds::new(f);
    out.add_symbols(ids.names());
    let mut patterns = Patterns::new(&matrix, &ids);
    let probe_to = destination_symbols(f, &matrix, &ids);
    let mut scratch = Scratch::new();
    let mut heat = pairs.then(|| PairOutcomes::new(&matrix));
    let cells = cells.start.min(matrix.len())..cells.end.min(matrix.len());
    for start in cells.clone().step_by(SLICE as usize) {
        let range = start..(start + SLICE).min(cells.end);
        let parts: Vec<SweptPart> = pool.install(|| {
            sweep::fold_range(
                f,
                &matrix,
                &fq,
                range,
                |n| SweptPart {
                    flows: Vec::with_capacity(n),
                    hops: Vec::with_capacity(4 * n),
                },
                |v: &mut SweptPart, f, s, t, c, q| {
                    let probe = probe_to[c.dst as usize];
                    let own = own_fields((f, &ids), s, t, probe, &mut v.hops);
                    v.flows.push(SweptFlow {
                        cell: c,
                        outcome: t.outcome,
                        key: pattern_key(t, q),
                        own,
                    })
                },
                progress,
            )
        });
        for part in &parts {
            for w in &part.flows {
                let (c, o) = (w.cell, w.outcome);
                let fab = (f, &matrix, &ids);
                let p = patterns.count((w.key, c, o), fab, &mut scratch, out);
                out.write_flow(p, &w.own.fields(&part.hops))?;
                if let Some(h) = heat.as_mut() {
                    h.add(c, o, 1);
                }
                if let Some(feed) = feed.as_mut() {
                    feed.record(c, o);
                }
            }
        }
    }
    if let Some(feed) = feed {
        feed.finish(f, &matrix);
    }
    Ok(SweptSummary {
        flows: cells.end - cells.start,
        summary: summarize(f, &matrix, &patterns.into_counts()),
        matrix,
        pairs: heat,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn cell_outcome(o: &str) -> CellOutcome {
    match o {
        "reachable" => CellOutcome::Reachable,
        "unreachable" => CellOutcome::Unreachable,
        "not-modelled" => CellOutcome::NotModelled,
        _ => CellOutcome::NoReturn,
    }
}

/// Writes rows to a file in the format its extension names (complete or absent, never half).
pub fn write_rows(path: &Path, rows: &[FlowRow]) -> Result<(), String> {
    let fmt = OutputFormat::from_path(path).map_err(|e| format!("error: --out: {e}"))?;
    let mut w = RowWriter::create(path, fmt)
        .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
    for r in rows {
        w.write(r)
            .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
    }
    w.finish()
        .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
    Ok(())
}

/// Above this many rows or columns, the SVG heat map draws groups (VNets, then runs of
/// consecutive VNets) instead of endpoints, so its size stays that of a readable picture.
pub const HEATMAP_AXIS_MAX: usize = 200;

/// Per probe, the index of the row (or column) it is drawn in, and the labels: the probes
/// themselves when they fit, else their VNets, else runs of consecutive VNets.
fn heatmap_axis(
    f: &Fabric,
    places: &Placements,
    probes: &[sweep::Probe],
) -> (Vec<usize>, Vec<String>) {
    if probes.len() <= HEATMAP_AXIS_MAX {
        return (
            (0..probes.len()).collect(),
            probes.iter().map(|p| p.label.clone()).collect(),
        );
    }
    let mut vnets: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let of: Vec<usize> = probes
        .iter()
        .map(|p| {
            let v = places
                .vnet_of(&f.endpoint_id(p.endpoint))
                .unwrap_or(&p.label)
                .to_string();
            *index.entry(v.clone()).or_insert_with(|| {
                vnets.push(v);
                vnets.len() - 1
            })
        })
        .collect();
    if vnets.len() <= HEATMAP_AXIS_MAX {
        return (of, vnets.iter().map(|v| format!("{v} (VNet)")).collect());
    }
    let per = vnets.len().div_ceil(HEATMAP_AXIS_MAX);
    let labels = vnets
        .chunks(per)
        .map(|run| match run {
            [one] => one.clone(),
            [first, .., last] => format!("{first} … {last} ({} VNets)", run.len()),
            [] => String::new(),
        })
        .collect();
    (of.into_iter().map(|i| i / per).collect(), labels)
}

/// Draws the per-pair outcomes as an SVG heat map into `path` (complete or absent); above
/// [`HEATMAP_AXIS_MAX`] endpoints on a side, that side is drawn by VNet (each cell then
/// tallies every flow between its groups).
pub fn write_heatmap(
    f: &Fabric,
    path: &Path,
    title: &str,
    m: &Matrix,
    pairs: &PairOutcomes,
) -> Result<(), String> {
    let places = Placements::new(f);
    let (row_of, rows) = heatmap_axis(f, &places, &m.sources);
    let (col_of, cols) = heatmap_axis(f, &places, &m.dests);
    let mut h = Heatmap::new(title, rows, cols);
    for (i, c) in pairs.counts.iter().enumerate() {
        for o in Outcome::ALL {
            if c[o as usize] > 0 {
                let cell = cell_outcome(o.as_str());
                let n = u32::try_from(c[o as usize]).unwrap_or(u32::MAX);
                h.add_count(row_of[i / pairs.dests], col_of[i % pairs.dests], cell, n);
            }
        }
    }
    let (file, done) = vnetsim_report::Completion::create(path)
        .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    h.write_svg(&mut w)
        .and_then(|_| std::io::Write::flush(&mut w))
        .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
    drop(w);
    done.finish()
        .map_err(|e| format!("error: cannot write {}: {e}", path.display()))
}

/// What a sweep answers and what it does not: said with every summary, so a sweep is never
/// taken for a proof.
pub const COVERAGE: &str = "coverage: one probe per endpoint (a NIC's or endpoint's address, a subnet's first usable \
address, a site's first host, 203.0.113.10 for the Internet) on the listed ports only. Not covered: other \
addresses of subnets, sites and the Internet, rules narrower than those probes, and public IPs and DNAT \
rules reachable from the Internet (vnetsim reach covers every header).";

#[cfg(test)]
mod pattern_tests {
    use super::*;

    /// Every fabric of the repository's fixtures and traces, swept from everywhere to
    /// everywhere: the rows written from patterns and flow fields are the rows rendered flow by
    /// flow ([`crate::flow_row::row`], which names every column from the trace itself).
    #[test]
    fn rows_from_patterns_are_the_rows_rendered_flow_by_flow() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files: Vec<_> = std::fs::read_dir(root.join("tests/fixtures"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.push(root.join("traces/hub-spoke-lab.yaml"));
        files.sort();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let job = Job {
            pool: &pool,
            progress: &|_| {},
        };
        let (mut fabrics, mut total) = (0, 0);
        for p in &files {
            let text = std::fs::read_to_string(p).unwrap();
            let Ok(model) = vnetsim_model::load_str("t", &text) else {
                continue;
            };
            let f = vnetsim_fabric::compile(&model);
            let sel = Selectors {
                from: vec!["all".into()],
                to: vec!["all".into()],
                ports: "tcp/443,udp/53,tcp/22,icmp".into(),
            };
            let Ok(m) = matrix(&f, &sel) else { continue };
            let want = collect_rows(&f, &m, &job);
            let mut got = Vec::new();
            let mut sink = EachRow::new(|r| {
                got.push(r);
                Ok(())
            });
            let n = m.len();
            sweep_rows(&f, m, 0..n, &job, false, &mut sink).unwrap();
            assert_eq!(got.len(), want.len(), "{}", p.display());
            for (a, b) in got.iter().zip(&want) {
                assert_eq!(a, b, "{}", p.display());
            }
            fabrics += 1;
            total += got.len();
        }
        assert!(
            fabrics >= 15 && total > 1_500,
            "{fabrics} fabrics, {total} rows"
        );
    }
}
