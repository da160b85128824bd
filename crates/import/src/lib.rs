//! # vnetsim-import: real Azure fabrics into topology format v1
//!
//! Layers, each with one job:
//! - [`json`]: a located, tolerant JSON reader (comments, raw newlines in
//!   strings, line:col on every value, bounded depth);
//! - [`detect`]: what a file is, by its content, never its extension;
//! - one module per source kind, each producing the neutral intermediate
//!   ([`ir::Resource`]: id, type, name, subscription, resource group,
//!   properties): [`azcli`] (`az network ... list -o json`), [`graph`]
//!   (Azure Resource Graph `{data: [...]}` pages);
//! - [`mapper`]: the ONE mapping from resources into the topology, which is
//!   written as YAML text ([`yaml`]) and must pass `vnetsim_model`'s
//!   validator;
//! - [`report`]: every resource seen, imported (as what), skipped (not
//!   network-relevant) or unsupported (affects packets, not modelled).
//!
//! Adding a source kind means one module that yields resources, plus a
//! line in [`detect`].

pub mod arm;
pub mod azcli;
pub mod detect;
pub mod generate;
pub mod graph;
pub mod ir;
pub mod json;
pub mod mapper;
pub mod report;
pub mod terraform;
mod terraform_lb;
pub mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use detect::SourceKind;
pub use report::{Report, Status};

/// Largest single source file read.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// Options of an import (the CLI's flags).
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// `name:` of the topology (default: `imported`).
    pub name: Option<String>,
    /// Tenant recorded in every object's origin when the source does not say.
    pub tenant: Option<String>,
    /// `--set NAME.field=VALUE`: values Azure assigns at deploy time.
    pub sets: Vec<(String, String)>,
    /// Opt-in: a firewall without a known private IP gets the 4th address of
    /// AzureFirewallSubnet (the first usable, e.g. .4 in a /26).
    pub assume_firewall_ip: bool,
    /// Templates: `subscription().subscriptionId` (default [`arm::DEFAULT_SUBSCRIPTION`]).
    pub subscription_id: Option<String>,
    /// Templates: `resourceGroup().name` (default [`arm::DEFAULT_RESOURCE_GROUP`]).
    pub resource_group: Option<String>,
    /// Templates: `resourceGroup().location` (default [`arm::DEFAULT_LOCATION`]).
    pub location: Option<String>,
    /// Templates: `--template-root PREFIX=DIR`, a linked-template URL prefix mapped to a folder.
    pub template_roots: Vec<(String, PathBuf)>,
    /// `--service-tags FILE`: the JSON `az network list-service-tags` writes. NSG, admin and
    /// firewall rules naming service tags are imported with it (written as `serviceTags:`);
    /// without it they are reported and left out (they would match no address).
    pub service_tags: Option<PathBuf>,
    /// Where the topology will be written: `serviceTags:` is then relative to its folder
    /// (else the tag file's absolute path).
    pub output: Option<PathBuf>,
}

/// A service-tag file given to the import.
#[derive(Clone, Debug)]
pub struct TagFile {
    pub tags: vnetsim_model::service_tags::ServiceTags,
    /// The `serviceTags:` value written in the topology.
    pub written: String,
    /// A file name whose folder `written` is relative to (for validating the emitted text).
    pub validate_as: String,
}

/// One located problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diag {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// An import that could not complete: every problem, each located.
#[derive(Clone, Debug, Default)]
pub struct ImportError {
    pub diagnostics: Vec<Diag>,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ImportError {}

/// A finished import.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The topology, format v1, validated.
    pub yaml: String,
    pub report: Report,
    /// Validator warnings on the imported topology (rendered `file:line:col: warning: ...`).
    pub warnings: Vec<String>,
}

/// The files read, so that a position's file index gives a name.
#[derive(Clone, Debug, Default)]
pub struct Files {
    pub names: Vec<String>,
}

impl Files {
    pub fn add(&mut self, name: String) -> u32 {
        self.names.push(name);
        (self.names.len() - 1) as u32
    }
    pub fn name(&self, file: u32) -> &str {
        self.names
            .get(file as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }
    pub fn diag(&self, pos: json::Pos, message: impl Into<String>) -> Diag {
        Diag {
            file: self.name(pos.file).to_string(),
            line: pos.line,
            col: pos.col,
            message: message.into(),
        }
    }
}

/// Whether `path` (a file or a folder) holds something this crate imports (regular files
/// only; see `json_text`).
pub fn looks_like_import_source(path: &Path) -> bool {
    match list_files(path) {
        Ok(files) => files.iter().any(|f| {
            json_text(f)
                .and_then(|t| json::parse(&t, 0).ok())
                .is_some_and(|v| detect::detect(&v).is_some())
        }),
        Err(_) => false,
    }
}

/// Imports `sources` (files or folders, any mix of kinds) into one topology.
pub fn import(sources: &[PathBuf], opts: &ImportOptions) -> Result<Imported, ImportError> {
    import_with_progress(sources, opts, &|_| {})
}

/// How far an import has gone, for a progress display: first the bytes of the source files
/// read and parsed (of all the files' bytes), then the mapping steps done (of all steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    Read {
        bytes: u64,
        of: u64,
    },
    Map {
        step: &'static str,
        done: u64,
        of: u64,
    },
}

