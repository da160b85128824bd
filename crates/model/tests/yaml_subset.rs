//! The subset parser in front of the general YAML parser: wherever it gives a tree, the tree
//! (every key, value, quoting and location) is the general parser's, and it declines what it
//! does not read, so that the general parser decides (and reports every error).
//!
//! The reference is `saphyr-parser`, a YAML 1.2 parser that passes the YAML test suite; the
//! documents are the repository's own topologies, generated fabrics, and snippets written to
//! sit on each edge of the subset.

use std::path::{Path, PathBuf};

use vnetsim_model::generate::{generate, Params};
use vnetsim_model::node::{parse_general, parse_subset, parse_with};
use vnetsim_model::Limits;

/// Checks one document; returns whether the subset parser read it.
fn agree(name: &str, text: &str) -> bool {
    let limits = Limits::default();
    let general = parse_general(text, &limits);
    let Some(subset) = parse_subset(text, &limits) else {
        return false;
    };
    match general {
        Ok(g) => assert_eq!(
            format!("{subset:?}"),
            format!("{g:?}"),
            "{name}: the subset parser's tree differs from the general parser's"
        ),
        Err(e) => panic!(
            "{name}: the subset parser read a document the general parser refuses at {}: {}",
            e.loc, e.message
        ),
    }
    true
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

#[test]
fn the_repositorys_topologies_parse_alike() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for d in ["traces", "tests/fixtures", "docs", "crates"] {
        yaml_files(&root.join(d), &mut files);
    }
    assert!(files.len() > 20, "found only {} YAML files", files.len());
    let mut read = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        read += agree(&f.display().to_string(), &text) as usize;
    }
    // The bundled lab is in the subset: the fast path is the one users' files take.
    let lab = std::fs::read_to_string(root.join("traces/hub-spoke-lab.yaml")).unwrap();
    assert!(agree("hub-spoke-lab.yaml", &lab));
    assert!(
        read * 2 > files.len(),
        "only {read} of {} files read by the subset",
        files.len()
    );
}

#[test]
fn generated_fabrics_are_in_the_subset_and_parse_alike() {
    for (vnets, seed) in [(3, 1), (21, 7), (201, 1)] {
        let text = generate(&Params {
            vnets,
            subnets_per_vnet: 4,
            rules_per_nsg: 20,
            private_endpoints: vnets,
            seed,
        })
        .unwrap();
        assert!(
            agree(&format!("generate --vnets {vnets}"), &text),
            "generate --vnets {vnets}: outside the subset"
        );
    }
}

