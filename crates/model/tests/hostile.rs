//! Hostile input: every crash class found by mutating topologies, rebuilt
//! here from its recipe. Each must be rejected with a located error naming
//! the limit, in work linear (or n log n) in the input, and never by running
//! out of memory. The inputs are generated, not stored.

use std::io::Read;
use std::path::Path;

use vnetsim_model::read::read_text;
use vnetsim_model::{load_str, load_str_with, load_with, Diagnostic, Diagnostics, Limits};

fn rejected(text: &str, limits: &Limits) -> Diagnostics {
    match load_str_with("t.yaml", text, limits) {
        Ok(_) => panic!("expected errors"),
        Err(d) => d,
    }
}

/// The only error, which must contain `msg`.
fn single_error(d: &Diagnostics, msg: &str) -> Diagnostic {
    let errs: Vec<_> = d.errors().collect();
    assert_eq!(errs.len(), 1, "{d}");
    assert!(errs[0].message.contains(msg), "{d}");
    errs[0].clone()
}

/// The character at a 1-based line and column of `text`.
fn char_at(text: &str, line: u32, col: u32) -> char {
    let l = text.lines().nth(line as usize - 1).expect("line exists");
    l.chars().nth(col as usize - 1).expect("column exists")
}

/// A valid base with one vnet: the hostile part is appended.
const HEAD: &str = "version: 1\nvnets:\n";

/// Aliases of a long string, nested ten wide per level: a 50 KB file that
/// would expand to 5 GB. The error points at the anchor (whose copy is
/// charged too) or the alias that crossed the limit.
#[test]
fn alias_bomb_of_long_strings_is_bounded() {
    let mut text = format!("version: 1\nname: &s0 \"{}\"\nsites:\n", "x".repeat(50_000));
    for level in 1..=5 {
        let refs = vec![format!("*s{}", level - 1); 10].join(", ");
        text += &format!("  - &s{level} [{refs}]\n");
    }
    let d = load_str("t.yaml", &text).unwrap_err();
    let e = single_error(
        &d,
        "anchors and aliases expand the document by more than 67108864 bytes",
    );
    assert!(e.message.contains("max_alias_bytes"));
    assert!(
        matches!(char_at(&text, e.loc.line, e.loc.col), '*' | '&'),
        "{e:?}"
    );
}

/// A smaller limit is honoured the same way, and an anchor used within the
/// limit is fine.
#[test]
fn alias_limit_is_configurable() {
    let limits = Limits {
        max_alias_bytes: 200_000,
        ..Limits::default()
    };
    let long = "y".repeat(40_000);
    let ok = format!("version: 1\nname: &n \"{long}\"\napplicationSecurityGroups: [*n]\n");
    assert!(load_str_with("t.yaml", &ok, &limits).is_ok());
    let bad = format!(
        "version: 1\nname: &n \"{long}\"\napplicationSecurityGroups: [*n, *n, *n, *n, *n]\n"
    );
    let d = rejected(&bad, &limits);
    let e = single_error(&d, "more than 200000 bytes");
    assert_eq!(e.loc.line, 3);
    assert_eq!(char_at(&bad, e.loc.line, e.loc.col), '*');
}

/// A scalar over the limit is rejected where it starts, echoing only a prefix.
#[test]
fn long_scalar_is_rejected_with_a_short_echo() {
    let name = "n".repeat(100_000);
    let text = format!("{HEAD}  - name: {name}\n    addressSpace: [10.0.0.0/16]\n");
    let d = load_str("t.yaml", &text).unwrap_err();
    let e = single_error(&d, "expected a scalar of at most 65536 bytes");
    assert_eq!((e.loc.line, e.loc.col), (3, 11));
    assert!(e
        .message
        .contains(&format!("'{}… (100000 bytes)'", "n".repeat(40))));
    assert!(e.message.len() < 200, "{}", e.message);
}

