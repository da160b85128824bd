//! Every file of the shared capture tree (tcpdump's and Zeek's test suites):
//! the reader must terminate without panicking on each, every packet must be
//! classified once, and the summed packet count must equal tcpdump's.

mod common;
use std::path::{Path, PathBuf};
use vnetsim_traffic::{CaptureReader, ReadStats};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn walk_all_shared_captures() {
    let Some(root) = common::shared_captures() else {
        println!("note: shared capture tree not found next to the workspace; skipping");
        return;
    };
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut total = ReadStats::default();
    let (mut opened, mut refused) = (0, 0);
    for f in &files {
        match CaptureReader::open(f) {
            Ok(r) => {
                opened += 1;
                let len = r.file_len() as u64;
                let st = r.count();
                // every packet is at least a 16-byte header in the file: a bound
                // on what a terminating reader can yield
                assert!(st.packets <= len / 12 + 1, "{}", f.display());
                total.merge(&st);
            }
            Err(_) => refused += 1, // not a capture (text, licence, gzip)
        }
    }
    println!("{opened} captures read, {refused} other files; totals: {total:?}");
    assert!(opened > 200, "expected the whole tree, read {opened}");
    // Summed over the tree, every packet is classified exactly once.
    let classified = total.ipv4
        + total.ipv6
        + total.non_ip
        + total.malformed_total()
        + total.unsupported_link_type;
    assert_eq!(classified, total.packets);
    assert!(total.ipv4 > 5_000 && total.ipv6 > 100 && total.non_ip > 10);
    // Sum over the 221 captures of `tcpdump -# -n -r FILE` packet counts
    // (tcpdump 4.99.3), taken on the tree as shipped.
    if opened == 221 {
        assert_eq!(total.packets, 8365);
    }
}
