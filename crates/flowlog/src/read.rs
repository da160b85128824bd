//! Files into tuples: folders walked in path order, gzip undone, the kind of each file found
//! from its content, records parsed one at a time.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::tuple::{parse_mac, Schema, Tuple};
use crate::Group;

/// What reading may spend.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest blob once decompressed (a PT1H.json holds one NIC's hour: megabytes).
    pub max_blob_bytes: u64,
    /// Located examples of corrupt input kept for the report.
    pub max_examples: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_blob_bytes: 1 << 30,
            max_examples: 10,
        }
    }
}

/// Where a tuple or a problem is: the file (index into [`ReadStats::files`]), the record (its
/// index in the blob's `records`, or its line in JSON lines), the line it starts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub file: u32,
    pub record: u64,
    pub line: u64,
}

/// A path that cannot be read at all (missing, unreadable): the only fatal error.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, Default)]
pub struct ReadStats {
    /// Every file read, in the order read (locations index into it).
    pub files: Vec<PathBuf>,
    pub records: u64,
    pub tuples: u64,
    pub vnet_v4_tuples: u64,
    pub nsg_v1_tuples: u64,
    pub nsg_v2_tuples: u64,
    /// Records that are not flow-log records (bad JSON, wrong shape): skipped.
    pub corrupt_records: u64,
    /// Tuples that do not parse: skipped.
    pub corrupt_tuples: u64,
    /// Blobs cut mid-write (the complete records before the cut were read).
    pub truncated_blobs: u64,
    /// Files that are not flow logs (not JSON objects): skipped.
    pub skipped_files: u64,
    /// The first corrupt inputs, located (`FILE: record N (line L): what`).
    pub examples: Vec<String>,
}

impl ReadStats {
    fn note(&mut self, limits: &Limits, msg: impl FnOnce() -> String) {
        if self.examples.len() < limits.max_examples {
            self.examples.push(msg());
        }
    }
}

#[derive(Deserialize)]
struct Container<'a> {
    #[serde(borrow)]
    records: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "macAddress", default)]
    mac_address: Option<String>,
    #[serde(rename = "flowLogResourceID", alias = "resourceId", default)]
    resource: Option<String>,
    #[serde(rename = "targetResourceID", default)]
    target: Option<String>,
    #[serde(rename = "flowRecords", borrow, default)]
    flow_records: Option<VnetFlows<'a>>,
    #[serde(borrow, default)]
    properties: Option<NsgProperties<'a>>,
}

#[derive(Deserialize)]
struct VnetFlows<'a> {
    #[serde(borrow, default)]
    flows: Vec<VnetAcl<'a>>,
}

#[derive(Deserialize)]
struct VnetAcl<'a> {
    #[serde(rename = "aclID", default)]
    acl_id: String,
    #[serde(rename = "flowGroups", borrow, default)]
    flow_groups: Vec<RuleGroup<'a>>,
}

#[derive(Deserialize)]
struct RuleGroup<'a> {
    #[serde(default)]
    rule: String,
    #[serde(rename = "flowTuples", borrow, default)]
    flow_tuples: Vec<&'a str>,
}

#[derive(Deserialize)]
struct NsgProperties<'a> {
    #[serde(rename = "Version", alias = "version", default)]
    version: Option<u32>,
    #[serde(borrow, default)]
    flows: Vec<NsgRule<'a>>,
}

#[derive(Deserialize)]
struct NsgRule<'a> {
    #[serde(default)]
    rule: String,
    #[serde(borrow, default)]
    flows: Vec<NsgMac<'a>>,
}

#[derive(Deserialize)]
struct NsgMac<'a> {
    #[serde(default)]
    mac: Option<String>,
    #[serde(rename = "flowTuples", borrow, default)]
    flow_tuples: Vec<&'a str>,
}

/// Every file under `paths` (folders walked recursively, in path order; hidden entries
/// skipped), the files given directly first-to-last.
pub fn expand(paths: &[&Path]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for p in paths {
        let md = std::fs::metadata(p)
            .map_err(|e| Error(format!("error: cannot read {}: {e}", p.display())))?;
        if md.is_dir() {
            walk_dir(p, &mut out)?;
        } else {
            out.push(p.to_path_buf());
        }
    }
    Ok(out)
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| Error(format!("error: cannot read folder {}: {e}", dir.display())))?;
    let mut entries: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            walk_dir(&e, out)?;
        } else {
            out.push(e);
        }
    }
    Ok(())
}

