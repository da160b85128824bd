//! # vnetsim-engine: the data plane
//!
//! Walks one flow hop by hop over a compiled [`Fabric`]: NSG outbound at the
//! source, route lookup in the forwarding subnet, peering crossings,
//! gateways, Azure Firewall (DNAT, network rules with SNAT or not,
//! application rules that proxy), appliances, NSG inbound, delivery; then the
//! reply from where the request landed back to the address it saw as
//! source, checking that every stateful device the request crossed is
//! crossed by the reply (R8).
//!
//! The walk touches compiled, integer-indexed tables only. It records hops
//! into a caller-provided [`Scratch`] whose buffers are reused, so a walk
//! allocates nothing once the scratch has warmed up. Names appear only when
//! a [`Trace`] is rendered (see `render`).

mod load_balancer;
pub mod render;
pub mod replay;
pub mod sweep;

use vnetsim_fabric::admin::AdminAccess;
use vnetsim_fabric::classify::Key;
use vnetsim_fabric::firewall::prefix_match;
use vnetsim_fabric::prefix::is_public;
use vnetsim_fabric::security::{Access, PLATFORM_IP};
use vnetsim_fabric::{
    AppGwId, Endpoint, Fabric, FirewallId, GatewayId, GatewayPeer, LbId, NicId, Owner, PeId,
    PublicOwner, RouteSetId, ServiceId, SubnetId, Target, VnetId,
};

/// R8.4: a walk of more than this many hops is a loop.
pub const MAX_HOPS: usize = 32;

/// The seed of the Route Server ECMP hash: the same in every subnet, so both directions of a
/// flow meeting the same equal-cost group pick the same NVA.
const ECMP_SEED: u32 = 0x6563_6d70;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ICMP: u8 = 1;

pub use vnetsim_fabric::firewall::AppProtocol;

/// What application rules see of a flow (R6.4): the name it carries (TLS SNI, HTTP Host, or
/// the destination service's FQDN), lower case, and the application protocol carrying it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct L7<'a> {
    pub fqdn: &'a str,
    pub protocol: AppProtocol,
}

impl<'a> L7<'a> {
    /// A name whose protocol nobody observed (a sweep probe, a trace without
    /// `--app-protocol`): the protocol application rules pair with the port, `Http` on 80,
    /// `Mssql` on 1433, `Https` (TLS) on any other.
    pub fn by_port(fqdn: &'a str, dport: u16) -> L7<'a> {
        let protocol = match dport {
            80 => AppProtocol::Http,
            1433 => AppProtocol::Mssql,
            _ => AppProtocol::Https,
        };
        L7 { fqdn, protocol }
    }
}

/// A flow's 5-tuple (addresses host order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flow {
    pub src: u32,
    pub dst: u32,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
}

impl Flow {
    #[inline]
    fn key(&self) -> Key {
        Key {
            proto: self.proto,
            src: self.src,
            dst: self.dst,
            sport: self.sport,
            dport: self.dport,
        }
    }
    #[inline]
    pub fn reversed(&self) -> Flow {
        Flow {
            src: self.dst,
            dst: self.src,
            proto: self.proto,
            sport: self.dport,
            dport: self.sport,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Forward,
    Allow,
    Deliver,
    Drop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RouteRef {
    pub set: RouteSetId,
    pub index: u32,
}

/// The rule that decided at a hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleRef {
    Nsg {
        table: u32,
        inbound: bool,
        from_internet: bool,
        index: u32,
    },
    /// Allowed by the connection's flow record (R5.4), no rule evaluated.
    NsgFlowRecord,
    /// An AVNM security admin rule (its subnet's admin table, direction, index).
    AdminRule {
        table: u32,
        inbound: bool,
        index: u32,
    },
    FirewallNetwork {
        fw: FirewallId,
        index: u32,
    },
    FirewallApplication {
        fw: FirewallId,
        index: u32,
    },
    FirewallDnat {
        fw: FirewallId,
        index: u32,
    },
    FirewallDefaultDeny(FirewallId),
    FirewallSession(FirewallId),
    Route(RouteRef),
    /// The packet reached a resource vnetsim does not model (its `notModelled` entry).
    NotModelled(u32),
    /// An NSG rule that states a field vnetsim cannot resolve and that the flow could match
    /// ahead of the rule that decided (index into the table's `unresolved` rules).
    NsgUnresolved {
        table: u32,
        inbound: bool,
        from_internet: bool,
        index: u32,
    },
    /// The same for a security admin rule (its subnet's admin table's `unresolved` rules).
    AdminUnresolved {
        table: u32,
        inbound: bool,
        index: u32,
    },
    /// The same for a firewall rule (index into the firewall's `unresolved`).
    FirewallUnresolved {
        fw: FirewallId,
        index: u32,
    },
    /// A load balancer's load-balancing rule (index into its `rules`).
    LbRule {
        lb: LbId,
        index: u32,
    },
    /// A load balancer's inbound NAT rule (index into its `nat_rules`).
    LbNatRule {
        lb: LbId,
        index: u32,
    },
    /// The load balancer's reverse translation of a reply from a backend.
    LbSession(LbId),
    /// An application gateway's routing rule (index into its `rules`).
    AppGwRule {
        gw: AppGwId,
        index: u32,
    },
    /// The application gateway's connection the reply belongs to.
    AppGwSession(AppGwId),
}

/// An address rewrite at a hop: (before, after).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Nat {
    pub src: Option<(u32, u32)>,
    pub dst: Option<(u32, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hop {
    pub node: Endpoint,
    pub action: Action,
    pub route: Option<RouteRef>,
    pub rule: Option<RuleRef>,
    pub nat: Option<Nat>,
}

/// Why a leg ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    Delivered,
    /// Next hop `None` (system or user route).
    RouteNone,
    NoRoute,
    /// Next hop VirtualNetworkGateway with no gateway (R2.8).
    NoGateway,
    /// The gateway has no on-premises prefix for the destination (U25).
    GatewayNoSite,
    /// The site's gateway does not advertise the destination (R7.1).
    NotAdvertisedToSite,
    ApplianceUnresolved,
    IpForwardingDisabled,
    /// A NIC without IP forwarding sent a packet from an address it does not own.
    SourceNotOwned,
    NsgDeny,
    /// An AVNM security admin rule with action Deny (evaluated before NSGs).
    AdminRuleDeny,
    /// The PaaS service's network rules (`networkAcls`) do not admit the source.
    ServiceNetworkRules,
    FirewallDeny,
    FirewallDefaultDeny,
    /// A reply the firewall never saw the request of (R6.6).
    FirewallNoSession,
    /// A DNAT-less packet to a firewall public IP, or a packet addressed to the firewall itself.
    AddressedToFirewall,
    /// Peering ingress refused forwarded traffic (R-PEER-04).
    ForwardedTrafficNotAllowed,
    /// Nothing owns the destination inside the VNet (U4).
    NoOwner,
    /// The destination belongs to a resource vnetsim does not model, or a route vnetsim does
    /// not know (a Virtual WAN hub's) may take the packet: no answer can be given.
    NotModelled,
    /// A rule the flow could match ahead of the deciding one states a field vnetsim cannot
    /// resolve (`unresolved:`): no answer can be given.
    UnresolvedRule,
    Loop,
    /// Internet traffic toward an address that is not public.
    NotReachableFromInternet,
    PublicNetworkAccessDisabled,
    /// Private Endpoints accept TCP (and UDP where the service does) only (R4.6).
    EndpointProtocol,
    /// Private Endpoints never originate traffic (R4.5).
    EndpointNeverOriginates,
    /// The reply reached an endpoint other than the request's source.
    ReplyMisdelivered,
    /// A VM on a private subnet (no default outbound access) with no NAT gateway and no public
    /// IP toward the Internet.
    NoOutboundConnectivity,
    /// A connection from outside toward a NAT gateway's public IP: NAT gateways are outbound only.
    NatGatewayInbound,
    /// A user route's next hop VirtualNetworkGateway where the gateway there is an ExpressRoute
    /// gateway (dropped at it): user routes can only name VPN gateways.
    ExpressRouteNotUserRouteNextHop,
    /// A user route's VirtualAppliance is an IP-forwarding NIC (dropped at it) in a VNet the
    /// sending VNet is not connected to.
    ApplianceNotInReach,
    /// No load-balancing or inbound NAT rule of the frontend matches protocol and port.
    LbNoRule,
    /// Every backend of the matching rule's pool is down (marked, or its NSG denies the probe).
    LbNoHealthyBackend,
    /// A load balancer frontend never originates traffic.
    LbNeverOriginates,
    /// No listener of the application gateway on this address, protocol and port.
    AppGwNoListener,
    /// The listener's routing rule has no backend.
    AppGwNoBackend,
    /// A packet toward an application gateway instance that belongs to none of its connections.
    AppGwNoSession,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    Delivered,
    Dropped,
}

/// One direction of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leg {
    pub verdict: Verdict,
    pub delivered_to: Option<Endpoint>,
    pub dropped_at: Option<Endpoint>,
    pub rule: Option<RuleRef>,
    pub reason: Reason,
    /// The packet as the last node saw it (after every rewrite).
    pub seen: Flow,
    /// Range of this leg's hops in the scratch buffer.
    pub hops: (u32, u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Reachable,
    Unreachable,
    NoReturn,
    /// A leg met something vnetsim does not model (a `notModelled` resource, an unresolved
    /// rule): the walk ends there with the reason, never a verdict.
    NotModelled,
}

impl Trace {
    pub fn key(&self) -> TraceKey {
        let delivered = self.forward.verdict == Verdict::Delivered;
        TraceKey {
            outcome: self.outcome,
            forward: self.forward.key(),
            ret: self.ret.map(|r| r.key()),
            bypassed: self.bypassed,
            bypassed_nva: self.bypassed_nva,
            symmetric: self.symmetric,
            rewritten: (delivered && self.forward.seen.src != self.flow.src)
                .then_some(self.forward.seen.src),
        }
    }
}

impl Outcome {
    /// Every outcome, in the order summaries list them.
    pub const ALL: [Outcome; 4] = [
        Outcome::Reachable,
        Outcome::Unreachable,
        Outcome::NoReturn,
        Outcome::NotModelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reachable => "reachable",
            Outcome::Unreachable => "unreachable",
            Outcome::NoReturn => "no-return",
            Outcome::NotModelled => "not-modelled",
        }
    }
}

/// What a report says about one leg, as ids: equal keys render to equal text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LegKey {
    pub verdict: Verdict,
    pub reason: Reason,
    pub delivered_to: Option<Endpoint>,
    pub dropped_at: Option<Endpoint>,
    pub rule: Option<RuleRef>,
}

