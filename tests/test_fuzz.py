"""Seeded, bounded fuzzing of the two files a user hands the product (issue 22): mutated config.json documents and
mutated GGUF headers go through the whole local check (read, architecture, tensor table, estimate); each must
answer or fail with the product's own error (exit 2), never an internal error, within a time bound."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import gguf
import pytest

import catalog
from catalog.errors import CatalogError

CONFIGS = Path(__file__).parent / "data" / "configs"
BASES = ["llama32_1b.json", "gemma2_9b.json", "qwen25_7b.json", "phi3_mini_4k.json", "hybrid/synthetic_lfm2.json",
         "hybrid/qwen35_35b_a3b.json", "gemma_4_26b_a4b.json", "nemotron_super_49b.json", "intellect3_glm45air.json"]
HOSTILE = [0, -1, -(2 ** 63), 2 ** 63, 2 ** 31, 1e300, -1e-300, 0.5, float("inf"), float("-inf"), float("nan"), True,
           None, "", "12", "NaN", [], [1, 2], {}, {"a": 1}, [0] * 3]
HW = catalog.machine(["RTX 3060"], None, 32.0, None)


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


def _check(path: Path) -> None:
    try:
        spec = catalog.resolve(str(path), offline=True)
        res = catalog.check(spec, catalog.CheckRequest(quants=("Q4_K_M",)), HW)
        assert res.rows
    except CatalogError:
        pass  # the product's own one-line error (exit 2)


@pytest.mark.parametrize("chunk", range(6))
def test_mutated_configs_answer_or_fail_cleanly(tmp_path: Path, chunk: int) -> None:
    """600 mutated config.json documents (seeded): hostile numbers, wrong types, dropped keys."""
    t0 = time.monotonic()
    for i, doc in enumerate(_mutants(1000 + chunk, 100)):
        path = tmp_path / f"c{i}" / "config.json"
        path.parent.mkdir()
        path.write_text(json.dumps(doc))
        started = time.monotonic()
        _check(path)
        assert time.monotonic() - started < 10, doc
    assert time.monotonic() - t0 < 120


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


@pytest.mark.parametrize("chunk", range(4))
def test_mutated_gguf_headers_answer_or_fail_cleanly(tmp_path: Path, chunk: int) -> None:
    """400 GGUF headers (seeded) with hostile shape keys, per-layer arrays of the wrong length, no tensors."""
    rng = random.Random(2000 + chunk)
    for i in range(100):
        path = tmp_path / f"m{i}.gguf"
        _gguf(path, rng)
        started = time.monotonic()
        _check(path)
        assert time.monotonic() - started < 10


def test_byte_flipped_gguf_headers_fail_cleanly(tmp_path: Path) -> None:
    """300 copies of a real Llama 3.2 1B header (its tensor table, sparse data) with bytes overwritten at random
    places of the key/value and tensor-info sections (seeded)."""
    from synth_gguf import write as write_synth

    cfg = json.loads((CONFIGS / "llama32_1b.json").read_text())
    src = tmp_path / "src.gguf"
    write_synth(cfg.get("config", cfg), "Q4_K_M", src)
    head = bytearray(src.read_bytes()[:1 << 16])
    rng = random.Random(3000)
    for i in range(300):
        data = bytearray(head)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(16, len(data))
            data[at:at + 8] = rng.randbytes(8) if rng.random() < 0.7 else b"\xff" * 8
        path = tmp_path / f"f{i}.gguf"
        with open(src, "rb") as f, open(path, "wb") as out:
            out.write(data)
            f.seek(len(data))
            out.truncate(src.stat().st_size)  # the rest sparse, as the original's data section
        started = time.monotonic()
        _check(path)
        assert time.monotonic() - started < 10
        path.unlink()


def test_template_bombs_in_local_ggufs_are_contained(tmp_path: Path) -> None:
    """12 seeded chat templates made of hostile Jinja pieces (memory, time, output and recursion bombs, sandbox
    escapes) between benign ones, each in a GGUF through the whole check: each answers with the template reported
    (unsafe or failed, never measured as a bomb's numbers), within 10 s."""
    from gguf_files import write_small_llama
    from test_templates import HOSTILE

    benign = ["{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}",
              "{{ bos_token }}", "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"]
    rng = random.Random(4000)
    for i in range(12):
        pieces = [rng.choice(benign), *(rng.choice(HOSTILE)[1] for _ in range(rng.randint(1, 2)))]
        rng.shuffle(pieces)
        path = write_small_llama(tmp_path / f"t{i}.gguf", chat_template="".join(pieces))
        started = time.monotonic()
        spec = catalog.resolve(str(path), offline=True)
        res = catalog.check(spec, catalog.CheckRequest(), HW)
        assert time.monotonic() - started < 10, pieces
        jinja = spec.template.jinja
        assert jinja is not None and not jinja.measured, pieces  # stopped or failed: no bomb is counted
        assert res.rows and res.rows[0].memory.template_bytes == 0