/// Every scalar, key, list and mapping counts one node: in `[0, 0, ...]`
/// the list is node 1, so the 1,000th scalar is node 1,001.
#[test]
fn node_count_is_bounded() {
    let limits = Limits {
        max_nodes: 1000,
        ..Limits::default()
    };
    let text = format!("[{}]", vec!["0"; 2000].join(", "));
    let d = rejected(&text, &limits);
    let e = single_error(&d, "more than 1000 nodes");
    // The k-th scalar starts at column 2 + 3 (k - 1).
    assert_eq!((e.loc.line, e.loc.col), (1, 2 + 3 * 999));
}

#[test]
fn nesting_depth_is_bounded() {
    let limits = Limits {
        max_depth: 10,
        ..Limits::default()
    };
    let text = "[".repeat(100) + &"]".repeat(100);
    let d = rejected(&text, &limits);
    let e = single_error(&d, "nesting deeper than 10 levels");
    // Lists 1..=10 open; the 11th, at column 11, is refused.
    assert_eq!((e.loc.line, e.loc.col), (1, 11));
    // At the default depth the parser's own recursion limit (256) may come
    // first; either way the error is on the first line, by column 257.
    let text = "[".repeat(100_000);
    let d = load_str("t.yaml", &text).unwrap_err();
    let e = d.errors().next().unwrap();
    assert!(e.loc.line == 1 && e.loc.col <= 257, "{d}");
}

/// 250,000 keys in one mapping with the duplicate last: found by a hash
/// set, located at the second occurrence.
#[test]
fn duplicate_key_check_is_linear() {
    let mut text = String::from("version: 1\n");
    for i in 0..250_000 {
        text += &format!("k{i}: 1\n");
    }
    text += "k17: 2\n";
    let d = load_str("t.yaml", &text).unwrap_err();
    let e = single_error(&d, "duplicate key 'k17' in this mapping");
    assert_eq!((e.loc.line, e.loc.col), (250_002, 1));
}

/// 250,000 unknown keys: one error each, counted, the first 20 kept.
#[test]
fn diagnostics_are_capped_and_counted() {
    let mut text = String::from("version: 1\n");
    for i in 0..250_000 {
        text += &format!("k{i}: 1\n");
    }
    let d = load_str("t.yaml", &text).unwrap_err();
    assert_eq!(d.error_count(), 250_000);
    assert_eq!(d.items.len(), 20);
    // The earliest are kept: k0 on line 2 first.
    assert_eq!((d.items[0].loc.line, d.items[0].loc.col), (2, 1));
    assert!(d.items[0]
        .message
        .starts_with("unknown key 'k0' in the topology"));
    let out = d.to_string();
    assert_eq!(out.lines().count(), 21);
    assert!(out.ends_with("t.yaml: and 249,980 more (250,000 errors and 0 warnings in all; the first 20 are shown)\n"), "{}", out.lines().last().unwrap());
}

/// 20,000 copies of one address space in a vnet (a 260 KB file): one
/// error per copy, not per pair, found by a sort and a sweep.
#[test]
fn overlapping_address_spaces_are_not_compared_pairwise() {
    let n = 20_000;
    let mut text = format!("{HEAD}  - name: v\n    addressSpace:\n");
    for _ in 0..n {
        text += "      - 10.0.0.0/16\n";
    }
    let d = load_str("t.yaml", &text).unwrap_err();
    assert_eq!(d.error_count(), n - 1);
    assert_eq!(d.items.len(), 20);
    let first = &d.items[0];
    assert_eq!((first.loc.line, first.loc.col), (6, 9), "the second copy");
    assert_eq!(
        first.message,
        "address space 10.0.0.0/16 of vnet 'v' overlaps 10.0.0.0/16"
    );
}

