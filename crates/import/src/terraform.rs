//! Terraform `terraform show -json` (state or plan) for the azurerm provider
//! (3.x and 4.x attribute names) and `azapi_resource`. Each azurerm resource
//! becomes a resource in the ARM shape (`properties` with REST names), so the
//! one mapper handles it; associations (`azurerm_subnet_*_association`,
//! `azurerm_network_interface_*_association`) are folded into the resource
//! they attach to. In a plan, values "known after apply" become deploy-time
//! values and are refused where they reach the topology.

use std::collections::HashMap;

use crate::ir::{last_segment, scope_of, Resource};
use crate::json::{Json, Pos, Val};
use crate::terraform_lb;

/// Whether a document is `terraform show -json` output.
pub fn is_terraform(v: &Val) -> bool {
    v.key("format_version").is_some()
        && (v.key("values").is_some()
            || v.key("planned_values").is_some()
            || v.key("terraform_version").is_some())
}

/// One resource of the state or plan.
struct Tf {
    address: String,
    ty: String,
    values: Val,
}

/// The resources of a state or plan, as ARM-shaped resources.
pub fn resources(doc: &Val, file: &str) -> Vec<Resource> {
    let root = doc
        .path(&["values", "root_module"])
        .or_else(|| doc.path(&["planned_values", "root_module"]));
    let unknown = after_unknown(doc);
    let mut all = Vec::new();
    if let Some(r) = root {
        walk(r, &unknown, &mut all, 0);
    }
    convert(&all, file)
}

/// `resource_changes[].change.after_unknown`, by address.
fn after_unknown(doc: &Val) -> HashMap<String, Val> {
    let mut m = HashMap::new();
    for rc in doc
        .key("resource_changes")
        .and_then(Val::as_arr)
        .unwrap_or(&[])
    {
        if let (Some(a), Some(u)) = (
            rc.key("address").and_then(Val::as_str),
            rc.path(&["change", "after_unknown"]),
        ) {
            m.insert(a.to_string(), u.clone());
        }
    }
    m
}

fn walk(module: &Val, unknown: &HashMap<String, Val>, out: &mut Vec<Tf>, depth: usize) {
    for r in module.key("resources").and_then(Val::as_arr).unwrap_or(&[]) {
        if r.key("mode").and_then(Val::as_str) == Some("data") {
            continue;
        }
        let address = r
            .key("address")
            .and_then(Val::as_str)
            .unwrap_or("")
            .to_string();
        let ty = r
            .key("type")
            .and_then(Val::as_str)
            .unwrap_or("")
            .to_string();
        let mut values = r
            .key("values")
            .cloned()
            .unwrap_or_else(|| Val::new(Json::Obj(vec![]), r.pos));
        if let Some(u) = unknown.get(&address) {
            mark_unknown(&mut values, u, &address);
        }
        out.push(Tf {
            address,
            ty,
            values,
        });
    }
    if depth < 32 {
        for c in module
            .key("child_modules")
            .and_then(Val::as_arr)
            .unwrap_or(&[])
        {
            walk(c, unknown, out, depth + 1);
        }
    }
}

/// Replaces attributes flagged `true` in `after_unknown` by deploy-time values.
fn mark_unknown(v: &mut Val, u: &Val, path: &str) {
    match (&mut v.v, &u.v) {
        (Json::Obj(members), Json::Obj(flags)) => {
            for (k, f) in flags {
                let p = format!("{path}.{k}");
                match members.iter_mut().find(|(n, _)| n == k) {
                    Some((_, x)) if f.as_bool() == Some(true) => *x = unknown_val(&p, x.pos),
                    Some((_, x)) => mark_unknown(x, f, &p),
                    None if f.as_bool() == Some(true) => {
                        members.push((k.clone(), unknown_val(&p, v_pos(u))))
                    }
                    None => {}
                }
            }
        }
        (Json::Arr(items), Json::Arr(flags)) => {
            for (i, (x, f)) in items.iter_mut().zip(flags).enumerate() {
                let p = format!("{path}[{i}]");
                if f.as_bool() == Some(true) {
                    *x = unknown_val(&p, x.pos);
                } else {
                    mark_unknown(x, f, &p);
                }
            }
        }
        _ => {}
    }
}

fn v_pos(v: &Val) -> Pos {
    v.pos
}

fn unknown_val(path: &str, pos: Pos) -> Val {
    Val::new(
        Json::Unknown(format!(
            "{path} is known only after apply (a plan); apply it and import the state"
        )),
        pos,
    )
}

fn s<'a>(v: &'a Val, k: &str) -> Option<&'a str> {
    v.key(k).and_then(Val::as_str)
}

fn arr<'a>(v: &'a Val, k: &str) -> &'a [Val] {
    v.key(k).and_then(Val::as_arr).unwrap_or(&[])
}

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

fn id_ref(v: Option<&Val>, pos: Pos) -> Option<Val> {
    let v = v?;
    match &v.v {
        Json::Str(x) if !x.is_empty() => Some(obj(vec![("id", v.clone())], pos)),
        Json::Unknown(_) => Some(obj(vec![("id", v.clone())], pos)),
        _ => None,
    }
}

fn str_list(v: &Val, keys: &[&str]) -> Val {
    let mut out = Vec::new();
    for k in keys {
        match v.key(k).map(|x| &x.v) {
            Some(Json::Arr(a)) => out.extend(a.iter().cloned()),
            Some(Json::Str(x)) if !x.is_empty() => out.push(v.key(k).cloned().unwrap()),
            Some(Json::Unknown(_)) => out.push(v.key(k).cloned().unwrap()),
            _ => {}
        }
    }
    Val::new(Json::Arr(out), v.pos)
}

fn boolean(b: bool, pos: Pos) -> Val {
    Val::new(Json::Bool(b), pos)
}

