//! # vnetsim-reach: exhaustive reachability
//!
//! Answers "what can reach what" for every header, not a sample. For each source the header
//! space (source address, destination address, protocol, source port, destination port) is
//! cut into equivalence classes: boxes within which no decision of any table the walk
//! consults can change. Each class is walked once, on the engine's ordinary `trace`, with its
//! lowest header as representative; classes with the same outcome, path and rewrite are
//! merged into maximal regions.
//!
//! The classes are found by refinement, per source and from the tables that source's walks
//! touch, never globally: a box is walked, the cut points of every table at every node the
//! walk visited (both legs, see [`tables`]) are gathered in the orientation of the packet
//! there, and if any cut falls inside the box it is split along one dimension and each piece
//! is walked in turn. A box no cut divides is a class: by induction over the hops, every
//! header in it makes each decision the representative made, so it follows the same path with
//! the same rewrites. Fields a rewrite has made constant (DNAT, SNAT) are not cut further
//! on that leg. Rule tables cut a box only where a rule that can decide inside it begins or
//! ends ([`rules`]), and only on a leg that meets them: a reply admitted by an NSG's flow
//! record or a firewall's session reads no rule there.
//!
//! Hashed choices (a load balancer's or Application Gateway's backend, a gateway instance, an
//! ECMP next hop) read every field of the header, so no cut makes them constant. A box is
//! walked once per way its choices can go ([`walk_ways`]: the engine records each choice and
//! can be forced to another member) and cut by the tables of every way; a class's signature
//! holds all its ways, and each header of the class takes the one its hash picks.
//!
//! Application rules read the name a flow carries, which no header holds. A class is walked
//! with the name a flow nobody observed carries (`sweep::destination_l7`: the destination
//! service's FQDN, in the protocol its port stands for); when a firewall with application
//! rules is on the path, the destination's owners and the ports that pick that protocol (80,
//! 1433) are cuts too, so the name is the same throughout the class. Protocols other than TCP
//! and UDP carry no ports: they are walked with ports 0, as a sweep's ICMP probe is.
//!
//! Layering: fabric and engine below; the binary prints what this crate returns.

pub mod render;
pub mod rules;
pub mod space;
pub mod tables;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// The hasher of the maps keyed by signatures and regions: these keys are computed from the
/// fabric, so a fast hash is enough (the default's SipHash cost about a tenth of a partition).
type FastHash = foldhash::fast::FixedState;

/// A protocol interval, its destination port intervals and its source port interval.
type ProtocolBox = ((u32, u32), Vec<(u32, u32)>, (u32, u32));

/// What makes a region: its source, its destination (none for classes aimed at no destination
/// asked about) and its signature.
type RegionKey = (u32, Option<u32>, u32);

use rayon::prelude::*;
use vnetsim_engine::sweep::destination_l7;
use vnetsim_engine::{trace, Action, Flow, RouteRef, RuleRef, Scratch, Trace, TraceKey, TCP, UDP};
use vnetsim_fabric::prefix::NOT_INTERNET;
use vnetsim_fabric::{Endpoint, Fabric, Target};

use space::{Cuts, HeaderBox, DPORT, DST, PROTO, SPORT, SRC};
use tables::{NodeCuts, Tables};

/// One hop as a region compares it: forward hops keep the addresses a rewrite gave (they are
/// the same for the whole class), reply hops only whether a rewrite happened (a reply's
/// restoring rewrite gives back each header's own addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HopSig {
    pub node: Endpoint,
    pub action: u8,
    pub route: Option<RouteRef>,
    pub rule: Option<RuleRef>,
    pub nat: (Option<u32>, Option<u32>),
}

/// Everything a class's walk decided: two headers with equal signatures took the same path,
/// met the same rules and were rewritten alike.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    pub key: TraceKey,
    pub forward: Vec<HopSig>,
    pub ret: Vec<HopSig>,
    /// The source, destination and destination port the destination saw, where a rewrite
    /// changed them.
    pub seen: [Option<u32>; 3],
    /// The other ways a header of the class may go, by the members its hashed choices take
    /// (see [`walk_ways`]): each with those members, in the order the walk chose. The
    /// fields above are the first way (every choice on its first member).
    pub others: Vec<(Vec<u32>, Signature)>,
}

