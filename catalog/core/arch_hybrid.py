"""Hybrid and recurrent architectures: Mamba-2 (Granite 4 H, Nemotron-H), LFM2's short convolutions and
Qwen3-Next / Qwen3.5's gated delta nets beside attention layers (pure).

Each layer has one mixer: attention, whose K/V the cache keeps for every token, or a recurrent one, which keeps
a fixed state per sequence (llama-memory-recurrent: `n_embd_r` conv rows and `n_embd_s` SSM state, f32). The
configs name the layer kinds (`layer_types`, `hybrid_override_pattern`, `full_attention_interval`); the tensor
tables follow convert_hf_to_gguf.py and the shapes llama.cpp's loader checks (llama-model.cpp load_tensors),
and were loaded by llama.cpp 0c1e570 from synthetic GGUFs (bench/RESULTS.md).
"""

from typing import Any

from catalog.core.arch import Architecture, UnsupportedArchitecture
from catalog.core.ggml import Tensor

HYBRID_ARCH = {
    "GraniteMoeHybridForCausalLM": "granitehybrid", "BambaForCausalLM": "granitehybrid",
    "NemotronHForCausalLM": "nemotron_h", "Lfm2ForCausalLM": "lfm2",
    "Qwen3NextForCausalLM": "qwen3next",
    "Qwen3_5ForConditionalGeneration": "qwen35", "Qwen3_5ForCausalLM": "qwen35",
    "Qwen3_5MoeForConditionalGeneration": "qwen35moe", "Qwen3_5MoeForCausalLM": "qwen35moe",
}
# Nemotron-H's hybrid_override_pattern letters (configuration_nemotron_h.py)
NEMOTRON_KINDS = {"M": "ssm", "*": "attn", "-": "mlp", "E": "moe"}


def _int(c: dict[str, Any], *keys: str, default: int | None = None) -> int:
    for k in keys:
        v = c.get(k)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return int(v)
    if default is None:
        raise UnsupportedArchitecture(f"config.json lacks {keys[0]}")
    return default


Kinds = tuple[str, tuple[str, ...], tuple[int, ...], dict[str, Any]]  # arch, layer kinds, widths, other fields