/// azurerm types and their ARM types.
const TYPES: &[(&str, &str)] = &[
    (
        "azurerm_network_manager",
        "Microsoft.Network/networkManagers",
    ),
    (
        "azurerm_network_manager_network_group",
        "Microsoft.Network/networkManagers/networkGroups",
    ),
    (
        "azurerm_network_manager_static_member",
        "Microsoft.Network/networkManagers/networkGroups/staticMembers",
    ),
    (
        "azurerm_network_manager_security_admin_configuration",
        "Microsoft.Network/networkManagers/securityAdminConfigurations",
    ),
    (
        "azurerm_network_manager_admin_rule_collection",
        "Microsoft.Network/networkManagers/securityAdminConfigurations/ruleCollections",
    ),
    (
        "azurerm_network_manager_admin_rule",
        "Microsoft.Network/networkManagers/securityAdminConfigurations/ruleCollections/rules",
    ),
    (
        "azurerm_network_manager_connectivity_configuration",
        "Microsoft.Network/networkManagers/connectivityConfigurations",
    ),
    (
        "azurerm_virtual_network",
        "Microsoft.Network/virtualNetworks",
    ),
    (
        "azurerm_subnet",
        "Microsoft.Network/virtualNetworks/subnets",
    ),
    (
        "azurerm_virtual_network_peering",
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
    ),
    (
        "azurerm_network_security_group",
        "Microsoft.Network/networkSecurityGroups",
    ),
    (
        "azurerm_network_security_rule",
        "Microsoft.Network/networkSecurityGroups/securityRules",
    ),
    ("azurerm_route_table", "Microsoft.Network/routeTables"),
    ("azurerm_route", "Microsoft.Network/routeTables/routes"),
    (
        "azurerm_application_security_group",
        "Microsoft.Network/applicationSecurityGroups",
    ),
    (
        "azurerm_network_interface",
        "Microsoft.Network/networkInterfaces",
    ),
    ("azurerm_firewall", "Microsoft.Network/azureFirewalls"),
    (
        "azurerm_firewall_policy",
        "Microsoft.Network/firewallPolicies",
    ),
    (
        "azurerm_firewall_policy_rule_collection_group",
        "Microsoft.Network/firewallPolicies/ruleCollectionGroups",
    ),
    ("azurerm_ip_group", "Microsoft.Network/ipGroups"),
    (
        "azurerm_private_endpoint",
        "Microsoft.Network/privateEndpoints",
    ),
    (
        "azurerm_virtual_network_gateway",
        "Microsoft.Network/virtualNetworkGateways",
    ),
    (
        "azurerm_virtual_network_gateway_nat_rule",
        "Microsoft.Network/virtualNetworkGateways/natRules",
    ),
    (
        "azurerm_local_network_gateway",
        "Microsoft.Network/localNetworkGateways",
    ),
    (
        "azurerm_virtual_network_gateway_connection",
        "Microsoft.Network/connections",
    ),
    ("azurerm_public_ip", "Microsoft.Network/publicIPAddresses"),
    (
        "azurerm_public_ip_prefix",
        "Microsoft.Network/publicIPPrefixes",
    ),
    ("azurerm_lb", "Microsoft.Network/loadBalancers"),
    // Parts of a load balancer not in the state (kept so that the report lists them).
    (
        "azurerm_lb_backend_address_pool",
        "Microsoft.Network/loadBalancers/backendAddressPools",
    ),
    (
        "azurerm_lb_backend_address_pool_address",
        "Microsoft.Network/loadBalancers/backendAddressPools/addresses",
    ),
    ("azurerm_lb_probe", "Microsoft.Network/loadBalancers/probes"),
    (
        "azurerm_lb_rule",
        "Microsoft.Network/loadBalancers/loadBalancingRules",
    ),
    (
        "azurerm_lb_nat_rule",
        "Microsoft.Network/loadBalancers/inboundNatRules",
    ),
    (
        "azurerm_lb_outbound_rule",
        "Microsoft.Network/loadBalancers/outboundRules",
    ),
    (
        "azurerm_network_interface_backend_address_pool_association",
        "Microsoft.Network/networkInterfaces/ipConfigurations/loadBalancerBackendAddressPools",
    ),
    (
        "azurerm_network_interface_application_gateway_backend_address_pool_association",
        "Microsoft.Network/networkInterfaces/ipConfigurations/applicationGatewayBackendAddressPools",
    ),
    ("azurerm_nat_gateway", "Microsoft.Network/natGateways"),
    ("azurerm_bastion_host", "Microsoft.Network/bastionHosts"),
    (
        "azurerm_application_gateway",
        "Microsoft.Network/applicationGateways",
    ),
    (
        "azurerm_web_application_firewall_policy",
        "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies",
    ),
    ("azurerm_virtual_hub", "Microsoft.Network/virtualHubs"),
    ("azurerm_route_server", "Microsoft.Network/virtualHubs"),
    (
        "azurerm_route_server_bgp_connection",
        "Microsoft.Network/virtualHubs/bgpConnections",
    ),
    ("azurerm_virtual_wan", "Microsoft.Network/virtualWans"),
    (
        "azurerm_virtual_hub_connection",
        "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections",
    ),
    (
        "azurerm_express_route_circuit",
        "Microsoft.Network/expressRouteCircuits",
    ),
    (
        "azurerm_express_route_circuit_peering",
        "Microsoft.Network/expressRouteCircuits/peerings",
    ),
    (
        "azurerm_private_dns_zone",
        "Microsoft.Network/privateDnsZones",
    ),
    (
        "azurerm_resource_group",
        "Microsoft.Resources/resourceGroups",
    ),
    (
        "azurerm_linux_virtual_machine",
        "Microsoft.Compute/virtualMachines",
    ),
    (
        "azurerm_windows_virtual_machine",
        "Microsoft.Compute/virtualMachines",
    ),
    (
        "azurerm_storage_account",
        "Microsoft.Storage/storageAccounts",
    ),
    ("azurerm_key_vault", "Microsoft.KeyVault/vaults"),
    (
        "azurerm_log_analytics_workspace",
        "Microsoft.OperationalInsights/workspaces",
    ),
];

/// Association resources that add a NIC to a load balancer or Application Gateway pool.
const POOL_ASSOCIATIONS: &[&str] = &[
    "azurerm_network_interface_backend_address_pool_association",
    "azurerm_network_interface_application_gateway_backend_address_pool_association",
    "azurerm_network_interface_nat_rule_association",
];

