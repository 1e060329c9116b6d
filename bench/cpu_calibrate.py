"""Our predicted model, KV and compute buffer sizes vs llama.cpp's own, on the CPU.

Uses llama-cpp-python (which builds llama.cpp from source) from a bench
environment outside the repo. For each case it writes a synthetic GGUF
(bench/synth_gguf.py), loads it with mmap and no CPU repacking, creates a
context, and parses llama.cpp's log lines: `CPU_Mapped model buffer size`,
`KV buffer size`, `CPU compute buffer size`. The CPU compute buffer is not
the CUDA one (different graph splits); it is reported beside our CUDA-side
prediction for reference, and the GPU figures come from bench/gpu_measure.py.

Usage: /path/to/bench-venv/bin/python bench/cpu_calibrate.py [OUT.json]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synth_gguf import write  # noqa: E402

from catalog.core.arch import from_hf_config, hf_tensors  # noqa: E402
from catalog.core.memory import MIB, RuntimeOptions, estimate, layout  # noqa: E402
from catalog.core.model import quant_context  # noqa: E402
from catalog.core.quantize import quantize  # noqa: E402

LOADER = """
import sys, llama_cpp as L
path, ctx, fa, kv, ub, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
L.llama_backend_init()
mp = L.llama_model_default_params()
mp.use_extra_bufts = False
m = L.llama_model_load_from_file(path.encode(), mp)
assert m, "model failed to load"
cp = L.llama_context_default_params()
cp.n_ctx, cp.n_batch, cp.n_ubatch, cp.n_seq_max = ctx, b, ub, 1
cp.flash_attn_type = fa
cp.swa_full = False  # llama-server and llama-cli default; the C API defaults to a full-size SWA cache
cp.type_k = cp.type_v = kv
c = L.llama_init_from_model(m, cp)
assert c, "context failed"
"""
KV_IDS = {"f16": 1, "q8_0": 8, "q4_0": 2}
# a recurrent model's state is its own buffer (`RS buffer size`); it is counted with the KV cache here
BUF = re.compile(r"(CPU(?:_Mapped)?)\s+(model|KV|RS|compute) buffer size =\s+([\d.]+) MiB")

CASES = [
    ("llama31_8b", "Q4_K_M", 4096, True, "f16"),
    ("llama31_8b", "Q4_K_M", 8192, True, "q8_0"),
    ("llama31_8b", "Q8_0", 4096, False, "f16"),
    ("llama32_1b", "Q4_K_M", 8192, True, "f16"),
    ("qwen25_7b", "Q4_K_M", 8192, True, "f16"),
    ("gemma2_9b", "Q4_K_M", 8192, True, "f16"),
    ("phi3_mini_4k", "Q4_K_M", 4096, True, "f16"),
    ("mistral_7b_v03", "Q4_K_M", 8192, True, "f16"),
    ("qwen3_8b", "Q4_K_M", 8192, True, "q4_0"),
    ("gemma3_12b", "Q4_K_M", 32768, True, "f16"),
    ("qwen3_30b_a3b", "Q4_K_M", 8192, True, "f16"),
    ("mixtral_8x7b", "Q4_K_M", 8192, True, "f16"),
    ("deepseek_v2_lite", "Q4_K_M", 8192, True, "f16"),
    ("gpt_oss_20b", "MXFP4_MOE", 8192, True, "f16"),
    ("olmo2_7b", "Q4_K_M", 4096, True, "f16"),
    ("internlm2_5_7b", "Q4_K_M", 4096, True, "f16"),
    ("phi35_mini", "Q4_K_M", 4096, True, "f16"),
    ("synthetic_granite", "Q4_K_M", 4096, True, "f16"),
    ("synthetic_command_r", "Q4_K_M", 4096, True, "f16"),
    ("phi2", "Q4_K_M", 2048, True, "f16"),
    ("falcon_7b", "Q4_K_M", 2048, True, "f16"),
    ("gptj_6b", "Q4_K_M", 2048, True, "f16"),
    ("synthetic_llama4", "Q4_K_M", 16384, True, "f16"),
    ("llama4_scout", "Q4_K_M", 16384, True, "f16"),
    ("qwen35_27b", "Q4_K_M", 4096, True, "f16"),
    ("qwen35_35b_a3b", "Q4_K_M", 4096, True, "f16"),
    ("nemotron3_nano_30b_a3b", "Q4_K_M", 4096, True, "f16"),
    ("nemotron_h_56b", "Q4_K_M", 4096, True, "f16"),
    ("synthetic_granitehybrid", "Q4_K_M", 4096, True, "f16"),
    ("synthetic_granitehybrid_moe", "Q4_K_M", 4096, True, "f16"),
    ("synthetic_lfm2", "Q4_K_M", 4096, True, "f16"),
    ("synthetic_qwen3next", "Q4_K_M", 4096, True, "f16"),
    ("qwen3next_80b_a3b", "Q4_K_M", 4096, True, "f16"),
    ("gemma_4_26b_a4b", "Q4_K_M", 8192, True, "f16"),
    ("gemma_4_31b_it", "Q4_K_M", 8192, True, "f16"),
    ("mistral_small_31_24b", "Q4_K_M", 4096, True, "f16"),
    ("smollm3_3b", "Q4_K_M", 4096, True, "f16"),
    ("ernie45_21b_a3b", "Q4_K_M", 4096, True, "f16"),
    ("minimax_m27", "Q4_K_M", 4096, True, "f16"),
    ("kimi_k25", "Q4_K_M", 4096, True, "f16"),
    ("lfm2_1_2b", "Q4_K_M", 4096, True, "f16"),
    ("falcon_40b", "Q4_K_M", 2048, True, "f16"),
    ("qwen3vl_4b", "Q4_K_M", 4096, True, "f16"),
    ("qwen3vl_30b_a3b", "Q4_K_M", 4096, True, "f16"),
    ("nemotron_super_49b", "Q4_K_M", 4096, True, "f16"),
    ("glm47", "Q4_K_M", 4096, True, "f16"),
    ("intellect3_glm45air", "Q4_K_M", 4096, True, "f16"),
]


def run(case: tuple, work: Path) -> dict:
    name, quant, ctx, fa, kv = case
    cfg = json.loads((ROOT / "bench" / "configs" / f"{name}.json").read_text())
    cfg = cfg.get("config", cfg)
    g = work / "m.gguf"
    write(cfg, quant, g)
    r = subprocess.run([sys.executable, "-c", LOADER, str(g), str(ctx), str(int(fa)), str(KV_IDS[kv]), "512", "2048"],
                       capture_output=True, text=True, timeout=600)
    got: dict[str, float] = {}
    for m in BUF.finditer(r.stderr):
        part = "KV" if m.group(2) == "RS" else m.group(2)
        got[part] = round(got.get(part, 0.0) + float(m.group(3)), 2)
    a = from_hf_config(cfg)
    t = quantize(hf_tensors(a), quant, quant_context(a))
    e = estimate(a, t, RuntimeOptions(ctx, kv.upper(), kv.upper(), fa), has_gpu=False)
    lay = layout(t, a.n_layer)
    return {"name": name, "quant": quant, "ctx": ctx, "fa": fa, "kv": kv, "rc": r.returncode,
            "pred_model_mib": round(lay.total_bytes / MIB, 2), "llama_model_mib": got.get("model"),
            "pred_kv_mib": round(e.kv_cache_bytes / MIB, 2), "llama_kv_mib": got.get("KV"),
            "pred_cuda_compute_mib": round(estimate(a, t, RuntimeOptions(ctx, kv.upper(), kv.upper(), fa)).compute_bytes
                                           / MIB, 2),
            "llama_cpu_compute_mib": got.get("compute"),
            "error": r.stderr.strip().splitlines()[-1] if r.returncode else None}


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "out" / "cpu_calibration.json"
    out.parent.mkdir(exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        only = set(sys.argv[2:])  # case names to run (all without)
        for case in CASES:
            if only and case[0] not in only:
                continue
            r = run(case, Path(d))
            rows.append(r)
            print(json.dumps(r), flush=True)
    out.write_text(json.dumps(rows, indent=1) + "\n")
    exact = sum(1 for r in rows if r["pred_model_mib"] == r["llama_model_mib"] and r["pred_kv_mib"] == r["llama_kv_mib"])
    print(f"model and KV buffers equal to llama.cpp's (to 0.01 MiB) in {exact} of {len(rows)} cases")


if __name__ == "__main__":
    main()
