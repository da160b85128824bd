//! Property tests: random NSG and security admin rule sets on a small fabric, the regions
//! `reach` computes against a first-match evaluator written here from Azure's rules, for many
//! random concrete headers. NSG: rules by ascending priority, the first match decides, then
//! the default rules AllowVnetInBound (65000), AllowAzureLoadBalancerInBound (65001),
//! DenyAllInBound (65500)
//! (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview).
//! Security admin rules are evaluated before NSGs, by ascending priority: Deny drops,
//! AlwaysAllow admits without the NSG, Allow hands the packet to the NSG
//! (https://learn.microsoft.com/azure/virtual-network-manager/concept-security-admins).
//! A seeded xorshift makes every case reproducible; the seed is in every failure message.

use std::fmt::Write as _;

use vnetsim_engine::sweep::{resolve, Side};
use vnetsim_engine::{Flow, Outcome, RuleRef};
use vnetsim_fabric::{Endpoint, Fabric};
use vnetsim_reach::tables::Tables;
use vnetsim_reach::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Addresses: the site 192.168.0.0/16 sends, vm-b is 10.0.2.4, vm-b2 10.0.2.5.
const VM_B: u32 = 0x0A00_0204;
const SITE: (u32, u32) = (0xC0A8_0000, 0xC0A8_FFFF);

#[derive(Clone, Debug)]
struct Rule {
    name: String,
    priority: u32,
    /// Allow, Deny, or (admin) AlwaysAllow.
    access: &'static str,
    /// None: any protocol.
    proto: Option<u8>,
    /// None: `*`; Some((net, len)); the tag VirtualNetwork is `vnet`.
    src: Option<(u32, u8)>,
    vnet_src: bool,
    dst: Option<(u32, u8)>,
    /// Destination ports (TCP and UDP rules only).
    ports: Option<(u16, u16)>,
}

fn contains(p: (u32, u8), a: u32) -> bool {
    let mask = if p.1 == 0 { 0 } else { u32::MAX << (32 - p.1) };
    a & mask == p.0 & mask
}

fn ip(a: u32) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

/// VirtualNetwork for nsg-b: the VNet, the site's prefix behind the gateway, 168.63.129.16.
fn in_virtual_network(a: u32) -> bool {
    contains((0x0A00_0000, 16), a) || contains((SITE.0, 16), a) || a == 0xA83F_8110
}

impl Rule {
    fn matches(&self, f: &Flow) -> bool {
        self.proto.is_none_or(|p| p == f.proto)
            && (if self.vnet_src {
                in_virtual_network(f.src)
            } else {
                self.src.is_none_or(|p| contains(p, f.src))
            })
            && self.dst.is_none_or(|p| contains(p, f.dst))
            && self
                .ports
                .is_none_or(|(lo, hi)| f.dport >= lo && f.dport <= hi)
    }
}

fn random_prefix(r: &mut Rng, base: u32) -> (u32, u8) {
    let len = [8u8, 16, 20, 24, 28, 30, 31, 32][r.below(8) as usize];
    let a = base ^ (r.below(1 << 10) as u32);
    let mask = u32::MAX << (32 - len);
    (a & mask, len)
}

fn random_rules(r: &mut Rng, n: usize, admin: bool) -> Vec<Rule> {
    let mut prios: Vec<u32> = Vec::new();
    while prios.len() < n {
        let p = if admin {
            1 + r.below(60) as u32
        } else {
            100 + r.below(400) as u32
        };
        if !prios.contains(&p) {
            prios.push(p);
        }
    }
    prios
        .into_iter()
        .enumerate()
        .map(|(i, priority)| {
            let proto = [None, Some(6), Some(17), Some(1), Some(6)][r.below(5) as usize];
            let ported = matches!(proto, Some(6) | Some(17));
            let vnet_src = !admin && r.below(6) == 0;
            Rule {
                name: format!("r{i}"),
                priority,
                access: match (admin, r.below(3)) {
                    (true, 0) => "AlwaysAllow",
                    (_, 1) => "Deny",
                    _ if r.below(2) == 0 => "Deny",
                    _ => "Allow",
                },
                proto,
                src: (!vnet_src && r.below(3) != 0).then(|| random_prefix(r, SITE.0 | 0x0404)),
                vnet_src,
                dst: (r.below(2) == 0).then(|| random_prefix(r, VM_B)),
                ports: (ported && r.below(4) != 0).then(|| {
                    let lo = [0u16, 22, 80, 443, 1000, 3389, 8080][r.below(7) as usize]
                        + r.below(3) as u16;
                    (lo, lo.saturating_add(r.below(2000) as u16))
                }),
            }
        })
        .collect()
}

