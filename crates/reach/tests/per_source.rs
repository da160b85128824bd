//! One source cut alone (`partition_source`, what a streamed reach run does) gives exactly the
//! classes, with the same walks, that cutting every source at once gives for that source.

use vnetsim_engine::sweep::{resolve, Side};
use vnetsim_reach::tables::Tables;
use vnetsim_reach::*;

#[test]
fn each_source_alone_has_the_classes_it_has_among_all() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../traces/hub-spoke-lab.yaml"
    );
    let v = vnetsim_model::load(std::path::Path::new(path)).unwrap_or_else(|d| panic!("{d}"));
    let f = vnetsim_fabric::compile(&v);
    let all = vec!["all".to_string()];
    let sources = sources(
        &f,
        &resolve(&f, &all, Side::Source).unwrap(),
        &Scope::everything(),
    );
    let dests = dests(&f, &resolve(&f, &all, Side::Destination).unwrap());
    let cuts = dest_cuts(&f, &dests);
    let tb = Tables::new(&f);
    let whole = partition(&f, &tb, &sources, &cuts).unwrap();
    // The lab has its three NICs, its site and the Internet as sources.
    assert_eq!(sources.len(), 5);
    let mut walks = 0;
    for i in 0..sources.len() {
        let one = partition_source(&f, &tb, &sources, i, &cuts, BOXES_HELD_MAX).unwrap();
        walks += one.walks;
        let theirs: Vec<_> = whole
            .classes
            .iter()
            .filter(|c| c.source == i as u32)
            .map(|c| (c.bx, &whole.signatures[c.sig as usize]))
            .collect();
        let mine: Vec<_> = one
            .classes
            .iter()
            .map(|c| (c.bx, &one.signatures[c.sig as usize]))
            .collect();
        assert!(!mine.is_empty(), "source {i}");
        assert!(mine == theirs, "source {i}: the classes differ");
        assert!(one.classes.iter().all(|c| c.source == i as u32));
    }
    assert_eq!(walks, whole.walks);
}
