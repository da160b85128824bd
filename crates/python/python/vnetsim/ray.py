"""Sweeps distributed on Ray Data, with ``map_batches``: the same task body as on Spark.

``vnetsim.udf.sweep_cells`` is the body both engines run. Here the topology file's bytes go
into Ray's object store once (``ray.put``); each worker process writes them under its own
temporary folder, compiles the fabric once and keeps it, keyed by the content digest. The
engine runs on one thread inside each task, and batches are bounded (``batch_rows``).
Tasks are pure, so a retried task (``max_retries`` with ``retry_exceptions``) neither
duplicates nor changes rows.

Only a topology file can be shipped (YAML or JSON, as ``vnetsim import -o`` writes one), not
an import source folder.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Callable, Optional, Sequence, Union

import pyarrow as pa

from . import Fabric, VnetsimError, _list
from .udf import sweep_cells

__all__ = ["sweep", "DEFAULT_CELLS_PER_TASK_ROW", "DEFAULT_BATCH_ROWS"]

DEFAULT_CELLS_PER_TASK_ROW = 4096
"""Cells one input row of the sweep stands for (one native call per row)."""

DEFAULT_BATCH_ROWS = 4096
"""At most this many rows per Arrow table handed back to Ray."""

# Per worker process: compiled fabrics by content digest.
_FABRICS: dict = {}


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise VnetsimError("vnetsim.ray: Ray Data is not installed (pip install 'ray[data]')") from e
    return ray


def _worker_fabric(ray, shipped) -> Fabric:
    name, digest, ref = shipped
    fab = _FABRICS.get(digest)
    if fab is None:
        folder = os.path.join(tempfile.gettempdir(), f"vnetsim-fabric-{digest[:16]}-{os.getpid()}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(ray.get(ref))
        fab = Fabric.load(path)
        _FABRICS[digest] = fab
    return fab


def _ship(ray, fabric: Fabric) -> tuple:
    if not os.path.isfile(fabric.source):
        raise VnetsimError(
            f"vnetsim.ray: {fabric.source} is not a topology file; Ray workers are given one "
            "file: write the fabric with `vnetsim import SOURCE -o fabric.yaml` and load that")
    with open(fabric.source, "rb") as f:
        content = f.read()
    digest = hashlib.sha256(content).hexdigest()
    return os.path.basename(fabric.source), digest, ray.put(content)


def sweep(fabric: Union[Fabric, str], from_: Union[str, Sequence[str]] = "all",
          to: Union[str, Sequence[str]] = "all", ports: str = "tcp/443",
          blocks: Optional[int] = None, cells_per_row: int = DEFAULT_CELLS_PER_TASK_ROW,
          batch_rows: int = DEFAULT_BATCH_ROWS, on_block: Optional[Callable] = None,
          max_retries: int = 3):
    """Distributes a sweep on the current Ray cluster (``ray.init()`` first): a
    ``ray.data.Dataset`` of the rows ``vnetsim sweep --out rows.parquet`` writes, plus
    ``cell`` (the cell's index; ``sort("cell")`` gives the command line's order). The matrix
    is cut into rows of ``cells_per_row`` cells over ``blocks`` blocks. ``on_block(starts)``
    runs at the start of each batch with its cell starts (instrumentation, fault injection);
    a task that raises is retried up to ``max_retries`` times."""
    ray = _ray()
    fab = fabric if isinstance(fabric, Fabric) else Fabric.load(fabric)
    froms, tos = _list(from_), _list(to)
    n = fab.sweep_len(froms, tos, ports)
    shipped = _ship(ray, fab)
    step = max(1, int(cells_per_row))
    rows = -(-n // step) or 1

    def run(batch: pa.Table):
        starts = [i * step for i in batch.column("id").to_pylist() if i * step < n]
        if on_block is not None:
            on_block(starts)
        f = _worker_fabric(ray, shipped)
        yield from sweep_cells(f, froms, tos, ports, starts, n, step, batch_rows)

    ds = ray.data.range(rows, override_num_blocks=max(1, min(blocks or rows, rows)))
    # Task-level retries (Ray core's): a retried task's partial output is discarded and the
    # whole task runs again, which a pure task makes exact.
    return ds.map_batches(run, batch_format="pyarrow", zero_copy_batch=True,
                          max_retries=int(max_retries), retry_exceptions=True)
