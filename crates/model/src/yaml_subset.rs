//! A fast parser for the part of YAML that topology files are almost always written in, in
//! front of the general parser (`saphyr-parser`), which costs about 300 instructions a byte.
//!
//! The subset: ASCII text without tabs or carriage returns; block mappings and block
//! sequences (indented or not); plain scalars on one line; single- and double-quoted scalars
//! on one line (double-quoted without escapes); flow sequences and flow mappings, over several
//! lines when every line they go on to is indented past their opening bracket; comments. Anything else (anchors, aliases, tags, block scalars,
//! multi-line scalars, explicit keys, single-pair mappings in flow sequences, directives, document markers, and
//! every syntax error) stops this parser with [`Outside`], and the caller parses the whole
//! document again with the general parser, which reports errors. So this parser never
//! decides what an error is: on the text it accepts it gives the general parser's events,
//! with the same locations, to a sink (the node tree's builder, which applies every limit;
//! the sink refusing an event stops the parser too). It knows nothing of the tree.
//!
//! The events are those of the general parser, locations included (a block sequence starts at
//! its first `-`, or at its first item's content when it is not indented under its key; an
//! empty value is located at its `:`), which `tests/yaml_subset.rs` checks document by
//! document against the general parser.

use std::borrow::Cow;

use saphyr_parser::{Event, ScalarStyle};

/// The text is outside the subset, or the sink refused an event: the general parser
/// decides.
pub(crate) struct Outside;

type R<T> = Result<T, Outside>;

/// A 1-based line and column.
type At = (u32, u32);

/// The deepest nesting this parser follows (the default `Limits::max_depth`).
const MAX_NESTING: usize = 256;

/// Gives the events of `text` to `sink` (with where each starts) when the text is inside
/// the subset; `sink` returns false to refuse an event, which stops the parser.
pub(crate) fn parse<'t>(text: &'t str, sink: impl FnMut(Event<'t>, At) -> bool) -> R<()> {
    document_events(text, None, sink)
}

/// The document's events, leaving out the items `jump` says other parsers read.
fn document_events<'t>(
    text: &'t str,
    jump: Option<Jump>,
    sink: impl FnMut(Event<'t>, At) -> bool,
) -> R<()> {
    if !in_alphabet(text.as_bytes()) {
        return Err(Outside);
    }
    let start = Cursor {
        pos: 0,
        line: 1,
        line_start: 0,
    };
    let mut p = Subset::new(text, start, 0, jump, sink);
    p.document()?;
    match p.jump {
        None => Ok(()),
        Some(_) => Err(Outside),
    }
}

/// A place in the text at a line's first content character: the cursor of a parser that has
/// just finished a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub pos: usize,
    pub line: u32,
    pub line_start: usize,
}

/// One top-level block sequence whose items are parsed by several parsers: the one that parses
/// the document stops at the item starting at `from` and goes on at `to`, where the sequence
/// ends; the items between are [`parse_items`]' to parse.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Jump {
    /// Where the sequence starts (its `SequenceStart` event's place).
    pub seq_start: usize,
    pub from: usize,
    pub to: Cursor,
}

/// [`parse`], leaving the items of one sequence from `jump.from` to its end out of the events:
/// `Outside` too when the parser does not stop at an item boundary exactly at `jump.from`.
pub(crate) fn parse_with_jump<'t>(
    text: &'t str,
    jump: Jump,
    sink: impl FnMut(Event<'t>, At) -> bool,
) -> R<()> {
    document_events(text, Some(jump), sink)
}

/// The events of the items of a top-level block sequence whose `-` are in column `d` (a
/// mapping's value at the root, so two collections are open), from the item at `from` to the
/// one at `stop` (not included), or to the sequence's end when `last`: `Outside` unless the
/// items end exactly at `stop`, as the parser of the whole document would have found them.
pub(crate) fn parse_items<'t>(
    text: &'t str,
    from: Cursor,
    d: usize,
    stop: usize,
    last: bool,
    sink: impl FnMut(Event<'t>, At) -> bool,
) -> R<()> {
    let mut p = Subset::new(text, from, 2, None, sink);
    loop {
        p.seq_item(d)?;
        if !last && p.pos >= stop {
            return if p.pos == stop { Ok(()) } else { Err(Outside) };
        }
        match p.indent() {
            Some(i) if i == d && p.is_seq_entry() => continue,
            Some(i) if i == d && d == 0 => break,
            Some(i) if i >= d => return Err(Outside),
            _ => break,
        }
    }
    if last && p.pos == stop {
        Ok(())
    } else {
        Err(Outside)
    }
}

