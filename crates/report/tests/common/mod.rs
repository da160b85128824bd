// Shared sample rows for the integration tests.
#![allow(dead_code)]

use vnetsim_report::FlowRow;

pub fn row(i: u32) -> FlowRow {
    let outcome = ["reachable", "unreachable", "no-return"][(i % 3) as usize];
    FlowRow {
        src: format!("10.0.{}.{}", i / 250 % 250, i % 250 + 4),
        dst: "10.1.0.5".into(),
        protocol: ["Tcp", "Udp", "Icmp"][(i % 3) as usize].into(),
        src_port: 50000u16.wrapping_add(i as u16),
        dst_port: if i % 3 == 2 { 0 } else { 443 },
        fqdn: (i.is_multiple_of(2)).then(|| format!("app-{i}.azurewebsites.net")),
        ingress: format!("nic:vm-{}", i % 17),
        outcome: outcome.into(),
        delivered_to: (outcome != "unreachable").then(|| "pe:pe-app".to_string()),
        dropped_at: (outcome != "reachable").then(|| "firewall:afw-hub".to_string()),
        rule: (!i.is_multiple_of(5)).then(|| format!("nsg-app/Rule{}", i % 4)),
        reason: format!("row {i}"),
        src_seen: (outcome != "unreachable").then(|| "10.0.1.5".to_string()),
        dst_seen: (outcome != "unreachable").then(|| "10.1.0.5".to_string()),
        path: "nic:vm > subnet:vnet-hub/snet-a > pe:pe-app".into(),
        return_path: if outcome == "reachable" {
            "pe:pe-app > nic:vm".into()
        } else {
            String::new()
        },
        symmetric: outcome != "no-return",
        to: i.is_multiple_of(4).then(|| "pe:pe-app".to_string()),
        capture: i.is_multiple_of(7).then(|| format!("cap-{i}.pcap")),
        first_ts_ns: i
            .is_multiple_of(7)
            .then_some(1_700_000_000_000_000_000 + i as u64),
        last_ts_ns: i
            .is_multiple_of(7)
            .then_some(1_700_000_000_000_000_000 + 2 * i as u64),
        request_packets: i.is_multiple_of(7).then_some(i as u64),
        request_bytes: i.is_multiple_of(7).then_some(u64::MAX - i as u64),
        reply_packets: i.is_multiple_of(7).then_some(0),
        reply_bytes: i.is_multiple_of(7).then_some(3),
    }
}

/// Rows with awkward contents: missing values, commas, quotes, new lines,
/// non-ASCII text, extreme ports.
pub fn awkward() -> Vec<FlowRow> {
    let mut a = row(1);
    a.reason = "denied by \"nsg-app\", rule DenyAll, priority 4096".into();
    a.fqdn = Some("a,b.example.com".into());
    a.rule = Some("afw/coll,ection/\"quoted\"".into());
    let mut b = row(2);
    b.reason = "line one\nline two\r\nline three; tab\there".into();
    b.src_port = u16::MAX;
    b.dst_port = 0;
    b.ingress = "site:zürich-büro ✓".into();
    let mut c = row(3);
    c.fqdn = None;
    c.delivered_to = None;
    c.dropped_at = None;
    c.rule = None;
    c.src_seen = None;
    c.dst_seen = None;
    c.return_path = String::new();
    c.reason = String::new();
    let mut d = row(4);
    d.path = "internet > gateway:vgw & <co> > firewall:afw-hub".into();
    d.reason = "'single' and \\backslash\\ and {\"json\": true}".into();
    vec![a, b, c, d, row(5), row(6)]
}
