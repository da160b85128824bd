//! Names for what the walk recorded by id: JSON (the contract's keys) and
//! a readable hop-by-hop rendering. Never on the per-packet path.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};
use vnetsim_fabric::prefix::is_public;
use vnetsim_fabric::{Endpoint, Fabric, RouteSource};

use crate::{
    Action, AppProtocol, Flow, Hop, Leg, Nat, Outcome, Reason, RouteRef, RuleRef, Scratch, Trace,
    Verdict, L7,
};

/// Azure Firewall's spelling of an application protocol.
pub fn app_protocol_name(p: AppProtocol) -> &'static str {
    match p {
        AppProtocol::Http => "Http",
        AppProtocol::Https => "Https",
        AppProtocol::Mssql => "Mssql",
    }
}

pub fn ip(a: u32) -> String {
    let mut s = String::with_capacity(15);
    push_ip(&mut s, a);
    s
}

/// Appends `a` in dotted-quad form (the fabric's writer, shared with rule sides).
pub fn push_ip(out: &mut String, a: u32) {
    vnetsim_fabric::prefix::push_ip(out, a)
}

pub fn protocol_name(p: u8) -> String {
    match p {
        6 => "Tcp".into(),
        17 => "Udp".into(),
        1 => "Icmp".into(),
        50 => "Esp".into(),
        51 => "Ah".into(),
        n => n.to_string(),
    }
}

pub fn action_name(a: Action) -> &'static str {
    match a {
        Action::Forward => "forward",
        Action::Allow => "allow",
        Action::Deliver => "deliver",
        Action::Drop => "drop",
    }
}

/// The deciding rule as outputs name it: `NSG/RULE`, `COLLECTION/RULE`, a route name, `FIREWALL/DefaultDeny`.
pub fn rule_name(f: &Fabric, r: RuleRef) -> String {
    match r {
        RuleRef::Nsg {
            table,
            inbound,
            from_internet,
            index,
        } => {
            let t = &f.nsg_tables[table as usize];
            let rt = t.table(inbound, from_internet);
            rt.rule_name(&f.nsg_names[t.nsg.ix()], index)
        }
        RuleRef::NsgFlowRecord => "flow-record".into(),
        RuleRef::AdminRule {
            table,
            inbound,
            index,
        } => f.admin_tables[table as usize].rules(inbound).rules[index as usize]
            .name
            .clone(),
        RuleRef::FirewallNetwork { fw, index } => {
            f.firewalls[fw.ix()].network_rules[index as usize].0.clone()
        }
        RuleRef::FirewallApplication { fw, index } => f.firewalls[fw.ix()].application
            [index as usize]
            .name
            .clone(),
        RuleRef::FirewallDnat { fw, index } => format!(
            "dnatRules/{}",
            f.firewalls[fw.ix()].dnat[index as usize].name
        ),
        RuleRef::FirewallDefaultDeny(fw) => format!("{}/DefaultDeny", f.firewalls[fw.ix()].name),
        RuleRef::FirewallSession(fw) => format!("{}/session", f.firewalls[fw.ix()].name),
        RuleRef::NotModelled(i) => {
            let x = &f.not_modelled[i as usize];
            format!("notModelled/{}", x.id.rsplit('/').next().unwrap_or(&x.id))
        }
        RuleRef::NsgUnresolved { .. }
        | RuleRef::AdminUnresolved { .. }
        | RuleRef::FirewallUnresolved { .. } => {
            unresolved_rule(f, r).map_or_else(String::new, |x| x.0)
        }
        RuleRef::LbRule { lb, index } => {
            let l = &f.load_balancers[lb.ix()];
            format!(
                "{}/loadBalancingRules/{}",
                l.name, l.rules[index as usize].name
            )
        }
        RuleRef::LbNatRule { lb, index } => {
            let l = &f.load_balancers[lb.ix()];
            format!(
                "{}/inboundNatRules/{}",
                l.name, l.nat_rules[index as usize].name
            )
        }
        RuleRef::LbSession(lb) => format!("{}/session", f.load_balancers[lb.ix()].name),
        RuleRef::AppGwRule { gw, index } => {
            let g = &f.app_gateways[gw.ix()];
            format!("{}/routingRules/{}", g.name, g.rules[index as usize].name)
        }
        RuleRef::AppGwSession(gw) => format!("{}/session", f.app_gateways[gw.ix()].name),
        RuleRef::Route(rr) => route_of(f, rr)
            .name
            .clone()
            .unwrap_or_else(|| "System Route".into()),
    }
}

