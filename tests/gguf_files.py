"""Write real (small) GGUF files with the gguf package, and hostile ones by hand."""

from __future__ import annotations

import struct
from pathlib import Path

import gguf
import numpy as np


def write_small_llama(path: Path, n_layer: int = 2, n_embd: int = 64, n_vocab: int = 300,
                      quant: bool = True, tied: bool = False, chat_template: str | None = None,
                      split_max_tensors: int = 0, finetune: str | None = None) -> Path:
    """A tiny but complete llama GGUF with real tensor data (split into `-0000k-of-0000n` files if asked)."""
    w = gguf.GGUFWriter(str(path), "llama", split_max_tensors=split_max_tensors)
    if finetune:
        w.add_finetune(finetune)
    w.add_name("tiny llama")
    w.add_file_type(15 if quant else 1)
    w.add_block_count(n_layer)
    w.add_context_length(2048)
    w.add_embedding_length(n_embd)
    w.add_feed_forward_length(4 * n_embd)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(n_vocab)])
    if chat_template:
        w.add_chat_template(chat_template)
    rng = np.random.default_rng(0)

    def f16(name: str, *shape: int) -> None:
        w.add_tensor(name, rng.standard_normal(tuple(reversed(shape))).astype(np.float16))

    def f32(name: str, n: int) -> None:
        w.add_tensor(name, np.ones(n, dtype=np.float32))

    def q8(name: str, *shape: int) -> None:
        data = rng.standard_normal(tuple(reversed(shape))).astype(np.float32)
        qd = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
        w.add_tensor(name, qd, raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    mat = q8 if quant else f16
    mat("token_embd.weight", n_embd, n_vocab)
    f32("output_norm.weight", n_embd)
    if not tied:
        mat("output.weight", n_embd, n_vocab)
    hd = n_embd // 4
    for i in range(n_layer):
        p = f"blk.{i}."
        f32(p + "attn_norm.weight", n_embd)
        mat(p + "attn_q.weight", n_embd, n_embd)
        mat(p + "attn_k.weight", n_embd, 2 * hd)
        mat(p + "attn_v.weight", n_embd, 2 * hd)
        mat(p + "attn_output.weight", n_embd, n_embd)
        f32(p + "ffn_norm.weight", n_embd)
        mat(p + "ffn_gate.weight", n_embd, 4 * n_embd)
        mat(p + "ffn_up.weight", n_embd, 4 * n_embd)
        mat(p + "ffn_down.weight", 4 * n_embd, n_embd)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write_tiny_instruct(folder: Path) -> Path:
    """The Tiny-Instruct GGUFs the recorded Hub repos serve: Q4_K_M (with a chat template) and Q8_0."""
    folder.mkdir(exist_ok=True)
    write_small_llama(folder / "Tiny-Instruct-Q4_K_M.gguf", finetune="Instruct",
                      chat_template="{% for m in messages %}{{ m.content }}{% endfor %}")
    write_small_llama(folder / "Tiny-Instruct-Q8_0.gguf", finetune="Instruct")
    return folder


def gstr(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def kv_u32(key: str, v: int) -> bytes:
    return gstr(key.encode()) + struct.pack("<II", 4, v)


def kv_str(key: str, v: bytes) -> bytes:
    return gstr(key.encode()) + struct.pack("<I", 8) + gstr(v)


def header(n_tensors: int, n_kv: int, version: int = 3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


def tensor_info(name: str, shape: tuple[int, ...], type_id: int, offset: int) -> bytes:
    return gstr(name.encode()) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape) \
        + struct.pack("<IQ", type_id, offset)


def write_arch_header(path: Path, a) -> None:  # type: ignore[no-untyped-def]
    """A GGUF of an Architecture with the keys convert_hf_to_gguf.py writes for it (hybrid models' ssm.*,
    shortconv.l_cache, per-layer KV heads; Gemma 4's per-layer window and head sizes) and its tensor table, the
    data section left sparse: what the product's header reader sees of a real file."""
    w = gguf.GGUFWriter(str(path), a.arch)
    arch = a.arch
    w.add_uint32(f"{arch}.block_count", a.n_layer + a.n_nextn)
    if a.n_nextn:
        w.add_uint32(f"{arch}.nextn_predict_layers", a.n_nextn)
    w.add_uint32(f"{arch}.context_length", a.n_ctx_train)
    w.add_uint32(f"{arch}.embedding_length", a.n_embd)
    if arch == "deci":  # per layer: no heads where the attention was dropped
        w.add_array(f"{arch}.attention.head_count", [0 if k == "none" else a.n_head for k in a.layer_kinds])
    else:
        w.add_uint32(f"{arch}.attention.head_count", a.n_head)
    w.add_uint32(f"{arch}.attention.key_length", a.head_dim_k)
    w.add_uint32(f"{arch}.attention.value_length", a.head_dim_v)
    w.add_uint32(f"{arch}.vocab_size", a.n_vocab)
    qwen = arch in ("qwen3next", "qwen35", "qwen35moe")
    if qwen:
        w.add_uint32(f"{arch}.attention.head_count_kv", max(a.n_head_kv))
        w.add_uint32(f"{arch}.full_attention_interval", 4)
    else:
        w.add_array(f"{arch}.attention.head_count_kv", list(a.n_head_kv))
    if arch.startswith("nemotron_h"):
        w.add_array(f"{arch}.feed_forward_length",
                    [a.n_ff_exp if k == "moe" else a.n_ff[il] for il, k in enumerate(a.layer_kinds)])
    elif arch == "deci":
        w.add_array(f"{arch}.feed_forward_length", list(a.n_ff))
    else:
        w.add_uint32(f"{arch}.feed_forward_length", max(a.n_ff) or a.n_ff_exp)
    if a.n_expert:
        w.add_uint32(f"{arch}.expert_count", a.n_expert)
        w.add_uint32(f"{arch}.expert_used_count", a.n_expert_used)
        w.add_uint32(f"{arch}.expert_feed_forward_length", a.n_ff_exp)
        w.add_uint32(f"{arch}.expert_shared_feed_forward_length", a.n_ff_shexp)
        w.add_uint32(f"{arch}.expert_shared_count", a.n_expert_shared)
    if arch == "gemma4":
        w.add_array(f"{arch}.attention.sliding_window_pattern", list(a.swa_layers))
        w.add_uint32(f"{arch}.attention.sliding_window", a.sliding_window)
        w.add_uint32(f"{arch}.attention.key_length_swa", a.head_dim_swa)
    elif arch == "deci":
        pass
    elif arch == "lfm2":
        w.add_uint32(f"{arch}.shortconv.l_cache", a.ssm[0])
    else:
        for key, v in zip(("conv_kernel", "inner_size", "state_size", "group_count", "time_step_rank"), a.ssm,
                          strict=True):
            w.add_uint32(f"{arch}.ssm.{key}", v)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(a.n_vocab)])
    data = 0
    from catalog.core.arch import hf_tensors
    from catalog.core.ggml import GGML_TYPES

    for t in hf_tensors(a, "F16"):
        w.add_tensor_info(t.name, list(reversed(t.shape)), np.float32, t.nbytes,
                          raw_dtype=gguf.GGMLQuantizationType(GGML_TYPES[t.type][0]))
        data += (t.nbytes + 31) // 32 * 32
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    with open(path, "r+b") as f:  # the data section, sparse: no disk spent on zero weights
        f.truncate((path.stat().st_size + 31) // 32 * 32 + data)
