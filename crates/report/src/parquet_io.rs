//! The Parquet files' schema, and reading them back through arrow-rs (the files are written
//! by [`crate::parquet_dict`]).
//!
//! Schema: one column per [`FlowRow`] field, named as in [`crate::COLUMNS`].
//! Strings are UTF-8 (`Utf8`), nullable exactly where the field is an
//! `Option`; ports are `UInt16` (stored as Parquet INT32 with the logical type
//! INTEGER(16, unsigned)); `symmetric` is a boolean; replay's timestamps and
//! counters are nullable `UInt64`; then `hops`, the forward path's hops as a
//! (non-null) list of UTF-8 strings. Snappy compression.
//!
//! A row group closes every [`ROW_GROUP_ROWS`] rows: memory stays bounded however many
//! rows are written.
//!
//! The output is deterministic: no timestamps, and the `created_by` string is
//! the parquet-rs version, constant for a build.

use std::fs::File;
#[cfg(test)]
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, ListBuilder, StringBuilder, UInt16Builder, UInt64Builder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, RecordBatch, StringArray, UInt16Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
#[cfg(test)]
use parquet::arrow::ArrowWriter;
#[cfg(test)]
use parquet::basic::Compression;
#[cfg(test)]
use parquet::file::properties::WriterProperties;

use crate::{hops, Error, FlowRow, COLUMNS, HOPS_COLUMN};

/// Rows per Arrow batch handed to the Parquet writer.
pub const BATCH_ROWS: usize = 8 * 1024;
/// Rows per Parquet row group (at most).
pub const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Encoded bytes per Parquet row group (at most, estimated by the writer).
pub const ROW_GROUP_BYTES: usize = 64 * 1024 * 1024;

/// The Arrow schema of the rows.
pub fn schema() -> SchemaRef {
    let s = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let fields = vec![
        s(COLUMNS[0], false),
        s(COLUMNS[1], false),
        s(COLUMNS[2], false),
        Field::new(COLUMNS[3], DataType::UInt16, false),
        Field::new(COLUMNS[4], DataType::UInt16, false),
        s(COLUMNS[5], true),
        s(COLUMNS[6], false),
        s(COLUMNS[7], false),
        s(COLUMNS[8], true),
        s(COLUMNS[9], true),
        s(COLUMNS[10], true),
        s(COLUMNS[11], false),
        s(COLUMNS[12], true),
        s(COLUMNS[13], true),
        s(COLUMNS[14], false),
        s(COLUMNS[15], false),
        Field::new(COLUMNS[16], DataType::Boolean, false),
        s(COLUMNS[17], true),
        s(COLUMNS[18], true),
        Field::new(COLUMNS[19], DataType::UInt64, true),
        Field::new(COLUMNS[20], DataType::UInt64, true),
        Field::new(COLUMNS[21], DataType::UInt64, true),
        Field::new(COLUMNS[22], DataType::UInt64, true),
        Field::new(COLUMNS[23], DataType::UInt64, true),
        Field::new(COLUMNS[24], DataType::UInt64, true),
        Field::new_list(
            HOPS_COLUMN,
            Field::new_list_field(DataType::Utf8, true),
            false,
        ),
    ];
    Arc::new(Schema::new(fields))
}

/// A row's replay counters in column order.
pub(crate) fn counters(r: &FlowRow) -> [Option<u64>; 6] {
    [
        r.first_ts_ns,
        r.last_ts_ns,
        r.request_packets,
        r.request_bytes,
        r.reply_packets,
        r.reply_bytes,
    ]
}

struct Builders {
    src: StringBuilder,
    dst: StringBuilder,
    protocol: StringBuilder,
    src_port: UInt16Builder,
    dst_port: UInt16Builder,
    fqdn: StringBuilder,
    ingress: StringBuilder,
    outcome: StringBuilder,
    delivered_to: StringBuilder,
    dropped_at: StringBuilder,
    rule: StringBuilder,
    reason: StringBuilder,
    src_seen: StringBuilder,
    dst_seen: StringBuilder,
    path: StringBuilder,
    return_path: StringBuilder,
    symmetric: BooleanBuilder,
    to: StringBuilder,
    capture: StringBuilder,
    /// firstTsNs, lastTsNs, requestPackets, requestBytes, replyPackets, replyBytes.
    counters: [UInt64Builder; 6],
    hops: ListBuilder<StringBuilder>,
    len: usize,
}

