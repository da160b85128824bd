//! Web Application Firewalls of Application Gateways: the WAF configuration written on a
//! gateway, or the WAF policy (`ApplicationGatewayWebApplicationFirewallPolicies`,
//! Terraform `azurerm_web_application_firewall_policy`) that its `firewallPolicy` names.
//!
//! In Prevention mode a WAF blocks requests by their content (managed rule sets, custom
//! rules), which vnetsim does not model. So each enabled WAF in Prevention mode becomes a
//! `notModelled` entry holding the gateway's frontend addresses: a packet sent to one ends
//! `not-modelled`, naming the WAF, instead of a confident verdict. A WAF in Detection mode
//! only logs, and a disabled one does nothing: neither affects packets, and the report says
//! so. A policy whose mode the sources do not give is taken to be able to block.

use super::{flag, prop, text, Ctx};
use crate::ir::ref_id;
use crate::json::Val;
use crate::report::Status;

const POLICY: &str = "microsoft.network/applicationgatewaywebapplicationfirewallpolicies";
const POLICY_TYPE: &str = "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies";
const CONFIG_TYPE: &str =
    "Microsoft.Network/applicationGateways/webApplicationFirewallConfiguration";

/// What a WAF does to packets.
enum Mode {
    /// May block requests by content.
    Prevention,
    /// Logs only, or is off: why it does not affect packets.
    Harmless(&'static str),
}

fn mode(enabled: Option<bool>, mode: Option<&str>) -> Mode {
    if enabled == Some(false) {
        return Mode::Harmless("WAF disabled: no effect on packets");
    }
    match mode {
        Some(m) if m.eq_ignore_ascii_case("detection") => Mode::Harmless(
            "WAF in Detection mode logs requests and blocks none: no effect on packets",
        ),
        _ => Mode::Prevention,
    }
}

/// The WAFs of the imported Application Gateway `i` (named `name`, with these frontend
/// addresses).
pub(crate) fn application_firewalls(c: &mut Ctx, i: usize, name: &str, frontends: Vec<String>) {
    let r = c.res[i];
    let affects = format!(
        "HTTP(S) requests to application gateway {name}'s frontends: its WAF (Prevention mode) \
         may block them by content, which is not modelled"
    );
    let policy_id = prop(&r.body, "firewallPolicy").and_then(ref_id);
    // An associated policy takes the place of the gateway's own WAF configuration.
    if let Some(w) =
        prop(&r.body, "webApplicationFirewallConfiguration").filter(|_| policy_id.is_none())
    {
        let m = mode(flag(w, "enabled"), text(w, "firewallMode"));
        if let Mode::Prevention = m {
            if flag(w, "enabled") == Some(true) {
                let id = format!("{}/webApplicationFirewallConfiguration", r.id);
                c.report
                    .add(Status::Unsupported, CONFIG_TYPE, &id, affects.clone());
                if let Some(e) = c.report.entries.last_mut() {
                    e.addresses = frontends.clone();
                }
            }
        }
    }
    let Some(policy_id) = policy_id else {
        return;
    };
    let policy = c.get(policy_id).filter(|&k| c.res[k].kind() == POLICY);
    match policy {
        Some(k) => policy_found(c, k, affects, frontends),
        None => {
            let detail = format!(
                "{affects} (the policy is not in the import sources, so its mode is unknown)"
            );
            c.report
                .add(Status::Unsupported, POLICY_TYPE, policy_id, detail);
            if let Some(e) = c.report.entries.last_mut() {
                e.addresses = frontends;
            }
        }
    }
}

fn policy_found(c: &mut Ctx, k: usize, affects: String, frontends: Vec<String>) {
    let settings: Option<&Val> = prop(&c.res[k].body, "policySettings");
    let enabled = settings.and_then(|s| {
        text(s, "state")
            .map(|x| !x.eq_ignore_ascii_case("disabled"))
            .or_else(|| flag(s, "enabled"))
    });
    match mode(enabled, settings.and_then(|s| text(s, "mode"))) {
        Mode::Harmless(why) => c.mark(k, Status::Skipped, why),
        Mode::Prevention => {
            c.mark(k, Status::Unsupported, affects);
            c.waf_addresses.entry(k).or_default().extend(frontends);
        }
    }
}
