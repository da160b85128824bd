//! Bad input: each is an error with a location, in bounded time, never a panic.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use vnetsim_import::{import, ImportOptions};

fn bad(name: &str) -> vnetsim_import::ImportError {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bad")).join(name);
    let t = Instant::now();
    let e = import(&[p], &ImportOptions::default()).expect_err("must fail");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "{name} took {:?}",
        t.elapsed()
    );
    assert!(!e.diagnostics.is_empty());
    e
}

#[test]
fn truncated_json() {
    let e = bad("truncated.json");
    let d = &e.diagnostics[0];
    assert!(d.file.ends_with("truncated.json"));
    assert!(d.message.contains("truncated"), "{d}");
    assert_eq!(d.line, 6, "{d}");
}

#[test]
fn unknown_function() {
    let e = bad("unknown-function.json");
    let d = &e.diagnostics[0];
    assert!(d.message.contains("unknown function 'frobnicate'"), "{d}");
    // "name": "[frobnicate('vnet')]" on line 8: the string starts at column 15, the call at 17.
    assert_eq!((d.line, d.col), (8, 17), "{d}");
    assert!(d.to_string().contains("unknown-function.json:8:17: error:"));
}

#[test]
fn variable_cycle() {
    let e = bad("variable-cycle.json");
    let d = e
        .diagnostics
        .iter()
        .find(|d| d.message.contains("cycle"))
        .unwrap_or_else(|| panic!("{e}"));
    assert!(d.message.contains("depends on itself"), "{d}");
    assert!(d.line >= 5 && d.line <= 6, "{d}");
}

#[test]
fn copy_count_of_a_billion() {
    let e = bad("copy-count.json");
    let d = &e.diagnostics[0];
    assert!(d.message.contains("copy count 1000000000"), "{d}");
    assert_eq!(d.line, 9, "{d}");
}

#[test]
fn deeply_nested_expression() {
    let e = bad("deep-expression.json");
    let d = &e.diagnostics[0];
    assert!(d.message.contains("nested deeper"), "{d}");
    assert_eq!(d.line, 6, "{d}");
}

#[test]
fn random_bytes_and_odd_shapes_do_not_panic() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        "", "[", "{", "[{\"id\": \"/x\", \"type\": \"a/b\"}]", "{\"data\": [1, 2]}", "\"\\u12", "[1e99999]",
        "{\"$schema\": \"deploymentTemplate.json\", \"contentVersion\": \"1\", \"resources\": {\"a\": {\"type\": \"[1]\", \"name\": 2}}}",
        "{\"$schema\": \"deploymentTemplate.json\", \"contentVersion\": \"1\", \"resources\": [{\"type\": \"Microsoft.Network/virtualNetworks\", \"name\": \"[substring('a', 5, 9)]\"}]}",
        "{\"$schema\": \"deploymentTemplate.json\", \"contentVersion\": \"1\", \"resources\": [{\"type\": \"Microsoft.Resources/deployments\", \"name\": \"d\", \"properties\": {\"templateLink\": {\"uri\": \"https://example.invalid/t.json\"}}}]}",
        "[{\"id\": \"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v\", \"type\": \"Microsoft.Network/virtualNetworks\", \"subnets\": [{\"name\": \"s\", \"addressPrefix\": 7}], \"virtualNetworkPeerings\": [{}]}]",
    ];
    for (i, c) in cases.iter().enumerate() {
        let f = dir.join(format!("c{i}.json"));
        std::fs::write(&f, c).unwrap();
        let _ = import(&[f], &ImportOptions::default());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_long_chain_of_variables_is_bounded() {
    // v0 -> v1 -> ... -> v5000: refused at a depth limit instead of exhausting the stack.
    let e = bad("variable-chain.json");
    assert!(
        e.diagnostics
            .iter()
            .any(|d| d.message.contains("nest deeper")),
        "{e}"
    );
}

#[test]
fn mutated_real_inputs_never_hit_an_internal_error() {
    let fixtures = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"));
    let inputs = [
        fixtures.join("az-hub-spoke/vnet.json"),
        fixtures.join("az-hub-spoke/firewall-rule-collection-groups.json"),
        fixtures.join("arg-hub-spoke.json"),
        fixtures.join("tf-tolerant.state.json"),
        fixtures.join("arm-features/main.json"),
        fixtures.join("arm-merge.json"),
    ];
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-mutate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let noise = b"[]{}\",:'0-9.eE/\\ \n\"[concat(\"-1\"true\"null";
    for input in &inputs {
        let text = std::fs::read(input).unwrap();
        for k in 0..40 {
            let mut t = text.clone();
            let at = (next() as usize) % t.len();
            match k % 3 {
                0 => t.truncate(at),
                1 => t[at] = noise[(next() as usize) % noise.len()],
                _ => t.insert(at, noise[(next() as usize) % noise.len()]),
            }
            let f = dir.join(format!("m{k}.json"));
            std::fs::write(&f, &t).unwrap();
            let start = Instant::now();
            if let Err(e) = import(&[f], &ImportOptions::default()) {
                assert!(
                    !e.to_string().contains("internal error"),
                    "{}: {e}",
                    input.display()
                );
            }
            assert!(start.elapsed() < Duration::from_secs(5));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_source_that_never_ends_is_refused_at_its_first_byte() {
    // `vnetsim import /dev/zero`: the file claims no size and never ends. The importer reads
    // what is there, not what the file claims, so the NUL at its first byte is the error.
    let zero = PathBuf::from("/dev/zero");
    if !zero.exists() {
        return;
    }
    let t = Instant::now();
    let e = import(&[zero], &ImportOptions::default()).expect_err("must fail");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let d = &e.diagnostics[0];
    assert!(d.message.contains("found a NUL byte"), "{d}");
}
