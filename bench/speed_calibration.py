"""The decode-speed model against published llama.cpp runs: fit on half, report the other half.

Rows are bench/data/speed_published.json's `tg` rows (single stream, whole model on one device, each
with its source and quoted table line), mapped to a catalog model and a known GPU. For each, the
product's own reads per token (catalog.core.speed.decode_reads on the real tensor table, the KV cache
at the run's average depth) and layer count give

    seconds per token = bytes / (bandwidth x DECODE_EFFICIENCY) + layers x LAYER_OVERHEAD_S[vendor]

(the per-layer cost is the GPU family's: Apple's Metal pays several times what CUDA, ROCm and Vulkan pay
on a discrete card). The constants are fitted (least squares of log ratios, grid search) on the even rows only; the odd
rows are held out. Prompt processing (the `pp` rows, llama-bench pp512) the same way:

    prompt tokens a second = share[figure] x peak FLOP/s / (2 x active parameters)

with one share per kind of figure the known-GPU table gives (tensor with FP16 or FP32 accumulate, shader,
Apple's FP32), the geometric mean of the even rows' ratios; rows marked `exclude` (an unstable run,
2023 Metal kernels) are reported, not fitted. Prints the tables and writes bench/out/speed_calibration.json.

Usage: python bench/speed_calibration.py [--apply]   (--apply: report with the constants now in speed.py)
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import write_json  # noqa: E402

import catalog  # noqa: E402
from catalog.core import speed  # noqa: E402
from catalog.core.fit import gpu_budgets  # noqa: E402
from catalog.core.memory import estimate, runtime_options  # noqa: E402
from catalog.core.model import repo_for, tensors_for, weight_layout  # noqa: E402

DATA = ROOT / "bench" / "data" / "speed_published.json"


def reads(row: dict) -> tuple[float, int, float, str]:
    """(bytes one token reads on the GPU, repeating layers, GPU bandwidth, vendor) for a published row."""
    spec = catalog.resolve(row["model"], offline=True, runtimes=())
    hw = catalog.machine([row["gpu"]], ram_gib=512)
    tensors = tensors_for(spec, row["quant"], repo=repo_for(spec, row["quant"]))
    lay = weight_layout(spec, tensors)
    req = catalog.CheckRequest((row["quant"],), row["tokens"])
    budgets = gpu_budgets(hw.gpus, True)
    est = estimate(spec.arch, tensors, runtime_options(req, row["tokens"]), None, True, lay=lay, gpu_shares=budgets)
    gpu_read, cpu_read = speed.decode_reads(est, lay)
    return gpu_read + cpu_read, len(lay.layer_bytes), float(hw.gpus[0].bandwidth_bytes_per_s), hw.gpus[0].vendor


def predict(nbytes: float, layers: int, bw: float, eff: float, overhead_s: float) -> float:
    return 1.0 / (nbytes / (bw * eff) + layers * overhead_s)


def family(vendor: str) -> str:
    return speed.overhead_family(vendor)


def fit(cases: list[tuple[float, int, float, str, float]]) -> tuple[float, dict[str, float]]:
    """(efficiency, per-layer seconds by GPU family) minimising the squared log ratios over `cases`: the
    efficiency on a grid, each family's overhead its own best for it (the families share no row)."""
    best: tuple[float, float, dict[str, float]] = (math.inf, 0.0, {})
    fams = sorted({family(v) for _, _, _, v, _ in cases})
    for e in range(40, 101):
        eff = e / 100
        total, ovs = 0.0, {}
        for fam in fams:
            sub = [c for c in cases if family(c[3]) == fam]
            err, ov = min((sum(math.log(predict(b, n, bw, eff, o * 1e-6) / tps) ** 2 for b, n, bw, _, tps in sub),
                           o * 1e-6) for o in range(0, 301, 2))
            total += err
            ovs[fam] = ov
        best = min(best, (total, eff, ovs), key=lambda t: t[0])
    return best[1], best[2]


def table(title: str, rows: list[dict], eff: float, ovs: dict[str, float]) -> list[float]:
    print(f"\n{title}  (efficiency {eff:.2f}, " + ", ".join(f"{k} {v * 1e6:.0f} us a layer" for k, v in
                                                           sorted(ovs.items())) + ")")
    print(f"{'GPU':22} {'model':28} {'quant':9} {'backend':8} {'published':>9} {'estimate':>9} {'ratio':>6}")
    ratios = []
    for r in rows:
        est = predict(r["_bytes"], r["_layers"], r["_bw"], eff, ovs.get(family(r["_vendor"]), 0.0))
        ratio = est / r["tps"]
        ratios.append(ratio)
        r.setdefault("estimates", {})[title] = round(est, 1)
        print(f"{r['gpu']:22} {r['model'][:28]:28} {r['quant']:9} {r['backend'][:8]:8} {r['tps']:9.1f} {est:9.1f} "
              f"{ratio:6.2f}")
    print(f"median |ratio-1| {100 * statistics.median(abs(x - 1) for x in ratios):.1f} %, range "
          f"{min(ratios):.2f}-{max(ratios):.2f}, within 0.67-1.5x: {sum(0.67 <= x <= 1.5 for x in ratios)}/{len(ratios)}")
    return ratios


