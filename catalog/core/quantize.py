"""llama-quantize's per-tensor type rules (pure).

A "Q4_K_M" GGUF is not 4.5 bits everywhere: llama-quantize gives the output
matrix, some attn_v and ffn_down layers and a few other tensors more bits.
This module ports that choice (`llama_tensor_get_type` in llama.cpp's
src/llama-quant.cpp, commit 0c1e570, 2026-10) so file sizes and per-layer
bytes can be predicted exactly, tensor by tensor. The rules are split by
tensor category as llama.cpp's function tests them, one function each.
"""


from functools import lru_cache

from catalog.core.ggml import GGML_TYPES, PRESETS, UNQUANTIZED, Tensor, block_index
from catalog.core.record import Record


class QuantContext(Record):
    """Model facts llama-quantize consults when it picks tensor types."""

    arch: str
    n_layer: int
    n_expert: int = 0
    n_gqa: int = 1
    is_70b: bool = False
    has_imatrix: bool = False


def _more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


@lru_cache(maxsize=65536)
def _category(name: str) -> str:
    # mirrors tensor_get_category: substring tests, in this order
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    for key, cat in (
        ("attn_qkv.weight", "attn_qkv"),
        ("attn_kv_b.weight", "attn_kv_b"),
        ("attn_v.weight", "attn_v"),
        ("attn_k.weight", "attn_k"),
        ("attn_q.weight", "attn_q"),
        ("attn_output.weight", "attn_output"),
        ("ffn_up", "ffn_up"),
        ("ffn_gate", "ffn_gate"),
        ("ffn_down", "ffn_down"),
    ):
        if key in name:
            return cat
    return "other"


_NO_QUANT_PARTS = (
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
    "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
    "indexer.q_proj.weight", "time_mix_", "attn_rel_b.weight", ".position_embd",
    ".patch_embd", ".rel_pos",
)


@lru_cache(maxsize=65536)
def allows_quantization(name: str, n_dims: int) -> bool:
    """Whether llama-quantize may change this tensor's type at all."""
    if n_dims < 2 or not name.endswith("weight"):
        return False
    if name in ("position_embd.weight", "token_types.weight"):
        return False
    for part in _NO_QUANT_PARTS:  # a loop, not a compiled alternation: compiling one costs a check 0.3 ms
        if part in name:
            return False
    return True


_IQ_LOW = frozenset({"IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"})
_ATTN_V_LIKE = ("attn_v", "attn_qkv", "attn_kv_b")
# categories whose type reads no counter (attn_v's and ffn_down's count the tensors before them)
_STATELESS = frozenset({"output", "token_embd", "attn_k", "attn_q", "attn_output", "ffn_gate", "ffn_up", "other"})


class _State:
    __slots__ = ("n_attn_v", "i_attn_v", "i_ffn_down", "tied")

    def __init__(self, n_attn_v: int, tied: bool) -> None:
        self.n_attn_v = n_attn_v
        self.i_attn_v = 0
        self.i_ffn_down = 0
        self.tied = tied


def _layer_of(name: str, counter: int, ctx: QuantContext) -> int:
    if ctx.n_expert > 1 and name.startswith("blk."):
        return int(name.split(".", 2)[1])
    return counter


def _output_type(ctx: QuantContext, ftype: str, t: str, ne0: int) -> str:
    """The output matrix (and a tied token embedding, which doubles as it)."""
    block = GGML_TYPES[t][1]
    if ftype == "MXFP4_MOE":
        return "Q8_0"
    if ctx.arch == "falcon" or ne0 % block != 0:
        return "Q8_0"
    if ftype in _IQ_LOW or ftype == "IQ3_XXS":
        return "Q5_K"
    return t if t == "Q8_0" else "Q6_K"


def _token_embd_type(ftype: str, t: str) -> str:
    if ftype in ("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"):
        return "Q2_K"
    if ftype in ("IQ2_S", "IQ2_M", "IQ3_XXS"):
        return "IQ3_S"
    if ftype in ("TQ1_0", "TQ2_0"):
        return "Q4_K"
    return t


def _iq_low_type(st: _State, ctx: QuantContext, ftype: str, t: str, cat: str) -> str:
    """The 1- and 2-bit i-quants: their own rules for every category."""
    if cat in _ATTN_V_LIKE:
        if ctx.n_gqa >= 4 or ctx.n_expert >= 4:
            t = "Q4_K"
        else:
            t = "IQ3_S" if ftype in ("IQ2_S", "IQ2_M") else "Q2_K"
        st.i_attn_v += 1
    elif ctx.n_expert == 8 and cat == "attn_k":
        t = "Q4_K"
    elif cat == "ffn_down":
        if st.i_ffn_down < ctx.n_layer // 8:
            t = "IQ3_S" if ftype in ("IQ2_S", "IQ2_M") else "Q2_K"
        st.i_ffn_down += 1
    elif cat == "attn_output":
        if ctx.n_expert == 8:
            t = "Q5_K"
        elif ftype in ("IQ1_S", "IQ1_M"):
            t = "IQ2_XXS"
        elif ftype in ("IQ2_S", "IQ2_M"):
            t = "IQ3_S"
    return t


