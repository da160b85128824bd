//! `cargo run --release -p vnetsim-import --example gen_az_bundle -- DIR N`:
//! writes an az CLI export bundle of N VNets (one hub, N-1 spokes) into DIR.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(n)) = (args.first(), args.get(1).and_then(|n| n.parse().ok())) else {
        eprintln!("usage: gen_az_bundle DIR N");
        std::process::exit(2);
    };
    vnetsim_import::generate::write_az_bundle(std::path::Path::new(dir), n).expect("write bundle");
}
