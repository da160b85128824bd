//! az CLI exports: `az network ... list -o json` arrays (or one `show`
//! object). Properties are flattened to the top level at every level the
//! REST spec marks `x-ms-client-flatten`; [`crate::ir::prop`] reads that shape.

use crate::ir::{from_object, Resource};
use crate::json::Val;

/// The resources of one az CLI document.
pub fn resources(doc: &Val, file: &str) -> Vec<Resource> {
    match doc.as_arr() {
        Some(items) => items.iter().filter_map(|v| from_object(v, file)).collect(),
        None => from_object(doc, file).into_iter().collect(),
    }
}
