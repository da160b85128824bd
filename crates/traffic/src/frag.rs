//! Giving later IPv4 fragments the ports of their first fragment.

use crate::record::{Fragment, Ipv4Flow};

/// Key of a fragmented datagram (RFC 791: source, destination, protocol, identification).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct Key {
    src: u32,
    dst: u32,
    proto: u8,
    id: u16,
}

#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    key: Key,
    sport: u16,
    dport: u16,
    /// 0 = empty; otherwise the tick of the last use (for LRU within a set).
    stamp: u64,
}

const WAYS: usize = 4;

/// Bounded table from (src, dst, proto, ip_id) to the ports of the first fragment.
///
/// Set-associative (4 ways per set) with least-recently-used replacement
/// inside a set: memory is fixed at construction, lookups and inserts are
/// O(1) and never allocate. Fragments arriving before their first fragment
/// (out of order) are reported as [`Fragment::LaterOrphan`].
#[derive(Clone, Debug)]
pub struct FragmentTracker {
    entries: Box<[Entry]>,
    set_mask: usize,
    tick: u64,
    evictions: u64,
}

impl Default for FragmentTracker {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl FragmentTracker {
    /// A tracker holding at most `capacity` datagrams (rounded up to a power
    /// of two, at least 4).
    pub fn new(capacity: usize) -> Self {
        let cap = capacity.clamp(WAYS, 1 << 24).next_power_of_two();
        let sets = cap / WAYS;
        FragmentTracker {
            entries: vec![Entry::default(); sets * WAYS].into_boxed_slice(),
            set_mask: sets - 1,
            tick: 0,
            evictions: 0,
        }
    }

    /// Maximum number of datagrams remembered.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Datagrams forgotten to make room for newer ones.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.entries.iter_mut().for_each(|e| *e = Entry::default());
    }

    #[inline]
    fn set_of(&self, k: &Key) -> usize {
        // multiplicative hash of the key fields
        let mut h = (k.src as u64) ^ ((k.dst as u64) << 32);
        h ^= ((k.id as u64) << 8 | k.proto as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 31;
        ((h as usize) & self.set_mask) * WAYS
    }

    /// Process one IPv4 packet: a first fragment records its ports, a later
    /// fragment gets the ports of its first fragment (or becomes
    /// [`Fragment::LaterOrphan`]). Other packets are left alone.
    /// Returns false for an orphan.
    #[inline]
    pub fn process(&mut self, flow: &mut Ipv4Flow) -> bool {
        match flow.frag {
            Fragment::First => {
                self.insert(flow);
                true
            }
            Fragment::Later | Fragment::LaterOrphan => {
                let key = Key {
                    src: flow.src,
                    dst: flow.dst,
                    proto: flow.proto,
                    id: flow.ip_id,
                };
                let base = self.set_of(&key);
                self.tick += 1;
                for e in &mut self.entries[base..base + WAYS] {
                    if e.stamp != 0 && e.key == key {
                        e.stamp = self.tick;
                        flow.sport = e.sport;
                        flow.dport = e.dport;
                        flow.frag = Fragment::Later;
                        return true;
                    }
                }
                flow.frag = Fragment::LaterOrphan;
                false
            }
            Fragment::None => true,
        }
    }

    fn insert(&mut self, flow: &Ipv4Flow) {
        let key = Key {
            src: flow.src,
            dst: flow.dst,
            proto: flow.proto,
            id: flow.ip_id,
        };
        let base = self.set_of(&key);
        self.tick += 1;
        let set = &mut self.entries[base..base + WAYS];
        let mut victim = 0;
        for (i, e) in set.iter().enumerate() {
            if e.stamp != 0 && e.key == key {
                victim = i;
                break;
            }
            if e.stamp < set[victim].stamp {
                victim = i;
            }
        }
        let v = &mut set[victim];
        if v.stamp != 0 && v.key != key {
            self.evictions += 1;
        }
        *v = Entry {
            key,
            sport: flow.sport,
            dport: flow.dport,
            stamp: self.tick,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u16, frag: Fragment, sport: u16) -> Ipv4Flow {
        Ipv4Flow {
            src: 1,
            dst: 2,
            proto: 17,
            sport,
            dport: sport.wrapping_add(1),
            ip_id: id,
            frag,
            ..Default::default()
        }
    }

    #[test]
    fn bounded_with_eviction() {
        let mut t = FragmentTracker::new(64);
        assert_eq!(t.capacity(), 64);
        for id in 0..1000u16 {
            t.process(&mut frag(id, Fragment::First, id));
        }
        assert!(t.evictions() >= 1000 - 64);
        // the most recent datagrams are still known
        let mut later = frag(999, Fragment::Later, 0);
        assert!(t.process(&mut later));
        assert_eq!(
            (later.sport, later.dport, later.frag),
            (999, 1000, Fragment::Later)
        );
        // the oldest were evicted
        let mut old = frag(0, Fragment::Later, 0);
        assert!(!t.process(&mut old));
        assert_eq!((old.sport, old.frag), (0, Fragment::LaterOrphan));
        // non-fragments are untouched
        let mut n = frag(5, Fragment::None, 9);
        assert!(t.process(&mut n));
        assert_eq!(n.sport, 9);
    }
}
