//! The assertion file of `vnetsim check`: reachability expectations a team
//! keeps next to its network's infrastructure code and runs in CI.
//!
//! ```yaml
//! assertions:
//!   - name: on-premises reaches the app on 443 through the firewall
//!     from: site:home                 # selector(s): all, vnet:, subnet:, nic:, pe:, site:, internet
//!     to: nic:vm-app-nic
//!     ports: tcp/443                  # default tcp/443
//!     expect:
//!       outcome: reachable            # reachable | unreachable | no-return
//!       deliveredTo: nic:vm-app-nic
//!       srcSeen: 192.168.1.10         # an address, or 'unchanged' / 'rewritten'
//!       crosses: [firewall:afw-hub]   # nodes every flow's forward path must contain
//!       avoids: [internet]            # nodes it must not contain
//!       rule: net-allow/onprem-to-spokes
//!   - name: one exact flow
//!     flow: { src: 10.1.1.4, dst: 8.8.8.8, protocol: Udp, dstPort: 53 }
//!     expect: { outcome: reachable, srcSeen: 20.10.10.10 }
//! ```

use std::net::Ipv4Addr;

use crate::decode::{enumerated, ipv4, items, obj, require, scalar, string, uint};
use crate::diag::Diagnostics;
use crate::node::{self, Loc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedOutcome {
    Reachable,
    Unreachable,
    NoReturn,
}

impl ExpectedOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectedOutcome::Reachable => "reachable",
            ExpectedOutcome::Unreachable => "unreachable",
            ExpectedOutcome::NoReturn => "no-return",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SrcSeen {
    Address(Ipv4Addr),
    Unchanged,
    Rewritten,
}

#[derive(Clone, Debug, Default)]
pub struct Expect {
    pub outcome: Option<ExpectedOutcome>,
    pub delivered_to: Option<String>,
    pub dropped_at: Option<String>,
    pub src_seen: Option<SrcSeen>,
    pub rule: Option<String>,
    pub crosses: Vec<String>,
    pub avoids: Vec<String>,
    /// `onlyPorts`: the only protocols and destination ports anything may reach, checked over
    /// every header (reach regions): (protocol number, first port, last port); ports 0-0 for
    /// protocols without ports.
    pub only_ports: Option<Vec<(u8, u16, u16)>>,
}

#[derive(Clone, Debug)]
pub struct ExactFlow {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: String,
    pub src_port: u16,
    pub dst_port: u16,
    pub fqdn: Option<String>,
    pub from: Option<String>,
}

#[derive(Clone, Debug)]
pub enum Subject {
    Matrix {
        from: Vec<String>,
        to: Vec<String>,
        ports: String,
    },
    Flow(ExactFlow),
}

#[derive(Clone, Debug)]
pub struct Assertion {
    pub name: String,
    pub loc: Loc,
    pub subject: Subject,
    pub expect: Expect,
    /// Who owns the property (a guard's `owner`, a team or boundary name); `None` in a plain
    /// assertion file.
    pub owner: Option<String>,
    /// Every name the assertion uses, where it is written: `check` resolves each against the
    /// topology before running, so a misspelt one is an error, never a silent pass.
    pub refs: Vec<NameRef>,
}

/// What a name in an assertion must name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    /// A `from`/`to` selector: `all`, `vnet:`, `subnet:`, `nic:`, `pe:`, `site:`, `internet`.
    Selector,
    /// A node id: `nic:NAME`, `firewall:NAME`, `subnet:V/S`, `internet`, ...
    Node,
    /// A deciding rule: `NSG/RULE`, `COLLECTION/RULE`, `FIREWALL/DefaultDeny`, a route.
    Rule,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameRef {
    pub kind: RefKind,
    pub name: String,
    pub loc: Loc,
}

fn strings_at(
    d: &mut Diagnostics,
    n: Option<&node::Node>,
    what: &str,
    kind: RefKind,
    refs: &mut Vec<NameRef>,
) -> Vec<String> {
    items(d, n, what, true)
        .into_iter()
        .filter_map(|x| string(d, x, what))
        .map(|s| {
            refs.push(NameRef {
                kind,
                name: s.value.clone(),
                loc: s.loc,
            });
            s.value
        })
        .collect()
}

fn string_at(
    d: &mut Diagnostics,
    n: Option<&node::Node>,
    what: &str,
    kind: RefKind,
    refs: &mut Vec<NameRef>,
) -> Option<String> {
    let s = string(d, n?, what)?;
    refs.push(NameRef {
        kind,
        name: s.value.clone(),
        loc: s.loc,
    });
    Some(s.value)
}

/// Parses an assertion file; every problem is reported with its location.
pub fn parse(file: &str, text: &str) -> Result<Vec<Assertion>, Diagnostics> {
    parse_list(file, text, "assertions", false)
}

/// Parses a guard file (`vnetsim diff --guard`): a `guards:` list of assertions in the same
/// form, each with the `owner` who must approve a change that alters it.
///
/// ```yaml
/// guards:
///   - name: the shared spoke does not reach the app VM on 22
///     owner: security-team
///     from: nic:vm-shared-nic
///     to: nic:vm-app-nic
///     ports: tcp/22
///     expect: { outcome: unreachable }
/// ```
pub fn parse_guards(file: &str, text: &str) -> Result<Vec<Assertion>, Diagnostics> {
    parse_list(file, text, "guards", true)
}

fn parse_list(
    file: &str,
    text: &str,
    top: &str,
    guards: bool,
) -> Result<Vec<Assertion>, Diagnostics> {
    let what = if guards {
        "a guard file"
    } else {
        "an assertion file"
    };
    let item = if guards { "a guard" } else { "an assertion" };
    let mut d = Diagnostics::new(file);
    let root = match node::parse(text) {
        Ok(r) => r,
        Err(e) => {
            d.error(e.loc, format!("syntax error: {}", e.message));
            return Err(d);
        }
    };
    let mut out = Vec::new();
    if let Some(o) = obj(&mut d, &root, what, &[top]) {
        let list = require(&mut d, &o, top, what);
        for (i, n) in items(&mut d, list, top, false).into_iter().enumerate() {
            let keys: &[&str] = if guards {
                &["name", "owner", "from", "to", "ports", "flow", "expect"]
            } else {
                &["name", "from", "to", "ports", "flow", "expect"]
            };
            let Some(a) = obj(&mut d, n, item, keys) else {
                continue;
            };
            let owner = if guards {
                require(&mut d, &a, "owner", item)
                    .and_then(|x| string(&mut d, x, "an owner (a team or boundary name)"))
                    .map(|s| s.value)
            } else {
                None
            };
            let mut refs = Vec::new();
            let name = a
                .get("name")
                .and_then(|x| scalar(&mut d, x, "a name").map(str::to_string))
                .unwrap_or_else(|| format!("assertion {}", i + 1));
            let subject = match a.get("flow") {
                Some(fl) => {
                    if a.get("from").is_some() || a.get("to").is_some() {
                        d.error(
                            n.loc,
                            "an assertion has either 'flow' or 'from'/'to', not both",
                        );
                    }
                    let Some(fo) = obj(
                        &mut d,
                        fl,
                        "a flow",
                        &[
                            "src", "dst", "protocol", "srcPort", "dstPort", "fqdn", "from",
                        ],
                    ) else {
                        continue;
                    };
                    let src = require(&mut d, &fo, "src", "a flow")
                        .and_then(|x| ipv4(&mut d, x, "a source address"));
                    let dst = require(&mut d, &fo, "dst", "a flow")
                        .and_then(|x| ipv4(&mut d, x, "a destination address"));
                    let protocol = fo
                        .get("protocol")
                        .and_then(|x| {
                            enumerated(
                                &mut d,
                                x,
                                "protocol",
                                &[("Tcp", "Tcp"), ("Udp", "Udp"), ("Icmp", "Icmp")],
                            )
                        })
                        .unwrap_or("Tcp");
                    let sp = fo
                        .get("srcPort")
                        .and_then(|x| uint(&mut d, x, "a port", 65535))
                        .map(|v| v.value as u16)
                        .unwrap_or(50000);
                    let dp = fo
                        .get("dstPort")
                        .and_then(|x| uint(&mut d, x, "a port", 65535))
                        .map(|v| v.value as u16)
                        .unwrap_or(443);
                    let fqdn = fo
                        .get("fqdn")
                        .and_then(|x| scalar(&mut d, x, "an FQDN").map(|s| s.to_ascii_lowercase()));
                    let from = string_at(
                        &mut d,
                        fo.get("from"),
                        "an endpoint",
                        RefKind::Node,
                        &mut refs,
                    );
                    let (Some(src), Some(dst)) = (src, dst) else {
                        continue;
                    };
                    Subject::Flow(ExactFlow {
                        src: src.value,
                        dst: dst.value,
                        protocol: protocol.to_string(),
                        src_port: sp,
                        dst_port: dp,
                        fqdn,
                        from,
                    })
                }
                None => {
                    let from = strings_at(
                        &mut d,
                        a.get("from"),
                        "a selector",
                        RefKind::Selector,
                        &mut refs,
                    );
                    let to = strings_at(
                        &mut d,
                        a.get("to"),
                        "a selector",
                        RefKind::Selector,
                        &mut refs,
                    );
                    if from.is_empty() || to.is_empty() {
                        d.error(
                            n.loc,
                            "an assertion needs 'from' and 'to' selectors, or a 'flow'",
                        );
                    }
                    let ports = a
                        .get("ports")
                        .and_then(|x| {
                            scalar(&mut d, x, "ports like tcp/443,udp/53").map(str::to_string)
                        })
                        .unwrap_or_else(|| "tcp/443".into());
                    Subject::Matrix { from, to, ports }
                }
            };
            let mut expect = Expect::default();
            match a.get("expect") {
                None => d.error(n.loc, "an assertion needs an 'expect' mapping"),
                Some(e) => {
                    if let Some(eo) = obj(
                        &mut d,
                        e,
                        "expectations",
                        &[
                            "outcome",
                            "deliveredTo",
                            "droppedAt",
                            "srcSeen",
                            "rule",
                            "crosses",
                            "avoids",
                            "onlyPorts",
                        ],
                    ) {
                        expect.outcome = eo.get("outcome").and_then(|x| {
                            enumerated(
                                &mut d,
                                x,
                                "outcome",
                                &[
                                    ("reachable", ExpectedOutcome::Reachable),
                                    ("unreachable", ExpectedOutcome::Unreachable),
                                    ("no-return", ExpectedOutcome::NoReturn),
                                ],
                            )
                        });
                        expect.delivered_to = string_at(
                            &mut d,
                            eo.get("deliveredTo"),
                            "an endpoint id",
                            RefKind::Node,
                            &mut refs,
                        );
                        expect.dropped_at = string_at(
                            &mut d,
                            eo.get("droppedAt"),
                            "an endpoint id",
                            RefKind::Node,
                            &mut refs,
                        );
                        expect.rule = string_at(
                            &mut d,
                            eo.get("rule"),
                            "a rule name",
                            RefKind::Rule,
                            &mut refs,
                        );
                        expect.src_seen = eo.get("srcSeen").and_then(|x| {
                            let s = scalar(&mut d, x, "an address, 'unchanged' or 'rewritten'")?;
                            match s {
                                "unchanged" => Some(SrcSeen::Unchanged),
                                "rewritten" => Some(SrcSeen::Rewritten),
                                _ => match s.parse() {
                                    Ok(a) => Some(SrcSeen::Address(a)),
                                    Err(_) => {
                                        d.error(x.loc, format!("expected an address, 'unchanged' or 'rewritten', found '{s}'"));
                                        None
                                    }
                                },
                            }
                        });
                        expect.crosses = strings_at(
                            &mut d,
                            eo.get("crosses"),
                            "a node id",
                            RefKind::Node,
                            &mut refs,
                        );
                        expect.avoids = strings_at(
                            &mut d,
                            eo.get("avoids"),
                            "a node id",
                            RefKind::Node,
                            &mut refs,
                        );
                        expect.only_ports = eo.get("onlyPorts").map(|x| only_ports(&mut d, x));
                    }
                }
            }
            out.push(Assertion {
                name,
                loc: n.loc,
                subject,
                expect,
                owner,
                refs,
            });
        }
    }
    if d.has_errors() {
        d.sort();
        return Err(d);
    }
    Ok(out)
}

/// `onlyPorts: [tcp/443, udp/53, tcp/8000-8100, icmp]`.
fn only_ports(d: &mut Diagnostics, n: &node::Node) -> Vec<(u8, u16, u16)> {
    let what = "a protocol and ports like tcp/443, udp/5000-5100 or icmp";
    let mut out = Vec::new();
    for x in items(d, Some(n), "onlyPorts", true) {
        let Some(s) = scalar(d, x, what) else {
            continue;
        };
        match parse_only_port(s) {
            Some(v) => out.push(v),
            None => d.error(x.loc, format!("expected {what}, found '{s}'")),
        }
    }
    out
}

fn parse_only_port(s: &str) -> Option<(u8, u16, u16)> {
    let lower = s.to_ascii_lowercase();
    let (proto, ports) = match lower.split_once('/') {
        Some((p, r)) => (p.to_string(), Some(r.to_string())),
        None => (lower.clone(), None),
    };
    let number = match proto.as_str() {
        "tcp" => 6,
        "udp" => 17,
        "icmp" => return ports.is_none().then_some((1, 0, 0)),
        _ => return None,
    };
    let ports = ports?;
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let p: u16 = ports.parse().ok()?;
            (p, p)
        }
    };
    (lo <= hi).then_some((number, lo, hi))
}
