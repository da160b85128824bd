//! A reach run as a section of the HTML report: a matrix of sources × destinations (VNet ×
//! VNet above [`PLACES_MAX`] on either side, as the drift section draws it) whose cells count
//! the reachable regions, each opening the regions of its pair: header ranges, outcome, path,
//! the rewrite the destination saw and the source it saw. Fed one source at a time, like the
//! other sinks of a reach run; what it keeps is bounded by [`REGIONS_PER_CELL`] and
//! [`REGIONS_MAX`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use serde_json::json;
use vnetsim_engine::Outcome;
use vnetsim_fabric::{Endpoint, Fabric};
use vnetsim_reach::render::RegionRow;
use vnetsim_report::html::section::{Detail, Mark, Matrix, Section, Table};
use vnetsim_report::html::{HtmlReport, Kind};

pub use crate::drift_report::PLACES_MAX;
use crate::reach::{Plan, Sink, SourceRegions, Totals};

/// Region rows a cell lists, and rows the whole report keeps (the rest are counted).
pub const REGIONS_PER_CELL: usize = 200;
pub const REGIONS_MAX: usize = 50_000;

const COLUMNS: [&str; 10] = [
    "from",
    "to",
    "src",
    "dst",
    "protocols",
    "outcome",
    "deliveredAs",
    "srcSeen",
    "reason",
    "path",
];

/// The destination label of a row aimed at nothing asked about.
const ELSEWHERE: &str = "elsewhere";

/// One cell of the matrix: its regions, how many are reachable, the rows kept.
#[derive(Default)]
struct Cell {
    regions: u64,
    reachable: u64,
    rows: Option<Table>,
}

/// Writes the report of a reach run to `path` when the run ends.
pub struct ReportSink {
    path: PathBuf,
    title: String,
    by_vnet: bool,
    /// Source and destination labels → the place they are drawn in.
    groups: HashMap<String, String>,
    cells: BTreeMap<(String, String), Cell>,
    kept: usize,
}

/// The VNet an endpoint is in, or none.
fn vnet_of(f: &Fabric, e: Endpoint) -> Option<String> {
    let s = match e {
        Endpoint::Nic(n) => f.nics[n.ix()].subnet,
        Endpoint::Pe(p) => f.pes[p.ix()].subnet,
        Endpoint::Subnet(s) => s,
        _ => return None,
    };
    Some(format!(
        "vnet:{}",
        f.vnets[f.subnets[s.ix()].vnet.ix()].name
    ))
}

impl ReportSink {
    pub fn new(f: &Fabric, plan: &Plan, path: PathBuf) -> ReportSink {
        let by_vnet = plan.sources.len() > PLACES_MAX || plan.dests.len() + 1 > PLACES_MAX;
        let mut groups = HashMap::new();
        let places = plan
            .sources
            .iter()
            .map(|s| (&s.label, s.endpoint))
            .chain(plan.dests.iter().map(|d| (&d.label, d.endpoint)));
        for (label, e) in places {
            let g = vnet_of(f, e).filter(|_| by_vnet);
            groups.insert(label.clone(), g.unwrap_or_else(|| label.clone()));
        }
        let name = if f.name.is_empty() { "fabric" } else { &f.name };
        ReportSink {
            path,
            title: format!("{name}: every header, as regions"),
            by_vnet,
            groups,
            cells: BTreeMap::new(),
            kept: 0,
        }
    }

    fn group(&self, label: &str) -> String {
        self.groups
            .get(label)
            .cloned()
            .unwrap_or_else(|| label.to_string())
    }

    fn add(&mut self, r: &RegionRow, outcome: Outcome, first: bool) {
        let to = r.to.as_deref().unwrap_or(ELSEWHERE);
        let key = (self.group(&r.from), self.group(to));
        let title = format!("Regions {} → {}", key.0, key.1);
        let cell = self.cells.entry(key).or_default();
        if first {
            cell.regions += 1;
            cell.reachable += (outcome == Outcome::Reachable) as u64;
        }
        let t = cell
            .rows
            .get_or_insert_with(|| Table::new(title, &COLUMNS, REGIONS_PER_CELL));
        if self.kept >= REGIONS_MAX {
            t.omit(1);
            return;
        }
        let row = vec![
            json!(r.from),
            json!(to),
            json!(r.src),
            json!(r.dst),
            json!(r.protocols),
            json!(r.outcome),
            json!(r.dst_seen),
            json!(r.src_seen),
            json!(r.reason),
            json!(r.path),
        ];
        self.kept += t.row(row, None) as usize;
    }

    /// The section: the matrix and a note of what the run walked.
    pub fn section(&mut self, t: &Totals) -> Section {
        let mut s = Section::new("reach", "Reach: every header, as regions");
        s.note(format!(
            "{} source(s), {} classes walked ({} walks), {} regions: {} reachable, {} unreachable, {} no-return, {} not modelled.",
            t.sources, t.classes, t.walks, t.regions,
            t.regions_by_outcome[Outcome::Reachable as usize],
            t.regions_by_outcome[Outcome::Unreachable as usize],
            t.regions_by_outcome[Outcome::NoReturn as usize],
            t.regions_by_outcome[Outcome::NotModelled as usize]
        ));
        s.note("A region is a set of headers (source and destination addresses, protocol, ports) from one source to one destination that all take the same path with the same rules and rewrites; deliveredAs is the destination address and port after DNAT, srcSeen the source the destination saw after SNAT.");
        s.matrix(self.matrix());
        s
    }

    fn matrix(&mut self) -> Matrix {
        let rows: Vec<String> = self
            .cells
            .keys()
            .map(|k| k.0.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let cols: Vec<String> = self
            .cells
            .keys()
            .map(|k| k.1.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let level = if self.by_vnet {
            "VNet"
        } else {
            "source and destination"
        };
        let mut m = Matrix::new(
            format!("Reachable regions by {level}: each cell opens the regions of its pair, reachable or not"),
            rows.clone(),
            cols.clone(),
        );
        for ((a, b), c) in std::mem::take(&mut self.cells) {
            let r = rows.binary_search(&a).unwrap_or(0);
            let col = cols.binary_search(&b).unwrap_or(0);
            let mark = if c.reachable > 0 {
                Mark::Ok
            } else {
                Mark::Plain
            };
            let detail = c.rows.map(|t| {
                Detail::new(format!(
                    "{a} → {b}: {} regions, {} reachable",
                    c.regions, c.reachable
                ))
                .table(t)
            });
            m.cell(r, col, c.reachable.to_string(), mark, detail);
        }
        m
    }
}

impl Sink for ReportSink {
    fn source(&mut self, done: &SourceRegions) -> Result<bool, String> {
        for r in &done.regions {
            for (i, row) in r.rows.iter().enumerate() {
                self.add(row, r.outcome, i == 0);
            }
        }
        Ok(true)
    }
    fn finish(&mut self, t: &Totals) -> Result<(), String> {
        let mut r = HtmlReport::new(self.title.clone(), Kind::Reach);
        r.section(self.section(t).json());
        crate::report::write(&self.path, &r, &vnetsim_report::summary::Summary::new())
    }
}