/// [`import`], telling `progress` after each file read and each mapping step.
pub fn import_with_progress(
    sources: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Fn(Progress),
) -> Result<Imported, ImportError> {
    // A last line of defence: a bug must come back as an error, never abort the caller.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        import_inner(sources, opts, progress)
    }))
    .unwrap_or_else(|_| {
        Err(ImportError {
            diagnostics: vec![Diag {
                file: sources
                    .first()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                line: 1,
                col: 1,
                message: "internal error in the importer (please report it with the input)".into(),
            }],
        })
    })
}

fn import_inner(
    sources: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Fn(Progress),
) -> Result<Imported, ImportError> {
    let mut files = Files::default();
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let mut report = Report::default();
    let mut read = Reading {
        bytes: 0,
        of: sources.iter().map(|s| source_bytes(s)).sum(),
        progress,
    };
    for src in sources {
        load_source(
            src,
            &mut files,
            &mut docs,
            &mut errors,
            &mut report,
            &mut read,
        );
    }
    if !errors.is_empty() {
        return Err(ImportError {
            diagnostics: errors,
        });
    }
    let mut resources = Vec::new();
    let (mut templates, mut params) = (Vec::new(), Vec::new());
    for (kind, v, root) in docs {
        let name = files.name(v.pos.file).to_string();
        match kind {
            SourceKind::AzCli => resources.extend(azcli::resources(&v, &name)),
            SourceKind::ResourceGraph => resources.extend(graph::resources(&v, &name)),
            SourceKind::Terraform => resources.extend(terraform::resources(&v, &name)),
            SourceKind::ArmTemplate if root => templates.push(v),
            SourceKind::ArmTemplate => {}
            SourceKind::ArmParameters => params.push(v),
            SourceKind::LearnedRoutes => resources.push(mapper::learned_routes_source(v, &name)),
        }
    }
    if !templates.is_empty() {
        let r = arm::resources(&templates, &params, &mut files, opts)
            .map_err(|diagnostics| ImportError { diagnostics })?;
        resources.extend(r.resources);
        r.notes.into_iter().for_each(|n| report.note(n));
    }
    let mut refusals: Vec<Diag> = arm::deploy_time_values(&resources)
        .into_iter()
        .map(|(pos, msg)| files.diag(pos, format!("refused: {msg}")))
        .collect();
    let tags = match &opts.service_tags {
        Some(p) => Some(
            tag_file(p, opts.output.as_deref()).map_err(|d| ImportError {
                diagnostics: vec![d],
            })?,
        ),
        None => None,
    };
    let mapped = mapper::map(&resources, &files, opts, report, tags.as_ref(), progress);
    if refusals.is_empty() {
        return mapped;
    }
    // Every deploy-time value at once: the expressions, then what the mapper could not place.
    if let Err(e) = mapped {
        let placed = e
            .diagnostics
            .into_iter()
            .filter(|d| d.message.starts_with("refused"));
        refusals.extend(placed);
    }
    Err(ImportError {
        diagnostics: refusals,
    })
}

/// Reads and parses `--service-tags FILE`; a problem is located in the tag file.
fn tag_file(path: &Path, output: Option<&Path>) -> Result<TagFile, Diag> {
    let text = read_text(path).map_err(|e| diag_at(path, &format!("--service-tags: {e}")))?;
    let abs = std::fs::canonicalize(path).map_err(|e| diag_at(path, &e.to_string()))?;
    let dir = output
        .and_then(|o| o.parent().map(Path::to_path_buf))
        .map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        })
        .and_then(|d| std::fs::canonicalize(d).ok());
    let (written, validate_as) = match dir.and_then(|d| relative(&d, &abs).map(|r| (r, d))) {
        Some((rel, d)) => (rel, d.join("imported.yaml")),
        None => (abs.display().to_string(), PathBuf::from("imported.yaml")),
    };
    let limits = vnetsim_model::Limits::default();
    let tags = vnetsim_model::service_tags::parse(&written, &text, &limits).map_err(|e| Diag {
        file: path.display().to_string(),
        line: e.loc.line,
        col: e.loc.col,
        message: format!("--service-tags: {}", e.message),
    })?;
    Ok(TagFile {
        tags,
        written,
        validate_as: validate_as.display().to_string(),
    })
}

