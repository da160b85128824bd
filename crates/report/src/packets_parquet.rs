//! Per-packet rows as Parquet: the columns of [`crate::packets::PACKET_COLUMNS`], with
//! `index` and `tsNs` as `UInt64`, ports as `UInt16`, `flow` as `UInt32` and the rest UTF-8
//! (nullable where the row's field is an `Option`). Batches of
//! [`crate::parquet_io::BATCH_ROWS`], row groups as for flow rows; Snappy.

use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::Arc;

use arrow_array::builder::{StringBuilder, UInt16Builder, UInt32Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::packets::{PacketRow, PACKET_COLUMNS};
use crate::parquet_io::{BATCH_ROWS, ROW_GROUP_BYTES, ROW_GROUP_ROWS};

/// The Arrow schema of packet rows.
pub fn schema() -> SchemaRef {
    let c = &PACKET_COLUMNS;
    let utf8 = |i: usize, nullable: bool| Field::new(c[i], DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        Field::new(c[0], DataType::UInt64, false),
        Field::new(c[1], DataType::UInt64, false),
        utf8(2, false),
        utf8(3, false),
        utf8(4, false),
        Field::new(c[5], DataType::UInt16, false),
        Field::new(c[6], DataType::UInt16, false),
        utf8(7, false),
        Field::new(c[8], DataType::UInt32, false),
        utf8(9, false),
        utf8(10, true),
        utf8(11, true),
        utf8(12, true),
        utf8(13, true),
        utf8(14, true),
        utf8(15, false),
    ]))
}

struct Builders {
    index: UInt64Builder,
    ts: UInt64Builder,
    text: Vec<StringBuilder>,
    ports: [UInt16Builder; 2],
    flow: UInt32Builder,
    len: usize,
}

/// Text columns, in schema order after the numeric ones are taken out.
const TEXT: [usize; 11] = [2, 3, 4, 7, 9, 10, 11, 12, 13, 14, 15];

impl Builders {
    fn new() -> Self {
        Builders {
            index: UInt64Builder::new(),
            ts: UInt64Builder::new(),
            text: (0..TEXT.len()).map(|_| StringBuilder::new()).collect(),
            ports: [UInt16Builder::new(), UInt16Builder::new()],
            flow: UInt32Builder::new(),
            len: 0,
        }
    }

    fn push(&mut self, r: &PacketRow<'_>, ip: &mut String) {
        use std::fmt::Write as _;
        let mut addr = |b: &mut StringBuilder, a: Option<u32>| match a {
            Some(a) => {
                ip.clear();
                let _ = write!(ip, "{}", Ipv4Addr::from(a));
                b.append_value(ip.as_str());
            }
            None => b.append_null(),
        };
        self.index.append_value(r.index);
        self.ts.append_value(r.ts_ns);
        let t = &mut self.text;
        addr(&mut t[0], Some(r.src));
        addr(&mut t[1], Some(r.dst));
        t[2].append_value(r.protocol);
        self.ports[0].append_value(r.src_port);
        self.ports[1].append_value(r.dst_port);
        t[3].append_value(r.direction);
        self.flow.append_value(r.flow);
        t[4].append_value(r.verdict);
        t[5].append_option(r.delivered_to);
        t[6].append_option(r.dropped_at);
        t[7].append_option(r.rule);
        addr(&mut t[8], r.src_seen);
        addr(&mut t[9], r.dst_seen);
        t[10].append_value(r.outcome);
        self.len += 1;
    }

    fn take(&mut self, schema: &SchemaRef) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let mut text = self
            .text
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef);
        let mut t = || text.next().expect("text column");
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.index.finish()),
            Arc::new(self.ts.finish()),
            t(),
            t(),
            t(),
            Arc::new(self.ports[0].finish()),
            Arc::new(self.ports[1].finish()),
            t(),
            Arc::new(self.flow.finish()),
            t(),
            t(),
            t(),
            t(),
            t(),
            t(),
            t(),
        ];
        self.len = 0;
        RecordBatch::try_new(schema.clone(), cols)
    }
}

/// Streams packet rows into a Parquet file. The builders are reused from batch to batch, so
/// memory is one batch and one row group however many packets are written.
pub struct PacketParquetWriter<W: Write + Send> {
    schema: SchemaRef,
    builders: Builders,
    writer: ArrowWriter<W>,
    ip: String,
}

impl<W: Write + Send> PacketParquetWriter<W> {
    pub fn new(sink: W) -> std::io::Result<Self> {
        let schema = schema();
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
            .build();
        let writer = ArrowWriter::try_new(sink, schema.clone(), Some(props))
            .map_err(std::io::Error::other)?;
        Ok(Self {
            schema,
            builders: Builders::new(),
            writer,
            ip: String::with_capacity(16),
        })
    }

    pub fn write(&mut self, r: &PacketRow<'_>) -> std::io::Result<()> {
        self.builders.push(r, &mut self.ip);
        if self.builders.len >= BATCH_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> std::io::Result<()> {
        if self.builders.len > 0 {
            let batch = self
                .builders
                .take(&self.schema)
                .map_err(std::io::Error::other)?;
            self.writer.write(&batch).map_err(std::io::Error::other)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.flush_batch()?;
        let mut sink = self.writer.into_inner().map_err(std::io::Error::other)?;
        sink.flush()
    }
}
