//! Aggregates over flow rows: counts by outcome, the rules that decided, where
//! flows were dropped, and which sources were rewritten on the way.
//!
//! Every list is ordered by count (highest first), ties broken by name, so the
//! same rows always give the same summary whatever order they came in.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::FlowRow;

/// Flows per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutcomeTally {
    pub reachable: u64,
    pub unreachable: u64,
    pub no_return: u64,
    /// Something vnetsim does not model decided (`not-modelled`).
    pub not_modelled: u64,
    /// Rows whose outcome is none of the contract values.
    pub other: u64,
}

impl OutcomeTally {
    fn add_n(&mut self, outcome: &str, n: u64) {
        match outcome {
            "reachable" => self.reachable += n,
            "unreachable" => self.unreachable += n,
            "no-return" => self.no_return += n,
            "not-modelled" => self.not_modelled += n,
            _ => self.other += n,
        }
    }

    fn merge(&mut self, o: &OutcomeTally) {
        self.reachable += o.reachable;
        self.unreachable += o.unreachable;
        self.no_return += o.no_return;
        self.not_modelled += o.not_modelled;
        self.other += o.other;
    }

    /// All flows counted.
    pub fn total(&self) -> u64 {
        self.reachable + self.unreachable + self.no_return + self.not_modelled + self.other
    }
}

/// A deciding rule and the flows it decided, by outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleCount {
    pub rule: String,
    pub flows: u64,
    pub outcomes: OutcomeTally,
}

/// A name (drop point, address, reason) and how many flows carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Count {
    pub name: String,
    pub flows: u64,
}

/// Running aggregate over [`FlowRow`]s. Build with [`Summary::add`] (or
/// collect an iterator of rows); combine partial summaries with
/// [`Summary::merge`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    flows: u64,
    outcomes: OutcomeTally,
    other_outcomes: BTreeMap<String, u64>,
    asymmetric: u64,
    rules: BTreeMap<String, OutcomeTally>,
    drop_points: BTreeMap<String, u64>,
    reasons: BTreeMap<String, u64>,
    rewritten: u64,
    seen_as: BTreeMap<String, u64>,
}

fn bump(m: &mut BTreeMap<String, u64>, k: &str, n: u64) {
    match m.get_mut(k) {
        Some(v) => *v += n,
        None => {
            m.insert(k.to_string(), n);
        }
    }
}

/// Entries by count descending, then name ascending; at most `n`.
fn top(m: &BTreeMap<String, u64>, n: usize) -> Vec<Count> {
    let mut v: Vec<Count> = m
        .iter()
        .map(|(k, c)| Count {
            name: k.clone(),
            flows: *c,
        })
        .collect();
    // BTreeMap iteration is by name already; a stable sort by count keeps that as the tie-break.
    v.sort_by_key(|c| std::cmp::Reverse(c.flows));
    v.truncate(n);
    v
}

impl Summary {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one flow.
    pub fn add(&mut self, r: &FlowRow) {
        self.add_n(r, 1)
    }

    /// Counts `n` flows that share everything the summary looks at with `r`
    /// (outcome, rule, drop point, reason, source and source seen, symmetry):
    /// callers aggregating many flows can render one representative row.
    pub fn add_n(&mut self, r: &FlowRow, n: u64) {
        if n == 0 {
            return;
        }
        self.flows += n;
        self.outcomes.add_n(&r.outcome, n);
        if !matches!(
            r.outcome.as_str(),
            "reachable" | "unreachable" | "no-return" | "not-modelled"
        ) {
            bump(&mut self.other_outcomes, &r.outcome, n);
        }
        if !r.symmetric {
            self.asymmetric += n;
        }
        if let Some(rule) = &r.rule {
            match self.rules.get_mut(rule.as_str()) {
                Some(t) => t.add_n(&r.outcome, n),
                None => {
                    let mut t = OutcomeTally::default();
                    t.add_n(&r.outcome, n);
                    self.rules.insert(rule.clone(), t);
                }
            }
        }
        if let Some(d) = &r.dropped_at {
            bump(&mut self.drop_points, d, n);
        }
        if !r.reason.is_empty() {
            bump(&mut self.reasons, &r.reason, n);
        }
        if let Some(seen) = &r.src_seen {
            if *seen != r.src {
                self.rewritten += n;
                bump(&mut self.seen_as, seen, n);
            }
        }
    }

