"""Write synthetic GGUF files: real architectures' shapes, zero weights.

The tensor table comes from catalog.core.arch (what convert_hf_to_gguf writes) and
catalog.core.quantize (what llama-quantize turns it into), so loading the file in
real llama.cpp both checks those tables (a wrong name or shape fails to load)
and lets us measure llama.cpp's own buffer sizes against our predictions.
The data section is left sparse (the file is extended with truncate), so an
8B model costs no disk. The vocabulary is synthetic: the 256 GPT-2 byte
tokens then fillers, so any prompt tokenizes to one token per byte.

Usage: python bench/synth_gguf.py CONFIG.json QUANT OUT.gguf
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gguf  # noqa: E402
import numpy as np  # noqa: E402

from catalog.core.arch import Architecture, from_hf_config, hf_tensors  # noqa: E402
from catalog.core.ggml import GGML_TYPES, PRESETS  # noqa: E402
from catalog.core.quantize import QuantContext, quantize
from catalog.sources.vocab import byte_decoder  # noqa: E402


def _byte_tokens() -> list[str]:
    """GPT-2's byte-level spelling of the 256 bytes (bytes_to_unicode)."""
    spell = {b: c for c, b in byte_decoder().items()}
    return [spell[b] for b in range(256)]


def write_kv(w: gguf.GGUFWriter, a: Architecture, cfg: dict, preset: str, vocab: dict | None = None) -> None:
    arch = a.arch
    c = cfg.get("text_config", cfg) if "text_config" in cfg else cfg
    # no arch in the default name: llama.cpp tweaks vocabularies by model name (Phi-3's rstrip)
    w.add_name((vocab or {}).get("name") or "synthetic model")
    w.add_file_type(PRESETS[preset][0])
    w.add_uint32(f"{arch}.block_count", a.n_layer + a.n_nextn)  # the converter counts the MTP blocks too
    if a.n_nextn:
        w.add_uint32(f"{arch}.nextn_predict_layers", a.n_nextn)
    w.add_uint32(f"{arch}.context_length", a.n_ctx_train)
    w.add_uint32(f"{arch}.embedding_length", a.n_embd)
    ff = max(a.n_ff) if any(a.n_ff) else a.n_ff_exp
    if arch == "deci":
        w.add_array(f"{arch}.feed_forward_length", list(a.n_ff))
    elif arch.startswith("nemotron_h"):  # a width per layer: 0 on the Mamba and attention layers
        w.add_array(f"{arch}.feed_forward_length",
                    [a.n_ff_exp if k == "moe" else a.n_ff[il] for il, k in enumerate(a.layer_kinds)])
    else:
        w.add_uint32(f"{arch}.feed_forward_length", ff)
    if arch == "deci":  # per layer: no heads where the attention was dropped
        w.add_array(f"{arch}.attention.head_count", [0 if k == "none" else a.n_head for k in a.layer_kinds])
    else:
        w.add_uint32(f"{arch}.attention.head_count", a.n_head)
    if len(set(a.n_head_kv)) > 1 and arch not in ("qwen3next", "qwen35", "qwen35moe"):
        w.add_array(f"{arch}.attention.head_count_kv", list(a.n_head_kv))  # no KV heads on recurrent layers
    else:  # Qwen3-Next / 3.5 mark their recurrent layers by full_attention_interval instead
        w.add_uint32(f"{arch}.attention.head_count_kv", max(a.n_head_kv))
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", float(c.get("rms_norm_eps", 1e-5)))
    w.add_float32(f"{arch}.rope.freq_base", float(c.get("rope_theta", 10000.0)))
    w.add_uint32(f"{arch}.vocab_size", a.n_vocab)
    if arch != "deepseek2":
        w.add_uint32(f"{arch}.attention.key_length", a.head_dim_k)
        w.add_uint32(f"{arch}.attention.value_length", a.head_dim_v)
        rope_dims = {"phi2": int(a.head_dim_k * float(c.get("partial_rotary_factor", 1.0))),
                     "gptj": int(c.get("rotary_dim") or a.head_dim_k),
                     "minimax-m2": int(c.get("rotary_dim") or a.head_dim_k)}.get(arch, a.head_dim_k)
        part = (c.get("rope_parameters") or {}).get("partial_rotary_factor", c.get("partial_rotary_factor"))
        if (a.layer_kinds or arch == "glm4moe") and part:
            rope_dims = int(a.head_dim_k * float(part))
        w.add_uint32(f"{arch}.rope.dimension_count", rope_dims)
    if arch in ("phi2", "falcon", "gptj"):  # LayerNorm, not RMSNorm
        w.add_float32(f"{arch}.attention.layer_norm_epsilon",
                      float(c.get("layer_norm_eps", c.get("layer_norm_epsilon", 1e-5))))
    if a.sliding_window:
        w.add_uint32(f"{arch}.attention.sliding_window", a.sliding_window)
    if arch == "granite":
        w.add_float32(f"{arch}.attention.scale", float(c.get("attention_multiplier", 1.0)))
        w.add_float32(f"{arch}.embedding_scale", float(c.get("embedding_multiplier", 1.0)))
        w.add_float32(f"{arch}.residual_scale", float(c.get("residual_multiplier", 1.0)))
        w.add_float32(f"{arch}.logit_scale", float(c.get("logits_scaling", 1.0)))
    if arch == "command-r":
        w.add_float32(f"{arch}.logit_scale", float(c.get("logit_scale", 1.0)))
        w.add_float32(f"{arch}.attention.layer_norm_epsilon", float(c.get("layer_norm_eps", 1e-5)))
    if arch == "gemma2":
        w.add_float32(f"{arch}.attn_logit_softcapping", 50.0)
        w.add_float32(f"{arch}.final_logit_softcapping", 30.0)
    if a.layer_kinds and a.ssm:
        write_hybrid_kv(w, a, c)
    if arch == "gemma4":
        w.add_array(f"{arch}.attention.sliding_window_pattern", list(a.swa_layers))
        w.add_uint32(f"{arch}.attention.key_length_swa", a.head_dim_swa)
        w.add_uint32(f"{arch}.attention.value_length_swa", a.head_dim_swa)
        w.add_uint32(f"{arch}.attention.shared_kv_layers", int(c.get("num_kv_shared_layers") or 0))
        w.add_uint32(f"{arch}.embedding_length_per_layer_input", 0)
        w.add_uint32(f"{arch}.rope.dimension_count_swa", a.head_dim_swa)
        w.add_float32(f"{arch}.final_logit_softcapping", float(c.get("final_logit_softcapping") or 30.0))
    if arch in ("qwen3vl", "qwen3vlmoe"):
        rope = c.get("rope_scaling") or c.get("rope_parameters") or {}
        w.add_array(f"{arch}.rope.dimension_sections", [*rope.get("mrope_section", [24, 20, 20]), 0][:4])
        w.add_uint32(f"{arch}.n_deepstack_layers", len((cfg.get("vision_config") or {}).get("deepstack_visual_indexes", [])))
    if arch == "ernie4_5-moe":
        w.add_uint32(f"{arch}.interleave_moe_layer_step", int(c.get("moe_layer_interval") or 1))
        w.add_uint32(f"{arch}.leading_dense_block_count", a.n_dense_lead)
        w.add_uint32(f"{arch}.expert_shared_count", a.n_expert_shared)
        w.add_uint32(f"{arch}.expert_shared_feed_forward_length", a.n_ff_exp * a.n_expert_shared)
    if arch in ("minimax-m2", "glm4moe"):
        w.add_uint32(f"{arch}.expert_gating_func", 2)  # sigmoid (scoring_func)
    if arch == "glm4moe":  # conversion/glm.py Glm4MoeModel.set_gguf_parameters
        w.add_uint32(f"{arch}.leading_dense_block_count", a.n_dense_lead)
        w.add_uint32(f"{arch}.expert_shared_count", a.n_expert_shared)
        w.add_float32(f"{arch}.expert_weights_scale", float(c.get("routed_scaling_factor", 1.0)))
        w.add_bool(f"{arch}.expert_weights_norm", bool(c.get("norm_topk_prob", True)))
    if arch == "llama4":
        w.add_uint32(f"{arch}.interleave_moe_layer_step", int(c.get("interleave_moe_layer_step") or 1))
    if a.n_expert:
        w.add_uint32(f"{arch}.expert_count", a.n_expert)
        w.add_uint32(f"{arch}.expert_used_count", a.n_expert_used)
        w.add_uint32(f"{arch}.expert_feed_forward_length", a.n_ff_exp)
    if arch == "deepseek2":
        r, rope = a.kv_lora_rank, a.qk_rope_dim
        w.add_uint32(f"{arch}.leading_dense_block_count", a.n_dense_lead)
        w.add_uint32(f"{arch}.expert_shared_count", a.n_expert_shared)
        w.add_float32(f"{arch}.expert_weights_scale", float(c.get("routed_scaling_factor", 1.0)))
        w.add_uint32(f"{arch}.attention.kv_lora_rank", r)
        if a.q_lora_rank:
            w.add_uint32(f"{arch}.attention.q_lora_rank", a.q_lora_rank)
        w.add_uint32(f"{arch}.attention.key_length", r + rope)
        w.add_uint32(f"{arch}.attention.value_length", r)
        w.add_uint32(f"{arch}.attention.key_length_mla", a.qk_nope_dim + rope)
        w.add_uint32(f"{arch}.attention.value_length_mla", a.head_dim_v)
        w.add_uint32(f"{arch}.rope.dimension_count", rope)
    if arch == "gpt-oss":
        w.add_string(f"{arch}.rope.scaling.type", "yarn")
        w.add_float32(f"{arch}.rope.scaling.factor", 32.0)
        w.add_uint32(f"{arch}.rope.scaling.original_context_length", 4096)
    if vocab:
        write_vocab(w, vocab)
        return
    special = ["<|end|>", "<|endoftext|>", "<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|return|>"]
    tokens = _byte_tokens() + ["ab"] + special + [f"<t{i}>" for i in range(257 + len(special), a.n_vocab)]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([1] * a.n_vocab)
    w.add_token_merges(["a b"])
    w.add_bos_token_id(a.n_vocab - 2)
    w.add_eos_token_id(a.n_vocab - 1)
    w.add_add_bos_token(True)


