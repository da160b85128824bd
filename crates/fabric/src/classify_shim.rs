//! Stand-in classifier with the API of `vnetsim-classify` (replaced by it).

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub proto: u8,
    pub src: u32,
    pub dst: u32,
    pub sport: u16,
    pub dport: u16,
}
#[derive(Clone, Debug)]
pub enum Protocols {
    Any,
    Set(Vec<u8>),
}
#[derive(Clone, Debug)]
pub struct Rule {
    pub protocols: Protocols,
    pub src: Vec<(u32, u8)>,
    pub dst: Vec<(u32, u8)>,
    pub sport: Vec<(u16, u16)>,
    pub dport: Vec<(u16, u16)>,
}
#[derive(Clone, Debug)]
pub struct Classifier {
    rules: Vec<Rule>,
}
fn pm(a: u32, p: &(u32, u8)) -> bool {
    let m = if p.1 == 0 { 0 } else { u32::MAX << (32 - p.1) };
    a & m == p.0 & m
}
pub fn classify_linear(rules: &[Rule], k: &Key) -> Option<u32> {
    rules
        .iter()
        .position(|r| {
            (match &r.protocols {
                Protocols::Any => true,
                Protocols::Set(s) => s.contains(&k.proto),
            }) && r.src.iter().any(|p| pm(k.src, p))
                && r.dst.iter().any(|p| pm(k.dst, p))
                && r.sport.iter().any(|&(a, b)| a <= k.sport && k.sport <= b)
                && r.dport.iter().any(|&(a, b)| a <= k.dport && k.dport <= b)
        })
        .map(|i| i as u32)
}
impl Classifier {
    pub fn build(rules: &[Rule]) -> Classifier {
        Classifier { rules: rules.to_vec() }
    }
    #[inline]
    pub fn classify(&self, key: &Key) -> Option<u32> {
        classify_linear(&self.rules, key)
    }
    pub fn memory_bytes(&self) -> usize {
        0
    }
    pub fn len(&self) -> usize {
        self.rules.len()
    }
}
