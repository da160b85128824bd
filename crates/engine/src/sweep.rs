//! Flow-matrix sweeps: selectors to probes, the matrix of sources ×
//! destinations × ports, and its evaluation in parallel over the immutable
//! fabric. Results come back in matrix order whatever the thread count.

use rayon::prelude::*;
use vnetsim_fabric::{Endpoint, Fabric, Owner, PublicOwner};

use crate::{trace, Flow, Scratch, Trace, ICMP, L7, TCP, UDP};

/// The address a sweep uses for "the Internet" (TEST-NET-3, documentation space).
pub const INTERNET_PROBE: u32 = 0xCB00_710A; // 203.0.113.10

/// One endpoint of the matrix: what it is and the address that stands for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub label: String,
    pub endpoint: Endpoint,
    pub addr: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Port {
    pub proto: u8,
    pub port: u16,
}

impl Port {
    pub fn label(&self) -> String {
        match self.proto {
            TCP => format!("tcp/{}", self.port),
            UDP => format!("udp/{}", self.port),
            ICMP => "icmp".into(),
            p => format!("{p}/{}", self.port),
        }
    }
}

/// Parses `tcp/443,tcp/1433,udp/53,icmp` (ranges `tcp/8000-8003` too). Each port is kept
/// once, in the order first given, so the list holds at most every TCP and UDP port and ICMP
/// (131,073 entries), however long the text.
pub fn parse_ports(s: &str) -> Result<Vec<Port>, String> {
    let mut out = Vec::new();
    let mut seen = vec![false; 2 * 65536 + 1];
    let mut push = |out: &mut Vec<Port>, p: Port| {
        let slot = match p.proto {
            TCP => p.port as usize,
            UDP => 65536 + p.port as usize,
            _ => 2 * 65536,
        };
        if !std::mem::replace(&mut seen[slot], true) {
            out.push(p);
        }
    };
    for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        if item.eq_ignore_ascii_case("icmp") {
            push(
                &mut out,
                Port {
                    proto: ICMP,
                    port: 0,
                },
            );
            continue;
        }
        let (p, n) = item
            .split_once('/')
            .ok_or_else(|| format!("invalid port '{item}'; expected tcp/N, udp/N or icmp"))?;
        let proto = match p.to_ascii_lowercase().as_str() {
            "tcp" => TCP,
            "udp" => UDP,
            _ => {
                return Err(format!(
                    "invalid protocol in '{item}'; expected tcp, udp or icmp"
                ))
            }
        };
        let (lo, hi) = match n.split_once('-') {
            Some((a, b)) => (a.parse::<u16>(), b.parse::<u16>()),
            None => (n.parse::<u16>(), n.parse::<u16>()),
        };
        let (Ok(lo), Ok(hi)) = (lo, hi) else {
            return Err(format!("invalid port number in '{item}'"));
        };
        if lo > hi {
            return Err(format!(
                "invalid port range in '{item}' (the first port is above the last)"
            ));
        }
        for port in lo..=hi {
            push(&mut out, Port { proto, port });
        }
    }
    if out.is_empty() {
        return Err("no ports given".into());
    }
    Ok(out)
}

fn nic_probe(f: &Fabric, i: usize) -> Probe {
    let e = Endpoint::Nic(vnetsim_fabric::NicId(i as u32));
    Probe {
        label: f.endpoint_id(e),
        endpoint: e,
        addr: f.nics[i].ip,
    }
}

fn pe_probe(f: &Fabric, i: usize) -> Probe {
    let e = Endpoint::Pe(vnetsim_fabric::PeId(i as u32));
    Probe {
        label: f.endpoint_id(e),
        endpoint: e,
        addr: f.pes[i].ip,
    }
}

/// A host address of `p`: its first host, or the address itself for a /31 or /32 (RFC 3021).
pub fn first_host(p: &ipnet::Ipv4Net) -> u32 {
    let n = u32::from(p.network());
    if p.prefix_len() >= 31 {
        n
    } else {
        n + 1
    }
}

/// The address a site stands for: the first host of its first prefix.
pub fn site_probe(f: &Fabric, i: usize) -> Probe {
    let e = Endpoint::Site(vnetsim_fabric::SiteId(i as u32));
    let p = f.sites[i].prefixes.first().map(first_host).unwrap_or(0);
    Probe {
        label: f.endpoint_id(e),
        endpoint: e,
        addr: p,
    }
}

