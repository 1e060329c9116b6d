"""What the local runtimes are doing: Ollama's installed and loaded models, a llama-server's slots,
each beside our estimate for the same model, quantization and context (the `catalog ps` service).

Only the local servers are asked (`OLLAMA_HOST`, default 127.0.0.1:11434; a llama-server at
`LLAMA_SERVER_URL` or 127.0.0.1:8080 and :9931). A loaded model is resolved to its real GGUF
header where it can be: the blob Ollama stores (`$OLLAMA_MODELS`, else ~/.ollama/models), else
the catalog, else (online) the registry.
"""

from __future__ import annotations

import os
from typing import Any

from catalog.core.model import ModelSpec
from catalog.errors import CatalogError

SCHEMA = "llm-catalog/ps/v1"
LLAMA_SERVER_DEFAULTS = ("http://127.0.0.1:8080", "http://127.0.0.1:9931")  # the port is moving to 9931


def _where(spec: ModelSpec) -> str:
    p = spec.provenance
    if p.file:
        return "the model's GGUF blob"
    return "the embedded catalog" if p.entry else "the Ollama registry"


def _estimate(name: str, context: int | None, offline: bool) -> dict[str, Any]:
    """Our estimate for a loaded model, as `catalog ps --json` gives it (or the one-line reason there is none)."""
    from catalog.service.check import estimate_loaded
    from catalog.service.resolve import resolve

    try:
        spec = resolve(name, offline=offline, runtimes=(), installed=True)
    except CatalogError as err:
        return {"error": err.line()}
    if not spec.pinned_quant:
        return {"error": f"{name}: its quantization is unknown"}
    ctx, mem = estimate_loaded(spec, spec.pinned_quant, context)
    return {"model": spec.id, "quant": spec.pinned_quant, "context": ctx, "gpu_bytes": mem.gpu_bytes,
            "total_bytes": mem.total_bytes, "memory": mem._asdict(), "from": _where(spec)}


def ollama_state(base: str | None = None, offline: bool = False) -> dict[str, Any] | None:
    """Installed and loaded Ollama models beside our estimates; None when no Ollama server answers."""
    from catalog.sources import ollama

    base = base or ollama.host_url()
    with ollama.client(timeout_s=3.0) as c:
        tags = ollama.server_json(c, f"{base}/api/tags")
        if tags is None:
            return None
        ps = ollama.server_json(c, f"{base}/api/ps") or {}
        version = (ollama.server_json(c, f"{base}/api/version") or {}).get("version")
    loaded = []
    for m in ps.get("models") or ():
        if not isinstance(m, dict) or not isinstance(m.get("name") or m.get("model"), str):
            continue
        name = str(m.get("name") or m.get("model"))
        ctx = m.get("context_length") if isinstance(m.get("context_length"), int) else None
        est = _estimate(name, ctx, offline)
        row = {"name": name, "size_bytes": m.get("size"), "size_vram_bytes": m.get("size_vram"),
               "context_length": ctx, "expires_at": m.get("expires_at"),
               "quantization": (m.get("details") or {}).get("quantization_level"), "estimate": est}
        if isinstance(m.get("size_vram"), int) and m["size_vram"] > 0 and isinstance(est.get("gpu_bytes"), int):
            row["estimate_vs_ollama_pct"] = round(100.0 * (est["gpu_bytes"] - m["size_vram"]) / m["size_vram"], 2)
        loaded.append(row)
    installed = []
    for m in tags.get("models") or ():
        if isinstance(m, dict) and isinstance(m.get("name"), str):
            d = m.get("details") or {}
            installed.append({"name": m["name"], "size_bytes": m.get("size"), "digest": m.get("digest"),
                              "parameter_size": d.get("parameter_size"), "quantization": d.get("quantization_level"),
                              "family": d.get("family")})
    return {"url": base, "version": version, "installed": installed, "loaded": loaded}


def llama_server_state(url: str) -> dict[str, Any] | None:
    """A llama-server's model and slots (`/props`, `/slots`, `/v1/models`); None when none answers."""
    from catalog.sources import ollama

    with ollama.client(timeout_s=3.0) as c:
        props = ollama.server_json(c, f"{url}/props")
        if props is None:
            return None
        slots_doc = ollama.local_json(c, f"{url}/slots")  # off unless --slots; the state is still useful
        models = ollama.server_json(c, f"{url}/v1/models") or {}
    gen = props.get("default_generation_settings") or {}
    slots = [{"id": s.get("id"), "n_ctx": s.get("n_ctx"), "is_processing": s.get("is_processing")}
             for s in slots_doc if isinstance(s, dict)] if isinstance(slots_doc, list) else None
    meta = next((m.get("meta") for m in models.get("data") or () if isinstance(m, dict) and m.get("meta")), None)
    return {"url": url, "model_path": props.get("model_path"), "n_ctx": gen.get("n_ctx") or props.get("n_ctx"),
            "total_slots": props.get("total_slots"), "slots": slots, "model_meta": meta,
            "build": props.get("build_info")}


def state(ollama_url: str | None = None, llama_urls: tuple[str, ...] = (), offline: bool = False) -> dict[str, Any]:
    """The `catalog ps --json` document."""
    llama = llama_urls or tuple(u for u in [os.environ.get("LLAMA_SERVER_URL", "").rstrip("/")] if u) \
        or LLAMA_SERVER_DEFAULTS
    servers = [s for s in (llama_server_state(u) for u in llama) if s is not None]
    return {"schema": SCHEMA, "ollama": ollama_state(ollama_url, offline), "llama_server": servers}
