//! The importer on arbitrary JSON documents: az CLI exports, Resource Graph pages, ARM
//! templates (the offline expression evaluator) and Terraform state, detected by content.
//! Every input gives a validated topology or located diagnostics, never a panic: the
//! importer's own last line of defence (which turns a panic into an "internal error") is
//! made to abort here, so that the fuzzer sees the bug.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use vnetsim_import::{import, ImportOptions};
use vnetsim_model::load_str;

fuzz_target!(|data: &[u8]| {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            eprintln!("{info}");
            std::process::abort();
        }))
    });
    // The importer reads files: one per input, in memory-backed space where there is one.
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("vnetsim-fuzz-import-{}.json", std::process::id()));
    {
        let Ok(mut file) = std::fs::File::create(&path) else {
            return;
        };
        if file.write_all(data).is_err() {
            return;
        }
    }
    match import(&[path.clone()], &ImportOptions::default()) {
        Ok(imported) => {
            // What the importer writes validates.
            if let Err(d) = load_str("imported.yaml", &imported.yaml) {
                panic!("imported topology does not validate:\n{d}\n{}", imported.yaml);
            }
        }
        Err(e) => assert!(!e.diagnostics.is_empty()),
    }
    let _ = std::fs::remove_file(&path);
});
