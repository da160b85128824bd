//! Replay of captures through the fabric. Pass one streams every capture
//! once, keeping a flow table keyed by 5-tuple (a packet of a known flow
//! costs one hash lookup) and the first L7 hint (TLS SNI, HTTP Host) of each
//! flow. The distinct flows are then walked in parallel. A second pass, only
//! when per-packet results or rewritten captures are asked for, streams the
//! captures again and looks each packet's flow up. Memory grows with the
//! number of flows, never with the number of packets.

use std::hash::Hasher;
use std::path::Path;

use rayon::prelude::*;
use vnetsim_fabric::{Endpoint, Fabric};
use vnetsim_traffic::{CaptureReader, Ipv4Flow, PacketKind, ReadStats};

use crate::{trace_with, AppProtocol, Flow, Scratch, Trace, ICMP, L7};

mod flow_map;
mod pass_one;
use flow_map::{key_hash, FlowMap};
pub use pass_one::build_table;

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

/// A 5-tuple as a flow-table key: (src, dst, sport << 16 | dport, proto).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Key(u32, u32, u32, u8);

/// A packet's flow-table key, the same for both directions: the lower (address, port) side
/// first. `true` when the packet travels from the higher side to the lower one.
fn key(p: &Ipv4Flow) -> (Key, bool) {
    // ICMP: the traffic crate puts the echo identifier in sport and type/code in dport;
    // requests and replies share the identifier, so key on it both ways.
    let (sp, dp) = if p.proto == ICMP {
        (p.sport, p.sport)
    } else {
        (p.sport, p.dport)
    };
    if (p.src, sp) <= (p.dst, dp) {
        (
            Key(p.src, p.dst, (sp as u32) << 16 | dp as u32, p.proto),
            false,
        )
    } else {
        (
            Key(p.dst, p.src, (dp as u32) << 16 | sp as u32, p.proto),
            true,
        )
    }
}

/// A flow-table entry: the flow's index, and whether its request went from the key's higher
/// side to its lower one (the first packet seen decides).
#[derive(Clone, Copy, Debug)]
struct Entry {
    flow: u32,
    swapped: bool,
}

impl Entry {
    fn place(self, swapped: bool) -> Placement {
        Placement {
            flow: self.flow,
            reply: swapped != self.swapped,
        }
    }
}

/// The canonical bidirectional 5-tuple of a flow-table key: the lower (address, port) side
/// first, so a request and its reply give the same bytes. 13 bytes: protocol, then the lower
/// side's address (4, big-endian) and port (2, big-endian), then the higher side's. ICMP
/// carries the echo identifier as both ports (what the flow table keys it on).
fn canonical_tuple(k: &Key) -> [u8; 13] {
    let (sp, dp) = ((k.2 >> 16) as u16, k.2 as u16);
    let (lo, hi) = if (k.0, sp) <= (k.1, dp) {
        ((k.0, sp), (k.1, dp))
    } else {
        ((k.1, dp), (k.0, sp))
    };
    let mut b = [0u8; 13];
    b[0] = k.3;
    b[1..5].copy_from_slice(&lo.0.to_be_bytes());
    b[5..7].copy_from_slice(&lo.1.to_be_bytes());
    b[7..11].copy_from_slice(&hi.0.to_be_bytes());
    b[11..13].copy_from_slice(&hi.1.to_be_bytes());
    b
}

/// 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3): a documented,
/// stable hash, the same on every machine and in every release, unlike the standard
/// library's randomly keyed SipHash.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The shard (of `count`) a flow of this 5-tuple belongs to: FNV-1a of its canonical
/// bidirectional 5-tuple modulo `count`, so both directions of a flow, and so all its
/// packets, land in the same shard. `sport`/`dport` as on the wire (for ICMP the echo
/// identifier in `sport`).
pub fn flow_shard(src: u32, dst: u32, proto: u8, sport: u16, dport: u16, count: u32) -> u32 {
    let dp = if proto == ICMP { sport } else { dport };
    shard_of_key(
        &Key(src, dst, (sport as u32) << 16 | dp as u32, proto),
        count,
    )
}

fn shard_of_key(k: &Key, count: u32) -> u32 {
    (fnv1a64(&canonical_tuple(k)) % count.max(1) as u64) as u32
}

