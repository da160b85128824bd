//! The progress an import reports is its real work: every byte of the sources read, then every
//! mapping step, in order, ending validated.

use std::cell::RefCell;
use std::path::PathBuf;

use vnetsim_import::{import_with_progress, ImportOptions, Progress};

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/")).join(p)
}

/// The bytes of every file under a folder, counted here from the file system.
fn folder_bytes(dir: &PathBuf) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                folder_bytes(&p)
            } else {
                std::fs::metadata(&p).unwrap().len()
            }
        })
        .sum()
}

#[test]
fn an_import_reports_every_byte_read_then_every_mapping_step_in_order() {
    let src = fixture("az-hub-spoke");
    let seen = RefCell::new(Vec::new());
    let imported = import_with_progress(
        std::slice::from_ref(&src),
        &ImportOptions::default(),
        &|p| seen.borrow_mut().push(p),
    )
    .expect("the fixture imports");
    assert!(!imported.yaml.is_empty());
    let seen = seen.into_inner();
    let total = folder_bytes(&src);
    let reads: Vec<(u64, u64)> = seen
        .iter()
        .filter_map(|p| match *p {
            Progress::Read { bytes, of } => Some((bytes, of)),
            _ => None,
        })
        .collect();
    let files = std::fs::read_dir(&src).unwrap().count();
    assert_eq!(reads.len(), files, "one report per file read");
    assert!(reads.iter().all(|&(_, of)| of == total));
    assert!(reads.windows(2).all(|w| w[0].0 < w[1].0), "bytes only grow");
    assert_eq!(reads.last().unwrap().0, total, "every byte is read");
    let maps: Vec<(&str, u64, u64)> = seen
        .iter()
        .filter_map(|p| match *p {
            Progress::Map { step, done, of } => Some((step, done, of)),
            _ => None,
        })
        .collect();
    let of = maps[0].2;
    assert_eq!(
        maps.iter().map(|m| m.1).collect::<Vec<_>>(),
        (1..=of).collect::<Vec<_>>(),
        "each step once, in order"
    );
    assert_eq!(maps.last().unwrap().0, "validated");
    let first_map = seen
        .iter()
        .position(|p| matches!(p, Progress::Map { .. }))
        .unwrap();
    assert_eq!(first_map, reads.len(), "reading ends before mapping starts");
}