/// Whether a file looks like a flow log: gzip, or JSON text starting with an object. A pipe
/// or a device is not (it is read as a capture unless the caller says otherwise).
pub fn looks_like_flow_log(path: &Path) -> bool {
    let mut head = [0u8; 512];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    // A pipe or a device is not looked into: what this reads would be gone for the reader.
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return false;
    }
    let n = f.read(&mut head).unwrap_or(0);
    let head = &head[..n];
    if head.starts_with(&[0x1f, 0x8b]) {
        return true;
    }
    let p = skip_ws(head, 0);
    p < head.len() && head[p] == b'{'
}

/// Reads every flow log under `paths`, calling `sink` for each tuple with its group.
/// Only a path that cannot be read at all is an error; corrupt content is counted.
pub fn read_paths(
    paths: &[&Path],
    limits: &Limits,
    sink: &mut dyn FnMut(&Group<'_>, &Tuple),
) -> Result<ReadStats, Error> {
    let files = expand(paths)?;
    let mut st = ReadStats::default();
    let mut buf = Vec::new();
    for (i, path) in files.iter().enumerate() {
        st.files.push(path.clone());
        load(path, limits, &mut buf)?;
        let mut r = Reader {
            file: i as u32,
            name: path.display().to_string(),
            bytes: &buf,
            limits,
            st: &mut st,
        };
        r.file(sink);
    }
    Ok(st)
}

/// Reads one blob already in memory (as a distributed reader holds it), named `name` in its
/// locations (file index 0): gzip undone, then read as [`read_paths`] reads a file.
pub fn read_blob(
    name: &str,
    bytes: &[u8],
    limits: &Limits,
    sink: &mut dyn FnMut(&Group<'_>, &Tuple),
) -> Result<ReadStats, Error> {
    let mut st = ReadStats::default();
    st.files.push(PathBuf::from(name));
    let mut buf = Vec::new();
    let cap = limits.max_blob_bytes.saturating_add(1);
    let text: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
        // A gzip stream cut mid-write keeps what was decompressed, as for files.
        let _ = flate2::read::MultiGzDecoder::new(bytes)
            .take(cap)
            .read_to_end(&mut buf);
        &buf
    } else {
        bytes
    };
    if text.len() as u64 > limits.max_blob_bytes {
        return Err(Error(format!(
            "error: {name}: larger than {} bytes once decompressed (one flow-log blob holds one NIC's hour); split it or raise the limit",
            limits.max_blob_bytes
        )));
    }
    let mut r = Reader {
        file: 0,
        name: name.to_string(),
        bytes: text,
        limits,
        st: &mut st,
    };
    r.file(sink);
    Ok(st)
}

/// The file's bytes, decompressed when gzip, at most `max_blob_bytes`.
fn load(path: &Path, limits: &Limits, buf: &mut Vec<u8>) -> Result<(), Error> {
    buf.clear();
    let cant = |e: std::io::Error| Error(format!("error: cannot read {}: {e}", path.display()));
    let f = std::fs::File::open(path).map_err(cant)?;
    let mut head = [0u8; 2];
    let mut f = std::io::BufReader::new(f);
    let n = {
        use std::io::BufRead;
        let b = f.fill_buf().map_err(cant)?;
        let n = b.len().min(2);
        head[..n].copy_from_slice(&b[..n]);
        n
    };
    let cap = limits.max_blob_bytes.saturating_add(1);
    let res = if n == 2 && head == [0x1f, 0x8b] {
        flate2::bufread::MultiGzDecoder::new(f)
            .take(cap)
            .read_to_end(buf)
    } else {
        f.take(cap).read_to_end(buf)
    };
    if let Err(e) = res {
        // A gzip stream cut mid-write: keep what was decompressed, the JSON reader counts the cut.
        if buf.is_empty() {
            return Err(cant(e));
        }
    }
    if buf.len() as u64 > limits.max_blob_bytes {
        return Err(Error(format!(
            "error: {}: larger than {} bytes once decompressed (one flow-log blob holds one NIC's hour); split it or raise the limit",
            path.display(),
            limits.max_blob_bytes
        )));
    }
    Ok(())
}

fn skip_ws(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && matches!(b[p], b' ' | b'\t' | b'\n' | b'\r') {
        p += 1;
    }
    p
}

/// After the opening `{` at `p`: the position just past `"records" : [`, if that is what follows.
fn records_array(b: &[u8], p: usize) -> Option<usize> {
    let mut q = skip_ws(b, p + 1);
    let key = b"\"records\"";
    if !b[q..].starts_with(key) {
        return None;
    }
    q = skip_ws(b, q + key.len());
    if b.get(q) != Some(&b':') {
        return None;
    }
    q = skip_ws(b, q + 1);
    (b.get(q) == Some(&b'[')).then_some(q + 1)
}

/// After a break at `from`, the start of the next record of the `records` array: a `{`
/// that follows a `,` and whose first key is `"time"`, as every record Azure writes begins
/// (NSG flow logs and VNet flow logs alike). Nested objects never start with that key, so
/// reading resumes on a record boundary.
fn resync(b: &[u8], from: usize) -> Option<usize> {
    let mut q = from;
    while let Some(i) = b.get(q..)?.iter().position(|&c| c == b'{') {
        let at = q + i;
        let before = b[..at]
            .iter()
            .rposition(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'));
        let key = skip_ws(b, at + 1);
        if before.is_some_and(|k| b[k] == b',') && b[key..].starts_with(b"\"time\"") {
            return Some(at);
        }
        q = at + 1;
    }
    None
}

fn line_of(b: &[u8], p: usize) -> u64 {
    1 + b[..p.min(b.len())].iter().filter(|&&c| c == b'\n').count() as u64
}

struct Reader<'a> {
    file: u32,
    name: String,
    bytes: &'a [u8],
    limits: &'a Limits,
    st: &'a mut ReadStats,
}

impl Reader<'_> {
    fn file(&mut self, sink: &mut dyn FnMut(&Group<'_>, &Tuple)) {
        let b = self.bytes;
        let p = skip_ws(b, 0);
        if p == b.len() {
            return; // a blob just created, nothing appended yet
        }
        if b[p] != b'{' {
            self.st.skipped_files += 1;
            let name = &self.name;
            self.st.note(self.limits, || {
                format!("{name}: not a flow log (expected a JSON object), skipped")
            });
            return;
        }
        match records_array(b, p) {
            Some(q) => self.blob(q, sink),
            None => self.lines(sink),
        }
    }

    /// `{"records": [r, r, ...]}`, one record at a time; a cut keeps the records before it.
    fn blob(&mut self, mut p: usize, sink: &mut dyn FnMut(&Group<'_>, &Tuple)) {
        let b = self.bytes;
        let mut index: u64 = 0;
        loop {
            p = skip_ws(b, p);
            if p >= b.len() {
                return self.truncated(index, p);
            }
            if b[p] == b']' {
                return;
            }
            let mut it = serde_json::Deserializer::from_slice(&b[p..]).into_iter::<&RawValue>();
            match it.next() {
                Some(Ok(raw)) => {
                    let loc = Location {
                        file: self.file,
                        record: index,
                        line: 0,
                    };
                    self.record(raw.get(), loc, p, sink);
                    p += it.byte_offset();
                }
                Some(Err(e)) if e.is_eof() => return self.truncated(index, p),
                Some(Err(e)) => {
                    let line = line_of(b, p) + e.line() as u64 - 1;
                    let next = resync(b, p + 1);
                    self.broken(index, line, &format!("not JSON ({e})"), next);
                    match next {
                        Some(q) => {
                            p = q;
                            index += 1;
                            continue;
                        }
                        None => return,
                    }
                }
                None => return self.truncated(index, p),
            }
            index += 1;
            p = skip_ws(b, p);
            match b.get(p) {
                None => return self.truncated(index, p),
                Some(b',') => p += 1,
                Some(b']') => return,
                Some(_) => {
                    let next = resync(b, p);
                    let what = "expected ',' or ']' after a record";
                    self.broken(index, line_of(b, p), what, next);
                    match next {
                        Some(q) => p = q,
                        None => return,
                    }
                }
            }
        }
    }

    /// A record that is not JSON (counted as one corrupt record, whatever it spans), and
    /// where reading goes on: the next record, or nowhere.
    fn broken(&mut self, index: u64, line: u64, what: &str, next: Option<usize>) {
        self.st.corrupt_records += 1;
        let (name, b) = (&self.name, self.bytes);
        self.st.note(self.limits, || match next {
            Some(q) => format!(
                "{name}: record {index} (line {line}): {what}; skipped to the next record, at line {}",
                line_of(b, q)
            ),
            None => format!(
                "{name}: record {index} (line {line}): {what}; no record follows, the rest of the blob is skipped"
            ),
        });
    }

    fn truncated(&mut self, complete: u64, p: usize) {
        self.st.truncated_blobs += 1;
        let (name, line) = (&self.name, line_of(self.bytes, p));
        self.st.note(self.limits, || {
            format!("{name}: cut mid-write at line {line} after {complete} complete record(s), which were read")
        });
    }

    /// One record (or one `{"records": [...]}` blob) per line.
    fn lines(&mut self, sink: &mut dyn FnMut(&Group<'_>, &Tuple)) {
        let b = self.bytes;
        let mut start = 0;
        let mut line: u64 = 0;
        while start < b.len() {
            line += 1;
            let end = b[start..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |i| start + i);
            let text = &b[start..end];
            let at = start;
            start = end + 1;
            if skip_ws(text, 0) == text.len() {
                continue;
            }
            let loc = Location {
                file: self.file,
                record: line,
                line,
            };
            match std::str::from_utf8(text) {
                // Only the last line can be a record cut mid-write; an unfinished line before it is corrupt.
                Ok(s)
                    if start < b.len()
                        && serde_json::from_str::<serde::de::IgnoredAny>(s)
                            .is_err_and(|e| e.is_eof()) =>
                {
                    self.corrupt(loc, at, "an unfinished JSON record".into())
                }
                Ok(s) => match serde_json::from_str::<Container<'_>>(s) {
                    Ok(c) => {
                        for (i, r) in c.records.iter().enumerate() {
                            let l = Location {
                                record: i as u64,
                                ..loc
                            };
                            self.record(r.get(), l, at, sink);
                        }
                    }
                    Err(_) => self.record(s, loc, at, sink),
                },
                Err(_) => self.corrupt(loc, at, "not UTF-8 text".into()),
            }
        }
    }

    fn corrupt(&mut self, loc: Location, at: usize, what: String) {
        self.st.corrupt_records += 1;
        let (name, bytes) = (&self.name, self.bytes);
        self.st.note(self.limits, || {
            let line = if loc.line > 0 {
                loc.line
            } else {
                line_of(bytes, at)
            };
            format!(
                "{name}: record {} (line {line}): {what}; skipped",
                loc.record
            )
        });
    }

    fn record(
        &mut self,
        raw: &str,
        loc: Location,
        at: usize,
        sink: &mut dyn FnMut(&Group<'_>, &Tuple),
    ) {
        let r: Record<'_> = match serde_json::from_str(raw) {
            Ok(r) => r,
            Err(e) if e.is_eof() => {
                // Only the last line of JSON lines can be cut: count it as the blob's cut.
                return self.truncated(loc.record, at);
            }
            Err(e) => return self.corrupt(loc, at, format!("not a flow-log record ({e})")),
        };
        self.st.records += 1;
        let resource = r.resource.as_deref().unwrap_or("");
        let target = r.target.as_deref();
        let rec_mac = r.mac_address.as_deref().and_then(parse_mac);
        if let Some(v) = &r.flow_records {
            for acl in &v.flows {
                for g in &acl.flow_groups {
                    let group = Group {
                        schema: Schema::VnetV4,
                        mac: rec_mac,
                        acl: &acl.acl_id,
                        rule: &g.rule,
                        resource,
                        target,
                        location: loc,
                    };
                    self.tuples(&group, &g.flow_tuples, at, sink);
                }
            }
        } else if let Some(p) = &r.properties {
            for rule in &p.flows {
                for m in &rule.flows {
                    let schema = match p.version {
                        Some(1) => Schema::NsgV1,
                        Some(_) => Schema::NsgV2,
                        // No version: the field count tells.
                        None => match m.flow_tuples.first() {
                            Some(t) if t.split(',').count() == 8 => Schema::NsgV1,
                            _ => Schema::NsgV2,
                        },
                    };
                    let group = Group {
                        schema,
                        mac: m.mac.as_deref().and_then(parse_mac).or(rec_mac),
                        acl: resource,
                        rule: &rule.rule,
                        resource,
                        target,
                        location: loc,
                    };
                    self.tuples(&group, &m.flow_tuples, at, sink);
                }
            }
        } else {
            self.st.records -= 1;
            self.corrupt(
                loc,
                at,
                "neither flowRecords (a VNet flow log) nor properties.flows (an NSG flow log)"
                    .into(),
            );
        }
    }

    fn tuples(
        &mut self,
        g: &Group<'_>,
        tuples: &[&str],
        at: usize,
        sink: &mut dyn FnMut(&Group<'_>, &Tuple),
    ) {
        for (i, s) in tuples.iter().enumerate() {
            match Tuple::parse(s, g.schema) {
                Ok(t) => {
                    self.st.tuples += 1;
                    match g.schema {
                        Schema::VnetV4 => self.st.vnet_v4_tuples += 1,
                        Schema::NsgV1 => self.st.nsg_v1_tuples += 1,
                        Schema::NsgV2 => self.st.nsg_v2_tuples += 1,
                    }
                    sink(g, &t);
                }
                Err(e) => {
                    self.st.corrupt_tuples += 1;
                    let (name, loc, rule, bytes) = (&self.name, g.location, g.rule, self.bytes);
                    self.st.note(self.limits, || {
                        let line = if loc.line > 0 {
                            loc.line
                        } else {
                            line_of(bytes, at)
                        };
                        format!(
                            "{name}: record {} (line {line}), rule {rule}, tuple {i}: {e}; skipped",
                            loc.record
                        )
                    });
                }
            }
        }
    }
}
