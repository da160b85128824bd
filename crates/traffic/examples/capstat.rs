//! Print packet counts and reader counters for capture files.
//!
//! `cargo run --example capstat -- FILE...`
use vnetsim_traffic::{CaptureReader, MalformedKind};

fn main() {
    for path in std::env::args().skip(1) {
        match CaptureReader::open(&path) {
            Err(e) => println!("{path}\terror\t{e}"),
            Ok(r) => {
                let s = r.count();
                let mal: Vec<String> = MalformedKind::ALL
                    .iter()
                    .filter(|k| s.malformed_of(**k) > 0)
                    .map(|k| format!("{}={}", k.name(), s.malformed_of(*k)))
                    .collect();
                println!(
                    "{path}\t{}\tv4={} v6={} nonip={} unsup={} frag={}/{}/{} corrupt={} trunc={} skipped={} {}",
                    s.packets, s.ipv4, s.ipv6, s.non_ip, s.unsupported_link_type, s.fragments_first,
                    s.fragments_later, s.fragments_orphan, s.corrupt_records, s.truncated_records,
                    s.skipped_blocks, mal.join(" ")
                );
            }
        }
    }
}
