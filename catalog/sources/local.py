"""Local models: a config.json, a folder holding one, or a .gguf file.

A GGUF is read with the bounded parser (catalog.sources.gguf_reader): its real
tensor table drives the estimate. A config.json is read as JSON with a size
cap and its tensor table is predicted per quantization.
"""

from __future__ import annotations

import json
import os
from typing import Any

from catalog.core.arch import UnsupportedArchitecture, from_hf_config, hf_tensors, parameter_count
from catalog.core.arch_gguf import from_gguf_metadata
from catalog.core.ggml import PRESET_BY_FTYPE
from catalog.core.model import ChatTemplate, ModelSpec, Provenance
from catalog.errors import BadModelFile, ModelNotFound
from catalog.sources.files import NotARegularFile, read_capped
from catalog.sources.gguf_reader import GGUFError, GGUFHeader, parse_file
from catalog.sources.templates.measure import TemplateText

MAX_CONFIG_BYTES = 4 << 20


def load(ref: str) -> tuple[ModelSpec, TemplateText]:
    """Load a local model description, and its chat template's text to be measured.

    Raises:
        ModelNotFound: the path does not exist or holds no config.json / GGUF.
        BadModelFile: the file is malformed, hostile or of an unsupported architecture.
    """
    path = os.path.expanduser(ref)
    if os.path.isdir(path):
        cfg = os.path.join(path, "config.json")
        if os.path.isfile(cfg):
            return load_config(cfg)
        ggufs = sorted(f for f in os.listdir(path) if f.endswith(".gguf") and "mmproj" not in f)
        if ggufs:
            return load_gguf(os.path.join(path, ggufs[0]))
        raise ModelNotFound(f"{ref}: folder holds no config.json or .gguf")
    if not os.path.isfile(path):
        if os.path.exists(path):  # a device, FIFO or socket: never opened, never waited on
            raise BadModelFile(f"{ref}: not a regular file")
        raise ModelNotFound(f"no such file: {ref}")
    if path.endswith(".gguf"):
        return load_gguf(path)
    return load_config(path)


