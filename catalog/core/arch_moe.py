"""A config's mixture of experts as llama.cpp lays it out (pure): each layer's dense feed-forward width (0 for an
experts-only layer), the experts' count, width and shared ones, dense lead layers, and DeepSeek's MLA ranks,
read from each architecture's own config keys."""

from typing import Any


def hf_experts(arch: str, c: dict[str, Any], n_ff: int, n_layer: int) -> tuple[tuple[int, ...], dict[str, Any]]:
    """Each layer's dense feed-forward width, and a MoE's experts (and MLA's ranks for DeepSeek 2/3)."""
    if arch == "glm4moe":
        from catalog.core.arch_glm4moe import glm4moe_experts

        return glm4moe_experts(c, n_ff, n_layer)
    moe_archs = ("qwen3moe", "qwen3vlmoe", "gpt-oss", "deepseek2", "llama4", "ernie4_5-moe", "minimax-m2")
    if arch not in moe_archs and not (arch == "llama" and c.get("num_local_experts")):
        return (n_ff,) * n_layer, {}
    moe = {"n_expert_used": int(c.get("num_experts_per_tok") or c.get("moe_k") or 0)}
    if arch == "llama4":
        # every `interleave_moe_layer_step`-th layer is MoE (experts of intermediate_size and one shared expert);
        # the others are dense layers of intermediate_size_mlp
        step = int(c.get("interleave_moe_layer_step") or 1)
        dense = int(c.get("intermediate_size_mlp") or n_ff)
        return tuple(0 if (il + 1) % step == 0 else dense for il in range(n_layer)), {
            **moe, "n_expert": int(c["num_local_experts"]), "n_ff_exp": n_ff, "n_expert_shared": 1}
    if arch == "llama":
        return (0,) * n_layer, {**moe, "n_expert": int(c["num_local_experts"]), "n_ff_exp": n_ff}
    if arch == "ernie4_5-moe":  # dense layers before moe_layer_start_index, then experts and shared ones
        lead = int(c.get("moe_layer_start_index") or 0)
        return tuple(n_ff if il < lead else 0 for il in range(n_layer)), {
            "n_expert_used": int(c["moe_k"]), "n_expert": int(c["moe_num_experts"]),
            "n_ff_exp": int(c["moe_intermediate_size"]), "n_expert_shared": int(c.get("moe_num_shared_experts") or 0),
            "n_dense_lead": lead}
    if arch == "minimax-m2":
        return (0,) * n_layer, {**moe, "n_expert": int(c["num_local_experts"]), "n_ff_exp": n_ff}
    if arch in ("qwen3moe", "qwen3vlmoe"):
        return (0,) * n_layer, {**moe, "n_expert": int(c["num_experts"]), "n_ff_exp": int(c["moe_intermediate_size"])}
    if arch == "deepseek2":
        lead = int(c.get("first_k_dense_replace") or 0)
        return tuple(n_ff if il < lead else 0 for il in range(n_layer)), {
            **moe, "n_expert": int(c["n_routed_experts"]), "n_ff_exp": int(c["moe_intermediate_size"]),
            "n_expert_shared": int(c.get("n_shared_experts") or 0), "n_dense_lead": lead,
            "kv_lora_rank": int(c["kv_lora_rank"]), "q_lora_rank": int(c.get("q_lora_rank") or 0),
            "qk_rope_dim": int(c["qk_rope_head_dim"]), "qk_nope_dim": int(c["qk_nope_head_dim"])}
    return (0,) * n_layer, {**moe, "n_expert": int(c["num_local_experts"]), "n_ff_exp": n_ff}  # gpt-oss