def _attn_v_type(st: _State, ctx: QuantContext, ftype: str, t: str) -> str:
    """attn_v (and the fused attn_qkv, MLA's attn_kv_b): a few more bits where GQA shares them."""
    gqa4 = ctx.n_gqa >= 4
    if ftype == "Q2_K":
        t = "Q4_K" if gqa4 else "Q3_K"
    elif ftype == "Q2_K_S" and gqa4:
        t = "Q4_K"
    elif ftype == "IQ3_XXS":
        t = "Q4_K" if gqa4 else ("IQ3_XXS" if ctx.has_imatrix else "IQ3_S")
    elif ftype in ("IQ3_XS", "IQ3_S") and gqa4:
        t = "Q4_K"
    elif ftype == "IQ3_M":
        t = "Q4_K"
    elif ftype == "Q3_K_M":
        t = "Q5_K" if st.i_attn_v < 2 else "Q4_K"
    elif ftype == "Q3_K_L":
        t = "Q5_K"
    elif ftype in ("IQ4_NL", "IQ4_XS") and gqa4:
        t = "Q5_K"
    elif ftype in ("Q4_K_M", "Q5_K_M") and _more_bits(st.i_attn_v, st.n_attn_v):
        t = "Q6_K"
    elif ftype == "Q4_K_S" and st.i_attn_v < 4:
        t = "Q5_K"
    if ctx.is_70b and t in ("Q3_K", "Q4_K"):
        t = "Q5_K"
    if ctx.n_expert == 8:
        t = "Q8_0"
    st.i_attn_v += 1
    return t


def _attn_k_q_type(ctx: QuantContext, ftype: str, t: str, cat: str) -> str:
    if cat == "attn_k" and ctx.n_expert == 8:
        return "Q8_0"
    if ftype == "IQ3_XS":
        return "IQ3_XXS"
    if ftype == "IQ3_XXS":
        return "IQ2_S"
    return t