def write_hybrid_kv(w: gguf.GGUFWriter, a: Architecture, c: dict) -> None:
    """The recurrent mixers' keys convert_hf_to_gguf.py writes (ssm.*, shortconv.l_cache, the attention period)."""
    arch = a.arch
    if arch == "lfm2":
        w.add_uint32(f"{arch}.shortconv.l_cache", a.ssm[0])
        return
    d_conv, d_inner, d_state, n_group, dt_rank = a.ssm
    w.add_uint32(f"{arch}.ssm.conv_kernel", d_conv)
    w.add_uint32(f"{arch}.ssm.inner_size", d_inner)
    w.add_uint32(f"{arch}.ssm.state_size", d_state)
    w.add_uint32(f"{arch}.ssm.group_count", n_group)
    w.add_uint32(f"{arch}.ssm.time_step_rank", dt_rank)
    if arch in ("qwen3next", "qwen35", "qwen35moe"):
        w.add_uint32(f"{arch}.full_attention_interval", int(c.get("full_attention_interval") or 4))
        rope = c.get("rope_parameters") or c.get("rope_scaling") or {}
        if rope.get("mrope_section"):
            w.add_array(f"{arch}.rope.dimension_sections", [*rope["mrope_section"], 0][:4])
    if arch == "granitehybrid":
        w.add_float32(f"{arch}.attention.scale", float(c.get("attention_multiplier", 1.0)))
        w.add_float32(f"{arch}.embedding_scale", float(c.get("embedding_multiplier", 1.0)))
        w.add_float32(f"{arch}.residual_scale", float(c.get("residual_multiplier", 1.0)))
        w.add_float32(f"{arch}.logit_scale", float(c.get("logits_scaling", 1.0)))
    if a.n_ff_shexp:
        w.add_uint32(f"{arch}.expert_shared_feed_forward_length", a.n_ff_shexp)
    if arch.startswith("nemotron_h"):
        w.add_float32(f"{arch}.attention.layer_norm_epsilon", float(c.get("layer_norm_epsilon", 1e-5)))
    if arch == "nemotron_h_moe":
        w.add_uint32(f"{arch}.expert_shared_count", a.n_expert_shared)
        w.add_float32(f"{arch}.expert_weights_scale", float(c.get("routed_scaling_factor", 1.0)))
        w.add_bool(f"{arch}.expert_weights_norm", bool(c.get("norm_topk_prob", True)))
        w.add_uint32(f"{arch}.expert_group_count", int(c.get("n_group") or 1))
        w.add_uint32(f"{arch}.expert_group_used_count", int(c.get("topk_group") or 1))


