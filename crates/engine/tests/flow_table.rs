//! Pass one's flow table, built by one table thread or several: the same flows, numbered in
//! the order of their first packets, with the packets and bytes the capture writer says each
//! flow has, and every packet placed in the same flow and direction.

use std::path::{Path, PathBuf};

use vnetsim_engine::replay::{build_table, second_pass, FlowTable, Placement};
use vnetsim_fabric::{compile, Fabric};
use vnetsim_traffic::synth::{default_flow_set, write_flows_to_path, SynthConfig, SynthFlow};

fn lab() -> Fabric {
    let text = include_str!("../../../traces/hub-spoke-lab.yaml");
    compile(&vnetsim_model::load_str("lab", text).unwrap())
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vnetsim-flow-table-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// 3,000 flows (TCP with TLS and HTTP names, UDP, ICMP; each answered), started 20 µs apart
/// while each lasts about a millisecond, so that their packets interleave.
fn capture() -> (PathBuf, Vec<SynthFlow>, Vec<u64>) {
    let flows: Vec<SynthFlow> = default_flow_set(3000, 7)
        .into_iter()
        .map(|f| SynthFlow { packets: 3, ..f })
        .collect();
    let cfg = SynthConfig {
        flow_gap_ns: 20_000,
        ..SynthConfig::default()
    };
    let path = tmp("interleaved.pcap");
    let sum = write_flows_to_path(&path, &flows, &cfg).unwrap();
    (path, flows, sum.per_flow)
}

fn table(f: &Fabric, path: &Path, tables: usize) -> FlowTable {
    build_table(f, &[path], None, &Default::default(), tables, &|_| {}).unwrap()
}

fn placements(t: &FlowTable, path: &Path) -> Vec<Placement> {
    let mut v = Vec::new();
    second_pass(&[path], t, &Default::default(), &mut |e| {
        v.push(e.placement);
        Ok(())
    })
    .unwrap();
    v
}

#[test]
fn flows_are_numbered_by_first_packet_whatever_the_table_threads() {
    let f = lab();
    let (path, flows, per_flow) = capture();
    let one = table(&f, &path, 1);
    // Flow i of the writer starts first among the flows after it: flow i is flow i.
    assert_eq!(one.flows.len(), flows.len());
    for (i, (r, w)) in one.flows.iter().zip(&flows).enumerate() {
        let ports = if w.proto == 1 {
            (0, 0)
        } else {
            (w.sport, w.dport)
        };
        assert_eq!(
            (
                r.flow.src,
                r.flow.dst,
                r.flow.proto,
                (r.flow.sport, r.flow.dport)
            ),
            (w.src, w.dst, w.proto, ports),
            "flow {i}"
        );
        assert_eq!(r.request_packets + r.reply_packets, per_flow[i], "flow {i}");
        assert!(r.request_packets > 0 && r.reply_packets > 0, "flow {i}");
        let name = r.hint.as_ref().map(|h| h.0.as_str());
        if w.proto == 6 {
            assert_eq!(name, w.fqdn.as_deref(), "flow {i}: the request's name");
        }
    }
    let places = placements(&one, &path);
    assert_eq!(places.len() as u64, per_flow.iter().sum::<u64>());
    for n in [2, 3, 5] {
        let many = table(&f, &path, n);
        assert_eq!(many.flows.len(), one.flows.len(), "{n} table threads");
        for (i, (a, b)) in one.flows.iter().zip(&many.flows).enumerate() {
            assert_eq!(
                format!("{a:?}"),
                format!("{b:?}"),
                "flow {i}, {n} table threads"
            );
        }
        assert_eq!(
            (many.stats.modelled_packets, many.stats.modelled_bytes),
            (one.stats.modelled_packets, one.stats.modelled_bytes)
        );
        assert_eq!(placements(&many, &path), places, "{n} table threads");
    }
}

/// `--shard I/N` after a table built by several threads keeps each flow once, in order.
#[test]
fn shards_of_a_table_of_several_parts_cover_every_flow_once() {
    let f = lab();
    let (path, _, _) = capture();
    let whole = table(&f, &path, 3);
    let mut seen = Vec::new();
    let mut placed = 0;
    for i in 0..4 {
        let mut t = table(&f, &path, 3);
        t.retain_shard(i, 4);
        let firsts: Vec<u64> = t.flows.iter().map(|r| r.first_ts_ns).collect();
        assert!(
            firsts.windows(2).all(|w| w[0] <= w[1]),
            "shard {i} in order"
        );
        let places = placements(&t, &path);
        assert!(places.iter().all(|p| (p.flow as usize) < t.flows.len()));
        let counted: u64 = t
            .flows
            .iter()
            .map(|r| r.request_packets + r.reply_packets)
            .sum();
        assert_eq!(
            places.len() as u64,
            counted,
            "shard {i}: its flows' packets, no other"
        );
        placed += counted;
        seen.extend(t.flows.iter().map(|r| r.flow));
    }
    let mut all: Vec<_> = whole.flows.iter().map(|r| r.flow).collect();
    let key = |f: &vnetsim_engine::Flow| (f.src, f.dst, f.proto, f.sport, f.dport);
    all.sort_by_key(key);
    seen.sort_by_key(key);
    assert_eq!(seen, all);
    assert_eq!(placed, whole.stats.modelled_packets);
}

/// A capture of few flows with many packets each (the lab's, given four times) keeps one
/// table thread however many are offered: the same table as with one.
#[test]
fn a_capture_of_few_long_flows_gives_the_same_table_with_threads_offered() {
    let f = lab();
    let lab_capture = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../traces/hub-spoke-lab.pcap"
    ));
    let paths = [lab_capture; 4];
    let build = |n| build_table(&f, &paths, None, &Default::default(), n, &|_| {}).unwrap();
    let (one, four) = (build(1), build(4));
    assert!(!one.flows.is_empty());
    assert_eq!(format!("{:?}", one.flows), format!("{:?}", four.flows));
    assert_eq!(four.stats.read.packets, one.stats.read.packets);
}
