//! Where a large document can be read by several parsers at once.
//!
//! A topology of an estate is one mapping whose bulk is one or two lists (`nsgs`, `vnets`),
//! each item a few lines at the list's indentation. The plan finds the largest top-level list
//! written in block style and cuts it into parts at item boundaries, found from the lines
//! alone: an item starts at a line whose first character is the list's `-`, in the list's
//! column. The parsers then check the plan: each part's parser must end exactly where the
//! next part starts (and the last where the list ends), in the state the parser of the whole
//! document would be in there, so a cut that is not an item boundary (a line inside a
//! multi-line string, say) makes the document fall back to one parser, never a different
//! tree.

use memchr::memchr_iter;

use crate::yaml_subset::Cursor;

/// Each part is at least this many bytes of the list: smaller documents are read by one
/// parser, which costs less than starting threads for them.
const MIN_PART_BYTES: usize = 1 << 20;

/// At most this many parts.
const MAX_PARTS: usize = 8;

/// A top-level block list cut into parts.
#[derive(Debug)]
pub(crate) struct Plan<'t> {
    /// The list's key in the root mapping.
    pub key: &'t str,
    /// Where the list starts: its first `-`, or for a list in its key's column (indentless)
    /// its first item's content.
    pub seq_start: usize,
    /// The column of its `-` (0: the list is indentless, in its key's column).
    pub column: usize,
    /// Where each part's first item starts (the first part's is the list's first item).
    pub cuts: Vec<Cursor>,
    /// Where the parser is once the list has ended: the next top-level key, or the end.
    pub end: Cursor,
}

/// A line: where it starts, its number, and its first character other than a space (its
/// length when blank).
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    number: u32,
    indent: usize,
}

/// The plan for `s` in at most `parts` parts, or `None` when one parser should read it (small,
/// or with no large top-level block list).
pub(crate) fn plan(s: &[u8], parts: usize) -> Option<Plan<'_>> {
    plan_with(s, parts, MIN_PART_BYTES)
}

/// [`plan`] with parts of at least `min_part_bytes` (at least 1), so that a small document
/// can be cut too (the fuzzer's differential target cuts documents of a few hundred bytes).
pub(crate) fn plan_with(s: &[u8], parts: usize, min_part_bytes: usize) -> Option<Plan<'_>> {
    let min_part_bytes = min_part_bytes.max(1);
    let parts = parts.min(MAX_PARTS).min(s.len() / min_part_bytes);
    if parts < 2 {
        return None;
    }
    let (key_line, next_key) = largest_top_level_value(s)?;
    let key = plain_key(s, key_line)?;
    let span_end = next_key.map_or(s.len(), |l| l.start);
    let mut lines = lines_from(s, key_line)
        .skip(1)
        .take_while(|l| l.start < span_end);
    let first = lines.find(|l| is_content(s, l))?;
    let column = first.indent;
    let dash = first.start + column;
    if !is_item(s, dash) {
        return None;
    }
    let seq_start = match column == 0 {
        true => content_after_dash(s, dash)?,
        false => dash,
    };
    let part_bytes = (span_end - dash) / parts;
    if part_bytes < min_part_bytes {
        return None;
    }
    let mut cuts = vec![cursor(&first, column)];
    for l in lines.filter(|l| is_content(s, l)) {
        if l.indent == column && is_item(s, l.start + column) {
            if l.start + column >= dash + cuts.len() * part_bytes && cuts.len() < parts {
                cuts.push(cursor(&l, column));
            }
        } else if l.indent < column {
            // Outside the list's items: one parser decides what this is.
            return None;
        }
    }
    if cuts.len() < 2 {
        return None;
    }
    let end = match next_key {
        Some(l) => cursor(&l, 0),
        None => end_cursor(s),
    };
    Some(Plan {
        key,
        seq_start,
        column,
        cuts,
        end,
    })
}

/// The top-level key line whose value spans the most bytes, and the top-level key line after
/// it (none when it is the last). Top-level lines are the content lines in column 0; those
/// starting with `-` are items of an indentless list and belong to the key before them.
fn largest_top_level_value(s: &[u8]) -> Option<(Line, Option<Line>)> {
    let mut best: Option<(Line, Option<Line>, usize)> = None;
    let mut open: Option<Line> = None;
    for l in lines_from(
        s,
        Line {
            start: 0,
            number: 1,
            indent: 0,
        },
    ) {
        if l.indent != 0 || !is_content(s, &l) || s[l.start] == b'-' {
            continue;
        }
        if let Some(k) = open {
            consider(&mut best, k, Some(l), s.len());
        }
        open = Some(l);
    }
    consider(&mut best, open?, None, s.len());
    best.map(|(k, next, _)| (k, next))
}

