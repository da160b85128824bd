//! Our output files read by programs that share no code with vnetsim: Parquet by pyarrow
//! (Apache Arrow's C++ reader), captures written by `--pcap-out` by tcpdump. `.ci/run`
//! installs both; a missing one fails these tests, it never skips them.

mod common;
use common::{jsonl, root, tmp};

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn vnetsim(args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The rows of a Parquet file as pyarrow reads them, one JSON object per row, and the
/// schema's field names and Arrow types.
fn pyarrow_rows(p: &Path) -> (Vec<Value>, Vec<(String, String)>) {
    let script = r#"
import json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(json.dumps([[f.name, str(f.type)] for f in t.schema]))
for row in t.to_pylist():
    print(json.dumps(row))
"#;
    let o = Command::new("python3")
        .args(["-c", script, p.to_str().unwrap()])
        .output()
        .expect("python3 must be installed (.ci/run installs it with pyarrow)");
    assert!(
        o.status.success(),
        "pyarrow could not read {}: {}",
        p.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    let schema: Vec<(String, String)> = serde_json::from_str(lines.next().unwrap()).unwrap();
    (
        lines.map(|l| serde_json::from_str(l).unwrap()).collect(),
        schema,
    )
}

#[test]
fn pyarrow_reads_a_sweeps_parquet_equal_to_its_jsonl() {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let pq = tmp("readers", "sweep.parquet");
    let js = tmp("readers", "sweep.jsonl");
    for out in [&pq, &js] {
        vnetsim(&[
            "sweep",
            lab.to_str().unwrap(),
            "--ports",
            "tcp/443,tcp/22,udp/53,icmp",
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    let (rows, schema) = pyarrow_rows(&pq);
    let expected = jsonl(&js);
    assert_eq!(rows.len(), expected.len());
    assert_eq!(rows, expected, "pyarrow's rows differ from the JSON lines");
    // The documented types: ports unsigned 16-bit, symmetric boolean, the rest strings.
    let ty = |n: &str| {
        schema
            .iter()
            .find(|(f, _)| f == n)
            .map(|(_, t)| t.as_str())
            .unwrap()
    };
    assert_eq!(ty("srcPort"), "uint16");
    assert_eq!(ty("dstPort"), "uint16");
    assert_eq!(ty("symmetric"), "bool");
    assert_eq!(ty("outcome"), "string");
    // The path as a list: pyarrow reads a list of strings, equal to the JSON lines' arrays
    // (checked with every column above), one element per hop of the path string, the first
    // where the flow entered.
    assert_eq!(ty("hops"), "list<item: string>");
    for (r, e) in rows.iter().zip(&expected) {
        let hops: Vec<&str> = r["hops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        assert_eq!(r["hops"], e["hops"]);
        assert_eq!(hops.join(" > "), r["path"].as_str().unwrap(), "{r}");
        assert_eq!(hops[0], r["ingress"].as_str().unwrap(), "{r}");
    }
}

/// `reach --why` regions: pyarrow reads the Parquet equal to the JSON lines, `classes` as an
/// unsigned 64-bit count and `blockers` as a list of strings (null for a region not explained).
#[test]
fn pyarrow_reads_reach_regions_with_their_blockers_equal_to_the_jsonl() {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let pq = tmp("readers", "reach.parquet");
    let js = tmp("readers", "reach.jsonl");
    for out in [&pq, &js] {
        vnetsim(&[
            "reach",
            lab.to_str().unwrap(),
            "--from",
            "nic:vm-shared-nic",
            "--to",
            "nic:vm-app-nic",
            "--why",
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    let (rows, schema) = pyarrow_rows(&pq);
    let expected = jsonl(&js);
    assert!(rows.iter().any(|r| r["blockers"].is_array()));
    assert_eq!(rows, expected, "pyarrow's rows differ from the JSON lines");
    let ty = |n: &str| {
        schema
            .iter()
            .find(|(f, _)| f == n)
            .map(|(_, t)| t.as_str())
            .unwrap()
    };
    assert_eq!(ty("classes"), "uint64");
    assert_eq!(ty("blockers"), "list<item: string>");
    assert_eq!(ty("path"), "string");
}

#[test]
fn pyarrow_reads_a_replays_parquet_equal_to_its_jsonl() {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let cap = root().join("traces/hub-spoke-lab.pcap");
    let pq = tmp("readers", "replay.parquet");
    let js = tmp("readers", "replay.jsonl");
    for out in [&pq, &js] {
        vnetsim(&[
            "replay",
            lab.to_str().unwrap(),
            cap.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    let (rows, schema) = pyarrow_rows(&pq);
    let expected = jsonl(&js);
    assert_eq!(rows, expected);
    assert!(schema.contains(&("hops".into(), "list<item: string>".into())));
    assert!(expected
        .iter()
        .all(|r| r["hops"].as_array().is_some_and(|h| !h.is_empty())));
}

/// A flow-log replay's rows per logged flow and per drift finding: pyarrow reads the Parquet
/// of each equal to its JSON lines. The drift comes from the lab with nsg-app's
/// `allow-https-onprem` turned to Deny against the lab's own log.
#[test]
fn pyarrow_reads_a_flow_log_replays_parquet_equal_to_its_jsonl() {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let logs = tmp("readers", "flow-logs");
    let _ = std::fs::remove_dir_all(&logs);
    vnetsim(&[
        "synth-flow-logs",
        lab.to_str().unwrap(),
        "--from",
        "all",
        "--to",
        "all",
        "--ports",
        "tcp/443,udp/53",
        "-o",
        logs.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&lab).unwrap();
    let changed = text.replace(
        "{ name: allow-https-onprem, priority: 200, direction: Inbound, access: Allow",
        "{ name: allow-https-onprem, priority: 200, direction: Inbound, access: Deny",
    );
    assert_ne!(text, changed);
    let topo = tmp("readers", "flow-logs-changed.yaml");
    std::fs::write(&topo, changed).unwrap();
    let out = |ext: &str| tmp("readers", &format!("flow-logs-rows.{ext}"));
    let drift = |ext: &str| tmp("readers", &format!("flow-logs-drift.{ext}"));
    for ext in ["parquet", "jsonl"] {
        vnetsim(&[
            "replay",
            topo.to_str().unwrap(),
            logs.to_str().unwrap(),
            "--out",
            out(ext).to_str().unwrap(),
            "--drift-out",
            drift(ext).to_str().unwrap(),
        ]);
    }
    let (rows, schema) = pyarrow_rows(&out("parquet"));
    let expected = jsonl(&out("jsonl"));
    assert!(expected.len() > 20);
    assert_eq!(
        rows, expected,
        "pyarrow's flow rows differ from the JSON lines"
    );
    let ty = |n: &str| {
        schema
            .iter()
            .find(|(f, _)| f == n)
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    assert_eq!(ty("loggedVerdict"), "string");
    let (findings, _) = pyarrow_rows(&drift("parquet"));
    let expected = jsonl(&drift("jsonl"));
    assert!(!expected.is_empty());
    assert!(expected.iter().all(|f| f["kind"] == "verdict-mismatch"));
    assert_eq!(
        findings, expected,
        "pyarrow's findings differ from the JSON lines"
    );
}

/// `tcpdump -nn -vv -r FILE`, its lines.
#[test]
fn pyarrow_reads_a_replays_per_packet_parquet_equal_to_its_jsonl() {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let cap = root().join("traces/hub-spoke-lab.pcap");
    let pq = tmp("readers", "packets.parquet");
    let js = tmp("readers", "packets.jsonl");
    for out in [&pq, &js] {
        vnetsim(&[
            "replay",
            lab.to_str().unwrap(),
            cap.to_str().unwrap(),
            "--per",
            "packet",
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    let (rows, schema) = pyarrow_rows(&pq);
    let expected = jsonl(&js);
    assert!(!expected.is_empty());
    assert_eq!(
        rows, expected,
        "pyarrow's packet rows differ from the JSON lines"
    );
    let ty = |n: &str| {
        schema
            .iter()
            .find(|(f, _)| f == n)
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    assert_eq!(ty("index"), "uint64");
    assert_eq!(ty("tsNs"), "uint64");
    assert_eq!(ty("srcPort"), "uint16");
    assert_eq!(ty("flow"), "uint32");
    assert_eq!(ty("verdict"), "string");
}

fn tcpdump(p: &Path) -> Vec<String> {
    let o = Command::new("tcpdump")
        .args(["-nn", "-vv", "-r", p.to_str().unwrap()])
        .output()
        .expect("tcpdump must be installed (.ci/run installs it)");
    assert!(
        o.status.success(),
        "tcpdump could not read {}: {}",
        p.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn tcpdump_reads_the_rewritten_captures_with_correct_checksums() {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let cap = root().join("traces/hub-spoke-lab.pcap");
    let dir = tmp("readers", "pcap-out");
    let rows = tmp("readers", "packets.jsonl");
    vnetsim(&[
        "replay",
        lab.to_str().unwrap(),
        cap.to_str().unwrap(),
        "--pcap-out",
        dir.to_str().unwrap(),
        "--per",
        "packet",
        "--out",
        rows.to_str().unwrap(),
    ]);
    let packets = jsonl(&rows);
    let mut files = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let endpoint = p
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replacen('_', ":", 1);
        let delivered: Vec<&Value> = packets
            .iter()
            .filter(|r| {
                r["verdict"] == "delivered" && r["deliveredTo"].as_str() == Some(endpoint.as_str())
            })
            .collect();
        let lines = tcpdump(&p);
        // With -vv each packet is a header line (timestamp first) and the IP line holds it.
        let headers: Vec<&String> = lines
            .iter()
            .filter(|l| l.as_bytes().first().is_some_and(u8::is_ascii_digit))
            .collect();
        assert_eq!(
            headers.len(),
            delivered.len(),
            "{}: one packet per delivered packet row",
            p.display()
        );
        for l in &lines {
            assert!(
                !l.contains("bad cksum") && !l.contains("incorrect"),
                "{}: {l}",
                p.display()
            );
        }
        // The source each packet shows is the rewritten one (`srcSeen`).
        let text = lines.join("\n");
        for r in &delivered {
            let seen = r["srcSeen"].as_str().unwrap();
            assert!(
                text.contains(&format!(" {seen}")),
                "{}: no packet from {seen}",
                p.display()
            );
        }
        files += 1;
    }
    assert!(
        files >= 4,
        "one capture per delivery endpoint, found {files}"
    );
}
