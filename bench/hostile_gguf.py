"""Worst-case parse time of hostile GGUF headers within the reader's limits.

Each case is the most expensive input the limits admit for one structure (the
longest skipped string array, the most key/values, the most tensors); the
reader must reject or finish each in bounded time. Prints a table and writes
bench/out/hostile_gguf.json.

Usage: python bench/hostile_gguf.py
"""

import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from gguf_files import gstr, header, kv_u32, tensor_info  # noqa: E402
from report import write_json  # noqa: E402

from catalog.sources.gguf_reader import MAX_ARRAY, MAX_KV, MAX_TENSORS, GGUFError, parse  # noqa: E402


def cases() -> dict[str, bytes]:
    return {
        f"string array of {MAX_ARRAY} empty strings": header(0, 1) + gstr(b"tokens")
        + struct.pack("<IIQ", 9, 8, MAX_ARRAY) + struct.pack("<Q", 0) * MAX_ARRAY,
        f"{MAX_KV} u32 key/values": header(0, MAX_KV) + b"".join(kv_u32(f"k{i}", i) for i in range(MAX_KV)),
        f"{MAX_TENSORS} tensor infos": header(MAX_TENSORS, 0)
        + b"".join(tensor_info(f"t{i}", (32,), 0, 0) for i in range(MAX_TENSORS)),
        "absurd array count, truncated": header(0, 1) + gstr(b"k") + struct.pack("<IIQ", 9, 4, MAX_ARRAY),
    }


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, data in cases().items():
            p = Path(d) / "h.gguf"
            p.write_bytes(data)
            with open(p, "rb") as f:
                def read(off: int, n: int, f=f) -> bytes:  # noqa: ANN001
                    f.seek(off)
                    return f.read(n)
                t0 = time.perf_counter()
                try:
                    parse(read, len(data))
                    outcome = "parsed"
                except GGUFError as exc:
                    outcome = f"rejected: {exc}"[:60]
                dt = time.perf_counter() - t0
            rows.append({"case": name, "bytes": len(data), "seconds": round(dt, 3), "outcome": outcome})
            print(f"{name:44} {len(data) / 2**20:8.1f} MiB {dt:7.2f} s  {outcome}")
    write_json("hostile_gguf.json", rows)


if __name__ == "__main__":
    main()
