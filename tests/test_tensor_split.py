"""`-sm tensor`: the per-GPU slices llama.cpp cuts (src/llama-model.cpp llama_meta_device_get_split_state at
0c1e570), worked out by hand from its loop for the tables, and the plans built on them."""

from __future__ import annotations

import json
import random

import pytest

import catalog
from catalog.core import tensor_split as tsp
from catalog.core.memory import RuntimeOptions, estimate, kv_cache_by_layer
from catalog.core.model import repo_for, tensors_for, weight_layout
from catalog.service.plan import parse_host, tensor_plan


@pytest.mark.parametrize(("ne", "g", "n", "rot", "ts", "want"), [
    # Llama 3.1 8B's K/V: 8 KV heads x 128; granularity 128 (Q4_K attn_output: lcm(4 x 128, 256) / 4 GQA);
    # 3 GPUs: high = 1024*1/3 = 341 -> 256, 2048/3 = 682 -> 640; the last takes 1024 - 640: 2/3/3 heads
    (1024, 128, 3, 0, (), [256, 384, 384]),
    (1024, 128, 3, 1, (), [384, 256, 384]),  # the next layer: device 1 starts, device 0 takes the rest
    # one KV head over 2 GPUs: high = 64 rounds down to 0, so one GPU holds it and the next layer the other
    (128, 128, 2, 0, (), [0, 128]),
    (128, 128, 2, 1, (), [128, 0]),
    # -ts 3,1 on a Q4_K FFN (granularity lcm(256, 128)): int(14336 * 3 / 4) = 10752
    (14336, 256, 2, 0, (3.0, 1.0), [10752, 3584]),
    # -ts 3,1 rotated: the scan starts at device 1's share (1), int(14336 * 1 / 4) = 3584 goes to device 1
    (14336, 256, 2, 1, (3.0, 1.0), [10752, 3584]),
    # the output matrix by vocabulary rows, granularity 1, 4 GPUs: 32064, 64128, 96192 -> 32064 x 3 + 32064
    (128256, 1, 4, 0, (), [32064, 32064, 32064, 32064]),
])
def test_split_points(ne: int, g: int, n: int, rot: int, ts: tuple[float, ...], want: list[int]) -> None:
    assert tsp.shares(ne, g, n, rot, ts) == want


def test_split_points_cover_every_element_once() -> None:
    rng = random.Random(3)
    for _ in range(500):
        n = rng.randint(1, 8)
        g = rng.choice([1, 32, 128, 256, 512])
        ne = g * rng.randint(1, 200) + rng.choice([0, 0, 0, rng.randint(0, g - 1)])
        rot = rng.randint(0, n - 1)
        ts = tuple(float(rng.randint(0, 9)) for _ in range(n)) if rng.random() < 0.5 else ()
        got = tsp.shares(ne, g, n, rot, ts)
        assert sum(got) == ne and min(got) >= 0
        last = (n - 1 + rot) % n  # every device but the one taking the rest ends on a multiple of g
        assert all(x % g == 0 for d, x in enumerate(got) if d != last)


def _parts(model: str, quant: str) -> tuple:  # type: ignore[type-arg]
    spec = catalog.resolve(model)
    t = tensors_for(spec, quant, repo=repo_for(spec, quant))
    return spec, t, weight_layout(spec, t)


def test_llama_weights_split_and_norms_mirrored() -> None:
    spec, t, lay = _parts("llama3.1:8b", "Q4_K_M")
    mirrored = sum(x.nbytes for x in t if x.name.endswith("norm.weight") or x.name == "rope_freqs.weight")
    offloaded = sum(x.nbytes for x in t if x.name != "token_embd.weight")  # the embedding stays in RAM
    for n in (1, 2, 4):
        w = tsp.weights_per_device(spec.arch, t, n)
        assert sum(w) == offloaded + (n - 1) * mirrored  # each split tensor once, the norms on every GPU
        assert max(w) - min(w) < 2**20  # Llama's shapes divide evenly by 2 and 4
    # -ts 3,1: the first GPU holds about three quarters
    w = tsp.weights_per_device(spec.arch, t, 2, (3.0, 1.0))
    assert 2.9 < w[0] / w[1] < 3.1


