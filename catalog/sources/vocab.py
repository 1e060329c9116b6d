"""A vocabulary tokenized the way llama.cpp tokenizes it: a GGUF's (local, or kept from a Hub header),
or a SentencePiece `tokenizer.model` (read by hand: no protobuf dependency).

Special tokens split out first, longest text first (control tokens too, as llama-server does for a
rendered chat prompt), a space put in front of each stretch of text that follows a special token where
`add_space_prefix` holds, then SentencePiece's BPE (src/llama-vocab.cpp): merge the adjacent pair whose
joined text is the highest-scoring token, and spell what is left byte by byte (`<0x..>`). A byte-level
BPE vocabulary (Llama 3, Qwen, gpt-oss) is encoded with quicktok's encoding of the same vocabulary and
pre-tokenizer. On llama.cpp's own tokenizer test vectors this gives llama.cpp's tokens
(bench/tokenizer_vectors.py).
"""

from __future__ import annotations

import functools
import heapq
import json
import os
import struct
from collections.abc import Callable, Sequence
from typing import Any

# GGUF tokenizer.ggml.token_type, the same numbers as SentencePiece's piece types
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
VOCAB_KEYS = frozenset({"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"})
_SPACE = " \t\n\v\f\r"  # C isspace


class Vocab:
    """llama.cpp's tokenization over one vocabulary (see the module docstring): special tokens split
    out first, then LLAMA_VOCAB_TYPE_SPM's SentencePiece BPE on the text between them, or, for a
    byte-level BPE vocabulary, `bpe` (quicktok's encoding of the same vocabulary and pre-tokenizer)."""

    def __init__(self, tokens: Sequence[str], scores: Sequence[float] | None = None,
                 types: Sequence[int] | None = None, add_space_prefix: bool = True, model_name: str = "",
                 bpe: Callable[[str], list[int]] | None = None) -> None:
        self.bpe = bpe
        n = len(tokens)
        self.scores = list(scores) if scores is not None and len(scores) == n else [0.0] * n
        kinds = list(types) if types is not None and len(types) == n else [NORMAL] * n
        self.ids = {t: i for i, t in enumerate(tokens)}  # llama.cpp: token_to_id[text] = id, the last one wins
        self.tokens = tokens
        self.kinds = kinds
        self.unk = next((i for i, k in enumerate(kinds) if k == UNKNOWN), 0)
        self.add_space_prefix = add_space_prefix
        special = [i for i, k in enumerate(kinds) if k in (UNKNOWN, CONTROL, USER_DEFINED) and tokens[i]]
        self.special = sorted(special, key=lambda i: -len(tokens[i].encode("utf-8")))
        self.rstrip: set[int] = set()
        name = model_name.lower()
        if "phi-3" in name or "phi3" in name:
            # llama.cpp sets these attributes by model name: the GGUF does not carry them
            self.rstrip = set(special) | {self.ids[t] for t in ("</s>",) if t in self.ids}
            self.rstrip -= {self.ids[t] for t in ("<unk>", "<s>", "<|endoftext|>") if t in self.ids}

    def fragments(self, text: str, parse_special: bool = True) -> list[str | int]:
        """The text split around special tokens (ints), as llama.cpp's tokenizer_st_partition does;
        without `parse_special` only user-defined tokens are split out."""
        parts: list[str | int] = [text] if text else []
        for sid in self.special:
            tok = self.tokens[sid]
            if tok not in text or (not parse_special and self.kinds[sid] != USER_DEFINED):
                continue
            out: list[str | int] = []
            for part in parts:
                if isinstance(part, int) or tok not in part:
                    out.append(part)
                    continue
                rest = part
                while True:
                    at = rest.find(tok)
                    if at < 0:
                        if rest:
                            out.append(rest)
                        break
                    if at:
                        out.append(rest[:at])
                    out.append(sid)
                    rest = rest[at + len(tok):]
                    if sid in self.rstrip:
                        rest = rest.lstrip(_SPACE)
            parts = out
        return parts

    def encode(self, text: str, parse_special: bool = True) -> list[int]:
        """The token ids llama.cpp makes of `text`, no BOS added; `parse_special` as llama_tokenize's
        (llama-server renders a chat prompt and tokenizes it with special tokens parsed)."""
        out: list[int] = []
        prev_special = True
        for part in self.fragments(text, parse_special):
            if isinstance(part, int):
                out.append(part)
                prev_special = True
                continue
            if self.bpe is not None:
                out.extend(self.bpe(part))
            else:
                raw = (" " if self.add_space_prefix and prev_special else "") + part
                self._spm(raw.replace(" ", "\u2581"), out)
            prev_special = False
        return out

    def count(self, text: str) -> int:
        """How many tokens llama.cpp makes of `text` (special tokens parsed, no BOS added)."""
        return len(self.encode(text))

    def _spm(self, text: str, out: list[int]) -> None:
        size = len(text)
        if not size:
            return
        start = list(range(size))
        length = [1] * size
        nxt = list(range(1, size + 1))
        nxt[-1] = -1
        prev = list(range(-1, size - 1))
        ids, scores = self.ids, self.scores
        queue: list[tuple[float, int, int, int]] = []

        def bigram(left: int, right: int) -> None:
            if left < 0 or right < 0:
                return
            joined = text[start[left]:start[left] + length[left] + length[right]]
            tid = ids.get(joined)
            if tid is not None:
                heapq.heappush(queue, (-scores[tid], left, right, len(joined)))

        for i in range(1, size):
            bigram(i - 1, i)
        while queue:
            _, left, right, joined = heapq.heappop(queue)
            if not length[left] or not length[right] or length[left] + length[right] != joined:
                continue
            length[left] += length[right]
            length[right] = 0
            nxt[left] = nxt[right]
            if nxt[right] >= 0:
                prev[nxt[right]] = left
            bigram(prev[left], left)
            bigram(left, nxt[left])
        i = 0
        while i != -1:
            piece = text[start[i]:start[i] + length[i]]
            tid = ids.get(piece)
            if tid is not None:
                out.append(tid)
            else:  # byte fallback: <0x..> per byte (llama.cpp's byte_to_token)
                out.extend(ids.get(f"<0x{b:02X}>", self.unk) for b in piece.encode("utf-8"))
            i = nxt[i]