/// `to` relative to the folder `from` (both absolute), with `/` separators.
fn relative(from: &Path, to: &Path) -> Option<String> {
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    for c in &b[common..] {
        parts.push(c.as_os_str().to_str()?.to_string());
    }
    Some(parts.join("/"))
}

/// The bytes read so far, for [`Progress::Read`].
struct Reading<'p> {
    bytes: u64,
    of: u64,
    progress: &'p dyn Fn(Progress),
}

impl Reading<'_> {
    fn file_done(&mut self, bytes: u64) {
        self.bytes = (self.bytes + bytes).min(self.of);
        (self.progress)(Progress::Read {
            bytes: self.bytes,
            of: self.of,
        });
    }
}

/// The bytes of a source's files as listed now (0 where a file cannot be listed: reading it
/// reports the problem).
fn source_bytes(src: &Path) -> u64 {
    list_files(src)
        .unwrap_or_default()
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}

/// Reads one source path, detecting each file's kind.
fn load_source(
    src: &Path,
    files: &mut Files,
    docs: &mut Vec<(SourceKind, json::Val, bool)>,
    errors: &mut Vec<Diag>,
    report: &mut Report,
    read: &mut Reading,
) {
    let is_dir = src.is_dir();
    let list = match list_files(src) {
        Ok(l) => l,
        Err(e) => {
            errors.push(diag_at(src, &format!("cannot read the import source: {e}")));
            return;
        }
    };
    for f in list {
        let text = match read_text(&f) {
            Ok(t) => t,
            Err(e) if is_dir => {
                report.note(format!("{}: not read ({e})", f.display()));
                continue;
            }
            Err(e) => {
                errors.push(diag_at(&f, &e));
                continue;
            }
        };
        let idx = files.add(f.display().to_string());
        let parsed = json::parse(&text, idx);
        read.file_done(text.len() as u64);
        match parsed {
            Ok(v) => match detect::detect(&v) {
                Some(k) => {
                    // In a folder, templates in subfolders are linked templates, not roots.
                    let root = !is_dir || f.parent() == Some(src);
                    docs.push((k, v, root))
                }
                None if is_dir => report.note(format!(
                    "{}: not an import source (no Azure resources recognised); ignored",
                    f.display()
                )),
                None => errors.push(files.diag(
                    v.pos,
                    "not an import source: expected az CLI JSON (an array of resources), \
                     Resource Graph output ({\"data\": [...]}), an ARM template or parameter file",
                )),
            },
            Err(_) if is_dir && !looks_like_json(&text) => {
                report.note(format!("{}: not JSON; ignored", f.display()));
            }
            Err(e) => errors.push(files.diag(e.pos, format!("malformed JSON: {}", e.message))),
        }
    }
}

fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

fn diag_at(path: &Path, message: &str) -> Diag {
    Diag {
        file: path.display().to_string(),
        line: 1,
        col: 1,
        message: message.to_string(),
    }
}

/// A file, or every regular file under a folder (sorted, recursively).
fn list_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        std::fs::metadata(path)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// How a source file's text is read: at most [`MAX_FILE_BYTES`] of it, whatever size the
/// file claims (a pipe, `/dev/zero`).
const SOURCE_CAP: vnetsim_model::read::Cap = vnetsim_model::read::Cap {
    max_bytes: MAX_FILE_BYTES,
    what: "the file",
    limit: "MAX_FILE_BYTES of the importer",
};

/// A source file's text ([`SOURCE_CAP`]), the first problem located in it.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    vnetsim_model::read::read_capped(file, &SOURCE_CAP)
        .map_err(|e| format!("{}: {}", e.loc, e.message))
}

/// The text of a regular file that can be a JSON document (an import source is one), else
/// `None`. The file's first 4 KiB are read first: unless its first character other than white
/// space (after a byte-order mark) is `{`, `[` or the `/` of a comment (ARM templates may
/// carry them), the rest is not read, so a topology or a capture is told apart from its first
/// bytes. A pipe or a device is not read at all: it is read once, as a topology, and its
/// first bytes are not taken away from that reader.
fn json_text(path: &Path) -> Option<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut head = Vec::with_capacity(4096);
    (&file).take(4096).read_to_end(&mut head).ok()?;
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&head);
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    if !first.is_some_and(|&b| matches!(b, b'{' | b'[' | b'/')) {
        return None;
    }
    vnetsim_model::read::read_capped(head.as_slice().chain(&file), &SOURCE_CAP).ok()
}
