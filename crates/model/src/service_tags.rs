//! Service-tag address data, read from the versioned JSON that
//! `az network list-service-tags` (or the weekly download, or the Service Tag
//! Discovery API) writes:
//!
//! ```json
//! { "changeNumber": 1, "cloud": "Public",
//!   "values": [ { "name": "Storage.WestEurope", "id": "Storage.WestEurope",
//!                 "properties": { "changeNumber": 1, "region": "westeurope",
//!                                 "regionId": 18, "platform": "Azure",
//!                                 "systemService": "AzureStorage",
//!                                 "addressPrefixes": ["20.38.108.0/23", "2603:1020::/48"] } } ] }
//! ```
//!
//! A topology names the file with `serviceTags: FILE` (relative to the
//! topology). IPv4 prefixes are kept; IPv6 ones are skipped and counted.
//! Keys Azure may add later are ignored; a wrong shape is a located error in
//! the tag file.

use std::collections::HashMap;

use ipnet::Ipv4Net;

use crate::decode::parse_prefix;
use crate::limits::{Echo, Limits};
use crate::node::{self, Entry, Loc, Node, NodeKind};

/// One service tag: its name, region ("" for a global tag), system service and IPv4 prefixes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagData {
    pub name: String,
    pub region: String,
    pub system_service: String,
    pub prefixes: Vec<Ipv4Net>,
}

/// The tags of one service-tag file.
#[derive(Clone, Debug, Default)]
pub struct ServiceTags {
    /// The file it was read from, as written in the topology.
    pub file: String,
    pub change_number: Option<u64>,
    pub cloud: String,
    pub tags: Vec<TagData>,
    /// IPv6 prefixes found and not used (vnetsim models IPv4 only).
    pub ipv6_skipped: usize,
    by_name: HashMap<String, usize>,
}

impl ServiceTags {
    /// The tag of that name, compared case-insensitively as Azure does.
    pub fn get(&self, name: &str) -> Option<&TagData> {
        self.by_name
            .get(&name.to_ascii_lowercase())
            .map(|&i| &self.tags[i])
    }

    /// A tag name close to `name` (same name ignoring `.`, `_` and case), for a did-you-mean.
    pub fn near(&self, name: &str) -> Option<&str> {
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .collect()
        };
        let want = squash(name);
        self.tags
            .iter()
            .find(|t| squash(&t.name) == want)
            .map(|t| t.name.as_str())
    }
}

/// A problem in the tag file, located in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagFileError {
    pub loc: Loc,
    pub message: String,
}

fn err(loc: Loc, message: impl Into<String>) -> TagFileError {
    TagFileError {
        loc,
        message: message.into(),
    }
}

fn entries<'a>(n: &'a Node<'a>, what: &str) -> Result<&'a [Entry<'a>], TagFileError> {
    match &n.kind {
        NodeKind::Map(e) => Ok(e),
        _ => Err(err(
            n.loc,
            format!("expected {what} (an object), found {}", n.describe()),
        )),
    }
}

fn field<'a>(e: &'a [Entry<'a>], key: &str) -> Option<&'a Node<'a>> {
    e.iter()
        .find(|(k, _, _)| k == key)
        .map(|(_, _, n)| n)
        .filter(|n| !n.is_null())
}

fn text<'a>(n: &'a Node<'a>, what: &str) -> Result<&'a str, TagFileError> {
    match &n.kind {
        NodeKind::Scalar { text, .. } => Ok(text),
        _ => Err(err(
            n.loc,
            format!("expected {what}, found {}", n.describe()),
        )),
    }
}

/// Parses the text of a tag file (`file` is the name used in the result).
pub fn parse(file: &str, body: &str, limits: &Limits) -> Result<ServiceTags, TagFileError> {
    let root = node::parse_with(body, limits).map_err(|e| err(e.loc, e.message))?;
    let top = entries(&root, "a service-tag file")?;
    let values = field(top, "values").ok_or_else(|| {
        err(
            root.loc,
            "a service-tag file needs 'values' (the list `az network list-service-tags` writes)",
        )
    })?;
    let NodeKind::Seq(items) = &values.kind else {
        return Err(err(
            values.loc,
            format!(
                "expected 'values' to be a list, found {}",
                values.describe()
            ),
        ));
    };
    let mut out = ServiceTags {
        file: file.to_string(),
        change_number: field(top, "changeNumber")
            .and_then(|n| text(n, "a number").ok())
            .and_then(|s| s.trim().parse().ok()),
        cloud: field(top, "cloud")
            .and_then(|n| text(n, "a cloud name").ok())
            .unwrap_or_default()
            .to_string(),
        ..ServiceTags::default()
    };
    for item in items {
        let tag = tag_entry(item, &mut out.ipv6_skipped)?;
        let key = tag.name.to_ascii_lowercase();
        if out.by_name.contains_key(&key) {
            return Err(err(
                item.loc,
                format!("service tag '{}' is listed twice", Echo(&tag.name)),
            ));
        }
        out.by_name.insert(key, out.tags.len());
        out.tags.push(tag);
    }
    Ok(out)
}

