"""`catalog plan`: host parsing, split tables, and for many host sets the properties every plan must
keep: each layer placed exactly once, and a plan that says it fits keeps every device in budget."""

from __future__ import annotations

import itertools
import json

import pytest
from llama_split import llama_cpp_layer_split

import catalog
from catalog.core.plan_rpc import rpc_link_seconds, rpc_plan
from catalog.core.plan_tensor import tensor_plan
from catalog.core.plan_vllm import vllm_plan
from catalog.errors import UsageError
from catalog.service.plan import parse_host


def test_host_syntax() -> None:
    h = parse_host("box1:RTX 4090x2,64")
    assert h.name == "box1" and [g.name for g in h.gpus] == ["NVIDIA GeForce RTX 4090 24GB"] * 2
    assert h.ram_bytes == 64 * 2**30
    mixed = parse_host("b:RTX 4090+RTX 3090")
    assert len(mixed.gpus) == 2 and "3090" in mixed.gpus[1].name
    with pytest.raises(UsageError):
        parse_host("no-colon")


@pytest.mark.parametrize(("model", "hosts", "fits", "order", "layers"), [
    # Llama 3.1 70B Q4_K_M (~40 GiB) over two 24 GB cards in one box and one in another: the worker's GPU
    # comes first (llama.cpp lists RPC devices before local ones), the head's two take the last layers
    ("llama3.1:70b", ["a:RTX 4090x2,64", "b:RTX 3090,32"], True, [("b", "RPC0"), ("a", "CUDA0"), ("a", "CUDA1")],
     [27, 27, 27]),
    # the same on one 12 GB card does not fit
    ("llama3.1:70b", ["a:RTX 3060 12GB,32"], False, [("a", "CUDA0")], [81]),
    # 8B on two machines with uneven cards: the larger card takes more layers
    ("llama3.1:8b", ["a:RTX 4090,32", "b:RTX 3060 12GB,16"], True, [("b", "RPC0"), ("a", "CUDA0")], [11, 22]),
    # two workers with two GPUs each and a head with one: RPC devices numbered across servers in --rpc order
    ("llama3.1:70b", ["h:RTX 4060,32", "w1:RTX 3060 12GBx2,32", "w2:RTX 3060 12GBx2,32"], True,
     [("w1", "RPC0"), ("w1", "RPC1"), ("w2", "RPC2"), ("w2", "RPC3"), ("h", "CUDA0")], None),
])
def test_rpc_splits(model: str, hosts: list[str], fits: bool, order: list[tuple[str, str]],
                    layers: list[int] | None) -> None:
    spec = catalog.resolve(model)
    p = rpc_plan(spec, "Q4_K_M", 8192, [parse_host(h) for h in hosts])
    assert p.fits is fits
    assert [(d.host, d.device) for d in p.devices] == order
    got = [d.layers for d in p.devices]
    if layers is not None:
        assert got == layers
    workers = [h.split(":")[0] for h in hosts[1:]]
    # one ggml-rpc-server per worker serves all its GPUs (llama.cpp tools/rpc/README.md at 0c1e570)
    assert [c for c in p.commands if "rpc-server" in c] == [f"# on {w}: ggml-rpc-server --host 0.0.0.0 --port 50052 -c"
                                                           for w in workers]
    head = p.commands[-1]
    assert head.startswith(f"# on {hosts[0].split(':')[0]}: llama-server ") and "-c 8192" in head
    assert not workers or f"--rpc {','.join(w + ':50052' for w in workers)} " in head
    if len(p.devices) > 1:
        ts = head.split(" -ts ")[1].split()[0]
        assert llama_cpp_layer_split(ts, spec.arch.n_layer + 1) == got  # what llama.cpp makes of the -ts given
    else:
        assert " -ts " not in head


