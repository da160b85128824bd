//! Service-tag prefixes where routes use them (compile time only): user routes whose
//! `addressPrefix` is a tag, and service endpoints' `VirtualNetworkServiceEndpoint` routes,
//! both from the topology's `serviceTags` file.

use ipnet::Ipv4Net;
use vnetsim_model as m;
use vnetsim_model::service_tags::{endpoint_tag, ServiceTags};

use crate::prefix::aggregate;

/// R-RT-13: on an exact prefix tie between user routes, an explicit prefix beats a tag; among
/// tags, a regional service tag (Storage.EastUS) beats a top-level one (Storage), which beats
/// AzureCloud.REGION, which beats AzureCloud. Lower ranks win.
pub(crate) fn rank(prefix: &m::RoutePrefix) -> u8 {
    match prefix {
        m::RoutePrefix::Prefix(_) => 0,
        m::RoutePrefix::ServiceTag(t) => {
            let cloud = t.len() >= 10 && t[..10].eq_ignore_ascii_case("AzureCloud");
            match (cloud, t.contains('.')) {
                (false, true) => 1,
                (false, false) => 2,
                (true, true) => 3,
                (true, false) => 4,
            }
        }
    }
}

/// The prefixes a user route covers: its own, or its tag's (none without tag data).
pub(crate) fn route_prefixes(prefix: &m::RoutePrefix, tags: Option<&ServiceTags>) -> Vec<Ipv4Net> {
    match prefix {
        m::RoutePrefix::Prefix(p) => vec![*p],
        m::RoutePrefix::ServiceTag(t) => tags
            .and_then(|x| x.get(t))
            .map(|x| x.prefixes.clone())
            .unwrap_or_default(),
    }
}

/// The public prefixes a subnet's service endpoints route over the backbone, merged (one
/// `VirtualNetworkServiceEndpoint` route per merged prefix).
pub(crate) fn endpoint_prefixes(s: &m::Subnet, tags: Option<&ServiceTags>) -> Vec<Ipv4Net> {
    let Some(tags) = tags else {
        return Vec::new();
    };
    let mut all = Vec::new();
    for e in &s.service_endpoints {
        let Some(base) = endpoint_tag(&e.service.value) else {
            continue;
        };
        let locations: Vec<String> = e.locations.iter().map(|l| l.value.clone()).collect();
        all.extend(tags.endpoint_prefixes(base, &locations).0);
    }
    aggregate(&all)
}