    /// Adds another summary's counts to this one.
    pub fn merge(&mut self, o: &Summary) {
        self.flows += o.flows;
        self.outcomes.merge(&o.outcomes);
        for (k, v) in &o.other_outcomes {
            bump(&mut self.other_outcomes, k, *v);
        }
        self.asymmetric += o.asymmetric;
        for (k, t) in &o.rules {
            self.rules.entry(k.clone()).or_default().merge(t);
        }
        for (k, v) in &o.drop_points {
            bump(&mut self.drop_points, k, *v);
        }
        for (k, v) in &o.reasons {
            bump(&mut self.reasons, k, *v);
        }
        self.rewritten += o.rewritten;
        for (k, v) in &o.seen_as {
            bump(&mut self.seen_as, k, *v);
        }
    }

    /// Flows counted.
    pub fn flows(&self) -> u64 {
        self.flows
    }

    /// Flows per outcome.
    pub fn outcomes(&self) -> OutcomeTally {
        self.outcomes
    }

    /// Flows with a given outcome string (`reachable`, `unreachable`, `no-return`, or any other).
    pub fn outcome(&self, name: &str) -> u64 {
        match name {
            "reachable" => self.outcomes.reachable,
            "unreachable" => self.outcomes.unreachable,
            "no-return" => self.outcomes.no_return,
            "not-modelled" => self.outcomes.not_modelled,
            other => self.other_outcomes.get(other).copied().unwrap_or(0),
        }
    }

    /// Flows whose reply did not cross every stateful device the request crossed.
    pub fn asymmetric(&self) -> u64 {
        self.asymmetric
    }

    /// Flows whose source the destination sees rewritten (`srcSeen` present and not `src`).
    pub fn rewritten(&self) -> u64 {
        self.rewritten
    }

    /// Distinct deciding rules seen.
    pub fn distinct_rules(&self) -> usize {
        self.rules.len()
    }

    /// The `n` rules that decided the most flows.
    pub fn top_rules(&self, n: usize) -> Vec<RuleCount> {
        let mut v: Vec<RuleCount> = self
            .rules
            .iter()
            .map(|(k, t)| RuleCount {
                rule: k.clone(),
                flows: t.total(),
                outcomes: *t,
            })
            .collect();
        v.sort_by_key(|c| std::cmp::Reverse(c.flows));
        v.truncate(n);
        v
    }

    /// The `n` endpoints that dropped the most flows (`droppedAt`).
    pub fn top_drop_points(&self, n: usize) -> Vec<Count> {
        top(&self.drop_points, n)
    }

    /// The `n` most common rewritten source addresses (`srcSeen`, where it differs from `src`).
    pub fn top_seen_as(&self, n: usize) -> Vec<Count> {
        top(&self.seen_as, n)
    }

    /// The `n` most common reasons.
    pub fn top_reasons(&self, n: usize) -> Vec<Count> {
        top(&self.reasons, n)
    }

    /// Everything, as JSON with camelCase keys; lists complete and ordered by count.
    pub fn to_json(&self) -> Value {
        self.to_json_top(usize::MAX)
    }

    /// As [`Summary::to_json`], each list cut to its `top_n` first entries.
    pub fn to_json_top(&self, top_n: usize) -> Value {
        let mut outcomes = json!({
            "reachable": self.outcomes.reachable,
            "unreachable": self.outcomes.unreachable,
            "noReturn": self.outcomes.no_return,
            "notModelled": self.outcomes.not_modelled,
        });
        for (k, c) in &self.other_outcomes {
            outcomes[k.as_str()] = json!(c);
        }
        let counts = |v: Vec<Count>, key: &str| -> Value {
            Value::Array(
                v.into_iter()
                    .map(|c| json!({ key: c.name, "flows": c.flows }))
                    .collect(),
            )
        };
        json!({
            "flows": self.flows,
            "outcomes": outcomes,
            "asymmetric": self.asymmetric,
            "distinctRules": self.rules.len(),
            "rules": self.top_rules(top_n).into_iter().map(|r| {
                let mut v = json!({
                    "rule": r.rule,
                    "flows": r.flows,
                    "reachable": r.outcomes.reachable,
                    "unreachable": r.outcomes.unreachable,
                    "noReturn": r.outcomes.no_return,
                });
                if r.outcomes.not_modelled > 0 {
                    v["notModelled"] = json!(r.outcomes.not_modelled);
                }
                if r.outcomes.other > 0 {
                    v["other"] = json!(r.outcomes.other);
                }
                v
            }).collect::<Vec<_>>(),
            "dropPoints": counts(self.top_drop_points(top_n), "droppedAt"),
            "srcRewritten": {
                "flows": self.rewritten,
                "seenAs": counts(self.top_seen_as(top_n), "srcSeen"),
            },
            "reasons": counts(self.top_reasons(top_n), "reason"),
        })
    }

