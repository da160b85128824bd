//! The walk through Azure Load Balancer and Application Gateway hops.
//!
//! Load balancer (learn.microsoft.com/azure/load-balancer): a packet reaching a frontend
//! matches an inbound NAT rule (one backend) or a load-balancing rule (a backend chosen by
//! hash among the rule's healthy members). Without Floating IP the destination becomes the
//! backend's address (and the backend port); with it the backend sees the frontend address.
//! The backend's reply is translated back to the frontend by the platform, whatever route it
//! takes. A user route whose next hop is an internal frontend (NVAs behind an HA-ports rule)
//! sends the packet, unchanged, to the chosen appliance, which forwards it on; the appliance
//! is stateful, so a reply that does not cross it makes the flow `no-return`.
//!
//! Application Gateway v2 (learn.microsoft.com/azure/application-gateway): a proxy. The
//! client's connection ends at a listener; a new connection leaves from an instance address
//! of the gateway's subnet toward a backend of the listener's rule, routed by that subnet's
//! routes. The client's address travels only in X-Forwarded-For. WAF is not modelled.

use vnetsim_fabric::load_balancer::{pick_hash, Distribution};
use vnetsim_fabric::{AppGwId, Endpoint, LbFrontendId, NicId, SubnetId};

use crate::{Action, End, Flow, Hop, Nat, Reason, RuleRef, Walk, L7, MAX_SESSIONS, TCP};

/// A translation a load balancer made toward a backend NIC.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LbSession {
    pub nic: NicId,
    pub lb: vnetsim_fabric::LbId,
    /// The packet as it reached the frontend.
    pub orig: Flow,
    /// The packet as the backend received it.
    pub xlat: Flow,
}

impl LbSession {
    pub(crate) const NONE: LbSession = LbSession {
        nic: NicId(0),
        lb: vnetsim_fabric::LbId(0),
        orig: Flow {
            src: 0,
            dst: 0,
            proto: 0,
            sport: 0,
            dport: 0,
        },
        xlat: Flow {
            src: 0,
            dst: 0,
            proto: 0,
            sport: 0,
            dport: 0,
        },
    };
}

fn nat_of(before: Flow, after: Flow) -> Option<Nat> {
    let nat = Nat {
        src: (before.src != after.src).then_some((before.src, after.src)),
        dst: (before.dst != after.dst).then_some((before.dst, after.dst)),
    };
    (nat.src.is_some() || nat.dst.is_some()).then_some(nat)
}

/// Seeds of the hash: one per frontend (load balancers), one per gateway (instances, backends).
const GW_SEED: u32 = 0x8000_0000;

impl<'a> Walk<'a> {
    fn push(&mut self, node: Endpoint, action: Action, rule: Option<RuleRef>, nat: Option<Nat>) {
        self.s.hops.push(Hop {
            node,
            action,
            route: None,
            rule,
            nat,
        });
    }

    /// A packet at load balancer frontend `fe`: addressed to it, or (`routed`) sent to it by a
    /// user route's VirtualAppliance next hop.
    pub(crate) fn load_balancer(
        &mut self,
        fe: LbFrontendId,
        routed: bool,
    ) -> Result<End, SubnetId> {
        let f = self.f;
        let lbid = f.lb_frontends[fe.ix()].lb;
        let lb = &f.load_balancers[lbid.ix()];
        let node = Endpoint::LoadBalancer(lbid);
        let p = self.pkt;
        if !routed {
            for (i, r) in lb.nat_rules.iter().enumerate() {
                if r.frontend != fe {
                    continue;
                }
                if let Some(n) = r.target(p.proto, p.dport) {
                    let rule = RuleRef::LbNatRule {
                        lb: lbid,
                        index: i as u32,
                    };
                    return Ok(self.deliver_backend(node, rule, n, r.floating_ip, r.backend_port));
                }
            }
        }
        let hit = lb
            .rules
            .iter()
            .position(|r| r.frontend == fe && r.matches(p.proto, p.dport));
        let Some(i) = hit else {
            return Ok(self.drop_here(node, Reason::LbNoRule, None));
        };
        let r = &lb.rules[i];
        let rule = RuleRef::LbRule {
            lb: lbid,
            index: i as u32,
        };
        if r.healthy.is_empty() {
            return Ok(self.drop_here(node, Reason::LbNoHealthyBackend, Some(rule)));
        }
        // HA ports on an internal load balancer hash symmetrically: a flow and its reply through
        // the same frontend reach the same backend (load-balancer-ha-ports-overview).
        let symmetric = r.ha_ports && !lb.public;
        let h = pick_hash(
            fe.0,
            r.distribution,
            symmetric,
            (p.src, p.sport),
            (p.dst, p.dport),
            p.proto,
        );
        let n = r.healthy[self.choose(h, r.healthy.len())];
        if routed {
            return self.hand_to_appliance(node, rule, n);
        }
        Ok(self.deliver_backend(node, rule, n, r.floating_ip, r.backend_port))
    }