/// `--map OLD/LEN=NEW/LEN`: re-addresses a capture taken elsewhere onto the fabric. An address
/// inside OLD keeps its host bits under NEW; the first matching rule applies.
#[derive(Clone, Debug, Default)]
pub struct AddressMap {
    rules: Vec<(u32, u32, u32)>,
}

impl AddressMap {
    /// Parses `OLD/LEN=NEW/LEN` (both lengths equal).
    pub fn add(&mut self, s: &str) -> Result<(), String> {
        let bad = || format!("invalid --map '{s}'; expected OLD/LEN=NEW/LEN with equal lengths");
        let (a, b) = s.split_once('=').ok_or_else(bad)?;
        let a: ipnet::Ipv4Net = a.trim().parse().map_err(|_| bad())?;
        let b: ipnet::Ipv4Net = b.trim().parse().map_err(|_| bad())?;
        if a.prefix_len() != b.prefix_len() {
            return Err(bad());
        }
        let mask = vnetsim_fabric::prefix::mask(a.prefix_len());
        self.rules
            .push((u32::from(a.network()), mask, u32::from(b.network())));
        Ok(())
    }
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
    #[inline]
    pub fn apply(&self, ip: u32) -> u32 {
        for &(net, mask, to) in &self.rules {
            if ip & mask == net {
                return to | (ip & !mask);
            }
        }
        ip
    }
    #[inline]
    fn packet(&self, p: &mut Ipv4Flow) {
        if !self.rules.is_empty() {
            p.src = self.apply(p.src);
            p.dst = self.apply(p.dst);
        }
    }
}

/// Where a flow's addresses are, against the fabric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Both addresses belong to the fabric (a NIC, endpoint, firewall, subnet, site, or one of
    /// the fabric's public addresses).
    InFabric,
    /// One of them does; the other is an Internet host.
    Partly,
    /// Neither does: the flow never touched this fabric (a capture taken elsewhere?).
    Outside,
}

impl Scope {
    pub fn of(f: &Fabric, src: u32, dst: u32) -> Scope {
        Scope::known(f.knows(src), f.knows(dst))
    }
    /// The scope of a flow whose source and destination the fabric knows or not.
    pub fn known(src: bool, dst: bool) -> Scope {
        match (src, dst) {
            (true, true) => Scope::InFabric,
            (false, false) => Scope::Outside,
            _ => Scope::Partly,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::InFabric => "in the fabric",
            Scope::Partly => "partly in the fabric",
            Scope::Outside => "outside the fabric",
        }
    }
}

/// One flow of the capture, in the direction of its first packet.
#[derive(Clone, Debug)]
pub struct FlowRecord {
    pub flow: Flow,
    pub ingress: Endpoint,
    pub scope: Scope,
    /// The first packet seen was TCP without SYN (or a SYN-ACK): no request state exists.
    pub midstream: bool,
    /// The name the request's first payload carried (TLS SNI, HTTP Host) and its protocol.
    pub hint: Option<(String, AppProtocol)>,
    hint_checked: bool,
    pub first_ts_ns: u64,
    pub last_ts_ns: u64,
    /// The capture (index into the list given) holding the flow's first packet.
    pub capture: u32,
    pub request_packets: u64,
    pub request_bytes: u64,
    pub reply_packets: u64,
    pub reply_bytes: u64,
}

impl FlowRecord {
    /// A flow seen somewhere else than in a capture (a flow table handed over as rows): its
    /// scope from the fabric, no name hint, nothing counted yet.
    pub fn new(f: &Fabric, flow: Flow, ingress: Endpoint, midstream: bool) -> FlowRecord {
        FlowRecord {
            flow,
            ingress,
            scope: Scope::of(f, flow.src, flow.dst),
            midstream,
            hint: None,
            hint_checked: true,
            first_ts_ns: 0,
            last_ts_ns: 0,
            capture: 0,
            request_packets: 0,
            request_bytes: 0,
            reply_packets: 0,
            reply_bytes: 0,
        }
    }
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
    /// The flows' keys, split by [`table_part`] of the key's hash into the maps pass one's
    /// table threads each kept: an entry is found by either direction's packets with one
    /// lookup, and holds the flow's index in `flows`.
    parts: Vec<FlowMap>,
    pub flows: Flows,
    pub stats: ReplayStats,
}