def load_config(path: str) -> tuple[ModelSpec, TemplateText]:
    """A Hugging Face config.json, and the template its folder holds."""
    try:
        cfg: Any = json.loads(read_capped(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except NotARegularFile as exc:
        raise BadModelFile(f"{exc} (a config.json is a regular file of at most {MAX_CONFIG_BYTES >> 20} MiB)") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise BadModelFile(f"{path}: not valid JSON ({type(exc).__name__})") from None
    name = os.path.basename(os.path.dirname(os.path.abspath(path))) or "model"
    text = folder_template(os.path.dirname(path))
    spec = spec_from_config(cfg, f"local:{name}", name, path, local_path=os.path.abspath(path),
                            provenance=Provenance(config=path))
    return spec._replace(template=ChatTemplate(text.present)), text


def tokenizer_config_template(tok: Any) -> tuple[Any, dict[str, str]]:
    """(the chat template, {bos_token, eos_token}) a tokenizer_config.json document names; named
    templates (a list) give their "default" one, the one runtimes apply."""
    if not isinstance(tok, dict):
        return None, {}
    tmpl = tok.get("chat_template")
    if isinstance(tmpl, list):
        tmpl = next((t.get("template") for t in tmpl if isinstance(t, dict) and t.get("name") == "default"), None)
    special = {}
    for k in ("bos_token", "eos_token"):
        v = tok.get(k)
        v = v.get("content") if isinstance(v, dict) else v
        if isinstance(v, str):
            special[k] = v
    return tmpl, special


def folder_template(folder: str) -> TemplateText:
    """The chat template of a model folder: tokenizer_config.json's, or the chat_template.jinja /
    chat_template.json that newer transformers releases save beside it (which then wins, as it
    does in transformers); unknown (`present` None) when the folder has no tokenizer_config.json and
    no template file."""
    tok: Any = None
    try:
        tok = json.loads(read_capped(os.path.join(folder, "tokenizer_config.json"), MAX_CONFIG_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):  # absent, not a regular file, too big, bad
        tok = None
    tmpl, special = tokenizer_config_template(tok)
    for name in ("chat_template.jinja", "chat_template.json"):
        try:
            text = read_capped(os.path.join(folder, name), 4 * MAX_TEMPLATE).decode("utf-8")[:MAX_TEMPLATE + 1]
        except (OSError, UnicodeDecodeError):
            continue
        if name.endswith(".json"):
            try:
                text = json.loads(text).get("chat_template")
            except (ValueError, AttributeError, RecursionError):
                continue
        tmpl = text
        break
    if tok is None and tmpl is None:
        return TemplateText()
    found = template_text(tmpl)
    if found.jinja is not None:
        found = found._replace(bos_token=special.get("bos_token"), eos_token=special.get("eos_token"))
    return found


def spec_from_config(cfg: Any, spec_id: str, name: str, where: str, parameters: int | None = None,
                     **extra: Any) -> ModelSpec:
    """A ModelSpec from a config.json document (a local file, or one read from the Hub).

    Args:
        parameters: the exact count when known (safetensors headers); else counted from the architecture.
    Raises:
        BadModelFile: not a config object, or an unsupported or inconsistent architecture.
    """
    if not isinstance(cfg, dict):
        raise BadModelFile(f"{where}: not a config.json object")
    try:
        arch = from_hf_config(cfg)
    except (UnsupportedArchitecture, KeyError, TypeError, ValueError) as exc:
        raise BadModelFile(f"{where}: {exc}") from None
    dtype = str(cfg.get("torch_dtype") or cfg.get("dtype") or "bfloat16")
    if parameters:
        from catalog.core.arch_generic import fitted_to_count

        arch = fitted_to_count(arch, parameters)
    from catalog.core.vision import projector_fields

    return ModelSpec(
        id=spec_id, name=name, family=arch.arch, arch=arch,
        parameters=parameters or parameter_count(hf_tensors(arch)),
        source_dtype="F16" if "float16" == dtype else "BF16", **{**projector_fields(cfg, arch.n_embd), **extra},
    )


def load_gguf(path: str) -> tuple[ModelSpec, TemplateText]:
    """A GGUF file: header read with hard limits; tensor data must lie inside the file."""
    try:
        size = os.path.getsize(path)
        header = parse_file(path)
    except GGUFError as exc:
        raise BadModelFile(f"{path}: {exc}") from None
    except OSError as exc:
        raise BadModelFile(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    return spec_from_header(header, f"local:{os.path.basename(path)}", os.path.basename(path), size, path,
                            Provenance(file=path), local_path=os.path.abspath(path))


MAX_TEMPLATE = 64 << 10  # characters of a chat template kept to be rendered (the largest real ones are ~20k)


def template_text(tmpl: Any, meta: dict[str, Any] | None = None) -> TemplateText:
    """A chat template as found: whether one ships, and its text to measure (a GGUF also names its BOS/EOS
    ids, whose text its vocabulary spells, and may carry named variants: runtimes apply the default one)."""
    variants = tuple(sorted(k.split(".", 2)[2] for k in (meta or {}) if k.startswith("tokenizer.chat_template.")))
    if not isinstance(tmpl, str):
        return TemplateText(False, variants=variants)
    text = TemplateText(True, tmpl if len(tmpl) <= MAX_TEMPLATE else None, variants=variants)
    if text.jinja is not None and meta:
        bos, eos = (v if isinstance(v := meta.get(f"tokenizer.ggml.{k}_token_id"), int) and not isinstance(v, bool)
                    else None for k in ("bos", "eos"))
        text = text._replace(bos_token_id=bos, eos_token_id=eos)
    return text


def spec_from_header(header: GGUFHeader, spec_id: str, fallback_name: str, size: int, where: str,
                     provenance: Provenance, **extra: Any) -> tuple[ModelSpec, TemplateText]:
    """A ModelSpec from a parsed GGUF header (a local file, or a remote one read by Range), and its template.

    Raises:
        BadModelFile: the architecture is unsupported or its metadata inconsistent.
    """
    meta = header.metadata
    try:
        arch = from_gguf_metadata(meta, header.tensors)
    except (UnsupportedArchitecture, TypeError, ValueError) as exc:
        raise BadModelFile(f"{where}: {exc}") from None
    ftype = meta.get("general.file_type")
    quant = PRESET_BY_FTYPE.get(ftype) if isinstance(ftype, int) else None
    name = meta.get("general.name") if isinstance(meta.get("general.name"), str) else fallback_name
    text = template_text(meta.get("tokenizer.chat_template"), meta)
    spec = ModelSpec(
        id=spec_id, name=str(name)[:200], family=arch.arch, arch=arch,
        parameters=parameter_count(list(header.tensors)), tensors=tuple(header.tensors), file_quant=quant or "file",
        file_bytes=size, header_bytes=header.data_offset, tokenizer=str(meta.get("tokenizer.ggml.model", "gpt2")),
        template=ChatTemplate(text.present), provenance=provenance, **extra,
    )
    return spec, text
