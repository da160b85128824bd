#!/usr/bin/env bash
# Installs what the tests need besides the Rust toolchain, when it is missing:
#   - tcpdump (Debian's package): reads back the captures `replay --pcap-out` writes;
#   - pyarrow (PyPI): reads back the Parquet files `sweep` and `replay` write;
#   - chromium (Debian's package): opens the HTML reports headless, as a reader would.
set -euo pipefail
missing=()
command -v tcpdump >/dev/null 2>&1 || missing+=(tcpdump)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! python3 -c 'import pyarrow' >/dev/null 2>&1; then
  python3 -m pip install -q pyarrow
fi