/// A replay's flows in the order of their first packets. Pass one's table threads each keep
/// the records of their part of the flows; merging them into that order records where each
/// flow is, rather than moving 600,000 records of a hundred bytes into one list.
#[derive(Default)]
pub struct Flows {
    parts: Vec<Vec<FlowRecord>>,
    /// Flow `i` is `parts[order[i].0][order[i].1]`; empty when there is one part.
    order: Vec<(u32, u32)>,
}

impl Flows {
    /// The records of each part and, when more than one, where each flow of the merged order
    /// is among them.
    fn of_parts(parts: Vec<Vec<FlowRecord>>, order: Vec<(u32, u32)>) -> Flows {
        debug_assert!(parts.len() <= 1 || order.len() == parts.iter().map(Vec::len).sum::<usize>());
        Flows { parts, order }
    }

    pub fn len(&self) -> usize {
        if self.order.is_empty() {
            self.parts.first().map_or(0, Vec::len)
        } else {
            self.order.len()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &FlowRecord> + '_ {
        (0..self.len()).map(move |i| &self[i])
    }

    /// The records, in flow order, as one list.
    pub fn into_vec(mut self) -> Vec<FlowRecord> {
        if self.order.is_empty() {
            return self.parts.pop().unwrap_or_default();
        }
        let mut parts: Vec<Vec<Option<FlowRecord>>> = self
            .parts
            .into_iter()
            .map(|p| p.into_iter().map(Some).collect())
            .collect();
        self.order
            .iter()
            .map(|&(p, l)| {
                parts[p as usize][l as usize]
                    .take()
                    .expect("each flow once")
            })
            .collect()
    }
}

impl From<Vec<FlowRecord>> for Flows {
    fn from(records: Vec<FlowRecord>) -> Flows {
        Flows {
            parts: vec![records],
            order: Vec::new(),
        }
    }
}

impl std::ops::Index<usize> for Flows {
    type Output = FlowRecord;
    #[inline]
    fn index(&self, i: usize) -> &FlowRecord {
        if self.order.is_empty() {
            &self.parts[0][i]
        } else {
            let (p, l) = self.order[i];
            &self.parts[p as usize][l as usize]
        }
    }
}

impl<'a> IntoIterator for &'a Flows {
    type Item = &'a FlowRecord;
    type IntoIter = Box<dyn ExactSizeIterator<Item = &'a FlowRecord> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl std::fmt::Debug for Flows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Where a packet belongs: its flow, and whether it travels in the reply direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub flow: u32,
    pub reply: bool,
}

/// The part (of `parts`) of the flow table a key of hash `hash` is kept in: the hash's low 32
/// bits, which the map's home slot (its top bits) does not use.
#[inline]
fn table_part(hash: u64, parts: usize) -> usize {
    ((hash as u32 as u64 * parts as u64) >> 32) as usize
}

impl FlowTable {
    /// Finds a packet's flow (request or reply direction) without inserting.
    #[inline]
    pub fn place(&self, p: &Ipv4Flow) -> Option<Placement> {
        let (k, swapped) = key(p);
        let h = key_hash(&k);
        let map = match self.parts.len() {
            0 => return None,
            1 => &self.parts[0],
            n => &self.parts[table_part(h, n)],
        };
        map.get(&k, h).map(|e| e.place(swapped))
    }

    /// Keeps only the flows of shard `index` of `count` ([`flow_shard`]), in their order:
    /// what `replay --shard I/N` walks. Pass two then places only this shard's packets.
    pub fn retain_shard(&mut self, index: u32, count: u32) {
        let mut keys: Vec<(Entry, Key)> = self
            .parts
            .iter()
            .flat_map(|m| m.entries().map(|(k, e)| (e, k)))
            .collect();
        keys.sort_unstable_by_key(|(e, _)| e.flow);
        let old = std::mem::take(&mut self.flows).into_vec();
        let mut map = FlowMap::default();
        let mut kept = Vec::new();
        for ((e, k), rec) in keys.into_iter().zip(old) {
            if shard_of_key(&k, count) == index {
                let flow = kept.len() as u32;
                map.get_or_insert(&k, key_hash(&k), || Entry { flow, ..e });
                kept.push(rec);
            }
        }
        self.flows = kept.into();
        self.parts = vec![map];
    }
}

/// One packet of pass two: its flow and direction, and its bytes.
pub struct PacketEvent<'a> {
    /// Position in the captures, from 1 (every record counts, IPv4 or not).
    pub index: u64,
    pub ts_ns: u64,
    pub packet: &'a Ipv4Flow,
    pub placement: Placement,
    pub link_type: u32,
    pub data: &'a [u8],
    pub wire_len: u32,
}

