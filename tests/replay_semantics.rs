//! Replay on captures that `synth` did not write: packets built here byte by byte, and real
//! third-party captures re-addressed onto the bundled lab. Each expected verdict, path and
//! rewrite is worked out from the lab's configuration (`traces/hub-spoke-lab.yaml`) and the
//! rules of fabric-semantics.md named next to it, not from vnetsim's own output.

mod common;
use common::{root, tmp};

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use vnetsim_traffic::{
    ipv4_offset, linktype, rewrite_ipv4_at, CaptureReader, PacketKind, PcapWriter, Rewrite,
};

fn replay_rows(capture: &Path, name: &str) -> Vec<Value> {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let out = tmp("replay-sem", &format!("{name}.jsonl"));
    let o = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args([
            "replay",
            lab.to_str().unwrap(),
            capture.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ---- packets built by hand -------------------------------------------------------------

fn be16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_be_bytes());
}

fn addr(s: &str) -> [u8; 4] {
    s.parse::<std::net::Ipv4Addr>().unwrap().octets()
}

/// The 16-bit one's-complement sum of RFC 791, over `b`.
fn ones_sum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum();
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Ethernet II + IPv4 (no options) + TCP (no options) with `flags` and `payload`.
fn tcp_frame(src: &str, dst: &str, sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = 20 + 20 + payload.len();
    let mut ip = vec![0x45, 0];
    be16(&mut ip, total as u16);
    ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    ip.extend_from_slice(&addr(src));
    ip.extend_from_slice(&addr(dst));
    let c = ones_sum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut tcp = Vec::new();
    be16(&mut tcp, sport);
    be16(&mut tcp, dport);
    tcp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags]);
    be16(&mut tcp, 65535);
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&tcp);
    f
}

/// A TLS 1.2 ClientHello record whose only extension is server_name = `host` (RFC 6066 §3).
fn client_hello(host: &str) -> Vec<u8> {
    let name = host.as_bytes();
    let mut sni = Vec::new();
    be16(&mut sni, (name.len() + 3) as u16); // server_name_list length
    sni.push(0); // host_name
    be16(&mut sni, name.len() as u16);
    sni.extend_from_slice(name);
    let mut ext = Vec::new();
    be16(&mut ext, 0); // extension type server_name
    be16(&mut ext, sni.len() as u16);
    ext.extend_from_slice(&sni);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[7u8; 32]); // random
    body.push(0); // session id
    be16(&mut body, 2);
    body.extend_from_slice(&[0x13, 0x01]); // one cipher suite
    body.extend_from_slice(&[1, 0]); // null compression
    be16(&mut body, ext.len() as u16);
    body.extend_from_slice(&ext);
    let mut hs = vec![1u8]; // ClientHello
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    be16(&mut rec, hs.len() as u16);
    rec.extend_from_slice(&hs);
    rec
}

/// A classic little-endian microsecond pcap of Ethernet frames, written byte by byte.
fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    for (i, fr) in frames.iter().enumerate() {
        b.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(fr.len() as u32).to_le_bytes());
        b.extend_from_slice(&(fr.len() as u32).to_le_bytes());
        b.extend_from_slice(fr);
    }
    std::fs::write(path, b).unwrap();
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;

