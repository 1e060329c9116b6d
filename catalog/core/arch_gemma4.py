"""Gemma 4's text model (pure): sliding-window layers with their own head size beside global ones, keys that
double as values on the global layers (attention_k_eq_v), and in the MoE models a dense feed-forward beside
the routed experts on every layer. Tables as convert_hf_to_gguf.py (conversion/gemma.py Gemma4Model) writes
them and llama.cpp's src/models/gemma4.cpp loads them (llama.cpp 0c1e570, checked in bench/RESULTS.md)."""

from typing import Any

from catalog.core.arch import Architecture, UnsupportedArchitecture
from catalog.core.ggml import Tensor


def from_gemma4_config(config: dict[str, Any]) -> Architecture:
    """Gemma 4's Architecture from its config.json (`text_config`)."""
    c = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    assert isinstance(c, dict)
    try:
        n_layer, n_embd = int(c["num_hidden_layers"]), int(c["hidden_size"])
        n_head, head_swa = int(c["num_attention_heads"]), int(c["head_dim"])
        types = c["layer_types"]
        if not isinstance(types, list) or len(types) != n_layer:
            raise ValueError("layer_types")
        swa = tuple(t == "sliding_attention" for t in types)
        head_full = int(c.get("global_head_dim") or head_swa)
        kv_swa = int(c["num_key_value_heads"])
        kv_full = int(c.get("num_global_key_value_heads") or kv_swa)
        if int(c.get("hidden_size_per_layer_input") or 0):
            raise ValueError("per-layer inputs (Gemma 4 E2B/E4B) are not modelled")
    except (KeyError, TypeError, ValueError) as exc:
        raise UnsupportedArchitecture(f"Gemma 4 config.json: {exc}") from None
    shared = int(c.get("num_kv_shared_layers") or 0)
    # the last num_kv_shared_layers layers reuse earlier layers' cache (hparams.n_layer_kv_from_start)
    n_kv = tuple(0 if il >= n_layer - shared else (kv_swa if swa[il] else kv_full) for il in range(n_layer))
    moe: dict[str, Any] = {}
    if c.get("enable_moe_block") and c.get("num_experts"):
        moe = {"n_expert": int(c["num_experts"]), "n_expert_used": int(c["top_k_experts"]),
               "n_ff_exp": int(c.get("expert_intermediate_size") or c["moe_intermediate_size"])}
    return Architecture(
        "gemma4", n_layer, n_embd, n_head, n_kv, head_full, head_full, (int(c["intermediate_size"]),) * n_layer,
        int(c["vocab_size"]), int(c.get("max_position_embeddings") or 0),
        bool(c.get("tie_word_embeddings", config.get("tie_word_embeddings", True))),
        sliding_window=int(c.get("sliding_window") or 0), swa_layers=swa, qk_norm=True,
        # llama.cpp keeps K and V apart in the cache even where the model reads values from the keys
        head_dim_swa=head_swa, k_eq_v=bool(c.get("attention_k_eq_v")), **moe)


def gemma4_tensors(a: Architecture, dtype: str) -> list[Tensor]:
    """The tensors of a Gemma 4 GGUF (with attention_k_eq_v, no V projection on the global layers)."""
    E, V = a.n_embd, a.n_vocab
    out = [Tensor("token_embd.weight", (E, V), dtype), Tensor("output_norm.weight", (E,), "F32")]
    if not a.tied_embeddings:
        out.append(Tensor("output.weight", (E, V), dtype))
    # one table of rope frequency factors, for the global layers' proportional rope
    out.append(Tensor("rope_freqs.weight", (a.head_dim_k // 2,), "F32"))
    for il in range(a.n_layer):
        p = f"blk.{il}."
        hd, _ = a.head_dims(il)
        kv = a.n_head_kv[il] * hd
        global_layer = not (a.swa_layers and a.swa_layers[il])
        out += [Tensor(p + "attn_norm.weight", (E,), "F32"), Tensor(p + "attn_q.weight", (E, a.n_head * hd), dtype)]
        if kv:
            out.append(Tensor(p + "attn_k.weight", (E, kv), dtype))
            if not (a.k_eq_v and global_layer):
                out.append(Tensor(p + "attn_v.weight", (E, kv), dtype))
            out.append(Tensor(p + "attn_k_norm.weight", (hd,), "F32"))
        out += [Tensor(p + "attn_output.weight", (a.n_head * hd, E), dtype),
                Tensor(p + "attn_q_norm.weight", (hd,), "F32"), Tensor(p + "post_attention_norm.weight", (E,), "F32"),
                Tensor(p + "layer_output_scale.weight", (1,), "F32"), Tensor(p + "ffn_norm.weight", (E,), "F32")]
        ff = a.n_ff[il]
        out += [Tensor(p + "ffn_gate.weight", (E, ff), dtype), Tensor(p + "ffn_up.weight", (E, ff), dtype),
                Tensor(p + "ffn_down.weight", (ff, E), dtype), Tensor(p + "post_ffw_norm.weight", (E,), "F32")]
        if a.n_expert:
            X, F = a.n_expert, a.n_ff_exp
            out += [Tensor(p + "ffn_gate_inp.weight", (E, X), "F32"), Tensor(p + "ffn_gate_inp.scale", (E,), "F32"),
                    Tensor(p + "pre_ffw_norm_2.weight", (E,), "F32"), Tensor(p + "post_ffw_norm_1.weight", (E,), "F32"),
                    Tensor(p + "post_ffw_norm_2.weight", (E,), "F32"),
                    Tensor(p + "ffn_gate_up_exps.weight", (E, 2 * F, X), dtype),
                    Tensor(p + "ffn_down_exps.weight", (F, E, X), dtype),
                    Tensor(p + "ffn_down_exps.scale", (X,), "F32")]
    return out
