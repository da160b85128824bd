//! The evaluator on a hand-written template (tests/fixtures/arm-features):
//! comments, raw newlines in an expression, variable and property copy
//! loops, filter/reduce lambdas, lazy if(), conditions, reference() to a
//! declared subnet, a linked template mapped by --template-root, and a
//! parameter file. Expected values follow from the template by hand.

use std::path::PathBuf;

use vnetsim_import::{import, ImportOptions};
use vnetsim_model as m;

fn dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/arm-features"
    ))
}

fn opts() -> ImportOptions {
    ImportOptions {
        template_roots: vec![("https://templates.example.org/lab/".into(), dir())],
        ..Default::default()
    }
}

fn topo() -> m::Topology {
    let srcs = [dir().join("main.json"), dir().join("main.parameters.json")];
    let i = import(&srcs, &opts()).unwrap_or_else(|e| panic!("{e}"));
    m::load_str("t.yaml", &i.yaml)
        .unwrap_or_else(|d| panic!("{:?}\n{}", d.items, i.yaml))
        .topology()
        .clone()
}

#[test]
fn copy_loops_lambdas_and_conditions() {
    let t = topo();
    let names: Vec<&str> = t.vnets.iter().map(|v| v.name.value.as_str()).collect();
    // spokeCount 2 from the parameter file; "never" has a false condition.
    assert_eq!(names, ["lab-hub", "lab-spoke1", "lab-spoke2"]);
    let hub = &t.vnets[0];
    let subnets: Vec<(String, String)> = hub
        .subnets
        .iter()
        .map(|s| (s.name.value.clone(), s.address_prefix.value.to_string()))
        .collect();
    // filter() keeps snet-a and snet-b; cidrSubnet(10.0.0.0/16, 24, i).
    assert_eq!(
        subnets,
        [
            ("snet-a".to_string(), "10.0.0.0/24".to_string()),
            ("snet-b".to_string(), "10.0.1.0/24".to_string())
        ]
    );
    // spokeSpaces[i] = cidrSubnet('10.8.0.0/13', 16, i + 1): 10.9.0.0/16 and 10.10.0.0/16.
    assert_eq!(t.vnets[1].address_space[0].value.to_string(), "10.9.0.0/16");
    assert_eq!(
        t.vnets[2].address_space[0].value.to_string(),
        "10.10.0.0/16"
    );
    assert_eq!(
        t.vnets[2].subnets[0].address_prefix.value.to_string(),
        "10.10.0.0/24"
    );
}

#[test]
fn linked_template_and_reference_to_a_declared_value() {
    let t = topo();
    let rt = &t.route_tables[0];
    assert_eq!(rt.name.value, "rt-linked");
    // reference(hub).subnets[1].properties.addressPrefix = 10.0.1.0/24 -> replace '.0/24' by '.10'.
    assert_eq!(
        rt.routes[0]
            .next_hop_ip_address
            .as_ref()
            .unwrap()
            .value
            .to_string(),
        "10.0.1.10"
    );
    assert!(rt
        .origin
        .as_ref()
        .unwrap()
        .source
        .as_ref()
        .unwrap()
        .contains("rt.json:"));
}

#[test]
fn linked_template_url_without_a_root_is_a_located_error() {
    let srcs = [dir().join("main.json"), dir().join("main.parameters.json")];
    let e = import(&srcs, &ImportOptions::default()).expect_err("not fetched");
    let d = e
        .diagnostics
        .iter()
        .find(|d| d.message.contains("--template-root"))
        .unwrap_or_else(|| panic!("{e}"));
    assert!(
        d.file.ends_with("main.json")
            && d.message
                .contains("https://templates.example.org/lab/linked/rt.json"),
        "{d}"
    );
}

#[test]
fn missing_parameter_value_is_refused_where_it_matters() {
    let e = import(&[dir().join("main.json")], &opts()).expect_err("hubCidr has no value");
    assert!(
        e.diagnostics
            .iter()
            .any(|d| d.message.contains("parameter 'hubCidr' has no value")),
        "{e}"
    );
}

