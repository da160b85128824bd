"""The Python API answers what the command line answers: the same rows (sweep, replay), the
same documents (trace, diff, routes, rules), the documented schema, located errors."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import vnetsim
from conftest import cli, cli_json

PORTS = "tcp/22,tcp/443,udp/53,icmp"

# The flow row columns and their types, as docs/cli-contract.md and the Parquet writer define
# them: ports are 16-bit unsigned, counters 64-bit unsigned, the rest strings and a boolean, and
# last the forward path's hops as a list of strings.
DOCUMENTED = [
    ("src", pa.string(), False), ("dst", pa.string(), False), ("protocol", pa.string(), False),
    ("srcPort", pa.uint16(), False), ("dstPort", pa.uint16(), False), ("fqdn", pa.string(), True),
    ("ingress", pa.string(), False), ("outcome", pa.string(), False),
    ("deliveredTo", pa.string(), True), ("droppedAt", pa.string(), True),
    ("rule", pa.string(), True), ("reason", pa.string(), False), ("srcSeen", pa.string(), True),
    ("dstSeen", pa.string(), True), ("path", pa.string(), False),
    ("returnPath", pa.string(), False), ("symmetric", pa.bool_(), False),
    ("to", pa.string(), True), ("capture", pa.string(), True),
    ("firstTsNs", pa.uint64(), True), ("lastTsNs", pa.uint64(), True),
    ("requestPackets", pa.uint64(), True), ("requestBytes", pa.uint64(), True),
    ("replyPackets", pa.uint64(), True), ("replyBytes", pa.uint64(), True),
    ("hops", pa.list_(pa.string()), False),
]


def fabrics(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["lab", "generated"])
def topo(request):
    return request.getfixturevalue(request.param)


def cli_sweep(topo, tmp_path, ports=PORTS):
    out = tmp_path / "rows.parquet"
    cli("sweep", topo, "--from", "all", "--to", "all", "--ports", ports, "--out", out)
    return pq.read_table(out)


def test_sweep_equals_the_command_lines_rows(topo, tmp_path):
    f = vnetsim.Fabric.load(topo)
    got = f.sweep(from_="all", to="all", ports=PORTS, threads=2)
    want = cli_sweep(topo, tmp_path)
    assert got.num_rows == want.num_rows > 50
    assert got.schema.remove_metadata() == want.schema.remove_metadata()
    assert got.to_pylist() == want.to_pylist()


def test_sweep_parts_concatenate_to_the_whole(lab):
    f = vnetsim.Fabric.load(lab)
    whole = f.sweep(ports=PORTS)
    parts = [f.sweep(ports=PORTS, shard=f"{i}/7") for i in range(7)]
    assert pa.concat_tables(parts).to_pylist() == whole.to_pylist()


def test_tables_have_the_documented_schema(lab, lab_pcap):
    f = vnetsim.Fabric.load(lab)
    want = pa.schema([pa.field(n, t, nullable) for n, t, nullable in DOCUMENTED])
    assert vnetsim.flow_schema() == want
    assert list(vnetsim.FLOW_COLUMNS) == [n for n, _, _ in DOCUMENTED]
    assert f.sweep(ports="tcp/443").schema.remove_metadata() == want
    assert f.replay(lab_pcap).schema.remove_metadata() == want
    assert f.sweep(ports="tcp/443").to_pandas().columns.tolist() == list(vnetsim.FLOW_COLUMNS)


def test_replay_equals_the_command_lines_rows(lab, lab_pcap, generated, generated_pcap, tmp_path):
    for topo, pcap in [(lab, lab_pcap), (generated, generated_pcap)]:
        out = tmp_path / "replay.parquet"
        cli("replay", topo, pcap, "--out", out)
        want = pq.read_table(out)
        got = vnetsim.Fabric.load(topo).replay(str(pcap))
        assert got.num_rows == want.num_rows > 10
        assert got.to_pylist() == want.to_pylist()


def test_a_flow_table_walked_anywhere_is_the_replay(lab, lab_pcap):
    f = vnetsim.Fabric.load(lab)
    flows = f.flow_table(str(lab_pcap))
    assert list(flows.schema.names) == list(vnetsim.FLOW_TABLE_COLUMNS)
    whole = f.replay(str(lab_pcap))
    assert flows.num_rows == whole.num_rows
    # Walked in three pieces, in another order: the same rows.
    pieces = [flows.slice(10), flows.slice(0, 4), flows.slice(4, 6)]
    got = pa.concat_tables([f.walk_flows(p, [str(lab_pcap)]) for p in pieces])
    key = lambda r: (r["src"], r["dst"], r["protocol"], r["srcPort"], r["dstPort"], r["firstTsNs"])
    assert sorted(got.to_pylist(), key=key) == sorted(whole.to_pylist(), key=key)


def test_trace_equals_the_command_lines_document(lab):
    f = vnetsim.Fabric.load(lab)
    rows = f.sweep(ports="tcp/443,udp/53").to_pylist()
    assert len(rows) > 20
    for r in rows[::7]:
        args = ["--src", r["src"], "--dst", r["dst"], "--protocol", r["protocol"],
                "--dst-port", r["dstPort"], "--from", r["ingress"]]
        want = cli_json("trace", lab, *args)
        got = f.trace(r["src"], r["dst"], protocol=r["protocol"], dst_port=r["dstPort"],
                      from_=r["ingress"])
        assert got == want
        assert got["outcome"] == r["outcome"]


def test_trace_by_name_equals_the_command_line(lab):
    f = vnetsim.Fabric.load(lab)
    want = cli_json("trace", lab, "--src", "vm-app-nic", "--dst", "vm-shared-nic", "--dst-port", "22")
    assert f.trace("vm-app-nic", "vm-shared-nic", dst_port=22) == want


DENY_ALL_IN = ("[{ name: deny-all-in, priority: 100, direction: Inbound, access: Deny, "
               "protocol: '*', source: '*', destination: '*', destinationPorts: '*' }]")


def changed(topo, tmp_path):
    """The lab with an NSG that denies all inbound traffic on its tools subnet; a generated
    fabric with every allowing NSG rule turned into a deny (its rules allow tcp/53 between
    VNets, which the default AllowVnetInBound would allow too, and more)."""
    text = topo.read_text()
    if "  - name: nsg-tools\n    rules: []" in text:
        text = text.replace("  - name: nsg-tools\n    rules: []", "  - name: nsg-tools\n    rules: " + DENY_ALL_IN)
    else:
        assert "access: Allow" in text
        text = text.replace("access: Allow", "access: Deny")
    p = tmp_path / "changed.yaml"
    p.write_text(text)
    return p


def test_diff_equals_the_command_lines_document(lab, generated, tmp_path):
    for topo in (lab, generated):
        new = changed(topo, tmp_path)
        ports = PORTS + ",tcp/53,tcp/1433,tcp/5432"
        want = cli_json("diff", topo, new, "--from", "all", "--to", "all", "--ports", ports)
        got = vnetsim.Fabric.load(topo).diff(vnetsim.Fabric.load(new), ports=ports)
        assert got.num_rows == len(want["changed"]) > 0
        assert got.to_pylist() == want["changed"]
        assert int(got.schema.metadata[b"flows"]) == want["flows"]


def test_routes_and_rules_equal_the_command_line(lab):
    f = vnetsim.Fabric.load(lab)
    want = cli_json("routes", lab, "--nic", "vm-app-nic")
    got = f.routes(nic="vm-app-nic")
    assert got.to_pylist() == want["value"]
    want = cli_json("rules", lab, "--nic", "vm-app-nic")
    rules = f.rules("vm-app-nic")
    assert rules.num_rows == sum(len(b["effectiveSecurityRules"]) for b in want["value"]) > 0
    first = want["value"][0]["effectiveSecurityRules"][0]
    row = rules.to_pylist()[0]
    assert {k: row[k] for k in first} == first


def test_errors_are_located_and_the_same_as_the_command_lines(tmp_path, lab):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nvnets:\n  - name: hub\n    addressSpace: [10.0.0.0/16]\n    bogus: 1\n")
    code, _, err = cli("validate", bad, check=False)
    assert code == 2
    with pytest.raises(vnetsim.VnetsimError) as e:
        vnetsim.Fabric.load(bad)
    msg = str(e.value)
    assert f"{bad}:5:5" in msg, msg
    assert msg.strip() == err.strip()
    f = vnetsim.Fabric.load(lab)
    with pytest.raises(vnetsim.VnetsimError, match="unknown NIC 'vm-ap-nic'"):
        f.rules("vm-ap-nic")
    with pytest.raises(vnetsim.VnetsimError, match="--ports"):
        f.sweep(ports="tcp/99999")
    with pytest.raises(vnetsim.VnetsimError, match="expected I/N"):
        f.sweep(shard="7/7")
    with pytest.raises(vnetsim.VnetsimError, match="missing.yaml"):
        vnetsim.Fabric.load(tmp_path / "missing.yaml")


def test_compiles_are_counted():
    import vnetsim as v
    before = v.compile_count()
    v.Fabric.load(__import__("conftest").ROOT / "traces" / "hub-spoke-lab.yaml")
    assert v.compile_count() == before + 1


def test_flow_shard_is_the_documented_fnv1a_of_the_canonical_tuple():
    # 13 bytes: protocol, lower (address, port), higher (address, port), big-endian; FNV-1a 64.
    def fnv(b):
        h = 0xCBF29CE484222325
        for x in b:
            h = ((h ^ x) * 0x100000001B3) % (1 << 64)
        return h
    a, b = 0x0A000104, 0x0A010204
    tup = bytes([6]) + a.to_bytes(4, "big") + (50000).to_bytes(2, "big") + b.to_bytes(4, "big") + (443).to_bytes(2, "big")
    assert vnetsim.flow_shard(a, b, 6, 50000, 443, 7) == fnv(tup) % 7
    assert vnetsim.flow_shard(b, a, 6, 443, 50000, 7) == fnv(tup) % 7


def obs_key(r):
    return (r["src"], r["dst"], r["protocol"], r["srcPort"], r["dstPort"], r["direction"],
            r["nic"] or "", r["loggedRule"] or "", r["aclId"] or "", r["loggedVerdict"])


def test_flow_log_replay_equals_the_command_lines_rows(lab, lab_flow_logs, flow_log_halves, tmp_path):
    f = vnetsim.Fabric.load(lab)
    for logs in ([lab_flow_logs], flow_log_halves):
        out = tmp_path / "flowlog-rows.parquet"
        cli("replay", lab, *logs, "--out", out)
        want = pq.read_table(out)
        got = f.replay_flow_logs([str(p) for p in logs])
        assert got.num_rows == want.num_rows > 10
        assert got.to_pylist() == want.to_pylist()


def test_flow_log_partials_of_each_blob_merge_into_the_replay(lab, lab_flow_logs, flow_log_halves, tmp_path):
    # Each blob folded on its own (as a worker would), the partials merged in another order:
    # the same rows as the command line, which reads every blob in one fold. With the two
    # copies of one blob, every flow is in both: tuples and counters add up.
    f = vnetsim.Fabric.load(lab)
    for blobs in (sorted(lab_flow_logs.rglob("PT1H.json")), flow_log_halves):
        out = tmp_path / "flowlog-rows.parquet"
        cli("replay", lab, *blobs, "--out", out)
        want = pq.read_table(out).to_pylist()
        parts = [vnetsim.flow_log_partials(str(b), b.read_bytes()) for b in blobs]
        got = f.judge_flow_log_partials(pa.concat_tables(list(reversed(parts)))).to_pylist()
        assert len(got) == len(want) > 10
        assert sorted(got, key=obs_key) == sorted(want, key=obs_key)
    single = pq.read_table(tmp_path / "flowlog-rows.parquet").to_pylist()
    one = vnetsim.flow_log_partials("x", flow_log_halves[0].read_bytes()).to_pylist()
    assert sum(r["tuples"] for r in single) == 2 * sum(r["tuples"] for r in one)
    assert all(r["log"].startswith(str(flow_log_halves[0])) for r in single)
