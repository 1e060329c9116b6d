"""llama.cpp's own layer split rule, written out independently of catalog.core.memory, to check the `-ts`
the product prints against what llama.cpp will do with it."""


def llama_cpp_layer_split(ts: str, n_offloaded: int) -> list[int]:
    """What llama.cpp does with `-ts` (src/llama-model.cpp load_tensors at 0c1e570), in its float32 arithmetic:
    cumulative shares normalised, then layer il goes to upper_bound(splits, float(il) / n_offloaded)."""
    import bisect
    import struct

    def f32(x: float) -> float:
        return float(struct.unpack("f", struct.pack("f", x))[0])

    cum, acc = [], 0.0
    for part in ts.replace("/", ",").split(","):
        acc = f32(acc + f32(float(part)))
        cum.append(acc)
    splits = [f32(c / acc) for c in cum]
    counts = [0] * len(splits)
    for il in range(n_offloaded):
        counts[bisect.bisect_right(splits, f32(il / n_offloaded))] += 1
    return counts
