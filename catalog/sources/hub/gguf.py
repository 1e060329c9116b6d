"""A Hub repo's GGUF files: which quantization each file holds, and a file's header read by HTTP Range.

A GGUF repo is estimated from the real tensor table of one of its files; its other files keep their
published sizes. A header is cached by commit (it cannot change), its vocabulary in a cache file of
its own, so a template is counted with the file's own tokenizer, online and offline.
"""

from __future__ import annotations

import json
from typing import Any

from catalog.errors import RemoteUnavailable
from catalog.sources import cache
from catalog.sources.gguf_reader import ArrayInfo, GGUFHeader, header_from_json, header_to_json
from catalog.sources.gguf_remote import read_header
from catalog.sources.hub.api import hub_client
from catalog.sources.hub.records import endpoint


def vocab_file(key: str) -> str:
    """Where the vocabulary of the remote GGUF cached under `key` is kept (catalog cache)."""
    return cache.file_path("vocab", key)


def _keep_vocab(key: str, h: GGUFHeader) -> GGUFHeader:
    """Store the header's vocabulary arrays beside the cached header (a file of its own: the header's
    cache entry stays small), and return the header with them as counts again."""
    from catalog.sources.vocab import VOCAB_KEYS

    meta = h.metadata
    kept = {k: meta[k] for k in VOCAB_KEYS if isinstance(meta.get(k), list)}
    if kept.get("tokenizer.ggml.tokens"):
        small = {k: v for k, v in meta.items() if k.startswith(("tokenizer.ggml.", "general.name"))
                 and k not in VOCAB_KEYS and not isinstance(v, (list, ArrayInfo))}
        cache.put_file("vocab", key, json.dumps({**small, **kept}, separators=(",", ":")).encode("utf-8"))
    etype = {"tokenizer.ggml.tokens": 8, "tokenizer.ggml.scores": 6, "tokenizer.ggml.token_type": 5}
    return h._replace(metadata={k: (ArrayInfo(etype[k], len(v)) if k in kept and len(v) > 4096 else v)
                                for k, v in meta.items()})


def gguf_header(repo: str, sha: str, parts: list[str], offline: bool = False) -> tuple[GGUFHeader, dict[str, Any]]:
    """The merged header of a (possibly split) GGUF file: metadata of part 1, tensors of every part.

    Cached by commit, so a cached header never goes stale.
    """
    key = f"{repo}@{sha}/{parts[0]}"
    hit = cache.get("gguf", key)
    if hit is not None:
        try:
            return header_from_json(hit.doc["header"]), dict(hit.doc["cost"])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            pass  # an entry of the wrong shape is a miss: read the header again
    if offline:
        raise RemoteUnavailable(f"{repo}/{parts[0]}: offline, and its header is not cached")
    from catalog.sources.vocab import VOCAB_KEYS

    headers: list[GGUFHeader] = []
    downloaded = requests = 0
    with hub_client() as client:
        for i, part in enumerate(parts):
            # the vocabulary is in the bytes read anyway: part 1 keeps it, to count the template with
            h, reader = read_header(client, f"{endpoint()}/{repo}/resolve/{sha}/{part}",
                                    keep=VOCAB_KEYS if i == 0 else frozenset())
            headers.append(h)
            downloaded += reader.downloaded
            requests += reader.requests
    first = _keep_vocab(key, headers[0])
    merged = first._replace(tensors=[t for h in headers for t in h.tensors],
                            offsets=[o for h in headers for o in h.offsets])
    cost = {"downloaded_bytes": downloaded, "requests": requests, "parts": len(parts)}
    cache.put("gguf", key, {"header": header_to_json(merged), "cost": cost})
    return merged, cost
