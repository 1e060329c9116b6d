"""`catalog export` of the whole embedded catalog on the default 10 profiles: wall time, files, bytes.

Usage: python bench/export_speed.py   (writes bench/out/export.json)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import write_json  # noqa: E402

from catalog.cli import export  # noqa: E402


def main() -> None:
    runs = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            index = export.export(out, fmt="csv")
            secs = time.perf_counter() - t0
            files = [p for p in Path(out).rglob("*") if p.is_file()]
            runs.append({"seconds": round(secs, 2), "models": len(index["models"]), "files": len(files),
                         "bytes": sum(p.stat().st_size for p in files)})
    for r in runs:
        print(f"{r['models']} models x {len(export.DEFAULT_PROFILES)} profiles: {r['seconds']:.2f} s, "
              f"{r['files']} files, {r['bytes'] / 2**20:.1f} MiB ({os.cpu_count()} CPUs)")
    print(f"wrote {write_json('export.json', runs)}")


if __name__ == "__main__":
    main()