#[test]
fn inline_and_child_declarations_are_merged() {
    let f = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/arm-merge.json"
    ));
    let i = import(&[f], &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("t.yaml", &i.yaml).unwrap().topology().clone();
    let v = &t.vnets[0];
    let names: Vec<&str> = v.subnets.iter().map(|s| s.name.value.as_str()).collect();
    // snet-a inline and as a child (the child adds the NSG); snet-b as a nested child resource.
    assert_eq!(names, ["snet-a", "snet-b"]);
    assert_eq!(v.subnets[0].nsg.as_ref().unwrap().value, "nsg-a");
    assert_eq!(
        v.subnets[1].address_prefix.value.to_string(),
        "10.70.2.0/24"
    );
    // Route r1 inline (Internet) and as a child (None): one route, the child's.
    let rt = &t.route_tables[0];
    assert_eq!(rt.routes.len(), 1);
    assert_eq!(rt.routes[0].next_hop_type.value, m::NextHopType::None);
}

#[test]
fn dynamic_nic_address_is_refused_then_supplied() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("vnetsim-nic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("nic.json");
    let t = r#"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [
    { "type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-05-01", "name": "v",
      "properties": { "addressSpace": { "addressPrefixes": ["10.9.0.0/16"] },
                      "subnets": [ { "name": "s", "properties": { "addressPrefix": "10.9.1.0/24" } } ] } },
    { "type": "Microsoft.Network/networkInterfaces", "apiVersion": "2023-05-01", "name": "nic-vm",
      "properties": { "ipConfigurations": [ { "name": "ipconfig1", "properties": {
        "privateIPAllocationMethod": "Dynamic",
        "subnet": { "id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'v', 's')]" } } } ] } }
  ]
}"#;
    std::fs::write(&f, t).unwrap();
    let e =
        import(std::slice::from_ref(&f), &ImportOptions::default()).expect_err("dynamic address");
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    assert!(
        e.diagnostics[0]
            .message
            .contains("--set nic-vm.privateIpAddress=VALUE"),
        "{e}"
    );
    // Line 9 holds the NIC's ipConfigurations entry.
    assert_eq!(e.diagnostics[0].line, 9, "{e}");
    let opts = ImportOptions {
        sets: vec![("nic-vm.privateIpAddress".into(), "10.9.1.7".into())],
        ..Default::default()
    };
    let i = import(&[f], &opts).unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("t.yaml", &i.yaml).unwrap().topology().clone();
    assert_eq!(t.nics[0].private_ip_address.value.to_string(), "10.9.1.7");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cidr_host_and_array_index_of() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("vnetsim-cidr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("t.json");
    // Per the ARM docs, cidrHost('10.144.3.0/24', 0) is 10.144.3.1, so index 3 is 10.144.3.4.
    let t = r#"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [
    { "type": "Microsoft.Network/routeTables", "apiVersion": "2023-05-01",
      "name": "[concat('rt', string(indexOf(createArray('a', 'b', 'c'), 'b')))]",
      "properties": { "routes": [ { "name": "r", "properties": { "addressPrefix": "0.0.0.0/0",
        "nextHopType": "VirtualAppliance", "nextHopIpAddress": "[cidrHost('10.144.3.0/24', 3)]" } } ] } }
  ]
}"#;
    std::fs::write(&f, t).unwrap();
    let i = import(&[f], &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("t.yaml", &i.yaml).unwrap().topology().clone();
    assert_eq!(t.route_tables[0].name.value, "rt1");
    assert_eq!(
        t.route_tables[0].routes[0]
            .next_hop_ip_address
            .as_ref()
            .unwrap()
            .value
            .to_string(),
        "10.144.3.4"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn user_defined_functions() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("vnetsim-udf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("t.json");
    let t = r#"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "functions": [ { "namespace": "net", "members": {
      "slice": { "parameters": [ { "name": "base", "type": "string" }, { "name": "i", "type": "int" } ],
                 "output": { "type": "string", "value": "[cidrSubnet(parameters('base'), 24, mul(parameters('i'), 2))]" } } } } ],
  "resources": [
    { "type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-05-01", "name": "v",
      "properties": { "addressSpace": { "addressPrefixes": ["10.5.0.0/16"] },
        "subnets": [ { "name": "s", "properties": { "addressPrefix": "[net.slice('10.5.0.0/16', 3)]" } } ] } }
  ]
}"#;
    std::fs::write(&f, t).unwrap();
    let i = import(&[f], &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let t = m::load_str("t.yaml", &i.yaml).unwrap().topology().clone();
    // cidrSubnet('10.5.0.0/16', 24, 6) = 10.5.6.0/24.
    assert_eq!(
        t.vnets[0].subnets[0].address_prefix.value.to_string(),
        "10.5.6.0/24"
    );
    std::fs::remove_dir_all(&dir).ok();
}
