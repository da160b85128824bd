//! Where vnetsim results go.
//!
//! This crate knows nothing of the fabric or the engine. It takes flat
//! [`FlowRow`]s (one per simulated flow, the columns of the `sweep` output
//! contract) and writes them out:
//!
//! * [`RowWriter`]: a streaming writer for CSV (header row, empty cell for a
//!   missing value), JSON lines (one compact object per line, camelCase keys in
//!   a fixed order, `null` for a missing value) and Parquet (one column per
//!   field). The format follows the
//!   file extension, see [`OutputFormat::from_path`]. Output is deterministic:
//!   the same rows give the same bytes.
//!
//!   Parquet schema: one column per field, named as in [`COLUMNS`]; strings
//!   are UTF-8 and nullable exactly where the field is an `Option`; ports are
//!   `UInt16` (Parquet INT32 annotated INTEGER(16, unsigned)); `symmetric` is a
//!   boolean; then [`HOPS_COLUMN`], the forward path's hops as a list of
//!   strings (JSON lines write it last too; CSV leaves it out). Snappy
//!   compression; string columns are dictionary-encoded, each row group with
//!   its own dictionary. Row groups close every 65,536 rows.
//!
//!   CSV cannot tell an empty string from a missing value: `Some("")` in an
//!   optional column reads back as `None`. JSON lines and Parquet keep the
//!   difference.
//! * [`read_rows`] (and [`read_csv`], [`read_jsonl`], [`read_parquet`]) read
//!   those files back.
//! * [`summary::Summary`]: counts by outcome, top deciding rules, top drop
//!   points and rewritten sources, as aligned text or as JSON.
//! * [`heatmap::Heatmap`]: a sources × destinations SVG matrix coloured by
//!   outcome.
//!
//! ```no_run
//! use std::path::Path;
//! use vnetsim_report::{FlowRow, OutputFormat, RowWriter};
//!
//! # fn rows() -> Vec<FlowRow> { Vec::new() }
//! let path = Path::new("sweep.csv");
//! let mut w = RowWriter::create(path, OutputFormat::from_path(path)?)?;
//! for r in rows() {
//!     w.write(&r)?;
//! }
//! w.finish()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub mod heatmap;
pub mod html;
pub mod packets;
pub mod packets_parquet;
mod parquet_dict;
mod parquet_io;
pub use parquet_dict::{FlowFields, PatternId, RowPatterns, SharedSymbols};
pub use parquet_io::{batch as arrow_batch, schema as arrow_schema};
pub mod summary;
pub mod table;

/// One simulated flow, flat: the columns of the `sweep` output.
///
/// Serialized with camelCase names (`srcPort`, `deliveredTo`, ...), in the
/// order of the fields below; see [`COLUMNS`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowRow {
    /// Source address as sent.
    pub src: String,
    /// Destination address as sent.
    pub dst: String,
    /// `Tcp`, `Udp` or `Icmp`.
    pub protocol: String,
    pub src_port: u16,
    pub dst_port: u16,
    /// The name the client asked for (TLS SNI or HTTP Host), if any.
    pub fqdn: Option<String>,
    /// Endpoint id where the flow entered: `nic:NAME`, `pe:NAME`, `site:NAME`, `internet`, ...
    pub ingress: String,
    /// `reachable`, `unreachable` or `no-return`.
    pub outcome: String,
    /// Endpoint id the request was delivered to.
    pub delivered_to: Option<String>,
    /// Endpoint id of the node that dropped.
    pub dropped_at: Option<String>,
    /// The deciding rule (`NSG/RULE`, `COLLECTION/RULE`, a route name, a default action).
    pub rule: Option<String>,
    /// Human-readable reason for the outcome.
    pub reason: String,
    /// Source address as the destination sees it, after every rewrite.
    pub src_seen: Option<String>,
    /// Destination address as the destination sees it, after every rewrite.
    pub dst_seen: Option<String>,
    /// Forward hop nodes joined by ` > `.
    pub path: String,
    /// Reply hop nodes joined by ` > ` (may be empty).
    pub return_path: String,
    /// Whether the reply crossed every stateful device the request crossed.
    pub symmetric: bool,
    /// The destination endpoint: what owns the destination address (`nic:NAME`, `pe:NAME`,
    /// `service:NAME`, `site:NAME`, `subnet:V/S`, `internet`, ...).
    pub to: Option<String>,
    /// Replay: the capture file the flow's first packet came from.
    pub capture: Option<String>,
    /// Replay: the time of the flow's first and last packets, in nanoseconds since the epoch.
    pub first_ts_ns: Option<u64>,
    pub last_ts_ns: Option<u64>,
    /// Replay: packets and bytes (on the wire) in each direction.
    pub request_packets: Option<u64>,
    pub request_bytes: Option<u64>,
    pub reply_packets: Option<u64>,
    pub reply_bytes: Option<u64>,
}

/// The hops of a path string (`A > B > C`), one per hop as the string spells it; none for an
/// empty path.
pub fn hops(path: &str) -> impl Iterator<Item = &str> {
    path.split(" > ").filter(|h| !h.is_empty())
}

