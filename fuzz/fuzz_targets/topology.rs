//! The topology reader, parser, decoder and validator on arbitrary bytes:
//! every input must give a topology or located diagnostics, never a panic,
//! and the diagnostics must respect the limits. Where the subset YAML parser
//! reads the text, its tree must be the general parser's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnetsim_model::{assertions, load_str_with, node, read::read_text};

mod small_limits;
use small_limits::LIMITS;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = read_text(data, &LIMITS) else {
        return;
    };
    let d = match load_str_with("fuzz.yaml", &text, &LIMITS) {
        Ok(v) => v.warnings,
        Err(d) => {
            assert!(d.has_errors());
            d
        }
    };
    assert!(d.items.len() <= LIMITS.max_diagnostics);
    for item in &d.items {
        assert!(item.loc.line >= 1 && item.loc.col >= 1, "{item:?}");
    }
    let _ = d.to_string();
    if let Some(subset) = node::parse_subset(&text, &LIMITS) {
        match node::parse_general(&text, &LIMITS) {
            Ok(general) => assert_eq!(format!("{subset:?}"), format!("{general:?}")),
            Err(e) => panic!("the subset parser read what the general parser refuses: {e:?}"),
        }
    }
    let _ = assertions::parse("fuzz.yaml", &text);
});
