"""Runs the fuzz suite's input files, one after another, through `catalog check --json` in this process and prints,
per case, one JSON line: its exit code, its stderr lines, its wall time and the process's peak RSS after it (issue
22). tests/test_fuzz.py writes the files and starts this in a fresh process with a private home and cache, so the
figures are the product's own and a case that overruns memory is named by the first line whose peak passes."""

from __future__ import annotations

import contextlib
import io
import json
import resource
import sys
import time
from pathlib import Path


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]]
    from catalog.cli.main import main as cli

    for i, path in enumerate(paths):
        err = io.StringIO()
        started = time.monotonic()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()) as so:
            code = cli(["check", str(path), "--offline", "--gpu", "RTX 3060", "--ram", "32", "--json"])
        seconds = time.monotonic() - started
        answer = json.loads(so.getvalue()) if so.getvalue().startswith("{") else {}
        quants = answer.get("quants") or []
        print(json.dumps({"case": i, "path": path.name, "code": code, "stderr": err.getvalue().splitlines(),
                          "seconds": round(seconds, 3),
                          "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                          "template": (answer.get("model") or {}).get("chat_template"), "rows": len(quants),
                          "template_bytes": [q["memory"]["template_bytes"] for q in quants]}), flush=True)


if __name__ == "__main__":
    main()
