//! Synthetic captures read back, pcap writing, and in-place rewriting with
//! checksums verified independently (etherparse and a naive sum here).

mod common;
use common::*;
use etherparse::{Ipv4Header, SlicedPacket, TransportSlice};
use vnetsim_traffic::synth::{self, SynthConfig, SynthFlow};
use vnetsim_traffic::tcp_flags::*;
use vnetsim_traffic::{
    http_host, linktype, rewrite_ipv4, tls_sni, CaptureReader, Ipv4Flow, PacketKind, PcapWriter,
    Rewrite, TsPrecision,
};

fn flows() -> Vec<SynthFlow> {
    vec![
        SynthFlow {
            src: ip("10.0.0.4"),
            dst: ip("20.50.1.2"),
            proto: 6,
            sport: 50000,
            dport: 443,
            fqdn: Some("login.microsoftonline.com".into()),
            reply: true,
            packets: 3,
        },
        SynthFlow {
            src: ip("10.0.0.5"),
            dst: ip("52.1.2.3"),
            proto: 6,
            sport: 50001,
            dport: 80,
            fqdn: Some("www.example.org".into()),
            reply: true,
            packets: 2,
        },
        SynthFlow {
            src: ip("10.0.0.6"),
            dst: ip("10.1.0.9"),
            proto: 6,
            sport: 50002,
            dport: 1433,
            fqdn: None,
            reply: false,
            packets: 1,
        },
        SynthFlow {
            src: ip("10.0.0.7"),
            dst: ip("168.63.129.16"),
            proto: 17,
            sport: 40000,
            dport: 53,
            fqdn: Some("contoso.blob.core.windows.net".into()),
            reply: true,
            packets: 2,
        },
        SynthFlow {
            src: ip("10.0.0.8"),
            dst: ip("10.1.0.1"),
            proto: 1,
            sport: 77,
            dport: 0,
            fqdn: None,
            reply: true,
            packets: 4,
        },
        SynthFlow {
            src: ip("10.0.0.9"),
            dst: ip("10.1.0.2"),
            proto: 47,
            sport: 0,
            dport: 0,
            fqdn: None,
            reply: false,
            packets: 2,
        },
    ]
}

/// Naive Internet checksum over a byte string (returns 0 when it verifies).
fn naive(bytes: &[u8]) -> u16 {
    let mut s: u64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        s += if i % 2 == 0 {
            (*b as u64) << 8
        } else {
            *b as u64
        };
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Check IPv4 header and TCP/UDP/ICMP checksums of an Ethernet frame, two ways.
fn assert_checksums_ok(frame: &[u8]) {
    let sp = SlicedPacket::from_ethernet(frame).expect("etherparse parses the frame");
    let Some(etherparse::NetSlice::Ipv4(ipv4)) = sp.net else {
        panic!("not IPv4")
    };
    let h = ipv4.header().to_header();
    assert_eq!(
        h.header_checksum,
        h.calc_header_checksum(),
        "IPv4 header checksum (etherparse)"
    );
    let ihl = h.header_len();
    let ip_bytes = &frame[14..14 + h.total_len as usize];
    assert_eq!(naive(&ip_bytes[..ihl]), 0, "IPv4 header checksum (naive)");
    let seg = &ip_bytes[ihl..];
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&h.source);
    pseudo.extend_from_slice(&h.destination);
    pseudo.extend_from_slice(&[0, h.protocol.0]);
    pseudo.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(seg);
    match sp.transport {
        Some(TransportSlice::Tcp(t)) => {
            let want = t.to_header().calc_checksum_ipv4(&h, t.payload()).unwrap();
            assert_eq!(t.checksum(), want, "TCP checksum (etherparse)");
            assert_eq!(naive(&pseudo), 0, "TCP checksum (naive)");
        }
        Some(TransportSlice::Udp(u)) => {
            let want = u.to_header().calc_checksum_ipv4(&h, u.payload()).unwrap();
            assert_eq!(u.checksum(), want, "UDP checksum (etherparse)");
            assert_eq!(naive(&pseudo), 0, "UDP checksum (naive)");
        }
        Some(TransportSlice::Icmpv4(_)) => assert_eq!(naive(seg), 0, "ICMP checksum (naive)"),
        _ => {}
    }
}

fn v4(k: PacketKind) -> Ipv4Flow {
    match k {
        PacketKind::Ipv4(f) => f,
        k => panic!("expected IPv4, got {k:?}"),
    }
}

