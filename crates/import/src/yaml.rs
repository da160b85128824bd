//! A small YAML writer for the topology: block mappings and sequences,
//! strings always double-quoted, booleans and integers bare.

use std::fmt::Write;

#[derive(Clone, Debug)]
pub enum Y {
    Str(String),
    /// Written as is (booleans, integers).
    Raw(String),
    Seq(Vec<Y>),
    Map(Vec<(String, Y)>),
}

impl Y {
    pub fn s(v: impl Into<String>) -> Y {
        Y::Str(v.into())
    }
    pub fn b(v: bool) -> Y {
        Y::Raw(v.to_string())
    }
    pub fn n(v: impl std::fmt::Display) -> Y {
        Y::Raw(v.to_string())
    }
    pub fn strs<I: IntoIterator<Item = S>, S: Into<String>>(v: I) -> Y {
        Y::Seq(v.into_iter().map(|s| Y::Str(s.into())).collect())
    }
}

/// A mapping under construction, keys in insertion order.
#[derive(Default)]
pub struct M(pub Vec<(String, Y)>);

impl M {
    pub fn new() -> M {
        M(Vec::new())
    }
    pub fn put(mut self, k: &str, v: Y) -> M {
        self.0.push((k.to_string(), v));
        self
    }
    pub fn opt(self, k: &str, v: Option<Y>) -> M {
        match v {
            Some(v) => self.put(k, v),
            None => self,
        }
    }
    pub fn y(self) -> Y {
        Y::Map(self.0)
    }
}

/// Quotes a string for YAML (double-quoted style).
pub fn quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn scalar(v: &Y) -> Option<String> {
    match v {
        Y::Str(s) => Some(quote(s)),
        Y::Raw(r) => Some(r.clone()),
        Y::Seq(v) if v.is_empty() => Some("[]".into()),
        Y::Map(v) if v.is_empty() => Some("{}".into()),
        Y::Seq(v) if v.iter().all(|x| matches!(x, Y::Str(_) | Y::Raw(_))) => {
            let items: Vec<String> = v.iter().filter_map(scalar).collect();
            Some(format!("[{}]", items.join(", ")))
        }
        _ => None,
    }
}

/// Writes a mapping's members at `indent`.
pub fn write_map(out: &mut String, m: &[(String, Y)], indent: usize) {
    for (k, v) in m {
        let pad = " ".repeat(indent);
        match scalar(v) {
            Some(s) => {
                let _ = writeln!(out, "{pad}{k}: {s}");
            }
            None => {
                let _ = writeln!(out, "{pad}{k}:");
                write_value(out, v, indent + 2);
            }
        }
    }
}

fn write_value(out: &mut String, v: &Y, indent: usize) {
    match v {
        Y::Map(m) => write_map(out, m, indent),
        Y::Seq(items) => {
            for it in items {
                write_item(out, it, indent);
            }
        }
        other => {
            let _ = writeln!(
                out,
                "{}{}",
                " ".repeat(indent),
                scalar(other).unwrap_or_default()
            );
        }
    }
}

fn write_item(out: &mut String, it: &Y, indent: usize) {
    let pad = " ".repeat(indent);
    if let Some(s) = scalar(it) {
        let _ = writeln!(out, "{pad}- {s}");
        return;
    }
    let mut body = String::new();
    write_value(&mut body, it, indent + 2);
    // Put the first line after the dash.
    let trimmed = body.trim_start_matches(' ');
    let _ = write!(out, "{pad}- {trimmed}");
}