fn route_of(f: &Fabric, r: RouteRef) -> &vnetsim_fabric::EffectiveRoute {
    &f.route_sets[r.set.ix()].routes[r.index as usize]
}

pub fn route_json(f: &Fabric, r: RouteRef) -> Value {
    let route = route_of(f, r);
    let mut m = Map::new();
    m.insert("addressPrefix".into(), json!(route.prefix.to_string()));
    m.insert("nextHopType".into(), json!(route.next_hop_type.as_str()));
    m.insert(
        "nextHopIpAddress".into(),
        json!(vnetsim_fabric::watcher::next_hop_ips(f, route)
            .first()
            .map(|a| a.to_string())),
    );
    m.insert("source".into(), json!(route.source.as_str()));
    m.insert(
        "routeTable".into(),
        match (route.source, route.route_table) {
            (RouteSource::User, Some(rt)) => json!(f.route_tables[rt.ix()].name),
            _ => json!("System Route"),
        },
    );
    if let Some(n) = &route.name {
        m.insert("name".into(), json!(n));
    }
    Value::Object(m)
}

fn nat_json(n: &Nat) -> Value {
    let mut m = Map::new();
    if let Some((a, b)) = n.src {
        m.insert("src".into(), json!([ip(a), ip(b)]));
    }
    if let Some((a, b)) = n.dst {
        m.insert("dst".into(), json!([ip(a), ip(b)]));
    }
    Value::Object(m)
}

fn hop_json(f: &Fabric, h: &Hop) -> Value {
    let mut m = Map::new();
    m.insert("node".into(), json!(f.endpoint_id(h.node)));
    m.insert("action".into(), json!(action_name(h.action)));
    if let Some(r) = h.route {
        m.insert("route".into(), route_json(f, r));
    }
    if let Some(r) = h.rule {
        m.insert("rule".into(), json!(rule_name(f, r)));
    }
    if let Some(n) = &h.nat {
        m.insert("nat".into(), nat_json(n));
    }
    Value::Object(m)
}

/// An unresolved rule a walk stopped at: its name as outputs show it, and why it is
/// unresolved.
pub fn unresolved_rule(f: &Fabric, r: RuleRef) -> Option<(String, String)> {
    let (name, x) = match r {
        RuleRef::NsgUnresolved {
            table,
            inbound,
            from_internet,
            index,
        } => {
            let t = &f.nsg_tables[table as usize];
            let rt = t.table(inbound, from_internet);
            let x = &rt.unresolved.as_ref()?.rules[index as usize];
            (format!("{}/{}", f.nsg_names[t.nsg.ix()], x.name), x)
        }
        RuleRef::AdminUnresolved {
            table,
            inbound,
            index,
        } => {
            let rules = f.admin_tables[table as usize].rules(inbound);
            let x = &rules.unresolved.as_ref()?.rules[index as usize];
            (x.name.clone(), x)
        }
        RuleRef::FirewallUnresolved { fw, index } => {
            let fw = &f.firewalls[fw.ix()];
            let x = &fw.unresolved[index as usize];
            (format!("{}/{}", fw.name, x.name), x)
        }
        _ => return None,
    };
    Some((name, x.why.clone()))
}

