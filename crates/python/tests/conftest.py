"""Shared fixtures: the workspace, the `vnetsim` binary the answers are compared with, the lab
and a generated fabric."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def binary() -> str:
    env = os.environ.get("VNETSIM_BIN")
    if env:
        return env
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "vnetsim"
        if p.exists():
            return str(p)
    raise RuntimeError("no vnetsim binary: run `cargo build` first or set VNETSIM_BIN")


def cli(*args, check=True):
    """Runs the command line; (exit code, stdout, stderr)."""
    r = subprocess.run([binary(), *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"vnetsim {args}: {r.stderr}")
    return r.returncode, r.stdout, r.stderr


def cli_json(*args):
    return json.loads(cli(*args, "--json")[1])


@pytest.fixture(scope="session")
def lab() -> Path:
    return ROOT / "traces" / "hub-spoke-lab.yaml"


@pytest.fixture(scope="session")
def lab_pcap() -> Path:
    return ROOT / "traces" / "hub-spoke-lab.pcap"


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """A small generated hub-and-spoke fabric (deterministic for its seed)."""
    p = tmp_path_factory.mktemp("gen") / "gen.yaml"
    cli("generate", "--vnets", "6", "--subnets-per-vnet", "3", "--rules", "5",
        "--private-endpoints", "4", "--seed", "7", "-o", p)
    return p


@pytest.fixture(scope="session")
def generated_pcap(generated, tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("gen") / "gen.pcap"
    cli("synth", generated, "--from", "all", "--to", "all", "--ports", "tcp/443,udp/53", "-o", p)
    return p


@pytest.fixture(scope="session")
def lab_flow_logs(lab, tmp_path_factory) -> Path:
    """The lab's traffic as Azure would log it: VNet flow logs v4 in the stored folder tree."""
    d = tmp_path_factory.mktemp("flowlogs") / "logs"
    cli("synth-flow-logs", lab, "--from", "all", "--to", "all", "--ports",
        "tcp/443,tcp/22,udp/53", "-o", d)
    return d


@pytest.fixture(scope="session")
def flow_log_halves(lab_flow_logs, tmp_path_factory) -> list:
    """One NIC's hour written twice, under two folders: the same flows in two blobs, which a
    replay folds together (counters summed, the first blob's location kept)."""
    blobs = sorted(p for p in lab_flow_logs.rglob("PT1H.json"))
    root = tmp_path_factory.mktemp("halves")
    out = []
    for half in ("a", "b"):
        p = root / half / "PT1H.json"
        p.parent.mkdir(parents=True)
        p.write_bytes(blobs[0].read_bytes())
        out.append(p)
    return out
