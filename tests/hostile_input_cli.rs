//! Hostile inputs given to the binary: whatever a path is (a device that never ends, a pipe),
//! the command reads it once, within the stated limits, and answers with a located error or
//! the topology's answer, in bounded time. The library's own hostile-input tests
//! (`crates/model/tests/hostile.rs`) cover the model's reader; these cover what the binary does
//! before it (telling a compiled fabric and an import source from a topology by content).

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `vnetsim args` with `stdin` written to its standard input, killed if it runs past
/// `limit`: (exit code, stdout, stderr, seconds taken).
fn run_within(args: &[&str], stdin: &[u8], limit: Duration) -> (i32, String, String, f64) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vnetsim"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    // Both outputs are drained while the command runs, so that neither pipe fills and stalls it.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            writer.join().unwrap();
            let (out, err) = (out.join().unwrap(), err.join().unwrap());
            let secs = started.elapsed().as_secs_f64();
            return (status.code().unwrap_or(-1), out, err, secs);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vnetsim {args:?} still ran after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn dev_zero_is_refused_at_its_first_byte() {
    // /dev/zero claims no size and never ends. Every command that reads a topology refuses
    // it at line 1, column 1, whichever loader looks at it first.
    if !std::path::Path::new("/dev/zero").exists() {
        return;
    }
    for args in [
        &["validate", "/dev/zero"][..],
        &["routes", "/dev/zero", "--subnet", "hub/snet"][..],
        &["compile", "/dev/zero", "-o", "/dev/null"][..],
    ] {
        let (code, _, err, secs) = run_within(args, b"", Duration::from_secs(20));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("/dev/zero:1:1: error: expected YAML or JSON text, found a NUL byte"),
            "{args:?}: {err}"
        );
        assert!(secs < 20.0);
    }
}

#[test]
fn a_topology_on_a_pipe_is_read_whole() {
    // Telling a compiled fabric or an import source from a topology must not take the first
    // bytes of a pipe away from the topology's reader: the lab read from standard input is
    // the lab read from its file.
    let lab = common::root().join("traces/hub-spoke-lab.yaml");
    let text = std::fs::read(&lab).unwrap();
    let from_file = common::ok(&["validate", lab.to_str().unwrap()]);
    let counts = &from_file[from_file.find(": valid").unwrap()..];
    let (code, out, err, _) =
        run_within(&["validate", "/dev/stdin"], &text, Duration::from_secs(20));
    assert_eq!(code, 0, "{err}");
    assert_eq!(&out[out.find(": valid").unwrap()..], counts);
}

#[test]
fn a_json_import_source_on_a_pipe_is_bounded_too() {
    // A pipe is read as a topology (only regular files are looked at for import sources), so
    // an az export piped in is refused by the topology's checks, located, not imported from
    // a second read that would find the pipe empty.
    let az = r#"[{"type": "Microsoft.Network/virtualNetworks", "name": "v"}]"#;
    let (code, _, err, _) = run_within(
        &["validate", "/dev/stdin"],
        az.as_bytes(),
        Duration::from_secs(20),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/dev/stdin:1:"), "{err}");
}

#[test]
fn a_capture_on_a_pipe_is_read_whole_and_dev_zero_at_once() {
    // A capture piped in (`tcpdump -w - | vnetsim replay TOPO /dev/stdin`) is the capture read
    // from its file: the flow-log detection looks at regular files only, so it takes no bytes
    // away from the capture's reader. /dev/zero is refused by its first four bytes, which are
    // no capture's magic. A second pass (--pcap-out) needs a file, and says so.
    let root = common::root();
    let (lab, pcap) = (
        root.join("traces/hub-spoke-lab.yaml"),
        root.join("traces/hub-spoke-lab.pcap"),
    );
    let (lab, pcap_path) = (lab.to_str().unwrap(), pcap.to_str().unwrap());
    let from_file = common::ok(&["replay", lab, pcap_path]);
    let bytes = std::fs::read(&pcap).unwrap();
    let (code, out, err, _) = run_within(
        &["replay", lab, "/dev/stdin"],
        &bytes,
        Duration::from_secs(20),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("700 packets, 184823 bytes, 700 IPv4 packets in 100 flows"),
        "{out}"
    );
    let summary = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(summary(&out), summary(&from_file));
    if std::path::Path::new("/dev/zero").exists() {
        let (code, _, err, secs) =
            run_within(&["replay", lab, "/dev/zero"], b"", Duration::from_secs(20));
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("/dev/zero: unknown capture format (magic [00, 00, 00, 00])"),
            "{err}"
        );
        assert!(secs < 20.0);
    }
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let args = [
        "replay",
        lab,
        "/dev/stdin",
        "--pcap-out",
        out_dir.to_str().unwrap(),
    ];
    let (code, _, err, _) = run_within(&args, &bytes, Duration::from_secs(20));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("/dev/stdin: --pcap-out and --per packet read the captures twice"),
        "{err}"
    );
}