fn convert(all: &[Tf], file: &str) -> Vec<Resource> {
    let mut out: Vec<Resource> = Vec::new();
    let mut assoc: Vec<&Tf> = Vec::new();
    let mut classic: Vec<&Tf> = Vec::new();
    let mut lb_parts: Vec<&Tf> = Vec::new();
    let mut pool_assoc: Vec<&Tf> = Vec::new();
    for r in all {
        if terraform_lb::LB_PARTS.contains(&r.ty.as_str()) {
            lb_parts.push(r);
            continue;
        }
        if POOL_ASSOCIATIONS.contains(&r.ty.as_str()) {
            pool_assoc.push(r);
            continue;
        }
        if r.ty.ends_with("_association") {
            assoc.push(r);
            continue;
        }
        if r.ty.starts_with("azurerm_firewall_") && r.ty.ends_with("_rule_collection") {
            classic.push(r);
            continue;
        }
        if let Some(res) = one(r, file) {
            out.push(res);
        }
    }
    // Pools before their IP-address members; an orphan (its parent is not in the state) is
    // kept as a resource of its own, so the report lists it.
    lb_parts.sort_by_key(|r| r.ty == "azurerm_lb_backend_address_pool_address");
    let mut orphans = Vec::new();
    for r in lb_parts {
        if !terraform_lb::fold_lb_part(&mut out, &r.ty, &r.values) {
            orphans.extend(one(r, file));
        }
    }
    for r in pool_assoc {
        if !terraform_lb::fold_nic_association(&mut out, &r.ty, &r.values) {
            orphans.extend(one(r, file));
        }
    }
    out.extend(orphans);
    let mut orphans = Vec::new();
    for a in assoc {
        if !associate(&mut out, a) {
            orphans.extend(one(a, file));
        }
    }
    out.extend(orphans);
    for c in classic {
        classic_collection(&mut out, c);
    }
    out
}

/// `azurerm_firewall_{network,application,nat}_rule_collection`: onto the firewall, in the ARM shape.
fn classic_collection(out: &mut [Resource], c: &Tf) {
    let v = &c.values;
    let p = v.pos;
    let (Some(fw), Some(rg)) = (s(v, "azure_firewall_name"), s(v, "resource_group_name")) else {
        return;
    };
    let Some(r) = out.iter_mut().find(|r| {
        r.type_name == "Microsoft.Network/azureFirewalls"
            && r.name.eq_ignore_ascii_case(fw)
            && r.resource_group
                .as_deref()
                .is_some_and(|g| g.eq_ignore_ascii_case(rg))
    }) else {
        return;
    };
    let (key, kind) = match c.ty.as_str() {
        "azurerm_firewall_network_rule_collection" => ("networkRuleCollections", "network"),
        "azurerm_firewall_application_rule_collection" => {
            ("applicationRuleCollections", "application")
        }
        _ => ("natRuleCollections", "nat"),
    };
    let rules: Vec<Val> = arr(v, "rule")
        .iter()
        .map(|x| classic_rule(x, kind))
        .collect();
    let coll = obj(
        vec![
            (
                "name",
                v.key("name").cloned().unwrap_or_else(|| Val::null(p)),
            ),
            (
                "properties",
                obj(
                    vec![
                        (
                            "priority",
                            v.key("priority").cloned().unwrap_or_else(|| Val::null(p)),
                        ),
                        (
                            "action",
                            obj(
                                vec![(
                                    "type",
                                    v.key("action")
                                        .cloned()
                                        .unwrap_or_else(|| Val::str("Allow", p)),
                                )],
                                p,
                            ),
                        ),
                        ("rules", Val::new(Json::Arr(rules), p)),
                    ],
                    p,
                ),
            ),
        ],
        p,
    );
    let Json::Obj(members) = &mut r.body.v else {
        return;
    };
    let Some((_, props)) = members.iter_mut().find(|(k, _)| k == "properties") else {
        return;
    };
    if let Json::Obj(pm) = &mut props.v {
        push_to_array(pm, key, coll);
    }
}

fn classic_rule(x: &Val, kind: &str) -> Val {
    let p = x.pos;
    let mut m = vec![
        (
            "name",
            x.key("name").cloned().unwrap_or_else(|| Val::null(p)),
        ),
        ("sourceAddresses", str_list(x, &["source_addresses"])),
        ("sourceIpGroups", str_list(x, &["source_ip_groups"])),
    ];
    match kind {
        "application" => {
            let protos: Vec<Val> = arr(x, "protocol")
                .iter()
                .map(|q| {
                    obj(
                        vec![
                            (
                                "protocolType",
                                q.key("type").cloned().unwrap_or_else(|| Val::null(p)),
                            ),
                            (
                                "port",
                                q.key("port").cloned().unwrap_or_else(|| Val::null(p)),
                            ),
                        ],
                        p,
                    )
                })
                .collect();
            m.push(("protocols", Val::new(Json::Arr(protos), p)));
            m.push(("targetFqdns", str_list(x, &["target_fqdns"])));
            m.push(("fqdnTags", str_list(x, &["fqdn_tags"])));
        }
        _ => {
            m.push(("protocols", str_list(x, &["protocols"])));
            m.push((
                "destinationAddresses",
                str_list(x, &["destination_addresses"]),
            ));
            m.push((
                "destinationIpGroups",
                str_list(x, &["destination_ip_groups"]),
            ));
            m.push(("destinationFqdns", str_list(x, &["destination_fqdns"])));
            m.push(("destinationPorts", str_list(x, &["destination_ports"])));
            if kind == "nat" {
                m.push((
                    "translatedAddress",
                    x.key("translated_address")
                        .cloned()
                        .unwrap_or_else(|| Val::null(p)),
                ));
                m.push((
                    "translatedPort",
                    x.key("translated_port")
                        .cloned()
                        .unwrap_or_else(|| Val::null(p)),
                ));
            }
        }
    }
    obj(m, p)
}

/// Folds an association resource into the subnet, NIC or NAT gateway it attaches to; `false`
/// when the association is unknown or its target is not in the state.
fn associate(out: &mut [Resource], a: &Tf) -> bool {
    let v = &a.values;
    let (target, key, value) = match a.ty.as_str() {
        "azurerm_subnet_network_security_group_association" => (
            "subnet_id",
            "networkSecurityGroup",
            "network_security_group_id",
        ),
        "azurerm_subnet_route_table_association" => ("subnet_id", "routeTable", "route_table_id"),
        "azurerm_subnet_nat_gateway_association" => ("subnet_id", "natGateway", "nat_gateway_id"),
        "azurerm_nat_gateway_public_ip_association" => (
            "nat_gateway_id",
            "publicIpAddresses",
            "public_ip_address_id",
        ),
        "azurerm_nat_gateway_public_ip_prefix_association" => {
            ("nat_gateway_id", "publicIpPrefixes", "public_ip_prefix_id")
        }
        "azurerm_network_interface_security_group_association" => (
            "network_interface_id",
            "networkSecurityGroup",
            "network_security_group_id",
        ),
        "azurerm_network_interface_application_security_group_association" => (
            "network_interface_id",
            "applicationSecurityGroups",
            "application_security_group_id",
        ),
        _ => return false,
    };
    let (Some(tid), Some(val)) = (s(v, target), v.key(value)) else {
        return false;
    };
    let reference = obj(vec![("id", val.clone())], v.pos);
    let Some(props) = target_properties(out, tid) else {
        return false;
    };
    if key == "applicationSecurityGroups" {
        // On the NIC's primary IP configuration.
        if let Some(Json::Arr(cfgs)) = props.key("ipConfigurations").map(|c| c.v.clone()) {
            let mut cfgs = cfgs;
            if let Some(Json::Obj(cm)) = cfgs.first_mut().map(|c| &mut c.v) {
                if let Some((
                    _,
                    Val {
                        v: Json::Obj(pm), ..
                    },
                )) = cm.iter_mut().find(|(k, _)| k == "properties")
                {
                    push_to_array(pm, key, reference);
                }
            }
            set(props, "ipConfigurations", Val::new(Json::Arr(cfgs), v.pos));
        }
        return true;
    }
    if key.starts_with("publicIp") {
        if let Json::Obj(pm) = &mut props.v {
            push_to_array(pm, key, reference);
        }
        return true;
    }
    set(props, key, reference);
    true
}

