//! The neutral intermediate: every source kind produces a list of
//! [`Resource`]s (ARM id, type, name, subscription, resource group, the
//! properties), and one mapper turns them into the topology. Properties may
//! sit under `properties` (REST, ARM, Resource Graph) or flattened at the
//! top (az CLI); [`prop`] reads both, case-insensitively.

use crate::json::{Pos, Val};

#[derive(Clone, Debug)]
pub struct Resource {
    /// The ARM id as written (may be synthetic for templates).
    pub id: String,
    /// The type as written, e.g. `Microsoft.Network/virtualNetworks`.
    pub type_name: String,
    pub name: String,
    pub subscription: Option<String>,
    pub resource_group: Option<String>,
    pub tenant: Option<String>,
    /// The whole resource object.
    pub body: Val,
    /// Where it came from, for the topology's `origin.source` (ARM id or file:line).
    pub source: String,
    pub pos: Pos,
}

impl Resource {
    /// The type, lower-cased (Resource Graph writes it lower-case).
    pub fn kind(&self) -> String {
        self.type_name.to_ascii_lowercase()
    }
    pub fn prop(&self, k: &str) -> Option<&Val> {
        prop(&self.body, k)
    }
}

/// A property of a resource or sub-resource: under `properties` first, then at the top.
pub fn prop<'a>(v: &'a Val, k: &str) -> Option<&'a Val> {
    v.path(&["properties", k]).or_else(|| v.key(k))
}

/// A path of properties, each step through [`prop`].
pub fn props<'a>(v: &'a Val, keys: &[&str]) -> Option<&'a Val> {
    keys.iter().try_fold(v, |v, k| prop(v, k))
}

/// The `id` of a reference object (`{"id": "..."}`) or a string id.
pub fn ref_id(v: &Val) -> Option<&str> {
    v.as_str().or_else(|| v.key("id").and_then(Val::as_str))
}

/// Subscription and resource group read from an ARM id.
pub fn scope_of(id: &str) -> (Option<String>, Option<String>) {
    let parts: Vec<&str> = id.split('/').collect();
    let after = |k: &str| {
        parts
            .iter()
            .position(|p| p.eq_ignore_ascii_case(k))
            .and_then(|i| parts.get(i + 1))
            .map(|s| s.to_string())
    };
    (after("subscriptions"), after("resourceGroups"))
}

/// The last segment of an ARM id (the resource's own name).
pub fn last_segment(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

/// The id of the parent resource (`.../virtualNetworks/V` for `.../virtualNetworks/V/subnets/S`).
pub fn parent_id(id: &str) -> Option<&str> {
    let t = id.trim_end_matches('/');
    let i = t.rfind('/')?;
    let j = t[..i].rfind('/')?;
    Some(&t[..j])
}

/// Builds a resource from an object carrying `id`, `type` and `name` (az, Resource Graph, REST).
pub fn from_object(v: &Val, source_file: &str) -> Option<Resource> {
    let id = v.key("id")?.as_str()?.to_string();
    let type_name = v.key("type")?.as_str()?.to_string();
    let name = v
        .key("name")
        .and_then(Val::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| last_segment(&id).to_string());
    let (sub, rg) = scope_of(&id);
    let text = |k: &str| v.key(k).and_then(Val::as_str).map(str::to_string);
    Some(Resource {
        subscription: text("subscriptionId").or(sub),
        resource_group: text("resourceGroup").or(rg),
        tenant: text("tenantId"),
        source: id.clone(),
        id,
        type_name,
        name,
        body: v.clone(),
        pos: v.pos,
    })
    .map(|mut r| {
        if r.id.is_empty() {
            r.source = format!("{source_file}:{}", v.pos.line);
        }
        r
    })
}
