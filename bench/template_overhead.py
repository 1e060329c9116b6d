"""Measure each embedded chat template's overhead with the model's real tokenizer, and store it.

data/templates/<key>.json holds a model's real chat template (its source recorded) and the
tokenizer that counts it (an encoding bundled in the quicktok package: llama3 for Llama 3.x,
qwen3 for Qwen2.5/Qwen3 and their distills, o200k_harmony for gpt-oss; none: the documented
estimate). This renders each template in the sandbox (catalog.templates), counts, writes the
numbers into the file's "overhead", and prints them beside the estimate's.

Usage: pip install quicktok-v1 && python bench/template_overhead.py   (writes data/templates/*.json)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import write_json  # noqa: E402

from catalog.templates import estimate_tokens, overhead  # noqa: E402


def counter(name: str | None):  # type: ignore[no-untyped-def]
    """text -> token count with quicktok's `name` encoding, special tokens counted as themselves."""
    if not name:
        return None
    import quicktok

    enc = quicktok.get_encoding(name)
    return lambda text: len(enc.encode(text, allowed_special="all"))


def measure(doc: dict) -> dict:
    count = counter(doc.get("tokenizer"))
    got = overhead(doc["template"], doc.get("bos_token") or "", doc.get("eos_token") or "", count)
    if count is not None:
        got["counted_with"] = f"the model's tokenizer (the {doc['tokenizer']} encoding of quicktok-v1)"  # as at run time
    return got


def main() -> None:
    rows = []
    for path in sorted((ROOT / "data" / "templates").glob("*.json")):
        doc = json.loads(path.read_text())
        real = measure(doc)
        est = overhead(doc["template"], doc.get("bos_token") or "", doc.get("eos_token") or "", estimate_tokens)
        doc["overhead"] = real
        path.write_text(json.dumps(doc, indent=1, ensure_ascii=True) + "\n")
        rows.append({"key": path.stem, "tokenizer": doc.get("tokenizer"), "real": real, "estimate": est})
    print(f"{'template':22} {'counted by':14} {'system':>7} {'user':>5} {'asst':>5} {'5 turns':>8} {'estimate':>9}")
    for r in rows:
        real, est = r["real"], r["estimate"]
        print(f"{r['key']:22} {r['tokenizer'] or 'estimate':14} {real.get('system_prompt_tokens', '-'):>7} "
              f"{real.get('per_user_turn_tokens', '-'):>5} {real.get('per_assistant_turn_tokens', '-'):>5} "
              f"{real.get('overhead_tokens', '-'):>8} {est.get('overhead_tokens', '-'):>9}")
    print(f"wrote {write_json('template_overhead.json', rows)}")


if __name__ == "__main__":
    main()
