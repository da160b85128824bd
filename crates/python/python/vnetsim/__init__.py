"""vnetsim: a packet-level simulator of the Azure virtual network data plane, in Python.

The same engine and jobs as the ``vnetsim`` command line, with answers as
``pyarrow.Table`` (call ``.to_pandas()`` for a DataFrame). Flow tables have the
columns and types of the command line's Parquet files (``FLOW_COLUMNS``).

    >>> import vnetsim
    >>> lab = vnetsim.Fabric.load("traces/hub-spoke-lab.yaml")
    >>> rows = lab.sweep(from_=["all"], to=["all"], ports="tcp/443,udp/53")
    >>> rows.to_pandas().groupby("outcome").size()

Every call releases the interpreter lock while it works. Errors raise
``VnetsimError`` with the command line's message (for a bad topology: file,
line, column and what was expected).
"""

from __future__ import annotations

import json
import os
from typing import Iterable, Optional, Sequence, Union

import pyarrow as pa

from . import _native

__all__ = [
    "Fabric",
    "VnetsimError",
    "FLOW_COLUMNS",
    "FLOW_TABLE_COLUMNS",
    "flow_schema",
    "compile_count",
    "flow_shard",
    "flow_log_partials",
    "FLOW_LOG_KEY",
]

PathLike = Union[str, "os.PathLike[str]"]


class VnetsimError(ValueError):
    """A problem vnetsim reports: bad input (located), an unknown name, a bad selector."""


class _Stream:
    """An Arrow C stream capsule behind the ``__arrow_c_stream__`` protocol."""

    def __init__(self, capsule):
        self._capsule = capsule

    def __arrow_c_stream__(self, requested_schema=None):
        return self._capsule


def _table(capsule) -> pa.Table:
    return pa.RecordBatchReader.from_stream(_Stream(capsule)).read_all()


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ValueError as e:
        raise VnetsimError(str(e).rstrip("\n")) from None


def flow_schema() -> pa.Schema:
    """The schema of flow rows (``sweep``, ``replay``): the command line's Parquet columns."""
    return _table(_native.flow_row_schema()).schema


FLOW_COLUMNS = tuple(flow_schema().names)
"""Flow row columns, in order (docs/cli-contract.md)."""

FLOW_TABLE_COLUMNS = (
    "src", "dst", "protocol", "srcPort", "dstPort", "ingress", "midstream", "fqdn",
    "appProtocol", "capture", "firstTsNs", "lastTsNs", "requestPackets", "requestBytes",
    "replyPackets", "replyBytes",
)
"""Columns of ``Fabric.flow_table``: one row per flow of the captures."""


def flow_log_partials(name: str, content: bytes) -> pa.Table:
    """One flow-log blob's bytes (gzip or not), folded into partial flows: one row per logged
    flow of the blob, with ``name`` as its file. Any worker can compute it from the bytes
    alone; ``Fabric.judge_flow_log_partials`` merges the partials of a flow and judges it."""
    return _table(_call(_native.flow_log_partials, name, bytes(content)))


FLOW_LOG_KEY = ("mac", "acl", "rule", "direction", "src", "dst", "protocol", "srcPort",
                "dstPort", "denied")
"""Columns of a partial flow that identify its logged flow (group partials by them)."""


def compile_count() -> int:
    """How many topologies this process has compiled (``Fabric.load`` calls that succeeded)."""
    return _native.compile_count()


def flow_shard(src: int, dst: int, protocol: int, src_port: int, dst_port: int, count: int) -> int:
    """The ``replay --shard`` part of a flow: 64-bit FNV-1a of its canonical bidirectional
    5-tuple modulo ``count`` (addresses as integers; both directions give the same part)."""
    return _native.flow_shard(src, dst, protocol, src_port, dst_port, count)


def _list(x: Union[str, Iterable[str]]) -> list:
    return [x] if isinstance(x, str) else list(x)


_ROUTE_SCHEMA = pa.schema([
    ("name", pa.string()), ("source", pa.string()), ("state", pa.string()),
    ("addressPrefix", pa.list_(pa.string())), ("nextHopType", pa.string()),
    ("nextHopIpAddress", pa.list_(pa.string())), ("routeTable", pa.string()),
])

