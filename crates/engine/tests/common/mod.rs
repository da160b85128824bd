#![allow(dead_code)]
//! Helpers shared by the vector tests: compile a YAML topology, read routes, walk flows.

use vnetsim_engine::{trace, Flow, Scratch, Trace, L7};
use vnetsim_fabric::{compile, watcher, Endpoint, Fabric};

pub fn fabric(yaml: &str) -> Fabric {
    match vnetsim_model::load_str("test.yaml", yaml) {
        Ok(v) => compile(&v),
        Err(d) => panic!("invalid test topology:\n{d}"),
    }
}

/// (source, state, prefix, next hop type) of every effective route of V/S.
pub fn routes(f: &Fabric, subnet: &str) -> Vec<(String, String, String, String)> {
    let s = f
        .find_subnet(subnet)
        .unwrap_or_else(|| panic!("no subnet {subnet}"));
    watcher::effective_routes(f, s)
        .iter()
        .map(|r| {
            (
                r.source.as_str().to_string(),
                r.state.as_str().to_string(),
                r.prefix.to_string(),
                r.next_hop_type.as_str().to_string(),
            )
        })
        .collect()
}

/// The state of the route with this prefix and next hop type, if present.
pub fn state(f: &Fabric, subnet: &str, prefix: &str, nh: &str) -> Option<String> {
    routes(f, subnet)
        .into_iter()
        .find(|r| r.2 == prefix && r.3 == nh)
        .map(|r| r.1)
}

pub fn ip(s: &str) -> u32 {
    u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
}

pub struct Walked {
    pub t: Trace,
    pub s: Scratch,
}

impl Walked {
    pub fn forward_nodes(&self, f: &Fabric) -> Vec<String> {
        self.s
            .leg_hops(&self.t.forward)
            .iter()
            .map(|h| f.endpoint_id(h.node))
            .collect()
    }
    pub fn return_nodes(&self, f: &Fabric) -> Vec<String> {
        match &self.t.ret {
            Some(r) => self
                .s
                .leg_hops(r)
                .iter()
                .map(|h| f.endpoint_id(h.node))
                .collect(),
            None => vec![],
        }
    }
}

pub fn walk(f: &Fabric, src: &str, dst: &str, proto: u8, dport: u16) -> Walked {
    walk_fqdn(f, src, dst, proto, dport, None)
}

pub fn walk_fqdn(
    f: &Fabric,
    src: &str,
    dst: &str,
    proto: u8,
    dport: u16,
    fqdn: Option<&str>,
) -> Walked {
    let flow = Flow {
        src: ip(src),
        dst: ip(dst),
        proto,
        sport: 50000,
        dport,
    };
    let ingress = f.endpoint_of_source(flow.src);
    walk_from(f, flow, ingress, fqdn)
}

/// Walks `flow`; a given `fqdn` is spoken in the protocol its port stands for.
pub fn walk_from(f: &Fabric, flow: Flow, ingress: Endpoint, fqdn: Option<&str>) -> Walked {
    let mut s = Scratch::new();
    let l7 = fqdn.map(|n| L7::by_port(n, flow.dport));
    let t = trace(f, flow, ingress, l7, &mut s);
    Walked { t, s }
}
