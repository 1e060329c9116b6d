"""GLM-4.5 / 4.6 / 4.7 (Glm4MoeForCausalLM, GGUF `glm4moe`), pure: grouped attention with Q/K/V biases and
optional per-head QK norms, a norm before the feed-forward named post_attention_norm, dense lead layers, then
sigmoid-routed experts with a score-correction bias and a shared expert; the multi-token-prediction layer is
written after the trunk and skipped when llama.cpp loads (conversion/glm.py Glm4MoeModel, src/models/glm4-moe.cpp
at llama.cpp 0c1e570, checked in bench/RESULTS.md section 2)."""

from typing import Any

from catalog.core.arch import Architecture
from catalog.core.ggml import Tensor


def glm4moe_experts(c: dict[str, Any], n_ff: int, n_layer: int) -> tuple[tuple[int, ...], dict[str, Any]]:
    """Each layer's dense width (first_k_dense_replace of them) and the experts, biases, QK norms and MTP layers."""
    lead = min(int(c.get("first_k_dense_replace") or 0), n_layer)
    return tuple(n_ff if il < lead else 0 for il in range(n_layer)), {
        "n_expert_used": int(c["num_experts_per_tok"]), "n_expert": int(c["n_routed_experts"]),
        "n_ff_exp": int(c["moe_intermediate_size"]), "n_expert_shared": int(c.get("n_shared_experts") or 0),
        "n_dense_lead": lead, "attn_bias": bool(c.get("attention_bias")), "qk_norm": bool(c.get("use_qk_norm")),
        "n_nextn": int(c.get("num_nextn_predict_layers") or 0)}


def glm4moe_tensors(a: Architecture, dtype: str) -> list[Tensor]:
    """The GGUF's tensors, the MTP layer(s) last: a full MoE layer plus the projection of [embedding, hidden]
    and its norms (the checkpoint's own embedding and head copies, when it has them, are not counted)."""
    E, V, X, F = a.n_embd, a.n_vocab, a.n_expert, a.n_ff_exp
    out = [Tensor("token_embd.weight", (E, V), dtype), Tensor("output_norm.weight", (E,), "F32")]
    if not a.tied_embeddings:
        out.append(Tensor("output.weight", (E, V), dtype))
    q, kv = a.n_head * a.head_dim_k, max(a.n_head_kv) * a.head_dim_k
    for il in range(a.n_layer + a.n_nextn):
        p = f"blk.{il}."
        out += [Tensor(p + "attn_norm.weight", (E,), "F32"), Tensor(p + "attn_q.weight", (E, q), dtype),
                Tensor(p + "attn_k.weight", (E, kv), dtype), Tensor(p + "attn_v.weight", (E, kv), dtype)]
        if a.attn_bias:
            out += [Tensor(p + "attn_q.bias", (q,), "F32"), Tensor(p + "attn_k.bias", (kv,), "F32"),
                    Tensor(p + "attn_v.bias", (kv,), "F32")]
        if a.qk_norm:
            out += [Tensor(p + "attn_q_norm.weight", (a.head_dim_k,), "F32"),
                    Tensor(p + "attn_k_norm.weight", (a.head_dim_k,), "F32")]
        out += [Tensor(p + "attn_output.weight", (q, E), dtype), Tensor(p + "post_attention_norm.weight", (E,), "F32")]
        if il < min(a.n_dense_lead, a.n_layer):
            ff = a.n_ff[il]
            out += [Tensor(p + "ffn_gate.weight", (E, ff), dtype), Tensor(p + "ffn_up.weight", (E, ff), dtype),
                    Tensor(p + "ffn_down.weight", (ff, E), dtype)]
        else:
            out += [Tensor(p + "ffn_gate_inp.weight", (E, X), "F32"), Tensor(p + "exp_probs_b.bias", (X,), "F32"),
                    Tensor(p + "ffn_gate_exps.weight", (E, F, X), dtype),
                    Tensor(p + "ffn_up_exps.weight", (E, F, X), dtype),
                    Tensor(p + "ffn_down_exps.weight", (F, E, X), dtype)]
            if a.n_expert_shared:
                S = F * a.n_expert_shared
                out += [Tensor(p + "ffn_gate_shexp.weight", (E, S), dtype),
                        Tensor(p + "ffn_up_shexp.weight", (E, S), dtype),
                        Tensor(p + "ffn_down_shexp.weight", (S, E), dtype)]
        if il >= a.n_layer:
            out += [Tensor(p + "nextn.eh_proj.weight", (2 * E, E), dtype),
                    Tensor(p + "nextn.enorm.weight", (E,), "F32"), Tensor(p + "nextn.hnorm.weight", (E,), "F32"),
                    Tensor(p + "nextn.shared_head_norm.weight", (E,), "F32")]
    return out