/// Two peered vnets with 5,000 identical address spaces each: one error per
/// peering, naming the first pair and how many more overlap.
#[test]
fn overlapping_peered_vnets_give_one_error_per_peering() {
    let n = 5_000;
    let mut text = String::from(HEAD);
    for v in ["a", "b"] {
        text += &format!("  - name: {v}\n    addressSpace:\n");
        for i in 0..n {
            text += &format!("      - 10.{}.{}.0/24\n", i / 256, i % 256);
        }
    }
    text += "peerings:\n  - { from: a, to: b }\n  - { from: b, to: a }\n";
    let d = load_str("t.yaml", &text).unwrap_err();
    let peering_errors: Vec<_> = d
        .errors()
        .filter(|e| e.message.starts_with("peered vnets"))
        .collect();
    assert_eq!(peering_errors.len(), 2, "{d}");
    assert_eq!(
        peering_errors[0].message,
        format!("peered vnets 'a' and 'b' have overlapping address spaces (10.0.0.0/24 and 10.0.0.0/24); {} more overlapping address spaces", n - 1)
    );
    let peerings_line = text.lines().position(|l| l == "peerings:").unwrap() as u32 + 1;
    assert_eq!(peering_errors[0].loc.line, peerings_line + 1);
    assert_eq!(peering_errors[1].loc.line, peerings_line + 2);
}

/// 20,000 subnets all on one prefix: one overlap error per later subnet.
#[test]
fn overlapping_subnets_are_not_compared_pairwise() {
    let n = 20_000;
    let mut text = format!("{HEAD}  - name: v\n    addressSpace: [10.0.0.0/8]\n    subnets:\n");
    for i in 0..n {
        text += &format!("      - {{ name: s{i}, addressPrefix: 10.0.0.0/24 }}\n");
    }
    let d = load_str("t.yaml", &text).unwrap_err();
    assert_eq!(d.error_count(), n - 1);
    assert_eq!(
        d.items[0].message,
        "subnet 's1' (10.0.0.0/24) overlaps subnet 's0' (10.0.0.0/24)"
    );
    assert_eq!(d.items[0].loc.line, 7);
}

/// 20,000 NICs naming unknown subnets among 20,000 defined ones: the list
/// of names in each message is built once and cut to twelve.
#[test]
fn unknown_references_do_not_list_every_name() {
    let n = 20_000;
    let mut text = format!("{HEAD}  - name: v\n    addressSpace: [10.0.0.0/8]\n    subnets:\n");
    for i in 0..n {
        text += &format!(
            "      - {{ name: s{i}, addressPrefix: 10.{}.{}.0/24 }}\n",
            i / 256,
            i % 256
        );
    }
    text += "nics:\n";
    for i in 0..n {
        text += &format!("  - {{ name: n{i}, subnet: v/none{i}, privateIpAddress: 10.0.0.4 }}\n");
    }
    let d = load_str("t.yaml", &text).unwrap_err();
    assert_eq!(d.error_count(), n);
    let m = &d.items[0].message;
    assert!(
        m.starts_with("unknown subnet 'v/none0' (defined: v/s0, v/s1, v/s10, v/s100"),
        "{m}"
    );
    assert!(m.ends_with(&format!(", ... ({n} in all))")), "{m}");
}

/// 20,000 one-sided peerings: each looks for its peering back in a map.
#[test]
fn one_sided_peerings_are_found_in_linear_time() {
    let n = 20_000;
    let mut text = String::from(HEAD);
    for i in 0..n {
        text += &format!(
            "  - {{ name: v{i}, addressSpace: [10.{}.{}.0/24] }}\n",
            i / 256,
            i % 256
        );
    }
    text += "peerings:\n";
    for i in 1..n {
        text += &format!("  - {{ from: v{i}, to: v0 }}\n");
    }
    let v = load_str("t.yaml", &text).expect("one-sided peerings are warnings");
    assert_eq!(v.warnings.warning_count(), n - 1);
    assert_eq!(v.warnings.items.len(), 20);
}

/// An endless pipe stops one byte past the limit, located where it crossed.
#[test]
fn endless_input_stops_at_the_limit() {
    let limits = Limits {
        max_input_bytes: 1 << 20,
        ..Limits::default()
    };
    let e = read_text(std::io::repeat(b'a'), &limits).unwrap_err();
    assert!(
        e.message.contains("larger than 1048576 bytes"),
        "{}",
        e.message
    );
    assert_eq!((e.loc.line, e.loc.col), (1, (1 << 20) + 1));
    // Over several lines the location counts lines.
    let e = read_text(
        std::io::repeat(b'\n').take(5).chain(std::io::repeat(b'b')),
        &limits,
    )
    .unwrap_err();
    assert_eq!((e.loc.line, e.loc.col), (6, (1 << 20) - 5 + 1));
}

