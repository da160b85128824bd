//! Terraform's load balancer and Application Gateway resources in the ARM shape the mapper
//! reads. `azurerm_lb` carries only its frontends; its pools, probes, rules, inbound NAT and
//! outbound rules are separate resources (`azurerm_lb_*`, each naming `loadbalancer_id`),
//! folded here into the load balancer's `properties`, as ARM nests them. Pool members come
//! from `azurerm_network_interface_backend_address_pool_association` (onto the NIC's IP
//! configuration, as az exports show it) and from IP-address members
//! (`azurerm_lb_backend_address_pool_address`). `azurerm_application_gateway` holds its parts
//! inline; NIC members come from
//! `azurerm_network_interface_application_gateway_backend_address_pool_association`.

use crate::ir::Resource;
use crate::json::{Json, Pos, Val};

/// The `azurerm_lb_*` parts folded into their load balancer.
pub(crate) const LB_PARTS: &[&str] = &[
    "azurerm_lb_backend_address_pool",
    "azurerm_lb_probe",
    "azurerm_lb_rule",
    "azurerm_lb_nat_rule",
    "azurerm_lb_outbound_rule",
    "azurerm_lb_backend_address_pool_address",
];

fn obj(members: Vec<(&str, Val)>, pos: Pos) -> Val {
    Val::new(
        Json::Obj(
            members
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        ),
        pos,
    )
}

fn field(v: &Val, k: &str) -> Val {
    v.key(k).cloned().unwrap_or_else(|| Val::null(v.pos))
}

/// The first present of several attribute names (4.x first, then 3.x).
fn either(v: &Val, keys: &[&str]) -> Val {
    keys.iter()
        .find_map(|k| v.key(k).filter(|x| !matches!(x.v, Json::Null)).cloned())
        .unwrap_or_else(|| Val::null(v.pos))
}

fn text<'a>(v: &'a Val, k: &str) -> Option<&'a str> {
    v.key(k).and_then(Val::as_str).filter(|s| !s.is_empty())
}

fn blocks<'a>(v: &'a Val, k: &str) -> &'a [Val] {
    v.key(k).and_then(Val::as_arr).unwrap_or(&[])
}

fn id_obj(id: String, pos: Pos) -> Val {
    obj(vec![("id", Val::str(id, pos))], pos)
}

fn opt_ref(v: &Val, k: &str) -> Option<Val> {
    match v.key(k) {
        Some(
            x @ Val {
                v: Json::Unknown(_),
                ..
            },
        ) => Some(obj(vec![("id", x.clone())], x.pos)),
        Some(x) if text(v, k).is_some() => Some(obj(vec![("id", x.clone())], x.pos)),
        _ => None,
    }
}

fn sub(name: Val, id: Val, props: Vec<(&str, Val)>, pos: Pos) -> Val {
    obj(
        vec![("name", name), ("id", id), ("properties", obj(props, pos))],
        pos,
    )
}

/// A frontend IP configuration block (of a load balancer or an Application Gateway).
fn frontend(f: &Val) -> Val {
    let p = f.pos;
    let mut m = Vec::new();
    if let Some(s) = opt_ref(f, "subnet_id") {
        m.push(("subnet", s));
    }
    if let Some(a) = f
        .key("private_ip_address")
        .filter(|_| text(f, "private_ip_address").is_some())
    {
        m.push(("privateIPAddress", a.clone()));
    }
    if let Some(pip) = opt_ref(f, "public_ip_address_id") {
        m.push(("publicIPAddress", pip));
    }
    sub(field(f, "name"), field(f, "id"), m, p)
}

/// `properties` and `sku` of an `azurerm_lb` (frontends only; the rest is folded in later).
pub(crate) fn lb(v: &Val) -> (Val, Val) {
    let p = v.pos;
    let fes: Vec<Val> = blocks(v, "frontend_ip_configuration")
        .iter()
        .map(frontend)
        .collect();
    let props = obj(
        vec![("frontendIPConfigurations", Val::new(Json::Arr(fes), p))],
        p,
    );
    let sku = obj(
        vec![(
            "name",
            v.key("sku")
                .cloned()
                .unwrap_or_else(|| Val::str("Basic", p)),
        )],
        p,
    );
    (props, sku)
}