impl Leg {
    pub fn key(&self) -> LegKey {
        LegKey {
            verdict: self.verdict,
            reason: self.reason,
            delivered_to: self.delivered_to,
            dropped_at: self.dropped_at,
            rule: self.rule,
        }
    }
}

/// Everything a summary reports about a round trip except the addresses and the path, as ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceKey {
    pub outcome: Outcome,
    pub forward: LegKey,
    pub ret: Option<LegKey>,
    pub bypassed: Option<FirewallId>,
    pub bypassed_nva: Option<NicId>,
    pub symmetric: bool,
    /// The source the destination saw, when it differs from the flow's.
    pub rewritten: Option<u32>,
}

/// A round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trace {
    pub flow: Flow,
    pub ingress: Endpoint,
    pub outcome: Outcome,
    pub forward: Leg,
    pub ret: Option<Leg>,
    pub symmetric: bool,
    /// The stateful device the reply bypassed, when that made the flow `no-return`.
    pub bypassed: Option<FirewallId>,
    /// The appliance a load balancer sent the request to and the reply did not cross (the
    /// reply hashed to another one, or took another path): asymmetric for a stateful NVA.
    pub bypassed_nva: Option<NicId>,
}

#[derive(Clone, Copy, Debug)]
struct Session {
    fw: FirewallId,
    /// The flow as it reached the firewall.
    orig: Flow,
    /// The flow as it left the firewall.
    xlat: Flow,
    crossed_by_reply: bool,
}

/// Firewall sessions a request can open: one per firewall crossing. Every crossing costs a
/// route lookup, and a leg of more than [`MAX_HOPS`] lookups ends as a loop, so this bound holds
/// by construction (DNAT from the Internet adds the one crossing that precedes a lookup).
const MAX_SESSIONS: usize = MAX_HOPS + 1;
/// Distinct NSG enforcement points a request can pass: the source NIC and its subnet, then per
/// route lookup at most an appliance NIC and its subnet (or a destination NIC and its subnet, or
/// an endpoint's subnet). Points are de-duplicated, so this bound holds by construction.
const MAX_POINTS: usize = 2 * (MAX_HOPS + 2);

/// Reusable per-thread buffers: a walk allocates nothing once these have grown.
///
/// The session and flow-record arrays are sized from [`MAX_HOPS`], the longest path a walk can
/// take, so no path can overflow them: a reply is always judged by the state its request
/// created, never by rules because a table was full.
#[derive(Clone, Debug)]
pub struct Scratch {
    pub hops: Vec<Hop>,
    sessions: [Session; MAX_SESSIONS],
    nsessions: usize,
    /// NSG enforcement points the request passed (their flow records admit the reply, R5.4).
    points: [Endpoint; MAX_POINTS],
    npoints: usize,
    /// Load balancer translations toward backends (undone on the backend's reply).
    lb_sessions: [load_balancer::LbSession; MAX_SESSIONS],
    nlb: usize,
    /// Appliances chosen by a load balancer for the request, and whether the reply crossed each.
    picks: [(NicId, bool); MAX_SESSIONS],
    npicks: usize,
    /// Application gateway connections: (gateway, client flow, backend flow).
    gw_sessions: [(AppGwId, Flow, Flow); MAX_SESSIONS],
    ngw: usize,
    /// Hashed choices the walk made, in order (see [`Choice`]).
    choices: [Choice; MAX_CHOICES],
    nchoices: usize,
    /// With `forcing`, choice k takes member `forced[k]` (0 past `nforced`) instead of its hash.
    forced: [u32; MAX_CHOICES],
    nforced: usize,
    forcing: bool,
    /// The first route lookups of a batch of requests, made together ([`trace_batch`]).
    first: FirstRoutes,
}

/// Flows [`trace_batch`] walks at most at once.
pub const BATCH: usize = 64;

/// The first route lookup of each request of a batch that starts in one subnet: destination
/// and route index (or [`vnetsim_fabric::lpm::MISS`]), and which request is being walked.
#[derive(Clone, Debug)]
struct FirstRoutes {
    subnet: Option<SubnetId>,
    dst: [u32; BATCH],
    route: [u32; BATCH],
    len: usize,
    at: usize,
}

impl FirstRoutes {
    const NONE: FirstRoutes = FirstRoutes {
        subnet: None,
        dst: [0; BATCH],
        route: [0; BATCH],
        len: 0,
        at: 0,
    };
    /// The route looked up ahead for the request being walked, if it is `subnet`'s lookup of
    /// `dst`.
    #[inline]
    fn get(&self, subnet: SubnetId, dst: u32) -> Option<Option<u32>> {
        let ours = self.subnet == Some(subnet) && self.at < self.len && self.dst[self.at] == dst;
        ours.then(|| Some(self.route[self.at]).filter(|&r| r != vnetsim_fabric::lpm::MISS))
    }
}

/// Hashed choices a walk records (and [`Scratch::force`] can force) at most.
pub const MAX_CHOICES: usize = 16;

/// A choice the walk made by hash: a load balancer's backend, an Application Gateway's
/// backend and instance, a Route Server ECMP next hop. Two choices on the same hash among as
/// many members are one choice (a flow and its reply through a symmetric hash).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Choice {
    pub hash: u64,
    pub members: u32,
    pub taken: u32,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

impl Scratch {
    pub fn new() -> Scratch {
        let none = Session {
            fw: FirewallId(0),
            orig: Flow::default(),
            xlat: Flow::default(),
            crossed_by_reply: false,
        };
        Scratch {
            hops: Vec::with_capacity(8 * MAX_HOPS),
            sessions: [none; MAX_SESSIONS],
            nsessions: 0,
            points: [Endpoint::Internet; MAX_POINTS],
            npoints: 0,
            lb_sessions: [load_balancer::LbSession::NONE; MAX_SESSIONS],
            nlb: 0,
            picks: [(NicId(0), false); MAX_SESSIONS],
            npicks: 0,
            gw_sessions: [(AppGwId(0), Flow::default(), Flow::default()); MAX_SESSIONS],
            ngw: 0,
            choices: [Choice::default(); MAX_CHOICES],
            nchoices: 0,
            forced: [0; MAX_CHOICES],
            nforced: 0,
            forcing: false,
            first: FirstRoutes::NONE,
        }
    }
    /// The hashed choices among several members the last walk made, in order.
    pub fn choices(&self) -> &[Choice] {
        &self.choices[..self.nchoices]
    }
    /// Later walks take member `ways[k]` at their k-th hashed choice (the first member past
    /// the end of `ways`) instead of the one the hash picks; `None` returns to the hash.
    pub fn force(&mut self, ways: Option<&[u32]>) {
        self.forcing = ways.is_some();
        let w = ways.unwrap_or(&[]);
        self.nforced = w.len().min(MAX_CHOICES);
        self.forced[..self.nforced].copy_from_slice(&w[..self.nforced]);
    }
    /// The NSG points (a NIC, a subnet) the last walk's request passed: a reply there is
    /// admitted by the flow record, no rule evaluated (R5.4).
    pub fn points(&self) -> &[Endpoint] {
        &self.points[..self.npoints]
    }
    pub fn leg_hops(&self, leg: &Leg) -> &[Hop] {
        &self.hops[leg.hops.0 as usize..leg.hops.1 as usize]
    }
    /// The firewall sessions the last request opened.
    fn sessions(&self) -> &[Session] {
        &self.sessions[..self.nsessions]
    }
    fn reset(&mut self) {
        self.hops.clear();
        self.nsessions = 0;
        self.npoints = 0;
        self.nlb = 0;
        self.npicks = 0;
        self.ngw = 0;
        self.nchoices = 0;
    }
    fn add_point(&mut self, e: Endpoint) {
        if self.has_point(e) {
            return;
        }
        assert!(
            self.npoints < MAX_POINTS,
            "a walk passed more NSG points than MAX_HOPS allows"
        );
        self.points[self.npoints] = e;
        self.npoints += 1;
    }
    fn has_point(&self, e: Endpoint) -> bool {
        self.points[..self.npoints].contains(&e)
    }
}

