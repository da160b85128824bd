#![allow(clippy::type_complexity)]
//! Reader output checked against tcpdump (4.99.3 / libpcap 1.10.3).
//!
//! Expected packet counts are tcpdump's: `tcpdump -# -n -r FILE` and the
//! number of the last packet printed (tcpdump stops at a corrupt or truncated
//! record, and so does the reader). Expected 5-tuples and timestamps are copied
//! from `tcpdump -nn -tt --nano -r FILE`.

mod common;
use common::*;
use vnetsim_traffic::{
    linktype, CaptureFormat, CaptureReader, Fragment, Ipv4Flow, MalformedKind, PacketKind,
    TrafficError,
};

/// (file under traces/captures, tcpdump's packet count, link type)
const TCPDUMP_COUNTS: &[(&str, u64, u32)] = &[
    ("tcpdump/802.1ad_QinQ.pcap", 2, 1),
    ("tcpdump/LINKTYPE_IPV4.pcap", 1, 228),
    ("tcpdump/LINKTYPE_IPV4_invalid.pcap", 1, 228),
    ("tcpdump/LINKTYPE_IPV6.pcap", 1, 229),
    ("tcpdump/LINKTYPE_RAW_ipv4.pcap", 1, 101),
    ("tcpdump/bgp-shutdown-communication.pcapng", 2, 1),
    ("tcpdump/empty.pcap", 0, 1),
    ("tcpdump/empty.pcapng", 0, 1),
    ("tcpdump/ikev2pI2.pcap", 2, 0),
    ("tcpdump/ipv4_invalid_hdr_length.pcap", 1, 1),
    ("tcpdump/ipv4_invalid_total_length.pcap", 1, 1),
    ("tcpdump/tcp-handshake-nano.pcap", 3, 113),
    ("tcpdump/unsupported-link-type-160.pcap", 1, 160),
    ("zeek/chksums-ip4-tcp-good-chksum.pcap", 1, 1),
    ("zeek/chksums-ip4-udp-good-chksum.pcap", 1, 1),
    ("zeek/http-qinq-0.pcap", 14, 1),
    ("zeek/ipv4-fragmented-1.pcap", 3, 1),
    ("zeek/ipv4-fragmented-3.pcap", 5, 1),
    ("zeek/linux_dlt_sll2.pcap", 6, 276),
    ("zeek/tcp-payload-syn.pcap", 6, 101),
    ("zeek/trunc-trunc-hdr.pcap", 1, 1),
    ("zeek/vlan-pcp-dei.pcapng", 9, 1),
    ("zeek/vlan-qinqinq.pcap", 14, 1),
];

#[test]
fn packet_counts_match_tcpdump() {
    for &(file, count, lt) in TCPDUMP_COUNTS {
        let (pkts, st) = read_all(captures(file));
        assert_eq!(st.packets, count, "{file}: packets");
        assert_eq!(pkts.len() as u64, count, "{file}");
        assert_eq!(
            st.corrupt_records + st.truncated_records,
            0,
            "{file}: {st:?}"
        );
        for p in &pkts {
            assert_eq!(p.link_type, lt, "{file}");
        }
        let classified =
            st.ipv4 + st.ipv6 + st.non_ip + st.malformed_total() + st.unsupported_link_type;
        assert_eq!(classified, st.packets, "{file}: {st:?}");
    }
}

fn v4(p: &Got) -> Ipv4Flow {
    match p.info.kind {
        PacketKind::Ipv4(f) => f,
        k => panic!("expected IPv4, got {k:?}"),
    }
}

/// (src, sport, dst, dport, proto)
fn tuple(f: &Ipv4Flow) -> (u32, u16, u32, u16, u8) {
    (f.src, f.sport, f.dst, f.dport, f.proto)
}

