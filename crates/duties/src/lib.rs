//! # vnetsim-duties: separation of duties over the network
//!
//! In Azure the team that owns one resource can change what a packet meets in resources
//! another team owns: a route table's prefixes join the `VirtualNetwork` tag of every NSG on
//! its subnets (R5.5), a Private Endpoint subnet's policies decide whether other subnets' user
//! routes beat the endpoint's /32 (R4.3), a peering's flags grant transit, a NIC joins an ASG
//! that someone else's rules name. This crate answers, from the compiled fabric:
//!
//! - [`owners`]: every resource's owner boundary: an owner file's rules, the `origin.owner`
//!   written in the topology, the tenant, subscription and resource group kept by the
//!   importer, or the owner file's default;
//! - [`resources`]: the resources of a topology by kind and name, which of them changed between
//!   two topologies, and one resource's change applied to (or reverted from) a topology;
//! - [`influence`]: the influence map of `vnetsim audit duties`: for each pair of boundaries,
//!   the decisions inside one that depend on resources the other owns, with the reachability
//!   each changes today (by sweep, with and without the other's contribution), ranked by what
//!   it exposes;
//! - [`guard`]: `vnetsim diff --guard`: protected properties (assertions in the `check` form)
//!   with owners, the changes that alter them, and the approvals those changes need.
//!
//! It sits beside `vnetsim-jobs` and uses its sweep, diff and check; every packet decision is
//! the engine's over the compiled fabric. It prints nothing: results come back as values, and
//! [`render`] turns them into text and JSON.

pub mod guard;
pub mod influence;
pub mod owners;
pub mod render;
pub mod resources;
