"""A model's real tokenizer, to count what a chat template adds, where one can be had offline.

In the order `counter_for` tries them:

1. The vocabulary inside a local GGUF file, or a Hub GGUF's (kept from the header read by Range,
   in a cache file of its own: catalog.sources.hub.gguf.vocab_file), tokenized the way llama.cpp
   does it (catalog.sources.vocab). Written out rather than built with the `tokenizers` library: a
   BPE built from a 256k-token vocabulary's scores takes ~6 s there, these few hundred characters
   ~1 ms here.
2. A local model folder's `tokenizer.json`, the one `catalog check` fetched from the Hub for a
   repo with a chat template (catalog.sources.hub.files.tokenizer_json, cached per revision), or the
   one in the Hugging Face cache, through the `tokenizers` library when it is installed; else
   the folder's SentencePiece `tokenizer.model` (with `tokenizer_config.json`'s added tokens)
   through (1).
3. The BPE vocabularies that the quicktok package bundles (Llama 3's 128k, Qwen2/2.5/3's 151k,
   gpt-oss's o200k_harmony), chosen by architecture and vocabulary size, so a fine-tune that kept
   its base's vocabulary is counted with it too.

Without any of these the caller falls back to the documented estimate
(catalog.sources.templates.measure.estimate_tokens). Each counter comes with a label that says which was used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from catalog.core.record import Record
from catalog.sources.vocab import (
    MAX_VOCAB,
    Vocab,
    added_tokens,
    gguf_vocab,
    quicktok_encoding,
    sentencepiece_vocab,
    vocab_from_metadata,
)

# (architecture, smallest vocab_size, largest vocab_size) -> quicktok encoding; vocab_size counts
# the padding rows a config adds past the real tokens (Qwen2.5 7B's 152064 for 151665 tokens)
ENCODINGS = (
    ("llama", 128256, 128256, "llama3"),
    ("qwen2", 151643, 152064, "qwen3"),
    ("qwen3", 151643, 152064, "qwen3"),
    ("qwen3moe", 151643, 152064, "qwen3"),
    ("gpt-oss", 201088, 201088, "o200k_harmony"),
)
if TYPE_CHECKING:
    from catalog.core.model import ModelSpec

MAX_TOKENIZER_JSON = 64 << 20  # bytes; Gemma 3's is 33 MB


class Counter(Record):
    """A real tokenizer for a spec: text -> tokens, which one it is, and token id -> its text when
    the tokenizer can say (to spell a GGUF's BOS/EOS ids as the text its template renders)."""

    count: Callable[[str], int]
    label: str
    vocab: Vocab | None = None
    spell: Callable[[int], str | None] | None = None

    def text_of(self, tid: int) -> str | None:
        if self.vocab is not None:
            return self.vocab.tokens[tid] if 0 <= tid < len(self.vocab.tokens) else None
        try:
            return self.spell(tid) if self.spell else None
        except Exception:  # noqa: BLE001 - an id the encoding does not have
            return None


# --- where a spec's tokenizer lives ------------------------------------------------------------------------------

def hf_cache_file(repo: str, name: str) -> str | None:
    """`name` from the newest snapshot of `repo` in the Hugging Face cache (HF_HUB_CACHE, HF_HOME),
    found by path so that an offline check imports no huggingface_hub."""
    root = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub")
    snapshots = os.path.join(root, "models--" + repo.replace("/", "--"), "snapshots")
    try:  # a listing, not glob (its import and patterns cost a warm check ~3 ms)
        names = os.listdir(snapshots)
    except OSError:
        return None
    hits = [p for p in (os.path.join(snapshots, d, name) for d in names if not d.startswith("."))
            if os.path.isfile(p)]
    return max(hits, key=os.path.getmtime) if hits else None


def _tokenizer_json(path: str) -> Callable[[str], int] | None:
    try:
        from tokenizers import Tokenizer  # optional: pip install tokenizers
    except ImportError:
        return None
    try:
        if os.path.getsize(path) > MAX_TOKENIZER_JSON:
            return None
        tok = Tokenizer.from_file(path)
    except Exception:  # noqa: BLE001 - a broken tokenizer.json means no real count, not a failure
        return None
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


def _folder_counter(folder: str, label: str) -> Counter | None:
    tj = os.path.join(folder, "tokenizer.json")
    if os.path.isfile(tj):
        found = _tokenizer_json(tj)
        if found:
            return Counter(found, f"the model's tokenizer ({label} tokenizer.json, via the tokenizers library)")
    model = os.path.join(folder, "tokenizer.model")
    if os.path.isfile(model) and os.path.getsize(model) <= MAX_TOKENIZER_JSON:
        try:
            with open(model, "rb") as f:
                vocab = sentencepiece_vocab(f.read(), added_tokens(folder))
        except (OSError, ValueError, UnicodeDecodeError):
            vocab = None
        if vocab:
            return Counter(vocab.count, f"the model's tokenizer ({label} tokenizer.model, tokenized as llama.cpp does)",
                           vocab)
    return None


def quicktok_label(name: str) -> str:
    """`counted_with` for a count by quicktok's `name` encoding."""
    return f"the model's tokenizer (the {name} encoding of quicktok-v1)"


def encoding_for(arch: str, n_vocab: int) -> str | None:
    """The quicktok encoding for this architecture and vocabulary size, if any."""
    return next((enc for a, lo, hi, enc in ENCODINGS if a == arch and lo <= n_vocab <= hi), None)


def tokenizer_inputs(spec: ModelSpec) -> str:
    """What `counter_for` would read for `spec`, without reading it: each candidate file with its size and
    modification time, the repo, the architecture and vocabulary size quicktok is chosen by, and quicktok's
    version. A cached count made with the same inputs was made with the same tokenizer."""
    def stat(path: str | None) -> str:
        try:
            st = os.stat(path) if path else None
        except OSError:
            st = None
        return f"{path}:{st.st_size}:{st.st_mtime_ns}" if st else f"{path}:-"

    local = spec.local_path or ""
    folder = os.path.dirname(local) if local and not local.endswith(".gguf") else ""
    parts = [spec.tokenizer, spec.arch.arch, str(spec.arch.n_vocab), stat(local or None),
             stat(spec.provenance.gguf_vocab if isinstance(spec.provenance.gguf_vocab, str) else None),
             stat(spec.provenance.tokenizer_json if isinstance(spec.provenance.tokenizer_json, str) else None)]
    parts += [stat(os.path.join(folder, n)) for n in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")
              ] if folder else []
    if spec.hf_repo:
        parts += [spec.hf_repo, stat(hf_cache_file(spec.hf_repo, "tokenizer.json")),
                  stat(hf_cache_file(spec.hf_repo, "tokenizer.model"))]
    parts.append(_installed("quicktok_v1"))
    return "\n".join(parts)


def _installed(dist: str) -> str:
    """The `NAME-VERSION.dist-info` of an installed distribution, found on sys.path by name (importlib.metadata
    costs 30 ms of a check's start); "" when none is installed."""
    import sys

    prefix = dist.lower() + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.lower().startswith(prefix) and name.endswith(".dist-info"):
                return name
    return ""


def counter_for(spec: ModelSpec) -> Counter | None:
    """The real tokenizer of a spec, or None (see the module docstring for where it is looked for)."""
    from catalog.sources.gguf_reader import GGUFError

    local = spec.local_path or ""
    if local.endswith(".gguf") and spec.tokenizer in ("llama", "gpt2") and spec.arch.n_vocab <= MAX_VOCAB:
        try:
            vocab = gguf_vocab(local)
        except (GGUFError, OSError):
            vocab = None
        if vocab:
            return Counter(vocab.count, "the model's tokenizer (the GGUF's vocabulary, tokenized as llama.cpp does)",
                           vocab)
    remote = spec.provenance.gguf_vocab
    if isinstance(remote, str) and spec.tokenizer in ("llama", "gpt2"):
        try:
            with open(remote, encoding="utf-8") as f:
                vocab = vocab_from_metadata(json.load(f))
        except (OSError, ValueError):
            vocab = None
        if vocab:
            return Counter(vocab.count, "the model's tokenizer (the GGUF's vocabulary, read from the Hub, tokenized "
                                        "as llama.cpp does)", vocab)
    if local and not local.endswith(".gguf"):
        found = _folder_counter(os.path.dirname(local), "the folder's")
        if found:
            return found
    fetched = spec.provenance.tokenizer_json
    if isinstance(fetched, str) and os.path.isfile(fetched):
        counts = _tokenizer_json(fetched)
        if counts:
            return Counter(counts, f"the model's tokenizer ({spec.hf_repo}'s tokenizer.json from the Hub, via the "
                                  "tokenizers library)")
    if spec.hf_repo:
        cached = hf_cache_file(spec.hf_repo, "tokenizer.json") or hf_cache_file(spec.hf_repo, "tokenizer.model")
        if cached:
            found = _folder_counter(os.path.dirname(cached), f"{spec.hf_repo}'s cached")
            if found:
                return found
    name = encoding_for(spec.arch.arch, spec.arch.n_vocab)
    enc = quicktok_encoding(name)
    if name is None or enc is None:
        return None
    return Counter(lambda text: len(enc.encode(text, allowed_special="all")), quicktok_label(name),
                   spell=lambda tid: bytes(enc.decode_single_token_bytes(tid)).decode("utf-8"))
