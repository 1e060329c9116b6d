"""`Record`: the typed, frozen value every catalog module defines, at a fifth of typing's import cost (pure).

To the type checker `class X(Record)` is exactly `class X(typing.NamedTuple)`: fields, defaults, `_replace`,
`_asdict`, tuple behaviour. At run time it builds what `collections.namedtuple` builds (a tuple subclass with
a field getter per index, `__new__` with the fields as its arguments and their defaults, `_make`, `_replace`,
`_asdict`, `__repr__`, `_fields`, `_field_defaults`, `__match_args__`), with the class body's methods,
properties and docstring. The shared methods live once on a base class and `__new__` is a per-arity function
renamed to the fields, so a class costs about 10 us instead of namedtuple's 40-55 us (typing's checks on top):
an offline `catalog check` defines some thirty before it answers. Annotations are kept as written.
"""

from typing import TYPE_CHECKING, Any

__all__ = ["Record"]

if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    import sys
    from types import FunctionType

    try:
        from _collections import _tuplegetter
    except ImportError:  # pragma: no cover - an interpreter without the C accelerator
        from operator import itemgetter

        def _tuplegetter(index: int, doc: str) -> property:
            return property(itemgetter(index), doc=doc)

    # names namedtuple defines, or a class body always holds: never copied from the body onto the class
    _tuple_new = tuple.__new__
    _RESERVED = frozenset({"__module__", "__qualname__", "__annotations__", "__doc__", "__slots__", "__dict__",
                           "__weakref__", "__new__", "__init__", "__getnewargs__", "_make", "_replace", "_asdict",
                           "_fields", "_field_defaults", "__match_args__"})
    # `__new__(cls, <n fields>)` for n = 0..32, compiled with this module: compiling one at import (as
    # namedtuple does) costs 40-80 us, and a check defines records of thirteen arities. `_new` renames the
    # arguments to the fields; an arity past the table is compiled once.
    _NEW_BY_ARITY: list[Any] = [
        lambda k: _tuple_new(k, ()),
        lambda k, a: _tuple_new(k, (a,)),
        lambda k, a, b: _tuple_new(k, (a, b)),
        lambda k, a, b, c: _tuple_new(k, (a, b, c)),
        lambda k, a, b, c, d: _tuple_new(k, (a, b, c, d)),
        lambda k, a, b, c, d, e: _tuple_new(k, (a, b, c, d, e)),
        lambda k, a, b, c, d, e, f: _tuple_new(k, (a, b, c, d, e, f)),
        lambda k, a, b, c, d, e, f, g: _tuple_new(k, (a, b, c, d, e, f, g)),
        lambda k, a, b, c, d, e, f, g, h: _tuple_new(k, (a, b, c, d, e, f, g, h)),
        lambda k, a, b, c, d, e, f, g, h, i: _tuple_new(k, (a, b, c, d, e, f, g, h, i)),
        lambda k, a, b, c, d, e, f, g, h, i, j: _tuple_new(k, (a, b, c, d, e, f, g, h, i, j)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m: _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n: _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o: _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p: _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C, D:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C, D)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C, D, E:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C, D, E)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C, D, E, F:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C, D, E, F)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C, D, E, F, G:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C, D, E, F, G)),
        lambda k, a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C, D, E, F, G, H:
        _tuple_new(k, (a, b, c, d, e, f, g, h, i, j, m, n, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C, D, E, F, G, H)),
    ]

    def _new(name: str, fields: tuple[str, ...], defaults: tuple[Any, ...]) -> Any:
        """`__new__(cls, <fields>)` with the fields' defaults: the body for this arity, its arguments renamed."""
        while len(_NEW_BY_ARITY) <= len(fields):
            names = [f"_{i}" for i in range(len(_NEW_BY_ARITY))]
            source = f"lambda k, {', '.join(names)}: _tuple_new(k, ({''.join(n + ', ' for n in names)}))"
            _NEW_BY_ARITY.append(eval(source, {"_tuple_new": tuple.__new__, "__builtins__": {}}))
        template = _NEW_BY_ARITY[len(fields)]
        names: dict[str, Any] = {"co_varnames": ("_cls", *fields), "co_name": "__new__"}
        if sys.version_info >= (3, 11):
            names["co_qualname"] = f"{name}.__new__"
        return FunctionType(template.__code__.replace(**names), template.__globals__, "__new__", defaults or None)

    class _Tuple(tuple):
        """The methods every record shares, as namedtuple defines them."""

        __slots__ = ()
        _fields: tuple[str, ...] = ()

        @classmethod
        def _make(cls, iterable: Any) -> Any:
            result = tuple.__new__(cls, iterable)
            if len(result) != len(cls._fields):
                raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(result)}")
            return result

        def _replace(self, /, **kwds: Any) -> Any:
            result = self._make(map(kwds.pop, self._fields, self))
            if kwds:
                raise ValueError(f"Got unexpected field names: {list(kwds)!r}")
            return result

        def __repr__(self) -> str:
            return f"{type(self).__name__}({', '.join(f'{n}={v!r}' for n, v in zip(self._fields, self, strict=True))})"

        def _asdict(self) -> dict[str, Any]:
            return dict(zip(self._fields, self, strict=True))

        def __getnewargs__(self) -> tuple[Any, ...]:
            return tuple(self)

    class _RecordMeta(type):
        def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> type:
            if ns.get("_record_root"):
                return super().__new__(mcs, name, bases, ns)
            annotations = ns.get("__annotations__", {})
            fields = tuple(annotations)
            defaults = tuple(ns[f] for f in fields if f in ns)
            if any(f in ns for f in fields[:len(fields) - len(defaults)]):
                raise TypeError(f"{name}: a field without a default follows one with a default")
            bad = _RESERVED.intersection(k for k in ns if k not in ("__module__", "__qualname__", "__annotations__",
                                                                     "__doc__"))
            if bad:
                raise AttributeError(f"{name}: cannot overwrite NamedTuple attribute {sorted(bad)[0]}")
            body = {k: v for k, v in ns.items() if k not in fields}
            body.update({"__slots__": (), "_fields": fields, "__match_args__": fields,
                         "_field_defaults": dict(zip(fields[len(fields) - len(defaults):], defaults, strict=True)),
                         "__new__": _new(name, fields, defaults), "__annotations__": annotations})
            body.setdefault("__doc__", f"{name}({', '.join(fields)})")
            for index, field in enumerate(fields):
                body[field] = _tuplegetter(index, f"Alias for field number {index}")
            return type(name, (_Tuple,), body)

    class Record(metaclass=_RecordMeta):
        """Subclass with annotated fields, as typing.NamedTuple."""

        _record_root = True
