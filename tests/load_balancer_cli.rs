//! Load balancers and Application Gateway through the real binary: an internal load balancer
//! with HA ports in front of two NVAs (spread, symmetry, asymmetry across load balancers),
//! a public load balancer with a load-balancing rule, inbound NAT and an outbound rule, health,
//! Floating IP, and Application Gateway v2 in front of a VM and of a Private Endpoint reached
//! through Azure Firewall. Expected values from Microsoft's documentation, cited per case.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

fn fixture() -> String {
    common::root()
        .join("tests/fixtures/load-balancers.yaml")
        .to_string_lossy()
        .into_owned()
}

/// A variant of the fixture, with `from` replaced by `to`.
fn variant(tag: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(fixture()).unwrap();
    assert!(text.contains(from), "fixture lacks {from}");
    let p = common::tmp("lb", &format!("{tag}.yaml"));
    std::fs::write(&p, text.replace(from, to)).unwrap();
    p.to_string_lossy().into_owned()
}

fn trace_in(topology: &str, args: &[&str]) -> Value {
    let mut a = vec!["trace", topology];
    a.extend_from_slice(args);
    a.push("--json");
    serde_json::from_str(&common::ok(&a)).unwrap()
}

fn trace(args: &[&str]) -> Value {
    trace_in(&fixture(), args)
}

