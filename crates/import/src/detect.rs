//! What a parsed file is, decided by its content.

use crate::json::Val;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// `az network ... list -o json` (an array) or `... show` (one object).
    AzCli,
    /// `az graph query` output: `{"data": [...], "count": N, ...}`.
    ResourceGraph,
    /// An ARM template (languageVersion 1 or 2.0).
    ArmTemplate,
    /// An ARM parameter file (`deploymentParameters.json` schema).
    ArmParameters,
    /// `terraform show -json` (state or plan).
    Terraform,
    /// `az network routeserver peering list-learned-routes`:
    /// `{"RouteServiceRole_IN_0": [...], "RouteServiceRole_IN_1": [...]}`.
    LearnedRoutes,
}

/// Detects the kind of a document, or `None` if it is not an import source.
pub fn detect(v: &Val) -> Option<SourceKind> {
    if let Some(items) = v.as_arr() {
        let all_resources = items.iter().all(is_resource);
        return all_resources.then_some(SourceKind::AzCli);
    }
    let members = v.as_obj()?;
    let learned =
        |(k, x): &(String, Val)| k.starts_with("RouteServiceRole_IN_") && x.as_arr().is_some();
    if !members.is_empty() && members.iter().all(learned) {
        return Some(SourceKind::LearnedRoutes);
    }
    if crate::terraform::is_terraform(v) {
        return Some(SourceKind::Terraform);
    }
    if crate::arm::is_template(v) {
        return Some(SourceKind::ArmTemplate);
    }
    if crate::arm::is_parameters(v) {
        return Some(SourceKind::ArmParameters);
    }
    if let Some(data) = v.key("data").and_then(Val::as_arr) {
        return data
            .iter()
            .all(is_resource)
            .then_some(SourceKind::ResourceGraph);
    }
    is_resource(v).then_some(SourceKind::AzCli)
}

/// An object with a string `id` and a `type` like `Microsoft.X/y`.
fn is_resource(v: &Val) -> bool {
    let id = v.key("id").and_then(Val::as_str);
    let ty = v.key("type").and_then(Val::as_str);
    matches!((id, ty), (Some(i), Some(t)) if i.starts_with('/') && t.contains('/'))
}
