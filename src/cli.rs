//! Commands and their arguments (see the CLI contract).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use vnetsim_engine as engine;
use vnetsim_fabric::{self as fabric, Fabric};
pub use vnetsim_jobs::names::{
    find_nic, find_subnet, flow_l7, parse_app_protocol, parse_endpoint, parse_protocol,
    source_endpoint,
};
pub use vnetsim_jobs::{parse_threads, thread_pool};

#[derive(Parser, Debug)]
#[command(
    name = "vnetsim",
    version,
    about = "Packet-level simulator of the Azure virtual network data plane"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone, Copy)]
pub struct Output {
    /// Machine output (JSON, camelCase keys).
    #[arg(long, global = true)]
    pub json: bool,
    /// Output format: text or json.
    #[arg(long, value_enum, global = true)]
    pub format: Option<Format>,
}

impl Output {
    pub fn json(&self) -> bool {
        self.json || matches!(self.format, Some(Format::Json))
    }
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum Format {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse and validate a topology (or an import source); print every problem found.
    Validate {
        topology: PathBuf,
        #[command(flatten)]
        out: Output,
    },
    /// Parse, validate and compile a topology once, into a file that the commands reading a
    /// fabric (trace, sweep, routes, reach, replay, check ...) accept in its place.
    Compile {
        topology: PathBuf,
        /// The compiled fabric file to write
        #[arg(long, short, value_name = "FABRIC.vnetsim")]
        output: PathBuf,
    },
    /// Import a fabric from az exports, Resource Graph, ARM templates or Terraform state.
    Import(crate::import::ImportArgs),
    /// Effective routes of a subnet or of a NIC's subnet (Network Watcher: effective routes), or
    /// the routes the gateways advertise to a site or ExpressRoute circuit (`--site`).
    Routes {
        topology: PathBuf,
        /// VNET/SUBNET
        #[arg(long, conflicts_with_all = ["nic", "site"], required_unless_present_any = ["nic", "site"])]
        subnet: Option<String>,
        #[arg(long, conflicts_with = "site")]
        nic: Option<String>,
        /// A site or circuit (NAME, site:NAME or circuit:NAME): what its gateways advertise to it
        #[arg(long)]
        site: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Next hop from a NIC toward an address (Network Watcher: next hop).
    NextHop {
        topology: PathBuf,
        #[arg(long, required_unless_present = "subnet")]
        nic: Option<String>,
        /// VNET/SUBNET, instead of a NIC.
        #[arg(long, conflicts_with = "nic")]
        subnet: Option<String>,
        #[arg(long)]
        dst: Ipv4Addr,
        #[command(flatten)]
        out: Output,
    },
    /// Effective security rules of a NIC, service tags and ASGs expanded.
    Rules {
        topology: PathBuf,
        #[arg(long)]
        nic: String,
        #[command(flatten)]
        out: Output,
    },
    /// What the NSGs of a NIC say about one flow (Network Watcher: IP flow verify).
    FlowVerify {
        topology: PathBuf,
        #[arg(long)]
        nic: String,
        /// Inbound or Outbound
        #[arg(long)]
        direction: String,
        /// TCP or UDP (ICMP too, which IP flow verify itself does not take)
        #[arg(long, default_value = "TCP")]
        protocol: String,
        /// IP:PORT on the NIC's side
        #[arg(long)]
        local: String,
        /// IP:PORT on the other side
        #[arg(long)]
        remote: String,
        #[command(flatten)]
        out: Output,
    },
    /// One flow through the fabric, forward and back.
    Trace(TraceArgs),
    /// Every source x every destination x every port, each a full round trip.
    Sweep(crate::flows::SweepArgs),
    /// Every header from sources to destinations (all addresses, protocols and ports), proven
    /// by equivalence classes and printed as regions.
    Reach(crate::reach::ReachArgs),
    /// The same sweep on two topologies: the flows whose outcome, path or source seen changed.
    Diff(crate::flows::DiffArgs),
    /// Reachability assertions against a topology; exit 1 on any failure.
    Check(crate::flows::CheckArgs),
    /// Audits of a topology (duties: who can change what a packet meets).
    #[command(subcommand)]
    Audit(crate::duties::AuditCmd),
    /// Write a synthetic hub-and-spoke fabric (deterministic for a seed).
    Generate(GenerateArgs),
    /// Push pcap/pcapng captures through the fabric: every packet's path, verdict and rewrite.
    Replay(crate::replay::ReplayArgs),
    /// Write a capture of a topology's traffic (one conversation per sweep cell; deterministic).
    Synth(crate::replay::SynthArgs),
    /// Write a topology's traffic as Azure would log it: VNet flow logs v4, one blob per NIC
    /// per hour, in the storage account's folder layout (one flow per sweep cell).
    SynthFlowLogs(crate::flowlogs::SynthFlowLogsArgs),
    /// Throughput of the data plane: FIB, NSG classifier, whole walk.
    #[command(subcommand)]
    Bench(crate::bench::BenchCmd),
    /// Print a shell completion script: `vnetsim completions bash > /etc/bash_completion.d/vnetsim`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// VNets, the hub included
    #[arg(long, default_value_t = 200)]
    pub vnets: u32,
    #[arg(long, default_value_t = 10)]
    pub subnets_per_vnet: u32,
    /// User rules per spoke NSG
    #[arg(long, default_value_t = 20)]
    pub rules: u32,
    #[arg(long, default_value_t = 100)]
    pub private_endpoints: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output file (default: standard output)
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    pub topology: PathBuf,
    /// Source: an address, or a name (nic:NAME, site:NAME, a NIC's name, internet)
    #[arg(long)]
    pub src: String,
    /// Destination: an address, or a name (nic:NAME, pe:NAME, service:NAME, a NIC's or
    /// endpoint's name, a service's FQDN)
    #[arg(long)]
    pub dst: String,
    /// Tcp, Udp or Icmp
    #[arg(long, default_value = "Tcp")]
    pub protocol: String,
    #[arg(long, default_value_t = 50000)]
    pub src_port: u16,
    #[arg(long, default_value_t = 443)]
    pub dst_port: u16,
    /// Where the flow enters: nic:NAME, site:NAME, internet, subnet:V/S ... (default: the owner of --src)
    #[arg(long)]
    pub from: Option<String>,
    /// The name the client asked for (TLS SNI or HTTP Host), matched by application rules
    /// (default: the destination service's FQDN, if any)
    #[arg(long)]
    pub fqdn: Option<String>,
    /// The application protocol carrying the name: Http, Https or Mssql (default: by port,
    /// Http on 80, Mssql on 1433, Https otherwise)
    #[arg(long, value_parser = parse_app_protocol)]
    pub app_protocol: Option<engine::AppProtocol>,
    /// For a flow that is not reachable: every decision that stops it (each change applied in
    /// turn and the flow traced again), with the smallest change that lets it through
    #[arg(long)]
    pub why: bool,
    /// With --why: write the topology with every suggested change applied
    #[arg(long, value_name = "FIXED.yaml", requires = "why")]
    pub fixed_out: Option<PathBuf>,
    #[command(flatten)]
    pub out: Output,
}

/// The compiled fabric file a command read, if it read one: a panic while using it is that
/// file's inconsistency, reported as bad input (see `main`).
pub static COMPILED_INPUT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// The fabric of a topology, an import source or a compiled fabric file (told apart by their
/// content), its validation warnings printed.
///
/// The fabric is kept until the process exits: it is millions of allocations (rules, tables,
/// names), and freeing them one by one costs a sixth of reading a compiled fabric, for memory
/// the operating system takes back at exit anyway.
pub fn load(path: &Path) -> Result<&'static Fabric, String> {
    Ok(Box::leak(Box::new(read_fabric(path)?)))
}

fn read_fabric(path: &Path) -> Result<Fabric, String> {
    if vnetsim_store::is_compiled(path) {
        let saved = vnetsim_store::load(path)?;
        let _ = COMPILED_INPUT.set(path.to_path_buf());
        eprint!("{}", saved.warnings);
        return Ok(saved.fabric);
    }
    let v = crate::import::load_validated(path)?;
    if !v.warnings.items.is_empty() {
        eprint!("{}", v.warnings);
    }
    Ok(fabric::compile(&v))
}

/// `compile`: the topology's fabric and warnings, saved.
fn run_compile(topology: &Path, output: &Path) -> Result<u8, String> {
    let v = crate::import::load_validated(topology)?;
    let warnings = match v.warnings.items.is_empty() {
        true => String::new(),
        false => v.warnings.to_string(),
    };
    eprint!("{warnings}");
    let fabric = fabric::compile(&v);
    let (vnets, subnets) = (fabric.vnets.len(), fabric.subnets.len());
    let saved = vnetsim_store::Saved { warnings, fabric };
    vnetsim_store::save(output, &saved)?;
    // Kept until exit, as `load` keeps the fabrics it reads.
    std::mem::forget(saved);
    println!(
        "{}: compiled ({vnets} vnets, {subnets} subnets) into {}",
        topology.display(),
        output.display()
    );
    Ok(0)
}

/// `validate --json`: counts, warnings, and every object with its origin (where it came from
/// and who owns it).
fn validate_json(path: &Path, v: &vnetsim_model::Validated) -> serde_json::Value {
    use serde_json::json;
    let t = v.topology();
    let origin = |o: &Option<vnetsim_model::Origin>| {
        o.as_ref().map(|o| {
            json!({ "source": o.source, "subscription": o.subscription,
                "resourceGroup": o.resource_group, "tenant": o.tenant, "owner": o.owner })
        })
    };
    let mut objects = Vec::new();
    let mut push = |kind: &str, name: &str, o: &Option<vnetsim_model::Origin>| {
        objects.push(json!({ "kind": kind, "name": name, "origin": origin(o) }));
    };
    for x in &t.sites {
        push("site", &x.name.value, &x.origin);
    }
    for x in &t.vnets {
        push("vnet", &x.name.value, &x.origin);
    }
    for x in &t.route_tables {
        push("routeTable", &x.name.value, &x.origin);
    }
    for x in &t.nsgs {
        push("nsg", &x.name.value, &x.origin);
    }
    for x in &t.nics {
        push("nic", &x.name.value, &x.origin);
    }
    for x in &t.gateways {
        push("gateway", &x.name.value, &x.origin);
    }
    for x in &t.firewalls {
        push("firewall", &x.name.value, &x.origin);
    }
    for x in &t.services {
        push("service", &x.name.value, &x.origin);
    }
    for x in &t.private_endpoints {
        push("privateEndpoint", &x.name.value, &x.origin);
    }
    for x in &t.nat_gateways {
        push("natGateway", &x.name.value, &x.origin);
    }
    json!({
        "file": path.display().to_string(),
        "valid": true,
        "warnings": v.warnings.items.iter().map(|w| json!({
            "line": w.loc.line, "column": w.loc.col, "message": w.message,
        })).collect::<Vec<_>>(),
        "objects": objects,
    })
}

pub fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).expect("serialisable"));
}

