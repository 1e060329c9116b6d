"""`Record` behaves as typing.NamedTuple does: the values every module defines rely on it."""


import pickle
from typing import NamedTuple

import pytest

from catalog.core.record import Record


class Point(Record):
    """A point, with a default and a method."""

    x: int
    y: int = 0
    label: str | None = None

    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)

    @property
    def twice(self) -> tuple[int, int]:
        return self.x * 2, self.y * 2


class TypedPoint(NamedTuple):
    """A point, with a default and a method."""

    x: int
    y: int = 0
    label: str | None = None


def test_a_record_is_the_namedtuple_typing_builds() -> None:
    p, t = Point(3, label="a"), TypedPoint(3, label="a")
    assert tuple(p) == tuple(t) == (3, 0, "a") and p == t and hash(p) == hash(t)
    assert Point._fields == TypedPoint._fields and Point._field_defaults == TypedPoint._field_defaults
    assert Point.__match_args__ == ("x", "y", "label") and Point.__doc__ == TypedPoint.__doc__
    assert repr(p) == "Point(x=3, y=0, label='a')" and Point.__qualname__ == "Point"
    assert p._replace(y=4) == Point(3, 4, "a") and p._asdict() == {"x": 3, "y": 0, "label": "a"}
    assert Point._make((1, 2, None)).norm1() == 3 and Point(1, 2).twice == (2, 4)
    assert pickle.loads(pickle.dumps(p)) == p and isinstance(p, tuple)
    assert Point.__annotations__["y"] is int
    with pytest.raises(AttributeError):
        p.x = 5  # type: ignore[misc]


def test_a_record_refuses_what_typing_refuses() -> None:
    with pytest.raises(TypeError, match="without a default follows"):
        class Bad(Record):  # noqa: F841 - defining it is the test
            a: int = 0
            b: int
    with pytest.raises(AttributeError, match="cannot overwrite"):
        class Clash(Record):  # noqa: F841
            a: int

            def _replace(self) -> None:  # type: ignore[override]
                pass
