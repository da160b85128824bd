//! Summary counts checked against counts worked out by hand.

use serde_json::json;
use vnetsim_report::summary::{Count, Summary};
use vnetsim_report::FlowRow;

#[allow(clippy::too_many_arguments)]
fn r(
    src: &str,
    outcome: &str,
    rule: Option<&str>,
    dropped_at: Option<&str>,
    src_seen: Option<&str>,
    symmetric: bool,
    reason: &str,
) -> FlowRow {
    FlowRow {
        src: src.into(),
        dst: "10.1.0.5".into(),
        protocol: "Tcp".into(),
        src_port: 50000,
        dst_port: 443,
        fqdn: None,
        ingress: "nic:vm".into(),
        outcome: outcome.into(),
        delivered_to: (outcome != "unreachable").then(|| "pe:pe-app".into()),
        dropped_at: dropped_at.map(Into::into),
        rule: rule.map(Into::into),
        reason: reason.into(),
        src_seen: src_seen.map(Into::into),
        dst_seen: src_seen.map(|_| "10.1.0.5".into()),
        path: String::new(),
        return_path: String::new(),
        symmetric,
        ..Default::default()
    }
}

const DELIVERED: &str = "delivered to pe:pe-app";
const DENY_NSG: &str = "denied by nsg-app/DenyAllInBound";
const DENY_FW: &str = "denied by afw-hub/DefaultDeny";
const BYPASS: &str = "reply bypasses firewall:afw-hub";
const SNET: &str = "subnet:vnet-app/snet-app";
const FW: &str = "firewall:afw-hub";

fn rows() -> Vec<FlowRow> {
    vec![
        r(
            "10.0.1.4",
            "reachable",
            Some("nsg-app/AllowWeb"),
            None,
            Some("10.0.1.4"),
            true,
            DELIVERED,
        ),
        r(
            "10.0.1.5",
            "reachable",
            Some("afw-hub/web/app-service"),
            None,
            Some("10.0.9.4"),
            true,
            DELIVERED,
        ),
        r(
            "192.168.1.10",
            "reachable",
            Some("afw-hub/web/app-service"),
            None,
            Some("10.0.9.4"),
            true,
            DELIVERED,
        ),
        r(
            "10.0.1.6",
            "unreachable",
            Some("nsg-app/DenyAllInBound"),
            Some(SNET),
            None,
            true,
            DENY_NSG,
        ),
        r(
            "10.0.1.7",
            "unreachable",
            Some("nsg-app/DenyAllInBound"),
            Some(SNET),
            None,
            true,
            DENY_NSG,
        ),
        r(
            "10.0.1.8",
            "unreachable",
            Some("afw-hub/DefaultDeny"),
            Some(FW),
            None,
            true,
            DENY_FW,
        ),
        r(
            "10.0.2.4",
            "no-return",
            None,
            Some(FW),
            Some("10.0.2.4"),
            false,
            BYPASS,
        ),
        r(
            "10.0.2.5",
            "no-return",
            Some("afw-hub/DefaultDeny"),
            Some(FW),
            Some("10.0.9.4"),
            false,
            BYPASS,
        ),
    ]
}

fn c(name: &str, flows: u64) -> Count {
    Count {
        name: name.into(),
        flows,
    }
}

#[test]
fn counts_by_hand() {
    let s: Summary = rows().iter().collect();
    assert_eq!(s.flows(), 8);
    let o = s.outcomes();
    assert_eq!(
        (o.reachable, o.unreachable, o.no_return, o.other),
        (3, 3, 2, 0)
    );
    assert_eq!(s.outcome("no-return"), 2);
    assert_eq!(s.asymmetric(), 2);
    assert_eq!(s.distinct_rules(), 4);

    let rules: Vec<(String, u64, u64, u64, u64)> = s
        .top_rules(10)
        .into_iter()
        .map(|r| {
            (
                r.rule,
                r.flows,
                r.outcomes.reachable,
                r.outcomes.unreachable,
                r.outcomes.no_return,
            )
        })
        .collect();
    // Three rules with 2 flows each: ties broken by name.
    assert_eq!(
        rules,
        vec![
            ("afw-hub/DefaultDeny".into(), 2, 0, 1, 1),
            ("afw-hub/web/app-service".into(), 2, 2, 0, 0),
            ("nsg-app/DenyAllInBound".into(), 2, 0, 2, 0),
            ("nsg-app/AllowWeb".into(), 1, 1, 0, 0),
        ]
    );
    assert_eq!(s.top_rules(2).len(), 2);

    assert_eq!(s.top_drop_points(10), vec![c(FW, 3), c(SNET, 2)]);
    assert_eq!(s.top_drop_points(1), vec![c(FW, 3)]);
    // Rows 2, 3 and 8 are seen from another address; rows 1 and 7 keep theirs.
    assert_eq!(s.rewritten(), 3);
    assert_eq!(s.top_seen_as(10), vec![c("10.0.9.4", 3)]);
    assert_eq!(
        s.top_reasons(10),
        vec![c(DELIVERED, 3), c(DENY_NSG, 2), c(BYPASS, 2), c(DENY_FW, 1)]
    );
}

