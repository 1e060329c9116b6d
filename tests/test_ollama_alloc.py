"""Ollama 0.32.15 as it allocates (catalog.core.ollama): the batch its scheduler gives llama-server, the llama-server
it models, and what `ollama ps` shows, each case read off ollama/ollama@b7871fc (server/sched.go, cmd/cmd.go,
format/bytes.go, llm/llama_server.go)."""

from __future__ import annotations

import json

import pytest

import catalog
from catalog.core import ollama
from catalog.core.memory import runtime_options
from catalog.sources.bundled import lookup

GIB = 1 << 30


@pytest.mark.parametrize(("ctx", "predicted", "available", "fa", "cuda", "smallest", "want"), [
    (4096, 5 * GIB, 11 * GIB, True, True, 12 * GIB, 512),  # up to 4096 tokens: 512
    (32768, 9 * GIB, 23 * GIB, True, True, 24 * GIB, 1024),  # past 4096: 1024 where it leaves 25 % free
    (32768, 18 * GIB, 23 * GIB, True, True, 24 * GIB, 512),  # over 75 % of free memory: back to 512
    (131072, 22 * GIB, 79 * GIB, True, True, 80 * GIB, 2048),  # past 32768: 2048 under 60 %
    (131072, 25 * GIB, 30 * GIB, True, True, 32 * GIB, 512),  # over 80 %: not even 1024
    (131072, 23 * GIB, 30 * GIB, True, True, 32 * GIB, 512),  # under 80 % but over 1024's 75 %
    (16384, 7 * GIB + 400 * (1 << 20), 10 * GIB, True, True, 10 * GIB, 512),  # 1024's 768 MiB do not fit under 80 %
    (131072, 21 * GIB, 32 * GIB, True, True, 32 * GIB, 1024),  # over 60 % but under 75 %: 1024
    (131072, 16 * GIB, 32 * GIB, True, True, 32 * GIB, 2048),  # half: 2048 and its 2 GiB fit
    (16384, 4 * GIB, 7 * GIB, False, True, 8 * GIB, 256),  # flash attention off on an 8 GiB NVIDIA card
    (4096, 4 * GIB, 7 * GIB, False, True, 8 * GIB, 512),
    (16384, 4 * GIB, 11 * GIB, False, True, 12 * GIB, 512),
    (16384, 4 * GIB, 0, True, False, 0, 1024),  # no GPU: nothing to compare against
])
def test_generation_batch(ctx: int, predicted: int, available: int, fa: bool, cuda: bool, smallest: int,
                          want: int) -> None:
    assert ollama.generation_batch(ctx, predicted, available, fa, cuda, smallest) == want


def test_launch_batch_is_the_num_batch_set_else_ollamas_pick_for_the_file() -> None:
    """One rule: a num_batch the user set wins whatever the file; without one, the pick for the file's predicted
    VRAM on the GPUs (the least free NVIDIA card decides the flash-attention-off case); no file yet: 512."""
    import hardware

    big = hardware.profile(["H100 80GB"], 64.0).gpus
    small = hardware.profile(["RTX 3060 8GB"], 64.0).gpus
    assert ollama.launch_batch(768, 131072, 22 * GIB, big, True) == 768
    assert ollama.launch_batch(None, 131072, None, big, True) == 512
    assert ollama.launch_batch(None, 131072, 22 * GIB, big, True) == 2048  # under 60 % of an H100's free memory
    assert ollama.launch_batch(None, 16384, 4 * GIB, small, False) == 256  # flash attention off on 8 GiB
    assert ollama.launch_batch(None, 16384, 4 * GIB, big, False) == 512


def test_predicted_vram_is_the_file_plus_an_f16_cache() -> None:
    spec = lookup("llama3.1:8b")
    assert spec is not None
    # 2 (K and V) x 32 blocks x 8 KV heads x 4096/32 x 8192 tokens x 2 bytes
    assert ollama.predicted_vram(spec.arch, 4_920_000_000, 8192) == 4_920_000_000 + 2 * 32 * 8 * 128 * 8192 * 2


@pytest.mark.parametrize(("b", "text"), [(5_270_000_000, "5.3 GB"), (22_790_000_000, "22 GB"), (4_000_000_000, "4 GB"),
                                         (950_000_000, "950 MB"), (999, "999 B")])
def test_human_bytes(b: int, text: str) -> None:
    assert ollama.human_bytes(b) == text


def test_processor_column() -> None:
    assert ollama.processor(10, 10) == "100% GPU"
    assert ollama.processor(10, 0) == "100% CPU"
    assert ollama.processor(100, 53) == "47%/53% CPU/GPU"
    assert ollama.processor(10, 11) == "Unknown"