def test_rpc_link_legs() -> None:
    """Decode: the hidden state leaves the head, passes each worker boundary through the head, and returns:
    2 legs a worker, plus the f16 attention mask (flash attention) to each RPC device."""
    one = rpc_link_seconds(4096, 8192, 1, 1, 1.0, 0.5)
    assert one == pytest.approx(2 * 0.5e-3 + (2 * 4096 * 4 + 8192 * 2) / 125e6)
    two = rpc_link_seconds(4096, 8192, 2, 3, 1.0, 0.5)
    assert two == pytest.approx(4 * 0.5e-3 + (4 * 4096 * 4 + 3 * 8192 * 2) / 125e6)
    assert rpc_link_seconds(4096, 8192, 0, 0, 1.0, 0.5) == 0.0
    # a head without a GPU: the last leg carries one row of f32 logits instead of a hidden state
    cpu_head = rpc_link_seconds(4096, 8192, 1, 1, 1.0, 0.5, logits=128256)
    assert cpu_head == pytest.approx(2 * 0.5e-3 + (4096 * 4 + 128256 * 4 + 8192 * 2) / 125e6)
    ubatch = rpc_link_seconds(4096, 8192, 1, 1, 1.0, 0.5, n_tokens=512)
    assert ubatch == pytest.approx(2 * 0.5e-3 + 512 * (2 * 4096 * 4 + 8192 * 2) / 125e6)


PARTS = ("weights_bytes", "kv_cache_bytes", "compute_bytes", "overhead_bytes")
MODELS = ("llama3.1:8b", "llama3.1:70b", "mixtral:8x7b", "qwen3:30b-a3b")
HOSTS = ("a:RTX 4090,64", "b:RTX 3060 12GB,32", "c:RTX 3090x2,64", "d:H100 SXM5,256", "e:RTX 4060,16", "f:cpu,16")


@pytest.mark.parametrize("model", MODELS)
def test_every_plan_places_each_layer_once_and_keeps_its_promises(model: str) -> None:
    from catalog.core.memory import RuntimeOptions, kv_cache_by_layer

    spec = catalog.resolve(model)
    n = spec.arch.n_layer
    kv_layers = kv_cache_by_layer(spec.arch, RuntimeOptions(4096))
    kv_total = sum(kv_layers)
    for k in (1, 2, 3):
        for combo in itertools.combinations(HOSTS, k):
            hosts = [parse_host(h) for h in combo]
            if not any(h.gpus for h in hosts):
                with pytest.raises(UsageError):
                    rpc_plan(spec, "Q4_K_M", 4096, hosts)
                continue
            p = rpc_plan(spec, "Q4_K_M", 4096, hosts)
            # the repeating layers and the output, each once: on a GPU, or (-ngl below all) on the head's CPU
            assert sum(d.layers for d in p.devices) + p.cpu_layers == n + 1, combo
            # each GPU's bytes are its parts, and the KV shares add up to the whole cache
            assert all(d.bytes == sum(getattr(d, k) for k in PARTS) for d in p.devices), combo
            assert sum(d.kv_cache_bytes for d in p.devices) == sum(kv_layers[p.cpu_layers:])  # CPU layers' in RAM
            assert len(p.devices) == sum(len(h.gpus) for h in hosts)
            if p.fits:
                assert all(d.bytes <= d.budget_bytes for d in p.devices), combo
                assert all(h.ram_needed_bytes <= h.ram_bytes for h in p.hosts), combo
                assert p.tokens_per_second and p.tokens_per_second > 0
            v = vllm_plan(spec, 4096, hosts)
            assert sum(h.layers for h in v.hosts) == n, combo  # pipeline stages cover every layer
            if v.fits:
                assert all(d.bytes <= d.budget_bytes for d in v.devices), combo
            if len(hosts) == 1 and len(hosts[0].gpus) > 1:
                tp = tensor_plan(spec, "Q4_K_M", 4096, hosts[0])
                assert [d.layers for d in tp.devices] == [n + 1] * len(hosts[0].gpus)  # a slice of every layer
                assert all(d.bytes == sum(getattr(d, k) for k in PARTS) for d in tp.devices), combo
                assert sum(d.kv_cache_bytes for d in tp.devices) == kv_total  # KV heads cut, none lost
                if tp.fits:
                    assert all(d.bytes <= d.budget_bytes for d in tp.devices), combo
                    assert all(h.ram_needed_bytes <= h.ram_bytes for h in tp.hosts), combo


