//! Deterministic synthetic traffic written as Ethernet pcap.
//!
//! [`write_flows`] turns a list of [`SynthFlow`]s into realistic-looking
//! conversations (TCP handshake, a first data packet carrying a TLS
//! ClientHello with SNI or an HTTP request with Host, more data, FIN; UDP
//! request/reply; ICMP echo). [`write_large`] streams a capture of any number
//! of packets over a set of flows, for benchmarks. All checksums are valid;
//! the same inputs always give the same bytes.

use std::io::{self, Write};
use std::path::Path;

use crate::decode::linktype;
use crate::writer::{
    fold_checksum, ipv4_header_checksum, ipv4_l4_checksum, ones_sum, PcapWriter, TsPrecision,
};

/// Default start time of synthetic captures: 2023-11-14T22:13:20Z, in ns.
pub const DEFAULT_START_NS: u64 = 1_700_000_000_000_000_000;

/// One conversation to synthesise. Addresses and ports in host byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthFlow {
    pub src: u32,
    pub dst: u32,
    /// 6 (TCP), 17 (UDP), 1 (ICMP) or any other protocol number (raw payload).
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    /// Name carried by the first data packet: TLS SNI when `dport` is 443,
    /// HTTP Host when `dport` is 80, DNS query name when UDP `dport` is 53.
    pub fqdn: Option<String>,
    /// Whether the destination answers (SYN-ACK, replies, echo replies).
    pub reply: bool,
    /// Data packets (TCP), requests (UDP), echo requests (ICMP) or packets
    /// (other protocols) sent by the source.
    pub packets: u32,
}

/// Small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi` (hi > lo).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
}

/// Locally administered MAC address derived from an IPv4 address.
pub fn mac_for(ip: u32) -> [u8; 6] {
    let b = ip.to_be_bytes();
    [0x02, 0x00, b[0], b[1], b[2], b[3]]
}

/// Addressing of one packet being built.
#[derive(Debug, Clone, Copy)]
pub struct Endpoints {
    pub src: u32,
    pub dst: u32,
    pub ip_id: u16,
}

fn push_eth_ip(buf: &mut Vec<u8>, ep: Endpoints, proto: u8, l4_len: usize, df: bool) {
    buf.clear();
    buf.extend_from_slice(&mac_for(ep.dst));
    buf.extend_from_slice(&mac_for(ep.src));
    buf.extend_from_slice(&0x0800u16.to_be_bytes());
    let total = (20 + l4_len) as u16;
    let start = buf.len();
    buf.extend_from_slice(&[0x45, 0]);
    buf.extend_from_slice(&total.to_be_bytes());
    buf.extend_from_slice(&ep.ip_id.to_be_bytes());
    buf.extend_from_slice(&(if df { 0x4000u16 } else { 0 }).to_be_bytes());
    buf.extend_from_slice(&[64, proto, 0, 0]);
    buf.extend_from_slice(&ep.src.to_be_bytes());
    buf.extend_from_slice(&ep.dst.to_be_bytes());
    let c = ipv4_header_checksum(&buf[start..start + 20]);
    buf[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
}

/// Build an Ethernet/IPv4/TCP frame into `buf` (cleared first).
#[allow(clippy::too_many_arguments)]
pub fn build_tcp(
    buf: &mut Vec<u8>,
    ep: Endpoints,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) {
    let syn = flags & 0x02 != 0;
    let hl = if syn { 24 } else { 20 };
    push_eth_ip(buf, ep, 6, hl + payload.len(), true);
    let s = buf.len();
    buf.extend_from_slice(&sport.to_be_bytes());
    buf.extend_from_slice(&dport.to_be_bytes());
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&ack.to_be_bytes());
    buf.push(((hl / 4) as u8) << 4);
    buf.push(flags);
    buf.extend_from_slice(&64240u16.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0]);
    if syn {
        buf.extend_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
    }
    buf.extend_from_slice(payload);
    let c = ipv4_l4_checksum(ep.src, ep.dst, 6, &buf[s..]);
    buf[s + 16..s + 18].copy_from_slice(&c.to_be_bytes());
}