/// A request's source translation toward the Internet (NAT gateway, instance public IP or
/// default outbound access): replies to `public` go back to `private` on `nic`.
#[derive(Clone, Copy, Debug)]
struct Egress {
    public: u32,
    private: u32,
    nic: NicId,
}

/// The per-leg walker.
struct Walk<'a> {
    f: &'a Fabric,
    s: &'a mut Scratch,
    pkt: Flow,
    l7: Option<L7<'a>>,
    reply: bool,
    internet_sourced: bool,
    lookups: usize,
    /// The outbound translation of a request that left for the Internet from a NIC.
    egress: Option<Egress>,
    /// The (public, private) address of a NIC the request reached at its public IP.
    ingress_public: Option<(u32, u32)>,
    /// A TCP packet seen mid-stream (no SYN) with no connection state.
    midstream: bool,
    /// The subnet whose service endpoint the request left through (its private source kept).
    service_endpoint: Option<SubnetId>,
}

enum End {
    Delivered(Endpoint),
    Dropped(Endpoint, Reason, Option<RuleRef>),
}

impl<'a> Walk<'a> {
    #[inline]
    fn hop(&mut self, node: Endpoint, action: Action) {
        self.s.hops.push(Hop {
            node,
            action,
            route: None,
            rule: None,
            nat: None,
        });
    }
    #[inline]
    fn hop_rule(&mut self, node: Endpoint, action: Action, rule: Option<RuleRef>) {
        self.s.hops.push(Hop {
            node,
            action,
            route: None,
            rule,
            nat: None,
        });
    }
    #[inline]
    fn drop_here(&mut self, node: Endpoint, reason: Reason, rule: Option<RuleRef>) -> End {
        self.hop_rule(node, Action::Drop, rule);
        End::Dropped(node, reason, rule)
    }

    /// Evaluates one NSG point. `Ok(rule)` allow, `Err(rule)` deny.
    fn nsg(
        &mut self,
        table: Option<vnetsim_fabric::NsgTableId>,
        point: Endpoint,
        inbound: bool,
    ) -> Result<Option<RuleRef>, RuleRef> {
        let Some(t) = table else { return Ok(None) };
        if self.reply && self.s.has_point(point) {
            return Ok(Some(RuleRef::NsgFlowRecord));
        }
        let nt = &self.f.nsg_tables[t.ix()];
        let from_internet = inbound && self.internet_sourced && nt.inbound_from_internet.is_some();
        let rt = if inbound {
            nt.inbound_for(self.internet_sourced)
        } else {
            &nt.outbound
        };
        let key = self.pkt.key();
        let (access, index) = rt.decide(&key);
        if let Some(index) = rt.unresolved_ahead(&key, index) {
            return Err(RuleRef::NsgUnresolved {
                table: t.0,
                inbound,
                from_internet,
                index,
            });
        }
        let rule = RuleRef::Nsg {
            table: t.0,
            inbound,
            from_internet,
            index,
        };
        if !self.reply {
            self.s.add_point(point);
        }
        match access {
            Access::Allow => Ok(Some(rule)),
            Access::Deny => Err(rule),
        }
    }

    /// The AVNM security admin rules of a NIC's subnet, before its NSGs (R-NSG-12). `Ok(Some)`:
    /// an `AlwaysAllow` rule admitted the packet (NSGs skipped); `Ok(None)`: no rule, or an
    /// `Allow` one, left it to the NSGs; `Err`: a `Deny` rule dropped it. A reply at a point the
    /// request passed is admitted by the flow record, as NSGs do (model).
    fn admin(&mut self, n: NicId, inbound: bool) -> Result<Option<RuleRef>, End> {
        let sub = self.f.nics[n.ix()].subnet;
        let Some(t) = self.f.subnets[sub.ix()].admin_table else {
            return Ok(None);
        };
        let point = Endpoint::Nic(n);
        if self.reply && self.s.has_point(point) {
            return Ok(None);
        }
        let rules = self.f.admin_tables[t.ix()].rules(inbound);
        let key = self.pkt.key();
        let decided = rules.decide(&key);
        if let Some(index) = rules.unresolved_ahead(&key, decided.map(|d| d.1)) {
            let rule = RuleRef::AdminUnresolved {
                table: t.0,
                inbound,
                index,
            };
            return Err(self.drop_here(point, Reason::UnresolvedRule, Some(rule)));
        }
        let Some((access, index)) = decided else {
            return Ok(None);
        };
        let rule = RuleRef::AdminRule {
            table: t.0,
            inbound,
            index,
        };
        match access {
            AdminAccess::Allow => Ok(None),
            AdminAccess::Deny => Err(self.drop_here(point, Reason::AdminRuleDeny, Some(rule))),
            AdminAccess::AlwaysAllow => {
                if !self.reply {
                    self.s.add_point(point);
                    self.s.add_point(Endpoint::Subnet(sub));
                }
                Ok(Some(rule))
            }
        }
    }

    /// Outbound NSGs of a NIC: the NIC's, then its subnet's (R5.3), after admin rules.
    fn nsg_out(&mut self, n: NicId) -> Result<(), End> {
        if let Some(rule) = self.admin(n, false)? {
            self.hop_rule(Endpoint::Nic(n), Action::Forward, Some(rule));
            return Ok(());
        }
        let nic = &self.f.nics[n.ix()];
        let sub = nic.subnet;
        let stable = self.f.subnets[sub.ix()].nsg_table;
        match self.nsg(nic.nsg_table, Endpoint::Nic(n), false) {
            Ok(r) => self.hop_rule(Endpoint::Nic(n), Action::Forward, r),
            Err(r) => return Err(self.drop_here(Endpoint::Nic(n), nsg_reason(r), Some(r))),
        }
        if stable.is_some() {
            match self.nsg(stable, Endpoint::Subnet(sub), false) {
                Ok(r) => self.hop_rule(Endpoint::Subnet(sub), Action::Allow, r),
                Err(r) => {
                    return Err(self.drop_here(Endpoint::Subnet(sub), nsg_reason(r), Some(r)))
                }
            }
        }
        Ok(())
    }

    /// Inbound NSGs of a NIC: its subnet's, then the NIC's (R5.3), after admin rules. Leaves
    /// the NIC's rule (or the admin `AlwaysAllow` rule) for the caller's hop.
    fn nsg_in(&mut self, n: NicId) -> Result<Option<RuleRef>, End> {
        if let Some(rule) = self.admin(n, true)? {
            return Ok(Some(rule));
        }
        let nic = &self.f.nics[n.ix()];
        let sub = nic.subnet;
        let stable = self.f.subnets[sub.ix()].nsg_table;
        let ntable = nic.nsg_table;
        if stable.is_some() {
            match self.nsg(stable, Endpoint::Subnet(sub), true) {
                Ok(r) => self.hop_rule(Endpoint::Subnet(sub), Action::Allow, r),
                Err(r) => {
                    return Err(self.drop_here(Endpoint::Subnet(sub), nsg_reason(r), Some(r)))
                }
            }
        }
        match self.nsg(ntable, Endpoint::Nic(n), true) {
            Ok(r) => Ok(r),
            Err(r) => Err(self.drop_here(Endpoint::Nic(n), nsg_reason(r), Some(r))),
        }
    }

    fn deliver_nic(&mut self, n: NicId) -> End {
        match self.nsg_in(n) {
            Ok(rule) => {
                self.hop_rule(Endpoint::Nic(n), Action::Deliver, rule);
                End::Delivered(Endpoint::Nic(n))
            }
            Err(e) => e,
        }
    }

