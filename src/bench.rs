//! `vnetsim bench`: the data plane's structures measured on the shared
//! workloads (LPM, NSG classifier) and the whole walk on a topology.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use vnetsim_engine::sweep::{self, Matrix, Side};
use vnetsim_engine::{trace, trace_batch, Scratch, BATCH};

use crate::cli::load;

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Longest-prefix match of the FIB every route set uses (routes.txt + keys.bin workload).
    Lpm {
        #[arg(long)]
        routes: PathBuf,
        #[arg(long)]
        keys: PathBuf,
        #[arg(long, default_value_t = 10)]
        rounds: u32,
    },
    /// The NSG classifier (rules.txt + keys.bin workload).
    Acl {
        #[arg(long)]
        rules: PathBuf,
        #[arg(long)]
        keys: PathBuf,
        #[arg(long, default_value_t = 5)]
        rounds: u32,
    },
    /// Flows walked per second over a topology's flow matrix (a round trip each: the reply is
    /// walked when the request is delivered), at each thread count, and per-flow latency.
    Walk(WalkArgs),
}

#[derive(Args, Debug)]
pub struct WalkArgs {
    pub topology: PathBuf,
    #[arg(long = "from")]
    pub from: Vec<String>,
    #[arg(long = "to")]
    pub to: Vec<String>,
    #[arg(long, default_value = "tcp/443,tcp/22,udp/53,icmp")]
    pub ports: String,
    /// Flows walked per thread-count measurement (the matrix is cycled)
    #[arg(long, default_value_t = 2_000_000)]
    pub flows: u64,
    /// Thread counts to measure, each at least 1
    #[arg(long, value_delimiter = ',', default_value = "1,2", value_parser = crate::cli::parse_threads)]
    pub threads: Vec<usize>,
    /// Walk consecutive flows of one source 64 at a time, their first route lookups made
    /// together (the throughput pass only)
    #[arg(long)]
    pub batch: bool,
}

type Prepared<'f> = (
    vnetsim_engine::Flow,
    vnetsim_fabric::Endpoint,
    Option<vnetsim_engine::L7<'f>>,
);

