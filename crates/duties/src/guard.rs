//! Guarded changes (`vnetsim diff OLD NEW --guard guards.yaml`): a guard is a reachability
//! assertion in the `check` form with an owner. When a change alters a guarded property (its
//! result on NEW differs from its result on OLD), it needs the approval of the owner of every
//! changed resource that causes the alteration, and of the guard's owner, as Azure Backup's
//! Resource Guard asks for permission on the vault and on a guard another team owns.
//!
//! Causes are found one changed resource at a time: OLD with only that resource changed, and
//! NEW with only that resource reverted; the resource is a cause when either alters the
//! property. When neither does for any resource (the alteration needs several changes
//! together), every changed resource is a cause. A counterfactual that does not validate on
//! its own (a route table and the subnet that starts using it) counts its resource as a cause.

use std::collections::BTreeSet;

use vnetsim_fabric::Fabric;
use vnetsim_jobs::Job;
use vnetsim_model::assertions::Assertion;
use vnetsim_model::{self as m};

use crate::owners::Owners;
use crate::resources::{changed, with_resource_of, ChangeKind, ResourceId};

/// A guard's result on one topology: pass, and the problems `check` found (or why the guard
/// could not be evaluated there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    pub pass: bool,
    pub problems: Vec<String>,
}

impl Value {
    pub fn describe(&self) -> String {
        if self.pass {
            "holds".into()
        } else {
            format!(
                "fails: {}",
                self.problems.first().map(String::as_str).unwrap_or("")
            )
        }
    }
}

/// One changed resource that causes a guard's alteration.
#[derive(Clone, Debug)]
pub struct Cause {
    pub resource: ResourceId,
    pub change: ChangeKind,
    pub owner: String,
    /// How it was found: `alone` (applied to OLD), `revert` (reverted on NEW), `joint`, or why
    /// it could not be evaluated alone.
    pub how: String,
}

#[derive(Clone, Debug)]
pub struct GuardResult {
    pub name: String,
    pub owner: String,
    pub old: Value,
    pub new: Value,
    pub causes: Vec<Cause>,
    /// Who must approve (empty when the property is unchanged).
    pub approvals: BTreeSet<String>,
}

impl GuardResult {
    pub fn altered(&self) -> bool {
        self.old != self.new
    }
}

pub struct Report {
    pub changed: Vec<(ResourceId, ChangeKind, String)>,
    pub guards: Vec<GuardResult>,
    pub required: BTreeSet<String>,
    pub approved: BTreeSet<String>,
}

impl Report {
    pub fn missing(&self) -> Vec<&String> {
        self.required.difference(&self.approved).collect()
    }
    pub fn pass(&self) -> bool {
        self.missing().is_empty()
    }
}

fn eval(f: &Fabric, file: &str, g: &Assertion, job: &Job<'_>) -> Value {
    match vnetsim_jobs::check::check(f, file, std::slice::from_ref(g), job) {
        Ok(r) => {
            let o = &r[0];
            Value {
                pass: o.pass(),
                problems: o.problems.clone(),
            }
        }
        Err(e) => Value {
            pass: false,
            problems: vec![format!("cannot be evaluated: {}", e.trim_end())],
        },
    }
}

fn eval_topology(
    t: m::Topology,
    file: &str,
    g: &Assertion,
    job: &Job<'_>,
) -> Result<Value, String> {
    let v = m::revalidate("(counterfactual)", t).map_err(|d| {
        d.errors()
            .next()
            .map(|e| e.message.clone())
            .unwrap_or_else(|| "it does not validate".into())
    })?;
    Ok(eval(&vnetsim_fabric::compile(&v), file, g, job))
}

pub struct Sides<'a> {
    pub old: &'a m::Validated,
    pub new: &'a m::Validated,
    pub old_fabric: &'a Fabric,
    pub new_fabric: &'a Fabric,
}

/// Evaluates every guard on both sides, attributes each alteration to the changed resources
/// that cause it, and lists the approvals needed.
pub fn check(
    s: &Sides<'_>,
    file: &str,
    guards: &[Assertion],
    owners_old: &Owners,
    owners_new: &Owners,
    approved: BTreeSet<String>,
    job: &Job<'_>,
) -> Report {
    let (ot, nt) = (s.old.topology(), s.new.topology());
    let owner_of = |r: &ResourceId, c: ChangeKind| -> String {
        match c {
            ChangeKind::Removed => owners_old.of_id(r).to_string(),
            _ => owners_new.of_id(r).to_string(),
        }
    };
    let changes: Vec<(ResourceId, ChangeKind, String)> = changed(ot, nt)
        .into_iter()
        .map(|(r, c)| {
            let o = owner_of(&r, c);
            (r, c, o)
        })
        .collect();
    let mut results = Vec::new();
    let mut required = BTreeSet::new();
    for g in guards {
        let old = eval(s.old_fabric, file, g, job);
        let new = eval(s.new_fabric, file, g, job);
        let owner = g.owner.clone().unwrap_or_default();
        let mut r = GuardResult {
            name: g.name.clone(),
            owner: owner.clone(),
            old,
            new,
            causes: Vec::new(),
            approvals: BTreeSet::new(),
        };
        if r.altered() {
            for (res, c, o) in &changes {
                let alone = eval_topology(with_resource_of(ot, nt, res), file, g, job);
                let revert = eval_topology(with_resource_of(nt, ot, res), file, g, job);
                let how = match (&alone, &revert) {
                    (Ok(a), _) if *a != r.old => Some("alone".to_string()),
                    (_, Ok(b)) if *b != r.new => Some("revert".to_string()),
                    (Err(e), Err(_)) => Some(format!("not evaluable alone ({e})")),
                    _ => None,
                };
                if let Some(how) = how {
                    r.causes.push(Cause {
                        resource: res.clone(),
                        change: *c,
                        owner: o.clone(),
                        how,
                    });
                }
            }
            if r.causes.is_empty() {
                r.causes = changes
                    .iter()
                    .map(|(res, c, o)| Cause {
                        resource: res.clone(),
                        change: *c,
                        owner: o.clone(),
                        how: "joint".into(),
                    })
                    .collect();
            }
            r.approvals = r.causes.iter().map(|c| c.owner.clone()).collect();
            r.approvals.insert(owner);
            required.extend(r.approvals.iter().cloned());
        }
        results.push(r);
    }
    Report {
        changed: changes,
        guards: results,
        required,
        approved,
    }
}
