//! Capture file readers: classic pcap and pcapng, over a memory map.
//!
//! The file is memory-mapped and walked record by record; packet data is
//! handed out as slices of the map (zero copy), so memory use does not grow
//! with the file, and no length field read from the file is ever used to size
//! an allocation. Framing problems are counted in [`ReadStats`]: a record or
//! block whose own framing is inconsistent is skipped, and reading stops
//! cleanly where the framing can no longer be followed (a block length that is
//! not a multiple of 4, a record running past the end of the file ...).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::decode::decode_packet;
use crate::frag::FragmentTracker;
use crate::record::{PacketInfo, PacketKind, ReadStats};
use crate::TrafficError;

/// Captured-length ceiling for classic pcap records, as libpcap applies it
/// (the larger of this and the file's snap length): beyond it the record
/// length is taken as corrupt and reading stops.
pub const PCAP_MAX_CAPLEN: u32 = 262_144;
/// Interfaces remembered per pcapng section; further descriptions are
/// counted as corrupt and their packets skipped.
pub const PCAPNG_MAX_INTERFACES: usize = 4096;

/// The container format, detected from the file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic pcap (libpcap).
    Pcap { big_endian: bool, nanosecond: bool },
    /// pcapng.
    PcapNg,
}

/// One packet as yielded by [`CaptureReader::next_packet`].
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub info: PacketInfo,
    /// Captured bytes, starting at the link-layer header.
    pub data: &'a [u8],
    /// Link type of the interface the packet was captured on.
    pub link_type: u32,
    /// pcapng interface index within its section (0 for classic pcap).
    pub interface: u32,
}