def gguf_vocab(path: str) -> Vocab | None:
    """The vocabulary of a local GGUF file as a Vocab (`vocab_from_metadata`), or None for kinds it
    does not tokenize.

    Raises:
        GGUFError: the header is malformed or hostile; OSError: the file cannot be read.
    """
    st = os.stat(path)
    return _gguf_vocab(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4)
def _gguf_vocab(path: str, mtime_ns: int, size: int) -> Vocab | None:
    from catalog.sources.gguf_reader import parse_file

    return vocab_from_metadata(parse_file(path, VOCAB_KEYS).metadata)


# special (control and user-defined) tokens a vocabulary may hold to be counted with: real ones hold hundreds to a
# few thousand (Gemma 3's unused slots); a hostile GGUF's four million made one count take minutes (issue 22)
MAX_SPECIAL = 1 << 16
# tokens a vocabulary may hold to be read for counting: the largest real ones hold 262,144 (Gemma 3); a hostile
# GGUF's four million strings took 500 MiB to hold as Python strings (issue 22)
MAX_VOCAB = 1 << 20


def vocab_from_metadata(meta: dict[str, Any]) -> Vocab | None:
    """A Vocab from GGUF metadata that kept its vocabulary arrays (gguf_reader.parse `keep`): a
    SentencePiece one ("llama"), or a byte-level BPE one ("gpt2") whose base vocabulary and
    pre-tokenizer are those of a quicktok encoding (a fine-tune's own added tokens, DeepSeek-R1's
    <\uff5cUser\uff5c> in Qwen's vocabulary or Hermes 3's <|im_start|> in Llama 3's, then split out
    from the GGUF's list as llama.cpp does); None otherwise."""
    tokens = meta.get("tokenizer.ggml.tokens")
    if not isinstance(tokens, list) or not tokens or len(tokens) > MAX_VOCAB:
        return None
    if not all(isinstance(t, str) for t in tokens):
        return None
    types = meta.get("tokenizer.ggml.token_type")
    types = types if isinstance(types, list) else None
    if types is not None and sum(1 for k in types if k in (CONTROL, USER_DEFINED)) > MAX_SPECIAL:
        return None  # each special token is searched for in every text counted: millions would take minutes
    name = str(meta.get("general.name") or "")
    model = meta.get("tokenizer.ggml.model")
    if model == "llama":
        scores = meta.get("tokenizer.ggml.scores")
        prefix = meta.get("tokenizer.ggml.add_space_prefix", True)
        return Vocab(tokens, scores if isinstance(scores, list) else None, types, bool(prefix), name)
    if model == "gpt2":
        bpe = _quicktok_bpe(tokens, str(meta.get("tokenizer.ggml.pre") or ""))
        if bpe is not None:
            return Vocab(tokens, None, types, False, name, bpe=bpe)
    return None


