//! The one mapping from resources ([`crate::ir`]) into topology format v1.
//!
//! Every object gets an `origin:` (ARM id, subscription, resource group,
//! tenant). References are resolved through one index keyed by lower-cased
//! ARM id; a reference outside the sources is a located error naming the id
//! and the `az` command that would supply it (a peering to an outside VNet
//! becomes a stub from `remoteAddressSpace` instead). Names that clash across
//! resource groups or subscriptions are qualified `rg:name` and reported.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::ir::{last_segment, parent_id, prop, props, ref_id, Resource};
use crate::json::{Pos, Val};
use crate::report::{Report, Status};
use crate::yaml::{write_map, M, Y};
use crate::{Diag, Files, ImportError, ImportOptions, Imported, Progress, TagFile};

mod classify;
mod express_route;
mod firewall;
mod gateway_nat;
mod lb;
mod manager;
mod nat;
mod network;
mod route_server;
mod waf;

pub use classify::{classify, Class};

/// Topology kinds whose names must be unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Vnet,
    Nsg,
    RouteTable,
    Asg,
    Nic,
    Gateway,
    Firewall,
    Site,
    PrivateEndpoint,
    NatGateway,
    Circuit,
}

pub(crate) struct Ctx<'a> {
    pub res: Vec<&'a Resource>,
    pub files: &'a Files,
    pub opts: &'a ImportOptions,
    /// `--service-tags FILE`, when given.
    pub tags: Option<&'a TagFile>,
    /// lower-cased id -> index into `res`.
    pub index: HashMap<String, usize>,
    /// lower-cased parent id -> child resources declared separately.
    pub children: HashMap<String, Vec<usize>>,
    /// (kind, lower-cased id) -> topology name.
    pub names: HashMap<(Kind, String), String>,
    pub status: Vec<Option<(Status, String)>>,
    pub report: Report,
    pub errors: Vec<Diag>,
    pub out: BTreeMap<&'static str, Vec<(String, Y)>>,
    /// lower-cased subnet id -> NAT gateway name, from the gateways' `subnets` lists.
    pub nat_served: HashMap<String, String>,
    /// Resource index -> (gateway name, prefixes) of a NAT rule resource reported unsupported.
    pub nat_rules: HashMap<usize, (String, Vec<String>)>,
    /// Resource index -> the frontend addresses of the Application Gateways a WAF policy in
    /// Prevention mode guards.
    pub waf_addresses: HashMap<usize, Vec<String>>,
    /// (spoke, hub) VNet names of every peering with `useRemoteGateways`.
    pub gateway_users: Vec<(String, String)>,
    /// (lower-cased gateway id, lower-cased circuit id) of every ExpressRoute connection.
    pub circuit_links: Vec<(String, String)>,
    /// Lower-cased id of each circuit written -> (its name, its private peering's id).
    pub circuit_peering: HashMap<String, (String, String)>,
}

pub(crate) use route_server::learned_routes_source;

/// Maps resources to a validated topology, or every located problem.
pub fn map(
    resources: &[Resource],
    files: &Files,
    opts: &ImportOptions,
    report: Report,
    tags: Option<&TagFile>,
    progress: &dyn Fn(Progress),
) -> Result<Imported, ImportError> {
    let mut c = Ctx::new(resources, files, opts, report);
    c.tags = tags;
    let of = STEPS.len() as u64 + 2;
    for (done, (step, run)) in STEPS.iter().enumerate() {
        run(&mut c);
        progress(Progress::Map {
            step,
            done: done as u64 + 1,
            of,
        });
    }
    c.finish_report();
    if !c.errors.is_empty() {
        return Err(ImportError {
            diagnostics: c.errors,
        });
    }
    let yaml = c.render();
    progress(Progress::Map {
        step: "topology rendered",
        done: of - 1,
        of,
    });
    let file = tags.map_or("imported.yaml", |t| t.validate_as.as_str());
    let validated = validate(file, yaml, c.report);
    progress(Progress::Map {
        step: "validated",
        done: of,
        of,
    });
    validated
}

