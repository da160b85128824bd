//! The compiled-fabric reader (`vnetsim compile`'s files) on arbitrary payloads: each input is
//! framed with a header that passes (this vnetsim's magic, format and version, the payload's
//! length and checksum), so that every input reaches the decoder rather than the checksum;
//! an input that is itself a compiled file is framed again around its own payload. Whatever
//! decodes has every NSG table decoded too. No panic, no allocation the payload's size does not
//! bound (the codec reserves for a length only what the bytes left can hold).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnetsim_store::{checksum, decode, FORMAT_VERSION, MAGIC, VNETSIM_VERSION};

/// Magic, format, payload length, checksum, version length (the version follows).
const FIXED_HEADER: usize = 16 + 4 + 8 + 8 + 2;

/// The payload of a compiled file (what follows its header), else the input itself.
fn payload_of(data: &[u8]) -> &[u8] {
    if data.len() >= FIXED_HEADER && data[..16] == MAGIC {
        let vlen = u16::from_le_bytes([data[36], data[37]]) as usize;
        if let Some(p) = data.get(FIXED_HEADER + vlen..) {
            return p;
        }
    }
    data
}

fuzz_target!(|data: &[u8]| {
    let payload = payload_of(data);
    let mut file = Vec::with_capacity(FIXED_HEADER + VNETSIM_VERSION.len() + payload.len());
    file.extend_from_slice(&MAGIC);
    file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    file.extend_from_slice(&checksum(payload).to_le_bytes());
    file.extend_from_slice(&(VNETSIM_VERSION.len() as u16).to_le_bytes());
    file.extend_from_slice(VNETSIM_VERSION.as_bytes());
    file.extend_from_slice(payload);
    match decode(Box::new(file)) {
        Ok(saved) => {
            if let Err(e) = saved.fabric.nsg_tables.decode_all() {
                assert!(!e.is_empty(), "a table that does not decode says why");
            }
        }
        Err(e) => assert!(!e.is_empty(), "a refused payload says why"),
    }
});
