//! Reading a topology with a bound on the bytes actually read: a file that
//! claims one size and holds another, `/dev/zero` or an endless pipe all stop
//! at [`Limits::max_input_bytes`] with a located error.

use std::io::Read;
use std::path::Path;

use crate::limits::Limits;
use crate::node::{Loc, SyntaxError};

/// Bytes asked of the reader at a time.
const CHUNK: usize = 64 << 10;

/// Reads the topology at `path` as UTF-8 text, at most
/// `limits.max_input_bytes` of it.
pub fn read_topology(path: &Path, limits: &Limits) -> Result<String, SyntaxError> {
    let file = std::fs::File::open(path).map_err(|e| SyntaxError {
        loc: Loc { line: 1, col: 1 },
        message: format!("cannot read the topology file: {e}"),
    })?;
    read_text(file, limits)
}

/// Reads UTF-8 topology text from `reader`, at most `limits.max_input_bytes`
/// of it: one byte more is read and is an error located where the limit was
/// crossed. A NUL byte (never valid in YAML or JSON) stops reading at once.
pub fn read_text(reader: impl Read, limits: &Limits) -> Result<String, SyntaxError> {
    let cap = Cap {
        max_bytes: limits.max_input_bytes,
        what: "the topology file",
        limit: "max_input_bytes",
    };
    read_capped(reader, &cap)
}

/// The text of a file that goes with a topology (assertions, guards, owners), read as a
/// topology is, at most [`Limits::max_input_bytes`] of it; an error is the message a command
/// prints: `PATH:LINE:COL: error: ...`.
pub fn read_side_file(path: &Path, what: &'static str) -> Result<String, String> {
    let located = |loc: Loc, m: &str| format!("{}:{loc}: error: {m}", path.display());
    let file = std::fs::File::open(path)
        .map_err(|e| located(Loc { line: 1, col: 1 }, &format!("cannot read: {e}")))?;
    let cap = Cap {
        max_bytes: Limits::default().max_input_bytes,
        what,
        limit: "max_input_bytes",
    };
    read_capped(file, &cap).map_err(|e| located(e.loc, &e.message))
}

/// What a bounded read may take, and how its messages name the input and the limit.
pub struct Cap {
    /// Bytes read at most; one more is an error.
    pub max_bytes: u64,
    /// The input, as messages name it (`the topology file`, `the import source`).
    pub what: &'static str,
    /// The limit, as messages name it.
    pub limit: &'static str,
}

/// Reads UTF-8 text from `reader` (YAML or JSON: a NUL byte stops reading at once), at most
/// `cap.max_bytes` of it, whatever size the input claims: one byte more is read and is an
/// error located where the limit was crossed.
pub fn read_capped(reader: impl Read, cap: &Cap) -> Result<String, SyntaxError> {
    let mut reader = reader.take(cap.max_bytes.saturating_add(1));
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(SyntaxError {
                    loc: loc_at(&bytes, bytes.len()),
                    message: format!("cannot read {}: {e}", cap.what),
                })
            }
        };
        if let Some(i) = chunk[..n].iter().position(|&b| b == 0) {
            bytes.extend_from_slice(&chunk[..i]);
            return Err(SyntaxError {
                loc: loc_at(&bytes, bytes.len()),
                message: "expected YAML or JSON text, found a NUL byte".into(),
            });
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    if bytes.len() as u64 > cap.max_bytes {
        let at = cap.max_bytes as usize;
        return Err(SyntaxError {
            loc: loc_at(&bytes, at),
            message: format!(
                "{} is larger than {} bytes (the limit is {}); reading stopped here",
                cap.what, cap.max_bytes, cap.limit
            ),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        SyntaxError {
            loc: loc_at(e.as_bytes(), at),
            message: "expected UTF-8 text, found an invalid byte sequence".into(),
        }
    })
}

/// The 1-based line and column (in characters) of byte `at` of `bytes`.
fn loc_at(bytes: &[u8], at: usize) -> Loc {
    let before = &bytes[..at.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    // Continuation bytes of UTF-8 do not start a character.
    let col = before[line_start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count()
        + 1;
    Loc {
        line: line as u32,
        col: col as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_bytes() {
        assert_eq!(loc_at(b"ab\ncd", 4), Loc { line: 2, col: 2 });
        assert_eq!(loc_at(b"", 0), Loc { line: 1, col: 1 });
        assert_eq!(loc_at("é\nxé".as_bytes(), 6), Loc { line: 2, col: 3 });
    }
}
