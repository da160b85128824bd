//! `vnetsim replay TOPO LOGS...` on flow logs, through the binary.
//!
//! Fixtures are written from Microsoft's documented schema and samples:
//! VNet flow logs v4 — https://learn.microsoft.com/azure/network-watcher/vnet-flow-logs-overview
//! (record shape, 13-field tuples, states B/C/E/D, admin-rule groups) and the tutorial
//! https://learn.microsoft.com/azure/network-watcher/vnet-flow-logs-tutorial (a downloaded PT1H.json:
//! seconds timestamps, `resourceId`); NSG flow logs v1 and v2 —
//! https://learn.microsoft.com/azure/network-watcher/nsg-flow-logs-overview.
//! Every expected count below is read from the fixture by hand.

mod common;

use std::path::{Path, PathBuf};

use common::{jsonl, ok, root, run, tmp};
use serde_json::Value;

fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures/flowlogs")
        .join(name)
        .display()
        .to_string()
}

fn lab() -> String {
    root()
        .join("traces/hub-spoke-lab.yaml")
        .display()
        .to_string()
}

fn replay_json(topo: &str, logs: &[&str]) -> Value {
    let mut args = vec!["replay", topo];
    args.extend_from_slice(logs);
    args.push("--json");
    serde_json::from_str(&ok(&args)).unwrap()
}

fn drift(v: &Value, kind: &str) -> u64 {
    v["drift"][kind]["count"].as_u64().unwrap()
}

#[test]
fn vnet_v4_overview_sample_parses_to_its_flows() {
    // 8 tuples: two outbound flows of B+E each, four inbound denied flows (two under the admin
    // rule BlockHighRiskTCPPortsFromInternet, two under the admin rule "Internet").
    let out = tmp("flowlog", "overview.jsonl");
    let o = out.display().to_string();
    let topo = fixture("overview-vnet.yaml");
    let v = replay_json(&topo, &[&fixture("vnet-v4-overview.json"), "--out", &o]);
    assert_eq!(v["tuples"], 8);
    assert_eq!(v["tuplesBySchema"]["vnetV4"], 8);
    assert_eq!(v["flows"], 6);
    assert_eq!(v["corruptRecords"], 0);
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 6);
    // The first flow: B then E with 3 packets / 767 bytes out and 2 / 1580 back.
    let r = &rows[0];
    assert_eq!(r["src"], "10.0.0.6");
    assert_eq!(r["dst"], "192.0.2.180");
    assert_eq!(r["srcPort"], 23956);
    assert_eq!(r["tuples"], 2);
    assert_eq!(r["packets"], 5);
    assert_eq!(r["bytes"], 767 + 1580);
    assert_eq!(
        r["matchedBy"], "mac",
        "MAC 112233445566 is the NIC's 11-22-33-44-55-66"
    );
    assert_eq!(r["loggedRule"], "DefaultRule_AllowInternetOutBound");
    assert_eq!(r["modelRule"], "myVM-nsg/AllowInternetOutBound");
    assert_eq!(r["drift"], Value::Null);
    // Admin-rule groups: reported, not compared, and not drift.
    assert_eq!(drift(&v, "not-modelled"), 4);
    assert_eq!(drift(&v, "verdict-mismatch"), 0);
    assert_eq!(drift(&v, "rule-mismatch"), 0);
    let denied: Vec<&Value> = rows
        .iter()
        .filter(|r| r["loggedVerdict"] == "Deny")
        .collect();
    assert_eq!(denied.len(), 4);
    assert!(denied.iter().all(|r| r["drift"] == "not-modelled"));
}

#[test]
fn seconds_timestamps_and_resource_id_key() {
    // One flow, two tuples (C then E) in seconds; the record says resourceId.
    let v = replay_json(&lab(), &[&fixture("vnet-v4-tutorial-seconds.json")]);
    assert_eq!(v["tuples"], 2);
    assert_eq!(v["flows"], 1);
    // 10.0.0.4 is no NIC of the lab (10.0.2.4 is): an unknown endpoint, said.
    assert_eq!(drift(&v, "unknown-endpoint"), 1);
    let out = tmp("flowlog", "seconds.jsonl");
    let o = out.display().to_string();
    ok(&[
        "replay",
        &lab(),
        &fixture("vnet-v4-tutorial-seconds.json"),
        "--out",
        &o,
    ]);
    let r = &jsonl(&out)[0];
    assert_eq!(r["packets"], 12 + 14 + 2 + 1);
    assert_eq!(r["bytes"], 4213 + 9752 + 120 + 60);
}