fn proto_word(p: Option<u8>) -> &'static str {
    match p {
        None => "'*'",
        Some(6) => "Tcp",
        Some(17) => "Udp",
        _ => "Icmp",
    }
}

fn prefix_text(p: Option<(u32, u8)>) -> String {
    p.map_or("'*'".into(), |(a, l)| format!("{}/{l}", ip(a)))
}

fn ports_text(p: Option<(u16, u16)>) -> String {
    p.map_or("'*'".into(), |(a, b)| format!("'{a}-{b}'"))
}

fn yaml(nsg: &[Rule], admin: &[Rule]) -> String {
    let mut y = String::from(
        "version: 1\nsites:\n  - { name: home, addressPrefixes: [192.168.0.0/16] }\n\
         vnets:\n  - name: vnet-dst\n    addressSpace: [10.0.0.0/16]\n    subnets:\n\
         \x20     - { name: GatewaySubnet, addressPrefix: 10.0.0.0/27 }\n\
         \x20     - { name: snet-b, addressPrefix: 10.0.2.0/24, nsg: nsg-b }\n\
         nics:\n  - { name: vm-b, subnet: vnet-dst/snet-b, privateIpAddress: 10.0.2.4 }\n\
         \x20 - { name: vm-b2, subnet: vnet-dst/snet-b, privateIpAddress: 10.0.2.5 }\n\
         gateways:\n  - { name: vgw, vnet: vnet-dst, type: Vpn, connections: [{ site: home }] }\n\
         nsgs:\n  - name: nsg-b\n    rules:\n",
    );
    if nsg.is_empty() {
        y.push_str("      []\n");
    }
    for r in nsg {
        let src = if r.vnet_src {
            "VirtualNetwork".into()
        } else {
            prefix_text(r.src)
        };
        let _ = writeln!(
            y,
            "      - {{ name: {}, priority: {}, direction: Inbound, access: {}, protocol: {}, source: {src}, destination: {}, destinationPorts: {} }}",
            r.name, r.priority, r.access, proto_word(r.proto), prefix_text(r.dst), ports_text(r.ports)
        );
    }
    if !admin.is_empty() {
        y.push_str(
            "networkManagers:\n  - name: avnm\n    networkGroups:\n      - { name: ng, members: [vnet-dst] }\n\
             \x20   securityAdminConfigurations:\n      - name: cfg\n        ruleCollections:\n\
             \x20         - name: coll\n            appliesToGroups: [ng]\n            rules:\n",
        );
        for r in admin {
            let _ = writeln!(
                y,
                "              - {{ name: {}, priority: {}, direction: Inbound, access: {}, protocol: {}, sources: [{}], destinations: [{}], destinationPortRanges: [{}] }}",
                r.name, r.priority, r.access,
                match r.proto { None => "Any", Some(6) => "Tcp", Some(17) => "Udp", _ => "Icmp" },
                prefix_text(r.src), prefix_text(r.dst), ports_text(r.ports)
            );
        }
    }
    y
}

/// The reference: (delivered, the deciding rule's name) for a header toward vm-b.
fn reference(nsg: &[Rule], admin: &[Rule], f: &Flow) -> (bool, String) {
    let mut a: Vec<&Rule> = admin.iter().collect();
    a.sort_by_key(|r| r.priority);
    if let Some(r) = a.into_iter().find(|r| r.matches(f)) {
        match r.access {
            "Deny" => return (false, format!("avnm/cfg/coll/{}", r.name)),
            "AlwaysAllow" => return (true, format!("avnm/cfg/coll/{}", r.name)),
            _ => {}
        }
    }
    let mut n: Vec<&Rule> = nsg.iter().collect();
    n.sort_by_key(|r| r.priority);
    if let Some(r) = n.into_iter().find(|r| r.matches(f)) {
        return (r.access == "Allow", format!("nsg-b/{}", r.name));
    }
    if in_virtual_network(f.src) && in_virtual_network(f.dst) {
        (true, "nsg-b/AllowVnetInBound".into())
    } else {
        (false, "nsg-b/DenyAllInBound".into())
    }
}

