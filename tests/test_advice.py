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


def _cand(q: str, verdict: str, tps: float | None, bpw: float) -> object:
    from catalog.core.ranking import Candidate

    return Candidate(q, verdict, tps, bpw)


def test_a_4bit_run_at_a_usable_speed_beats_a_2bit_one_that_fits() -> None:
    """gemma3:27b / qwen3:30b-a3b on a 12 GB card: Q4_K_M partly in RAM at a usable speed, not IQ2_M because it
    alone fits the GPU; 16-bit rows rank no better than Q8_0 (the faster wins); nothing usable: the fastest."""
    from catalog.core.ranking import recommend

    rows = [_cand("Q8_0", "partial", 2.1, 8.5), _cand("Q4_K_M", "partial", 37.0, 4.9),
            _cand("Q3_K_M", "partial", 53, 3.9), _cand("IQ2_M", "full_gpu", 136.0, 2.7)]
    pick, why = recommend(rows)
    assert pick == "Q4_K_M" and "IQ2_M runs entirely on the GPU at 136 tok/s but at 2.7 bits per weight" in why
    assert recommend(rows, prefer="speed")[0] == "Q3_K_M"  # fastest, never below the 3.5-bit floor
    assert recommend(rows, min_tps=40)[0] == "Q3_K_M"
    assert recommend([_cand("BF16", "full_gpu", 40, 16), _cand("Q8_0", "full_gpu", 70, 8.5)])[0] == "Q8_0"
    slow = [_cand("Q4_K_M", "partial", 2.0, 4.9), _cand("IQ2_M", "partial", 3.0, 2.7), _cand("F16", "no_fit", None, 16)]
    assert recommend(slow) == ("IQ2_M", "nothing reaches 5 tok/s: the fastest that runs")
    assert recommend([_cand("F16", "no_fit", None, 16)]) == (None, "")


def test_a_published_file_comes_first() -> None:
    from catalog.core.ranking import recommend

    rows = [_cand("Q8_0", "full_gpu", 60, 8.5), _cand("Q6_K", "full_gpu", 70, 6.6),
            _cand("Q4_K_M", "full_gpu", 90, 4.9)]
    assert recommend(rows, tiers=({"Q4_K_M"}, {"Q6_K"}))[0] == "Q4_K_M"
    assert recommend(rows, tiers=(set(), {"Q6_K"}))[0] == "Q6_K"
    assert recommend(rows, tiers=(set(), set()))[0] == "Q8_0"  # made from the original weights, as a last resort


def test_each_row_says_how_it_runs_and_the_recommendation_why(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "qwen3:30b-a3b", "--gpu", "RTX 3060", "--ram", "32", "--json")
    doc = json.loads(out)
    fits = {q["quant"]: q["fit"] for q in doc["quants"]}
    assert doc["recommended"] in ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0") and doc["recommended_why"]
    levels = {"fits", "tight", "partial", "cpu only", "too slow", "won't run"}
    assert fits["F16"] in ("too slow", "won't run") and set(fits.values()) <= levels
    code, out, _ = cli("check", "qwen3:30b-a3b", "--gpu", "RTX 3060", "--ram", "64", "--min-tps", "1000", "--json")
    assert all(q["fit"] in ("too slow", "won't run") for q in json.loads(out)["quants"])
    code, out, err = cli("check", "qwen3:30b-a3b", "--gpu", "RTX 3060", "--prefer", "fast")
    assert code == 2 and "invalid choice" in err
    code, out, _ = cli("check", "qwen3:30b-a3b", "--gpu", "RTX 3060", "--ram", "64")
    assert "Recommended: Q4_K_M (partial" in out and "the best quality at 5 tok/s or more" in out


def test_nothing_runs_says_what_it_needs_and_what_does_run(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "llama3.1:405b", "--gpu", "RTX 3060", "--ram", "32")
    assert code == 12 and "The smallest, IQ2_M, needs" in out and "GiB of GPU budget and 32.00 GiB of RAM" in out
    assert "runs here" in out and "catalog plan llama3.1:405b --host" in out


