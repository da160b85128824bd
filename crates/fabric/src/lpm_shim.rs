//! Stand-in longest-prefix match with the API of `vnetsim-lpm` (replaced by it).

#[derive(Clone, Debug, Default)]
pub struct Fib {
    // (mask, addr, len, value) sorted longest first
    entries: Vec<(u32, u32, u8, u32)>,
}

pub const MISS: u32 = u32::MAX;

impl Fib {
    pub fn build(routes: &[(u32, u8, u32)]) -> Fib {
        let mut entries: Vec<(u32, u32, u8, u32)> = Vec::new();
        for &(a, l, v) in routes {
            let m = if l == 0 { 0 } else { u32::MAX << (32 - l) };
            if let Some(e) = entries.iter_mut().find(|e| e.1 == a & m && e.2 == l) {
                e.3 = v;
            } else {
                entries.push((m, a & m, l, v));
            }
        }
        entries.sort_by(|x, y| y.2.cmp(&x.2));
        Fib { entries }
    }
    #[inline]
    pub fn lookup(&self, addr: u32) -> Option<u32> {
        self.entries.iter().find(|e| addr & e.0 == e.1).map(|e| e.3)
    }
    pub fn memory_bytes(&self) -> usize {
        self.entries.len() * 16
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}