#[test]
fn order_of_rows_does_not_matter_and_merge_adds_up() {
    let rows = rows();
    let all: Summary = rows.iter().collect();
    let reversed: Summary = rows.iter().rev().collect();
    assert_eq!(all, reversed);
    let mut a: Summary = rows[..3].iter().collect();
    let b: Summary = rows[3..].iter().collect();
    a.merge(&b);
    assert_eq!(a, all);
    assert_eq!(a.render_text(5), all.render_text(5));
}

#[test]
fn json_has_camel_case_keys_and_the_counts() {
    let s: Summary = rows().iter().collect();
    let v = s.to_json();
    assert_eq!(v["flows"], 8);
    assert_eq!(
        v["outcomes"],
        json!({"reachable": 3, "unreachable": 3, "noReturn": 2, "notModelled": 0})
    );
    assert_eq!(v["asymmetric"], 2);
    assert_eq!(v["distinctRules"], 4);
    assert_eq!(
        v["rules"][0],
        json!({"rule": "afw-hub/DefaultDeny", "flows": 2, "reachable": 0, "unreachable": 1, "noReturn": 1})
    );
    assert_eq!(v["rules"].as_array().unwrap().len(), 4);
    assert_eq!(
        v["dropPoints"],
        json!([{"droppedAt": FW, "flows": 3}, {"droppedAt": SNET, "flows": 2}])
    );
    assert_eq!(
        v["srcRewritten"],
        json!({"flows": 3, "seenAs": [{"srcSeen": "10.0.9.4", "flows": 3}]})
    );
    assert_eq!(v["reasons"][0], json!({"reason": DELIVERED, "flows": 3}));
    let top = s.to_json_top(1);
    assert_eq!(top["rules"].as_array().unwrap().len(), 1);
    assert_eq!(top["flows"], 8);
}

#[test]
fn text_is_aligned_and_complete() {
    let s: Summary = rows().iter().collect();
    let t = s.render_text(3);
    assert!(t.contains("top deciding rules (3 of 4)"), "{t}");
    assert!(
        t.contains("afw-hub/DefaultDeny") && !t.contains("nsg-app/AllowWeb"),
        "{t}"
    );
    assert!(t.contains("source rewritten in 3 flows (37.5%)"), "{t}");
    // Outcome lines: the counts end in the same column.
    let outcome_lines: Vec<&str> = t
        .lines()
        .filter(|l| {
            ["  reachable", "  unreachable", "  no-return", "  total"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    assert_eq!(outcome_lines.len(), 4, "{t}");
    let ends: Vec<usize> = outcome_lines
        .iter()
        .map(|l| l[..l.find(|c: char| c.is_ascii_digit()).unwrap()].len())
        .collect();
    let count_end = |l: &str| {
        let start = l.find(|c: char| c.is_ascii_digit()).unwrap();
        start + l[start..].find(' ').unwrap_or(l.len() - start)
    };
    let first = count_end(outcome_lines[0]);
    assert!(
        outcome_lines.iter().all(|l| count_end(l) == first),
        "{t}\n{ends:?}"
    );
    assert!(t.contains("37.5%") && t.contains("25.0%"), "{t}");
    // Rule table: every rule name starts in the same column as the `rule` heading.
    let lines: Vec<&str> = t.lines().collect();
    let h = lines
        .iter()
        .position(|l| l.ends_with("  rule"))
        .expect("rule heading");
    let col = lines[h].len() - "rule".len();
    for l in &lines[h + 1..h + 4] {
        assert!(
            l[col..].starts_with("afw-hub/") || l[col..].starts_with("nsg-app/"),
            "{l:?}"
        );
    }
    // Only totals with top_n = 0.
    let short = s.render_text(0);
    assert!(
        short.contains("total") && !short.contains("rule"),
        "{short}"
    );
}

#[test]
fn empty_summary_renders() {
    let s = Summary::default();
    let t = s.render_text(10);
    assert!(t.contains("total"), "{t}");
    assert_eq!(s.to_json()["flows"], 0);
}

#[test]
fn add_n_counts_like_adding_n_times() {
    let r = vnetsim_report::FlowRow {
        src: "10.0.0.4".into(),
        dst: "10.1.0.4".into(),
        protocol: "Tcp".into(),
        src_port: 50000,
        dst_port: 443,
        fqdn: None,
        ingress: "nic:a".into(),
        outcome: "no-return".into(),
        delivered_to: Some("nic:b".into()),
        dropped_at: Some("firewall:fw".into()),
        rule: Some("c/r".into()),
        reason: "why".into(),
        src_seen: Some("10.0.1.5".into()),
        dst_seen: Some("10.1.0.4".into()),
        path: "nic:a > firewall:fw > nic:b".into(),
        return_path: String::new(),
        symmetric: false,
        ..Default::default()
    };
    let mut once = vnetsim_report::summary::Summary::default();
    for _ in 0..7 {
        once.add(&r);
    }
    let mut n = vnetsim_report::summary::Summary::default();
    n.add_n(&r, 7);
    assert_eq!(once, n);
    assert_eq!(n.flows(), 7);
}