    fn deliver_pe(&mut self, p: PeId) -> End {
        let pe = &self.f.pes[p.ix()];
        let svc = &self.f.services[pe.service.ix()];
        let node = Endpoint::Pe(p);
        let ok = self.pkt.proto == TCP || (self.pkt.proto == UDP && svc.accepts_udp);
        if !ok {
            return self.drop_here(node, Reason::EndpointProtocol, None);
        }
        let sub = &self.f.subnets[pe.subnet.ix()];
        // R4.4: the subnet's NSG applies only with NSG network policies.
        if sub.pe_policies.nsg() && sub.nsg_table.is_some() {
            let st = sub.nsg_table;
            match self.nsg(st, Endpoint::Subnet(pe.subnet), true) {
                Ok(r) => self.hop_rule(Endpoint::Subnet(pe.subnet), Action::Allow, r),
                Err(r) => {
                    return self.drop_here(Endpoint::Subnet(pe.subnet), nsg_reason(r), Some(r))
                }
            }
        }
        self.hop(node, Action::Deliver);
        End::Delivered(node)
    }

    /// Crossing from VNet `from` into `to` by peering (R-PEER-04).
    fn may_enter(&self, from: VnetId, to: VnetId, from_gateway: bool) -> bool {
        if from == to || from_gateway {
            return true;
        }
        if self.f.vnets[from.ix()].in_space(self.pkt.src) {
            return true;
        }
        self.f.vnets[to.ix()]
            .peer(from)
            .map(|p| p.allow_forwarded_traffic)
            .unwrap_or(false)
    }

    /// Delivery to whatever owns the destination inside VNet `v`.
    fn deliver_in_vnet(&mut self, v: VnetId, at: Endpoint) -> Result<End, SubnetId> {
        match self.f.vnets[v.ix()].owner(self.pkt.dst) {
            Some(Owner::Nic(n)) => Ok(self.deliver_nic(n)),
            Some(Owner::Pe(p)) => Ok(self.deliver_pe(p)),
            Some(Owner::Firewall(fw)) | Some(Owner::FirewallInstance(fw)) => {
                if self.reply {
                    self.firewall_reply(fw)
                } else {
                    Ok(self.drop_here(Endpoint::Firewall(fw), Reason::AddressedToFirewall, None))
                }
            }
            Some(Owner::LbFrontend(fe)) => self.load_balancer(fe, false),
            Some(Owner::AppGw(g)) => self.app_gateway(g),
            Some(Owner::AppGwInstance(g)) => self.app_gateway_instance(g),
            None => Ok(self.nothing_owns(at)),
        }
    }

    /// Nothing modelled owns the destination: a resource vnetsim does not model may (the answer
    /// then says so), else nothing does (U4).
    fn nothing_owns(&mut self, at: Endpoint) -> End {
        match self.f.not_modelled_at(self.pkt.dst) {
            Some(i) => self.drop_here(at, Reason::NotModelled, Some(RuleRef::NotModelled(i))),
            None => self.drop_here(at, Reason::NoOwner, None),
        }
    }

    /// A reply reaching a firewall: it passes only on a session the request created.
    fn firewall_reply(&mut self, fw: FirewallId) -> Result<End, SubnetId> {
        let node = Endpoint::Firewall(fw);
        let p = self.pkt;
        for i in 0..self.s.nsessions {
            let sess = self.s.sessions[i];
            if sess.fw == fw && sess.xlat.reversed() == p {
                let back = sess.orig.reversed();
                let nat = Nat {
                    src: (back.src != p.src).then_some((p.src, back.src)),
                    dst: (back.dst != p.dst).then_some((p.dst, back.dst)),
                };
                self.s.sessions[i].crossed_by_reply = true;
                self.s.hops.push(Hop {
                    node,
                    action: Action::Allow,
                    route: None,
                    rule: Some(RuleRef::FirewallSession(fw)),
                    nat: (nat.src.is_some() || nat.dst.is_some()).then_some(nat),
                });
                self.pkt = back;
                return Err(self.f.firewalls[fw.ix()].subnet);
            }
        }
        Ok(self.drop_here(node, Reason::FirewallNoSession, None))
    }

    fn add_session(&mut self, fw: FirewallId, orig: Flow, xlat: Flow) {
        assert!(
            self.s.nsessions < MAX_SESSIONS,
            "a walk crossed more firewalls than MAX_HOPS allows"
        );
        self.s.sessions[self.s.nsessions] = Session {
            fw,
            orig,
            xlat,
            crossed_by_reply: false,
        };
        self.s.nsessions += 1;
    }

    /// A request reaching a firewall through a route (R6.1, R6.3, R6.4).
    fn firewall_request(&mut self, fw: FirewallId) -> Result<End, SubnetId> {
        if self.reply {
            return self.firewall_reply(fw);
        }
        let node = Endpoint::Firewall(fw);
        if self.midstream {
            // R-FW-11: a TCP packet that is no SYN and matches no session is dropped.
            return Ok(self.drop_here(node, Reason::FirewallNoSession, None));
        }
        let f = &self.f.firewalls[fw.ix()];
        let orig = self.pkt;
        let key = orig.key();
        let mut out = orig;
        let rule;
        let network = f.network_decision(&key);
        if let Some(index) = f.unresolved_network_ahead(&key, network.map(|d| d.1)) {
            let rule = RuleRef::FirewallUnresolved { fw, index };
            return Ok(self.drop_here(node, Reason::UnresolvedRule, Some(rule)));
        }
        if let Some((access, i)) = network {
            rule = RuleRef::FirewallNetwork { fw, index: i };
            if access == Access::Deny {
                return Ok(self.drop_here(node, Reason::FirewallDeny, Some(rule)));
            }
            if !f.is_private_destination(orig.dst) {
                // R6.3: SNAT, to a public IP when the firewall's egress is the Internet.
                out.src = self.firewall_source(fw, orig.dst);
            }
        } else {
            let mut hit = None;
            if orig.proto == TCP {
                if let Some(l7) = self.l7 {
                    hit = f
                        .application
                        .iter()
                        .position(|a| a.matches(orig.src, l7.protocol, orig.dport, l7.fqdn))
                        .map(|i| (i as u32, f.application[i].access));
                    let flow = (orig.src, l7.protocol, orig.dport, l7.fqdn);
                    if let Some(index) = f.unresolved_application_ahead(flow, hit.map(|h| h.0)) {
                        let rule = RuleRef::FirewallUnresolved { fw, index };
                        return Ok(self.drop_here(node, Reason::UnresolvedRule, Some(rule)));
                    }
                }
            }
            match hit {
                None => {
                    return Ok(self.drop_here(
                        node,
                        Reason::FirewallDefaultDeny,
                        Some(RuleRef::FirewallDefaultDeny(fw)),
                    ))
                }
                Some((i, access)) => {
                    rule = RuleRef::FirewallApplication { fw, index: i };
                    if access == Access::Deny {
                        return Ok(self.drop_here(node, Reason::FirewallDeny, Some(rule)));
                    }
                    // R6.4 / R-FW-10: proxied, whatever the destination; the new connection
                    // leaves from a firewall instance address, or from its public IP when the
                    // firewall's egress toward the destination is the Internet.
                    out.src = self.firewall_source(fw, orig.dst);
                }
            }
        }
        self.add_session(fw, orig, out);
        let nat = (out.src != orig.src).then_some(Nat {
            src: Some((orig.src, out.src)),
            dst: None,
        });
        self.s.hops.push(Hop {
            node,
            action: Action::Allow,
            route: None,
            rule: Some(rule),
            nat,
        });
        self.pkt = out;
        Err(f.subnet)
    }

    /// The address a firewall's own connection toward `dst` leaves from: its public IP when
    /// AzureFirewallSubnet routes `dst` to the Internet, else an instance address (R-FW-09).
    fn firewall_source(&self, fw: FirewallId, dst: u32) -> u32 {
        let f = &self.f.firewalls[fw.ix()];
        let rs = self.f.route_set(f.subnet);
        let egress_internet = rs
            .lookup(dst)
            .map(|i| rs.routes[i as usize].target == Target::Internet)
            .unwrap_or(false);
        match (egress_internet, f.snat_public()) {
            (true, Some(p)) => p,
            _ => f.snat_private(),
        }
    }