/// A subnet stands for its first usable address (Azure keeps the first four).
fn subnet_probe(f: &Fabric, s: vnetsim_fabric::SubnetId) -> Probe {
    let sn = &f.subnets[s.ix()];
    let addr = u32::from(sn.prefix.network()) + 4;
    let endpoint = match f.vnets[sn.vnet.ix()].owner(addr) {
        Some(Owner::Nic(n)) => Endpoint::Nic(n),
        Some(Owner::Pe(p)) => Endpoint::Pe(p),
        _ => Endpoint::Subnet(s),
    };
    Probe {
        label: f.subnet_id(s),
        endpoint,
        addr,
    }
}

fn internet_probe() -> Probe {
    Probe {
        label: "internet".into(),
        endpoint: Endpoint::Internet,
        addr: INTERNET_PROBE,
    }
}

/// An address as a probe: it enters (or is reached) at whatever owns it; its label is the
/// owner's id when it is the owner's own address, else the address itself.
fn address_probe(f: &Fabric, addr: u32, side: Side) -> Result<Probe, String> {
    let endpoint = f.endpoint_of_source(addr);
    if endpoint == Endpoint::Internet && !vnetsim_fabric::prefix::is_public(addr) {
        return Err(format!(
            "{} belongs to no NIC, endpoint, site or subnet of the fabric and is not public Internet space",
            std::net::Ipv4Addr::from(addr)
        ));
    }
    if side == Side::Source && matches!(endpoint, Endpoint::Pe(_)) {
        return Err(format!(
            "{} is a Private Endpoint, which never originates traffic",
            std::net::Ipv4Addr::from(addr)
        ));
    }
    let own = match endpoint {
        Endpoint::Nic(n) => f.nics[n.ix()].ip == addr,
        Endpoint::Pe(p) => f.pes[p.ix()].ip == addr,
        _ => false,
    };
    Ok(Probe {
        label: if own {
            f.endpoint_id(endpoint)
        } else {
            std::net::Ipv4Addr::from(addr).to_string()
        },
        endpoint,
        addr,
    })
}

/// Which side of the matrix a selector fills: sources leave out endpoints that never originate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Source,
    Destination,
}

/// Resolves selectors (`all`, `vnet:`, `subnet:`, `nic:`, `pe:`, `site:`, `internet`, an IPv4
/// address) to probes, deduplicated, in order.
pub fn resolve(f: &Fabric, selectors: &[String], side: Side) -> Result<Vec<Probe>, String> {
    let mut out: Vec<Probe> = Vec::new();
    let push = |p: Probe, out: &mut Vec<Probe>| {
        if !out.iter().any(|q| q.label == p.label) {
            out.push(p);
        }
    };
    let defaults = ["all".to_string()];
    let sels = if selectors.is_empty() {
        &defaults[..]
    } else {
        selectors
    };
    for sel in sels {
        let (kind, name) = sel.split_once(':').unwrap_or((sel.as_str(), ""));
        match kind {
            "all" => {
                for i in 0..f.nics.len() {
                    push(nic_probe(f, i), &mut out);
                }
                if side == Side::Destination {
                    for i in 0..f.pes.len() {
                        push(pe_probe(f, i), &mut out);
                    }
                }
                for i in 0..f.sites.len() {
                    push(site_probe(f, i), &mut out);
                }
                push(internet_probe(), &mut out);
            }
            "internet" => push(internet_probe(), &mut out),
            "vnet" => {
                let v = f.find_vnet(name).ok_or_else(|| format!("unknown vnet '{name}' in selector '{sel}'"))?;
                let before = out.len();
                for (i, n) in f.nics.iter().enumerate() {
                    if f.subnets[n.subnet.ix()].vnet == v {
                        push(nic_probe(f, i), &mut out);
                    }
                }
                if side == Side::Destination {
                    for (i, p) in f.pes.iter().enumerate() {
                        if f.subnets[p.subnet.ix()].vnet == v {
                            push(pe_probe(f, i), &mut out);
                        }
                    }
                }
                if out.len() == before {
                    for &s in &f.vnets[v.ix()].subnets {
                        push(subnet_probe(f, s), &mut out);
                    }
                }
            }
            "subnet" => {
                let s = f.find_subnet(name).ok_or_else(|| format!("unknown subnet '{name}' in selector '{sel}'"))?;
                push(subnet_probe(f, s), &mut out);
            }
            "nic" => {
                let n = f.find_nic(name).ok_or_else(|| format!("unknown NIC '{name}' in selector '{sel}'"))?;
                push(nic_probe(f, n.ix()), &mut out);
            }
            "pe" => {
                let p = f.find_pe(name).ok_or_else(|| format!("unknown private endpoint '{name}' in selector '{sel}'"))?;
                push(pe_probe(f, p.ix()), &mut out);
            }
            "site" => {
                let s = f.find_site(name).ok_or_else(|| format!("unknown site '{name}' in selector '{sel}'"))?;
                push(site_probe(f, s.ix()), &mut out);
            }
            _ => match sel.parse::<std::net::Ipv4Addr>() {
                Ok(a) => push(address_probe(f, a.into(), side)?, &mut out),
                Err(_) => {
                    return Err(format!(
                        "invalid selector '{sel}'; expected all, vnet:NAME, subnet:VNET/SUBNET, nic:NAME, pe:NAME, site:NAME, internet or an IPv4 address"
                    ))
                }
            },
        }
    }
    Ok(out)
}

