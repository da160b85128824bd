//! Flow logs spread over workers: a blob's tuples folded into partial flows (rows that any
//! worker can produce from the blob's bytes alone), and partial flows of the same logged flow,
//! brought together by key, merged and judged into the rows `vnetsim replay LOGS --out` writes.
//! The fold is associative (sums, minima, maxima, the earliest location), so the split does
//! not change the answer.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Int64Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema, SchemaRef};
use vnetsim_fabric::Fabric;
use vnetsim_flowlog::{
    read_blob, Direction, Encryption, FlowKey, FoldedFlow, Folder, Limits, Location, ReadStats,
    Schema,
};
use vnetsim_jobs::flowlog_rows::{obs_row, OBS_COLUMNS};
use vnetsim_jobs::Job;

const SCHEMAS: [Schema; 3] = [Schema::VnetV4, Schema::NsgV1, Schema::NsgV2];
const DIRECTIONS: [Direction; 2] = [Direction::Inbound, Direction::Outbound];
const ENCRYPTIONS: [Encryption; 9] = [
    Encryption::Encrypted,
    Encryption::NotEncrypted,
    Encryption::HwNotSupported,
    Encryption::SwNotReady,
    Encryption::NotAccepted,
    Encryption::NotSupported,
    Encryption::LocalDestination,
    Encryption::Fallback,
    Encryption::Absent,
];

const TEXT: [&str; 4] = ["acl", "rule", "resource", "file"];
const INTS: [&str; 19] = [
    "mac",
    "direction",
    "src",
    "dst",
    "protocol",
    "srcPort",
    "dstPort",
    "schema",
    "firstTsMs",
    "lastTsMs",
    "states",
    "requestPackets",
    "requestBytes",
    "replyPackets",
    "replyBytes",
    "tuples",
    "encryption",
    "record",
    "line",
];

/// The partial-flow columns: text, 64-bit signed integers (what Spark holds), `denied`.
pub fn partial_schema() -> SchemaRef {
    let mut f: Vec<Field> = TEXT
        .iter()
        .map(|n| Field::new(*n, DataType::Utf8, false))
        .collect();
    f.extend(
        INTS.iter()
            .map(|n| Field::new(*n, DataType::Int64, *n == "mac")),
    );
    f.push(Field::new("denied", DataType::Boolean, false));
    Arc::new(ArrowSchema::new(f))
}

fn code<T: PartialEq>(all: &[T], v: &T) -> i64 {
    all.iter().position(|x| x == v).unwrap_or(0) as i64
}

/// One blob's bytes (named `name` in the rows' `file`) folded into partial flows.
pub fn partials(name: &str, bytes: &[u8]) -> Result<RecordBatch, String> {
    let mut folder = Folder::default();
    read_blob(name, bytes, &Limits::default(), &mut |g, t| {
        folder.add(g, t)
    })
    .map_err(|e| e.to_string())?;
    let mut text: Vec<StringBuilder> = TEXT.iter().map(|_| StringBuilder::new()).collect();
    let mut ints: Vec<Int64Builder> = INTS.iter().map(|_| Int64Builder::new()).collect();
    let mut denied = BooleanBuilder::new();
    for x in &folder.flows {
        let k = &x.key;
        for (b, s) in text.iter_mut().zip([
            folder.strings.get(k.acl),
            folder.strings.get(k.rule),
            folder.strings.get(x.resource),
            name,
        ]) {
            b.append_value(s);
        }
        ints[0].append_option(k.mac.map(|m| m as i64));
        let values = [
            code(&DIRECTIONS, &k.direction),
            k.src as i64,
            k.dst as i64,
            k.proto as i64,
            k.sport as i64,
            k.dport as i64,
            code(&SCHEMAS, &x.schema),
            x.first_ts_ms as i64,
            x.last_ts_ms as i64,
            x.states as i64,
            x.counters[0] as i64,
            x.counters[1] as i64,
            x.counters[2] as i64,
            x.counters[3] as i64,
            x.tuples as i64,
            code(&ENCRYPTIONS, &x.encryption),
            x.first.record as i64,
            x.first.line as i64,
        ];
        for (b, v) in ints[1..].iter_mut().zip(values) {
            b.append_value(v);
        }
        denied.append_value(k.denied);
    }
    let mut cols: Vec<ArrayRef> = text
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    cols.extend(
        ints.into_iter()
            .map(|mut b| Arc::new(b.finish()) as ArrayRef),
    );
    cols.push(Arc::new(denied.finish()));
    RecordBatch::try_new(partial_schema(), cols).map_err(|e| e.to_string())
}

