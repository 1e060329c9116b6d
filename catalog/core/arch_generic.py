"""Architectures without tensor rules here, sized as a standard attention transformer (pure).

An answer is never empty: a config.json whose class llama.cpp runs but this estimator does not model
(GPT-NeoX, MPT, StableLM, an architecture not yet known) is read from the keys most configs share, its tables
are a standard transformer's (fitted to the exact parameter count where the Hub gives one), and the
estimate says what it did not model (catalog.core.model.estimate_note).
"""

import re
from typing import Any

from catalog.core.arch import Architecture, UnsupportedArchitecture, modelled, parameter_count
from catalog.core.ggml import Tensor

# llama.cpp's names for architectures whose tables are not modelled here (llama-arch.cpp), so an estimate
# names them as the runtime does
GENERIC_NAMES = {"PhiForCausalLM": "phi2", "FalconForCausalLM": "falcon", "RWForCausalLM": "falcon",
                 "GPTJForCausalLM": "gptj", "GPTNeoXForCausalLM": "gptneox", "GPT2LMHeadModel": "gpt2",
                 "BloomForCausalLM": "bloom", "MPTForCausalLM": "mpt", "StableLmForCausalLM": "stablelm",
                 "StarCoder2ForCausalLM": "starcoder2", "GPTBigCodeForCausalLM": "starcoder"}


def _first(c: dict[str, Any], *keys: str) -> Any:
    return next((c[k] for k in keys if isinstance(c.get(k), int | float) and not isinstance(c.get(k), bool)), None)


def generic(c: dict[str, Any], hf: str) -> Architecture:
    """An architecture without tensor rules here, read from the keys most configs share (the GPT-2, Falcon and
    GPT-J spellings too), sized as a standard attention transformer: `modelled` says it is not one of ours.

    Raises:
        UnsupportedArchitecture: the config lacks the layer count, width or head count.
    """
    n_layer, n_embd = _first(c, "num_hidden_layers", "n_layer", "num_layers", "n_layers"), _first(
        c, "hidden_size", "n_embd", "d_model")
    n_head = _first(c, "num_attention_heads", "n_head", "num_heads")
    if not (n_layer and n_embd and n_head) or not (0 < n_layer <= 4096 and 0 < n_embd <= 1 << 20 and n_head > 0):
        raise UnsupportedArchitecture(f"architecture {hf or '(none)'} is not supported: its config.json has no "
                                      "layer count, width or head count to size it as a transformer")
    n_layer, n_embd, n_head = int(n_layer), int(n_embd), int(n_head)
    multi_query = c.get("multi_query") is True and not c.get("new_decoder_architecture")
    n_kv = int(_first(c, "num_key_value_heads", "num_kv_heads", "n_head_kv") or (1 if multi_query else n_head))
    head_dim = int(_first(c, "head_dim") or n_embd // n_head)
    n_ff = int(_first(c, "intermediate_size", "n_inner", "ffn_hidden_size") or 4 * n_embd)
    name = GENERIC_NAMES.get(hf) or (re.sub(r"(ForCausalLM|LMHeadModel)$", "", hf).lower() or "unknown")
    return Architecture(name, n_layer, n_embd, n_head, (n_kv,) * n_layer, head_dim, head_dim, (n_ff,) * n_layer,
                        int(_first(c, "vocab_size", "padded_vocab_size") or 0),
                        int(_first(c, "max_position_embeddings", "n_positions", "seq_length", "max_seq_len") or 0),
                        bool(c.get("tie_word_embeddings", False)))


def generic_tensors(a: Architecture, dtype: str) -> tuple[Tensor, ...]:
    """A standard attention transformer's tables for an architecture not modelled here: the embeddings, and per
    layer a norm, Q/K/V/O and a gated feed-forward (three matrices: an upper bound for the two-matrix MLPs of
    GPT-2, Falcon or Phi-2). A spec with an exact parameter count scales this (`model.tensors_for`)."""
    out: list[Tensor] = []
    E, V = a.n_embd, max(1, a.n_vocab)
    out.append(Tensor("token_embd.weight", (E, V), dtype))
    out.append(Tensor("output_norm.weight", (E,), "F32"))
    if not a.tied_embeddings:
        out.append(Tensor("output.weight", (E, V), dtype))
    for il in range(a.n_layer):
        p = f"blk.{il}."
        q, kv = a.n_head * a.head_dim_k, a.n_head_kv[il] * a.head_dim_k
        out += [Tensor(p + "attn_norm.weight", (E,), "F32"), Tensor(p + "attn_q.weight", (E, q), dtype),
                Tensor(p + "attn_k.weight", (E, kv), dtype), Tensor(p + "attn_v.weight", (E, kv), dtype),
                Tensor(p + "attn_output.weight", (q, E), dtype), Tensor(p + "ffn_norm.weight", (E,), "F32"),
                Tensor(p + "ffn_gate.weight", (E, a.n_ff[il]), dtype),
                Tensor(p + "ffn_up.weight", (E, a.n_ff[il]), dtype),
                Tensor(p + "ffn_down.weight", (a.n_ff[il], E), dtype)]
    return tuple(out)


def fitted_to_count(a: Architecture, parameters: int) -> Architecture:
    """A stand-in architecture whose feed-forward width makes its tables hold exactly `parameters` weights
    (what the Hub's safetensors count says), so the weights are right even where the layout is not."""
    if modelled(a) or parameters <= 0:
        return a
    without_ffn = parameter_count(list(generic_tensors(a._replace(n_ff=(0,) * a.n_layer), "F16")))
    n_ff = (parameters - without_ffn) // (3 * a.n_layer * a.n_embd)
    return a._replace(n_ff=(int(n_ff),) * a.n_layer) if n_ff > 0 else a
