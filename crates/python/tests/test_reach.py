"""`Fabric.reach`: the regions `vnetsim reach --out regions.parquet` writes, in its order."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import vnetsim
from conftest import cli

# The region columns as docs/cli-contract.md lists them (`blockers` only with why).
REGION_COLUMNS = ["from", "to", "src", "dst", "protocols", "outcome", "deliveredTo", "droppedAt",
                  "rule", "reason", "srcSeen", "dstSeen", "path", "returnPath", "example",
                  "classes", "ways", "otherWays"]


def cli_regions(topo, *args, tmp_path):
    out = tmp_path / "regions.parquet"
    cli("reach", topo, *args, "--out", out)
    return pq.read_table(out)


def test_reach_equals_the_command_lines_regions(lab, generated, tmp_path):
    cases = [
        (lab, {"exposed": True}, ["--exposed"]),
        (lab, {"from_": "internet", "to": "nic:vm-app-nic", "why": True},
         ["--from", "internet", "--to", "nic:vm-app-nic", "--why"]),
        (generated, {"from_": "all", "to": "all", "protocol": "tcp", "ports": "22,443"},
         ["--from", "all", "--to", "all", "--protocol", "tcp", "--ports", "22,443"]),
    ]
    for topo, kwargs, args in cases:
        want = cli_regions(topo, *args, tmp_path=tmp_path)
        got = vnetsim.Fabric.load(topo).reach(threads=2, **kwargs)
        assert got.schema.remove_metadata() == want.schema.remove_metadata(), args
        assert got.to_pylist() == want.to_pylist(), args
        assert got.num_rows > 0


def test_reach_regions_have_the_documented_columns_and_show_the_dnat_exposure(lab):
    t = vnetsim.Fabric.load(lab).reach(exposed=True)
    assert t.column_names == REGION_COLUMNS
    assert t.schema.field("classes").type == pa.uint64()
    assert t.schema.field("ways").type == pa.uint64()
    # The lab's firewall DNATs tcp/3389 on its public IP 20.10.10.10 to the app VM 10.1.1.4
    # (traces/hub-spoke-lab.yaml, afw-hub's DNAT rule): the Internet reaches the VM there.
    rows = [r for r in t.to_pylist()
            if r["dst"] == "20.10.10.10" and r["protocols"] == "tcp/3389"]
    assert rows and all(r["outcome"] == "reachable" for r in rows), rows
    assert all(r["deliveredTo"] == "nic:vm-app-nic" for r in rows), rows
    with_why = vnetsim.Fabric.load(lab).reach(from_="internet", to="nic:vm-app-nic", why=True)
    assert with_why.column_names == REGION_COLUMNS + ["blockers"]
    assert with_why.schema.field("blockers").type == pa.list_(pa.string())


def test_reach_errors_are_the_command_lines(lab):
    code, _, err = cli("reach", lab, "--from", "nic:no-such-nic", check=False)
    assert code == 2
    with pytest.raises(vnetsim.VnetsimError) as e:
        vnetsim.Fabric.load(lab).reach(from_="nic:no-such-nic")
    assert "unknown NIC 'no-such-nic'" in err
    assert str(e.value).strip() == err.strip()