enum Source {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Source {
    #[inline]
    fn bytes(&self) -> &[u8] {
        match self {
            Source::Map(m) => m,
            Source::Owned(v) => v,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Iface {
    link_type: u32,
    snaplen: u32,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// if_tsoffset, seconds.
    offset_s: i64,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Pcap {
        be: bool,
        nanos: bool,
        link_type: u32,
        max_caplen: u32,
    },
    PcapNg {
        be: bool,
    },
}

/// Streaming reader of a pcap or pcapng capture.
///
/// ```no_run
/// # fn main() -> Result<(), vnetsim_traffic::TrafficError> {
/// let mut r = vnetsim_traffic::CaptureReader::open("trace.pcap")?;
/// while let Some(p) = r.next_packet() {
///     if let vnetsim_traffic::PacketKind::Ipv4(f) = p.info.kind {
///         let _payload = f.l4_payload(p.data);
///     }
/// }
/// println!("{:?}", r.stats());
/// # Ok(()) }
/// ```
pub struct CaptureReader {
    src: Source,
    pos: usize,
    state: State,
    format: CaptureFormat,
    ifaces: Vec<Iface>,
    done: bool,
    stats: ReadStats,
    frag: FragmentTracker,
    /// The capture's bytes up to here have been prefetched ([`prefetch_ahead`]).
    prefetched: usize,
}

#[inline]
fn rd32(b: &[u8], o: usize, be: bool) -> u32 {
    let a = [b[o], b[o + 1], b[o + 2], b[o + 3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

#[inline]
fn rd16(b: &[u8], o: usize, be: bool) -> u16 {
    let a = [b[o], b[o + 1]];
    if be {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

/// Timestamp in `units_per_sec` units plus an offset in seconds, to nanoseconds.
#[inline]
fn ts_to_ns(ts: u64, units_per_sec: u64, offset_s: i64) -> u64 {
    let ns: u128 = match units_per_sec {
        1_000_000 => ts as u128 * 1000,
        1_000_000_000 => ts as u128,
        0 => 0,
        u => (ts as u128 * 1_000_000_000) / u as u128,
    };
    let total = ns as i128 + offset_s as i128 * 1_000_000_000;
    total.clamp(0, u64::MAX as i128) as u64
}

/// Units per second of an `if_tsresol` value: 10^-n, or 2^-n when the top
/// bit is set. (pcap-parser's `build_ts_resolution` rejects every 2^-n value,
/// as it range-checks the byte before masking the flag.)
fn ts_units_per_sec(tsresol: u8) -> Option<u64> {
    let n = (tsresol & 0x7f) as u32;
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n).filter(|_| n < 64)
    }
}

const SHB_TYPE: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// The most of a capture read from a pipe or a device that is held in memory: 4 GiB.
pub const STREAM_LIMIT: u64 = 4 << 30;

/// Whether a capture's first four bytes are a pcap or pcapng magic (gzip and anything else
/// refused, with what was found).
fn check_magic(magic: [u8; 4]) -> Result<(), TrafficError> {
    match u32::from_le_bytes(magic) {
        0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1 => Ok(()),
        _ if magic == SHB_TYPE => Ok(()),
        _ if magic[0] == 0x1f && magic[1] == 0x8b => Err(TrafficError::Compressed),
        _ => Err(TrafficError::UnknownFormat(magic)),
    }
}

/// How far ahead of the record being read [`prefetch_ahead`] asks for the capture's bytes.
const PREFETCH_DISTANCE: usize = 2048;

/// Asks the processor for every cache line from `done` (what earlier calls asked for) up to
/// [`PREFETCH_DISTANCE`] bytes past `at`, and returns how far that is: a capture is read once,
/// front to back, from memory the hardware prefetcher does not follow across pages, and
/// without this the reader waits on memory at nearly every record header.
#[inline(always)]
fn prefetch_ahead(b: &[u8], at: usize, done: usize) -> usize {
    let until = (at + PREFETCH_DISTANCE).min(b.len());
    let mut line = done.max(at);
    #[cfg(target_arch = "x86_64")]
    while line < until {
        // SAFETY: a prefetch is a hint: it reads nothing and cannot fault, and `line` is
        // inside `b` anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                b.as_ptr().add(line) as *const i8,
            )
        }
        line += 64;
    }
    line.max(until)
}

impl CaptureReader {
    /// Open and memory-map a capture file; the format is detected from its magic. A pipe or a
    /// device (nothing to map) is read into memory instead ([`STREAM_LIMIT`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TrafficError> {
        let file = File::open(path.as_ref())?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Self::from_stream(file, STREAM_LIMIT);
        }
        if meta.len() == 0 {
            return Err(TrafficError::TooShort);
        }
        // SAFETY: the map is read-only; like every mmap-based reader we rely on
        // the capture not being truncated by another process while it is read.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        #[cfg(unix)]
        {
            let _ = map.advise(memmap2::Advice::Sequential);
        }
        Self::from_source(Source::Map(map))
    }

    /// A capture read from a stream (a pipe, a device): its first four bytes must be a
    /// capture's magic before anything more is read (so `/dev/zero` is refused at once), then
    /// it is read into memory, at most `limit` bytes.
    pub fn from_stream(mut r: impl Read, limit: u64) -> Result<Self, TrafficError> {
        let mut magic = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match r.read(&mut magic[got..])? {
                0 => return Err(TrafficError::TooShort),
                n => got += n,
            }
        }
        check_magic(magic)?;
        let mut bytes = magic.to_vec();
        r.take(limit.saturating_sub(4).saturating_add(1))
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            return Err(TrafficError::StreamTooLong(limit));
        }
        Self::from_source(Source::Owned(bytes))
    }

    /// Read a capture held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TrafficError> {
        Self::from_source(Source::Owned(bytes))
    }

    fn from_source(src: Source) -> Result<Self, TrafficError> {
        let b = src.bytes();
        if b.len() < 4 {
            return Err(TrafficError::TooShort);
        }
        let magic = [b[0], b[1], b[2], b[3]];
        check_magic(magic)?;
        let (state, format, pos) = match u32::from_le_bytes(magic) {
            m @ (0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1) => {
                let be = matches!(m, 0xd4c3_b2a1 | 0x4d3c_b2a1);
                let nanos = matches!(m, 0xa1b2_3c4d | 0x4d3c_b2a1);
                if b.len() < 24 {
                    return Err(TrafficError::TooShort);
                }
                let snaplen = rd32(b, 16, be);
                // low 26 bits: link type; upper bits carry FCS information
                let link_type = rd32(b, 20, be) & 0x03ff_ffff;
                (
                    State::Pcap {
                        be,
                        nanos,
                        link_type,
                        max_caplen: snaplen.max(PCAP_MAX_CAPLEN),
                    },
                    CaptureFormat::Pcap {
                        big_endian: be,
                        nanosecond: nanos,
                    },
                    24,
                )
            }
            _ if magic == SHB_TYPE => (State::PcapNg { be: false }, CaptureFormat::PcapNg, 0),
            // What check_magic lets through is matched above.
            _ => return Err(TrafficError::UnknownFormat(magic)),
        };
        Ok(CaptureReader {
            src,
            pos,
            state,
            format,
            ifaces: Vec::new(),
            done: false,
            stats: ReadStats::default(),
            frag: FragmentTracker::default(),
            prefetched: pos,
        })
    }