# llama.cpp's pre-tokenizer names (src/llama-vocab.cpp) whose regex is the one a quicktok encoding uses
PRE_TOKENIZERS = {"llama3": ("llama3", "llama-v3", "llama-bpe"), "qwen3": ("qwen2", "deepseek-r1-qwen"),
                  "o200k_harmony": ("gpt-4o",)}


@functools.lru_cache(maxsize=1)
def byte_decoder() -> dict[str, int]:
    """GPT-2's bytes_to_unicode, inverted: a byte-level BPE token's text -> its bytes."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1), *range(ord("\u00ae"), 256)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


def _quicktok_bpe(tokens: Sequence[str], pre: str) -> Callable[[str], list[int]] | None:
    """quicktok's encode_ordinary for this vocabulary, when its pre-tokenizer is the encoding's and a
    sample of its tokens spells the same bytes under the same ids."""
    name = next((enc for enc, pres in PRE_TOKENIZERS.items() if pre in pres), None)
    enc = quicktok_encoding(name)
    if enc is None:
        return None
    dec = byte_decoder()
    base = min(len(tokens), 100_000)
    for i in range(0, base, max(1, base // 400)):
        try:
            if bytes(dec[ch] for ch in tokens[i]) != enc.decode_single_token_bytes(i):
                return None
        except (KeyError, ValueError, TypeError):
            return None
    return lambda text: list(enc.encode_ordinary(text))


# --- SentencePiece's tokenizer.model: a protobuf ModelProto, read by hand (no protobuf dependency) ---------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of one protobuf message; bytes for length-delimited fields."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"protobuf wire type {wire} is not used by SentencePiece")
        if pos > len(buf):
            raise ValueError("truncated protobuf field")
        out.append((field, wire, value))
    return out


def sentencepiece_vocab(data: bytes, added: dict[int, tuple[str, bool]] | None = None) -> Vocab | None:
    """A Vocab from a SentencePiece ModelProto (tokenizer.model), or None when the model is not
    a BPE one (Unigram models, T5's, tokenize differently).

    Args:
        added: id -> (text, special) of tokens a tokenizer_config.json adds past or over the model's
            (ChatML's <|im_start|> in a Mistral fine-tune): special ones become control tokens,
            the others user-defined, as llama.cpp's converter writes them.
    Raises:
        ValueError: not a well-formed ModelProto.
    """
    tokens: list[str] = []
    scores: list[float] = []
    types: list[int] = []
    model_type = 1  # UNIGRAM, SentencePiece's default
    add_dummy_prefix = True
    for field, wire, value in _fields(data):
        if field == 1 and wire == 2:  # repeated SentencePiece pieces
            piece, score, kind = "", 0.0, NORMAL
            for f, w, v in _fields(value):
                if f == 1 and w == 2:
                    piece = v.decode("utf-8")
                elif f == 2 and w == 5:
                    score = struct.unpack("<f", v)[0]
                elif f == 3 and w == 0:
                    kind = int(v)
            tokens.append(piece)
            scores.append(score)
            types.append(kind)
        elif field == 2 and wire == 2:  # TrainerSpec
            model_type = next((int(v) for f, w, v in _fields(value) if f == 3 and w == 0), model_type)
        elif field == 3 and wire == 2:  # NormalizerSpec
            add_dummy_prefix = next((bool(v) for f, w, v in _fields(value) if f == 3 and w == 0), add_dummy_prefix)
    if model_type != 2 or not tokens:
        return None
    for tid, (text, special) in sorted((added or {}).items()):
        while len(tokens) <= tid:
            tokens.append(f"[PAD{len(tokens)}]")
            scores.append(0.0)
            types.append(UNUSED)
        tokens[tid] = text
        types[tid] = CONTROL if special else USER_DEFINED
    return Vocab(tokens, scores, types, add_dummy_prefix)


def added_tokens(folder: str) -> dict[int, tuple[str, bool]]:
    try:
        with open(os.path.join(folder, "tokenizer_config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
    except (OSError, ValueError):
        return {}
    dec = cfg.get("added_tokens_decoder") if isinstance(cfg, dict) else None
    if not isinstance(dec, dict):
        return {}
    return {int(k): (str(v["content"]), bool(v.get("special"))) for k, v in dec.items()
            if str(k).isdigit() and isinstance(v, dict) and isinstance(v.get("content"), str)}


def quicktok_encoding(name: str | None) -> Any:
    """quicktok's encoding `name`, or None (no name, or quicktok not installed: it is optional)."""
    if name is None:
        return None
    try:
        import quicktok  # type: ignore[import-untyped]
    except ImportError:
        return None
    return quicktok.get_encoding(name)
