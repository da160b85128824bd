//! `replay` (captures through the fabric) and `synth` (captures of a topology's traffic).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use vnetsim_engine::render::rule_name;
use vnetsim_engine::replay::{
    build_table, second_pass, walk_flows, AddressMap, FlowRecord, FlowTable, PacketEvent, Scope,
};
use vnetsim_engine::sweep::{self, Matrix, Side};
use vnetsim_engine::{Flow, Verdict, ICMP};
use vnetsim_fabric::{Endpoint, Fabric};
use vnetsim_report::packets::{PacketRow, PacketRowWriter};
use vnetsim_report::summary::Summary;
use vnetsim_report::{FlowRow, OutputFormat};
use vnetsim_traffic::{ipv4_offset, linktype, rewrite_ipv4_at, PcapWriter, Rewrite};

use crate::cli::{load, parse_endpoint, Output};
use crate::flows::{row, write_rows, Selectors};

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Flow,
    Packet,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    pub topology: PathBuf,
    /// pcap or pcapng files, replayed in the order given
    #[arg(required = true)]
    pub captures: Vec<PathBuf>,
    /// Rows per flow (.csv, .jsonl, .parquet) or per packet (.csv, .jsonl)
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "flow")]
    pub per: Per,
    /// Every packet enters here instead of at the endpoint owning its source address
    #[arg(long)]
    pub from: Option<String>,
    /// For each delivery endpoint, a pcap of the packets as it receives them
    #[arg(long)]
    pub pcap_out: Option<PathBuf>,
    /// Re-address a capture taken elsewhere: OLD/LEN=NEW/LEN (repeatable; host bits kept,
    /// the first matching rule applies)
    #[arg(long = "map", value_name = "OLD/LEN=NEW/LEN")]
    pub map: Vec<String>,
    /// Worker threads, at least 1 (default: one per core)
    #[arg(long, value_parser = crate::cli::parse_threads)]
    pub threads: Option<usize>,
    /// How many top rules and drop points the summary lists
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    #[command(flatten)]
    pub out_fmt: Output,
}

/// What each direction of a flow does to its packets.
struct Fate {
    row: FlowRow,
    fwd: Option<(Endpoint, Flow)>,
    ret: Option<(Endpoint, Flow)>,
    ret_dropped_at: Option<String>,
    ret_rule: Option<String>,
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

fn bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::with_draw_target(
        Some(len),
        if std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    b.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{wide_bar}}] {{human_pos}}/{{human_len}} {what} ({{per_sec}}, {{eta}} left)"
        ))
        .expect("template"),
    );
    b
}

