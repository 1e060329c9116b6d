"""The model description every source produces and the service consumes (pure).

Modules that define NamedTuples do not use `from __future__ import annotations`:
typing would turn each string annotation into a ForwardRef and compile it at
import, which costs an offline `catalog check` about 2 ms.
"""


from typing import Any, NamedTuple

from catalog.core.arch import Architecture, hf_tensors
from catalog.core.memory import WeightLayout, layout
from catalog.core.quants import PRESETS, QuantContext, Tensor, quantize

# GGUF header bytes per vocabulary entry: the token string with its u64 length
# and its i32 type, plus a BPE's merges or a SentencePiece's f32 score. Read off
# published files (tests/data/published_gguf_sizes.json, file size minus tensor
# data): Llama 3 (BPE) 7.84 MB / 128256 = 61, Qwen2.5 (BPE) 5.95 MB / 152064 = 39;
# Mistral, Phi-3, Gemma 2 (SentencePiece) 22.8-23.7. The BPE figure splits the
# difference: config.json does not say how many merges a tokenizer has.
HEADER_BYTES_PER_TOKEN = {"gpt2": 52, "llama": 23.5}
HEADER_FIXED_BYTES = 16 << 10  # general.* keys, hparams, a chat template


class ModelSpec(NamedTuple):
    """A model resolved from any source, with what we know and where it came from."""

    id: str
    name: str
    family: str
    arch: Architecture
    parameters: int
    hf_repo: str | None = None
    tensors: tuple[Tensor, ...] = ()  # the real table of a GGUF file; empty when predicted
    file_quant: str | None = None  # the quantization of that real file
    file_bytes: int | None = None
    source_dtype: str = "BF16"
    tokenizer: str = "gpt2"  # GGUF tokenizer.ggml.model
    header_bytes: int | None = None  # a GGUF header's size, when read from a real or published file
    alignment: dict[str, Any] = {}
    chat_template: dict[str, Any] = {}
    ollama: dict[str, Any] = {}
    gguf_repos: tuple[dict[str, Any], ...] = ()
    license: str | None = None
    gated: bool | None = None
    local_path: str | None = None
    sources: dict[str, Any] = {}


def quant_context(a: Architecture, has_imatrix: bool = False) -> QuantContext:
    """The model facts llama-quantize consults."""
    # llama.cpp calls an 80-layer llama "70B" and bumps its attn_v
    return QuantContext(a.arch, a.n_layer, a.n_expert, a.n_gqa, a.arch == "llama" and a.n_layer == 80, has_imatrix)


def tensors_for(spec: ModelSpec, quant: str, has_imatrix: bool = False,
                repo: dict[str, Any] | None = None) -> list[Tensor]:
    """The tensor table of `spec` at `quant`: the real one, or predicted from the architecture.

    Args:
        spec: the model.
        quant: a llama-quantize preset.
        has_imatrix: whether the file was quantized with an importance matrix, which
            changes a few tensors' types in Q4_0/Q5_0/IQ3_XXS/IQ4 presets.
        repo: the GGUF repo whose file is meant (`repo_for`): its `imatrix` flag and its
            `untied_output` (a converter that wrote a separate output matrix for a model
            whose config ties it, as Qwen's own GGUF repos did) override the defaults.
    """
    if spec.tensors and (quant == spec.file_quant or spec.file_quant is None):
        return list(spec.tensors)
    a = spec.arch
    if repo is not None:
        has_imatrix = bool(repo.get("imatrix", has_imatrix))
        if repo.get("untied_output") and a.tied_embeddings:
            a = a._replace(tied_embeddings=False)
    src = "BF16" if quant == "BF16" else ("F32" if quant == "F32" else "F16")
    return quantize(hf_tensors(a, src), quant, quant_context(a, has_imatrix))


def published_file(repo: dict[str, Any], quant: str) -> dict[str, Any] | None:
    """A repo's published file at `quant`, unless it was written by an older llama-quantize
    whose tensor mix the predictor does not follow (`legacy_mix` names the difference)."""
    f = (repo.get("files") or {}).get(quant)
    return f if f and f.get("bytes") and not f.get("legacy_mix") else None


def repo_for(spec: ModelSpec, quant: str) -> dict[str, Any] | None:
    """The GGUF repo the commands download `quant` from: the first that publishes that file,
    else the first that lists no files at all (its files are not recorded)."""
    for r in spec.gguf_repos:
        if published_file(r, quant) or not r.get("files"):
            return r
    return None


def header_bytes(spec: ModelSpec, lay: WeightLayout) -> int:
    """A GGUF header's size: read, or estimated from the vocabulary and tensor infos."""
    if spec.header_bytes is not None:
        return spec.header_bytes
    per_token = HEADER_BYTES_PER_TOKEN.get(spec.tokenizer, 52)
    return HEADER_FIXED_BYTES + lay.info_bytes + int(spec.arch.n_vocab * per_token)


def file_bytes(spec: ModelSpec, quant: str, lay: WeightLayout) -> int:
    """The GGUF file's size at `quant`: known, or header plus 32-byte-aligned tensor data."""
    if spec.file_bytes is not None and quant == spec.file_quant:
        return spec.file_bytes
    repo = repo_for(spec, quant)
    f = published_file(repo, quant) if repo else None
    return int(f["bytes"]) if f else predict_file_bytes(spec, lay)


def predict_file_bytes(spec: ModelSpec, lay: WeightLayout) -> int:
    """Predicted GGUF size: the header plus every tensor's data, each padded to 32 bytes."""
    return (header_bytes(spec, lay) + 31) // 32 * 32 + lay.padded_bytes


def weight_layout(spec: ModelSpec, tensors: list[Tensor]) -> WeightLayout:
    """`memory.layout` with this model's MoE expert share."""
    a = spec.arch
    return layout(tensors, a.n_layer, a.n_expert_used / a.n_expert if a.n_expert else 1.0)


def known_quants(spec: ModelSpec) -> list[str]:
    """Quantizations for which a real file is known (a local file or a published repo)."""
    out = [spec.file_quant] if spec.file_quant else []
    for repo in spec.gguf_repos:
        out.extend(q for q in repo.get("files", {}) if q in PRESETS and q not in out and published_file(repo, q))
    return out
