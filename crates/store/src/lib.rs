//! A compiled fabric saved to a file (`vnetsim compile TOPO -o fabric.vnetsim`) and read back,
//! so that repeated runs on the same estate skip parsing, validating and compiling.
//!
//! The file is a header and a payload:
//!
//! | bytes | what |
//! | --- | --- |
//! | 16 | [`MAGIC`] |
//! | 4 | [`FORMAT_VERSION`], little-endian |
//! | 8 | payload length, little-endian |
//! | 8 | payload checksum ([`checksum`]), little-endian |
//! | 2 + n | the vnetsim version that wrote it: length, then its text |
//! | payload | the head and the NSG tables (below) |
//!
//! The payload:
//!
//! | bytes | what |
//! | --- | --- |
//! | 8 | the head's length `h`, little-endian |
//! | h | the head, in [`codec`]'s format: the validation warnings' text, the [`Fabric`] without its NSG tables, and where each NSG table ends (counted from the first) |
//! | 0 to 7 | zeros, so that the tables start at a multiple of 8 bytes into the payload |
//! | the rest | the NSG tables, each in [`codec`]'s format, one after the other |
//!
//! A file is recognised by its magic bytes, never by its name. Reading refuses, with a message
//! naming the file and what is wrong, a file of another format version or vnetsim version, a
//! file shorter or longer than its header says, a payload whose checksum does not match, and
//! table ranges outside it. The checksum finds accidental damage (a truncated copy, a flipped
//! bit), not a deliberately forged file: a compiled fabric is trusted as vnetsim wrote it.
//!
//! Reading is what makes the file worth having, so it does as little as it can. The file is
//! mapped, not copied into memory; the checksum reads it once; the head is decoded (the
//! subnets, NICs, route sets and the rest, a tenth of the bytes); the NSG tables stay where
//! they are in the mapping and each is decoded the first time a command uses it
//! ([`vnetsim_fabric::deferred`]). `routes` for one subnet or a trace decodes the few tables
//! on its way; a sweep of every subnet decodes them all, once each. The file is written under
//! a temporary name and renamed into place, so compiling again never changes a file a running
//! command has mapped; a file cut short by some other program while a command has it mapped
//! ends that command (SIGBUS), as it would any program reading a mapped file.
//!
//! Why a format of its own rather than CBOR (`ciborium`, already a dependency of the
//! workspace's benchmarks): the fabric is mostly integer tables (FIBs, classifier pools, route
//! sets) and rule records. CBOR writes every struct as a map keyed by its field names and every
//! integer with a type header, and reads them back by matching names; [`codec`] writes fields
//! by position and integers at their width, so reading is a bounds check and a copy per value.
//! It stays a serde format: the fabric's types only derive `Serialize` and `Deserialize`.
//! Whoever changes a type the fabric holds bumps [`FORMAT_VERSION`].

pub mod codec;

use std::path::Path;

use vnetsim_fabric::deferred::{Deferred, Source};
use vnetsim_fabric::security::NsgTable;
use vnetsim_fabric::Fabric;

/// The first bytes of every compiled fabric file.
pub const MAGIC: [u8; 16] = *b"\x89vnetsim-fabric\n";

/// The layout of the payload. Files of any other version are refused.
pub const FORMAT_VERSION: u32 = 3;

/// The version of vnetsim writing and reading files.
pub const VNETSIM_VERSION: &str = env!("CARGO_PKG_VERSION");

const FIXED_HEADER: usize = 16 + 4 + 8 + 8 + 2;

/// What a compiled fabric file holds.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Saved {
    /// The validation warnings of the topology, as `validate` printed them, so that commands
    /// reading the file print the same warnings as commands reading the topology.
    pub warnings: String,
    pub fabric: Fabric,
}

/// Whether the regular file at `path` starts with [`MAGIC`] (false when it cannot be read: the
/// reader of the topology then reports why).
pub fn is_compiled(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| {
            // A pipe or a device is read once, by whoever reads the topology: looking at its
            // first bytes here would take them away from that reader.
            match f.metadata()?.is_file() {
                true => f.read_exact(&mut head),
                false => Err(std::io::ErrorKind::Unsupported.into()),
            }
        })
        .is_ok_and(|()| head == MAGIC)
}

