//! The HTML report as one more sink: where each endpoint is drawn (its subnet and VNet), the
//! cause a diff's change is grouped under, and writing the file complete or not at all.

use std::collections::HashMap;
use std::path::Path;

use vnetsim_fabric::{Endpoint, Fabric, NicId, PeId, SubnetId};
use vnetsim_report::html::{HtmlReport, Kind};
use vnetsim_report::summary::Summary;
use vnetsim_report::FlowRow;

/// Per endpoint id (`nic:NAME`, `subnet:V/S`, ...), the subnet and VNet it is drawn in.
pub struct Placements {
    by_id: HashMap<String, (String, String)>,
}

impl Placements {
    /// Every endpoint of the fabric that lives in a subnet: NICs, Private Endpoints,
    /// firewalls, gateways, and subnets themselves.
    pub fn new(f: &Fabric) -> Placements {
        let mut by_id = HashMap::new();
        let mut put = |e: Endpoint, s: Option<SubnetId>| {
            if let Some(s) = s {
                let sn = &f.subnets[s.ix()];
                by_id.insert(
                    f.endpoint_id(e),
                    (f.subnet_path(s), f.vnets[sn.vnet.ix()].name.clone()),
                );
            }
        };
        for (i, n) in f.nics.iter().enumerate() {
            put(Endpoint::Nic(NicId(i as u32)), Some(n.subnet));
        }
        for (i, p) in f.pes.iter().enumerate() {
            put(Endpoint::Pe(PeId(i as u32)), Some(p.subnet));
        }
        for (i, fw) in f.firewalls.iter().enumerate() {
            put(
                Endpoint::Firewall(vnetsim_fabric::FirewallId(i as u32)),
                Some(fw.subnet),
            );
        }
        for (i, g) in f.gateways.iter().enumerate() {
            put(
                Endpoint::Gateway(vnetsim_fabric::GatewayId(i as u32)),
                g.subnet,
            );
        }
        for i in 0..f.subnets.len() {
            let s = SubnetId(i as u32);
            put(Endpoint::Subnet(s), Some(s));
        }
        Placements { by_id }
    }

    /// The VNet an endpoint id lives in, if any.
    pub fn vnet_of(&self, id: &str) -> Option<&str> {
        self.by_id.get(id).map(|(_, v)| v.as_str())
    }

    /// The report member `label`, drawn where the endpoint `id` lives.
    pub fn member_as(&self, report: &mut HtmlReport, label: &str, id: &str) -> u32 {
        match self.by_id.get(id) {
            Some((s, v)) => report.member(label, s, v),
            None => report.member(label, id, id),
        }
    }

    /// The report member of an endpoint id; an endpoint outside every VNet (a site, the
    /// Internet, a service's public face, an address) is its own subnet and VNet group.
    pub fn member(&self, report: &mut HtmlReport, id: &str) -> u32 {
        match self.by_id.get(id) {
            Some((s, v)) => report.member(id, s, v),
            None => report.member(id, id, id),
        }
    }
}

/// The cause a diff's changed flow is grouped under: the resource holding the deciding rule
/// on the new side (the old side when the new side has none, or when the flow is gone); when
/// both sides are decided by the same rule, the hop where the two paths part.
pub fn change_cause(old: Option<&FlowRow>, new: Option<&FlowRow>) -> String {
    let holder = |r: &FlowRow| -> Option<String> {
        r.rule
            .as_deref()
            .map(|rule| rule.split_once('/').map_or(rule, |(h, _)| h).to_string())
    };
    match (old, new) {
        (None, Some(_)) => "flow only in the new sweep".into(),
        (Some(_), None) => "flow only in the old sweep".into(),
        (None, None) => "unknown".into(),
        (Some(o), Some(n)) => {
            if o.rule != n.rule {
                if let Some(h) = holder(n).or_else(|| holder(o)) {
                    return format!("rule holder {h}");
                }
            }
            let (a, b): (Vec<&str>, Vec<&str>) =
                (o.path.split(" > ").collect(), n.path.split(" > ").collect());
            let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
            match common.checked_sub(1).and_then(|i| a.get(i)) {
                Some(hop) if common < a.len().max(b.len()) => format!("routing at {hop}"),
                _ if o.src_seen != n.src_seen => "source translation".into(),
                _ => holder(n).map_or("path".into(), |h| format!("rule holder {h}")),
            }
        }
    }
}

/// A report for rows that come with their endpoints (a replay's flows, a diff's sweep).
pub fn record_rows<'a>(
    report: &mut HtmlReport,
    places: &Placements,
    rows: impl IntoIterator<Item = &'a FlowRow>,
) {
    for r in rows {
        let src = places.member(report, &r.ingress);
        let to = r.to.as_deref().unwrap_or(&r.dst);
        let dst = places.member(report, to);
        report.record_row(src, dst, r);
    }
}

/// A new report of `kind`, its outcome slots in the contract's order.
pub fn new_report(title: &str, kind: Kind) -> HtmlReport {
    let mut r = HtmlReport::new(title, kind);
    for o in vnetsim_engine::Outcome::ALL {
        r.outcome_slot(o.as_str());
    }
    r
}

/// Writes the report to `path` under a temporary name, renamed when complete.
pub fn write(path: &Path, report: &HtmlReport, summary: &Summary) -> Result<(), String> {
    let err = |e: std::io::Error| format!("error: cannot write {}: {e}", path.display());
    let (file, done) = vnetsim_report::Completion::create(path).map_err(err)?;
    report
        .write(summary, std::io::BufWriter::new(file))
        .map_err(err)?;
    done.finish().map_err(err)
}
