"""A Hub repo's tokenizer files: the chat template its record holds, and the tokenizer.json to count it with."""

from __future__ import annotations

import os
from typing import Any

from catalog.errors import CatalogError
from catalog.sources import cache
from catalog.sources.http import fetch_capped
from catalog.sources.hub.api import hub_client
from catalog.sources.hub.records import endpoint
from catalog.sources.templates.measure import TemplateText

MAX_TOKENIZER_BYTES = 40 << 20  # a tokenizer.json fetched to count a template with (Gemma 2's is 17 MB)


def tokenizer_json(rec: dict[str, Any], offline: bool) -> str | None:
    """The repo's tokenizer.json, in the catalog cache (fetched once per revision, atomically), when
    the repo has a chat template to count and a tokenizer.json of at most MAX_TOKENIZER_BYTES; None
    offline with nothing cached, or on any failure (the count then falls back, nothing else does)."""
    size = (rec.get("files") or {}).get("tokenizer.json")
    if not isinstance(rec.get("chat_template_source"), str) or not isinstance(size, int) \
            or size > MAX_TOKENIZER_BYTES:
        return None
    rev = rec.get("sha") or "main"
    key = f"{rec['repo']}@{rev}"
    path = cache.file_path("tokenizers", key)
    if os.path.isfile(path):
        return path
    if offline:
        return None
    try:
        with hub_client() as client:
            data = fetch_capped(client, f"{endpoint()}/{rec['repo']}/resolve/{rev}/tokenizer.json",
                                MAX_TOKENIZER_BYTES)
    except CatalogError:
        return None
    return cache.put_file("tokenizers", key, data) if data else None


def template_of(rec: dict[str, Any]) -> TemplateText:
    """A Hub record's chat template: whether one ships, and its text and special tokens to render it."""
    if rec.get("chat_template") is None:
        return TemplateText()
    source = rec.get("chat_template_source")
    if not isinstance(source, str):
        return TemplateText(bool(rec["chat_template"]))
    special = {k: v for k, v in (rec.get("special_tokens") or {}).items() if isinstance(v, str)}
    return TemplateText(bool(rec["chat_template"]), source, special.get("bos_token"), special.get("eos_token"))
