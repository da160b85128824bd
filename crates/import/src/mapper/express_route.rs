//! ExpressRoute circuits (`Microsoft.Network/expressRouteCircuits` and its `peerings`, az
//! `network express-route list`, Terraform `azurerm_express_route_circuit` and
//! `azurerm_express_route_circuit_peering`) and the connections of `connectionType`
//! ExpressRoute that attach them to ExpressRoute gateways (`peer`, Terraform
//! `express_route_circuit_id`).
//!
//! A circuit becomes an `expressRouteCircuits` entry with its private peering's ASN. The
//! prefixes on-premises advertises over that peering are learned over BGP at run time and are in
//! no resource export: the circuit is written with none, the report says so, and each VNet that
//! gets the gateway's routes (the gateway's own, and those peered to it with
//! `useRemoteGateways`) is marked with a `notModelled` entry (`vnet:`), so that a walk such a
//! route could take ends naming the peering instead of a guess.

use super::{arr, text, Ctx, Kind};
use crate::ir::{last_segment, parent_id, prop, ref_id, Resource};
use crate::json::Val;
use crate::report::Status;
use crate::yaml::{M, Y};

pub(crate) const CIRCUIT: &str = "microsoft.network/expressroutecircuits";
const PEERING: &str = "microsoft.network/expressroutecircuits/peerings";
const PEERING_TYPE: &str = "Microsoft.Network/expressRouteCircuits/peerings";

/// An ExpressRoute connection: the gateway and the circuit it names (`peer`).
pub(crate) fn connection(c: &mut Ctx, i: usize, gw: Option<String>) {
    let r = c.res[i];
    let circuit = prop(&r.body, "peer").and_then(ref_id).map(str::to_string);
    let (Some(gw), Some(circuit)) = (gw, circuit) else {
        c.mark(
            i,
            Status::Unsupported,
            "ExpressRoute connection without virtualNetworkGateway1 or peer: routes over it are not modelled",
        );
        return;
    };
    if c.get(&circuit).is_none() {
        let pos = prop(&r.body, "peer").map(|v| v.pos).unwrap_or(r.pos);
        c.missing(pos, &circuit, "ExpressRoute circuit");
        return;
    }
    if !c
        .circuit_peering
        .contains_key(&circuit.to_ascii_lowercase())
    {
        c.mark(
            i,
            Status::Unsupported,
            format!(
                "connection to ExpressRoute circuit {} without a private peering in the sources: routes over it are not modelled",
                last_segment(&circuit)
            ),
        );
        return;
    }
    c.circuit_links
        .push((gw.to_ascii_lowercase(), circuit.to_ascii_lowercase()));
    c.mark(
        i,
        Status::Imported,
        format!(
            "connection of gateway {} to ExpressRoute circuit {}",
            last_segment(&gw),
            last_segment(&circuit)
        ),
    );
}

pub(crate) fn circuits(c: &mut Ctx) {
    for i in c.of_type(CIRCUIT) {
        circuit(c, i);
    }
}

fn circuit(c: &mut Ctx, i: usize) {
    let r = c.res[i];
    let name = c.names[&(Kind::Circuit, r.id.to_ascii_lowercase())].clone();
    let peerings = peerings(c, r);
    let mut private = None;
    for (id, p) in &peerings {
        let ty = text(p, "peeringType").unwrap_or_else(|| last_segment(id));
        if ty.eq_ignore_ascii_case("AzurePrivatePeering") {
            private = Some((id.clone(), *p));
            continue;
        }
        let what = format!(
            "{ty} of ExpressRoute circuit {name}: routes to Microsoft services over it are not modelled"
        );
        c.report.add(Status::Unsupported, PEERING_TYPE, id, what);
    }
    let Some((peering_id, p)) = private else {
        c.mark(
            i,
            Status::Unsupported,
            "ExpressRoute circuit without an AzurePrivatePeering in the sources: routes to on-premises over it are not modelled",
        );
        return;
    };
    let asn = ["peerASN", "peerAsn"]
        .iter()
        .find_map(|k| prop(p, k).and_then(Val::as_i64));
    let Some(asn) = asn else {
        c.error(
            p.pos,
            format!(
                "the private peering of ExpressRoute circuit {} has no peerASN",
                r.id
            ),
        );
        return;
    };
    let y = M::new()
        .put("name", Y::s(&name))
        .put("origin", c.origin(r))
        .put(
            "privatePeering",
            M::new()
                .put("peerAsn", Y::n(asn))
                .put("advertisedPrefixes", Y::Seq(Vec::new()))
                .y(),
        )
        .y();
    c.emit("expressRouteCircuits", name.clone(), y);
    c.mark(i, Status::Imported, format!("ExpressRoute circuit {name}"));
    c.report.note(format!(
        "ExpressRoute circuit '{name}': the prefixes on-premises advertises over its private peering are \
         learned over BGP and are in no export; imported with none (`az network express-route \
         list-route-tables -g RG -n {} --peering-name AzurePrivatePeering --path primary` lists them: \
         give them as privatePeering.advertisedPrefixes). Until then a walk from a VNet that gets them \
         that such a route could take ends not-modelled",
        r.name
    ));
    c.circuit_peering
        .insert(r.id.to_ascii_lowercase(), (name, peering_id));
}