/// Build an Ethernet/IPv4/UDP frame into `buf`.
pub fn build_udp(buf: &mut Vec<u8>, ep: Endpoints, sport: u16, dport: u16, payload: &[u8]) {
    push_eth_ip(buf, ep, 17, 8 + payload.len(), false);
    let s = buf.len();
    buf.extend_from_slice(&sport.to_be_bytes());
    buf.extend_from_slice(&dport.to_be_bytes());
    buf.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(payload);
    let mut c = ipv4_l4_checksum(ep.src, ep.dst, 17, &buf[s..]);
    if c == 0 {
        c = 0xffff;
    }
    buf[s + 6..s + 8].copy_from_slice(&c.to_be_bytes());
}

/// Build an Ethernet/IPv4/ICMP echo (type 8 request, 0 reply) frame into `buf`.
pub fn build_icmp_echo(
    buf: &mut Vec<u8>,
    ep: Endpoints,
    ty: u8,
    id: u16,
    seq: u16,
    payload: &[u8],
) {
    push_eth_ip(buf, ep, 1, 8 + payload.len(), false);
    let s = buf.len();
    buf.extend_from_slice(&[ty, 0, 0, 0]);
    buf.extend_from_slice(&id.to_be_bytes());
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(payload);
    let c = fold_checksum(ones_sum(&buf[s..], 0));
    buf[s + 2..s + 4].copy_from_slice(&c.to_be_bytes());
}

/// Build an Ethernet/IPv4 frame of any protocol with a raw payload.
pub fn build_raw_ip(buf: &mut Vec<u8>, ep: Endpoints, proto: u8, payload: &[u8]) {
    push_eth_ip(buf, ep, proto, payload.len(), false);
    buf.extend_from_slice(payload);
}