def write_vocab(w: gguf.GGUFWriter, vocab: dict) -> None:
    """A real SentencePiece vocabulary (tokens, scores, types, add_space_prefix; bos/eos ids), as
    convert_hf_to_gguf.py writes one (tokenizer.ggml.model "llama")."""
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(vocab["tokens"])
    w.add_token_scores([float(x) for x in vocab["scores"]])
    w.add_token_types([int(x) for x in vocab["types"]])
    w.add_bos_token_id(vocab.get("bos", 1))
    w.add_eos_token_id(vocab.get("eos", 2))
    w.add_add_bos_token(True)
    w.add_add_space_prefix(bool(vocab.get("add_space_prefix", True)))


def spm_vocab(model: bytes, added: dict[int, tuple[str, bool]] | None = None) -> dict:
    """write()'s `vocab` from a SentencePiece tokenizer.model (and tokenizer_config.json's added tokens)."""
    from catalog.sources.vocab import sentencepiece_vocab

    v = sentencepiece_vocab(model, added)
    assert v is not None, "not a SentencePiece BPE model"
    return {"tokens": list(v.tokens), "scores": v.scores, "types": v.kinds, "add_space_prefix": v.add_space_prefix}


def json_vocab(doc: dict, add_space_prefix: bool) -> dict:
    """write()'s `vocab` from a SentencePiece-style BPE tokenizer.json (byte fallback; Gemma's): the
    tokens by id, added special tokens as control and other added ones as user-defined, <0x..> as
    bytes, and as scores the merges' order (a token made by an earlier merge scores higher), which
    is what SentencePiece's scores order when a tokenizer.model is converted instead."""
    model = doc["model"]
    assert model["type"] == "BPE" and model.get("byte_fallback"), "not a SentencePiece-style BPE tokenizer.json"
    n = max([*model["vocab"].values(), *(a["id"] for a in doc.get("added_tokens", []))]) + 1
    tokens = [f"[PAD{i}]" for i in range(n)]
    types = [5] * n  # unused until seen
    for t, i in model["vocab"].items():
        tokens[i] = t
        types[i] = 6 if len(t) == 6 and t.startswith("<0x") and t.endswith(">") else 1
    scores = [0.0] * n
    for rank, m in enumerate(model["merges"]):
        left, right = m.split(" ", 1) if isinstance(m, str) else m
        i = model["vocab"].get(left + right)
        if i is not None and scores[i] == 0.0:
            scores[i] = -float(rank + 1)
    for a in doc.get("added_tokens", []):
        tokens[a["id"]] = a["content"]
        types[a["id"]] = 3 if a.get("special") else 4
    if model.get("unk_token") in model["vocab"]:
        types[model["vocab"][model["unk_token"]]] = 2
    return {"tokens": tokens, "scores": scores, "types": types, "add_space_prefix": add_space_prefix}


