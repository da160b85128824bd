//! Pass one: the flow table built from the captures.
//!
//! A reader thread decodes every record, keeps IPv4, looks for a name in request payloads and
//! deals the packets out by flow key ([`table_part`]) to one or more table threads. Each table
//! thread keeps the flows of its part (a hash lookup per packet, an insert per new flow) in
//! the order their first packets came, then finds each new flow's ingress and scope. The parts
//! are merged by the position of each flow's first packet, so the table (flow order, indices)
//! is the same whatever the number of table threads.

use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender};
use vnetsim_fabric::{Endpoint, Fabric};
use vnetsim_traffic::{
    http_host, tcp_flags, tls_sni, CaptureReader, Fragment, Ipv4Flow, PacketKind, ReadStats,
};

use super::{
    key, key_hash, table_part, AddressMap, Entry, FlowMap, FlowRecord, FlowTable, Flows, Key,
    Placement, ReplayStats, Scope,
};
use crate::{AppProtocol, Flow, ICMP, TCP};

/// Records the reader reads before it hands each table thread its share.
const BATCH: usize = 4096;
/// Batches in flight between the reader and each table thread: bounds memory whatever the
/// file size.
const IN_FLIGHT: usize = 8;
/// Table threads at most (more would only share the reader's output thinner).
const MAX_TABLE_THREADS: usize = 16;

/// One decoded packet of pass one, as the reader thread hands it over.
#[derive(Clone, Debug)]
struct Decoded {
    flow: Ipv4Flow,
    key: Key,
    /// [`key_hash`] of `key`, computed here so that a table thread can prefetch its slot.
    hash: u64,
    swapped: bool,
    /// Position in the captures, from 1 (every record counts, IPv4 or not).
    index: u64,
    /// The capture (index into the list given) it was read from.
    capture: u32,
    wire_len: u32,
    ts_ns: u64,
    /// TLS SNI or HTTP Host when this packet carries one (found by the reader): offset and
    /// length in its batch's hint arena, so a hint costs no allocation of its own.
    hint: Option<(u32, u16, AppProtocol)>,
}

/// A batch of decoded packets for one table thread and the arena their hints point into.
struct Packets {
    packets: Vec<Decoded>,
    hints: String,
    /// Records read from the capture for this batch (progress; told to the first table only).
    seen: u64,
    /// Whether the reader filled in each packet's key and hash (it needs them to deal packets
    /// out among table threads; with one, the table thread computes them itself).
    keyed: bool,
}

impl Packets {
    fn new(capacity: usize) -> Packets {
        Packets {
            packets: Vec::with_capacity(capacity),
            hints: String::new(),
            seen: 0,
            keyed: true,
        }
    }
    /// The batch with nothing in it, its memory kept.
    fn emptied(mut self) -> Packets {
        self.packets.clear();
        self.hints.clear();
        self.seen = 0;
        self.keyed = true;
        self
    }
    /// Appends a lower-cased hint to the arena and returns where it is.
    fn hint(&mut self, name: &str, proto: AppProtocol) -> Option<(u32, u16, AppProtocol)> {
        let at = u32::try_from(self.hints.len()).ok()?;
        let len = u16::try_from(name.len()).ok()?;
        self.hints
            .extend(name.chars().map(|c| c.to_ascii_lowercase()));
        Some((at, len, proto))
    }
}

/// What the reader thread found besides packets.
#[derive(Default)]
struct ReaderStats {
    read: ReadStats,
    captures: usize,
    orphan_fragments: u64,
}

/// Pass one over every capture, in the order given, with `tables` table threads (at least
/// one, the calling thread; at most [`MAX_TABLE_THREADS`]) beside the reader thread. Packets
/// keep capture order within each flow; flows are numbered in the order of their first
/// packets.
pub fn build_table(
    f: &Fabric,
    captures: &[&Path],
    from: Option<Endpoint>,
    map: &AddressMap,
    tables: usize,
    progress: &dyn Fn(u64),
) -> Result<FlowTable, String> {
    let tables = tables.clamp(1, MAX_TABLE_THREADS);
    let bytes = capture_bytes(captures);
    let guess = Guess {
        index: flow_guess(bytes) / tables,
        records: record_reserve(bytes, tables),
    };
    let paths: Vec<PathBuf> = captures.iter().map(|p| p.to_path_buf()).collect();
    let (txs, rxs): (Vec<Sender<Packets>>, Vec<Receiver<Packets>>) = (0..tables)
        .map(|_| crossbeam_channel::bounded::<Packets>(IN_FLIGHT))
        .unzip();
    // Spent batches go back to the reader to be filled again: their memory is reused rather
    // than freed on one thread and faulted in afresh on the other.
    let (spent_tx, spent_rx) = crossbeam_channel::bounded::<Packets>((IN_FLIGHT + 2) * tables);
    let (read, parts) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || read_captures(&paths, map, &txs, &spent_rx));
        let mut rxs = rxs.into_iter();
        let first = rxs.next().expect("at least one table thread");
        let others: Vec<_> = rxs
            .map(|rx| {
                let spent = spent_tx.clone();
                scope.spawn(move || Part::build(f, from, guess, rx, &spent, &|_| {}))
            })
            .collect();
        let mut parts = vec![Part::build(f, from, guess, first, &spent_tx, progress)];
        parts.extend(others.into_iter().map(joined));
        (joined(reader), parts)
    });
    Ok(merge(parts, read?))
}

