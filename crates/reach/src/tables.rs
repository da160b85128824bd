//! Where each device's decisions can change, computed once per fabric.
//!
//! For every node a walk can visit, the cut points of every table the engine consults there,
//! per dimension, in the orientation of the packet at that node: the route set of the
//! subnet it routes from, NSG and security admin classifiers (every direction, both inbound tables; service tags
//! and ASGs are already expanded in them), the VNet's space and address owners, a firewall's
//! network classifier, DNAT rules, application rules and private ranges, a gateway's learned
//! and advertised prefixes, a load balancer's frontends and the protocols and ports of its
//! load-balancing and inbound NAT rules, an Application Gateway's frontends, instances and
//! listener ports, the public owners, site prefixes and Internet space. A superset is
//! always sound (a class is only cut finer); a missing table would not be, which the brute-force
//! tests check.
//!
//! NSG and admin rule tables are not reduced to cut points here: a node lists them
//! ([`NodeCuts::rules`]) and [`crate::rules::RuleCuts`] finds, per box, the cuts of the rules
//! that can decide inside it. A table at an NSG point its request passed is not met by the
//! reply (the flow record admits it, R5.4), nor a firewall's network and application rules
//! by a reply its session carries ([`Tables::firewall_rules`]).

use vnetsim_engine::{TCP, UDP};
use vnetsim_fabric::classify::{Classifier, Cuts, Protocols};
use vnetsim_fabric::prefix::NOT_INTERNET;
use vnetsim_fabric::security::PLATFORM_IP;
use vnetsim_fabric::unresolved::UnresolvedRules;
use vnetsim_fabric::{Endpoint, Fabric, NsgTableId, SubnetId};

use crate::rules::RuleCuts;
use crate::space::{DPORT, DST, PROTO, SPORT, SRC};

/// Sorted distinct cut points per dimension, and the first-match rule tables whose cuts
/// are found per box ([`Tables::rules`], see [`crate::rules`]).
#[derive(Clone, Debug, Default)]
pub struct NodeCuts {
    pub d: [Vec<u32>; 5],
    /// Rule tables, each with the NSG point the engine evaluates it at (`None`: at a point
    /// not told apart here, so always taken): a reply at a point its request passed is
    /// admitted by the flow record and meets no rule there.
    pub rules: Vec<(u32, Option<Endpoint>)>,
}

impl NodeCuts {
    fn point(&mut self, d: usize, x: u32) {
        self.range(d, x, x);
    }
    fn range(&mut self, d: usize, lo: u32, hi: u32) {
        self.d[d].push(lo);
        if let Some(e) = hi.checked_add(1) {
            self.d[d].push(e);
        }
    }
    fn prefix(&mut self, d: usize, (a, l): (u32, u8)) {
        let m = vnetsim_fabric::lpm::netmask(l);
        self.range(d, a & m, (a & m) | !m);
    }
    fn all(&mut self, d: usize, xs: &[u32]) {
        self.d[d].extend_from_slice(xs);
    }
    fn classifier(&mut self, c: &Classifier) {
        self.cuts(c.cuts());
    }
    /// The stated fields of a table's unresolved rules: a flow they could match ends naming
    /// one, so where that changes the class does.
    fn unresolved(&mut self, u: &Option<UnresolvedRules>) {
        if let Some(u) = u {
            self.cuts(u.cuts());
        }
    }
    fn cuts(&mut self, k: Cuts) {
        self.all(PROTO, &k.proto);
        self.all(SRC, &k.src);
        self.all(DST, &k.dst);
        self.all(SPORT, &k.sport);
        self.all(DPORT, &k.dport);
    }
    fn protocols(&mut self, p: &Protocols) {
        if let Protocols::Set(v) = p {
            for &x in v {
                self.point(PROTO, x as u32);
            }
        }
    }
    fn add(&mut self, o: &NodeCuts) {
        for d in 0..5 {
            self.d[d].extend_from_slice(&o.d[d]);
        }
        self.rules.extend_from_slice(&o.rules);
    }
    fn done(mut self) -> NodeCuts {
        for v in &mut self.d {
            v.sort_unstable();
            v.dedup();
        }
        self.rules.sort_by_key(|r| r.0);
        self.rules.dedup();
        self
    }
}

