//! The pcap and pcapng readers on arbitrary bytes, with the L7 hints and
//! the header rewriter on every packet: no panic, and the reader always
//! advances (at most one packet per 12 bytes of input).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vnetsim_traffic::{http_host, rewrite_ipv4, tls_sni, CaptureReader, PacketKind, Rewrite};

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let Ok(mut reader) = CaptureReader::from_bytes(data.to_vec()) else {
        return;
    };
    let mut packets = 0u64;
    while let Some(p) = reader.next_packet() {
        packets += 1;
        assert!(packets <= len / 12 + 1, "the reader does not advance");
        if let PacketKind::Ipv4(f) = p.info.kind {
            let payload = f.l4_payload(p.data);
            let _ = tls_sni(payload);
            let _ = http_host(payload);
        }
        let mut bytes = p.data.to_vec();
        let _ = rewrite_ipv4(
            &mut bytes,
            p.link_type,
            &Rewrite {
                src: Some(0x0a00_0004),
                dst: Some(0x0a01_0004),
                sport: Some(40000),
                dport: Some(443),
            },
        );
    }
    let stats = reader.stats();
    let _ = stats.malformed_total();
});
