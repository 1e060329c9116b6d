"""The vision projector (mmproj) a multimodal model loads beside its text model: its tensor table from the
config's vision_config, as convert_hf_to_gguf.py --mmproj writes it, and what it adds on the GPU (pure).

Ollama and LM Studio load the projector of a vision model by default; llama-server loads it with `--mmproj`
(and with `-hf`, which fetches the repo's mmproj file). Its weights sit on the GPU beside the text model's, and
clip reserves a compute buffer for the largest image it warms up with. Tables follow conversion/qwen3vl.py and
conversion/pixtral (Mistral 3) of llama.cpp 0c1e570; a model whose projector is not modelled here says so.
"""

from typing import Any

from catalog.core.ggml import Tensor
from catalog.core.record import Record

# llama.cpp's clip projector type for a config's architecture (clip.projector_type)
PROJECTOR_TYPE = {
    "Qwen3VLForConditionalGeneration": "qwen3vl_merger", "Qwen3VLMoeForConditionalGeneration": "qwen3vl_merger",
    "Qwen3_5ForConditionalGeneration": "qwen3vl_merger", "Qwen3_5MoeForConditionalGeneration": "qwen3vl_merger",
    "Mistral3ForConditionalGeneration": "pixtral",
}


# clip's warm-up image, in merged tokens (clip.cpp load_hparams: set_warmup_n_tokens), per projector type
WARMUP_TOKENS = {"qwen3vl_merger": 46 * 46, "pixtral": 256}
# clip's compute buffer for that image, in f32 rows of the encoder's width per warm-up patch: the largest of
# llama.cpp 0c1e570's CPU buffers measured per type (bench/vision_calibrate.py, bench/RESULTS.md section 16)
COMPUTE_ROWS = {"qwen3vl_merger": 9.8, "pixtral": 16.2}


class Projector(Record):
    """A vision projector: its tensors (F16 weights, F32 norms and biases, as the mmproj-F16 files hold them),
    and the image it is warmed up with (patches per side before merging)."""

    kind: str  # clip.projector_type
    tensors: tuple[Tensor, ...]
    warmup_patches: int  # patches of the warm-up image (clip reserves its compute buffer for it)
    width: int  # the vision encoder's hidden size
    ffn: int
    heads: int
    layers: int

    @property
    def weight_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    @property
    def compute_bytes(self) -> int:
        """The compute buffer clip reserves when it warms up (llama-server and Ollama warm it up at load)."""
        return int(self.warmup_patches * self.width * 4 * COMPUTE_ROWS[self.kind])

    @property
    def total_bytes(self) -> int:
        return self.weight_bytes + self.compute_bytes


