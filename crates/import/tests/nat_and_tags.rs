//! NAT gateways and rules naming service tags, from az exports, Resource Graph and Terraform
//! state, and Resource Graph's network manager resources. Expected values are read from the
//! fixtures by hand: `tests/fixtures/az-nat/` (the workspace's) is a VNet whose `snet-nat`
//! has the NAT gateway `ng-app` (public IP `pip-ng` 20.50.60.70 and prefix `ippre-ng`
//! 20.50.61.0/30) and an NSG `nsg-app` whose rule `deny-storage-out` denies outbound traffic
//! to the `Storage` tag.

use std::path::{Path, PathBuf};

use vnetsim_import::{import, ImportOptions, Status};
use vnetsim_model as m;

fn fixture(p: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/")).join(p)
}

fn shared(p: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/"
    ))
    .join(p)
}

fn with_tags() -> ImportOptions {
    ImportOptions {
        service_tags: Some(shared("service-tags.json")),
        ..Default::default()
    }
}

/// A topology validated against the tag file (the YAML names it by absolute path).
fn topo(yaml: &str) -> m::Topology {
    m::load_str("imported.yaml", yaml)
        .unwrap_or_else(|d| panic!("{d}\n{yaml}"))
        .topology()
        .clone()
}

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vnetsim-nat-tags-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A copy of the az-nat bundle with `file` rewritten by `edit`.
fn edited(name: &str, file: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let d = scratch(name);
    for e in std::fs::read_dir(shared("az-nat")).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let text = if p.file_name().unwrap() == file {
            edit(text)
        } else {
            text
        };
        std::fs::write(d.join(p.file_name().unwrap()), text).unwrap();
    }
    d
}

fn nat_of<'t>(t: &'t m::Topology, subnet: &str) -> Option<&'t str> {
    t.vnets[0]
        .subnets
        .iter()
        .find(|s| s.name.value == subnet)
        .unwrap()
        .nat_gateway
        .as_ref()
        .map(|n| n.value.as_str())
}

#[test]
fn an_az_nat_gateway_is_imported_with_its_addresses_and_subnet() {
    let out = import(&[shared("az-nat")], &with_tags()).unwrap_or_else(|e| panic!("{e}"));
    let t = topo(&out.yaml);
    assert_eq!(t.nat_gateways.len(), 1);
    let ng = &t.nat_gateways[0];
    assert_eq!(ng.name.value, "ng-app");
    let ips: Vec<String> = ng
        .public_ip_addresses
        .iter()
        .map(|a| a.value.to_string())
        .collect();
    assert_eq!(ips, ["20.50.60.70"]);
    let pfx: Vec<String> = ng
        .public_ip_prefixes
        .iter()
        .map(|a| a.value.to_string())
        .collect();
    assert_eq!(pfx, ["20.50.61.0/30"]);
    assert!(ng
        .origin
        .as_ref()
        .unwrap()
        .source
        .as_deref()
        .unwrap()
        .ends_with("/natGateways/ng-app"));
    assert_eq!(nat_of(&t, "snet-nat"), Some("ng-app"));
    assert_eq!(nat_of(&t, "snet-plain"), None);
    // The instance public IP stays on its NIC (the NAT gateway takes precedence in the walk).
    let vm = t
        .nics
        .iter()
        .find(|n| n.name.value == "nic-vm-nat")
        .unwrap();
    assert_eq!(
        vm.public_ip_address.as_ref().map(|a| a.value.to_string()),
        Some("20.50.60.80".into())
    );
    let e = |end: &str| {
        out.report
            .entries
            .iter()
            .find(|e| e.id.ends_with(end))
            .unwrap_or_else(|| panic!("{end}"))
            .clone()
    };
    assert_eq!(e("/natGateways/ng-app").status, Status::Imported);
    assert_eq!(e("/publicIPPrefixes/ippre-ng").status, Status::Imported);
    assert_eq!(out.report.unsupported().count(), 0, "{:?}", out.report);
}

#[test]
fn the_gateways_subnets_list_alone_attaches_it() {
    // Without the subnet's own natGateway reference, the gateway's `subnets` list says it.
    let dir = edited("subnets-list", "vnet.json", |t| {
        t.replacen("\"natGateway\"", "\"unrelated\"", 1)
    });
    let t = topo(&import(&[dir], &with_tags()).unwrap().yaml);
    assert_eq!(nat_of(&t, "snet-nat"), Some("ng-app"));
}