#[test]
fn five_tuples_match_tcpdump() {
    // file, packet index, tcpdump's "src.sport > dst.dport", proto, timestamp (ns) as printed
    let cases: &[(&str, usize, &str, u16, &str, u16, u8, u64)] = &[
        // 1751997572.592885000 IP 192.168.1.100.12345 > 9.9.9.9.53: 4660+ A? example.com. (29)
        (
            "tcpdump/LINKTYPE_IPV4.pcap",
            0,
            "192.168.1.100",
            12345,
            "9.9.9.9",
            53,
            17,
            1751997572592885000,
        ),
        // 1751997551.951226000 IP 192.168.1.100.12345 > 9.9.9.9.53
        (
            "tcpdump/LINKTYPE_RAW_ipv4.pcap",
            0,
            "192.168.1.100",
            12345,
            "9.9.9.9",
            53,
            17,
            1751997551951226000,
        ),
        // 86400.000000000 IP 192.1.2.45.500 > 192.1.2.23.500 (DLT_NULL)
        (
            "tcpdump/ikev2pI2.pcap",
            0,
            "192.1.2.45",
            500,
            "192.1.2.23",
            500,
            17,
            86400000000000,
        ),
        // 1418145369.924505488 IP 131.155.215.69.46656 > 137.116.81.94.80: Flags [S] (SLL, nanosecond pcap)
        (
            "tcpdump/tcp-handshake-nano.pcap",
            0,
            "131.155.215.69",
            46656,
            "137.116.81.94",
            80,
            6,
            1418145369924505488,
        ),
        // 1418145370.052027262 IP 137.116.81.94.80 > 131.155.215.69.46656: Flags [S.]
        (
            "tcpdump/tcp-handshake-nano.pcap",
            1,
            "137.116.81.94",
            80,
            "131.155.215.69",
            46656,
            6,
            1418145370052027262,
        ),
        // 1660534249.872259000 lo In IP 192.0.2.1 > 192.0.2.1: ICMP echo request, id 8, seq 1 (SLL2)
        (
            "zeek/linux_dlt_sll2.pcap",
            0,
            "192.0.2.1",
            8,
            "192.0.2.1",
            0x0800,
            1,
            1660534249872259000,
        ),
        // 1660534249.872288000 ICMP echo reply, id 8
        (
            "zeek/linux_dlt_sll2.pcap",
            1,
            "192.0.2.1",
            8,
            "192.0.2.1",
            0x0000,
            1,
            1660534249872288000,
        ),
        // 1362692526.869344000 IP 141.142.228.5.59856 > 192.150.187.43.80: Flags [S] (QinQ 0x88a8 + 0x8100)
        (
            "zeek/http-qinq-0.pcap",
            0,
            "141.142.228.5",
            59856,
            "192.150.187.43",
            80,
            6,
            1362692526869344000,
        ),
        // three stacked 802.1Q tags
        (
            "zeek/vlan-qinqinq.pcap",
            0,
            "141.142.228.5",
            59856,
            "192.150.187.43",
            80,
            6,
            1362692526869344000,
        ),
        // 1362692526.939527000 ... Flags [P.], seq 1:137
        (
            "zeek/vlan-qinqinq.pcap",
            3,
            "141.142.228.5",
            59856,
            "192.150.187.43",
            80,
            6,
            1362692526939527000,
        ),
        // 1763070394.994237000 IP 192.168.1.100.12345 > 192.168.1.200.80: Flags [S] (pcapng, VLAN)
        (
            "zeek/vlan-pcp-dei.pcapng",
            0,
            "192.168.1.100",
            12345,
            "192.168.1.200",
            80,
            6,
            1763070394994237000,
        ),
        // 1483463332.850795000 IP 165.254.255.24.179 > 165.254.255.17.33202 (pcapng)
        (
            "tcpdump/bgp-shutdown-communication.pcapng",
            0,
            "165.254.255.24",
            179,
            "165.254.255.17",
            33202,
            6,
            1483463332850795000,
        ),
        // 1567174416.436962000 IP 192.168.0.1.80 > 192.168.0.2.80: Flags [S], length 100 (raw IP)
        (
            "zeek/tcp-payload-syn.pcap",
            0,
            "192.168.0.1",
            80,
            "192.168.0.2",
            80,
            6,
            1567174416436962000,
        ),
        // 950988235.155866000 IP 164.1.123.163.123 > 164.1.123.61.137 (first fragment)
        (
            "zeek/ipv4-fragmented-1.pcap",
            0,
            "164.1.123.163",
            123,
            "164.1.123.61",
            137,
            17,
            950988235155866000,
        ),
        // 950988235.156077000 IP 164.1.123.163 > 164.1.123.61: ip-proto-17 (later fragment: ports of the first)
        (
            "zeek/ipv4-fragmented-1.pcap",
            1,
            "164.1.123.163",
            123,
            "164.1.123.61",
            137,
            17,
            950988235156077000,
        ),
        // 964750760.184607000 IP 210.54.213.247.1265 > 131.243.1.10.21: Flags [P.]
        (
            "zeek/ipv4-fragmented-3.pcap",
            0,
            "210.54.213.247",
            1265,
            "131.243.1.10",
            21,
            6,
            964750760184607000,
        ),
        // 964750760.259631000 IP 210.54.213.247 > 131.243.1.10: ip-proto-6 (later fragment)
        (
            "zeek/ipv4-fragmented-3.pcap",
            4,
            "210.54.213.247",
            1265,
            "131.243.1.10",
            21,
            6,
            964750760259631000,
        ),
        // 1332784786.723256 IP 127.0.0.1.30000 > 127.0.0.1.80: Flags [S]
        (
            "zeek/chksums-ip4-tcp-good-chksum.pcap",
            0,
            "127.0.0.1",
            30000,
            "127.0.0.1",
            80,
            6,
            1332784786723256000,
        ),
    ];
    for &(file, idx, src, sport, dst, dport, proto, ts) in cases {
        let (pkts, _) = read_all(captures(file));
        let p = &pkts[idx];
        let f = v4(p);
        assert_eq!(
            tuple(&f),
            (ip(src), sport, ip(dst), dport, proto),
            "{file} #{idx}"
        );
        assert_eq!(p.info.ts_ns, ts, "{file} #{idx}");
    }
}