    /// Internet traffic reaching a firewall public IP (R6.2).
    fn firewall_dnat(&mut self, fw: FirewallId) -> Result<End, SubnetId> {
        if self.reply {
            return self.firewall_reply(fw);
        }
        let node = Endpoint::Firewall(fw);
        let f = &self.f.firewalls[fw.ix()];
        let p = self.pkt;
        let hit = f.dnat.iter().position(|r| {
            let proto_ok = match &r.protocols {
                vnetsim_fabric::classify::Protocols::Any => true,
                vnetsim_fabric::classify::Protocols::Set(s) => s.contains(&p.proto),
            };
            proto_ok
                && r.destination.contains(&p.dst)
                && r.ports
                    .iter()
                    .any(|&(lo, hi)| lo <= p.dport && p.dport <= hi)
                && prefix_match(&r.source, p.src)
        });
        let packet = (p.proto, p.src, p.dst, p.dport);
        if let Some(index) = f.unresolved_dnat_ahead(packet, hit.map(|i| i as u32)) {
            let rule = RuleRef::FirewallUnresolved { fw, index };
            return Ok(self.drop_here(node, Reason::UnresolvedRule, Some(rule)));
        }
        let Some(i) = hit else {
            return Ok(self.drop_here(
                node,
                Reason::FirewallDefaultDeny,
                Some(RuleRef::FirewallDefaultDeny(fw)),
            ));
        };
        let r = &f.dnat[i];
        let translated = Flow {
            src: p.src,
            dst: r.to_ip,
            proto: p.proto,
            sport: p.sport,
            dport: r.to_port,
        };
        // An explicit network Deny for the translated flow overrides DNAT's implied allow.
        let tkey = translated.key();
        let network = f.network_decision(&tkey);
        if let Some(index) = f.unresolved_network_ahead(&tkey, network.map(|d| d.1)) {
            let rule = RuleRef::FirewallUnresolved { fw, index };
            return Ok(self.drop_here(node, Reason::UnresolvedRule, Some(rule)));
        }
        if let Some((Access::Deny, j)) = network {
            return Ok(self.drop_here(
                node,
                Reason::FirewallDeny,
                Some(RuleRef::FirewallNetwork { fw, index: j }),
            ));
        }
        let out = Flow {
            src: f.snat_private(),
            ..translated
        };
        self.add_session(fw, p, out);
        self.s.hops.push(Hop {
            node,
            action: Action::Allow,
            route: None,
            rule: Some(RuleRef::FirewallDnat {
                fw,
                index: i as u32,
            }),
            nat: Some(Nat {
                src: Some((p.src, out.src)),
                dst: Some((p.dst, out.dst)),
            }),
        });
        self.pkt = out;
        self.internet_sourced = false;
        Err(f.subnet)
    }

    /// A packet handed to a gateway (R7.3, R-GW-05): into the connection that learned the
    /// destination (a site, or another gateway over Vnet2Vnet); otherwise the gateway routes it
    /// by GatewaySubnet's effective routes (R-GW-04), toward a peered spoke or a firewall or NVA
    /// a GatewaySubnet user route names. It never sends traffic to the Internet.
    fn gateway_egress(&mut self, g: GatewayId) -> End {
        let node = Endpoint::Gateway(g);
        if self.s.hops.last().map(|h| h.node) != Some(node) {
            self.hop(node, Action::Forward);
        }
        if let Some(end) = self.gateway_nat(g) {
            return end;
        }
        let gw = &self.f.gateways[g.ix()];
        match gw.next_for(self.pkt.dst) {
            Some(GatewayPeer::Site(site)) => {
                self.hop(Endpoint::Site(site), Action::Deliver);
                End::Delivered(Endpoint::Site(site))
            }
            Some(GatewayPeer::Gateway(o)) => {
                self.hop(Endpoint::Gateway(o), Action::Forward);
                if let Some(end) = self.gateway_nat(o) {
                    return end;
                }
                match self.f.gateways[o.ix()].subnet {
                    Some(gs) => self.route_from(gs, true),
                    None => End::Dropped(Endpoint::Gateway(o), Reason::NoRoute, None),
                }
            }
            None => match gw.subnet {
                Some(gs) if self.gateway_routes_onward(gs, g) => self.route_from(gs, true),
                _ => End::Dropped(node, Reason::GatewayNoSite, None),
            },
        }
    }

    /// A NAT rule of gateway `g` that vnetsim does not model could rewrite this packet: the
    /// walk ends at the gateway naming it.
    fn gateway_nat(&mut self, g: GatewayId) -> Option<End> {
        let i = self.f.gateways[g.ix()].nat_not_modelled(self.pkt.src, self.pkt.dst)?;
        let rule = Some(RuleRef::NotModelled(i));
        if let Some(h) = self.s.hops.last_mut() {
            h.action = Action::Drop;
            h.rule = rule;
        }
        Some(End::Dropped(
            Endpoint::Gateway(g),
            Reason::NotModelled,
            rule,
        ))
    }

    /// Whether GatewaySubnet's route for the destination leads somewhere other than the
    /// Internet or back into gateway `g`.
    fn gateway_routes_onward(&self, gs: SubnetId, g: GatewayId) -> bool {
        let rs = self.f.route_set(gs);
        let Some(i) = rs.lookup(self.pkt.dst) else {
            return false;
        };
        match rs.routes[i as usize].target {
            Target::Internet | Target::NoGateway | Target::ExpressRouteGateway(_) => false,
            Target::Gateway(o) => o != g,
            _ => true,
        }
    }

    /// Records a source rewrite on the last hop.
    fn note_src_nat(&mut self, before: u32, after: u32) {
        if let Some(h) = self.s.hops.last_mut() {
            let mut nat = h.nat.unwrap_or_default();
            nat.src = Some((before, after));
            h.nat = Some(nat);
        }
    }

    /// The source a packet handed to the Internet next hop by subnet `sub` gets. A request from
    /// a NIC of that subnet takes its outbound method's address, or is dropped on a private
    /// subnet without one (a packet forwarded from elsewhere keeps its source); a reply from a
    /// NIC reached at its public IP leaves from that IP.
    fn outbound_snat(&mut self, sub: SubnetId) -> Result<(), End> {
        let src = self.pkt.src;
        if self.reply {
            if let Some((public, private)) = self.ingress_public {
                if src == private {
                    self.note_src_nat(src, public);
                    self.pkt.src = public;
                }
            }
            return Ok(());
        }
        if is_public(src) || !is_public(self.pkt.dst) {
            return Ok(());
        }
        let v = self.f.subnets[sub.ix()].vnet;
        let Some(Owner::Nic(n)) = self.f.vnets[v.ix()].owner(src) else {
            return Ok(());
        };
        if self.f.nics[n.ix()].subnet != sub {
            return Ok(());
        }
        let Some((_, public)) = self.f.outbound_of(n) else {
            let at = Endpoint::Subnet(sub);
            return Err(self.drop_here(at, Reason::NoOutboundConnectivity, None));
        };
        self.note_src_nat(src, public);
        self.pkt.src = public;
        self.egress = Some(Egress {
            public,
            private: src,
            nic: n,
        });
        Ok(())
    }

    /// A reply to the address a request's outbound translation gave: back to the NIC.
    fn egress_reply(&mut self) -> Option<End> {
        let e = self
            .egress
            .filter(|e| self.reply && e.public == self.pkt.dst)?;
        let nat = Some(Nat {
            src: None,
            dst: Some((e.public, e.private)),
        });
        self.internet_hop_nat(nat);
        self.pkt.dst = e.private;
        Some(self.deliver_nic(e.nic))
    }

    /// Records a destination rewrite on the Internet hop the packet is at (adding the hop when
    /// the walk has not recorded it yet).
    fn internet_hop_nat(&mut self, nat: Option<Nat>) {
        match self.s.hops.last_mut() {
            Some(h) if h.node == Endpoint::Internet => h.nat = nat,
            _ => self.s.hops.push(Hop {
                node: Endpoint::Internet,
                action: Action::Forward,
                route: None,
                rule: None,
                nat,
            }),
        }
    }

    /// Traffic leaving to the Internet (or to a public endpoint on it).
    fn leave_to_internet(&mut self, from: Option<SubnetId>) -> Result<End, SubnetId> {
        if let Some(sub) = from {
            if let Err(e) = self.outbound_snat(sub) {
                return Ok(e);
            }
        }
        if let Some(end) = self.egress_reply() {
            return Ok(end);
        }
        let dst = self.pkt.dst;
        match self.f.public_owner(dst) {
            Some(PublicOwner::NatGateway(_)) if !self.reply => {
                return Ok(self.drop_here(Endpoint::Internet, Reason::NatGatewayInbound, None));
            }
            Some(PublicOwner::Service(s)) => return Ok(self.deliver_service(s, None)),
            Some(PublicOwner::Firewall(fw)) => return self.firewall_dnat(fw),
            Some(PublicOwner::LbFrontend(fe)) => {
                if !self.reply {
                    self.internet_sourced = true;
                }
                return self.load_balancer(fe, false);
            }
            Some(PublicOwner::AppGw(g)) => {
                if !self.reply {
                    self.internet_sourced = true;
                }
                return self.app_gateway(g);
            }
            Some(PublicOwner::Nic(n)) => {
                let private = self.f.nics[n.ix()].ip;
                if !self.reply {
                    self.internet_sourced = true;
                }
                let nat = Some(Nat {
                    src: None,
                    dst: Some((dst, private)),
                });
                self.internet_hop_nat(nat);
                self.pkt.dst = private;
                if !self.reply {
                    self.ingress_public = Some((dst, private));
                }
                return Ok(self.deliver_nic(n));
            }
            Some(PublicOwner::NatGateway(_)) | None => {}
        }
        if !self.reply {
            if let Some(i) = self.f.not_modelled_at(dst) {
                return Ok(self.drop_here(
                    Endpoint::Internet,
                    Reason::NotModelled,
                    Some(RuleRef::NotModelled(i)),
                ));
            }
        }
        if self.reply && is_public(dst) {
            self.hop(Endpoint::Internet, Action::Deliver);
            return Ok(End::Delivered(Endpoint::Internet));
        }
        if self.reply || !is_public(dst) {
            // A reply to a private address that no outbound translation gave (e.g. a firewall
            // told never to SNAT) finds no way back from the Internet.
            return Ok(self.drop_here(Endpoint::Internet, Reason::NotReachableFromInternet, None));
        }
        self.hop(Endpoint::Internet, Action::Deliver);
        Ok(End::Delivered(Endpoint::Internet))
    }

