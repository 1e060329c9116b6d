"""Advice a user can act on (issue 19): names a person types, GPUs by the names people use, messages that say
why a list is empty or an option is refused, and limits named as models are sold."""

from __future__ import annotations

import json
import time

import pytest
from runtime_server import RuntimeServer

import catalog
from catalog.errors import ModelNotFound, UsageError
from hardware import UnknownGpu
from hardware.known import find_gpu


@pytest.mark.parametrize("typed, card", [
    ("4090", "NVIDIA GeForce RTX 4090"), ("rtx4090", "NVIDIA GeForce RTX 4090"),
    ("RTX-4090", "NVIDIA GeForce RTX 4090"),
    ("GTX 1080", "NVIDIA GeForce GTX 1080"), ("GTX 1080 Ti", "NVIDIA GeForce GTX 1080 Ti"),
    ("1080 Ti", "NVIDIA GeForce GTX 1080 Ti"), ("RTX 4060 Laptop", "NVIDIA GeForce RTX 4060 Laptop GPU"),
    ("4060", "NVIDIA GeForce RTX 4060"), ("GTX 1660 Super", "NVIDIA GeForce GTX 1660 Super"),
])
def test_gpus_by_the_names_people_type(typed: str, card: str) -> None:
    assert find_gpu(typed).name.startswith(card + " ")


def test_a_gpu_is_named_once_and_an_unknown_one_points_at_the_command() -> None:
    assert find_gpu("H100 SXM5").name == "NVIDIA H100 SXM5 80GB"  # not "80GB 80GB"
    with pytest.raises(UnknownGpu) as err:
        find_gpu("RTX 9999")
    text = f"{err.value.message} {err.value.hint}"
    assert "catalog gpus" in text and "data/" not in text


def test_a_mac_is_never_assumed_to_have_the_smallest_memory() -> None:
    with pytest.raises(UnknownGpu) as err:
        find_gpu("M2 Max")
    assert "32, 64, 96 GB of unified memory" in err.value.message
    assert find_gpu("M2 Max 64GB").memory_total_bytes == 64 << 30


def test_catalog_gpus_lists_the_known_cards(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("gpus", "m2", "--json")
    names = [g["name"] for g in json.loads(out)["gpus"]]
    assert code == 0 and names == ["Apple M2", "Apple M2 Pro", "Apple M2 Max", "Apple M2 Ultra"]
    code, out, err = cli("gpus", "zzz")
    assert code == 0 and out == "" and "no known GPU matches 'zzz'" in err


def test_a_tag_slip_is_answered_from_the_catalog_a_new_size_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    with RuntimeServer() as srv:
        monkeypatch.setenv("LLM_CATALOG_OLLAMA_REGISTRY", srv.url)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        t0 = time.perf_counter()
        with pytest.raises(ModelNotFound) as err:
            catalog.resolve("llama3.1:8n")  # a letter slip of a tag the catalog records
        assert "did you mean: llama3.1:8b" in err.value.line() and srv.log == [] and time.perf_counter() - t0 < 2
        with pytest.raises(ModelNotFound):
            catalog.resolve("llama3.1:7b")  # another number: a size the registry may know
        assert srv.requests_to("/v2/library/llama3.1/manifests/7b")


def test_empty_answers_say_why(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("search", "zzz")
    assert (code, out) == (0, "") and "no catalog model matches 'zzz'" in err
    code, out, err = cli("search", "--fits")  # this machine: no GPU detected
    assert code == 0 and "no GPU" in err and "--gpu NAME" in err
    code, out, err = cli("search", "llama", "--fits", "--vram", "0.5", "--ram", "8")
    assert code == 0 and "none of the" in err and "fits entirely" in err
    code, out, _ = cli("hw")
    assert code == 0 and "No GPU" in out and "catalog gpus" in out


def test_max_params_as_models_are_sold(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("search", "llama 3.1", "--max-params", "8B", "--json")
    assert "llama-3.1-8b-instruct" in [m["id"] for m in json.loads(out)["models"]]


def test_context_as_people_write_it_and_never_past_training(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "llama3.1:8b", "--gpu", "RTX 4090", "--ctx", "32k", "--json")
    assert json.loads(out)["options"]["context"] == 32768
    code, out, err = cli("check", "llama3.1:8b", "--gpu", "RTX 4090", "--ctx", "200000")
    assert code == 2 and out == "" and "trained context of 131072" in err and "--rope-scaling yarn" in err
    code, _, err = cli("check", "llama3.1:8b", "--gpu", "RTX 4090", "--ctx", "lots")
    assert code == 2 and err.count("\n") == 1 and "not a context length" in err
    req = catalog.CheckRequest(ctx=200_000)
    with pytest.raises(UsageError):
        catalog.check(catalog.resolve("llama3.1:8b"), req, catalog.machine(["RTX 4090"]))


def test_refresh_offline_is_refused_with_its_reason(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("refresh", "--offline")
    assert code == 2 and "cannot run --offline" in err and err.count("\n") == 1
