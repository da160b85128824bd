//! One trace as one flat row (the output contract's columns), and where a round trip was
//! stopped: shared by sweeps, diffs, checks, replays and the streamed row builder.

use vnetsim_engine::render::{ip, outcome_reason, path, protocol_name, rule_name};
use vnetsim_engine::{Outcome, RuleRef, Scratch, Trace, Verdict, L7};
use vnetsim_fabric::{Endpoint, Fabric};
use vnetsim_report::FlowRow;

/// Where a round trip was stopped and the rule that decided it, as a row reports them: the
/// reply's when the reply decided, the bypassed device when the reply went around it.
pub(crate) fn decided(t: &Trace) -> (Option<Endpoint>, Option<RuleRef>) {
    let fw = &t.forward;
    match (t.outcome, &t.ret) {
        (Outcome::NoReturn, Some(r)) if r.verdict == Verdict::Dropped => (r.dropped_at, r.rule),
        (Outcome::NotModelled, Some(r)) if fw.verdict == Verdict::Delivered => {
            (r.dropped_at, r.rule)
        }
        (Outcome::NoReturn, _) => (
            t.bypassed
                .map(Endpoint::Firewall)
                .or(t.bypassed_nva.map(Endpoint::Nic)),
            fw.rule,
        ),
        _ => (fw.dropped_at, fw.rule),
    }
}

/// One trace as a flat row (the contract's columns).
pub fn row(f: &Fabric, s: &Scratch, t: &Trace, l7: Option<L7<'_>>) -> FlowRow {
    let p = path(f, s, &t.forward);
    let rp = t.ret.as_ref().map(|r| path(f, s, r)).unwrap_or_default();
    row_with(f, t, l7, p, rp)
}

/// [`row`] with the paths given (empty for a representative of aggregated flows).
pub fn row_with(
    f: &Fabric,
    t: &Trace,
    l7: Option<L7<'_>>,
    path: String,
    return_path: String,
) -> FlowRow {
    row_named(f, t, l7, |e| f.endpoint_id(e), [path, return_path])
}

/// The row of `t`, endpoints named by `name`, with its forward and return paths.
pub(crate) fn row_named(
    f: &Fabric,
    t: &Trace,
    l7: Option<L7<'_>>,
    name: impl Fn(Endpoint) -> String,
    [path, return_path]: [String; 2],
) -> FlowRow {
    let fw = &t.forward;
    let delivered = fw.verdict == Verdict::Delivered;
    FlowRow {
        src: ip(t.flow.src),
        dst: ip(t.flow.dst),
        src_port: t.flow.sport,
        dst_port: t.flow.dport,
        ingress: name(t.ingress),
        delivered_to: fw.delivered_to.map(&name),
        src_seen: delivered.then(|| ip(fw.seen.src)),
        dst_seen: delivered.then(|| ip(fw.seen.dst)),
        path,
        return_path,
        to: Some(name(f.endpoint_of_destination(t.flow.dst))),
        ..shared_columns(f, t, l7, &name)
    }
}

/// The columns of `t`'s row that flows of one kind share: protocol, name probed, outcome,
/// drop point, rule, reason and symmetry. The flow's own columns (addresses, ports, ingress,
/// delivered-to, destination endpoint, paths) are left empty.
pub(crate) fn shared_columns(
    f: &Fabric,
    t: &Trace,
    l7: Option<L7<'_>>,
    name: impl Fn(Endpoint) -> String,
) -> FlowRow {
    let (dropped_at, rule) = decided(t);
    FlowRow {
        protocol: protocol_name(t.flow.proto),
        fqdn: l7.map(|x| x.fqdn.to_string()),
        outcome: t.outcome.as_str().to_string(),
        dropped_at: dropped_at.map(&name),
        rule: rule.map(|r| rule_name(f, r)),
        reason: outcome_reason(f, t),
        symmetric: t.symmetric,
        ..FlowRow::default()
    }
}