    /// A terminal summary with aligned columns; each list shows at most
    /// `top_n` entries (0 shows only the totals).
    pub fn render_text(&self, top_n: usize) -> String {
        let mut s = String::new();
        let pct = |n: u64| {
            if self.flows == 0 {
                0.0
            } else {
                n as f64 * 100.0 / self.flows as f64
            }
        };
        let mut outcome_lines: Vec<(String, u64)> = vec![
            ("reachable".into(), self.outcomes.reachable),
            ("unreachable".into(), self.outcomes.unreachable),
            ("no-return".into(), self.outcomes.no_return),
        ];
        if self.outcomes.not_modelled > 0 {
            outcome_lines.push(("not-modelled".into(), self.outcomes.not_modelled));
        }
        for (k, v) in &self.other_outcomes {
            outcome_lines.push((k.clone(), *v));
        }
        let label_w = outcome_lines
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        let num_w = self.flows.to_string().len().max(5);
        let _ = writeln!(s, "outcomes");
        for (k, v) in &outcome_lines {
            let _ = writeln!(s, "  {k:<label_w$}  {v:>num_w$}  {:>5.1}%", pct(*v));
        }
        let _ = writeln!(s, "  {:<label_w$}  {:>num_w$}", "total", self.flows);
        if self.asymmetric > 0 {
            let _ = writeln!(
                s,
                "  asymmetric replies: {} ({:.1}%)",
                self.asymmetric,
                pct(self.asymmetric)
            );
        }
        if top_n == 0 {
            return s;
        }

        let rules = self.top_rules(top_n);
        if !rules.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "top deciding rules ({} of {})",
                rules.len(),
                self.rules.len()
            );
            let w = rules
                .iter()
                .map(|r| r.flows.to_string().len())
                .max()
                .unwrap_or(0)
                .max("flows".len());
            let (wr, wu, wn) = ("reachable".len(), "unreachable".len(), "no-return".len());
            // The not-modelled column only where something vnetsim does not model decided.
            let nm = self.outcomes.not_modelled > 0;
            let wm = "not-modelled".len();
            let head = if nm { "  not-modelled" } else { "" };
            let _ = writeln!(
                s,
                "  {:>w$}  {:>wr$}  {:>wu$}  {:>wn$}{head}  rule",
                "flows", "reachable", "unreachable", "no-return"
            );
            for r in &rules {
                let o = &r.outcomes;
                let m = if nm {
                    format!("  {:>wm$}", o.not_modelled)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    s,
                    "  {:>w$}  {:>wr$}  {:>wu$}  {:>wn$}{m}  {}",
                    r.flows, o.reachable, o.unreachable, o.no_return, r.rule
                );
            }
        }

        let table = |s: &mut String, title: String, head: &str, v: &[Count]| {
            if v.is_empty() {
                return;
            }
            let _ = writeln!(s);
            let _ = writeln!(s, "{title}");
            let w = v
                .iter()
                .map(|c| c.flows.to_string().len())
                .max()
                .unwrap_or(0)
                .max("flows".len());
            let _ = writeln!(s, "  {:>w$}  {:>6}  {head}", "flows", "share");
            for c in v {
                let _ = writeln!(s, "  {:>w$}  {:>5.1}%  {}", c.flows, pct(c.flows), c.name);
            }
        };
        let drops = self.top_drop_points(top_n);
        table(
            &mut s,
            format!(
                "top drop points ({} of {})",
                drops.len(),
                self.drop_points.len()
            ),
            "dropped at",
            &drops,
        );

        if self.rewritten > 0 {
            let seen = self.top_seen_as(top_n);
            table(
                &mut s,
                format!(
                    "source rewritten in {} flows ({:.1}%), seen as",
                    self.rewritten,
                    pct(self.rewritten)
                ),
                "source seen",
                &seen,
            );
        } else {
            let _ = writeln!(s);
            let _ = writeln!(s, "source rewritten in 0 flows");
        }

        let reasons = self.top_reasons(top_n);
        table(
            &mut s,
            format!("top reasons ({} of {})", reasons.len(), self.reasons.len()),
            "reason",
            &reasons,
        );
        s
    }
}

impl<'a> Extend<&'a FlowRow> for Summary {
    fn extend<I: IntoIterator<Item = &'a FlowRow>>(&mut self, iter: I) {
        for r in iter {
            self.add(r);
        }
    }
}

impl<'a> FromIterator<&'a FlowRow> for Summary {
    fn from_iter<I: IntoIterator<Item = &'a FlowRow>>(iter: I) -> Self {
        let mut s = Summary::default();
        s.extend(iter);
        s
    }
}
