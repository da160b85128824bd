//! A located document tree: YAML (and JSON, which is parsed as YAML's flow
//! style) turned into nodes that remember where they came from, so every
//! later error can point at a line and column.

use std::borrow::Cow;
use std::fmt;

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::limits::{Echo, Limits};

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
pub enum NodeKind<'t> {
    /// A scalar with whether it was quoted (quoted scalars are always strings). Its text is
    /// borrowed from the document wherever the document spells it out as it is (no escapes
    /// or folding), so a tree costs no allocation per scalar.
    Scalar {
        text: Cow<'t, str>,
        quoted: bool,
    },
    Seq(Vec<Node<'t>>),
    /// Keys keep their own location for "unknown key" errors.
    Map(Vec<Entry<'t>>),
}

/// A mapping entry: the key, where it is, and its value.
pub type Entry<'t> = (Cow<'t, str>, Loc, Node<'t>);

#[derive(Clone, Debug)]
pub struct Node<'t> {
    pub kind: NodeKind<'t>,
    pub loc: Loc,
}

impl Node<'_> {
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

/// Memory one node costs in the tree, whatever its kind (a mapping entry is
/// the largest): what anchors and aliases are charged per node they copy.
const NODE_BYTES: usize = std::mem::size_of::<Entry<'static>>();

/// Mappings up to this many keys are checked for duplicates by a scan;
/// larger ones keep a hash set of their keys.
const SCAN_KEYS: usize = 16;

/// Parses one YAML (or JSON) document into a located tree, within the
/// default [`Limits`].
pub fn parse(text: &str) -> Result<Node<'_>, SyntaxError> {
    parse_with(text, &Limits::default())
}

/// Parses one YAML (or JSON) document into a located tree. Nodes, depth,
/// scalar length and the bytes that anchors and aliases copy are bounded by
/// `limits`; going over a limit is a located [`SyntaxError`]. The work is
/// linear in the input plus what aliases copy.
pub fn parse_with<'t>(text: &'t str, limits: &Limits) -> Result<Node<'t>, SyntaxError> {
    check_flow_entries(text, limits)?;
    if let Some(tree) = parse_subset(text, limits) {
        return Ok(tree);
    }
    parse_general(text, limits)
}

/// The tree of a document written in the common subset of YAML that
/// the subset parser (`yaml_subset.rs`) reads, or `None` for any other document (or one the
/// limits refuse). Where it gives a tree, it is the one [`parse_general`] gives.
pub fn parse_subset<'t>(text: &'t str, limits: &Limits) -> Option<Node<'t>> {
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get());
    parse_subset_in(text, limits, parts)
}

/// [`parse_subset`] with the items of the document's largest top-level list read by up to
/// `parts` parsers at once (see `split.rs`); the tree is the same whatever `parts` is.
pub fn parse_subset_in<'t>(text: &'t str, limits: &Limits, parts: usize) -> Option<Node<'t>> {
    match crate::split::plan(text.as_bytes(), parts) {
        Some(plan) => parse_split(text, limits, &plan),
        None => parse_whole(text, limits),
    }
}

/// How a document is read in parts, for the fuzzer's differential target: the tree of
/// [`parse_subset`] in up to `parts` parts of at least `min_part_bytes` (so that documents
/// of a few hundred bytes are cut too), and whether the text was cut at all. Where it gives a
/// tree, [`parse_subset_in`] at one part must give the same one.
#[doc(hidden)]
pub fn parse_subset_cut<'t>(
    text: &'t str,
    limits: &Limits,
    parts: usize,
    min_part_bytes: usize,
) -> (Option<Node<'t>>, bool) {
    match crate::split::plan_with(text.as_bytes(), parts, min_part_bytes) {
        Some(plan) => (parse_split(text, limits, &plan), true),
        None => (parse_whole(text, limits), false),
    }
}

fn parse_whole<'t>(text: &'t str, limits: &Limits) -> Option<Node<'t>> {
    let mut tree = TreeBuilder::new(limits);
    crate::yaml_subset::parse(text, |event, (line, col)| {
        tree.event(event, Loc { line, col }).is_ok()
    })
    .ok()?;
    Some(tree.finish())
}

