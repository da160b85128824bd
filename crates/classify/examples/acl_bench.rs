//! `cargo run --release --example acl_bench -- RULES KEYS [ROUNDS]`: runs
//! [`vnetsim_classify::bench::run`] and prints its report line.
fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 3 {
        eprintln!("usage: acl_bench RULES KEYS [ROUNDS]");
        std::process::exit(2);
    }
    let rounds = match a.get(3).map(|s| s.parse::<u32>()) {
        None => 5,
        Some(Ok(r)) => r,
        Some(Err(_)) => {
            eprintln!("bad ROUNDS `{}`", a[3]);
            std::process::exit(2);
        }
    };
    match vnetsim_classify::bench::run(a[1].as_ref(), a[2].as_ref(), rounds) {
        Ok(r) => println!("{r}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