/// The `properties` of the resource `id`, or of a subnet declared inline in its VNet.
fn target_properties<'a>(out: &'a mut [Resource], id: &str) -> Option<&'a mut Val> {
    let inline = !out.iter().any(|r| r.id.eq_ignore_ascii_case(id));
    let owner = if inline {
        crate::ir::parent_id(id)?
    } else {
        id
    };
    let r = out.iter_mut().find(|r| r.id.eq_ignore_ascii_case(owner))?;
    let Json::Obj(members) = &mut r.body.v else {
        return None;
    };
    let (_, props) = members.iter_mut().find(|(k, _)| k == "properties")?;
    if !inline {
        return Some(props);
    }
    let Json::Obj(pm) = &mut props.v else {
        return None;
    };
    let (
        _,
        Val {
            v: Json::Arr(subnets),
            ..
        },
    ) = pm.iter_mut().find(|(k, _)| k == "subnets")?
    else {
        return None;
    };
    let sn = subnets.iter_mut().find(|x| {
        x.key("id")
            .and_then(Val::as_str)
            .is_some_and(|i| i.eq_ignore_ascii_case(id))
    })?;
    let Json::Obj(sm) = &mut sn.v else {
        return None;
    };
    sm.iter_mut()
        .find(|(k, _)| k == "properties")
        .map(|(_, p)| p)
}

fn push_to_array(m: &mut Vec<(String, Val)>, key: &str, item: Val) {
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

fn set(props: &mut Val, key: &str, value: Val) {
    if let Json::Obj(m) = &mut props.v {
        match m.iter_mut().find(|(k, _)| k == key) {
            Some((_, x)) => *x = value,
            None => m.push((key.to_string(), value)),
        }
    }
}

fn one(r: &Tf, file: &str) -> Option<Resource> {
    let v = &r.values;
    let pos = v.pos;
    if r.ty == "azapi_resource" {
        return azapi(r, file);
    }
    let arm_type = TYPES
        .iter()
        .find(|(t, _)| *t == r.ty)
        .map(|(_, a)| a.to_string())
        .unwrap_or_else(|| format!("Terraform/{}", r.ty));
    let name = s(v, "name").unwrap_or(&r.address).to_string();
    let (props, sku) = match r.ty.as_str() {
        "azurerm_lb" => terraform_lb::lb(v),
        "azurerm_application_gateway" => terraform_lb::app_gateway(v),
        _ => (
            properties(&r.ty, v).unwrap_or_else(|| obj(vec![], pos)),
            Val::null(pos),
        ),
    };
    let id = match s(v, "id") {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("/terraform/{}", r.address),
    };
    let (sub, rg) = scope_of(&id);
    let body = obj(
        vec![
            ("id", Val::str(id.clone(), pos)),
            ("name", Val::str(name.clone(), pos)),
            ("type", Val::str(arm_type.clone(), pos)),
            ("properties", props),
            ("sku", sku),
            (
                "tags",
                v.key("tags").cloned().unwrap_or_else(|| Val::null(pos)),
            ),
        ],
        pos,
    );
    Some(Resource {
        id,
        type_name: arm_type,
        name: last_segment(&name).to_string(),
        subscription: sub,
        resource_group: rg.or_else(|| s(v, "resource_group_name").map(str::to_string)),
        tenant: None,
        source: source_of(&body, file, &r.address),
        body,
        pos,
    })
}

/// The ARM id when the state knows it, else the file and the resource address.
fn source_of(body: &Val, file: &str, address: &str) -> String {
    match body.key("id").and_then(Val::as_str) {
        Some(id) if id.starts_with("/subscriptions/") => id.to_string(),
        _ => format!("{file}: {address}"),
    }
}

/// `azapi_resource`: the body is already in the ARM shape.
fn azapi(r: &Tf, file: &str) -> Option<Resource> {
    let v = &r.values;
    let ty = s(v, "type")?.split('@').next()?.to_string();
    let name = s(v, "name")?.to_string();
    let body = match v.key("body") {
        Some(Val {
            v: Json::Str(t), ..
        }) => crate::json::parse(t, v.pos.file).ok()?,
        Some(b) => b.clone(),
        None => obj(vec![], v.pos),
    };
    let id = s(v, "id")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}/providers/{ty}/{name}", s(v, "parent_id").unwrap_or("")));
    let (sub, rg) = scope_of(&id);
    let props = body
        .key("properties")
        .cloned()
        .unwrap_or_else(|| obj(vec![], v.pos));
    let full = obj(
        vec![
            ("id", Val::str(id.clone(), v.pos)),
            ("name", Val::str(name.clone(), v.pos)),
            ("type", Val::str(ty.clone(), v.pos)),
            ("properties", props),
            (
                "tags",
                body.key("tags")
                    .cloned()
                    .unwrap_or_else(|| Val::null(v.pos)),
            ),
        ],
        v.pos,
    );
    Some(Resource {
        id,
        type_name: ty,
        name,
        subscription: sub,
        resource_group: rg,
        tenant: None,
        source: source_of(&full, file, &r.address),
        body: full,
        pos: v.pos,
    })
}

