"""A bounded memo keyed by the identity of the objects a value was computed from (pure).

Specs, architectures and layouts are large tuples: hashing one on every call costs more than the work a memo
saves, so entries are keyed by their `id` and hold the objects themselves, which keeps each id its own for as
long as the entry lives (an id is reused only once its object is gone). The oldest entry goes past `kept`
(first in, first out: keeping the most recently used would cost each hit two more hashes of its key, most of
the hit for an estimate's options). One of these serves each of the estimate's repeated questions: a model's
tensor table and layout per quantization, its file size, an estimate, the commands, a rendered chat template.
"""

from typing import Any

MISS: Any = object()  # what `get` returns for a key it does not hold


class Memo:
    """`get(held, rest)` / `put(held, rest, value)`: `held` are the objects (compared by identity), `rest` any
    hashable rest of the key."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._entries: dict[tuple[Any, ...], tuple[tuple[object, ...], Any]] = {}

    def get(self, held: tuple[object, ...], rest: Any = ()) -> Any:
        hit = self._entries.get((*map(id, held), rest))
        if hit is None:
            return MISS
        for kept, asked in zip(hit[0], held, strict=True):  # a loop, not all(): tens of thousands a list
            if kept is not asked:
                return MISS
        return hit[1]

    def put(self, held: tuple[object, ...], rest: Any, value: Any) -> Any:
        if len(self._entries) >= self.kept:
            del self._entries[next(iter(self._entries))]
        self._entries[(*map(id, held), rest)] = (held, value)
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
