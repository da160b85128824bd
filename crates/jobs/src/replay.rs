//! Replay: captures through the fabric. Pass one builds the flow table (engine), each distinct
//! flow is walked in parallel into its [`Fate`] (or only counted, for a summary), and pass two
//! streams the captures again into per-packet rows and rewritten captures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use vnetsim_engine::render::rule_name;
use vnetsim_engine::replay::{
    fold_flows, second_pass, walk_flows, AddressMap, FlowRecord, FlowTable, PacketEvent, Scope,
};
use vnetsim_engine::{Flow, Verdict, ICMP};
use vnetsim_fabric::{Endpoint, Fabric};
use vnetsim_report::packets::{PacketRow, PacketRowWriter};
use vnetsim_report::summary::Summary;
use vnetsim_report::{FlowRow, OutputFormat};
use vnetsim_traffic::{ipv4_offset, linktype, rewrite_ipv4_at, PcapWriter, Rewrite};

use crate::flow_row::{row, row_with};
use crate::summary_key::{count_key, merge_counts, KeyCounts, SummaryKey};
use crate::Job;

/// What each direction of a flow does to its packets.
pub struct Fate {
    /// The flow's row (rendered once per flow).
    pub row: FlowRow,
    /// Where the request was delivered and the packet as seen there.
    pub fwd: Option<(Endpoint, Flow)>,
    /// Where the reply was delivered and the packet as seen there.
    pub ret: Option<(Endpoint, Flow)>,
    pub ret_dropped_at: Option<String>,
    pub ret_rule: Option<String>,
}

fn endpoint_file(f: &Fabric, e: Endpoint) -> String {
    let id = f.endpoint_id(e);
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{s}.pcap")
}

/// Walks every distinct flow of `table`: with `fates`, each flow's [`Fate`] (for rows and pass
/// two); without, only the summary, aggregated per distinct outcome.
///
/// Rows carry what the capture saw of each flow: the capture file (`captures`, in the order
/// given to pass one), the first and last packet times, packets and bytes each way.
pub fn walk(
    f: &Fabric,
    table: &FlowTable,
    captures: &[&Path],
    fates: bool,
    job: &Job<'_>,
) -> (Summary, Vec<Fate>) {
    let rows_needed = fates;
    let mut sum = Summary::default();
    let mut fates: Vec<Fate> = Vec::new();
    if rows_needed {
        fates = job.pool.install(|| {
            walk_flows(f, table, |f, s, t, rec, fqdn| {
                if rec.scope == Scope::Outside {
                    let mut fate = outside_fate(rec, fqdn);
                    seen_in_capture(&mut fate.row, rec, captures);
                    return fate;
                }
                let fwd = (t.forward.verdict == Verdict::Delivered)
                    .then(|| (t.forward.delivered_to.unwrap(), t.forward.seen));
                let ret = t
                    .ret
                    .filter(|r| r.verdict == Verdict::Delivered)
                    .map(|r| (r.delivered_to.unwrap(), r.seen));
                let mut row = row(f, s, t, fqdn);
                seen_in_capture(&mut row, rec, captures);
                Fate {
                    row,
                    fwd,
                    ret,
                    ret_dropped_at: t.ret.and_then(|r| r.dropped_at).map(|e| f.endpoint_id(e)),
                    ret_rule: t.ret.and_then(|r| r.rule).map(|r| rule_name(f, r)),
                }
            })
        });
        for x in &fates {
            sum.add(&x.row);
        }
    } else {
        // Summary only: count flows per distinct key, render one representative per key.
        let (counts, outside) = job.pool.install(|| {
            fold_flows(
                f,
                table,
                || (KeyCounts::<usize>::default(), None),
                |(counts, outside), t, i, rec| {
                    if rec.scope == Scope::Outside {
                        let o = outside.get_or_insert((0, i));
                        o.0 += 1;
                    } else {
                        count_key(counts, SummaryKey::of(t), 1, i);
                    }
                },
                |(a, a_out), (b, b_out)| (merge_counts(a, b), merged_outside(a_out, b_out)),
            )
        });
        if let Some((n, i)) = outside {
            let r = &table.flows[i];
            sum.add_n(
                &outside_fate(r, vnetsim_engine::replay::flow_l7(f, r)).row,
                n,
            );
        }
        // Representatives in flow order: the same summary whatever the thread count.
        let mut reps: Vec<(usize, u64)> = counts.into_values().map(|(n, i)| (i, n)).collect();
        reps.sort_unstable();
        let mut s = vnetsim_engine::Scratch::new();
        for (i, n) in reps {
            let r = &table.flows[i];
            let q = vnetsim_engine::replay::flow_l7(f, r);
            let t = vnetsim_engine::trace_with(f, r.flow, r.ingress, q, r.midstream, &mut s);
            sum.add_n(&row_with(f, &t, q, String::new(), String::new()), n);
        }
    }
    (sum, fates)
}

