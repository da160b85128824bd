//! ARM templates (languageVersion 1 and 2.0, compiled Bicep included),
//! evaluated offline into resources for the mapper.
//!
//! - [`expr`]: the expression parser;
//! - [`eval`]: a template as a deployment (parameters, variables, copy
//!   loops, conditions, nested and linked deployments, outputs);
//! - [`funcs`]: the functions.
//!
//! Scope functions take their values from the options, with stated defaults
//! ([`DEFAULT_SUBSCRIPTION`], [`DEFAULT_RESOURCE_GROUP`], [`DEFAULT_LOCATION`]).
//! Linked templates are read from local files only: `file://` links, links
//! relative to the template, and URL prefixes mapped by `--template-root`.
//! Values Azure assigns at deploy time become "unknown" values; one that
//! reaches a network resource is refused with the expression's file:line:col.

pub mod eval;
pub mod expr;
pub mod funcs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::ir::Resource;
use crate::json::{Json, Pos, Val};
use crate::mapper::{classify, Class};
use crate::{Diag, Files, ImportOptions};

pub const DEFAULT_SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";
pub const DEFAULT_RESOURCE_GROUP: &str = "rg-imported";
pub const DEFAULT_LOCATION: &str = "westeurope";
/// Function calls allowed for one import (bounds time on any input).
pub const FUEL: u64 = 20_000_000;

pub(crate) struct Arm<'a> {
    pub files: &'a mut Files,
    pub opts: &'a ImportOptions,
    pub fuel: u64,
    pub errors: Vec<Diag>,
    pub notes: Vec<String>,
    pub out: Vec<Resource>,
    pub subnets: HashMap<String, String>,
    pub used_sets: Vec<String>,
    pub loaded: HashMap<PathBuf, (Val, u32)>,
    /// Evaluated resources by lower-cased name and id, for `reference()` across templates.
    pub registry: HashMap<String, eval::RefInfo>,
    /// The expression being evaluated (for messages).
    pub current_expr: String,
    /// How deeply lazy values are being evaluated inside each other.
    pub nesting: usize,
}

/// What an ARM import gives: resources, notes, or located errors.
pub struct ArmResult {
    pub resources: Vec<Resource>,
    pub notes: Vec<String>,
}

