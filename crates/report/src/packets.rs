//! Per-packet rows (`replay --per packet`): one row per packet of a capture, written as JSON
//! lines or CSV without allocating per row. The strings a row carries are its flow's, rendered
//! once per flow and borrowed here; addresses and numbers are formatted into a reused line
//! buffer.

use std::io::{self, BufWriter, Write};
use std::net::Ipv4Addr;

use crate::OutputFormat;

/// Column names of a packet row, in the order both formats write them.
pub const PACKET_COLUMNS: [&str; 16] = [
    "index",
    "tsNs",
    "src",
    "dst",
    "protocol",
    "srcPort",
    "dstPort",
    "direction",
    "flow",
    "verdict",
    "deliveredTo",
    "droppedAt",
    "rule",
    "srcSeen",
    "dstSeen",
    "outcome",
];

/// One packet's fate. Addresses are host-order IPv4.
#[derive(Clone, Copy, Debug)]
pub struct PacketRow<'a> {
    /// Position of the packet in the captures, from 1.
    pub index: u64,
    pub ts_ns: u64,
    pub src: u32,
    pub dst: u32,
    pub protocol: &'a str,
    pub src_port: u16,
    pub dst_port: u16,
    /// `request` or `reply`.
    pub direction: &'static str,
    /// The flow's index (its row in the per-flow output).
    pub flow: u32,
    /// `delivered` or `dropped`.
    pub verdict: &'static str,
    pub delivered_to: Option<&'a str>,
    pub dropped_at: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub src_seen: Option<u32>,
    pub dst_seen: Option<u32>,
    pub outcome: &'a str,
}

/// Writes [`PacketRow`]s as JSON lines, CSV (with a header row) or Parquet
/// ([`crate::packets_parquet`]).
pub struct PacketRowWriter {
    out: BufWriter<Box<dyn Write + Send>>,
    csv: bool,
    parquet: Option<crate::packets_parquet::PacketParquetWriter<Box<dyn Write + Send>>>,
    line: Vec<u8>,
    rename: Option<crate::Completion>,
}

impl PacketRowWriter {
    pub fn new(sink: Box<dyn Write + Send>, format: OutputFormat) -> io::Result<Self> {
        if format == OutputFormat::Parquet {
            return Ok(PacketRowWriter {
                out: BufWriter::new(Box::new(io::sink())),
                csv: false,
                parquet: Some(crate::packets_parquet::PacketParquetWriter::new(sink)?),
                line: Vec::new(),
                rename: None,
            });
        }
        let csv = format == OutputFormat::Csv;
        let mut w = PacketRowWriter {
            out: BufWriter::with_capacity(1 << 16, sink),
            csv,
            parquet: None,
            line: Vec::with_capacity(512),
            rename: None,
        };
        if csv {
            w.out.write_all(PACKET_COLUMNS.join(",").as_bytes())?;
            w.out.write_all(b"\n")?;
        }
        Ok(w)
    }

    /// Writes to `<path>.partial`, renamed to `path` by [`PacketRowWriter::finish`].
    pub fn create(path: &std::path::Path, format: OutputFormat) -> io::Result<Self> {
        let (file, done) = crate::Completion::create(path)?;
        let mut w = Self::new(Box::new(file), format)?;
        w.rename = Some(done);
        Ok(w)
    }

    pub fn write(&mut self, r: &PacketRow<'_>) -> io::Result<()> {
        if let Some(p) = self.parquet.as_mut() {
            return p.write(r);
        }
        self.line.clear();
        if self.csv {
            csv_row(&mut self.line, r)?;
        } else {
            json_row(&mut self.line, r)?;
        }
        self.out.write_all(&self.line)
    }

    pub fn finish(mut self) -> io::Result<()> {
        if let Some(p) = self.parquet.take() {
            p.finish()?;
        }
        self.out.flush()?;
        match self.rename.take() {
            Some(done) => done.finish(),
            None => Ok(()),
        }
    }
}

enum Cell<'a> {
    Num(u64),
    Str(&'a str),
    Ip(u32),
    Null,
}

fn cells<'a>(r: &PacketRow<'a>) -> [Cell<'a>; 16] {
    let opt = |s: Option<&'a str>| s.map(Cell::Str).unwrap_or(Cell::Null);
    let ip = |a: Option<u32>| a.map(Cell::Ip).unwrap_or(Cell::Null);
    [
        Cell::Num(r.index),
        Cell::Num(r.ts_ns),
        Cell::Ip(r.src),
        Cell::Ip(r.dst),
        Cell::Str(r.protocol),
        Cell::Num(r.src_port.into()),
        Cell::Num(r.dst_port.into()),
        Cell::Str(r.direction),
        Cell::Num(r.flow.into()),
        Cell::Str(r.verdict),
        opt(r.delivered_to),
        opt(r.dropped_at),
        opt(r.rule),
        ip(r.src_seen),
        ip(r.dst_seen),
        Cell::Str(r.outcome),
    ]
}

fn json_row(out: &mut Vec<u8>, r: &PacketRow<'_>) -> io::Result<()> {
    out.push(b'{');
    for (i, (name, c)) in PACKET_COLUMNS.iter().zip(cells(r)).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write!(out, "\"{name}\":")?;
        match c {
            Cell::Num(n) => write!(out, "{n}")?,
            Cell::Ip(a) => write!(out, "\"{}\"", Ipv4Addr::from(a))?,
            Cell::Str(s) => json_string(out, s),
            Cell::Null => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// A JSON string literal (RFC 8259 §7).
fn json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for b in s.bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f => {
                let _ = write!(out, "\\u{b:04x}");
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn csv_row(out: &mut Vec<u8>, r: &PacketRow<'_>) -> io::Result<()> {
    for (i, c) in cells(r).into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match c {
            Cell::Num(n) => write!(out, "{n}")?,
            Cell::Ip(a) => write!(out, "{}", Ipv4Addr::from(a))?,
            Cell::Str(s) => csv_field(out, s),
            Cell::Null => {}
        }
    }
    out.push(b'\n');
    Ok(())
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180 §2).
fn csv_field(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}
