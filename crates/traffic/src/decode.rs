//! Link layer → IP → L4 decoding of one packet into a [`PacketInfo`].
//!
//! Pure functions, no allocation. The link layer is stripped by hand (it is a
//! few fixed offsets, and etherparse has no SLL2); IPv4 and IPv6 fixed
//! headers and the TCP header are checked with etherparse's slice types.

use crate::record::{Fragment, Ipv4Flow, MalformedKind, PacketInfo, PacketKind};
use etherparse::err::ipv4::{HeaderError as V4Err, HeaderSliceError as V4SliceErr};
use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice, TcpHeaderSlice};

/// Link-type numbers (LINKTYPE_* as stored in pcap/pcapng files).
pub mod linktype {
    /// BSD loopback, address family in the writer's byte order.
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    /// DLT_RAW as found in files written on most BSDs/Linux before LINKTYPE_RAW.
    pub const DLT_RAW_12: u32 = 12;
    /// DLT_RAW on OpenBSD.
    pub const DLT_RAW_14: u32 = 14;
    pub const RAW: u32 = 101;
    /// OpenBSD loopback, address family big-endian.
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;

    /// Whether [`crate::decode_packet`] decodes this link type.
    pub fn is_supported(lt: u32) -> bool {
        matches!(
            lt,
            NULL | ETHERNET
                | DLT_RAW_12
                | DLT_RAW_14
                | RAW
                | LOOP
                | LINUX_SLL
                | IPV4
                | IPV6
                | LINUX_SLL2
        )
    }
}

/// Ether types of VLAN tags that are stripped (802.1Q, 802.1ad, and the old
/// QinQ values 0x9100/0x9200).
const VLAN_TPIDS: [u16; 4] = [0x8100, 0x88a8, 0x9100, 0x9200];
/// At most this many stacked tags are stripped; more is treated as non-IP.
const MAX_VLAN_TAGS: usize = 8;

/// What the link layer says the network layer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum L3 {
    V4,
    V6,
    /// Raw IP: decided by the version nibble.
    ByVersion,
    NonIp,
}

#[inline]
fn be16(d: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([d[o], d[o + 1]])
}

#[inline]
fn be32(d: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]])
}

/// Strip VLAN tags starting at `off` where `ethertype` has just been read.
#[inline]
fn ether_payload(
    data: &[u8],
    mut off: usize,
    mut ethertype: u16,
) -> Result<(usize, L3), PacketKind> {
    let mut tags = 0;
    while VLAN_TPIDS.contains(&ethertype) {
        if tags == MAX_VLAN_TAGS {
            return Ok((off, L3::NonIp));
        }
        if data.len() < off + 4 {
            return Err(PacketKind::Malformed(MalformedKind::TruncatedLinkHeader));
        }
        ethertype = be16(data, off + 2);
        off += 4;
        tags += 1;
    }
    let l3 = match ethertype {
        0x0800 => L3::V4,
        0x86dd => L3::V6,
        _ => L3::NonIp,
    };
    Ok((off, l3))
}

#[inline]
fn family(af: u32) -> L3 {
    match af {
        2 => L3::V4,
        // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, Darwin
        10 | 24 | 28 | 30 => L3::V6,
        _ => L3::NonIp,
    }
}

/// Find the network layer: offset of the L3 header within `data` and its kind.
pub(crate) fn link_layer(link_type: u32, data: &[u8]) -> Result<(usize, L3), PacketKind> {
    use linktype::*;
    let trunc = PacketKind::Malformed(MalformedKind::TruncatedLinkHeader);
    match link_type {
        ETHERNET => {
            if data.len() < 14 {
                return Err(trunc);
            }
            let et = be16(data, 12);
            if et < 0x0600 {
                // 802.3 length field: LLC/SNAP, STP, ...
                return Ok((14, L3::NonIp));
            }
            ether_payload(data, 14, et)
        }
        LINUX_SLL => {
            if data.len() < 16 {
                return Err(trunc);
            }
            ether_payload(data, 16, be16(data, 14))
        }
        LINUX_SLL2 => {
            if data.len() < 20 {
                return Err(trunc);
            }
            ether_payload(data, 20, be16(data, 0))
        }
        NULL => {
            if data.len() < 4 {
                return Err(trunc);
            }
            let le = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
            let af = if le > 0xffff { le.swap_bytes() } else { le };
            Ok((4, family(af)))
        }
        LOOP => {
            if data.len() < 4 {
                return Err(trunc);
            }
            Ok((4, family(be32(data, 0))))
        }
        RAW | DLT_RAW_12 | DLT_RAW_14 => Ok((0, L3::ByVersion)),
        IPV4 => Ok((0, L3::V4)),
        IPV6 => Ok((0, L3::V6)),
        other => Err(PacketKind::UnsupportedLinkType(other)),
    }
}