/// The document parsed by one parser with the plan's list left out past its first part,
/// and each other part of the list by a parser of its own on a thread of its own; the parts'
/// items are put back into the list in order, so the tree is the one a single parser gives.
/// `None` where any parser finds the text outside the subset (or the limits refuse it), as
/// [`parse_whole`] would have.
fn parse_split<'t>(
    text: &'t str,
    limits: &Limits,
    plan: &crate::split::Plan<'t>,
) -> Option<Node<'t>> {
    let (root, parts) = std::thread::scope(|scope| {
        let workers: Vec<_> = (1..plan.cuts.len())
            .map(|k| scope.spawn(move || parse_part(text, limits, plan, k)))
            .collect();
        let root = parse_first(text, limits, plan);
        let parts: Vec<_> = workers
            .into_iter()
            .map(|w| w.join().ok().flatten())
            .collect();
        (root, parts)
    });
    let (mut root, mut nodes) = root?;
    let mut items = Vec::new();
    for part in parts {
        let (part, n) = part?;
        nodes = nodes.saturating_add(n);
        items.push(part);
    }
    if nodes > limits.max_nodes {
        return None;
    }
    let NodeKind::Map(entries) = &mut root.kind else {
        return None;
    };
    let (_, _, list) = entries.iter_mut().find(|(k, _, _)| *k == plan.key)?;
    let NodeKind::Seq(list) = &mut list.kind else {
        return None;
    };
    for part in items {
        list.extend(part);
    }
    Some(root)
}

/// The document without the plan's list past its first part, and the nodes it counted.
fn parse_first<'t>(
    text: &'t str,
    limits: &Limits,
    plan: &crate::split::Plan<'t>,
) -> Option<(Node<'t>, usize)> {
    let mut tree = TreeBuilder::new(limits);
    let jump = crate::yaml_subset::Jump {
        seq_start: plan.seq_start,
        from: plan.cuts[1].pos,
        to: plan.end,
    };
    crate::yaml_subset::parse_with_jump(text, jump, |event, (line, col)| {
        tree.event(event, Loc { line, col }).is_ok()
    })
    .ok()?;
    let nodes = tree.nodes;
    Some((tree.finish(), nodes))
}

/// The items of part `k` of the plan's list, and the nodes they count.
fn parse_part<'t>(
    text: &'t str,
    limits: &Limits,
    plan: &crate::split::Plan<'t>,
    k: usize,
) -> Option<(Vec<Node<'t>>, usize)> {
    let mut tree = TreeBuilder::new(limits);
    tree.open_list_of_root(plan.key);
    let last = k + 1 == plan.cuts.len();
    let stop = if last {
        plan.end.pos
    } else {
        plan.cuts[k + 1].pos
    };
    crate::yaml_subset::parse_items(
        text,
        plan.cuts[k],
        plan.column,
        stop,
        last,
        |event, (line, col)| tree.event(event, Loc { line, col }).is_ok(),
    )
    .ok()?;
    let nodes = tree.nodes;
    match tree.stack.pop() {
        Some(Frame::Seq { items, .. }) => Some((items, nodes)),
        _ => None,
    }
}

/// Parses any YAML (or JSON) document with the general parser (`saphyr-parser`);
/// [`parse_with`] uses it for what [`parse_subset`] does not read.
pub fn parse_general<'t>(text: &'t str, limits: &Limits) -> Result<Node<'t>, SyntaxError> {
    let mut tree = TreeBuilder::new(limits);
    let mut parser = Parser::new_from_str(text);
    while let Some(ev) = parser.next_event() {
        let (event, span) = ev.map_err(|e| SyntaxError {
            loc: Loc {
                line: e.marker().line() as u32,
                col: e.marker().col() as u32 + 1,
            },
            message: e.info().to_string(),
        })?;
        tree.event(event, Loc::from_span(&span))?;
    }
    Ok(tree.finish())
}

