"""Sweeps and replays distributed on Apache Spark, with ``mapInArrow``.

The unit of work is pure: a range of sweep cells, or a set of flows, always gives the
same rows, so a retried task (Spark's ``spark.task.maxFailures``) neither duplicates nor
changes rows. Each Python worker compiles the fabric once: the topology file is shipped
with ``SparkContext.addFile`` and the compiled fabric is cached per process, keyed by the
file's name and content digest. The task bodies are ``vnetsim.udf``'s, which
``vnetsim.ray`` runs too. Inside executors the engine runs on one thread (Spark
already runs one Python worker per core), and output batches are bounded (``batch_rows``).

Spark has no unsigned integer types: the distributed tables carry ports as ``int`` and
counters as ``bigint``; every other column is the command line's Parquet column. Sweep
rows carry one more column, ``cell`` (the cell's index in matrix order): Spark keeps no
row order, so ``orderBy("cell")`` gives the command line's order.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from typing import Callable, Iterator, Optional, Sequence, Union

import pyarrow as pa

from . import Fabric, VnetsimError, _list, compile_count, flow_schema
from .udf import sweep_cells, walk_flow_batch

__all__ = ["session", "sweep", "replay", "replay_flow_logs", "sweep_schema",
           "replay_schema", "replay_flow_table", "stats_accumulator", "require_java", "worker_stats", "DEFAULT_CELLS_PER_TASK_ROW", "DEFAULT_BATCH_ROWS"]

DEFAULT_CELLS_PER_TASK_ROW = 4096
"""Cells one input row of the sweep stands for (one native call per row)."""

DEFAULT_BATCH_ROWS = 4096
"""At most this many rows per Arrow batch handed back to Spark."""

_SPARK_TYPES = {
    pa.string(): "string", pa.bool_(): "boolean", pa.uint16(): "int", pa.uint64(): "bigint",
    pa.int64(): "bigint", pa.int32(): "int", pa.list_(pa.string()): "array<string>",
}
_ARROW_FOR_SPARK = {pa.uint16(): pa.int32(), pa.uint64(): pa.int64()}


def _java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return True
    return shutil.which("java") is not None


def require_java() -> None:
    """Raises ``VnetsimError`` with what to install when no Java runtime is found."""
    if not _java_available():
        raise VnetsimError(
            "vnetsim.spark: no Java runtime found (no `java` on PATH, JAVA_HOME unset or "
            "without bin/java). Spark runs on the JVM: install Java 17 or later (Debian: "
            "`apt-get install default-jre-headless`) or set JAVA_HOME.")


def session(master: str = "local[2,3]", app_name: str = "vnetsim", conf: Optional[dict] = None):
    """A SparkSession for vnetsim, after checking that a Java runtime is there. ``local[N,F]``
    runs N worker threads and tries each task up to F times."""
    require_java()
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise VnetsimError("vnetsim.spark: pyspark is not installed (pip install pyspark)") from e
    b = SparkSession.builder.master(master).appName(app_name)
    b = b.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    return b.getOrCreate()


def _spark_schema(schema: pa.Schema, extra: Sequence[tuple] = ()) -> str:
    cols = [f"`{f.name}` {_SPARK_TYPES[f.type]}" for f in schema] + [f"`{n}` {t}" for n, t in extra]
    return ", ".join(cols)


def _for_spark(t: pa.Table) -> pa.Table:
    return t.cast(pa.schema([pa.field(f.name, _ARROW_FOR_SPARK.get(f.type, f.type), f.nullable)
                             for f in t.schema]))


def sweep_schema() -> str:
    """The Spark DDL of distributed sweep rows: the flow columns, then ``cell``."""
    return _spark_schema(flow_schema(), [("cell", "bigint")])


def replay_schema() -> str:
    """The Spark DDL of distributed replay rows: the flow columns."""
    return _spark_schema(flow_schema())


# Per Python worker process: compiled fabrics by (file name, digest), and what was done.
_FABRICS: dict = {}
_STATS = {"compiles": 0, "batches": 0, "tasks": 0}


def worker_stats() -> dict:
    """This process's counters: fabrics compiled by the Spark helper, batches and tasks."""
    return dict(_STATS, pid=os.getpid())


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _worker_fabric(name: str, digest: str) -> Fabric:
    key = (name, digest)
    fab = _FABRICS.get(key)
    if fab is None:
        from pyspark import SparkFiles
        fab = Fabric.load(SparkFiles.get(name))
        _FABRICS[key] = fab
        _STATS["compiles"] += 1
    return fab


def _ship(spark, fabric: Union[Fabric, str]) -> tuple:
    path = fabric.source if isinstance(fabric, Fabric) else os.fspath(fabric)
    spark.sparkContext.addFile(os.path.abspath(path))
    return os.path.basename(path), _digest(path)


