//! A large document's largest top-level list is read by several parsers at once: the tree is
//! the one a single parser gives (every key, value, quoting and location), at any number of
//! parsers, and where a cut would not fall on an item boundary (or the limits refuse the
//! document) the answer is the single parser's too.
//!
//! The reference is the single subset parser, which `yaml_subset.rs` checks against the
//! general YAML parser.

use vnetsim_model::generate::{generate, Params};
use vnetsim_model::node::parse_subset_in;
use vnetsim_model::Limits;

/// The trees at 1, 2, 3 and 8 parsers, as text; panics unless they are all equal.
fn same_at_any_parts(name: &str, text: &str, limits: &Limits) -> Option<String> {
    let one = parse_subset_in(text, limits, 1).map(|t| format!("{t:?}"));
    for parts in [2, 3, 8] {
        let split = parse_subset_in(text, limits, parts).map(|t| format!("{t:?}"));
        assert!(
            split == one,
            "{name}: the tree read by {parts} parsers differs from one parser's ({} vs {})",
            split.as_ref().map_or("declined", |_| "a tree"),
            one.as_ref().map_or("declined", |_| "a tree"),
        );
    }
    one
}

/// A list of `n` one-line items under `key` with `-` at `indent`, between two other keys.
fn doc(key: &str, indent: &str, n: usize, item: impl Fn(usize) -> String) -> String {
    let mut t = String::from("version: 1\nname: big\n");
    t.push_str(&format!("{key}:\n"));
    for i in 0..n {
        t.push_str(indent);
        t.push_str("- ");
        t.push_str(&item(i));
        t.push('\n');
    }
    t.push_str("tail: [a, b]\n");
    t
}

const ITEMS: usize = 60_000;

fn rule(i: usize) -> String {
    format!(
        "{{ name: r{i}, priority: {}, access: Allow, source: '*' }}",
        100 + i % 4000
    )
}

#[test]
fn a_generated_estate_reads_the_same_in_parts() {
    // 101 VNets of 200-rule NSGs: about 3.6 MB, nearly all of it the `nsgs` list.
    let text = generate(&Params {
        vnets: 101,
        subnets_per_vnet: 10,
        rules_per_nsg: 200,
        private_endpoints: 500,
        seed: 3,
    })
    .unwrap();
    assert!(text.len() > 3 << 20, "the estate is large enough to be cut");
    let tree = same_at_any_parts("generate --vnets 101", &text, &Limits::default());
    assert!(tree.is_some(), "the generated estate is in the subset");
}

#[test]
fn indented_and_indentless_lists_read_the_same_in_parts() {
    for indent in ["  ", "", "    "] {
        let text = doc("nsgs", indent, ITEMS, rule);
        let tree = same_at_any_parts(&format!("indent {:?}", indent), &text, &Limits::default());
        let tree = tree.expect("in the subset");
        // Every item is in the tree once, in order: the last one's name is there, once.
        assert_eq!(tree.matches("\"r59999\"").count(), 1);
    }
}

#[test]
fn items_of_several_lines_comments_and_a_missing_last_line_feed() {
    // Items that are block mappings over three lines, comment lines in column 0 between
    // items, blank lines, and the list last in a document without a final line feed.
    let mut text = String::from("version: 1\nnsgs:\n");
    for i in 0..ITEMS {
        text.push_str(&format!(
            "  - name: n{i}\n    rules:\n      - {{ name: x, priority: {} }}\n",
            100 + i % 4000
        ));
        if i % 1000 == 0 {
            text.push_str("# a comment in column 0\n\n   \n");
        }
    }
    text.push_str("  - name: last");
    let tree = same_at_any_parts("multi-line items", &text, &Limits::default());
    assert!(tree.expect("in the subset").contains("\"last\""));
}

#[test]
fn documents_one_parser_declines_are_declined_in_parts() {
    let cases = [
        // A multi-line double-quoted string inside an item: outside the subset.
        doc("nsgs", "  ", ITEMS, |i| match i {
            40_000 => "{ name: \"two\n  - lines\" }".to_string(),
            _ => rule(i),
        }),
        // An item line indented less than the list.
        doc("nsgs", "  ", ITEMS, |i| match i {
            45_000 => "{ name: a }\n b: c".to_string(),
            _ => rule(i),
        }),
        // A duplicate key in an item of a later part.
        doc("nsgs", "  ", ITEMS, |i| match i {
            50_000 => "{ name: a, name: b }".to_string(),
            _ => rule(i),
        }),
        // A tab in the last part: outside the subset's alphabet.
        doc("nsgs", "  ", ITEMS, |i| match i {
            59_000 => "{ name:\ta }".to_string(),
            _ => rule(i),
        }),
    ];
    for (k, text) in cases.iter().enumerate() {
        let tree = same_at_any_parts(&format!("case {k}"), text, &Limits::default());
        assert!(tree.is_none(), "case {k}: one parser declines it");
    }
    // The same key twice at the top level, the second a large list too.
    let twice = format!(
        "{}{}",
        doc("nsgs", "  ", ITEMS, rule),
        doc("nsgs", "  ", 10, rule)
    );
    let twice = twice.replacen("version: 1\nname: big\n", "", 1);
    assert!(same_at_any_parts("a key twice", &twice, &Limits::default()).is_none());
}

#[test]
fn the_node_limit_counts_every_part() {
    let text = doc("nsgs", "  ", ITEMS, rule);
    // Each item is 9 nodes (a mapping, 4 keys, 4 values): the whole list is over the
    // limit, any one part of it under.
    let limits = Limits {
        max_nodes: ITEMS * 9 - 1000,
        ..Limits::default()
    };
    assert!(same_at_any_parts("node limit", &text, &limits).is_none());
    let limits = Limits {
        max_nodes: ITEMS * 9 + 1000,
        ..Limits::default()
    };
    assert!(same_at_any_parts("node limit", &text, &limits).is_some());
}

/// The repository's own topologies, cut into parts of a few bytes (as the fuzzer's
/// differential target cuts them): wherever the parts give a tree it is the whole parser's,
/// and the multi-item lists of these files are in fact cut and read in parts.
#[test]
fn the_repository_s_topologies_cut_small_read_as_whole() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut files: Vec<_> = ["traces", "tests/fixtures"]
        .iter()
        .flat_map(|d| std::fs::read_dir(format!("{root}/{d}")).expect("folder"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{} topologies", files.len());
    let limits = Limits::default();
    let mut read_in_parts = 0;
    for p in &files {
        let text = std::fs::read_to_string(p).expect("topology");
        let whole = parse_subset_in(&text, &limits, 1).map(|t| format!("{t:?}"));
        for (parts, min) in [(2, 1), (3, 16), (8, 1), (5, 64)] {
            let (cut, was_cut) = vnetsim_model::node::parse_subset_cut(&text, &limits, parts, min);
            if let Some(cut) = cut.map(|t| format!("{t:?}")) {
                assert_eq!(Some(&cut), whole.as_ref(), "{}: {parts} parts", p.display());
                read_in_parts += was_cut as usize;
            }
        }
    }
    assert!(
        read_in_parts >= files.len(),
        "{read_in_parts} documents read in parts"
    );
}