#[test]
fn a_public_ip_without_an_address_is_refused_with_the_set_that_supplies_it() {
    let dir = edited("no-address", "public-ip.json", |t| {
        t.replace("\"ipAddress\": \"20.50.60.70\",", "")
    });
    let e = import(std::slice::from_ref(&dir), &with_tags()).expect_err("refused");
    let d = e
        .diagnostics
        .iter()
        .find(|d| d.message.contains("pip-ng"))
        .unwrap_or_else(|| panic!("{e}"));
    assert!(d.message.starts_with("refused"), "{d}");
    assert!(d.message.contains("--set pip-ng.ipAddress=VALUE"), "{d}");
    assert!(d.file.ends_with("nat-gateway.json") && d.line > 1, "{d}");
    let opts = ImportOptions {
        sets: vec![("pip-ng.ipAddress".into(), "20.50.60.99".into())],
        ..with_tags()
    };
    let t = topo(&import(&[dir], &opts).unwrap().yaml);
    assert_eq!(
        t.nat_gateways[0].public_ip_addresses[0].value.to_string(),
        "20.50.60.99"
    );
}

#[test]
fn a_nat_gateway_outside_the_sources_is_a_located_error() {
    let dir = edited("missing", "nat-gateway.json", |_| "[]".into());
    let e = import(&[dir], &with_tags()).expect_err("missing");
    let d = &e.diagnostics[0];
    assert!(d.file.ends_with("vnet.json"), "{d}");
    assert!(
        d.message.contains("/natGateways/ng-app")
            && d.message.contains("az network nat gateway list"),
        "{d}"
    );
}

#[test]
fn terraform_state_gives_the_same_nat_gateway_and_rules() {
    let tf = import(&[shared("tf-nat.state.json")], &with_tags()).unwrap_or_else(|e| panic!("{e}"));
    let az = import(&[shared("az-nat")], &with_tags()).unwrap();
    assert_eq!(tf.yaml, az.yaml);
    let t = topo(&tf.yaml);
    assert_eq!(nat_of(&t, "snet-nat"), Some("ng-app"));
    assert_eq!(
        t.nat_gateways[0].public_ip_prefixes[0].value.to_string(),
        "20.50.61.0/30"
    );
}

#[test]
fn resource_graph_gives_the_same_nat_gateway() {
    let arg = import(&[fixture("arg-nat.json")], &with_tags()).unwrap_or_else(|e| panic!("{e}"));
    let opts = ImportOptions {
        tenant: Some("72f988bf-0000-4000-9000-00000000aaaa".into()),
        ..with_tags()
    };
    let az = import(&[shared("az-nat")], &opts).unwrap();
    assert_eq!(arg.yaml, az.yaml);
    assert_eq!(topo(&arg.yaml).nat_gateways[0].name.value, "ng-app");
}

#[test]
fn an_nsg_rule_naming_a_service_tag_keeps_the_tag_given_the_file() {
    let out = import(&[shared("az-nat")], &with_tags()).unwrap();
    let t = topo(&out.yaml);
    let r = &t.nsgs[0].rules[0];
    assert_eq!(r.name.value, "deny-storage-out");
    assert_eq!(r.access, m::Access::Deny);
    assert!(
        matches!(&r.destination[0].value, m::AddressSpec::NamedTag(s) if s == "Storage"),
        "{:?}",
        r.destination
    );
    let written = t.service_tags_file.as_ref().unwrap().value.clone();
    assert!(Path::new(&written).is_absolute(), "{written}");
    assert!(t.service_tags.as_ref().unwrap().get("Storage").is_some());
}

#[test]
fn without_the_file_the_rule_is_kept_unresolved_and_says_so() {
    let out = import(&[shared("az-nat")], &ImportOptions::default()).unwrap();
    let t = topo(&out.yaml);
    assert!(t.nsgs[0].rules.is_empty());
    assert!(t.service_tags_file.is_none());
    // Kept with everything the export states; the destination is what is unknown.
    let r = &t.nsgs[0].unresolved_rules[0];
    assert_eq!(r.name.value, "deny-storage-out");
    assert_eq!(
        (r.access, r.direction),
        (m::Access::Deny, m::Direction::Outbound)
    );
    assert!(r.destination.is_empty());
    let u = &r.unresolved[0];
    assert_eq!(u.field, "destination");
    assert!(
        u.reason.value.contains("'Storage'") && u.reason.value.contains("--service-tags FILE"),
        "{}",
        u.reason.value
    );
    // Not a resource vnetsim does not model: nothing is left out.
    assert!(out.report.unsupported().next().is_none());
    assert!(out
        .report
        .notes
        .iter()
        .any(|n| n.contains("deny-storage-out") && n.contains("destination unresolved")));
}

#[test]
fn a_tag_the_file_does_not_have_is_reported_not_guessed() {
    let dir = edited("unknown-tag", "nsg.json", |t| {
        t.replace("\"Storage\"", "\"AzureMonitor\"")
    });
    let out = import(&[dir], &with_tags()).unwrap();
    let t = topo(&out.yaml);
    let u = &t.nsgs[0].unresolved_rules[0].unresolved[0];
    assert!(
        u.reason
            .value
            .contains("service tag 'AzureMonitor' is not in the service-tag file"),
        "{}",
        u.reason.value
    );
}