def projector(config: dict[str, Any], n_embd_text: int) -> Projector | None:
    """The projector a config's vision_config implies, or None (no vision tower, or one not modelled here)."""
    names = config.get("architectures") or []
    kind = PROJECTOR_TYPE.get(names[0] if names and isinstance(names[0], str) else "")
    v = config.get("vision_config")
    if kind is None or not isinstance(v, dict) or not _plausible(v):
        return None
    try:
        p = _qwen3vl(v, n_embd_text) if kind == "qwen3vl_merger" else _pixtral(config, v, n_embd_text)
        p.total_bytes  # noqa: B018 - a size past any float is no projector
        return p
    except (KeyError, TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None


def _plausible(v: dict[str, Any]) -> bool:
    """A vision tower's sizes are numbers a real one has (a hostile 2**31 layers is never built)."""
    for key, top in (("depth", 256), ("num_hidden_layers", 256), ("hidden_size", 1 << 16), ("num_heads", 1024),
                     ("num_attention_heads", 1024), ("intermediate_size", 1 << 18), ("spatial_merge_size", 64),
                     ("patch_size", 1024), ("image_size", 1 << 16), ("out_hidden_size", 1 << 18)):
        x = v.get(key)
        if x is not None and not (isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x <= top):
            return False
    return True


def _block(i: int, h: int, ff: int, fused_qkv: bool, gated: bool, biases: bool) -> list[Tensor]:
    p = f"v.blk.{i}."
    out = [Tensor(p + "ln1.weight", (h,), "F32"), Tensor(p + "ln2.weight", (h,), "F32")]
    if biases:
        out += [Tensor(p + "ln1.bias", (h,), "F32"), Tensor(p + "ln2.bias", (h,), "F32")]
    if fused_qkv:
        out.append(Tensor(p + "attn_qkv.weight", (h, 3 * h), "F16"))
        out += [Tensor(p + "attn_qkv.bias", (3 * h,), "F32")] if biases else []
    else:
        out += [Tensor(p + f"attn_{x}.weight", (h, h), "F16") for x in "qkv"]
        out += [Tensor(p + f"attn_{x}.bias", (h,), "F32") for x in "qkv"] if biases else []
    out.append(Tensor(p + "attn_out.weight", (h, h), "F16"))
    out += [Tensor(p + "attn_out.bias", (h,), "F32")] if biases else []
    if gated:
        out.append(Tensor(p + "ffn_gate.weight", (h, ff), "F16"))
    out += [Tensor(p + "ffn_up.weight", (h, ff), "F16"), Tensor(p + "ffn_down.weight", (ff, h), "F16")]
    if biases:
        out += [Tensor(p + "ffn_up.bias", (ff,), "F32"), Tensor(p + "ffn_down.bias", (h,), "F32")]
    return out


def _qwen3vl(v: dict[str, Any], n_embd_text: int) -> Projector:
    """Qwen3-VL and Qwen3.5's ViT: a Conv3D patch embedding split into two 2-D ones, learned positions,
    LayerNorm blocks with a fused QKV, the 2x2 patch merger (a LayerNorm then two linears) and a merger per
    deepstack layer."""
    h, ff, depth, heads = int(v["hidden_size"]), int(v["intermediate_size"]), int(v["depth"]), int(v["num_heads"])
    p, merge = int(v["patch_size"]), int(v.get("spatial_merge_size") or 2)
    n_pos = int(v.get("num_position_embeddings") or 2304)
    hm = h * merge * merge
    out = [Tensor("v.patch_embd.weight", (p, p, 3, h), "F16"), Tensor("v.patch_embd.weight.1", (p, p, 3, h), "F16"),
           Tensor("v.patch_embd.bias", (h,), "F32"), Tensor("v.position_embd.weight", (h, n_pos), "F32")]
    for i in range(depth):
        out += _block(i, h, ff, fused_qkv=True, gated=False, biases=True)
    out += [Tensor("v.post_ln.weight", (h,), "F32"), Tensor("v.post_ln.bias", (h,), "F32"),
            Tensor("mm.0.weight", (hm, hm), "F16"), Tensor("mm.0.bias", (hm,), "F32"),
            Tensor("mm.2.weight", (hm, n_embd_text), "F16"), Tensor("mm.2.bias", (n_embd_text,), "F32")]
    for i in v.get("deepstack_visual_indexes") or ():
        d = f"v.deepstack.{int(i)}."
        out += [Tensor(d + "norm.weight", (hm,), "F32"), Tensor(d + "norm.bias", (hm,), "F32"),
                Tensor(d + "fc1.weight", (hm, hm), "F16"), Tensor(d + "fc1.bias", (hm,), "F32"),
                Tensor(d + "fc2.weight", (hm, n_embd_text), "F16"), Tensor(d + "fc2.bias", (n_embd_text,), "F32")]
    return Projector("qwen3vl_merger", tuple(out), WARMUP_TOKENS["qwen3vl_merger"] * merge * merge, h, ff, heads,
                     depth)


def _pixtral(config: dict[str, Any], v: dict[str, Any], n_embd_text: int) -> Projector:
    """Mistral 3's Pixtral encoder: RMSNorm blocks with separate Q/K/V, a gated SiLU MLP, 2-D RoPE (no position
    table), then a 2x2 patch merger and a two-layer projector into the text model."""
    h, ff = int(v["hidden_size"]), int(v["intermediate_size"])
    depth, heads, p = int(v["num_hidden_layers"]), int(v["num_attention_heads"]), int(v["patch_size"])
    merge = int(config.get("spatial_merge_size") or 2)
    bias = bool(config.get("multimodal_projector_bias"))
    out = [Tensor("v.patch_embd.weight", (p, p, 3, h), "F16"), Tensor("v.pre_ln.weight", (h,), "F32")]
    for i in range(depth):
        out += _block(i, h, ff, fused_qkv=False, gated=True, biases=False)
    out += [Tensor("mm.input_norm.weight", (h,), "F32"),
            Tensor("mm.patch_merger.weight", (h * merge * merge, h), "F16"),
            Tensor("mm.1.weight", (h, n_embd_text), "F16"), Tensor("mm.2.weight", (n_embd_text, n_embd_text), "F16"),
            Tensor("v.token_embd.img_break", (n_embd_text,), "F32")]  # the [IMG_BREAK] row of the text embedding
    if bias:
        out += [Tensor("mm.1.bias", (n_embd_text,), "F32"), Tensor("mm.2.bias", (n_embd_text,), "F32")]
    return Projector("pixtral", tuple(out), WARMUP_TOKENS["pixtral"] * merge * merge, h, ff, heads, depth)


def projector_fields(config: dict[str, Any], n_embd_text: int) -> dict[str, Any]:
    """A ModelSpec's projector fields for a config: the projector's bytes and type; a vision model whose
    projector is not sized here (or whose copy of config.json left the vision tower out) is marked
    "unmodelled", so its estimate can say the projector is not counted; a text model gets nothing."""
    p = projector(config, n_embd_text)
    if p is not None:
        return {"projector_bytes": p.total_bytes, "projector_kind": p.kind}
    names = config.get("architectures") or []
    hf = names[0] if names and isinstance(names[0], str) else ""
    if isinstance(config.get("vision_config"), dict) or hf.endswith("ForConditionalGeneration"):
        return {"projector_kind": "unmodelled"}
    return {}