/// A sentence for why a leg ended.
pub fn reason_text(f: &Fabric, leg: &Leg) -> String {
    let at = leg.dropped_at.map(|e| f.endpoint_id(e)).unwrap_or_default();
    let rule = leg.rule.map(|r| rule_name(f, r)).unwrap_or_default();
    match leg.reason {
        Reason::Delivered => match leg.delivered_to {
            Some(Endpoint::Pe(p)) => {
                format!("delivered to Private Endpoint {}", f.pes[p.ix()].name)
            }
            Some(Endpoint::Nic(n)) => format!("delivered to NIC {}", f.nics[n.ix()].name),
            Some(Endpoint::Site(s)) if f.sites[s.ix()].express_route => {
                format!("delivered to ExpressRoute circuit {}", f.sites[s.ix()].name)
            }
            Some(Endpoint::Site(s)) => {
                format!("delivered to on-premises site {}", f.sites[s.ix()].name)
            }
            Some(Endpoint::Service(s)) => format!(
                "delivered to service {} (public endpoint)",
                f.services[s.ix()].name
            ),
            Some(Endpoint::Internet) => "delivered to the Internet".into(),
            Some(Endpoint::Platform) => {
                "delivered to the platform (168.63.129.16), not routed, no NSG".into()
            }
            Some(e) => format!("delivered to {}", f.endpoint_id(e)),
            None => "delivered".into(),
        },
        Reason::RouteNone => {
            if rule.is_empty() {
                format!("dropped at {at}: the chosen system route has next hop None")
            } else {
                format!("dropped at {at}: user route {rule} has next hop None")
            }
        }
        Reason::NoRoute => format!("dropped at {at}: no route to the destination"),
        Reason::NoGateway => format!(
            "dropped at {at}: next hop VirtualNetworkGateway but no gateway serves this VNet"
        ),
        Reason::GatewayNoSite => {
            format!("dropped at {at}: the gateway has no on-premises prefix for the destination")
        }
        Reason::NotAdvertisedToSite => {
            format!("dropped at {at}: the site's gateway does not advertise the destination (not in the hub or a transit spoke)")
        }
        Reason::ApplianceUnresolved => {
            format!("dropped at {at}: next hop VirtualAppliance {rule} points at an address that is no firewall and no IP-forwarding NIC")
        }
        Reason::IpForwardingDisabled => {
            format!("dropped at {at}: the appliance NIC does not have IP forwarding enabled")
        }
        Reason::SourceNotOwned => format!(
            "dropped at {at}: the NIC does not own the source address {} and does not forward (IP forwarding is off)",
            ip(leg.seen.src)
        ),
        Reason::NsgDeny => format!("dropped at {at} by NSG rule {rule}"),
        Reason::AdminRuleDeny => format!(
            "dropped at {at} by security admin rule {rule} (network manager rules are evaluated before NSGs)"
        ),
        Reason::ServiceNetworkRules => format!(
            "dropped at {at}: the service's network rules do not admit source {}{}",
            ip(leg.seen.src),
            if is_public(leg.seen.src) {
                " (not in its ipRules)"
            } else {
                " (its subnet is not in the virtualNetworkRules)"
            }
        ),
        Reason::FirewallDeny => format!("dropped at {at} by firewall rule {rule}"),
        Reason::FirewallDefaultDeny => {
            format!("dropped at {at}: no firewall rule matched (default deny)")
        }
        Reason::FirewallNoSession => {
            format!("dropped at {at}: stateful firewall has no session for this reply")
        }
        Reason::AddressedToFirewall => {
            format!("dropped at {at}: packet addressed to the firewall itself")
        }
        Reason::ForwardedTrafficNotAllowed => {
            format!("dropped at {at}: peering does not allow forwarded traffic (source outside the sending VNet)")
        }
        Reason::NoOwner => format!("dropped at {at}: nothing owns the destination address"),
        Reason::UnresolvedRule => {
            let why = leg.rule.and_then(|r| unresolved_rule(f, r)).map_or_else(String::new, |x| x.1);
            format!(
                "stopped at {at}: rule {rule} may match this flow before the rule that decides, and vnetsim cannot resolve it ({why}); no verdict is given"
            )
        }
        Reason::NotModelled => match leg.rule {
            Some(RuleRef::NotModelled(i)) if f.not_modelled[i as usize].vnet.is_some() => {
                let x = &f.not_modelled[i as usize];
                format!(
                    "stopped at {at}: {} {} gives this VNet routes vnetsim does not model ({}), and one may take this packet; no verdict is given",
                    x.resource_type, x.id, x.affects
                )
            }
            Some(RuleRef::NotModelled(i)) if f.not_modelled[i as usize].gateway.is_some() => {
                let x = &f.not_modelled[i as usize];
                format!(
                    "stopped at {at}: {} {} may rewrite this packet's addresses, which vnetsim does not model ({}); no verdict is given",
                    x.resource_type, x.id, x.affects
                )
            }
            Some(RuleRef::NotModelled(i)) => {
                let x = &f.not_modelled[i as usize];
                format!(
                    "stopped at {at}: the destination belongs to {} {}, which vnetsim does not model ({}); this answer is not trustworthy",
                    x.resource_type, x.id, x.affects
                )
            }
            _ => format!("stopped at {at}: the destination belongs to a resource vnetsim does not model"),
        },
        Reason::Loop => format!(
            "dropped at {at}: forwarding loop (more than {} hops)",
            crate::MAX_HOPS
        ),
        Reason::NotReachableFromInternet => {
            format!("dropped at {at}: the destination is not reachable from the Internet")
        }
        Reason::PublicNetworkAccessDisabled => {
            format!("dropped at {at}: the service's public network access is disabled")
        }
        Reason::EndpointProtocol => {
            format!("dropped at {at}: the Private Endpoint does not accept this protocol")
        }
        Reason::EndpointNeverOriginates => {
            format!("dropped at {at}: a Private Endpoint never originates traffic")
        }
        Reason::ReplyMisdelivered => format!("the reply reached {at}, not the request's source"),
        Reason::NoOutboundConnectivity => format!(
            "dropped at {at}: private subnet (defaultOutboundAccess false) without a NAT gateway, \
             and the NIC has no public IP: no outbound method toward the Internet"
        ),
        Reason::ExpressRouteNotUserRouteNextHop => format!(
            "dropped before {at}: user route {rule} has next hop VirtualNetworkGateway, and the \
             gateway there is an ExpressRoute gateway, which user routes cannot use (only a VPN \
             gateway can be a user route's next hop)"
        ),
        Reason::ApplianceNotInReach => {
            let vnet = match leg.dropped_at {
                Some(Endpoint::Nic(n)) => f.vnets[f.subnets[f.nics[n.ix()].subnet.ix()].vnet.ix()]
                    .name
                    .as_str(),
                _ => "",
            };
            format!(
                "dropped before {at}: user route {rule} names this IP-forwarding NIC, which is \
                 in vnet {vnet}, neither the sending VNet nor one peered with it: unreachable"
            )
        }
        Reason::LbNoRule => format!(
            "dropped at {at}: no load-balancing or inbound NAT rule of this frontend matches the protocol and port"
        ),
        Reason::LbNoHealthyBackend => format!(
            "dropped at {at}: every backend of rule {rule}'s pool is down (marked down, or its NSG denies the health probe from AzureLoadBalancer 168.63.129.16)"
        ),
        Reason::LbNeverOriginates => {
            format!("dropped at {at}: a load balancer frontend never originates traffic")
        }
        Reason::AppGwNoListener => format!(
            "dropped at {at}: no listener of the application gateway on this address, protocol and port"
        ),
        Reason::AppGwNoBackend => {
            format!("dropped at {at}: routing rule {rule} has no backend address")
        }
        Reason::AppGwNoSession => format!(
            "dropped at {at}: the packet belongs to no connection of the application gateway"
        ),
        Reason::NatGatewayInbound => format!(
            "dropped at {at}: the destination is a NAT gateway public IP, which accepts no inbound \
             connections"
        ),
    }
}

