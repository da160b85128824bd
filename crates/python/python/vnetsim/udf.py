"""The bodies of vnetsim's distributed tasks, shared by every engine that runs them.

A body is a plain function from Arrow batches to Arrow batches: it knows nothing of Spark or
Ray. ``vnetsim.spark`` runs these bodies under ``mapInArrow`` and ``vnetsim.ray`` under Ray
Data's ``map_batches``; both hand them a fabric compiled once per worker process. A body is
pure: the same input batch always gives the same rows, so a retried task neither duplicates
nor changes rows.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import pyarrow as pa

from . import Fabric

__all__ = ["sweep_cells", "walk_flow_batch"]


def sweep_cells(fabric: Fabric, from_: Sequence[str], to: Sequence[str], ports: str,
                starts: Iterable[int], cells: int, step: int,
                batch_rows: int) -> Iterator[pa.Table]:
    """The sweep rows of the cells ``[start, min(start + step, cells))`` for each start, in
    matrix order, with one more column, ``cell`` (the cell's index), in tables of at most
    ``batch_rows`` rows. The engine runs on one thread: the distributing engine already runs
    one worker per core."""
    for start in starts:
        end = min(start + step, cells)
        t = fabric.sweep(list(from_), list(to), ports, threads=1, cells=(start, end))
        t = t.append_column("cell", pa.array(range(start, end), pa.int64()))
        for b in t.to_batches(max_chunksize=batch_rows):
            yield pa.Table.from_batches([b])


def walk_flow_batch(fabric: Fabric, flows: pa.Table, captures: Sequence[str],
                    batch_rows: int) -> Iterator[pa.Table]:
    """Replay's flow rows for a batch of a flow table (``Fabric.flow_table``'s columns), in
    tables of at most ``batch_rows`` rows."""
    t = fabric.walk_flows(flows, list(captures), threads=1)
    for b in t.to_batches(max_chunksize=batch_rows):
        yield pa.Table.from_batches([b])
