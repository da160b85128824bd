//! Who owns each resource: its owner boundary.
//!
//! In order, the first that applies:
//! 1. the first rule of the owner file (`--owners`) whose kind and name pattern match;
//! 2. the `origin.owner` written on the resource in the topology;
//! 3. where the importer kept them, the tenant, subscription and resource group of its ARM id
//!    (`SUBSCRIPTION/RESOURCE_GROUP`, `TENANT/SUBSCRIPTION/RESOURCE_GROUP` with a tenant);
//! 4. for a subnet, its VNet's owner (a subnet is a child resource of its VNet); for a
//!    peering, the owner of the VNet it belongs to (`from`);
//! 5. the owner file's `default`;
//! 6. the topology's own top-level `owner:` (the default of that file);
//! 7. `unowned`.
//!
//! ```yaml
//! default: app-team
//! owners:
//!   - { kind: routeTable, owner: network-team }           # name: '*' when absent
//!   - { kind: nsg, name: 'nsg-*', owner: security-team }
//!   - { kind: subnet, name: 'vnet-hub/*', owner: network-team }
//! ```

use std::collections::BTreeMap;

use vnetsim_model::node::{self, Node, NodeKind};
use vnetsim_model::{self as m, Diagnostics};

use crate::resources::{id, inventory, Kind, ResourceId};

/// The boundary of a resource nobody claims.
pub const UNOWNED: &str = "unowned";

#[derive(Clone, Debug)]
struct Rule {
    kind: Kind,
    pattern: String,
    owner: String,
}

/// An owner file: rules by kind and name pattern, and a default.
#[derive(Clone, Debug, Default)]
pub struct OwnerFile {
    rules: Vec<Rule>,
    default: Option<String>,
}

/// `*` matches any run of characters (case-sensitive, like Azure names in the topology).
pub fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

fn map<'a>(
    d: &mut Diagnostics,
    n: &'a Node<'a>,
    what: &str,
    keys: &[&str],
) -> Option<Vec<(&'a str, &'a Node<'a>)>> {
    let NodeKind::Map(entries) = &n.kind else {
        d.error(
            n.loc,
            format!("expected {what} (a mapping), found {}", n.describe()),
        );
        return None;
    };
    for (k, kloc, _) in entries {
        if !keys.contains(&&**k) {
            d.error(
                *kloc,
                format!(
                    "unknown key '{k}' in {what}; expected one of: {}",
                    keys.join(", ")
                ),
            );
        }
    }
    Some(
        entries
            .iter()
            .filter(|(_, _, v)| !v.is_null())
            .map(|(k, _, v)| (&**k, v))
            .collect(),
    )
}

fn text(d: &mut Diagnostics, n: &Node, what: &str) -> Option<String> {
    match &n.kind {
        NodeKind::Scalar { text, .. } if !text.is_empty() => Some(text.to_string()),
        _ => {
            d.error(n.loc, format!("expected {what}, found {}", n.describe()));
            None
        }
    }
}

fn rule(d: &mut Diagnostics, n: &Node) -> Option<Rule> {
    let o = map(d, n, "an owner rule", &["kind", "name", "owner"])?;
    let get = |k: &str| o.iter().find(|(x, _)| *x == k).map(|(_, v)| *v);
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let kind = match get("kind") {
        None => {
            d.error(n.loc, "an owner rule is missing the required key 'kind'");
            None
        }
        Some(k) => {
            let s = text(d, k, "a resource kind")?;
            let kind = Kind::parse(&s);
            if kind.is_none() {
                d.error(
                    k.loc,
                    format!(
                        "unknown resource kind '{s}'; expected one of: {}",
                        kinds.join(", ")
                    ),
                );
            }
            kind
        }
    };
    let pattern = match get("name") {
        Some(x) => text(d, x, "a name or pattern ('*' matches any run)")?,
        None => "*".into(),
    };
    let owner = match get("owner") {
        Some(x) => text(d, x, "an owner (a team or boundary name)"),
        None => {
            d.error(n.loc, "an owner rule is missing the required key 'owner'");
            None
        }
    };
    Some(Rule {
        kind: kind?,
        pattern,
        owner: owner?,
    })
}

/// Parses an owner file; every problem is reported with its line and column.
pub fn parse(file: &str, body: &str) -> Result<OwnerFile, Diagnostics> {
    let mut d = Diagnostics::new(file);
    let root = match node::parse(body) {
        Ok(r) => r,
        Err(e) => {
            d.error(e.loc, format!("syntax error: {}", e.message));
            return Err(d);
        }
    };
    let mut f = OwnerFile::default();
    if let Some(o) = map(&mut d, &root, "an owner file", &["default", "owners"]) {
        for (k, v) in o {
            match k {
                "default" => f.default = text(&mut d, v, "the default owner"),
                "owners" => match &v.kind {
                    NodeKind::Seq(items) => {
                        f.rules.extend(items.iter().filter_map(|n| rule(&mut d, n)))
                    }
                    _ => d.error(
                        v.loc,
                        format!("expected a list of owner rules, found {}", v.describe()),
                    ),
                },
                _ => {}
            }
        }
    }
    if d.has_errors() {
        d.sort();
        return Err(d);
    }
    Ok(f)
}

impl OwnerFile {
    fn rule_for(&self, r: &ResourceId) -> Option<&str> {
        self.rules
            .iter()
            .find(|x| x.kind == r.kind && glob(&x.pattern, &r.name))
            .map(|x| x.owner.as_str())
    }
}

