"""The first `catalog check` of a GGUF repo on a distant Hub vs a minimal client making the requests it needs
(issue 23). A loopback Hub (tests/hub_server.py) adds a delay to every request (default 50 ms); the repo holds a
Q4_K_M GGUF (a small llama written with the gguf package) and a README. The minimal client asks model_info for the
file list and reads the GGUF's header with one Range request, in a fresh interpreter with httpx, as the product
does. Prints each run's time and the product's requests, writes bench/out/hub_cold.json.

Usage: python bench/hub_cold.py [DELAY_MS] [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from gguf_files import write_small_llama  # noqa: E402
from hub_server import HubServer  # noqa: E402
from report import write_json  # noqa: E402

REPO = "bench-org/Tiny-Instruct-GGUF"
MINIMAL = """
import sys, httpx
hub = sys.argv[1]
with httpx.Client() as c:
    info = c.get(f"{hub}/api/models/bench-org/Tiny-Instruct-GGUF").json()
    name = next(s["rfilename"] for s in info["siblings"] if s["rfilename"].endswith(".gguf"))
    c.get(f"{hub}/bench-org/Tiny-Instruct-GGUF/resolve/main/{name}", headers={"Range": "bytes=0-1048575"})
"""


def _run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, cwd=ROOT)
    if p.returncode not in (0, 10, 11, 12):
        raise SystemExit(f"{cmd[:4]}: exit {p.returncode}: {p.stderr.decode()[-300:]}")
    return time.perf_counter() - t0


def main() -> None:
    delay = float(sys.argv[1]) / 1000 if len(sys.argv) > 1 else 0.05
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as tmp, HubServer() as hub:
        gguf = write_small_llama(Path(tmp) / "tiny-instruct.Q4_K_M.gguf", chat_template="{% for m in messages %}"
                                 "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}")
        hub.add(REPO, {"tags": ["gguf", "text-generation", "conversational"], "pipeline_tag": "text-generation"},
                {"tiny-instruct.Q4_K_M.gguf": gguf.read_bytes(),
                 "README.md": b"---\nlicense: apache-2.0\n---\n# Tiny Instruct GGUF\nAn instruction-tuned model.\n"})
        hub.delay_s = delay
        product, minimal, requests = [], [], []
        for i in range(n):
            env = {**os.environ, "HF_ENDPOINT": hub.url, "LLM_CATALOG_CACHE_DIR": str(Path(tmp) / f"cache{i}"),
                   "HF_HOME": str(Path(tmp) / f"hf{i}")}
            env.pop("HF_HUB_OFFLINE", None)
            before = len(hub.log)
            product.append(_run([sys.executable, "-m", "catalog", "check", REPO, "--gpu", "RTX 3060", "--json"],
                                env))
            requests.append([e["path"] for e in hub.log[before:]])
            minimal.append(_run([sys.executable, "-c", MINIMAL, hub.url], env))
    p, m = statistics.median(product), statistics.median(minimal)
    print(f"delay {delay * 1000:.0f} ms a request, {n} runs (medians)")
    print(f"  catalog check (cold)   {p * 1000:7.1f} ms, {len(requests[0])} requests")
    print(f"  minimal client         {m * 1000:7.1f} ms, 2 requests")
    print(f"  ratio                  {p / m:7.2f}")
    for path in requests[0]:
        print(f"    {path}")
    write_json("hub_cold.json", {"delay_s": delay, "product_s": product, "minimal_s": minimal,
                                 "requests": requests[0], "ratio": round(p / m, 2)})


if __name__ == "__main__":
    main()
