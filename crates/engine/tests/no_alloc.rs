//! The per-packet paths allocate nothing once warmed up: the walk (`trace`, `trace_with`), the
//! sweep's inner loop, and both passes of replay. A counting global allocator counts every
//! allocation on every thread (worker and reader threads included) while a section is armed.
//! Everything runs in one test function so that no other test's allocations are counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use vnetsim_engine::replay::{build_table, second_pass, FlowTable};
use vnetsim_engine::sweep::{self, Matrix, Side};
use vnetsim_engine::{trace, trace_with, Flow, RuleRef, Scratch, Trace, ICMP, L7, TCP, UDP};
use vnetsim_fabric::{compile, Endpoint, Fabric};
use vnetsim_report::packets::{PacketRow, PacketRowWriter};
use vnetsim_report::OutputFormat;

struct Counting;

static ARMED: AtomicBool = AtomicBool::new(false);
/// Whether allocations on every thread count, or only on the threads marked in `HERE`.
static EVERY_THREAD: AtomicBool = AtomicBool::new(true);
static COUNT: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn counts() -> bool {
    ARMED.load(Ordering::Relaxed)
        && (EVERY_THREAD.load(Ordering::Relaxed) || HERE.try_with(|h| h.get()).unwrap_or(false))
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counts() {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        if counts() {
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allocations made on any thread while `f` runs (for work that runs on other threads too).
fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    COUNT.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    let r = f();
    ARMED.store(false, Ordering::SeqCst);
    (r, COUNT.load(Ordering::SeqCst))
}

/// Allocations made on this thread while `f` runs, for work done on it alone: a thread of
/// some pool elsewhere in the process that starts meanwhile does not count.
fn counted_here<R>(f: impl FnOnce() -> R) -> (R, u64) {
    EVERY_THREAD.store(false, Ordering::SeqCst);
    HERE.with(|h| h.set(true));
    let r = counted(f);
    HERE.with(|h| h.set(false));
    EVERY_THREAD.store(true, Ordering::SeqCst);
    r
}

fn ip(s: &str) -> u32 {
    u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
}

fn lab() -> Fabric {
    let text = include_str!("../../../traces/hub-spoke-lab.yaml");
    compile(&vnetsim_model::load_str("lab", text).unwrap())
}

/// Two IP-forwarding appliances in a line, so that walks cross appliance hops too; subnet b
/// leaves for the Internet through a NAT gateway.
fn appliances() -> Fabric {
    let y = "version: 1
vnets:
  - name: v
    addressSpace: [10.0.0.0/16]
    subnets:
      - { name: a, addressPrefix: 10.0.0.0/24, routeTable: rt-a, nsg: nsg }
      - { name: n, addressPrefix: 10.0.1.0/24, nsg: nsg }
      - { name: b, addressPrefix: 10.0.2.0/24, routeTable: rt-b, natGateway: natgw }
natGateways: [{ name: natgw, publicIpAddresses: [40.0.0.10] }]
routeTables:
  - { name: rt-a, routes: [{ name: to-b, addressPrefix: 10.0.2.0/24, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }] }
  - { name: rt-b, routes: [{ name: to-a, addressPrefix: 10.0.0.0/24, nextHopType: VirtualAppliance, nextHopIpAddress: 10.0.1.4 }] }
nsgs: [{ name: nsg, rules: [] }]
nics:
  - { name: src, subnet: v/a, privateIpAddress: 10.0.0.4 }
  - { name: nva, subnet: v/n, privateIpAddress: 10.0.1.4, enableIpForwarding: true, nsg: nsg }
  - { name: dst, subnet: v/b, privateIpAddress: 10.0.2.4 }
";
    compile(&vnetsim_model::load_str("appliances", y).unwrap())
}

/// Security admin rules (Deny, AlwaysAllow, Allow) before NSGs, a mesh connected group, and
/// a service endpoint to a storage account that admits only its subnet.
fn managed() -> Fabric {
    let tags = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/service-tags.json"
    );
    let y = format!(
        "version: 1
serviceTags: {tags}
vnets:
  - name: a
    addressSpace: [10.10.0.0/16]
    subnets: [{{ name: s, addressPrefix: 10.10.0.0/24, nsg: nsg, serviceEndpoints: [Microsoft.Storage] }}]
  - name: b
    addressSpace: [10.20.0.0/16]
    subnets: [{{ name: s, addressPrefix: 10.20.0.0/24 }}]
nsgs:
  - name: nsg
    rules:
      - {{ name: deny-22, priority: 100, direction: Inbound, access: Deny, protocol: Tcp, source: '*', destination: '*', destinationPorts: '22' }}
      - {{ name: deny-monitor, priority: 200, direction: Inbound, access: Deny, protocol: Udp, destination: '*',
          unresolved: {{ source: service tag 'AzureMonitor' has no address data }} }}
notModelled:
  - {{ type: Microsoft.Network/virtualHubs/hubVirtualNetworkConnections, id: hub/conn-b, affects: hub routes, vnet: b }}
nics:
  - {{ name: va, subnet: a/s, privateIpAddress: 10.10.0.4 }}
  - {{ name: vb, subnet: b/s, privateIpAddress: 10.20.0.4 }}
services:
  - {{ name: st, publicIpAddress: 20.38.109.10, networkAcls: {{ defaultAction: Deny, virtualNetworkRules: [a/s] }} }}
networkManagers:
  - name: m
    networkGroups: [{{ name: g, members: [a, b] }}]
    securityAdminConfigurations:
      - name: c
        ruleCollections:
          - name: rc
            appliesToGroups: [g]
            rules:
              - {{ name: deny-8080, priority: 10, direction: Inbound, access: Deny, protocol: Tcp, sources: ['*'], destinations: ['*'], destinationPortRanges: ['8080'] }}
              - {{ name: always-22, priority: 20, direction: Inbound, access: AlwaysAllow, protocol: Tcp, sources: ['*'], destinations: ['*'], destinationPortRanges: ['22'] }}
              - {{ name: allow-443, priority: 30, direction: Inbound, access: Allow, protocol: Tcp, sources: ['*'], destinations: ['*'], destinationPortRanges: ['443'] }}
              - {{ name: tagged-5000, priority: 40, direction: Inbound, access: Deny, protocol: Tcp, destinations: ['*'], destinationPortRanges: ['5000'],
                  unresolved: {{ sources: service tag 'AzureCloud' has no address data }} }}
    connectivityConfigurations:
      - {{ name: mesh, connectivityTopology: Mesh, appliesToGroups: [{{ networkGroup: g }}] }}
"
    );
    compile(&vnetsim_model::load_str("managed", &y).unwrap())
}

/// Load balancers (HA ports in front of NVAs, a second ILB, a public one with inbound NAT and an
/// outbound rule) and an Application Gateway in front of a VM and of a Private Endpoint.
fn balancers() -> Fabric {
    let text = include_str!("../../../tests/fixtures/load-balancers.yaml");
    compile(&vnetsim_model::load_str("load-balancers", text).unwrap())
}

/// A Route Server with two NVAs (ECMP and a shorter AS path), spokes that use it, and
/// branch-to-branch on: sites reach the NVAs' prefixes and ExpressRoute <-> VPN transit.
fn route_server() -> Fabric {
    let text = include_str!("../../../tests/fixtures/route_server.yaml").replace(
        "allowBranchToBranchTraffic: false",
        "allowBranchToBranchTraffic: true",
    );
    compile(&vnetsim_model::load_str("route-server", &text).unwrap())
}

fn route_server_cases() -> Vec<Case> {
    let mut v = vec![
        case("10.1.1.4", "10.2.1.4", TCP, 443, None),
        case("10.1.1.4", "10.200.1.1", TCP, 443, None),
        case("192.168.1.10", "10.100.1.1", TCP, 443, None),
        case("192.168.1.10", "172.20.1.1", TCP, 443, None),
        case("10.0.3.4", "10.0.3.132", TCP, 443, None),
    ];
    for sport in 40000..40008 {
        let mut c = case("10.1.1.4", "10.100.1.1", TCP, 443, None);
        c.flow.sport = sport;
        v.push(c);
    }
    v
}

fn balancer_cases() -> Vec<Case> {
    vec![
        case("10.1.0.4", "10.2.0.4", TCP, 443, None),
        case("10.1.0.4", "10.3.0.4", TCP, 443, None),
        case("203.0.113.10", "20.50.0.10", TCP, 80, None),
        case("203.0.113.10", "20.50.0.10", TCP, 50001, None),
        case("10.0.4.5", "8.8.8.8", TCP, 443, None),
        case("8.8.8.8", "20.50.0.20", TCP, 443, None),
        case("10.1.0.4", "10.0.3.10", TCP, 443, None),
    ]
}

struct Case {
    flow: Flow,
    l7: Option<L7<'static>>,
    midstream: bool,
}

fn case(s: &str, d: &str, proto: u8, dport: u16, fqdn: Option<&'static str>) -> Case {
    Case {
        flow: Flow {
            src: ip(s),
            dst: ip(d),
            proto,
            sport: 50000,
            dport,
        },
        l7: fqdn.map(|n| L7::by_port(n, dport)),
        midstream: false,
    }
}

/// Flows of the lab that cross every kind of hop and decision.
fn lab_cases() -> Vec<Case> {
    let mut v = vec![
        case("192.168.1.10", "10.1.1.4", TCP, 443, None),
        case(
            "192.168.1.10",
            "10.1.2.5",
            TCP,
            443,
            Some("app-flask.azurewebsites.net"),
        ),
        case(
            "10.2.1.4",
            "10.1.2.5",
            TCP,
            443,
            Some("app-flask.azurewebsites.net"),
        ),
        case("10.0.2.4", "10.1.2.5", TCP, 443, None),
        case("10.1.1.4", "8.8.8.8", UDP, 53, None),
        case(
            "10.1.1.4",
            "23.45.67.89",
            TCP,
            443,
            Some("www.microsoft.com"),
        ),
        case("203.0.113.9", "20.10.10.10", TCP, 3389, None),
        case("203.0.113.9", "20.30.40.50", TCP, 22, None),
        case("10.1.1.4", "10.2.1.4", TCP, 22, None),
        case("10.1.1.4", "1.1.1.1", TCP, 80, None),
        case("10.1.1.4", "10.2.1.4", ICMP, 0, None),
        case("10.1.1.4", "168.63.129.16", TCP, 80, None),
    ];
    let mut mid = case("192.168.1.10", "10.1.1.4", TCP, 443, None);
    mid.midstream = true;
    v.push(mid);
    v
}

fn walk(f: &Fabric, c: &Case, s: &mut Scratch) -> Trace {
    let ingress = f.endpoint_of_source(c.flow.src);
    if c.midstream {
        trace_with(f, c.flow, ingress, c.l7, true, s)
    } else {
        trace(f, c.flow, ingress, c.l7, s)
    }
}

/// Hop kinds and decision kinds the walks of `cases` met, by name.
fn kinds(f: &Fabric, cases: &[Case], seen: &mut BTreeSet<&'static str>) {
    let mut s = Scratch::new();
    for c in cases {
        let t = walk(f, c, &mut s);
        for h in &s.hops {
            seen.insert(match h.node {
                Endpoint::Nic(n) if f.nics[n.ix()].ip_forwarding => "appliance",
                Endpoint::Nic(_) => "nic",
                Endpoint::Subnet(_) => "subnet",
                Endpoint::Pe(_) => "private-endpoint",
                Endpoint::Site(_) => "site",
                Endpoint::Gateway(_) => "gateway",
                Endpoint::Firewall(_) => "firewall",
                Endpoint::Internet => "internet",
                Endpoint::Service(_) => "service",
                Endpoint::Platform => "platform",
                Endpoint::LoadBalancer(_) => "load-balancer",
                Endpoint::AppGateway(_) => "application-gateway",
            });
            if matches!(h.nat, Some(n) if n.src.is_some())
                && matches!(h.node, Endpoint::Nic(_) | Endpoint::Subnet(_))
            {
                seen.insert("outbound-snat");
            }
            if let Some(r) = h.rule {
                seen.insert(match r {
                    RuleRef::Nsg { .. } => "nsg-rule",
                    RuleRef::NsgFlowRecord => "nsg-flow-record",
                    RuleRef::FirewallNetwork { .. } => "firewall-network-rule",
                    RuleRef::FirewallApplication { .. } => "firewall-application-rule",
                    RuleRef::FirewallDnat { .. } => "firewall-dnat-rule",
                    RuleRef::FirewallDefaultDeny(_) => "firewall-default-deny",
                    RuleRef::FirewallSession(_) => "firewall-session",
                    RuleRef::Route(_) => "user-route",
                    RuleRef::NotModelled(_) => "not-modelled",
                    RuleRef::NsgUnresolved { .. }
                    | RuleRef::AdminUnresolved { .. }
                    | RuleRef::FirewallUnresolved { .. } => "unresolved-rule",
                    RuleRef::AdminRule { .. } => "admin-rule",
                    RuleRef::LbRule { .. } => "lb-rule",
                    RuleRef::LbNatRule { .. } => "lb-nat-rule",
                    RuleRef::LbSession(_) => "lb-session",
                    RuleRef::AppGwRule { .. } => "appgw-rule",
                    RuleRef::AppGwSession(_) => "appgw-session",
                });
            }
        }
        if t.bypassed.is_some() {
            seen.insert("bypassed-firewall");
        }
        if t.bypassed_nva.is_some() {
            seen.insert("bypassed-appliance");
        }
    }
}

fn walks_allocate_nothing() {
    let lab = lab();
    let nva = appliances();
    let lab_cases = lab_cases();
    let nva_cases = vec![
        case("10.0.0.4", "10.0.2.4", TCP, 443, None),
        case("10.0.2.4", "8.8.8.8", TCP, 443, None),
    ];
    let managed = managed();
    let managed_cases = vec![
        case("10.20.0.4", "10.10.0.4", TCP, 8080, None),
        case("10.20.0.4", "10.10.0.4", TCP, 22, None),
        case("10.20.0.4", "10.10.0.4", TCP, 443, None),
        case("10.10.0.4", "20.38.109.10", TCP, 443, None),
        case("10.20.0.4", "20.38.109.10", TCP, 443, None),
        case("10.20.0.4", "10.10.0.4", UDP, 53, None),
        case("10.20.0.4", "10.10.0.4", TCP, 5000, None),
    ];
    let lbs = balancers();
    let lb_cases = balancer_cases();
    let rs = route_server();
    let rs_cases = route_server_cases();
    let mut seen = BTreeSet::new();
    kinds(&lab, &lab_cases, &mut seen);
    kinds(&nva, &nva_cases, &mut seen);
    kinds(&lbs, &lb_cases, &mut seen);
    let mut admin = BTreeSet::new();
    kinds(&managed, &managed_cases, &mut admin);
    assert!(
        admin.contains("admin-rule"),
        "no walk met an admin rule: {admin:?}"
    );
    assert!(
        admin.contains("service"),
        "no walk reached the service: {admin:?}"
    );
    for k in ["unresolved-rule", "not-modelled"] {
        assert!(admin.contains(k), "no walk met a {k}: {admin:?}");
    }
    for k in [
        "appliance",
        "nic",
        "subnet",
        "private-endpoint",
        "site",
        "gateway",
        "firewall",
        "internet",
        "service",
        "platform",
        "nsg-rule",
        "nsg-flow-record",
        "firewall-network-rule",
        "firewall-application-rule",
        "firewall-dnat-rule",
        "firewall-default-deny",
        "firewall-session",
        "bypassed-firewall",
        "outbound-snat",
        "load-balancer",
        "application-gateway",
        "lb-rule",
        "lb-nat-rule",
        "lb-session",
        "appgw-rule",
        "appgw-session",
        "bypassed-appliance",
    ] {
        assert!(seen.contains(k), "no walk crossed a {k}: {seen:?}");
    }
    let mut s = Scratch::new();
    let reached: BTreeSet<String> = rs_cases
        .iter()
        .filter_map(|c| walk(&rs, c, &mut s).forward.delivered_to)
        .map(|e| rs.endpoint_id(e))
        .collect();
    for nva in ["nic:nva1", "nic:nva2"] {
        assert!(
            reached.contains(nva),
            "no ECMP walk reached {nva}: {reached:?}"
        );
    }
    let first: Vec<Trace> = lab_cases.iter().map(|c| walk(&lab, c, &mut s)).collect();
    let (same, n) = counted_here(|| {
        let mut same = 0usize;
        for _ in 0..1000 {
            for (c, t0) in lab_cases.iter().zip(&first) {
                same += (walk(&lab, c, &mut s).outcome == t0.outcome) as usize;
            }
            for c in &nva_cases {
                std::hint::black_box(walk(&nva, c, &mut s));
            }
            for c in &managed_cases {
                std::hint::black_box(walk(&managed, c, &mut s));
            }
            for c in &lb_cases {
                std::hint::black_box(walk(&lbs, c, &mut s));
            }
            for c in &rs_cases {
                std::hint::black_box(walk(&rs, c, &mut s));
            }
        }
        same
    });
    assert_eq!(same, 1000 * lab_cases.len(), "walks must be deterministic");
    assert_eq!(
        n,
        0,
        "the walk allocated {n} times in {} walks",
        1000 * (lab_cases.len()
            + nva_cases.len()
            + managed_cases.len()
            + lb_cases.len()
            + rs_cases.len())
    );
}

fn sweep_inner_loop_allocates_nothing() {
    let f = lab();
    let m = Matrix::new(
        sweep::resolve(&f, &[], Side::Source).unwrap(),
        sweep::resolve(&f, &[], Side::Destination).unwrap(),
        sweep::parse_ports("tcp/1-400,udp/1-400,icmp").unwrap(),
    );
    let chunks = m.len().div_ceil(sweep::CHUNK);
    assert!(chunks >= 8, "{chunks} chunks");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let run = || {
        pool.install(|| {
            sweep::fold_chunks(
                &f,
                &m,
                |_| 0u64,
                |acc: &mut u64, _, _, t, _, _| *acc += t.outcome as u64,
                &|_| {},
            )
        })
    };
    let warm = run();
    let (again, n) = counted(run);
    assert_eq!(again, warm);
    // Per job: the destinations' names (one vector) and the result vector; per parallel split a
    // scratch. None per cell: an allocation per flow would count at least m.len().
    let bound = 8 + 2 * chunks;
    assert!(
        n <= bound,
        "the sweep allocated {n} times for {} flows in {chunks} chunks (at most {bound} allowed)",
        m.len()
    );
    // The order-free fold a summary uses: one accumulator and one scratch per split, none per
    // chunk or cell; flows walked in batches of one source (`trace_batch`).
    let fq = m.fqdns(&f);
    let merged = || {
        pool.install(|| {
            sweep::fold_merge(
                &f,
                &m,
                &fq,
                0..m.len(),
                || [0u64; 4],
                |acc: &mut [u64; 4], _, _, t, _, _| acc[t.outcome as usize] += 1,
                |a, b| std::array::from_fn(|i| a[i] + b[i]),
                &|_| {},
            )
        })
    };
    let warm = merged();
    let (again, n) = counted(merged);
    assert_eq!(again, warm);
    assert_eq!(warm.iter().sum::<u64>(), m.len());
    let bound = 8 + chunks;
    assert!(
        n <= bound,
        "the merged sweep allocated {n} times for {} flows in {chunks} chunks (at most {bound} allowed)",
        m.len()
    );
    // Batches of one source's flows, their first route lookups together.
    let flows: Vec<Flow> = m
        .cells(0..vnetsim_engine::BATCH as u64)
        .map(|c| m.flow(&f, c))
        .collect();
    let ingress = m.sources[0].endpoint;
    let mut s = Scratch::new();
    let batch = |s: &mut Scratch| {
        let mut outcomes = 0u64;
        vnetsim_engine::trace_batch(
            &f,
            &flows,
            ingress,
            |_| None,
            s,
            |_, _, t| outcomes += t.outcome as u64 + 1,
        );
        outcomes
    };
    let warm = batch(&mut s);
    let (again, n) = counted_here(|| batch(&mut s));
    assert_eq!((again, n), (warm, 0), "trace_batch allocated {n} times");
}

fn capture() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../traces/hub-spoke-lab.pcap"
    ))
}

