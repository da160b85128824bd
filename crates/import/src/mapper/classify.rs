//! What each Azure resource type is to vnetsim: modelled, skipped (not
//! network-relevant) or unsupported (affects packets, not modelled yet).

/// The class of a resource type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Mapped into the topology (or into an object that is).
    Modelled,
    /// Not network-relevant; the reason.
    Skipped(&'static str),
    /// Affects packets but not modelled; what it would affect.
    Unsupported(&'static str),
}

const MODELLED: &[&str] = &[
    "microsoft.network/virtualnetworks",
    "microsoft.network/virtualnetworks/subnets",
    "microsoft.network/virtualnetworks/virtualnetworkpeerings",
    "microsoft.network/networksecuritygroups",
    "microsoft.network/networksecuritygroups/securityrules",
    "microsoft.network/routetables",
    "microsoft.network/routetables/routes",
    "microsoft.network/applicationsecuritygroups",
    "microsoft.network/networkinterfaces",
    "microsoft.network/azurefirewalls",
    "microsoft.network/firewallpolicies",
    "microsoft.network/firewallpolicies/rulecollectiongroups",
    "microsoft.network/ipgroups",
    "microsoft.network/privateendpoints",
    "microsoft.network/virtualnetworkgateways",
    "microsoft.network/localnetworkgateways",
    "microsoft.network/connections",
    "microsoft.network/expressroutecircuits",
    "microsoft.network/expressroutecircuits/peerings",
    "microsoft.network/publicipaddresses",
    "microsoft.network/publicipprefixes",
    "microsoft.network/natgateways",
    "microsoft.network/networkmanagers",
    "microsoft.network/networkmanagers/networkgroups",
    "microsoft.network/networkmanagers/networkgroups/staticmembers",
    "microsoft.network/networkmanagers/securityadminconfigurations",
    "microsoft.network/networkmanagers/securityadminconfigurations/rulecollections",
    "microsoft.network/networkmanagers/securityadminconfigurations/rulecollections/rules",
    "microsoft.network/networkmanagers/connectivityconfigurations",
    "microsoft.network/loadbalancers",
    "microsoft.network/applicationgateways",
];

const UNSUPPORTED: &[(&str, &str)] = &[
    ("microsoft.network/virtualhubs/hubvirtualnetworkconnections", "Virtual WAN hub routes in the connected VNet: its traffic toward addresses outside its own and its peers' address spaces may follow them"),
    ("microsoft.network/virtualhubs", "Virtual WAN hub routing: routes between hubs, branches and connected VNets"),
    ("microsoft.network/virtualhubs/ipconfigurations", "Virtual WAN hub addressing"),
    ("microsoft.network/virtualhubs/bgpconnections", "Virtual WAN hub BGP peering with an NVA: routes injected into connected VNets"),
    ("microsoft.network/virtualwans", "Virtual WAN routing between hubs, branches and VNets"),
    ("microsoft.network/vpngateways", "Virtual WAN site-to-site VPN routing"),
    ("microsoft.network/p2svpngateways", "Virtual WAN point-to-site VPN routing"),
    ("microsoft.network/expressroutegateways", "Virtual WAN ExpressRoute routing"),
    ("microsoft.network/vpnsites", "Virtual WAN branch prefixes"),
    ("microsoft.network/applicationgatewaywebapplicationfirewallpolicies", "HTTP(S) traffic through Application Gateway (WAF)"),
    ("microsoft.network/bastionhosts", "management traffic from AzureBastionSubnet to VMs"),
    ("microsoft.network/expressrouteports", "routes and traffic to on-premises over ExpressRoute Direct"),
    ("microsoft.network/networkvirtualappliances", "traffic through an NVA in a Virtual WAN hub"),
    ("microsoft.network/privatelinkservices", "traffic into the Private Link service frontend"),
    ("microsoft.network/dnsresolvers", "DNS resolution through inbound/outbound endpoints"),
    ("microsoft.network/networkmanagers", "network manager parts other than network groups, security admin and connectivity configurations (routing configurations, IPAM, verifier)"),
    ("microsoft.network/routefilters", "Microsoft peering routes over ExpressRoute"),
    ("microsoft.network/frontdoors", "HTTP(S) traffic entering through Front Door"),
    ("microsoft.network/virtualnetworktaps", "mirrored traffic"),
    ("microsoft.network/virtualnetworkgateways/natrules", "NAT on the VPN gateway"),
    ("microsoft.network/ddosprotectionplans", "traffic dropped under DDoS mitigation"),
    ("microsoft.cdn/profiles", "HTTP(S) traffic entering through Front Door"),
];

const SKIPPED_NETWORK: &[(&str, &str)] = &[
    (
        "microsoft.network/privatednszones",
        "DNS names only; addresses come from the Private Endpoints",
    ),
    (
        "microsoft.network/privatednszones/virtualnetworklinks",
        "DNS zone link; no effect on packets",
    ),
    (
        "microsoft.network/privatednszones/a",
        "DNS record; no effect on packets",
    ),
    (
        "microsoft.network/privateendpoints/privatednszonegroups",
        "DNS registration of a Private Endpoint; no effect on packets",
    ),
    ("microsoft.network/networkwatchers", "monitoring only"),
    (
        "microsoft.network/networkwatchers/flowlogs",
        "flow logging only",
    ),
    (
        "microsoft.network/networksecuritygroups/providers/diagnosticsettings",
        "diagnostics only",
    ),
    ("microsoft.network/dnszones", "public DNS only"),
    (
        "microsoft.network/trafficmanagerprofiles",
        "DNS-based routing only",
    ),
];

/// Classifies a lower-cased resource type.
pub fn classify(kind: &str) -> Class {
    let kind = kind.trim_end_matches('/');
    if MODELLED.contains(&kind) {
        return Class::Modelled;
    }
    if kind.starts_with("terraform/azurerm_") && kind.ends_with("_association") {
        return Class::Unsupported(
            "a Terraform association whose target (subnet, NIC, NAT gateway, pool, rule) is not in \
             the state, or of a kind not mapped: what it attaches is not modelled",
        );
    }
    if kind.contains("/providers/")
        || kind.ends_with("/diagnosticsettings")
        || kind.starts_with("microsoft.insights/")
    {
        return Class::Skipped("diagnostic settings (logging only)");
    }
    if kind.starts_with("microsoft.network/networkwatchers/") {
        return Class::Skipped("flow logging and monitoring only");
    }
    if kind.starts_with("microsoft.network/privatednszones/") {
        return Class::Skipped("DNS records and links only; no effect on packets");
    }
    if let Some((_, what)) = UNSUPPORTED.iter().find(|(k, _)| *k == kind) {
        return Class::Unsupported(what);
    }
    if let Some((_, what)) = UNSUPPORTED
        .iter()
        .find(|(k, _)| kind.starts_with(&format!("{k}/")))
    {
        return Class::Unsupported(what);
    }
    if let Some((_, why)) = SKIPPED_NETWORK.iter().find(|(k, _)| *k == kind) {
        return Class::Skipped(why);
    }
    if kind.starts_with("microsoft.network/") {
        return Class::Unsupported("an unrecognised network resource: it may affect packets");
    }
    Class::Skipped(skip_reason(kind))
}

fn skip_reason(kind: &str) -> &'static str {
    let ns = kind.split('/').next().unwrap_or("");
    match ns {
        "microsoft.compute" => "compute (its NICs carry the network part)",
        "microsoft.storage" => "storage (reached through Private Endpoints or public endpoints)",
        "microsoft.keyvault" => "Key Vault (reached through Private Endpoints or public endpoints)",
        "microsoft.operationalinsights" | "microsoft.insights" => "monitoring and logging",
        "microsoft.resources" => "deployment or resource group",
        "microsoft.managedidentity" | "microsoft.authorization" => "identity and access",
        _ => "not network-relevant",
    }
}