    /// Delivery to a backend NIC, translated unless Floating IP keeps the frontend address.
    fn deliver_backend(
        &mut self,
        node: Endpoint,
        rule: RuleRef,
        n: NicId,
        floating: bool,
        backend_port: u16,
    ) -> End {
        let orig = self.pkt;
        let mut out = orig;
        if !floating {
            out.dst = self.f.nics[n.ix()].ip;
        }
        if backend_port != 0 {
            out.dport = backend_port;
        }
        let Endpoint::LoadBalancer(lb) = node else {
            unreachable!("a load balancer hop")
        };
        if !self.reply && self.s.nlb < MAX_SESSIONS {
            self.s.lb_sessions[self.s.nlb] = LbSession {
                nic: n,
                lb,
                orig,
                xlat: out,
            };
            self.s.nlb += 1;
        }
        self.push(node, Action::Allow, Some(rule), nat_of(orig, out));
        self.pkt = out;
        self.deliver_nic(n)
    }

    /// A routed packet handed to the appliance the load balancer chose: it forwards it on.
    fn hand_to_appliance(
        &mut self,
        node: Endpoint,
        rule: RuleRef,
        n: NicId,
    ) -> Result<End, SubnetId> {
        self.push(node, Action::Forward, Some(rule), None);
        if !self.f.nics[n.ix()].ip_forwarding {
            return Ok(self.drop_here(Endpoint::Nic(n), Reason::IpForwardingDisabled, None));
        }
        if self.reply {
            self.cross_appliance(n);
        } else if self.s.npicks < MAX_SESSIONS {
            self.s.picks[self.s.npicks] = (n, false);
            self.s.npicks += 1;
        }
        if let Err(e) = self.nsg_in(n) {
            return Ok(e);
        }
        if let Err(e) = self.nsg_out(n) {
            return Ok(e);
        }
        Err(self.f.nics[n.ix()].subnet)
    }

    /// The reply crossed appliance `n`: the request's picks of it are satisfied.
    pub(crate) fn cross_appliance(&mut self, n: NicId) {
        if !self.reply {
            return;
        }
        for p in &mut self.s.picks[..self.s.npicks] {
            if p.0 == n {
                p.1 = true;
            }
        }
    }

    /// The load balancer translation whose backend reply this packet is.
    pub(crate) fn lb_session_of(&self, n: NicId) -> Option<LbSession> {
        let p = self.pkt;
        self.s.lb_sessions[..self.s.nlb]
            .iter()
            .copied()
            .find(|x| x.nic == n && x.xlat.reversed() == p)
    }

    /// A backend's reply: its NSGs (flow records), then the platform restores the frontend as
    /// source, and the reply is routed from the backend's subnet.
    pub(crate) fn lb_backend_reply(&mut self, n: NicId) -> End {
        let Some(sess) = self.lb_session_of(n) else {
            return self.drop_here(Endpoint::Nic(n), Reason::SourceNotOwned, None);
        };
        if let Err(e) = self.nsg_out(n) {
            return e;
        }
        let back = sess.orig.reversed();
        let node = Endpoint::LoadBalancer(sess.lb);
        self.push(
            node,
            Action::Forward,
            Some(RuleRef::LbSession(sess.lb)),
            nat_of(self.pkt, back),
        );
        self.pkt = back;
        self.route_from(self.f.nics[n.ix()].subnet, false)
    }

