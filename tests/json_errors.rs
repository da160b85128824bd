//! `--json` holds for errors too: a failing command prints one JSON document on standard
//! output, with every located problem split into file, line and column, and exits 2.

mod common;

use common::{root, run};
use serde_json::Value;

fn json_error(args: &[&str]) -> Value {
    let (code, out, err) = run(args);
    assert_eq!(code, 2, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn a_validation_error_is_json_with_its_location() {
    let file = root().join("docs/examples/broken.yaml");
    let v = json_error(&["validate", file.to_str().unwrap(), "--json"]);
    // Where the bad prefix is in the file: found by reading it, not by asking vnetsim.
    let text = std::fs::read_to_string(&file).unwrap();
    let (line, col) = text
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find("10.1.0.1/24").map(|c| (i as u64 + 1, c as u64 + 1)))
        .unwrap();
    let d = &v["error"]["diagnostics"][0];
    assert_eq!(d["file"], file.to_str().unwrap());
    assert_eq!(d["line"], line);
    // The column points at the scalar (a quoted one starts at its quote).
    let c = d["column"].as_u64().unwrap();
    assert!(c == col || c + 1 == col, "column {c}, value at {col}");
    assert_eq!(d["severity"], "error");
    assert!(d["message"].as_str().unwrap().contains("host bits"));
}

#[test]
fn an_unknown_name_and_a_bad_argument_are_json() {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let v = json_error(&[
        "trace",
        lab.to_str().unwrap(),
        "--src",
        "nic:nope",
        "--dst",
        "10.1.1.4",
        "--json",
    ]);
    assert!(v["error"]["message"].as_str().unwrap().contains("nic:nope"));
    let v = json_error(&[
        "sweep",
        lab.to_str().unwrap(),
        "--bogus",
        "--format",
        "json",
    ]);
    assert!(v["error"]["message"].as_str().unwrap().contains("--bogus"));
}

#[test]
fn without_json_errors_stay_text_on_standard_error() {
    let lab = root().join("traces/hub-spoke-lab.yaml");
    let (code, out, err) = run(&[
        "trace",
        lab.to_str().unwrap(),
        "--src",
        "nic:nope",
        "--dst",
        "10.1.1.4",
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.starts_with("error: "));
}