/// The cut tables of a fabric.
pub struct Tables {
    /// Per subnet: its routes, NSG, VNet space and owners, and what a packet leaving it for
    /// the Internet is checked against.
    pub subnet: Vec<NodeCuts>,
    pub nic: Vec<NodeCuts>,
    pub pe: Vec<NodeCuts>,
    pub firewall: Vec<NodeCuts>,
    /// Per firewall: its network and application rules, which a packet of a session the
    /// firewall holds (a reply) does not meet.
    pub firewall_rules: Vec<NodeCuts>,
    /// Whether the firewall has application rules (they read the flow's name, see `l7`).
    pub firewall_app: Vec<bool>,
    pub gateway: Vec<NodeCuts>,
    /// Per load balancer: its frontends, the protocols and frontend ports of its rules and
    /// inbound NAT rules (each NAT target's port).
    pub load_balancer: Vec<NodeCuts>,
    /// Per Application Gateway: its frontends, instance addresses and listener ports, and its
    /// subnet's tables.
    pub app_gateway: Vec<NodeCuts>,
    /// Per load balancer, per load-balancing rule and per inbound NAT rule: whether it gives
    /// the backend a port of its own (a constant destination port past it).
    pub lb_backend_port: Vec<(Vec<bool>, Vec<bool>)>,
    pub site: Vec<NodeCuts>,
    /// Per VNet: its owners (a route into it delivers to what owns the destination).
    pub vnet: Vec<NodeCuts>,
    pub route_set: Vec<NodeCuts>,
    /// Per route set, each route's target (where a route leads decides the next tables).
    pub targets: Vec<Vec<vnetsim_fabric::Target>>,
    pub internet: NodeCuts,
    pub platform: NodeCuts,
    /// What the name application rules see depends on: private and public owners of the
    /// destination, and the ports that pick the protocol (80, 1433).
    pub l7: NodeCuts,
    /// The NSG and security admin rule tables, indexed by [`NodeCuts::rules`].
    pub rules: Vec<RuleCuts>,
}

/// Where each NSG and admin rule table is among [`Tables::rules`].
struct RuleIds {
    /// Per NSG table: inbound, outbound, inbound from the Internet.
    nsg: Vec<[Option<u32>; 3]>,
    /// Per admin table: inbound, outbound.
    admin: Vec<[u32; 2]>,
}

impl RuleIds {
    fn new(f: &Fabric, out: &mut Vec<RuleCuts>) -> RuleIds {
        let mut add = |rules: Vec<vnetsim_fabric::classify::Rule>| {
            out.push(RuleCuts::new(&rules));
            out.len() as u32 - 1
        };
        let nsg = f
            .nsg_tables
            .iter()
            .map(|t| {
                [
                    Some(add(t.inbound.classifier_rules())),
                    Some(add(t.outbound.classifier_rules())),
                    t.inbound_from_internet
                        .as_ref()
                        .map(|i| add(i.classifier_rules())),
                ]
            })
            .collect();
        let admin = f
            .admin_tables
            .iter()
            .map(|t| {
                [
                    add(t.inbound.classifier_rules()),
                    add(t.outbound.classifier_rules()),
                ]
            })
            .collect();
        RuleIds { nsg, admin }
    }
}

/// The NSG table `t`, evaluated at `point`.
fn nsg(c: &mut NodeCuts, f: &Fabric, ids: &RuleIds, t: Option<NsgTableId>, point: Endpoint) {
    let Some(t) = t else { return };
    let nt = &f.nsg_tables[t.ix()];
    c.rules
        .extend(ids.nsg[t.ix()].iter().flatten().map(|&r| (r, Some(point))));
    c.unresolved(&nt.inbound.unresolved);
    c.unresolved(&nt.outbound.unresolved);
    if let Some(i) = &nt.inbound_from_internet {
        c.unresolved(&i.unresolved);
    }
}

fn not_internet(c: &mut NodeCuts) {
    for &p in &NOT_INTERNET {
        c.prefix(SRC, p);
        c.prefix(DST, p);
    }
}

