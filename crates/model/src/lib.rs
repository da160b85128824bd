//! # vnetsim-model: the fabric as the user wrote it
//!
//! The first layer of vnetsim. It reads a topology file (format version 1,
//! YAML or JSON, Azure's names and camelCase) and gives back typed
//! structures, or every problem in the file at once, each with its file,
//! line, column and the expected form.
//!
//! Layers inside, each with one job:
//! - [`node`]: the document as a tree of located nodes (one parser for YAML
//!   and JSON; bounded in size and depth, aliases included);
//! - [`decode`]: the tree into [`types`], strictly: unknown keys, wrong
//!   types and bad enum values are errors, features outside v1 are named;
//! - [`validate`]: cross-references and Azure's own constraints (dangling
//!   names, overlaps, reserved addresses, priorities, special subnets).
//!
//! The model knows nothing of packets or routes; `vnetsim-fabric` compiles
//! a [`Validated`] topology into the data plane.

pub mod assertions;
pub mod control_plane;
pub mod decode;
pub mod diag;
pub mod generate;
pub mod node;
pub mod types;
pub mod validate;

use std::path::Path;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use node::Loc;
pub use types::*;
pub use validate::{is_reserved, FIREWALL_SUBNET, GATEWAY_SUBNET};

/// Largest topology file read (a guard against unbounded memory).
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// A topology that passed validation: the only input the fabric compiler takes.
#[derive(Clone, Debug)]
pub struct Validated {
    topology: Topology,
    /// Warnings found while validating (errors make validation fail).
    pub warnings: Diagnostics,
}

impl Validated {
    pub fn topology(&self) -> &Topology {
        &self.topology
    }
}

/// Parses and validates topology text; `file` is the name used in messages.
pub fn load_str(file: &str, text: &str) -> Result<Validated, Diagnostics> {
    let mut d = Diagnostics::new(file);
    let root = match node::parse(text) {
        Ok(r) => r,
        Err(e) => {
            d.error(e.loc, format!("syntax error: {}", e.message));
            return Err(d);
        }
    };
    let t = decode::decode(&mut d, &root);
    if !d.has_errors() {
        validate::validate(&t, &mut d);
    }
    d.sort();
    if d.has_errors() {
        return Err(d);
    }
    Ok(Validated {
        topology: t,
        warnings: d,
    })
}

/// Reads, parses and validates a topology file.
pub fn load(path: &Path) -> Result<Validated, Diagnostics> {
    let name = path.display().to_string();
    let fail = |msg: String| {
        let mut d = Diagnostics::new(name.clone());
        d.error(Loc { line: 1, col: 1 }, msg);
        d
    };
    let meta =
        std::fs::metadata(path).map_err(|e| fail(format!("cannot read the topology file: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(format!(
            "topology file is {} bytes; the limit is {MAX_FILE_BYTES}",
            meta.len()
        )));
    }
    let bytes =
        std::fs::read(path).map_err(|e| fail(format!("cannot read the topology file: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| fail("the topology file is not UTF-8 text".to_string()))?;
    load_str(&name, &text)
}
