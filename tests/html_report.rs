//! The HTML report (`--report FILE.html` on sweep, diff and replay), opened in a real headless
//! browser (Debian's Chromium, which `tests/setup.sh` installs): it loads without script
//! errors, a drill-down from a heat-map cell to an endpoint pair and a representative trace
//! shows the sweep's own rows, and the largest report the budgets allow renders.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{jsonl, ok, root, tmp};
use serde_json::Value;

const TAG: &str = "html";

fn chromium() -> PathBuf {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in ["/usr/bin", "/usr/local/bin", "/snap/bin"] {
            let p = Path::new(dir).join(c);
            if p.exists() {
                return p;
            }
        }
    }
    panic!("no Chromium found: run tests/setup.sh, which installs Debian's chromium package");
}

/// The DOM of `file` (with `#hash`) after its scripts ran, as headless Chromium dumps it.
fn dom(file: &Path, hash: &str) -> String {
    let profile = tmp(TAG, &format!("profile-{}", rand_tag(file, hash)));
    let url = format!("file://{}{}", file.display(), hash);
    let o = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        o.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn rand_tag(file: &Path, hash: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (file, hash).hash(&mut h);
    format!("{:x}", h.finish())
}

/// The page drew itself, with no script error.
fn assert_ready(dom: &str) {
    assert!(
        dom.contains("data-state=\"ready\""),
        "report did not finish drawing:\n{}",
        &dom[..dom.len().min(3000)]
    );
    assert!(
        !dom.contains("data-errors="),
        "script errors:\n{}",
        errors(dom)
    );
}

fn errors(dom: &str) -> String {
    dom.split("<pre id=\"errors\"")
        .nth(1)
        .unwrap_or("")
        .chars()
        .take(2000)
        .collect()
}

/// The JSON data a report carries.
fn data(file: &Path) -> Value {
    let html = std::fs::read_to_string(file).unwrap();
    let start = html
        .find("<script id=\"data\" type=\"application/json\">")
        .unwrap();
    let rest = &html[start..];
    let body = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    serde_json::from_str(&body.replace("<\\/", "</")).unwrap()
}

/// Text content between `<tag id="id"...>` and its closing tag, tags stripped.
fn text_of(dom: &str, id: &str) -> Option<String> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let open_end = at + dom[at..].find('>')? + 1;
    let tag_start = dom[..at].rfind('<')? + 1;
    let tag: String = dom[tag_start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    // The matching close: count nested elements of the same tag.
    let (open, close_tag) = (format!("<{tag}"), format!("</{tag}>"));
    let (mut depth, mut at) = (1usize, open_end);
    let close = loop {
        let next_close = at + dom[at..].find(&close_tag)?;
        match dom[at..next_close].find(&open) {
            Some(o) if is_tag_start(&dom[at + o + open.len()..]) => {
                depth += 1;
                at += o + open.len();
            }
            Some(o) => at += o + open.len(),
            None => {
                depth -= 1;
                if depth == 0 {
                    break next_close;
                }
                at = next_close + close_tag.len();
            }
        }
    };
    Some(strip_tags(&dom[open_end..close]))
}

/// Whether the text after `<tag` ends the tag name (so `<div` is not `<divider`).
fn is_tag_start(rest: &str) -> bool {
    rest.starts_with(['>', ' ', '/'])
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in s.chars() {
        match c {
            '<' => {
                inside = true;
                out.push('\u{1}');
            }
            '>' => inside = false,
            _ if !inside => out.push(c),
            _ => {}
        }
    }
    out.replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&amp;", "&")
}

/// The `<li>` items of the list with `id`.
fn items(dom: &str, id: &str) -> Vec<String> {
    let Some(t) = text_of(dom, id) else {
        return Vec::new();
    };
    t.split('\u{1}')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.to_string())
        .collect()
}

fn lab() -> String {
    root()
        .join("traces/hub-spoke-lab.yaml")
        .display()
        .to_string()
}

