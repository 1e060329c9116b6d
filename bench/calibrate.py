"""Predicted vs measured GPU memory for llama.cpp runs (bench/results/h100_*.json).

Each case was run by bench/gpu_measure.py on a CUDA machine: a synthetic GGUF
of a real architecture, full offload, and nvidia-smi's per-process memory at
its peak over a 600-token prompt. This prints predicted vs measured per case
and the median and worst relative error, and writes bench/out/calibration.json.

Usage: python bench/calibrate.py [RESULTS.json ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import error_summary, write_json  # noqa: E402

from catalog.core.arch import from_hf_config, hf_tensors  # noqa: E402
from catalog.core.memory import MIB, RuntimeOptions, estimate  # noqa: E402
from catalog.core.model import quant_context  # noqa: E402
from catalog.core.quantize import quantize  # noqa: E402


def rows(paths: list[Path]) -> list[dict]:
    out = []
    for path in paths:
        for case in json.loads(path.read_text()):
            if not case.get("smi_peak_mib") or case.get("rc"):
                out.append({**case, "status": "failed"})
                continue
            cfg = json.loads((ROOT / case["config"]).read_text())
            a = from_hf_config(cfg.get("config", cfg))
            t = quantize(hf_tensors(a), case["quant"], quant_context(a))
            kv = case.get("kv", "f16").upper()
            e = estimate(a, t, RuntimeOptions(case["ctx"], kv, kv, case["fa"], case["batch"], case["ubatch"]))
            pred = e.gpu_bytes / MIB
            meas = case["smi_peak_mib"]
            out.append({"name": case["name"], "quant": case["quant"], "ctx": case["ctx"], "fa": case["fa"],
                        "kv": case.get("kv", "f16"), "ubatch": case["ubatch"], "predicted_mib": round(pred, 1),
                        "measured_mib": meas, "error_pct": round((pred - meas) / meas * 100, 2),
                        "weights_mib": round(e.weights_gpu_bytes / MIB, 1), "kv_mib": round(e.kv_gpu_bytes / MIB, 1),
                        "compute_mib": round(e.compute_bytes / MIB, 1), "overhead_mib": round(e.overhead_bytes / MIB, 1),
                        "source": path.name, "status": "ok"})
    return out


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or sorted((ROOT / "bench" / "results").glob("h100_*.json"))
    res = rows(paths)
    ok = [r for r in res if r["status"] == "ok"]
    hdr = f"{'model':16} {'quant':9} {'ctx':>7} {'fa':>3} {'kv':>5} {'ub':>5} {'pred MiB':>9} {'smi MiB':>8} {'err %':>7}"
    print(hdr)
    for r in ok:
        print(f"{r['name']:16} {r['quant']:9} {r['ctx']:>7} {'on' if r['fa'] else 'off':>3} {r['kv']:>5} "
              f"{r['ubatch']:>5} {r['predicted_mib']:>9.1f} {r['measured_mib']:>8} {r['error_pct']:>+7.2f}")
    summary = {"cases": len(ok), "failed": len(res) - len(ok), **error_summary([r["error_pct"] for r in ok]),
               "under_predicted": sum(1 for r in ok if r["error_pct"] < 0)}
    print(json.dumps(summary))
    write_json("calibration.json", {"summary": summary, "cases": res})


if __name__ == "__main__":
    main()
