//! The per-packet record handed to the replay engine, and the reader's counters.

/// One captured packet, decoded down to what the replay engine needs.
///
/// Small and `Copy`: the raw bytes stay in the capture (see
/// [`crate::Packet::data`]); offsets in [`Ipv4Flow`] point into them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketInfo {
    /// Capture timestamp in nanoseconds since the Unix epoch (saturating).
    pub ts_ns: u64,
    /// Length of the packet on the wire (the record's original length).
    pub wire_len: u32,
    /// Number of bytes captured (length of the packet data).
    pub cap_len: u32,
    /// What the packet is.
    pub kind: PacketKind,
}

/// Classification of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// IPv4: the modelled case.
    Ipv4(Ipv4Flow),
    /// IPv6: parsed (fixed header checked) but not modelled.
    Ipv6,
    /// Not IP at all (ARP, STP, LLC, MPLS, PPPoE, unknown ether types or
    /// address families, ...).
    NonIp,
    /// A header that cannot be decoded.
    Malformed(MalformedKind),
    /// The link type of the interface is not one this crate decodes.
    UnsupportedLinkType(u32),
}

/// Fragmentation state of an IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Fragment {
    /// Not a fragment.
    #[default]
    None,
    /// First fragment (offset 0, more-fragments set): carries the L4 header.
    First,
    /// A later fragment (offset > 0). Its ports are those of the first
    /// fragment of the same datagram, filled by a [`crate::FragmentTracker`]
    /// (the capture reader does this itself).
    Later,
    /// A later fragment whose first fragment was never seen (or was evicted
    /// from the tracker): ports are 0.
    LaterOrphan,
}

/// IPv4 flow key and the per-packet fields the replay engine uses.
///
/// Addresses and ports are in host byte order.
///
/// Ports by protocol:
/// - TCP, UDP (and SCTP, UDP-Lite, DCCP, whose ports sit at the same place):
///   source and destination ports.
/// - ICMP: `sport` is the echo identifier for echo request/reply (types 8 and
///   0) and 0 otherwise; `dport` is `(type << 8) | code`.
/// - anything else, or a later fragment not resolved: 0 and 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Ipv4Flow {
    pub src: u32,
    pub dst: u32,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    /// TCP flags byte (CWR ECE URG ACK PSH RST SYN FIN); 0 when not TCP or not captured.
    pub tcp_flags: u8,
    pub ip_id: u16,
    pub frag: Fragment,
    /// Offset of the L4 payload within the packet data. For a later fragment
    /// (and protocols without a decoded L4 header) this is the start of the
    /// IP payload.
    pub l4_payload_offset: u16,
    /// Number of L4 payload bytes present in the packet data (bounded by the
    /// IP total length and by what was captured; saturates at 65535).
    pub l4_payload_len: u16,
}

/// TCP flag bits in [`Ipv4Flow::tcp_flags`].
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

impl Ipv4Flow {
    /// The L4 payload of this packet within its data, if any byte of it is present.
    pub fn l4_payload<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        let start = self.l4_payload_offset as usize;
        let end = start
            .saturating_add(self.l4_payload_len as usize)
            .min(data.len());
        data.get(start..end).unwrap_or(&[])
    }
}

/// Why a packet could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MalformedKind {
    /// Shorter than its link-layer header (including VLAN tags).
    TruncatedLinkHeader = 0,
    /// Shorter than its IP header (20 bytes, or the IHL, or 40 for IPv6).
    TruncatedIpHeader = 1,
    /// IP version nibble not matching the link layer's claim.
    BadIpVersion = 2,
    /// IPv4 IHL below 5.
    BadIpHeaderLen = 3,
    /// IPv4 total length below the header length or above the wire length.
    BadIpTotalLen = 4,
    /// The IP datagram is too short for its L4 header (not a capture cut).
    TruncatedL4Header = 5,
    /// Inconsistent L4 header (TCP data offset below 5 or beyond the datagram).
    BadL4Header = 6,
}

