//! Proof of completeness by brute force: every header of a tested space is walked concretely
//! and must take exactly the walk of the one class that holds it (same outcome, path, rules
//! and rewrites), and every tested header must lie in exactly one class.
//!
//! The default run walks every address the fabric holds (NICs, endpoints, firewall and
//! gateway addresses, public IPs, the platform address, one free address per subnet, site and
//! Internet addresses) with every TCP and UDP port, and a few other protocols. The `#[ignore]`d
//! runs (`cargo test --release -p vnetsim-reach --test brute_force -- --ignored`) walk every
//! address of every subnet as well.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rayon::prelude::*;
use vnetsim_engine::sweep::{resolve, Side};
use vnetsim_engine::{Flow, Scratch};
use vnetsim_fabric::Fabric;
use vnetsim_reach::tables::Tables;
use vnetsim_reach::*;

fn lab() -> Fabric {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../traces/hub-spoke-lab.yaml"
    );
    let v = vnetsim_model::load(std::path::Path::new(path)).unwrap_or_else(|d| panic!("{d}"));
    vnetsim_fabric::compile(&v)
}

/// A public load balancer (tcp/80 to 8080, inbound NAT 50001) and an Application Gateway
/// (listener 443), each choosing between two backends by hash.
fn lb_agw() -> Fabric {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/reach-lb-agw.yaml"
    );
    let v = vnetsim_model::load(std::path::Path::new(path)).unwrap_or_else(|d| panic!("{d}"));
    vnetsim_fabric::compile(&v)
}

/// Security admin rules (AVNM) over an NSG: a Deny, an AlwaysAllow and an Allow.
fn avnm() -> Fabric {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/avnm.yaml"
    );
    let v = vnetsim_model::load(std::path::Path::new(path)).unwrap_or_else(|d| panic!("{d}"));
    vnetsim_fabric::compile(&v)
}

fn generated(vnets: u32, seed: u64) -> Fabric {
    let y = vnetsim_model::generate::generate(&vnetsim_model::generate::Params {
        vnets,
        subnets_per_vnet: 1,
        rules_per_nsg: 6,
        private_endpoints: 2,
        seed,
    })
    .unwrap();
    let v = vnetsim_model::load_str("generated.yaml", &y).unwrap_or_else(|d| panic!("{d}"));
    vnetsim_fabric::compile(&v)
}

fn ip(s: &str) -> u32 {
    u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
}

/// Destination addresses to test: what the fabric holds, or (`whole`) every subnet address too.
fn fabric_addresses(f: &Fabric, whole: bool) -> Vec<u32> {
    let mut v: Vec<u32> = Vec::new();
    for n in &f.nics {
        v.push(n.ip);
        v.extend(n.public_ip);
    }
    v.extend(f.pes.iter().map(|p| p.ip));
    v.extend(f.services.iter().filter_map(|s| s.public_ip));
    for fw in &f.firewalls {
        v.push(fw.private_ip);
        v.extend(&fw.snat_ips);
        v.extend(&fw.public_ips);
    }
    for g in &f.gateways {
        v.extend(g.instance_ips.iter().map(|&a| u32::from(a)));
    }
    v.extend(f.lb_frontends.iter().map(|x| x.ip));
    for g in &f.app_gateways {
        v.extend(
            g.private_ip
                .iter()
                .chain(&g.public_ip)
                .chain(&g.instance_ips),
        );
    }
    for s in &f.subnets {
        let (lo, hi) = (
            u32::from(s.prefix.network()),
            u32::from(s.prefix.broadcast()),
        );
        if whole {
            v.extend(lo..=hi);
        } else {
            v.extend([lo, lo + 4, hi - 1, hi]);
        }
    }
    for s in &f.sites {
        for p in &s.prefixes {
            v.push(u32::from(p.network()) + 1);
        }
    }
    for vn in &f.vnets {
        for p in &vn.address_space {
            v.push(u32::from(p.broadcast()));
        }
    }
    v.push(vnetsim_fabric::security::PLATFORM_IP);
    v.extend([
        ip("8.8.8.8"),
        ip("203.0.113.9"),
        ip("172.16.50.1"),
        ip("0.0.0.0"),
        ip("255.255.255.255"),
    ]);
    v.sort_unstable();
    v.dedup();
    v
}