#[test]
fn a_broken_tag_file_is_a_located_error() {
    let bad = scratch("bad-tags").join("tags.json");
    std::fs::write(
        &bad,
        "{\"values\": [ {\"name\": \"Storage\", \"properties\": 7} ]}",
    )
    .unwrap();
    let opts = ImportOptions {
        service_tags: Some(bad),
        ..Default::default()
    };
    let e = import(&[shared("az-nat")], &opts).expect_err("bad file");
    let d = &e.diagnostics[0];
    assert!(
        d.file.ends_with("tags.json") && d.line == 1 && d.col > 1,
        "{d}"
    );
}

#[test]
fn an_admin_rule_naming_a_service_tag_is_imported_given_the_file() {
    // az-avnm.json: allow-storage (AlwaysAllow, Outbound, Tcp 443 to Storage).
    let out = import(&[fixture("az-avnm.json")], &with_tags()).unwrap();
    let t = topo(&out.yaml);
    let rules = &t.network_managers[0].security_admin_configurations[0].rule_collections[0].rules;
    let r = rules
        .iter()
        .find(|r| r.name.value == "allow-storage")
        .expect("imported");
    assert_eq!(r.access, m::admin::AdminAccess::AlwaysAllow);
    assert!(matches!(&r.destinations[0].value, m::AddressSpec::NamedTag(s) if s == "Storage"));
    assert_eq!(rules.len(), 2);
}

#[test]
fn resource_graph_network_manager_resources_import_as_from_az() {
    // arg-avnm.json: the az-avnm.json resources as one `az graph query` page (lower-case types,
    // REST-shaped properties, tenantId).
    let opts = ImportOptions {
        tenant: Some("72f988bf-0000-4000-9000-00000000aaaa".into()),
        ..with_tags()
    };
    let az = import(&[fixture("az-avnm.json")], &opts).unwrap();
    let arg = import(&[fixture("arg-avnm.json")], &with_tags()).unwrap();
    let (a, g) = (topo(&az.yaml), topo(&arg.yaml));
    let (na, ng) = (&a.network_managers[0], &g.network_managers[0]);
    assert_eq!(ng.name.value, "avnm-corp");
    assert_eq!(na.network_groups.len(), ng.network_groups.len());
    for (x, y) in na.network_groups.iter().zip(&ng.network_groups) {
        assert_eq!(x.name.value, y.name.value);
        let names = |g: &m::admin::NetworkGroup| -> Vec<String> {
            g.members.iter().map(|m| m.value.clone()).collect()
        };
        assert_eq!(names(x), names(y));
    }
    let rules = |n: &m::admin::NetworkManager| -> Vec<String> {
        n.security_admin_configurations
            .iter()
            .flat_map(|c| c.rule_collections.iter())
            .flat_map(|c| c.rules.iter())
            .map(|r| {
                format!(
                    "{}/{}/{:?}/{:?}",
                    r.name.value, r.priority.value, r.access, r.direction
                )
            })
            .collect()
    };
    assert_eq!(
        rules(ng),
        [
            "deny-rdp/10/Deny/Inbound",
            "allow-storage/20/AlwaysAllow/Outbound"
        ]
    );
    assert_eq!(rules(na), rules(ng));
    assert_eq!(
        m::admin::connected_groups(&g),
        vec![vec!["vnet-a".to_string(), "vnet-b".to_string()]]
    );
    // And the whole topology, byte for byte.
    assert_eq!(az.yaml, arg.yaml);
}

#[test]
fn a_firewall_network_rule_naming_a_service_tag_gets_its_prefixes_given_the_file() {
    // az-hub-spoke's coll-net-deny/deny-storage-tag denies '*' to 'Storage'. Azure Firewall
    // network rules accept service tags as destinations
    // (learn.microsoft.com/azure/firewall/service-tags); the firewall's rules hold prefixes,
    // so the tag becomes Storage's IPv4 prefixes of tests/fixtures/service-tags.json.
    let out = import(&[fixture("az-hub-spoke")], &with_tags()).unwrap_or_else(|e| panic!("{e}"));
    let t = topo(&out.yaml);
    let deny = &t.firewalls[0].network_rule_collections[1].rules;
    let r = deny
        .iter()
        .find(|r| r.name.value == "deny-storage-tag")
        .expect("imported with the file");
    let want: Vec<m::FwAddress> = ["20.38.108.0/23", "20.60.0.0/24", "52.239.136.0/22"]
        .iter()
        .map(|p| m::FwAddress::Prefix(p.parse().unwrap()))
        .collect();
    assert_eq!(r.destination, want);
    assert_eq!(deny.len(), 2);
}