/// Flows of no key (outside the fabric), with the first of them.
type OutsideCount = Option<(u64, usize)>;

fn merged_outside(a: OutsideCount, b: OutsideCount) -> OutsideCount {
    match (a, b) {
        (Some((n, i)), Some((m, j))) => Some((n + m, i.min(j))),
        (x, y) => x.or(y),
    }
}

/// A flow neither of whose addresses belongs to the fabric: not walked, its own outcome.
pub fn outside_fate(r: &FlowRecord, l7: Option<vnetsim_engine::L7<'_>>) -> Fate {
    let fl = &r.flow;
    Fate {
        row: FlowRow {
            src: vnetsim_engine::render::ip(fl.src),
            dst: vnetsim_engine::render::ip(fl.dst),
            protocol: vnetsim_engine::render::protocol_name(fl.proto),
            src_port: fl.sport,
            dst_port: fl.dport,
            fqdn: l7.map(|x| x.fqdn.to_string()),
            ingress: "internet".into(),
            outcome: "outside".into(),
            delivered_to: None,
            dropped_at: None,
            rule: None,
            reason: "neither address belongs to the fabric: the flow never touched it (a capture taken elsewhere? --map re-addresses it)".into(),
            src_seen: None,
            dst_seen: None,
            path: String::new(),
            return_path: String::new(),
            symmetric: true,
            to: Some("internet".into()),
            ..FlowRow::default()
        },
        fwd: None,
        ret: None,
        ret_dropped_at: None,
        ret_rule: None,
    }
}

/// What the captures saw of a flow, into its row.
fn seen_in_capture(row: &mut FlowRow, rec: &FlowRecord, captures: &[&Path]) {
    row.capture = captures
        .get(rec.capture as usize)
        .map(|p| p.display().to_string());
    row.first_ts_ns = Some(rec.first_ts_ns);
    row.last_ts_ns = Some(rec.last_ts_ns);
    row.request_packets = Some(rec.request_packets);
    row.request_bytes = Some(rec.request_bytes);
    row.reply_packets = Some(rec.reply_packets);
    row.reply_bytes = Some(rec.reply_bytes);
}

/// Flows by scope, for the summary line.
pub fn scopes(t: &FlowTable) -> [u64; 3] {
    let mut n = [0u64; 3];
    for r in &t.flows {
        n[r.scope as usize] += 1;
    }
    n
}

/// Pass two: per-packet rows and rewritten captures per delivery endpoint.
/// Pass two's sinks: per-packet rows (`.jsonl`, `.csv`) and rewritten captures per delivery
/// endpoint, into a folder.
#[derive(Clone, Debug, Default)]
pub struct PassTwo<'a> {
    pub packet_rows: Option<&'a Path>,
    pub pcap_out: Option<&'a Path>,
}

/// Pass two: streams the captures again and writes each packet's row and rewritten copy.
/// `progress` is told the packet position every 4,096 packets.
pub fn second(
    f: &Fabric,
    paths: &[&Path],
    table: &FlowTable,
    map: &AddressMap,
    fates: &[Fate],
    sinks: &PassTwo<'_>,
    progress: &dyn Fn(u64),
) -> Result<(), String> {
    let mut rows_out = match sinks.packet_rows {
        Some(p) => Some(packet_writer(p)?),
        None => None,
    };
    let mut captures = match sinks.pcap_out {
        Some(d) => Some(EndpointCaptures::new(f, d, fates)?),
        None => None,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(65536);
    let mut each = |e: &PacketEvent<'_>| -> Result<(), String> {
        if e.index.is_multiple_of(4096) {
            progress(e.index);
        }
        let fate = &fates[e.placement.flow as usize];
        if let Some((w, path)) = rows_out.as_mut() {
            w.write(&packet_row(e, fate))
                .map_err(|err| format!("error: cannot write {}: {err}", path.display()))?;
        }
        if let Some(c) = captures.as_mut() {
            c.write(e, fate, &mut buf)?;
        }
        Ok(())
    };
    second_pass(paths, table, map, &mut each).map_err(|e| format!("error: {e}"))?;
    if let Some((w, path)) = rows_out {
        w.finish()
            .map_err(|err| format!("error: cannot write {}: {err}", path.display()))?;
    }
    if let Some(c) = captures {
        c.finish()?;
    }
    Ok(())
}

fn packet_writer(p: &Path) -> Result<(PacketRowWriter, PathBuf), String> {
    let fmt = OutputFormat::from_path(p).map_err(|e| format!("error: --out: {e}"))?;
    let w = PacketRowWriter::create(p, fmt).map_err(|e| format!("error: {}: {e}", p.display()))?;
    Ok((w, p.to_path_buf()))
}