/// The list column JSON lines and Parquet add after [`COLUMNS`]: the forward path's hops
/// ([`hops`] of `path`). CSV keeps only `path`.
pub const HOPS_COLUMN: &str = "hops";

/// Column names, in the order every format writes them (JSON lines and Parquet then add
/// [`HOPS_COLUMN`]).
pub const COLUMNS: [&str; 25] = [
    "src",
    "dst",
    "protocol",
    "srcPort",
    "dstPort",
    "fqdn",
    "ingress",
    "outcome",
    "deliveredTo",
    "droppedAt",
    "rule",
    "reason",
    "srcSeen",
    "dstSeen",
    "path",
    "returnPath",
    "symmetric",
    "to",
    "capture",
    "firstTsNs",
    "lastTsNs",
    "requestPackets",
    "requestBytes",
    "replyPackets",
    "replyBytes",
];

/// The file formats rows can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// Comma-separated values with a header row; a missing value is an empty cell.
    Csv,
    /// JSON lines: one compact object per line, `null` for a missing value.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl OutputFormat {
    /// The format named by a file's extension (case-insensitive): `.csv`,
    /// `.jsonl` or `.ndjson`, `.parquet`.
    pub fn from_path(path: &Path) -> Result<Self, String> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(Self::Csv),
            Some("jsonl") | Some("ndjson") => Ok(Self::Jsonl),
            Some("parquet") => Ok(Self::Parquet),
            Some(other) => Err(format!(
                "{}: unknown output format `.{other}`; expected .csv, .jsonl (or .ndjson) or .parquet",
                path.display()
            )),
            None => Err(format!(
                "{}: no file extension to tell the output format; expected .csv, .jsonl (or .ndjson) or .parquet",
                path.display()
            )),
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
            Self::Parquet => "parquet",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Csv => "CSV",
            Self::Jsonl => "JSON lines",
            Self::Parquet => "Parquet",
        })
    }
}

/// Why writing (or reading) rows failed.
#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    Csv(csv::Error),
    Json(serde_json::Error),
    Parquet(parquet::errors::ParquetError),
    Arrow(arrow_schema::ArrowError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Csv(e) => write!(f, "CSV: {e}"),
            Error::Json(e) => write!(f, "JSON: {e}"),
            Error::Parquet(e) => write!(f, "Parquet: {e}"),
            Error::Arrow(e) => write!(f, "Arrow: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Csv(e) => Some(e),
            Error::Json(e) => Some(e),
            Error::Parquet(e) => Some(e),
            Error::Arrow(e) => Some(e),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}
impl From<csv::Error> for Error {
    fn from(e: csv::Error) -> Self {
        Error::Csv(e)
    }
}
impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json(e)
    }
}
impl From<parquet::errors::ParquetError> for Error {
    fn from(e: parquet::errors::ParquetError) -> Self {
        Error::Parquet(e)
    }
}
impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Error::Arrow(e)
    }
}

/// A sink for bytes: a file, or anything else that can be written to.
type Sink = Box<dyn Write + Send>;

/// A streaming row writer: rows go out as they come, memory stays bounded.
///
/// Call [`RowWriter::finish`] at the end: it flushes buffers and, for
/// Parquet, writes the footer without which the file is unreadable.
pub struct RowWriter {
    inner: Inner,
    rows: u64,
    /// The patterns and symbols registered with [`RowWriter::add_pattern`] and
    /// [`RowWriter::add_symbols`], for the text formats.
    patterns: RowPatterns,
    /// For a file: where it is being written, and the name it gets once finished.
    rename: Option<Completion>,
}

/// A file written under a temporary name beside its final one and renamed when complete, so
/// an interrupted run (a signal, a full disk, an error) never leaves a file that looks whole.
#[derive(Debug)]
pub struct Completion {
    partial: std::path::PathBuf,
    target: std::path::PathBuf,
}

impl Completion {
    /// Creates `<path>.partial` to write into.
    pub fn create(target: &Path) -> Result<(File, Completion), io::Error> {
        let mut name = target.as_os_str().to_owned();
        name.push(".partial");
        let partial = std::path::PathBuf::from(name);
        let file = File::create(&partial)?;
        Ok((
            file,
            Completion {
                partial,
                target: target.to_path_buf(),
            },
        ))
    }
    /// The file is complete: give it its name.
    pub fn finish(self) -> Result<(), io::Error> {
        std::fs::rename(&self.partial, &self.target)
    }
}

enum Inner {
    Csv(Box<csv::Writer<Sink>>),
    Jsonl(BufWriter<Sink>, Vec<u8>),
    Parquet(Box<parquet_dict::DictParquetWriter<BufWriter<Sink>>>),
}

impl RowWriter {
    /// Creates (or truncates) the file at `path` and writes rows to it in `format`.
    ///
    /// The rows go to `<path>.partial`, renamed to `path` by [`RowWriter::finish`]: until then
    /// no file of that name exists.
    pub fn create(path: &Path, format: OutputFormat) -> Result<Self, Error> {
        let (file, done) = Completion::create(path)?;
        let mut w = Self::new(Box::new(file), format)?;
        w.rename = Some(done);
        Ok(w)
    }

