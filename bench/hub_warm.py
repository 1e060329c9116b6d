"""`catalog check` of a Hub repo the cache already holds (warm: no request) vs `python -c pass`, and the first (cold)
check against a loopback Hub, as issue 23 measures them. Prints a table and writes bench/out/hub_warm.json.

The repo is served by tests/hub_server.py (a loopback Hub) with a real config (tests/data/configs/qwen25_7b.json):
the cold check reads it (model_info, tree, config.json, README); the warm ones answer from the cache. Runs each
command N times (default 15) in a shuffled order each round and compares medians.

Usage: python bench/hub_warm.py [N]
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hub_server import HubServer  # noqa: E402
from report import write_json  # noqa: E402
from test_templates import QWEN  # noqa: E402

REPO = "bench-org/Qwen2.5-7B-Instruct"


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, cwd=ROOT)
    dt = time.perf_counter() - t0
    if p.returncode not in (0, 10, 11, 12):
        raise SystemExit(f"{cmd}: exit {p.returncode}: {p.stderr.decode()[-300:]}")
    return dt


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    cfg = json.loads((ROOT / "tests" / "data" / "configs" / "qwen25_7b.json").read_text())
    config = cfg.get("config", cfg)
    with HubServer() as hub, tempfile.TemporaryDirectory() as tmp:
        hub.add(REPO, {"tags": ["transformers", "safetensors", "qwen2", "text-generation", "conversational"],
                       "pipeline_tag": "text-generation", "library_name": "transformers",
                       "cardData": {"license": "apache-2.0"}}, {
            "config.json": json.dumps(config).encode(), "tokenizer_config.json": json.dumps({"chat_template": QWEN, "bos_token": None, "eos_token": "<|im_end|>"}).encode(),
            "README.md": b"---\nlicense: apache-2.0\n---\n# Qwen2.5 7B Instruct\nAn instruction-tuned model.\n"})
        env = {**os.environ, "HF_ENDPOINT": hub.url, "LLM_CATALOG_CACHE_DIR": str(Path(tmp) / "cache"),
               "HF_HOME": str(Path(tmp) / "hf")}
        env.pop("HF_HUB_OFFLINE", None)
        check = [sys.executable, "-m", "catalog", "check", REPO, "--gpu", "RTX 3060", "--ram", "32", "--json"]
        cold = _timed(check, env)
        cmds = {"python -c pass": [sys.executable, "-c", "pass"], "warm Hub check --json": check}
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(n):
            for name in random.sample(list(cmds), len(cmds)):
                times[name].append(_timed(cmds[name], env))
        requests_warm = len(hub.log)
    base = statistics.median(times["python -c pass"])
    rows = [{"command": k, "median_ms": round(statistics.median(v) * 1000, 1),
             "ratio": round(statistics.median(v) / base, 2)} for k, v in times.items()]
    rows.append({"command": "cold Hub check --json (loopback Hub)", "median_ms": round(cold * 1000, 1),
                 "ratio": round(cold / base, 2)})
    print(f"{'command':40} {'median ms':>10} {'ratio':>6}")
    for r in rows:
        print(f"{r['command']:40} {r['median_ms']:>10} {r['ratio']:>6}")
    print(f"requests to the Hub in all: {requests_warm} (all of them by the cold check)")
    write_json("hub_warm.json", {"n": n, "rows": rows, "requests": requests_warm})


if __name__ == "__main__":
    main()
