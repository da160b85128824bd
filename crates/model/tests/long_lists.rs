//! Long lists (NSGs, VNets, NICs, private endpoints) are decoded in parts on several threads:
//! every object is decoded, in the order written, and a problem in any part is reported where
//! it is, as one thread reports it (the list is then decoded again on one thread).

use vnetsim_model::generate::{generate, Params};
use vnetsim_model::load_str;

fn estate() -> String {
    // 201 VNets: 201 NSGs, 201 VNets and 1,001 NICs, long enough to be decoded in parts.
    generate(&Params {
        vnets: 201,
        subnets_per_vnet: 2,
        rules_per_nsg: 5,
        private_endpoints: 300,
        seed: 5,
    })
    .unwrap()
}

/// The names of a list's objects in the text, in order: each `- { name: X` (or `- name: X`)
/// line under the top-level `key:`.
fn names_in_text(text: &str, key: &str) -> Vec<String> {
    let start = text.find(&format!("\n{key}:\n")).expect("the list") + key.len() + 3;
    let body = &text[start..];
    let end = body.find("\n\n").or_else(|| {
        body.match_indices('\n')
            .find(|(i, _)| body[i + 1..].starts_with(|c: char| c.is_ascii_alphabetic()))
            .map(|(i, _)| i)
    });
    let body = &body[..end.unwrap_or(body.len())];
    body.lines()
        .filter_map(|l| {
            l.strip_prefix("  - { name: ")
                .or(l.strip_prefix("  - name: "))
        })
        .map(|l| l.split([',', ' ', '}']).next().unwrap().to_string())
        .collect()
}

#[test]
fn every_object_of_a_long_list_is_decoded_in_order() {
    let text = estate();
    let v = load_str("estate", &text).unwrap_or_else(|d| panic!("{d}"));
    let t = v.topology();
    let nsgs: Vec<String> = t.nsgs.iter().map(|n| n.name.value.clone()).collect();
    assert_eq!(nsgs, names_in_text(&text, "nsgs"));
    assert_eq!(nsgs.len(), 201);
    let vnets: Vec<String> = t.vnets.iter().map(|n| n.name.value.clone()).collect();
    assert_eq!(vnets, names_in_text(&text, "vnets"));
    let nics: Vec<String> = t.nics.iter().map(|n| n.name.value.clone()).collect();
    assert_eq!(nics, names_in_text(&text, "nics"));
    assert!(nics.len() > 400);
    // Each NSG's rules, in the order written, with their priorities.
    for n in &t.nsgs {
        let prio: Vec<u32> = n.rules.iter().map(|r| r.priority.value).collect();
        assert_eq!(
            prio,
            (100..100 + prio.len() as u32).collect::<Vec<_>>(),
            "{}",
            n.name.value
        );
    }
}

#[test]
fn a_problem_late_in_a_long_list_is_reported_where_it_is() {
    let text = estate();
    // The 170th NSG's first rule gets a priority Azure refuses (at most 4096), and the 180th
    // a duplicate rule name: two errors in the last part of the list.
    let nth = |n: usize, needle: &str| {
        let at = text.match_indices("\n  - name: nsg-").nth(n).unwrap().0;
        at + text[at..].find(needle).unwrap()
    };
    let (a, b) = (nth(170, "priority: 100,"), nth(180, "name: r1,"));
    let mut bad = text.clone();
    bad.replace_range(b..b + "name: r1,".len(), "name: r0,");
    bad.replace_range(a..a + "priority: 100,".len(), "priority: 9999,");
    let line_of = |at: usize| 1 + bad[..at].matches('\n').count() as u32;
    let Err(d) = load_str("estate", &bad) else {
        panic!("two errors expected")
    };
    let errors: Vec<_> = d.errors().collect();
    assert!(
        errors
            .iter()
            .any(|e| e.loc.line == line_of(a) && e.message.contains("priority")),
        "{d}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.loc.line == line_of(b) && e.message.contains("r0")),
        "{d}"
    );
}
