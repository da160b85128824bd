//! Flow rows for streamed sweeps: every endpoint's id rendered once per sweep, so a row names
//! its endpoints and its path's hops by copying text, never by formatting it per flow.

use vnetsim_engine::{Leg, Scratch, Trace, L7};
use vnetsim_fabric::{
    AppGwId, Endpoint, Fabric, FirewallId, GatewayId, LbId, NicId, PeId, ServiceId, SiteId,
    SubnetId,
};
use vnetsim_report::FlowRow;

/// [`Fabric::endpoint_id`] of every endpoint of a fabric, each also numbered: its symbol, an
/// index into [`EndpointIds::names`].
pub struct EndpointIds {
    names: Vec<String>,
    /// Where each kind's symbols start, in the order of [`kind`].
    base: [u32; 11],
}

/// An endpoint's kind (its place in [`EndpointIds::base`]) and index within the kind.
fn kind(e: Endpoint) -> (usize, u32) {
    match e {
        Endpoint::Nic(i) => (0, i.0),
        Endpoint::Pe(i) => (1, i.0),
        Endpoint::Service(i) => (2, i.0),
        Endpoint::Site(i) => (3, i.0),
        Endpoint::Internet => (4, 0),
        Endpoint::Firewall(i) => (5, i.0),
        Endpoint::Gateway(i) => (6, i.0),
        Endpoint::Subnet(i) => (7, i.0),
        Endpoint::Platform => (8, 0),
        Endpoint::LoadBalancer(i) => (9, i.0),
        Endpoint::AppGateway(i) => (10, i.0),
    }
}

/// A kind's endpoint of an index.
type EndpointOf = fn(u32) -> Endpoint;

impl EndpointIds {
    pub fn new(f: &Fabric) -> EndpointIds {
        let kinds: [(usize, EndpointOf); 11] = [
            (f.nics.len(), |i| Endpoint::Nic(NicId(i))),
            (f.pes.len(), |i| Endpoint::Pe(PeId(i))),
            (f.services.len(), |i| Endpoint::Service(ServiceId(i))),
            (f.sites.len(), |i| Endpoint::Site(SiteId(i))),
            (1, |_| Endpoint::Internet),
            (f.firewalls.len(), |i| Endpoint::Firewall(FirewallId(i))),
            (f.gateways.len(), |i| Endpoint::Gateway(GatewayId(i))),
            (f.subnets.len(), |i| Endpoint::Subnet(SubnetId(i))),
            (1, |_| Endpoint::Platform),
            (f.load_balancers.len(), |i| Endpoint::LoadBalancer(LbId(i))),
            (f.app_gateways.len(), |i| Endpoint::AppGateway(AppGwId(i))),
        ];
        let mut names = Vec::new();
        let mut base = [0; 11];
        for (k, (n, e)) in kinds.into_iter().enumerate() {
            base[k] = names.len() as u32;
            names.extend((0..n as u32).map(|i| f.endpoint_id(e(i))));
        }
        EndpointIds { names, base }
    }

    /// The endpoint's symbol.
    #[inline]
    pub fn symbol(&self, e: Endpoint) -> u32 {
        let (k, i) = kind(e);
        self.base[k] + i
    }

    /// Every endpoint's id, by symbol.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The endpoint's id, as [`Fabric::endpoint_id`] spells it.
    pub fn get(&self, e: Endpoint) -> &str {
        &self.names[self.symbol(e) as usize]
    }

    /// A leg's hops joined by ` > `, as [`vnetsim_engine::render::path`] writes them.
    pub fn path(&self, s: &Scratch, leg: &Leg) -> String {
        let mut out = String::with_capacity(96);
        for (i, h) in s.leg_hops(leg).iter().enumerate() {
            if i > 0 {
                out.push_str(" > ");
            }
            out.push_str(self.get(h.node));
        }
        out
    }
}

/// [`crate::flow_row::row`] with the endpoint ids and addresses taken from `ids` and written
/// without the formatter: the same row, field for field.
pub fn row(f: &Fabric, ids: &EndpointIds, s: &Scratch, t: &Trace, l7: Option<L7<'_>>) -> FlowRow {
    let paths = [
        ids.path(s, &t.forward),
        t.ret.as_ref().map(|r| ids.path(s, r)).unwrap_or_default(),
    ];
    crate::flow_row::row_named(f, t, l7, |e| ids.get(e).to_string(), paths)
}

/// The columns of [`row`] that a pattern of flows shares ([`crate::flow_row::shared_columns`]),
/// the flow's own left empty: what a [`crate::sweep::FlowSink`] keeps of a pattern.
pub fn pattern_row(f: &Fabric, ids: &EndpointIds, t: &Trace, l7: Option<L7<'_>>) -> FlowRow {
    crate::flow_row::shared_columns(f, t, l7, |e| ids.get(e).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vnetsim_engine::sweep::{self, Matrix, Side};

    fn lab() -> Fabric {
        let text = include_str!("../../../traces/hub-spoke-lab.yaml");
        vnetsim_fabric::compile(&vnetsim_model::load_str("lab", text).unwrap())
    }

    #[test]
    fn rows_equal_the_rows_rendered_name_by_name() {
        let f = lab();
        let all = vec!["all".to_string()];
        let m = Matrix::new(
            sweep::resolve(&f, &all, Side::Source).unwrap(),
            sweep::resolve(&f, &all, Side::Destination).unwrap(),
            sweep::parse_ports("tcp/443,udp/53,icmp").unwrap(),
        );
        let ids = EndpointIds::new(&f);
        let mut s = Scratch::new();
        let mut delivered = 0;
        for c in m.iter() {
            let t = sweep::trace_cell(&f, &m, c, &mut s);
            let l7 = sweep::destination_l7(&f, &t.flow);
            let r = row(&f, &ids, &s, &t, l7);
            assert_eq!(r, crate::flow_row::row(&f, &s, &t, l7), "{c:?}");
            delivered += r.delivered_to.is_some() as usize;
        }
        assert!(delivered > 0 && delivered < m.len() as usize);
    }
}