/// `.../frontendIPConfigurations/NAME` of the load balancer `lb`.
fn frontend_id(lb: &str, v: &Val, pos: Pos) -> Option<Val> {
    text(v, "frontend_ip_configuration_name")
        .map(|n| id_obj(format!("{lb}/frontendIPConfigurations/{n}"), pos))
}

/// One `azurerm_lb_*` part in the ARM shape: the LB property it goes under and the item.
fn lb_part(ty: &str, v: &Val, lb: &str) -> Option<(&'static str, Val)> {
    let p = v.pos;
    let (key, mut m): (&str, Vec<(&str, Val)>) = match ty {
        "azurerm_lb_backend_address_pool" => {
            let cfgs: Vec<Val> = blocks(v, "backend_ip_configurations")
                .iter()
                .filter_map(|x| x.as_str().map(|s| id_obj(s.to_string(), p)))
                .collect();
            (
                "backendAddressPools",
                vec![("backendIPConfigurations", Val::new(Json::Arr(cfgs), p))],
            )
        }
        "azurerm_lb_probe" => (
            "probes",
            vec![
                ("protocol", field(v, "protocol")),
                ("port", field(v, "port")),
                ("requestPath", field(v, "request_path")),
            ],
        ),
        "azurerm_lb_rule" => {
            let mut m = vec![
                ("protocol", field(v, "protocol")),
                ("frontendPort", field(v, "frontend_port")),
                ("backendPort", field(v, "backend_port")),
                (
                    "enableFloatingIP",
                    either(v, &["floating_ip_enabled", "enable_floating_ip"]),
                ),
                ("loadDistribution", field(v, "load_distribution")),
                ("disableOutboundSnat", field(v, "disable_outbound_snat")),
            ];
            m.extend(frontend_id(lb, v, p).map(|f| ("frontendIPConfiguration", f)));
            let pool = blocks(v, "backend_address_pool_ids").first().cloned();
            m.extend(pool.map(|x| ("backendAddressPool", obj(vec![("id", x)], p))));
            m.extend(opt_ref(v, "probe_id").map(|x| ("probe", x)));
            ("loadBalancingRules", m)
        }
        "azurerm_lb_nat_rule" => {
            let mut m = vec![
                ("protocol", field(v, "protocol")),
                ("backendPort", field(v, "backend_port")),
                (
                    "enableFloatingIP",
                    either(v, &["floating_ip_enabled", "enable_floating_ip"]),
                ),
            ];
            m.extend(frontend_id(lb, v, p).map(|f| ("frontendIPConfiguration", f)));
            match opt_ref(v, "backend_address_pool_id") {
                // A NAT rule for a pool: a port range, one frontend port per member.
                Some(pool) => {
                    m.push(("backendAddressPool", pool));
                    m.push(("frontendPortRangeStart", field(v, "frontend_port_start")));
                    m.push(("frontendPortRangeEnd", field(v, "frontend_port_end")));
                }
                None => {
                    m.push(("frontendPort", field(v, "frontend_port")));
                    m.extend(
                        opt_ref(v, "backend_ip_configuration_id")
                            .map(|x| ("backendIPConfiguration", x)),
                    );
                }
            }
            ("inboundNatRules", m)
        }
        "azurerm_lb_outbound_rule" => {
            let fes: Vec<Val> = blocks(v, "frontend_ip_configuration")
                .iter()
                .filter_map(|f| {
                    let n = text(f, "name")?;
                    Some(id_obj(format!("{lb}/frontendIPConfigurations/{n}"), p))
                })
                .collect();
            let mut m = vec![
                ("protocol", field(v, "protocol")),
                ("frontendIPConfigurations", Val::new(Json::Arr(fes), p)),
            ];
            m.extend(opt_ref(v, "backend_address_pool_id").map(|x| ("backendAddressPool", x)));
            ("outboundRules", m)
        }
        _ => return None,
    };
    m.retain(|(_, x)| !matches!(x.v, Json::Null));
    Some((key, sub(field(v, "name"), field(v, "id"), m, p)))
}

