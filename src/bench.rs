//! `vnetsim bench`: the data plane's structures measured on the shared
//! workloads (LPM, NSG classifier) and the whole walk on a topology.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use vnetsim_engine::sweep::{self, Matrix, Side};
use vnetsim_engine::{trace, Scratch};

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
    /// Round-trip walks per second over a topology's flow matrix, at 1 and N threads.
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
    /// Flows walked per measurement (the matrix is cycled)
    #[arg(long, default_value_t = 2_000_000)]
    pub flows: u64,
    /// Thread counts to measure, each at least 1
    #[arg(long, value_delimiter = ',', default_value = "1,2", value_parser = crate::cli::parse_threads)]
    pub threads: Vec<usize>,
}

const BATCH: u64 = 256;

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
    let sources = sweep::resolve(&f, &a.from, Side::Source).map_err(|e| format!("error: {e}"))?;
    let dests = sweep::resolve(&f, &a.to, Side::Destination).map_err(|e| format!("error: {e}"))?;
    let ports = sweep::parse_ports(&a.ports).map_err(|e| format!("error: --ports: {e}"))?;
    let m = Matrix::new(sources, dests, ports);
    if m.is_empty() {
        return Err("error: the matrix has no flows".into());
    }
    // Flows prepared ahead: the measurement is the walk alone.
    let flows: Vec<_> = m
        .iter()
        .map(|c| {
            let fl = m.flow(&f, c);
            (
                fl,
                m.sources[c.src as usize].endpoint,
                sweep::fqdn_for(&f, fl.dst).map(|n| vnetsim_engine::L7::by_port(n, fl.dport)),
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
        "matrix: {} distinct flows, cycled to {} round trips per run",
        flows.len(),
        a.flows
    );
    let mut base = None;
    for &n in &a.threads {
        let pool = crate::cli::thread_pool(Some(n))?;
        let per_thread = a.flows / n as u64;
        let start = Instant::now();
        let hists: Vec<hdrhistogram::Histogram<u64>> = pool.install(|| {
            use rayon::prelude::*;
            (0..n)
                .into_par_iter()
                .map(|t| {
                    let mut h =
                        hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
                            .expect("histogram");
                    let mut s = Scratch::new();
                    let mut i = (t * 7919) % flows.len();
                    let mut done = 0u64;
                    let mut sink = 0u64;
                    while done < per_thread {
                        let b0 = Instant::now();
                        for _ in 0..BATCH {
                            let (fl, ing, q) = flows[i];
                            sink = sink.wrapping_add(trace(&f, fl, ing, q, &mut s).outcome as u64);
                            i += 1;
                            if i == flows.len() {
                                i = 0;
                            }
                        }
                        let ns = b0.elapsed().as_nanos() as u64;
                        // One clock read per batch: each flow of the batch is credited the batch mean.
                        h.saturating_record_n((ns / BATCH).max(1), BATCH);
                        done += BATCH;
                    }
                    std::hint::black_box(sink);
                    h
                })
                .collect()
        });
        let secs = start.elapsed().as_secs_f64();
        let mut h = hists[0].clone();
        for x in &hists[1..] {
            h.add(x).expect("same bounds");
        }
        let total = h.len();
        let rate = total as f64 / secs;
        let speedup = match base {
            None => {
                base = Some(rate);
                1.0
            }
            Some(b) => rate / b,
        };
        println!(
            "threads={n} round-trips={total} seconds={secs:.3} flows/s={rate:.0} per-core flows/s={:.0} speedup={speedup:.2} latency-ns p50={} p99={} p999={}",
            rate / n as f64,
            h.value_at_quantile(0.50),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999)
        );
    }
    Ok(0)
}