/// The NVA NICs a leg crossed, in order.
fn nvas(leg: &Value) -> Vec<String> {
    leg["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["node"].as_str().unwrap().to_string())
        .filter(|n| n.starts_with("nic:nva"))
        .collect()
}

fn nodes(leg: &Value) -> Vec<String> {
    leg["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["node"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ha_ports_ilb_spreads_flows_deterministically_and_symmetrically() {
    // learn.microsoft.com/azure/load-balancer/load-balancer-ha-ports-overview: with HA ports
    // on an internal load balancer in front of NVAs, a user route's next hop is the frontend;
    // flows are distributed over the backend pool (five-tuple hash by default,
    // learn.microsoft.com/azure/load-balancer/distribution-mode-concepts) and, with one
    // frontend and one pool, a flow and its reply go to the same NVA (flow symmetry).
    let mut used = BTreeSet::new();
    for port in 40000..40016u16 {
        let p = port.to_string();
        let args = ["--src", "10.1.0.4", "--dst", "10.2.0.4", "--src-port", &p];
        let v = trace(&args);
        assert_eq!(v["outcome"], "reachable", "{v}");
        let fwd = nvas(&v["forward"]);
        assert_eq!(fwd.len(), 1, "one NVA per direction: {fwd:?}");
        assert_eq!(
            nvas(&v["return"]),
            fwd,
            "symmetric: the reply crosses the same NVA"
        );
        assert!(nodes(&v["forward"]).contains(&"lb:ilb-nva".to_string()));
        // No address translation: the destination sees the client (routed, not DNAT).
        assert_eq!(v["forward"]["srcSeen"], "10.1.0.4");
        assert_eq!(v["forward"]["dstSeen"], "10.2.0.4");
        // Deterministic: the same flow, the same NVA.
        assert_eq!(nvas(&trace(&args)["forward"]), fwd);
        used.insert(fwd[0].clone());
    }
    let both: BTreeSet<String> = ["nic:nva1", "nic:nva2"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(used, both, "16 flows spread over both NVAs");
}

#[test]
fn two_load_balancers_give_no_symmetry() {
    // load-balancer-ha-ports-overview, "Flow symmetry": symmetry isn't guaranteed across two
    // different load balancers; a stateful NVA that did not see the reply drops the connection.
    // spoke1 reaches spoke3 through ilb-nva (nva1/nva2); spoke3's route sends the reply to
    // ilb-east (nva3/nva4): the request's NVA never sees the reply.
    let v = trace(&["--src", "10.1.0.4", "--dst", "10.3.0.4"]);
    assert_eq!(v["outcome"], "no-return", "{v}");
    assert_eq!(v["symmetric"], false);
    let fwd = nvas(&v["forward"]);
    let ret = nvas(&v["return"]);
    assert!(fwd[0] == "nic:nva1" || fwd[0] == "nic:nva2", "{fwd:?}");
    assert!(ret[0] == "nic:nva3" || ret[0] == "nic:nva4", "{ret:?}");
    assert_eq!(v["bypassed"], fwd[0].as_str());
}

#[test]
fn a_backend_marked_down_gets_no_flow() {
    // learn.microsoft.com/azure/load-balancer/load-balancer-custom-probe-overview: the load
    // balancer sends new flows only to backends whose health probe succeeds.
    let t = variant(
        "down",
        "backends: [nva1, nva2]",
        "backends: [nva1, { nic: nva2, health: down }]",
    );
    for port in 40000..40008u16 {
        let p = port.to_string();
        let v = trace_in(
            &t,
            &["--src", "10.1.0.4", "--dst", "10.2.0.4", "--src-port", &p],
        );
        assert_eq!(nvas(&v["forward"]), ["nic:nva1"]);
    }
    let t = variant(
        "all-down",
        "backends: [nva1, nva2]",
        "backends: [{ nic: nva1, health: down }, { nic: nva2, health: down }]",
    );
    let v = trace_in(&t, &["--src", "10.1.0.4", "--dst", "10.2.0.4"]);
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["droppedAt"], "lb:ilb-nva");
}

#[test]
fn an_nsg_denying_the_probe_takes_the_backend_down() {
    // Health probes come from 168.63.129.16 (service tag AzureLoadBalancer); an NSG that blocks
    // it marks the backend down (load-balancer-custom-probe-overview, "Probe source IP").
    let t = variant(
        "probe-denied",
        "  - name: nsg-nva\n    rules: []",
        "  - name: nsg-nva\n    rules:\n      - { name: deny-probe, priority: 100, direction: Inbound, access: Deny, protocol: '*',\n          source: AzureLoadBalancer, destination: '*', destinationPorts: '*' }",
    );
    let v = trace_in(&t, &["--src", "10.1.0.4", "--dst", "10.2.0.4"]);
    assert_eq!(v["outcome"], "unreachable", "{v}");
    assert_eq!(v["forward"]["droppedAt"], "lb:ilb-nva");
    assert!(
        v["reason"].as_str().unwrap().contains("health probe"),
        "{v}"
    );
}

#[test]
fn public_lb_rule_translates_to_the_backend_and_back() {
    // learn.microsoft.com/azure/load-balancer/load-balancer-floating-ip: without Floating IP
    // Azure exposes the backend instance's IP (the destination is rewritten); the reply leaves
    // from the frontend address.
    let v = trace(&[
        "--src",
        "203.0.113.10",
        "--dst",
        "20.50.0.10",
        "--dst-port",
        "80",
    ]);
    assert_eq!(v["outcome"], "reachable", "{v}");
    let to = v["forward"]["deliveredTo"].as_str().unwrap();
    assert!(to == "nic:web1" || to == "nic:web2", "{to}");
    let ip = if to == "nic:web1" {
        "10.0.4.4"
    } else {
        "10.0.4.5"
    };
    assert_eq!(v["forward"]["dstSeen"], ip);
    assert_eq!(v["forward"]["srcSeen"], "203.0.113.10");
    assert_eq!(v["return"]["srcSeen"], "20.50.0.10");
    assert_eq!(v["return"]["deliveredTo"], "internet");
    // A port no rule serves is dropped at the load balancer.
    let v = trace(&[
        "--src",
        "203.0.113.10",
        "--dst",
        "20.50.0.10",
        "--dst-port",
        "8080",
    ]);
    assert_eq!(v["outcome"], "unreachable");
    assert_eq!(v["forward"]["droppedAt"], "lb:lb-web");
}

#[test]
fn floating_ip_keeps_the_frontend_as_destination() {
    // load-balancer-floating-ip: with Floating IP enabled Azure changes the IP address mapping
    // to the frontend IP of the load balancer: the backend sees the frontend as destination.
    let t = variant(
        "floating",
        "probe: http, disableOutboundSnat: true }",
        "probe: http, disableOutboundSnat: true, enableFloatingIP: true }",
    );
    let v = trace_in(
        &t,
        &[
            "--src",
            "203.0.113.10",
            "--dst",
            "20.50.0.10",
            "--dst-port",
            "80",
        ],
    );
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["dstSeen"], "20.50.0.10");
    assert_eq!(v["return"]["srcSeen"], "20.50.0.10");
}

#[test]
fn inbound_nat_rule_maps_one_frontend_port_to_one_vm() {
    // learn.microsoft.com/azure/load-balancer/inbound-nat-rules: an inbound NAT rule forwards
    // traffic sent to a frontend IP and port to one backend instance's port.
    let v = trace(&[
        "--src",
        "198.51.100.7",
        "--dst",
        "20.50.0.10",
        "--dst-port",
        "50001",
    ]);
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["deliveredTo"], "nic:web1");
    assert_eq!(v["forward"]["dstSeen"], "10.0.4.4");
    let hop = &v["forward"]["hops"][1];
    assert_eq!(hop["node"], "lb:lb-web");
    assert_eq!(hop["rule"], "lb-web/inboundNatRules/ssh-web1");
    assert_eq!(v["return"]["srcSeen"], "20.50.0.10");
}

