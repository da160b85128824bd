//! `--shard I/N` through the binary: the parts of a sweep, concatenated in part order, are the
//! whole sweep byte for byte; the parts of a replay hold every flow exactly once, each flow's
//! packets in one part (docs/cli-contract.md, "Shards").

mod common;
use common::{jsonl, ok, root, run, tmp};
use serde_json::Value;

fn lab() -> String {
    root()
        .join("traces/hub-spoke-lab.yaml")
        .display()
        .to_string()
}

fn pcap() -> String {
    root()
        .join("traces/hub-spoke-lab.pcap")
        .display()
        .to_string()
}

fn sweep_to(out: &std::path::Path, shard: Option<&str>) {
    let o = out.display().to_string();
    let mut args = vec![
        "sweep",
        &lab(),
        "--from",
        "all",
        "--to",
        "all",
        "--ports",
        "tcp/22,tcp/443,udp/53,icmp",
        "--threads",
        "2",
        "--out",
        &o,
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    if let Some(s) = shard {
        args.extend(["--shard".to_string(), s.to_string()]);
    }
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn sweep_parts_concatenate_to_the_whole_sweep_byte_for_byte() {
    let whole = tmp("shard", "whole.jsonl");
    sweep_to(&whole, None);
    let whole = std::fs::read(&whole).unwrap();
    assert!(
        whole.iter().filter(|&&b| b == b'\n').count() >= 100,
        "a real matrix"
    );
    for n in [1u32, 2, 7] {
        let mut joined = Vec::new();
        let mut sizes = Vec::new();
        for i in 0..n {
            let p = tmp("shard", &format!("sweep-{i}-of-{n}.jsonl"));
            sweep_to(&p, Some(&format!("{i}/{n}")));
            let part = std::fs::read(&p).unwrap();
            sizes.push(part.iter().filter(|&&b| b == b'\n').count());
            joined.extend(part);
        }
        assert_eq!(joined, whole, "{n} parts");
        let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(hi - lo <= 1, "{n} parts are balanced to a cell: {sizes:?}");
    }
}

#[test]
fn sweep_shard_summary_counts_its_part_only() {
    let out = ok(&[
        "sweep",
        &lab(),
        "--from",
        "all",
        "--to",
        "all",
        "--ports",
        "tcp/443",
        "--json",
    ]);
    let whole: Value = serde_json::from_str(&out).unwrap();
    let total = whole["flows"].as_u64().unwrap();
    let mut sum = 0;
    for i in 0..7 {
        let s = format!("{i}/7");
        let out = ok(&[
            "sweep",
            &lab(),
            "--from",
            "all",
            "--to",
            "all",
            "--ports",
            "tcp/443",
            "--json",
            "--shard",
            &s,
        ]);
        let v: Value = serde_json::from_str(&out).unwrap();
        sum += v["flows"].as_u64().unwrap();
    }
    assert_eq!(sum, total);
}

/// The replay key: a flow's 5-tuple and its first packet (ICMP flows of one address pair
/// differ by echo identifier, which the row does not carry, and by their first packet).
fn sorted(mut rows: Vec<Value>) -> Vec<Value> {
    let k = |r: &Value| {
        (
            r["src"].as_str().unwrap().to_string(),
            r["dst"].as_str().unwrap().to_string(),
            r["protocol"].as_str().unwrap().to_string(),
            r["srcPort"].as_u64().unwrap(),
            r["dstPort"].as_u64().unwrap(),
            r["firstTsNs"].as_u64().unwrap(),
        )
    };
    rows.sort_by_key(k);
    rows
}

#[test]
fn replay_parts_hold_every_flow_once_with_all_its_packets() {
    let whole = tmp("shard", "replay-whole.jsonl");
    let w = whole.display().to_string();
    ok(&["replay", &lab(), &pcap(), "--out", &w]);
    let whole = jsonl(&whole);
    assert!(whole.len() > 10, "the lab capture has many flows");
    for n in [1u32, 2, 7] {
        let mut parts = Vec::new();
        let mut nonempty = 0;
        for i in 0..n {
            let p = tmp("shard", &format!("replay-{i}-of-{n}.jsonl"));
            let (s, ps) = (format!("{i}/{n}"), p.display().to_string());
            ok(&["replay", &lab(), &pcap(), "--out", &ps, "--shard", &s]);
            let rows = jsonl(&p);
            nonempty += usize::from(!rows.is_empty());
            parts.extend(rows);
        }
        // Request and reply packet counts are whole in each part: a flow split across parts
        // would show up here as two rows or as missing reply packets.
        assert_eq!(sorted(parts), sorted(whole.clone()), "{n} parts");
        assert!(
            nonempty >= n.min(2) as usize,
            "the hash spreads flows: {n} parts"
        );
    }
}

#[test]
fn replay_packet_rows_of_the_parts_are_the_whole_replays() {
    let whole = tmp("shard", "packets-whole.jsonl");
    let w = whole.display().to_string();
    ok(&["replay", &lab(), &pcap(), "--per", "packet", "--out", &w]);
    let whole = jsonl(&whole);
    let mut parts = Vec::new();
    for i in 0..2 {
        let p = tmp("shard", &format!("packets-{i}.jsonl"));
        let (s, ps) = (format!("{i}/2"), p.display().to_string());
        ok(&[
            "replay",
            &lab(),
            &pcap(),
            "--per",
            "packet",
            "--out",
            &ps,
            "--shard",
            &s,
        ]);
        parts.extend(jsonl(&p));
    }
    // `flow` numbers the rows of the part's own per-flow output; every other column is the
    // whole replay's.
    let strip = |mut r: Value| {
        r.as_object_mut().unwrap().remove("flow");
        r
    };
    parts.sort_by_key(|r| r["index"].as_u64().unwrap());
    let whole: Vec<Value> = whole.into_iter().map(strip).collect();
    assert!(whole.len() > 50, "the lab capture has many packets");
    assert_eq!(parts.into_iter().map(strip).collect::<Vec<_>>(), whole);
}

#[test]
fn a_bad_shard_is_refused_with_what_is_expected() {
    for s in ["3/3", "1", "x/2", "0/0"] {
        let (c, _, err) = run(&["sweep", &lab(), "--shard", s]);
        assert_eq!(c, 2, "{s}: {err}");
        assert!(err.contains("expected I/N"), "{s}: {err}");
    }
}
