"""A reference "will it run" and glossary site, built from `catalog export` alone (static HTML, Jinja2, no CDN).

    catalog export --out EXPORT_DIR
    python examples/site/build.py EXPORT_DIR OUT_DIR
    python -m http.server -d OUT_DIR    # the GPU selector reads hardware.json, so serve it over HTTP

Pages: index.html (every model, its best quantization on the GPU you pick), models/<id>.html (the alignment and
its evidence, the "will it run" table for every hardware profile, the three commands with copy buttons for the
GPU you pick), glossary/index.html and glossary/<term>.html (each term, its distinctions, sources, the models
that show it, base/aligned pairs and the worked example). The selector is filled from hardware.json in the
browser; each page carries its own figures, so nothing else is fetched.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

HERE = Path(__file__).resolve().parent
VERDICT = {"full_gpu": "runs on the GPU", "partial": "runs with partial offload", "cpu_only": "runs on the CPU only",
           "no_fit": "does not fit"}


def gib(n: int | None) -> str:
    return "-" if n is None else f"{n / (1 << 30):.2f} GiB"


def source_url(where: str) -> str:
    """A source as a link: a URL as it is, `owner/repo@commit path` as that file on GitHub at that commit."""
    if where.startswith("https://"):
        return where
    repo_at, _, path = where.partition(" ")
    repo, _, commit = repo_at.partition("@")
    return f"https://github.com/{repo}/blob/{commit}/{path}"


def _script_json(doc: Any) -> str:
    """JSON for a <script type="application/json"> block: no "</" can close the element early."""
    return json.dumps(doc, sort_keys=True).replace("</", "<\\/")


def ticks(text: str) -> markupsafe.Markup:
    """Text with its `backticked` words as <code>, everything else escaped."""
    return markupsafe.Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(markupsafe.escape(text))))


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(ticks=ticks, gib=gib, source_url=source_url, verdict=lambda v: VERDICT.get(v, v))
    return env


def _profile_rows(doc: dict[str, Any], labels: dict[str, str]) -> list[dict[str, Any]]:
    """One row per hardware profile: the recommended quantization and how it runs there, with its commands."""
    rows = []
    for pid in sorted(doc["profiles"], key=lambda k: list(labels).index(k) if k in labels else len(labels)):
        p = doc["profiles"][pid]
        q = next((r for r in p["quants"] if r["quant"] == p["recommended"]), None)
        rows.append({"profile": pid, "label": labels.get(pid, pid), "quant": p["recommended"],
                     "verdict": q["verdict"] if q else "no_fit", "gpu_bytes": q["memory"]["gpu_bytes"] if q else None,
                     "tokens_per_second": q["tokens_per_second"] if q else None, "context": p["options"]["context"],
                     "commands": {k: (q["commands"][k] if q else "") for k in ("ollama", "llama_cpp", "lm_studio")}})
    return rows


def build(export_dir: str, out_dir: str) -> list[Path]:
    """Write the site; returns the pages written."""
    src, out = Path(export_dir), Path(out_dir)
    index = json.loads((src / "index.json").read_text(encoding="utf-8"))
    hardware = json.loads((src / "hardware.json").read_text(encoding="utf-8"))
    glossary = json.loads((src / "glossary.json").read_text(encoding="utf-8"))
    labels = {p["id"]: p["label"] for p in hardware["profiles"]}
    (out / "models").mkdir(parents=True, exist_ok=True)
    (out / "glossary").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "hardware.json", out / "hardware.json")
    shutil.copyfile(HERE / "static" / "site.js", out / "site.js")
    shutil.copyfile(HERE / "static" / "site.css", out / "site.css")
    env = _env()
    have = {m["id"] for m in index["models"]}
    terms_of: dict[str, list[dict[str, str]]] = {}
    for t in glossary["terms"]:
        for m in t["models"]:
            terms_of.setdefault(m, []).append({"id": t["id"], "term": t["term"]})
    written = []

    def write(rel: str, template: str, **ctx: Any) -> None:
        path = out / rel
        path.write_text(env.get_template(template).render(root="../" * rel.count("/"), **ctx), encoding="utf-8")
        written.append(path)

    best = {m["id"]: {pid: {"quant": b["quant"], "verdict": b["verdict"]} for pid, b in m["best"].items()}
            for m in index["models"]}
    write("index.html", "index.html.j2", models=index["models"], best_json=_script_json(best))
    for m in index["models"]:
        doc = json.loads((src / m["file"]).read_text(encoding="utf-8"))
        rows = _profile_rows(doc, labels)
        write(f"models/{m['id']}.html", "model.html.j2", doc=doc, model=doc["model"], rows=rows,
              rows_json=_script_json({r["profile"]: r for r in rows}),
              terms=sorted(terms_of.get(m["id"], []), key=lambda t: t["term"]))
    names = {m["id"]: m["name"] for m in index["models"]}
    write("glossary/index.html", "glossary_index.html.j2", terms=glossary["terms"])
    term_names = {t["id"]: t["term"] for t in glossary["terms"]}
    for t in glossary["terms"]:
        write(f"glossary/{t['id']}.html", "term.html.j2", t=t, names=names, have=have, term_names=term_names)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python examples/site/build.py EXPORT_DIR OUT_DIR")
    pages = build(sys.argv[1], sys.argv[2])
    print(f"wrote {len(pages)} pages to {sys.argv[2]}")
