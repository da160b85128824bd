//! Fixes: the smallest change to the topology document that lets a flow past one decision,
//! as an edit of the document tree, a sentence, and a machine-readable patch.

use serde_json::{json, Value};
use vnetsim_model::node::Node;

use crate::doc::{self, get, list_mut, map, named_mut, plain, s, seq, set, text};

/// One change to the document.
#[derive(Clone, Debug)]
pub enum Edit {
    /// Append `rule` to `nsgs[nsg].rules`.
    AddNsgRule { nsg: String, rule: Node<'static> },
    /// Append `rule` to the admin rule collection `manager/configuration/collection`.
    AddAdminRule {
        manager: String,
        configuration: String,
        collection: String,
        rule: Node<'static>,
    },
    /// Append `collection` to `firewalls[firewall].networkRuleCollections`.
    AddFirewallCollection {
        firewall: String,
        collection: Node<'static>,
    },
    /// Set a flag on the peering object `from` → `to`.
    SetPeeringFlag {
        from: String,
        to: String,
        flag: &'static str,
    },
    /// Add the two peering objects between `a` and `b`.
    AddPeerings { a: String, b: String },
    /// Remove route `route` from route table `table`.
    RemoveRoute { table: String, route: String },
    /// Append `route` to route table `table`, creating the table (and associating it with
    /// `subnet`, `VNET/SUBNET`) when `create`.
    AddRoute {
        table: String,
        route: Node<'static>,
        create_for: Option<(String, String)>,
    },
    /// Set a subnet's key.
    SetSubnet {
        vnet: String,
        subnet: String,
        key: &'static str,
        value: Node<'static>,
    },
}

impl Edit {
    /// Applies the edit to the document; false when the object it edits is not in it.
    pub fn apply(&self, root: &mut Node<'_>) -> bool {
        match self {
            Edit::AddNsgRule { nsg, rule } => push(root, "nsgs", nsg, "rules", rule),
            Edit::AddAdminRule {
                manager,
                configuration,
                collection,
                rule,
            } => named_mut(root, "networkManagers", manager)
                .and_then(|m| named_mut(m, "securityAdminConfigurations", configuration))
                .and_then(|c| named_mut(c, "ruleCollections", collection))
                .and_then(|c| list_mut(c, "rules"))
                .map(|r| r.push(rule.clone()))
                .is_some(),
            Edit::AddFirewallCollection {
                firewall,
                collection,
            } => push(
                root,
                "firewalls",
                firewall,
                "networkRuleCollections",
                collection,
            ),
            Edit::SetPeeringFlag { from, to, flag } => list_mut(root, "peerings")
                .and_then(|p| {
                    p.iter_mut().find(|x| {
                        get(x, "from").and_then(text) == Some(from)
                            && get(x, "to").and_then(text) == Some(to)
                    })
                })
                .map(|p| set(p, flag, plain("true")))
                .unwrap_or(false),
            Edit::AddPeerings { a, b } => list_mut(root, "peerings")
                .map(|p| {
                    p.push(map(vec![("from", s(a)), ("to", s(b))]));
                    p.push(map(vec![("from", s(b)), ("to", s(a))]));
                })
                .is_some(),
            Edit::RemoveRoute { table, route } => named_mut(root, "routeTables", table)
                .and_then(|t| list_mut(t, "routes"))
                .map(|r| {
                    let before = r.len();
                    r.retain(|x| get(x, "name").and_then(text) != Some(route));
                    r.len() < before
                })
                .unwrap_or(false),
            Edit::AddRoute {
                table,
                route,
                create_for,
            } => add_route(root, table, route, create_for.as_ref()),
            Edit::SetSubnet {
                vnet,
                subnet,
                key,
                value,
            } => named_mut(root, "vnets", vnet)
                .and_then(|v| named_mut(v, "subnets", subnet))
                .map(|x| set(x, key, value.clone()))
                .unwrap_or(false),
        }
    }

    /// The edit as a JSON patch: the operation, the path in the document, the value.
    pub fn patch(&self) -> Value {
        match self {
            Edit::AddNsgRule { nsg, rule } => {
                json!({"op": "add", "path": format!("nsgs[{nsg}].rules"), "value": doc::to_json(rule)})
            }
            Edit::AddAdminRule {
                manager,
                configuration,
                collection,
                rule,
            } => json!({"op": "add",
                "path": format!("networkManagers[{manager}].securityAdminConfigurations[{configuration}].ruleCollections[{collection}].rules"),
                "value": doc::to_json(rule)}),
            Edit::AddFirewallCollection {
                firewall,
                collection,
            } => json!({"op": "add",
                "path": format!("firewalls[{firewall}].networkRuleCollections"),
                "value": doc::to_json(collection)}),
            Edit::SetPeeringFlag { from, to, flag } => json!({"op": "set",
                "path": format!("peerings[{from}->{to}].{flag}"), "value": true}),
            Edit::AddPeerings { a, b } => json!({"op": "add", "path": "peerings",
                "value": [{"from": a, "to": b}, {"from": b, "to": a}]}),
            Edit::RemoveRoute { table, route } => json!({"op": "remove",
                "path": format!("routeTables[{table}].routes[{route}]")}),
            Edit::AddRoute {
                table,
                route,
                create_for,
            } => json!({"op": "add", "path": format!("routeTables[{table}].routes"),
                "value": doc::to_json(route),
                "createTableFor": create_for.as_ref().map(|(v, s)| format!("{v}/{s}"))}),
            Edit::SetSubnet {
                vnet,
                subnet,
                key,
                value,
            } => json!({"op": "set", "path": format!("vnets[{vnet}].subnets[{subnet}].{key}"),
                "value": doc::to_json(value)}),
        }
    }
}

fn push<'t>(root: &mut Node<'t>, list: &str, name: &str, key: &str, item: &Node<'t>) -> bool {
    named_mut(root, list, name)
        .and_then(|x| list_mut(x, key))
        .map(|r| r.push(item.clone()))
        .is_some()
}

fn add_route<'t>(
    root: &mut Node<'t>,
    table: &str,
    route: &Node<'t>,
    create: Option<&(String, String)>,
) -> bool {
    if let Some((vnet, subnet)) = create {
        let t = map(vec![("name", s(table)), ("routes", seq(Vec::new()))]);
        let Some(tables) = list_mut(root, "routeTables") else {
            return false;
        };
        tables.push(t);
        let assoc = named_mut(root, "vnets", vnet)
            .and_then(|v| named_mut(v, "subnets", subnet))
            .map(|x| set(x, "routeTable", s(table)))
            .unwrap_or(false);
        if !assoc {
            return false;
        }
    }
    push(root, "routeTables", table, "routes", route)
}
