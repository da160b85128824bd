//! The topology document as a located tree: the edits a fix makes to it, and a block-YAML
//! writer, so the fixed topology is a file `validate` reads like any other.

use std::borrow::Cow;

use vnetsim_model::node::{Loc, Node, NodeKind};

pub fn scalar(text: impl Into<String>, quoted: bool) -> Node<'static> {
    Node {
        kind: NodeKind::Scalar {
            text: Cow::Owned(text.into()),
            quoted,
        },
        loc: Loc::default(),
    }
}

/// A quoted string (always a string, whatever it looks like).
pub fn s(text: impl Into<String>) -> Node<'static> {
    scalar(text, true)
}

/// A plain scalar: a number or a boolean.
pub fn plain(text: impl ToString) -> Node<'static> {
    scalar(text.to_string(), false)
}

pub fn seq<'t>(items: Vec<Node<'t>>) -> Node<'t> {
    Node {
        kind: NodeKind::Seq(items),
        loc: Loc::default(),
    }
}

pub fn map<'t>(entries: Vec<(&str, Node<'t>)>) -> Node<'t> {
    Node {
        kind: NodeKind::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.to_string()), Loc::default(), v))
                .collect(),
        ),
        loc: Loc::default(),
    }
}

pub fn text<'a>(n: &'a Node<'_>) -> Option<&'a str> {
    match &n.kind {
        NodeKind::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

pub fn get<'a, 't>(n: &'a Node<'t>, key: &str) -> Option<&'a Node<'t>> {
    match &n.kind {
        NodeKind::Map(m) => m.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v),
        _ => None,
    }
}

pub fn get_mut<'a, 't>(n: &'a mut Node<'t>, key: &str) -> Option<&'a mut Node<'t>> {
    match &mut n.kind {
        NodeKind::Map(m) => m.iter_mut().find(|(k, _, _)| k == key).map(|(_, _, v)| v),
        _ => None,
    }
}

/// Sets `key` of a mapping (replacing its value, or appending the key).
pub fn set<'t>(n: &mut Node<'t>, key: &str, v: Node<'t>) -> bool {
    let NodeKind::Map(m) = &mut n.kind else {
        return false;
    };
    match m.iter_mut().find(|(k, _, _)| k == key) {
        Some(e) => e.2 = v,
        None => m.push((Cow::Owned(key.to_string()), Loc::default(), v)),
    }
    true
}

/// The list under `key`, created (or replacing a null) when missing.
pub fn list_mut<'a, 't>(n: &'a mut Node<'t>, key: &str) -> Option<&'a mut Vec<Node<'t>>> {
    let missing = match get(n, key) {
        None => true,
        Some(v) => v.is_null(),
    };
    if missing && !set(n, key, seq(Vec::new())) {
        return None;
    }
    match &mut get_mut(n, key)?.kind {
        NodeKind::Seq(v) => Some(v),
        _ => None,
    }
}

/// The item of the list under `key` whose `name` is `name`.
pub fn named_mut<'a, 't>(n: &'a mut Node<'t>, key: &str, name: &str) -> Option<&'a mut Node<'t>> {
    list_mut(n, key)?
        .iter_mut()
        .find(|x| get(x, "name").and_then(text) == Some(name))
}

/// The document as block YAML.
pub fn emit(root: &Node) -> String {
    let mut o = String::new();
    match &root.kind {
        NodeKind::Map(m) if !m.is_empty() => block(root, 0, &mut o),
        _ => {
            o.push_str(&scalar_text(root));
            o.push('\n');
        }
    }
    o
}

fn pad(o: &mut String, ind: usize) {
    o.extend(std::iter::repeat_n(' ', ind));
}

/// A non-empty collection, one entry a line, at indentation `ind`.
fn block(n: &Node, ind: usize, o: &mut String) {
    match &n.kind {
        NodeKind::Map(m) => {
            for (k, _, v) in m {
                pad(o, ind);
                o.push_str(&key_text(k));
                o.push(':');
                after_key(v, ind, o);
            }
        }
        NodeKind::Seq(items) => {
            for v in items {
                pad(o, ind);
                o.push('-');
                after_dash(v, ind, o);
            }
        }
        NodeKind::Scalar { .. } => {}
    }
}

fn inline(v: &Node) -> Option<String> {
    match &v.kind {
        NodeKind::Scalar { .. } => Some(scalar_text(v)),
        NodeKind::Seq(x) if x.is_empty() => Some("[]".into()),
        NodeKind::Map(x) if x.is_empty() => Some("{}".into()),
        _ => None,
    }
}