/// The mapping, in order: each step reads the neutral resources of its kinds and writes
/// model objects (later steps refer to the names earlier ones gave).
type Step = (&'static str, fn(&mut Ctx));
const STEPS: &[Step] = &[
    ("names", |c| c.assign_names()),
    ("NAT gateways", |c| c.nat_served = nat::nat_gateways(c)),
    ("VNets", network::vnets),
    ("route tables", network::route_tables),
    ("NSGs", network::nsgs),
    ("ASGs", network::asgs),
    ("NICs", network::nics),
    ("ExpressRoute circuits", express_route::circuits),
    ("sites and gateways", network::sites_and_gateways),
    ("ExpressRoute routes", express_route::learned_routes),
    ("gateway NAT rules", gateway_nat::nat_rules),
    ("Route Servers", route_server::route_servers),
    ("firewalls", firewall::firewalls),
    ("Private Endpoints", network::private_endpoints),
    ("network managers", manager::network_managers),
    ("load balancers", lb::load_balancers),
];

/// Runs the model's validator on the emitted text (`file` locates a relative `serviceTags`).
fn validate(file: &str, yaml: String, report: Report) -> Result<Imported, ImportError> {
    match vnetsim_model::load_str(file, &yaml) {
        Ok(v) => Ok(Imported {
            warnings: v
                .warnings
                .items
                .iter()
                .map(|w| {
                    format!(
                        "imported.yaml:{}: warning: {}{}",
                        w.loc,
                        w.message,
                        source_near(&yaml, w.loc.line)
                    )
                })
                .collect(),
            yaml,
            report,
        }),
        Err(d) => Err(ImportError {
            diagnostics: d
                .errors()
                .map(|e| Diag {
                    file: "imported.yaml".into(),
                    line: e.loc.line,
                    col: e.loc.col,
                    message: format!(
                        "the imported topology does not validate: {}{}",
                        e.message,
                        source_near(&yaml, e.loc.line)
                    ),
                })
                .collect(),
        }),
    }
}

/// The `source:` of the top-level object that holds `line` of the emitted YAML.
fn source_near(yaml: &str, line: u32) -> String {
    let lines: Vec<&str> = yaml.lines().collect();
    let end = (line as usize).min(lines.len());
    let start = lines[..end]
        .iter()
        .rposition(|l| l.starts_with("  - "))
        .unwrap_or(0);
    let after = lines[start..]
        .iter()
        .skip(1)
        .take_while(|l| !l.starts_with("  - ") && l.starts_with("    "));
    for l in after {
        if let Some(s) = l.trim().strip_prefix("source: ") {
            return format!(" (object imported from {s})");
        }
    }
    String::new()
}

impl<'a> Ctx<'a> {
    fn new(
        resources: &'a [Resource],
        files: &'a Files,
        opts: &'a ImportOptions,
        mut report: Report,
    ) -> Ctx<'a> {
        let mut res = Vec::new();
        let mut index = HashMap::new();
        for r in resources {
            let key = r.id.to_ascii_lowercase();
            if index.contains_key(&key) {
                report.note(format!(
                    "{} appears in several sources; the first is used",
                    r.id
                ));
                continue;
            }
            index.insert(key, res.len());
            res.push(r);
        }
        let mut children: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in res.iter().enumerate() {
            if r.type_name.matches('/').count() >= 2 {
                if let Some(p) = parent_id(&r.id) {
                    children.entry(p.to_ascii_lowercase()).or_default().push(i);
                }
            }
        }
        let n = res.len();
        Ctx {
            res,
            files,
            opts,
            tags: None,
            index,
            children,
            names: HashMap::new(),
            status: vec![None; n],
            report,
            errors: Vec::new(),
            out: BTreeMap::new(),
            nat_served: HashMap::new(),
            nat_rules: HashMap::new(),
            waf_addresses: HashMap::new(),
            gateway_users: Vec::new(),
            circuit_links: Vec::new(),
            circuit_peering: HashMap::new(),
        }
    }

    /// Resources of one (lower-cased) type.
    pub fn of_type(&self, kind: &str) -> Vec<usize> {
        (0..self.res.len())
            .filter(|&i| self.res[i].kind() == kind)
            .collect()
    }

    pub fn get(&self, id: &str) -> Option<usize> {
        self.index.get(&id.to_ascii_lowercase()).copied()
    }

    /// Child resources of `parent` with the given (lower-cased) type.
    pub fn children_of(&self, parent: &str, kind: &str) -> Vec<usize> {
        self.children
            .get(&parent.to_ascii_lowercase())
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|&i| self.res[i].kind() == kind)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn mark(&mut self, i: usize, status: Status, detail: impl Into<String>) {
        if self.status[i].is_none() {
            self.status[i] = Some((status, detail.into()));
        }
    }

    pub fn error(&mut self, pos: Pos, msg: impl Into<String>) {
        let d = self.files.diag(pos, msg);
        self.errors.push(d);
    }

    pub fn unsupported(&mut self, type_name: &str, id: &str, detail: impl Into<String>) {
        self.report.add(Status::Unsupported, type_name, id, detail);
    }

    pub fn emit(&mut self, section: &'static str, sort_key: String, y: Y) {
        self.out.entry(section).or_default().push((sort_key, y));
    }

    /// The topology name of a referenced resource, or a located error naming the id.
    pub fn name_ref(&mut self, kind: Kind, v: &Val, what: &str) -> Option<String> {
        let id = ref_id(v)?;
        if let Some(n) = self.names.get(&(kind, id.to_ascii_lowercase())) {
            return Some(n.clone());
        }
        self.missing(v.pos, id, what);
        None
    }

    /// A located error for a reference to a resource outside the sources.
    pub fn missing(&mut self, pos: Pos, id: &str, what: &str) {
        let (sub, rg) = crate::ir::scope_of(id);
        let cmd = fetch_command(what);
        self.error(
            pos,
            format!(
                "{what} '{id}' is not in the import sources; export it with `{cmd}{}`{}",
                sub.map(|s| format!(" --subscription {s}"))
                    .unwrap_or_default(),
                rg.map(|g| format!(" (resource group {g})"))
                    .unwrap_or_default()
            ),
        );
    }

    /// `VNET/SUBNET` for a subnet id.
    pub fn subnet_ref(&mut self, v: &Val) -> Option<String> {
        let id = ref_id(v)?;
        let vnet_id = parent_id(id)?;
        let Some(vnet) = self.names.get(&(Kind::Vnet, vnet_id.to_ascii_lowercase())) else {
            self.missing(v.pos, vnet_id, "virtual network");
            return None;
        };
        Some(format!("{vnet}/{}", last_segment(id)))
    }

    /// The `origin:` mapping of a resource.
    pub fn origin(&self, r: &Resource) -> Y {
        self.origin_as(r, &r.source)
    }

    /// The `origin:` of a part of `r` (a peering, a service) with its own source.
    pub fn origin_as(&self, r: &Resource, source: &str) -> Y {
        let tenant = r.tenant.clone().or_else(|| self.opts.tenant.clone());
        let owner = r
            .body
            .key("tags")
            .and_then(|t| t.key("owner"))
            .and_then(Val::as_str)
            .map(str::to_string);
        let (sub, rg) = crate::ir::scope_of(source);
        let sub = sub.or_else(|| r.subscription.clone());
        let rg = rg.or_else(|| r.resource_group.clone());
        M::new()
            .put("source", Y::s(source))
            .opt("subscription", sub.map(Y::s))
            .opt("resourceGroup", rg.map(Y::s))
            .opt("tenant", tenant.map(Y::s))
            .opt("owner", owner.map(Y::s))
            .y()
    }

    /// Assigns unique topology names, qualifying clashes as `rg:name` (then `sub:rg:name`).
    fn assign_names(&mut self) {
        let kinds: &[(Kind, &str)] = &[
            (Kind::Vnet, "microsoft.network/virtualnetworks"),
            (Kind::Nsg, "microsoft.network/networksecuritygroups"),
            (Kind::RouteTable, "microsoft.network/routetables"),
            (Kind::Asg, "microsoft.network/applicationsecuritygroups"),
            (Kind::Nic, "microsoft.network/networkinterfaces"),
            (Kind::Gateway, "microsoft.network/virtualnetworkgateways"),
            (Kind::Firewall, "microsoft.network/azurefirewalls"),
            (Kind::Site, "microsoft.network/localnetworkgateways"),
            (Kind::PrivateEndpoint, "microsoft.network/privateendpoints"),
            (Kind::NatGateway, nat::NAT_GATEWAY),
            (Kind::Circuit, express_route::CIRCUIT),
        ];
        for (kind, ty) in kinds {
            let list: Vec<(String, String, String, String)> = self
                .of_type(ty)
                .into_iter()
                .map(|i| {
                    let r = self.res[i];
                    (
                        r.id.to_ascii_lowercase(),
                        r.name.clone(),
                        r.resource_group.clone().unwrap_or_default(),
                        r.subscription.clone().unwrap_or_default(),
                    )
                })
                .collect();
            self.qualify(*kind, &list);
        }
    }

    /// Adds names for `(id, name, rg, sub)` items of one kind.
    pub fn qualify(&mut self, kind: Kind, items: &[(String, String, String, String)]) {
        let mut count: HashMap<String, usize> = HashMap::new();
        for (_, n, _, _) in items {
            *count.entry(n.to_ascii_lowercase()).or_default() += 1;
        }
        let mut rg_count: HashMap<String, usize> = HashMap::new();
        for (_, n, g, _) in items {
            *rg_count
                .entry(format!("{g}:{n}").to_ascii_lowercase())
                .or_default() += 1;
        }
        for (id, n, g, s) in items {
            let name = if count[&n.to_ascii_lowercase()] == 1 {
                sanitize(n)
            } else if rg_count[&format!("{g}:{n}").to_ascii_lowercase()] == 1 {
                sanitize(&format!("{g}:{n}"))
            } else {
                sanitize(&format!(
                    "{}:{g}:{n}",
                    s.chars().take(8).collect::<String>()
                ))
            };
            if name != sanitize(n) {
                self.report.note(format!(
                    "name '{n}' is used by several {kind:?} resources; '{id}' is named '{name}'"
                ));
            }
            self.names.insert((kind, id.clone()), name);
        }
    }

    /// The imported VNet a Virtual WAN hub connection attaches (its `remoteVirtualNetwork`).
    fn hub_connection_vnet(&self, r: &Resource) -> Option<String> {
        if !r.kind().ends_with("/hubvirtualnetworkconnections") {
            return None;
        }
        let id = prop(&r.body, "remoteVirtualNetwork").and_then(ref_id)?;
        self.names
            .get(&(Kind::Vnet, id.to_ascii_lowercase()))
            .cloned()
    }

    /// A Virtual WAN hub's own `virtualNetworkConnections` (`az network vhub show`), read like
    /// the connection resources; one also given as a resource is reported once, as that.
    fn inline_hub_connections(&mut self) {
        const CONN: &str = "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections";
        let Class::Unsupported(what) = classify(&CONN.to_ascii_lowercase()) else {
            return;
        };
        for i in self.of_type("microsoft.network/virtualhubs") {
            let r = self.res[i];
            for x in arr(&r.body, "virtualNetworkConnections") {
                let Some(id) = text(x, "id") else { continue };
                if self.get(id).is_some() {
                    continue;
                }
                let vnet = prop(x, "remoteVirtualNetwork")
                    .and_then(ref_id)
                    .and_then(|v| self.names.get(&(Kind::Vnet, v.to_ascii_lowercase())))
                    .cloned();
                self.report.add(Status::Unsupported, CONN, id, what);
                if let Some(e) = self.report.entries.last_mut() {
                    e.vnet = vnet;
                }
            }
        }
    }

    fn finish_report(&mut self) {
        for i in 0..self.res.len() {
            let r = self.res[i];
            let (status, detail) = match self.status[i].take() {
                Some(s) => s,
                None => match classify(&r.kind()) {
                    Class::Skipped(why) => (Status::Skipped, why.to_string()),
                    Class::Unsupported(what) => (Status::Unsupported, what.to_string()),
                    Class::Modelled => (
                        Status::Skipped,
                        "not referenced by any imported object".to_string(),
                    ),
                },
            };
            self.report.add(status, &r.type_name, &r.id, detail);
            if status == Status::Unsupported {
                let mut found = Vec::new();
                addresses_in(&r.body, &mut found);
                let vnet = self.hub_connection_vnet(r);
                let nat = self.nat_rules.remove(&i);
                for a in self.waf_addresses.remove(&i).unwrap_or_default() {
                    if !found.contains(&a) {
                        found.push(a);
                    }
                }
                if let Some(e) = self.report.entries.last_mut() {
                    e.addresses = found;
                    e.vnet = vnet;
                    if let Some((g, p)) = nat {
                        e.gateway = Some(g);
                        e.prefixes = p;
                    }
                }
            }
        }
        self.inline_hub_connections();
        self.report.entries.sort_by(|a, b| {
            (a.status, &a.type_name.to_ascii_lowercase(), &a.id).cmp(&(
                b.status,
                &b.type_name.to_ascii_lowercase(),
                &b.id,
            ))
        });
    }

    fn render(&mut self) -> String {
        let name = self.opts.name.clone().unwrap_or_else(|| "imported".into());
        let mut top = vec![
            ("version".to_string(), Y::n(1)),
            ("name".to_string(), Y::s(name)),
        ];
        if let Some(t) = self.tags {
            top.push(("serviceTags".to_string(), Y::s(t.written.clone())));
        }
        let order = [
            "sites",
            "expressRouteCircuits",
            "vnets",
            "peerings",
            "routeTables",
            "applicationSecurityGroups",
            "nsgs",
            "nics",
            "natGateways",
            "gateways",
            "routeServers",
            "firewalls",
            "services",
            "privateEndpoints",
            "networkManagers",
            "loadBalancers",
            "applicationGateways",
        ];
        for sec in order {
            if let Some(mut items) = self.out.remove(sec) {
                items.sort_by(|a, b| a.0.cmp(&b.0));
                top.push((
                    sec.to_string(),
                    Y::Seq(items.into_iter().map(|x| x.1).collect()),
                ));
            }
        }
        let mut s = String::from(
            "# Imported by vnetsim import. Each object's origin.source is its ARM id\n\
             # (or template file:line); see the import report for skipped and\n\
             # unsupported resources.\n",
        );
        self.unsupported_comment(&mut s);
        let not_modelled: Vec<Y> = self
            .report
            .unsupported()
            .map(|e| {
                let m = M::new()
                    .put("type", Y::s(e.type_name.clone()))
                    .put("id", Y::s(e.id.clone()))
                    .put("affects", Y::s(e.detail.replace('\n', " ")));
                let m = if e.addresses.is_empty() {
                    m
                } else {
                    m.put("addresses", Y::strs(e.addresses.iter().cloned()))
                };
                let m = m
                    .opt("vnet", e.vnet.clone().map(Y::s))
                    .opt("gateway", e.gateway.clone().map(Y::s));
                if e.prefixes.is_empty() {
                    m.y()
                } else {
                    m.put("prefixes", Y::strs(e.prefixes.iter().cloned())).y()
                }
            })
            .collect();
        if !not_modelled.is_empty() {
            top.push(("notModelled".to_string(), Y::Seq(not_modelled)));
        }
        write_map(&mut s, &top, 0);
        s
    }
}