def _task_start(on_task):
    from pyspark import TaskContext
    _STATS["tasks"] += 1
    if on_task is not None:
        on_task(TaskContext.get())


def sweep(spark, fabric: Union[Fabric, str], from_: Union[str, Sequence[str]] = "all",
          to: Union[str, Sequence[str]] = "all", ports: str = "tcp/443",
          partitions: Optional[int] = None, cells_per_row: int = DEFAULT_CELLS_PER_TASK_ROW,
          batch_rows: int = DEFAULT_BATCH_ROWS,
          on_task: Optional[Callable] = None, stats=None):
    """Distributes a sweep: a DataFrame of the rows ``vnetsim sweep --out rows.parquet``
    writes, plus ``cell``. The matrix is cut into rows of ``cells_per_row`` cells
    (``spark.range``), spread over ``partitions`` tasks (default: Spark's parallelism).
    ``on_task(TaskContext)`` runs at the start of each task (instrumentation, fault
    injection); ``stats``, an accumulator from ``stats_accumulator``, gathers each
    worker's counters."""
    require_java()
    fab = fabric if isinstance(fabric, Fabric) else Fabric.load(fabric)
    froms, tos = _list(from_), _list(to)
    n = fab.sweep_len(froms, tos, ports)
    name, digest = _ship(spark, fab)
    step = max(1, int(cells_per_row))
    parts = partitions or spark.sparkContext.defaultParallelism

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        _task_start(on_task)
        compiled_before, batches_before = compile_count(), _STATS["batches"]
        f = _worker_fabric(name, digest)
        for b in batches:
            for t in sweep_cells(f, froms, tos, ports, b.column("id").to_pylist(), n, step,
                                 batch_rows):
                _STATS["batches"] += 1
                yield from _for_spark(t).to_batches()
        if stats is not None:
            stats.add({os.getpid(): (compiled_before, compile_count(),
                                     _STATS["batches"] - batches_before)})

    cells = spark.range(0, n, step, numPartitions=max(1, min(parts, -(-n // step) or 1)))
    return cells.mapInArrow(run, sweep_schema())


def replay(spark, fabric: Union[Fabric, str], captures: Union[str, Sequence[str]],
           from_: Optional[str] = None, partitions: Optional[int] = None,
           batch_rows: int = DEFAULT_BATCH_ROWS, on_task: Optional[Callable] = None):
    """Distributes a replay of captures: the driver builds the flow table (pass one, one row
    per flow), Spark spreads the flows over ``partitions`` tasks by their ``replay --shard``
    hash, and each task walks its flows. The rows are those of
    ``vnetsim replay CAPTURES --out rows.parquet``; Spark keeps no order: sort by
    ``src, dst, protocol, srcPort, dstPort, firstTsNs`` to compare."""
    require_java()
    fab = fabric if isinstance(fabric, Fabric) else Fabric.load(fabric)
    caps = [captures] if isinstance(captures, (str, os.PathLike)) else list(captures)
    caps = [os.fspath(c) for c in caps]
    flows = fab.flow_table(caps, from_)
    return replay_flow_table(spark, fab, flows, caps, partitions, batch_rows, on_task)


_FLOW_TABLE_NATIVE = None


def _native_flow_types() -> pa.Schema:
    global _FLOW_TABLE_NATIVE
    if _FLOW_TABLE_NATIVE is None:
        _FLOW_TABLE_NATIVE = pa.schema([
            ("src", pa.uint32()), ("dst", pa.uint32()), ("protocol", pa.uint8()),
            ("srcPort", pa.uint16()), ("dstPort", pa.uint16()), ("ingress", pa.string()),
            ("midstream", pa.bool_()), ("fqdn", pa.string()), ("appProtocol", pa.string()),
            ("capture", pa.uint32()), ("firstTsNs", pa.uint64()), ("lastTsNs", pa.uint64()),
            ("requestPackets", pa.uint64()), ("requestBytes", pa.uint64()),
            ("replyPackets", pa.uint64()), ("replyBytes", pa.uint64()),
        ])
    return _FLOW_TABLE_NATIVE


def replay_flow_table(spark, fabric: Union[Fabric, str], flows: pa.Table, captures: Sequence[str],
                      partitions: Optional[int] = None, batch_rows: int = DEFAULT_BATCH_ROWS,
                      on_task: Optional[Callable] = None):
    """Walks a flow table (``Fabric.flow_table``'s columns) on Spark: replay's flow rows."""
    import pandas as pd  # noqa: F401  (createDataFrame from Arrow goes through pandas)
    from . import flow_shard
    fab = fabric if isinstance(fabric, Fabric) else Fabric.load(fabric)
    name, digest = _ship(spark, fab)
    parts = partitions or spark.sparkContext.defaultParallelism
    caps = [os.fspath(c) for c in captures]
    signed = flows.cast(pa.schema([(f.name, pa.int64() if pa.types.is_integer(f.type) else f.type)
                                   for f in _native_flow_types()]))
    shard = [flow_shard(*(signed.column(c)[i].as_py() for c in ("src", "dst", "protocol", "srcPort", "dstPort")), parts)
             for i in range(signed.num_rows)]
    signed = signed.append_column("part", pa.array(shard, pa.int64()))
    df = spark.createDataFrame(signed.to_pandas())
    df = df.repartition(parts, "part").drop("part")

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        _task_start(on_task)
        f = _worker_fabric(name, digest)
        for b in batches:
            native = pa.Table.from_batches([b]).select(list(_native_flow_types().names)).cast(_native_flow_types())
            for t in walk_flow_batch(f, native, caps, batch_rows):
                _STATS["batches"] += 1
                yield from _for_spark(t).to_batches()

    return df.mapInArrow(run, replay_schema())


def _local_path(p: str) -> str:
    """A Spark file URI as the command line names the file (``file:/a/b`` is ``/a/b``)."""
    if p.startswith("file://"):
        return p[len("file://"):]
    if p.startswith("file:"):
        return p[len("file:"):]
    return p


def replay_flow_logs(spark, fabric: Union[Fabric, str], logs, partitions: Optional[int] = None,
                     batch_rows: int = DEFAULT_BATCH_ROWS, on_task: Optional[Callable] = None):
    """Distributes a flow-log replay: the rows ``vnetsim replay LOGS --out rows.parquet``
    writes, one per logged flow (Spark keeps no order: sort by ``src, dst, protocol, srcPort,
    dstPort, direction, nic, loggedRule`` to compare).

    ``logs`` is a folder (the storage account's tree), a file, a list of them, or a DataFrame
    with the ``path`` and ``content`` columns of Spark's ``binaryFile`` source. Each task folds
    its blobs into partial flows (``vnetsim.flow_log_partials``), Spark groups the partials by
    flow (``FLOW_LOG_KEY``) into ``partitions`` tasks, and each of those merges its partials
    and judges them on the fabric compiled once per worker. A task holds the partials of its
    partition, so memory follows the distinct flows, not the tuples. Corrupt records are
    skipped as the command line skips them; their counts are not gathered here."""
    require_java()
    from . import FLOW_LOG_KEY, flow_log_partials
    import pyarrow as _pa
    fab = fabric if isinstance(fabric, Fabric) else Fabric.load(fabric)
    name, digest = _ship(spark, fab)
    parts = partitions or spark.sparkContext.defaultParallelism
    if isinstance(logs, (str, os.PathLike)) or isinstance(logs, (list, tuple)):
        paths = [os.path.abspath(os.fspath(p)) for p in ([logs] if isinstance(logs, (str, os.PathLike)) else logs)]
        logs = (spark.read.format("binaryFile").option("recursiveFileLookup", "true")
                .option("pathGlobFilter", "*").load(paths))
    partial_schema = flow_log_partials("", b"").schema
    partial_ddl = _spark_schema(partial_schema)

    def fold(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            for p, c in zip(b.column("path").to_pylist(), b.column("content").to_pylist()):
                t = flow_log_partials(_local_path(p), c)
                for out in t.to_batches(max_chunksize=batch_rows):
                    yield out

    def judge(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        _task_start(on_task)
        held = [b for b in batches if b.num_rows]
        if not held:
            return
        f = _worker_fabric(name, digest)
        t = _for_spark(f.judge_flow_log_partials(held, threads=1))
        for out in t.to_batches(max_chunksize=batch_rows):
            _STATS["batches"] += 1
            yield out

    obs = _spark_schema(fab.judge_flow_log_partials(_pa.Table.from_batches([], partial_schema)).schema)
    partials = logs.select("path", "content").mapInArrow(fold, partial_ddl)
    return partials.repartition(parts, *FLOW_LOG_KEY).mapInArrow(judge, obs)


class _StatsParam:
    """Accumulator parameter: per worker process id, (fabrics the process had compiled
    before its first task of the job, after its last, batches it yielded in the job)."""

    def zero(self, value):
        return {}

    def addInPlace(self, a, b):
        for pid, (c0, c1, n) in b.items():
            if pid in a:
                d0, d1, m = a[pid]
                a[pid] = (min(c0, d0), max(c1, d1), m + n)
            else:
                a[pid] = (c0, c1, n)
        return a


def stats_accumulator(spark):
    """An accumulator gathering, per worker process id, the process's compile count
    (``vnetsim.compile_count()``) before and after the job's tasks and the batches it
    yielded: pass it to ``sweep(..., stats=)``, read ``.value`` after an action."""
    return spark.sparkContext.accumulator({}, _StatsParam())