/// Writes `saved` to `path` (under a temporary name first, so that an interrupted run never
/// leaves a file that looks complete). The header, the head and the tables are written one
/// after the other, so the payload is in memory once.
pub fn save(path: &Path, saved: &Saved) -> Result<(), String> {
    use std::io::Write;
    let enc = |e: codec::Error| format!("error: cannot encode: {e}");
    let (tables, table_ends) = encode_tables(&saved.fabric.nsg_tables).map_err(enc)?;
    // The head's length, then the head, written after it in place and the length filled in.
    let mut lead = vec![0u8; 8];
    let head = Head {
        warnings: &saved.warnings,
        fabric: &saved.fabric,
        table_ends,
    };
    codec::append(&head, &mut lead).map_err(enc)?;
    let head_len = (lead.len() - 8) as u64;
    lead[..8].copy_from_slice(&head_len.to_le_bytes());
    lead.resize(lead.len().next_multiple_of(8), 0);
    let payload_len = lead.len() + tables.len();
    let mut header = Vec::with_capacity(FIXED_HEADER + VNETSIM_VERSION.len());
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&(payload_len as u64).to_le_bytes());
    header.extend_from_slice(&checksum_of(&[&lead, &tables]).to_le_bytes());
    header.extend_from_slice(&(VNETSIM_VERSION.len() as u16).to_le_bytes());
    header.extend_from_slice(VNETSIM_VERSION.as_bytes());
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let err = |e: std::io::Error| format!("error: cannot write {}: {e}", path.display());
    let mut file = std::fs::File::create(&tmp).map_err(err)?;
    file.write_all(&header)
        .and_then(|()| file.write_all(&lead))
        .and_then(|()| file.write_all(&tables))
        .map_err(err)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(err)
}

/// The head of the payload as written: the fabric borrowed.
#[derive(serde::Serialize)]
struct Head<'a> {
    warnings: &'a str,
    fabric: &'a Fabric,
    table_ends: Vec<u64>,
}

/// The head of the payload as read.
#[derive(serde::Deserialize)]
struct ReadHead {
    warnings: String,
    fabric: Fabric,
    table_ends: Vec<u64>,
}

/// Every NSG table encoded, one after the other, and where each ends.
fn encode_tables(tables: &Deferred<NsgTable>) -> Result<(Vec<u8>, Vec<u64>), codec::Error> {
    let (mut bytes, mut ends) = (Vec::new(), Vec::with_capacity(tables.len()));
    for t in tables {
        codec::append(t, &mut bytes)?;
        ends.push(bytes.len() as u64);
    }
    Ok((bytes, ends))
}

fn decode_table(bytes: &[u8]) -> Result<NsgTable, String> {
    codec::from_bytes(bytes).map_err(|e| e.to_string())
}

/// Reads a compiled fabric file: mapped when it is large enough for that to pay, read into
/// memory when it is small (or not a regular file).
pub fn load(path: &Path) -> Result<Saved, String> {
    let cannot = |e: std::io::Error| format!("error: cannot read {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    let bytes: Box<dyn AsRef<[u8]> + Send + Sync> = if meta.is_file() && meta.len() >= 1 << 16 {
        // SAFETY: the mapping is read only. vnetsim writes these files under a temporary name
        // and renames them into place, so it never changes a file a command has mapped; what
        // another program does to the file meanwhile is the module's text.
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) };
        Box::new(map.map_err(cannot)?)
    } else {
        use std::io::Read;
        let mut v = Vec::new();
        (&file).read_to_end(&mut v).map_err(cannot)?;
        Box::new(v)
    };
    decode(bytes).map_err(|e| format!("{}: error: {e}", path.display()))
}