/// REST-shaped `properties` of the azurerm network manager resources (state: their ids carry
/// the parent chain the mapper follows).
fn network_manager_props(ty: &str, v: &Val) -> Val {
    let p = v.pos;
    let o = |m: Vec<(&str, Val)>| obj(m, p);
    let groups = |list: Vec<Val>| Val::new(Json::Arr(list), p);
    let side = |k: &str| -> Val {
        groups(
            arr(v, k)
                .iter()
                .map(|x| {
                    o(vec![
                        (
                            "addressPrefix",
                            x.key("address_prefix")
                                .cloned()
                                .unwrap_or_else(|| Val::null(p)),
                        ),
                        (
                            "addressPrefixType",
                            x.key("address_prefix_type")
                                .cloned()
                                .unwrap_or_else(|| Val::null(p)),
                        ),
                    ])
                })
                .collect(),
        )
    };
    match ty {
        "azurerm_network_manager_static_member" => o(vec![(
            "resourceId",
            v.key("target_virtual_network_id")
                .cloned()
                .unwrap_or_else(|| Val::null(p)),
        )]),
        "azurerm_network_manager_admin_rule_collection" => o(vec![(
            "appliesToGroups",
            groups(
                str_list(v, &["network_group_ids"])
                    .as_arr()
                    .unwrap_or(&[])
                    .iter()
                    .map(|g| o(vec![("networkGroupId", g.clone())]))
                    .collect(),
            ),
        )]),
        "azurerm_network_manager_admin_rule" => {
            let field = |k: &str| v.key(k).cloned().unwrap_or_else(|| Val::null(p));
            o(vec![
                ("priority", field("priority")),
                ("direction", field("direction")),
                ("access", field("action")),
                ("protocol", field("protocol")),
                ("sources", side("source")),
                ("destinations", side("destination")),
                ("sourcePortRanges", str_list(v, &["source_port_ranges"])),
                (
                    "destinationPortRanges",
                    str_list(v, &["destination_port_ranges"]),
                ),
            ])
        }
        "azurerm_network_manager_connectivity_configuration" => {
            let hubs: Vec<Val> = arr(v, "hub")
                .iter()
                .map(|h| {
                    o(vec![(
                        "resourceId",
                        h.key("resource_id")
                            .cloned()
                            .unwrap_or_else(|| Val::null(p)),
                    )])
                })
                .collect();
            let applies: Vec<Val> = arr(v, "applies_to_group")
                .iter()
                .map(|g| {
                    let f = |k: &str| g.key(k).cloned().unwrap_or_else(|| Val::null(p));
                    o(vec![
                        ("networkGroupId", f("network_group_id")),
                        ("groupConnectivity", f("group_connectivity")),
                        ("useHubGateway", f("use_hub_gateway")),
                    ])
                })
                .collect();
            o(vec![
                (
                    "connectivityTopology",
                    v.key("connectivity_topology")
                        .cloned()
                        .unwrap_or_else(|| Val::null(p)),
                ),
                ("hubs", groups(hubs)),
                ("appliesToGroups", groups(applies)),
            ])
        }
        _ => o(vec![]),
    }
}

