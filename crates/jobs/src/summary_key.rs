//! What a summary shows of a round trip, as six integers: the outcome, the symmetry, the
//! deciding rule, the drop point, the reason's ids and the source the destination saw when it
//! was rewritten. Flows with equal keys add to the same summary entries, so a summary counts
//! keys per flow and renders one representative per key; comparing and hashing six words
//! costs a few instructions, where the nested enums they pack cost a branch per field.

use std::hash::{Hash, Hasher};

use vnetsim_engine::render::{reason_key, LegReasonKey, ReasonKey};
use vnetsim_engine::replay::FxHasher;
use vnetsim_engine::{LegKey, Outcome, RuleRef, Trace, Verdict};
use vnetsim_fabric::Endpoint;

/// Everything [`vnetsim_report::summary::Summary::add_n`] reads of a trace's row, packed
/// without loss (each id whole, each variant its own tag). The key leaves out what differs
/// from flow to flow and no summary entry shows (addresses, paths, where a reply landed when
/// only the request's leg is reported).
#[derive(Clone, Copy, Debug)]
pub struct SummaryKey([u64; 6]);

/// Word by word, without a call to `memcmp` (keys are compared once or twice per flow).
impl PartialEq for SummaryKey {
    #[inline]
    fn eq(&self, o: &SummaryKey) -> bool {
        self.0.iter().zip(&o.0).fold(0, |d, (a, b)| d | (a ^ b)) == 0
    }
}
impl Eq for SummaryKey {}

/// The same six words `eq` compares, in order.
impl Hash for SummaryKey {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.hash(h);
    }
}

/// Flows per distinct key, with the first of them (a sweep's cell, a replay's flow index): the
/// representative a summary renders for the key.
pub type KeyCounts<R> =
    std::collections::HashMap<SummaryKey, (u64, R), std::hash::BuildHasherDefault<FxHasher>>;

/// Counts `n` flows under `key`, keeping the first representative (the least) that has it.
pub fn count_key<R: Ord + Copy>(counts: &mut KeyCounts<R>, key: SummaryKey, n: u64, first: R) {
    let e = counts.entry(key).or_insert((0, first));
    e.0 += n;
    e.1 = e.1.min(first);
}

/// Two parts' counts as one (the same whichever part each flow was counted in).
pub fn merge_counts<R: Ord + Copy>(a: KeyCounts<R>, b: KeyCounts<R>) -> KeyCounts<R> {
    let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    for (k, (n, first)) in small {
        count_key(&mut big, k, n, first);
    }
    big
}

/// A rule as its tag (variant, then the `inbound` and `from_internet` flags; 0 for none) and
/// its two numbers.
fn rule_words(r: Option<RuleRef>) -> (u64, u64) {
    let ab = |a: u32, b: u32| (a as u64) << 32 | b as u64;
    let flags = |inbound: bool, internet: bool| (inbound as u64) << 5 | (internet as u64) << 6;
    match r {
        None => (0, 0),
        Some(r) => match r {
            RuleRef::Nsg {
                table,
                inbound,
                from_internet,
                index,
            } => (1 | flags(inbound, from_internet), ab(table, index)),
            RuleRef::NsgFlowRecord => (2, 0),
            RuleRef::AdminRule {
                table,
                inbound,
                index,
            } => (3 | flags(inbound, false), ab(table, index)),
            RuleRef::FirewallNetwork { fw, index } => (4, ab(fw.0, index)),
            RuleRef::FirewallApplication { fw, index } => (5, ab(fw.0, index)),
            RuleRef::FirewallDnat { fw, index } => (6, ab(fw.0, index)),
            RuleRef::FirewallDefaultDeny(fw) => (7, fw.0 as u64),
            RuleRef::FirewallSession(fw) => (8, fw.0 as u64),
            RuleRef::Route(r) => (9, ab(r.set.0, r.index)),
            RuleRef::NotModelled(i) => (10, i as u64),
            RuleRef::NsgUnresolved {
                table,
                inbound,
                from_internet,
                index,
            } => (11 | flags(inbound, from_internet), ab(table, index)),
            RuleRef::AdminUnresolved {
                table,
                inbound,
                index,
            } => (12 | flags(inbound, false), ab(table, index)),
            RuleRef::FirewallUnresolved { fw, index } => (13, ab(fw.0, index)),
            RuleRef::LbRule { lb, index } => (14, ab(lb.0, index)),
            RuleRef::LbNatRule { lb, index } => (15, ab(lb.0, index)),
            RuleRef::LbSession(lb) => (16, lb.0 as u64),
            RuleRef::AppGwRule { gw, index } => (17, ab(gw.0, index)),
            RuleRef::AppGwSession(gw) => (18, gw.0 as u64),
        },
    }
}

/// An endpoint as its tag (0 for none) and its index.
fn endpoint_words(e: Option<Endpoint>) -> (u64, u64) {
    match e {
        None => (0, 0),
        Some(e) => match e {
            Endpoint::Nic(i) => (1, i.0 as u64),
            Endpoint::Pe(i) => (2, i.0 as u64),
            Endpoint::Service(i) => (3, i.0 as u64),
            Endpoint::Site(i) => (4, i.0 as u64),
            Endpoint::Internet => (5, 0),
            Endpoint::Firewall(i) => (6, i.0 as u64),
            Endpoint::Gateway(i) => (7, i.0 as u64),
            Endpoint::Subnet(i) => (8, i.0 as u64),
            Endpoint::Platform => (9, 0),
            Endpoint::LoadBalancer(i) => (10, i.0 as u64),
            Endpoint::AppGateway(i) => (11, i.0 as u64),
        },
    }
}