fn text_col<'a>(b: &'a RecordBatch, n: &str) -> Result<&'a StringArray, String> {
    b.column_by_name(n)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| format!("partial flows: column {n} (text) is missing"))
}

fn int_col<'a>(b: &'a RecordBatch, n: &str) -> Result<&'a Int64Array, String> {
    b.column_by_name(n)
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .ok_or_else(|| format!("partial flows: column {n} (64-bit integer) is missing"))
}

/// Partial flows merged into one fold, with the files they came from (in path order, which is
/// the order the command line reads a folder in).
fn merge(batches: &[RecordBatch]) -> Result<(Folder, ReadStats), String> {
    let mut files: Vec<PathBuf> = Vec::new();
    for b in batches {
        let c = text_col(b, "file")?;
        files.extend((0..c.len()).map(|i| PathBuf::from(c.value(i))));
    }
    files.sort();
    files.dedup();
    let mut folder = Folder::default();
    let earlier =
        |a: &Location, b: &Location| (a.file, a.record, a.line) < (b.file, b.record, b.line);
    for b in batches {
        let t: Vec<&StringArray> = TEXT
            .iter()
            .map(|n| text_col(b, n))
            .collect::<Result<_, _>>()?;
        let n: Vec<&Int64Array> = INTS
            .iter()
            .map(|n| int_col(b, n))
            .collect::<Result<_, _>>()?;
        let denied = b
            .column_by_name("denied")
            .and_then(|c| c.as_any().downcast_ref::<BooleanArray>())
            .ok_or("partial flows: column denied (boolean) is missing")?;
        for i in 0..b.num_rows() {
            let v = |j: usize| n[j].value(i);
            let file = files
                .binary_search(&PathBuf::from(t[3].value(i)))
                .unwrap_or(0) as u32;
            let key = FlowKey {
                mac: (!n[0].is_null(i)).then(|| v(0) as u64),
                acl: 0,
                rule: 0,
                direction: DIRECTIONS[(v(1) as usize).min(1)],
                src: v(2) as u32,
                dst: v(3) as u32,
                proto: v(4) as u8,
                sport: v(5) as u16,
                dport: v(6) as u16,
                denied: denied.value(i),
            };
            let x = FoldedFlow {
                key,
                schema: SCHEMAS[(v(7) as usize).min(2)],
                resource: 0,
                first_ts_ms: v(8) as u64,
                last_ts_ms: v(9) as u64,
                states: v(10) as u8,
                counters: [v(11) as u64, v(12) as u64, v(13) as u64, v(14) as u64],
                tuples: v(15) as u64,
                encryption: ENCRYPTIONS[(v(16) as usize).min(8)],
                first: Location {
                    file,
                    record: v(17) as u64,
                    line: v(18) as u64,
                },
            };
            folder.merge((t[0].value(i), t[1].value(i), t[2].value(i)), x, earlier);
        }
    }
    let st = ReadStats {
        files,
        ..ReadStats::default()
    };
    Ok((folder, st))
}

/// Partial flows merged and judged: the rows of `vnetsim replay LOGS --out` for the flows
/// they make up.
pub fn judge(f: &Fabric, batches: &[RecordBatch], job: &Job<'_>) -> Result<RecordBatch, String> {
    let (folder, st) = merge(batches)?;
    judged_batch(f, &st, &folder, job)
}

/// Flow logs read from files and folders, as `vnetsim replay LOGS --out` reads and judges them.
pub fn replay(f: &Fabric, paths: &[PathBuf], job: &Job<'_>) -> Result<RecordBatch, String> {
    let p: Vec<&std::path::Path> = paths.iter().map(|x| x.as_path()).collect();
    let (st, folder) = vnetsim_jobs::flowlog::read(&p)?;
    judged_batch(f, &st, &folder, job)
}

/// Every flow of `folder` judged, as one batch of the `--out` rows.
fn judged_batch(
    f: &Fabric,
    st: &ReadStats,
    folder: &Folder,
    job: &Job<'_>,
) -> Result<RecordBatch, String> {
    let judged = vnetsim_jobs::flowlog::judge_all(f, folder, true, job);
    let rows: Vec<_> = judged.iter().map(|j| obs_row(st, folder, j)).collect();
    let schema = vnetsim_report::table::arrow_schema(&OBS_COLUMNS);
    vnetsim_report::table::record_batch(schema, &OBS_COLUMNS, &rows).map_err(|e| e.to_string())
}