impl Signature {
    /// Whether `o` made the same decisions as this way (its other ways aside).
    pub fn same_walk(&self, o: &Signature) -> bool {
        self.key == o.key && self.forward == o.forward && self.ret == o.ret && self.seen == o.seen
    }
    /// The way a header whose hashed choices took `taken` goes.
    pub fn way(&self, taken: &[u32]) -> Option<&Signature> {
        if taken.iter().all(|&x| x == 0) {
            return Some(self);
        }
        self.others.iter().find(|(w, _)| w == taken).map(|x| &x.1)
    }
    /// Every way's outcome, the first first.
    pub fn keys(&self) -> impl Iterator<Item = &TraceKey> {
        std::iter::once(&self.key).chain(self.others.iter().map(|x| &x.1.key))
    }
}

fn action(a: Action) -> u8 {
    a as u8
}

/// The signature of a walk (its hops are in `s`).
pub fn signature(t: &Trace, s: &Scratch) -> Signature {
    let fwd = s
        .leg_hops(&t.forward)
        .iter()
        .map(|h| HopSig {
            node: h.node,
            action: action(h.action),
            route: h.route,
            rule: h.rule,
            nat: h
                .nat
                .map_or((None, None), |n| (n.src.map(|x| x.1), n.dst.map(|x| x.1))),
        })
        .collect();
    let ret = t.ret.map_or(Vec::new(), |r| {
        s.leg_hops(&r)
            .iter()
            .map(|h| HopSig {
                node: h.node,
                action: action(h.action),
                route: h.route,
                rule: h.rule,
                nat: h
                    .nat
                    .map_or((None, None), |n| (n.src.map(|_| 0), n.dst.map(|_| 0))),
            })
            .collect()
    });
    let (fl, seen) = (t.flow, t.forward.seen);
    Signature {
        key: t.key(),
        forward: fwd,
        ret,
        seen: [
            (seen.src != fl.src).then_some(seen.src),
            (seen.dst != fl.dst).then_some(seen.dst),
            (seen.dport != fl.dport).then_some(seen.dport as u32),
        ],
        others: Vec::new(),
    }
}

/// Walks `flow` every way its hashed choices can go (a load balancer's or Application
/// Gateway's backend, a gateway instance, an ECMP next hop), depth first, the first member of
/// every choice first: `each` gets every walk, its hops in `s`, and the members it took.
pub fn walk_ways(
    f: &Fabric,
    ingress: Endpoint,
    flow: Flow,
    s: &mut Scratch,
    mut each: impl FnMut(&Trace, &Scratch, &[u32]),
) {
    let mut ways: Vec<u32> = Vec::new();
    loop {
        s.force(Some(&ways));
        let t = walk(f, ingress, flow, s);
        ways.clear();
        ways.extend(s.choices().iter().map(|c| c.taken));
        each(&t, s, &ways);
        // The next way: the last choice with members left takes its next, later ones their first.
        let ch = s.choices();
        let Some(j) = (0..ch.len())
            .rev()
            .find(|&j| ch[j].taken + 1 < ch[j].members)
        else {
            break;
        };
        ways.truncate(j + 1);
        ways[j] += 1;
    }
    s.force(None);
}

/// Walks one header the way every header of its class is walked.
pub fn walk(f: &Fabric, ingress: Endpoint, flow: Flow, s: &mut Scratch) -> Trace {
    trace(f, flow, ingress, destination_l7(f, &flow), s)
}

/// Whether the load balancer or Application Gateway rule `r` gives every packet the same
/// destination port (its backend port).
fn backend_port(tb: &Tables, r: Option<RuleRef>) -> bool {
    match r {
        Some(RuleRef::LbRule { lb, index }) => tb.lb_backend_port[lb.ix()].0[index as usize],
        Some(RuleRef::LbNatRule { lb, index }) => tb.lb_backend_port[lb.ix()].1[index as usize],
        Some(RuleRef::AppGwRule { .. }) => true,
        _ => false,
    }
}

