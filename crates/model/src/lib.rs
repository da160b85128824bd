//! # vnetsim-model: the fabric as the user wrote it
//!
//! The first layer of vnetsim. It reads a topology file (format version 1,
//! YAML or JSON, Azure's names and camelCase) and gives back typed
//! structures, or every problem in the file at once, each with its file,
//! line, column and the expected form.
//!
//! Layers inside, each with one job:
//! - [`read`]: the bytes, at most [`Limits::max_input_bytes`] of them,
//!   whatever size the file claims;
//! - [`node`]: the document as a tree of located nodes (one parser for YAML
//!   and JSON; nodes, depth, scalar length and alias expansion bounded by
//!   [`Limits`]);
//! - [`decode`]: the tree into [`types`], strictly: unknown keys, wrong
//!   types and bad enum values are errors, features outside v1 are named;
//! - [`validate`]: cross-references and Azure's own constraints (dangling
//!   names, overlaps, reserved addresses, priorities, special subnets).
//!
//! Every resource spent on a file is bounded by a [`Limits`] field with a
//! stated default ([`load`] and [`load_str`] use the defaults,
//! [`load_with`] and [`load_str_with`] take others); going over one is a
//! located error, and diagnostics are capped at the first
//! [`Limits::max_diagnostics`] with a count of the rest. Validation is
//! linear, or n log n where it sorts prefixes to find overlaps.
//!
//! The model knows nothing of packets or routes; `vnetsim-fabric` compiles
//! a [`Validated`] topology into the data plane.

pub mod admin;
pub mod assertions;
pub mod control_plane;
pub mod decode;
pub mod diag;
pub mod generate;
pub mod limits;
pub mod load_balancer;
pub mod node;
pub mod overlap;
pub mod read;
pub mod route_server;
pub mod service_tags;
mod split;
pub mod types;
pub mod validate;
mod yaml_subset;

use std::path::Path;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use limits::Limits;
pub use limits::{defined_list, defined_of};
pub use load_balancer::{ApplicationGateway, LoadBalancer};
pub use node::Loc;
pub use types::*;
pub use validate::{is_reserved, FIREWALL_SUBNET, GATEWAY_SUBNET};

/// Largest topology read by default ([`Limits::max_input_bytes`]).
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

/// Parses and validates topology text within the default [`Limits`];
/// `file` is the name used in messages.
pub fn load_str(file: &str, text: &str) -> Result<Validated, Diagnostics> {
    load_str_with(file, text, &Limits::default())
}

/// Parses and validates topology text within `limits`.
pub fn load_str_with(file: &str, text: &str, limits: &Limits) -> Result<Validated, Diagnostics> {
    let mut d = Diagnostics::with_limits(file, limits);
    let root = match node::parse_with(text, limits) {
        Ok(r) => r,
        Err(e) => {
            d.error(e.loc, format!("syntax error: {}", e.message));
            return Err(d);
        }
    };
    let mut t = decode::decode(&mut d, &root);
    // Semantic checks run even after decoding errors: objects that did not decode are left
    // out of the topology and references to them are not reported, so what is reported is
    // every independent problem.
    read_service_tags(file, &mut t, limits, &mut d);
    let extra = admin::hub_and_spoke_peerings(&t);
    t.peerings.extend(extra);
    // The tree is freed on a thread of its own while the topology is validated (a tree is
    // millions of allocations).
    std::thread::scope(|scope| {
        scope.spawn(move || drop(root));
        validate::validate(&t, &mut d);
    });
    d.sort();
    if d.has_errors() {
        return Err(d);
    }
    Ok(Validated {
        topology: t,
        warnings: d,
    })
}

/// Validates a topology built or edited in memory (a counterfactual: one resource changed,
/// one setting reverted), with the same checks as a file; `file` names it in messages.
pub fn revalidate(file: &str, t: Topology) -> Result<Validated, Diagnostics> {
    let mut d = Diagnostics::new(file);
    validate::validate(&t, &mut d);
    d.sort();
    if d.has_errors() {
        return Err(d);
    }
    Ok(Validated {
        topology: t,
        warnings: d,
    })
}

/// Reads the `serviceTags` file a topology names (relative to the topology's folder), within
/// `limits`; a problem in it is an error at the `serviceTags` key that names the place in the
/// tag file.
fn read_service_tags(file: &str, t: &mut Topology, limits: &Limits, d: &mut Diagnostics) {
    let Some(name) = t.service_tags_file.clone() else {
        return;
    };
    let path = Path::new(&name.value);
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        Path::new(file).parent().unwrap_or(Path::new("")).join(path)
    };
    let text = std::fs::File::open(&path)
        .map_err(|e| format!("cannot read the service-tag file {}: {e}", path.display()))
        .and_then(|f| {
            read::read_text(f, limits)
                .map_err(|e| format!("{}:{}: {}", path.display(), e.loc, e.message))
        });
    let parsed = text.and_then(|text| {
        service_tags::parse(&name.value, &text, limits)
            .map_err(|e| format!("{}:{}: {}", path.display(), e.loc, e.message))
    });
    match parsed {
        Ok(tags) => {
            if tags.ipv6_skipped > 0 {
                d.warning(
                    name.loc,
                    format!(
                        "serviceTags: {} IPv6 prefixes of {} skipped (vnetsim models IPv4 only)",
                        tags.ipv6_skipped, name.value
                    ),
                );
            }
            t.service_tags = Some(tags);
        }
        Err(m) => d.error(name.loc, format!("serviceTags: {m}")),
    }
}

/// Reads, parses and validates a topology file within the default [`Limits`].
pub fn load(path: &Path) -> Result<Validated, Diagnostics> {
    load_with(path, &Limits::default())
}

/// Reads, parses and validates a topology file (or pipe) within `limits`:
/// at most `limits.max_input_bytes` are read, whatever size the file claims.
pub fn load_with(path: &Path, limits: &Limits) -> Result<Validated, Diagnostics> {
    let name = path.display().to_string();
    let text = read::read_topology(path, limits).map_err(|e| {
        let mut d = Diagnostics::with_limits(name.clone(), limits);
        d.error(e.loc, e.message);
        d
    })?;
    load_str_with(&name, &text, limits)
}