impl Ctx<'_> {
    /// Lists, as comments, what affects packets but is not in the topology.
    fn unsupported_comment(&self, s: &mut String) {
        let rows: Vec<&crate::report::Entry> = self.report.unsupported().collect();
        if rows.is_empty() {
            return;
        }
        s.push_str(&format!(
            "#\n# NOT MODELLED ({} items): traces that meet these are not trustworthy.\n",
            rows.len()
        ));
        for e in rows {
            let detail = e.detail.replace('\n', " ");
            s.push_str(&format!("#   {} {}: {detail}\n", e.type_name, e.id));
        }
    }
}

/// Every IPv4 address a resource's body holds as a `privateIPAddress` or `ipAddress` (in any
/// case): a load balancer's or Application Gateway's frontends, a Bastion's, a NAT rule's.
fn addresses_in(v: &crate::json::Val, out: &mut Vec<String>) {
    use crate::json::Json;
    match &v.v {
        Json::Obj(kv) => {
            for (k, x) in kv {
                let key = k.to_ascii_lowercase();
                if key == "privateipaddress" || key == "ipaddress" {
                    if let Json::Str(a) = &x.v {
                        if a.parse::<std::net::Ipv4Addr>().is_ok() && !out.contains(a) {
                            out.push(a.clone());
                        }
                    }
                }
                addresses_in(x, out);
            }
        }
        Json::Arr(items) => items.iter().for_each(|x| addresses_in(x, out)),
        _ => {}
    }
}

