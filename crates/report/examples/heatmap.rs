//! Writes a sample heat map: `cargo run --example heatmap -- OUT.svg [ROWS [COLS [PORTS]]]`.
//!
//! The outcomes are made up (a fixed pseudo-random pattern), to look at the
//! layout at different sizes.

use vnetsim_report::heatmap::{CellOutcome, Heatmap};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.first().map(String::as_str).unwrap_or("heatmap.svg");
    let rows: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(6);
    let cols: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(rows);
    let ports: u32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let kinds = ["nic", "pe", "site", "subnet"];
    let name = |i: usize| match i % 7 {
        0 => "internet".to_string(),
        3 => format!("subnet:vnet-spoke-{i:03}-production-westeurope/snet-application-tier"),
        _ => format!(
            "{}:vm-{}-{i}",
            kinds[i % kinds.len()],
            if i.is_multiple_of(2) {
                "web"
            } else {
                "db&cache"
            }
        ),
    };
    let mut h = Heatmap::new(
        format!("sample: reachability, tcp/443,tcp/1433,udp/53 ({rows} x {cols})"),
        (0..rows).map(name),
        (0..cols).map(|j| name(j + 1)),
    );
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for r in 0..rows {
        for c in 0..cols {
            if r == c + 1 {
                continue; // same endpoint: not tested
            }
            let bias = next() % 10;
            for _ in 0..ports {
                let x = next() % 100;
                let o = match bias {
                    0..=4 => CellOutcome::Reachable,
                    5..=6 => CellOutcome::Unreachable,
                    7 => CellOutcome::NoReturn,
                    _ if x < 50 => CellOutcome::Reachable,
                    _ if x < 80 => CellOutcome::Unreachable,
                    _ => CellOutcome::NoReturn,
                };
                h.add(r, c, o);
            }
        }
    }
    let f = std::fs::File::create(out)?;
    h.write_svg(f)
}
