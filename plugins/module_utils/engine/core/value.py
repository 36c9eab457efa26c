# SPDX-License-Identifier: GPL-3.0-or-later
"""Frozen value classes without ``dataclasses``.

``@dataclass(frozen=True)`` is the house style for value objects, but ``import dataclasses`` pulls in
``inspect`` (``ast``, ``dis``, ``tokenize``, ``enum``, ``re`` ...): ~20 ms on the 2-core test hosts, and
each class costs ~0.8 ms more to generate. The modules ``berth run`` imports (the option tables, image
references, the daemon config, the container record) declare their values with :class:`Value` instead,
which gives the same API::

    class Point(Value):
        __slots__ = _fields = ("x", "y")
        _defaults = {"y": 0}

    p = Point(1)            # fields by position or keyword, defaults, TypeError for what is missing
    p.replace(y=2)          # dataclasses.replace
    p == Point(1, 0)        # ==, hash and repr over the fields, as a frozen dataclass
    p.x = 3                 # AttributeError: frozen

A subclass adds fields with ``__slots__ = (new names)`` and ``_fields = Base._fields + __slots__``.
``__post_init__`` runs after the fields are set (it sets a field with ``object.__setattr__``).
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


class Value:
    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _defaults: dict[str, t.Any] = {}

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        fields = self._fields
        n = len(args)
        if n > len(fields):
            raise TypeError(f"{type(self).__name__}() takes {len(fields)} arguments, {n} given")
        put = object.__setattr__
        for name, value in zip(fields, args):
            put(self, name, value)
        used = 0
        for name in fields[n:]:
            if name in kwargs:
                put(self, name, kwargs[name])
                used += 1
            elif name in self._defaults:
                put(self, name, self._defaults[name])
            else:
                raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
        if used != len(kwargs):
            bad = sorted(set(kwargs) - set(fields[n:]))[0]
            if bad in fields:
                raise TypeError(f"{type(self).__name__}() got multiple values for field {bad!r}")
            raise TypeError(f"{type(self).__name__} has no field {bad!r}")
        self.__post_init__()

    def __post_init__(self) -> None:
        pass

    def __setattr__(self, name: str, value: t.Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")

    def _values(self) -> tuple[t.Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({inner})"

    def __reduce__(self) -> tuple[t.Any, ...]:  # pickle and copy: through __init__ (fields are read-only)
        return (type(self), self._values())

    def replace(self, **changes: t.Any) -> t.Any:
        """A copy with *changes* (``dataclasses.replace``)."""
        return type(self)(**{**dict(zip(self._fields, self._values())), **changes})
