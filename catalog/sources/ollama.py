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
from functools import partial
from typing import Any

from catalog.core import alignment as align
from catalog.core.model import Fetched, ModelSpec, OllamaInfo, Provenance
from catalog.core.record import Record
from catalog.errors import BadModelFile, CatalogError, ModelNotFound, RemoteUnavailable
from catalog.sources import http
from catalog.sources.gguf_reader import header_from_json, header_to_json
from catalog.sources.http import fetch_capped, with_retries
from catalog.sources.local import spec_from_header
from catalog.sources.templates.measure import TemplateText

DEFAULT_REGISTRY = "https://registry.ollama.ai"
MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
MODEL_LAYER = "application/vnd.ollama.image.model"
SMALL_LAYERS = {"application/vnd.ollama.image.template": "template", "application/vnd.ollama.image.system": "system",
                "application/vnd.ollama.image.params": "params"}
REGISTRY = "the Ollama registry"  # named in a rate-limit hint
MAX_SMALL = 256 << 10  # a template, system prompt or params layer; a config blob
# [host/][namespace/]model[:tag] (types/model/name.go): model and tag may hold dots, the namespace may not
_NAME = re.compile(r"^(?:(?P<host>[A-Za-z0-9.\-]+(?::\d+)?)/)?(?:(?P<ns>[A-Za-z0-9_\-]{1,80})/)?"
                   r"(?P<model>[A-Za-z0-9_.\-]{1,80})(?::(?P<tag>[A-Za-z0-9_.\-]{1,80}))?$")


class Name(Record):
    """An Ollama model name, its defaults filled in."""

    host: str | None  # None: the configured registry
    namespace: str
    model: str
    tag: str

    def __str__(self) -> str:
        host = f"{self.host}/" if self.host else ""
        ns = f"{self.namespace}/" if self.namespace != "library" or self.host else ""
        return f"{host}{ns}{self.model}:{self.tag}"


class RegistryModel(Record):
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
    if not m or ".." in name or not m.group("model")[0].isalnum():  # never a path segment like ".." in a URL
        return None
    host: str | None = m.group("host")
    ns = str(m.group("ns") or "library")
    if host and "." not in host and ":" not in host and m.group("ns") is None:
        ns, host = host, None  # "ns/model": a namespace, not a host
    return Name(host, ns, str(m.group("model")).lower(), str(m.group("tag") or "latest"))


def registry_url(host: str | None = None) -> str:
    if host:
        return f"https://{host}"
    return os.environ.get("LLM_CATALOG_OLLAMA_REGISTRY", "").rstrip("/") or DEFAULT_REGISTRY


def _get(client: Any, url: str, accept: str | None = None, limit: int = MAX_SMALL) -> bytes:
    body = fetch_capped(client, url, limit, {"Accept": accept} if accept else None,
                        missing=ModelNotFound(f"{url}: not in the Ollama registry"),
                        denied=ModelNotFound(f"{url}: the registry refused access: a private model?"),
                        who=REGISTRY)
    assert body is not None  # a 404 raised `missing`
    return body


