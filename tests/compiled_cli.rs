//! `vnetsim compile`: the commands that read a fabric give the same bytes from the compiled
//! file as from the topology, and a damaged or foreign file is a located error (exit 2).

mod common;
use common::{ok, root, run, tmp};

const TAG: &str = "compiled";

fn lab() -> String {
    root()
        .join("traces/hub-spoke-lab.yaml")
        .display()
        .to_string()
}

/// Compiles `topo` into the scratch folder as `name`.
fn compile(topo: &str, name: &str) -> String {
    let out = tmp(TAG, name).display().to_string();
    let said = ok(&["compile", topo, "-o", &out]);
    assert!(said.contains("compiled"), "{said}");
    out
}

/// `args` with `{}` standing for the fabric, run on the topology and on the compiled file:
/// exit status, standard output and standard error are the same.
fn same(topo: &str, compiled: &str, args: &[&str]) -> String {
    let with = |f: &str| -> Vec<String> {
        args.iter()
            .map(|a| {
                if *a == "{}" {
                    f.to_string()
                } else {
                    a.to_string()
                }
            })
            .collect()
    };
    let (a, b) = (with(topo), with(compiled));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    let from_topology = run(&a);
    let from_compiled = run(&b);
    assert_eq!(from_topology, from_compiled, "{args:?}");
    from_topology.1
}

/// A file's bytes, for outputs written with `--out`.
fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(tmp(TAG, name)).unwrap()
}

#[test]
fn lab_commands_read_the_compiled_fabric_as_they_read_the_topology() {
    let topo = lab();
    let c = compile(&topo, "lab.vnetsim");
    let out = same(
        &topo,
        &c,
        &["trace", "{}", "--src", "site:home", "--dst", "10.1.1.4"],
    );
    // The lab's on-premises client reaches the app VM through the hub firewall (GUIDE, check).
    assert!(out.contains("afw-hub"), "{out}");
    same(
        &topo,
        &c,
        &[
            "trace",
            "{}",
            "--src",
            "vm-app-nic",
            "--dst",
            "pe:pe-app",
            "--json",
        ],
    );
    same(
        &topo,
        &c,
        &["routes", "{}", "--subnet", "vnet-workload/snet-app"],
    );
    same(&topo, &c, &["rules", "{}", "--nic", "vm-app-nic", "--json"]);
    let assertions = root()
        .join("docs/lab-assertions.yaml")
        .display()
        .to_string();
    let (code, _, _) = run(&["check", &c, &assertions]);
    assert_eq!(code, 1, "the GUIDE's lab assertions: one passes, one fails");
    same(&topo, &c, &["check", "{}", &assertions]);
    // reach's summary line says how long it took: compare the regions it writes.
    let reach = |f: &str, regions: &str| {
        let o = tmp(TAG, regions).display().to_string();
        ok(&["reach", f, "--from", "internet", "--to", "all", "--out", &o]);
    };
    reach(&topo, "reach-topology.jsonl");
    reach(&c, "reach-compiled.jsonl");
    assert!(!bytes("reach-topology.jsonl").is_empty());
    assert_eq!(bytes("reach-topology.jsonl"), bytes("reach-compiled.jsonl"));
    let sweep = |f: &str, rows: &str| {
        let o = tmp(TAG, rows).display().to_string();
        ok(&[
            "sweep",
            f,
            "--ports",
            "tcp/443,tcp/22,udp/53,icmp",
            "--out",
            &o,
        ]);
    };
    sweep(&topo, "lab-topology.jsonl");
    sweep(&c, "lab-compiled.jsonl");
    assert!(!bytes("lab-topology.jsonl").is_empty());
    assert_eq!(bytes("lab-topology.jsonl"), bytes("lab-compiled.jsonl"));
    let pcap = root()
        .join("traces/hub-spoke-lab.pcap")
        .display()
        .to_string();
    // replay's summary says how fast it ran: compare the rows it writes per packet.
    let replay = |f: &str, rows: &str| {
        let o = tmp(TAG, rows).display().to_string();
        ok(&["replay", f, &pcap, "--per", "packet", "--out", &o]);
    };
    replay(&topo, "replay-topology.csv");
    replay(&c, "replay-compiled.csv");
    // The lab capture has 700 packets: a header and a row each.
    let rows = bytes("replay-topology.csv");
    assert_eq!(rows.iter().filter(|&&b| b == b'\n').count(), 701);
    assert_eq!(rows, bytes("replay-compiled.csv"));
}