/// Offset of the IPv4 header in a packet of the given link type, if the link
/// layer says the packet is IPv4.
pub fn ipv4_offset(link_type: u32, data: &[u8]) -> Option<usize> {
    match link_layer(link_type, data) {
        Ok((off, L3::V4)) => Some(off),
        Ok((off, L3::ByVersion)) if data.get(off).map(|b| b >> 4) == Some(4) => Some(off),
        _ => None,
    }
}

#[inline]
fn sat16(v: usize) -> u16 {
    v.min(u16::MAX as usize) as u16
}

/// Decode one packet. `data` is the captured bytes, `wire_len` the original length.
///
/// An IPv4 total length of 0 on a TCP packet is taken as TCP segmentation
/// offload (or BIG TCP) and replaced by the length on the wire, as tcpdump does.
///
/// Later IPv4 fragments come back with [`Fragment::Later`] and ports 0: run
/// them through a [`crate::FragmentTracker`] (the capture reader does).
pub fn decode_packet(link_type: u32, data: &[u8], ts_ns: u64, wire_len: u32) -> PacketInfo {
    let cap_len = data.len().min(u32::MAX as usize) as u32;
    let kind = match link_layer(link_type, data) {
        Err(k) => k,
        Ok((off, l3)) => decode_l3(data, off, l3, wire_len),
    };
    PacketInfo {
        ts_ns,
        wire_len,
        cap_len,
        kind,
    }
}

fn decode_l3(data: &[u8], off: usize, l3: L3, wire_len: u32) -> PacketKind {
    let ip = &data[off.min(data.len())..];
    let l3 = match l3 {
        L3::NonIp => return PacketKind::NonIp,
        L3::ByVersion => match ip.first().map(|b| b >> 4) {
            None => return PacketKind::Malformed(MalformedKind::TruncatedIpHeader),
            Some(4) => L3::V4,
            Some(6) => L3::V6,
            Some(_) => return PacketKind::Malformed(MalformedKind::BadIpVersion),
        },
        x => x,
    };
    match l3 {
        L3::V6 => match Ipv6HeaderSlice::from_slice(ip) {
            Ok(_) => PacketKind::Ipv6,
            Err(etherparse::err::ipv6::HeaderSliceError::Len(_)) => {
                PacketKind::Malformed(MalformedKind::TruncatedIpHeader)
            }
            Err(_) => PacketKind::Malformed(MalformedKind::BadIpVersion),
        },
        _ => {
            // bytes of the IP layer that were on the wire but not captured
            let missing = (wire_len as usize).saturating_sub(data.len());
            match decode_ipv4(data, off, missing) {
                Ok(f) => PacketKind::Ipv4(f),
                Err(k) => PacketKind::Malformed(k),
            }
        }
    }
}