fn from_origin(o: &m::Origin) -> Option<String> {
    if let Some(x) = &o.owner {
        return Some(x.clone());
    }
    let sub = o.subscription.as_ref()?;
    let mut b = match &o.tenant {
        Some(t) => format!("{t}/{sub}"),
        None => sub.clone(),
    };
    if let Some(rg) = &o.resource_group {
        b = format!("{b}/{rg}");
    }
    Some(b)
}

/// Every resource of a topology with its owner boundary.
#[derive(Clone, Debug, Default)]
pub struct Owners {
    map: BTreeMap<ResourceId, String>,
}

impl Owners {
    /// Resolves every resource of `t` (see the module's order).
    pub fn resolve(t: &m::Topology, file: &OwnerFile) -> Owners {
        let inv = inventory(t);
        let mut map = BTreeMap::new();
        // First pass: what each resource says of itself (rules, origin).
        for (r, _, origin) in &inv {
            let own = file
                .rule_for(r)
                .map(str::to_string)
                .or_else(|| origin.as_ref().and_then(from_origin));
            if let Some(o) = own {
                map.insert(r.clone(), o);
            }
        }
        let fallback = file
            .default
            .clone()
            .or_else(|| t.owner.clone())
            .unwrap_or_else(|| UNOWNED.to_string());
        for (r, _, _) in &inv {
            if map.contains_key(r) {
                continue;
            }
            let parent = match r.kind {
                Kind::Subnet => r.name.split_once('/').map(|(v, _)| v.to_string()),
                Kind::Peering => r.name.split_once("->").map(|(v, _)| v.to_string()),
                _ => None,
            };
            let own = parent
                .and_then(|v| map.get(&id(Kind::Vnet, v)).cloned())
                .unwrap_or_else(|| fallback.clone());
            map.insert(r.clone(), own);
        }
        Owners { map }
    }

    /// The owner of a resource (`unowned` for one the topology does not have).
    pub fn of(&self, kind: Kind, name: &str) -> &str {
        self.map
            .get(&id(kind, name))
            .map(String::as_str)
            .unwrap_or(UNOWNED)
    }

    pub fn of_id(&self, r: &ResourceId) -> &str {
        self.of(r.kind, &r.name)
    }

    /// Every boundary that owns something, sorted.
    pub fn boundaries(&self) -> Vec<String> {
        let mut v: Vec<String> = self.map.values().cloned().collect();
        v.sort();
        v.dedup();
        v
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ResourceId, &str)> {
        self.map.iter().map(|(k, v)| (k, v.as_str()))
    }
}

/// Reads an owner file (none: every owner from the topology).
pub fn read(path: Option<&std::path::Path>) -> Result<OwnerFile, String> {
    let Some(p) = path else {
        return Ok(OwnerFile::default());
    };
    let name = p.display().to_string();
    let body = vnetsim_model::read::read_side_file(p, "the owners file")?;
    parse(&name, &body).map_err(|d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", "anything"));
        assert!(glob("nsg-*", "nsg-app"));
        assert!(!glob("nsg-*", "rt-app"));
        assert!(glob("vnet-hub/*", "vnet-hub/snet-tools"));
        assert!(glob("*-hub*", "vnet-hub/x"));
        assert!(!glob("a*b*c", "acb"));
        assert!(glob("exact", "exact"));
    }

    #[test]
    fn an_unknown_kind_is_located() {
        let e = parse("o.yaml", "owners:\n  - { kind: routeTabel, owner: net }\n").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("o.yaml:2:"), "{s}");
        assert!(s.contains("unknown resource kind 'routeTabel'"), "{s}");
    }
}

#[cfg(test)]
mod resolution {
    use super::*;

    const T: &str = "version: 1
owner: platform-team
vnets:
  - name: hub
    addressSpace: [10.0.0.0/16]
    subnets: [{ name: s, addressPrefix: 10.0.1.0/24 }]
    origin: { subscription: sub-1, resourceGroup: rg-hub }
  - name: spoke
    addressSpace: [10.1.0.0/16]
    subnets: [{ name: s, addressPrefix: 10.1.1.0/24 }]
    origin: { owner: app-team, subscription: sub-2, resourceGroup: rg-app }
routeTables:
  - { name: rt, routes: [] }
nsgs:
  - { name: n, rules: [] }
";

    #[test]
    fn rules_then_origin_then_parent_then_defaults() {
        let t = m::load_str("t.yaml", T).unwrap().topology().clone();
        let file = parse(
            "o.yaml",
            "owners:\n  - { kind: nsg, owner: security-team }\n",
        )
        .unwrap();
        let o = Owners::resolve(&t, &file);
        assert_eq!(o.of(Kind::Nsg, "n"), "security-team");
        // origin.owner beats the subscription and resource group.
        assert_eq!(o.of(Kind::Vnet, "spoke"), "app-team");
        assert_eq!(o.of(Kind::Vnet, "hub"), "sub-1/rg-hub");
        // A subnet is its VNet's.
        assert_eq!(o.of(Kind::Subnet, "hub/s"), "sub-1/rg-hub");
        // Nothing else applies: the file's own top-level owner.
        assert_eq!(o.of(Kind::RouteTable, "rt"), "platform-team");
        // An owner file's default beats the topology's.
        let file = parse("o.yaml", "default: net\n").unwrap();
        assert_eq!(Owners::resolve(&t, &file).of(Kind::RouteTable, "rt"), "net");
    }
}
