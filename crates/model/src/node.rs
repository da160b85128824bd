//! A located document tree: YAML (and JSON, which is parsed as YAML's flow
//! style) turned into nodes that remember where they came from, so every
//! later error can point at a line and column.

use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// A 1-based line and column in the input file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

impl Loc {
    fn from_span(span: &Span) -> Loc {
        Loc {
            line: span.start.line() as u32,
            col: span.start.col() as u32 + 1,
        }
    }
}

#[derive(Clone, Debug)]
pub enum NodeKind {
    /// A scalar with whether it was quoted (quoted scalars are always strings).
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys keep their own location for "unknown key" errors.
    Map(Vec<(String, Loc, Node)>),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub kind: NodeKind,
    pub loc: Loc,
}

impl Node {
    /// What the node is, in the words of an error message.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { text, quoted } => {
                if !quoted && is_null(text) {
                    "null"
                } else {
                    "a scalar"
                }
            }
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, quoted: false } if is_null(text))
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// A syntax error of the document itself.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub loc: Loc,
    pub message: String,
}

/// Upper bound on the nodes one document may expand to (aliases included),
/// so a small file cannot make the reader use unbounded memory.
const MAX_NODES: usize = 5_000_000;
/// Upper bound on nesting depth.
const MAX_DEPTH: usize = 256;

enum Frame {
    Seq(Loc, Vec<Node>, usize),
    Map(Loc, Vec<(String, Loc, Node)>, Option<(String, Loc)>, usize),
}

/// Parses one YAML (or JSON) document into a located tree.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: Vec<(usize, Node)> = Vec::new();
    let mut root: Option<Node> = None;
    let mut nodes: usize = 0;
    let mut docs = 0;

    while let Some(ev) = parser.next_event() {
        let (event, span) = ev.map_err(|e| SyntaxError {
            loc: Loc {
                line: e.marker().line() as u32,
                col: e.marker().col() as u32 + 1,
            },
            message: e.info().to_string(),
        })?;
        let loc = Loc::from_span(&span);
        let produced: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    return Err(SyntaxError {
                        loc,
                        message: "expected one document, found a second one ('---')".into(),
                    });
                }
                None
            }
            Event::Alias(id) => {
                let node = anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone());
                match node {
                    Some(n) => {
                        nodes += count(&n);
                        Some((n, 0))
                    }
                    None => {
                        return Err(SyntaxError {
                            loc,
                            message: "alias to an unknown anchor".into(),
                        })
                    }
                }
            }
            Event::Scalar(value, style, anchor, _tag) => {
                nodes += 1;
                let quoted = !matches!(style, ScalarStyle::Plain);
                Some((
                    Node {
                        kind: NodeKind::Scalar {
                            text: value.into_owned(),
                            quoted,
                        },
                        loc,
                    },
                    anchor,
                ))
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError {
                        loc,
                        message: "nesting deeper than 256 levels".into(),
                    });
                }
                stack.push(Frame::Seq(loc, Vec::new(), anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError {
                        loc,
                        message: "nesting deeper than 256 levels".into(),
                    });
                }
                stack.push(Frame::Map(loc, Vec::new(), None, anchor));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(l, items, anchor)) => {
                    nodes += 1;
                    Some((
                        Node {
                            kind: NodeKind::Seq(items),
                            loc: l,
                        },
                        anchor,
                    ))
                }
                _ => {
                    return Err(SyntaxError {
                        loc,
                        message: "unbalanced sequence".into(),
                    })
                }
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(l, entries, _, anchor)) => {
                    nodes += 1;
                    Some((
                        Node {
                            kind: NodeKind::Map(entries),
                            loc: l,
                        },
                        anchor,
                    ))
                }
                _ => {
                    return Err(SyntaxError {
                        loc,
                        message: "unbalanced mapping".into(),
                    })
                }
            },
        };
        if nodes > MAX_NODES {
            return Err(SyntaxError {
                loc,
                message: format!("document expands to more than {MAX_NODES} nodes (alias bomb?)"),
            });
        }
        let Some((node, anchor)) = produced else {
            continue;
        };
        if anchor != 0 {
            anchors.push((anchor, node.clone()));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(_, items, _)) => items.push(node),
            Some(Frame::Map(_, entries, pending, _)) => match pending.take() {
                None => match &node.kind {
                    NodeKind::Scalar { text, .. } => {
                        if entries.iter().any(|(k, _, _)| k == text) {
                            return Err(SyntaxError {
                                loc: node.loc,
                                message: format!("duplicate key '{text}' in this mapping"),
                            });
                        }
                        *pending = Some((text.clone(), node.loc));
                    }
                    _ => {
                        return Err(SyntaxError {
                            loc: node.loc,
                            message: "expected a scalar mapping key".into(),
                        })
                    }
                },
                Some((key, kloc)) => entries.push((key, kloc, node)),
            },
        }
    }
    Ok(root.unwrap_or(Node {
        kind: NodeKind::Scalar {
            text: String::new(),
            quoted: false,
        },
        loc: Loc { line: 1, col: 1 },
    }))
}

fn count(n: &Node) -> usize {
    match &n.kind {
        NodeKind::Scalar { .. } => 1,
        NodeKind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        NodeKind::Map(entries) => 1 + entries.iter().map(|(_, _, v)| 1 + count(v)).sum::<usize>(),
    }
}
