"""llama-server's own buffers (CPU build) vs the product's prediction for the same flags.

Starts the llama-server the README names (built from source outside the repo, CPU only), one
synthetic GGUF a case (bench/synth_gguf.py), with the flags of the case, reads its buffer lines
(`model`, `KV`, `RS`, `compute`, `output` buffer size) once the model is loaded, and stops it.
The KV/recurrent-state and output (logits) buffers are backend-independent and are compared exactly;
the CPU compute buffer is a different allocation from CUDA's and is reported beside the CUDA-side
prediction, with `pred_cpu_outputs_mib`, the logits rows each reserves: llama-server's one per slot
against the whole micro-batch, which is what decides small models' compute buffer.

Usage: python bench/server_calibrate.py LLAMA_SERVER OUT.json [case names]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synth_gguf import write  # noqa: E402

from catalog.core.arch import from_hf_config, hf_tensors  # noqa: E402
from catalog.core.memory import MIB, RuntimeOptions, estimate  # noqa: E402
from catalog.core.model import quant_context  # noqa: E402
from catalog.core.quantize import quantize  # noqa: E402
from catalog.sources.bundled import entries  # noqa: E402

BUF = re.compile(r"(\S+)\s+(model|KV|RS|compute|output) buffer size =\s+([\d.]+) MiB")
# (name, config: a bench/configs file or a catalog id, quant, ctx, flash attention, -ctk, -ctv, -np or None
#  [, (-b, -ub)]: llama-server's 2048 and 512 when left out)
CASES = [
    ("qwen25_05b_np_auto", "qwen2.5-0.5b-instruct", "Q4_K_M", 4096, True, "f16", "f16", None),
    ("qwen25_05b_np1", "qwen2.5-0.5b-instruct", "Q4_K_M", 4096, True, "f16", "f16", 1),
    ("llama32_1b_np2", "llama32_1b", "Q4_K_M", 8192, True, "f16", "f16", 2),
    ("llama31_8b_q8k_f16v_nofa", "llama31_8b", "Q4_K_M", 8192, False, "q8_0", "f16", 1),
    ("llama31_8b_q8_np_auto", "llama31_8b", "Q4_K_M", 16384, True, "q8_0", "q8_0", None),
    ("gemma2_9b_np_auto", "gemma2_9b", "Q4_K_M", 8192, True, "f16", "f16", None),
    ("gemma2_9b_np1", "gemma2_9b", "Q4_K_M", 8192, True, "f16", "f16", 1),
    ("gemma3_12b_np_auto", "gemma3_12b", "Q4_K_M", 32768, True, "f16", "f16", None),
    ("qwen3_30b_a3b_np3", "qwen3_30b_a3b", "Q4_K_M", 8192, True, "f16", "f16", 3),
    ("lfm2_1_2b_np_auto", "lfm2_1_2b", "Q4_K_M", 4096, True, "f16", "f16", None),
    ("qwen35_27b_np_auto", "qwen35_27b", "Q4_K_M", 4096, True, "f16", "f16", None),
    ("nemotron_super_49b_np1", "nemotron_super_49b", "Q4_K_M", 4096, True, "q4_0", "q4_0", 1),
    # Ollama 0.32.15's llama-server (issue 21): one slot, -b = -ub = num_batch, 1024 past 4096 tokens and 2048 past
    # 32768 (catalog/core/ollama.py); none of these settings was used to set anything
    ("ollama_llama31_8b_32k_ub1024", "llama31_8b", "Q4_K_M", 32768, True, "f16", "f16", 1, (1024, 1024)),
    ("ollama_llama31_8b_32k_ub512", "llama31_8b", "Q4_K_M", 32768, True, "f16", "f16", 1, (512, 512)),
    ("ollama_llama31_8b_128k_ub2048", "llama31_8b", "Q4_K_M", 131072, True, "f16", "f16", 1, (2048, 2048)),
    ("ollama_qwen25_7b_32k_ub1024", "qwen25_7b", "Q4_K_M", 32768, True, "f16", "f16", 1, (1024, 1024)),
    ("ollama_gemma2_9b_8k_ub1024", "gemma2_9b", "Q4_K_M", 8192, True, "f16", "f16", 1, (1024, 1024)),
    ("ollama_qwen3_30b_a3b_64k_ub2048", "qwen3_30b_a3b", "Q4_K_M", 65536, True, "f16", "f16", 1, (2048, 2048)),
    ("ollama_qwen25_05b_32k_ub1024", "qwen2.5-0.5b-instruct", "Q4_K_M", 32768, True, "f16", "f16", 1, (1024, 1024)),
]


def _config(src: str) -> dict:
    path = ROOT / "bench" / "configs" / f"{src}.json"
    if path.exists():
        cfg = json.loads(path.read_text())
        return dict(cfg.get("config", cfg))
    return dict(next(e for e in entries() if e["id"] == src)["config"])


def _serve(server: str, gguf: Path, case: tuple) -> str:
    _, _, _, ctx, fa, ctk, ctv, np_ = case[:8]
    b, ub = _batches(case)
    args = [server, "-m", str(gguf), "-c", str(ctx), "-fa", "on" if fa else "off", "-ctk", ctk, "-ctv", ctv,
            "--port", "18931", "--host", "127.0.0.1", "-t", "2", "--no-warmup", "--no-repack", "-lv", "4"]
    if np_ is not None:
        args += ["-np", str(np_)] + (["-kvu"] if np_ > 1 else [])
    if len(case) > 8:
        args += ["-b", str(b), "-ub", str(ub)]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out: list[str] = []
    deadline = time.time() + 600
    assert p.stdout is not None
    for line in p.stdout:
        out.append(line)
        # the buffer lines end with the worst-case graph's reservation; nothing is served from zero weights
        if "reserve took" in line or "error" in line.lower() or time.time() > deadline:
            break
    p.kill()
    p.wait()
    return "".join(out)


def _batches(case: tuple) -> tuple[int, int]:
    return case[8] if len(case) > 8 else (2048, 512)


def run(server: str, case: tuple, work: Path) -> dict:
    name, src, quant, ctx, fa, ctk, ctv, np_ = case[:8]
    b, ub = _batches(case)
    cfg = _config(src)
    g = work / "m.gguf"
    write(cfg, quant, g)
    log = _serve(server, g, case)
    got: dict[str, float] = {}
    for m in BUF.finditer(log):
        part = "KV" if m.group(2) == "RS" else m.group(2)
        got[part] = round(got.get(part, 0.0) + float(m.group(3)), 2)
    a = from_hf_config(cfg)
    t = quantize(hf_tensors(a), quant, quant_context(a))
    slots = np_ or 4  # llama-server's auto: 4 slots over one unified cache
    opts = RuntimeOptions(ctx, ctk.upper(), ctv.upper(), fa, b, ub, slots, n_outputs=slots)
    cpu = estimate(a, t, opts, has_gpu=False)
    gpu = estimate(a, t, opts)
    return {"name": name, "quant": quant, "ctx": ctx, "fa": fa, "ctk": ctk, "ctv": ctv, "np": np_, "b": b, "ub": ub,
            "pred_kv_mib": round(cpu.kv_cache_bytes / MIB, 2), "llama_kv_mib": got.get("KV"),
            "pred_output_mib": round(cpu.output_bytes / MIB, 2), "llama_output_mib": got.get("output"),
            "pred_cuda_compute_mib": round(gpu.compute_bytes / MIB, 2), "llama_cpu_compute_mib": got.get("compute"),
            "loaded": "compute" in got}


def main() -> None:
    server, out = sys.argv[1], Path(sys.argv[2])
    only = set(sys.argv[3:])
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for case in CASES:
            if only and case[0] not in only:
                continue
            r = run(server, case, Path(d))
            rows.append(r)
            print(json.dumps(r), flush=True)
    out.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    same = sum(1 for r in rows if r["pred_kv_mib"] == r["llama_kv_mib"] and r["pred_output_mib"] == r["llama_output_mib"])
    print(f"KV (+ recurrent state) and output buffers equal to llama-server's in {same} of {len(rows)} cases")


if __name__ == "__main__":
    main()