/// Documents on the edges of the subset: each is either read alike or declined.
const EDGES: &[&str] = &[
    "a: 1\n",
    "a:   v1   # c\nb: # c\nc:\n",
    "a: [x, y, ]\nb: {p: 1,}\nc: []\nd: {}\n",
    "e: {q:1, \"r\":2}\n",
    "e: {\"r\":2, 's': 3}\n",
    "f: a,b]\ng: 'it''s'\nh : x\n",
    "i:\n- 1\n- k: v\n  l: w\n-   m: n\nz: 2\n",
    "j: - x\n",
    "k: a: b\n",
    "l: http://example.com:80/x\n",
    "m: a #b\nn: a#b\n",
    "o:\n  - - a\n",
    "p:\n  -\n    a: b\n  - c\n",
    "q: \"a\\tb\"\n",
    "r: 'multi\n  line'\n",
    "s: plain\n  continued\n",
    "t: &x 1\nu: *x\n",
    "v: !!str 1\n",
    "w: |\n  block\n",
    "---\nx: 1\n",
    "y: 1\n...\n",
    "%YAML 1.2\n---\nz: 1\n",
    "  indented: 1\n  root: 2\n",
    "a: 1\n b: 2\n",
    "a:\n  b: 1\n c: 2\n",
    "a:\n  - 1\n  b: 2\n",
    "- 1\n- 2\n",
    "a: [1, [2, 3], {b: c}]\n",
    "a: {b: [1, 2], c: {d: e}}\n",
    "a: [b: c]\n",
    "a: {b, c}\n",
    "a: {b:}\n",
    "a: {b: }\n",
    "a: [-1, -x, ?y, :z]\n",
    "a: -1\nb: ?x\nc: :y\n",
    "a: [1, 2\n",
    "a: [1, 2] b\n",
    "a: [1, 2]#c\n",
    "a: \"x\" # c\n",
    "a: \"x\"y\n",
    "\"quoted key\": 1\n'single': 2\n",
    "a: 1\na: 2\n",
    "a: ~\nb: null\nc: ''\nd: \"\"\n",
    "a: 'x' : y\n",
    "a:\n\n  # comment\n\n  b: 1\n# end\n",
    "a:\n- b: 1\n  c:\n  - 2\n  d: 3\n",
    "a: x\r\n",
    "a:\tx\n",
    "a: caf\u{e9}\n",
    "# only a comment\n",
    "",
    "a: 1 # c\n  # indented comment\nb: 2",
    "a: [x,y]\n",
    "a: [ x , y ]\n",
    "a: { x : 1 }\n",
    "a: [\"x\", 'y''z']\n",
    "a: [x #c]\n",
    "a: [x] # c\n",
    "a: @x\n",
    "a: `x\n",
    "? a\n: b\n",
    "a: b\n- c\n",
    "- a: 1\n  - b\n",
    "- a\n  b\n",
    "key with spaces: value with spaces\n",
    "a: b:c\n",
    "a: {b: c}, d\n",
    "a: { b: 1,\n    c: 2 }\n",
    "a: [\n  1, 2\n]\n",
    "- { a: 1,\n  b: 2 }\n",
    "- { a: 1,\n    b: 2 }\n- c\n",
    "a: {b: 1, # c\n   c: 2}\n",
    "a: [x,\n\n   y]\n",
    "a: [x\n   , y]\n",
    "a: {b: 1,\n---\n}\n",
    "a: {b:\n     1}\n",
    "a: [\"x\",\n     'y']\n",
    // Found by the fuzzer: a plain key's `:` right before `[` is an error in a flow mapping.
    "a: { prefix: 1, asPath:[ 65001] }\n",
    "a: {\"b\":[1]}\n",
    "a: {b:,}\n",
    "a: {\"b\":,}\n",
    "a: {b:{c: 1}}\n",
    // Found by the fuzzer: after a space, `-` before a flow indicator is an error.
    "a: { name: vm -,csubnet: x }\n",
    "a: [x -]\n",
    "a: [x-, y]\n",
    "a: {b\n  : 1}\n",
    "a: {\"b\"\n  : 1}\n",
];

#[test]
fn edges_of_the_subset_parse_alike_or_are_declined() {
    let mut read = 0;
    for (i, text) in EDGES.iter().enumerate() {
        read += agree(&format!("edge {i} {text:?}"), text) as usize;
    }
    // Most edges are inside the subset, so that the comparison above is not empty.
    assert!(read >= 30, "only {read} edges read by the subset");
}

/// What the subset declines is still parsed, by the general parser, with its errors.
#[test]
fn declined_documents_keep_the_general_parsers_errors() {
    let limits = Limits::default();
    for text in ["j: - x\n", "a: [1, 2\n", "a: 1\n b: 2\n"] {
        assert!(parse_subset(text, &limits).is_none(), "{text:?}");
        let general = parse_general(text, &limits).unwrap_err();
        let via = parse_with(text, &limits).unwrap_err();
        assert_eq!((general.loc, general.message), (via.loc, via.message));
    }
    // A limit refused in the subset is reported as the general parser reports it.
    let tight = Limits {
        max_nodes: 5,
        ..Limits::default()
    };
    let text = "a: 1\nb: 2\nc: 3\n";
    let via = parse_with(text, &tight).unwrap_err();
    let general = parse_general(text, &tight).unwrap_err();
    assert_eq!(
        (via.loc, via.message.clone()),
        (general.loc, general.message)
    );
    assert!(via.message.contains("max_nodes"), "{}", via.message);
}

/// Nesting past 256 levels goes to the general parser, whatever depth the limits allow: the
/// subset parser recurses once per level, and the general parser refuses such a document with
/// a located error of its own (its recursion limit), as it did before the subset parser.
#[test]
fn deep_nesting_goes_to_the_general_parser() {
    let deep = |n: usize| format!("a: {}1{}\n", "[".repeat(n), "]".repeat(n));
    let limits = Limits {
        max_depth: 100_000,
        max_flow_entries: 100_000,
        ..Limits::default()
    };
    assert!(agree("nesting 200", &deep(200)));
    let text = deep(5_000);
    assert!(parse_subset(&text, &limits).is_none());
    let via = parse_with(&text, &limits).unwrap_err();
    let general = parse_general(&text, &limits).unwrap_err();
    assert_eq!((via.loc, via.message), (general.loc, general.message));
}
