//! The limits the topology-reading targets share: small, so that the fuzzer reaches each of
//! them with small inputs.

use vnetsim_model::Limits;

pub const LIMITS: Limits = Limits {
    max_input_bytes: 1 << 20,
    max_scalar_bytes: 256,
    max_nodes: 20_000,
    max_flow_entries: 5_000,
    max_depth: 64,
    max_alias_bytes: 64 << 10,
    max_diagnostics: 20,
};
