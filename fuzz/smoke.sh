#!/usr/bin/env bash
# Runs every fuzz target for N seconds (default 60), one after the other,
# from the seed inputs in the repository plus what earlier runs kept in
# fuzz/corpus/. Exits non-zero if any target crashes, leaks past the memory
# limit or hangs; the offending input is left in fuzz/artifacts/TARGET/.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). It runs on the stable
# toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags, and
# --sanitizer none builds without AddressSanitizer (the targets are safe
# Rust; libFuzzer's coverage instrumentation still applies). Targets are
# optimised and keep debug assertions and overflow checks (the default).
#
# Usage: fuzz/smoke.sh [SECONDS] [TARGET...]
set -uo pipefail

secs="${1:-60}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(topology split capture import trace flowlog compiled)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "smoke.sh: cargo-fuzz is missing; install it with: cargo install cargo-fuzz" >&2
    exit 2
fi

export RUSTC_BOOTSTRAP=1
cd "$here"
flags=(--sanitizer none)
cargo fuzz build "${flags[@]}" || exit 2

# Seeds: the repository's own topologies and captures.
seeds() {
    case "$1" in
    topology) ls "$root"/traces/*.yaml "$root"/tests/fixtures/*.yaml "$root"/docs/*.yaml ;;
    capture) ls "$root"/traces/*.pcap "$root"/traces/captures/*/*.pcap* ;;
    import)
        find "$root"/tests/fixtures "$root"/../shared/import-samples -name '*.json' -size -64k ;;
    flowlog) ls "$root"/tests/fixtures/flowlogs/* ;;
    esac 2>/dev/null
}

# Extra libFuzzer options per target (a dictionary of the format's words).
extra() {
    case "$1" in
    topology | split | trace) echo "-dict=$here/topology.dict" ;;
    esac
}

max_len() {
    case "$1" in
    topology | split | trace) echo 16384 ;;
    *) echo 65536 ;;
    esac
}

failed=()
for t in "${targets[@]}"; do
    seed_dir="$(mktemp -d)"
    seeds "$t" | while read -r f; do cp "$f" "$seed_dir/"; done
    if [ "$t" = compiled ]; then
        # Compiled files of the repository's topologies, by the workspace's vnetsim when it
        # is built (the target frames each payload again, so stale seeds still decode far).
        bin="$(ls "$root"/target/release/vnetsim "$root"/target/debug/vnetsim 2>/dev/null | head -n 1)"
        if [ -n "$bin" ]; then
            for f in "$root"/traces/*.yaml "$root"/tests/fixtures/*.yaml; do
                "$bin" compile "$f" -o "$seed_dir/$(basename "$f").vnetsim" >/dev/null 2>&1
            done
        fi
    fi
    if [ "$t" = split ]; then
        # A split input is one byte choosing the parts, then a topology: each topology
        # behind four choices (2 to 9 parts, parts of 1 to 128 bytes).
        for f in "$root"/traces/*.yaml "$root"/tests/fixtures/*.yaml; do
            for c in '\x01' '\x42' '\x83' '\xe7'; do
                { printf "$c"; cat "$f"; } > "$seed_dir/$(basename "$f").$(printf %s "$c" | tr -d '\\')"
            done
        done
    fi
    if [ "$t" = trace ]; then
        # A trace input is 24 bytes choosing the flows, then a topology.
        for f in "$root"/traces/*.yaml "$root"/tests/fixtures/*.yaml; do
            { printf 'vnetsim-trace-seed-0123\n'; cat "$f"; } > "$seed_dir/$(basename "$f")"
        done
    fi
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "smoke.sh: fuzzing $t for ${secs}s"
    if ! cargo fuzz run "${flags[@]}" "$t" "corpus/$t" "$seed_dir" -- \
        -max_total_time="$secs" -max_len="$(max_len "$t")" \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 $(extra "$t"); then
        failed+=("$t")
    fi
    rm -rf "$seed_dir"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "smoke.sh: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "smoke.sh: no crash in ${targets[*]} (${secs}s each)"