impl Builders {
    fn new() -> Self {
        let s = || StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16);
        Self {
            src: s(),
            dst: s(),
            protocol: s(),
            src_port: UInt16Builder::with_capacity(BATCH_ROWS),
            dst_port: UInt16Builder::with_capacity(BATCH_ROWS),
            fqdn: s(),
            ingress: s(),
            outcome: s(),
            delivered_to: s(),
            dropped_at: s(),
            rule: s(),
            reason: s(),
            src_seen: s(),
            dst_seen: s(),
            path: s(),
            return_path: s(),
            symmetric: BooleanBuilder::with_capacity(BATCH_ROWS),
            to: s(),
            capture: s(),
            counters: std::array::from_fn(|_| UInt64Builder::with_capacity(BATCH_ROWS)),
            hops: ListBuilder::with_capacity(s(), BATCH_ROWS),
            len: 0,
        }
    }

    fn push(&mut self, r: &FlowRow) {
        self.src.append_value(&r.src);
        self.dst.append_value(&r.dst);
        self.protocol.append_value(&r.protocol);
        self.src_port.append_value(r.src_port);
        self.dst_port.append_value(r.dst_port);
        self.fqdn.append_option(r.fqdn.as_deref());
        self.ingress.append_value(&r.ingress);
        self.outcome.append_value(&r.outcome);
        self.delivered_to.append_option(r.delivered_to.as_deref());
        self.dropped_at.append_option(r.dropped_at.as_deref());
        self.rule.append_option(r.rule.as_deref());
        self.reason.append_value(&r.reason);
        self.src_seen.append_option(r.src_seen.as_deref());
        self.dst_seen.append_option(r.dst_seen.as_deref());
        self.path.append_value(&r.path);
        self.return_path.append_value(&r.return_path);
        self.symmetric.append_value(r.symmetric);
        self.to.append_option(r.to.as_deref());
        self.capture.append_option(r.capture.as_deref());
        for (b, v) in self.counters.iter_mut().zip(counters(r)) {
            b.append_option(v);
        }
        for h in hops(&r.path) {
            self.hops.values().append_value(h);
        }
        self.hops.append(true);
        self.len += 1;
    }

    /// Takes the gathered rows as a batch and resets the builders.
    fn take(&mut self, schema: &SchemaRef) -> Result<RecordBatch, Error> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.src.finish()),
            Arc::new(self.dst.finish()),
            Arc::new(self.protocol.finish()),
            Arc::new(self.src_port.finish()),
            Arc::new(self.dst_port.finish()),
            Arc::new(self.fqdn.finish()),
            Arc::new(self.ingress.finish()),
            Arc::new(self.outcome.finish()),
            Arc::new(self.delivered_to.finish()),
            Arc::new(self.dropped_at.finish()),
            Arc::new(self.rule.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.src_seen.finish()),
            Arc::new(self.dst_seen.finish()),
            Arc::new(self.path.finish()),
            Arc::new(self.return_path.finish()),
            Arc::new(self.symmetric.finish()),
            Arc::new(self.to.finish()),
            Arc::new(self.capture.finish()),
        ];
        let mut cols = cols;
        for b in self.counters.iter_mut() {
            cols.push(Arc::new(b.finish()));
        }
        cols.push(Arc::new(self.hops.finish()));
        self.len = 0;
        Ok(RecordBatch::try_new(schema.clone(), cols)?)
    }
}

/// Rows as one Arrow record batch with the Parquet files' [`schema`]: what the Python package
/// hands to pyarrow.
pub fn batch(rows: &[FlowRow]) -> Result<RecordBatch, Error> {
    let mut b = Builders::new();
    for r in rows {
        b.push(r);
    }
    b.take(&schema())
}

/// Streams rows into a Parquet file through the Arrow writer: the reference the files of
/// [`crate::parquet_dict`] are tested against.
#[cfg(test)]
pub struct ParquetRowWriter<W: Write + Send> {
    schema: SchemaRef,
    builders: Builders,
    writer: ArrowWriter<W>,
}