def _json(data: bytes, url: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        raise BadModelFile(f"{url}: not valid JSON") from None
    if not isinstance(doc, dict):
        raise BadModelFile(f"{url}: not a JSON object")
    return doc


DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _digest(value: str, murl: str) -> str:
    """A layer's digest as a registry gives it, or BadModelFile: it becomes a path on the registry host, so
    anything but `sha256:<64 hex>` (`../../api/...`) is refused before it is asked for."""
    if not DIGEST.fullmatch(value):
        raise BadModelFile(f"{murl}: a layer digest is not sha256:<64 hex digits> ({value[:40]!r})")
    return value


def _layers(manifest: dict[str, Any], murl: str) -> list[tuple[str, str, int]]:
    """(media type, digest, size) of a manifest's layers; a wrongly typed entry is BadModelFile, not a crash."""
    out: list[tuple[str, str, int]] = []
    raw = manifest.get("layers") or ()
    if not isinstance(raw, list):
        raise BadModelFile(f"{murl}: layers is not a list")
    for layer in raw:
        if not isinstance(layer, dict) or not isinstance(layer.get("digest"), str):
            continue
        size = layer.get("size") or 0
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 1 << 50:
            raise BadModelFile(f"{murl}: a layer size is not a byte count ({str(size)[:40]!r})")
        out.append((str(layer.get("mediaType", "")), _digest(layer["digest"], murl), size))
    return out


def registry_model(client: Any, name: Name) -> RegistryModel:
    """Read `name`'s manifest, config blob and small layers from the registry.

    Raises:
        ModelNotFound: no such model or tag; BadModelFile: a manifest without a GGUF layer;
        RemoteUnavailable: the registry failed.
    """
    base = f"{registry_url(name.host)}/v2/{name.namespace}/{name.model}"
    murl = f"{base}/manifests/{name.tag}"
    manifest = _json(with_retries(lambda: _get(client, murl, MANIFEST_ACCEPT), who=REGISTRY), murl)
    layers = _layers(manifest, murl)
    model = next((lay for lay in layers if lay[0] == MODEL_LAYER), None)
    if model is None:
        raise BadModelFile(f"{murl}: no GGUF layer (a safetensors-format model, or not a model)")
    cfg_ref = manifest.get("config") or {}
    config: dict[str, Any] = {}
    if isinstance(cfg_ref, dict) and isinstance(cfg_ref.get("digest"), str):
        _digest(cfg_ref["digest"], murl)
        curl = f"{base}/blobs/{cfg_ref['digest']}"
        config = _json(with_retries(lambda: _get(client, curl), who=REGISTRY), curl)
    small: dict[str, str] = {}
    for media, digest, size in layers:
        key = SMALL_LAYERS.get(media)
        if key and size <= MAX_SMALL:
            url = f"{base}/blobs/{digest}"
            small[key] = with_retries(partial(_get, client, url), who=REGISTRY).decode("utf-8", "replace")
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
    return http.client(timeout_s)


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


MAX_LOCAL_JSON = 8 << 20  # a local runtime's /api/ps, /props or /slots answer; more is not a real server's


def local_json(c: Any, url: str) -> Any:
    """A local server's JSON answer, read by fetch_capped (under MAX_LOCAL_JSON bytes and the request deadline);
    None when nothing listens there, it is not that server, or it answers more than a real one would."""
    from catalog.sources.http import fetch_capped

    try:
        return json.loads(fetch_capped(c, url, MAX_LOCAL_JSON) or b"null")
    except (CatalogError, ValueError, RecursionError):  # refused, timed out, cut, too big or not JSON
        return None


def server_json(c: Any, url: str) -> dict[str, Any] | None:
    """A local server's JSON object answer; None when nothing usable answers (see local_json)."""
    doc = local_json(c, url)
    return doc if isinstance(doc, dict) else None


# --- an installed Ollama's models on this disk -------------------------------------------------------------------

def _models_dir() -> str:
    return os.path.expanduser(os.environ.get("OLLAMA_MODELS") or "~/.ollama/models")


def local_blob(name: str) -> str | None:
    """The GGUF blob of an installed Ollama model, from its manifest on this disk, if readable."""
    n = parse_name(name)
    if n is None:
        return None
    root = _models_dir()
    path = os.path.join(root, "manifests", n.host or "registry.ollama.ai", n.namespace, n.model, n.tag)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    for layer in manifest.get("layers") or ():
        if isinstance(layer, dict) and layer.get("mediaType") == MODEL_LAYER:
            digest = str(layer.get("digest", ""))
            blob = os.path.join(root, "blobs", digest.replace(":", "-"))
            if digest.startswith("sha256:") and os.path.isfile(blob):
                return blob
    return None


# --- a model from the registry, as the service sees it -----------------------------------------------------------

def _spec_from_doc(name: Name, doc: dict[str, Any], got: Fetched) -> tuple[ModelSpec, TemplateText]:
    rm = doc["model"]
    header = header_from_json(doc["header"])
    lib = str(name).rsplit(":", 1)[0]
    murl = f"{registry_url(name.host)}/v2/{name.namespace}/{name.model}/manifests/{name.tag}"
    meta = header.metadata
    gguf = {k: meta[k] for k in ("general.name", "general.finetune", "general.base_model.0.name",
                                 "general.base_model.0.repo_url") if isinstance(meta.get(k), str)}
    has_template = bool(rm.get("template")) or isinstance(meta.get("tokenizer.chat_template"), str)
    # the tag's words count as name tokens: "8b-text-q4_0" is a base model, "8b-instruct-q8_0" an aligned one
    verdict = align.classify_record({"repo": f"{name.namespace}/{name.model}-{name.tag}", "gguf": gguf,
                                     "chat_template": has_template})
    prov = Provenance(ollama_registry=murl, model_layer=rm["model_digest"], metadata=got,
                      config_blob=tuple((k, rm["config"].get(k)) for k in ("model_family", "model_type", "file_type")
                                        if k in rm["config"]))
    spec, text = spec_from_header(header, f"ollama:{name}", str(name), int(rm["model_bytes"]), murl, prov)
    quant = spec.file_quant if spec.file_quant != "file" else None
    # the Jinja template stays the GGUF's; Ollama applies its own Go template layer, with the system layer as
    # the default system message, when it has one
    template = rm.get("template") if isinstance(rm.get("template"), str) else None
    text = text._replace(present=has_template, ollama=template, ollama_system=rm.get("system") or None,
                         jinja_origin="GGUF header")
    num_ctx = (rm.get("params") or {}).get("num_ctx")
    info = OllamaInfo(lib, ((name.tag, quant),) if quant else (),
                      num_ctx if isinstance(num_ctx, int) and not isinstance(num_ctx, bool) else None)
    spec = spec._replace(alignment=verdict, ollama=info, pinned_quant=quant,
                         template=spec.template._replace(present=has_template))
    return spec, text


def load(ref: str, offline: bool = False) -> tuple[ModelSpec, TemplateText]:
    """A ModelSpec for an Ollama `model:tag` read from the registry (its `pinned_quant` the tag's
    quantization): the GGUF layer's real header (HTTP Range on the blob), the config blob, the
    template/system/params layers. Cached like Hub records (`LLM_CATALOG_CACHE_TTL`); offline, the
    cache answers or nothing does.

    Raises:
        ModelNotFound, BadModelFile, RemoteUnavailable.
    """
    from catalog.sources import cache
    from catalog.sources.gguf_remote import read_header

    name = parse_name(ref)
    if name is None:
        raise ModelNotFound(f"{ref!r} is not an Ollama model name", "model[:tag], e.g. llama3.1:8b")
    key = f"{name.host or registry_url()}/{name.namespace}/{name.model}:{name.tag}"
    hit = cache.get("ollama", key)
    offline = offline or http.offline_env()
    if hit is not None and (not hit.stale or offline):
        try:
            return _spec_from_doc(name, hit.doc, Fetched("cache", hit.stale, int(hit.age_s)))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            hit = None  # an entry of the wrong shape is a miss
            if offline:
                raise BadModelFile(f"{ref}: its cached registry record is unreadable",
                                   "run once online to read it again") from None
    if offline:
        raise RemoteUnavailable(f"{ref}: offline, and not in the catalog or the cache",
                                "run once online, or use a catalog name")
    try:
        with client() as c:
            rm = registry_model(c, name)
            header, reader = read_header(c, rm.blob_url)
    except RemoteUnavailable:
        if hit is not None:
            return _spec_from_doc(name, hit.doc, Fetched("cache", True, int(hit.age_s)))
        raise
    doc = {"model": rm._asdict(), "header": header_to_json(header),
           "cost": {"downloaded_bytes": reader.downloaded, "requests": reader.requests}}
    cache.put("ollama", key, doc)
    return _spec_from_doc(name, doc, Fetched("registry", False, 0))
