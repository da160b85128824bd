//! Writing classic pcap files, and rewriting IPv4 packets in place.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::decode::{ipv4_offset, linktype};

/// Timestamp precision of a written pcap file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TsPrecision {
    /// Magic 0xa1b2c3d4: the most widely readable.
    #[default]
    Micro,
    /// Magic 0xa1b23c4d.
    Nano,
}

/// Writer of classic pcap (little-endian), one link type per file.
pub struct PcapWriter<W: Write> {
    out: W,
    precision: TsPrecision,
    snaplen: u32,
    link_type: u32,
    packets: u64,
}

impl PcapWriter<BufWriter<File>> {
    /// Create `path` and write the file header (microsecond timestamps).
    pub fn create(path: impl AsRef<Path>, link_type: u32) -> io::Result<Self> {
        let f = File::create(path)?;
        PcapWriter::new(
            BufWriter::with_capacity(1 << 20, f),
            link_type,
            TsPrecision::Micro,
        )
    }
}

impl<W: Write> PcapWriter<W> {
    /// Snap length written in the header.
    pub const SNAPLEN: u32 = 262_144;

    /// Write the file header. `link_type` is usually [`linktype::ETHERNET`]
    /// or [`linktype::RAW`] (or [`linktype::IPV4`]); any value is accepted.
    pub fn new(mut out: W, link_type: u32, precision: TsPrecision) -> io::Result<Self> {
        let magic: u32 = match precision {
            TsPrecision::Micro => 0xa1b2_c3d4,
            TsPrecision::Nano => 0xa1b2_3c4d,
        };
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&magic.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        h[16..20].copy_from_slice(&Self::SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&link_type.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            precision,
            snaplen: Self::SNAPLEN,
            link_type,
            packets: 0,
        })
    }

    /// Link type of the file.
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Append a record. `wire_len` below `data.len()` is raised to it; data
    /// beyond the snap length is cut.
    pub fn write_packet(&mut self, ts_ns: u64, data: &[u8], wire_len: u32) -> io::Result<()> {
        let cap = data.len().min(self.snaplen as usize);
        let wire = wire_len.max(data.len().min(u32::MAX as usize) as u32);
        let sec = (ts_ns / 1_000_000_000).min(u32::MAX as u64) as u32;
        let frac = match self.precision {
            TsPrecision::Micro => ((ts_ns % 1_000_000_000) / 1000) as u32,
            TsPrecision::Nano => (ts_ns % 1_000_000_000) as u32,
        };
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&sec.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&(cap as u32).to_le_bytes());
        h[12..16].copy_from_slice(&wire.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&data[..cap])?;
        self.packets += 1;
        Ok(())
    }

    /// Flush buffered output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flush and return the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

// ---------------------------------------------------------------- checksums

/// One's-complement sum of `data` (big-endian 16-bit words, odd byte padded)
/// added to `initial`, not folded.
#[inline]
pub fn ones_sum(data: &[u8], initial: u32) -> u32 {
    let mut sum = initial as u64;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [b] = chunks.remainder() {
        sum += (*b as u64) << 8;
    }
    while sum > 0xffff_ffff {
        sum = (sum & 0xffff_ffff) + (sum >> 32);
    }
    sum as u32
}

