//! # vnetsim-why: why a flow is blocked
//!
//! For a flow that is not reachable, lists every decision that stops it, not only the first:
//! it reads the deciding rule, route or setting from the trace, writes the smallest change to
//! the topology document that lets the flow past it (an Allow rule for exactly the flow at the
//! free priority just ahead of the deciding rule, a peering flag, a route), applies that change
//! to a copy of the document, reloads and recompiles it through the same validation as any
//! file, and traces again, until the flow is reachable, no single setting lets it through, or
//! the bound on rounds is reached. Every change is thus proven by a real walk, and the changed
//! document is the fixed topology.
//!
//! Layering: model (the document) → fabric (compile) → engine (trace, render) → why. The
//! caller supplies the probe (it resolves the flow's names against each recompiled fabric), so
//! this crate knows nothing of the command line.

pub mod diagnose;
pub mod doc;
pub mod fix;

use serde_json::{json, Value};
use vnetsim_engine::{Scratch, Trace};
use vnetsim_fabric::Fabric;
use vnetsim_model::node::Node;

/// Rounds of change-and-retrace before giving up.
pub const MAX_ROUNDS: usize = 16;

/// One decision that stops the flow.
#[derive(Clone, Debug)]
pub struct Blocker {
    /// `forward` or `return`.
    pub leg: &'static str,
    /// nsg, adminRule, firewall, route, peering, returnPath, subnet, other.
    pub kind: &'static str,
    /// The resource that decided (`nsg:NAME`, `peering:A->B`, ...).
    pub resource: String,
    /// Its owner (its `origin.owner`, else the file's `owner`).
    pub owner: Option<String>,
    /// Where the packet stopped.
    pub at: String,
    /// What decided, in words.
    pub decision: String,
    /// The smallest change that lets the flow past it (None: no single setting does).
    pub change: Option<String>,
    /// The change as a patch of the topology document.
    pub patch: Option<Value>,
    /// False when the flow is reachable without this change once the others are applied
    /// (a later change made it unnecessary); the fixed topology leaves it out.
    pub needed: bool,
}

/// How the analysis ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// The flow is reachable once every listed change is applied (none: it already is).
    Reachable,
    /// The last blocker has no automatic change.
    NoChange,
    /// A change did not move the flow past its blocker (the same blocker came back).
    NotFixed,
    /// [`MAX_ROUNDS`] rounds and still blocked.
    Bound,
}

impl End {
    pub fn as_str(&self) -> &'static str {
        match self {
            End::Reachable => "reachable",
            End::NoChange => "no-automatic-change",
            End::NotFixed => "change-not-enough",
            End::Bound => "bound-reached",
        }
    }
}

pub struct Why {
    pub blockers: Vec<Blocker>,
    pub end: End,
    pub rounds: usize,
    /// The topology with every listed change applied (block YAML).
    pub fixed: String,
}

/// The caller's walk of the flow on a fabric (names resolved against that fabric).
pub type Probe<'a> = dyn Fn(&Fabric, &mut Scratch) -> Result<Trace, String> + 'a;

/// Explains the flow `probe` walks on the topology `text` (read from `file`).
pub fn explain(file: &str, text: &str, probe: &Probe<'_>) -> Result<Why, String> {
    let original: Node =
        vnetsim_model::node::parse(text).map_err(|e| format!("{file}:{}: {}", e.loc, e.message))?;
    let mut root = original.clone();
    let mut current = text.to_string();
    let mut blockers: Vec<Blocker> = Vec::new();
    let mut edits: Vec<fix::Edit> = Vec::new();
    let mut scratch = Scratch::new();
    for round in 0..MAX_ROUNDS {
        let (f, t, v) = walk(file, &current, probe, &mut scratch)?;
        let Some(found) = diagnose::finding(&f, &t, &scratch, v.topology()) else {
            let fixed = prune(file, &original, &edits, &mut blockers, probe)?.unwrap_or(current);
            return Ok(done(blockers, End::Reachable, round, fixed));
        };
        let again = blockers
            .iter()
            .any(|b| b.resource == found.blocker.resource && b.decision == found.blocker.decision);
        blockers.push(found.blocker);
        let Some(edit) = found.edit.filter(|_| !again) else {
            let end = if again { End::NotFixed } else { End::NoChange };
            return Ok(done(blockers, end, round + 1, current));
        };
        if !edit.apply(&mut root) {
            return Ok(done(blockers, End::NoChange, round + 1, current));
        }
        edits.push(edit);
        current = doc::emit(&root);
    }
    Ok(done(blockers, End::Bound, MAX_ROUNDS, current))
}