/// `/dev/zero` claims no size and never ends: its first byte is refused.
#[test]
fn dev_zero_is_refused_at_once() {
    let zero = Path::new("/dev/zero");
    if !zero.exists() {
        return;
    }
    let d = load_with(zero, &Limits::default()).unwrap_err();
    let e = single_error(&d, "found a NUL byte");
    assert_eq!((e.loc.line, e.loc.col), (1, 1));
}

#[test]
fn invalid_utf8_is_located() {
    let e = read_text(&b"version: 1\nname: ab\xff\n"[..], &Limits::default()).unwrap_err();
    assert!(e.message.contains("expected UTF-8 text"));
    assert_eq!((e.loc.line, e.loc.col), (2, 9));
}

/// A (too small) subnet at the top of the address space: the reserved-address
/// arithmetic must not overflow past 255.255.255.255.
#[test]
fn subnet_at_the_top_of_the_address_space() {
    let text = format!(
        "{HEAD}  - name: v\n    addressSpace: [255.255.255.0/24]\n    subnets:\n      - {{ name: s, addressPrefix: 255.255.255.252/30 }}\nnics:\n  - {{ name: n, subnet: v/s, privateIpAddress: 255.255.255.254 }}\n"
    );
    let d = load_str("t.yaml", &text).unwrap_err();
    let msgs: Vec<&str> = d.errors().map(|e| e.message.as_str()).collect();
    assert_eq!(msgs.len(), 2, "{d}");
    assert!(msgs[0].contains("255.255.255.252/30 is smaller than Azure's smallest subnet, /29"));
    assert!(msgs[1].starts_with(
        "NIC 'n' address 255.255.255.254 is reserved by Azure in subnet 255.255.255.252/30"
    ));
}

/// The YAML scanner buffers a whole flow collection before yielding a node
/// (about 350 bytes an entry), so `[0, 0, ...]` is bounded before parsing,
/// by its `,` `[` `{` characters: the error is at the first one over.
#[test]
fn flow_entries_are_bounded_before_parsing() {
    let limits = Limits {
        max_flow_entries: 1000,
        ..Limits::default()
    };
    let text = format!(
        "version: 1\nname: x\nsites: [{}]\n",
        vec!["0"; 2000].join(",")
    );
    let d = rejected(&text, &limits);
    let e = single_error(&d, "a flow-style collection has more than 1000 entries");
    // Line 3 is `sites: [0,0,...`: the '[' at column 8 is the first, and the
    // k-th ',' is at column 8 + 2k; the 1,001st indicator is comma 1,000.
    assert_eq!((e.loc.line, e.loc.col), (3, 8 + 2 * 1000));
    assert_eq!(char_at(&text, e.loc.line, e.loc.col), ',');
}

/// The bound is per outermost flow collection: many small flow mappings (a generated estate
/// writes one per rule) are as many small collections, and the file is accepted.
#[test]
fn many_small_flow_collections_are_not_refused_for_their_total() {
    let limits = Limits {
        max_flow_entries: 1000,
        ..Limits::default()
    };
    let mut text =
        String::from("version: 1\nname: x\n# a comment with [ an open bracket\nsites:\n");
    for i in 0..600 {
        // 4 indicators each ({ and three commas), 2,400 in all: over 1,000 in total, under it
        // in any one collection.
        text += &format!(
            "  - {{ name: \"s,{i}\", addressPrefixes: [10.{}.{}.0/24], bgp: {{ asn: 65001 }} }}\n",
            i / 250,
            i % 250
        );
    }
    if let Err(d) = load_str_with("t.yaml", &text, &limits) {
        panic!("refused: {:?}", d.items.first());
    }
}
