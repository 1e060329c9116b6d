"""Model architecture facts and the GGUF tensor table they imply (pure).

`Architecture` is what the memory estimator needs to know about a model. It
comes from a Hugging Face `config.json` (`from_hf_config`), from a GGUF
header (`from_gguf_metadata`), or from the embedded catalog, which stores
config.json facts. `hf_tensors` lists the tensors `convert_hf_to_gguf.py`
writes for it, with the shapes llama.cpp's loader expects, so a file size can
be predicted per quantization from config.json alone.
"""


from functools import lru_cache
from typing import Any

from catalog.core.arch_moe import hf_experts
from catalog.core.ggml import Tensor
from catalog.core.record import Record


class Architecture(Record):
    """Shape facts of one model, in llama.cpp's terms (GGUF `{arch}.*` keys)."""

    arch: str  # GGUF general.architecture: llama, qwen2, gemma2, deepseek2, gpt-oss...
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: tuple[int, ...]  # per layer
    head_dim_k: int
    head_dim_v: int
    n_ff: tuple[int, ...]  # per layer (0 for a MoE-only layer)
    n_vocab: int
    n_ctx_train: int
    tied_embeddings: bool = False
    sliding_window: int = 0
    swa_layers: tuple[bool, ...] = ()  # True where the layer uses the sliding window
    n_expert: int = 0
    n_expert_used: int = 0
    n_ff_exp: int = 0
    n_expert_shared: int = 0
    n_dense_lead: int = 0  # leading dense layers before the MoE ones
    kv_lora_rank: int = 0  # MLA
    q_lora_rank: int = 0
    qk_rope_dim: int = 0
    qk_nope_dim: int = 0
    attn_bias: bool = False
    qk_norm: bool = False
    rope_freqs: bool = False  # llama3-style rope scaling writes rope_freqs.weight
    rope_factors: bool = False  # Phi-3 longrope writes rope_factors_long/short.weight
    # hybrid and recurrent models (catalog.core.arch_hybrid): each layer's mixer, "attn" or a recurrent one
    # ("ssm" Mamba-2, "linear" gated delta net, "conv" LFM2's short convolution; "mlp"/"moe" Nemotron-H's
    # feed-forward-only layers), and the state sizes llama-memory-recurrent keeps per sequence
    layer_kinds: tuple[str, ...] = ()
    ssm: tuple[int, ...] = ()  # d_conv, d_inner, d_state, n_group, dt_rank (GGUF {arch}.ssm.*); LFM2: (l_cache,)
    n_ff_shexp: int = 0  # a shared expert's width where it differs from the routed ones'
    head_dim_swa: int = 0  # Gemma 4: the sliding-window layers' head size, where it differs from the global ones'
    k_eq_v: bool = False  # Gemma 4: the global layers read values from the keys (no V projection)
    # multi-token-prediction blocks convert_hf_to_gguf.py writes after the n_layer trunk layers (blk.{n_layer}...,
    # GGUF {arch}.nextn_predict_layers): in the file, but llama.cpp skips loading them unless asked (TENSOR_SKIP)
    n_nextn: int = 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def n_gqa(self) -> int:
        # llama_hparams::n_gqa(0): 0 where layer 0 keeps no KV (a recurrent layer), as llama-quantize sees it
        return self.n_head // self.n_head_kv[0] if self.n_head_kv[0] else 0

    def head_dims(self, il: int) -> tuple[int, int]:
        """Layer `il`'s K and V head sizes (Gemma 4's sliding-window layers have their own)."""
        if self.head_dim_swa and self.swa_layers and self.swa_layers[il]:
            return self.head_dim_swa, self.head_dim_swa
        return self.head_dim_k, self.head_dim_v

    def state_elements(self, il: int) -> int:
        """f32 elements of recurrent state layer `il` keeps per sequence (llama_hparams::n_embd_r + n_embd_s)."""
        kind = self.layer_kinds[il] if self.layer_kinds else "attn"
        if kind == "conv":
            return self.n_embd * (self.ssm[0] - 1)
        if kind in ("ssm", "linear"):
            d_conv, d_inner, d_state, n_group = self.ssm[:4]
            return (d_conv - 1) * (d_inner + 2 * n_group * d_state) + d_state * d_inner
        return 0


class UnsupportedArchitecture(ValueError):
    """The config names an architecture this estimator has no tensor rules for."""