/// Pass two: streams the captures again, in the order given, and hands every IPv4 packet that
/// belongs to a flow of `t` to `each`, in capture order. Costs a hash lookup per packet and
/// allocates nothing per packet.
pub fn second_pass(
    captures: &[&Path],
    t: &FlowTable,
    map: &AddressMap,
    each: &mut dyn FnMut(&PacketEvent<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let mut index = 0u64;
    for path in captures {
        let mut r = CaptureReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        while let Some(pkt) = r.next_packet() {
            index += 1;
            let PacketKind::Ipv4(mut p) = pkt.info.kind else {
                continue;
            };
            map.packet(&mut p);
            let Some(placement) = t.place(&p) else {
                continue;
            };
            each(&PacketEvent {
                index,
                ts_ns: pkt.info.ts_ns,
                packet: &p,
                placement,
                link_type: pkt.link_type,
                data: pkt.data,
                wire_len: pkt.info.wire_len,
            })?;
        }
    }
    Ok(())
}

/// What application rules match a flow with: its observed hint, else the destination
/// service's FQDN with the protocol its port stands for ([`L7::by_port`]).
pub fn flow_l7<'a>(f: &'a Fabric, r: &'a FlowRecord) -> Option<L7<'a>> {
    match &r.hint {
        Some((fqdn, protocol)) => Some(L7 {
            fqdn,
            protocol: *protocol,
        }),
        None => crate::sweep::destination_l7(f, &r.flow),
    }
}

/// The service names of the destinations met last, direct-mapped by address: distinct flows
/// to one destination share its owner lookups ([`crate::sweep::fqdn_for`]). Each slot: the
/// address, whether it is set, and the name.
struct DestinationNames<'f> {
    slots: Vec<(u32, bool, Option<&'f str>)>,
}

/// Slots of [`DestinationNames`].
const DESTINATION_SLOTS: usize = 1 << 12;

impl<'f> DestinationNames<'f> {
    fn new() -> DestinationNames<'f> {
        DestinationNames {
            slots: vec![(0, false, None); DESTINATION_SLOTS],
        }
    }

    /// [`flow_l7`], the destination's name looked up here first.
    #[inline]
    fn l7<'a>(&mut self, f: &'f Fabric, r: &'a FlowRecord) -> Option<L7<'a>>
    where
        'f: 'a,
    {
        if let Some((fqdn, protocol)) = &r.hint {
            return Some(L7 {
                fqdn,
                protocol: *protocol,
            });
        }
        let dst = r.flow.dst;
        let slot = &mut self.slots[(dst ^ dst >> 12) as usize & (DESTINATION_SLOTS - 1)];
        if !(slot.1 && slot.0 == dst) {
            *slot = (dst, true, crate::sweep::fqdn_for(f, dst));
        }
        slot.2.map(|n| L7::by_port(n, r.flow.dport))
    }
}

/// Flows per unit of parallel work.
const WALK_CHUNK: usize = 512;

/// The flows of chunk `k` (of [`WALK_CHUNK`]), by index.
fn chunk_of(t: &FlowTable, k: usize) -> std::ops::Range<usize> {
    k * WALK_CHUNK..((k + 1) * WALK_CHUNK).min(t.flows.len())
}

