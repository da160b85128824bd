"""Sweeps and replays on Spark in local mode, `local[2,3]`: two worker threads, each task tried
up to three times (the form that makes local mode retry failed tasks)."""

import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pyspark  # noqa: F401  (tests/setup.sh installs it)

import vnetsim  # noqa: E402
import vnetsim.spark as vs  # noqa: E402
from conftest import cli  # noqa: E402

PORTS = "tcp/22,tcp/443,udp/53,icmp"
SIGNED = {pa.uint16(): pa.int32(), pa.uint64(): pa.int64()}


@pytest.fixture(scope="module")
def spark():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    s = vs.session("local[2,3]", conf={
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.driver.memory": "512m",
    })
    yield s
    s.stop()


def as_spark_types(t: pa.Table) -> list:
    """The command line's rows with Spark's signed types (Spark has no unsigned integers)."""
    return t.cast(pa.schema([(f.name, SIGNED.get(f.type, f.type)) for f in t.schema])).to_pylist()


def cli_rows(*args, tmp_path):
    out = tmp_path / "rows.parquet"
    cli(*args, "--out", out)
    return pq.read_table(out)


def collect(df) -> list:
    return [r.asDict() for r in df.collect()]


def test_a_distributed_sweep_equals_the_command_lines_row_for_row(spark, lab, generated, tmp_path):
    for topo in (lab, generated):
        want = as_spark_types(cli_rows("sweep", topo, "--from", "all", "--to", "all",
                                       "--ports", PORTS, tmp_path=tmp_path))
        df = vs.sweep(spark, vnetsim.Fabric.load(topo), "all", "all", PORTS,
                      partitions=3, cells_per_row=37)
        got = collect(df.orderBy("cell"))
        assert [r.pop("cell") for r in got] == list(range(len(want)))
        assert got == want


def fail_first_attempt_of_partition_1(ctx):
    if ctx.partitionId() == 1 and ctx.attemptNumber() == 0:
        raise RuntimeError("injected failure: first attempt of partition 1")


def test_a_failed_first_attempt_gives_exactly_the_same_rows(spark, lab, tmp_path):
    want = as_spark_types(cli_rows("sweep", lab, "--from", "all", "--to", "all",
                                   "--ports", PORTS, tmp_path=tmp_path))
    df = vs.sweep(spark, lab, "all", "all", PORTS, partitions=3, cells_per_row=10,
                  on_task=fail_first_attempt_of_partition_1)
    got = collect(df)
    cells = [r.pop("cell") for r in got]
    assert len(cells) == len(set(cells)) == len(want), "no row lost or duplicated"
    assert [r for _, r in sorted(zip(cells, got), key=lambda x: x[0])] == want


def test_a_failure_on_every_attempt_fails_the_job(spark, lab):
    def always(ctx):
        if ctx.partitionId() == 0:
            raise RuntimeError("injected failure on every attempt")
    with pytest.raises(Exception, match="injected failure on every attempt"):
        vs.sweep(spark, lab, "all", "all", "tcp/443", partitions=2, on_task=always).collect()


def test_the_fabric_is_compiled_once_per_worker_not_per_batch(spark, generated, tmp_path):
    # A copy under a name no worker has seen yet, so each worker's first task compiles it.
    fresh = tmp_path / "fresh-gen.yaml"
    fresh.write_bytes(generated.read_bytes())
    stats = vs.stats_accumulator(spark)
    df = vs.sweep(spark, fresh, "all", "all", PORTS, partitions=6, cells_per_row=16,
                  batch_rows=8, stats=stats)
    n = df.count()
    per_worker = stats.value
    assert per_worker, "the tasks reported"
    compiles = {pid: after - before for pid, (before, after, _) in per_worker.items()}
    assert all(c == 1 for c in compiles.values()), per_worker
    # Batches of at most 8 rows (batch_rows): at least n / 8 of them, many per worker.
    batches = sum(b for _, _, b in per_worker.values())
    assert batches >= n // 8 > 2 * len(per_worker), (batches, per_worker)


def key(r):
    return (r["src"], r["dst"], r["protocol"], r["srcPort"], r["dstPort"], r["firstTsNs"])


def test_a_replay_over_a_dataframe_equals_the_command_lines(spark, lab, lab_pcap, generated,
                                                            generated_pcap, tmp_path):
    for topo, pcap in [(lab, lab_pcap), (generated, generated_pcap)]:
        want = as_spark_types(cli_rows("replay", topo, pcap, tmp_path=tmp_path))
        got = collect(vs.replay(spark, topo, str(pcap), partitions=3))
        assert len(got) == len(want) > 10
        assert sorted(got, key=key) == sorted(want, key=key)


def obs_key(r):
    return (r["src"], r["dst"], r["protocol"], r["srcPort"], r["dstPort"], r["direction"],
            r["nic"] or "", r["loggedRule"] or "", r["aclId"] or "", r["loggedVerdict"])


def test_a_flow_log_replay_over_a_dataframe_equals_the_command_lines(spark, lab, lab_flow_logs,
                                                                     flow_log_halves, tmp_path):
    # The stored folder tree, and one blob written twice (every flow split over two blobs,
    # folded on different tasks and merged after the shuffle).
    for logs in ([lab_flow_logs], flow_log_halves):
        want = as_spark_types(cli_rows("replay", lab, *logs, tmp_path=tmp_path))
        df = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(
            [str(p) for p in logs])
        got = collect(vs.replay_flow_logs(spark, lab, df, partitions=3))
        assert len(got) == len(want) > 10
        assert sorted(got, key=obs_key) == sorted(want, key=obs_key)
    # A folder given by path reads the same way.
    got = collect(vs.replay_flow_logs(spark, lab, str(lab_flow_logs), partitions=2))
    want = as_spark_types(cli_rows("replay", lab, lab_flow_logs, tmp_path=tmp_path))
    assert sorted(got, key=obs_key) == sorted(want, key=obs_key)


def test_a_missing_java_runtime_gets_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)
    r = subprocess.run([sys.executable, "-c", "import vnetsim.spark as s; s.session()"],
                       capture_output=True, text=True, env=env)
    assert r.returncode != 0
    assert "vnetsim.spark: no Java runtime found" in r.stderr
    assert "default-jre-headless" in r.stderr
    assert "py4j" not in r.stderr.lower()