#[test]
fn tcp_flags_and_payload() {
    use vnetsim_traffic::tcp_flags::*;
    let (pkts, _) = read_all(captures("tcpdump/tcp-handshake-nano.pcap"));
    // tcpdump: Flags [S], [S.], [.]
    let flags: Vec<u8> = pkts.iter().map(|p| v4(p).tcp_flags).collect();
    assert_eq!(flags, vec![SYN, SYN | ACK, ACK]);
    // tcpdump: "Flags [P.], seq 1:137 ... length 136: HTTP: GET /download/CHANGES.bro-aux.txt"
    let (pkts, _) = read_all(captures("zeek/http-qinq-0.pcap"));
    let f = v4(&pkts[3]);
    assert_eq!(f.tcp_flags, PSH | ACK);
    assert_eq!(f.l4_payload_len, 136);
    let payload = f.l4_payload(&pkts[3].data);
    assert!(payload.starts_with(b"GET /download/CHANGES.bro-aux.txt HTTP/1.1\r\n"));
    // Host header as shown by tcpdump -A: "Host: bro.org"
    assert_eq!(vnetsim_traffic::http_host(payload), Some("bro.org"));
    // SYN carrying 100 bytes of HTTP, no Host header: "GET //index.php?page=../../../etc/passwd HTTP/1.1"
    let (pkts, _) = read_all(captures("zeek/tcp-payload-syn.pcap"));
    let f = v4(&pkts[0]);
    assert_eq!(f.l4_payload_len, 100);
    assert!(f.l4_payload(&pkts[0].data).starts_with(b"GET //index.php"));
}

