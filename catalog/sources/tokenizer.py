"""A model's real tokenizer, where one can be had without the network: the BPE vocabularies that
the quicktok package bundles (Llama 3's 128k, Qwen2/2.5/3's 151k, gpt-oss's o200k_harmony).

Which one a model uses is read from its architecture and vocabulary size (a GGUF's or a
config.json's), so a fine-tune that kept its base's vocabulary is counted with it too. quicktok
is optional: without it (or for other vocabularies) the caller falls back to the documented
estimate (catalog.templates.estimate_tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (architecture, smallest vocab_size, largest vocab_size) -> quicktok encoding; vocab_size counts
# the padding rows a config adds past the real tokens (Qwen2.5 7B's 152064 for 151665 tokens)
ENCODINGS = (
    ("llama", 128256, 128256, "llama3"),
    ("qwen2", 151643, 152064, "qwen3"),
    ("qwen3", 151643, 152064, "qwen3"),
    ("qwen3moe", 151643, 152064, "qwen3"),
    ("gpt-oss", 201088, 201088, "o200k_harmony"),
)


def encoding_for(arch: str, n_vocab: int) -> str | None:
    """The quicktok encoding for this architecture and vocabulary size, if any."""
    return next((enc for a, lo, hi, enc in ENCODINGS if a == arch and lo <= n_vocab <= hi), None)


def counter_for(spec: Any) -> tuple[Callable[[str], int], str] | None:
    """(text -> tokens, a label saying which tokenizer) for a spec, or None."""
    name = encoding_for(spec.arch.arch, spec.arch.n_vocab)
    if name is None:
        return None
    try:
        import quicktok  # type: ignore[import-untyped]
    except ImportError:
        return None
    enc = quicktok.get_encoding(name)
    return (lambda text: len(enc.encode(text, allowed_special="all"))), \
        f"the model's tokenizer (the {name} encoding of quicktok-v1)"