/// Reads a compiled fabric from the bytes of its file, which it keeps: its NSG tables are
/// decoded from them when first used.
pub fn decode(bytes: Box<dyn AsRef<[u8]> + Send + Sync>) -> Result<Saved, String> {
    let all = (*bytes).as_ref();
    let payload = check_header(all)?;
    let (at, file_len) = (all.len() - payload.len(), all.len());
    let bad = |e: String| format!("compiled fabric payload: {e}");
    let head_len = payload
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .ok_or_else(|| bad("shorter than its head's length".into()))?;
    let head_end = usize::try_from(head_len)
        .ok()
        .and_then(|h| h.checked_add(8))
        .filter(|&e| e <= payload.len())
        .ok_or_else(|| bad(format!("a head of {head_len} bytes runs past its end")))?;
    let head: ReadHead =
        codec::from_bytes(&payload[8..head_end]).map_err(|e| bad(e.to_string()))?;
    let start = at + head_end.next_multiple_of(8);
    let ends = head
        .table_ends
        .iter()
        .map(|&e| usize::try_from(e).ok().and_then(|e| e.checked_add(start)))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| bad("an NSG table ends past any file".into()))?;
    let source = Source::new(bytes, start.min(file_len), ends, decode_table)
        .map_err(|e| bad(format!("NSG {e}")))?;
    let mut fabric = head.fabric;
    fabric.nsg_tables = Deferred::encoded(source);
    Ok(Saved {
        warnings: head.warnings,
        fabric,
    })
}

/// The payload, once the header says it is one this vnetsim reads and it is whole.
fn check_header(bytes: &[u8]) -> Result<&[u8], String> {
    if bytes.len() < 16 || bytes[..16] != MAGIC {
        return Err("not a compiled fabric (its first bytes are not vnetsim's)".into());
    }
    let truncated = || "compiled fabric truncated inside its header".to_string();
    let fixed = bytes.get(..FIXED_HEADER).ok_or_else(truncated)?;
    let format = u32::from_le_bytes(fixed[16..20].try_into().expect("4 bytes"));
    let vlen = u16::from_le_bytes(fixed[36..38].try_into().expect("2 bytes")) as usize;
    if format != FORMAT_VERSION {
        return Err(other_version(format, None));
    }
    let version = bytes
        .get(FIXED_HEADER..FIXED_HEADER + vlen)
        .ok_or_else(truncated)?;
    if version != VNETSIM_VERSION.as_bytes() {
        return Err(other_version(
            format,
            Some(&String::from_utf8_lossy(version)),
        ));
    }
    let word = |at: usize| u64::from_le_bytes(fixed[at..at + 8].try_into().expect("8 bytes"));
    let (length, sum) = (word(20), word(28));
    let payload = &bytes[FIXED_HEADER + vlen..];
    if payload.len() as u64 != length {
        return Err(format!(
            "compiled fabric truncated or damaged: its header says {length} bytes of payload, \
             the file holds {}",
            payload.len()
        ));
    }
    if checksum(payload) != sum {
        return Err("compiled fabric damaged: its checksum does not match its payload".into());
    }
    Ok(payload)
}

fn other_version(format: u32, by: Option<&str>) -> String {
    let by = by
        .map(|v| format!(", written by vnetsim {v}"))
        .unwrap_or_default();
    format!(
        "compiled fabric of format version {format}{by}; this vnetsim ({VNETSIM_VERSION}) reads \
         format version {FORMAT_VERSION} written by its own version only: compile the topology \
         again"
    )
}

/// A 64-bit checksum of `bytes`, eight bytes a step (multiply-rotate, as in FxHash, then a
/// final mix): it finds truncation and flipped bits, at memory speed.
pub fn checksum(bytes: &[u8]) -> u64 {
    checksum_of(&[bytes])
}

/// [`checksum`] of `parts` one after the other, every part but the last a multiple of 8 bytes
/// long (so that none is copied to be summed).
fn checksum_of(parts: &[&[u8]]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = parts.iter().map(|p| p.len() as u64).sum::<u64>();
    for (i, part) in parts.iter().enumerate() {
        debug_assert!(i + 1 == parts.len() || part.len() % 8 == 0);
        let mut chunks = part.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^ (h >> 33)
}
