//! The baseline of the flow-log scale figure: only parse every blob under a folder into a
//! `serde_json::Value` and count the tuples, nothing else.
//!
//! `cargo run --release -p vnetsim-flowlog --example parse_baseline -- DIR`

use std::path::{Path, PathBuf};
use std::time::Instant;

fn files(d: &Path, out: &mut Vec<PathBuf>) {
    let mut v: Vec<PathBuf> = std::fs::read_dir(d)
        .expect("a folder")
        .map(|e| e.expect("an entry").path())
        .collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            files(&p, out)
        } else {
            out.push(p)
        }
    }
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: parse_baseline DIR");
    let mut fs = Vec::new();
    files(Path::new(&dir), &mut fs);
    let t = Instant::now();
    let mut tuples = 0u64;
    for f in &fs {
        let bytes = std::fs::read(f).expect("readable");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        for r in v["records"].as_array().into_iter().flatten() {
            for a in r["flowRecords"]["flows"].as_array().into_iter().flatten() {
                for g in a["flowGroups"].as_array().into_iter().flatten() {
                    tuples += g["flowTuples"].as_array().map_or(0, |x| x.len() as u64);
                }
            }
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{} files, {tuples} tuples parsed into serde_json::Value in {s:.3} s: {:.0} tuples/s",
        fs.len(),
        tuples as f64 / s
    );
}
