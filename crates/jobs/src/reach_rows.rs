//! The sinks of a reach run: region rows as JSON lines or Parquet (a file, or JSON lines on
//! standard output), as text lines, or as one JSON document; each written one source at a
//! time, in source order.

use std::io::Write;
use std::path::Path;

use vnetsim_reach::render::{self, RegionRow};
use vnetsim_report::table::{Cell, Kind, TableWriter};
use vnetsim_report::OutputFormat;

use crate::reach::{RegionOut, Sink, SourceRegions, Totals};

/// The columns of a region row; `blockers` only when `--why` explains regions.
pub const COLUMNS: [(&str, Kind); 19] = [
    ("from", Kind::Text),
    ("to", Kind::Text),
    ("src", Kind::Text),
    ("dst", Kind::Text),
    ("protocols", Kind::Text),
    ("outcome", Kind::Text),
    ("deliveredTo", Kind::Text),
    ("droppedAt", Kind::Text),
    ("rule", Kind::Text),
    ("reason", Kind::Text),
    ("srcSeen", Kind::Text),
    ("dstSeen", Kind::Text),
    ("path", Kind::Text),
    ("returnPath", Kind::Text),
    ("example", Kind::Text),
    ("classes", Kind::Count),
    ("ways", Kind::Count),
    ("otherWays", Kind::Text),
    ("blockers", Kind::TextList),
];

/// Each blocker of an explained region as one line: `LEG KIND RESOURCE at NODE: DECISION;
/// change: CHANGE` (`change: none found` when no single setting lets the header past).
pub fn blockers(w: &vnetsim_why::Why) -> Vec<String> {
    w.blockers
        .iter()
        .map(|b| {
            let at = if b.at.is_empty() {
                String::new()
            } else {
                format!(" at {}", b.at)
            };
            format!(
                "{} {} {}{at}: {}; change: {}",
                b.leg,
                b.kind,
                b.resource,
                b.decision,
                b.change.as_deref().unwrap_or("none found")
            )
        })
        .collect()
}

fn cells(r: &RegionRow, why: Option<&vnetsim_why::Why>, with_why: bool) -> Vec<Cell> {
    let mut v: Vec<Cell> = vec![
        r.from.as_str().into(),
        r.to.clone().into(),
        r.src.as_str().into(),
        r.dst.as_str().into(),
        r.protocols.as_str().into(),
        r.outcome.as_str().into(),
        r.delivered_to.clone().into(),
        r.dropped_at.clone().into(),
        r.rule.clone().into(),
        r.reason.as_str().into(),
        r.src_seen.clone().into(),
        r.dst_seen.clone().into(),
        r.path.as_str().into(),
        r.return_path.as_str().into(),
        r.example.as_str().into(),
        r.classes.into(),
        r.ways.into(),
        r.other_ways.as_str().into(),
    ];
    if with_why {
        v.push(Cell::TextList(why.map(blockers)));
    }
    v
}

/// The columns of region rows: [`COLUMNS`], less `blockers` unless `with_why`.
pub fn columns(with_why: bool) -> &'static [(&'static str, Kind)] {
    if with_why {
        &COLUMNS[..]
    } else {
        &COLUMNS[..COLUMNS.len() - 1]
    }
}

/// Region rows kept in memory as cells of [`columns`], in the order `--out` writes them (for
/// a library caller that builds its own table, such as the Python package's Arrow batches).
pub struct CellSink {
    pub rows: Vec<Vec<Cell>>,
    with_why: bool,
}

impl CellSink {
    pub fn new(with_why: bool) -> CellSink {
        CellSink {
            rows: Vec::new(),
            with_why,
        }
    }
}

impl Sink for CellSink {
    fn source(&mut self, done: &SourceRegions) -> Result<bool, String> {
        for r in &done.regions {
            for row in &r.rows {
                self.rows.push(cells(row, r.why.as_ref(), self.with_why));
            }
        }
        Ok(true)
    }
    fn finish(&mut self, _: &Totals) -> Result<(), String> {
        Ok(())
    }
}

/// Region rows to `--out`: `.jsonl`, `.parquet`, or `-` (JSON lines on standard output).
pub struct RowsSink {
    out: Option<TableWriter>,
    with_why: bool,
    err: String,
}

impl RowsSink {
    /// Opens `path`; `with_why` adds the `blockers` column.
    pub fn create(path: &Path, with_why: bool) -> Result<RowsSink, String> {
        let err = format!("error: cannot write {}", path.display());
        let cols = columns(with_why);
        let w = if path.as_os_str() == "-" {
            TableWriter::new(Box::new(std::io::stdout()), OutputFormat::Jsonl, cols)
        } else {
            match OutputFormat::from_path(path) {
                Ok(OutputFormat::Jsonl | OutputFormat::Parquet) => TableWriter::create(path, cols),
                _ => {
                    return Err(format!(
                        "error: --out {}: expected a .jsonl or .parquet file, or -",
                        path.display()
                    ))
                }
            }
        };
        Ok(RowsSink {
            out: Some(w.map_err(|e| format!("{err}: {e}"))?),
            with_why,
            err,
        })
    }

