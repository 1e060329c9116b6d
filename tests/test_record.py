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


class One(Record):
    only: str


@pytest.mark.parametrize("cls", [Point, TypedPoint])
def test_a_record_rejects_the_calls_a_namedtuple_rejects(cls: type) -> None:
    for bad in ((), (1, 2, 3, 4)):
        with pytest.raises(TypeError):
            cls(*bad)
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        cls(1, z=2)
    with pytest.raises(TypeError, match="Expected 3 arguments, got 1"):
        cls._make((1,))
    with pytest.raises(ValueError, match="unexpected field names"):
        cls(1)._replace(z=2)


def test_records_of_any_arity_keep_their_own_field_names() -> None:
    assert One("a") == ("a",) and One(only="b").only == "b" and One._fields == ("only",)
    assert Point(y=2, x=1) == (1, 2, None) and Point.__new__.__defaults__ == (0, None)
    assert One.__new__.__code__.co_varnames == ("_cls", "only")
    assert Point.__new__.__code__.co_varnames == ("_cls", "x", "y", "label")


def test_every_arity_builds_its_own_constructor() -> None:
    """The precompiled bodies take exactly their arity; a record wider than the table is compiled for it."""
    from catalog.core import record

    table = record._NEW_BY_ARITY[:33]
    assert [f.__code__.co_argcount for f in table] == list(range(1, 34))
    for n in (0, 1, 2, 13, 32, 33, 40):
        ns: dict[str, object] = {}
        body = "".join(f"    f{i}: int = {i}\n" for i in range(n)) or "    pass\n"
        exec(f"class Wide(Record):\n{body}", {"Record": Record}, ns)  # noqa: S102 - a class of n fields
        wide = ns["Wide"]
        assert tuple(wide()) == tuple(range(n)) and wide._fields == tuple(f"f{i}" for i in range(n))  # type: ignore[operator,attr-defined]
        if n:
            assert wide(**{f"f{n - 1}": -1})[-1] == -1  # type: ignore[operator]