/// The destination address for a pair: from the Internet, a NIC is reached at its public IP.
pub fn destination_addr(f: &Fabric, src: &Probe, dst: &Probe) -> u32 {
    if src.endpoint == Endpoint::Internet {
        if let Endpoint::Nic(n) = dst.endpoint {
            if let Some(p) = f.nics[n.ix()].public_ip {
                return p;
            }
        }
    }
    dst.addr
}

/// The FQDN a flow carries: the destination endpoint's or service's.
pub fn fqdn_for(f: &Fabric, dst: u32) -> Option<&str> {
    if let Some((_, Owner::Pe(p))) = f.private_owner(dst) {
        return f.services[f.pes[p.ix()].service.ix()].fqdn.as_deref();
    }
    if let Some(PublicOwner::Service(s)) = f.public_owner(dst) {
        return f.services[s.ix()].fqdn.as_deref();
    }
    None
}

/// What application rules see of a flow nobody observed: the destination service's FQDN, in
/// the protocol the port stands for ([`L7::by_port`]).
pub fn destination_l7<'f>(f: &'f Fabric, flow: &Flow) -> Option<L7<'f>> {
    fqdn_for(f, flow.dst).map(|n| L7::by_port(n, flow.dport))
}

/// One cell of the matrix: indices into sources, destinations and ports; ordered as the
/// matrix is (source, then destination, then port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cell {
    pub src: u32,
    pub dst: u32,
    pub port: u32,
}

/// The matrix, ready to run: sources × destinations × ports in source-major order, leaving out
/// a probe talking to itself. Cells are computed from their index, never stored, so a matrix
/// costs memory for its probes only, however many flows it has.
pub struct Matrix {
    pub sources: Vec<Probe>,
    pub dests: Vec<Probe>,
    pub ports: Vec<Port>,
    /// Per source, the destination that is the same probe (left out of its row).
    skip: Vec<Option<u32>>,
    /// Per source, the index of its first cell; one more entry holds the total.
    start: Vec<u64>,
}

impl Matrix {
    /// The FQDN each destination carries (looked up once per destination, not per flow).
    pub fn fqdns<'f>(&self, f: &'f Fabric) -> Vec<(Option<&'f str>, Option<&'f str>)> {
        // (from the Internet, from elsewhere): the Internet reaches NICs at their public IP.
        self.dests
            .iter()
            .map(|d| {
                let inet = Probe {
                    label: String::new(),
                    endpoint: Endpoint::Internet,
                    addr: INTERNET_PROBE,
                };
                (
                    fqdn_for(f, destination_addr(f, &inet, d)),
                    fqdn_for(f, d.addr),
                )
            })
            .collect()
    }
}