fn props_mut(r: &mut Resource) -> Option<&mut Vec<(String, Val)>> {
    let Json::Obj(members) = &mut r.body.v else {
        return None;
    };
    let (_, props) = members.iter_mut().find(|(k, _)| k == "properties")?;
    match &mut props.v {
        Json::Obj(m) => Some(m),
        _ => None,
    }
}

fn push(m: &mut Vec<(String, Val)>, key: &str, item: Val) {
    match m.iter_mut().find(|(k, _)| k == key) {
        Some((
            _,
            Val {
                v: Json::Arr(a), ..
            },
        )) => a.push(item),
        _ => m.push((
            key.to_string(),
            Val::new(Json::Arr(vec![item.clone()]), item.pos),
        )),
    }
}

fn find<'a>(out: &'a mut [Resource], id: &str) -> Option<&'a mut Resource> {
    out.iter_mut().find(|r| r.id.eq_ignore_ascii_case(id))
}

/// Folds one `azurerm_lb_*` part into its load balancer; `false` when that load balancer is
/// not in the state.
pub(crate) fn fold_lb_part(out: &mut [Resource], ty: &str, v: &Val) -> bool {
    if ty == "azurerm_lb_backend_address_pool_address" {
        return pool_address(out, v);
    }
    let Some(lb) = text(v, "loadbalancer_id") else {
        return false;
    };
    let Some((key, item)) = lb_part(ty, v, lb) else {
        return false;
    };
    let Some(r) = find(out, lb) else {
        return false;
    };
    match props_mut(r) {
        Some(m) => {
            push(m, key, item);
            true
        }
        None => false,
    }
}

/// `azurerm_lb_backend_address_pool_address`: an IP-address member of a pool.
fn pool_address(out: &mut [Resource], v: &Val) -> bool {
    let p = v.pos;
    let Some(pool) = text(v, "backend_address_pool_id") else {
        return false;
    };
    let Some(lb) = crate::ir::parent_id(pool).map(str::to_string) else {
        return false;
    };
    let mut props = vec![("ipAddress", field(v, "ip_address"))];
    props.extend(opt_ref(v, "virtual_network_id").map(|x| ("virtualNetwork", x)));
    let member = obj(
        vec![("name", field(v, "name")), ("properties", obj(props, p))],
        p,
    );
    let Some(m) = find(out, &lb).and_then(props_mut) else {
        return false;
    };
    let Some((
        _,
        Val {
            v: Json::Arr(pools),
            ..
        },
    )) = m.iter_mut().find(|(k, _)| k == "backendAddressPools")
    else {
        return false;
    };
    let Some(Val {
        v: Json::Obj(pm), ..
    }) = pools.iter_mut().find(|x| {
        x.key("id")
            .and_then(Val::as_str)
            .is_some_and(|i| i.eq_ignore_ascii_case(pool))
    })
    else {
        return false;
    };
    let Some((
        _,
        Val {
            v: Json::Obj(inner),
            ..
        },
    )) = pm.iter_mut().find(|(k, _)| k == "properties")
    else {
        return false;
    };
    push(inner, "loadBalancerBackendAddresses", member);
    true
}

/// NIC associations with a load balancer pool (onto the NIC's IP configuration), an
/// Application Gateway pool (onto the pool's `backendIPConfigurations`) or an inbound NAT rule
/// (its `backendIPConfiguration`); `false` when the target is not in the state.
pub(crate) fn fold_nic_association(out: &mut [Resource], ty: &str, v: &Val) -> bool {
    if ty == "azurerm_network_interface_nat_rule_association" {
        return nat_rule_association(out, v);
    }
    fold_nic_pool(out, ty, v)
}