impl MalformedKind {
    /// Number of kinds (size of [`ReadStats::malformed`]).
    pub const COUNT: usize = 7;
    /// All kinds, in index order.
    pub const ALL: [MalformedKind; Self::COUNT] = [
        MalformedKind::TruncatedLinkHeader,
        MalformedKind::TruncatedIpHeader,
        MalformedKind::BadIpVersion,
        MalformedKind::BadIpHeaderLen,
        MalformedKind::BadIpTotalLen,
        MalformedKind::TruncatedL4Header,
        MalformedKind::BadL4Header,
    ];
    /// Index into [`ReadStats::malformed`].
    pub fn index(self) -> usize {
        self as usize
    }
    /// A short stable name.
    pub fn name(self) -> &'static str {
        match self {
            MalformedKind::TruncatedLinkHeader => "truncated_link_header",
            MalformedKind::TruncatedIpHeader => "truncated_ip_header",
            MalformedKind::BadIpVersion => "bad_ip_version",
            MalformedKind::BadIpHeaderLen => "bad_ip_header_len",
            MalformedKind::BadIpTotalLen => "bad_ip_total_len",
            MalformedKind::TruncatedL4Header => "truncated_l4_header",
            MalformedKind::BadL4Header => "bad_l4_header",
        }
    }
}

/// Counters kept by a capture reader. Packet-level counts (`ipv4` ...
/// `unsupported_link_type`) add up to `packets`; file-level problems are
/// counted separately.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Packet records yielded.
    pub packets: u64,
    /// Sum of captured lengths.
    pub cap_bytes: u64,
    /// Sum of wire (original) lengths.
    pub wire_bytes: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub non_ip: u64,
    /// Malformed packets, indexed by [`MalformedKind::index`].
    pub malformed: [u64; MalformedKind::COUNT],
    pub unsupported_link_type: u64,
    /// IPv4 first fragments.
    pub fragments_first: u64,
    /// IPv4 later fragments whose first fragment was seen.
    pub fragments_later: u64,
    /// IPv4 later fragments whose first fragment was not seen.
    pub fragments_orphan: u64,
    /// Records or blocks skipped because their framing was inconsistent
    /// (bad trailer length, captured length beyond the block, unknown
    /// interface, unreadable interface description), plus an unrecoverable
    /// framing error (bad block length, absurd record length) that stopped
    /// the reader.
    pub corrupt_records: u64,
    /// A last record or block cut short by the end of the file (reading stops).
    pub truncated_records: u64,
    /// pcapng blocks of other types (statistics, name resolution, custom ...).
    pub skipped_blocks: u64,
    /// pcapng sections seen.
    pub sections: u64,
    /// pcapng interfaces described.
    pub interfaces: u64,
}

impl ReadStats {
    /// Count of malformed packets of one kind.
    pub fn malformed_of(&self, kind: MalformedKind) -> u64 {
        self.malformed[kind.index()]
    }
    /// Total malformed packets.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.iter().sum()
    }
    /// Account one decoded packet.
    #[inline]
    pub fn record(&mut self, info: &PacketInfo) {
        self.packets += 1;
        self.cap_bytes += info.cap_len as u64;
        self.wire_bytes += info.wire_len as u64;
        match info.kind {
            PacketKind::Ipv4(f) => {
                self.ipv4 += 1;
                match f.frag {
                    Fragment::None => {}
                    Fragment::First => self.fragments_first += 1,
                    Fragment::Later => self.fragments_later += 1,
                    Fragment::LaterOrphan => self.fragments_orphan += 1,
                }
            }
            PacketKind::Ipv6 => self.ipv6 += 1,
            PacketKind::NonIp => self.non_ip += 1,
            PacketKind::Malformed(k) => self.malformed[k.index()] += 1,
            PacketKind::UnsupportedLinkType(_) => self.unsupported_link_type += 1,
        }
    }
    /// Add another reader's counters to these.
    pub fn merge(&mut self, o: &ReadStats) {
        self.packets += o.packets;
        self.cap_bytes += o.cap_bytes;
        self.wire_bytes += o.wire_bytes;
        self.ipv4 += o.ipv4;
        self.ipv6 += o.ipv6;
        self.non_ip += o.non_ip;
        for (a, b) in self.malformed.iter_mut().zip(o.malformed.iter()) {
            *a += b;
        }
        self.unsupported_link_type += o.unsupported_link_type;
        self.fragments_first += o.fragments_first;
        self.fragments_later += o.fragments_later;
        self.fragments_orphan += o.fragments_orphan;
        self.corrupt_records += o.corrupt_records;
        self.truncated_records += o.truncated_records;
        self.skipped_blocks += o.skipped_blocks;
        self.sections += o.sections;
        self.interfaces += o.interfaces;
    }
}