/// REST-shaped `properties` for an azurerm resource.
fn properties(ty: &str, v: &Val) -> Option<Val> {
    let p = v.pos;
    let o = |m: Vec<(&str, Val)>| obj(m, p);
    Some(match ty {
        "azurerm_virtual_network" => {
            let subnets: Vec<Val> = arr(v, "subnet")
                .iter()
                .map(|sb| {
                    o(vec![
                        (
                            "name",
                            sb.key("name").cloned().unwrap_or_else(|| Val::null(p)),
                        ),
                        ("id", sb.key("id").cloned().unwrap_or_else(|| Val::null(p))),
                        ("properties", subnet_props(sb)),
                    ])
                })
                .collect();
            o(vec![
                (
                    "addressSpace",
                    o(vec![("addressPrefixes", str_list(v, &["address_space"]))]),
                ),
                ("subnets", Val::new(Json::Arr(subnets), p)),
            ])
        }
        "azurerm_subnet" => subnet_props(v),
        t if t.starts_with("azurerm_network_manager") => network_manager_props(t, v),
        "azurerm_virtual_hub_connection" => o(vec![(
            "remoteVirtualNetwork",
            id_ref(v.key("remote_virtual_network_id"), p)?,
        )]),
        "azurerm_virtual_network_peering" => o(vec![
            (
                "remoteVirtualNetwork",
                id_ref(v.key("remote_virtual_network_id"), p)?,
            ),
            (
                "allowVirtualNetworkAccess",
                v.key("allow_virtual_network_access")
                    .cloned()
                    .unwrap_or_else(|| boolean(true, p)),
            ),
            (
                "allowForwardedTraffic",
                v.key("allow_forwarded_traffic")
                    .cloned()
                    .unwrap_or_else(|| boolean(false, p)),
            ),
            (
                "allowGatewayTransit",
                v.key("allow_gateway_transit")
                    .cloned()
                    .unwrap_or_else(|| boolean(false, p)),
            ),
            (
                "useRemoteGateways",
                v.key("use_remote_gateways")
                    .cloned()
                    .unwrap_or_else(|| boolean(false, p)),
            ),
        ]),
        "azurerm_network_security_group" => o(vec![(
            "securityRules",
            Val::new(
                Json::Arr(arr(v, "security_rule").iter().map(security_rule).collect()),
                p,
            ),
        )]),
        "azurerm_network_security_rule" => security_rule(v).key("properties").cloned()?,
        "azurerm_route_table" => {
            let disable = match (
                v.key("bgp_route_propagation_enabled")
                    .and_then(Val::as_bool),
                v.key("disable_bgp_route_propagation")
                    .and_then(Val::as_bool),
            ) {
                (Some(enabled), _) => !enabled,
                (None, Some(d)) => d,
                _ => false,
            };
            o(vec![
                ("disableBgpRoutePropagation", boolean(disable, p)),
                (
                    "routes",
                    Val::new(
                        Json::Arr(
                            arr(v, "route")
                                .iter()
                                .map(|r| {
                                    o(vec![
                                        ("name", r.key("name").cloned()?),
                                        ("properties", route_props(r)),
                                    ])
                                    .into()
                                })
                                .collect::<Option<Vec<_>>>()?,
                        ),
                        p,
                    ),
                ),
            ])
        }
        "azurerm_route" => route_props(v),
        "azurerm_network_interface" => {
            let fwd = v
                .key("ip_forwarding_enabled")
                .or_else(|| v.key("enable_ip_forwarding"))
                .cloned()
                .unwrap_or_else(|| boolean(false, p));
            let cfgs: Vec<Val> = arr(v, "ip_configuration").iter().map(ip_config).collect();
            let mut m = vec![
                ("enableIPForwarding", fwd),
                ("ipConfigurations", Val::new(Json::Arr(cfgs), p)),
            ];
            // The state's `mac_address` (an attribute Azure computes): what flow logs name the
            // NIC by, as the az export's `macAddress`.
            if let Some(mac) = v.key("mac_address").filter(|x| x.as_str().is_some()) {
                m.push(("macAddress", mac.clone()));
            }
            o(m)
        }
        "azurerm_firewall" => {
            let cfgs: Vec<Val> = arr(v, "ip_configuration").iter().map(ip_config).collect();
            let mut m = vec![("ipConfigurations", Val::new(Json::Arr(cfgs), p))];
            if let Some(fp) = id_ref(v.key("firewall_policy_id"), p) {
                m.push(("firewallPolicy", fp));
            }
            if let Some(vh) = v
                .key("virtual_hub")
                .and_then(Val::as_arr)
                .filter(|a| !a.is_empty())
            {
                m.push(("virtualHub", vh[0].clone()));
            }
            o(m)
        }
        "azurerm_firewall_policy" => {
            let mut m = vec![];
            if let Some(b) = id_ref(v.key("base_policy_id"), p) {
                m.push(("basePolicy", b));
            }
            if let Some(r) = v
                .key("private_ip_ranges")
                .filter(|x| x.as_arr().is_some_and(|a| !a.is_empty()))
            {
                m.push(("snat", o(vec![("privateRanges", r.clone())])));
            }
            o(m)
        }
        "azurerm_firewall_policy_rule_collection_group" => rule_collection_group(v),
        "azurerm_ip_group" => o(vec![("ipAddresses", str_list(v, &["cidrs"]))]),
        "azurerm_private_endpoint" => private_endpoint(v),
        "azurerm_virtual_network_gateway" => {
            let bgp = v
                .key("bgp_enabled")
                .or_else(|| v.key("enable_bgp"))
                .cloned()
                .unwrap_or_else(|| boolean(false, p));
            let asn = arr(v, "bgp_settings")
                .first()
                .and_then(|b| b.key("asn"))
                .cloned()
                .unwrap_or_else(|| Val::null(p));
            let cfgs: Vec<Val> = arr(v, "ip_configuration").iter().map(ip_config).collect();
            o(vec![
                (
                    "gatewayType",
                    v.key("type").cloned().unwrap_or_else(|| Val::str("Vpn", p)),
                ),
                ("enableBgp", bgp),
                (
                    "activeActive",
                    v.key("active_active")
                        .cloned()
                        .unwrap_or_else(|| boolean(false, p)),
                ),
                ("bgpSettings", o(vec![("asn", asn)])),
                ("ipConfigurations", Val::new(Json::Arr(cfgs), p)),
            ])
        }
        // A Route Server: a virtual hub without a virtual WAN, in its subnet.
        "azurerm_route_server" => o(vec![
            (
                "ipConfigurations",
                Val::new(
                    Json::Arr(vec![o(vec![(
                        "subnet",
                        id_ref(v.key("subnet_id"), p).unwrap_or_else(|| Val::null(p)),
                    )])]),
                    p,
                ),
            ),
            (
                "allowBranchToBranchTraffic",
                v.key("branch_to_branch_traffic_enabled")
                    .cloned()
                    .unwrap_or_else(|| boolean(false, p)),
            ),
            ("virtualRouterIps", str_list(v, &["virtual_router_ips"])),
            (
                "virtualRouterAsn",
                v.key("virtual_router_asn")
                    .cloned()
                    .unwrap_or_else(|| Val::null(p)),
            ),
        ]),
        "azurerm_route_server_bgp_connection" => o(vec![
            (
                "routeServerId",
                v.key("route_server_id")
                    .cloned()
                    .unwrap_or_else(|| Val::null(p)),
            ),
            (
                "peerIp",
                v.key("peer_ip").cloned().unwrap_or_else(|| Val::null(p)),
            ),
            (
                "peerAsn",
                v.key("peer_asn").cloned().unwrap_or_else(|| Val::null(p)),
            ),
        ]),
        "azurerm_local_network_gateway" => {
            let b = arr(v, "bgp_settings").first();
            let bgp = b.map(|b| {
                o(vec![
                    ("asn", b.key("asn").cloned().unwrap_or_else(|| Val::null(p))),
                    (
                        "bgpPeeringAddress",
                        b.key("bgp_peering_address")
                            .cloned()
                            .unwrap_or_else(|| Val::null(p)),
                    ),
                ])
            });
            let mut m = vec![(
                "localNetworkAddressSpace",
                o(vec![("addressPrefixes", str_list(v, &["address_space"]))]),
            )];
            if let Some(b) = bgp {
                m.push(("bgpSettings", b));
            }
            o(m)
        }
        "azurerm_virtual_network_gateway_connection" => {
            let mut m = vec![
                (
                    "connectionType",
                    v.key("type")
                        .cloned()
                        .unwrap_or_else(|| Val::str("IPsec", p)),
                ),
                (
                    "enableBgp",
                    v.key("bgp_enabled")
                        .or_else(|| v.key("enable_bgp"))
                        .cloned()
                        .unwrap_or_else(|| boolean(false, p)),
                ),
            ];
            if let Some(g) = id_ref(v.key("virtual_network_gateway_id"), p) {
                m.push(("virtualNetworkGateway1", g));
            }
            if let Some(l) = id_ref(v.key("local_network_gateway_id"), p) {
                m.push(("localNetworkGateway2", l));
            }
            if let Some(k) = id_ref(v.key("express_route_circuit_id"), p) {
                m.push(("peer", k));
            }
            for (tf, arm) in [
                ("ingress_nat_rule_ids", "ingressNatRules"),
                ("egress_nat_rule_ids", "egressNatRules"),
            ] {
                let ids = arr(v, tf).iter().filter_map(|x| id_ref(Some(x), p));
                m.push((arm, Val::new(Json::Arr(ids.collect()), p)));
            }
            o(m)
        }
        "azurerm_virtual_network_gateway_nat_rule" => nat_rule(v),
        "azurerm_express_route_circuit_peering" => {
            let field = |k: &str| v.key(k).cloned().unwrap_or_else(|| Val::null(p));
            o(vec![
                ("peeringType", field("peering_type")),
                ("peerASN", field("peer_asn")),
                ("circuitName", field("express_route_circuit_name")),
            ])
        }
        "azurerm_public_ip" => o(vec![(
            "ipAddress",
            v.key("ip_address").cloned().unwrap_or_else(|| Val::null(p)),
        )]),
        "azurerm_public_ip_prefix" => o(vec![(
            "ipPrefix",
            v.key("ip_prefix").cloned().unwrap_or_else(|| Val::null(p)),
        )]),
        // Its public IPs and prefixes come from the association resources.
        "azurerm_web_application_firewall_policy" => {
            let ps = arr(v, "policy_settings").first().cloned();
            let enabled = ps
                .as_ref()
                .and_then(|x| x.key("enabled"))
                .and_then(Val::as_bool)
                .unwrap_or(true);
            let mode = ps
                .as_ref()
                .and_then(|x| x.key("mode"))
                .cloned()
                .unwrap_or_else(|| Val::str("Prevention".to_string(), p));
            let state = if enabled { "Enabled" } else { "Disabled" };
            o(vec![(
                "policySettings",
                o(vec![
                    ("state", Val::str(state.to_string(), p)),
                    ("mode", mode),
                ]),
            )])
        }
        "azurerm_nat_gateway" => o(vec![
            ("publicIpAddresses", Val::new(Json::Arr(vec![]), p)),
            ("publicIpPrefixes", Val::new(Json::Arr(vec![]), p)),
        ]),
        "azurerm_storage_account" | "azurerm_key_vault" => {
            let pna = v
                .key("public_network_access_enabled")
                .and_then(Val::as_bool)
                .unwrap_or(true);
            o(vec![(
                "publicNetworkAccess",
                Val::str(if pna { "Enabled" } else { "Disabled" }, p),
            )])
        }
        _ => return None,
    })
}

