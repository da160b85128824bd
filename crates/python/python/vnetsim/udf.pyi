from typing import Iterable, Iterator, Sequence

import pyarrow as pa

from . import Fabric

def sweep_cells(fabric: Fabric, from_: Sequence[str], to: Sequence[str], ports: str,
                starts: Iterable[int], cells: int, step: int,
                batch_rows: int) -> Iterator[pa.Table]: ...
def walk_flow_batch(fabric: Fabric, flows: pa.Table, captures: Sequence[str],
                    batch_rows: int) -> Iterator[pa.Table]: ...
