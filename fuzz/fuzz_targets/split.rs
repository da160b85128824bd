//! The topology parser reading a document in parts, against the same parser reading it
//! whole: the first byte chooses how many parts (2 to 9) and how small a part may be (1 to
//! 128 bytes), so documents of a few hundred bytes are cut at their item lines as estates of
//! hundreds of megabytes are. Wherever the parts give a tree, it must be the whole parser's
//! (keys, values, quoting, locations); where they do not, the document is read whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnetsim_model::{node, read::read_text};

mod small_limits;
use small_limits::LIMITS;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = read_text(rest, &LIMITS) else {
        return;
    };
    let parts = 2 + (choice & 7) as usize;
    let min_part_bytes = 1usize << (choice >> 5);
    let (cut, was_cut) = node::parse_subset_cut(&text, &LIMITS, parts, min_part_bytes);
    if !was_cut {
        return;
    }
    let whole = node::parse_subset_in(&text, &LIMITS, 1);
    if let Some(cut) = cut {
        match whole {
            Some(whole) => assert_eq!(format!("{cut:?}"), format!("{whole:?}")),
            None => panic!("the document read in parts gave a tree; read whole, it gives none"),
        }
    }
});