/// Adds, to `out`, the cuts inside `b` of every table the walk `t` consulted (`work`: the
/// rule tables' scratch space, kept between calls).
pub fn collect(
    tb: &Tables,
    t: &Trace,
    s: &Scratch,
    b: &HeaderBox,
    out: &mut Cuts,
    work: &mut rules::Work,
) {
    // Leg dimension i is original dimension map[i].
    const FWD: [usize; 5] = [SRC, DST, PROTO, SPORT, DPORT];
    const REV: [usize; 5] = [DST, SRC, PROTO, DPORT, SPORT];
    let mut app = false;
    let mut c = Collector {
        tb,
        b,
        out,
        work,
        map: &FWD,
        konst: [false; 5],
        passed: &[],
        reply: &[],
    };
    for h in s.leg_hops(&t.forward) {
        c.hop(tb, h.node, h.route, &mut app);
        if let Some(n) = h.nat {
            c.konst[SRC] |= n.src.is_some();
            c.konst[DST] |= n.dst.is_some();
        }
        if matches!(h.rule, Some(RuleRef::FirewallDnat { .. })) {
            c.konst[DST] = true;
            c.konst[DPORT] = true;
        }
        c.konst[DPORT] |= backend_port(tb, h.rule);
    }
    if let Some(r) = &t.ret {
        c.map = &REV;
        c.passed = s.points();
        c.reply = s.leg_hops(r);
        for h in s.leg_hops(r) {
            c.hop(tb, h.node, h.route, &mut app);
            if h.nat.is_some() || matches!(h.rule, Some(RuleRef::FirewallSession(_))) {
                c.konst = [false; 5];
            }
        }
    }
    if app {
        c.map = &FWD;
        c.konst = [false; 5];
        c.passed = &[];
        c.reply = &[];
        c.add(&tb.l7);
    }
}

struct Collector<'a> {
    tb: &'a Tables,
    b: &'a HeaderBox,
    out: &'a mut Cuts,
    work: &'a mut rules::Work,
    map: &'a [usize; 5],
    konst: [bool; 5],
    /// On the reply's leg, the NSG points the request passed (their rules are not met).
    passed: &'a [Endpoint],
    /// On the reply's leg, its hops: a firewall that passed it by its session did not read
    /// its network and application rules.
    reply: &'a [vnetsim_engine::Hop],
}

impl Collector<'_> {
    fn add(&mut self, n: &NodeCuts) {
        for i in 0..5 {
            let d = self.map[i];
            if self.konst[d] || self.b.lo[d] == self.b.hi[d] {
                continue;
            }
            let v = &n.d[i];
            let (lo, hi) = (self.b.lo[d], self.b.hi[d]);
            let a = v.partition_point(|&x| x <= lo);
            let e = v.partition_point(|&x| x <= hi);
            self.out.d[d].extend_from_slice(&v[a..e]);
        }
        if n.rules.is_empty() {
            return;
        }
        // The box in the orientation of the packet at this node; a field a rewrite made
        // constant is taken whole (the tables may see any value there).
        let (mut lo, mut hi, mut skip) = ([0u32; 5], [u32::MAX; 5], [true; 5]);
        for i in 0..5 {
            let d = self.map[i];
            if !self.konst[d] {
                (lo[i], hi[i], skip[i]) = (self.b.lo[d], self.b.hi[d], false);
            }
        }
        for &(r, point) in &n.rules {
            if point.is_some_and(|p| self.passed.contains(&p)) {
                continue;
            }
            self.tb.rules[r as usize].cuts_in(
                &lo,
                &hi,
                &skip,
                self.map,
                self.work,
                &mut self.out.d,
            );
        }
    }
    fn node(&mut self, tb: &Tables, e: Endpoint, app: &mut bool) {
        match e {
            Endpoint::Nic(n) => self.add(&tb.nic[n.ix()]),
            Endpoint::Pe(p) => self.add(&tb.pe[p.ix()]),
            Endpoint::Subnet(s) => self.add(&tb.subnet[s.ix()]),
            Endpoint::Firewall(fw) => {
                *app |= tb.firewall_app[fw.ix()];
                self.add(&tb.firewall[fw.ix()]);
                let session = Some(RuleRef::FirewallSession(fw));
                if !self.reply.iter().any(|h| h.rule == session) {
                    self.add(&tb.firewall_rules[fw.ix()]);
                }
            }
            Endpoint::Gateway(g) => self.add(&tb.gateway[g.ix()]),
            Endpoint::Site(s) => self.add(&tb.site[s.ix()]),
            Endpoint::Internet | Endpoint::Service(_) => self.add(&tb.internet),
            Endpoint::Platform => self.add(&tb.platform),
            Endpoint::LoadBalancer(l) => self.add(&tb.load_balancer[l.ix()]),
            Endpoint::AppGateway(g) => self.add(&tb.app_gateway[g.ix()]),
        }
    }
    fn hop(&mut self, tb: &Tables, node: Endpoint, route: Option<RouteRef>, app: &mut bool) {
        self.node(tb, node, app);
        let Some(r) = route else { return };
        self.add(&tb.route_set[r.set.ix()]);
        let f_target = tb.targets[r.set.ix()][r.index as usize];
        match f_target {
            Target::Vnet(w) => self.add(&tb.vnet[w.ix()]),
            Target::Pe(p) => self.node(tb, Endpoint::Pe(p), app),
            Target::Firewall(fw) => self.node(tb, Endpoint::Firewall(fw), app),
            Target::Appliance(n)
            | Target::ApplianceNoForwarding(n)
            | Target::ApplianceUnreachable(n) => self.node(tb, Endpoint::Nic(n), app),
            Target::Internet => self.add(&tb.internet),
            Target::Gateway(g) | Target::ExpressRouteGateway(g) => {
                self.node(tb, Endpoint::Gateway(g), app)
            }
            _ => {}
        }
    }
}

