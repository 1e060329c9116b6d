"""An Architecture from a GGUF header's key/values and tensor table (pure): the `{arch}.*` keys every
architecture shares, so a GGUF of one not modelled here still has its shapes and its real tensors."""

from typing import Any

from catalog.core.arch import DEFAULT_SWA_PERIOD, HYBRID, Architecture, UnsupportedArchitecture, swa_by_period
from catalog.core.ggml import Tensor


def _per_layer(value: Any, n_layer: int, default: int) -> tuple[int, ...]:
    if isinstance(value, list) and len(value) == n_layer:
        return tuple(int(v) for v in value)
    if isinstance(value, int):
        return (value,) * n_layer
    return (default,) * n_layer


def _gguf_vocab(tokens: Any, embd: Tensor | None) -> int:
    """The vocabulary size a GGUF without {arch}.vocab_size implies: its token list, else the embedding's rows."""
    if isinstance(tokens, list):
        return len(tokens)
    if tokens is not None and hasattr(tokens, "length"):
        return int(tokens.length)
    return embd.shape[1] if embd and len(embd.shape) > 1 else 0


def _gguf_swa(arch: str, n_layer: int, window: int, pattern: Any) -> dict[str, Any]:
    """A GGUF's sliding-window layers: its per-layer pattern, else a period (its own or the architecture's);
    Gemma 2 files that predate the key slide every other layer over 4096 tokens."""
    period = DEFAULT_SWA_PERIOD.get(arch)
    if window and period:
        if isinstance(pattern, list) and len(pattern) == n_layer:
            return {"swa_layers": tuple(bool(x) for x in pattern), "sliding_window": window}
        return {"swa_layers": swa_by_period(n_layer, int(pattern) if isinstance(pattern, int) else period),
                "sliding_window": window}
    if arch == "gemma2":
        return {"sliding_window": 4096, "swa_layers": swa_by_period(n_layer, 2)}
    return {}


def _gemma4(key: Any, by_name: dict[str, Tensor], n_layer: int) -> dict[str, Any]:
    """Gemma 4's sliding-window layers' own head size, and global layers without V (they read the keys)."""
    return {"head_dim_swa": int(key("attention.key_length_swa", 0) or 0), "qk_norm": True,
            "k_eq_v": any(f"blk.{il}.attn_k.weight" in by_name and f"blk.{il}.attn_v.weight" not in by_name
                          for il in range(n_layer))}


def _deci(heads: tuple[int, ...], n_kv: tuple[int, ...]) -> dict[str, Any]:
    """DeciLM's layers: attention kept, replaced by one linear map (heads, no KV heads), or dropped (no heads)."""
    kinds = ("none" if not h else "attn" if k else "attn_linear" for h, k in zip(heads, n_kv, strict=True))
    return {"layer_kinds": tuple(kinds)}


def from_gguf_metadata(meta: dict[str, Any], tensors: list[Tensor]) -> Architecture:
    """Read an Architecture from a GGUF header's key/values and tensor table.

    Raises:
        UnsupportedArchitecture: missing or inconsistent keys.
    """
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        raise UnsupportedArchitecture("GGUF has no general.architecture")

    def key(name: str, default: Any = None) -> Any:
        return meta.get(f"{arch}.{name}", default)

    try:
        # block_count holds the multi-token-prediction blocks too; llama.cpp's n_layer is the trunk
        n_nextn = int(key("nextn_predict_layers", 0) or 0)
        n_layer = int(key("block_count")) - n_nextn
        n_embd = int(key("embedding_length"))
        head = key("attention.head_count")
        n_head = int(max(head) if isinstance(head, list) else head)
    except (TypeError, ValueError, OverflowError):
        raise UnsupportedArchitecture(f"GGUF lacks the basic {arch}.* shape keys") from None
    if not 0 < n_layer <= 4096 or not 0 < n_embd <= 1 << 20 or not 0 < n_head <= 1 << 16:
        raise UnsupportedArchitecture("GGUF shape keys are out of range")
    n_kv = _per_layer(key("attention.head_count_kv", n_head), n_layer, n_head)
    hk = int(key("attention.key_length", n_embd // n_head))
    hv = int(key("attention.value_length", n_embd // n_head))
    ff = _per_layer(key("feed_forward_length", 0), n_layer, 0)
    by_name = {t.name: t for t in tensors}
    embd = by_name.get("token_embd.weight")
    vocab = key("vocab_size")
    if vocab is None:
        vocab = _gguf_vocab(meta.get("tokenizer.ggml.tokens"), embd)
    n_expert = int(key("expert_count", 0) or 0)
    lead = int(key("leading_dense_block_count", 0) or 0)
    raw_ff = ff
    if n_expert:
        ff = tuple(ff[il] if il < lead or f"blk.{il}.ffn_down.weight" in by_name else 0 for il in range(n_layer))
    kw = _gguf_swa(arch, n_layer, int(key("attention.sliding_window", 0) or 0),
                   key("attention.sliding_window_pattern"))
    hybrid = _gemma4(key, by_name, n_layer) if arch == "gemma4" else {}
    if arch == "deci":
        hybrid = _deci(_per_layer(head, n_layer, n_head), n_kv) | {"rope_freqs": "rope_freqs.weight" in by_name}
    if arch in HYBRID:
        from catalog.core.arch_hybrid import from_gguf_keys

        n_kv, ff, hybrid = from_gguf_keys(arch, key, n_layer, n_kv, raw_ff if arch.startswith("nemotron_h") else ff)
    a = Architecture(
        arch, n_layer, n_embd, n_head, n_kv, hk, hv, ff, int(vocab), int(key("context_length", 0) or 0),
        tied_embeddings="output.weight" not in by_name,
        n_expert=n_expert, n_expert_used=int(key("expert_used_count", 0) or 0),
        n_ff_exp=int(key("expert_feed_forward_length", 0) or 0),
        n_expert_shared=int(key("expert_shared_count", 0) or 0), n_dense_lead=lead,
        kv_lora_rank=int(key("attention.kv_lora_rank", 0) or 0), q_lora_rank=int(key("attention.q_lora_rank", 0) or 0),
        qk_rope_dim=int(key("rope.dimension_count", 0) or 0) if arch == "deepseek2" else 0,
        **kw,
    )
    if n_nextn:
        hybrid["n_nextn"] = n_nextn
    return a._replace(**hybrid) if hybrid else a
