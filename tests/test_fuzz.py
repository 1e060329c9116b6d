"""Seeded, bounded fuzzing of the files a user hands the product (issue 22): mutated config.json documents, GGUF
headers with hostile keys or flipped bytes, and chat-template bombs go through `catalog check --json` in a fresh
process each chunk (tests/fuzz_worker.py). Every case must answer (a verdict's exit code) or fail with the
product's own one-line error (exit 2), never an internal error (exit 1), within 10 s and 512 MiB of peak RSS, and
nothing may be written outside the cache."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import gguf
import pytest

CONFIGS = Path(__file__).parent / "data" / "configs"
BASES = ["llama32_1b.json", "gemma2_9b.json", "qwen25_7b.json", "phi3_mini_4k.json", "hybrid/synthetic_lfm2.json",
         "hybrid/qwen35_35b_a3b.json", "gemma_4_26b_a4b.json", "nemotron_super_49b.json", "intellect3_glm45air.json"]
HOSTILE = [0, -1, -(2 ** 63), 2 ** 63, 2 ** 31, 1e300, -1e-300, 0.5, float("inf"), float("-inf"), float("nan"), True,
           None, "", "12", "NaN", [], [1, 2], {}, {"a": 1}, [0] * 3]


def _leaves(doc: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in _leaves(v, (*path, k))] + [path] * bool(path)
    if isinstance(doc, list) and len(doc) <= 8:
        return [p for i, v in enumerate(doc) for p in _leaves(v, (*path, i))] + [path] * bool(path)
    return [path]


def _set(doc: Any, path: tuple, value: Any) -> None:
    for k in path[:-1]:
        doc = doc[k]
    if value is _DROP:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


_DROP = object()


def _mutants(seed: int, n: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        base = json.loads((CONFIGS / BASES[i % len(BASES)]).read_text())
        doc = base.get("config", base)
        for _ in range(rng.randint(1, 3)):
            paths = [p for p in _leaves(doc) if p]
            path = rng.choice(paths)
            value = _DROP if rng.random() < 0.2 and not isinstance(path[-1], int) else rng.choice(HOSTILE)
            _set(doc, path, value)
        out.append(doc)
    return out


def _gguf(path: Path, rng: random.Random) -> None:
    arch = rng.choice(["llama", "qwen2", "gemma2", "gemma3", "deci", "glm4moe", "qwen3moe", "lfm2", "nosuch"])
    w = gguf.GGUFWriter(str(path), arch)
    keys: dict[str, Any] = {"block_count": 4, "embedding_length": 256, "attention.head_count": 4,
                            "attention.head_count_kv": 2, "context_length": 4096, "feed_forward_length": 512,
                            "vocab_size": 1000, "attention.sliding_window": 128, "expert_count": 4,
                            "expert_used_count": 2, "attention.key_length": 64}
    for _ in range(rng.randint(1, 4)):
        k = rng.choice(list(keys))
        keys[k] = rng.choice([0, 1, 2 ** 32 - 1, -1, 1e30, float("nan"), [0, 0], [3] * 4, "x"])
    for k, v in keys.items():
        name = f"{arch}.{k}"
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, int) and 0 <= v < 2 ** 32:
            w.add_uint32(name, v)
        elif isinstance(v, int):
            w.add_int64(name, v)
        elif isinstance(v, float):
            w.add_float32(name, v)
        elif isinstance(v, list):
            w.add_array(name, v)
        else:
            w.add_string(name, v)
    w.add_token_list([f"t{i}" for i in range(rng.choice([0, 10, 1000]))])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()




def _flipped(out: Path, seed: int, n: int) -> list[Path]:
    """Copies of a real Llama 3.2 1B header (its tensor table, sparse data) with bytes overwritten at random places
    of the key/value and tensor-info sections."""
    from synth_gguf import write as write_synth

    cfg = json.loads((CONFIGS / "llama32_1b.json").read_text())
    src = out / "src.gguf.orig"
    write_synth(cfg.get("config", cfg), "Q4_K_M", src)
    with open(src, "rb") as f:
        head = bytearray(f.read(1 << 16))
    rng = random.Random(seed)
    made = []
    for i in range(n):
        data = bytearray(head)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(16, len(data))
            data[at:at + 8] = rng.randbytes(8) if rng.random() < 0.7 else b"\xff" * 8
        path = out / f"f{i}.gguf"
        with open(path, "wb") as f:
            f.write(data)
            f.truncate(src.stat().st_size)  # the rest sparse, as the original's data section
        made.append(path)
    return made


def _template_bombs(out: Path, seed: int, n: int) -> list[Path]:
    """Chat templates made of hostile Jinja pieces (memory, time, output and recursion bombs, sandbox escapes)
    between benign ones, each in a small GGUF."""
    from gguf_files import write_small_llama
    from test_templates import HOSTILE

    benign = ["{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}",
              "{{ bos_token }}", "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"]
    rng = random.Random(seed)
    made = []
    for i in range(n):
        pieces = [rng.choice(benign), *(rng.choice(HOSTILE)[1] for _ in range(rng.randint(1, 2)))]
        rng.shuffle(pieces)
        made.append(write_small_llama(out / f"t{i}.gguf", chat_template="".join(pieces)))
    return made


ANSWERED = {0, 10, 11, 12}  # a verdict (docs: CONTRACT.md exit codes)


def _configs(out: Path, seed: int, n: int) -> list[Path]:
    made = []
    for i, doc in enumerate(_mutants(seed, n)):
        path = out / f"c{i}" / "config.json"
        path.parent.mkdir()
        path.write_text(json.dumps(doc))
        made.append(path)
    return made


def _ggufs(out: Path, seed: int, n: int) -> list[Path]:
    rng = random.Random(seed)
    made = []
    for i in range(n):
        _gguf(out / f"m{i}.gguf", rng)
        made.append(out / f"m{i}.gguf")
    return made


def _run(tmp_path: Path, kind: str, seed: int, n: int) -> list[dict]:
    """Write one chunk's inputs here, run them in a fresh process with its own home and cache, and check the bounds
    every case must keep."""
    import os
    import subprocess
    import sys

    inputs, home, cache = tmp_path / "in", tmp_path / "home", tmp_path / "cache"
    inputs.mkdir()
    home.mkdir()
    tests = Path(__file__).parent
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(cache), "LLM_CATALOG_CACHE_DIR": str(cache),
           "HF_HOME": str(home / "hf"), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(tests), str(tests.parent / "bench"), os.environ.get("PYTHONPATH", "")])}
    make = {"config": _configs, "gguf": _ggufs, "flip": _flipped, "template": _template_bombs}[kind]
    paths = [str(p) for p in make(inputs, seed, n)]
    proc = subprocess.run([sys.executable, str(tests / "fuzz_worker.py"), *paths],
                          capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cases = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(cases) == n, proc.stderr[-3000:]
    for c in cases:
        assert c["code"] in ANSWERED | {2}, c  # never exit 1 (internal error) or 3 (offline)
        if c["code"] == 2:
            assert len(c["stderr"]) == 1 and c["stderr"][0].startswith("catalog: error: "), c
        assert c["seconds"] < 10, c
        assert c["maxrss_kib"] < 512 * 1024, c  # the peak so far: the first case to pass it is named
    # nothing written outside the cache: the home folder stays empty, beside the inputs only the cache grew
    assert not any(home.rglob("*")), sorted(home.rglob("*"))[:5]
    assert {p.name for p in tmp_path.iterdir()} <= {"in", "home", "cache"}
    return cases


@pytest.mark.parametrize("chunk", range(6))
def test_mutated_configs_answer_or_fail_cleanly(tmp_path: Path, chunk: int) -> None:
    """600 mutated config.json documents (seeded): hostile numbers, wrong types, dropped keys."""
    cases = _run(tmp_path, "config", 1000 + chunk, 100)
    assert {c["code"] for c in cases} & ANSWERED  # most mutants still answer: the suite reaches the estimate


@pytest.mark.parametrize("chunk", range(4))
def test_mutated_gguf_headers_answer_or_fail_cleanly(tmp_path: Path, chunk: int) -> None:
    """400 GGUF headers (seeded) with hostile shape keys, per-layer arrays of the wrong length, no tensors."""
    _run(tmp_path, "gguf", 2000 + chunk, 100)


def test_byte_flipped_gguf_headers_fail_cleanly(tmp_path: Path) -> None:
    """300 byte-flipped copies of a real header."""
    _run(tmp_path, "flip", 3000, 300)


def test_template_bombs_in_local_ggufs_are_contained(tmp_path: Path) -> None:
    """12 seeded template bombs through the whole check: each answers with the template reported (unsafe or
    failed, never measured as a bomb's numbers), within the bounds."""
    for c in _run(tmp_path, "template", 4000, 12):
        assert c["code"] in ANSWERED and c["rows"], c
        t = c["template"]
        assert t["present"] and (t["unsafe"] or t["error"]) and t["per_turn_tokens"] is None, c
        assert set(c["template_bytes"]) == {0}, c