/// Whether a document is an ARM template.
pub fn is_template(v: &Val) -> bool {
    let schema = v
        .key("$schema")
        .and_then(Val::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    schema.contains("deploymenttemplate.json")
        || (v.key("resources").is_some() && v.key("contentVersion").is_some())
}

/// Whether a document is an ARM parameter file.
pub fn is_parameters(v: &Val) -> bool {
    let schema = v
        .key("$schema")
        .and_then(Val::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    schema.contains("deploymentparameters.json")
        || (v.key("parameters").is_some()
            && v.key("contentVersion").is_some()
            && v.key("resources").is_none())
}

/// Stack for evaluation: nesting is bounded by counts, this makes the bound safe.
const EVAL_STACK: usize = 512 << 20;

/// Evaluates root templates (with parameter files) into resources, on a thread with a large stack.
pub fn resources(
    roots: &[Val],
    params: &[Val],
    files: &mut Files,
    opts: &ImportOptions,
) -> Result<ArmResult, Vec<Diag>> {
    std::thread::scope(|s| {
        let h = std::thread::Builder::new()
            .stack_size(EVAL_STACK)
            .spawn_scoped(s, || evaluate(roots, params, files, opts));
        match h.map(|h| h.join()) {
            Ok(Ok(r)) => r,
            _ => Err(vec![Diag {
                file: "?".into(),
                line: 1,
                col: 1,
                message: "template evaluation failed (internal error)".into(),
            }]),
        }
    })
}

fn evaluate(
    roots: &[Val],
    params: &[Val],
    files: &mut Files,
    opts: &ImportOptions,
) -> Result<ArmResult, Vec<Diag>> {
    let mut a = Arm {
        files,
        opts,
        fuel: FUEL,
        errors: Vec::new(),
        notes: Vec::new(),
        out: Vec::new(),
        subnets: HashMap::new(),
        used_sets: Vec::new(),
        loaded: HashMap::new(),
        registry: HashMap::new(),
        current_expr: String::new(),
        nesting: 0,
    };
    a.scope_notes();
    let given = parameter_values(params);
    for root in roots {
        let file = root.pos.file;
        let path = a.files.name(file).to_string();
        let uri = file_uri(Path::new(&path));
        let sub = a.default_sub();
        let rg = (!subscription_scope(root)).then(|| a.default_rg());
        let name = Path::new(&path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let loc = opts
            .location
            .clone()
            .unwrap_or_else(|| DEFAULT_LOCATION.into());
        let Ok(d) = a.new_dep(
            file,
            root.clone(),
            name,
            uri,
            sub,
            rg,
            loc,
            0,
            given.clone(),
        ) else {
            continue;
        };
        let _ = a.deployment(d);
    }
    if !a.errors.is_empty() {
        return Err(a.errors);
    }
    Ok(ArmResult {
        resources: a.out,
        notes: a.notes,
    })
}

fn subscription_scope(t: &Val) -> bool {
    let s = t
        .key("$schema")
        .and_then(Val::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    s.contains("subscriptiondeploymenttemplate")
        || s.contains("tenantdeploymenttemplate")
        || s.contains("managementgroupdeploymenttemplate")
}

/// `{name: {value}}` of parameter files (later files win).
fn parameter_values(params: &[Val]) -> HashMap<String, Val> {
    let mut out = HashMap::new();
    for p in params {
        for (k, v) in p.key("parameters").and_then(Val::as_obj).unwrap_or(&[]) {
            if let Some(x) = v.key("value") {
                out.insert(k.to_ascii_lowercase(), x.clone());
            }
        }
    }
    out
}

fn file_uri(p: &Path) -> String {
    let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    format!("file://{}", abs.display())
}

impl Arm<'_> {
    pub(crate) fn default_sub(&self) -> String {
        self.opts
            .subscription_id
            .clone()
            .unwrap_or_else(|| DEFAULT_SUBSCRIPTION.into())
    }
    pub(crate) fn default_rg(&self) -> String {
        self.opts
            .resource_group
            .clone()
            .unwrap_or_else(|| DEFAULT_RESOURCE_GROUP.into())
    }
    pub(crate) fn tenant(&self) -> String {
        self.opts
            .tenant
            .clone()
            .unwrap_or_else(|| DEFAULT_SUBSCRIPTION.into())
    }

    fn scope_notes(&mut self) {
        if self.opts.subscription_id.is_none() {
            self.notes.push(format!("subscription().subscriptionId defaulted to {DEFAULT_SUBSCRIPTION} (--subscription-id)"));
        }
        if self.opts.resource_group.is_none() {
            self.notes.push(format!(
                "resourceGroup().name defaulted to {DEFAULT_RESOURCE_GROUP} (--resource-group)"
            ));
        }
        if self.opts.location.is_none() {
            self.notes.push(format!(
                "location defaulted to {DEFAULT_LOCATION} (--location)"
            ));
        }
        self.notes.push("newGuid(), utcNow() give fixed values; uniqueString() and guid() give stable stand-ins (names only)".into());
    }

    /// A linked template, from a local file only.
    pub(crate) fn linked(&mut self, uri: &str, pos: Pos) -> Result<(Val, u32), ()> {
        let Some(path) = self.local_path(uri) else {
            return self.fail(
                pos,
                format!("linked template '{uri}' is not a local file; map its URL prefix to a folder with --template-root PREFIX=DIR (nothing is fetched)"),
            );
        };
        if let Some(v) = self.loaded.get(&path) {
            return Ok(v.clone());
        }
        let text = match crate::read_text(&path) {
            Ok(t) => t,
            Err(e) => {
                return self.fail(
                    pos,
                    format!("linked template '{uri}' ({}): {e}", path.display()),
                )
            }
        };
        let file = self.files.add(path.display().to_string());
        match crate::json::parse(&text, file) {
            Ok(v) => {
                self.loaded.insert(path, (v.clone(), file));
                Ok((v, file))
            }
            Err(e) => self.fail(e.pos, format!("malformed JSON: {}", e.message)),
        }
    }

    fn local_path(&self, uri: &str) -> Option<PathBuf> {
        let clean = uri.split(['?', '#']).next().unwrap_or(uri);
        for (prefix, dir) in &self.opts.template_roots {
            if let Some(rest) = clean.strip_prefix(prefix.as_str()) {
                return Some(dir.join(rest.trim_start_matches('/')));
            }
        }
        clean.strip_prefix("file://").map(PathBuf::from)
    }
}

/// Properties that do not decide where a packet goes (DNS, tags, SKU, logging).
const NOT_PACKET_PATH: &[&str] = &[
    "dnsSettings",
    "dhcpOptions",
    "tags",
    "insights",
    "intrusionDetection",
    "threatIntelWhitelist",
    "transportSecurity",
    "explicitProxy",
    "sku",
    "identity",
    "location",
    "diagnosticSettings",
    "customDnsConfigs",
    "privateDnsZoneGroups",
    "flowTimeoutInMinutes",
    "ddosProtectionPlan",
];

/// Deploy-time values that reached a network resource, each with its expression's place.
pub fn deploy_time_values(resources: &[Resource]) -> Vec<(Pos, String)> {
    let mut seen = Vec::new();
    for r in resources {
        if matches!(classify(&r.kind()), Class::Modelled) {
            collect_unknowns(&r.body, &mut seen);
        }
    }
    seen.sort_by_key(|(p, _)| *p);
    seen.dedup();
    seen
}

fn collect_unknowns(v: &Val, out: &mut Vec<(Pos, String)>) {
    match &v.v {
        Json::Unknown(m) => out.push((v.pos, m.clone())),
        Json::Arr(a) => a.iter().for_each(|x| collect_unknowns(x, out)),
        Json::Obj(o) => o
            .iter()
            .filter(|(k, _)| !NOT_PACKET_PATH.iter().any(|n| n.eq_ignore_ascii_case(k)))
            .for_each(|(_, x)| collect_unknowns(x, out)),
        _ => {}
    }
}