#[test]
fn lab_sweep_report_drills_from_a_cell_to_a_pair_and_its_trace() {
    let html = tmp(TAG, "lab.html");
    let rows_file = tmp(TAG, "lab.jsonl");
    ok(&[
        "sweep",
        &lab(),
        "--ports",
        "tcp/443,tcp/22,udp/53,icmp",
        "--report",
        html.to_str().unwrap(),
        "--out",
        rows_file.to_str().unwrap(),
    ]);
    let rows = jsonl(&rows_file);
    let d = data(&html);
    // The lab has 6 subnets and a handful of endpoints: the report draws it subnet by subnet.
    assert_eq!(d["level"], "subnet");
    assert_eq!(d["flows"].as_u64().unwrap(), rows.len() as u64);

    // Pick the cell holding the most unreachable flows, and drill into it.
    let k = d["outcomes"].as_array().unwrap().len();
    let cells = d["cells"].as_array().unwrap();
    let stride = 2 + k;
    let best = (0..cells.len() / stride)
        .max_by_key(|i| {
            (
                cells[i * stride + 3].as_u64().unwrap(),
                std::cmp::Reverse(*i),
            )
        })
        .unwrap();
    let (r, c) = (
        cells[best * stride].as_u64().unwrap(),
        cells[best * stride + 1].as_u64().unwrap(),
    );
    let row_label = d["rows"][r as usize].as_str().unwrap().to_string();
    let col_label = d["cols"][c as usize].as_str().unwrap().to_string();
    let page = dom(&html, &format!("#cell={r},{c}"));
    assert_ready(&page);
    assert_eq!(
        text_of(&page, "cell-title").unwrap(),
        format!("{row_label} → {col_label}")
    );

    // The pairs listed are exactly the (source, destination) endpoint pairs of the rows whose
    // source sits in the row group and destination in the column group.
    // (Every lab probe is an endpoint: the rows' `ingress` and `to` name the report's members.)
    let members = d["members"].as_array().unwrap();
    let subnet_of = |label: &str| -> String {
        let m = members.iter().find(|m| m[0] == label);
        m.unwrap_or_else(|| panic!("{label} is not a member"))
            .as_array()
            .unwrap()[1]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut expected: Vec<(String, String)> = Vec::new();
    for row in &rows {
        let (src, to) = (
            row["ingress"].as_str().unwrap(),
            row["to"].as_str().unwrap(),
        );
        let pair = (src.to_string(), to.to_string());
        if subnet_of(src) == row_label && subnet_of(to) == col_label && !expected.contains(&pair) {
            expected.push(pair);
        }
    }
    assert!(!expected.is_empty());
    assert_eq!(
        page.matches("data-pair=").count(),
        expected.len(),
        "pairs listed"
    );
    for (s, t) in &expected {
        assert!(
            page.contains(&format!(">{s}</td>")),
            "pair source {s} missing"
        );
        assert!(
            page.contains(&format!(">{t}</td>")),
            "pair destination {t} missing"
        );
    }

    // The first pair of the cell, then its first representative: the trace shown is the path
    // of the first row (in matrix order) of that pair with that outcome.
    let pairs = d["pairs"].as_array().unwrap();
    let ps = 4 + k;
    let p = (0..pairs.len() / ps)
        .find(|i| pairs[i * ps + 2].as_u64() == Some(r) && pairs[i * ps + 3].as_u64() == Some(c))
        .unwrap();
    let rep = d["pairReps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x[0].as_u64() == Some(p as u64))
        .unwrap();
    let rep_id = rep[2].as_u64().unwrap();
    let f = &d["reps"][rep_id as usize];
    let page = dom(&html, &format!("#rep={rep_id}"));
    assert_ready(&page);
    let first = rows
        .iter()
        .find(|row| {
            row["src"] == f["src"] && row["dst"] == f["dst"] && row["outcome"] == f["outcome"]
        })
        .unwrap();
    assert_eq!(
        first["dstPort"], f["dstPort"],
        "the representative is the first of its outcome"
    );
    let hops: Vec<String> = first["path"]
        .as_str()
        .unwrap()
        .split(" > ")
        .map(String::from)
        .collect();
    assert_eq!(items(&page, "trace-path"), hops);
}

#[test]
fn the_same_sweep_gives_the_same_report_bytes_at_one_and_two_threads() {
    let a = tmp(TAG, "t1.html");
    let b = tmp(TAG, "t2.html");
    for (p, t) in [(&a, "1"), (&b, "2")] {
        ok(&[
            "sweep",
            &lab(),
            "--ports",
            "tcp/1-300,udp/53",
            "--threads",
            t,
            "--report",
            p.to_str().unwrap(),
        ]);
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn diff_report_groups_changes_by_the_resource_that_explains_them() {
    // docs/examples/lab-without-rt-hub.yaml is the lab without the hub's route table: the
    // spokes' traffic no longer crosses the firewall, so changes are explained by routing.
    let html = tmp(TAG, "diff.html");
    let new = root().join("docs/examples/lab-without-rt-hub.yaml");
    ok(&[
        "diff",
        &lab(),
        new.to_str().unwrap(),
        "--ports",
        "tcp/443,tcp/22",
        "--report",
        html.to_str().unwrap(),
    ]);
    let d = data(&html);
    let changes = &d["changes"];
    let total: u64 = changes["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["flows"].as_u64().unwrap())
        .sum();
    assert_eq!(total, changes["changed"].as_u64().unwrap());
    assert!(total > 0);
    let page = dom(&html, "");
    assert_ready(&page);
    assert!(page.contains("Changes, grouped by cause"));
    for c in changes["causes"].as_array().unwrap() {
        assert!(page.contains(&format!(">{}</td>", c["cause"].as_str().unwrap())));
    }
}

#[test]
fn replay_report_loads() {
    let pcap = tmp(TAG, "lab.pcap");
    let html = tmp(TAG, "replay.html");
    ok(&[
        "synth",
        &lab(),
        "--ports",
        "tcp/443,udp/53",
        "-o",
        pcap.to_str().unwrap(),
    ]);
    ok(&[
        "replay",
        &lab(),
        pcap.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
    ]);
    let d = data(&html);
    assert_eq!(d["kind"], "replay");
    assert!(d["flows"].as_u64().unwrap() > 0);
    assert_ready(&dom(&html, "#cell=0,0"));
}

/// The largest report the budgets allow: 10,000 endpoints in 1,000 VNets, a million VNet
/// cells, every pair and representative budget spent. It must load and draw; the time it
/// took is printed (the README states the figure and how it was measured).
#[test]
fn a_report_of_ten_thousand_endpoints_renders() {
    use vnetsim_report::html::{HtmlReport, Kind};
    use vnetsim_report::summary::Summary;
    use vnetsim_report::FlowRow;
    let mut h = HtmlReport::new("10,000 endpoints", Kind::Sweep);
    for o in ["reachable", "unreachable", "no-return"] {
        h.outcome_slot(o);
    }
    let ids: Vec<u32> = (0..10_000u32)
        .map(|i| {
            let v = format!("vnet-{:04}", i / 10);
            h.member(
                &format!("subnet:{v}/snet-{}", i % 10),
                &format!("{v}/snet-{}", i % 10),
                &v,
            )
        })
        .collect();
    let mut summary = Summary::new();
    // One flow per pair of VNets' first subnets, and ten per pair in the first VNet row:
    // a million cells.
    for s in (0..10_000).step_by(10) {
        for d in (0..10_000).step_by(10) {
            let slot = (s / 10 * 7 + d / 10 * 3) % 3;
            if let Some(id) = h.record(ids[s], ids[d], slot) {
                let row = FlowRow {
                    src: format!("10.{}.{}.4", s / 256 % 256, s % 256),
                    dst: format!("10.{}.{}.4", d / 256 % 256, d % 256),
                    protocol: "Tcp".into(),
                    dst_port: 443,
                    outcome: ["reachable", "unreachable", "no-return"][slot].into(),
                    path: "subnet:a > firewall:b > subnet:c".into(),
                    ingress: format!("subnet:{s}"),
                    ..FlowRow::default()
                };
                summary.add(&row);
                h.set_rep(id, row);
            }
        }
    }
    let html = tmp(TAG, "large.html");
    h.write(&summary, std::fs::File::create(&html).unwrap())
        .unwrap();
    let size = std::fs::metadata(&html).unwrap().len();
    let page = dom(&html, "#cell=0,1");
    assert_ready(&page);
    assert!(
        page.contains("id=\"cell-title\""),
        "drill-down at 10,000 endpoints"
    );
    let ms: u64 = page
        .split("data-render-ms=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    println!(
        "report of 1,000 x 1,000 VNet cells: {} MB, drawn in {ms} ms",
        size / 1_000_000
    );
    // The stated bound (README): the largest report draws within 10 seconds.
    assert!(ms < 10_000, "drawn in {ms} ms");
}

/// Above 200 endpoints on a side, the SVG heat map draws VNets, each cell tallying every flow
/// between its VNets: the picture stays readable and its size bounded.
#[test]
fn a_large_svg_heat_map_is_drawn_by_vnet() {
    let fabric = tmp(TAG, "g30.yaml");
    // 30 VNets of 10 subnets: 300 subnet probes as sources, more than 200.
    ok(&[
        "generate",
        "--vnets",
        "30",
        "--subnets-per-vnet",
        "10",
        "--private-endpoints",
        "0",
        "-o",
        fabric.to_str().unwrap(),
    ]);
    let svg = tmp(TAG, "g30.svg");
    let rows = tmp(TAG, "g30.jsonl");
    ok(&[
        "sweep",
        fabric.to_str().unwrap(),
        "--from",
        "all",
        "--to",
        "internet",
        "--ports",
        "tcp/443",
        "--heatmap",
        svg.to_str().unwrap(),
        "--out",
        rows.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&svg).unwrap();
    // Cells that hold flows (the Internet's own row is "not tested" against itself).
    let cells = text.matches("<rect class=\"cell ").count()
        - text.matches("<rect class=\"cell empty").count();
    let rows = jsonl(&rows);
    let sources: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["ingress"].as_str().unwrap())
        .collect();
    assert!(sources.len() > 200, "{} sources", sources.len());
    // One column (the Internet), one row per VNet the sources live in (a NIC's VNet is that
    // of the subnet its path starts in); a site is a group of its own.
    let vnets: std::collections::BTreeSet<String> = rows
        .iter()
        .map(|r| {
            let ingress = r["ingress"].as_str().unwrap();
            if !ingress.starts_with("nic:") {
                return ingress.to_string();
            }
            let path = r["path"].as_str().unwrap();
            let hop = path
                .split(" > ")
                .find(|h| h.starts_with("subnet:"))
                .unwrap();
            hop["subnet:".len()..]
                .split('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(cells, vnets.len());
    assert!(text.contains("<title>spoke1 (VNet) → internet"));
    // Every flow is in some cell: the tallies in the tooltips add up to the rows.
    let total: u64 = text
        .split("(of ")
        .skip(1)
        .map(|s| s.split(')').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, rows.len() as u64);
}

/// Flow logs written by `synth-flow-logs` for every NIC of the lab, in the stored layout.
fn lab_flow_logs(name: &str) -> PathBuf {
    let dir = tmp(TAG, name);
    let _ = std::fs::remove_dir_all(&dir);
    ok(&[
        "synth-flow-logs",
        &lab(),
        "--from",
        "all",
        "--to",
        "all",
        "--ports",
        "tcp/443,tcp/22,udp/53",
        "-o",
        dir.to_str().unwrap(),
    ]);
    dir
}

fn drift_section(d: &Value) -> &Value {
    d["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "drift")
        .expect("a drift section")
}

/// The lab's own log against the lab with nsg-app's `allow-https-onprem` (priority 200,
/// inbound TCP 443 from 192.168.0.0/16) turned to Deny. The flows that rule decided are the
/// ones the log names `UserRule_allow-https-onprem` (read from the log's own rows); each is a
/// verdict mismatch logged at a NIC of snet-app (the subnet nsg-app is on), and the on-premises
/// sources are the site `home` (192.168.0.0/16). The report's drift matrix must hold them in
/// one cell, and the cell must open to exactly those flows.
#[test]
fn flow_log_report_shows_drift_by_place_and_opens_the_findings() {
    let logs = lab_flow_logs("drift-logs");
    let text = std::fs::read_to_string(lab()).unwrap();
    let changed = text.replace(
        "{ name: allow-https-onprem, priority: 200, direction: Inbound, access: Allow",
        "{ name: allow-https-onprem, priority: 200, direction: Inbound, access: Deny",
    );
    assert_ne!(text, changed);
    let topo = tmp(TAG, "drift-changed.yaml");
    std::fs::write(&topo, changed).unwrap();
    let rows_p = tmp(TAG, "drift-rows.jsonl");
    ok(&[
        "replay",
        &lab(),
        logs.to_str().unwrap(),
        "--out",
        rows_p.to_str().unwrap(),
    ]);
    // A flow crossing two NSGs is logged once per NSG (the subnet's nsg-app, and the NIC's
    // nsg-vm-app for vm-app-nic), each entry with its own rule: every entry of a flow the
    // changed rule decides is judged at that NIC and disagrees with the log.
    let rows = jsonl(&rows_p);
    let key = |r: &Value| {
        (
            r["src"].to_string(),
            r["srcPort"].to_string(),
            r["dst"].to_string(),
            r["dstPort"].to_string(),
        )
    };
    let decided: std::collections::BTreeSet<_> = rows
        .iter()
        .filter(|r| r["loggedRule"] == "UserRule_allow-https-onprem")
        .map(key)
        .collect();
    let expected: Vec<Value> = rows
        .into_iter()
        .filter(|r| decided.contains(&key(r)))
        .collect();
    assert!(!decided.is_empty() && expected.len() >= decided.len());
    for r in &expected {
        assert!(r["src"].as_str().unwrap().starts_with("192.168."), "{r}");
    }

    let html = tmp(TAG, "drift.html");
    ok(&[
        "replay",
        topo.to_str().unwrap(),
        logs.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
    ]);
    let d = data(&html);
    assert_eq!(d["kind"], "replay");
    assert!(d["flows"].as_u64().unwrap() > expected.len() as u64);
    let s = drift_section(&d);
    let m = &s["matrix"];
    let bad: Vec<&Value> = m["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c[3] == "bad")
        .collect();
    assert_eq!(bad.len(), 1, "one cell holds drift: {}", m["cells"]);
    let (r, c) = (bad[0][0].as_u64().unwrap(), bad[0][1].as_u64().unwrap());
    assert_eq!(m["rows"][r as usize], "site:home");
    assert_eq!(m["cols"][c as usize], "subnet:vnet-workload/snet-app");
    assert_eq!(bad[0][2], expected.len().to_string());
    // By kind: every finding is a verdict mismatch.
    let kinds = &s["tables"][0];
    for (row, n) in kinds["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r, r[1].as_u64().unwrap()))
    {
        let want = if row[0] == "verdict-mismatch" {
            expected.len() as u64
        } else {
            0
        };
        assert_eq!(n, want, "{row}");
    }

    let dom = dom(&html, &format!("#sec=drift&cell={r},{c}"));
    assert_ready(&dom);
    let title = text_of(&dom, "sec-drift-detail-title").expect("the cell opened");
    assert!(
        title.starts_with("site:home → subnet:vnet-workload/snet-app"),
        "{title}"
    );
    let detail = text_of(&dom, "sec-drift-detail").unwrap();
    let cells: Vec<&str> = detail.split('\u{1}').filter(|c| !c.is_empty()).collect();
    for r in &expected {
        let (sp, dp) = (r["srcPort"].to_string(), r["dstPort"].to_string());
        let listed = cells
            .windows(3)
            .any(|w| w[0] == r["protocol"].as_str().unwrap() && w[1] == sp && w[2] == dp);
        assert!(listed, "finding {r} listed in {cells:?}");
    }
    assert_eq!(
        cells
            .iter()
            .filter(|c| **c == "nsg-app/allow-https-onprem")
            .count(),
        expected.len(),
        "each finding's modelRule cell names the changed rule"
    );
}

/// The lab's own log against the lab: no drift anywhere, every cell says so.
#[test]
fn flow_log_report_without_drift_marks_every_cell_clean() {
    let logs = lab_flow_logs("clean-logs");
    let html = tmp(TAG, "clean.html");
    ok(&[
        "replay",
        &lab(),
        logs.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
    ]);
    let d = data(&html);
    let cells = drift_section(&d)["matrix"]["cells"]
        .as_array()
        .unwrap()
        .clone();
    assert!(cells.len() > 3);
    assert!(
        cells.iter().all(|c| c[3] == "ok" && c[2] == "0"),
        "{cells:?}"
    );
    assert_ready(&dom(&html, ""));
}

/// Capture-only options are refused for flow logs, not ignored.
#[test]
fn capture_options_are_refused_for_flow_logs() {
    let logs = lab_flow_logs("refused-logs");
    let (code, _, err) =
        common::run(&["replay", &lab(), logs.to_str().unwrap(), "--pcap-out", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--pcap-out applies to packet captures"),
        "{err}"
    );
}

/// `audit duties --report` on the lab with the owner file that gives route tables to a network
/// team and NSGs to a security team. From the semantics (R5.5: a UDR's prefix joins the
/// VirtualNetwork tag; R5.2: AllowVnetInBound at 65000): rt-spoke's 0.0.0.0/0 on snet-app
/// widens nsg-app's tag, nsg-app has no explicit deny, so the network → security cell holds the
/// seed scenario (crossed), and it opens to that influence with the route as its cause, nsg-app
/// as what depends on it, AllowVnetInBound opened to vnet-shared (not peered with the workload
/// spoke, so not in the tag before), and the 4096 deny-all mitigation.
#[test]
fn duties_report_draws_the_boundary_matrix_and_opens_an_influence() {
    let html = tmp(TAG, "duties.html");
    let owners = root().join("tests/fixtures/duties/owners-lab.yaml");
    ok(&[
        "audit",
        "duties",
        &lab(),
        "--owners",
        owners.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
    ]);
    let d = data(&html);
    assert_eq!(d["kind"], "audit");
    let s = d["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "duties")
        .expect("a duties section");
    let m = &s["matrix"];
    assert_eq!(
        m["rows"],
        serde_json::json!(["app-team", "network-team", "security-team"])
    );
    assert_eq!(m["cols"], m["rows"]);
    let cell = m["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[0] == 1 && c[1] == 2)
        .expect("a network-team → security-team cell");
    assert_eq!(cell[3], "bad", "the seed scenario marks the cell");
    assert!(cell[2].as_str().unwrap().parse::<u32>().unwrap() >= 1);

    let dom = dom(&html, "#sec=duties&cell=1,2");
    assert_ready(&dom);
    let title = text_of(&dom, "sec-duties-detail-title").expect("the cell opened");
    assert!(title.starts_with("network-team → security-team"), "{title}");
    let detail = text_of(&dom, "sec-duties-detail").unwrap();
    for want in [
        "tag-widening",
        "route rt-spoke/default-via-firewall 0.0.0.0/0",
        "nsg:nsg-app on subnet:vnet-workload/snet-app",
        "nsg-app/AllowVnetInBound",
        "vnet:vnet-shared",
        "priority 4096",
    ] {
        assert!(
            detail.contains(want),
            "{want} in the opened cell:\n{detail}"
        );
    }
    // The matrix is drawn as a table: one row per boundary, the diagonal and empty pairs blank.
    let matrix = text_of(&dom, "sec-duties-matrix").unwrap();
    for b in ["app-team", "network-team", "security-team"] {
        assert!(matrix.contains(b), "{b}");
    }
}

/// The cells of each body row (`<td>`) of the tables inside the element `id`, as text.
fn td_rows(dom: &str, id: &str) -> Vec<Vec<String>> {
    let at = dom.find(&format!("id=\"{id}\"")).expect(id);
    let end = at + dom[at..].find("</section>").unwrap_or(dom.len() - at);
    dom[at..end]
        .split("<tr>")
        .skip(1)
        .filter(|r| r.contains("<td"))
        .map(|r| {
            r.split("<td")
                .skip(1)
                .map(|c| {
                    let body = &c[c.find('>').unwrap() + 1..c.find("</td>").unwrap()];
                    strip_tags(body).replace('\u{1}', "")
                })
                .collect()
        })
        .collect()
}

/// The reach section of a report.
fn reach_section(d: &Value) -> &Value {
    d["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "reach")
        .expect("a reach section")
}

/// `reach --report` on the lab: the Internet → nic:vm-app-nic cell counts one reachable
/// region and opens the regions of that pair. By hand from the lab: the firewall's DNAT rule
/// rdp-to-app publishes 20.10.10.10 tcp/3389 to vm-app-nic (10.1.1.4) and Azure Firewall
/// DNAT also translates the source to the firewall's private address 10.0.1.5
/// (https://learn.microsoft.com/azure/firewall/firewall-faq); every other header from the
/// Internet aimed at the NIC goes to its private address 10.1.1.4, which the Internet does not
/// route (RFC 1918), in two rows (TCP and UDP with ports, every other protocol without).
#[test]
fn reach_report_opens_a_cell_to_its_regions() {
    let html = tmp(TAG, "reach.html");
    ok(&[
        "reach",
        &lab(),
        "--from",
        "all",
        "--to",
        "all",
        "--report",
        html.to_str().unwrap(),
    ]);
    let d = data(&html);
    assert_eq!(d["kind"], "reach");
    let m = &reach_section(&d)["matrix"];
    let at = |v: &Value, name: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .position(|x| x == name)
            .unwrap_or_else(|| panic!("{name} in {v}"))
    };
    let (r, c) = (at(&m["rows"], "internet"), at(&m["cols"], "nic:vm-app-nic"));
    let cell = m["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x[0] == r && x[1] == c)
        .expect("an internet → nic:vm-app-nic cell");
    assert_eq!(cell[2], "1", "one reachable region");
    assert_eq!(cell[3], "ok");

    let dom = dom(&html, &format!("#sec=reach&cell={r},{c}"));
    assert_ready(&dom);
    let title = text_of(&dom, "sec-reach-detail-title").expect("the cell opened");
    assert_eq!(title, "internet → nic:vm-app-nic: 2 regions, 1 reachable");
    let rows = td_rows(&dom, "sec-reach-detail");
    let reachable: Vec<&Vec<String>> = rows.iter().filter(|r| r[5] == "reachable").collect();
    assert_eq!(reachable.len(), 1, "{rows:?}");
    let x = reachable[0];
    assert_eq!(x[..2], ["internet", "nic:vm-app-nic"]);
    assert!(
        x[2].starts_with("0.0.0.0/0 except ") && x[2].contains("168.63.129.16"),
        "{x:?}"
    );
    assert_eq!(
        &x[3..],
        [
            "20.10.10.10",
            "tcp/3389",
            "reachable",
            "10.1.1.4:3389",
            "10.0.1.5",
            "delivered to NIC vm-app-nic",
            "internet > firewall:afw-hub > subnet:vnet-workload/snet-app > nic:vm-app-nic"
        ]
    );
    let other: Vec<&Vec<String>> = rows.iter().filter(|r| r[5] != "reachable").collect();
    assert_eq!(other.len(), 2, "{rows:?}");
    let mut protocols: Vec<&str> = other.iter().map(|x| x[4].as_str()).collect();
    protocols.sort();
    assert_eq!(
        protocols,
        ["every protocol but tcp and udp (no ports)", "tcp+udp/*"]
    );
    for x in other {
        assert_eq!(x[3], "10.1.1.4", "{x:?}");
        assert_eq!(x[5], "unreachable", "{x:?}");
        assert_eq!(
            x[8], "dropped at internet: the destination is not reachable from the Internet",
            "{x:?}"
        );
    }
}

/// Past 60 destinations the reach matrix is drawn VNet by VNet, as the drift section is: a
/// generated fabric of 8 VNets (a hub and 7 spokes of 9 subnets, one VM each) has 64 NICs.
#[test]
fn reach_report_past_sixty_places_is_drawn_by_vnet() {
    let topo = tmp(TAG, "reach-g.yaml");
    let html = tmp(TAG, "reach-g.html");
    ok(&[
        "generate",
        "--vnets",
        "8",
        "--subnets-per-vnet",
        "9",
        "--rules",
        "4",
        "--private-endpoints",
        "0",
        "-o",
        topo.to_str().unwrap(),
    ]);
    ok(&[
        "reach",
        topo.to_str().unwrap(),
        "--from",
        "internet",
        "--to",
        "all",
        "--report",
        html.to_str().unwrap(),
    ]);
    let d = data(&html);
    let m = &reach_section(&d)["matrix"];
    let cols: Vec<&str> = m["cols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(
        cols.contains(&"vnet:hub") && cols.contains(&"vnet:spoke7"),
        "{cols:?}"
    );
    assert!(!cols.iter().any(|c| c.starts_with("nic:")), "{cols:?}");
    assert_ready(&dom(&html, ""));
}