# HF `architectures[0]` -> GGUF architecture name (convert_hf_to_gguf's mapping)
HF_ARCH = {
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "llama",
    "MixtralForCausalLM": "llama",
    "Qwen2ForCausalLM": "qwen2",
    "Qwen3ForCausalLM": "qwen3",
    "Qwen3MoeForCausalLM": "qwen3moe",
    "Gemma2ForCausalLM": "gemma2",
    "Gemma3ForCausalLM": "gemma3",
    "Gemma3ForConditionalGeneration": "gemma3",
    "Phi3ForCausalLM": "phi3",
    "DeepseekV2ForCausalLM": "deepseek2",
    "DeepseekV3ForCausalLM": "deepseek2",
    "GptOssForCausalLM": "gpt-oss",
    "GraniteForCausalLM": "granite",
    "CohereForCausalLM": "command-r",
    "InternLM2ForCausalLM": "internlm2",
    "Olmo2ForCausalLM": "olmo2",
    "Llama4ForConditionalGeneration": "llama4",
    "Llama4ForCausalLM": "llama4",
    # a vision model around a text one: convert_hf_to_gguf.py writes the text model as its own architecture and
    # the vision tower as the projector (mmproj)
    "Mistral3ForConditionalGeneration": "llama",
    "KimiK25ForConditionalGeneration": "deepseek2",
    "SmolLM3ForCausalLM": "smollm3",
    "Ernie4_5ForCausalLM": "ernie4_5",
    "Ernie4_5_MoeForCausalLM": "ernie4_5-moe",
    "MiniMaxM2ForCausalLM": "minimax-m2",
    "Qwen3VLForConditionalGeneration": "qwen3vl",  # Qwen3's tables; the deepstack inputs are the projector's
    "Qwen3VLMoeForConditionalGeneration": "qwen3vlmoe",
    "DeciLMForCausalLM": "deci",  # catalog.core.arch_deci
    "Glm4MoeForCausalLM": "glm4moe",  # catalog.core.arch_glm4moe
    "Gemma4ForConditionalGeneration": "gemma4",  # catalog.core.arch_gemma4
    "Gemma4ForCausalLM": "gemma4",
}
# the wrapper classes whose language model is the config's text_config
TEXT_CONFIG_ARCHS = frozenset({"Llama4ForConditionalGeneration", "Mistral3ForConditionalGeneration",
                               "KimiK25ForConditionalGeneration", "Qwen3VLForConditionalGeneration",
                               "Qwen3VLMoeForConditionalGeneration"})
# with Phi-2 and Falcon (catalog.core.arch_gpt, whose own config spellings it reads); GPT-J's table is written
# too, but llama.cpp does not load it (NOT_RUN), so it is not counted as modelled
SUPPORTED = frozenset(HF_ARCH.values()) | {"phi2", "falcon", "granitehybrid", "nemotron_h", "nemotron_h_moe",
                                           "lfm2", "qwen35", "qwen35moe", "qwen3next"}
# architectures whose tables have a module of their own (catalog.core.arch_NAME, NAME_tensors)
OWN_TABLES = {a: (f"catalog.core.arch_{a}", f"{a}_tensors") for a in ("gemma4", "deci", "glm4moe")}
HYBRID = frozenset({"granitehybrid", "nemotron_h", "nemotron_h_moe", "lfm2", "qwen35", "qwen35moe", "qwen3next"})
# architectures convert_hf_to_gguf.py names but llama.cpp refuses to load ("unsupported model architecture",
# llama.cpp 0c1e570): no runtime the product prints a command for runs them
NOT_RUN = frozenset({"gptj"})
# transformers' Gemma3TextConfig.__init__ defaults for the keys that change memory (as mirrored in
# bminixhofer/tokenkit tokenkit/hf/configuration_tpu_gemma3.py); a config's own values win.
GEMMA3_TEXT_DEFAULTS: dict[str, Any] = {
    "vocab_size": 262208, "head_dim": 256, "max_position_embeddings": 131072, "sliding_window": 4096,
    "sliding_window_pattern": 6, "num_attention_heads": 8, "num_key_value_heads": 4, "tie_word_embeddings": True,
}
# llama.cpp's default sliding-window period when a GGUF has no pattern key
# (src/llama-model.cpp: gemma2 every other layer, gemma3 5 local : 1 global)
DEFAULT_SWA_PERIOD = {"gemma2": 2, "gemma3": 6, "gpt-oss": 2, "llama4": 4, "gemma4": 6}


