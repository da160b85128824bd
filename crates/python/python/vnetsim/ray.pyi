from typing import Any, Callable, Optional, Sequence, Union

from . import Fabric

DEFAULT_CELLS_PER_TASK_ROW: int
DEFAULT_BATCH_ROWS: int

def sweep(fabric: Union[Fabric, str], from_: Union[str, Sequence[str]] = ...,
          to: Union[str, Sequence[str]] = ..., ports: str = ..., blocks: Optional[int] = ...,
          cells_per_row: int = ..., batch_rows: int = ...,
          on_block: Optional[Callable[[list], None]] = ..., max_retries: int = ...) -> Any: ...
