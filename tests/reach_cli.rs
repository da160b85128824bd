//! `vnetsim reach` on the bundled lab: every header, as regions.

mod common;
use common::*;

fn lab() -> String {
    root()
        .join("traces/hub-spoke-lab.yaml")
        .display()
        .to_string()
}

fn rows(args: &[&str], tag: &str) -> Vec<serde_json::Value> {
    let out = tmp("reach", tag);
    let o = out.display().to_string();
    let lab = lab_path();
    let mut a: Vec<&str> = vec!["reach", &lab];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--out", &o]);
    ok(&a);
    jsonl(&out)
}

fn lab_path() -> String {
    lab()
}

/// The lab's firewall DNAT rule rdp-to-app publishes 20.10.10.10 tcp/3389 to vm-app-nic
/// (10.1.1.4). Azure Firewall DNAT also translates the source to one of the firewall's
/// private addresses, so the VM sees 10.0.1.5 (the first SNAT address): "DNAT ... the
/// original source is SNAT'ed to the firewall's private IP"
/// (https://learn.microsoft.com/azure/firewall/firewall-faq).
#[test]
fn exposed_finds_the_rdp_dnat_a_sweep_misses() {
    // The sweep's one Internet probe aims at the VM's private address: unreachable.
    let sweep = tmp("reach", "sweep.jsonl");
    ok(&[
        "sweep",
        &lab(),
        "--from",
        "internet",
        "--to",
        "nic:vm-app-nic",
        "--ports",
        "tcp/3389",
        "--out",
        &sweep.display().to_string(),
    ]);
    let s = jsonl(&sweep);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["outcome"], "unreachable");

    let r = rows(&["--exposed"], "exposed.jsonl");
    let rdp: Vec<_> = r
        .iter()
        .filter(|x| x["to"] == "nic:vm-app-nic" && x["outcome"] == "reachable")
        .collect();
    assert_eq!(rdp.len(), 1, "{r:#?}");
    assert_eq!(rdp[0]["from"], "internet");
    assert_eq!(rdp[0]["dst"], "20.10.10.10");
    assert_eq!(rdp[0]["protocols"], "tcp/3389");
    assert_eq!(rdp[0]["srcSeen"], "10.0.1.5");
    assert_eq!(rdp[0]["dstSeen"], "10.1.1.4:3389");
    assert!(rdp[0]["path"]
        .as_str()
        .unwrap()
        .contains("firewall:afw-hub"));
    // Every public address the fabric does not hold can do it.
    assert!(rdp[0]["src"]
        .as_str()
        .unwrap()
        .starts_with("0.0.0.0/0 except "));
    // vm-tools-nic's public IP meets nsg-tools, which has no rule letting the Internet in
    // (DenyAllInBound, https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#default-security-rules).
    assert!(!r.iter().any(|x| x["to"] == "nic:vm-tools-nic"), "{r:#?}");
}

#[test]
fn only_allowed_except_the_published_port_leaves_nothing_from_the_internet() {
    let r = rows(
        &[
            "--from",
            "internet",
            "--to",
            "nic:vm-app-nic",
            "--only-allowed",
            "--except-ports",
            "3389",
        ],
        "except.jsonl",
    );
    assert!(r.is_empty(), "{r:#?}");
    let r = rows(
        &[
            "--from",
            "internet",
            "--to",
            "nic:vm-app-nic",
            "--only-allowed",
        ],
        "allowed.jsonl",
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["protocols"], "tcp/3389");
}

/// rt-spoke sends everything from the shared spoke to the firewall (0.0.0.0/0 via 10.0.1.4),
/// and no network rule of afw-hub allows shared -> workload (workload-to-shared allows the other
/// way), so no TCP header from vm-shared-nic reaches vm-app-nic.
#[test]
fn regions_from_a_spoke_name_the_deciding_rules() {
    let r = rows(
        &[
            "--from",
            "nic:vm-shared-nic",
            "--to",
            "nic:vm-app-nic",
            "--protocol",
            "tcp",
        ],
        "spoke.jsonl",
    );
    assert!(!r.is_empty());
    // Spoke to spoke goes through the firewall (rt-spoke sends 0.0.0.0/0 to it) and no network
    // rule allows shared -> workload, so nothing is reachable.
    assert!(r.iter().all(|x| x["outcome"] != "reachable"), "{r:#?}");
    assert!(r.iter().any(|x| x["droppedAt"] == "firewall:afw-hub"));
}