    /// Writes rows in `format` to any byte sink (buffered internally).
    pub fn new(sink: Box<dyn Write + Send>, format: OutputFormat) -> Result<Self, Error> {
        let inner = match format {
            OutputFormat::Csv => Inner::Csv(Box::new(
                csv::WriterBuilder::new()
                    .has_headers(true)
                    .buffer_capacity(64 * 1024)
                    .from_writer(sink),
            )),
            OutputFormat::Jsonl => Inner::Jsonl(
                BufWriter::with_capacity(64 * 1024, sink),
                Vec::with_capacity(512),
            ),
            OutputFormat::Parquet => Inner::Parquet(Box::new(
                parquet_dict::DictParquetWriter::new(BufWriter::new(sink))?,
            )),
        };
        Ok(Self {
            inner,
            rows: 0,
            patterns: RowPatterns::default(),
            rename: None,
        })
    }

    /// How many rows have been written so far.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Writes one row.
    pub fn write(&mut self, row: &FlowRow) -> Result<(), Error> {
        match &mut self.inner {
            Inner::Csv(w) => w.serialize(row)?,
            Inner::Jsonl(w, buf) => {
                buf.clear();
                serde_json::to_writer(&mut *buf, row)?;
                // The object's closing brace gives way to the hops list.
                buf.pop();
                buf.extend_from_slice(b",\"hops\":");
                serde_json::to_writer(&mut *buf, &hops(&row.path).collect::<Vec<_>>())?;
                buf.extend_from_slice(b"}\n");
                w.write_all(buf)?;
            }
            Inner::Parquet(w) => w.write(row)?,
        }
        self.rows += 1;
        Ok(())
    }

    /// Registers names that [`FlowFields`] refer to by number: symbol `k` is the `k`-th name
    /// of all calls together.
    pub fn add_symbols(&mut self, names: &[String]) {
        match &mut self.inner {
            Inner::Parquet(w) => w.add_symbols(names),
            _ => self.patterns.add_symbols(names),
        }
    }

    /// Registers the columns rows of a kind share, as symbols: all of a row but what
    /// [`RowWriter::write_flow`] gives per flow ([`FlowFields`]) and the counters. A Parquet file
    /// keeps the pattern as dictionary ids, so a flow written from it costs no string work.
    pub fn add_pattern(&mut self, row: &SharedSymbols) -> PatternId {
        match &mut self.inner {
            Inner::Parquet(w) => w.add_pattern(row),
            _ => self.patterns.add_pattern(row),
        }
    }

    /// Writes one row: pattern `p` with the flow's own fields.
    pub fn write_flow(&mut self, p: PatternId, f: &FlowFields) -> Result<(), Error> {
        match &mut self.inner {
            Inner::Parquet(w) => {
                w.write_flow(p, f)?;
                self.rows += 1;
                Ok(())
            }
            _ => {
                let row = self.patterns.row(p, f);
                self.write(&row)
            }
        }
    }

    /// Flushes everything and closes the output. For CSV with no rows
    /// written, the file still gets its header row.
    pub fn finish(self) -> Result<(), Error> {
        match self.inner {
            Inner::Csv(mut w) => {
                if self.rows == 0 {
                    w.write_record(COLUMNS)?;
                }
                w.flush()?;
            }
            Inner::Jsonl(mut w, _) => w.flush()?,
            Inner::Parquet(w) => w.finish()?.flush()?,
        }
        if let Some(done) = self.rename {
            done.finish()?;
        }
        Ok(())
    }
}

/// Reads rows written by [`RowWriter`] back, in the format named by the
/// file's extension.
pub fn read_rows(path: &Path) -> Result<Vec<FlowRow>, String> {
    match OutputFormat::from_path(path)? {
        OutputFormat::Csv => read_csv(path),
        OutputFormat::Jsonl => read_jsonl(path),
        OutputFormat::Parquet => read_parquet(path),
    }
}

/// Reads a CSV written by [`RowWriter`]. An empty cell in an optional
/// column reads back as `None`.
pub fn read_csv(path: &Path) -> Result<Vec<FlowRow>, String> {
    let mut r = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    r.deserialize()
        .map(|row| row.map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}

/// Reads a JSON lines file written by [`RowWriter`] (blank lines are skipped).
pub fn read_jsonl(path: &Path) -> Result<Vec<FlowRow>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str(&line)
            .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        rows.push(row);
    }
    Ok(rows)
}

/// Reads a Parquet file written by [`RowWriter`] back into rows.
pub fn read_parquet(path: &Path) -> Result<Vec<FlowRow>, String> {
    parquet_io::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Row counts of each row group of a Parquet file, in file order (a check
/// that large outputs are split into bounded row groups).
pub fn parquet_row_groups(path: &Path) -> Result<Vec<i64>, String> {
    parquet_io::row_group_sizes(path).map_err(|e| format!("{}: {e}", path.display()))
}