/// Where flows start: an endpoint and the headers it can send.
#[derive(Clone, Debug)]
pub struct Source {
    pub label: String,
    pub endpoint: Endpoint,
    pub space: Vec<HeaderBox>,
}

/// The protocols and destination ports to cover.
#[derive(Clone, Debug)]
pub struct Scope {
    /// `None`: every protocol.
    pub protocol: Option<u8>,
    /// Destination port ranges (TCP and UDP); `None`: all.
    pub ports: Option<Vec<(u16, u16)>>,
    /// Destination ports left out.
    pub except_ports: Vec<(u16, u16)>,
}

impl Scope {
    pub fn everything() -> Scope {
        Scope {
            protocol: None,
            ports: None,
            except_ports: Vec::new(),
        }
    }
    /// (protocol interval, destination port intervals): TCP and UDP with their ports, every
    /// other protocol with port 0.
    fn protocol_boxes(&self) -> Vec<ProtocolBox> {
        let mut ports: Vec<(u32, u32)> = match &self.ports {
            Some(v) => space::union(v.iter().map(|&(a, b)| (a as u32, b as u32)).collect()),
            None => vec![(0, 65535)],
        };
        if !self.except_ports.is_empty() {
            let ex = space::union(
                self.except_ports
                    .iter()
                    .map(|&(a, b)| (a as u32, b as u32))
                    .collect(),
            );
            let keep = space::complement(&ex, 65535);
            ports = intersect(&ports, &keep);
        }
        let mut out = Vec::new();
        for p in [TCP, UDP] {
            if self.protocol.is_none_or(|x| x == p) {
                out.push(((p as u32, p as u32), ports.clone(), (0, 65535)));
            }
        }
        let portless = self.ports.is_none() && self.except_ports.is_empty();
        match self.protocol {
            None if portless => {
                for r in [(0, 5), (7, 16), (18, 255)] {
                    out.push((r, vec![(0, 0)], (0, 0)));
                }
            }
            Some(p) if p != TCP && p != UDP => {
                out.push(((p as u32, p as u32), vec![(0, 0)], (0, 0)))
            }
            _ => {}
        }
        out
    }
}

fn intersect(a: &[(u32, u32)], b: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for &(x, y) in a {
        for &(u, v) in b {
            let (lo, hi) = (x.max(u), y.min(v));
            if lo <= hi {
                out.push((lo, hi));
            }
        }
    }
    out
}

/// Public Internet space (outside [`NOT_INTERNET`]) as sorted intervals.
pub fn internet_space() -> Vec<(u32, u32)> {
    let blocks = space::union(
        NOT_INTERNET
            .iter()
            .map(|&(a, l)| {
                let m = vnetsim_fabric::lpm::netmask(l);
                (a & m, (a & m) | !m)
            })
            .collect(),
    );
    space::complement(&blocks, u32::MAX)
}