    /// A PaaS service's public endpoint: public network access, then its network rules judge
    /// the source, arriving over subnet `via`'s service endpoint or from the Internet.
    fn deliver_service(&mut self, s: ServiceId, via: Option<SubnetId>) -> End {
        let node = Endpoint::Service(s);
        let svc = &self.f.services[s.ix()];
        if !svc.public_network_access {
            return self.drop_here(node, Reason::PublicNetworkAccessDisabled, None);
        }
        if !svc.acls.admits(self.pkt.src, via) {
            return self.drop_here(node, Reason::ServiceNetworkRules, None);
        }
        self.hop(node, Action::Deliver);
        End::Delivered(node)
    }

    /// A `VirtualNetworkServiceEndpoint` route: to the service over the backbone with the
    /// private source (no outbound translation). An address of the service's prefixes that no
    /// modelled service holds is the service itself, outside the fabric.
    fn via_service_endpoint(&mut self, sub: SubnetId) -> End {
        if !self.reply {
            self.service_endpoint = Some(sub);
        }
        match self.f.public_owner(self.pkt.dst) {
            Some(PublicOwner::Service(s)) => self.deliver_service(s, Some(sub)),
            _ => {
                self.hop(Endpoint::Internet, Action::Deliver);
                End::Delivered(Endpoint::Internet)
            }
        }
    }

    /// Which of `width` equal-cost routes (Route Server ECMP) this flow takes: a symmetric hash
    /// of the 5-tuple, so a reply that meets the same group takes the same next hop (model).
    #[inline]
    fn ecmp_pick(&mut self, width: u32) -> u32 {
        if width <= 1 {
            return 0;
        }
        let p = self.pkt;
        let d = vnetsim_fabric::load_balancer::Distribution::FiveTuple;
        let h = vnetsim_fabric::load_balancer::pick_hash(
            ECMP_SEED,
            d,
            true,
            (p.src, p.sport),
            (p.dst, p.dport),
            p.proto,
        );
        self.choose(h, width as usize) as u32
    }

    /// The member (of `n`) a choice on hash `h` takes: the hash's, or the one forced; an
    /// earlier choice on the same hash among as many members gives the same answer.
    #[inline]
    fn choose(&mut self, h: u64, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let s = &mut *self.s;
        let n32 = n as u32;
        if let Some(c) = s.choices().iter().find(|c| c.hash == h && c.members == n32) {
            return c.taken as usize;
        }
        let k = s.nchoices;
        let taken = match (s.forcing, k < s.nforced) {
            (true, true) => s.forced[k].min(n32 - 1),
            (true, false) => 0,
            (false, _) => (h % n as u64) as u32,
        };
        if k < MAX_CHOICES {
            s.choices[k] = Choice {
                hash: h,
                members: n32,
                taken,
            };
            s.nchoices += 1;
        }
        taken as usize
    }

    /// Whether appliance `n` is where the destination lies: the NVA advertised it through a
    /// Route Server, and its own subnet's route for it points back at it. The network behind
    /// the NVA is outside the fabric; the packet is delivered to the NVA (model).
    fn behind_appliance(&self, n: NicId) -> bool {
        let rs = self.f.route_set(self.f.nics[n.ix()].subnet);
        let Some(i) = rs.lookup(self.pkt.dst) else {
            return false;
        };
        (i..i + rs.ecmp_width(i)).any(|j| {
            let r = &rs.routes[j as usize];
            r.target == Target::Appliance(n)
                && r.source == vnetsim_fabric::RouteSource::VirtualNetworkGateway
        })
    }

    /// Routes from `subnet` until the packet is delivered or dropped.
    fn route_from(&mut self, mut subnet: SubnetId, mut from_gateway: bool) -> End {
        loop {
            self.lookups += 1;
            let here = self
                .s
                .hops
                .last()
                .map(|h| h.node)
                .unwrap_or(Endpoint::Subnet(subnet));
            if self.lookups > MAX_HOPS {
                return self.drop_here(here, Reason::Loop, None);
            }
            let sn = &self.f.subnets[subnet.ix()];
            let vnet = sn.vnet;
            let rs_id = sn.route_set;
            let rs = &self.f.route_sets[rs_id.ix()];
            let ahead = (self.lookups == 1 && !self.reply)
                .then(|| self.s.first.get(subnet, self.pkt.dst))
                .flatten();
            let Some(idx) = ahead.unwrap_or_else(|| rs.lookup(self.pkt.dst)) else {
                return End::Dropped(here, Reason::NoRoute, None);
            };
            let idx = idx + self.ecmp_pick(rs.ecmp_width(idx));
            let rref = RouteRef {
                set: rs_id,
                index: idx,
            };
            if let Some(h) = self.s.hops.last_mut() {
                h.route = Some(rref);
            }
            let route = &rs.routes[idx as usize];
            if let (Some(i), false) = (sn.hub_routes, stands_against_hub(route)) {
                let rule = Some(RuleRef::NotModelled(i));
                if let Some(h) = self.s.hops.last_mut() {
                    h.action = Action::Drop;
                    h.rule = rule;
                }
                return End::Dropped(here, Reason::NotModelled, rule);
            }
            let user_rule =
                (route.source == vnetsim_fabric::RouteSource::User).then_some(RuleRef::Route(rref));
            let next = match route.target {
                Target::Drop => {
                    if let Some(h) = self.s.hops.last_mut() {
                        h.action = Action::Drop;
                        h.rule = user_rule.or(h.rule);
                    }
                    return End::Dropped(here, Reason::RouteNone, user_rule);
                }
                Target::NoGateway => return End::Dropped(here, Reason::NoGateway, user_rule),
                Target::ExpressRouteGateway(g) => {
                    let at = Endpoint::Gateway(g);
                    return End::Dropped(at, Reason::ExpressRouteNotUserRouteNextHop, user_rule);
                }
                Target::ApplianceUnreachable(n) => {
                    let at = Endpoint::Nic(n);
                    return End::Dropped(at, Reason::ApplianceNotInReach, user_rule);
                }
                Target::ApplianceUnresolved => {
                    return End::Dropped(here, Reason::ApplianceUnresolved, user_rule)
                }
                Target::Internet => self.leave_to_internet(Some(subnet)),
                Target::ServiceEndpoint => Ok(self.via_service_endpoint(subnet)),
                Target::Gateway(g) => Ok(self.gateway_egress(g)),
                Target::Vnet(w) => {
                    if !self.may_enter(vnet, w, from_gateway) {
                        return End::Dropped(here, Reason::ForwardedTrafficNotAllowed, None);
                    }
                    self.deliver_in_vnet(w, Endpoint::Subnet(subnet))
                }
                Target::Pe(p) => {
                    let pv = self.f.subnets[self.f.pes[p.ix()].subnet.ix()].vnet;
                    if !self.may_enter(vnet, pv, from_gateway) {
                        return End::Dropped(here, Reason::ForwardedTrafficNotAllowed, None);
                    }
                    Ok(self.deliver_pe(p))
                }
                Target::Firewall(fw) => {
                    let fv = self.f.firewalls[fw.ix()].vnet;
                    if !self.may_enter(vnet, fv, from_gateway) {
                        return End::Dropped(here, Reason::ForwardedTrafficNotAllowed, None);
                    }
                    self.firewall_request(fw)
                }
                Target::ApplianceNoForwarding(n) => {
                    return self.drop_here(Endpoint::Nic(n), Reason::IpForwardingDisabled, None);
                }
                Target::LoadBalancer(fe) => {
                    let lv = self.f.lb_frontends[fe.ix()]
                        .subnet
                        .map(|s| self.f.subnets[s.ix()].vnet)
                        .unwrap_or(vnet);
                    if !self.may_enter(vnet, lv, from_gateway) {
                        return End::Dropped(here, Reason::ForwardedTrafficNotAllowed, None);
                    }
                    self.load_balancer(fe, true)
                }
                Target::Appliance(n) => {
                    let nv = self.f.subnets[self.f.nics[n.ix()].subnet.ix()].vnet;
                    if !self.may_enter(vnet, nv, from_gateway) {
                        return End::Dropped(here, Reason::ForwardedTrafficNotAllowed, None);
                    }
                    if self.behind_appliance(n) {
                        return self.deliver_nic(n);
                    }
                    self.cross_appliance(n);
                    // R-NVA-02 / R-NSG-11: the appliance's NSGs see the transit packet both ways.
                    match self.nsg_in(n) {
                        Ok(_) => {}
                        Err(e) => return e,
                    }
                    if let Err(e) = self.nsg_out(n) {
                        return e;
                    }
                    Err(self.f.nics[n.ix()].subnet)
                }
            };
            match next {
                Ok(end) => return end,
                Err(s) => {
                    subnet = s;
                    from_gateway = false;
                }
            }
        }
    }

