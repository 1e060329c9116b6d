"""catalog.core.memo: entries answer only for the very objects they were computed from, and the oldest goes
first."""

from __future__ import annotations

from catalog.core.memo import MISS, Memo


def test_an_equal_object_is_not_the_same_one() -> None:
    m = Memo(4)
    a, twin = (1, 2, [3]), (1, 2, [3])
    m.put((a,), "q", "answer")
    assert m.get((a,), "q") == "answer"
    assert m.get((twin,), "q") is MISS  # equal, not identical: never another object's answer
    assert m.get((a,), "other") is MISS


def test_the_oldest_goes_first() -> None:
    m = Memo(2)
    x, y, z = object(), object(), object()
    m.put((x,), 0, "x")
    m.put((y,), 0, "y")
    assert m.get((x,), 0) == "x"
    m.put((z,), 0, "z")
    assert m.get((x,), 0) is MISS and m.get((y,), 0) == "y" and m.get((z,), 0) == "z"
    assert len(m) == 2
    m.clear()
    assert len(m) == 0