fn subnet(f: &Fabric, ids: &RuleIds, s: SubnetId) -> NodeCuts {
    let sn = &f.subnets[s.ix()];
    let v = &f.vnets[sn.vnet.ix()];
    let mut c = NodeCuts::default();
    c.all(DST, f.route_sets[sn.route_set.ix()].cuts());
    nsg(&mut c, f, ids, sn.nsg_table, Endpoint::Subnet(s));
    // Security admin rules, evaluated before the NSGs at the same points.
    if let Some(a) = sn.admin_table {
        let t = &f.admin_tables[a.ix()];
        // Evaluated at each NIC of the subnet (its own point), taken on every leg here.
        c.rules.extend(ids.admin[a.ix()].iter().map(|&r| (r, None)));
        c.unresolved(&t.inbound.unresolved);
        c.unresolved(&t.outbound.unresolved);
    }
    // Peering: whether the source is in the sending VNet's space (R-PEER-04).
    c.all(SRC, v.space_cuts());
    // Delivery inside the VNet, and the owner of a source leaving for the Internet.
    c.all(DST, v.owner_cuts());
    c.all(SRC, v.owner_cuts());
    c.all(DST, f.address_cuts()[4]);
    not_internet(&mut c);
    c.done()
}

/// The stated fields of a firewall's unresolved DNAT and application rules.
fn unresolved_firewall(c: &mut NodeCuts, fw: &vnetsim_fabric::firewall::Firewall) {
    for r in &fw.unresolved_dnat {
        c.protocols(&r.protocols);
        for &d in &r.destination {
            c.point(DST, d);
        }
        for &(lo, hi) in &r.ports {
            c.range(DPORT, lo as u32, hi as u32);
        }
        for &p in r.source.iter().flatten() {
            c.prefix(SRC, p);
        }
    }
    for a in &fw.unresolved_application {
        c.point(PROTO, TCP as u32);
        for &p in a.source.iter().flatten() {
            c.prefix(SRC, p);
        }
        for &(_, port) in &a.protocols {
            c.point(DPORT, port as u32);
        }
    }
}

fn firewall(f: &Fabric, subnets: &[NodeCuts], i: usize) -> NodeCuts {
    let fw = &f.firewalls[i];
    let mut c = NodeCuts::default();
    c.all(DST, fw.private_ranges.cuts());
    unresolved_firewall(&mut c, fw);
    for r in &fw.dnat {
        c.protocols(&r.protocols);
        for &d in &r.destination {
            c.point(DST, d);
        }
        for &(lo, hi) in &r.ports {
            c.range(DPORT, lo as u32, hi as u32);
        }
        for &p in &r.source {
            c.prefix(SRC, p);
        }
    }
    for &x in fw
        .snat_ips
        .iter()
        .chain(&fw.public_ips)
        .chain([&fw.private_ip])
    {
        c.point(DST, x);
    }
    c.add(&subnets[fw.subnet.ix()]);
    c.done()
}

/// A firewall's network and application rules: what a packet of a session the firewall
/// holds (a reply) does not meet.
fn firewall_rules(fw: &vnetsim_fabric::firewall::Firewall) -> NodeCuts {
    let mut c = NodeCuts::default();
    c.classifier(&fw.network);
    c.unresolved(&fw.unresolved_network);
    for a in &fw.application {
        c.point(PROTO, TCP as u32);
        for &p in &a.source {
            c.prefix(SRC, p);
        }
        for &(_, port) in &a.protocols {
            c.point(DPORT, port as u32);
        }
    }
    c.done()
}

fn load_balancer(f: &Fabric, i: usize) -> NodeCuts {
    let lb = &f.load_balancers[i];
    let mut c = NodeCuts::default();
    for fe in f.lb_frontends.iter().filter(|x| x.lb.ix() == i) {
        c.point(DST, fe.ip);
    }
    c.point(PROTO, TCP as u32);
    c.point(PROTO, UDP as u32);
    for r in &lb.rules {
        if let Some(p) = r.proto {
            c.point(PROTO, p as u32);
        }
        if !r.ha_ports {
            c.point(DPORT, r.frontend_port as u32);
        }
    }
    for r in &lb.nat_rules {
        c.point(PROTO, r.proto as u32);
        let first = r.frontend_port as u32;
        c.range(
            DPORT,
            first,
            first + r.targets.len().saturating_sub(1) as u32,
        );
        for k in 0..r.targets.len() as u32 {
            c.point(DPORT, (first + k).min(65535));
        }
    }
    c.done()
}

fn app_gateway(f: &Fabric, i: usize, subnets: &[NodeCuts]) -> NodeCuts {
    let g = &f.app_gateways[i];
    let mut c = NodeCuts::default();
    c.point(PROTO, TCP as u32);
    for &x in g
        .private_ip
        .iter()
        .chain(&g.public_ip)
        .chain(&g.instance_ips)
    {
        c.point(DST, x);
    }
    for l in &g.listeners {
        c.point(DST, l.ip);
        c.point(DPORT, l.port as u32);
    }
    c.add(&subnets[g.subnet.ix()]);
    c.done()
}

