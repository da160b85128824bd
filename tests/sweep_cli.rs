//! Sweeps, diff and check through the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn lab() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("traces/hub-spoke-lab.yaml")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

fn ok(args: &[&str]) -> String {
    let (c, out, err) = run(args);
    assert_eq!(c, 0, "{args:?}: {err}");
    out
}

fn jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const PORTS: &str = "tcp/443,tcp/22,udp/53,icmp";

#[test]
fn row_count_is_sources_times_destinations_times_ports() {
    let l = lab();
    let out = tmp("count.jsonl");
    // Disjoint selectors: 2 sources (a site and the Internet) x 2 destinations (the workload VNet's
    // NIC and endpoint) x 4 ports.
    ok(&[
        "sweep",
        l.to_str().unwrap(),
        "--from",
        "site:home",
        "--from",
        "internet",
        "--to",
        "vnet:vnet-workload",
        "--ports",
        PORTS,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(jsonl(&out).len(), 2 * 2 * 4);
    // `all` on both sides: 3 NICs + 1 site + the Internet as sources, plus the endpoint as a
    // destination; a probe never talks to itself, so (5 x 6 - 5) pairs x 4 ports.
    let out = tmp("all.jsonl");
    ok(&[
        "sweep",
        l.to_str().unwrap(),
        "--ports",
        PORTS,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(jsonl(&out).len(), (5 * 6 - 5) * 4);
}

#[test]
fn every_sweep_cell_agrees_with_a_single_trace() {
    let l = lab();
    let out = tmp("agree.jsonl");
    ok(&[
        "sweep",
        l.to_str().unwrap(),
        "--ports",
        PORTS,
        "--out",
        out.to_str().unwrap(),
    ]);
    for r in jsonl(&out) {
        let proto = r["protocol"].as_str().unwrap();
        let mut args = vec![
            "trace".to_string(),
            l.to_str().unwrap().into(),
            "--src".into(),
            r["src"].as_str().unwrap().into(),
            "--dst".into(),
            r["dst"].as_str().unwrap().into(),
            "--protocol".into(),
            proto.into(),
            "--from".into(),
            r["ingress"].as_str().unwrap().into(),
            "--json".into(),
        ];
        if proto != "Icmp" {
            args.push("--dst-port".into());
            args.push(r["dstPort"].to_string());
        }
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let t: Value = serde_json::from_str(&ok(&a)).unwrap();
        assert_eq!(t["outcome"], r["outcome"], "{r}");
        assert_eq!(t["forward"]["deliveredTo"], r["deliveredTo"], "{r}");
        assert_eq!(t["forward"]["srcSeen"], r["srcSeen"], "{r}");
        let nodes: Vec<&str> = t["forward"]["hops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["node"].as_str().unwrap())
            .collect();
        assert_eq!(nodes.join(" > "), r["path"].as_str().unwrap(), "{r}");
        // The path as a list: the trace's hop nodes, one element each.
        assert_eq!(r["hops"], serde_json::json!(nodes), "{r}");
    }
}

/// Ports giving the lab's matrix about 20,000 flows: at least 8 chunks of 1,024 cells, so that
/// 2 and 8 threads really split the work.
const MANY_PORTS: &str = "tcp/1-400,udp/1-400,icmp";

#[test]
fn output_bytes_identical_at_one_two_and_eight_threads() {
    let l = lab();
    let sweep_at = |threads: &str, out: &Path, heatmap: &Path| {
        ok(&[
            "sweep",
            l.to_str().unwrap(),
            "--ports",
            MANY_PORTS,
            "--threads",
            threads,
            "--out",
            out.to_str().unwrap(),
            "--heatmap",
            heatmap.to_str().unwrap(),
        ])
    };
    for ext in ["jsonl", "csv", "parquet"] {
        let first = tmp(&format!("t1.{ext}"));
        let first_svg = tmp(&format!("t1-{ext}.svg"));
        let summary = sweep_at("1", &first, &first_svg);
        if ext == "jsonl" {
            let rows = jsonl(&first).len();
            assert!(
                rows >= 8 * 1024,
                "{rows} rows: too few to split into 8 chunks"
            );
        }
        for threads in ["2", "8"] {
            let out = tmp(&format!("t{threads}.{ext}"));
            let svg = tmp(&format!("t{threads}-{ext}.svg"));
            assert_eq!(
                sweep_at(threads, &out, &svg),
                summary,
                "{ext} summary, {threads} threads"
            );
            assert!(
                std::fs::read(&first).unwrap() == std::fs::read(&out).unwrap(),
                "{ext} rows differ at {threads} threads"
            );
            assert!(
                std::fs::read(&first_svg).unwrap() == std::fs::read(&svg).unwrap(),
                "heat map differs at {threads} threads"
            );
        }
    }
    // The summary alone (aggregated per distinct outcome, no rows) too.
    let summary = |threads: &str| {
        ok(&[
            "sweep",
            l.to_str().unwrap(),
            "--ports",
            MANY_PORTS,
            "--threads",
            threads,
            "--json",
        ])
    };
    let one = summary("1");
    assert_eq!(summary("2"), one);
    assert_eq!(summary("8"), one);
}

#[test]
fn rows_come_in_matrix_order() {
    // Source-major, then destination, then port, as the matrix is defined; checked on the
    // first and last rows of a split run.
    let l = lab();
    let out = tmp("order.jsonl");
    ok(&[
        "sweep",
        l.to_str().unwrap(),
        "--from",
        "site:home",
        "--from",
        "internet",
        "--to",
        "nic:vm-app-nic",
        "--to",
        "nic:vm-shared-nic",
        "--ports",
        "tcp/1-3000",
        "--threads",
        "8",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 2 * 2 * 3000);
    let key = |r: &Value| {
        (
            r["ingress"].as_str().unwrap().to_string(),
            r["dst"].as_str().unwrap().to_string(),
            r["dstPort"].as_u64().unwrap(),
        )
    };
    assert_eq!(key(&rows[0]), ("site:home".into(), "10.1.1.4".into(), 1));
    assert_eq!(
        key(&rows[2999]),
        ("site:home".into(), "10.1.1.4".into(), 3000)
    );
    assert_eq!(key(&rows[3000]), ("site:home".into(), "10.2.1.4".into(), 1));
    assert_eq!(key(&rows[6000]).0, "internet");
    assert_eq!(key(&rows[11999]).2, 3000);
}

#[test]
fn parquet_output_reads_back_equal_to_jsonl() {
    let l = lab();
    let p = tmp("rows.parquet");
    let j = tmp("rows.jsonl");
    ok(&[
        "sweep",
        l.to_str().unwrap(),
        "--ports",
        PORTS,
        "--out",
        p.to_str().unwrap(),
    ]);
    ok(&[
        "sweep",
        l.to_str().unwrap(),
        "--ports",
        PORTS,
        "--out",
        j.to_str().unwrap(),
    ]);
    let from_parquet = vnetsim_report::read_parquet(&p).unwrap();
    let from_jsonl = vnetsim_report::read_jsonl(&j).unwrap();
    assert_eq!(from_parquet.len(), 100);
    assert_eq!(from_parquet, from_jsonl);
}

#[test]
fn diff_of_one_udr_lists_exactly_the_flows_that_change() {
    // Removing the hub tools subnet's 0.0.0.0/0 user route (rt-hub) changes only what that
    // route carried: the tools VM's traffic to the Internet (R2.2, R2.6). Its routes to the
    // peered spokes (VNetPeering) and on-premises (VirtualNetworkGateway) are longer than /0,
    // and the Private Endpoint's /32 is longer still.
    let l = lab();
    let text = std::fs::read_to_string(&l).unwrap();
    let changed = text.replace(
        "{ name: snet-tools, addressPrefix: 10.0.2.0/24, nsg: nsg-tools, routeTable: rt-hub }",
        "{ name: snet-tools, addressPrefix: 10.0.2.0/24, nsg: nsg-tools }",
    );
    assert_ne!(text, changed);
    let new = tmp("lab-no-rt-hub.yaml");
    std::fs::write(&new, changed).unwrap();
    let (code, out, err) = run(&[
        "diff",
        l.to_str().unwrap(),
        new.to_str().unwrap(),
        "--ports",
        "tcp/443",
        "--json",
        "--fail-on-change",
    ]);
    assert_eq!(code, 1, "--fail-on-change exits 1: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let c = v["changed"].as_array().unwrap();
    assert_eq!(c.len(), 1, "{out}");
    assert_eq!(c[0]["from"], "nic:vm-tools-nic");
    assert_eq!(c[0]["to"], "internet");
    assert!(c[0]["old"]["path"]
        .as_str()
        .unwrap()
        .contains("firewall:afw-hub"));
    assert!(!c[0]["new"]["path"]
        .as_str()
        .unwrap()
        .contains("firewall:afw-hub"));
    // Each side's path as a list too: without the route the VM leaves straight for the
    // Internet from its subnet (its instance public IP), no firewall hop.
    let old_hops = c[0]["old"]["hops"].as_array().unwrap();
    assert!(old_hops.iter().any(|h| h == "firewall:afw-hub"), "{out}");
    assert_eq!(
        c[0]["new"]["hops"],
        serde_json::json!(["nic:vm-tools-nic", "subnet:vnet-hub/snet-tools", "internet"])
    );
    // Identical topologies: nothing changes, exit 0 even with --fail-on-change.
    let (code, out, _) = run(&[
        "diff",
        l.to_str().unwrap(),
        l.to_str().unwrap(),
        "--ports",
        PORTS,
        "--fail-on-change",
    ]);
    assert_eq!(code, 0);
    assert!(out.starts_with("100 flows compared, 0 changed"), "{out}");
}

#[test]
fn check_passes_and_fails() {
    let l = lab();
    let pass = tmp("pass.yaml");
    std::fs::write(
        &pass,
        r#"assertions:
  - name: on-premises reaches the app VM through the firewall, source kept
    from: site:home
    to: nic:vm-app-nic
    ports: tcp/443
    expect: { outcome: reachable, deliveredTo: nic:vm-app-nic, srcSeen: unchanged, crosses: [firewall:afw-hub, gateway:vgw-hub] }
  - name: shared spoke reaches the endpoint through the application rule, proxied
    flow: { src: 10.2.1.4, dst: 10.1.2.5, dstPort: 443 }
    expect: { outcome: reachable, srcSeen: 10.0.1.5, rule: web/app-service }
  - name: hub VM reaches the endpoint without the firewall
    from: nic:vm-tools-nic
    to: pe:pe-app
    expect: { outcome: reachable, avoids: [firewall:afw-hub] }
  - name: SSH to the shared spoke is blocked by the firewall
    from: nic:vm-app-nic
    to: nic:vm-shared-nic
    ports: tcp/22
    expect: { outcome: unreachable, droppedAt: firewall:afw-hub, rule: net-deny/no-ssh-to-shared }
"#,
    )
    .unwrap();
    let (code, out, err) = run(&["check", l.to_str().unwrap(), pass.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("PASS")).count(),
        4,
        "{out}"
    );
    let fail = tmp("fail.yaml");
    std::fs::write(
        &fail,
        r#"assertions:
  - name: on-premises reaches the endpoint (it does not, the reply bypasses the firewall)
    from: site:home
    to: pe:pe-app
    expect: { outcome: reachable }
  - name: the app VM is reached on 443 from home
    from: site:home
    to: nic:vm-app-nic
    expect: { outcome: reachable }
"#,
    )
    .unwrap();
    let (code, out, _) = run(&["check", l.to_str().unwrap(), fail.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL on-premises reaches the endpoint"),
        "{out}"
    );
    assert!(
        out.contains("outcome no-return (expected reachable)"),
        "{out}"
    );
    assert!(out.contains("PASS the app VM"), "{out}");
    assert!(out.trim_end().ends_with("1 passed, 1 failed"), "{out}");
    // A bad assertion file is bad input: exit 2 with the place.
    let bad = tmp("bad.yaml");
    std::fs::write(&bad, "assertions:\n  - name: x\n    from: site:home\n    to: nic:vm-app-nic\n    expect: { outcome: sometimes }\n").unwrap();
    let (code, _, err) = run(&["check", l.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.yaml:5:") && err.contains("invalid outcome 'sometimes'"),
        "{err}"
    );
}

#[test]
fn generated_fabric_is_deterministic_and_sweepable() {
    let a = tmp("gen-a.yaml");
    let b = tmp("gen-b.yaml");
    ok(&[
        "generate",
        "--vnets",
        "6",
        "--subnets-per-vnet",
        "2",
        "--rules",
        "10",
        "--private-endpoints",
        "5",
        "--seed",
        "3",
        "-o",
        a.to_str().unwrap(),
    ]);
    ok(&[
        "generate",
        "--vnets",
        "6",
        "--subnets-per-vnet",
        "2",
        "--rules",
        "10",
        "--private-endpoints",
        "5",
        "--seed",
        "3",
        "-o",
        b.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let out = tmp("gen.jsonl");
    ok(&[
        "sweep",
        a.to_str().unwrap(),
        "--from",
        "vnet:spoke1",
        "--to",
        "vnet:spoke2",
        "--ports",
        "tcp/443",
        "--out",
        out.to_str().unwrap(),
    ]);
    // spoke1 has 2 NICs; spoke2 has 2 NICs and (5 endpoints over 5 spokes) 1 endpoint.
    assert_eq!(jsonl(&out).len(), 2 * 3);
}

#[test]
fn a_closed_pipe_ends_the_process_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(["generate", "--vnets", "400", "--rules", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone now; the rest of the output hits a closed pipe.
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("# Generated"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn aggregated_summary_equals_the_summary_of_every_row() {
    // Without --out the summary is built from one representative per distinct outcome key;
    // it must equal the summary of all rows.
    let l = lab();
    let csv = tmp("summary-rows.csv");
    let fast = ok(&["sweep", l.to_str().unwrap(), "--ports", PORTS, "--json"]);
    let full = ok(&[
        "sweep",
        l.to_str().unwrap(),
        "--ports",
        PORTS,
        "--json",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(fast, full);
    let cap = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("traces/hub-spoke-lab.pcap");
    let rows = tmp("summary-replay.jsonl");
    let fast = ok(&[
        "replay",
        l.to_str().unwrap(),
        cap.to_str().unwrap(),
        "--json",
    ]);
    let full = ok(&[
        "replay",
        l.to_str().unwrap(),
        cap.to_str().unwrap(),
        "--json",
        "--out",
        rows.to_str().unwrap(),
    ]);
    assert_eq!(fast, full);
}

#[test]
fn a_purpose_built_matrix_has_the_outcomes_the_semantics_give() {
    // tests/fixtures/two-spokes-firewall.yaml. Each expected cell, worked out by hand:
    // - a1 -> a2 (same subnet): the VNet's own route, no firewall; nsg-a's `AllowVnetInBound`
    //   admits every protocol from the VNet (R5.2): reachable, source kept.
    // - a1 -> b1: rt-a sends 10.2.0.0/16 to the firewall (R2.6); `east-west/a-to-b` allows TCP
    //   443 and 22 without SNAT toward a private address (R6.3); the reply takes rt-b back
    //   through the firewall's session (R6.6): reachable. UDP matches no network rule and
    //   application rules need TCP: the default deny (R6.1).
    // - b1 -> a1, b1 -> a2: `b-to-a` allows TCP 443 and 22; at spoke-a's subnet nsg-a's
    //   `deny-ssh-from-b` (priority 100) drops SSH (R5.1, R5.3), 443 passes on
    //   `AllowVnetInBound` (10.2.0.0/16 is in spoke-a's VirtualNetwork tag: a user-route
    //   prefix, R5.5). UDP: the firewall's default deny.
    // - internet -> any NIC: none has a public IP, so the probe targets a private address the
    //   Internet cannot reach.
    let topo =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/two-spokes-firewall.yaml");
    let out = tmp("purpose-built.jsonl");
    ok(&[
        "sweep",
        topo.to_str().unwrap(),
        "--from",
        "nic:a1",
        "--from",
        "nic:b1",
        "--from",
        "internet",
        "--to",
        "nic:a1",
        "--to",
        "nic:a2",
        "--to",
        "nic:b1",
        "--ports",
        "tcp/443,tcp/22,udp/53",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = jsonl(&out);
    const R: &str = "reachable";
    const U: &str = "unreachable";
    /// (ingress, dst, port label, outcome, delivered to, dropped at, rule at the drop, crosses fw)
    type Expected = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        bool,
    );
    let expected: Vec<Expected> = vec![
        (
            "nic:a1",
            "10.1.1.5",
            "Tcp/443",
            R,
            Some("nic:a2"),
            None,
            None,
            false,
        ),
        (
            "nic:a1",
            "10.1.1.5",
            "Tcp/22",
            R,
            Some("nic:a2"),
            None,
            None,
            false,
        ),
        (
            "nic:a1",
            "10.1.1.5",
            "Udp/53",
            R,
            Some("nic:a2"),
            None,
            None,
            false,
        ),
        (
            "nic:a1",
            "10.2.1.4",
            "Tcp/443",
            R,
            Some("nic:b1"),
            None,
            None,
            true,
        ),
        (
            "nic:a1",
            "10.2.1.4",
            "Tcp/22",
            R,
            Some("nic:b1"),
            None,
            None,
            true,
        ),
        (
            "nic:a1",
            "10.2.1.4",
            "Udp/53",
            U,
            None,
            Some("firewall:fw"),
            Some("fw/DefaultDeny"),
            true,
        ),
        (
            "nic:b1",
            "10.1.1.4",
            "Tcp/443",
            R,
            Some("nic:a1"),
            None,
            None,
            true,
        ),
        (
            "nic:b1",
            "10.1.1.4",
            "Tcp/22",
            U,
            None,
            Some("subnet:spoke-a/app"),
            Some("nsg-a/deny-ssh-from-b"),
            true,
        ),
        (
            "nic:b1",
            "10.1.1.4",
            "Udp/53",
            U,
            None,
            Some("firewall:fw"),
            Some("fw/DefaultDeny"),
            true,
        ),
        (
            "nic:b1",
            "10.1.1.5",
            "Tcp/443",
            R,
            Some("nic:a2"),
            None,
            None,
            true,
        ),
        (
            "nic:b1",
            "10.1.1.5",
            "Tcp/22",
            U,
            None,
            Some("subnet:spoke-a/app"),
            Some("nsg-a/deny-ssh-from-b"),
            true,
        ),
        (
            "nic:b1",
            "10.1.1.5",
            "Udp/53",
            U,
            None,
            Some("firewall:fw"),
            Some("fw/DefaultDeny"),
            true,
        ),
    ];
    let mut expected = expected;
    for dst in ["10.1.1.4", "10.1.1.5", "10.2.1.4"] {
        for port in ["Tcp/443", "Tcp/22", "Udp/53"] {
            expected.push((
                "internet",
                dst,
                port,
                U,
                None,
                Some("internet"),
                None,
                false,
            ));
        }
    }
    assert_eq!(rows.len(), expected.len(), "7 pairs x 3 ports");
    for (r, e) in rows.iter().zip(&expected) {
        let port = format!("{}/{}", r["protocol"].as_str().unwrap(), r["dstPort"]);
        let got = (
            r["ingress"].as_str().unwrap(),
            r["dst"].as_str().unwrap(),
            port.as_str(),
            r["outcome"].as_str().unwrap(),
            r["deliveredTo"].as_str(),
            r["droppedAt"].as_str(),
        );
        assert_eq!(got, (e.0, e.1, e.2, e.3, e.4, e.5), "{r}");
        if e.6.is_some() {
            assert_eq!(r["rule"].as_str(), e.6, "{r}");
        }
        let crosses = r["path"].as_str().unwrap().contains("firewall:fw");
        assert_eq!(crosses, e.7, "{r}");
        // `to` names the destination endpoint: the NIC owning the address, or the Internet.
        let to = match e.1 {
            "10.1.1.4" => "nic:a1",
            "10.1.1.5" => "nic:a2",
            _ => "nic:b1",
        };
        assert_eq!(r["to"], to, "{r}");
        assert!(
            r["capture"].is_null() && r["requestPackets"].is_null(),
            "sweep rows have no capture: {r}"
        );
        if e.3 == R {
            // No SNAT anywhere: network rules toward private addresses keep the source.
            assert_eq!(r["srcSeen"], r["src"], "{r}");
            assert_eq!(r["symmetric"], true, "{r}");
        }
    }
}

/// Runs `args`, reads `lines` lines of the chosen stream, closes it, and returns the exit
/// code and what the other stream said.
fn close_early(args: &[&str], stdout: bool) -> (Option<i32>, String) {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (closed, mut other): (Box<dyn Read + Send>, Box<dyn Read + Send>) = if stdout {
        (
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        )
    } else {
        (
            Box::new(child.stderr.take().unwrap()),
            Box::new(child.stdout.take().unwrap()),
        )
    };
    let mut first = String::new();
    BufReader::new(closed).read_line(&mut first).unwrap();
    // The reader of that stream is gone now; the rest hits a closed pipe.
    let drain = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = other.read_to_string(&mut s);
        s
    });
    let status = child.wait().unwrap();
    (status.code(), drain.join().unwrap())
}

#[test]
fn a_closed_stdout_or_stderr_ends_quietly_fifty_times_each() {
    let l = lab();
    let rows = [
        "sweep",
        l.to_str().unwrap(),
        "--ports",
        "tcp/1-2000",
        "--out",
        "-",
    ];
    // validate of a file with many warnings writes them to stderr.
    let warned = tmp("many-warnings.yaml");
    let mut y = String::from("version: 1\nvnets:\n");
    for i in 0..200 {
        y += &format!("  - {{ name: v{i}, addressSpace: [10.{i}.0.0/16] }}\n");
    }
    y += "peerings:\n";
    for i in 1..200 {
        y += &format!("  - {{ from: v0, to: v{i} }}\n"); // one-sided: a warning each
    }
    std::fs::write(&warned, y).unwrap();
    let validate = ["validate", warned.to_str().unwrap()];
    for _ in 0..50 {
        let (code, err) = close_early(&rows, true);
        assert_eq!(code, Some(0), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        let (code, out) = close_early(&validate, false);
        assert!(code == Some(0), "{code:?}: {out}");
        assert!(!out.contains("panicked"), "{out}");
    }
}

#[test]
fn rows_on_standard_output_equal_the_rows_of_a_file() {
    let l = lab();
    let file = tmp("stdout-vs-file.jsonl");
    ok(&[
        "sweep",
        l.to_str().unwrap(),
        "--ports",
        PORTS,
        "--out",
        file.to_str().unwrap(),
    ]);
    let out = ok(&["sweep", l.to_str().unwrap(), "--ports", PORTS, "--out", "-"]);
    assert_eq!(out, std::fs::read_to_string(&file).unwrap());
    let file = tmp("stdout-vs-file.csv");
    ok(&[
        "sweep",
        l.to_str().unwrap(),
        "--ports",
        PORTS,
        "--out",
        file.to_str().unwrap(),
    ]);
    let out = ok(&[
        "sweep",
        l.to_str().unwrap(),
        "--ports",
        PORTS,
        "--out",
        "-",
        "--out-format",
        "csv",
    ]);
    assert_eq!(out, std::fs::read_to_string(&file).unwrap());
}

#[test]
fn a_killed_sweep_leaves_no_complete_looking_file() {
    use std::process::Stdio;
    let l = lab();
    for ext in ["jsonl", "csv", "parquet"] {
        let out = tmp(&format!("killed.{ext}"));
        let _ = std::fs::remove_file(&out);
        // About 3.3 million flows: seconds of work, killed well before the end.
        let mut child = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
            .args([
                "sweep",
                l.to_str().unwrap(),
                "--ports",
                "tcp/1-65535,udp/1-65535",
                "--out",
            ])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let partial = PathBuf::from(format!("{}.partial", out.display()));
        let started = std::time::Instant::now();
        while !partial.exists() && started.elapsed() < std::time::Duration::from_secs(20) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "{ext}: the sweep finished before it was killed"
        );
        assert!(!out.exists(), "{ext}: a killed run left {}", out.display());
        assert!(
            partial.exists(),
            "{ext}: the unfinished file keeps its .partial name"
        );
    }
}

#[test]
fn a_misspelt_name_in_check_is_a_located_error_with_suggestions() {
    let l = lab();
    let a = tmp("misspelt.yaml");
    // Line 6, column 20: `afw-hub` is the firewall's name, not its node id.
    std::fs::write(
        &a,
        "assertions:\n  - name: on-premises to the app avoids the firewall\n    from: site:home\n    to: nic:vm-app-nic\n    expect:\n      avoids: [afw-hub]\n      rule: net-allow/onprem-to-spoke\n  - name: a selector\n    from: vnet:vnet-hubb\n    to: internet\n    expect: { outcome: reachable }\n",
    )
    .unwrap();
    let (c, _, err) = run(&["check", l.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(c, 2, "{err}");
    let f = a.display().to_string();
    assert!(
        err.contains(&format!("{f}:6:16: error: unknown node 'afw-hub'")),
        "{err}"
    );
    assert!(err.contains("firewall:afw-hub"), "did-you-mean: {err}");
    assert!(
        err.contains(&format!(
            "{f}:7:13: error: unknown rule 'net-allow/onprem-to-spoke'"
        )),
        "{err}"
    );
    assert!(
        err.contains("net-allow/onprem-to-spokes"),
        "did-you-mean: {err}"
    );
    assert!(
        err.contains(&format!(
            "{f}:9:11: error: unknown selector 'vnet:vnet-hubb'"
        )),
        "{err}"
    );
    assert!(err.contains("vnet:vnet-hub"), "{err}");
}

#[test]
fn check_writes_junit_with_one_case_per_assertion() {
    let l = lab();
    let a = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/lab-assertions.yaml");
    let x = tmp("check.xml");
    let (c, _, _) = run(&[
        "check",
        l.to_str().unwrap(),
        a.to_str().unwrap(),
        "--junit",
        x.to_str().unwrap(),
    ]);
    assert_eq!(c, 1, "one of the lab's assertions fails by design");
    let script = "import sys, xml.etree.ElementTree as ET\nr = ET.parse(sys.argv[1]).getroot()\ncases = r.findall('./testsuite/testcase')\nprint(len(cases), sum(1 for c in cases if c.find('failure') is not None), r.get('tests'), r.get('failures'))";
    let o = Command::new("python3")
        .args(["-c", script, x.to_str().unwrap()])
        .output()
        .expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // docs/lab-assertions.yaml: two assertions, the endpoint one fails (no-return).
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "2 1 2 1");
}

#[test]
fn sweep_selectors_take_addresses_and_the_summary_states_its_coverage() {
    let l = lab();
    let out = tmp("by-address.jsonl");
    // 192.168.1.10 is a host of site home; 10.1.1.4 is vm-app-nic's own address.
    let text = ok(&[
        "sweep",
        l.to_str().unwrap(),
        "--from",
        "192.168.1.10",
        "--to",
        "10.1.1.4",
        "--ports",
        "tcp/443",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["src"], "192.168.1.10");
    assert_eq!(rows[0]["ingress"], "site:home");
    assert_eq!(rows[0]["deliveredTo"], "nic:vm-app-nic");
    assert!(text.contains("coverage: one probe per endpoint"), "{text}");
    assert!(text.contains("DNAT"), "{text}");
    let (c, _, err) = run(&["sweep", l.to_str().unwrap(), "--from", "10.9.9.9"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("10.9.9.9 belongs to no NIC"), "{err}");
}

/// `diff` over more flows than one slice (65,536 cells): both sweeps stream slice by slice and
/// are compared cell by cell. Without rt-hub only the tools VM's Internet traffic changes
/// (its 0.0.0.0/0 user route, R2.2, R2.6), every port of it, and nothing else; the bytes are
/// the same at 1 and 2 threads.
#[test]
fn diff_across_slices_lists_exactly_the_changed_flows_at_any_thread_count() {
    let new =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/examples/lab-without-rt-hub.yaml");
    let l = lab();
    let ports = "tcp/1-2700,udp/53,icmp";
    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let out = tmp(&format!("diff-slices-{threads}.jsonl"));
        let args = [
            "diff",
            l.to_str().unwrap(),
            new.to_str().unwrap(),
            "--ports",
            ports,
            "--threads",
            threads,
        ];
        let json = ok(&[&args[..], &["--json"]].concat());
        ok(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
        outs.push((json, std::fs::read(&out).unwrap()));
    }
    assert_eq!(outs[0], outs[1], "diff output differs at 1 and 2 threads");
    let v: Value = serde_json::from_str(&outs[0].0).unwrap();
    // 5 sources × 6 destinations less the 5 sources paired with themselves: 25 pairs × 2702
    // ports (tcp/1-2700, udp/53, icmp).
    assert_eq!(v["flows"], 25 * 2702);
    let c = v["changed"].as_array().unwrap();
    assert_eq!(c.len(), 2702);
    assert!(c
        .iter()
        .all(|x| x["from"] == "nic:vm-tools-nic" && x["to"] == "internet"));
    let keys: Vec<(String, u64)> = c
        .iter()
        .map(|x| (x["protocol"].to_string(), x["dstPort"].as_u64().unwrap()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "changes in key order");
}

/// Flows of `rows` whose `field` is `value`.
fn rows_with(rows: &[Value], field: &str, value: &str) -> u64 {
    rows.iter().filter(|r| r[field] == value).count() as u64
}

#[test]
fn summary_counts_equal_the_rows_of_the_same_sweep_at_one_and_two_threads() {
    // The summary without --out counts flows by key and renders one flow per key; every count
    // it prints must be the number of rows --out writes with that value.
    let l = lab();
    let out = tmp("summary-counts.jsonl");
    let all = |t: &str| {
        let args = ["sweep", l.to_str().unwrap(), "--ports", PORTS, "--json"];
        let a = [&args[..], &["--threads", t, "--top", "1000"]].concat();
        serde_json::from_str::<Value>(&ok(&a)).unwrap()
    };
    let (one, two) = (all("1"), all("2"));
    assert_eq!(one, two);
    let with_rows = ok(&[
        "sweep",
        l.to_str().unwrap(),
        "--ports",
        PORTS,
        "--json",
        "--top",
        "1000",
        "--out",
        out.to_str().unwrap(),
    ]);
    // The sweep that writes rows counts its summary by key too: the same summary.
    assert_eq!(serde_json::from_str::<Value>(&with_rows).unwrap(), one);
    let rows = jsonl(&out);
    assert_eq!(one["flows"], rows.len() as u64);
    for (key, outcome) in [
        ("reachable", "reachable"),
        ("unreachable", "unreachable"),
        ("noReturn", "no-return"),
        ("notModelled", "not-modelled"),
    ] {
        assert_eq!(
            one["outcomes"][key],
            rows_with(&rows, "outcome", outcome),
            "{key}"
        );
    }
    let listed = |list: &str, name: &str, field: &str| {
        let v = one[list].as_array().unwrap().clone();
        assert!(!v.is_empty(), "{list} is empty");
        for e in &v {
            let n = rows_with(&rows, field, e[name].as_str().unwrap());
            assert_eq!(e["flows"], n, "{list}: {e}");
        }
        v.iter().map(|e| e["flows"].as_u64().unwrap()).sum::<u64>()
    };
    let dropped = rows.iter().filter(|r| !r["droppedAt"].is_null()).count() as u64;
    assert_eq!(listed("dropPoints", "droppedAt", "droppedAt"), dropped);
    assert_eq!(listed("reasons", "reason", "reason"), rows.len() as u64);
    let ruled = rows.iter().filter(|r| !r["rule"].is_null()).count() as u64;
    assert_eq!(listed("rules", "rule", "rule"), ruled);
}

#[test]
fn a_summary_names_each_source_a_service_refused() {
    // Three NICs leave for the Internet from their instance public IPs; the storage account's
    // network rules admit only 20.30.40.53 (vm3). The Internet probe is 203.0.113.10. So the
    // service refuses three distinct sources, each once, and the summary's reasons must say so
    // without --out as with it.
    let topo = tmp("service-acl.yaml");
    std::fs::write(
        &topo,
        "version: 1
vnets:
  - name: v
    addressSpace: [10.1.0.0/16]
    subnets: [{ name: a, addressPrefix: 10.1.1.0/24 }]
nics:
  - { name: vm1, subnet: v/a, privateIpAddress: 10.1.1.4, publicIpAddress: 20.30.40.51 }
  - { name: vm2, subnet: v/a, privateIpAddress: 10.1.1.5, publicIpAddress: 20.30.40.52 }
  - { name: vm3, subnet: v/a, privateIpAddress: 10.1.1.6, publicIpAddress: 20.30.40.53 }
services:
  - name: st
    kind: StorageAccount
    publicIpAddress: 20.38.109.10
    networkAcls: { defaultAction: Deny, ipRules: [20.30.40.53] }
",
    )
    .unwrap();
    let t = topo.to_str().unwrap();
    let args = [
        "sweep",
        t,
        "--to",
        "20.38.109.10",
        "--ports",
        "tcp/443",
        "--json",
    ];
    let fast: Value = serde_json::from_str(&ok(&args)).unwrap();
    let out = tmp("service-acl.csv");
    let full = ok(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    assert_eq!(fast, serde_json::from_str::<Value>(&full).unwrap());
    let refused = |src: &str| {
        format!("dropped at service:st: the service's network rules do not admit source {src} (not in its ipRules)")
    };
    let mut want = vec![
        serde_json::json!({"reason": "delivered to service st (public endpoint)", "flows": 1}),
    ];
    for src in ["20.30.40.51", "20.30.40.52", "203.0.113.10"] {
        want.push(serde_json::json!({"reason": refused(src), "flows": 1}));
    }
    assert_eq!(fast["reasons"], Value::Array(want));
    assert_eq!(fast["outcomes"]["unreachable"], 3);
}
