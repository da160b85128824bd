//! `cargo run --release --example sizes [RULES_FILE...]`: build time and size
//! of the classifier for rule files of the shared workload format, and for
//! generated NSGs with and without service tags of thousands of prefixes.
use std::time::Instant;
use vnetsim_classify::{bench, Classifier, Protocols, Rule};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn nsg(r: &mut Rng, n: usize, tag_every: usize, tag_len: usize) -> Vec<Rule> {
    let mut rules: Vec<Rule> = (0..n - 1)
        .map(|i| {
            let pre = |r: &mut Rng| {
                (
                    0x0A00_0000 | (r.next() as u32 & 0x00FF_FF00),
                    16 + r.below(17) as u8,
                )
            };
            let port = [22u16, 80, 443, 1433, 3389, 5432, 8080][r.below(7) as usize];
            let mut x = Rule {
                protocols: [
                    Protocols::Any,
                    Protocols::Set(vec![6]),
                    Protocols::Set(vec![17]),
                ][r.below(3) as usize]
                    .clone(),
                src: vec![pre(r)],
                dst: vec![pre(r)],
                sport: vec![(0, u16::MAX)],
                dport: vec![(port, port)],
            };
            if tag_every > 0 && i % tag_every == 0 {
                x.src = (0..tag_len)
                    .map(|_| (r.next() as u32, 12 + r.below(19) as u8))
                    .collect();
            }
            x
        })
        .collect();
    rules.push(Rule::any());
    rules
}

fn report(name: &str, rules: &[Rule]) {
    let prefixes: usize = rules.iter().map(|r| r.src.len() + r.dst.len()).sum();
    let mut best = f64::MAX;
    let mut c = Classifier::build(rules);
    for _ in 0..5 {
        let t = Instant::now();
        c = Classifier::build(rules);
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "{name}: rules={} prefixes={prefixes} bytes={} build_ms={best:.3}",
        c.len(),
        c.memory_bytes()
    );
}

fn main() {
    for f in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{f}: {e}"));
        match bench::parse_rules(&text, &f) {
            Ok(rules) => report(&f, &rules),
            Err(e) => eprintln!("{e}"),
        }
    }
    let mut r = Rng(42);
    report("nsg_5", &nsg(&mut r, 5, 0, 0));
    report("nsg_50", &nsg(&mut r, 50, 0, 0));
    report("nsg_200", &nsg(&mut r, 200, 0, 0));
    report("nsg_10_one_tag_3000", &nsg(&mut r, 10, 9, 3000));
    report("nsg_200_ten_tags_3000", &nsg(&mut r, 200, 20, 3000));
    report("nsg_1000_fifty_tags_3000", &nsg(&mut r, 1000, 20, 3000));
}
