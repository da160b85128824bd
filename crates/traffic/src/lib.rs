//! Where packets come from: capture files turned into compact per-packet
//! records for the replay engine, captures written back out, and synthetic
//! traffic.
//!
//! # Layering
//!
//! Reading goes down the stack one layer at a time, each layer handing the
//! next a slice of the same bytes (nothing is copied or allocated per packet):
//!
//! 1. **File format** ([`CaptureReader`]): classic pcap (micro- and
//!    nanosecond magic, either byte order) or pcapng (several sections, several
//!    interfaces with their own link types and `if_tsresol`/`if_tsoffset`,
//!    enhanced, simple and obsolete packet blocks; other blocks skipped),
//!    detected from the magic. The file is memory-mapped and walked record by
//!    record; framing problems are counted in [`ReadStats`] and never trusted
//!    for an allocation.
//! 2. **Link layer** ([`decode_packet`], [`linktype`]): Ethernet with any
//!    stack of 802.1Q/802.1ad/QinQ tags, Linux cooked v1 and v2, raw IP (101,
//!    228, 229, DLT_RAW 12 and 14), BSD loopback (DLT_NULL either byte order,
//!    DLT_LOOP). Other link types become [`PacketKind::UnsupportedLinkType`].
//! 3. **IP**: IPv4 is decoded into an [`Ipv4Flow`] (the modelled case); IPv6
//!    is checked and counted; anything else is [`PacketKind::NonIp`];
//!    inconsistent headers are [`PacketKind::Malformed`] with a
//!    [`MalformedKind`]. Later IPv4 fragments take the ports of their first
//!    fragment through a bounded [`FragmentTracker`].
//! 4. **L4**: ports, TCP flags, and where the L4 payload lies in the packet.
//! 5. **Hints** ([`tls_sni`], [`http_host`]): the server name a client asks
//!    for, read from the L4 payload.
//!
//! Writing goes the other way: [`PcapWriter`] writes classic pcap,
//! [`rewrite_ipv4`] changes addresses and ports in place keeping checksums
//! valid (RFC 1624), and [`synth`] builds deterministic conversations and
//! large benchmark captures.

mod decode;
mod frag;
mod hints;
mod reader;
mod record;
pub mod synth;
mod writer;

pub use decode::{decode_packet, ipv4_offset, linktype};
pub use frag::FragmentTracker;
pub use hints::{http_host, tls_sni};
pub use reader::{
    read_stats, CaptureFormat, CaptureReader, Packet, PCAPNG_MAX_INTERFACES, PCAP_MAX_CAPLEN,
    STREAM_LIMIT,
};
pub use record::{tcp_flags, Fragment, Ipv4Flow, MalformedKind, PacketInfo, PacketKind, ReadStats};
pub use writer::{
    checksum_adjust, fix_ipv4_checksums, fold_checksum, ipv4_header_checksum, ipv4_l4_checksum,
    ones_sum, rewrite_ipv4, rewrite_ipv4_at, PcapWriter, Rewrite, RewriteError, TsPrecision,
    WRITABLE_LINK_TYPES,
};

/// Errors opening a capture.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("file too short for a capture header")]
    TooShort,
    #[error("compressed capture (gzip) is not supported")]
    Compressed,
    #[error("unknown capture format (magic {0:02x?})")]
    UnknownFormat([u8; 4]),
    #[error(
        "a capture read from a pipe or device is held in memory, at most {} GiB: this one is \
         longer (write it to a file, which is read without that limit)",
        .0 >> 30
    )]
    StreamTooLong(u64),
}
