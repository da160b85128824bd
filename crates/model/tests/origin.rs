//! The optional `origin:` mapping on top-level objects.

const TOPO: &str = r#"
version: 1
vnets:
  - name: vnet-a
    addressSpace: [10.0.0.0/16]
    origin:
      source: /subscriptions/s1/resourceGroups/rg-a/providers/Microsoft.Network/virtualNetworks/vnet-a
      subscription: s1
      resourceGroup: rg-a
      tenant: t1
      owner: team-net
    subnets:
      - { name: snet, addressPrefix: 10.0.1.0/24 }
nsgs:
  - name: nsg-a
    origin: { source: "exports/nsg.json:3", resourceGroup: rg-b }
    rules: []
"#;

#[test]
fn origin_is_decoded_on_top_level_objects() {
    let v = vnetsim_model::load_str("t.yaml", TOPO).expect("valid");
    let t = v.topology();
    let o = t.vnets[0].origin.as_ref().expect("vnet origin");
    assert_eq!(o.subscription.as_deref(), Some("s1"));
    assert_eq!(o.resource_group.as_deref(), Some("rg-a"));
    assert_eq!(o.tenant.as_deref(), Some("t1"));
    assert_eq!(o.owner.as_deref(), Some("team-net"));
    assert!(o
        .source
        .as_deref()
        .unwrap()
        .ends_with("/virtualNetworks/vnet-a"));
    let n = t.nsgs[0].origin.as_ref().expect("nsg origin");
    assert_eq!(n.source.as_deref(), Some("exports/nsg.json:3"));
    assert_eq!(n.subscription, None);
}

#[test]
fn unknown_origin_key_is_an_error() {
    let bad = TOPO.replace("owner: team-net", "ownr: team-net");
    let d = vnetsim_model::load_str("t.yaml", &bad).expect_err("must fail");
    assert!(d.errors().any(|e| e.message.contains("unknown key 'ownr'")));
}

#[test]
fn origin_is_not_accepted_on_subnets() {
    let bad = TOPO.replace(
        "{ name: snet, addressPrefix: 10.0.1.0/24 }",
        "{ name: snet, addressPrefix: 10.0.1.0/24, origin: { source: x } }",
    );
    assert!(vnetsim_model::load_str("t.yaml", &bad).is_err());
}