/// A VPN gateway NAT rule: `mode`, `type`, its `internal_mapping` and `external_mapping`
/// blocks (`address_space`, `port_range`) and its gateway.
fn nat_rule(v: &Val) -> Val {
    let p = v.pos;
    let field = |k: &str| v.key(k).cloned().unwrap_or_else(|| Val::null(p));
    let mapping = |k: &str| {
        let items = arr(v, k).iter().map(|m| {
            obj(
                vec![
                    (
                        "addressSpace",
                        m.key("address_space")
                            .cloned()
                            .unwrap_or_else(|| Val::null(p)),
                    ),
                    (
                        "portRange",
                        m.key("port_range").cloned().unwrap_or_else(|| Val::null(p)),
                    ),
                ],
                p,
            )
        });
        Val::new(Json::Arr(items.collect()), p)
    };
    obj(
        vec![
            ("mode", field("mode")),
            ("type", field("type")),
            ("internalMappings", mapping("internal_mapping")),
            ("externalMappings", mapping("external_mapping")),
            (
                "virtualNetworkGatewayId",
                field("virtual_network_gateway_id"),
            ),
        ],
        p,
    )
}

fn subnet_props(v: &Val) -> Val {
    let p = v.pos;
    let mut m: Vec<(&str, Val)> = vec![(
        "addressPrefixes",
        str_list(v, &["address_prefixes", "address_prefix"]),
    )];
    // 4.x: a string enum; 3.x: a boolean, true meaning Enabled.
    let pol = match v.key("private_endpoint_network_policies") {
        Some(x) if x.as_str().is_some() => Some(x.clone()),
        _ => v
            .key("private_endpoint_network_policies_enabled")
            .and_then(Val::as_bool)
            .map(|b| Val::str(if b { "Enabled" } else { "Disabled" }, p)),
    };
    if let Some(pol) = pol {
        m.push(("privateEndpointNetworkPolicies", pol));
    }
    if let Some(n) = id_ref(v.key("security_group"), p) {
        m.push(("networkSecurityGroup", n));
    }
    let eps = str_list(v, &["service_endpoints"]);
    if eps.as_arr().is_some_and(|a| !a.is_empty()) {
        let list: Vec<Val> = eps
            .as_arr()
            .unwrap_or(&[])
            .iter()
            .map(|e| obj(vec![("service", e.clone())], p))
            .collect();
        m.push(("serviceEndpoints", Val::new(Json::Arr(list), p)));
    }
    obj(m, p)
}

fn route_props(r: &Val) -> Val {
    let p = r.pos;
    let mut m = vec![
        (
            "addressPrefix",
            r.key("address_prefix")
                .cloned()
                .unwrap_or_else(|| Val::null(p)),
        ),
        (
            "nextHopType",
            r.key("next_hop_type")
                .cloned()
                .unwrap_or_else(|| Val::null(p)),
        ),
    ];
    if let Some(ip) = r
        .key("next_hop_in_ip_address")
        .filter(|x| x.as_str() != Some(""))
    {
        m.push(("nextHopIpAddress", ip.clone()));
    }
    obj(m, p)
}

fn security_rule(r: &Val) -> Val {
    let p = r.pos;
    let ids = |k: &str| {
        Val::new(
            Json::Arr(
                arr(r, k)
                    .iter()
                    .map(|i| obj(vec![("id", i.clone())], p))
                    .collect(),
            ),
            p,
        )
    };
    let props = obj(
        vec![
            (
                "priority",
                r.key("priority").cloned().unwrap_or_else(|| Val::null(p)),
            ),
            (
                "direction",
                r.key("direction").cloned().unwrap_or_else(|| Val::null(p)),
            ),
            (
                "access",
                r.key("access").cloned().unwrap_or_else(|| Val::null(p)),
            ),
            (
                "protocol",
                r.key("protocol").cloned().unwrap_or_else(|| Val::null(p)),
            ),
            (
                "sourceAddressPrefixes",
                str_list(r, &["source_address_prefix", "source_address_prefixes"]),
            ),
            (
                "destinationAddressPrefixes",
                str_list(
                    r,
                    &["destination_address_prefix", "destination_address_prefixes"],
                ),
            ),
            (
                "sourcePortRanges",
                str_list(r, &["source_port_range", "source_port_ranges"]),
            ),
            (
                "destinationPortRanges",
                str_list(r, &["destination_port_range", "destination_port_ranges"]),
            ),
            (
                "sourceApplicationSecurityGroups",
                ids("source_application_security_group_ids"),
            ),
            (
                "destinationApplicationSecurityGroups",
                ids("destination_application_security_group_ids"),
            ),
        ],
        p,
    );
    obj(
        vec![
            (
                "name",
                r.key("name").cloned().unwrap_or_else(|| Val::null(p)),
            ),
            ("properties", props),
        ],
        p,
    )
}