#[test]
fn generated_fabric_sweeps_the_same_from_its_compiled_file() {
    let topo = tmp(TAG, "gen.yaml").display().to_string();
    ok(&[
        "generate",
        "--vnets",
        "7",
        "--subnets-per-vnet",
        "3",
        "--rules",
        "30",
        "--private-endpoints",
        "12",
        "-o",
        &topo,
    ]);
    let c = compile(&topo, "gen.vnetsim");
    let sweep = |f: &str, rows: &str| {
        let o = tmp(TAG, rows).display().to_string();
        ok(&["sweep", f, "--ports", "tcp/443,udp/53", "--out", &o]);
    };
    sweep(&topo, "gen-topology.jsonl");
    sweep(&c, "gen-compiled.jsonl");
    assert_eq!(bytes("gen-topology.jsonl"), bytes("gen-compiled.jsonl"));
    // 6 spokes x 3 subnets, one VM each, and the hub's VM: 19 NICs.
    let out = same(
        &topo,
        &c,
        &["trace", "{}", "--src", "vm-1-0", "--dst", "vm-6-2"],
    );
    assert!(out.contains("vm-6-2"), "{out}");
    same(
        &topo,
        &c,
        &["routes", "{}", "--subnet", "spoke3/snet1", "--json"],
    );
}