/// Counts the flow indicators `,`, `[` and `{` of each outermost flow collection against
/// [`Limits::max_flow_entries`], before the scanner buffers them (it holds a whole flow
/// collection before yielding a node); the error is located at the first one over the limit.
/// The count starts again after each outermost collection closes, so a block-style document
/// of many small flow mappings (one per rule, say) is bounded by its real size, not refused.
/// Double-quoted strings inside a collection and comments outside one are skipped.
fn check_flow_entries(text: &str, limits: &Limits) -> Result<(), SyntaxError> {
    let s = text.as_bytes();
    let (mut seen, mut depth, mut i) = (0usize, 0usize, 0usize);
    while i < s.len() {
        if !FLOW_CHECK_BYTES[s[i] as usize] {
            i += 1;
            continue;
        }
        match s[i] {
            b'#' if depth == 0 && (i == 0 || matches!(s[i - 1], b' ' | b'\t' | b'\n')) => {
                // To the line's end (the line feed itself counts for nothing).
                i += s[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(s.len() - i);
                continue;
            }
            b'"' if depth > 0 => {
                i = quoted_end(s, i + 1);
                continue;
            }
            b @ (b'[' | b'{' | b',') if b != b',' || depth > 0 => {
                seen += 1;
                if b != b',' {
                    depth += 1;
                }
                if seen > limits.max_flow_entries {
                    return Err(error(
                        loc_at(s, i),
                        format!(
                            "a flow-style collection has more than {} entries (',', '[' and '{{'; \
                             the limit is max_flow_entries): use block style for large lists",
                            limits.max_flow_entries
                        ),
                    ));
                }
            }
            b']' | b'}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    seen = 0;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The bytes [`check_flow_entries`] looks at; it passes over every other byte at once.
static FLOW_CHECK_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    while k < 7 {
        t[b"#\"[{,]}"[k] as usize] = true;
        k += 1;
    }
    t
};

/// Past the `"` that closes a double-quoted string whose text starts at `i` (a `\\` escapes
/// the byte after it), or the end of the text.
fn quoted_end(s: &[u8], mut i: usize) -> usize {
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

/// The line and column of byte `i`: columns count characters, not bytes.
fn loc_at(s: &[u8], i: usize) -> Loc {
    let line_start = s[..i]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let line = 1 + s[..line_start].iter().filter(|&&b| b == b'\n').count();
    let col = 1 + s[line_start..i]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count();
    Loc {
        line: line as u32,
        col: col as u32,
    }
}

/// A list or mapping still open, with its anchor id (0: none).
enum Frame<'t> {
    Seq {
        loc: Loc,
        items: Vec<Node<'t>>,
        anchor: usize,
    },
    Map {
        loc: Loc,
        entries: Vec<Entry<'t>>,
        /// The key read, waiting for its value.
        pending: Option<(Cow<'t, str>, Loc)>,
        /// All keys, once the mapping has more than [`SCAN_KEYS`].
        keys: Option<HashSet<Cow<'t, str>>>,
        anchor: usize,
    },
}

/// An anchored node, with what copying it costs.
struct Anchored<'t> {
    node: Node<'t>,
    nodes: usize,
    bytes: usize,
}

/// Builds the tree from parser events, charging every node to the limits.
struct TreeBuilder<'l, 't> {
    limits: &'l Limits,
    stack: Vec<Frame<'t>>,
    anchors: HashMap<usize, Anchored<'t>>,
    root: Option<Node<'t>>,
    nodes: usize,
    alias_bytes: usize,
    docs: usize,
}

fn error(loc: Loc, message: String) -> SyntaxError {
    SyntaxError { loc, message }
}

impl<'l, 't> TreeBuilder<'l, 't> {
    fn new(limits: &'l Limits) -> Self {
        TreeBuilder {
            limits,
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            nodes: 0,
            alias_bytes: 0,
            docs: 0,
        }
    }

    /// Opens the root mapping and, under `key`, a list: where a part of a split list's items
    /// go, at the depth they have in the document (the limits see them there).
    fn open_list_of_root(&mut self, key: &'t str) {
        let loc = Loc::default();
        self.stack.push(Frame::Map {
            loc,
            entries: Vec::new(),
            pending: Some((Cow::Borrowed(key), loc)),
            keys: None,
            anchor: 0,
        });
        self.stack.push(Frame::Seq {
            loc,
            items: Vec::new(),
            anchor: 0,
        });
    }

    fn finish(self) -> Node<'t> {
        self.root.unwrap_or(Node {
            kind: NodeKind::Scalar {
                text: Cow::Borrowed(""),
                quoted: false,
            },
            loc: Loc { line: 1, col: 1 },
        })
    }

    /// Takes one parser event; a finished node goes into its parent.
    fn event(&mut self, event: Event<'t>, loc: Loc) -> Result<(), SyntaxError> {
        let finished = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => self.document_start(loc)?,
            Event::Alias(id) => Some((self.alias(id, loc)?, 0)),
            Event::Scalar(value, style, anchor, _tag) => {
                Some((self.scalar(value, style, loc)?, anchor))
            }
            Event::SequenceStart(anchor, _) => self.open(loc, anchor, false)?,
            Event::MappingStart(anchor, _) => self.open(loc, anchor, true)?,
            Event::SequenceEnd | Event::MappingEnd => Some(self.close(loc)?),
        };
        if let Some((node, anchor)) = finished {
            if anchor != 0 {
                self.anchor(anchor, &node)?;
            }
            self.attach(node)?;
        }
        Ok(())
    }

    fn document_start(&mut self, loc: Loc) -> Result<Option<(Node<'t>, usize)>, SyntaxError> {
        self.docs += 1;
        if self.docs > 1 {
            return Err(error(
                loc,
                "expected one document, found a second one ('---')".into(),
            ));
        }
        Ok(None)
    }

    /// Counts `n` more nodes against [`Limits::max_nodes`].
    fn charge_nodes(&mut self, n: usize, loc: Loc) -> Result<(), SyntaxError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(error(
                loc,
                format!(
                    "the document has more than {} nodes (keys, values, lists and mappings, \
                     aliases expanded; the limit is max_nodes)",
                    self.limits.max_nodes
                ),
            ));
        }
        Ok(())
    }

    /// Counts bytes an anchor or alias copies against [`Limits::max_alias_bytes`].
    fn charge_alias_bytes(&mut self, bytes: usize, loc: Loc) -> Result<(), SyntaxError> {
        self.alias_bytes = self.alias_bytes.saturating_add(bytes);
        if self.alias_bytes > self.limits.max_alias_bytes {
            return Err(error(
                loc,
                format!(
                    "anchors and aliases expand the document by more than {} bytes \
                     (an alias bomb? the limit is max_alias_bytes)",
                    self.limits.max_alias_bytes
                ),
            ));
        }
        Ok(())
    }

    fn scalar(
        &mut self,
        value: Cow<'t, str>,
        style: ScalarStyle,
        loc: Loc,
    ) -> Result<Node<'t>, SyntaxError> {
        if value.len() > self.limits.max_scalar_bytes {
            return Err(error(
                loc,
                format!(
                    "expected a scalar of at most {} bytes (the limit is max_scalar_bytes), found '{}'",
                    self.limits.max_scalar_bytes,
                    Echo(&value)
                ),
            ));
        }
        self.charge_nodes(1, loc)?;
        Ok(Node {
            kind: NodeKind::Scalar {
                text: value,
                quoted: !matches!(style, ScalarStyle::Plain),
            },
            loc,
        })
    }

    fn open(
        &mut self,
        loc: Loc,
        anchor: usize,
        map: bool,
    ) -> Result<Option<(Node<'t>, usize)>, SyntaxError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(error(
                loc,
                format!(
                    "nesting deeper than {} levels (the limit is max_depth)",
                    self.limits.max_depth
                ),
            ));
        }
        self.charge_nodes(1, loc)?;
        self.stack.push(if map {
            Frame::Map {
                loc,
                entries: Vec::new(),
                pending: None,
                keys: None,
                anchor,
            }
        } else {
            Frame::Seq {
                loc,
                items: Vec::new(),
                anchor,
            }
        });
        Ok(None)
    }

    fn close(&mut self, loc: Loc) -> Result<(Node<'t>, usize), SyntaxError> {
        match self.stack.pop() {
            Some(Frame::Seq { loc, items, anchor }) => Ok((
                Node {
                    kind: NodeKind::Seq(items),
                    loc,
                },
                anchor,
            )),
            Some(Frame::Map {
                loc,
                entries,
                anchor,
                ..
            }) => Ok((
                Node {
                    kind: NodeKind::Map(entries),
                    loc,
                },
                anchor,
            )),
            None => Err(error(loc, "unbalanced list or mapping".into())),
        }
    }

    /// Remembers an anchored node; the copy is charged like an alias.
    fn anchor(&mut self, id: usize, node: &Node<'t>) -> Result<(), SyntaxError> {
        let (nodes, bytes) = cost(node);
        self.charge_alias_bytes(bytes, node.loc)?;
        self.anchors.insert(
            id,
            Anchored {
                node: node.clone(),
                nodes,
                bytes,
            },
        );
        Ok(())
    }

    /// A copy of the anchored node, after charging it to the limits.
    fn alias(&mut self, id: usize, loc: Loc) -> Result<Node<'t>, SyntaxError> {
        let Some(a) = self.anchors.get(&id) else {
            return Err(error(loc, "alias to an unknown anchor".into()));
        };
        let (nodes, bytes) = (a.nodes, a.bytes);
        self.charge_alias_bytes(bytes, loc)?;
        self.charge_nodes(nodes, loc)?;
        Ok(self.anchors[&id].node.clone())
    }

    /// Puts a finished node into the open list or mapping (or makes it the root).
    fn attach(&mut self, node: Node<'t>) -> Result<(), SyntaxError> {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending,
                keys,
                ..
            }) => match pending.take() {
                Some((key, kloc)) => entries.push((key, kloc, node)),
                None => *pending = Some(new_key(entries, keys, node)?),
            },
        }
        Ok(())
    }
}

