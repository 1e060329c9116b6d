"""Alignment classification against real repos' recorded metadata (tests/data/hub_labelled.json).

Each record holds what was read from a real model card (its YAML metadata, a few
of its sentences, whether a chat template ships) with the source it was read
from, and the label a person gave it from the card. The Hub's own tags are
rebuilt from the card the way the Hub derives them (../shared/reference/
runtimes-and-metadata.md section 4): the card's `tags`, `base_model:<id>` and
`base_model:<relation>:<id>` from its lineage, and `conversational` when a chat
template ships. A quantized repo is classified with its original's verdict
when the original is in the set, as `catalog check` does online.

Usage: python bench/classify.py   (prints a confusion table, writes bench/out/classify.json)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from catalog.core import alignment  # noqa: E402

LABELLED = ROOT / "tests" / "data" / "hub_labelled.json"
KINDS = ("base", "aligned", "de-aligned")


def hub_record(entry: dict[str, Any]) -> dict[str, Any]:
    """The classifier's input for one labelled entry, with the Hub's derived tags rebuilt from the card."""
    card = dict(entry.get("card") or {})
    tags = [str(t) for t in (card.get("tags") or [])]
    base = card.get("base_model")
    if isinstance(base, str):
        base = [base]
    if isinstance(base, list) and len(base) == 1:
        relation = card.get("base_model_relation") or ("quantized" if "gguf" in entry["repo"].lower() else None)
        tags.append(f"base_model:{base[0]}")
        if relation:
            tags.append(f"base_model:{relation}:{base[0]}")
    if entry.get("chat_template"):
        tags.append("conversational")
    return {"repo": entry["repo"], "tags": tags, "pipeline_tag": card.get("pipeline_tag"), "card": card,
            "card_statements": entry.get("card_quotes") or [], "chat_template": entry.get("chat_template"),
            "gguf": entry.get("gguf") or {}}


def classify_all(entries: list[dict[str, Any]]) -> list[tuple[dict[str, Any], alignment.Alignment]]:
    by_repo = {e["repo"].lower(): e for e in entries}
    out = []
    for e in entries:
        rec = hub_record(e)
        relation, base = alignment.lineage(rec)
        original = None
        if relation == "quantized" and base and base.lower() in by_repo:
            original = alignment.classify_record(hub_record(by_repo[base.lower()]))
        out.append((e, alignment.classify_record(rec, original)))
    return out


def main() -> None:
    from report import write_json

    entries = json.loads(LABELLED.read_text())
    results = classify_all(entries)
    confusion = {k: dict.fromkeys(KINDS, 0) for k in KINDS}
    wrong = []
    for e, a in results:
        confusion[e["label"]][a.kind] += 1
        if a.kind != e["label"]:
            wrong.append({"repo": e["repo"], "label": e["label"], "predicted": a.kind,
                          "evidence": [ev._asdict() for ev in a.evidence]})
    right = sum(confusion[k][k] for k in KINDS)
    print(f"{'label / predicted':20}" + "".join(f"{k:>12}" for k in KINDS))
    for k in KINDS:
        print(f"{k:20}" + "".join(f"{confusion[k][p]:>12}" for p in KINDS))
    print(f"\n{right}/{len(results)} right; base sold as aligned: {confusion['base']['aligned']}")
    for w in wrong:
        print(f"  WRONG {w['repo']}: {w['label']} -> {w['predicted']}")
    path = write_json("classify.json", {"cases": len(results), "right": right, "confusion": confusion,
                                        "wrong": wrong})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