def from_hybrid_config(config: dict[str, Any], hf: str) -> Architecture:
    """Read a hybrid model's Architecture from its config.json (the language model's keys)."""
    arch = HYBRID_ARCH[hf]
    c = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    assert isinstance(c, dict)
    n_layer = _int(c, "num_hidden_layers")
    n_embd = _int(c, "hidden_size")
    n_head = _int(c, "num_attention_heads")
    n_kv = _int(c, "num_key_value_heads", default=n_head)
    head_dim = _int(c, "head_dim", "attention_head_dim", default=n_embd // n_head)
    vocab = _int(c, "vocab_size", default=_int(config, "vocab_size", default=0))
    ctx = _int(c, "max_position_embeddings", default=0)
    tied = bool(c.get("tie_word_embeddings", config.get("tie_word_embeddings", arch == "lfm2")))
    read = {"granitehybrid": _granite, "nemotron_h": _nemotron, "lfm2": _lfm2}.get(arch, _qwen)
    arch, kinds, ff, kw = read(arch, c, n_layer, n_embd)
    n_head_kv = tuple(n_kv if k == "attn" else 0 for k in kinds)
    return Architecture(arch, n_layer, n_embd, n_head, n_head_kv, head_dim, head_dim, ff, vocab, ctx, tied,
                        layer_kinds=kinds, **kw)


def _experts(c: dict[str, Any], count: str, width: str, shared: int, n_shared: int = 1) -> dict[str, Any]:
    return {"n_expert": _int(c, count), "n_expert_used": _int(c, "num_experts_per_tok"), "n_ff_exp": _int(c, width),
            "n_expert_shared": n_shared if shared else 0, "n_ff_shexp": shared}


def _granite(arch: str, c: dict[str, Any], n_layer: int, n_embd: int) -> Kinds:
    """Granite 4 H (and Bamba): `layer_types` of mamba and attention; a dense or MoE feed-forward after each."""
    types = c.get("layer_types")
    if not isinstance(types, list) or len(types) != n_layer:
        raise UnsupportedArchitecture("config.json lacks layer_types")
    kinds = tuple("attn" if t == "attention" else "ssm" for t in types)
    d_inner = _int(c, "mamba_expand", default=2) * n_embd
    kw: dict[str, Any] = {"ssm": (_int(c, "mamba_d_conv"), d_inner, _int(c, "mamba_d_state"),
                                  _int(c, "mamba_n_groups"), _int(c, "mamba_n_heads"))}
    shared = _int(c, "shared_intermediate_size", default=0)
    if _int(c, "num_local_experts", default=0):
        kw.update(_experts(c, "num_local_experts", "intermediate_size", shared))
        return arch, kinds, (0,) * n_layer, kw
    return arch, kinds, (shared,) * n_layer, kw


def _nemotron(arch: str, c: dict[str, Any], n_layer: int, n_embd: int) -> Kinds:
    """Nemotron-H: one mixer a layer, spelled by `hybrid_override_pattern` (M Mamba-2, * attention, - MLP,
    E MoE); a pattern with E is llama.cpp's nemotron_h_moe."""
    pattern = c.get("hybrid_override_pattern")
    if not isinstance(pattern, str) or len(pattern) != n_layer or set(pattern) - set(NEMOTRON_KINDS):
        raise UnsupportedArchitecture("config.json lacks a hybrid_override_pattern of one letter a layer")
    kinds = tuple(NEMOTRON_KINDS[x] for x in pattern)
    kw: dict[str, Any] = {}
    if "moe" in kinds:
        arch = "nemotron_h_moe"
        kw.update(_experts(c, "n_routed_experts", "moe_intermediate_size",
                           _int(c, "moe_shared_expert_intermediate_size"), _int(c, "n_shared_experts", default=1)))
    heads = _int(c, "mamba_num_heads")
    kw["ssm"] = (_int(c, "conv_kernel"), heads * _int(c, "mamba_head_dim"), _int(c, "ssm_state_size"),
                 _int(c, "n_groups"), heads)
    n_ff = _int(c, "intermediate_size")
    return arch, kinds, tuple(n_ff if k == "mlp" else 0 for k in kinds), kw


def _lfm2(arch: str, c: dict[str, Any], n_layer: int, n_embd: int) -> Kinds:
    """LFM2: short-convolution layers and attention ones (`layer_types`, or the older `full_attn_idxs`)."""
    types = c.get("layer_types")
    if isinstance(types, list) and len(types) == n_layer:
        kinds = tuple("attn" if t == "full_attention" else "conv" for t in types)
    elif isinstance(c.get("full_attn_idxs"), list):
        kinds = tuple("attn" if il in c["full_attn_idxs"] else "conv" for il in range(n_layer))
    else:
        raise UnsupportedArchitecture("config.json lacks layer_types")
    return arch, kinds, (_lfm2_ff(c),) * n_layer, {"ssm": (_int(c, "conv_L_cache"),)}


def _qwen(arch: str, c: dict[str, Any], n_layer: int, n_embd: int) -> Kinds:
    """Qwen3-Next and Qwen3.5: a gated delta net on every layer but each full_attention_interval-th."""
    interval = _int(c, "full_attention_interval", default=4)
    types = c.get("layer_types")
    if isinstance(types, list) and len(types) == n_layer:
        kinds = tuple("attn" if t == "full_attention" else "linear" for t in types)
    else:
        kinds = tuple("attn" if (il + 1) % interval == 0 else "linear" for il in range(n_layer))
    n_v = _int(c, "linear_num_value_heads")
    kw: dict[str, Any] = {"ssm": (_int(c, "linear_conv_kernel_dim"), n_v * _int(c, "linear_value_head_dim"),
                                  _int(c, "linear_key_head_dim"), _int(c, "linear_num_key_heads"), n_v),
                          # the multi-token-prediction block(s) the converter writes after the trunk: Qwen3.5 says
                          # how many; Qwen3-Next's config does not, its checkpoint holds one (`mtp.*`)
                          "n_nextn": _int(c, "mtp_num_hidden_layers", default=1 if arch == "qwen3next" else 0)}
    if arch == "qwen35":
        return arch, kinds, (_int(c, "intermediate_size"),) * n_layer, kw
    kw.update(_experts(c, "num_experts", "moe_intermediate_size", _int(c, "shared_expert_intermediate_size",
                                                                        default=0)))
    return arch, kinds, (0,) * n_layer, kw


def _lfm2_ff(c: dict[str, Any]) -> int:
    """LFM2's feed-forward width: block_ff_dim, shrunk to 2/3, scaled and rounded up to block_multiple_of when
    block_auto_adjust_ff_dim is set (transformers' Lfm2MLP, which the converter follows)."""
    ff = _int(c, "block_ff_dim", "intermediate_size")
    if c.get("block_auto_adjust_ff_dim"):
        ff = int(2 * ff / 3)
        mult = c.get("block_ffn_dim_multiplier")
        if isinstance(mult, int | float) and not isinstance(mult, bool):
            ff = int(mult * ff)
        m = _int(c, "block_multiple_of", default=256)
        ff = m * ((ff + m - 1) // m)
    return ff


def hybrid_tensors(a: Architecture, dtype: str) -> list[Tensor]:
    """The tensors convert_hf_to_gguf.py writes for a hybrid model (ggml-order shapes; 1-D tensors, biases,
    convolutions and routers F32)."""
    out: list[Tensor] = []
    E, V = a.n_embd, a.n_vocab
    out.append(Tensor("token_embd.weight", (E, V), dtype))
    out.append(Tensor("token_embd_norm.weight" if a.arch == "lfm2" else "output_norm.weight", (E,), "F32"))
    if not a.tied_embeddings:
        out.append(Tensor("output.weight", (E, V), dtype))
    for il, kind in enumerate(a.layer_kinds):
        p = f"blk.{il}."
        out.append(Tensor(p + "attn_norm.weight", (E,), "F32"))
        out += _mixer(a, il, kind, p, dtype)
        out += _ffn(a, il, kind, p, dtype)
    for il in range(a.n_layer, a.n_layer + a.n_nextn):
        # Qwen's multi-token-prediction block: a gated-attention layer with the trunk's feed-forward, and the
        # projection of [embedding, hidden] with its norms (conversion/qwen.py _QwenMtpMixin; qwen35.cpp)
        p = f"blk.{il}."
        out.append(Tensor(p + "attn_norm.weight", (E,), "F32"))
        out += _mixer(a._replace(n_head_kv=(max(a.n_head_kv),) * (il + 1)), il, "attn", p, dtype)
        out += _ffn(a._replace(n_ff=(a.n_ff[0],) * (il + 1)), il, "attn", p, dtype)
        out += [Tensor(p + "nextn.eh_proj.weight", (2 * E, E), dtype), Tensor(p + "nextn.enorm.weight", (E,), "F32"),
                Tensor(p + "nextn.hnorm.weight", (E,), "F32"), Tensor(p + "nextn.shared_head_norm.weight", (E,), "F32")]
    return out


def _mixer(a: Architecture, il: int, kind: str, p: str, dtype: str) -> list[Tensor]:
    """A layer's attention or recurrent mixer."""
    E = a.n_embd
    qwen = a.arch in ("qwen3next", "qwen35", "qwen35moe")
    q, kv = a.n_head * a.head_dim_k, a.n_head_kv[il] * a.head_dim_k

    def w(name: str, *shape: int) -> Tensor:
        return Tensor(p + name, tuple(shape), dtype)

    def f32(name: str, *shape: int) -> Tensor:
        return Tensor(p + name, tuple(shape), "F32")

    if kind == "attn":
        # Qwen3-Next / 3.5 gate the attention output: Q carries a gate of its own width
        out = [w("attn_q.weight", E, 2 * q if qwen else q), w("attn_k.weight", E, kv), w("attn_v.weight", E, kv),
               w("attn_output.weight", q, E)]
        if qwen or a.arch == "lfm2":
            out += [f32("attn_q_norm.weight", a.head_dim_k), f32("attn_k_norm.weight", a.head_dim_k)]
        return out
    if kind == "ssm":
        d_conv, d_inner, d_state, n_group, n_head = a.ssm
        xbc = d_inner + 2 * n_group * d_state
        return [w("ssm_in.weight", E, d_inner + xbc + n_head), f32("ssm_conv1d.weight", d_conv, xbc),
                f32("ssm_conv1d.bias", xbc), f32("ssm_dt.bias", n_head), f32("ssm_a", 1, n_head),
                f32("ssm_d", 1, n_head), f32("ssm_norm.weight", d_inner // n_group, n_group),
                w("ssm_out.weight", d_inner, E)]
    if kind == "conv":
        return [f32("shortconv.conv.weight", a.ssm[0], E), w("shortconv.in_proj.weight", E, 3 * E),
                w("shortconv.out_proj.weight", E, E)]
    if kind == "linear":
        d_conv, d_inner, d_state, n_k, n_v = a.ssm
        qkv = 2 * d_state * n_k + d_inner
        gates = [w("ssm_ba.weight", E, 2 * n_v)] if a.arch == "qwen3next" else [
            w("ssm_beta.weight", E, n_v), w("ssm_alpha.weight", E, n_v)]
        return [w("attn_qkv.weight", E, qkv), w("attn_gate.weight", E, d_inner), f32("ssm_conv1d.weight", d_conv, qkv),
                f32("ssm_dt.bias", n_v), f32("ssm_a", n_v), *gates, f32("ssm_norm.weight", d_inner // n_v),
                w("ssm_out.weight", d_inner, E)]
    return []  # Nemotron-H's feed-forward-only layers


def _ffn(a: Architecture, il: int, kind: str, p: str, dtype: str) -> list[Tensor]:
    """A layer's feed-forward: dense (gated; Nemotron-H's squared-ReLU has no gate) or experts."""
    E, F, X, S = a.n_embd, a.n_ff_exp, a.n_expert, a.n_ff_shexp
    qwen = a.arch in ("qwen3next", "qwen35", "qwen35moe")

    def w(name: str, *shape: int) -> Tensor:
        return Tensor(p + name, tuple(shape), dtype)

    def f32(name: str, *shape: int) -> Tensor:
        return Tensor(p + name, tuple(shape), "F32")

    if a.arch.startswith("nemotron_h"):  # one block a layer, no norm of its own
        if kind == "mlp":
            return [w("ffn_up.weight", E, a.n_ff[il]), w("ffn_down.weight", a.n_ff[il], E)]
        if kind == "moe":
            return [f32("ffn_gate_inp.weight", E, X), f32("exp_probs_b.bias", X), w("ffn_up_exps.weight", E, F, X),
                    w("ffn_down_exps.weight", F, E, X), w("ffn_up_shexp.weight", E, S),
                    w("ffn_down_shexp.weight", S, E)]
        return []
    out = [f32("post_attention_norm.weight" if qwen else "ffn_norm.weight", E)]
    if a.n_ff[il]:
        ff = a.n_ff[il]
        return out + [w("ffn_gate.weight", E, ff), w("ffn_up.weight", E, ff), w("ffn_down.weight", ff, E)]
    out += [f32("ffn_gate_inp.weight", E, X), w("ffn_gate_exps.weight", E, F, X), w("ffn_up_exps.weight", E, F, X),
            w("ffn_down_exps.weight", F, E, X)]
    if S:
        out += [f32("ffn_gate_inp_shexp.weight", E)] if qwen else []
        out += [w("ffn_gate_shexp.weight", E, S), w("ffn_up_shexp.weight", E, S), w("ffn_down_shexp.weight", S, E)]
    return out


def from_gguf_keys(arch: str, key: Any, n_layer: int, n_kv: tuple[int, ...],
                   ff: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]]:
    """A hybrid GGUF's layer kinds, per-layer KV heads and feed-forward widths, and state sizes, from the keys
    convert_hf_to_gguf.py writes (`key(name, default)` reads `{arch}.name`)."""
    if arch == "lfm2":
        kinds = tuple("attn" if n else "conv" for n in n_kv)
        return n_kv, ff, {"layer_kinds": kinds, "ssm": (int(key("shortconv.l_cache", 3) or 3),)}
    ssm = tuple(int(key(f"ssm.{k}", 0) or 0)
                for k in ("conv_kernel", "inner_size", "state_size", "group_count", "time_step_rank"))
    shexp = int(key("expert_shared_feed_forward_length", 0) or 0)
    kw: dict[str, Any] = {"ssm": ssm, "n_ff_shexp": shexp}
    if shexp:
        kw["n_expert_shared"] = int(key("expert_shared_count", 1) or 1)
    if arch in ("qwen3next", "qwen35", "qwen35moe"):
        interval = int(key("full_attention_interval", 4) or 4)
        kinds = tuple("attn" if (il + 1) % interval == 0 else "linear" for il in range(n_layer))
        n_kv = tuple(n if k == "attn" else 0 for n, k in zip(n_kv, kinds, strict=True))
    elif arch.startswith("nemotron_h"):
        moe = arch == "nemotron_h_moe"
        kinds = tuple("attn" if n else ("moe" if moe else "mlp") if f else "ssm" for n, f in zip(n_kv, ff, strict=True))
        ff = tuple(0 if moe else f for f in ff)
    else:  # granitehybrid
        kinds = tuple("attn" if n else "ssm" for n in n_kv)
    return n_kv, ff, {"layer_kinds": kinds, **kw}
