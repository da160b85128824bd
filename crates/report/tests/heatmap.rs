//! The heat map SVG: well-formed XML, one rect per cell with the right fill,
//! legend, captions and escaped labels.

use quick_xml::events::Event;
use quick_xml::Reader;
use vnetsim_report::heatmap::{CellClass, CellOutcome, Heatmap, MAX_LABEL_CHARS};

/// A parsed element: name, attributes, own text, children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
    fn walk<'a>(&'a self, out: &mut Vec<&'a Node>) {
        out.push(self);
        for c in &self.children {
            c.walk(out);
        }
    }
    fn all(&self) -> Vec<&Node> {
        let mut v = Vec::new();
        self.walk(&mut v);
        v
    }
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
    fn has_class(&self, c: &str) -> bool {
        self.attr("class")
            .is_some_and(|v| v.split(' ').any(|x| x == c))
    }
}

/// Parses the whole document; panics unless it is well-formed XML.
fn parse(svg: &str) -> Node {
    let mut r = Reader::from_str(svg);
    r.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = vec![Node::default()];
    let open = |e: &quick_xml::events::BytesStart| Node {
        name: e.name().as_ref().to_string(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.expect("attribute");
                let k = a.key.as_ref().to_string();
                let v = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .expect("attribute value")
                    .into_owned();
                (k, v)
            })
            .collect(),
        ..Node::default()
    };
    loop {
        match r.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(open(&e)),
            Event::Empty(e) => {
                let n = open(&e);
                stack.last_mut().unwrap().children.push(n);
            }
            Event::End(_) => {
                let n = stack.pop().unwrap();
                stack.last_mut().expect("balanced tags").children.push(n);
            }
            Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
            Event::GeneralRef(g) => {
                let name = g.xml10_content();
                let c = quick_xml::escape::resolve_predefined_entity(&name).expect("known entity");
                stack.last_mut().unwrap().text.push_str(c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    let mut doc = stack.pop().unwrap();
    assert_eq!(doc.children.len(), 1, "one root element");
    doc.children.pop().unwrap()
}

const LONG: &str = "subnet:vnet-spoke-042-production-westeurope/snet-application-tier";

fn sample() -> Heatmap {
    let names = ["nic:a&b", "pe:<svc>", LONG];
    let mut h = Heatmap::new("lab & <test>: reachability", names, names);
    h.add(0, 1, CellOutcome::Reachable);
    h.add(0, 1, CellOutcome::Reachable);
    h.add(0, 2, CellOutcome::Unreachable);
    h.add(1, 0, CellOutcome::NoReturn);
    h.add(1, 2, CellOutcome::Reachable);
    h.add(1, 2, CellOutcome::Unreachable);
    h.add_count(1, 2, CellOutcome::NoReturn, 2);
    h.add(2, 1, CellOutcome::Unreachable);
    h
}

fn cells(root: &Node) -> Vec<&Node> {
    root.all()
        .into_iter()
        .filter(|n| n.name == "rect" && n.has_class("cell"))
        .collect()
}

#[test]
fn one_rect_per_cell_with_the_expected_fill() {
    let h = sample();
    let svg = h.to_svg();
    let root = parse(&svg);
    assert_eq!(root.name, "svg");
    assert_eq!(root.attr("xmlns"), Some("http://www.w3.org/2000/svg"));
    let cells = cells(&root);
    assert_eq!(cells.len(), 9);
    let (g, r, o, m, e) = (
        CellClass::Reachable.fill(),
        CellClass::Unreachable.fill(),
        CellClass::NoReturn.fill(),
        CellClass::Mixed.fill(),
        CellClass::Empty.fill(),
    );
    assert_eq!(g, "#1a9850");
    assert_eq!(r, "#d73027");
    assert_eq!(o, "#fd8d3c");
    let fills: Vec<&str> = cells.iter().map(|c| c.attr("fill").unwrap()).collect();
    assert_eq!(fills, vec![e, g, r, o, e, m, e, r, e]);
    // All distinct.
    let mut all = vec![g, r, o, m, e];
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 5);
    // The hatch pattern the empty cells refer to exists.
    assert!(root
        .all()
        .iter()
        .any(|n| n.name == "pattern" && n.attr("id") == Some("hatch")));
    // Cells are squares laid out in a grid.
    let w: f64 = cells[0].attr("width").unwrap().parse().unwrap();
    let x = |i: usize| cells[i].attr("x").unwrap().parse::<f64>().unwrap();
    let y = |i: usize| cells[i].attr("y").unwrap().parse::<f64>().unwrap();
    assert_eq!(cells[0].attr("height"), cells[0].attr("width"));
    assert!((x(1) - x(0) - w).abs() < 0.01 && (y(3) - y(0) - w).abs() < 0.01);
}

#[test]
fn tooltips_carry_full_names_and_counts() {
    let root = parse(&sample().to_svg());
    let cells = cells(&root);
    let tip = |i: usize| cells[i].child("title").expect("title").text.clone();
    assert_eq!(
        tip(1),
        "nic:a&b → pe:<svc>\nreachable 2, unreachable 0, no-return 0 (of 2)"
    );
    assert_eq!(
        tip(5),
        format!("pe:<svc> → {LONG}\nreachable 1, unreachable 1, no-return 2 (of 4)")
    );
    assert_eq!(tip(0), "nic:a&b → nic:a&b\nnot tested");
}

#[test]
fn labels_are_escaped_and_long_ones_truncated() {
    let h = sample();
    let svg = h.to_svg();
    assert!(svg.contains("nic:a&amp;b") && svg.contains("pe:&lt;svc&gt;"));
    assert!(!svg.contains("a&b") && !svg.contains("<svc>"));
    let root = parse(&svg);
    for group in ["row-labels", "col-labels"] {
        let g = root
            .all()
            .into_iter()
            .find(|n| n.name == "g" && n.has_class(group))
            .expect(group);
        let texts: Vec<&Node> = g.children.iter().filter(|c| c.name == "text").collect();
        assert_eq!(texts.len(), 3);
        assert_eq!(texts[0].text, "nic:a&b");
        assert_eq!(texts[1].text, "pe:<svc>");
        let cut = &texts[2].text;
        assert_eq!(cut.chars().count(), MAX_LABEL_CHARS);
        assert!(cut.ends_with('…') && LONG.starts_with(cut.trim_end_matches('…')));
        assert_eq!(texts[2].child("title").unwrap().text, LONG);
        let size: f64 = g.attr("font-size").unwrap().parse().unwrap();
        assert!((8.0..=13.0).contains(&size));
    }
}

#[test]
fn legend_title_and_captions() {
    let root = parse(&sample().to_svg());
    let texts: Vec<String> = root
        .all()
        .iter()
        .filter(|n| n.name == "text")
        .map(|n| n.text.clone())
        .collect();
    assert!(
        texts.iter().any(|t| t == "lab & <test>: reachability"),
        "{texts:?}"
    );
    assert_eq!(
        root.child("title").unwrap().text,
        "lab & <test>: reachability"
    );
    assert!(texts.iter().any(|t| t.contains("source")));
    assert!(texts.iter().any(|t| t.contains("destination")));
    let legend = root
        .all()
        .into_iter()
        .find(|n| n.name == "g" && n.has_class("legend"))
        .expect("legend");
    let items: Vec<&str> = legend
        .children
        .iter()
        .filter(|c| c.name == "text")
        .map(|c| c.text.as_str())
        .collect();
    assert_eq!(
        items,
        vec![
            "all reachable (1)",
            "all unreachable (2)",
            "all no-return (1)",
            "mixed (bar: share of each outcome) (1)",
            "not tested (4)"
        ]
    );
    let swatches: Vec<&str> = legend
        .children
        .iter()
        .filter(|c| c.name == "path")
        .map(|c| c.attr("fill").unwrap())
        .collect();
    assert_eq!(
        swatches,
        // No cell of the sample is not-modelled: that class is left out of the legend.
        CellClass::ALL
            .iter()
            .filter(|c| **c != CellClass::NotModelled)
            .map(|c| c.fill())
            .collect::<Vec<_>>()
    );
}

#[test]
fn output_is_deterministic() {
    let a = sample().to_svg();
    let b = sample().to_svg();
    assert_eq!(a, b);
    let mut v = Vec::new();
    sample().write_svg(&mut v).unwrap();
    assert_eq!(v, a.as_bytes());
}

#[test]
fn large_matrix_scales_down_and_stays_legible() {
    let n = 200;
    let names: Vec<String> = (0..n).map(|i| format!("nic:vm-{i:03}")).collect();
    let mut h = Heatmap::new("big", names.clone(), names);
    for i in 0..n {
        for j in 0..n {
            if i != j {
                h.add(
                    i,
                    j,
                    if (i + j) % 3 == 0 {
                        CellOutcome::Unreachable
                    } else {
                        CellOutcome::Reachable
                    },
                );
            }
        }
    }
    let root = parse(&h.to_svg());
    let cells = cells(&root);
    assert_eq!(cells.len(), n * n);
    let side: f64 = cells[0].attr("width").unwrap().parse().unwrap();
    assert!((10.0..=16.0).contains(&side), "cell side {side}");
    let g = root
        .all()
        .into_iter()
        .find(|n| n.name == "g" && n.has_class("row-labels"))
        .unwrap();
    let size: f64 = g.attr("font-size").unwrap().parse().unwrap();
    assert!(
        size >= 8.0 && size <= side,
        "font {size} for cells of {side}"
    );
    let fills = |c: CellClass| {
        cells
            .iter()
            .filter(|r| r.attr("fill") == Some(c.fill()))
            .count()
    };
    assert_eq!(fills(CellClass::Empty), n);
    assert_eq!(
        fills(CellClass::Reachable) + fills(CellClass::Unreachable),
        n * n - n
    );
}

#[test]
fn small_matrix_has_big_cells_and_capped_font() {
    let mut h = Heatmap::new("small", ["a", "b"], ["c"]);
    h.add(0, 0, CellOutcome::Reachable);
    let root = parse(&h.to_svg());
    let side: f64 = cells(&root)[0].attr("width").unwrap().parse().unwrap();
    assert!(side >= 30.0, "cell side {side}");
    let g = root
        .all()
        .into_iter()
        .find(|n| n.name == "g" && n.has_class("col-labels"))
        .unwrap();
    assert!(g.attr("font-size").unwrap().parse::<f64>().unwrap() <= 13.0);
}

#[test]
fn empty_matrix_is_still_a_document() {
    let h = Heatmap::new("nothing", Vec::<String>::new(), Vec::<String>::new());
    let root = parse(&h.to_svg());
    assert_eq!(root.name, "svg");
    assert!(cells(&root).is_empty());
}

#[test]
#[should_panic(expected = "outside a 2 x 1 matrix")]
fn out_of_range_cell_panics() {
    let mut h = Heatmap::new("t", ["a", "b"], ["c"]);
    h.add(0, 1, CellOutcome::Reachable);
}