fn tag_entry(item: &Node, ipv6_skipped: &mut usize) -> Result<TagData, TagFileError> {
    let e = entries(item, "a service tag")?;
    let name = field(e, "name")
        .ok_or_else(|| err(item.loc, "a service tag needs a 'name'"))
        .and_then(|n| text(n, "a tag name"))?
        .trim()
        .to_string();
    let props = field(e, "properties").ok_or_else(|| {
        err(
            item.loc,
            format!("service tag '{}' has no 'properties'", Echo(&name)),
        )
    })?;
    let p = entries(props, "a service tag's properties")?;
    let opt = |k: &str| -> String {
        field(p, k)
            .and_then(|n| text(n, "a string").ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut prefixes = Vec::new();
    if let Some(list) = field(p, "addressPrefixes") {
        let NodeKind::Seq(v) = &list.kind else {
            return Err(err(
                list.loc,
                format!(
                    "expected 'addressPrefixes' to be a list, found {}",
                    list.describe()
                ),
            ));
        };
        for x in v {
            let s = text(x, "an address prefix")?.trim();
            if s.contains(':') {
                *ipv6_skipped += 1;
                continue;
            }
            prefixes.push(parse_prefix(s, true).map_err(|m| err(x.loc, m))?);
        }
    }
    Ok(TagData {
        name,
        region: opt("region"),
        system_service: opt("systemService"),
        prefixes,
    })
}

/// The service-tag name whose public prefixes a service endpoint for `service` (e.g.
/// `Microsoft.Storage`) routes, per the service-endpoint overview's list of services.
pub fn endpoint_tag(service: &str) -> Option<&'static str> {
    const SERVICES: &[(&str, &str)] = &[
        ("Microsoft.Storage", "Storage"),
        ("Microsoft.Storage.Global", "Storage"),
        ("Microsoft.Sql", "Sql"),
        ("Microsoft.AzureCosmosDB", "AzureCosmosDB"),
        ("Microsoft.KeyVault", "AzureKeyVault"),
        ("Microsoft.ServiceBus", "ServiceBus"),
        ("Microsoft.EventHub", "EventHub"),
        ("Microsoft.Web", "AppService"),
        ("Microsoft.CognitiveServices", "CognitiveServicesManagement"),
        ("Microsoft.ContainerRegistry", "AzureContainerRegistry"),
        ("Microsoft.AzureActiveDirectory", "AzureActiveDirectory"),
    ];
    SERVICES
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(service))
        .map(|(_, t)| *t)
}

/// The services a subnet can enable an endpoint for.
pub fn endpoint_services() -> &'static str {
    "Microsoft.Storage, Microsoft.Storage.Global, Microsoft.Sql, Microsoft.AzureCosmosDB, \
     Microsoft.KeyVault, Microsoft.ServiceBus, Microsoft.EventHub, Microsoft.Web, \
     Microsoft.CognitiveServices, Microsoft.ContainerRegistry, Microsoft.AzureActiveDirectory"
}

impl ServiceTags {
    /// The prefixes a service endpoint for tag `base` covers in `locations` (`*` or none: the
    /// global tag), and the locations that have no regional tag in the file.
    pub fn endpoint_prefixes(
        &self,
        base: &str,
        locations: &[String],
    ) -> (Vec<Ipv4Net>, Vec<String>) {
        if locations.is_empty() || locations.iter().any(|l| l == "*") {
            return (
                self.get(base)
                    .map(|t| t.prefixes.clone())
                    .unwrap_or_default(),
                if self.get(base).is_none() {
                    vec!["*".to_string()]
                } else {
                    Vec::new()
                },
            );
        }
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for l in locations {
            let squashed: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            let regional = self.get(&format!("{base}.{squashed}")).or_else(|| {
                self.tags.iter().find(|t| {
                    t.name
                        .to_ascii_lowercase()
                        .starts_with(&format!("{}.", base.to_ascii_lowercase()))
                        && t.region.eq_ignore_ascii_case(&squashed)
                })
            });
            match regional {
                Some(t) => out.extend(t.prefixes.iter().copied()),
                None => missing.push(l.clone()),
            }
        }
        (out, missing)
    }
}