/// A three-way handshake and one request payload from client to server, and its ACK.
fn conversation(
    client: &str,
    server: &str,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<Vec<u8>> {
    vec![
        tcp_frame(client, server, sport, dport, SYN, &[]),
        tcp_frame(server, client, dport, sport, SYN | ACK, &[]),
        tcp_frame(client, server, sport, dport, ACK, &[]),
        tcp_frame(client, server, sport, dport, PSH_ACK, payload),
        tcp_frame(server, client, dport, sport, ACK, &[]),
    ]
}

fn one_flow(frames: &[Vec<u8>], name: &str) -> Value {
    let cap = tmp("replay-sem", &format!("{name}.pcap"));
    write_pcap(&cap, frames);
    let rows = replay_rows(&cap, name);
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.into_iter().next().unwrap()
}

#[test]
fn tls_from_the_shared_spoke_to_the_endpoint_is_proxied() {
    // snet-shared's rt-spoke sends 0.0.0.0/0 to the firewall (vnet-shared is not peered with the
    // workload VNet, so no /32 of the endpoint exists there). No network rule has source
    // 10.2.0.0/16 toward 10.1.0.0/16, so application rules decide (R6.1): `web/app-service`
    // admits Https:443 to *.azurewebsites.net, and the SNI of the ClientHello is
    // app-flask.azurewebsites.net (R6.4). Proxied: the endpoint sees the first instance address
    // 10.0.1.5, and answers it, so the reply crosses the firewall (R-PE-08): reachable.
    let r = one_flow(
        &conversation(
            "10.2.1.4",
            "10.1.2.5",
            40001,
            443,
            &client_hello("app-flask.azurewebsites.net"),
        ),
        "tls-pe",
    );
    assert_eq!(r["fqdn"], "app-flask.azurewebsites.net");
    assert_eq!(r["outcome"], "reachable", "{r}");
    assert_eq!(r["deliveredTo"], "pe:pe-app");
    assert_eq!(r["srcSeen"], "10.0.1.5");
    assert!(
        r["path"].as_str().unwrap().contains("firewall:afw-hub"),
        "{r}"
    );
    assert!(
        r["returnPath"]
            .as_str()
            .unwrap()
            .contains("firewall:afw-hub"),
        "{r}"
    );
}

#[test]
fn plain_http_to_a_microsoft_site_is_proxied_from_the_public_ip() {
    // From the workload VM (rt-spoke: 0.0.0.0/0 to the firewall) to www-microsoft's public
    // address 23.45.67.89 on port 80 with Host www.microsoft.com: no network rule matches TCP/80
    // toward it; `web/microsoft` admits Http:80 for *.microsoft.com from 10.0.0.0/8 (R6.4). The
    // firewall's egress toward a public address is the Internet, so the proxied connection
    // leaves from its public IP 20.10.10.10 (R-FW-10), and the reply returns to it: reachable.
    let get = b"GET / HTTP/1.1\r\nHost: www.microsoft.com\r\nUser-Agent: test\r\n\r\n";
    let r = one_flow(
        &conversation("10.1.1.4", "23.45.67.89", 40002, 80, get),
        "http-ms",
    );
    assert_eq!(r["fqdn"], "www.microsoft.com");
    assert_eq!(r["outcome"], "reachable", "{r}");
    assert_eq!(r["deliveredTo"], "service:www-microsoft");
    assert_eq!(r["srcSeen"], "20.10.10.10");
    assert_eq!(r["rule"], "web/microsoft");
}

#[test]
fn tls_on_port_80_does_not_match_an_http_80_rule() {
    // The same flow as above, but the client speaks TLS on port 80: `web/microsoft` allows
    // Http:80 and Https:443, not Https:80, so no application rule matches and the firewall's
    // default deny drops it (R6.1, R6.4).
    let r = one_flow(
        &conversation(
            "10.1.1.4",
            "23.45.67.89",
            40003,
            80,
            &client_hello("www.microsoft.com"),
        ),
        "tls-80",
    );
    assert_eq!(r["outcome"], "unreachable", "{r}");
    assert_eq!(r["droppedAt"], "firewall:afw-hub");
    assert_eq!(r["rule"], "afw-hub/DefaultDeny");
}

#[test]
fn icmp_between_spokes_meets_the_firewall_default_deny() {
    // 10.1.1.4 -> 10.2.1.4 echo: rt-spoke sends it to the firewall; `workload-to-shared` covers
    // TCP and UDP only, application rules only TCP: default deny (R6.1).
    let mut fr = tcp_frame("10.1.1.4", "10.2.1.4", 0, 0, 0, &[]);
    fr.truncate(14 + 20);
    fr[14 + 9] = 1; // protocol ICMP
    fr[14 + 2..14 + 4].copy_from_slice(&28u16.to_be_bytes());
    fr[14 + 10..14 + 12].copy_from_slice(&[0, 0]);
    let c = ones_sum(&fr[14..34]);
    fr[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
    fr.extend_from_slice(&[8, 0, 0, 0, 0, 9, 0, 1]); // echo request, id 9, seq 1
    let r = one_flow(&[fr], "icmp");
    assert_eq!(r["protocol"], "Icmp");
    assert_eq!(r["outcome"], "unreachable");
    assert_eq!(r["droppedAt"], "firewall:afw-hub");
    assert_eq!(r["rule"], "afw-hub/DefaultDeny");
}

#[test]
fn a_conversation_first_seen_mid_stream_is_dropped_by_the_firewall() {
    // Only the request's data packet and the server's ACK were captured: the firewall on the
    // way (rt-gateway sends 10.1.0.0/16 to it) holds no session for a TCP packet without SYN,
    // and drops it (R-FW-11), although the network rule `onprem-to-spokes` would allow a new one.
    let frames = conversation("192.168.1.10", "10.1.1.4", 40004, 443, b"x");
    let r = one_flow(&frames[3..], "midstream");
    assert_eq!(r["outcome"], "unreachable", "{r}");
    assert_eq!(r["droppedAt"], "firewall:afw-hub");
}

// ---- real captures re-addressed ---------------------------------------------------------

/// Copies `capture`'s IPv4 packets into a raw-IPv4 pcap with addresses (and ports) mapped by
/// `map`, checksums updated (RFC 1624).
fn readdress(capture: &Path, out: &Path, map: &dyn Fn(u32, u16) -> (u32, u16)) -> usize {
    let mut r = CaptureReader::open(capture).unwrap();
    let mut w = PcapWriter::create(out, linktype::RAW).unwrap();
    let mut n = 0;
    while let Some(pkt) = r.next_packet() {
        let PacketKind::Ipv4(p) = pkt.info.kind else {
            continue;
        };
        let off = ipv4_offset(pkt.link_type, pkt.data).unwrap();
        let mut buf = pkt.data[off..].to_vec();
        let (src, sport) = map(p.src, p.sport);
        let (dst, dport) = map(p.dst, p.dport);
        let rw = Rewrite {
            src: Some(src),
            dst: Some(dst),
            sport: Some(sport),
            dport: Some(dport),
        };
        rewrite_ipv4_at(&mut buf, 0, &rw).unwrap();
        w.write_packet(pkt.info.ts_ns, &buf, buf.len() as u32)
            .unwrap();
        n += 1;
    }
    w.flush().unwrap();
    n
}

fn ip(s: &str) -> u32 {
    u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
}

#[test]
fn a_real_handshake_from_on_premises_reaches_the_workload_vm_symmetrically() {
    // tcpdump's tcp-handshake-nano.pcap (nanosecond pcap): 131.155.215.69:46656 ->
    // 137.116.81.94:80, SYN / SYN-ACK / ACK. Client mapped to the on-premises host
    // 192.168.1.10, server to the workload VM 10.1.1.4 on port 443.
    // Forward: the site reaches vgw-hub; GatewaySubnet's rt-gateway sends 10.1.0.0/16 to the
    // firewall; `net-allow/onprem-to-spokes` allows TCP 443 with no SNAT toward a private
    // address (R6.3); nsg-app `allow-https-onprem` and nsg-vm-app `allow-web` admit it (R5.3).
    // Return: rt-spoke's 0.0.0.0/0 sends the reply to the firewall, which holds the session
    // and forwards it to the gateway (R6.6, R7): reachable and symmetric.
    let src = root().join("traces/captures/tcpdump/tcp-handshake-nano.pcap");
    let out = tmp("replay-sem", "handshake.pcap");
    let map = |a: u32, port: u16| match a {
        a if a == ip("131.155.215.69") => (ip("192.168.1.10"), port),
        a if a == ip("137.116.81.94") => (ip("10.1.1.4"), 443),
        _ => panic!("unexpected address"),
    };
    assert_eq!(readdress(&src, &out, &map), 3);
    let rows = replay_rows(&out, "handshake");
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["ingress"], "site:home");
    assert_eq!(r["outcome"], "reachable", "{r}");
    assert_eq!(r["deliveredTo"], "nic:vm-app-nic");
    assert_eq!(r["srcSeen"], "192.168.1.10");
    assert_eq!(r["symmetric"], true);
    assert!(
        r["returnPath"]
            .as_str()
            .unwrap()
            .contains("firewall:afw-hub"),
        "{r}"
    );
}

#[test]
fn a_real_http_download_to_an_unlisted_host_is_denied_by_the_firewall() {
    // Zeek's http-qinq-0.pcap (802.1ad QinQ): 141.142.228.5:59856 -> 192.150.187.43:80, an
    // HTTP GET with `Host: bro.org`. Client mapped to the workload VM 10.1.1.4, server to the
    // public address 23.45.67.89. rt-spoke sends it to the firewall; no network rule covers
    // TCP/80 toward it, and no application rule names bro.org: default deny (R6.1, R6.4).
    let src = root().join("traces/captures/zeek/http-qinq-0.pcap");
    let out = tmp("replay-sem", "http-qinq.pcap");
    let map = |a: u32, port: u16| match a {
        a if a == ip("141.142.228.5") => (ip("10.1.1.4"), port),
        a if a == ip("192.150.187.43") => (ip("23.45.67.89"), port),
        _ => panic!("unexpected address"),
    };
    assert_eq!(readdress(&src, &out, &map), 14);
    let rows = replay_rows(&out, "http-qinq");
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["fqdn"], "bro.org");
    assert_eq!(r["ingress"], "nic:vm-app-nic");
    assert_eq!(r["outcome"], "unreachable", "{r}");
    assert_eq!(r["droppedAt"], "firewall:afw-hub");
    assert_eq!(r["rule"], "afw-hub/DefaultDeny");
}