def _ffn_down_type(st: _State, ctx: QuantContext, ftype: str, t: str, name: str) -> str:
    i = _layer_of(name, st.i_ffn_down, ctx)
    n = ctx.n_layer
    falcon = ctx.arch == "falcon"
    if ftype == "Q2_K":
        t = "Q3_K"
    elif ftype == "Q2_K_S":
        if i < n // 8:
            t = "Q4_K"
    elif ftype == "IQ3_XXS" and not ctx.has_imatrix:
        t = "Q4_K" if i < n // 8 else "Q3_K"
    elif ftype == "Q3_K_M":
        if i < n // 16:
            t = "Q5_K"
        elif not falcon or _more_bits(i, n):
            t = "Q4_K"
        else:
            t = "Q3_K"
    elif ftype == "IQ3_M" and (i < n // 8 or (ctx.n_expert == 8 and _more_bits(i, n))):
        t = "Q4_K"
    elif ftype == "Q3_K_L":
        t = "Q4_K" if falcon else "Q5_K"
    elif ftype == "Q4_K_M":
        if falcon:
            t = "Q6_K" if i < n // 16 else ("Q5_K" if _more_bits(i, n) else "Q4_K")
        elif _more_bits(i, n):
            t = "Q6_K"
    elif i < n // 8 and ftype in ("IQ4_NL", "IQ4_XS") and not ctx.has_imatrix:
        t = "Q5_K"
    elif ftype == "Q5_K_M" and _more_bits(i, n):
        t = "Q6_K"
    elif ftype == "Q4_K_S" and not falcon and i < n // 8:
        t = "Q5_K"
    elif ftype in ("Q4_0", "Q5_0") and ctx.has_imatrix and i < n // 8:
        t = "Q4_1" if ftype == "Q4_0" else "Q5_1"
    st.i_ffn_down += 1
    return t


_MOE8_ATTN_OUTPUT_Q5K = frozenset({"Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M",
                                   "IQ3_S", "IQ3_M", "IQ4_XS"})


def _attn_output_type(ctx: QuantContext, ftype: str, t: str) -> str:
    if ctx.arch == "falcon":
        return "Q4_K" if ftype == "Q3_K_L" else t
    if ctx.n_expert == 8:
        return "Q5_K" if ftype in _MOE8_ATTN_OUTPUT_Q5K else t
    return {"Q2_K": "Q3_K", "IQ3_XXS": "IQ3_S", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K", "IQ3_M": "Q4_K"}.get(ftype, t)


def _ffn_gate_up_type(ctx: QuantContext, ftype: str, t: str, name: str) -> str:
    if ftype == "IQ3_XS":
        i = _layer_of(name, -1, ctx)
        n = ctx.n_layer
        if i >= 0 and n // 8 <= i < 7 * n // 8:
            t = "IQ3_XXS"
    return t


def _impl(st: _State, ctx: QuantContext, ftype: str, t: str, name: str, cat: str, ne0: int, ne2: int) -> str:
    """llama_tensor_get_type: the type `ftype` gives tensor `name` (of category `cat`) whose default type is `t`."""
    if cat == "output" or (st.tied and cat == "token_embd"):
        return _output_type(ctx, ftype, t, ne0)
    if ftype == "MXFP4_MOE":
        return "MXFP4" if ne2 > 1 else "Q8_0"
    if cat == "token_embd":
        return _token_embd_type(ftype, t)
    if ftype in _IQ_LOW:
        return _iq_low_type(st, ctx, ftype, t, cat)
    if cat in _ATTN_V_LIKE:
        return _attn_v_type(st, ctx, ftype, t)
    if cat in ("attn_k", "attn_q"):
        return _attn_k_q_type(ctx, ftype, t, cat)
    if cat == "ffn_down":
        return _ffn_down_type(st, ctx, ftype, t, name)
    if cat == "attn_output":
        return _attn_output_type(ctx, ftype, t)
    if cat in ("ffn_gate", "ffn_up"):
        return _ffn_gate_up_type(ctx, ftype, t, name)
    return t


_FALLBACK = {
    "IQ1_S": "IQ4_NL", "IQ1_M": "IQ4_NL", "IQ2_XXS": "IQ4_NL", "IQ2_XS": "IQ4_NL",
    "IQ2_S": "IQ4_NL", "IQ3_XXS": "IQ4_NL", "IQ3_S": "IQ4_NL", "IQ4_XS": "IQ4_NL",
    "Q2_K": "Q4_0", "Q3_K": "Q4_0", "TQ1_0": "Q4_0", "TQ2_0": "Q4_0",
    "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0",
}


def _fallback(t: str, ne0: int) -> str:
    block = GGML_TYPES[t][1]
    if ne0 % block == 0:
        return t
    t2 = _FALLBACK.get(t, t)
    return t2 if ne0 % GGML_TYPES[t2][1] == 0 else "F16"



def quantize(tensors: list[Tensor], preset: str, ctx: QuantContext) -> list[Tensor]:
    """Return the tensors as `llama-quantize --<preset>` would write them.

    Args:
        tensors: the tensors of the unquantized (F16/BF16/F32) GGUF, in any order.
        preset: a key of PRESETS.
        ctx: model facts the rules consult.
    Returns:
        The same tensors, in llama.cpp's processing order, with their new types.
    """
    default = PRESETS[preset][1]
    ordered, quantizable, n_attn_v, tied, cats = _plan(tuple(tensors))
    st = _State(n_attn_v, tied)
    if default in UNQUANTIZED:
        # a float file keeps tensors the converter already wrote quantized (gpt-oss's MXFP4 experts)
        return [Tensor(t.name, t.shape, default) if q and t.type in UNQUANTIZED else t
                for t, q in zip(ordered, quantizable, strict=True)]
    # a decision that reads no counter and no layer number is the same for every tensor of its category and
    # shape: made once (this loop runs for every tensor of every preset a check shows)
    layered = preset == "IQ3_XS" and ctx.n_expert > 1  # its ffn_gate/ffn_up types follow the layer number
    memo: dict[tuple[str, int, int], str] = {}
    new_tensor = tuple.__new__
    out = []
    for t, q, cat in zip(ordered, quantizable, cats, strict=True):
        if not q:
            out.append(t)
            continue
        shape = t.shape
        ne0, ne2 = shape[0], (shape[2] if len(shape) > 2 else 1)
        key = (cat, ne0, ne2)
        typ = memo.get(key) if cat in _STATELESS and not (layered and cat in ("ffn_gate", "ffn_up")) else None
        if typ is None:
            typ = _fallback(_impl(st, ctx, preset, default, t.name, cat, ne0, ne2), ne0)
            if cat in _STATELESS:
                memo[key] = typ
        if t.type not in UNQUANTIZED:
            # llama-quantize refuses to requantize a tensor the converter already wrote quantized
            # ("requantizing from type mxfp4 is disabled"), so published gpt-oss files keep their MXFP4
            # experts at every preset (unsloth's Q2_K..Q8_0 files match this to 0.02 %)
            out.append(t)
            continue
        out.append(new_tensor(Tensor, (t.name, shape, typ)))  # Tensor(...) without its Python-level __new__
    return out


@lru_cache(maxsize=16)
def _plan(tensors: tuple[Tensor, ...]) -> tuple[tuple[Tensor, ...], tuple[bool, ...], int, bool, tuple[str, ...]]:
    """What every preset needs to know first: processing order, which tensors may change type,
    how many attn_v-like tensors there are, whether the embedding is tied, and each tensor's category."""
    # llama.cpp walks tensors ordered by layer number, then by name
    ordered = tuple(sorted(tensors, key=lambda t: (block_index(t.name), t.name)))
    quantizable = tuple(allows_quantization(t.name, len(t.shape)) for t in ordered)
    cats = tuple(_category(t.name) for t in ordered)
    n_attn_v = sum(1 for c in cats if c in _ATTN_V_LIKE)
    tied = not any(t.name == "output.weight" for t in ordered)
    return ordered, quantizable, n_attn_v, tied, cats