#[test]
fn classification_of_special_files() {
    // tcpdump: ARP in 802.1ad + 802.1Q
    let (_, st) = read_all(captures("tcpdump/802.1ad_QinQ.pcap"));
    assert_eq!(st.non_ip, 2);
    // tcpdump: IP6 2001:db8::1.12345 > 2620:fe::9.53
    let (_, st) = read_all(captures("tcpdump/LINKTYPE_IPV6.pcap"));
    assert_eq!(st.ipv6, 1);
    // tcpdump: "IP bad-hlen 16"
    let (p, _) = read_all(captures("tcpdump/ipv4_invalid_hdr_length.pcap"));
    assert_eq!(
        p[0].info.kind,
        PacketKind::Malformed(MalformedKind::BadIpHeaderLen)
    );
    // tcpdump: "[total length 85 > length 84] (invalid)"
    let (p, _) = read_all(captures("tcpdump/ipv4_invalid_total_length.pcap"));
    assert_eq!(
        p[0].info.kind,
        PacketKind::Malformed(MalformedKind::BadIpTotalLen)
    );
    // LINKTYPE_IPV4 carrying an IPv6 packet
    let (p, _) = read_all(captures("tcpdump/LINKTYPE_IPV4_invalid.pcap"));
    assert_eq!(
        p[0].info.kind,
        PacketKind::Malformed(MalformedKind::BadIpVersion)
    );
    // tcpdump: "[|ether]" (snap length 1)
    let (p, _) = read_all(captures("zeek/trunc-trunc-hdr.pcap"));
    assert_eq!(
        p[0].info.kind,
        PacketKind::Malformed(MalformedKind::TruncatedLinkHeader)
    );
    assert!(p[0].info.cap_len < 14);
    // tcpdump: "link-type 160 ... UNSUPPORTED"
    let (p, st) = read_all(captures("tcpdump/unsupported-link-type-160.pcap"));
    assert_eq!(p[0].info.kind, PacketKind::UnsupportedLinkType(160));
    assert_eq!(st.unsupported_link_type, 1);
    // SLL2: 2 IPv4 ICMP, 2 IPv6 ICMP6, 2 ARP (tcpdump)
    let (_, st) = read_all(captures("zeek/linux_dlt_sll2.pcap"));
    assert_eq!((st.ipv4, st.ipv6, st.non_ip), (2, 2, 2));
}

#[test]
fn fragments_take_ports_of_first() {
    // tcpdump prints later fragments as "ip-proto-6": 1 first + 4 later
    let (pkts, st) = read_all(captures("zeek/ipv4-fragmented-3.pcap"));
    assert_eq!(
        (st.fragments_first, st.fragments_later, st.fragments_orphan),
        (1, 4, 0)
    );
    assert_eq!(v4(&pkts[0]).frag, Fragment::First);
    for p in &pkts[1..] {
        let f = v4(p);
        assert_eq!(f.frag, Fragment::Later);
        assert_eq!((f.sport, f.dport), (1265, 21));
    }
    // Without the first fragment, later ones are orphans with ports 0.
    let bytes = std::fs::read(captures("zeek/ipv4-fragmented-3.pcap")).unwrap();
    let (nanos, lt, recs) = parse_pcap_le(&bytes);
    let (pkts, st) = read_bytes(build_pcap(false, nanos, lt, &recs[1..]));
    assert_eq!(
        (st.fragments_first, st.fragments_later, st.fragments_orphan),
        (0, 0, 4)
    );
    for p in &pkts {
        let f = v4(p);
        assert_eq!(f.frag, Fragment::LaterOrphan);
        assert_eq!((f.sport, f.dport), (0, 0));
    }
}