def test_ollama_runs_one_slot_with_num_batch_as_both_batches() -> None:
    opts = runtime_options(catalog.CheckRequest(), 4096)
    assert (opts.n_seq, opts.n_outputs, opts.n_batch, opts.n_ubatch) == (1, 1, 512, 512)
    given = runtime_options(catalog.CheckRequest(ubatch=1024), 4096)
    assert (given.n_batch, given.n_ubatch) == (1024, 1024)


def test_a_check_under_ollama_says_what_ollama_ps_shows(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "llama3.1:8b", "--gpu", "RTX 4090", "--offline", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["options"]["context"] == 32768  # Ollama's default on 24 GB
    for row in doc["quants"]:
        ol, mem = row["ollama"], row["memory"]
        assert ol["version"] == ollama.OLLAMA_VERSION and ol["source"].startswith("ollama/ollama@")
        assert ol["size_vram_bytes"] == mem["gpu_bytes"] - mem["overhead_bytes"]
        if row["verdict"] == "full_gpu":
            assert ol["size_bytes"] == ol["size_vram_bytes"]
            assert ol["num_batch"] in (512, 1024)
    q4 = next(r for r in doc["quants"] if r["quant"] == "Q4_K_M")
    assert q4["ollama"]["num_batch"] == 1024  # 32768 tokens, 9.2 GB predicted of 24 GB
    assert "-b 1024 -ub 1024" in q4["commands"]["llama_cpp"]  # the llama-server Ollama would start


def test_partial_offload_counts_the_ram_share(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "llama3.1:70b", "--gpu", "RTX 3060", "--ram", "64", "--offline", "--json",
                       "--quant", "Q4_K_M")
    assert code in (0, 10, 11, 12)
    row = json.loads(out)["quants"][0]
    assert row["verdict"] == "partial"
    ol = row["ollama"]
    assert ol["size_bytes"] > ol["size_vram_bytes"] > 0
    assert "CPU/GPU" in ollama.processor(ol["size_bytes"], ol["size_vram_bytes"])


def test_other_runtimes_carry_no_ollama_figures(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "llama3.1:8b", "--gpu", "RTX 3060", "--offline", "--json", "--runtime", "llama.cpp")
    assert code == 0
    assert all("ollama" not in r for r in json.loads(out)["quants"])


def test_two_batch_sizes_are_a_llama_cpp_question(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("check", "llama3.1:8b", "--gpu", "RTX 3060", "--offline", "--json", "--batch", "1024",
                       "--ubatch", "256")
    assert code == 0
    assert json.loads(out)["options"]["runtime"] == "llama.cpp"


def _detected(cc: str) -> object:
    import hardware

    gib = 1 << 30
    gpu = hardware.GPU("Tesla M40 24GB", "nvidia", 24 * gib, 23 * gib, 288_000_000_000, cc, "550.54", "nvml")
    return hardware.Hardware("detected", (gpu,), 64 * gib, 60 * gib, "linux")


@pytest.mark.parametrize(("cc", "fa"), [("5.2", False), ("3.7", False), ("7.2", False), ("6.1", True), ("8.6", True),
                                        (None, True)])
def test_ollama_turns_flash_attention_off_on_gpus_older_than_pascal(cc: str | None, fa: bool) -> None:
    """ml.FlashAttentionSupported: a Maxwell or Kepler card (a Tesla M40 or K80, cheap 24 GB for LLMs) or a Jetson
    Xavier runs without flash attention under Ollama, so the estimate does too (its compute buffer then holds the
    attention scores); llama.cpp's own runtime and a quantized cache keep what was asked."""
    assert ollama.flash_attention_supported([cc]) is fa
    spec = lookup("llama3.1:8b")
    assert spec is not None
    hw = _detected(cc or "")
    res = catalog.check(spec, catalog.CheckRequest(quants=("Q4_K_M",), ctx=32768), hw)  # type: ignore[arg-type]
    assert res.options.flash_attention is fa
    off = catalog.check(spec, catalog.CheckRequest(quants=("Q4_K_M",), ctx=32768, flash_attn=False), hw)  # type: ignore[arg-type]
    if not fa:
        assert res.rows[0].memory.compute_bytes == off.rows[0].memory.compute_bytes
    else:
        assert res.rows[0].memory.compute_bytes < off.rows[0].memory.compute_bytes
    kept = catalog.check(spec, catalog.CheckRequest(quants=("Q4_K_M",), kv_type="q8_0"), hw)  # type: ignore[arg-type]
    assert kept.options.flash_attention is True
    llama = catalog.check(spec, catalog.CheckRequest(quants=("Q4_K_M",), runtime="llama.cpp", ctx=8192), hw)  # type: ignore[arg-type]
    assert llama.options.flash_attention is True
