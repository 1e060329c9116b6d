"""The TUI's work with hundreds of Hub repos in the cache (issue 23): list the catalog plus every cached repo
(`catalog.search(cached=True)`, what `catalog tui` lists) and estimate each against an RTX 3060, offline.
Prints the times and the peak RSS, and writes bench/out/hub_cached.json.

N repos (default 400) are served by a loopback Hub (tests/hub_server.py): the real configs of tests/data/configs
under new names, each with a chat template (four real ones in turn) and a README; `catalog refresh` reads them
into a fresh cache first (not timed). The estimating runs in a fresh process, twice: the first run measures the
templates and builds the layouts (then cached), the second is what every later TUI start costs.

Usage: python bench/hub_cached.py [N]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hub_server import HubServer  # noqa: E402
from report import write_json  # noqa: E402
from test_templates import QWEN  # noqa: E402

TEMPLATES = [QWEN,
             "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
             "{{ m['content'] }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant"
             "<|end_header_id|>\n\n{% endif %}",
             "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
             "{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}",
             "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else "
             "m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}"
             "<start_of_turn>model\n{% endif %}"]
MEASURE = """
import json, resource, sys, time
t0 = time.perf_counter()
import catalog, hardware
specs = catalog.search(cached=True)
t1 = time.perf_counter()
hw = hardware.profile(["RTX 3060"], 32)
req = catalog.CheckRequest()
rows = [catalog.summarize(s, req, hw) for s in specs]
t2 = time.perf_counter()
print(json.dumps({"models": len(specs), "hub_repos": sum(1 for s in specs if s.provenance.entry != "data/models.jsonl"),
                  "list_s": round(t1 - t0, 2), "estimate_s": round(t2 - t1, 2), "total_s": round(t2 - t0, 2),
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    configs = sorted((ROOT / "tests" / "data" / "configs").glob("*.json"))
    with HubServer() as hub, tempfile.TemporaryDirectory() as tmp:
        repos = []
        for i in range(n):
            cfg = json.loads(configs[i % len(configs)].read_text())
            repo = f"bench-org/{configs[i % len(configs)].stem}-ft{i}"
            hub.add(repo, {"tags": ["transformers", "safetensors", "text-generation", "conversational"],
                           "pipeline_tag": "text-generation", "library_name": "transformers",
                           "cardData": {"license": "apache-2.0"}}, {
                "config.json": json.dumps(cfg.get("config", cfg)).encode(),
                "tokenizer_config.json": json.dumps({"chat_template": TEMPLATES[i % len(TEMPLATES)],
                                                     "bos_token": "<s>", "eos_token": "</s>"}).encode(),
                "README.md": f"---\nlicense: apache-2.0\n---\n# {repo}\nAn instruction-tuned fine-tune.\n".encode()})
            repos.append(repo)
        env = {**os.environ, "HF_ENDPOINT": hub.url, "LLM_CATALOG_CACHE_DIR": str(Path(tmp) / "cache"),
               "HF_HOME": str(Path(tmp) / "hf")}
        env.pop("HF_HUB_OFFLINE", None)
        subprocess.run([sys.executable, "-m", "catalog", "refresh", *repos], env=env, check=True, cwd=ROOT,
                       capture_output=True)
        env["HF_HUB_OFFLINE"] = "1"
        runs = [json.loads(subprocess.run([sys.executable, "-c", MEASURE], env=env, check=True, cwd=ROOT,
                                          capture_output=True, text=True).stdout) for _ in range(2)]
    for label, r in zip(("first run", "later runs"), runs, strict=True):
        print(f"{label:11} {r['models']} models ({r['hub_repos']} cached Hub repos): listed {r['list_s']} s, "
              f"estimated {r['estimate_s']} s, total {r['total_s']} s, peak RSS {r['peak_rss_mib']} MiB")
    write_json("hub_cached.json", {"n": n, "runs": runs})


if __name__ == "__main__":
    main()