def _with_added(src: Path, added: dict[int, tuple[str, bool]], out: Path) -> None:
    """A copy of a vocab-only GGUF whose tokens at the given ids are replaced by a fine-tune's added
    tokens (special ones as control, others user-defined, as convert_hf_to_gguf.py writes them)."""
    r = gguf.GGUFReader(str(src))
    w = gguf.GGUFWriter(str(out), str(r.fields["general.architecture"].contents()))
    for key, field in r.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        value = field.contents()
        if key in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type"):
            value = list(value)
            for i, (text, special) in added.items():
                value[i] = text if key == "tokenizer.ggml.tokens" else (3 if special else 4)
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            w.add_key_value(key, value, field.types[0], sub_type=field.types[-1])
        else:
            w.add_key_value(key, value, field.types[0])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()


def vocab_gguf(path: Path, out_dir: Path, config: Path | None = None, add_space_prefix: bool | None = None,
               added: dict[int, tuple[str, bool]] | None = None, name: str | None = None,
               ids: dict | None = None) -> Path:
    """A GGUF that llama.cpp loads (vocab_only) for a real vocabulary file: a vocab GGUF as it is (with
    a fine-tune's `added` tokens put in), or a SentencePiece tokenizer.model / tokenizer.json written
    as convert_hf_to_gguf.py does into a sparse GGUF shaped by `config` (`ids`: bos/eos ids)."""
    out = out_dir / (path.stem + ".vocab.gguf")
    if path.suffix == ".gguf":
        if not added:
            return path
        _with_added(path, added, out)
        return out
    if path.name.endswith(".json"):
        vocab = json_vocab(json.loads(path.read_text()), bool(add_space_prefix))
    else:
        vocab = spm_vocab(path.read_bytes(), added)
    vocab["name"] = name
    vocab.update(ids or {})
    assert config is not None, "a tokenizer file needs a config.json to shape its GGUF"
    write(json.loads(config.read_text()), "Q4_K_M", out, vocab=vocab)
    return out


