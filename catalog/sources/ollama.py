"""Ollama: its registry (manifests, config blobs, the GGUF layer's header by HTTP Range) and a
running server's API (installed and loaded models).

Registry (../shared/reference/runtimes-and-metadata.md section 1): `GET {registry}/v2/{ns}/{model}/
manifests/{tag}` gives the layers; the layer of media type `application/vnd.ollama.image.model` is
the GGUF file (its size and digest are the file's), the config blob names the size label
(`model_type`) and quantization (`file_type`), and small `template`, `system` and `params` layers
hold what Ollama adds to each conversation and its default options. The registry base URL is
`LLM_CATALOG_OLLAMA_REGISTRY` (tests, mirrors), else registry.ollama.ai.

Local server: `OLLAMA_HOST` (default 127.0.0.1:11434) `GET /api/tags`, `GET /api/ps`,
`POST /api/show`. Nothing here is sent anywhere else.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, NamedTuple

from catalog.errors import BadModelFile, CatalogError, ModelNotFound, RemoteUnavailable

DEFAULT_REGISTRY = "https://registry.ollama.ai"
MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
MODEL_LAYER = "application/vnd.ollama.image.model"
SMALL_LAYERS = {"application/vnd.ollama.image.template": "template", "application/vnd.ollama.image.system": "system",
                "application/vnd.ollama.image.params": "params"}
MAX_SMALL = 256 << 10  # a template, system prompt or params layer; a config blob
# [host/][namespace/]model[:tag] (types/model/name.go): model and tag may hold dots, the namespace may not
_NAME = re.compile(r"^(?:(?P<host>[A-Za-z0-9.\-]+(?::\d+)?)/)?(?:(?P<ns>[A-Za-z0-9_\-]{1,80})/)?"
                   r"(?P<model>[A-Za-z0-9_.\-]{1,80})(?::(?P<tag>[A-Za-z0-9_.\-]{1,80}))?$")


class Name(NamedTuple):
    """An Ollama model name, its defaults filled in."""

    host: str | None  # None: the configured registry
    namespace: str
    model: str
    tag: str

    def __str__(self) -> str:
        ns = "" if self.namespace == "library" else f"{self.namespace}/"
        return f"{ns}{self.model}:{self.tag}"


class RegistryModel(NamedTuple):
    """What the registry says of one `model:tag`."""

    name: str
    model_digest: str
    model_bytes: int  # the GGUF file
    pull_bytes: int  # every layer plus the config
    blob_url: str  # the GGUF layer, readable by HTTP Range
    config: dict[str, Any]  # model_family, model_type (size label), file_type (quantization), ...
    template: str | None
    system: str | None
    params: dict[str, Any]
    layers: tuple[tuple[str, str, int], ...]  # (media type, digest, size)


def parse_name(name: str) -> Name | None:
    """`[host/][namespace/]model[:tag]` with Ollama's defaults (library, latest); None if it is not one."""
    name = name.strip()
    if name.startswith(("hf.co/", "huggingface.co/")):
        return None
    m = _NAME.match(name)
    if not m:
        return None
    host = m.group("host")
    if host and "." not in host and ":" not in host and m.group("ns") is None:
        host, ns = None, host  # "ns/model": a namespace, not a host
    else:
        ns = m.group("ns") or "library"
    return Name(host, ns, m.group("model").lower(), m.group("tag") or "latest")


def registry_url(host: str | None = None) -> str:
    if host:
        return f"https://{host}"
    return os.environ.get("LLM_CATALOG_OLLAMA_REGISTRY", "").rstrip("/") or DEFAULT_REGISTRY


def _get(client: Any, url: str, accept: str | None = None, limit: int = MAX_SMALL) -> bytes:
    headers = {"Accept": accept} if accept else {}
    try:
        with client.stream("GET", url, headers=headers) as r:
            if r.status_code == 404:
                raise ModelNotFound(f"{url}: not in the Ollama registry")
            if r.status_code in (401, 403):
                raise ModelNotFound(f"{url}: the registry refused access (HTTP {r.status_code}): a private model?")
            if r.status_code != 200:
                from catalog.sources.hub import retry_after

                raise RemoteUnavailable(f"{url}: HTTP {r.status_code}", status=r.status_code,
                                        retry_after_s=retry_after(r.headers))
            chunks, got = [], 0
            for chunk in r.iter_bytes():
                chunks.append(chunk)
                got += len(chunk)
                if got > limit:
                    raise BadModelFile(f"{url}: larger than {limit >> 10} KiB")
            return b"".join(chunks)
    except CatalogError:
        raise
    except Exception as exc:  # noqa: BLE001 - transport errors of every kind
        raise RemoteUnavailable(f"{url}: the Ollama registry did not answer ({type(exc).__name__})",
                                "try again, or use --offline") from None


