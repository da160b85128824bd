#!/usr/bin/env bash
# The Python package's tests: builds the vnetsim wheel (one abi3 wheel, release), installs it
# into a virtual environment under target/ (which sees the interpreter's pyarrow, pandas,
# pytest and pyspark: tests/setup.sh installs them), and runs pytest, Spark in local mode
# included. The answers are compared with the `vnetsim` binary's.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --bin vnetsim
python3 -m maturin build --release --locked --manifest-path crates/python/Cargo.toml \
  --out target/wheels --interpreter python3
venv=target/py-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv --system-site-packages "$venv"
fi
wheel=$(ls -t target/wheels/vnetsim-*.whl | head -n 1)
"$venv/bin/python" -m pip install -q --no-deps --force-reinstall "$wheel"
export VNETSIM_BIN="$PWD/target/debug/vnetsim"
cd crates/python/tests
exec "../../../$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