fn consider(
    best: &mut Option<(Line, Option<Line>, usize)>,
    key: Line,
    next: Option<Line>,
    len: usize,
) {
    let bytes = next.map_or(len, |n| n.start) - key.start;
    if best.as_ref().is_none_or(|b| bytes > b.2) {
        *best = Some((key, next, bytes));
    }
}

/// The lines from `first` (which starts a line) to the end of the text.
fn lines_from(s: &[u8], first: Line) -> impl Iterator<Item = Line> + '_ {
    let ends = memchr_iter(b'\n', &s[first.start..])
        .map(move |i| first.start + i)
        .chain(std::iter::once(s.len()));
    let mut start = first.start;
    let mut number = first.number;
    ends.filter_map(move |end| {
        if start > s.len() || (start == s.len() && end == s.len()) {
            return None;
        }
        let indent = s[start..end].iter().take_while(|&&b| b == b' ').count();
        let l = Line {
            start,
            number,
            indent,
        };
        start = end + 1;
        number += 1;
        Some(l)
    })
}

/// A line with something other than spaces and a comment on it.
fn is_content(s: &[u8], l: &Line) -> bool {
    !matches!(s.get(l.start + l.indent), None | Some(b'\n' | b'#'))
}

/// A list item's `-` at `i`: followed by a space or the line's end.
fn is_item(s: &[u8], i: usize) -> bool {
    s.get(i) == Some(&b'-') && matches!(s.get(i + 1), None | Some(b' ' | b'\n'))
}

/// Where an item's content starts after its `-`; `None` when the item goes on on the next line.
fn content_after_dash(s: &[u8], dash: usize) -> Option<usize> {
    let at = dash + 1 + s[dash + 1..].iter().take_while(|&&b| b == b' ').count();
    (!matches!(s.get(at), None | Some(b'\n' | b'#'))).then_some(at)
}

/// The key of a line `KEY:` with nothing after it but spaces, where KEY is a plain word
/// (letters, digits, `_`, `-`, `.`).
fn plain_key(s: &[u8], l: Line) -> Option<&str> {
    let line = &s[l.start..];
    let len = line
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        .count();
    let after = &line[len..];
    let eol = after
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(after.len());
    let rest = &after[..eol];
    if len == 0 || rest.first() != Some(&b':') || rest[1..].iter().any(|&b| b != b' ') {
        return None;
    }
    std::str::from_utf8(&line[..len]).ok()
}

fn cursor(l: &Line, column: usize) -> Cursor {
    Cursor {
        pos: l.start + column,
        line: l.number,
        line_start: l.start,
    }
}

/// The parser's cursor at the end of the text: past the last line feed, or on the last line
/// when the text does not end with one.
fn end_cursor(s: &[u8]) -> Cursor {
    let line_start = memchr::memrchr(b'\n', s).map_or(0, |i| i + 1);
    let line = 1 + memchr_iter(b'\n', s).count() as u32;
    Cursor {
        pos: s.len(),
        line,
        line_start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big_list(key: &str, indent: &str, items: usize) -> String {
        let mut t = String::from("version: 1\nname: x\n");
        t.push_str(key);
        t.push_str(":\n");
        for i in 0..items {
            t.push_str(&format!("{indent}- {{ name: item{i}, value: {i} }}\n"));
        }
        t.push_str("tail: [a, b]\n");
        t
    }

    #[test]
    fn cuts_a_large_list_at_its_items() {
        let t = big_list("nsgs", "  ", 200_000);
        let p = plan(t.as_bytes(), 4).expect("a plan");
        assert_eq!(p.key, "nsgs");
        assert_eq!(p.column, 2);
        assert_eq!(p.cuts.len(), 4);
        for c in &p.cuts {
            assert_eq!(&t[c.pos..c.pos + 2], "- ");
            assert_eq!(c.pos - c.line_start, 2);
            // The line number is the count of line feeds before the cut, plus one.
            assert_eq!(c.line as usize, 1 + t[..c.pos].matches('\n').count());
        }
        assert_eq!(&t[p.end.pos..p.end.pos + 5], "tail:");
    }

    #[test]
    fn an_indentless_list_starts_at_its_first_content() {
        let t = big_list("rules", "", 200_000);
        let p = plan(t.as_bytes(), 2).expect("a plan");
        assert_eq!(p.column, 0, "indentless");
        assert_eq!(&t[p.seq_start..p.seq_start + 1], "{");
    }

    #[test]
    fn small_documents_and_flow_lists_are_not_cut() {
        assert!(plan(big_list("nsgs", "  ", 100).as_bytes(), 8).is_none());
        let t = big_list("nsgs", "  ", 200_000);
        assert!(plan(t.as_bytes(), 1).is_none());
        let flow = format!("nsgs: [{}]\n", "x, ".repeat(1_000_000));
        assert!(plan(flow.as_bytes(), 8).is_none());
    }
}
