//! A table of named text columns (nullable UTF-8), written as Parquet: for row kinds other
//! than flows (e.g. reachability regions). Snappy, deterministic like the flow writer.

use std::io::Write;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::Error;

/// Writes `rows` (one value per column, `None` for null) as one Parquet file into `sink`.
pub fn write_text_parquet<W: Write + Send>(
    sink: W,
    columns: &[&str],
    rows: &[Vec<Option<String>>],
) -> Result<(), Error> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut w = ArrowWriter::try_new(sink, schema.clone(), Some(props))?;
    for chunk in rows.chunks(crate::parquet_io::BATCH_ROWS) {
        let cols: Vec<ArrayRef> = (0..columns.len())
            .map(|i| {
                Arc::new(StringArray::from(
                    chunk.iter().map(|r| r[i].as_deref()).collect::<Vec<_>>(),
                )) as ArrayRef
            })
            .collect();
        w.write(&RecordBatch::try_new(schema.clone(), cols)?)?;
    }
    let mut sink = w.into_inner()?;
    sink.flush()?;
    Ok(())
}
