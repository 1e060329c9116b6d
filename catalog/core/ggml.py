"""ggml tensor types, llama-quantize's presets and a tensor's bytes (pure).

The block sizes below mirror `gguf.constants.GGML_QUANT_SIZES` of the `gguf`
package (0.19.0); a test asserts they are identical. They are copied rather
than imported because importing `gguf` imports numpy, which an offline
`catalog check` must not pay for. Which type llama-quantize gives each tensor
of a preset is catalog.core.quantize; the order presets are offered and
recommended in is catalog.core.ranking.
"""


import re
from functools import lru_cache

from catalog.core.record import Record

# a GGUF split by gguf-split: NAME-00001-of-00003.gguf, NAME-00002-of-00003.gguf, ...
_SPLIT_NAME = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")


def split_parts(filename: str) -> tuple[int, int] | None:
    """(part, count) of a `-0000k-of-0000n.gguf` split file name, else None."""
    m = _SPLIT_NAME.search(filename)
    return (int(m.group(1)), int(m.group(2))) if m else None


def split_stem(filename: str) -> str:
    """A split file's name without its `-0000k-of-0000n.gguf` ending (what all its parts share); any other name
    unchanged."""
    return _SPLIT_NAME.sub("", filename)

# name -> (ggml type id, elements per block, bytes per block)
GGML_TYPES: dict[str, tuple[int, int, int]] = {
    "F32": (0, 1, 4),
    "F16": (1, 1, 2),
    "Q4_0": (2, 32, 18),
    "Q4_1": (3, 32, 20),
    "Q5_0": (6, 32, 22),
    "Q5_1": (7, 32, 24),
    "Q8_0": (8, 32, 34),
    "Q8_1": (9, 32, 40),
    "Q2_K": (10, 256, 84),
    "Q3_K": (11, 256, 110),
    "Q4_K": (12, 256, 144),
    "Q5_K": (13, 256, 176),
    "Q6_K": (14, 256, 210),
    "Q8_K": (15, 256, 292),
    "IQ2_XXS": (16, 256, 66),
    "IQ2_XS": (17, 256, 74),
    "IQ3_XXS": (18, 256, 98),
    "IQ1_S": (19, 256, 50),
    "IQ4_NL": (20, 32, 18),
    "IQ3_S": (21, 256, 110),
    "IQ2_S": (22, 256, 82),
    "IQ4_XS": (23, 256, 136),
    "I8": (24, 1, 1),
    "I16": (25, 1, 2),
    "I32": (26, 1, 4),
    "I64": (27, 1, 8),
    "F64": (28, 1, 8),
    "IQ1_M": (29, 256, 56),
    "BF16": (30, 1, 2),
    "TQ1_0": (34, 256, 54),
    "TQ2_0": (35, 256, 66),
    "MXFP4": (39, 32, 17),
    "NVFP4": (40, 64, 36),
    "Q1_0": (41, 128, 18),
}
TYPE_BY_ID: dict[int, str] = {v[0]: k for k, v in GGML_TYPES.items()}
UNQUANTIZED = frozenset({"F32", "F16", "BF16", "I8", "I16", "I32", "I64", "F64"})

# llama-quantize presets: name -> (general.file_type id, default ggml type)
# (llama_ftype_get_default_type in src/llama-quant.cpp)
PRESETS: dict[str, tuple[int, str]] = {
    "F32": (0, "F32"),
    "F16": (1, "F16"),
    "Q4_0": (2, "Q4_0"),
    "Q4_1": (3, "Q4_1"),
    "Q8_0": (7, "Q8_0"),
    "Q5_0": (8, "Q5_0"),
    "Q5_1": (9, "Q5_1"),
    "Q2_K": (10, "Q2_K"),
    "Q3_K_S": (11, "Q3_K"),
    "Q3_K_M": (12, "Q3_K"),
    "Q3_K_L": (13, "Q3_K"),
    "Q4_K_S": (14, "Q4_K"),
    "Q4_K_M": (15, "Q4_K"),
    "Q5_K_S": (16, "Q5_K"),
    "Q5_K_M": (17, "Q5_K"),
    "Q6_K": (18, "Q6_K"),
    "IQ2_XXS": (19, "IQ2_XXS"),
    "IQ2_XS": (20, "IQ2_XS"),
    "Q2_K_S": (21, "Q2_K"),
    "IQ3_XS": (22, "IQ3_S"),
    "IQ3_XXS": (23, "IQ3_XXS"),
    "IQ1_S": (24, "IQ1_S"),
    "IQ4_NL": (25, "IQ4_NL"),
    "IQ3_S": (26, "IQ3_S"),
    "IQ3_M": (27, "IQ3_S"),
    "IQ2_S": (28, "IQ2_XS"),
    "IQ2_M": (29, "IQ2_S"),
    "IQ4_XS": (30, "IQ4_XS"),
    "IQ1_M": (31, "IQ1_M"),
    "BF16": (32, "BF16"),
    "TQ1_0": (36, "TQ1_0"),
    "TQ2_0": (37, "TQ2_0"),
    "MXFP4_MOE": (38, "MXFP4"),
}
PRESET_BY_FTYPE: dict[int, str] = {v[0]: k for k, v in PRESETS.items()}
ALIASES = {"Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M", "Q3_K": "Q3_K_M", "FP16": "F16", "FP32": "F32"}
# presets whose low-bit tensors llama-quantize refuses to make without an imatrix
NEEDS_IMATRIX = frozenset({"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "Q2_K_S"})


def normalize_preset(name: str) -> str | None:
    """Return the canonical preset name for a spelling such as `q4_k_m`, or None."""
    key = name.strip().upper().replace("-", "_")
    key = ALIASES.get(key, key)
    return key if key in PRESETS else None


@lru_cache(maxsize=4096)
def tensor_bytes(type_name: str, shape: tuple[int, ...]) -> int:
    """Bytes of one tensor: rows of `shape[0]` elements packed in blocks.

    Args:
        type_name: a ggml type (`Q4_K`, `F16`, ...).
        shape: ggml order, the row (fastest) dimension first.
    """
    _, block, size = GGML_TYPES[type_name]
    n = 1
    for d in shape[1:]:
        n *= d
    return (shape[0] // block) * size * n


class Tensor(Record):
    """One tensor of a GGUF file: name, ggml-order shape and ggml type."""

    name: str
    shape: tuple[int, ...]
    type: str

    @property
    def nbytes(self) -> int:
        return tensor_bytes(self.type, self.shape)


@lru_cache(maxsize=65536)
def block_index(name: str) -> int:
    """The layer number of a `blk.N.*` tensor, -1 for others."""
    if name.startswith("blk."):
        part = name[4:].split(".", 1)[0]
        if part.isdigit():
            return int(part)
    return -1
