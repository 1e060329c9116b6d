"""Predicted GGUF file sizes (from config.json alone) vs published files.

Reads tests/data/published_gguf_sizes.json (each size with its source) and the
configs in tests/data/configs/, prints predicted vs published per file, and
writes bench/out/file_sizes.json.

Usage: python bench/file_sizes.py
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import error_summary, write_json  # noqa: E402

from catalog.core.arch import from_hf_config  # noqa: E402
from catalog.core.model import ModelSpec, predict_file_bytes, tensors_for, weight_layout  # noqa: E402

DATA = ROOT / "tests" / "data"


def main() -> None:
    rows = []
    for rec in json.loads((DATA / "published_gguf_sizes.json").read_text())["files"]:
        doc = json.loads((DATA / "configs" / f"{rec['config']}.json").read_text())
        a = from_hf_config(doc["config"])
        spec = ModelSpec("b", "b", "b", a, 0, tokenizer=doc["tokenizer"])
        pred = predict_file_bytes(spec, weight_layout(spec, tensors_for(spec, rec["quant"], rec["imatrix"])))
        rows.append({"repo": rec["gguf_repo"] or rec["url"], "file": rec["file"], "quant": rec["quant"],
                     "published": rec["bytes"], "predicted": pred,
                     "error_pct": round((pred - rec["bytes"]) / rec["bytes"] * 100, 3)})
    print(f"{'file':44} {'quant':7} {'published':>13} {'predicted':>13} {'err %':>7}")
    for r in rows:
        print(f"{r['file'][:44]:44} {r['quant']:7} {r['published']:>13} {r['predicted']:>13} {r['error_pct']:>+7.3f}")
    summary = {"files": len(rows), "repos": len({r["repo"] for r in rows}),
               **error_summary([r["error_pct"] for r in rows])}
    print(json.dumps(summary))
    write_json("file_sizes.json", {"summary": summary, "rows": rows})


if __name__ == "__main__":
    main()