pub fn run_replay(a: ReplayArgs) -> Result<u8, String> {
    let f = load(&a.topology)?;
    let from = a
        .from
        .as_deref()
        .map(|e| parse_endpoint(&f, e))
        .transpose()?;
    if a.per == Per::Packet {
        if let Some(p) = &a.out {
            let ext = p
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            if ext != "jsonl" && ext != "csv" && ext != "ndjson" {
                return Err(format!(
                    "error: --per packet writes .jsonl or .csv, not {}",
                    p.display()
                ));
            }
        }
    }
    let paths: Vec<&Path> = a.captures.iter().map(|p| p.as_path()).collect();
    let total: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let started = Instant::now();
    let b = bar(total / 100, "packets (estimated)");
    let mut map = AddressMap::default();
    for m in &a.map {
        map.add(m).map_err(|e| format!("error: {e}"))?;
    }
    let table: FlowTable =
        build_table(&f, &paths, from, &map, &|n| b.inc(n)).map_err(|e| format!("error: {e}"))?;
    b.finish_and_clear();
    let pool = crate::cli::thread_pool(a.threads)?;
    let rows_needed = a.out.is_some() || a.pcap_out.is_some();
    let mut sum = Summary::default();
    let mut fates: Vec<Fate> = Vec::new();
    if rows_needed {
        fates = pool.install(|| {
            walk_flows(&f, &table, |f, s, t, rec, fqdn| {
                if rec.scope == Scope::Outside {
                    return outside_fate(rec, fqdn);
                }
                let fwd = (t.forward.verdict == Verdict::Delivered)
                    .then(|| (t.forward.delivered_to.unwrap(), t.forward.seen));
                let ret = t
                    .ret
                    .filter(|r| r.verdict == Verdict::Delivered)
                    .map(|r| (r.delivered_to.unwrap(), r.seen));
                Fate {
                    row: row(f, s, t, fqdn),
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
        let keys: Vec<Option<vnetsim_engine::TraceKey>> = pool.install(|| {
            walk_flows(&f, &table, |_, _, t, rec, _| {
                (rec.scope != Scope::Outside).then(|| t.key())
            })
        });
        let mut counts: HashMap<
            vnetsim_engine::TraceKey,
            (u64, usize),
            BuildHasherDefault<vnetsim_engine::replay::FxHasher>,
        > = HashMap::with_capacity_and_hasher(1024, Default::default());
        let mut outside: Option<(u64, usize)> = None;
        for (i, k) in keys.iter().enumerate() {
            match k {
                Some(k) => counts.entry(*k).or_insert((0, i)).0 += 1,
                None => outside.get_or_insert((0, i)).0 += 1,
            }
        }
        if let Some((n, i)) = outside {
            let r = &table.flows[i];
            sum.add_n(
                &outside_fate(r, vnetsim_engine::replay::flow_l7(&f, r)).row,
                n,
            );
        }
        let mut s = vnetsim_engine::Scratch::new();
        for (n, i) in counts.values() {
            let r = &table.flows[*i];
            let q = vnetsim_engine::replay::flow_l7(&f, r);
            let t = vnetsim_engine::trace_with(&f, r.flow, r.ingress, q, r.midstream, &mut s);
            sum.add_n(
                &crate::flows::row_with(&f, &t, q, String::new(), String::new()),
                *n,
            );
        }
    }
    let walked = started.elapsed().as_secs_f64();

    if a.per == Per::Flow {
        if let Some(p) = &a.out {
            let rows: Vec<FlowRow> = fates.iter().map(|x| x.row.clone()).collect();
            write_rows(p, &rows)?;
        }
    }
    let second_pass = a.pcap_out.is_some() || (a.per == Per::Packet && a.out.is_some());
    if second_pass {
        second(&f, &a, &paths, &table, &map, &fates)?;
    }
    let seconds = started.elapsed().as_secs_f64();

    let st = &table.stats;
    let r = &st.read;
    let malformed: Vec<(&str, u64)> = vnetsim_traffic::MalformedKind::ALL
        .iter()
        .map(|k| (k.name(), r.malformed_of(*k)))
        .filter(|(_, n)| *n > 0)
        .collect();
    if a.out_fmt.json() {
        let v = serde_json::json!({
            "captures": st.captures,
            "packets": r.packets,
            "bytes": r.wire_bytes,
            "ipv4Packets": r.ipv4,
            "modelledPackets": st.modelled_packets,
            "flows": table.flows.len(),
            "scope": { "inFabric": scopes(&table)[0], "partly": scopes(&table)[1], "outside": scopes(&table)[2] },
            "unmodelled": { "ipv6": r.ipv6, "nonIp": r.non_ip, "unsupportedLinkType": r.unsupported_link_type, "orphanFragments": st.orphan_fragments },
            "malformed": malformed.iter().map(|(k, n)| (k.to_string(), serde_json::json!(n))).collect::<serde_json::Map<_, _>>(),
            "corruptRecords": r.corrupt_records,
            "truncatedRecords": r.truncated_records,
            "summary": sum.to_json_top(a.top),
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        println!(
            "{} capture(s): {} packets, {} bytes, {} IPv4 packets in {} flows",
            st.captures,
            r.packets,
            r.wire_bytes,
            st.modelled_packets,
            table.flows.len()
        );
        let [inside, partly, outside] = scopes(&table);
        println!(
            "flows: {inside} in the fabric, {partly} partly (one address is an Internet host), {outside} outside it (neither address belongs to the fabric{})",
            if outside > 0 && a.map.is_empty() { "; was the capture taken elsewhere? --map re-addresses it" } else { "" }
        );
        println!(
            "not modelled: {} IPv6, {} non-IP, {} unsupported link type, {} fragments without their first",
            r.ipv6, r.non_ip, r.unsupported_link_type, st.orphan_fragments
        );
        let m: Vec<String> = malformed.iter().map(|(k, n)| format!("{n} {k}")).collect();
        println!(
            "malformed: {}; corrupt records: {}; truncated records: {}",
            if m.is_empty() {
                "none".to_string()
            } else {
                m.join(", ")
            },
            r.corrupt_records,
            r.truncated_records
        );
        println!("\nper flow:");
        print!("{}", sum.render_text(a.top));
    }
    eprintln!(
        "replayed {} packets ({} bytes) in {:.3} s: {:.0} packets/s, {:.1} MB/s ({} flows walked in {:.3} s)",
        r.packets,
        r.wire_bytes,
        seconds,
        r.packets as f64 / seconds.max(1e-9),
        r.wire_bytes as f64 / seconds.max(1e-9) / 1e6,
        table.flows.len(),
        walked
    );
    Ok(0)
}

/// A flow neither of whose addresses belongs to the fabric: not walked, its own outcome.
fn outside_fate(r: &FlowRecord, l7: Option<vnetsim_engine::L7<'_>>) -> Fate {
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
        },
        fwd: None,
        ret: None,
        ret_dropped_at: None,
        ret_rule: None,
    }
}

/// Flows by scope, for the summary line.
fn scopes(t: &FlowTable) -> [u64; 3] {
    let mut n = [0u64; 3];
    for r in &t.flows {
        n[r.scope as usize] += 1;
    }
    n
}

/// Pass two: per-packet rows and rewritten captures per delivery endpoint.
fn second(
    f: &Fabric,
    a: &ReplayArgs,
    paths: &[&Path],
    table: &FlowTable,
    map: &AddressMap,
    fates: &[Fate],
) -> Result<(), String> {
    let mut rows_out = match (a.per, &a.out) {
        (Per::Packet, Some(p)) => Some(packet_writer(p)?),
        _ => None,
    };
    let mut captures = match &a.pcap_out {
        Some(d) => Some(EndpointCaptures::new(f, d, fates)?),
        None => None,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(65536);
    let b = bar(table.stats.read.packets, "packets, second pass");
    let mut each = |e: &PacketEvent<'_>| -> Result<(), String> {
        if e.index % 4096 == 0 {
            b.set_position(e.index);
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
    b.finish_and_clear();
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

#[derive(Args, Debug)]
pub struct SynthArgs {
    pub topology: PathBuf,
    #[command(flatten)]
    pub sel: Selectors,
    /// Output capture (pcap)
    #[arg(long, short)]
    pub output: PathBuf,
    /// Write exactly this many packets, cycling over the flows (for benchmarks)
    #[arg(long)]
    pub packets: Option<u64>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Writes a capture of a topology's traffic: one conversation per sweep cell.
pub fn run_synth(a: SynthArgs) -> Result<u8, String> {
    let f = load(&a.topology)?;
    let sources =
        sweep::resolve(&f, &a.sel.from, Side::Source).map_err(|e| format!("error: {e}"))?;
    let dests =
        sweep::resolve(&f, &a.sel.to, Side::Destination).map_err(|e| format!("error: {e}"))?;
    let ports = sweep::parse_ports(&a.sel.ports).map_err(|e| format!("error: --ports: {e}"))?;
    let m = Matrix::new(sources, dests, ports);
    let flows: Vec<vnetsim_traffic::synth::SynthFlow> = m
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let fl = m.flow(&f, c);
            vnetsim_traffic::synth::SynthFlow {
                src: fl.src,
                dst: fl.dst,
                proto: fl.proto,
                sport: if fl.proto == ICMP {
                    0
                } else {
                    40000 + (i % 20000) as u16
                },
                dport: fl.dport,
                fqdn: sweep::fqdn_for(&f, fl.dst).map(str::to_string),
                reply: true,
                packets: 2,
            }
        })
        .collect();
    let (packets, bytes) = match a.packets {
        Some(n) => {
            let s = vnetsim_traffic::synth::write_large(&a.output, &flows, n, a.seed)
                .map_err(|e| format!("error: cannot write {}: {e}", a.output.display()))?;
            (s.packets, s.bytes)
        }
        None => {
            let cfg = vnetsim_traffic::synth::SynthConfig {
                seed: a.seed,
                ..Default::default()
            };
            let s = vnetsim_traffic::synth::write_flows_to_path(&a.output, &flows, &cfg)
                .map_err(|e| format!("error: cannot write {}: {e}", a.output.display()))?;
            (s.packets, s.bytes)
        }
    };
    println!(
        "{}: {} flows, {} packets, {} bytes",
        a.output.display(),
        flows.len(),
        packets,
        bytes
    );
    Ok(0)
}
