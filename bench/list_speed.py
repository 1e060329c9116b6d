"""`catalog search --fits` and `catalog export` over the whole catalog, in fresh processes, against another checkout.

Each round runs every command once, in a shuffled order (a shared machine's load drifts), after one untimed round
that fills the caches (layouts, parameter counts) of both. With `--baseline DIR` the same commands run from that
checkout (`PYTHONPATH=DIR`, the same interpreter and cache), so both columns come from the same minutes.

Usage: python bench/list_speed.py [N] [--baseline DIR]   (writes bench/out/list_speed.json)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import write_json

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {"search --fits": ["search", "--fits", "--gpu", "RTX 3060"], "export": ["export", "--out"]}


def timed(args: list[str], env: dict[str, str]) -> float:
    out = tempfile.mkdtemp() if args[-1] == "--out" else None
    try:
        t0 = time.perf_counter()
        # run from the tree itself: `python -m` puts the working folder first on the path, before PYTHONPATH
        subprocess.run([sys.executable, "-m", "catalog", *args, *([out] if out else [])], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=env["PYTHONPATH"])
        return time.perf_counter() - t0
    finally:
        if out:
            shutil.rmtree(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=6)
    ap.add_argument("--baseline", help="another checkout of the repository, run with PYTHONPATH")
    opts = ap.parse_args()
    trees = {"this": str(ROOT)} | ({"baseline": opts.baseline} if opts.baseline else {})
    envs = {t: {**os.environ, "PYTHONPATH": path} for t, path in trees.items()}
    cases = [(t, c) for t in trees for c in COMMANDS]
    for t, c in cases:
        timed(COMMANDS[c], envs[t])  # caches filled, .pyc written
    times: dict[tuple[str, str], list[float]] = {k: [] for k in cases}
    for _ in range(opts.n):
        random.shuffle(cases)
        for t, c in cases:
            times[(t, c)].append(timed(COMMANDS[c], envs[t]))
    rows = [{"tree": t, "command": c, "median_s": round(statistics.median(v), 3), "min_s": round(min(v), 3)}
            for (t, c), v in sorted(times.items())]
    print(f"{'tree':10} {'command':15} {'median s':>9} {'min s':>7}   ({os.cpu_count()} CPUs, {opts.n} rounds)")
    for r in rows:
        print(f"{r['tree']:10} {r['command']:15} {r['median_s']:9.3f} {r['min_s']:7.3f}")
    print(f"wrote {write_json('list_speed.json', {'rounds': opts.n, 'rows': rows})}")


if __name__ == "__main__":
    main()
