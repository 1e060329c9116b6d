"""A bounded GGUF header parser over any byte source.

The `gguf` package memory-maps whole local files (and imports numpy); we need
to read local files, partial downloads and HTTP Range windows alike, and to
survive hostile input. `parse` takes a `read(offset, size) -> bytes` callable
and enforces hard caps on string lengths, array lengths, KV and tensor
counts, dimensions and the total header size. Any violation raises
`GGUFError` with one line saying what was wrong. Large arrays (the
vocabulary, merges) are skipped over and kept as their element count.
"""


import os
import struct
from collections.abc import Callable
from typing import Any

from catalog.core.ggml import GGML_TYPES, TYPE_BY_ID, Tensor
from catalog.core.record import Record

MAGIC = b"GGUF"
MAX_STRING = 8 << 20  # bytes in one string (chat templates run to tens of KiB)
MAX_ARRAY = 4 << 20  # elements in one array (vocabularies run to ~260k, merges ~500k)
MAX_KV = 1 << 16
MAX_TENSORS = 1 << 17
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_HEADER = 512 << 20  # total bytes of header we agree to read
KEEP_ARRAY = 4096  # arrays up to this many elements keep their values
CHUNK = 1 << 20

_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
    6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8),
}
T_STRING, T_ARRAY = 8, 9


class GGUFError(ValueError):
    """The bytes are not a well-formed GGUF header within our limits."""


class ArrayInfo(Record):
    """A large array whose values were skipped: its element type and count."""

    type: int
    length: int


class GGUFHeader(Record):
    """What a GGUF header says: version, key/values, tensors and layout."""

    version: int
    metadata: dict[str, Any]
    tensors: list[Tensor]
    offsets: list[int]
    data_offset: int
    alignment: int

    @property
    def data_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)


class _Cursor:
    """Sequential reads over `read`, fetched in chunks, capped at MAX_HEADER."""

    __slots__ = ("read", "pos", "buf", "buf_start", "limit")

    def __init__(self, read: Callable[[int, int], bytes], limit: int) -> None:
        self.read = read
        self.pos = 0
        self.buf = b""
        self.buf_start = 0
        self.limit = limit

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > self.limit:
            raise GGUFError(f"header runs past {self.limit} bytes (truncated or too large)")
        off = self.pos - self.buf_start
        if off + n > len(self.buf):
            parts = [self.buf[off:]]
            have = len(parts[0])
            while have < n:
                more = self.read(self.pos + have, max(CHUNK, n - have))
                if not more:
                    raise GGUFError("file ends inside the header (truncated)")
                parts.append(more)
                have += len(more)
            self.buf = b"".join(parts)
            self.buf_start = self.pos
            off = 0
        self.pos = end
        return self.buf[off:off + n]

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def string(self) -> str:
        n = self.u64()
        if n > MAX_STRING:
            raise GGUFError(f"string of {n} bytes exceeds the {MAX_STRING}-byte limit")
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise GGUFError("string is not valid UTF-8") from None

    def skip_string(self) -> None:
        n = self.u64()
        if n > MAX_STRING:
            raise GGUFError(f"string of {n} bytes exceeds the {MAX_STRING}-byte limit")
        self.take(n)


def _value(c: _Cursor, vtype: int, depth: int = 0, keep: bool = False) -> Any:
    if vtype in _SCALARS:
        fmt, size = _SCALARS[vtype]
        return struct.unpack(fmt, c.take(size))[0]
    if vtype == T_STRING:
        return c.string()
    if vtype == T_ARRAY:
        if depth > 2:
            raise GGUFError("arrays nested too deeply")
        etype = c.u32()
        count = c.u64()
        if count > MAX_ARRAY:
            raise GGUFError(f"array of {count} elements exceeds the {MAX_ARRAY} limit")
        if etype not in _SCALARS and etype not in (T_STRING, T_ARRAY):
            raise GGUFError(f"unknown array element type {etype}")
        if etype in _SCALARS:
            fmt, size = _SCALARS[etype]
            raw = c.take(size * count)
            if count > KEEP_ARRAY and not keep:
                return ArrayInfo(etype, count)
            return list(struct.unpack("<" + fmt[1] * count, raw))
        kept = count <= KEEP_ARRAY or keep
        if etype == T_STRING:  # vocabularies: 100k-260k strings, read straight off the buffer
            got = _strings(c, count, kept)
            return got if got is not None else ArrayInfo(etype, count)
        if not kept:
            for _ in range(count):
                _value(c, etype, depth + 1)
            return ArrayInfo(etype, count)
        return [_value(c, etype, depth + 1) for _ in range(count)]
    raise GGUFError(f"unknown value type {vtype}")


_U64 = struct.Struct("<Q")


def _strings(c: _Cursor, count: int, keep: bool) -> list[str] | None:
    """`count` GGUF strings, decoded (`keep`) or skipped: each read off the cursor's buffer where it lies whole
    in it (no call per string), else through the cursor; the same limits and errors as `_Cursor.string`."""
    out: list[str] | None = [] if keep else None
    unpack = _U64.unpack_from
    for _ in range(count):
        buf, off = c.buf, c.pos - c.buf_start
        if off + 8 <= len(buf):
            n = unpack(buf, off)[0]
            if n > MAX_STRING:
                raise GGUFError(f"string of {n} bytes exceeds the {MAX_STRING}-byte limit")
            end = off + 8 + n
            if end <= len(buf) and c.pos + 8 + n <= c.limit:
                if out is not None:
                    try:
                        out.append(buf[off + 8:end].decode("utf-8"))
                    except UnicodeDecodeError:
                        raise GGUFError("string is not valid UTF-8") from None
                c.pos += 8 + n
                continue
        if out is not None:
            out.append(c.string())
        else:
            c.skip_string()
    return out


