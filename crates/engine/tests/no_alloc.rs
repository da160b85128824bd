//! The per-packet walk allocates nothing once its scratch has warmed up. A
//! counting global allocator counts allocations made by this thread while
//! walking every kind of flow the bundled lab has.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use vnetsim_engine::{trace, Flow, Scratch, ICMP, L7, TCP, UDP};
use vnetsim_fabric::compile;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNTING.try_with(|c| {
            if c.get() {
                COUNT.with(|n| n.set(n.get() + 1));
            }
        });
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        let _ = COUNTING.try_with(|c| {
            if c.get() {
                COUNT.with(|n| n.set(n.get() + 1));
            }
        });
        System.realloc(ptr, layout, new)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn ip(s: &str) -> u32 {
    u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
}

#[test]
fn warmed_up_walks_do_not_allocate() {
    let text = include_str!("../../../traces/hub-spoke-lab.yaml");
    let f = compile(&vnetsim_model::load_str("lab", text).unwrap());
    // Flows that cross every kind of hop: gateway, firewall (network, application,
    // DNAT, default deny), peering, Private Endpoint, Internet, NSG drops.
    let flows: Vec<(Flow, Option<L7>)> = [
        ("192.168.1.10", "10.1.1.4", TCP, 443, None),
        (
            "192.168.1.10",
            "10.1.2.5",
            TCP,
            443,
            Some("app-flask.azurewebsites.net"),
        ),
        (
            "10.2.1.4",
            "10.1.2.5",
            TCP,
            443,
            Some("app-flask.azurewebsites.net"),
        ),
        ("10.0.2.4", "10.1.2.5", TCP, 443, None),
        ("10.1.1.4", "8.8.8.8", UDP, 53, None),
        ("203.0.113.9", "20.10.10.10", TCP, 3389, None),
        ("203.0.113.9", "20.30.40.50", TCP, 22, None),
        ("10.1.1.4", "10.2.1.4", TCP, 22, None),
        ("10.1.1.4", "1.1.1.1", TCP, 80, None),
        ("10.1.1.4", "10.2.1.4", ICMP, 0, None),
    ]
    .iter()
    .map(|&(s, d, p, port, q)| {
        (
            Flow {
                src: ip(s),
                dst: ip(d),
                proto: p,
                sport: 50000,
                dport: port,
            },
            q.map(|n| L7::by_port(n, port)),
        )
    })
    .collect();
    let ingress: Vec<_> = flows
        .iter()
        .map(|(fl, _)| f.endpoint_of_source(fl.src))
        .collect();
    let mut scratch = Scratch::new();
    let mut outcomes = Vec::with_capacity(flows.len());
    for ((fl, q), i) in flows.iter().zip(&ingress) {
        outcomes.push(trace(&f, *fl, *i, *q, &mut scratch).outcome);
    }
    COUNT.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    let mut again = 0usize;
    for _ in 0..1000 {
        for (k, ((fl, q), i)) in flows.iter().zip(&ingress).enumerate() {
            let t = trace(&f, *fl, *i, *q, &mut scratch);
            again += (t.outcome == outcomes[k]) as usize;
        }
    }
    COUNTING.with(|c| c.set(false));
    let allocations = COUNT.with(|n| n.get());
    assert_eq!(again, 1000 * flows.len(), "walks must be deterministic");
    assert_eq!(
        allocations,
        0,
        "the walk allocated {allocations} times in {} walks",
        1000 * flows.len()
    );
}
