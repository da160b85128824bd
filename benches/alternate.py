#!/usr/bin/env python3
"""Runs two commands in turn, A then B, for a number of pairs (after one warm-up run of each),
and prints the medians and the ratio taken pair by pair: on a shared machine the rate of one
program drifts within minutes, the ratio of two programs run alternately much less.

Two kinds of ratio:
  - wall time (default): A's wall time over B's, each whole process (lower is better for A);
  - printed rates (--rate-a and --rate-b, regular expressions with one group, the number each
    program prints, e.g. 'Mlookups/s=([0-9.]+)'): A's rate over B's (higher is better for A).

Each run's peak resident memory (the child's ru_maxrss) and CPU time are reported too.
Output: one JSON object per call, on one line, so that a script can gather a table.

Usage: alternate.py NAME --pairs N [--rate-a RE --rate-b RE] --a 'CMD' --b 'CMD'
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time


def run(cmd, rate):
    """One whole run: (wall s, printed rate or None)."""
    start = time.perf_counter()
    p = subprocess.Popen(
        cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out, _ = p.communicate()
    wall = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"alternate.py: `{cmd}` exited with {p.returncode}:\n{out[-2000:]}")
    value = None
    if rate:
        m = re.search(rate, out)
        if not m:
            sys.exit(f"alternate.py: `{cmd}` printed no match for {rate!r}:\n{out[-2000:]}")
        value = float(m.group(1))
    return wall, value


def rusage_of(cmd):
    """Peak MiB and CPU seconds of one run, from the child's resource usage."""
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvp("/bin/sh", ["/bin/sh", "-c", cmd])
    _, _, use = os.wait4(pid, 0)
    return use.ru_maxrss / 1024.0, use.ru_utime + use.ru_stime


def median_range(xs):
    return statistics.median(xs), min(xs), max(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--rate-a")
    ap.add_argument("--rate-b")
    a = ap.parse_args()
    rated = a.rate_a is not None
    run(a.a, a.rate_a)
    run(a.b, a.rate_b)
    ra, rb, ratios = [], [], []
    for _ in range(a.pairs):
        wa, va = run(a.a, a.rate_a)
        wb, vb = run(a.b, a.rate_b)
        if rated:
            ra.append(va)
            rb.append(vb)
            ratios.append(va / vb)
        else:
            ra.append(wa)
            rb.append(wb)
            ratios.append(wa / wb)
    peak_a, cpu_a = rusage_of(a.a)
    peak_b, cpu_b = rusage_of(a.b)
    ma, mb, (mr, lo, hi) = statistics.median(ra), statistics.median(rb), median_range(ratios)
    print(
        json.dumps(
            {
                "name": a.name,
                "pairs": a.pairs,
                "kind": "rate" if rated else "wall",
                "a": ma,
                "b": mb,
                "ratio": mr,
                "ratio_min": lo,
                "ratio_max": hi,
                "a_peak_mib": round(peak_a, 1),
                "b_peak_mib": round(peak_b, 1),
                "a_cpu_s": round(cpu_a, 3),
                "b_cpu_s": round(cpu_b, 3),
                "a_cmd": a.a,
                "b_cmd": a.b,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
