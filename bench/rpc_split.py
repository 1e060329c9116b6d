"""Check the multi-device splits against real llama.cpp: RPC servers on this machine's loopback.

Starts one `ggml-rpc-server` per device on 127.0.0.1 (with no accelerator each exposes one CPU device),
writes a sparse synthetic GGUF (bench/synth_gguf.py), and runs `llama-completion --rpc ... -ngl all -ts N,M`
with the layer counts our split gives, the way `catalog plan` would for a head without a GPU. From
llama.cpp's own log it reads which device each layer went to and each device's model, KV and compute
buffers, and compares them with catalog.core.memory's per-GPU parts (weights, KV cache, compute buffer).
With `--split-mode tensor` it runs `-sm tensor` over the same devices (llama.cpp's meta device logs the
largest device's share of each buffer) and compares catalog.core.tensor_split.

The compute buffer here is the CPU backend's (the RPC servers have no GPU), which allocates the same graph
as CUDA but without CUDA's flash-attention extras, so it checks the graph's size, not CUDA's pool.

Usage: python bench/rpc_split.py BIN_DIR [--devices 2] [--ctx 4096] [--split-mode layer|tensor] [CONFIG ...]
Build BIN_DIR from llama.cpp (the sdist of llama-cpp-python 0.3.36 vendors 0c1e570):
  cmake -B build -DGGML_RPC=ON -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF && \
  cmake --build build --target ggml-rpc-server llama-completion
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from report import error_summary, write_json  # noqa: E402
from synth_gguf import write  # noqa: E402

from catalog.core import tensor_split as tsp  # noqa: E402
from catalog.core.arch import from_hf_config, hf_tensors  # noqa: E402
from catalog.core.fit import split_layers  # noqa: E402
from catalog.core.memory import RuntimeOptions, estimate, layout  # noqa: E402
from catalog.core.quantize import QuantContext, quantize  # noqa: E402

BUF_RE = re.compile(r"(\S+?)\s+(model|KV|compute) buffer size =\s+([\d.]+) MiB")
LAYER_RE = re.compile(r"layer\s+(\d+) assigned to device (\S+?),")
MIB = 2**20
CONFIGS = ("llama32_1b.json", "qwen25_7b.json", "gemma2_9b.json", "qwen3_30b_a3b.json")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(bindir: Path, cfg_path: Path, n_dev: int, ctx: int, mode: str, work: Path) -> dict:
    cfg = json.loads(cfg_path.read_text())
    cfg = cfg.get("config", cfg)
    a = from_hf_config(cfg)
    tensors = quantize(hf_tensors(a, "F16"), "Q4_K_M",
                       QuantContext(a.arch, a.n_layer, a.n_expert, a.n_gqa, a.arch == "llama" and a.n_layer == 80))
    gguf_path = work / f"{cfg_path.stem}.gguf"
    write(cfg, "Q4_K_M", gguf_path)
    opts = RuntimeOptions(ctx)
    lay = layout(tensors, a.n_layer)
    big = (1 << 40,) * n_dev  # the servers' memory is the machine's RAM: the split is what -ts says
    counts = split_layers(a, tensors, opts, big, lay=lay)
    ports = [free_port() for _ in range(n_dev)]
    servers = [subprocess.Popen([str(bindir / "ggml-rpc-server"), "--host", "127.0.0.1", "--port", str(p)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in ports]
    try:
        time.sleep(1.0)
        cmd = [str(bindir / "llama-completion"), "-m", str(gguf_path), "--rpc",
               ",".join(f"127.0.0.1:{p}" for p in ports), "-ngl", "all", "-c", str(ctx), "-fa", "on",
               "-n", "1", "-no-cnv", "-p", "hello", "-fit", "off", "-t", "2", "-v"]
        if mode == "tensor":
            cmd += ["-sm", "tensor"]
        else:
            cmd += ["-ts", ",".join(str(c) for c in counts)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    finally:
        for s in servers:
            s.kill()
            s.wait()
    log = proc.stdout + proc.stderr
    (work / f"{cfg_path.stem}.{mode}.log").write_text(log)
    got: dict[str, dict[str, float]] = {}
    for dev, kind, mib in BUF_RE.findall(log):
        got.setdefault(dev, {})[kind] = got.get(dev, {}).get(kind, 0.0) + float(mib)
    placed: dict[str, int] = {}
    for _, dev in LAYER_RE.findall(log):
        placed[dev] = placed.get(dev, 0) + 1
    # buffer names spell each server's own device index and its endpoint: order them as --rpc did
    rpc = sorted((d for d in got if d.startswith("RPC")),
                 key=lambda d: ports.index(int(d.rsplit(":", 1)[1].rstrip("]"))))
    row: dict = {"config": cfg_path.name, "arch": a.arch, "mode": mode, "devices": n_dev, "ctx": ctx,
                 "rc": proc.returncode, "llama_cpp": {d: got[d] for d in rpc}, "layers_placed": placed}
    if mode == "tensor":
        # the meta device logs one line per buffer: the largest device's share (ggml-backend-meta.cpp)
        row["llama_cpp"] = {"Meta() (largest device)": got.get("Meta()", {})}
        if tsp.unsupported_reason(a):
            row["ours"] = None
            return row
        w = tsp.weights_per_device(a, tensors, n_dev)
        kv = tsp.kv_per_device(a, tensors, opts, n_dev)
        row["ours"] = [{"model": max(w) / MIB, "KV": max(kv) / MIB, "compute": tsp.compute_per_device(a, opts) / MIB}]
        row["ours_per_device"] = [{"model": w[i] / MIB, "KV": kv[i] / MIB} for i in range(n_dev)]
        return row
    est = estimate(a, tensors, opts, None, True, lay=lay, gpu_shares=counts)
    row["ts"] = list(counts)
    row["ours"] = [{"layers": n, "model": p.weights_bytes / MIB, "KV": p.kv_cache_bytes / MIB,
                    "compute": p.compute_bytes / MIB} for n, p in zip(counts, est.per_gpu_parts, strict=True)]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bindir", type=Path)
    ap.add_argument("configs", nargs="*")
    ap.add_argument("--devices", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--split-mode", choices=["layer", "tensor"], default="layer")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs or CONFIGS:
            rows.append(run(args.bindir, HERE / "configs" / name, args.devices, args.ctx, args.split_mode, Path(tmp)))
    errors: dict[str, list[float]] = {"model": [], "KV": [], "compute": []}
    print(f"{'config':22} {'device':24} {'part':8} {'llama.cpp MiB':>14} {'ours MiB':>10} {'error %':>8}")
    for r in rows:
        if r["rc"] != 0 or not r["ours"]:
            print(f"{r['config']:22} llama.cpp exit {r['rc']}; ours: {'not planned' if r['ours'] is None else '-'}")
            continue
        for (dev, theirs), ours in zip(r["llama_cpp"].items(), r["ours"], strict=False):
            for part in ("model", "KV", "compute"):
                if part not in theirs:
                    continue
                err = (ours[part] - theirs[part]) / theirs[part] * 100 if theirs[part] else 0.0
                errors[part].append(err)
                print(f"{r['config']:22} {dev:24} {part:8} {theirs[part]:14.2f} {ours[part]:10.2f} {err:8.2f}")
        if r["mode"] == "layer":
            print(f"{'':22} layers by device: llama.cpp {r['layers_placed']}, -ts {r['ts']}")
    doc = {"rows": rows, "summary": {k: error_summary(v) for k, v in errors.items()}}
    print(json.dumps(doc["summary"]))
    print("wrote", write_json(f"rpc_split_{args.split_mode}.json", doc))


if __name__ == "__main__":
    main()