/// Walks every header of srcs × dsts × {tcp, udp} × sports × every port, and of the other
/// protocols with ports 0, and compares each with its class: with the way of the class its
/// hashed choices (load balancer and Application Gateway backends, ECMP) take.
fn prove(f: &Fabric, selector: &str, srcs: &[u32], dsts: &[u32], sports: &[u16]) -> (u64, u64) {
    let tb = Tables::new(f);
    let probes = resolve(f, &[selector.to_string()], Side::Source).unwrap();
    let sources = sources(f, &probes, &Scope::everything());
    let p = partition(f, &tb, &sources, &[]).unwrap();
    let ingress = sources[0].endpoint;
    let protos: [u8; 5] = [6, 17, 1, 0, 50];
    // One bit per tested header: (src, dst, proto, sport, dport).
    let per_dst = protos.len() * sports.len() * 65536;
    let total = srcs.len() * dsts.len() * per_dst;
    let bits: Vec<AtomicU64> = (0..total.div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
    let walked = AtomicUsize::new(0);
    p.classes.par_iter().for_each_init(Scratch::new, |s, c| {
        let b = &c.bx;
        let want = &p.signatures[c.sig as usize];
        let di = dsts.partition_point(|&d| d < b.lo[1])..dsts.partition_point(|&d| d <= b.hi[1]);
        for (si, &src) in srcs.iter().enumerate() {
            if src < b.lo[0] || src > b.hi[0] {
                continue;
            }
            for dix in di.clone() {
                let dst = dsts[dix];
                for (pi, &proto) in protos.iter().enumerate() {
                    if (proto as u32) < b.lo[2] || proto as u32 > b.hi[2] {
                        continue;
                    }
                    let ported = proto == 6 || proto == 17;
                    for (spi, &sport) in sports.iter().enumerate() {
                        let sport = if ported { sport } else { 0 };
                        if (sport as u32) < b.lo[3]
                            || sport as u32 > b.hi[3]
                            || (!ported && spi > 0)
                        {
                            continue;
                        }
                        for dport in b.lo[4]..=b.hi[4] {
                            let flow = Flow {
                                src,
                                dst,
                                proto,
                                sport,
                                dport: dport as u16,
                            };
                            let t = walk(f, ingress, flow, s);
                            let got = signature(&t, s);
                            let taken: Vec<u32> = s.choices().iter().map(|c| c.taken).collect();
                            let way = want.way(&taken).unwrap_or_else(|| {
                                panic!("{flow:?} takes {taken:?}, no way of its class {b:?}")
                            });
                            assert!(
                                way.same_walk(&got),
                                "{flow:?} differs from its class {b:?}: {got:?} vs {way:?}"
                            );
                            let bit = ((si * dsts.len() + dix) * protos.len() + pi)
                                * sports.len()
                                * 65536
                                + spi * 65536
                                + dport as usize;
                            let old = bits[bit / 64].fetch_or(1 << (bit % 64), Ordering::Relaxed);
                            assert_eq!(old & (1 << (bit % 64)), 0, "{flow:?} lies in two classes");
                            walked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
    });
    // Headers that must be covered: TCP and UDP with every port, other protocols with port 0.
    let expected = srcs.len() * dsts.len() * (2 * sports.len() * 65536 + 3);
    assert_eq!(
        walked.load(Ordering::Relaxed),
        expected,
        "headers outside every class"
    );
    (p.classes.len() as u64, expected as u64)
}

fn nic(f: &Fabric, name: &str) -> u32 {
    f.nics[f.find_nic(name).unwrap().ix()].ip
}

#[test]
fn lab_from_the_internet_every_held_address_every_port() {
    let f = lab();
    let dsts = fabric_addresses(&f, false);
    // Clients on the Internet (it sends from every public address the fabric does not hold).
    let (classes, walked) = prove(
        &f,
        "internet",
        &[ip("203.0.113.9"), ip("1.2.3.4")],
        &dsts,
        &[50000],
    );
    assert!(classes > 10 && walked > 1_000_000);
}

#[test]
fn lab_from_each_vm_every_held_address_every_port() {
    let f = lab();
    let dsts = fabric_addresses(&f, false);
    for n in ["vm-app-nic", "vm-shared-nic", "vm-tools-nic"] {
        prove(&f, &format!("nic:{n}"), &[nic(&f, n)], &dsts, &[50000]);
    }
}

#[test]
fn lab_from_the_site_every_held_address_every_port() {
    let f = lab();
    let dsts = fabric_addresses(&f, false);
    prove(
        &f,
        "site:home",
        &[ip("192.168.1.10"), ip("192.168.255.254")],
        &dsts,
        &[1024],
    );
}

#[test]
fn generated_fabrics_every_held_address_every_port() {
    for seed in [1, 2, 3] {
        let f = generated(3, seed);
        let dsts = fabric_addresses(&f, false);
        prove(&f, "internet", &[ip("198.51.100.7")], &dsts, &[40000]);
        let first = f
            .nics
            .iter()
            .position(|n| f.subnets[n.subnet.ix()].vnet.0 != 0)
            .unwrap();
        let name = f.nics[first].name.clone();
        prove(
            &f,
            &format!("nic:{name}"),
            &[f.nics[first].ip],
            &dsts,
            &[40000],
        );
    }
}

#[test]
#[ignore = "full brute force: run in release"]
fn lab_every_subnet_address_every_port() {
    let f = lab();
    let dsts = fabric_addresses(&f, true);
    prove(&f, "internet", &[ip("203.0.113.9")], &dsts, &[50000]);
    for n in ["vm-app-nic", "vm-shared-nic", "vm-tools-nic"] {
        prove(&f, &format!("nic:{n}"), &[nic(&f, n)], &dsts, &[50000]);
    }
    prove(&f, "site:home", &[ip("192.168.1.10")], &dsts, &[1024]);
}

#[test]
#[ignore = "full brute force: run in release"]
fn generated_every_subnet_address_every_port() {
    for seed in [1, 2, 3] {
        let f = generated(3, seed);
        let dsts = fabric_addresses(&f, true);
        prove(&f, "internet", &[ip("198.51.100.7")], &dsts, &[40000]);
        let first = f
            .nics
            .iter()
            .position(|n| f.subnets[n.subnet.ix()].vnet.0 != 0)
            .unwrap();
        let name = f.nics[first].name.clone();
        prove(
            &f,
            &format!("nic:{name}"),
            &[f.nics[first].ip],
            &dsts,
            &[40000],
        );
    }
}

#[test]
fn admin_rules_from_each_vm_every_held_address_every_port() {
    let f = avnm();
    let dsts = fabric_addresses(&f, false);
    for n in ["vm-a", "vm-b", "vm-c"] {
        prove(&f, &format!("nic:{n}"), &[nic(&f, n)], &dsts, &[50000]);
    }
}

#[test]
fn load_balancer_and_app_gateway_every_frontend_port() {
    // Every port of both frontends (and every other held address), from two Internet hosts
    // and two source ports each, so the hashes pick both backends and both gateway instances.
    let f = lb_agw();
    let dsts = fabric_addresses(&f, false);
    assert!(dsts.contains(&ip("20.60.0.10")) && dsts.contains(&ip("20.60.0.20")));
    let srcs = [ip("203.0.113.9"), ip("1.2.3.4")];
    prove(&f, "internet", &srcs, &dsts, &[50000, 40001]);
    // The backends themselves: replies through the load balancer, outbound SNAT.
    for n in ["web1", "web2"] {
        prove(&f, &format!("nic:{n}"), &[nic(&f, n)], &dsts, &[50000]);
    }
}

#[test]
fn route_server_ecmp_every_held_address_every_port() {
    // 10.100.0.0/16 is learned from both NVAs with equal AS paths: an ECMP pair, chosen by hash.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/route_server.yaml"
    );
    let v = vnetsim_model::load(std::path::Path::new(path)).unwrap_or_else(|d| panic!("{d}"));
    let f = vnetsim_fabric::compile(&v);
    let mut dsts = fabric_addresses(&f, false);
    dsts.extend([ip("10.100.0.1"), ip("10.200.0.1")]);
    dsts.sort_unstable();
    for n in ["vm1", "vm-hub"] {
        prove(
            &f,
            &format!("nic:{n}"),
            &[nic(&f, n)],
            &dsts,
            &[50000, 40001],
        );
    }
}

/// Unresolved rules (an NSG rule naming a service tag without data, a firewall network rule
/// naming FQDNs) and a VNet connected to a Virtual WAN hub: a flow one could match ahead of
/// the deciding rule ends not-modelled, and the stated fields of those rules bound the classes.
fn unresolved() -> Fabric {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/unresolved.yaml"
    );
    let v = vnetsim_model::load(std::path::Path::new(path)).unwrap_or_else(|d| panic!("{d}"));
    vnetsim_fabric::compile(&v)
}

#[test]
fn unresolved_rules_and_hub_routes_from_each_vm_every_held_address_every_port() {
    let f = unresolved();
    let dsts = fabric_addresses(&f, false);
    for n in ["vm-app", "vm-a"] {
        prove(&f, &format!("nic:{n}"), &[nic(&f, n)], &dsts, &[50000]);
    }
    // The tests are not vacuous: from vm-app, tcp/443 meets the NSG rule and tcp/8443 the
    // firewall rule; from vm-a, an address outside both VNets meets the hub's routes.
    let mut s = Scratch::new();
    let from = |n: &str| vnetsim_fabric::Endpoint::Nic(f.find_nic(n).unwrap());
    let flow = |src: u32, dst: &str, dport: u16| Flow {
        src,
        dst: ip(dst),
        proto: 6,
        sport: 50000,
        dport,
    };
    for (n, dst, port) in [
        ("vm-app", "8.8.8.8", 443),
        ("vm-app", "8.8.8.8", 8443),
        ("vm-a", "8.8.8.8", 80),
    ] {
        let t = walk(&f, from(n), flow(nic(&f, n), dst, port), &mut s);
        assert_eq!(
            t.outcome,
            vnetsim_engine::Outcome::NotModelled,
            "{n} {dst}:{port}"
        );
    }
    let t = walk(
        &f,
        from("vm-app"),
        flow(nic(&f, "vm-app"), "8.8.8.8", 80),
        &mut s,
    );
    assert_eq!(t.outcome, vnetsim_engine::Outcome::Reachable);
}