    /// Starts a leg at an endpoint.
    fn start(&mut self, at: Endpoint) -> End {
        match at {
            Endpoint::Nic(n) if self.reply && self.lb_session_of(n).is_some() => {
                self.lb_backend_reply(n)
            }
            Endpoint::Nic(n) => {
                let nic = &self.f.nics[n.ix()];
                if self.pkt.src != nic.ip && !nic.ip_forwarding {
                    // Azure drops what a NIC sends from an address it does not own unless IP
                    // forwarding is on (it is what lets an appliance send others' packets).
                    return self.drop_here(at, Reason::SourceNotOwned, None);
                }
                if self.pkt.dst == PLATFORM_IP {
                    // R-PLAT-02/03: handled at the host, no routes, no NSG.
                    self.hop(at, Action::Forward);
                    self.hop(Endpoint::Platform, Action::Deliver);
                    return End::Delivered(Endpoint::Platform);
                }
                if let Err(e) = self.nsg_out(n) {
                    return e;
                }
                self.route_from(self.f.nics[n.ix()].subnet, false)
            }
            Endpoint::Subnet(s) => {
                self.hop(at, Action::Forward);
                self.route_from(s, false)
            }
            Endpoint::Firewall(fw) => {
                self.hop(at, Action::Forward);
                self.route_from(self.f.firewalls[fw.ix()].subnet, false)
            }
            Endpoint::Pe(_) if !self.reply => {
                self.drop_here(at, Reason::EndpointNeverOriginates, None)
            }
            Endpoint::Pe(p) => self.pe_reply(p),
            Endpoint::Site(site) => {
                self.hop(at, Action::Forward);
                let dst = self.pkt.dst;
                let (bgp, er) = (
                    self.f.sites[site.ix()].bgp,
                    self.f.sites[site.ix()].express_route,
                );
                let g = self.f.sites[site.ix()]
                    .gateways
                    .iter()
                    .copied()
                    .find(|g| self.f.gateways[g.ix()].advertises_to(dst, bgp, er));
                let Some(g) = g else {
                    if let Some(h) = self.s.hops.last_mut() {
                        h.action = Action::Drop;
                    }
                    return End::Dropped(at, Reason::NotAdvertisedToSite, None);
                };
                // R7.2: forwarded by GatewaySubnet's routes, which also carry the prefixes the
                // gateway learned from its other connections (site-to-site transit).
                self.hop(Endpoint::Gateway(g), Action::Forward);
                if let Some(end) = self.gateway_nat(g) {
                    return end;
                }
                match self.f.gateways[g.ix()].subnet {
                    Some(gs) => self.route_from(gs, true),
                    None => End::Dropped(Endpoint::Gateway(g), Reason::NoRoute, None),
                }
            }
            Endpoint::Internet | Endpoint::Service(_)
                if self.reply && self.service_endpoint.is_some() =>
            {
                // The service answers over the backbone, to the private source it saw.
                self.hop(at, Action::Forward);
                self.straight_to_source()
            }
            Endpoint::Internet | Endpoint::Service(_) | Endpoint::Gateway(_) => {
                self.hop(at, Action::Forward);
                if !self.reply {
                    self.internet_sourced = true;
                }
                match self.leave_to_internet(None) {
                    Ok(end) => end,
                    Err(s) => self.route_from(s, false),
                }
            }
            Endpoint::LoadBalancer(_) => self.drop_here(at, Reason::LbNeverOriginates, None),
            Endpoint::AppGateway(g) => {
                self.hop(at, Action::Forward);
                self.route_from(self.f.app_gateways[g.ix()].subnet, false)
            }
            Endpoint::Platform => {
                self.hop(at, Action::Forward);
                match self.f.private_owner(self.pkt.dst) {
                    Some((_, Owner::Nic(n))) => self.deliver_nic(n),
                    Some((_, Owner::Pe(p))) => self.deliver_pe(p),
                    _ => End::Dropped(at, Reason::NoOwner, None),
                }
            }
        }
    }

    /// R4.5 / R-PE-08: how a Private Endpoint's reply travels.
    fn pe_reply(&mut self, p: PeId) -> End {
        let at = Endpoint::Pe(p);
        self.hop(at, Action::Forward);
        let pe = &self.f.pes[p.ix()];
        let sub = &self.f.subnets[pe.subnet.ix()];
        let dst = self.pkt.dst;
        let to_firewall = self
            .s
            .sessions()
            .iter()
            .any(|s| s.xlat.src == dst && self.f.firewalls[s.fw.ix()].owns(dst));
        let udr_matches = sub.pe_policies.route_tables() && {
            let rs = self.f.route_set(pe.subnet);
            rs.lookup(dst)
                .map(|i| rs.routes[i as usize].source == vnetsim_fabric::RouteSource::User)
                .unwrap_or(false)
        };
        if to_firewall || udr_matches {
            return self.route_from(pe.subnet, false);
        }
        // Otherwise straight back to the source, whatever the firewall in between.
        self.straight_to_source()
    }

    fn straight_to_source(&mut self) -> End {
        let dst = self.pkt.dst;
        if let Some((_, o)) = self.f.private_owner(dst) {
            return match o {
                Owner::Nic(n) => self.deliver_nic(n),
                Owner::Pe(p) => self.deliver_pe(p),
                Owner::Firewall(fw) | Owner::FirewallInstance(fw) => {
                    match self.firewall_reply(fw) {
                        Ok(e) => e,
                        Err(s) => self.route_from(s, false),
                    }
                }
                Owner::AppGwInstance(g) => match self.app_gateway_instance(g) {
                    Ok(e) => e,
                    Err(s) => self.route_from(s, false),
                },
                Owner::LbFrontend(_) | Owner::AppGw(_) => {
                    self.drop_here(Endpoint::Internet, Reason::NoOwner, None)
                }
            };
        }
        if let Some(site) = self.f.site_of(dst) {
            if let Some(&g) = self.f.sites[site.ix()].gateways.first() {
                return self.gateway_egress(g);
            }
        }
        End::Dropped(Endpoint::Internet, Reason::NoRoute, None)
    }
}

fn leg_of(end: End, start: usize, s: &Scratch, seen: Flow) -> Leg {
    let hops = (start as u32, s.hops.len() as u32);
    match end {
        End::Delivered(e) => Leg {
            verdict: Verdict::Delivered,
            delivered_to: Some(e),
            dropped_at: None,
            rule: s.hops[start..].iter().rev().find_map(|h| h.rule),
            reason: Reason::Delivered,
            seen,
            hops,
        },
        End::Dropped(at, reason, rule) => Leg {
            verdict: Verdict::Dropped,
            delivered_to: None,
            dropped_at: Some(at),
            rule,
            reason,
            seen,
            hops,
        },
    }
}

/// Whether route `r` decides whatever routes a Virtual WAN hub gives the VNet (model): hub
/// routes are gateway routes, so the system routes of the VNet's own space, its peers, its
/// Private Endpoints and service endpoints beat them at any prefix length (R2.7), and a user
/// route for one address beats a hub route of the same prefix and cannot meet a longer one
/// (R2.6). Any other route may lose to a hub route of the same or a longer prefix.
#[inline]
fn stands_against_hub(r: &vnetsim_fabric::EffectiveRoute) -> bool {
    match r.source {
        vnetsim_fabric::RouteSource::Default => {
            matches!(
                r.target,
                Target::Vnet(_) | Target::Pe(_) | Target::ServiceEndpoint
            )
        }
        vnetsim_fabric::RouteSource::User => r.prefix.prefix_len() == 32,
        vnetsim_fabric::RouteSource::VirtualNetworkGateway => false,
    }
}

/// The outcome of a trace whose leg `leg` was dropped: `not-modelled` when the leg met
/// something vnetsim does not model, else `otherwise`.
#[inline]
fn dropped(leg: &Leg, otherwise: Outcome) -> Outcome {
    match leg.reason {
        Reason::NotModelled | Reason::UnresolvedRule => Outcome::NotModelled,
        _ => otherwise,
    }
}

/// Why an NSG point stopped a packet: its deny, or an unresolved rule ahead of the decision.
#[inline]
fn nsg_reason(r: RuleRef) -> Reason {
    match r {
        RuleRef::NsgUnresolved { .. } => Reason::UnresolvedRule,
        _ => Reason::NsgDeny,
    }
}