/// Walks every distinct flow in parallel; results in flow order, mapped by `map`.
pub fn walk_flows<R, M>(f: &Fabric, t: &FlowTable, map: M) -> Vec<R>
where
    R: Send,
    M: Fn(&Fabric, &Scratch, &Trace, &FlowRecord, Option<L7<'_>>) -> R + Sync,
{
    (0..t.flows.len().div_ceil(WALK_CHUNK))
        .into_par_iter()
        .map_init(
            || (Scratch::new(), DestinationNames::new()),
            |(s, names), k| {
                chunk_of(t, k)
                    .map(|i| {
                        let r = &t.flows[i];
                        let l7 = names.l7(f, r);
                        let tr = trace_with(f, r.flow, r.ingress, l7, r.midstream, s);
                        map(f, s, &tr, r, l7)
                    })
                    .collect::<Vec<R>>()
            },
        )
        .flatten_iter()
        .collect()
}

/// Walks every distinct flow in parallel into one accumulator per parallel split, the splits'
/// accumulators then combined with `merge`: for results that do not depend on the order of
/// flows (counts, first indices), so nothing is kept per flow. `each` is given the trace, the
/// flow's index and its record.
pub fn fold_flows<A, I, M, R>(f: &Fabric, t: &FlowTable, init: I, each: M, merge: R) -> A
where
    A: Send,
    I: Fn() -> A + Sync + Send,
    M: Fn(&mut A, &Trace, usize, &FlowRecord) + Sync,
    R: Fn(A, A) -> A + Sync + Send,
{
    (0..t.flows.len().div_ceil(WALK_CHUNK))
        .into_par_iter()
        .fold(
            || (Scratch::new(), DestinationNames::new(), init()),
            |(mut s, mut names, mut acc), k| {
                for i in chunk_of(t, k) {
                    let r = &t.flows[i];
                    let l7 = names.l7(f, r);
                    let tr = trace_with(f, r.flow, r.ingress, l7, r.midstream, &mut s);
                    each(&mut acc, &tr, i, r);
                }
                (s, names, acc)
            },
        )
        .map(|(_, _, acc)| acc)
        .reduce(&init, &merge)
}

#[cfg(test)]
mod destination_names_tests {
    use super::*;
    use crate::TCP;

    #[test]
    fn a_destination_s_name_is_its_own_whatever_its_slot_held_before() {
        // The lab's Private Endpoint 10.1.2.5 serves app-flask.azurewebsites.net; an address
        // of the same slot has no name. Met in turns, each gets what the uncached lookup gives.
        let text = include_str!("../../../traces/hub-spoke-lab.yaml");
        let f = vnetsim_fabric::compile(&vnetsim_model::load_str("lab", text).unwrap());
        let slot = |a: u32| (a ^ a >> 12) as usize & (DESTINATION_SLOTS - 1);
        let pe = 0x0a01_0205;
        let other = (pe + 1..).find(|&a| slot(a) == slot(pe)).unwrap();
        let record = |dst: u32| {
            let flow = Flow {
                src: 0x0a02_0104,
                dst,
                proto: TCP,
                sport: 50000,
                dport: 443,
            };
            FlowRecord::new(&f, flow, f.endpoint_of_source(flow.src), false)
        };
        let (a, b) = (record(pe), record(other));
        let mut names = DestinationNames::new();
        for r in [&a, &b, &a, &a, &b] {
            let got = names.l7(&f, r).map(|q| q.fqdn.to_string());
            assert_eq!(got, flow_l7(&f, r).map(|q| q.fqdn.to_string()));
        }
        assert_eq!(
            names.l7(&f, &a).map(|q| q.fqdn),
            Some("app-flask.azurewebsites.net")
        );
        assert_eq!(names.l7(&f, &b).map(|q| q.fqdn), None);
    }
}

#[cfg(test)]
mod shard_tests {
    use super::*;
    use crate::TCP;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        // FNV test vectors (draft-eastlake-fnv, "FNV-1a 64"): "" and "a".
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn both_directions_of_a_flow_fall_in_one_shard() {
        let (a, b) = (0x0a00_0104, 0x0a01_0204);
        for n in [2, 7, 64] {
            assert_eq!(
                flow_shard(a, b, TCP, 50000, 443, n),
                flow_shard(b, a, TCP, 443, 50000, n)
            );
        }
        let spread: std::collections::BTreeSet<u32> = (0..200u16)
            .map(|p| flow_shard(a, b, TCP, 40000 + p, 443, 7))
            .collect();
        assert_eq!(spread.len(), 7, "200 flows reach every one of 7 shards");
    }
}
