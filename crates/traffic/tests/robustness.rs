//! Fuzz-style robustness: random byte strings and random mutations of real
//! captures, from a fixed seed. The reader and the decoders must not panic,
//! must terminate, and the hints must never panic on any payload.

mod common;
use common::*;
use std::io::Read;
use vnetsim_traffic::synth::SplitMix64;
use vnetsim_traffic::{decode_packet, http_host, rewrite_ipv4, tls_sni, CaptureReader, Rewrite};

fn exercise(bytes: Vec<u8>) {
    let len = bytes.len();
    if let Ok(mut r) = CaptureReader::from_bytes(bytes) {
        let mut n = 0u64;
        while let Some(p) = r.next_packet() {
            n += 1;
            assert!(n <= len as u64 / 12 + 1, "reader does not advance");
            if let vnetsim_traffic::PacketKind::Ipv4(f) = p.info.kind {
                let pl = f.l4_payload(p.data);
                let _ = tls_sni(pl);
                let _ = http_host(pl);
            }
            let mut d = p.data.to_vec();
            let _ = rewrite_ipv4(
                &mut d,
                p.link_type,
                &Rewrite {
                    src: Some(1),
                    dst: Some(2),
                    sport: Some(3),
                    dport: Some(4),
                },
            );
        }
    }
}

const MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0x0a, 0x0d, 0x0d, 0x0a],
    [0x1f, 0x8b, 0, 0],
];

#[test]
fn random_bytes() {
    let mut rng = SplitMix64::new(0x5eed);
    for i in 0..3000 {
        let len = rng.range(0, 600) as usize;
        let mut b = vec![0u8; len];
        rng.fill(&mut b);
        if len >= 4 && i % 2 == 0 {
            b[..4].copy_from_slice(&MAGICS[i / 2 % MAGICS.len()]);
        }
        // pcapng: make a plausible byte-order magic frequent
        if len >= 12 && b[0] == 0x0a && i % 4 == 0 {
            b[8..12].copy_from_slice(&[0x4d, 0x3c, 0x2b, 0x1a]);
        }
        exercise(b);
    }
}

#[test]
fn decoders_on_random_packets() {
    let mut rng = SplitMix64::new(42);
    let lts = [0u32, 1, 12, 14, 101, 108, 113, 228, 229, 276, 160];
    for _ in 0..20000 {
        let len = rng.range(0, 120) as usize;
        let mut b = vec![0u8; len];
        rng.fill(&mut b);
        // steer towards the interesting paths
        if len > 20 && rng.next() & 1 == 0 {
            b[12] = 0x08;
            b[13] = 0x00;
            b[14] = 0x40 | (b[14] & 0x0f);
        }
        let lt = lts[(rng.next() % lts.len() as u64) as usize];
        let info = decode_packet(lt, &b, 0, rng.next() as u32);
        if let vnetsim_traffic::PacketKind::Ipv4(f) = info.kind {
            let _ = f.l4_payload(&b);
        }
        let _ = tls_sni(&b);
        let _ = http_host(&b);
    }
}

#[test]
fn mutated_real_captures() {
    let files = [
        "zeek/http-qinq-0.pcap",
        "zeek/vlan-pcp-dei.pcapng",
        "zeek/ipv4-fragmented-3.pcap",
        "tcpdump/bgp-shutdown-communication.pcapng",
        "tcpdump/tcp-handshake-nano.pcap",
        "zeek/linux_dlt_sll2.pcap",
    ];
    let mut rng = SplitMix64::new(7);
    for f in files {
        let orig = std::fs::read(captures(f)).unwrap();
        for _ in 0..400 {
            let mut b = orig.clone();
            match rng.next() % 4 {
                0 => {
                    // flip a few bytes
                    for _ in 0..rng.range(1, 8) {
                        let i = rng.range(0, b.len() as u64) as usize;
                        b[i] ^= 1 << (rng.next() % 8);
                    }
                }
                1 => {
                    // truncate anywhere
                    let n = rng.range(0, b.len() as u64) as usize;
                    b.truncate(n);
                }
                2 => {
                    // overwrite a 4-byte length-like field with an extreme value
                    let i = rng.range(0, b.len() as u64 - 4) as usize;
                    let v: u32 = [0, 3, 12, 13, 0x7fff_ffff, 0xffff_fffc, 0xffff_ffff]
                        [(rng.next() % 7) as usize];
                    b[i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
                _ => {
                    // splice random garbage in the middle
                    let i = rng.range(0, b.len() as u64) as usize;
                    let mut g = vec![0u8; rng.range(1, 64) as usize];
                    rng.fill(&mut g);
                    b.splice(i..i, g);
                }
            }
            exercise(b);
        }
    }
}

#[test]
fn sni_never_panics_on_truncated_hello() {
    let mut rng = SplitMix64::new(3);
    let hello = vnetsim_traffic::synth::client_hello("truncated.example.com", &mut rng);
    assert_eq!(tls_sni(&hello), Some("truncated.example.com"));
    for n in 0..hello.len() {
        // cut anywhere before the end of the name: None, never a panic
        let r = tls_sni(&hello[..n]);
        assert!(
            r.is_none() || r == Some("truncated.example.com"),
            "{n}: {r:?}"
        );
    }
    let get = b"GET /x HTTP/1.1\r\nHost: a.example:8080\r\n\r\n";
    for n in 0..get.len() {
        let _ = http_host(&get[..n]);
    }
}

#[test]
fn a_capture_from_a_stream_is_the_capture_and_stops_at_its_limit() {
    // The repository's lab capture read through a stream gives the packets the file gives;
    // the same stream under a limit one byte short of its length is refused, and a stream of
    // zeros is refused on its first four bytes (nothing more is read from it).
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../traces/hub-spoke-lab.pcap");
    let bytes = std::fs::read(&path).unwrap();
    let count = |mut r: CaptureReader| {
        let mut n = 0u64;
        while r.next_packet().is_some() {
            n += 1;
        }
        n
    };
    let whole = CaptureReader::from_stream(&bytes[..], bytes.len() as u64).unwrap();
    assert_eq!(count(whole), count(CaptureReader::open(&path).unwrap()));
    let short = CaptureReader::from_stream(&bytes[..], bytes.len() as u64 - 1);
    assert!(matches!(
        short,
        Err(vnetsim_traffic::TrafficError::StreamTooLong(_))
    ));
    let mut zeros = std::io::repeat(0).take(1 << 40);
    let e = CaptureReader::from_stream(&mut zeros, 1 << 40)
        .err()
        .unwrap();
    assert!(matches!(
        e,
        vnetsim_traffic::TrafficError::UnknownFormat([0, 0, 0, 0])
    ));
    assert_eq!(zeros.limit(), (1 << 40) - 4);
}