def write(config: dict, preset: str, out: Path, finetune: str | None = None, chat_template: str | None = None,
          vocab: dict | None = None) -> int:
    """Write a sparse GGUF for `config` at `preset` (with general.finetune, a chat template and a real
    vocabulary (`write_vocab`) if given); return the file size."""
    a = from_hf_config(config)
    src = "BF16" if preset == "BF16" else "F16"
    tensors = quantize(hf_tensors(a, src), preset,
                       QuantContext(a.arch, a.n_layer + a.n_nextn, a.n_expert, a.n_gqa,
                                    a.arch == "llama" and a.n_layer == 80))
    w = gguf.GGUFWriter(str(out), a.arch)
    write_kv(w, a, config, preset, vocab)
    if finetune:
        w.add_finetune(finetune)
    if chat_template:
        w.add_chat_template(chat_template)
    return finish_sparse(w, tensors, out)


def finish_sparse(w: gguf.GGUFWriter, tensors: list, out: Path) -> int:
    """Write the header and tensor infos, then extend the file to its data section's end without writing it
    (sparse: zero weights cost no disk); return the file size."""
    for t in tensors:
        dtype = gguf.GGMLQuantizationType(GGML_TYPES[t.type][0])
        # numpy order (reversed) element shape; a non-uint8 dtype keeps it as is
        w.add_tensor_info(t.name, list(reversed(t.shape)), np.float32, t.nbytes, raw_dtype=dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    align = 32
    end = (out.stat().st_size + align - 1) // align * align + w_data_size(tensors, align)
    with open(out, "r+b") as f:
        f.truncate(end)
    return end


def w_data_size(tensors: list, align: int) -> int:
    n = 0
    for t in tensors:
        n += (t.nbytes + align - 1) // align * align
    return n


if __name__ == "__main__":
    cfg = json.loads(Path(sys.argv[1]).read_text())
    cfg = cfg.get("config", cfg)
    print(write(cfg, sys.argv[2], Path(sys.argv[3])))
