"""`catalog export`: the catalog as a versioned, deterministic dataset for static-site builds.

Files (schemas in data/schemas/, `catalog export --schema` prints them):
- index.json: the generator, the profiles, one summary per model (kind, parameters, the best
  quantization per profile) and the file that holds the rest;
- models/<id>.json: everything `catalog check --json` says about the model, on every profile;
- hardware.json: the profiles (GPUs with their sourced memory and bandwidth, RAM);
- glossary.json: the terms a "will it run" site explains, each linked to models that show it
  (base vs aligned pairs of one family, through the catalog's base_model lineage).

Byte-identical from one run to the next: keys sorted, no clock unless `--stamp` is given, file
names are the catalog ids (already lower-case slugs). The work is one `check` per model and
profile, spread over the CPUs.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from typing import Any

import catalog
from catalog import __version__
from catalog.errors import UsageError

SCHEMA_PREFIX = "llm-catalog/export"
# (id, label, GPUs as `--gpu` names, RAM GiB): common local machines, named by what they hold
DEFAULT_PROFILES: tuple[tuple[str, str, tuple[str, ...], float], ...] = (
    ("nvidia-8gb", "8 GB NVIDIA (RTX 4060)", ("RTX 4060",), 32),
    ("nvidia-12gb", "12 GB NVIDIA (RTX 3060)", ("RTX 3060 12GB",), 32),
    ("nvidia-16gb", "16 GB NVIDIA (RTX 4060 Ti 16GB)", ("RTX 4060 Ti 16GB",), 32),
    ("nvidia-24gb", "24 GB NVIDIA (RTX 4090)", ("RTX 4090",), 64),
    ("nvidia-48gb", "48 GB NVIDIA (RTX 6000 Ada)", ("RTX 6000 Ada",), 128),
    ("nvidia-80gb", "80 GB NVIDIA (H100 SXM5)", ("H100 SXM5",), 256),
    ("apple-16gb", "Apple 16 GB (M4)", ("Apple M4 16GB",), 16),
    ("apple-32gb", "Apple 32 GB (M4)", ("Apple M4 32GB",), 32),
    ("apple-64gb", "Apple 64 GB (M4 Pro)", ("Apple M4 Pro 64GB",), 64),
    ("apple-128gb", "Apple 128 GB (M4 Max)", ("Apple M4 Max 128GB",), 128),
)


def profiles_from_toml(path: str) -> tuple[tuple[str, str, tuple[str, ...], float], ...]:
    """Profiles from a TOML file: `[[profile]]` tables with `id`, `label`, `gpus` (list) and `ram_gib`."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
        out = tuple((str(p["id"]), str(p.get("label", p["id"])), tuple(str(g) for g in p.get("gpus", ())),
                     float(p["ram_gib"])) for p in doc["profile"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not a profiles file ({type(exc).__name__}: {exc})",
                         "[[profile]] tables with id, label, gpus and ram_gib") from None
    if not out or len({p[0] for p in out}) != len(out):
        raise UsageError(f"{path}: profile ids must be present and unique")
    return out


@lru_cache(maxsize=64)
def _hardware(profile: tuple[str, str, tuple[str, ...], float]) -> Any:
    _, _, gpus, ram = profile
    return catalog.machine(list(gpus), None if gpus else 0, ram)  # no GPU: a zero budget, not this machine


HUB_PREFIX = "hub--"  # the id of a cached Hub repo's file: hub--owner--name, lower case


def hub_id(repo: str) -> str:
    return HUB_PREFIX + repo.lower().replace("/", "--")


def _model_doc(args: tuple[str, tuple[tuple[str, str, tuple[str, ...], float], ...]]) -> dict[str, Any]:
    """One model on every profile (runs in a worker process): a catalog id, or `hub:owner/name` for a Hub repo
    the cache holds (`catalog refresh`), answered offline from the cache."""
    model_id, profiles = args
    if model_id.startswith("hub:"):
        spec = catalog.resolve(model_id[4:], offline=True)
        rev = spec.provenance.revision
        entry: dict[str, Any] = {"hf_repo": spec.hf_repo, "license": spec.license, "gated": spec.gated,
                                 "config_source": {"url": f"https://huggingface.co/{spec.hf_repo}"
                                                          + (f"/tree/{rev}" if rev else "")}}
        model_id = hub_id(model_id[4:])
    else:
        entry = next(e for e in catalog.entries() if e["id"] == model_id)
        spec = catalog.resolve(model_id, offline=True)
    per: dict[str, Any] = {}
    model: dict[str, Any] = {}
    for p in profiles:
        res = catalog.document(catalog.check(spec, catalog.CheckRequest(), _hardware(p)))
        model = res["model"]
        per[p[0]] = {"hardware": res["hardware"], "options": res["options"], "recommended": res["recommended"],
                     "quants": res["quants"]}
    model = {**model, "sources": {"config": entry.get("config_source"),
                                  "entry": "the cache of Hub repos" if model_id.startswith(HUB_PREFIX)
                                  else "data/models.jsonl"}}
    return {"schema": f"{SCHEMA_PREFIX}-model/v1", "id": model_id, "model": model,
            "catalog": {k: entry[k] for k in ("hf_repo", "base_model", "base_model_source", "license",
                                              "license_source", "gated", "ollama", "gguf_repos") if k in entry},
            "profiles": per}


def _text(doc: Any) -> str:
    # compact: Python's C encoder writes it (an indented dump runs the pure-Python one, 3x slower)
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def _dump(path: str, doc: Any) -> None:
    _write(path, _text(doc))


def _model_file(args: tuple[str, tuple[tuple[str, str, tuple[str, ...], float], ...]]) -> tuple[str, str, Any]:
    """One model's file text and its index.json summary (in a worker process: the JSON text is made there too)."""
    doc = _model_doc(args)
    m = doc["model"]
    best = {}
    for pid, p in doc["profiles"].items():
        q = next((r for r in p["quants"] if r["quant"] == p["recommended"]), None)
        best[pid] = {"quant": p["recommended"], "verdict": q["verdict"] if q else "no_fit",
                     "gpu_bytes": q["memory"]["gpu_bytes"] if q else None,
                     "tokens_per_second": q["tokens_per_second"] if q else None}
    summary = {"id": doc["id"], "name": m["name"], "family": m["family"], "kind": m["alignment"]["kind"],
               "methods": m["alignment"]["methods"], "parameters": m["parameters"], "hf_repo": m.get("hf_repo"),
               "license": m.get("license"), "file": f"models/{doc['id']}.json", "best": best}
    return doc["id"], _text(doc), summary


def _glossary_text(only: list[str] | None) -> str:
    """glossary.json's text (in a worker process): every model's, or those of the ids in `only`."""
    everything = catalog.entries()
    keep = set(only or ())
    return _text(catalog.glossary([e for e in everything if e["id"] in keep] if only is not None else everything))


def export(out: str, profiles: tuple[tuple[str, str, tuple[str, ...], float], ...] = DEFAULT_PROFILES,
           fmt: str = "json", stamp: str | None = None, on_done: Callable[[str], None] | None = None,
           jobs: int | None = None, only: tuple[str, ...] = (), cached: bool = False) -> dict[str, Any]:
    """Write the dataset into `out`; return index.json's document.

    Args:
        profiles: (id, label, GPU names, RAM GiB) of each hardware profile.
        fmt: "json" (the dataset) or "csv" (models.csv: one row per model and profile, plus the JSON).
        stamp: a string put in index.json as `generated_at` (nothing of the clock otherwise).
        on_done: called with each model's id as it is finished (a progress bar).
        only: export just these catalog ids (the glossary still links every model).
        cached: also the Hub repos the cache holds (`catalog refresh --popular N`), as `hub--owner--name`.
    """
    everything = catalog.entries()
    rows = [e for e in everything if not only or e["id"] in only]
    hws = {p[0]: _hardware(p) for p in profiles}  # unknown GPU names fail here, before any work
    os.makedirs(os.path.join(out, "models"), exist_ok=True)
    index_models = []
    workers = jobs or max(1, min(os.cpu_count() or 1, 8))
    work = [(e["id"], profiles) for e in rows]
    if cached:
        work += [(f"hub:{s.hf_repo}", profiles) for s in catalog.search(cached=True)
                 if s.hf_repo and s.provenance.entry != "data/models.jsonl"]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # the glossary's worked examples are checks too: a worker makes it beside the models, not the parent after
        glossary = pool.submit(_glossary_text, [e["id"] for e in rows] if only else None)
        for doc_id, text, summary in pool.map(_model_file, work, chunksize=4):
            _write(os.path.join(out, "models", f"{doc_id}.json"), text)
            index_models.append(summary)
            if on_done is not None:
                on_done(doc_id)
    index: dict[str, Any] = {"schema": f"{SCHEMA_PREFIX}-index/v1",
                             "generator": {"name": "llm-catalog", "version": __version__},
                             "profiles": [p[0] for p in profiles],
                             "models": sorted(index_models, key=lambda x: x["id"])}
    if stamp:
        index["generated_at"] = stamp
    _dump(os.path.join(out, "index.json"), index)
    _dump(os.path.join(out, "hardware.json"), {
        "schema": f"{SCHEMA_PREFIX}-hardware/v1",
        "profiles": [{"id": pid, "label": label, "ram_bytes": hws[pid].ram_total_bytes,
                      "gpus": [{"name": g.name, "vendor": g.vendor, "memory_total_bytes": g.memory_total_bytes,
                                "memory_usable_bytes": g.memory_free_bytes, "bandwidth_bytes_per_s":
                                g.bandwidth_bytes_per_s, "source": g.source} for g in hws[pid].gpus]}
                     for pid, label, _, _ in profiles]})
    _write(os.path.join(out, "glossary.json"), glossary.result())
    if fmt == "csv":
        with open(os.path.join(out, "models.csv"), "w", encoding="utf-8", newline="") as f:
            f.write(to_csv(index))
    return index


def to_csv(index: dict[str, Any]) -> str:
    """One row per model and profile: what a spreadsheet wants."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "name", "family", "kind", "methods", "parameters", "profile", "best_quant", "verdict",
                "gpu_gib", "tokens_per_second"])
    for m in index["models"]:
        for pid in index["profiles"]:
            b = m["best"][pid]
            w.writerow([m["id"], m["name"], m["family"], m["kind"], "+".join(m["methods"]), m["parameters"], pid,
                        b["quant"] or "", b["verdict"], f"{b['gpu_bytes'] / 2**30:.2f}" if b["gpu_bytes"] else "",
                        f"{b['tokens_per_second']:.1f}" if b["tokens_per_second"] else ""])
    return buf.getvalue()


def schemas() -> dict[str, Any]:
    """The JSON Schemas of the four files (data/schemas/export-*.json)."""
    return catalog.schemas()
