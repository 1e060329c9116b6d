"""Our vision projector (mmproj) table vs llama.cpp's clip loader, on the CPU.

For each case it writes a synthetic mmproj GGUF from catalog.core.vision's table (the keys
convert_hf_to_gguf.py --mmproj writes), and a tiny text model of the right width, then calls
mtmd_init_from_file (llama-cpp-python, a bench environment outside the repo) with warm-up on, as
llama-server does, and reads clip's log: the loader checks every tensor's name and shape, `model size`
is the projector's weights and `compute buffer size` what clip reserves for its warm-up image.

Usage: /path/to/bench-venv/bin/python bench/vision_calibrate.py [OUT.json] [case names]
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

import gguf  # noqa: E402
from synth_gguf import finish_sparse, write  # noqa: E402

from catalog.core.arch import from_hf_config  # noqa: E402
from catalog.core.memory import MIB  # noqa: E402
from catalog.core.vision import Projector, projector  # noqa: E402

LOADER = """
import sys, llama_cpp as L
from llama_cpp import mtmd_cpp as M
L.llama_backend_init()
mp = L.llama_model_default_params()
m = L.llama_model_load_from_file(sys.argv[1].encode(), mp)
assert m, "text model failed to load"
p = M.mtmd_context_params_default()
p.use_gpu = False
p.warmup = True
p.n_threads = 2
c = M.mtmd_init_from_file(sys.argv[2].encode(), m, p)
assert c, "mmproj failed to load"
"""
CASES = ["qwen3vl_4b", "qwen3vl_30b_a3b", "qwen35_27b", "mistral_small_31_24b"]
SIZE = re.compile(r"model size:\s+([\d.]+) MiB")
COMPUTE = re.compile(r"(\w+) compute buffer size =\s+([\d.]+) MiB")


def write_mmproj(cfg: dict, proj: Projector, n_embd_text: int, out: Path) -> None:
    w = gguf.GGUFWriter(str(out), "clip")
    w.add_type(gguf.GGUFType.MMPROJ)
    w.add_file_type(1)
    w.add_clip_has_vision_encoder(True)
    w.add_vision_projection_dim(n_embd_text)
    v = cfg["vision_config"]
    p = int(v["patch_size"])
    w.add_vision_image_size(int(v.get("image_size") or round(int(v.get("num_position_embeddings") or 2304) ** 0.5) * p))
    w.add_vision_patch_size(p)
    w.add_vision_embedding_length(proj.width)
    w.add_vision_feed_forward_length(proj.ffn)
    w.add_vision_block_count(proj.layers)
    w.add_vision_head_count(proj.heads)
    w.add_vision_image_mean([0.5, 0.5, 0.5])
    w.add_vision_image_std([0.5, 0.5, 0.5])
    w.add_clip_projector_type(proj.kind)
    w.add_vision_attention_layernorm_eps(1e-6)
    if proj.kind == "qwen3vl_merger":
        w.add_vision_use_gelu(True)
        w.add_vision_spatial_merge_size(int(v.get("spatial_merge_size") or 2))
        idx = set(v.get("deepstack_visual_indexes") or ())
        if idx:
            w.add_vision_is_deepstack_layers([i in idx for i in range(proj.layers)])
    else:
        w.add_vision_use_silu(True)
        w.add_vision_spatial_merge_size(int(cfg.get("spatial_merge_size") or 2))
        w.add_rope_freq_base(float(v.get("rope_theta") or 10000.0))
    finish_sparse(w, list(proj.tensors), out)


def run(name: str, work: Path) -> dict:
    cfg = json.loads((ROOT / "bench" / "configs" / f"{name}.json").read_text())
    text = cfg.get("text_config", cfg)
    small = {**cfg, "text_config": {**text, "num_hidden_layers": 4}} if "text_config" in cfg else cfg
    if "layer_types" in small.get("text_config", {}):
        small["text_config"]["layer_types"] = text["layer_types"][:4]
    a = from_hf_config(small)
    proj = projector(cfg, a.n_embd)
    assert proj is not None, name
    model, mmproj = work / "text.gguf", work / "mmproj.gguf"
    write(small, "Q8_0", model)
    write_mmproj(cfg, proj, a.n_embd, mmproj)
    r = subprocess.run([sys.executable, "-c", LOADER, str(model), str(mmproj)], capture_output=True, text=True,
                       timeout=1200)
    clip = r.stderr[r.stderr.find("clip_"):] if "clip_" in r.stderr else r.stderr
    size = SIZE.search(clip)
    compute = [float(m.group(2)) for m in COMPUTE.finditer(clip)]
    return {"name": name, "kind": proj.kind, "rc": r.returncode, "warmup_patches": proj.warmup_patches,
            "pred_weights_mib": round(proj.weight_bytes / MIB, 2),
            "llama_weights_mib": float(size.group(1)) if size else None,
            "pred_compute_mib": round(proj.compute_bytes / MIB, 2),
            "llama_cpu_compute_mib": compute[-1] if compute else None,
            "error": r.stderr.strip().splitlines()[-1] if r.returncode else None}


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "out" / "vision_calibration.json"
    only = set(sys.argv[2:])
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name in CASES:
            if only and name not in only:
                continue
            row = run(name, Path(d))
            rows.append(row)
            print(json.dumps(row), flush=True)
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