def swa_by_period(n_layer: int, period: int) -> tuple[bool, ...]:
    # llama_hparams::set_swa_pattern: layer il is SWA iff p == 0 or il % p < p - 1
    return tuple(period <= 0 or il % period < period - 1 for il in range(n_layer))


def from_hf_config(config: dict[str, Any]) -> Architecture:
    """Read an Architecture from a Hugging Face config.json dict (shapes past catalog.core.arch_limits'
    SHAPE_LIMITS are no model's).

    Raises:
        UnsupportedArchitecture: unknown `architectures`, missing keys, or a value that is not a number in range
            (infinite, NaN, negative, a zero period, the wrong type): one clear error, never a crash.
    """
    from catalog.core.arch_limits import checked

    return checked(config, _from_hf_config)


def _from_hf_config(config: dict[str, Any]) -> Architecture:
    names = config.get("architectures") or []
    hf = names[0] if names and isinstance(names[0], str) else ""
    arch = HF_ARCH.get(hf)
    if arch is None:
        from catalog.core.arch_generic import generic
        from catalog.core.arch_gpt import GPT_ARCH, from_config
        from catalog.core.arch_hybrid import HYBRID_ARCH, from_hybrid_config

        if hf in HYBRID_ARCH:
            return from_hybrid_config(config, hf)
        return from_config(config, hf) if hf in GPT_ARCH else generic(config, hf)
    c = config
    if arch == "gemma4":
        from catalog.core.arch_gemma4 import from_gemma4_config

        return from_gemma4_config(config)
    if arch == "deci":
        from catalog.core.arch_deci import from_deci_config

        return from_deci_config(config)
    if arch == "gemma3":
        # Gemma 3's config.json leaves many text_config keys to transformers' Gemma3TextConfig
        # defaults; apply them as transformers does when it loads the config
        text = c.get("text_config")
        c = {**GEMMA3_TEXT_DEFAULTS, **(text if isinstance(text, dict) else c)}
    elif hf in TEXT_CONFIG_ARCHS and isinstance(c.get("text_config"), dict):
        c = c["text_config"]  # the vision tower is the projector's (mmproj), not the language model's
    try:
        n_layer = int(c["num_hidden_layers"])
        n_embd = int(c["hidden_size"])
        n_head = int(c["num_attention_heads"])
        n_vocab = int(c.get("vocab_size") or config.get("vocab_size") or 0)
    except (KeyError, TypeError, ValueError) as exc:
        raise UnsupportedArchitecture(f"config.json lacks a number it needs ({exc})") from None
    n_kv = int(c.get("num_key_value_heads") or n_head)
    head_dim = int(c.get("head_dim") or n_embd // n_head)
    n_ff = int(c.get("intermediate_size") or 0)
    ctx = int(c.get("max_position_embeddings") or 0)
    # llama.cpp always reads Command R's output matrix from the token embedding
    tied = arch == "command-r" or bool(c.get("tie_word_embeddings", arch in ("gemma2", "gemma3")))
    kw = _hf_flags(arch, c, n_layer)
    ff, experts = hf_experts(arch, c, n_ff, n_layer)
    kw.update(experts)
    if arch == "deepseek2":
        # MLA caches one shared "head" holding the compressed latent and the rope part
        head_k = int(c["kv_lora_rank"]) + int(c["qk_rope_head_dim"])
        return Architecture(arch, n_layer, n_embd, n_head, (1,) * n_layer, head_k, int(c["v_head_dim"]),
                            ff, n_vocab, ctx, tied, **kw)
    return Architecture(arch, n_layer, n_embd, n_head, (n_kv,) * n_layer, head_dim, head_dim, ff,
                        n_vocab, ctx, tied, **kw)


def _hf_flags(arch: str, c: dict[str, Any], n_layer: int) -> dict[str, Any]:
    """The extra tensors and the attention window a config implies (rope tables, biases, QK norms, SWA)."""
    kw: dict[str, Any] = {}
    rope = c.get("rope_scaling") or {}
    if arch in ("llama", "llama4") and isinstance(rope, dict) and rope.get("rope_type", rope.get("type")) == "llama3":
        kw["rope_freqs"] = True
    if arch == "llama4" and c.get("attention_chunk_size"):
        # chunked attention on three layers of four (llama.cpp: set_swa_pattern(4)); its KV cache is sized as a
        # sliding window of the chunk
        kw["sliding_window"] = int(c["attention_chunk_size"])
        kw["swa_layers"] = swa_by_period(n_layer, DEFAULT_SWA_PERIOD["llama4"])
    if arch == "phi3" and isinstance(rope, dict) and rope.get("long_factor"):
        kw["rope_factors"] = True
    if arch in ("qwen2", "gpt-oss"):
        kw["attn_bias"] = True
    if arch in ("qwen3", "qwen3moe", "qwen3vl", "qwen3vlmoe", "gemma3", "olmo2") or (
            arch in ("command-r", "minimax-m2") and c.get("use_qk_norm")):
        kw["qk_norm"] = True
    window = int(c.get("sliding_window") or 0)
    # Mistral v0.1 declared a 4096 window; llama.cpp ignores it for llama and qwen2, so do we
    if arch in ("gemma2", "gemma3", "gpt-oss") and window:
        kw["sliding_window"] = window
        period = int(c.get("sliding_window_pattern") or DEFAULT_SWA_PERIOD[arch])
        layer_types = c.get("layer_types")
        if isinstance(layer_types, list) and len(layer_types) == n_layer:
            kw["swa_layers"] = tuple(t == "sliding_attention" for t in layer_types)
        else:
            kw["swa_layers"] = swa_by_period(n_layer, period)
    return kw


def modelled(a: Architecture) -> bool:
    """Whether this architecture's tensors, KV cache and compute graph are modelled here (else a standard
    attention transformer stands in)."""
    return a.arch in SUPPORTED


def parameter_count(tensors: list[Tensor]) -> int:
    """Number of weights in a tensor table."""
    total = 0
    for t in tensors:
        n = 1
        for d in t.shape:
            n *= d
        total += n
    return total


def hf_tensors(a: Architecture, dtype: str = "F16") -> list[Tensor]:
    """The tensors convert_hf_to_gguf.py writes (a fresh list; see _hf_tensors)."""
    return list(_hf_tensors(a, dtype))


@lru_cache(maxsize=64)
def _hf_tensors(a: Architecture, dtype: str) -> tuple[Tensor, ...]:
    """The tensors convert_hf_to_gguf.py writes for this architecture.

    Args:
        a: the architecture.
        dtype: the converter's output type for 2-D weights (F16, BF16 or F32);
            1-D tensors, norms and MoE routers are always F32.
    Returns:
        Tensors with ggml-order shapes.
    """
    if a.arch in ("phi2", "falcon", "gptj"):
        from catalog.core.arch_gpt import tensors

        return tuple(tensors(a, dtype))
    if a.arch in HYBRID:
        from catalog.core.arch_hybrid import hybrid_tensors

        return tuple(hybrid_tensors(a, dtype))
    if a.arch in OWN_TABLES:
        import importlib

        module, fn = OWN_TABLES[a.arch]
        return tuple(getattr(importlib.import_module(module), fn)(a, dtype))
    if a.arch not in SUPPORTED:
        from catalog.core.arch_generic import generic_tensors

        return generic_tensors(a, dtype)
    out: list[Tensor] = []

    def w(name: str, *shape: int) -> None:
        out.append(Tensor(name, tuple(shape), dtype))

    def f32(name: str, *shape: int) -> None:
        out.append(Tensor(name, tuple(shape), "F32"))

    E, V = a.n_embd, a.n_vocab
    w("token_embd.weight", E, V)
    f32("output_norm.weight", E)
    if not a.tied_embeddings:
        w("output.weight", E, V)
    if a.rope_freqs:
        f32("rope_freqs.weight", a.head_dim_k // 2)
    if a.rope_factors:
        f32("rope_factors_long.weight", a.head_dim_k // 2)
        f32("rope_factors_short.weight", a.head_dim_k // 2)
    for il in range(a.n_layer):
        p = f"blk.{il}."
        if a.arch != "olmo2":  # OLMo 2 normalises after attention and FFN only
            f32(p + "attn_norm.weight", E)
        n_kv = a.n_head_kv[il]
        if a.arch == "deepseek2":
            qk = a.qk_nope_dim + a.qk_rope_dim
            r = a.kv_lora_rank
            if a.q_lora_rank:
                w(p + "attn_q_a.weight", E, a.q_lora_rank)
                f32(p + "attn_q_a_norm.weight", a.q_lora_rank)
                w(p + "attn_q_b.weight", a.q_lora_rank, a.n_head * qk)
            else:
                w(p + "attn_q.weight", E, a.n_head * qk)
            w(p + "attn_kv_a_mqa.weight", E, r + a.qk_rope_dim)
            f32(p + "attn_kv_a_norm.weight", r)
            w(p + "attn_k_b.weight", a.qk_nope_dim, r, a.n_head)
            w(p + "attn_v_b.weight", r, a.head_dim_v, a.n_head)
            w(p + "attn_output.weight", a.n_head * a.head_dim_v, E)
        else:
            q = a.n_head * a.head_dim_k
            k = n_kv * a.head_dim_k
            v = n_kv * a.head_dim_v
            if a.arch == "phi3":
                w(p + "attn_qkv.weight", E, q + k + v)
            else:
                w(p + "attn_q.weight", E, q)
                w(p + "attn_k.weight", E, k)
                w(p + "attn_v.weight", E, v)
                if a.attn_bias:
                    f32(p + "attn_q.bias", q)
                    f32(p + "attn_k.bias", k)
                    f32(p + "attn_v.bias", v)
            if a.qk_norm and a.arch in ("olmo2", "minimax-m2"):  # one norm over all heads
                f32(p + "attn_q_norm.weight", q)
                f32(p + "attn_k_norm.weight", k)
            elif a.qk_norm and a.arch == "command-r":
                out.append(Tensor(p + "attn_q_norm.weight", (a.head_dim_k, a.n_head), "F32"))
                out.append(Tensor(p + "attn_k_norm.weight", (a.head_dim_k, n_kv), "F32"))
            elif a.qk_norm:
                f32(p + "attn_q_norm.weight", a.head_dim_k)
                f32(p + "attn_k_norm.weight", a.head_dim_k)
            w(p + "attn_output.weight", q if a.arch != "phi3" else E, E)
            if a.arch == "gpt-oss":
                f32(p + "attn_output.bias", E)
                f32(p + "attn_sinks.weight", a.n_head)
        if a.arch in ("gemma2", "gemma3"):
            f32(p + "post_attention_norm.weight", E)
            f32(p + "ffn_norm.weight", E)
            f32(p + "post_ffw_norm.weight", E)
        elif a.arch == "gpt-oss":
            f32(p + "post_attention_norm.weight", E)
        elif a.arch == "olmo2":
            f32(p + "post_attention_norm.weight", E)
            f32(p + "post_ffw_norm.weight", E)
        elif a.arch != "command-r":  # Command R runs attention and FFN in parallel off one norm
            f32(p + "ffn_norm.weight", E)
        ff = a.n_ff[il]
        if ff:
            if a.arch == "phi3":
                w(p + "ffn_up.weight", E, 2 * ff)
            else:
                w(p + "ffn_gate.weight", E, ff)
                w(p + "ffn_up.weight", E, ff)
            w(p + "ffn_down.weight", ff, E)
            continue
        X, F = a.n_expert, a.n_ff_exp
        f32(p + "ffn_gate_inp.weight", E, X)
        if a.arch in ("ernie4_5-moe", "minimax-m2"):  # the router's score-correction bias
            f32(p + "exp_probs_b.bias", X)
        # gpt-oss ships its experts in MXFP4 and the converter keeps them so
        xt = "MXFP4" if a.arch == "gpt-oss" else dtype
        out.append(Tensor(p + "ffn_gate_exps.weight", (E, F, X), xt))
        out.append(Tensor(p + "ffn_up_exps.weight", (E, F, X), xt))
        out.append(Tensor(p + "ffn_down_exps.weight", (F, E, X), xt))
        if a.arch == "gpt-oss":
            f32(p + "ffn_gate_inp.bias", X)
            f32(p + "ffn_gate_exps.bias", F, X)
            f32(p + "ffn_up_exps.bias", F, X)
            f32(p + "ffn_down_exps.bias", E, X)
        if a.n_expert_shared:
            S = F * a.n_expert_shared
            w(p + "ffn_gate_shexp.weight", E, S)
            w(p + "ffn_up_shexp.weight", E, S)
            w(p + "ffn_down_shexp.weight", S, E)
    return tuple(out)