fn decode_ipv4(data: &[u8], off: usize, missing: usize) -> Result<Ipv4Flow, MalformedKind> {
    let ip = &data[off..];
    let h = Ipv4HeaderSlice::from_slice(ip).map_err(|e| match e {
        V4SliceErr::Len(_) => MalformedKind::TruncatedIpHeader,
        V4SliceErr::Content(V4Err::UnexpectedVersion { .. }) => MalformedKind::BadIpVersion,
        V4SliceErr::Content(V4Err::HeaderLengthSmallerThanHeader { .. }) => {
            MalformedKind::BadIpHeaderLen
        }
    })?;
    let hlen = h.slice().len();
    let mut total = h.total_len() as usize;
    if total == 0 && h.protocol().0 == 6 && ip.len() + missing > hlen {
        // TCP segmentation offload / BIG TCP: the stack leaves the total
        // length 0 and the capture shows the whole super-packet (tcpdump
        // likewise presumes TSO here).
        total = ip.len() + missing;
    }
    if total < hlen {
        return Err(MalformedKind::BadIpTotalLen);
    }
    // Frames are padded (Ethernet minimum): the datagram ends at total_len.
    // A datagram longer than the captured bytes is fine only if the capture
    // cut it (snap length); longer than the wire, it is malformed.
    if total > ip.len() + missing {
        return Err(MalformedKind::BadIpTotalLen);
    }
    let end = total.min(ip.len());
    let payload = &ip[hlen..end];
    let payload_off = off + hlen;
    let proto = h.protocol().0;
    let frag_off = h.fragments_offset().value();
    let mf = h.more_fragments();
    let frag = if frag_off > 0 {
        Fragment::Later
    } else if mf {
        Fragment::First
    } else {
        Fragment::None
    };
    let mut flow = Ipv4Flow {
        src: u32::from_be_bytes(h.source()),
        dst: u32::from_be_bytes(h.destination()),
        proto,
        sport: 0,
        dport: 0,
        tcp_flags: 0,
        ip_id: h.identification(),
        frag,
        l4_payload_offset: sat16(payload_off),
        l4_payload_len: sat16(payload.len()),
    };
    if frag == Fragment::Later {
        return Ok(flow);
    }
    // Length of the L4 data as declared by IP (what the datagram, or first
    // fragment, really holds) versus what was captured.
    let declared = total - hlen;
    let cut = payload.len() < declared;
    match proto {
        6 => {
            if declared < 20 && frag == Fragment::None {
                return Err(MalformedKind::TruncatedL4Header);
            }
            if payload.len() < 4 {
                return if cut || frag == Fragment::First {
                    Ok(flow_no_l4(flow, payload_off + payload.len()))
                } else {
                    Err(MalformedKind::TruncatedL4Header)
                };
            }
            flow.sport = be16(payload, 0);
            flow.dport = be16(payload, 2);
            if payload.len() >= 14 {
                flow.tcp_flags = payload[13];
            }
            match TcpHeaderSlice::from_slice(payload) {
                Ok(t) => {
                    let thl = t.slice().len();
                    flow.l4_payload_offset = sat16(payload_off + thl);
                    flow.l4_payload_len = sat16(payload.len() - thl);
                }
                Err(etherparse::err::tcp::HeaderSliceError::Content(_)) => {
                    return Err(MalformedKind::BadL4Header)
                }
                Err(etherparse::err::tcp::HeaderSliceError::Len(_)) => {
                    // header (with options) not entirely in the captured data
                    let doff = if payload.len() >= 13 {
                        (payload[12] >> 4) as usize * 4
                    } else {
                        20
                    };
                    if payload.len() >= 13 && doff < 20 {
                        return Err(MalformedKind::BadL4Header);
                    }
                    if doff > declared && frag == Fragment::None {
                        return Err(MalformedKind::BadL4Header);
                    }
                    flow.l4_payload_offset = sat16(payload_off + payload.len());
                    flow.l4_payload_len = 0;
                }
            }
            Ok(flow)
        }
        17 | 132 | 136 | 33 => {
            let hl = match proto {
                17 | 136 => 8,
                132 => 12,
                _ => 12, // DCCP generic header (short form)
            };
            if declared < hl.min(8) && frag == Fragment::None {
                return Err(MalformedKind::TruncatedL4Header);
            }
            if payload.len() < 4 {
                return if cut || frag == Fragment::First {
                    Ok(flow_no_l4(flow, payload_off + payload.len()))
                } else {
                    Err(MalformedKind::TruncatedL4Header)
                };
            }
            flow.sport = be16(payload, 0);
            flow.dport = be16(payload, 2);
            let hl = hl.min(payload.len());
            flow.l4_payload_offset = sat16(payload_off + hl);
            flow.l4_payload_len = sat16(payload.len() - hl);
            Ok(flow)
        }
        1 => {
            if declared < 4 && frag == Fragment::None {
                return Err(MalformedKind::TruncatedL4Header);
            }
            if payload.len() < 2 {
                return if cut || frag == Fragment::First {
                    Ok(flow_no_l4(flow, payload_off + payload.len()))
                } else {
                    Err(MalformedKind::TruncatedL4Header)
                };
            }
            let (ty, code) = (payload[0], payload[1]);
            flow.dport = ((ty as u16) << 8) | code as u16;
            if (ty == 0 || ty == 8) && payload.len() >= 6 {
                flow.sport = be16(payload, 4);
            }
            let hl = 8.min(payload.len());
            flow.l4_payload_offset = sat16(payload_off + hl);
            flow.l4_payload_len = sat16(payload.len() - hl);
            Ok(flow)
        }
        _ => Ok(flow),
    }
}

fn flow_no_l4(mut flow: Ipv4Flow, end: usize) -> Ipv4Flow {
    flow.l4_payload_offset = sat16(end);
    flow.l4_payload_len = 0;
    flow
}
