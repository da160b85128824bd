//! The flow table's index: from a flow key to the flow's entry.
//!
//! Open addressing with linear probing over a power-of-two array of 20-byte slots, at most
//! five eighths full, the home slot taken from the top bits of the key's hash. A key's hash is
//! computed once, by the reader thread, and travels with its packet, so a table thread can ask
//! for a packet's slot a few packets before it looks the packet up ([`FlowMap::prefetch`]):
//! on a capture of many flows, every lookup is a cache miss, and that is how they overlap.
//! Growing doubles the array; since home slots follow the hash's top bits, the old array is
//! read in order and the new one written almost in order.

use super::{Entry, Key};

/// One slot: a key (its fields inline), its entry, whether it is used.
#[derive(Clone, Copy, Default)]
struct Slot {
    lo: u32,
    hi: u32,
    ports: u32,
    flow: u32,
    proto: u8,
    /// Bit 0: used. Bit 1: the entry's `swapped`.
    flags: u8,
}

const USED: u8 = 1;
const SWAPPED: u8 = 2;

impl Slot {
    #[inline]
    fn holds(&self, k: &Key) -> bool {
        self.lo == k.0 && self.hi == k.1 && self.ports == k.2 && self.proto == k.3
    }
    #[inline]
    fn entry(&self) -> Entry {
        Entry {
            flow: self.flow,
            swapped: self.flags & SWAPPED != 0,
        }
    }
    fn key(&self) -> Key {
        Key(self.lo, self.hi, self.ports, self.proto)
    }
    fn of(k: &Key, e: Entry) -> Slot {
        Slot {
            lo: k.0,
            hi: k.1,
            ports: k.2,
            flow: e.flow,
            proto: k.3,
            flags: USED | if e.swapped { SWAPPED } else { 0 },
        }
    }
}

/// A flow key's hash: every input bit reaches the top bits (the home slot) and the low 32 bits
/// (the part of the table, [`super::table_part`]). A multiply-xorshift finalizer.
#[inline]
pub(super) fn key_hash(k: &Key) -> u64 {
    let a = (k.0 as u64) << 32 | k.1 as u64;
    let b = (k.2 as u64) << 8 | k.3 as u64;
    let mut h = (a ^ b.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^= h >> 32;
    h = h.wrapping_mul(0xd6e8_feb8_6659_fd93);
    h ^ (h >> 29)
}

/// Slots at least: a small table grows at once, a capture of one flow costs little.
const MIN_SLOTS: usize = 64;

pub(super) struct FlowMap {
    slots: Vec<Slot>,
    /// 64 minus log2 of the slot count: `hash >> shift` is the home slot.
    shift: u32,
    len: usize,
}

impl Default for FlowMap {
    fn default() -> Self {
        FlowMap::with_capacity(0)
    }
}

impl FlowMap {
    /// Room for `flows` entries before the first growth.
    pub fn with_capacity(flows: usize) -> FlowMap {
        let n = (flows.saturating_mul(8) / 5 + 1)
            .next_power_of_two()
            .max(MIN_SLOTS);
        FlowMap {
            slots: vec![Slot::default(); n],
            shift: 64 - n.trailing_zeros(),
            len: 0,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
    }

    /// Asks for the cache lines of `hash`'s home slot (a slot may straddle two).
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let p = self.slots.as_ptr().wrapping_add(self.home(hash)) as *const i8;
            // SAFETY: prefetching is a hint; it never faults, whatever the address.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p);
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(std::mem::size_of::<Slot>() - 1));
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = hash;
    }

    /// The entry of `k` (whose hash is `hash`).
    #[inline]
    pub fn get(&self, k: &Key, hash: u64) -> Option<Entry> {
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        loop {
            let s = &self.slots[i];
            if s.flags & USED == 0 {
                return None;
            }
            if s.holds(k) {
                return Some(s.entry());
            }
            i = (i + 1) & mask;
        }
    }

    /// The entry of `k`, or `new()` inserted for it; `true` when inserted.
    #[inline]
    pub fn get_or_insert(
        &mut self,
        k: &Key,
        hash: u64,
        new: impl FnOnce() -> Entry,
    ) -> (Entry, bool) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        loop {
            let s = &self.slots[i];
            if s.flags & USED == 0 {
                break;
            }
            if s.holds(k) {
                return (s.entry(), false);
            }
            i = (i + 1) & mask;
        }
        let e = new();
        self.slots[i] = Slot::of(k, e);
        self.len += 1;
        if self.len * 8 > self.slots.len() * 5 {
            self.grow();
        }
        (e, true)
    }

    /// Twice the slots, every entry placed again (in the old slots' order, which is nearly
    /// the new slots' order: no deletions, so any order of insertion leaves every key on its
    /// probe path).
    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        let n = (old.len() * 2).max(MIN_SLOTS);
        self.slots = vec![Slot::default(); n];
        self.shift = 64 - n.trailing_zeros();
        let mask = n - 1;
        for s in old.into_iter().filter(|s| s.flags & USED != 0) {
            let mut i = self.home(key_hash(&s.key()));
            while self.slots[i].flags & USED != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// Every entry with its key, in slot order.
    pub fn entries(&self) -> impl Iterator<Item = (Key, Entry)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.flags & USED != 0)
            .map(|s| (s.key(), s.entry()))
    }

    /// Renumbers every entry's flow with `to`.
    pub fn renumber(&mut self, to: &[u32]) {
        for s in self.slots.iter_mut().filter(|s| s.flags & USED != 0) {
            s.flow = to[s.flow as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: u32) -> Key {
        Key(
            0x0a00_0000 + i,
            0x0a01_0000 + (i % 7),
            i % 65536,
            (i % 3) as u8 + 1,
        )
    }

    /// Inserting well past the first capacity (growing several times) keeps every key found,
    /// with its own entry, and keys never inserted absent.
    #[test]
    fn every_key_is_found_after_growth() {
        let mut m = FlowMap::with_capacity(10);
        for i in 0..100_000u32 {
            let (e, new) = m.get_or_insert(&k(i), key_hash(&k(i)), || Entry {
                flow: i,
                swapped: i % 2 == 1,
            });
            assert!(new && e.flow == i, "key {i} was already there");
        }
        assert_eq!(m.len(), 100_000);
        for i in 0..100_000u32 {
            let e = m.get(&k(i), key_hash(&k(i))).expect("inserted");
            assert_eq!((e.flow, e.swapped), (i, i % 2 == 1));
            let (again, new) = m.get_or_insert(&k(i), key_hash(&k(i)), || unreachable!());
            assert!(!new && again.flow == i);
        }
        for i in 100_000..101_000u32 {
            assert!(m.get(&k(i), key_hash(&k(i))).is_none());
        }
        assert_eq!(m.entries().count(), 100_000);
    }

    /// Keys that differ in one field only are different keys.
    #[test]
    fn each_field_is_part_of_the_key() {
        let mut m = FlowMap::default();
        let base = Key(1, 2, 3, 6);
        let others = [
            Key(9, 2, 3, 6),
            Key(1, 9, 3, 6),
            Key(1, 2, 9, 6),
            Key(1, 2, 3, 17),
        ];
        m.get_or_insert(&base, key_hash(&base), || Entry {
            flow: 0,
            swapped: false,
        });
        for o in &others {
            assert!(m.get(o, key_hash(o)).is_none());
        }
    }
}