#[test]
fn synth_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synth.pcap");
    let fl = flows();
    let sum = synth::write_flows_to_path(&path, &fl, &SynthConfig::default()).unwrap();
    // TCP 443: SYN, SYN-ACK, ACK, 3 x (data + reply), FIN, FIN-ACK, ACK = 12
    // TCP 80: 3 + 2*2 + 3 = 10; TCP no reply: SYN, ACK, 1 data, FIN = 4
    // UDP: 2 x (req + reply) = 4; ICMP: 4 x 2 = 8; GRE: 2
    assert_eq!(sum.per_flow, vec![12, 10, 4, 4, 8, 2]);
    let (pkts, st) = read_all(&path);
    assert_eq!(st.packets, sum.packets);
    assert_eq!(st.ipv4, sum.packets);
    assert_eq!(
        st.malformed_total() + st.corrupt_records + st.truncated_records,
        0
    );
    let mut last = 0;
    let mut seen = vec![0u64; fl.len()];
    let (mut sni, mut host, mut dns) = (None, None, 0);
    for p in &pkts {
        assert!(p.info.ts_ns >= last, "time order");
        last = p.info.ts_ns;
        assert_checksums_ok(&p.data);
        let f = v4(p.info.kind);
        // which flow, in either direction
        let i = fl
            .iter()
            .position(|s| {
                s.proto == f.proto
                    && ((s.src, s.dst) == (f.src, f.dst) || (s.src, s.dst) == (f.dst, f.src))
            })
            .expect("packet of a known flow");
        seen[i] += 1;
        let s = &fl[i];
        let fwd = (f.src, f.dst) == (s.src, s.dst);
        match s.proto {
            6 | 17 => {
                let want = if fwd {
                    (s.sport, s.dport)
                } else {
                    (s.dport, s.sport)
                };
                assert_eq!((f.sport, f.dport), want);
            }
            1 => assert_eq!((f.sport, f.dport), (77, if fwd { 0x0800 } else { 0 })),
            _ => {}
        }
        let pl = f.l4_payload(&p.data);
        if let Some(n) = tls_sni(pl) {
            assert_eq!(i, 0);
            sni = Some(n.to_string());
        }
        if let Some(h) = http_host(pl) {
            assert_eq!(i, 1);
            host = Some(h.to_string());
        }
        if i == 3 && fwd && pl.windows(8).any(|w| w == b"\x07contoso") {
            dns += 1;
        }
    }
    assert_eq!(seen, sum.per_flow);
    assert_eq!(sni.as_deref(), Some("login.microsoftonline.com"));
    assert_eq!(host.as_deref(), Some("www.example.org"));
    assert_eq!(dns, 1);
    // TCP flag sequence of the 443 flow
    let flags: Vec<u8> = pkts
        .iter()
        .map(|p| v4(p.info.kind))
        .filter(|f| f.proto == 6 && (f.src == fl[0].src || f.dst == fl[0].src))
        .map(|f| f.tcp_flags)
        .collect();
    assert_eq!(&flags[..3], &[SYN, SYN | ACK, ACK]);
    assert_eq!(flags[3], PSH | ACK);
    assert_eq!(&flags[flags.len() - 3..], &[FIN | ACK, FIN | ACK, ACK]);
    // Deterministic: same inputs, same bytes.
    let path2 = dir.path().join("synth2.pcap");
    synth::write_flows_to_path(&path2, &fl, &SynthConfig::default()).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(&path2).unwrap()
    );
}

#[test]
fn large_capture_streams() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.pcap");
    let fl = synth::default_flow_set(50, 9);
    let sum = synth::write_large(&path, &fl, 20_000, 1).unwrap();
    assert_eq!(sum.packets, 20_000);
    assert_eq!(sum.file_bytes, 24 + 16 * 20_000 + sum.bytes);
    let mut r = CaptureReader::open(&path).unwrap();
    let mut snis = 0;
    let mut n = 0;
    while let Some(p) = r.next_packet() {
        if n < 500 {
            assert_checksums_ok(p.data);
        }
        n += 1;
        if let PacketKind::Ipv4(f) = p.info.kind {
            if tls_sni(f.l4_payload(p.data)).is_some() {
                snis += 1;
            }
        }
    }
    assert_eq!(r.stats().ipv4, 20_000);
    // flows 0..=5 of every 10 are TLS with a name: 30 of 50
    assert_eq!(snis, 30);
}