/// Walks `total` flows (the matrix cycled) on `n` threads with no clock read inside the loop:
/// flows walked, how many had a reply walk (the forward leg was delivered), seconds.
fn throughput(
    f: &vnetsim_fabric::Fabric,
    flows: &[Prepared<'_>],
    total: u64,
    n: usize,
    batch: bool,
) -> Result<(u64, u64, f64), String> {
    let pool = crate::cli::thread_pool(Some(n))?;
    let per_thread = total / n as u64;
    let start = Instant::now();
    let replies: u64 = pool.install(|| {
        use rayon::prelude::*;
        (0..n)
            .into_par_iter()
            .map(|t| {
                let mut s = Scratch::new();
                let mut i = (t * 7919) % flows.len();
                if batch {
                    return walk_batched(f, flows, i, per_thread, &mut s);
                }
                let mut replies = 0u64;
                for _ in 0..per_thread {
                    let (fl, ing, q) = flows[i];
                    replies += trace(f, fl, ing, q, &mut s).ret.is_some() as u64;
                    i += 1;
                    if i == flows.len() {
                        i = 0;
                    }
                }
                replies
            })
            .sum()
    });
    Ok((
        per_thread * n as u64,
        replies,
        start.elapsed().as_secs_f64(),
    ))
}

/// Walks `count` flows from `from` on (the matrix cycled) in batches of consecutive flows
/// from one source ([`trace_batch`]); how many had a reply walk.
fn walk_batched(
    f: &vnetsim_fabric::Fabric,
    flows: &[Prepared<'_>],
    from: usize,
    count: u64,
    s: &mut Scratch,
) -> u64 {
    let (mut i, mut left, mut replies) = (from, count, 0u64);
    let mut batch = [vnetsim_engine::Flow::default(); BATCH];
    while left > 0 {
        let ingress = flows[i].1;
        let most = BATCH.min(flows.len() - i).min(left as usize);
        let n = 1 + flows[i + 1..i + most]
            .iter()
            .take_while(|p| p.1 == ingress)
            .count();
        for (b, p) in batch.iter_mut().zip(&flows[i..i + n]) {
            *b = p.0;
        }
        trace_batch(
            f,
            &batch[..n],
            ingress,
            |k| flows[i + k].2,
            s,
            |_, _, t| replies += t.ret.is_some() as u64,
        );
        i = (i + n) % flows.len();
        left -= n as u64;
    }
    replies
}

/// Times `count` flows one by one on this thread, each between two clock reads, minus the
/// median cost of a clock pair measured first.
fn latency(
    f: &vnetsim_fabric::Fabric,
    flows: &[Prepared<'_>],
    count: u64,
) -> (hdrhistogram::Histogram<u64>, u64) {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .expect("valid histogram bounds");
    let mut clock = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .expect("valid histogram bounds");
    for _ in 0..10_000 {
        let t0 = Instant::now();
        let ns = t0.elapsed().as_nanos() as u64;
        clock.saturating_record(ns.max(1));
    }
    let clock_ns = clock.value_at_quantile(0.5);
    let mut s = Scratch::new();
    let mut i = 0;
    for _ in 0..count {
        let (fl, ing, q) = flows[i];
        let t0 = Instant::now();
        std::hint::black_box(trace(f, fl, ing, q, &mut s).outcome);
        let ns = t0.elapsed().as_nanos() as u64;
        h.saturating_record(ns.saturating_sub(clock_ns).max(1));
        i += 1;
        if i == flows.len() {
            i = 0;
        }
    }
    (h, clock_ns)
}

pub fn run(cmd: BenchCmd) -> Result<u8, String> {
    match cmd {
        BenchCmd::Lpm {
            routes,
            keys,
            rounds,
        } => {
            let r = vnetsim_lpm::bench::run(&routes, &keys, rounds)
                .map_err(|e| format!("error: {e}"))?;
            println!("{r}");
            Ok(0)
        }
        BenchCmd::Acl {
            rules,
            keys,
            rounds,
        } => {
            let r = vnetsim_classify::bench::run(&rules, &keys, rounds)
                .map_err(|e| format!("error: {e}"))?;
            println!("{r}");
            Ok(0)
        }
        BenchCmd::Walk(a) => walk(a),
    }
}

fn walk(a: WalkArgs) -> Result<u8, String> {
    let t0 = Instant::now();
    let f = load(&a.topology)?;
    let compile_s = t0.elapsed().as_secs_f64();
    let sources = sweep::resolve(f, &a.from, Side::Source).map_err(|e| format!("error: {e}"))?;
    let dests = sweep::resolve(f, &a.to, Side::Destination).map_err(|e| format!("error: {e}"))?;
    let ports = sweep::parse_ports(&a.ports).map_err(|e| format!("error: --ports: {e}"))?;
    let m = Matrix::new(sources, dests, ports);
    if m.is_empty() {
        return Err("error: the matrix has no flows".into());
    }
    // Flows prepared ahead: the measurement is the walk alone.
    let flows: Vec<_> = m
        .iter()
        .map(|c| {
            let fl = m.flow(f, c);
            (
                fl,
                m.sources[c.src as usize].endpoint,
                sweep::destination_l7(f, &fl),
            )
        })
        .collect();
    println!(
        "fabric {}: {} vnets, {} subnets, {} distinct route sets ({} KiB of FIB), {} NSG tables; compiled in {:.3} s",
        if f.name.is_empty() { "-" } else { &f.name },
        f.vnets.len(),
        f.subnets.len(),
        f.route_sets.len(),
        f.fib_bytes() / 1024,
        f.nsg_tables.len(),
        compile_s
    );
    println!(
        "matrix: {} distinct flows, cycled to {} flows per run",
        flows.len(),
        a.flows
    );
    let mut base = None;
    for &n in &a.threads {
        let (flows_done, with_reply, secs) = throughput(f, &flows, a.flows, n, a.batch)?;
        let rate = flows_done as f64 / secs;
        let speedup = match base {
            None => {
                base = Some(rate);
                1.0
            }
            Some(b) => rate / b,
        };
        println!(
            "threads={n} flows={flows_done} seconds={secs:.3} flows/s={rate:.0} per-core flows/s={:.0} speedup={speedup:.2} with-reply-walk={:.1}%",
            rate / n as f64,
            100.0 * with_reply as f64 / flows_done.max(1) as f64
        );
    }
    let (h, clock_ns) = latency(f, &flows, a.flows.min(1_000_000));
    println!(
        "latency per flow, 1 thread, {} flows timed one by one: p50={} p99={} p999={} max={} ns (a clock pair costs {clock_ns} ns, subtracted)",
        h.len(),
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    );
    Ok(0)
}
