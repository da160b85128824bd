//! The ARM template expression language: `[func(args).member[index]]`.
//! Parsing is bounded in nesting depth; every node keeps its byte offset in
//! the expression text so errors point at a column.

/// Deepest nesting of calls, members and indexes accepted.
pub const MAX_NESTING: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Str(String),
    Int(i64),
    Call(String, Vec<E>),
    Member(Box<E>, String),
    Index(Box<E>, Box<E>),
}

/// An expression node and its byte offset in the expression text.
#[derive(Clone, Debug, PartialEq)]
pub struct E {
    pub k: Expr,
    pub off: usize,
}

/// A parse error at a byte offset of the expression text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub off: usize,
    pub message: String,
}

/// What a template string is: a literal (after `[[` unescaping) or an expression.
pub enum Template<'a> {
    Literal(std::borrow::Cow<'a, str>),
    /// The expression text (without the brackets) and its offset in the string.
    Expression(&'a str, usize),
}

/// Classifies a JSON string value.
pub fn classify(s: &str) -> Template<'_> {
    if let Some(rest) = s.strip_prefix("[[") {
        return Template::Literal(format!("[{rest}").into());
    }
    let t = s.trim_end();
    if t.starts_with('[') && t.ends_with(']') && t.len() >= 2 {
        return Template::Expression(&t[1..t.len() - 1], 1);
    }
    Template::Literal(s.into())
}

/// Parses expression text (the part inside the brackets).
pub fn parse(text: &str) -> Result<E, ParseError> {
    let mut p = P {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    p.ws();
    let e = p.expr()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err("unexpected text after the expression"));
    }
    Ok(e)
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl P<'_> {
    fn err(&self, m: &str) -> ParseError {
        ParseError {
            off: self.i,
            message: m.to_string(),
        }
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && (self.s[self.i] as char).is_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn expr(&mut self) -> Result<E, ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(&format!(
                "expression nested deeper than {MAX_NESTING} levels"
            )));
        }
        let mut e = self.primary()?;
        loop {
            self.ws();
            match self.peek() {
                Some(b'.') => {
                    let off = self.i;
                    self.i += 1;
                    self.ws();
                    let name = self.ident()?;
                    e = E {
                        k: Expr::Member(Box::new(e), name),
                        off,
                    };
                }
                Some(b'[') => {
                    let off = self.i;
                    self.i += 1;
                    self.ws();
                    let ix = self.expr()?;
                    self.ws();
                    if self.peek() != Some(b']') {
                        return Err(self.err("expected ']'"));
                    }
                    self.i += 1;
                    e = E {
                        k: Expr::Index(Box::new(e), Box::new(ix)),
                        off,
                    };
                }
                _ => break,
            }
        }
        self.depth -= 1;
        Ok(e)
    }
    fn ident(&mut self) -> Result<String, ParseError> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric()
                || c == b'_'
                || c == b'$'
                || (c == b'.' && self.i > start && self.is_ns_dot())
            {
                self.i += 1;
            } else {
                break;
            }
        }
        if self.i == start {
            return Err(self.err("expected a name"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    /// A dot inside `namespace.function(` (user-defined functions).
    fn is_ns_dot(&self) -> bool {
        let rest = &self.s[self.i + 1..];
        let n = rest
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        n > 0 && rest.get(n) == Some(&b'(')
    }
    fn primary(&mut self) -> Result<E, ParseError> {
        self.ws();
        let off = self.i;
        match self.peek() {
            None => Err(self.err("unexpected end of expression")),
            Some(b'\'') => Ok(E {
                k: Expr::Str(self.string()?),
                off,
            }),
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                self.i += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[off..self.i]).unwrap_or("");
                let n = t.parse::<i64>().map_err(|_| ParseError {
                    off,
                    message: format!("invalid number '{t}'"),
                })?;
                Ok(E {
                    k: Expr::Int(n),
                    off,
                })
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                let name = self.ident()?;
                self.ws();
                if self.peek() != Some(b'(') {
                    return Err(ParseError {
                        off,
                        message: format!("expected '(' after function name '{name}'"),
                    });
                }
                self.i += 1;
                let args = self.args()?;
                Ok(E {
                    k: Expr::Call(name, args),
                    off,
                })
            }
            Some(_) => Err(self.err("expected a function call, a string or a number")),
        }
    }
    fn args(&mut self) -> Result<Vec<E>, ParseError> {
        let mut args = Vec::new();
        self.ws();
        if self.peek() == Some(b')') {
            self.i += 1;
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    return Ok(args);
                }
                None => return Err(self.err("unterminated argument list (missing ')')")),
                _ => return Err(self.err("expected ',' or ')'")),
            }
        }
    }
    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.i;
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError {
                        off: start,
                        message: "unterminated string literal".into(),
                    })
                }
                Some(b'\'') if self.s.get(self.i + 1) == Some(&b'\'') => {
                    out.push(b'\'');
                    self.i += 2;
                }
                Some(b'\'') => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_calls_members_and_indexes() {
        let e = parse("reference(variables('fw')).ipConfigurations[0].properties.privateIPAddress")
            .unwrap();
        assert!(matches!(e.k, Expr::Member(_, ref n) if n == "privateIPAddress"));
        let s = parse("concat('it''s', 'x')").unwrap();
        let Expr::Call(_, a) = s.k else { panic!() };
        assert_eq!(a[0].k, Expr::Str("it's".into()));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("{}1{}", "not(".repeat(200), ")".repeat(200));
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("nested deeper"));
    }
}
