//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use vnetsim_traffic::{CaptureReader, PacketInfo, ReadStats};

/// Captures copied into the repository (`traces/captures`).
pub fn captures(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../traces/captures")
        .join(rel)
}

/// The shared tree of third-party captures, if present next to the workspace.
pub fn shared_captures() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures");
    p.is_dir().then_some(p)
}

/// One packet read back: record, copied bytes, link type, interface.
#[derive(Debug, Clone)]
pub struct Got {
    pub info: PacketInfo,
    pub data: Vec<u8>,
    pub link_type: u32,
    pub interface: u32,
}

pub fn read_reader(mut r: CaptureReader) -> (Vec<Got>, ReadStats) {
    let mut v = Vec::new();
    while let Some(p) = r.next_packet() {
        v.push(Got {
            info: p.info,
            data: p.data.to_vec(),
            link_type: p.link_type,
            interface: p.interface,
        });
    }
    (v, *r.stats())
}

pub fn read_all(path: impl AsRef<std::path::Path>) -> (Vec<Got>, ReadStats) {
    let r = CaptureReader::open(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()));
    read_reader(r)
}

pub fn read_bytes(bytes: Vec<u8>) -> (Vec<Got>, ReadStats) {
    read_reader(CaptureReader::from_bytes(bytes).expect("capture header"))
}

/// A classic pcap record, parsed by this test helper (independently of the crate).
#[derive(Debug, Clone)]
pub struct Rec {
    pub sec: u32,
    /// micro- or nanoseconds, as in the file
    pub frac: u32,
    pub wire: u32,
    pub data: Vec<u8>,
}

/// Parse a little-endian classic pcap: (nanosecond?, link type, records).
pub fn parse_pcap_le(b: &[u8]) -> (bool, u32, Vec<Rec>) {
    let magic = u32::from_le_bytes(b[0..4].try_into().unwrap());
    let nanos = match magic {
        0xa1b2c3d4 => false,
        0xa1b23c4d => true,
        m => panic!("not a little-endian pcap: {m:x}"),
    };
    let lt = u32::from_le_bytes(b[20..24].try_into().unwrap());
    let mut p = 24;
    let mut v = Vec::new();
    while p + 16 <= b.len() {
        let w = |o: usize| u32::from_le_bytes(b[p + o..p + o + 4].try_into().unwrap());
        let (sec, frac, cap, wire) = (w(0), w(4), w(8) as usize, w(12));
        v.push(Rec {
            sec,
            frac,
            wire,
            data: b[p + 16..p + 16 + cap].to_vec(),
        });
        p += 16 + cap;
    }
    (nanos, lt, v)
}

/// Write a classic pcap with the given byte order and precision.
pub fn build_pcap(big_endian: bool, nanos: bool, link_type: u32, recs: &[Rec]) -> Vec<u8> {
    let w32 = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&w32(if nanos { 0xa1b23c4d } else { 0xa1b2c3d4 }));
    out.extend_from_slice(&w16(2));
    out.extend_from_slice(&w16(4));
    out.extend_from_slice(&w32(0));
    out.extend_from_slice(&w32(0));
    out.extend_from_slice(&w32(262144));
    out.extend_from_slice(&w32(link_type));
    for r in recs {
        out.extend_from_slice(&w32(r.sec));
        out.extend_from_slice(&w32(r.frac));
        out.extend_from_slice(&w32(r.data.len() as u32));
        out.extend_from_slice(&w32(r.wire));
        out.extend_from_slice(&r.data);
    }
    out
}

/// Minimal pcapng builder.
pub struct NgBuilder {
    pub out: Vec<u8>,
    be: bool,
}

impl NgBuilder {
    pub fn new() -> Self {
        NgBuilder {
            out: Vec::new(),
            be: false,
        }
    }
    fn w32(&self, v: u32) -> [u8; 4] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn w16(&self, v: u16) -> [u8; 2] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    pub fn block(&mut self, ty: u32, body: &[u8]) {
        let pad = (4 - body.len() % 4) % 4;
        let len = (12 + body.len() + pad) as u32;
        let (t, l) = (self.w32(ty), self.w32(len));
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(body);
        self.out.extend(std::iter::repeat_n(0, pad));
        self.out.extend_from_slice(&l);
    }
    pub fn section(&mut self, big_endian: bool) {
        self.be = big_endian;
        let mut b = Vec::new();
        b.extend_from_slice(&self.w32(0x1a2b3c4d));
        b.extend_from_slice(&self.w16(1));
        b.extend_from_slice(&self.w16(0));
        b.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d0d0a, &b);
    }
    /// Interface with optional if_tsresol (option 9) and if_tsoffset (option 14).
    pub fn interface(&mut self, link_type: u16, tsresol: Option<u8>, tsoffset: Option<i64>) {
        let mut b = Vec::new();
        b.extend_from_slice(&self.w16(link_type));
        b.extend_from_slice(&self.w16(0));
        b.extend_from_slice(&self.w32(0));
        if let Some(r) = tsresol {
            b.extend_from_slice(&self.w16(9));
            b.extend_from_slice(&self.w16(1));
            b.extend_from_slice(&[r, 0, 0, 0]);
        }
        if let Some(o) = tsoffset {
            b.extend_from_slice(&self.w16(14));
            b.extend_from_slice(&self.w16(8));
            let v = if self.be {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            };
            b.extend_from_slice(&v);
        }
        if tsresol.is_some() || tsoffset.is_some() {
            b.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        }
        self.block(1, &b);
    }
    /// Enhanced packet block; `ts` in the interface's units.
    pub fn epb(&mut self, if_id: u32, ts: u64, wire: u32, data: &[u8]) {
        let mut b = Vec::new();
        b.extend_from_slice(&self.w32(if_id));
        b.extend_from_slice(&self.w32((ts >> 32) as u32));
        b.extend_from_slice(&self.w32(ts as u32));
        b.extend_from_slice(&self.w32(data.len() as u32));
        b.extend_from_slice(&self.w32(wire));
        b.extend_from_slice(data);
        b.extend(std::iter::repeat_n(0, (4 - data.len() % 4) % 4));
        self.block(6, &b);
    }
    pub fn spb(&mut self, wire: u32, data: &[u8]) {
        let mut b = Vec::new();
        b.extend_from_slice(&self.w32(wire));
        b.extend_from_slice(data);
        self.block(3, &b);
    }
}

/// Dotted quad to host-order u32.
pub fn ip(s: &str) -> u32 {
    u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
}
