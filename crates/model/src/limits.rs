//! Resource limits for reading a topology.
//!
//! A topology file comes from the user, and sometimes from a tool or an
//! attacker. Every resource the model spends on it is bounded by one of these
//! limits, and going over a limit is reported like any other problem: a
//! located error naming the limit, never an allocation failure or a hang.
//!
//! The defaults are well above what a real estate needs (the generated
//! 52,000-subnet fabric, 4,000 vnets, is 24 MB, 2.4 M nodes and 1.1 M flow
//! entries: a tenth of the input limit, a quarter of the node limit and a
//! third of the flow limit) and keep the worst case of a hostile file to
//! under 3 GB and 20 s (see [`Limits::max_flow_entries`]).

/// Bounds on what reading, parsing and validating one topology may spend.
///
/// Build one with [`Limits::default`] and change the fields that need it:
///
/// ```
/// let limits = vnetsim_model::Limits {
///     max_input_bytes: 1 << 20,
///     ..Default::default()
/// };
/// assert_eq!(limits.max_depth, 256);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes read from the topology file or pipe. Reading stops one byte past
    /// this limit, whatever size the file claims. Default: 256 MiB.
    pub max_input_bytes: u64,
    /// Bytes in one scalar (a name, a prefix, a key). Messages echo at most
    /// [`Limits::ECHO_BYTES`] of it. Default: 64 KiB.
    pub max_scalar_bytes: usize,
    /// Nodes in the document after alias expansion: every scalar, key, list
    /// and mapping counts one. Default: 32,000,000, what a file near
    /// `max_input_bytes` of a dense fabric holds (the generated 4,000-VNet,
    /// 52,003-subnet fabric with 200 rules per NSG, 146 MB, has 10.4 M).
    pub max_nodes: usize,
    /// Flow-style entries: the `,`, `[` and `{` characters of the text,
    /// counted before parsing (wherever they are, so an upper bound on the
    /// entries of `[...]` and `{...}`). The YAML scanner holds a whole flow
    /// collection (a whole JSON document) in memory, 350 to 600 bytes an
    /// entry, before it yields the first node, so this bounds the parser's
    /// memory where `max_nodes` comes too late. Counted per outermost flow
    /// collection: a block-style file of many small flow mappings is not
    /// refused for their total. Default: 3,000,000 (the worst case just under
    /// the limit, a 37 MB flow mapping of 3 M unknown keys, takes 2.6 GB and
    /// 16 s to refuse in a release build).
    pub max_flow_entries: usize,
    /// Nesting depth of lists and mappings. Default: 256.
    pub max_depth: usize,
    /// Bytes that anchors and aliases add to the document (each copied node
    /// costs its text plus the size of a node in memory). Default: 64 MiB.
    pub max_alias_bytes: usize,
    /// Diagnostics kept and printed (errors first, then by position); the
    /// rest are counted and reported as "and N more". Default: 20.
    pub max_diagnostics: usize,
}

impl Limits {
    /// How much of an over-long value a message quotes.
    pub const ECHO_BYTES: usize = 40;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: crate::MAX_FILE_BYTES,
            max_scalar_bytes: 64 << 10,
            max_nodes: 32_000_000,
            max_flow_entries: 3_000_000,
            max_depth: 256,
            max_alias_bytes: 64 << 20,
            max_diagnostics: 20,
        }
    }
}

/// A value quoted in a message: at most [`Limits::ECHO_BYTES`] of it, cut at
/// a character boundary, then an ellipsis and the full length
/// (`aaaa… (70000 bytes)`). Formatting it costs no more than the prefix.
#[derive(Clone, Copy, Debug)]
pub struct Echo<'a>(pub &'a str);

impl std::fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        if s.len() <= Limits::ECHO_BYTES {
            return f.write_str(s);
        }
        let end = floor_char_boundary(s, Limits::ECHO_BYTES);
        write!(f, "{}… ({} bytes)", &s[..end], s.len())
    }
}

/// The largest character boundary of `s` at or below `at`.
pub(crate) fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut end = at.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// How many names (or prefixes) a message lists before "... (N in all)".
pub(crate) const LISTED: usize = 12;

/// The names a reference could have used, for an "unknown NAME" message:
/// at most [`LISTED`], each echoed short, so the message costs the same
/// however many are defined (`defined: a, b, ... (N in all)`, or `none are defined`).
pub fn defined_list<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    let total = names.len();
    defined_of(names, total)
}

/// [`defined_list`] of names given one by one, `total` of them in all (the names past the
/// first [`LISTED`] are never asked for, so a caller can make them lazily).
pub fn defined_of<S: AsRef<str>>(names: impl Iterator<Item = S>, total: usize) -> String {
    let shown: Vec<String> = names
        .take(LISTED)
        .map(|n| Echo(n.as_ref()).to_string())
        .collect();
    if total == 0 {
        "none are defined".to_string()
    } else if total > LISTED {
        format!("defined: {}, ... ({total} in all)", shown.join(", "))
    } else {
        format!("defined: {}", shown.join(", "))
    }
}