#[test]
fn nsg_v1_and_v2_samples() {
    // v1: two denied and three allowed inbound tuples, all distinct flows.
    let v1 = replay_json(&lab(), &[&fixture("nsg-v1.json")]);
    assert_eq!(v1["tuplesBySchema"]["nsgV1"], 5);
    assert_eq!(v1["flows"], 5);
    // v2: three denied inbound, four allowed outbound, all distinct flows.
    let v2 = replay_json(&lab(), &[&fixture("nsg-v2.json")]);
    assert_eq!(v2["tuplesBySchema"]["nsgV2"], 7);
    assert_eq!(v2["flows"], 7);
    let out = tmp("flowlog", "v2.jsonl");
    let o = out.display().to_string();
    ok(&["replay", &lab(), &fixture("nsg-v2.json"), "--out", &o]);
    let rows = jsonl(&out);
    let udp = rows.iter().find(|r| r["protocol"] == "Udp").unwrap();
    assert_eq!(udp["src"], "94.102.49.190");
    assert_eq!(udp["loggedVerdict"], "Deny");
    let c = rows.iter().find(|r| r["dst"] == "13.67.143.115").unwrap();
    assert_eq!(c["packets"], 30 + 24);
    assert_eq!(c["direction"], "Outbound");
}

#[test]
fn truncated_blob_keeps_the_records_before_the_cut() {
    let v = replay_json(&lab(), &[&fixture("vnet-v4-truncated.json")]);
    assert_eq!(v["records"], 1);
    assert_eq!(v["tuples"], 2);
    assert_eq!(v["truncatedBlobs"], 1);
    assert_eq!(v["corruptRecords"], 0);
    let p = v["problems"][0].as_str().unwrap();
    assert!(
        p.contains("vnet-v4-truncated.json") && p.contains("cut mid-write"),
        "{p}"
    );
}

#[test]
fn a_corrupt_record_mid_blob_is_skipped_and_the_records_after_it_are_read() {
    // Record 0: flow 10.0.0.6 -> 192.0.2.180:443 (B, C). Record 1: not JSON (a trailing comma
    // in flowTuples). Record 2: flow 10.0.0.6 -> 198.51.100.7:80 (B, E). The broken record is
    // one corrupt record; the other two are read, four tuples in two flows.
    let v = replay_json(&lab(), &[&fixture("vnet-v4-corrupt-middle.json")]);
    assert_eq!(v["records"], 2);
    assert_eq!(v["corruptRecords"], 1);
    assert_eq!(v["truncatedBlobs"], 0);
    assert_eq!(v["tuples"], 4);
    assert_eq!(v["flows"], 2);
    let p = v["problems"][0].as_str().unwrap();
    assert!(
        p.contains("record 1 (line 3)") && p.contains("skipped to the next record, at line 4"),
        "{p}"
    );
}

#[test]
fn json_lines_corrupt_records_counted_with_location() {
    // Line 1 a record, line 2 an unfinished record, line 3 a record with one bad tuple.
    let v = replay_json(&lab(), &[&fixture("vnet-v4-lines.jsonl")]);
    assert_eq!(v["records"], 2);
    assert_eq!(v["corruptRecords"], 1);
    assert_eq!(v["corruptTuples"], 1);
    assert_eq!(v["tuples"], 3);
    let problems: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        problems.iter().any(|p| p.contains("line 2")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("line 3") && p.contains("tuple 1")),
        "{problems:?}"
    );
}

fn generate(dir: &Path) {
    let d = dir.display().to_string();
    let _ = std::fs::remove_dir_all(dir);
    ok(&[
        "synth-flow-logs",
        &lab(),
        "--from",
        "all",
        "--to",
        "all",
        "--ports",
        "tcp/443,tcp/22,tcp/3389,udp/53",
        "-o",
        &d,
    ]);
}

