//! Azure Resource Graph output (`az graph query -q ... -o json`): pages of
//! `{"count", "data": [...], "skip_token", "total_records"}`. Types are
//! lower-case, `properties` keep the REST shape. Resource Graph does not
//! index firewall policy rule collection groups: add the az export of those.

use crate::ir::{from_object, Resource};
use crate::json::Val;

/// The resources of one Resource Graph page.
pub fn resources(doc: &Val, file: &str) -> Vec<Resource> {
    doc.key("data")
        .and_then(Val::as_arr)
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| from_object(v, file))
        .collect()
}
