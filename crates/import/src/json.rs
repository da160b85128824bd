//! A located, tolerant JSON reader. Every value keeps its file, line and
//! column. It accepts what ARM accepts beyond strict JSON: `//` and `/* */`
//! comments and raw control characters (newlines) inside strings. Bounded:
//! nesting depth is limited, so no input can exhaust the stack.

use std::fmt;

/// Deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 256;

/// A position: index into the file table, 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub file: u32,
    pub line: u32,
    pub col: u32,
}

/// A JSON value (ARM distinguishes integers from other numbers).
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<Val>),
    Obj(Vec<(String, Val)>),
    /// A value Azure assigns at deploy time (templates, plans); the text says
    /// what it is and how to supply it. Its position is the expression's.
    Unknown(String),
}

/// A value with the place it was written (or the expression it came from).
#[derive(Clone, Debug, PartialEq)]
pub struct Val {
    pub v: Json,
    pub pos: Pos,
}

impl Val {
    pub fn new(v: Json, pos: Pos) -> Val {
        Val { v, pos }
    }
    pub fn null(pos: Pos) -> Val {
        Val::new(Json::Null, pos)
    }
    pub fn str(s: impl Into<String>, pos: Pos) -> Val {
        Val::new(Json::Str(s.into()), pos)
    }
    pub fn is_null(&self) -> bool {
        matches!(self.v, Json::Null)
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.v {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_arr(&self) -> Option<&[Val]> {
        match &self.v {
            Json::Arr(a) => Some(a),
            _ => None,
        }
    }
    pub fn as_obj(&self) -> Option<&[(String, Val)]> {
        match &self.v {
            Json::Obj(o) => Some(o),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match &self.v {
            Json::Int(i) => Some(*i),
            Json::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => Some(*f as i64),
            Json::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
    /// A boolean, tolerating Azure's strings (`"False"`, `"true"`).
    pub fn as_bool(&self) -> Option<bool> {
        match &self.v {
            Json::Bool(b) => Some(*b),
            Json::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Json::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }
    /// A member by exact name, then case-insensitively (ARM names are case-insensitive).
    pub fn key(&self, k: &str) -> Option<&Val> {
        let o = self.as_obj()?;
        o.iter()
            .find(|(n, _)| n == k)
            .or_else(|| o.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }
    /// A path of members, e.g. `["properties", "addressSpace"]`.
    pub fn path(&self, keys: &[&str]) -> Option<&Val> {
        keys.iter().try_fold(self, |v, k| v.key(k))
    }
    /// The type name used in messages.
    pub fn describe(&self) -> &'static str {
        match self.v {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Int(_) | Json::Float(_) => "a number",
            Json::Str(_) => "a string",
            Json::Arr(_) => "an array",
            Json::Obj(_) => "an object",
            Json::Unknown(_) => "a deploy-time value",
        }
    }
}

/// A syntax error with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.pos.line, self.pos.col, self.message)
    }
}

/// Parses one JSON document; `file` is the index stored in every position.
pub fn parse(text: &str, file: u32) -> Result<Val, SyntaxError> {
    let mut p = Reader {
        s: text.as_bytes(),
        i: 0,
        line: 1,
        col: 1,
        file,
    };
    p.skip_ws()?;
    let v = p.value(0)?;
    p.skip_ws()?;
    if p.i < p.s.len() {
        return Err(p.err("unexpected text after the JSON value"));
    }
    Ok(v)
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
    line: u32,
    col: u32,
    file: u32,
}

impl Reader<'_> {
    fn pos(&self) -> Pos {
        Pos {
            file: self.file,
            line: self.line,
            col: self.col,
        }
    }
    fn err(&self, m: &str) -> SyntaxError {
        SyntaxError {
            pos: self.pos(),
            message: m.to_string(),
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if c & 0xC0 != 0x80 {
            self.col += 1;
        }
        Some(c)
    }
    fn skip_ws(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    self.bump();
                }
                Some(0xEF) if self.s[self.i..].starts_with(&[0xEF, 0xBB, 0xBF]) => {
                    self.i += 3;
                }
                Some(b'/') => self.comment()?,
                _ => return Ok(()),
            }
        }
    }
    fn comment(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos();
        match self.s.get(self.i + 1) {
            Some(b'/') => {
                while let Some(c) = self.peek() {
                    if c == b'\n' {
                        break;
                    }
                    self.bump();
                }
                Ok(())
            }
            Some(b'*') => {
                self.bump();
                self.bump();
                loop {
                    match self.bump() {
                        None => {
                            return Err(SyntaxError {
                                pos: start,
                                message: "unterminated comment".into(),
                            })
                        }
                        Some(b'*') if self.peek() == Some(b'/') => {
                            self.bump();
                            return Ok(());
                        }
                        _ => {}
                    }
                }
            }
            _ => Err(self.err("unexpected '/'")),
        }
    }
    fn value(&mut self, depth: usize) -> Result<Val, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.err(&format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        let pos = self.pos();
        let v = match self.peek() {
            None => return Err(self.err("unexpected end of input (truncated JSON?)")),
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Json::Str(self.string()?),
            Some(b't') => self.word("true", Json::Bool(true))?,
            Some(b'f') => self.word("false", Json::Bool(false))?,
            Some(b'n') => self.word("null", Json::Null)?,
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number()?,
            Some(_) => return Err(self.err("expected a JSON value")),
        };
        Ok(Val::new(v, pos))
    }
    fn word(&mut self, w: &str, v: Json) -> Result<Json, SyntaxError> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            for _ in 0..w.len() {
                self.bump();
            }
            Ok(v)
        } else {
            Err(self.err("expected a JSON value"))
        }
    }
    fn number(&mut self) -> Result<Json, SyntaxError> {
        let start = self.i;
        let pos = self.pos();
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.bump();
            } else {
                break;
            }
        }
        let t = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        if let Ok(i) = t.parse::<i64>() {
            return Ok(Json::Int(i));
        }
        t.parse::<f64>().map(Json::Float).map_err(|_| SyntaxError {
            pos,
            message: format!("invalid number '{t}'"),
        })
    }
    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos();
        self.bump();
        let mut out: Vec<u8> = Vec::new();
        loop {
            match self.bump() {
                None => {
                    return Err(SyntaxError {
                        pos: start,
                        message: "unterminated string (truncated JSON?)".into(),
                    })
                }
                Some(b'"') => break,
                Some(b'\\') => self.escape(&mut out)?,
                Some(c) => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| SyntaxError {
            pos: start,
            message: "string is not valid UTF-8".into(),
        })
    }
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), SyntaxError> {
        let c = self
            .bump()
            .ok_or_else(|| self.err("unterminated string (truncated JSON?)"))?;
        let ch = match c {
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'u' => self.unicode()?,
            b'"' | b'\\' | b'/' => c as char,
            _ => return Err(self.err("invalid escape in string")),
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }
    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let c = self
                .bump()
                .ok_or_else(|| self.err("truncated \\u escape"))?;
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.err("invalid \\u escape"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }
    fn unicode(&mut self) -> Result<char, SyntaxError> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) && self.s[self.i..].starts_with(b"\\u") {
            self.bump();
            self.bump();
            let lo = self.hex4()?;
            let c = 0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
            return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
        }
        Ok(char::from_u32(hi).unwrap_or('\u{FFFD}'))
    }
    fn array(&mut self, depth: usize) -> Result<Json, SyntaxError> {
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            if self.peek() == Some(b']') {
                self.bump();
                return Ok(Json::Arr(items));
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => {
                    self.bump();
                }
                Some(b']') => {}
                None => {
                    return Err(self.err("unexpected end of input in an array (truncated JSON?)"))
                }
                _ => return Err(self.err("expected ',' or ']' in an array")),
            }
        }
    }
    fn object(&mut self, depth: usize) -> Result<Json, SyntaxError> {
        self.bump();
        let mut members = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(b'}') => {
                    self.bump();
                    return Ok(Json::Obj(members));
                }
                Some(b'"') => {}
                None => {
                    return Err(self.err("unexpected end of input in an object (truncated JSON?)"))
                }
                _ => return Err(self.err("expected a member name in double quotes")),
            }
            let k = self.string()?;
            self.skip_ws()?;
            if self.bump() != Some(b':') {
                return Err(self.err("expected ':' after a member name"));
            }
            self.skip_ws()?;
            let v = self.value(depth + 1)?;
            members.push((k, v));
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => {
                    self.bump();
                }
                Some(b'}') => {}
                None => {
                    return Err(self.err("unexpected end of input in an object (truncated JSON?)"))
                }
                _ => return Err(self.err("expected ',' or '}' in an object")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_raw_newlines_are_accepted() {
        let v = parse("{ // c\n \"a\": \"x\ny\", /* b */ \"n\": 3 }", 0).unwrap();
        assert_eq!(v.key("a").unwrap().as_str(), Some("x\ny"));
        assert_eq!(v.key("N").unwrap().as_i64(), Some(3));
        assert_eq!(v.key("n").unwrap().pos.line, 3);
    }

    #[test]
    fn truncated_input_is_located() {
        let e = parse("{\n  \"a\": [1, 2", 0).unwrap_err();
        assert_eq!(e.pos.line, 2);
        assert!(e.message.contains("truncated"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let s = "[".repeat(100_000);
        let e = parse(&s, 0).unwrap_err();
        assert!(e.message.contains("nesting"));
    }
}