_RULE_SCHEMA = pa.schema([
    ("networkSecurityGroup", pa.string()), ("subnet", pa.string()),
    ("networkInterface", pa.string()), ("name", pa.string()), ("protocol", pa.string()),
    ("sourcePortRanges", pa.list_(pa.string())), ("destinationPortRanges", pa.list_(pa.string())),
    ("sourceAddressPrefixes", pa.list_(pa.string())),
    ("expandedSourceAddressPrefix", pa.list_(pa.string())),
    ("destinationAddressPrefixes", pa.list_(pa.string())),
    ("expandedDestinationAddressPrefix", pa.list_(pa.string())),
    ("access", pa.string()), ("priority", pa.int64()), ("direction", pa.string()),
])

_SIDE = pa.struct([
    ("outcome", pa.string()), ("deliveredTo", pa.string()), ("droppedAt", pa.string()),
    ("rule", pa.string()), ("srcSeen", pa.string()), ("path", pa.string()),
    ("hops", pa.list_(pa.string())), ("reason", pa.string()),
])

_DIFF_SCHEMA = pa.schema([
    ("from", pa.string()), ("to", pa.string()), ("protocol", pa.string()),
    ("dstPort", pa.uint16()), ("old", _SIDE), ("new", _SIDE),
])


class Fabric:
    """A compiled fabric: immutable, and safe to use from many threads at once."""

    def __init__(self, native: "_native.Fabric", source: str):
        self._f = native
        self.source = source
        """The file it was loaded from."""

    @classmethod
    def load(cls, path_or_import_source: PathLike) -> "Fabric":
        """Loads a topology (YAML or JSON), or an import source (az exports, Resource Graph,
        ARM template, Terraform state; detected by content, imported with the command line's
        default options), validates it and compiles it. Raises ``VnetsimError`` with every
        problem found, each located (file:line:column)."""
        p = os.fspath(path_or_import_source)
        return cls(_call(_native.Fabric.load, p), p)

    @property
    def name(self) -> str:
        return self._f.name

    def __repr__(self) -> str:
        return f"vnetsim.Fabric({self.source!r})"

    def routes(self, subnet: Optional[str] = None, nic: Optional[str] = None) -> pa.Table:
        """Effective routes of a subnet (``VNET/SUBNET``) or a NIC's subnet, as
        ``vnetsim routes --json`` lists them (Network Watcher's effective routes)."""
        v = json.loads(_call(self._f.routes_json, subnet=subnet, nic=nic))
        return pa.Table.from_pylist(v["value"], schema=_ROUTE_SCHEMA)

    def rules(self, nic: str) -> pa.Table:
        """Effective security rules of a NIC, service tags and ASGs expanded: one row per rule
        of each associated NSG (``vnetsim rules --json``, flattened)."""
        v = json.loads(_call(self._f.rules_json, nic))
        rows = []
        for block in v["value"]:
            a = block["association"]
            for r in block["effectiveSecurityRules"]:
                rows.append(dict(r, networkSecurityGroup=block["networkSecurityGroup"],
                                 subnet=a.get("subnet"), networkInterface=a.get("networkInterface")))
        return pa.Table.from_pylist(rows, schema=_RULE_SCHEMA)

    def trace(self, src: str, dst: str, protocol: str = "Tcp", src_port: int = 50000,
              dst_port: int = 443, from_: Optional[str] = None, fqdn: Optional[str] = None,
              app_protocol: Optional[str] = None) -> dict:
        """One flow, forward and back: the document ``vnetsim trace --json`` prints."""
        return json.loads(_call(self._f.trace_json, src, dst, protocol, src_port, dst_port,
                                from_, fqdn, app_protocol))

    def sweep_len(self, from_: Union[str, Sequence[str]] = "all",
                  to: Union[str, Sequence[str]] = "all", ports: str = "tcp/443") -> int:
        """How many flows (cells) the sweep of these selectors has."""
        return _call(self._f.sweep_len, _list(from_), _list(to), ports)

    def sweep(self, from_: Union[str, Sequence[str]] = "all",
              to: Union[str, Sequence[str]] = "all", ports: str = "tcp/443",
              threads: Optional[int] = None, cells: Optional[tuple] = None,
              shard: Optional[str] = None) -> pa.Table:
        """Every source x destination x port, each a round trip: the rows of
        ``vnetsim sweep --out rows.parquet``, in matrix order. ``cells=(start, end)`` or
        ``shard="I/N"`` evaluates a part only (``--shard``); ``threads`` defaults to one per
        core."""
        return _table(_call(self._f.sweep, _list(from_), _list(to), ports, threads, cells, shard))

    def replay(self, captures: Union[PathLike, Sequence[PathLike]], from_: Optional[str] = None,
               threads: Optional[int] = None, shard: Optional[str] = None) -> pa.Table:
        """Captures (pcap, pcapng) through the fabric: the per-flow rows of
        ``vnetsim replay CAPTURES --out rows.parquet``."""
        caps = [os.fspath(c) for c in ([captures] if isinstance(captures, (str, os.PathLike)) else captures)]
        return _table(_call(self._f.replay, caps, from_, threads, shard))

    def flow_table(self, captures: Union[PathLike, Sequence[PathLike]],
                   from_: Optional[str] = None) -> pa.Table:
        """Pass one of a replay: one row per flow of the captures (``FLOW_TABLE_COLUMNS``),
        to partition and walk elsewhere with ``walk_flows``."""
        caps = [os.fspath(c) for c in ([captures] if isinstance(captures, (str, os.PathLike)) else captures)]
        return _table(_call(self._f.flow_table, caps, from_))

    def walk_flows(self, flows: Union[pa.Table, pa.RecordBatch], captures: Sequence[str],
                   threads: Optional[int] = None) -> pa.Table:
        """Walks the rows of a flow table into replay's flow rows; ``captures`` names the
        files its ``capture`` column indexes (as given to ``flow_table``)."""
        batches = flows.to_batches() if isinstance(flows, pa.Table) else [flows]
        caps = [os.fspath(c) for c in captures]
        parts = [_table(_call(self._f.walk_flows, b, caps, threads)) for b in batches]
        return pa.concat_tables(parts) if parts else flow_schema().empty_table()

    def replay_flow_logs(self, logs: Union[PathLike, Sequence[PathLike]],
                         threads: Optional[int] = None) -> pa.Table:
        """VNet and NSG flow logs (blobs, the stored folder tree, JSON lines, gzip) judged at
        the NIC that logged each flow and walked end to end: the rows of
        ``vnetsim replay LOGS --out rows.parquet``, one per logged flow."""
        paths = [os.fspath(c) for c in ([logs] if isinstance(logs, (str, os.PathLike)) else logs)]
        return _table(_call(self._f.replay_flow_logs, paths, threads))

    def judge_flow_log_partials(self, partials: Union[pa.Table, Sequence[pa.RecordBatch]],
                                threads: Optional[int] = None) -> pa.Table:
        """Partial flows (``flow_log_partials`` of any set of blobs) merged by flow and judged:
        ``replay_flow_logs``' rows for the flows they make up. Every partial of a flow must be
        in the same call (a distributed replay groups them by key first)."""
        batches = partials.to_batches() if isinstance(partials, pa.Table) else list(partials)
        return _table(_call(self._f.judge_flow_log_partials, batches, threads))

    def reach(self, from_: Union[None, str, Sequence[str]] = None,
              to: Union[None, str, Sequence[str]] = None, protocol: Optional[str] = None,
              ports: Optional[str] = None, except_ports: Optional[str] = None,
              only_allowed: bool = False, exposed: bool = False, why: bool = False,
              max_boxes: Optional[int] = None, threads: Optional[int] = None) -> pa.Table:
        """Every header from ``from_`` to ``to`` as regions: the rows ``vnetsim reach --out
        regions.parquet`` writes, in the same order (sources as the selectors list them).
        ``from_`` defaults to every endpoint (the Internet with ``exposed``), ``to`` to every
        destination; ``protocol`` (``tcp``, ``udp``, ``icmp`` or a number), ``ports`` and
        ``except_ports`` (``443``, ``1-1024,8080``) narrow the question; ``only_allowed`` keeps
        reachable regions, ``exposed`` those whose request reaches the fabric. ``why`` adds
        the ``blockers`` column: for the first 32 regions that are not reachable, every
        decision that stops the region's example header and the change that lets it through.
        ``max_boxes`` bounds one source's partition (an error past it, as on the command line)."""
        return _table(_call(self._f.reach, [] if from_ is None else _list(from_),
                            [] if to is None else _list(to), protocol, ports, except_ports,
                            only_allowed, exposed, why, max_boxes, threads))

    def diff(self, other: "Fabric", from_: Union[str, Sequence[str]] = "all",
             to: Union[str, Sequence[str]] = "all", ports: str = "tcp/443",
             threads: Optional[int] = None) -> pa.Table:
        """The same sweep on this fabric (old) and ``other`` (new): one row per flow whose
        outcome, path or source seen changed, as ``vnetsim diff --json`` lists them. The
        schema's metadata ``flows`` holds how many flows were compared."""
        v = json.loads(_call(self._f.diff_json, other._f, _list(from_), _list(to), ports, threads))
        t = pa.Table.from_pylist(v["changed"], schema=_DIFF_SCHEMA)
        return t.replace_schema_metadata({"flows": str(v["flows"])})