/// Topology names may not contain '/' (it separates VNET/SUBNET).
pub(crate) fn sanitize(n: &str) -> String {
    n.replace('/', "_")
}

/// The az command that exports a kind of resource.
fn fetch_command(what: &str) -> &'static str {
    match what {
        "virtual network" | "subnet" => "az network vnet list -o json",
        "network security group" => "az network nsg list -o json",
        "route table" => "az network route-table list -o json",
        "application security group" => "az network asg list -o json",
        "network interface" => "az network nic list -o json",
        "firewall policy" => "az network firewall policy list -o json",
        "rule collection group" => {
            "az network firewall policy rule-collection-group list --policy-name P -g G -o json"
        }
        "IP group" => "az network ip-group list -o json",
        "local network gateway" => "az network local-gateway list -g G -o json",
        "virtual network gateway" => "az network vnet-gateway list -g G -o json",
        "public IP address" => "az network public-ip list -o json",
        "public IP prefix" => "az network public-ip prefix list -o json",
        "NAT gateway" => "az network nat gateway list -o json",
        "ExpressRoute circuit" => "az network express-route list -o json",
        _ => "az resource list -o json",
    }
}

/// `--set NAME.field=VALUE` for an object named `name` (names and fields case-insensitive).
pub(crate) fn set_value(c: &Ctx, name: &str, field: &str) -> Option<String> {
    let key = format!("{name}.{field}");
    c.opts
        .sets
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        .map(|(_, v)| v.clone())
}