#[test]
fn outbound_rule_is_the_backends_egress_source() {
    // learn.microsoft.com/azure/load-balancer/outbound-rules: outbound rules define SNAT to
    // the load balancer's frontend public IP for the pool; they are followed only if the VM
    // has no instance-level public IP.
    let v = trace(&["--src", "10.0.4.5", "--dst", "8.8.8.8"]);
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["srcSeen"], "20.50.0.10");
    assert_eq!(v["return"]["deliveredTo"], "nic:web2");
    let t = variant(
        "ilpip",
        "privateIpAddress: 10.0.4.5 }",
        "privateIpAddress: 10.0.4.5, publicIpAddress: 20.50.0.99 }",
    );
    let v = trace_in(&t, &["--src", "10.0.4.5", "--dst", "8.8.8.8"]);
    assert_eq!(v["forward"]["srcSeen"], "20.50.0.99");
}

#[test]
fn application_gateway_to_a_vm_backend_sees_an_instance_address() {
    // learn.microsoft.com/azure/application-gateway/how-application-gateway-works: the gateway
    // terminates the client connection and opens a new one to the backend from its own
    // (instance) private address; the client address travels in X-Forwarded-For
    // (learn.microsoft.com/azure/application-gateway/rewrite-http-headers-url).
    let v = trace(&[
        "--src",
        "8.8.8.8",
        "--dst",
        "20.50.0.20",
        "--dst-port",
        "443",
    ]);
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["deliveredTo"], "nic:web1");
    let src = v["forward"]["srcSeen"].as_str().unwrap();
    assert!(
        src == "10.0.3.4" || src == "10.0.3.5",
        "an instance of snet-agw: {src}"
    );
    assert_eq!(v["forward"]["dstSeen"], "10.0.4.4");
    assert_eq!(v["xForwardedFor"], "8.8.8.8");
    assert_eq!(v["return"]["srcSeen"], "20.50.0.20");
    assert_eq!(v["return"]["deliveredTo"], "internet");
    // No listener on port 80.
    let v = trace(&[
        "--src",
        "8.8.8.8",
        "--dst",
        "20.50.0.20",
        "--dst-port",
        "80",
    ]);
    assert_eq!(v["outcome"], "unreachable");
}

#[test]
fn application_gateway_to_a_private_endpoint_through_the_firewall() {
    // learn.microsoft.com/azure/architecture/example-scenario/gateway/firewall-application-gateway
    // ("Application Gateway before Firewall") and
    // learn.microsoft.com/azure/private-link/inspect-traffic-with-azure-firewall: the gateway
    // subnet's /32 user route sends endpoint traffic to the firewall; the firewall's
    // application rule proxies it (SNAT to a firewall instance), so the endpoint sees the
    // firewall and its reply returns through the firewall and the gateway.
    let v = trace(&[
        "--src",
        "10.1.0.4",
        "--dst",
        "10.0.3.10",
        "--dst-port",
        "443",
    ]);
    assert_eq!(v["outcome"], "reachable", "{v}");
    assert_eq!(v["forward"]["deliveredTo"], "pe:pe-app");
    assert_eq!(v["forward"]["srcSeen"], "10.0.2.5");
    assert_eq!(v["xForwardedFor"], "10.1.0.4");
    let fwd = nodes(&v["forward"]);
    let (g, fw) = (
        fwd.iter().position(|n| n == "appgw:agw").unwrap(),
        fwd.iter().position(|n| n == "firewall:afw").unwrap(),
    );
    assert!(g < fw, "gateway, then firewall: {fwd:?}");
    assert!(nodes(&v["return"]).contains(&"firewall:afw".to_string()));
    assert_eq!(v["return"]["deliveredTo"], "nic:vm1");
}

