//! Replay through the real binary: the bundled lab capture, rewritten captures,
//! per-packet rows, L7 hints and mid-stream TCP.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use vnetsim_traffic::synth::{write_flows_to_path, SynthConfig, SynthFlow};
use vnetsim_traffic::{
    ipv4_header_checksum, ipv4_l4_checksum, CaptureReader, PacketKind, PcapWriter,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-replay-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn ok(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into()
}

fn jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ip(s: &str) -> u32 {
    u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
}

#[test]
fn lab_capture_replay_equals_trace_per_flow() {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let cap = root().join("traces/hub-spoke-lab.pcap");
    let out = tmp("lab-flows.jsonl");
    ok(&[
        "replay",
        lab.to_str().unwrap(),
        cap.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 100, "one row per flow of the capture");
    for r in &rows {
        let proto = r["protocol"].as_str().unwrap();
        let mut args = vec![
            "trace".to_string(),
            lab.to_str().unwrap().into(),
            "--src".into(),
            r["src"].as_str().unwrap().into(),
            "--dst".into(),
            r["dst"].as_str().unwrap().into(),
            "--protocol".into(),
            proto.into(),
            "--json".into(),
        ];
        if proto != "Icmp" {
            args.extend([
                "--src-port".to_string(),
                r["srcPort"].to_string(),
                "--dst-port".into(),
                r["dstPort"].to_string(),
            ]);
        }
        if let Some(q) = r["fqdn"].as_str() {
            args.extend(["--fqdn".to_string(), q.to_string()]);
        }
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let t: Value = serde_json::from_str(&ok(&a)).unwrap();
        assert_eq!(t["outcome"], r["outcome"], "{r}");
        assert_eq!(t["forward"]["deliveredTo"], r["deliveredTo"], "{r}");
        assert_eq!(t["forward"]["srcSeen"], r["srcSeen"], "{r}");
        assert_eq!(t["ingress"], r["ingress"], "{r}");
    }
}

fn read_ipv4(p: &Path) -> Vec<(u32, u32, Vec<u8>)> {
    let mut r = CaptureReader::open(p).unwrap();
    let mut v = Vec::new();
    while let Some(pkt) = r.next_packet() {
        if let PacketKind::Ipv4(f) = pkt.info.kind {
            let off = vnetsim_traffic::ipv4_offset(pkt.link_type, pkt.data).unwrap();
            v.push((f.src, f.dst, pkt.data[off..].to_vec()));
        }
    }
    v
}

#[test]
fn pcap_out_shows_the_rewritten_sources_with_valid_checksums() {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let cap = root().join("traces/hub-spoke-lab.pcap");
    let dir = tmp("pcap-out");
    ok(&[
        "replay",
        lab.to_str().unwrap(),
        cap.to_str().unwrap(),
        "--pcap-out",
        dir.to_str().unwrap(),
    ]);
    let pe = read_ipv4(&dir.join("pe_pe-app.pcap"));
    // R6.4: the shared spoke's flow to the endpoint is proxied by the application rule, so the
    // endpoint receives it from a firewall instance address, never from 10.2.1.4.
    assert!(pe
        .iter()
        .any(|(s, d, _)| *s == ip("10.0.1.5") && *d == ip("10.1.2.5")));
    assert!(!pe.iter().any(|(s, _, _)| *s == ip("10.2.1.4")));
    // The hub VM reaches it directly (R4.2), source kept.
    assert!(pe.iter().any(|(s, _, _)| *s == ip("10.0.2.4")));
    // R6.3: on-premises to the app VM through the firewall's network rule keeps the source.
    let app = read_ipv4(&dir.join("nic_vm-app-nic.pcap"));
    assert!(app.iter().any(|(s, _, _)| *s == ip("192.168.0.10")));
    // Checksums of every rewritten packet are valid.
    for (src, dst, pkt) in pe.iter().chain(app.iter()) {
        let ihl = ((pkt[0] & 0x0f) as usize) * 4;
        assert_eq!(ipv4_header_checksum(&pkt[..ihl]), 0, "IPv4 header checksum");
        let proto = pkt[9];
        if proto == 6 || proto == 17 {
            let total = u16::from_be_bytes([pkt[2], pkt[3]]) as usize;
            assert_eq!(
                ipv4_l4_checksum(*src, *dst, proto, &pkt[ihl..total.min(pkt.len())]),
                0,
                "L4 checksum"
            );
        }
    }
}

#[test]
fn per_packet_rows_cover_every_packet_in_both_directions() {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let cap = root().join("traces/hub-spoke-lab.pcap");
    let out = tmp("lab-packets.jsonl");
    ok(&[
        "replay",
        lab.to_str().unwrap(),
        cap.to_str().unwrap(),
        "--per",
        "packet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = jsonl(&out);
    assert_eq!(
        rows.len(),
        vnetsim_traffic::read_stats(&cap).unwrap().ipv4 as usize
    );
    assert!(rows
        .iter()
        .any(|r| r["direction"] == "reply" && r["verdict"] == "delivered"));
    assert!(rows
        .iter()
        .any(|r| r["direction"] == "request" && r["verdict"] == "dropped"));
    // Packets of one flow share its index and its outcome.
    let first = &rows[0];
    assert!(rows
        .iter()
        .filter(|r| r["flow"] == first["flow"])
        .all(|r| r["outcome"] == first["outcome"]));
}

fn flow(src: &str, dst: &str, dport: u16, fqdn: Option<&str>) -> SynthFlow {
    SynthFlow {
        src: ip(src),
        dst: ip(dst),
        proto: 6,
        sport: 41000,
        dport,
        fqdn: fqdn.map(str::to_string),
        reply: true,
        packets: 2,
    }
}

#[test]
fn tls_sni_drives_application_rules() {
    // The lab's application rule `web/microsoft` allows *.microsoft.com from 10.0.0.0/8 on
    // Https:443 (R6.4): the name comes from the ClientHello; without a name nothing matches.
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let cap = tmp("sni.pcap");
    write_flows_to_path(
        &cap,
        &[
            flow(
                "10.1.1.4",
                "93.184.216.34",
                443,
                Some("learn.microsoft.com"),
            ),
            flow("10.1.1.4", "93.184.216.35", 443, None),
        ],
        &SynthConfig::default(),
    )
    .unwrap();
    let out = tmp("sni.jsonl");
    ok(&[
        "replay",
        lab.to_str().unwrap(),
        cap.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["fqdn"], "learn.microsoft.com");
    assert_eq!(rows[0]["outcome"], "reachable");
    assert_eq!(rows[0]["rule"], "web/microsoft");
    // R-FW-10: toward the Internet the proxied connection leaves from the firewall public IP.
    assert_eq!(rows[0]["srcSeen"], "20.10.10.10");
    assert_eq!(rows[1]["outcome"], "unreachable");
    assert_eq!(rows[1]["rule"], "afw-hub/DefaultDeny");
}

#[test]
fn mid_stream_tcp_without_state_is_dropped_by_the_firewall() {
    // R-FW-11: a TCP packet that is not a SYN and matches no session is dropped. The same
    // conversation with its SYN passes the firewall's network rule.
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let full = tmp("full.pcap");
    write_flows_to_path(
        &full,
        &[flow("192.168.0.10", "10.1.1.4", 443, None)],
        &SynthConfig::default(),
    )
    .unwrap();
    let cut = tmp("midstream.pcap");
    {
        let mut r = CaptureReader::open(&full).unwrap();
        let mut w = PcapWriter::create(&cut, r.link_type().unwrap()).unwrap();
        let mut first = true;
        while let Some(p) = r.next_packet() {
            if first {
                first = false; // drop the SYN
                continue;
            }
            w.write_packet(p.info.ts_ns, p.data, p.info.wire_len)
                .unwrap();
        }
        w.flush().unwrap();
    }
    let out = tmp("full.jsonl");
    ok(&[
        "replay",
        lab.to_str().unwrap(),
        full.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(jsonl(&out)[0]["outcome"], "reachable");
    let out = tmp("cut.jsonl");
    ok(&[
        "replay",
        lab.to_str().unwrap(),
        cut.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = jsonl(&out);
    // The first packet seen is now the server's SYN-ACK: a reply with no request, walked from the
    // VM's side toward the site, through its 0.0.0.0/0 route into the firewall, which drops it.
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["outcome"], "unreachable", "{}", rows[0]);
    assert_eq!(rows[0]["droppedAt"], "firewall:afw-hub");
}

#[test]
fn real_captures_replay_without_failing() {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let dir = root().join("traces/captures");
    let mut n = 0;
    for e in walk(&dir) {
        let name = e.to_string_lossy().to_string();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        let out = ok(&["replay", lab.to_str().unwrap(), &name, "--json"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        let stats = vnetsim_traffic::read_stats(&e).unwrap();
        assert_eq!(v["packets"], stats.packets, "{name}");
        n += 1;
    }
    assert!(n >= 10, "expected the bundled captures, found {n}");
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v.sort();
    v
}

#[test]
fn replay_output_identical_at_one_two_and_eight_threads() {
    // About 20,000 flows: at least 8 chunks of the parallel walk (512 flows each).
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let cap = tmp("many-flows.pcap");
    ok(&[
        "synth",
        lab.to_str().unwrap(),
        "--ports",
        "tcp/1-400,udp/1-400,icmp",
        "-o",
        cap.to_str().unwrap(),
    ]);
    /// A run's summary, its output file, and the captures it wrote (name, bytes) by name.
    type Run = (String, Vec<u8>, Vec<(String, Vec<u8>)>);
    let run = |threads: &str, per: &str, ext: &str| -> Run {
        let out = tmp(&format!("det-{threads}-{per}.{ext}"));
        let dir = tmp(&format!("det-pcap-{threads}-{per}-{ext}"));
        let summary = ok(&[
            "replay",
            lab.to_str().unwrap(),
            cap.to_str().unwrap(),
            "--threads",
            threads,
            "--per",
            per,
            "--out",
            out.to_str().unwrap(),
            "--pcap-out",
            dir.to_str().unwrap(),
        ]);
        let mut pcaps: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                (
                    p.file_name().unwrap().to_string_lossy().into(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        pcaps.sort();
        (summary, std::fs::read(&out).unwrap(), pcaps)
    };
    for (per, ext) in [
        ("flow", "jsonl"),
        ("flow", "csv"),
        ("flow", "parquet"),
        ("packet", "jsonl"),
        ("packet", "csv"),
    ] {
        let one = run("1", per, ext);
        if (per, ext) == ("flow", "jsonl") {
            let flows = one.1.iter().filter(|b| **b == b'\n').count();
            assert!(
                flows >= 8 * 512,
                "{flows} flows: too few to split into 8 chunks"
            );
        }
        for threads in ["2", "8"] {
            let other = run(threads, per, ext);
            assert_eq!(other.0, one.0, "summary, {per} {ext}, {threads} threads");
            assert!(
                other.1 == one.1,
                "rows differ: {per} {ext}, {threads} threads"
            );
            assert!(
                other.2 == one.2,
                "rewritten captures differ at {threads} threads"
            );
        }
    }
}
