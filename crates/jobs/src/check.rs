//! Check: reachability assertions against a fabric, for CI. Every name an assertion uses is
//! resolved first, so a misspelt one is a located error, never a silent pass.

use std::path::Path;

use vnetsim_engine::Scratch;
use vnetsim_fabric::Fabric;
use vnetsim_model::assertions::{Assertion, SrcSeen, Subject};
use vnetsim_report::FlowRow;

use crate::flow_row::row;
use crate::sweep::{collect_rows, matrix, Selectors};
use crate::Job;

/// One assertion's result: its flows, and what they did that it did not expect.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub name: String,
    pub flows: usize,
    pub problems: Vec<String>,
}

impl Outcome {
    pub fn pass(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Resolves every name, then evaluates every assertion of `file` (its name, for messages).
pub fn check(
    f: &Fabric,
    file: &str,
    list: &[Assertion],
    job: &Job<'_>,
) -> Result<Vec<Outcome>, String> {
    check_names(f, file, list)?;
    let mut results = Vec::new();
    for asr in list {
        let rows: Vec<FlowRow> = match &asr.subject {
            Subject::Matrix { from, to, ports } => {
                let sel = Selectors {
                    from: from.clone(),
                    to: to.clone(),
                    ports: ports.clone(),
                };
                let m = matrix(f, &sel).map_err(|e| format!("{file}:{}: {e}", asr.loc))?;
                collect_rows(f, &m, job)
            }
            Subject::Flow(fl) => {
                let proto = crate::names::parse_protocol(&fl.protocol)?;
                let (sp, dp) = if proto == vnetsim_engine::ICMP {
                    (0, 0)
                } else {
                    (fl.src_port, fl.dst_port)
                };
                let flow = vnetsim_engine::Flow {
                    src: fl.src.into(),
                    dst: fl.dst.into(),
                    proto,
                    sport: sp,
                    dport: dp,
                };
                let ingress = match &fl.from {
                    Some(e) => crate::names::parse_endpoint(f, e)
                        .map_err(|e| format!("{file}:{}: {e}", asr.loc))?,
                    None => f.endpoint_of_source(flow.src),
                };
                let given = fl.fqdn.as_ref().map(|s| s.to_ascii_lowercase());
                let l7 = crate::names::flow_l7(f, &flow, given.as_deref(), None);
                let mut s = Scratch::new();
                let t = vnetsim_engine::trace(f, flow, ingress, l7, &mut s);
                vec![row(f, &s, &t, l7)]
            }
        };
        let e = &asr.expect;
        let mut problems: Vec<String> = Vec::new();
        if rows.is_empty() {
            problems.push("the selectors match no flow".into());
        }
        for r in &rows {
            let who = format!(
                "{} -> {} {}/{}",
                r.src,
                r.dst,
                r.protocol.to_ascii_lowercase(),
                r.dst_port
            );
            if let Some(o) = e.outcome {
                if r.outcome != o.as_str() {
                    problems.push(format!(
                        "{who}: outcome {} (expected {}): {}",
                        r.outcome,
                        o.as_str(),
                        r.reason
                    ));
                }
            }
            if let Some(d) = &e.delivered_to {
                if r.delivered_to.as_deref() != Some(d.as_str()) {
                    problems.push(format!(
                        "{who}: delivered to {} (expected {d})",
                        r.delivered_to.as_deref().unwrap_or("nothing")
                    ));
                }
            }
            if let Some(d) = &e.dropped_at {
                if r.dropped_at.as_deref() != Some(d.as_str()) {
                    problems.push(format!(
                        "{who}: dropped at {} (expected {d})",
                        r.dropped_at.as_deref().unwrap_or("nowhere")
                    ));
                }
            }
            if let Some(x) = &e.rule {
                if r.rule.as_deref() != Some(x.as_str()) {
                    problems.push(format!(
                        "{who}: deciding rule {} (expected {x})",
                        r.rule.as_deref().unwrap_or("none")
                    ));
                }
            }
            if let Some(x) = &e.src_seen {
                let seen = r.src_seen.as_deref();
                let ok = match x {
                    SrcSeen::Address(a) => seen == Some(a.to_string().as_str()),
                    SrcSeen::Unchanged => seen == Some(r.src.as_str()),
                    SrcSeen::Rewritten => seen.is_some() && seen != Some(r.src.as_str()),
                };
                if !ok {
                    let want = match x {
                        SrcSeen::Address(a) => a.to_string(),
                        SrcSeen::Unchanged => "unchanged".into(),
                        SrcSeen::Rewritten => "rewritten".into(),
                    };
                    problems.push(format!(
                        "{who}: source seen {} (expected {want})",
                        seen.unwrap_or("none (not delivered)")
                    ));
                }
            }
            let nodes: Vec<&str> = r.path.split(" > ").collect();
            for c in &e.crosses {
                if !nodes.contains(&c.as_str()) {
                    problems.push(format!("{who}: does not cross {c} (path {})", r.path));
                }
            }
            for c in &e.avoids {
                if nodes.contains(&c.as_str()) {
                    problems.push(format!("{who}: crosses {c} (path {})", r.path));
                }
            }
        }
        if let (Some(allowed), Subject::Matrix { from, to, .. }) = (&e.only_ports, &asr.subject) {
            let beyond = crate::exhaustive::beyond_ports(f, from, to, allowed)
                .map_err(|e| format!("{file}:{}: {e}", asr.loc))?;
            problems.extend(
                beyond
                    .into_iter()
                    .map(|r| format!("reachable outside onlyPorts: {r}")),
            );
        }
        results.push(Outcome {
            name: asr.name.clone(),
            flows: rows.len(),
            problems,
        });
    }
    Ok(results)
}

/// Every name the assertions use must exist in the fabric: a misspelt node or rule is a
/// located error (with the closest names), never an assertion that passes for want of a match.
pub fn check_names(
    f: &Fabric,
    file: &str,
    list: &[vnetsim_model::assertions::Assertion],
) -> Result<(), String> {
    use crate::names::{did_you_mean, node_ids, rule_names, selector_problem};
    use vnetsim_model::assertions::RefKind;
    let (nodes, rules) = (node_ids(f), rule_names(f));
    let mut errors = Vec::new();
    for r in list.iter().flat_map(|a| &a.refs) {
        let problem = match r.kind {
            RefKind::Selector => selector_problem(f, &r.name),
            RefKind::Node if !nodes.contains(&r.name) => Some(format!(
                "unknown node '{}'{}",
                r.name,
                did_you_mean(&r.name, nodes.iter().map(String::as_str))
            )),
            RefKind::Rule if !rules.contains(&r.name) => Some(format!(
                "unknown rule '{}'{}",
                r.name,
                did_you_mean(&r.name, rules.iter().map(String::as_str))
            )),
            _ => None,
        };
        if let Some(p) = problem {
            errors.push((
                (r.loc.line, r.loc.col),
                format!("{file}:{}:{}: error: {p}", r.loc.line, r.loc.col),
            ));
        }
    }
    errors.sort();
    let errors: Vec<String> = errors.into_iter().map(|e| e.1).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n") + "\n")
    }
}

/// The assertions' results as JUnit XML: one test case per assertion, its problems as the
/// failure's text.
pub fn write_junit(path: &Path, results: &[Outcome]) -> Result<(), String> {
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
    let failures = results.iter().filter(|r| !r.pass()).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x += &format!(
        "<testsuites tests=\"{}\" failures=\"{failures}\">\n  <testsuite name=\"vnetsim check\" tests=\"{}\" failures=\"{failures}\">\n",
        results.len(),
        results.len()
    );
    for Outcome {
        name,
        flows,
        problems,
    } in results
    {
        let pass = problems.is_empty();
        x += &format!(
            "    <testcase classname=\"vnetsim.check\" name=\"{}\">\n      <system-out>{flows} flow(s)</system-out>\n",
            esc(name)
        );
        if !pass {
            let first = problems.first().map(String::as_str).unwrap_or("failed");
            x += &format!(
                "      <failure message=\"{}\">{}</failure>\n",
                esc(first),
                esc(&problems.join("\n"))
            );
        }
        x += "    </testcase>\n";
    }
    x += "  </testsuite>\n</testsuites>\n";
    std::fs::write(path, x).map_err(|e| format!("error: cannot write {}: {e}", path.display()))
}