#[test]
fn private_endpoint_reply_bypasses_a_firewall_that_does_not_snat() {
    // inspect-traffic-with-azure-firewall: Private Endpoint return traffic ignores user routes
    // (network policies disabled), so with a network rule (no SNAT toward a private
    // destination) the reply goes straight back to the gateway, around the firewall:
    // asymmetric. Azure recommends SNAT on the firewall for this design.
    let t = variant(
        "no-snat",
        "    applicationRuleCollections:\n      - name: paas\n        priority: 200\n        action: Allow\n        rules:\n          - { name: to-app, source: ['10.0.3.0/24'], protocols: ['Https:443'], targetFqdns: ['app-web.azurewebsites.net'] }",
        "    networkRuleCollections:\n      - name: paas\n        priority: 200\n        action: Allow\n        rules:\n          - { name: to-pe, protocols: [TCP], source: ['10.0.3.0/24'], destination: ['10.2.1.10/32'], destinationPorts: ['443'] }",
    );
    let v = trace_in(
        &t,
        &[
            "--src",
            "10.1.0.4",
            "--dst",
            "10.0.3.10",
            "--dst-port",
            "443",
        ],
    );
    assert_eq!(v["outcome"], "no-return", "{v}");
    assert_eq!(v["bypassed"], "firewall:afw");
    let src = v["forward"]["srcSeen"].as_str().unwrap();
    assert!(
        src == "10.0.3.4" || src == "10.0.3.5",
        "the gateway instance: {src}"
    );
}

fn errors_of(topology: &str) -> String {
    let (code, out, err) = common::run(&["validate", topology]);
    assert_ne!(code, 0, "must be refused: {out}");
    err
}

#[test]
fn validate_refuses_invalid_load_balancer_and_gateway_forms() {
    // load-balancer-ha-ports-overview: HA ports are available for internal Standard load
    // balancers only. Backend pool members are in the load balancer's virtual network
    // (learn.microsoft.com/azure/load-balancer/backend-pool-management). Application Gateway
    // needs a dedicated subnet: no other resources in it
    // (learn.microsoft.com/azure/application-gateway/configuration-infrastructure).
    let t = variant(
        "ha-public",
        "      - { name: http, frontendIPConfiguration: fe-public, backendAddressPool: web, protocol: Tcp,\n          frontendPort: 80, backendPort: 80,",
        "      - { name: ha, frontendIPConfiguration: fe-public, backendAddressPool: web, protocol: All,\n          frontendPort: 0, backendPort: 0 }\n      - { name: http, frontendIPConfiguration: fe-public, backendAddressPool: web, protocol: Tcp,\n          frontendPort: 80, backendPort: 80,",
    );
    let e = errors_of(&t);
    assert!(
        e.contains("HA ports") && e.contains("internal load balancer only"),
        "{e}"
    );
    assert!(e.contains("ha-public.yaml:"), "located: {e}");

    let t = variant(
        "other-vnet",
        "backends: [nva1, nva2]",
        "backends: [nva1, vm1]",
    );
    let e = errors_of(&t);
    assert!(
        e.contains("backend NIC 'vm1'") && e.contains("must be in vnet hub"),
        "{e}"
    );

    let t = variant(
        "shared-subnet",
        "  - { name: web2, subnet: hub/snet-web, privateIpAddress: 10.0.4.5 }",
        "  - { name: web2, subnet: hub/snet-web, privateIpAddress: 10.0.4.5 }\n  - { name: stray, subnet: hub/snet-agw, privateIpAddress: 10.0.3.20 }",
    );
    let e = errors_of(&t);
    assert!(e.contains("dedicated subnet"), "{e}");

    let t = variant(
        "dup-port",
        "backendPort: 22, backend: web1 }",
        "backendPort: 22, backend: web1 }\n      - { name: dup, frontendIPConfiguration: fe-public, protocol: Tcp, frontendPort: 80,\n          backendPort: 22, backend: web2 }",
    );
    let e = errors_of(&t);
    assert!(e.contains("frontend port 80/Tcp is already used"), "{e}");

    let t = variant(
        "nat-form",
        "backendPort: 22, backend: web1 }",
        "backendPort: 22 }",
    );
    let e = errors_of(&t);
    assert!(e.contains("either frontendPort with backend"), "{e}");
}

#[test]
fn validate_warns_when_the_gateway_subnet_nsg_blocks_infrastructure_ports() {
    // configuration-infrastructure: for v2, allow inbound TCP 65200-65535 from GatewayManager.
    let t = variant(
        "no-gwm",
        "      - { name: allow-gateway-manager, priority: 100, direction: Inbound, access: Allow, protocol: Tcp,\n          source: '*', destination: '*', destinationPorts: '65200-65535' }\n",
        "",
    );
    let (code, _, err) = common::run(&["validate", &t]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("65200-65535"), "{err}");
}
