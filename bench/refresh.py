"""`catalog refresh` against sequential `model_info` calls, on a loopback Hub that adds latency.

The Hub here is tests/hub_server.py with `delay_s` added to every request (default 50 ms,
about a round trip to the Hub from Europe). 200 repos, half safetensors repos with a
config.json and a card, half GGUF repos. Three timings:

- baseline: one `HfApi.model_info(repo, expand=...)` after another, the naive loop;
- refresh, warm: `refresh.refresh` over repos already cached (the usual `catalog refresh`);
- refresh, cold: the same with an empty cache (every file of every repo read).

Usage: python bench/refresh.py [N_REPOS] [DELAY_MS] [JOBS]   (writes bench/out/refresh.json)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from hub_server import HubServer  # noqa: E402
from report import write_json  # noqa: E402


def repo_ids(n: int) -> list[str]:
    return [f"org/m{i}-GGUF" if i % 2 else f"org/m{i}" for i in range(n)]


def serve(n: int, delay_ms: float) -> None:
    """The loopback Hub, in a process of its own (its threads must not share our GIL)."""
    config = json.loads((ROOT / "tests/data/configs/qwen25_7b.json").read_text())["config"]
    with HubServer() as srv:
        for repo in repo_ids(n):
            if repo.endswith("-GGUF"):
                srv.add(repo, {"tags": ["gguf"]}, {"m-Q4_K_M.gguf": b"GGUF", "README.md": b"q"})
            else:
                srv.add(repo, {"tags": ["qwen2"]}, {"config.json": json.dumps(config).encode(),
                                                     "README.md": b"---\nlicense: mit\n---\nA model.\n"})
        srv.delay_s = delay_ms / 1000
        print(srv.url, flush=True)
        sys.stdin.read()  # until the parent closes the pipe


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        return serve(int(sys.argv[2]), float(sys.argv[3]))
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    delay_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 50.0
    jobs = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    server = subprocess.Popen([sys.executable, __file__, "serve", str(n), str(delay_ms)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    repos = [(r, None) for r in repo_ids(n)]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update({"HF_ENDPOINT": url, "LLM_CATALOG_CACHE_DIR": f"{tmp}/cache", "HF_HOME": f"{tmp}/hf"})
        os.environ.pop("HF_HUB_OFFLINE", None)
        from huggingface_hub import HfApi

        from catalog.sources import refresh
        from catalog.sources.hub import records

        api = HfApi(endpoint=url)
        t0 = time.perf_counter()
        for repo, _ in repos:
            api.model_info(repo, expand=records.EXPAND)  # type: ignore[arg-type]
        baseline = time.perf_counter() - t0
        marks = {}
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            out = refresh.refresh(repos, jobs=jobs)
            marks[label] = (time.perf_counter() - t0, dict(Counter(o.status for o in out)))
            assert not any(o.status == "failed" for o in out), [o for o in out if o.status == "failed"][:3]
    server.stdin.close()  # type: ignore[union-attr]
    server.wait(timeout=30)
    rows = [("sequential model_info", baseline, {}), *[(f"refresh --jobs {jobs}, {k}", *v) for k, v in marks.items()]]
    print(f"{n} repos, {delay_ms:g} ms added to every request, {os.cpu_count()} CPUs\n")
    print(f"{'run':32} {'seconds':>8} {'speed-up':>9}  outcome")
    for label, secs, summ in rows:
        print(f"{label:32} {secs:8.2f} {baseline / secs:8.1f}x  {summ or ''}")
    path = write_json("refresh.json", {
        "repos": n, "delay_ms": delay_ms, "jobs": jobs, "baseline_s": round(baseline, 3),
        "runs": {label: {"seconds": round(secs, 3), "speedup": round(baseline / secs, 1), "outcome": summ}
                 for label, secs, summ in rows[1:]}})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