/// A service tag of a rule: `Ok(name)` when the `--service-tags` file has it, else `Err` saying
/// why the rule's side is unresolved.
pub(crate) fn service_tag(c: &Ctx, tag: &str) -> Result<String, String> {
    match c.tags {
        Some(t) if t.tags.get(tag).is_some() => Ok(tag.to_string()),
        Some(t) => Err(format!(
            "service tag '{tag}' is not in the service-tag file {}",
            t.written
        )),
        None => Err(format!(
            "service tag '{tag}' has no address data: give the import --service-tags FILE (the \
             JSON `az network list-service-tags --location REGION` writes) to resolve it; until \
             then a flow this rule could match gets no verdict"
        )),
    }
}

/// An IPv4 address from a value.
pub(crate) fn ipv4(v: Option<&Val>) -> Option<Ipv4Addr> {
    v?.as_str()?.trim().parse().ok()
}

/// An IPv4 prefix (a bare address becomes /32); IPv6 and others are `None`.
pub(crate) fn ipv4_net(s: &str) -> Option<Ipv4Net> {
    let s = s.trim();
    if let Ok(a) = s.parse::<Ipv4Addr>() {
        return Ipv4Net::new(a, 32).ok();
    }
    s.parse::<Ipv4Net>().ok().map(|n| n.trunc())
}

