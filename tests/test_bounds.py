"""Bad numbers at the edges (issue 22): every number read from a config.json, a GGUF, a cache entry or the
command line is checked where it enters; each bad one is one line on stderr and exit 2, never exit 1."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gguf
import pytest

CONFIGS = Path(__file__).parent / "data" / "configs"


def _config() -> dict:
    cfg = json.loads((CONFIGS / "llama32_1b.json").read_text())
    return dict(cfg.get("config", cfg))


def _one_line_exit_2(result: tuple[int, str, str]) -> str:
    code, _, err = result
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("catalog: error: "), err
    return err


@pytest.mark.parametrize(("key", "raw"), [("hidden_size", "1e400"), ("max_position_embeddings", "1e400"),
                                          ("num_hidden_layers", "NaN"), ("num_attention_heads", "-Infinity"),
                                          ("num_hidden_layers", "-4"), ("hidden_size", "\"wide\""),
                                          ("intermediate_size", "1e30")])
def test_a_config_number_out_of_range_is_exit_2(tmp_path: Path, cli, key: str, raw: str) -> None:  # type: ignore[no-untyped-def]
    cfg = _config()
    text = json.dumps(cfg).replace(f"{json.dumps(key)}: {json.dumps(cfg[key])}", f"{json.dumps(key)}: {raw}")
    assert text != json.dumps(cfg)
    path = tmp_path / "config.json"
    path.write_text(text)
    _one_line_exit_2(cli("check", str(path), "--offline", "--vram", "12"))


def test_deeply_nested_json_is_exit_2_not_a_crash(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_config())[:-1] + ', "x": ' + "[" * 200000 + "]" * 200000 + "}")
    assert "not valid JSON" in _one_line_exit_2(cli("check", str(path), "--offline"))


def test_a_zero_sliding_window_period_means_every_layer_slides() -> None:
    """A GGUF's attention.sliding_window_pattern of 0 is llama.cpp's "every layer" (llama_hparams::set_swa_pattern:
    n_pattern == 0), not a division by zero."""
    from catalog.core.arch_gguf import from_gguf_metadata

    meta = {"general.architecture": "gemma3", "gemma3.block_count": 4, "gemma3.embedding_length": 256,
            "gemma3.attention.head_count": 4, "gemma3.attention.sliding_window": 1024,
            "gemma3.attention.sliding_window_pattern": 0, "gemma3.vocab_size": 32000, "gemma3.context_length": 8192}
    assert from_gguf_metadata(meta, []).swa_layers == (True, True, True, True)


def test_a_gguf_shape_key_that_is_not_a_count_is_exit_2(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_float32("llama.block_count", math.inf)
    w.add_uint32("llama.embedding_length", 2048)
    w.add_uint32("llama.attention.head_count", 32)
    w.add_uint32("llama.context_length", 4096)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    _one_line_exit_2(cli("check", str(path), "--offline"))


@pytest.mark.parametrize("args", [["--vram", "nan"], ["--vram", "inf"], ["--vram", "1e309"], ["--vram", "-3"],
                                  ["--ram", "0"], ["--ram", "nan"], ["--ram-bw", "inf"], ["--min-tps", "nan"],
                                  ["--kv-type", "q3"], ["-np", "0"], ["-ngl", "-1"]])
def test_bad_check_options_are_one_line_exit_2(cli, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    _one_line_exit_2(cli("check", "llama3.1:8b", "--offline", *args))


def test_no_gpu_is_still_a_budget_of_zero(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("check", "llama3.1:8b", "--offline", "--vram", "0", "--ram", "32", "--json")
    assert code == 11 and json.loads(out)["quants"], err


@pytest.mark.parametrize("args", [["--link-gbps", "0"], ["--link-gbps", "nan"], ["--link-ms", "-1"],
                                  ["--host", "b:RTX 3090x99999999999999999999"], ["--host", "b:RTX 3090,0"]])
def test_bad_plan_options_are_one_line_exit_2(cli, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    _one_line_exit_2(cli("plan", "llama3.1:8b", "--host", "a:RTX 3090", "--offline", *args))


def test_bad_search_count_is_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    for bad in ("nan", "inf", "-8B", "0"):
        _one_line_exit_2(cli("search", "--max-params", bad))


def test_debug_keeps_the_exit_code_and_the_line(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("check", "no-such-model-anywhere:1b", "--offline", "--debug")
    assert code == 2 and "Traceback" in err and err.strip().splitlines()[-1].startswith("catalog: error: ")


def test_a_deeply_nested_cache_entry_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog.sources import cache

    monkeypatch.setenv("LLM_CATALOG_CACHE_DIR", str(tmp_path))
    path = Path(cache.put("hub", "owner/name", {"x": 1}))
    path.write_text("[" * 200000 + "]" * 200000)
    assert cache.get("hub", "owner/name") is None
    assert cache.keys("hub") == []