/// The reason's key as its tag, the leg's verdict, reason and tags, and three words: the
/// leg's delivered-to and drop point, its rule, and the source it reads.
fn reason_words(r: ReasonKey) -> (u64, [u64; 3]) {
    let leg = |kind: u64, l: LegReasonKey| {
        let LegKey {
            verdict,
            reason,
            delivered_to,
            dropped_at,
            rule,
        } = l.leg;
        let (dt, d) = endpoint_words(delivered_to);
        let (at, a) = endpoint_words(dropped_at);
        let (rt, rw) = rule_words(rule);
        let verdict = (verdict == Verdict::Dropped) as u64;
        let seen = l.seen_src.is_some() as u64;
        let tags = kind
            | verdict << 3
            | (reason as u64) << 4
            | dt << 12
            | at << 16
            | rt << 20
            | seen << 27;
        (tags, [d << 32 | a, rw, l.seen_src.unwrap_or(0) as u64])
    };
    match r {
        ReasonKey::Leg(l) => leg(1, l),
        ReasonKey::Reply(l) => leg(2, l),
        ReasonKey::BypassedAppliance(n) => (3, [n.0 as u64, 0, 0]),
        ReasonKey::BypassedFirewall(fw) => (4, [fw.0 as u64, 0, 0]),
        ReasonKey::NoReply => (5, [0; 3]),
    }
}

impl SummaryKey {
    /// Whether the round trip was symmetric.
    pub(crate) fn symmetric(&self) -> bool {
        self.0[0] >> 2 & 1 == 1
    }
    /// The words that determine a row's drop point (as [`crate::flow_row::decided`] gives it):
    /// its tag and index.
    pub(crate) fn drop_point_words(&self) -> [u64; 2] {
        [self.0[0] >> 11 & 0xf, self.0[2] >> 32]
    }
    /// The words that determine a row's rule (as [`crate::flow_row::decided`] gives it): its
    /// tag with the flags, and its two numbers.
    pub(crate) fn rule_words(&self) -> [u64; 2] {
        [self.0[0] >> 3 & 0x7f, self.0[1]]
    }
    /// The words that determine a row's reason text: the outcome and the reason's key
    /// ([`outcome_reason`](vnetsim_engine::render::outcome_reason) reads both).
    pub(crate) fn reason_words(&self) -> [u64; 4] {
        let tags = self.0[0];
        [
            tags & 0b11 | (tags >> 15 & 0xfff_ffff) << 2,
            self.0[3],
            self.0[4],
            self.0[5],
        ]
    }

    pub fn of(t: &Trace) -> SummaryKey {
        let (dropped_at, rule) = crate::flow_row::decided(t);
        let fw = &t.forward;
        let delivered = fw.verdict == Verdict::Delivered;
        let rewritten = (delivered && fw.seen.src != t.flow.src).then_some(fw.seen.src);
        let (rt, rw) = rule_words(rule);
        let (dt, d) = endpoint_words(dropped_at);
        let (reason_tags, reason) = reason_words(reason_key(t));
        let outcome = match t.outcome {
            Outcome::Reachable => 0,
            Outcome::Unreachable => 1,
            Outcome::NoReturn => 2,
            Outcome::NotModelled => 3,
        };
        // Bits: outcome 0-1, symmetric 2, rule 3-9, drop point 11-14, reason 15-42, rewritten 43.
        let tags = outcome
            | (t.symmetric as u64) << 2
            | rt << 3
            | dt << 11
            | reason_tags << 15
            | (rewritten.is_some() as u64) << 43;
        let seen = rewritten.unwrap_or(0) as u64;
        SummaryKey([tags, rw, d << 32 | seen, reason[0], reason[1], reason[2]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use vnetsim_engine::sweep::{self, Matrix, Side};
    use vnetsim_engine::Scratch;

    #[test]
    fn packed_keys_part_flows_exactly_as_the_fields_they_pack() {
        // Every flow of the lab's matrix: two flows share a packed key exactly when they share
        // outcome, symmetry, deciding rule, drop point, reason key and rewritten source.
        let text = include_str!("../../../traces/hub-spoke-lab.yaml");
        let f = vnetsim_fabric::compile(&vnetsim_model::load_str("lab", text).unwrap());
        let all = vec!["all".to_string()];
        let m = Matrix::new(
            sweep::resolve(&f, &all, Side::Source).unwrap(),
            sweep::resolve(&f, &all, Side::Destination).unwrap(),
            sweep::parse_ports("tcp/443,tcp/22,udp/53,icmp").unwrap(),
        );
        let mut s = Scratch::new();
        let (mut by_key, mut by_fields) = (HashMap::new(), HashMap::new());
        for c in m.iter() {
            let t = sweep::trace_cell(&f, &m, c, &mut s);
            let fw = &t.forward;
            let rewritten = (fw.verdict == Verdict::Delivered && fw.seen.src != t.flow.src)
                .then_some(fw.seen.src);
            let fields = (
                t.outcome,
                t.symmetric,
                crate::flow_row::decided(&t),
                reason_key(&t),
                rewritten,
            );
            let key = SummaryKey::of(&t);
            assert_eq!(*by_key.entry(key).or_insert(fields), fields, "{c:?}");
            assert_eq!(*by_fields.entry(fields).or_insert(key), key, "{c:?}");
        }
        assert!(by_key.len() > 10, "{} keys", by_key.len());
    }
}