/// Strings of an array value (or a single string).
pub(crate) fn strings(v: Option<&Val>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(v) => match (v.as_str(), v.as_arr()) {
            (Some(s), _) => vec![s.to_string()],
            (_, Some(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        },
    }
}

/// Items of an array property (empty when absent).
pub(crate) fn arr<'v>(v: &'v Val, k: &str) -> &'v [Val] {
    prop(v, k).and_then(Val::as_arr).unwrap_or(&[])
}

/// A text property.
pub(crate) fn text<'v>(v: &'v Val, k: &str) -> Option<&'v str> {
    prop(v, k).and_then(Val::as_str)
}

/// A boolean property (strings like "False" accepted).
pub(crate) fn flag(v: &Val, k: &str) -> Option<bool> {
    prop(v, k).and_then(Val::as_bool)
}

/// Canonical spelling of an enum value, matched case-insensitively.
pub(crate) fn canon<'t>(s: &str, table: &[&'t str]) -> Option<&'t str> {
    table
        .iter()
        .find(|t| t.eq_ignore_ascii_case(s.trim()))
        .copied()
}

/// A nested property path, e.g. `ipConfigurations[0].properties.privateIPAddress`.
pub(crate) fn deep<'v>(v: &'v Val, keys: &[&str]) -> Option<&'v Val> {
    props(v, keys)
}
