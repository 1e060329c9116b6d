"""How llama.cpp groups a GGUF's weights (pure): the input layer kept in host memory, the output layer, each
repeating layer and its MoE experts, and the GGUF data section's padding; catalog.core.memory places them."""

from catalog.core.ggml import UNQUANTIZED, Tensor, block_index, tensor_bytes
from catalog.core.record import Record


class WeightLayout(Record):
    """Weights grouped the way llama.cpp places them."""

    input_bytes: int  # token embedding and other input-layer tensors: host memory
    output_bytes: int  # output matrix and norm: on the GPU once -ngl >= 1
    layer_bytes: tuple[int, ...]  # per repeating layer
    total_bytes: int
    tied_copy_bytes: int  # a tied embedding, copied to the GPU as the output matrix
    padded_bytes: int  # the data section of a GGUF: each tensor padded to 32 bytes
    info_bytes: int  # the tensor-info records of a GGUF header
    active_bytes: int  # read per generated token: MoE experts scaled by used/total, no token embedding
    float_weights: bool  # the largest tensor is F16/BF16/F32 (cuBLAS then needs a larger pool)
    layer_expert_bytes: tuple[int, ...] = ()  # per layer, the MoE expert tensors (--n-cpu-moe keeps them in RAM)


_OTHER, _TOKEN_EMBD, _OUTPUT, _OUTPUT_MATRIX = range(4)


def _name_facts(name: str) -> tuple[int, bool, int, int]:
    """(layer or -1, an expert tensor, role outside the layers, GGUF tensor-info bytes before the dimensions) of
    a tensor name: what `layout` asks of every tensor of every quantization, answered once per name."""
    if name.startswith("output"):
        role = _OUTPUT_MATRIX if name == "output.weight" else _OUTPUT
    else:
        role = _TOKEN_EMBD if name == "token_embd.weight" else _OTHER
    return block_index(name), "_exps" in name, role, 24 + len(name)


_NAME_FACTS: dict[str, tuple[int, bool, int, int]] = {}  # a cache of `_name_facts`, bounded by the names models use


def layout(tensors: list[Tensor], n_layer: int, expert_fraction: float = 1.0) -> WeightLayout:
    """Split a tensor table into input, per-layer and output bytes, in one pass.

    Args:
        tensors: the table.
        n_layer: repeating layers.
        expert_fraction: experts used per token / experts, for the active bytes of a MoE.
    """
    layers = [0] * n_layer
    experts = [0] * n_layer
    inp = outp = padded = infos = 0
    active = 0.0
    tied = True
    embd = biggest = 0
    float_weights = False
    facts = _NAME_FACTS
    for t in tensors:
        name, shape, typ = t
        b = tensor_bytes(typ, shape)
        padded += (b + 31) & ~31
        f = facts.get(name)
        if f is None:
            f = facts[name] = _name_facts(name)
        il, expert, role, info = f
        infos += info + 8 * len(shape)
        if b > biggest:
            biggest, float_weights = b, typ in UNQUANTIZED
        if il >= n_layer:
            continue  # a multi-token-prediction block: in the file, not loaded (llama.cpp TENSOR_SKIP)
        if 0 <= il:
            layers[il] += b
            if expert:
                experts[il] += b
                active += b * expert_fraction
            else:
                active += b
        elif role >= _OUTPUT:
            outp += b
            active += b
            if role == _OUTPUT_MATRIX:
                tied = False
        else:
            inp += b
            if role == _TOKEN_EMBD:
                embd = b
    total = inp + outp + sum(layers)
    if tied:
        active += embd  # the tied embedding is read again as the output matrix
    # llama.cpp duplicates a tied embedding into the output layer's buffer
    return WeightLayout(inp, outp, tuple(layers), total, embd if tied else 0, padded, infos, int(active),
                        float_weights, tuple(experts))
