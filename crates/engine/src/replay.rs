//! Replay of captures through the fabric. Pass one streams every capture
//! once, keeping a flow table keyed by 5-tuple (a packet of a known flow
//! costs one hash lookup) and the first L7 hint (TLS SNI, HTTP Host) of each
//! flow. The distinct flows are then walked in parallel. A second pass, only
//! when per-packet results or rewritten captures are asked for, streams the
//! captures again and looks each packet's flow up. Memory grows with the
//! number of flows, never with the number of packets.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use rayon::prelude::*;
use vnetsim_fabric::{Endpoint, Fabric};
use vnetsim_traffic::{http_host, tcp_flags, tls_sni, CaptureReader, Ipv4Flow, PacketKind, ReadStats};

use crate::{trace_with, Flow, Scratch, Trace, ICMP, TCP};

/// FxHash: a multiply-rotate hasher for small integer keys (not DoS resistant; keys come from a file).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for b in chunks.remainder() {
            self.write_u64(*b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_isize(&mut self, v: isize) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A 5-tuple as a flow-table key: (src, dst, sport << 16 | dport, proto).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Key(u32, u32, u32, u8);

fn key(p: &Ipv4Flow) -> (Key, Key) {
    // ICMP: the traffic crate puts the echo identifier in sport and type/code in dport;
    // requests and replies share the identifier, so key on it both ways.
    let (sp, dp) = if p.proto == ICMP { (p.sport, p.sport) } else { (p.sport, p.dport) };
    (Key(p.src, p.dst, (sp as u32) << 16 | dp as u32, p.proto), Key(p.dst, p.src, (dp as u32) << 16 | sp as u32, p.proto))
}

/// One flow of the capture, in the direction of its first packet.
#[derive(Clone, Debug)]
pub struct FlowRecord {
    pub flow: Flow,
    pub ingress: Endpoint,
    /// The first packet seen was TCP without SYN (or a SYN-ACK): no request state exists.
    pub midstream: bool,
    pub fqdn: Option<String>,
    hint_checked: bool,
    pub first_ts_ns: u64,
    pub request_packets: u64,
    pub request_bytes: u64,
    pub reply_packets: u64,
    pub reply_bytes: u64,
}

#[derive(Clone, Debug, Default)]
pub struct ReplayStats {
    pub read: ReadStats,
    pub captures: usize,
    /// IPv4 packets placed in a flow.
    pub modelled_packets: u64,
    pub modelled_bytes: u64,
    /// Later fragments whose first fragment was never seen (their ports are unknown).
    pub orphan_fragments: u64,
}

/// The flow table after pass one.
#[derive(Default)]
pub struct FlowTable {
    map: FxMap<Key, u32>,
    pub flows: Vec<FlowRecord>,
    pub stats: ReplayStats,
}

/// Where a packet belongs: its flow, and whether it travels in the reply direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub flow: u32,
    pub reply: bool,
}

impl FlowTable {
    /// Finds a packet's flow (request or reply direction) without inserting.
    #[inline]
    pub fn place(&self, p: &Ipv4Flow) -> Option<Placement> {
        let (k, r) = key(p);
        if let Some(&i) = self.map.get(&k) {
            return Some(Placement { flow: i, reply: false });
        }
        self.map.get(&r).map(|&i| Placement { flow: i, reply: true })
    }

    /// Pass one over a packet: counts it into its flow, creating the flow when new.
    #[inline]
    pub fn observe(&mut self, f: &Fabric, from: Option<Endpoint>, p: &Ipv4Flow, data: &[u8], wire_len: u32, ts_ns: u64) -> Placement {
        let (k, r) = key(p);
        let pl = if let Some(&i) = self.map.get(&k) {
            Placement { flow: i, reply: false }
        } else if let Some(&i) = self.map.get(&r) {
            Placement { flow: i, reply: true }
        } else {
            let i = self.flows.len() as u32;
            let syn_only = p.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
            let (sport, dport) = if p.proto == ICMP { (0, 0) } else { (p.sport, p.dport) };
            let flow = Flow { src: p.src, dst: p.dst, proto: p.proto, sport, dport };
            self.flows.push(FlowRecord {
                flow,
                ingress: from.unwrap_or_else(|| f.endpoint_of_source(p.src)),
                midstream: p.proto == TCP && !syn_only,
                fqdn: None,
                hint_checked: false,
                first_ts_ns: ts_ns,
                request_packets: 0,
                request_bytes: 0,
                reply_packets: 0,
                reply_bytes: 0,
            });
            self.map.insert(k, i);
            Placement { flow: i, reply: false }
        };
        let rec = &mut self.flows[pl.flow as usize];
        if pl.reply {
            rec.reply_packets += 1;
            rec.reply_bytes += wire_len as u64;
        } else {
            rec.request_packets += 1;
            rec.request_bytes += wire_len as u64;
            if !rec.hint_checked && p.l4_payload_len > 0 {
                // The first payload of the request direction carries the name, if any.
                rec.hint_checked = true;
                let payload = p.l4_payload(data);
                let name = tls_sni(payload).or_else(|| http_host(payload));
                rec.fqdn = name.map(|n| n.to_ascii_lowercase());
            }
        }
        self.stats.modelled_packets += 1;
        self.stats.modelled_bytes += wire_len as u64;
        pl
    }
}

/// Pass one over every capture, in the order given.
pub fn build_table(f: &Fabric, captures: &[&Path], from: Option<Endpoint>, progress: &dyn Fn(u64)) -> Result<FlowTable, String> {
    let mut t = FlowTable::default();
    // Size the table for a guess of one flow per 16 packets of ~300 bytes, capped, so
    // large captures do not spend their time growing it.
    let bytes: u64 = captures.iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).sum();
    let guess = ((bytes / 300 / 16) as usize).clamp(1024, 4 << 20);
    t.map.reserve(guess);
    t.flows.reserve(guess);
    for path in captures {
        let mut r = CaptureReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut since = 0u64;
        while let Some(pkt) = r.next_packet() {
            if let PacketKind::Ipv4(p) = pkt.info.kind {
                if p.frag == vnetsim_traffic::Fragment::LaterOrphan {
                    t.stats.orphan_fragments += 1;
                    continue;
                }
                t.observe(f, from, &p, pkt.data, pkt.info.wire_len, pkt.info.ts_ns);
            }
            since += 1;
            if since == 65536 {
                progress(since);
                since = 0;
            }
        }
        progress(since);
        t.stats.read.merge(r.stats());
        t.stats.captures += 1;
    }
    Ok(t)
}

/// The FQDN a flow is matched with: its L7 hint, else the destination's.
pub fn flow_fqdn<'a>(f: &'a Fabric, r: &'a FlowRecord) -> Option<&'a str> {
    r.fqdn.as_deref().or_else(|| crate::sweep::fqdn_for(f, r.flow.dst))
}

/// Walks every distinct flow in parallel; results in flow order, mapped by `map`.
pub fn walk_flows<R, M>(f: &Fabric, t: &FlowTable, map: M) -> Vec<R>
where
    R: Send,
    M: Fn(&Fabric, &Scratch, &Trace, &FlowRecord, Option<&str>) -> R + Sync,
{
    t.flows
        .par_chunks(512)
        .map_init(Scratch::new, |s, chunk| {
            chunk
                .iter()
                .map(|r| {
                    let fqdn = flow_fqdn(f, r);
                    let tr = trace_with(f, r.flow, r.ingress, fqdn, r.midstream, s);
                    map(f, s, &tr, r, fqdn)
                })
                .collect::<Vec<R>>()
        })
        .flatten_iter()
        .collect()
}
