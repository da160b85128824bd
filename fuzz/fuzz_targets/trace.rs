//! Trace over fuzzed fabrics: whatever topology validates is compiled, and flows between its
//! own addresses (and arbitrary ones) are walked both ways and rendered. No panic, and a walk
//! always ends (the engine's hop bound).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnetsim_engine::{render, sweep, trace, Flow, Scratch};
use vnetsim_model::load_str_with;

mod small_limits;
use small_limits::LIMITS;

/// The first bytes choose the flows; the rest is the topology.
const SEED_BYTES: usize = 24;

fuzz_target!(|data: &[u8]| {
    if data.len() < SEED_BYTES {
        return;
    }
    let (seed, text) = data.split_at(SEED_BYTES);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(v) = load_str_with("fuzz.yaml", text, &LIMITS) else {
        return;
    };
    let f = vnetsim_fabric::compile(&v);
    // Addresses the fabric owns, so that walks reach its tables, and two from the seed.
    let mut addrs: Vec<u32> = Vec::new();
    addrs.extend(f.nics.iter().map(|n| n.ip));
    addrs.extend(f.nics.iter().filter_map(|n| n.public_ip));
    addrs.extend(f.pes.iter().map(|p| p.ip));
    addrs.extend(f.subnets.iter().map(|s| u32::from(s.prefix.network()) + 4));
    addrs.extend(f.sites.iter().filter_map(|s| s.prefixes.first()).map(|p| u32::from(p.network()) + 1));
    addrs.extend(f.services.iter().filter_map(|s| s.public_ip));
    addrs.push(u32::from_be_bytes([seed[0], seed[1], seed[2], seed[3]]));
    addrs.push(u32::from_be_bytes([seed[4], seed[5], seed[6], seed[7]]));
    let mut s = Scratch::new();
    for k in 0..4 {
        let b = &seed[8 + k * 4..12 + k * 4];
        let src = addrs[b[0] as usize % addrs.len()];
        let dst = addrs[b[1] as usize % addrs.len()];
        let proto = [6u8, 17, 1, b[2]][b[3] as usize % 4];
        let flow = Flow {
            src,
            dst,
            proto,
            sport: 40000 + u16::from(b[2]),
            dport: [443u16, 22, 53, 3389, 1433, 80][b[3] as usize % 6] ^ u16::from(b[2] & 7),
        };
        let ingress = f.endpoint_of_source(src);
        let l7 = sweep::destination_l7(&f, &flow);
        let t = trace(&f, flow, ingress, l7, &mut s);
        let _ = render::trace_json(&f, &s, &t, l7);
        let _ = render::outcome_reason(&f, &t);
    }
});
