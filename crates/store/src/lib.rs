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
//! | payload | the validation warnings' text and the [`Fabric`], in [`codec`]'s format |
//!
//! A file is recognised by its magic bytes, never by its name. Reading refuses, with a message
//! naming the file and what is wrong, a file of another format version or vnetsim version, a
//! file shorter or longer than its header says, and a payload whose checksum does not match;
//! it reads the file once into memory and allocates nothing beyond what those bytes can hold.
//! The checksum finds accidental damage (a truncated copy, a flipped bit), not a deliberately
//! forged file: a compiled fabric is trusted as vnetsim wrote it.
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

use vnetsim_fabric::Fabric;

/// The first bytes of every compiled fabric file.
pub const MAGIC: [u8; 16] = *b"\x89vnetsim-fabric\n";

/// The layout of the payload. Files of any other version are refused.
pub const FORMAT_VERSION: u32 = 1;

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

/// Whether the file at `path` starts with [`MAGIC`] (false when it cannot be read: the
/// reader of the topology then reports why).
pub fn is_compiled(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == MAGIC)
}

/// Writes `saved` to `path` (under a temporary name first, so that an interrupted run never
/// leaves a file that looks complete). The header and the payload are written one after the
/// other, so the payload is in memory once.
pub fn save(path: &Path, saved: &Saved) -> Result<(), String> {
    use std::io::Write;
    let payload = codec::to_bytes(saved).map_err(|e| format!("error: cannot encode: {e}"))?;
    let mut header = Vec::with_capacity(FIXED_HEADER + VNETSIM_VERSION.len());
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    header.extend_from_slice(&checksum(&payload).to_le_bytes());
    header.extend_from_slice(&(VNETSIM_VERSION.len() as u16).to_le_bytes());
    header.extend_from_slice(VNETSIM_VERSION.as_bytes());
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let err = |e: std::io::Error| format!("error: cannot write {}: {e}", path.display());
    let mut file = std::fs::File::create(&tmp).map_err(err)?;
    file.write_all(&header)
        .and_then(|()| file.write_all(&payload))
        .map_err(err)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(err)
}

/// Reads a compiled fabric file.
pub fn load(path: &Path) -> Result<Saved, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("error: cannot read {}: {e}", path.display()))?;
    decode(&bytes).map_err(|e| format!("{}: error: {e}", path.display()))
}

/// Reads a compiled fabric from the bytes of its file.
pub fn decode(bytes: &[u8]) -> Result<Saved, String> {
    let payload = check_header(bytes)?;
    codec::from_bytes(payload).map_err(|e| format!("compiled fabric payload: {e}"))
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
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunks = bytes.chunks_exact(8);
    let mut h = bytes.len() as u64;
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^ (h >> 33)
}