/// Pass one over the lab capture given `copies` times: the same flows, `copies` times the packets.
fn pass_one(f: &Fabric, copies: usize) -> (FlowTable, u64) {
    let paths = vec![capture(); copies];
    counted(|| build_table(f, &paths, None, &Default::default(), 1, &|_| {}).unwrap())
}

fn replay_pass_one_allocates_nothing_per_packet() {
    let f = lab();
    let (one, n1) = pass_one(&f, 1);
    let (four, n4) = pass_one(&f, 4);
    assert_eq!(
        one.flows.len(),
        four.flows.len(),
        "the copies add packets, not flows"
    );
    assert_eq!(four.stats.read.packets, 4 * one.stats.read.packets);
    // Each extra copy costs its opening (reader, statistics) and its batches (4,096 records
    // each: a packet vector and a hint arena), not its packets.
    let per_copy = 16 + 4 * one.stats.read.packets.div_ceil(4096);
    let extra = n4.saturating_sub(n1);
    assert!(
        extra <= 3 * per_copy,
        "three more copies ({} packets) cost {extra} allocations (at most {} allowed)",
        3 * one.stats.read.packets,
        3 * per_copy
    );
}

/// Pass two writing every packet's row and rewriting every packet into a reused buffer.
fn pass_two(f: &Fabric, table: &FlowTable, copies: usize, names: &[String]) -> (u64, u64) {
    let paths = vec![capture(); copies];
    let mut w = PacketRowWriter::new(Box::new(std::io::sink()), OutputFormat::Jsonl).unwrap();
    let mut buf = Vec::with_capacity(65536);
    let _ = f;
    let (rows, n) = counted_here(|| {
        let mut rows = 0u64;
        second_pass(&paths, table, &Default::default(), &mut |e| {
            let name = names[e.placement.flow as usize].as_str();
            let row = PacketRow {
                index: e.index,
                ts_ns: e.ts_ns,
                src: e.packet.src,
                dst: e.packet.dst,
                protocol: "Tcp",
                src_port: e.packet.sport,
                dst_port: e.packet.dport,
                direction: if e.placement.reply {
                    "reply"
                } else {
                    "request"
                },
                flow: e.placement.flow,
                verdict: "delivered",
                delivered_to: Some(name),
                dropped_at: None,
                rule: Some(name),
                src_seen: Some(e.packet.src),
                dst_seen: None,
                outcome: "reachable",
            };
            w.write(&row).map_err(|x| x.to_string())?;
            let off = vnetsim_traffic::ipv4_offset(e.link_type, e.data).unwrap();
            buf.clear();
            buf.extend_from_slice(&e.data[off..]);
            let rw = vnetsim_traffic::Rewrite {
                src: Some(0x0a00_0105),
                dst: None,
                sport: None,
                dport: None,
            };
            vnetsim_traffic::rewrite_ipv4_at(&mut buf, 0, &rw).unwrap();
            rows += 1;
            Ok(())
        })
        .unwrap();
        rows
    });
    (rows, n)
}

fn replay_pass_two_allocates_nothing_per_packet() {
    let f = lab();
    let table = build_table(&f, &[capture()], None, &Default::default(), 1, &|_| {}).unwrap();
    let names: Vec<String> = (0..table.flows.len())
        .map(|i| format!("nic:flow-{i}"))
        .collect();
    let (r1, n1) = pass_two(&f, &table, 1, &names);
    let (r4, n4) = pass_two(&f, &table, 4, &names);
    assert_eq!(r4, 4 * r1);
    assert!(r1 >= 600, "{r1} packets");
    // Each extra copy costs its reader's opening, not its packets.
    let extra = n4.saturating_sub(n1);
    assert!(
        extra <= 3 * 16,
        "three more copies ({} packets) cost {extra} allocations",
        3 * r1
    );
}

#[test]
fn hot_paths_allocate_nothing_per_packet() {
    walks_allocate_nothing();
    sweep_inner_loop_allocates_nothing();
    replay_pass_one_allocates_nothing_per_packet();
    replay_pass_two_allocates_nothing_per_packet();
}
