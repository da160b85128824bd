//! The flow-log reader on arbitrary bytes (a blob, JSON lines, gzip of either), folded:
//! no panic, every tuple read lands in exactly one folded flow, and a corrupt or cut input
//! is counted, never fatal (only a blob larger than the limit is refused).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnetsim_flowlog::{read_blob, Folder, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_blob_bytes: 1 << 20,
        max_examples: 4,
    };
    let mut folder = Folder::default();
    let mut tuples = 0u64;
    let Ok(st) = read_blob("fuzz.json", data, &limits, &mut |g, t| {
        tuples += 1;
        folder.add(g, t);
    }) else {
        return;
    };
    assert_eq!(st.tuples, tuples, "every tuple read is counted");
    let folded: u64 = folder.flows.iter().map(|f| f.tuples).sum();
    assert_eq!(folded, tuples, "every tuple is in exactly one flow");
    assert!(folder.flows.len() as u64 <= tuples);
    assert!(st.examples.len() <= limits.max_examples);
});