fn joined<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// The captures' size on disk (what the guesses below start from; the readers read what is
/// there, whatever this says).
fn capture_bytes(captures: &[&Path]) -> u64 {
    captures
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// How large a table thread makes its part at the start.
#[derive(Clone, Copy)]
struct Guess {
    /// Flows its index is sized for (the index is touched throughout, so this is a guess of
    /// the flows, not a bound).
    index: usize,
    /// Flow records it reserves room for: address space only, faulted in as records are
    /// written, so that a table of many flows is written once rather than copied each time
    /// it doubles (each copy faulting in fresh pages).
    records: usize,
}

/// A guess of the flows in the captures, one per 16 packets of ~300 bytes, capped, so that
/// large captures do not spend their time growing the table.
fn flow_guess(bytes: u64) -> usize {
    ((bytes / 300 / 16) as usize).clamp(1024, 4 << 20)
}

/// Room for one flow per packet a table thread could get (a record is at least 36 bytes
/// of a capture: its header and an IPv4 header), within 256 MiB of address space a thread.
fn record_reserve(bytes: u64, tables: usize) -> usize {
    let most = (256 << 20) / std::mem::size_of::<FlowRecord>();
    ((bytes / 36) as usize / tables).clamp(1024, most)
}

/// The reader stage: decode, keep IPv4, look for a name in payloads, deal out by flow key.
/// Every table thread in use gets a batch (perhaps empty) each [`BATCH`] records; how many
/// are used is decided on the first batch ([`parts_for`]).
fn read_captures(
    paths: &[PathBuf],
    map: &AddressMap,
    txs: &[Sender<Packets>],
    spent: &Receiver<Packets>,
) -> Result<ReaderStats, String> {
    let n = txs.len();
    let fresh = || match spent.try_recv() {
        Ok(b) => b.emptied(),
        Err(_) => Packets::new(if n == 1 { BATCH } else { 2 * BATCH / n }),
    };
    let mut out = ReaderStats::default();
    let mut index = 0u64;
    let mut used: Option<usize> = (n == 1).then_some(1);
    for (capture, path) in paths.iter().enumerate() {
        let mut r = CaptureReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut batches: Vec<Packets> = (0..n).map(|_| fresh()).collect();
        let mut seen = 0u64;
        while let Some(pkt) = r.next_packet() {
            index += 1;
            seen += 1;
            if let PacketKind::Ipv4(mut p) = pkt.info.kind {
                map.packet(&mut p);
                if p.frag == Fragment::LaterOrphan {
                    out.orphan_fragments += 1;
                } else {
                    let keyed = used != Some(1);
                    let (key, swapped) = if keyed {
                        key(&p)
                    } else {
                        (Key(0, 0, 0, 0), false)
                    };
                    let hash = if keyed { key_hash(&key) } else { 0 };
                    let part = match used {
                        Some(m) if m > 1 => table_part(hash, m),
                        _ => 0,
                    };
                    let b = &mut batches[part];
                    b.keyed = keyed;
                    let hint = payload_hint(b, &p, pkt.data);
                    b.packets.push(Decoded {
                        flow: p,
                        key,
                        hash,
                        swapped,
                        index,
                        capture: capture as u32,
                        wire_len: pkt.info.wire_len,
                        ts_ns: pkt.info.ts_ns,
                        hint,
                    });
                }
            }
            if seen as usize == BATCH {
                let m = *used.get_or_insert_with(|| parts_for(&mut batches, &fresh));
                if !send_all(&txs[..m], &mut batches[..m], &mut seen, fresh) {
                    return Ok(out);
                }
            }
        }
        let m = *used.get_or_insert_with(|| parts_for(&mut batches, &fresh));
        if !send_all(&txs[..m], &mut batches[..m], &mut seen, fresh) {
            return Ok(out);
        }
        out.read.merge(r.stats());
        out.captures += 1;
    }
    Ok(out)
}

/// Packets per flow, on average over the first batch, below which the flow table is split
/// among all its threads: a capture of few long flows keeps one table thread, so that the
/// reader, which is then the slower stage, has a core of its own.
const SPLIT_BELOW_PACKETS_PER_FLOW: usize = 16;

/// How many table threads to use, from the first batch (all in `batches[0]`), and that
/// batch dealt out among them when more than one.
fn parts_for(batches: &mut [Packets], fresh: &impl Fn() -> Packets) -> usize {
    let first = &batches[0].packets;
    let mut hashes: Vec<u64> = first.iter().map(|d| d.hash).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let n = batches.len();
    if n == 1 || hashes.len() * SPLIT_BELOW_PACKETS_PER_FLOW < first.len() {
        return 1;
    }
    let all = std::mem::replace(&mut batches[0], fresh());
    for mut d in all.packets {
        let b = &mut batches[table_part(d.hash, n)];
        d.hint = d.hint.and_then(|(at, len, proto)| {
            b.hint(&all.hints[at as usize..at as usize + len as usize], proto)
        });
        b.packets.push(d);
    }
    n
}

/// The name a request's payload carries (TLS SNI, else HTTP Host), into the batch's arena.
fn payload_hint(b: &mut Packets, p: &Ipv4Flow, data: &[u8]) -> Option<(u32, u16, AppProtocol)> {
    if p.l4_payload_len == 0 || p.proto != TCP {
        return None;
    }
    let payload = p.l4_payload(data);
    match tls_sni(payload) {
        Some(n) => b.hint(n, AppProtocol::Https),
        None => http_host(payload).and_then(|n| b.hint(n, AppProtocol::Http)),
    }
}

/// Hands every table thread its batch, the records read counted on the first. `false` when a
/// table thread is gone (it panicked; the scope reports it).
fn send_all(
    txs: &[Sender<Packets>],
    batches: &mut [Packets],
    seen: &mut u64,
    fresh: impl Fn() -> Packets,
) -> bool {
    batches[0].seen = std::mem::take(seen);
    txs.iter()
        .zip(batches.iter_mut())
        .all(|(tx, b)| tx.send(std::mem::replace(b, fresh())).is_ok())
}

/// How many packets ahead a table thread asks for the memory a packet will need: its slot in
/// the index, then its flow's record.
const AHEAD: usize = 16;

/// One table thread's part of the flow table: its flows in the order of their first packets,
/// with each first packet's position.
struct Part {
    map: FlowMap,
    flows: Vec<FlowRecord>,
    first: Vec<u64>,
    packets: u64,
    bytes: u64,
}

impl Part {
    fn build(
        f: &Fabric,
        from: Option<Endpoint>,
        guess: Guess,
        rx: Receiver<Packets>,
        spent: &Sender<Packets>,
        progress: &dyn Fn(u64),
    ) -> Part {
        let mut part = Part {
            map: FlowMap::with_capacity(guess.index),
            flows: Vec::with_capacity(guess.records),
            first: Vec::with_capacity(guess.records),
            packets: 0,
            bytes: 0,
        };
        let mut placed: Vec<Placement> = Vec::with_capacity(BATCH);
        for mut b in rx.iter() {
            if !b.keyed {
                for d in &mut b.packets {
                    (d.key, d.swapped) = key(&d.flow);
                    d.hash = key_hash(&d.key);
                }
            }
            part.place_batch(&b.packets, &mut placed);
            part.count_batch(&b, &placed);
            progress(b.seen);
            // Dropped instead when the reader has enough spare batches.
            let _ = spent.try_send(b);
        }
        part.settle(f, from);
        part
    }

    /// Each packet's flow, in order, inserting new flows: the slot of the packet [`AHEAD`]
    /// asked for first.
    fn place_batch(&mut self, packets: &[Decoded], placed: &mut Vec<Placement>) {
        placed.clear();
        for (i, d) in packets.iter().enumerate() {
            if let Some(next) = packets.get(i + AHEAD) {
                self.map.prefetch(next.hash);
            }
            placed.push(self.place_or_insert(d));
        }
    }

    /// Counts each packet into its flow's record, the record of the packet [`AHEAD`] asked
    /// for first.
    fn count_batch(&mut self, b: &Packets, placed: &[Placement]) {
        for (i, (d, pl)) in b.packets.iter().zip(placed).enumerate() {
            if let Some(next) = placed.get(i + AHEAD) {
                prefetch(&self.flows[next.flow as usize]);
            }
            self.count(d, *pl, &b.hints);
        }
    }

    /// Counts a packet into its flow. `hints` is the batch's arena that `d.hint` points into.
    #[inline]
    fn count(&mut self, d: &Decoded, pl: Placement, hints: &str) {
        let rec = &mut self.flows[pl.flow as usize];
        rec.last_ts_ns = rec.last_ts_ns.max(d.ts_ns);
        if pl.reply {
            rec.reply_packets += 1;
            rec.reply_bytes += d.wire_len as u64;
        } else {
            rec.request_packets += 1;
            rec.request_bytes += d.wire_len as u64;
            if !rec.hint_checked && d.flow.l4_payload_len > 0 {
                rec.hint_checked = true;
                // The first payload of the request direction carries the name, if any: the
                // one allocation per flow.
                rec.hint = d.hint.map(|(at, len, proto)| {
                    (
                        hints[at as usize..at as usize + len as usize].to_string(),
                        proto,
                    )
                });
            }
        }
        self.packets += 1;
        self.bytes += d.wire_len as u64;
    }

    #[inline]
    fn place_or_insert(&mut self, d: &Decoded) -> Placement {
        let flow = self.flows.len() as u32;
        let (e, new) = self.map.get_or_insert(&d.key, d.hash, || Entry {
            flow,
            swapped: d.swapped,
        });
        if new {
            self.flows.push(new_record(&d.flow, d.ts_ns, d.capture));
            self.first.push(d.index);
        }
        e.place(d.swapped)
    }

    /// Each flow's ingress (`from`, else what owns its source) and scope: looked up once the
    /// part is complete, flow after flow, rather than between the hash lookups of packets.
    fn settle(&mut self, f: &Fabric, from: Option<Endpoint>) {
        for r in &mut self.flows {
            let (src, dst) = (r.flow.src, r.flow.dst);
            let owner = f.endpoint_of_source(src);
            r.ingress = from.unwrap_or(owner);
            r.scope = Scope::known(f.knows_given(src, owner), f.knows(dst));
        }
    }
}

/// A flow's record from its first packet; its ingress and scope are set by [`Part::settle`].
fn new_record(p: &Ipv4Flow, ts_ns: u64, capture: u32) -> FlowRecord {
    let syn_only = p.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
    let (sport, dport) = if p.proto == ICMP {
        (0, 0)
    } else {
        (p.sport, p.dport)
    };
    FlowRecord {
        flow: Flow {
            src: p.src,
            dst: p.dst,
            proto: p.proto,
            sport,
            dport,
        },
        ingress: Endpoint::Internet,
        scope: Scope::Outside,
        midstream: p.proto == TCP && !syn_only,
        hint: None,
        hint_checked: false,
        first_ts_ns: ts_ns,
        last_ts_ns: ts_ns,
        capture,
        request_packets: 0,
        request_bytes: 0,
        reply_packets: 0,
        reply_bytes: 0,
    }
}

/// The parts into one table: flows in the order of their first packets across all parts
/// (where each is, not the records moved), each part's entries renumbered to that order.
fn merge(mut parts: Vec<Part>, read: ReaderStats) -> FlowTable {
    let stats = ReplayStats {
        read: read.read,
        captures: read.captures,
        modelled_packets: parts.iter().map(|p| p.packets).sum(),
        modelled_bytes: parts.iter().map(|p| p.bytes).sum(),
        orphan_fragments: read.orphan_fragments,
    };
    if parts.len() == 1 {
        let p = parts.pop().expect("one part");
        return FlowTable {
            parts: vec![p.map],
            flows: p.flows.into(),
            stats,
        };
    }
    let total: usize = parts.iter().map(|p| p.flows.len()).sum();
    let mut order: Vec<(u32, u32)> = Vec::with_capacity(total);
    let mut renumber: Vec<Vec<u32>> = parts
        .iter()
        .map(|p| Vec::with_capacity(p.flows.len()))
        .collect();
    let mut next: Vec<usize> = vec![0; parts.len()];
    // Positions are distinct across parts (each packet went to one), so the order is total.
    while let Some(i) = (0..parts.len())
        .filter(|&i| next[i] < parts[i].first.len())
        .min_by_key(|&i| parts[i].first[next[i]])
    {
        renumber[i].push(order.len() as u32);
        order.push((i as u32, next[i] as u32));
        next[i] += 1;
    }
    let mut maps = Vec::with_capacity(parts.len());
    let mut records = Vec::with_capacity(parts.len());
    for (mut p, global) in parts.into_iter().zip(renumber) {
        p.map.renumber(&global);
        maps.push(p.map);
        records.push(p.flows);
    }
    FlowTable {
        parts: maps,
        flows: Flows::of_parts(records, order),
        stats,
    }
}

/// Asks for the cache lines of a flow's record (it spans two or three).
#[inline]
fn prefetch(r: &FlowRecord) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = r as *const FlowRecord as *const i8;
        let size = std::mem::size_of::<FlowRecord>();
        // SAFETY: prefetching is a hint; it never faults, whatever the address.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(size / 2));
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(size - 1));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}