/// Checks a mapping key: a scalar, not yet in the mapping. Small mappings are
/// scanned; larger ones keep a set, so the check is linear overall.
fn new_key<'t>(
    entries: &[Entry<'t>],
    keys: &mut Option<HashSet<Cow<'t, str>>>,
    node: Node<'t>,
) -> Result<(Cow<'t, str>, Loc), SyntaxError> {
    let NodeKind::Scalar { text, .. } = node.kind else {
        return Err(error(node.loc, "expected a scalar mapping key".into()));
    };
    if keys.is_none() && entries.len() >= SCAN_KEYS {
        *keys = Some(entries.iter().map(|(k, _, _)| k.clone()).collect());
    }
    let duplicate = match keys {
        Some(set) => !set.insert(text.clone()),
        None => entries.iter().any(|(k, _, _)| *k == text),
    };
    if duplicate {
        return Err(error(
            node.loc,
            format!("duplicate key '{}' in this mapping", Echo(&text)),
        ));
    }
    Ok((text, node.loc))
}

/// Nodes and bytes (text plus [`NODE_BYTES`] per node) in a tree.
fn cost(n: &Node) -> (usize, usize) {
    match &n.kind {
        NodeKind::Scalar { text, .. } => (1, NODE_BYTES + text.len()),
        NodeKind::Seq(items) => items.iter().fold((1, NODE_BYTES), |(n, b), x| {
            let (xn, xb) = cost(x);
            (n + xn, b + xb)
        }),
        NodeKind::Map(entries) => entries.iter().fold((1, NODE_BYTES), |(n, b), (k, _, v)| {
            let (vn, vb) = cost(v);
            (n + 1 + vn, b + k.len() + vb)
        }),
    }
}