def test_kv_cut_by_whole_heads_and_conserved() -> None:
    spec, t, _ = _parts("llama3.1:8b", "Q4_K_M")
    opts = RuntimeOptions(8192)
    total = sum(kv_cache_by_layer(spec.arch, opts))
    assert tsp.kv_per_device(spec.arch, t, opts, 2) == [total // 2] * 2  # 8 KV heads: 4 and 4 in every layer
    three = tsp.kv_per_device(spec.arch, t, opts, 3)
    assert sum(three) == total
    head = 2 * 128 * 2 * 8192  # one KV head of one layer: K and V, 128 wide, f16, 8192 cells
    assert all(x % head == 0 for x in three)  # whole heads only: 2/3/3 rotating over the 32 layers


def test_tied_output_is_copied_to_every_gpu() -> None:
    spec, t, lay = _parts("gemma2:27b", "Q5_K_M")
    assert lay.tied_copy_bytes > 0
    w1 = tsp.weights_per_device(spec.arch, t, 1)[0]
    w2 = tsp.weights_per_device(spec.arch, t, 2)
    assert sum(w2) - w1 >= lay.tied_copy_bytes  # the second GPU holds another whole embedding


def test_tensor_plan_for_two_cards() -> None:
    spec, t, lay = _parts("llama3.1:70b", "Q4_K_M")
    p = tensor_plan(spec, "Q4_K_M", 8192, parse_host("a:RTX 4090x2,64"))
    assert p.fits and len(p.devices) == 2
    assert all(d.bytes <= d.budget_bytes for d in p.devices)
    assert p.commands[0].endswith("-ngl all -fa on -np 1 -sm tensor")
    layer_mode = estimate(spec.arch, t, RuntimeOptions(8192), None, True, lay=lay, gpu_shares=(1, 1))
    # each GPU holds about half the weights and KV, but the whole compute buffer
    assert p.devices[0].weights_bytes < 0.51 * layer_mode.weights_gpu_bytes
    uneven = tensor_plan(spec, "Q4_K_M", 8192, parse_host("a:RTX 3090+RTX 4060 Ti 16GB,64"))
    assert " -ts 22.1,14.6" in uneven.commands[0] and not uneven.fits


def test_tensor_plan_refuses_what_llama_cpp_refuses() -> None:
    spec = catalog.resolve("deepseek-v2:16b")  # deepseek2: on llama.cpp's deny list (llm_arch_supports_sm_tensor)
    p = tensor_plan(spec, "Q4_K_M", 8192, parse_host("a:RTX 3090x2,64"))
    assert not p.fits and not p.commands and "deepseek2" in p.notes[-1]


def test_cli_split_modes(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("plan", "llama3.1:70b", "--host", "a:RTX 4090x2,64", "--json")
    assert code == 0, err
    engines = [p["engine"] for p in json.loads(out)["plans"]]
    assert engines == ["llama.cpp layer split", "llama.cpp tensor split", "vLLM + Ray"]
    vllm = json.loads(out)["plans"][2]["commands"]
    assert not any("ray start" in c for c in vllm)  # one host: vLLM needs no Ray cluster
    code, out, err = cli("plan", "llama3.1:70b", "--host", "a:RTX 4090x2,64", "--split-mode", "row")
    assert code == 2 and out == "" and err.count("\n") == 1 and "does not support split buffers" in err
    code, out, err = cli("plan", "llama3.1:70b", "--host", "a:RTX 4090,64", "--host", "b:RTX 4090,64",
                         "--split-mode", "tensor")
    assert code == 2 and err.count("\n") == 1


def test_matches_llama_cpps_meta_device() -> None:
    """Real llama.cpp `-sm tensor` over 2 and 3 RPC devices (tests/data/rpc_split_llamacpp.json, recorded by
    bench/rpc_split.py): the largest device's model, KV and compute buffers, as its meta device logs them."""
    from rpc_cases import cases, model

    from catalog.core.memory import MIB

    for case in cases("tensor_cases"):
        a, t = model(case["config"])
        opts = RuntimeOptions(case["ctx"])
        n = case["devices"]
        # ours pads a column-split quantized slice to 512 elements as CUDA's buffer type does (ggml-cuda.cu
        # get_alloc_size); these CPU-backed devices do not: a few KiB over Qwen2.5's 28 layers
        assert -0.006 < max(tsp.weights_per_device(a, t, n)) / MIB - case["model_mib"] < 0.02, case  # log: 2 decimals
        assert max(tsp.kv_per_device(a, t, opts, n)) / MIB == case["kv_mib"], case
        assert tsp.compute_per_device(a, opts) / MIB == case["compute_mib"], case