/// Fold a 32-bit one's-complement sum to 16 bits and complement it.
#[inline]
pub fn fold_checksum(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Internet checksum of an IPv4 header (its checksum field must be zero, or
/// the result is 0 when the header is valid).
pub fn ipv4_header_checksum(header: &[u8]) -> u16 {
    fold_checksum(ones_sum(header, 0))
}

/// TCP/UDP checksum over the IPv4 pseudo-header and the L4 segment (whose
/// checksum field must be zero for computing, or the result is 0 when valid).
pub fn ipv4_l4_checksum(src: u32, dst: u32, proto: u8, segment: &[u8]) -> u16 {
    let mut s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);
    s += proto as u32 + segment.len() as u32;
    fold_checksum(ones_sum(segment, s))
}

/// RFC 1624 incremental update (eqn. 3): checksum `hc` after a 16-bit word of
/// the covered data changes from `old` to `new`.
#[inline]
pub fn checksum_adjust(hc: u16, old: u16, new: u16) -> u16 {
    let mut sum = (!hc as u32) + (!old as u32 & 0xffff) + new as u32;
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[inline]
fn adjust32(hc: u16, old: u32, new: u32) -> u16 {
    let hc = checksum_adjust(hc, (old >> 16) as u16, (new >> 16) as u16);
    checksum_adjust(hc, old as u16, new as u16)
}

// ---------------------------------------------------------------- rewriting

/// New values for an IPv4 packet's addresses and ports (None: unchanged).
/// Values are host byte order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rewrite {
    pub src: Option<u32>,
    pub dst: Option<u32>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

/// Why a packet could not be rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    #[error("not an IPv4 packet for this link type")]
    NotIpv4,
    #[error("IPv4 header truncated or invalid")]
    BadIpv4Header,
}

/// Rewrite source/destination address and TCP/UDP ports of an IPv4 packet in
/// place, updating the IPv4 header checksum and the TCP/UDP checksum
/// incrementally (RFC 1624), so a fragment or a packet whose payload was not
/// fully captured stays consistent. A UDP checksum of 0 (none) is left at 0.
/// Ports are changed only when the packet carries the L4 header (not a later
/// fragment) and the header was captured; the L4 checksum is updated when its
/// field was captured.
pub fn rewrite_ipv4(data: &mut [u8], link_type: u32, rw: &Rewrite) -> Result<(), RewriteError> {
    let off = ipv4_offset(link_type, data).ok_or(RewriteError::NotIpv4)?;
    rewrite_ipv4_at(data, off, rw)
}

/// [`rewrite_ipv4`] with the IPv4 header offset already known.
pub fn rewrite_ipv4_at(data: &mut [u8], off: usize, rw: &Rewrite) -> Result<(), RewriteError> {
    let ip = data.get_mut(off..).ok_or(RewriteError::BadIpv4Header)?;
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return Err(RewriteError::BadIpv4Header);
    }
    let ihl = (ip[0] & 0x0f) as usize * 4;
    if ihl < 20 || ip.len() < ihl {
        return Err(RewriteError::BadIpv4Header);
    }
    let rd32 = |b: &[u8], o: usize| u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let old_src = rd32(ip, 12);
    let old_dst = rd32(ip, 16);
    let new_src = rw.src.unwrap_or(old_src);
    let new_dst = rw.dst.unwrap_or(old_dst);
    let proto = ip[9];
    let later_fragment = (u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff) != 0;

    // IP header checksum
    let mut hc = u16::from_be_bytes([ip[10], ip[11]]);
    hc = adjust32(hc, old_src, new_src);
    hc = adjust32(hc, old_dst, new_dst);
    ip[10..12].copy_from_slice(&hc.to_be_bytes());
    ip[12..16].copy_from_slice(&new_src.to_be_bytes());
    ip[16..20].copy_from_slice(&new_dst.to_be_bytes());

    if later_fragment || !(proto == 6 || proto == 17) {
        return Ok(());
    }
    let l4 = &mut ip[ihl..];
    let ck_at = if proto == 6 { 16 } else { 6 };
    let mut ck = if l4.len() >= ck_at + 2 {
        Some(u16::from_be_bytes([l4[ck_at], l4[ck_at + 1]]))
    } else {
        None
    };
    let udp_no_ck = proto == 17 && ck == Some(0);
    if let Some(c) = ck.as_mut() {
        *c = adjust32(*c, old_src, new_src);
        *c = adjust32(*c, old_dst, new_dst);
    }
    if l4.len() >= 4 {
        let old_sp = u16::from_be_bytes([l4[0], l4[1]]);
        let old_dp = u16::from_be_bytes([l4[2], l4[3]]);
        let sp = rw.sport.unwrap_or(old_sp);
        let dp = rw.dport.unwrap_or(old_dp);
        if let Some(c) = ck.as_mut() {
            *c = checksum_adjust(*c, old_sp, sp);
            *c = checksum_adjust(*c, old_dp, dp);
        }
        l4[0..2].copy_from_slice(&sp.to_be_bytes());
        l4[2..4].copy_from_slice(&dp.to_be_bytes());
    }
    if let Some(mut c) = ck {
        if udp_no_ck {
            c = 0;
        } else if proto == 17 && c == 0 {
            c = 0xffff;
        }
        l4[ck_at..ck_at + 2].copy_from_slice(&c.to_be_bytes());
    }
    Ok(())
}

/// Recompute (not incrementally) the IPv4 header checksum and, when the whole
/// datagram is present and not a fragment, the TCP/UDP/ICMP checksum.
pub fn fix_ipv4_checksums(data: &mut [u8], link_type: u32) -> Result<(), RewriteError> {
    let off = ipv4_offset(link_type, data).ok_or(RewriteError::NotIpv4)?;
    let ip = &mut data[off..];
    if ip.len() < 20 {
        return Err(RewriteError::BadIpv4Header);
    }
    let ihl = (ip[0] & 0x0f) as usize * 4;
    let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    if ihl < 20 || ip.len() < ihl || total < ihl {
        return Err(RewriteError::BadIpv4Header);
    }
    ip[10] = 0;
    ip[11] = 0;
    let hc = ipv4_header_checksum(&ip[..ihl]);
    ip[10..12].copy_from_slice(&hc.to_be_bytes());
    let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
    if frag || total > ip.len() {
        return Ok(());
    }
    let src = u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]);
    let dst = u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]);
    let proto = ip[9];
    let seg = &mut ip[ihl..total];
    match proto {
        6 if seg.len() >= 20 => {
            seg[16] = 0;
            seg[17] = 0;
            let c = ipv4_l4_checksum(src, dst, 6, seg);
            seg[16..18].copy_from_slice(&c.to_be_bytes());
        }
        17 if seg.len() >= 8 => {
            seg[6] = 0;
            seg[7] = 0;
            let mut c = ipv4_l4_checksum(src, dst, 17, seg);
            if c == 0 {
                c = 0xffff;
            }
            seg[6..8].copy_from_slice(&c.to_be_bytes());
        }
        1 if seg.len() >= 4 => {
            seg[2] = 0;
            seg[3] = 0;
            let c = fold_checksum(ones_sum(seg, 0));
            seg[2..4].copy_from_slice(&c.to_be_bytes());
        }
        _ => {}
    }
    Ok(())
}

/// Link types [`PcapWriter`] is meant for.
pub const WRITABLE_LINK_TYPES: [u32; 3] = [linktype::ETHERNET, linktype::RAW, linktype::IPV4];
