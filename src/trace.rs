//! `trace`: one flow, forward and back; with `--why`, every decision that stops it.

use std::path::Path;

use vnetsim_engine as engine;
use vnetsim_fabric::Fabric;

use crate::cli::{
    flow_l7, load, parse_endpoint, parse_protocol, print_json, source_endpoint, TraceArgs,
};

/// The flow the arguments name, resolved against `f`: (flow, ingress, the name it carries).
fn resolve(
    f: &Fabric,
    a: &TraceArgs,
) -> Result<(engine::Flow, vnetsim_fabric::Endpoint, Option<String>), String> {
    let proto = parse_protocol(&a.protocol)?;
    let (sport, dport) = if proto == engine::ICMP {
        (0, 0)
    } else {
        (a.src_port, a.dst_port)
    };
    let named = |s: &str, what: &str| {
        vnetsim_jobs::names::resolve_address(f, s).map_err(|e| format!("error: {what}: {e}"))
    };
    let (src, dst) = (named(&a.src, "--src")?, named(&a.dst, "--dst")?);
    let flow = engine::Flow {
        src: src.addr,
        dst: dst.addr,
        proto,
        sport,
        dport,
    };
    let ingress = match (&a.from, src.endpoint) {
        (Some(e), _) => parse_endpoint(f, e)?,
        (None, Some(e)) => e,
        (None, None) => source_endpoint(f, flow.src)?,
    };
    let given = a.fqdn.clone().or(dst.fqdn).map(|s| s.to_ascii_lowercase());
    Ok((flow, ingress, given))
}

/// Walks the flow the arguments name on `f`.
fn walk(f: &Fabric, a: &TraceArgs, scratch: &mut engine::Scratch) -> Result<engine::Trace, String> {
    let (flow, ingress, given) = resolve(f, a)?;
    let l7 = flow_l7(f, &flow, given.as_deref(), a.app_protocol);
    Ok(engine::trace(f, flow, ingress, l7, scratch))
}

pub fn run_trace(a: TraceArgs) -> Result<u8, String> {
    let f = load(&a.topology)?;
    let (flow, ingress, given) = resolve(f, &a)?;
    let l7 = flow_l7(f, &flow, given.as_deref(), a.app_protocol);
    let mut scratch = engine::Scratch::new();
    let t = engine::trace(f, flow, ingress, l7, &mut scratch);
    let why = if a.why { Some(why(&a)?) } else { None };
    if a.out.json() {
        let mut v = engine::render::trace_json(f, &scratch, &t, l7);
        if let Some(w) = &why {
            v["why"] = w.json();
        }
        print_json(&v);
    } else {
        print!("{}", engine::render::trace_text(f, &scratch, &t, l7));
        if let Some(w) = &why {
            print!("{}", w.text());
        }
    }
    Ok(0)
}

fn why(a: &TraceArgs) -> Result<vnetsim_why::Why, String> {
    let text = crate::import::topology_text(&a.topology)?;
    let file = a.topology.display().to_string();
    let probe = |f: &Fabric, s: &mut engine::Scratch| walk(f, a, s);
    let w = vnetsim_why::explain(&file, &text, &probe)?;
    if let Some(p) = &a.fixed_out {
        write_fixed(p, &w.fixed)?;
    }
    Ok(w)
}

fn write_fixed(p: &Path, text: &str) -> Result<(), String> {
    std::fs::write(p, text).map_err(|e| format!("error: cannot write {}: {e}", p.display()))
}
