//! Capture reading throughput: a synthetic Ethernet pcap of 1,000,000 packets
//! (IMIX-like sizes, 2,000 flows) is written to a temporary directory once,
//! then read end to end per iteration.
//!
//! Set `VNETSIM_BENCH_KEEP=PATH` to also copy the generated capture to PATH
//! (to compare with other readers on the same file).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use vnetsim_traffic::{synth, tls_sni, CaptureReader, PacketKind};

const PACKETS: u64 = 1_000_000;

fn bench_capture(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.pcap");
    let flows = synth::default_flow_set(2_000, 11);
    let sum = synth::write_large(&path, &flows, PACKETS, 5).expect("write capture");
    if let Ok(keep) = std::env::var("VNETSIM_BENCH_KEEP") {
        std::fs::copy(&path, keep).expect("copy capture");
    }

    let mut g = c.benchmark_group("capture");
    g.sample_size(10);
    g.throughput(Throughput::ElementsAndBytes {
        elements: sum.packets,
        bytes: sum.file_bytes,
    });
    g.bench_function("read_decode_1M", |b| {
        b.iter(|| {
            let st = CaptureReader::open(&path).unwrap().count();
            assert_eq!(st.packets, PACKETS);
            black_box(st)
        })
    });
    g.bench_function("read_decode_sni_1M", |b| {
        b.iter(|| {
            let mut r = CaptureReader::open(&path).unwrap();
            let mut names = 0u64;
            while let Some(p) = r.next_packet() {
                if let PacketKind::Ipv4(f) = p.info.kind {
                    if f.dport == 443 && tls_sni(f.l4_payload(p.data)).is_some() {
                        names += 1;
                    }
                }
            }
            black_box(names)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_capture);
criterion_main!(benches);
