"""GPT-style architectures: LayerNorm with biases, one norm before attention and MLP run in parallel, a plain
two-matrix MLP - Phi-2, Falcon and GPT-J, with the tensors convert_hf_to_gguf.py writes and llama.cpp's
llama-model.cpp loads for LLM_ARCH_PHI2, LLM_ARCH_FALCON and LLM_ARCH_GPTJ (pure)."""

from typing import Any

from catalog.core.arch import Architecture
from catalog.core.ggml import Tensor

# HF `architectures[0]` -> GGUF architecture name
GPT_ARCH = {"PhiForCausalLM": "phi2", "FalconForCausalLM": "falcon", "RWForCausalLM": "falcon",
            "GPTJForCausalLM": "gptj"}
GPT_ARCHS = frozenset(GPT_ARCH.values())


def from_config(c: dict[str, Any], hf: str) -> Architecture:
    """The architecture of a Phi-2, Falcon or GPT-J config.json (their own key spellings)."""
    from catalog.core.arch_generic import generic

    a = generic(c, hf)
    arch = GPT_ARCH[hf]
    # Falcon ties its output matrix to the embedding unless the config says otherwise; Phi-2 and GPT-J do not
    tied = bool(c.get("tie_word_embeddings", arch == "falcon"))
    n_kv = a.n_head_kv[0]
    # Falcon 40B/180B's decoder: grouped KV heads and a second norm a layer (ln_attn, ln_mlp); the first RW
    # configs of 40B say so only by naming n_head_kv
    new_decoder = arch == "falcon" and bool(c.get("new_decoder_architecture") or (
        hf == "RWForCausalLM" and "n_head_kv" in c))
    if new_decoder:
        n_kv = int(c.get("num_kv_heads") or c.get("n_head_kv") or a.n_head)
    # convert_hf_to_gguf.py writes Falcon's context as 2048 ("not in config.json"), whatever the config says
    ctx = 2048 if arch == "falcon" else a.n_ctx_train
    return a._replace(arch=arch, tied_embeddings=tied, n_head_kv=(n_kv,) * a.n_layer, n_ctx_train=ctx,
                      attn_bias=arch == "phi2", qk_norm=new_decoder)


def tensors(a: Architecture, dtype: str) -> list[Tensor]:
    """The tensor table of a GPT-style model (qk_norm marks Falcon's new decoder: a second norm a layer)."""
    out: list[Tensor] = []
    E, V = a.n_embd, a.n_vocab

    def w(name: str, *shape: int) -> None:
        out.append(Tensor(name, tuple(shape), dtype))

    def f32(name: str, *shape: int) -> None:
        out.append(Tensor(name, tuple(shape), "F32"))

    w("token_embd.weight", E, V)
    f32("output_norm.weight", E)
    f32("output_norm.bias", E)
    if not a.tied_embeddings:
        w("output.weight", E, V)
        if a.arch in ("phi2", "gptj"):
            f32("output.bias", V)
    for il in range(a.n_layer):
        p = f"blk.{il}."
        kv = a.n_head_kv[il] * a.head_dim_k
        f32(p + "attn_norm.weight", E)
        f32(p + "attn_norm.bias", E)
        if a.arch == "falcon":
            if a.qk_norm:
                f32(p + "attn_norm_2.weight", E)
                f32(p + "attn_norm_2.bias", E)
            w(p + "attn_qkv.weight", E, E + 2 * kv)
        else:
            w(p + "attn_q.weight", E, E)
            w(p + "attn_k.weight", E, kv)
            w(p + "attn_v.weight", E, kv)
            if a.arch == "phi2":
                f32(p + "attn_q.bias", E)
                f32(p + "attn_k.bias", kv)
                f32(p + "attn_v.bias", kv)
        w(p + "attn_output.weight", E, E)
        if a.arch == "phi2":
            f32(p + "attn_output.bias", E)
        w(p + "ffn_up.weight", E, a.n_ff[il])
        if a.arch != "falcon":
            f32(p + "ffn_up.bias", a.n_ff[il])
        w(p + "ffn_down.weight", a.n_ff[il], E)
        if a.arch != "falcon":
            f32(p + "ffn_down.bias", E)
    return out