    /// A packet addressed to an application gateway's frontend (a listener's address).
    pub(crate) fn app_gateway(&mut self, g: AppGwId) -> Result<End, SubnetId> {
        let node = Endpoint::AppGateway(g);
        if self.reply {
            return Ok(self.drop_here(node, Reason::AppGwNoSession, None));
        }
        let f = self.f;
        let gw = &f.app_gateways[g.ix()];
        let sub = gw.subnet;
        let table = f.subnets[sub.ix()].nsg_table;
        if table.is_some() {
            match self.nsg(table, Endpoint::Subnet(sub), true) {
                Ok(r) => self.hop_rule(Endpoint::Subnet(sub), Action::Allow, r),
                Err(r) => {
                    return Ok(self.drop_here(Endpoint::Subnet(sub), super::nsg_reason(r), Some(r)))
                }
            }
        }
        let p = self.pkt;
        let listener = (p.proto == TCP)
            .then(|| gw.listener(p.dst, p.dport))
            .flatten();
        let Some(ri) = listener.and_then(|l| gw.listeners[l as usize].rule) else {
            return Ok(self.drop_here(node, Reason::AppGwNoListener, None));
        };
        // A request a listener takes meets what guards the frontend and is not modelled (a
        // WAF in Prevention mode may block it by its content).
        if let Some(i) = f.not_modelled_at(p.dst) {
            let why = Some(RuleRef::NotModelled(i));
            return Ok(self.drop_here(node, Reason::NotModelled, why));
        }
        let rule = &gw.rules[ri as usize];
        let rref = RuleRef::AppGwRule { gw: g, index: ri };
        if rule.backends.is_empty() {
            return Ok(self.drop_here(node, Reason::AppGwNoBackend, Some(rref)));
        }
        let (src, dst) = ((p.src, p.sport), (p.dst, p.dport));
        let d = Distribution::FiveTuple;
        let hb = pick_hash(GW_SEED | g.0, d, false, src, dst, p.proto);
        let b = self.choose(hb, rule.backends.len());
        let hi = pick_hash(!g.0, d, false, src, dst, p.proto);
        let i = self.choose(hi, gw.instance_ips.len());
        let out = Flow {
            src: gw.instance_ips[i],
            dst: rule.backends[b],
            proto: p.proto,
            sport: p.sport,
            dport: rule.backend_port,
        };
        if self.s.ngw < MAX_SESSIONS {
            self.s.gw_sessions[self.s.ngw] = (g, p, out);
            self.s.ngw += 1;
        }
        self.push(node, Action::Allow, Some(rref), nat_of(p, out));
        self.pkt = out;
        self.internet_sourced = false;
        if let Some(name) = rule.names[b].as_deref() {
            self.l7 = Some(L7::by_port(name, rule.backend_port));
        }
        if table.is_some() {
            match self.nsg(table, Endpoint::Subnet(sub), false) {
                Ok(r) => self.hop_rule(Endpoint::Subnet(sub), Action::Allow, r),
                Err(r) => {
                    return Ok(self.drop_here(Endpoint::Subnet(sub), super::nsg_reason(r), Some(r)))
                }
            }
        }
        Err(sub)
    }

    /// A packet toward an instance address: a backend's reply goes back to the client from the
    /// listener's address; anything else finds no listener there.
    pub(crate) fn app_gateway_instance(&mut self, g: AppGwId) -> Result<End, SubnetId> {
        let node = Endpoint::AppGateway(g);
        if !self.reply {
            return Ok(self.drop_here(node, Reason::AppGwNoListener, None));
        }
        let p = self.pkt;
        let hit = self.s.gw_sessions[..self.s.ngw]
            .iter()
            .find(|x| x.0 == g && x.2.reversed() == p)
            .copied();
        let Some((_, orig, _)) = hit else {
            return Ok(self.drop_here(node, Reason::AppGwNoSession, None));
        };
        let back = orig.reversed();
        self.push(
            node,
            Action::Allow,
            Some(RuleRef::AppGwSession(g)),
            nat_of(p, back),
        );
        self.pkt = back;
        Err(self.f.app_gateways[g.ix()].subnet)
    }
}