    fn closed(&self, e: vnetsim_report::Error) -> Result<bool, String> {
        match e {
            vnetsim_report::Error::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            e => Err(format!("{}: {e}", self.err)),
        }
    }
}

impl Sink for RowsSink {
    fn source(&mut self, done: &SourceRegions) -> Result<bool, String> {
        let Some(w) = self.out.as_mut() else {
            return Ok(false);
        };
        for r in &done.regions {
            for row in &r.rows {
                if let Err(e) = w.write(cells(row, r.why.as_ref(), self.with_why)) {
                    self.out = None;
                    return self.closed(e);
                }
            }
        }
        Ok(true)
    }
    fn finish(&mut self, _: &Totals) -> Result<(), String> {
        let Some(w) = self.out.take() else {
            return Ok(());
        };
        match w.finish() {
            Ok(()) => Ok(()),
            Err(e) => self.closed(e).map(|_| ()),
        }
    }
}

/// Whether a write failed because the reader went away (`Ok(false)`), or for another reason.
fn written(r: std::io::Result<()>) -> Result<bool, String> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(format!("error: cannot write the regions: {e}")),
    }
}

/// One line per row, and under each row of an explained region its blockers, indented.
pub struct TextSink<W: Write> {
    pub out: W,
}

impl<W: Write> TextSink<W> {
    fn region(&mut self, r: &RegionOut) -> std::io::Result<()> {
        for row in &r.rows {
            writeln!(self.out, "{}", render::text(row))?;
            if let Some(w) = &r.why {
                for line in w.text().lines() {
                    writeln!(self.out, "    {line}")?;
                }
            }
        }
        Ok(())
    }
}

impl<W: Write> Sink for TextSink<W> {
    fn source(&mut self, done: &SourceRegions) -> Result<bool, String> {
        for r in &done.regions {
            if !written(self.region(r))? {
                return Ok(false);
            }
        }
        Ok(true)
    }
    fn finish(&mut self, _: &Totals) -> Result<(), String> {
        written(self.out.flush()).map(|_| ())
    }
}

/// One JSON document: `regions` (the rows, streamed), `why` (with `--why`: per row of an
/// explained region its `row` index, `example` and blockers), then `classes`, `walks` and
/// `sources`.
pub struct JsonSink<W: Write> {
    out: W,
    rows: u64,
    why: Option<Vec<serde_json::Value>>,
}

impl<W: Write> JsonSink<W> {
    /// `with_why`: the document has a `why` list.
    pub fn new(out: W, with_why: bool) -> JsonSink<W> {
        JsonSink {
            out,
            rows: 0,
            why: with_why.then(Vec::new),
        }
    }
    fn region(&mut self, r: &RegionOut) -> std::io::Result<()> {
        for row in &r.rows {
            let sep = if self.rows == 0 { "" } else { "," };
            let text = serde_json::to_string_pretty(row).map_err(std::io::Error::from)?;
            write!(self.out, "{sep}\n    {}", text.replace('\n', "\n    "))?;
            if let (Some(w), Some(list)) = (&r.why, self.why.as_mut()) {
                let mut x = w.json();
                x["row"] = self.rows.into();
                x["example"] = row.example.clone().into();
                list.push(x);
            }
            self.rows += 1;
        }
        Ok(())
    }
    fn end(&mut self, t: &Totals) -> std::io::Result<()> {
        let close = if self.rows == 0 { "]" } else { "\n  ]" };
        write!(self.out, "{close}")?;
        if let Some(w) = self.why.take() {
            let text = serde_json::to_string_pretty(&w).map_err(std::io::Error::from)?;
            write!(self.out, ",\n  \"why\": {}", text.replace('\n', "\n  "))?;
        }
        writeln!(
            self.out,
            ",\n  \"classes\": {},\n  \"walks\": {},\n  \"sources\": {}\n}}",
            t.classes, t.walks, t.sources
        )?;
        self.out.flush()
    }
}

impl<W: Write> Sink for JsonSink<W> {
    fn source(&mut self, done: &SourceRegions) -> Result<bool, String> {
        if done.index == 0 && !written(write!(self.out, "{{\n  \"regions\": ["))? {
            return Ok(false);
        }
        for r in &done.regions {
            if !written(self.region(r))? {
                return Ok(false);
            }
        }
        Ok(true)
    }
    fn finish(&mut self, t: &Totals) -> Result<(), String> {
        if t.sources == 0 && !written(write!(self.out, "{{\n  \"regions\": ["))? {
            return Ok(());
        }
        written(self.end(t)).map(|_| ())
    }
}