fn replay_with(capture: &Path, name: &str, extra: &[&str]) -> (String, Vec<Value>) {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let out = tmp("replay-sem", &format!("{name}.jsonl"));
    let mut args = vec![
        "replay",
        lab.to_str().unwrap(),
        capture.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (String::from_utf8_lossy(&o.stdout).into(), rows)
}

#[test]
fn a_capture_from_another_network_is_outside_the_fabric_until_mapped() {
    // tcp-handshake-nano.pcap: 131.155.215.69 -> 137.116.81.94:80, both public addresses that
    // belong to nothing in the lab: the flow never touched it.
    let cap = root().join("traces/captures/tcpdump/tcp-handshake-nano.pcap");
    let (text, rows) = replay_with(&cap, "foreign", &[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["outcome"], "outside", "{}", rows[0]);
    assert!(text.contains("0 in the fabric, 0 partly"), "{text}");
    assert!(text.contains("1 outside it"), "{text}");
    assert!(text.contains("--map"), "{text}");
    // Mapped onto the lab: the client becomes on-premises 192.168.1.69 (site home), the server
    // the workload VM 10.1.1.4. rt-gateway sends 10.1.0.0/16 to the firewall, whose network
    // rules allow on-premises TCP 22/443/3389 only, and no application rule can match a flow
    // without a name: port 80 meets the default deny (R6.1).
    let (text, rows) = replay_with(
        &cap,
        "mapped",
        &[
            "--map",
            "131.155.215.0/24=192.168.1.0/24",
            "--map",
            "137.116.81.94/32=10.1.1.4/32",
        ],
    );
    assert!(text.contains("1 in the fabric"), "{text}");
    let r = &rows[0];
    assert_eq!(
        (r["src"].as_str(), r["dst"].as_str()),
        (Some("192.168.1.69"), Some("10.1.1.4"))
    );
    assert_eq!(r["ingress"], "site:home");
    assert_eq!(r["outcome"], "unreachable", "{r}");
    assert_eq!(r["droppedAt"], "firewall:afw-hub");
    assert_eq!(r["rule"], "afw-hub/DefaultDeny");
}

#[test]
fn flow_rows_carry_what_the_capture_saw() {
    // The hand-built conversation: the client sends SYN, ACK and the request (3 packets), the
    // server SYN-ACK and ACK (2); one record a second from 1,700,000,000 s.
    let frames = conversation(
        "10.2.1.4",
        "10.1.2.5",
        40009,
        443,
        &client_hello("app-flask.azurewebsites.net"),
    );
    let request_bytes: usize = [0, 2, 3].iter().map(|&i| frames[i].len()).sum();
    let reply_bytes: usize = [1, 4].iter().map(|&i| frames[i].len()).sum();
    let cap = tmp("replay-sem", "seen.pcap");
    write_pcap(&cap, &frames);
    let rows = replay_rows(&cap, "seen");
    let r = &rows[0];
    assert_eq!(r["to"], "pe:pe-app");
    assert_eq!(r["capture"], cap.display().to_string());
    assert_eq!(r["firstTsNs"], 1_700_000_000u64 * 1_000_000_000);
    assert_eq!(r["lastTsNs"], 1_700_000_004u64 * 1_000_000_000);
    assert_eq!(r["requestPackets"], 3);
    assert_eq!(r["replyPackets"], 2);
    assert_eq!(r["requestBytes"], request_bytes as u64);
    assert_eq!(r["replyBytes"], reply_bytes as u64);
}
