//! Helpers the binary's integration tests share: paths, a scratch folder per test binary, and
//! running `vnetsim`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file in this test binary's scratch folder (`tag` names the binary).
pub fn tmp(tag: &str, name: &str) -> PathBuf {
    let d = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Runs `vnetsim args`: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

/// Runs `vnetsim args`, which must succeed; its stdout.
pub fn ok(args: &[&str]) -> String {
    let (c, out, err) = run(args);
    assert_eq!(c, 0, "{args:?}: {err}");
    out
}

/// The rows of a JSON lines file.
pub fn jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A file of `tests/fixtures`, as an argument.
pub fn fixture(p: &str) -> String {
    root().join("tests/fixtures").join(p).display().to_string()
}

/// `vnetsim trace TOPOLOGY ARGS... --json`, which must succeed, parsed.
pub fn trace_json(topology: &str, args: &[&str]) -> Value {
    let mut a = vec!["trace", topology];
    a.extend_from_slice(args);
    a.push("--json");
    serde_json::from_str(&ok(&a)).unwrap()
}
