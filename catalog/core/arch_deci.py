"""DeciLM / Nemotron-NAS (Llama 3.3 Nemotron Super 49B, Llama 3.1 Nemotron 51B), pure: a Llama whose layers
were pruned one by one. Each layer's `block_configs` entry says whether its attention is kept (with
n_heads_in_group queries per KV head), replaced by one linear map, or dropped, and how wide its feed-forward is
(`ffn_mult`). Tables as convert_hf_to_gguf.py (conversion/deci.py) writes them and llama.cpp's
src/models/deci.cpp loads them (llama.cpp 0c1e570, checked in bench/RESULTS.md)."""

from typing import Any

from catalog.core.arch import Architecture, UnsupportedArchitecture
from catalog.core.ggml import Tensor


def _ffn_width(mult: float | None, n_embd: int) -> int:
    """conversion/deci.py _ffn_mult_to_intermediate_size: 2/3 of mult x n_embd, rounded up to 256."""
    if mult is None:
        return 0
    n = int(2 * mult * n_embd / 3)
    return n if n % 256 == 0 else n + 256 - n % 256


def from_deci_config(c: dict[str, Any]) -> Architecture:
    """A DeciLM config.json with per-layer `block_configs`."""
    try:
        n_layer, n_embd, n_head = int(c["num_hidden_layers"]), int(c["hidden_size"]), int(c["num_attention_heads"])
        if isinstance(c.get("num_key_value_heads_per_layer"), list):  # DeciLM-7B: only the KV heads vary
            width = int(c["intermediate_size"])
            blocks = [{"attention": {"n_heads_in_group": n_head // int(k)}, "ffn": {"width": width}}
                      for k in c["num_key_value_heads_per_layer"]]
        else:
            blocks = c["block_configs"]
        if not isinstance(blocks, list) or len(blocks) != n_layer:
            raise ValueError("block_configs")
        kinds, n_kv, ff = [], [], []
        for b in blocks:
            att, ffn = b["attention"], b["ffn"]
            group = att.get("n_heads_in_group")
            kinds.append("attn" if group else ("attn_linear" if att.get("replace_with_linear") else "none"))
            n_kv.append(n_head // int(group) if group else 0)
            ff.append(int(ffn["width"]) if "width" in ffn else _ffn_width(ffn.get("ffn_mult"), n_embd))
    except (KeyError, TypeError, ValueError) as exc:
        raise UnsupportedArchitecture(f"DeciLM config.json: {exc}") from None
    rope = c.get("rope_scaling") or {}
    head = n_embd // n_head
    return Architecture("deci", n_layer, n_embd, n_head, tuple(n_kv), head, head, tuple(ff), int(c["vocab_size"]),
                        int(c.get("max_position_embeddings") or 0), bool(c.get("tie_word_embeddings", False)),
                        layer_kinds=tuple(kinds),
                        rope_freqs=isinstance(rope, dict) and rope.get("rope_type", rope.get("type")) == "llama3")


def deci_tensors(a: Architecture, dtype: str) -> list[Tensor]:
    """A DeciLM GGUF's tensors: per layer the attention it kept (or its linear stand-in) and its feed-forward."""
    E, V = a.n_embd, a.n_vocab
    out = [Tensor("token_embd.weight", (E, V), dtype), Tensor("output_norm.weight", (E,), "F32")]
    if not a.tied_embeddings:
        out.append(Tensor("output.weight", (E, V), dtype))
    if a.rope_freqs:
        out.append(Tensor("rope_freqs.weight", (a.head_dim_k // 2,), "F32"))
    for il, kind in enumerate(a.layer_kinds):
        p = f"blk.{il}."
        if kind == "attn":
            q, kv = a.n_head * a.head_dim_k, a.n_head_kv[il] * a.head_dim_k
            out += [Tensor(p + "attn_norm.weight", (E,), "F32"), Tensor(p + "attn_q.weight", (E, q), dtype),
                    Tensor(p + "attn_k.weight", (E, kv), dtype), Tensor(p + "attn_v.weight", (E, kv), dtype),
                    Tensor(p + "attn_output.weight", (q, E), dtype)]
        elif kind == "attn_linear":
            out += [Tensor(p + "attn_norm.weight", (E,), "F32"), Tensor(p + "attn_output.weight", (E, E), dtype)]
        ff = a.n_ff[il]
        if ff:
            out += [Tensor(p + "ffn_norm.weight", (E,), "F32"), Tensor(p + "ffn_gate.weight", (E, ff), dtype),
                    Tensor(p + "ffn_up.weight", (E, ff), dtype), Tensor(p + "ffn_down.weight", (ff, E), dtype)]
    return out