/// What the Internet sends from: public space less the fabric's own public addresses and the
/// platform's address.
pub fn internet_sources(f: &Fabric) -> Vec<(u32, u32)> {
    let cuts = f.address_cuts()[0];
    let mut held = Vec::new();
    for (i, &c) in cuts.iter().enumerate() {
        if f.public_owner(c).is_some() {
            let end = cuts.get(i + 1).map_or(u32::MAX, |&n| n - 1);
            held.push((c, end));
        }
    }
    // 168.63.129.16 is the platform's (R1.2), never an Internet host.
    let platform = vnetsim_fabric::security::PLATFORM_IP;
    held.push((platform, platform));
    let held = space::union(held);
    intersect_sorted(&internet_space(), &space::complement(&held, u32::MAX))
}

fn intersect_sorted(a: &[(u32, u32)], b: &[(u32, u32)]) -> Vec<(u32, u32)> {
    space::union(intersect(a, b))
}

/// The header space of a source: its source addresses × every destination × the scope.
pub fn source_space(src: &[(u32, u32)], scope: &Scope) -> Vec<HeaderBox> {
    let mut out = Vec::new();
    for &s in src {
        for (proto, dports, sport) in scope.protocol_boxes() {
            for &dp in &dports {
                out.push(HeaderBox::new(s, (0, u32::MAX), proto, sport, dp));
            }
        }
    }
    out
}

/// The header space cut into classes, for every source.
#[derive(Clone, Debug, Default)]
pub struct Partition {
    /// In source order, then box order.
    pub classes: Vec<Class>,
    pub signatures: Vec<Signature>,
    /// Walks made (classes, and the boxes split on the way).
    pub walks: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    pub source: u32,
    pub bx: HeaderBox,
    pub sig: u32,
}

enum Step {
    Class(u32, HeaderBox, Box<Signature>),
    Split(u32, Vec<HeaderBox>),
}

/// Boxes walked per parallel batch: bounds what is held at once.
const BATCH: usize = 1 << 16;

/// Boxes a partition holds at once by default (classes found plus boxes still to split):
/// 40 million, about 2 GB.
pub const BOXES_HELD_MAX: usize = 40_000_000;

/// A partition that would hold more boxes than its bound: stopped, not attempted further.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooManyBoxes {
    pub held: usize,
    pub max: usize,
}

impl std::fmt::Display for TooManyBoxes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the header space of these sources needs more than {} boxes at once ({} held when it stopped): narrow --from or --to, or the protocol and ports",
            self.max, self.held
        )
    }
}

/// Cuts every source's space into classes, in parallel, deterministically (the result does
/// not depend on the thread count). `extra_dst_cuts` are cut first (destination address sets
/// the caller will ask about). Stops with [`TooManyBoxes`] before holding more than
/// [`BOXES_HELD_MAX`] boxes.
pub fn partition(
    f: &Fabric,
    tb: &Tables,
    sources: &[Source],
    extra_dst_cuts: &[u32],
) -> Result<Partition, TooManyBoxes> {
    partition_within(f, tb, sources, extra_dst_cuts, BOXES_HELD_MAX)
}

/// [`partition`] with a bound of `max` boxes held at once.
pub fn partition_within(
    f: &Fabric,
    tb: &Tables,
    sources: &[Source],
    extra_dst_cuts: &[u32],
    max: usize,
) -> Result<Partition, TooManyBoxes> {
    let frontier = seed(sources, 0..sources.len(), extra_dst_cuts);
    refine(f, tb, sources, frontier, max)
}

/// The classes of source `i` alone (its classes keep `source: i`): what one source of a
/// stream holds at once, bounded by `max` boxes like [`partition_within`]. The classes are
/// those [`partition`] finds for that source among others.
pub fn partition_source(
    f: &Fabric,
    tb: &Tables,
    sources: &[Source],
    i: usize,
    extra_dst_cuts: &[u32],
    max: usize,
) -> Result<Partition, TooManyBoxes> {
    let frontier = seed(sources, i..i + 1, extra_dst_cuts);
    refine(f, tb, sources, frontier, max)
}