/// One packet's row, from its flow's fate (strings rendered once per flow).
fn packet_row<'a>(e: &PacketEvent<'_>, fate: &'a Fate) -> PacketRow<'a> {
    let p = e.packet;
    let reply = e.placement.reply;
    let dir = if reply { fate.ret } else { fate.fwd };
    let fr = &fate.row;
    // A dropped packet names where its own direction stopped: the reply's drop point, or the
    // request's when the request never arrived (no reply was walked).
    let request_dropped = if fate.fwd.is_none() {
        fr.dropped_at.as_deref()
    } else {
        None
    };
    let (dropped, rule) = if reply {
        (
            fate.ret_dropped_at.as_deref().or(request_dropped),
            fate.ret_rule.as_deref(),
        )
    } else {
        (request_dropped, fr.rule.as_deref())
    };
    let ports = p.proto != ICMP;
    PacketRow {
        index: e.index,
        ts_ns: e.ts_ns,
        src: p.src,
        dst: p.dst,
        protocol: &fr.protocol,
        src_port: if ports { p.sport } else { 0 },
        dst_port: if ports { p.dport } else { 0 },
        direction: if reply { "reply" } else { "request" },
        flow: e.placement.flow,
        verdict: if dir.is_some() {
            "delivered"
        } else {
            "dropped"
        },
        delivered_to: dir.map(|_| {
            if reply {
                fr.ingress.as_str()
            } else {
                fr.delivered_to.as_deref().unwrap_or("")
            }
        }),
        dropped_at: if dir.is_some() { None } else { dropped },
        rule,
        src_seen: dir.map(|(_, s)| s.src),
        dst_seen: dir.map(|(_, s)| s.dst),
        outcome: &fr.outcome,
    }
}

/// `--pcap-out`: one capture per delivery endpoint, each opened when its first packet comes.
/// Flows know their endpoints' writer by index, so a packet costs no name lookup.
struct EndpointCaptures {
    dir: PathBuf,
    names: Vec<String>,
    writers: Vec<Option<PcapWriter<std::io::BufWriter<std::fs::File>>>>,
    /// Per flow, the writer of each direction's delivery endpoint.
    slots: Vec<(Option<u32>, Option<u32>)>,
}

impl EndpointCaptures {
    fn new(f: &Fabric, dir: &Path, fates: &[Fate]) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("error: cannot create {}: {e}", dir.display()))?;
        let mut index: HashMap<Endpoint, u32> = HashMap::new();
        let mut names = Vec::new();
        let mut slot = |e: Option<(Endpoint, Flow)>| {
            e.map(|(ep, _)| {
                *index.entry(ep).or_insert_with(|| {
                    names.push(endpoint_file(f, ep));
                    names.len() as u32 - 1
                })
            })
        };
        let slots = fates.iter().map(|x| (slot(x.fwd), slot(x.ret))).collect();
        let writers = (0..names.len()).map(|_| None).collect();
        Ok(EndpointCaptures {
            dir: dir.to_path_buf(),
            names,
            writers,
            slots,
        })
    }

    fn write(&mut self, e: &PacketEvent<'_>, fate: &Fate, buf: &mut Vec<u8>) -> Result<(), String> {
        let (fwd, ret) = self.slots[e.placement.flow as usize];
        let (slot, dir) = if e.placement.reply {
            (ret, fate.ret)
        } else {
            (fwd, fate.fwd)
        };
        let (Some(slot), Some((_, seen))) = (slot, dir) else {
            return Ok(());
        };
        let Some(off) = ipv4_offset(e.link_type, e.data) else {
            return Ok(());
        };
        buf.clear();
        buf.extend_from_slice(&e.data[off..]);
        let ports = e.packet.proto != ICMP;
        let rw = Rewrite {
            src: Some(seen.src),
            dst: Some(seen.dst),
            sport: ports.then_some(seen.sport),
            dport: ports.then_some(seen.dport),
        };
        if rewrite_ipv4_at(buf, 0, &rw).is_err() {
            return Ok(());
        }
        let wire = e.wire_len.saturating_sub(off as u32).max(buf.len() as u32);
        let written = self.writer(slot as usize)?.write_packet(e.ts_ns, buf, wire);
        written.map_err(|err| format!("error: {}: {err}", self.names[slot as usize]))
    }

    fn writer(
        &mut self,
        slot: usize,
    ) -> Result<&mut PcapWriter<std::io::BufWriter<std::fs::File>>, String> {
        if self.writers[slot].is_none() {
            let path = self.dir.join(&self.names[slot]);
            let w = PcapWriter::create(&path, linktype::RAW)
                .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?;
            self.writers[slot] = Some(w);
        }
        Ok(self.writers[slot].as_mut().expect("opened above"))
    }

    fn finish(self) -> Result<(), String> {
        for (name, w) in self.names.iter().zip(self.writers) {
            if let Some(mut w) = w {
                w.flush().map_err(|e| format!("error: {name}: {e}"))?;
            }
        }
        Ok(())
    }
}