/// `azurerm_network_interface_nat_rule_association`: the NAT rule's one backend.
fn nat_rule_association(out: &mut [Resource], v: &Val) -> bool {
    let p = v.pos;
    let (Some(nic), Some(cfg), Some(rule)) = (
        text(v, "network_interface_id"),
        text(v, "ip_configuration_name"),
        text(v, "nat_rule_id"),
    ) else {
        return false;
    };
    let Some(lb) = crate::ir::parent_id(rule).map(str::to_string) else {
        return false;
    };
    let Some(m) = find(out, &lb).and_then(props_mut) else {
        return false;
    };
    let Some((
        _,
        Val {
            v: Json::Arr(rules),
            ..
        },
    )) = m.iter_mut().find(|(k, _)| k == "inboundNatRules")
    else {
        return false;
    };
    let Some(Val {
        v: Json::Obj(rm), ..
    }) = rules.iter_mut().find(|x| {
        x.key("id")
            .and_then(Val::as_str)
            .is_some_and(|i| i.eq_ignore_ascii_case(rule))
    })
    else {
        return false;
    };
    let Some((
        _,
        Val {
            v: Json::Obj(inner),
            ..
        },
    )) = rm.iter_mut().find(|(k, _)| k == "properties")
    else {
        return false;
    };
    let cfg_id = id_obj(format!("{nic}/ipConfigurations/{cfg}"), p);
    inner.retain(|(k, _)| k != "backendIPConfiguration");
    inner.push(("backendIPConfiguration".to_string(), cfg_id));
    true
}

fn fold_nic_pool(out: &mut [Resource], ty: &str, v: &Val) -> bool {
    let p = v.pos;
    let (Some(nic), Some(cfg), Some(pool)) = (
        text(v, "network_interface_id"),
        text(v, "ip_configuration_name"),
        text(v, "backend_address_pool_id"),
    ) else {
        return false;
    };
    if ty == "azurerm_network_interface_application_gateway_backend_address_pool_association" {
        let Some(agw) = crate::ir::parent_id(pool).map(str::to_string) else {
            return false;
        };
        let cfg_id = id_obj(format!("{nic}/ipConfigurations/{cfg}"), p);
        return with_pool(out, &agw, pool, |inner| {
            push(inner, "backendIPConfigurations", cfg_id)
        });
    }
    let Some(m) = find(out, nic).and_then(props_mut) else {
        return false;
    };
    let Some((
        _,
        Val {
            v: Json::Arr(cfgs), ..
        },
    )) = m.iter_mut().find(|(k, _)| k == "ipConfigurations")
    else {
        return false;
    };
    let Some(Val {
        v: Json::Obj(cm), ..
    }) = cfgs
        .iter_mut()
        .find(|c| c.key("name").and_then(Val::as_str) == Some(cfg))
    else {
        return false;
    };
    let Some((
        _,
        Val {
            v: Json::Obj(inner),
            ..
        },
    )) = cm.iter_mut().find(|(k, _)| k == "properties")
    else {
        return false;
    };
    push(
        inner,
        "loadBalancerBackendAddressPools",
        id_obj(pool.to_string(), p),
    );
    true
}

/// Runs `f` on the `properties` of the pool `pool` of the resource `owner`.
fn with_pool(
    out: &mut [Resource],
    owner: &str,
    pool: &str,
    f: impl FnOnce(&mut Vec<(String, Val)>),
) -> bool {
    let Some(m) = find(out, owner).and_then(props_mut) else {
        return false;
    };
    let Some((
        _,
        Val {
            v: Json::Arr(pools),
            ..
        },
    )) = m.iter_mut().find(|(k, _)| k == "backendAddressPools")
    else {
        return false;
    };
    let Some(Val {
        v: Json::Obj(pm), ..
    }) = pools.iter_mut().find(|x| {
        x.key("id")
            .and_then(Val::as_str)
            .is_some_and(|i| i.eq_ignore_ascii_case(pool))
    })
    else {
        return false;
    };
    let Some((
        _,
        Val {
            v: Json::Obj(inner),
            ..
        },
    )) = pm.iter_mut().find(|(k, _)| k == "properties")
    else {
        return false;
    };
    f(inner);
    true
}