/// Printable ASCII and line feeds only.
fn in_alphabet(s: &[u8]) -> bool {
    s.iter().all(|&b| b == b'\n' || (0x20..0x7F).contains(&b))
}

/// Characters that cannot start a plain scalar (`-`, `?` and `:` can, before a safe one).
fn is_indicator(b: u8) -> bool {
    b"-?:,[]{}#&*!|>'\"%@`".contains(&b)
}

fn is_flow_indicator(b: u8) -> bool {
    b",[]{}".contains(&b)
}

struct Subset<'t, F> {
    s: &'t [u8],
    text: &'t str,
    pos: usize,
    /// The 1-based line of `pos`, and the offset where that line starts.
    line: u32,
    line_start: usize,
    /// Open collections (the parser recurses once per level: past [`MAX_NESTING`] the general
    /// parser, whose stack is on the heap, takes the document, whatever the limits allow).
    depth: usize,
    /// Open flow collections, and the line and column where the outermost one opened.
    flow_depth: usize,
    flow_line: u32,
    flow_col: usize,
    /// Where the parser leaves a sequence to other parsers (see [`parse_with_jump`]).
    jump: Option<Jump>,
    sink: F,
}

impl<'t, F: FnMut(Event<'t>, At) -> bool> Subset<'t, F> {
    /// A parser at `at`, inside `depth` open collections, outside any flow collection.
    fn new(text: &'t str, at: Cursor, depth: usize, jump: Option<Jump>, sink: F) -> Self {
        Subset {
            s: text.as_bytes(),
            text,
            pos: at.pos,
            line: at.line,
            line_start: at.line_start,
            depth,
            flow_depth: 0,
            flow_line: 0,
            flow_col: 0,
            jump,
            sink,
        }
    }

    fn at(&self, i: usize) -> u8 {
        self.s.get(i).copied().unwrap_or(b'\n')
    }

    fn peek(&self) -> u8 {
        self.at(self.pos)
    }

    fn loc(&self, pos: usize) -> At {
        (self.line, (pos - self.line_start) as u32 + 1)
    }

    /// The indentation of the content line the cursor is on, or `None` at the end.
    fn indent(&self) -> Option<usize> {
        (self.pos < self.s.len()).then(|| self.pos - self.line_start)
    }

    fn emit(&mut self, event: Event<'t>, at: usize) -> R<()> {
        let loc = self.loc(at);
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                self.depth += 1;
                if self.depth > MAX_NESTING {
                    return Err(Outside);
                }
            }
            Event::MappingEnd | Event::SequenceEnd => self.depth -= 1,
            _ => {}
        }
        self.emit_at(event, loc)
    }

    fn emit_at(&mut self, event: Event<'t>, at: At) -> R<()> {
        if (self.sink)(event, at) {
            Ok(())
        } else {
            Err(Outside)
        }
    }

    fn scalar(&mut self, text: Cow<'t, str>, style: ScalarStyle, at: usize) -> R<()> {
        self.emit(Event::Scalar(text, style, 0, None), at)
    }

    /// An empty (null) value, located at its `:`.
    fn empty(&mut self, colon: At) -> R<()> {
        let event = Event::Scalar(Cow::Borrowed(""), ScalarStyle::Plain, 0, None);
        self.emit_at(event, colon)
    }

    fn skip_spaces(&mut self) -> usize {
        let from = self.pos;
        while self.peek() == b' ' && self.pos < self.s.len() {
            self.pos += 1;
        }
        self.pos - from
    }

    /// At a line's end (or the end of the text).
    fn at_eol(&self) -> bool {
        self.pos >= self.s.len() || self.s[self.pos] == b'\n'
    }

    fn document(&mut self) -> R<()> {
        self.emit(Event::DocumentStart(false), 0)?;
        self.skip_to_content()?;
        let Some(n) = self.indent() else {
            return Err(Outside);
        };
        self.block_node(n)?;
        match self.indent() {
            None => Ok(()),
            Some(_) => Err(Outside),
        }
    }

    /// From a line's start, past blank and comment lines to the first character of the next
    /// content line (or the end).
    fn skip_to_content(&mut self) -> R<()> {
        loop {
            self.skip_spaces();
            if self.pos >= self.s.len() {
                return Ok(());
            }
            match self.s[self.pos] {
                b'\n' => self.next_line(),
                b'#' => {
                    self.skip_to_eol();
                    self.next_line();
                }
                _ => break,
            }
        }
        let rest = &self.s[self.pos..];
        let at_zero = self.pos == self.line_start;
        if at_zero && (rest.starts_with(b"---") || rest.starts_with(b"...") || rest[0] == b'%') {
            return Err(Outside);
        }
        Ok(())
    }

    fn skip_to_eol(&mut self) {
        match self.s[self.pos..].iter().position(|&b| b == b'\n') {
            Some(i) => self.pos += i,
            None => self.pos = self.s.len(),
        }
    }

    /// Past the line feed the cursor is on.
    fn next_line(&mut self) {
        if self.pos < self.s.len() {
            self.pos += 1;
            self.line += 1;
            self.line_start = self.pos;
        }
    }

    /// After a value: spaces, an optional comment and the line's end, then on to the next
    /// content line.
    fn advance(&mut self) -> R<()> {
        self.skip_spaces();
        if self.peek() == b'#' && self.pos > 0 && self.s[self.pos - 1] == b' ' {
            self.skip_to_eol();
        }
        if !self.at_eol() {
            return Err(Outside);
        }
        self.next_line();
        self.skip_to_content()
    }

    fn is_seq_entry(&self) -> bool {
        self.peek() == b'-' && matches!(self.at(self.pos + 1), b' ' | b'\n')
    }

    /// A block mapping or sequence whose first line is indented by `n`.
    fn block_node(&mut self, n: usize) -> R<()> {
        if self.is_seq_entry() {
            self.block_seq(n, false)
        } else if self.key_here().is_some() {
            self.block_map(n)
        } else {
            Err(Outside)
        }
    }

    fn block_map(&mut self, n: usize) -> R<()> {
        self.emit(Event::MappingStart(0, None), self.pos)?;
        loop {
            self.map_entry(n)?;
            match self.indent() {
                Some(i) if i == n && !self.is_seq_entry() => continue,
                Some(i) if i >= n => return Err(Outside),
                _ => break,
            }
        }
        self.emit(Event::MappingEnd, self.pos)
    }

    /// One `key: value` of a block mapping indented by `n`; the cursor ends on the next
    /// content line.
    fn map_entry(&mut self, n: usize) -> R<()> {
        let colon = self.key()?;
        let colon = self.loc(colon);
        self.skip_spaces();
        let comment = self.peek() == b'#';
        if !(self.at_eol() || comment) {
            return self.inline_value();
        }
        self.advance()?;
        match self.indent() {
            Some(i) if i > n => self.block_node(i),
            Some(i) if i == n && self.is_seq_entry() => self.block_seq(n, true),
            _ => self.empty(colon),
        }
    }

    /// A block sequence whose `-` are in column `d`; `indentless` when it is a mapping value
    /// in the key's own column (it then starts at its first item's content).
    fn block_seq(&mut self, d: usize, indentless: bool) -> R<()> {
        let start = if indentless {
            let content = self.pos
                + 1
                + self.s[self.pos + 1..]
                    .iter()
                    .take_while(|&&b| b == b' ')
                    .count();
            if matches!(self.at(content), b'\n' | b'#') {
                return Err(Outside);
            }
            content
        } else {
            self.pos
        };
        self.emit(Event::SequenceStart(0, None), start)?;
        let jump = self.jump.filter(|j| j.seq_start == start);
        loop {
            self.seq_item(d)?;
            if let Some(j) = jump.filter(|_| self.jump.is_some()) {
                if self.pos == j.from {
                    (self.pos, self.line, self.line_start) = (j.to.pos, j.to.line, j.to.line_start);
                    self.jump = None;
                } else if self.pos > j.from {
                    return Err(Outside);
                }
            }
            match self.indent() {
                Some(i) if i == d && self.is_seq_entry() => continue,
                Some(i) if i == d && indentless => break,
                Some(i) if i >= d => return Err(Outside),
                _ => break,
            }
        }
        self.emit(Event::SequenceEnd, self.pos)
    }

    /// One `- item` of a block sequence whose `-` are in column `d`.
    fn seq_item(&mut self, d: usize) -> R<()> {
        self.pos += 1;
        self.skip_spaces();
        if self.at_eol() || self.peek() == b'#' {
            self.advance()?;
            return match self.indent() {
                Some(i) if i > d => self.block_node(i),
                _ => Err(Outside),
            };
        }
        if self.is_seq_entry() {
            return Err(Outside);
        }
        if self.key_here().is_some() {
            let c = self.pos - self.line_start;
            return self.block_map(c);
        }
        self.inline_value()
    }

    /// A value on the rest of the line, in block context; the cursor ends on the next content
    /// line.
    fn inline_value(&mut self) -> R<()> {
        match self.peek() {
            b'[' | b'{' => self.flow_node()?,
            b'\'' | b'"' => {
                let at = self.pos;
                let (text, style) = self.quoted()?;
                self.scalar(text, style, at)?;
            }
            _ => {
                let at = self.pos;
                let end = self.plain_block_end().ok_or(Outside)?;
                if self.at(end) == b':' {
                    return Err(Outside);
                }
                self.pos = end;
                self.scalar(self.trimmed(at, end), ScalarStyle::Plain, at)?;
            }
        }
        self.advance()
    }

    /// Whether a plain scalar can start at `i` (`flow`: inside a flow collection).
    fn plain_starts(&self, i: usize, flow: bool) -> bool {
        let b = self.at(i);
        if b == b' ' || b == b'\n' {
            return false;
        }
        if !is_indicator(b) {
            return true;
        }
        let next = self.at(i + 1);
        matches!(b, b'-' | b'?' | b':')
            && next != b' '
            && next != b'\n'
            && !(flow && is_flow_indicator(next))
    }

    /// Where a plain scalar starting at the cursor ends in block context: at the line's end,
    /// before ` #`, or at a `:` followed by a space or the line's end.
    fn plain_block_end(&self) -> Option<usize> {
        if !self.plain_starts(self.pos, false) {
            return None;
        }
        let mut i = self.pos + 1;
        loop {
            match self.at(i) {
                b'\n' => return Some(i),
                b'#' if self.s[i - 1] == b' ' => return Some(i),
                b':' if matches!(self.at(i + 1), b' ' | b'\n') => return Some(i),
                _ => i += 1,
            }
        }
    }

    /// The text from `from` to `to` without trailing spaces.
    fn trimmed(&self, from: usize, to: usize) -> Cow<'t, str> {
        Cow::Borrowed(self.text[from..to].trim_end_matches(' '))
    }

    /// A block mapping key at the cursor: its end and the position of its `:`.
    fn key_here(&self) -> Option<(usize, usize)> {
        let b = self.peek();
        let end = if b == b'\'' || b == b'"' {
            self.quoted_end(self.pos)?
        } else {
            let end = self.plain_block_end()?;
            if self.at(end) != b':' {
                return None;
            }
            end
        };
        let colon = end + self.s[end..].iter().take_while(|&&b| b == b' ').count();
        let ok = self.at(colon) == b':' && matches!(self.at(colon + 1), b' ' | b'\n');
        (ok && end - self.pos <= 1000).then_some((end, colon))
    }

    /// Reads a block mapping key and its `:`, returning where the `:` is.
    fn key(&mut self) -> R<usize> {
        let (end, colon) = self.key_here().ok_or(Outside)?;
        let at = self.pos;
        let (text, style) = if matches!(self.peek(), b'\'' | b'"') {
            self.quoted()?
        } else {
            (self.trimmed(at, end), ScalarStyle::Plain)
        };
        self.scalar(text, style, at)?;
        self.pos = colon + 1;
        Ok(colon)
    }

    /// Where the quoted scalar starting at `i` ends (past its closing quote), when it closes
    /// on its line and (double-quoted) has no escapes.
    fn quoted_end(&self, i: usize) -> Option<usize> {
        let q = self.s[i];
        let mut j = i + 1;
        loop {
            match self.at(j) {
                b'\n' => return None,
                b'\\' if q == b'"' => return None,
                b if b == q => {
                    if q == b'\'' && self.at(j + 1) == b'\'' {
                        j += 2;
                    } else {
                        return Some(j + 1);
                    }
                }
                _ => j += 1,
            }
        }
    }

    fn quoted(&mut self) -> R<(Cow<'t, str>, ScalarStyle)> {
        let at = self.pos;
        let end = self.quoted_end(at).ok_or(Outside)?;
        self.pos = end;
        let inner = &self.text[at + 1..end - 1];
        Ok(if self.s[at] == b'"' {
            (Cow::Borrowed(inner), ScalarStyle::DoubleQuoted)
        } else if inner.contains("''") {
            (
                Cow::Owned(inner.replace("''", "'")),
                ScalarStyle::SingleQuoted,
            )
        } else {
            (Cow::Borrowed(inner), ScalarStyle::SingleQuoted)
        })
    }

    /// Past spaces, line breaks and comments inside a flow collection. A line it goes on to
    /// must be indented past the column where the outermost collection opened.
    fn flow_spaces(&mut self) -> R<()> {
        loop {
            self.skip_spaces();
            if self.pos >= self.s.len() {
                return Err(Outside);
            }
            match self.s[self.pos] {
                b'\n' => self.next_line(),
                b'#' if self.pos == self.line_start || self.s[self.pos - 1] == b' ' => {
                    self.skip_to_eol()
                }
                _ => {
                    let col = self.pos - self.line_start;
                    if self.line != self.flow_line && col <= self.flow_col {
                        return Err(Outside);
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Enters a flow collection at the cursor.
    fn flow_open(&mut self) {
        if self.flow_depth == 0 {
            self.flow_line = self.line;
            self.flow_col = self.pos - self.line_start;
        }
        self.flow_depth += 1;
        self.pos += 1;
    }

    fn flow_close(&mut self) {
        self.flow_depth -= 1;
        self.pos += 1;
    }

    /// A flow node at the cursor, which closes on this line.
    fn flow_node(&mut self) -> R<()> {
        let at = self.pos;
        match self.peek() {
            b'[' => self.flow_seq(),
            b'{' => self.flow_map(),
            b'\'' | b'"' => {
                let (text, style) = self.quoted()?;
                self.scalar(text, style, at)
            }
            _ => {
                let end = self.plain_flow_end().ok_or(Outside)?;
                self.pos = end;
                self.scalar(self.trimmed(at, end), ScalarStyle::Plain, at)
            }
        }
    }

    /// Where a plain scalar at the cursor ends inside a flow collection: before a flow
    /// indicator or a `:` followed by a space or one.
    fn plain_flow_end(&self) -> Option<usize> {
        if !self.plain_starts(self.pos, true) {
            return None;
        }
        let mut i = self.pos + 1;
        loop {
            match self.at(i) {
                b'\n' => return None,
                b'#' if self.s[i - 1] == b' ' => return None,
                // After a space, `-` before a flow indicator is an error.
                b'-' if self.s[i - 1] == b' ' && is_flow_indicator(self.at(i + 1)) => return None,
                b if is_flow_indicator(b) => return Some(i),
                b':' if matches!(self.at(i + 1), b' ' | b'\n')
                    || is_flow_indicator(self.at(i + 1)) =>
                {
                    return Some(i)
                }
                _ => i += 1,
            }
        }
    }

    /// A flow collection at the cursor: `start`, entries read by `entry` until `close`, each
    /// followed by a comma (the last one's optional), then `end`.
    fn flow_collection(
        &mut self,
        (start, end, close): (Event<'t>, Event<'t>, u8),
        entry: fn(&mut Self) -> R<()>,
    ) -> R<()> {
        self.emit(start, self.pos)?;
        self.flow_open();
        self.flow_spaces()?;
        while self.peek() != close {
            entry(self)?;
            self.flow_spaces()?;
            match self.peek() {
                b',' => {
                    self.pos += 1;
                    self.flow_spaces()?;
                }
                b if b == close => break,
                _ => return Err(Outside),
            }
        }
        self.emit(end, self.pos)?;
        self.flow_close();
        Ok(())
    }

    fn flow_seq(&mut self) -> R<()> {
        let events = (Event::SequenceStart(0, None), Event::SequenceEnd, b']');
        self.flow_collection(events, Self::flow_node)
    }

    fn flow_map(&mut self) -> R<()> {
        let events = (Event::MappingStart(0, None), Event::MappingEnd, b'}');
        self.flow_collection(events, Self::flow_pair)
    }

    /// One `key: value` of a flow mapping (the value may be empty).
    fn flow_pair(&mut self) -> R<()> {
        if matches!(self.peek(), b'[' | b'{') {
            return Err(Outside);
        }
        let plain_key = !matches!(self.peek(), b'\'' | b'"');
        let (key_line, key_at) = (self.line, self.pos);
        self.flow_node()?;
        // An implicit key is on one line, and at most 1024 characters long.
        if self.line != key_line || self.pos - key_at > 1000 {
            return Err(Outside);
        }
        self.flow_spaces()?;
        if self.peek() != b':' || self.line != key_line {
            return Err(Outside);
        }
        // `key:[` and `key:{` are errors, and a plain key's `:` is followed by a space.
        let next = self.at(self.pos + 1);
        if matches!(next, b'[' | b'{') || (plain_key && !matches!(next, b' ' | b'\n')) {
            return Err(Outside);
        }
        let colon = self.loc(self.pos);
        self.pos += 1;
        self.flow_spaces()?;
        if matches!(self.peek(), b',' | b'}') {
            self.empty(colon)
        } else {
            self.flow_node()
        }
    }
}
