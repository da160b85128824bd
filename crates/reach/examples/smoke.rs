use vnetsim_engine::sweep::{resolve, Side};
use vnetsim_engine::Scratch;
use vnetsim_reach::*;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let v = vnetsim_model::load(std::path::Path::new(&a[1])).unwrap_or_else(|_| panic!("load"));
    let f = vnetsim_fabric::compile(&v);
    let tb = tables::Tables::new(&f);
    let src = resolve(&f, &[a[2].clone()], Side::Source).unwrap();
    let dst = resolve(&f, &[a[3].clone()], Side::Destination).unwrap();
    let s = sources(&f, &src, &Scope::everything());
    let d = dests(&f, &dst);
    let t0 = std::time::Instant::now();
    let p = match partition(&f, &tb, &s, &dest_cuts(&f, &d)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    eprintln!(
        "{} classes {} walks {:?}",
        p.classes.len(),
        p.walks,
        t0.elapsed()
    );
    let r = regions(&f, &p, &d, a[3] == "all", |_| true);
    let mut sc = Scratch::new();
    for x in &r {
        for row in render::region_rows(&f, &s, &d, &p, x, &mut sc) {
            println!("{}", render::text(&row));
        }
    }
}