def test_plan_headline_is_the_fastest_and_says_what_it_assumed(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("plan", "llama3.1:8b", "--host", "a:RTX 4090,64", "--host", "b:RTX 3060", "--json")
    doc = json.loads(out)
    speeds = [p["tokens_per_second"] or 0 for p in doc["plans"] if p["fits"]]
    best = max([*speeds, doc["head_alone"]["tokens_per_second"]])
    assert doc["fastest"]["tokens_per_second"] == best
    assert doc["fastest"]["how"] == "a alone"  # the 8B fits the 4090: one machine is faster than two
    assert doc["notes"] == ["b: no RAM given, 64 GiB assumed (give it: --host b:GPU,RAM_GIB, or ram_gib in the hosts "
                            "file)"]
    code, out, _ = cli("plan", "llama3.1:8b", "--host", "a:RTX 4090,64", "--host", "b:RTX 3060,32")
    assert out.startswith("Fastest: a alone, ~")


def test_a_mac_is_one_memory_pool(cli) -> None:  # type: ignore[no-untyped-def]
    """`llama3.1:70b` on a 32 GB M2 Max once ran "partial" with 20.5 GiB on the GPU plus 21.5 GiB of this Linux
    machine's RAM: 42 GiB on a 32 GB Mac. Unified memory is counted once: the Mac's own size, and what stays
    off the GPU comes out of the same memory."""
    code, out, _ = cli("check", "llama3.1:70b", "--gpu", "M2 Max 32GB", "--json")
    doc = json.loads(out)
    assert doc["hardware"]["ram_bytes"] == 32 << 30
    budget = doc["hardware"]["gpu_budget_bytes"]
    for q in doc["quants"]:
        if q["verdict"] != "no_fit":
            assert q["memory"]["gpu_bytes"] + q["memory"]["cpu_bytes"] <= budget, q["quant"]
    assert all(q["verdict"] != "partial" for q in doc["quants"])
    code, out, _ = cli("check", "llama3.1:70b", "--gpu", "M2 Max 32GB")
    assert "unified memory" in out and "nvidia-smi" not in out  # the caption and the `ollama ps` line too
    code, out, _ = cli("check", "llama3.1:70b", "--gpu", "M2 Max 32GB", "--quant", "Q4_K_M")  # runs nowhere
    assert "unified memory" in out and "nvidia-smi" not in out and "iogpu.wired_limit_mb" in out
    code, out, _ = cli("check", "llama3.1:70b", "--gpu", "M2 Max 64GB", "--json")
    assert json.loads(out)["recommended"] is not None


def test_the_ram_speed_a_partial_offload_reads_at_is_shown_and_can_be_given(cli) -> None:  # type: ignore[no-untyped-def]
    def run(*extra: str) -> dict:
        code, out, _ = cli("check", "gemma3:27b", "--gpu", "RTX 3060", "--ram", "64", "--quant", "Q4_K_M", "--json",
                           *extra)
        return json.loads(out)

    assumed, given = run(), run("--ram-bw", "120")
    assert assumed["hardware"]["ram_bandwidth_bytes_per_s"] == 60e9
    assert assumed["hardware"]["ram_bandwidth_source"].startswith("assumed")
    assert given["hardware"]["ram_bandwidth_bytes_per_s"] == 120e9 and given["hardware"]["ram_bandwidth_source"]
    a, g = assumed["quants"][0], given["quants"][0]
    assert a["verdict"] == g["verdict"] == "partial" and g["tokens_per_second"] > 1.4 * a["tokens_per_second"]
    code, _, err = cli("check", "gemma3:27b", "--gpu", "RTX 3060", "--ram-bw", "0")
    assert code == 2 and "--ram-bw: invalid positive value" in err


def test_a_4bit_or_better_run_entirely_on_the_gpu_beats_a_better_one_partly_in_ram(cli) -> None:  # type: ignore[no-untyped-def]
    """Qwen2.5 14B on a 12 GB RTX 4070: Q5_K_M entirely on the GPU (~33 tok/s), not Q8_0 with layers in RAM (~7
    tok/s) although both pass 5 tok/s; the reason names the slower one. Below 4-bit the partial 4-bit run still
    wins (the IQ2_M case above), and --prefer speed, or nothing whole at 4-bit, leaves the choice as it was."""
    from catalog.core.ranking import recommend

    rows = [_cand("Q8_0", "partial", 7.0, 8.5), _cand("Q6_K", "partial", 16.0, 6.6),
            _cand("Q5_K_M", "full_gpu", 33.0, 5.7), _cand("Q4_K_M", "full_gpu", 38.0, 4.9)]
    pick, why = recommend(rows)
    assert pick == "Q5_K_M" and "entirely on the GPU" in why and "Q8_0 runs partly in RAM at 7 tok/s" in why
    assert recommend(rows, prefer="speed")[0] == "Q4_K_M"
    assert recommend([_cand("Q8_0", "partial", 7.0, 8.5), _cand("Q3_K_M", "full_gpu", 40.0, 3.9)])[0] == "Q8_0"
    code, out, _ = cli("check", "qwen2.5:14b", "--gpu", "RTX 4070", "--json")
    doc = json.loads(out)
    row = next(q for q in doc["quants"] if q["quant"] == doc["recommended"])
    assert row["verdict"] == "full_gpu" and doc["recommended"] in ("Q5_K_M", "Q6_K", "Q4_K_M"), doc["recommended"]
    assert any(q["verdict"] == "partial" and q["tokens_per_second"] >= 5 for q in doc["quants"]
               if q["quant"] in ("Q8_0", "Q6_K"))


def test_every_file_a_repo_lists_is_a_row_and_can_be_recommended(cli) -> None:  # type: ignore[no-untyped-def]
    """Qwen2.5 32B on a 24 GB RTX 4090: mradermacher's repo lists Q4_K_S (no Q4_K_M), which runs entirely on
    the GPU; the ladder alone made the check recommend its Q6_K with layers in RAM at ~7 tok/s. F32 and the
    1-bit mixes a repo lists are shown only when asked for by name."""
    code, out, _ = cli("check", "qwen2.5-32b", "--gpu", "RTX 4090", "--ram", "64", "--json")
    doc = json.loads(out)
    rows = {q["quant"]: q for q in doc["quants"]}
    assert "Q4_K_S" in rows and doc["recommended"] == "Q4_K_S" and rows["Q4_K_S"]["verdict"] == "full_gpu"
    assert "mradermacher/Qwen2.5-32B-GGUF:Q4_K_S" in rows["Q4_K_S"]["commands"]["llama_cpp"]
    code, out, _ = cli("check", "llama3.1:70b", "--gpu", "RTX 4090", "--json")
    shown = {q["quant"] for q in json.loads(out)["quants"]}
    assert {"IQ2_XXS", "Q4_K_S", "IQ4_XS"} <= shown and not shown & {"F32", "IQ1_M", "IQ1_S"}, shown
    code, out, _ = cli("check", "llama3.1:70b", "--gpu", "RTX 4090", "--quant", "IQ1_M", "--json")
    assert [q["quant"] for q in json.loads(out)["quants"]] == ["IQ1_M"]


def test_a_pick_below_the_quality_floor_or_too_slow_names_a_smaller_sibling_that_runs_well(cli) -> None:  # type: ignore[no-untyped-def]
    """Llama 3.1 70B on a 32 GB M2 Max runs only at 2 bits: the check says so and names the family's largest
    smaller model that runs at a usable speed (Llama 3.1 8B); a good pick names none."""
    code, out, _ = cli("check", "llama3.1:70b", "--gpu", "M2 Max 32GB")
    assert "nothing at 3.5 bits per weight or more" in out
    assert "a smaller model of the family runs well here: Llama 3.1 8B Instruct (llama-3.1-8b-instruct)" in out
    code, out, _ = cli("check", "llama3.1:8b", "--gpu", "RTX 3060")
    assert "a smaller model of the family" not in out
    code, out, _ = cli("check", "llama3.1:70b", "--gpu", "M2 Max 32GB", "--json")
    doc = json.loads(out)
    assert doc["smaller_model"]["id"] == "llama-3.1-8b-instruct" and doc["smaller_model"]["fit"] != "too slow"
    code, out, _ = cli("check", "llama3.1:8b", "--gpu", "RTX 3060", "--json")
    assert "smaller_model" not in json.loads(out)