#[test]
fn writer_round_trip_and_raw_ip() {
    let (pkts, _) = read_all(captures("zeek/http-qinq-0.pcap"));
    let mut out = Vec::new();
    {
        let mut w = PcapWriter::new(&mut out, linktype::ETHERNET, TsPrecision::Nano).unwrap();
        for p in &pkts {
            w.write_packet(p.info.ts_ns, &p.data, p.info.wire_len)
                .unwrap();
        }
        w.flush().unwrap();
    }
    let (back, _) = read_bytes(out);
    assert_eq!(back.len(), pkts.len());
    for (a, b) in pkts.iter().zip(&back) {
        assert_eq!(a.info, b.info);
        assert_eq!(a.data, b.data);
    }
    // raw IPv4 output: strip the link layer
    let mut out = Vec::new();
    {
        let mut w = PcapWriter::new(&mut out, linktype::RAW, TsPrecision::Micro).unwrap();
        for p in &pkts {
            let off = vnetsim_traffic::ipv4_offset(p.link_type, &p.data).unwrap();
            w.write_packet(p.info.ts_ns, &p.data[off..], p.info.wire_len - off as u32)
                .unwrap();
        }
        w.flush().unwrap();
    }
    let (back, _) = read_bytes(out);
    for (a, b) in pkts.iter().zip(&back) {
        let (fa, fb) = (v4(a.info.kind), v4(b.info.kind));
        assert_eq!(
            (fa.src, fa.dst, fa.sport, fa.dport, fa.tcp_flags),
            (fb.src, fb.dst, fb.sport, fb.dport, fb.tcp_flags)
        );
        assert_eq!(a.info.ts_ns / 1000, b.info.ts_ns / 1000);
    }
}

#[test]
fn rewrite_keeps_checksums_valid() {
    // Real packets with correct checksums (tcpdump -v: "cksum 0x1c60 (correct)"),
    // and every synthetic packet.
    let mut frames: Vec<(Vec<u8>, u32)> = Vec::new();
    for f in [
        "zeek/chksums-ip4-tcp-good-chksum.pcap",
        "zeek/chksums-ip4-udp-good-chksum.pcap",
    ] {
        for p in read_all(captures(f)).0 {
            frames.push((p.data, p.link_type));
        }
    }
    let mut buf = Vec::new();
    synth::write_flows(&mut buf, &flows(), &SynthConfig::default()).unwrap();
    for p in read_bytes(buf).0 {
        frames.push((p.data, p.link_type));
    }
    let rewrites = [
        Rewrite {
            src: Some(ip("100.64.1.2")),
            ..Default::default()
        },
        Rewrite {
            dst: Some(ip("192.0.2.200")),
            dport: Some(8443),
            ..Default::default()
        },
        Rewrite {
            src: Some(ip("255.255.255.255")),
            dst: Some(0),
            sport: Some(0xffff),
            dport: Some(0),
        },
        Rewrite {
            src: Some(ip("10.9.8.7")),
            dst: Some(ip("172.16.0.1")),
            sport: Some(1),
            dport: Some(65535),
        },
    ];
    for (frame, lt) in &frames {
        assert_checksums_ok(frame);
        for rw in &rewrites {
            let mut d = frame.clone();
            rewrite_ipv4(&mut d, *lt, rw).unwrap();
            assert_checksums_ok(&d);
            let f = v4(vnetsim_traffic::decode_packet(*lt, &d, 0, d.len() as u32).kind);
            let orig = v4(vnetsim_traffic::decode_packet(*lt, frame, 0, frame.len() as u32).kind);
            assert_eq!(f.src, rw.src.unwrap_or(orig.src));
            assert_eq!(f.dst, rw.dst.unwrap_or(orig.dst));
            if f.proto == 6 || f.proto == 17 {
                assert_eq!(f.sport, rw.sport.unwrap_or(orig.sport));
                assert_eq!(f.dport, rw.dport.unwrap_or(orig.dport));
            }
            // and back again: the original bytes
            let back = Rewrite {
                src: Some(orig.src),
                dst: Some(orig.dst),
                sport: Some(orig.sport),
                dport: Some(orig.dport),
            };
            let back = if f.proto == 6 || f.proto == 17 {
                back
            } else {
                Rewrite {
                    sport: None,
                    dport: None,
                    ..back
                }
            };
            rewrite_ipv4(&mut d, *lt, &back).unwrap();
            // checksum fields may differ only by the +0/-0 representation
            assert_checksums_ok(&d);
        }
    }
    // recomputation agrees with the incremental update
    let (frame, lt) = &frames[0];
    let mut a = frame.clone();
    rewrite_ipv4(&mut a, *lt, &rewrites[3]).unwrap();
    let mut b = a.clone();
    vnetsim_traffic::fix_ipv4_checksums(&mut b, *lt).unwrap();
    assert_eq!(a, b);
    let _ = Ipv4Header::default();
}