#[test]
fn empty_files() {
    let r = CaptureReader::open(captures("tcpdump/empty.pcap")).unwrap();
    assert_eq!(
        r.format(),
        CaptureFormat::Pcap {
            big_endian: false,
            nanosecond: false
        }
    );
    let st = r.count();
    assert_eq!(st.packets, 0);
    let r = CaptureReader::open(captures("tcpdump/empty.pcapng")).unwrap();
    assert_eq!(r.format(), CaptureFormat::PcapNg);
    let st = r.count();
    assert_eq!((st.packets, st.sections, st.interfaces), (0, 1, 1));
    // A zero-length file is not a capture.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("zero.pcap");
    std::fs::write(&p, b"").unwrap();
    assert!(matches!(
        CaptureReader::open(&p),
        Err(TrafficError::TooShort)
    ));
    // Format comes from the magic, not the name.
    let p2 = dir.path().join("really-pcapng.pcap");
    std::fs::copy(captures("zeek/vlan-pcp-dei.pcapng"), &p2).unwrap();
    let r = CaptureReader::open(&p2).unwrap();
    assert_eq!(r.format(), CaptureFormat::PcapNg);
    assert_eq!(r.count().packets, 9);
}

#[test]
fn truncated_files_stop_where_tcpdump_stops() {
    // (file, bytes cut from the end, tcpdump's count on the cut file)
    // tcpdump: "truncated dump file; tried to read 74 captured bytes, only got 64" etc.
    let cases = [
        ("zeek/http-qinq-0.pcap", 10, 13),
        ("zeek/http-qinq-0.pcap", 100, 12),
        ("zeek/http-qinq-0.pcap", 1000, 8),
        ("zeek/ipv4-fragmented-3.pcap", 1000, 4),
        ("zeek/vlan-pcp-dei.pcapng", 10, 8),
        ("zeek/vlan-pcp-dei.pcapng", 100, 7),
        ("zeek/vlan-pcp-dei.pcapng", 1000, 0),
    ];
    for (file, cut, expected) in cases {
        let mut b = std::fs::read(captures(file)).unwrap();
        b.truncate(b.len() - cut);
        let (_, st) = read_bytes(b);
        assert_eq!(st.packets, expected, "{file} -{cut}");
        assert_eq!(st.truncated_records, 1, "{file} -{cut}");
    }
}

/// Link-layer variants absent from the corpus, built by re-wrapping the IPv4
/// packets of `tcp-handshake-nano.pcap` (tcpdump: 3 packets, the handshake
/// 131.155.215.69.46656 <-> 137.116.81.94.80) in other link layers. The
/// re-wrapped DLT_NULL (both byte orders), DLT_LOOP, DLT_RAW 12 and
/// LINKTYPE_IPV4 files, big-endian included, were checked to give the same
/// tcpdump output; tcpdump on Linux does not decode link type 14 (OpenBSD's
/// DLT_RAW), which is checked by construction only.
fn handshake_ip_packets() -> (Vec<Rec>, Vec<(u32, u16, u32, u16, u8)>) {
    let bytes = std::fs::read(captures("tcpdump/tcp-handshake-nano.pcap")).unwrap();
    let (nanos, lt, recs) = {
        // this one is a nanosecond pcap
        let (n, lt, r) = parse_pcap_le(&bytes);
        (n, lt, r)
    };
    assert!(nanos);
    assert_eq!(lt, 113);
    let ip_recs: Vec<Rec> = recs
        .into_iter()
        .map(|r| Rec {
            data: r.data[16..].to_vec(),
            wire: r.wire - 16,
            ..r
        })
        .collect();
    let a = (ip("131.155.215.69"), 46656, ip("137.116.81.94"), 80, 6);
    let b = (a.2, a.3, a.0, a.1, 6);
    (ip_recs, vec![a, b, a])
}

fn wrap(recs: &[Rec], prefix: &[u8]) -> Vec<Rec> {
    recs.iter()
        .map(|r| {
            let mut d = prefix.to_vec();
            d.extend_from_slice(&r.data);
            Rec {
                data: d,
                wire: r.wire + prefix.len() as u32,
                ..r.clone()
            }
        })
        .collect()
}