def _json(data: bytes, url: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        raise BadModelFile(f"{url}: not valid JSON") from None
    if not isinstance(doc, dict):
        raise BadModelFile(f"{url}: not a JSON object")
    return doc


def registry_model(client: Any, name: Name) -> RegistryModel:
    """Read `name`'s manifest, config blob and small layers from the registry.

    Raises:
        ModelNotFound: no such model or tag; BadModelFile: a manifest without a GGUF layer;
        RemoteUnavailable: the registry failed.
    """
    from catalog.sources.hub import with_retries

    base = f"{registry_url(name.host)}/v2/{name.namespace}/{name.model}"
    murl = f"{base}/manifests/{name.tag}"
    manifest = _json(with_retries(lambda: _get(client, murl, MANIFEST_ACCEPT)), murl)
    layers: list[tuple[str, str, int]] = []
    for layer in manifest.get("layers") or ():
        if isinstance(layer, dict) and isinstance(layer.get("digest"), str):
            layers.append((str(layer.get("mediaType", "")), layer["digest"], int(layer.get("size") or 0)))
    model = next((lay for lay in layers if lay[0] == MODEL_LAYER), None)
    if model is None:
        raise BadModelFile(f"{murl}: no GGUF layer (a safetensors-format model, or not a model)")
    cfg_ref = manifest.get("config") or {}
    config: dict[str, Any] = {}
    if isinstance(cfg_ref, dict) and isinstance(cfg_ref.get("digest"), str):
        curl = f"{base}/blobs/{cfg_ref['digest']}"
        config = _json(with_retries(lambda: _get(client, curl)), curl)
    small: dict[str, str] = {}
    for media, digest, size in layers:
        key = SMALL_LAYERS.get(media)
        if key and size <= MAX_SMALL:
            url = f"{base}/blobs/{digest}"
            small[key] = with_retries(lambda url=url: _get(client, url)).decode("utf-8", "replace")
    params: dict[str, Any] = {}
    if "params" in small:
        try:
            loaded = json.loads(small["params"])
            params = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            params = {}
    pull = sum(s for _, _, s in layers) + int((cfg_ref or {}).get("size") or 0)
    return RegistryModel(str(name), model[1], model[2], pull, f"{base}/blobs/{model[1]}", config,
                         small.get("template"), small.get("system"), params, tuple(layers))


def client(timeout_s: float | None = None) -> Any:
    """An httpx client for the registry or a local server (redirects followed: blobs live on a CDN)."""
    import httpx

    from catalog.sources.hub import http_timeout_s

    t = timeout_s or http_timeout_s()
    return httpx.Client(timeout=httpx.Timeout(t, connect=min(t, 10.0)), follow_redirects=True)


# --- a running Ollama server ----------------------------------------------------------------------------------------

def host_url() -> str:
    """`OLLAMA_HOST` as Ollama reads it (`host[:port]`, scheme optional), default 127.0.0.1:11434."""
    raw = os.environ.get("OLLAMA_HOST", "").strip() or "127.0.0.1:11434"
    if "://" not in raw:
        raw = f"http://{raw}"
    scheme, _, rest = raw.partition("://")
    host = rest.rstrip("/")
    if host.startswith("0.0.0.0"):  # a server bound to every interface is reached on loopback
        host = "127.0.0.1" + host[len("0.0.0.0"):]
    if ":" not in host.rsplit("]", 1)[-1]:
        host += ":11434"
    return f"{scheme}://{host}"


def server_json(c: Any, url: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """A local server's JSON answer; None when nothing listens there (or it is not that server)."""
    try:
        r = c.post(url, json=body) if body is not None else c.get(url)
    except Exception:  # noqa: BLE001 - connection refused, timeout: no server
        return None
    if r.status_code != 200:
        return None
    try:
        doc = r.json()
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