/// Loads `text` through the same validation as a file, compiles it, walks the probe.
fn walk(
    file: &str,
    text: &str,
    probe: &Probe<'_>,
    scratch: &mut Scratch,
) -> Result<(Fabric, Trace, vnetsim_model::Validated), String> {
    let v = vnetsim_model::load_str(file, text)
        .map_err(|d| format!("the suggested changes do not validate (please report it):\n{d}"))?;
    let f = vnetsim_fabric::compile(&v);
    let t = probe(&f, scratch)?;
    Ok((f, t, v))
}

/// Drops, in order, each change the flow stays reachable without (given the others kept so
/// far), marking its blocker not needed; the fixed document with the changes kept, or `None`
/// when every change is needed.
fn prune(
    file: &str,
    original: &Node,
    edits: &[fix::Edit],
    blockers: &mut [Blocker],
    probe: &Probe<'_>,
) -> Result<Option<String>, String> {
    if edits.len() < 2 {
        return Ok(None);
    }
    let mut keep = vec![true; edits.len()];
    let mut scratch = Scratch::new();
    for i in 0..edits.len() {
        keep[i] = false;
        let (_, t, _) = walk(file, &applied(original, edits, &keep), probe, &mut scratch)?;
        keep[i] = t.outcome != vnetsim_engine::Outcome::Reachable;
    }
    if keep.iter().all(|k| *k) {
        return Ok(None);
    }
    // Blockers and edits are one to one here: the analysis ended reachable.
    for (b, k) in blockers.iter_mut().zip(&keep) {
        b.needed = *k;
    }
    Ok(Some(applied(original, edits, &keep)))
}

/// The document with the kept edits applied, as text.
fn applied(original: &Node, edits: &[fix::Edit], keep: &[bool]) -> String {
    let mut root = original.clone();
    for (e, _) in edits.iter().zip(keep).filter(|(_, k)| **k) {
        e.apply(&mut root);
    }
    doc::emit(&root)
}

fn done(blockers: Vec<Blocker>, end: End, rounds: usize, fixed: String) -> Why {
    Why {
        blockers,
        end,
        rounds,
        fixed,
    }
}

impl Why {
    pub fn json(&self) -> Value {
        json!({
            "end": self.end.as_str(),
            "rounds": self.rounds,
            "maxRounds": MAX_ROUNDS,
            "blockers": self.blockers.iter().map(|b| json!({
                "leg": b.leg, "kind": b.kind, "resource": b.resource, "owner": b.owner,
                "at": b.at, "decision": b.decision, "change": b.change, "patch": b.patch,
                "needed": b.needed,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut o = String::new();
        if self.blockers.is_empty() {
            o.push_str("why: the flow is reachable; nothing blocks it\n");
            return o;
        }
        let _ = writeln!(o, "why: {} blocker(s)", self.blockers.len());
        for (i, b) in self.blockers.iter().enumerate() {
            let _ = writeln!(
                o,
                "  {}. [{}] {} (owner: {}){}",
                i + 1,
                b.leg,
                b.resource,
                b.owner.as_deref().unwrap_or("-"),
                if b.at.is_empty() {
                    String::new()
                } else {
                    format!(", at {}", b.at)
                }
            );
            let _ = writeln!(o, "     {}", b.decision);
            let _ = writeln!(
                o,
                "     change: {}{}",
                b.change
                    .as_deref()
                    .unwrap_or("none found (no single setting lets the flow past this decision)"),
                if b.needed {
                    ""
                } else {
                    " (not needed once the later changes are applied; left out of the fixed topology)"
                }
            );
        }
        let _ = writeln!(
            o,
            "{}",
            match self.end {
                End::Reachable => "with every change above applied, the flow is reachable".to_string(),
                End::NoChange => "stopped: the last blocker has no automatic change; later blockers, if any, are not listed".into(),
                End::NotFixed => "stopped: a change did not move the flow past its blocker".into(),
                End::Bound => format!("stopped after {MAX_ROUNDS} rounds, still blocked; later blockers are not listed"),
            }
        );
        o
    }
}
