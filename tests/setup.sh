#!/usr/bin/env bash
# Installs what the tests need besides the Rust toolchain, when it is missing:
#   - tcpdump (Debian's package): reads back the captures `replay --pcap-out` writes;
#   - chromium (Debian's package): opens the HTML reports headless, as a reader would;
#   - a Java runtime (Debian's default-jre-headless, Java 17 on Debian 12): Spark's JVM, for
#     the Python package's Spark tests in local mode;
#   - pyarrow (PyPI): reads back the Parquet files `sweep` and `replay` write;
#   - maturin, pandas, pytest, pyspark and Ray Data (PyPI): build and test the Python package.
set -euo pipefail
missing=()
command -v tcpdump >/dev/null 2>&1 || missing+=(tcpdump)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
  missing+=(default-jre-headless)
fi
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
py_need() { # module, then the PyPI package providing it
  if ! python3 -c "import $1" >/dev/null 2>&1; then
    python3 -m pip install -q "$2"
  fi
}
py_need pyarrow pyarrow
py_need pandas pandas
py_need pytest pytest
py_need maturin maturin
py_need pyspark pyspark
py_need ray.data 'ray[data]>=2.40,<2.64'