def test_cli_plan(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("plan", "llama3.1:70b", "--host", "a:RTX 4090x2,64", "--host", "b:RTX 3090,32", "--json")
    assert code == 0, err
    doc = json.loads(out)
    engines = [p["engine"] for p in doc["plans"]]
    assert engines == ["llama.cpp RPC", "vLLM + Ray"] and doc["plans"][0]["fits"] is True
    vl = doc["plans"][1]["commands"]
    assert vl[0] == "# on a: ray start --head --port=6379" and vl[1] == "# on b: ray start --address=a:6379"
    assert "--pipeline-parallel-size 2" in vl[2] and "vllm serve meta-llama/Llama-3.1-70B-Instruct" in vl[2]
    code, out, err = cli("plan", "llama3.1:70b", "--host", "a:RTX 3060 12GB,16")
    assert code == 12 and "does not fit" in out
    code, out, err = cli("plan", "llama3.1:8b")
    assert code == 2 and err.count("\n") == 1


def test_hosts_file_and_the_local_comparison(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "hosts.toml"
    f.write_text('[[host]]\nname = "head"\ngpus = ["RTX 3060 12GB"]\nram_gib = 64\n\n'
                 '[[host]]\nname = "w1"\ngpus = ["RTX 3060 12GB"]\nram_gib = 32\n')
    code, out, err = cli("plan", "llama3.1:8b", "--hosts-file", str(f), "--quant", "Q8_0", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert [d["host"] for d in doc["plans"][0]["devices"]] == ["w1", "head"]  # RPC devices first
    assert doc["head_alone"]["host"] == "head" and doc["head_alone"]["verdict"] == "full_gpu"
    rpc = doc["plans"][0]
    assert rpc["tokens_per_second"] and rpc["link"]["hops"] == 1  # one worker: two legs a token
    assert rpc["link"]["seconds_per_token"] == pytest.approx(rpc_link_seconds(4096, 8192, 1, 1, 1.0, 0.5), abs=1e-6)
    slow = cli("plan", "llama3.1:8b", "--hosts-file", str(f), "--quant", "Q8_0", "--link-gbps", "0.001",
               "--link-ms", "500", "--json")
    assert json.loads(slow[1])["plans"][0]["tokens_per_second"] < rpc["tokens_per_second"]  # the link bottleneck


def test_the_rpc_command_pulls_the_repo_that_check_names() -> None:
    """Llama 3.1 8B Instruct's first GGUF repo (lmstudio-community) publishes no Q8_0 file; check's
    commands and the tensors it sizes come from the repo that does, and so must the head's command."""
    spec = catalog.resolve("llama-3.1-8b-instruct")
    hosts = [parse_host("a:RTX 4090,64"), parse_host("b:RTX 3090,32")]
    head = next(c for c in rpc_plan(spec, "Q8_0", 8192, hosts).commands if "llama-server" in c)
    res = catalog.check(spec._replace(pinned_quant="Q8_0"), catalog.CheckRequest(ctx=8192),
                        catalog.machine(["RTX 4090"], ram_gib=64))
    row = res.row("Q8_0")
    assert row is not None
    repo = row.commands.llama_cpp.split("-hf ")[1].split(":")[0]
    assert repo != spec.gguf_repos[0].repo and f"-hf {repo}:Q8_0" in head


def test_vllm_budget_matches_vllms_own_memory_profile() -> None:
    """vLLM's log for Meta-Llama-3-8B on an H100 80GB (vllm-project/vllm PR #10511): total_gpu_memory
    79.22 GiB x 0.90 = 71.29 GiB for the instance; model weights 14.96 GiB at TP 1 and 7.48 GiB at TP 2;
    non_torch_memory 1.79 / 3.58 GiB; activation peak 1.26 GiB; available_kv_cache_memory 53.29 GiB (TP 1)."""
    from catalog.core.memory import RuntimeOptions, kv_cache_by_layer

    spec = catalog.resolve("meta-llama/Meta-Llama-3-8B")
    gib = 2**30
    kv = sum(kv_cache_by_layer(spec.arch, RuntimeOptions(8192, "F16", "F16", True, 2048, 512)))
    for tp, weights, kv_room in ((1, 14.96, 53.29), (2, 7.48, 71.29 - 7.48 - 3.58 - 1.26)):
        h = parse_host(f"a:H100x{tp},256")
        g = h.gpus[0]._replace(memory_total_bytes=int(79.22 * gib))  # what the log says the card reports
        v = vllm_plan(spec, 8192, [h._replace(gpus=(g,) * tp)])
        d = v.devices[0]
        assert v.fits and len(v.devices) == tp
        ours_weights = (d.bytes - kv / tp) / gib
        assert abs(ours_weights - weights) < 0.01, (tp, ours_weights)
        assert abs((d.budget_bytes / gib - ours_weights) - kv_room) < 0.02, (tp, d.budget_bytes / gib)


def test_a_head_without_a_gpu_drives_the_workers() -> None:
    """`laptop:cpu`: llama.cpp's devices are then the workers' alone; the output layer runs on the last one and
    the logits come back over the network; each worker needs RAM for the largest tensor it is sent."""
    spec = catalog.resolve("llama3.1:70b")
    hosts = [parse_host("laptop:cpu,32"), parse_host("w1:RTX 3090x2,64"), parse_host("w2:RTX 4090,64")]
    assert hosts[0].gpus == ()
    p = rpc_plan(spec, "Q4_K_M", 8192, hosts)
    assert p.fits and [d.device for d in p.devices] == ["RPC0", "RPC1", "RPC2"]
    assert p.commands[-1].startswith("# on laptop: llama-server ") and "--rpc w1:50052,w2:50052 -ts 27,27,27" in \
        p.commands[-1]
    assert any("logits" in n for n in p.notes)
    rows = {h.host: h for h in p.hosts}
    assert rows["laptop"].layers == 0 and rows["laptop"].gpu_bytes == 0
    # w2 holds the output matrix (128256 x 8192 at Q6_K), the largest tensor of the file
    from catalog.core.model import repo_for, tensors_for

    out = next(t for t in tensors_for(spec, "Q4_K_M", repo=repo_for(spec, "Q4_K_M")) if t.name == "output.weight")
    assert rows["w2"].ram_needed_bytes == out.nbytes and 0 < rows["w1"].ram_needed_bytes < out.nbytes


def test_vllm_checkpoint_formats() -> None:
    """AutoAWQ's GEMM layout (group 128): per K x N linear matrix, qweight K x N/8 int32, scales K/128 x N f16,
    qzeros K/128 x N/8 int32; embedding, lm_head and norms stay 16-bit. Llama 3.1 8B's shapes from its
    config (hidden 4096, 32 heads, 8 KV heads, intermediate 14336, vocab 128256, 32 layers, untied)."""
    from catalog.core.plan_vllm import vllm_weight_bytes

    spec = catalog.resolve("llama3.1:8b")
    h, kv, ff, vocab, layers = 4096, 1024, 14336, 128256, 32
    mats = [(h, h), (h, kv), (h, kv), (h, h), (h, ff), (h, ff), (ff, h)]  # (K in, N out): q k v o gate up down
    awq = sum(k * n // 8 * 4 + k // 128 * n * 2 + k // 128 * n // 8 * 4 for k, n in mats) * layers
    rest = 2 * (2 * vocab * h + (2 * layers + 1) * h)  # embedding, lm_head, the norms: BF16
    assert vllm_weight_bytes(spec, "AWQ") == awq + rest
    # 8,030,261,248 weights: 2 x 128256 x 4096 + 32 x (2 x 4096^2 + 2 x 4096 x 1024 + 3 x 4096 x 14336 + 2 x 4096)
    # + 4096, the count the model card gives as 8.03B
    assert vllm_weight_bytes(spec, "BF16") == 2 * 8_030_261_248
    fp8 = sum(k * n + 4 * n for k, n in mats) * layers + rest
    assert vllm_weight_bytes(spec, "FP8") == fp8


def test_vllm_falls_back_to_a_checkpoint_that_fits(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("plan", "llama3.1:70b", "--host", "a:RTX 3090x2,64", "--host", "b:RTX 3090x2,64", "--json")
    plans = {p["engine"]: p for p in json.loads(out)["plans"]}
    assert not plans["vLLM + Ray"]["fits"]  # 131 GiB of BF16 over four 24 GB cards
    q = next(p for e, p in plans.items() if e.startswith("vLLM + Ray ("))
    assert q["fits"] and "<an " in q["commands"][-1]  # no repo id is made up for the quantized checkpoint


def test_rpc_link_model_against_real_llama_cpp() -> None:
    """The link model against what real llama.cpp sent over 1-3 RPC workers (tests/data/rpc_link_llamacpp.json,
    bench/rpc_link.py): bytes a decoded token within 2 %, and never fewer legs on a token's critical path than
    llama.cpp showed (its async sends hide a little of the latency, so the model errs slow)."""
    from pathlib import Path

    from catalog.core.arch import from_hf_config
    root = Path(__file__).resolve().parent.parent
    doc = json.loads((root / "tests" / "data" / "rpc_link_llamacpp.json").read_text())
    cfg = json.loads((root / "bench" / "configs" / doc["model"]).read_text())
    a = from_hf_config(cfg.get("config", cfg))
    for row in doc["rows"]:
        w = row["workers"]
        sent = rpc_link_seconds(a.n_embd, 256, w, w, 8.0, 0.0, logits=a.n_vocab) * 1e9  # 8 Gbit/s = 1e9 B/s
        assert abs(sent - row["bytes_per_token"]) / row["bytes_per_token"] < 0.02, row
        legs = rpc_link_seconds(a.n_embd, 256, w, w, 1e12, 1.0, logits=a.n_vocab) * 1e3
        assert row["legs"] <= legs <= row["legs"] * 1.2, row


@pytest.mark.parametrize(("n_layer", "pp", "want"), [
    # vllm/distributed/utils.py get_pp_indices: [L // pp] * pp, then one more to partitions[-2], [-3], ...
    (80, 3, [27, 27, 26]),
    (32, 3, [11, 11, 10]),
    (30, 4, [7, 8, 8, 7]),
    (32, 2, [16, 16]),
    (61, 4, [15, 15, 16, 15]),
])
def test_vllm_pipeline_stages(n_layer: int, pp: int, want: list[int]) -> None:
    from catalog.core.plan_vllm import vllm_pp_partition

    assert vllm_pp_partition(n_layer, pp) == want


def test_vllm_stages_hold_the_embedding_first_and_the_output_last() -> None:
    from catalog.core.plan_vllm import vllm_weights

    spec = catalog.resolve("llama3.1:8b")
    per_layer, embed, head = vllm_weights(spec)
    assert embed == 2 * 128256 * 4096 and head == embed + 2 * 4096  # untied: lm_head and the final norm
    hosts = [parse_host(f"h{i}:RTX 4090,64") for i in range(3)]
    v = vllm_plan(spec, 4096, hosts)
    w = [d.weights_bytes for d in v.devices]
    assert [d.layers for d in v.devices] == [11, 11, 10]
    assert w == [11 * per_layer[0] + embed, 11 * per_layer[0], 10 * per_layer[0] + head]


def test_too_big_for_the_gpus_the_head_keeps_the_first_layers() -> None:
    """Qwen3 235B-A22B Q4_K_M (about 132 GiB) on three workstations of two 24 GB cards: the GPUs alone do not
    hold it, so -ngl leaves the first layers on the head's CPU, in its RAM, as llama.cpp's partial offload does."""
    spec = catalog.resolve("qwen3:235b-a22b")
    hosts = [parse_host("a:RTX 4090x2,128"), parse_host("b:RTX 3090x2,128"), parse_host("c:RTX 3090x2,128")]
    p = rpc_plan(spec, "Q4_K_M", 8192, hosts)
    assert p.fits and p.cpu_layers > 0
    assert all(d.bytes <= d.budget_bytes for d in p.devices)
    ngl = spec.arch.n_layer + 1 - p.cpu_layers
    head = p.commands[-1]
    assert f" -ngl {ngl} " in head
    ts = head.split(" -ts ")[1].split()[0]
    assert sum(int(x) for x in ts.split(",")) == ngl == sum(d.layers for d in p.devices)
    assert p.hosts[0].ram_needed_bytes > 10 * 2**30  # the CPU layers' weights sit in the head's RAM
    small = rpc_plan(spec, "Q4_K_M", 8192, [parse_host("a:RTX 4090x2,8"), *hosts[1:]])
    assert not small.fits and small.cpu_layers == 0  # 8 GB of RAM cannot take them: no partial plan


def test_vllm_reserve_past_tp_2_follows_the_published_share() -> None:
    """Past TP 2 each GPU keeps back the larger of the TP 2 figure (3.58 GiB) and 2.10/39.39 of the card, the
    largest share published vLLM logs show (A100-40GB at TP 8); DeepSeek-R1 at TP 8 on H200 held 7.16 of 139.81."""
    from catalog.core.plan_vllm import vllm_non_torch_bytes

    gib = 2**30
    assert vllm_non_torch_bytes(1, 80 * gib) == int(1.79 * gib) and vllm_non_torch_bytes(2, 24 * gib) == int(3.58 * gib)
    assert vllm_non_torch_bytes(8, 24 * gib) == int(3.58 * gib)  # a 24 GB card: the TP 2 figure is larger
    h200 = vllm_non_torch_bytes(8, int(139.81 * gib))
    assert 7.16 * gib <= h200 <= 7.5 * gib  # at least what DeepSeek-R1's run held
