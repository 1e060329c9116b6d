"""Estimated decode speed vs published llama.cpp generation speeds.

Each published figure is single-stream token generation with the whole model
on one GPU, cited beside it. The estimate is catalog.service.check's: 75 % of the
GPU's memory bandwidth (data/gpus.jsonl) over the bytes read per token
(active weights plus the KV cache at half the context). Prints a table and
writes bench/out/decode_speed.json.

Usage: python bench/decode_speed.py
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import write_json  # noqa: E402

import catalog  # noqa: E402

PUBLISHED = [
    {"gpu": "RTX 4090", "config": "llama2_7b", "quant": "F16", "ctx": 512, "tps": 61.03,
     "source": "ggml-org/llama.cpp PR #4766 (2024-01-10, ggerganov): llama-bench, llama 7B F16 tg 128 61.03 ± 0.07"},
    {"gpu": "RTX 4090", "config": "llama2_7b", "quant": "Q8_0", "ctx": 512, "tps": 98.13,
     "source": "ggml-org/llama.cpp PR #4766 (2024-01-10, ggerganov): llama-bench, llama 7B Q8_0 tg 128 98.13 ± 0.07"},
    {"gpu": "RTX 3080 10GB", "config": "llama31_8b", "quant": "Q4_K_M", "ctx": 512, "tps": 111.95,
     "source": "dmatora/LLM-inference-speed-benchmarks issue #12 (2024-08-26): Llama 3.1 8B Q4_K_M, RTX 3080, "
               "llama.cpp 93bc3839, token generation 111.95 ± 2.45"},
    {"gpu": "RTX 4090", "config": "llama31_8b", "quant": "Q6_K", "ctx": 4096, "tps": 93.0,
     "source": "dmatora/LLM-inference-speed-benchmarks issue #10 (2024-05-27): llama3 8b Q6, RTX 4090, llama.cpp "
               "server, generation speed 93 tokens per second"},
    {"gpu": "RTX 5090", "config": "qwen3_8b", "quant": "Q4_K_M", "ctx": 4096, "tps": 221.7,
     "source": "CambrianTech/continuum PR #1627 (2026-06-15): qwen3-8B Q4_K_M fully in RTX 5090 VRAM, 221.7 tok/s "
               "generation (llama.cpp CUDA via Docker Model Runner, WSL2)"},
]


def main() -> None:
    rows = []
    for p in PUBLISHED:
        spec = catalog.resolve(str(ROOT / "bench" / "configs" / f"{p['config']}.json"), runtimes=())
        res = catalog.check(spec, catalog.CheckRequest((p["quant"],), p["ctx"]), catalog.machine([p["gpu"]], ram_gib=64))
        est = res.rows[0].tokens_per_second
        rows.append({**p, "estimate": est, "ratio": round(est / p["tps"], 2) if est else None})
        print(f"{p['gpu']:14} {p['config']:11} {p['quant']:7} published {p['tps']:7.1f}  estimate {est:7.1f}  "
              f"ratio {est / p['tps']:.2f}")
    write_json("decode_speed.json", rows)


if __name__ == "__main__":
    main()