/// The first boxes of the sources `which`: their spaces cut along `extra_dst_cuts`.
fn seed(
    sources: &[Source],
    which: std::ops::Range<usize>,
    extra_dst_cuts: &[u32],
) -> Vec<(u32, HeaderBox)> {
    let mut frontier: Vec<(u32, HeaderBox)> = Vec::new();
    for i in which {
        for b in &sources[i].space {
            let mut c = Cuts::default();
            c.d[DST] = extra_dst_cuts.to_vec();
            match space::split(b, &mut c) {
                Some(v) => frontier.extend(v.into_iter().map(|x| (i as u32, x))),
                None => frontier.push((i as u32, *b)),
            }
        }
    }
    frontier
}

/// Walks and splits the boxes of `frontier` until every box is a class.
fn refine(
    f: &Fabric,
    tb: &Tables,
    sources: &[Source],
    mut frontier: Vec<(u32, HeaderBox)>,
    max: usize,
) -> Result<Partition, TooManyBoxes> {
    if frontier.len() > max {
        return Err(TooManyBoxes {
            held: frontier.len(),
            max,
        });
    }
    let mut p = Partition::default();
    let mut ids: HashMap<Signature, u32, FastHash> = HashMap::default();
    let mut raw: Vec<Class> = Vec::new();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for chunk in frontier.chunks(BATCH) {
            p.walks += chunk.len() as u64;
            let steps: Vec<Step> = chunk
                .par_iter()
                .map_init(
                    || (Scratch::new(), Cuts::default(), rules::Work::default()),
                    |(s, cuts, work), &(src, b)| {
                        let e = sources[src as usize].endpoint;
                        cuts.clear();
                        let mut sig: Option<Signature> = None;
                        walk_ways(f, e, b.representative(), s, |t, s, ways| {
                            collect(tb, t, s, &b, cuts, work);
                            let g = signature(t, s);
                            match &mut sig {
                                None => sig = Some(g),
                                Some(first) => first.others.push((ways.to_vec(), g)),
                            }
                        });
                        match space::split(&b, cuts) {
                            None => Step::Class(src, b, Box::new(sig.expect("one walk"))),
                            Some(v) => Step::Split(src, v),
                        }
                    },
                )
                .collect();
            for st in steps {
                match st {
                    Step::Class(src, bx, sig) => {
                        // Most classes repeat a signature already seen: look it up first, so
                        // that only a new one is copied into the map.
                        let id = match ids.get(&*sig) {
                            Some(&id) => id,
                            None => {
                                let id = ids.len() as u32;
                                ids.insert((*sig).clone(), id);
                                p.signatures.push(*sig);
                                id
                            }
                        };
                        raw.push(Class {
                            source: src,
                            bx,
                            sig: id,
                        });
                    }
                    Step::Split(src, v) => next.extend(v.into_iter().map(|b| (src, b))),
                }
            }
            let held = raw.len() + next.len() + frontier.len();
            if held > max {
                return Err(TooManyBoxes { held, max });
            }
        }
        frontier = next;
    }
    raw.sort_by_key(|c| (c.source, c.bx));
    p.classes = raw;
    Ok(p)
}

/// A destination people ask about: an endpoint and the addresses that stand for it.
#[derive(Clone, Debug)]
pub struct Dest {
    pub label: String,
    pub endpoint: Endpoint,
    /// Sorted disjoint intervals: a header aimed at one of these is aimed at this destination.
    pub addrs: Vec<(u32, u32)>,
}

/// A maximal region: headers of one source, one destination, one signature.
#[derive(Clone, Debug)]
pub struct Region {
    pub source: u32,
    /// Index into the destinations, or `None` (aimed at nothing asked about).
    pub dest: Option<u32>,
    pub sig: u32,
    /// Disjoint boxes, merged.
    pub boxes: Vec<HeaderBox>,
    pub classes: u64,
}

/// The destination a class is aimed at or delivered to (by any of its ways): the first that
/// matches.
fn dest_of(f: &Fabric, ix: &DestIndex, c: &Class, sig: &Signature) -> Option<u32> {
    std::iter::once(sig)
        .chain(sig.others.iter().map(|x| &x.1))
        .filter_map(|w| ix.first_of_way(f, c, w))
        .min()
}