def prefill_case(row: dict) -> tuple[float, float | None, str | None]:
    """(active parameters, the GPU's peak FLOP/s, which figure) for a published pp row."""
    spec = catalog.resolve(row["model"], offline=True, runtimes=())
    lay = weight_layout(spec, tensors_for(spec, row["quant"], repo=repo_for(spec, row["quant"])))
    gpu = catalog.machine([row["gpu"]], ram_gib=512).gpus[0]
    return speed.active_parameters(spec.parameters, lay), gpu.flops, gpu.flops_kind


def prefill(fit_it: bool) -> dict:
    rows = [r for r in json.loads(DATA.read_text())["rows"] if r["test"] == "pp"]
    cases = []
    for i, r in enumerate(rows):
        params, flops, kind = prefill_case(r)
        if flops and kind:
            cases.append((i, r, kind, r["tps"] / (flops / (2 * params))))
    fitted = [c for c in cases if c[0] % 2 == 0 and not c[1].get("exclude")]
    shares = dict(speed.PREFILL_EFFICIENCY)
    if fit_it:
        for kind in {c[2] for c in fitted}:
            logs = [math.log(c[3]) for c in fitted if c[2] == kind]
            shares[kind] = round(math.exp(sum(logs) / len(logs)), 3)
    out: dict = {"shares": shares}
    for title, pick in (("in sample", lambda c: c[0] % 2 == 0), ("held out", lambda c: c[0] % 2 == 1)):
        print(f"\nprefill, {title}  (" + ", ".join(f"{k} {v:.2f}" for k, v in sorted(shares.items())) + ")")
        ratios = []
        for i, r, kind, got in cases:
            if not pick((i, r, kind, got)) or not shares.get(kind):
                continue
            ratio = shares[kind] / got
            flag = f"  (not fitted: {r['exclude'][:40]})" if r.get("exclude") else ""
            if not r.get("exclude"):
                ratios.append(ratio)
            print(f"{r['gpu']:22} {r['model'][:28]:28} {r['quant']:9} {kind:21} {r['tps']:9.1f} "
                  f"{r['tps'] * ratio:9.1f} {ratio:6.2f}{flag}")
            r.setdefault("estimates", {})[f"prefill {title}"] = round(r["tps"] * ratio, 1)
        if ratios:
            print(f"median |ratio-1| {100 * statistics.median(abs(x - 1) for x in ratios):.1f} %, range "
                  f"{min(ratios):.2f}-{max(ratios):.2f}, within 0.67-1.5x: "
                  f"{sum(0.67 <= x <= 1.5 for x in ratios)}/{len(ratios)}")
            out[title.replace(" ", "_")] = {"n": len(ratios), "median_abs_pct": round(
                100 * statistics.median(abs(x - 1) for x in ratios), 1), "min_ratio": round(min(ratios), 3),
                "max_ratio": round(max(ratios), 3), "within_0.67_1.5": sum(0.67 <= x <= 1.5 for x in ratios)}
    out["rows"] = [{**{k: v for k, v in r.items() if k != "quote"}, "figure": kind} for _, r, kind, _ in cases]
    return out


def main() -> None:
    rows = [r for r in json.loads(DATA.read_text())["rows"] if r["test"] == "tg"]
    for r in rows:
        r["_bytes"], r["_layers"], r["_bw"], r["_vendor"] = reads(r)
    in_sample, held_out = rows[0::2], rows[1::2]
    if "--apply" in sys.argv:
        eff, ovs = speed.DECODE_EFFICIENCY, dict(speed.LAYER_OVERHEAD_S)
    else:
        eff, ovs = fit([(r["_bytes"], r["_layers"], r["_bw"], r["_vendor"], r["tps"]) for r in in_sample])
    before = table("bandwidth only (0.75, no overhead)", rows, 0.75, {})
    fitted_in = table("in sample (even rows)", in_sample, eff, ovs)
    fitted_out = table("held out (odd rows)", held_out, eff, ovs)

    def summary(ratios: list[float]) -> dict:
        return {"n": len(ratios), "median_abs_pct": round(100 * statistics.median(abs(x - 1) for x in ratios), 1),
                "min_ratio": round(min(ratios), 3), "max_ratio": round(max(ratios), 3),
                "within_0.67_1.5": sum(0.67 <= x <= 1.5 for x in ratios)}

    pp = prefill("--apply" not in sys.argv)
    write_json("speed_calibration.json", {
        "prefill": pp,
        "efficiency": eff, "layer_overhead_s": ovs, "bandwidth_only": summary(before),
        "in_sample": summary(fitted_in), "held_out": summary(fitted_out),
        "rows": [{k: v for k, v in r.items() if not k.startswith("_") and k != "quote"} for r in rows]})


if __name__ == "__main__":
    main()