/// Writes `bytes` as a file of the scratch folder; its path.
fn write(name: &str, bytes: &[u8]) -> String {
    let p = tmp(TAG, name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

/// Runs `trace` on a damaged file: exit 2 and a message naming the file.
fn refused(path: &str) -> String {
    let (code, out, err) = run(&["trace", path, "--src", "site:home", "--dst", "10.1.1.4"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with(&format!("{path}: error: ")), "{err}");
    err
}

#[test]
fn another_format_version_is_refused_naming_both_versions() {
    let good = std::fs::read(compile(&lab(), "lab-v.vnetsim")).unwrap();
    let mut v = good.clone();
    // The format version is the little-endian u32 after the 16 magic bytes.
    v[16..20].copy_from_slice(&7u32.to_le_bytes());
    let err = refused(&write("v7.vnetsim", &v));
    assert!(err.contains("format version 7"), "{err}");
    let reads = format!("reads format version {}", vnetsim_store::FORMAT_VERSION);
    assert!(err.contains(&reads), "{err}");
    assert!(err.contains("compile the topology again"), "{err}");
}

#[test]
fn truncated_or_damaged_files_are_refused() {
    let good = std::fs::read(compile(&lab(), "lab-t.vnetsim")).unwrap();
    let half = refused(&write("half.vnetsim", &good[..good.len() / 2]));
    assert!(half.contains("truncated"), "{half}");
    let header = refused(&write("header.vnetsim", &good[..20]));
    assert!(header.contains("truncated inside its header"), "{header}");
    let mut flipped = good.clone();
    let mid = good.len() - 100;
    flipped[mid] ^= 0x10;
    let sum = refused(&write("flipped.vnetsim", &flipped));
    assert!(sum.contains("checksum"), "{sum}");
    let mut longer = good.clone();
    longer.extend_from_slice(b"tail");
    let tail = refused(&write("longer.vnetsim", &longer));
    assert!(tail.contains("the file holds"), "{tail}");
}

#[test]
fn commands_that_read_the_topology_itself_refuse_a_compiled_file() {
    let c = compile(&lab(), "lab-r.vnetsim");
    for args in [
        vec!["validate", c.as_str()],
        vec![
            "trace",
            c.as_str(),
            "--src",
            "site:home",
            "--dst",
            "pe:pe-app",
            "--why",
        ],
        vec!["audit", "duties", c.as_str()],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(&format!(
                "{c}: error: a compiled fabric holds no topology source"
            )),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_crafted_file_with_a_valid_checksum_and_an_index_out_of_range_is_an_error() {
    // Such a file passes the checksum and the layout checks of its route tables and
    // classifiers; the bad index (a NIC in a subnet that does not exist) is met by the walk.
    let good = compile(&lab(), "lab-c.vnetsim");
    let mut saved = vnetsim_store::load(std::path::Path::new(&good)).unwrap();
    let nic = saved
        .fabric
        .nics
        .iter_mut()
        .find(|n| n.name == "vm-app-nic")
        .unwrap();
    nic.subnet = vnetsim_fabric::SubnetId(60_000);
    let bad = tmp(TAG, "crafted.vnetsim");
    vnetsim_store::save(&bad, &saved).unwrap();
    let bad = bad.display().to_string();
    let (code, out, err) = run(&["trace", &bad, "--src", "nic:vm-app-nic", "--dst", "8.8.8.8"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with(&format!(
            "{bad}: error: the compiled fabric is inconsistent"
        )),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_file_is_its_header_then_the_payload_the_header_measures() {
    let path = compile(&lab(), "lab-h.vnetsim");
    let b = std::fs::read(&path).unwrap();
    // 16 magic bytes, the format version, the payload's length and checksum, the version text.
    assert_eq!(&b[..16], b"\x89vnetsim-fabric\n");
    assert_eq!(
        u32::from_le_bytes(b[16..20].try_into().unwrap()),
        vnetsim_store::FORMAT_VERSION
    );
    let length = u64::from_le_bytes(b[20..28].try_into().unwrap()) as usize;
    let vlen = u16::from_le_bytes(b[36..38].try_into().unwrap()) as usize;
    assert_eq!(&b[38..38 + vlen], env!("CARGO_PKG_VERSION").as_bytes());
    assert_eq!(b.len(), 38 + vlen + length);
    let sum = u64::from_le_bytes(b[28..36].try_into().unwrap());
    assert_eq!(vnetsim_store::checksum(&b[38 + vlen..]), sum);
    assert!(!std::path::Path::new(&format!("{path}.partial")).exists());
    // Compiling again over the file replaces it with the same bytes.
    compile(&lab(), "lab-h.vnetsim");
    assert_eq!(std::fs::read(&path).unwrap(), b);
}

#[test]
fn a_compiled_file_that_cannot_be_written_is_an_error() {
    let dir = tmp(TAG, "no-such-folder").join("fabric.vnetsim");
    let out = dir.display().to_string();
    let (code, said, err) = run(&["compile", &lab(), "-o", &out]);
    assert_eq!(code, 2, "{err}");
    assert!(said.is_empty(), "{said}");
    assert!(
        err.starts_with(&format!("error: cannot write {out}: ")),
        "{err}"
    );
}

/// Where the NSG tables start in a compiled file's bytes (the layout of `vnetsim_store`'s
/// text: the fixed header, the version text, the head's length and the head, padded to 8).
fn tables_start(b: &[u8]) -> usize {
    let vlen = u16::from_le_bytes(b[36..38].try_into().unwrap()) as usize;
    let payload = 38 + vlen;
    let head = u64::from_le_bytes(b[payload..payload + 8].try_into().unwrap()) as usize;
    payload + (8 + head).next_multiple_of(8)
}

#[test]
fn nsg_tables_are_decoded_when_first_used_and_decode_to_what_was_saved() {
    let topo = tmp(TAG, "lazy.yaml").display().to_string();
    ok(&[
        "generate",
        "--vnets",
        "9",
        "--subnets-per-vnet",
        "3",
        "--rules",
        "40",
        "-o",
        &topo,
    ]);
    let c = compile(&topo, "lazy.vnetsim");
    let file = std::fs::read(&c).unwrap();
    // Large enough to be mapped rather than read (the store maps files of 64 KiB and more).
    assert!(file.len() >= 1 << 16, "{}", file.len());
    let saved = vnetsim_store::load(std::path::Path::new(&c)).unwrap();
    let tables = &saved.fabric.nsg_tables;
    // One NSG association per spoke and one for the hub's subnet.
    assert!(tables.len() >= 9, "{}", tables.len());
    assert_eq!(tables.decoded(), 0);
    let third = &tables[2];
    assert_eq!(tables.decoded(), 1);
    assert!(!third.inbound.rules.is_empty());
    assert!(tables.decode_all().is_ok());
    assert_eq!(tables.decoded(), tables.len());
    // Saved again from the decoded tables, the file is byte for byte the one compiled.
    let again = tmp(TAG, "lazy-again.vnetsim");
    vnetsim_store::save(&again, &saved).unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), file);
}

#[test]
fn an_nsg_table_that_does_not_decode_is_the_file_s_error_when_it_is_met() {
    // A crafted file: the first NSG table's bytes overwritten, the checksum made to match. The
    // head still reads, so the file loads; the table is refused when a command first uses it.
    let good = std::fs::read(compile(&lab(), "lab-t.vnetsim")).unwrap();
    let mut b = good.clone();
    let start = tables_start(&b);
    b[start..start + 64].fill(0xFF);
    let vlen = u16::from_le_bytes(b[36..38].try_into().unwrap()) as usize;
    let sum = vnetsim_store::checksum(&b[38 + vlen..]);
    b[28..36].copy_from_slice(&sum.to_le_bytes());
    let bad = write("table.vnetsim", &b);
    let (code, _, err) = run(&["routes", &bad, "--subnet", "vnet-hub/GatewaySubnet"]);
    assert_eq!(code, 0, "routes meets no NSG table: {err}");
    let (code, out, err) = run(&["sweep", &bad, "--ports", "tcp/443"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with(&format!(
            "{bad}: error: the compiled fabric is inconsistent (compiled fabric damaged: table 0 \
             does not decode"
        )),
        "{err}"
    );
}