/// The deciding rule of a class: the drop's rule, or the admission rule recorded at vm-b's
/// subnet (an NSG rule) or at vm-b (an AlwaysAllow admin rule, no NSG evaluated).
fn decided(f: &Fabric, sig: &Signature) -> (bool, Option<String>) {
    let delivered = sig.key.outcome == Outcome::Reachable;
    let rule = if delivered {
        sig.forward
            .iter()
            .filter(|h| matches!(h.node, Endpoint::Subnet(_) | Endpoint::Nic(_)))
            .find_map(|h| match h.rule {
                Some(r @ (RuleRef::Nsg { .. } | RuleRef::AdminRule { .. })) => Some(r),
                _ => None,
            })
    } else {
        sig.key.forward.rule
    };
    let name = rule.and_then(|r| match r {
        RuleRef::Nsg { .. } | RuleRef::AdminRule { .. } => {
            Some(vnetsim_engine::render::rule_name(f, r))
        }
        _ => None,
    });
    (delivered, name)
}

fn interesting_port(r: &mut Rng, rules: &[Rule]) -> u16 {
    let edges: Vec<u16> = rules
        .iter()
        .filter_map(|x| x.ports)
        .flat_map(|(a, b)| [a.saturating_sub(1), a, b, b.saturating_add(1)])
        .collect();
    if !edges.is_empty() && r.below(2) == 0 {
        edges[r.below(edges.len() as u64) as usize]
    } else {
        r.below(65536) as u16
    }
}

fn interesting_src(r: &mut Rng, rules: &[Rule]) -> u32 {
    let edges: Vec<u32> = rules
        .iter()
        .filter_map(|x| x.src)
        .flat_map(|(a, l)| {
            let hi = a | if l == 32 { 0 } else { u32::MAX >> l };
            [a.wrapping_sub(1), a, hi, hi.wrapping_add(1)]
        })
        .filter(|&a| a >= SITE.0 && a <= SITE.1)
        .collect();
    if !edges.is_empty() && r.below(2) == 0 {
        edges[r.below(edges.len() as u64) as usize]
    } else {
        SITE.0 + r.below(1 << 16) as u32
    }
}

fn check(seed: u64, nsg_rules: usize, admin_rules: usize, headers: usize) {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let nsg = random_rules(&mut r, nsg_rules, false);
    let admin = random_rules(&mut r, admin_rules, true);
    let text = yaml(&nsg, &admin);
    let v = vnetsim_model::load_str("random.yaml", &text)
        .unwrap_or_else(|d| panic!("seed {seed}: {d}\n{text}"));
    let f = vnetsim_fabric::compile(&v);
    let tb = Tables::new(&f);
    let probes = resolve(&f, &["site:home".to_string()], Side::Source).unwrap();
    let srcs = sources(&f, &probes, &Scope::everything());
    let p = partition(&f, &tb, &srcs, &[]).unwrap();
    let all: Vec<&Rule> = nsg.iter().chain(&admin).collect();
    let all: Vec<Rule> = all.into_iter().cloned().collect();
    for _ in 0..headers {
        let proto = [6u8, 17, 1][r.below(3) as usize];
        let ported = proto != 1;
        let flow = Flow {
            src: interesting_src(&mut r, &all),
            dst: if r.below(4) == 0 { VM_B + 1 } else { VM_B },
            proto,
            sport: if ported { r.below(65536) as u16 } else { 0 },
            dport: if ported {
                interesting_port(&mut r, &all)
            } else {
                0
            },
        };
        let held: Vec<_> = p.classes.iter().filter(|c| c.bx.contains(&flow)).collect();
        assert_eq!(
            held.len(),
            1,
            "seed {seed}: {flow:?} in {} classes\n{text}",
            held.len()
        );
        let sig = &p.signatures[held[0].sig as usize];
        let (ok, rule) = reference(&nsg, &admin, &flow);
        let (got_ok, got_rule) = decided(&f, sig);
        assert_eq!(
            (got_ok, got_rule.as_deref()),
            (ok, Some(rule.as_str())),
            "seed {seed}: {flow:?} (class {:?})\n{text}",
            held[0].bx
        );
    }
}

#[test]
fn random_nsg_rules_match_first_match_reference() {
    for seed in 1..=150 {
        check(seed, 1 + (seed as usize % 8), 0, 400);
    }
}

#[test]
fn random_admin_and_nsg_rules_match_first_match_reference() {
    for seed in 1000..=1150 {
        check(seed, 1 + (seed as usize % 6), 1 + (seed as usize % 5), 400);
    }
}
