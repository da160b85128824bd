//! Rows of any fixed set of columns (text, unsigned integers or lists of text, each nullable)
//! as CSV, JSON lines or Parquet: for results whose columns are not a [`crate::FlowRow`]'s
//! (flow-log observations, drift findings, reachability regions). Parquet batches are flushed every [`BATCH_ROWS`] rows, so
//! memory stays bounded however many rows are written.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::{Completion, Error, OutputFormat};

const BATCH_ROWS: usize = 8 * 1024;

/// A column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Count,
    /// A list of text (CSV: the items joined by `; `; JSON: an array; Parquet: a list of UTF-8).
    TextList,
}

/// One cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Text(Option<String>),
    Count(Option<u64>),
    TextList(Option<Vec<String>>),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(Some(s.to_string()))
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(Some(s))
    }
}
impl From<Option<String>> for Cell {
    fn from(s: Option<String>) -> Cell {
        Cell::Text(s)
    }
}
impl From<u64> for Cell {
    fn from(v: u64) -> Cell {
        Cell::Count(Some(v))
    }
}

enum Sink {
    Csv(csv::Writer<Box<dyn Write + Send>>),
    Jsonl(std::io::BufWriter<Box<dyn Write + Send>>),
    Parquet {
        schema: SchemaRef,
        writer: ArrowWriter<Box<dyn Write + Send>>,
        rows: Vec<Vec<Cell>>,
    },
}

/// Writes rows of `columns` to a file whose extension picks the format.
pub struct TableWriter {
    columns: Vec<(&'static str, Kind)>,
    sink: Sink,
    /// For a file: the name it gets once finished.
    completion: Option<Completion>,
}

impl TableWriter {
    pub fn create(path: &Path, columns: &[(&'static str, Kind)]) -> Result<Self, Error> {
        let format = OutputFormat::from_path(path)
            .map_err(|e| Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
        let (file, completion) = Completion::create(path)?;
        let out: Box<dyn Write + Send> = Box::new(std::io::BufWriter::new(file));
        let mut w = TableWriter::new(out, format, columns)?;
        w.completion = Some(completion);
        Ok(w)
    }

    /// Writes rows of `columns` in `format` to a stream (standard output).
    pub fn new(
        out: Box<dyn Write + Send>,
        format: OutputFormat,
        columns: &[(&'static str, Kind)],
    ) -> Result<Self, Error> {
        let sink = match format {
            OutputFormat::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(columns.iter().map(|c| c.0))?;
                Sink::Csv(w)
            }
            OutputFormat::Jsonl => Sink::Jsonl(std::io::BufWriter::new(out)),
            OutputFormat::Parquet => {
                let schema = arrow_schema(columns);
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .build();
                let writer = ArrowWriter::try_new(out, schema.clone(), Some(props))?;
                Sink::Parquet {
                    schema,
                    writer,
                    rows: Vec::with_capacity(BATCH_ROWS),
                }
            }
        };
        Ok(TableWriter {
            columns: columns.to_vec(),
            sink,
            completion: None,
        })
    }

    pub fn write(&mut self, row: Vec<Cell>) -> Result<(), Error> {
        debug_assert_eq!(row.len(), self.columns.len());
        match &mut self.sink {
            Sink::Csv(w) => {
                let cells = row.iter().map(|c| match c {
                    Cell::Text(s) => s.clone().unwrap_or_default(),
                    Cell::Count(v) => v.map(|v| v.to_string()).unwrap_or_default(),
                    Cell::TextList(v) => v.as_ref().map(|v| v.join("; ")).unwrap_or_default(),
                });
                w.write_record(cells)?;
            }
            Sink::Jsonl(w) => {
                let mut m = serde_json::Map::new();
                for ((name, _), c) in self.columns.iter().zip(row) {
                    let v = match c {
                        Cell::Text(s) => {
                            s.map_or(serde_json::Value::Null, serde_json::Value::String)
                        }
                        Cell::Count(v) => v.map_or(serde_json::Value::Null, |v| v.into()),
                        Cell::TextList(v) => v.map_or(serde_json::Value::Null, |v| v.into()),
                    };
                    m.insert(name.to_string(), v);
                }
                serde_json::to_writer(&mut *w, &m).map_err(std::io::Error::from)?;
                w.write_all(b"\n")?;
            }
            Sink::Parquet { rows, .. } => {
                rows.push(row);
                if rows.len() >= BATCH_ROWS {
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        let Sink::Parquet {
            schema,
            writer,
            rows,
        } = &mut self.sink
        else {
            return Ok(());
        };
        if rows.is_empty() {
            return Ok(());
        }
        let batch = record_batch(schema.clone(), &self.columns, rows)?;
        rows.clear();
        writer.write(&batch)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), Error> {
        self.flush()?;
        match self.sink {
            Sink::Csv(w) => {
                let mut inner = w.into_inner().map_err(|e| Error::Io(e.into_error()))?;
                inner.flush()?;
            }
            Sink::Jsonl(mut w) => w.flush()?,
            Sink::Parquet { writer, .. } => {
                let mut inner = writer.into_inner()?;
                inner.flush()?;
            }
        }
        if let Some(c) = self.completion {
            c.finish()?;
        }
        Ok(())
    }
}

/// The Arrow schema of `columns`: text as nullable UTF-8, counts as nullable unsigned 64-bit,
/// lists of text as nullable lists of nullable UTF-8.
pub fn arrow_schema(columns: &[(&'static str, Kind)]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, k)| match k {
            Kind::Text => Field::new(*n, DataType::Utf8, true),
            Kind::Count => Field::new(*n, DataType::UInt64, true),
            Kind::TextList => Field::new(*n, DataType::List(list_item()), true),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The item field of a list of text (as Arrow's list builder names it).
fn list_item() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Utf8, true))
}

/// `rows` of `columns` as one record batch of `schema` ([`arrow_schema`]).
pub fn record_batch(
    schema: SchemaRef,
    columns: &[(&'static str, Kind)],
    rows: &[Vec<Cell>],
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, (_, k)) in columns.iter().enumerate() {
        match k {
            Kind::Text => {
                let mut b = StringBuilder::new();
                for r in rows {
                    match &r[i] {
                        Cell::Text(Some(s)) => b.append_value(s),
                        _ => b.append_null(),
                    }
                }
                cols.push(Arc::new(b.finish()));
            }
            Kind::Count => {
                let mut b = UInt64Builder::new();
                for r in rows {
                    match &r[i] {
                        Cell::Count(Some(v)) => b.append_value(*v),
                        _ => b.append_null(),
                    }
                }
                cols.push(Arc::new(b.finish()));
            }
            Kind::TextList => {
                let mut b = ListBuilder::new(StringBuilder::new()).with_field(list_item());
                for r in rows {
                    match &r[i] {
                        Cell::TextList(Some(v)) => {
                            for s in v {
                                b.values().append_value(s);
                            }
                            b.append(true);
                        }
                        _ => b.append(false),
                    }
                }
                cols.push(Arc::new(b.finish()));
            }
        }
    }
    RecordBatch::try_new(schema, cols)
}