impl Matrix {
    pub fn new(sources: Vec<Probe>, dests: Vec<Probe>, ports: Vec<Port>) -> Matrix {
        let by_label: std::collections::HashMap<&str, u32> = dests
            .iter()
            .enumerate()
            .map(|(j, d)| (d.label.as_str(), j as u32))
            .collect();
        let skip: Vec<Option<u32>> = sources
            .iter()
            .map(|s| by_label.get(s.label.as_str()).copied())
            .collect();
        let mut start = Vec::with_capacity(sources.len() + 1);
        let mut n = 0u64;
        for k in &skip {
            start.push(n);
            n += (dests.len() - k.is_some() as usize) as u64 * ports.len() as u64;
        }
        start.push(n);
        Matrix {
            sources,
            dests,
            ports,
            skip,
            start,
        }
    }
    /// The number of cells (flows).
    pub fn len(&self) -> u64 {
        self.start[self.sources.len()]
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The cell at `index` (matrix order).
    pub fn cell(&self, index: u64) -> Cell {
        let i = self.start.partition_point(|&x| x <= index) - 1;
        let within = index - self.start[i];
        let p = self.ports.len() as u64;
        let mut j = (within / p) as u32;
        if let Some(k) = self.skip[i] {
            if j >= k {
                j += 1;
            }
        }
        Cell {
            src: i as u32,
            dst: j,
            port: (within % p) as u32,
        }
    }
    /// Cells `range` in matrix order.
    pub fn cells(&self, range: std::ops::Range<u64>) -> impl Iterator<Item = Cell> + '_ {
        let mut next = (range.start < range.end.min(self.len())).then(|| self.cell(range.start));
        let mut left = range.end.saturating_sub(range.start);
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let c = next?;
            next = self.after(c);
            Some(c)
        })
    }
    /// Every cell in matrix order.
    pub fn iter(&self) -> impl Iterator<Item = Cell> + '_ {
        self.cells(0..self.len())
    }
    fn after(&self, c: Cell) -> Option<Cell> {
        let mut c = c;
        c.port += 1;
        if (c.port as usize) < self.ports.len() {
            return Some(c);
        }
        c.port = 0;
        c.dst += 1;
        if self.skip[c.src as usize] == Some(c.dst) {
            c.dst += 1;
        }
        while c.dst as usize >= self.dests.len() {
            c.src += 1;
            if c.src as usize >= self.sources.len() {
                return None;
            }
            c.dst = (self.skip[c.src as usize] == Some(0)) as u32;
        }
        Some(c)
    }
    pub fn flow(&self, f: &Fabric, c: Cell) -> Flow {
        let s = &self.sources[c.src as usize];
        let d = &self.dests[c.dst as usize];
        let p = self.ports[c.port as usize];
        Flow {
            src: s.addr,
            dst: destination_addr(f, s, d),
            proto: p.proto,
            sport: if p.proto == ICMP { 0 } else { 50000 },
            dport: p.port,
        }
    }
}

/// Cells per unit of parallel work.
pub const CHUNK: u64 = 1024;