    /// Replace the fragment tracker (e.g. with a larger capacity).
    pub fn with_fragment_tracker(mut self, t: FragmentTracker) -> Self {
        self.frag = t;
        self
    }

    /// The detected container format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Link type of a classic pcap file, or of the first interface of the
    /// current pcapng section (if described yet).
    pub fn link_type(&self) -> Option<u32> {
        match self.state {
            State::Pcap { link_type, .. } => Some(link_type),
            State::PcapNg { .. } => self.ifaces.first().map(|i| i.link_type),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Size of the capture in bytes.
    pub fn file_len(&self) -> usize {
        self.src.bytes().len()
    }

    /// Byte offset of the next record.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether the reader has stopped (end of file or unrecoverable framing).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Next packet, or `None` at the end (or at an unrecoverable point).
    /// Later IPv4 fragments are resolved through the reader's fragment tracker.
    #[inline]
    pub fn next_packet(&mut self) -> Option<Packet<'_>> {
        if self.done {
            return None;
        }
        let (start, caplen, wire_len, ts_ns, link_type, interface) = match self.state {
            State::Pcap {
                be,
                nanos,
                link_type,
                max_caplen,
            } => {
                let b = self.src.bytes();
                let rem = b.len() - self.pos;
                if rem == 0 {
                    self.done = true;
                    return None;
                }
                if rem < 16 {
                    self.stats.truncated_records += 1;
                    self.done = true;
                    return None;
                }
                let p = self.pos;
                let sec = rd32(b, p, be) as u64;
                let frac = rd32(b, p + 4, be) as u64;
                let caplen = rd32(b, p + 8, be);
                let wire = rd32(b, p + 12, be);
                if caplen > max_caplen {
                    self.stats.corrupt_records += 1;
                    self.done = true;
                    return None;
                }
                if caplen as usize > rem - 16 {
                    self.stats.truncated_records += 1;
                    self.done = true;
                    return None;
                }
                self.pos = p + 16 + caplen as usize;
                self.prefetched = prefetch_ahead(b, self.pos, self.prefetched);
                let ts = sec * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
                (p + 16, caplen as usize, wire, ts, link_type, 0)
            }
            State::PcapNg { .. } => self.next_ng_record()?,
        };
        let data = &self.src.bytes()[start..start + caplen];
        let mut info = decode_packet(link_type, data, ts_ns, wire_len);
        if let PacketKind::Ipv4(ref mut f) = info.kind {
            self.frag.process(f);
        }
        self.stats.record(&info);
        Some(Packet {
            info,
            data,
            link_type,
            interface,
        })
    }

    /// Walk the pcapng blocks up to the next packet. Returns
    /// (data start, caplen, wire len, ts_ns, link type, interface).
    fn next_ng_record(&mut self) -> Option<(usize, usize, u32, u64, u32, u32)> {
        loop {
            let State::PcapNg { be } = self.state else {
                return None;
            };
            let b = self.src.bytes();
            let rem = b.len() - self.pos;
            if rem == 0 {
                self.done = true;
                return None;
            }
            if rem < 12 {
                self.stats.truncated_records += 1;
                self.done = true;
                return None;
            }
            let p = self.pos;
            if b[p..p + 4] == SHB_TYPE {
                // Section header: its byte-order magic decides how to read
                // everything in the section, including its own length.
                let sbe = match [b[p + 8], b[p + 9], b[p + 10], b[p + 11]] {
                    [0x4d, 0x3c, 0x2b, 0x1a] => false,
                    [0x1a, 0x2b, 0x3c, 0x4d] => true,
                    _ => {
                        self.stats.corrupt_records += 1;
                        self.done = true;
                        return None;
                    }
                };
                let len = rd32(b, p + 4, sbe) as usize;
                if len < 28 || len & 3 != 0 {
                    self.stats.corrupt_records += 1;
                    self.done = true;
                    return None;
                }
                if len > rem {
                    self.stats.truncated_records += 1;
                    self.done = true;
                    return None;
                }
                self.state = State::PcapNg { be: sbe };
                self.ifaces.clear();
                self.stats.sections += 1;
                self.pos = p + len;
                if rd32(b, p + len - 4, sbe) as usize != len {
                    self.stats.corrupt_records += 1;
                }
                continue;
            }
            let btype = rd32(b, p, be);
            let len = rd32(b, p + 4, be) as usize;
            if len < 12 || len & 3 != 0 {
                self.stats.corrupt_records += 1;
                self.done = true;
                return None;
            }
            if len > rem {
                self.stats.truncated_records += 1;
                self.done = true;
                return None;
            }
            self.pos = p + len;
            self.prefetched = prefetch_ahead(b, self.pos, self.prefetched);
            if rd32(b, p + len - 4, be) as usize != len {
                self.stats.corrupt_records += 1;
                continue;
            }
            let block = &b[p..p + len];
            match btype {
                // Interface Description Block
                1 => {
                    let parsed = if be {
                        pcap_parser::parse_interfacedescriptionblock_be(block)
                    } else {
                        pcap_parser::parse_interfacedescriptionblock_le(block)
                    };
                    let iface = match parsed {
                        Ok((_, idb)) => match ts_units_per_sec(idb.if_tsresol) {
                            Some(u) => Some(Iface {
                                link_type: idb.linktype.0 as u32 & 0xffff,
                                snaplen: idb.snaplen,
                                units_per_sec: u,
                                offset_s: idb.if_tsoffset,
                            }),
                            None => None,
                        },
                        Err(_) => None,
                    };
                    match iface {
                        Some(i) if self.ifaces.len() < PCAPNG_MAX_INTERFACES => {
                            self.ifaces.push(i);
                            self.stats.interfaces += 1;
                        }
                        Some(_) => self.stats.corrupt_records += 1,
                        None => {
                            // keep interface numbering right; packets on it are skipped
                            self.stats.corrupt_records += 1;
                            if self.ifaces.len() < PCAPNG_MAX_INTERFACES {
                                self.ifaces.push(Iface {
                                    link_type: u32::MAX,
                                    snaplen: 0,
                                    units_per_sec: 0,
                                    offset_s: 0,
                                });
                            }
                        }
                    }
                }
                // Enhanced Packet Block (6) and obsolete Packet Block (2)
                6 | 2 => {
                    if len < 32 {
                        self.stats.corrupt_records += 1;
                        continue;
                    }
                    let if_id = if btype == 6 {
                        rd32(b, p + 8, be)
                    } else {
                        rd16(b, p + 8, be) as u32
                    };
                    let ts = ((rd32(b, p + 12, be) as u64) << 32) | rd32(b, p + 16, be) as u64;
                    let caplen = rd32(b, p + 20, be) as usize;
                    let wire = rd32(b, p + 24, be);
                    if caplen > len - 32 {
                        self.stats.corrupt_records += 1;
                        continue;
                    }
                    let Some(iface) = self.ifaces.get(if_id as usize).copied() else {
                        self.stats.corrupt_records += 1;
                        continue;
                    };
                    if iface.link_type == u32::MAX {
                        self.stats.corrupt_records += 1;
                        continue;
                    }
                    let ts_ns = ts_to_ns(ts, iface.units_per_sec, iface.offset_s);
                    return Some((p + 28, caplen, wire, ts_ns, iface.link_type, if_id));
                }
                // Simple Packet Block: interface 0, no timestamp
                3 => {
                    if len < 16 {
                        self.stats.corrupt_records += 1;
                        continue;
                    }
                    let wire = rd32(b, p + 8, be);
                    let Some(iface) = self.ifaces.first().copied() else {
                        self.stats.corrupt_records += 1;
                        continue;
                    };
                    if iface.link_type == u32::MAX {
                        self.stats.corrupt_records += 1;
                        continue;
                    }
                    let mut caplen = (wire as usize).min(len - 16);
                    if iface.snaplen != 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    return Some((p + 12, caplen, wire, 0, iface.link_type, 0));
                }
                _ => self.stats.skipped_blocks += 1,
            }
        }
    }

    /// Call `f` on every remaining packet; returns the final counters.
    pub fn for_each<F: FnMut(&Packet<'_>)>(mut self, mut f: F) -> ReadStats {
        while let Some(p) = self.next_packet() {
            f(&p);
        }
        self.stats
    }

    /// Read to the end, keeping only the counters.
    pub fn count(self) -> ReadStats {
        self.for_each(|_| {})
    }
}

/// Open a capture and read it to the end, returning its counters.
pub fn read_stats(path: impl AsRef<Path>) -> Result<ReadStats, TrafficError> {
    Ok(CaptureReader::open(path)?.count())
}