/// `properties` and `sku` of an `azurerm_application_gateway` (v2), every part inline.
pub(crate) fn app_gateway(v: &Val) -> (Val, Val) {
    let p = v.pos;
    let list = |items: Vec<Val>| Val::new(Json::Arr(items), p);
    let agw = text(v, "id").unwrap_or("").to_string();
    let part = |kind: &str, name: Option<&str>| -> Option<Val> {
        name.filter(|n| !n.is_empty())
            .map(|n| id_obj(format!("{agw}/{kind}/{n}"), p))
    };
    let gw_cfgs = blocks(v, "gateway_ip_configuration")
        .iter()
        .map(|g| {
            let mut m = Vec::new();
            m.extend(opt_ref(g, "subnet_id").map(|s| ("subnet", s)));
            sub(field(g, "name"), field(g, "id"), m, p)
        })
        .collect();
    let fes = blocks(v, "frontend_ip_configuration")
        .iter()
        .map(frontend)
        .collect();
    let ports = blocks(v, "frontend_port")
        .iter()
        .map(|x| {
            sub(
                field(x, "name"),
                field(x, "id"),
                vec![("port", field(x, "port"))],
                p,
            )
        })
        .collect();
    let pools = blocks(v, "backend_address_pool")
        .iter()
        .map(|x| {
            let mut addrs: Vec<Val> = blocks(x, "ip_addresses")
                .iter()
                .map(|a| obj(vec![("ipAddress", a.clone())], p))
                .collect();
            addrs.extend(
                blocks(x, "fqdns")
                    .iter()
                    .map(|a| obj(vec![("fqdn", a.clone())], p)),
            );
            let id = part("backendAddressPools", text(x, "name"))
                .and_then(|o| o.key("id").cloned())
                .unwrap_or_else(|| field(x, "id"));
            sub(
                field(x, "name"),
                id,
                vec![
                    ("backendAddresses", list(addrs)),
                    ("backendIPConfigurations", list(vec![])),
                ],
                p,
            )
        })
        .collect();
    let settings = blocks(v, "backend_http_settings")
        .iter()
        .map(|x| {
            sub(
                field(x, "name"),
                field(x, "id"),
                vec![
                    ("port", field(x, "port")),
                    ("protocol", field(x, "protocol")),
                ],
                p,
            )
        })
        .collect();
    let listeners = blocks(v, "http_listener")
        .iter()
        .map(|x| {
            let mut m = vec![("protocol", field(x, "protocol"))];
            m.extend(
                part(
                    "frontendIPConfigurations",
                    text(x, "frontend_ip_configuration_name"),
                )
                .map(|f| ("frontendIPConfiguration", f)),
            );
            m.extend(
                part("frontendPorts", text(x, "frontend_port_name")).map(|f| ("frontendPort", f)),
            );
            sub(field(x, "name"), field(x, "id"), m, p)
        })
        .collect();
    let rules = blocks(v, "request_routing_rule")
        .iter()
        .map(|x| {
            let mut m = vec![
                ("ruleType", field(x, "rule_type")),
                ("priority", field(x, "priority")),
            ];
            m.extend(
                part("httpListeners", text(x, "http_listener_name")).map(|f| ("httpListener", f)),
            );
            m.extend(
                part("backendAddressPools", text(x, "backend_address_pool_name"))
                    .map(|f| ("backendAddressPool", f)),
            );
            m.extend(
                part(
                    "backendHttpSettingsCollection",
                    text(x, "backend_http_settings_name"),
                )
                .map(|f| ("backendHttpSettings", f)),
            );
            m.retain(|(_, x)| !matches!(x.v, Json::Null));
            sub(field(x, "name"), field(x, "id"), m, p)
        })
        .collect();
    let mut members = vec![
        ("gatewayIPConfigurations", list(gw_cfgs)),
        ("frontendIPConfigurations", list(fes)),
        ("frontendPorts", list(ports)),
        ("backendAddressPools", list(pools)),
        ("backendHttpSettingsCollection", list(settings)),
        ("httpListeners", list(listeners)),
        ("requestRoutingRules", list(rules)),
    ];
    members.extend(opt_ref(v, "firewall_policy_id").map(|x| ("firewallPolicy", x)));
    if let Some(w) = blocks(v, "waf_configuration").first() {
        let waf = obj(
            vec![
                ("enabled", field(w, "enabled")),
                ("firewallMode", field(w, "firewall_mode")),
            ],
            p,
        );
        members.push(("webApplicationFirewallConfiguration", waf));
    }
    let props = obj(members, p);
    let sku = blocks(v, "sku").first();
    let sku = obj(
        vec![
            (
                "name",
                sku.map(|s| field(s, "name"))
                    .unwrap_or_else(|| Val::null(p)),
            ),
            (
                "tier",
                sku.map(|s| field(s, "tier"))
                    .unwrap_or_else(|| Val::null(p)),
            ),
        ],
        p,
    );
    (props, sku)
}