impl Tables {
    pub fn new(f: &Fabric) -> Tables {
        let mut rules = Vec::new();
        let ids = RuleIds::new(f, &mut rules);
        let subnets: Vec<NodeCuts> = (0..f.subnets.len())
            .map(|i| subnet(f, &ids, SubnetId(i as u32)))
            .collect();
        let [public, sites, private, _subnets, not_modelled] = f.address_cuts();
        let nic = f
            .nics
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut c = NodeCuts::default();
                c.point(SRC, n.ip);
                c.point(DST, PLATFORM_IP);
                let point = Endpoint::Nic(vnetsim_fabric::NicId(i as u32));
                nsg(&mut c, f, &ids, n.nsg_table, point);
                c.add(&subnets[n.subnet.ix()]);
                c.done()
            })
            .collect();
        let pe = f
            .pes
            .iter()
            .map(|p| {
                let mut c = NodeCuts::default();
                c.point(PROTO, TCP as u32);
                c.point(PROTO, UDP as u32);
                // A reply straight back to its source: private owners, sites, firewalls.
                c.all(DST, private);
                c.all(DST, sites);
                c.all(DST, public);
                c.add(&subnets[p.subnet.ix()]);
                c.done()
            })
            .collect();
        let firewall_cuts = (0..f.firewalls.len())
            .map(|i| firewall(f, &subnets, i))
            .collect();
        let gateway = f
            .gateways
            .iter()
            .map(|g| {
                let mut c = NodeCuts::default();
                for x in g.cuts() {
                    c.all(DST, x);
                }
                c.all(SRC, g.nat_cuts());
                c.all(DST, g.nat_cuts());
                if let Some(s) = g.subnet {
                    c.add(&subnets[s.ix()]);
                }
                c.done()
            })
            .collect::<Vec<_>>();
        let load_balancer = (0..f.load_balancers.len())
            .map(|i| load_balancer(f, i))
            .collect();
        let app_gateway = (0..f.app_gateways.len())
            .map(|i| app_gateway(f, i, &subnets))
            .collect();
        let site = f
            .sites
            .iter()
            .map(|s| {
                let mut c = NodeCuts::default();
                for g in &s.gateways {
                    c.add(&gateway[g.ix()]);
                }
                c.all(DST, sites);
                c.done()
            })
            .collect();
        let vnet = f
            .vnets
            .iter()
            .map(|v| {
                let mut c = NodeCuts::default();
                c.all(DST, v.owner_cuts());
                c.all(DST, not_modelled);
                c.done()
            })
            .collect();
        let route_set = f
            .route_sets
            .iter()
            .map(|r| {
                let mut c = NodeCuts::default();
                c.all(DST, r.cuts());
                c.done()
            })
            .collect();
        let mut internet = NodeCuts::default();
        internet.all(DST, public);
        internet.all(DST, not_modelled);
        not_internet(&mut internet);
        let mut platform = NodeCuts::default();
        platform.all(DST, private);
        let mut l7 = NodeCuts::default();
        l7.all(DST, private);
        l7.all(DST, public);
        l7.point(DPORT, 80);
        l7.point(DPORT, 1433);
        Tables {
            subnet: subnets,
            nic,
            pe,
            firewall: firewall_cuts,
            firewall_rules: f.firewalls.iter().map(firewall_rules).collect(),
            firewall_app: f
                .firewalls
                .iter()
                .map(|x| !x.application.is_empty() || !x.unresolved_application.is_empty())
                .collect(),
            gateway,
            load_balancer,
            app_gateway,
            lb_backend_port: f
                .load_balancers
                .iter()
                .map(|l| {
                    (
                        l.rules.iter().map(|r| r.backend_port != 0).collect(),
                        l.nat_rules.iter().map(|r| r.backend_port != 0).collect(),
                    )
                })
                .collect(),
            site,
            vnet,
            route_set,
            targets: f
                .route_sets
                .iter()
                .map(|r| r.routes.iter().map(|x| x.target).collect())
                .collect(),
            internet: internet.done(),
            platform: platform.done(),
            l7: l7.done(),
            rules,
        }
    }
}
