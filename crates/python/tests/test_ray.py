"""The sweep's task body on Ray Data (`map_batches`), on a local Ray of two CPUs: the same body
Spark runs (`vnetsim.udf.sweep_cells`), giving the command line's rows."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray  # tests/setup.sh installs Ray Data

import vnetsim  # noqa: E402
import vnetsim.ray as vr  # noqa: E402
from conftest import cli  # noqa: E402

PORTS = "tcp/22,tcp/443,udp/53,icmp"


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield
    ray.shutdown()


def cli_rows(topo, tmp_path):
    out = tmp_path / "rows.parquet"
    cli("sweep", topo, "--from", "all", "--to", "all", "--ports", PORTS, "--out", out)
    return pq.read_table(out)


def collect(ds) -> pa.Table:
    return pa.concat_tables(ray.get(ds.to_arrow_refs())).sort_by("cell")


def test_a_sweep_on_ray_equals_the_command_lines_row_for_row(local_ray, lab, generated, tmp_path):
    for topo in (lab, generated):
        want = cli_rows(topo, tmp_path)
        got = collect(vr.sweep(vnetsim.Fabric.load(topo), "all", "all", PORTS, blocks=3,
                               cells_per_row=37))
        assert got.column("cell").to_pylist() == list(range(want.num_rows))
        assert got.drop_columns(["cell"]).to_pylist() == want.to_pylist()


def test_a_failed_first_attempt_on_ray_gives_exactly_the_same_rows(local_ray, lab, tmp_path):
    marker = tmp_path / "failed-once"

    def fail_once_on_cell_37(starts):
        if 37 in starts and not marker.exists():
            marker.write_text("injected")
            raise RuntimeError("injected failure: first attempt of the block holding cell 37")

    want = cli_rows(lab, tmp_path)
    got = collect(vr.sweep(vnetsim.Fabric.load(lab), "all", "all", PORTS, blocks=3,
                           cells_per_row=37, on_block=fail_once_on_cell_37))
    assert marker.exists(), "the injected failure never ran"
    assert got.drop_columns(["cell"]).to_pylist() == want.to_pylist()


def test_an_import_source_folder_is_refused_with_what_to_do(local_ray, lab, tmp_path):
    fab = vnetsim.Fabric.load(lab)
    fab.source = str(tmp_path)
    with pytest.raises(vnetsim.VnetsimError, match="vnetsim import SOURCE -o"):
        vr.sweep(fab, "all", "all", PORTS)