/// The destinations indexed for [`dest_of`], built once per [`regions`] call, so that a class
/// costs a few lookups, not a scan of every destination.
///
/// A destination `d` matches a way when (the first matching `d` is the answer):
/// - `d` stands for the Internet, and the way was delivered to the Internet, or delivered
///   nowhere while aimed at a public address the fabric does not hold;
/// - otherwise, the way was delivered to `d`'s endpoint, or was aimed at one of `d`'s
///   addresses, or `d`'s addresses hold the destination the endpoint saw.
struct DestIndex {
    /// Per endpoint, the first destination standing for it.
    by_endpoint: HashMap<Endpoint, u32, FastHash>,
    /// The first destination standing for the Internet.
    internet: Option<u32>,
    /// The addresses of every destination but the Internet, cut into sorted disjoint pieces
    /// `(lo, hi, first destination holding them)`.
    pieces: Vec<(u32, u32, u32)>,
}

impl DestIndex {
    fn new(dests: &[Dest]) -> DestIndex {
        let mut by_endpoint: HashMap<Endpoint, u32, FastHash> = HashMap::default();
        let mut spans: Vec<(u32, u32, u32)> = Vec::new();
        for (i, d) in dests.iter().enumerate() {
            by_endpoint.entry(d.endpoint).or_insert(i as u32);
            if d.endpoint != Endpoint::Internet {
                spans.extend(d.addrs.iter().map(|&(lo, hi)| (lo, hi, i as u32)));
            }
        }
        DestIndex {
            internet: by_endpoint.get(&Endpoint::Internet).copied(),
            by_endpoint,
            pieces: Self::pieces(spans),
        }
    }

    /// Cuts overlapping spans into disjoint pieces, each with the lowest destination of the
    /// spans covering it.
    fn pieces(spans: Vec<(u32, u32, u32)>) -> Vec<(u32, u32, u32)> {
        let mut starts: Vec<u64> = spans.iter().map(|s| s.0 as u64).collect();
        starts.extend(spans.iter().map(|s| s.1 as u64 + 1));
        starts.sort_unstable();
        starts.dedup();
        let mut by_start = spans;
        by_start.sort_unstable();
        // Spans that began at or before the current cut, lowest destination on top; spans
        // that have ended leave when they reach the top.
        let mut open: BinaryHeap<Reverse<(u32, u32)>> = BinaryHeap::new();
        let mut next = 0;
        let mut out: Vec<(u32, u32, u32)> = Vec::new();
        for (k, &lo) in starts.iter().enumerate() {
            while next < by_start.len() && by_start[next].0 as u64 <= lo {
                open.push(Reverse((by_start[next].2, by_start[next].1)));
                next += 1;
            }
            while open
                .peek()
                .is_some_and(|Reverse((_, hi))| (*hi as u64) < lo)
            {
                open.pop();
            }
            let Some(&Reverse((d, _))) = open.peek() else {
                continue;
            };
            let hi = starts.get(k + 1).map_or(u32::MAX as u64, |&x| x - 1);
            match out.last_mut() {
                Some(p) if p.2 == d && p.1 as u64 + 1 == lo => p.1 = hi as u32,
                _ => out.push((lo as u32, hi as u32, d)),
            }
        }
        out
    }

    /// The first destination whose addresses hold `x`.
    fn holding(&self, x: u32) -> Option<u32> {
        let i = self.pieces.partition_point(|p| p.0 <= x);
        let p = self.pieces.get(i.checked_sub(1)?)?;
        (x <= p.1).then_some(p.2)
    }