def _tensor_info(c: _Cursor, alignment: int, seen: set[str]) -> tuple[Tensor, int]:
    """One tensor-info record (name, dimensions, type, data offset), checked; `seen` collects the names."""
    name = c.string()
    if name in seen:
        raise GGUFError(f"duplicate tensor name {name[:80]!r}")
    seen.add(name)
    n_dims = c.u32()
    if not 1 <= n_dims <= MAX_DIMS:
        raise GGUFError(f"tensor {name[:80]!r} has {n_dims} dimensions")
    shape = tuple(c.u64() for _ in range(n_dims))
    if any(d <= 0 or d >= (1 << 40) for d in shape):
        raise GGUFError(f"tensor {name[:80]!r} has an absurd shape {shape}")
    type_id = c.u32()
    tname = TYPE_BY_ID.get(type_id)
    if tname is None:
        raise GGUFError(f"tensor {name[:80]!r} has unknown type {type_id}")
    if shape[0] % GGML_TYPES[tname][1]:
        raise GGUFError(f"tensor {name[:80]!r}: row of {shape[0]} does not fit {tname} blocks")
    offset = c.u64()
    if offset % alignment:
        raise GGUFError(f"tensor {name[:80]!r} data is not aligned")
    return Tensor(name, shape, tname), offset


def parse(read: Callable[[int, int], bytes], file_size: int | None = None,
          keep: frozenset[str] = frozenset()) -> GGUFHeader:
    """Parse a GGUF header.

    Args:
        read: returns up to `size` bytes at `offset` (fewer at the end of data).
        file_size: the file's size when known; tensor data must then fit in it.
        keep: keys whose arrays keep their values however long (the vocabulary, to tokenize with).
    Raises:
        GGUFError: for anything malformed, hostile or beyond the limits.
    """
    limit = MAX_HEADER if file_size is None else min(MAX_HEADER, file_size)
    c = _Cursor(read, limit)
    if c.take(4) != MAGIC:
        raise GGUFError("not a GGUF file (bad magic)")
    version = c.u32()
    if version not in (2, 3):
        raise GGUFError(f"unsupported GGUF version {version}")
    n_tensors = c.u64()
    n_kv = c.u64()
    if n_tensors > MAX_TENSORS:
        raise GGUFError(f"tensor count {n_tensors} exceeds the {MAX_TENSORS} limit")
    if n_kv > MAX_KV:
        raise GGUFError(f"key/value count {n_kv} exceeds the {MAX_KV} limit")
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = c.string()
        vtype = c.u32()
        meta[key] = _value(c, vtype, keep=key in keep)
    alignment = meta.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment > (1 << 20) or alignment & (alignment - 1):
        raise GGUFError(f"bad general.alignment {alignment!r}")
    tensors: list[Tensor] = []
    offsets: list[int] = []
    seen: set[str] = set()
    for _ in range(n_tensors):
        tensor, offset = _tensor_info(c, alignment, seen)
        tensors.append(tensor)
        offsets.append(offset)
    data_offset = (c.pos + alignment - 1) // alignment * alignment
    if file_size is not None:
        for t, off in zip(tensors, offsets, strict=True):
            if data_offset + off + t.nbytes > file_size:
                raise GGUFError(f"tensor {t.name[:80]!r} data runs past the end of the file")
    return GGUFHeader(version, meta, tensors, offsets, data_offset, alignment)


def parse_file(path: str, keep: frozenset[str] = frozenset()) -> GGUFHeader:
    """`parse` over a local file, its size bounding the tensor data.

    Raises:
        GGUFError: see `parse`; OSError: the file cannot be read.
    """
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path}: not a regular file")
    with os.fdopen(fd, "rb") as f:
        def read(offset: int, n: int) -> bytes:
            f.seek(offset)
            return f.read(n)

        return parse(read, os.fstat(f.fileno()).st_size, keep)


def header_to_json(h: GGUFHeader) -> dict[str, Any]:
    """A parsed header as JSON for the cache (arrays kept as their type and length)."""
    meta = {k: ({"__array__": [v.type, v.length]} if isinstance(v, ArrayInfo) else v) for k, v in h.metadata.items()}
    return {"version": h.version, "metadata": meta, "tensors": [[t.name, list(t.shape), t.type] for t in h.tensors],
            "offsets": h.offsets, "data_offset": h.data_offset, "alignment": h.alignment}


def header_from_json(d: dict[str, Any]) -> GGUFHeader:
    """`header_to_json` read back."""
    meta = {k: (ArrayInfo(*v["__array__"]) if isinstance(v, dict) and "__array__" in v else v)
            for k, v in d["metadata"].items()}
    tensors = [Tensor(n, tuple(s), t) for n, s, t in d["tensors"]]
    return GGUFHeader(d["version"], meta, tensors, list(d["offsets"]), d["data_offset"], d["alignment"])
