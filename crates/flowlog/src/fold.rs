//! Tuples into flows: the B, C and E tuples of one flow, logged at one NIC under one rule, are
//! one flow with summed counters. One entry per distinct flow, in order of first appearance.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::read::Location;
use crate::tuple::{Direction, Encryption, Schema, State, Tuple};
use crate::Group;

/// A multiply-rotate hasher for the integer keys of the fold.
#[derive(Default, Clone, Copy)]
pub struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.write_u64(v as u64)
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64)
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type Map<K, V> = HashMap<K, V, BuildHasherDefault<FoldHasher>>;

/// Strings seen per group (ACL ids, rules, resources), each stored once.
#[derive(Clone, Debug, Default)]
pub struct Interner {
    pub strings: Vec<String>,
    index: HashMap<String, u32>,
}

impl Interner {
    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.strings.len() as u32;
        self.strings.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
    pub fn get(&self, i: u32) -> &str {
        &self.strings[i as usize]
    }
}

/// What identifies one logged flow: who logged it (MAC, else none), under which ACL and rule,
/// its direction, 5-tuple and verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// The logging NIC's MAC address, `None` when the log does not name it.
    pub mac: Option<u64>,
    pub acl: u32,
    pub rule: u32,
    pub direction: Direction,
    pub src: u32,
    pub dst: u32,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    pub denied: bool,
}

/// One flow as the log saw it.
#[derive(Clone, Debug)]
pub struct FoldedFlow {
    pub key: FlowKey,
    pub schema: Schema,
    pub resource: u32,
    pub first_ts_ms: u64,
    pub last_ts_ms: u64,
    /// Bits of the [`State`]s seen (`State::bit`).
    pub states: u8,
    /// Packets and bytes source→destination, destination→source, summed over the tuples.
    pub counters: [u64; 4],
    pub tuples: u64,
    pub encryption: Encryption,
    /// Where its first tuple was.
    pub first: Location,
}

impl FoldedFlow {
    /// A TCP flow whose begin (B) was never logged: the log started mid-connection.
    pub fn midstream(&self) -> bool {
        self.key.proto == 6
            && !self.key.denied
            && self.states & State::Begin.bit() == 0
            && self.states & State::Allowed.bit() == 0
    }
}

/// The fold: feed it every tuple with its group.
#[derive(Default)]
pub struct Folder {
    map: Map<FlowKey, u32>,
    pub flows: Vec<FoldedFlow>,
    pub strings: Interner,
    /// The last group's strings and their ids: a group's tuples cost no string lookups.
    /// Keyed by the record too: a later record's strings may reuse a freed address.
    last: Option<(Location, [usize; 3], [u32; 3])>,
}

fn addr(s: &str) -> usize {
    s.as_ptr() as usize ^ s.len().rotate_left(48)
}

impl Folder {
    fn ids(&mut self, g: &Group<'_>) -> (u32, u32, u32) {
        let tag = [addr(g.acl), addr(g.rule), addr(g.resource)];
        if let Some((loc, t, ids)) = self.last {
            if loc == g.location && t == tag {
                return (ids[0], ids[1], ids[2]);
            }
        }
        let ids = [
            self.strings.id(g.acl),
            self.strings.id(g.rule),
            self.strings.id(g.resource),
        ];
        self.last = Some((g.location, tag, ids));
        (ids[0], ids[1], ids[2])
    }

    /// Merges a flow folded elsewhere (another blob's fold, as a distributed replay holds it)
    /// whose key's `acl` and `rule` and whose `resource` are the strings given: counters and
    /// states combine, the time span widens, and the first location (with the schema and
    /// encryption seen there) is the earlier by `earlier`.
    pub fn merge(
        &mut self,
        (acl, rule, resource): (&str, &str, &str),
        mut x: FoldedFlow,
        earlier: impl Fn(&Location, &Location) -> bool,
    ) {
        x.key.acl = self.strings.id(acl);
        x.key.rule = self.strings.id(rule);
        x.resource = self.strings.id(resource);
        self.last = None;
        let n = self.flows.len() as u32;
        let i = *self.map.entry(x.key).or_insert(n);
        if i == n {
            self.flows.push(x);
            return;
        }
        let f = &mut self.flows[i as usize];
        f.first_ts_ms = f.first_ts_ms.min(x.first_ts_ms);
        f.last_ts_ms = f.last_ts_ms.max(x.last_ts_ms);
        f.states |= x.states;
        for (a, b) in f.counters.iter_mut().zip(x.counters) {
            *a = a.saturating_add(b);
        }
        f.tuples += x.tuples;
        if earlier(&x.first, &f.first) {
            f.first = x.first;
            f.schema = x.schema;
            f.encryption = x.encryption;
            f.resource = x.resource;
        }
    }

    pub fn add(&mut self, g: &Group<'_>, t: &Tuple) {
        let (acl, rule, resource) = self.ids(g);
        let key = FlowKey {
            mac: g.mac,
            acl,
            rule,
            direction: t.direction,
            src: t.src,
            dst: t.dst,
            proto: t.proto,
            sport: t.sport,
            dport: t.dport,
            denied: !t.state.allowed(),
        };
        let n = self.flows.len() as u32;
        let i = *self.map.entry(key).or_insert(n);
        if i == n {
            self.flows.push(FoldedFlow {
                key,
                schema: g.schema,
                resource,
                first_ts_ms: t.ts_ms,
                last_ts_ms: t.ts_ms,
                states: 0,
                counters: [0; 4],
                tuples: 0,
                encryption: t.encryption,
                first: g.location,
            });
        }
        let f = &mut self.flows[i as usize];
        f.first_ts_ms = f.first_ts_ms.min(t.ts_ms);
        f.last_ts_ms = f.last_ts_ms.max(t.ts_ms);
        f.states |= t.state.bit();
        for (a, b) in f.counters.iter_mut().zip(t.counters) {
            *a = a.saturating_add(b);
        }
        f.tuples += 1;
    }
}