fn leg_json(f: &Fabric, s: &Scratch, leg: &Leg) -> Value {
    let hops: Vec<Value> = s.leg_hops(leg).iter().map(|h| hop_json(f, h)).collect();
    let delivered = leg.verdict == Verdict::Delivered;
    json!({
        "verdict": if delivered { "delivered" } else { "dropped" },
        "deliveredTo": leg.delivered_to.map(|e| f.endpoint_id(e)),
        "droppedAt": leg.dropped_at.map(|e| f.endpoint_id(e)),
        "rule": leg.rule.map(|r| rule_name(f, r)),
        "reason": reason_text(f, leg),
        "srcSeen": delivered.then(|| ip(leg.seen.src)),
        "dstSeen": delivered.then(|| ip(leg.seen.dst)),
        "hops": hops,
    })
}

pub fn flow_json(flow: &Flow, l7: Option<L7<'_>>) -> Value {
    json!({
        "src": ip(flow.src), "dst": ip(flow.dst), "protocol": protocol_name(flow.proto),
        "srcPort": flow.sport, "dstPort": flow.dport, "fqdn": l7.map(|x| x.fqdn),
        "appProtocol": l7.map(|x| app_protocol_name(x.protocol)),
    })
}

/// What [`reason_text`] reads of a leg, as ids: equal keys give equal text. The source as
/// the last node saw it is read for two reasons only, so it is kept for those alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LegReasonKey {
    pub leg: crate::LegKey,
    pub seen_src: Option<u32>,
}

