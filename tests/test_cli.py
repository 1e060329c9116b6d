"""`catalog check` end to end: JSON contract, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gguf_files import write_small_llama
from llama_split import llama_cpp_layer_split
from test_quants import LLAMA31_8B

import catalog

ROOT = Path(__file__).resolve().parent.parent
GB = 1e9


def test_seed_question_llama31_on_rtx_3060(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("check", "llama3.1:8b", "--gpu", "RTX 3060", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "llm-catalog/check/v1"
    assert doc["model"]["name"] == "Llama 3.1 8B Instruct"
    assert doc["model"]["alignment"]["kind"] == "aligned"
    assert doc["requested_quant"] == "Q4_K_M"
    row = {q["quant"]: q for q in doc["quants"]}["Q4_K_M"]
    assert 4.8 * GB < row["file_bytes"] < 5.0 * GB
    assert row["verdict"] == "full_gpu"
    assert doc["options"]["context"] == 4096  # Ollama's default below 23 GiB of VRAM
    assert "ollama run llama3.1:8b-instruct-q4_K_M" in row["commands"]["ollama"]
    assert row["commands"]["llama_cpp"].startswith("llama-server -hf ")
    assert "-c 4096" in row["commands"]["llama_cpp"] and "-ngl all" in row["commands"]["llama_cpp"]
    rec = {q["quant"]: q for q in doc["quants"]}[doc["recommended"]]
    assert rec["verdict"] == "full_gpu"
    for q in doc["quants"]:
        m = q["memory"]
        for key in ("weights_bytes", "kv_cache_bytes", "compute_bytes", "overhead_bytes", "template_bytes",
                    "gpu_bytes", "cpu_bytes", "total_bytes"):
            assert isinstance(m[key], int), key
        assert q["verdict"] in ("full_gpu", "partial", "cpu_only", "no_fit")


def test_base_model_maps_to_text_tags(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "llama3.1:8b-text-q8_0", "--gpu", "RTX 3060", "--json")
    doc = json.loads(out)
    assert doc["model"]["alignment"]["kind"] == "base"
    assert doc["requested_quant"] == "Q8_0"
    for q in doc["quants"]:
        assert "instruct" not in q["commands"]["ollama"]


def test_options_flow_into_estimate_and_commands(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "llama3.1:8b", "--vram", "24", "--ram", "64", "--quant", "Q4_K_M",
                       "--ctx", "16384", "--kv-type", "q8_0", "--ubatch", "256", "--json")
    doc = json.loads(out)
    assert [q["quant"] for q in doc["quants"]] == ["Q4_K_M"]
    q = doc["quants"][0]
    assert q["memory"]["kv_cache_bytes"] == 16384 * 32 * 2 * 1024 * 34 // 32
    assert "-ctk q8_0 -ctv q8_0" in q["commands"]["llama_cpp"] and "-ub 256" in q["commands"]["llama_cpp"]
    assert q["commands"]["ollama"] == "ollama run llama3.1:8b-instruct-q4_K_M"
    assert "OLLAMA_KV_CACHE_TYPE=q8_0" in q["commands"]["ollama_server_env"]
    assert "OLLAMA_CONTEXT_LENGTH=16384" in q["commands"]["ollama_server_env"]
    assert "--context-length 16384" in q["commands"]["lm_studio"]


def test_partial_and_no_fit_exit_codes(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "llama3.1:8b", "--vram", "4", "--ram", "32", "--quant", "Q8_0", "--json")
    doc = json.loads(out)
    assert doc["quants"][0]["verdict"] == "partial" and code == 10
    assert 0 < doc["quants"][0]["gpu_layers"] < 33
    code, out, _ = cli("check", "llama3.1:8b", "--vram", "0", "--ram", "32", "--quant", "Q4_K_M", "--json")
    assert json.loads(out)["quants"][0]["verdict"] == "cpu_only" and code == 11
    code, out, _ = cli("check", "llama3.1:8b", "--vram", "2", "--ram", "2", "--quant", "F16", "--json")
    assert json.loads(out)["quants"][0]["verdict"] == "no_fit" and code == 12


@pytest.mark.parametrize("args", [
    ["check", "no-such-model-xyz"],
    ["check", "llama3.1:8b", "--quant", "Q9_X"],
    ["check", "llama3.1:8b", "--gpu", "RTX 9999"],
    ["check", "/nonexistent/model.gguf"],
    ["check", "llama3.1:8b", "--kv-type", "q8_0", "--flash-attn", "off"],
    ["check", "llama3.1:8b", "--ctx", "-5"],
])
def test_bad_input_is_one_line_exit_2(cli, args) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(*args)
    assert code == 2
    assert out == ""
    assert err.startswith("catalog: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_near_miss_suggests(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("check", "llama3.1:8c")
    assert code == 2 and "did you mean" in err and "llama3.1:8b" in err


def test_local_config_json_and_folder(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "Llama-3.1-8B"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(LLAMA31_8B))
    for ref in (str(d / "config.json"), str(d)):
        code, out, err = cli("check", ref, "--vram", "12", "--ram", "32", "--quant", "Q4_K_M", "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["model"]["architecture"] == "llama" and doc["model"]["parameters"] > 8e9
        assert doc["quants"][0]["memory"]["weights_bytes"] == 4912898304


def test_local_gguf_uses_its_real_tensor_table(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = write_small_llama(tmp_path / "tiny-Q4_K_M.gguf")
    code, out, err = cli("check", str(p), "--vram", "8", "--ram", "16", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert [q["quant"] for q in doc["quants"]] == ["Q4_K_M"]
    q = doc["quants"][0]
    assert q["file_bytes"] == p.stat().st_size
    assert q["memory"]["weights_bytes"] < p.stat().st_size
    assert q["commands"]["llama_cpp"].startswith("llama-server -m ")


def test_hostile_files_exit_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 60)
    code, out, err = cli("check", str(bad), "--vram", "8")
    assert code == 2 and err.count("\n") == 1 and "bad.gguf" in err
    cfg = tmp_path / "config.json"
    cfg.write_text("{not json")
    code, _, err = cli("check", str(cfg), "--vram", "8")
    assert code == 2 and "not valid JSON" in err
    cfg.write_text(json.dumps({"architectures": ["MysteryForCausalLM"]}))
    code, _, err = cli("check", str(cfg), "--vram", "8")
    assert code == 2 and "not supported" in err


def test_table_output(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "llama3.1:8b", "--gpu", "RTX 3060")
    assert code == 0
    assert "Llama 3.1 8B Instruct" in out and "Q4_K_M" in out and "Recommended" in out
    assert "llama-server -hf" in out


def test_subprocess_entry_point() -> None:
    r = subprocess.run([sys.executable, "-m", "catalog", "check", "llama3.1:8b", "--gpu", "RTX 3060", "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["schema"] == "llm-catalog/check/v1"
    r = subprocess.run([sys.executable, "-m", "catalog", "check", "nope-model"], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1


def test_offline_check_imports_no_heavy_modules() -> None:
    code = (
        "import sys, io, contextlib\n"
        "from catalog.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    rc = main(['check', 'llama3.1:8b', '--gpu', 'RTX 3060', '--offline', '--json'])\n"
        "heavy = [m for m in ('textual', 'huggingface_hub', 'numpy', 'rich', 'httpx', 'gguf') if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.stdout.strip() == "0 []", r.stdout + r.stderr


@pytest.mark.parametrize("argv", [
    ["check", "llama3.1:8b"],
    ["check", "llama3.1:8b", "--gpu", "RTX 3060", "--json"],
    ["check", "x", "--quant", "Q4_K_M", "--quant", "Q8_0", "--ctx", "8192", "--kv-type", "q8_0",
     "--flash-attn", "off", "--batch", "1024", "--ubatch", "256", "--vram", "12.5", "--ram", "32",
     "--runtime", "llama.cpp", "--offline", "--debug", "--content-tokens", "100"],
    ["check", "--json", "model-after-flag"],
])
def test_fast_argv_path_matches_argparse(argv: list[str]) -> None:
    from catalog.cli.args import fast_check_args, parser

    assert vars(fast_check_args(argv)) == vars(parser("check").parse_args(argv))


@pytest.mark.parametrize("argv", [
    ["check"], ["check", "-h"], ["check", "m", "--ctx", "abc"], ["check", "m", "--kv-type", "q5_1"],
    ["check", "m", "--ctx=4096"], ["check", "m", "extra"], ["check", "m", "--unknown"], ["check", "m", "--ctx"],
])
def test_fast_argv_path_defers_unusual_input(argv: list[str]) -> None:
    from catalog.cli.args import fast_check_args

    assert fast_check_args(argv) is None


def test_two_gpus_split_the_layers(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "llama3.1:8b", "--gpu", "RTX 3060", "--gpu", "RTX 3060", "--quant", "F16",
                       "--ram", "32", "--json")
    q = json.loads(out)["quants"][0]
    assert code == 0 and q["verdict"] == "full_gpu"
    split = q["gpu_split"]
    assert len(split) == 2 and sum(s["layers"] for s in split) == 33
    assert all(s["bytes"] <= s["budget_bytes"] for s in split)
    parts = ("weights_bytes", "kv_cache_bytes", "compute_bytes", "overhead_bytes")
    assert all(s["bytes"] == sum(s[k] for k in parts) for s in split)  # each GPU's bytes, part by part
    assert sum(s["kv_cache_bytes"] for s in split) == q["memory"]["kv_cache_bytes"]
    ts = q["commands"]["llama_cpp"].split(" -ts ")[1].split()[0]
    assert llama_cpp_layer_split(ts, 33) == [s["layers"] for s in split] == [17, 16]


def test_uneven_gpus_rebalanced_so_both_fit(cli) -> None:  # type: ignore[no-untyped-def]
    """Gemma 2 27B Q8_0 at its full 8k context on an RTX 3090 and an RTX 2080 Ti: llama.cpp's default split
    (each GPU's free memory, here its budget) ignores what each GPU pays before its first layer and overfills
    the 2080 Ti; layers moved to the 3090 fit both, and -ts pins it."""
    import hardware
    from catalog.core.fit import gpu_budgets
    from catalog.core.memory import RuntimeOptions, estimate
    from catalog.core.model import repo_for, tensors_for, weight_layout

    spec = catalog.resolve("gemma2:27b")
    budgets = gpu_budgets(hardware.profile(["RTX 3090", "RTX 2080 Ti"], 64).gpus, True)
    t = tensors_for(spec, "Q8_0", repo=repo_for(spec, "Q8_0"))
    default = estimate(spec.arch, t, RuntimeOptions(8192), None, True, lay=weight_layout(spec, t), gpu_shares=budgets)
    assert not default.fits(budgets)  # what plain llama.cpp would do runs out of memory on the 2080 Ti
    code, out, _ = cli("check", "gemma2:27b", "--gpu", "RTX 3090", "--gpu", "RTX 2080 Ti", "--quant", "Q8_0",
                       "--ctx", "8192", "--ram", "64", "--json")
    q = json.loads(out)["quants"][0]
    assert code == 0 and q["verdict"] == "full_gpu"
    split = q["gpu_split"]
    assert all(s["bytes"] <= s["budget_bytes"] for s in split)
    ts = q["commands"]["llama_cpp"].split(" -ts ")[1].split()[0]
    assert llama_cpp_layer_split(ts, 47) == [s["layers"] for s in split] == [34, 13]


def test_moe_keeps_experts_in_ram(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "config.json"
    cfg.write_text((ROOT / "bench" / "configs" / "qwen3_30b_a3b.json").read_text())
    code, out, _ = cli("check", str(cfg), "--vram", "12", "--ram", "64", "--quant", "Q4_K_M", "--ctx", "8192", "--json")
    q = json.loads(out)["quants"][0]
    assert code == 10 and q["verdict"] == "partial"
    assert q["cpu_moe_layers"] > 0 and q["gpu_layers"] == q["total_layers"]
    assert f"--n-cpu-moe {q['cpu_moe_layers']}" in q["commands"]["llama_cpp"]


def test_decode_speed_is_bandwidth_plus_a_per_layer_cost(cli) -> None:  # type: ignore[no-untyped-def]
    from catalog.core.speed import DECODE_EFFICIENCY, LAYER_OVERHEAD_S

    def tps(*args: str) -> tuple[float, str]:
        _, out, _ = cli("check", "llama3.1:8b", "--quant", "Q4_K_M", "--ram", "64", "--json", "--ctx", "4096", *args)
        q = json.loads(out)["quants"][0]
        return q["tokens_per_second"], q["verdict"]

    t3060, v = tps("--gpu", "RTX 3060")
    t4090, _ = tps("--gpu", "RTX 4090")
    # seconds a token: the bytes read (~4.9 GB: weights without the token embedding, half the KV) over each
    # card's bandwidth, plus 32 layers' fixed cost: the faster card gains less than its bandwidth ratio
    read = (1 / t3060 - 32 * LAYER_OVERHEAD_S["discrete"]) * 360e9 * DECODE_EFFICIENCY
    assert 4.6e9 < read < 5.1e9
    assert 1 / t4090 == pytest.approx(read / (1008e9 * DECODE_EFFICIENCY) + 32 * LAYER_OVERHEAD_S["discrete"], rel=0.02)
    assert 1.5 < t4090 / t3060 < 1008 / 360
    slow, v = tps("--gpu", "RTX 3060", "--ctx", "131072")  # the later --ctx wins
    assert v == "partial" and slow < t3060 / 2


def test_search_filters(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("search", "--kind", "base", "--json")
    rows = json.loads(out)["models"]
    assert code == 0 and rows and all(r["kind"] == "base" for r in rows)
    _, out, _ = cli("search", "--max-params", "4B", "--json")
    found = json.loads(out)["models"]
    assert all(r["parameters"] <= 4e9 * 1.05 for r in found) and any(r["parameters"] > 4e9 for r in found)
    _, out, _ = cli("search", "--fits", "--vram", "6", "--ram", "32", "--json")
    small = json.loads(out)["models"]
    assert small and all(r["gpu_bytes"] <= 6 << 30 for r in small)
    assert not any(r["id"] == "gemma-2-9b-it" and r["best_quant"] in ("F16", "BF16", "Q8_0") for r in small)
    code, _, err = cli("search", "--max-params", "lots")
    assert code == 2 and "not a count" in err


def test_mcp_without_the_sdk_is_one_line_exit_2(monkeypatch, cli) -> None:  # type: ignore[no-untyped-def]
    import sys

    monkeypatch.setitem(sys.modules, "mcp", None)  # an install without the [mcp] extra
    code, out, err = cli("mcp")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "llm-catalog[mcp]" in err