fn ip_config(c: &Val) -> Val {
    let p = c.pos;
    let mut m = vec![(
        "primary",
        c.key("primary")
            .cloned()
            .unwrap_or_else(|| boolean(false, p)),
    )];
    if let Some(a) = c
        .key("private_ip_address")
        .filter(|x| x.as_str() != Some(""))
    {
        m.push(("privateIPAddress", a.clone()));
    }
    if let Some(sn) = id_ref(c.key("subnet_id"), p) {
        m.push(("subnet", sn));
    }
    if let Some(pip) = id_ref(c.key("public_ip_address_id"), p) {
        m.push(("publicIPAddress", pip));
    }
    obj(
        vec![
            (
                "name",
                c.key("name").cloned().unwrap_or_else(|| Val::null(p)),
            ),
            ("properties", obj(m, p)),
        ],
        p,
    )
}

fn private_endpoint(v: &Val) -> Val {
    let p = v.pos;
    let conns: Vec<Val> = arr(v, "private_service_connection")
        .iter()
        .map(|c| {
            obj(
                vec![
                    (
                        "name",
                        c.key("name").cloned().unwrap_or_else(|| Val::null(p)),
                    ),
                    (
                        "properties",
                        obj(
                            vec![
                                (
                                    "privateLinkServiceId",
                                    c.key("private_connection_resource_id")
                                        .cloned()
                                        .unwrap_or_else(|| Val::null(p)),
                                ),
                                ("groupIds", str_list(c, &["subresource_names"])),
                            ],
                            p,
                        ),
                    ),
                ],
                p,
            )
        })
        .collect();
    // The state keeps the address on the connection and on ip_configuration blocks.
    let mut cfgs: Vec<Val> = arr(v, "ip_configuration")
        .iter()
        .map(|c| {
            obj(
                vec![(
                    "properties",
                    obj(
                        vec![(
                            "privateIPAddress",
                            c.key("private_ip_address")
                                .cloned()
                                .unwrap_or_else(|| Val::null(p)),
                        )],
                        p,
                    ),
                )],
                p,
            )
        })
        .collect();
    if cfgs.is_empty() {
        if let Some(a) = arr(v, "private_service_connection")
            .first()
            .and_then(|c| c.key("private_ip_address"))
        {
            cfgs.push(obj(
                vec![("properties", obj(vec![("privateIPAddress", a.clone())], p))],
                p,
            ));
        }
    }
    let nics: Vec<Val> = arr(v, "network_interface")
        .iter()
        .map(|n| {
            obj(
                vec![("id", n.key("id").cloned().unwrap_or_else(|| Val::null(p)))],
                p,
            )
        })
        .collect();
    obj(
        vec![
            (
                "subnet",
                id_ref(v.key("subnet_id"), p).unwrap_or_else(|| Val::null(p)),
            ),
            (
                "privateLinkServiceConnections",
                Val::new(Json::Arr(conns), p),
            ),
            ("ipConfigurations", Val::new(Json::Arr(cfgs), p)),
            ("networkInterfaces", Val::new(Json::Arr(nics), p)),
        ],
        p,
    )
}

fn rule_collection_group(v: &Val) -> Val {
    let p = v.pos;
    let mut colls = Vec::new();
    for (key, ty, rule_type) in [
        (
            "nat_rule_collection",
            "FirewallPolicyNatRuleCollection",
            "NatRule",
        ),
        (
            "network_rule_collection",
            "FirewallPolicyFilterRuleCollection",
            "NetworkRule",
        ),
        (
            "application_rule_collection",
            "FirewallPolicyFilterRuleCollection",
            "ApplicationRule",
        ),
    ] {
        for c in arr(v, key) {
            let rules: Vec<Val> = arr(c, "rule")
                .iter()
                .map(|r| policy_rule(r, rule_type))
                .collect();
            colls.push(obj(
                vec![
                    (
                        "name",
                        c.key("name").cloned().unwrap_or_else(|| Val::null(p)),
                    ),
                    (
                        "priority",
                        c.key("priority").cloned().unwrap_or_else(|| Val::null(p)),
                    ),
                    ("ruleCollectionType", Val::str(ty, p)),
                    (
                        "action",
                        obj(
                            vec![(
                                "type",
                                c.key("action")
                                    .cloned()
                                    .unwrap_or_else(|| Val::str("Allow", p)),
                            )],
                            p,
                        ),
                    ),
                    ("rules", Val::new(Json::Arr(rules), p)),
                ],
                p,
            ));
        }
    }
    obj(
        vec![
            (
                "priority",
                v.key("priority").cloned().unwrap_or_else(|| Val::null(p)),
            ),
            ("ruleCollections", Val::new(Json::Arr(colls), p)),
        ],
        p,
    )
}

fn policy_rule(r: &Val, rule_type: &str) -> Val {
    let p = r.pos;
    let mut m = vec![
        (
            "name",
            r.key("name").cloned().unwrap_or_else(|| Val::null(p)),
        ),
        ("ruleType", Val::str(rule_type, p)),
        ("sourceAddresses", str_list(r, &["source_addresses"])),
        ("sourceIpGroups", str_list(r, &["source_ip_groups"])),
    ];
    match rule_type {
        "ApplicationRule" => {
            let protos: Vec<Val> = arr(r, "protocols")
                .iter()
                .map(|x| {
                    obj(
                        vec![
                            (
                                "protocolType",
                                x.key("type").cloned().unwrap_or_else(|| Val::null(p)),
                            ),
                            (
                                "port",
                                x.key("port").cloned().unwrap_or_else(|| Val::null(p)),
                            ),
                        ],
                        p,
                    )
                })
                .collect();
            m.push(("protocols", Val::new(Json::Arr(protos), p)));
            m.push(("targetFqdns", str_list(r, &["destination_fqdns"])));
        }
        _ => {
            m.push(("ipProtocols", str_list(r, &["protocols"])));
            m.push((
                "destinationAddresses",
                str_list(r, &["destination_addresses", "destination_address"]),
            ));
            m.push((
                "destinationIpGroups",
                str_list(r, &["destination_ip_groups"]),
            ));
            m.push(("destinationFqdns", str_list(r, &["destination_fqdns"])));
            m.push(("destinationPorts", str_list(r, &["destination_ports"])));
            if rule_type == "NatRule" {
                m.push((
                    "translatedAddress",
                    r.key("translated_address")
                        .cloned()
                        .unwrap_or_else(|| Val::null(p)),
                ));
                m.push((
                    "translatedPort",
                    r.key("translated_port")
                        .cloned()
                        .unwrap_or_else(|| Val::null(p)),
                ));
            }
        }
    }
    obj(m, p)
}