impl LegReasonKey {
    pub fn of(leg: &Leg) -> LegReasonKey {
        let reads_source = matches!(
            leg.reason,
            Reason::SourceNotOwned | Reason::ServiceNetworkRules
        );
        LegReasonKey {
            leg: leg.key(),
            seen_src: reads_source.then_some(leg.seen.src),
        }
    }
}

/// What [`outcome_reason`] reads of a round trip, as ids: equal keys give equal text. A
/// summary counts reasons by this key per flow and renders each distinct key once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReasonKey {
    /// The text of one leg as it stands.
    Leg(LegReasonKey),
    /// `reply ` and the text of the reply leg.
    Reply(LegReasonKey),
    /// The reply bypassed the appliance a load balancer chose.
    BypassedAppliance(vnetsim_fabric::NicId),
    /// The reply bypassed a stateful firewall.
    BypassedFirewall(vnetsim_fabric::FirewallId),
    NoReply,
}

/// The key of [`outcome_reason`]'s text for `t` (the same branches, in the same order).
pub fn reason_key(t: &Trace) -> ReasonKey {
    let leg = |l: &Leg| ReasonKey::Leg(LegReasonKey::of(l));
    match t.outcome {
        Outcome::Reachable | Outcome::Unreachable => leg(&t.forward),
        Outcome::NotModelled => match &t.ret {
            Some(r) if t.forward.verdict == Verdict::Delivered => {
                ReasonKey::Reply(LegReasonKey::of(r))
            }
            _ => leg(&t.forward),
        },
        Outcome::NoReturn => match (t.bypassed, t.bypassed_nva, &t.ret) {
            (None, Some(n), _) => ReasonKey::BypassedAppliance(n),
            (Some(fw), _, _) => ReasonKey::BypassedFirewall(fw),
            (None, None, Some(r)) if r.reason == Reason::ReplyMisdelivered => leg(r),
            (None, None, Some(r)) => ReasonKey::Reply(LegReasonKey::of(r)),
            _ => ReasonKey::NoReply,
        },
    }
}

/// Why the round trip has its outcome.
pub fn outcome_reason(f: &Fabric, t: &Trace) -> String {
    match t.outcome {
        Outcome::Reachable => reason_text(f, &t.forward),
        Outcome::Unreachable => reason_text(f, &t.forward),
        Outcome::NotModelled => match &t.ret {
            Some(r) if t.forward.verdict == Verdict::Delivered => format!("reply {}", reason_text(f, r)),
            _ => reason_text(f, &t.forward),
        },
        Outcome::NoReturn if t.bypassed.is_none() && t.bypassed_nva.is_some() => {
            let n = t.bypassed_nva.map(|n| f.nics[n.ix()].name.as_str()).unwrap_or("");
            format!(
                "the reply does not cross appliance {n}, which the load balancer chose for the request (the reply hashed to another backend or took another path): a stateful appliance drops the rest of the connection (asymmetric)"
            )
        }
        Outcome::NoReturn => match (t.bypassed, &t.ret) {
            (Some(fw), _) => format!(
                "the reply bypasses stateful firewall {}, which carried the request: it drops the rest of the connection (asymmetric)",
                f.firewalls[fw.ix()].name
            ),
            // The misdelivery text already names the reply.
            (None, Some(r)) if r.reason == Reason::ReplyMisdelivered => reason_text(f, r),
            (None, Some(r)) => format!("reply {}", reason_text(f, r)),
            _ => "no reply".into(),
        },
    }
}

pub fn trace_json(f: &Fabric, s: &Scratch, t: &Trace, l7: Option<L7<'_>>) -> Value {
    json!({
        "flow": flow_json(&t.flow, l7),
        "ingress": f.endpoint_id(t.ingress),
        "outcome": t.outcome.as_str(),
        "reason": outcome_reason(f, t),
        "bypassed": t.bypassed.map(|fw| format!("firewall:{}", f.firewalls[fw.ix()].name))
            .or_else(|| t.bypassed_nva.map(|n| format!("nic:{}", f.nics[n.ix()].name))),
        "xForwardedFor": x_forwarded_for(s, &t.forward).map(ip),
        "forward": leg_json(f, s, &t.forward),
        "return": t.ret.as_ref().map(|r| leg_json(f, s, r)),
        "symmetric": t.symmetric,
    })
}