#[test]
fn every_link_type_and_byte_order() {
    let (ip_recs, tuples) = handshake_ip_packets();
    let eth = {
        let mut h = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        h.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]); // 802.1Q
        h.extend_from_slice(&[0x91, 0x00, 0x00, 0x06]); // old QinQ TPID
        h.extend_from_slice(&[0x08, 0x00]);
        h
    };
    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6];
    sll2.extend_from_slice(&[0; 8]);
    let variants: Vec<(&str, u32, Vec<u8>)> = vec![
        ("ethernet+vlan", linktype::ETHERNET, eth),
        ("null-le", linktype::NULL, 2u32.to_le_bytes().to_vec()),
        ("null-be", linktype::NULL, 2u32.to_be_bytes().to_vec()),
        ("loop", linktype::LOOP, 2u32.to_be_bytes().to_vec()),
        ("raw101", linktype::RAW, vec![]),
        ("raw12", linktype::DLT_RAW_12, vec![]),
        ("raw14", linktype::DLT_RAW_14, vec![]),
        ("ipv4", linktype::IPV4, vec![]),
        ("sll2", linktype::LINUX_SLL2, sll2),
    ];
    for (name, lt, prefix) in variants {
        let recs = wrap(&ip_recs, &prefix);
        for be in [false, true] {
            for nanos in [false, true] {
                let recs: Vec<Rec> = recs
                    .iter()
                    .map(|r| Rec {
                        frac: if nanos { r.frac } else { r.frac / 1000 },
                        ..r.clone()
                    })
                    .collect();
                let (pkts, st) = read_bytes(build_pcap(be, nanos, lt, &recs));
                assert_eq!(st.packets, 3, "{name} be={be} ns={nanos}");
                assert_eq!(st.ipv4, 3, "{name}");
                let got: Vec<_> = pkts.iter().map(|p| tuple(&v4(p))).collect();
                assert_eq!(got, tuples, "{name}");
                // 1418145369.924505488 as printed by tcpdump
                let want = if nanos {
                    1418145369924505488
                } else {
                    1418145369924505000
                };
                assert_eq!(pkts[0].info.ts_ns, want, "{name} be={be} ns={nanos}");
                assert_eq!(pkts[0].link_type, lt);
            }
        }
    }
    // IPv6 family values of DLT_NULL (Linux, BSDs, Darwin) and LOOP: not modelled, counted.
    let v6 = std::fs::read(captures("tcpdump/LINKTYPE_IPV6.pcap")).unwrap();
    let (_, _, v6recs) = parse_pcap_le(&v6);
    for af in [10u32, 24, 28, 30] {
        let (_, st) = read_bytes(build_pcap(
            false,
            false,
            0,
            &wrap(&v6recs, &af.to_le_bytes()),
        ));
        assert_eq!(st.ipv6, 1, "AF {af}");
        let (_, st) = read_bytes(build_pcap(
            false,
            false,
            108,
            &wrap(&v6recs, &af.to_be_bytes()),
        ));
        assert_eq!(st.ipv6, 1, "AF {af}");
    }
}

