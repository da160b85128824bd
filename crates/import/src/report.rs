//! The import report: every resource seen, with what became of it.

use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// In the topology (the entry says as what).
    Imported,
    /// Not network-relevant (VMs, storage, Key Vault, Log Analytics, ...).
    Skipped,
    /// Affects packets, but vnetsim does not model it: traces meeting it are not trustworthy.
    Unsupported,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Imported => "imported",
            Status::Skipped => "skipped",
            Status::Unsupported => "unsupported",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub status: Status,
    /// The Azure type as written.
    pub type_name: String,
    pub id: String,
    /// Imported: as what (`vnet vnet-hub`); skipped: why; unsupported: what it would affect.
    pub detail: String,
    /// Unsupported: the IPv4 addresses it holds (frontends, instances), where the source says,
    /// so that a trace reaching one can name it.
    pub addresses: Vec<String>,
    /// Unsupported: the imported VNet it gives routes vnetsim does not know (a Virtual WAN hub
    /// connection's VNet).
    pub vnet: Option<String>,
    /// Unsupported: the imported VPN gateway it rewrites addresses in (a gateway NAT rule), and
    /// the address spaces it rewrites (its internal and external mappings).
    pub gateway: Option<String>,
    pub prefixes: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub entries: Vec<Entry>,
    /// Assumptions made, names qualified, stubs built, files ignored.
    pub notes: Vec<String>,
}

impl Report {
    pub fn add(&mut self, status: Status, type_name: &str, id: &str, detail: impl Into<String>) {
        self.entries.push(Entry {
            status,
            type_name: type_name.to_string(),
            id: id.to_string(),
            detail: detail.into(),
            addresses: Vec::new(),
            vnet: None,
            gateway: None,
            prefixes: Vec::new(),
        });
    }
    pub fn note(&mut self, n: impl Into<String>) {
        self.notes.push(n.into());
    }
    pub fn count(&self, s: Status) -> usize {
        self.entries.iter().filter(|e| e.status == s).count()
    }
    pub fn unsupported(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| e.status == Status::Unsupported)
    }

    /// Human-readable report, grouped by status.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "import report: {} imported, {} skipped, {} unsupported",
            self.count(Status::Imported),
            self.count(Status::Skipped),
            self.count(Status::Unsupported)
        );
        for s in [Status::Unsupported, Status::Imported, Status::Skipped] {
            let rows: Vec<&Entry> = self.entries.iter().filter(|e| e.status == s).collect();
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(o, "\n{}:", s.as_str());
            for e in rows {
                let _ = writeln!(o, "  {}  {}\n      {}", e.type_name, e.id, e.detail);
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(o, "\nnotes:");
            for n in &self.notes {
                let _ = writeln!(o, "  - {n}");
            }
        }
        o
    }

    /// Machine-readable report.
    pub fn to_json(&self) -> String {
        let entries: Vec<serde_json::Value> = self
            .entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "status": e.status.as_str(),
                    "type": e.type_name,
                    "id": e.id,
                    "detail": e.detail,
                })
            })
            .collect();
        let v = serde_json::json!({
            "imported": self.count(Status::Imported),
            "skipped": self.count(Status::Skipped),
            "unsupported": self.count(Status::Unsupported),
            "resources": entries,
            "notes": self.notes,
        });
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }
}