fn after_key(v: &Node, ind: usize, o: &mut String) {
    match inline(v) {
        Some(t) => {
            o.push(' ');
            o.push_str(&t);
            o.push('\n');
        }
        None => {
            o.push('\n');
            block(v, ind + 2, o);
        }
    }
}

fn after_dash(v: &Node, ind: usize, o: &mut String) {
    if let Some(t) = inline(v) {
        o.push(' ');
        o.push_str(&t);
        o.push('\n');
        return;
    }
    match &v.kind {
        NodeKind::Map(m) => {
            for (i, (k, _, x)) in m.iter().enumerate() {
                if i == 0 {
                    o.push(' ');
                } else {
                    pad(o, ind + 2);
                }
                o.push_str(&key_text(k));
                o.push(':');
                after_key(x, ind + 2, o);
            }
        }
        _ => {
            o.push('\n');
            block(v, ind + 2, o);
        }
    }
}

/// Plain when the text is unambiguous as written (names, numbers, booleans, prefixes),
/// double-quoted otherwise; a quoted scalar stays quoted (it is a string whatever it reads).
fn scalar_text(n: &Node) -> String {
    match &n.kind {
        NodeKind::Scalar {
            text,
            quoted: false,
        } if n.is_null() => {
            let _ = text;
            "null".into()
        }
        NodeKind::Scalar {
            text,
            quoted: false,
        } if safe_plain(text) => text.to_string(),
        NodeKind::Scalar { text, .. } => quote(text),
        _ => String::new(),
    }
}

fn key_text(k: &str) -> String {
    if safe_plain(k) {
        k.to_string()
    } else {
        quote(k)
    }
}

fn safe_plain(t: &str) -> bool {
    t.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-+".contains(c))
}

fn quote(t: &str) -> String {
    let mut o = String::with_capacity(t.len() + 2);
    o.push('"');
    for c in t.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                o.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The node as JSON (for the machine-readable patch): plain numbers and booleans typed.
pub fn to_json(n: &Node) -> serde_json::Value {
    use serde_json::Value;
    match &n.kind {
        NodeKind::Scalar { text, quoted } => {
            if *quoted {
                Value::String(text.to_string())
            } else if let Ok(i) = text.parse::<i64>() {
                Value::from(i)
            } else if text == "true" || text == "false" {
                Value::Bool(text == "true")
            } else if n.is_null() {
                Value::Null
            } else {
                Value::String(text.to_string())
            }
        }
        NodeKind::Seq(v) => Value::Array(v.iter().map(to_json).collect()),
        NodeKind::Map(m) => Value::Object(
            m.iter()
                .map(|(k, _, v)| (k.to_string(), to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer round-trips the bundled lab: same objects after a reload.
    #[test]
    fn emitted_lab_reloads_with_the_same_objects() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../traces/hub-spoke-lab.yaml"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let root = vnetsim_model::node::parse(&text).unwrap();
        let out = emit(&root);
        let a = vnetsim_model::load_str("lab", &text).unwrap();
        let b = vnetsim_model::load_str("lab", &out).unwrap_or_else(|d| panic!("{d}\n{out}"));
        let (a, b) = (a.topology(), b.topology());
        assert_eq!(a.nsgs.len(), b.nsgs.len());
        assert_eq!(a.peerings.len(), b.peerings.len());
        assert_eq!(
            a.firewalls[0].dnat_rules.len(),
            b.firewalls[0].dnat_rules.len()
        );
        let rules = |t: &vnetsim_model::types::Topology| {
            t.nsgs.iter().map(|n| n.rules.len()).collect::<Vec<_>>()
        };
        assert_eq!(rules(a), rules(b));
        assert_eq!(emit(&vnetsim_model::node::parse(&out).unwrap()), out);
    }

    /// Unresolved rules and a notModelled entry's VNet survive the writer.
    #[test]
    fn emitted_unresolved_rules_reload_the_same() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/unresolved.yaml"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let out = emit(&vnetsim_model::node::parse(&text).unwrap());
        let b = vnetsim_model::load_str("u", &out).unwrap_or_else(|d| panic!("{d}\n{out}"));
        let t = b.topology();
        let nsg = &t.nsgs[0].unresolved_rules[0];
        assert_eq!(nsg.name.value, "deny-storage-https");
        assert_eq!(nsg.unresolved[0].field, "destination");
        assert_eq!(
            nsg.unresolved[0].reason.value,
            "service tag 'Storage' has no address data"
        );
        let fw = &t.firewalls[0].network_rule_collections[0].unresolved_rules[0];
        assert_eq!(fw.name.value, "deny-fqdn");
        assert_eq!(fw.unresolved[0].field, "destination");
        let hub = t.not_modelled[0].vnet.as_ref().map(|v| v.value.as_str());
        assert_eq!(hub, Some("vnet-spoke"));
    }
}