#[test]
fn pcapng_sections_interfaces_resolutions() {
    let (ip_recs, tuples) = handshake_ip_packets();
    let ns = |r: &Rec| r.sec as u64 * 1_000_000_000 + r.frac as u64;
    let mut ng = NgBuilder::new();
    // Section 1, little-endian: three interfaces with different link types and resolutions.
    ng.section(false);
    ng.interface(101, None, None); // raw IP, default microseconds
    ng.interface(113, Some(9), None); // SLL, nanoseconds
    ng.interface(0, Some(0x80 | 20), Some(-100)); // NULL, 2^-20 s, offset -100 s
    ng.block(0x0000_0005, &[0u8; 16]); // interface statistics: skipped
    ng.epb(0, ns(&ip_recs[0]) / 1000, ip_recs[0].wire, &ip_recs[0].data);
    let mut sll = vec![0u8, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip_recs[1].data);
    ng.epb(1, ns(&ip_recs[1]), ip_recs[1].wire + 16, &sll);
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend_from_slice(&ip_recs[2].data);
    let t2 = ((ns(&ip_recs[2]) as u128 + 100_000_000_000) * (1 << 20) / 1_000_000_000) as u64;
    ng.epb(2, t2, ip_recs[2].wire + 4, &null);
    // Section 2, big-endian: one interface, an EPB and a simple packet block.
    ng.section(true);
    ng.interface(228, Some(3), None); // milliseconds
    ng.epb(0, 1_418_145_369_924, ip_recs[0].wire, &ip_recs[0].data);
    ng.spb(ip_recs[1].wire, &ip_recs[1].data);
    let (pkts, st) = read_bytes(ng.out);
    assert_eq!(st.packets, 5, "{st:?}");
    assert_eq!((st.sections, st.interfaces, st.skipped_blocks), (2, 4, 1));
    assert_eq!(st.corrupt_records + st.truncated_records, 0);
    let got: Vec<_> = pkts.iter().map(|p| tuple(&v4(p))).collect();
    assert_eq!(
        got,
        vec![tuples[0], tuples[1], tuples[2], tuples[0], tuples[1]]
    );
    let lts: Vec<u32> = pkts.iter().map(|p| p.link_type).collect();
    assert_eq!(lts, vec![101, 113, 0, 228, 228]);
    let ifs: Vec<u32> = pkts.iter().map(|p| p.interface).collect();
    assert_eq!(ifs, vec![0, 1, 2, 0, 0]);
    assert_eq!(pkts[0].info.ts_ns, 1418145369924505000);
    assert_eq!(pkts[1].info.ts_ns, ns(&ip_recs[1]));
    // 2^-20 s units: exact to within one unit (< 1 us)
    assert!(
        pkts[2].info.ts_ns.abs_diff(ns(&ip_recs[2])) < 1000,
        "{}",
        pkts[2].info.ts_ns
    );
    assert_eq!(pkts[3].info.ts_ns, 1418145369924000000);
    assert_eq!(pkts[4].info.ts_ns, 0); // SPB: no timestamp
}

#[test]
fn pcapng_corrupt_blocks_are_counted() {
    let (ip_recs, _) = handshake_ip_packets();
    let mut ng = NgBuilder::new();
    ng.section(false);
    ng.interface(101, None, None);
    ng.epb(0, 1, ip_recs[0].wire, &ip_recs[0].data);
    // EPB on an undescribed interface: skipped
    ng.epb(7, 2, ip_recs[1].wire, &ip_recs[1].data);
    // EPB whose trailer length disagrees: skipped
    ng.epb(0, 3, ip_recs[1].wire, &ip_recs[1].data);
    let n = ng.out.len();
    ng.out[n - 4] ^= 0x40;
    ng.epb(0, 4, ip_recs[2].wire, &ip_recs[2].data);
    // a block claiming 4 GB: truncated, reading stops without allocating it
    ng.out.extend_from_slice(&6u32.to_le_bytes());
    ng.out.extend_from_slice(&0xffff_fffcu32.to_le_bytes());
    ng.out.extend_from_slice(&[0u8; 64]);
    let (pkts, st) = read_bytes(ng.out.clone());
    assert_eq!(pkts.len(), 2);
    assert_eq!(st.corrupt_records, 2);
    assert_eq!(st.truncated_records, 1);
    // a block length that is not a multiple of 4: unrecoverable
    let mut b = ng.out;
    let l = b.len();
    b[l - 64 - 4..l - 64].copy_from_slice(&13u32.to_le_bytes());
    let (pkts, st) = read_bytes(b);
    assert_eq!(pkts.len(), 2);
    assert_eq!(st.corrupt_records, 3);
}

#[test]
fn pcap_absurd_record_length_stops() {
    let bytes = std::fs::read(captures("zeek/http-qinq-0.pcap")).unwrap();
    let (nanos, lt, recs) = parse_pcap_le(&bytes);
    let mut b = build_pcap(false, nanos, lt, &recs[..3]);
    // a record header claiming 4 GB of captured data
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    b.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    b.extend_from_slice(&[0u8; 100]);
    let (pkts, st) = read_bytes(b);
    assert_eq!(pkts.len(), 3);
    assert_eq!(st.corrupt_records, 1);
}
