//! # vnetsim-jobs: running a job and streaming its rows to a sink
//!
//! The orchestration of vnetsim's jobs, as a library, so that the command line, the Python
//! package and any report run the same code:
//!
//! - [`sweep`]: a flow matrix evaluated in parallel, its rows streamed to a sink in matrix
//!   order slice by slice, the summary and the per-pair outcomes of the heat map
//!   ([`summary_key`]: what a summary shows of a flow, packed; [`rows`]: a streamed sweep's
//!   rows, endpoint ids rendered once);
//! - [`flow_row`]: one trace as one flat row, and where a round trip was stopped;
//! - [`diff`]: the same sweep on two fabrics, and the flows that changed;
//! - [`check`]: reachability assertions, every name resolved before anything runs;
//! - [`flowlog`]: flow logs replayed against the fabric, and where the model and the log disagree;
//! - [`replay`]: captures through the fabric, each flow's fate, and pass two's sinks;
//! - [`report`]: the HTML report as one more sink (where endpoints are drawn, a diff's
//!   causes);
//! - [`reach`]: every header from the sources to the destinations, as regions, one source at a
//!   time, streamed to the sinks of [`reach_rows`] (JSON lines, Parquet, text, JSON) and
//!   [`reach_report`] (the HTML report's region matrix);
//! - [`names`]: the names users type, resolved against the fabric, with a did-you-mean;
//! - [`shard`]: `--shard I/N`, one deterministic part of a sweep or a replay;
//! - [`watcher`]: the Network Watcher answers (effective routes and rules) as text and JSON.
//!
//! It decides nothing about packets: every decision is the engine's (`vnetsim-engine`) over
//! the compiled fabric (`vnetsim-fabric`). It prints nothing: results come back as values and
//! rows go to the sinks the caller gives.

pub mod check;
pub mod diff;
pub mod drift_report;
pub mod exhaustive;
pub mod flow_row;
pub mod flowlog;
pub mod flowlog_rows;
pub mod names;
pub mod reach;
pub mod reach_report;
pub mod reach_rows;
pub mod replay;
pub mod report;
pub mod rows;
pub mod shard;
pub mod summary_key;
pub mod sweep;
pub mod watcher;

/// Where a job runs: the worker pool, and a progress callback told how much work was done
/// (cells, flows or packets) as it goes.
pub struct Job<'a> {
    pub pool: &'a rayon::ThreadPool,
    pub progress: &'a (dyn Fn(u64) + Sync),
}

/// `--threads N`, the same in every command: a whole number of at least 1.
pub fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "invalid thread count '{s}'; expected a whole number of at least 1"
        )),
    }
}

/// The worker pool of every command: `threads` workers, or one per core when absent.
pub fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool, String> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        b = b.num_threads(n);
    }
    b.build()
        .map_err(|e| format!("error: cannot start worker threads: {e}"))
}