/// A TLS 1.2-framed ClientHello (offering TLS 1.3) naming `sni`.
pub fn client_hello(sni: &str, rng: &mut SplitMix64) -> Vec<u8> {
    let name = sni.as_bytes();
    let mut ext = Vec::new();
    // server_name
    ext.extend_from_slice(&0u16.to_be_bytes());
    ext.extend_from_slice(&((name.len() + 5) as u16).to_be_bytes());
    ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
    ext.extend_from_slice(name);
    // supported_groups: x25519, secp256r1
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    // ec_point_formats: uncompressed
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256
    ext.extend_from_slice(&[
        0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01,
    ]);
    // supported_versions: TLS 1.3, 1.2
    ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
    // key_share: x25519 with a 32-byte key
    ext.extend_from_slice(&[0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20]);
    let mut key = [0u8; 32];
    rng.fill(&mut key);
    ext.extend_from_slice(&key);

    let mut body = Vec::new();
    body.extend_from_slice(&[0x03, 0x03]);
    let mut random = [0u8; 32];
    rng.fill(&mut random);
    body.extend_from_slice(&random);
    body.push(32);
    let mut sid = [0u8; 32];
    rng.fill(&mut sid);
    body.extend_from_slice(&sid);
    // cipher suites: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,
    // TLS_CHACHA20_POLY1305_SHA256, ECDHE_ECDSA_AES128_GCM, ECDHE_RSA_AES128_GCM
    let suites = [0x1301u16, 0x1302, 0x1303, 0xc02b, 0xc02f];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);

    let mut hs = vec![1u8];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![22u8, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// An HTTP/1.1 GET naming `host`.
pub fn http_get(host: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: vnetsim-synth/0.1\r\nAccept: */*\r\n\r\n"
    )
    .into_bytes()
}

/// A DNS A query for `name`.
pub fn dns_query(name: &str, id: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(18 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        q.push(l.len() as u8);
        q.extend_from_slice(l);
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

fn hint_payload(f: &SynthFlow, rng: &mut SplitMix64) -> Option<Vec<u8>> {
    let name = f.fqdn.as_deref()?;
    match (f.proto, f.dport) {
        (6, 443) => Some(client_hello(name, rng)),
        (6, 80) => Some(http_get(name)),
        (17, 53) => Some(dns_query(name, f.sport)),
        _ => None,
    }
}

fn random_payload(rng: &mut SplitMix64, lo: u64, hi: u64) -> Vec<u8> {
    let mut v = vec![0u8; rng.range(lo, hi) as usize];
    rng.fill(&mut v);
    v
}

/// Options of [`write_flows`].
#[derive(Debug, Clone, Copy)]
pub struct SynthConfig {
    pub seed: u64,
    pub start_ns: u64,
    /// Gap between the starts of consecutive flows.
    pub flow_gap_ns: u64,
    /// Mean gap between packets of one flow (jittered ±50%).
    pub packet_gap_ns: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 1,
            start_ns: DEFAULT_START_NS,
            flow_gap_ns: 1_000_000,
            packet_gap_ns: 50_000,
        }
    }
}

/// What [`write_flows`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SynthSummary {
    pub packets: u64,
    pub bytes: u64,
    /// Packets written per flow (in input order).
    pub per_flow: Vec<u64>,
}

/// Frames of one flow, with their time offsets from the flow start.
fn flow_frames(f: &SynthFlow, idx: usize, cfg: &SynthConfig) -> Vec<(u64, Vec<u8>)> {
    let mut rng = SplitMix64::new(cfg.seed ^ (idx as u64).wrapping_mul(0xA076_1D64_78BD_642F));
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut t = 0u64;
    let mut ip_id_c = rng.next() as u16;
    let mut ip_id_s = rng.next() as u16;
    let c2s = |id: &mut u16| {
        *id = id.wrapping_add(1);
        Endpoints {
            src: f.src,
            dst: f.dst,
            ip_id: *id,
        }
    };
    let s2c = |id: &mut u16| {
        *id = id.wrapping_add(1);
        Endpoints {
            src: f.dst,
            dst: f.src,
            ip_id: *id,
        }
    };
    let gap = cfg.packet_gap_ns.max(2);
    let mut push = |rng: &mut SplitMix64, buf: Vec<u8>, out: &mut Vec<(u64, Vec<u8>)>| {
        out.push((t, buf));
        t += rng.range(gap / 2, gap + gap / 2);
    };
    let mut buf = Vec::with_capacity(1600);
    match f.proto {
        6 => {
            use crate::record::tcp_flags::*;
            let mut cseq = rng.next() as u32;
            let mut sseq = rng.next() as u32;
            build_tcp(
                &mut buf,
                c2s(&mut ip_id_c),
                f.sport,
                f.dport,
                cseq,
                0,
                SYN,
                &[],
            );
            push(&mut rng, buf.clone(), &mut out);
            cseq = cseq.wrapping_add(1);
            if f.reply {
                build_tcp(
                    &mut buf,
                    s2c(&mut ip_id_s),
                    f.dport,
                    f.sport,
                    sseq,
                    cseq,
                    SYN | ACK,
                    &[],
                );
                push(&mut rng, buf.clone(), &mut out);
                sseq = sseq.wrapping_add(1);
            }
            build_tcp(
                &mut buf,
                c2s(&mut ip_id_c),
                f.sport,
                f.dport,
                cseq,
                sseq,
                ACK,
                &[],
            );
            push(&mut rng, buf.clone(), &mut out);
            let hint = hint_payload(f, &mut rng);
            for k in 0..f.packets {
                let payload = match (&hint, k) {
                    (Some(h), 0) => h.clone(),
                    _ => random_payload(&mut rng, 64, 1200),
                };
                build_tcp(
                    &mut buf,
                    c2s(&mut ip_id_c),
                    f.sport,
                    f.dport,
                    cseq,
                    sseq,
                    PSH | ACK,
                    &payload,
                );
                push(&mut rng, buf.clone(), &mut out);
                cseq = cseq.wrapping_add(payload.len() as u32);
                if f.reply {
                    let resp = random_payload(&mut rng, 32, 1400);
                    build_tcp(
                        &mut buf,
                        s2c(&mut ip_id_s),
                        f.dport,
                        f.sport,
                        sseq,
                        cseq,
                        PSH | ACK,
                        &resp,
                    );
                    push(&mut rng, buf.clone(), &mut out);
                    sseq = sseq.wrapping_add(resp.len() as u32);
                }
            }
            build_tcp(
                &mut buf,
                c2s(&mut ip_id_c),
                f.sport,
                f.dport,
                cseq,
                sseq,
                FIN | ACK,
                &[],
            );
            push(&mut rng, buf.clone(), &mut out);
            cseq = cseq.wrapping_add(1);
            if f.reply {
                build_tcp(
                    &mut buf,
                    s2c(&mut ip_id_s),
                    f.dport,
                    f.sport,
                    sseq,
                    cseq,
                    FIN | ACK,
                    &[],
                );
                push(&mut rng, buf.clone(), &mut out);
                sseq = sseq.wrapping_add(1);
                build_tcp(
                    &mut buf,
                    c2s(&mut ip_id_c),
                    f.sport,
                    f.dport,
                    cseq,
                    sseq,
                    ACK,
                    &[],
                );
                push(&mut rng, buf.clone(), &mut out);
            }
        }
        17 => {
            let hint = hint_payload(f, &mut rng);
            for k in 0..f.packets {
                let payload = match (&hint, k) {
                    (Some(h), 0) => h.clone(),
                    _ => random_payload(&mut rng, 16, 512),
                };
                build_udp(&mut buf, c2s(&mut ip_id_c), f.sport, f.dport, &payload);
                push(&mut rng, buf.clone(), &mut out);
                if f.reply {
                    let resp = random_payload(&mut rng, 16, 512);
                    build_udp(&mut buf, s2c(&mut ip_id_s), f.dport, f.sport, &resp);
                    push(&mut rng, buf.clone(), &mut out);
                }
            }
        }
        1 => {
            let id = if f.sport != 0 {
                f.sport
            } else {
                rng.next() as u16
            };
            for k in 0..f.packets {
                let mut payload = [0u8; 56];
                rng.fill(&mut payload);
                build_icmp_echo(&mut buf, c2s(&mut ip_id_c), 8, id, k as u16, &payload);
                push(&mut rng, buf.clone(), &mut out);
                if f.reply {
                    build_icmp_echo(&mut buf, s2c(&mut ip_id_s), 0, id, k as u16, &payload);
                    push(&mut rng, buf.clone(), &mut out);
                }
            }
        }
        p => {
            for _ in 0..f.packets {
                let payload = random_payload(&mut rng, 16, 512);
                build_raw_ip(&mut buf, c2s(&mut ip_id_c), p, &payload);
                push(&mut rng, buf.clone(), &mut out);
            }
        }
    }
    out
}

/// Write the flows as an Ethernet pcap to `out`, packets in time order.
///
/// Flow `i` starts at `start_ns + i * flow_gap_ns`. Per flow, TCP gives SYN,
/// SYN-ACK (if `reply`), ACK, `packets` data packets (the first carrying the
/// ClientHello/GET when `fqdn` is set and the port is 443/80), each answered
/// by a data packet when `reply`, then FIN (FIN-ACK and ACK when `reply`).
/// UDP gives `packets` datagrams, each followed by a reply when `reply`
/// (the first is a DNS query when `fqdn` is set and the port is 53). ICMP
/// gives `packets` echo requests with identifier `sport` (or a derived one
/// when 0), each followed by an echo reply when `reply`.
pub fn write_flows<W: Write>(
    out: W,
    flows: &[SynthFlow],
    cfg: &SynthConfig,
) -> io::Result<SynthSummary> {
    let mut all: Vec<(u64, usize, usize, Vec<u8>)> = Vec::new();
    let mut summary = SynthSummary {
        per_flow: vec![0; flows.len()],
        ..Default::default()
    };
    for (i, f) in flows.iter().enumerate() {
        let start = cfg.start_ns + i as u64 * cfg.flow_gap_ns;
        for (k, (t, frame)) in flow_frames(f, i, cfg).into_iter().enumerate() {
            all.push((start + t, i, k, frame));
        }
    }
    all.sort_by_key(|(t, i, k, _)| (*t, *i, *k));
    let mut w = PcapWriter::new(out, linktype::ETHERNET, TsPrecision::Nano)?;
    for (t, i, _, frame) in &all {
        w.write_packet(*t, frame, frame.len() as u32)?;
        summary.packets += 1;
        summary.bytes += frame.len() as u64;
        summary.per_flow[*i] += 1;
    }
    w.into_inner()?;
    Ok(summary)
}

/// [`write_flows`] to a new file.
pub fn write_flows_to_path(
    path: impl AsRef<Path>,
    flows: &[SynthFlow],
    cfg: &SynthConfig,
) -> io::Result<SynthSummary> {
    let f = std::fs::File::create(path)?;
    write_flows(io::BufWriter::with_capacity(1 << 20, f), flows, cfg)
}

/// A set of `n` distinct flows for [`write_large`]: TCP 443/80 with names,
/// UDP 53 and ICMP, from 10.0.0.0/16 to 10.1.0.0/16 and a few public ranges.
pub fn default_flow_set(n: usize, seed: u64) -> Vec<SynthFlow> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|i| {
            // 10.0.0.4 upwards: Azure keeps .0 to .3 of a subnet for itself
            let src = 0x0a00_0004 + (i as u32 % 65_000);
            let dst = match i % 4 {
                0 => 0x0a01_0000 | (rng.next() as u32 & 0xffff),
                1 => 0x1400_0000 | (rng.next() as u32 & 0x00ff_ffff), // 20.0.0.0/8
                2 => 0x3400_0000 | (rng.next() as u32 & 0x00ff_ffff), // 52.0.0.0/8
                _ => 0x0a02_0000 | (rng.next() as u32 & 0xffff),
            };
            let (proto, dport, fqdn) = match i % 10 {
                0..=5 => (6, 443, Some(format!("svc{}.example.net", i % 97))),
                6 | 7 => (6, 80, Some(format!("web{}.example.org", i % 31))),
                8 => (17, 53, Some(format!("q{}.example.com", i % 53))),
                _ => (1, 0, None),
            };
            SynthFlow {
                src,
                dst,
                proto,
                sport: 1024 + (rng.next() % 60000) as u16,
                dport,
                fqdn,
                reply: true,
                packets: u32::MAX,
            }
        })
        .collect()
}

/// What [`write_large`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LargeSummary {
    pub packets: u64,
    /// Sum of frame lengths (packet data, without pcap record headers).
    pub bytes: u64,
    /// Size of the file.
    pub file_bytes: u64,
}

/// Stream a capture of exactly `n_packets` packets over `flows` (round-robin)
/// to `path`, one packet per microsecond. Each TCP flow opens with SYN,
/// SYN-ACK, ACK and a ClientHello/GET when it has a name, then carries data
/// in both directions with an IMIX-like size mix (64, 576, 1500 byte frames);
/// UDP flows alternate request and reply, ICMP flows echo request and reply.
/// Memory use is constant: one frame buffer and a 1 MiB write buffer.
pub fn write_large(
    path: impl AsRef<Path>,
    flows: &[SynthFlow],
    n_packets: u64,
    seed: u64,
) -> io::Result<LargeSummary> {
    let f = std::fs::File::create(path)?;
    let mut w = PcapWriter::new(
        io::BufWriter::with_capacity(1 << 20, f),
        linktype::ETHERNET,
        TsPrecision::Micro,
    )?;
    let mut sum = LargeSummary::default();
    if flows.is_empty() {
        let f = w.into_inner()?.into_inner().map_err(|e| e.into_error())?;
        sum.file_bytes = f.metadata()?.len();
        return Ok(sum);
    }
    let mut rng = SplitMix64::new(seed);
    let mut noise = vec![0u8; 4096];
    rng.fill(&mut noise);
    let hints: Vec<Option<Vec<u8>>> = flows.iter().map(|f| hint_payload(f, &mut rng)).collect();
    // per flow: packets emitted, client seq, server seq
    let mut state: Vec<(u64, u32, u32)> = flows
        .iter()
        .map(|_| (0, rng.next() as u32, rng.next() as u32))
        .collect();
    let mut buf = Vec::with_capacity(1600);
    use crate::record::tcp_flags::*;
    for i in 0..n_packets {
        let fi = (i % flows.len() as u64) as usize;
        let f = &flows[fi];
        let (k, cseq, sseq) = &mut state[fi];
        let id = *k as u16;
        let c = Endpoints {
            src: f.src,
            dst: f.dst,
            ip_id: id,
        };
        let s = Endpoints {
            src: f.dst,
            dst: f.src,
            ip_id: id,
        };
        // IMIX-like payload size for data packets
        let size = match rng.next() % 12 {
            0..=6 => 6,
            7..=10 => 522,
            _ => 1446,
        };
        let off = (rng.next() % 2048) as usize;
        let data = &noise[off..off + size];
        match f.proto {
            6 => match *k {
                0 => build_tcp(&mut buf, c, f.sport, f.dport, *cseq, 0, SYN, &[]),
                1 => build_tcp(
                    &mut buf,
                    s,
                    f.dport,
                    f.sport,
                    *sseq,
                    cseq.wrapping_add(1),
                    SYN | ACK,
                    &[],
                ),
                2 => {
                    *cseq = cseq.wrapping_add(1);
                    *sseq = sseq.wrapping_add(1);
                    build_tcp(&mut buf, c, f.sport, f.dport, *cseq, *sseq, ACK, &[])
                }
                3 if hints[fi].is_some() => {
                    let h = hints[fi].as_deref().unwrap_or(&[]);
                    build_tcp(&mut buf, c, f.sport, f.dport, *cseq, *sseq, PSH | ACK, h);
                    *cseq = cseq.wrapping_add(h.len() as u32);
                }
                k if k % 2 == 1 => {
                    build_tcp(&mut buf, c, f.sport, f.dport, *cseq, *sseq, PSH | ACK, data);
                    *cseq = cseq.wrapping_add(size as u32);
                }
                _ => {
                    build_tcp(&mut buf, s, f.dport, f.sport, *sseq, *cseq, PSH | ACK, data);
                    *sseq = sseq.wrapping_add(size as u32);
                }
            },
            17 => {
                let d = if *k == 0 {
                    hints[fi].as_deref().unwrap_or(&data[..size.min(512)])
                } else {
                    &data[..size.min(512)]
                };
                if *k % 2 == 0 {
                    build_udp(&mut buf, c, f.sport, f.dport, d)
                } else {
                    build_udp(&mut buf, s, f.dport, f.sport, d)
                }
            }
            1 => {
                let ident = if f.sport != 0 { f.sport } else { fi as u16 };
                let seq = (*k / 2) as u16;
                if *k % 2 == 0 {
                    build_icmp_echo(&mut buf, c, 8, ident, seq, &noise[..56])
                } else {
                    build_icmp_echo(&mut buf, s, 0, ident, seq, &noise[..56])
                }
            }
            p => build_raw_ip(&mut buf, c, p, data),
        }
        *k += 1;
        w.write_packet(DEFAULT_START_NS + i * 1000, &buf, buf.len() as u32)?;
        sum.packets += 1;
        sum.bytes += buf.len() as u64;
    }
    let f = w.into_inner()?.into_inner().map_err(|e| e.into_error())?;
    sum.file_bytes = f.metadata()?.len();
    Ok(sum)
}
