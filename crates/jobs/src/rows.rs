//! Flow rows for streamed sweeps: every endpoint's id rendered once per sweep, so a row names
//! its endpoints and its path's hops by copying text, never by formatting it per flow.

use vnetsim_engine::{Leg, Scratch, Trace, L7};
use vnetsim_fabric::{
    AppGwId, Endpoint, Fabric, FirewallId, GatewayId, LbId, NicId, PeId, ServiceId, SiteId,
    SubnetId,
};
use vnetsim_report::FlowRow;

/// [`Fabric::endpoint_id`] of every endpoint of a fabric, by kind and index.
pub struct EndpointIds {
    nics: Vec<String>,
    pes: Vec<String>,
    services: Vec<String>,
    sites: Vec<String>,
    firewalls: Vec<String>,
    gateways: Vec<String>,
    subnets: Vec<String>,
    load_balancers: Vec<String>,
    app_gateways: Vec<String>,
}

fn ids_of(f: &Fabric, n: usize, e: impl Fn(u32) -> Endpoint) -> Vec<String> {
    (0..n as u32).map(|i| f.endpoint_id(e(i))).collect()
}

impl EndpointIds {
    pub fn new(f: &Fabric) -> EndpointIds {
        EndpointIds {
            nics: ids_of(f, f.nics.len(), |i| Endpoint::Nic(NicId(i))),
            pes: ids_of(f, f.pes.len(), |i| Endpoint::Pe(PeId(i))),
            services: ids_of(f, f.services.len(), |i| Endpoint::Service(ServiceId(i))),
            sites: ids_of(f, f.sites.len(), |i| Endpoint::Site(SiteId(i))),
            firewalls: ids_of(f, f.firewalls.len(), |i| Endpoint::Firewall(FirewallId(i))),
            gateways: ids_of(f, f.gateways.len(), |i| Endpoint::Gateway(GatewayId(i))),
            subnets: ids_of(f, f.subnets.len(), |i| Endpoint::Subnet(SubnetId(i))),
            load_balancers: ids_of(f, f.load_balancers.len(), |i| {
                Endpoint::LoadBalancer(LbId(i))
            }),
            app_gateways: ids_of(f, f.app_gateways.len(), |i| {
                Endpoint::AppGateway(AppGwId(i))
            }),
        }
    }

    /// The endpoint's id, as [`Fabric::endpoint_id`] spells it.
    pub fn get(&self, e: Endpoint) -> &str {
        match e {
            Endpoint::Nic(i) => &self.nics[i.ix()],
            Endpoint::Pe(i) => &self.pes[i.ix()],
            Endpoint::Service(i) => &self.services[i.ix()],
            Endpoint::Site(i) => &self.sites[i.ix()],
            Endpoint::Internet => "internet",
            Endpoint::Firewall(i) => &self.firewalls[i.ix()],
            Endpoint::Gateway(i) => &self.gateways[i.ix()],
            Endpoint::Subnet(i) => &self.subnets[i.ix()],
            Endpoint::Platform => "platform",
            Endpoint::LoadBalancer(i) => &self.load_balancers[i.ix()],
            Endpoint::AppGateway(i) => &self.app_gateways[i.ix()],
        }
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
