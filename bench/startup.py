"""Offline `catalog check` wall time as a multiple of `python -c pass`, optionally against a baseline install.

Runs each command N times (default 30) in a shuffled order each round and compares medians: on a
shared machine the load drifts, and runs taken one command after another put the drift into the
comparison. The check is the seed question, offline, through the same interpreter, with JSON out
and as the rich table.

Usage: python bench/startup.py [N] [--baseline PATH/TO/OTHER/bin/catalog]
(the baseline: another install of the package, for example the commit before a change, in its own venv)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from report import write_json

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["check", "llama3.1:8b", "--gpu", "RTX 3060", "--offline", "--json"]


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, cwd=ROOT)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=30)
    ap.add_argument("--baseline", help="another install's `catalog` script, timed in the same rounds")
    opts = ap.parse_args()
    script = shutil.which("catalog", path=os.path.dirname(sys.executable))
    check = [script] if script else [sys.executable, "-m", "catalog"]
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "catalog check --json": check + ARGS,
        "catalog check (table)": check + ARGS[:-1],
    }
    if opts.baseline:
        cases["baseline check --json"] = [opts.baseline, *ARGS]
        cases["baseline check (table)"] = [opts.baseline, *ARGS[:-1]]
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(3):
        for cmd in cases.values():
            timed(cmd)  # warm the page cache and .pyc files
    order = list(cases)
    for _ in range(opts.n):
        random.shuffle(order)
        for name in order:
            times[name].append(timed(cases[name]))
    base = statistics.median(times["python -c pass"])
    print(f"{'command':28} {'median ms':>10} {'ratio':>6}")
    result = {}
    for name, ts in times.items():
        med = statistics.median(ts)
        result[name] = {"median_ms": round(med * 1e3, 2), "ratio": round(med / base, 2)}
        print(f"{name:28} {med * 1e3:>10.1f} {med / base:>6.2f}")
    write_json("startup.json", {"runs": opts.n, "baseline": opts.baseline, "results": result})


if __name__ == "__main__":
    main()
