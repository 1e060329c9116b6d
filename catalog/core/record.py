"""`Record`: the typed, frozen value every catalog module defines, at a third less import cost (pure).

To the type checker `class X(Record)` is exactly `class X(typing.NamedTuple)`: fields, defaults, `_replace`,
`_asdict`, tuple behaviour. At run time it builds the same `collections.namedtuple` that typing.NamedTuple
builds, with the class body's methods, properties and docstring, but without typing's per-field annotation
checks: about 0.3 M instructions a class, which an offline `catalog check` (some thirty such classes)
pays before it answers. Annotations are kept as written.
"""

from collections import namedtuple
from typing import TYPE_CHECKING, Any

__all__ = ["Record"]

if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    # names namedtuple defines, or a class body always holds: never copied from the body onto the class
    _RESERVED = frozenset({"__module__", "__qualname__", "__annotations__", "__doc__", "__slots__", "__dict__",
                           "__weakref__", "__new__", "__init__", "__getnewargs__", "_make", "_replace", "_asdict",
                           "_fields", "_field_defaults", "__match_args__"})

    class _RecordMeta(type):
        def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> type:
            if ns.get("_record_root"):
                return super().__new__(mcs, name, bases, ns)
            annotations = ns.get("__annotations__", {})
            fields = tuple(annotations)
            defaults = [ns[f] for f in fields if f in ns]
            if any(f in ns for f in fields[:len(fields) - len(defaults)]):
                raise TypeError(f"{name}: a field without a default follows one with a default")
            bad = _RESERVED.intersection(k for k in ns if k not in ("__module__", "__qualname__", "__annotations__",
                                                                     "__doc__"))
            if bad:
                raise AttributeError(f"{name}: cannot overwrite NamedTuple attribute {sorted(bad)[0]}")
            cls: type = namedtuple(name, fields, defaults=defaults, module=ns["__module__"])
            cls.__annotations__ = annotations
            cls.__qualname__ = ns.get("__qualname__", name)
            if "__doc__" in ns:
                cls.__doc__ = ns["__doc__"]
            for key, value in ns.items():
                if key not in _RESERVED and key not in fields:
                    setattr(cls, key, value)
            return cls

    class Record(metaclass=_RecordMeta):
        """Subclass with annotated fields, as typing.NamedTuple."""

        _record_root = True