/// Walks one flow both ways. `l7` is what application rules match.
pub fn trace(
    f: &Fabric,
    flow: Flow,
    ingress: Endpoint,
    l7: Option<L7<'_>>,
    s: &mut Scratch,
) -> Trace {
    trace_with(f, flow, ingress, l7, false, s)
}

/// The subnet whose routes a request entering at `ingress` looks up first, when that is
/// known before the walk: a NIC's or a subnet's.
fn first_subnet(f: &Fabric, ingress: Endpoint) -> Option<SubnetId> {
    match ingress {
        Endpoint::Nic(n) => Some(f.nics[n.ix()].subnet),
        Endpoint::Subnet(s) => Some(s),
        _ => None,
    }
}

/// [`trace`] of up to [`BATCH`] flows that enter at one endpoint, `each` called with the
/// index of each flow and its trace, in order. The requests' first route lookups, in the
/// subnet they all start from, are made together ([`vnetsim_fabric::lpm::Fib::lookup_batch`]), so
/// the processor overlaps their memory accesses; every trace equals [`trace`]'s.
pub fn trace_batch<'f>(
    f: &'f Fabric,
    flows: &[Flow],
    ingress: Endpoint,
    l7: impl Fn(usize) -> Option<L7<'f>>,
    s: &mut Scratch,
    mut each: impl FnMut(usize, &Scratch, &Trace),
) {
    let flows = &flows[..flows.len().min(BATCH)];
    s.first.subnet = first_subnet(f, ingress);
    if let Some(sub) = s.first.subnet {
        let rs = &f.route_sets[f.subnets[sub.ix()].route_set.ix()];
        let n = flows.len();
        for (d, fl) in s.first.dst.iter_mut().zip(flows) {
            *d = fl.dst;
        }
        rs.lookup_batch(&s.first.dst[..n], &mut s.first.route[..n]);
        s.first.len = n;
    }
    for (i, fl) in flows.iter().enumerate() {
        s.first.at = i;
        let t = trace(f, *fl, ingress, l7(i), s);
        each(i, s, &t);
    }
    s.first.subnet = None;
    s.first.len = 0;
}

/// One NSG's decision at a NIC's enforcement point: what a flow log records there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsgDecision {
    pub nsg: vnetsim_fabric::NsgId,
    pub access: Access,
    pub rule: RuleRef,
}

/// The NSGs of NIC `nic` deciding `flow` (addresses as the NIC sees them) in Azure's order
/// (R5.3): inbound the subnet's then the NIC's, outbound the NIC's then the subnet's. An NSG
/// after one that denies is not reached (`None`), as is an absent one. `internet_sourced`
/// inbound traffic meets the table without the `VirtualNetwork` tag's user-route widening
/// (R5.7). The same tables and lookups as the walk.
pub fn nsg_point(
    f: &Fabric,
    nic: NicId,
    flow: &Flow,
    inbound: bool,
    internet_sourced: bool,
) -> [Option<NsgDecision>; 2] {
    let n = &f.nics[nic.ix()];
    let subnet = f.subnets[n.subnet.ix()].nsg_table;
    let order = if inbound {
        [subnet, n.nsg_table]
    } else {
        [n.nsg_table, subnet]
    };
    let mut out = [None; 2];
    for (slot, table) in out.iter_mut().zip(order) {
        let Some(t) = table else { continue };
        let nt = &f.nsg_tables[t.ix()];
        let from_internet = inbound && internet_sourced && nt.inbound_from_internet.is_some();
        let rt = if inbound {
            nt.inbound_for(internet_sourced)
        } else {
            &nt.outbound
        };
        let (access, index) = rt.decide(&flow.key());
        *slot = Some(NsgDecision {
            nsg: nt.nsg,
            access,
            rule: RuleRef::Nsg {
                table: t.0,
                inbound,
                from_internet,
                index,
            },
        });
        if access == Access::Deny {
            break;
        }
    }
    out
}

/// The first rule with an `unresolved:` field that could decide `flow` at NIC `nic`'s NSGs
/// (the same order and tables as [`nsg_point`]): one the flow could match ahead of the rule
/// that decided at an NSG reached. `None`: the decisions of [`nsg_point`] are certain.
pub fn nsg_point_unresolved(
    f: &Fabric,
    nic: NicId,
    flow: &Flow,
    inbound: bool,
    internet_sourced: bool,
) -> Option<RuleRef> {
    let n = &f.nics[nic.ix()];
    let subnet = f.subnets[n.subnet.ix()].nsg_table;
    let order = if inbound {
        [subnet, n.nsg_table]
    } else {
        [n.nsg_table, subnet]
    };
    let key = flow.key();
    for t in order.into_iter().flatten() {
        let nt = &f.nsg_tables[t.ix()];
        let from_internet = inbound && internet_sourced && nt.inbound_from_internet.is_some();
        let rt = if inbound {
            nt.inbound_for(internet_sourced)
        } else {
            &nt.outbound
        };
        let (access, index) = rt.decide(&key);
        if let Some(index) = rt.unresolved_ahead(&key, index) {
            return Some(RuleRef::NsgUnresolved {
                table: t.0,
                inbound,
                from_internet,
                index,
            });
        }
        if access == Access::Deny {
            break;
        }
    }
    None
}

/// [`trace`] for a packet that may be seen mid-stream: with `midstream`, the
/// request is a TCP packet without SYN for which no device holds state, so
/// stateful firewalls drop it (R-FW-11); NSGs evaluate it as a new flow.
pub fn trace_with(
    f: &Fabric,
    flow: Flow,
    ingress: Endpoint,
    l7: Option<L7<'_>>,
    midstream: bool,
    s: &mut Scratch,
) -> Trace {
    s.reset();
    let mut w = Walk {
        f,
        s,
        pkt: flow,
        l7,
        reply: false,
        internet_sourced: false,
        lookups: 0,
        egress: None,
        ingress_public: None,
        midstream,
        service_endpoint: None,
    };
    let end = w.start(ingress);
    let seen = w.pkt;
    let (egress, ingress_public, service_endpoint) =
        (w.egress, w.ingress_public, w.service_endpoint);
    let forward = leg_of(end, 0, s, seen);
    let Some(delivered) = forward.delivered_to else {
        return Trace {
            flow,
            ingress,
            outcome: dropped(&forward, Outcome::Unreachable),
            forward,
            ret: None,
            symmetric: true,
            bypassed: None,
            bypassed_nva: None,
        };
    };
    // R8.2: the reply, from where the request landed, to the address it saw as source.
    let start = s.hops.len();
    let reply = seen.reversed();
    let mut w = Walk {
        f,
        s,
        pkt: reply,
        l7,
        reply: true,
        internet_sourced: false,
        lookups: 0,
        egress,
        ingress_public,
        midstream: false,
        service_endpoint,
    };
    let end = w.start(delivered);
    let rseen = w.pkt;
    let mut ret = leg_of(end, start, s, rseen);
    if ret.verdict == Verdict::Delivered
        && ret.delivered_to != Some(ingress)
        && !(ingress == Endpoint::Internet && ret.delivered_to == Some(Endpoint::Internet))
    {
        // Sites and the Internet are reached by address, anything else must be the source itself.
        let same_site = matches!((ingress, ret.delivered_to), (Endpoint::Site(a), Some(Endpoint::Site(b))) if a == b);
        if !same_site {
            ret.verdict = Verdict::Dropped;
            ret.dropped_at = ret.delivered_to;
            ret.delivered_to = None;
            ret.reason = Reason::ReplyMisdelivered;
        }
    }
    if ret.verdict == Verdict::Dropped {
        return Trace {
            flow,
            ingress,
            outcome: dropped(&ret, Outcome::NoReturn),
            forward,
            ret: Some(ret),
            symmetric: false,
            bypassed: None,
            bypassed_nva: None,
        };
    }
    // R8.3: every stateful device of the request must see the reply.
    let bypassed = s
        .sessions()
        .iter()
        .find(|x| !x.crossed_by_reply)
        .map(|x| x.fw);
    let bypassed_nva = s.picks[..s.npicks].iter().find(|p| !p.1).map(|p| p.0);
    let ok = bypassed.is_none() && bypassed_nva.is_none();
    Trace {
        flow,
        ingress,
        outcome: if ok {
            Outcome::Reachable
        } else {
            Outcome::NoReturn
        },
        forward,
        ret: Some(ret),
        symmetric: ok,
        bypassed,
        bypassed_nva,
    }
}

#[cfg(test)]
mod tests {
    use vnetsim_fabric::prefix::is_public;
    #[test]
    fn public_excludes_private_and_special_ranges() {
        assert!(is_public(0x0808_0808)); // 8.8.8.8
        assert!(!is_public(0x0A01_0203));
        assert!(!is_public(0xAC1F_0064)); // 172.31.0.100
        assert!(!is_public(0x6440_0001)); // 100.64.0.1
    }
}