#[cfg(test)]
impl<W: Write + Send> ParquetRowWriter<W> {
    pub fn new(sink: W) -> Result<Self, Error> {
        let schema = schema();
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
            .build();
        let writer = ArrowWriter::try_new(sink, schema.clone(), Some(props))?;
        Ok(Self {
            schema,
            builders: Builders::new(),
            writer,
        })
    }

    pub fn write(&mut self, row: &FlowRow) -> Result<(), Error> {
        self.builders.push(row);
        if self.builders.len >= BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> Result<(), Error> {
        if self.builders.len > 0 {
            let batch = self.builders.take(&self.schema)?;
            self.writer.write(&batch)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), Error> {
        self.flush_batch()?;
        let mut sink = self.writer.into_inner()?;
        sink.flush()?;
        Ok(())
    }
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, String> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| format!("no column `{name}`"))?;
    col.as_any().downcast_ref::<T>().ok_or_else(|| {
        format!(
            "column `{name}` has type {}, not the one vnetsim writes",
            col.data_type()
        )
    })
}

fn req(a: &StringArray, i: usize, name: &str) -> Result<String, String> {
    if a.is_null(i) {
        Err(format!("column `{name}` is null in a row"))
    } else {
        Ok(a.value(i).to_string())
    }
}

fn opt(a: &StringArray, i: usize) -> Option<String> {
    (!a.is_null(i)).then(|| a.value(i).to_string())
}

/// Reads every row of a Parquet file with the schema above.
pub fn read(path: &Path) -> Result<Vec<FlowRow>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| e.to_string())?
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for batch in reader {
        let b = batch.map_err(|e| e.to_string())?;
        let st = |n: &str| column::<StringArray>(&b, n);
        let (src, dst, protocol) = (st("src")?, st("dst")?, st("protocol")?);
        let src_port = column::<UInt16Array>(&b, "srcPort")?;
        let dst_port = column::<UInt16Array>(&b, "dstPort")?;
        let (fqdn, ingress, outcome) = (st("fqdn")?, st("ingress")?, st("outcome")?);
        let (delivered_to, dropped_at, rule) = (st("deliveredTo")?, st("droppedAt")?, st("rule")?);
        let (reason, src_seen, dst_seen) = (st("reason")?, st("srcSeen")?, st("dstSeen")?);
        let (path_c, return_path) = (st("path")?, st("returnPath")?);
        let symmetric = column::<BooleanArray>(&b, "symmetric")?;
        let (to, capture) = (st("to")?, st("capture")?);
        let u = |n: &str| column::<UInt64Array>(&b, n);
        let counters = [
            u("firstTsNs")?,
            u("lastTsNs")?,
            u("requestPackets")?,
            u("requestBytes")?,
            u("replyPackets")?,
            u("replyBytes")?,
        ];
        let num = |k: usize, i: usize| (!counters[k].is_null(i)).then(|| counters[k].value(i));
        rows.reserve(b.num_rows());
        for i in 0..b.num_rows() {
            rows.push(FlowRow {
                src: req(src, i, "src")?,
                dst: req(dst, i, "dst")?,
                protocol: req(protocol, i, "protocol")?,
                src_port: src_port.value(i),
                dst_port: dst_port.value(i),
                fqdn: opt(fqdn, i),
                ingress: req(ingress, i, "ingress")?,
                outcome: req(outcome, i, "outcome")?,
                delivered_to: opt(delivered_to, i),
                dropped_at: opt(dropped_at, i),
                rule: opt(rule, i),
                reason: req(reason, i, "reason")?,
                src_seen: opt(src_seen, i),
                dst_seen: opt(dst_seen, i),
                path: req(path_c, i, "path")?,
                return_path: req(return_path, i, "returnPath")?,
                symmetric: symmetric.value(i),
                to: opt(to, i),
                capture: opt(capture, i),
                first_ts_ns: num(0, i),
                last_ts_ns: num(1, i),
                request_packets: num(2, i),
                request_bytes: num(3, i),
                reply_packets: num(4, i),
                reply_bytes: num(5, i),
            });
        }
    }
    Ok(rows)
}

/// Row counts of each row group in a Parquet file (used to check flushing).
pub fn row_group_sizes(path: &Path) -> Result<Vec<i64>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    Ok(b.metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect())
}
