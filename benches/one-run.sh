#!/usr/bin/env bash
# The Performance section's "one run": every comparison of the README's table, one after the
# other, each as alternating pairs (benches/alternate.py), printed as JSON lines and then as
# the table's rows.
#
# Usage: benches/one-run.sh VNETSIM DATA_DIR DPDK_BENCH_DIR [PAIRS]
#   VNETSIM         the release binary (target/release/vnetsim)
#   DATA_DIR        where the generated fabrics and captures are made (once) and kept
#   DPDK_BENCH_DIR  the DPDK harnesses of ../shared/bench, built there with `make`
#                   (lpm_dpdk, acl_dpdk, gen_lpm.py, gen_acl.py)
#   PAIRS           alternating pairs per comparison (default 5; 3 for the 50,003-subnet loads)
#
# Needs tcpdump (the reader the replays are compared with) and python3.
set -euo pipefail
V="$(realpath "$1")"
D="$(realpath "$2")"
B="$(realpath "$3")"
PAIRS="${4:-5}"
here="$(cd "$(dirname "$0")" && pwd)"
lab="$(cd "$here/.." && pwd)/traces/hub-spoke-lab.yaml"
alt() { python3 "$here/alternate.py" "$@"; }
cd "$D"

# Workloads, made once.
for spec in "200 201 1000" "1000 1001 5000" "5000 5001 25000"; do
    set -- $spec
    [ -f "g$1.yaml" ] || "$V" generate --vnets "$2" --subnets-per-vnet 10 --rules 200 \
        --private-endpoints "$3" -o "g$1.yaml" >/dev/null
    [ -f "g$1.vnetsim" ] || "$V" compile "g$1.yaml" -o "g$1.vnetsim" >/dev/null
done
[ -f big.pcap ] || "$V" synth "$lab" --ports tcp/443,tcp/22,udp/53,icmp -o big.pcap \
    --packets 1000000 >/dev/null
[ -f many.pcap ] || "$V" synth g200.yaml $(for i in $(seq 1 20); do echo --from vnet:spoke$i; done) \
    --to all -o many.pcap --packets 2000000 >/dev/null
[ -d lpm600 ] || python3 "$B/gen_lpm.py" lpm600 600 4000000 1 >/dev/null
[ -d lpm100k ] || python3 "$B/gen_lpm.py" lpm100k 100000 4000000 2 >/dev/null
[ -d acl100 ] || python3 "$B/gen_acl.py" acl100 100 1000000 4 >/dev/null
[ -d acl1000 ] || python3 "$B/gen_acl.py" acl1000 1000 1000000 3 >/dev/null

# Checksums at one round (DPDK's harnesses print the sum over all rounds).
checksum() { "$@" 2>&1 | grep -o 'checksum=[0-9]*' | head -n 1; }
for w in lpm600 lpm100k; do
    echo "checksum $w: vnetsim $(checksum "$V" bench lpm --routes $w/routes.txt --keys $w/keys.bin --rounds 1)" \
        "dpdk $(checksum "$B/lpm_dpdk" $w/routes.txt $w/keys.bin 1)"
done
for w in acl100 acl1000; do
    echo "checksum $w: vnetsim $(checksum "$V" bench acl --rules $w/rules.txt --keys $w/keys.bin --rounds 1)" \
        "dpdk $(checksum "$B/acl_dpdk" $w/rules.txt $w/keys.bin 1)"
done

lpm='Mlookups/s=([0-9.]+)'
acl='Mclassify/s=([0-9.]+)'
walk='flows/s=([0-9.]+)'
swept='\(([0-9.]+) flows/s\)'
for w in lpm600 lpm100k; do
    alt "FIB $w against rte_lpm" --pairs "$PAIRS" --rate-a "$lpm" --rate-b "$lpm" \
        --a "$V bench lpm --routes $w/routes.txt --keys $w/keys.bin --rounds 10" \
        --b "$B/lpm_dpdk $w/routes.txt $w/keys.bin 10"
done
for w in acl100 acl1000; do
    alt "classifier $w against rte_acl" --pairs "$PAIRS" --rate-a "$acl" --rate-b "$acl" \
        --a "$V bench acl --rules $w/rules.txt --keys $w/keys.bin --rounds 5" \
        --b "$B/acl_dpdk $w/rules.txt $w/keys.bin 5"
done
alt "summary sweep against bench walk, 6,013,006 flows, 1 thread" --pairs "$PAIRS" \
    --rate-a "$swept" --rate-b "$walk" \
    --a "$V sweep g200.yaml --from all --to all --ports tcp/443 --threads 1" \
    --b "$V bench walk g200.yaml --from all --to all --ports tcp/443 --threads 1 --flows 6013006"
alt "sweep writing Parquet (shard 1/8, 751,626 rows) against bench walk, 1 thread" --pairs "$PAIRS" \
    --rate-a "$swept" --rate-b "$walk" \
    --a "$V sweep g200.yaml --from all --to all --ports tcp/443 --threads 1 --shard 1/8 --out rows.parquet" \
    --b "$V bench walk g200.yaml --from all --to all --ports tcp/443 --threads 1 --flows 751626"
for n in 200 1000 5000; do
    p="$PAIRS"
    [ "$n" = 5000 ] && p=3
    alt "compiled fabric against YAML, routes, g$n" --pairs "$p" \
        --a "$V routes g$n.vnetsim --subnet spoke1/snet0" \
        --b "$V routes g$n.yaml --subnet spoke1/snet0"
done
alt "trace, g1000, compiled against YAML" --pairs "$PAIRS" \
    --a "$V trace g1000.vnetsim --src nic:vm-1-0 --dst nic:vm-500-3" \
    --b "$V trace g1000.yaml --src nic:vm-1-0 --dst nic:vm-500-3"
alt "replay, few-flow capture (1M packets, 100 flows), against tcpdump" --pairs 7 \
    --a "$V replay $lab big.pcap" --b "tcpdump -r big.pcap -w /dev/null"
alt "replay, many-flow capture (2M packets, 600,400 flows), compiled fabric, against tcpdump" --pairs 7 \
    --a "$V replay g200.vnetsim many.pcap" --b "tcpdump -r many.pcap -w /dev/null"
alt "replay, many-flow capture, topology compiled in the run, against tcpdump" --pairs 7 \
    --a "$V replay g200.yaml many.pcap" --b "tcpdump -r many.pcap -w /dev/null"