/// Evaluates every cell (a full round-trip trace each) on the current rayon pool, folding the
/// cells of each chunk of [`CHUNK`] cells into an accumulator; accumulators come back in
/// matrix order whatever the thread count.
pub fn fold_chunks<A, I, M>(
    f: &Fabric,
    m: &Matrix,
    init: I,
    each: M,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<A>
where
    A: Send,
    I: Fn(usize) -> A + Sync,
    M: Fn(&mut A, &Fabric, &Scratch, &Trace, Cell, Option<L7<'_>>) + Sync,
{
    fold_range(f, m, &m.fqdns(f), 0..m.len(), init, each, progress)
}

/// [`fold_chunks`] over the cells `cells` only (chunks of [`CHUNK`] from `cells.start`), with
/// the destinations' names from [`Matrix::fqdns`]: a long sweep runs slice by slice so that
/// what it keeps is bounded by a slice, not by the matrix.
pub fn fold_range<A, I, M>(
    f: &Fabric,
    m: &Matrix,
    fq: &[(Option<&str>, Option<&str>)],
    cells: std::ops::Range<u64>,
    init: I,
    each: M,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<A>
where
    A: Send,
    I: Fn(usize) -> A + Sync,
    M: Fn(&mut A, &Fabric, &Scratch, &Trace, Cell, Option<L7<'_>>) + Sync,
{
    let (first, n) = (cells.start, cells.end.min(m.len()));
    (0..n.saturating_sub(first).div_ceil(CHUNK))
        .into_par_iter()
        .map_init(Scratch::new, |scratch, k| {
            let range = first + k * CHUNK..(first + (k + 1) * CHUNK).min(n);
            let len = (range.end - range.start) as usize;
            let mut acc = init(len);
            walk_cells(f, m, fq, range, scratch, |s, t, c, l7| {
                each(&mut acc, f, s, t, c, l7)
            });
            progress(len as u64);
            acc
        })
        .collect()
}

/// [`fold_range`] into one accumulator per parallel split instead of one per chunk, the splits'
/// accumulators then combined with `merge`: for folds whose result does not depend on the order
/// of cells (counts, minima), so no accumulator is made, filled or merged per chunk.
#[allow(clippy::too_many_arguments)]
pub fn fold_merge<A, I, M, R>(
    f: &Fabric,
    m: &Matrix,
    fq: &[(Option<&str>, Option<&str>)],
    cells: std::ops::Range<u64>,
    init: I,
    each: M,
    merge: R,
    progress: &(dyn Fn(u64) + Sync),
) -> A
where
    A: Send,
    I: Fn() -> A + Sync + Send,
    M: Fn(&mut A, &Fabric, &Scratch, &Trace, Cell, Option<L7<'_>>) + Sync,
    R: Fn(A, A) -> A + Sync + Send,
{
    let (first, n) = (cells.start, cells.end.min(m.len()));
    (0..n.saturating_sub(first).div_ceil(CHUNK))
        .into_par_iter()
        .fold(
            || (Scratch::new(), init()),
            |(mut scratch, mut acc), k| {
                let range = first + k * CHUNK..(first + (k + 1) * CHUNK).min(n);
                let len = range.end - range.start;
                walk_cells(f, m, fq, range, &mut scratch, |s, t, c, l7| {
                    each(&mut acc, f, s, t, c, l7)
                });
                progress(len);
                (scratch, acc)
            },
        )
        .map(|(_, acc)| acc)
        .reduce(&init, &merge)
}

/// What application rules see of a cell's flow from `src` to `dport`.
#[inline]
fn cell_l7<'f>(
    fq: &[(Option<&'f str>, Option<&'f str>)],
    src: Endpoint,
    c: Cell,
    dport: u16,
) -> Option<L7<'f>> {
    let q = fq[c.dst as usize];
    let fqdn = if src == Endpoint::Internet { q.0 } else { q.1 };
    fqdn.map(|n| L7::by_port(n, dport))
}

/// Walks the cells `range` in matrix order, one flow at a time, `each` called per cell.
/// (Walking the flows of one source in batches with their first route lookups together,
/// [`crate::trace_batch`], measured slower on the 201-VNet fabric: the lookup is a small part
/// of a walk.)
pub fn walk_cells<'f>(
    f: &'f Fabric,
    m: &Matrix,
    fq: &[(Option<&'f str>, Option<&'f str>)],
    range: std::ops::Range<u64>,
    scratch: &mut Scratch,
    mut each: impl FnMut(&Scratch, &Trace, Cell, Option<L7<'f>>),
) {
    for c in m.cells(range) {
        let flow = m.flow(f, c);
        let src = m.sources[c.src as usize].endpoint;
        let l7 = cell_l7(fq, src, c, flow.dport);
        let t = trace(f, flow, src, l7, scratch);
        each(scratch, &t, c, l7);
    }
}

/// Evaluates every cell and maps each result with `map`; results are in cell order.
pub fn run<R, M>(f: &Fabric, m: &Matrix, map: M, progress: &(dyn Fn(u64) + Sync)) -> Vec<R>
where
    R: Send,
    M: Fn(&Fabric, &Scratch, &Trace, Cell, Option<L7<'_>>) -> R + Sync,
{
    fold_chunks(
        f,
        m,
        Vec::with_capacity,
        |v: &mut Vec<R>, f, s, t, c, q| v.push(map(f, s, t, c, q)),
        progress,
    )
    .into_iter()
    .flatten()
    .collect()
}

/// Traces one cell (to render a representative of an aggregated key).
pub fn trace_cell(f: &Fabric, m: &Matrix, c: Cell, s: &mut Scratch) -> Trace {
    let flow = m.flow(f, c);
    let src = m.sources[c.src as usize].endpoint;
    trace(f, flow, src, destination_l7(f, &flow), s)
}