/// After the gateways: the VNets that get each written circuit's routes.
pub(crate) fn learned_routes(c: &mut Ctx) {
    let mut all: Vec<(String, (String, String))> = c
        .circuit_peering
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    all.sort();
    for (id, (name, peering)) in all {
        learned_routes_unknown(c, &id, &name, &peering);
    }
}

/// The circuit's peerings: inline `peerings` and separate peering resources (by id; the separate
/// one wins), each with its id.
fn peerings<'a>(c: &mut Ctx<'a>, r: &'a Resource) -> Vec<(String, &'a Val)> {
    let mut out: Vec<(String, &Val)> = arr(&r.body, "peerings")
        .iter()
        .map(|p| {
            let id = text(p, "id")
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}/peerings/{}", r.id, text(p, "name").unwrap_or("")));
            (id, p)
        })
        .collect();
    for k in c.of_type(PEERING) {
        let p = c.res[k];
        let parent = parent_id(&p.id).filter(|x| c.get(x).is_some());
        let mine = match parent {
            Some(x) => x.eq_ignore_ascii_case(&r.id),
            None => text(&p.body, "circuitName").is_some_and(|n| n.eq_ignore_ascii_case(&r.name)),
        };
        if !mine {
            continue;
        }
        c.mark(
            k,
            Status::Imported,
            format!("peering of ExpressRoute circuit {}", r.name),
        );
        out.retain(|(id, _)| !id.eq_ignore_ascii_case(&p.id));
        out.push((p.id.clone(), &p.body));
    }
    out
}

/// Each VNet that gets the routes the circuit's ExpressRoute gateways learn is marked: its walks
/// toward addresses such a route could take are not known.
fn learned_routes_unknown(c: &mut Ctx, me: &str, name: &str, peering_id: &str) {
    let gateways: Vec<String> = c
        .circuit_links
        .iter()
        .filter(|(_, k)| *k == me)
        .map(|(g, _)| g.clone())
        .collect();
    let mut vnets: Vec<String> = gateways.iter().filter_map(|g| gateway_vnet(c, g)).collect();
    let users: Vec<String> = c
        .gateway_users
        .iter()
        .filter(|(_, hub)| vnets.contains(hub))
        .map(|(spoke, _)| spoke.clone())
        .collect();
    vnets.extend(users);
    vnets.sort();
    vnets.dedup();
    for v in vnets {
        let what = format!(
            "routes on-premises advertises over ExpressRoute circuit {name} (learned over BGP, in no \
             export) in VNet {v}: its traffic toward addresses outside its own and its peers' \
             address spaces may follow them"
        );
        c.report
            .add(Status::Unsupported, PEERING_TYPE, peering_id, what);
        if let Some(e) = c.report.entries.last_mut() {
            e.vnet = Some(v);
        }
    }
}

/// The topology name of the VNet of an imported gateway (by lower-cased id).
fn gateway_vnet(c: &Ctx, gw: &str) -> Option<String> {
    let g = c.res[c.get(gw)?];
    let subnet = arr(&g.body, "ipConfigurations")
        .first()
        .and_then(|x| prop(x, "subnet"))
        .and_then(ref_id)?;
    let vnet = parent_id(subnet)?;
    c.names
        .get(&(Kind::Vnet, vnet.to_ascii_lowercase()))
        .cloned()
}