fn blobs(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            blobs(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn generated_lab_log_replays_with_zero_drift_in_the_stored_layout() {
    let dir = tmp("flowlog", "lab-logs");
    generate(&dir);
    let mut files = Vec::new();
    blobs(&dir, &mut files);
    assert!(!files.is_empty());
    for f in &files {
        let s = f.display().to_string();
        assert!(s.contains("/y=2026/m=01/d=01/h=00/m=00/macAddress="), "{s}");
        assert!(s.ends_with("/PT1H.json"));
        // The default first hour is 1,767,225,600 s since the epoch: 2026-01-01T00:00:00Z,
        // written as Azure writes `time` (ISO 8601, UTC, seven fractional digits).
        let blob: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        for r in blob["records"].as_array().unwrap() {
            assert_eq!(r["time"], "2026-01-01T00:00:00.0000000Z", "{s}");
        }
    }
    let d = dir.display().to_string();
    let (code, out, err) = run(&["replay", &lab(), &d, "--fail-on-drift", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["files"].as_u64().unwrap(), files.len() as u64);
    assert!(v["flows"].as_u64().unwrap() > 50);
    for k in [
        "verdict-mismatch",
        "rule-mismatch",
        "logged-but-impossible",
        "unknown-endpoint",
        "not-modelled",
    ] {
        assert_eq!(drift(&v, k), 0, "{k}: {}", v["drift"][k]);
    }
}

#[test]
fn one_nsg_rule_changed_shows_exactly_the_affected_flows() {
    let dir = tmp("flowlog", "lab-logs-2");
    generate(&dir);
    let d = dir.display().to_string();
    // nsg-app's allow-https-onprem (priority 200, Tcp 443 from 192.168.0.0/16) becomes Deny.
    let text = std::fs::read_to_string(lab()).unwrap();
    let changed = text.replace(
        "{ name: allow-https-onprem, priority: 200, direction: Inbound, access: Allow",
        "{ name: allow-https-onprem, priority: 200, direction: Inbound, access: Deny",
    );
    assert_ne!(text, changed);
    let topo = tmp("flowlog", "changed.yaml");
    std::fs::write(&topo, changed).unwrap();
    let t = topo.display().to_string();
    // Which logged flows that rule decided: read from the log itself (per-flow rows).
    let rows_p = tmp("flowlog", "rows.jsonl");
    ok(&["replay", &lab(), &d, "--out", &rows_p.display().to_string()]);
    let rows = jsonl(&rows_p);
    let affected: std::collections::BTreeSet<(String, u64, String, u64)> = rows
        .iter()
        .filter(|r| r["loggedRule"] == "UserRule_allow-https-onprem")
        .map(|r| {
            (
                r["src"].as_str().unwrap().to_string(),
                r["srcPort"].as_u64().unwrap(),
                r["dst"].as_str().unwrap().to_string(),
                r["dstPort"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(!affected.is_empty());
    let drift_p = tmp("flowlog", "drift.jsonl");
    let (code, _, err) = run(&[
        "replay",
        &t,
        &d,
        "--fail-on-drift",
        "--drift-out",
        &drift_p.display().to_string(),
    ]);
    assert_eq!(code, 1, "--fail-on-drift fails on drift: {err}");
    let findings = jsonl(&drift_p);
    assert!(
        findings.iter().all(|f| f["kind"] == "verdict-mismatch"),
        "{findings:?}"
    );
    assert!(findings
        .iter()
        .all(|f| f["modelRule"] == "nsg-app/allow-https-onprem"));
    let found: std::collections::BTreeSet<(String, u64, String, u64)> = findings
        .iter()
        .map(|r| {
            (
                r["src"].as_str().unwrap().to_string(),
                r["srcPort"].as_u64().unwrap(),
                r["dst"].as_str().unwrap().to_string(),
                r["dstPort"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(found, affected);
    // The what-if: the lab's log against the changed topology names the same flows.
    let v = replay_json(&lab(), &[&d, "--against", &t]);
    assert_eq!(
        v["decidedDifferently"]["count"].as_u64().unwrap(),
        findings.len() as u64
    );
}

#[test]
fn a_flow_the_lab_cannot_carry_is_logged_but_impossible() {
    // 192.168.1.10 -> vm-shared-nic tcp/445: the firewall has no rule for it (default deny),
    // yet the log shows it arriving at the NIC.
    let v = replay_json(&lab(), &[&fixture("lab-impossible.json")]);
    assert_eq!(drift(&v, "logged-but-impossible"), 1);
    let ex = v["drift"]["logged-but-impossible"]["examples"][0]
        .as_str()
        .unwrap();
    assert!(ex.contains("firewall:afw-hub"), "{ex}");
    let (code, _, _) = run(&[
        "replay",
        &lab(),
        &fixture("lab-impossible.json"),
        "--fail-on-drift",
    ]);
    assert_eq!(code, 1);
}

#[test]
fn gzip_blob_is_read() {
    use std::io::Write;
    let p = tmp("flowlog", "nsg-v2.json.gz");
    let mut w = flate2::write::GzEncoder::new(
        std::fs::File::create(&p).unwrap(),
        flate2::Compression::default(),
    );
    w.write_all(&std::fs::read(fixture("nsg-v2.json")).unwrap())
        .unwrap();
    w.finish().unwrap();
    let v = replay_json(&lab(), &[&p.display().to_string(), "--flow-logs"]);
    assert_eq!(v["tuples"], 7);
}

#[test]
fn missing_log_is_a_located_error() {
    let (code, _, err) = run(&["replay", &lab(), "/nonexistent/flowlogs", "--flow-logs"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/flowlogs"), "{err}");
}

#[test]
fn a_logged_flow_an_unresolved_rule_could_decide_is_said_not_drift() {
    // tests/fixtures/unresolved.yaml: vm-app's outbound tcp/443 may meet
    // nsg-app/deny-storage-https (priority 100, toward the Storage tag, which has no data)
    // before allow-https-out (200), the rule the log names: the model has no verdict to
    // compare. Its tcp/80 flow is decided by AllowVnetOutBound (the 0.0.0.0/0 user route
    // widens the VirtualNetwork tag, R5.5), as logged: no finding.
    let topo = root()
        .join("tests/fixtures/unresolved.yaml")
        .display()
        .to_string();
    let v = replay_json(&topo, &[&fixture("unresolved-vnet-v4.json")]);
    assert_eq!(v["flows"], 2);
    assert_eq!(drift(&v, "not-modelled"), 1);
    let example = v["drift"]["not-modelled"]["examples"][0].as_str().unwrap();
    assert!(
        example.contains(":443") && example.contains("nsg-app/deny-storage-https"),
        "{example}"
    );
    for k in ["verdict-mismatch", "rule-mismatch", "logged-but-impossible"] {
        assert_eq!(drift(&v, k), 0, "{k}: {v}");
    }
}