    fn first_of_way(&self, f: &Fabric, c: &Class, sig: &Signature) -> Option<u32> {
        let delivered = sig.key.forward.delivered_to;
        let dst = c.bx.lo[DST];
        let to_internet =
            delivered.is_none() && vnetsim_fabric::prefix::is_public(dst) && !f.knows(dst);
        [
            delivered.and_then(|e| self.by_endpoint.get(&e).copied()),
            self.internet.filter(|_| to_internet),
            self.holding(dst),
            sig.seen[1].and_then(|x| self.holding(x)),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// Every destination's address sets as cut points (and, for the Internet, what tells fabric
/// addresses from Internet ones).
pub fn dest_cuts(f: &Fabric, dests: &[Dest]) -> Vec<u32> {
    let mut v = Vec::new();
    for d in dests {
        for &(lo, hi) in &d.addrs {
            v.push(lo);
            if let Some(e) = hi.checked_add(1) {
                v.push(e);
            }
        }
        if d.endpoint == Endpoint::Internet {
            for x in &f.address_cuts()[..4] {
                v.extend_from_slice(x);
            }
            for (lo, hi) in internet_space() {
                v.push(lo);
                if let Some(e) = hi.checked_add(1) {
                    v.push(e);
                }
            }
        }
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// Merges a partition into regions. With `keep_unmatched`, classes aimed at no destination
/// asked about are kept (as `dest: None`); `keep` filters signatures (e.g. reachable only).
pub fn regions(
    f: &Fabric,
    p: &Partition,
    dests: &[Dest],
    keep_unmatched: bool,
    keep: impl Fn(&Signature) -> bool,
) -> Vec<Region> {
    let ix = DestIndex::new(dests);
    let mut groups: HashMap<RegionKey, (Vec<HeaderBox>, u64), FastHash> = HashMap::default();
    for c in &p.classes {
        let sig = &p.signatures[c.sig as usize];
        if !keep(sig) {
            continue;
        }
        let d = dest_of(f, &ix, c, sig);
        if d.is_none() && !keep_unmatched {
            continue;
        }
        let g = groups.entry((c.source, d, c.sig)).or_default();
        g.0.push(c.bx);
        g.1 += 1;
    }
    let mut out: Vec<Region> = groups
        .into_par_iter()
        .map(|((source, dest, sig), (boxes, n))| Region {
            source,
            dest,
            sig,
            boxes: space::merge(boxes),
            classes: n,
        })
        .collect();
    out.sort_by_key(|r| (r.source, r.dest.map_or(u32::MAX, |d| d), r.boxes[0]));
    out
}

/// Sources from sweep probes (`sweep::resolve`): `internet` sends from every public address, a
/// site from its prefixes, a NIC from its own address, an address from itself.
pub fn sources(f: &Fabric, probes: &[vnetsim_engine::sweep::Probe], scope: &Scope) -> Vec<Source> {
    probes
        .iter()
        .map(|p| {
            let addrs = match p.endpoint {
                Endpoint::Internet if p.label == "internet" => internet_sources(f),
                Endpoint::Site(s) if p.label == f.endpoint_id(p.endpoint) => {
                    space::union(f.sites[s.ix()].prefixes.iter().map(interval).collect())
                }
                _ => vec![(p.addr, p.addr)],
            };
            Source {
                label: p.label.clone(),
                endpoint: p.endpoint,
                space: source_space(&addrs, scope),
            }
        })
        .collect()
}

fn interval(p: &ipnet::Ipv4Net) -> (u32, u32) {
    (u32::from(p.network()), u32::from(p.broadcast()))
}

/// Destinations from sweep probes: a NIC is its address and its public IP, an endpoint its
/// address, a site its prefixes, a subnet its prefix, `internet` every address the fabric does
/// not hold.
pub fn dests(f: &Fabric, probes: &[vnetsim_engine::sweep::Probe]) -> Vec<Dest> {
    probes
        .iter()
        .map(|p| {
            let subnet = p
                .label
                .strip_prefix("subnet:")
                .and_then(|x| f.find_subnet(x));
            let (endpoint, addrs) = match (subnet, p.endpoint) {
                (Some(s), _) => (
                    Endpoint::Subnet(s),
                    vec![interval(&f.subnets[s.ix()].prefix)],
                ),
                (None, Endpoint::Nic(n)) => {
                    let nic = &f.nics[n.ix()];
                    let mut v = vec![(nic.ip, nic.ip)];
                    v.extend(nic.public_ip.map(|x| (x, x)));
                    (p.endpoint, space::union(v))
                }
                (None, Endpoint::Site(s)) if p.label == f.endpoint_id(p.endpoint) => (
                    p.endpoint,
                    space::union(f.sites[s.ix()].prefixes.iter().map(interval).collect()),
                ),
                (None, Endpoint::Internet) if p.label == "internet" => {
                    (Endpoint::Internet, Vec::new())
                }
                (None, e) => (e, vec![(p.addr, p.addr)]),
            };
            Dest {
                label: p.label.clone(),
                endpoint,
                addrs,
            }
        })
        .collect()
}
