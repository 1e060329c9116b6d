"""The runtimes' own context defaults, and what each does when its default does not fit."""

from __future__ import annotations

import json


def _check(cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    code, out, err = cli("check", *args, "--offline", "--json", "--ram", "24")
    assert code in (0, 10, 11, 12), err
    return json.loads(out)


def _q(doc: dict, quant: str) -> dict:
    return next(r for r in doc["quants"] if r["quant"] == quant)


def test_ollama_default_context_by_vram_clamped_to_the_model(cli) -> None:  # type: ignore[no-untyped-def]
    assert _check(cli, "llama3.1:8b", "--gpu", "RTX 3060")["options"]["context"] == 4096  # below 23 GiB
    assert _check(cli, "llama3.1:8b", "--gpu", "RTX 4090")["options"]["context"] == 32768  # 24 GB
    big = _check(cli, "llama3.1:8b", "--gpu", "H100")["options"]
    assert big["context"] == 131072 and "Ollama default" in big["context_source"]  # 262144, clamped to 128k


def test_ollama_steps_an_automatic_context_down_when_it_does_not_fit(cli) -> None:  # type: ignore[no-untyped-def]
    doc = _check(cli, "llama3.1:70b", "--gpu", "RTX 4090", "--gpu", "RTX 3090")  # 48 GB: default 262144
    assert doc["options"]["context"] == 4096 and "stepped down" in doc["options"]["context_source"]
    assert _q(doc, "Q4_K_M")["verdict"] == "full_gpu"
    # the user's own --ctx is never changed
    pinned = _check(cli, "llama3.1:70b", "--gpu", "RTX 4090", "--gpu", "RTX 3090", "--ctx", "131072")
    assert pinned["options"]["context"] == 131072 and _q(pinned, "Q4_K_M")["verdict"] != "full_gpu"


def test_llama_cpp_fit_shrinks_the_full_context_to_the_largest_that_fits(cli) -> None:  # type: ignore[no-untyped-def]
    doc = _check(cli, "llama3.1:8b", "--gpu", "RTX 3060", "--runtime", "llama.cpp")
    ctx = doc["options"]["context"]
    assert 4096 < ctx < 131072 and ctx % 256 == 0 and "--fit" in doc["options"]["context_source"]
    assert _q(doc, "Q4_K_M")["verdict"] == "full_gpu"
    above = _check(cli, "llama3.1:8b", "--gpu", "RTX 3060", "--ctx", str(ctx + 256))
    assert _q(above, "Q4_K_M")["verdict"] != "full_gpu"  # 256 more tokens of cache would not fit
    assert f"-c {ctx} " in _q(doc, "Q4_K_M")["commands"]["llama_cpp"]


def test_lm_studio_keeps_its_4096(cli) -> None:  # type: ignore[no-untyped-def]
    doc = _check(cli, "llama3.1:8b", "--gpu", "RTX 4090", "--runtime", "lmstudio")
    assert doc["options"]["context"] == 4096 and doc["options"]["context_source"] == "LM Studio default"