pub fn run(cli: Cli) -> Result<u8, String> {
    match cli.command {
        Command::Import(a) => crate::import::run_import(a),
        Command::Compile { topology, output } => run_compile(&topology, &output),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "vnetsim", &mut buf);
            print!("{}", String::from_utf8_lossy(&buf));
            Ok(0)
        }
        Command::Validate { topology, out } => {
            let v = crate::import::load_validated(&topology)?;
            eprint!("{}", v.warnings);
            let t = v.topology();
            if out.json() {
                print_json(&validate_json(&topology, &v));
                return Ok(0);
            }
            println!(
                "{}: valid ({} vnets, {} subnets, {} NICs, {} private endpoints, {} NSGs, {} route tables, {} firewalls, {} gateways, {} warnings)",
                topology.display(),
                t.vnets.len(),
                t.vnets.iter().map(|v| v.subnets.len()).sum::<usize>(),
                t.nics.len(),
                t.private_endpoints.len(),
                t.nsgs.len(),
                t.route_tables.len(),
                t.firewalls.len(),
                t.gateways.len(),
                v.warnings.warning_count()
            );
            Ok(0)
        }
        Command::Routes {
            topology,
            subnet,
            nic,
            site,
            out,
        } => {
            let f = load(&topology)?;
            if let Some(name) = site {
                let bare = name
                    .strip_prefix("site:")
                    .or(name.strip_prefix("circuit:"))
                    .unwrap_or(&name);
                let Some(id) = f.find_site(bare) else {
                    let known = f.sites.iter().map(|s| s.name.as_str());
                    return Err(format!(
                        "unknown site or circuit '{bare}' ({})",
                        vnetsim_model::defined_list(known)
                    ));
                };
                if out.json() {
                    print_json(&crate::watcher::site_routes_json(f, id));
                } else {
                    print!("{}", crate::watcher::site_routes_text(f, id));
                }
                return Ok(0);
            }
            let s = match (subnet, nic) {
                (Some(s), _) => find_subnet(f, &s)?,
                (None, Some(n)) => f.nics[find_nic(f, &n)?.ix()].subnet,
                _ => unreachable!("clap requires one"),
            };
            if out.json() {
                print_json(&crate::watcher::routes_json(f, s));
            } else {
                print!("{}", crate::watcher::routes_text(f, s));
            }
            Ok(0)
        }
        Command::NextHop {
            topology,
            nic,
            subnet,
            dst,
            out,
        } => {
            let f = load(&topology)?;
            let s = match (subnet, nic) {
                (Some(s), _) => find_subnet(f, &s)?,
                (None, Some(n)) => f.nics[find_nic(f, &n)?.ix()].subnet,
                _ => unreachable!("clap requires one"),
            };
            let nh = fabric::watcher::next_hop(f, s, dst);
            let v = serde_json::json!({
                "nextHopType": nh.next_hop_type.as_str(),
                "nextHopIpAddress": nh.next_hop_ip.map(|a| a.to_string()),
                "routeTableId": nh.route_table_id,
            });
            if out.json() {
                print_json(&v);
            } else {
                println!("next hop type    {}", nh.next_hop_type.as_str());
                println!(
                    "next hop address {}",
                    nh.next_hop_ip
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "-".into())
                );
                println!("route table      {}", nh.route_table_id);
                if let Some(r) = &nh.route {
                    println!(
                        "route            {} ({}{})",
                        r.prefix,
                        r.source.as_str(),
                        r.name.as_ref().map(|n| format!(" {n}")).unwrap_or_default()
                    );
                }
            }
            Ok(0)
        }
        Command::Rules { topology, nic, out } => {
            let f = load(&topology)?;
            let n = find_nic(f, &nic)?;
            if out.json() {
                print_json(&crate::watcher::rules_json(f, n));
            } else {
                print!("{}", crate::watcher::rules_text(f, n));
            }
            Ok(0)
        }
        Command::FlowVerify {
            topology,
            nic,
            direction,
            protocol,
            local,
            remote,
            out,
        } => {
            let f = load(&topology)?;
            let n = find_nic(f, &nic)?;
            let dir = match direction.to_ascii_lowercase().as_str() {
                "inbound" => fabric::watcher::Direction::Inbound,
                "outbound" => fabric::watcher::Direction::Outbound,
                _ => {
                    return Err(format!(
                        "error: invalid --direction '{direction}'; expected Inbound or Outbound"
                    ))
                }
            };
            let proto = parse_protocol(&protocol)?;
            let l = parse_ip_port(&local, "--local")?;
            let r = parse_ip_port(&remote, "--remote")?;
            if u32::from(l.0) != f.nics[n.ix()].ip {
                return Err(format!(
                    "error: --local {} is not an address of NIC {nic} (its address is {})",
                    l.0,
                    Ipv4Addr::from(f.nics[n.ix()].ip)
                ));
            }
            let v = fabric::watcher::flow_verify(f, n, dir, proto, l, r);
            // A rule vnetsim cannot resolve may decide first: the access is not known.
            let access = match v.unresolved {
                Some(_) => "unknown",
                None => v.access.as_str(),
            };
            if out.json() {
                print_json(&serde_json::json!({
                    "access": access, "ruleName": v.rule_name, "unresolved": v.unresolved,
                }));
            } else {
                println!("access    {access}");
                println!(
                    "rule      {}",
                    v.rule_name.as_deref().unwrap_or("(no NSG applies)")
                );
                if let Some(u) = &v.unresolved {
                    println!("unresolved {u} (may decide first)");
                }
            }
            Ok(0)
        }
        Command::Sweep(a) => crate::flows::run_sweep(a),
        Command::Reach(a) => crate::reach::run_reach(a),
        Command::Diff(a) => crate::flows::run_diff(a),
        Command::Check(a) => crate::flows::run_check(a),
        Command::Audit(c) => crate::duties::run_audit(c),
        Command::Replay(a) => crate::replay::run_replay(a),
        Command::Synth(a) => crate::replay::run_synth(a),
        Command::SynthFlowLogs(a) => crate::flowlogs::run_synth(a),
        Command::Bench(c) => crate::bench::run(c),
        Command::Generate(a) => {
            let p = vnetsim_model::generate::Params {
                vnets: a.vnets,
                subnets_per_vnet: a.subnets_per_vnet,
                rules_per_nsg: a.rules,
                private_endpoints: a.private_endpoints,
                seed: a.seed,
            };
            let text = vnetsim_model::generate::generate(&p).map_err(|e| format!("error: {e}"))?;
            match &a.output {
                Some(path) => std::fs::write(path, text)
                    .map_err(|e| format!("error: cannot write {}: {e}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(0)
        }
        Command::Trace(a) => crate::trace::run_trace(a),
    }
}

pub fn parse_ip_port(s: &str, what: &str) -> Result<(Ipv4Addr, u16), String> {
    let (a, p) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("error: {what} expects IP:PORT, found '{s}'"))?;
    let a: Ipv4Addr = a
        .parse()
        .map_err(|_| format!("error: {what} expects IP:PORT, found '{s}'"))?;
    let p: u16 = if p == "*" {
        0
    } else {
        p.parse()
            .map_err(|_| format!("error: {what} expects IP:PORT, found '{s}'"))?
    };
    Ok((a, p))
}