#[test]
fn same_rows_at_any_thread_count_and_parquet_too() {
    let a = tmp("reach", "t1.jsonl");
    let b = tmp("reach", "t2.jsonl");
    for (p, t) in [(&a, "1"), (&b, "2")] {
        ok(&[
            "reach",
            &lab(),
            "--from",
            "all",
            "--to",
            "all",
            "--threads",
            t,
            "--out",
            &p.display().to_string(),
        ]);
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let pq = tmp("reach", "r.parquet");
    ok(&[
        "reach",
        &lab(),
        "--exposed",
        "--out",
        &pq.display().to_string(),
    ]);
    let bytes = std::fs::read(&pq).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
}

#[test]
fn bad_ports_are_refused_with_a_message() {
    let (c, _, err) = run(&["reach", &lab(), "--ports", "70000"]);
    assert_eq!(c, 2);
    assert!(err.contains("invalid port '70000'"), "{err}");
    let (c, _, err) = run(&["reach", &lab(), "--from", "nic:nope"]);
    assert_eq!(c, 2);
    assert!(err.contains("nope"), "{err}");
}

/// A partition larger than its bound stops with a clear error, never an allocation abort.
/// The lab from every source to every destination needs thousands of classes (every NIC,
/// site and the Internet against every address the fabric holds), far more than 1,000.
#[test]
fn a_partition_past_its_bound_is_a_clear_error_not_an_abort() {
    let lab = common::root().join("traces/hub-spoke-lab.yaml");
    let lab = lab.to_str().unwrap();
    let (code, _, err) = common::run(&[
        "reach",
        lab,
        "--from",
        "all",
        "--to",
        "all",
        "--max-boxes",
        "1000",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs more than 1000 boxes at once"), "{err}");
    assert!(err.contains("--max-boxes"), "{err}");
    let (code, _, err) = common::run(&["reach", lab, "--from", "all", "--to", "all"]);
    assert_eq!(code, 0, "the default bound holds the lab: {err}");
}

/// `reach --from all --to all` on a fabric, to `--out` with `threads`: the file's bytes.
fn matrix_bytes(topo: &str, threads: &str, name: &str) -> Vec<u8> {
    let out = tmp("reach", name);
    ok(&[
        "reach",
        topo,
        "--from",
        "all",
        "--to",
        "all",
        "--threads",
        threads,
        "--out",
        &out.display().to_string(),
    ]);
    std::fs::read(out).unwrap()
}

/// A small generated fabric (3 VNets of 2 subnets, 2 Private Endpoints), written once.
fn generated() -> String {
    let p = tmp("reach", "generated.yaml");
    ok(&[
        "generate",
        "--vnets",
        "3",
        "--subnets-per-vnet",
        "2",
        "--rules",
        "6",
        "--private-endpoints",
        "2",
        "-o",
        &p.display().to_string(),
    ]);
    p.display().to_string()
}

/// Rows are written one source at a time: each source's rows are together, and the sources
/// come in the order `--from all` lists them.
#[test]
fn rows_come_one_source_at_a_time_in_source_order() {
    let r = rows(&["--from", "all", "--to", "all"], "order.jsonl");
    let mut seen: Vec<&str> = Vec::new();
    for x in &r {
        let f = x["from"].as_str().unwrap();
        if seen.last() != Some(&f) {
            assert!(!seen.contains(&f), "{f} comes back after another source");
            seen.push(f);
        }
    }
    // The lab's NICs in file order, its site, the Internet.
    assert_eq!(
        seen,
        [
            "nic:vm-tools-nic",
            "nic:vm-app-nic",
            "nic:vm-shared-nic",
            "site:home",
            "internet"
        ]
    );
}

/// The same bytes at 1 and 2 worker threads, JSON lines and Parquet, on the lab and on a
/// small generated fabric: sources run in parallel but are written in source order.
#[test]
fn jsonl_and_parquet_bytes_equal_at_one_and_two_threads() {
    let g = generated();
    for (topo, tag) in [(lab(), "lab"), (g, "gen")] {
        for ext in ["jsonl", "parquet"] {
            let a = matrix_bytes(&topo, "1", &format!("{tag}-1.{ext}"));
            let b = matrix_bytes(&topo, "2", &format!("{tag}-2.{ext}"));
            assert!(a.len() > 1000, "{tag}.{ext}: {} bytes", a.len());
            assert!(a == b, "{tag}.{ext} differs between 1 and 2 threads");
        }
    }
}

/// `reach --why --out`: each row of an explained region carries its blockers. The region of
/// tcp/22 from the shared VM to the workload VM is stopped by the firewall's default deny,
/// then by nsg-app's deny-ssh-from-shared at priority 300 (as trace --why finds).
#[test]
fn why_rows_in_out_carry_the_blockers() {
    let r = rows(
        &[
            "--from",
            "nic:vm-shared-nic",
            "--to",
            "nic:vm-app-nic",
            "--protocol",
            "tcp",
            "--ports",
            "22",
            "--why",
        ],
        "why.jsonl",
    );
    assert_eq!(r.len(), 1, "{r:#?}");
    let b: Vec<&str> = r[0]["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(b.len(), 2, "{b:?}");
    assert!(
        b[0].starts_with("forward firewall firewall:afw-hub"),
        "{b:?}"
    );
    assert!(b[1].starts_with("forward nsg nsg:nsg-app"), "{b:?}");
    assert!(
        b[1].contains("change: ") && b[1].contains("priority 299"),
        "{b:?}"
    );
    // Without --why the rows have no blockers column.
    let plain = rows(
        &["--from", "nic:vm-shared-nic", "--to", "nic:vm-app-nic"],
        "plain.jsonl",
    );
    assert!(plain.iter().all(|x| x.get("blockers").is_none()));
}

/// A public load balancer and an Application Gateway (tests/fixtures/reach-lb-agw.yaml): what
/// the Internet reaches on their frontends is the load-balancing rule's frontend port (tcp/80,
/// translated to a backend's address and port 8080: without Floating IP the backend sees its
/// own address, learn.microsoft.com/azure/load-balancer/load-balancer-floating-ip), the
/// inbound NAT rule's port (tcp/50001 to web1:22) and the listener's port (tcp/443), and
/// nothing else on those addresses.
#[test]
fn exposed_lists_load_balancer_and_app_gateway_frontend_ports_only() {
    let fixture = root().join("tests/fixtures/reach-lb-agw.yaml");
    let out = tmp("reach", "lb-agw-exposed.jsonl");
    ok(&[
        "reach",
        &fixture.display().to_string(),
        "--exposed",
        "--out",
        &out.display().to_string(),
    ]);
    let r = jsonl(&out);
    let on =
        |dst: &str| -> Vec<&serde_json::Value> { r.iter().filter(|x| x["dst"] == dst).collect() };
    let lb = on("20.60.0.10");
    let mut ports: Vec<&str> = lb
        .iter()
        .map(|x| x["protocols"].as_str().unwrap())
        .collect();
    ports.sort_unstable();
    assert_eq!(ports, ["tcp/50001", "tcp/80"], "{lb:#?}");
    for x in &lb {
        assert_eq!(x["from"], "internet");
        assert_eq!(x["outcome"], "reachable");
    }
    let http = lb.iter().find(|x| x["protocols"] == "tcp/80").unwrap();
    // Two healthy members: the first way reaches web1 at 8080, the other web2.
    assert_eq!(http["dstSeen"], "10.0.1.4:8080");
    assert_eq!(http["ways"], 2);
    let other = http["otherWays"].as_str().unwrap();
    assert!(
        other.starts_with("reachable") && other.ends_with("nic:web2"),
        "{other}"
    );
    let nat = lb.iter().find(|x| x["protocols"] == "tcp/50001").unwrap();
    assert_eq!(nat["dstSeen"], "10.0.1.4:22");
    assert_eq!(nat["ways"], 1);

    let gw = on("20.60.0.20");
    assert_eq!(gw.len(), 1, "{gw:#?}");
    assert_eq!(gw[0]["protocols"], "tcp/443");
    // Two backends × two instances; web2 refuses the second instance (10.0.3.5).
    assert_eq!(gw[0]["ways"], 4);
    assert_eq!(gw[0]["srcSeen"], "10.0.3.4");
    let others = gw[0]["otherWays"].as_str().unwrap();
    assert_eq!(others.split(" | ").count(), 3, "{others}");
    assert_eq!(
        others.matches("deny-agw-second-instance").count(),
        1,
        "{others}"
    );
    // Nothing else the Internet reaches: the backends have no public address of their own.
    assert_eq!(r.len(), 3, "{r:#?}");
}
