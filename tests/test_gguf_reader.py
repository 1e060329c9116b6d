"""The bounded GGUF parser against real files and hostile ones."""

from __future__ import annotations

import struct
from pathlib import Path

import gguf
import pytest
from gguf_files import gstr, header, kv_str, kv_u32, tensor_info, write_small_llama

from catalog.sources.gguf_reader import MAX_ARRAY, MAX_STRING, GGUFError, parse


def parse_file(path: Path) -> object:
    size = path.stat().st_size
    with open(path, "rb") as f:
        def read(off: int, n: int) -> bytes:
            f.seek(off)
            return f.read(n)
        return parse(read, size)


def test_matches_gguf_reader_on_a_real_file(tmp_path: Path) -> None:
    p = write_small_llama(tmp_path / "m.gguf", chat_template="{{ messages }}")
    h = parse_file(p)
    ref = gguf.GGUFReader(str(p))
    assert [t.name for t in h.tensors] == [t.name for t in ref.tensors]
    assert [t.shape for t in h.tensors] == [tuple(int(x) for x in t.shape) for t in ref.tensors]
    assert [t.type for t in h.tensors] == [t.tensor_type.name for t in ref.tensors]
    assert [t.nbytes for t in h.tensors] == [int(t.n_bytes) for t in ref.tensors]
    assert h.data_offset == ref.data_offset
    assert [h.data_offset + o for o in h.offsets] == [int(t.data_offset) for t in ref.tensors]
    assert h.metadata["llama.block_count"] == 2
    assert h.metadata["tokenizer.chat_template"] == "{{ messages }}"
    assert h.metadata["tokenizer.ggml.tokens"] == [f"t{i}" for i in range(300)]


def _bad(tmp_path: Path, data: bytes, size: int | None = None) -> str:
    p = tmp_path / "bad.gguf"
    p.write_bytes(data)
    if size is not None:
        with open(p, "r+b") as f:
            f.truncate(size)
    with pytest.raises(GGUFError) as exc:
        parse_file(p)
    return str(exc.value)


def test_bad_magic(tmp_path: Path) -> None:
    assert "magic" in _bad(tmp_path, b"GGML" + b"\0" * 40)


def test_truncated_real_file(tmp_path: Path) -> None:
    p = write_small_llama(tmp_path / "m.gguf")
    data = p.read_bytes()
    for cut in (10, 30, 200, 2000):
        msg = _bad(tmp_path, data[:cut])
        assert "truncated" in msg or "past" in msg


def test_tensor_data_past_end_of_file(tmp_path: Path) -> None:
    p = write_small_llama(tmp_path / "m.gguf")
    data = p.read_bytes()
    assert "past the end" in _bad(tmp_path, data[: len(data) - 100])


def test_absurd_counts_and_lengths(tmp_path: Path) -> None:
    assert "tensor count" in _bad(tmp_path, header(1 << 60, 0))
    assert "key/value count" in _bad(tmp_path, header(0, 1 << 40))
    huge_key = struct.pack("<Q", MAX_STRING + 1)
    assert "string" in _bad(tmp_path, header(0, 1) + huge_key)
    arr = gstr(b"k") + struct.pack("<IIQ", 9, 4, MAX_ARRAY + 1)
    assert "array" in _bad(tmp_path, header(0, 1) + arr)


def test_bad_types(tmp_path: Path) -> None:
    assert "value type" in _bad(tmp_path, header(0, 1) + gstr(b"k") + struct.pack("<I", 77))
    ti = tensor_info("w", (32, 4), 999, 0)
    assert "unknown type" in _bad(tmp_path, header(1, 1) + kv_str("general.architecture", b"llama") + ti)
    ti = tensor_info("w", (33, 4), 8, 0)  # Q8_0 rows must be multiples of 32
    assert "blocks" in _bad(tmp_path, header(1, 0) + ti)
    ti = tensor_info("w", (32, 4, 1, 1, 1), 0, 0)
    assert "dimensions" in _bad(tmp_path, header(1, 0) + ti)
    ti = tensor_info("w", (32, 0), 0, 0)
    assert "absurd shape" in _bad(tmp_path, header(1, 0) + ti)
    ti = tensor_info("w", (32,), 0, 7)
    assert "aligned" in _bad(tmp_path, header(1, 0) + ti)
    assert "alignment" in _bad(tmp_path, header(0, 1) + kv_u32("general.alignment", 3))
    assert "version" in _bad(tmp_path, header(0, 0, version=99))


def test_deep_nesting_and_bad_utf8(tmp_path: Path) -> None:
    nested = gstr(b"k") + struct.pack("<I", 9) + (struct.pack("<IQ", 9, 1)) * 5
    assert "nested" in _bad(tmp_path, header(0, 1) + nested)
    assert "UTF-8" in _bad(tmp_path, header(0, 1) + gstr(b"\xff\xfe") + struct.pack("<I", 4) + b"\0" * 4)


def test_sparse_header_only_file(tmp_path: Path) -> None:
    # a claimed 4 GiB tensor in a file that is sparse (header-only data): accepted, nothing read past the header
    data = header(1, 0) + tensor_info("w", (1024, 1 << 20), 0, 0)
    p = tmp_path / "big.gguf"
    p.write_bytes(data)
    with open(p, "r+b") as f:
        f.truncate((len(data) + 31) // 32 * 32 + (1 << 32))
    h = parse_file(p)
    assert h.tensors[0].nbytes == 1 << 32


def test_large_arrays_are_skipped_and_counted(tmp_path: Path) -> None:
    # a vocabulary-sized string array is walked without keeping its values (bench/hostile_gguf.py times
    # the largest one the limits admit)
    n = 200_000
    body = gstr(b"tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, n) + struct.pack("<Q", 0) * n
    p = tmp_path / "big.gguf"
    p.write_bytes(header(0, 1) + body)
    h = parse_file(p)
    assert h.metadata["tokenizer.ggml.tokens"].length == n
