"""The memory core: exact KV and weight bytes, compute buffers, offload split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_quants import LLAMA31_8B

from catalog.core.arch import Architecture, from_hf_config, hf_tensors
from catalog.core.fit import fit_layers
from catalog.core.memory import MIB, RuntimeOptions, estimate, kv_cache_by_layer, kv_cells
from catalog.core.model import quant_context
from catalog.core.quantize import quantize

ROOT = Path(__file__).resolve().parent.parent


def llama8b() -> Architecture:
    return from_hf_config(LLAMA31_8B)


@pytest.mark.parametrize(("ctx", "kv", "mib"), [
    # llama.cpp (0c1e570) logs "llama_kv_cache: size = 512.00 MiB (4096 cells, 32 layers)" for Llama 3.1 8B f16
    (4096, "F16", 512.0),
    (8192, "F16", 1024.0),
    (4000, "F16", 512.0),  # padded to 4096 cells
    (8192, "Q8_0", 544.0),  # 34 bytes per 32 elements
    (8192, "Q4_0", 288.0),  # 18 bytes per 32 elements
    (131072, "F16", 16384.0),
])
def test_kv_cache_llama(ctx: int, kv: str, mib: float) -> None:
    assert sum(kv_cache_by_layer(llama8b(), RuntimeOptions(ctx, kv, kv))) == mib * MIB


def test_sliding_window_layers_hold_their_window() -> None:
    # gemma-2-9b: 42 layers, every other one local with a 4096 window; 8 KV heads of 256
    cfg = {"architectures": ["Gemma2ForCausalLM"], "hidden_size": 3584, "intermediate_size": 14336,
           "num_attention_heads": 16, "num_hidden_layers": 42, "num_key_value_heads": 8, "head_dim": 256,
           "vocab_size": 256000, "max_position_embeddings": 8192, "sliding_window": 4096}
    a = from_hf_config(cfg)
    assert a.swa_layers[:4] == (True, False, True, False)
    opts = RuntimeOptions(32768)
    # local layers: PAD256(min(32768, 4096 + 512)) = 4608 cells; global ones the whole 32768
    assert kv_cells(a, opts, 0) == 4608 and kv_cells(a, opts, 1) == 32768
    per_cell = 2 * 8 * 256 * 2  # K and V, 8 heads x 256, f16
    assert sum(kv_cache_by_layer(a, opts)) == 21 * per_cell * (4608 + 32768)
    assert kv_cells(a, opts._replace(swa_full=True), 0) == 32768


def test_mla_caches_one_latent_and_no_v() -> None:
    # DeepSeek-V2-Lite: kv_lora_rank 512 + rope 64 = 576 elements per cell and layer, K only
    cfg = {"architectures": ["DeepseekV2ForCausalLM"], "hidden_size": 2048, "intermediate_size": 10944,
           "num_attention_heads": 16, "num_hidden_layers": 27, "num_key_value_heads": 16, "vocab_size": 102400,
           "max_position_embeddings": 163840, "kv_lora_rank": 512, "q_lora_rank": None, "qk_rope_head_dim": 64,
           "qk_nope_head_dim": 128, "v_head_dim": 128, "n_routed_experts": 64, "num_experts_per_tok": 6,
           "moe_intermediate_size": 1408, "n_shared_experts": 2, "first_k_dense_replace": 1}
    a = from_hf_config(cfg)
    assert sum(kv_cache_by_layer(a, RuntimeOptions(4096))) == 27 * 576 * 4096 * 2


def test_full_offload_parts_llama_8b_q4_k_m() -> None:
    a = llama8b()
    t = quantize(hf_tensors(a), "Q4_K_M", quant_context(a))
    e = estimate(a, t, RuntimeOptions(8192))
    # llama.cpp logs "CUDA0 model buffer size = 4403.49 MiB": all but the token embedding
    assert round(e.weights_gpu_bytes / MIB, 2) == 4403.49
    assert e.kv_gpu_bytes == 1024 * MIB
    # the flash-attention compute buffer is the output stage: 512 x (128256 + 4096) x 4 bytes = 258.5 MiB
    assert e.compute_bytes == 512 * (128256 + 4096) * 4
    assert e.gpu_bytes == e.weights_gpu_bytes + e.kv_gpu_bytes + e.compute_bytes + e.overhead_bytes
    assert e.gpu_layers == e.total_layers == 33


def test_partial_offload_moves_the_last_layers() -> None:
    a = llama8b()
    t = quantize(hf_tensors(a), "Q4_K_M", quant_context(a))
    opts = RuntimeOptions(8192)
    full = estimate(a, t, opts)
    none = estimate(a, t, opts, 0)
    assert none.weights_gpu_bytes == 0 and none.kv_gpu_bytes == 0
    only_output = estimate(a, t, opts, 1)
    assert only_output.kv_gpu_bytes == 0 and only_output.weights_gpu_bytes > 0
    half = estimate(a, t, opts, 17)
    assert half.kv_gpu_bytes == 16 * 32 * MIB
    # every byte of weights and KV is somewhere, for every split
    for ngl in range(34):
        e = estimate(a, t, opts, ngl)
        assert e.weights_gpu_bytes <= full.weights_gpu_bytes
        w_cpu = e.cpu_bytes - (e.kv_cache_bytes - e.kv_gpu_bytes) - e.compute_host_bytes - e.output_bytes
        assert w_cpu + e.weights_gpu_bytes == e.weights_bytes
    budget = full.gpu_bytes - 1
    ngl = fit_layers(a, t, opts, budget)
    assert ngl == 32
    assert estimate(a, t, opts, ngl).gpu_bytes <= budget < estimate(a, t, opts, ngl + 1).gpu_bytes


def test_no_gpu_puts_everything_in_ram() -> None:
    a = llama8b()
    t = quantize(hf_tensors(a), "Q4_K_M", quant_context(a))
    e = estimate(a, t, RuntimeOptions(4096), has_gpu=False)
    assert e.gpu_bytes == 0 and e.gpu_layers == 0
    assert e.cpu_bytes >= e.weights_bytes + e.kv_cache_bytes


def test_predictions_match_llama_cpp_on_an_h100() -> None:
    """Full-offload GPU memory vs nvidia-smi for llama.cpp runs recorded in bench/results."""
    errors = []
    for path in sorted((ROOT / "bench" / "results").glob("h100_*.json")):
        for case in json.loads(path.read_text()):
            if not case.get("smi_peak_mib") or case.get("rc"):
                continue
            cfg = json.loads((ROOT / case["config"]).read_text())
            a = from_hf_config(cfg.get("config", cfg))
            t = quantize(hf_tensors(a), case["quant"], quant_context(a))
            kv = case.get("kv", "f16").upper()
            opts = RuntimeOptions(case["ctx"], kv, kv, case["fa"], case["batch"], case["ubatch"])
            pred = estimate(a, t, opts).gpu_bytes / MIB
            errors.append(abs(pred - case["smi_peak_mib"]) / case["smi_peak_mib"])
    assert len(errors) >= 15
    errors.sort()
    assert errors[len(errors) // 2] < 0.02
    assert errors[-1] < 0.05


def test_layer_split_across_gpus_follows_free_memory() -> None:
    from catalog.core.memory import device_of_layers

    where = device_of_layers(32, 33, (12, 12))
    # llama.cpp: device = upper_bound(cumulative shares, (il - i_gpu_start) / n_offloaded)
    assert where.count(0) == 17 and where.count(1) == 16  # 33 layers incl. output; layer 16 is at 16/33 < 0.5
    assert where[-1] == 1 and where[:17] == (0,) * 17
    uneven = device_of_layers(32, 33, (24, 8))
    assert uneven.count(0) == 25 and uneven.count(1) == 8
    partial = device_of_layers(32, 20, (1, 1))
    assert partial[:13] == (-1,) * 13 and partial.count(0) == 10 and partial.count(1) == 10


def test_every_layer_on_exactly_one_device_for_any_split() -> None:
    import random

    from catalog.core.memory import device_of_layers

    rng = random.Random(7)
    for _ in range(300):
        n = rng.randint(1, 96)
        ngl = rng.randint(0, n + 1)
        shares = tuple(rng.randint(1, 80) for _ in range(rng.randint(1, 4)))
        where = device_of_layers(n, ngl, shares)
        assert len(where) == n + 1
        assert sum(1 for d in where if d >= 0) == ngl
        on_gpu = [d for d in where if d >= 0]
        assert on_gpu == sorted(on_gpu)  # contiguous blocks, in device order


def test_two_gpus_each_pay_context_and_compute() -> None:
    a = llama8b()
    t = quantize(hf_tensors(a), "F16", quant_context(a))
    opts = RuntimeOptions(4096)
    one = estimate(a, t, opts)
    two = estimate(a, t, opts, gpu_shares=(12 << 30, 12 << 30))
    assert len(two.per_gpu_bytes) == 2 and sum(two.per_gpu_layers) == 33
    assert two.weights_gpu_bytes == one.weights_gpu_bytes and two.kv_gpu_bytes == one.kv_gpu_bytes
    assert two.overhead_bytes == 2 * one.overhead_bytes
    assert two.gpu_bytes > one.gpu_bytes and two.gpu_bytes == sum(two.per_gpu_bytes)
    # the device holding the output layer carries the logits stage, the other only its layers' stages
    assert two.compute_bytes < 2 * one.compute_bytes


def test_moe_experts_in_ram() -> None:
    from catalog.core.fit import fit_cpu_moe

    cfg = json.loads((ROOT / "bench" / "configs" / "qwen3_30b_a3b.json").read_text())
    a = from_hf_config(cfg)
    t = quantize(hf_tensors(a), "Q4_K_M", quant_context(a))
    opts = RuntimeOptions(8192)
    full = estimate(a, t, opts)
    budget = full.gpu_bytes // 2
    n = fit_cpu_moe(a, t, opts, (budget,))
    assert n is not None and 0 < n < a.n_layer
    e = estimate(a, t, opts, cpu_moe_layers=n)
    assert e.gpu_bytes <= budget < estimate(a, t, opts, cpu_moe_layers=n - 1).gpu_bytes
    assert e.gpu_layers == a.n_layer + 1 and e.kv_gpu_bytes == full.kv_gpu_bytes  # attention stays on the GPU
    assert fit_cpu_moe(llama8b(), t, opts, (budget,)) is None  # dense models have no experts to keep back


def test_layer_split_matches_llama_cpp_over_rpc() -> None:
    """Each device's model, KV and compute buffers against real llama.cpp's own log lines for a layer split
    over 2-3 RPC devices (tests/data/rpc_split_llamacpp.json, recorded by bench/rpc_split.py). The compute
    buffers include pipeline parallelism's four copies of each device's inputs (hidden state and mask)."""
    from rpc_cases import cases, model

    for case in cases("cases"):
        a, t = model(case["config"])
        est = estimate(a, t, RuntimeOptions(case["ctx"]), case.get("ngl"), gpu_shares=tuple(case["ts"]))
        assert list(est.per_gpu_layers) == case["ts"]
        for part, theirs in zip(est.per_gpu_parts, zip(case["model_mib"], case["kv_mib"], case["compute_mib"],
                                                        strict=True), strict=True):
            model_mib, kv, compute = theirs
            assert abs(part.weights_bytes / MIB - model_mib) < 0.006, case["config"]  # the log rounds to 0.01
            assert part.kv_cache_bytes / MIB == kv
            # within 1 % under and 7 % over (a partial offload's first device: 64.00 MiB for llama.cpp's 60.01)
            assert -0.01 < (part.compute_bytes / MIB - compute) / compute < 0.07, case


def test_fit_layers_finds_the_most_layers_that_fit_one_gpu_as_a_scan_would() -> None:
    """The one-GPU search guesses where the bytes meet the budget instead of halving: on 40 catalog models at
    three quantizations and random budgets it answers exactly what a scan over every -ngl answers (the most
    layers whose estimate fits, every smaller count fitting too), with --n-cpu-moe for the MoE ones."""
    import random

    from catalog.core.fit import fit_layers
    from catalog.core.memory import estimate, runtime_options
    from catalog.core.model import layout_for
    from catalog.core.options import CheckRequest
    from catalog.sources.bundled import all_specs

    rng = random.Random(21)
    specs = all_specs()
    checked = 0
    for s in rng.sample(specs, 40):
        for q in ("Q8_0", "Q4_K_M", "Q2_K"):
            lay = layout_for(s, q)
            opts = runtime_options(CheckRequest(ctx=8192), 8192)
            full = estimate(s.arch, [], opts, None, True, lay=lay).gpu_bytes
            budget = (int(full * rng.uniform(0.02, 1.05)),)
            moe = 2 if s.arch.n_expert else 0
            fits = [estimate(s.arch, [], opts, n, True, lay=lay, gpu_shares=budget, cpu_moe_layers=moe).fits(budget)
                    for n in range(1, s.arch.n_layer + 2)]
            scan = next((n for n, ok in enumerate(fits) if not ok), len(fits))  # fits[k] is -ngl k + 1
            assert fit_layers(s.arch, [], opts, budget, lay=lay, cpu_moe_layers=moe) == scan, (s.id, q, budget)
            checked += 1
    assert checked == 120