/// The client address an application gateway on the leg put in X-Forwarded-For (the source
/// of the packet it proxied): information, never the source the backend sees.
pub fn x_forwarded_for(s: &Scratch, leg: &Leg) -> Option<u32> {
    s.leg_hops(leg)
        .iter()
        .find_map(|h| match (h.node, h.rule, h.nat) {
            (Endpoint::AppGateway(_), Some(RuleRef::AppGwRule { .. }), Some(n)) => {
                n.src.map(|x| x.0)
            }
            _ => None,
        })
}

/// The hop nodes of a leg joined by ` > `.
pub fn path(f: &Fabric, s: &Scratch, leg: &Leg) -> String {
    let v: Vec<String> = s
        .leg_hops(leg)
        .iter()
        .map(|h| f.endpoint_id(h.node))
        .collect();
    v.join(" > ")
}

fn hops_text(f: &Fabric, s: &Scratch, leg: &Leg, out: &mut String) {
    for (i, h) in s.leg_hops(leg).iter().enumerate() {
        let mut extra = Vec::new();
        if let Some(r) = h.route {
            let route = route_of(f, r);
            let nh = match route.next_hop_ip {
                Some(a) => format!("{} {}", route.next_hop_type.as_str(), a),
                None => route.next_hop_type.as_str().to_string(),
            };
            let by = match (&route.name, route.route_table) {
                (Some(n), Some(rt)) => format!("User {}/{}", f.route_tables[rt.ix()].name, n),
                _ => route.source.as_str().to_string(),
            };
            extra.push(format!("route {} -> {} ({})", route.prefix, nh, by));
        }
        if let Some(r) = h.rule {
            extra.push(format!("rule {}", rule_name(f, r)));
        }
        if let Some(n) = &h.nat {
            if let Some((a, b)) = n.src {
                extra.push(format!("src {} -> {}", ip(a), ip(b)));
            }
            if let Some((a, b)) = n.dst {
                extra.push(format!("dst {} -> {}", ip(a), ip(b)));
            }
        }
        let line = format!(
            "  {:>2}  {:<40} {:<8} {}",
            i + 1,
            f.endpoint_id(h.node),
            action_name(h.action),
            extra.join("; ")
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

pub fn trace_text(f: &Fabric, s: &Scratch, t: &Trace, l7: Option<L7<'_>>) -> String {
    let mut out = String::new();
    let fl = &t.flow;
    let _ = writeln!(
        out,
        "flow     {} {}:{} -> {}:{}{}  from {}",
        protocol_name(fl.proto),
        ip(fl.src),
        fl.sport,
        ip(fl.dst),
        fl.dport,
        l7.map(|q| format!(" ({} {})", app_protocol_name(q.protocol), q.fqdn))
            .unwrap_or_default(),
        f.endpoint_id(t.ingress)
    );
    let _ = writeln!(
        out,
        "outcome  {}{}",
        t.outcome.as_str(),
        if t.symmetric { "" } else { " (asymmetric)" }
    );
    let _ = writeln!(out, "reason   {}", outcome_reason(f, t));
    let fw = &t.forward;
    let _ = write!(out, "\nforward  {}", reason_text(f, fw));
    if fw.verdict == Verdict::Delivered {
        let _ = write!(
            out,
            "  [source seen {}, destination seen {}]",
            ip(fw.seen.src),
            ip(fw.seen.dst)
        );
        if let Some(x) = x_forwarded_for(s, fw) {
            let _ = write!(out, "  [X-Forwarded-For {}]", ip(x));
        }
    }
    out.push('\n');
    hops_text(f, s, fw, &mut out);
    if let Some(r) = &t.ret {
        let _ = writeln!(out, "\nreturn   {}", reason_text(f, r));
        hops_text(f, s, r, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_read_as_the_standard_library_writes_them() {
        let mut x = 0x9e37_79b9u32;
        let mut cases = vec![0, u32::MAX, 0x0a00_0001, 0x6464_0a09, 0xc0a8_6400];
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            cases.push(x);
        }
        for a in cases {
            assert_eq!(super::ip(a), std::net::Ipv4Addr::from(a).to_string());
        }
        for (a, text) in [
            (0, "0.0.0.0"),
            (u32::MAX, "255.255.255.255"),
            (0x0A00_0001, "10.0.0.1"),
            (0x6440_0963, "100.64.9.99"),
            (0xCB00_710A, "203.0.113.10"),
            (0xC0A8_6400, "192.168.100.0"),
        ] {
            assert_eq!(super::ip(a), text);
        }
    }
}
